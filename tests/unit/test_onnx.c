/* The ONNX frontend: importing the shared models and ONNX's node tests,
 * version normalization of legacy opsets, typed and external tensor data,
 * export and re-import, and TensorProto files. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/onnx_builder.h"
#include "tests/support/check_main.h"
#include "tests/support/model_test.h"
#include "frontends/onnx/onnx_internal.h"
#include "ir/ir_impl.h"
#include "sinter/onnx.h"

#define TESTDATA "/usr/share/libonnx-testdata/data"
#define MODELS SINTER_SOURCE_DIR "/../shared/models"

enum { F32 = ONNX_DT_FLOAT, I64 = ONNX_DT_INT64 };

#define ck_ok(expr)                                                                 \
  do {                                                                              \
    sinter_status_t st_ = (expr);                                                   \
    ck_assert_msg(st_ == NULL, "%s failed: %s", #expr, sinter_status_message(st_)); \
  } while (0)

static sinter_graph_t *import_path(const char *path, bool skip_inference) {
  sinter_onnx_import_options_t o = {.skip_shape_inference = skip_inference};
  sinter_graph_t *g = NULL;
  ck_ok(sinter_onnx_import_file_opts(path, &o, &g));
  return g;
}

static sinter_graph_t *import_bytes(const void *data, size_t len, bool skip_inference) {
  sinter_onnx_import_options_t o = {.skip_shape_inference = skip_inference};
  sinter_graph_t *g = NULL;
  ck_ok(sinter_onnx_import_buffer_opts(data, len, "test.onnx", NULL, &o, &g));
  return g;
}

static sinter_graph_t *import_built(ob_t *b) {
  size_t len;
  void *data = ob_pack(b, &len);
  sinter_graph_t *g = import_bytes(data, len, true);
  free(data);
  return g;
}

/* Nodes in order, as an array (n_nodes entries). */
static sinter_node_t **node_list(const sinter_graph_t *g) {
  sinter_node_t **v = calloc((size_t)g->n_nodes + 1, sizeof(*v));
  int32_t i = 0;
  for (sinter_node_t *n = g->first; n; n = n->next) v[i++] = n;
  return v;
}

static const sinter_value_t *find_const(const sinter_graph_t *g, const char *name) {
  for (const sinter_value_t *c = g->first_const; c; c = c->next_const)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

/* Checks that v is a constant holding the given int64s. */
static void assert_const_i64(const sinter_value_t *v, const int64_t *want, int64_t n) {
  ck_assert_ptr_nonnull(v);
  ck_assert_int_eq(v->kind, SINTER_VALUE_CONST);
  ck_assert_int_eq(v->type.dtype, SINTER_DTYPE_I64);
  ck_assert_int_eq(v->type.rank, 1);
  ck_assert_int_eq(v->type.dims[0].size, n);
  ck_assert_mem_eq(v->data, want, (size_t)n * sizeof(int64_t));
}

static void assert_const_f32_scalar(const sinter_value_t *v, float want) {
  ck_assert_ptr_nonnull(v);
  ck_assert_int_eq(v->kind, SINTER_VALUE_CONST);
  ck_assert_int_eq(v->type.dtype, SINTER_DTYPE_F32);
  ck_assert_int_eq(v->type.rank, 0);
  float got;
  memcpy(&got, v->data, 4);
  ck_assert_float_eq(got, want);
}

/* ---- structural comparison ---------------------------------------------- */

static int32_t node_index(const sinter_graph_t *g, const sinter_node_t *n) {
  int32_t i = 0;
  for (const sinter_node_t *m = g->first; m; m = m->next, i++)
    if (m == n) return i;
  return -1;
}

/* Describes a value by position: inputs by index, constants by name, node
 * outputs by (node index, slot). */
static void value_key(const sinter_graph_t *g, const sinter_value_t *v, char *buf, size_t cap) {
  if (!v) {
    snprintf(buf, cap, "-");
  } else if (v->kind == SINTER_VALUE_INPUT) {
    int32_t i = 0;
    while (i < g->n_inputs && g->inputs[i] != v) i++;
    snprintf(buf, cap, "in%d", i);
  } else if (v->kind == SINTER_VALUE_CONST) {
    snprintf(buf, cap, "c:%s", v->name);
  } else {
    snprintf(buf, cap, "n%d.%d", node_index(g, v->producer), v->producer_slot);
  }
}

static bool types_equal(const sinter_type_t *a, const sinter_type_t *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int32_t i = 0; i < a->rank; i++) {
    if (a->dims[i].size != b->dims[i].size) return false;
    if ((a->dims[i].sym == NULL) != (b->dims[i].sym == NULL)) return false;
    if (a->dims[i].sym && strcmp(a->dims[i].sym, b->dims[i].sym)) return false;
  }
  return true;
}

static bool tensors_equal(const sinter_tensor_t *a, const sinter_tensor_t *b) {
  if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes) return false;
  for (int32_t i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
}

static bool attrs_equal(const sinter_attr_t *a, const sinter_attr_t *b) {
  if (strcmp(a->name, b->name) || a->kind != b->kind) return false;
  switch (a->kind) {
    case SINTER_ATTR_INT: return a->i == b->i;
    case SINTER_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof(float)) == 0;
    case SINTER_ATTR_STRING: return a->s_len == b->s_len && !memcmp(a->s, b->s, a->s_len);
    case SINTER_ATTR_INTS:
      return a->count == b->count && (!a->count || !memcmp(a->ints, b->ints, 8 * a->count));
    case SINTER_ATTR_FLOATS:
      return a->count == b->count && (!a->count || !memcmp(a->floats, b->floats, 4 * a->count));
    case SINTER_ATTR_STRINGS:
      if (a->count != b->count) return false;
      for (int64_t i = 0; i < a->count; i++)
        if (strcmp(a->strings[i], b->strings[i])) return false;
      return true;
    case SINTER_ATTR_TENSOR:
    case SINTER_ATTR_TENSORS:
      if (a->count != b->count) return false;
      for (int64_t i = 0; i < a->count; i++)
        if (!tensors_equal(&a->tensors[i], &b->tensors[i])) return false;
      return true;
    default: return false;
  }
}

/* Asserts that b has the same structure as a: inputs, constants (bytes),
 * node sequence with ops, names, attributes and wiring, and outputs. */
static void assert_same_graph(const sinter_graph_t *a, const sinter_graph_t *b, const char *what) {
  ck_assert_msg(a->n_inputs == b->n_inputs, "%s: %d inputs vs %d", what, a->n_inputs, b->n_inputs);
  for (int32_t i = 0; i < a->n_inputs; i++) {
    ck_assert_str_eq(a->inputs[i]->name, b->inputs[i]->name);
    ck_assert_msg(types_equal(&a->inputs[i]->type, &b->inputs[i]->type), "%s: input %d type", what,
                  i);
  }
  ck_assert_msg(a->n_consts == b->n_consts, "%s: %d constants vs %d", what, a->n_consts,
                b->n_consts);
  for (const sinter_value_t *c = a->first_const; c; c = c->next_const) {
    const sinter_value_t *d = find_const(b, c->name);
    ck_assert_msg(d != NULL, "%s: constant '%s' is missing", what, c->name);
    ck_assert_msg(types_equal(&c->type, &d->type), "%s: constant '%s' type", what, c->name);
    ck_assert_msg(c->nbytes == d->nbytes && (!c->nbytes || !memcmp(c->data, d->data, c->nbytes)),
                  "%s: constant '%s' bytes differ", what, c->name);
  }
  ck_assert_msg(a->n_nodes == b->n_nodes, "%s: %d nodes vs %d", what, a->n_nodes, b->n_nodes);
  char ka[64], kb[64];
  const sinter_node_t *m = b->first;
  for (const sinter_node_t *n = a->first; n; n = n->next, m = m->next) {
    const char *op = sinter_op_info(n->op)->name;
    ck_assert_msg(n->op == m->op, "%s: node '%s' is %s vs %s", what, n->name, op,
                  sinter_op_info(m->op)->name);
    ck_assert_str_eq(n->name, m->name);
    ck_assert_msg(n->n_inputs == m->n_inputs && n->n_outputs == m->n_outputs,
                  "%s: node '%s' (%s) arity differs", what, n->name, op);
    for (int32_t i = 0; i < n->n_inputs; i++) {
      value_key(a, n->inputs[i], ka, sizeof(ka));
      value_key(b, m->inputs[i], kb, sizeof(kb));
      ck_assert_msg(strcmp(ka, kb) == 0, "%s: node '%s' (%s) input %d: %s vs %s", what, n->name, op,
                    i, ka, kb);
    }
    for (int32_t i = 0; i < n->n_outputs; i++)
      if (*n->outputs[i]->name) ck_assert_str_eq(n->outputs[i]->name, m->outputs[i]->name);
    ck_assert_msg(n->n_attrs == m->n_attrs, "%s: node '%s' (%s) has %d attributes vs %d", what,
                  n->name, op, n->n_attrs, m->n_attrs);
    for (int32_t i = 0; i < n->n_attrs; i++)
      ck_assert_msg(attrs_equal(&n->attrs[i], &m->attrs[i]), "%s: node '%s' (%s) attribute '%s'",
                    what, n->name, op, n->attrs[i].name);
  }
  ck_assert_int_eq(a->n_outputs, b->n_outputs);
  for (int32_t i = 0; i < a->n_outputs; i++) {
    value_key(a, a->outputs[i], ka, sizeof(ka));
    value_key(b, b->outputs[i], kb, sizeof(kb));
    ck_assert_msg(strcmp(ka, kb) == 0, "%s: output %d: %s vs %s", what, i, ka, kb);
    ck_assert_str_eq(a->outputs[i]->name, b->outputs[i]->name);
  }
}

