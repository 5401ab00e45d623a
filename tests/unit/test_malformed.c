/* Malformed and hostile ONNX models: each case is crafted in C, must be
 * rejected with the expected status code and a message naming the file and
 * the reason, and must not leak (the suite also runs under ASan/LSan).
 * With SINTER_MALFORMED_OUT set, every crafted model is also written there,
 * so that the CLI's exit code can be checked on the same files. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/onnx_builder.h"
#include "tests/support/check_main.h"
#include "frontends/onnx/onnx_internal.h"
#include "sinter/onnx.h"

enum { F32 = ONNX_DT_FLOAT, I64 = ONNX_DT_INT64 };

/* Writes data to $SINTER_MALFORMED_OUT/<name>.onnx when the variable is set. */
static void dump(const char *name, const void *data, size_t len) {
  const char *dir = getenv("SINTER_MALFORMED_OUT");
  if (!dir || !*dir) return;
  mkdir(dir, 0777);
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s.onnx", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
  ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void check_status(sinter_status_t st, sinter_graph_t *g, const char *prefix,
                         sinter_status_code_t code, const char *substr) {
  ck_assert_msg(st != NULL, "expected a failure mentioning \"%s\"", substr);
  ck_assert_ptr_null(g);
  const char *msg = sinter_status_message(st);
  ck_assert_msg(sinter_status_code(st) == code, "code %s, expected %s: %s",
                sinter_status_code_name(sinter_status_code(st)), sinter_status_code_name(code),
                msg);
  ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "message does not start with '%s': %s",
                prefix, msg);
  ck_assert_msg(strstr(msg, substr) != NULL, "message lacks \"%s\": %s", substr, msg);
  sinter_status_free(st);
}

/* Imports bytes from memory (no base folder) and expects a failure. */
static void expect_fail_bytes(const char *name, const void *data, size_t len,
                              sinter_status_code_t code, const char *substr) {
  dump(name, data, len);
  char file[256];
  snprintf(file, sizeof(file), "%s.onnx", name);
  sinter_graph_t *g = NULL;
  sinter_status_t st = sinter_onnx_import_buffer(data, len, file, NULL, &g);
  char prefix[300];
  snprintf(prefix, sizeof(prefix), "%s: ", file);
  check_status(st, g, prefix, code, substr);
}

static void expect_fail(const char *name, ob_t *b, sinter_status_code_t code, const char *substr) {
  size_t len;
  void *data = ob_pack(b, &len);
  expect_fail_bytes(name, data, len, code, substr);
  free(data);
  ob_deinit(b);
}

/* A valid model: y = Relu(x) + w, with w an initializer. */
static void base_model(ob_t *b) {
  static const int64_t d[2] = {2, 3};
  static const float w[6] = {1, 2, 3, 4, 5, 6};
  ob_init(b, 13);
  ob_input(b, "x", F32, 2, d);
  ob_initializer(b, "w", F32, 2, d, w, sizeof(w));
  ob_node(b, "Relu", "relu", "x", "r");
  ob_node(b, "Add", "add", "r,w", "y");
  ob_output(b, "y", F32, 2, d);
}

/* ---- protobuf level ------------------------------------------------------ */

START_TEST(truncated_protobuf) {
  ob_t b;
  base_model(&b);
  size_t len;
  uint8_t *data = ob_pack(&b, &len);
  expect_fail_bytes("truncated", data, len / 2, SINTER_INVALID_MODEL, "truncated");
  free(data);
  ob_deinit(&b);
}
END_TEST

START_TEST(garbage_bytes) {
  static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  expect_fail_bytes("garbage", junk, sizeof(junk), SINTER_INVALID_MODEL, "corrupt");
}
END_TEST

START_TEST(wrong_wire_type) {
  /* Field 7 (graph) sent as a varint: well-formed wire format, wrong schema,
   * so only the unpacker notices. */
  static const uint8_t bytes[] = {0x38, 0x01};
  expect_fail_bytes("wrong_wire_type", bytes, sizeof(bytes), SINTER_INVALID_MODEL,
                    "not a valid ONNX model");
}
END_TEST

START_TEST(empty_file) {
  expect_fail_bytes("empty", "", 0, SINTER_INVALID_MODEL, "empty");
}
END_TEST

