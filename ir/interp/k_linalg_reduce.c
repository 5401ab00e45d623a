/* Reference reductions: Reduce* (axes as input 1, keepdims,
 * noop_with_empty_axes, ONNX's values for empty sets), ArgMax/ArgMin, TopK
 * and CumSum. Floats accumulate in double and round on store; integers
 * accumulate exactly in wrapping int64. */
#include "ir/interp/k_linalg_internal.h"

/* Element i as double, with a branch-predictable fast path for f32. */
static inline double ld_f(const sinter_tensor_t *t, int64_t i) {
  if (t->dtype == SINTER_DTYPE_F32) return ((const float *)t->data)[i];
  return sinter_load_f64(t->data, t->dtype, i);
}

static inline void st_f(sinter_tensor_t *t, int64_t i, double v) {
  if (t->dtype == SINTER_DTYPE_F32)
    ((float *)t->data)[i] = (float)v;
  else
    sinter_store_f64(t->data, t->dtype, i, v);
}

/* Integers order as int64, except u64, which is mapped to an order-preserving
 * signed key (flipping the top bit) for comparisons. */
static inline int64_t u64_key(sinter_dtype_t d, int64_t v) {
  return d == SINTER_DTYPE_U64 ? (int64_t)((uint64_t)v ^ (UINT64_C(1) << 63)) : v;
}

/* outer x n x inner view of a tensor around axis. */
static void split_at_axis(const int64_t *dims, int32_t rank, int32_t axis, int64_t *outer,
                          int64_t *n, int64_t *inner) {
  *outer = 1;
  *inner = 1;
  for (int32_t d = 0; d < axis; d++) *outer *= dims[d];
  for (int32_t d = axis + 1; d < rank; d++) *inner *= dims[d];
  *n = dims[axis];
}

/* ---- Reduce* ------------------------------------------------------------ */

typedef enum rkind_e {
  RK_SUM,
  RK_MEAN,
  RK_MAX,
  RK_MIN,
  RK_PROD,
  RK_L1,
  RK_L2,
  RK_SUM_SQUARE,
  RK_LOG_SUM,
  RK_LOG_SUM_EXP,
} rkind_t;

static rkind_t reduce_kind(sinter_op_t op) {
  switch (op) {
    case SINTER_OP_REDUCE_MEAN: return RK_MEAN;
    case SINTER_OP_REDUCE_MAX: return RK_MAX;
    case SINTER_OP_REDUCE_MIN: return RK_MIN;
    case SINTER_OP_REDUCE_PROD: return RK_PROD;
    case SINTER_OP_REDUCE_L1: return RK_L1;
    case SINTER_OP_REDUCE_L2: return RK_L2;
    case SINTER_OP_REDUCE_SUM_SQUARE: return RK_SUM_SQUARE;
    case SINTER_OP_REDUCE_LOG_SUM: return RK_LOG_SUM;
    case SINTER_OP_REDUCE_LOG_SUM_EXP: return RK_LOG_SUM_EXP;
    default: return RK_SUM;
  }
}

/* The axes of a Reduce node: input 1, else the pre-opset-18 "axes"
 * attribute, else none. known is false when input 1 exists but its data is
 * not known; count is then its length when its shape is static, else -1. */
typedef struct axes_s {
  bool known;
  int64_t n;
  int64_t v[SINTER_MAX_RANK];
  int64_t count;
} axes_t;

static sinter_status_t read_axes_values(const int64_t *v, int64_t n, axes_t *ax) {
  if (n > SINTER_MAX_RANK)
    return SINTER_NODE_ERROR("%lld axes given, at most %d", (long long)n, SINTER_MAX_RANK);
  ax->known = true;
  ax->n = n;
  for (int64_t i = 0; i < n; i++) ax->v[i] = v[i];
  return NULL;
}

static sinter_status_t infer_axes(const sinter_infer_ctx_t *ctx, axes_t *ax) {
  memset(ax, 0, sizeof(*ax));
  ax->count = -1;
  if (ctx->n_inputs > 1 && ctx->in[1]) {
    const sinter_type_t *t = ctx->in[1];
    if (t->dtype != SINTER_DTYPE_UNDEFINED && !sinter_dtype_is_int(t->dtype))
      return SINTER_NODE_ERROR("axes must be an integer tensor, got %s",
                               sinter_dtype_name(t->dtype));
    if (t->rank > 1) return SINTER_NODE_ERROR("axes must have rank 1, got %d", t->rank);
    int64_t cnt;
    bool cnt_known = sinter_type_numel(t, &cnt);
    if (cnt_known && cnt > SINTER_MAX_RANK)
      return SINTER_NODE_ERROR("%lld axes given, at most %d", (long long)cnt, SINTER_MAX_RANK);
    int64_t v[SINTER_MAX_RANK], n;
    if (cnt_known && cnt == 0) return read_axes_values(v, 0, ax);
    if (sinter_infer_input_ints(ctx, 1, v, SINTER_MAX_RANK, &n)) return read_axes_values(v, n, ax);
    ax->count = cnt_known ? cnt : -1;
    return NULL;
  }
  int64_t n = 0;
  const int64_t *v = sinter_node_attr_ints(ctx->node, "axes", &n);
  return read_axes_values(v, v ? n : 0, ax);
}

