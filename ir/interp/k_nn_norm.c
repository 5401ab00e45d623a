/* Normalization ops (BatchNormalization, LayerNormalization,
 * InstanceNormalization, GroupNormalization, LpNormalization,
 * MeanVarianceNormalization): shape inference and f32 reference kernels.
 * Statistics are accumulated in double, two-pass, so they match NumPy. */
#include "ir/interp/k_nn_internal.h"

/* Product of dims [from, to) of t; the kernels call it on concrete tensors
 * whose element count is known to fit. */
static int64_t span(const sinter_tensor_t *t, int32_t from, int32_t to) {
  int64_t p = 1;
  for (int32_t i = from; i < to; i++) p *= t->dims[i];
  return p;
}

/* Releases the f32 views of up to 6 inputs and an uncommitted output. */
typedef struct norm_io_s {
  const float *in[6];
  float *tmp[6];
  float *y;
} norm_io_t;

static void norm_io_free(sinter_kernel_ctx_t *ctx, norm_io_t *io) {
  for (int i = 0; i < 6; i++) free(io->tmp[i]);
  if (io->y && (void *)io->y != ctx->out[0].data) free(io->y);
}

/* Opens f32 views of the present inputs and the first output (shaped like
 * input 0). */
static sinter_status_t norm_open(sinter_kernel_ctx_t *ctx, norm_io_t *io) {
  memset(io, 0, sizeof(*io));
  const sinter_tensor_t *X = ctx->in[0];
  SINTER_TRY(sinter_nn_f32_out(ctx, 0, X->dtype, X->rank, X->dims, &io->y));
  for (int32_t i = 0; i < ctx->n_inputs && i < 6; i++) {
    if (!ctx->in[i]) continue;
    io->in[i] = sinter_nn_f32_in(ctx->in[i], &io->tmp[i]);
    if (!io->in[i]) {
      norm_io_free(ctx, io);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    }
  }
  return NULL;
}

static void norm_commit(sinter_kernel_ctx_t *ctx, norm_io_t *io) {
  for (int i = 0; i < 6; i++) free(io->tmp[i]);
  sinter_nn_f32_out_commit(ctx, 0, io->y);
}

/* Mean and population variance of n values, two-pass in double. */
static void moments(const float *x, int64_t n, int64_t stride, double *mean, double *var) {
  double s = 0, q = 0;
  for (int64_t i = 0; i < n; i++) s += x[i * stride];
  double m = n ? s / (double)n : 0;
  for (int64_t i = 0; i < n; i++) {
    double d = x[i * stride] - m;
    q += d * d;
  }
  *mean = m;
  *var = n ? q / (double)n : 0;
}

/* ---- BatchNormalization ---------------------------------------------------------- */

static sinter_status_t bn_check(const sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  SINTER_TRY(sinter_nn_check_float(x, "input X"));
  if (x->rank >= 0 && x->rank < 2)
    return SINTER_NODE_ERROR("input has rank %d, expected at least 2 (N, C, ...)", x->rank);
  sinter_dim_t c = x->rank >= 0 ? x->dims[1] : nn_dim(-1);
  static const char *const names[] = {"", "scale", "bias B", "input_mean", "input_var"};
  for (int32_t i = 1; i < 5; i++) SINTER_TRY(sinter_nn_check_vec(ctx->in[i], names[i], c));
  int64_t tm = sinter_node_attr_int(ctx->node, "training_mode", 0);
  if (tm != 0 && tm != 1)
    return SINTER_NODE_ERROR("training_mode is %lld, expected 0 or 1", (long long)tm);
  return NULL;
}

sinter_status_t sinter_nn_batch_norm_infer(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(bn_check(ctx));
  ctx->out[0] = *ctx->in[0];
  /* Outputs 1 and 2 are the running mean and variance, shaped like the
   * statistics inputs. */
  for (int32_t i = 1; i < ctx->n_outputs; i++) ctx->out[i] = *ctx->in[i + 2];
  return NULL;
}

