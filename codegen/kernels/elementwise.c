/* Reference elementwise kernels of the bitcode library. Kept as simple loops:
 * once inlined with a constant n, LLVM vectorizes them for the target. */
#include "kernels.h"

void sinter_k_add_f32(const float *a, const float *b, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void sinter_k_mul_f32(const float *a, const float *b, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

void sinter_k_relu_f32(const float *x, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = x[i] < 0.0f ? 0.0f : x[i];
}
