/* Reference kernels for the integer ops fold-qdq makes (domain ai.sinter, docs/ops-sinter.md):
 * QLinearConvAct, QLinearMatMulAct, QLinearAdd, QLinearMul and QLinearGlobalAveragePool. They
 * requantize the way QLinearConv does (f32 real multiplier, product in double, round half to
 * even, saturate), then clamp to the attributes [qmin, qmax] that carry a fused Relu or Clip. */
#include "ir/interp/kernels.h"

#define OOM() SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory")

/* ---- helpers ------------------------------------------------------------- */

static bool q8_range(sinter_dtype_t d, int64_t *lo, int64_t *hi) {
  if (d == SINTER_DTYPE_U8) {
    *lo = 0;
    *hi = 255;
    return true;
  }
  if (d == SINTER_DTYPE_I8) {
    *lo = -128;
    *hi = 127;
    return true;
  }
  return false;
}

/* The output clamp: the attributes qmin and qmax intersected with the range of dtype. */
static sinter_status_t out_clamp(const sinter_node_t *node, sinter_dtype_t dt, int64_t *lo,
                                 int64_t *hi) {
  if (!q8_range(dt, lo, hi))
    return SINTER_NODE_ERROR("output dtype is %s, expected u8 or i8", sinter_dtype_name(dt));
  int64_t a = sinter_node_attr_int(node, "qmin", *lo), b = sinter_node_attr_int(node, "qmax", *hi);
  if (a < *lo || b > *hi || a > b)
    return SINTER_NODE_ERROR("clamp [%lld, %lld] is empty or outside the %s range", (long long)a,
                             (long long)b, sinter_dtype_name(dt));
  *lo = a;
  *hi = b;
  return NULL;
}

/* Rounds half to even and saturates into [lo, hi], as QLinearConv's reference does. */
static inline int64_t round_sat(double v, int64_t lo, int64_t hi) {
  if (isnan(v)) return 0 < lo ? lo : 0 > hi ? hi : 0;
  v = nearbyint(v);
  if (v <= (double)lo) return lo;
  if (v >= (double)hi) return hi;
  return (int64_t)v;
}

static void store_q8(sinter_tensor_t *y, int64_t i, int64_t v) {
  if (y->dtype == SINTER_DTYPE_U8)
    ((uint8_t *)y->data)[i] = (uint8_t)v;
  else
    ((int8_t *)y->data)[i] = (int8_t)v;
}

static bool is_q8(sinter_dtype_t d) {
  return d == SINTER_DTYPE_U8 || d == SINTER_DTYPE_I8;
}

static int64_t type_numel(const sinter_type_t *t) {
  int64_t n;
  return t && sinter_type_numel(t, &n) ? n : -1;
}

/* Input i must be a float scalar (a scale) or, with want_int, a u8/i8 scalar (a zero point);
 * len > 1 also accepts a vector of len elements (-1: any length). */
static sinter_status_t check_param(const sinter_infer_ctx_t *ctx, int32_t i, bool want_int,
                                   int64_t len) {
  const sinter_type_t *t = ctx->in[i];
  if (!t) return NULL;
  if (t->dtype != SINTER_DTYPE_UNDEFINED) {
    bool ok = want_int ? is_q8(t->dtype) : t->dtype == SINTER_DTYPE_F32;
    if (!ok)
      return SINTER_NODE_ERROR("input %d has dtype %s, expected %s", i, sinter_dtype_name(t->dtype),
                               want_int ? "u8 or i8" : "f32");
  }
  int64_t n = type_numel(t);
  if (t->rank < 0 || n < 0 || n == 1) return NULL;
  if (len != 1 && t->rank == 1 && (len < 0 || n == len)) return NULL;
  return SINTER_NODE_ERROR("input %d has %lld elements, expected %s", i, (long long)n,
                           len == 1 ? "one" : "one or one per output channel");
}

static sinter_status_t check_out_dtype(const sinter_infer_ctx_t *ctx, int32_t zp_index) {
  sinter_dtype_t dt = ctx->in[zp_index]->dtype;
  if (dt == SINTER_DTYPE_UNDEFINED) return NULL;
  int64_t lo, hi;
  return out_clamp(ctx->node, dt, &lo, &hi);
}

/* Element i (or element 0 of a one-element tensor) of a parameter. */
static float fparam(const sinter_tensor_t *t, int64_t i) {
  int64_t n = sinter_tensor_numel(t);
  return (float)sinter_load_f64(t->data, t->dtype, n == 1 ? 0 : i);
}
static int64_t iparam(const sinter_tensor_t *t, int64_t i) {
  if (!t) return 0;
  int64_t n = sinter_tensor_numel(t);
  return sinter_load_i64(t->data, t->dtype, n == 1 ? 0 : i);
}

