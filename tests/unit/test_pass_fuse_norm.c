/* Numeric checks for the expanded-form recognizers (fuse-hardswish, fuse-gelu,
 * fuse-silu, fuse-layernorm, fuse-rmsnorm), the Silu and RMSNormalization
 * kernels and their decompositions:
 * - on bert_tiny and tiny_llama (../shared/models, skipped when absent) the
 *   fusions find every LayerNorm, GELU, RMSNorm and SiLU, and the interpreter
 *   gives the same outputs before and after;
 * - every golden case in tests/passes/<those passes>/ runs on random inputs
 *   before and after its pipeline with matching outputs;
 * - the kernels against values computed with NumPy, and against their
 *   decompositions into standard ops. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "passes/pass_internal.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"

/* Fused kernels sum in another order than the chains they replace (double
 * statistics in LayerNormalization and RMSNormalization, erfc in Gelu, x/6
 * in HardSwish), so f32 outputs agree to round-off accumulated over the
 * model, well below this bound; a wrong fusion is off by far more. */
#define F32_TOL 1e-4
/* The unfused f16 chains round every intermediate to f16 (2^-11 relative)
 * where the fused kernels compute in f32 and round once: a few f16 units of
 * the largest output. */
#define F16_TOL 2e-3

static void ok(sinter_status_t st) {
  ck_assert_msg(st == NULL, "unexpected error: %s", sinter_status_message(st));
}

static const char *models_dir(void) {
  static char path[4096];
  const char *env = getenv("SINTER_MODELS_DIR");
  snprintf(path, sizeof(path), "%s", env ? env : SINTER_SOURCE_DIR "/../shared/models");
  return path;
}

static bool exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static int32_t count_op(const sinter_graph_t *g, sinter_op_t op) {
  int32_t n = 0;
  for (sinter_node_t *it = sinter_graph_first_node(g); it; it = sinter_node_next(it))
    if (sinter_node_op(it) == op) n++;
  return n;
}

static int32_t count_sinter_ops(const sinter_graph_t *g) {
  int32_t n = 0;
  for (sinter_node_t *it = sinter_graph_first_node(g); it; it = sinter_node_next(it))
    if (sinter_op_info(sinter_node_op(it))->domain[0]) n++;
  return n;
}

/* Runs pass over g, then the verifier and the type check; returns the number
 * of fusions it counted. */
static int64_t apply(sinter_graph_t *g, const sinter_pass_info_t *pass) {
  sinter_pass_counters_t c = {0};
  ok(pass->run(g, NULL, &c, pass->user));
  ok(sinter_graph_verify(g));
  ok(sinter_ir_verify_types(g));
  return c.fused;
}

static const sinter_pass_info_t *pass_named(const char *name) {
  const sinter_pass_info_t *all[] = {&sinter_pass_fuse_hardswish, &sinter_pass_fuse_gelu,
                                     &sinter_pass_fuse_silu, &sinter_pass_fuse_layernorm,
                                     &sinter_pass_fuse_rmsnorm};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (strcmp(all[i]->name, name) == 0) return all[i];
  return NULL;
}

/* Runs g on feeds; outs receives the graph's outputs (caller frees). */
static void run_graph(const sinter_graph_t *g, const sinter_tensor_t *feeds, int32_t n_feeds,
                      sinter_tensor_t *outs) {
  sinter_interp_t *ip;
  ok(sinter_interp_create(g, &ip));
  ok(sinter_interp_run(ip, feeds, n_feeds, outs));
  sinter_interp_destroy(ip);
}

