/* Numeric checks of fold-batchnorm, fuse-conv-act and fuse-gemm-act: the
 * FusedConv (with and without its residual input Z), FusedGemm and
 * FusedMatMul kernels against hand-computed values and against the unfused
 * graphs, every rewrite against the interpreter's
 * output before it, the decomposers (--export-standard) against both, and
 * resnet18 and mobilenet_v2 from ../shared/models (skipped when absent). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "passes/pass_internal.h"
#include "sinter/onnx.h"
#include "sinter/passes.h"
#include "tests/support/check_main.h"
#include "tests/support/graph_test.h"

/* ---- helpers ------------------------------------------------------------------- */

/* A fixed xorshift generator, so every run builds the same graphs. */
static uint32_t rng = 0x9e3779b9u;
static float frand(float lo, float hi) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return lo + (hi - lo) * (float)(rng >> 8) / (float)(1u << 24);
}

/* A registry with every built-in pass, plus this suite's three passes if the
 * built-in table does not list them yet. */
static sinter_pass_registry_t *registry(void) {
  sinter_pass_registry_t *r;
  ok(sinter_pass_registry_create(&r));
  const sinter_pass_info_t *mine[] = {&sinter_pass_fold_batchnorm, &sinter_pass_fuse_conv_act,
                                      &sinter_pass_fuse_gemm_act};
  for (int i = 0; i < 3; i++)
    if (!sinter_pass_registry_find(r, mine[i]->name)) ok(sinter_pass_registry_add(r, mine[i]));
  return r;
}

/* Runs a textual pipeline over g with the verifier after every pass. */
static void run_pipeline(sinter_graph_t *g, const char *text) {
  sinter_pass_registry_t *r = registry();
  sinter_pipeline_t *pl;
  ok(sinter_pipeline_parse(r, text, &pl));
  sinter_pipeline_options_t opts = {.verify_each = true};
  ok(sinter_pipeline_run(g, pl, &opts, NULL));
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(r);
}

/* The optimization pipeline under test, with dce when it is registered. */
static void optimize(sinter_graph_t *g) {
  sinter_pass_registry_t *r = registry();
  bool dce = sinter_pass_registry_find(r, "dce") != NULL;
  sinter_pass_registry_destroy(r);
  run_pipeline(g, dce ? "fold-batchnorm,fuse-conv-act,fuse-gemm-act,dce"
                      : "fold-batchnorm,fuse-conv-act,fuse-gemm-act");
}

/* Runs g on the inputs; the n outputs land in out (caller frees). */
static void interp(const sinter_graph_t *g, const sinter_tensor_t *in, int32_t n_in,
                   sinter_tensor_t *out) {
  sinter_interp_t *ip;
  ok(sinter_interp_create(g, &ip));
  sinter_status_t st = sinter_interp_run(ip, in, n_in, out);
  sinter_interp_destroy(ip);
  ok(st);
}

/* max |got - ref| / max |ref| over all elements (f32 outputs). */
static double rel_err(const sinter_tensor_t *ref, const sinter_tensor_t *got) {
  ck_assert_int_eq(ref->dtype, got->dtype);
  ck_assert_int_eq(ref->rank, got->rank);
  for (int32_t d = 0; d < ref->rank; d++) ck_assert_int_eq(ref->dims[d], got->dims[d]);
  int64_t n = sinter_tensor_numel(ref);
  double maxref = 0, maxdiff = 0;
  for (int64_t i = 0; i < n; i++) {
    double r = sinter_load_f64(ref->data, ref->dtype, i),
           v = sinter_load_f64(got->data, got->dtype, i);
    ck_assert_msg(isfinite(v), "element %lld is %g", (long long)i, v);
    maxref = fmax(maxref, fabs(r));
    maxdiff = fmax(maxdiff, fabs(r - v));
  }
  return maxref > 0 ? maxdiff / maxref : maxdiff;
}

static int count_op(const sinter_graph_t *g, sinter_op_t op) {
  int n = 0;
  for (sinter_node_t *x = sinter_graph_first_node(g); x; x = sinter_node_next(x))
    n += sinter_node_op(x) == op;
  return n;
}

static int count_domain(const sinter_graph_t *g, const char *domain) {
  int n = 0;
  for (sinter_node_t *x = sinter_graph_first_node(g); x; x = sinter_node_next(x))
    n += strcmp(sinter_op_info(sinter_node_op(x))->domain, domain) == 0;
  return n;
}

/* Builds a node of op with one output; returns the output. */
static sinter_value_t *node(sinter_graph_t *g, sinter_op_t op, sinter_value_t *const *ins,
                            int32_t n, sinter_node_t **out_node) {
  sinter_node_t *x;
  ok(sinter_graph_add_node(g, op, NULL, ins, n, 1, &x));
  if (out_node) *out_node = x;
  return sinter_node_output(x, 0);
}

static sinter_value_t *node1(sinter_graph_t *g, sinter_op_t op, sinter_value_t *a) {
  return node(g, op, &a, 1, NULL);
}

static sinter_value_t *node2(sinter_graph_t *g, sinter_op_t op, sinter_value_t *a,
                             sinter_value_t *b) {
  sinter_value_t *ins[2] = {a, b};
  return node(g, op, ins, 2, NULL);
}

/* A constant of dtype with the given dims, uniform in [lo, hi). */
static sinter_value_t *rand_const(sinter_graph_t *g, sinter_dtype_t dt, int32_t rank,
                                  const int64_t *dims, float lo, float hi) {
  sinter_type_t t = ty(dt, rank, dims);
  int64_t n;
  ck_assert(sinter_type_numel(&t, &n));
  size_t bytes;
  ck_assert(sinter_dtype_storage_size(dt, n, &bytes));
  void *data = malloc(bytes ? bytes : 1);
  for (int64_t i = 0; i < n; i++) sinter_store_f64(data, dt, i, frand(lo, hi));
  sinter_value_t *v;
  ok(sinter_graph_add_const(g, NULL, &t, data, bytes, &v));
  free(data);
  return v;
}

static sinter_value_t *const_f32(sinter_graph_t *g, int32_t rank, const int64_t *dims,
                                 const float *data) {
  sinter_type_t t = ty(SINTER_DTYPE_F32, rank, dims);
  int64_t n;
  ck_assert(sinter_type_numel(&t, &n));
  sinter_value_t *v;
  ok(sinter_graph_add_const(g, NULL, &t, data, sizeof(float) * (size_t)n, &v));
  return v;
}

static sinter_value_t *scalar(sinter_graph_t *g, sinter_dtype_t dt, float v) {
  sinter_type_t t = ty(dt, 0, NULL);
  uint8_t buf[8];
  sinter_store_f64(buf, dt, 0, v);
  sinter_value_t *c;
  ok(sinter_graph_add_const(g, NULL, &t, buf, (size_t)sinter_dtype_bits(dt) / 8, &c));
  return c;
}

