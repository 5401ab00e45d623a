/* libsinter_rt: sessions over a hand-written artifact (tests/runtime/
 * fake_artifact.c), input checks, ABI-version and load errors, concurrent
 * runs, and the library's dependencies. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinter/ir.h"
#include "sinter/runtime.h"
#include "tests/support/check_main.h"

/* The ABI's dtype numbering is sinter_dtype_t's, on purpose. */
_Static_assert(SINTER_ART_F32 == (int)SINTER_DTYPE_F32, "f32");
_Static_assert(SINTER_ART_F16 == (int)SINTER_DTYPE_F16, "f16");
_Static_assert(SINTER_ART_BF16 == (int)SINTER_DTYPE_BF16, "bf16");
_Static_assert(SINTER_ART_F8E4M3 == (int)SINTER_DTYPE_F8E4M3, "f8e4m3");
_Static_assert(SINTER_ART_F64 == (int)SINTER_DTYPE_F64, "f64");
_Static_assert(SINTER_ART_I64 == (int)SINTER_DTYPE_I64, "i64");
_Static_assert(SINTER_ART_I32 == (int)SINTER_DTYPE_I32, "i32");
_Static_assert(SINTER_ART_I16 == (int)SINTER_DTYPE_I16, "i16");
_Static_assert(SINTER_ART_I8 == (int)SINTER_DTYPE_I8, "i8");
_Static_assert(SINTER_ART_U8 == (int)SINTER_DTYPE_U8, "u8");
_Static_assert(SINTER_ART_U16 == (int)SINTER_DTYPE_U16, "u16");
_Static_assert(SINTER_ART_U32 == (int)SINTER_DTYPE_U32, "u32");
_Static_assert(SINTER_ART_U64 == (int)SINTER_DTYPE_U64, "u64");
_Static_assert(SINTER_ART_I4 == (int)SINTER_DTYPE_I4, "i4");
_Static_assert(SINTER_ART_U4 == (int)SINTER_DTYPE_U4, "u4");
_Static_assert(SINTER_ART_BOOL == (int)SINTER_DTYPE_BOOL, "bool");
_Static_assert(SINTER_ART_DTYPE_COUNT == (int)SINTER_DTYPE_COUNT, "count");

/* The fake artifact's weights, restated here; the reference below computes
 * in double, independently of the artifact's float loop. */
static const double W[4][3] = {
    {0.5, -1.0, 2.0}, {1.0, 0.25, -0.5}, {-2.0, 1.5, 0.0}, {0.75, 0.0, 1.0}};
static const double B[3] = {0.1, -0.2, 0.3};

/* |x|, |W| and |b| stay below 10, so the artifact's float sums of 4 products
 * are within a few ulps of 100 (~1e-5) of the double reference. */
#define TOL 1e-4

static void reference(const float *x, int64_t batch, double *y, int64_t *argmax) {
  for (int64_t i = 0; i < batch; i++) {
    int64_t best = 0;
    for (int j = 0; j < 3; j++) {
      double acc = B[j];
      for (int k = 0; k < 4; k++) acc += (double)x[i * 4 + k] * W[k][j];
      y[i * 3 + j] = acc > 0 ? acc : 0;
      if (y[i * 3 + j] > y[i * 3 + best]) best = j;
    }
    argmax[i] = best;
  }
}

static void fill_input(float *x, int64_t batch, unsigned seed) {
  for (int64_t i = 0; i < batch * 4; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((int)((seed >> 16) % 1601) - 800) / 100.0f; /* -8 .. 8, step 0.01 */
  }
}

static sinter_rt_session_t *open_fake(int threads) {
  sinter_rt_options_t opts = {.num_threads = threads};
  sinter_rt_session_t *s = NULL;
  sinter_status_t st = sinter_rt_session_create(FAKE_ARTIFACT, &opts, &s);
  ck_assert_msg(st == NULL, "create: %s", sinter_status_message(st));
  return s;
}

static sinter_rt_tensor_t input_x(float *x, int64_t batch) {
  sinter_rt_tensor_t t = {.dtype = SINTER_ART_F32,
                          .rank = 2,
                          .dims = {batch, 4},
                          .data = x,
                          .nbytes = (size_t)batch * 4 * sizeof(float)};
  return t;
}

