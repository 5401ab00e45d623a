/* Elementwise ops in the reference interpreter: shape and dtype inference (broadcasting with
 * symbolic dims, dtype errors) and kernel results for f32, f16, bf16, f64, integer and bool
 * tensors. Expected values are hand computed or come from NumPy (noted per test). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/ir.h"
#include "tests/support/check_main.h"
#include "tests/support/interp_test.h"

/* Runs a unary op on f32 data of shape "n" and returns the harness for checking. */
static void run_unary_f32(tg_t *t, sinter_op_t op, const float *x, int n, sinter_node_t **node) {
  tg_init(t);
  char shape[16];
  snprintf(shape, sizeof(shape), "%d", n);
  sinter_value_t *in = tg_in(t, SINTER_DTYPE_F32, shape, x, sizeof(float) * (size_t)n);
  *node = tg_node(t, op, &in, 1);
}

/* ---- binary arithmetic and broadcasting ----------------------------------- */

START_TEST(add_same_shape_f32) {
  tg_t t;
  tg_init(&t);
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {0.5f, -2, 10, 1e-3f, -5, 100};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_F32, "2,3", a, sizeof(a)),
                            tg_in(&t, SINTER_DTYPE_F32, "2,3", b, sizeof(b))};
  tg_node(&t, SINTER_OP_ADD, ins, 2);
  tg_run_ok(&t);
  /* Each sum is one correctly rounded f32 addition: exact comparison. */
  float want[6] = {1.5f, 0, 13, 4.001f, 0, 106};
  expect_shape(&t.outs[0], SINTER_DTYPE_F32, 2, (int64_t[]){2, 3});
  expect_f32(&t.outs[0], want, 6, 0, 0);
  tg_free(&t);
}
END_TEST

START_TEST(broadcast_bias_and_outer) {
  tg_t t;
  tg_init(&t);
  float a[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {10, 20, 30}, col[2] = {100, 200};
  float row[3] = {1, 2, 3};
  sinter_value_t *x = tg_in(&t, SINTER_DTYPE_F32, "2,3", a, sizeof(a));
  sinter_value_t *bv = tg_const(&t, SINTER_DTYPE_F32, "3", bias, sizeof(bias));
  sinter_value_t *cv = tg_in(&t, SINTER_DTYPE_F32, "2,1", col, sizeof(col));
  sinter_value_t *rv = tg_in(&t, SINTER_DTYPE_F32, "1,3", row, sizeof(row));
  sinter_value_t *i1[2] = {x, bv}, *i2[2] = {cv, rv}, *i3[2] = {bv, x};
  tg_node(&t, SINTER_OP_ADD, i1, 2);
  tg_node(&t, SINTER_OP_MUL, i2, 2);
  tg_node(&t, SINTER_OP_SUB, i3, 2);
  tg_run_ok(&t);
  expect_f32(&t.outs[0], (float[]){11, 22, 33, 14, 25, 36}, 6, 0, 0);
  expect_shape(&t.outs[1], SINTER_DTYPE_F32, 2, (int64_t[]){2, 3});
  expect_f32(&t.outs[1], (float[]){100, 200, 300, 200, 400, 600}, 6, 0, 0);
  expect_f32(&t.outs[2], (float[]){9, 18, 27, 6, 15, 24}, 6, 0, 0);
  tg_free(&t);
}
END_TEST

START_TEST(broadcast_symbolic_dims) {
  tg_t t;
  tg_init(&t);
  /* a: [N,1,4] fed as [2,1,4]; b: [3,1]; out [N,3,4]. */
  float a[8] = {0, 1, 2, 3, 4, 5, 6, 7}, b[3] = {100, 200, 300};
  sinter_value_t *ins[2] = {tg_input(&t, SINTER_DTYPE_F32, "N,1,4", "2,1,4", a, sizeof(a)),
                            tg_in(&t, SINTER_DTYPE_F32, "3,1", b, sizeof(b))};
  sinter_node_t *n = tg_node(&t, SINTER_OP_ADD, ins, 2);
  /* A second op broadcasting N against a symbol-free 1 keeps the symbol. */
  sinter_value_t *c =
      tg_input(&t, SINTER_DTYPE_F32, "N,3,1", "2,3,1", (float[]){1, 2, 3, 4, 5, 6}, 24);
  sinter_value_t *i2[2] = {sinter_node_output(n, 0), c};
  tg_node(&t, SINTER_OP_MUL, i2, 2);
  ck_assert_ptr_null(sinter_graph_infer_shapes(t.g));
  char buf[64];
  sinter_type_format(sinter_value_type(sinter_node_output(n, 0)), buf, sizeof(buf));
  ck_assert_str_eq(buf, "f32[N,3,4]");
  sinter_type_format(sinter_value_type(sinter_graph_output(t.g, 1)), buf, sizeof(buf));
  ck_assert_str_eq(buf, "f32[N,3,4]");
  tg_run_ok(&t);
  expect_shape(&t.outs[0], SINTER_DTYPE_F32, 3, (int64_t[]){2, 3, 4});
  const float *o = t.outs[0].data, *m = t.outs[1].data;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) {
        float want = a[i * 4 + k] + b[j];
        ck_assert_float_eq(o[(i * 3 + j) * 4 + k], want);
        ck_assert_float_eq(m[(i * 3 + j) * 4 + k], want * (float)(i * 3 + j + 1));
      }
  tg_free(&t);
}
END_TEST

START_TEST(broadcast_incompatible_is_infer_error) {
  tg_t t;
  tg_init(&t);
  sinter_type_t a = mk(t.g, SINTER_DTYPE_F32, "2,3"), b = mk(t.g, SINTER_DTYPE_F32, "4");
  sinter_value_t *ins[2];
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "a", &a, &ins[0]));
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "b", &b, &ins[1]));
  tg_node(&t, SINTER_OP_ADD, ins, 2);
  sinter_status_t st = sinter_graph_infer_shapes(t.g);
  expect_error(st, SINTER_INVALID_MODEL, "broadcast");
  tg_free(&t);
}
END_TEST