/* Exports g, re-imports it, and checks the structure survived. */
static void assert_round_trip(const sinter_graph_t *g, const char *what) {
  void *data;
  size_t len;
  ck_ok(sinter_onnx_export_buffer(g, &data, &len));
  sinter_graph_t *h = import_bytes(data, len, true);
  free(data);
  assert_same_graph(g, h, what);
  sinter_graph_destroy(h);
}

/* ---- numeric checks through the interpreter ----------------------------- */

/* Runs g on dir/test_data_set_0 and compares with its outputs. Returns false
 * (after saying why) when the interpreter lacks a kernel; other failures
 * fail the test. Tolerance: ONNX's reference outputs come from another
 * implementation; 1e-5 absolute plus 1e-4 relative covers float32 rounding
 * differences of these small ops (softmax, adds) with margin. */
static bool run_against_data(const sinter_graph_t *g, const char *dir) {
  enum { MAXT = 8 };
  sinter_tensor_t in[MAXT], out[MAXT], want;
  memset(in, 0, sizeof(in));
  ck_assert_int_le(g->n_inputs, MAXT);
  ck_assert_int_le(g->n_outputs, MAXT);
  char path[1024];
  for (int32_t i = 0; i < g->n_inputs; i++) {
    snprintf(path, sizeof(path), "%s/test_data_set_0/input_%d.pb", dir, i);
    ck_ok(sinter_onnx_read_tensor_file(path, &in[i], NULL));
  }
  sinter_interp_t *ip = NULL;
  sinter_status_t st = sinter_interp_create(g, &ip);
  if (!st) st = sinter_interp_run(ip, in, g->n_inputs, out);
  sinter_interp_destroy(ip);
  for (int32_t i = 0; i < g->n_inputs; i++) sinter_tensor_free_data(&in[i]);
  if (st && sinter_status_code(st) == SINTER_UNSUPPORTED) {
    fprintf(stderr, "note: %s: not run, the interpreter is not ready: %s\n", dir,
            sinter_status_message(st));
    sinter_status_free(st);
    return false;
  }
  ck_assert_msg(st == NULL, "%s: run failed: %s", dir, sinter_status_message(st));
  for (int32_t k = 0; k < g->n_outputs; k++) {
    snprintf(path, sizeof(path), "%s/test_data_set_0/output_%d.pb", dir, k);
    ck_ok(sinter_onnx_read_tensor_file(path, &want, NULL));
    ck_assert_int_eq(out[k].dtype, want.dtype);
    ck_assert_int_eq(out[k].rank, want.rank);
    for (int32_t d = 0; d < want.rank; d++) ck_assert_int_eq(out[k].dims[d], want.dims[d]);
    if (want.dtype == SINTER_DTYPE_F32) {
      int64_t n = sinter_tensor_numel(&want);
      for (int64_t i = 0; i < n; i++) {
        float a = ((float *)out[k].data)[i], b = ((float *)want.data)[i];
        ck_assert_msg(fabsf(a - b) <= 1e-5f + 1e-4f * fabsf(b), "%s: output %d[%lld]: %g vs %g",
                      dir, k, (long long)i, a, b);
      }
    } else {
      ck_assert_mem_eq(out[k].data, want.data, want.nbytes);
    }
    sinter_tensor_free_data(&want);
    sinter_tensor_free_data(&out[k]);
  }
  return true;
}

/* ---- shared models ------------------------------------------------------ */

typedef struct model_fact_s {
  const char *dir;
  const char *input0;
  sinter_dtype_t dtype0;
  int32_t rank0;
  int64_t dim_last; /* size of the input's last dim */
  const char *output0;
} model_fact_t;

/* From shared/models/README.md. */
static const model_fact_t model_facts[] = {
    {"digits_cnn", "input", SINTER_DTYPE_F32, 4, 8, "logits"},
    {"digits_mlp", "input", SINTER_DTYPE_F32, 2, 64, NULL},
    {"resnet18", NULL, SINTER_DTYPE_F32, 4, 224, NULL},
    {"mobilenet_v2", NULL, SINTER_DTYPE_F32, 4, 224, NULL},
    {"bert_tiny", "input_ids", SINTER_DTYPE_I64, 2, 32, "logits"},
    {"tiny_llama", "input_ids", SINTER_DTYPE_I64, 2, 64, "logits"},
};

/* Compares a graph with the ModelProto it came from, read independently
 * with protobuf-c: every initializer's bytes and every node's op. */
static void assert_matches_proto(const sinter_graph_t *g, const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)len);
  ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, (size_t)len, buf);
  ck_assert_ptr_nonnull(m);
  const Onnx__GraphProto *gp = m->graph;
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *t = gp->initializer[i];
    const sinter_value_t *c = find_const(g, t->name);
    ck_assert_msg(c != NULL, "%s: initializer '%s' missing", path, t->name);
    if (t->has_raw_data) {
      ck_assert_uint_eq(c->nbytes, t->raw_data.len);
      ck_assert_msg(!c->nbytes || memcmp(c->data, t->raw_data.data, c->nbytes) == 0,
                    "%s: initializer '%s' bytes differ", path, t->name);
    }
  }
  int32_t non_constant = 0;
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    if (strcmp(np->op_type, "Constant") == 0) {
      ck_assert_ptr_nonnull(find_const(g, np->output[0]));
      continue;
    }
    non_constant++;
    const sinter_value_t *v = sinter_graph_find_value(g, np->output[0]);
    ck_assert_msg(v && v->producer, "%s: output '%s' missing", path, np->output[0]);
    ck_assert_str_eq(sinter_op_info(v->producer->op)->name, np->op_type);
  }
  /* Opset 13 needs no rewrite that adds nodes. */
  ck_assert_int_eq(g->n_nodes, non_constant);
  onnx__model_proto__free_unpacked(m, NULL);
  free(buf);
}

START_TEST(shared_models) {
  if (!exists(MODELS)) {
    fprintf(stderr, "skip: %s is absent; shared-model import not tested\n", MODELS);
    return;
  }
  for (size_t k = 0; k < sizeof(model_facts) / sizeof(model_facts[0]); k++) {
    const model_fact_t *mf = &model_facts[k];
    char path[2048], dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s", MODELS, mf->dir);
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    if (!exists(path)) {
      fprintf(stderr, "skip: %s is absent\n", path);
      continue;
    }
    sinter_graph_t *g = import_path(path, true);
    ck_assert_int_eq(sinter_graph_opset(g, ""), 13);
    const sinter_value_t *in0 = g->inputs[0];
    if (mf->input0) ck_assert_str_eq(in0->name, mf->input0);
    ck_assert_int_eq(in0->type.dtype, mf->dtype0);
    ck_assert_int_eq(in0->type.rank, mf->rank0);
    ck_assert_int_eq(in0->type.dims[mf->rank0 - 1].size, mf->dim_last);
    if (mf->output0) ck_assert_str_eq(g->outputs[0]->name, mf->output0);
    assert_matches_proto(g, path);
    assert_round_trip(g, path);
    /* bert_tiny's ReduceMean carries axes as an attribute at opset 13; the
     * IR wants them as input 1. */
    for (sinter_node_t *n = g->first; n; n = n->next)
      if (n->op == SINTER_OP_REDUCE_MEAN) {
        ck_assert_int_eq(n->n_inputs, 2);
        ck_assert_int_eq(n->inputs[1]->kind, SINTER_VALUE_CONST);
        ck_assert_ptr_null(sinter_node_attr(n, "axes"));
      }
    sinter_graph_destroy(g);

    /* The default import also infers shapes; until every op has inference
     * that may be reported as unsupported, never as anything else. */
    sinter_graph_t *h = NULL;
    sinter_status_t st = sinter_onnx_import_file(path, &h);
    if (st) {
      ck_assert_msg(sinter_status_code(st) == SINTER_UNSUPPORTED &&
                        strstr(sinter_status_message(st), "no shape inference yet"),
                    "%s", sinter_status_message(st));
      ck_assert_msg(strncmp(sinter_status_message(st), path, strlen(path)) == 0,
                    "message lacks the file name: %s", sinter_status_message(st));
      fprintf(stderr, "note: %s\n", sinter_status_message(st));
      sinter_status_free(st);
    } else {
      for (int32_t i = 0; i < h->n_outputs; i++)
        ck_assert_int_eq(h->outputs[i]->type.dtype, SINTER_DTYPE_F32);
      if (strncmp(mf->dir, "digits", 6) == 0) run_against_data(h, dir);
      sinter_graph_destroy(h);
    }
  }
}
END_TEST

