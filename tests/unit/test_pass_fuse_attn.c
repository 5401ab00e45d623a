/* Tests for fuse-attention and fuse-elementwise and their ops (Attention, FusedElementwise):
 * the kernels against hand-checked values (numpy) and against the unfused graphs they replace,
 * the passes on the shared bert_tiny and tiny_llama models (interpreter outputs before and
 * after), and the decomposers' round trip back to standard ONNX ops. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "passes/pass_internal.h"
#include "sinter/onnx.h"
#include "tests/support/check_main.h"

#define MODELS SINTER_SOURCE_DIR "/../shared/models"

static void ok(sinter_status_t st) {
  ck_assert_msg(st == NULL, "unexpected error: %s", sinter_status_message(st));
}

static sinter_graph_t *parse(const char *text) {
  sinter_graph_t *g;
  ok(sinter_graph_parse(text, strlen(text), "test", &g));
  ok(sinter_graph_infer_shapes(g));
  ok(sinter_graph_verify(g));
  return g;
}

/* Runs g on inputs; the caller frees the outputs' data. */
static void run_graph(const sinter_graph_t *g, const sinter_tensor_t *in, int32_t n_in,
                      sinter_tensor_t *out) {
  sinter_interp_t *it;
  ok(sinter_interp_create(g, &it));
  ok(sinter_interp_run(it, in, n_in, out));
  sinter_interp_destroy(it);
}

static void free_all(sinter_tensor_t *t, int32_t n) {
  for (int32_t i = 0; i < n; i++) sinter_tensor_free_data(&t[i]);
}

static int32_t count_op(const sinter_graph_t *g, sinter_op_t op) {
  int32_t n = 0;
  for (sinter_node_t *nd = sinter_graph_first_node(g); nd; nd = sinter_node_next(nd))
    n += sinter_node_op(nd) == op;
  return n;
}

static void run_pass(sinter_graph_t *g, const sinter_pass_info_t *pass) {
  sinter_pass_counters_t c = {0};
  ok(pass->run(g, NULL, &c, NULL));
  ok(sinter_graph_verify(g));
}

/* Decomposes every Attention and FusedElementwise node back into standard ops. */
static void decompose_all(sinter_graph_t *g) {
  for (sinter_node_t *n = sinter_graph_first_node(g), *next; n; n = next) {
    next = sinter_node_next(n);
    if (sinter_node_op(n) == SINTER_OP_ATTENTION)
      ok(sinter_decompose_attention(g, n));
    else if (sinter_node_op(n) == SINTER_OP_FUSED_ELEMENTWISE)
      ok(sinter_decompose_fused_elementwise(g, n));
  }
  ok(sinter_graph_verify(g));
  ck_assert_int_eq(count_op(g, SINTER_OP_ATTENTION), 0);
  ck_assert_int_eq(count_op(g, SINTER_OP_FUSED_ELEMENTWISE), 0);
}

/* max |a - b| / max |ref| over two f32 tensors of one shape. */
static double rel_err(const sinter_tensor_t *ref, const sinter_tensor_t *got) {
  ck_assert_int_eq(ref->dtype, got->dtype);
  ck_assert_int_eq(ref->rank, got->rank);
  for (int32_t d = 0; d < ref->rank; d++) ck_assert_int_eq(ref->dims[d], got->dims[d]);
  int64_t n = sinter_tensor_numel(ref);
  float *a = sinter_tensor_to_f32(ref), *b = sinter_tensor_to_f32(got);
  double mx = 0, err = 0;
  for (int64_t i = 0; i < n; i++) {
    mx = fmax(mx, fabs(a[i]));
    err = fmax(err, fabs((double)a[i] - b[i]));
    ck_assert_msg(!isnan(a[i]) && !isnan(b[i]), "NaN at %lld", (long long)i);
  }
  free(a);
  free(b);
  return mx > 0 ? err / mx : err;
}

static bool bit_equal(const sinter_tensor_t *a, const sinter_tensor_t *b) {
  return a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0;
}

/* A deterministic uniform in [lo, hi). */
static float urand(uint64_t *s, float lo, float hi) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return lo + (hi - lo) * (float)((*s >> 40) & 0xffffff) / 16777216.0f;
}

/* Inputs of g filled with random values in [lo, hi) (static shapes from feed_dims when the
 * declared shape is symbolic). */
typedef struct feeds_s {
  sinter_tensor_t t[8];
  int32_t n;
} feeds_t;