/* A tensor of random values in caller storage (data malloc'ed). */
static sinter_tensor_t rand_tensor(sinter_dtype_t dt, int32_t rank, const int64_t *dims) {
  sinter_tensor_t t = {.dtype = dt, .rank = rank};
  for (int32_t i = 0; i < rank; i++) t.dims[i] = dims[i];
  int64_t n = sinter_tensor_numel(&t);
  ck_assert(sinter_dtype_storage_size(dt, n, &t.nbytes));
  t.data = malloc(t.nbytes);
  for (int64_t i = 0; i < n; i++) sinter_store_f64(t.data, dt, i, frand(-2, 2));
  return t;
}

/* ---- activations written with standard ops ------------------------------------ */

/* One epilogue case: the fused attributes and the standard ops computing it. */
typedef struct act_case_s {
  const char *activation; /* NULL: none */
  int32_t n_params;
  float params[2];
  const char *approximate;
} act_case_t;

static const act_case_t act_cases[] = {
    {NULL, 0, {0, 0}, NULL},
    {"Relu", 0, {0, 0}, NULL},
    {"Clip", 2, {0.0f, 6.0f}, NULL},
    {"Clip", 2, {-INFINITY, 0.5f}, NULL},
    {"Clip", 2, {-0.5f, INFINITY}, NULL},
    {"LeakyRelu", 1, {0.3f, 0}, NULL},
    {"Sigmoid", 0, {0, 0}, NULL},
    {"HardSigmoid", 2, {0.25f, 0.4f}, NULL},
    {"HardSwish", 0, {0, 0}, NULL},
    {"Gelu", 0, {0, 0}, NULL},
    {"Gelu", 0, {0, 0}, "tanh"},
    {"Silu", 0, {0, 0}, NULL},
    {"Tanh", 0, {0, 0}, NULL},
};
enum { N_ACT_CASES = sizeof(act_cases) / sizeof(act_cases[0]) };

/* Appends the standard-op form of c applied to x (as exporters write it;
 * SiLU as x * Sigmoid(x)). */
static sinter_value_t *std_act(sinter_graph_t *g, sinter_value_t *x, sinter_dtype_t dt,
                               const act_case_t *c) {
  sinter_node_t *n;
  if (!c->activation) return x;
  const char *a = c->activation;
  if (!strcmp(a, "Relu")) return node1(g, SINTER_OP_RELU, x);
  if (!strcmp(a, "Sigmoid")) return node1(g, SINTER_OP_SIGMOID, x);
  if (!strcmp(a, "HardSwish")) return node1(g, SINTER_OP_HARD_SWISH, x);
  if (!strcmp(a, "Tanh")) return node1(g, SINTER_OP_TANH, x);
  if (!strcmp(a, "Silu")) return node2(g, SINTER_OP_MUL, x, node1(g, SINTER_OP_SIGMOID, x));
  if (!strcmp(a, "Clip")) {
    sinter_value_t *ins[3] = {x, NULL, NULL};
    if (!isinf(c->params[0])) ins[1] = scalar(g, dt, c->params[0]);
    if (!isinf(c->params[1])) ins[2] = scalar(g, dt, c->params[1]);
    return node(g, SINTER_OP_CLIP, ins, 3, NULL);
  }
  if (!strcmp(a, "LeakyRelu")) {
    sinter_value_t *y = node(g, SINTER_OP_LEAKY_RELU, &x, 1, &n);
    ok(sinter_node_set_attr_float(n, "alpha", c->params[0]));
    return y;
  }
  if (!strcmp(a, "HardSigmoid")) {
    sinter_value_t *y = node(g, SINTER_OP_HARD_SIGMOID, &x, 1, &n);
    ok(sinter_node_set_attr_float(n, "alpha", c->params[0]));
    ok(sinter_node_set_attr_float(n, "beta", c->params[1]));
    return y;
  }
  ck_assert_str_eq(a, "Gelu");
  sinter_value_t *y = node(g, SINTER_OP_GELU, &x, 1, &n);
  if (c->approximate) ok(sinter_node_set_attr_string(n, "approximate", c->approximate, 4));
  return y;
}

static void set_epilogue(sinter_node_t *n, const act_case_t *c) {
  if (!c->activation) return;
  ok(sinter_node_set_attr_string(n, "activation", c->activation, strlen(c->activation)));
  if (c->n_params) ok(sinter_node_set_attr_floats(n, "activation_params", c->params, c->n_params));
  if (c->approximate) ok(sinter_node_set_attr_string(n, "approximate", c->approximate, 4));
}

static void set_ints(sinter_node_t *n, const char *name, int64_t a, int64_t b) {
  int64_t v[4] = {a, b, a, b};
  ok(sinter_node_set_attr_ints(n, name, v, strcmp(name, "pads") == 0 ? 4 : 2));
}

/* ---- kernels: hand-computed values ---------------------------------------------- */

/* FusedMatMul: [[1,2],[3,4]] @ [[1,-1],[2,0]] = [[5,-1],[11,-3]], + bias
 * [-6, 2] = [[-1,1],[5,-1]], Relu -> [[0,1],[5,0]]. */
START_TEST(kernel_fused_matmul_by_hand) {
  sinter_graph_t *g;
  ok(sinter_graph_create("g", &g));
  int64_t d2[2] = {2, 2}, d1[1] = {2};
  sinter_type_t ta = ty(SINTER_DTYPE_F32, 2, d2);
  sinter_value_t *a;
  ok(sinter_graph_add_input(g, "a", &ta, &a));
  sinter_value_t *ins[3] = {a, const_f32(g, 2, d2, (float[]){1, -1, 2, 0}),
                            const_f32(g, 1, d1, (float[]){-6, 2})};
  sinter_node_t *n;
  sinter_value_t *y = node(g, SINTER_OP_FUSED_MATMUL, ins, 3, &n);
  ok(sinter_node_set_attr_string(n, "activation", "Relu", 4));
  ok(sinter_graph_add_output(g, y));
  ok(sinter_graph_infer_shapes(g));
  ok(sinter_graph_verify(g));
  float av[4] = {1, 2, 3, 4};
  sinter_tensor_t in = {
      .dtype = SINTER_DTYPE_F32, .rank = 2, .dims = {2, 2}, .data = av, .nbytes = sizeof(av)};
  sinter_tensor_t out;
  interp(g, &in, 1, &out);
  const float want[4] = {0, 1, 5, 0};
  ck_assert_mem_eq(out.data, want, sizeof(want)); /* small integers: exact */
  sinter_tensor_free_data(&out);
  sinter_graph_destroy(g);
}
END_TEST

/* FusedConv 1x1 with bias and Clip(0, 2): x = [-2, -1, 1, 3];
 * channel 0 = x + 0.5 = [-1.5, -0.5, 1.5, 3.5] -> [0, 0, 1.5, 2];
 * channel 1 = -x = [2, 1, -1, -3] -> [2, 1, 0, 0]. FusedGemm with LeakyRelu
 * 0.125: [1, -4] @ I + [0, 0] -> [1, -0.5]. */
