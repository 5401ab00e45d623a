/* Reference kernels for the quantized ops: QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear, MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv, with the
 * exact integer semantics ONNX specifies (int32 accumulation that wraps, round half to even,
 * saturation). Requantization multiplies the int32 accumulator by the f32 real multiplier
 * (scale_a * scale_b / scale_y, computed in f32 as the ONNX reference does) in double. */
#include "ir/interp/kernels.h"

enum { MAX_SPATIAL = SINTER_MAX_RANK - 2 };

/* ---- helpers ------------------------------------------------------------- */

/* The integer range of a quantized dtype; false for dtypes that are not quantized integers. */
static bool qrange(sinter_dtype_t d, int64_t *lo, int64_t *hi) {
  switch (d) {
    case SINTER_DTYPE_U8:
      *lo = 0;
      *hi = 255;
      return true;
    case SINTER_DTYPE_I8:
      *lo = -128;
      *hi = 127;
      return true;
    case SINTER_DTYPE_U16:
      *lo = 0;
      *hi = 65535;
      return true;
    case SINTER_DTYPE_I16:
      *lo = -32768;
      *hi = 32767;
      return true;
    case SINTER_DTYPE_U4:
      *lo = 0;
      *hi = 15;
      return true;
    case SINTER_DTYPE_I4:
      *lo = -8;
      *hi = 7;
      return true;
    case SINTER_DTYPE_I32:
      *lo = INT32_MIN;
      *hi = INT32_MAX;
      return true;
    default: return false;
  }
}

/* Rounds half to even (the default rounding mode) and saturates into [lo, hi]; NaN gives 0. */
static inline int64_t round_sat(double v, int64_t lo, int64_t hi) {
  if (isnan(v)) return 0 < lo ? lo : 0 > hi ? hi : 0;
  v = nearbyint(v);
  if (v <= (double)lo) return lo;
  if (v >= (double)hi) return hi;
  return (int64_t)v;
}

static sinter_dtype_t dtype_from_onnx(int64_t t) {
  switch (t) {
    case 2: return SINTER_DTYPE_U8;
    case 3: return SINTER_DTYPE_I8;
    case 4: return SINTER_DTYPE_U16;
    case 5: return SINTER_DTYPE_I16;
    case 17: return SINTER_DTYPE_F8E4M3;
    case 21: return SINTER_DTYPE_U4;
    case 22: return SINTER_DTYPE_I4;
    default: return SINTER_DTYPE_UNDEFINED;
  }
}

static bool known(sinter_dtype_t d) {
  return d != SINTER_DTYPE_UNDEFINED;
}

static sinter_status_t need_dtype(const sinter_infer_ctx_t *ctx, int32_t i,
                                  bool (*ok)(sinter_dtype_t), const char *what) {
  const sinter_type_t *t = ctx->in[i];
  if (t && known(t->dtype) && !ok(t->dtype))
    return SINTER_NODE_ERROR("input %d has dtype %s, expected %s", i, sinter_dtype_name(t->dtype),
                             what);
  return NULL;
}

static bool is_q8(sinter_dtype_t d) {
  return d == SINTER_DTYPE_U8 || d == SINTER_DTYPE_I8;
}
static bool is_qint(sinter_dtype_t d) {
  int64_t lo, hi;
  return qrange(d, &lo, &hi);
}
static bool is_scale(sinter_dtype_t d) {
  return d == SINTER_DTYPE_F32 || d == SINTER_DTYPE_F16 || d == SINTER_DTYPE_BF16;
}
static bool is_i32(sinter_dtype_t d) {
  return d == SINTER_DTYPE_I32;
}

/* Number of elements of a static type, or -1. */
static int64_t type_numel(const sinter_type_t *t) {
  int64_t n;
  return t && sinter_type_numel(t, &n) ? n : -1;
}

/* Reads all elements of t as int64 into a malloc'ed array; a NULL t (an omitted zero point)
 * gives n_absent zeros. */
static int64_t *read_i64(const sinter_tensor_t *t, int64_t n_absent, int64_t *out_n) {
  int64_t n = t ? sinter_tensor_numel(t) : n_absent;
  if (n < 0) return NULL;
  int64_t *r = calloc((size_t)(n ? n : 1), sizeof(int64_t));
  if (!r) return NULL;
  for (int64_t i = 0; t && i < n; i++) r[i] = sinter_load_i64(t->data, t->dtype, i);
  *out_n = n;
  return r;
}

#define OOM() SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory")

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------ */

/* How scale and zero point apply to x, viewed as [outer, axis_len, inner]: per tensor
 * (one element), per axis (axis_len elements) or blocked (outer x nblocks x inner). */
typedef struct qlayout_s {
  int mode; /* 0 per tensor, 1 per axis, 2 blocked */
  int64_t outer, axis_len, inner, block, nblocks;
} qlayout_t;

static sinter_status_t infer_qparams(const sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *s = ctx->in[1];
  const sinter_type_t *z = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  int64_t block = sinter_node_attr_int(ctx->node, "block_size", 0);
  if (block < 0) return SINTER_NODE_ERROR("block_size is %lld", (long long)block);
  if (z && z->rank >= 0 && s->rank >= 0) {
    bool same = z->rank == s->rank;
    for (int32_t d = 0; same && d < s->rank; d++)
      if (z->dims[d].size >= 0 && s->dims[d].size >= 0 && z->dims[d].size != s->dims[d].size)
        same = false;
    if (!same) return SINTER_NODE_ERROR("zero point and scale have different shapes");
  }
  if (s->rank < 0 || x->rank < 0) return NULL;
  if (s->rank == 0 || type_numel(s) == 1) return NULL; /* per tensor */
  int32_t axis;
  if (!sinter_norm_axis(sinter_node_attr_int(ctx->node, "axis", 1), x->rank, &axis))
    return SINTER_NODE_ERROR("axis %lld is out of range for rank %d",
                             (long long)sinter_node_attr_int(ctx->node, "axis", 1), x->rank);
  if (block > 0) {
    if (s->rank != x->rank)
      return SINTER_NODE_ERROR("blocked scale has rank %d, expected %d", s->rank, x->rank);
    for (int32_t d = 0; d < x->rank; d++) {
      int64_t xd = x->dims[d].size, sd = s->dims[d].size;
      if (xd < 0 || sd < 0) continue;
      int64_t want = d == axis ? (xd + block - 1) / block : xd;
      if (sd != want)
        return SINTER_NODE_ERROR("blocked scale dim %d is %lld, expected %lld", d, (long long)sd,
                                 (long long)want);
    }
    return NULL;
  }
  if (s->rank != 1)
    return SINTER_NODE_ERROR("scale has rank %d: expected a scalar or a 1-D per-axis tensor",
                             s->rank);
  if (s->dims[0].size >= 0 && x->dims[axis].size >= 0 && s->dims[0].size != x->dims[axis].size)
    return SINTER_NODE_ERROR("scale has %lld elements but axis %d has size %lld",
                             (long long)s->dims[0].size, axis, (long long)x->dims[axis].size);
  return NULL;
}