/* max |got - ref| / max |ref| over one output pair. */
static double rel_err(const sinter_tensor_t *ref, const sinter_tensor_t *got) {
  ck_assert_int_eq(ref->dtype, got->dtype);
  ck_assert_int_eq(ref->rank, got->rank);
  for (int32_t d = 0; d < ref->rank; d++) ck_assert_int_eq(ref->dims[d], got->dims[d]);
  int64_t n = sinter_tensor_numel(ref);
  double ref_max = 0, err_max = 0;
  for (int64_t i = 0; i < n; i++) {
    double w = sinter_load_f64(ref->data, ref->dtype, i);
    double v = sinter_load_f64(got->data, got->dtype, i);
    if (fabs(w) > ref_max) ref_max = fabs(w);
    if (!(fabs(w - v) <= err_max)) err_max = fabs(w - v);
  }
  return err_max / (ref_max > 0 ? ref_max : 1);
}

/* ---- shared models ---------------------------------------------------------------- */

typedef struct model_run_s {
  sinter_graph_t *g;
  sinter_tensor_t feeds[8];
  int32_t n_feeds;
  sinter_tensor_t ref[4];
  int32_t n_outs;
} model_run_t;

/* Imports a shared model and runs it on its test_data_set_0 inputs; false
 * (after printing why) when the model is absent. */
static bool model_open(const char *name, model_run_t *m) {
  memset(m, 0, sizeof(*m));
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s/model.onnx", models_dir(), name);
  if (!exists(path)) {
    printf("skip %s: %s is absent\n", name, path);
    return false;
  }
  ok(sinter_onnx_import_file(path, &m->g));
  m->n_feeds = sinter_graph_num_inputs(m->g);
  ck_assert_int_le(m->n_feeds, 8);
  for (int32_t i = 0; i < m->n_feeds; i++) {
    snprintf(path, sizeof(path), "%s/%s/test_data_set_0/input_%d.pb", models_dir(), name, i);
    ok(sinter_onnx_read_tensor_file(path, &m->feeds[i], NULL));
  }
  m->n_outs = sinter_graph_num_outputs(m->g);
  ck_assert_int_le(m->n_outs, 4);
  run_graph(m->g, m->feeds, m->n_feeds, m->ref);
  return true;
}

/* Runs the rewritten graph and compares every output with the reference. */
static void model_check(model_run_t *m, const char *what, double tol) {
  sinter_tensor_t got[4];
  run_graph(m->g, m->feeds, m->n_feeds, got);
  for (int32_t o = 0; o < m->n_outs; o++) {
    double rel = rel_err(&m->ref[o], &got[o]);
    printf("%s output %d: relative error %.3g (bound %g)\n", what, o, rel, tol);
    ck_assert_msg(rel <= tol, "%s: output %d differs by %g relative to max |ref|", what, o, rel);
    sinter_tensor_free_data(&got[o]);
  }
}

static void model_close(model_run_t *m) {
  for (int32_t i = 0; i < m->n_feeds; i++) sinter_tensor_free_data(&m->feeds[i]);
  for (int32_t i = 0; i < m->n_outs; i++) sinter_tensor_free_data(&m->ref[i]);
  sinter_graph_destroy(m->g);
}

static char *print_graph(const sinter_graph_t *g) {
  char *text;
  size_t len;
  ok(sinter_graph_print_to_string(g, false, &text, &len));
  return text;
}

START_TEST(bert_tiny) {
  model_run_t m;
  if (!model_open("bert_tiny", &m)) return;
  /* 5 LayerNorms: embeddings plus two per layer; 2 erf GELUs: one per layer. */
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_layernorm), 5);
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_gelu), 2);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_LAYER_NORMALIZATION), 5);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_GELU), 2);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_REDUCE_MEAN), 0);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_ERF), 0);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_SQRT), 0);
  /* The other recognizers find nothing of theirs in BERT. */
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_rmsnorm), 0);
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_silu), 0);
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_hardswish), 0);
  model_check(&m, "bert_tiny after fuse-layernorm,fuse-gelu", F32_TOL);
  model_close(&m);
}
END_TEST