/* Runs with runtime-allocated outputs and checks them against the reference. */
static void run_and_check(sinter_rt_session_t *s, int64_t batch, unsigned seed) {
  float *x = malloc((size_t)batch * 4 * sizeof(float));
  double *ry = malloc((size_t)batch * 3 * sizeof(double));
  int64_t *ra = malloc((size_t)batch * sizeof(int64_t));
  ck_assert(x && ry && ra);
  fill_input(x, batch, seed);
  reference(x, batch, ry, ra);
  sinter_rt_tensor_t in = input_x(x, batch);
  sinter_rt_tensor_t out[2];
  memset(out, 0, sizeof(out));
  sinter_status_t st = sinter_rt_session_run(s, &in, 1, out, 2);
  ck_assert_msg(st == NULL, "run: %s", sinter_status_message(st));
  ck_assert_int_eq(out[0].dtype, SINTER_ART_F32);
  ck_assert_int_eq(out[0].rank, 2);
  ck_assert_int_eq(out[0].dims[0], batch);
  ck_assert_int_eq(out[0].dims[1], 3);
  ck_assert_uint_eq(out[0].nbytes, (size_t)batch * 3 * sizeof(float));
  ck_assert_int_eq(out[1].dtype, SINTER_ART_I64);
  ck_assert_int_eq(out[1].rank, 1);
  ck_assert_int_eq(out[1].dims[0], batch);
  const float *y = out[0].data;
  const int64_t *am = out[1].data;
  for (int64_t i = 0; i < batch * 3; i++)
    ck_assert_msg(fabs(y[i] - ry[i]) <= TOL, "y[%lld] = %g, expected %g", (long long)i, y[i],
                  ry[i]);
  /* A near-tie may resolve differently in float than in double: accept any
   * index whose reference value is within TOL of the reference maximum. */
  for (int64_t i = 0; i < batch; i++) {
    ck_assert(am[i] >= 0 && am[i] < 3);
    ck_assert_msg(am[i] == ra[i] || fabs(ry[i * 3 + am[i]] - ry[i * 3 + ra[i]]) <= TOL,
                  "argmax[%lld] = %lld, expected %lld", (long long)i, (long long)am[i],
                  (long long)ra[i]);
  }
  free(out[0].data);
  free(out[1].data);
  free(x);
  free(ry);
  free(ra);
}

START_TEST(hand_computed_row) {
  /* x = [1 2 3 4]: pre = [0.1+0.5+2-6+3, -0.2-1+0.5+4.5, 0.3+2-1+4] = [-0.4, 3.8, 5.3]. */
  sinter_rt_session_t *s = open_fake(1);
  float x[4] = {1, 2, 3, 4};
  float y[3] = {-1, -1, -1};
  int64_t am = -1;
  sinter_rt_tensor_t in = input_x(x, 1);
  sinter_rt_tensor_t out[2] = {{.data = y, .nbytes = sizeof(y)}, {.data = &am, .nbytes = 8}};
  sinter_status_t st = sinter_rt_session_run(s, &in, 1, out, 2);
  ck_assert_msg(st == NULL, "run: %s", sinter_status_message(st));
  ck_assert_ptr_eq(out[0].data, y); /* the caller's buffer is used */
  ck_assert_float_eq_tol(y[0], 0.0f, 1e-6f);
  ck_assert_float_eq_tol(y[1], 3.8f, 1e-5f);
  ck_assert_float_eq_tol(y[2], 5.3f, 1e-5f);
  ck_assert_int_eq(am, 2);
  sinter_rt_session_destroy(s);
}
END_TEST

START_TEST(batches_1_and_5) {
  sinter_rt_session_t *s = open_fake(1);
  run_and_check(s, 1, 7);
  run_and_check(s, 5, 8);
  run_and_check(s, 1, 9); /* a smaller batch after a larger one reuses the arena */
  sinter_rt_session_destroy(s);
}
END_TEST

START_TEST(arena_size_callback) {
  /* Under ASan the artifact's memset of the whole arena catches a runtime
   * that ignores the callback (the fixed sizes are 0 in this variant). */
  sinter_rt_session_t *s = NULL;
  sinter_status_t st = sinter_rt_session_create(FAKE_ARTIFACT_CB, NULL, &s);
  ck_assert_msg(st == NULL, "create: %s", sinter_status_message(st));
  ck_assert_ptr_nonnull(sinter_rt_session_artifact(s)->arena_size);
  run_and_check(s, 1, 21);
  run_and_check(s, 5, 22);
  run_and_check(s, 64, 23);
  sinter_rt_session_destroy(s);
}
END_TEST

START_TEST(two_threads) {
  sinter_rt_session_t *s = open_fake(2);
  ck_assert_int_eq(sinter_rt_session_num_threads(s), 2);
  run_and_check(s, 1, 1);
  run_and_check(s, 5, 2);
  run_and_check(s, 257, 3);
  sinter_rt_session_destroy(s);
}
END_TEST

