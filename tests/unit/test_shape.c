/* Shape and data-movement ops: inference with static, symbolic and unknown dims, interpreter
 * results against hand-computed values (or numpy / ONNX's reference formulas where noted), and
 * clean errors on bad input. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/ir.h"
#include "tests/support/check_main.h"

/* A dim written as SYM in a test shape is the symbol "N"; -1 is an unknown dim. */
#define SYM (-100)

static sinter_type_t mk_type(sinter_graph_t *g, sinter_dtype_t dt, int32_t rank,
                             const int64_t *dims) {
  sinter_type_t t;
  memset(&t, 0, sizeof(t));
  t.dtype = dt;
  t.rank = rank;
  for (int32_t i = 0; i < rank; i++) {
    t.dims[i].size = dims[i] == SYM ? -1 : dims[i];
    t.dims[i].sym = dims[i] == SYM ? sinter_graph_intern(g, "N") : NULL;
  }
  return t;
}

static sinter_graph_t *new_graph(void) {
  sinter_graph_t *g = NULL;
  ck_assert_ptr_null(sinter_graph_create("t", &g));
  return g;
}

static sinter_value_t *input(sinter_graph_t *g, sinter_dtype_t dt, int32_t rank,
                             const int64_t *dims) {
  sinter_type_t t = mk_type(g, dt, rank, dims);
  sinter_value_t *v = NULL;
  ck_assert_ptr_null(sinter_graph_add_input(g, NULL, &t, &v));
  return v;
}

static sinter_value_t *cnst(sinter_graph_t *g, sinter_dtype_t dt, int32_t rank, const int64_t *dims,
                            const void *data, size_t nbytes) {
  sinter_type_t t = mk_type(g, dt, rank, dims);
  sinter_value_t *v = NULL;
  sinter_status_t st = sinter_graph_add_const(g, NULL, &t, data, nbytes, &v);
  ck_assert_msg(!st, "%s", sinter_status_message(st));
  return v;
}

/* A 1-D i64 constant. */
static sinter_value_t *ints(sinter_graph_t *g, int64_t n, const int64_t *vals) {
  int64_t dims[1] = {n};
  return cnst(g, SINTER_DTYPE_I64, 1, dims, vals, sizeof(int64_t) * (size_t)n);
}

static sinter_value_t *scalar_i64(sinter_graph_t *g, int64_t v) {
  return cnst(g, SINTER_DTYPE_I64, 0, NULL, &v, sizeof(v));
}

static sinter_node_t *node(sinter_graph_t *g, sinter_op_t op, int32_t n_in,
                           sinter_value_t *const *ins, int32_t n_out) {
  sinter_node_t *n = NULL;
  ck_assert_ptr_null(sinter_graph_add_node(g, op, NULL, ins, n_in, n_out, &n));
  for (int32_t i = 0; i < n_out; i++)
    ck_assert_ptr_null(sinter_graph_add_output(g, sinter_node_output(n, i)));
  return n;
}

#define NODE(g, op, n_out, ...)                                                         \
  node((g), SINTER_OP_##op,                                                             \
       (int32_t)(sizeof((sinter_value_t *[]){__VA_ARGS__}) / sizeof(sinter_value_t *)), \
       (sinter_value_t *[]){__VA_ARGS__}, (n_out))

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})

static void infer_ok(sinter_graph_t *g) {
  sinter_status_t st = sinter_graph_infer_shapes(g);
  ck_assert_msg(!st, "inference failed: %s", sinter_status_message(st));
}

/* Expects inference to fail with code and a message containing needle. */
static void infer_fails(sinter_graph_t *g, sinter_status_code_t code, const char *needle) {
  sinter_status_t st = sinter_graph_infer_shapes(g);
  ck_assert_msg(st != NULL, "inference should fail (%s)", needle);
  ck_assert_msg(sinter_status_code(st) == code, "code %s, message: %s",
                sinter_status_code_name(sinter_status_code(st)), sinter_status_message(st));
  ck_assert_msg(strstr(sinter_status_message(st), needle), "message '%s' lacks '%s'",
                sinter_status_message(st), needle);
  sinter_status_free(st);
}

/* Checks v's inferred type against "f32[N,12]"-style text. */
static void type_is(const sinter_value_t *v, const char *want) {
  char buf[128];
  sinter_type_format(sinter_value_type(v), buf, sizeof(buf));
  ck_assert_str_eq(buf, want);
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

/* Runs g on inputs; returns the status and fills outs (caller frees their data). */
static sinter_status_t run(sinter_graph_t *g, const sinter_tensor_t *ins, int32_t n_in,
                           sinter_tensor_t *outs) {
  sinter_interp_t *ip = NULL;
  sinter_status_t st = sinter_interp_create(g, &ip);
  if (st) return st;
  st = sinter_interp_run(ip, ins, n_in, outs);
  sinter_interp_destroy(ip);
  return st;
}

static void run_ok(sinter_graph_t *g, const sinter_tensor_t *ins, int32_t n_in,
                   sinter_tensor_t *outs) {
  sinter_status_t st = run(g, ins, n_in, outs);
  ck_assert_msg(!st, "run failed: %s", sinter_status_message(st));
}

static void run_fails(sinter_graph_t *g, const sinter_tensor_t *ins, int32_t n_in,
                      sinter_status_code_t code, const char *needle) {
  sinter_tensor_t outs[4];
  sinter_status_t st = run(g, ins, n_in, outs);
  ck_assert_msg(st != NULL, "run should fail (%s)", needle);
  ck_assert_msg(sinter_status_code(st) == code, "code %s, message: %s",
                sinter_status_code_name(sinter_status_code(st)), sinter_status_message(st));
  ck_assert_msg(strstr(sinter_status_message(st), needle), "message '%s' lacks '%s'",
                sinter_status_message(st), needle);
  sinter_status_free(st);
}

static void dims_are(const sinter_tensor_t *t, int32_t rank, const int64_t *dims) {
  ck_assert_int_eq(t->rank, rank);
  for (int32_t i = 0; i < rank; i++) ck_assert_int_eq(t->dims[i], dims[i]);
}

/* Exact comparison: data movement must not change a single bit. */
static void f32_are(const sinter_tensor_t *t, int64_t n, const float *want) {
  ck_assert_int_eq(t->dtype, SINTER_DTYPE_F32);
  ck_assert_uint_eq(t->nbytes, sizeof(float) * (size_t)n);
  const float *got = t->data;
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(got[i] == want[i], "element %lld: %g, expected %g", (long long)i, got[i],
                  want[i]);
}

/* Interpolated values: the reference works in float64 and rounds to f32 once, we do the same but
 * may sum in another order, so allow a few f32 ulps. */
static void f32_near(const sinter_tensor_t *t, int64_t n, const double *want) {
  ck_assert_int_eq(t->dtype, SINTER_DTYPE_F32);
  const float *got = t->data;
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(fabs(got[i] - want[i]) <= 1e-5 * (1 + fabs(want[i])),
                  "element %lld: %.9g, expected %.9g", (long long)i, got[i], want[i]);
}

static void i64_are(const sinter_tensor_t *t, int64_t n, const int64_t *want) {
  ck_assert_int_eq(t->dtype, SINTER_DTYPE_I64);
  ck_assert_uint_eq(t->nbytes, sizeof(int64_t) * (size_t)n);
  const int64_t *got = t->data;
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(got[i] == want[i], "element %lld: %lld, expected %lld", (long long)i,
                  (long long)got[i], (long long)want[i]);
}

static void iota(float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) v[i] = (float)i;
}

/* ---- Reshape, Flatten ----------------------------------------------------- */

