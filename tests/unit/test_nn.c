/* The nn family of reference kernels (conv, pooling, normalization): shape
 * inference with static and symbolic dims, attribute validation, and kernel
 * results against values worked out by hand or with a direct NumPy loop over
 * the ONNX formulas (inputs follow pattern() below, exact in f32). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sinter/ir.h"
#include "tests/support/check_main.h"
#include "tests/support/graph_test.h"

/* ---- expected values: direct NumPy loops (float64), printed to 9 digits ---- */

static const float k_conv_grp[64] = {
    1.375f, 3.0f,    -0.875f, 1.125f, 2.75f,  2.875f, -2.5f,   0.5f,   -2.125f, -0.625f, 3.625f,
    0.25f,  -0.125f, 2.75f,   2.875f, 0.0f,   1.0f,   -5.875f, 1.0f,   1.875f,  0.75f,   -3.0f,
    0.125f, 2.375f,  -0.125f, 3.0f,   -6.25f, -2.25f, -3.75f,  0.75f,  -3.0f,   -2.75f,  -0.625f,
    1.875f, -1.125f, 3.125f,  0.625f, 0.625f, 2.0f,   -2.75f,  0.625f, -3.5f,   2.0f,    -1.75f,
    2.0f,   0.625f,  0.625f,  0.625f, 2.375f, 0.625f, 1.625f,  2.625f, -3.0f,   6.25f,   3.125f,
    0.0f,   -0.75f,  4.375f,  2.625f, -1.0f,  2.875f, -3.0f,   6.25f,  4.875f};
static const float k_conv_dw[36] = {
    0.5f,    -2.125f, -1.5f,   -2.875f, -0.875f, 6.125f,  1.25f,   0.75f,  -2.25f,
    -1.125f, 0.625f,  -0.5f,   5.0f,    -2.375f, -1.625f, -1.375f, -1.25f, 1.5f,
    0.125f,  -2.875f, 0.5f,    -1.875f, 2.0f,    -1.125f, 1.0f,    1.0f,   -2.125f,
    -1.5f,   4.625f,  -0.875f, 6.125f,  -3.125f, -0.625f, -2.25f,  -1.75f, 2.75f};
static const float k_conv_pw[16] = {3.125f,  -0.5f,   2.75f,   -0.875f, -0.875f, -3.25f,
                                    -0.125f, -3.875f, -0.5f,   2.75f,   -0.875f, -0.375f,
                                    -3.25f,  -0.125f, -3.875f, -3.5f};
static const float k_conv_1d[12] = {1.5f,   0.75f,   -3.125f, 1.125f, 1.75f, 2.25f,
                                    0.875f, -1.375f, -1.5f,   1.125f, 2.25f, -1.25f};
static const float k_conv_3d[48] = {
    -6.0f,   -1.875f, 5.0f,   -4.375f, 1.625f,  7.625f, -1.875f, -6.0f,   7.75f,  3.625f,
    -6.875f, 8.75f,   7.75f,  -6.0f,   -1.875f, 7.5f,   -4.375f, 1.625f,  1.625f, -0.625f,
    -2.875f, 1.5f,    2.5f,   -4.75f,  -4.375f, 5.625f, 0.5f,    -5.375f, 11.5f,  -0.5f,
    -3.875f, -2.125f, 9.25f,  -2.125f, -3.125f, 5.5f,   2.125f,  -4.375f, 5.625f, 6.625f,
    -5.375f, 11.5f,   6.625f, -1.625f, -1.625f, 5.625f, 0.0f,    -4.25f};
static const float k_same_upper[4] = {45.0f, 39.0f, 66.0f, 50.0f};
static const float k_same_lower[4] = {10.0f, 24.0f, 51.0f, 90.0f};
static const float k_convt[196] = {
    1.75f,   -1.375f, -0.625f, 1.25f,   1.25f,   -0.25f,  0.25f,   -0.75f,  3.625f,  -1.375f,
    0.0f,    2.375f,  0.5f,    0.0f,    -0.75f,  2.375f,  0.875f,  0.875f,  1.375f,  -0.625f,
    0.125f,  -1.625f, -0.375f, 1.625f,  0.125f,  2.625f,  0.625f,  -0.25f,  -0.5f,   2.0f,
    1.0f,    0.5f,    1.5f,    -1.0f,   0.0f,    0.0f,    -1.0f,   1.5f,    0.5f,    1.0f,
    2.0f,    -0.5f,   0.5f,    0.5f,    0.5f,    0.5f,    0.5f,    0.5f,    0.5f,    -1.125f,
    0.125f,  1.625f,  -0.75f,  -1.5f,   -0.25f,  0.25f,   -1.75f,  -1.75f,  3.125f,  -0.75f,
    -1.125f, 0.25f,   -1.125f, 0.125f,  -1.125f, -2.25f,  -0.625f, -1.25f,  -0.125f, 0.625f,
    0.75f,   -1.5f,   0.0f,    -0.5f,   -1.5f,   0.5f,    -1.25f,  0.0f,    -1.0f,   -2.0f,
    -0.5f,   -1.0f,   0.0f,    1.0f,    0.5f,    -0.5f,   -1.5f,   -0.5f,   -1.5f,   -0.5f,
    0.5f,    -0.5f,   -0.5f,   -0.5f,   -0.5f,   -0.5f,   -0.5f,   -0.5f,   -0.125f, 1.75f,
    1.375f,  0.75f,   2.875f,  -0.25f,  1.0f,    1.0f,    2.375f,  0.625f,  0.375f,  4.25f,
    -0.25f,  -0.25f,  0.25f,   1.5f,    1.75f,   0.5f,    -0.875f, 2.25f,   1.0f,    0.875f,
    1.875f,  0.5f,    -0.125f, 1.375f,  3.375f,  1.125f,  0.625f,  1.25f,   2.125f,  0.25f,
    -0.5f,   2.0f,    1.0f,    0.75f,   1.375f,  1.875f,  -0.125f, -0.375f, 2.5f,    1.5f,
    1.0f,    1.0f,    1.0f,    1.0f,    1.0f,    1.0f,    1.0f,    0.0f,    -0.75f,  1.125f,
    0.25f,   -0.375f, 1.25f,   -1.875f, 0.125f,  -1.125f, -0.5f,   0.875f,  -1.375f, -1.25f,
    3.125f,  0.0f,    -0.5f,   0.75f,   0.5f,    -0.75f,  -1.25f,  1.875f,  0.125f,  -0.625f,
    -0.375f, 1.375f,  0.125f,  -2.125f, -0.875f, 0.0f,    -0.25f,  0.375f,  0.75f,   -1.125f,
    -1.0f,   1.5f,    0.125f,  -0.125f, -0.75f,  0.375f,  1.625f,  -0.5f,   -1.5f,   0.0f,
    0.0f,    0.0f,    0.0f,    0.0f,    0.0f,    0.0f};
static const float k_convt_1d[15] = {1.25f, -0.875f, -2.0f,   0.125f, 0.625f, 1.25f,  0.25f,  0.5f,
                                     -0.5f, 0.5f,    -3.125f, 0.5f,   1.25f,  0.625f, -1.375f};
