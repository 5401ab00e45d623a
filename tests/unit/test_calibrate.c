/* Calibration statistics and ranges (include/sinter/calibrate.h): the range methods on seeded
 * synthetic data against analytic or NumPy answers, exact merging, the cache file, the clamps
 * and errors, and collection over the shared models' calib/ folders (skipped when absent). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sinter/calibrate.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"
#include "tests/support/graph_test.h"
#include "tests/support/model_test.h"

/* ---- helpers --------------------------------------------------------------- */

typedef struct rng_s {
  uint64_t s;
} rng_t;

/* splitmix64: a fixed-seed generator independent of libc. */
static uint64_t next_u64(rng_t *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in (0, 1), never 0. */
static double unif01(rng_t *r) { return ((next_u64(r) >> 11) + 0.5) * 0x1p-53; }

static double gauss(rng_t *r) {
  return sqrt(-2 * log(unif01(r))) * cos(6.283185307179586 * unif01(r));
}

static double laplace(rng_t *r) {
  double u = unif01(r) - 0.5;
  return u < 0 ? log(1 + 2 * u) : -log(1 - 2 * u);
}

enum { N = 256 };

/* x f32[1,N] -> y = Mul(x, c) -> z = Relu(y); c is a constant (not tracked). */
static sinter_graph_t *small_graph(float c) {
  sinter_graph_t *g;
  ok(sinter_graph_create("calib_small", &g));
  sinter_type_t t = ty(SINTER_DTYPE_F32, 2, (int64_t[]){1, N});
  sinter_type_t ts = ty(SINTER_DTYPE_F32, 0, NULL);
  sinter_value_t *x, *cv;
  ok(sinter_graph_add_input(g, "x", &t, &x));
  ok(sinter_graph_add_const(g, "c", &ts, &c, sizeof(c), &cv));
  sinter_node_t *mul, *relu;
  ok(sinter_graph_add_node(g, SINTER_OP_MUL, "mul", (sinter_value_t *[]){x, cv}, 2, 1, &mul));
  ok(sinter_value_set_name(sinter_node_output(mul, 0), "y"));
  ok(sinter_graph_add_node(g, SINTER_OP_RELU, "relu",
                           (sinter_value_t *[]){sinter_node_output(mul, 0)}, 1, 1, &relu));
  ok(sinter_value_set_name(sinter_node_output(relu, 0), "z"));
  ok(sinter_graph_add_output(g, sinter_node_output(relu, 0)));
  ok(sinter_graph_infer_shapes(g));
  return g;
}

static sinter_tensor_t f32_tensor(float *data, int64_t n) {
  sinter_tensor_t t;
  memset(&t, 0, sizeof(t));
  t.dtype = SINTER_DTYPE_F32;
  t.rank = 1;
  t.dims[0] = n;
  t.data = data;
  t.nbytes = (size_t)n * sizeof(float);
  return t;
}

/* Statistics of one synthetic 1-D data set, folded into value "x" of the small graph. */
static sinter_calib_stats_t *stats_of(sinter_graph_t *g, float *data, int64_t n) {
  sinter_calib_stats_t *s;
  ok(sinter_calib_stats_create(g, &s));
  sinter_tensor_t t = f32_tensor(data, n);
  ok(sinter_calib_stats_add_tensor(s, sinter_calib_stats_find(s, "x"), &t));
  return s;
}

static sinter_calib_range_t range_of(sinter_calib_stats_t *s, sinter_calib_method_t m, bool sym,
                                     double pct) {
  sinter_calib_range_options_t o = {.method = m, .symmetric = sym, .percentile = pct};
  sinter_calib_range_t r;
  ok(sinter_calib_compute_range(s, sinter_calib_stats_find(s, "x"), &o, &r));
  return r;
}

static char *make_tmpdir(void) {
  char *d = strdup("/tmp/sinter_calib_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(d));
  return d;
}

static void rm_rf(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

enum { MILLION = 1000000 };

/* ---- range methods ----------------------------------------------------------- */

START_TEST(minmax_is_exact) {
  sinter_graph_t *g = small_graph(2.0f);
  rng_t r = {42};
  float *x = malloc(MILLION * sizeof(float));
  float mn = INFINITY, mx = -INFINITY;
  for (int i = 0; i < MILLION; i++) {
    x[i] = (float)(gauss(&r) * 1.5 + 0.25);
    if (x[i] < mn) mn = x[i];
    if (x[i] > mx) mx = x[i];
  }
  sinter_calib_stats_t *s = stats_of(g, x, MILLION);
  sinter_calib_range_t a = range_of(s, SINTER_CALIB_MINMAX, false, 0);
  sinter_calib_range_t y = range_of(s, SINTER_CALIB_MINMAX, true, 0);
  /* Exact: the extremes are kept as seen. */
  ck_assert(a.lo == mn && a.hi == mx && a.clamp == SINTER_CALIB_CLAMP_NONE);
  ck_assert(y.hi == fmaxf(-mn, mx) && y.lo == -y.hi);
  sinter_calib_summary_t sum;
  ok(sinter_calib_stats_summary(s, sinter_calib_stats_find(s, "x"), &sum));
  ck_assert(sum.count == MILLION && sum.positives + sum.negatives + sum.zeros == MILLION);
  sinter_calib_stats_destroy(s);
  free(x);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(percentile_uniform_and_gaussian) {
  sinter_graph_t *g = small_graph(2.0f);
  rng_t r = {7};
  float *x = malloc(MILLION * sizeof(float));
  for (int i = 0; i < MILLION; i++) x[i] = (float)(2 * unif01(&r) - 1);
  sinter_calib_stats_t *s = stats_of(g, x, MILLION);
  /* |U(-1,1)| is U(0,1): its 99.99th percentile is 0.9999. The tolerance is one bin width near 1
   * (2^-1 / 64 = 0.0078); the sampling error (about 1e-5 at n = 1e6) is far below it. */
  sinter_calib_range_t p = range_of(s, SINTER_CALIB_PERCENTILE, true, 99.99);
  ck_assert_msg(fabs(p.hi - 0.9999) <= 0.0078, "p99.99 = %.6f", p.hi);
  ck_assert(p.lo == -p.hi);
  /* Asymmetric: the 0.01th and 99.99th percentiles of U(-1,1) are -0.9998 and 0.9998. */
  sinter_calib_range_t q = range_of(s, SINTER_CALIB_PERCENTILE, false, 99.99);
  ck_assert_msg(fabs(q.hi - 0.9998) <= 0.0078 && fabs(q.lo + 0.9998) <= 0.0078, "[%g, %g]", q.lo,
                q.hi);
  /* The median of |x| is 0.5; bin width at 0.5 is 0.0078. */
  sinter_calib_range_t m = range_of(s, SINTER_CALIB_PERCENTILE, true, 50);
  ck_assert_msg(fabs(m.hi - 0.5) <= 0.0078 + 0.002, "median %g", m.hi);
  sinter_calib_stats_destroy(s);

  for (int i = 0; i < MILLION; i++) x[i] = (float)gauss(&r);
  s = stats_of(g, x, MILLION);
  /* 99.99th percentile of |N(0,1)|: 3.8906 (scipy.stats.norm.ppf(0.99995)). Tolerance: the
   * sampling sd of that quantile at n = 1e6 is about 0.024, plus a bin width (2/64 = 0.031). */
  p = range_of(s, SINTER_CALIB_PERCENTILE, true, 99.99);
  ck_assert_msg(fabs(p.hi - 3.8906) <= 0.1, "gaussian p99.99 = %.4f", p.hi);
  sinter_calib_stats_destroy(s);
  free(x);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(entropy_and_mse_clip_heavy_tails_only) {
  sinter_graph_t *g = small_graph(2.0f);
  rng_t r = {1234};
  float *x = malloc(MILLION * sizeof(float));
  for (int i = 0; i < MILLION; i++) x[i] = (float)(2 * unif01(&r) - 1);
  sinter_calib_stats_t *s = stats_of(g, x, MILLION);
  float amax = range_of(s, SINTER_CALIB_MINMAX, true, 0).hi;
  sinter_calib_range_t e = range_of(s, SINTER_CALIB_ENTROPY, true, 0);
  sinter_calib_range_t m = range_of(s, SINTER_CALIB_MSE, true, 0);
  /* Uniform data has no tail worth clipping: both stay within 2% of the maximum. NumPy's
   * brute-force MSE optimum for U(-1,1) on a 255-level grid is 0.997 of the max. */
  printf("uniform: max %.4f entropy %.4f mse %.4f\n", amax, e.hi, m.hi);
  ck_assert_msg(e.hi >= 0.98f * amax && e.hi <= amax * 1.0001f, "entropy %g of %g", e.hi, amax);
  ck_assert_msg(m.hi >= 0.98f * amax && m.hi <= amax * 1.0001f, "mse %g of %g", m.hi, amax);
  sinter_calib_stats_destroy(s);

  for (int i = 0; i < MILLION; i++) x[i] = (float)laplace(&r);
  s = stats_of(g, x, MILLION);
  amax = range_of(s, SINTER_CALIB_MINMAX, true, 0).hi;
  e = range_of(s, SINTER_CALIB_ENTROPY, true, 0);
  m = range_of(s, SINTER_CALIB_MSE, true, 0);
  printf("laplace: max %.4f entropy %.4f mse %.4f\n", amax, e.hi, m.hi);
  /* Laplace(1), 1e6 samples: max is about 14. A brute-force NumPy search over clip thresholds
   * (np.rint on a 127-step grid, seed-independent to 0.1) puts the MSE optimum at 9.85, which
   * matches ACIQ's analytic 9.89 for 8 bits; the histogram estimate may sit within 1.0 of it
   * because the cost curve is flat there. Entropy must clip well below the max too. */
  ck_assert_msg(fabs(m.hi - 9.85) <= 1.0, "mse threshold %g", m.hi);
  ck_assert_msg(e.hi < 0.8f * amax && e.hi > 2.0f, "entropy threshold %g of %g", e.hi, amax);
  /* Asymmetric entropy and mse on two-sided data clip both ends. */
  sinter_calib_range_t ea = range_of(s, SINTER_CALIB_ENTROPY, false, 0);
  sinter_calib_range_t ma = range_of(s, SINTER_CALIB_MSE, false, 0);
  ck_assert(ea.lo < -2 && ea.hi > 2 && ea.hi < 0.8f * amax && ea.lo > -0.8f * amax);
  ck_assert(ma.lo < -2 && ma.hi > 2 && ma.hi < 0.8f * amax && ma.lo > -0.8f * amax);
  sinter_calib_stats_destroy(s);

  /* One-sided (post-ReLU-like) data: the asymmetric entropy range starts at the data's minimum
   * and clips only the top. */
  for (int i = 0; i < MILLION; i++) x[i] = i % 2 ? fabsf((float)laplace(&r)) : 0.0f;
  s = stats_of(g, x, MILLION);
  ea = range_of(s, SINTER_CALIB_ENTROPY, false, 0);
  amax = range_of(s, SINTER_CALIB_MINMAX, false, 0).hi;
  printf("one-sided laplace: max %.4f entropy [%g, %.4f]\n", amax, ea.lo, ea.hi);
  /* With all 255 levels on one side the KL search clips less than with 128 (11.8 of 12.8). */
  ck_assert_msg(ea.lo == 0 && ea.hi > 2 && ea.hi < 0.95f * amax, "[%g, %g] of %g", ea.lo, ea.hi,
                amax);
  sinter_calib_stats_destroy(s);
  free(x);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(clamps_and_errors) {
  sinter_graph_t *g = small_graph(2.0f);
  sinter_calib_stats_t *s;
  ok(sinter_calib_stats_create(g, &s));
  ck_assert_int_eq(sinter_calib_stats_num_values(s), 3); /* x, y, z; the constant c is skipped */
  ck_assert_int_eq(sinter_calib_stats_find(s, "c"), -1);
  int32_t ix = sinter_calib_stats_find(s, "x"), iy = sinter_calib_stats_find(s, "y");
  sinter_calib_range_options_t o = {.method = SINTER_CALIB_ENTROPY, .symmetric = true};
  sinter_calib_range_t r;
  /* No data: the documented +-1e-8. */
  ok(sinter_calib_compute_range(s, ix, &o, &r));
  ck_assert(r.clamp == SINTER_CALIB_CLAMP_EMPTY && r.hi == 1e-8f && r.lo == -1e-8f);
  /* Constant data 3.5: [-3.5, 3.5] symmetric, [0, 3.5] asymmetric, for every method. */
  float c[64];
  for (int i = 0; i < 64; i++) c[i] = 3.5f;
  sinter_tensor_t t = f32_tensor(c, 64);
  ok(sinter_calib_stats_add_tensor(s, ix, &t));
  for (int m = SINTER_CALIB_MINMAX; m <= SINTER_CALIB_MSE; m++) {
    o.method = (sinter_calib_method_t)m;
    o.symmetric = true;
    ok(sinter_calib_compute_range(s, ix, &o, &r));
    ck_assert(r.clamp == SINTER_CALIB_CLAMP_CONSTANT && r.lo == -3.5f && r.hi == 3.5f);
    o.symmetric = false;
    ok(sinter_calib_compute_range(s, ix, &o, &r));
    ck_assert(r.clamp == SINTER_CALIB_CLAMP_CONSTANT && r.lo == 0 && r.hi == 3.5f);
  }
  /* All zeros: widened to +-1e-8 so that a scale is never 0. */
  memset(c, 0, sizeof(c));
  c[3] = -0.0f;
  ok(sinter_calib_stats_add_tensor(s, iy, &t));
  for (int sym = 0; sym < 2; sym++) {
    o.symmetric = sym;
    o.method = SINTER_CALIB_PERCENTILE;
    ok(sinter_calib_compute_range(s, iy, &o, &r));
    ck_assert(r.clamp == SINTER_CALIB_CLAMP_CONSTANT && r.lo == -1e-8f && r.hi == 1e-8f);
    float scale = (r.hi - r.lo) / 255;
    ck_assert(scale > 0 && isfinite(scale));
  }
  /* NaN and Inf name the value and the element, and leave the statistics unchanged. */
  c[5] = NAN;
  sinter_status_t st = sinter_calib_stats_add_tensor(s, ix, &t);
  ck_assert_ptr_nonnull(st);
  ck_assert_msg(strstr(sinter_status_message(st), "'x'") &&
                    strstr(sinter_status_message(st), "NaN at element 5"),
                "%s", sinter_status_message(st));
  sinter_status_free(st);
  c[5] = INFINITY;
  st = sinter_calib_stats_add_tensor(s, ix, &t);
  ck_assert(st && strstr(sinter_status_message(st), "Inf at element 5"));
  sinter_status_free(st);
  sinter_calib_summary_t sum;
  ok(sinter_calib_stats_summary(s, ix, &sum));
  ck_assert(sum.count == 64 && sum.min == 3.5f);
  /* Bad options. */
  o.method = SINTER_CALIB_PERCENTILE;
  o.percentile = 120;
  st = sinter_calib_compute_range(s, ix, &o, &r);
  ck_assert(st && sinter_status_code(st) == SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  sinter_calib_method_t m;
  ok(sinter_calib_method_from_name("mse", &m));
  ck_assert(m == SINTER_CALIB_MSE);
  st = sinter_calib_method_from_name("kl", &m);
  ck_assert(st != NULL);
  sinter_status_free(st);
  sinter_calib_stats_destroy(s);
  sinter_graph_destroy(g);
}
END_TEST

/* A NaN made inside the graph (Sqrt of a negative) names the node's output value and node. */
START_TEST(nan_inside_graph_names_value) {
  sinter_graph_t *g;
  ok(sinter_graph_create("calib_sqrt", &g));
  sinter_type_t t = ty(SINTER_DTYPE_F32, 1, (int64_t[]){4});
  sinter_value_t *x;
  ok(sinter_graph_add_input(g, "x", &t, &x));
  sinter_node_t *n;
  ok(sinter_graph_add_node(g, SINTER_OP_SQRT, "root", (sinter_value_t *[]){x}, 1, 1, &n));
  ok(sinter_value_set_name(sinter_node_output(n, 0), "r"));
  ok(sinter_graph_add_output(g, sinter_node_output(n, 0)));
  ok(sinter_graph_infer_shapes(g));
  sinter_calib_stats_t *s;
  ok(sinter_calib_stats_create(g, &s));
  float d[4] = {1, 4, -1, 9};
  sinter_tensor_t in = f32_tensor(d, 4);
  sinter_status_t st = sinter_calib_observe(s, g, &in, 1);
  ck_assert_ptr_nonnull(st);
  const char *msg = sinter_status_message(st);
  ck_assert_msg(strstr(msg, "'r'") && strstr(msg, "NaN at element 2") && strstr(msg, "root"),
                "%s", msg);
  sinter_status_free(st);
  sinter_calib_stats_destroy(s);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- collection, merge and cache ------------------------------------------------ */

static void write_sample(const char *dir, const char *name, rng_t *r, float scale) {
  float d[N];
  for (int i = 0; i < N; i++) d[i] = (float)(laplace(r) * scale);
  sinter_tensor_t t = f32_tensor(d, N);
  t.rank = 2;
  t.dims[0] = 1;
  t.dims[1] = N;
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  ok(sinter_npy_write_file(path, &t));
}

static sinter_calib_stats_t *collect_dir(sinter_graph_t *g, const char *dir) {
  sinter_calib_stats_t *s;
  sinter_calib_samples_t *smp;
  ok(sinter_calib_stats_create(g, &s));
  ok(sinter_calib_samples_open(g, dir, &smp));
  sinter_calib_collect_options_t o = {.no_progress_bar = true};
  ok(sinter_calib_collect(g, smp, &o, s));
  sinter_calib_samples_close(smp);
  return s;
}

static void count_progress(void *user, int64_t done, int64_t total) {
  int64_t *calls = user;
  ck_assert_int_eq(done, calls[0] + 1);
  calls[0] = done;
  calls[1] = total;
}

START_TEST(merge_equals_union_bit_for_bit) {
  sinter_graph_t *g = small_graph(2.0f);
  char *a = make_tmpdir(), *b = make_tmpdir(), *u = make_tmpdir();
  rng_t r = {99};
  char name[64];
  /* B has a wider scale so that its extremes and new bins matter in the merge. */
  for (int i = 0; i < 5; i++) {
    rng_t keep = r;
    snprintf(name, sizeof(name), "a%02d.npy", i);
    write_sample(a, name, &r, 1.0f);
    write_sample(u, name, &keep, 1.0f);
  }
  for (int i = 0; i < 7; i++) {
    rng_t keep = r;
    snprintf(name, sizeof(name), "b%02d.npy", i);
    write_sample(b, name, &r, 3.0f);
    write_sample(u, name, &keep, 3.0f);
  }
  sinter_calib_stats_t *sa = collect_dir(g, a), *sb = collect_dir(g, b), *su = collect_dir(g, u);
  ck_assert(sinter_calib_stats_num_samples(su) == 12);
  ck_assert(!sinter_calib_stats_equal(sa, su));
  ok(sinter_calib_stats_merge(sa, sb));
  ck_assert_msg(sinter_calib_stats_equal(sa, su), "merge(A,B) differs from collect(A u B)");
  /* The other order too, and through a cache file round trip. */
  sinter_calib_stats_t *sb2 = collect_dir(g, b), *sa2 = collect_dir(g, a);
  ok(sinter_calib_stats_merge(sb2, sa2));
  ck_assert(sinter_calib_stats_equal(sb2, su));
  char path[512];
  snprintf(path, sizeof(path), "%s/merged.cache", u);
  ok(sinter_calib_stats_save(sa, path));
  sinter_calib_stats_t *ld;
  ok(sinter_calib_stats_load(g, path, &ld));
  ck_assert(sinter_calib_stats_equal(ld, su));
  sinter_calib_range_options_t o = {.method = SINTER_CALIB_ENTROPY, .symmetric = true};
  for (int32_t i = 0; i < sinter_calib_stats_num_values(su); i++) {
    sinter_calib_range_t r1, r2;
    ok(sinter_calib_compute_range(ld, i, &o, &r1));
    ok(sinter_calib_compute_range(su, i, &o, &r2));
    ck_assert(r1.lo == r2.lo && r1.hi == r2.hi);
  }
  /* Progress callback: one call per sample, in order. */
  sinter_calib_samples_t *smp;
  int64_t calls[2] = {0, 0};
  snprintf(path, sizeof(path), "%s", a);
  ok(sinter_calib_samples_open(g, path, &smp));
  sinter_calib_collect_options_t co = {.progress = count_progress, .progress_user = calls};
  sinter_calib_stats_t *sp;
  ok(sinter_calib_stats_create(g, &sp));
  ok(sinter_calib_collect(g, smp, &co, sp));
  ck_assert(calls[0] == 5 && calls[1] == 5);
  sinter_calib_samples_close(smp);
  /* One .npy with a batch axis: rows are samples, equal to the folder of the same rows. */
  float rows[12][N];
  rng_t r2 = {99};
  for (int i = 0; i < 12; i++)
    for (int k = 0; k < N; k++) rows[i][k] = (float)(laplace(&r2) * (i < 5 ? 1.0f : 3.0f));
  sinter_tensor_t bt = f32_tensor(&rows[0][0], 12 * N);
  bt.rank = 2;
  bt.dims[0] = 12;
  bt.dims[1] = N;
  snprintf(path, sizeof(path), "%s/batch.npy", b);
  ok(sinter_npy_write_file(path, &bt));
  sinter_calib_stats_t *sbat = collect_dir(g, path);
  ck_assert(sinter_calib_stats_equal(sbat, su));
  sinter_calib_stats_destroy(sbat);
  sinter_calib_stats_destroy(sp);
  sinter_calib_stats_destroy(ld);
  sinter_calib_stats_destroy(sa);
  sinter_calib_stats_destroy(sb);
  sinter_calib_stats_destroy(sa2);
  sinter_calib_stats_destroy(sb2);
  sinter_calib_stats_destroy(su);
  rm_rf(a);
  rm_rf(b);
  rm_rf(u);
  free(a);
  free(b);
  free(u);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(cache_refuses_other_graph_and_corruption) {
  sinter_graph_t *g = small_graph(2.0f), *g3 = small_graph(3.0f);
  uint64_t h2, h3, h2b;
  ok(sinter_calib_graph_hash(g, &h2));
  ok(sinter_calib_graph_hash(g3, &h3));
  sinter_graph_t *g2b = small_graph(2.0f);
  ok(sinter_calib_graph_hash(g2b, &h2b));
  ck_assert(h2 == h2b && h2 != h3); /* only the constant differs */
  char *dir = make_tmpdir(), path[512];
  snprintf(path, sizeof(path), "%s/x.cache", dir);
  rng_t r = {5};
  float d[N];
  for (int i = 0; i < N; i++) d[i] = (float)gauss(&r);
  sinter_calib_stats_t *s;
  ok(sinter_calib_stats_create(g, &s));
  sinter_tensor_t in = f32_tensor(d, N);
  in.rank = 2;
  in.dims[0] = 1;
  in.dims[1] = N;
  ok(sinter_calib_observe(s, g, &in, 1));
  ok(sinter_calib_stats_save(s, path));
  sinter_calib_stats_t *ld = NULL;
  sinter_status_t st = sinter_calib_stats_load(g3, path, &ld);
  ck_assert_ptr_nonnull(st);
  ck_assert_ptr_null(ld);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  ck_assert_msg(strstr(sinter_status_message(st), "different graph"), "%s",
                sinter_status_message(st));
  sinter_status_free(st);
  /* Merging across graphs is refused too. */
  sinter_calib_stats_t *s3;
  ok(sinter_calib_stats_create(g3, &s3));
  st = sinter_calib_stats_merge(s3, s);
  ck_assert(st && sinter_status_code(st) == SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  /* Corrupt: flip one byte in the middle; truncate. */
  void *buf;
  size_t len;
  ok(sinter_read_file(path, &buf, &len));
  ((unsigned char *)buf)[len / 2] ^= 0x40;
  ok(sinter_write_file_atomic(path, buf, len));
  st = sinter_calib_stats_load(g, path, &ld);
  ck_assert(st && sinter_status_code(st) == SINTER_INVALID_MODEL);
  sinter_status_free(st);
  ((unsigned char *)buf)[len / 2] ^= 0x40;
  ok(sinter_write_file_atomic(path, buf, len - 3));
  st = sinter_calib_stats_load(g, path, &ld);
  ck_assert(st && sinter_status_code(st) == SINTER_INVALID_MODEL);
  sinter_status_free(st);
  ok(sinter_write_file_atomic(path, buf, len));
  ok(sinter_calib_stats_load(g, path, &ld));
  ck_assert(sinter_calib_stats_equal(ld, s));
  free(buf);
  sinter_calib_stats_destroy(ld);
  sinter_calib_stats_destroy(s);
  sinter_calib_stats_destroy(s3);
  rm_rf(dir);
  free(dir);
  sinter_graph_destroy(g);
  sinter_graph_destroy(g2b);
  sinter_graph_destroy(g3);
}
END_TEST

/* Two inputs, one subfolder per sample, files named by input name or input_K. */
START_TEST(subfolder_layout_for_two_inputs) {
  sinter_graph_t *g;
  ok(sinter_graph_create("calib_two", &g));
  sinter_type_t t = ty(SINTER_DTYPE_F32, 1, (int64_t[]){3});
  sinter_value_t *a, *b;
  ok(sinter_graph_add_input(g, "a", &t, &a));
  ok(sinter_graph_add_input(g, "b", &t, &b));
  sinter_node_t *n;
  ok(sinter_graph_add_node(g, SINTER_OP_ADD, "add", (sinter_value_t *[]){a, b}, 2, 1, &n));
  ok(sinter_graph_add_output(g, sinter_node_output(n, 0)));
  ok(sinter_graph_infer_shapes(g));
  char *dir = make_tmpdir(), p[512];
  float va[2][3] = {{1, 2, 3}, {-4, 5, 6}}, vb[2][3] = {{10, 20, 30}, {0.5f, 0.25f, 7}};
  for (int s = 0; s < 2; s++) {
    snprintf(p, sizeof(p), "%s/s%d", dir, s);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    sinter_tensor_t ta = f32_tensor(va[s], 3), tb = f32_tensor(vb[s], 3);
    snprintf(p, sizeof(p), "%s/s%d/a.npy", dir, s);
    ok(sinter_npy_write_file(p, &ta));
    snprintf(p, sizeof(p), "%s/s%d/input_1.pb", dir, s);
    ok(sinter_onnx_write_tensor_file(p, &tb, "b"));
  }
  sinter_calib_stats_t *st = collect_dir(g, dir);
  sinter_calib_summary_t sa, sb, so;
  ok(sinter_calib_stats_summary(st, 0, &sa));
  ok(sinter_calib_stats_summary(st, 1, &sb));
  ok(sinter_calib_stats_summary(st, 2, &so));
  /* Hand-computed: a in [-4, 6], b in [0.25, 30], a+b in [0.5+... ] = {11,22,33,-3.5,5.25,13}. */
  ck_assert(sa.min == -4 && sa.max == 6 && sb.min == 0.25f && sb.max == 30);
  ck_assert(so.min == -3.5f && so.max == 33 && so.count == 6);
  sinter_calib_stats_destroy(st);
  /* A flat folder cannot feed two inputs. */
  snprintf(p, sizeof(p), "%s/s0", dir);
  sinter_calib_samples_t *smp;
  sinter_status_t e = sinter_calib_samples_open(g, p, &smp);
  ck_assert_msg(e && strstr(sinter_status_message(e), "one input"), "%s",
                e ? sinter_status_message(e) : "no error");
  sinter_status_free(e);
  rm_rf(dir);
  free(dir);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- shared models ---------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

START_TEST(digits_cnn_collect_and_cache) {
  char model[1024], calib[1024];
  snprintf(model, sizeof(model), "%s/digits_cnn/model.onnx", models_dir());
  snprintf(calib, sizeof(calib), "%s/digits_cnn/calib", models_dir());
  if (!exists(model) || !exists(calib)) {
    printf("digits_cnn_collect_and_cache: skipped, %s absent\n", model);
    return;
  }
  sinter_graph_t *g;
  ok(sinter_onnx_import_file(model, &g));
  sinter_calib_stats_t *s;
  sinter_calib_samples_t *smp;
  ok(sinter_calib_stats_create(g, &s));
  ok(sinter_calib_samples_open(g, calib, &smp));
  ck_assert_int_eq(sinter_calib_samples_count(smp), 64);
  double t0 = now_s();
  ok(sinter_calib_collect(g, smp, NULL, s));
  double t_collect = now_s() - t0;
  sinter_calib_samples_close(smp);
  char *dir = make_tmpdir(), path[512];
  snprintf(path, sizeof(path), "%s/digits.cache", dir);
  ok(sinter_calib_stats_save(s, path));
  t0 = now_s();
  sinter_calib_stats_t *ld;
  ok(sinter_calib_stats_load(g, path, &ld));
  double t_load = now_s() - t0;
  ck_assert(sinter_calib_stats_equal(ld, s));
  int32_t nv = sinter_calib_stats_num_values(s), n_ranges = 0;
  for (int32_t i = 0; i < nv; i++) {
    sinter_calib_summary_t sum;
    ok(sinter_calib_stats_summary(s, i, &sum));
    ck_assert(sum.count > 0);
    for (int m = SINTER_CALIB_MINMAX; m <= SINTER_CALIB_MSE; m++) {
      sinter_calib_range_options_t o = {.method = (sinter_calib_method_t)m, .symmetric = true};
      sinter_calib_range_t r;
      ok(sinter_calib_compute_range(ld, i, &o, &r));
      /* Every method stays inside the extremes seen (up to float rounding of the bound). */
      ck_assert(r.hi > 0 && r.hi <= fmaxf(-sum.min, sum.max) * 1.000001f);
      n_ranges++;
      if (m == SINTER_CALIB_ENTROPY)
        printf("  %-28s min %9.4f max %9.4f  entropy +-%.4f\n", sinter_calib_stats_value_name(s, i),
               sum.min, sum.max, r.hi);
    }
  }
  printf("digits_cnn: %d values, %d ranges; collect over 64 samples %.3f s, cached load %.4f s\n",
         nv, n_ranges, t_collect, t_load);
  ck_assert(nv >= 5);
  /* The cache of this model is refused for another graph. */
  sinter_graph_t *other = small_graph(2.0f);
  sinter_calib_stats_t *bad = NULL;
  sinter_status_t st = sinter_calib_stats_load(other, path, &bad);
  ck_assert(st && strstr(sinter_status_message(st), "different graph"));
  sinter_status_free(st);
  sinter_graph_destroy(other);
  sinter_calib_stats_destroy(ld);
  sinter_calib_stats_destroy(s);
  rm_rf(dir);
  free(dir);
  sinter_graph_destroy(g);
}
END_TEST

/* Resident set size now, from /proc/self/statm; -1 where unavailable. */
static double current_rss_mib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size, res;
  if (!f) return -1;
  int n = fscanf(f, "%ld %ld", &size, &res);
  fclose(f);
  return n == 2 ? res * (double)sysconf(_SC_PAGESIZE) / 1048576.0 : -1;
}

START_TEST(resnet18_memory) {
#if defined(__SANITIZE_ADDRESS__)
  printf("resnet18_memory: skipped under AddressSanitizer (RSS is not meaningful there)\n");
  return;
#endif
  char model[1024], calib[1024];
  snprintf(model, sizeof(model), "%s/resnet18/model.onnx", models_dir());
  snprintf(calib, sizeof(calib), "%s/resnet18/calib", models_dir());
  if (!exists(model) || !exists(calib)) {
    printf("resnet18_memory: skipped, %s absent\n", model);
    return;
  }
  sinter_graph_t *g;
  ok(sinter_onnx_import_file(model, &g));
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long peak_import = ru.ru_maxrss;
  double rss_before = current_rss_mib();
  sinter_calib_stats_t *s;
  sinter_calib_samples_t *smp;
  ok(sinter_calib_stats_create(g, &s));
  ok(sinter_calib_samples_open(g, calib, &smp));
  sinter_calib_collect_options_t o = {.max_samples = 16};
  double t0 = now_s();
  ok(sinter_calib_collect(g, smp, &o, s));
  double t = now_s() - t0;
  sinter_calib_samples_close(smp);
  ck_assert(sinter_calib_stats_num_samples(s) == 16);
  double rss_after = current_rss_mib();
  getrusage(RUSAGE_SELF, &ru);
  printf("resnet18: %d values calibrated on 16 samples in %.1f s; peak RSS %.1f MiB overall, "
         "%.1f MiB by the end of the ONNX import; RSS %.1f MiB after import, %.1f MiB after "
         "collect (model.onnx is %.1f MiB)\n",
         sinter_calib_stats_num_values(s), t, ru.ru_maxrss / 1024.0, peak_import / 1024.0,
         rss_before, rss_after, 46748532 / 1048576.0);
  char *dir = make_tmpdir(), path[512];
  snprintf(path, sizeof(path), "%s/resnet18.cache", dir);
  ok(sinter_calib_stats_save(s, path));
  t0 = now_s();
  sinter_calib_stats_t *ld;
  ok(sinter_calib_stats_load(g, path, &ld));
  printf("resnet18: cached load (graph hash included) %.3f s vs collect %.1f s\n", now_s() - t0,
         t);
  ck_assert(sinter_calib_stats_equal(ld, s));
  sinter_calib_stats_destroy(ld);
  rm_rf(dir);
  free(dir);
  sinter_calib_stats_destroy(s);
  sinter_graph_destroy(g);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("calibrate");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, minmax_is_exact);
  tcase_add_test(tc, percentile_uniform_and_gaussian);
  tcase_add_test(tc, entropy_and_mse_clip_heavy_tails_only);
  tcase_add_test(tc, clamps_and_errors);
  tcase_add_test(tc, nan_inside_graph_names_value);
  tcase_add_test(tc, merge_equals_union_bit_for_bit);
  tcase_add_test(tc, cache_refuses_other_graph_and_corruption);
  tcase_add_test(tc, subfolder_layout_for_two_inputs);
  tcase_add_test(tc, digits_cnn_collect_and_cache);
  tcase_add_test(tc, resnet18_memory);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return run_suite(suite()); }