START_TEST(kernel_fused_conv_gemm_by_hand) {
  sinter_graph_t *g;
  ok(sinter_graph_create("g", &g));
  int64_t xd[4] = {1, 1, 2, 2}, wd[4] = {2, 1, 1, 1}, bd[1] = {2}, ad[2] = {1, 2}, id[2] = {2, 2};
  sinter_type_t tx = ty(SINTER_DTYPE_F32, 4, xd), tg = ty(SINTER_DTYPE_F32, 2, ad);
  sinter_value_t *x, *a;
  ok(sinter_graph_add_input(g, "x", &tx, &x));
  ok(sinter_graph_add_input(g, "a", &tg, &a));
  sinter_value_t *cins[3] = {x, const_f32(g, 4, wd, (float[]){1, -1}),
                             const_f32(g, 1, bd, (float[]){0.5f, 0})};
  sinter_node_t *c, *m;
  sinter_value_t *y = node(g, SINTER_OP_FUSED_CONV, cins, 3, &c);
  act_case_t clip = {"Clip", 2, {0, 2}, NULL};
  set_epilogue(c, &clip);
  sinter_value_t *gins[3] = {a, const_f32(g, 2, id, (float[]){1, 0, 0, 1}),
                             const_f32(g, 1, bd, (float[]){0, 0})};
  sinter_value_t *z = node(g, SINTER_OP_FUSED_GEMM, gins, 3, &m);
  act_case_t leaky = {"LeakyRelu", 1, {0.125f, 0}, NULL};
  set_epilogue(m, &leaky);
  ok(sinter_node_set_attr_int(m, "transB", 1));
  ok(sinter_graph_add_output(g, y));
  ok(sinter_graph_add_output(g, z));
  ok(sinter_graph_infer_shapes(g));
  ok(sinter_graph_verify(g));
  float xv[4] = {-2, -1, 1, 3}, av[2] = {1, -4};
  sinter_tensor_t in[2] = {
      {.dtype = SINTER_DTYPE_F32, .rank = 4, .dims = {1, 1, 2, 2}, .data = xv, .nbytes = 16},
      {.dtype = SINTER_DTYPE_F32, .rank = 2, .dims = {1, 2}, .data = av, .nbytes = 8}};
  sinter_tensor_t out[2];
  interp(g, in, 2, out);
  const float want_c[8] = {0, 0, 1.5f, 2, 2, 1, 0, 0}, want_g[2] = {1, -0.5f};
  ck_assert_mem_eq(out[0].data, want_c, sizeof(want_c)); /* exact binary fractions */
  ck_assert_mem_eq(out[1].data, want_g, sizeof(want_g));
  free_outs(out, 2);
  sinter_graph_destroy(g);
}
END_TEST

/* FusedConv with a residual Z (a graph input) and Relu: the 1x1 conv of
 * x = [-2, -1, 1, 3] with weights [1, -1] and bias [0.5, 0] gives channel 0
 * [-1.5, -0.5, 1.5, 3.5] and channel 1 [2, 1, -1, -3]; adding
 * Z = [1, 1, -2, -2 | -3, 0, 0, 4] gives [-0.5, 0.5, -0.5, 1.5 | -1, 1, -1, 1],
 * and Relu [0, 0.5, 0, 1.5 | 0, 1, 0, 1]. Without a bias ("_" for B) and
 * without an activation the same conv gives [-2, -1, 1, 3 | 2, 1, -1, -3]
 * + Z = [-1, 0, -1, 1 | -1, 1, -1, 1]. */
START_TEST(kernel_fused_conv_residual_by_hand) {
  sinter_graph_t *g;
  ok(sinter_graph_create("g", &g));
  int64_t xd[4] = {1, 1, 2, 2}, zd[4] = {1, 2, 2, 2}, wd[4] = {2, 1, 1, 1}, bd[1] = {2};
  sinter_type_t tx = ty(SINTER_DTYPE_F32, 4, xd), tz = ty(SINTER_DTYPE_F32, 4, zd);
  sinter_value_t *x, *z;
  ok(sinter_graph_add_input(g, "x", &tx, &x));
  ok(sinter_graph_add_input(g, "z", &tz, &z));
  sinter_value_t *w = const_f32(g, 4, wd, (float[]){1, -1});
  sinter_value_t *ins[4] = {x, w, const_f32(g, 1, bd, (float[]){0.5f, 0}), z};
  sinter_node_t *n;
  sinter_value_t *y = node(g, SINTER_OP_FUSED_CONV, ins, 4, &n);
  ok(sinter_node_set_attr_string(n, "activation", "Relu", 4));
  sinter_value_t *ins2[4] = {x, w, NULL, z};
  sinter_value_t *y2 = node(g, SINTER_OP_FUSED_CONV, ins2, 4, NULL);
  ok(sinter_graph_add_output(g, y));
  ok(sinter_graph_add_output(g, y2));
  ok(sinter_graph_infer_shapes(g));
  ok(sinter_graph_verify(g));
  float xv[4] = {-2, -1, 1, 3}, zv[8] = {1, 1, -2, -2, -3, 0, 0, 4};
  sinter_tensor_t in[2] = {
      {.dtype = SINTER_DTYPE_F32, .rank = 4, .dims = {1, 1, 2, 2}, .data = xv, .nbytes = 16},
      {.dtype = SINTER_DTYPE_F32, .rank = 4, .dims = {1, 2, 2, 2}, .data = zv, .nbytes = 32}};
  sinter_tensor_t out[2];
  interp(g, in, 2, out);
  expect_dims(&out[0], 4, zd);
  const float want[8] = {0, 0.5f, 0, 1.5f, 0, 1, 0, 1}, want2[8] = {-1, 0, -1, 1, -1, 1, -1, 1};
  ck_assert_mem_eq(out[0].data, want, sizeof(want)); /* exact binary fractions */
  ck_assert_mem_eq(out[1].data, want2, sizeof(want2));
  free_outs(out, 2);
  sinter_graph_destroy(g);
}
END_TEST