static sinter_status_t q_layout(const sinter_node_t *node, const sinter_tensor_t *x,
                                const sinter_tensor_t *s, const sinter_tensor_t *z, qlayout_t *l) {
  int64_t n = sinter_tensor_numel(x), ns = sinter_tensor_numel(s);
  if (z && sinter_tensor_numel(z) != ns)
    return SINTER_NODE_ERROR("zero point and scale have different sizes");
  memset(l, 0, sizeof(*l));
  l->outer = 1;
  l->axis_len = 1;
  l->inner = n;
  if (ns == 1) return NULL;
  int32_t axis;
  if (!sinter_norm_axis(sinter_node_attr_int(node, "axis", 1), x->rank, &axis))
    return SINTER_NODE_ERROR("axis is out of range for rank %d", x->rank);
  l->outer = 1;
  l->inner = 1;
  for (int32_t d = 0; d < axis; d++) l->outer *= x->dims[d];
  for (int32_t d = axis + 1; d < x->rank; d++) l->inner *= x->dims[d];
  l->axis_len = x->dims[axis];
  l->block = sinter_node_attr_int(node, "block_size", 0);
  if (l->block > 0) {
    l->mode = 2;
    l->nblocks = (l->axis_len + l->block - 1) / l->block;
    if (ns != l->outer * l->nblocks * l->inner)
      return SINTER_NODE_ERROR("blocked scale has %lld elements, expected %lld", (long long)ns,
                               (long long)(l->outer * l->nblocks * l->inner));
  } else {
    l->mode = 1;
    if (ns != l->axis_len)
      return SINTER_NODE_ERROR("scale has %lld elements but the axis has %lld", (long long)ns,
                               (long long)l->axis_len);
  }
  return NULL;
}

static inline int64_t q_param(const qlayout_t *l, int64_t o, int64_t a, int64_t in) {
  if (l->mode == 0) return 0;
  if (l->mode == 1) return a;
  return (o * l->nblocks + a / l->block) * l->inner + in;
}

/* Output dtype of QuantizeLinear: the zero point's, else output_dtype, else u8. */
static sinter_status_t quant_out_dtype(const sinter_node_t *node, const sinter_type_t *zp,
                                       sinter_dtype_t *out) {
  if (zp && known(zp->dtype)) {
    *out = zp->dtype;
  } else {
    int64_t od = sinter_node_attr_int(node, "output_dtype", 0);
    *out = od ? dtype_from_onnx(od) : SINTER_DTYPE_U8;
    if (!known(*out))
      return SINTER_NODE_UNSUPPORTED("output_dtype %lld is not supported", (long long)od);
  }
  if (*out != SINTER_DTYPE_F8E4M3 && (!is_qint(*out) || *out == SINTER_DTYPE_I32))
    return SINTER_NODE_ERROR("cannot quantize to %s", sinter_dtype_name(*out));
  return NULL;
}

static bool is_quant_input(sinter_dtype_t d) {
  return is_scale(d) || d == SINTER_DTYPE_I32;
}

static sinter_status_t infer_quantize(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(need_dtype(ctx, 0, is_quant_input, "f32, f16, bf16 or i32"));
  SINTER_TRY(need_dtype(ctx, 1, is_scale, "a float scale type"));
  SINTER_TRY(infer_qparams(ctx));
  sinter_dtype_t dt;
  SINTER_TRY(quant_out_dtype(ctx->node, ctx->n_inputs > 2 ? ctx->in[2] : NULL, &dt));
  ctx->out[0] = *ctx->in[0];
  ctx->out[0].dtype = dt;
  return NULL;
}

static sinter_status_t k_quantize(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *s = ctx->in[1];
  const sinter_tensor_t *z = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  sinter_type_t zt;
  if (z) sinter_type_set_static(&zt, z->dtype, z->rank, z->dims);
  sinter_dtype_t dt;
  SINTER_TRY(quant_out_dtype(ctx->node, z ? &zt : NULL, &dt));
  if (!ctx->out[0].data) SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, dt, x->rank, x->dims));
  sinter_tensor_t *y = &ctx->out[0];
  qlayout_t l;
  SINTER_TRY(q_layout(ctx->node, x, s, z, &l));
  bool sat = sinter_node_attr_int(ctx->node, "saturate", 1) != 0;
  bool f8 = dt == SINTER_DTYPE_F8E4M3;
  int64_t lo = 0, hi = 0;
  if (!f8) qrange(dt, &lo, &hi);
  float *sc = sinter_tensor_to_f32(s);
  int64_t nz = 0;
  int64_t *zi = f8 ? NULL : read_i64(z, sinter_tensor_numel(s), &nz);
  float *zf = f8 && z ? sinter_tensor_to_f32(z) : NULL;
  if (!sc || (!f8 && !zi) || (f8 && z && !zf)) {
    free(sc);
    free(zi);
    free(zf);
    return OOM();
  }
  const float *xf = x->dtype == SINTER_DTYPE_F32 ? x->data : NULL;
  for (int64_t o = 0; o < l.outer; o++) {
    for (int64_t a = 0; a < l.axis_len; a++) {
      int64_t base = (o * l.axis_len + a) * l.inner;
      for (int64_t in = 0; in < l.inner; in++) {
        int64_t i = base + in, p = q_param(&l, o, a, in);
        if (f8) {
          float v = (float)sinter_load_f64(x->data, x->dtype, i) / sc[p] + (zf ? zf[p] : 0.0f);
          if (!sat && !isnan(v) && fabsf(v) > 464.0f) /* beyond 448 and its rounding range */
            ((uint8_t *)y->data)[i] = (uint8_t)((signbit(v) ? 0x80 : 0) | 0x7f);
          else
            ((uint8_t *)y->data)[i] = sinter_f32_to_f8e4m3(v);
          continue;
        }
        /* Divide in f32 as the ONNX reference does (i32 inputs divide in double, as NumPy
         * promotes them), round half to even, add the zero point, saturate. */
        double q = xf ? (double)(xf[i] / sc[p])
                   : x->dtype == SINTER_DTYPE_I32
                       ? (double)((const int32_t *)x->data)[i] / sc[p]
                       : (double)((float)sinter_load_f64(x->data, x->dtype, i) / sc[p]);
        int64_t v = round_sat((isnan(q) ? 0.0 : nearbyint(q)) + (double)zi[p], lo, hi);
        if (dt == SINTER_DTYPE_U8)
          ((uint8_t *)y->data)[i] = (uint8_t)v;
        else if (dt == SINTER_DTYPE_I8)
          ((int8_t *)y->data)[i] = (int8_t)v;
        else
          sinter_store_i64(y->data, dt, i, v);
      }
    }
  }
  free(sc);
  free(zi);
  free(zf);
  return NULL;
}

