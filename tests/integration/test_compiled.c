/* The CPU code generator end to end: `sinter compile` each shared model into a
 * shared library, run it through libsinter_rt, and compare with the reference
 * interpreter on the same inputs.
 *
 * fp32 bound: 1e-4 of the largest reference magnitude. The compiled kernels
 * sum in another order than the interpreter and contract a*b+c into FMAs, so
 * results differ by fp32 round-off accumulated over the network (measured
 * 1e-6 to 1e-5 relative); any wrong index or epilogue is off by far more.
 * int8 bound: the integer outputs may differ by at most one quantization step
 * (the kernels are meant to be exact; the test prints the measured maximum). */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinter/onnx.h"
#include "sinter/passes.h"
#include "sinter/runtime.h"
#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"
#include "tests/support/model_test.h"

static char tmpdir[] = "/tmp/sinter-compiled-XXXXXX";

/* Runs `sinter compile MODEL -o OUT extra...`; returns the exit status. */
static int compile(const char *model, const char *out, const char *a1, const char *a2,
                   const char *a3, const char *a4) {
  char *argv[16] = {SINTER_TOOL, "compile", (char *)model, "-o", (char *)out, "-q"};
  int n = 6;
  const char *extra[] = {a1, a2, a3, a4};
  for (int i = 0; i < 4 && extra[i]; i++) argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  return run_tool(argv);
}

static sinter_graph_t *load(const char *path, const char *pipeline) {
  sinter_graph_t *g = NULL;
  sinter_status_t st = sinter_onnx_import_file(path, &g);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  if (pipeline) {
    sinter_pass_registry_t *reg;
    sinter_pipeline_t *pl;
    ck_assert_ptr_null(sinter_pass_registry_create(&reg));
    st = sinter_pipeline_parse(reg, pipeline, &pl);
    ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
    st = sinter_pipeline_run(g, pl, NULL, NULL);
    ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
    sinter_pipeline_destroy(pl);
    sinter_pass_registry_destroy(reg);
  }
  return g;
}

/* Runs the artifact at so_path on in (num tensors) with threads threads. */
static void run_artifact(const char *so_path, const sinter_tensor_t *in, int32_t num,
                         sinter_rt_tensor_t *out, int32_t nout, int32_t threads) {
  sinter_rt_options_t o = {.num_threads = threads};
  sinter_rt_session_t *s;
  sinter_status_t st = sinter_rt_session_create(so_path, &o, &s);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  sinter_rt_tensor_t rin[8];
  ck_assert_int_le(num, 8);
  for (int32_t k = 0; k < num; k++) {
    memset(&rin[k], 0, sizeof rin[k]);
    rin[k].dtype = in[k].dtype;
    rin[k].rank = in[k].rank;
    memcpy(rin[k].dims, in[k].dims, sizeof(int64_t) * (size_t)in[k].rank);
    rin[k].data = in[k].data;
    rin[k].nbytes = in[k].nbytes;
  }
  memset(out, 0, sizeof(*out) * (size_t)nout);
  st = sinter_rt_session_run(s, rin, (size_t)num, out, (size_t)nout);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  sinter_rt_session_destroy(s);
}

static void read_inputs(const sinter_graph_t *g, const char *set, sinter_tensor_t *in) {
  for (int32_t k = 0; k < sinter_graph_num_inputs(g); k++) {
    char p[4200];
    snprintf(p, sizeof(p), "%s/input_%d.pb", set, k);
    sinter_status_t st = sinter_onnx_read_tensor_file(p, &in[k], NULL);
    ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  }
}

static void interp(const sinter_graph_t *g, const sinter_tensor_t *in, sinter_tensor_t *out) {
  sinter_interp_t *ip;
  sinter_status_t st = sinter_interp_create(g, &ip);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  st = sinter_interp_run(ip, in, sinter_graph_num_inputs(g), out);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  sinter_interp_destroy(ip);
}

/* Max |a - b| / max |a| over f32 tensors of equal size. */
static double rel_err(const sinter_tensor_t *ref, const sinter_rt_tensor_t *got) {
  ck_assert_int_eq(ref->dtype, SINTER_DTYPE_F32);
  ck_assert_int_eq(got->dtype, SINTER_DTYPE_F32);
  ck_assert_uint_eq(ref->nbytes, got->nbytes);
  const float *a = ref->data, *b = got->data;
  size_t n = ref->nbytes / 4;
  double maxref = 0, maxdiff = 0;
  for (size_t i = 0; i < n; i++) {
    maxref = fmax(maxref, fabs(a[i]));
    double d = fabs((double)a[i] - b[i]);
    if (isnan(b[i]) != isnan(a[i])) d = INFINITY;
    maxdiff = fmax(maxdiff, d);
  }
  return maxdiff / (maxref > 0 ? maxref : 1);
}

