/* The kernel library's activations (codegen/kernels/kernels.h, sinter_k_act_t)
 * and unary ops in double, straight from docs/ops-sinter.md's formulas: the
 * reference of the kernel tests. Header-only, for tests. */
#ifndef SINTER_TESTS_ACT_REF_H
#define SINTER_TESTS_ACT_REF_H

#include <math.h>
#include <stdint.h>

#include "codegen/kernels/kernels.h"

/* op is a sinter_k_act_t (with p0, p1) or a sinter_k_unary_t; unknown: x. */
static inline double act_ref(double x, int32_t op, double p0, double p1) {
  switch (op) {
    case SINTER_K_ACT_RELU: return x < 0 ? 0 : x;
    case SINTER_K_ACT_CLIP: return fmin(fmax(x, p0), p1);
    case SINTER_K_ACT_LEAKY_RELU: return x < 0 ? p0 * x : x;
    case SINTER_K_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case SINTER_K_ACT_HARD_SIGMOID: return fmax(0, fmin(1, p0 * x + p1));
    case SINTER_K_ACT_HARD_SWISH: return x * fmax(0, fmin(1, x / 6 + 0.5));
    case SINTER_K_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case SINTER_K_ACT_GELU_TANH:
      return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case SINTER_K_ACT_SILU: return x / (1 + exp(-x));
    case SINTER_K_ACT_TANH: return tanh(x);
    case SINTER_K_UN_NEG: return -x;
    case SINTER_K_UN_ABS: return fabs(x);
    case SINTER_K_UN_EXP: return exp(x);
    case SINTER_K_UN_LOG: return log(x);
    case SINTER_K_UN_SQRT: return sqrt(x);
    case SINTER_K_UN_RECIPROCAL: return 1 / x;
    case SINTER_K_UN_ERF: return erf(x);
    case SINTER_K_UN_FLOOR: return floor(x);
    case SINTER_K_UN_CEIL: return ceil(x);
    case SINTER_K_UN_COS: return cos(x);
    case SINTER_K_UN_SIN: return sin(x);
    default: return x;
  }
}

#endif /* SINTER_TESTS_ACT_REF_H */