START_TEST(descriptor_getters) {
  sinter_rt_session_t *s = open_fake(1);
  const sinter_artifact_t *a = sinter_rt_session_artifact(s);
  ck_assert_uint_eq(a->abi_version, SINTER_ARTIFACT_ABI_VERSION);
  ck_assert_str_eq(a->model_name, "fake_linear_relu");
  ck_assert_str_eq(a->recipe, "hand-written");
  ck_assert_uint_eq(sinter_rt_session_num_inputs(s), 1);
  ck_assert_uint_eq(sinter_rt_session_num_outputs(s), 2);
  const sinter_art_tensor_t *x = sinter_rt_session_input(s, 0);
  ck_assert_str_eq(x->name, "x");
  ck_assert_int_eq(x->dtype, SINTER_ART_F32);
  ck_assert_int_eq(x->rank, 2);
  ck_assert_int_eq(x->dims[0], SINTER_ART_DYNAMIC);
  ck_assert_int_eq(x->dims[1], 4);
  ck_assert_str_eq(sinter_rt_session_output(s, 1)->name, "argmax");
  ck_assert_ptr_null(sinter_rt_session_input(s, 1));
  ck_assert_ptr_null(sinter_rt_session_output(s, 2));
  ck_assert_str_eq(sinter_rt_dtype_name(SINTER_ART_I64), "i64");
  sinter_rt_session_destroy(s);
}
END_TEST

/* Expects st to fail with code and a message containing needle. */
static void expect_error(sinter_status_t st, sinter_status_code_t code, const char *needle) {
  ck_assert_msg(st != NULL, "expected an error containing '%s'", needle);
  ck_assert_msg(strstr(sinter_status_message(st), needle), "message '%s' lacks '%s'",
                sinter_status_message(st), needle);
  ck_assert_int_eq(sinter_status_code(st), code);
  sinter_status_free(st);
}

START_TEST(input_errors) {
  sinter_rt_session_t *s = open_fake(2);
  float x[8] = {0};
  float y[6];
  int64_t am[2];
  sinter_rt_tensor_t out[2];
  sinter_rt_tensor_t in = input_x(x, 2);
  memset(out, 0, sizeof(out));
  expect_error(sinter_rt_session_run(s, &in, 0, out, 2), SINTER_INVALID_ARGUMENT,
               "takes 1 inputs, got 0");
  sinter_rt_tensor_t two[2] = {in, in};
  expect_error(sinter_rt_session_run(s, two, 2, out, 2), SINTER_INVALID_ARGUMENT,
               "takes 1 inputs, got 2");
  in.dtype = SINTER_ART_I32;
  expect_error(sinter_rt_session_run(s, &in, 1, out, 2), SINTER_INVALID_ARGUMENT,
               "input 0 'x': dtype f32 expected, got i32");
  in = input_x(x, 2);
  in.rank = 3;
  expect_error(sinter_rt_session_run(s, &in, 1, out, 2), SINTER_INVALID_ARGUMENT,
               "rank 2 expected, got 3");
  in = input_x(x, 2);
  in.dims[1] = 5;
  expect_error(sinter_rt_session_run(s, &in, 1, out, 2), SINTER_INVALID_ARGUMENT,
               "dimension 1 is 5, expected 4");
  in = input_x(x, 2);
  in.dims[0] = 0;
  expect_error(sinter_rt_session_run(s, &in, 1, out, 2), SINTER_INVALID_ARGUMENT,
               "batch (dimension 0) is 0");
  in = input_x(x, 2);
  in.nbytes = 16;
  expect_error(sinter_rt_session_run(s, &in, 1, out, 2), SINTER_INVALID_ARGUMENT,
               "16 bytes given, shape needs 32");
  in = input_x(x, 2);
  in.data = NULL;
  expect_error(sinter_rt_session_run(s, &in, 1, out, 2), SINTER_INVALID_ARGUMENT, "data is NULL");
  in = input_x(x, 2);
  expect_error(sinter_rt_session_run(s, &in, 1, out, 1), SINTER_INVALID_ARGUMENT, "has 2 outputs");
  /* A caller's buffer that is too small; the runtime's own output is freed. */
  out[0].data = NULL;
  out[1].data = am;
  out[1].nbytes = 8;
  expect_error(sinter_rt_session_run(s, &in, 1, out, 2), SINTER_INVALID_ARGUMENT,
               "output 1 'argmax': buffer of 8 bytes given, needs 16");
  ck_assert_ptr_null(out[0].data);
  out[0].data = y;
  out[0].nbytes = sizeof(y);
  out[1].nbytes = sizeof(am);
  ck_assert_ptr_null(sinter_rt_session_run(s, &in, 1, out, 2));
  sinter_rt_session_destroy(s);
}
END_TEST