static const float k_maxpool_pads[12] = {-1.25f, 0.5f,  1.25f, 0.25f, 1.0f, 0.0f,
                                         0.5f,   1.25f, 0.25f, 0.75f, 1.0f, 0.5f};
static const float k_avg_inc[9] = {1.33333337f, 2.33333325f, 1.77777779f, 3.0f,       5.0f,
                                   3.66666675f, 2.66666675f, 4.33333349f, 3.11111116f};
static const float k_avg_exc[9] = {3.0f, 3.5f, 4.0f, 4.5f, 5.0f, 5.5f, 6.0f, 6.5f, 7.0f};
static const float k_lrn[8] = {-0.668835342f, 0.267534137f,  -0.266629815f, 0.649108887f,
                               0.137517735f,  -0.394623876f, 0.557947993f,  0.0f};
static const float k_bn_train[12] = {-0.807528496f, 1.38911939f,  0.133892015f, 2.4256947f,
                                     0.0851389468f, -2.25541687f, 2.01673317f,  0.761505723f,
                                     -0.493721664f, 1.25541687f,  -1.08513892f, -3.4256947f};
static const float k_bn_rm[2] = {0.0229166672f, 0.150000006f};
static const float k_bn_rv[2] = {0.908420146f, 1.68229163f};
static const float k_ln[12] = {-2.89304209f, 2.39304209f,   0.497515053f, 0.592048168f,
                               2.29602408f,  1.29602408f,   -0.13804014f, 1.30265772f,
                               1.05930209f,  0.0593021102f, 1.19734228f,  1.86195982f};
static const float k_ln_mean[2] = {-0.0833333358f, -0.125f};
static const float k_ln_inv[2] = {1.19403613f, 1.21063101f};
static const float k_in[8] = {-1.62611413f,  2.05044556f,  -0.0504456684f, 3.62611413f,
                              -0.900001287f, -1.69999099f, -0.300008953f,  -1.09999871f};
static const float k_gn_grp[8] = {-1.62611413f,  2.05044556f,  -0.0504456684f, 3.62611413f,
                                  -0.900001287f, -1.69999099f, -0.300008953f,  -1.09999871f};
static const float k_gn_ch[8] = {-1.31305707f, 0.525222838f, -0.550445676f, 3.12611413f,
                                 1.59999228f,  -3.19994617f, 7.09992838f,   0.70001024f};
static const float k_lpn1[6] = {-0.5f, 0.666666687f, -0.400000006f,
                                0.5f,  0.333333343f, -0.600000024f};
static const float k_lpn2[6] = {-0.870388269f, 0.34815532f,  -0.34815532f,
                                0.845154226f,  0.169030845f, -0.507092535f};
static const float k_mvn[8] = {-1.31055605f, 1.13581526f,   -1.31055605f, 1.13581526f,
                               0.786333621f, -0.611592829f, 0.786333621f, -0.611592829f};

/* ---- helpers ---------------------------------------------------------------- */

/* ((i * a) % m - off) * sc: the generator's input pattern, exact in f32. */
static void pattern(float *v, int64_t n, int a, int m, int off, float sc) {
  for (int64_t i = 0; i < n; i++) v[i] = (float)((int)((i * a) % m) - off) * sc;
}
#define PX(v, n) pattern((v), (n), 7, 11, 5, 0.25f) /* inputs */
#define PW(v, n) pattern((v), (n), 5, 7, 3, 0.5f)   /* weights */

static sinter_value_t *input(sinter_graph_t *g, const char *name, int32_t rank,
                             const int64_t *dims) {
  sinter_type_t t = ty(SINTER_DTYPE_F32, rank, dims);
  sinter_value_t *v;
  ok(sinter_graph_add_input(g, name, &t, &v));
  return v;
}

static sinter_value_t *cnst(sinter_graph_t *g, const char *name, int32_t rank, const int64_t *dims,
                            const float *data) {
  sinter_type_t t = ty(SINTER_DTYPE_F32, rank, dims);
  int64_t n = 1;
  for (int32_t i = 0; i < rank; i++) n *= dims[i];
  sinter_value_t *v;
  ok(sinter_graph_add_const(g, name, &t, data, sizeof(float) * (size_t)n, &v));
  return v;
}

static sinter_node_t *node(sinter_graph_t *g, sinter_op_t op, sinter_value_t *const *ins,
                           int32_t n_in, int32_t n_out) {
  sinter_node_t *n;
  ok(sinter_graph_add_node(g, op, "n", ins, n_in, n_out, &n));
  return n;
}

static void ints(sinter_node_t *n, const char *name, const int64_t *v, int64_t count) {
  ok(sinter_node_set_attr_ints(n, name, v, count));
}

/* Marks every output of n as a graph output, infers shapes, runs the graph
 * on one f32 input (x, shaped like the graph's first input) and returns the
 * outputs. */
static void run(sinter_graph_t *g, sinter_node_t *n, const float *x, sinter_tensor_t *outs) {
  for (int32_t i = 0; i < sinter_node_num_outputs(n); i++)
    ok(sinter_graph_add_output(g, sinter_node_output(n, i)));
  ok(sinter_graph_infer_shapes(g));
  const sinter_type_t *it = sinter_value_type(sinter_graph_input(g, 0));
  sinter_tensor_t in;
  memset(&in, 0, sizeof(in));
  in.dtype = it->dtype;
  in.rank = it->rank;
  int64_t count = 1;
  for (int32_t i = 0; i < it->rank; i++) count *= in.dims[i] = it->dims[i].size;
  in.data = (void *)x;
  in.nbytes = sizeof(float) * (size_t)count;
  sinter_interp_t *ip;
  ok(sinter_interp_create(g, &ip));
  ok(sinter_interp_run(ip, &in, 1, outs));
  sinter_interp_destroy(ip);
}

/* |got - want| <= tol * (1 + |want|) elementwise. */
static void expect_close(const sinter_tensor_t *t, const float *want, int64_t n, double tol) {
  ck_assert_int_eq(t->dtype, SINTER_DTYPE_F32);
  ck_assert_uint_eq(t->nbytes, sizeof(float) * (size_t)n);
  const float *got = t->data;
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(fabs((double)got[i] - want[i]) <= tol * (1 + fabs(want[i])),
                  "element %lld: got %.9g, want %.9g", (long long)i, got[i], want[i]);
}

/* Conv and pooling results here are sums of products of multiples of 1/8
 * and 1/2 with magnitudes below 2^10: exact in f32 in any summation order,
 * so they must match bit for bit. */
#define EXACT 0.0
/* Normalization results pass through sqrt and division in f32 and double;
 * NumPy computed them in float64. A few f32 ulps is the honest bound. */
#define NORM_TOL 2e-6

/* ---- conv -------------------------------------------------------------------- */

