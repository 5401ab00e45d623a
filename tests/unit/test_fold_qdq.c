/* Numeric checks of fold-qdq: small QDQ graphs (Conv, MatMul, Gemm, Add, Mul, GlobalAveragePool,
 * MaxPool, Concat; u8 and i8 activations) run before and after the pass and after
 * decompose-fused, with the agreement each step promises (docs/ops-sinter.md), plus negative
 * cases where a weight is not a constant and the float op must stay. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/ir.h"
#include "sinter/passes.h"
#include "tests/support/check_main.h"
#include "tests/support/graph_test.h"

/* ---- graph building --------------------------------------------------------------------- */

#define MAX_PROBES 4

/* One graph under construction. In calibration mode every requantization point is a float
 * graph output instead of a Q/DQ pair, so a first run measures the ranges the second build
 * quantizes with (as a calibrator would). */
typedef struct env_s {
  sinter_graph_t *g;
  sinter_dtype_t act; /* u8 or i8 activations */
  bool calib;
  uint32_t rng;
  sinter_tensor_t feeds[4];
  int32_t n_feeds;
  float lo[MAX_PROBES], hi[MAX_PROBES]; /* measured ranges (normal mode reads them) */
  int32_t n_probes;
  float out_scale; /* scale of the final output's quantization */
} env_t;

static float frand(env_t *e, float lo, float hi) {
  e->rng ^= e->rng << 13;
  e->rng ^= e->rng >> 17;
  e->rng ^= e->rng << 5;
  return lo + (hi - lo) * (float)(e->rng >> 8) / (float)(1u << 24);
}

static int64_t numel(int32_t rank, const int64_t *dims) {
  int64_t n = 1;
  for (int32_t i = 0; i < rank; i++) n *= dims[i];
  return n;
}

static void env_init(env_t *e, sinter_dtype_t act, bool calib, uint32_t seed) {
  memset(e, 0, sizeof(*e));
  e->act = act;
  e->calib = calib;
  e->rng = seed;
  ok(sinter_graph_create("fq", &e->g));
  ok(sinter_graph_set_opset(e->g, "", 13));
}

static void env_free(env_t *e) {
  for (int32_t i = 0; i < e->n_feeds; i++) free(e->feeds[i].data);
  sinter_graph_destroy(e->g);
}

static sinter_value_t *cnst(env_t *e, sinter_dtype_t dt, int32_t rank, const int64_t *dims,
                            const void *data, size_t nbytes) {
  sinter_type_t t = ty(dt, rank, dims);
  sinter_value_t *v;
  ok(sinter_graph_add_const(e->g, NULL, &t, data, nbytes, &v));
  return v;
}
static sinter_value_t *scalar_f32(env_t *e, float f) {
  return cnst(e, SINTER_DTYPE_F32, 0, NULL, &f, 4);
}
/* A scalar zero point of dtype dt (u8/i8/i32). */
static sinter_value_t *scalar_zp(env_t *e, sinter_dtype_t dt, int64_t z) {
  if (dt == SINTER_DTYPE_I32) {
    int32_t v = (int32_t)z;
    return cnst(e, dt, 0, NULL, &v, 4);
  }
  uint8_t b = dt == SINTER_DTYPE_U8 ? (uint8_t)z : (uint8_t)(int8_t)z;
  return cnst(e, dt, 0, NULL, &b, 1);
}

static sinter_node_t *node(env_t *e, sinter_op_t op, sinter_value_t *const *ins, int32_t n) {
  sinter_node_t *nd;
  ok(sinter_graph_add_node(e->g, op, NULL, ins, n, 1, &nd));
  return nd;
}
static sinter_value_t *op1(env_t *e, sinter_op_t op, sinter_value_t *const *ins, int32_t n) {
  return sinter_node_output(node(e, op, ins, n), 0);
}

/* A graph input of random data (f32 in [lo, hi], or i8 in [-127, 127] for dt i8). */
static sinter_value_t *input(env_t *e, sinter_dtype_t dt, int32_t rank, const int64_t *dims,
                             float lo, float hi) {
  char name[16];
  snprintf(name, sizeof(name), "in%d", e->n_feeds);
  sinter_type_t t = ty(dt, rank, dims);
  sinter_value_t *v;
  ok(sinter_graph_add_input(e->g, name, &t, &v));
  int64_t n = numel(rank, dims);
  sinter_tensor_t *f = &e->feeds[e->n_feeds++];
  f->dtype = dt;
  f->rank = rank;
  memcpy(f->dims, dims, sizeof(int64_t) * (size_t)rank);
  if (dt == SINTER_DTYPE_F32) {
    float *d = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) d[i] = frand(e, lo, hi);
    f->data = d;
    f->nbytes = sizeof(float) * (size_t)n;
  } else {
    int8_t *d = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) d[i] = (int8_t)lrintf(frand(e, -127.0f, 127.0f));
    f->data = d;
    f->nbytes = (size_t)n;
  }
  return v;
}