START_TEST(reshape_static) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 3, DIMS(2, 3, 4));
  sinter_node_t *a = NODE(g, RESHAPE, 1, x, ints(g, 2, DIMS(0, -1)));
  sinter_node_t *b = NODE(g, RESHAPE, 1, x, ints(g, 3, DIMS(4, -1, 2)));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[2,12]");
  type_is(sinter_node_output(b, 0), "f32[4,3,2]");
  float xv[24];
  iota(xv, 24);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 3, DIMS(2, 3, 4), xv, sizeof(xv)), out[2];
  run_ok(g, &in, 1, out);
  dims_are(&out[0], 2, DIMS(2, 12));
  dims_are(&out[1], 3, DIMS(4, 3, 2));
  f32_are(&out[0], 24, xv); /* reshape keeps row-major order */
  f32_are(&out[1], 24, xv);
  sinter_tensor_free_data(&out[0]);
  sinter_tensor_free_data(&out[1]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(reshape_symbolic) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 3, DIMS(SYM, 3, 4));
  sinter_node_t *a = NODE(g, RESHAPE, 1, x, ints(g, 2, DIMS(0, -1)));
  sinter_node_t *b = NODE(g, RESHAPE, 1, x, ints(g, 2, DIMS(-1, 12)));
  sinter_node_t *c = NODE(g, RESHAPE, 1, x, ints(g, 4, DIMS(0, 3, 2, 2)));
  sinter_node_t *d = NODE(g, RESHAPE, 1, x, ints(g, 2, DIMS(2, -1)));
  sinter_node_t *e = NODE(g, RESHAPE, 1, x, ints(g, 3, DIMS(-1, 2, 6)));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[N,12]");
  type_is(sinter_node_output(b, 0), "f32[N,12]");
  type_is(sinter_node_output(c, 0), "f32[N,3,2,2]");
  type_is(sinter_node_output(d, 0), "f32[2,?]");
  type_is(sinter_node_output(e, 0), "f32[N,2,6]");
  /* At run time the symbol binds and every shape comes out static. */
  float xv[5 * 12];
  iota(xv, 60);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 3, DIMS(5, 3, 4), xv, sizeof(xv)), out[5];
  run_ok(g, &in, 1, out);
  dims_are(&out[0], 2, DIMS(5, 12));
  dims_are(&out[1], 2, DIMS(5, 12));
  dims_are(&out[2], 4, DIMS(5, 3, 2, 2));
  dims_are(&out[3], 2, DIMS(2, 30));
  dims_are(&out[4], 3, DIMS(5, 2, 6));
  for (int i = 0; i < 5; i++) {
    f32_are(&out[i], 60, xv);
    sinter_tensor_free_data(&out[i]);
  }
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(reshape_runtime_symbolic) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 3, DIMS(SYM, 3, 4));
  NODE(g, RESHAPE, 1, x, ints(g, 2, DIMS(0, -1)));
  float xv[5 * 12];
  iota(xv, 60);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 3, DIMS(5, 3, 4), xv, sizeof(xv)), out[1];
  run_ok(g, &in, 1, out);
  dims_are(&out[0], 2, DIMS(5, 12));
  f32_are(&out[0], 60, xv);
  sinter_tensor_free_data(&out[0]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(reshape_unknown_shape) {
  /* The shape comes from a graph input: rank from its length, dims unknown. */
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 3));
  sinter_value_t *s = input(g, SINTER_DTYPE_I64, 1, DIMS(3));
  sinter_node_t *a = NODE(g, RESHAPE, 1, x, s);
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[?,?,?]");
  float xv[6];
  iota(xv, 6);
  int64_t sv[3] = {3, 1, -1};
  sinter_tensor_t in[2] = {tensor(SINTER_DTYPE_F32, 2, DIMS(2, 3), xv, sizeof(xv)),
                           tensor(SINTER_DTYPE_I64, 1, DIMS(3), sv, sizeof(sv))};
  sinter_tensor_t out[1];
  run_ok(g, in, 2, out);
  dims_are(&out[0], 3, DIMS(3, 1, 2));
  f32_are(&out[0], 6, xv);
  sinter_tensor_free_data(&out[0]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(reshape_errors) {
  static const struct {
    int64_t n;
    int64_t shape[3];
    const char *why;
  } cases[] = {
      {2, {-1, -1}, "more than one -1"},
      {1, {5}, "cannot reshape 6 elements into 5"},
      {3, {0, 0, 0}, "input has rank 2"},
      {2, {-2, 3}, "shape[0] is -2"},
      {2, {0, -1}, ""}, /* fine: [2,3] */
      {2, {4, -1}, "not a multiple"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    sinter_graph_t *g = new_graph();
    sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 3));
    NODE(g, RESHAPE, 1, x, ints(g, cases[i].n, cases[i].shape));
    if (cases[i].why[0])
      infer_fails(g, SINTER_INVALID_MODEL, cases[i].why);
    else
      infer_ok(g);
    sinter_graph_destroy(g);
  }
  /* allowzero=1: a 0 is a real zero, so [3,0] holds the 0 elements of [0,3]. */
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(0, 3));
  sinter_node_t *n = NODE(g, RESHAPE, 1, x, ints(g, 2, DIMS(3, 0)));
  ck_assert_ptr_null(sinter_node_set_attr_int(n, "allowzero", 1));
  infer_ok(g);
  type_is(sinter_node_output(n, 0), "f32[3,0]");
  sinter_graph_destroy(g);
  /* Huge dims overflow int64: an error, not a wrap. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 3));
  NODE(g, RESHAPE, 1, x, ints(g, 3, DIMS(INT64_C(1) << 40, INT64_C(1) << 40, 1 << 20)));
  infer_fails(g, SINTER_INVALID_MODEL, "overflows");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(flatten_shapes) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F16, 3, DIMS(2, 3, 4));
  sinter_value_t *y = input(g, SINTER_DTYPE_F32, 3, DIMS(SYM, 3, 4));
  sinter_node_t *n[6];
  int64_t axes[6] = {1, 0, -1, 3, 1, 2};
  for (int i = 0; i < 6; i++) {
    n[i] = NODE(g, FLATTEN, 1, i < 4 ? x : y);
    ck_assert_ptr_null(sinter_node_set_attr_int(n[i], "axis", axes[i]));
  }
  infer_ok(g);
  type_is(sinter_node_output(n[0], 0), "f16[2,12]");
  type_is(sinter_node_output(n[1], 0), "f16[1,24]");
  type_is(sinter_node_output(n[2], 0), "f16[6,4]");
  type_is(sinter_node_output(n[3], 0), "f16[24,1]");
  type_is(sinter_node_output(n[4], 0), "f32[N,12]");
  type_is(sinter_node_output(n[5], 0), "f32[?,4]"); /* N*3 has no name */
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 3));
  ck_assert_ptr_null(sinter_node_set_attr_int(NODE(g, FLATTEN, 1, x), "axis", 3));
  infer_fails(g, SINTER_INVALID_MODEL, "out of range");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Transpose, Squeeze, Unsqueeze ---------------------------------------- */

START_TEST(transpose_values) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 3, DIMS(2, 3, 4));
  sinter_node_t *a = NODE(g, TRANSPOSE, 1, x);
  sinter_node_t *b = NODE(g, TRANSPOSE, 1, x);
  ck_assert_ptr_null(sinter_node_set_attr_ints(b, "perm", DIMS(2, 0, 1), 3));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[4,3,2]");
  type_is(sinter_node_output(b, 0), "f32[4,2,3]");
  float xv[24], wa[24], wb[24];
  iota(xv, 24);
  /* out[k,j,i] = x[i,j,k] (default perm reverses); out[k,i,j] = x[i,j,k] for [2,0,1]. */
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) {
        wa[k * 6 + j * 2 + i] = (float)(i * 12 + j * 4 + k);
        wb[k * 6 + i * 3 + j] = (float)(i * 12 + j * 4 + k);
      }
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 3, DIMS(2, 3, 4), xv, sizeof(xv)), out[2];
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 24, wa);
  f32_are(&out[1], 24, wb);
  sinter_tensor_free_data(&out[0]);
  sinter_tensor_free_data(&out[1]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(transpose_symbolic_and_errors) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_BF16, 3, DIMS(SYM, 2, 3));
  sinter_node_t *a = NODE(g, TRANSPOSE, 1, x);
  ck_assert_ptr_null(sinter_node_set_attr_ints(a, "perm", DIMS(1, 0, 2), 3));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "bf16[2,N,3]");
  ck_assert_ptr_null(sinter_node_set_attr_ints(a, "perm", DIMS(1, 1, 2), 3));
  infer_fails(g, SINTER_INVALID_MODEL, "not a permutation");
  ck_assert_ptr_null(sinter_node_set_attr_ints(a, "perm", DIMS(1, 0), 2));
  infer_fails(g, SINTER_INVALID_MODEL, "perm has 2 entries for rank 3");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(squeeze_unsqueeze) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_I8, 4, DIMS(1, 3, 1, 2));
  sinter_value_t *y = input(g, SINTER_DTYPE_F32, 2, DIMS(SYM, 3));
  sinter_node_t *a = NODE(g, SQUEEZE, 1, x, ints(g, 2, DIMS(0, -2)));
  sinter_node_t *b = NODE(g, SQUEEZE, 1, x);
  sinter_node_t *c = NODE(g, UNSQUEEZE, 1, y, ints(g, 2, DIMS(0, -1)));
  sinter_node_t *d = NODE(g, UNSQUEEZE, 1, y, ints(g, 1, DIMS(1)));
  sinter_node_t *e = NODE(g, SQUEEZE, 1, y); /* N might be 1: rank unknown */
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "i8[3,2]");
  type_is(sinter_node_output(b, 0), "i8[3,2]");
  type_is(sinter_node_output(c, 0), "f32[1,N,3,1]");
  type_is(sinter_node_output(d, 0), "f32[N,1,3]");
  type_is(sinter_node_output(e, 0), "f32[*]");
  int8_t xv[6] = {1, 2, 3, 4, 5, 6};
  float yv[6] = {1, 2, 3, 4, 5, 6};
  sinter_tensor_t in[2] = {tensor(SINTER_DTYPE_I8, 4, DIMS(1, 3, 1, 2), xv, sizeof(xv)),
                           tensor(SINTER_DTYPE_F32, 2, DIMS(2, 3), yv, sizeof(yv))};
  sinter_tensor_t out[5];
  run_ok(g, in, 2, out);
  dims_are(&out[0], 2, DIMS(3, 2));
  ck_assert_mem_eq(out[0].data, xv, 6);
  dims_are(&out[2], 4, DIMS(1, 2, 3, 1));
  dims_are(&out[4], 2, DIMS(2, 3));
  for (int i = 0; i < 5; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 3));
  NODE(g, SQUEEZE, 1, x, ints(g, 1, DIMS(1)));
  infer_fails(g, SINTER_INVALID_MODEL, "cannot squeeze axis 1 of size 3");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 3));
  NODE(g, UNSQUEEZE, 1, x, ints(g, 1, DIMS(5)));
  infer_fails(g, SINTER_INVALID_MODEL, "out of range");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 3));
  NODE(g, UNSQUEEZE, 1, x, ints(g, 2, DIMS(1, -3)));
  infer_fails(g, SINTER_INVALID_MODEL, "appears twice");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Concat, Split --------------------------------------------------------- */

