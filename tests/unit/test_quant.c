/* Quantized ops in the reference interpreter: QuantizeLinear and DequantizeLinear (per tensor,
 * per axis, blocked, int4 and float8), DynamicQuantizeLinear, MatMulInteger, QLinearMatMul,
 * ConvInteger and QLinearConv, checked bit-exactly against ONNX's own test data, NumPy
 * evaluations of the ONNX formulas (noted per test) and hand calculation. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/ir.h"
#include "tests/support/check_main.h"
#include "tests/support/interp_test.h"

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------ */

START_TEST(quantize_ties_and_saturation) {
  tg_t t;
  tg_init(&t);
  float x[7] = {0.5f, 1.5f, 2.5f, -0.5f, 300.0f, -10.0f, NAN}, one = 1.0f;
  sinter_value_t *xv = tg_in(&t, SINTER_DTYPE_F32, "7", x, sizeof(x));
  sinter_value_t *sv = tg_const(&t, SINTER_DTYPE_F32, "", &one, 4);
  sinter_value_t *i1[2] = {xv, sv};
  tg_node(&t, SINTER_OP_QUANTIZE_LINEAR, i1, 2); /* no zero point: u8 */
  float y[5] = {2.5f, -1.5f, 200.0f, -200.0f, 0.5f};
  int8_t zp = -1;
  sinter_value_t *i2[3] = {tg_in(&t, SINTER_DTYPE_F32, "5", y, sizeof(y)), sv,
                           tg_const(&t, SINTER_DTYPE_I8, "", &zp, 1)};
  tg_node(&t, SINTER_OP_QUANTIZE_LINEAR, i2, 3);
  tg_run_ok(&t);
  /* Round half to even, then saturate; NaN becomes the zero point. */
  expect_shape(&t.outs[0], SINTER_DTYPE_U8, 1, (int64_t[]){7});
  expect_bytes(&t.outs[0], (uint8_t[]){0, 2, 2, 0, 255, 0, 0}, 7);
  /* i8 with zp -1: rint(2.5) - 1 = 1, rint(-1.5) - 1 = -3, 127, -128, rint(0.5) - 1 = -1. */
  expect_shape(&t.outs[1], SINTER_DTYPE_I8, 1, (int64_t[]){5});
  expect_bytes(&t.outs[1], (int8_t[]){1, -3, 127, -128, -1}, 5);
  tg_free(&t);
}
END_TEST

START_TEST(quantize_divides_in_f32) {
  tg_t t;
  tg_init(&t);
  /* NumPy: f32(0.15)/f32(0.1) is exactly 1.5 in f32 (1.50000004 in double), and
   * 0.35/0.1 is 3.5 in f32 (3.4999999 in double): rint gives 2, 2, 4, 4. */
  float x[4] = {0.15f, 0.25f, 0.35f, 0.45f}, s = 0.1f;
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_F32, "4", x, sizeof(x)),
                            tg_const(&t, SINTER_DTYPE_F32, "1", &s, 4)};
  tg_node(&t, SINTER_OP_QUANTIZE_LINEAR, ins, 2);
  tg_run_ok(&t);
  expect_bytes(&t.outs[0], (uint8_t[]){2, 2, 4, 4}, 4);
  tg_free(&t);
}
END_TEST

/* ONNX's test_quantizelinear_axis / test_dequantizelinear_axis data. */
static const float axis_x[18] = {-162, 10, -100, 232, -20,  -50,  -76,  0,    0,
                                 252,  32, -44,  245, -485, -960, -270, -375, -470};
static const float axis_scale[3] = {2, 4, 5};
static const uint8_t axis_zp[3] = {84, 24, 196};
static const uint8_t axis_q[18] = {3,  89, 34, 200, 74, 59, 5,   24,  24,
                                   87, 32, 13, 245, 99, 4,  142, 121, 102};