sinter_status_t sinter_nn_batch_norm_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  bool training = sinter_node_attr_int(ctx->node, "training_mode", 0) == 1;
  double eps = sinter_node_attr_float(ctx->node, "epsilon", 1e-5f);
  double momentum = sinter_node_attr_float(ctx->node, "momentum", 0.9f);
  int64_t n = X->dims[0], c = X->dims[1], s = span(X, 2, X->rank);
  for (int32_t i = 1; i < 5; i++)
    if (ctx->in[i]->rank != 1 || ctx->in[i]->dims[0] != c)
      return SINTER_NODE_ERROR("input %d must have %lld elements", i, (long long)c);
  norm_io_t io;
  SINTER_TRY(norm_open(ctx, &io));
  const float *x = io.in[0], *scale = io.in[1], *bias = io.in[2];
  const float *in_mean = io.in[3], *in_var = io.in[4];
  float *run[2] = {NULL, NULL};
  sinter_status_t st = NULL;
  for (int32_t i = 1; i < ctx->n_outputs && i < 3 && !st; i++)
    st = sinter_nn_f32_out(ctx, i, ctx->in[i + 2]->dtype, 1, &c, &run[i - 1]);
  if (st) {
    for (int32_t i = 0; i < 2; i++)
      if (run[i] && (void *)run[i] != ctx->out[i + 1].data) free(run[i]);
    norm_io_free(ctx, &io);
    return st;
  }
  for (int64_t ci = 0; ci < c; ci++) {
    double mean = in_mean[ci], var = in_var[ci];
    if (training) {
      /* Batch statistics over N and the spatial dims (population variance). */
      double sum = 0, sq = 0;
      for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < s; i++) sum += x[(b * c + ci) * s + i];
      mean = n * s > 0 ? sum / (double)(n * s) : 0;
      for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < s; i++) {
          double d = x[(b * c + ci) * s + i] - mean;
          sq += d * d;
        }
      var = n * s > 0 ? sq / (double)(n * s) : 0;
    }
    double a = scale[ci] / sqrt(var + eps), sh = bias[ci] - mean * a;
    for (int64_t b = 0; b < n; b++) {
      const float *xp = x + (b * c + ci) * s;
      float *yp = io.y + (b * c + ci) * s;
      for (int64_t i = 0; i < s; i++) yp[i] = (float)(xp[i] * a + sh);
    }
    /* Without training the running statistics are the inputs, unchanged. */
    double rm = training ? in_mean[ci] * momentum + mean * (1 - momentum) : in_mean[ci];
    double rv = training ? in_var[ci] * momentum + var * (1 - momentum) : in_var[ci];
    if (run[0]) run[0][ci] = (float)rm;
    if (run[1]) run[1][ci] = (float)rv;
  }
  for (int32_t i = 0; i < 2; i++)
    if (run[i]) sinter_nn_f32_out_commit(ctx, i + 1, run[i]);
  norm_commit(ctx, &io);
  return NULL;
}

/* ---- LayerNormalization ---------------------------------------------------------- */

static sinter_status_t stash_dtype(const sinter_node_t *node, sinter_dtype_t *out) {
  /* stash_type holds an ONNX TensorProto data type number. */
  int64_t st = sinter_node_attr_int(node, "stash_type", 1);
  switch (st) {
    case 1: *out = SINTER_DTYPE_F32; return NULL;
    case 10: *out = SINTER_DTYPE_F16; return NULL;
    case 11: *out = SINTER_DTYPE_F64; return NULL;
    case 16: *out = SINTER_DTYPE_BF16; return NULL;
    default: return SINTER_NODE_ERROR("stash_type %lld is not a float type", (long long)st);
  }
}

/* Checks that p (Scale or B) broadcasts to x's dims from axis on. */
static sinter_status_t ln_check_param(const sinter_type_t *x, int32_t axis, const sinter_type_t *p,
                                      const char *what) {
  SINTER_TRY(sinter_nn_check_float(p, what));
  if (p->rank < 0 || x->rank < 0) return NULL;
  int32_t inner = x->rank - axis;
  if (p->rank > inner)
    return SINTER_NODE_ERROR("%s has rank %d, more than the %d normalized dims", what, p->rank,
                             inner);
  for (int32_t i = 0; i < p->rank; i++) {
    sinter_dim_t pd = p->dims[i], xd = x->dims[x->rank - p->rank + i];
    if (pd.size >= 0 && pd.size != 1 && xd.size >= 0 && pd.size != xd.size)
      return SINTER_NODE_ERROR("%s dim %d is %lld, but the input's is %lld", what, i,
                               (long long)pd.size, (long long)xd.size);
  }
  return NULL;
}