/* Turns axes into a mask over rank dims; empty axes mean all (unless noop,
 * which the caller handles). Negative axes count from the end. */
static sinter_status_t axes_mask(const axes_t *ax, int32_t rank, bool *mask) {
  for (int32_t d = 0; d < rank; d++) mask[d] = ax->n == 0;
  for (int64_t i = 0; i < ax->n; i++) {
    int32_t a;
    if (!sinter_norm_axis(ax->v[i], rank, &a))
      return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)ax->v[i], rank);
    if (mask[a]) return SINTER_NODE_ERROR("axis %lld repeated", (long long)ax->v[i]);
    mask[a] = true;
  }
  return NULL;
}

sinter_status_t sinter_linalg_reduce_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  rkind_t kind = reduce_kind(ctx->node->op);
  bool bool_ok = kind == RK_MAX || kind == RK_MIN;
  if (x->dtype != SINTER_DTYPE_UNDEFINED && !is_numeric(x->dtype) &&
      !(bool_ok && x->dtype == SINTER_DTYPE_BOOL))
    return SINTER_NODE_ERROR("dtype %s is not supported", sinter_dtype_name(x->dtype));
  bool keep = sinter_node_attr_int(ctx->node, "keepdims", 1) != 0;
  bool noop = sinter_node_attr_int(ctx->node, "noop_with_empty_axes", 0) != 0;
  axes_t ax;
  SINTER_TRY(infer_axes(ctx, &ax));
  if (ax.known && ax.n == 0 && noop) {
    *o = *x;
    return NULL;
  }
  if (x->rank < 0) {
    sinter_type_unknown_dims(o, x->dtype, 0);
    o->rank = -1;
    return NULL;
  }
  if (!ax.known) {
    /* Which axes is data-dependent: keep the rank where it is decidable. */
    if (keep) {
      sinter_type_unknown_dims(o, x->dtype, x->rank);
    } else if (ax.count > 0 && ax.count <= x->rank) {
      sinter_type_unknown_dims(o, x->dtype, x->rank - (int32_t)ax.count);
    } else {
      sinter_type_unknown_dims(o, x->dtype, 0);
      o->rank = -1;
    }
    return NULL;
  }
  bool mask[SINTER_MAX_RANK];
  SINTER_TRY(axes_mask(&ax, x->rank, mask));
  memset(o, 0, sizeof(*o));
  o->dtype = x->dtype;
  for (int32_t d = 0; d < x->rank; d++) {
    if (!mask[d])
      o->dims[o->rank++] = x->dims[d];
    else if (keep)
      o->dims[o->rank++] = (sinter_dim_t){1, NULL};
  }
  return NULL;
}

/* The reduction with runs of kept and reduced dims merged (size-1 dims
 * dropped), so the innermost loop is one long contiguous run. */
typedef struct rgeom_s {
  int32_t ng;
  int64_t size[SINTER_MAX_RANK];
  int64_t ostr[SINTER_MAX_RANK]; /* output stride of each group, 0 when reduced */
  bool red[SINTER_MAX_RANK];
  int64_t in_n, out_n;
} rgeom_t;

static void rgeom_make(const sinter_tensor_t *x, const bool *mask, rgeom_t *g) {
  g->ng = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    if (x->dims[d] == 1) continue;
    if (g->ng > 0 && g->red[g->ng - 1] == mask[d]) {
      g->size[g->ng - 1] *= x->dims[d];
    } else {
      g->size[g->ng] = x->dims[d];
      g->red[g->ng] = mask[d];
      g->ng++;
    }
  }
  if (g->ng == 0) {
    g->size[0] = 1;
    g->red[0] = false;
    g->ng = 1;
  }
  int64_t s = 1, n = 1;
  for (int32_t i = g->ng - 1; i >= 0; i--) {
    g->ostr[i] = g->red[i] ? 0 : s;
    if (!g->red[i]) s *= g->size[i];
    n *= g->size[i];
  }
  g->out_n = s;
  g->in_n = n;
}