static void make_feeds(const sinter_graph_t *g, const int64_t *const *feed_dims, float lo, float hi,
                       uint64_t seed, feeds_t *f) {
  f->n = sinter_graph_num_inputs(g);
  ck_assert_int_le(f->n, 8);
  for (int32_t i = 0; i < f->n; i++) {
    const sinter_type_t *t = sinter_value_type(sinter_graph_input(g, i));
    sinter_tensor_t *x = &f->t[i];
    memset(x, 0, sizeof(*x));
    x->dtype = t->dtype;
    x->rank = t->rank;
    for (int32_t d = 0; d < t->rank; d++)
      x->dims[d] = t->dims[d].size >= 0 ? t->dims[d].size : feed_dims[i][d];
    int64_t n = sinter_tensor_numel(x);
    size_t nbytes;
    ck_assert(sinter_dtype_storage_size(x->dtype, n, &nbytes));
    x->data = malloc(nbytes ? nbytes : 1);
    x->nbytes = nbytes;
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t k = 0; k < n; k++) v[k] = urand(&seed, lo, hi);
    sinter_tensor_from_f32(x, v, n);
    free(v);
  }
}

static void free_feeds(feeds_t *f) {
  for (int32_t i = 0; i < f->n; i++) free(f->t[i].data);
}

/* ==== Attention kernel: hand-checked values =================================== */

static void expect_values(const sinter_tensor_t *t, const double *want, int64_t n, double tol) {
  ck_assert_int_eq(sinter_tensor_numel(t), n);
  const float *y = t->data;
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(fabs(y[i] - want[i]) <= tol * fmax(1.0, fabs(want[i])),
                  "element %lld: got %.9g, want %.9g", (long long)i, y[i], want[i]);
}

/* Expected values come from numpy in float64 (a softmax and two products written out); the
 * kernel runs in f32, so 1e-6 relative covers its rounding. */
START_TEST(attention_hand_bhsd) {
  const char *text =
      "graph @g opset(\"\" = 13) {\n"
      "  const %q : f32[1,1,2,2] = [1.0, 0.0, 0.0, 1.0]\n"
      "  const %k : f32[1,1,2,2] = [1.0, 2.0, 3.0, -1.0]\n"
      "  const %v : f32[1,1,2,3] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]\n"
      "  const %m : f32[2] = [0.0, -1.0]\n"
      "  %a : f32[1,1,2,3] = ai.sinter::Attention (%q, %k, %v, %m) {layout = \"bhsd\", scale = "
      "0.5}\n"
      "  %c : f32[1,1,2,3] = ai.sinter::Attention (%q, %k, %v) {causal = 1, scale = 0.5}\n"
      "  output %a\n"
      "  output %c\n"
      "}\n";
  sinter_graph_t *g = parse(text);
  sinter_tensor_t out[2];
  run_graph(g, NULL, 0, out);
  const double masked[] = {
      2.5, 3.5, 4.5, 1.2275745400637308, 2.227574540063731, 3.2275745400637312};
  const double causal[] = {1.0, 2.0, 3.0, 1.547276571419069, 2.547276571419069, 3.5472765714190686};
  expect_values(&out[0], masked, 6, 1e-6);
  expect_values(&out[1], causal, 6, 1e-6);
  free_all(out, 2);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(attention_hand_bse) {
  const char *text =
      "graph @g opset(\"\" = 13) {\n"
      "  const %q : f32[1,2,4] = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]\n"
      "  const %k : f32[1,2,4] = [1.0, 2.0, -1.0, 0.0, 0.0, 1.0, 2.0, 1.0]\n"
      "  const %v : f32[1,2,4] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]\n"
      "  %a : f32[1,2,4] = ai.sinter::Attention (%q, %k, %v) {layout = \"bse\", num_heads = 2, "
      "scale = 0.7}\n"
      "  output %a\n"
      "}\n";
  sinter_graph_t *g = parse(text);
  sinter_tensor_t out[1];
  run_graph(g, NULL, 0, out);
  const double want[] = {2.3272489113273354, 3.3272489113273354, 5.672751088672664,
                         6.672751088672664,  2.3272489113273354, 3.3272489113273354,
                         6.563612715217548,  7.563612715217548};
  expect_values(&out[0], want, 8, 1e-6);
  free_all(out, 1);
  sinter_graph_destroy(g);
}
END_TEST

/* Inputs the kernel must refuse with an error, not a crash. */
START_TEST(attention_bad_inputs) {
  const char *bad_heads =
      "graph @g opset(\"\" = 13) {\n"
      "  input %q : f32[1,2,6]\n"
      "  %a : f32[1,2,6] = ai.sinter::Attention (%q, %q, %q) {layout = \"bse\", num_heads = 4}\n"
      "  output %a\n"
      "}\n";
  sinter_graph_t *g;
  ok(sinter_graph_parse(bad_heads, strlen(bad_heads), "t", &g));
  sinter_status_t st = sinter_graph_infer_shapes(g);
  ck_assert_ptr_nonnull(st);
  ck_assert_ptr_nonnull(strstr(sinter_status_message(st), "num_heads"));
  sinter_status_free(st);
  sinter_graph_destroy(g);
  const char *bad_layout =
      "graph @g opset(\"\" = 13) {\n"
      "  input %q : f32[1,2,6]\n"
      "  %a : f32[1,2,6] = ai.sinter::Attention (%q, %q, %q) {layout = \"sbh\"}\n"
      "  output %a\n"
      "}\n";
  ok(sinter_graph_parse(bad_layout, strlen(bad_layout), "t", &g));
  st = sinter_graph_infer_shapes(g);
  ck_assert_ptr_nonnull(st);
  sinter_status_free(st);
  sinter_graph_destroy(g);
}
END_TEST

/* ==== fuse-attention vs the unfused graph on random data ====================== */

/* Runs text (one attention pattern) on random inputs before and after fuse-attention, checks
 * the pass made want_attn Attention nodes of the given layout and causal flag, then that the
 * decomposition gives the fused numbers back. */
static void check_fusion(const char *text, const int64_t *const *feed_dims, int32_t want_attn,
                         const char *layout, int causal, double tol, double dec_tol) {
  sinter_graph_t *g = parse(text);
  feeds_t f;
  make_feeds(g, feed_dims, -2.0f, 2.0f, 12345, &f);
  int32_t n_out = sinter_graph_num_outputs(g);
  sinter_tensor_t ref[4], got[4], dec[4];
  run_graph(g, f.t, f.n, ref);
  run_pass(g, &sinter_pass_fuse_attention);
  ck_assert_int_eq(count_op(g, SINTER_OP_ATTENTION), want_attn);
  ck_assert_int_eq(count_op(g, SINTER_OP_SOFTMAX), 0);
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n)) {
    if (sinter_node_op(n) != SINTER_OP_ATTENTION) continue;
    ck_assert_str_eq(sinter_node_attr_string(n, "layout", "?"), layout);
    ck_assert_int_eq(sinter_node_attr_int(n, "causal", -1), causal);
  }
  run_graph(g, f.t, f.n, got);
  for (int32_t i = 0; i < n_out; i++) {
    double e = rel_err(&ref[i], &got[i]);
    ck_assert_msg(e <= tol, "output %d: fused differs from unfused by %g (tolerance %g)", i, e,
                  tol);
  }
  decompose_all(g);
  run_graph(g, f.t, f.n, dec);
  /* The decomposition performs the kernel's operations in the kernel's order (in f32; f16
   * rounds between them as the unfused graph did). */
  for (int32_t i = 0; i < n_out; i++) {
    double e = rel_err(&got[i], &dec[i]);
    ck_assert_msg(e <= dec_tol, "output %d: decomposed differs from fused by %g", i, e);
  }
  free_all(ref, n_out);
  free_all(got, n_out);
  free_all(dec, n_out);
  free_feeds(&f);
  sinter_graph_destroy(g);
}