static sinter_status_t ln_axis(const sinter_node_t *node, int32_t rank, int32_t *out) {
  int64_t axis = sinter_node_attr_int(node, "axis", -1);
  if (!sinter_norm_axis(axis, rank, out))
    return SINTER_NODE_ERROR("axis %lld is out of range for rank %d", (long long)axis, rank);
  return NULL;
}

sinter_status_t sinter_nn_layer_norm_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  SINTER_TRY(sinter_nn_check_float(x, "input X"));
  sinter_dtype_t sdt;
  SINTER_TRY(stash_dtype(ctx->node, &sdt));
  ctx->out[0] = *x;
  for (int32_t i = 1; i < ctx->n_outputs; i++) sinter_type_unknown_dims(&ctx->out[i], sdt, -1);
  if (x->rank < 0) return NULL;
  int32_t axis;
  SINTER_TRY(ln_axis(ctx->node, x->rank, &axis));
  SINTER_TRY(ln_check_param(x, axis, ctx->in[1], "scale"));
  if (ctx->n_inputs > 2 && ctx->in[2]) SINTER_TRY(ln_check_param(x, axis, ctx->in[2], "bias B"));
  for (int32_t i = 1; i < ctx->n_outputs; i++) {
    sinter_type_t *o = &ctx->out[i];
    *o = *x;
    o->dtype = sdt;
    for (int32_t d = axis; d < x->rank; d++) o->dims[d] = nn_dim(1);
  }
  return NULL;
}

/* Expands p (broadcastable to the rank-r shape dims) into a dense array. */
static void expand(const sinter_tensor_t *t, const float *p, int32_t r, const int64_t *dims,
                   float *out) {
  int64_t strides[SINTER_MAX_RANK], idx[SINTER_MAX_RANK] = {0}, total = 1, at = 0;
  sinter_broadcast_strides(t, r, dims, strides);
  for (int32_t i = 0; i < r; i++) total *= dims[i];
  for (int64_t k = 0; k < total; k++) {
    out[k] = p[at];
    for (int32_t d = r - 1; d >= 0; d--) {
      at += strides[d];
      if (++idx[d] < dims[d]) break;
      at -= strides[d] * dims[d];
      idx[d] = 0;
    }
  }
}

sinter_status_t sinter_nn_layer_norm_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  int32_t axis;
  SINTER_TRY(ln_axis(ctx->node, X->rank, &axis));
  sinter_dtype_t sdt;
  SINTER_TRY(stash_dtype(ctx->node, &sdt));
  for (int32_t i = 1; i < 3 && i < ctx->n_inputs; i++) {
    if (!ctx->in[i]) continue;
    sinter_type_t xt, pt;
    sinter_nn_type_of(X, &xt);
    sinter_nn_type_of(ctx->in[i], &pt);
    SINTER_TRY(ln_check_param(&xt, axis, &pt, i == 1 ? "scale" : "bias B"));
  }
  double eps = sinter_node_attr_float(ctx->node, "epsilon", 1e-5f);
  int64_t outer = span(X, 0, axis), inner = span(X, axis, X->rank);
  int64_t sdims[SINTER_MAX_RANK];
  for (int32_t d = 0; d < X->rank; d++) sdims[d] = d < axis ? X->dims[d] : 1;
  norm_io_t io;
  SINTER_TRY(norm_open(ctx, &io));
  float *stat[2] = {NULL, NULL};
  float *sc = malloc(sizeof(float) * (size_t)(inner ? inner : 1));
  float *bi = calloc((size_t)(inner ? inner : 1), sizeof(float));
  sinter_status_t st = sc && bi ? NULL : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int32_t i = 1; i < ctx->n_outputs && i < 3 && !st; i++)
    st = sinter_nn_f32_out(ctx, i, sdt, X->rank, sdims, &stat[i - 1]);
  if (st) {
    for (int32_t i = 0; i < 2; i++)
      if (stat[i] && (void *)stat[i] != ctx->out[i + 1].data) free(stat[i]);
    free(sc);
    free(bi);
    norm_io_free(ctx, &io);
    return st;
  }
  expand(ctx->in[1], io.in[1], X->rank - axis, &X->dims[axis], sc);
  if (ctx->n_inputs > 2 && ctx->in[2])
    expand(ctx->in[2], io.in[2], X->rank - axis, &X->dims[axis], bi);
  for (int64_t o = 0; o < outer; o++) {
    const float *xp = io.in[0] + o * inner;
    float *yp = io.y + o * inner;
    double mean, var;
    moments(xp, inner, 1, &mean, &var);
    double inv = 1.0 / sqrt(var + eps);
    for (int64_t i = 0; i < inner; i++) yp[i] = (float)((xp[i] - mean) * inv) * sc[i] + bi[i];
    if (stat[0]) stat[0][o] = (float)mean;
    if (stat[1]) stat[1][o] = (float)inv;
  }
  free(sc);
  free(bi);
  for (int32_t i = 0; i < 2; i++)
    if (stat[i]) sinter_nn_f32_out_commit(ctx, i + 1, stat[i]);
  norm_commit(ctx, &io);
  return NULL;
}

