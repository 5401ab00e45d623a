/* The linalg family of reference kernels: sinter_sgemm against a naive
 * loop, MatMul (1-D promotion, batch broadcasting, symbolic batch, ints,
 * f16), Gemm, Einsum, the softmaxes, reductions, ArgMax/ArgMin, TopK, CumSum,
 * the two losses, and shape-inference errors. Expected values are worked
 * out by hand (noted) or printed by NumPy from the ONNX reference formulas. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp/kernels.h"
#include "sinter/ir.h"
#include "tests/support/check_main.h"
#include "tests/support/graph_test.h"

/* ---- expected values from NumPy (float32 unless noted, 9 digits) ---------- */

/* np.matmul(x, b), x = arange(24).reshape(2,1,3,4)*0.25-2,
 * b = arange(24).reshape(3,4,2)%5-1.5 */
static const float k_mm_bc[36] = {
    -1, 0, 0, 0, 1, 0, -4.25f, -4.5f, -1.25f, -2.5f, 1.75f,  -0.5f, 0, -6.5f, 0, -2.5f, 0, 1.5f,
    2,  0, 3, 0, 4, 0, 4.75f,  1.5f,  7.75f,  3.5f,  10.75f, 5.5f,  0, 5.5f,  0, 9.5f,  0, 13.5f};
/* E1 = arange(6).reshape(2,3)-1, E2 = arange(12).reshape(3,4)*0.5 */
static const float k_es_ik[8] = {4, 4, 4, 4, 22, 26.5f, 31, 35.5f};
static const float k_es_ji[6] = {-1, 2, 0, 3, 1, 4};
static const float k_es_outer[12] = {0, -0.5f, -1, -1.5f, 0, 0, 0, 0, 0, 0.5f, 1, 1.5f};
static const float k_es_diag[6] = {0, 4, 8, 9, 13, 17};
static const float k_es_bmm[8] = {-4, -7, 5, 6.5f, 50, 56, 86, 96.5f};
/* S = [[1000,1001,1002,1003],[-1,0,1,0.5],[0,0,0,0]] */
static const float k_sm_last[12] = {0.0320586041f, 0.0871443227f, 0.236882806f, 0.643914282f,
                                    0.064147681f,  0.174371466f,  0.473990828f, 0.28748998f,
                                    0.25f,         0.25f,         0.25f,        0.25f};
static const float k_lsm_last[12] = {-3.4401896f,  -2.4401896f,  -1.4401896f,   -0.44018966f,
                                     -2.74656725f, -1.74656725f, -0.746567309f, -1.24656725f,
                                     -1.38629436f, -1.38629436f, -1.38629436f,  -1.38629436f};
/* R = arange(24).reshape(2,3,4)%7-2.5 */
static const float k_rs_12_keep[2] = {1, 5};
static const float k_rs_m1[6] = {-4, 5, 0, 2, 4, -1};
static const float k_rmean_0[12] = {0, 1, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 0, 1, -1.5f, -0.5f, 0.5f};
static const float k_rmax_1[8] = {1.5f, 2.5f, 3.5f, 1.5f, 3.5f, 3.5f, 1.5f, 2.5f};
static const float k_rmin_02[3] = {-2.5f, -2.5f, -2.5f};
static const float k_rprod_2[6] = {-0.9375f, -32.8125f, 0.5625f, 32.8125f, -0.9375f, -6.5625f};
static const float k_rl1_1[8] = {5.5f, 4.5f, 4.5f, 4.5f, 6.5f, 6.5f, 5.5f, 4.5f};
static const float k_rl2_2[6] = {3, 5.19615221f, 2.23606801f, 5.19615221f, 3, 4.5825758f};
static const float k_rss_0[12] = {12.5f, 14.5f, 6.5f,  2.5f, 2.5f, 6.5f,
                                  14.5f, 12.5f, 14.5f, 6.5f, 2.5f, 2.5f};
static const float k_rls_2[6] = {1.60943794f, 2.30258512f, 1.38629436f,
                                 2.30258512f, 1.60943794f, 2.07944155f};
/* np.logaddexp.reduce([[1000,1000.5,999],[-1,-2,-3]], axis=1) in float64 */
static const float k_rlse[2] = {1001.1041f, -0.59239405f};
/* X = [[1,2,.5],[.1,-1,3],[2,2,2],[0,1,-1]], T = [2,2,-1,0], W = [.5,1,2],
 * ignore_index -1, following onnx's softmaxcrossentropy() reference. */
static const float k_sce_logp[12] = {-1.4643687f,  -0.464368731f,  -1.9643687f,   -2.97077441f,
                                     -4.07077408f, -0.0707742274f, -1.09861231f,  -1.09861231f,
                                     -1.09861231f, -1.40760601f,   -0.407606006f, -2.40760612f};
static const float k_sce_none_w[4] = {3.9287374f, 0.141548455f, 0, 0.703803003f};
static const float k_sce_mean_w = 1.06090864f;
static const float k_sce_mean_nw = 1.14758301f;
static const float k_sce_sum_nw = 3.44274902f;
/* NLL: X3 = arange(12).reshape(2,3,2)*-0.1, T3 = [[0,2],[1,1]] */
static const float k_nll_none[4] = {0, 0.5f, 0.800000012f, 0.900000036f};
static const float k_nll_mean = 0.550000012f;

/* ---- helpers -------------------------------------------------------------- */

static size_t elem_size(sinter_dtype_t dt) {
  return (size_t)sinter_dtype_bits(dt) / 8;
}

static int64_t count_of(int32_t rank, const int64_t *dims) {
  int64_t n = 1;
  for (int32_t i = 0; i < rank; i++) n *= dims[i];
  return n;
}

static sinter_value_t *input(sinter_graph_t *g, const char *name, sinter_dtype_t dt, int32_t rank,
                             const int64_t *dims) {
  sinter_type_t t = ty(dt, rank, dims);
  sinter_value_t *v;
  ok(sinter_graph_add_input(g, name, &t, &v));
  return v;
}

static sinter_value_t *cnst(sinter_graph_t *g, const char *name, sinter_dtype_t dt, int32_t rank,
                            const int64_t *dims, const void *data) {
  sinter_type_t t = ty(dt, rank, dims);
  sinter_value_t *v;
  ok(sinter_graph_add_const(g, name, &t, data, elem_size(dt) * (size_t)count_of(rank, dims), &v));
  return v;
}

static sinter_node_t *node(sinter_graph_t *g, sinter_op_t op, sinter_value_t *const *ins,
                           int32_t n_in, int32_t n_out) {
  sinter_node_t *n;
  ok(sinter_graph_add_node(g, op, "n", ins, n_in, n_out, &n));
  for (int32_t i = 0; i < n_out; i++) ok(sinter_graph_add_output(g, sinter_node_output(n, i)));
  return n;
}

/* A tensor view over caller data for one graph input. */
static sinter_tensor_t tensor(sinter_dtype_t dt, int32_t rank, const int64_t *dims,
                              const void *data) {
  sinter_tensor_t t;
  memset(&t, 0, sizeof(t));
  t.dtype = dt;
  t.rank = rank;
  for (int32_t i = 0; i < rank; i++) t.dims[i] = dims[i];
  t.data = (void *)data;
  t.nbytes = elem_size(dt) * (size_t)count_of(rank, dims);
  return t;
}

/* Infers shapes, runs g on ins and fills outs (freed with free_outs). */
static void run(sinter_graph_t *g, const sinter_tensor_t *ins, int32_t n_in,
                sinter_tensor_t *outs) {
  ok(sinter_graph_infer_shapes(g));
  sinter_interp_t *ip;
  ok(sinter_interp_create(g, &ip));
  ok(sinter_interp_run(ip, ins, n_in, outs));
  sinter_interp_destroy(ip);
}

/* Compares f32 data with |got - want| <= tol * max(1, |want|). */
static void expect_f32(const sinter_tensor_t *t, const float *want, int64_t n, double tol) {
  ck_assert_int_eq(t->dtype, SINTER_DTYPE_F32);
  ck_assert_int_eq(sinter_tensor_numel(t), n);
  const float *got = t->data;
  for (int64_t i = 0; i < n; i++) {
    double w = want[i], g = got[i];
    if (isinf(w)) {
      ck_assert_msg(g == w, "element %lld: got %g, want %g", (long long)i, g, w);
      continue;
    }
    ck_assert_msg(fabs(g - w) <= tol * fmax(1.0, fabs(w)), "element %lld: got %.9g, want %.9g",
                  (long long)i, g, w);
  }
}