START_TEST(mixed_dtypes_is_infer_error) {
  tg_t t;
  tg_init(&t);
  sinter_type_t a = mk(t.g, SINTER_DTYPE_F32, "3"), b = mk(t.g, SINTER_DTYPE_I32, "3");
  sinter_value_t *ins[2];
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "a", &a, &ins[0]));
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "b", &b, &ins[1]));
  tg_node(&t, SINTER_OP_MUL, ins, 2);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_INVALID_MODEL, "dtype");
  tg_free(&t);
}
END_TEST

START_TEST(float_only_op_rejects_int) {
  tg_t t;
  tg_init(&t);
  sinter_type_t a = mk(t.g, SINTER_DTYPE_I64, "3");
  sinter_value_t *in;
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "a", &a, &in));
  tg_node(&t, SINTER_OP_EXP, &in, 1);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_INVALID_MODEL, "float");
  tg_free(&t);
}
END_TEST

START_TEST(int_div_truncates_and_div_by_zero_is_zero) {
  tg_t t;
  tg_init(&t);
  int32_t a[5] = {7, -7, 7, -7, 5}, b[5] = {2, 2, -2, -2, 0};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_I32, "5", a, sizeof(a)),
                            tg_in(&t, SINTER_DTYPE_I32, "5", b, sizeof(b))};
  tg_node(&t, SINTER_OP_DIV, ins, 2);
  int64_t c[2] = {INT64_MIN, 9}, d[2] = {-1, 0};
  sinter_value_t *i2[2] = {tg_in(&t, SINTER_DTYPE_I64, "2", c, sizeof(c)),
                           tg_in(&t, SINTER_DTYPE_I64, "2", d, sizeof(d))};
  tg_node(&t, SINTER_OP_DIV, i2, 2);
  tg_run_ok(&t);
  /* NumPy trunc(a / b): 3 -3 -3 3; x / 0 is defined as 0 (NumPy's integer result). */
  expect_bytes(&t.outs[0], (int32_t[]){3, -3, -3, 3, 0}, 20);
  /* INT64_MIN / -1 wraps instead of trapping. */
  expect_bytes(&t.outs[1], (int64_t[]){INT64_MIN, 0}, 16);
  tg_free(&t);
}
END_TEST

START_TEST(mod_integer_and_float) {
  tg_t t;
  tg_init(&t);
  int32_t a[4] = {-4, 7, 5, -5}, b[4] = {3, -3, -3, 3};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_I32, "4", a, sizeof(a)),
                            tg_in(&t, SINTER_DTYPE_I32, "4", b, sizeof(b))};
  tg_node(&t, SINTER_OP_MOD, ins, 2);
  sinter_node_t *fm = tg_node(&t, SINTER_OP_MOD, ins, 2);
  ck_assert_ptr_null(sinter_node_set_attr_int(fm, "fmod", 1));
  float fa[3] = {-4.5f, 7.5f, 5.0f}, fb[3] = {2.0f, -2.0f, 3.0f};
  sinter_value_t *fi[2] = {tg_in(&t, SINTER_DTYPE_F32, "3", fa, sizeof(fa)),
                           tg_in(&t, SINTER_DTYPE_F32, "3", fb, sizeof(fb))};
  sinter_node_t *ff = tg_node(&t, SINTER_OP_MOD, fi, 2);
  ck_assert_ptr_null(sinter_node_set_attr_int(ff, "fmod", 1));
  tg_run_ok(&t);
  /* NumPy: np.mod -> [2, -2, -1, 1]; np.fmod -> [-1, 1, 2, -2]; np.fmod floats. */
  expect_bytes(&t.outs[0], (int32_t[]){2, -2, -1, 1}, 16);
  expect_bytes(&t.outs[1], (int32_t[]){-1, 1, 2, -2}, 16);
  expect_f32(&t.outs[2], (float[]){-0.5f, 1.5f, 2.0f}, 3, 0, 0);
  tg_free(&t);
}
END_TEST

START_TEST(pow_mixed_dtypes) {
  tg_t t;
  tg_init(&t);
  float fb[3] = {2, 3, 0.5f};
  int64_t ie[3] = {3, 2, -1};
  int32_t ib[3] = {4, 2, 3};
  float fe[3] = {0.5f, 3, 2};
  int64_t lb[3] = {3, -2, 10}, le[3] = {4, 3, 0};
  sinter_value_t *i1[2] = {tg_in(&t, SINTER_DTYPE_F32, "3", fb, sizeof(fb)),
                           tg_in(&t, SINTER_DTYPE_I64, "3", ie, sizeof(ie))};
  sinter_value_t *i2[2] = {tg_in(&t, SINTER_DTYPE_I32, "3", ib, sizeof(ib)),
                           tg_in(&t, SINTER_DTYPE_F32, "3", fe, sizeof(fe))};
  sinter_value_t *i3[2] = {tg_in(&t, SINTER_DTYPE_I64, "3", lb, sizeof(lb)),
                           tg_in(&t, SINTER_DTYPE_I64, "3", le, sizeof(le))};
  tg_node(&t, SINTER_OP_POW, i1, 2);
  tg_node(&t, SINTER_OP_POW, i2, 2);
  tg_node(&t, SINTER_OP_POW, i3, 2);
  tg_run_ok(&t);
  /* The output takes the base's dtype. */
  expect_f32(&t.outs[0], (float[]){8, 9, 2}, 3, 0, 0);
  expect_bytes(&t.outs[1], (int32_t[]){2, 8, 9}, 12);
  expect_bytes(&t.outs[2], (int64_t[]){81, -8, 1}, 24);
  tg_free(&t);
}
END_TEST