START_TEST(tiny_llama) {
  model_run_t m;
  if (!model_open("tiny_llama", &m)) return;
  /* Two RMSNorms per layer (input and post-attention) in 4 layers, plus the
   * final norm; one SiLU gate per MLP. */
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_rmsnorm), 9);
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_silu), 4);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_RMS_NORMALIZATION), 9);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_SILU), 4);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_SIGMOID), 0);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_REDUCE_MEAN), 0);
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_layernorm), 0);
  model_check(&m, "tiny_llama after fuse-rmsnorm,fuse-silu", F32_TOL);

  /* Back to standard ops, then fused again: the decompositions compute the
   * same, and are forms the recognizers know. */
  for (sinter_node_t *n = sinter_graph_first_node(m.g), *next; n; n = next) {
    next = sinter_node_next(n);
    if (sinter_node_op(n) == SINTER_OP_SILU) ok(sinter_decompose_silu(m.g, n));
    if (sinter_node_op(n) == SINTER_OP_RMS_NORMALIZATION)
      ok(sinter_decompose_rms_normalization(m.g, n));
  }
  ok(sinter_graph_verify(m.g));
  ok(sinter_ir_verify_types(m.g));
  ck_assert_int_eq(count_sinter_ops(m.g), 0);
  model_check(&m, "tiny_llama decomposed", F32_TOL);
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_rmsnorm), 9);
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_silu), 4);
  model_close(&m);
}
END_TEST

START_TEST(digits_mlp_gelu) {
  model_run_t m;
  if (!model_open("digits_mlp", &m)) return;
  ck_assert_int_eq(apply(m.g, &sinter_pass_fuse_gelu), 2);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_ERF), 0);
  model_check(&m, "digits_mlp after fuse-gelu", F32_TOL);
  model_close(&m);
}
END_TEST

START_TEST(deterministic) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/bert_tiny/model.onnx", models_dir());
  if (!exists(path)) {
    printf("skip deterministic: %s is absent\n", path);
    return;
  }
  char *text[2];
  for (int k = 0; k < 2; k++) {
    sinter_graph_t *g;
    ok(sinter_onnx_import_file(path, &g));
    apply(g, &sinter_pass_fuse_layernorm);
    apply(g, &sinter_pass_fuse_gelu);
    text[k] = print_graph(g);
    sinter_graph_destroy(g);
  }
  ck_assert_str_eq(text[0], text[1]);
  free(text[0]);
  free(text[1]);
}
END_TEST

/* ---- the golden cases on random data ---------------------------------------------- */

static uint32_t rng_next(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s;
}

/* Uniform in [-3, 3): covers both sides of every activation's knee. */
static float rng_f32(uint32_t *s) {
  return (float)(rng_next(s) >> 8) / 16777216.0f * 6.0f - 3.0f;
}

