/* Tests for the natively compiled misc kernels (codegen/kernels/misc.c, pool.c,
 * norm.c, attention.c): each against a plain reference written here in
 * double, on odd shapes, plus bit-identity under a fake multi-thread exec. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/kernels.h"
#include "tests/support/act_ref.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static uint32_t rng_state = 12345u;

static float frand(float lo, float hi) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return lo + (hi - lo) * (float)(rng_state >> 8) / (float)(1u << 24);
}

static float *fbuf(int64_t n, float lo, float hi) {
  float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  ck_assert_ptr_nonnull(p);
  for (int64_t i = 0; i < n; i++) p[i] = frand(lo, hi);
  return p;
}

/* Distance in units in the last place of b (the reference), for finite b. */
static double ulps(float a, double b) {
  float bf = (float)b;
  double u = nextafterf(fabsf(bf), INFINITY) - fabsf(bf);
  return fabs((double)a - b) / u;
}

/* A fake exec: runs chunks of grain indices in reverse order, to show that
 * no kernel depends on the split or the order. */
static void reverse_parallel_for(const sinter_art_exec_t *exec, int64_t n, int64_t grain,
                                 sinter_art_task_fn fn, void *ctx) {
  (void)exec;
  if (grain < 1) grain = 1;
  int64_t chunks = (n + grain - 1) / grain;
  for (int64_t c = chunks - 1; c >= 0; c--) {
    int64_t b = c * grain, e = b + grain < n ? b + grain : n;
    fn(ctx, b, e);
  }
}

static int parallel_calls;

static void counting_parallel_for(const sinter_art_exec_t *exec, int64_t n, int64_t grain,
                                  sinter_art_task_fn fn, void *ctx) {
  parallel_calls++;
  reverse_parallel_for(exec, n, grain, fn, ctx);
}

static const sinter_art_exec_t kExec = {sizeof(sinter_art_exec_t), 4, counting_parallel_for, NULL};

/* ---- unary ------------------------------------------------------------------------------- */

START_TEST(test_exp_accuracy) {
  /* km_exp promises <= 2 ulp against exp in double over the normal range
   * (the header comment states it); subnormal results <= 1 ulp of the
   * smallest subnormal, plus the special values. */
  enum { N = 200003 };
  float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
  ck_assert(x && y);
  for (int i = 0; i < N; i++) x[i] = -104.0f + (88.72f + 104.0f) * (float)i / (float)(N - 1);
  sinter_k_unary_f32(SINTER_K_UN_EXP, N, x, y, 0, 0, NULL);
  double worst = 0;
  for (int i = 0; i < N; i++) {
    double ref = exp((double)x[i]);
    if (ref < FLT_MIN) {
      ck_assert_msg(fabs(y[i] - ref) <= 1.5e-45, "exp(%a) = %a, want %a", x[i], y[i], ref);
      continue;
    }
    double u = ulps(y[i], ref);
    if (u > worst) worst = u;
    ck_assert_msg(u <= 2.0, "exp(%a) = %a, want %a (%.2f ulp)", x[i], y[i], ref, u);
  }
  ck_assert(worst > 0); /* the comparison ran */
  float sp[8] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 89.0f, -200.0f, 1.0f}, out[8];
  sinter_k_unary_f32(SINTER_K_UN_EXP, 8, sp, out, 0, 0, NULL);
  ck_assert_float_eq(out[0], 1.0f);
  ck_assert_float_eq(out[1], 1.0f);
  ck_assert(isinf(out[2]) && out[2] > 0);
  ck_assert_float_eq(out[3], 0.0f);
  ck_assert(isnan(out[4]));
  ck_assert(isinf(out[5]) && out[5] > 0);
  ck_assert_float_eq(out[6], 0.0f);
  ck_assert(ulps(out[7], M_E) <= 1.0);
  free(x);
  free(y);
}
END_TEST


START_TEST(test_unary_ops) {
  static const int32_t ops[] = {SINTER_K_ACT_NONE,
                                SINTER_K_ACT_RELU,
                                SINTER_K_ACT_CLIP,
                                SINTER_K_ACT_LEAKY_RELU,
                                SINTER_K_ACT_SIGMOID,
                                SINTER_K_ACT_HARD_SIGMOID,
                                SINTER_K_ACT_HARD_SWISH,
                                SINTER_K_ACT_GELU,
                                SINTER_K_ACT_GELU_TANH,
                                SINTER_K_ACT_SILU,
                                SINTER_K_ACT_TANH,
                                SINTER_K_UN_NEG,
                                SINTER_K_UN_ABS,
                                SINTER_K_UN_EXP,
                                SINTER_K_UN_LOG,
                                SINTER_K_UN_SQRT,
                                SINTER_K_UN_RECIPROCAL,
                                SINTER_K_UN_ERF,
                                SINTER_K_UN_FLOOR,
                                SINTER_K_UN_CEIL,
                                SINTER_K_UN_COS,
                                SINTER_K_UN_SIN,
                                55 /* unknown: identity */};
  static const int64_t sizes[] = {0, 1, 15, 16, 37, 1000};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    int32_t op = ops[o];
    float p0 = op == SINTER_K_ACT_CLIP ? -0.5f : op == SINTER_K_ACT_LEAKY_RELU ? 0.1f : 0.2f;
    float p1 = op == SINTER_K_ACT_CLIP ? 0.75f : 0.5f;
    int positive = op == SINTER_K_UN_LOG || op == SINTER_K_UN_SQRT;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
      int64_t n = sizes[si];
      float *x = fbuf(n + 1, positive ? 0.01f : -6.0f, 6.0f);
      float *y = fbuf(n + 1, 0, 1);
      float sentinel = y[n];
      sinter_k_unary_f32(op, n, x, y, p0, p1, NULL);
      for (int64_t i = 0; i < n; i++) {
        double ref = act_ref(x[i], op, p0, p1);
        /* libm-class float functions: a few ulp, or 2e-7 absolute near 0
         * (GELU/erf/sin results that cancel). */
        double tol = 4 * (nextafterf(fabsf((float)ref), INFINITY) - fabsf((float)ref)) + 2e-7;
        ck_assert_msg(fabs(y[i] - ref) <= tol, "op %d x %a: %a, want %a", op, x[i], y[i], ref);
      }
      ck_assert_float_eq(y[n], sentinel);
      /* In place gives the same. */
      float *z = malloc(sizeof(float) * (size_t)(n + 1));
      memcpy(z, x, sizeof(float) * (size_t)(n + 1));
      sinter_k_unary_f32(op, n, z, z, p0, p1, NULL);
      ck_assert(n == 0 || memcmp(z, y, sizeof(float) * (size_t)n) == 0);
      free(x);
      free(y);
      free(z);
    }
  }
  /* NaN passes through ReLU, as the interpreter's. */
  float v[2] = {NAN, -1.0f};
  sinter_k_unary_f32(SINTER_K_ACT_RELU, 2, v, v, 0, 0, NULL);
  ck_assert(isnan(v[0]));
  ck_assert_float_eq(v[1], 0.0f);
}
END_TEST