/* Compiles model `name` with the extra flags and compares it with the
 * interpreter on test_data_set_0. */
static void check_fp32(const char *name, const char *flag1, const char *flag2) {
  char model[4096], set[4200], so[4400];
  snprintf(model, sizeof model, "%s/%s/model.onnx", models_dir(), name);
  snprintf(set, sizeof set, "%s/%s/test_data_set_0", models_dir(), name);
  if (!exists(model) || !exists(set)) {
    printf("skip %s: no model or data\n", name);
    return;
  }
  snprintf(so, sizeof so, "%s/%s%s%s.so", tmpdir, name, flag2 ? "-" : "",
           flag2 ? flag2 : "");
  for (char *p = so + strlen(tmpdir) + 1; *p; p++)
    if (*p == '/' || *p == '+' || *p == ',') *p = '_';
  ck_assert_int_eq(compile(model, so, flag1, flag2, NULL, NULL), 0);
  sinter_graph_t *g = load(model, NULL);
  int32_t ni = sinter_graph_num_inputs(g), no = sinter_graph_num_outputs(g);
  sinter_tensor_t in[8], ref[8];
  sinter_rt_tensor_t got[8];
  read_inputs(g, set, in);
  interp(g, in, ref);
  run_artifact(so, in, ni, got, no, 1);
  for (int32_t o = 0; o < no; o++) {
    double e = rel_err(&ref[o], &got[o]);
    printf("%-14s %-22s output %d: max error %.3g of max |ref|\n", name,
           flag2 ? flag2 : "native", o, e);
    ck_assert_msg(e <= 1e-4, "%s %s output %d: error %.3g > 1e-4", name, flag2 ? flag2 : "", o,
                  e);
    sinter_tensor_free_data(&ref[o]);
    free(got[o].data);
  }
  for (int32_t k = 0; k < ni; k++) sinter_tensor_free_data(&in[k]);
  sinter_graph_destroy(g);
}

START_TEST(fp32_digits) {
  check_fp32("digits_cnn", NULL, NULL);
  check_fp32("digits_mlp", NULL, NULL);
}
END_TEST

START_TEST(fp32_resnet18) { check_fp32("resnet18", NULL, NULL); }
END_TEST

START_TEST(fp32_mobilenet_v2) { check_fp32("mobilenet_v2", NULL, NULL); }
END_TEST

START_TEST(fp32_tiny_llama) { check_fp32("tiny_llama", NULL, NULL); }
END_TEST

START_TEST(fp32_bert_tiny) { check_fp32("bert_tiny", NULL, NULL); }
END_TEST

/* Code for x86-64-v3 (AVX2, no AVX-512) must run anywhere AVX2 does. */
START_TEST(portable_x86_64_v3) {
  check_fp32("digits_cnn", "--cpu", "x86-64-v3");
  check_fp32("mobilenet_v2", "--cpu", "x86-64-v3");
  check_fp32("tiny_llama", "--cpu", "x86-64-v3");
}
END_TEST

START_TEST(external_weights) {
  check_fp32("digits_mlp", "--weights", "external");
  char w[4400];
  snprintf(w, sizeof w, "%s/digits_mlp-external.weights", tmpdir);
  ck_assert_msg(exists(w), "%s missing", w);
  /* Without its weights file the artifact does not load. */
  char so[4400];
  snprintf(so, sizeof so, "%s/digits_mlp-external.so", tmpdir);
  ck_assert_int_eq(unlink(w), 0);
  sinter_rt_session_t *s = NULL;
  sinter_status_t st = sinter_rt_session_create(so, NULL, &s);
  ck_assert_ptr_nonnull(st);
  ck_assert_ptr_nonnull(strstr(sinter_status_message(st), "weights"));
  sinter_status_free(st);
}
END_TEST