/* Runs one golden case's input before and after its pipeline. */
static void golden_numeric(const char *path) {
  void *data;
  size_t len;
  ok(sinter_read_file(path, &data, &len));
  char *text = realloc(data, len + 1);
  ck_assert_ptr_nonnull(text);
  text[len] = 0;
  char *p = strstr(text, "pipeline:"), *in = strstr(text, "--- input\n");
  char *ex = strstr(text, "--- expected\n");
  ck_assert_msg(p && in && ex, "%s: malformed", path);
  char pipeline[256];
  char *pe = strchr(p, '\n');
  snprintf(pipeline, sizeof(pipeline), "%.*s", (int)(pe - p - 9), p + 9);
  in += strlen("--- input\n");
  sinter_graph_t *g;
  ok(sinter_graph_parse(in, (size_t)(ex - in), path, &g));

  /* Feeds: symbolic dims become 2. */
  uint32_t seed = 12345;
  int32_t n_feeds = sinter_graph_num_inputs(g), n_outs = sinter_graph_num_outputs(g);
  ck_assert_int_le(n_feeds, 8);
  ck_assert_int_le(n_outs, 8);
  sinter_tensor_t feeds[8], ref[8], got[8];
  bool f16 = false;
  for (int32_t i = 0; i < n_feeds; i++) {
    const sinter_type_t *t = sinter_value_type(sinter_graph_input(g, i));
    sinter_tensor_t *f = &feeds[i];
    memset(f, 0, sizeof(*f));
    f->dtype = t->dtype;
    f->rank = t->rank;
    for (int32_t d = 0; d < t->rank; d++) f->dims[d] = t->dims[d].size >= 0 ? t->dims[d].size : 2;
    int64_t n = sinter_tensor_numel(f);
    ck_assert(t->dtype == SINTER_DTYPE_F32 || t->dtype == SINTER_DTYPE_F16);
    f16 |= t->dtype == SINTER_DTYPE_F16;
    f->nbytes = (size_t)n * (t->dtype == SINTER_DTYPE_F32 ? 4 : 2);
    f->data = malloc(f->nbytes ? f->nbytes : 1);
    for (int64_t k = 0; k < n; k++) sinter_store_f64(f->data, f->dtype, k, rng_f32(&seed));
  }
  run_graph(g, feeds, n_feeds, ref);
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", pipeline);
  for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
    const sinter_pass_info_t *pass = pass_named(tok);
    ck_assert_msg(pass != NULL, "%s: unknown pass '%s'", path, tok);
    apply(g, pass);
  }
  run_graph(g, feeds, n_feeds, got);
  double tol = f16 ? F16_TOL : F32_TOL;
  for (int32_t o = 0; o < n_outs; o++) {
    double rel = rel_err(&ref[o], &got[o]);
    ck_assert_msg(rel <= tol, "%s: output %d differs by %g relative to max |ref| (bound %g)", path,
                  o, rel, tol);
    sinter_tensor_free_data(&ref[o]);
    sinter_tensor_free_data(&got[o]);
  }
  for (int32_t i = 0; i < n_feeds; i++) free(feeds[i].data);
  sinter_graph_destroy(g);
  free(text);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(golden_cases_numeric) {
  static const char *dirs[] = {"fuse-hardswish", "fuse-gelu", "fuse-silu", "fuse-layernorm",
                               "fuse-rmsnorm"};
  int total = 0;
  for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/tests/passes/%s", SINTER_SOURCE_DIR, dirs[k]);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s is missing", dir);
    char *files[128];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 128) {
      size_t l = strlen(e->d_name);
      if (l > 5 && strcmp(e->d_name + l - 5, ".test") == 0) files[n++] = strdup(e->d_name);
    }
    closedir(d);
    ck_assert_int_gt(n, 0);
    qsort(files, (size_t)n, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++) {
      char path[2048];
      snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
      golden_numeric(path);
      total++;
      free(files[i]);
    }
  }
  printf("%d golden cases match numerically before and after\n", total);
}
END_TEST

/* ---- kernels ------------------------------------------------------------------------ */

/* A graph computing op over input x (shape xdims) and optional constant scale. */
typedef struct one_op_s {
  sinter_graph_t *g;
  sinter_node_t *node;
} one_op_t;

static void one_op(one_op_t *t, sinter_op_t op, sinter_dtype_t dt, int32_t rank,
                   const int64_t *dims, sinter_dtype_t sdt, int32_t srank, const int64_t *sdims,
                   const void *sdata, size_t sbytes) {
  ok(sinter_graph_create("k", &t->g));
  sinter_type_t ty;
  sinter_type_set_static(&ty, dt, rank, dims);
  sinter_value_t *ins[2];
  ok(sinter_graph_add_input(t->g, "x", &ty, &ins[0]));
  int32_t n_in = 1;
  if (sdata) {
    sinter_type_t st;
    sinter_type_set_static(&st, sdt, srank, sdims);
    ok(sinter_graph_add_const(t->g, "scale", &st, sdata, sbytes, &ins[1]));
    n_in = 2;
  }
  ok(sinter_graph_add_node(t->g, op, "op", ins, n_in, 1, &t->node));
  ok(sinter_value_set_name(sinter_node_output(t->node, 0), "y"));
  ok(sinter_graph_add_output(t->g, sinter_node_output(t->node, 0)));
}