START_TEST(quantize_dequantize_per_axis) {
  tg_t t;
  tg_init(&t);
  sinter_value_t *sv = tg_const(&t, SINTER_DTYPE_F32, "3", axis_scale, 12);
  sinter_value_t *zv = tg_const(&t, SINTER_DTYPE_U8, "3", axis_zp, 3);
  sinter_value_t *i1[3] = {tg_input(&t, SINTER_DTYPE_F32, "B,3,3,2", "1,3,3,2", axis_x, 72), sv,
                           zv};
  tg_node(&t, SINTER_OP_QUANTIZE_LINEAR, i1, 3);
  sinter_value_t *i2[3] = {tg_in(&t, SINTER_DTYPE_U8, "1,3,3,2", axis_q, 18), sv, zv};
  tg_node(&t, SINTER_OP_DEQUANTIZE_LINEAR, i2, 3);
  ck_assert_ptr_null(sinter_graph_infer_shapes(t.g));
  char buf[64];
  sinter_type_format(sinter_value_type(sinter_graph_output(t.g, 0)), buf, sizeof(buf));
  ck_assert_str_eq(buf, "u8[B,3,3,2]");
  tg_run_ok(&t);
  expect_bytes(&t.outs[0], axis_q, 18);
  /* Dequantized values are small integers times 2, 4 or 5: exact in f32. */
  expect_f32(&t.outs[1], axis_x, 18, 0, 0);
  tg_free(&t);
}
END_TEST

START_TEST(quantize_per_axis_bad_scale_size) {
  tg_t t;
  tg_init(&t);
  float s[4] = {1, 1, 1, 1};
  sinter_type_t xt = mk(t.g, SINTER_DTYPE_F32, "2,3");
  sinter_value_t *ins[2];
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "x", &xt, &ins[0]));
  ins[1] = tg_const(&t, SINTER_DTYPE_F32, "4", s, 16);
  tg_node(&t, SINTER_OP_QUANTIZE_LINEAR, ins, 2);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_INVALID_MODEL, "axis");
  tg_free(&t);
}
END_TEST

START_TEST(quantize_blocked) {
  tg_t t;
  tg_init(&t);
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, s[4] = {1, 2, 4, 8};
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_F32, "2,4", x, 32),
                            tg_const(&t, SINTER_DTYPE_F32, "2,2", s, 16)};
  sinter_node_t *n = tg_node(&t, SINTER_OP_QUANTIZE_LINEAR, ins, 2);
  ck_assert_ptr_null(sinter_node_set_attr_int(n, "block_size", 2));
  tg_run_ok(&t);
  /* Row 0 blocks use 1 and 2, row 1 blocks 4 and 8: 1 2 rint(1.5)=2 2 rint(1.25)=1 rint(1.5)=2
   * rint(0.875)=1 1. */
  expect_bytes(&t.outs[0], (uint8_t[]){1, 2, 2, 2, 1, 2, 1, 1}, 8);
  tg_free(&t);
}
END_TEST

START_TEST(quantize_int4_and_float8) {
  tg_t t;
  tg_init(&t);
  float x[4] = {-9.0f, 7.5f, 3.0f, -0.5f}, one = 1.0f;
  uint8_t z4 = 0, z8 = 0;
  sinter_value_t *sv = tg_const(&t, SINTER_DTYPE_F32, "", &one, 4);
  sinter_value_t *xv = tg_in(&t, SINTER_DTYPE_F32, "4", x, 16);
  sinter_value_t *i4[3] = {xv, sv, tg_const(&t, SINTER_DTYPE_I4, "", &z4, 1)};
  sinter_node_t *q = tg_node(&t, SINTER_OP_QUANTIZE_LINEAR, i4, 3);
  float two = 2.0f;
  sinter_value_t *dq[3] = {sinter_node_output(q, 0), tg_const(&t, SINTER_DTYPE_F32, "", &two, 4),
                           i4[2]};
  tg_node(&t, SINTER_OP_DEQUANTIZE_LINEAR, dq, 3);
  float y[3] = {1.0f, 1000.0f, 0.1f};
  sinter_value_t *i8[3] = {tg_in(&t, SINTER_DTYPE_F32, "3", y, 12), sv,
                           tg_const(&t, SINTER_DTYPE_F8E4M3, "", &z8, 1)};
  tg_node(&t, SINTER_OP_QUANTIZE_LINEAR, i8, 3);
  tg_run_ok(&t);
  /* i4: -8 (saturated), 7 (rint 7.5 = 8, saturated), 3, 0; packed low nibble first. */
  expect_shape(&t.outs[0], SINTER_DTYPE_I4, 1, (int64_t[]){4});
  expect_bytes(&t.outs[0], (uint8_t[]){0x78, 0x03}, 2);
  expect_f32(&t.outs[1], (float[]){-16, 14, 6, 0}, 4, 0, 0);
  /* e4m3fn: 1.0 = 0x38, 1000 saturates to 448 = 0x7e, 0.1 -> 0x1d (0.1015625). */
  expect_bytes(&t.outs[2], (uint8_t[]){0x38, 0x7e, 0x1d}, 3);
  tg_free(&t);
}
END_TEST