/* ---- InstanceNormalization and GroupNormalization ---------------------------------- */

sinter_status_t sinter_nn_instance_norm_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  SINTER_TRY(sinter_nn_check_float(x, "input X"));
  if (x->rank >= 0 && x->rank < 2)
    return SINTER_NODE_ERROR("input has rank %d, expected at least 2 (N, C, ...)", x->rank);
  sinter_dim_t c = x->rank >= 0 ? x->dims[1] : nn_dim(-1);
  SINTER_TRY(sinter_nn_check_vec(ctx->in[1], "scale", c));
  SINTER_TRY(sinter_nn_check_vec(ctx->in[2], "bias B", c));
  ctx->out[0] = *x;
  return NULL;
}

/* Normalizes x as [n, groups, per_group] and applies scale and bias, which
 * have one entry per channel (channels entries) or per group. */
static void group_norm(const float *x, float *y, int64_t n, int64_t c, int64_t groups, int64_t s,
                       const float *scale, int64_t n_scale, const float *bias, int64_t n_bias,
                       double eps) {
  int64_t cg = c / groups;
  for (int64_t b = 0; b < n; b++)
    for (int64_t g = 0; g < groups; g++) {
      const float *xp = x + (b * c + g * cg) * s;
      float *yp = y + (b * c + g * cg) * s;
      double mean, var;
      moments(xp, cg * s, 1, &mean, &var);
      double inv = 1.0 / sqrt(var + eps);
      for (int64_t j = 0; j < cg; j++) {
        int64_t ch = g * cg + j;
        float sc = scale[n_scale == c ? ch : g], bi = bias[n_bias == c ? ch : g];
        for (int64_t i = 0; i < s; i++)
          yp[j * s + i] = (float)((xp[j * s + i] - mean) * inv) * sc + bi;
      }
    }
}

sinter_status_t sinter_nn_instance_norm_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  int64_t c = X->dims[1];
  for (int32_t i = 1; i < 3; i++)
    if (ctx->in[i]->rank != 1 || ctx->in[i]->dims[0] != c)
      return SINTER_NODE_ERROR("input %d must have %lld elements", i, (long long)c);
  double eps = sinter_node_attr_float(ctx->node, "epsilon", 1e-5f);
  norm_io_t io;
  SINTER_TRY(norm_open(ctx, &io));
  group_norm(io.in[0], io.y, X->dims[0], c, c, span(X, 2, X->rank), io.in[1], c, io.in[2], c, eps);
  norm_commit(ctx, &io);
  return NULL;
}

static sinter_status_t gn_groups(const sinter_node_t *node, int64_t *out) {
  const sinter_attr_t *a = sinter_node_attr(node, "num_groups");
  if (!a || a->kind != SINTER_ATTR_INT)
    return SINTER_NODE_ERROR("attribute num_groups is required");
  if (a->i < 1) return SINTER_NODE_ERROR("num_groups is %lld, must be positive", (long long)a->i);
  *out = a->i;
  return NULL;
}