/* argmax of each row of a [N, C] f32 tensor. */
static void argmax_rows(const float *x, int64_t n, int64_t c, int64_t *out) {
  for (int64_t i = 0; i < n; i++) {
    int64_t best = 0;
    for (int64_t j = 1; j < c; j++)
      if (x[i * c + j] > x[i * c + best]) best = j;
    out[i] = best;
  }
}

/* The whole digits evaluation set as one dynamic batch, fp32 and int8: the
 * compiled library's top-1 equals the interpreter's, and int8 outputs agree
 * within one quantization step. */
static void check_digits_batch(bool int8, const char *cpu) {
  char dir[4096], model[4200], evin[4200], calib[4200], q[4400], so[4400];
  snprintf(dir, sizeof dir, "%s/digits_cnn", models_dir());
  snprintf(model, sizeof model, "%s/model.onnx", dir);
  snprintf(evin, sizeof evin, "%s/eval_inputs.npy", dir);
  snprintf(calib, sizeof calib, "%s/calib", dir);
  if (!exists(model) || !exists(evin) || !exists(calib)) {
    printf("skip digits batch: data missing\n");
    return;
  }
  snprintf(q, sizeof q, "%s/digits_q.onnx", tmpdir);
  snprintf(so, sizeof so, "%s/digits_%s_%s.so", tmpdir, int8 ? "int8" : "fp32", cpu);
  const char *src = model;
  if (int8) {
    char *argv[] = {SINTER_TOOL, "quantize", model, "--calib", calib, "-o", q, NULL};
    ck_assert_int_eq(run_tool(argv), 0);
    src = q;
  }
  ck_assert_int_eq(compile(src, so, "--cpu", cpu, NULL, NULL), 0);
  /* The interpreter runs the same integer graph the compiler starts from. */
  sinter_graph_t *g = load(src, int8 ? "canonicalize,fold-constants,fold-qdq,dce" : NULL);
  sinter_tensor_t in;
  ck_assert_ptr_null(sinter_npy_read_file(evin, &in));
  sinter_tensor_t ref;
  interp(g, &in, &ref);
  sinter_rt_tensor_t got;
  run_artifact(so, &in, 1, &got, 1, 2);
  ck_assert_uint_eq(ref.nbytes, got.nbytes);
  int64_t n = ref.dims[0], c = ref.dims[1];
  int64_t *ra = malloc(sizeof(int64_t) * (size_t)n), *ga = malloc(sizeof(int64_t) * (size_t)n);
  argmax_rows(ref.data, n, c, ra);
  argmax_rows(got.data, n, c, ga);
  int64_t same = 0;
  for (int64_t i = 0; i < n; i++) same += ra[i] == ga[i];
  const float *a = ref.data, *b = got.data;
  double maxdiff = 0, step = 0;
  for (int64_t i = 0; i < n * c; i++) maxdiff = fmax(maxdiff, fabs((double)a[i] - b[i]));
  if (int8) {
    /* The output is DequantizeLinear's: multiples of its scale. The smallest
     * positive gap between reference values is one step. */
    step = INFINITY;
    for (int64_t i = 1; i < n * c; i++) {
      double d = fabs((double)a[i] - a[0]);
      if (d > 1e-12) step = fmin(step, d);
    }
  }
  printf("digits_cnn %s %s batch %lld: top-1 identical for %lld/%lld, max diff %.3g",
         int8 ? "int8" : "fp32", cpu, (long long)n, (long long)same, (long long)n, maxdiff);
  if (int8) printf(" (%.2f steps)", maxdiff / step);
  printf("\n");
  ck_assert_int_eq(same, n);
  if (int8)
    ck_assert_msg(maxdiff <= step * 1.0001, "int8 outputs differ by %.3g steps", maxdiff / step);
  else
    ck_assert_msg(maxdiff <= 1e-4, "fp32 batch outputs differ by %.3g", maxdiff);
  free(ra);
  free(ga);
  sinter_tensor_free_data(&ref);
  sinter_tensor_free_data(&in);
  free(got.data);
  sinter_graph_destroy(g);
}

START_TEST(digits_batch_fp32) { check_digits_batch(false, "native"); }
END_TEST

START_TEST(digits_batch_int8) {
  check_digits_batch(true, "native");
  check_digits_batch(true, "x86-64-v3"); /* the portable int8 kernels, AVX2 */
  check_digits_batch(true, "x86-64-v4"); /* the portable int8 kernels, AVX-512 */
}
END_TEST

