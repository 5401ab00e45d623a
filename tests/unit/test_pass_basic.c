/* Numeric and structural checks of the basic passes (canonicalize, fold-constants, dce, cse,
 * sink-transposes): every golden test of these passes computes the same outputs before and
 * after its pipeline; on the shared models, interpreter outputs before and after the pipeline
 * agree, bert_tiny's shape plumbing folds away (with a static batch and with the symbolic
 * one), and two runs print the same bytes. Each model is skipped with a message when
 * ../shared/models lacks it. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/interp/kernels.h"
#include "passes/pass_internal.h"
#include "sinter/onnx.h"
#include "sinter/passes.h"
#include "tests/support/check_main.h"

#define PIPELINE "canonicalize,fold-constants,dce,cse"
#define MAX_IO 8

static const char *const models[] = {"digits_cnn",   "digits_mlp", "resnet18",
                                     "mobilenet_v2", "bert_tiny",  "tiny_llama"};
enum { N_MODELS = sizeof(models) / sizeof(models[0]) };

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

#define CK_OK(expr)                                                                     \
  do {                                                                                  \
    sinter_status_t st_ = (expr);                                                       \
    ck_assert_msg(st_ == NULL, "%s: %s", #expr, st_ ? sinter_status_message(st_) : ""); \
  } while (0)

/* One model with the inputs of its test_data_set_0. */
typedef struct model_s {
  char path[4200];
  sinter_tensor_t in[MAX_IO];
  int32_t n_in;
} model_t;

/* Reads the model's first data set; false (after printing why) when the model is absent. */
static bool model_open(model_t *m, const char *name) {
  memset(m, 0, sizeof(*m));
  snprintf(m->path, sizeof(m->path), "%s/%s/model.onnx", models_dir(), name);
  if (!exists(m->path)) {
    printf("skip %s: %s is absent\n", name, m->path);
    return false;
  }
  for (int32_t k = 0; k < MAX_IO; k++) {
    char p[4400];
    snprintf(p, sizeof(p), "%s/%s/test_data_set_0/input_%d.pb", models_dir(), name, k);
    if (!exists(p)) break;
    CK_OK(sinter_onnx_read_tensor_file(p, &m->in[k], NULL));
    m->n_in = k + 1;
  }
  ck_assert_int_gt(m->n_in, 0);
  return true;
}

static void model_close(model_t *m) {
  for (int32_t k = 0; k < m->n_in; k++) sinter_tensor_free_data(&m->in[k]);
}

/* Imports the model; with static_batch, every graph input gets the exact shape of its data,
 * then shapes are inferred again, as a user compiling for one batch size would do. */
static sinter_graph_t *model_import(const model_t *m, bool static_batch) {
  sinter_graph_t *g;
  CK_OK(sinter_onnx_import_file(m->path, &g));
  ck_assert_int_eq(sinter_graph_num_inputs(g), m->n_in);
  if (static_batch) {
    for (int32_t k = 0; k < m->n_in; k++) {
      sinter_value_t *v = sinter_graph_input(g, k);
      sinter_type_t t;
      sinter_type_set_static(&t, m->in[k].dtype, m->in[k].rank, m->in[k].dims);
      sinter_value_set_type(v, &t);
    }
    CK_OK(sinter_graph_infer_shapes(g));
  }
  return g;
}

/* Runs the interpreter; outs receives one tensor per graph output (caller frees). */
static void interpret(const sinter_graph_t *g, const model_t *m, sinter_tensor_t *outs) {
  ck_assert_int_le(sinter_graph_num_outputs(g), MAX_IO);
  sinter_interp_t *ip;
  CK_OK(sinter_interp_create(g, &ip));
  CK_OK(sinter_interp_run(ip, m->in, m->n_in, outs));
  sinter_interp_destroy(ip);
}