/* ---- ONNX node tests ---------------------------------------------------- */

static sinter_graph_t *import_test(const char *sub, bool skip_inference) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s/model.onnx", TESTDATA, sub);
  return import_path(path, skip_inference);
}

START_TEST(legacy_slice_squeeze) {
  if (!exists(TESTDATA)) return;
  /* Opset 6: Slice(starts=[0], ends=[1], axes=[0]) then Squeeze(axes=[0]). */
  sinter_graph_t *g = import_test("pytorch-operator/test_operator_index", true);
  ck_assert_int_eq(sinter_graph_opset(g, ""), 6);
  sinter_node_t **n = node_list(g);
  ck_assert_int_eq(g->n_nodes, 2);
  ck_assert_int_eq(n[0]->op, SINTER_OP_SLICE);
  ck_assert_int_eq(n[0]->n_inputs, 4);
  static const int64_t zero[1] = {0}, one[1] = {1};
  assert_const_i64(n[0]->inputs[1], zero, 1);
  assert_const_i64(n[0]->inputs[2], one, 1);
  assert_const_i64(n[0]->inputs[3], zero, 1);
  ck_assert_int_eq(n[0]->n_attrs, 0);
  ck_assert_int_eq(n[1]->op, SINTER_OP_SQUEEZE);
  assert_const_i64(n[1]->inputs[1], zero, 1);
  free(n);
  assert_round_trip(g, "test_operator_index");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(legacy_clip_pad_split) {
  if (!exists(TESTDATA)) return;
  sinter_graph_t *g = import_test("pytorch-operator/test_operator_clip", true);
  sinter_node_t *n = g->first;
  ck_assert_int_eq(n->op, SINTER_OP_CLIP);
  ck_assert_int_eq(n->n_inputs, 3);
  assert_const_f32_scalar(n->inputs[1], -0.5f);
  assert_const_f32_scalar(n->inputs[2], 0.5f);
  ck_assert_int_eq(n->n_attrs, 0);
  sinter_graph_destroy(g);

  g = import_test("pytorch-converted/test_ConstantPad2d", true);
  n = g->first;
  ck_assert_int_eq(n->op, SINTER_OP_PAD);
  static const int64_t pads[8] = {0, 0, 3, 1, 0, 0, 4, 2};
  assert_const_i64(n->inputs[1], pads, 8);
  ck_assert_str_eq(sinter_node_attr_string(n, "mode", ""), "constant");
  ck_assert_ptr_null(sinter_node_attr(n, "pads"));
  sinter_graph_destroy(g);

  g = import_test("pytorch-operator/test_operator_chunk", true);
  n = g->first;
  ck_assert_int_eq(n->op, SINTER_OP_SPLIT);
  static const int64_t split[2] = {2, 1};
  assert_const_i64(n->inputs[1], split, 2);
  ck_assert_int_eq(n->n_outputs, 2);
  ck_assert_ptr_null(sinter_node_attr(n, "split"));
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(legacy_softmax) {
  if (!exists(TESTDATA)) return;
  /* Input rank known (2) and axis 1 == rank-1: one Softmax, axis -1. */
  sinter_graph_t *g = import_test("pytorch-converted/test_Softmax", true);
  ck_assert_int_eq(g->n_nodes, 1);
  ck_assert_int_eq(g->first->op, SINTER_OP_SOFTMAX);
  ck_assert_int_eq(sinter_node_attr_int(g->first, "axis", 99), -1);
  run_against_data(g, TESTDATA "/pytorch-converted/test_Softmax");
  sinter_graph_destroy(g);

  /* Softmin: Softmax of Neg's output, whose rank is unknown without
   * inference: the flattening is spelled out. */
  g = import_test("pytorch-converted/test_Softmin", true);
  sinter_node_t **n = node_list(g);
  ck_assert_int_eq(g->n_nodes, 5);
  ck_assert_int_eq(n[0]->op, SINTER_OP_NEG);
  ck_assert_int_eq(n[1]->op, SINTER_OP_FLATTEN);
  ck_assert_int_eq(sinter_node_attr_int(n[1], "axis", 99), 1);
  ck_assert_int_eq(n[2]->op, SINTER_OP_SOFTMAX);
  ck_assert_int_eq(sinter_node_attr_int(n[2], "axis", 99), -1);
  ck_assert_int_eq(n[3]->op, SINTER_OP_SHAPE);
  ck_assert_int_eq(n[4]->op, SINTER_OP_RESHAPE);
  ck_assert_ptr_eq(n[4]->outputs[0], g->outputs[0]);
  ck_assert_str_eq(g->outputs[0]->name, "2");
  free(n);
  run_against_data(g, TESTDATA "/pytorch-converted/test_Softmin");
  assert_round_trip(g, "test_Softmin");
  sinter_graph_destroy(g);

  g = import_test("pytorch-converted/test_log_softmax_dim3", true);
  ck_assert_int_eq(g->n_nodes, 1);
  ck_assert_int_eq(g->first->op, SINTER_OP_LOG_SOFTMAX);
  run_against_data(g, TESTDATA "/pytorch-converted/test_log_softmax_dim3");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(legacy_renamed_ops) {
  if (!exists(TESTDATA)) return;
  /* Upsample (opset 9) -> Resize(X, "", scales) asymmetric/floor. */
  sinter_graph_t *g = import_test("node/test_upsample_nearest", true);
  sinter_node_t *n = g->first;
  ck_assert_int_eq(n->op, SINTER_OP_RESIZE);
  ck_assert_int_eq(n->n_inputs, 3);
  ck_assert_ptr_null(n->inputs[1]);
  ck_assert_str_eq(n->inputs[2]->name, "scales");
  ck_assert_str_eq(sinter_node_attr_string(n, "mode", ""), "nearest");
  ck_assert_str_eq(sinter_node_attr_string(n, "coordinate_transformation_mode", ""), "asymmetric");
  ck_assert_str_eq(sinter_node_attr_string(n, "nearest_mode", ""), "floor");
  run_against_data(g, TESTDATA "/node/test_upsample_nearest");
  sinter_graph_destroy(g);

  g = import_test("node/test_scatter_with_axis", true);
  ck_assert_int_eq(g->first->op, SINTER_OP_SCATTER_ELEMENTS);
  ck_assert_int_eq(sinter_node_attr_int(g->first, "axis", 0), 1);
  run_against_data(g, TESTDATA "/node/test_scatter_with_axis");
  sinter_graph_destroy(g);

  /* Dropout (opset 11) ratio attribute -> input 1. */
  g = import_test("node/test_dropout_random_old", true);
  ck_assert_int_eq(g->first->op, SINTER_OP_DROPOUT);
  assert_const_f32_scalar(g->first->inputs[1], 0.2f);
  sinter_graph_destroy(g);

  /* BatchNormalization (opset 6): is_test dropped. */
  g = import_test("pytorch-converted/test_BatchNorm2d_eval", true);
  ck_assert_int_eq(g->first->op, SINTER_OP_BATCH_NORMALIZATION);
  ck_assert_ptr_null(sinter_node_attr(g->first, "is_test"));
  ck_assert_ptr_nonnull(sinter_node_attr(g->first, "epsilon"));
  sinter_graph_destroy(g);

  /* Gemm (opset 6): broadcast dropped. */
  g = import_test("pytorch-converted/test_Linear", true);
  ck_assert_int_eq(g->first->op, SINTER_OP_GEMM);
  ck_assert_ptr_null(sinter_node_attr(g->first, "broadcast"));
  sinter_graph_destroy(g);

  /* ReduceMean (opset 13) axes attribute -> input. */
  g = import_test("node/test_reduce_mean_keepdims_example", true);
  static const int64_t one[1] = {1};
  assert_const_i64(g->first->inputs[1], one, 1);
  ck_assert_int_eq(sinter_node_attr_int(g->first, "keepdims", 0), 1);
  sinter_graph_destroy(g);

  /* PRelu (opset 6) with a per-channel slope [3] on [2,3,4,5]: the slope is
   * unsqueezed to [3,1,1]. */
  g = import_test("pytorch-converted/test_PReLU_2d_multiparam", true);
  sinter_node_t **ns = node_list(g);
  ck_assert_int_eq(ns[0]->op, SINTER_OP_UNSQUEEZE);
  static const int64_t axes[2] = {1, 2};
  assert_const_i64(ns[0]->inputs[1], axes, 2);
  ck_assert_int_eq(ns[1]->op, SINTER_OP_PRELU);
  ck_assert_ptr_eq(ns[1]->inputs[1], ns[0]->outputs[0]);
  free(ns);
  run_against_data(g, TESTDATA "/pytorch-converted/test_PReLU_2d_multiparam");
  sinter_graph_destroy(g);

  /* Opset 1 still imports. */
  g = import_test("node/test_not_2d", true);
  ck_assert_int_eq(sinter_graph_opset(g, ""), 1);
  ck_assert_int_eq(g->first->op, SINTER_OP_NOT);
  sinter_graph_destroy(g);
}
END_TEST

/* Every node test that imports must survive export and re-import. The
 * exported files are kept in a temp folder for the checker test. */
static int round_trip_dir(const char *root, const char *out_dir, int *n_unsupported) {
  DIR *d = opendir(root);
  if (!d) return 0;
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "test_", 5) != 0) continue;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/model.onnx", root, e->d_name);
    sinter_onnx_import_options_t o = {.skip_shape_inference = true};
    sinter_graph_t *g = NULL;
    sinter_status_t st = sinter_onnx_import_file_opts(path, &o, &g);
    if (st) {
      /* What does not import must be something Sinter declines, never a
       * model it calls broken: these are valid models. */
      ck_assert_msg(sinter_status_code(st) == SINTER_UNSUPPORTED, "%s", sinter_status_message(st));
      sinter_status_free(st);
      (*n_unsupported)++;
      continue;
    }
    assert_round_trip(g, path);
    if (out_dir) {
      char out[1024];
      snprintf(out, sizeof(out), "%s/%s.onnx", out_dir, e->d_name);
      ck_ok(sinter_onnx_export_file(g, out));
    }
    sinter_graph_destroy(g);
    count++;
  }
  closedir(d);
  return count;
}

