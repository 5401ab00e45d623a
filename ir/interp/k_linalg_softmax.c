/* Reference Softmax, LogSoftmax and Hardmax (opset-13 single-axis form) and
 * the two losses built on them, SoftmaxCrossEntropyLoss and
 * NegativeLogLikelihoodLoss. f32 is computed in f32 with double sums, f64 in
 * double, f16/bf16 in f32 rounded on store. */
#include "ir/interp/k_linalg_internal.h"

/* ---- Softmax, LogSoftmax, Hardmax --------------------------------------- */

sinter_status_t sinter_linalg_softmax_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  if (x->dtype != SINTER_DTYPE_UNDEFINED && !sinter_dtype_is_float(x->dtype))
    return SINTER_NODE_ERROR("dtype %s is not a float type", sinter_dtype_name(x->dtype));
  int64_t axis = sinter_node_attr_int(ctx->node, "axis", -1);
  int32_t a;
  if (x->rank >= 0 && !sinter_norm_axis(axis, x->rank, &a))
    return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)axis, x->rank);
  ctx->out[0] = *x;
  return NULL;
}

typedef enum smode_e { SM_SOFTMAX, SM_LOG_SOFTMAX, SM_HARDMAX } smode_t;

/* The three along one axis of an outer x n x inner view. Running max and
 * sum are kept per inner position so the data is read in memory order. The
 * maximum propagates NaN, so a NaN input gives NaN outputs as in NumPy. */
#define DEFINE_SOFTMAX(SFX, T, EXP)                                                                \
  static void softmax_##SFX(smode_t mode, const T *x, T *y, int64_t outer, int64_t n,              \
                            int64_t inner, T *mx, double *sum) {                                   \
    for (int64_t o = 0; o < outer; o++) {                                                          \
      const T *xo = x + o * n * inner;                                                             \
      T *yo = y + o * n * inner;                                                                   \
      for (int64_t i = 0; i < inner; i++) {                                                        \
        mx[i] = xo[i];                                                                             \
        sum[i] = 0.0;                                                                              \
      }                                                                                            \
      for (int64_t j = 1; j < n; j++)                                                              \
        for (int64_t i = 0; i < inner; i++) {                                                      \
          T v = xo[j * inner + i];                                                                 \
          if (v > mx[i] || (v != v && mx[i] == mx[i])) mx[i] = v;                                  \
        }                                                                                          \
      if (mode == SM_HARDMAX) {                                                                    \
        for (int64_t i = 0; i < inner; i++) {                                                      \
          bool done = false;                                                                       \
          for (int64_t j = 0; j < n; j++) {                                                        \
            T v = xo[j * inner + i];                                                               \
            bool hit = !done && (v == mx[i] || (v != v && mx[i] != mx[i]));                        \
            yo[j * inner + i] = hit ? (T)1 : (T)0;                                                 \
            done = done || hit;                                                                    \
          }                                                                                        \
        }                                                                                          \
        continue;                                                                                  \
      }                                                                                            \
      for (int64_t j = 0; j < n; j++)                                                              \
        for (int64_t i = 0; i < inner; i++) {                                                      \
          T e = EXP(xo[j * inner + i] - mx[i]);                                                    \
          if (mode == SM_SOFTMAX) yo[j * inner + i] = e;                                           \
          sum[i] += e;                                                                             \
        }                                                                                          \
      if (mode == SM_SOFTMAX) {                                                                    \
        for (int64_t j = 0; j < n; j++)                                                            \
          for (int64_t i = 0; i < inner; i++) yo[j * inner + i] = (T)(yo[j * inner + i] / sum[i]); \
      } else {                                                                                     \
        for (int64_t i = 0; i < inner; i++) sum[i] = log(sum[i]);                                  \
        for (int64_t j = 0; j < n; j++)                                                            \
          for (int64_t i = 0; i < inner; i++)                                                      \
            yo[j * inner + i] = (T)((xo[j * inner + i] - mx[i]) - (T)sum[i]);                      \
      }                                                                                            \
    }                                                                                              \
  }

DEFINE_SOFTMAX(f32, float, expf)
DEFINE_SOFTMAX(f64, double, exp)