/* ---- binary ------------------------------------------------------------------------------ */

static double ref_bin(int32_t op, float x, float y) {
  switch (op) {
    case SINTER_K_BIN_ADD: return (double)x + y;
    case SINTER_K_BIN_SUB: return (double)x - y;
    case SINTER_K_BIN_MUL: return (double)x * y;
    case SINTER_K_BIN_DIV: return (double)x / y;
    case SINTER_K_BIN_MAX: return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
    case SINTER_K_BIN_MIN: return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
    default: return pow(x, y);
  }
}

typedef struct bcase_s {
  int32_t rank;
  int64_t dims[4], as[4], bs[4];
  int64_t asz, bsz; /* elements allocated for a and b */
} bcase_t;

static void check_binary(const bcase_t *t, int32_t op, int32_t act) {
  int64_t numel = 1;
  for (int32_t d = 0; d < t->rank; d++) numel *= t->dims[d];
  float lo = op == SINTER_K_BIN_POW ? 0.1f : -3.0f;
  float *a = fbuf(t->asz, lo, 3.0f), *b = fbuf(t->bsz, lo, 3.0f), *out = fbuf(numel, 0, 1);
  if (op == SINTER_K_BIN_MAX || op == SINTER_K_BIN_MIN) {
    a[0] = NAN;
    b[t->bsz - 1] = NAN;
  }
  sinter_k_binary_f32(op, t->rank, t->dims, a, t->as, b, t->bs, out, act, 0, 0, NULL);
  int64_t idx[4] = {0};
  for (int64_t i = 0; i < numel; i++) {
    int64_t ao = 0, bo = 0;
    for (int32_t d = 0; d < t->rank; d++) {
      ao += idx[d] * t->as[d];
      bo += idx[d] * t->bs[d];
    }
    double ref = ref_bin(op, a[ao], b[bo]);
    float want = (float)ref;
    if (act == SINTER_K_ACT_RELU && want < 0) want = 0;
    if (op == SINTER_K_BIN_POW) {
      /* powf: within 1 ulp of the double result. */
      ck_assert_msg(ulps(out[i], want) <= 1.0, "pow %a %a = %a want %a", a[ao], b[bo], out[i], ref);
    } else if (isnan(want)) {
      ck_assert_msg(isnan(out[i]), "op %d at %ld: %a, want NaN", op, (long)i, out[i]);
    } else {
      /* One correctly rounded f32 operation: exact. */
      ck_assert_msg(out[i] == want, "op %d at %ld: %a, want %a", op, (long)i, out[i], want);
    }
    for (int32_t d = t->rank - 1; d >= 0; d--) {
      if (++idx[d] < t->dims[d]) break;
      idx[d] = 0;
    }
  }
  free(a);
  free(b);
  free(out);
}

START_TEST(test_binary) {
  const bcase_t cases[] = {
      /* same shape, contiguous, one row longer than the 2048 chunk */
      {2, {3, 5000}, {5000, 1}, {5000, 1}, 15000, 15000},
      /* per-channel broadcast [C,1] against [C,HW] */
      {2, {7, 33}, {33, 1}, {1, 0}, 231, 7},
      /* scalar b */
      {3, {2, 3, 17}, {51, 17, 1}, {0, 0, 0}, 102, 1},
      /* scalar a */
      {1, {19}, {0}, {1}, 1, 19},
      /* outer product [M,1] x [1,N] */
      {2, {5, 9}, {1, 0}, {0, 1}, 5, 9},
      /* transposed a (strides reversed), broadcast b along the middle */
      {3, {4, 3, 6}, {1, 24, 4}, {6, 0, 1}, 72, 24},
      /* unit dims everywhere */
      {4, {1, 6, 1, 1}, {6, 1, 1, 1}, {0, 1, 0, 0}, 6, 6},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int32_t op = SINTER_K_BIN_ADD; op <= SINTER_K_BIN_POW; op++) {
      check_binary(&cases[c], op, SINTER_K_ACT_NONE);
      check_binary(&cases[c], op, SINTER_K_ACT_RELU);
    }
  /* pow with a scalar exponent 2 takes the x*x path: exact. */
  float x[20], two = 2.0f, y[20];
  for (int i = 0; i < 20; i++) x[i] = frand(-5, 5);
  int64_t dims[1] = {20}, s1[1] = {1}, s0[1] = {0};
  sinter_k_binary_f32(SINTER_K_BIN_POW, 1, dims, x, s1, &two, s0, y, 0, 0, 0, NULL);
  for (int i = 0; i < 20; i++) ck_assert(y[i] == x[i] * x[i]);
  /* In place on a (out == a, not broadcast). */
  float a[20], b[20];
  for (int i = 0; i < 20; i++) {
    a[i] = (float)i;
    b[i] = 0.5f;
  }
  sinter_k_binary_f32(SINTER_K_BIN_SUB, 1, dims, a, s1, b, s1, a, SINTER_K_ACT_NONE, 0, 0, NULL);
  for (int i = 0; i < 20; i++) ck_assert_float_eq(a[i], (float)i - 0.5f);
}
END_TEST