START_TEST(nesting_too_deep) {
  /* Graph -> Node -> Attribute -> Graph -> ... 40 times: 120+ levels. */
  ob_t b;
  ob_init(&b, 13);
  Onnx__GraphProto *g = b.g;
  for (int i = 0; i < 40; i++) {
    Onnx__NodeProto *n = ob_alloc(&b, sizeof(*n));
    onnx__node_proto__init(n);
    n->op_type = ob_str(&b, "If");
    OB_PUSH(&b, g->node, g->n_node, n);
    Onnx__AttributeProto *a =
        ob_attr(&b, n, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    Onnx__GraphProto *sub = ob_alloc(&b, sizeof(*sub));
    onnx__graph_proto__init(sub);
    a->g = sub;
    g = sub;
  }
  expect_fail("nesting", &b, SINTER_INVALID_MODEL, "nest deeper than 64");
}
END_TEST

START_TEST(no_graph) {
  ob_t b;
  ob_init(&b, 13);
  b.m->graph = NULL;
  expect_fail("no_graph", &b, SINTER_INVALID_MODEL, "has no graph");
}
END_TEST

START_TEST(unsupported_opset) {
  ob_t b;
  base_model(&b);
  b.m->opset_import[0]->version = 99;
  expect_fail("opset99", &b, SINTER_UNSUPPORTED, "opset 99");
}
END_TEST

/* ---- names and structure ------------------------------------------------- */

START_TEST(missing_initializer) {
  ob_t b;
  static const int64_t d[4] = {1, 1, 4, 4};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 4, d);
  ob_node(&b, "Conv", "Conv_12", "x,w", "y");
  ob_output(&b, "y", F32, -1, NULL);
  expect_fail("missing_initializer", &b, SINTER_INVALID_MODEL,
              "node 'Conv_12' (Conv): input 'w' is not defined (missing initializer?)");
}
END_TEST

START_TEST(unknown_op) {
  ob_t b;
  base_model(&b);
  b.g->node[0]->op_type = ob_str(&b, "FrobnicateV2");
  expect_fail("unknown_op", &b, SINTER_UNSUPPORTED,
              "node 'relu' (FrobnicateV2): op 'FrobnicateV2' is not supported");
}
END_TEST

START_TEST(unknown_domain) {
  ob_t b;
  base_model(&b);
  b.g->node[0]->domain = ob_str(&b, "com.microsoft");
  expect_fail("unknown_domain", &b, SINTER_UNSUPPORTED,
              "node 'relu' (Relu): domain 'com.microsoft'");
}
END_TEST

START_TEST(ml_domain) {
  ob_t b;
  base_model(&b);
  b.g->node[0]->domain = ob_str(&b, "ai.onnx.ml");
  b.g->node[0]->op_type = ob_str(&b, "Normalizer");
  expect_fail("ml_domain", &b, SINTER_UNSUPPORTED, "domain 'ai.onnx.ml' is not supported");
}
END_TEST

START_TEST(control_flow) {
  ob_t b;
  base_model(&b);
  b.g->node[0]->op_type = ob_str(&b, "Loop");
  expect_fail("control_flow", &b, SINTER_UNSUPPORTED,
              "node 'relu' (Loop): control-flow ops with subgraphs are not supported");
}
END_TEST

START_TEST(wrong_arity_inputs) {
  ob_t b;
  base_model(&b);
  Onnx__NodeProto *n = b.g->node[0];
  ob_names(&b, "x,w", &n->input, &n->n_input);
  expect_fail("arity_inputs", &b, SINTER_INVALID_MODEL,
              "node 'relu' (Relu): Relu takes 1 to 1 inputs, got 2");
}
END_TEST

START_TEST(wrong_arity_outputs) {
  ob_t b;
  base_model(&b);
  Onnx__NodeProto *n = b.g->node[0];
  ob_names(&b, "r,r2", &n->output, &n->n_output);
  expect_fail("arity_outputs", &b, SINTER_INVALID_MODEL, "Relu has 1 to 1 outputs, got 2");
}
END_TEST

START_TEST(missing_required_input) {
  ob_t b;
  base_model(&b);
  Onnx__NodeProto *n = b.g->node[1];
  ob_names(&b, ",w", &n->input, &n->n_input);
  expect_fail("missing_required_input", &b, SINTER_INVALID_MODEL, "required input 0 of Add");
}
END_TEST

START_TEST(cyclic_graph) {
  ob_t b;
  static const int64_t d[1] = {4};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 1, d);
  ob_node(&b, "Add", "a", "x,c", "a_out");
  ob_node(&b, "Relu", "b", "a_out", "b_out");
  ob_node(&b, "Neg", "c", "b_out", "c");
  ob_output(&b, "c", F32, 1, d);
  expect_fail("cycle", &b, SINTER_INVALID_MODEL, "cycle through this node");
}
END_TEST