typedef enum pre_e { PRE_ID, PRE_ABS, PRE_SQUARE, PRE_EXP_SHIFTED } pre_t;
typedef enum comb_e { CB_SUM, CB_PROD, CB_MAX, CB_MIN } comb_t;

enum { CHUNK = 1024 };

static void pre_f(pre_t pre, double *v, int64_t n, const double *shift, int64_t sstep) {
  switch (pre) {
    case PRE_ID: break;
    case PRE_ABS:
      for (int64_t i = 0; i < n; i++) v[i] = fabs(v[i]);
      break;
    case PRE_SQUARE:
      for (int64_t i = 0; i < n; i++) v[i] = v[i] * v[i];
      break;
    case PRE_EXP_SHIFTED:
      for (int64_t i = 0; i < n; i++) v[i] = exp(v[i] - shift[i * sstep]);
      break;
  }
}

/* Folds n values into acc (one accumulator when astep is 0, else one each).
 * max/min propagate NaN, as NumPy's maximum.reduce does. */
static void comb_f(comb_t cb, double *acc, int64_t astep, const double *v, int64_t n) {
  if (astep == 0) {
    double s = *acc;
    switch (cb) {
      case CB_SUM:
        for (int64_t i = 0; i < n; i++) s += v[i];
        break;
      case CB_PROD:
        for (int64_t i = 0; i < n; i++) s *= v[i];
        break;
      case CB_MAX:
        for (int64_t i = 0; i < n; i++) s = (v[i] > s || v[i] != v[i]) ? v[i] : s;
        break;
      case CB_MIN:
        for (int64_t i = 0; i < n; i++) s = (v[i] < s || v[i] != v[i]) ? v[i] : s;
        break;
    }
    *acc = s;
    return;
  }
  switch (cb) {
    case CB_SUM:
      for (int64_t i = 0; i < n; i++) acc[i] += v[i];
      break;
    case CB_PROD:
      for (int64_t i = 0; i < n; i++) acc[i] *= v[i];
      break;
    case CB_MAX:
      for (int64_t i = 0; i < n; i++) acc[i] = (v[i] > acc[i] || v[i] != v[i]) ? v[i] : acc[i];
      break;
    case CB_MIN:
      for (int64_t i = 0; i < n; i++) acc[i] = (v[i] < acc[i] || v[i] != v[i]) ? v[i] : acc[i];
      break;
  }
}

static void load_f(const sinter_tensor_t *x, int64_t pos, int64_t n, double *buf) {
  if (x->dtype == SINTER_DTYPE_F32) {
    const float *p = (const float *)x->data + pos;
    for (int64_t i = 0; i < n; i++) buf[i] = p[i];
  } else if (x->dtype == SINTER_DTYPE_F64) {
    memcpy(buf, (const double *)x->data + pos, sizeof(double) * (size_t)n);
  } else {
    for (int64_t i = 0; i < n; i++) buf[i] = sinter_load_f64(x->data, x->dtype, pos + i);
  }
}

/* One pass over x in memory order, folding into acc[out_n]. */
static void pass_f(const sinter_tensor_t *x, const rgeom_t *g, pre_t pre, comb_t cb,
                   const double *shift, double *acc) {
  double buf[CHUNK];
  int64_t inner = g->size[g->ng - 1];
  int64_t step = g->red[g->ng - 1] ? 0 : 1;
  int64_t n_outer = g->in_n / inner;
  int64_t idx[SINTER_MAX_RANK] = {0}, ob = 0, pos = 0;
  for (int64_t t = 0; t < n_outer; t++) {
    for (int64_t c0 = 0; c0 < inner; c0 += CHUNK) {
      int64_t n = inner - c0 < CHUNK ? inner - c0 : CHUNK;
      load_f(x, pos + c0, n, buf);
      pre_f(pre, buf, n, shift ? shift + ob + step * c0 : NULL, step);
      comb_f(cb, acc + ob + step * c0, step, buf, n);
    }
    pos += inner;
    for (int32_t d = g->ng - 2; d >= 0; d--) {
      ob += g->ostr[d];
      if (++idx[d] < g->size[d]) break;
      ob -= g->ostr[d] * g->size[d];
      idx[d] = 0;
    }
  }
}

static void pre_i(pre_t pre, int64_t *v, int64_t n) {
  if (pre == PRE_ABS)
    for (int64_t i = 0; i < n; i++) v[i] = v[i] < 0 ? (int64_t)(0 - (uint64_t)v[i]) : v[i];
  else if (pre == PRE_SQUARE)
    for (int64_t i = 0; i < n; i++) v[i] = (int64_t)((uint64_t)v[i] * (uint64_t)v[i]);
}