/* The fused kernel applies the scale as one multiply (the graph divides, or multiplies Q and
 * K^T separately) and computes the same sgemm products and softmax: a few ulp per score,
 * about 1e-6 relative after the softmax. 1e-5 leaves room. */
#define F32_TOL 1e-5

START_TEST(fuse_bse_static) {
  check_fusion(
      "graph @g opset(\"\" = 13) {\n"
      "  input %q : f32[2,5,8]\n  input %k : f32[2,5,8]\n  input %v : f32[2,5,12]\n"
      "  input %mask : f32[2,1,1,5]\n"
      "  const %split : i64[4] = [2, 5, 2, 4]\n  const %vsplit : i64[4] = [0, 0, 2, -1]\n"
      "  const %merge : i64[3] = [2, 5, -1]\n  const %sqrt_d : f32[] = [2.0]\n"
      "  %qr : f32[2,5,2,4] = Reshape (%q, %split)\n"
      "  %qt : f32[2,2,5,4] = Transpose (%qr) {perm = [0, 2, 1, 3]}\n"
      "  %kr : f32[2,5,2,4] = Reshape (%k, %split)\n"
      "  %kt : f32[2,2,4,5] = Transpose (%kr) {perm = [0, 2, 3, 1]}\n"
      "  %vr : f32[2,5,2,6] = Reshape (%v, %vsplit)\n"
      "  %vt : f32[2,2,5,6] = Transpose (%vr) {perm = [0, 2, 1, 3]}\n"
      "  %s : f32[2,2,5,5] = MatMul (%qt, %kt)\n"
      "  %ss : f32[2,2,5,5] = Div (%s, %sqrt_d)\n"
      "  %sm : f32[2,2,5,5] = Add (%ss, %mask)\n"
      "  %p : f32[2,2,5,5] = Softmax (%sm) {axis = -1}\n"
      "  %o : f32[2,2,5,6] = MatMul (%p, %vt)\n"
      "  %ot : f32[2,5,2,6] = Transpose (%o) {perm = [0, 2, 1, 3]}\n"
      "  %y : f32[2,5,12] = Reshape (%ot, %merge)\n"
      "  output %y\n}\n",
      NULL, 1, "bse", 0, F32_TOL, 1e-6);
}
END_TEST