/* Asymmetric per-tensor params covering [lo, hi] (widened to hold 0) for dtype dt. */
static void qparams(sinter_dtype_t dt, float lo, float hi, float *s, int64_t *zp) {
  lo = lo < 0 ? lo : 0;
  hi = hi > 0 ? hi : 0;
  *s = (hi - lo) / 255.0f;
  if (!(*s > 0)) *s = 1.0f;
  int64_t qmin = dt == SINTER_DTYPE_U8 ? 0 : -128;
  int64_t z = qmin + (int64_t)nearbyint(-lo / *s);
  *zp = z < qmin ? qmin : z > qmin + 255 ? qmin + 255 : z;
}

/* Q then DQ of v with the given per-tensor params. */
static sinter_value_t *qdq_with(env_t *e, sinter_value_t *v, float s, int64_t zp) {
  sinter_value_t *sv = scalar_f32(e, s), *zv = scalar_zp(e, e->act, zp);
  sinter_value_t *qi[3] = {v, sv, zv};
  sinter_value_t *q = op1(e, SINTER_OP_QUANTIZE_LINEAR, qi, 3);
  sinter_value_t *di[3] = {q, sv, zv};
  return op1(e, SINTER_OP_DEQUANTIZE_LINEAR, di, 3);
}

/* A requantization point: in calibration mode v becomes a float output to measure; otherwise
 * Q/DQ with params from the measured range. Returns the value the graph goes on with; *s gets
 * the scale (for biases). */
static sinter_value_t *requant(env_t *e, sinter_value_t *v, float *s_out, bool widen) {
  int32_t i = e->n_probes++;
  ck_assert_int_lt(i, MAX_PROBES);
  if (e->calib) {
    ok(sinter_graph_add_output(e->g, v));
    if (s_out) *s_out = 1.0f;
    return v;
  }
  float s, lo = e->lo[i], hi = e->hi[i], w = hi - lo;
  int64_t zp;
  /* Widened by a quarter each side: then a fused Relu or Clip bound lies strictly inside the
   * output range and the qmin/qmax clamp does work of its own (not just saturation). */
  if (widen) {
    lo -= 0.25f * w;
    hi += 0.25f * w;
  }
  qparams(e->act, lo, hi, &s, &zp);
  if (s_out) *s_out = s;
  return qdq_with(e, v, s, zp);
}

/* A float activation input in [lo, hi], quantized per tensor (params from that range). */
static sinter_value_t *act_input(env_t *e, int32_t rank, const int64_t *dims, float lo, float hi,
                                 float *s_out) {
  sinter_value_t *x = input(e, SINTER_DTYPE_F32, rank, dims, lo, hi);
  float s;
  int64_t zp;
  qparams(e->act, lo, hi, &s, &zp);
  if (s_out) *s_out = s;
  return qdq_with(e, x, s, zp);
}

/* A random f32 weight quantized symmetric int8 per channel on axis (zero points 0, as a
 * vector), stored as an i8 constant feeding DequantizeLinear. ws (>= dims[axis]) gets the
 * scales. */
static sinter_value_t *weight(env_t *e, int32_t rank, const int64_t *dims, int32_t axis,
                              float *ws) {
  int64_t n = numel(rank, dims), m = dims[axis], inner = numel(rank - axis - 1, dims + axis + 1);
  float *w = malloc(sizeof(float) * (size_t)n);
  int8_t *q = malloc((size_t)n);
  int8_t *z = calloc((size_t)m, 1);
  for (int64_t i = 0; i < n; i++) w[i] = frand(e, -1.0f, 1.0f);
  for (int64_t c = 0; c < m; c++) {
    float mx = 0;
    for (int64_t i = 0; i < n; i++)
      if ((i / inner) % m == c && fabsf(w[i]) > mx) mx = fabsf(w[i]);
    ws[c] = mx > 0 ? mx / 127.0f : 1.0f;
  }
  for (int64_t i = 0; i < n; i++) {
    float v = nearbyintf(w[i] / ws[(i / inner) % m]);
    q[i] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
  }
  sinter_value_t *wq = cnst(e, SINTER_DTYPE_I8, rank, dims, q, (size_t)n);
  sinter_value_t *sv = cnst(e, SINTER_DTYPE_F32, 1, &m, ws, sizeof(float) * (size_t)m);
  sinter_value_t *zv = cnst(e, SINTER_DTYPE_I8, 1, &m, z, (size_t)m);
  free(w);
  free(q);
  free(z);
  sinter_value_t *di[3] = {wq, sv, zv};
  sinter_node_t *dq = node(e, SINTER_OP_DEQUANTIZE_LINEAR, di, 3);
  ok(sinter_node_set_attr_int(dq, "axis", axis));
  return sinter_node_output(dq, 0);
}