/* GroupNormalization's scale and bias have num_groups entries (opset 18) or
 * C entries (opset 21); either is accepted. */
static sinter_status_t gn_check_param(const sinter_type_t *p, const char *what, sinter_dim_t c,
                                      int64_t groups) {
  SINTER_TRY(sinter_nn_check_vec(p, what, nn_dim(-1)));
  if (p->rank != 1 || p->dims[0].size < 0) return NULL;
  int64_t n = p->dims[0].size;
  if (n != groups && (c.size < 0 || n != c.size))
    return SINTER_NODE_ERROR(
        "%s has %lld elements, expected num_groups (%lld) or the channel "
        "count",
        what, (long long)n, (long long)groups);
  return NULL;
}

sinter_status_t sinter_nn_group_norm_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  SINTER_TRY(sinter_nn_check_float(x, "input X"));
  int64_t groups;
  SINTER_TRY(gn_groups(ctx->node, &groups));
  if (x->rank >= 0 && x->rank < 2)
    return SINTER_NODE_ERROR("input has rank %d, expected at least 2 (N, C, ...)", x->rank);
  sinter_dim_t c = x->rank >= 0 ? x->dims[1] : nn_dim(-1);
  if (c.size >= 0 && c.size % groups)
    return SINTER_NODE_ERROR("%lld channels are not divisible into %lld groups", (long long)c.size,
                             (long long)groups);
  SINTER_TRY(gn_check_param(ctx->in[1], "scale", c, groups));
  SINTER_TRY(gn_check_param(ctx->in[2], "bias", c, groups));
  ctx->out[0] = *x;
  return NULL;
}

sinter_status_t sinter_nn_group_norm_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  int64_t groups;
  SINTER_TRY(gn_groups(ctx->node, &groups));
  int64_t c = X->dims[1];
  if (c % groups)
    return SINTER_NODE_ERROR("%lld channels are not divisible into %lld groups", (long long)c,
                             (long long)groups);
  for (int32_t i = 1; i < 3; i++) {
    const sinter_tensor_t *p = ctx->in[i];
    if (p->rank != 1 || (p->dims[0] != c && p->dims[0] != groups))
      return SINTER_NODE_ERROR("input %d must have %lld or %lld elements", i, (long long)groups,
                               (long long)c);
  }
  double eps = sinter_node_attr_float(ctx->node, "epsilon", 1e-5f);
  norm_io_t io;
  SINTER_TRY(norm_open(ctx, &io));
  group_norm(io.in[0], io.y, X->dims[0], c, groups, span(X, 2, X->rank), io.in[1],
             ctx->in[1]->dims[0], io.in[2], ctx->in[2]->dims[0], eps);
  norm_commit(ctx, &io);
  return NULL;
}

/* ---- LpNormalization ----------------------------------------------------------------- */

static sinter_status_t lpn_attrs(const sinter_node_t *node, int32_t rank, int32_t *axis,
                                 int64_t *p) {
  *p = sinter_node_attr_int(node, "p", 2);
  if (*p != 1 && *p != 2) return SINTER_NODE_ERROR("p is %lld, expected 1 or 2", (long long)*p);
  if (rank < 0) return NULL;
  int64_t a = sinter_node_attr_int(node, "axis", -1);
  if (!sinter_norm_axis(a, rank, axis))
    return SINTER_NODE_ERROR("axis %lld is out of range for rank %d", (long long)a, rank);
  return NULL;
}

sinter_status_t sinter_nn_lp_norm_infer(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(sinter_nn_check_float(ctx->in[0], "input"));
  int32_t axis;
  int64_t p;
  SINTER_TRY(lpn_attrs(ctx->node, ctx->in[0]->rank, &axis, &p));
  ctx->out[0] = *ctx->in[0];
  return NULL;
}