START_TEST(fuse_symbolic_batch) {
  static const int64_t qd[3] = {3, 4, 8}, md[4] = {3, 1, 1, 4};
  const int64_t *dims[4] = {qd, qd, qd, md};
  check_fusion(
      "graph @g opset(\"\" = 13) {\n"
      "  input %q : f32[N,T,8]\n  input %k : f32[N,T,8]\n  input %v : f32[N,T,8]\n"
      "  input %mask : f32[N,1,1,T]\n"
      "  const %i0 : i64[] = [0]\n  const %i1 : i64[] = [1]\n  const %i2 : i64[] = [2]\n"
      "  const %ax0 : i64[1] = [0]\n  const %heads : i64[1] = [4]\n  const %hd : i64[] = [4]\n"
      "  const %half : f32[] = [0.5]\n"
      "  %shp : i64[3] = Shape (%q)\n"
      "  %b : i64[] = Gather (%shp, %i0) {axis = 0}\n"
      "  %t : i64[] = Gather (%shp, %i1) {axis = 0}\n"
      "  %e : i64[] = Gather (%shp, %i2) {axis = 0}\n"
      "  %d : i64[] = Div (%e, %hd)\n"
      "  %b1 : i64[1] = Unsqueeze (%b, %ax0)\n  %t1 : i64[1] = Unsqueeze (%t, %ax0)\n"
      "  %d1 : i64[1] = Unsqueeze (%d, %ax0)\n  %e1 : i64[1] = Unsqueeze (%e, %ax0)\n"
      "  %split : i64[4] = Concat (%b1, %t1, %heads, %d1) {axis = 0}\n"
      "  %merge : i64[3] = Concat (%b1, %t1, %e1) {axis = 0}\n"
      "  %qr : f32[?,?,?,?] = Reshape (%q, %split)\n"
      "  %qt : f32[?,?,?,?] = Transpose (%qr) {perm = [0, 2, 1, 3]}\n"
      "  %kr : f32[?,?,?,?] = Reshape (%k, %split)\n"
      "  %kt : f32[?,?,?,?] = Transpose (%kr) {perm = [0, 2, 3, 1]}\n"
      "  %vr : f32[?,?,?,?] = Reshape (%v, %split)\n"
      "  %vt : f32[?,?,?,?] = Transpose (%vr) {perm = [0, 2, 1, 3]}\n"
      "  %s : f32[?,?,?,?] = MatMul (%qt, %kt)\n"
      "  %ss : f32[?,?,?,?] = Mul (%half, %s)\n"
      "  %sm : f32[?,?,?,?] = Add (%mask, %ss)\n"
      "  %p : f32[?,?,?,?] = Softmax (%sm) {axis = 3}\n"
      "  %o : f32[?,?,?,?] = MatMul (%p, %vt)\n"
      "  %ot : f32[?,?,?,?] = Transpose (%o) {perm = [0, 2, 1, 3]}\n"
      "  %y : f32[?,?,?] = Reshape (%ot, %merge)\n"
      "  output %y\n}\n",
      dims, 1, "bse", 0, F32_TOL, 1e-6);
}
END_TEST

/* K and V with batch 1 broadcast against Q's batch 2, a [S,S] mask, scale on Q and K^T. */
START_TEST(fuse_bhsd_broadcast) {
  check_fusion(
      "graph @g opset(\"\" = 14) {\n"
      "  input %q : f32[2,3,4,8]\n  input %k : f32[1,3,6,8]\n  input %v : f32[1,3,6,5]\n"
      "  input %mask : f32[4,6]\n"
      "  const %rs : f32[] = [0.594603558]\n"
      "  %kt : f32[1,3,8,6] = Transpose (%k) {perm = [0, 1, 3, 2]}\n"
      "  %qs : f32[2,3,4,8] = Mul (%q, %rs)\n"
      "  %ks : f32[1,3,8,6] = Mul (%rs, %kt)\n"
      "  %s : f32[2,3,4,6] = MatMul (%qs, %ks)\n"
      "  %sm : f32[2,3,4,6] = Add (%s, %mask)\n"
      "  %p : f32[2,3,4,6] = Softmax (%sm) {axis = -1}\n"
      "  %y : f32[2,3,4,5] = MatMul (%p, %v)\n"
      "  output %y\n}\n",
      NULL, 1, "bhsd", 0, F32_TOL, 1e-6);
}
END_TEST