START_TEST(dequantize_int32_and_f16_scale) {
  tg_t t;
  tg_init(&t);
  int32_t x[3] = {-1000000, 7, 2147483647};
  float s = 0.5f;
  sinter_value_t *ins[2] = {tg_in(&t, SINTER_DTYPE_I32, "3", x, 12),
                            tg_const(&t, SINTER_DTYPE_F32, "", &s, 4)};
  tg_node(&t, SINTER_OP_DEQUANTIZE_LINEAR, ins, 2);
  int8_t q[2] = {-128, 127}, zp = -1;
  uint16_t hs = 0x3400; /* f16 0.25 */
  sinter_value_t *i2[3] = {tg_in(&t, SINTER_DTYPE_I8, "2", q, 2),
                           tg_const(&t, SINTER_DTYPE_F16, "", &hs, 2),
                           tg_const(&t, SINTER_DTYPE_I8, "", &zp, 1)};
  tg_node(&t, SINTER_OP_DEQUANTIZE_LINEAR, i2, 3);
  tg_run_ok(&t);
  /* 2147483647 -> f32 2147483648, times 0.5. */
  expect_f32(&t.outs[0], (float[]){-500000.0f, 3.5f, 1073741824.0f}, 3, 0, 0);
  /* (-128 + 1) * 0.25 = -31.75 (0xcff0), (127 + 1) * 0.25 = 32 (0x5000), in the scale's f16. */
  expect_shape(&t.outs[1], SINTER_DTYPE_F16, 1, (int64_t[]){2});
  expect_bytes(&t.outs[1], (uint16_t[]){0xcff0, 0x5000}, 4);
  tg_free(&t);
}
END_TEST

/* ---- DynamicQuantizeLinear ------------------------------------------------- */

START_TEST(dynamic_quantize) {
  static const struct {
    float x[6];
    uint32_t scale_bits;
    uint8_t zp, y[6];
  } cases[] = {
      /* The ONNX formula evaluated with NumPy (test_dynamicquantizelinear*). */
      {{0, 2, -3, -2.5f, 1.34f, 0.5f}, 1017159841u, 153, {153, 255, 0, 26, 221, 179}},
      {{-1.0f, -2.1f, -1.3f, -2.5f, -3.34f, -4.0f}, 1015054465u, 255, {191, 121, 172, 96, 42, 0}},
  };
  for (int c = 0; c < 2; c++) {
    tg_t t;
    tg_init(&t);
    sinter_value_t *in = tg_in(&t, SINTER_DTYPE_F32, "2,3", cases[c].x, 24);
    tg_node_n(&t, SINTER_OP_DYNAMIC_QUANTIZE_LINEAR, &in, 1, 3);
    tg_run_ok(&t);
    expect_shape(&t.outs[0], SINTER_DTYPE_U8, 2, (int64_t[]){2, 3});
    expect_bytes(&t.outs[0], cases[c].y, 6);
    expect_shape(&t.outs[1], SINTER_DTYPE_F32, 0, NULL);
    uint32_t bits;
    memcpy(&bits, t.outs[1].data, 4);
    ck_assert_uint_eq(bits, cases[c].scale_bits);
    expect_bytes(&t.outs[2], &cases[c].zp, 1);
    tg_free(&t);
  }
  /* All zeros: an empty range gives scale 1/255 and zero point 0 (the ONNX reference). */
  tg_t t;
  tg_init(&t);
  float z[2] = {0, 0};
  sinter_value_t *in = tg_in(&t, SINTER_DTYPE_F32, "2", z, 8);
  tg_node_n(&t, SINTER_OP_DYNAMIC_QUANTIZE_LINEAR, &in, 1, 3);
  tg_run_ok(&t);
  expect_bytes(&t.outs[0], (uint8_t[]){0, 0}, 2);
  expect_f32(&t.outs[1], (float[]){1.0f / 255.0f}, 1, 0, 0);
  tg_free(&t);
}
END_TEST

/* ---- integer matmul --------------------------------------------------------- */

static const uint8_t mmi_a[12] = {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0};
static const uint8_t mmi_b[6] = {1, 4, 2, 5, 3, 6};

