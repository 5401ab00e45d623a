/* The fused activation epilogue shared by the kernel files (gemm.c, conv.c and
 * any other kernel with an act/p0/p1 epilogue): one scalar function whose act
 * argument is a constant after inlining, so LLVM folds the switch away and
 * vectorizes the simple cases. Private to codegen/kernels. */
#ifndef SINTER_CODEGEN_KERNELS_ACT_IMPL_H
#define SINTER_CODEGEN_KERNELS_ACT_IMPL_H

#include <math.h>
#include <stdint.h>

#include "kernels.h"

/* act(x) as docs/ops-sinter.md ("The epilogue") defines it, with the formulas
 * of the interpreter's standalone ops (ir/interp/k_elementwise.c), so a fused
 * kernel matches the unfused graph: sigmoid picks the form that never
 * overflows, GELU uses erfc where 1 + erf would cancel. Unknown act: identity. */
static inline float sinter_k_act(float x, int32_t act, float p0, float p1) {
  switch (act) {
    case SINTER_K_ACT_RELU: return x < 0.0f ? 0.0f : x; /* NaN passes through */
    case SINTER_K_ACT_CLIP: {
      /* max then min, so min > max gives max as ONNX says; NaN passes through */
      float y = x < p0 ? p0 : x;
      return y > p1 ? p1 : y;
    }
    case SINTER_K_ACT_LEAKY_RELU: return x < 0.0f ? p0 * x : x;
    case SINTER_K_ACT_SIGMOID:
      return x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case SINTER_K_ACT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, p0 * x + p1));
    case SINTER_K_ACT_HARD_SWISH: return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
    case SINTER_K_ACT_GELU: return (0.5f * x) * erfcf(x * -0.7071067811865476f);
    case SINTER_K_ACT_GELU_TANH: {
      const float k = 0.7978845608028654f; /* sqrt(2/pi) */
      return (0.5f * x) * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
    case SINTER_K_ACT_SILU: {
      float s = x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
      return x * s;
    }
    case SINTER_K_ACT_TANH: return tanhf(x);
    default: return x;
  }
}

#endif /* SINTER_CODEGEN_KERNELS_ACT_IMPL_H */