START_TEST(concat_values) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *a = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  sinter_value_t *b = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 1));
  sinter_node_t *n = NODE(g, CONCAT, 1, a, b);
  ck_assert_ptr_null(sinter_node_set_attr_int(n, "axis", -1));
  infer_ok(g);
  type_is(sinter_node_output(n, 0), "f32[2,3]");
  float av[4] = {1, 2, 3, 4}, bv[2] = {5, 6}, want[6] = {1, 2, 5, 3, 4, 6};
  sinter_tensor_t in[2] = {tensor(SINTER_DTYPE_F32, 2, DIMS(2, 2), av, sizeof(av)),
                           tensor(SINTER_DTYPE_F32, 2, DIMS(2, 1), bv, sizeof(bv))};
  sinter_tensor_t out[1];
  run_ok(g, in, 2, out);
  f32_are(&out[0], 6, want);
  sinter_tensor_free_data(&out[0]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(concat_symbolic_and_errors) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *a = input(g, SINTER_DTYPE_F32, 2, DIMS(SYM, 2));
  sinter_value_t *b = input(g, SINTER_DTYPE_F32, 2, DIMS(SYM, 3));
  sinter_node_t *n = NODE(g, CONCAT, 1, a, b);
  ck_assert_ptr_null(sinter_node_set_attr_int(n, "axis", 1));
  sinter_node_t *m = NODE(g, CONCAT, 1, a, a);
  ck_assert_ptr_null(sinter_node_set_attr_int(m, "axis", 0));
  infer_ok(g);
  type_is(sinter_node_output(n, 0), "f32[N,5]");
  type_is(sinter_node_output(m, 0), "f32[?,2]");
  ck_assert_ptr_null(sinter_node_set_attr_int(m, "axis", 1));
  ck_assert_ptr_null(sinter_node_set_attr_int(n, "axis", 0));
  infer_fails(g, SINTER_INVALID_MODEL, "dim 1 is 3 in input 1 but 2 before");
  ck_assert_ptr_null(sinter_node_remove_attr(n, "axis"));
  infer_fails(g, SINTER_INVALID_MODEL, "'axis' is required");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(split_variants) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 1, DIMS(7));
  sinter_node_t *a = NODE(g, SPLIT, 3, x, ints(g, 3, DIMS(1, 2, 4)));
  sinter_node_t *b = NODE(g, SPLIT, 4, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(b, "num_outputs", 4));
  infer_ok(g);
  type_is(sinter_node_output(a, 2), "f32[4]");
  type_is(sinter_node_output(b, 0), "f32[2]");
  type_is(sinter_node_output(b, 3), "f32[1]"); /* uneven: ceil(7/4) = 2, the last gets 1 */
  float xv[7] = {0, 1, 2, 3, 4, 5, 6};
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 1, DIMS(7), xv, sizeof(xv)), out[7];
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 1, xv);
  f32_are(&out[1], 2, xv + 1);
  f32_are(&out[2], 4, xv + 3);
  f32_are(&out[3], 2, xv);
  f32_are(&out[5], 2, xv + 4);
  f32_are(&out[6], 1, xv + 6);
  for (int i = 0; i < 7; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  /* Equal split of a 2-D axis, and errors. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_I32, 2, DIMS(2, 4));
  sinter_node_t *c = NODE(g, SPLIT, 2, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "axis", 1));
  infer_ok(g);
  type_is(sinter_node_output(c, 1), "i32[2,2]");
  int32_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w1[4] = {3, 4, 7, 8};
  sinter_tensor_t in2 = tensor(SINTER_DTYPE_I32, 2, DIMS(2, 4), v, sizeof(v)), out2[2];
  run_ok(g, &in2, 1, out2);
  ck_assert_mem_eq(out2[1].data, w1, sizeof(w1));
  sinter_tensor_free_data(&out2[0]);
  sinter_tensor_free_data(&out2[1]);
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "axis", 2));
  infer_fails(g, SINTER_INVALID_MODEL, "out of range");
  sinter_graph_destroy(g);

  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(5));
  NODE(g, SPLIT, 2, x, ints(g, 2, DIMS(2, 2)));
  infer_fails(g, SINTER_INVALID_MODEL, "split sums to 4 but the axis has 5");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(5));
  NODE(g, SPLIT, 2, x);
  infer_fails(g, SINTER_INVALID_MODEL, "equal parts");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Slice ------------------------------------------------------------------ */

START_TEST(slice_values) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 4));
  /* rows 0..1, cols 1..2 */
  sinter_node_t *a = NODE(g, SLICE, 1, x, ints(g, 2, DIMS(0, 1)), ints(g, 2, DIMS(2, 3)));
  /* every row reversed: start -1, end "before the beginning", step -1 */
  sinter_node_t *b = NODE(g, SLICE, 1, x, ints(g, 1, DIMS(-1)), ints(g, 1, DIMS(INT64_MIN)),
                          ints(g, 1, DIMS(1)), ints(g, 1, DIMS(-1)));
  /* rows with step 2, ends clamped from a huge value */
  sinter_node_t *c = NODE(g, SLICE, 1, x, ints(g, 1, DIMS(0)), ints(g, 1, DIMS(INT64_MAX)),
                          ints(g, 1, DIMS(-2)), ints(g, 1, DIMS(2)));
  /* start past the end: empty */
  sinter_node_t *d =
      NODE(g, SLICE, 1, x, ints(g, 1, DIMS(10)), ints(g, 1, DIMS(20)), ints(g, 1, DIMS(1)));
  /* negative step -2 from 3 down to (but not including) 0 */
  sinter_node_t *e = NODE(g, SLICE, 1, x, ints(g, 1, DIMS(3)), ints(g, 1, DIMS(0)),
                          ints(g, 1, DIMS(1)), ints(g, 1, DIMS(-2)));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[2,2]");
  type_is(sinter_node_output(b, 0), "f32[3,4]");
  type_is(sinter_node_output(c, 0), "f32[2,4]");
  type_is(sinter_node_output(d, 0), "f32[3,0]");
  type_is(sinter_node_output(e, 0), "f32[3,2]");
  float xv[12];
  iota(xv, 12);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, DIMS(3, 4), xv, sizeof(xv)), out[5];
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 4, (float[]){1, 2, 5, 6});
  f32_are(&out[1], 12, (float[]){3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8});
  f32_are(&out[2], 8, (float[]){0, 1, 2, 3, 8, 9, 10, 11});
  dims_are(&out[3], 2, DIMS(3, 0));
  f32_are(&out[4], 6, (float[]){3, 1, 7, 5, 11, 9});
  for (int i = 0; i < 5; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(slice_symbolic_and_errors) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(SYM, 4));
  sinter_value_t *st = input(g, SINTER_DTYPE_I64, 1, DIMS(1));
  sinter_node_t *a =
      NODE(g, SLICE, 1, x, ints(g, 1, DIMS(1)), ints(g, 1, DIMS(3)), ints(g, 1, DIMS(1)));
  sinter_node_t *b = NODE(g, SLICE, 1, x, st, ints(g, 1, DIMS(3)), ints(g, 1, DIMS(1)));
  sinter_node_t *c = NODE(g, SLICE, 1, x, ints(g, 1, DIMS(1)), ints(g, 1, DIMS(3)));
  sinter_node_t *d = NODE(g, SLICE, 1, x, ints(g, 2, DIMS(0, 1)), ints(g, 2, DIMS(INT64_MAX, 2)));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[N,2]");
  type_is(sinter_node_output(b, 0), "f32[N,?]"); /* starts unknown, but only axis 1 moves */
  type_is(sinter_node_output(c, 0), "f32[?,4]");
  type_is(sinter_node_output(d, 0), "f32[N,1]"); /* 0..INT64_MAX keeps the whole axis */
  sinter_graph_destroy(g);

  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 4));
  NODE(g, SLICE, 1, x, ints(g, 1, DIMS(0)), ints(g, 1, DIMS(2)), ints(g, 1, DIMS(1)),
       ints(g, 1, DIMS(0)));
  infer_fails(g, SINTER_INVALID_MODEL, "step for axis 1 is 0");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 4));
  NODE(g, SLICE, 1, x, ints(g, 2, DIMS(0, 0)), ints(g, 2, DIMS(2, 2)), ints(g, 2, DIMS(1, -1)));
  infer_fails(g, SINTER_INVALID_MODEL, "appears twice");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 4));
  NODE(g, SLICE, 1, x, ints(g, 2, DIMS(0, 0)), ints(g, 1, DIMS(2)));
  infer_fails(g, SINTER_INVALID_MODEL, "ends has 1 entries");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Gather family ------------------------------------------------------- */