static void comb_i(comb_t cb, int64_t *acc, int64_t astep, const int64_t *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    int64_t *a = acc + i * astep;
    switch (cb) {
      case CB_SUM: *a = (int64_t)((uint64_t)*a + (uint64_t)v[i]); break;
      case CB_PROD: *a = (int64_t)((uint64_t)*a * (uint64_t)v[i]); break;
      case CB_MAX:
        if (v[i] > *a) *a = v[i];
        break;
      case CB_MIN:
        if (v[i] < *a) *a = v[i];
        break;
    }
  }
}

static void pass_i(const sinter_tensor_t *x, const rgeom_t *g, pre_t pre, comb_t cb, int64_t *acc) {
  int64_t buf[CHUNK];
  bool keyed = cb == CB_MAX || cb == CB_MIN;
  int64_t inner = g->size[g->ng - 1];
  int64_t step = g->red[g->ng - 1] ? 0 : 1;
  int64_t n_outer = g->in_n / inner;
  int64_t idx[SINTER_MAX_RANK] = {0}, ob = 0, pos = 0;
  for (int64_t t = 0; t < n_outer; t++) {
    for (int64_t c0 = 0; c0 < inner; c0 += CHUNK) {
      int64_t n = inner - c0 < CHUNK ? inner - c0 : CHUNK;
      for (int64_t i = 0; i < n; i++) {
        int64_t v = sinter_load_i64(x->data, x->dtype, pos + c0 + i);
        buf[i] = keyed ? u64_key(x->dtype, v) : v;
      }
      pre_i(pre, buf, n);
      comb_i(cb, acc + ob + step * c0, step, buf, n);
    }
    pos += inner;
    for (int32_t d = g->ng - 2; d >= 0; d--) {
      ob += g->ostr[d];
      if (++idx[d] < g->size[d]) break;
      ob -= g->ostr[d] * g->size[d];
      idx[d] = 0;
    }
  }
}

/* The smallest and largest value of an integer dtype, as int64 keys. */
static void int_limits(sinter_dtype_t d, int64_t *lo, int64_t *hi) {
  int bits = sinter_dtype_bits(d);
  bool is_signed = d == SINTER_DTYPE_I64 || d == SINTER_DTYPE_I32 || d == SINTER_DTYPE_I16 ||
                   d == SINTER_DTYPE_I8 || d == SINTER_DTYPE_I4;
  if (d == SINTER_DTYPE_BOOL) {
    *lo = 0;
    *hi = 1;
  } else if (d == SINTER_DTYPE_U64 || d == SINTER_DTYPE_I64) {
    *lo = INT64_MIN; /* for u64 this is the key of 0 */
    *hi = INT64_MAX;
  } else if (is_signed) {
    *lo = -((int64_t)1 << (bits - 1));
    *hi = ((int64_t)1 << (bits - 1)) - 1;
  } else {
    *lo = 0;
    *hi = ((int64_t)1 << bits) - 1;
  }
}

static pre_t kind_pre(rkind_t k) {
  switch (k) {
    case RK_L1: return PRE_ABS;
    case RK_L2:
    case RK_SUM_SQUARE: return PRE_SQUARE;
    case RK_LOG_SUM_EXP: return PRE_EXP_SHIFTED;
    default: return PRE_ID;
  }
}

static comb_t kind_comb(rkind_t k) {
  switch (k) {
    case RK_PROD: return CB_PROD;
    case RK_MAX: return CB_MAX;
    case RK_MIN: return CB_MIN;
    default: return CB_SUM;
  }
}

/* Integer reductions exact in int64; returns false for kinds that need
 * floating point (L2, LogSum, LogSumExp), which go through double. */
static bool reduce_int(rkind_t kind, const sinter_tensor_t *x, const rgeom_t *g, bool empty,
                       sinter_tensor_t *o, sinter_status_t *st) {
  *st = NULL;
  if (kind == RK_L2 || kind == RK_LOG_SUM || kind == RK_LOG_SUM_EXP) return false;
  int64_t lo, hi;
  int_limits(x->dtype, &lo, &hi);
  comb_t cb = kind_comb(kind);
  int64_t init = cb == CB_PROD ? 1 : cb == CB_MAX ? lo : cb == CB_MIN ? hi : 0;
  int64_t out_n = sinter_tensor_numel(o);
  int64_t *acc = malloc(sizeof(int64_t) * (size_t)(out_n ? out_n : 1));
  if (!acc) {
    *st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    return true;
  }
  for (int64_t i = 0; i < out_n; i++) acc[i] = init;
  if (!empty) pass_i(x, g, kind_pre(kind), cb, acc);
  bool keyed = cb == CB_MAX || cb == CB_MIN;
  int64_t count = empty || g->out_n == 0 ? 0 : g->in_n / g->out_n;
  for (int64_t i = 0; i < out_n; i++) {
    int64_t v = keyed ? u64_key(x->dtype, acc[i]) : acc[i];
    if (kind == RK_MEAN) v = count ? v / count : 0;
    sinter_store_i64(o->data, o->dtype, i, v);
  }
  free(acc);
  return true;
}