/* A random bias of m channels as int32 with scale s_x * ws[c] and zero point 0, through DQ. */
static sinter_value_t *bias_i32(env_t *e, int64_t m, float s_x, const float *ws) {
  int32_t *b = malloc(sizeof(int32_t) * (size_t)m);
  float *bs = malloc(sizeof(float) * (size_t)m);
  for (int64_t c = 0; c < m; c++) {
    bs[c] = s_x * ws[c];
    b[c] = (int32_t)lrintf(frand(e, -0.5f, 0.5f) / bs[c]);
  }
  sinter_value_t *bq = cnst(e, SINTER_DTYPE_I32, 1, &m, b, sizeof(int32_t) * (size_t)m);
  sinter_value_t *sv = cnst(e, SINTER_DTYPE_F32, 1, &m, bs, sizeof(float) * (size_t)m);
  free(b);
  free(bs);
  sinter_value_t *di[2] = {bq, sv};
  sinter_node_t *dq = node(e, SINTER_OP_DEQUANTIZE_LINEAR, di, 2);
  ok(sinter_node_set_attr_int(dq, "axis", 0));
  return sinter_node_output(dq, 0);
}

static void set_ints(sinter_node_t *n, const char *name, int64_t a, int64_t b, int64_t c,
                     int64_t d, int32_t count) {
  int64_t v[4] = {a, b, c, d};
  ok(sinter_node_set_attr_ints(n, name, v, count));
}

/* The final requantization: its scale is the LSB the comparisons count in; the DQ'd float is
 * the graph output. */
static void final_output(env_t *e, sinter_value_t *v) {
  sinter_value_t *y = requant(e, v, &e->out_scale, true);
  if (!e->calib) ok(sinter_graph_add_output(e->g, y));
}

/* ---- the cases ---------------------------------------------------------------------------- */

typedef enum kind_e {
  K_CONV_GROUPS,   /* group 2, asymmetric pads, i32 bias, no activation */
  K_CONV_RELU,     /* group 1, pads 1, stride 2, i32 bias, Relu */
  K_CONV_CLIP,     /* depthwise (group = C), pads 1, no bias, Clip(-0.4, 0.6) */
  K_MATMUL,        /* rank-3 A, per-column B, no bias */
  K_MATMUL_BIAS,   /* MatMul -> QDQ -> Add(DQ(int8 bias)) -> Q: QLinearMatMulAct + QLinearAdd */
  K_GEMM_T,        /* Gemm transB = 1, per-row (axis 0) B, i32 bias */
  K_GEMM_T_RELU,   /* the same with Relu */
  K_MM_ADD,        /* MatMul -> Add(DQ(i32 bias at s_x*s_w)) -> Q: one QLinearMatMulAct */
  K_MM_ADD_I8_RELU,/* Add(DQ(int8 bias), MatMul) -> Relu -> Q: one QLinearMatMulAct */
  K_ADD_RELU,      /* Add with broadcasting, Relu */
  K_MUL,           /* Mul */
  K_GAP,           /* GlobalAveragePool */
  K_MAXPOOL,       /* MaxPool, same params in and out */
  K_CONCAT,        /* Concat, same params in and out */
  K_COUNT
} kind_t;

static const char *const kind_names[K_COUNT] = {
    "conv_groups", "conv_relu", "conv_clip", "matmul", "matmul_bias", "gemm_transB",
    "gemm_transB_relu", "mm_add_i32", "mm_add_i8_relu", "add_relu", "mul", "global_avg_pool",
    "maxpool", "concat"};

