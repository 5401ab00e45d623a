/* Pooling (MaxPool with optional Indices, AveragePool, LpPool, the Global
 * forms) and LRN: shape inference and f32 reference kernels. Windows follow
 * the ONNX rules shared with conv (k_nn.c), including ceil_mode, dilations
 * and the SAME auto_pad modes. */
#include <float.h>

#include "ir/interp/k_nn_internal.h"

/* MaxPool also takes 8-bit integers (exact in f32). */
static sinter_status_t check_pool_dtype(const sinter_node_t *node, const sinter_type_t *x) {
  if (node->op == SINTER_OP_MAX_POOL &&
      (x->dtype == SINTER_DTYPE_I8 || x->dtype == SINTER_DTYPE_U8))
    return NULL;
  return sinter_nn_check_float(x, "input X");
}

static sinter_status_t pool_window(const sinter_node_t *node, const sinter_type_t *x,
                                   nn_window_t *w) {
  if (x->rank < 3)
    return SINTER_NODE_ERROR("input has rank %d, expected at least 3 (N, C and spatial dims)",
                             x->rank);
  if (x->rank > 2 + NN_MAX_SPATIAL)
    return SINTER_NODE_UNSUPPORTED("%d spatial dims; 1 to %d are supported", x->rank - 2,
                                   NN_MAX_SPATIAL);
  SINTER_TRY(sinter_nn_read_window(node, x->rank - 2, NULL, true, w));
  if (node->op == SINTER_OP_MAX_POOL) {
    int64_t so = sinter_node_attr_int(node, "storage_order", 0);
    if (so != 0 && so != 1)
      return SINTER_NODE_ERROR("storage_order is %lld, expected 0 or 1", (long long)so);
  }
  if (node->op == SINTER_OP_AVERAGE_POOL) {
    int64_t c = sinter_node_attr_int(node, "count_include_pad", 0);
    if (c != 0 && c != 1)
      return SINTER_NODE_ERROR("count_include_pad is %lld, expected 0 or 1", (long long)c);
  }
  if (node->op == SINTER_OP_LP_POOL) {
    float p = sinter_node_attr_float(node, "p", 2.0f);
    if (!(p > 0) || isinf(p)) return SINTER_NODE_ERROR("p is %g, must be positive", (double)p);
  }
  return NULL;
}

sinter_status_t sinter_nn_pool_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  SINTER_TRY(check_pool_dtype(ctx->node, x));
  if (ctx->n_outputs > 1 && ctx->node->op != SINTER_OP_MAX_POOL)
    return SINTER_NODE_ERROR("only MaxPool has a second output");
  sinter_type_unknown_dims(&ctx->out[0], x->dtype, -1);
  if (ctx->n_outputs > 1) sinter_type_unknown_dims(&ctx->out[1], SINTER_DTYPE_I64, -1);
  if (x->rank < 0) return NULL;
  nn_window_t w;
  SINTER_TRY(pool_window(ctx->node, x, &w));
  sinter_type_t *o = &ctx->out[0];
  o->rank = x->rank;
  o->dims[0] = x->dims[0];
  o->dims[1] = x->dims[1];
  SINTER_TRY(sinter_nn_forward_dims(&w, &x->dims[2], &o->dims[2]));
  if (ctx->n_outputs > 1) {
    ctx->out[1] = *o;
    ctx->out[1].dtype = SINTER_DTYPE_I64;
  }
  return NULL;
}

/* Per-dim count of kernel taps at positions start + j * d (j < k) that lie
 * below limit; start is never below the start padding. */
static int64_t taps_below(int64_t start, int64_t k, int64_t d, int64_t limit) {
  if (start >= limit) return 0;
  int64_t n = (limit - 1 - start) / d + 1;
  return n < k ? n : k;
}

/* Range of kernel taps j in [0, k) with 0 <= start + j * d < in. */
static void tap_range(int64_t start, int64_t k, int64_t d, int64_t in, int64_t *lo, int64_t *hi) {
  int64_t a = start >= 0 ? 0 : -start / d + (-start % d != 0);
  int64_t b = taps_below(start, k, d, in);
  if (a > k) a = k;
  *lo = a;
  *hi = b > a ? b : a;
}

typedef enum { POOL_MAX, POOL_AVG, POOL_LP } pool_kind_t;

