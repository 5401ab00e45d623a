/* Tests of `sinter validate`: small graphs built with the IR API, exported to
 * ONNX, and compared through the command line. Expected SQNRs are worked out
 * by hand (or by plain float arithmetic here), not by Sinter. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sinter/ir.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"

static char tmp_dir[256];

/* The ten data values: multiples of 1/8 so that x*c is exact in f32 for the
 * powers of two used as c below. Three files of [2,4] rows: 6 samples. */
static float data_value(int file, int i) { return (float)(1 + (file * 8 + i) % 13) / 8.0f; }

static const float C_REF[4] = {1, 2, 4, 8};
static const float K[4] = {0.5f, 0.5f, 0.5f, 0.5f};
static const float Q_SCALE = 0.3f;

static void path_of(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", tmp_dir, name);
}

static sinter_value_t *add_const(sinter_graph_t *g, const char *name, sinter_dtype_t dt,
                                 int32_t rank, const int64_t *dims, const void *data, size_t n) {
  sinter_type_t t = {.dtype = dt, .rank = rank};
  for (int32_t d = 0; d < rank; d++) t.dims[d].size = dims[d];
  sinter_value_t *v = NULL;
  ck_assert_ptr_null(sinter_graph_add_const(g, name, &t, data, n, &v));
  return v;
}

static sinter_value_t *add_op(sinter_graph_t *g, sinter_op_t op, const char *node,
                              const char *out, sinter_value_t *a, sinter_value_t *b,
                              sinter_value_t *c) {
  sinter_value_t *ins[3] = {a, b, c};
  sinter_node_t *n = NULL;
  ck_assert_ptr_null(sinter_graph_add_node(g, op, node, ins, c ? 3 : b ? 2 : 1, 1, &n));
  ck_assert_ptr_null(sinter_value_set_name(sinter_node_output(n, 0), out));
  return sinter_node_output(n, 0);
}

/* y = Relu(x * c) * K, x f32[rows,4]. With qdq, x*c goes through an ORT-named
 * QuantizeLinear/DequantizeLinear pair (scale Q_SCALE, zero point 0). */
static void write_model(const char *name, const float *c, bool qdq, int64_t rows) {
  sinter_graph_t *g = NULL;
  ck_assert_ptr_null(sinter_graph_create("t", &g));
  ck_assert_ptr_null(sinter_graph_set_opset(g, "", 13));
  sinter_type_t xt = {.dtype = SINTER_DTYPE_F32, .rank = 2};
  xt.dims[0].size = rows;
  xt.dims[1].size = 4;
  sinter_value_t *x = NULL;
  ck_assert_ptr_null(sinter_graph_add_input(g, "x", &xt, &x));
  int64_t four = 4;
  sinter_value_t *cv = add_const(g, "c", SINTER_DTYPE_F32, 1, &four, c, sizeof(float) * 4);
  sinter_value_t *kv = add_const(g, "k", SINTER_DTYPE_F32, 1, &four, K, sizeof(K));
  sinter_value_t *m = add_op(g, SINTER_OP_MUL, "mul1", "m", x, cv, NULL);
  if (qdq) {
    int8_t zp = 0;
    sinter_value_t *s = add_const(g, "s", SINTER_DTYPE_F32, 0, NULL, &Q_SCALE, sizeof(float));
    sinter_value_t *z = add_const(g, "z", SINTER_DTYPE_I8, 0, NULL, &zp, 1);
    sinter_value_t *q =
        add_op(g, SINTER_OP_QUANTIZE_LINEAR, "q1", "m_QuantizeLinear_Output", m, s, z);
    m = add_op(g, SINTER_OP_DEQUANTIZE_LINEAR, "dq1", "m_DequantizeLinear_Output", q, s, z);
  }
  sinter_value_t *r = add_op(g, SINTER_OP_RELU, "relu1", "r", m, NULL, NULL);
  sinter_value_t *y = add_op(g, SINTER_OP_MUL, "mul2", "y", r, kv, NULL);
  ck_assert_ptr_null(sinter_graph_add_output(g, y));
  sinter_status_t st = sinter_graph_infer_shapes(g);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  char path[512];
  path_of(path, sizeof(path), name);
  st = sinter_onnx_export_file(g, path);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  sinter_graph_destroy(g);
}