START_TEST(bad_input_fails_cleanly) {
  char bad[4400], so[4400];
  snprintf(bad, sizeof bad, "%s/not_a_model.onnx", tmpdir);
  snprintf(so, sizeof so, "%s/never.so", tmpdir);
  FILE *f = fopen(bad, "wb");
  ck_assert_ptr_nonnull(f);
  fputs("this is not protobuf", f);
  fclose(f);
  ck_assert_int_eq(compile(bad, so, NULL, NULL, NULL, NULL), 1);
  ck_assert(!exists(so));
  /* An unknown CPU is a usage error reported before any output appears. */
  char model[4200];
  snprintf(model, sizeof model, "%s/digits_mlp/model.onnx", models_dir());
  if (exists(model)) {
    ck_assert_int_ne(compile(model, so, "--cpu", "pentium-pro-9000", NULL, NULL), 0);
    ck_assert(!exists(so));
  }
}
END_TEST


/* Concurrency: 8 threads each run one session 1000 times (a pool of 2 worker
 * threads behind it), every output byte-identical to a single-threaded run. */
typedef struct conc_s {
  sinter_rt_session_t *s;
  const sinter_rt_tensor_t *in;
  const void *want;
  size_t nbytes;
  int mismatches, failures;
} conc_t;

static void *conc_worker(void *arg) {
  conc_t *c = arg;
  for (int i = 0; i < 1000; i++) {
    sinter_rt_tensor_t out;
    memset(&out, 0, sizeof out);
    sinter_status_t st = sinter_rt_session_run(c->s, c->in, 1, &out, 1);
    if (st) {
      c->failures++;
      sinter_status_free(st);
      continue;
    }
    if (out.nbytes != c->nbytes || memcmp(out.data, c->want, c->nbytes)) c->mismatches++;
    free(out.data);
  }
  return NULL;
}

START_TEST(concurrent_runs) {
  char model[4200], so[4400], set[4200];
  snprintf(model, sizeof model, "%s/digits_cnn/model.onnx", models_dir());
  snprintf(set, sizeof set, "%s/digits_cnn/test_data_set_0", models_dir());
  if (!exists(model) || !exists(set)) return;
  snprintf(so, sizeof so, "%s/digits_conc.so", tmpdir);
  ck_assert_int_eq(compile(model, so, NULL, NULL, NULL, NULL), 0);
  sinter_graph_t *g = load(model, NULL);
  sinter_tensor_t in;
  read_inputs(g, set, &in);
  sinter_rt_tensor_t want;
  run_artifact(so, &in, 1, &want, 1, 1);
  sinter_rt_options_t o = {.num_threads = 2};
  sinter_rt_session_t *s;
  ck_assert_ptr_null(sinter_rt_session_create(so, &o, &s));
  sinter_rt_tensor_t rin = {.dtype = in.dtype, .rank = in.rank, .data = in.data,
                            .nbytes = in.nbytes};
  memcpy(rin.dims, in.dims, sizeof(int64_t) * (size_t)in.rank);
  conc_t c[8];
  pthread_t th[8];
  for (int t = 0; t < 8; t++) {
    c[t] = (conc_t){.s = s, .in = &rin, .want = want.data, .nbytes = want.nbytes};
    ck_assert_int_eq(pthread_create(&th[t], NULL, conc_worker, &c[t]), 0);
  }
  int bad = 0, fail = 0;
  for (int t = 0; t < 8; t++) {
    pthread_join(th[t], NULL);
    bad += c[t].mismatches;
    fail += c[t].failures;
  }
  printf("concurrency: 8 threads x 1000 runs: %d failed, %d differed\n", fail, bad);
  ck_assert_int_eq(fail, 0);
  ck_assert_int_eq(bad, 0);
  sinter_rt_session_destroy(s);
  free(want.data);
  sinter_tensor_free_data(&in);
  sinter_graph_destroy(g);
}
END_TEST

/* A compiled library needs libc and libm only (libpthread, libdl and the
 * loader would also be allowed) and exports exactly the descriptor. */