static const char *causal_graph(char *buf, size_t cap, bool where) {
  /* A [6,6] causal mask, additive (-1e9 above the diagonal) or a bool tril for Where. */
  char mask[1024] = "";
  size_t off = 0;
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++)
      off += (size_t)snprintf(mask + off, sizeof(mask) - off, "%s%s", i + j ? ", " : "",
                              where ? (j <= i ? "1" : "0") : (j <= i ? "0.0" : "-1.0e9"));
  snprintf(buf, cap,
           "graph @g opset(\"\" = 13) {\n"
           "  input %%q : f32[1,2,6,4]\n  input %%k : f32[1,2,6,4]\n  input %%v : f32[1,2,6,4]\n"
           "  const %%c : f32[] = [8.0]\n  const %%neg : f32[] = [-inf]\n"
           "  const %%mask : %s[6,6] = [%s]\n"
           "  %%kt : f32[1,2,4,6] = Transpose (%%k) {perm = [0, 1, 3, 2]}\n"
           "  %%s : f32[1,2,6,6] = MatMul (%%q, %%kt)\n"
           "  %%ss : f32[1,2,6,6] = Div (%%s, %%c)\n"
           "  %%sm : f32[1,2,6,6] = %s\n"
           "  %%p : f32[1,2,6,6] = Softmax (%%sm) {axis = -1}\n"
           "  %%y : f32[1,2,6,4] = MatMul (%%p, %%v)\n"
           "  output %%y\n}\n",
           where ? "bool" : "f32", mask, where ? "Where (%mask, %ss, %neg)" : "Add (%ss, %mask)");
  return buf;
}

START_TEST(fuse_causal_additive) {
  char buf[4096];
  check_fusion(causal_graph(buf, sizeof(buf), false), NULL, 1, "bhsd", 1, F32_TOL, 1e-6);
}
END_TEST

START_TEST(fuse_causal_where) {
  char buf[4096];
  check_fusion(causal_graph(buf, sizeof(buf), true), NULL, 1, "bhsd", 1, F32_TOL, 1e-6);
}
END_TEST

/* f16: the unfused graph rounds the scores and the probabilities to f16 (relative 2^-11
 * each), the kernel keeps them in f32; the outputs agree to a few f16 ulps. */
START_TEST(fuse_f16) {
  check_fusion(
      "graph @g opset(\"\" = 13) {\n"
      "  input %q : f16[1,2,5,4]\n  input %k : f16[1,2,5,4]\n  input %v : f16[1,2,5,4]\n"
      "  const %c : f16[] = hex\"0038\"\n"
      "  %kt : f16[1,2,4,5] = Transpose (%k) {perm = [0, 1, 3, 2]}\n"
      "  %s : f16[1,2,5,5] = MatMul (%q, %kt)\n"
      "  %ss : f16[1,2,5,5] = Mul (%s, %c)\n"
      "  %p : f16[1,2,5,5] = Softmax (%ss) {axis = -1}\n"
      "  %y : f16[1,2,5,4] = MatMul (%p, %v)\n"
      "  output %y\n}\n",
      NULL, 1, "bhsd", 0, 4e-3, 4e-3);
}
END_TEST

/* ==== FusedElementwise kernel ==================================================== */

START_TEST(fused_elementwise_hand) {
  /* max(a*b, 0) + a with a = [1,-2,3], b = 0.5 (broadcast): [1.5, -2, 4.5] by hand; and
   * Silu on [-3,-0.5,0,0.5,3] against x/(1+e^-x) from numpy in float64. */
  const char *text =
      "graph @g opset(\"\" = 13) {\n"
      "  const %a : f32[3] = [1.0, -2.0, 3.0]\n"
      "  const %b : f32[] = [0.5]\n"
      "  const %x : f32[5] = [-3.0, -0.5, 0.0, 0.5, 3.0]\n"
      "  %y : f32[3] = ai.sinter::FusedElementwise (%a, %b) {args = [0, 1, 2, 3, 0], "
      "ops = [\"Mul\", \"Relu\", \"Add\"]}\n"
      "  %s : f32[5] = ai.sinter::FusedElementwise (%x) {args = [0], ops = [\"Silu\"]}\n"
      "  output %y\n  output %s\n"
      "}\n";
  sinter_graph_t *g = parse(text);
  sinter_tensor_t out[2];
  run_graph(g, NULL, 0, out);
  const double y[] = {1.5, -2.0, 4.5};
  const double s[] = {-0.14227761953270035, -0.1887703343990727, 0.0, 0.3112296656009273,
                      2.8577223804672998};
  expect_values(&out[0], y, 3, 0.0);
  expect_values(&out[1], s, 5, 1e-6);
  free_all(out, 2);
  sinter_graph_destroy(g);
}
END_TEST