/* A chain of n Relus named "a<&>/i" (names that need HTML escaping). */
static void write_deep_model(const char *name, int n) {
  sinter_graph_t *g = NULL;
  ck_assert_ptr_null(sinter_graph_create("deep", &g));
  ck_assert_ptr_null(sinter_graph_set_opset(g, "", 13));
  sinter_type_t xt = {.dtype = SINTER_DTYPE_F32, .rank = 2};
  xt.dims[0].size = 2;
  xt.dims[1].size = 4;
  sinter_value_t *v = NULL;
  ck_assert_ptr_null(sinter_graph_add_input(g, "x", &xt, &v));
  for (int i = 0; i < n; i++) {
    char node[32], out[32];
    snprintf(node, sizeof(node), "relu%d", i);
    snprintf(out, sizeof(out), "a<&>/%d", i);
    v = add_op(g, SINTER_OP_RELU, node, out, v, NULL, NULL);
  }
  ck_assert_ptr_null(sinter_graph_add_output(g, v));
  ck_assert_ptr_null(sinter_graph_infer_shapes(g));
  char path[512];
  path_of(path, sizeof(path), name);
  ck_assert_ptr_null(sinter_onnx_export_file(g, path));
  sinter_graph_destroy(g);
}

static void setup(void) {
  snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/sinter_validate_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
  write_model("ref.onnx", C_REF, false, 2);
  float c_pert[4];
  for (int i = 0; i < 4; i++) c_pert[i] = C_REF[i] * 1.25f;
  write_model("pert.onnx", c_pert, false, 2);
  write_model("qdq.onnx", C_REF, true, 2);
  write_model("wide.onnx", C_REF, false, 3);
  char dir[512], file[600];
  path_of(dir, sizeof(dir), "data");
  ck_assert_int_eq(mkdir(dir, 0777), 0);
  for (int f = 0; f < 3; f++) {
    float v[8];
    for (int i = 0; i < 8; i++) v[i] = data_value(f, i);
    sinter_tensor_t t = {.dtype = SINTER_DTYPE_F32, .rank = 2, .dims = {2, 4}, .data = v,
                         .nbytes = sizeof(v)};
    snprintf(file, sizeof(file), "%s/%04d.npy", dir, f);
    ck_assert_ptr_null(sinter_npy_write_file(file, &t));
  }
}

