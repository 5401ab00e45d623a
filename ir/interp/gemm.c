/* A cache-blocked single-precision GEMM in plain C for the reference kernels
 * (Conv through im2col, MatMul, Gemm). Clear, IEEE, and fast enough that the
 * interpreter runs ResNet-18 in seconds; the compiled path has its own. */
#include "ir/interp/kernels.h"

enum { MB = 64, NB = 256, KB = 256 };

void sinter_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc, bool accumulate) {
  if (!accumulate)
    for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, sizeof(float) * (size_t)N);
  for (int64_t k0 = 0; k0 < K; k0 += KB) {
    int64_t k1 = k0 + KB < K ? k0 + KB : K;
    for (int64_t j0 = 0; j0 < N; j0 += NB) {
      int64_t j1 = j0 + NB < N ? j0 + NB : N;
      for (int64_t i0 = 0; i0 < M; i0 += MB) {
        int64_t i1 = i0 + MB < M ? i0 + MB : M;
        for (int64_t i = i0; i < i1; i++) {
          float *restrict c = C + i * ldc;
          const float *a = A + i * lda;
          for (int64_t k = k0; k < k1; k++) {
            float av = a[k];
            const float *restrict b = B + k * ldb;
            for (int64_t j = j0; j < j1; j++) c[j] += av * b[j];
          }
        }
      }
    }
  }
}
