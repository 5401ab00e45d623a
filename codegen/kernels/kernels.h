/* Prototypes of the kernel library: plain C compiled to LLVM bitcode at build
 * time and embedded in libsinter (see docs/codegen.md). Generated code calls
 * these with constant shapes; LLVM inlines and specializes them. */
#ifndef SINTER_CODEGEN_KERNELS_H
#define SINTER_CODEGEN_KERNELS_H

#include <stdint.h>

/* Fused activation applied by kernels with an epilogue. Values are ABI: the
 * code generator passes them as constants. Unknown values behave as NONE. */
typedef enum sinter_k_act_e {
  SINTER_K_ACT_NONE = 0, /* identity */
  SINTER_K_ACT_RELU = 1, /* x < 0 ? 0 : x (NaN passes through, as in the interpreter) */
} sinter_k_act_t;

/* out[i] = a[i] + b[i] for 0 <= i < n. out may alias a or b. */
void sinter_k_add_f32(const float *a, const float *b, float *out, int64_t n);

/* out[i] = a[i] * b[i] for 0 <= i < n. out may alias a or b. */
void sinter_k_mul_f32(const float *a, const float *b, float *out, int64_t n);

/* out[i] = x[i] < 0 ? 0 : x[i] for 0 <= i < n. out may alias x. */
void sinter_k_relu_f32(const float *x, float *out, int64_t n);

/* C[m][n] = act(sum_k A[m][k] * B[k][n] + bias[n]), row-major with leading
 * dimensions lda/ldb/ldc (in elements). C is overwritten and must not overlap
 * A, B or bias; bias may be NULL (no bias). The sum over k runs in increasing
 * k order for every element, whatever the blocking. */
void sinter_k_gemm_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                       const float *B, int64_t ldb, float *C, int64_t ldc, const float *bias,
                       int32_t act);

#endif /* SINTER_CODEGEN_KERNELS_H */