START_TEST(matmul_integer_zero_points) {
  tg_t t;
  tg_init(&t);
  uint8_t azp = 12, bzp = 0;
  sinter_value_t *a = tg_in(&t, SINTER_DTYPE_U8, "4,3", mmi_a, 12);
  sinter_value_t *b = tg_in(&t, SINTER_DTYPE_U8, "3,2", mmi_b, 6);
  sinter_value_t *i1[4] = {a, b, tg_const(&t, SINTER_DTYPE_U8, "", &azp, 1),
                           tg_const(&t, SINTER_DTYPE_U8, "1", &bzp, 1)};
  tg_node(&t, SINTER_OP_MATMUL_INTEGER, i1, 4);
  uint8_t rz[4] = {1, 2, 3, 4}, cz[2] = {1, 2};
  sinter_value_t *i2[4] = {a, b, tg_const(&t, SINTER_DTYPE_U8, "4", rz, 4),
                           tg_const(&t, SINTER_DTYPE_U8, "2", cz, 2)};
  tg_node(&t, SINTER_OP_MATMUL_INTEGER, i2, 4);
  tg_run_ok(&t);
  /* ONNX's test_matmulinteger output. */
  expect_shape(&t.outs[0], SINTER_DTYPE_I32, 2, (int64_t[]){4, 2});
  expect_bytes(&t.outs[0], (int32_t[]){-38, -83, -44, -98, -50, -113, -56, -128}, 32);
  /* Per-row A and per-column B zero points (NumPy). */
  expect_bytes(&t.outs[1], (int32_t[]){10, 46, 4, 28, -2, 10, -8, -8}, 32);
  tg_free(&t);
}
END_TEST

START_TEST(matmul_integer_batched) {
  tg_t t;
  tg_init(&t);
  int8_t a[8] = {1, -2, 3, 4, -5, 6, 7, -8}, b[6] = {2, -1, 0, 1, 3, -128};
  int8_t azp = 1, bzp = -2;
  sinter_value_t *ins[4] = {tg_input(&t, SINTER_DTYPE_I8, "N,2,2", "2,2,2", a, 8),
                            tg_in(&t, SINTER_DTYPE_I8, "2,3", b, 6),
                            tg_const(&t, SINTER_DTYPE_I8, "", &azp, 1),
                            tg_const(&t, SINTER_DTYPE_I8, "", &bzp, 1)};
  tg_node(&t, SINTER_OP_MATMUL_INTEGER, ins, 4);
  ck_assert_ptr_null(sinter_graph_infer_shapes(t.g));
  char buf[64];
  sinter_type_format(sinter_value_type(sinter_graph_output(t.g, 0)), buf, sizeof(buf));
  ck_assert_str_eq(buf, "i32[N,2,3]");
  tg_run_ok(&t);
  /* NumPy (A - 1) @ (B + 2). */
  expect_bytes(&t.outs[0], (int32_t[]){-9, -15, 378, 17, 17, -374, -9, 19, -642, -3, -39, 1146},
               48);
  tg_free(&t);
}
END_TEST

START_TEST(matmul_integer_k_mismatch) {
  tg_t t;
  tg_init(&t);
  sinter_type_t at = mk(t.g, SINTER_DTYPE_U8, "4,3"), bt = mk(t.g, SINTER_DTYPE_U8, "4,2");
  sinter_value_t *ins[2];
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "a", &at, &ins[0]));
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "b", &bt, &ins[1]));
  tg_node(&t, SINTER_OP_MATMUL_INTEGER, ins, 2);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_INVALID_MODEL, "inner");
  tg_free(&t);
}
END_TEST