static void build(env_t *e, kind_t k) {
  float sx, ws[16];
  switch (k) {
    case K_CONV_GROUPS:
    case K_CONV_RELU:
    case K_CONV_CLIP: {
      int64_t C = 4, M = k == K_CONV_CLIP ? 4 : 6;
      int64_t group = k == K_CONV_GROUPS ? 2 : k == K_CONV_CLIP ? 4 : 1;
      int64_t xd[4] = {2, C, 7, 6}, wd[4] = {M, C / group, 3, 3};
      sinter_value_t *x = act_input(e, 4, xd, -1.0f, 1.5f, &sx);
      sinter_value_t *w = weight(e, 4, wd, 0, ws);
      sinter_value_t *ins[3] = {x, w, k == K_CONV_CLIP ? NULL : bias_i32(e, M, sx, ws)};
      sinter_node_t *c = node(e, SINTER_OP_CONV, ins, k == K_CONV_CLIP ? 2 : 3);
      set_ints(c, "kernel_shape", 3, 3, 0, 0, 2);
      ok(sinter_node_set_attr_int(c, "group", group));
      if (k == K_CONV_GROUPS) set_ints(c, "pads", 0, 1, 2, 1, 4);
      else set_ints(c, "pads", 1, 1, 1, 1, 4);
      if (k == K_CONV_RELU) set_ints(c, "strides", 2, 2, 0, 0, 2);
      sinter_value_t *y = sinter_node_output(c, 0);
      if (k == K_CONV_RELU) y = op1(e, SINTER_OP_RELU, &y, 1);
      if (k == K_CONV_CLIP) {
        sinter_value_t *ci[3] = {y, scalar_f32(e, -0.4f), scalar_f32(e, 0.6f)};
        y = op1(e, SINTER_OP_CLIP, ci, 3);
      }
      final_output(e, y);
      break;
    }
    case K_MATMUL:
    case K_MATMUL_BIAS: {
      int64_t ad[3] = {2, 3, 8}, bd[2] = {8, 5};
      sinter_value_t *a = act_input(e, 3, ad, -2.0f, 1.0f, &sx);
      sinter_value_t *ins[2] = {a, weight(e, 2, bd, 1, ws)};
      sinter_value_t *y = op1(e, SINTER_OP_MATMUL, ins, 2);
      if (k == K_MATMUL_BIAS) {
        y = requant(e, y, NULL, false);
        /* The bias as Sinter's quantize pass and ORT leave an Add's constant operand: int8 per
         * tensor through DQ. */
        float b[5], bs = 0;
        int8_t bq[5];
        for (int i = 0; i < 5; i++) {
          b[i] = frand(e, -1.0f, 1.0f);
          bs = fabsf(b[i]) > bs ? fabsf(b[i]) : bs;
        }
        bs /= 127.0f;
        for (int i = 0; i < 5; i++) bq[i] = (int8_t)nearbyintf(b[i] / bs);
        int64_t n = 5;
        sinter_value_t *di[3] = {cnst(e, SINTER_DTYPE_I8, 1, &n, bq, 5), scalar_f32(e, bs),
                                 scalar_zp(e, SINTER_DTYPE_I8, 0)};
        sinter_value_t *bi[2] = {y, op1(e, SINTER_OP_DEQUANTIZE_LINEAR, di, 3)};
        y = op1(e, SINTER_OP_ADD, bi, 2);
      }
      final_output(e, y);
      break;
    }
    case K_GEMM_T:
    case K_GEMM_T_RELU: {
      int64_t ad[2] = {3, 7}, bd[2] = {4, 7};
      sinter_value_t *a = act_input(e, 2, ad, -1.0f, 1.0f, &sx);
      sinter_value_t *w = weight(e, 2, bd, 0, ws);
      sinter_value_t *ins[3] = {a, w, bias_i32(e, 4, sx, ws)};
      sinter_node_t *gm = node(e, SINTER_OP_GEMM, ins, 3);
      ok(sinter_node_set_attr_int(gm, "transB", 1));
      sinter_value_t *y = sinter_node_output(gm, 0);
      if (k == K_GEMM_T_RELU) y = op1(e, SINTER_OP_RELU, &y, 1);
      final_output(e, y);
      break;
    }
    case K_MM_ADD:
    case K_MM_ADD_I8_RELU: {
      /* nn.Linear on a 3-D input as PyTorch exports it: MatMul, then Add of the bias. */
      int64_t ad[3] = {2, 3, 6}, bd[2] = {6, 4}, n = 4;
      sinter_value_t *a = act_input(e, 3, ad, -1.0f, 1.5f, &sx);
      sinter_value_t *mi[2] = {a, weight(e, 2, bd, 1, ws)};
      sinter_value_t *y = op1(e, SINTER_OP_MATMUL, mi, 2), *b;
      if (k == K_MM_ADD) {
        b = bias_i32(e, n, sx, ws);
      } else {
        /* int8 per tensor through DQ, as the quantize pass writes an Add's constant operand. */
        float bf[4], bs = 0;
        int8_t bq[4];
        for (int i = 0; i < 4; i++) {
          bf[i] = frand(e, -0.5f, 0.5f);
          bs = fabsf(bf[i]) > bs ? fabsf(bf[i]) : bs;
        }
        bs /= 127.0f;
        for (int i = 0; i < 4; i++) bq[i] = (int8_t)nearbyintf(bf[i] / bs);
        sinter_value_t *di[3] = {cnst(e, SINTER_DTYPE_I8, 1, &n, bq, 4), scalar_f32(e, bs),
                                 scalar_zp(e, SINTER_DTYPE_I8, 0)};
        b = op1(e, SINTER_OP_DEQUANTIZE_LINEAR, di, 3);
      }
      sinter_value_t *ai[2] = {k == K_MM_ADD ? y : b, k == K_MM_ADD ? b : y};
      y = op1(e, SINTER_OP_ADD, ai, 2);
      if (k == K_MM_ADD_I8_RELU) y = op1(e, SINTER_OP_RELU, &y, 1);
      final_output(e, y);
      break;
    }
    case K_ADD_RELU:
    case K_MUL: {
      int64_t ad[4] = {2, 3, 4, 5}, bd[4] = {1, 3, 1, 5};
      sinter_value_t *ins[2] = {act_input(e, 4, ad, -1.0f, 2.0f, NULL),
                                act_input(e, 4, bd, -0.7f, 0.5f, NULL)};
      sinter_value_t *y = op1(e, k == K_MUL ? SINTER_OP_MUL : SINTER_OP_ADD, ins, 2);
      if (k == K_ADD_RELU) y = op1(e, SINTER_OP_RELU, &y, 1);
      final_output(e, y);
      break;
    }
    case K_GAP: {
      int64_t xd[4] = {2, 5, 4, 3};
      /* Skewed data so the averages spread over a range narrower than the input's. */
      sinter_value_t *x = act_input(e, 4, xd, -0.5f, 2.0f, NULL);
      final_output(e, op1(e, SINTER_OP_GLOBAL_AVERAGE_POOL, &x, 1));
      break;
    }
    case K_MAXPOOL:
    case K_CONCAT: {
      int64_t xd[4] = {1, 3, 7, 7};
      float s;
      int64_t zp;
      qparams(e->act, -1.0f, 1.0f, &s, &zp);
      sinter_value_t *x = qdq_with(e, input(e, SINTER_DTYPE_F32, 4, xd, -1.0f, 1.0f), s, zp);
      sinter_value_t *y;
      if (k == K_MAXPOOL) {
        sinter_node_t *mp = node(e, SINTER_OP_MAX_POOL, &x, 1);
        set_ints(mp, "kernel_shape", 3, 3, 0, 0, 2);
        set_ints(mp, "strides", 2, 2, 0, 0, 2);
        set_ints(mp, "pads", 1, 1, 1, 1, 4);
        y = sinter_node_output(mp, 0);
      } else {
        int64_t x2d[4] = {1, 2, 7, 7};
        sinter_value_t *x2 = qdq_with(e, input(e, SINTER_DTYPE_F32, 4, x2d, -1.0f, 1.0f), s, zp);
        sinter_value_t *ins[2] = {x, x2};
        sinter_node_t *cc = node(e, SINTER_OP_CONCAT, ins, 2);
        ok(sinter_node_set_attr_int(cc, "axis", 1));
        y = sinter_node_output(cc, 0);
      }
      /* Same params as the input: the op moves values and never computes new ones. */
      e->out_scale = s;
      ok(sinter_graph_add_output(e->g, qdq_with(e, y, s, zp)));
      break;
    }
    default: ck_abort_msg("bad kind");
  }
  ok(sinter_graph_infer_shapes(e->g));
}