START_TEST(wrong_abi_version) {
  sinter_rt_session_t *s = (sinter_rt_session_t *)1;
  expect_error(sinter_rt_session_create(FAKE_ARTIFACT_V99, NULL, &s), SINTER_UNSUPPORTED,
               "artifact ABI version 99, but this runtime (0.1.0) accepts version 1");
  ck_assert_ptr_null(s);
}
END_TEST

START_TEST(load_errors) {
  sinter_rt_session_t *s = NULL;
  expect_error(sinter_rt_session_create("/nonexistent/model.so", NULL, &s), SINTER_NOT_FOUND,
               "/nonexistent/model.so: No such file or directory");
  ck_assert_ptr_null(s);
  /* A shared library that is not an artifact: the runtime itself. */
  expect_error(sinter_rt_session_create(SINTER_RT_LIB, NULL, &s), SINTER_INVALID_MODEL,
               "not a Sinter artifact (no 'sinter_artifact' symbol)");
  char path[] = "/tmp/sinter-rt-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "not an ELF file\n", 16), 16);
  close(fd);
  expect_error(sinter_rt_session_create(path, NULL, &s), SINTER_INVALID_MODEL,
               "cannot load as a shared library");
  unlink(path);
  expect_error(sinter_rt_session_create(FAKE_ARTIFACT_BAD, NULL, &s), SINTER_INVALID_MODEL,
               "output 0 'y' has dimension 1 = -3 (only dimension 0 may be dynamic, as -1)");
  ck_assert_ptr_null(s);
  sinter_rt_options_t bad = {.num_threads = -3};
  expect_error(sinter_rt_session_create(FAKE_ARTIFACT, &bad, &s), SINTER_INVALID_ARGUMENT,
               "thread count -3 is negative");
  ck_assert_ptr_null(s);
}
END_TEST

typedef struct {
  sinter_rt_session_t *s;
  unsigned seed;
} worker_arg_t;

static void *worker(void *p) {
  worker_arg_t *w = p;
  for (int i = 0; i < 150; i++) run_and_check(w->s, 1 + (w->seed + i) % 9, w->seed * 1000 + i);
  return NULL;
}

START_TEST(concurrent_runs) {
  /* 4 caller threads on one 2-thread session; each run checks its own results,
   * so a shared arena or a lost chunk shows up as a wrong value. */
  sinter_rt_session_t *s = open_fake(2);
  pthread_t th[4];
  worker_arg_t args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (worker_arg_t){s, (unsigned)i + 1};
    ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) ck_assert_int_eq(pthread_join(th[i], NULL), 0);
  sinter_rt_session_destroy(s);
}
END_TEST

START_TEST(needed_libraries) {
  if (system("command -v readelf >/dev/null 2>&1") != 0) {
    fprintf(stderr, "needed_libraries: readelf not found, skipped\n");
    return;
  }
  FILE *p = popen("readelf -d '" SINTER_RT_LIB "' 2>&1", "r");
  ck_assert_ptr_nonnull(p);
  static const char *const allowed[] = {
    "libc.so",
    "libm.so",
    "libpthread.so",
    "libdl.so",
    "ld-linux",
#if defined(__SANITIZE_ADDRESS__)
    /* A sanitized build links the sanitizer runtimes too. */
    "libasan.so",
    "libubsan.so",
    "libstdc++.so",
    "libgcc_s.so",
#endif
#if defined(__SANITIZE_THREAD__)
    "libtsan.so",
    "libstdc++.so",
    "libgcc_s.so",
#endif
  };
  char line[512];
  int needed = 0;
  while (fgets(line, sizeof(line), p)) {
    if (!strstr(line, "(NEEDED)")) continue;
    const char *lib = strchr(line, '[');
    ck_assert_ptr_nonnull(lib);
    lib++;
    int ok = 0;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
      if (strncmp(lib, allowed[i], strlen(allowed[i])) == 0) ok = 1;
    ck_assert_msg(ok, "libsinter_rt.so needs %s", lib);
    needed++;
  }
  ck_assert_int_eq(pclose(p), 0);
  ck_assert_int_gt(needed, 0); /* the parse found the libc entry at least */
}
END_TEST

int main(void) {
  Suite *s = suite_create("runtime");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, hand_computed_row);
  tcase_add_test(tc, batches_1_and_5);
  tcase_add_test(tc, arena_size_callback);
  tcase_add_test(tc, two_threads);
  tcase_add_test(tc, descriptor_getters);
  tcase_add_test(tc, input_errors);
  tcase_add_test(tc, wrong_abi_version);
  tcase_add_test(tc, load_errors);
  tcase_add_test(tc, concurrent_runs);
  tcase_add_test(tc, needed_libraries);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