/* Malformed epilogues fail shape inference with a clear reason. */
START_TEST(kernel_bad_attributes) {
  const char *bad[][3] = {
      {"Swish", NULL, "activation 'Swish' is not"},
      {"Clip", "1", "activation_params has 1 entries, but Clip takes 2"},
      {"Relu", "2", "activation_params has 2 entries, but Relu takes 0"},
  };
  for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    sinter_graph_t *g;
    ok(sinter_graph_create("g", &g));
    int64_t xd[3] = {1, 1, 4}, wd[3] = {1, 1, 1};
    sinter_type_t tx = ty(SINTER_DTYPE_F32, 3, xd);
    sinter_value_t *x;
    ok(sinter_graph_add_input(g, "x", &tx, &x));
    sinter_value_t *ins[2] = {x, const_f32(g, 3, wd, (float[]){1})};
    sinter_node_t *n;
    ok(sinter_graph_add_output(g, node(g, SINTER_OP_FUSED_CONV, ins, 2, &n)));
    ok(sinter_node_set_attr_string(n, "activation", bad[k][0], strlen(bad[k][0])));
    if (bad[k][1]) {
      float p[2] = {0, 1};
      ok(sinter_node_set_attr_floats(n, "activation_params", p, atoi(bad[k][1])));
    }
    sinter_status_t st = sinter_graph_infer_shapes(g);
    ck_assert_ptr_nonnull(st);
    ck_assert_msg(strstr(sinter_status_message(st), bad[k][2]), "message: %s",
                  sinter_status_message(st));
    sinter_status_free(st);
    sinter_graph_destroy(g);
  }
  /* A FusedMatMul bias must match the product's last dim. */
  sinter_graph_t *g;
  ok(sinter_graph_create("g", &g));
  int64_t ad[2] = {2, 3}, wd[2] = {3, 4}, bd[1] = {3};
  sinter_type_t ta = ty(SINTER_DTYPE_F32, 2, ad);
  sinter_value_t *a;
  ok(sinter_graph_add_input(g, "a", &ta, &a));
  sinter_value_t *ins[3] = {a, rand_const(g, SINTER_DTYPE_F32, 2, wd, -1, 1),
                            rand_const(g, SINTER_DTYPE_F32, 1, bd, -1, 1)};
  ok(sinter_graph_add_output(g, node(g, SINTER_OP_FUSED_MATMUL, ins, 3, NULL)));
  sinter_status_t st = sinter_graph_infer_shapes(g);
  ck_assert_ptr_nonnull(st);
  ck_assert_msg(strstr(sinter_status_message(st), "bias has 3 elements"), "message: %s",
                sinter_status_message(st));
  sinter_status_free(st);
  sinter_graph_destroy(g);
  /* A FusedConv residual Z must have the conv output's dtype, rank and dims
   * ([1,2,4] here): no broadcasting. */
  static const struct {
    sinter_dtype_t dt;
    int32_t rank;
    int64_t dims[3];
    const char *msg;
  } bad_z[] = {
      {SINTER_DTYPE_F32, 3, {1, 2, 1}, "dim 2 is 1, not 4"},
      {SINTER_DTYPE_F32, 2, {2, 4}, "residual Z has rank 2"},
      {SINTER_DTYPE_F16, 3, {1, 2, 4}, "residual Z has dtype f16"},
  };
  for (size_t k = 0; k < sizeof(bad_z) / sizeof(bad_z[0]); k++) {
    ok(sinter_graph_create("g", &g));
    int64_t xd[3] = {1, 1, 4}, cw[3] = {2, 1, 1};
    sinter_type_t tx = ty(SINTER_DTYPE_F32, 3, xd),
                  tz = ty(bad_z[k].dt, bad_z[k].rank, bad_z[k].dims);
    sinter_value_t *x, *z;
    ok(sinter_graph_add_input(g, "x", &tx, &x));
    ok(sinter_graph_add_input(g, "z", &tz, &z));
    sinter_value_t *cins[4] = {x, const_f32(g, 3, cw, (float[]){1, 2}), NULL, z};
    ok(sinter_graph_add_output(g, node(g, SINTER_OP_FUSED_CONV, cins, 4, NULL)));
    st = sinter_graph_infer_shapes(g);
    ck_assert_ptr_nonnull(st);
    ck_assert_msg(strstr(sinter_status_message(st), bad_z[k].msg), "message: %s",
                  sinter_status_message(st));
    sinter_status_free(st);
    sinter_graph_destroy(g);
  }
}
END_TEST

/* ---- kernels against the unfused graphs ----------------------------------------- */

/* FAM_CONV_Z: a 3x3 Conv whose output is added to a second, earlier 1x1 Conv
 * of the same input (a ResNet downsample block) before the epilogue. */
typedef enum family_e { FAM_CONV, FAM_GEMM, FAM_MATMUL, FAM_CONV_Z, FAM_COUNT } family_t;

/* Builds x -> linear op -> epilogue, either as the fused op (fused) or as the
 * standard ops; same constants for the same rng seed. */
static sinter_graph_t *build_linear(family_t fam, sinter_dtype_t dt, const act_case_t *c,
                                    bool fused, sinter_tensor_t *out_input) {
  rng = 12345;
  sinter_graph_t *g;
  ok(sinter_graph_create("g", &g));
  static const int64_t cx[4] = {2, 3, 7, 7}, cw[4] = {4, 3, 3, 3}, cb[1] = {4};
  static const int64_t gx[2] = {5, 6}, gw[2] = {4, 6}, gc[2] = {1, 4};
  static const int64_t mx[3] = {2, 5, 6}, mw[2] = {6, 4}, mb[1] = {4};
  static const int64_t zw[4] = {4, 3, 1, 1};
  bool conv = fam == FAM_CONV || fam == FAM_CONV_Z;
  const int64_t *xd = conv ? cx : fam == FAM_GEMM ? gx : mx;
  int32_t xr = conv ? 4 : fam == FAM_GEMM ? 2 : 3;
  sinter_type_t tx = ty(dt, xr, xd);
  sinter_value_t *x, *y;
  ok(sinter_graph_add_input(g, "x", &tx, &x));
  *out_input = rand_tensor(dt, xr, xd);
  sinter_node_t *n;
  if (conv) {
    /* The residual: a 1x1 conv with the same strides, so the same [2,4,7,4]. */
    sinter_value_t *z = NULL;
    if (fam == FAM_CONV_Z) {
      sinter_value_t *zins[3] = {x, rand_const(g, dt, 4, zw, -0.5f, 0.5f),
                                 rand_const(g, dt, 1, cb, -1, 1)};
      z = node(g, SINTER_OP_CONV, zins, 3, &n);
      set_ints(n, "strides", 1, 2);
    }
    sinter_value_t *ins[4] = {x, rand_const(g, dt, 4, cw, -0.5f, 0.5f),
                              rand_const(g, dt, 1, cb, -1, 1), z};
    y = node(g, fused ? SINTER_OP_FUSED_CONV : SINTER_OP_CONV, ins, fused && z ? 4 : 3, &n);
    set_ints(n, "pads", 1, 1);
    set_ints(n, "strides", 1, 2);
    if (z && !fused) y = node2(g, SINTER_OP_ADD, y, z);
  } else if (fam == FAM_GEMM) {
    sinter_value_t *ins[3] = {x, rand_const(g, dt, 2, gw, -0.5f, 0.5f),
                              rand_const(g, dt, 2, gc, -1, 1)};
    y = node(g, fused ? SINTER_OP_FUSED_GEMM : SINTER_OP_GEMM, ins, 3, &n);
    ok(sinter_node_set_attr_int(n, "transB", 1));
    ok(sinter_node_set_attr_float(n, "alpha", 0.75f));
  } else {
    sinter_value_t *w = rand_const(g, dt, 2, mw, -0.5f, 0.5f);
    sinter_value_t *b = rand_const(g, dt, 1, mb, -1, 1);
    sinter_value_t *ins[3] = {x, w, b};
    y = fused ? node(g, SINTER_OP_FUSED_MATMUL, ins, 3, &n)
              : node2(g, SINTER_OP_ADD, node(g, SINTER_OP_MATMUL, ins, 2, &n), b);
  }
  if (fused)
    set_epilogue(n, c);
  else
    y = std_act(g, y, dt, c);
  ok(sinter_graph_add_output(g, y));
  ok(sinter_graph_infer_shapes(g));
  ok(sinter_graph_verify(g));
  return g;
}