/* ---- running ------------------------------------------------------------------------------ */

static void interp(const env_t *e, sinter_tensor_t *out) {
  sinter_interp_t *ip;
  ok(sinter_interp_create(e->g, &ip));
  sinter_status_t st = sinter_interp_run(ip, e->feeds, e->n_feeds, out);
  sinter_interp_destroy(ip);
  ok(st);
}

static void run_pipeline(sinter_graph_t *g, const char *text) {
  sinter_pass_registry_t *r;
  ok(sinter_pass_registry_create(&r));
  sinter_pipeline_t *pl;
  ok(sinter_pipeline_parse(r, text, &pl));
  sinter_pipeline_options_t opts = {.verify_each = true};
  ok(sinter_pipeline_run(g, pl, &opts, NULL));
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(r);
}

/* Nodes of op; with float_only, only those whose first output is f32. */
static int count_op(const sinter_graph_t *g, sinter_op_t op, bool float_only) {
  int n = 0;
  for (sinter_node_t *nd = sinter_graph_first_node(g); nd; nd = sinter_node_next(nd)) {
    if (sinter_node_op(nd) != op) continue;
    const sinter_type_t *t = sinter_value_type(sinter_node_output(nd, 0));
    if (!float_only || t->dtype == SINTER_DTYPE_F32) n++;
  }
  return n;
}

/* Builds case k twice (a float run to measure the requantization ranges, then the QDQ graph). */
static void build_case(env_t *e, kind_t k, sinter_dtype_t act) {
  uint32_t seed = 0x9e3779b9u ^ (uint32_t)(k * 7919 + (act == SINTER_DTYPE_U8 ? 1 : 2));
  env_t cal;
  env_init(&cal, act, true, seed);
  build(&cal, k);
  if (cal.n_probes) {
    sinter_tensor_t outs[MAX_PROBES];
    memset(outs, 0, sizeof(outs));
    interp(&cal, outs);
    for (int32_t p = 0; p < cal.n_probes; p++) {
      const float *d = outs[p].data;
      int64_t n = sinter_tensor_numel(&outs[p]);
      float lo = d[0], hi = d[0];
      for (int64_t i = 1; i < n; i++) {
        lo = d[i] < lo ? d[i] : lo;
        hi = d[i] > hi ? d[i] : hi;
      }
      cal.lo[p] = lo;
      cal.hi[p] = hi;
    }
    free_outs(outs, cal.n_probes);
  }
  env_init(e, act, false, seed);
  memcpy(e->lo, cal.lo, sizeof(e->lo));
  memcpy(e->hi, cal.hi, sizeof(e->hi));
  env_free(&cal);
  build(e, k);
}