START_TEST(int8_add_wraps_and_uint8_sub) {
  tg_t t;
  tg_init(&t);
  int8_t a[3] = {100, -100, 5}, b[3] = {100, -100, -6};
  uint8_t c[2] = {3, 250}, d[2] = {5, 5};
  sinter_value_t *i1[2] = {tg_in(&t, SINTER_DTYPE_I8, "3", a, 3),
                           tg_in(&t, SINTER_DTYPE_I8, "3", b, 3)};
  sinter_value_t *i2[2] = {tg_in(&t, SINTER_DTYPE_U8, "2", c, 2),
                           tg_in(&t, SINTER_DTYPE_U8, "2", d, 2)};
  tg_node(&t, SINTER_OP_ADD, i1, 2);
  tg_node(&t, SINTER_OP_SUB, i2, 2);
  tg_run_ok(&t);
  /* NumPy int8: 200 -> -56, -200 -> 56; uint8 3 - 5 -> 254. */
  expect_bytes(&t.outs[0], (int8_t[]){-56, 56, -1}, 3);
  expect_bytes(&t.outs[1], (uint8_t[]){254, 245}, 2);
  tg_free(&t);
}
END_TEST

START_TEST(f16_and_bf16_round_on_store) {
  tg_t t;
  tg_init(&t);
  /* f16 0.1, 0.2, 1000, 65504 plus 0.2, 0.7, 0.3, 65504 (bit patterns from NumPy). */
  uint16_t a[4] = {0x2e66, 0x3266, 0x63d0, 0x7bff}, b[4] = {0x3266, 0x399a, 0x34cd, 0x7bff};
  sinter_value_t *i1[2] = {tg_in(&t, SINTER_DTYPE_F16, "4", a, 8),
                           tg_in(&t, SINTER_DTYPE_F16, "4", b, 8)};
  tg_node(&t, SINTER_OP_ADD, i1, 2);
  /* bf16: 1.0 (0x3f80) * 1.0078125 (0x3f81) = 1.0078125; 3 (0x4040) * 1/3 (0x3eab). */
  uint16_t c[2] = {0x3f80, 0x4040}, d[2] = {0x3f81, 0x3eab};
  sinter_value_t *i2[2] = {tg_in(&t, SINTER_DTYPE_BF16, "2", c, 4),
                           tg_in(&t, SINTER_DTYPE_BF16, "2", d, 4)};
  tg_node(&t, SINTER_OP_MUL, i2, 2);
  tg_run_ok(&t);
  /* NumPy (f16(a) as f32 + f16(b) as f32).astype(f16); the last one overflows to inf. */
  expect_bytes(&t.outs[0], (uint16_t[]){0x34cc, 0x3b34, 0x63d1, 0x7c00}, 8);
  /* 3 * 0.333984375 = 1.001953125 in f32, which rounds to even bf16 1.0 (0x3f80). */
  expect_bytes(&t.outs[1], (uint16_t[]){0x3f81, 0x3f80}, 4);
  tg_free(&t);
}
END_TEST

START_TEST(f64_sub_and_div) {
  tg_t t;
  tg_init(&t);
  double a[2] = {1.0, 1.0}, b[2] = {1e-17, 3.0};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_F64, "2", a, 16),
                            tg_in(&t, SINTER_DTYPE_F64, "2", b, 16)};
  tg_node(&t, SINTER_OP_DIV, ins, 2);
  tg_run_ok(&t);
  const double *o = t.outs[0].data;
  ck_assert_int_eq(t.outs[0].dtype, SINTER_DTYPE_F64);
  /* Computed in double: 1 / 1e-17 and 1 / 3 exactly as C computes them. */
  ck_assert(o[0] == 1.0 / 1e-17);
  ck_assert(o[1] == 1.0 / 3.0);
  tg_free(&t);
}
END_TEST

START_TEST(comparisons) {
  tg_t t;
  tg_init(&t);
  float a[6] = {1, 2, 3, 4, 5, NAN}, b[3] = {2, 2, 2};
  sinter_value_t *x = tg_in(&t, SINTER_DTYPE_F32, "2,3", a, sizeof(a));
  sinter_value_t *y = tg_in(&t, SINTER_DTYPE_F32, "3", b, sizeof(b));
  sinter_value_t *ins[2] = {x, y};
  sinter_op_t ops[5] = {SINTER_OP_LESS, SINTER_OP_GREATER, SINTER_OP_EQUAL, SINTER_OP_LESS_OR_EQUAL,
                        SINTER_OP_GREATER_OR_EQUAL};
  for (int i = 0; i < 5; i++) tg_node(&t, ops[i], ins, 2);
  tg_run_ok(&t);
  /* Comparisons with NaN are false. */
  expect_shape(&t.outs[0], SINTER_DTYPE_BOOL, 2, (int64_t[]){2, 3});
  expect_bytes(&t.outs[0], (uint8_t[]){1, 0, 0, 0, 0, 0}, 6);
  expect_bytes(&t.outs[1], (uint8_t[]){0, 0, 1, 1, 1, 0}, 6);
  expect_bytes(&t.outs[2], (uint8_t[]){0, 1, 0, 0, 0, 0}, 6);
  expect_bytes(&t.outs[3], (uint8_t[]){1, 1, 0, 0, 0, 0}, 6);
  expect_bytes(&t.outs[4], (uint8_t[]){0, 1, 1, 1, 1, 0}, 6);
  tg_free(&t);
}
END_TEST