/* Runs pipeline text with the verifier after every pass. */
static void optimize_with(sinter_graph_t *g, const char *text) {
  sinter_pass_registry_t *reg;
  CK_OK(sinter_pass_registry_create(&reg));
  /* Until the registry lists these passes itself, add them here; afterwards this is a no-op. */
  const sinter_pass_info_t *mine[] = {&sinter_pass_canonicalize, &sinter_pass_fold_constants,
                                      &sinter_pass_dce, &sinter_pass_cse,
                                      &sinter_pass_sink_transposes};
  for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
    if (!sinter_pass_registry_find(reg, mine[i]->name))
      CK_OK(sinter_pass_registry_add(reg, mine[i]));
  sinter_pipeline_t *pl;
  CK_OK(sinter_pipeline_parse(reg, text, &pl));
  sinter_pipeline_options_t opts = {.verify_each = true};
  CK_OK(sinter_pipeline_run(g, pl, &opts, NULL));
  CK_OK(sinter_ir_verify_types(g));
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(reg);
}

static void optimize(sinter_graph_t *g) {
  optimize_with(g, PIPELINE);
}

/* The largest difference between got and want relative to the largest |want|. */
static double rel_error(const sinter_tensor_t *want, const sinter_tensor_t *got) {
  ck_assert_int_eq(want->dtype, got->dtype);
  ck_assert_int_eq(want->rank, got->rank);
  for (int32_t d = 0; d < want->rank; d++) ck_assert_int_eq(want->dims[d], got->dims[d]);
  int64_t n = sinter_tensor_numel(want);
  double ref = 0, err = 0;
  for (int64_t i = 0; i < n; i++) {
    double w = sinter_load_f64(want->data, want->dtype, i);
    double v = sinter_load_f64(got->data, got->dtype, i);
    if (fabs(w) > ref) ref = fabs(w);
    if (!(fabs(w - v) <= err)) err = fabs(w - v); /* NaN counts as an error */
  }
  return err / (ref > 0 ? ref : 1);
}

static int32_t count_op(const sinter_graph_t *g, sinter_op_t op) {
  int32_t n = 0;
  for (const sinter_node_t *x = sinter_graph_first_node(g); x; x = sinter_node_next(x))
    n += sinter_node_op(x) == op;
  return n;
}

/* Outputs after the pipeline match those before within 1e-5 of the largest reference value.
 * Folding runs the interpreter's own kernels on the same data in the same order, and the other
 * rewrites drop exact no-ops or merge identical computations, so any difference could only come
 * from an equivalent reordering of arithmetic; 1e-5 leaves room for that and nothing else. */
static void check_outputs_unchanged(const char *name, bool static_batch) {
  model_t m;
  if (!model_open(&m, name)) return;
  sinter_graph_t *g = model_import(&m, static_batch);
  int32_t n_out = sinter_graph_num_outputs(g), before = sinter_graph_num_nodes(g);
  sinter_tensor_t ref[MAX_IO], got[MAX_IO];
  interpret(g, &m, ref);
  optimize(g);
  interpret(g, &m, got);
  printf("%s%s: %d nodes before " PIPELINE ", %d after\n", name,
         static_batch ? " (static batch)" : "", before, sinter_graph_num_nodes(g));
  ck_assert_int_le(sinter_graph_num_nodes(g), before);
  /* bert_tiny's exporter left Identity copies of weights, shape plumbing and x*1, x+0 with its
   * default LayerNorm weights (ones) and biases (zeros): all of it must go. */
  if (strcmp(name, "bert_tiny") == 0) ck_assert_int_le(sinter_graph_num_nodes(g), before - 50);
  for (int32_t o = 0; o < n_out; o++) {
    double rel = rel_error(&ref[o], &got[o]);
    printf("  output %d: relative error %.3g\n", o, rel);
    ck_assert_msg(rel <= 1e-5, "%s output %d: relative error %g above 1e-5", name, o, rel);
    sinter_tensor_free_data(&ref[o]);
    sinter_tensor_free_data(&got[o]);
  }
  sinter_graph_destroy(g);
  model_close(&m);
}