/* Compares two f32 outputs of DQ'd integers in units of scale: returns the largest difference
 * in steps and counts the elements that differ. */
static double lsb_diff(const sinter_tensor_t *a, const sinter_tensor_t *b, float scale,
                       int64_t *n_diff, int64_t *n) {
  ck_assert_int_eq(a->dtype, SINTER_DTYPE_F32);
  ck_assert_int_eq(b->dtype, SINTER_DTYPE_F32);
  expect_dims(b, a->rank, a->dims);
  *n = sinter_tensor_numel(a);
  *n_diff = 0;
  double worst = 0;
  const float *x = a->data, *y = b->data;
  for (int64_t i = 0; i < *n; i++) {
    double d = fabs((double)x[i] - (double)y[i]) / scale;
    if (d > 1e-3) (*n_diff)++;
    worst = d > worst ? d : worst;
  }
  return worst;
}

/* The ops fold-qdq must make for case k, and the float ops it must remove. */
static void expect_folded(const sinter_graph_t *g, kind_t k) {
  switch (k) {
    case K_CONV_GROUPS:
    case K_CONV_RELU:
    case K_CONV_CLIP:
      ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_CONV_ACT, false), 1);
      ck_assert_int_eq(count_op(g, SINTER_OP_CONV, false), 0);
      ck_assert_int_eq(count_op(g, SINTER_OP_RELU, false), 0);
      ck_assert_int_eq(count_op(g, SINTER_OP_CLIP, false), 0);
      break;
    case K_MATMUL:
    case K_MATMUL_BIAS:
      ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_MATMUL_ACT, false), 1);
      ck_assert_int_eq(count_op(g, SINTER_OP_MATMUL, false), 0);
      if (k == K_MATMUL_BIAS) {
        ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_ADD, false), 1);
        ck_assert_int_eq(count_op(g, SINTER_OP_ADD, false), 0);
      }
      break;
    case K_GEMM_T:
    case K_GEMM_T_RELU:
      ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_MATMUL_ACT, false), 1);
      ck_assert_int_eq(count_op(g, SINTER_OP_GEMM, false), 0);
      ck_assert_int_eq(count_op(g, SINTER_OP_RELU, false), 0);
      break;
    case K_MM_ADD:
    case K_MM_ADD_I8_RELU: {
      /* One integer op with the bias as input 8: no float MatMul, Add or Relu, no QLinearAdd. */
      ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_MATMUL_ACT, false), 1);
      ck_assert_int_eq(count_op(g, SINTER_OP_MATMUL, false), 0);
      ck_assert_int_eq(count_op(g, SINTER_OP_ADD, false), 0);
      ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_ADD, false), 0);
      ck_assert_int_eq(count_op(g, SINTER_OP_RELU, false), 0);
      for (sinter_node_t *nd = sinter_graph_first_node(g); nd; nd = sinter_node_next(nd))
        if (sinter_node_op(nd) == SINTER_OP_QLINEAR_MATMUL_ACT) {
          ck_assert_int_eq(sinter_node_num_inputs(nd), 9);
          ck_assert_int_eq(sinter_value_type(sinter_node_input(nd, 8))->dtype,
                           SINTER_DTYPE_I32);
        }
      break;
    }
    case K_ADD_RELU:
      ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_ADD, false), 1);
      ck_assert_int_eq(count_op(g, SINTER_OP_ADD, false), 0);
      ck_assert_int_eq(count_op(g, SINTER_OP_RELU, false), 0);
      break;
    case K_MUL:
      ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_MUL, false), 1);
      ck_assert_int_eq(count_op(g, SINTER_OP_MUL, false), 0);
      break;
    case K_GAP:
      ck_assert_int_eq(count_op(g, SINTER_OP_QLINEAR_GLOBAL_AVERAGE_POOL, false), 1);
      ck_assert_int_eq(count_op(g, SINTER_OP_GLOBAL_AVERAGE_POOL, false), 0);
      break;
    case K_MAXPOOL:
    case K_CONCAT: {
      sinter_op_t op = k == K_MAXPOOL ? SINTER_OP_MAX_POOL : SINTER_OP_CONCAT;
      ck_assert_int_eq(count_op(g, op, false), 1);
      ck_assert_int_eq(count_op(g, op, true), 0); /* the one left runs on the integers */
      break;
    }
    default: ck_abort_msg("bad kind");
  }
  /* The widened output range puts the activation bounds inside it: the clamp must be there. */
  bool relu = k == K_CONV_RELU || k == K_GEMM_T_RELU || k == K_MM_ADD_I8_RELU ||
              k == K_ADD_RELU, clip = k == K_CONV_CLIP;
  for (sinter_node_t *nd = sinter_graph_first_node(g); nd && (relu || clip);
       nd = sinter_node_next(nd)) {
    sinter_op_t op = sinter_node_op(nd);
    if (op != SINTER_OP_QLINEAR_CONV_ACT && op != SINTER_OP_QLINEAR_MATMUL_ACT &&
        op != SINTER_OP_QLINEAR_ADD)
      continue;
    ck_assert_ptr_nonnull(sinter_node_attr(nd, "qmin"));
    if (clip) ck_assert_ptr_nonnull(sinter_node_attr(nd, "qmax"));
  }
  /* No float Conv, MatMul or Gemm is left in any case. */
  ck_assert_int_eq(count_op(g, SINTER_OP_CONV, false) + count_op(g, SINTER_OP_MATMUL, false) +
                       count_op(g, SINTER_OP_GEMM, false),
                   0);
}