/* Malformed bodies are errors with a reason, never a crash. */
START_TEST(fused_elementwise_malformed) {
  const char *bodies[] = {
      "args = [0, 5], ops = [\"Add\"]",               /* operand out of range */
      "args = [0], ops = [\"Softmax\"]",              /* not a body op */
      "args = [0, 0, 1], ops = [\"Add\"]",            /* args left over */
      "args = [0], ops = [\"LeakyRelu\"]",            /* missing params */
      "args = [0], ops = [\"Relu\"], params = [1.0]", /* params left over */
  };
  for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
    char text[1024];
    snprintf(text, sizeof(text),
             "graph @g opset(\"\" = 13) {\n  input %%x : f32[3]\n"
             "  %%y : f32[3] = ai.sinter::FusedElementwise (%%x) {%s}\n  output %%y\n}\n",
             bodies[i]);
    sinter_graph_t *g;
    ok(sinter_graph_parse(text, strlen(text), "t", &g));
    sinter_status_t st = sinter_graph_infer_shapes(g);
    ck_assert_msg(st != NULL, "body %zu was accepted", i);
    sinter_status_free(st);
    sinter_graph_destroy(g);
  }
}
END_TEST

/* The text of a scalar constant's data in dtype dt ("[v]", or hex for the narrow floats). */
static const char *scalar_text(const char *dt, float v, char *buf, size_t cap) {
  uint16_t h;
  if (strcmp(dt, "f16") == 0)
    h = sinter_f32_to_f16(v);
  else if (strcmp(dt, "bf16") == 0)
    h = sinter_f32_to_bf16(v);
  else {
    snprintf(buf, cap, "[%.9g]", v);
    return buf;
  }
  snprintf(buf, cap, "hex\"%02x%02x\"", h & 0xff, h >> 8);
  return buf;
}

/* One region per body op, each op applied to Add(x, 0) (exact) so every region has two ops,
 * with inputs in the op's domain. */
static char *all_ops_graph(const char *dt) {
  /* clang-format off */
  static const char *unary[] = {
      "Relu", "Sigmoid", "HardSwish", "Tanh", "Softplus", "Softsign", "Mish", "Erf", "Exp", "Neg",
      "Abs", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Atan", "Sinh", "Cosh",
      "Asinh", "LeakyRelu {alpha = 0.2}", "Elu {alpha = 0.7}", "Selu", "Celu {alpha = 1.5}",
      "HardSigmoid {alpha = 0.3, beta = 0.4}", "ThresholdedRelu {alpha = 0.25}",
      "Shrink {bias = 0.1, lambd = 0.3}", "Gelu", "Gelu {approximate = \"tanh\"}"};
  /* clang-format on */
  static const char *positive[] = {"Log", "Sqrt", "Reciprocal", "Acosh"};
  static const char *unit[] = {"Asin", "Acos", "Atanh"};
  static const char *binary[] = {"Add", "Sub", "Mul", "Div", "PRelu", "Max", "Min"};
  size_t cap = 1 << 16, off = 0;
  char *t = malloc(cap);
  char z[32], lo[32], hi[32];
  off += (size_t)snprintf(t + off, cap - off,
                          "graph @g opset(\"\" = 20) {\n  input %%x : %s[2,16]\n"
                          "  input %%p : %s[2,16]\n  input %%u : %s[16]\n"
                          "  const %%z : %s[] = %s\n  const %%lo : %s[] = %s\n"
                          "  const %%hi : %s[] = %s\n",
                          dt, dt, dt, dt, scalar_text(dt, 0.0f, z, sizeof(z)), dt,
                          scalar_text(dt, -0.5f, lo, sizeof(lo)), dt,
                          scalar_text(dt, 0.7f, hi, sizeof(hi)));
  int k = 0;
#define EMIT(IN, OP)                                                   \
  off += (size_t)snprintf(t + off, cap - off,                          \
                          "  %%a%d : %s[2,16] = Add (%%%s, %%z)\n"     \
                          "  %%y%d : %s[2,16] = %s\n  output %%y%d\n", \
                          k, dt, IN, k, dt, OP, k);                    \
  k++;
  char op[256];
  for (size_t i = 0; i < sizeof(unary) / sizeof(unary[0]); i++) {
    const char *sp = strchr(unary[i], ' ');
    if (sp)
      snprintf(op, sizeof(op), "%.*s (%%a%d)%s", (int)(sp - unary[i]), unary[i], k, sp);
    else
      snprintf(op, sizeof(op), "%s (%%a%d)", unary[i], k);
    EMIT("x", op)
  }
  for (size_t i = 0; i < sizeof(positive) / sizeof(positive[0]); i++) {
    snprintf(op, sizeof(op), "%s (%%a%d)", positive[i], k);
    EMIT("p", op)
  }
  for (size_t i = 0; i < sizeof(unit) / sizeof(unit[0]); i++) {
    snprintf(op, sizeof(op), "%s (%%a%d)", unit[i], k);
    EMIT("u", op)
  }
  for (size_t i = 0; i < sizeof(binary) / sizeof(binary[0]); i++) {
    snprintf(op, sizeof(op), "%s (%%a%d, %%u)", binary[i], k);
    EMIT("x", op)
  }
  snprintf(op, sizeof(op), "Pow (%%a%d, %%u)", k);
  EMIT("p", op)
  snprintf(op, sizeof(op), "Clip (%%a%d, %%lo, %%hi)", k);
  EMIT("x", op)
  snprintf(op, sizeof(op), "Max (%%a%d, %%u, %%x)", k);
  EMIT("x", op)
#undef EMIT
  snprintf(t + off, cap - off, "}\n");
  return t;
}