START_TEST(node_tests_round_trip) {
  if (!exists(TESTDATA)) {
    fprintf(stderr, "skip: %s is absent\n", TESTDATA);
    return;
  }
  char dir[] = "/tmp/sinter_onnx_rt_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  int unsupported = 0;
  int n = round_trip_dir(TESTDATA "/node", dir, &unsupported);
  n += round_trip_dir(TESTDATA "/pytorch-converted", dir, &unsupported);
  n += round_trip_dir(TESTDATA "/pytorch-operator", dir, &unsupported);
  n += round_trip_dir(TESTDATA "/simple", NULL, &unsupported);
  fprintf(stderr, "note: %d ONNX test models round-tripped, %d declined as unsupported\n", n,
          unsupported);
  /* Debian's 1.12 data has 1000-odd models; most must import. */
  ck_assert_int_ge(n, 850);
  /* onnx.checker (full_check) on every exported model, when available. */
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "/usr/bin/python3 -c 'import onnx' 2>/dev/null && /usr/bin/python3 -c '"
           "import onnx, glob, sys\n"
           "bad = 0\n"
           "for p in sorted(glob.glob(\"%s/*.onnx\")):\n"
           "    try: onnx.checker.check_model(onnx.load(p), full_check=True)\n"
           "    except Exception as e: bad += 1; print(p, str(e)[:300])\n"
           "sys.exit(1 if bad else 0)'",
           dir);
  if (system("/usr/bin/python3 -c 'import onnx' 2>/dev/null") == 0) {
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "onnx.checker rejected exported models (see above)");
  } else {
    fprintf(stderr, "skip: /usr/bin/python3 with onnx is absent; checker not run\n");
  }
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- crafted models ------------------------------------------------------ */

START_TEST(crafted_legacy_broadcast) {
  /* Opset 6 Add with broadcast=1, axis=1: A [2,3,4] + B [3] means
   * out[i][j][k] = A[i][j][k] + B[j]; NumPy needs B as [3,1]. */
  ob_t b;
  static const int64_t da[3] = {2, 3, 4}, db[1] = {3};
  static const float bv[3] = {100, 200, 300};
  ob_init(&b, 6);
  ob_input(&b, "A", F32, 3, da);
  ob_initializer(&b, "B", F32, 1, db, bv, sizeof(bv));
  ob_input(&b, "B", F32, 1, db); /* old IR: initializers listed as inputs */
  Onnx__NodeProto *n = ob_node(&b, "Add", "add", "A,B", "Y");
  ob_attr_int(&b, n, "broadcast", 1);
  ob_attr_int(&b, n, "axis", 1);
  ob_output(&b, "Y", F32, 3, da);
  sinter_graph_t *g = import_built(&b);
  ob_deinit(&b);
  ck_assert_int_eq(g->n_inputs, 1); /* B is a constant, not an input */
  ck_assert_int_eq(find_const(g, "B")->kind, SINTER_VALUE_CONST);
  sinter_node_t **ns = node_list(g);
  ck_assert_int_eq(g->n_nodes, 2);
  ck_assert_int_eq(ns[0]->op, SINTER_OP_UNSQUEEZE);
  ck_assert_str_eq(ns[0]->name, "add_bcast");
  static const int64_t axes[1] = {1};
  assert_const_i64(ns[0]->inputs[1], axes, 1);
  ck_assert_str_eq(ns[0]->inputs[1]->name, "add_bcast_axes");
  ck_assert_int_eq(ns[1]->op, SINTER_OP_ADD);
  ck_assert_int_eq(ns[1]->n_attrs, 0);
  free(ns);

  float a[24], out_want[24];
  for (int i = 0; i < 24; i++) a[i] = (float)i;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) out_want[(i * 3 + j) * 4 + k] = a[(i * 3 + j) * 4 + k] + bv[j];
  sinter_tensor_t in = {
      .dtype = SINTER_DTYPE_F32, .rank = 3, .dims = {2, 3, 4}, .data = a, .nbytes = sizeof(a)};
  sinter_tensor_t out;
  sinter_interp_t *ip = NULL;
  sinter_status_t st = sinter_interp_create(g, &ip);
  if (!st) st = sinter_interp_run(ip, &in, 1, &out);
  sinter_interp_destroy(ip);
  if (st && sinter_status_code(st) == SINTER_UNSUPPORTED) {
    fprintf(stderr, "note: broadcast model not run: %s\n", sinter_status_message(st));
    sinter_status_free(st);
  } else {
    ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
    ck_assert_int_eq(out.rank, 3);
    /* Additions of small integers are exact in float32. */
    ck_assert_mem_eq(out.data, out_want, sizeof(out_want));
    sinter_tensor_free_data(&out);
  }
  sinter_graph_destroy(g);
}
END_TEST

/* Runs a one-input graph on x and compares with want exactly; false when
 * the interpreter cannot run it yet. */
static bool run_exact(const sinter_graph_t *g, const sinter_tensor_t *x, const float *want,
                      size_t n) {
  sinter_tensor_t out;
  sinter_interp_t *ip = NULL;
  sinter_status_t st = sinter_interp_create(g, &ip);
  if (!st) st = sinter_interp_run(ip, x, 1, &out);
  sinter_interp_destroy(ip);
  if (st && sinter_status_code(st) == SINTER_UNSUPPORTED) {
    fprintf(stderr, "note: not run: %s\n", sinter_status_message(st));
    sinter_status_free(st);
    return false;
  }
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  ck_assert_uint_eq(out.nbytes, n * sizeof(float));
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(((float *)out.data)[i] == want[i], "element %zu: %g vs %g", i,
                  ((float *)out.data)[i], want[i]);
  sinter_tensor_free_data(&out);
  return true;
}