sinter_status_t sinter_linalg_softmax_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  if (!sinter_dtype_is_float(x->dtype))
    return SINTER_NODE_ERROR("dtype %s is not a float type", sinter_dtype_name(x->dtype));
  int64_t axis = sinter_node_attr_int(ctx->node, "axis", -1);
  int32_t a;
  if (!sinter_norm_axis(axis, x->rank, &a))
    return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)axis, x->rank);
  smode_t mode = ctx->node->op == SINTER_OP_HARDMAX       ? SM_HARDMAX
                 : ctx->node->op == SINTER_OP_LOG_SOFTMAX ? SM_LOG_SOFTMAX
                                                          : SM_SOFTMAX;
  SINTER_TRY(ensure_output(ctx, 0, x->dtype, x->rank, x->dims));
  sinter_tensor_t *y = &ctx->out[0];
  int64_t outer = 1, inner = 1, n = x->dims[a];
  for (int32_t d = 0; d < a; d++) outer *= x->dims[d];
  for (int32_t d = a + 1; d < x->rank; d++) inner *= x->dims[d];
  int64_t total = sinter_tensor_numel(x);
  if (total == 0) return NULL;
  double *sum = malloc(sizeof(double) * (size_t)inner);
  void *mx = malloc(sizeof(double) * (size_t)inner);
  float *xf = NULL, *yf = NULL;
  sinter_status_t st = NULL;
  if (!sum || !mx) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  } else if (x->dtype == SINTER_DTYPE_F64) {
    softmax_f64(mode, x->data, y->data, outer, n, inner, mx, sum);
  } else if (x->dtype == SINTER_DTYPE_F32) {
    softmax_f32(mode, x->data, y->data, outer, n, inner, mx, sum);
  } else {
    xf = sinter_tensor_to_f32(x);
    yf = malloc(sizeof(float) * (size_t)total);
    if (!xf || !yf) {
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    } else {
      softmax_f32(mode, xf, yf, outer, n, inner, mx, sum);
      sinter_tensor_from_f32(y, yf, total);
    }
  }
  free(sum);
  free(mx);
  free(xf);
  free(yf);
  return st;
}

/* ---- SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss ----------------- */

typedef enum reduction_e { RED_NONE, RED_SUM, RED_MEAN } reduction_t;

static sinter_status_t parse_reduction(const sinter_node_t *node, reduction_t *out) {
  const char *r = sinter_node_attr_string(node, "reduction", "mean");
  if (!strcmp(r, "none"))
    *out = RED_NONE;
  else if (!strcmp(r, "sum"))
    *out = RED_SUM;
  else if (!strcmp(r, "mean"))
    *out = RED_MEAN;
  else
    return SINTER_NODE_ERROR("reduction '%s' is not none, sum or mean", r);
  return NULL;
}

/* Shared checks: scores/log-probs [N, C, d1..dk] (float), targets
 * [N, d1..dk] (integer), optional weights [C] of the scores' dtype. */
sinter_status_t sinter_linalg_loss_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *t = ctx->in[1];
  const sinter_type_t *w = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  reduction_t red;
  SINTER_TRY(parse_reduction(ctx->node, &red));
  if (x->dtype != SINTER_DTYPE_UNDEFINED && !sinter_dtype_is_float(x->dtype))
    return SINTER_NODE_ERROR("input dtype %s is not a float type", sinter_dtype_name(x->dtype));
  if (t->dtype != SINTER_DTYPE_UNDEFINED && !sinter_dtype_is_int(t->dtype))
    return SINTER_NODE_ERROR("target dtype %s is not an integer type", sinter_dtype_name(t->dtype));
  if (w && w->dtype != x->dtype) return SINTER_NODE_ERROR("weight dtype differs from input's");
  if (x->rank >= 0 && x->rank < 2) return SINTER_NODE_ERROR("input must have rank >= 2");
  if (x->rank >= 0 && t->rank >= 0) {
    if (t->rank != x->rank - 1)
      return SINTER_NODE_ERROR("target rank %d, expected %d", t->rank, x->rank - 1);
    for (int32_t d = 0; d < t->rank; d++) {
      sinter_dim_t td = t->dims[d], xd = x->dims[d == 0 ? 0 : d + 1];
      if (td.size >= 0 && xd.size >= 0 && td.size != xd.size)
        return SINTER_NODE_ERROR("target dim %d is %lld, expected %lld", d, (long long)td.size,
                                 (long long)xd.size);
    }
  }
  if (w && w->rank >= 0) {
    if (w->rank != 1) return SINTER_NODE_ERROR("weight must have rank 1");
    if (x->rank >= 0 && w->dims[0].size >= 0 && x->dims[1].size >= 0 &&
        w->dims[0].size != x->dims[1].size)
      return SINTER_NODE_ERROR("weight has %lld classes, input %lld", (long long)w->dims[0].size,
                               (long long)x->dims[1].size);
  }
  sinter_type_t *o = &ctx->out[0];
  if (red != RED_NONE) {
    sinter_type_unknown_dims(o, x->dtype, 0);
  } else if (t->rank >= 0) {
    *o = *t;
    o->dtype = x->dtype;
    if (x->rank >= 0) o->dims[0] = x->dims[0].size >= 0 ? x->dims[0] : t->dims[0];
  } else if (x->rank >= 0) {
    sinter_type_unknown_dims(o, x->dtype, x->rank - 1);
    o->dims[0] = x->dims[0];
    for (int32_t d = 2; d < x->rank; d++) o->dims[d - 1] = x->dims[d];
  } else {
    sinter_type_unknown_dims(o, x->dtype, 0);
    o->rank = -1;
  }
  if (ctx->n_outputs > 1) ctx->out[1] = *x; /* SCE's log_prob */
  return NULL;
}