START_TEST(qlinear_matmul_onnx_example) {
  tg_t t;
  tg_init(&t);
  /* ONNX's test_qlinearmatmul_2D. */
  uint8_t a[8] = {208, 236, 0, 238, 3, 214, 255, 29};
  uint8_t b[12] = {152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247};
  float as = 0.0066f, bs = 0.00705f, ys = 0.0107f;
  uint8_t az = 113, bz = 114, yz = 118;
  sinter_value_t *ins[8] = {
      tg_in(&t, SINTER_DTYPE_U8, "2,4", a, 8),     tg_const(&t, SINTER_DTYPE_F32, "1", &as, 4),
      tg_const(&t, SINTER_DTYPE_U8, "1", &az, 1),  tg_in(&t, SINTER_DTYPE_U8, "4,3", b, 12),
      tg_const(&t, SINTER_DTYPE_F32, "1", &bs, 4), tg_const(&t, SINTER_DTYPE_U8, "1", &bz, 1),
      tg_const(&t, SINTER_DTYPE_F32, "1", &ys, 4), tg_const(&t, SINTER_DTYPE_U8, "1", &yz, 1)};
  tg_node(&t, SINTER_OP_QLINEAR_MATMUL, ins, 8);
  tg_run_ok(&t);
  expect_shape(&t.outs[0], SINTER_DTYPE_U8, 2, (int64_t[]){2, 3});
  expect_bytes(&t.outs[0], (uint8_t[]){168, 115, 255, 1, 66, 151}, 6);
  tg_free(&t);
}
END_TEST

/* ---- integer convolution ---------------------------------------------------- */

START_TEST(conv_integer_padding) {
  tg_t t;
  tg_init(&t);
  /* ONNX's test_convinteger_with_padding. */
  uint8_t x[9] = {2, 3, 4, 5, 6, 7, 8, 9, 10}, w[4] = {1, 1, 1, 1}, xz = 1;
  sinter_value_t *ins[3] = {tg_in(&t, SINTER_DTYPE_U8, "1,1,3,3", x, 9),
                            tg_const(&t, SINTER_DTYPE_U8, "1,1,2,2", w, 4),
                            tg_const(&t, SINTER_DTYPE_U8, "", &xz, 1)};
  sinter_node_t *n = tg_node(&t, SINTER_OP_CONV_INTEGER, ins, 3);
  ck_assert_ptr_null(sinter_node_set_attr_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4));
  tg_run_ok(&t);
  expect_shape(&t.outs[0], SINTER_DTYPE_I32, 4, (int64_t[]){1, 1, 4, 4});
  expect_bytes(&t.outs[0], (int32_t[]){1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}, 64);
  tg_free(&t);
}
END_TEST

START_TEST(conv_integer_1d_and_3d) {
  tg_t t;
  tg_init(&t);
  uint8_t x1[12] = {1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1}, w1[8] = {1, 2, 3, 4, 0, 1, 1, 0};
  uint8_t xz = 2;
  sinter_value_t *i1[3] = {tg_in(&t, SINTER_DTYPE_U8, "1,2,6", x1, 12),
                           tg_const(&t, SINTER_DTYPE_U8, "2,2,2", w1, 8),
                           tg_const(&t, SINTER_DTYPE_U8, "", &xz, 1)};
  sinter_node_t *n1 = tg_node(&t, SINTER_OP_CONV_INTEGER, i1, 3);
  ck_assert_ptr_null(sinter_node_set_attr_ints(n1, "pads", (int64_t[]){1, 2}, 2));
  ck_assert_ptr_null(sinter_node_set_attr_ints(n1, "dilations", (int64_t[]){2}, 1));
  int8_t x3[27], w3[8] = {1, -1, 2, 0, 1, 1, -2, 3};
  for (int i = 0; i < 27; i++) x3[i] = (int8_t)(i - 10);
  sinter_value_t *i3[2] = {tg_in(&t, SINTER_DTYPE_I8, "1,1,3,3,3", x3, 27),
                           tg_const(&t, SINTER_DTYPE_I8, "1,1,2,2,2", w3, 8)};
  tg_node(&t, SINTER_OP_CONV_INTEGER, i3, 2);
  tg_run_ok(&t);
  /* NumPy direct convolution loops. */
  expect_shape(&t.outs[0], SINTER_DTYPE_I32, 3, (int64_t[]){1, 2, 7});
  expect_bytes(&t.outs[0], (int32_t[]){12, 21, 17, 13, 9, 3, 1, 0, 5, 5, 5, 5, 0, -1}, 56);
  expect_shape(&t.outs[1], SINTER_DTYPE_I32, 5, (int64_t[]){1, 1, 2, 2, 2});
  expect_bytes(&t.outs[1], (int32_t[]){-11, -6, 4, 9, 34, 39, 49, 54}, 32);
  tg_free(&t);
}
END_TEST