START_TEST(self_loop) {
  ob_t b;
  static const int64_t d[1] = {4};
  ob_init(&b, 13);
  ob_input(&b, "x", F32, 1, d);
  ob_node(&b, "Add", "loop", "x,y", "y");
  ob_output(&b, "y", F32, 1, d);
  expect_fail("self_loop", &b, SINTER_INVALID_MODEL, "node 'loop' (Add): the graph has a cycle");
}
END_TEST

START_TEST(duplicate_definition) {
  ob_t b;
  base_model(&b);
  ob_node(&b, "Neg", "dup", "x", "r");
  expect_fail("duplicate_output", &b, SINTER_INVALID_MODEL, "output 'r' is already defined");
}
END_TEST

START_TEST(undefined_graph_output) {
  ob_t b;
  base_model(&b);
  ob_output(&b, "nowhere", F32, -1, NULL);
  expect_fail("undefined_output", &b, SINTER_INVALID_MODEL,
              "graph output 'nowhere' is not defined");
}
END_TEST

START_TEST(sequence_input) {
  ob_t b;
  base_model(&b);
  Onnx__TypeProto *tp = b.g->input[0]->type;
  Onnx__TypeProto__Sequence *seq = ob_alloc(&b, sizeof(*seq));
  onnx__type_proto__sequence__init(seq);
  tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
  tp->sequence_type = seq;
  expect_fail("sequence_input", &b, SINTER_UNSUPPORTED, "graph input 'x' is a sequence");
}
END_TEST

/* ---- tensors ------------------------------------------------------------- */

START_TEST(dims_overflow) {
  ob_t b;
  base_model(&b);
  static const int64_t huge[3] = {INT64_MAX / 2, 4, 4};
  ob_initializer(&b, "big", F32, 3, huge, NULL, 0);
  expect_fail("dims_overflow", &b, SINTER_INVALID_MODEL,
              "initializer 'big': the product of its dims overflows");
}
END_TEST

START_TEST(negative_dim) {
  ob_t b;
  base_model(&b);
  static const int64_t d[1] = {-3};
  ob_initializer(&b, "neg", F32, 1, d, NULL, 0);
  expect_fail("negative_dim", &b, SINTER_INVALID_MODEL, "negative dimension -3");
}
END_TEST