START_TEST(gather_values) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_I64, 2, DIMS(3, 2));
  sinter_value_t *i = input(g, SINTER_DTYPE_I32, 2, DIMS(2, 2));
  sinter_node_t *a = NODE(g, GATHER, 1, x, i);
  sinter_node_t *b = NODE(g, GATHER, 1, x, scalar_i64(g, -1));
  ck_assert_ptr_null(sinter_node_set_attr_int(b, "axis", 1));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "i64[2,2,2]");
  type_is(sinter_node_output(b, 0), "i64[3]");
  int64_t xv[6] = {1, 2, 3, 4, 5, 6};
  int32_t iv[4] = {0, 1, 1, 2};
  sinter_tensor_t in[2] = {tensor(SINTER_DTYPE_I64, 2, DIMS(3, 2), xv, sizeof(xv)),
                           tensor(SINTER_DTYPE_I32, 2, DIMS(2, 2), iv, sizeof(iv))};
  sinter_tensor_t out[2];
  run_ok(g, in, 2, out);
  i64_are(&out[0], 8, DIMS(1, 2, 3, 4, 3, 4, 5, 6));
  i64_are(&out[1], 3, DIMS(2, 4, 6));
  sinter_tensor_free_data(&out[0]);
  sinter_tensor_free_data(&out[1]);
  iv[2] = 3; /* out of range for an axis of 3 */
  run_fails(g, in, 2, SINTER_INVALID_MODEL, "index 3 is out of range for axis 0 of size 3");
  iv[2] = -4;
  run_fails(g, in, 2, SINTER_INVALID_MODEL, "index -4 is out of range");
  sinter_graph_destroy(g);

  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 3, DIMS(SYM, 5, 7));
  sinter_node_t *c = NODE(g, GATHER, 1, x, ints(g, 2, DIMS(0, 3)));
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "axis", 1));
  infer_ok(g);
  type_is(sinter_node_output(c, 0), "f32[N,2,7]");
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "axis", 3));
  infer_fails(g, SINTER_INVALID_MODEL, "axis 3 is out of range for rank 3");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(gather_elements_nd) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  sinter_node_t *a = NODE(g, GATHER_ELEMENTS, 1, x, ints(g, 4, DIMS(0, 0, 1, 0)));
  infer_fails(g, SINTER_INVALID_MODEL, "indices has rank 1, data has 2");
  sinter_graph_destroy(g);
  (void)a;

  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  sinter_value_t *idx = cnst(g, SINTER_DTYPE_I64, 2, DIMS(2, 2), DIMS(0, 0, 1, -2), 32);
  a = NODE(g, GATHER_ELEMENTS, 1, x, idx);
  ck_assert_ptr_null(sinter_node_set_attr_int(a, "axis", 1));
  /* GatherND: tuples of 2 pick elements, tuples of 1 pick rows. */
  sinter_node_t *b =
      NODE(g, GATHER_ND, 1, x, cnst(g, SINTER_DTYPE_I64, 2, DIMS(2, 2), DIMS(0, 0, 1, 1), 32));
  sinter_node_t *c =
      NODE(g, GATHER_ND, 1, x, cnst(g, SINTER_DTYPE_I64, 2, DIMS(2, 1), DIMS(1, 0), 16));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[2,2]");
  type_is(sinter_node_output(b, 0), "f32[2]");
  type_is(sinter_node_output(c, 0), "f32[2,2]");
  float xv[4] = {1, 2, 3, 4};
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, DIMS(2, 2), xv, sizeof(xv)), out[3];
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 4, (float[]){1, 1, 4, 3}); /* ONNX's example; -2 wraps to 0 */
  f32_are(&out[1], 2, (float[]){1, 4});
  f32_are(&out[2], 4, (float[]){3, 4, 1, 2});
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  /* batch_dims = 1: each batch indexes its own slice. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_I32, 3, DIMS(2, 2, 2));
  c = NODE(g, GATHER_ND, 1, x, cnst(g, SINTER_DTYPE_I64, 2, DIMS(2, 1), DIMS(1, 0), 16));
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "batch_dims", 1));
  infer_ok(g);
  type_is(sinter_node_output(c, 0), "i32[2,2]");
  int32_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7}, want[4] = {2, 3, 4, 5};
  sinter_tensor_t in2 = tensor(SINTER_DTYPE_I32, 3, DIMS(2, 2, 2), v, sizeof(v));
  run_ok(g, &in2, 1, out);
  ck_assert_mem_eq(out[0].data, want, sizeof(want));
  sinter_tensor_free_data(&out[0]);
  sinter_graph_destroy(g);

  /* Out-of-range tuple entries fail cleanly. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  NODE(g, GATHER_ND, 1, x, cnst(g, SINTER_DTYPE_I64, 2, DIMS(1, 2), DIMS(0, 2), 16));
  run_fails(g, &in, 1, SINTER_INVALID_MODEL, "index 2 is out of range");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(scatter_values) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 3));
  sinter_value_t *u = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 3));
  sinter_node_t *a = NODE(g, SCATTER_ELEMENTS, 1, x,
                          cnst(g, SINTER_DTYPE_I64, 2, DIMS(2, 3), DIMS(1, 0, 2, 0, 2, 1), 48), u);
  sinter_node_t *b = NODE(g, SCATTER_ELEMENTS, 1, x,
                          cnst(g, SINTER_DTYPE_I64, 2, DIMS(2, 3), DIMS(1, 1, 1, 1, 1, 1), 48), u);
  ck_assert_ptr_null(sinter_node_set_attr_string(b, "reduction", "add", 3));
  sinter_node_t *c = NODE(g, SCATTER_ELEMENTS, 1, x,
                          cnst(g, SINTER_DTYPE_I64, 2, DIMS(2, 3), DIMS(0, 0, 0, 0, 0, 0), 48), u);
  ck_assert_ptr_null(sinter_node_set_attr_string(c, "reduction", "max", 3));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[3,3]");
  float xv[9] = {0}, uv[6] = {1.0f, 1.5f, 1.25f, 2.0f, 2.5f, 2.25f};
  sinter_tensor_t in[2] = {tensor(SINTER_DTYPE_F32, 2, DIMS(3, 3), xv, sizeof(xv)),
                           tensor(SINTER_DTYPE_F32, 2, DIMS(2, 3), uv, sizeof(uv))};
  sinter_tensor_t out[3];
  run_ok(g, in, 2, out);
  /* ONNX's example (axis 0): out[idx[i][j]][j] = upd[i][j]. */
  f32_are(&out[0], 9, (float[]){2.0f, 1.5f, 0, 1.0f, 0, 2.25f, 0, 2.5f, 1.25f});
  /* add with duplicates: row 1 gets both update rows summed */
  f32_are(&out[1], 9, (float[]){0, 0, 0, 3.0f, 4.0f, 3.5f, 0, 0, 0});
  f32_are(&out[2], 9, (float[]){2.0f, 2.5f, 2.25f, 0, 0, 0, 0, 0, 0});
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  /* ScatterND: ONNX's 1-D example, then mul with duplicates on i32. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_I32, 1, DIMS(8));
  sinter_value_t *ix = cnst(g, SINTER_DTYPE_I64, 2, DIMS(4, 1), DIMS(4, 3, 1, 7), 32);
  int32_t uv2[4] = {9, 10, 11, 12};
  sinter_value_t *u2 = cnst(g, SINTER_DTYPE_I32, 1, DIMS(4), uv2, sizeof(uv2));
  NODE(g, SCATTER_ND, 1, x, ix, u2);
  sinter_node_t *m = NODE(g, SCATTER_ND, 1, x,
                          cnst(g, SINTER_DTYPE_I64, 2, DIMS(4, 1), DIMS(1, 1, 2, -1), 32), u2);
  ck_assert_ptr_null(sinter_node_set_attr_string(m, "reduction", "mul", 3));
  infer_ok(g);
  int32_t xv2[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int32_t w0[8] = {1, 11, 3, 10, 9, 6, 7, 12}, w1[8] = {1, 2 * 9 * 10, 3 * 11, 4, 5, 6, 7, 8 * 12};
  sinter_tensor_t in2 = tensor(SINTER_DTYPE_I32, 1, DIMS(8), xv2, sizeof(xv2));
  run_ok(g, &in2, 1, out);
  ck_assert_mem_eq(out[0].data, w0, sizeof(w0));
  ck_assert_mem_eq(out[1].data, w1, sizeof(w1));
  sinter_tensor_free_data(&out[0]);
  sinter_tensor_free_data(&out[1]);
  sinter_graph_destroy(g);

  /* Errors: bad index, unknown reduction, mismatched updates. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_I32, 1, DIMS(8));
  NODE(g, SCATTER_ND, 1, x, cnst(g, SINTER_DTYPE_I64, 2, DIMS(1, 1), DIMS(8), 8),
       cnst(g, SINTER_DTYPE_I32, 1, DIMS(1), uv2, 4));
  run_fails(g, &in2, 1, SINTER_INVALID_MODEL, "index 8 is out of range");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_I32, 1, DIMS(8));
  ck_assert_ptr_null(
      sinter_node_set_attr_string(NODE(g, SCATTER_ELEMENTS, 1, x, ints(g, 1, DIMS(0)),
                                       cnst(g, SINTER_DTYPE_I32, 1, DIMS(1), uv2, 4)),
                                  "reduction", "avg", 3));
  infer_fails(g, SINTER_INVALID_MODEL, "unknown reduction 'avg'");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_I32, 1, DIMS(8));
  NODE(g, SCATTER_ND, 1, x, cnst(g, SINTER_DTYPE_I64, 2, DIMS(2, 1), DIMS(0, 1), 16),
       cnst(g, SINTER_DTYPE_I32, 1, DIMS(3), uv2, 12));
  infer_fails(g, SINTER_INVALID_MODEL, "updates and indices shapes: 3 and 2 differ");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Expand, Tile, Pad ---------------------------------------------------- */