static bool is_dequant_input(sinter_dtype_t d) {
  return is_qint(d) || d == SINTER_DTYPE_F8E4M3;
}

static sinter_status_t infer_dequantize(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(need_dtype(ctx, 0, is_dequant_input, "a quantized integer type or f8e4m3"));
  SINTER_TRY(need_dtype(ctx, 1, is_scale, "a float scale type"));
  const sinter_type_t *z = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  if (z && known(z->dtype) && known(ctx->in[0]->dtype) && z->dtype != ctx->in[0]->dtype)
    return SINTER_NODE_ERROR("zero point is %s but x is %s", sinter_dtype_name(z->dtype),
                             sinter_dtype_name(ctx->in[0]->dtype));
  SINTER_TRY(infer_qparams(ctx));
  ctx->out[0] = *ctx->in[0];
  ctx->out[0].dtype = ctx->in[1]->dtype;
  return NULL;
}

static sinter_status_t k_dequantize(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *s = ctx->in[1];
  const sinter_tensor_t *z = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  if (!ctx->out[0].data) SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, s->dtype, x->rank, x->dims));
  sinter_tensor_t *y = &ctx->out[0];
  qlayout_t l;
  SINTER_TRY(q_layout(ctx->node, x, s, z, &l));
  bool f8 = x->dtype == SINTER_DTYPE_F8E4M3;
  float *sc = sinter_tensor_to_f32(s);
  int64_t nz = 0;
  int64_t *zi = f8 ? NULL : read_i64(z, sinter_tensor_numel(s), &nz);
  float *zf = f8 && z ? sinter_tensor_to_f32(z) : NULL;
  if (!sc || (!f8 && !zi) || (f8 && z && !zf)) {
    free(sc);
    free(zi);
    free(zf);
    return OOM();
  }
  bool yf32 = y->dtype == SINTER_DTYPE_F32;
  for (int64_t o = 0; o < l.outer; o++) {
    for (int64_t a = 0; a < l.axis_len; a++) {
      int64_t base = (o * l.axis_len + a) * l.inner;
      for (int64_t in = 0; in < l.inner; in++) {
        int64_t i = base + in, p = q_param(&l, o, a, in);
        float v;
        if (f8) {
          v = (sinter_f8e4m3_to_f32(((const uint8_t *)x->data)[i]) - (zf ? zf[p] : 0.0f)) * sc[p];
        } else {
          /* Subtract exactly in integers (as ONNX Runtime does), then scale in f32. */
          v = (float)(sinter_load_i64(x->data, x->dtype, i) - zi[p]) * sc[p];
        }
        if (yf32)
          ((float *)y->data)[i] = v;
        else
          sinter_store_f64(y->data, y->dtype, i, v);
      }
    }
  }
  free(sc);
  free(zi);
  free(zf);
  return NULL;
}

/* ---- DynamicQuantizeLinear ------------------------------------------------- */

static bool is_f32(sinter_dtype_t d) {
  return d == SINTER_DTYPE_F32;
}

static sinter_status_t infer_dynamic_quantize(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(need_dtype(ctx, 0, is_f32, "f32"));
  ctx->out[0] = *ctx->in[0];
  ctx->out[0].dtype = SINTER_DTYPE_U8;
  sinter_type_set_static(&ctx->out[1], SINTER_DTYPE_F32, 0, NULL);
  sinter_type_set_static(&ctx->out[2], SINTER_DTYPE_U8, 0, NULL);
  return NULL;
}

/* The ONNX formula, in f32 like the reference: the range always includes 0, scale is
 * range / 255 (1 / 255 when the range is empty), the zero point is round(clip(-min / scale)),
 * and y = saturate(round(x / scale) + zero_point). NaN inputs are skipped for the range. */
static sinter_status_t k_dynamic_quantize(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  if (!ctx->out[0].data)
    SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, SINTER_DTYPE_U8, x->rank, x->dims));
  if (!ctx->out[1].data) SINTER_TRY(sinter_kernel_alloc_output(ctx, 1, SINTER_DTYPE_F32, 0, NULL));
  if (!ctx->out[2].data) SINTER_TRY(sinter_kernel_alloc_output(ctx, 2, SINTER_DTYPE_U8, 0, NULL));
  const float *xs = x->data;
  int64_t n = sinter_tensor_numel(x);
  float mn = 0.0f, mx = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    if (xs[i] < mn) mn = xs[i];
    if (xs[i] > mx) mx = xs[i];
  }
  float scale = (mx == mn ? 1.0f : mx - mn) / 255.0f;
  float izp = 0.0f - mn / scale;
  uint8_t zp = (uint8_t)round_sat(izp, 0, 255);
  uint8_t *y = ctx->out[0].data;
  for (int64_t i = 0; i < n; i++)
    y[i] = (uint8_t)round_sat(nearbyintf(xs[i] / scale) + (double)zp, 0, 255);
  *(float *)ctx->out[1].data = scale;
  *(uint8_t *)ctx->out[2].data = zp;
  return NULL;
}

/* ---- integer matmul --------------------------------------------------------- */

/* Copies x into a fresh int32 array minus its zero point zp, which broadcasts against x
 * (NumPy rules) after optionally gaining a trailing unit dim (a per-row vector). */
