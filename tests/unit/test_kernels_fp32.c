/* Tests of the natively compiled fp32 GEMM, MatMul and convolution kernels
 * (codegen/kernels/gemm.c, conv.c) against plain loops in double written here,
 * and of their fused activation epilogue (act_impl.h). */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/act_impl.h"
#include "codegen/kernels/kernels.h"
#include "tests/support/act_ref.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* Deterministic values in [-1, 1): a small LCG so tests need no seed. */
static float rnd(uint32_t *st) {
  *st = *st * 1664525u + 1013904223u;
  return (float)((*st >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd_buf(int64_t n, uint32_t seed) {
  float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  ck_assert_ptr_nonnull(p);
  uint32_t st = seed;
  for (int64_t i = 0; i < n; i++) p[i] = rnd(&st);
  return p;
}

static void *aligned_buf(size_t bytes) {
  void *p = NULL;
  ck_assert_int_eq(posix_memalign(&p, 64, bytes ? bytes : 64), 0);
  return p;
}


/* Params that make each activation do something on values of about +-3. */
static const struct {
  int32_t act;
  float p0, p1;
} kActs[] = {
    {SINTER_K_ACT_NONE, 0, 0},         {SINTER_K_ACT_RELU, 0, 0},
    {SINTER_K_ACT_CLIP, -0.5f, 0.75f}, {SINTER_K_ACT_LEAKY_RELU, 0.1f, 0},
    {SINTER_K_ACT_SIGMOID, 0, 0},      {SINTER_K_ACT_HARD_SIGMOID, 0.2f, 0.5f},
    {SINTER_K_ACT_HARD_SWISH, 0, 0},   {SINTER_K_ACT_GELU, 0, 0},
    {SINTER_K_ACT_GELU_TANH, 0, 0},    {SINTER_K_ACT_SILU, 0, 0},
    {SINTER_K_ACT_TANH, 0, 0},
};
enum { NUM_ACTS = sizeof kActs / sizeof kActs[0] };

/* Tolerance for a sum of n products in fp32 in any order (blocking, FMA or
 * not): the error is at most about n * eps * sum |a_k b_k| and in practice
 * grows like sqrt(n); 1e-5 * sqrt(n + 2) (>= 84 eps * sqrt(n)) times the sum
 * of magnitudes (products, bias and residual) covers both for our sizes. The
 * activations are at most 1.5-Lipschitz (hard-swish near 3) and add a few
 * ulps of libm error (relative to the result, or to the input where the
 * formula cancels, as GELU's 1 + tanh near -1), hence the 1.5 and the 1e-6
 * terms. */
static double tol_for(int64_t n, double mag, double ref) {
  return (1.5e-5 * sqrt((double)n + 2) + 1e-6) * mag + 1e-6 * fabs(ref) + 1e-7;
}

#define CHECK_CLOSE(got, ref, tol, ...) \
  ck_assert_msg(fabs((double)(got) - (ref)) <= (tol), __VA_ARGS__);

/* A fake runtime exec: chunks of `grain` indices run in reverse order on the
 * calling thread, so a kernel whose result depends on the split or the order
 * of chunks differs from its serial run. */
static void rev_parallel_for(const sinter_art_exec_t *exec, int64_t n, int64_t grain,
                             sinter_art_task_fn fn, void *ctx) {
  (void)exec;
  if (grain < 1) grain = 1;
  int64_t nchunks = (n + grain - 1) / grain;
  for (int64_t c = nchunks - 1; c >= 0; c--) {
    int64_t b = c * grain, e = b + grain < n ? b + grain : n;
    fn(ctx, b, e);
  }
}
static const sinter_art_exec_t kRevExec = {sizeof(sinter_art_exec_t), 3, rev_parallel_for, NULL};

/* ---- activation --------------------------------------------------------------------------- */

START_TEST(test_act_values) {
  /* Hand values: relu(-2) = 0, clip(5, -1, 2) = 2, leaky(-2, 0.1) = -0.2,
   * hard_sigmoid(1, 0.2, 0.5) = 0.7, hard_swish(1) = 1 * (1/6 + 1/2) = 2/3,
   * sigmoid(0) = 0.5, silu(0) = 0, tanh(0) = 0, gelu(0) = 0. */
  ck_assert_float_eq(sinter_k_act(-2.0f, SINTER_K_ACT_RELU, 0, 0), 0.0f);
  ck_assert_float_eq(sinter_k_act(5.0f, SINTER_K_ACT_CLIP, -1, 2), 2.0f);
  ck_assert_float_eq(sinter_k_act(-5.0f, SINTER_K_ACT_CLIP, -1, 2), -1.0f);
  ck_assert_float_eq_tol(sinter_k_act(-2.0f, SINTER_K_ACT_LEAKY_RELU, 0.1f, 0), -0.2f, 1e-7f);
  ck_assert_float_eq_tol(sinter_k_act(1.0f, SINTER_K_ACT_HARD_SIGMOID, 0.2f, 0.5f), 0.7f, 1e-7f);
  ck_assert_float_eq_tol(sinter_k_act(1.0f, SINTER_K_ACT_HARD_SWISH, 0, 0), 2.0f / 3, 1e-7f);
  ck_assert_float_eq(sinter_k_act(0.0f, SINTER_K_ACT_SIGMOID, 0, 0), 0.5f);
  ck_assert_float_eq(sinter_k_act(0.0f, SINTER_K_ACT_SILU, 0, 0), 0.0f);
  ck_assert_float_eq(sinter_k_act(0.0f, SINTER_K_ACT_GELU, 0, 0), 0.0f);
  ck_assert_float_eq(sinter_k_act(3.0f, 12345, 0, 0), 3.0f); /* unknown: identity */
  /* Large |x| must not overflow: sigmoid(-100) > 0 tiny, sigmoid(100) = 1. */
  float sm = sinter_k_act(-100.0f, SINTER_K_ACT_SIGMOID, 0, 0);
  ck_assert(sm >= 0.0f && sm < 1e-40f);
  ck_assert_float_eq(sinter_k_act(100.0f, SINTER_K_ACT_SIGMOID, 0, 0), 1.0f);
  /* NaN passes through relu and clip as the interpreter's kernels do. */
  ck_assert(isnan(sinter_k_act(NAN, SINTER_K_ACT_RELU, 0, 0)));
  ck_assert(isnan(sinter_k_act(NAN, SINTER_K_ACT_CLIP, 0, 6)));
  /* Every act against its double formula on a grid: libm's float functions
   * are within a few ulps of the result, or of 1 where a formula cancels
   * (1 + tanh in tanh-GELU), hence 4e-7 relative plus 2e-7 * (1 + |x|). */
  for (int a = 0; a < NUM_ACTS; a++)
    for (float x = -8.0f; x <= 8.0f; x += 0.125f) {
      double ref = act_ref(x, kActs[a].act, kActs[a].p0, kActs[a].p1);
      float got = sinter_k_act(x, kActs[a].act, kActs[a].p0, kActs[a].p1);
      CHECK_CLOSE(got, ref, 4e-7 * fabs(ref) + 2e-7 * (1 + fabs(x)), "act %d x %g: %g vs %g",
                  kActs[a].act, x, got, ref);
    }
}
END_TEST

/* ---- GEMM --------------------------------------------------------------------------------- */

typedef struct gemm_case_s {
  int64_t M, N, K;
  int trans_b, use_bias, use_r, r_is_c, act_idx;
  float alpha;
} gemm_case_t;

/* Runs one packed GEMM and checks it element by element; returns C (caller
 * frees) for the threading test. */
static float *run_gemm(const gemm_case_t *t, const sinter_art_exec_t *exec, int check) {
  const int64_t M = t->M, N = t->N, K = t->K, lda = K + 3, ldc = N + 2;
  float *A = rnd_buf(M * lda, 1), *B = rnd_buf(K * N, 2), *bias = rnd_buf(N, 3);
  float *R = rnd_buf(M * ldc, 4), *C = rnd_buf(M * ldc, 5);
  float *C0 = malloc(sizeof(float) * (size_t)(M * ldc));
  if (t->r_is_c) memcpy(C, R, sizeof(float) * (size_t)(M * ldc));
  memcpy(C0, C, sizeof(float) * (size_t)(M * ldc));
  int64_t ldb_k = t->trans_b ? 1 : N, ldb_n = t->trans_b ? K : 1;
  size_t sz = sinter_k_gemm_f32_packed_size(K, N);
  float *Bp = aligned_buf(sz);
  sinter_k_gemm_f32_pack_b(K, N, B, ldb_k, ldb_n, t->alpha, Bp);
  int32_t act = kActs[t->act_idx].act;
  float p0 = kActs[t->act_idx].p0, p1 = kActs[t->act_idx].p1;
  const float *Rarg = t->use_r ? (t->r_is_c ? C : R) : NULL;
  sinter_k_gemm_f32_packed(M, N, K, A, lda, Bp, C, ldc, t->use_bias ? bias : NULL, Rarg, act, p0,
                           p1, exec);
  for (int64_t m = 0; check && m < M; m++) {
    for (int64_t n = 0; n < N; n++) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < K; k++) {
        double p = (double)A[m * lda + k] * t->alpha * B[k * ldb_k + n * ldb_n];
        s += p;
        mag += fabs(p);
      }
      if (t->use_bias) s += bias[n], mag += fabs(bias[n]);
      if (t->use_r) s += R[m * ldc + n], mag += fabs(R[m * ldc + n]);
      double ref = act_ref(s, act, p0, p1);
      CHECK_CLOSE(C[m * ldc + n], ref, tol_for(K, mag, ref),
                  "gemm M%ld N%ld K%ld act %d at (%ld,%ld): %.8g vs %.8g", (long)M, (long)N,
                  (long)K, act, (long)m, (long)n, C[m * ldc + n], ref);
    }
    /* the padding columns of C stay untouched */
    for (int64_t n = N; n < ldc; n++) ck_assert(C[m * ldc + n] == C0[m * ldc + n]);
  }
  free(A), free(B), free(bias), free(R), free(C0), free(Bp);
  return C;
}

static const gemm_case_t kGemmCases[] = {
    {1, 1, 1, 0, 0, 0, 0, 0, 1.0f},       {1, 1000, 512, 1, 1, 0, 0, 0, 1.0f},
    {7, 13, 5, 0, 1, 1, 0, 1, 0.5f},      {8, 48, 128, 0, 0, 0, 0, 0, 1.0f},
    {9, 49, 129, 1, 1, 1, 1, 2, 1.0f},    {67, 131, 300, 0, 1, 1, 0, 6, 2.0f},
    {17, 97, 257, 1, 0, 1, 1, 7, 1.0f},   {3, 5, 0, 0, 1, 1, 0, 1, 1.0f},
    {13, 500, 37, 0, 1, 0, 0, 9, 1.0f},   {64, 480, 256, 0, 1, 1, 0, 3, 1.0f},
    {131, 961, 20, 1, 1, 1, 1, 10, 1.0f}, {2, 17, 1000, 0, 1, 0, 0, 4, -1.0f},
};

START_TEST(test_gemm_packed) {
  for (size_t i = 0; i < sizeof kGemmCases / sizeof kGemmCases[0]; i++)
    free(run_gemm(&kGemmCases[i], NULL, 1));
  /* every activation once on a mid-size shape */
  for (int a = 0; a < NUM_ACTS; a++) {
    gemm_case_t t = {11, 70, 33, 0, 1, 1, a % 2, a, 1.0f};
    free(run_gemm(&t, NULL, 1));
  }
}
END_TEST

START_TEST(test_gemm_threads_bitwise) {
  for (size_t i = 0; i < sizeof kGemmCases / sizeof kGemmCases[0]; i++) {
    const gemm_case_t *t = &kGemmCases[i];
    float *c1 = run_gemm(t, NULL, 0), *c2 = run_gemm(t, &kRevExec, 1);
    ck_assert_msg(memcmp(c1, c2, sizeof(float) * (size_t)(t->M * (t->N + 2))) == 0,
                  "gemm case %zu differs with threads", i);
    free(c1), free(c2);
  }
}
END_TEST

/* ---- MatMul ------------------------------------------------------------------------------- */

static float *run_matmul(int64_t batch, int64_t M, int64_t N, int64_t K, int bcast_a, int trans_b,
                         const sinter_art_exec_t *exec, int check) {
  const int64_t lda = K + 1, ldc = N + 3;
  const int64_t a_bs = bcast_a ? 0 : M * lda, b_bs = K * N + 5, c_bs = M * ldc;
  float *A = rnd_buf(M * lda * (bcast_a ? 1 : batch), 11), *B = rnd_buf(b_bs * batch, 12);
  float *C = rnd_buf(c_bs * batch, 13);
  int64_t ldb_k = trans_b ? 1 : N, ldb_n = trans_b ? K : 1;
  sinter_k_matmul_f32(batch, M, N, K, A, a_bs, lda, B, b_bs, ldb_k, ldb_n, C, c_bs, ldc, exec);
  for (int64_t b = 0; check && b < batch; b++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        double s = 0, mag = 0;
        for (int64_t k = 0; k < K; k++) {
          double p = (double)A[b * a_bs + m * lda + k] * B[b * b_bs + k * ldb_k + n * ldb_n];
          s += p, mag += fabs(p);
        }
        CHECK_CLOSE(C[b * c_bs + m * ldc + n], s, tol_for(K, mag, s),
                    "matmul b%ld (%ld,%ld): %.8g vs %.8g", (long)b, (long)m, (long)n,
                    C[b * c_bs + m * ldc + n], s);
      }
  free(A), free(B);
  return C;
}

START_TEST(test_matmul) {
  static const int64_t cases[][6] = {
      /* batch, M, N, K, bcast_a, trans_b */
      {1, 1, 1, 1, 0, 0},    {3, 5, 7, 9, 0, 0},      {2, 9, 49, 130, 1, 1},
      {4, 16, 64, 64, 0, 1}, {1, 37, 100, 300, 0, 0}, {2, 3, 4, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const int64_t *c = cases[i];
    float *c1 = run_matmul(c[0], c[1], c[2], c[3], (int)c[4], (int)c[5], NULL, 1);
    float *c2 = run_matmul(c[0], c[1], c[2], c[3], (int)c[4], (int)c[5], &kRevExec, 0);
    ck_assert_msg(memcmp(c1, c2, sizeof(float) * (size_t)(c[0] * c[1] * (c[2] + 3))) == 0,
                  "matmul case %zu differs with threads", i);
    free(c1), free(c2);
  }
}
END_TEST

/* ---- convolution -------------------------------------------------------------------------- */

typedef struct conv_case_s {
  int64_t C, H, W, M, KH, KW, sh, sw, pt, pl, pb, pr, dh, dw, group;
  int use_bias, use_z, act_idx;
} conv_case_t;

static sinter_k_conv_shape_t shape_of(const conv_case_t *t) {
  sinter_k_conv_shape_t s = {.C = t->C,
                             .H = t->H,
                             .W = t->W,
                             .M = t->M,
                             .KH = t->KH,
                             .KW = t->KW,
                             .stride_h = t->sh,
                             .stride_w = t->sw,
                             .pad_t = t->pt,
                             .pad_l = t->pl,
                             .pad_b = t->pb,
                             .pad_r = t->pr,
                             .dil_h = t->dh,
                             .dil_w = t->dw,
                             .group = t->group};
  s.OH = (t->H + t->pt + t->pb - (t->dh * (t->KH - 1) + 1)) / t->sh + 1;
  s.OW = (t->W + t->pl + t->pr - (t->dw * (t->KW - 1) + 1)) / t->sw + 1;
  return s;
}

static float *run_conv(const conv_case_t *t, const sinter_art_exec_t *exec, int check) {
  sinter_k_conv_shape_t s = shape_of(t);
  const int64_t cg = t->C / t->group, mg = t->M / t->group, ohw = s.OH * s.OW;
  float *x = rnd_buf(t->C * t->H * t->W, 21), *w = rnd_buf(t->M * cg * t->KH * t->KW, 22);
  float *bias = rnd_buf(t->M, 23), *z = rnd_buf(t->M * ohw, 24), *y = rnd_buf(t->M * ohw, 25);
  float *wp = aligned_buf(sinter_k_conv2d_f32_packed_size(&s));
  size_t ss = sinter_k_conv2d_f32_scratch_size(&s);
  void *scratch = ss ? aligned_buf(ss) : NULL;
  sinter_k_conv2d_f32_pack(&s, w, wp);
  int32_t act = kActs[t->act_idx].act;
  float p0 = kActs[t->act_idx].p0, p1 = kActs[t->act_idx].p1;
  sinter_k_conv2d_f32(&s, x, wp, t->use_bias ? bias : NULL, t->use_z ? z : NULL, y, scratch, act,
                      p0, p1, exec);
  const int64_t kn = cg * t->KH * t->KW;
  for (int64_t m = 0; check && m < t->M; m++) {
    int64_t g = m / mg;
    for (int64_t oy = 0; oy < s.OH; oy++)
      for (int64_t ox = 0; ox < s.OW; ox++) {
        double acc = 0, mag = 0;
        for (int64_t c = 0; c < cg; c++)
          for (int64_t kh = 0; kh < t->KH; kh++)
            for (int64_t kw = 0; kw < t->KW; kw++) {
              int64_t iy = oy * t->sh - t->pt + kh * t->dh, ix = ox * t->sw - t->pl + kw * t->dw;
              if (iy < 0 || iy >= t->H || ix < 0 || ix >= t->W) continue;
              double p = (double)x[((g * cg + c) * t->H + iy) * t->W + ix] *
                         w[((m * cg + c) * t->KH + kh) * t->KW + kw];
              acc += p, mag += fabs(p);
            }
        if (t->use_bias) acc += bias[m], mag += fabs(bias[m]);
        if (t->use_z) acc += z[m * ohw + oy * s.OW + ox], mag += fabs(z[m * ohw + oy * s.OW + ox]);
        double ref = act_ref(acc, act, p0, p1);
        float got = y[m * ohw + oy * s.OW + ox];
        CHECK_CLOSE(got, ref, tol_for(kn, mag, ref),
                    "conv C%ld H%ld W%ld M%ld k%ldx%ld s%ld g%ld at (%ld,%ld,%ld): %.8g vs %.8g",
                    (long)t->C, (long)t->H, (long)t->W, (long)t->M, (long)t->KH, (long)t->KW,
                    (long)t->sh, (long)t->group, (long)m, (long)oy, (long)ox, got, ref);
      }
  }
  free(x), free(w), free(bias), free(z), free(wp), free(scratch);
  return y;
}

static const conv_case_t kConvCases[] = {
    /* C, H, W, M, KH, KW, sh, sw, pt, pl, pb, pr, dh, dw, group, bias, z, act */
    {3, 11, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1},   /* 3x3 pad 1, M % 8 != 0 */
    {3, 23, 23, 16, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 0, 1},  /* resnet stem-like */
    {3, 40, 70, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2},   /* stem, vector stride-2 fill */
    {2, 9, 67, 8, 3, 3, 2, 2, 0, 2, 1, 0, 1, 1, 1, 1, 1, 1},    /* odd W, pad_l 2 */
    {16, 9, 9, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* with residual */
    {64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* 7x7: edge panel */
    {130, 5, 5, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2},  /* transposed, K in 2 blocks */
    {20, 14, 14, 40, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 2}, /* 1x1 as GEMM on x */
    {300, 5, 5, 17, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0},  /* 1x1, K > KC */
    {8, 10, 10, 12, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0},  /* 1x1 stride 2 */
    /* 1x1 read in place from x: full panels, an M edge packed, K > KC */
    {24, 10, 10, 13, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2},
    {150, 8, 8, 12, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1},
    /* in place over all of K with a 32-column last panel (8 x 10 = 48 + 32);
     * K past the one-pass limit (1024) goes back to KC blocks */
    {136, 8, 10, 16, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1},
    {1030, 4, 12, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2},
    /* 196 = 4 x 48 + 4 columns: the narrow last panel steps back onto full
     * vectors, in the same task as the panel before; K > KC, M % 8 != 0 */
    {150, 14, 14, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2},
    {8, 13, 9, 8, 3, 2, 2, 1, 2, 0, 1, 3, 1, 1, 1, 1, 0, 3},    /* asymmetric */
    {6, 12, 12, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 0, 0, 6},   /* dilation 2 */
    {8, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1},     /* 2 groups */
    {12, 8, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 0, 9},   /* 3 groups */
    {4, 1, 30, 7, 1, 5, 1, 2, 0, 2, 0, 2, 1, 1, 1, 1, 0, 1},    /* conv1d */
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0},     /* all ones */
    {2, 3, 3, 3, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0},     /* kernel > image */
    /* the direct plan (phase planes, no im2col): stride 2, M % 8 != 0, C and M
     * over their blocks, dilation */
    {10, 30, 30, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {40, 20, 20, 136, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {9, 12, 11, 64, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 0, 1},
    /* the channel-vector direct plan (M % 64 == 0, small maps) */
    {16, 14, 14, 128, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {5, 8, 8, 64, 5, 5, 1, 1, 2, 1, 2, 3, 1, 1, 1, 0, 0, 2},
    /* few output positions: the transposed plan (weights as the B side) */
    {40, 5, 5, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {16, 7, 7, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 1, 1, 1},
    {200, 4, 4, 40, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 6},
    {512, 1, 1, 100, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0},
    /* Winograd F(2x2, 3x3) (3x3 stride 1, C, M >= 32, maps >= 14x14): odd and
     * asymmetric maps, pads 0/1/2, residual, acts, M % 8 != 0, C over the KC
     * block, M over the 64-channel chunk, a 1-tile last block, many blocks
     * (more than the 8 scratch slots). The tolerance is tol_for's: F(2,3)'s
     * worst-case rounding is about (C + 6) eps times sum |U||V|, at most 9 x
     * sum |x||w| (|A^T|, |G| and |B^T| entries <= 1, 4 terms a row), i.e.
     * < 1e-4 * mag for C = 150, under the 2.6e-4 * mag allowed there. */
    {32, 15, 17, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {33, 16, 16, 70, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 2},
    {48, 14, 19, 65, 3, 3, 1, 1, 1, 0, 2, 1, 1, 1, 1, 1, 1, 6},
    {150, 14, 14, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3},
    {32, 40, 41, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1},
    {40, 16, 15, 33, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 1, 0, 1, 7},
    /* depthwise: stride 1 and 2, pads, dilation, residual, relu6 */
    {32, 17, 17, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, 1, 0, 2},
    {24, 16, 16, 24, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 24, 1, 0, 2},
    {24, 15, 15, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 24, 1, 1, 1},
    {5, 40, 37, 5, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 5, 0, 1, 7},
    {3, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 3, 1, 0, 0},
    {4, 2, 2, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 0, 0},
    {8, 6, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 1, 0, 1},    /* channel multiplier 2 */
    {2, 150, 150, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1}, /* several bands */
    {2, 150, 151, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1, 0, 2}, /* bands, stride 2 */
    {2, 1, 9000, 2, 1, 3, 1, 1, 0, 1, 0, 1, 1, 1, 2, 1, 1, 1},  /* too wide: border loop */
    {3, 20, 20, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3, 1, 0, 0},   /* stride 3 */
    /* depthwise 3x3 on <= 14x14 outputs, 16 channels at a time channels-innermost:
     * C % 16 != 0 (leftover channels take the row path), stride 1 and 2, odd and
     * asymmetric pads, non-square maps, residual; wide rows split into bands of
     * one output row (stride 2 band starting inside the image). Same tolerance
     * as every conv: 9 taps + bias + z summed in float. */
    {37, 7, 7, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 37, 1, 1, 2},
    {16, 13, 11, 16, 3, 3, 2, 2, 1, 0, 0, 1, 1, 1, 16, 1, 0, 2},
    {48, 5, 9, 48, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 48, 0, 1, 3},
    {33, 14, 14, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 33, 1, 1, 1},
    {32, 14, 15, 32, 3, 3, 2, 2, 1, 2, 0, 1, 1, 1, 32, 1, 1, 0},
    {16, 4, 190, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16, 1, 1, 2},
    {17, 1, 1, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 17, 1, 1, 1},  /* 1x1 image */
    /* depthwise 3x3 on larger maps, per channel with several output rows a
     * step: odd sizes (a last vector overlapping the one before, a row count
     * not a multiple of 4), rows narrower than a vector, stride 2 on even
     * widths (vector even/odd split) and odd ones (element split), odd, even
     * and asymmetric pads, pad 0, several bands, residual. Pad 1 with OW = W
     * (stride 1) or OW = W / 2 (stride 2, even W) reads the image's rows in
     * place: widths 16, 17, 48 (OW 24), 56 (OW 28), 64, 224, top or bottom pad
     * 0. */
    {7, 29, 31, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 7, 1, 1, 2},
    {5, 57, 33, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5, 1, 1, 1},
    {3, 40, 64, 3, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 3, 1, 0, 2},
    {4, 31, 70, 4, 3, 3, 2, 2, 2, 1, 0, 2, 1, 1, 4, 0, 1, 0},
    {4, 33, 66, 4, 3, 3, 2, 2, 1, 2, 2, 1, 1, 1, 4, 1, 1, 2},
    {3, 60, 10, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, 1},
    {4, 20, 21, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 4, 1, 1, 3},
    {3, 24, 40, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 3, 1, 0, 2},
    {2, 130, 113, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2},
    {2, 121, 224, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2},
    {5, 23, 56, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5, 1, 1, 2},
    {3, 20, 48, 3, 3, 3, 2, 2, 0, 1, 1, 0, 1, 1, 3, 1, 1, 1},
    {3, 13, 64, 3, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 3, 0, 1, 0},
    {4, 18, 16, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 1, 2},
    {4, 17, 17, 4, 3, 3, 1, 1, 0, 1, 1, 1, 1, 1, 4, 1, 1, 1},
    {3, 19, 40, 3, 3, 3, 1, 1, 1, 1, 0, 1, 1, 1, 3, 1, 0, 2},
    /* stride-2 in-place rows of 16 to 30 floats (one partial vector, reading
     * into the next row; the plane's last row from a copy), 1-row image */
    {20, 28, 28, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 20, 1, 1, 2},
    {3, 9, 16, 3, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 3, 1, 1, 1},
    {2, 1, 30, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2},
    {2, 30, 1500, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1}, /* too wide: row path */
    /* depthwise, one padded row per vector (W + pads <= 16, W >= 8) */
    {16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16, 1, 1, 2},
    {5, 9, 12, 5, 3, 3, 1, 1, 0, 2, 2, 1, 1, 1, 5, 1, 0, 1},    /* uneven pads */
    {3, 40, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 1, 0},    /* many rows */
    {4, 2, 14, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 1, 1},    /* two rows */
};

START_TEST(test_conv) {
  for (size_t i = 0; i < sizeof kConvCases / sizeof kConvCases[0]; i++)
    free(run_conv(&kConvCases[i], NULL, 1));
  for (int a = 0; a < NUM_ACTS; a++) {
    conv_case_t g = {5, 6, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, a % 2, a};
    conv_case_t d = {6, 6, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, 1, a % 2, a};
    conv_case_t t = {8, 3, 3, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, a % 2, a};
    conv_case_t dc = {20, 7, 6, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 20, 1, a % 2, a};
    conv_case_t dv = {7, 11, 13, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 7, 1, a % 2, a};
    free(run_conv(&dv, NULL, 1));
    conv_case_t dl = {3, 21, 50, 3, 3, 3, 1 + a % 2, 1 + a % 2, 1, 1, 1, 1, 1, 1, 3, 1,
                      a / 2 % 2, a};
    free(run_conv(&dl, NULL, 1));
    free(run_conv(&dc, NULL, 1));
    free(run_conv(&g, NULL, 1));
    free(run_conv(&t, NULL, 1));
    free(run_conv(&d, NULL, 1));
  }
}
END_TEST

START_TEST(test_conv_threads_bitwise) {
  for (size_t i = 0; i < sizeof kConvCases / sizeof kConvCases[0]; i++) {
    const conv_case_t *t = &kConvCases[i];
    sinter_k_conv_shape_t s = shape_of(t);
    float *y1 = run_conv(t, NULL, 0), *y2 = run_conv(t, &kRevExec, 1);
    ck_assert_msg(memcmp(y1, y2, sizeof(float) * (size_t)(t->M * s.OH * s.OW)) == 0,
                  "conv case %zu differs with threads", i);
    free(y1), free(y2);
  }
}
END_TEST

/* The fused pointwise/depthwise calls against the two convs they replace,
 * bit for bit: on the fused path (the test checks it is taken), and on the
 * fallbacks (a pair that does not qualify, and any pair with threads). a runs
 * first and b reads its output; z is b's residual (dw -> pw only). */
typedef enum { PAIR_PW_DW, PAIR_DW_PW } pair_t;

static void check_pair(pair_t kind, const sinter_k_conv_shape_t *a, const sinter_k_conv_shape_t *b,
                       int act_a, int act_b, int use_z, int fusable,
                       const sinter_art_exec_t *exec) {
  int32_t act1 = kActs[act_a].act, act2 = kActs[act_b].act;
  float q0 = kActs[act_a].p0, q1 = kActs[act_a].p1, p0 = kActs[act_b].p0, p1 = kActs[act_b].p1;
  ck_assert_int_eq(kind == PAIR_PW_DW ? sinter_k_conv2d_pw_dw_f32_fusable(a, act1, b, act2)
                                      : sinter_k_conv2d_dw_pw_f32_fusable(a, act1, b, act2),
                   fusable);
  ck_assert_int_eq(sinter_k_conv2d_f32_scratch_size(a) + sinter_k_conv2d_f32_scratch_size(b), 0);
  const int64_t nm = a->M * a->OH * a->OW, ny = b->M * b->OH * b->OW;
  float *x = rnd_buf(a->C * a->H * a->W, 31), *w1 = rnd_buf(a->M * a->C / a->group * 9, 32);
  float *w2 = rnd_buf(b->M * b->C / b->group * 9, 33), *b1 = rnd_buf(a->M, 34);
  float *b2 = rnd_buf(b->M, 35), *z = use_z ? rnd_buf(ny, 36) : NULL;
  float *wp1 = aligned_buf(sinter_k_conv2d_f32_packed_size(a));
  float *wp2 = aligned_buf(sinter_k_conv2d_f32_packed_size(b));
  sinter_k_conv2d_f32_pack(a, w1, wp1);
  sinter_k_conv2d_f32_pack(b, w2, wp2);
  float *mid = aligned_buf(sizeof(float) * (size_t)nm), *y1 = aligned_buf(sizeof(float) * (size_t)ny);
  float *y2 = aligned_buf(sizeof(float) * (size_t)ny);
  sinter_k_conv2d_f32(a, x, wp1, b1, NULL, mid, NULL, act1, q0, q1, NULL);
  sinter_k_conv2d_f32(b, mid, wp2, b2, z, y1, NULL, act2, p0, p1, NULL);
  memset(mid, 0xff, sizeof(float) * (size_t)nm); /* NaNs: no stale row may be read */
  if (kind == PAIR_PW_DW)
    sinter_k_conv2d_pw_dw_f32(a, b, x, wp1, b1, act1, q0, q1, wp2, b2, mid, y2, act2, p0, p1,
                              exec);
  else
    sinter_k_conv2d_dw_pw_f32(a, b, x, wp1, b1, act1, q0, q1, wp2, b2, z, mid, y2, act2, p0, p1,
                              exec);
  for (int64_t i = 0; i < ny; i++)
    ck_assert_msg(memcmp(&y1[i], &y2[i], sizeof(float)) == 0,
                  "%s C%ld %ldx%ld -> %ld -> %ld%s: element %ld: %.9g fused, %.9g separate",
                  kind == PAIR_PW_DW ? "pw->dw" : "dw->pw", (long)a->C, (long)a->H, (long)a->W,
                  (long)a->M, (long)b->M, exec ? " threaded" : "", (long)i, y2[i], y1[i]);
  free(x), free(w1), free(w2), free(b1), free(b2), free(z), free(wp1), free(wp2), free(mid),
      free(y1), free(y2);
}

/* A 1x1 conv C -> M on H x W, and a 3x3 depthwise conv (pad 1, stride S) of
 * C channels. */
static sinter_k_conv_shape_t pointwise(int64_t C, int64_t H, int64_t W, int64_t M) {
  return (sinter_k_conv_shape_t){.C = C, .H = H, .W = W, .M = M, .OH = H, .OW = W, .KH = 1,
                                 .KW = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
                                 .group = 1};
}
static sinter_k_conv_shape_t depthwise(int64_t C, int64_t H, int64_t W, int64_t S) {
  return (sinter_k_conv_shape_t){.C = C, .H = H, .W = W, .M = C, .OH = (H - 1) / S + 1,
                                 .OW = (W - 1) / S + 1, .KH = 3, .KW = 3, .stride_h = S,
                                 .stride_w = S, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1,
                                 .dil_h = 1, .dil_w = 1, .group = C};
}

typedef struct pair_case_s {
  int64_t C, H, W, E, S, M; /* pw -> dw: C -> E, dw of E; dw -> pw: dw of E, E -> M */
  int act_a, act_b;         /* kActs indices, in call order */
  int use_z, fusable;
} pair_case_t;

START_TEST(test_conv_pw_dw) {
  static const pair_case_t cases[] = {
      /* C, H, W, E, S, M, act a, act b, z, fusable */
      {16, 64, 64, 64, 2, 0, 2, 2, 0, 1},  /* MobileNetV2-like: clip both */
      {5, 80, 70, 50, 2, 0, 1, 0, 0, 1},   /* E % 8 != 0, panels cross rows, odd OW */
      {24, 72, 72, 72, 2, 0, 3, 1, 0, 1},  /* leaky pw, relu dw */
      {16, 64, 64, 64, 1, 0, 2, 2, 0, 0},  /* stride 1: two calls */
      {16, 16, 16, 32, 2, 0, 2, 2, 0, 0},  /* small map: two calls */
      {8, 64, 64, 64, 2, 0, 4, 2, 0, 0},   /* sigmoid pw: not a register epilogue */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const pair_case_t *t = &cases[i];
    sinter_k_conv_shape_t a = pointwise(t->C, t->H, t->W, t->E), b = depthwise(t->E, t->H, t->W, t->S);
    check_pair(PAIR_PW_DW, &a, &b, t->act_a, t->act_b, 0, t->fusable, NULL);
    check_pair(PAIR_PW_DW, &a, &b, t->act_a, t->act_b, 0, t->fusable, &kRevExec);
  }
}
END_TEST

START_TEST(test_conv_dw_pw) {
  static const pair_case_t cases[] = {
      {0, 112, 112, 32, 1, 16, 2, 0, 0, 1},  /* MobileNetV2's first block */
      {0, 60, 60, 80, 1, 20, 2, 1, 1, 1},    /* M % 8 != 0 (packed edge), residual */
      {0, 112, 110, 150, 2, 24, 1, 2, 0, 1}, /* K > KC: blocked edges; odd OW */
      {0, 64, 64, 160, 1, 40, 3, 0, 1, 1},   /* K > KC with a residual */
      {0, 62, 62, 150, 1, 24, 2, 0, 1, 1},   /* a narrow last panel (3844 = 80 x 48 + 4) */
      {0, 28, 28, 64, 1, 16, 2, 0, 0, 0},    /* small map: two calls */
      {0, 64, 64, 64, 1, 16, 4, 0, 0, 0},    /* sigmoid: two calls */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const pair_case_t *t = &cases[i];
    sinter_k_conv_shape_t a = depthwise(t->E, t->H, t->W, t->S);
    sinter_k_conv_shape_t b = pointwise(t->E, a.OH, a.OW, t->M);
    check_pair(PAIR_DW_PW, &a, &b, t->act_a, t->act_b, t->use_z, t->fusable, NULL);
    check_pair(PAIR_DW_PW, &a, &b, t->act_a, t->act_b, t->use_z, t->fusable, &kRevExec);
  }
}
END_TEST

/* The legacy unpacked entry that tests/unit/test_kernels_bc.c JITs. */
void sinter_k_gemm_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       int64_t ldb, float *C, int64_t ldc, const float *bias, int32_t act);

START_TEST(test_legacy_gemm) {
  /* By hand: A = [[1,2,3],[4,5,6]], B = [[1,0],[0,1],[1,1]]: A B = [[4,5],[10,11]];
   * + bias {1,-100} then relu: [[5,0],[11,0]]. */
  const float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, bias[2] = {1, -100};
  float C[6] = {-7, -7, -7, -7, -7, -7};
  sinter_k_gemm_f32(2, 2, 3, A, 3, B, 2, C, 3, bias, SINTER_K_ACT_RELU);
  ck_assert_float_eq(C[0], 5.0f);
  ck_assert_float_eq(C[1], 0.0f);
  ck_assert_float_eq(C[2], -7.0f);
  ck_assert_float_eq(C[3], 11.0f);
  ck_assert_float_eq(C[4], 0.0f);
  ck_assert_float_eq(C[5], -7.0f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_fp32");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_act_values);
  tcase_add_test(tc, test_gemm_packed);
  tcase_add_test(tc, test_gemm_threads_bitwise);
  tcase_add_test(tc, test_matmul);
  tcase_add_test(tc, test_conv);
  tcase_add_test(tc, test_conv_threads_bitwise);
  tcase_add_test(tc, test_conv_pw_dw);
  tcase_add_test(tc, test_conv_dw_pw);
  tcase_add_test(tc, test_legacy_gemm);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