/* ---- QLinearConvAct ------------------------------------------------------- */

/* Same inputs and attributes as QLinearConv: its shape logic and kernel do the work, so the two
 * agree bit for bit before the clamp. */
static sinter_status_t infer_qconv_act(sinter_infer_ctx_t *ctx) {
  const sinter_op_impl_t *q = sinter_op_impl(SINTER_OP_QLINEAR_CONV);
  if (!q || !q->infer) return SINTER_ERROR(SINTER_INTERNAL, "QLinearConv has no inference");
  SINTER_TRY(q->infer(ctx));
  return check_out_dtype(ctx, 7);
}

static void clamp_output(sinter_tensor_t *y, int64_t lo, int64_t hi) {
  int64_t n = sinter_tensor_numel(y);
  for (int64_t i = 0; i < n; i++) {
    int64_t v = sinter_load_i64(y->data, y->dtype, i);
    store_q8(y, i, v < lo ? lo : v > hi ? hi : v);
  }
}

static sinter_status_t k_qconv_act(sinter_kernel_ctx_t *ctx) {
  const sinter_op_impl_t *q = sinter_op_impl(SINTER_OP_QLINEAR_CONV);
  if (!q || !q->run) return SINTER_ERROR(SINTER_INTERNAL, "QLinearConv has no kernel");
  int64_t lo, hi;
  SINTER_TRY(out_clamp(ctx->node, ctx->in[7]->dtype, &lo, &hi));
  SINTER_TRY(q->run(ctx));
  clamp_output(&ctx->out[0], lo, hi);
  return NULL;
}

/* ---- QLinearMatMulAct ----------------------------------------------------- */

static sinter_status_t infer_qmatmul_act(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *a = ctx->in[0], *b = ctx->in[3];
  if (a->dtype != SINTER_DTYPE_UNDEFINED && !is_q8(a->dtype))
    return SINTER_NODE_ERROR("A is %s, expected u8 or i8", sinter_dtype_name(a->dtype));
  if (b->dtype != SINTER_DTYPE_UNDEFINED && !is_q8(b->dtype))
    return SINTER_NODE_ERROR("B is %s, expected u8 or i8", sinter_dtype_name(b->dtype));
  if (b->rank >= 0 && b->rank != 2) return SINTER_NODE_ERROR("B has rank %d, expected 2", b->rank);
  if (a->rank == 0) return SINTER_NODE_ERROR("A is a scalar");
  int64_t N = b->rank == 2 ? b->dims[1].size : -1;
  SINTER_TRY(check_param(ctx, 1, false, 1));
  SINTER_TRY(check_param(ctx, 2, true, 1));
  SINTER_TRY(check_param(ctx, 4, false, N));
  SINTER_TRY(check_param(ctx, 5, true, N));
  SINTER_TRY(check_param(ctx, 6, false, 1));
  SINTER_TRY(check_param(ctx, 7, true, 1));
  const sinter_type_t *bias = ctx->n_inputs > 8 ? ctx->in[8] : NULL;
  if (bias) {
    if (bias->dtype != SINTER_DTYPE_UNDEFINED && bias->dtype != SINTER_DTYPE_I32)
      return SINTER_NODE_ERROR("bias is %s, expected i32", sinter_dtype_name(bias->dtype));
    if (bias->rank >= 0 && (bias->rank != 1 || (N >= 0 && bias->dims[0].size >= 0 &&
                                                bias->dims[0].size != N)))
      return SINTER_NODE_ERROR("bias must be a vector of the %lld output columns", (long long)N);
  }
  SINTER_TRY(check_out_dtype(ctx, 7));
  sinter_type_t o;
  memset(&o, 0, sizeof(o));
  SINTER_TRY(sinter_matmul_shape(a, b, &o));
  o.dtype = ctx->in[7]->dtype;
  ctx->out[0] = o;
  return NULL;
}

/* y[r, j] = clamp(round_sat(acc * mult_j + y_zp)), acc = bias[j] + sum_k (a[r,k] - a_zp) *
 * (b[k,j] - b_zp[j]) in int32 that wraps, mult_j = a_scale * b_scale[j] / y_scale in f32. */