START_TEST(expand_tile) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 1));
  sinter_node_t *a = NODE(g, EXPAND, 1, x, ints(g, 3, DIMS(2, 1, 2)));
  sinter_node_t *b = NODE(g, TILE, 1, x, ints(g, 2, DIMS(2, 2)));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[2,3,2]");
  type_is(sinter_node_output(b, 0), "f32[6,2]");
  float xv[3] = {1, 2, 3};
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, DIMS(3, 1), xv, sizeof(xv)), out[2];
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 12, (float[]){1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  f32_are(&out[1], 12, (float[]){1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  sinter_tensor_free_data(&out[0]);
  sinter_tensor_free_data(&out[1]);
  sinter_graph_destroy(g);

  g = new_graph();
  x = input(g, SINTER_DTYPE_U8, 2, DIMS(2, 2));
  b = NODE(g, TILE, 1, x, ints(g, 2, DIMS(1, 2)));
  infer_ok(g);
  uint8_t v[4] = {1, 2, 3, 4}, want[8] = {1, 2, 1, 2, 3, 4, 3, 4};
  sinter_tensor_t in2 = tensor(SINTER_DTYPE_U8, 2, DIMS(2, 2), v, sizeof(v));
  run_ok(g, &in2, 1, out);
  ck_assert_mem_eq(out[0].data, want, sizeof(want));
  sinter_tensor_free_data(&out[0]);
  sinter_graph_destroy(g);

  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(SYM, 1));
  a = NODE(g, EXPAND, 1, x, ints(g, 2, DIMS(1, 4)));
  b = NODE(g, TILE, 1, x, ints(g, 2, DIMS(1, 3)));
  sinter_node_t *c = NODE(g, EXPAND, 1, x, input(g, SINTER_DTYPE_I64, 1, DIMS(3)));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[N,4]");
  type_is(sinter_node_output(b, 0), "f32[N,3]");
  type_is(sinter_node_output(c, 0), "f32[?,?,?]");
  sinter_graph_destroy(g);

  /* Errors: incompatible broadcast, negative repeats, sizes that overflow. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 2));
  NODE(g, EXPAND, 1, x, ints(g, 1, DIMS(3)));
  infer_fails(g, SINTER_INVALID_MODEL, "do not broadcast");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 2));
  NODE(g, TILE, 1, x, ints(g, 2, DIMS(1, -2)));
  infer_fails(g, SINTER_INVALID_MODEL, "repeats[1] is -2");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 2));
  NODE(g, TILE, 1, x, ints(g, 2, DIMS(INT64_C(1) << 62, INT64_C(1) << 62)));
  infer_fails(g, SINTER_INVALID_MODEL, "too large");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 1));
  NODE(g, EXPAND, 1, x, ints(g, 3, DIMS(INT64_C(1) << 40, 3, INT64_C(1) << 40)));
  infer_fails(g, SINTER_INVALID_MODEL, "too large");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(pad_modes) {
  static const struct {
    const char *mode;
    float want[7];
  } modes[] = {
      {"reflect", {3, 2, 1, 2, 3, 2, 1}},
      {"edge", {1, 1, 1, 2, 3, 3, 3}},
      {"wrap", {2, 3, 1, 2, 3, 1, 2}},
      {"constant", {0, 0, 1, 2, 3, 0, 0}},
  };
  float xv[3] = {1, 2, 3};
  for (size_t i = 0; i < 4; i++) {
    sinter_graph_t *g = new_graph();
    sinter_value_t *x = input(g, SINTER_DTYPE_F32, 1, DIMS(3));
    sinter_node_t *n = NODE(g, PAD, 1, x, ints(g, 2, DIMS(2, 2)));
    ck_assert_ptr_null(
        sinter_node_set_attr_string(n, "mode", modes[i].mode, strlen(modes[i].mode)));
    infer_ok(g);
    type_is(sinter_node_output(n, 0), "f32[7]");
    sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 1, DIMS(3), xv, sizeof(xv)), out[1];
    run_ok(g, &in, 1, out);
    f32_are(&out[0], 7, modes[i].want);
    sinter_tensor_free_data(&out[0]);
    sinter_graph_destroy(g);
  }
  /* Reflect wider than the axis repeats the mirror, as numpy.pad does:
   * np.pad([0,1,2], 7, 'reflect') = [1 2 1 0 1 2 1 0 1 2 1 0 1 2 1 0 1]. */
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_I64, 1, DIMS(3));
  sinter_node_t *n = NODE(g, PAD, 1, x, ints(g, 2, DIMS(7, 7)));
  ck_assert_ptr_null(sinter_node_set_attr_string(n, "mode", "reflect", 7));
  int64_t iv[3] = {0, 1, 2};
  sinter_tensor_t in = tensor(SINTER_DTYPE_I64, 1, DIMS(3), iv, sizeof(iv)), out[2];
  run_ok(g, &in, 1, out);
  i64_are(&out[0], 17, DIMS(1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1));
  sinter_tensor_free_data(&out[0]);
  sinter_graph_destroy(g);

  /* 2-D constant with a value, negative pads (crop), and the axes input. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  float nine = 9;
  sinter_value_t *cv = cnst(g, SINTER_DTYPE_F32, 0, NULL, &nine, 4);
  sinter_node_t *a = NODE(g, PAD, 1, x, ints(g, 4, DIMS(1, 0, 0, 1)), cv);
  sinter_node_t *b = NODE(g, PAD, 1, x, ints(g, 2, DIMS(-1, 1)), cv, ints(g, 1, DIMS(-1)));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[3,3]");
  type_is(sinter_node_output(b, 0), "f32[2,2]");
  float v[4] = {1, 2, 3, 4};
  in = tensor(SINTER_DTYPE_F32, 2, DIMS(2, 2), v, sizeof(v));
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 9, (float[]){9, 9, 9, 1, 2, 9, 3, 4, 9});
  f32_are(&out[1], 4, (float[]){2, 9, 4, 9});
  sinter_tensor_free_data(&out[0]);
  sinter_tensor_free_data(&out[1]);
  sinter_graph_destroy(g);

  /* Symbolic dims keep their name when not padded; errors. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(SYM, 2));
  a = NODE(g, PAD, 1, x, ints(g, 4, DIMS(0, 1, 0, 1)));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[N,4]");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(2));
  NODE(g, PAD, 1, x, ints(g, 2, DIMS(-2, -1)));
  infer_fails(g, SINTER_INVALID_MODEL, "remove more than");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(2));
  NODE(g, PAD, 1, x, ints(g, 3, DIMS(1, 1, 1)));
  infer_fails(g, SINTER_INVALID_MODEL, "pads has 3 entries, expected 2");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(2));
  ck_assert_ptr_null(
      sinter_node_set_attr_string(NODE(g, PAD, 1, x, ints(g, 2, DIMS(1, 1))), "mode", "mirror", 6));
  infer_fails(g, SINTER_INVALID_MODEL, "unknown pad mode 'mirror'");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Shape, Size, ConstantOfShape, Range, EyeLike -------------------------- */

START_TEST(shape_size) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 3, DIMS(SYM, 3, 4));
  sinter_node_t *a = NODE(g, SHAPE, 1, x);
  sinter_node_t *b = NODE(g, SHAPE, 1, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(b, "start", 1));
  sinter_node_t *c = NODE(g, SHAPE, 1, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "start", -10));
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "end", -1));
  sinter_node_t *d = NODE(g, SIZE, 1, x);
  /* Reshape fed by Shape: unknown data, known rank. */
  sinter_node_t *e = NODE(g, RESHAPE, 1, x, sinter_node_output(a, 0));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "i64[3]");
  type_is(sinter_node_output(b, 0), "i64[2]");
  type_is(sinter_node_output(c, 0), "i64[2]");
  type_is(sinter_node_output(d, 0), "i64[]");
  type_is(sinter_node_output(e, 0), "f32[?,?,?]");
  float xv[60] = {0};
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 3, DIMS(5, 3, 4), xv, sizeof(xv)), out[5];
  run_ok(g, &in, 1, out);
  i64_are(&out[0], 3, DIMS(5, 3, 4));
  i64_are(&out[1], 2, DIMS(3, 4));
  i64_are(&out[2], 2, DIMS(5, 3));
  i64_are(&out[3], 1, DIMS(60));
  dims_are(&out[4], 3, DIMS(5, 3, 4));
  for (int i = 0; i < 5; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(constant_of_shape_range_eye) {
  sinter_graph_t *g = new_graph();
  sinter_node_t *a = NODE(g, CONSTANT_OF_SHAPE, 1, ints(g, 2, DIMS(2, 3)));
  int32_t seven = 7;
  sinter_tensor_t val = tensor(SINTER_DTYPE_I32, 1, DIMS(1), &seven, 4);
  sinter_attr_t attr = {.name = "value", .kind = SINTER_ATTR_TENSOR, .count = 1, .tensors = &val};
  ck_assert_ptr_null(sinter_node_set_attr(a, &attr));
  sinter_node_t *b = NODE(g, CONSTANT_OF_SHAPE, 1, ints(g, 1, DIMS(4)));
  int32_t r[3] = {10, 4, -3};
  sinter_value_t *rv[3];
  for (int i = 0; i < 3; i++) rv[i] = cnst(g, SINTER_DTYPE_I32, 0, NULL, &r[i], 4);
  sinter_node_t *c = NODE(g, RANGE, 1, rv[0], rv[1], rv[2]);
  float f[3] = {1, 5, 2};
  sinter_value_t *fv[3];
  for (int i = 0; i < 3; i++) fv[i] = cnst(g, SINTER_DTYPE_F32, 0, NULL, &f[i], 4);
  sinter_node_t *d = NODE(g, RANGE, 1, fv[0], fv[1], fv[2]);
  sinter_node_t *e = NODE(g, RANGE, 1, fv[1], fv[0], fv[2]); /* empty: 5 to 1 by +2 */
  sinter_value_t *m = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 4));
  sinter_node_t *f1 = NODE(g, EYE_LIKE, 1, m);
  ck_assert_ptr_null(sinter_node_set_attr_int(f1, "k", 1));
  sinter_node_t *f2 = NODE(g, EYE_LIKE, 1, m);
  ck_assert_ptr_null(sinter_node_set_attr_int(f2, "k", -2));
  ck_assert_ptr_null(sinter_node_set_attr_int(f2, "dtype", 7)); /* ONNX INT64 */
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "i32[2,3]");
  type_is(sinter_node_output(b, 0), "f32[4]");
  type_is(sinter_node_output(c, 0), "i32[2]");
  type_is(sinter_node_output(d, 0), "f32[2]");
  type_is(sinter_node_output(e, 0), "f32[0]");
  type_is(sinter_node_output(f1, 0), "f32[3,4]");
  type_is(sinter_node_output(f2, 0), "i64[3,4]");
  float mv[12] = {0};
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, DIMS(3, 4), mv, sizeof(mv)), out[7];
  run_ok(g, &in, 1, out);
  int32_t w7[6] = {7, 7, 7, 7, 7, 7}, wr[2] = {10, 7};
  ck_assert_mem_eq(out[0].data, w7, sizeof(w7));
  f32_are(&out[1], 4, (float[]){0, 0, 0, 0});
  ck_assert_mem_eq(out[2].data, wr, sizeof(wr));
  f32_are(&out[3], 2, (float[]){1, 3});
  dims_are(&out[4], 1, DIMS(0));
  f32_are(&out[5], 12, (float[]){0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1});
  i64_are(&out[6], 12, DIMS(0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0));
  for (int i = 0; i < 7; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  /* Errors: negative dims, absurd sizes, zero delta, mixed types. */
  g = new_graph();
  NODE(g, CONSTANT_OF_SHAPE, 1, ints(g, 2, DIMS(2, -3)));
  infer_fails(g, SINTER_INVALID_MODEL, "shape[1] is -3");
  sinter_graph_destroy(g);
  g = new_graph();
  NODE(g, CONSTANT_OF_SHAPE, 1, ints(g, 3, DIMS(INT64_C(1) << 30, INT64_C(1) << 30, 1 << 20)));
  infer_fails(g, SINTER_INVALID_MODEL, "too large");
  sinter_graph_destroy(g);
  g = new_graph();
  int32_t z[3] = {0, 4, 0};
  for (int i = 0; i < 3; i++) rv[i] = cnst(g, SINTER_DTYPE_I32, 0, NULL, &z[i], 4);
  NODE(g, RANGE, 1, rv[0], rv[1], rv[2]);
  infer_fails(g, SINTER_INVALID_MODEL, "delta is 0");
  sinter_graph_destroy(g);
  g = new_graph();
  rv[0] = cnst(g, SINTER_DTYPE_I32, 0, NULL, &z[0], 4);
  fv[0] = cnst(g, SINTER_DTYPE_F32, 0, NULL, &f[0], 4);
  NODE(g, RANGE, 1, rv[0], fv[0], fv[0]);
  infer_fails(g, SINTER_INVALID_MODEL, "one type");
  sinter_graph_destroy(g);
  /* int64 extremes do not overflow the count. */
  g = new_graph();
  int64_t big[3] = {INT64_MIN, INT64_MAX, 1};
  sinter_value_t *bv[3];
  for (int i = 0; i < 3; i++) bv[i] = cnst(g, SINTER_DTYPE_I64, 0, NULL, &big[i], 8);
  NODE(g, RANGE, 1, bv[0], bv[1], bv[2]);
  infer_fails(g, SINTER_INVALID_MODEL, "too many elements");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Identity, Dropout ---------------------------------------------------- */

START_TEST(identity_dropout) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F16, 2, DIMS(SYM, 2));
  sinter_node_t *a = NODE(g, IDENTITY, 1, x);
  sinter_node_t *b = NODE(g, DROPOUT, 2, x);
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f16[N,2]");
  type_is(sinter_node_output(b, 0), "f16[N,2]");
  type_is(sinter_node_output(b, 1), "bool[N,2]");
  uint16_t xv[4] = {0x3c00, 0x4000, 0xc000, 0x7e00}; /* 1, 2, -2, NaN: bits must survive */
  sinter_tensor_t in = tensor(SINTER_DTYPE_F16, 2, DIMS(2, 2), xv, sizeof(xv)), out[3];
  run_ok(g, &in, 1, out);
  ck_assert_mem_eq(out[0].data, xv, sizeof(xv));
  ck_assert_mem_eq(out[1].data, xv, sizeof(xv));
  uint8_t ones[4] = {1, 1, 1, 1};
  ck_assert_mem_eq(out[2].data, ones, 4);
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  /* training_mode true: unsupported unless ratio is 0. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(2));
  uint8_t yes = 1;
  float half = 0.5f, zero = 0;
  sinter_value_t *t = cnst(g, SINTER_DTYPE_BOOL, 0, NULL, &yes, 1);
  NODE(g, DROPOUT, 1, x, cnst(g, SINTER_DTYPE_F32, 0, NULL, &half, 4), t);
  infer_fails(g, SINTER_UNSUPPORTED, "training mode");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(2));
  t = cnst(g, SINTER_DTYPE_BOOL, 0, NULL, &yes, 1);
  NODE(g, DROPOUT, 2, x, cnst(g, SINTER_DTYPE_F32, 0, NULL, &zero, 4), t);
  infer_ok(g);
  float fv[2] = {3, 4};
  in = tensor(SINTER_DTYPE_F32, 1, DIMS(2), fv, sizeof(fv));
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 2, fv);
  sinter_tensor_free_data(&out[0]);
  sinter_tensor_free_data(&out[1]);
  sinter_graph_destroy(g);
  /* A training flag known only at run time is checked by the kernel. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(2));
  sinter_value_t *tm = input(g, SINTER_DTYPE_BOOL, 0, NULL);
  NODE(g, DROPOUT, 1, x, NULL, tm);
  infer_ok(g);
  sinter_tensor_t ins[2] = {tensor(SINTER_DTYPE_F32, 1, DIMS(2), fv, sizeof(fv)),
                            tensor(SINTER_DTYPE_BOOL, 0, NULL, &yes, 1)};
  run_fails(g, ins, 2, SINTER_UNSUPPORTED, "training mode");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- DepthToSpace, SpaceToDepth, Trilu ------------------------------------ */