START_TEST(logic_ops) {
  tg_t t;
  tg_init(&t);
  uint8_t p[4] = {0, 0, 1, 1}, q[2] = {0, 1};
  sinter_value_t *l[2] = {tg_in(&t, SINTER_DTYPE_BOOL, "2,2", p, 4),
                          tg_in(&t, SINTER_DTYPE_BOOL, "2", q, 2)};
  tg_node(&t, SINTER_OP_AND, l, 2);
  tg_node(&t, SINTER_OP_OR, l, 2);
  tg_node(&t, SINTER_OP_XOR, l, 2);
  tg_node(&t, SINTER_OP_NOT, l, 1);
  tg_run_ok(&t);
  expect_bytes(&t.outs[0], (uint8_t[]){0, 0, 0, 1}, 4);
  expect_bytes(&t.outs[1], (uint8_t[]){0, 1, 1, 1}, 4);
  expect_bytes(&t.outs[2], (uint8_t[]){0, 1, 1, 0}, 4);
  expect_bytes(&t.outs[3], (uint8_t[]){1, 1, 0, 0}, 4);
  tg_free(&t);
}
END_TEST

START_TEST(bit_ops) {
  tg_t t;
  tg_init(&t);
  uint8_t a[3] = {1, 2, 255}, b[3] = {1, 2, 1};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_U8, "3", a, 3),
                            tg_in(&t, SINTER_DTYPE_U8, "3", b, 3)};
  sinter_node_t *l = tg_node(&t, SINTER_OP_BIT_SHIFT, ins, 2);
  ck_assert_ptr_null(sinter_node_set_attr_string(l, "direction", "LEFT", 4));
  sinter_node_t *r = tg_node(&t, SINTER_OP_BIT_SHIFT, ins, 2);
  ck_assert_ptr_null(sinter_node_set_attr_string(r, "direction", "RIGHT", 5));
  uint64_t c[2] = {0x8000000000000000ull, 7}, d[2] = {63, 70};
  sinter_value_t *i2[2] = {tg_in(&t, SINTER_DTYPE_U64, "2", c, 16),
                           tg_in(&t, SINTER_DTYPE_U64, "2", d, 16)};
  sinter_node_t *r64 = tg_node(&t, SINTER_OP_BIT_SHIFT, i2, 2);
  ck_assert_ptr_null(sinter_node_set_attr_string(r64, "direction", "RIGHT", 5));
  tg_node(&t, SINTER_OP_BITWISE_AND, ins, 2);
  tg_node(&t, SINTER_OP_BITWISE_XOR, ins, 2);
  tg_node(&t, SINTER_OP_BITWISE_NOT, ins, 1);
  tg_run_ok(&t);
  /* u8 wraps: 255 << 1 = 254. Shifting by 64 or more gives 0. */
  expect_bytes(&t.outs[0], (uint8_t[]){2, 8, 254}, 3);
  expect_bytes(&t.outs[1], (uint8_t[]){0, 0, 127}, 3);
  expect_bytes(&t.outs[2], (uint64_t[]){1, 0}, 16);
  expect_bytes(&t.outs[3], (uint8_t[]){1, 2, 1}, 3);
  expect_bytes(&t.outs[4], (uint8_t[]){0, 0, 254}, 3);
  expect_bytes(&t.outs[5], (uint8_t[]){254, 253, 0}, 3);
  tg_free(&t);
}
END_TEST

START_TEST(bit_shift_needs_direction) {
  tg_t t;
  tg_init(&t);
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_U8, "1", (uint8_t[]){1}, 1),
                            tg_in(&t, SINTER_DTYPE_U8, "1", (uint8_t[]){1}, 1)};
  tg_node(&t, SINTER_OP_BIT_SHIFT, ins, 2);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_INVALID_MODEL, "direction");
  tg_free(&t);
}
END_TEST

START_TEST(where_three_way_broadcast) {
  tg_t t;
  tg_init(&t);
  uint8_t c[3] = {1, 0, 1};
  int64_t x[2] = {10, 20}, y = -1;
  sinter_value_t *ins[3] = {tg_in(&t, SINTER_DTYPE_BOOL, "3", c, 3),
                            tg_in(&t, SINTER_DTYPE_I64, "2,1", x, 16),
                            tg_in(&t, SINTER_DTYPE_I64, "", &y, 8)};
  tg_node(&t, SINTER_OP_WHERE, ins, 3);
  uint16_t hx[2] = {0x3c00, 0x4000}, hy[2] = {0xbc00, 0xc000};
  sinter_value_t *i2[3] = {ins[0], tg_in(&t, SINTER_DTYPE_F16, "2,1", hx, 4),
                           tg_in(&t, SINTER_DTYPE_F16, "1,2,1", hy, 4)};
  tg_node(&t, SINTER_OP_WHERE, i2, 3);
  tg_run_ok(&t);
  expect_shape(&t.outs[0], SINTER_DTYPE_I64, 2, (int64_t[]){2, 3});
  expect_bytes(&t.outs[0], (int64_t[]){10, -1, 10, 20, -1, 20}, 48);
  expect_shape(&t.outs[1], SINTER_DTYPE_F16, 3, (int64_t[]){1, 2, 3});
  expect_bytes(&t.outs[1], (uint16_t[]){0x3c00, 0xbc00, 0x3c00, 0x4000, 0xc000, 0x4000}, 12);
  tg_free(&t);
}
END_TEST

