/* fp32 GEMM of the kernel library: B packed at compile time into NR-wide
 * K-major panels (alpha folded in), A packed per MR-row micro-panel, the
 * gemm_impl.h register-blocked microkernel, bias/residual/activation fused
 * into the store; plus MatMul with both operands activations. */
#include "gemm_impl.h"
#include "kernels.h"

/* Cache blocking of sinter_k_gemm_f32_packed: a task covers up to GM_MB rows
 * and GM_NBP panels (GM_NBP * NR columns); its B block (KC x 480 floats,
 * 240 KiB) stays in L2 while the rows of A go by. */
enum { GM_MB = 64, GM_NBP = 10 };

size_t sinter_k_gemm_f32_packed_size(int64_t K, int64_t N) {
  return (size_t)gk_cdiv(N, GK_NR) * (size_t)K * GK_NR * sizeof(float);
}

/* Panel p holds columns [p * NR, p * NR + NR), element (k, j) at
 * p * K * NR + k * NR + j; columns past N are zero. */
void sinter_k_gemm_f32_pack_b(int64_t K, int64_t N, const float *B, int64_t ldb_k, int64_t ldb_n,
                              float alpha, float *packed) {
  int64_t np = gk_cdiv(N, GK_NR);
  for (int64_t p = 0; p < np; p++) {
    int64_t j0 = p * GK_NR, nr = gk_min(GK_NR, N - j0);
    float *dst = packed + p * K * GK_NR;
    for (int64_t k = 0; k < K; k++) {
      float *d = dst + k * GK_NR;
      const float *s = B + k * ldb_k + j0 * ldb_n;
      for (int64_t j = 0; j < nr; j++) d[j] = alpha * s[j * ldb_n];
      for (int64_t j = nr; j < GK_NR; j++) d[j] = 0.0f;
    }
  }
}

typedef struct gemm_ctx_s {
  int64_t M, N, K, lda, tm, tn;
  const float *A, *Bp;
  gk_epi_t e;
} gemm_ctx_t;

/* Task t computes rows [im * MB, +MB) x panels [jn * NBP, +NBP) of C over all
 * of K, in increasing K blocks: so every element's sum has one order, whatever
 * the task split. */
static void gemm_task(void *vctx, int64_t t0, int64_t t1) {
  const gemm_ctx_t *c = vctx;
  _Alignas(64) float apack[GK_KC * GK_MR];
  _Alignas(64) float tile[GK_MR * GK_NR];
  int64_t np = gk_cdiv(c->N, GK_NR), nkb = c->K ? gk_cdiv(c->K, GK_KC) : 1;
  for (int64_t t = t0; t < t1; t++) {
    int64_t im = t / c->tn, jn = t % c->tn;
    int64_t i_beg = im * GM_MB, i_end = gk_min(c->M, i_beg + GM_MB);
    int64_t p_beg = jn * GM_NBP, p_end = gk_min(np, p_beg + GM_NBP);
    if (i_end - i_beg <= GK_MR) {
      /* one row tile (GEMV-like): each B panel is read start to end, one
       * sequential stream, instead of a KC slice of every panel per block;
       * every element still sums its K blocks in the same order */
      for (int64_t p = p_beg; p < p_end; p++) {
        int64_t j0 = p * GK_NR, nr = gk_min(GK_NR, c->N - j0), mr = i_end - i_beg;
        for (int64_t kb = 0; kb < nkb; kb++) {
          int64_t k0 = kb * GK_KC, kc = gk_min(GK_KC, c->K - k0);
          const float *a = c->A + i_beg * c->lda + k0;
          for (int64_t r = 0; r < mr; r++)
            for (int64_t k = 0; k < kc; k++) apack[k * GK_MR + r] = a[r * c->lda + k];
          gk_tile(mr, nr, kc, apack, 1, GK_MR, c->Bp + p * c->K * GK_NR + k0 * GK_NR, &c->e,
                  i_beg, j0, kb == 0, kb == nkb - 1, tile);
        }
      }
      continue;
    }
    for (int64_t kb = 0; kb < nkb; kb++) {
      int64_t k0 = kb * GK_KC, kc = gk_min(GK_KC, c->K - k0);
      for (int64_t i0 = i_beg; i0 < i_end; i0 += GK_MR) {
        int64_t mr = gk_min(GK_MR, i_end - i0);
        const float *a = c->A + i0 * c->lda + k0;
        for (int64_t r = 0; r < mr; r++)
          for (int64_t k = 0; k < kc; k++) apack[k * GK_MR + r] = a[r * c->lda + k];
        for (int64_t p = p_beg; p < p_end; p++) {
          int64_t j0 = p * GK_NR, nr = gk_min(GK_NR, c->N - j0);
          gk_tile(mr, nr, kc, apack, 1, GK_MR, c->Bp + p * c->K * GK_NR + k0 * GK_NR, &c->e, i0, j0,
                  kb == 0, kb == nkb - 1, tile);
        }
      }
    }
  }
}