static void expect_i64(const sinter_tensor_t *t, const int64_t *want, int64_t n) {
  ck_assert_int_eq(t->dtype, SINTER_DTYPE_I64);
  ck_assert_int_eq(sinter_tensor_numel(t), n);
  for (int64_t i = 0; i < n; i++) ck_assert_int_eq(((const int64_t *)t->data)[i], want[i]);
}

/* Graph inputs are exact-ish values (multiples of 1/4 within ±2^10), so the
 * kernels' only error is accumulation rounding: 1e-6 relative covers f32
 * sums of a few dozen terms with margin. Transcendentals (exp, log) get 1e-5:
 * a few f32 ulps, the gap between libm's expf and NumPy's. */
#define TOL_SUM 1e-6
#define TOL_TRANS 1e-5

/* ---- sgemm ---------------------------------------------------------------- */

/* Deterministic values in [-1, 1) with a 2^-10 grid. */
static float rnd(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((int32_t)(*s >> 21) - 1024) / 1024.0f;
}

/* Checks sinter_sgemm against a triple loop summing in double. Each f32
 * result carries at most K roundings of partial sums, so the forward error is
 * bounded by K * eps * sum_k |a_ik b_kj| (Higham's gamma_K bound); we allow
 * exactly that, plus the final rounding of the reference to f32. */
static void check_sgemm(int64_t M, int64_t N, int64_t K, int64_t pad, bool accumulate) {
  int64_t lda = K + pad, ldb = N + pad, ldc = N + pad;
  float *A = malloc(sizeof(float) * (size_t)(M * lda + 1));
  float *B = malloc(sizeof(float) * (size_t)(K * ldb + 1));
  float *C = malloc(sizeof(float) * (size_t)(M * ldc + 1));
  uint32_t s = (uint32_t)(M * 131 + N * 7 + K);
  for (int64_t i = 0; i < M * lda; i++) A[i] = rnd(&s);
  for (int64_t i = 0; i < K * ldb; i++) B[i] = rnd(&s);
  for (int64_t i = 0; i < M * ldc; i++) C[i] = accumulate ? rnd(&s) : NAN; /* overwritten */
  float *C0 = malloc(sizeof(float) * (size_t)(M * ldc + 1));
  memcpy(C0, C, sizeof(float) * (size_t)(M * ldc));
  sinter_sgemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < ldc; j++) {
      float got = C[i * ldc + j];
      if (j >= N) { /* padding columns stay untouched */
        ck_assert(memcmp(&got, &C0[i * ldc + j], sizeof(float)) == 0);
        continue;
      }
      double ref = accumulate ? C0[i * ldc + j] : 0.0, mag = fabs(ref);
      for (int64_t k = 0; k < K; k++) {
        double p = (double)A[i * lda + k] * (double)B[k * ldb + j];
        ref += p;
        mag += fabs(p);
      }
      double bound = (double)(K + 1) * FLT_EPSILON * mag + FLT_EPSILON * fabs(ref) + 1e-30;
      ck_assert_msg(fabs(got - ref) <= bound, "%lldx%lldx%lld C[%lld,%lld] = %.9g, want %.9g",
                    (long long)M, (long long)N, (long long)K, (long long)i, (long long)j, got, ref);
    }
  free(A);
  free(B);
  free(C);
  free(C0);
}

START_TEST(sgemm_odd_sizes) {
  /* Sizes around the register tiles (6 x 8/16) and the 256-wide cache
   * blocks, with padded leading dimensions. */
  static const int64_t sizes[][3] = {{1, 1, 1},     {7, 5, 3},     {2, 33, 17},    {6, 16, 256},
                                     {13, 17, 257}, {37, 129, 61}, {67, 300, 259}, {5, 1, 40}};
  for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
    check_sgemm(sizes[t][0], sizes[t][1], sizes[t][2], 0, false);
    check_sgemm(sizes[t][0], sizes[t][1], sizes[t][2], 3, true);
  }
}
END_TEST

START_TEST(sgemm_nan_inf_propagate) {
  /* 0 * inf must give NaN: a kernel that skips zero A entries would miss it. */
  enum { M = 9, N = 20, K = 11 };
  float A[M * K], B[K * N], C[M * N];
  for (int i = 0; i < M * K; i++) A[i] = (i % 3) * 0.5f;
  for (int i = 0; i < K * N; i++) B[i] = 1.0f;
  A[4 * K + 0] = 0.0f;
  B[0 * N + 5] = INFINITY; /* row 4: 0 * inf = NaN in column 5 */
  A[7 * K + 2] = NAN;      /* row 7 all NaN */
  sinter_sgemm(M, N, K, A, K, B, N, C, N, false);
  ck_assert(isnan(C[4 * N + 5]));
  for (int j = 0; j < N; j++) ck_assert(isnan(C[7 * N + j]));
  /* Rows whose first A entry is nonzero see +inf in column 5. */
  ck_assert(isinf(C[1 * N + 5]) && C[1 * N + 5] > 0);
  ck_assert(isfinite(C[1 * N + 6]));
}
END_TEST

/* ---- MatMul --------------------------------------------------------------- */