START_TEST(variadic_max_min_sum_mean) {
  tg_t t;
  tg_init(&t);
  float a[3] = {1, 5, NAN}, b[2] = {3, -1}, c = 2;
  sinter_value_t *ins[3] = {tg_in(&t, SINTER_DTYPE_F32, "3", a, 12),
                            tg_in(&t, SINTER_DTYPE_F32, "2,1", b, 8),
                            tg_in(&t, SINTER_DTYPE_F32, "", &c, 4)};
  tg_node(&t, SINTER_OP_MAX, ins, 3);
  tg_node(&t, SINTER_OP_MIN, ins, 3);
  tg_node(&t, SINTER_OP_SUM, ins, 3);
  tg_node(&t, SINTER_OP_MEAN, ins, 3);
  tg_node(&t, SINTER_OP_SUM, ins + 1, 1);
  tg_run_ok(&t);
  /* NumPy maximum/minimum propagate NaN. Output [2,3]. */
  expect_shape(&t.outs[0], SINTER_DTYPE_F32, 2, (int64_t[]){2, 3});
  expect_f32(&t.outs[0], (float[]){3, 5, NAN, 2, 5, NAN}, 6, 0, 0);
  expect_f32(&t.outs[1], (float[]){1, 2, NAN, -1, -1, NAN}, 6, 0, 0);
  expect_f32(&t.outs[2], (float[]){6, 10, NAN, 2, 6, NAN}, 6, 0, 0);
  expect_f32(&t.outs[3], (float[]){2, 10.0f / 3, NAN, 2.0f / 3, 2, NAN}, 6, 0, 0);
  expect_f32(&t.outs[4], b, 2, 0, 0);
  tg_free(&t);
}
END_TEST

START_TEST(variadic_int_and_f16) {
  tg_t t;
  tg_init(&t);
  uint32_t a[2] = {4000000000u, 1}, b[2] = {3, 4000000000u};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_U32, "2", a, 8),
                            tg_in(&t, SINTER_DTYPE_U32, "2", b, 8)};
  tg_node(&t, SINTER_OP_MAX, ins, 2);
  tg_node(&t, SINTER_OP_MIN, ins, 2);
  /* f16 2049 is not representable: 2048 + 1 rounds to even 2048 only if rounded early. */
  uint16_t h[3] = {0x6800 /* 2048 */, 0x3c00 /* 1 */, 0x3c00};
  sinter_value_t *hi[3] = {tg_in(&t, SINTER_DTYPE_F16, "1", &h[0], 2),
                           tg_in(&t, SINTER_DTYPE_F16, "1", &h[1], 2),
                           tg_in(&t, SINTER_DTYPE_F16, "1", &h[2], 2)};
  tg_node(&t, SINTER_OP_SUM, hi, 3);
  tg_run_ok(&t);
  expect_bytes(&t.outs[0], (uint32_t[]){4000000000u, 4000000000u}, 8);
  expect_bytes(&t.outs[1], (uint32_t[]){3, 1}, 8);
  /* Accumulated in f32 (2050) and rounded once: 2050 is exact in f16 (0x6801). */
  expect_bytes(&t.outs[2], (uint16_t[]){0x6801}, 2);
  tg_free(&t);
}
END_TEST

START_TEST(prelu_unidirectional) {
  tg_t t;
  tg_init(&t);
  float x[6] = {-1, 2, -3, 4, -5, 0}, s[3] = {0.5f, 2, 0.25f};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_F32, "2,3", x, 24),
                            tg_const(&t, SINTER_DTYPE_F32, "3", s, 12)};
  tg_node(&t, SINTER_OP_PRELU, ins, 2);
  tg_run_ok(&t);
  expect_f32(&t.outs[0], (float[]){-0.5f, 2, -0.75f, 4, -10, 0}, 6, 0, 0);
  tg_free(&t);
  /* The slope may not be larger than X. */
  tg_init(&t);
  sinter_type_t a = mk(t.g, SINTER_DTYPE_F32, "3"), b = mk(t.g, SINTER_DTYPE_F32, "2,3");
  sinter_value_t *i2[2];
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "a", &a, &i2[0]));
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "b", &b, &i2[1]));
  tg_node(&t, SINTER_OP_PRELU, i2, 2);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_INVALID_MODEL, "slope");
  tg_free(&t);
}
END_TEST

START_TEST(large_same_shape_and_bias_rows) {
  /* A million-element add and a bias add exercise the unchunked row paths. */
  enum { R = 1000, C = 1000 };
  float *a = malloc(sizeof(float) * R * C), *b = malloc(sizeof(float) * R * C);
  float bias[C];
  for (int i = 0; i < R * C; i++) {
    a[i] = (float)(i % 977);
    b[i] = (float)(i % 13) * 0.5f;
  }
  for (int j = 0; j < C; j++) bias[j] = (float)j;
  tg_t t;
  tg_init(&t);
  sinter_value_t *x = tg_in(&t, SINTER_DTYPE_F32, "1000,1000", a, sizeof(float) * R * C);
  sinter_value_t *y = tg_in(&t, SINTER_DTYPE_F32, "1000,1000", b, sizeof(float) * R * C);
  sinter_value_t *bv = tg_const(&t, SINTER_DTYPE_F32, "1000", bias, sizeof(bias));
  sinter_value_t *i1[2] = {x, y}, *i2[2] = {x, bv};
  tg_node(&t, SINTER_OP_ADD, i1, 2);
  tg_node(&t, SINTER_OP_MUL, i2, 2);
  tg_run_ok(&t);
  const float *o = t.outs[0].data, *m = t.outs[1].data;
  for (int i = 0; i < R * C; i += 7919) {
    ck_assert_float_eq(o[i], a[i] + b[i]);
    ck_assert_float_eq(m[i], a[i] * bias[i % C]);
  }
  ck_assert_float_eq(o[R * C - 1], a[R * C - 1] + b[R * C - 1]);
  tg_free(&t);
  free(a);
  free(b);
}
END_TEST

/* ---- unary ---------------------------------------------------------------- */