/* Each fused op with each epilogue equals Conv/Gemm/MatMul+Add (Conv+Add of
 * the residual) followed by the standard activation ops. The kernels share the
 * linear part and use the same f32 formulas, so the bound 1e-6 of max |ref|
 * only leaves room for libm. */
static void check_family(family_t fam) {
  for (int k = 0; k < N_ACT_CASES; k++) {
    sinter_tensor_t in1, in2, ref, got;
    sinter_graph_t *g1 = build_linear(fam, SINTER_DTYPE_F32, &act_cases[k], false, &in1);
    sinter_graph_t *g2 = build_linear(fam, SINTER_DTYPE_F32, &act_cases[k], true, &in2);
    interp(g1, &in1, 1, &ref);
    interp(g2, &in2, 1, &got);
    double e = rel_err(&ref, &got);
    ck_assert_msg(e <= 1e-6, "family %d, case %d (%s): rel err %g", fam, k,
                  act_cases[k].activation ? act_cases[k].activation : "none", e);
    sinter_tensor_free_data(&ref);
    sinter_tensor_free_data(&got);
    free(in1.data);
    free(in2.data);
    sinter_graph_destroy(g1);
    sinter_graph_destroy(g2);
  }
}

START_TEST(kernel_conv_vs_unfused) {
  check_family(FAM_CONV);
}
END_TEST
START_TEST(kernel_gemm_vs_unfused) {
  check_family(FAM_GEMM);
}
END_TEST
START_TEST(kernel_matmul_vs_unfused) {
  check_family(FAM_MATMUL);
}
END_TEST
START_TEST(kernel_conv_residual_vs_unfused) {
  check_family(FAM_CONV_Z);
}
END_TEST

/* f16: both graphs compute in f32 and round to f16 at the same points, so
 * they agree to f16 resolution (2^-11 relative); 2e-3 of max |ref| allows a
 * rounding flip on the largest values. */
START_TEST(kernel_f16_vs_unfused) {
  for (int fam = FAM_CONV; fam < FAM_COUNT; fam++)
    for (int k = 0; k < N_ACT_CASES; k++) {
      sinter_tensor_t in1, in2, ref, got;
      sinter_graph_t *g1 = build_linear(fam, SINTER_DTYPE_F16, &act_cases[k], false, &in1);
      sinter_graph_t *g2 = build_linear(fam, SINTER_DTYPE_F16, &act_cases[k], true, &in2);
      interp(g1, &in1, 1, &ref);
      interp(g2, &in2, 1, &got);
      double e = rel_err(&ref, &got);
      ck_assert_msg(e <= 2e-3, "family %d, case %d: rel err %g", fam, k, e);
      sinter_tensor_free_data(&ref);
      sinter_tensor_free_data(&got);
      free(in1.data);
      free(in2.data);
      sinter_graph_destroy(g1);
      sinter_graph_destroy(g2);
    }
}
END_TEST

/* ---- the passes: fuse, then decompose, on every epilogue -------------------------- */

/* The standard graph fuses into exactly one fused op whose output equals the
 * original's, and decomposing it back gives standard ops again with the same
 * output. With a residual the later (3x3) conv fuses, taking the 1x1 conv's
 * output as Z, and the decomposed graph fuses the same way again. f32: 1e-6
 * of max |ref| fused (only MatMul's bias Add moves into the
 * kernel, in the same f32 order), 1e-5 decomposed (Gelu becomes the erf or
 * tanh chain rather than the kernel's erfc form, a few f32 roundings apart).
 * f16: the unfused graphs round to f16 after every op (2^-11 relative each;
 * SiLU rounds its sigmoid before the Mul, Gelu's decomposed chain after each
 * of five ops), so 2e-3 of max |ref| allows a few roundings either way. */
/* The graph is the 1x1 Conv, then a FusedConv of the 3x3 weights taking
 * that Conv's output as Z. */
static void check_residual_fusion(const sinter_graph_t *g) {
  sinter_node_t *first = sinter_graph_first_node(g), *second = sinter_node_next(first);
  ck_assert_int_eq(sinter_node_op(first), SINTER_OP_CONV);
  ck_assert_int_eq(sinter_node_op(second), SINTER_OP_FUSED_CONV);
  ck_assert_int_eq(sinter_node_num_inputs(second), 4);
  ck_assert_ptr_eq(sinter_node_input(second, 3), sinter_node_output(first, 0));
  ck_assert_int_eq(sinter_value_type(sinter_node_input(second, 1))->dims[2].size, 3);
}

static void fuse_then_decompose(sinter_dtype_t dt, double tol_fused, double tol_dec) {
  static const sinter_op_t fused_op[FAM_COUNT] = {SINTER_OP_FUSED_CONV, SINTER_OP_FUSED_GEMM,
                                                  SINTER_OP_FUSED_MATMUL, SINTER_OP_FUSED_CONV};
  for (int fam = FAM_CONV; fam < FAM_COUNT; fam++)
    for (int k = 0; k < N_ACT_CASES; k++) {
      const act_case_t *c = &act_cases[k];
      sinter_tensor_t in, ref, got, dec;
      sinter_graph_t *g = build_linear(fam, dt, c, false, &in);
      interp(g, &in, 1, &ref);
      run_pipeline(g, "fuse-conv-act,fuse-gemm-act");
      /* A Conv or Gemm without activation has nothing to fuse; MatMul + Add
       * always becomes FusedMatMul. */
      int want = c->activation || fam == FAM_MATMUL ? 1 : 0;
      ck_assert_int_eq(count_op(g, fused_op[fam]), want);
      /* The residual's own conv stays; unfused, so does the Add. */
      int nodes = fam != FAM_CONV_Z ? 1 : want ? 2 : 3;
      ck_assert_int_eq(sinter_graph_num_nodes(g), nodes);
      if (fam == FAM_CONV_Z && want) check_residual_fusion(g);
      interp(g, &in, 1, &got);
      double e = rel_err(&ref, &got);
      ck_assert_msg(e <= tol_fused, "family %d case %d fused: rel err %g", fam, k, e);
      run_pipeline(g, "decompose-fused");
      ck_assert_int_eq(count_domain(g, "ai.sinter"), 0);
      interp(g, &in, 1, &dec);
      e = rel_err(&ref, &dec);
      ck_assert_msg(e <= tol_dec, "family %d case %d decomposed: rel err %g", fam, k, e);
      if (fam == FAM_CONV_Z && want) {
        /* Conv, Conv, Add and the activation's ops fuse back the same way. */
        ck_assert_int_eq(count_op(g, SINTER_OP_CONV), 2);
        ck_assert_int_eq(count_op(g, SINTER_OP_ADD) >= 1, 1);
        run_pipeline(g, "fuse-gelu,fuse-conv-act"); /* Gelu comes back as its erf chain */
        ck_assert_int_eq(sinter_graph_num_nodes(g), 2);
        check_residual_fusion(g);
      }
      sinter_tensor_free_data(&ref);
      sinter_tensor_free_data(&got);
      sinter_tensor_free_data(&dec);
      free(in.data);
      sinter_graph_destroy(g);
    }
}