void sinter_k_gemm_f32_packed(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                              const float *Bp, float *C, int64_t ldc, const float *bias,
                              const float *R, int32_t act, float p0, float p1,
                              const sinter_art_exec_t *exec) {
  if (M <= 0 || N <= 0) return;
  gemm_ctx_t c = {.M = M, .N = N, .K = K, .lda = lda, .A = A, .Bp = Bp};
  c.e = (gk_epi_t){.C = C, .ldc = ldc, .R = R, .bias_n = bias, .act = act, .p0 = p0, .p1 = p1};
  c.tm = gk_cdiv(M, GM_MB);
  c.tn = gk_cdiv(gk_cdiv(N, GK_NR), GM_NBP);
  int64_t nt = c.tm * c.tn;
  if (exec && exec->num_threads > 1 && nt > 1)
    exec->parallel_for(exec, nt, 1, gemm_task, &c);
  else
    gemm_task(&c, 0, nt);
}

typedef struct matmul_ctx_s {
  int64_t M, N, K, lda, ldb_k, ldb_n, ldc, np;
  int64_t a_bs, b_bs, c_bs;
  const float *A, *B;
  float *C;
} matmul_ctx_t;

/* Task t is (batch, panel): B's panel is packed KC rows at a time on the
 * stack, then every row tile of A (read in place) runs against it. */
static void matmul_task(void *vctx, int64_t t0, int64_t t1) {
  const matmul_ctx_t *c = vctx;
  _Alignas(64) float bpack[GK_KC * GK_NR];
  _Alignas(64) float tile[GK_MR * GK_NR];
  int64_t nkb = c->K ? gk_cdiv(c->K, GK_KC) : 1;
  for (int64_t t = t0; t < t1; t++) {
    int64_t b = t / c->np, p = t % c->np;
    const float *A = c->A + b * c->a_bs, *B = c->B + b * c->b_bs;
    gk_epi_t e = {.C = c->C + b * c->c_bs, .ldc = c->ldc};
    int64_t j0 = p * GK_NR, nr = gk_min(GK_NR, c->N - j0);
    for (int64_t kb = 0; kb < nkb; kb++) {
      int64_t k0 = kb * GK_KC, kc = gk_min(GK_KC, c->K - k0);
      for (int64_t k = 0; k < kc; k++) {
        const float *s = B + (k0 + k) * c->ldb_k + j0 * c->ldb_n;
        float *d = bpack + k * GK_NR;
        for (int64_t j = 0; j < nr; j++) d[j] = s[j * c->ldb_n];
        for (int64_t j = nr; j < GK_NR; j++) d[j] = 0.0f;
      }
      for (int64_t i0 = 0; i0 < c->M; i0 += GK_MR) {
        int64_t mr = gk_min(GK_MR, c->M - i0);
        gk_tile(mr, nr, kc, A + i0 * c->lda + k0, c->lda, 1, bpack, &e, i0, j0, kb == 0,
                kb == nkb - 1, tile);
      }
    }
  }
}

void sinter_k_matmul_f32(int64_t batch, int64_t M, int64_t N, int64_t K, const float *A,
                         int64_t a_batch_stride, int64_t lda, const float *B,
                         int64_t b_batch_stride, int64_t ldb_k, int64_t ldb_n, float *C,
                         int64_t c_batch_stride, int64_t ldc, const sinter_art_exec_t *exec) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  matmul_ctx_t c = {.M = M,
                    .N = N,
                    .K = K,
                    .lda = lda,
                    .ldb_k = ldb_k,
                    .ldb_n = ldb_n,
                    .ldc = ldc,
                    .np = gk_cdiv(N, GK_NR),
                    .a_bs = a_batch_stride,
                    .b_bs = b_batch_stride,
                    .c_bs = c_batch_stride,
                    .A = A,
                    .B = B,
                    .C = C};
  int64_t nt = batch * c.np;
  if (exec && exec->num_threads > 1 && nt > 1)
    exec->parallel_for(exec, nt, 1, matmul_task, &c);
  else
    matmul_task(&c, 0, nt);
}

/* The groundwork's unpacked GEMM, kept for tests/unit/test_kernels_bc.c:
 * C = act(A B + bias) with B row-major (ldb). Not in kernels.h. */
void sinter_k_gemm_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       int64_t ldb, float *C, int64_t ldc, const float *bias, int32_t act);
void sinter_k_gemm_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       int64_t ldb, float *C, int64_t ldc, const float *bias, int32_t act) {
  sinter_k_matmul_f32(1, M, N, K, A, 0, lda, B, 0, ldb, 1, C, 0, ldc, NULL);
  if (bias == NULL && act == SINTER_K_ACT_NONE) return;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++)
      C[m * ldc + n] = sinter_k_act(C[m * ldc + n] + (bias ? bias[n] : 0.0f), act, 0.0f, 0.0f);
}