START_TEST(qlinear_conv_onnx_example) {
  tg_t t;
  tg_init(&t);
  /* ONNX's test_qlinearconv. */
  static const uint8_t x[49] = {255, 174, 162, 25,  203, 168, 58,  15,  59,  237, 95,  129, 0,
                                64,  56,  242, 153, 221, 168, 12,  166, 232, 178, 186, 195, 237,
                                162, 237, 188, 39,  124, 77,  80,  102, 43,  127, 230, 21,  83,
                                41,  40,  134, 255, 154, 92,  141, 42,  148, 247};
  static const uint8_t want[49] = {0,   81,  93,  230, 52,  87,  197, 240, 196, 18,  160, 126, 255,
                                   191, 199, 13,  102, 34,  87,  243, 89,  23,  77,  69,  60,  18,
                                   93,  18,  67,  216, 131, 178, 175, 153, 212, 128, 25,  234, 172,
                                   214, 215, 121, 0,   101, 163, 114, 213, 107, 8};
  float xs = 0.003692046971991658f, ws = 0.0017279457533732057f, ys = 0.001626812620088458f;
  uint8_t xz = 132, w = 0, wz = 255, yz = 123;
  sinter_value_t *ins[8] = {
      tg_in(&t, SINTER_DTYPE_U8, "1,1,7,7", x, 49), tg_const(&t, SINTER_DTYPE_F32, "", &xs, 4),
      tg_const(&t, SINTER_DTYPE_U8, "", &xz, 1),    tg_const(&t, SINTER_DTYPE_U8, "1,1,1,1", &w, 1),
      tg_const(&t, SINTER_DTYPE_F32, "1", &ws, 4),  tg_const(&t, SINTER_DTYPE_U8, "1", &wz, 1),
      tg_const(&t, SINTER_DTYPE_F32, "", &ys, 4),   tg_const(&t, SINTER_DTYPE_U8, "", &yz, 1)};
  tg_node(&t, SINTER_OP_QLINEAR_CONV, ins, 8);
  tg_run_ok(&t);
  expect_shape(&t.outs[0], SINTER_DTYPE_U8, 4, (int64_t[]){1, 1, 7, 7});
  expect_bytes(&t.outs[0], want, 49);
  tg_free(&t);
}
END_TEST

START_TEST(qlinear_conv_per_channel_groups_bias) {
  tg_t t;
  tg_init(&t);
  /* x [1,2,5,5] u8, w [4,1,3,3] i8, group 2, strides 2, SAME_UPPER, per-channel w scale and
   * zero point, int32 bias, i8 output with saturation. Expected from a NumPy direct
   * convolution, scale x_s * w_s / y_s in f32, then rint and clip. */
  static const uint8_t x[50] = {172, 47, 117, 192, 67,  251, 195, 103, 9,   211, 21,  242, 36,
                                87,  70, 216, 88,  140, 58,  193, 230, 39,  87,  174, 88,  81,
                                165, 25, 77,  72,  9,   148, 115, 208, 243, 197, 254, 79,  175,
                                192, 82, 99,  216, 177, 243, 29,  147, 147, 142, 167};
  static const int8_t w[36] = {-96, 65,   -119, 57,   -1,  -96, -97, 74,  116, 23,   35,  126,
                               75,  -14,  55,   -100, -94, 0,   0,   36,  -75, 5,    -90, 104,
                               116, -111, -49,  4,    -23, -86, 58,  -97, -8,  -127, -63, 103};
  static const int8_t want[36] = {127, -115, 92,   -26, -5,  96,  -9,  -91, 57,  -128, -128, -85,
                                  127, 42,   -116, 105, 127, 126, -5,  -7,  -26, -39,  -47,  -35,
                                  7,   -15,  -19,  127, 127, 53,  127, 127, -43, 127,  127,  127};
  float xs = 0.02f, ws[4] = {0.01f, 0.02f, 0.005f, 0.03f}, ys = 0.05f;
  uint8_t xz = 3;
  int8_t wz[4] = {0, 1, -1, 2}, yz = -10;
  int32_t bias[4] = {100, -2000, 0, 50000};
  sinter_value_t *ins[9] = {
      tg_in(&t, SINTER_DTYPE_U8, "1,2,5,5", x, 50), tg_const(&t, SINTER_DTYPE_F32, "", &xs, 4),
      tg_const(&t, SINTER_DTYPE_U8, "", &xz, 1),    tg_const(&t, SINTER_DTYPE_I8, "4,1,3,3", w, 36),
      tg_const(&t, SINTER_DTYPE_F32, "4", ws, 16),  tg_const(&t, SINTER_DTYPE_I8, "4", wz, 4),
      tg_const(&t, SINTER_DTYPE_F32, "", &ys, 4),   tg_const(&t, SINTER_DTYPE_I8, "", &yz, 1),
      tg_const(&t, SINTER_DTYPE_I32, "4", bias, 16)};
  sinter_node_t *n = tg_node(&t, SINTER_OP_QLINEAR_CONV, ins, 9);
  ck_assert_ptr_null(sinter_node_set_attr_int(n, "group", 2));
  ck_assert_ptr_null(sinter_node_set_attr_ints(n, "strides", (int64_t[]){2, 2}, 2));
  ck_assert_ptr_null(sinter_node_set_attr_string(n, "auto_pad", "SAME_UPPER", 10));
  tg_run_ok(&t);
  expect_shape(&t.outs[0], SINTER_DTYPE_I8, 4, (int64_t[]){1, 4, 3, 3});
  expect_bytes(&t.outs[0], want, 36);
  tg_free(&t);
}
END_TEST

