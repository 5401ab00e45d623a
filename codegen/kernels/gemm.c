/* Reference fp32 GEMM of the bitcode library: a cache-blocked loop nest with a
 * fused bias and activation epilogue. No intrinsics; microkernels come later. */
#include "kernels.h"

/* Block sizes keep a KB x NB panel of B (64 KiB) and a row of C in L2. */
enum { MB = 64, NB = 128, KB = 128 };

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static inline float apply_act(float x, int32_t act) {
  if (act == SINTER_K_ACT_RELU) return x < 0.0f ? 0.0f : x;
  return x;
}

void sinter_k_gemm_f32(int64_t M, int64_t N, int64_t K, const float *restrict A, int64_t lda,
                       const float *restrict B, int64_t ldb, float *restrict C, int64_t ldc,
                       const float *restrict bias, int32_t act) {
  for (int64_t m = 0; m < M; m++) {
    float *restrict c = C + m * ldc;
    for (int64_t n = 0; n < N; n++) c[n] = 0.0f;
  }
  /* k blocks run in increasing order outermost-but-one, so each C element
   * still accumulates its products in plain k order. */
  for (int64_t n0 = 0; n0 < N; n0 += NB) {
    int64_t n1 = min64(N, n0 + NB);
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
      int64_t k1 = min64(K, k0 + KB);
      for (int64_t m0 = 0; m0 < M; m0 += MB) {
        int64_t m1 = min64(M, m0 + MB);
        for (int64_t m = m0; m < m1; m++) {
          float *restrict c = C + m * ldc;
          for (int64_t k = k0; k < k1; k++) {
            float a = A[m * lda + k];
            const float *restrict b = B + k * ldb;
            for (int64_t n = n0; n < n1; n++) c[n] += a * b[n];
          }
        }
      }
    }
  }
  /* The epilogue adds the bias after the products, as ONNX Gemm does. */
  for (int64_t m = 0; m < M; m++) {
    float *restrict c = C + m * ldc;
    for (int64_t n = 0; n < N; n++) c[n] = apply_act(c[n] + (bias ? bias[n] : 0.0f), act);
  }
}