START_TEST(matmul_2d_by_hand) {
  sinter_graph_t *g;
  ok(sinter_graph_create("mm", &g));
  int64_t da[2] = {2, 3}, db[2] = {3, 2};
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, -1, 0.5f, 2, 3, 0};
  sinter_value_t *ins[2] = {input(g, "a", SINTER_DTYPE_F32, 2, da),
                            cnst(g, "b", SINTER_DTYPE_F32, 2, db, b)};
  node(g, SINTER_OP_MATMUL, ins, 2, 1);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, da, a), out;
  run(g, &in, 1, &out);
  /* [1+1+9, -1+4+0; 4+2.5+18, -4+10+0] */
  static const float want[4] = {11, 3, 24.5f, 6};
  int64_t od[2] = {2, 2};
  expect_dims(&out, 2, od);
  expect_f32(&out, want, 4, 0);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(matmul_1d_promotion) {
  /* [3] x [3,2] -> [2]; [2,3] x [3] -> [2]; [3] x [3] -> scalar (by hand). */
  float v[3] = {1, 2, 3}, m32[6] = {1, -1, 0.5f, 2, 3, 0}, m23[6] = {1, 2, 3, 4, 5, 6};
  int64_t d3[1] = {3}, d32[2] = {3, 2}, d23[2] = {2, 3};
  struct {
    int32_t ra, rb;
    const int64_t *da, *db;
    const float *a, *b;
    int32_t orank;
    int64_t odim;
    float want[2];
  } cases[3] = {
      {1, 2, d3, d32, v, m32, 1, 2, {11, 3}},
      {2, 1, d23, d3, m23, v, 1, 2, {14, 32}},
      {1, 1, d3, d3, v, v, 0, 1, {14, 0}},
  };
  for (int c = 0; c < 3; c++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("mm1", &g));
    sinter_value_t *ins[2] = {input(g, "a", SINTER_DTYPE_F32, cases[c].ra, cases[c].da),
                              input(g, "b", SINTER_DTYPE_F32, cases[c].rb, cases[c].db)};
    node(g, SINTER_OP_MATMUL, ins, 2, 1);
    sinter_tensor_t tin[2] = {tensor(SINTER_DTYPE_F32, cases[c].ra, cases[c].da, cases[c].a),
                              tensor(SINTER_DTYPE_F32, cases[c].rb, cases[c].db, cases[c].b)};
    sinter_tensor_t out;
    run(g, tin, 2, &out);
    ck_assert_int_eq(out.rank, cases[c].orank);
    expect_f32(&out, cases[c].want, cases[c].odim, 0);
    free_outs(&out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

START_TEST(matmul_batch_broadcast) {
  sinter_graph_t *g;
  ok(sinter_graph_create("mmb", &g));
  int64_t da[4] = {2, 1, 3, 4}, db[3] = {3, 4, 2};
  float a[24], b[24];
  for (int i = 0; i < 24; i++) a[i] = (float)i * 0.25f - 2, b[i] = (float)(i % 5) - 1.5f;
  sinter_value_t *ins[2] = {input(g, "a", SINTER_DTYPE_F32, 4, da),
                            input(g, "b", SINTER_DTYPE_F32, 3, db)};
  node(g, SINTER_OP_MATMUL, ins, 2, 1);
  sinter_tensor_t tin[2] = {tensor(SINTER_DTYPE_F32, 4, da, a), tensor(SINTER_DTYPE_F32, 3, db, b)},
                  out;
  run(g, tin, 2, &out);
  int64_t od[4] = {2, 3, 3, 2};
  expect_dims(&out, 4, od);
  expect_f32(&out, k_mm_bc, 36, TOL_SUM);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(matmul_symbolic_batch) {
  sinter_graph_t *g;
  ok(sinter_graph_create("mms", &g));
  sinter_type_t ta = ty(SINTER_DTYPE_F32, 3, (int64_t[]){-1, 2, 3});
  ta.dims[0].sym = sinter_graph_intern(g, "N");
  sinter_value_t *a;
  ok(sinter_graph_add_input(g, "a", &ta, &a));
  float w[12];
  for (int i = 0; i < 12; i++) w[i] = (float)(i % 4) - 1;
  int64_t dw[2] = {3, 4};
  sinter_value_t *ins[2] = {a, cnst(g, "w", SINTER_DTYPE_F32, 2, dw, w)};
  sinter_node_t *n = node(g, SINTER_OP_MATMUL, ins, 2, 1);
  ok(sinter_graph_infer_shapes(g));
  const sinter_type_t *ot = sinter_value_type(sinter_node_output(n, 0));
  ck_assert_int_eq(ot->rank, 3);
  ck_assert_int_eq(ot->dims[0].size, -1);
  ck_assert_str_eq(ot->dims[0].sym, "N");
  ck_assert_int_eq(ot->dims[1].size, 2);
  ck_assert_int_eq(ot->dims[2].size, 4);
  /* Run with N = 3: batch b of A is all (b+1); row sums of W columns are
   * w[0]+w[4]+w[8] etc., so out[b, r, c] = (b+1) * colsum(c) (by hand). */
  float x[18];
  for (int i = 0; i < 18; i++) x[i] = (float)(i / 6 + 1);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 3, (int64_t[]){3, 2, 3}, x), out;
  sinter_interp_t *ip;
  ok(sinter_interp_create(g, &ip));
  ok(sinter_interp_run(ip, &in, 1, &out));
  sinter_interp_destroy(ip);
  /* W rows: [-1,0,1,2],[-1,0,1,2],[-1,0,1,2]: colsum = [-3, 0, 3, 6]. */
  int64_t od[3] = {3, 2, 4};
  expect_dims(&out, 3, od);
  for (int b = 0; b < 3; b++)
    for (int r = 0; r < 2; r++)
      for (int c = 0; c < 4; c++)
        ck_assert_float_eq(((float *)out.data)[(b * 2 + r) * 4 + c],
                           (float)((b + 1) * (3 * c - 3)));
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(matmul_int64_exact) {
  /* Products beyond 2^53 would lose bits in double; int64 must be exact. */
  sinter_graph_t *g;
  ok(sinter_graph_create("mmi", &g));
  int64_t da[2] = {1, 2}, db[2] = {2, 1};
  int64_t a[2] = {3000000001LL, -7}, b[2] = {3000000003LL, 5};
  sinter_value_t *ins[2] = {input(g, "a", SINTER_DTYPE_I64, 2, da),
                            input(g, "b", SINTER_DTYPE_I64, 2, db)};
  node(g, SINTER_OP_MATMUL, ins, 2, 1);
  sinter_tensor_t tin[2] = {tensor(SINTER_DTYPE_I64, 2, da, a), tensor(SINTER_DTYPE_I64, 2, db, b)},
                  out;
  run(g, tin, 2, &out);
  /* 3000000001 * 3000000003 = 9000000012000000003; minus 35 (by hand). */
  int64_t want = 9000000011999999968LL;
  expect_i64(&out, &want, 1);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(matmul_f16_rounds_on_store) {
  /* NumPy: (a.astype(f32) @ b.astype(f32)).astype(f16), bit patterns. */
  sinter_graph_t *g;
  ok(sinter_graph_create("mmh", &g));
  int64_t d[2] = {2, 2};
  uint16_t a[4] = {11878, 12902, 13517, 13926}, b[4] = {15872, 49152, 16896, 14746};
  sinter_value_t *ins[2] = {input(g, "a", SINTER_DTYPE_F16, 2, d),
                            input(g, "b", SINTER_DTYPE_F16, 2, d)};
  node(g, SINTER_OP_MATMUL, ins, 2, 1);
  sinter_tensor_t tin[2] = {tensor(SINTER_DTYPE_F16, 2, d, a), tensor(SINTER_DTYPE_F16, 2, d, b)},
                  out;
  run(g, tin, 2, &out);
  ck_assert_int_eq(out.dtype, SINTER_DTYPE_F16);
  static const uint16_t want[4] = {14848, 43948, 16025, 46367};
  for (int i = 0; i < 4; i++) ck_assert_uint_eq(((uint16_t *)out.data)[i], want[i]);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

/* Builds a one-node graph over typed inputs and returns the status of shape
 * inference. */
static sinter_status_t infer_status(sinter_op_t op, const sinter_type_t *types, int32_t n_in,
                                    int32_t n_out, void (*set_attrs)(sinter_node_t *)) {
  sinter_graph_t *g;
  ok(sinter_graph_create("inf", &g));
  sinter_value_t *ins[4];
  for (int32_t i = 0; i < n_in; i++) {
    char name[8] = {'i', (char)('0' + i), 0};
    ok(sinter_graph_add_input(g, name, &types[i], &ins[i]));
  }
  sinter_node_t *n;
  ok(sinter_graph_add_node(g, op, "n", ins, n_in, n_out, &n));
  if (set_attrs) set_attrs(n);
  sinter_status_t st = sinter_graph_infer_shapes(g);
  sinter_graph_destroy(g);
  return st;
}

static void expect_infer_error(sinter_op_t op, const sinter_type_t *types, int32_t n_in,
                               int32_t n_out, void (*set_attrs)(sinter_node_t *)) {
  sinter_status_t st = infer_status(op, types, n_in, n_out, set_attrs);
  ck_assert_msg(st != NULL, "inference accepted an invalid %s", sinter_op_info(op)->name);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_MODEL);
  sinter_status_free(st);
}

static void axis_5(sinter_node_t *n) {
  ok(sinter_node_set_attr_int(n, "axis", 5));
}
static void axis_m4(sinter_node_t *n) {
  ok(sinter_node_set_attr_int(n, "axis", -4));
}
static void trans_a(sinter_node_t *n) {
  ok(sinter_node_set_attr_int(n, "transA", 1));
}
static void eq_bad_terms(sinter_node_t *n) {
  ok(sinter_node_set_attr_string(n, "equation", "ij,jk,kl->il", 12));
}
static void eq_bad_rank(sinter_node_t *n) {
  ok(sinter_node_set_attr_string(n, "equation", "ijk->k", 6));
}
static void eq_bad_out(sinter_node_t *n) {
  ok(sinter_node_set_attr_string(n, "equation", "ij->iz", 6));
}
static void red_none_bad(sinter_node_t *n) {
  ok(sinter_node_set_attr_string(n, "reduction", "avg", 3));
}

START_TEST(infer_errors) {
  sinter_type_t f23 = ty(SINTER_DTYPE_F32, 2, (int64_t[]){2, 3});
  sinter_type_t f43 = ty(SINTER_DTYPE_F32, 2, (int64_t[]){4, 3});
  sinter_type_t f34 = ty(SINTER_DTYPE_F32, 2, (int64_t[]){3, 4});
  sinter_type_t i34 = ty(SINTER_DTYPE_I64, 2, (int64_t[]){3, 4});
  sinter_type_t f0 = ty(SINTER_DTYPE_F32, 0, NULL);
  sinter_type_t b23 = ty(SINTER_DTYPE_BOOL, 2, (int64_t[]){2, 3});
  /* MatMul: inner dims differ, dtypes differ, rank 0, bool. */
  expect_infer_error(SINTER_OP_MATMUL, (sinter_type_t[]){f23, f43}, 2, 1, NULL);
  expect_infer_error(SINTER_OP_MATMUL, (sinter_type_t[]){f23, i34}, 2, 1, NULL);
  expect_infer_error(SINTER_OP_MATMUL, (sinter_type_t[]){f0, f34}, 2, 1, NULL);
  expect_infer_error(SINTER_OP_MATMUL, (sinter_type_t[]){b23, b23}, 2, 1, NULL);
  /* Batch dims that do not broadcast. */
  sinter_type_t f2x = ty(SINTER_DTYPE_F32, 3, (int64_t[]){2, 2, 3});
  sinter_type_t f3x = ty(SINTER_DTYPE_F32, 3, (int64_t[]){3, 3, 4});
  expect_infer_error(SINTER_OP_MATMUL, (sinter_type_t[]){f2x, f3x}, 2, 1, NULL);
  /* Gemm: transA makes A [3,2] against B [3,4]; C that does not broadcast. */
  expect_infer_error(SINTER_OP_GEMM, (sinter_type_t[]){f23, f34}, 2, 1, trans_a);
  sinter_type_t c5 = ty(SINTER_DTYPE_F32, 1, (int64_t[]){5});
  expect_infer_error(SINTER_OP_GEMM, (sinter_type_t[]){f23, f34, c5}, 3, 1, NULL);
  /* Softmax and friends: axis out of range either way. */
  sinter_type_t f234 = ty(SINTER_DTYPE_F32, 3, (int64_t[]){2, 3, 4});
  expect_infer_error(SINTER_OP_SOFTMAX, &f234, 1, 1, axis_5);
  expect_infer_error(SINTER_OP_HARDMAX, &f234, 1, 1, axis_m4);
  expect_infer_error(SINTER_OP_ARG_MAX, &f234, 1, 1, axis_5);
  expect_infer_error(SINTER_OP_SOFTMAX, &i34, 1, 1, NULL); /* not a float type */
  /* Einsum: wrong number of terms, labels vs rank, unknown output label. */
  expect_infer_error(SINTER_OP_EINSUM, (sinter_type_t[]){f23, f34}, 2, 1, eq_bad_terms);
  expect_infer_error(SINTER_OP_EINSUM, &f23, 1, 1, eq_bad_rank);
  expect_infer_error(SINTER_OP_EINSUM, &f23, 1, 1, eq_bad_out);
  /* Losses: unknown reduction; target rank mismatch. */
  sinter_type_t t2 = ty(SINTER_DTYPE_I64, 1, (int64_t[]){2});
  sinter_type_t t23 = ty(SINTER_DTYPE_I64, 2, (int64_t[]){2, 3});
  expect_infer_error(SINTER_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, (sinter_type_t[]){f23, t2}, 2, 1,
                     red_none_bad);
  expect_infer_error(SINTER_OP_SOFTMAX_CROSS_ENTROPY_LOSS, (sinter_type_t[]){f23, t23}, 2, 1, NULL);
}
END_TEST

/* Infer error with constant second input (axes, k). */
static sinter_status_t infer_with_const_i64(sinter_op_t op, const sinter_type_t *x,
                                            const int64_t *c, int64_t n_c, int32_t n_out) {
  sinter_graph_t *g;
  ok(sinter_graph_create("infc", &g));
  sinter_value_t *ins[2];
  ok(sinter_graph_add_input(g, "x", x, &ins[0]));
  ins[1] = cnst(g, "c", SINTER_DTYPE_I64, 1, &n_c, c);
  sinter_node_t *n;
  ok(sinter_graph_add_node(g, op, "n", ins, 2, n_out, &n));
  sinter_status_t st = sinter_graph_infer_shapes(g);
  sinter_graph_destroy(g);
  return st;
}

START_TEST(infer_errors_const_inputs) {
  sinter_type_t f234 = ty(SINTER_DTYPE_F32, 3, (int64_t[]){2, 3, 4});
  struct {
    sinter_op_t op;
    int64_t c[2];
    int64_t n;
    int32_t n_out;
  } bad[] = {
      {SINTER_OP_REDUCE_SUM, {3, 0}, 1, 1},  /* axis out of range */
      {SINTER_OP_REDUCE_MAX, {1, -2}, 2, 1}, /* repeated axis */
      {SINTER_OP_TOPK, {5, 0}, 1, 2},        /* k above the axis size 4 */
      {SINTER_OP_TOPK, {-1, 0}, 1, 2},       /* negative k */
      {SINTER_OP_CUMSUM, {-4, 0}, 1, 1},     /* axis out of range */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sinter_status_t st = infer_with_const_i64(bad[i].op, &f234, bad[i].c, bad[i].n, bad[i].n_out);
    ck_assert_msg(st != NULL, "case %zu accepted", i);
    ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_MODEL);
    sinter_status_free(st);
  }
}
END_TEST

/* ---- Gemm ----------------------------------------------------------------- */

static void gemm_attrs(sinter_node_t *n) {
  ok(sinter_node_set_attr_int(n, "transA", 1));
  ok(sinter_node_set_attr_int(n, "transB", 1));
  ok(sinter_node_set_attr_float(n, "alpha", 0.5f));
  ok(sinter_node_set_attr_float(n, "beta", 2.0f));
}

START_TEST(gemm_trans_alpha_beta_bias) {
  /* A = [[1,2,3],[4,5,6]], B = [[1,-1],[.5,2],[3,0]], C = [.25,-.5], fed
   * transposed: 0.5 * A @ B + 2 * C = [[6, .5],[12.75, 2]] (NumPy). */
  sinter_graph_t *g;
  ok(sinter_graph_create("gemm", &g));
  float at[6] = {1, 4, 2, 5, 3, 6}, bt[6] = {1, 0.5f, 3, -1, 2, 0}, c[2] = {0.25f, -0.5f};
  int64_t dat[2] = {3, 2}, dbt[2] = {2, 3}, dc[1] = {2};
  sinter_value_t *ins[3] = {input(g, "a", SINTER_DTYPE_F32, 2, dat),
                            cnst(g, "b", SINTER_DTYPE_F32, 2, dbt, bt),
                            cnst(g, "c", SINTER_DTYPE_F32, 1, dc, c)};
  sinter_node_t *n = node(g, SINTER_OP_GEMM, ins, 3, 1);
  gemm_attrs(n);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, dat, at), out;
  run(g, &in, 1, &out);
  static const float want[4] = {6, 0.5f, 12.75f, 2};
  int64_t od[2] = {2, 2};
  expect_dims(&out, 2, od);
  expect_f32(&out, want, 4, 0);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(gemm_no_bias_scalar_bias_f64) {
  /* f64, C a scalar: [[1,2],[3,4]] @ [[5],[6]] + 0.5 = [[17.5],[39.5]] (hand). */
  sinter_graph_t *g;
  ok(sinter_graph_create("gemm64", &g));
  double a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, c = 0.5;
  int64_t da[2] = {2, 2}, db[2] = {2, 1};
  sinter_value_t *ins[3] = {input(g, "a", SINTER_DTYPE_F64, 2, da),
                            cnst(g, "b", SINTER_DTYPE_F64, 2, db, b),
                            cnst(g, "c", SINTER_DTYPE_F64, 0, NULL, &c)};
  node(g, SINTER_OP_GEMM, ins, 3, 1);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F64, 2, da, a), out;
  run(g, &in, 1, &out);
  ck_assert_int_eq(out.dtype, SINTER_DTYPE_F64);
  ck_assert_double_eq(((double *)out.data)[0], 17.5);
  ck_assert_double_eq(((double *)out.data)[1], 39.5);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Einsum --------------------------------------------------------------- */

/* Runs equation over float inputs and compares with want. */
static void check_einsum(const char *eq, int32_t n_in, const int32_t *ranks,
                         const int64_t (*dims)[SINTER_MAX_RANK], const float *const *data,
                         int32_t orank, const int64_t *odims, const float *want) {
  sinter_graph_t *g;
  ok(sinter_graph_create("es", &g));
  sinter_value_t *ins[4];
  sinter_tensor_t tin[4];
  for (int32_t i = 0; i < n_in; i++) {
    char name[4] = {'x', (char)('0' + i), 0};
    ins[i] = input(g, name, SINTER_DTYPE_F32, ranks[i], dims[i]);
    tin[i] = tensor(SINTER_DTYPE_F32, ranks[i], dims[i], data[i]);
  }
  sinter_node_t *n = node(g, SINTER_OP_EINSUM, ins, n_in, 1);
  ok(sinter_node_set_attr_string(n, "equation", eq, strlen(eq)));
  sinter_tensor_t out;
  run(g, tin, n_in, &out);
  expect_dims(&out, orank, odims);
  expect_f32(&out, want, count_of(orank, odims), TOL_SUM);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}

START_TEST(einsum_forms) {
  float e1[6], e2[12], d[18], b1[12], b2[12];
  for (int i = 0; i < 6; i++) e1[i] = (float)i - 1;
  for (int i = 0; i < 12; i++) e2[i] = (float)i * 0.5f;
  for (int i = 0; i < 18; i++) d[i] = (float)i;
  for (int i = 0; i < 12; i++) b1[i] = (float)i - 3, b2[i] = (float)i * 0.5f;
  const int64_t dd2[2][SINTER_MAX_RANK] = {{2, 3}, {3, 4}};
  const float *p2[2] = {e1, e2};
  /* matmul, explicit and implicit (both NumPy) */
  check_einsum("ij,jk->ik", 2, (int32_t[]){2, 2}, dd2, p2, 2, (int64_t[]){2, 4}, k_es_ik);
  check_einsum("ij,jk", 2, (int32_t[]){2, 2}, dd2, p2, 2, (int64_t[]){2, 4}, k_es_ik);
  /* same product with B given transposed and the output transposed: k_es_ik^T */
  float e2t[12];
  for (int j = 0; j < 3; j++)
    for (int k = 0; k < 4; k++) e2t[k * 3 + j] = e2[j * 4 + k];
  float es_ki[8];
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < 4; k++) es_ki[k * 2 + i] = k_es_ik[i * 4 + k];
  const int64_t ddt[2][SINTER_MAX_RANK] = {{2, 3}, {4, 3}};
  const float *pt[2] = {e1, e2t};
  check_einsum("ij,kj->ki", 2, (int32_t[]){2, 2}, ddt, pt, 2, (int64_t[]){4, 2}, es_ki);
  /* transpose, full sum (sum of -1..4 = 9, by hand), outer product */
  const int64_t dd1[1][SINTER_MAX_RANK] = {{2, 3}};
  const float *p1[1] = {e1};
  check_einsum("ij->ji", 1, (int32_t[]){2}, dd1, p1, 2, (int64_t[]){3, 2}, k_es_ji);
  static const float nine = 9;
  check_einsum("ij->", 1, (int32_t[]){2}, dd1, p1, 0, NULL, &nine);
  const int64_t ddo[2][SINTER_MAX_RANK] = {{3}, {4}};
  check_einsum("i,j->ij", 2, (int32_t[]){1, 1}, ddo, p2, 2, (int64_t[]){3, 4}, k_es_outer);
  /* inner product, implicit: sum(e1[:3] * e2[:3]) = -1*0 + 0*.5 + 1*1 = 1 (hand) */
  const int64_t ddi[2][SINTER_MAX_RANK] = {{3}, {3}};
  static const float one = 1;
  check_einsum("i,i", 2, (int32_t[]){1, 1}, ddi, p2, 0, NULL, &one);
  /* batched diagonal with ellipsis, batched matmul */
  const int64_t ddd[1][SINTER_MAX_RANK] = {{2, 3, 3}};
  const float *pd[1] = {d};
  check_einsum("...ii->...i", 1, (int32_t[]){3}, ddd, pd, 2, (int64_t[]){2, 3}, k_es_diag);
  const int64_t ddb[2][SINTER_MAX_RANK] = {{2, 2, 3}, {2, 3, 2}};
  const float *pb[2] = {b1, b2};
  check_einsum("bij,bjk->bik", 2, (int32_t[]){3, 3}, ddb, pb, 3, (int64_t[]){2, 2, 2}, k_es_bmm);
  check_einsum("...ij,...jk->...ik", 2, (int32_t[]){3, 3}, ddb, pb, 3, (int64_t[]){2, 2, 2},
               k_es_bmm);
}
END_TEST

/* ---- softmax family ------------------------------------------------------- */

static void run_unary_f32(sinter_op_t op, int32_t rank, const int64_t *dims, const float *x,
                          void (*set_attrs)(sinter_node_t *), sinter_tensor_t *out) {
  sinter_graph_t *g;
  ok(sinter_graph_create("u", &g));
  sinter_value_t *in = input(g, "x", SINTER_DTYPE_F32, rank, dims);
  sinter_node_t *n = node(g, op, &in, 1, 1);
  if (set_attrs) set_attrs(n);
  sinter_tensor_t t = tensor(SINTER_DTYPE_F32, rank, dims, x);
  run(g, &t, 1, out);
  sinter_graph_destroy(g);
}

static void axis_0(sinter_node_t *n) {
  ok(sinter_node_set_attr_int(n, "axis", 0));
}

START_TEST(softmax_large_and_axes) {
  float s[12] = {1000, 1001, 1002, 1003, -1, 0, 1, 0.5f, 0, 0, 0, 0};
  int64_t d[2] = {3, 4};
  sinter_tensor_t out;
  run_unary_f32(SINTER_OP_SOFTMAX, 2, d, s, NULL, &out); /* default axis -1 */
  expect_f32(&out, k_sm_last, 12, TOL_TRANS);
  free_outs(&out, 1);
  run_unary_f32(SINTER_OP_LOG_SOFTMAX, 2, d, s, NULL, &out);
  expect_f32(&out, k_lsm_last, 12, TOL_TRANS);
  free_outs(&out, 1);
  /* axis 0: each column is dominated by row 0 (1000 vs <= 1): exactly 1, 0, 0
   * in f32, since exp(-999) underflows (NumPy agrees). */
  run_unary_f32(SINTER_OP_SOFTMAX, 2, d, s, axis_0, &out);
  for (int j = 0; j < 4; j++) {
    ck_assert_float_eq(((float *)out.data)[j], 1.0f);
    ck_assert_float_eq(((float *)out.data)[4 + j], 0.0f);
  }
  free_outs(&out, 1);
}
END_TEST

START_TEST(softmax_nan_propagates) {
  float s[4] = {1, NAN, 2, 3};
  int64_t d[1] = {4};
  sinter_tensor_t out;
  run_unary_f32(SINTER_OP_SOFTMAX, 1, d, s, NULL, &out);
  for (int j = 0; j < 4; j++) ck_assert(isnan(((float *)out.data)[j]));
  free_outs(&out, 1);
}
END_TEST

START_TEST(hardmax_ties_first) {
  /* Rows: ties pick the first maximum (by hand). */
  float s[8] = {1, 3, 3, 0, -1, -1, -1, -1};
  int64_t d[2] = {2, 4};
  static const float want[8] = {0, 1, 0, 0, 1, 0, 0, 0};
  sinter_tensor_t out;
  run_unary_f32(SINTER_OP_HARDMAX, 2, d, s, NULL, &out);
  expect_f32(&out, want, 8, 0);
  free_outs(&out, 1);
  /* axis 0 on the same data: every column's maximum is in row 0. */
  static const float want0[8] = {1, 1, 1, 1, 0, 0, 0, 0};
  run_unary_f32(SINTER_OP_HARDMAX, 2, d, s, axis_0, &out);
  expect_f32(&out, want0, 8, 0);
  free_outs(&out, 1);
}
END_TEST

/* ---- reductions ----------------------------------------------------------- */

/* Runs op on R = arange(24).reshape(2,3,4) % 7 - 2.5 with axes as a constant
 * input (NULL: omitted) and keepdims. */
static void run_reduce(sinter_op_t op, const int64_t *axes, int64_t n_axes, int keepdims, int noop,
                       sinter_tensor_t *out) {
  float r[24];
  for (int i = 0; i < 24; i++) r[i] = (float)(i % 7) - 2.5f;
  int64_t d[3] = {2, 3, 4};
  sinter_graph_t *g;
  ok(sinter_graph_create("red", &g));
  sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_F32, 3, d), NULL};
  if (axes) ins[1] = cnst(g, "axes", SINTER_DTYPE_I64, 1, &n_axes, axes);
  sinter_node_t *n = node(g, op, ins, axes ? 2 : 1, 1);
  ok(sinter_node_set_attr_int(n, "keepdims", keepdims));
  if (noop) ok(sinter_node_set_attr_int(n, "noop_with_empty_axes", 1));
  sinter_tensor_t t = tensor(SINTER_DTYPE_F32, 3, d, r);
  run(g, &t, 1, out);
  sinter_graph_destroy(g);
}