START_TEST(unary_activations) {
  static const float x[7] = {-3, -1, -0.5f, 0, 0.5f, 1, 3};
  struct {
    sinter_op_t op;
    const char *approx;
    float want[7];
  } cases[] = {
      /* NumPy float64 references, rounded to f32 by the literal. */
      {SINTER_OP_GELU,
       "none",
       {-0.00404969f, -0.15865525f, -0.15426877f, 0, 0.34573123f, 0.84134475f, 2.99595031f}},
      {SINTER_OP_GELU,
       "tanh",
       {-0.00363739f, -0.15880801f, -0.15428599f, 0, 0.34571401f, 0.84119199f, 2.99636261f}},
      {SINTER_OP_MISH,
       NULL,
       {-0.14564746f, -0.30340146f, -0.22074377f, 0, 0.37524521f, 0.86509839f, 2.986535f}},
      {SINTER_OP_SOFTPLUS,
       NULL,
       {0.04858735f, 0.31326169f, 0.47407698f, 0.69314718f, 0.97407698f, 1.31326169f, 3.04858735f}},
      {SINTER_OP_SELU,
       NULL,
       {-1.67056873f, -1.11133074f, -0.69175819f, 0, 0.52535049f, 1.05070099f, 3.15210296f}},
      /* Hand computed. */
      {SINTER_OP_RELU, NULL, {0, 0, 0, 0, 0.5f, 1, 3}},
      {SINTER_OP_LEAKY_RELU, NULL, {-0.03f, -0.01f, -0.005f, 0, 0.5f, 1, 3}},
      {SINTER_OP_HARD_SIGMOID, NULL, {0, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 1}},
      {SINTER_OP_HARD_SWISH, NULL, {0, -1.0f / 3, -0.5f * 5 / 12, 0, 0.5f * 7 / 12, 2.0f / 3, 3}},
      {SINTER_OP_SOFTSIGN, NULL, {-0.75f, -0.5f, -1.0f / 3, 0, 1.0f / 3, 0.5f, 0.75f}},
      {SINTER_OP_THRESHOLDED_RELU, NULL, {0, 0, 0, 0, 0, 0, 3}},
      {SINTER_OP_SHRINK, NULL, {-3, -1, 0, 0, 0, 1, 3}},
      {SINTER_OP_SIGN, NULL, {-1, -1, -1, 0, 1, 1, 1}},
      {SINTER_OP_NEG, NULL, {3, 1, 0.5f, 0, -0.5f, -1, -3}},
      {SINTER_OP_ABS, NULL, {3, 1, 0.5f, 0, 0.5f, 1, 3}},
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    tg_t t;
    sinter_node_t *n;
    run_unary_f32(&t, cases[c].op, x, 7, &n);
    if (cases[c].approx)
      ck_assert_ptr_null(
          sinter_node_set_attr_string(n, "approximate", cases[c].approx, strlen(cases[c].approx)));
    tg_run_ok(&t);
    /* f32 libm is within a few ulp; the references carry 8 significant digits: 2e-6 relative
     * plus 1e-7 absolute covers both. */
    expect_f32(&t.outs[0], cases[c].want, 7, 2e-6, 1e-7);
    tg_free(&t);
  }
}
END_TEST

START_TEST(unary_nan_and_rounding) {
  float x[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, NAN, -INFINITY};
  tg_t t;
  sinter_node_t *n;
  run_unary_f32(&t, SINTER_OP_ROUND, x, 8, &n);
  sinter_value_t *in = sinter_graph_input(t.g, 0);
  tg_node(&t, SINTER_OP_RELU, &in, 1);
  tg_node(&t, SINTER_OP_IS_NAN, &in, 1);
  sinter_node_t *inf = tg_node(&t, SINTER_OP_IS_INF, &in, 1);
  ck_assert_ptr_null(sinter_node_set_attr_int(inf, "detect_positive", 0));
  tg_node(&t, SINTER_OP_FLOOR, &in, 1);
  tg_run_ok(&t);
  /* Round half to even (NumPy np.round). */
  expect_f32(&t.outs[0], (float[]){0, 2, 2, -0.0f, -2, 2, NAN, -INFINITY}, 8, 0, 0);
  ck_assert(signbit(((float *)t.outs[0].data)[3]));
  /* Relu keeps NaN (np.maximum(x, 0)). */
  expect_f32(&t.outs[1], (float[]){0.5f, 1.5f, 2.5f, 0, 0, 2.4f, NAN, 0}, 8, 0, 0);
  expect_bytes(&t.outs[2], (uint8_t[]){0, 0, 0, 0, 0, 0, 1, 0}, 8);
  expect_bytes(&t.outs[3], (uint8_t[]){0, 0, 0, 0, 0, 0, 0, 1}, 8);
  expect_f32(&t.outs[4], (float[]){0, 1, 2, -1, -2, 2, NAN, -INFINITY}, 8, 0, 0);
  tg_free(&t);
}
END_TEST

START_TEST(unary_math_f64_and_f16) {
  tg_t t;
  tg_init(&t);
  double xd[3] = {0.25, 1.0, 2.0};
  uint16_t xh[2] = {0x3c00 /* 1 */, 0x4000 /* 2 */};
  sinter_value_t *a = tg_in(&t, SINTER_DTYPE_F64, "3", xd, 24);
  sinter_value_t *b = tg_in(&t, SINTER_DTYPE_F16, "2", xh, 4);
  tg_node(&t, SINTER_OP_EXP, &a, 1);
  tg_node(&t, SINTER_OP_SQRT, &b, 1);
  tg_node(&t, SINTER_OP_RECIPROCAL, &b, 1);
  tg_run_ok(&t);
  const double *e = t.outs[0].data;
  for (int i = 0; i < 3; i++) ck_assert(e[i] == exp(xd[i])); /* computed in double */
  /* sqrt(2) = 1.41421356 rounds to f16 0x3da8 (1.4140625, NumPy); 1/2 = 0x3800. */
  expect_bytes(&t.outs[1], (uint16_t[]){0x3c00, 0x3da8}, 4);
  expect_bytes(&t.outs[2], (uint16_t[]){0x3c00, 0x3800}, 4);
  tg_free(&t);
}
END_TEST