static sinter_status_t sub_zero_point(const sinter_tensor_t *x, const sinter_tensor_t *zp,
                                      bool zp_per_row, int32_t **out) {
  int64_t n = sinter_tensor_numel(x);
  int32_t *r = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!r) return OOM();
  if (!zp || sinter_tensor_numel(zp) == 1) {
    int64_t z = zp ? sinter_load_i64(zp->data, zp->dtype, 0) : 0;
    if (x->dtype == SINTER_DTYPE_U8)
      for (int64_t i = 0; i < n; i++) r[i] = (int32_t)(((const uint8_t *)x->data)[i] - z);
    else if (x->dtype == SINTER_DTYPE_I8)
      for (int64_t i = 0; i < n; i++) r[i] = (int32_t)(((const int8_t *)x->data)[i] - z);
    else
      for (int64_t i = 0; i < n; i++) r[i] = (int32_t)(sinter_load_i64(x->data, x->dtype, i) - z);
    *out = r;
    return NULL;
  }
  sinter_tensor_t zv = *zp;
  if (zp_per_row) {
    zv.rank = 2;
    zv.dims[0] = sinter_tensor_numel(zp);
    zv.dims[1] = 1;
  }
  if (zv.rank > x->rank) {
    free(r);
    return SINTER_NODE_ERROR("zero point has rank %d, above the rank %d of its input", zv.rank,
                             x->rank);
  }
  for (int32_t d = 0; d < zv.rank; d++) {
    int64_t zd = zv.dims[d], xd = x->dims[d + x->rank - zv.rank];
    if (zd != 1 && zd != xd) {
      free(r);
      return SINTER_NODE_ERROR("zero point dim %d is %lld, does not broadcast to %lld", d,
                               (long long)zd, (long long)xd);
    }
  }
  int64_t st[SINTER_MAX_RANK], idx[SINTER_MAX_RANK] = {0};
  sinter_broadcast_strides(&zv, x->rank, x->dims, st);
  int64_t zoff = 0;
  for (int64_t i = 0; i < n; i++) {
    r[i] =
        (int32_t)(sinter_load_i64(x->data, x->dtype, i) - sinter_load_i64(zv.data, zv.dtype, zoff));
    for (int32_t d = x->rank - 1; d >= 0; d--) {
      idx[d]++;
      zoff += st[d];
      if (idx[d] < x->dims[d]) break;
      zoff -= st[d] * x->dims[d];
      idx[d] = 0;
    }
  }
  *out = r;
  return NULL;
}

/* C[M,N] = A[M,K] * B[K,N] in int32 with wrap-around (computed in uint32, so overflow is
 * defined). */
static void igemm(int64_t M, int64_t N, int64_t K, const int32_t *A, const int32_t *B, int32_t *C) {
  for (int64_t i = 0; i < M; i++) {
    uint32_t *c = (uint32_t *)(C + i * N);
    for (int64_t j = 0; j < N; j++) c[j] = 0;
    for (int64_t k = 0; k < K; k++) {
      uint32_t av = (uint32_t)A[i * K + k];
      if (!av) continue;
      const uint32_t *b = (const uint32_t *)(B + k * N);
      for (int64_t j = 0; j < N; j++) c[j] += av * b[j];
    }
  }
}

/* Batched int32 matmul of A (shape a) and B (shape b) into C (shape out) with MatMul's
 * broadcasting; returns M and N through the pointers for requantization. */
static void batched_igemm(const int32_t *A, const sinter_tensor_t *a, const int32_t *B,
                          const sinter_tensor_t *b, int32_t *C, const sinter_tensor_t *out,
                          int64_t *out_m, int64_t *out_n) {
  int64_t M = a->rank >= 2 ? a->dims[a->rank - 2] : 1, K = a->dims[a->rank - 1];
  int64_t N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
  sinter_tensor_t ab = {0}, bb = {0}, ob = {0};
  ab.rank = a->rank > 2 ? a->rank - 2 : 0;
  bb.rank = b->rank > 2 ? b->rank - 2 : 0;
  for (int32_t d = 0; d < ab.rank; d++) ab.dims[d] = a->dims[d];
  for (int32_t d = 0; d < bb.rank; d++) bb.dims[d] = b->dims[d];
  ob.rank = ab.rank > bb.rank ? ab.rank : bb.rank;
  for (int32_t d = 0; d < ob.rank; d++) {
    int32_t da = d - (ob.rank - ab.rank), db = d - (ob.rank - bb.rank);
    int64_t x = da >= 0 ? ab.dims[da] : 1, y = db >= 0 ? bb.dims[db] : 1;
    ob.dims[d] = x == 1 ? y : x;
  }
  int64_t sa[SINTER_MAX_RANK], sb[SINTER_MAX_RANK], idx[SINTER_MAX_RANK] = {0};
  sinter_broadcast_strides(&ab, ob.rank, ob.dims, sa);
  sinter_broadcast_strides(&bb, ob.rank, ob.dims, sb);
  int64_t nb = sinter_tensor_numel(&ob), oa = 0, obb = 0;
  for (int64_t t = 0; t < nb; t++) {
    igemm(M, N, K, A + oa * M * K, B + obb * K * N, C + t * M * N);
    for (int32_t d = ob.rank - 1; d >= 0; d--) {
      idx[d]++;
      oa += sa[d];
      obb += sb[d];
      if (idx[d] < ob.dims[d]) break;
      oa -= sa[d] * ob.dims[d];
      obb -= sb[d] * ob.dims[d];
      idx[d] = 0;
    }
  }
  (void)out;
  *out_m = M;
  *out_n = N;
}

/* A 1-D zero point or scale of A with one value per row (M of them) when A is a matrix. */
static bool per_row(const sinter_tensor_t *p, const sinter_tensor_t *a) {
  return p && p->rank == 1 && a->rank >= 2 && p->dims[0] == a->dims[a->rank - 2] && p->dims[0] != 1;
}

static sinter_status_t infer_matmul_integer(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(need_dtype(ctx, 0, is_qint, "an 8-bit integer type"));
  SINTER_TRY(need_dtype(ctx, 1, is_qint, "an 8-bit integer type"));
  for (int32_t i = 2; i < ctx->n_inputs && i < 4; i++) {
    const sinter_type_t *z = ctx->in[i], *m = ctx->in[i - 2];
    if (z && known(z->dtype) && known(m->dtype) && z->dtype != m->dtype)
      return SINTER_NODE_ERROR("zero point %d is %s but its input is %s", i,
                               sinter_dtype_name(z->dtype), sinter_dtype_name(m->dtype));
  }
  sinter_type_t o;
  memset(&o, 0, sizeof(o));
  SINTER_TRY(sinter_matmul_shape(ctx->in[0], ctx->in[1], &o));
  o.dtype = SINTER_DTYPE_I32;
  ctx->out[0] = o;
  return NULL;
}