/* Inputs: x in [-3,3), p in [0.1, 4), u in [-0.9, 0.9) (fed from one generator per input). */
static void all_ops_feeds(const sinter_graph_t *g, feeds_t *f) {
  feeds_t a, b, c;
  make_feeds(g, NULL, -3.0f, 3.0f, 1, &a);
  make_feeds(g, NULL, 1.1f, 4.0f, 2, &b);
  make_feeds(g, NULL, -0.9f, 0.9f, 3, &c);
  *f = a;
  free(f->t[1].data);
  f->t[1] = b.t[1];
  free(f->t[2].data);
  f->t[2] = c.t[2];
  free(b.t[0].data);
  free(b.t[2].data);
  free(c.t[0].data);
  free(c.t[1].data);
}

/* Each instruction is evaluated with the f32 formula of its op's kernel (and, for f16/bf16,
 * rounded to the dtype as the stored intermediate would be), so the fused results are
 * bit-identical to the unfused graph's; so is the decomposition. */
static void check_all_ops(const char *dt) {
  char *text = all_ops_graph(dt);
  sinter_graph_t *g = parse(text);
  free(text);
  int32_t regions = sinter_graph_num_outputs(g);
  feeds_t f;
  all_ops_feeds(g, &f);
  sinter_tensor_t *ref = calloc((size_t)regions, sizeof(*ref));
  sinter_tensor_t *got = calloc((size_t)regions, sizeof(*got));
  sinter_tensor_t *dec = calloc((size_t)regions, sizeof(*dec));
  run_graph(g, f.t, f.n, ref);
  run_pass(g, &sinter_pass_fuse_elementwise);
  ck_assert_int_eq(count_op(g, SINTER_OP_FUSED_ELEMENTWISE), regions);
  ck_assert_int_eq(sinter_graph_num_nodes(g), regions);
  run_graph(g, f.t, f.n, got);
  for (int32_t i = 0; i < regions; i++) {
    const sinter_node_t *n = sinter_value_producer(sinter_graph_output(g, i), NULL);
    const sinter_attr_t *ops = sinter_node_attr(n, "ops");
    ck_assert_msg(bit_equal(&ref[i], &got[i]), "%s region %d (%s): fused differs by %g", dt, i,
                  ops->strings[ops->count - 1], rel_err(&ref[i], &got[i]));
  }
  decompose_all(g);
  run_graph(g, f.t, f.n, dec);
  for (int32_t i = 0; i < regions; i++)
    ck_assert_msg(bit_equal(&ref[i], &dec[i]), "%s region %d: decomposed differs", dt, i);
  free_all(ref, regions);
  free_all(got, regions);
  free_all(dec, regions);
  free(ref);
  free(got);
  free(dec);
  free_feeds(&f);
  sinter_graph_destroy(g);
}

START_TEST(fused_elementwise_all_ops_f32) {
  check_all_ops("f32");
}
END_TEST

START_TEST(fused_elementwise_all_ops_f16) {
  check_all_ops("f16");
}
END_TEST

START_TEST(fused_elementwise_all_ops_bf16) {
  check_all_ops("bf16");
}
END_TEST

/* ==== the shared models ========================================================== */

typedef struct model_s {
  sinter_graph_t *g;
  sinter_tensor_t in[4];
  int32_t n_in;
} model_t;

/* Loads MODELS/name with test_data_set_0's inputs; false (test skipped) when absent. */
static bool load_model(const char *name, model_t *m) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s/model.onnx", MODELS, name);
  struct stat sb;
  if (stat(path, &sb) != 0) {
    printf("skipped: %s not found (the shared models are not part of the repository)\n", path);
    return false;
  }
  ok(sinter_onnx_import_file(path, &m->g));
  m->n_in = sinter_graph_num_inputs(m->g);
  ck_assert_int_le(m->n_in, 4);
  for (int32_t i = 0; i < m->n_in; i++) {
    snprintf(path, sizeof(path), "%s/%s/test_data_set_0/input_%d.pb", MODELS, name, i);
    ok(sinter_onnx_read_tensor_file(path, &m->in[i], NULL));
  }
  return true;
}

static void free_model(model_t *m) {
  for (int32_t i = 0; i < m->n_in; i++) sinter_tensor_free_data(&m->in[i]);
  sinter_graph_destroy(m->g);
}

/* Runs the model before and after fuse-attention then fuse-elementwise; returns the number of
 * Attention nodes and checks outputs and the decomposition. The tolerance 1e-4 relative to
 * max |ref| is the project's bar for fp32 rewrites; the scale multiply is the only
 * reassociation, and it stays near 1e-6 in practice. */