sinter_status_t sinter_linalg_reduce_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  rkind_t kind = reduce_kind(ctx->node->op);
  if (!is_numeric(x->dtype) &&
      !((kind == RK_MAX || kind == RK_MIN) && x->dtype == SINTER_DTYPE_BOOL))
    return SINTER_NODE_ERROR("dtype %s is not supported", sinter_dtype_name(x->dtype));
  bool keep = sinter_node_attr_int(ctx->node, "keepdims", 1) != 0;
  bool noop = sinter_node_attr_int(ctx->node, "noop_with_empty_axes", 0) != 0;
  axes_t ax;
  memset(&ax, 0, sizeof(ax));
  if (ctx->n_inputs > 1 && ctx->in[1]) {
    int64_t v[SINTER_MAX_RANK], n;
    if (ctx->in[1]->rank > 1) return SINTER_NODE_ERROR("axes must have rank 1");
    if (sinter_tensor_numel(ctx->in[1]) > SINTER_MAX_RANK)
      return SINTER_NODE_ERROR("more than %d axes given", SINTER_MAX_RANK);
    if (!sinter_tensor_read_ints(ctx->in[1], v, SINTER_MAX_RANK, &n))
      return SINTER_NODE_ERROR("axes must be an integer tensor");
    SINTER_TRY(read_axes_values(v, n, &ax));
  } else {
    int64_t n = 0;
    const int64_t *v = sinter_node_attr_ints(ctx->node, "axes", &n);
    SINTER_TRY(read_axes_values(v, v ? n : 0, &ax));
  }
  if (ax.n == 0 && noop) {
    SINTER_TRY(ensure_output(ctx, 0, x->dtype, x->rank, x->dims));
    if (x->nbytes) memcpy(ctx->out[0].data, x->data, ctx->out[0].nbytes);
    return NULL;
  }
  bool mask[SINTER_MAX_RANK];
  SINTER_TRY(axes_mask(&ax, x->rank, mask));
  int64_t odims[SINTER_MAX_RANK];
  int32_t orank = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    if (!mask[d])
      odims[orank++] = x->dims[d];
    else if (keep)
      odims[orank++] = 1;
  }
  SINTER_TRY(ensure_output(ctx, 0, x->dtype, orank, odims));
  sinter_tensor_t *o = &ctx->out[0];
  int64_t out_n = sinter_tensor_numel(o);
  if (out_n == 0) return NULL;
  bool empty = sinter_tensor_numel(x) == 0; /* every reduction set is empty */
  rgeom_t g;
  memset(&g, 0, sizeof(g));
  if (!empty) rgeom_make(x, mask, &g);

  if (!sinter_dtype_is_float(x->dtype)) {
    sinter_status_t st;
    if (reduce_int(kind, x, &g, empty, o, &st)) return st;
  }
  double *acc = malloc(sizeof(double) * (size_t)out_n);
  double *shift = kind == RK_LOG_SUM_EXP ? malloc(sizeof(double) * (size_t)out_n) : NULL;
  if (!acc || (kind == RK_LOG_SUM_EXP && !shift)) {
    free(acc);
    free(shift);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  comb_t cb = kind_comb(kind);
  double init = cb == CB_PROD ? 1.0 : cb == CB_MAX ? -INFINITY : cb == CB_MIN ? INFINITY : 0.0;
  if (kind == RK_LOG_SUM_EXP) {
    /* Shift by the maximum so exp cannot overflow; an infinite maximum
     * shifts by 0 so that all -inf gives -inf and any +inf gives +inf. */
    for (int64_t i = 0; i < out_n; i++) shift[i] = -INFINITY;
    if (!empty) pass_f(x, &g, PRE_ID, CB_MAX, NULL, shift);
    for (int64_t i = 0; i < out_n; i++)
      if (isinf(shift[i])) shift[i] = 0.0;
  }
  for (int64_t i = 0; i < out_n; i++) acc[i] = init;
  if (!empty) pass_f(x, &g, kind_pre(kind), cb, shift, acc);
  double count = empty ? 0.0 : (double)(g.in_n / g.out_n);
  for (int64_t i = 0; i < out_n; i++) {
    double v = acc[i];
    switch (kind) {
      case RK_MEAN: v = v / count; break;
      case RK_L2: v = sqrt(v); break;
      case RK_LOG_SUM: v = log(v); break;
      case RK_LOG_SUM_EXP: v = shift[i] + log(v); break;
      default: break;
    }
    st_f(o, i, v);
  }
  free(acc);
  free(shift);
  return NULL;
}