START_TEST(depth_space) {
  /* Expected values: numpy reshape/transpose per the ONNX spec, for x = arange(16). */
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_I64, 4, DIMS(1, 8, 1, 2));
  sinter_node_t *a = NODE(g, DEPTH_TO_SPACE, 1, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(a, "blocksize", 2));
  sinter_node_t *b = NODE(g, DEPTH_TO_SPACE, 1, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(b, "blocksize", 2));
  ck_assert_ptr_null(sinter_node_set_attr_string(b, "mode", "CRD", 3));
  sinter_value_t *y = input(g, SINTER_DTYPE_I64, 4, DIMS(1, 2, 4, 4));
  sinter_node_t *c = NODE(g, SPACE_TO_DEPTH, 1, y);
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "blocksize", 2));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "i64[1,2,2,4]");
  type_is(sinter_node_output(c, 0), "i64[1,8,2,2]");
  int64_t xv[16], yv[32];
  for (int i = 0; i < 32; i++) {
    yv[i] = i;
    if (i < 16) xv[i] = i;
  }
  sinter_tensor_t in[2] = {tensor(SINTER_DTYPE_I64, 4, DIMS(1, 8, 1, 2), xv, sizeof(xv)),
                           tensor(SINTER_DTYPE_I64, 4, DIMS(1, 2, 4, 4), yv, sizeof(yv))};
  sinter_tensor_t out[3];
  run_ok(g, in, 2, out);
  i64_are(&out[0], 16, DIMS(0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15));
  i64_are(&out[1], 16, DIMS(0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15));
  i64_are(&out[2], 32,
          DIMS(0, 2, 8, 10, 16, 18, 24, 26, 1, 3, 9, 11, 17, 19, 25, 27, 4, 6, 12, 14, 20, 22, 28,
               30, 5, 7, 13, 15, 21, 23, 29, 31));
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 4, DIMS(SYM, 6, 2, 2));
  a = NODE(g, DEPTH_TO_SPACE, 1, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(a, "blocksize", 2));
  infer_fails(g, SINTER_INVALID_MODEL, "channel count 6 is not a multiple of 4");
  ck_assert_ptr_null(sinter_node_set_attr_int(a, "blocksize", 0));
  infer_fails(g, SINTER_INVALID_MODEL, "blocksize");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(trilu_values) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(3, 3));
  sinter_node_t *a = NODE(g, TRILU, 1, x);
  sinter_node_t *b = NODE(g, TRILU, 1, x, scalar_i64(g, -1));
  ck_assert_ptr_null(sinter_node_set_attr_int(b, "upper", 0));
  sinter_node_t *c = NODE(g, TRILU, 1, x, scalar_i64(g, INT64_MIN)); /* keeps everything */
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[3,3]");
  type_is(sinter_node_output(c, 0), "f32[3,3]");
  float xv[9];
  iota(xv, 9);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, DIMS(3, 3), xv, sizeof(xv)), out[3];
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 9, (float[]){0, 1, 2, 0, 4, 5, 0, 0, 8});
  f32_are(&out[1], 9, (float[]){0, 0, 0, 3, 0, 0, 6, 7, 0});
  f32_are(&out[2], 9, xv);
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(3));
  NODE(g, TRILU, 1, x);
  infer_fails(g, SINTER_INVALID_MODEL, "rank >= 2");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- data-dependent shapes: NonZero, Compress; OneHot, ReverseSequence ------ */

START_TEST(nonzero_compress) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  sinter_value_t *cond = input(g, SINTER_DTYPE_BOOL, 1, DIMS(3));
  sinter_node_t *a = NODE(g, NON_ZERO, 1, x);
  sinter_value_t *y = input(g, SINTER_DTYPE_I32, 2, DIMS(3, 2));
  sinter_node_t *b = NODE(g, COMPRESS, 1, y, cond);
  ck_assert_ptr_null(sinter_node_set_attr_int(b, "axis", 0));
  uint8_t cv5[5] = {0, 1, 0, 0, 1};
  sinter_node_t *c = NODE(g, COMPRESS, 1, y, cnst(g, SINTER_DTYPE_BOOL, 1, DIMS(5), cv5, 5));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "i64[2,?]");
  type_is(sinter_node_output(b, 0), "i32[?,2]");
  type_is(sinter_node_output(c, 0), "i32[2]"); /* condition known: the count is too */
  float xv[4] = {1, 0, -0.0f, NAN};            /* -0 is zero, NaN is not */
  uint8_t cv[3] = {0, 1, 1};
  int32_t yv[6] = {1, 2, 3, 4, 5, 6};
  sinter_tensor_t in[3] = {tensor(SINTER_DTYPE_F32, 2, DIMS(2, 2), xv, sizeof(xv)),
                           tensor(SINTER_DTYPE_BOOL, 1, DIMS(3), cv, 3),
                           tensor(SINTER_DTYPE_I32, 2, DIMS(3, 2), yv, sizeof(yv))};
  sinter_tensor_t out[3];
  run_ok(g, in, 3, out);
  dims_are(&out[0], 2, DIMS(2, 2));
  i64_are(&out[0], 4, DIMS(0, 1, 0, 1));
  int32_t w1[4] = {3, 4, 5, 6}, w2[2] = {2, 5};
  dims_are(&out[1], 2, DIMS(2, 2));
  ck_assert_mem_eq(out[1].data, w1, sizeof(w1));
  ck_assert_mem_eq(out[2].data, w2, sizeof(w2));
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  /* All zero: an empty [2,0] result. */
  memset(xv, 0, sizeof(xv));
  run_ok(g, in, 3, out);
  dims_are(&out[0], 2, DIMS(2, 0));
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  g = new_graph();
  y = input(g, SINTER_DTYPE_I32, 1, DIMS(2));
  NODE(g, COMPRESS, 1, y, cnst(g, SINTER_DTYPE_BOOL, 1, DIMS(5), cv5, 5));
  infer_fails(g, SINTER_INVALID_MODEL, "condition selects index 4 of an axis of 2");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(onehot_reverse_sequence) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *ix = input(g, SINTER_DTYPE_I64, 1, DIMS(4));
  float depth = 3;
  float vals[2] = {-1, 5};
  sinter_value_t *dv = cnst(g, SINTER_DTYPE_F32, 0, NULL, &depth, 4);
  sinter_value_t *vv = cnst(g, SINTER_DTYPE_F32, 1, DIMS(2), vals, 8);
  sinter_node_t *a = NODE(g, ONE_HOT, 1, ix, dv, vv);
  sinter_node_t *b = NODE(g, ONE_HOT, 1, ix, dv, vv);
  ck_assert_ptr_null(sinter_node_set_attr_int(b, "axis", 0));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[4,3]");
  type_is(sinter_node_output(b, 0), "f32[3,4]");
  int64_t iv[4] = {0, 2, -1, 5}; /* -1 wraps to 2; 5 is out of range: all off */
  sinter_tensor_t in = tensor(SINTER_DTYPE_I64, 1, DIMS(4), iv, sizeof(iv)), out[2];
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 12, (float[]){5, -1, -1, -1, -1, 5, -1, -1, 5, -1, -1, -1});
  f32_are(&out[1], 12, (float[]){5, -1, -1, -1, -1, -1, -1, -1, -1, 5, 5, -1});
  sinter_tensor_free_data(&out[0]);
  sinter_tensor_free_data(&out[1]);
  sinter_graph_destroy(g);

  /* ONNX's time-major example: batch_axis 1, time_axis 0. */
  g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(4, 4));
  sinter_node_t *r = NODE(g, REVERSE_SEQUENCE, 1, x, ints(g, 4, DIMS(4, 3, 2, 1)));
  infer_ok(g);
  float xv[16];
  iota(xv, 16);
  in = tensor(SINTER_DTYPE_F32, 2, DIMS(4, 4), xv, sizeof(xv));
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 16, (float[]){12, 9, 6, 3, 8, 5, 2, 7, 4, 1, 10, 11, 0, 13, 14, 15});
  sinter_tensor_free_data(&out[0]);
  /* Batch-major (batch_axis 0, time_axis 1). */
  ck_assert_ptr_null(sinter_node_set_attr_int(r, "batch_axis", 0));
  ck_assert_ptr_null(sinter_node_set_attr_int(r, "time_axis", 1));
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 16, (float[]){3, 2, 1, 0, 6, 5, 4, 7, 9, 8, 10, 11, 12, 13, 14, 15});
  sinter_tensor_free_data(&out[0]);
  sinter_graph_destroy(g);

  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(4, 2));
  NODE(g, REVERSE_SEQUENCE, 1, x, ints(g, 2, DIMS(5, 1)));
  sinter_tensor_t in2 = tensor(SINTER_DTYPE_F32, 2, DIMS(4, 2), xv, 32);
  run_fails(g, &in2, 1, SINTER_INVALID_MODEL, "sequence_lens[0] is 5");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- Resize --------------------------------------------------------------- */