/* loss[n, d] = -logp[n, t, d] * w[t] (0 where t is ignore_index), then
 * reduced; "mean" divides by the sum of the weights used, which without
 * weights is the count of targets not ignored, as ONNX's reference does. */
static sinter_status_t nll(const double *logp, int64_t N, int64_t C, int64_t D,
                           const sinter_tensor_t *target, const double *w, bool has_ignore,
                           int64_t ignore, reduction_t red, sinter_tensor_t *out) {
  double total = 0.0, wsum = 0.0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t d = 0; d < D; d++) {
      int64_t t = sinter_load_i64(target->data, target->dtype, n * D + d);
      double loss = 0.0;
      if (!(has_ignore && t == ignore)) {
        if (t < 0 || t >= C)
          return SINTER_NODE_ERROR("target %lld at position %lld is outside [0, %lld)",
                                   (long long)t, (long long)(n * D + d), (long long)C);
        double wt = w ? w[t] : 1.0;
        loss = -logp[(n * C + t) * D + d] * wt;
        wsum += wt;
      }
      if (red == RED_NONE)
        sinter_store_f64(out->data, out->dtype, n * D + d, loss);
      else
        total += loss;
    }
  if (red == RED_SUM) sinter_store_f64(out->data, out->dtype, 0, total);
  if (red == RED_MEAN) sinter_store_f64(out->data, out->dtype, 0, total / wsum);
  return NULL;
}

sinter_status_t sinter_linalg_loss_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *t = ctx->in[1];
  const sinter_tensor_t *w = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  bool sce = ctx->node->op == SINTER_OP_SOFTMAX_CROSS_ENTROPY_LOSS;
  reduction_t red;
  SINTER_TRY(parse_reduction(ctx->node, &red));
  if (!sinter_dtype_is_float(x->dtype) || !sinter_dtype_is_int(t->dtype))
    return SINTER_NODE_ERROR("input must be float and target integer");
  if (x->rank < 2 || t->rank != x->rank - 1)
    return SINTER_NODE_ERROR("input rank %d and target rank %d do not fit", x->rank, t->rank);
  int64_t N = x->dims[0], C = x->dims[1], D = 1;
  if (t->dims[0] != N) return SINTER_NODE_ERROR("target batch differs from input's");
  for (int32_t d = 2; d < x->rank; d++) {
    if (t->dims[d - 1] != x->dims[d]) return SINTER_NODE_ERROR("target dim %d differs", d - 1);
    D *= x->dims[d];
  }
  if (w && (w->rank != 1 || w->dims[0] != C || w->dtype != x->dtype))
    return SINTER_NODE_ERROR("weight must be [%lld] of the input's dtype", (long long)C);
  const sinter_attr_t *ig = sinter_node_attr(ctx->node, "ignore_index");
  bool has_ignore = ig && ig->kind == SINTER_ATTR_INT;
  int64_t ignore = has_ignore ? ig->i : 0;
  if (red == RED_NONE)
    SINTER_TRY(ensure_output(ctx, 0, x->dtype, t->rank, t->dims));
  else
    SINTER_TRY(ensure_output(ctx, 0, x->dtype, 0, NULL));
  if (sce && ctx->n_outputs > 1) SINTER_TRY(ensure_output(ctx, 1, x->dtype, x->rank, x->dims));

  double *lp = tensor_to_f64(x);
  double *wd = w ? tensor_to_f64(w) : NULL;
  double *mx = malloc(sizeof(double) * (size_t)(D ? D : 1));
  double *sum = malloc(sizeof(double) * (size_t)(D ? D : 1));
  sinter_status_t st = NULL;
  if (!lp || (w && !wd) || !mx || !sum) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  if (sce) {
    /* log_softmax over the class axis, in double. */
    if (C > 0) softmax_f64(SM_LOG_SOFTMAX, lp, lp, N, C, D, mx, sum);
    if (ctx->n_outputs > 1) {
      sinter_tensor_t *lo = &ctx->out[1];
      int64_t total = N * C * D;
      for (int64_t i = 0; i < total; i++) sinter_store_f64(lo->data, lo->dtype, i, lp[i]);
    }
  }
  st = nll(lp, N, C, D, t, wd, has_ignore, ignore, red, &ctx->out[0]);
done:
  free(lp);
  free(wd);
  free(mx);
  free(sum);
  return st;
}