/* ---- copy and gather --------------------------------------------------------------------- */

static void check_copy(int64_t esz, int32_t rank, const int64_t *dims, const int64_t *ss,
                       int64_t s_off, const int64_t *ds, int64_t src_n, int64_t dst_n) {
  unsigned char *src = malloc((size_t)(src_n * esz)), *dst = malloc((size_t)(dst_n * esz));
  unsigned char *want = malloc((size_t)(dst_n * esz));
  ck_assert(src && dst && want);
  for (int64_t i = 0; i < src_n * esz; i++) src[i] = (unsigned char)(i * 7 + 3);
  memset(dst, 0xAB, (size_t)(dst_n * esz));
  memset(want, 0xAB, (size_t)(dst_n * esz));
  int64_t numel = 1;
  for (int32_t d = 0; d < rank; d++) numel *= dims[d];
  int64_t idx[8] = {0};
  for (int64_t i = 0; i < numel; i++) {
    int64_t so = s_off, dof = 0;
    for (int32_t d = 0; d < rank; d++) {
      so += idx[d] * ss[d];
      dof += idx[d] * ds[d];
    }
    memcpy(want + dof * esz, src + so * esz, (size_t)esz);
    for (int32_t d = rank - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
  sinter_k_copy_strided(esz, rank, dims, src + s_off * esz, ss, dst, ds, NULL);
  ck_assert_msg(memcmp(dst, want, (size_t)(dst_n * esz)) == 0, "copy esz %ld rank %d differs",
                (long)esz, rank);
  free(src);
  free(dst);
  free(want);
}

START_TEST(test_copy_strided) {
  static const int64_t sizes[] = {1, 2, 4, 8, 3};
  for (size_t e = 0; e < 5; e++) {
    int64_t esz = sizes[e];
    /* Transpose [2,3,5] -> perm (2,0,1): dst dense [5,2,3]. */
    int64_t td[3] = {5, 2, 3}, ts[3] = {1, 15, 5}, tds[3] = {6, 3, 1};
    check_copy(esz, 3, td, ts, 0, tds, 30, 30);
    /* The same written as a scatter: contiguous source rows, strided destination. */
    int64_t ud[3] = {2, 3, 5}, us[3] = {15, 5, 1}, uds[3] = {3, 1, 6};
    check_copy(esz, 3, ud, us, 0, uds, 30, 30);
    /* Slice with step 2 and a negative step along the last dim. */
    int64_t sd[2] = {3, 4}, ss[2] = {20, -2}, sds[2] = {4, 1};
    check_copy(esz, 2, sd, ss, 9, sds, 60, 12);
    /* Expand [3,1] -> [3,7]. */
    int64_t ed[2] = {3, 7}, es[2] = {1, 0}, eds[2] = {7, 1};
    check_copy(esz, 2, ed, es, 0, eds, 3, 21);
    /* One Concat input [2,3,4] into [2,5,4] at offset 0 (contiguous runs of 12). */
    int64_t cd[3] = {2, 3, 4}, cs[3] = {12, 4, 1}, cds[3] = {20, 4, 1};
    check_copy(esz, 3, cd, cs, 0, cds, 24, 40);
    /* Rank 0: one element. */
    check_copy(esz, 0, NULL, NULL, 2, NULL, 5, 1);
  }
}
END_TEST

START_TEST(test_gather) {
  /* data [outer 2, axis 5, inner 3] of float; indices with negatives and
   * out-of-range entries (zeros). */
  float data[30];
  for (int i = 0; i < 30; i++) data[i] = (float)(i + 1);
  const int64_t idx64[4] = {4, -1, 0, 7};
  const int32_t idx32[4] = {4, -1, 0, -6};
  float out[2 * 4 * 3];
  for (int w = 0; w < 2; w++) {
    memset(out, 0x7F, sizeof out);
    sinter_k_gather(4, 2, 5, 3, data, w ? (const void *)idx64 : (const void *)idx32, w, 4, out,
                    NULL);
    for (int o = 0; o < 2; o++)
      for (int j = 0; j < 4; j++)
        for (int i = 0; i < 3; i++) {
          int64_t k = w ? idx64[j] : idx32[j];
          if (k < 0) k += 5;
          float want = k < 0 || k >= 5 ? 0.0f : data[(o * 5 + k) * 3 + i];
          ck_assert_float_eq(out[(o * 4 + j) * 3 + i], want);
        }
  }
  /* Bytes, inner 1: a 1-D table lookup. */
  const uint8_t tab[6] = {10, 11, 12, 13, 14, 15};
  const int64_t ix[5] = {5, 0, -2, 2, 2};
  uint8_t got[5];
  sinter_k_gather(1, 1, 6, 1, tab, ix, 1, 5, got, NULL);
  const uint8_t want[5] = {15, 10, 14, 12, 12};
  ck_assert_mem_eq(got, want, 5);
}
END_TEST

/* ---- pooling ----------------------------------------------------------------------------- */

static const sinter_k_pool_shape_t kPools[] = {
    /* C, H, W, OH, OW, KH, KW, sh, sw, pt, pl, pb, pr, dh, dw, cip */
    {3, 12, 12, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}, /* resnet stem max pool */
    {2, 7, 9, 3, 4, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},   /* 2x2 s2, odd input */
    {2, 8, 11, 8, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* 3x3 s1 same, include pad */
    {1, 9, 10, 5, 4, 3, 2, 2, 3, 2, 0, 1, 2, 2, 2, 0},  /* dilated, asymmetric pads */
    {2, 5, 5, 3, 3, 2, 2, 2, 2, 0, 0, 1, 1, 1, 1, 1},   /* ceil-mode overhang */
    {1, 2, 3, 2, 3, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 0},   /* kernel larger than input */
    {2, 3, 40, 1, 13, 3, 4, 1, 3, 0, 1, 0, 1, 1, 1, 1}, /* wide rows, stride 3 */
    {1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},   /* windows of pure padding */
    /* Rows wide enough for the 16-column vector blocks (and an overlapping last block). */
    {2, 5, 70, 3, 35, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},  /* stride 2 */
    {1, 4, 37, 4, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* stride 1, include pad */
    {1, 3, 100, 1, 33, 3, 3, 1, 3, 0, 0, 0, 0, 1, 1, 0}, /* stride 3 */
    {1, 6, 80, 2, 39, 2, 3, 2, 2, 0, 1, 0, 1, 2, 2, 1},  /* dilated, stride 2 */
    /* Rows wide enough for the 8-bit forms' 64-column vectors. */
    {2, 9, 112, 5, 56, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},    /* resnet18 max pool rows */
    {1, 3, 150, 3, 150, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},   /* stride 1, short last block */
    {1, 2, 200, 1, 100, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},   /* stride 2, two output blocks */
    {1, 4, 132, 3, 66, 2, 3, 1, 2, 0, 2, 0, 2, 1, 3, 0},    /* odd dilation, ceil overhang */
    {1, 2, 5000, 1, 5000, 2, 3, 1, 1, 0, 1, 0, 1, 1, 1, 0}, /* too wide for the row buffer */
    {1, 7, 64, 4, 31, 2, 4, 3, 2, 2, 0, 2, 0, 1, 1, 0},     /* W = 64, pure-padding rows */
};

/* Window taps of one output, in (kh, kw) order; returns the count inside. */
static int taps(const sinter_k_pool_shape_t *s, int64_t oh, int64_t ow, int64_t *ih, int64_t *iw,
                int64_t *padded) {
  int n = 0;
  int64_t ph = 0, pw = 0;
  for (int64_t kh = 0; kh < s->KH; kh++) {
    int64_t h = oh * s->stride_h - s->pad_t + kh * s->dil_h;
    if (h < s->H + s->pad_b) ph++;
    for (int64_t kw = 0; kw < s->KW; kw++) {
      int64_t w = ow * s->stride_w - s->pad_l + kw * s->dil_w;
      if (kh == 0 && w < s->W + s->pad_r) pw++;
      if (h >= 0 && h < s->H && w >= 0 && w < s->W) {
        ih[n] = h;
        iw[n] = w;
        n++;
      }
    }
  }
  *padded = ph * pw;
  return n;
}

START_TEST(test_pools) {
  for (size_t p = 0; p < sizeof kPools / sizeof kPools[0]; p++) {
    const sinter_k_pool_shape_t *s = &kPools[p];
    int64_t xn = s->C * s->H * s->W, yn = s->C * s->OH * s->OW;
    float *x = fbuf(xn, -4, 4), *y = fbuf(yn, 0, 1), *ya = fbuf(yn, 0, 1);
    uint8_t *xu = malloc((size_t)xn), *yu = malloc((size_t)yn);
    int8_t *xi = malloc((size_t)xn), *yi = malloc((size_t)yn);
    for (int64_t i = 0; i < xn; i++) {
      xu[i] = (uint8_t)(frand(0, 256));
      xi[i] = (int8_t)(xu[i] ^ 0x80);
    }
    if (p == 0) x[5] = NAN; /* a NaN first tap wins, a later one does not */
    sinter_k_maxpool2d_f32(s, x, y, NULL);
    sinter_k_avgpool2d_f32(s, x, ya, NULL);
    sinter_k_maxpool2d_u8(s, xu, yu, NULL);
    sinter_k_maxpool2d_i8(s, xi, yi, NULL);
    int64_t ih[64], iw[64];
    for (int64_t c = 0; c < s->C; c++)
      for (int64_t oh = 0; oh < s->OH; oh++)
        for (int64_t ow = 0; ow < s->OW; ow++) {
          int64_t padded;
          int n = taps(s, oh, ow, ih, iw, &padded);
          const float *xc = x + c * s->H * s->W;
          float best = -INFINITY;
          int bu = 0, bi = -128;
          double sum = 0, sabs = 0;
          for (int t = 0; t < n; t++) {
            int64_t at = ih[t] * s->W + iw[t];
            float v = xc[at];
            if (t == 0 || v > best) best = v;
            if (xu[c * s->H * s->W + at] > bu) bu = xu[c * s->H * s->W + at];
            if (xi[c * s->H * s->W + at] > bi) bi = xi[c * s->H * s->W + at];
            sum += v;
            sabs += fabs(v);
          }
          int64_t o = (c * s->OH + oh) * s->OW + ow;
          if (isnan(best))
            ck_assert(isnan(y[o]));
          else
            ck_assert_msg(y[o] == best, "pool %zu max at %ld: %g want %g", p, (long)o, y[o], best);
          ck_assert_int_eq(yu[o], bu);
          ck_assert_int_eq(yi[o], bi);
          int64_t cnt = s->count_include_pad ? padded : n;
          if (isnan(sum)) continue;
          double want = cnt ? sum / (double)cnt : 0.0;
          /* f32 sums of at most KH*KW terms: error <= KH*KW ulp of sum |x|. */
          double tol = (double)(s->KH * s->KW) * FLT_EPSILON * (sabs / (cnt ? cnt : 1)) + 1e-30;
          ck_assert_msg(fabs(ya[o] - want) <= tol, "pool %zu avg at %ld: %g want %g", p, (long)o,
                        ya[o], want);
        }
    free(x);
    free(y);
    free(ya);
    free(xu);
    free(yu);
    free(xi);
    free(yi);
  }
}
END_TEST

START_TEST(test_global_avgpool) {
  static const int64_t hws[] = {1, 7, 49, 3143};
  for (size_t k = 0; k < 4; k++) {
    int64_t C = 5, HW = hws[k];
    float *x = fbuf(C * HW, -2, 3), y[5];
    sinter_k_global_avgpool_f32(C, HW, x, y, NULL);
    for (int64_t c = 0; c < C; c++) {
      double s = 0, sa = 0;
      for (int64_t i = 0; i < HW; i++) {
        s += x[c * HW + i];
        sa += fabs(x[c * HW + i]);
      }
      /* 32 lanes of f32 partial sums: error <= (HW/32 + 5) ulp of the mean |x|, plus the
       * final rounding. */
      double tol = ((double)HW / 32 + 6) * FLT_EPSILON * sa / (double)HW;
      ck_assert_msg(fabs(y[c] - s / (double)HW) <= tol, "HW %ld: %g want %g", (long)HW, y[c],
                    s / (double)HW);
    }
    free(x);
  }
}
END_TEST

/* ---- softmax and norms ------------------------------------------------------------------- */

START_TEST(test_softmax) {
  static const int64_t ns[] = {1, 7, 16, 33, 1000};
  for (size_t k = 0; k < 5; k++)
    for (int32_t lg = 0; lg < 2; lg++) {
      int64_t rows = 3, n = ns[k];
      float *x = fbuf(rows * n, -8, 8), *y = fbuf(rows * n, 0, 1);
      for (int64_t i = 0; i < n; i++) x[n + i] += 1000.0f; /* needs the max subtracted */
      if (n > 2) x[2 * n + 1] = -INFINITY;                 /* a masked entry */
      sinter_k_softmax_f32(rows, n, x, y, lg, NULL);
      for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++) mx = xr[i] > mx ? xr[i] : mx;
        for (int64_t i = 0; i < n; i++) sum += exp((double)xr[i] - mx);
        for (int64_t i = 0; i < n; i++) {
          double p = exp((double)xr[i] - mx) / sum, got = y[r * n + i];
          if (lg) {
            double want = ((double)xr[i] - mx) - log(sum);
            if (isinf(want)) {
              ck_assert(isinf(got) && got < 0);
              continue;
            }
            /* x - max is exact-ish in f32 (one rounding), log(sum) in double rounded: a few
             * ulp of |x - max| + |log sum|. */
            double tol = 4 * FLT_EPSILON * (fabs((double)xr[i] - mx) + fabs(log(sum))) + 1e-7;
            ck_assert_msg(fabs(got - want) <= tol, "log n %ld: %g want %g", (long)n, got, want);
          } else {
            /* exp within 2 ulp, the division and the sum: 4 ulp relative, 1e-30 for 0. */
            ck_assert_msg(fabs(got - p) <= 4 * FLT_EPSILON * p + 1e-30, "n %ld: %g want %g",
                          (long)n, got, p);
          }
        }
      }
      free(x);
      free(y);
    }
  /* NaN in a row makes the row NaN, as the interpreter's; other rows unaffected. */
  float x[6] = {1, NAN, 2, 1, 2, 3}, y[6];
  sinter_k_softmax_f32(2, 3, x, y, 0, NULL);
  for (int i = 0; i < 3; i++) ck_assert(isnan(y[i]));
  for (int i = 3; i < 6; i++) ck_assert(!isnan(y[i]));
}
END_TEST

START_TEST(test_layernorm_rmsnorm) {
  static const int64_t ns[] = {1, 5, 16, 37, 768};
  for (size_t k = 0; k < 5; k++)
    for (int with_bias = 0; with_bias < 2; with_bias++) {
      int64_t rows = 3, n = ns[k];
      float *x = fbuf(rows * n, -2, 2), *sc = fbuf(n, 0.5f, 1.5f), *bi = fbuf(n, -1, 1);
      float *y = fbuf(rows * n, 0, 1), *yr = fbuf(rows * n, 0, 1);
      /* Row 1 sits on a large offset: a one-pass variance would cancel. */
      for (int64_t i = 0; i < n; i++) x[n + i] += 1000.0f;
      float eps = 1e-5f;
      sinter_k_layernorm_f32(rows, n, x, sc, with_bias ? bi : NULL, eps, y, NULL);
      sinter_k_rmsnorm_f32(rows, n, x, sc, eps, yr, NULL);
      for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double mean = 0, var = 0, ms = 0;
        for (int64_t i = 0; i < n; i++) mean += xr[i];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++) {
          var += (xr[i] - mean) * (xr[i] - mean);
          ms += (double)xr[i] * xr[i];
        }
        double inv = 1 / sqrt(var / (double)n + eps), rinv = 1 / sqrt(ms / (double)n + eps);
        for (int64_t i = 0; i < n; i++) {
          double z = (xr[i] - mean) * inv;
          double want = z * sc[i] + (with_bias ? bi[i] : 0);
          /* f32 products of the normalized value (|z| <= sqrt(n)) and scale: a few ulp of
           * |z| |scale| + |bias|, plus the mean's f32 error relative to the row's spread. */
          double tol = 8 * FLT_EPSILON * (fabs(z) * sc[i] + fabs(bi[i]) + 1);
          ck_assert_msg(fabs(y[r * n + i] - want) <= tol, "ln n %ld r %ld: %.9g want %.9g", (long)n,
                        (long)r, y[r * n + i], want);
          double rw = xr[i] * rinv * sc[i];
          ck_assert_msg(fabs(yr[r * n + i] - rw) <= 4 * FLT_EPSILON * fabs(rw) + 1e-30,
                        "rms n %ld: %.9g want %.9g", (long)n, yr[r * n + i], rw);
        }
      }
      free(x);
      free(sc);
      free(bi);
      free(y);
      free(yr);
    }
}
END_TEST