sinter_status_t sinter_nn_pool_run(sinter_kernel_ctx_t *ctx) {
  const sinter_node_t *node = ctx->node;
  const sinter_tensor_t *X = ctx->in[0];
  sinter_type_t xt;
  sinter_nn_type_of(X, &xt);
  SINTER_TRY(check_pool_dtype(node, &xt));
  nn_window_t w;
  SINTER_TRY(pool_window(node, &xt, &w));
  nn_geom_t g;
  SINTER_TRY(sinter_nn_forward_geom(&w, &X->dims[2], &g));
  pool_kind_t kind = node->op == SINTER_OP_MAX_POOL       ? POOL_MAX
                     : node->op == SINTER_OP_AVERAGE_POOL ? POOL_AVG
                                                          : POOL_LP;
  bool include_pad = sinter_node_attr_int(node, "count_include_pad", 0) == 1;
  bool col_major = sinter_node_attr_int(node, "storage_order", 0) == 1;
  float p = sinter_node_attr_float(node, "p", 2.0f);
  int64_t dims[SINTER_MAX_RANK];
  dims[0] = X->dims[0];
  dims[1] = X->dims[1];
  for (int32_t i = 0; i < w.nd; i++) dims[2 + i] = g.out[NN_MAX_SPATIAL - w.nd + i];
  float *y;
  SINTER_TRY(sinter_nn_f32_out(ctx, 0, X->dtype, X->rank, dims, &y));
  int64_t *idx = NULL;
  if (ctx->n_outputs > 1) {
    sinter_tensor_t *t = &ctx->out[1];
    bool ready = t->data && t->dtype == SINTER_DTYPE_I64 && t->rank == X->rank;
    for (int32_t i = 0; ready && i < X->rank; i++) ready = t->dims[i] == dims[i];
    sinter_status_t st =
        ready ? NULL : sinter_kernel_alloc_output(ctx, 1, SINTER_DTYPE_I64, X->rank, dims);
    if (st) {
      if ((void *)y != ctx->out[0].data) free(y);
      return st;
    }
    idx = (int64_t *)t->data;
  }
  float *tmp;
  const float *x = sinter_nn_f32_in(X, &tmp);
  if (!x) {
    if ((void *)y != ctx->out[0].data) free(y);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  int64_t is = g.in[0] * g.in[1] * g.in[2], os = g.out[0] * g.out[1] * g.out[2];
  int64_t nc = X->dims[0] * X->dims[1];
  for (int64_t b = 0; b < nc; b++) {
    const float *xp = x + b * is;
    float *yp = y + b * os;
    for (int64_t od = 0; od < g.out[0]; od++) {
      int64_t sd = od * g.s[0] - g.pb[0], d0, d1;
      tap_range(sd, g.k[0], g.d[0], g.in[0], &d0, &d1);
      for (int64_t oh = 0; oh < g.out[1]; oh++) {
        int64_t sh = oh * g.s[1] - g.pb[1], h0, h1;
        tap_range(sh, g.k[1], g.d[1], g.in[1], &h0, &h1);
        for (int64_t ow = 0; ow < g.out[2]; ow++) {
          int64_t sw = ow * g.s[2] - g.pb[2], w0, w1;
          tap_range(sw, g.k[2], g.d[2], g.in[2], &w0, &w1);
          float best = -INFINITY;
          int64_t best_at = -1;
          double acc = 0;
          for (int64_t kd = d0; kd < d1; kd++) {
            int64_t id = sd + kd * g.d[0];
            for (int64_t kh = h0; kh < h1; kh++) {
              int64_t ih = sh + kh * g.d[1];
              const float *xr = xp + (id * g.in[1] + ih) * g.in[2];
              for (int64_t kw = w0; kw < w1; kw++) {
                int64_t iw = sw + kw * g.d[2];
                float v = xr[iw];
                if (kind == POOL_MAX) {
                  if (v > best || best_at < 0) {
                    best = v;
                    best_at = col_major ? (iw * g.in[1] + ih) * g.in[0] + id
                                        : (id * g.in[1] + ih) * g.in[2] + iw;
                  }
                } else if (kind == POOL_AVG) {
                  acc += v;
                } else {
                  float a = fabsf(v);
                  acc += p == 2.0f ? (double)a * a : p == 1.0f ? a : pow(a, p);
                }
              }
            }
          }
          float *out = &yp[(od * g.out[1] + oh) * g.out[2] + ow];
          if (kind == POOL_MAX) {
            *out = best;
            if (idx) idx[b * os + (out - yp)] = best_at >= 0 ? b * is + best_at : -1;
          } else if (kind == POOL_AVG) {
            int64_t cnt;
            if (include_pad) {
              /* Padding counts, but not the overhang ceil_mode adds past it. */
              cnt = taps_below(sd, g.k[0], g.d[0], g.in[0] + g.pe[0]) *
                    taps_below(sh, g.k[1], g.d[1], g.in[1] + g.pe[1]) *
                    taps_below(sw, g.k[2], g.d[2], g.in[2] + g.pe[2]);
            } else {
              cnt = (d1 - d0) * (h1 - h0) * (w1 - w0);
            }
            *out = cnt > 0 ? (float)(acc / (double)cnt) : 0.0f;
          } else {
            *out = (float)(p == 2.0f ? sqrt(acc) : p == 1.0f ? acc : pow(acc, 1.0 / p));
          }
        }
      }
    }
  }
  free(tmp);
  sinter_nn_f32_out_commit(ctx, 0, y);
  return NULL;
}

/* ---- global pooling ------------------------------------------------------------- */

sinter_status_t sinter_nn_global_pool_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  SINTER_TRY(sinter_nn_check_float(x, "input X"));
  sinter_type_unknown_dims(&ctx->out[0], x->dtype, x->rank);
  if (x->rank < 0) return NULL;
  if (x->rank < 2)
    return SINTER_NODE_ERROR("input has rank %d, expected at least 2 (N, C, spatial dims)",
                             x->rank);
  ctx->out[0].dims[0] = x->dims[0];
  ctx->out[0].dims[1] = x->dims[1];
  for (int32_t i = 2; i < x->rank; i++) ctx->out[0].dims[i] = nn_dim(1);
  return NULL;
}