sinter_status_t sinter_nn_lp_norm_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  int32_t axis;
  int64_t p;
  SINTER_TRY(lpn_attrs(ctx->node, X->rank, &axis, &p));
  int64_t outer = span(X, 0, axis), len = X->dims[axis], inner = span(X, axis + 1, X->rank);
  norm_io_t io;
  SINTER_TRY(norm_open(ctx, &io));
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *xp = io.in[0] + o * len * inner + i;
      float *yp = io.y + o * len * inner + i;
      double norm = 0;
      for (int64_t j = 0; j < len; j++) {
        double v = xp[j * inner];
        norm += p == 1 ? fabs(v) : v * v;
      }
      if (p == 2) norm = sqrt(norm);
      /* An all-zero slice stays zero rather than becoming NaN. */
      for (int64_t j = 0; j < len; j++)
        yp[j * inner] = norm > 0 ? (float)(xp[j * inner] / norm) : 0.0f;
    }
  norm_commit(ctx, &io);
  return NULL;
}

/* ---- MeanVarianceNormalization ------------------------------------------------------- */

/* Marks the reduced axes (default [0, 2, 3]) in reduced[]. */
static sinter_status_t mvn_axes(const sinter_node_t *node, int32_t rank, bool *reduced) {
  static const int64_t dflt[] = {0, 2, 3};
  int64_t n;
  const int64_t *axes = sinter_node_attr_ints(node, "axes", &n);
  if (!axes) {
    axes = dflt;
    n = 3;
  }
  for (int32_t i = 0; i < rank; i++) reduced[i] = false;
  for (int64_t i = 0; i < n; i++) {
    int32_t a;
    if (!sinter_norm_axis(axes[i], rank, &a))
      return SINTER_NODE_ERROR("axes[%lld] = %lld is out of range for rank %d", (long long)i,
                               (long long)axes[i], rank);
    if (reduced[a]) return SINTER_NODE_ERROR("axis %d appears twice in axes", a);
    reduced[a] = true;
  }
  return NULL;
}

sinter_status_t sinter_nn_mvn_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  SINTER_TRY(sinter_nn_check_float(x, "input X"));
  if (x->rank >= 0) {
    bool reduced[SINTER_MAX_RANK];
    SINTER_TRY(mvn_axes(ctx->node, x->rank, reduced));
  }
  ctx->out[0] = *x;
  return NULL;
}

sinter_status_t sinter_nn_mvn_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *X = ctx->in[0];
  bool reduced[SINTER_MAX_RANK];
  SINTER_TRY(mvn_axes(ctx->node, X->rank, reduced));
  int64_t total = span(X, 0, X->rank), kept = 1;
  for (int32_t d = 0; d < X->rank; d++)
    if (!reduced[d]) kept *= X->dims[d];
  int64_t count = kept ? total / kept : 0;
  /* Element k's statistics slot is its index over the kept dims. */
  int64_t *slot = malloc(sizeof(int64_t) * (size_t)(total ? total : 1));
  double *mean = calloc((size_t)(kept ? kept : 1), sizeof(double));
  double *var = calloc((size_t)(kept ? kept : 1), sizeof(double));
  norm_io_t io;
  sinter_status_t st = slot && mean && var ? norm_open(ctx, &io)
                                           : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  if (st) {
    free(slot);
    free(mean);
    free(var);
    return st;
  }
  int64_t idx[SINTER_MAX_RANK] = {0};
  for (int64_t k = 0; k < total; k++) {
    int64_t s = 0;
    for (int32_t d = 0; d < X->rank; d++)
      if (!reduced[d]) s = s * X->dims[d] + idx[d];
    slot[k] = s;
    for (int32_t d = X->rank - 1; d >= 0; d--) {
      if (++idx[d] < X->dims[d]) break;
      idx[d] = 0;
    }
  }
  const float *x = io.in[0];
  for (int64_t k = 0; k < total; k++) mean[slot[k]] += x[k];
  for (int64_t j = 0; j < kept; j++) mean[j] /= (double)count;
  for (int64_t k = 0; k < total; k++) {
    double d = x[k] - mean[slot[k]];
    var[slot[k]] += d * d;
  }
  /* ONNX's function body: (X - E[X]) / (sqrt(Var[X]) + 1e-9). */
  for (int64_t j = 0; j < kept; j++) var[j] = sqrt(var[j] / (double)count) + 1e-9;
  for (int64_t k = 0; k < total; k++) io.y[k] = (float)((x[k] - mean[slot[k]]) / var[slot[k]]);
  free(slot);
  free(mean);
  free(var);
  norm_commit(ctx, &io);
  return NULL;
}