START_TEST(test_outputs_unchanged) {
  check_outputs_unchanged(models[_i], false);
}
END_TEST

START_TEST(test_outputs_unchanged_static) {
  check_outputs_unchanged(models[_i], true);
}
END_TEST

/* True when v is computed, directly or through other nodes, by one of the shape-plumbing ops. */
static bool fed_by_plumbing(const sinter_value_t *v, int depth) {
  sinter_node_t *p = sinter_value_producer(v, NULL);
  if (!p || depth > 64) return false;
  sinter_op_t op = sinter_node_op(p);
  if (op == SINTER_OP_SHAPE || op == SINTER_OP_GATHER || op == SINTER_OP_UNSQUEEZE ||
      op == SINTER_OP_CONCAT)
    return true;
  for (int32_t i = 0; i < sinter_node_num_inputs(p); i++)
    if (sinter_node_input(p, i) && fed_by_plumbing(sinter_node_input(p, i), depth + 1)) return true;
  return false;
}

/* Checks that every Reshape of g reads a constant shape that no plumbing computes, that its
 * result has static dims except dim 0 which is static or the batch symbol, and that no Shape,
 * Concat or Range is left (the Unsqueezes and Gathers that remain move data: the attention
 * mask, the embedding lookup, the CLS token). */
static void check_no_plumbing(const sinter_graph_t *g, bool static_batch) {
  int32_t reshapes = 0;
  for (const sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n)) {
    if (sinter_node_op(n) != SINTER_OP_RESHAPE) continue;
    reshapes++;
    const sinter_value_t *shape = sinter_node_input(n, 1);
    ck_assert_int_eq(sinter_value_kind(shape), SINTER_VALUE_CONST);
    ck_assert(!fed_by_plumbing(shape, 0));
    const sinter_type_t *t = sinter_value_type(sinter_node_output(n, 0));
    ck_assert_int_ge(t->rank, 1);
    if (static_batch)
      ck_assert_int_eq(t->dims[0].size, 1);
    else
      ck_assert(t->dims[0].size < 0 && t->dims[0].sym && strcmp(t->dims[0].sym, "N") == 0);
    for (int32_t d = 1; d < t->rank; d++) ck_assert_int_ge(t->dims[d].size, 1);
  }
  ck_assert_int_ge(reshapes, 8); /* 4 per layer: Q, K, V in and the context out */
  ck_assert_int_eq(count_op(g, SINTER_OP_SHAPE), 0);
  ck_assert_int_eq(count_op(g, SINTER_OP_CONCAT), 0);
  ck_assert_int_eq(count_op(g, SINTER_OP_RANGE), 0);
}

/* bert_tiny's Shape/Gather/Unsqueeze/Concat plumbing folds away. With a static batch every
 * shape is a number; with the symbolic batch N the dims it reads are N itself, which Reshape's
 * 0 copies, so the shapes become constants there too and only dim 0 stays symbolic. */
START_TEST(test_bert_plumbing) {
  model_t m;
  if (!model_open(&m, "bert_tiny")) return;
  sinter_graph_t *g = model_import(&m, true), *dyn = model_import(&m, false);
  ck_assert_int_gt(count_op(g, SINTER_OP_SHAPE), 0);
  ck_assert_int_gt(count_op(dyn, SINTER_OP_SHAPE), 0);
  optimize(g);
  optimize(dyn);
  check_no_plumbing(g, true);
  check_no_plumbing(dyn, false);
  printf("bert_tiny: %d nodes with a static batch, %d with batch N after " PIPELINE "\n",
         sinter_graph_num_nodes(g), sinter_graph_num_nodes(dyn));
  sinter_graph_destroy(g);
  sinter_graph_destroy(dyn);
  model_close(&m);
}
END_TEST