static sinter_status_t k_qmatmul_act(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *a = ctx->in[0], *b = ctx->in[3];
  const sinter_tensor_t *bias = ctx->n_inputs > 8 ? ctx->in[8] : NULL;
  if (b->rank != 2 || a->rank < 1) return SINTER_NODE_ERROR("A must have rank >= 1 and B rank 2");
  int64_t K = b->dims[0], N = b->dims[1];
  if (a->dims[a->rank - 1] != K)
    return SINTER_NODE_ERROR("A has %lld columns but B has %lld rows",
                             (long long)a->dims[a->rank - 1], (long long)K);
  if (bias && sinter_tensor_numel(bias) != N)
    return SINTER_NODE_ERROR("bias has %lld elements, expected %lld",
                             (long long)sinter_tensor_numel(bias), (long long)N);
  int64_t lo, hi;
  SINTER_TRY(out_clamp(ctx->node, ctx->in[7]->dtype, &lo, &hi));
  if (!ctx->out[0].data) {
    int64_t dims[SINTER_MAX_RANK];
    int32_t r = a->rank == 1 ? 1 : a->rank;
    for (int32_t d = 0; d < a->rank - 1; d++) dims[d] = a->dims[d];
    dims[r - 1] = N;
    SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, ctx->in[7]->dtype, r, dims));
  }
  sinter_tensor_t *y = &ctx->out[0];
  int64_t rows = K ? sinter_tensor_numel(a) / K : 0;
  if (K == 0) rows = sinter_tensor_numel(y) / (N ? N : 1);
  int32_t *bt = malloc(sizeof(int32_t) * (size_t)(K * N > 0 ? K * N : 1));
  int32_t *ar = malloc(sizeof(int32_t) * (size_t)(K > 0 ? K : 1));
  if (!bt || !ar) {
    free(bt);
    free(ar);
    return OOM();
  }
  /* B transposed to [N, K] with its zero points subtracted. */
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++)
      bt[j * K + k] =
          (int32_t)(sinter_load_i64(b->data, b->dtype, k * N + j) - iparam(ctx->in[5], j));
  float as = fparam(ctx->in[1], 0), ys = fparam(ctx->in[6], 0);
  int64_t az = iparam(ctx->in[2], 0), yz = iparam(ctx->in[7], 0);
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t k = 0; k < K; k++)
      ar[k] = (int32_t)(sinter_load_i64(a->data, a->dtype, r * K + k) - az);
    for (int64_t j = 0; j < N; j++) {
      uint32_t acc = bias ? (uint32_t)sinter_load_i64(bias->data, bias->dtype, j) : 0;
      const int32_t *bj = bt + j * K;
      for (int64_t k = 0; k < K; k++) acc += (uint32_t)ar[k] * (uint32_t)bj[k];
      float mult = as * fparam(ctx->in[4], j) / ys;
      store_q8(y, r * N + j, round_sat((double)(int32_t)acc * (double)mult + (double)yz, lo, hi));
    }
  }
  free(bt);
  free(ar);
  return NULL;
}

/* ---- QLinearAdd / QLinearMul ---------------------------------------------- */

static sinter_status_t infer_qbinary(sinter_infer_ctx_t *ctx) {
  static const int32_t scales[] = {1, 4, 6}, zps[] = {2, 5, 7};
  for (int32_t i = 0; i < 3; i++) {
    SINTER_TRY(check_param(ctx, scales[i], false, 1));
    SINTER_TRY(check_param(ctx, zps[i], true, 1));
  }
  const sinter_type_t *a = ctx->in[0], *b = ctx->in[3];
  if (a->dtype != SINTER_DTYPE_UNDEFINED && !is_q8(a->dtype))
    return SINTER_NODE_ERROR("A is %s, expected u8 or i8", sinter_dtype_name(a->dtype));
  if (b->dtype != SINTER_DTYPE_UNDEFINED && !is_q8(b->dtype))
    return SINTER_NODE_ERROR("B is %s, expected u8 or i8", sinter_dtype_name(b->dtype));
  SINTER_TRY(check_out_dtype(ctx, 7));
  const sinter_type_t *ts[2] = {a, b};
  SINTER_TRY(sinter_broadcast_types(ts, 2, &ctx->out[0]));
  ctx->out[0].dtype = ctx->in[7]->dtype;
  return NULL;
}