START_TEST(reduce_variants) {
  sinter_tensor_t out;
  run_reduce(SINTER_OP_REDUCE_SUM, (int64_t[]){1, 2}, 2, 1, 0, &out);
  expect_dims(&out, 3, (int64_t[]){2, 1, 1});
  expect_f32(&out, k_rs_12_keep, 2, TOL_SUM);
  free_outs(&out, 1);
  run_reduce(SINTER_OP_REDUCE_SUM, (int64_t[]){-1}, 1, 0, 0, &out);
  expect_dims(&out, 2, (int64_t[]){2, 3});
  expect_f32(&out, k_rs_m1, 6, TOL_SUM);
  free_outs(&out, 1);
  /* No axes: everything, keepdims -> [1,1,1]; sum is 6 (NumPy). */
  static const float six = 6;
  run_reduce(SINTER_OP_REDUCE_SUM, NULL, 0, 1, 0, &out);
  expect_dims(&out, 3, (int64_t[]){1, 1, 1});
  expect_f32(&out, &six, 1, TOL_SUM);
  free_outs(&out, 1);
  /* Empty axes input with noop_with_empty_axes: identity. */
  run_reduce(SINTER_OP_REDUCE_SUM, (int64_t[]){0}, 0, 0, 1, &out);
  expect_dims(&out, 3, (int64_t[]){2, 3, 4});
  for (int i = 0; i < 24; i++) ck_assert_float_eq(((float *)out.data)[i], (float)(i % 7) - 2.5f);
  free_outs(&out, 1);
  run_reduce(SINTER_OP_REDUCE_MEAN, (int64_t[]){0}, 1, 0, 0, &out);
  expect_f32(&out, k_rmean_0, 12, TOL_SUM);
  free_outs(&out, 1);
  run_reduce(SINTER_OP_REDUCE_MAX, (int64_t[]){1}, 1, 0, 0, &out);
  expect_f32(&out, k_rmax_1, 8, 0);
  free_outs(&out, 1);
  run_reduce(SINTER_OP_REDUCE_MIN, (int64_t[]){0, 2}, 2, 0, 0, &out);
  expect_dims(&out, 1, (int64_t[]){3});
  expect_f32(&out, k_rmin_02, 3, 0);
  free_outs(&out, 1);
  run_reduce(SINTER_OP_REDUCE_PROD, (int64_t[]){2}, 1, 0, 0, &out);
  expect_f32(&out, k_rprod_2, 6, TOL_SUM);
  free_outs(&out, 1);
  run_reduce(SINTER_OP_REDUCE_L1, (int64_t[]){1}, 1, 0, 0, &out);
  expect_f32(&out, k_rl1_1, 8, TOL_SUM);
  free_outs(&out, 1);
  run_reduce(SINTER_OP_REDUCE_L2, (int64_t[]){2}, 1, 0, 0, &out);
  expect_f32(&out, k_rl2_2, 6, TOL_TRANS);
  free_outs(&out, 1);
  run_reduce(SINTER_OP_REDUCE_SUM_SQUARE, (int64_t[]){0}, 1, 0, 0, &out);
  expect_f32(&out, k_rss_0, 12, TOL_SUM);
  free_outs(&out, 1);
}
END_TEST

