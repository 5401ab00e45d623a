/* The int8 kernels of codegen/kernels (qgemm.c, qconv.c, quant.c), natively compiled into
 * libsinter: each is compared byte for byte with a direct reference written here from the
 * formulas of docs/ops-sinter.md (int32 wrapping sums, product and zero point in double, round
 * half to even, saturate, clamp). Integer results must match exactly: tolerance 0, since the
 * kernels promise bit-exact agreement with the interpreter. Portable, VNNI (when the CPU has it)
 * and AMX (which falls back where the kernel refuses tiles) all run, serially and through a fake
 * thread pool that runs chunks in reverse order. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/kernels.h"
#include "tests/support/check_main.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}
static int32_t rnd_in(int32_t lo, int32_t hi) {
  return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static void *xalloc(size_t n) {
  void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
  ck_assert_ptr_nonnull(p);
  memset(p, 0xA5, (n + 63) / 64 * 64 + 64); /* garbage, so reliance on zeroed memory shows */
  return p;
}

/* The reference's requantization: round_sat of ir/interp/k_qfused.c, then the clamp. */
static int32_t ref_rq(double v, int32_t sgn, int32_t qmin, int32_t qmax) {
  int64_t lo = sgn ? -128 : 0, hi = sgn ? 127 : 255, r;
  if (isnan(v)) {
    r = 0 < lo ? lo : 0 > hi ? hi : 0;
  } else {
    v = nearbyint(v);
    r = v <= (double)lo ? lo : v >= (double)hi ? hi : (int64_t)v;
  }
  return (int32_t)(r < qmin ? qmin : r > qmax ? qmax : r);
}