static sinter_status_t out_from_infer(sinter_kernel_ctx_t *ctx, const sinter_tensor_t *a,
                                      const sinter_tensor_t *b, sinter_dtype_t dt) {
  if (ctx->out[0].data) return NULL;
  sinter_type_t ta, tb, o;
  sinter_type_set_static(&ta, a->dtype, a->rank, a->dims);
  sinter_type_set_static(&tb, b->dtype, b->rank, b->dims);
  memset(&o, 0, sizeof(o));
  SINTER_TRY(sinter_matmul_shape(&ta, &tb, &o));
  int64_t dims[SINTER_MAX_RANK];
  for (int32_t d = 0; d < o.rank; d++) dims[d] = o.dims[d].size;
  return sinter_kernel_alloc_output(ctx, 0, dt, o.rank, dims);
}

/* Subtracts the zero points of both operands and multiplies; *out_c is malloc'ed. */
static sinter_status_t int_matmul(const sinter_tensor_t *a, const sinter_tensor_t *azp,
                                  const sinter_tensor_t *b, const sinter_tensor_t *bzp,
                                  const sinter_tensor_t *out, int32_t **out_c, int64_t *m,
                                  int64_t *n) {
  int32_t *A = NULL, *B = NULL;
  sinter_status_t st = sub_zero_point(a, azp, per_row(azp, a), &A);
  if (!st) st = sub_zero_point(b, bzp, false, &B);
  int64_t numel = sinter_tensor_numel(out);
  int32_t *C = st ? NULL : malloc(sizeof(int32_t) * (size_t)(numel ? numel : 1));
  if (!st && !C) st = OOM();
  if (!st) batched_igemm(A, a, B, b, C, out, m, n);
  free(A);
  free(B);
  if (st) {
    free(C);
    return st;
  }
  *out_c = C;
  return NULL;
}

static sinter_status_t k_matmul_integer(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *a = ctx->in[0], *b = ctx->in[1];
  const sinter_tensor_t *azp = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  const sinter_tensor_t *bzp = ctx->n_inputs > 3 ? ctx->in[3] : NULL;
  SINTER_TRY(out_from_infer(ctx, a, b, SINTER_DTYPE_I32));
  int32_t *C;
  int64_t m, n;
  SINTER_TRY(int_matmul(a, azp, b, bzp, &ctx->out[0], &C, &m, &n));
  memcpy(ctx->out[0].data, C, ctx->out[0].nbytes);
  free(C);
  return NULL;
}

/* Checks that a scale or zero point is a scalar or a vector of len elements. */
static sinter_status_t check_vec(const sinter_infer_ctx_t *ctx, int32_t i, int64_t len,
                                 const char *what) {
  const sinter_type_t *t = ctx->in[i];
  if (!t || t->rank < 0) return NULL;
  int64_t n = type_numel(t);
  if (t->rank == 0 || n == 1) return NULL;
  if (t->rank != 1)
    return SINTER_NODE_ERROR("input %d has rank %d: expected a scalar or a %s vector", i, t->rank,
                             what);
  if (n >= 0 && len >= 0 && n != len)
    return SINTER_NODE_ERROR("input %d has %lld elements, expected 1 or %lld (%s)", i, (long long)n,
                             (long long)len, what);
  return NULL;
}

static sinter_status_t infer_qlinear_matmul(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(need_dtype(ctx, 0, is_q8, "u8 or i8"));
  SINTER_TRY(need_dtype(ctx, 3, is_q8, "u8 or i8"));
  SINTER_TRY(need_dtype(ctx, 7, is_q8, "u8 or i8"));
  for (int32_t i = 1; i < 8; i += i == 4 ? 2 : 3)
    SINTER_TRY(need_dtype(ctx, i, is_scale, "a float type"));
  const sinter_type_t *a = ctx->in[0], *b = ctx->in[3];
  int64_t M = a->rank >= 2 ? a->dims[a->rank - 2].size : 1;
  int64_t N = b->rank >= 2 ? b->dims[b->rank - 1].size : 1;
  if (a->rank < 0) M = -1;
  if (b->rank < 0) N = -1;
  SINTER_TRY(check_vec(ctx, 1, M, "per-row"));
  SINTER_TRY(check_vec(ctx, 2, M, "per-row"));
  SINTER_TRY(check_vec(ctx, 4, N, "per-column"));
  SINTER_TRY(check_vec(ctx, 5, N, "per-column"));
  SINTER_TRY(check_vec(ctx, 6, M, "per-row"));
  SINTER_TRY(check_vec(ctx, 7, M, "per-row"));
  sinter_type_t o;
  memset(&o, 0, sizeof(o));
  SINTER_TRY(sinter_matmul_shape(a, b, &o));
  o.dtype = ctx->in[7]->dtype;
  ctx->out[0] = o;
  return NULL;
}

/* Element i of a scalar-or-vector parameter. */
static inline float vparam(const float *p, int64_t n, int64_t i) {
  return n == 1 ? p[0] : p[i];
}
static inline int64_t vparam_i(const int64_t *p, int64_t n, int64_t i) {
  return n == 1 ? p[0] : p[i];
}

static sinter_status_t k_qlinear_matmul(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *a = ctx->in[0], *b = ctx->in[3], *yzp = ctx->in[7];
  SINTER_TRY(out_from_infer(ctx, a, b, yzp->dtype));
  sinter_tensor_t *y = &ctx->out[0];
  int64_t lo, hi;
  if (!qrange(y->dtype, &lo, &hi)) return SINTER_NODE_ERROR("bad output dtype");
  int32_t *C;
  int64_t M, N;
  SINTER_TRY(int_matmul(a, ctx->in[2], b, ctx->in[5], y, &C, &M, &N));
  float *as = sinter_tensor_to_f32(ctx->in[1]), *bs = sinter_tensor_to_f32(ctx->in[4]);
  float *ys = sinter_tensor_to_f32(ctx->in[6]);
  int64_t nz = 0;
  int64_t *yz = read_i64(yzp, 1, &nz);
  sinter_status_t st = NULL;
  if (!as || !bs || !ys || !yz) {
    st = OOM();
    goto done;
  }
  int64_t nas = sinter_tensor_numel(ctx->in[1]), nbs = sinter_tensor_numel(ctx->in[4]);
  int64_t nys = sinter_tensor_numel(ctx->in[6]);
  int64_t numel = sinter_tensor_numel(y);
  for (int64_t t = 0; t < numel; t++) {
    int64_t j = t % N, i = (t / N) % M;
    float mult = vparam(as, nas, i) * vparam(bs, nbs, j) / vparam(ys, nys, i);
    double v = (double)C[t] * (double)mult + (double)vparam_i(yz, nz, i);
    sinter_store_i64(y->data, y->dtype, t, round_sat(v, lo, hi));
  }
done:
  free(C);
  free(as);
  free(bs);
  free(ys);
  free(yz);
  return st;
}