START_TEST(reduce_log_sum_and_lse) {
  /* LogSum of |R| over axis 2 (NumPy: log(abs(R).sum(2))), run on |R|. */
  float r[24];
  for (int i = 0; i < 24; i++) r[i] = fabsf((float)(i % 7) - 2.5f);
  int64_t d[3] = {2, 3, 4};
  sinter_graph_t *g;
  ok(sinter_graph_create("ls", &g));
  int64_t ax = 2, one = 1;
  sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_F32, 3, d),
                            cnst(g, "axes", SINTER_DTYPE_I64, 1, &one, &ax)};
  sinter_node_t *n = node(g, SINTER_OP_REDUCE_LOG_SUM, ins, 2, 1);
  ok(sinter_node_set_attr_int(n, "keepdims", 0));
  sinter_tensor_t t = tensor(SINTER_DTYPE_F32, 3, d, r), out;
  run(g, &t, 1, &out);
  expect_f32(&out, k_rls_2, 6, TOL_TRANS);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
  /* LogSumExp stays finite where exp(1000) overflows. */
  float l[6] = {1000, 1000.5f, 999, -1, -2, -3};
  int64_t dl[2] = {2, 3}, axl = 1;
  ok(sinter_graph_create("lse", &g));
  sinter_value_t *ins2[2] = {input(g, "x", SINTER_DTYPE_F32, 2, dl),
                             cnst(g, "axes", SINTER_DTYPE_I64, 1, &one, &axl)};
  n = node(g, SINTER_OP_REDUCE_LOG_SUM_EXP, ins2, 2, 1);
  ok(sinter_node_set_attr_int(n, "keepdims", 0));
  t = tensor(SINTER_DTYPE_F32, 2, dl, l);
  run(g, &t, 1, &out);
  expect_f32(&out, k_rlse, 2, TOL_TRANS);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(reduce_empty_sets) {
  /* Reducing an axis of size 0 gives each reduction's identity, as the ONNX
   * spec (opset 18) lists: sum 0, prod 1, max -inf, min +inf, logsumexp -inf. */
  static const struct {
    sinter_op_t op;
    float want;
  } cases[] = {
      {SINTER_OP_REDUCE_SUM, 0.0f},
      {SINTER_OP_REDUCE_PROD, 1.0f},
      {SINTER_OP_REDUCE_MAX, -INFINITY},
      {SINTER_OP_REDUCE_MIN, INFINITY},
      {SINTER_OP_REDUCE_L1, 0.0f},
      {SINTER_OP_REDUCE_L2, 0.0f},
      {SINTER_OP_REDUCE_SUM_SQUARE, 0.0f},
      {SINTER_OP_REDUCE_LOG_SUM, -INFINITY},
      {SINTER_OP_REDUCE_LOG_SUM_EXP, -INFINITY},
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("empty", &g));
    int64_t d[2] = {2, 0}, ax = 1, one = 1;
    sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_F32, 2, d),
                              cnst(g, "axes", SINTER_DTYPE_I64, 1, &one, &ax)};
    node(g, cases[c].op, ins, 2, 1);
    float dummy = 0;
    sinter_tensor_t t = tensor(SINTER_DTYPE_F32, 2, d, &dummy), out;
    run(g, &t, 1, &out);
    expect_dims(&out, 2, (int64_t[]){2, 1});
    for (int i = 0; i < 2; i++)
      ck_assert_msg(((float *)out.data)[i] == cases[c].want, "%s: got %g",
                    sinter_op_info(cases[c].op)->name, ((float *)out.data)[i]);
    free_outs(&out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

START_TEST(reduce_ints_exact) {
  /* int64 sum and mean stay exact beyond 2^53; the mean truncates (by hand). */
  sinter_graph_t *g;
  ok(sinter_graph_create("ri", &g));
  int64_t d[1] = {3};
  int64_t v[3] = {INT64_C(4000000000000000001), 2, -7};
  sinter_value_t *x = input(g, "x", SINTER_DTYPE_I64, 1, d);
  sinter_node_t *n = node(g, SINTER_OP_REDUCE_SUM, &x, 1, 1);
  ok(sinter_node_set_attr_int(n, "keepdims", 0));
  sinter_node_t *m = node(g, SINTER_OP_REDUCE_MEAN, &x, 1, 1);
  ok(sinter_node_set_attr_int(m, "keepdims", 0));
  sinter_tensor_t t = tensor(SINTER_DTYPE_I64, 1, d, v), out[2];
  run(g, &t, 1, out);
  int64_t sum = INT64_C(3999999999999999996), mean = INT64_C(1333333333333333332);
  expect_i64(&out[0], &sum, 1);
  expect_i64(&out[1], &mean, 1);
  free_outs(out, 2);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(reduce_infer_unknown_axes) {
  /* Axes from a graph input: data-dependent, so dims become unknown; the
   * rank stays decidable with keepdims, or from the axes' static length. */
  for (int keep = 0; keep < 2; keep++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("ua", &g));
    sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_F32, 3, (int64_t[]){2, 3, 4}),
                              input(g, "axes", SINTER_DTYPE_I64, 1, (int64_t[]){2})};
    sinter_node_t *n = node(g, SINTER_OP_REDUCE_MEAN, ins, 2, 1);
    ok(sinter_node_set_attr_int(n, "keepdims", keep));
    ok(sinter_graph_infer_shapes(g));
    const sinter_type_t *ot = sinter_value_type(sinter_node_output(n, 0));
    ck_assert_int_eq(ot->rank, keep ? 3 : 1);
    for (int32_t i = 0; i < ot->rank; i++) ck_assert_int_eq(ot->dims[i].size, -1);
    /* and it still runs: axes [0, 2] */
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    int64_t axv[2] = {0, 2};
    sinter_tensor_t tin[2] = {tensor(SINTER_DTYPE_F32, 3, (int64_t[]){2, 3, 4}, x),
                              tensor(SINTER_DTYPE_I64, 1, (int64_t[]){2}, axv)},
                    out;
    sinter_interp_t *ip;
    ok(sinter_interp_create(g, &ip));
    ok(sinter_interp_run(ip, tin, 2, &out));
    sinter_interp_destroy(ip);
    /* mean over axes 0 and 2 of arange(24): 6 + 1.5 + 4j (by hand) */
    static const float want[3] = {7.5f, 11.5f, 15.5f};
    expect_f32(&out, want, 3, TOL_SUM);
    free_outs(&out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

/* ---- ArgMax, ArgMin, TopK, CumSum ----------------------------------------- */

START_TEST(argmax_argmin_ties) {
  /* [[2, 5, 5, 1], [0, 0, -3, -3]] along axis 1 (by hand). */
  float x[8] = {2, 5, 5, 1, 0, 0, -3, -3};
  int64_t d[2] = {2, 4};
  struct {
    sinter_op_t op;
    int last, keep;
    int64_t want[2];
  } cases[] = {
      {SINTER_OP_ARG_MAX, 0, 1, {1, 0}},
      {SINTER_OP_ARG_MAX, 1, 0, {2, 1}},
      {SINTER_OP_ARG_MIN, 0, 1, {3, 2}},
      {SINTER_OP_ARG_MIN, 1, 0, {3, 3}},
  };
  for (size_t c = 0; c < 4; c++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("arg", &g));
    sinter_value_t *in = input(g, "x", SINTER_DTYPE_F32, 2, d);
    sinter_node_t *n = node(g, cases[c].op, &in, 1, 1);
    ok(sinter_node_set_attr_int(n, "axis", -1));
    ok(sinter_node_set_attr_int(n, "select_last_index", cases[c].last));
    ok(sinter_node_set_attr_int(n, "keepdims", cases[c].keep));
    sinter_tensor_t t = tensor(SINTER_DTYPE_F32, 2, d, x), out;
    run(g, &t, 1, &out);
    if (cases[c].keep)
      expect_dims(&out, 2, (int64_t[]){2, 1});
    else
      expect_dims(&out, 1, (int64_t[]){2});
    expect_i64(&out, cases[c].want, 2);
    free_outs(&out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

static void run_topk(const float *x, int64_t n, int64_t k, int largest, sinter_tensor_t *outs) {
  sinter_graph_t *g;
  ok(sinter_graph_create("topk", &g));
  int64_t one = 1;
  sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_F32, 1, &n),
                            cnst(g, "k", SINTER_DTYPE_I64, 1, &one, &k)};
  sinter_node_t *nd = node(g, SINTER_OP_TOPK, ins, 2, 2);
  ok(sinter_node_set_attr_int(nd, "largest", largest));
  sinter_tensor_t t = tensor(SINTER_DTYPE_F32, 1, &n, x);
  run(g, &t, 1, outs);
  sinter_graph_destroy(g);
}

START_TEST(topk_ties_stable) {
  /* Equal values keep the smaller index first (by hand). */
  float x[6] = {3, 1, 3, 2, 3, 1};
  sinter_tensor_t outs[2];
  run_topk(x, 6, 4, 1, outs);
  static const float v1[4] = {3, 3, 3, 2};
  static const int64_t i1[4] = {0, 2, 4, 3};
  expect_f32(&outs[0], v1, 4, 0);
  expect_i64(&outs[1], i1, 4);
  free_outs(outs, 2);
  run_topk(x, 6, 3, 0, outs);
  static const float v2[3] = {1, 1, 2};
  static const int64_t i2[3] = {1, 5, 3};
  expect_f32(&outs[0], v2, 3, 0);
  expect_i64(&outs[1], i2, 3);
  free_outs(outs, 2);
  /* k small against n (the selection path): x[i] = i % 4 over 20 items. */
  float y[20];
  for (int i = 0; i < 20; i++) y[i] = (float)(i % 4);
  run_topk(y, 20, 3, 1, outs);
  static const float v3[3] = {3, 3, 3};
  static const int64_t i3[3] = {3, 7, 11};
  expect_f32(&outs[0], v3, 3, 0);
  expect_i64(&outs[1], i3, 3);
  free_outs(outs, 2);
  run_topk(y, 20, 4, 0, outs);
  static const float v4[4] = {0, 0, 0, 0};
  static const int64_t i4[4] = {0, 4, 8, 12};
  expect_f32(&outs[0], v4, 4, 0);
  expect_i64(&outs[1], i4, 4);
  free_outs(outs, 2);
}
END_TEST

START_TEST(topk_axis0_and_dynamic_k) {
  /* k from a graph input: inference leaves the axis dim unknown. */
  sinter_graph_t *g;
  ok(sinter_graph_create("topkd", &g));
  int64_t d[2] = {3, 2}, one = 1;
  sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_F32, 2, d),
                            input(g, "k", SINTER_DTYPE_I64, 1, &one)};
  sinter_node_t *n = node(g, SINTER_OP_TOPK, ins, 2, 2);
  ok(sinter_node_set_attr_int(n, "axis", 0));
  ok(sinter_graph_infer_shapes(g));
  const sinter_type_t *ot = sinter_value_type(sinter_node_output(n, 0));
  ck_assert_int_eq(ot->rank, 2);
  ck_assert_int_eq(ot->dims[0].size, -1);
  ck_assert_int_eq(ot->dims[1].size, 2);
  ck_assert_int_eq(sinter_value_type(sinter_node_output(n, 1))->dtype, SINTER_DTYPE_I64);
  /* x = [[1, 6], [5, 2], [3, 4]], k = 2 along axis 0 (by hand). */
  float x[6] = {1, 6, 5, 2, 3, 4};
  int64_t k = 2;
  sinter_tensor_t tin[2] = {tensor(SINTER_DTYPE_F32, 2, d, x),
                            tensor(SINTER_DTYPE_I64, 1, &one, &k)},
                  outs[2];
  sinter_interp_t *ip;
  ok(sinter_interp_create(g, &ip));
  ok(sinter_interp_run(ip, tin, 2, outs));
  sinter_interp_destroy(ip);
  static const float v[4] = {5, 6, 3, 4};
  static const int64_t idx[4] = {1, 0, 2, 2};
  expect_dims(&outs[0], 2, (int64_t[]){2, 2});
  expect_f32(&outs[0], v, 4, 0);
  expect_i64(&outs[1], idx, 4);
  free_outs(outs, 2);
  /* k beyond the axis at run time is an error, not a crash. */
  k = 4;
  ok(sinter_interp_create(g, &ip));
  sinter_status_t st = sinter_interp_run(ip, tin, 2, outs);
  ck_assert_ptr_nonnull(st);
  sinter_status_free(st);
  sinter_interp_destroy(ip);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(cumsum_modes) {
  /* x = [1, 2, 3, 4] (by hand). */
  float x[4] = {1, 2, 3, 4};
  static const float want[4][4] = {
      {1, 3, 6, 10}, /* plain */
      {0, 1, 3, 6},  /* exclusive */
      {10, 9, 7, 4}, /* reverse */
      {9, 7, 4, 0},  /* reverse exclusive */
  };
  for (int m = 0; m < 4; m++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("cs", &g));
    int64_t d = 4, axis = 0;
    sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_F32, 1, &d),
                              cnst(g, "axis", SINTER_DTYPE_I64, 0, NULL, &axis)};
    sinter_node_t *n = node(g, SINTER_OP_CUMSUM, ins, 2, 1);
    ok(sinter_node_set_attr_int(n, "exclusive", m & 1));
    ok(sinter_node_set_attr_int(n, "reverse", m >> 1));
    sinter_tensor_t t = tensor(SINTER_DTYPE_F32, 1, &d, x), out;
    run(g, &t, 1, &out);
    expect_f32(&out, want[m], 4, 0);
    free_outs(&out, 1);
    sinter_graph_destroy(g);
  }
  /* 2-D along axis 1 on int32: [[1,2],[3,4]] -> [[1,3],[3,7]]. */
  sinter_graph_t *g;
  ok(sinter_graph_create("cs2", &g));
  int64_t d2[2] = {2, 2}, axis = -1;
  int32_t xi[4] = {1, 2, 3, 4};
  sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_I32, 2, d2),
                            cnst(g, "axis", SINTER_DTYPE_I64, 0, NULL, &axis)};
  node(g, SINTER_OP_CUMSUM, ins, 2, 1);
  sinter_tensor_t t = tensor(SINTER_DTYPE_I32, 2, d2, xi), out;
  run(g, &t, 1, &out);
  static const int32_t wi[4] = {1, 3, 3, 7};
  ck_assert_int_eq(out.dtype, SINTER_DTYPE_I32);
  for (int i = 0; i < 4; i++) ck_assert_int_eq(((int32_t *)out.data)[i], wi[i]);
  free_outs(&out, 1);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- losses --------------------------------------------------------------- */