START_TEST(fuse_then_decompose_each_activation) {
  fuse_then_decompose(SINTER_DTYPE_F32, 1e-6, 1e-5);
}
END_TEST

START_TEST(fuse_then_decompose_f16) {
  fuse_then_decompose(SINTER_DTYPE_F16, 2e-3, 2e-3);
}
END_TEST

/* ---- fold-batchnorm on every producer, then fusion --------------------------------- */

/* A BatchNormalization of c channels with non-trivial statistics after x. */
static sinter_value_t *add_bn(sinter_graph_t *g, sinter_value_t *x, int64_t c) {
  sinter_value_t *ins[5] = {x, rand_const(g, SINTER_DTYPE_F32, 1, &c, 0.5f, 1.5f),
                            rand_const(g, SINTER_DTYPE_F32, 1, &c, -0.5f, 0.5f),
                            rand_const(g, SINTER_DTYPE_F32, 1, &c, -0.3f, 0.3f),
                            rand_const(g, SINTER_DTYPE_F32, 1, &c, 0.5f, 2.0f)};
  sinter_node_t *n;
  sinter_value_t *y = node(g, SINTER_OP_BATCH_NORMALIZATION, ins, 5, &n);
  ok(sinter_node_set_attr_float(n, "epsilon", 1e-3f));
  return y;
}

/* Conv+BN+Relu, grouped Conv(no bias)+BN+ReLU6, grouped ConvTranspose+BN+SiLU,
 * pool, Gemm(transB)+BN+LeakyRelu, Gemm+BN+Tanh, MatMul+Add+BN+HardSigmoid,
 * MatMul+BN. */
static sinter_graph_t *build_bn_net(sinter_tensor_t *input) {
  rng = 777;
  sinter_graph_t *g;
  ok(sinter_graph_create("g", &g));
  static const int64_t xd[4] = {2, 4, 6, 6};
  sinter_type_t tx = ty(SINTER_DTYPE_F32, 4, xd);
  sinter_value_t *x;
  ok(sinter_graph_add_input(g, "x", &tx, &x));
  *input = rand_tensor(SINTER_DTYPE_F32, 4, xd);
  sinter_node_t *n;
  int64_t w1[4] = {6, 4, 3, 3}, b1 = 6, w2[4] = {6, 3, 3, 3}, w3[4] = {6, 2, 2, 2}, b3 = 4;
  sinter_value_t *ins[3] = {x, rand_const(g, SINTER_DTYPE_F32, 4, w1, -0.3f, 0.3f),
                            rand_const(g, SINTER_DTYPE_F32, 1, &b1, -0.5f, 0.5f)};
  sinter_value_t *y = node(g, SINTER_OP_CONV, ins, 3, &n);
  set_ints(n, "pads", 1, 1);
  y = node1(g, SINTER_OP_RELU, add_bn(g, y, 6));
  sinter_value_t *ins2[2] = {y, rand_const(g, SINTER_DTYPE_F32, 4, w2, -0.3f, 0.3f)};
  y = node(g, SINTER_OP_CONV, ins2, 2, &n);
  ok(sinter_node_set_attr_int(n, "group", 2));
  set_ints(n, "pads", 1, 1);
  sinter_value_t *cl[3] = {add_bn(g, y, 6), scalar(g, SINTER_DTYPE_F32, 0),
                           scalar(g, SINTER_DTYPE_F32, 6)};
  y = node(g, SINTER_OP_CLIP, cl, 3, NULL);
  sinter_value_t *ins3[3] = {y, rand_const(g, SINTER_DTYPE_F32, 4, w3, -0.3f, 0.3f),
                             rand_const(g, SINTER_DTYPE_F32, 1, &b3, -0.5f, 0.5f)};
  y = node(g, SINTER_OP_CONV_TRANSPOSE, ins3, 3, &n);
  ok(sinter_node_set_attr_int(n, "group", 2));
  set_ints(n, "strides", 2, 2);
  y = add_bn(g, y, 4);
  y = node2(g, SINTER_OP_MUL, node1(g, SINTER_OP_SIGMOID, y), y);
  y = node1(g, SINTER_OP_GLOBAL_AVERAGE_POOL, y);
  y = node1(g, SINTER_OP_FLATTEN, y); /* [2, 4] */
  int64_t gw1[2] = {5, 4}, gc1 = 5, gw2[2] = {5, 3}, mw1[2] = {3, 3}, mb1 = 3, mw2[2] = {3, 2};
  sinter_value_t *gi1[3] = {y, rand_const(g, SINTER_DTYPE_F32, 2, gw1, -1, 1),
                            rand_const(g, SINTER_DTYPE_F32, 1, &gc1, -0.5f, 0.5f)};
  y = node(g, SINTER_OP_GEMM, gi1, 3, &n);
  ok(sinter_node_set_attr_int(n, "transB", 1));
  ok(sinter_node_set_attr_float(n, "beta", 0.5f));
  y = node(g, SINTER_OP_LEAKY_RELU, (sinter_value_t *[]){add_bn(g, y, 5)}, 1, NULL);
  sinter_value_t *gi2[2] = {y, rand_const(g, SINTER_DTYPE_F32, 2, gw2, -1, 1)};
  y = node1(g, SINTER_OP_TANH, add_bn(g, node(g, SINTER_OP_GEMM, gi2, 2, NULL), 3));
  sinter_value_t *mm =
      node2(g, SINTER_OP_MATMUL, y, rand_const(g, SINTER_DTYPE_F32, 2, mw1, -1, 1));
  y = node2(g, SINTER_OP_ADD, rand_const(g, SINTER_DTYPE_F32, 1, &mb1, -0.5f, 0.5f), mm);
  y = node1(g, SINTER_OP_HARD_SIGMOID, add_bn(g, y, 3));
  y = add_bn(g, node2(g, SINTER_OP_MATMUL, y, rand_const(g, SINTER_DTYPE_F32, 2, mw2, -1, 1)), 2);
  ok(sinter_graph_add_output(g, y));
  ok(sinter_graph_infer_shapes(g));
  ok(sinter_graph_verify(g));
  return g;
}

/* Every BN folds and every epilogue fuses; the outputs match the original
 * within 1e-5 of max |ref| (the folded weights are rounded products, and the
 * bias sums reassociate: a few f32 ulps per layer over 7 layers), before and
 * after decomposing back into standard ONNX. */