/* ---- ArgMax, ArgMin ----------------------------------------------------- */

sinter_status_t sinter_linalg_arg_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  if (x->dtype != SINTER_DTYPE_UNDEFINED && !is_numeric(x->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(x->dtype));
  bool keep = sinter_node_attr_int(ctx->node, "keepdims", 1) != 0;
  int64_t axis = sinter_node_attr_int(ctx->node, "axis", 0);
  if (x->rank < 0) {
    sinter_type_unknown_dims(o, SINTER_DTYPE_I64, 0);
    o->rank = -1;
    return NULL;
  }
  int32_t a;
  if (!sinter_norm_axis(axis, x->rank, &a))
    return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)axis, x->rank);
  if (x->dims[a].size == 0) return SINTER_NODE_ERROR("axis %d has size 0", a);
  memset(o, 0, sizeof(*o));
  o->dtype = SINTER_DTYPE_I64;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d != a)
      o->dims[o->rank++] = x->dims[d];
    else if (keep)
      o->dims[o->rank++] = (sinter_dim_t){1, NULL};
  }
  return NULL;
}

/* NaN wins both ArgMax and ArgMin (NumPy returns the first NaN). */
static inline bool arg_better_f(double v, double best, bool is_max, bool last) {
  if (best != best) return last && v != v;
  if (v != v) return true;
  return is_max ? (v > best || (last && v == best)) : (v < best || (last && v == best));
}

sinter_status_t sinter_linalg_arg_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  if (!is_numeric(x->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(x->dtype));
  bool is_max = ctx->node->op == SINTER_OP_ARG_MAX;
  bool keep = sinter_node_attr_int(ctx->node, "keepdims", 1) != 0;
  bool last = sinter_node_attr_int(ctx->node, "select_last_index", 0) != 0;
  int64_t axis = sinter_node_attr_int(ctx->node, "axis", 0);
  int32_t a;
  if (!sinter_norm_axis(axis, x->rank, &a))
    return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)axis, x->rank);
  if (x->dims[a] == 0) return SINTER_NODE_ERROR("axis %d has size 0", a);
  int64_t odims[SINTER_MAX_RANK];
  int32_t orank = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d != a)
      odims[orank++] = x->dims[d];
    else if (keep)
      odims[orank++] = 1;
  }
  SINTER_TRY(ensure_output(ctx, 0, SINTER_DTYPE_I64, orank, odims));
  int64_t *out = ctx->out[0].data;
  int64_t outer, n, inner;
  split_at_axis(x->dims, x->rank, a, &outer, &n, &inner);
  bool is_f = sinter_dtype_is_float(x->dtype);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * n * inner + i, best_j = 0;
      if (is_f) {
        double best = ld_f(x, base);
        for (int64_t j = 1; j < n; j++) {
          double v = ld_f(x, base + j * inner);
          if (arg_better_f(v, best, is_max, last)) best = v, best_j = j;
        }
      } else {
        int64_t best = u64_key(x->dtype, sinter_load_i64(x->data, x->dtype, base));
        for (int64_t j = 1; j < n; j++) {
          int64_t v = u64_key(x->dtype, sinter_load_i64(x->data, x->dtype, base + j * inner));
          bool better =
              is_max ? (v > best || (last && v == best)) : (v < best || (last && v == best));
          if (better) best = v, best_j = j;
        }
      }
      out[o * inner + i] = best_j;
    }
  return NULL;
}

/* ---- TopK --------------------------------------------------------------- */