static int32_t ld8(const void *p, int64_t i, int32_t sgn) {
  return sgn ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

/* A pool that runs the chunks of [0, n) in reverse order: results must not depend on order. */
static void reverse_parallel_for(const sinter_art_exec_t *exec, int64_t n, int64_t grain,
                                 sinter_art_task_fn fn, void *ctx) {
  (void)exec;
  if (grain <= 0) grain = 1;
  int64_t chunk = grain > 3 ? grain : 3;
  int64_t last = (n - 1) / chunk * chunk;
  for (int64_t b = last; b >= 0; b -= chunk) fn(ctx, b, b + chunk < n ? b + chunk : n);
}
static const sinter_art_exec_t kRevExec = {sizeof(sinter_art_exec_t), 4, reverse_parallel_for,
                                           NULL};

static int have_vnni(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

static void expect_bytes(const uint8_t *got, const uint8_t *want, int64_t n, const char *what) {
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(got[i] == want[i], "%s: byte %lld is %d, expected %d", what, (long long)i, got[i],
                  want[i]);
}

/* ---- qgemm ------------------------------------------------------------------------------ */

typedef struct gemm_case_s {
  int64_t M, N, K;
  int32_t a_signed, y_signed, bzp, bias, transb, pad, relu;
} gemm_case_t;

typedef void (*qgemm_fn)(int64_t, int64_t, int64_t, const void *, int64_t, int32_t, const void *,
                         const float *, int32_t, int32_t, int32_t, void *, int64_t, int32_t,
                         const sinter_art_exec_t *);

static void run_gemm_case(const gemm_case_t *gc, int extreme) {
  int64_t M = gc->M, N = gc->N, K = gc->K;
  int64_t lda = K + (gc->pad ? 5 : 0), ldy = N + (gc->pad ? 3 : 0);
  uint8_t *a = xalloc((size_t)(M * lda));
  int8_t *b = xalloc((size_t)(K * N));
  int32_t *bzp = xalloc((size_t)N * 4), *bias = xalloc((size_t)N * 4);
  float *mult = xalloc((size_t)N * 4);
  for (int64_t i = 0; i < M * lda; i++) a[i] = extreme ? 255 : (uint8_t)rnd();
  for (int64_t i = 0; i < K * N; i++) b[i] = extreme ? 127 : (int8_t)rnd();
  int32_t a_zp = gc->a_signed ? rnd_in(-128, 127) : rnd_in(0, 255);
  if (extreme) a_zp = gc->a_signed ? -128 : 0;
  int32_t y_zp = gc->y_signed ? rnd_in(-20, 20) : rnd_in(100, 150);
  for (int64_t j = 0; j < N; j++) {
    bzp[j] = gc->bzp ? rnd_in(-5, 5) : 0;
    bias[j] = rnd_in(-50000, 50000);
    /* Scales near 1 / (sqrt(K) * 128) keep outputs mostly inside the range. */
    mult[j] = (float)(1.0 / (16.0 * sqrt((double)K) * 128.0) * (0.5 + (rnd() % 1000) / 1000.0));
  }
  if (N > 3) {
    mult[1] = INFINITY; /* inf * acc saturates, inf * 0 is NaN which requantizes 0 */
    mult[2] = NAN;
    mult[3] = 0.5f; /* exact .5 ties appear */
  }
  int32_t lo = gc->y_signed ? -128 : 0, hi = gc->y_signed ? 127 : 255;
  int32_t qmin = gc->relu ? y_zp : lo, qmax = gc->relu ? hi - 7 : hi;
  /* Reference: int32 wrapping accumulation (in uint32), requantized once. */
  uint8_t *want = xalloc((size_t)(M * ldy));
  for (int64_t r = 0; r < M; r++) {
    for (int64_t j = 0; j < N; j++) {
      uint32_t acc = gc->bias ? (uint32_t)bias[j] : 0;
      for (int64_t k = 0; k < K; k++)
        acc += (uint32_t)(ld8(a, r * lda + k, gc->a_signed) - a_zp) *
               (uint32_t)((int32_t)b[k * N + j] - bzp[j]);
      double p = (double)(int32_t)acc * (double)mult[j]; /* two roundings, never an FMA */
      double v = p + (double)y_zp;
      want[r * ldy + j] = (uint8_t)ref_rq(v, gc->y_signed, qmin, qmax);
    }
  }
  /* Pack, from B as stored or transposed ([N, K]: ldb_k = 1, ldb_n = K). */
  int8_t *bsrc = b;
  int64_t ldb_k = N, ldb_n = 1;
  if (gc->transb) {
    bsrc = xalloc((size_t)(K * N));
    for (int64_t k = 0; k < K; k++)
      for (int64_t j = 0; j < N; j++) bsrc[j * K + k] = b[k * N + j];
    ldb_k = 1;
    ldb_n = K;
  }
  size_t psz = sinter_k_qgemm_packed_size(K, N);
  void *bp = xalloc(psz);
  sinter_k_qgemm_pack_b(K, N, bsrc, ldb_k, ldb_n, bzp, gc->bias ? bias : NULL, a_zp, gc->a_signed,
                        bp);
  struct {
    const char *name;
    qgemm_fn fn;
  } fns[3] = {
      {"portable", sinter_k_qgemm}, {"vnni", sinter_k_qgemm_vnni}, {"amx", sinter_k_qgemm_amx}};
  int nfn = have_vnni() ? 3 : 1;
  uint8_t *y = xalloc((size_t)(M * ldy));
  for (int f = 0; f < nfn; f++) {
    for (int t = 0; t < 2; t++) {
      memset(y, 0x5A, (size_t)(M * ldy));
      fns[f].fn(M, N, K, a, lda, gc->a_signed, bp, mult, y_zp, qmin, qmax, y, ldy, gc->y_signed,
                t ? &kRevExec : NULL);
      char what[160];
      snprintf(what, sizeof what, "qgemm %s%s M=%lld N=%lld K=%lld as=%d ys=%d bzp=%d", fns[f].name,
               t ? " threaded" : "", (long long)M, (long long)N, (long long)K, gc->a_signed,
               gc->y_signed, gc->bzp);
      for (int64_t r = 0; r < M; r++) {
        expect_bytes(y + r * ldy, want + r * ldy, N, what);
        for (int64_t j = N; j < ldy; j++)
          ck_assert_msg(y[r * ldy + j] == 0x5A, "%s wrote past N", what);
      }
    }
  }
  free(a);
  free(b);
  free(bzp);
  free(bias);
  free(mult);
  free(want);
  free(bp);
  free(y);
  if (bsrc != b) free(bsrc);
}

START_TEST(qgemm_shapes) {
  static const gemm_case_t cases[] = {
      {1, 1, 1, 0, 0, 0, 1, 0, 0, 0},       {1, 16, 4, 1, 1, 0, 0, 0, 0, 0},
      {7, 33, 13, 0, 0, 1, 1, 1, 1, 0},     {6, 64, 64, 1, 0, 0, 1, 0, 0, 1},
      {13, 130, 259, 0, 1, 0, 1, 0, 1, 0},  {37, 50, 29, 1, 1, 1, 1, 1, 0, 1},
      {12, 200, 1000, 0, 0, 0, 1, 1, 0, 0}, {5, 17, 3, 1, 0, 1, 0, 0, 1, 1},
      {64, 64, 256, 0, 0, 0, 1, 0, 0, 0},   {19, 1, 70, 1, 1, 1, 1, 1, 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_gemm_case(&cases[i], 0);
}
END_TEST

/* 255 * 127 * 70000 overflows int32: the sum must wrap, as the reference's does. */
START_TEST(qgemm_wraps) {
  gemm_case_t gc = {2, 20, 70000, 0, 0, 0, 1, 0, 0, 0};
  run_gemm_case(&gc, 1);
  gemm_case_t gs = {3, 5, 70001, 1, 1, 0, 0, 1, 0, 0};
  run_gemm_case(&gs, 1);
}
END_TEST

START_TEST(amx_probe_is_stable) {
  int a = sinter_k_amx_available(), b = sinter_k_amx_available();
  ck_assert_int_eq(a, b);
  ck_assert(a == 0 || a == 1);
  if (!a) fprintf(stderr, "note: AMX not available here; qgemm_amx tested through its fallback\n");
}
END_TEST

/* ---- qconv ------------------------------------------------------------------------------ */

typedef struct conv_case_s {
  sinter_k_conv_shape_t s;
  int32_t x_signed, y_signed, wzp, bias;
} conv_case_t;

static int64_t out_dim(int64_t in, int64_t k, int64_t st, int64_t p0, int64_t p1, int64_t d) {
  return (in + p0 + p1 - d * (k - 1) - 1) / st + 1;
}

static void run_conv_case(conv_case_t cc) {
  sinter_k_conv_shape_t *s = &cc.s;
  s->OH = out_dim(s->H, s->KH, s->stride_h, s->pad_t, s->pad_b, s->dil_h);
  s->OW = out_dim(s->W, s->KW, s->stride_w, s->pad_l, s->pad_r, s->dil_w);
  int64_t cg = s->C / s->group, mg = s->M / s->group, taps = s->KH * s->KW;
  int64_t nx = s->C * s->H * s->W, nw = s->M * cg * taps, ny = s->M * s->OH * s->OW;
  uint8_t *x = xalloc((size_t)nx);
  int8_t *w = xalloc((size_t)nw);
  int32_t *wzp = xalloc((size_t)s->M * 4), *bias = xalloc((size_t)s->M * 4);
  float *mult = xalloc((size_t)s->M * 4);
  for (int64_t i = 0; i < nx; i++) x[i] = (uint8_t)rnd();
  for (int64_t i = 0; i < nw; i++) w[i] = (int8_t)rnd();
  int32_t x_zp = cc.x_signed ? rnd_in(-128, 127) : rnd_in(0, 255);
  int32_t y_zp = cc.y_signed ? rnd_in(-10, 10) : rnd_in(110, 140);
  for (int64_t m = 0; m < s->M; m++) {
    wzp[m] = cc.wzp ? rnd_in(-4, 4) : 0;
    bias[m] = rnd_in(-30000, 30000);
    mult[m] =
        (float)(1.0 / (16.0 * sqrt((double)(cg * taps)) * 128.0) * (0.5 + (rnd() % 1000) / 1000.0));
  }
  int32_t qmin = cc.y_signed ? -128 : 0, qmax = cc.y_signed ? 127 : 255;
  if (s->M > 2) qmin = y_zp; /* a fused Relu */
  uint8_t *want = xalloc((size_t)ny);
  for (int64_t m = 0; m < s->M; m++) {
    int64_t g = m / mg;
    for (int64_t oh = 0; oh < s->OH; oh++)
      for (int64_t ow = 0; ow < s->OW; ow++) {
        uint32_t acc = cc.bias ? (uint32_t)bias[m] : 0;
        for (int64_t ci = 0; ci < cg; ci++)
          for (int64_t kh = 0; kh < s->KH; kh++)
            for (int64_t kw = 0; kw < s->KW; kw++) {
              int64_t ih = oh * s->stride_h - s->pad_t + kh * s->dil_h;
              int64_t iw = ow * s->stride_w - s->pad_l + kw * s->dil_w;
              int32_t xv = x_zp; /* padding is the zero point */
              if (ih >= 0 && ih < s->H && iw >= 0 && iw < s->W)
                xv = ld8(x, ((g * cg + ci) * s->H + ih) * s->W + iw, cc.x_signed);
              int32_t wv = w[((m * cg + ci) * s->KH + kh) * s->KW + kw];
              acc += (uint32_t)(xv - x_zp) * (uint32_t)(wv - wzp[m]);
            }
        double p = (double)(int32_t)acc * (double)mult[m];
        double v = p + (double)y_zp;
        want[(m * s->OH + oh) * s->OW + ow] = (uint8_t)ref_rq(v, cc.y_signed, qmin, qmax);
      }
  }
  void *wp = xalloc(sinter_k_qconv2d_packed_size(s));
  sinter_k_qconv2d_pack(s, w, wzp, cc.bias ? bias : NULL, x_zp, cc.x_signed, wp);
  size_t ssz = sinter_k_qconv2d_scratch_size(s);
  void *scratch = xalloc(ssz ? ssz : 1);
  uint8_t *y = xalloc((size_t)ny);
  int nfn = have_vnni() ? 2 : 1;
  for (int f = 0; f < nfn; f++) {
    for (int t = 0; t < 2; t++) {
      memset(y, 0x5A, (size_t)ny);
      const sinter_art_exec_t *ex = t ? &kRevExec : NULL;
      if (f == 0)
        sinter_k_qconv2d(s, x, cc.x_signed, x_zp, wp, mult, y_zp, qmin, qmax, y, cc.y_signed,
                         scratch, ex);
      else
        sinter_k_qconv2d_vnni(s, x, cc.x_signed, x_zp, wp, mult, y_zp, qmin, qmax, y, cc.y_signed,
                              scratch, ex);
      char what[200];
      snprintf(what, sizeof what,
               "qconv %s%s C=%lld HxW=%lldx%lld M=%lld k=%lldx%lld s=%lld g=%lld xs=%d wzp=%d",
               f ? "vnni" : "portable", t ? " threaded" : "", (long long)s->C, (long long)s->H,
               (long long)s->W, (long long)s->M, (long long)s->KH, (long long)s->KW,
               (long long)s->stride_h, (long long)s->group, cc.x_signed, cc.wzp);
      expect_bytes(y, want, ny, what);
    }
  }
  free(x);
  free(w);
  free(wzp);
  free(bias);
  free(mult);
  free(want);
  free(wp);
  free(scratch);
  free(y);
}

/* C, H, W, M, OH, OW (computed), KH, KW, stride h/w, pads t/l/b/r, dilation h/w, group. */
#define SHAPE(C, H, W, M, KH, KW, S, PT, PL, PB, PR, D, G) \
  { C, H, W, M, 0, 0, KH, KW, S, S, PT, PL, PB, PR, D, D, G }

START_TEST(qconv_shapes) {
  conv_case_t cases[] = {
      {SHAPE(16, 5, 7, 24, 1, 1, 1, 0, 0, 0, 0, 1, 1), 0, 0, 0, 1},  /* 1x1 */
      {SHAPE(8, 9, 9, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1), 1, 1, 0, 1},   /* 3x3 pad 1 */
      {SHAPE(5, 11, 10, 7, 3, 3, 2, 0, 1, 1, 0, 1, 1), 0, 1, 1, 0},  /* stride 2, asym pads */
      {SHAPE(6, 12, 12, 9, 3, 3, 1, 2, 2, 2, 2, 2, 1), 1, 0, 1, 1},  /* dilation 2 */
      {SHAPE(4, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2), 0, 0, 0, 1},    /* 2 groups */
      {SHAPE(5, 9, 8, 5, 3, 3, 2, 1, 1, 1, 1, 1, 5), 0, 0, 1, 1},    /* depthwise s2 */
      {SHAPE(7, 6, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 7), 1, 1, 0, 0},    /* depthwise, signed */
      {SHAPE(3, 23, 23, 10, 7, 7, 2, 3, 3, 3, 3, 1, 1), 0, 0, 0, 1}, /* 7x7 stem */
      {SHAPE(2, 2, 3, 3, 5, 5, 1, 2, 2, 2, 2, 1, 1), 1, 1, 1, 1},    /* kernel > input */
      {SHAPE(32, 8, 8, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1), 0, 0, 0, 1},  /* several tiles */
      {SHAPE(1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1), 0, 0, 0, 0},    /* everything 1 */
      {SHAPE(3, 20, 300, 2, 1, 3, 1, 0, 1, 0, 1, 1, 2), 0, 0, 0, 1}, /* wide rows */
      {SHAPE(4, 4, 300, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4), 1, 0, 0, 1},  /* depthwise > 256 wide */
      {SHAPE(3, 5, 40, 3, 3, 5, 3, 2, 4, 1, 3, 1, 3), 0, 1, 1, 1},   /* depthwise stride 3 */
      /* depthwise whose kernel window (1201 columns) exceeds the row buffer */
      {{2, 2, 1300, 2, 0, 0, 1, 3, 1, 1, 0, 5, 0, 7, 1, 600, 2}, 1, 0, 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_conv_case(cases[i]);
}
END_TEST

/* ---- quantize / dequantize -------------------------------------------------------------- */

START_TEST(quantize_rounds_half_even_and_saturates) {
  enum { N = 40 };
  float x[N] = {0.0f, 0.5f,     1.5f,      2.5f,   -0.5f,  -1.5f,   -2.5f,  1000.0f,    -1000.0f,
                NAN,  INFINITY, -INFINITY, 127.5f, 128.5f, -128.5f, 254.5f, 0.49999997f};
  for (int i = 17; i < N; i++) x[i] = (float)((int32_t)(rnd() % 100000) - 50000) / 97.0f;
  const float scales[2] = {1.0f, 0.37f};
  for (int si = 0; si < 2; si++)
    for (int sgn = 0; sgn < 2; sgn++)
      for (int zi = 0; zi < 3; zi++) {
        int32_t zp = sgn ? (int32_t[]){0, -7, 100}[zi] : (int32_t[]){0, 128, 3}[zi];
        uint8_t want[N], got[N];
        for (int i = 0; i < N; i++) {
          /* ONNX: divide in f32, round half to even, add zp, saturate; NaN -> zp. */
          double q = (double)(x[i] / scales[si]);
          double r = (isnan(q) ? 0.0 : nearbyint(q)) + zp;
          double lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;
          want[i] = (uint8_t)(int32_t)(r < lo ? lo : r > hi ? hi : r);
        }
        for (int t = 0; t < 2; t++) {
          memset(got, 0x5A, N);
          sinter_k_quantize_f32(N, x, scales[si], zp, got, sgn, t ? &kRevExec : NULL);
          expect_bytes(got, want, N, "quantize");
        }
      }
}
END_TEST

START_TEST(dequantize_exact) {
  uint8_t x[256];
  for (int i = 0; i < 256; i++) x[i] = (uint8_t)i;
  float y[256];
  sinter_k_dequantize_f32(256, x, 0, 0.25f, 3, y, NULL);
  for (int i = 0; i < 256; i++) ck_assert_float_eq(y[i], (float)(i - 3) * 0.25f);
  sinter_k_dequantize_f32(256, x, 1, 0.1f, -5, y, &kRevExec);
  for (int i = 0; i < 256; i++) ck_assert_float_eq(y[i], (float)((int8_t)i + 5) * 0.1f);
}
END_TEST

/* ---- QLinearAdd / QLinearMul ------------------------------------------------------------ */

START_TEST(qbinary_broadcast) {
  /* out [3, 4, 5]; a [3, 1, 5] (broadcast on dim 1); b [4, 1] (dims 0 and 2). */
  int64_t dims[3] = {3, 4, 5}, as[3] = {5, 0, 1}, bs[3] = {0, 1, 0};
  uint8_t a[15], b[4];
  for (int i = 0; i < 15; i++) a[i] = (uint8_t)rnd();
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)rnd();
  for (int sgn = 0; sgn < 2; sgn++)
    for (int op = 0; op < 2; op++) {
      int32_t az = sgn ? -3 : 120, bz = sgn ? 7 : 130, yz = sgn ? 1 : 128;
      float ma = 0.37f, mb = 1.6f;
      if (op == 1) ma = 0.004f;
      int32_t qmin = sgn ? -100 : 0, qmax = sgn ? 127 : 200;
      uint8_t want[60], got[60];
      for (int64_t i0 = 0; i0 < 3; i0++)
        for (int64_t i1 = 0; i1 < 4; i1++)
          for (int64_t i2 = 0; i2 < 5; i2++) {
            int64_t qa = ld8(a, i0 * 5 + i2, sgn) - az, qb = ld8(b, i1, sgn) - bz;
            double v = op ? (double)(qa * qb) * (double)ma + (double)yz
                          : (double)qa * (double)ma + (double)qb * (double)mb + (double)yz;
            want[(i0 * 4 + i1) * 5 + i2] = (uint8_t)ref_rq(v, sgn, qmin, qmax);
          }
      for (int t = 0; t < 2; t++) {
        sinter_k_qbinary(op, 3, dims, a, as, az, ma, b, bs, bz, mb, yz, qmin, qmax, got, sgn,
                         t ? &kRevExec : NULL);
        expect_bytes(got, want, 60, op ? "qmul" : "qadd");
      }
    }
  /* rank 0: one element. 10 - 4 = 6, 6 * 0.5 + 1 = 4. */
  uint8_t a0 = 10, b0 = 4, y0 = 0;
  sinter_k_qbinary(0, 0, NULL, &a0, NULL, 4, 0.5f, &b0, NULL, 4, 3.0f, 1, 0, 255, &y0, 0, NULL);
  ck_assert_int_eq(y0, 4);
}
END_TEST

/* Same shapes, dense strides: the flat (vectorized) path, on a length that
 * is no multiple of any vector width, with every byte value present. */
START_TEST(qbinary_dense) {
  enum { N = 1031 };
  int64_t dims[2] = {1, N}, st[2] = {N, 1};
  static uint8_t a[N], b[N], want[N], got[N];
  for (int i = 0; i < N; i++) {
    a[i] = (uint8_t)(i < 256 ? i : rnd());
    b[i] = (uint8_t)(i < 256 ? 255 - i : rnd());
  }
  for (int sgn = 0; sgn < 2; sgn++)
    for (int op = 0; op < 2; op++) {
      int32_t az = sgn ? 5 : 131, bz = sgn ? -9 : 122, yz = sgn ? -2 : 126;
      float ma = op ? 0.0123f : 0.731f, mb = 1.37f;
      int32_t qmin = sgn ? -128 : yz, qmax = sgn ? 100 : 255;
      for (int i = 0; i < N; i++) {
        int64_t qa = ld8(a, i, sgn) - az, qb = ld8(b, i, sgn) - bz;
        double v = op ? (double)(qa * qb) * (double)ma + (double)yz
                      : (double)qa * (double)ma + (double)qb * (double)mb + (double)yz;
        want[i] = (uint8_t)ref_rq(v, sgn, qmin, qmax);
      }
      for (int t = 0; t < 2; t++) {
        memset(got, 0x5A, N);
        sinter_k_qbinary(op, 2, dims, a, st, az, ma, b, st, bz, mb, yz, qmin, qmax, got, sgn,
                         t ? &kRevExec : NULL);
        expect_bytes(got, want, N, op ? "qmul dense" : "qadd dense");
      }
    }
}
END_TEST

/* ---- QLinearGlobalAveragePool ----------------------------------------------------------- */

START_TEST(qgap_matches_reference) {
  enum { C = 9, HW = 49 };
  uint8_t x[C * HW], got[C], want[C];
  for (int i = 0; i < C * HW; i++) x[i] = (uint8_t)rnd();
  for (int sgn = 0; sgn < 2; sgn++) {
    int32_t xz = sgn ? -2 : 128, yz = sgn ? 3 : 120;
    float m = 0.83f;
    for (int c = 0; c < C; c++) {
      int64_t s = 0;
      for (int p = 0; p < HW; p++) s += ld8(x, c * HW + p, sgn) - xz;
      want[c] = (uint8_t)ref_rq((double)s * (double)m / (double)HW + (double)yz, sgn,
                                sgn ? -128 : 0, sgn ? 127 : 255);
    }
    sinter_k_qglobal_avgpool(C, HW, x, xz, m, yz, got, sgn, NULL);
    expect_bytes(got, want, C, "qgap");
    sinter_k_qglobal_avgpool(C, HW, x, xz, m, yz, got, sgn, &kRevExec);
    expect_bytes(got, want, C, "qgap threaded");
  }
  /* Hand check: mean of {0, 1, 2, 3} - 0 = 1.5, times 1, +0 rounds half to even: 2. */
  uint8_t h[4] = {0, 1, 2, 3}, o = 0;
  sinter_k_qglobal_avgpool(1, 4, h, 0, 1.0f, 0, &o, 0, NULL);
  ck_assert_int_eq(o, 2);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("kernels_int8");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, qgemm_shapes);
  tcase_add_test(tc, qgemm_wraps);
  tcase_add_test(tc, amx_probe_is_stable);
  tcase_add_test(tc, qconv_shapes);
  tcase_add_test(tc, quantize_rounds_half_even_and_saturates);
  tcase_add_test(tc, dequantize_exact);
  tcase_add_test(tc, qbinary_broadcast);
  tcase_add_test(tc, qbinary_dense);
  tcase_add_test(tc, qgap_matches_reference);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(suite());
}