static void check_model(const char *name, int32_t want_attn, const char *layout, int causal) {
  model_t m;
  if (!load_model(name, &m)) return;
  int32_t n_out = sinter_graph_num_outputs(m.g);
  sinter_tensor_t ref[2], got[2], dec[2];
  ck_assert_int_le(n_out, 2);
  run_graph(m.g, m.in, m.n_in, ref);
  run_pass(m.g, &sinter_pass_fuse_attention);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_ATTENTION), want_attn);
  ck_assert_int_eq(count_op(m.g, SINTER_OP_SOFTMAX), 0);
  for (sinter_node_t *n = sinter_graph_first_node(m.g); n; n = sinter_node_next(n)) {
    if (sinter_node_op(n) != SINTER_OP_ATTENTION) continue;
    ck_assert_str_eq(sinter_node_attr_string(n, "layout", "?"), layout);
    ck_assert_int_eq(sinter_node_attr_int(n, "causal", -1), causal);
    ck_assert_int_eq(sinter_node_num_inputs(n), causal ? 3 : 4);
  }
  int32_t after_attn = sinter_graph_num_nodes(m.g);
  run_pass(m.g, &sinter_pass_fuse_elementwise);
  ck_assert_int_gt(count_op(m.g, SINTER_OP_FUSED_ELEMENTWISE), 0);
  ck_assert_int_lt(sinter_graph_num_nodes(m.g), after_attn);
  run_graph(m.g, m.in, m.n_in, got);
  for (int32_t i = 0; i < n_out; i++) {
    double e = rel_err(&ref[i], &got[i]);
    ck_assert_msg(e <= 1e-4, "%s output %d: fused differs by %g relative", name, i, e);
  }
  decompose_all(m.g);
  run_graph(m.g, m.in, m.n_in, dec);
  for (int32_t i = 0; i < n_out; i++) {
    double e = rel_err(&got[i], &dec[i]);
    ck_assert_msg(e <= 1e-6, "%s output %d: decomposed differs by %g relative", name, i, e);
  }
  free_all(ref, n_out);
  free_all(got, n_out);
  free_all(dec, n_out);
  free_model(&m);
}

/* bert_tiny: two padding-masked attentions; the head split and merge are absorbed even though
 * the imported graph leaves the batch dim of the second layer unknown. */
START_TEST(model_bert_tiny) {
  check_model("bert_tiny", 2, "bse", 0);
}
END_TEST

/* tiny_llama: four causal attentions; RoPE sits between the head split and the MatMul, so
 * the per-head layout is used and the constant causal mask becomes causal = 1. */
START_TEST(model_tiny_llama) {
  check_model("tiny_llama", 4, "bhsd", 1);
}
END_TEST

/* The same input and passes give byte-identical text. */
START_TEST(deterministic) {
  char *texts[2] = {NULL, NULL};
  for (int r = 0; r < 2; r++) {
    model_t m;
    if (!load_model("bert_tiny", &m)) return;
    run_pass(m.g, &sinter_pass_fuse_attention);
    run_pass(m.g, &sinter_pass_fuse_elementwise);
    size_t len;
    ok(sinter_graph_print_to_string(m.g, false, &texts[r], &len));
    free_model(&m);
  }
  ck_assert(strcmp(texts[0], texts[1]) == 0);
  free(texts[0]);
  free(texts[1]);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pass_fuse_attn");
  TCase *k = tcase_create("kernels");
  tcase_add_test(k, attention_hand_bhsd);
  tcase_add_test(k, attention_hand_bse);
  tcase_add_test(k, attention_bad_inputs);
  tcase_add_test(k, fused_elementwise_hand);
  tcase_add_test(k, fused_elementwise_malformed);
  suite_add_tcase(s, k);
  TCase *a = tcase_create("fuse_attention");
  tcase_add_test(a, fuse_bse_static);
  tcase_add_test(a, fuse_symbolic_batch);
  tcase_add_test(a, fuse_bhsd_broadcast);
  tcase_add_test(a, fuse_causal_additive);
  tcase_add_test(a, fuse_causal_where);
  tcase_add_test(a, fuse_f16);
  suite_add_tcase(s, a);
  TCase *e = tcase_create("fuse_elementwise");
  tcase_add_test(e, fused_elementwise_all_ops_f32);
  tcase_add_test(e, fused_elementwise_all_ops_f16);
  tcase_add_test(e, fused_elementwise_all_ops_bf16);
  suite_add_tcase(s, e);
  TCase *m = tcase_create("models");
  tcase_set_timeout(m, 600);
  tcase_add_test(m, model_bert_tiny);
  tcase_add_test(m, model_tiny_llama);
  tcase_add_test(m, deterministic);
  suite_add_tcase(s, m);
  return run_suite(s);
}