sinter_status_t sinter_linalg_topk_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *kt = ctx->in[1];
  if (x->dtype != SINTER_DTYPE_UNDEFINED && !is_numeric(x->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(x->dtype));
  if (kt->dtype != SINTER_DTYPE_UNDEFINED && !sinter_dtype_is_int(kt->dtype))
    return SINTER_NODE_ERROR("K must be an integer tensor");
  if (kt->rank > 1) return SINTER_NODE_ERROR("K must be a 1-element tensor, got rank %d", kt->rank);
  int64_t kn;
  if (sinter_type_numel(kt, &kn) && kn != 1)
    return SINTER_NODE_ERROR("K must have one element, got %lld", (long long)kn);
  int64_t axis = sinter_node_attr_int(ctx->node, "axis", -1);
  if (x->rank < 0) {
    for (int32_t i = 0; i < 2 && i < ctx->n_outputs; i++) {
      sinter_type_unknown_dims(&ctx->out[i], i ? SINTER_DTYPE_I64 : x->dtype, 0);
      ctx->out[i].rank = -1;
    }
    return NULL;
  }
  int32_t a;
  if (!sinter_norm_axis(axis, x->rank, &a))
    return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)axis, x->rank);
  int64_t k, n;
  sinter_dim_t kd = {-1, NULL};
  if (sinter_infer_input_ints(ctx, 1, &k, 1, &n) && n == 1) {
    if (k < 0) return SINTER_NODE_ERROR("K is negative (%lld)", (long long)k);
    if (x->dims[a].size >= 0 && k > x->dims[a].size)
      return SINTER_NODE_ERROR("K = %lld exceeds the axis size %lld", (long long)k,
                               (long long)x->dims[a].size);
    kd.size = k;
  }
  for (int32_t i = 0; i < 2 && i < ctx->n_outputs; i++) {
    sinter_type_t *o = &ctx->out[i];
    *o = *x;
    o->dtype = i ? SINTER_DTYPE_I64 : x->dtype;
    o->dims[a] = kd;
  }
  return NULL;
}

typedef struct topk_item_s {
  double v;   /* floats */
  int64_t iv; /* ints, as order keys */
  int64_t idx;
} topk_item_t;

/* Ties keep the smaller index first. NaN counts as the largest value. */
static int by_idx(const topk_item_t *a, const topk_item_t *b) {
  return (a->idx > b->idx) - (a->idx < b->idx);
}

static int cmp_largest_f(const void *pa, const void *pb) {
  const topk_item_t *a = pa, *b = pb;
  bool an = a->v != a->v, bn = b->v != b->v;
  if (an != bn) return an ? -1 : 1;
  if (!an && a->v != b->v) return a->v > b->v ? -1 : 1;
  return by_idx(a, b);
}

static int cmp_smallest_f(const void *pa, const void *pb) {
  const topk_item_t *a = pa, *b = pb;
  bool an = a->v != a->v, bn = b->v != b->v;
  if (an != bn) return an ? 1 : -1;
  if (!an && a->v != b->v) return a->v < b->v ? -1 : 1;
  return by_idx(a, b);
}

static int cmp_largest_i(const void *pa, const void *pb) {
  const topk_item_t *a = pa, *b = pb;
  if (a->iv != b->iv) return a->iv > b->iv ? -1 : 1;
  return by_idx(a, b);
}

static int cmp_smallest_i(const void *pa, const void *pb) {
  const topk_item_t *a = pa, *b = pb;
  if (a->iv != b->iv) return a->iv < b->iv ? -1 : 1;
  return by_idx(a, b);
}

typedef int (*topk_cmp_fn)(const void *, const void *);

/* Restores the heap property below slot i of a heap whose root is the worst
 * item kept (the one cmp orders last). */
static void sift_down(topk_item_t *h, int64_t k, int64_t i, topk_cmp_fn cmp) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, w = i;
    if (l < k && cmp(&h[l], &h[w]) > 0) w = l;
    if (r < k && cmp(&h[r], &h[w]) > 0) w = r;
    if (w == i) return;
    topk_item_t t = h[i];
    h[i] = h[w];
    h[w] = t;
    i = w;
  }
}

/* Moves the k first items in cmp order to items[0..k), sorted. A heap of k
 * keeps this O(n log k) when k is small against n; cmp is a total order, so
 * the result equals a full sort's prefix. */
static void select_top(topk_item_t *items, int64_t n, int64_t k, topk_cmp_fn cmp) {
  if (k * 4 >= n) {
    qsort(items, (size_t)n, sizeof(topk_item_t), cmp);
    return;
  }
  for (int64_t i = k / 2 - 1; i >= 0; i--) sift_down(items, k, i, cmp);
  for (int64_t j = k; j < n; j++)
    if (cmp(&items[j], &items[0]) < 0) {
      items[0] = items[j];
      sift_down(items, k, 0, cmp);
    }
  qsort(items, (size_t)k, sizeof(topk_item_t), cmp);
}