/* Two independent imports and pipeline runs print byte-identical text IR, constants included. */
static void check_deterministic(const char *name, bool static_batch) {
  model_t m;
  if (!model_open(&m, name)) return;
  char *text[2];
  size_t len[2];
  for (int r = 0; r < 2; r++) {
    sinter_graph_t *g = model_import(&m, static_batch);
    optimize(g);
    CK_OK(sinter_graph_print_to_string(g, false, &text[r], &len[r]));
    sinter_graph_destroy(g);
  }
  ck_assert_uint_eq(len[0], len[1]);
  ck_assert_msg(memcmp(text[0], text[1], len[0]) == 0, "%s: two runs print differently", name);
  free(text[0]);
  free(text[1]);
  model_close(&m);
}

START_TEST(test_deterministic) {
  check_deterministic(models[_i], _i % 2 == 0);
}
END_TEST

/* The pipeline reaches a fixpoint: running it again on its own output changes nothing. */
START_TEST(test_idempotent) {
  model_t m;
  if (!model_open(&m, models[_i])) return;
  sinter_graph_t *g = model_import(&m, true);
  optimize(g);
  char *a, *b;
  size_t la, lb;
  CK_OK(sinter_graph_print_to_string(g, false, &a, &la));
  optimize(g);
  CK_OK(sinter_graph_print_to_string(g, false, &b, &lb));
  ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s: a second run changed the graph",
                models[_i]);
  free(a);
  free(b);
  sinter_graph_destroy(g);
  model_close(&m);
}
END_TEST

/* ---- golden tests, run ------------------------------------------------------------ */

static const char *const golden_dirs[] = {"canonicalize", "fold-constants", "dce", "cse",
                                          "sink-transposes"};

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0, n;
  char chunk[4096];
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      buf = realloc(buf, cap);
      ck_assert_ptr_nonnull(buf);
    }
    memcpy(buf + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (buf) buf[len] = 0;
  return buf;
}

/* Deterministic pseudo-random inputs: floats in [-2, 2), integers in [0, 4), bools false (so a
 * Dropout's run-time training_mode means inference). Symbolic dims become 3. */
static void fill_input(const sinter_value_t *v, sinter_tensor_t *t, uint64_t *seed) {
  const sinter_type_t *ty = sinter_value_type(v);
  memset(t, 0, sizeof(*t));
  t->dtype = ty->dtype;
  t->rank = ty->rank;
  for (int32_t d = 0; d < ty->rank; d++) t->dims[d] = ty->dims[d].size >= 0 ? ty->dims[d].size : 3;
  int64_t n = sinter_tensor_numel(t);
  ck_assert(n >= 0 && sinter_dtype_storage_size(t->dtype, n, &t->nbytes));
  t->data = calloc(t->nbytes ? t->nbytes : 1, 1);
  ck_assert_ptr_nonnull(t->data);
  for (int64_t i = 0; i < n; i++) {
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t r = (uint32_t)(*seed >> 33);
    if (sinter_dtype_is_float(t->dtype))
      sinter_store_f64(t->data, t->dtype, i, (double)r / 2147483648.0 * 4.0 - 2.0);
    else if (t->dtype != SINTER_DTYPE_BOOL)
      sinter_store_i64(t->data, t->dtype, i, (int64_t)(r % 4));
  }
}

/* Runs g on inputs; false when the interpreter cannot run it. */
static bool try_interpret(const sinter_graph_t *g, const sinter_tensor_t *in, int32_t n_in,
                          sinter_tensor_t *outs) {
  sinter_interp_t *ip;
  sinter_status_t st = sinter_interp_create(g, &ip);
  if (!st) {
    st = sinter_interp_run(ip, in, n_in, outs);
    sinter_interp_destroy(ip);
  }
  if (st) printf("    (not runnable: %s)\n", sinter_status_message(st));
  sinter_status_free(st);
  return st == NULL;
}

/* Every rewrite of these passes is exact (folding runs the interpreter's own kernels; removed
 * nodes were identities; merged nodes computed the same thing), so outputs must be equal
 * element for element. x+0 may turn -0.0 into +0.0, which == still accepts. */