static sinter_node_t *resize_node(sinter_graph_t *g, sinter_value_t *x, const float *scales,
                                  int64_t n_scales, const int64_t *sizes, int64_t n_sizes,
                                  const char *mode, const char *coord) {
  sinter_value_t *sc = NULL, *sz = NULL;
  if (scales) sc = cnst(g, SINTER_DTYPE_F32, 1, &n_scales, scales, 4 * (size_t)n_scales);
  if (sizes) sz = ints(g, n_sizes, sizes);
  sinter_node_t *n = NODE(g, RESIZE, 1, x, NULL, sc, sz);
  if (mode) ck_assert_ptr_null(sinter_node_set_attr_string(n, "mode", mode, strlen(mode)));
  if (coord)
    ck_assert_ptr_null(
        sinter_node_set_attr_string(n, "coordinate_transformation_mode", coord, strlen(coord)));
  return n;
}

START_TEST(resize_nearest_linear) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 4, DIMS(1, 1, 2, 2));
  sinter_node_t *a = resize_node(g, x, (float[]){1, 1, 2, 3}, 4, NULL, 0, NULL, NULL);
  sinter_node_t *b = resize_node(g, x, (float[]){1, 1, 2, 2}, 4, NULL, 0, "linear", NULL);
  sinter_node_t *c =
      resize_node(g, x, (float[]){1, 1, 2, 2}, 4, NULL, 0, "linear", "align_corners");
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[1,1,4,6]");
  type_is(sinter_node_output(b, 0), "f32[1,1,4,4]");
  type_is(sinter_node_output(c, 0), "f32[1,1,4,4]");
  float xv[4] = {1, 2, 3, 4};
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 4, DIMS(1, 1, 2, 2), xv, sizeof(xv)), out[3];
  run_ok(g, &in, 1, out);
  /* ONNX's examples (Resize operator documentation). */
  f32_are(&out[0], 24,
          (float[]){1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
  f32_near(
      &out[1], 16,
      (double[]){1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});
  f32_near(&out[2], 16,
           (double[]){1, 4. / 3, 5. / 3, 2, 5. / 3, 2, 7. / 3, 8. / 3, 7. / 3, 8. / 3, 3, 10. / 3,
                      3, 10. / 3, 11. / 3, 4});
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(resize_cubic_crop) {
  /* Expected values from ONNX 1.12's reference interpolate_nd (numpy, float64). */
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 4, DIMS(1, 1, 4, 4));
  sinter_node_t *a = resize_node(g, x, (float[]){1, 1, 2, 2}, 4, NULL, 0, "cubic", NULL);
  sinter_node_t *b = resize_node(g, x, (float[]){1, 1, 0.8f, 0.8f}, 4, NULL, 0, "cubic", NULL);
  sinter_node_t *c = resize_node(g, x, (float[]){1, 1, 0.6f, 0.6f}, 4, NULL, 0, "linear", NULL);
  float roi[8] = {0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f};
  sinter_value_t *rv = cnst(g, SINTER_DTYPE_F32, 1, DIMS(8), roi, sizeof(roi));
  sinter_node_t *d = NODE(g, RESIZE, 1, x, rv, NULL, ints(g, 4, DIMS(1, 1, 3, 3)));
  ck_assert_ptr_null(sinter_node_set_attr_string(d, "mode", "linear", 6));
  ck_assert_ptr_null(
      sinter_node_set_attr_string(d, "coordinate_transformation_mode", "tf_crop_and_resize", 18));
  ck_assert_ptr_null(sinter_node_set_attr_float(d, "extrapolation_value", 10));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[1,1,8,8]");
  type_is(sinter_node_output(b, 0), "f32[1,1,3,3]");
  type_is(sinter_node_output(c, 0), "f32[1,1,2,2]");
  float xv[16];
  for (int i = 0; i < 16; i++) xv[i] = (float)(i + 1);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 4, DIMS(1, 1, 4, 4), xv, sizeof(xv)), out[4];
  run_ok(g, &in, 1, out);
  f32_near(&out[0], 16,
           (double[]){0.47265625, 0.76953125, 1.24609375, 1.875, 2.28125, 2.91015625, 3.38671875,
                      3.68359375, 1.66015625, 1.95703125, 2.43359375, 3.0625, 3.46875, 4.09765625,
                      4.57421875, 4.87109375});
  f32_near(&out[1], 9,
           (double[]){1.47119140625, 2.78125, 4.08251953125, 6.71142578125, 8.021484375,
                      9.32275390625, 11.91650390625, 13.2265625, 14.52783203125});
  f32_near(&out[2], 4, (double[]){2.6666665, 4.333333, 9.333333, 10.999999});
  f32_near(&out[3], 9, (double[]){7.6, 10, 10, 12.4, 10, 10, 10, 10, 10});
  for (int i = 0; i < 4; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(resize_axes_aspect_antialias) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 4, DIMS(1, 1, 2, 2));
  sinter_node_t *a = resize_node(g, x, NULL, 0, DIMS(7, 8), 2, NULL, NULL);
  ck_assert_ptr_null(sinter_node_set_attr_ints(a, "axes", DIMS(2, 3), 2));
  ck_assert_ptr_null(sinter_node_set_attr_string(a, "keep_aspect_ratio_policy", "not_larger", 10));
  sinter_node_t *b = resize_node(g, x, NULL, 0, DIMS(7, 8), 2, NULL, NULL);
  ck_assert_ptr_null(sinter_node_set_attr_ints(b, "axes", DIMS(-2, -1), 2));
  ck_assert_ptr_null(sinter_node_set_attr_string(b, "keep_aspect_ratio_policy", "not_smaller", 11));
  infer_ok(g);
  /* not_larger: scale min(7/2, 8/2) = 3.5 on both axes; not_smaller: 4. */
  type_is(sinter_node_output(a, 0), "f32[1,1,7,7]");
  type_is(sinter_node_output(b, 0), "f32[1,1,8,8]");
  sinter_graph_destroy(g);

  /* Antialiased linear downsampling of 8 -> 3 along the last axis; expected values from the
   * ONNX reference formula (_linear_coeffs_antialias) evaluated in numpy. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(1, 8));
  a = resize_node(g, x, NULL, 0, DIMS(3), 1, "linear", NULL);
  ck_assert_ptr_null(sinter_node_set_attr_ints(a, "axes", DIMS(1), 1));
  ck_assert_ptr_null(sinter_node_set_attr_int(a, "antialias", 1));
  infer_ok(g);
  float xv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, DIMS(1, 8), xv, sizeof(xv)), out[1];
  run_ok(g, &in, 1, out);
  f32_near(&out[0], 3, (double[]){1.9767441860465116, 4.5, 7.023255813953489});
  sinter_tensor_free_data(&out[0]);
  sinter_graph_destroy(g);

  /* Symbolic batch passes through; a resized symbolic axis becomes unknown. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 4, DIMS(SYM, 3, 4, 4));
  a = resize_node(g, x, (float[]){1, 1, 2, 2}, 4, NULL, 0, NULL, NULL);
  b = resize_node(g, x, NULL, 0, DIMS(8, 6), 2, NULL, NULL);
  ck_assert_ptr_null(sinter_node_set_attr_ints(b, "axes", DIMS(2, 3), 2));
  sinter_node_t *c = resize_node(g, x, (float[]){2, 1, 1, 1}, 4, NULL, 0, NULL, NULL);
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[N,3,8,8]");
  type_is(sinter_node_output(b, 0), "f32[N,3,8,6]");
  type_is(sinter_node_output(c, 0), "f32[?,3,4,4]");
  sinter_graph_destroy(g);

  /* Errors. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  resize_node(g, x, (float[]){1, 1, 2}, 3, NULL, 0, NULL, NULL);
  infer_fails(g, SINTER_INVALID_MODEL, "scales has 3 entries, expected 2");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  resize_node(g, x, (float[]){1, -2}, 2, NULL, 0, NULL, NULL);
  infer_fails(g, SINTER_INVALID_MODEL, "scales[1] is -2");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  resize_node(g, x, (float[]){1, 2}, 2, NULL, 0, "bicubic", NULL);
  infer_fails(g, SINTER_INVALID_MODEL, "unknown mode 'bicubic'");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  resize_node(g, x, (float[]){1, 2}, 2, DIMS(2, 4), 2, NULL, NULL);
  infer_fails(g, SINTER_INVALID_MODEL, "cannot both be given");
  sinter_graph_destroy(g);
}
END_TEST

/* ---- every dtype moves, 4-bit included --------------------------------------- */

START_TEST(packed_int4) {
  /* u4 [2,3] holding 0..5, two per byte, low nibble first. */
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_U4, 2, DIMS(2, 3));
  sinter_node_t *a = NODE(g, TRANSPOSE, 1, x);
  sinter_node_t *b = NODE(g, CONCAT, 1, x, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(b, "axis", 1));
  sinter_node_t *c =
      NODE(g, SLICE, 1, x, ints(g, 1, DIMS(1)), ints(g, 1, DIMS(3)), ints(g, 1, DIMS(1)));
  sinter_node_t *d = NODE(g, GATHER, 1, x, ints(g, 2, DIMS(2, 0)));
  ck_assert_ptr_null(sinter_node_set_attr_int(d, "axis", 1));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "u4[3,2]");
  type_is(sinter_node_output(c, 0), "u4[2,2]");
  uint8_t xv[3] = {0x10, 0x32, 0x54};
  sinter_tensor_t in = tensor(SINTER_DTYPE_U4, 2, DIMS(2, 3), xv, 3), out[4];
  run_ok(g, &in, 1, out);
  uint8_t wa[3] = {0x30, 0x41, 0x52};                   /* 0 3 1 4 2 5 */
  uint8_t wb[6] = {0x10, 0x02, 0x21, 0x43, 0x35, 0x54}; /* 0 1 2 0 1 2 3 4 5 3 4 5 */
  uint8_t wc[2] = {0x21, 0x54};                         /* 1 2 4 5 */
  uint8_t wd[2] = {0x02, 0x35};                         /* 2 0 5 3 */
  ck_assert_mem_eq(out[0].data, wa, 3);
  ck_assert_mem_eq(out[1].data, wb, 6);
  ck_assert_mem_eq(out[2].data, wc, 2);
  ck_assert_mem_eq(out[3].data, wd, 2);
  for (int i = 0; i < 4; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  /* Resize has no 4-bit form: a clean error, not garbage. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_I4, 2, DIMS(2, 2));
  resize_node(g, x, (float[]){2, 2}, 2, NULL, 0, NULL, NULL);
  infer_fails(g, SINTER_UNSUPPORTED, "Resize does not take i4");
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(bool_and_wide_types) {
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_BOOL, 1, DIMS(3));
  sinter_value_t *y = input(g, SINTER_DTYPE_F64, 2, DIMS(2, 2));
  sinter_node_t *a = NODE(g, CONCAT, 1, x, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(a, "axis", 0));
  sinter_node_t *b = NODE(g, TRANSPOSE, 1, y);
  sinter_node_t *c = NODE(g, EXPAND, 1, x, ints(g, 2, DIMS(2, 1)));
  infer_ok(g);
  type_is(sinter_node_output(b, 0), "f64[2,2]");
  type_is(sinter_node_output(c, 0), "bool[2,3]");
  uint8_t xv[3] = {1, 0, 1}, wa[6] = {1, 0, 1, 1, 0, 1};
  double yv[4] = {1.5, -2.25, 1e300, -0.0}, wb[4] = {1.5, 1e300, -2.25, -0.0};
  sinter_tensor_t in[2] = {tensor(SINTER_DTYPE_BOOL, 1, DIMS(3), xv, 3),
                           tensor(SINTER_DTYPE_F64, 2, DIMS(2, 2), yv, sizeof(yv))};
  sinter_tensor_t out[3];
  run_ok(g, in, 2, out);
  ck_assert_mem_eq(out[0].data, wa, 6);
  ck_assert_mem_eq(out[1].data, wb, sizeof(wb));
  ck_assert_mem_eq(out[2].data, wa, 6);
  dims_are(&out[2], 2, DIMS(2, 3));
  for (int i = 0; i < 3; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- hostile inputs: clean errors or sane results, never a crash ------------ */

START_TEST(hostile_inputs) {
  /* An extreme negative step on an outer axis picks one element (no stride overflow). */
  sinter_graph_t *g = new_graph();
  sinter_value_t *x = input(g, SINTER_DTYPE_F32, 2, DIMS(4, 2));
  sinter_node_t *a = NODE(g, SLICE, 1, x, ints(g, 1, DIMS(-1)), ints(g, 1, DIMS(INT64_MIN)),
                          ints(g, 1, DIMS(0)), ints(g, 1, DIMS(INT64_MIN)));
  /* Zero repeats give an empty tensor; EyeLike with a diagonal far outside is all zero. */
  sinter_node_t *b = NODE(g, TILE, 1, x, ints(g, 2, DIMS(0, 3)));
  sinter_node_t *c = NODE(g, EYE_LIKE, 1, x);
  ck_assert_ptr_null(sinter_node_set_attr_int(c, "k", INT64_MIN));
  sinter_node_t *empty = NODE(g, SLICE, 1, x, ints(g, 1, DIMS(0)), ints(g, 1, DIMS(0)));
  sinter_node_t *d = NODE(g, CONCAT, 1, x, sinter_node_output(empty, 0));
  ck_assert_ptr_null(sinter_node_set_attr_int(d, "axis", 0));
  infer_ok(g);
  type_is(sinter_node_output(a, 0), "f32[1,2]");
  type_is(sinter_node_output(b, 0), "f32[0,6]");
  type_is(sinter_node_output(d, 0), "f32[4,2]");
  float xv[8];
  iota(xv, 8);
  sinter_tensor_t in = tensor(SINTER_DTYPE_F32, 2, DIMS(4, 2), xv, sizeof(xv)), out[5];
  run_ok(g, &in, 1, out);
  f32_are(&out[0], 2, (float[]){6, 7});
  dims_are(&out[1], 2, DIMS(0, 6));
  f32_are(&out[2], 8, (float[]){0, 0, 0, 0, 0, 0, 0, 0});
  f32_are(&out[4], 8, xv);
  for (int i = 0; i < 5; i++) sinter_tensor_free_data(&out[i]);
  sinter_graph_destroy(g);

  /* Sizes whose product overflows, a non-finite range, a NaN depth, huge pads. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  NODE(g, RESIZE, 1, x, NULL, NULL, ints(g, 2, DIMS(INT64_C(1) << 40, INT64_C(1) << 40)));
  infer_fails(g, SINTER_INVALID_MODEL, "too large");
  sinter_graph_destroy(g);
  g = new_graph();
  float inf = INFINITY, one = 1;
  NODE(g, RANGE, 1, cnst(g, SINTER_DTYPE_F32, 0, NULL, &one, 4),
       cnst(g, SINTER_DTYPE_F32, 0, NULL, &inf, 4), cnst(g, SINTER_DTYPE_F32, 0, NULL, &one, 4));
  infer_fails(g, SINTER_INVALID_MODEL, "too many elements");
  sinter_graph_destroy(g);
  g = new_graph();
  float nan = NAN, vals[2] = {0, 1};
  NODE(g, ONE_HOT, 1, input(g, SINTER_DTYPE_I64, 1, DIMS(2)),
       cnst(g, SINTER_DTYPE_F32, 0, NULL, &nan, 4), cnst(g, SINTER_DTYPE_F32, 1, DIMS(2), vals, 8));
  infer_fails(g, SINTER_INVALID_MODEL, "depth");
  sinter_graph_destroy(g);
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(2));
  NODE(g, PAD, 1, x, ints(g, 2, DIMS(INT64_MAX, INT64_MAX)));
  infer_fails(g, SINTER_INVALID_MODEL, "overflow");
  sinter_graph_destroy(g);
  /* GatherElements indices wider than the data on a non-axis dim. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 2, DIMS(2, 2));
  NODE(g, GATHER_ELEMENTS, 1, x, cnst(g, SINTER_DTYPE_I64, 2, DIMS(1, 3), DIMS(0, 0, 0), 24));
  ck_assert_ptr_null(sinter_node_set_attr_int(sinter_graph_last_node(g), "axis", 0));
  infer_fails(g, SINTER_INVALID_MODEL, "exceeds data dim");
  sinter_graph_destroy(g);
  /* Edge padding of an empty axis has nothing to repeat. */
  g = new_graph();
  x = input(g, SINTER_DTYPE_F32, 1, DIMS(0));
  ck_assert_ptr_null(
      sinter_node_set_attr_string(NODE(g, PAD, 1, x, ints(g, 2, DIMS(1, 1))), "mode", "edge", 4));
  infer_ok(g);
  in = tensor(SINTER_DTYPE_F32, 1, DIMS(0), xv, 0);
  run_fails(g, &in, 1, SINTER_INVALID_MODEL, "cannot pad the empty axis 0");
  sinter_graph_destroy(g);
}
END_TEST

static Suite *shape_suite(void) {
  Suite *s = suite_create("shape");
  TCase *tc = tcase_create("ops");
  tcase_add_test(tc, reshape_static);
  tcase_add_test(tc, reshape_symbolic);
  tcase_add_test(tc, reshape_runtime_symbolic);
  tcase_add_test(tc, reshape_unknown_shape);
  tcase_add_test(tc, reshape_errors);
  tcase_add_test(tc, flatten_shapes);
  tcase_add_test(tc, transpose_values);
  tcase_add_test(tc, transpose_symbolic_and_errors);
  tcase_add_test(tc, squeeze_unsqueeze);
  tcase_add_test(tc, concat_values);
  tcase_add_test(tc, concat_symbolic_and_errors);
  tcase_add_test(tc, split_variants);
  tcase_add_test(tc, slice_values);
  tcase_add_test(tc, slice_symbolic_and_errors);
  tcase_add_test(tc, gather_values);
  tcase_add_test(tc, gather_elements_nd);
  tcase_add_test(tc, scatter_values);
  tcase_add_test(tc, expand_tile);
  tcase_add_test(tc, pad_modes);
  tcase_add_test(tc, shape_size);
  tcase_add_test(tc, constant_of_shape_range_eye);
  tcase_add_test(tc, identity_dropout);
  tcase_add_test(tc, depth_space);
  tcase_add_test(tc, trilu_values);
  tcase_add_test(tc, nonzero_compress);
  tcase_add_test(tc, onehot_reverse_sequence);
  tcase_add_test(tc, resize_nearest_linear);
  tcase_add_test(tc, resize_cubic_crop);
  tcase_add_test(tc, resize_axes_aspect_antialias);
  tcase_add_test(tc, packed_int4);
  tcase_add_test(tc, bool_and_wide_types);
  tcase_add_test(tc, hostile_inputs);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(shape_suite());
}