static sinter_tensor_t tensor(sinter_dtype_t dt, int32_t rank, const int64_t *dims, void *data,
                              size_t nbytes) {
  sinter_tensor_t t;
  memset(&t, 0, sizeof(t));
  t.dtype = dt;
  t.rank = rank;
  for (int32_t i = 0; i < rank; i++) t.dims[i] = dims[i];
  t.data = data;
  t.nbytes = nbytes;
  return t;
}

/* Runs t's graph on x (after inferring shapes). */
static void one_run(one_op_t *t, sinter_tensor_t *x, sinter_tensor_t *out) {
  ok(sinter_graph_infer_shapes(t->g));
  run_graph(t->g, x, 1, out);
}

static void expect_close(const sinter_tensor_t *o, const float *want, int n, double rel) {
  ck_assert_int_eq((int)sinter_tensor_numel(o), n);
  for (int i = 0; i < n; i++) {
    double v = sinter_load_f64(o->data, o->dtype, i);
    ck_assert_msg(fabs(v - want[i]) <= rel * fabs(want[i]) + 1e-30,
                  "element %d: got %.9g, want %.9g", i, v, (double)want[i]);
  }
}

START_TEST(silu_values) {
  /* NumPy: x / (1 + exp(-x)) in double, rounded to f32. The kernel computes in
   * f32 (expf and two roundings): within 1e-6 relative. */
  float x[] = {-20, -3, -1, 0, 0.5f, 2, 20};
  const float want[] = {-4.122307117881974e-08f,
                        -0.14227761328220367f,
                        -0.2689414322376251f,
                        0.0f,
                        0.3112296760082245f,
                        1.7615941762924194f,
                        20.0f};
  int64_t dims[] = {7};
  one_op_t t;
  one_op(&t, SINTER_OP_SILU, SINTER_DTYPE_F32, 1, dims, 0, 0, NULL, NULL, 0);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 1, dims, x, sizeof(x)), out;
  one_run(&t, &in, &out);
  ck_assert_int_eq(out.dtype, SINTER_DTYPE_F32);
  expect_close(&out, want, 7, 1e-6);
  sinter_tensor_free_data(&out);
  sinter_graph_destroy(t.g);
}
END_TEST

START_TEST(silu_f16) {
  /* x = [-4, -1.5, 0.25, 1, 3] in f16; NumPy's f64 result rounded to f16 (hex
   * little-endian). The kernel computes in f32 and rounds once: the same f16. */
  uint16_t x[] = {0xc400, 0xbe00, 0x3400, 0x3c00, 0x4200};
  uint16_t want[] = {0xac9b, 0xb461, 0x307f, 0x39d9, 0x41b7};
  int64_t dims[] = {5};
  one_op_t t;
  one_op(&t, SINTER_OP_SILU, SINTER_DTYPE_F16, 1, dims, 0, 0, NULL, NULL, 0);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F16, 1, dims, x, sizeof(x)), out;
  one_run(&t, &in, &out);
  ck_assert_int_eq(out.dtype, SINTER_DTYPE_F16);
  ck_assert_mem_eq(out.data, want, sizeof(want));
  sinter_tensor_free_data(&out);
  sinter_graph_destroy(t.g);
}
END_TEST