/* ---- integer convolution ---------------------------------------------------- */

typedef struct conv_geom_s {
  int32_t nsp;
  int64_t N, C, M, group;
  int64_t in[MAX_SPATIAL], k[MAX_SPATIAL], out[MAX_SPATIAL];
  int64_t stride[MAX_SPATIAL], dil[MAX_SPATIAL], pad_b[MAX_SPATIAL];
} conv_geom_t;

/* Conv geometry from the attributes and the dims of x and w; -1 dims stay unknown. */
static sinter_status_t conv_geom(const sinter_node_t *node, int32_t xr, const int64_t *xd,
                                 int32_t wr, const int64_t *wd, conv_geom_t *g) {
  if (xr < 3) return SINTER_NODE_ERROR("input has rank %d, expected at least 3", xr);
  if (wr != xr) return SINTER_NODE_ERROR("weight has rank %d, expected %d", wr, xr);
  memset(g, 0, sizeof(*g));
  g->nsp = xr - 2;
  g->N = xd[0];
  g->C = xd[1];
  g->M = wd[0];
  g->group = sinter_node_attr_int(node, "group", 1);
  if (g->group < 1) return SINTER_NODE_ERROR("group is %lld", (long long)g->group);
  if (g->M >= 0 && g->M % g->group)
    return SINTER_NODE_ERROR("%lld output channels do not split into %lld groups", (long long)g->M,
                             (long long)g->group);
  if (g->C >= 0 && wd[1] >= 0 && g->C != wd[1] * g->group)
    return SINTER_NODE_ERROR("input has %lld channels, weight expects %lld x %lld groups",
                             (long long)g->C, (long long)wd[1], (long long)g->group);
  int64_t nks, ns, nd, np;
  const int64_t *ks = sinter_node_attr_ints(node, "kernel_shape", &nks);
  const int64_t *st = sinter_node_attr_ints(node, "strides", &ns);
  const int64_t *dl = sinter_node_attr_ints(node, "dilations", &nd);
  const int64_t *pd = sinter_node_attr_ints(node, "pads", &np);
  if ((ks && nks != g->nsp) || (st && ns != g->nsp) || (dl && nd != g->nsp) ||
      (pd && np != 2 * g->nsp))
    return SINTER_NODE_ERROR(
        "kernel_shape, strides, dilations or pads do not match %d spatial "
        "dims",
        g->nsp);
  const char *ap = sinter_node_attr_string(node, "auto_pad", "NOTSET");
  bool same_upper = strcmp(ap, "SAME_UPPER") == 0, same_lower = strcmp(ap, "SAME_LOWER") == 0;
  bool valid = strcmp(ap, "VALID") == 0;
  if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") != 0)
    return SINTER_NODE_ERROR("unknown auto_pad '%s'", ap);
  for (int32_t d = 0; d < g->nsp; d++) {
    g->in[d] = xd[d + 2];
    g->k[d] = wd[d + 2];
    if (ks && g->k[d] >= 0 && ks[d] != g->k[d])
      return SINTER_NODE_ERROR("kernel_shape[%d] is %lld but the weight has %lld", d,
                               (long long)ks[d], (long long)g->k[d]);
    g->stride[d] = st ? st[d] : 1;
    g->dil[d] = dl ? dl[d] : 1;
    if (g->stride[d] < 1 || g->dil[d] < 1)
      return SINTER_NODE_ERROR("strides and dilations must be positive");
    int64_t pb = pd ? pd[d] : 0, pe = pd ? pd[d + g->nsp] : 0;
    if (pb < 0 || pe < 0) return SINTER_NODE_ERROR("pads must not be negative");
    if (g->in[d] < 0 || g->k[d] < 0) {
      g->out[d] = -1;
      continue;
    }
    int64_t ek = (g->k[d] - 1) * g->dil[d] + 1;
    if (same_upper || same_lower) {
      g->out[d] = (g->in[d] + g->stride[d] - 1) / g->stride[d];
      int64_t total = (g->out[d] - 1) * g->stride[d] + ek - g->in[d];
      if (total < 0) total = 0;
      pb = same_upper ? total / 2 : total - total / 2;
      pe = total - pb;
    } else if (valid) {
      pb = pe = 0;
    }
    g->pad_b[d] = pb;
    if (!same_upper && !same_lower) {
      if (g->in[d] + pb + pe < ek)
        return SINTER_NODE_ERROR("kernel extent %lld exceeds the padded input %lld in dim %d",
                                 (long long)ek, (long long)(g->in[d] + pb + pe), d);
      g->out[d] = (g->in[d] + pb + pe - ek) / g->stride[d] + 1;
    }
  }
  return NULL;
}

static void dims_of_type(const sinter_type_t *t, int64_t *d) {
  for (int32_t i = 0; i < t->rank; i++) d[i] = t->dims[i].size;
}

static sinter_status_t infer_conv_common(sinter_infer_ctx_t *ctx, int32_t xi, int32_t wi,
                                         sinter_dtype_t dt) {
  const sinter_type_t *x = ctx->in[xi], *w = ctx->in[wi];
  if (x->rank < 0 || w->rank < 0) {
    sinter_type_unknown_dims(&ctx->out[0], dt, x->rank >= 0 ? x->rank : w->rank);
    return NULL;
  }
  int64_t xd[SINTER_MAX_RANK], wd[SINTER_MAX_RANK];
  dims_of_type(x, xd);
  dims_of_type(w, wd);
  conv_geom_t g;
  SINTER_TRY(conv_geom(ctx->node, x->rank, xd, w->rank, wd, &g));
  sinter_type_t o;
  memset(&o, 0, sizeof(o));
  o.dtype = dt;
  o.rank = x->rank;
  o.dims[0] = x->dims[0];
  o.dims[1] = w->dims[0];
  for (int32_t d = 0; d < g.nsp; d++) o.dims[d + 2].size = g.out[d];
  ctx->out[0] = o;
  return NULL;
}

