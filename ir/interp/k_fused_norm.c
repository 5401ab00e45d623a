/* Reference kernels for Sinter's fused ops (norm family): Silu and
 * RMSNormalization (domain ai.sinter, see docs/ops-sinter.md). f16 and bf16
 * are computed in f32, f64 in double; RMSNormalization accumulates its mean
 * square in double, like the LayerNormalization kernel. */
#include "ir/interp/kernels.h"

static bool float_dtype(sinter_dtype_t d) {
  return d == SINTER_DTYPE_F32 || d == SINTER_DTYPE_F16 || d == SINTER_DTYPE_BF16 ||
         d == SINTER_DTYPE_F64;
}

static sinter_status_t check_float(const sinter_type_t *t, const char *what) {
  if (t->dtype == SINTER_DTYPE_UNDEFINED || float_dtype(t->dtype)) return NULL;
  return SINTER_NODE_ERROR("%s has dtype %s, expected f32, f16, bf16 or f64", what,
                           sinter_dtype_name(t->dtype));
}

static sinter_status_t ensure_out(sinter_kernel_ctx_t *ctx, const sinter_tensor_t *like) {
  if (ctx->out[0].data) return NULL;
  return sinter_kernel_alloc_output(ctx, 0, like->dtype, like->rank, like->dims);
}

/* ---- Silu ------------------------------------------------------------------------- */

static sinter_status_t silu_infer(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(check_float(ctx->in[0], "input X"));
  ctx->out[0] = *ctx->in[0];
  return NULL;
}

/* x * sigmoid(x), with sigmoid written as the Sigmoid kernel writes it (no
 * overflow in exp for large |x|), so Silu matches Sigmoid then Mul. */
static float silu_f32(float x) {
  float s = x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
  return x * s;
}

static double silu_f64(double x) {
  double s = x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
  return x * s;
}

static sinter_status_t silu_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  if (!float_dtype(X->dtype))
    return SINTER_NODE_ERROR("input has dtype %s", sinter_dtype_name(X->dtype));
  SINTER_TRY(ensure_out(ctx, X));
  sinter_tensor_t *Y = &ctx->out[0];
  int64_t n = sinter_tensor_numel(X);
  if (X->dtype == SINTER_DTYPE_F32) {
    const float *x = X->data;
    float *y = Y->data;
    for (int64_t i = 0; i < n; i++) y[i] = silu_f32(x[i]);
  } else if (X->dtype == SINTER_DTYPE_F64) {
    const double *x = X->data;
    double *y = Y->data;
    for (int64_t i = 0; i < n; i++) y[i] = silu_f64(x[i]);
  } else {
    for (int64_t i = 0; i < n; i++)
      sinter_store_f64(Y->data, Y->dtype, i,
                       silu_f32((float)sinter_load_f64(X->data, X->dtype, i)));
  }
  return NULL;
}

/* ---- RMSNormalization ---------------------------------------------------------------- */

static sinter_status_t rms_axis(const sinter_node_t *node, int32_t rank, int32_t *out) {
  int64_t axis = sinter_node_attr_int(node, "axis", -1);
  if (!sinter_norm_axis(axis, rank, out))
    return SINTER_NODE_ERROR("axis %lld is out of range for rank %d", (long long)axis, rank);
  return NULL;
}

/* Checks that scale broadcasts onto x's dims [axis, rank) without growing them. */
static sinter_status_t rms_check_scale(const sinter_type_t *x, int32_t axis,
                                       const sinter_type_t *s) {
  if (s->rank < 0 || x->rank < 0) return NULL;
  int32_t inner = x->rank - axis;
  if (s->rank > inner)
    return SINTER_NODE_ERROR("scale has rank %d, more than the %d normalized dims", s->rank, inner);
  for (int32_t i = 0; i < s->rank; i++) {
    sinter_dim_t sd = s->dims[i], xd = x->dims[x->rank - s->rank + i];
    if (sd.size >= 0 && sd.size != 1 && xd.size >= 0 && sd.size != xd.size)
      return SINTER_NODE_ERROR("scale dim %d is %lld, but the input's is %lld", i,
                               (long long)sd.size, (long long)xd.size);
  }
  return NULL;
}