/* ---- attention --------------------------------------------------------------------------- */

typedef struct acase_s {
  int64_t heads, Sq, Sk, D, Dv;
  int use_mask, causal, packed; /* packed: heads interleaved in rows (bse layout) */
  int mask_full; /* mask [2, Sq, Sk] stored transposed (si = 1, sj = Sq), else [2, 1, Sk] */
} acase_t;

static void check_attention(const acase_t *t, const sinter_art_exec_t *exec, float *out_copy) {
  int64_t H = t->heads, Sq = t->Sq, Sk = t->Sk, D = t->D, Dv = t->Dv;
  /* bhsd: head h at h * S * D, ld D; bse: head h at h * D, ld H * D. */
  int64_t q_ld = t->packed ? H * D : D, k_ld = q_ld, v_ld = t->packed ? H * Dv : Dv;
  int64_t y_ld = t->packed ? H * Dv : Dv;
  int64_t q_off[8], k_off[8], v_off[8], y_off[8], m_off[8];
  for (int64_t h = 0; h < H; h++) {
    q_off[h] = t->packed ? h * D : h * Sq * D;
    k_off[h] = t->packed ? h * D : h * Sk * D;
    v_off[h] = t->packed ? h * Dv : h * Sk * Dv;
    y_off[h] = t->packed ? h * Dv : h * Sq * Dv;
    m_off[h] = (h % 2) * (t->mask_full ? Sq * Sk : Sk);
  }
  int64_t m_si = t->mask_full ? 1 : 0, m_sj = t->mask_full ? Sq : 1;
  float *q = fbuf(H * Sq * D, -1, 1), *k = fbuf(H * Sk * D + 1, -1, 1);
  float *v = fbuf(H * Sk * Dv + 1, -2, 2), *mask = fbuf(2 * Sq * Sk + 1, -3, 0);
  float *y = fbuf(H * Sq * Dv, 0, 1);
  if (Sk > 2) mask[1] = -INFINITY;
  float scale = 1.0f / sqrtf((float)D);
  sinter_k_attention_f32(H, Sq, Sk, D, Dv, q, q_off, q_ld, k, k_off, k_ld, v, v_off, v_ld,
                         t->use_mask ? mask : NULL, m_off, m_si, m_sj, scale, t->causal, y, y_off,
                         y_ld, exec);
  if (out_copy) {
    memcpy(out_copy, y, sizeof(float) * (size_t)(H * Sq * Dv));
  } else {
    double s[256];
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < Sq; i++) {
        int64_t lim = t->causal && i + 1 < Sk ? i + 1 : Sk;
        double mx = -INFINITY, sum = 0, vmax = 0;
        for (int64_t j = 0; j < lim; j++) {
          double d = 0;
          for (int64_t e = 0; e < D; e++)
            d += (double)q[q_off[h] + i * q_ld + e] * k[k_off[h] + j * k_ld + e];
          s[j] = d * scale + (t->use_mask ? mask[m_off[h] + i * m_si + j * m_sj] : 0);
          mx = s[j] > mx ? s[j] : mx;
        }
        for (int64_t j = 0; j < lim; j++) sum += exp(s[j] - mx);
        for (int64_t e = 0; e < Dv; e++) {
          double want = 0;
          for (int64_t j = 0; j < lim; j++) {
            double vv = v[v_off[h] + j * v_ld + e];
            want += exp(s[j] - mx) / sum * vv;
            vmax = fabs(vv) > vmax ? fabs(vv) : vmax;
          }
          float got = y[y_off[h] + i * y_ld + e];
          /* Scores carry ~D ulp of sum |q k| (<= D) into exp; the weighted sum of V is a
           * convex combination: 1e-5 of max |V| covers both with margin. */
          double tol = Sk ? 1e-5 * vmax + 1e-6 : 0;
          ck_assert_msg(fabs(got - want) <= tol, "attn h %ld i %ld e %ld: %g want %g", (long)h,
                        (long)i, (long)e, got, want);
        }
      }
  }
  free(q);
  free(k);
  free(v);
  free(mask);
  free(y);
}