START_TEST(fold_and_fuse_numeric) {
  sinter_tensor_t in, ref, got, dec;
  sinter_graph_t *g = build_bn_net(&in);
  ck_assert_int_eq(count_op(g, SINTER_OP_BATCH_NORMALIZATION), 7);
  interp(g, &in, 1, &ref);
  optimize(g);
  ck_assert_int_eq(count_op(g, SINTER_OP_BATCH_NORMALIZATION), 0);
  ck_assert_int_eq(count_op(g, SINTER_OP_FUSED_CONV), 2);
  ck_assert_int_eq(count_op(g, SINTER_OP_CONV), 0);
  ck_assert_int_eq(count_op(g, SINTER_OP_CONV_TRANSPOSE), 1); /* its SiLU stays separate */
  ck_assert_int_eq(count_op(g, SINTER_OP_FUSED_GEMM), 2);
  ck_assert_int_eq(count_op(g, SINTER_OP_FUSED_MATMUL), 2);
  ck_assert_int_eq(count_op(g, SINTER_OP_RELU) + count_op(g, SINTER_OP_CLIP) +
                       count_op(g, SINTER_OP_LEAKY_RELU) + count_op(g, SINTER_OP_TANH) +
                       count_op(g, SINTER_OP_HARD_SIGMOID),
                   0);
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n))
    if (sinter_node_op(n) == SINTER_OP_FUSED_CONV) ck_assert_int_eq(sinter_node_num_inputs(n), 3);
  interp(g, &in, 1, &got);
  double e = rel_err(&ref, &got);
  ck_assert_msg(e <= 1e-5, "fused: rel err %g", e);
  run_pipeline(g, "decompose-fused");
  ck_assert_int_eq(count_domain(g, "ai.sinter"), 0);
  interp(g, &in, 1, &dec);
  e = rel_err(&ref, &dec);
  ck_assert_msg(e <= 1e-5, "decomposed: rel err %g", e);
  sinter_tensor_free_data(&ref);
  sinter_tensor_free_data(&got);
  sinter_tensor_free_data(&dec);
  free(in.data);
  sinter_graph_destroy(g);
}
END_TEST

/* The same output and structure for the same input: the passes do not depend
 * on addresses or hash order. */
START_TEST(deterministic) {
  char *text[2];
  for (int k = 0; k < 2; k++) {
    sinter_tensor_t in;
    sinter_graph_t *g = build_bn_net(&in);
    optimize(g);
    size_t len;
    ok(sinter_graph_print_to_string(g, false, &text[k], &len));
    free(in.data);
    sinter_graph_destroy(g);
  }
  ck_assert_str_eq(text[0], text[1]);
  free(text[0]);
  free(text[1]);
}
END_TEST

/* ---- shared models ----------------------------------------------------------------- */

static const char *models_dir(void) {
  static char path[4096];
  const char *env = getenv("SINTER_MODELS_DIR");
  snprintf(path, sizeof(path), "%s", env ? env : SINTER_SOURCE_DIR "/../shared/models");
  return path;
}

/* Imports a shared model and its first test input; false (skip) when absent. */
static bool load_model(const char *name, sinter_graph_t **g, sinter_tensor_t *input) {
  char model[4200], in[4200];
  snprintf(model, sizeof(model), "%s/%s/model.onnx", models_dir(), name);
  snprintf(in, sizeof(in), "%s/%s/test_data_set_0/input_0.pb", models_dir(), name);
  struct stat st;
  if (stat(model, &st) != 0 || stat(in, &st) != 0) {
    printf("skip %s: %s or its test data is absent\n", name, model);
    return false;
  }
  ok(sinter_onnx_import_file(model, g));
  ok(sinter_onnx_read_tensor_file(in, input, NULL));
  return true;
}

/* Inserts a BatchNormalization with random statistics after every Conv, as
 * an exporter would leave a Conv-BN model that was not folded at export. */
static void insert_bns(sinter_graph_t *g) {
  rng = 4242;
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n)) {
    if (sinter_node_op(n) != SINTER_OP_CONV) continue;
    sinter_value_t *y = sinter_node_output(n, 0);
    int64_t c = sinter_value_type(y)->dims[1].size;
    /* Collect the users first: the BN itself becomes a user of y. */
    int32_t nu = sinter_value_num_uses(y);
    sinter_node_t *users[64];
    int32_t slots[64];
    ck_assert_int_le(nu, 64);
    for (int32_t i = 0; i < nu; i++) users[i] = sinter_value_use(y, i, &slots[i]);
    sinter_value_t *ins[5] = {y, rand_const(g, SINTER_DTYPE_F32, 1, &c, 0.5f, 1.5f),
                              rand_const(g, SINTER_DTYPE_F32, 1, &c, -0.5f, 0.5f),
                              rand_const(g, SINTER_DTYPE_F32, 1, &c, -0.3f, 0.3f),
                              rand_const(g, SINTER_DTYPE_F32, 1, &c, 0.5f, 2.0f)};
    sinter_node_t *bn;
    ok(sinter_graph_insert_node(g, sinter_node_next(n), SINTER_OP_BATCH_NORMALIZATION, "bn", ins, 5,
                                1, &bn));
    for (int32_t i = 0; i < nu; i++)
      ok(sinter_node_set_input(users[i], slots[i], sinter_node_output(bn, 0)));
    n = bn;
  }
  ok(sinter_graph_infer_shapes(g));
  ok(sinter_graph_verify(g));
}

/* True when some Conv's output feeds act directly: an epilogue left unfused. */
static bool conv_then(const sinter_graph_t *g, sinter_op_t act) {
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n)) {
    if (sinter_node_op(n) != act) continue;
    sinter_node_t *p = sinter_value_producer(sinter_node_input(n, 0), NULL);
    if (p && sinter_node_op(p) == SINTER_OP_CONV) return true;
  }
  return false;
}

/* What a model should look like after the passes, counted from its ONNX
 * file: convs that take the activation (directly or after a residual Add),
 * those of them that take a residual Z, and convs left plain. */
typedef struct model_want_s {
  const char *name;
  sinter_op_t act;      /* the model's activation op */
  const char *fused_as; /* the activation attribute it becomes */
  int fused_convs, residual_convs, plain_convs, acts_left;
} model_want_t;

/* resnet18 (torchvision): 20 Convs, 17 Relus. A Relu follows the stem conv
 * and the first conv of each of the 8 blocks (9 plain epilogues); the other 8
 * Relus follow the residual Adds, each of which takes the second conv of its
 * block (8 FusedConvs with Z), except that in the 3 downsample blocks the Add
 * sums two convs: the later one in graph order fuses (the 1x1 downsample conv
 * in this PyTorch export) and the other stays a Conv feeding Z (3 plain).
 * mobilenet_v2: 52 Convs, 35 Clips (ReLU6), each right after a conv; the 17
 * projection convs are linear, and its residual Adds have no activation. */
static const model_want_t models[] = {
    {"resnet18", SINTER_OP_RELU, "Relu", 17, 8, 3, 0},
    {"mobilenet_v2", SINTER_OP_CLIP, "Clip", 35, 0, 17, 0},
};