sinter_status_t sinter_linalg_topk_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  if (!is_numeric(x->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(x->dtype));
  int64_t k, kn;
  if (!sinter_tensor_read_ints(ctx->in[1], &k, 1, &kn) || kn != 1)
    return SINTER_NODE_ERROR("K must be a 1-element integer tensor");
  int64_t axis = sinter_node_attr_int(ctx->node, "axis", -1);
  bool largest = sinter_node_attr_int(ctx->node, "largest", 1) != 0;
  int32_t a;
  if (!sinter_norm_axis(axis, x->rank, &a))
    return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)axis, x->rank);
  if (k < 0 || k > x->dims[a])
    return SINTER_NODE_ERROR("K = %lld is outside [0, %lld]", (long long)k, (long long)x->dims[a]);
  int64_t odims[SINTER_MAX_RANK];
  for (int32_t d = 0; d < x->rank; d++) odims[d] = d == a ? k : x->dims[d];
  SINTER_TRY(ensure_output(ctx, 0, x->dtype, x->rank, odims));
  if (ctx->n_outputs > 1) SINTER_TRY(ensure_output(ctx, 1, SINTER_DTYPE_I64, x->rank, odims));
  int64_t outer, n, inner;
  split_at_axis(x->dims, x->rank, a, &outer, &n, &inner);
  if (k == 0 || outer == 0 || inner == 0) return NULL;
  topk_item_t *items = malloc(sizeof(topk_item_t) * (size_t)n);
  if (!items) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  bool is_f = sinter_dtype_is_float(x->dtype);
  topk_cmp_fn cmp = is_f ? (largest ? cmp_largest_f : cmp_smallest_f)
                         : (largest ? cmp_largest_i : cmp_smallest_i);
  sinter_tensor_t *vo = &ctx->out[0];
  int64_t *io = ctx->n_outputs > 1 ? ctx->out[1].data : NULL;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * n * inner + i;
      for (int64_t j = 0; j < n; j++) {
        items[j].idx = j;
        if (is_f)
          items[j].v = ld_f(x, base + j * inner);
        else
          items[j].iv = u64_key(x->dtype, sinter_load_i64(x->data, x->dtype, base + j * inner));
      }
      select_top(items, n, k, cmp);
      for (int64_t j = 0; j < k; j++) {
        int64_t dst = (o * k + j) * inner + i;
        if (is_f)
          st_f(vo, dst, items[j].v);
        else
          sinter_store_i64(vo->data, vo->dtype, dst, u64_key(x->dtype, items[j].iv));
        if (io) io[dst] = items[j].idx;
      }
    }
  free(items);
  return NULL;
}

/* ---- CumSum ------------------------------------------------------------- */

sinter_status_t sinter_linalg_cumsum_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *at = ctx->in[1];
  if (x->dtype != SINTER_DTYPE_UNDEFINED && !is_numeric(x->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(x->dtype));
  if (at->dtype != SINTER_DTYPE_UNDEFINED && !sinter_dtype_is_int(at->dtype))
    return SINTER_NODE_ERROR("axis must be an integer tensor");
  if (at->rank > 1) return SINTER_NODE_ERROR("axis must be a scalar, got rank %d", at->rank);
  int64_t axis, n;
  if (x->rank >= 0 && sinter_infer_input_ints(ctx, 1, &axis, 1, &n) && n == 1) {
    int32_t a;
    if (!sinter_norm_axis(axis, x->rank, &a))
      return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)axis, x->rank);
  }
  ctx->out[0] = *x;
  return NULL;
}

sinter_status_t sinter_linalg_cumsum_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  if (!is_numeric(x->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(x->dtype));
  int64_t axis, an;
  if (!sinter_tensor_read_ints(ctx->in[1], &axis, 1, &an) || an != 1)
    return SINTER_NODE_ERROR("axis must be a 1-element integer tensor");
  int32_t a;
  if (!sinter_norm_axis(axis, x->rank, &a))
    return SINTER_NODE_ERROR("axis %lld out of range for rank %d", (long long)axis, x->rank);
  bool exclusive = sinter_node_attr_int(ctx->node, "exclusive", 0) != 0;
  bool reverse = sinter_node_attr_int(ctx->node, "reverse", 0) != 0;
  SINTER_TRY(ensure_output(ctx, 0, x->dtype, x->rank, x->dims));
  sinter_tensor_t *y = &ctx->out[0];
  int64_t outer, n, inner;
  split_at_axis(x->dims, x->rank, a, &outer, &n, &inner);
  bool is_f = sinter_dtype_is_float(x->dtype);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      double sf = 0.0;
      uint64_t si = 0;
      for (int64_t t = 0; t < n; t++) {
        int64_t j = reverse ? n - 1 - t : t;
        int64_t p = (o * n + j) * inner + i;
        if (is_f) {
          double v = ld_f(x, p);
          if (!exclusive) sf += v;
          st_f(y, p, sf);
          if (exclusive) sf += v;
        } else {
          uint64_t v = (uint64_t)sinter_load_i64(x->data, x->dtype, p);
          if (!exclusive) si += v;
          sinter_store_i64(y->data, y->dtype, p, (int64_t)si);
          if (exclusive) si += v;
        }
      }
    }
  return NULL;
}