sinter_status_t sinter_nn_global_pool_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  if (X->rank < 2) return SINTER_NODE_ERROR("input has rank %d, expected at least 2", X->rank);
  int64_t dims[SINTER_MAX_RANK];
  for (int32_t i = 0; i < X->rank; i++) dims[i] = i < 2 ? X->dims[i] : 1;
  float *y;
  SINTER_TRY(sinter_nn_f32_out(ctx, 0, X->dtype, X->rank, dims, &y));
  float *tmp;
  const float *x = sinter_nn_f32_in(X, &tmp);
  if (!x) {
    if ((void *)y != ctx->out[0].data) free(y);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  int64_t nc = X->dims[0] * X->dims[1], is = 1;
  for (int32_t i = 2; i < X->rank; i++) is *= X->dims[i];
  float p = sinter_node_attr_float(ctx->node, "p", 2.0f);
  for (int64_t b = 0; b < nc; b++) {
    const float *xp = x + b * is;
    if (ctx->node->op == SINTER_OP_GLOBAL_MAX_POOL) {
      float best = -INFINITY;
      for (int64_t i = 0; i < is; i++)
        if (xp[i] > best || i == 0) best = xp[i];
      y[b] = best;
    } else if (ctx->node->op == SINTER_OP_GLOBAL_AVERAGE_POOL) {
      double acc = 0;
      for (int64_t i = 0; i < is; i++) acc += xp[i];
      y[b] = is ? (float)(acc / (double)is) : NAN;
    } else {
      double acc = 0;
      for (int64_t i = 0; i < is; i++) acc += pow(fabs((double)xp[i]), p);
      y[b] = (float)pow(acc, 1.0 / p);
    }
  }
  free(tmp);
  sinter_nn_f32_out_commit(ctx, 0, y);
  return NULL;
}

/* ---- LRN --------------------------------------------------------------------------- */

static sinter_status_t lrn_check(const sinter_node_t *node, const sinter_type_t *x) {
  SINTER_TRY(sinter_nn_check_float(x, "input X"));
  const sinter_attr_t *a = sinter_node_attr(node, "size");
  if (!a || a->kind != SINTER_ATTR_INT) return SINTER_NODE_ERROR("attribute size is required");
  if (a->i < 1) return SINTER_NODE_ERROR("size is %lld, must be positive", (long long)a->i);
  if (x->rank >= 0 && x->rank < 2)
    return SINTER_NODE_ERROR("input has rank %d, expected at least 2 (N, C, ...)", x->rank);
  return NULL;
}

sinter_status_t sinter_nn_lrn_infer(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(lrn_check(ctx->node, ctx->in[0]));
  ctx->out[0] = *ctx->in[0];
  return NULL;
}

sinter_status_t sinter_nn_lrn_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  sinter_type_t xt;
  sinter_nn_type_of(X, &xt);
  SINTER_TRY(lrn_check(ctx->node, &xt));
  int64_t size = sinter_node_attr_int(ctx->node, "size", 1);
  float alpha = sinter_node_attr_float(ctx->node, "alpha", 1e-4f);
  float beta = sinter_node_attr_float(ctx->node, "beta", 0.75f);
  float bias = sinter_node_attr_float(ctx->node, "bias", 1.0f);
  float *y;
  SINTER_TRY(sinter_nn_f32_out(ctx, 0, X->dtype, X->rank, X->dims, &y));
  float *tmp;
  const float *x = sinter_nn_f32_in(X, &tmp);
  if (!x) {
    if ((void *)y != ctx->out[0].data) free(y);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  int64_t n = X->dims[0], c = X->dims[1], is = 1;
  for (int32_t i = 2; i < X->rank; i++) is *= X->dims[i];
  int64_t before = (size - 1) / 2, after = size - 1 - before;
  for (int64_t b = 0; b < n; b++)
    for (int64_t ci = 0; ci < c; ci++) {
      int64_t lo = ci - before < 0 ? 0 : ci - before;
      int64_t hi = after > c - 1 - ci ? c - 1 : ci + after;
      for (int64_t i = 0; i < is; i++) {
        double sq = 0;
        for (int64_t j = lo; j <= hi; j++) {
          double v = x[(b * c + j) * is + i];
          sq += v * v;
        }
        int64_t at = (b * c + ci) * is + i;
        y[at] = (float)(x[at] / pow(bias + alpha / (double)size * sq, beta));
      }
    }
  free(tmp);
  sinter_nn_f32_out_commit(ctx, 0, y);
  return NULL;
}