START_TEST(clip_bounds) {
  tg_t t;
  tg_init(&t);
  float x[5] = {-5, -1, 0.5f, 3, NAN}, lo = -1, hi = 2;
  sinter_value_t *in = tg_in(&t, SINTER_DTYPE_F32, "5", x, 20);
  sinter_value_t *l = tg_const(&t, SINTER_DTYPE_F32, "", &lo, 4);
  sinter_value_t *h = tg_const(&t, SINTER_DTYPE_F32, "", &hi, 4);
  sinter_value_t *both[3] = {in, l, h}, *only_max[3] = {in, NULL, h}, *swapped[3] = {in, h, l};
  tg_node(&t, SINTER_OP_CLIP, both, 3);
  tg_node(&t, SINTER_OP_CLIP, only_max, 3);
  tg_node(&t, SINTER_OP_CLIP, swapped, 3);
  int8_t xi[4] = {-128, -3, 5, 127}, li = -2, hiv = 4;
  sinter_value_t *ii[3] = {tg_in(&t, SINTER_DTYPE_I8, "4", xi, 4),
                           tg_const(&t, SINTER_DTYPE_I8, "", &li, 1),
                           tg_const(&t, SINTER_DTYPE_I8, "", &hiv, 1)};
  tg_node(&t, SINTER_OP_CLIP, ii, 3);
  tg_node(&t, SINTER_OP_CLIP, ii, 1);
  tg_run_ok(&t);
  expect_f32(&t.outs[0], (float[]){-1, -1, 0.5f, 2, NAN}, 5, 0, 0);
  expect_f32(&t.outs[1], (float[]){-5, -1, 0.5f, 2, NAN}, 5, 0, 0);
  /* min > max: every value becomes max (ONNX Clip-13). */
  expect_f32(&t.outs[2], (float[]){-1, -1, -1, -1, NAN}, 5, 0, 0);
  expect_bytes(&t.outs[3], (int8_t[]){-2, -2, 4, 4}, 4);
  expect_bytes(&t.outs[4], xi, 4);
  tg_free(&t);
}
END_TEST

START_TEST(clip_bound_must_be_scalar) {
  tg_t t;
  tg_init(&t);
  float x[2] = {0, 1}, lo[2] = {0, 0};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_F32, "2", x, 8),
                            tg_const(&t, SINTER_DTYPE_F32, "2", lo, 8)};
  tg_node(&t, SINTER_OP_CLIP, ins, 2);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_INVALID_MODEL, "scalar");
  tg_free(&t);
}
END_TEST

START_TEST(unary_int) {
  tg_t t;
  tg_init(&t);
  int32_t x[4] = {-7, 0, 5, INT32_MIN};
  sinter_value_t *in = tg_in(&t, SINTER_DTYPE_I32, "4", x, 16);
  tg_node(&t, SINTER_OP_ABS, &in, 1);
  tg_node(&t, SINTER_OP_NEG, &in, 1);
  tg_node(&t, SINTER_OP_SIGN, &in, 1);
  tg_node(&t, SINTER_OP_RELU, &in, 1);
  tg_run_ok(&t);
  /* int32 wraps like NumPy: abs and neg of INT32_MIN stay INT32_MIN. */
  expect_bytes(&t.outs[0], (int32_t[]){7, 0, 5, INT32_MIN}, 16);
  expect_bytes(&t.outs[1], (int32_t[]){7, 0, -5, INT32_MIN}, 16);
  expect_bytes(&t.outs[2], (int32_t[]){-1, 0, 1, -1}, 16);
  expect_bytes(&t.outs[3], (int32_t[]){0, 0, 5, 0}, 16);
  tg_free(&t);
}
END_TEST

/* ---- cast ----------------------------------------------------------------- */

static sinter_node_t *cast_node(tg_t *t, sinter_value_t *in, int64_t to) {
  sinter_node_t *n = tg_node(t, SINTER_OP_CAST, &in, 1);
  ck_assert_ptr_null(sinter_node_set_attr_int(n, "to", to));
  return n;
}

START_TEST(cast_conversions) {
  tg_t t;
  tg_init(&t);
  float x[6] = {1.7f, -1.7f, 0.0f, NAN, 300.0f, 1.00048828125f /* 1 + 2^-11: an f16 tie */};
  sinter_value_t *in = tg_in(&t, SINTER_DTYPE_F32, "6", x, 24);
  cast_node(&t, in, 6);  /* INT32 */
  cast_node(&t, in, 9);  /* BOOL */
  cast_node(&t, in, 10); /* FLOAT16 */
  cast_node(&t, in, 11); /* DOUBLE */
  int64_t big[2] = {16777217, -3};
  sinter_value_t *bi = tg_in(&t, SINTER_DTYPE_I64, "2", big, 16);
  cast_node(&t, bi, 1); /* FLOAT */
  cast_node(&t, bi, 2); /* UINT8 */
  tg_run_ok(&t);
  /* Float to int truncates toward zero; NaN is unspecified, so only the others are checked. */
  const int32_t *i = t.outs[0].data;
  ck_assert_int_eq(i[0], 1);
  ck_assert_int_eq(i[1], -1);
  ck_assert_int_eq(i[2], 0);
  ck_assert_int_eq(i[4], 300);
  /* NumPy: bool(NaN) is True. */
  expect_bytes(&t.outs[1], (uint8_t[]){1, 1, 0, 1, 1, 1}, 6);
  /* f16: 1.7 -> 0x3ecd, -1.7 -> 0xbecd, 300 -> 0x5cb0, the tie 1+2^-11 -> even 0x3c00. */
  const uint16_t *h = t.outs[2].data;
  ck_assert_uint_eq(h[0], 0x3ecd);
  ck_assert_uint_eq(h[1], 0xbecd);
  ck_assert_uint_eq(h[2], 0);
  ck_assert_uint_eq(h[3] & 0x7c00, 0x7c00); /* NaN stays NaN */
  ck_assert_uint_ne(h[3] & 0x3ff, 0);
  ck_assert_uint_eq(h[4], 0x5cb0);
  ck_assert_uint_eq(h[5], 0x3c00);
  const double *d = t.outs[3].data;
  ck_assert(d[0] == (double)1.7f);
  /* 2^24 + 1 rounds to 2^24 in f32 (ties to even); -3 wraps to 253 in u8. */
  expect_f32(&t.outs[4], (float[]){16777216.0f, -3}, 2, 0, 0);
  expect_bytes(&t.outs[5], (uint8_t[]){1, 253}, 2);
  tg_free(&t);
}
END_TEST