START_TEST(conv_basic_padding) {
  /* ONNX's own example (test_basic_conv_with_padding), checked by hand:
   * 5x5 arange input, all-ones 3x3 kernel, pads 1. */
  static const float want[25] = {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
                                 117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[25], w[9];
  for (int i = 0; i < 25; i++) x[i] = (float)i;
  for (int i = 0; i < 9; i++) w[i] = 1;
  sinter_value_t *ins[2] = {input(g, "x", 4, (int64_t[]){1, 1, 5, 5}),
                            cnst(g, "w", 4, (int64_t[]){1, 1, 3, 3}, w)};
  sinter_node_t *n = node(g, SINTER_OP_CONV, ins, 2, 1);
  ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
  ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_dims(&out[0], 4, (int64_t[]){1, 1, 5, 5});
  expect_close(&out[0], want, 25, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(conv_groups_dilation_asymmetric_pads) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[100], w[32], b[4] = {0.5f, -1, 0.25f, 2};
  PX(x, 100);
  PW(w, 32);
  sinter_value_t *ins[3] = {input(g, "x", 4, (int64_t[]){1, 4, 5, 5}),
                            cnst(g, "w", 4, (int64_t[]){4, 2, 2, 2}, w),
                            cnst(g, "b", 1, (int64_t[]){4}, b)};
  sinter_node_t *n = node(g, SINTER_OP_CONV, ins, 3, 1);
  ok(sinter_node_set_attr_int(n, "group", 2));
  ints(n, "dilations", (int64_t[]){2, 2}, 2);
  ints(n, "pads", (int64_t[]){1, 0, 0, 1}, 4);
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_dims(&out[0], 4, (int64_t[]){1, 4, 4, 4});
  expect_close(&out[0], k_conv_grp, 64, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(conv_depthwise_multiplier_stride) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[50], w[36];
  PX(x, 50);
  PW(w, 36);
  sinter_value_t *ins[2] = {input(g, "x", 4, (int64_t[]){1, 2, 5, 5}),
                            cnst(g, "w", 4, (int64_t[]){4, 1, 3, 3}, w)};
  sinter_node_t *n = node(g, SINTER_OP_CONV, ins, 2, 1);
  ok(sinter_node_set_attr_int(n, "group", 2));
  ints(n, "strides", (int64_t[]){2, 2}, 2);
  ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_dims(&out[0], 4, (int64_t[]){1, 4, 3, 3});
  expect_close(&out[0], k_conv_dw, 36, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(conv_pointwise_batch) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[24], w[6], b[2] = {1, -2};
  PX(x, 24);
  PW(w, 6);
  sinter_value_t *ins[3] = {input(g, "x", 4, (int64_t[]){2, 3, 2, 2}),
                            cnst(g, "w", 4, (int64_t[]){2, 3, 1, 1}, w),
                            cnst(g, "b", 1, (int64_t[]){2}, b)};
  sinter_node_t *n = node(g, SINTER_OP_CONV, ins, 3, 1);
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_dims(&out[0], 4, (int64_t[]){2, 2, 2, 2});
  expect_close(&out[0], k_conv_pw, 16, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(conv_1d_and_3d) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[14], w[12];
  PX(x, 14);
  PW(w, 12);
  sinter_value_t *ins[2] = {input(g, "x", 3, (int64_t[]){1, 2, 7}),
                            cnst(g, "w", 3, (int64_t[]){3, 2, 2}, w)};
  sinter_node_t *n = node(g, SINTER_OP_CONV, ins, 2, 1);
  ints(n, "strides", (int64_t[]){2}, 1);
  ints(n, "dilations", (int64_t[]){2}, 1);
  ints(n, "pads", (int64_t[]){1, 1}, 2);
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_dims(&out[0], 3, (int64_t[]){1, 3, 4});
  expect_close(&out[0], k_conv_1d, 12, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);

  ok(sinter_graph_create("t3", &g));
  float x3[128], w3[48], b3[2] = {0, 1};
  PX(x3, 128);
  PW(w3, 48);
  sinter_value_t *ins3[3] = {input(g, "x", 5, (int64_t[]){1, 2, 4, 4, 4}),
                             cnst(g, "w", 5, (int64_t[]){2, 2, 2, 3, 2}, w3),
                             cnst(g, "b", 1, (int64_t[]){2}, b3)};
  n = node(g, SINTER_OP_CONV, ins3, 3, 1);
  ints(n, "strides", (int64_t[]){1, 2, 1}, 3);
  ints(n, "pads", (int64_t[]){0, 1, 0, 1, 1, 0}, 6);
  run(g, n, x3, out);
  expect_dims(&out[0], 5, (int64_t[]){1, 2, 4, 2, 3});
  expect_close(&out[0], k_conv_3d, 48, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(conv_auto_pad_same) {
  /* 4x4 input, 3x3 ones, stride 2: output 2x2 and one pad in total, at the
   * end for SAME_UPPER and at the start for SAME_LOWER. */
  const char *modes[2] = {"SAME_UPPER", "SAME_LOWER"};
  const float *want[2] = {k_same_upper, k_same_lower};
  for (int m = 0; m < 2; m++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("t", &g));
    float x[16], w[9];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    for (int i = 0; i < 9; i++) w[i] = 1;
    sinter_value_t *ins[2] = {input(g, "x", 4, (int64_t[]){1, 1, 4, 4}),
                              cnst(g, "w", 4, (int64_t[]){1, 1, 3, 3}, w)};
    sinter_node_t *n = node(g, SINTER_OP_CONV, ins, 2, 1);
    ints(n, "strides", (int64_t[]){2, 2}, 2);
    ok(sinter_node_set_attr_string(n, "auto_pad", modes[m], strlen(modes[m])));
    sinter_tensor_t out[1];
    run(g, n, x, out);
    expect_dims(&out[0], 4, (int64_t[]){1, 1, 2, 2});
    expect_close(&out[0], want[m], 4, EXACT);
    free_outs(out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

START_TEST(conv_f16) {
  /* The basic example again in f16: every value is an integer below 2048,
   * exact in f16, so the f32 detour must give the same numbers. */
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  uint16_t x[25], w[9];
  /* f16 bit patterns: integers 0..24 and 1.0 (0x3c00). */
  for (int i = 0; i < 25; i++) {
    float f = (float)i;
    int e = 0;
    if (f == 0) {
      x[i] = 0;
      continue;
    }
    frexpf(f, &e); /* f = m * 2^e, m in [0.5, 1) */
    uint16_t mant = (uint16_t)((f / ldexpf(1, e - 1) - 1) * 1024);
    x[i] = (uint16_t)((e - 1 + 15) << 10 | mant);
  }
  for (int i = 0; i < 9; i++) w[i] = 0x3c00;
  sinter_type_t xt = ty(SINTER_DTYPE_F16, 4, (int64_t[]){1, 1, 5, 5});
  sinter_type_t wt = ty(SINTER_DTYPE_F16, 4, (int64_t[]){1, 1, 3, 3});
  sinter_value_t *ins[2];
  ok(sinter_graph_add_input(g, "x", &xt, &ins[0]));
  ok(sinter_graph_add_const(g, "w", &wt, w, sizeof(w), &ins[1]));
  sinter_node_t *n = node(g, SINTER_OP_CONV, ins, 2, 1);
  ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
  ok(sinter_graph_add_output(g, sinter_node_output(n, 0)));
  ok(sinter_graph_infer_shapes(g));
  ck_assert_int_eq(sinter_value_type(sinter_node_output(n, 0))->dtype, SINTER_DTYPE_F16);
  sinter_tensor_t in = {
      .dtype = SINTER_DTYPE_F16, .rank = 4, .dims = {1, 1, 5, 5}, .data = x, .nbytes = sizeof(x)};
  sinter_tensor_t out;
  sinter_interp_t *ip;
  ok(sinter_interp_create(g, &ip));
  ok(sinter_interp_run(ip, &in, 1, &out));
  sinter_interp_destroy(ip);
  ck_assert_int_eq(out.dtype, SINTER_DTYPE_F16);
  /* 54 = 1.6875 * 2^5: exponent 20, mantissa 0.6875 * 1024 = 704. */
  ck_assert_uint_eq(((uint16_t *)out.data)[6], (20u << 10) | 704u);
  /* 12 = 1.5 * 2^3: exponent 18, mantissa 512. */
  ck_assert_uint_eq(((uint16_t *)out.data)[0], (18u << 10) | 512u);
  sinter_tensor_free_data(&out);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(conv_transpose_groups_stride_output_padding) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[18], w[36], b[4] = {0.5f, -0.5f, 1, 0};
  PX(x, 18);
  PW(w, 36);
  sinter_value_t *ins[3] = {input(g, "x", 4, (int64_t[]){1, 2, 3, 3}),
                            cnst(g, "w", 4, (int64_t[]){2, 2, 3, 3}, w),
                            cnst(g, "b", 1, (int64_t[]){4}, b)};
  sinter_node_t *n = node(g, SINTER_OP_CONV_TRANSPOSE, ins, 3, 1);
  ok(sinter_node_set_attr_int(n, "group", 2));
  ints(n, "strides", (int64_t[]){2, 2}, 2);
  ints(n, "pads", (int64_t[]){1, 0, 0, 1}, 4);
  ints(n, "output_padding", (int64_t[]){1, 1}, 2);
  sinter_tensor_t out[1];
  run(g, n, x, out);
  /* 2 * (3 - 1) + 1 + 3 - 1 = 7 in both dims. */
  expect_dims(&out[0], 4, (int64_t[]){1, 4, 7, 7});
  expect_close(&out[0], k_convt, 196, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(conv_transpose_1d_output_shape) {
  /* 1-D, dilation 2, kernel 2: natural size (3 - 1) + 2 + 1 = 5. With
   * output_shape 5 the pads resolve to 0 and the result is the same. */
  for (int with_shape = 0; with_shape < 2; with_shape++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("t", &g));
    float x[6], w[12];
    PX(x, 6);
    PW(w, 12);
    sinter_value_t *ins[2] = {input(g, "x", 3, (int64_t[]){1, 2, 3}),
                              cnst(g, "w", 3, (int64_t[]){2, 3, 2}, w)};
    sinter_node_t *n = node(g, SINTER_OP_CONV_TRANSPOSE, ins, 2, 1);
    ints(n, "dilations", (int64_t[]){2}, 1);
    if (with_shape) ints(n, "output_shape", (int64_t[]){5}, 1);
    sinter_tensor_t out[1];
    run(g, n, x, out);
    expect_dims(&out[0], 3, (int64_t[]){1, 3, 5});
    expect_close(&out[0], k_convt_1d, 15, EXACT);
    free_outs(out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

START_TEST(conv_transpose_output_shape_crops) {
  /* output_shape 4 against a natural size of 5: one pad in total, which
   * NOTSET puts at the start (pads[start] = total - total / 2), so the
   * result is the natural output without its first column. */
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[6], w[12];
  PX(x, 6);
  PW(w, 12);
  sinter_value_t *ins[2] = {input(g, "x", 3, (int64_t[]){1, 2, 3}),
                            cnst(g, "w", 3, (int64_t[]){2, 3, 2}, w)};
  sinter_node_t *n = node(g, SINTER_OP_CONV_TRANSPOSE, ins, 2, 1);
  ints(n, "dilations", (int64_t[]){2}, 1);
  ints(n, "output_shape", (int64_t[]){4}, 1);
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_dims(&out[0], 3, (int64_t[]){1, 3, 4});
  float want[12];
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 4; i++) want[c * 4 + i] = k_convt_1d[c * 5 + i + 1];
  expect_close(&out[0], want, 12, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- pooling ------------------------------------------------------------------- */

START_TEST(maxpool_ceil_mode_with_indices) {
  /* 4x4 arange, kernel 3, stride 2: floor gives 1x1, ceil_mode 2x2 with the
   * last windows hanging over the edge. By hand: maxima 10, 11, 14, 15 at
   * those same flat indices. */
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[16];
  for (int i = 0; i < 16; i++) x[i] = (float)i;
  sinter_value_t *in = input(g, "x", 4, (int64_t[]){1, 1, 4, 4});
  sinter_node_t *n = node(g, SINTER_OP_MAX_POOL, &in, 1, 2);
  ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
  ints(n, "strides", (int64_t[]){2, 2}, 2);
  ok(sinter_node_set_attr_int(n, "ceil_mode", 1));
  sinter_tensor_t out[2];
  run(g, n, x, out);
  expect_dims(&out[0], 4, (int64_t[]){1, 1, 2, 2});
  expect_close(&out[0], (const float[]){10, 11, 14, 15}, 4, EXACT);
  ck_assert_int_eq(out[1].dtype, SINTER_DTYPE_I64);
  expect_dims(&out[1], 4, (int64_t[]){1, 1, 2, 2});
  const int64_t *idx = out[1].data;
  ck_assert_int_eq(idx[0], 10);
  ck_assert_int_eq(idx[1], 11);
  ck_assert_int_eq(idx[2], 14);
  ck_assert_int_eq(idx[3], 15);
  free_outs(out, 2);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(maxpool_ceil_drops_window_in_end_padding) {
  /* 1-D [1..5], kernel 2, stride 3, pads (0, 2): ceil((7 - 2) / 3) + 1 = 3,
   * but the third window would start at 6, inside the end padding, so it is
   * dropped: windows [1,2] and [4,5] give 2 and 5. */
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[5] = {1, 2, 3, 4, 5};
  sinter_value_t *in = input(g, "x", 3, (int64_t[]){1, 1, 5});
  sinter_node_t *n = node(g, SINTER_OP_MAX_POOL, &in, 1, 1);
  ints(n, "kernel_shape", (int64_t[]){2}, 1);
  ints(n, "strides", (int64_t[]){3}, 1);
  ints(n, "pads", (int64_t[]){0, 2}, 2);
  ok(sinter_node_set_attr_int(n, "ceil_mode", 1));
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_dims(&out[0], 3, (int64_t[]){1, 1, 2});
  expect_close(&out[0], (const float[]){2, 5}, 2, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(maxpool_pads_storage_order) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[24];
  PX(x, 24);
  sinter_value_t *in = input(g, "x", 4, (int64_t[]){1, 2, 3, 4});
  sinter_node_t *n = node(g, SINTER_OP_MAX_POOL, &in, 1, 2);
  ints(n, "kernel_shape", (int64_t[]){2, 2}, 2);
  ints(n, "strides", (int64_t[]){2, 2}, 2);
  ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
  ok(sinter_node_set_attr_int(n, "storage_order", 1));
  sinter_tensor_t out[2];
  run(g, n, x, out);
  expect_dims(&out[0], 4, (int64_t[]){1, 2, 2, 3});
  expect_close(&out[0], k_maxpool_pads, 12, EXACT);
  /* Column-major within each (n, c) plane: c * 12 + w * 3 + h. */
  static const int64_t want_idx[12] = {0, 3, 9, 1, 7, 10, 12, 18, 21, 14, 16, 23};
  for (int i = 0; i < 12; i++) ck_assert_int_eq(((int64_t *)out[1].data)[i], want_idx[i]);
  free_outs(out, 2);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(maxpool_dilations_u8) {
  /* 4x4 arange as u8, kernel 2, dilation 2: each window takes rows i, i+2
   * and columns j, j+2, so the maxima are 10, 11, 14, 15 (by hand). */
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  uint8_t x[16];
  for (int i = 0; i < 16; i++) x[i] = (uint8_t)i;
  sinter_type_t t = ty(SINTER_DTYPE_U8, 4, (int64_t[]){1, 1, 4, 4});
  sinter_value_t *in;
  ok(sinter_graph_add_input(g, "x", &t, &in));
  sinter_node_t *n = node(g, SINTER_OP_MAX_POOL, &in, 1, 1);
  ints(n, "kernel_shape", (int64_t[]){2, 2}, 2);
  ints(n, "dilations", (int64_t[]){2, 2}, 2);
  ok(sinter_graph_add_output(g, sinter_node_output(n, 0)));
  ok(sinter_graph_infer_shapes(g));
  sinter_tensor_t xin = {
      .dtype = SINTER_DTYPE_U8, .rank = 4, .dims = {1, 1, 4, 4}, .data = x, .nbytes = 16};
  sinter_tensor_t out;
  sinter_interp_t *ip;
  ok(sinter_interp_create(g, &ip));
  ok(sinter_interp_run(ip, &xin, 1, &out));
  sinter_interp_destroy(ip);
  ck_assert_int_eq(out.dtype, SINTER_DTYPE_U8);
  expect_dims(&out, 4, (int64_t[]){1, 1, 2, 2});
  const uint8_t *y = out.data;
  ck_assert_int_eq(y[0], 10);
  ck_assert_int_eq(y[1], 11);
  ck_assert_int_eq(y[2], 14);
  ck_assert_int_eq(y[3], 15);
  sinter_tensor_free_data(&out);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(avgpool_count_include_pad) {
  /* 3x3 input 1..9, kernel 3, stride 1, pads 1. The corner window holds
   * 1+2+4+5 = 12: 12/4 = 3 without the padding, 12/9 with it. */
  for (int include = 0; include < 2; include++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("t", &g));
    float x[9];
    for (int i = 0; i < 9; i++) x[i] = (float)(i + 1);
    sinter_value_t *in = input(g, "x", 4, (int64_t[]){1, 1, 3, 3});
    sinter_node_t *n = node(g, SINTER_OP_AVERAGE_POOL, &in, 1, 1);
    ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
    ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    ok(sinter_node_set_attr_int(n, "count_include_pad", include));
    sinter_tensor_t out[1];
    run(g, n, x, out);
    expect_dims(&out[0], 4, (int64_t[]){1, 1, 3, 3});
    /* One f32 division of exact sums: correctly rounded, so within 1 ulp. */
    expect_close(&out[0], include ? k_avg_inc : k_avg_exc, 9, 1.2e-7);
    free_outs(out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

START_TEST(avgpool_ceil_mode) {
  /* 4x4 arange, kernel 3, stride 2, ceil_mode: the right and bottom windows
   * cover only 2 rows or columns, and only the real elements count, with or
   * without count_include_pad (there is no explicit padding). By hand:
   * 45/9, (2+3+6+7+10+11)/6, (8+9+10+12+13+14)/6, (10+11+14+15)/4. */
  for (int include = 0; include < 2; include++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("t", &g));
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    sinter_value_t *in = input(g, "x", 4, (int64_t[]){1, 1, 4, 4});
    sinter_node_t *n = node(g, SINTER_OP_AVERAGE_POOL, &in, 1, 1);
    ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
    ints(n, "strides", (int64_t[]){2, 2}, 2);
    ok(sinter_node_set_attr_int(n, "ceil_mode", 1));
    ok(sinter_node_set_attr_int(n, "count_include_pad", include));
    sinter_tensor_t out[1];
    run(g, n, x, out);
    expect_dims(&out[0], 4, (int64_t[]){1, 1, 2, 2});
    expect_close(&out[0], (const float[]){5, 6.5f, 11, 12.5f}, 4, EXACT);
    free_outs(out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

START_TEST(lppool_and_global_pools) {
  /* LpPool p=2 over [3,4 | 0,5]: 5 and 5. Global pools over a 2x2 plane
   * [1, -2, 3, 6]: average 2, max 6, L2 sqrt(50). All by hand. */
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[4] = {3, 4, 0, 5};
  sinter_value_t *in = input(g, "x", 3, (int64_t[]){1, 1, 4});
  sinter_node_t *n = node(g, SINTER_OP_LP_POOL, &in, 1, 1);
  ints(n, "kernel_shape", (int64_t[]){2}, 1);
  ints(n, "strides", (int64_t[]){2}, 1);
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_close(&out[0], (const float[]){5, 5}, 2, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);

  const sinter_op_t ops[3] = {SINTER_OP_GLOBAL_AVERAGE_POOL, SINTER_OP_GLOBAL_MAX_POOL,
                              SINTER_OP_GLOBAL_LP_POOL};
  const float want[3] = {2, 6, sqrtf(50)};
  for (int i = 0; i < 3; i++) {
    ok(sinter_graph_create("t", &g));
    float y[4] = {1, -2, 3, 6};
    in = input(g, "x", 4, (int64_t[]){1, 1, 2, 2});
    n = node(g, ops[i], &in, 1, 1);
    run(g, n, y, out);
    expect_dims(&out[0], 4, (int64_t[]){1, 1, 1, 1});
    /* sqrt(50) in f32 against the double sqrt rounded to f32: 1 ulp. */
    expect_close(&out[0], &want[i], 1, 1.2e-7);
    free_outs(out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

START_TEST(lrn_channels) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[8];
  PX(x, 8);
  sinter_value_t *in = input(g, "x", 3, (int64_t[]){1, 4, 2});
  sinter_node_t *n = node(g, SINTER_OP_LRN, &in, 1, 1);
  ok(sinter_node_set_attr_int(n, "size", 3));
  ok(sinter_node_set_attr_float(n, "alpha", 0.5f));
  ok(sinter_node_set_attr_float(n, "beta", 0.75f));
  ok(sinter_node_set_attr_float(n, "bias", 2.0f));
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_close(&out[0], k_lrn, 8, NORM_TOL);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- normalization ------------------------------------------------------------- */

START_TEST(batchnorm_inference) {
  /* eps 0 keeps it exact: channel 0 (x - 1) / 2 * 1 + 0 on [1, 3] gives
   * [0, 1]; channel 1 (x - 2) / 0.5 * 2 + 1 on [2, 3] gives [1, 5]. */
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[4] = {1, 3, 2, 3};
  int64_t c2[1] = {2};
  sinter_value_t *ins[5] = {
      input(g, "x", 3, (int64_t[]){1, 2, 2}), cnst(g, "s", 1, c2, (const float[]){1, 2}),
      cnst(g, "b", 1, c2, (const float[]){0, 1}), cnst(g, "m", 1, c2, (const float[]){1, 2}),
      cnst(g, "v", 1, c2, (const float[]){4, 0.25f})};
  sinter_node_t *n = node(g, SINTER_OP_BATCH_NORMALIZATION, ins, 5, 1);
  ok(sinter_node_set_attr_float(n, "epsilon", 0));
  sinter_tensor_t out[1];
  run(g, n, x, out);
  expect_close(&out[0], (const float[]){0, 1, 1, 5}, 4, EXACT);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(batchnorm_training_outputs) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[12];
  PX(x, 12);
  int64_t c2[1] = {2};
  sinter_value_t *ins[5] = {
      input(g, "x", 3, (int64_t[]){2, 2, 3}), cnst(g, "s", 1, c2, (const float[]){1, 2}),
      cnst(g, "b", 1, c2, (const float[]){0.5f, -0.5f}),
      cnst(g, "m", 1, c2, (const float[]){0.1f, 0.2f}), cnst(g, "v", 1, c2, (const float[]){1, 2})};
  sinter_node_t *n = node(g, SINTER_OP_BATCH_NORMALIZATION, ins, 5, 3);
  ok(sinter_node_set_attr_int(n, "training_mode", 1));
  ok(sinter_node_set_attr_float(n, "epsilon", 1e-3f));
  ok(sinter_node_set_attr_float(n, "momentum", 0.75f));
  sinter_tensor_t out[3];
  run(g, n, x, out);
  expect_close(&out[0], k_bn_train, 12, NORM_TOL);
  /* The generator used the f64 forms of 0.1 and 0.2; ours are f32. */
  expect_close(&out[1], k_bn_rm, 2, 1e-6);
  expect_close(&out[2], k_bn_rv, 2, 1e-6);
  free_outs(out, 3);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(layernorm_axis1_broadcast_with_stats) {
  /* X [2,2,3], axis 1: normalize over 6 elements; scale [3] broadcast over
   * the normalized dims, bias [2,3]; Mean and InvStdDev come out [2,1,1]. */
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  float x[12], b[6];
  PX(x, 12);
  PW(b, 6);
  sinter_value_t *ins[3] = {input(g, "x", 3, (int64_t[]){2, 2, 3}),
                            cnst(g, "s", 1, (int64_t[]){3}, (const float[]){1, 2, -1}),
                            cnst(g, "b", 2, (int64_t[]){2, 3}, b)};
  sinter_node_t *n = node(g, SINTER_OP_LAYER_NORMALIZATION, ins, 3, 3);
  ok(sinter_node_set_attr_int(n, "axis", 1));
  sinter_tensor_t out[3];
  run(g, n, x, out);
  expect_close(&out[0], k_ln, 12, NORM_TOL);
  expect_dims(&out[1], 3, (int64_t[]){2, 1, 1});
  expect_close(&out[1], k_ln_mean, 2, NORM_TOL);
  expect_close(&out[2], k_ln_inv, 2, NORM_TOL);
  free_outs(out, 3);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(instance_and_group_norm) {
  sinter_graph_t *g;
  float x[8];
  PX(x, 8);
  sinter_tensor_t out[1];
  ok(sinter_graph_create("t", &g));
  sinter_value_t *ins[3] = {input(g, "x", 3, (int64_t[]){1, 2, 4}),
                            cnst(g, "s", 1, (int64_t[]){2}, (const float[]){2, 0.5f}),
                            cnst(g, "b", 1, (int64_t[]){2}, (const float[]){1, -1})};
  sinter_node_t *n = node(g, SINTER_OP_INSTANCE_NORMALIZATION, ins, 3, 1);
  run(g, n, x, out);
  expect_close(&out[0], k_in, 8, NORM_TOL);
  free_outs(out, 1);
  sinter_graph_destroy(g);

  /* GroupNormalization, 4 channels in 2 groups: scale and bias per group
   * (opset 18), then per channel (opset 21). */
  for (int per_channel = 0; per_channel < 2; per_channel++) {
    ok(sinter_graph_create("t", &g));
    int64_t ns = per_channel ? 4 : 2;
    const float *sc = per_channel ? (const float[]){1, 2, 3, 4} : (const float[]){2, 0.5f};
    const float *bi = per_channel ? (const float[]){0, 0.5f, 1, 1.5f} : (const float[]){1, -1};
    sinter_value_t *gi[3] = {input(g, "x", 3, (int64_t[]){1, 4, 2}), cnst(g, "s", 1, &ns, sc),
                             cnst(g, "b", 1, &ns, bi)};
    n = node(g, SINTER_OP_GROUP_NORMALIZATION, gi, 3, 1);
    ok(sinter_node_set_attr_int(n, "num_groups", 2));
    run(g, n, x, out);
    expect_close(&out[0], per_channel ? k_gn_ch : k_gn_grp, 8, NORM_TOL);
    free_outs(out, 1);
    sinter_graph_destroy(g);
  }
}
END_TEST

START_TEST(lp_norm_and_mvn) {
  sinter_graph_t *g;
  float x[8];
  PX(x, 8);
  sinter_tensor_t out[1];
  for (int p = 1; p <= 2; p++) {
    ok(sinter_graph_create("t", &g));
    sinter_value_t *in = input(g, "x", 2, (int64_t[]){2, 3});
    sinter_node_t *n = node(g, SINTER_OP_LP_NORMALIZATION, &in, 1, 1);
    ok(sinter_node_set_attr_int(n, "p", p));
    ok(sinter_node_set_attr_int(n, "axis", p == 1 ? 0 : -1));
    run(g, n, x, out);
    expect_close(&out[0], p == 1 ? k_lpn1 : k_lpn2, 6, NORM_TOL);
    free_outs(out, 1);
    sinter_graph_destroy(g);
  }
  ok(sinter_graph_create("t", &g));
  sinter_value_t *in = input(g, "x", 4, (int64_t[]){2, 2, 1, 2});
  sinter_node_t *n = node(g, SINTER_OP_MEAN_VARIANCE_NORMALIZATION, &in, 1, 1);
  run(g, n, x, out);
  expect_close(&out[0], k_mvn, 8, NORM_TOL);
  free_outs(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- shape inference -------------------------------------------------------------- */

START_TEST(infer_symbolic_batch_and_spatial) {
  sinter_graph_t *g;
  ok(sinter_graph_create("t", &g));
  const char *N = sinter_graph_intern(g, "N"), *H = sinter_graph_intern(g, "H");
  sinter_type_t xt = ty(SINTER_DTYPE_F32, 4, (int64_t[]){-1, 3, 224, -1});
  xt.dims[0].sym = N;
  xt.dims[3].sym = H;
  sinter_value_t *x;
  ok(sinter_graph_add_input(g, "x", &xt, &x));
  static float w1[64 * 3 * 7 * 7], w2[8 * 64 * 3 * 3], w3[4 * 8];
  sinter_value_t *a[2] = {x, cnst(g, "w1", 4, (int64_t[]){64, 3, 7, 7}, w1)};
  sinter_node_t *c1 = node(g, SINTER_OP_CONV, a, 2, 1);
  ints(c1, "strides", (int64_t[]){2, 2}, 2);
  ints(c1, "pads", (int64_t[]){3, 3, 3, 3}, 4);
  sinter_value_t *b[2] = {x, cnst(g, "w2", 4, (int64_t[]){8, 3, 3, 3}, w2)};
  /* (w2 is bigger than needed; only its first 8*3*3*3 floats are used.) */
  sinter_node_t *c2 = node(g, SINTER_OP_CONV, b, 2, 1);
  ints(c2, "pads", (int64_t[]){1, 1, 1, 1}, 4);
  sinter_value_t *c[2] = {sinter_node_output(c2, 0), cnst(g, "w3", 4, (int64_t[]){4, 8, 1, 1}, w3)};
  sinter_node_t *c3 = node(g, SINTER_OP_CONV, c, 2, 1);
  sinter_value_t *p_in = sinter_node_output(c1, 0);
  sinter_node_t *mp = node(g, SINTER_OP_MAX_POOL, &p_in, 1, 1);
  ints(mp, "kernel_shape", (int64_t[]){3, 3}, 2);
  ints(mp, "strides", (int64_t[]){2, 2}, 2);
  ints(mp, "pads", (int64_t[]){1, 1, 1, 1}, 4);
  sinter_value_t *gp_in = sinter_node_output(mp, 0);
  sinter_node_t *gp = node(g, SINTER_OP_GLOBAL_AVERAGE_POOL, &gp_in, 1, 1);
  ok(sinter_graph_infer_shapes(g));

  /* 7x7 stride 2 pad 3: 224 -> 112; the symbolic width becomes unknown. */
  const sinter_type_t *t = sinter_value_type(sinter_node_output(c1, 0));
  ck_assert_int_eq(t->rank, 4);
  ck_assert_int_eq(t->dims[0].size, -1);
  ck_assert_ptr_eq(t->dims[0].sym, N);
  ck_assert_int_eq(t->dims[1].size, 64);
  ck_assert_int_eq(t->dims[2].size, 112);
  ck_assert_int_eq(t->dims[3].size, -1);
  ck_assert_ptr_null(t->dims[3].sym);
  /* 3x3 stride 1 pad 1 and 1x1 keep the size, so H survives both. */
  t = sinter_value_type(sinter_node_output(c3, 0));
  ck_assert_ptr_eq(t->dims[0].sym, N);
  ck_assert_int_eq(t->dims[1].size, 4);
  ck_assert_int_eq(t->dims[2].size, 224);
  ck_assert_ptr_eq(t->dims[3].sym, H);
  t = sinter_value_type(sinter_node_output(mp, 0));
  ck_assert_int_eq(t->dims[2].size, 56);
  ck_assert_ptr_eq(t->dims[0].sym, N);
  t = sinter_value_type(sinter_node_output(gp, 0));
  ck_assert_ptr_eq(t->dims[0].sym, N);
  ck_assert_int_eq(t->dims[1].size, 64);
  ck_assert_int_eq(t->dims[2].size, 1);
  ck_assert_int_eq(t->dims[3].size, 1);
  sinter_graph_destroy(g);
}
END_TEST

/* Builds x [1,3,8,8] -> Conv(w of the given shape) with an optional int
 * attribute list, runs inference and returns the status. */
static sinter_status_t infer_conv(sinter_op_t op, int32_t w_rank, const int64_t *w_dims,
                                  const char *attr, const int64_t *v, int64_t count,
                                  sinter_graph_t **out_g) {
  sinter_graph_t *g;
  ok(sinter_graph_create("model", &g));
  static const float w[1024];
  sinter_value_t *ins[2] = {input(g, "x", 4, (int64_t[]){1, 3, 8, 8}),
                            cnst(g, "w", w_rank, w_dims, w)};
  sinter_node_t *n;
  ok(sinter_graph_add_node(g, op, "conv1", ins, 2, 1, &n));
  if (attr) ints(n, attr, v, count);
  *out_g = g;
  return sinter_graph_infer_shapes(g);
}

static void expect_error(sinter_status_t st, sinter_graph_t *g, const char *needle) {
  ck_assert_msg(st != NULL, "expected an error containing '%s'", needle);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_MODEL);
  const char *msg = sinter_status_message(st);
  ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
  ck_assert_msg(strstr(msg, "conv1") != NULL, "message '%s' does not name the node", msg);
  sinter_status_free(st);
  sinter_graph_destroy(g);
}

START_TEST(infer_errors) {
  sinter_graph_t *g;
  sinter_status_t st = infer_conv(SINTER_OP_CONV, 3, (int64_t[]){4, 3, 3}, NULL, NULL, 0, &g);
  expect_error(st, g, "weight has rank 3, expected 4");
  st = infer_conv(SINTER_OP_CONV, 4, (int64_t[]){4, 2, 3, 3}, NULL, NULL, 0, &g);
  expect_error(st, g, "input has 3 channels, but the weight expects 2 per group");
  st = infer_conv(SINTER_OP_CONV, 4, (int64_t[]){4, 3, 3, 3}, "strides", (int64_t[]){0, 1}, 2, &g);
  expect_error(st, g, "strides[0] is 0, must be positive");
  st = infer_conv(SINTER_OP_CONV, 4, (int64_t[]){4, 3, 3, 3}, "dilations", (int64_t[]){1, -2}, 2,
                  &g);
  expect_error(st, g, "dilations[1] is -2");
  st = infer_conv(SINTER_OP_CONV, 4, (int64_t[]){4, 3, 3, 3}, "pads",
                  (int64_t[]){INT64_MAX, 0, INT64_MAX, 0}, 4, &g);
  expect_error(st, g, "overflows");
  st = infer_conv(SINTER_OP_CONV, 4, (int64_t[]){4, 3, 3, 3}, "dilations",
                  (int64_t[]){INT64_MAX, 1}, 2, &g);
  expect_error(st, g, "overflows");
  st = infer_conv(SINTER_OP_CONV, 4, (int64_t[]){4, 3, 9, 9}, NULL, NULL, 0, &g);
  expect_error(st, g, "smaller than the kernel");
  st = infer_conv(SINTER_OP_CONV, 4, (int64_t[]){4, 3, 3, 3}, "kernel_shape", (int64_t[]){5, 5}, 2,
                  &g);
  expect_error(st, g, "kernel_shape[0] is 5, but the weight's kernel is 3");
  st = infer_conv(SINTER_OP_CONV, 4, (int64_t[]){4, 3, 3, 3}, "pads", (int64_t[]){1, 1}, 2, &g);
  expect_error(st, g, "pads has 2 entries, expected 4");
  st = infer_conv(SINTER_OP_CONV_TRANSPOSE, 4, (int64_t[]){2, 4, 3, 3}, NULL, NULL, 0, &g);
  expect_error(st, g, "input has 3 channels, but the weight expects 2");
  st = infer_conv(SINTER_OP_CONV_TRANSPOSE, 4, (int64_t[]){3, 4, 3, 3}, "strides",
                  (int64_t[]){INT64_MAX, 1}, 2, &g);
  expect_error(st, g, "overflows");

  /* Absurd attributes are errors even where the input size is symbolic. */
  ok(sinter_graph_create("model", &g));
  sinter_type_t st_x = ty(SINTER_DTYPE_F32, 4, (int64_t[]){-1, 3, -1, -1});
  st_x.dims[2].sym = sinter_graph_intern(g, "H");
  sinter_value_t *sx;
  ok(sinter_graph_add_input(g, "x", &st_x, &sx));
  static const float w0[4 * 3 * 9];
  sinter_value_t *sins[2] = {sx, cnst(g, "w", 4, (int64_t[]){4, 3, 3, 3}, w0)};
  sinter_node_t *sn;
  ok(sinter_graph_add_node(g, SINTER_OP_CONV, "conv1", sins, 2, 1, &sn));
  ints(sn, "dilations", (int64_t[]){INT64_MAX / 2, 1}, 2);
  expect_error(sinter_graph_infer_shapes(g), g, "dilated kernel size overflows");

  /* group 0, and a bias of the wrong size. */
  ok(sinter_graph_create("model", &g));
  static const float w[4 * 3 * 9], bias[5];
  sinter_value_t *ins[3] = {input(g, "x", 4, (int64_t[]){1, 3, 8, 8}),
                            cnst(g, "w", 4, (int64_t[]){4, 3, 3, 3}, w),
                            cnst(g, "b", 1, (int64_t[]){5}, bias)};
  sinter_node_t *n;
  ok(sinter_graph_add_node(g, SINTER_OP_CONV, "conv1", ins, 3, 1, &n));
  expect_error(sinter_graph_infer_shapes(g), g, "bias B has 5 elements, expected 4");
  ok(sinter_graph_create("model", &g));
  ins[0] = input(g, "x", 4, (int64_t[]){1, 3, 8, 8});
  ins[1] = cnst(g, "w", 4, (int64_t[]){4, 3, 3, 3}, w);
  ok(sinter_graph_add_node(g, SINTER_OP_CONV, "conv1", ins, 2, 1, &n));
  ok(sinter_node_set_attr_int(n, "group", 0));
  expect_error(sinter_graph_infer_shapes(g), g, "group is 0");

  /* MaxPool without kernel_shape, and an unknown auto_pad. */
  ok(sinter_graph_create("model", &g));
  ins[0] = input(g, "x", 4, (int64_t[]){1, 3, 8, 8});
  ok(sinter_graph_add_node(g, SINTER_OP_MAX_POOL, "conv1", ins, 1, 1, &n));
  expect_error(sinter_graph_infer_shapes(g), g, "kernel_shape is required");
  ok(sinter_graph_create("model", &g));
  ins[0] = input(g, "x", 4, (int64_t[]){1, 3, 8, 8});
  ok(sinter_graph_add_node(g, SINTER_OP_AVERAGE_POOL, "conv1", ins, 1, 1, &n));
  ints(n, "kernel_shape", (int64_t[]){2, 2}, 2);
  ok(sinter_node_set_attr_string(n, "auto_pad", "SAME", 4));
  expect_error(sinter_graph_infer_shapes(g), g, "auto_pad 'SAME'");
}
END_TEST

START_TEST(infer_norm_errors) {
  sinter_graph_t *g;
  static const float v[8];
  sinter_node_t *n;
  /* BatchNormalization scale with 3 entries for 2 channels. */
  ok(sinter_graph_create("model", &g));
  sinter_value_t *ins[5] = {input(g, "x", 4, (int64_t[]){1, 2, 4, 4}),
                            cnst(g, "s", 1, (int64_t[]){3}, v), cnst(g, "b", 1, (int64_t[]){2}, v),
                            cnst(g, "m", 1, (int64_t[]){2}, v), cnst(g, "v", 1, (int64_t[]){2}, v)};
  ok(sinter_graph_add_node(g, SINTER_OP_BATCH_NORMALIZATION, "conv1", ins, 5, 1, &n));
  expect_error(sinter_graph_infer_shapes(g), g, "scale has 3 elements, expected 2");
  /* GroupNormalization with channels not divisible into groups. */
  ok(sinter_graph_create("model", &g));
  ins[0] = input(g, "x", 3, (int64_t[]){1, 6, 4});
  ins[1] = cnst(g, "s", 1, (int64_t[]){4}, v);
  ins[2] = cnst(g, "b", 1, (int64_t[]){4}, v);
  ok(sinter_graph_add_node(g, SINTER_OP_GROUP_NORMALIZATION, "conv1", ins, 3, 1, &n));
  ok(sinter_node_set_attr_int(n, "num_groups", 4));
  expect_error(sinter_graph_infer_shapes(g), g, "not divisible into 4 groups");
  /* LayerNormalization with a scale that does not match the normalized dims. */
  ok(sinter_graph_create("model", &g));
  ins[0] = input(g, "x", 3, (int64_t[]){2, 3, 4});
  ins[1] = cnst(g, "s", 1, (int64_t[]){3}, v);
  ok(sinter_graph_add_node(g, SINTER_OP_LAYER_NORMALIZATION, "conv1", ins, 2, 1, &n));
  expect_error(sinter_graph_infer_shapes(g), g, "scale dim 0 is 3, but the input's is 4");
}
END_TEST

int main(void) {
  Suite *s = suite_create("nn");
  TCase *tc = tcase_create("conv");
  tcase_add_test(tc, conv_basic_padding);
  tcase_add_test(tc, conv_groups_dilation_asymmetric_pads);
  tcase_add_test(tc, conv_depthwise_multiplier_stride);
  tcase_add_test(tc, conv_pointwise_batch);
  tcase_add_test(tc, conv_1d_and_3d);
  tcase_add_test(tc, conv_auto_pad_same);
  tcase_add_test(tc, conv_f16);
  tcase_add_test(tc, conv_transpose_groups_stride_output_padding);
  tcase_add_test(tc, conv_transpose_1d_output_shape);
  tcase_add_test(tc, conv_transpose_output_shape_crops);
  suite_add_tcase(s, tc);
  tc = tcase_create("pool");
  tcase_add_test(tc, maxpool_ceil_mode_with_indices);
  tcase_add_test(tc, maxpool_ceil_drops_window_in_end_padding);
  tcase_add_test(tc, maxpool_pads_storage_order);
  tcase_add_test(tc, maxpool_dilations_u8);
  tcase_add_test(tc, avgpool_count_include_pad);
  tcase_add_test(tc, avgpool_ceil_mode);
  tcase_add_test(tc, lppool_and_global_pools);
  tcase_add_test(tc, lrn_channels);
  suite_add_tcase(s, tc);
  tc = tcase_create("norm");
  tcase_add_test(tc, batchnorm_inference);
  tcase_add_test(tc, batchnorm_training_outputs);
  tcase_add_test(tc, layernorm_axis1_broadcast_with_stats);
  tcase_add_test(tc, instance_and_group_norm);
  tcase_add_test(tc, lp_norm_and_mvn);
  suite_add_tcase(s, tc);
  tc = tcase_create("infer");
  tcase_add_test(tc, infer_symbolic_batch_and_spatial);
  tcase_add_test(tc, infer_errors);
  tcase_add_test(tc, infer_norm_errors);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