static sinter_status_t k_qbinary(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *a = ctx->in[0], *b = ctx->in[3];
  int64_t lo, hi;
  SINTER_TRY(out_clamp(ctx->node, ctx->in[7]->dtype, &lo, &hi));
  if (!ctx->out[0].data) {
    sinter_type_t ta, tb, o;
    sinter_type_set_static(&ta, a->dtype, a->rank, a->dims);
    sinter_type_set_static(&tb, b->dtype, b->rank, b->dims);
    const sinter_type_t *ts[2] = {&ta, &tb};
    memset(&o, 0, sizeof(o));
    SINTER_TRY(sinter_broadcast_types(ts, 2, &o));
    int64_t dims[SINTER_MAX_RANK];
    for (int32_t d = 0; d < o.rank; d++) dims[d] = o.dims[d].size;
    SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, ctx->in[7]->dtype, o.rank, dims));
  }
  sinter_tensor_t *y = &ctx->out[0];
  int64_t sa[SINTER_MAX_RANK], sb[SINTER_MAX_RANK], idx[SINTER_MAX_RANK] = {0};
  sinter_broadcast_strides(a, y->rank, y->dims, sa);
  sinter_broadcast_strides(b, y->rank, y->dims, sb);
  float as = fparam(ctx->in[1], 0), bs = fparam(ctx->in[4], 0), ys = fparam(ctx->in[6], 0);
  int64_t az = iparam(ctx->in[2], 0), bz = iparam(ctx->in[5], 0), yz = iparam(ctx->in[7], 0);
  bool mul = ctx->node->op == SINTER_OP_QLINEAR_MUL;
  /* The real multipliers, rounded to f32 like QLinearConv's. */
  float ma = as / ys, mb = bs / ys, mab = as * bs / ys;
  int64_t n = sinter_tensor_numel(y), ia = 0, ib = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t qa = sinter_load_i64(a->data, a->dtype, ia) - az;
    int64_t qb = sinter_load_i64(b->data, b->dtype, ib) - bz;
    double v = mul ? (double)(qa * qb) * (double)mab + (double)yz
                   : (double)qa * (double)ma + (double)qb * (double)mb + (double)yz;
    store_q8(y, i, round_sat(v, lo, hi));
    for (int32_t d = y->rank - 1; d >= 0; d--) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < y->dims[d]) break;
      ia -= sa[d] * y->dims[d];
      ib -= sb[d] * y->dims[d];
      idx[d] = 0;
    }
  }
  return NULL;
}

/* ---- QLinearGlobalAveragePool ---------------------------------------------- */

static sinter_status_t infer_qgap(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  if (x->dtype != SINTER_DTYPE_UNDEFINED && !is_q8(x->dtype))
    return SINTER_NODE_ERROR("X is %s, expected u8 or i8", sinter_dtype_name(x->dtype));
  for (int32_t i = 1; i < 5; i++) SINTER_TRY(check_param(ctx, i, i % 2 == 0, 1));
  if (ctx->in[4]->dtype != SINTER_DTYPE_UNDEFINED) {
    int64_t lo, hi;
    SINTER_TRY(out_clamp(ctx->node, ctx->in[4]->dtype, &lo, &hi));
  }
  if (x->rank >= 0 && x->rank < 3)
    return SINTER_NODE_ERROR("X has rank %d, expected at least 3", x->rank);
  ctx->out[0] = *x;
  ctx->out[0].dtype = ctx->in[4]->dtype;
  for (int32_t d = 2; d < x->rank; d++) {
    ctx->out[0].dims[d].size = 1;
    ctx->out[0].dims[d].sym = NULL;
  }
  return NULL;
}

/* y[n, c] = round_sat(S * mult / count + y_zp), S = sum (x - x_zp) exactly in int64,
 * mult = x_scale / y_scale in f32, the product and quotient in double. */
static sinter_status_t k_qgap(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  if (x->rank < 3) return SINTER_NODE_ERROR("X has rank %d, expected at least 3", x->rank);
  int64_t lo, hi;
  SINTER_TRY(out_clamp(ctx->node, ctx->in[4]->dtype, &lo, &hi));
  if (!ctx->out[0].data) {
    int64_t dims[SINTER_MAX_RANK];
    for (int32_t d = 0; d < x->rank; d++) dims[d] = d < 2 ? x->dims[d] : 1;
    SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, ctx->in[4]->dtype, x->rank, dims));
  }
  int64_t S = 1;
  for (int32_t d = 2; d < x->rank; d++) S *= x->dims[d];
  int64_t NC = x->dims[0] * x->dims[1];
  float mult = fparam(ctx->in[1], 0) / fparam(ctx->in[3], 0);
  int64_t xz = iparam(ctx->in[2], 0), yz = iparam(ctx->in[4], 0);
  for (int64_t c = 0; c < NC; c++) {
    int64_t sum = 0;
    for (int64_t p = 0; p < S; p++) sum += sinter_load_i64(x->data, x->dtype, c * S + p) - xz;
    double v = S ? (double)sum * (double)mult / (double)S + (double)yz : (double)yz;
    store_q8(&ctx->out[0], c, round_sat(v, lo, hi));
  }
  return NULL;
}

/* ---- table ---------------------------------------------------------------- */

const sinter_op_impl_t sinter_impl_qfused[] = {
    {SINTER_OP_QLINEAR_CONV_ACT, infer_qconv_act, k_qconv_act},
    {SINTER_OP_QLINEAR_MATMUL_ACT, infer_qmatmul_act, k_qmatmul_act},
    {SINTER_OP_QLINEAR_ADD, infer_qbinary, k_qbinary},
    {SINTER_OP_QLINEAR_MUL, infer_qbinary, k_qbinary},
    {SINTER_OP_QLINEAR_GLOBAL_AVERAGE_POOL, infer_qgap, k_qgap},
    {0},
};