START_TEST(rank_too_high) {
  ob_t b;
  base_model(&b);
  static const int64_t d[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  static const float v = 1;
  ob_initializer(&b, "deep", F32, 9, d, &v, sizeof(v));
  expect_fail("rank9", &b, SINTER_UNSUPPORTED, "rank 9, above the limit 8");
}
END_TEST

START_TEST(unknown_dtype) {
  ob_t b;
  base_model(&b);
  b.g->initializer[0]->data_type = 99;
  expect_fail("unknown_dtype", &b, SINTER_INVALID_MODEL,
              "initializer 'w' has unknown data type 99");
}
END_TEST

START_TEST(complex_dtype) {
  ob_t b;
  base_model(&b);
  b.g->initializer[0]->data_type = ONNX_DT_COMPLEX64;
  expect_fail("complex_dtype", &b, SINTER_UNSUPPORTED, "data type COMPLEX64");
}
END_TEST

START_TEST(raw_data_length_mismatch) {
  ob_t b;
  base_model(&b);
  b.g->initializer[0]->raw_data.len = 20; /* 6 floats need 24 bytes */
  expect_fail("raw_data_length", &b, SINTER_INVALID_MODEL,
              "initializer 'w': raw_data has 20 bytes, but f32 needs 24");
}
END_TEST

START_TEST(typed_field_count_mismatch) {
  ob_t b;
  base_model(&b);
  Onnx__TensorProto *t = b.g->initializer[0];
  t->has_raw_data = 0;
  t->raw_data.len = 0;
  static float five[5] = {1, 2, 3, 4, 5};
  t->float_data = five;
  t->n_float_data = 5;
  expect_fail("typed_count", &b, SINTER_INVALID_MODEL,
              "float_data holds 5 values, but the shape needs 6");
}
END_TEST

START_TEST(no_tensor_data) {
  ob_t b;
  base_model(&b);
  Onnx__TensorProto *t = b.g->initializer[0];
  t->has_raw_data = 0;
  t->raw_data.len = 0;
  expect_fail("no_data", &b, SINTER_INVALID_MODEL, "initializer 'w' has no data");
}
END_TEST

START_TEST(string_tensor) {
  ob_t b;
  base_model(&b);
  static const int64_t d[1] = {1};
  Onnx__TensorProto *t = ob_initializer(&b, "s", ONNX_DT_STRING, 1, d, NULL, 0);
  static ProtobufCBinaryData str = {3, (uint8_t *)"abc"};
  t->string_data = &str;
  t->n_string_data = 1;
  expect_fail("string_tensor", &b, SINTER_UNSUPPORTED, "initializer 's' is a string tensor");
}
END_TEST

START_TEST(sparse_initializer) {
  ob_t b;
  base_model(&b);
  Onnx__SparseTensorProto *sp = ob_alloc(&b, sizeof(*sp));
  onnx__sparse_tensor_proto__init(sp);
  OB_PUSH(&b, b.g->sparse_initializer, b.g->n_sparse_initializer, sp);
  expect_fail("sparse_initializer", &b, SINTER_UNSUPPORTED, "sparse initializer");
}
END_TEST

/* ---- attributes ---------------------------------------------------------- */

START_TEST(bad_attribute_type) {
  ob_t b;
  base_model(&b);
  ob_attr(&b, b.g->node[0], "weird", 99);
  expect_fail("bad_attr_type", &b, SINTER_INVALID_MODEL,
              "node 'relu' (Relu): attribute 'weird' has unknown type 99");
}
END_TEST

START_TEST(sparse_attribute) {
  ob_t b;
  base_model(&b);
  Onnx__AttributeProto *a =
      ob_attr(&b, b.g->node[0], "sp", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR);
  Onnx__SparseTensorProto *sp = ob_alloc(&b, sizeof(*sp));
  onnx__sparse_tensor_proto__init(sp);
  a->sparse_tensor = sp;
  expect_fail("sparse_attr", &b, SINTER_UNSUPPORTED, "attribute 'sp' holds a sparse tensor");
}
END_TEST

START_TEST(type_proto_attribute) {
  ob_t b;
  base_model(&b);
  ob_attr(&b, b.g->node[0], "tp", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS);
  expect_fail("type_attr", &b, SINTER_UNSUPPORTED, "attribute 'tp' holds a type");
}
END_TEST

START_TEST(graph_attribute) {
  ob_t b;
  base_model(&b);
  Onnx__AttributeProto *a =
      ob_attr(&b, b.g->node[0], "body", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
  Onnx__GraphProto *sub = ob_alloc(&b, sizeof(*sub));
  onnx__graph_proto__init(sub);
  a->g = sub;
  expect_fail("graph_attr", &b, SINTER_UNSUPPORTED, "attribute 'body' holds a subgraph");
}
END_TEST

START_TEST(string_constant) {
  ob_t b;
  base_model(&b);
  Onnx__NodeProto *n = ob_node(&b, "Constant", "k", "", "kout");
  ob_attr_string(&b, n, "value_string", "hello");
  expect_fail("string_constant", &b, SINTER_UNSUPPORTED,
              "node 'k' (Constant): attribute 'value_string': string constants");
}
END_TEST

START_TEST(batchnorm_spatial0) {
  ob_t b;
  static const int64_t d[4] = {1, 2, 2, 2}, c[1] = {2};
  static const float p[2] = {1, 1};
  ob_init(&b, 7);
  ob_input(&b, "x", F32, 4, d);
  const char *names[4] = {"s", "bias", "m", "v"};
  for (int i = 0; i < 4; i++) ob_initializer(&b, names[i], F32, 1, c, p, sizeof(p));
  Onnx__NodeProto *n = ob_node(&b, "BatchNormalization", "bn", "x,s,bias,m,v", "y");
  ob_attr_int(&b, n, "spatial", 0);
  ob_output(&b, "y", F32, 4, d);
  expect_fail("bn_spatial0", &b, SINTER_UNSUPPORTED, "node 'bn' (BatchNormalization): spatial=0");
}
END_TEST

START_TEST(legacy_broadcast_unknown_rank) {
  ob_t b;
  ob_init(&b, 6);
  ob_input(&b, "a", F32, -1, NULL);
  ob_input(&b, "c", F32, -1, NULL);
  Onnx__NodeProto *n = ob_node(&b, "Add", "add", "a,c", "y");
  ob_attr_int(&b, n, "broadcast", 1);
  ob_attr_int(&b, n, "axis", 1);
  ob_output(&b, "y", F32, -1, NULL);
  expect_fail("legacy_broadcast", &b, SINTER_UNSUPPORTED, "needs the ranks of both inputs");
}
END_TEST

/* ---- external data ------------------------------------------------------- */

typedef struct tmpdir_s {
  char path[256];
} tmpdir_t;

static void tmp_make(tmpdir_t *t) {
  snprintf(t->path, sizeof(t->path), "/tmp/sinter_malformed_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(t->path));
}

static void tmp_file(const tmpdir_t *t, const char *name, const void *data, size_t len) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", t->path, name);
  FILE *f = fopen(p, "wb");
  ck_assert_ptr_nonnull(f);
  if (len) ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void tmp_remove(const tmpdir_t *t, const char *const *names, int n) {
  char p[512];
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof(p), "%s/%s", t->path, names[i]);
    unlink(p);
  }
  rmdir(t->path);
}

/* A model whose initializer w (6 floats) lives in external data. */
static Onnx__TensorProto *ext_model(ob_t *b, const char *location) {
  base_model(b);
  Onnx__TensorProto *t = b->g->initializer[0];
  t->has_raw_data = 0;
  t->raw_data.len = 0;
  ob_external(b, t, "location", location);
  return t;
}

/* Writes the model into dir/model.onnx, imports it from the file and expects
 * a failure. */
static void expect_fail_ext(const char *name, ob_t *b, tmpdir_t *dir, sinter_status_code_t code,
                            const char *substr) {
  size_t len;
  void *data = ob_pack(b, &len);
  dump(name, data, len);
  tmp_file(dir, "model.onnx", data, len);
  free(data);
  ob_deinit(b);
  char path[512];
  snprintf(path, sizeof(path), "%s/model.onnx", dir->path);
  sinter_graph_t *g = NULL;
  sinter_status_t st = sinter_onnx_import_file(path, &g);
  char prefix[600];
  snprintf(prefix, sizeof(prefix), "%s: ", path);
  check_status(st, g, prefix, code, substr);
}

START_TEST(external_absolute) {
  tmpdir_t d;
  tmp_make(&d);
  ob_t b;
  ext_model(&b, "/etc/passwd");
  expect_fail_ext("ext_absolute", &b, &d, SINTER_INVALID_MODEL,
                  "'/etc/passwd' is an absolute path");
  const char *files[] = {"model.onnx"};
  tmp_remove(&d, files, 1);
}
END_TEST

START_TEST(external_dotdot) {
  tmpdir_t d;
  tmp_make(&d);
  ob_t b;
  ext_model(&b, "sub/../../secret.bin");
  expect_fail_ext("ext_dotdot", &b, &d, SINTER_INVALID_MODEL, "contains '..'");
  const char *files[] = {"model.onnx"};
  tmp_remove(&d, files, 1);
}
END_TEST

START_TEST(external_symlink_escape) {
  tmpdir_t d, outside;
  tmp_make(&d);
  tmp_make(&outside);
  float w[6] = {0};
  tmp_file(&outside, "w.bin", w, sizeof(w));
  char target[512], link[512];
  snprintf(target, sizeof(target), "%s/w.bin", outside.path);
  snprintf(link, sizeof(link), "%s/w.bin", d.path);
  ck_assert_int_eq(symlink(target, link), 0);
  ob_t b;
  ext_model(&b, "w.bin");
  expect_fail_ext("ext_symlink", &b, &d, SINTER_INVALID_MODEL, "outside the model's folder");
  const char *files[] = {"model.onnx", "w.bin"};
  tmp_remove(&d, files, 2);
  tmp_remove(&outside, files + 1, 1);
}
END_TEST

START_TEST(external_offset_out_of_file) {
  tmpdir_t d;
  tmp_make(&d);
  float w[6] = {0};
  tmp_file(&d, "w.bin", w, sizeof(w));
  ob_t b;
  Onnx__TensorProto *t = ext_model(&b, "w.bin");
  ob_external(&b, t, "offset", "4096");
  expect_fail_ext("ext_offset", &b, &d, SINTER_OUT_OF_RANGE, "offset 4096 is beyond the end");
  const char *files[] = {"model.onnx", "w.bin"};
  tmp_remove(&d, files, 2);
}
END_TEST

START_TEST(external_length_out_of_file) {
  tmpdir_t d;
  tmp_make(&d);
  float w[6] = {0};
  tmp_file(&d, "w.bin", w, sizeof(w));
  ob_t b;
  Onnx__TensorProto *t = ext_model(&b, "w.bin");
  ob_external(&b, t, "offset", "8");
  /* offset + length wraps around 2^64 if added carelessly. */
  ob_external(&b, t, "length", "9223372036854775800");
  expect_fail_ext("ext_length", &b, &d, SINTER_OUT_OF_RANGE, "runs past the end");
  const char *files[] = {"model.onnx", "w.bin"};
  tmp_remove(&d, files, 2);
}
END_TEST

START_TEST(external_length_mismatch) {
  tmpdir_t d;
  tmp_make(&d);
  float w[8] = {0};
  tmp_file(&d, "w.bin", w, sizeof(w));
  ob_t b;
  Onnx__TensorProto *t = ext_model(&b, "w.bin");
  ob_external(&b, t, "length", "32");
  expect_fail_ext("ext_length_mismatch", &b, &d, SINTER_INVALID_MODEL,
                  "external data holds 32 bytes, but f32 needs 24");
  const char *files[] = {"model.onnx", "w.bin"};
  tmp_remove(&d, files, 2);
}
END_TEST

START_TEST(external_bad_offset_text) {
  tmpdir_t d;
  tmp_make(&d);
  ob_t b;
  Onnx__TensorProto *t = ext_model(&b, "w.bin");
  ob_external(&b, t, "offset", "-5");
  expect_fail_ext("ext_bad_offset", &b, &d, SINTER_INVALID_MODEL, "bad external data offset '-5'");
  const char *files[] = {"model.onnx"};
  tmp_remove(&d, files, 1);
}
END_TEST

START_TEST(external_missing_file) {
  tmpdir_t d;
  tmp_make(&d);
  ob_t b;
  ext_model(&b, "absent.bin");
  expect_fail_ext("ext_missing", &b, &d, SINTER_IO_ERROR, "cannot open external data 'absent.bin'");
  const char *files[] = {"model.onnx"};
  tmp_remove(&d, files, 1);
}
END_TEST

START_TEST(external_from_memory) {
  ob_t b;
  ext_model(&b, "w.bin");
  expect_fail("ext_memory", &b, SINTER_INVALID_ARGUMENT, "without a base folder");
}
END_TEST

/* ---- tensor files -------------------------------------------------------- */

START_TEST(tensor_file_truncated) {
  ob_t b;
  ob_init(&b, 13);
  static const int64_t d[1] = {4};
  static const float v[4] = {1, 2, 3, 4};
  Onnx__TensorProto *t = ob_tensor(&b, "t", F32, 1, d, v, sizeof(v));
  size_t len = onnx__tensor_proto__get_packed_size(t);
  uint8_t *buf = malloc(len);
  onnx__tensor_proto__pack(t, buf);
  sinter_tensor_t out;
  char *name = (char *)1;
  sinter_status_t st = sinter_onnx_read_tensor_buffer(buf, len - 3, "t.pb", &out, &name);
  ck_assert_ptr_null(name);
  ck_assert_ptr_null(out.data);
  check_status(st, NULL, "t.pb: ", SINTER_INVALID_MODEL, "truncated");
  free(buf);
  ob_deinit(&b);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("malformed");
  TCase *tc = tcase_create("onnx");
  TTest const *tests[] = {
      truncated_protobuf,
      garbage_bytes,
      wrong_wire_type,
      empty_file,
      nesting_too_deep,
      no_graph,
      unsupported_opset,
      missing_initializer,
      unknown_op,
      unknown_domain,
      ml_domain,
      control_flow,
      wrong_arity_inputs,
      wrong_arity_outputs,
      missing_required_input,
      cyclic_graph,
      self_loop,
      duplicate_definition,
      undefined_graph_output,
      sequence_input,
      dims_overflow,
      negative_dim,
      rank_too_high,
      unknown_dtype,
      complex_dtype,
      raw_data_length_mismatch,
      typed_field_count_mismatch,
      no_tensor_data,
      string_tensor,
      sparse_initializer,
      bad_attribute_type,
      sparse_attribute,
      type_proto_attribute,
      graph_attribute,
      string_constant,
      batchnorm_spatial0,
      legacy_broadcast_unknown_rank,
      external_absolute,
      external_dotdot,
      external_symlink_escape,
      external_offset_out_of_file,
      external_length_out_of_file,
      external_length_mismatch,
      external_bad_offset_text,
      external_missing_file,
      external_from_memory,
      tensor_file_truncated,
  };
  for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) tcase_add_test(tc, tests[i]);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(suite());
}