static bool no_sinter_ops(const sinter_graph_t *g) {
  return !count_op(g, SINTER_OP_QLINEAR_CONV_ACT, false) &&
         !count_op(g, SINTER_OP_QLINEAR_MATMUL_ACT, false) &&
         !count_op(g, SINTER_OP_QLINEAR_ADD, false) &&
         !count_op(g, SINTER_OP_QLINEAR_MUL, false) &&
         !count_op(g, SINTER_OP_QLINEAR_GLOBAL_AVERAGE_POOL, false);
}

/* Tolerances, in steps of the final output's scale:
 * - folded vs QDQ: 1. The QDQ graph dequantizes to f32 and accumulates in f32 (rounding at every
 *   addition) before it quantizes; the integer op accumulates exactly in int32 and rounds once.
 *   Both approximate the same real value within ~1e-6 relative, so they can only land on
 *   opposite sides of one rounding boundary: at most one step apart. Chains of two quantized
 *   ops (matmul_bias) may carry a step of the first into the second: 2 there. mm_add_i8_relu
 *   requantizes its int8 bias to int32 at s_x * s_w (off by at most s_x * s_w / 2, far below
 *   one output step): still one rounding boundary, 1 step. MaxPool and
 *   Concat only select or move integers, so they must be exact (0).
 * - decompose-fused vs folded: bit for bit for QLinearConvAct and QLinearMatMulAct (their
 *   decompositions round at the same steps, docs/ops-sinter.md); 1 step for QLinearAdd/Mul/
 *   GlobalAveragePool, whose decomposition is the float DQ/op/Q path again. */
static double fold_tol(kind_t k) {
  return k == K_MAXPOOL || k == K_CONCAT ? 0.0 : k == K_MATMUL_BIAS ? 2.0 : 1.0;
}
static bool decompose_exact(kind_t k) {
  return k <= K_MATMUL || (k >= K_GEMM_T && k <= K_MM_ADD_I8_RELU) || k == K_MAXPOOL ||
         k == K_CONCAT;
}

static void check_case(kind_t k, sinter_dtype_t act) {
  const char *dn = act == SINTER_DTYPE_U8 ? "u8" : "i8";
  env_t e;
  build_case(&e, k, act);
  ck_assert_int_eq(sinter_graph_num_outputs(e.g), 1);
  sinter_tensor_t ref, fold, dec;
  memset(&ref, 0, sizeof(ref));
  memset(&fold, 0, sizeof(fold));
  memset(&dec, 0, sizeof(dec));
  interp(&e, &ref);

  /* The QDQ output must not be constant (else the comparison proves little). */
  int64_t nd, n;
  const float *r = ref.data;
  int distinct = 0;
  for (int64_t i = 1; i < sinter_tensor_numel(&ref); i++) distinct += r[i] != r[0];
  ck_assert_msg(distinct > 0, "%s/%s: degenerate QDQ output", kind_names[k], dn);

  run_pipeline(e.g, "fold-qdq");
  expect_folded(e.g, k);
  interp(&e, &fold);
  double worst = lsb_diff(&ref, &fold, e.out_scale, &nd, &n);
  printf("fold-qdq %-17s %s: %3lld of %4lld elements (%.2f%%) differ from QDQ, max %.0f step\n",
         kind_names[k], dn, (long long)nd, (long long)n, 100.0 * (double)nd / (double)n, worst);
  ck_assert_msg(worst <= fold_tol(k) + 1e-3, "%s/%s: folded differs by %.3f steps (max %.0f)",
                kind_names[k], dn, worst, fold_tol(k));

  run_pipeline(e.g, "decompose-fused");
  ck_assert_msg(no_sinter_ops(e.g), "%s/%s: ai.sinter op left after decompose-fused",
                kind_names[k], dn);
  interp(&e, &dec);
  if (decompose_exact(k)) {
    ck_assert_uint_eq(dec.nbytes, fold.nbytes);
    ck_assert_msg(!memcmp(dec.data, fold.data, fold.nbytes),
                  "%s/%s: decomposed output is not bit for bit the folded one", kind_names[k], dn);
  } else {
    worst = lsb_diff(&fold, &dec, e.out_scale, &nd, &n);
    printf("decompose %-16s %s: %3lld of %4lld elements differ from folded, max %.0f step\n",
           kind_names[k], dn, (long long)nd, (long long)n, worst);
    ck_assert_msg(worst <= 1.0 + 1e-3, "%s/%s: decomposed differs by %.3f steps", kind_names[k],
                  dn, worst);
  }
  sinter_tensor_free_data(&ref);
  sinter_tensor_free_data(&fold);
  sinter_tensor_free_data(&dec);
  env_free(&e);
}

