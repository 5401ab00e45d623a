/* Reference kernels: shape and data-movement ops. Inference keeps symbolic dims where it can and
 * reads constant inputs (shapes, axes, pads) when they are known; kernels move elements by size,
 * so every dtype works, packed 4-bit ones included. Gather/scatter and friends live in
 * k_shape_index.c, Resize in k_shape_resize.c. */
#include "ir/interp/k_shape_internal.h"

/* ---- element movement ---------------------------------------------------- */

/* Views built from reshape+transpose (DepthToSpace, Tile) need up to twice the rank. */
enum { VIEW_MAX = 2 * SINTER_MAX_RANK };

/* Copies the strided view (soff, sstr) of src into the view (doff, dstr) of dst; both views
 * have shape dims. Strides are in elements and may be zero (broadcast) or negative. */
static void copy_view(void *dst, int64_t doff, const int64_t *dstr, const void *src, int64_t soff,
                      const int64_t *sstr, int32_t rank, const int64_t *dims, int bits) {
  for (int32_t d = 0; d < rank; d++)
    if (dims[d] <= 0) return;
  if (rank == 0) {
    move_elem(dst, doff, src, soff, bits);
    return;
  }
  int64_t idx[VIEW_MAX] = {0};
  int32_t last = rank - 1;
  int64_t n = dims[last], ds = dstr[last], ss = sstr[last];
  bool contiguous = ds == 1 && ss == 1;
  for (;;) {
    if (contiguous) {
      move_elems(dst, doff, src, soff, n, bits);
    } else {
      for (int64_t k = 0; k < n; k++) move_elem(dst, doff + k * ds, src, soff + k * ss, bits);
    }
    int32_t d = last - 1;
    for (; d >= 0; d--) {
      idx[d]++;
      doff += dstr[d];
      soff += sstr[d];
      if (idx[d] < dims[d]) break;
      doff -= dstr[d] * dims[d];
      soff -= sstr[d] * dims[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/* Copies all of in into out (same element count and dtype). */
static sinter_status_t copy_all(const sinter_tensor_t *in, sinter_tensor_t *out) {
  if (in->nbytes < out->nbytes)
    return SINTER_NODE_ERROR("input holds %zu bytes, output needs %zu", in->nbytes, out->nbytes);
  if (out->nbytes) memcpy(out->data, in->data, out->nbytes);
  return NULL;
}

/* ---- reading inputs ------------------------------------------------------ */

/* Reads a known integer input of at most max elements. */
static sinter_status_t view_ints(const view_t *v, const char *what, int64_t max, int64_t *out,
                                 int64_t *out_n) {
  if (!v->known) return SINTER_NODE_ERROR("%s is not known", what);
  if (!sinter_dtype_is_int(v->dtype))
    return SINTER_NODE_ERROR("%s must be an integer tensor, got %s", what,
                             sinter_dtype_name(v->dtype));
  if (v->numel > max)
    return SINTER_NODE_UNSUPPORTED("%s has %lld elements, at most %lld are supported", what,
                                   (long long)v->numel, (long long)max);
  for (int64_t i = 0; i < v->numel; i++) out[i] = sinter_load_i64(v->data, v->dtype, i);
  *out_n = v->numel;
  return NULL;
}

/* Reads the single element of a known numeric scalar input as a double. */
static sinter_status_t view_scalar(const view_t *v, const char *what, double *out) {
  if (!v->known) return SINTER_NODE_ERROR("%s is not known", what);
  if (v->numel != 1)
    return SINTER_NODE_ERROR("%s must hold one element, got %lld", what, (long long)v->numel);
  if (v->dtype == SINTER_DTYPE_BOOL || !sinter_dtype_bits(v->dtype))
    return SINTER_NODE_ERROR("%s must be numeric", what);
  *out = sinter_load_f64(v->data, v->dtype, 0);
  return NULL;
}

/* ---- inference helpers --------------------------------------------------- */

/* Fails when a static output would not fit in memory arithmetic. */
static sinter_status_t check_out_size(const sinter_type_t *t) {
  if (!sinter_type_is_static(t)) return NULL;
  int64_t n;
  size_t bytes;
  if (!sinter_type_numel(t, &n) || !sinter_dtype_storage_size(t->dtype, n, &bytes))
    return SINTER_NODE_ERROR("output shape is too large");
  return NULL;
}

/* Product of dims[lo, hi): static when all are; the single symbolic dim when the rest multiply
 * to 1; unknown otherwise. */
static sinter_status_t dims_product(const sinter_dim_t *dims, int32_t lo, int32_t hi,
                                    sinter_dim_t *out) {
  int64_t p = 1;
  int32_t n_dyn = 0;
  sinter_dim_t dyn = dim_unknown();
  bool zero = false;
  for (int32_t d = lo; d < hi; d++) {
    if (dims[d].size >= 0) {
      if (dims[d].size == 0) zero = true;
      if (__builtin_mul_overflow(p, dims[d].size, &p)) return SINTER_NODE_ERROR("shape overflows");
    } else {
      n_dyn++;
      dyn = dims[d];
    }
  }
  if (zero)
    *out = dim_const(0);
  else if (n_dyn == 0)
    *out = dim_const(p);
  else if (n_dyn == 1 && p == 1)
    *out = dyn;
  else
    *out = dim_unknown();
  return NULL;
}

/* Reads attribute name as an int; fails when it is present with another kind. */
static sinter_status_t attr_int(const sinter_node_t *node, const char *name, int64_t dflt,
                                int64_t *out) {
  const sinter_attr_t *a = sinter_node_attr(node, name);
  if (!a) {
    *out = dflt;
    return NULL;
  }
  if (a->kind != SINTER_ATTR_INT) return SINTER_NODE_ERROR("attribute '%s' must be an int", name);
  *out = a->i;
  return NULL;
}

/* ---- Reshape ------------------------------------------------------------- */

static sinter_status_t infer_reshape(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  view_t s = infer_view(ctx, 1);
  if (s.rank >= 0 && s.rank != 1)
    return SINTER_NODE_ERROR("shape must be 1-D, got rank %d", s.rank);
  if (!s.known) {
    if (s.numel > SINTER_MAX_RANK)
      return SINTER_NODE_UNSUPPORTED("output rank %lld is above %d", (long long)s.numel,
                                     SINTER_MAX_RANK);
    sinter_type_unknown_dims(o, x->dtype, s.numel >= 0 ? (int32_t)s.numel : -1);
    return NULL;
  }
  int64_t shape[SINTER_MAX_RANK], n;
  SINTER_TRY(view_ints(&s, "shape", SINTER_MAX_RANK, shape, &n));
  int64_t allowzero = 0;
  SINTER_TRY(attr_int(ctx->node, "allowzero", 0, &allowzero));
  sinter_type_unknown_dims(o, x->dtype, (int32_t)n);
  bool copied[SINTER_MAX_RANK] = {false};
  int32_t infer_at = -1;
  int64_t p_out = 1;
  for (int32_t i = 0; i < n; i++) {
    int64_t v = shape[i];
    if (v == -1) {
      if (infer_at >= 0) return SINTER_NODE_ERROR("shape has more than one -1");
      infer_at = i;
    } else if (v < -1) {
      return SINTER_NODE_ERROR("shape[%d] is %lld", i, (long long)v);
    } else if (v == 0 && !allowzero) {
      if (x->rank < 0) continue; /* copies an unknown dim */
      if (i >= x->rank)
        return SINTER_NODE_ERROR("shape[%d] is 0 (copy) but the input has rank %d", i, x->rank);
      o->dims[i] = x->dims[i];
      copied[i] = true;
    } else {
      o->dims[i] = dim_const(v);
      if (__builtin_mul_overflow(p_out, v, &p_out)) return SINTER_NODE_ERROR("shape overflows");
    }
  }
  if (x->rank < 0) return NULL;
  /* Dims copied with 0 appear on both sides and cancel; compare what is left. */
  int64_t p_in = 1;
  int32_t n_dyn = 0;
  sinter_dim_t dyn = dim_unknown();
  for (int32_t d = 0; d < x->rank; d++) {
    if (d < n && copied[d]) continue;
    if (x->dims[d].size >= 0) {
      if (__builtin_mul_overflow(p_in, x->dims[d].size, &p_in))
        return SINTER_NODE_ERROR("input shape overflows");
    } else {
      n_dyn++;
      dyn = x->dims[d];
    }
  }
  if (n_dyn == 0) {
    if (infer_at >= 0) {
      if (p_out == 0) return SINTER_NODE_ERROR("cannot infer the -1 dim when another dim is 0");
      if (p_in % p_out)
        return SINTER_NODE_ERROR("cannot reshape %lld elements: not a multiple of %lld",
                                 (long long)p_in, (long long)p_out);
      o->dims[infer_at] = dim_const(p_in / p_out);
    } else if (p_in != p_out) {
      return SINTER_NODE_ERROR("cannot reshape %lld elements into %lld", (long long)p_in,
                               (long long)p_out);
    }
  } else if (n_dyn == 1 && dyn.sym && infer_at >= 0 && p_in == p_out) {
    o->dims[infer_at] = dyn;
  }
  return NULL;
}

static sinter_status_t run_copy(sinter_kernel_ctx_t *ctx) {
  return copy_all(ctx->in[0], &ctx->out[0]);
}

/* ---- Flatten ------------------------------------------------------------- */

static sinter_status_t infer_flatten(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  int64_t axis = 1;
  SINTER_TRY(attr_int(ctx->node, "axis", 1, &axis));
  sinter_type_unknown_dims(o, x->dtype, 2);
  if (x->rank < 0) return NULL;
  if (axis < -(int64_t)x->rank || axis > x->rank)
    return SINTER_NODE_ERROR("axis %lld is out of range for rank %d", (long long)axis, x->rank);
  int32_t a = (int32_t)(axis < 0 ? axis + x->rank : axis);
  SINTER_TRY(dims_product(x->dims, 0, a, &o->dims[0]));
  SINTER_TRY(dims_product(x->dims, a, x->rank, &o->dims[1]));
  return NULL;
}

/* ---- Transpose ----------------------------------------------------------- */

static sinter_status_t transpose_perm(const sinter_node_t *node, int32_t rank, int32_t *perm,
                                      int32_t *out_rank) {
  int64_t count;
  const int64_t *p = sinter_node_attr_ints(node, "perm", &count);
  if (!p) {
    *out_rank = rank;
    for (int32_t i = 0; i < rank; i++) perm[i] = rank - 1 - i;
    return NULL;
  }
  if (rank >= 0 && count != rank)
    return SINTER_NODE_ERROR("perm has %lld entries for rank %d", (long long)count, rank);
  if (count > SINTER_MAX_RANK) return SINTER_NODE_ERROR("perm has %lld entries", (long long)count);
  bool seen[SINTER_MAX_RANK] = {false};
  for (int32_t i = 0; i < count; i++) {
    if (p[i] < 0 || p[i] >= count || seen[p[i]])
      return SINTER_NODE_ERROR("perm is not a permutation (entry %d is %lld)", i, (long long)p[i]);
    seen[p[i]] = true;
    perm[i] = (int32_t)p[i];
  }
  *out_rank = (int32_t)count;
  return NULL;
}

static sinter_status_t infer_transpose(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  int32_t perm[SINTER_MAX_RANK], rank;
  SINTER_TRY(transpose_perm(ctx->node, x->rank, perm, &rank));
  sinter_type_unknown_dims(o, x->dtype, rank);
  if (x->rank < 0) return NULL;
  for (int32_t i = 0; i < rank; i++) o->dims[i] = x->dims[perm[i]];
  return NULL;
}

static sinter_status_t run_transpose(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  int32_t perm[SINTER_MAX_RANK], rank;
  SINTER_TRY(transpose_perm(ctx->node, x->rank, perm, &rank));
  int64_t xs[SINTER_MAX_RANK], ss[SINTER_MAX_RANK], ds[SINTER_MAX_RANK];
  row_major_strides(x->rank, x->dims, xs);
  row_major_strides(o->rank, o->dims, ds);
  for (int32_t i = 0; i < rank; i++) ss[i] = xs[perm[i]];
  copy_view(o->data, 0, ds, x->data, 0, ss, rank, o->dims, bits);
  return NULL;
}

/* ---- Squeeze and Unsqueeze ----------------------------------------------- */

static sinter_status_t infer_squeeze(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  view_t a = infer_view(ctx, 1);
  int32_t r = x->rank;
  bool drop[SINTER_MAX_RANK] = {false};
  if (a.present) {
    if (a.rank > 1) return SINTER_NODE_ERROR("axes must be 1-D, got rank %d", a.rank);
    if (!a.known || r < 0) {
      int64_t left = r >= 0 && a.numel >= 0 ? r - a.numel : -1;
      if (r >= 0 && left < 0)
        return SINTER_NODE_ERROR("%lld axes for rank %d", (long long)a.numel, r);
      sinter_type_unknown_dims(o, x->dtype, (int32_t)left);
      return NULL;
    }
    int64_t axes[SINTER_MAX_RANK], n;
    SINTER_TRY(view_ints(&a, "axes", SINTER_MAX_RANK, axes, &n));
    for (int64_t i = 0; i < n; i++) {
      int32_t ax;
      SINTER_TRY(norm_axis(axes[i], r, "axis", &ax));
      if (drop[ax]) return SINTER_NODE_ERROR("axis %d appears twice", ax);
      if (x->dims[ax].size >= 0 && x->dims[ax].size != 1)
        return SINTER_NODE_ERROR("cannot squeeze axis %d of size %lld", ax,
                                 (long long)x->dims[ax].size);
      drop[ax] = true;
    }
  } else {
    if (r < 0) {
      sinter_type_unknown_dims(o, x->dtype, -1);
      return NULL;
    }
    for (int32_t d = 0; d < r; d++) {
      if (x->dims[d].size < 0) { /* may or may not be 1 */
        sinter_type_unknown_dims(o, x->dtype, -1);
        return NULL;
      }
      drop[d] = x->dims[d].size == 1;
    }
  }
  sinter_type_unknown_dims(o, x->dtype, 0);
  for (int32_t d = 0; d < r; d++)
    if (!drop[d]) o->dims[o->rank++] = x->dims[d];
  return NULL;
}

static sinter_status_t infer_unsqueeze(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  view_t a = infer_view(ctx, 1);
  if (a.rank > 1) return SINTER_NODE_ERROR("axes must be 1-D, got rank %d", a.rank);
  int32_t r = x->rank;
  int64_t out_rank = r >= 0 && a.numel >= 0 ? r + a.numel : -1;
  if (out_rank > SINTER_MAX_RANK)
    return SINTER_NODE_UNSUPPORTED("output rank %lld is above %d", (long long)out_rank,
                                   SINTER_MAX_RANK);
  if (!a.known || r < 0) {
    sinter_type_unknown_dims(o, x->dtype, (int32_t)out_rank);
    return NULL;
  }
  int64_t axes[SINTER_MAX_RANK], n;
  SINTER_TRY(view_ints(&a, "axes", SINTER_MAX_RANK, axes, &n));
  bool add[SINTER_MAX_RANK] = {false};
  for (int64_t i = 0; i < n; i++) {
    int32_t ax;
    SINTER_TRY(norm_axis(axes[i], (int32_t)out_rank, "axis", &ax));
    if (add[ax]) return SINTER_NODE_ERROR("axis %d appears twice", ax);
    add[ax] = true;
  }
  sinter_type_unknown_dims(o, x->dtype, (int32_t)out_rank);
  for (int32_t d = 0, k = 0; d < out_rank; d++) o->dims[d] = add[d] ? dim_const(1) : x->dims[k++];
  return NULL;
}

/* ---- Concat -------------------------------------------------------------- */

static sinter_status_t concat_axis(const sinter_node_t *node, int32_t rank, int32_t *out) {
  const sinter_attr_t *a = sinter_node_attr(node, "axis");
  if (!a || a->kind != SINTER_ATTR_INT) return SINTER_NODE_ERROR("attribute 'axis' is required");
  if (rank == 0) return SINTER_NODE_ERROR("cannot concatenate scalars");
  return norm_axis(a->i, rank, "axis", out);
}

static sinter_status_t infer_concat(sinter_infer_ctx_t *ctx) {
  sinter_type_t *o = &ctx->out[0];
  int32_t rank = -1;
  sinter_dtype_t dtype = SINTER_DTYPE_UNDEFINED;
  for (int32_t i = 0; i < ctx->n_inputs; i++) {
    const sinter_type_t *t = ctx->in[i];
    if (!t) return SINTER_NODE_ERROR("input %d is missing", i);
    if (t->dtype != SINTER_DTYPE_UNDEFINED) {
      if (dtype != SINTER_DTYPE_UNDEFINED && t->dtype != dtype)
        return SINTER_NODE_ERROR("input %d is %s, input 0 is %s", i, sinter_dtype_name(t->dtype),
                                 sinter_dtype_name(dtype));
      dtype = t->dtype;
    }
    if (t->rank < 0) continue;
    if (rank >= 0 && t->rank != rank)
      return SINTER_NODE_ERROR("input %d has rank %d, others have %d", i, t->rank, rank);
    rank = t->rank;
  }
  sinter_type_unknown_dims(o, dtype, rank);
  if (rank < 0) return NULL;
  int32_t axis;
  SINTER_TRY(concat_axis(ctx->node, rank, &axis));
  int64_t sum = 0;
  bool sum_known = true;
  for (int32_t d = 0; d < rank; d++) {
    bool first = true;
    for (int32_t i = 0; i < ctx->n_inputs; i++) {
      const sinter_type_t *t = ctx->in[i];
      if (t->rank < 0) {
        if (d == axis) sum_known = false;
        continue;
      }
      sinter_dim_t x = t->dims[d];
      if (d == axis) {
        if (x.size < 0)
          sum_known = false;
        else if (__builtin_add_overflow(sum, x.size, &sum))
          return SINTER_NODE_ERROR("concatenated axis overflows");
        continue;
      }
      sinter_dim_t *r = &o->dims[d];
      if (x.size >= 0) {
        if (r->size >= 0 && r->size != x.size)
          return SINTER_NODE_ERROR("dim %d is %lld in input %d but %lld before", d,
                                   (long long)x.size, i, (long long)r->size);
        *r = x;
      } else if (r->size < 0 && first) {
        *r = x;
      } else if (r->size < 0 && r->sym != x.sym) {
        r->sym = NULL; /* two different symbols: keep it unknown */
      }
      first = false;
    }
  }
  o->dims[axis] = sum_known ? dim_const(sum) : dim_unknown();
  return check_out_size(o);
}

static sinter_status_t run_concat(sinter_kernel_ctx_t *ctx) {
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(o->dtype, &bits));
  int32_t axis;
  SINTER_TRY(concat_axis(ctx->node, o->rank, &axis));
  int64_t outer = prod(o->dims, 0, axis), inner = prod(o->dims, axis + 1, o->rank);
  int64_t total = o->dims[axis], off = 0;
  for (int32_t i = 0; i < ctx->n_inputs; i++) {
    const sinter_tensor_t *t = ctx->in[i];
    int64_t a = t->dims[axis];
    int64_t dims[2] = {outer, a * inner}, ss[2] = {a * inner, 1}, ds[2] = {total * inner, 1};
    copy_view(o->data, off * inner, ds, t->data, 0, ss, 2, dims, bits);
    off += a;
  }
  return NULL;
}

/* ---- Split --------------------------------------------------------------- */

static sinter_status_t infer_split(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  int32_t n = ctx->n_outputs;
  int64_t axis_attr = 0;
  SINTER_TRY(attr_int(ctx->node, "axis", 0, &axis_attr));
  for (int32_t k = 0; k < n; k++) ctx->out[k] = *x;
  if (x->rank < 0) return NULL;
  int32_t axis;
  SINTER_TRY(norm_axis(axis_attr, x->rank, "axis", &axis));
  sinter_dim_t dim = x->dims[axis];
  sinter_dim_t parts[64];
  if (n > 64) return SINTER_NODE_UNSUPPORTED("more than 64 outputs");
  view_t s = infer_view(ctx, 1);
  const sinter_attr_t *num = sinter_node_attr(ctx->node, "num_outputs");
  if (s.present && s.numel != 0) {
    if (s.rank > 1) return SINTER_NODE_ERROR("split must be 1-D, got rank %d", s.rank);
    if (s.numel >= 0 && s.numel != n)
      return SINTER_NODE_ERROR("split has %lld entries for %d outputs", (long long)s.numel, n);
    if (!s.known) {
      for (int32_t k = 0; k < n; k++) parts[k] = dim_unknown();
    } else {
      int64_t sizes[64], cnt, sum = 0;
      SINTER_TRY(view_ints(&s, "split", 64, sizes, &cnt));
      for (int32_t k = 0; k < n; k++) {
        if (sizes[k] < 0) return SINTER_NODE_ERROR("split[%d] is %lld", k, (long long)sizes[k]);
        if (__builtin_add_overflow(sum, sizes[k], &sum))
          return SINTER_NODE_ERROR("split overflows");
        parts[k] = dim_const(sizes[k]);
      }
      if (dim.size >= 0 && sum != dim.size)
        return SINTER_NODE_ERROR("split sums to %lld but the axis has %lld", (long long)sum,
                                 (long long)dim.size);
    }
  } else if (num) {
    if (num->kind != SINTER_ATTR_INT || num->i != n)
      return SINTER_NODE_ERROR("num_outputs does not match the %d outputs", n);
    if (dim.size < 0) {
      for (int32_t k = 0; k < n; k++) parts[k] = n == 1 ? dim : dim_unknown();
    } else {
      /* Uneven splits give every chunk ceil(dim / n) and the last one what is left. */
      int64_t chunk = dim.size / n + (dim.size % n != 0);
      int64_t last = dim.size - chunk * (n - 1);
      if (last < 0)
        return SINTER_NODE_ERROR("cannot split %lld into %d chunks", (long long)dim.size, n);
      for (int32_t k = 0; k < n; k++) parts[k] = dim_const(k == n - 1 ? last : chunk);
    }
  } else {
    if (dim.size >= 0 && dim.size % n)
      return SINTER_NODE_ERROR("axis of size %lld does not split into %d equal parts",
                               (long long)dim.size, n);
    for (int32_t k = 0; k < n; k++)
      parts[k] = dim.size >= 0 ? dim_const(dim.size / n) : n == 1 ? dim : dim_unknown();
  }
  for (int32_t k = 0; k < n; k++) ctx->out[k].dims[axis] = parts[k];
  return NULL;
}

static sinter_status_t run_split(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  int64_t axis_attr = 0;
  SINTER_TRY(attr_int(ctx->node, "axis", 0, &axis_attr));
  int32_t axis;
  SINTER_TRY(norm_axis(axis_attr, x->rank, "axis", &axis));
  int64_t outer = prod(x->dims, 0, axis), inner = prod(x->dims, axis + 1, x->rank);
  int64_t total = x->dims[axis], off = 0;
  for (int32_t k = 0; k < ctx->n_outputs; k++) {
    sinter_tensor_t *o = &ctx->out[k];
    int64_t a = o->dims[axis];
    if (off + a > total) return SINTER_NODE_ERROR("split parts exceed the axis");
    int64_t dims[2] = {outer, a * inner}, ss[2] = {total * inner, 1}, ds[2] = {a * inner, 1};
    copy_view(o->data, 0, ds, x->data, off * inner, ss, 2, dims, bits);
    off += a;
  }
  return NULL;
}

/* ---- Slice --------------------------------------------------------------- */

/* Resolved Slice parameters per axis. len is -1 when unknown; keep marks an unknown-size axis
 * that the slice provably keeps whole. */
typedef struct slice_plan_s {
  int64_t start[SINTER_MAX_RANK], step[SINTER_MAX_RANK], len[SINTER_MAX_RANK];
  bool keep[SINTER_MAX_RANK];
} slice_plan_t;

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* in_dims[d] < 0: unknown. */
static sinter_status_t slice_plan(int32_t rank, const int64_t *in_dims, const int64_t *starts,
                                  const int64_t *ends, const int64_t *axes, const int64_t *steps,
                                  int64_t n, slice_plan_t *p) {
  bool seen[SINTER_MAX_RANK] = {false};
  for (int32_t d = 0; d < rank; d++) {
    p->start[d] = 0;
    p->step[d] = 1;
    p->len[d] = in_dims[d];
    p->keep[d] = in_dims[d] < 0;
  }
  for (int64_t i = 0; i < n; i++) {
    int32_t a;
    SINTER_TRY(norm_axis(axes ? axes[i] : i, rank, "axis", &a));
    if (seen[a]) return SINTER_NODE_ERROR("axis %d appears twice", a);
    seen[a] = true;
    int64_t step = steps ? steps[i] : 1, s = starts[i], e = ends[i], dim = in_dims[a];
    if (step == 0) return SINTER_NODE_ERROR("step for axis %d is 0", a);
    p->step[a] = step;
    if (dim < 0) {
      /* Exporters write "to the end" as INT64_MAX or INT32_MAX. */
      p->keep[a] = step == 1 && s == 0 && (e == INT64_MAX || e == INT32_MAX);
      p->len[a] = -1;
      continue;
    }
    p->keep[a] = false;
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    int64_t len;
    if (dim == 0) {
      s = 0;
      len = 0;
    } else if (step > 0) {
      s = clamp64(s, 0, dim);
      e = clamp64(e, 0, dim);
      len = e > s ? (e - s) / step + ((e - s) % step != 0) : 0;
    } else {
      s = clamp64(s, 0, dim - 1);
      e = clamp64(e, -1, dim - 1);
      int64_t neg = step == INT64_MIN ? INT64_MAX : -step;
      len = s > e ? (s - e) / neg + ((s - e) % neg != 0) : 0;
    }
    p->start[a] = s;
    p->len[a] = len;
    /* With at most one element the step is never applied; an extreme step times the axis
     * stride could overflow. */
    if (len <= 1) p->step[a] = 1;
  }
  return NULL;
}

/* Reads Slice's starts/ends/axes/steps; all must be known. */
static sinter_status_t slice_read(view_t *v, int64_t (*vals)[SINTER_MAX_RANK], int64_t *out_n,
                                  bool *has_axes, bool *has_steps) {
  static const char *const names[4] = {"starts", "ends", "axes", "steps"};
  int64_t n = -1;
  for (int i = 0; i < 4; i++) {
    if (!v[i].present) continue;
    if (v[i].rank != 1) return SINTER_NODE_ERROR("%s must be 1-D", names[i]);
    int64_t cnt;
    SINTER_TRY(view_ints(&v[i], names[i], SINTER_MAX_RANK, vals[i], &cnt));
    if (n >= 0 && cnt != n)
      return SINTER_NODE_ERROR("%s has %lld entries, starts has %lld", names[i], (long long)cnt,
                               (long long)n);
    n = cnt;
  }
  *out_n = n;
  *has_axes = v[2].present;
  *has_steps = v[3].present;
  return NULL;
}

static sinter_status_t infer_slice(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  int32_t r = x->rank;
  *o = *x;
  if (r < 0) return NULL;
  view_t v[4];
  bool all_known = true;
  for (int i = 0; i < 4; i++) {
    v[i] = infer_view(ctx, i + 1);
    if (v[i].present && !v[i].known) all_known = false;
  }
  if (!all_known) {
    /* With known axes only those dims become unknown; otherwise any could. */
    int64_t axes[SINTER_MAX_RANK], n = -1;
    if (v[2].present && v[2].known) {
      SINTER_TRY(view_ints(&v[2], "axes", SINTER_MAX_RANK, axes, &n));
    } else if (!v[2].present && v[0].numel >= 0 && v[0].numel <= r) {
      n = v[0].numel;
      for (int64_t i = 0; i < n; i++) axes[i] = i;
    }
    if (n < 0) {
      sinter_type_unknown_dims(o, x->dtype, r);
      return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
      int32_t a;
      SINTER_TRY(norm_axis(axes[i], r, "axis", &a));
      o->dims[a] = dim_unknown();
    }
    return NULL;
  }
  int64_t vals[4][SINTER_MAX_RANK], n, in_dims[SINTER_MAX_RANK];
  bool has_axes, has_steps;
  SINTER_TRY(slice_read(v, vals, &n, &has_axes, &has_steps));
  for (int32_t d = 0; d < r; d++) in_dims[d] = x->dims[d].size;
  slice_plan_t p;
  SINTER_TRY(slice_plan(r, in_dims, vals[0], vals[1], has_axes ? vals[2] : NULL,
                        has_steps ? vals[3] : NULL, n, &p));
  for (int32_t d = 0; d < r; d++)
    o->dims[d] = p.keep[d] ? x->dims[d] : p.len[d] >= 0 ? dim_const(p.len[d]) : dim_unknown();
  return NULL;
}

static sinter_status_t run_slice(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  view_t v[4];
  for (int i = 0; i < 4; i++) v[i] = kernel_view(ctx, i + 1);
  int64_t vals[4][SINTER_MAX_RANK], n;
  bool has_axes, has_steps;
  SINTER_TRY(slice_read(v, vals, &n, &has_axes, &has_steps));
  slice_plan_t p;
  SINTER_TRY(slice_plan(x->rank, x->dims, vals[0], vals[1], has_axes ? vals[2] : NULL,
                        has_steps ? vals[3] : NULL, n, &p));
  int64_t xs[SINTER_MAX_RANK], ss[SINTER_MAX_RANK], ds[SINTER_MAX_RANK], off = 0;
  row_major_strides(x->rank, x->dims, xs);
  row_major_strides(o->rank, o->dims, ds);
  for (int32_t d = 0; d < x->rank; d++) {
    if (p.len[d] != o->dims[d]) return SINTER_ERROR(SINTER_INTERNAL, "slice shape mismatch");
    off += p.start[d] * xs[d];
    ss[d] = p.step[d] * xs[d];
  }
  copy_view(o->data, 0, ds, x->data, off, ss, x->rank, o->dims, bits);
  return NULL;
}

/* ---- Expand and Tile ----------------------------------------------------- */

static sinter_status_t infer_expand(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  view_t s = infer_view(ctx, 1);
  if (s.rank >= 0 && s.rank != 1)
    return SINTER_NODE_ERROR("shape must be 1-D, got rank %d", s.rank);
  if (s.numel > SINTER_MAX_RANK)
    return SINTER_NODE_UNSUPPORTED("output rank %lld is above %d", (long long)s.numel,
                                   SINTER_MAX_RANK);
  if (!s.known) {
    if (x->rank < 0 || s.numel < 0) {
      sinter_type_unknown_dims(o, x->dtype, -1);
      return NULL;
    }
    int32_t r = x->rank > s.numel ? x->rank : (int32_t)s.numel;
    sinter_type_unknown_dims(o, x->dtype, r);
    /* A dim above 1 in the input can only broadcast against 1 or itself. */
    for (int32_t d = 0; d < x->rank; d++)
      if (x->dims[d].size > 1) o->dims[r - x->rank + d] = x->dims[d];
    return NULL;
  }
  int64_t shape[SINTER_MAX_RANK], n;
  SINTER_TRY(view_ints(&s, "shape", SINTER_MAX_RANK, shape, &n));
  sinter_type_t st;
  sinter_type_unknown_dims(&st, x->dtype, (int32_t)n);
  for (int32_t i = 0; i < n; i++) {
    if (shape[i] < 0) return SINTER_NODE_ERROR("shape[%d] is %lld", i, (long long)shape[i]);
    st.dims[i] = dim_const(shape[i]);
  }
  const sinter_type_t *both[2] = {x, &st};
  SINTER_TRY(sinter_broadcast_types(both, 2, o));
  o->dtype = x->dtype;
  return check_out_size(o);
}

static sinter_status_t run_expand(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  if (x->rank > o->rank) return SINTER_ERROR(SINTER_INTERNAL, "expand rank mismatch");
  int64_t ss[SINTER_MAX_RANK], ds[SINTER_MAX_RANK];
  sinter_broadcast_strides(x, o->rank, o->dims, ss);
  row_major_strides(o->rank, o->dims, ds);
  copy_view(o->data, 0, ds, x->data, 0, ss, o->rank, o->dims, bits);
  return NULL;
}

static sinter_status_t infer_tile(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  view_t rep = infer_view(ctx, 1);
  if (rep.rank >= 0 && rep.rank != 1)
    return SINTER_NODE_ERROR("repeats must be 1-D, got rank %d", rep.rank);
  int32_t r = x->rank;
  if (r < 0 && rep.numel >= 0 && rep.numel <= SINTER_MAX_RANK) r = (int32_t)rep.numel;
  if (r >= 0 && rep.numel >= 0 && rep.numel != r)
    return SINTER_NODE_ERROR("repeats has %lld entries for rank %d", (long long)rep.numel, r);
  sinter_type_unknown_dims(o, x->dtype, r);
  if (x->rank < 0) return NULL;
  if (!rep.known) {
    for (int32_t d = 0; d < r; d++)
      if (x->dims[d].size == 0) o->dims[d] = dim_const(0);
    return NULL;
  }
  int64_t reps[SINTER_MAX_RANK], n;
  SINTER_TRY(view_ints(&rep, "repeats", SINTER_MAX_RANK, reps, &n));
  for (int32_t d = 0; d < r; d++) {
    if (reps[d] < 0) return SINTER_NODE_ERROR("repeats[%d] is %lld", d, (long long)reps[d]);
    sinter_dim_t xd = x->dims[d];
    if (reps[d] == 1) {
      o->dims[d] = xd;
    } else if (reps[d] == 0 || xd.size == 0) {
      o->dims[d] = dim_const(0);
    } else if (xd.size > 0) {
      int64_t v;
      if (__builtin_mul_overflow(xd.size, reps[d], &v))
        return SINTER_NODE_ERROR("output shape is too large");
      o->dims[d] = dim_const(v);
    }
  }
  return check_out_size(o);
}

static sinter_status_t run_tile(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  /* Output axis d is [repeat, x dim] in row-major order: a broadcast view of rank 2r. */
  int64_t xs[SINTER_MAX_RANK], dims[VIEW_MAX], ss[VIEW_MAX], ds[VIEW_MAX];
  row_major_strides(x->rank, x->dims, xs);
  for (int32_t d = 0; d < x->rank; d++) {
    if (x->dims[d] == 0 && o->dims[d] != 0) return SINTER_ERROR(SINTER_INTERNAL, "tile mismatch");
    dims[2 * d] = x->dims[d] ? o->dims[d] / x->dims[d] : 0;
    dims[2 * d + 1] = x->dims[d];
    ss[2 * d] = 0;
    ss[2 * d + 1] = xs[d];
  }
  row_major_strides(2 * x->rank, dims, ds);
  copy_view(o->data, 0, ds, x->data, 0, ss, 2 * x->rank, dims, bits);
  return NULL;
}

/* ---- Pad ----------------------------------------------------------------- */

typedef enum pad_mode_e { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode_t;

static sinter_status_t pad_mode(const sinter_node_t *node, pad_mode_t *out) {
  const char *m = sinter_node_attr_string(node, "mode", "constant");
  if (strcmp(m, "constant") == 0)
    *out = PAD_CONSTANT;
  else if (strcmp(m, "reflect") == 0)
    *out = PAD_REFLECT;
  else if (strcmp(m, "edge") == 0)
    *out = PAD_EDGE;
  else if (strcmp(m, "wrap") == 0)
    *out = PAD_WRAP;
  else
    return SINTER_NODE_ERROR("unknown pad mode '%s'", m);
  return NULL;
}

/* Per-axis pads (begin, end) from the pads and optional axes inputs, both known. */
static sinter_status_t pad_amounts(const view_t *pv, const view_t *av, int32_t rank, int64_t *begin,
                                   int64_t *end) {
  int64_t axes[SINTER_MAX_RANK], pads[2 * SINTER_MAX_RANK], na, np;
  if (pv->rank != 1) return SINTER_NODE_ERROR("pads must be 1-D");
  if (av->present) {
    if (av->rank != 1) return SINTER_NODE_ERROR("axes must be 1-D");
    SINTER_TRY(view_ints(av, "axes", SINTER_MAX_RANK, axes, &na));
  } else {
    na = rank;
    for (int32_t d = 0; d < rank; d++) axes[d] = d;
  }
  SINTER_TRY(view_ints(pv, "pads", 2 * SINTER_MAX_RANK, pads, &np));
  if (np != 2 * na)
    return SINTER_NODE_ERROR("pads has %lld entries, expected %lld", (long long)np,
                             (long long)(2 * na));
  bool seen[SINTER_MAX_RANK] = {false};
  for (int32_t d = 0; d < rank; d++) begin[d] = end[d] = 0;
  for (int64_t i = 0; i < na; i++) {
    int32_t a;
    SINTER_TRY(norm_axis(axes[i], rank, "axis", &a));
    if (seen[a]) return SINTER_NODE_ERROR("axis %d appears twice", a);
    seen[a] = true;
    begin[a] = pads[i];
    end[a] = pads[na + i];
  }
  return NULL;
}

/* Output size of one padded axis; fails when it would be negative or overflow. */
static sinter_status_t pad_len(int64_t dim, int64_t b, int64_t e, int32_t axis, int64_t *out) {
  int64_t v;
  if (__builtin_add_overflow(dim, b, &v) || __builtin_add_overflow(v, e, &v))
    return SINTER_NODE_ERROR("pads for axis %d overflow", axis);
  if (v < 0)
    return SINTER_NODE_ERROR("pads for axis %d remove more than its %lld elements", axis,
                             (long long)dim);
  *out = v;
  return NULL;
}

static sinter_status_t infer_pad(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  pad_mode_t mode;
  SINTER_TRY(pad_mode(ctx->node, &mode));
  view_t pv = infer_view(ctx, 1), av = infer_view(ctx, 3);
  int32_t r = x->rank;
  sinter_type_unknown_dims(o, x->dtype, r);
  if (r < 0) return NULL;
  if (!pv.known || (av.present && !av.known)) {
    if (av.present && av.known) { /* only the listed axes change */
      int64_t axes[SINTER_MAX_RANK], n;
      *o = *x;
      SINTER_TRY(view_ints(&av, "axes", SINTER_MAX_RANK, axes, &n));
      for (int64_t i = 0; i < n; i++) {
        int32_t a;
        SINTER_TRY(norm_axis(axes[i], r, "axis", &a));
        o->dims[a] = dim_unknown();
      }
    }
    return NULL;
  }
  int64_t b[SINTER_MAX_RANK], e[SINTER_MAX_RANK];
  SINTER_TRY(pad_amounts(&pv, &av, r, b, e));
  for (int32_t d = 0; d < r; d++) {
    if (b[d] == 0 && e[d] == 0) {
      o->dims[d] = x->dims[d];
    } else if (x->dims[d].size >= 0) {
      int64_t len = 0;
      SINTER_TRY(pad_len(x->dims[d].size, b[d], e[d], d, &len));
      o->dims[d] = dim_const(len);
    }
  }
  return check_out_size(o);
}

/* Source index along one axis for padded position i (already shifted by the begin pad), or -1
 * for the constant. Reflect and wrap repeat periodically, as numpy.pad does for wide pads. */
static int64_t pad_source(pad_mode_t mode, int64_t i, int64_t dim) {
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case PAD_CONSTANT: return -1;
    case PAD_EDGE: return i < 0 ? 0 : dim - 1;
    case PAD_WRAP: return ((i % dim) + dim) % dim;
    case PAD_REFLECT: {
      if (dim == 1) return 0;
      int64_t period = 2 * (dim - 1);
      int64_t m = ((i % period) + period) % period;
      return m < dim ? m : period - m;
    }
  }
  return -1;
}

static sinter_status_t run_pad(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  pad_mode_t mode;
  SINTER_TRY(pad_mode(ctx->node, &mode));
  view_t pv = kernel_view(ctx, 1), cv = kernel_view(ctx, 2), av = kernel_view(ctx, 3);
  int32_t r = x->rank;
  int64_t b[SINTER_MAX_RANK], e[SINTER_MAX_RANK];
  SINTER_TRY(pad_amounts(&pv, &av, r, b, e));
  int64_t total = sinter_tensor_numel(o);
  if (total == 0) return NULL;
  for (int32_t d = 0; d < r; d++)
    if (x->dims[d] == 0 && o->dims[d] > 0 && mode != PAD_CONSTANT)
      return SINTER_NODE_ERROR("cannot pad the empty axis %d in this mode", d);
  /* The constant as one element of the output type (zero is already there). */
  uint8_t cbuf[8] = {0};
  bool have_const = false;
  if (mode == PAD_CONSTANT && cv.present && cv.numel > 0 && cv.known) {
    if (cv.dtype == x->dtype) {
      move_elem(cbuf, 0, cv.data, 0, bits);
    } else if (sinter_dtype_is_float(x->dtype)) {
      sinter_store_f64(cbuf, x->dtype, 0, sinter_load_f64(cv.data, cv.dtype, 0));
    } else {
      sinter_store_i64(cbuf, x->dtype, 0, sinter_load_i64(cv.data, cv.dtype, 0));
    }
    for (int k = 0; k < 8; k++) have_const |= cbuf[k] != 0;
  }
  /* Source index of every output position, per axis. */
  int64_t sum = 0;
  for (int32_t d = 0; d < r; d++) sum += o->dims[d];
  int64_t *maps = malloc(sizeof(int64_t) * (size_t)(sum ? sum : 1));
  if (!maps) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  int64_t *map[SINTER_MAX_RANK], xs[SINTER_MAX_RANK];
  row_major_strides(r, x->dims, xs);
  int64_t *m = maps;
  for (int32_t d = 0; d < r; d++) {
    map[d] = m;
    for (int64_t i = 0; i < o->dims[d]; i++) {
      int64_t s = pad_source(mode, i - b[d], x->dims[d]);
      m[i] = s < 0 ? -1 : s * xs[d];
    }
    m += o->dims[d];
  }
  if (r == 0) {
    move_elem(o->data, 0, x->data, 0, bits);
    free(maps);
    return NULL;
  }
  /* Walk output rows (all axes but the last); a row whose outer index hits the constant is
   * constant throughout. */
  int64_t idx[SINTER_MAX_RANK] = {0}, inner = o->dims[r - 1];
  int64_t rows = total / inner, pos = 0;
  for (int64_t row = 0; row < rows; row++) {
    int64_t base = 0;
    bool pad_row = false;
    for (int32_t d = 0; d < r - 1; d++) {
      int64_t s = map[d][idx[d]];
      if (s < 0)
        pad_row = true;
      else
        base += s;
    }
    for (int64_t i = 0; i < inner; i++, pos++) {
      int64_t s = map[r - 1][i];
      if (pad_row || s < 0) {
        if (have_const) move_elem(o->data, pos, cbuf, 0, bits);
      } else {
        move_elem(o->data, pos, x->data, base + s, bits);
      }
    }
    for (int32_t d = r - 2; d >= 0; d--) {
      if (++idx[d] < o->dims[d]) break;
      idx[d] = 0;
    }
  }
  free(maps);
  return NULL;
}

/* ---- Shape and Size ------------------------------------------------------ */

static void shape_range(const sinter_node_t *node, int32_t rank, int64_t *start, int64_t *end) {
  int64_t s = sinter_node_attr_int(node, "start", 0);
  int64_t e = sinter_node_attr_int(node, "end", rank);
  if (s < 0) s += rank;
  if (e < 0) e += rank;
  *start = clamp64(s, 0, rank);
  *end = clamp64(e, 0, rank);
}

static sinter_status_t infer_shape(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  sinter_type_unknown_dims(o, SINTER_DTYPE_I64, 1);
  if (x->rank < 0) return NULL;
  int64_t s, e;
  shape_range(ctx->node, x->rank, &s, &e);
  o->dims[0] = dim_const(e > s ? e - s : 0);
  return NULL;
}

static sinter_status_t run_shape(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  int64_t s, e;
  shape_range(ctx->node, x->rank, &s, &e);
  int64_t *out = ctx->out[0].data;
  for (int64_t i = s; i < e; i++) out[i - s] = x->dims[i];
  return NULL;
}

static sinter_status_t infer_size(sinter_infer_ctx_t *ctx) {
  sinter_type_unknown_dims(&ctx->out[0], SINTER_DTYPE_I64, 0);
  return NULL;
}

static sinter_status_t run_size(sinter_kernel_ctx_t *ctx) {
  int64_t n = sinter_tensor_numel(ctx->in[0]);
  if (n < 0) return SINTER_NODE_ERROR("input size overflows");
  *(int64_t *)ctx->out[0].data = n;
  return NULL;
}

/* ---- ConstantOfShape, Range, EyeLike ------------------------------------- */

/* The fill value: the 'value' tensor attribute (one element) or f32 zero. */
static sinter_status_t const_value(const sinter_node_t *node, const sinter_tensor_t **out) {
  *out = NULL;
  const sinter_attr_t *a = sinter_node_attr(node, "value");
  if (!a) return NULL;
  if (a->kind != SINTER_ATTR_TENSOR || a->count != 1 || !a->tensors)
    return SINTER_NODE_ERROR("attribute 'value' must be a tensor");
  const sinter_tensor_t *t = &a->tensors[0];
  int64_t n = sinter_tensor_numel(t);
  size_t need;
  if (n != 1 || !sinter_dtype_storage_size(t->dtype, 1, &need) || t->nbytes < need)
    return SINTER_NODE_ERROR("attribute 'value' must hold exactly one element");
  *out = t;
  return NULL;
}

static sinter_status_t infer_constant_of_shape(sinter_infer_ctx_t *ctx) {
  sinter_type_t *o = &ctx->out[0];
  const sinter_tensor_t *val;
  SINTER_TRY(const_value(ctx->node, &val));
  sinter_dtype_t dtype = val ? val->dtype : SINTER_DTYPE_F32;
  int bits;
  SINTER_TRY(elem_bits(dtype, &bits));
  view_t s = infer_view(ctx, 0);
  if (s.rank >= 0 && s.rank != 1)
    return SINTER_NODE_ERROR("shape must be 1-D, got rank %d", s.rank);
  if (s.numel > SINTER_MAX_RANK)
    return SINTER_NODE_UNSUPPORTED("output rank %lld is above %d", (long long)s.numel,
                                   SINTER_MAX_RANK);
  sinter_type_unknown_dims(o, dtype, s.numel >= 0 ? (int32_t)s.numel : -1);
  if (!s.known) return NULL;
  int64_t dims[SINTER_MAX_RANK], n;
  SINTER_TRY(view_ints(&s, "shape", SINTER_MAX_RANK, dims, &n));
  for (int32_t i = 0; i < n; i++) {
    if (dims[i] < 0) return SINTER_NODE_ERROR("shape[%d] is %lld", i, (long long)dims[i]);
    o->dims[i] = dim_const(dims[i]);
  }
  return check_out_size(o);
}

static sinter_status_t run_constant_of_shape(sinter_kernel_ctx_t *ctx) {
  sinter_tensor_t *o = &ctx->out[0];
  const sinter_tensor_t *val;
  SINTER_TRY(const_value(ctx->node, &val));
  if (!val) return NULL; /* f32 zero: the buffer is zeroed */
  int bits;
  SINTER_TRY(elem_bits(o->dtype, &bits));
  int64_t n = sinter_tensor_numel(o);
  for (int64_t i = 0; i < n; i++) move_elem(o->data, i, val->data, 0, bits);
  return NULL;
}

/* Number of Range elements: max(ceil((limit - start) / delta), 0). */
static sinter_status_t range_count(sinter_dtype_t dtype, const void *s, const void *l,
                                   const void *d, int64_t *out) {
  if (sinter_dtype_is_float(dtype)) {
    double start = sinter_load_f64(s, dtype, 0), limit = sinter_load_f64(l, dtype, 0);
    double delta = sinter_load_f64(d, dtype, 0);
    if (delta == 0) return SINTER_NODE_ERROR("delta is 0");
    double n = ceil((limit - start) / delta);
    if (isnan(n)) return SINTER_NODE_ERROR("range bounds are not finite");
    if (n > 1e15) return SINTER_NODE_ERROR("range has too many elements");
    *out = n > 0 ? (int64_t)n : 0;
    return NULL;
  }
  if (!sinter_dtype_is_int(dtype))
    return SINTER_NODE_ERROR("Range does not take %s", sinter_dtype_name(dtype));
  __int128 start = sinter_load_i64(s, dtype, 0), limit = sinter_load_i64(l, dtype, 0);
  __int128 delta = sinter_load_i64(d, dtype, 0);
  if (delta == 0) return SINTER_NODE_ERROR("delta is 0");
  __int128 span = limit - start;
  __int128 n = span / delta + ((span % delta != 0) && ((span > 0) == (delta > 0)));
  if (n > (__int128)1 << 50) return SINTER_NODE_ERROR("range has too many elements");
  *out = n > 0 ? (int64_t)n : 0;
  return NULL;
}

static sinter_status_t range_check_types(const sinter_type_t *const *in) {
  for (int i = 0; i < 3; i++) {
    if (in[i]->dtype != in[0]->dtype)
      return SINTER_NODE_ERROR("start, limit and delta must have one type");
    if (in[i]->rank > 1) return SINTER_NODE_ERROR("input %d must be a scalar", i);
  }
  return NULL;
}

static sinter_status_t infer_range(sinter_infer_ctx_t *ctx) {
  sinter_type_t *o = &ctx->out[0];
  SINTER_TRY(range_check_types(ctx->in));
  sinter_type_unknown_dims(o, ctx->in[0]->dtype, 1);
  view_t v[3];
  for (int i = 0; i < 3; i++) {
    v[i] = infer_view(ctx, i);
    if (v[i].numel >= 0 && v[i].numel != 1)
      return SINTER_NODE_ERROR("input %d must hold one element", i);
    if (!v[i].known) return NULL;
  }
  int64_t n = 0;
  SINTER_TRY(range_count(v[0].dtype, v[0].data, v[1].data, v[2].data, &n));
  o->dims[0] = dim_const(n);
  return check_out_size(o);
}

static sinter_status_t run_range(sinter_kernel_ctx_t *ctx) {
  sinter_tensor_t *o = &ctx->out[0];
  sinter_dtype_t dt = o->dtype;
  for (int i = 0; i < 3; i++)
    if (sinter_tensor_numel(ctx->in[i]) != 1)
      return SINTER_NODE_ERROR("input %d must hold one element", i);
  const void *s = ctx->in[0]->data, *d = ctx->in[2]->data;
  int64_t n = o->dims[0];
  if (sinter_dtype_is_float(dt)) {
    double start = sinter_load_f64(s, dt, 0), delta = sinter_load_f64(d, dt, 0);
    for (int64_t i = 0; i < n; i++) sinter_store_f64(o->data, dt, i, start + (double)i * delta);
  } else {
    uint64_t start = (uint64_t)sinter_load_i64(s, dt, 0),
             delta = (uint64_t)sinter_load_i64(d, dt, 0);
    for (int64_t i = 0; i < n; i++)
      sinter_store_i64(o->data, dt, i, (int64_t)(start + (uint64_t)i * delta));
  }
  return NULL;
}

static sinter_status_t eye_dtype(const sinter_node_t *node, sinter_dtype_t in,
                                 sinter_dtype_t *out) {
  const sinter_attr_t *a = sinter_node_attr(node, "dtype");
  *out = in;
  if (!a) return NULL;
  if (a->kind != SINTER_ATTR_INT) return SINTER_NODE_ERROR("attribute 'dtype' must be an int");
  *out = sinter_dtype_from_onnx(a->i);
  if (*out == SINTER_DTYPE_UNDEFINED)
    return SINTER_NODE_UNSUPPORTED("unsupported dtype %lld", (long long)a->i);
  return NULL;
}

static sinter_status_t infer_eye_like(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  if (x->rank >= 0 && x->rank != 2)
    return SINTER_NODE_ERROR("input must be 2-D, got rank %d", x->rank);
  sinter_dtype_t dt;
  SINTER_TRY(eye_dtype(ctx->node, x->dtype, &dt));
  *o = *x;
  if (o->rank < 0) o->rank = 2, o->dims[0] = o->dims[1] = dim_unknown();
  o->dtype = dt;
  return NULL;
}

static sinter_status_t run_eye_like(sinter_kernel_ctx_t *ctx) {
  sinter_tensor_t *o = &ctx->out[0];
  int64_t k = sinter_node_attr_int(ctx->node, "k", 0);
  int64_t rows = o->dims[0], cols = o->dims[1];
  for (int64_t i = 0; i < rows; i++) {
    if (k > cols || k < -rows) break; /* no diagonal at all; avoids overflow below */
    int64_t j = i + k;
    if (j >= 0 && j < cols) sinter_store_i64(o->data, o->dtype, i * cols + j, 1);
  }
  return NULL;
}

/* ---- Identity and Dropout ------------------------------------------------ */

static sinter_status_t infer_identity(sinter_infer_ctx_t *ctx) {
  ctx->out[0] = *ctx->in[0];
  return NULL;
}

/* Fails when Dropout would really drop: training mode with a nonzero ratio. *decided is false
 * when training_mode's value is not known yet. */
static sinter_status_t dropout_check(const view_t *ratio, const view_t *training, bool *decided) {
  *decided = true;
  if (!training->present) return NULL;
  if (!training->known) {
    *decided = false;
    return NULL;
  }
  if (training->numel != 1) return SINTER_NODE_ERROR("training_mode must hold one element");
  if (!sinter_load_i64(training->data, training->dtype, 0)) return NULL;
  double r = 0.5;
  if (ratio->present) {
    if (!ratio->known) {
      *decided = false;
      return NULL;
    }
    SINTER_TRY(view_scalar(ratio, "ratio", &r));
  }
  if (r != 0)
    return SINTER_NODE_UNSUPPORTED("Dropout in training mode (ratio %g) is not supported", r);
  return NULL;
}

static sinter_status_t infer_dropout(sinter_infer_ctx_t *ctx) {
  view_t ratio = infer_view(ctx, 1), training = infer_view(ctx, 2);
  bool decided;
  SINTER_TRY(dropout_check(&ratio, &training, &decided));
  ctx->out[0] = *ctx->in[0];
  if (ctx->n_outputs > 1) {
    ctx->out[1] = *ctx->in[0];
    ctx->out[1].dtype = SINTER_DTYPE_BOOL;
  }
  return NULL;
}

static sinter_status_t run_dropout(sinter_kernel_ctx_t *ctx) {
  view_t ratio = kernel_view(ctx, 1), training = kernel_view(ctx, 2);
  bool decided;
  SINTER_TRY(dropout_check(&ratio, &training, &decided));
  SINTER_TRY(copy_all(ctx->in[0], &ctx->out[0]));
  if (ctx->n_outputs > 1 && ctx->out[1].nbytes) memset(ctx->out[1].data, 1, ctx->out[1].nbytes);
  return NULL;
}

/* ---- DepthToSpace and SpaceToDepth --------------------------------------- */

static sinter_status_t block_size(const sinter_node_t *node, int64_t *out) {
  const sinter_attr_t *a = sinter_node_attr(node, "blocksize");
  if (!a || a->kind != SINTER_ATTR_INT || a->i <= 0 || a->i > (1 << 20))
    return SINTER_NODE_ERROR("attribute 'blocksize' must be a positive int");
  *out = a->i;
  return NULL;
}

static sinter_status_t depth_mode(const sinter_node_t *node, bool *crd) {
  const char *m = sinter_node_attr_string(node, "mode", "DCR");
  if (strcmp(m, "DCR") && strcmp(m, "CRD")) return SINTER_NODE_ERROR("unknown mode '%s'", m);
  *crd = strcmp(m, "CRD") == 0;
  return NULL;
}

/* Multiplies (or divides, exactly) a dim by b; symbolic dims become unknown. */
static sinter_status_t scale_dim(sinter_dim_t d, int64_t b, bool divide, const char *what,
                                 sinter_dim_t *out) {
  if (d.size < 0) {
    *out = dim_unknown();
  } else if (divide) {
    if (d.size % b)
      return SINTER_NODE_ERROR("%s %lld is not a multiple of %lld", what, (long long)d.size,
                               (long long)b);
    *out = dim_const(d.size / b);
  } else {
    int64_t v;
    if (__builtin_mul_overflow(d.size, b, &v)) return SINTER_NODE_ERROR("%s overflows", what);
    *out = dim_const(v);
  }
  return NULL;
}

static sinter_status_t infer_depth_to_space(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  int64_t b;
  bool crd;
  SINTER_TRY(block_size(ctx->node, &b));
  SINTER_TRY(depth_mode(ctx->node, &crd));
  if (x->rank >= 0 && x->rank != 4)
    return SINTER_NODE_ERROR("input must be 4-D, got rank %d", x->rank);
  sinter_type_unknown_dims(o, x->dtype, 4);
  if (x->rank < 0) return NULL;
  o->dims[0] = x->dims[0];
  SINTER_TRY(scale_dim(x->dims[1], b * b, true, "channel count", &o->dims[1]));
  SINTER_TRY(scale_dim(x->dims[2], b, false, "height", &o->dims[2]));
  SINTER_TRY(scale_dim(x->dims[3], b, false, "width", &o->dims[3]));
  return NULL;
}

static sinter_status_t run_depth_to_space(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  int64_t b;
  bool crd;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  SINTER_TRY(block_size(ctx->node, &b));
  SINTER_TRY(depth_mode(ctx->node, &crd));
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], c = C / (b * b);
  int64_t sN = C * H * W, sC = H * W;
  /* Output [N, c, H, b, W, b] read from the input viewed as [N, b, b, c, H, W] (DCR) or
   * [N, c, b, b, H, W] (CRD). */
  int64_t dims[6] = {N, c, H, b, W, b}, ds[6];
  int64_t ss[6] = {sN, sC, W, b * c * sC, 1, c * sC};
  if (crd) {
    ss[1] = b * b * sC;
    ss[3] = b * sC;
    ss[5] = sC;
  }
  row_major_strides(6, dims, ds);
  copy_view(o->data, 0, ds, x->data, 0, ss, 6, dims, bits);
  return NULL;
}

static sinter_status_t infer_space_to_depth(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  int64_t b;
  SINTER_TRY(block_size(ctx->node, &b));
  if (x->rank >= 0 && x->rank != 4)
    return SINTER_NODE_ERROR("input must be 4-D, got rank %d", x->rank);
  sinter_type_unknown_dims(o, x->dtype, 4);
  if (x->rank < 0) return NULL;
  o->dims[0] = x->dims[0];
  SINTER_TRY(scale_dim(x->dims[1], b * b, false, "channel count", &o->dims[1]));
  SINTER_TRY(scale_dim(x->dims[2], b, true, "height", &o->dims[2]));
  SINTER_TRY(scale_dim(x->dims[3], b, true, "width", &o->dims[3]));
  return NULL;
}

static sinter_status_t run_space_to_depth(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  int64_t b;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  SINTER_TRY(block_size(ctx->node, &b));
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
  /* Output [N, b, b, C, H/b, W/b] read from the input viewed as [N, C, H/b, b, W/b, b]. */
  int64_t dims[6] = {N, b, b, C, H / b, W / b}, ds[6];
  int64_t ss[6] = {C * H * W, W, 1, H * W, b * W, b};
  row_major_strides(6, dims, ds);
  copy_view(o->data, 0, ds, x->data, 0, ss, 6, dims, bits);
  return NULL;
}

/* ---- Trilu --------------------------------------------------------------- */

static sinter_status_t infer_trilu(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  if (x->rank >= 0 && x->rank < 2) return SINTER_NODE_ERROR("input must have rank >= 2");
  view_t k = infer_view(ctx, 1);
  if (k.present && k.numel > 1) return SINTER_NODE_ERROR("k must hold one element");
  ctx->out[0] = *x;
  return NULL;
}

static sinter_status_t run_trilu(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  int64_t k = 0;
  view_t kv = kernel_view(ctx, 1);
  if (kv.present) {
    if (kv.numel != 1 || !sinter_dtype_is_int(kv.dtype))
      return SINTER_NODE_ERROR("k must be one integer");
    k = sinter_load_i64(kv.data, kv.dtype, 0);
  }
  bool upper = sinter_node_attr_int(ctx->node, "upper", 1) != 0;
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
  int64_t batch = prod(x->dims, 0, x->rank - 2);
  for (int64_t bi = 0; bi < batch; bi++)
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        int64_t diff = j - i; /* bounded by the dims: no overflow */
        if (upper ? diff >= k : diff <= k) {
          int64_t e = (bi * rows + i) * cols + j;
          move_elem(o->data, e, x->data, e, bits);
        }
      }
  return NULL;
}

/* ---- table --------------------------------------------------------------- */

const sinter_op_impl_t sinter_impl_shape[] = {
    {SINTER_OP_RESHAPE, infer_reshape, run_copy},
    {SINTER_OP_FLATTEN, infer_flatten, run_copy},
    {SINTER_OP_TRANSPOSE, infer_transpose, run_transpose},
    {SINTER_OP_SQUEEZE, infer_squeeze, run_copy},
    {SINTER_OP_UNSQUEEZE, infer_unsqueeze, run_copy},
    {SINTER_OP_CONCAT, infer_concat, run_concat},
    {SINTER_OP_SPLIT, infer_split, run_split},
    {SINTER_OP_SLICE, infer_slice, run_slice},
    {SINTER_OP_GATHER, sinter_shape_infer_gather, sinter_shape_run_gather},
    {SINTER_OP_GATHER_ELEMENTS, sinter_shape_infer_gather_elements,
     sinter_shape_run_gather_elements},
    {SINTER_OP_GATHER_ND, sinter_shape_infer_gather_nd, sinter_shape_run_gather_nd},
    {SINTER_OP_SCATTER_ELEMENTS, sinter_shape_infer_scatter_elements,
     sinter_shape_run_scatter_elements},
    {SINTER_OP_SCATTER_ND, sinter_shape_infer_scatter_nd, sinter_shape_run_scatter_nd},
    {SINTER_OP_EXPAND, infer_expand, run_expand},
    {SINTER_OP_TILE, infer_tile, run_tile},
    {SINTER_OP_PAD, infer_pad, run_pad},
    {SINTER_OP_SHAPE, infer_shape, run_shape},
    {SINTER_OP_SIZE, infer_size, run_size},
    {SINTER_OP_CONSTANT_OF_SHAPE, infer_constant_of_shape, run_constant_of_shape},
    {SINTER_OP_RANGE, infer_range, run_range},
    {SINTER_OP_EYE_LIKE, infer_eye_like, run_eye_like},
    {SINTER_OP_IDENTITY, infer_identity, run_copy},
    {SINTER_OP_DROPOUT, infer_dropout, run_dropout},
    {SINTER_OP_RESIZE, sinter_shape_infer_resize, sinter_shape_run_resize},
    {SINTER_OP_DEPTH_TO_SPACE, infer_depth_to_space, run_depth_to_space},
    {SINTER_OP_SPACE_TO_DEPTH, infer_space_to_depth, run_space_to_depth},
    {SINTER_OP_NON_ZERO, sinter_shape_infer_non_zero, sinter_shape_run_non_zero},
    {SINTER_OP_ONE_HOT, sinter_shape_infer_one_hot, sinter_shape_run_one_hot},
    {SINTER_OP_TRILU, infer_trilu, run_trilu},
    {SINTER_OP_COMPRESS, sinter_shape_infer_compress, sinter_shape_run_compress},
    {SINTER_OP_REVERSE_SEQUENCE, sinter_shape_infer_reverse_sequence,
     sinter_shape_run_reverse_sequence},
    {0},
};