static void teardown(void) {
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* Runs `sinter validate ARGS` in tmp_dir; returns the exit code and the
 * combined output (caller frees). */
static int run_validate(const char *args, char **out) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' validate %s 2>&1", tmp_dir, SINTER_TOOL, args);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  ck_assert_ptr_nonnull(buf);
  size_t got;
  while ((got = fread(buf + len, 1, cap - 1 - len, p)) > 0) {
    len += got;
    if (len + 1 == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      ck_assert_ptr_nonnull(buf);
    }
  }
  buf[len] = 0;
  int status = pclose(p);
  *out = buf;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int count_of(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* The number after `"key": ` in the JSON object that starts at the first
 * occurrence of anchor (NAN when the value is not a number). */
static double json_number_after(const char *json, const char *anchor, const char *key) {
  const char *p = strstr(json, anchor);
  ck_assert_msg(p != NULL, "no %s in:\n%s", anchor, json);
  char k[64];
  snprintf(k, sizeof(k), "\"%s\": ", key);
  p = strstr(p, k);
  ck_assert_msg(p != NULL, "no %s after %s", key, anchor);
  p += strlen(k);
  if (*p == '"') return strncmp(p, "\"inf\"", 5) == 0 ? INFINITY : NAN;
  return strtod(p, NULL);
}

START_TEST(identical_models) {
  char *out;
  int rc = run_validate("ref.onnx ref.onnx --data data --json", &out);
  ck_assert_msg(rc == 0, "rc %d:\n%s", rc, out);
  ck_assert(isinf(json_number_after(out, "\"outputs\"", "sqnr_db")));
  ck_assert(json_number_after(out, "\"outputs\"", "top1_agreement") == 1.0);
  ck_assert(json_number_after(out, "\"outputs\"", "cosine") == 1.0);
  ck_assert(json_number_after(out, "\"outputs\"", "max_abs_error") == 0.0);
  ck_assert(json_number_after(out, "{", "samples") == 6); /* 3 files of 2 rows */
  ck_assert_int_eq(count_of(out, "\"candidate_tensor\""), 3);
  free(out);
}
END_TEST

START_TEST(perturbed_constant) {
  /* cand = 1.25 * ref on every tensor (Relu and the final scale keep the
   * ratio, data positive), so SQNR = 10 log10(1 / 0.25^2) = 12.0412 dB. All
   * values are exact in f32 (dyadic), so only the log's rounding remains:
   * 1e-6 dB. Scaling keeps the arg max, so top-1 agreement is 1. */
  double want = -20.0 * log10(0.25);
  char *out;
  int rc = run_validate("ref.onnx pert.onnx --data data --json", &out);
  ck_assert_msg(rc == 0, "rc %d:\n%s", rc, out);
  ck_assert_double_eq_tol(json_number_after(out, "\"outputs\"", "sqnr_db"), want, 1e-6);
  ck_assert(json_number_after(out, "\"outputs\"", "top1_agreement") == 1.0);
  ck_assert_double_eq_tol(json_number_after(out, "\"outputs\"", "cosine"), 1.0, 1e-12);
  for (int i = 0; i < 3; i++) {
    const char *names[3] = {"\"tensor\": \"m\"", "\"tensor\": \"r\"", "\"tensor\": \"y\""};
    ck_assert_double_eq_tol(json_number_after(out, names[i], "sqnr_db"), want, 1e-6);
  }
  /* The largest error is 0.25 of y's largest element (exact in f32). */
  double max_err = 0;
  for (int f = 0; f < 3; f++)
    for (int i = 0; i < 8; i++)
      max_err = fmax(max_err, 0.25 * data_value(f, i) * C_REF[i % 4] * 0.5);
  ck_assert_double_eq_tol(json_number_after(out, "\"outputs\"", "max_abs_error"), max_err, 1e-12);
  free(out);
  /* The text table shows the same figure. */
  rc = run_validate("ref.onnx pert.onnx --data data", &out);
  ck_assert_int_eq(rc, 0);
  ck_assert_msg(strstr(out, "12.04") != NULL, "%s", out);
  free(out);
}
END_TEST

START_TEST(qdq_names_match) {
  /* The candidate's m_DequantizeLinear_Output stands for m. Expected SQNR of
   * m: quantize with round-half-even and saturation to int8, dequantize, in
   * f32 as ONNX defines it; the 1e-3 dB tolerance covers summation order. */
  double sig = 0, noise = 0;
  for (int f = 0; f < 3; f++)
    for (int i = 0; i < 8; i++) {
      float m = data_value(f, i) * C_REF[i % 4];
      float q = nearbyintf(m / Q_SCALE);
      if (q > 127) q = 127;
      if (q < -128) q = -128;
      float dq = q * Q_SCALE;
      sig += (double)m * m;
      noise += ((double)m - dq) * ((double)m - dq);
    }
  double want = 10.0 * log10(sig / noise);
  char *out;
  int rc = run_validate("ref.onnx qdq.onnx --data data --json", &out);
  ck_assert_msg(rc == 0, "rc %d:\n%s", rc, out);
  ck_assert_int_eq(count_of(out, "\"tensor\": \"m\""), 1);
  ck_assert_msg(strstr(out, "\"candidate_tensor\": \"m_DequantizeLinear_Output\"") != NULL,
                "%s", out);
  ck_assert_double_eq_tol(json_number_after(out, "\"tensor\": \"m\"", "sqnr_db"), want, 1e-3);
  /* The worst layer comes first, and the node is the reference's. */
  const char *first = strstr(out, "\"layers\"");
  ck_assert_ptr_nonnull(first);
  ck_assert_ptr_nonnull(strstr(first, "\"node\": \"mul1\""));
  free(out);
}
END_TEST

START_TEST(html_report) {
  char *out;
  int rc = run_validate("ref.onnx pert.onnx --data data --html 'r<&>.html'", &out);
  ck_assert_msg(rc == 0, "rc %d:\n%s", rc, out);
  free(out);
  char path[600];
  path_of(path, sizeof(path), "r<&>.html");
  void *data;
  size_t len;
  ck_assert_ptr_null(sinter_read_file(path, &data, &len));
  char *html = realloc(data, len + 1);
  ck_assert_ptr_nonnull(html);
  html[len] = 0;
  ck_assert_ptr_nonnull(strstr(html, "<svg"));
  ck_assert_ptr_nonnull(strstr(html, "</svg>"));
  ck_assert_int_eq(count_of(html, "class=\"bar\""), 3); /* m, r, y */
  ck_assert_ptr_nonnull(strstr(html, "12.04"));
  ck_assert_ptr_null(strstr(html, "<script"));
  free(html);
}
END_TEST

START_TEST(html_500_layers) {
  /* One fixed-height bar per layer: the chart grows to at least 500 rows of
   * 18 px instead of squeezing them, and names are escaped. */
  write_deep_model("deep.onnx", 500);
  char *out;
  int rc = run_validate("deep.onnx deep.onnx --data data --html deep.html", &out);
  ck_assert_msg(rc == 0, "rc %d:\n%s", rc, out);
  free(out);
  char path[600];
  path_of(path, sizeof(path), "deep.html");
  void *data;
  size_t len;
  ck_assert_ptr_null(sinter_read_file(path, &data, &len));
  char *html = realloc(data, len + 1);
  ck_assert_ptr_nonnull(html);
  html[len] = 0;
  ck_assert_int_eq(count_of(html, "class=\"bar\""), 500);
  ck_assert_ptr_null(strstr(html, "a<&>"));
  ck_assert_ptr_nonnull(strstr(html, "a&lt;&amp;&gt;/499"));
  const char *svg = strstr(html, "<svg");
  ck_assert_ptr_nonnull(svg);
  const char *h = strstr(svg, "height=\"");
  ck_assert_ptr_nonnull(h);
  ck_assert_int_ge(atoi(h + 8), 500 * 18);
  free(html);
}
END_TEST

START_TEST(error_cases) {
  char *out;
  int rc = run_validate("ref.onnx wide.onnx --data data", &out);
  ck_assert_msg(rc == 1 && strstr(out, "input 0 differs"), "rc %d:\n%s", rc, out);
  free(out);
  rc = run_validate("ref.onnx ref.onnx --data no_such_dir", &out);
  ck_assert_msg(rc == 1 && strstr(out, "no such data folder"), "rc %d:\n%s", rc, out);
  free(out);
  rc = run_validate("ref.onnx no_such_model.onnx --data data", &out);
  ck_assert_msg(rc == 1, "rc %d:\n%s", rc, out);
  free(out);
  rc = run_validate("ref.onnx --data data", &out);
  ck_assert_msg(rc == 2, "rc %d:\n%s", rc, out); /* usage */
  free(out);
}
END_TEST

START_TEST(limit_caps_samples) {
  char *out;
  int rc = run_validate("ref.onnx ref.onnx --data data --json --limit 2", &out);
  ck_assert_msg(rc == 0, "rc %d:\n%s", rc, out);
  ck_assert(json_number_after(out, "{", "samples") == 2);
  ck_assert(json_number_after(out, "\"outputs\"", "elements") == 8); /* 2 rows of 4 */
  free(out);
  /* The models' batch is static 2: a limit of 3 rounds up to whole batches. */
  rc = run_validate("ref.onnx ref.onnx --data data --json --limit 3", &out);
  ck_assert_msg(rc == 0, "rc %d:\n%s", rc, out);
  ck_assert(json_number_after(out, "{", "samples") == 4);
  free(out);
}
END_TEST

int main(void) {
  Suite *s = suite_create("validate");
  TCase *tc = tcase_create("cli");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, identical_models);
  tcase_add_test(tc, perturbed_constant);
  tcase_add_test(tc, qdq_names_match);
  tcase_add_test(tc, html_report);
  tcase_add_test(tc, html_500_layers);
  tcase_add_test(tc, error_cases);
  tcase_add_test(tc, limit_caps_samples);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