static const acase_t kAttn[] = {
    {3, 5, 7, 20, 17, 0, 0, 0, 0},    {3, 5, 7, 20, 17, 1, 0, 0, 0}, {2, 9, 9, 16, 16, 0, 1, 0, 0},
    {4, 6, 40, 64, 48, 1, 1, 1, 0},   {2, 3, 0, 8, 5, 0, 0, 0, 0},   {1, 1, 1, 1, 1, 0, 0, 0, 0},
    {2, 33, 200, 33, 31, 1, 0, 1, 0}, {3, 7, 19, 24, 8, 1, 1, 0, 1},
};

START_TEST(test_attention) {
  for (size_t c = 0; c < sizeof kAttn / sizeof kAttn[0]; c++)
    check_attention(&kAttn[c], NULL, NULL);
}
END_TEST

/* ---- cast -------------------------------------------------------------------------------- */

START_TEST(test_cast_by_hand) {
  /* f32 -> ints: truncation toward zero, NaN -> 0, saturation to int64 then
   * wrapping to the width (the interpreter's rules); bool is x != 0. */
  const float f[8] = {2.9f, -2.9f, 300.7f, -1.5f, NAN, 1e10f, -0.0f, 1e30f};
  int32_t i32[8];
  uint8_t u8[8], bl[8];
  int8_t i8[8];
  int64_t i64[8];
  sinter_k_cast(8, f, SINTER_ART_F32, i32, SINTER_ART_I32, NULL);
  sinter_k_cast(8, f, SINTER_ART_F32, u8, SINTER_ART_U8, NULL);
  sinter_k_cast(8, f, SINTER_ART_F32, i8, SINTER_ART_I8, NULL);
  sinter_k_cast(8, f, SINTER_ART_F32, i64, SINTER_ART_I64, NULL);
  sinter_k_cast(8, f, SINTER_ART_F32, bl, SINTER_ART_BOOL, NULL);
  /* 1e10f = 10000000000 exactly; mod 2^32 = 1410065408; 300 mod 256 = 44; -1 -> 255;
   * 300 as i8 = 44; 1e30 saturates to INT64_MAX, whose low 32 bits are -1. */
  const int32_t w32[8] = {2, -2, 300, -1, 0, 1410065408, 0, -1};
  const uint8_t wu8[8] = {2, 254, 44, 255, 0, 0, 0, 255};
  const int8_t wi8[8] = {2, -2, 44, -1, 0, 0, 0, -1};
  const int64_t w64[8] = {2, -2, 300, -1, 0, 10000000000LL, 0, INT64_MAX};
  const uint8_t wbl[8] = {1, 1, 1, 1, 1, 1, 0, 1};
  ck_assert_mem_eq(i32, w32, sizeof w32);
  ck_assert_mem_eq(u8, wu8, sizeof wu8);
  ck_assert_mem_eq(i8, wi8, sizeof wi8);
  ck_assert_mem_eq(i64, w64, sizeof w64);
  ck_assert_mem_eq(bl, wbl, sizeof wbl);
  /* ints -> f32 round once; u64 beyond INT64_MAX; bool bytes other than 1 read true. */
  const int64_t big[2] = {16777217, -9007199254740993LL};
  float fb[2];
  sinter_k_cast(2, big, SINTER_ART_I64, fb, SINTER_ART_F32, NULL);
  ck_assert_float_eq(fb[0], 16777216.0f);
  ck_assert_float_eq(fb[1], -9007199254740992.0f);
  const uint64_t ub[1] = {UINT64_MAX};
  double db[1];
  sinter_k_cast(1, ub, SINTER_ART_U64, db, SINTER_ART_F64, NULL);
  ck_assert(db[0] == 18446744073709551616.0);
  const float f64src[2] = {1e19f, -1.0f};
  uint64_t u64[2];
  sinter_k_cast(2, f64src, SINTER_ART_F32, u64, SINTER_ART_U64, NULL);
  ck_assert(u64[0] == (uint64_t)1e19f);
  ck_assert(u64[1] == UINT64_MAX);
  const uint8_t b[4] = {0, 1, 2, 255};
  float fbool[4];
  int32_t ibool[4];
  uint8_t bb[4];
  sinter_k_cast(4, b, SINTER_ART_BOOL, fbool, SINTER_ART_F32, NULL);
  sinter_k_cast(4, b, SINTER_ART_BOOL, ibool, SINTER_ART_I32, NULL);
  sinter_k_cast(4, b, SINTER_ART_BOOL, bb, SINTER_ART_BOOL, NULL);
  for (int i = 0; i < 4; i++) {
    ck_assert_float_eq(fbool[i], i ? 1.0f : 0.0f);
    ck_assert_int_eq(ibool[i], i ? 1 : 0);
  }
  ck_assert_mem_eq(bb, b, 4); /* same dtype: a plain copy, as the interpreter */
  const int32_t neg[3] = {-1, 65537, 128};
  uint16_t u16[3];
  int8_t n8[3];
  double nd[3];
  sinter_k_cast(3, neg, SINTER_ART_I32, u16, SINTER_ART_U16, NULL);
  sinter_k_cast(3, neg, SINTER_ART_I32, n8, SINTER_ART_I8, NULL);
  sinter_k_cast(3, neg, SINTER_ART_I32, nd, SINTER_ART_F64, NULL);
  ck_assert_uint_eq(u16[0], 65535);
  ck_assert_uint_eq(u16[1], 1);
  ck_assert_int_eq(n8[2], -128);
  ck_assert(nd[1] == 65537.0);
  const double dd[2] = {-7.99, 1e300};
  int16_t i16[2];
  sinter_k_cast(2, dd, SINTER_ART_F64, i16, SINTER_ART_I16, NULL);
  ck_assert_int_eq(i16[0], -7);
  ck_assert_int_eq(i16[1], -1); /* INT64_MAX's low 16 bits */
}
END_TEST

