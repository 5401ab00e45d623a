/* A packed, register-blocked single-precision GEMM in plain C for the
 * reference kernels (Conv through im2col, MatMul, Gemm). Every C element sums
 * its K products in increasing k onto its starting value, exactly as a naive
 * loop does, so results are IEEE, bitwise the same on every ISA variant, and
 * NaN/Inf propagate. The compiled path has its own kernels. */
#include "ir/interp/kernels.h"

/* KC x NC is the packed B block (256 KiB, L2-sized); MC x KC the packed A
 * block. Register tiles are per ISA variant, at most MR_MAX x NR_MAX. */
enum { KC = 256, MC = 72, NC = 256, MR_MAX = 8, NR_MAX = 32 };

typedef void (*micro_kernel_fn)(int64_t kc, const float *restrict a, const float *restrict b,
                                float *C, int64_t ldc, int64_t mr, int64_t nr);

/* C[mr, nr] += Apanel * Bpanel over kc steps, in an MR x NR register tile.
 * The padded lanes compute values that are never stored. The same C source
 * is compiled for several targets; GCC vectorizes the j loop for each. */
#define DEFINE_MICRO_KERNEL(NAME, ATTR, MR, NR)                                                 \
  ATTR static void NAME(int64_t kc, const float *restrict a, const float *restrict b, float *C, \
                        int64_t ldc, int64_t mr, int64_t nr) {                                  \
    float acc[MR][NR];                                                                          \
    for (int i = 0; i < MR; i++)                                                                \
      for (int j = 0; j < NR; j++) acc[i][j] = (i < mr && j < nr) ? C[i * ldc + j] : 0.0f;      \
    for (int64_t k = 0; k < kc; k++) {                                                          \
      for (int i = 0; i < MR; i++) {                                                            \
        float av = a[i];                                                                        \
        for (int j = 0; j < NR; j++) acc[i][j] += av * b[j];                                    \
      }                                                                                         \
      a += MR;                                                                                  \
      b += NR;                                                                                  \
    }                                                                                           \
    for (int64_t i = 0; i < mr; i++)                                                            \
      for (int64_t j = 0; j < nr; j++) C[i * ldc + j] = acc[i][j];                              \
  }

DEFINE_MICRO_KERNEL(kernel_6x8, , 6, 8)

/* On x86-64 an AVX2 build of the same kernel doubles the vector width. No
 * FMA: a fused multiply-add would round differently from the portable one. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_VARIANT 1
DEFINE_MICRO_KERNEL(kernel_6x16_avx2, __attribute__((target("avx2"))), 6, 16)
#endif

/* Packs rows [0, mc) x cols [0, kc) of A into mr_t-row slivers laid out
 * [sliver][k][mr_t], zero-padding the last sliver. */
static void pack_a(int64_t mc, int64_t kc, const float *A, int64_t lda, int mr_t,
                   float *restrict dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr_t) {
    int64_t mr = mc - i0 < mr_t ? mc - i0 : mr_t;
    for (int64_t k = 0; k < kc; k++) {
      for (int64_t i = 0; i < mr; i++) dst[i] = A[(i0 + i) * lda + k];
      for (int64_t i = mr; i < mr_t; i++) dst[i] = 0.0f;
      dst += mr_t;
    }
  }
}

/* Packs rows [0, kc) x cols [0, nc) of B into nr_t-column panels laid out
 * [panel][k][nr_t], zero-padding the last panel. */
static void pack_b(int64_t kc, int64_t nc, const float *B, int64_t ldb, int nr_t,
                   float *restrict dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += nr_t) {
    int64_t nr = nc - j0 < nr_t ? nc - j0 : nr_t;
    for (int64_t k = 0; k < kc; k++) {
      const float *b = B + k * ldb + j0;
      for (int64_t j = 0; j < nr; j++) dst[j] = b[j];
      for (int64_t j = nr; j < nr_t; j++) dst[j] = 0.0f;
      dst += nr_t;
    }
  }
}

/* The unpacked path for tiny products, and the fallback when the packing
 * buffers cannot be allocated (sgemm cannot report failure). Same summation
 * order as the packed path. */
static void sgemm_simple(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float *C, int64_t ldc) {
  for (int64_t i = 0; i < M; i++) {
    float *restrict c = C + i * ldc;
    for (int64_t k = 0; k < K; k++) {
      float av = A[i * lda + k];
      const float *restrict b = B + k * ldb;
      for (int64_t j = 0; j < N; j++) c[j] += av * b[j];
    }
  }
}

void sinter_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (!accumulate)
    for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, sizeof(float) * (size_t)N);
  if (K <= 0) return;
  /* Packing does not pay off for a row or two (matrix-vector) or tiny work. */
  if (M <= 2 || (double)M * (double)N * (double)K < 4096.0) {
    sgemm_simple(M, N, K, A, lda, B, ldb, C, ldc);
    return;
  }
  micro_kernel_fn kernel = kernel_6x8;
  int mr_t = 6, nr_t = 8;
#ifdef HAVE_AVX2_VARIANT
  if (__builtin_cpu_supports("avx2")) {
    kernel = kernel_6x16_avx2;
    nr_t = 16;
  }
#endif
  /* Blocks rounded up to whole tiles, since packing pads the last one. */
  int64_t mc_max = (MC + mr_t - 1) / mr_t * mr_t, nc_max = (NC + nr_t - 1) / nr_t * nr_t;
  float *bp = malloc(sizeof(float) * KC * (size_t)nc_max);
  float *ap = malloc(sizeof(float) * KC * (size_t)mc_max);
  if (!bp || !ap) {
    free(bp);
    free(ap);
    sgemm_simple(M, N, K, A, lda, B, ldb, C, ldc);
    return;
  }
  for (int64_t jc = 0; jc < N; jc += NC) {
    int64_t nc = N - jc < NC ? N - jc : NC;
    for (int64_t pc = 0; pc < K; pc += KC) {
      int64_t kc = K - pc < KC ? K - pc : KC;
      pack_b(kc, nc, B + pc * ldb + jc, ldb, nr_t, bp);
      for (int64_t ic = 0; ic < M; ic += MC) {
        int64_t mc = M - ic < MC ? M - ic : MC;
        pack_a(mc, kc, A + ic * lda + pc, lda, mr_t, ap);
        for (int64_t jr = 0; jr < nc; jr += nr_t) {
          int64_t nr = nc - jr < nr_t ? nc - jr : nr_t;
          for (int64_t ir = 0; ir < mc; ir += mr_t) {
            int64_t mr = mc - ir < mr_t ? mc - ir : mr_t;
            kernel(kc, ap + ir * kc, bp + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc, mr, nr);
          }
        }
      }
    }
  }
  free(bp);
  free(ap);
}