START_TEST(crafted_legacy_misc) {
  static const int64_t d4[4] = {1, 1, 2, 2};
  static const float xv[4] = {1, 2, 3, 4};
  sinter_tensor_t x = {.dtype = SINTER_DTYPE_F32,
                       .rank = 4,
                       .dims = {1, 1, 2, 2},
                       .data = (void *)xv,
                       .nbytes = sizeof(xv)};
  ob_t b;

  /* Upsample-7, scales attribute, nearest: each pixel becomes 2x2 (floor of
   * the asymmetric source coordinate); exact. */
  ob_init(&b, 7);
  ob_input(&b, "x", F32, 4, d4);
  Onnx__NodeProto *n = ob_node(&b, "Upsample", "up", "x", "y");
  static const float sc[4] = {1, 1, 2, 2};
  ob_attr_floats(&b, n, "scales", sc, 4);
  ob_output(&b, "y", F32, -1, NULL);
  sinter_graph_t *g = import_built(&b);
  ob_deinit(&b);
  sinter_node_t *r = g->first;
  ck_assert_int_eq(r->op, SINTER_OP_RESIZE);
  ck_assert_ptr_null(r->inputs[1]);
  ck_assert_str_eq(r->inputs[2]->name, "up_scales");
  ck_assert_mem_eq(r->inputs[2]->data, sc, sizeof(sc));
  ck_assert_ptr_null(sinter_node_attr(r, "scales"));
  static const float near[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  run_exact(g, &x, near, 16);
  sinter_graph_destroy(g);

  /* Upsample-7 bilinear: linear, asymmetric. Source coordinate i/2, clamped
   * at the border: row 0 [1 1.5 2 2], row 1 [2 2.5 3 3], rows 2-3
   * [3 3.5 4 4]; halves are exact in float32. */
  ob_init(&b, 7);
  ob_input(&b, "x", F32, 4, d4);
  n = ob_node(&b, "Upsample", "up", "x", "y");
  ob_attr_floats(&b, n, "scales", sc, 4);
  ob_attr_string(&b, n, "mode", "bilinear");
  ob_output(&b, "y", F32, -1, NULL);
  g = import_built(&b);
  ob_deinit(&b);
  ck_assert_str_eq(sinter_node_attr_string(g->first, "mode", ""), "linear");
  ck_assert_str_eq(sinter_node_attr_string(g->first, "coordinate_transformation_mode", ""),
                   "asymmetric");
  static const float lin[16] = {1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4};
  run_exact(g, &x, lin, 16);
  sinter_graph_destroy(g);

  /* Resize-10 (X, scales) -> (X, "", scales) with Upsample's sampling. */
  ob_init(&b, 10);
  ob_input(&b, "x", F32, 4, d4);
  static const int64_t four[1] = {4};
  ob_initializer(&b, "s", F32, 1, four, sc, sizeof(sc));
  ob_node(&b, "Resize", "rs", "x,s", "y");
  ob_output(&b, "y", F32, -1, NULL);
  g = import_built(&b);
  ob_deinit(&b);
  r = g->first;
  ck_assert_int_eq(r->n_inputs, 3);
  ck_assert_ptr_null(r->inputs[1]);
  ck_assert_str_eq(r->inputs[2]->name, "s");
  ck_assert_str_eq(sinter_node_attr_string(r, "nearest_mode", ""), "floor");
  run_exact(g, &x, near, 16);
  sinter_graph_destroy(g);

  /* Opset 4: Cast to="FLOAT" (a string then), Reshape shape attribute,
   * Clip on a value of unknown dtype (through CastLike), TopK k attribute,
   * all attributes that later became inputs or changed type. */
  ob_init(&b, 4);
  ob_input(&b, "x", F32, 4, d4);
  n = ob_node(&b, "Cast", "cast", "x", "c");
  ob_attr_string(&b, n, "to", "FLOAT");
  n = ob_node(&b, "Reshape", "rsh", "c", "r");
  static const int64_t shp[2] = {2, 2};
  ob_attr_ints(&b, n, "shape", shp, 2);
  n = ob_node(&b, "Clip", "clip", "r", "k");
  ob_attr_float(&b, n, "max", 3.0f);
  n = ob_node(&b, "TopK", "top", "k", "v,i");
  ob_attr_int(&b, n, "k", 1);
  ob_output(&b, "v", F32, -1, NULL);
  g = import_built(&b);
  ob_deinit(&b);
  sinter_node_t **ns = node_list(g);
  ck_assert_int_eq(g->n_nodes, 5);
  ck_assert_int_eq(sinter_node_attr_int(ns[0], "to", 0), 1);
  static const int64_t two[1] = {1};
  assert_const_i64(ns[1]->inputs[1], shp, 2);
  ck_assert_int_eq(ns[2]->op, SINTER_OP_CAST_LIKE);
  assert_const_f32_scalar(ns[2]->inputs[0], 3.0f);
  ck_assert_ptr_eq(ns[2]->inputs[1], ns[1]->outputs[0]);
  ck_assert_int_eq(ns[3]->op, SINTER_OP_CLIP);
  ck_assert_ptr_null(ns[3]->inputs[1]);
  ck_assert_ptr_eq(ns[3]->inputs[2], ns[2]->outputs[0]);
  ck_assert_int_eq(ns[4]->op, SINTER_OP_TOPK);
  assert_const_i64(ns[4]->inputs[1], two, 1);
  free(ns);
  sinter_graph_destroy(g);

  /* Opset 1: Pad's "paddings" and "value"; Concat's default axis 1. */
  ob_init(&b, 1);
  ob_input(&b, "x", F32, 4, d4);
  n = ob_node(&b, "Pad", "pad", "x", "p");
  static const int64_t pads[8] = {0, 0, 1, 0, 0, 0, 0, 1};
  ob_attr_ints(&b, n, "paddings", pads, 8);
  ob_attr_float(&b, n, "value", 1.5f);
  ob_node(&b, "Concat", "cat", "x,x", "y");
  ob_output(&b, "y", F32, -1, NULL);
  ob_output(&b, "p", F32, -1, NULL);
  g = import_built(&b);
  ob_deinit(&b);
  ns = node_list(g);
  assert_const_i64(ns[0]->inputs[1], pads, 8);
  assert_const_f32_scalar(ns[0]->inputs[2], 1.5f);
  ck_assert_ptr_null(sinter_node_attr(ns[0], "paddings"));
  ck_assert_int_eq(sinter_node_attr_int(ns[1], "axis", 0), 1);
  free(ns);
  sinter_graph_destroy(g);

  /* GroupNormalization-18 scales per group; the IR (21) per channel. */
  ob_init(&b, 18);
  static const int64_t dx[4] = {1, 4, 2, 2}, dg[1] = {2};
  static const float gs[2] = {10, 20}, gb[2] = {1, 2};
  ob_input(&b, "x", F32, 4, dx);
  ob_initializer(&b, "scale", F32, 1, dg, gs, sizeof(gs));
  ob_initializer(&b, "bias", F32, 1, dg, gb, sizeof(gb));
  n = ob_node(&b, "GroupNormalization", "gn", "x,scale,bias", "y");
  ob_attr_int(&b, n, "num_groups", 2);
  ob_output(&b, "y", F32, 4, dx);
  g = import_built(&b);
  ob_deinit(&b);
  static const float gs4[4] = {10, 10, 20, 20}, gb4[4] = {1, 1, 2, 2};
  ck_assert_str_eq(g->first->inputs[1]->name, "gn_scale_per_channel");
  ck_assert_int_eq(g->first->inputs[1]->type.dims[0].size, 4);
  ck_assert_mem_eq(g->first->inputs[1]->data, gs4, sizeof(gs4));
  ck_assert_mem_eq(g->first->inputs[2]->data, gb4, sizeof(gb4));
  sinter_graph_destroy(g);

  /* Hardmax-11 on a value of unknown rank: spelled-out flattening. */
  ob_init(&b, 11);
  ob_input(&b, "x", F32, -1, NULL);
  n = ob_node(&b, "Hardmax", "hm", "x", "y");
  ob_attr_int(&b, n, "axis", 0);
  ob_output(&b, "y", F32, -1, NULL);
  g = import_built(&b);
  ob_deinit(&b);
  ns = node_list(g);
  ck_assert_int_eq(g->n_nodes, 4);
  ck_assert_int_eq(ns[0]->op, SINTER_OP_FLATTEN);
  ck_assert_int_eq(sinter_node_attr_int(ns[0], "axis", 9), 0);
  ck_assert_str_eq(ns[0]->name, "hm_flatten");
  ck_assert_int_eq(ns[1]->op, SINTER_OP_HARDMAX);
  ck_assert_str_eq(ns[1]->name, "hm");
  ck_assert_int_eq(ns[3]->op, SINTER_OP_RESHAPE);
  ck_assert_str_eq(ns[3]->outputs[0]->name, "y");
  free(ns);
  assert_round_trip(g, "hardmax");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(crafted_types_and_shapes) {
  ob_t b;
  static const int64_t dn[3] = {-2, -1, 5};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 3, dn);
  ob_input(&b, "noshape", F32, -1, NULL);
  ob_node(&b, "Add", "add", "x,noshape", "y");
  ob_output(&b, "y", F32, 3, dn);
  /* Typed-field initializers. */
  static const int64_t d2[1] = {2};
  Onnx__TensorProto *t;
  t = ob_initializer(&b, "f16", ONNX_DT_FLOAT16, 1, d2, NULL, 0);
  static int32_t f16bits[2] = {0x3C00, 0xC000}; /* 1.0, -2.0 */
  t->int32_data = f16bits;
  t->n_int32_data = 2;
  t = ob_initializer(&b, "i8", ONNX_DT_INT8, 1, d2, NULL, 0);
  static int32_t i8v[2] = {-5, 7};
  t->int32_data = i8v;
  t->n_int32_data = 2;
  t = ob_initializer(&b, "b", ONNX_DT_BOOL, 1, d2, NULL, 0);
  static int32_t bv[2] = {1, 0};
  t->int32_data = bv;
  t->n_int32_data = 2;
  t = ob_initializer(&b, "u16", ONNX_DT_UINT16, 1, d2, NULL, 0);
  static int32_t u16v[2] = {65535, 1};
  t->int32_data = u16v;
  t->n_int32_data = 2;
  t = ob_initializer(&b, "i64", I64, 1, d2, NULL, 0);
  static int64_t i64v[2] = {-1, INT64_MAX};
  t->int64_data = i64v;
  t->n_int64_data = 2;
  t = ob_initializer(&b, "f64", ONNX_DT_DOUBLE, 1, d2, NULL, 0);
  static double f64v[2] = {0.5, -3.25};
  t->double_data = f64v;
  t->n_double_data = 2;
  t = ob_initializer(&b, "u32", ONNX_DT_UINT32, 1, d2, NULL, 0);
  static uint64_t u32v[2] = {4000000000u, 3};
  t->uint64_data = u32v;
  t->n_uint64_data = 2;
  t = ob_initializer(&b, "u64", ONNX_DT_UINT64, 1, d2, NULL, 0);
  static uint64_t u64v[2] = {UINT64_MAX, 9};
  t->uint64_data = u64v;
  t->n_uint64_data = 2;
  t = ob_initializer(&b, "f32", F32, 0, NULL, NULL, 0);
  static float f32v[1] = {2.5f};
  t->float_data = f32v;
  t->n_float_data = 1;
  static const int64_t d3[1] = {3};
  t = ob_initializer(&b, "i4", ONNX_DT_INT4, 1, d3, NULL, 0);
  static int32_t i4v[2] = {0x21, 0x0F}; /* packed nibbles: 1, 2, -1 */
  t->int32_data = i4v;
  t->n_int32_data = 2;
  static const uint16_t bf16raw[2] = {0x3F80, 0x4000};
  ob_initializer(&b, "bf16", ONNX_DT_BFLOAT16, 1, d2, bf16raw, sizeof(bf16raw));
  static const uint8_t f8raw[2] = {0x38, 0x40};
  ob_initializer(&b, "f8", ONNX_DT_FLOAT8E4M3FN, 1, d2, f8raw, sizeof(f8raw));

  sinter_graph_t *g = import_built(&b);
  ob_deinit(&b);
  const sinter_value_t *x = g->inputs[0];
  ck_assert_int_eq(x->type.rank, 3);
  ck_assert_int_eq(x->type.dims[0].size, -1);
  ck_assert_str_eq(x->type.dims[0].sym, "N");
  ck_assert_int_eq(x->type.dims[1].size, -1);
  ck_assert_ptr_null(x->type.dims[1].sym);
  ck_assert_int_eq(x->type.dims[2].size, 5);
  ck_assert_int_eq(g->inputs[1]->type.rank, -1);
  /* The declared output type is kept when inference is skipped. */
  ck_assert_int_eq(g->outputs[0]->type.rank, 3);
  ck_assert_str_eq(g->outputs[0]->type.dims[0].sym, "N");

  static const uint16_t f16want[2] = {0x3C00, 0xC000};
  ck_assert_mem_eq(find_const(g, "f16")->data, f16want, 4);
  static const int8_t i8want[2] = {-5, 7};
  ck_assert_mem_eq(find_const(g, "i8")->data, i8want, 2);
  static const uint8_t bwant[2] = {1, 0};
  ck_assert_mem_eq(find_const(g, "b")->data, bwant, 2);
  ck_assert_int_eq(find_const(g, "b")->type.dtype, SINTER_DTYPE_BOOL);
  static const uint16_t u16want[2] = {65535, 1};
  ck_assert_mem_eq(find_const(g, "u16")->data, u16want, 4);
  ck_assert_mem_eq(find_const(g, "i64")->data, i64v, 16);
  ck_assert_mem_eq(find_const(g, "f64")->data, f64v, 16);
  static const uint32_t u32want[2] = {4000000000u, 3};
  ck_assert_mem_eq(find_const(g, "u32")->data, u32want, 8);
  ck_assert_mem_eq(find_const(g, "u64")->data, u64v, 16);
  ck_assert_int_eq(find_const(g, "f32")->type.rank, 0);
  ck_assert_mem_eq(find_const(g, "f32")->data, f32v, 4);
  static const uint8_t i4want[2] = {0x21, 0x0F};
  ck_assert_int_eq(find_const(g, "i4")->type.dtype, SINTER_DTYPE_I4);
  ck_assert_uint_eq(find_const(g, "i4")->nbytes, 2);
  ck_assert_mem_eq(find_const(g, "i4")->data, i4want, 2);
  ck_assert_int_eq(find_const(g, "bf16")->type.dtype, SINTER_DTYPE_BF16);
  ck_assert_int_eq(find_const(g, "f8")->type.dtype, SINTER_DTYPE_F8E4M3);
  assert_round_trip(g, "typed fields");

  /* int4 constants need opset 21 (IR version 10). */
  int64_t opset;
  ck_ok(sinter_onnx_export_opset(g, &opset));
  ck_assert_int_eq(opset, 21);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(crafted_constants_and_attrs) {
  ob_t b;
  static const int64_t d[1] = {2};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 1, d);
  Onnx__NodeProto *c;
  c = ob_node(&b, "Constant", "c1", "", "k_tensor");
  Onnx__AttributeProto *a = ob_attr(&b, c, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
  static const float kv[2] = {3, 4};
  a->t = ob_tensor(&b, NULL, F32, 1, d, kv, sizeof(kv));
  c = ob_node(&b, "Constant", "c2", "", "k_float");
  ob_attr_float(&b, c, "value_float", 1.5f);
  c = ob_node(&b, "Constant", "c3", "", "k_floats");
  static const float fl[3] = {1, 2, 3};
  ob_attr_floats(&b, c, "value_floats", fl, 3);
  c = ob_node(&b, "Constant", "c4", "", "k_int");
  ob_attr_int(&b, c, "value_int", -7);
  c = ob_node(&b, "Constant", "c5", "", "k_ints");
  static const int64_t iv[2] = {5, 6};
  ob_attr_ints(&b, c, "value_ints", iv, 2);
  /* Identity accepts (and ignores) attributes of every kind here: the IR
   * keeps them all. */
  Onnx__NodeProto *n = ob_node(&b, "Identity", "id", "x", "y");
  ob_attr_int(&b, n, "i", 42);
  ob_attr_float(&b, n, "f", 0.25f);
  ob_attr_string(&b, n, "s", "hello");
  ob_attr_ints(&b, n, "is", iv, 2);
  ob_attr_floats(&b, n, "fs", fl, 3);
  Onnx__AttributeProto *ss = ob_attr(&b, n, "ss", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
  static ProtobufCBinaryData strs[2] = {{1, (uint8_t *)"a"}, {2, (uint8_t *)"bc"}};
  ss->strings = strs;
  ss->n_strings = 2;
  Onnx__AttributeProto *ta = ob_attr(&b, n, "t", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
  ta->t = ob_tensor(&b, NULL, F32, 1, d, kv, sizeof(kv));
  Onnx__AttributeProto *ts = ob_attr(&b, n, "ts", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS);
  Onnx__TensorProto *two[2] = {ob_tensor(&b, NULL, F32, 1, d, kv, sizeof(kv)),
                               ob_tensor(&b, NULL, I64, 1, d, iv, sizeof(iv))};
  ts->tensors = two;
  ts->n_tensors = 2;
  /* An attribute without a type field (IR version 1) is guessed. */
  Onnx__AttributeProto *old = ob_attr(&b, n, "old", 0);
  old->has_type = 0;
  old->has_i = 1;
  old->i = 3;
  ob_output(&b, "y", F32, 1, d);
  sinter_graph_t *g = import_built(&b);
  ob_deinit(&b);

  ck_assert_int_eq(g->n_nodes, 1); /* constants are not nodes */
  const sinter_value_t *k = find_const(g, "k_tensor");
  ck_assert_int_eq(k->type.rank, 1);
  ck_assert_mem_eq(k->data, kv, 8);
  assert_const_f32_scalar(find_const(g, "k_float"), 1.5f);
  ck_assert_int_eq(find_const(g, "k_floats")->type.dims[0].size, 3);
  k = find_const(g, "k_int");
  ck_assert_int_eq(k->type.dtype, SINTER_DTYPE_I64);
  ck_assert_int_eq(k->type.rank, 0);
  ck_assert_int_eq(*(const int64_t *)k->data, -7);
  assert_const_i64(find_const(g, "k_ints"), iv, 2);

  sinter_node_t *id = g->first;
  ck_assert_int_eq(sinter_node_attr_int(id, "i", 0), 42);
  ck_assert_float_eq(sinter_node_attr_float(id, "f", 0), 0.25f);
  ck_assert_str_eq(sinter_node_attr_string(id, "s", ""), "hello");
  ck_assert_int_eq(sinter_node_attr(id, "ss")->count, 2);
  ck_assert_str_eq(sinter_node_attr(id, "ss")->strings[1], "bc");
  ck_assert_int_eq(sinter_node_attr(id, "ts")->tensors[1].dtype, SINTER_DTYPE_I64);
  ck_assert_int_eq(sinter_node_attr(id, "t")->kind, SINTER_ATTR_TENSOR);
  ck_assert_int_eq(sinter_node_attr_int(id, "old", 0), 3);
  assert_round_trip(g, "attributes");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(declared_output_shapes) {
  /* Reshape to a shape computed at run time: inference cannot know the
   * dims, the file declares them, and the declaration fills the gaps. */
  ob_t b;
  static const int64_t d[2] = {2, 3}, decl[2] = {-2, 3};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 2, d);
  ob_node(&b, "Shape", "shape", "x", "s");
  ob_node(&b, "Reshape", "reshape", "x,s", "y");
  ob_output(&b, "y", F32, 2, decl);
  size_t len;
  void *data = ob_pack(&b, &len);
  ob_deinit(&b);
  sinter_graph_t *g = NULL;
  sinter_status_t st = sinter_onnx_import_buffer(data, len, "reshape.onnx", NULL, &g);
  free(data);
  if (st && strstr(sinter_status_message(st), "no shape inference yet")) {
    fprintf(stderr, "note: %s\n", sinter_status_message(st));
    sinter_status_free(st);
    return;
  }
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  const sinter_type_t *t = &g->outputs[0]->type;
  ck_assert_int_eq(t->dtype, SINTER_DTYPE_F32);
  ck_assert_int_eq(t->rank, 2);
  ck_assert_int_eq(t->dims[1].size, 3);
  /* Dim 0 is whatever inference found, else the declared symbol. */
  ck_assert(t->dims[0].size == 2 || (t->dims[0].sym && strcmp(t->dims[0].sym, "N") == 0));
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(crafted_unsorted_graph) {
  /* Nodes listed consumers first; independent nodes keep file order. */
  ob_t b;
  static const int64_t d[1] = {4};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 1, d);
  ob_node(&b, "Neg", "third", "b_out", "y");
  ob_node(&b, "Relu", "second", "a_out", "b_out");
  ob_node(&b, "Abs", "first", "x", "a_out");
  ob_node(&b, "Exp", "side", "x", "z");
  ob_output(&b, "y", F32, 1, d);
  ob_output(&b, "z", F32, 1, d);
  sinter_graph_t *g = import_built(&b);
  ob_deinit(&b);
  sinter_node_t **n = node_list(g);
  ck_assert_str_eq(n[0]->name, "first");
  ck_assert_str_eq(n[1]->name, "second");
  ck_assert_str_eq(n[2]->name, "third");
  ck_assert_str_eq(n[3]->name, "side");
  free(n);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(crafted_generated_names) {
  /* Constants made from attributes are named after the node; an unnamed
   * node lends its first output's name. Names never collide with the
   * model's own. */
  ob_t b;
  static const int64_t d[2] = {4, 4};
  ob_init(&b, 9);
  ob_input(&b, "x", F32, 2, d);
  ob_input(&b, "sl_starts", F32, 2, d); /* taken: the generated name moves aside */
  Onnx__NodeProto *n = ob_node(&b, "Slice", "sl", "x", "s");
  static const int64_t st[1] = {1}, en[1] = {3};
  ob_attr_ints(&b, n, "starts", st, 1);
  ob_attr_ints(&b, n, "ends", en, 1);
  n = ob_node(&b, "Unsqueeze", NULL, "s", "u");
  static const int64_t ax[1] = {0};
  ob_attr_ints(&b, n, "axes", ax, 1);
  ob_node(&b, "Add", "add", "u,sl_starts", "y");
  ob_output(&b, "y", F32, -1, NULL);
  sinter_graph_t *g = import_built(&b);
  ob_deinit(&b);
  sinter_node_t **ns = node_list(g);
  ck_assert_str_eq(ns[0]->inputs[1]->name, "sl_starts_1");
  ck_assert_str_eq(ns[0]->inputs[2]->name, "sl_ends");
  ck_assert_int_eq(ns[0]->n_inputs, 3);
  ck_assert_str_eq(ns[1]->name, "");
  ck_assert_str_eq(ns[1]->inputs[1]->name, "u_axes");
  free(ns);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(export_opset_choice) {
  /* Opset 18 model: ReduceMean with constant axes input exports at 17 with
   * the axes attribute; ReduceMean on computed axes needs 18. */
  ob_t b;
  static const int64_t d[2] = {2, 3}, one[1] = {1}, axes[1] = {1};
  ob_init(&b, 18);
  ob_input(&b, "x", F32, 2, d);
  ob_initializer(&b, "axes", I64, 1, one, axes, sizeof(axes));
  Onnx__NodeProto *n = ob_node(&b, "ReduceMean", "rm", "x,axes", "y");
  ob_attr_int(&b, n, "keepdims", 0);
  ob_output(&b, "y", F32, 1, d);
  sinter_graph_t *g = import_built(&b);
  ob_deinit(&b);
  int64_t opset;
  ck_ok(sinter_onnx_export_opset(g, &opset));
  ck_assert_int_eq(opset, 17);
  void *data;
  size_t len;
  ck_ok(sinter_onnx_export_buffer(g, &data, &len));
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->ir_version, 8);
  ck_assert_int_eq(m->opset_import[0]->version, 17);
  Onnx__NodeProto *rm = m->graph->node[0];
  ck_assert_uint_eq(rm->n_input, 1);
  ck_assert_str_eq(rm->attribute[1]->name, "axes");
  ck_assert_int_eq(rm->attribute[1]->ints[0], 1);
  ck_assert_uint_eq(m->graph->n_initializer, 0); /* axes went into the attribute */
  onnx__model_proto__free_unpacked(m, NULL);
  /* Re-importing the opset-17 form gives axes back as a constant input. */
  sinter_graph_t *h = import_bytes(data, len, true);
  free(data);
  ck_assert_int_eq(h->n_nodes, 1);
  ck_assert_int_eq(h->first->op, SINTER_OP_REDUCE_MEAN);
  assert_const_i64(h->first->inputs[1], axes, 1);
  ck_assert_int_eq(sinter_node_attr_int(h->first, "keepdims", 1), 0);
  sinter_graph_destroy(h);

  /* Axes computed at run time: stays at 18. */
  sinter_node_t *shape;
  sinter_value_t *x = g->inputs[0];
  ck_ok(sinter_graph_insert_node(g, g->first, SINTER_OP_SHAPE, "shape", &x, 1, 1, &shape));
  ck_ok(sinter_node_set_input(g->last, 1, shape->outputs[0]));
  ck_ok(sinter_onnx_export_opset(g, &opset));
  ck_assert_int_eq(opset, 18);
  sinter_graph_destroy(g);

  /* An opset 6 model exports at 13. */
  ob_init(&b, 6);
  ob_input(&b, "x", F32, 2, d);
  ob_node(&b, "Relu", "r", "x", "y");
  ob_output(&b, "y", F32, 2, d);
  g = import_built(&b);
  ob_deinit(&b);
  ck_ok(sinter_onnx_export_opset(g, &opset));
  ck_assert_int_eq(opset, 13);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- external data ------------------------------------------------------- */

START_TEST(external_data) {
  char dir[] = "/tmp/sinter_onnx_ext_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char sub[512], path[1024], model[1024];
  snprintf(sub, sizeof(sub), "%s/data", dir);
  ck_assert_int_eq(mkdir(sub, 0777), 0);
  /* w.bin: 64 bytes of padding, then w0 (6 floats), then at byte 196 w1. */
  unsigned char file[256];
  memset(file, 0xAB, sizeof(file));
  float w0[6] = {1, 2, 3, 4, 5, 6}, w1[6] = {-1, -2, -3, -4, -5, -6};
  memcpy(file + 64, w0, sizeof(w0));
  memcpy(file + 196, w1, sizeof(w1));
  snprintf(path, sizeof(path), "%s/w.bin", sub);
  FILE *f = fopen(path, "wb");
  ck_assert_uint_eq(fwrite(file, 1, sizeof(file), f), sizeof(file));
  fclose(f);
  /* A symlink that stays inside the folder is fine. */
  char link[512];
  snprintf(link, sizeof(link), "%s/alias.bin", dir);
  ck_assert_int_eq(symlink("data/w.bin", link), 0);

  ob_t b;
  static const int64_t d[2] = {2, 3};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 2, d);
  Onnx__TensorProto *t = ob_initializer(&b, "w0", F32, 2, d, NULL, 0);
  ob_external(&b, t, "location", "data/w.bin");
  ob_external(&b, t, "offset", "64");
  ob_external(&b, t, "length", "24");
  t = ob_initializer(&b, "w1", F32, 2, d, NULL, 0);
  ob_external(&b, t, "location", "alias.bin");
  ob_external(&b, t, "offset", "196");
  ob_external(&b, t, "length", "24");
  t = ob_initializer(&b, "w2", F32, 2, d, NULL, 0); /* no length: to the end */
  ob_external(&b, t, "location", "data/w.bin");
  ob_external(&b, t, "offset", "232");
  ob_node(&b, "Add", "a", "x,w0", "s");
  ob_node(&b, "Add", "b", "s,w1", "s2");
  ob_node(&b, "Add", "c", "s2,w2", "y");
  ob_output(&b, "y", F32, 2, d);
  size_t len;
  void *bytes = ob_pack(&b, &len);
  ob_deinit(&b);
  snprintf(model, sizeof(model), "%s/model.onnx", dir);
  f = fopen(model, "wb");
  ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
  fclose(f);
  free(bytes);

  sinter_graph_t *g = import_path(model, true);
  const sinter_value_t *c0 = find_const(g, "w0"), *c1 = find_const(g, "w1"),
                       *c2 = find_const(g, "w2");
  ck_assert_mem_eq(c0->data, w0, sizeof(w0));
  ck_assert_mem_eq(c1->data, w1, sizeof(w1));
  ck_assert_mem_eq(c2->data, file + 232, 24);
  /* Offset 64 is aligned: borrowed from the mapping. 196 is not: copied. */
  ck_assert(c0->data_borrowed);
  ck_assert(!c1->data_borrowed);
  ck_assert(!c2->data_borrowed);
  /* Export writes the bytes inline; the copy re-imports without the files. */
  assert_round_trip(g, "external data");
  sinter_graph_destroy(g);

  unlink(model);
  unlink(link);
  unlink(path);
  rmdir(sub);
  rmdir(dir);
}
END_TEST

/* ---- files ---------------------------------------------------------------- */

START_TEST(tensor_files) {
  if (exists(TESTDATA)) {
    /* test_abs's input is float32 [3,4,5] (checked with onnx.numpy_helper). */
    sinter_tensor_t t;
    char *name = NULL;
    ck_ok(sinter_onnx_read_tensor_file(TESTDATA "/node/test_abs/test_data_set_0/input_0.pb", &t,
                                       &name));
    ck_assert_int_eq(t.dtype, SINTER_DTYPE_F32);
    ck_assert_int_eq(t.rank, 3);
    ck_assert_int_eq(t.dims[0], 3);
    ck_assert_int_eq(t.dims[1], 4);
    ck_assert_int_eq(t.dims[2], 5);
    ck_assert_uint_eq(t.nbytes, 240);
    ck_assert_str_eq(name, "x");
    free(name);
    sinter_tensor_free_data(&t);
  }
  char dir[] = "/tmp/sinter_onnx_pb_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[512];
  snprintf(path, sizeof(path), "%s/t.pb", dir);
  int16_t v[6] = {1, -2, 3, -4, 5, -32768};
  sinter_tensor_t w = {
      .dtype = SINTER_DTYPE_I16, .rank = 2, .dims = {2, 3}, .data = v, .nbytes = sizeof(v)};
  ck_ok(sinter_onnx_write_tensor_file(path, &w, "weights"));
  sinter_tensor_t r;
  char *name = NULL;
  ck_ok(sinter_onnx_read_tensor_file(path, &r, &name));
  ck_assert_int_eq(r.dtype, SINTER_DTYPE_I16);
  ck_assert_int_eq(r.rank, 2);
  ck_assert_int_eq(r.dims[1], 3);
  ck_assert_mem_eq(r.data, v, sizeof(v));
  ck_assert_str_eq(name, "weights");
  free(name);
  sinter_tensor_free_data(&r);
  /* A scalar without a name. */
  double s = 2.5;
  sinter_tensor_t ws = {.dtype = SINTER_DTYPE_F64, .rank = 0, .data = &s, .nbytes = 8};
  ck_ok(sinter_onnx_write_tensor_file(path, &ws, NULL));
  ck_ok(sinter_onnx_read_tensor_file(path, &r, &name));
  ck_assert_ptr_null(name);
  ck_assert_int_eq(r.rank, 0);
  ck_assert_double_eq(*(double *)r.data, 2.5);
  sinter_tensor_free_data(&r);
  unlink(path);

  /* Exporting into a missing folder fails and leaves nothing behind. */
  ob_t b;
  static const int64_t d[1] = {2};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 1, d);
  ob_node(&b, "Relu", "r", "x", "y");
  ob_output(&b, "y", F32, 1, d);
  sinter_graph_t *g = import_built(&b);
  ob_deinit(&b);
  snprintf(path, sizeof(path), "%s/missing/m.onnx", dir);
  sinter_status_t st = sinter_onnx_export_file(g, path);
  ck_assert_ptr_nonnull(st);
  ck_assert_int_eq(sinter_status_code(st), SINTER_IO_ERROR);
  sinter_status_free(st);
  snprintf(path, sizeof(path), "%s/m.onnx", dir);
  ck_ok(sinter_onnx_export_file(g, path));
  sinter_graph_destroy(g);
  g = import_path(path, true);
  ck_assert_int_eq(g->n_nodes, 1);
  sinter_graph_destroy(g);
  /* Only m.onnx is in the folder: no temp file was left. */
  DIR *dd = opendir(dir);
  int files = 0;
  struct dirent *e;
  while ((e = readdir(dd)))
    if (e->d_name[0] != '.') {
      ck_assert_str_eq(e->d_name, "m.onnx");
      files++;
    }
  closedir(dd);
  ck_assert_int_eq(files, 1);
  unlink(path);
  rmdir(dir);
}
END_TEST

START_TEST(dtype_mapping) {
  /* The mapping the frontend relies on; numbers from onnx.proto's
   * TensorProto.DataType (17, 21, 22 from newer ONNX). */
  ck_assert_int_eq(sinter_dtype_from_onnx(1), SINTER_DTYPE_F32);
  ck_assert_int_eq(sinter_dtype_from_onnx(7), SINTER_DTYPE_I64);
  ck_assert_int_eq(sinter_dtype_from_onnx(16), SINTER_DTYPE_BF16);
  ck_assert_int_eq(sinter_dtype_from_onnx(17), SINTER_DTYPE_F8E4M3);
  ck_assert_int_eq(sinter_dtype_from_onnx(21), SINTER_DTYPE_U4);
  ck_assert_int_eq(sinter_dtype_from_onnx(22), SINTER_DTYPE_I4);
  ck_assert_int_eq(sinter_dtype_from_onnx(8), SINTER_DTYPE_UNDEFINED);
  ck_assert_int_eq(sinter_dtype_from_onnx(99), SINTER_DTYPE_UNDEFINED);
  for (int d = 1; d < SINTER_DTYPE_COUNT; d++)
    ck_assert_int_eq(sinter_dtype_from_onnx(sinter_dtype_to_onnx(d)), d);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("onnx");
  TCase *tc = tcase_create("onnx");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, dtype_mapping);
  tcase_add_test(tc, crafted_types_and_shapes);
  tcase_add_test(tc, crafted_constants_and_attrs);
  tcase_add_test(tc, crafted_unsorted_graph);
  tcase_add_test(tc, declared_output_shapes);
  tcase_add_test(tc, crafted_generated_names);
  tcase_add_test(tc, crafted_legacy_broadcast);
  tcase_add_test(tc, crafted_legacy_misc);
  tcase_add_test(tc, export_opset_choice);
  tcase_add_test(tc, external_data);
  tcase_add_test(tc, tensor_files);
  tcase_add_test(tc, legacy_slice_squeeze);
  tcase_add_test(tc, legacy_clip_pad_split);
  tcase_add_test(tc, legacy_softmax);
  tcase_add_test(tc, legacy_renamed_ops);
  tcase_add_test(tc, shared_models);
  tcase_add_test(tc, node_tests_round_trip);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(suite());
}