static sinter_status_t infer_conv_integer(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(need_dtype(ctx, 0, is_q8, "u8 or i8"));
  SINTER_TRY(need_dtype(ctx, 1, is_q8, "u8 or i8"));
  const sinter_type_t *w = ctx->in[1];
  if (ctx->n_inputs > 2) SINTER_TRY(check_vec(ctx, 2, 1, "per-tensor"));
  if (ctx->n_inputs > 3)
    SINTER_TRY(check_vec(ctx, 3, w->rank > 0 ? w->dims[0].size : -1, "per-output-channel"));
  return infer_conv_common(ctx, 0, 1, SINTER_DTYPE_I32);
}

static sinter_status_t infer_qlinear_conv(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(need_dtype(ctx, 0, is_q8, "u8 or i8"));
  SINTER_TRY(need_dtype(ctx, 3, is_q8, "u8 or i8"));
  SINTER_TRY(need_dtype(ctx, 7, is_q8, "u8 or i8"));
  for (int32_t i = 1; i < 8; i += i == 4 ? 2 : 3)
    SINTER_TRY(need_dtype(ctx, i, is_scale, "a float type"));
  if (ctx->n_inputs > 8) SINTER_TRY(need_dtype(ctx, 8, is_i32, "i32"));
  const sinter_type_t *w = ctx->in[3];
  int64_t M = w->rank > 0 ? w->dims[0].size : -1;
  SINTER_TRY(check_vec(ctx, 1, 1, "per-tensor"));
  SINTER_TRY(check_vec(ctx, 2, 1, "per-tensor"));
  SINTER_TRY(check_vec(ctx, 4, M, "per-output-channel"));
  SINTER_TRY(check_vec(ctx, 5, M, "per-output-channel"));
  SINTER_TRY(check_vec(ctx, 6, 1, "per-tensor"));
  SINTER_TRY(check_vec(ctx, 7, 1, "per-tensor"));
  if (ctx->n_inputs > 8 && ctx->in[8]) {
    const sinter_type_t *bt = ctx->in[8];
    if (bt->rank >= 0 &&
        (bt->rank != 1 || (M >= 0 && bt->dims[0].size >= 0 && bt->dims[0].size != M)))
      return SINTER_NODE_ERROR("bias must be a vector of the %lld output channels", (long long)M);
  }
  return infer_conv_common(ctx, 0, 3, ctx->in[7]->dtype);
}

/* Unrolls the receptive fields of one image and group into col[Cg * KS][OS], with 0 where the
 * window hangs over the padding (x is already shifted by its zero point, so 0 is the pad). */
static void im2col_i32(const int32_t *x, const conv_geom_t *g, int64_t cg, int32_t *col) {
  int32_t ns = g->nsp;
  int64_t KS = 1, OS = 1, IS = 1;
  for (int32_t d = 0; d < ns; d++) {
    KS *= g->k[d];
    OS *= g->out[d];
    IS *= g->in[d];
  }
  int64_t olast = g->out[ns - 1], ilast = g->in[ns - 1];
  int64_t nouter = olast ? OS / olast : 0;
  for (int64_t c = 0; c < cg; c++) {
    const int32_t *xc = x + c * IS;
    for (int64_t kk = 0; kk < KS; kk++) {
      int64_t kidx[MAX_SPATIAL], rem = kk;
      for (int32_t d = ns - 1; d >= 0; d--) {
        kidx[d] = rem % g->k[d];
        rem /= g->k[d];
      }
      int32_t *dst = col + (c * KS + kk) * OS;
      int64_t oidx[MAX_SPATIAL] = {0};
      int64_t sl = g->stride[ns - 1], pl = g->pad_b[ns - 1] - kidx[ns - 1] * g->dil[ns - 1];
      for (int64_t q = 0; q < nouter; q++) {
        bool inside = true;
        int64_t off = 0;
        for (int32_t d = 0; d < ns - 1; d++) {
          int64_t ip = oidx[d] * g->stride[d] - g->pad_b[d] + kidx[d] * g->dil[d];
          if (ip < 0 || ip >= g->in[d]) {
            inside = false;
            break;
          }
          off = off * g->in[d] + ip;
        }
        int32_t *row = dst + q * olast;
        if (!inside) {
          memset(row, 0, sizeof(int32_t) * (size_t)olast);
        } else {
          const int32_t *xr = xc + off * ilast;
          for (int64_t o = 0; o < olast; o++) {
            int64_t ip = o * sl - pl;
            row[o] = ip >= 0 && ip < ilast ? xr[ip] : 0;
          }
        }
        for (int32_t d = ns - 2; d >= 0; d--) {
          if (++oidx[d] < g->out[d]) break;
          oidx[d] = 0;
        }
      }
    }
  }
}