START_TEST(library_dependencies) {
  char model[4200], so[4400], cmd[4600], line[1024];
  snprintf(model, sizeof model, "%s/mobilenet_v2/model.onnx", models_dir());
  if (!exists(model)) return;
  snprintf(so, sizeof so, "%s/deps.so", tmpdir);
  ck_assert_int_eq(compile(model, so, NULL, NULL, NULL, NULL), 0);
  snprintf(cmd, sizeof cmd, "readelf -d '%s'", so);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  int needed = 0;
  while (fgets(line, sizeof line, p)) {
    if (!strstr(line, "(NEEDED)")) continue;
    needed++;
    char *lib = strchr(line, '[');
    ck_assert_ptr_nonnull(lib);
    ck_assert_msg(!strncmp(lib, "[libc.so", 8) || !strncmp(lib, "[libm.so", 8) ||
                      !strncmp(lib, "[libpthread.so", 14) || !strncmp(lib, "[libdl.so", 9) ||
                      !strncmp(lib, "[ld-linux", 9),
                  "unexpected dependency %s", lib);
  }
  ck_assert_int_eq(pclose(p), 0);
  ck_assert_int_ge(needed, 1);
  snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", so);
  p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  int exported = 0;
  while (fgets(line, sizeof line, p)) {
    line[strcspn(line, "\n")] = 0;
    const char *name = strrchr(line, ' ');
    name = name ? name + 1 : line;
    ck_assert_msg(!strcmp(name, "sinter_artifact"), "unexpected export '%s'", name);
    exported++;
  }
  ck_assert_int_eq(pclose(p), 0);
  ck_assert_int_eq(exported, 1);
  printf("deps.so: %d NEEDED entries (libc/libm only), 1 export\n", needed);
}
END_TEST

/* int8 resnet18: the compiled library's outputs are byte-identical to the
 * interpreter's integer ops on the same folded graph. */
START_TEST(int8_resnet18_exact) {
  char dir[4096], model[4200], calib[4200], set[4200], q[4400], so[4400];
  snprintf(dir, sizeof dir, "%s/resnet18", models_dir());
  snprintf(model, sizeof model, "%s/model.onnx", dir);
  snprintf(calib, sizeof calib, "%s/calib", dir);
  snprintf(set, sizeof set, "%s/test_data_set_0", dir);
  if (!exists(model) || !exists(calib) || !exists(set)) return;
  snprintf(q, sizeof q, "%s/r18_q.onnx", tmpdir);
  snprintf(so, sizeof so, "%s/r18_q.so", tmpdir);
  char *argv[] = {SINTER_TOOL, "quantize", model, "--calib", calib, "-o", q, NULL};
  ck_assert_int_eq(run_tool(argv), 0);
  ck_assert_int_eq(compile(q, so, NULL, NULL, NULL, NULL), 0);
  sinter_graph_t *g = load(q, "canonicalize,fold-constants,fold-qdq,dce");
  sinter_tensor_t in, ref;
  read_inputs(g, set, &in);
  interp(g, &in, &ref);
  sinter_rt_tensor_t got;
  run_artifact(so, &in, 1, &got, 1, 1);
  ck_assert_uint_eq(ref.nbytes, got.nbytes);
  ck_assert_msg(memcmp(ref.data, got.data, ref.nbytes) == 0,
                "compiled int8 resnet18 differs from the interpreter");
  printf("resnet18 int8: compiled output byte-identical to the interpreter's\n");
  sinter_tensor_free_data(&ref);
  sinter_tensor_free_data(&in);
  free(got.data);
  sinter_graph_destroy(g);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("compiled");
  TCase *tc = tcase_create("models");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, fp32_digits);
  tcase_add_test(tc, fp32_resnet18);
  tcase_add_test(tc, fp32_mobilenet_v2);
  tcase_add_test(tc, fp32_tiny_llama);
  tcase_add_test(tc, fp32_bert_tiny);
  tcase_add_test(tc, portable_x86_64_v3);
  tcase_add_test(tc, external_weights);
  tcase_add_test(tc, digits_batch_fp32);
  tcase_add_test(tc, digits_batch_int8);
  tcase_add_test(tc, bad_input_fails_cleanly);
  tcase_add_test(tc, library_dependencies);
  tcase_add_test(tc, int8_resnet18_exact);
  suite_add_tcase(s, tc);
  /* Its own case, so `make test-tsan` can run it alone (CK_RUN_CASE). */
  TCase *conc = tcase_create("concurrency");
  tcase_set_timeout(conc, 900);
  tcase_add_test(conc, concurrent_runs);
  suite_add_tcase(s, conc);
  return s;
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  return run_suite(suite());
}