START_TEST(qlinear_conv_channel_mismatch) {
  tg_t t;
  tg_init(&t);
  float one = 1;
  uint8_t z = 0, w[8] = {0};
  sinter_type_t xt = mk(t.g, SINTER_DTYPE_U8, "N,3,4,4");
  sinter_value_t *x;
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "x", &xt, &x));
  sinter_value_t *s = tg_const(&t, SINTER_DTYPE_F32, "", &one, 4);
  sinter_value_t *zv = tg_const(&t, SINTER_DTYPE_U8, "", &z, 1);
  sinter_value_t *ins[8] = {x, s, zv, tg_const(&t, SINTER_DTYPE_U8, "2,2,1,2", w, 8), s, zv, s, zv};
  tg_node(&t, SINTER_OP_QLINEAR_CONV, ins, 8);
  expect_error(sinter_graph_infer_shapes(t.g), SINTER_INVALID_MODEL, "channels");
  tg_free(&t);
}
END_TEST

START_TEST(conv_infer_symbolic_batch) {
  tg_t t;
  tg_init(&t);
  uint8_t w[3 * 3 * 3 * 8] = {0};
  sinter_type_t xt = mk(t.g, SINTER_DTYPE_U8, "N,3,224,224");
  sinter_value_t *ins[2];
  ck_assert_ptr_null(sinter_graph_add_input(t.g, "x", &xt, &ins[0]));
  ins[1] = tg_const(&t, SINTER_DTYPE_U8, "8,3,3,3", w, sizeof(w));
  sinter_node_t *n = tg_node(&t, SINTER_OP_CONV_INTEGER, ins, 2);
  ck_assert_ptr_null(sinter_node_set_attr_ints(n, "strides", (int64_t[]){2, 2}, 2));
  ck_assert_ptr_null(sinter_node_set_attr_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4));
  ck_assert_ptr_null(sinter_graph_infer_shapes(t.g));
  char buf[64];
  sinter_type_format(sinter_value_type(sinter_graph_output(t.g, 0)), buf, sizeof(buf));
  /* (224 + 2 - 3) / 2 + 1 = 112. */
  ck_assert_str_eq(buf, "i32[N,8,112,112]");
  tg_free(&t);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("quant");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, quantize_ties_and_saturation);
  tcase_add_test(tc, quantize_divides_in_f32);
  tcase_add_test(tc, quantize_dequantize_per_axis);
  tcase_add_test(tc, quantize_per_axis_bad_scale_size);
  tcase_add_test(tc, quantize_blocked);
  tcase_add_test(tc, quantize_int4_and_float8);
  tcase_add_test(tc, dequantize_int32_and_f16_scale);
  tcase_add_test(tc, dynamic_quantize);
  tcase_add_test(tc, matmul_integer_zero_points);
  tcase_add_test(tc, matmul_integer_batched);
  tcase_add_test(tc, matmul_integer_k_mismatch);
  tcase_add_test(tc, qlinear_matmul_onnx_example);
  tcase_add_test(tc, conv_integer_padding);
  tcase_add_test(tc, conv_integer_1d_and_3d);
  tcase_add_test(tc, qlinear_conv_onnx_example);
  tcase_add_test(tc, qlinear_conv_per_channel_groups_bias);
  tcase_add_test(tc, qlinear_conv_channel_mismatch);
  tcase_add_test(tc, conv_infer_symbolic_batch);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(suite());
}
