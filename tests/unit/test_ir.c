/* The graph core: building, walking and rewriting graphs through the public
 * API, use lists, attributes, constants, quant params, dtype helpers. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp/kernels.h"
#include "sinter/ir.h"
#include "tests/support/check_main.h"

static sinter_type_t f32v(int64_t n) {
  sinter_type_t t = {.dtype = SINTER_DTYPE_F32, .rank = 1};
  t.dims[0].size = n;
  return t;
}

START_TEST(build_and_walk) {
  sinter_graph_t *g;
  ck_assert_ptr_null(sinter_graph_create("g", &g));
  sinter_type_t t = f32v(4);
  sinter_value_t *x, *c;
  float one[4] = {1, 1, 1, 1};
  ck_assert_ptr_null(sinter_graph_add_input(g, "x", &t, &x));
  ck_assert_ptr_null(sinter_graph_add_const(g, "c", &t, one, sizeof(one), &c));
  sinter_node_t *add, *relu;
  ck_assert_ptr_null(sinter_graph_add_node(g, SINTER_OP_ADD, "add", (sinter_value_t *[]){x, c}, 2, 1, &add));
  ck_assert_ptr_null(sinter_graph_add_node(g, SINTER_OP_RELU, "relu", (sinter_value_t *[]){sinter_node_output(add, 0)}, 1, 1, &relu));
  ck_assert_ptr_null(sinter_graph_add_output(g, sinter_node_output(relu, 0)));

  ck_assert_int_eq(sinter_graph_num_nodes(g), 2);
  ck_assert_ptr_eq(sinter_graph_first_node(g), add);
  ck_assert_ptr_eq(sinter_node_next(add), relu);
  ck_assert_ptr_eq(sinter_graph_last_node(g), relu);
  ck_assert_int_eq(sinter_value_num_uses(x), 1);
  int32_t slot;
  ck_assert_ptr_eq(sinter_value_use(c, 0, &slot), add);
  ck_assert_int_eq(slot, 1);
  ck_assert_ptr_eq(sinter_value_producer(sinter_node_output(add, 0), &slot), add);
  ck_assert_int_eq(slot, 0);
  ck_assert(sinter_value_is_graph_output(sinter_node_output(relu, 0)));
  ck_assert_ptr_eq(sinter_graph_find_value(g, "c"), c);
  ck_assert_int_eq(sinter_value_kind(c), SINTER_VALUE_CONST);
  size_t nb;
  ck_assert_ptr_nonnull(sinter_value_data(c, &nb));
  ck_assert_int_eq(nb, 16);
  ck_assert_ptr_eq(sinter_graph_first_const(g), c);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(rewrite) {
  sinter_graph_t *g;
  ck_assert_ptr_null(sinter_graph_create("g", &g));
  sinter_type_t t = f32v(2);
  sinter_value_t *x;
  ck_assert_ptr_null(sinter_graph_add_input(g, "x", &t, &x));
  sinter_node_t *id, *neg;
  ck_assert_ptr_null(sinter_graph_add_node(g, SINTER_OP_IDENTITY, "id", &x, 1, 1, &id));
  sinter_value_t *y = sinter_node_output(id, 0);
  ck_assert_ptr_null(sinter_graph_add_node(g, SINTER_OP_NEG, "neg", &y, 1, 1, &neg));
  ck_assert_ptr_null(sinter_graph_add_output(g, y));

  /* Still used: removal must fail cleanly. */
  sinter_status_t st = sinter_graph_remove_node(g, id);
  ck_assert_ptr_nonnull(st);
  ck_assert_ptr_nonnull(strstr(sinter_status_message(st), "still used"));
  sinter_status_free(st);

  /* Bypass the Identity: uses and graph outputs move to x. */
  sinter_value_replace_all_uses(y, x);
  ck_assert_int_eq(sinter_value_num_uses(y), 0);
  ck_assert(!sinter_value_is_graph_output(y));
  ck_assert_ptr_eq(sinter_graph_output(g, 0), x);
  ck_assert_ptr_eq(sinter_node_input(neg, 0), x);
  ck_assert_int_eq(sinter_value_num_uses(x), 2);
  ck_assert_ptr_null(sinter_graph_remove_node(g, id));
  ck_assert_int_eq(sinter_graph_num_nodes(g), 1);
  ck_assert_int_eq(sinter_value_num_uses(x), 1);
  ck_assert_ptr_eq(sinter_graph_first_node(g), neg);

  /* Insert before, set an input, move. */
  sinter_node_t *abs_node;
  ck_assert_ptr_null(sinter_graph_insert_node(g, neg, SINTER_OP_ABS, "abs", &x, 1, 1, &abs_node));
  ck_assert_ptr_eq(sinter_graph_first_node(g), abs_node);
  ck_assert_ptr_null(sinter_node_set_input(neg, 0, sinter_node_output(abs_node, 0)));
  ck_assert_int_eq(sinter_value_num_uses(sinter_node_output(abs_node, 0)), 1);
  ck_assert_ptr_null(sinter_graph_verify(g));
  sinter_node_move_before(neg, abs_node); /* now out of order */
  st = sinter_graph_verify(g);
  ck_assert_ptr_nonnull(st);
  sinter_status_free(st);
  sinter_node_move_before(abs_node, neg);
  ck_assert_ptr_null(sinter_graph_verify(g));
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(attributes) {
  sinter_graph_t *g;
  ck_assert_ptr_null(sinter_graph_create("g", &g));
  sinter_type_t t = f32v(2);
  sinter_value_t *x;
  ck_assert_ptr_null(sinter_graph_add_input(g, "x", &t, &x));
  sinter_node_t *n;
  ck_assert_ptr_null(sinter_graph_add_node(g, SINTER_OP_LEAKY_RELU, NULL, &x, 1, 1, &n));
  ck_assert_str_eq(sinter_node_name(n), "");
  ck_assert_ptr_null(sinter_node_set_attr_float(n, "alpha", 0.25f));
  ck_assert_ptr_null(sinter_node_set_attr_ints(n, "zz", (int64_t[]){3, 4}, 2));
  ck_assert_ptr_null(sinter_node_set_attr_string(n, "mode", "ab\0c", 4));
  ck_assert_ptr_null(sinter_node_set_attr_int(n, "alpha2", 7));
  /* Sorted by name, replaced in place. */
  ck_assert_str_eq(sinter_node_attr_at(n, 0)->name, "alpha");
  ck_assert_str_eq(sinter_node_attr_at(n, 1)->name, "alpha2");
  ck_assert_str_eq(sinter_node_attr_at(n, 3)->name, "zz");
  ck_assert_ptr_null(sinter_node_set_attr_float(n, "alpha", 0.5f));
  ck_assert_int_eq(sinter_node_num_attrs(n), 4);
  ck_assert(sinter_node_attr_float(n, "alpha", 0) == 0.5f);
  ck_assert_int_eq(sinter_node_attr_int(n, "alpha2", 0), 7);
  ck_assert_int_eq(sinter_node_attr_int(n, "missing", -3), -3);
  int64_t cnt;
  const int64_t *v = sinter_node_attr_ints(n, "zz", &cnt);
  ck_assert_int_eq(cnt, 2);
  ck_assert_int_eq(v[1], 4);
  ck_assert_int_eq(sinter_node_attr(n, "mode")->s_len, 4);
  ck_assert_ptr_null(sinter_node_remove_attr(n, "alpha2"));
  ck_assert_ptr_null(sinter_node_attr(n, "alpha2"));
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(constants_and_quant) {
  sinter_graph_t *g;
  ck_assert_ptr_null(sinter_graph_create("g", &g));
  sinter_type_t t = f32v(3);
  sinter_value_t *c;
  float d[2] = {0};
  /* Data size must match the type. */
  sinter_status_t st = sinter_graph_add_const(g, "c", &t, d, sizeof(d), &c);
  ck_assert_ptr_nonnull(st);
  ck_assert_ptr_nonnull(strstr(sinter_status_message(st), "needs 12"));
  sinter_status_free(st);
  /* Packed int4: 5 elements take 3 bytes. */
  sinter_type_t q = {.dtype = SINTER_DTYPE_I4, .rank = 1};
  q.dims[0].size = 5;
  uint8_t packed[3] = {0x21, 0x43, 0x05};
  ck_assert_ptr_null(sinter_graph_add_const(g, "q", &q, packed, 3, &c));
  float scales[1] = {0.5f};
  int32_t zps[1] = {0};
  sinter_quant_params_t qp = {.scheme = SINTER_QUANT_PER_TENSOR, .bits = 4, .count = 1,
                              .scales = scales, .zero_points = zps};
  ck_assert_ptr_null(sinter_value_set_quant(c, &qp));
  scales[0] = 9; /* copied, not borrowed */
  ck_assert(sinter_value_quant(c)->scales[0] == 0.5f);
  ck_assert_ptr_null(sinter_graph_remove_value(g, c));
  ck_assert_ptr_null(sinter_graph_first_const(g));
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(dtypes_and_types) {
  ck_assert_str_eq(sinter_dtype_name(SINTER_DTYPE_BF16), "bf16");
  ck_assert_int_eq(sinter_dtype_from_name("u4"), SINTER_DTYPE_U4);
  ck_assert_int_eq(sinter_dtype_from_name("nope"), SINTER_DTYPE_UNDEFINED);
  ck_assert_int_eq(sinter_dtype_bits(SINTER_DTYPE_I4), 4);
  size_t b;
  ck_assert(sinter_dtype_storage_size(SINTER_DTYPE_U4, 7, &b) && b == 4);
  ck_assert(!sinter_dtype_storage_size(SINTER_DTYPE_F64, INT64_MAX / 4, &b));
  sinter_type_t t = {.dtype = SINTER_DTYPE_F32, .rank = 3};
  t.dims[0] = (sinter_dim_t){-1, "N"};
  t.dims[1].size = 3;
  t.dims[2] = (sinter_dim_t){-1, NULL};
  char buf[64];
  ck_assert_str_eq(sinter_type_format(&t, buf, sizeof(buf)), "f32[N,3,?]");
  ck_assert(!sinter_type_is_static(&t));
  int64_t n;
  ck_assert(!sinter_type_numel(&t, &n));
  t.dims[0] = (sinter_dim_t){INT64_MAX / 2, NULL};
  t.dims[2].size = 5;
  ck_assert(!sinter_type_numel(&t, &n)); /* overflow detected */
  ck_assert_int_eq(sinter_op_lookup("", "Conv"), SINTER_OP_CONV);
  ck_assert_int_eq(sinter_op_lookup("ai.onnx", "MatMul"), SINTER_OP_MATMUL);
  ck_assert_int_eq(sinter_op_lookup("com.microsoft", "Conv"), SINTER_OP_INVALID);
  ck_assert_str_eq(sinter_op_info(SINTER_OP_GEMM)->name, "Gemm");
  ck_assert_ptr_null(sinter_op_info(SINTER_OP_COUNT));
}
END_TEST

START_TEST(status_context) {
  sinter_status_t st = SINTER_ERROR(SINTER_INVALID_MODEL, "weight has rank %d", 3);
  st = sinter_status_annotate(st, "node '%s' (%s)", "conv1", "Conv");
  st = sinter_status_annotate(st, "%s", "m.onnx");
  ck_assert_str_eq(sinter_status_message(st), "m.onnx: node 'conv1' (Conv): weight has rank 3");
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_MODEL);
  ck_assert_ptr_nonnull(strstr(sinter_status_location(st), "test_ir.c:"));
  sinter_status_free(st);
  ck_assert_int_eq(sinter_status_code(NULL), SINTER_OK);
}
END_TEST

/* docs/interpreter.md promises inference and a kernel for every op. */
START_TEST(every_op_implemented) {
  for (int op = 1; op < SINTER_OP_COUNT; op++) {
    const sinter_op_impl_t *impl = sinter_op_impl((sinter_op_t)op);
    ck_assert_msg(impl && impl->infer && impl->run, "op %s lacks inference or a kernel",
                  sinter_op_info((sinter_op_t)op)->name);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("ir");
  TCase *tc = tcase_create("graph");
  tcase_add_test(tc, build_and_walk);
  tcase_add_test(tc, rewrite);
  tcase_add_test(tc, attributes);
  tcase_add_test(tc, constants_and_quant);
  tcase_add_test(tc, dtypes_and_types);
  tcase_add_test(tc, status_context);
  tcase_add_test(tc, every_op_implemented);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