START_TEST(rms_values) {
  /* NumPy: X / sqrt(mean(X^2, -1) + 1e-5) * s, in double, rounded to f32. */
  float x[] = {1, 2, 3, -1, 0, 4};
  float s[] = {1, 0.5f, 2};
  const float want[] = {
      0.4629095494747162f, 0.4629095494747162f, 2.7774572372436523f, -0.4200836420059204f, 0.0f,
      3.3606691360473633f};
  int64_t dims[] = {2, 3}, sdims[] = {3};
  one_op_t t;
  one_op(&t, SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F32, 2, dims, SINTER_DTYPE_F32, 1, sdims, s,
         sizeof(s));
  ok(sinter_node_set_attr_float(t.node, "epsilon", 1e-5f));
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, dims, x, sizeof(x)), out;
  one_run(&t, &in, &out);
  expect_close(&out, want, 6, 1e-6);
  sinter_tensor_free_data(&out);
  sinter_graph_destroy(t.g);
}
END_TEST

START_TEST(rms_two_axes_broadcast_scale) {
  /* axis = -2 on [3,2,2]: each [2,2] block is normalized; scale [2,1]
   * broadcasts along the last dim. NumPy with eps 1e-3. */
  float x[12];
  for (int i = 0; i < 12; i++) x[i] = (float)i - 5.5f;
  float s[] = {2, -1};
  const float want[] = {-2.648411989212036f,  -2.1668825149536133f, 0.8426765203475952f,
                        0.6019118428230286f,  -2.682209014892578f,  -0.8940696120262146f,
                        -0.4470348060131073f, -1.341104507446289f,  1.2038236856460571f,
                        1.6853530406951904f,  -1.0834412574768066f, -1.324205994606018f};
  int64_t dims[] = {3, 2, 2}, sdims[] = {2, 1};
  one_op_t t;
  one_op(&t, SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F32, 3, dims, SINTER_DTYPE_F32, 2, sdims, s,
         sizeof(s));
  ok(sinter_node_set_attr_int(t.node, "axis", -2));
  ok(sinter_node_set_attr_float(t.node, "epsilon", 1e-3f));
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 3, dims, x, sizeof(x)), out;
  one_run(&t, &in, &out);
  expect_close(&out, want, 12, 1e-6);
  sinter_tensor_free_data(&out);
  sinter_graph_destroy(t.g);
}
END_TEST

START_TEST(rms_f16) {
  /* f16 X [[0.5,-1,2,4],[100,-200,300,0.125]] (300^2 overflows f16, not the
   * f32 compute) with f16 scale [1,2,0.5,-1]; NumPy in f32, rounded to f16. */
  uint16_t x[] = {0x3800, 0xbc00, 0x4000, 0x4400, 0x5640, 0xda40, 0x5cb0, 0x3000};
  uint16_t s[] = {0x3c00, 0x4000, 0x3800, 0xbc00};
  uint16_t want[] = {0x32f1, 0xbaf1, 0x36f1, 0xbef1, 0x3847, 0xc047, 0x3a6a, 0x9179};
  int64_t dims[] = {2, 4}, sdims[] = {4};
  one_op_t t;
  one_op(&t, SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F16, 2, dims, SINTER_DTYPE_F16, 1, sdims, s,
         sizeof(s));
  sinter_tensor_t in = tensor(SINTER_DTYPE_F16, 2, dims, x, sizeof(x)), out;
  one_run(&t, &in, &out);
  ck_assert_int_eq(out.dtype, SINTER_DTYPE_F16);
  /* The kernel keeps the statistics in double: at most one f16 unit away. */
  for (int i = 0; i < 8; i++) {
    int d = (int)((const uint16_t *)out.data)[i] - (int)want[i];
    ck_assert_msg(abs(d) <= 1, "element %d: got %04x, want %04x", i,
                  ((const uint16_t *)out.data)[i], want[i]);
  }
  sinter_tensor_free_data(&out);
  sinter_graph_destroy(t.g);
}
END_TEST