START_TEST(fold_u8) {
  check_case((kind_t)_i, SINTER_DTYPE_U8);
}
END_TEST

START_TEST(fold_i8) {
  check_case((kind_t)_i, SINTER_DTYPE_I8);
}
END_TEST

/* ---- negative: a weight that is not a constant keeps the float op ------------------------- */

/* DQ(x) and DQ(w) -> Conv (or MatMul) -> Q -> DQ, with w an i8 graph input (as_float: a float
 * graph input quantized by Q in the graph). */
static void check_nonconst_weight(bool conv, bool as_float) {
  env_t e;
  env_init(&e, SINTER_DTYPE_U8, false, 1234u + conv * 2 + as_float);
  float sx, sw = 1.0f / 127.0f;
  int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, ad[2] = {4, 6}, bd[2] = {6, 3};
  sinter_value_t *x = conv ? act_input(&e, 4, xd, -1.0f, 1.0f, &sx)
                           : act_input(&e, 2, ad, -1.0f, 1.0f, &sx);
  sinter_value_t *w, *wdq;
  sinter_value_t *sv = scalar_f32(&e, sw), *zv = scalar_zp(&e, SINTER_DTYPE_I8, 0);
  if (as_float) {
    w = input(&e, SINTER_DTYPE_F32, conv ? 4 : 2, conv ? wd : bd, -1.0f, 1.0f);
    sinter_value_t *qi[3] = {w, sv, zv};
    w = op1(&e, SINTER_OP_QUANTIZE_LINEAR, qi, 3);
  } else {
    w = input(&e, SINTER_DTYPE_I8, conv ? 4 : 2, conv ? wd : bd, 0, 0);
  }
  sinter_value_t *di[3] = {w, sv, zv};
  wdq = op1(&e, SINTER_OP_DEQUANTIZE_LINEAR, di, 3);
  sinter_value_t *ins[2] = {x, wdq};
  sinter_node_t *L = node(&e, conv ? SINTER_OP_CONV : SINTER_OP_MATMUL, ins, 2);
  if (conv) set_ints(L, "kernel_shape", 3, 3, 0, 0, 2);
  e.out_scale = 0.05f;
  ok(sinter_graph_add_output(e.g, qdq_with(&e, sinter_node_output(L, 0), 0.05f, 128)));
  ok(sinter_graph_infer_shapes(e.g));

  sinter_tensor_t ref, got;
  memset(&ref, 0, sizeof(ref));
  memset(&got, 0, sizeof(got));
  interp(&e, &ref);
  int nodes = sinter_graph_num_nodes(e.g);
  run_pipeline(e.g, "fold-qdq");
  sinter_op_t fop = conv ? SINTER_OP_CONV : SINTER_OP_MATMUL;
  ck_assert_int_eq(count_op(e.g, fop, true), 1);
  ck_assert_int_eq(count_op(e.g, SINTER_OP_QLINEAR_CONV_ACT, false) +
                       count_op(e.g, SINTER_OP_QLINEAR_MATMUL_ACT, false),
                   0);
  ck_assert_int_eq(sinter_graph_num_nodes(e.g), nodes);
  interp(&e, &got);
  /* Nothing changed, so the output is the same bit for bit. */
  ck_assert_uint_eq(got.nbytes, ref.nbytes);
  ck_assert(!memcmp(got.data, ref.data, ref.nbytes));
  sinter_tensor_free_data(&ref);
  sinter_tensor_free_data(&got);
  env_free(&e);
}

START_TEST(nonconst_weight) {
  check_nonconst_weight(_i & 1, _i >> 1);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("fold_qdq");
  TCase *tc = tcase_create("numeric");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, fold_u8, 0, K_COUNT);
  tcase_add_loop_test(tc, fold_i8, 0, K_COUNT);
  tcase_add_loop_test(tc, nonconst_weight, 0, 4);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(suite());
}