static void run_sce(const char *reduction, bool weights, int32_t n_out, sinter_tensor_t *outs) {
  float x[12] = {1, 2, 0.5f, 0.1f, -1, 3, 2, 2, 2, 0, 1, -1};
  int64_t t[4] = {2, 2, -1, 0};
  float w[3] = {0.5f, 1, 2};
  int64_t dx[2] = {4, 3}, dt[1] = {4}, dw[1] = {3};
  sinter_graph_t *g;
  ok(sinter_graph_create("sce", &g));
  sinter_value_t *ins[3] = {input(g, "x", SINTER_DTYPE_F32, 2, dx),
                            input(g, "t", SINTER_DTYPE_I64, 1, dt),
                            weights ? cnst(g, "w", SINTER_DTYPE_F32, 1, dw, w) : NULL};
  sinter_node_t *n = node(g, SINTER_OP_SOFTMAX_CROSS_ENTROPY_LOSS, ins, weights ? 3 : 2, n_out);
  ok(sinter_node_set_attr_string(n, "reduction", reduction, strlen(reduction)));
  ok(sinter_node_set_attr_int(n, "ignore_index", -1));
  sinter_tensor_t tin[2] = {tensor(SINTER_DTYPE_F32, 2, dx, x), tensor(SINTER_DTYPE_I64, 1, dt, t)};
  run(g, tin, 2, outs);
  sinter_graph_destroy(g);
}