START_TEST(rms_rejects_bad_inputs) {
  int64_t dims[] = {2, 3}, bad[] = {4};
  float s4[] = {1, 1, 1, 1};
  uint16_t s3h[] = {0x3c00, 0x3c00, 0x3c00};
  int64_t d3[] = {3};
  one_op_t t;
  /* scale longer than the normalized dim */
  one_op(&t, SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F32, 2, dims, SINTER_DTYPE_F32, 1, bad, s4,
         sizeof(s4));
  sinter_status_t st = sinter_graph_infer_shapes(t.g);
  ck_assert_ptr_nonnull(st);
  ck_assert_msg(strstr(sinter_status_message(st), "scale dim 0 is 4"), "%s",
                sinter_status_message(st));
  sinter_status_free(st);
  sinter_graph_destroy(t.g);
  /* scale of another dtype */
  one_op(&t, SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F32, 2, dims, SINTER_DTYPE_F16, 1, d3, s3h,
         sizeof(s3h));
  st = sinter_graph_infer_shapes(t.g);
  ck_assert_ptr_nonnull(st);
  ck_assert_msg(strstr(sinter_status_message(st), "dtype"), "%s", sinter_status_message(st));
  sinter_status_free(st);
  sinter_graph_destroy(t.g);
  /* axis out of range */
  one_op(&t, SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F32, 2, dims, SINTER_DTYPE_F32, 1, d3, s4,
         sizeof(float) * 3);
  ok(sinter_node_set_attr_int(t.node, "axis", 2));
  st = sinter_graph_infer_shapes(t.g);
  ck_assert_ptr_nonnull(st);
  ck_assert_msg(strstr(sinter_status_message(st), "out of range"), "%s", sinter_status_message(st));
  sinter_status_free(st);
  sinter_graph_destroy(t.g);
  /* Silu of integers */
  one_op(&t, SINTER_OP_SILU, SINTER_DTYPE_I32, 2, dims, 0, 0, NULL, NULL, 0);
  st = sinter_graph_infer_shapes(t.g);
  ck_assert_ptr_nonnull(st);
  sinter_status_free(st);
  sinter_graph_destroy(t.g);
}
END_TEST

/* ---- kernels against their decompositions ------------------------------------------ */

/* Runs op's graph on random x, decomposes the op, checks that only standard
 * ops remain, runs again and returns the relative difference. */
static double kernel_vs_decomposition(sinter_op_t op, sinter_dtype_t dt, int32_t rank,
                                      const int64_t *dims, int32_t srank, const int64_t *sdims,
                                      int64_t axis) {
  uint32_t seed = 777;
  int64_t n = 1, sn = 1;
  for (int32_t i = 0; i < rank; i++) n *= dims[i];
  for (int32_t i = 0; i < srank; i++) sn *= sdims[i];
  size_t esz = dt == SINTER_DTYPE_F32 ? 4 : 2;
  void *x = malloc((size_t)n * esz), *s = malloc((size_t)sn * esz);
  for (int64_t i = 0; i < n; i++) sinter_store_f64(x, dt, i, rng_f32(&seed));
  for (int64_t i = 0; i < sn; i++) sinter_store_f64(s, dt, i, rng_f32(&seed));
  one_op_t t;
  one_op(&t, op, dt, rank, dims, dt, srank, sdims, op == SINTER_OP_SILU ? NULL : s,
         (size_t)sn * esz);
  if (op == SINTER_OP_RMS_NORMALIZATION) {
    ok(sinter_node_set_attr_int(t.node, "axis", axis));
    ok(sinter_node_set_attr_float(t.node, "epsilon", 1e-5f));
  }
  sinter_tensor_t in = tensor(dt, rank, dims, x, (size_t)n * esz), ref, got;
  one_run(&t, &in, &ref);
  ok(op == SINTER_OP_SILU ? sinter_decompose_silu(t.g, t.node)
                          : sinter_decompose_rms_normalization(t.g, t.node));
  ok(sinter_graph_verify(t.g));
  ok(sinter_ir_verify_types(t.g));
  ck_assert_int_eq(count_sinter_ops(t.g), 0);
  ck_assert_int_eq(count_op(t.g, op == SINTER_OP_SILU ? SINTER_OP_SIGMOID : SINTER_OP_SQRT), 1);
  /* The graph output keeps its value name. */
  ck_assert_str_eq(sinter_value_name(sinter_graph_output(t.g, 0)), "y");
  run_graph(t.g, &in, 1, &got);
  double rel = rel_err(&ref, &got);
  /* And the recognizer turns the decomposition back into the op. */
  const sinter_pass_info_t *pass =
      op == SINTER_OP_SILU ? &sinter_pass_fuse_silu : &sinter_pass_fuse_rmsnorm;
  ck_assert_int_eq(apply(t.g, pass), 1);
  ck_assert_int_eq(count_op(t.g, op), 1);
  sinter_tensor_free_data(&ref);
  sinter_tensor_free_data(&got);
  sinter_graph_destroy(t.g);
  free(x);
  free(s);
  return rel;
}