/* acc[N, M, OS] = conv(x - x_zp, w - w_zp) + bias in int32 with wrap-around. */
static sinter_status_t int_conv(const sinter_node_t *node, const sinter_tensor_t *x,
                                const sinter_tensor_t *xzp, const sinter_tensor_t *w,
                                const sinter_tensor_t *wzp, const sinter_tensor_t *bias,
                                conv_geom_t *g, int32_t **out_acc) {
  SINTER_TRY(conv_geom(node, x->rank, x->dims, w->rank, w->dims, g));
  if (xzp && sinter_tensor_numel(xzp) != 1)
    return SINTER_NODE_ERROR("the zero point of x must be a scalar");
  if (wzp && sinter_tensor_numel(wzp) != 1 && sinter_tensor_numel(wzp) != g->M)
    return SINTER_NODE_ERROR("the zero point of w must be a scalar or have %lld elements",
                             (long long)g->M);
  if (bias && sinter_tensor_numel(bias) != g->M)
    return SINTER_NODE_ERROR("bias has %lld elements, expected %lld",
                             (long long)sinter_tensor_numel(bias), (long long)g->M);
  int64_t KS = 1, OS = 1, IS = 1;
  for (int32_t d = 0; d < g->nsp; d++) {
    KS *= g->k[d];
    OS *= g->out[d];
    IS *= g->in[d];
  }
  int64_t cg = g->C / g->group, mg = g->M / g->group, kt = cg * KS;
  int32_t *X = NULL, *col = NULL, *W = NULL, *acc = NULL;
  sinter_status_t st = sub_zero_point(x, xzp, false, &X);
  if (st) return st;
  /* Per-channel weight zero points: w viewed as [M, rest], zp as [M, 1]. */
  sinter_tensor_t wv = *w;
  wv.rank = 2;
  wv.dims[0] = g->M;
  wv.dims[1] = kt;
  st = sub_zero_point(&wv, wzp, wzp && sinter_tensor_numel(wzp) == g->M && g->M != 1, &W);
  size_t col_n = 0, acc_n = 0;
  if (!st && (__builtin_mul_overflow((size_t)kt, (size_t)OS, &col_n) ||
              __builtin_mul_overflow((size_t)(g->N * g->M), (size_t)OS, &acc_n)))
    st = SINTER_NODE_ERROR("convolution is too large");
  if (!st) {
    col = malloc(sizeof(int32_t) * (col_n ? col_n : 1));
    acc = malloc(sizeof(int32_t) * (acc_n ? acc_n : 1));
    if (!col || !acc) st = OOM();
  }
  if (st) {
    free(X);
    free(W);
    free(col);
    free(acc);
    return st;
  }
  for (int64_t n = 0; n < g->N; n++) {
    for (int64_t gi = 0; gi < g->group; gi++) {
      im2col_i32(X + (n * g->C + gi * cg) * IS, g, cg, col);
      for (int64_t m = gi * mg; m < (gi + 1) * mg; m++) {
        uint32_t *o = (uint32_t *)(acc + (n * g->M + m) * OS);
        uint32_t b0 = bias ? (uint32_t)sinter_load_i64(bias->data, bias->dtype, m) : 0;
        for (int64_t p = 0; p < OS; p++) o[p] = b0;
        const int32_t *wr = W + m * kt;
        for (int64_t kk = 0; kk < kt; kk++) {
          uint32_t wv32 = (uint32_t)wr[kk];
          if (!wv32) continue;
          const uint32_t *cr = (const uint32_t *)(col + kk * OS);
          for (int64_t p = 0; p < OS; p++) o[p] += wv32 * cr[p];
        }
      }
    }
  }
  free(X);
  free(W);
  free(col);
  *out_acc = acc;
  return NULL;
}

static sinter_status_t conv_out(sinter_kernel_ctx_t *ctx, const conv_geom_t *g, sinter_dtype_t dt) {
  if (ctx->out[0].data) return NULL;
  int64_t dims[SINTER_MAX_RANK] = {g->N, g->M};
  for (int32_t d = 0; d < g->nsp; d++) dims[d + 2] = g->out[d];
  return sinter_kernel_alloc_output(ctx, 0, dt, g->nsp + 2, dims);
}

static sinter_status_t k_conv_integer(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *xzp = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  const sinter_tensor_t *wzp = ctx->n_inputs > 3 ? ctx->in[3] : NULL;
  conv_geom_t g;
  int32_t *acc;
  SINTER_TRY(int_conv(ctx->node, ctx->in[0], xzp, ctx->in[1], wzp, NULL, &g, &acc));
  sinter_status_t st = conv_out(ctx, &g, SINTER_DTYPE_I32);
  if (!st) memcpy(ctx->out[0].data, acc, ctx->out[0].nbytes);
  free(acc);
  return st;
}

static sinter_status_t k_qlinear_conv(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *w = ctx->in[3], *yzp = ctx->in[7];
  const sinter_tensor_t *bias = ctx->n_inputs > 8 ? ctx->in[8] : NULL;
  conv_geom_t g;
  int32_t *acc;
  SINTER_TRY(int_conv(ctx->node, x, ctx->in[2], w, ctx->in[5], bias, &g, &acc));
  sinter_status_t st = conv_out(ctx, &g, yzp->dtype);
  sinter_tensor_t *y = &ctx->out[0];
  int64_t lo, hi;
  if (!st && !qrange(y->dtype, &lo, &hi)) st = SINTER_NODE_ERROR("bad output dtype");
  float *xs = NULL, *ws = NULL, *ys = NULL;
  if (!st) {
    xs = sinter_tensor_to_f32(ctx->in[1]);
    ws = sinter_tensor_to_f32(ctx->in[4]);
    ys = sinter_tensor_to_f32(ctx->in[6]);
    if (!xs || !ws || !ys) st = OOM();
  }
  if (!st) {
    int64_t nws = sinter_tensor_numel(ctx->in[4]);
    int64_t zp = sinter_load_i64(yzp->data, yzp->dtype, 0);
    int64_t OS = 1;
    for (int32_t d = 0; d < g.nsp; d++) OS *= g.out[d];
    for (int64_t n = 0; n < g.N; n++) {
      for (int64_t m = 0; m < g.M; m++) {
        float mult = xs[0] * vparam(ws, nws, m) / ys[0];
        const int32_t *a = acc + (n * g.M + m) * OS;
        int64_t base = (n * g.M + m) * OS;
        for (int64_t p = 0; p < OS; p++) {
          int64_t v = round_sat((double)a[p] * (double)mult + (double)zp, lo, hi);
          if (y->dtype == SINTER_DTYPE_U8)
            ((uint8_t *)y->data)[base + p] = (uint8_t)v;
          else
            ((int8_t *)y->data)[base + p] = (int8_t)v;
        }
      }
    }
  }
  free(acc);
  free(xs);
  free(ws);
  free(ys);
  return st;
}

/* ---- table ---------------------------------------------------------------- */

const sinter_op_impl_t sinter_impl_quant[] = {
    {SINTER_OP_QUANTIZE_LINEAR, infer_quantize, k_quantize},
    {SINTER_OP_DEQUANTIZE_LINEAR, infer_dequantize, k_dequantize},
    {SINTER_OP_DYNAMIC_QUANTIZE_LINEAR, infer_dynamic_quantize, k_dynamic_quantize},
    {SINTER_OP_QLINEAR_MATMUL, infer_qlinear_matmul, k_qlinear_matmul},
    {SINTER_OP_MATMUL_INTEGER, infer_matmul_integer, k_matmul_integer},
    {SINTER_OP_CONV_INTEGER, infer_conv_integer, k_conv_integer},
    {SINTER_OP_QLINEAR_CONV, infer_qlinear_conv, k_qlinear_conv},
    {0},
};