static int check_golden_file(const char *path) {
  char *text = read_text(path);
  ck_assert_ptr_nonnull(text);
  char *pl = strstr(text, "\npipeline:"), *in = strstr(text, "--- input\n"),
       *ex = strstr(text, "--- expected\n");
  ck_assert_msg(pl && in && ex, "%s: malformed golden test", path);
  pl += strlen("\npipeline:");
  while (*pl == ' ') pl++;
  *strchr(pl, '\n') = 0;
  in += strlen("--- input\n");
  *ex = 0;
  sinter_graph_t *g;
  CK_OK(sinter_graph_parse(in, strlen(in), path, &g));
  int32_t n_in = sinter_graph_num_inputs(g), n_out = sinter_graph_num_outputs(g);
  ck_assert(n_in <= MAX_IO && n_out <= 16);
  sinter_tensor_t feeds[MAX_IO], before[16], after[16];
  uint64_t seed = 42;
  for (int32_t i = 0; i < n_in; i++) fill_input(sinter_graph_input(g, i), &feeds[i], &seed);
  int ran = 0;
  printf("  %s (%s)\n", path, pl);
  if (try_interpret(g, feeds, n_in, before)) {
    optimize_with(g, pl);
    ck_assert_int_eq(sinter_graph_num_outputs(g), n_out);
    ck_assert_msg(try_interpret(g, feeds, n_in, after), "%s: runs before %s, not after", path, pl);
    for (int32_t o = 0; o < n_out; o++) {
      ck_assert_int_eq(before[o].dtype, after[o].dtype);
      ck_assert_int_eq(before[o].rank, after[o].rank);
      for (int32_t d = 0; d < before[o].rank; d++)
        ck_assert_int_eq(before[o].dims[d], after[o].dims[d]);
      int64_t n = sinter_tensor_numel(&before[o]);
      for (int64_t i = 0; i < n; i++) {
        double a = sinter_load_f64(before[o].data, before[o].dtype, i);
        double b = sinter_load_f64(after[o].data, after[o].dtype, i);
        ck_assert_msg(a == b, "%s: output %d element %lld is %g before, %g after", path, o,
                      (long long)i, a, b);
      }
      sinter_tensor_free_data(&before[o]);
      sinter_tensor_free_data(&after[o]);
    }
    ran = 1;
  }
  for (int32_t i = 0; i < n_in; i++) sinter_tensor_free_data(&feeds[i]);
  sinter_graph_destroy(g);
  free(text);
  return ran;
}

START_TEST(test_golden_numeric) {
  int files = 0, ran = 0;
  for (size_t k = 0; k < sizeof(golden_dirs) / sizeof(golden_dirs[0]); k++) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/tests/passes/%s", SINTER_SOURCE_DIR, golden_dirs[k]);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s is missing", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
      size_t len = strlen(e->d_name);
      if (len < 6 || strcmp(e->d_name + len - 5, ".test") != 0) continue;
      char path[8192];
      snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
      files++;
      ran += check_golden_file(path);
    }
    closedir(d);
  }
  printf("golden tests: %d files, %d run before and after their pipeline\n", files, ran);
  ck_assert_int_ge(files, 20);
  ck_assert_int_ge(ran, files - 2);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pass_basic");
  TCase *golden = tcase_create("golden");
  tcase_add_test(golden, test_golden_numeric);
  suite_add_tcase(s, golden);
  /* The model checks skip one by one, with a message, when ../shared/models is absent. */
  TCase *tc = tcase_create("models");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_outputs_unchanged, 0, N_MODELS);
  tcase_add_loop_test(tc, test_outputs_unchanged_static, 0, N_MODELS);
  tcase_add_test(tc, test_bert_plumbing);
  tcase_add_loop_test(tc, test_deterministic, 0, N_MODELS);
  tcase_add_loop_test(tc, test_idempotent, 0, N_MODELS);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