START_TEST(decompositions) {
  int64_t d3[] = {3, 5, 16}, s1[] = {16}, s2[] = {5, 16}, s2b[] = {5, 1};
  /* Silu: Sigmoid then Mul round twice where the kernel rounds the same two
   * steps in the same order; agreement to an f32 unit or so. */
  double r = kernel_vs_decomposition(SINTER_OP_SILU, SINTER_DTYPE_F32, 3, d3, 0, NULL, 0);
  ck_assert_msg(r <= 1e-6, "Silu f32: %g", r);
  r = kernel_vs_decomposition(SINTER_OP_SILU, SINTER_DTYPE_F16, 3, d3, 0, NULL, 0);
  ck_assert_msg(r <= F16_TOL, "Silu f16: %g", r);
  /* RMSNormalization: f32 statistics in the decomposition against double in
   * the kernel, a few f32 units. */
  r = kernel_vs_decomposition(SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F32, 3, d3, 1, s1, -1);
  ck_assert_msg(r <= 1e-5, "RMSNormalization f32 axis -1: %g", r);
  r = kernel_vs_decomposition(SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F32, 3, d3, 2, s2, -2);
  ck_assert_msg(r <= 1e-5, "RMSNormalization f32 axis -2: %g", r);
  r = kernel_vs_decomposition(SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F32, 3, d3, 2, s2b, 1);
  ck_assert_msg(r <= 1e-5, "RMSNormalization f32 axis 1, broadcast scale: %g", r);
  /* f16 decomposes through f32 and rounds to f16 before the scale: one more
   * f16 rounding than the kernel. */
  r = kernel_vs_decomposition(SINTER_OP_RMS_NORMALIZATION, SINTER_DTYPE_F16, 3, d3, 1, s1, -1);
  ck_assert_msg(r <= F16_TOL, "RMSNormalization f16: %g", r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pass_fuse_norm");
  TCase *models = tcase_create("models");
  tcase_set_timeout(models, 600);
  tcase_add_test(models, bert_tiny);
  tcase_add_test(models, tiny_llama);
  tcase_add_test(models, digits_mlp_gelu);
  tcase_add_test(models, deterministic);
  suite_add_tcase(s, models);
  TCase *golden = tcase_create("golden_numeric");
  tcase_add_test(golden, golden_cases_numeric);
  suite_add_tcase(s, golden);
  TCase *kernels = tcase_create("kernels");
  tcase_add_test(kernels, silu_values);
  tcase_add_test(kernels, silu_f16);
  tcase_add_test(kernels, rms_values);
  tcase_add_test(kernels, rms_two_axes_broadcast_scale);
  tcase_add_test(kernels, rms_f16);
  tcase_add_test(kernels, rms_rejects_bad_inputs);
  tcase_add_test(kernels, decompositions);
  suite_add_tcase(s, kernels);
  return run_suite(s);
}