/* The FusedConvs that take a residual Z. */
static int count_residual(const sinter_graph_t *g) {
  int n = 0;
  for (sinter_node_t *x = sinter_graph_first_node(g); x; x = sinter_node_next(x))
    n += sinter_node_op(x) == SINTER_OP_FUSED_CONV && sinter_node_num_inputs(x) > 3 &&
         sinter_node_input(x, 3) != NULL;
  return n;
}

/* Checks the structure after the passes; prints the counts. */
static void check_structure(const sinter_graph_t *g, const model_want_t *w, const char *tag) {
  printf(
      "%s%s after: %d nodes, %d BatchNormalization, %d FusedConv (%d with Z), %d Conv, %d %s, "
      "%d Add, %d FusedGemm, %d Gemm\n",
      w->name, tag, sinter_graph_num_nodes(g), count_op(g, SINTER_OP_BATCH_NORMALIZATION),
      count_op(g, SINTER_OP_FUSED_CONV), count_residual(g), count_op(g, SINTER_OP_CONV),
      count_op(g, w->act), sinter_op_info(w->act)->name, count_op(g, SINTER_OP_ADD),
      count_op(g, SINTER_OP_FUSED_GEMM), count_op(g, SINTER_OP_GEMM));
  ck_assert_int_eq(count_op(g, SINTER_OP_BATCH_NORMALIZATION), 0);
  ck_assert_int_eq(count_op(g, SINTER_OP_FUSED_CONV), w->fused_convs);
  ck_assert_int_eq(count_op(g, SINTER_OP_CONV), w->plain_convs);
  ck_assert_int_eq(count_op(g, w->act), w->acts_left);
  ck_assert(!conv_then(g, w->act));
  int residual = 0;
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n)) {
    sinter_op_t op = sinter_node_op(n);
    if (op != SINTER_OP_FUSED_CONV && op != SINTER_OP_CONV) continue;
    /* Every conv carries its bias; only a FusedConv may take a Z. */
    int32_t n_in = sinter_node_num_inputs(n);
    ck_assert_int_eq(n_in, op == SINTER_OP_FUSED_CONV && n_in == 4 ? 4 : 3);
    ck_assert_ptr_nonnull(sinter_node_input(n, 2));
    if (n_in == 4) {
      ck_assert_ptr_nonnull(sinter_node_input(n, 3));
      residual++;
    }
    if (op != SINTER_OP_FUSED_CONV) continue;
    ck_assert_str_eq(sinter_node_attr_string(n, "activation", ""), w->fused_as);
    if (w->act == SINTER_OP_CLIP) {
      const sinter_attr_t *p = sinter_node_attr(n, "activation_params");
      ck_assert_ptr_nonnull(p);
      ck_assert_int_eq(p->count, 2);
      ck_assert(p->floats[0] == 0.0f && p->floats[1] == 6.0f); /* ReLU6 */
    }
  }
  ck_assert_int_eq(residual, w->residual_convs);
  /* A Conv left next to a residual FusedConv feeds its Z, and only that:
   * a residual Add summing two convs fuses one of them. */
  if (w->residual_convs > 0)
    for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n)) {
      if (sinter_node_op(n) != SINTER_OP_CONV) continue;
      sinter_value_t *y = sinter_node_output(n, 0);
      ck_assert_int_eq(sinter_value_num_uses(y), 1);
      int32_t slot;
      sinter_node_t *user = sinter_value_use(y, 0, &slot);
      ck_assert_int_eq(sinter_node_op(user), SINTER_OP_FUSED_CONV);
      ck_assert_int_eq(slot, 3);
    }
}

/* The interpreter's output after the passes, and after decomposing back into
 * standard ONNX, matches the original within 1e-4 of max |ref|: fp32
 * round-off over ~20-50 layers, where BN folding and bias sums reassociate. */
static void check_model(const model_want_t *w, bool with_bn) {
  sinter_graph_t *g;
  sinter_tensor_t input, ref, got, dec;
  if (!load_model(w->name, &g, &input)) return;
  const char *tag = with_bn ? " (BN after every conv)" : "";
  if (with_bn) insert_bns(g);
  printf("%s%s before: %d nodes, %d BatchNormalization, %d Conv, %d %s\n", w->name, tag,
         sinter_graph_num_nodes(g), count_op(g, SINTER_OP_BATCH_NORMALIZATION),
         count_op(g, SINTER_OP_CONV), count_op(g, w->act), sinter_op_info(w->act)->name);
  interp(g, &input, 1, &ref);
  optimize(g);
  check_structure(g, w, tag);
  interp(g, &input, 1, &got);
  double e = rel_err(&ref, &got);
  printf("%s%s: rel err after passes %.3g\n", w->name, tag, e);
  ck_assert_msg(e <= 1e-4, "%s: rel err %g after the passes", w->name, e);
  run_pipeline(g, "decompose-fused");
  ck_assert_int_eq(count_domain(g, "ai.sinter"), 0);
  interp(g, &input, 1, &dec);
  e = rel_err(&ref, &dec);
  printf("%s%s: rel err after decompose-fused %.3g\n", w->name, tag, e);
  ck_assert_msg(e <= 1e-4, "%s: rel err %g after decomposing", w->name, e);
  sinter_tensor_free_data(&ref);
  sinter_tensor_free_data(&got);
  sinter_tensor_free_data(&dec);
  sinter_tensor_free_data(&input);
  sinter_graph_destroy(g);
}

START_TEST(model_resnet18) {
  check_model(&models[0], false);
}
END_TEST
START_TEST(model_mobilenet_v2) {
  check_model(&models[1], false);
}
END_TEST
START_TEST(model_resnet18_with_bn) {
  check_model(&models[0], true);
}
END_TEST
START_TEST(model_mobilenet_v2_with_bn) {
  check_model(&models[1], true);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pass_fuse_act");
  TCase *tc = tcase_create("kernels");
  tcase_add_test(tc, kernel_fused_matmul_by_hand);
  tcase_add_test(tc, kernel_fused_conv_gemm_by_hand);
  tcase_add_test(tc, kernel_fused_conv_residual_by_hand);
  tcase_add_test(tc, kernel_bad_attributes);
  tcase_add_test(tc, kernel_conv_vs_unfused);
  tcase_add_test(tc, kernel_gemm_vs_unfused);
  tcase_add_test(tc, kernel_matmul_vs_unfused);
  tcase_add_test(tc, kernel_conv_residual_vs_unfused);
  tcase_add_test(tc, kernel_f16_vs_unfused);
  suite_add_tcase(s, tc);
  tc = tcase_create("passes");
  tcase_add_test(tc, fuse_then_decompose_each_activation);
  tcase_add_test(tc, fuse_then_decompose_f16);
  tcase_add_test(tc, fold_and_fuse_numeric);
  tcase_add_test(tc, deterministic);
  suite_add_tcase(s, tc);
  tc = tcase_create("models");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, model_resnet18);
  tcase_add_test(tc, model_mobilenet_v2);
  tcase_add_test(tc, model_resnet18_with_bn);
  tcase_add_test(tc, model_mobilenet_v2_with_bn);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