/* ---- threading --------------------------------------------------------------------------- */

#define SAME(a, b, n)                                              \
  ck_assert_msg(memcmp((a), (b), sizeof(*(a)) * (size_t)(n)) == 0, \
                "threaded result differs at line %d", __LINE__)

START_TEST(test_threads_bit_identical) {
  parallel_calls = 0;
  const sinter_art_exec_t *ex = &kExec;
  /* unary exp over many blocks */
  int64_t n = 100003;
  float *x = fbuf(n, -20, 20), *a = fbuf(n, 0, 1), *b = fbuf(n, 0, 1);
  sinter_k_unary_f32(SINTER_K_UN_EXP, n, x, a, 0, 0, NULL);
  sinter_k_unary_f32(SINTER_K_UN_EXP, n, x, b, 0, 0, ex);
  SAME(a, b, n);
  /* binary with broadcast and an epilogue */
  int64_t dims[2] = {49, 2001}, s1[2] = {2001, 1}, sb[2] = {1, 0};
  sinter_k_binary_f32(SINTER_K_BIN_MUL, 2, dims, x, s1, x, sb, a, SINTER_K_ACT_SIGMOID, 0, 0, NULL);
  sinter_k_binary_f32(SINTER_K_BIN_MUL, 2, dims, x, s1, x, sb, b, SINTER_K_ACT_SIGMOID, 0, 0, ex);
  SAME(a, b, 49 * 2001);
  /* a transpose copy */
  int64_t td[2] = {300, 300}, ts[2] = {1, 300}, tds[2] = {300, 1};
  sinter_k_copy_strided(4, 2, td, x, ts, a, tds, NULL);
  sinter_k_copy_strided(4, 2, td, x, ts, b, tds, ex);
  SAME(a, b, 90000);
  /* gather rows */
  int32_t idx[500];
  for (int i = 0; i < 500; i++) idx[i] = (i * 37) % 100 - 50;
  sinter_k_gather(4, 2, 100, 90, x, idx, 0, 500, a, NULL);
  sinter_k_gather(4, 2, 100, 90, x, idx, 0, 500, b, ex);
  SAME(a, b, 2 * 500 * 90);
  /* pools */
  sinter_k_pool_shape_t ps = {16, 56, 56, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
  sinter_k_maxpool2d_f32(&ps, x, a, NULL);
  sinter_k_maxpool2d_f32(&ps, x, b, ex);
  SAME(a, b, 16 * 28 * 28);
  sinter_k_avgpool2d_f32(&ps, x, a, NULL);
  sinter_k_avgpool2d_f32(&ps, x, b, ex);
  SAME(a, b, 16 * 28 * 28);
  uint8_t *u = (uint8_t *)x, ua[16 * 28 * 28], ub[16 * 28 * 28];
  sinter_k_maxpool2d_u8(&ps, u, ua, NULL);
  sinter_k_maxpool2d_u8(&ps, u, ub, ex);
  SAME(ua, ub, 16 * 28 * 28);
  sinter_k_maxpool2d_i8(&ps, (const int8_t *)u, (int8_t *)ua, NULL);
  sinter_k_maxpool2d_i8(&ps, (const int8_t *)u, (int8_t *)ub, ex);
  SAME(ua, ub, 16 * 28 * 28);
  sinter_k_global_avgpool_f32(100, 1000, x, a, NULL);
  sinter_k_global_avgpool_f32(100, 1000, x, b, ex);
  SAME(a, b, 100);
  /* row kernels */
  float *sc = fbuf(1000, 0.5f, 1.5f);
  sinter_k_softmax_f32(100, 1000, x, a, 0, NULL);
  sinter_k_softmax_f32(100, 1000, x, b, 0, ex);
  SAME(a, b, 100000);
  sinter_k_softmax_f32(100, 1000, x, a, 1, NULL);
  sinter_k_softmax_f32(100, 1000, x, b, 1, ex);
  SAME(a, b, 100000);
  sinter_k_layernorm_f32(100, 1000, x, sc, sc, 1e-5f, a, NULL);
  sinter_k_layernorm_f32(100, 1000, x, sc, sc, 1e-5f, b, ex);
  SAME(a, b, 100000);
  sinter_k_rmsnorm_f32(100, 1000, x, sc, 1e-5f, a, NULL);
  sinter_k_rmsnorm_f32(100, 1000, x, sc, 1e-5f, b, ex);
  SAME(a, b, 100000);
  /* cast */
  sinter_k_cast(n, x, SINTER_ART_F32, a, SINTER_ART_I32, NULL);
  sinter_k_cast(n, x, SINTER_ART_F32, b, SINTER_ART_I32, ex);
  SAME(a, b, n);
  /* attention, 2 heads x 200 rows */
  acase_t at = {2, 200, 200, 64, 64, 1, 1, 0, 1};
  float *ya = malloc(sizeof(float) * 2 * 200 * 64), *yb = malloc(sizeof(float) * 2 * 200 * 64);
  rng_state = 99;
  check_attention(&at, NULL, ya);
  rng_state = 99;
  check_attention(&at, ex, yb);
  SAME(ya, yb, 2 * 200 * 64);
  /* The exec was really used (each kernel above has several grains of work). */
  ck_assert_int_ge(parallel_calls, 14);
  free(x);
  free(a);
  free(b);
  free(sc);
  free(ya);
  free(yb);
}
END_TEST

static Suite *kernels_misc_suite(void) {
  Suite *s = suite_create("kernels_misc");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_exp_accuracy);
  tcase_add_test(tc, test_unary_ops);
  tcase_add_test(tc, test_binary);
  tcase_add_test(tc, test_copy_strided);
  tcase_add_test(tc, test_gather);
  tcase_add_test(tc, test_pools);
  tcase_add_test(tc, test_global_avgpool);
  tcase_add_test(tc, test_softmax);
  tcase_add_test(tc, test_layernorm_rmsnorm);
  tcase_add_test(tc, test_attention);
  tcase_add_test(tc, test_cast_by_hand);
  tcase_add_test(tc, test_threads_bit_identical);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(kernels_misc_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