static sinter_status_t rms_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *s = ctx->in[1];
  SINTER_TRY(check_float(x, "input X"));
  SINTER_TRY(check_float(s, "scale"));
  if (x->dtype != SINTER_DTYPE_UNDEFINED && s->dtype != SINTER_DTYPE_UNDEFINED &&
      x->dtype != s->dtype)
    return SINTER_NODE_ERROR("scale has dtype %s but X has %s", sinter_dtype_name(s->dtype),
                             sinter_dtype_name(x->dtype));
  ctx->out[0] = *x;
  if (x->rank < 0) return NULL;
  if (x->rank == 0) return SINTER_NODE_ERROR("input X is a scalar; it needs at least one dim");
  int32_t axis;
  SINTER_TRY(rms_axis(ctx->node, x->rank, &axis));
  return rms_check_scale(x, axis, s);
}

static sinter_status_t rms_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0], *S = ctx->in[1];
  if (!float_dtype(X->dtype) || !float_dtype(S->dtype))
    return SINTER_NODE_ERROR("inputs have dtypes %s and %s", sinter_dtype_name(X->dtype),
                             sinter_dtype_name(S->dtype));
  if (X->rank == 0) return SINTER_NODE_ERROR("input X is a scalar; it needs at least one dim");
  int32_t axis;
  SINTER_TRY(rms_axis(ctx->node, X->rank, &axis));
  sinter_type_t xt, st;
  sinter_type_set_static(&xt, X->dtype, X->rank, X->dims);
  sinter_type_set_static(&st, S->dtype, S->rank, S->dims);
  SINTER_TRY(rms_check_scale(&xt, axis, &st));
  double eps = sinter_node_attr_float(ctx->node, "epsilon", 1e-5f);
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; d++) outer *= X->dims[d];
  for (int32_t d = axis; d < X->rank; d++) inner *= X->dims[d];
  SINTER_TRY(ensure_out(ctx, X));
  sinter_tensor_t *Y = &ctx->out[0];
  if (outer == 0 || inner == 0) return NULL;
  /* The scale expanded over the normalized dims, and one row of x. */
  double *sc = malloc(sizeof(double) * (size_t)inner);
  double *row = malloc(sizeof(double) * (size_t)inner);
  if (!sc || !row) {
    free(sc);
    free(row);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  int32_t r = X->rank - axis;
  const int64_t *dims = &X->dims[axis];
  int64_t strides[SINTER_MAX_RANK], idx[SINTER_MAX_RANK] = {0}, at = 0;
  sinter_broadcast_strides(S, r, dims, strides);
  for (int64_t k = 0; k < inner; k++) {
    sc[k] = sinter_load_f64(S->data, S->dtype, at);
    for (int32_t d = r - 1; d >= 0; d--) {
      at += strides[d];
      if (++idx[d] < dims[d]) break;
      at -= strides[d] * dims[d];
      idx[d] = 0;
    }
  }
  /* f16/bf16/f32 round each step to f32, f64 stays in double. */
  bool f64 = X->dtype == SINTER_DTYPE_F64;
  for (int64_t o = 0; o < outer; o++) {
    double sum = 0;
    for (int64_t i = 0; i < inner; i++) {
      row[i] = sinter_load_f64(X->data, X->dtype, o * inner + i);
      sum += row[i] * row[i];
    }
    double std = sqrt(sum / (double)inner + eps);
    for (int64_t i = 0; i < inner; i++) {
      double v = f64 ? row[i] / std * sc[i] : (double)((float)(row[i] / std) * (float)sc[i]);
      sinter_store_f64(Y->data, Y->dtype, o * inner + i, v);
    }
  }
  free(sc);
  free(row);
  return NULL;
}

const sinter_op_impl_t sinter_impl_fused_norm[] = {
    {SINTER_OP_SILU, silu_infer, silu_run},
    {SINTER_OP_RMS_NORMALIZATION, rms_infer, rms_run},
    {0},
};