START_TEST(sce_reductions) {
  sinter_tensor_t outs[2];
  run_sce("none", true, 2, outs);
  expect_dims(&outs[0], 1, (int64_t[]){4});
  expect_f32(&outs[0], k_sce_none_w, 4, TOL_TRANS);
  expect_dims(&outs[1], 2, (int64_t[]){4, 3});
  expect_f32(&outs[1], k_sce_logp, 12, TOL_TRANS);
  free_outs(outs, 2);
  run_sce("mean", true, 1, outs);
  ck_assert_int_eq(outs[0].rank, 0);
  expect_f32(&outs[0], &k_sce_mean_w, 1, TOL_TRANS);
  free_outs(outs, 1);
  run_sce("mean", false, 1, outs); /* divides by the 3 targets not ignored */
  expect_f32(&outs[0], &k_sce_mean_nw, 1, TOL_TRANS);
  free_outs(outs, 1);
  run_sce("sum", false, 1, outs);
  expect_f32(&outs[0], &k_sce_sum_nw, 1, TOL_TRANS);
  free_outs(outs, 1);
}
END_TEST

START_TEST(nll_3d_and_bad_target) {
  float x[12];
  for (int i = 0; i < 12; i++) x[i] = (float)i * -0.1f;
  int64_t t[4] = {0, 2, 1, 1};
  int64_t dx[3] = {2, 3, 2}, dt[2] = {2, 2};
  for (int mean = 0; mean < 2; mean++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("nll", &g));
    sinter_value_t *ins[2] = {input(g, "x", SINTER_DTYPE_F32, 3, dx),
                              input(g, "t", SINTER_DTYPE_I64, 2, dt)};
    sinter_node_t *n = node(g, SINTER_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, ins, 2, 1);
    if (!mean) ok(sinter_node_set_attr_string(n, "reduction", "none", 4));
    sinter_tensor_t tin[2] = {tensor(SINTER_DTYPE_F32, 3, dx, x),
                              tensor(SINTER_DTYPE_I64, 2, dt, t)},
                    out;
    run(g, tin, 2, &out);
    if (mean) {
      ck_assert_int_eq(out.rank, 0);
      expect_f32(&out, &k_nll_mean, 1, TOL_SUM);
    } else {
      expect_dims(&out, 2, dt);
      expect_f32(&out, k_nll_none, 4, TOL_SUM);
    }
    free_outs(&out, 1);
    /* A class index outside [0, C) is a clean error. */
    int64_t bad[4] = {0, 3, 1, 1};
    tin[1].data = bad;
    sinter_interp_t *ip;
    ok(sinter_interp_create(g, &ip));
    sinter_status_t st = sinter_interp_run(ip, tin, 2, &out);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_MODEL);
    sinter_status_free(st);
    sinter_interp_destroy(ip);
    sinter_graph_destroy(g);
  }
}
END_TEST