START_TEST(cast_float8_and_int4) {
  tg_t t;
  tg_init(&t);
  float x[5] = {500.0f, -INFINITY, 1.0f, 0.1f, 460.0f};
  sinter_value_t *in = tg_in(&t, SINTER_DTYPE_F32, "5", x, 20);
  cast_node(&t, in, 17);
  sinter_node_t *ns = cast_node(&t, in, 17);
  ck_assert_ptr_null(sinter_node_set_attr_int(ns, "saturate", 0));
  float y[4] = {-9.0f, 20.0f, 2.5f, 3.5f};
  sinter_value_t *in4 = tg_in(&t, SINTER_DTYPE_F32, "4", y, 16);
  cast_node(&t, in4, 22); /* INT4 */
  cast_node(&t, in4, 21); /* UINT4 */
  tg_run_ok(&t);
  /* e4m3fn: 448 = 0x7e, NaN = 0x7f; 1.0 = 0x38; 0.1 -> 0x1d (0.1015625, nearest);
   * 460 rounds to 448 even without saturation. */
  expect_bytes(&t.outs[0], (uint8_t[]){0x7e, 0xfe, 0x38, 0x1d, 0x7e}, 5);
  expect_bytes(&t.outs[1], (uint8_t[]){0x7f, 0xff, 0x38, 0x1d, 0x7e}, 5);
  /* int4 saturates to [-8, 7] and rounds half to even: -8, 7, 2, 4, packed low nibble first. */
  expect_bytes(&t.outs[2], (uint8_t[]){0x78, 0x42}, 2);
  /* uint4: 0, 15, 2, 4. */
  expect_bytes(&t.outs[3], (uint8_t[]){0xf0, 0x42}, 2);
  tg_free(&t);
}
END_TEST

START_TEST(cast_like_and_string_unsupported) {
  tg_t t;
  tg_init(&t);
  float x[2] = {2.5f, -0.5f};
  uint16_t like = 0;
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_F32, "2", x, 8),
                            tg_const(&t, SINTER_DTYPE_BF16, "1", &like, 2)};
  tg_node(&t, SINTER_OP_CAST_LIKE, ins, 2);
  tg_run_ok(&t);
  /* bf16 2.5 = 0x4020, -0.5 = 0xbf00. */
  expect_shape(&t.outs[0], SINTER_DTYPE_BF16, 1, (int64_t[]){2});
  expect_bytes(&t.outs[0], (uint16_t[]){0x4020, 0xbf00}, 4);
  tg_free(&t);

  tg_init(&t);
  sinter_value_t *in = tg_in(&t, SINTER_DTYPE_F32, "2", x, 8);
  cast_node(&t, in, 8);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_UNSUPPORTED, "STRING");
  tg_free(&t);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("elementwise");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, add_same_shape_f32);
  tcase_add_test(tc, broadcast_bias_and_outer);
  tcase_add_test(tc, broadcast_symbolic_dims);
  tcase_add_test(tc, broadcast_incompatible_is_infer_error);
  tcase_add_test(tc, mixed_dtypes_is_infer_error);
  tcase_add_test(tc, float_only_op_rejects_int);
  tcase_add_test(tc, int_div_truncates_and_div_by_zero_is_zero);
  tcase_add_test(tc, mod_integer_and_float);
  tcase_add_test(tc, pow_mixed_dtypes);
  tcase_add_test(tc, int8_add_wraps_and_uint8_sub);
  tcase_add_test(tc, f16_and_bf16_round_on_store);
  tcase_add_test(tc, f64_sub_and_div);
  tcase_add_test(tc, comparisons);
  tcase_add_test(tc, logic_ops);
  tcase_add_test(tc, bit_ops);
  tcase_add_test(tc, bit_shift_needs_direction);
  tcase_add_test(tc, where_three_way_broadcast);
  tcase_add_test(tc, variadic_max_min_sum_mean);
  tcase_add_test(tc, variadic_int_and_f16);
  tcase_add_test(tc, prelu_unidirectional);
  tcase_add_test(tc, large_same_shape_and_bias_rows);
  tcase_add_test(tc, unary_activations);
  tcase_add_test(tc, unary_nan_and_rounding);
  tcase_add_test(tc, unary_math_f64_and_f16);
  tcase_add_test(tc, clip_bounds);
  tcase_add_test(tc, clip_bound_must_be_scalar);
  tcase_add_test(tc, unary_int);
  tcase_add_test(tc, cast_conversions);
  tcase_add_test(tc, cast_float8_and_int4);
  tcase_add_test(tc, cast_like_and_string_unsupported);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(suite());
}