static Suite *linalg_suite(void) {
  Suite *s = suite_create("linalg");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, sgemm_odd_sizes);
  tcase_add_test(tc, sgemm_nan_inf_propagate);
  tcase_add_test(tc, matmul_2d_by_hand);
  tcase_add_test(tc, matmul_1d_promotion);
  tcase_add_test(tc, matmul_batch_broadcast);
  tcase_add_test(tc, matmul_symbolic_batch);
  tcase_add_test(tc, matmul_int64_exact);
  tcase_add_test(tc, matmul_f16_rounds_on_store);
  tcase_add_test(tc, infer_errors);
  tcase_add_test(tc, infer_errors_const_inputs);
  tcase_add_test(tc, gemm_trans_alpha_beta_bias);
  tcase_add_test(tc, gemm_no_bias_scalar_bias_f64);
  tcase_add_test(tc, einsum_forms);
  tcase_add_test(tc, softmax_large_and_axes);
  tcase_add_test(tc, softmax_nan_propagates);
  tcase_add_test(tc, hardmax_ties_first);
  tcase_add_test(tc, reduce_variants);
  tcase_add_test(tc, reduce_log_sum_and_lse);
  tcase_add_test(tc, reduce_empty_sets);
  tcase_add_test(tc, reduce_ints_exact);
  tcase_add_test(tc, reduce_infer_unknown_axes);
  tcase_add_test(tc, argmax_argmin_ties);
  tcase_add_test(tc, topk_ties_stable);
  tcase_add_test(tc, topk_axis0_and_dynamic_k);
  tcase_add_test(tc, cumsum_modes);
  tcase_add_test(tc, sce_reductions);
  tcase_add_test(tc, nll_3d_and_bad_target);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(linalg_suite());
}
