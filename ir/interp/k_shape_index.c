/* Reference kernels: index-driven data movement (Gather, GatherElements, GatherND,
 * ScatterElements, ScatterND, NonZero, OneHot, Compress, ReverseSequence). Indices are checked
 * against their axis before any access; bad ones fail the node with the offending value. */
#include "ir/interp/k_shape_internal.h"

/* ---- index helpers ------------------------------------------------------- */

static sinter_status_t check_index_type(sinter_dtype_t dt, const char *what) {
  if (dt != SINTER_DTYPE_UNDEFINED && !sinter_dtype_is_int(dt))
    return SINTER_NODE_ERROR("%s must be an integer tensor, got %s", what, sinter_dtype_name(dt));
  return NULL;
}

/* Resolves index v (negative counts from the end) into [0, dim). */
static sinter_status_t resolve_index(int64_t v, int64_t dim, int32_t axis, int64_t *out) {
  int64_t r = v < 0 ? v + dim : v;
  if (r < 0 || r >= dim)
    return SINTER_NODE_ERROR("index %lld is out of range for axis %d of size %lld", (long long)v,
                             axis, (long long)dim);
  *out = r;
  return NULL;
}

/* Merges two dims that must be equal; fails when both are static and differ. */
static sinter_status_t merge_dim(sinter_dim_t a, sinter_dim_t b, const char *what,
                                 sinter_dim_t *out) {
  if (a.size >= 0 && b.size >= 0 && a.size != b.size)
    return SINTER_NODE_ERROR("%s: %lld and %lld differ", what, (long long)a.size,
                             (long long)b.size);
  *out = a.size >= 0 ? a : b.size >= 0 ? b : a.sym ? a : b;
  return NULL;
}

/* ---- Gather -------------------------------------------------------------- */

sinter_status_t sinter_shape_infer_gather(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *ix = ctx->in[1];
  sinter_type_t *o = &ctx->out[0];
  SINTER_TRY(check_index_type(ix->dtype, "indices"));
  int64_t axis_attr = sinter_node_attr_int(ctx->node, "axis", 0);
  if (x->rank < 0 || ix->rank < 0) {
    sinter_type_unknown_dims(o, x->dtype, -1);
    return NULL;
  }
  if (x->rank == 0) return SINTER_NODE_ERROR("cannot gather from a scalar");
  int32_t axis;
  SINTER_TRY(norm_axis(axis_attr, x->rank, "axis", &axis));
  int32_t r = x->rank + ix->rank - 1;
  if (r > SINTER_MAX_RANK)
    return SINTER_NODE_UNSUPPORTED("output rank %d is above %d", r, SINTER_MAX_RANK);
  sinter_type_unknown_dims(o, x->dtype, r);
  int32_t k = 0;
  for (int32_t d = 0; d < axis; d++) o->dims[k++] = x->dims[d];
  for (int32_t d = 0; d < ix->rank; d++) o->dims[k++] = ix->dims[d];
  for (int32_t d = axis + 1; d < x->rank; d++) o->dims[k++] = x->dims[d];
  return NULL;
}

sinter_status_t sinter_shape_run_gather(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *ix = ctx->in[1];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  int32_t axis;
  SINTER_TRY(norm_axis(sinter_node_attr_int(ctx->node, "axis", 0), x->rank, "axis", &axis));
  int64_t outer = prod(x->dims, 0, axis), dim = x->dims[axis];
  int64_t inner = prod(x->dims, axis + 1, x->rank), n = sinter_tensor_numel(ix);
  for (int64_t j = 0; j < n; j++) { /* validate first: no partial work on a bad index */
    int64_t k;
    SINTER_TRY(resolve_index(sinter_load_i64(ix->data, ix->dtype, j), dim, axis, &k));
  }
  for (int64_t o_ = 0; o_ < outer; o_++)
    for (int64_t j = 0; j < n; j++) {
      int64_t k = sinter_load_i64(ix->data, ix->dtype, j);
      if (k < 0) k += dim;
      move_elems(o->data, (o_ * n + j) * inner, x->data, (o_ * dim + k) * inner, inner, bits);
    }
  return NULL;
}

/* ---- GatherElements and ScatterElements ---------------------------------- */

sinter_status_t sinter_shape_infer_gather_elements(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *ix = ctx->in[1];
  sinter_type_t *o = &ctx->out[0];
  SINTER_TRY(check_index_type(ix->dtype, "indices"));
  *o = *ix;
  o->dtype = x->dtype;
  if (x->rank < 0 || ix->rank < 0) return NULL;
  if (x->rank != ix->rank)
    return SINTER_NODE_ERROR("indices has rank %d, data has %d", ix->rank, x->rank);
  if (x->rank == 0) return SINTER_NODE_ERROR("cannot gather from a scalar");
  int32_t axis;
  SINTER_TRY(norm_axis(sinter_node_attr_int(ctx->node, "axis", 0), x->rank, "axis", &axis));
  for (int32_t d = 0; d < x->rank; d++)
    if (d != axis && x->dims[d].size >= 0 && ix->dims[d].size > x->dims[d].size)
      return SINTER_NODE_ERROR("indices dim %d (%lld) exceeds data dim (%lld)", d,
                               (long long)ix->dims[d].size, (long long)x->dims[d].size);
  return NULL;
}

/* Walks every position of idx (same rank as data) and yields the data offset it addresses along
 * axis. fn is called with (position in idx, data offset); it may fail. */
typedef sinter_status_t (*elements_fn)(void *user, int64_t pos, int64_t off);

static sinter_status_t walk_elements(const sinter_tensor_t *x, const sinter_tensor_t *ix,
                                     int32_t axis, elements_fn fn, void *user) {
  int32_t r = x->rank;
  if (ix->rank != r) return SINTER_NODE_ERROR("indices has rank %d, data has %d", ix->rank, r);
  for (int32_t d = 0; d < r; d++)
    if (d != axis && ix->dims[d] > x->dims[d])
      return SINTER_NODE_ERROR("indices dim %d (%lld) exceeds data dim (%lld)", d,
                               (long long)ix->dims[d], (long long)x->dims[d]);
  int64_t xs[SINTER_MAX_RANK], idx[SINTER_MAX_RANK] = {0};
  row_major_strides(r, x->dims, xs);
  int64_t n = sinter_tensor_numel(ix);
  for (int64_t pos = 0; pos < n; pos++) {
    int64_t k, off = 0;
    SINTER_TRY(resolve_index(sinter_load_i64(ix->data, ix->dtype, pos), x->dims[axis], axis, &k));
    for (int32_t d = 0; d < r; d++) off += (d == axis ? k : idx[d]) * xs[d];
    SINTER_TRY(fn(user, pos, off));
    for (int32_t d = r - 1; d >= 0; d--) {
      if (++idx[d] < ix->dims[d]) break;
      idx[d] = 0;
    }
  }
  return NULL;
}

typedef struct gather_el_s {
  void *out;
  const void *data;
  int bits;
} gather_el_t;

static sinter_status_t gather_el_step(void *user, int64_t pos, int64_t off) {
  gather_el_t *g = user;
  move_elem(g->out, pos, g->data, off, g->bits);
  return NULL;
}

sinter_status_t sinter_shape_run_gather_elements(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *ix = ctx->in[1];
  gather_el_t g = {.out = ctx->out[0].data, .data = x->data};
  SINTER_TRY(elem_bits(x->dtype, &g.bits));
  if (x->rank == 0) return SINTER_NODE_ERROR("cannot gather from a scalar");
  int32_t axis;
  SINTER_TRY(norm_axis(sinter_node_attr_int(ctx->node, "axis", 0), x->rank, "axis", &axis));
  return walk_elements(x, ix, axis, gather_el_step, &g);
}

typedef enum reduction_e { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } reduction_t;

static sinter_status_t reduction_attr(const sinter_node_t *node, reduction_t *out) {
  const char *r = sinter_node_attr_string(node, "reduction", "none");
  if (!strcmp(r, "none"))
    *out = RED_NONE;
  else if (!strcmp(r, "add"))
    *out = RED_ADD;
  else if (!strcmp(r, "mul"))
    *out = RED_MUL;
  else if (!strcmp(r, "max"))
    *out = RED_MAX;
  else if (!strcmp(r, "min"))
    *out = RED_MIN;
  else
    return SINTER_NODE_ERROR("unknown reduction '%s'", r);
  return NULL;
}

/* out[oi] = red(out[oi], upd[ui]). Floats combine in double and round once; integers wrap. */
static void reduce_into(void *out, int64_t oi, const void *upd, int64_t ui, sinter_dtype_t dt,
                        reduction_t red, int bits) {
  if (red == RED_NONE) {
    move_elem(out, oi, upd, ui, bits);
  } else if (sinter_dtype_is_float(dt)) {
    double a = sinter_load_f64(out, dt, oi), b = sinter_load_f64(upd, dt, ui), r;
    switch (red) {
      case RED_ADD: r = a + b; break;
      case RED_MUL: r = a * b; break;
      case RED_MAX: r = (a >= b || isnan(a)) ? a : b; break;
      default: r = (a <= b || isnan(a)) ? a : b; break;
    }
    sinter_store_f64(out, dt, oi, r);
  } else {
    int64_t a = sinter_load_i64(out, dt, oi), b = sinter_load_i64(upd, dt, ui), r;
    if (dt == SINTER_DTYPE_U64) { /* compare as unsigned */
      uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
      if (red == RED_MAX) {
        sinter_store_i64(out, dt, oi, (int64_t)(ua > ub ? ua : ub));
        return;
      }
      if (red == RED_MIN) {
        sinter_store_i64(out, dt, oi, (int64_t)(ua < ub ? ua : ub));
        return;
      }
    }
    switch (red) {
      case RED_ADD: r = (int64_t)((uint64_t)a + (uint64_t)b); break;
      case RED_MUL: r = (int64_t)((uint64_t)a * (uint64_t)b); break;
      case RED_MAX: r = a > b ? a : b; break;
      default: r = a < b ? a : b; break;
    }
    sinter_store_i64(out, dt, oi, r);
  }
}

sinter_status_t sinter_shape_infer_scatter_elements(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  reduction_t red;
  SINTER_TRY(reduction_attr(ctx->node, &red));
  SINTER_TRY(check_index_type(ix->dtype, "indices"));
  if (u->dtype != SINTER_DTYPE_UNDEFINED && x->dtype != SINTER_DTYPE_UNDEFINED &&
      u->dtype != x->dtype)
    return SINTER_NODE_ERROR("updates is %s, data is %s", sinter_dtype_name(u->dtype),
                             sinter_dtype_name(x->dtype));
  if (x->rank >= 0) {
    if (x->rank == 0) return SINTER_NODE_ERROR("cannot scatter into a scalar");
    int32_t axis;
    SINTER_TRY(norm_axis(sinter_node_attr_int(ctx->node, "axis", 0), x->rank, "axis", &axis));
    if ((ix->rank >= 0 && ix->rank != x->rank) || (u->rank >= 0 && u->rank != x->rank))
      return SINTER_NODE_ERROR("data, indices and updates must have the same rank");
  }
  if (ix->rank >= 0 && u->rank >= 0) {
    if (ix->rank != u->rank) return SINTER_NODE_ERROR("indices and updates differ in rank");
    for (int32_t d = 0; d < ix->rank; d++) {
      sinter_dim_t m;
      SINTER_TRY(merge_dim(ix->dims[d], u->dims[d], "indices and updates shapes", &m));
    }
  }
  ctx->out[0] = *x;
  return NULL;
}

typedef struct scatter_el_s {
  void *out;
  const void *upd;
  sinter_dtype_t dtype;
  reduction_t red;
  int bits;
} scatter_el_t;

static sinter_status_t scatter_el_step(void *user, int64_t pos, int64_t off) {
  scatter_el_t *s = user;
  reduce_into(s->out, off, s->upd, pos, s->dtype, s->red, s->bits);
  return NULL;
}

static sinter_status_t copy_data(const sinter_tensor_t *in, sinter_tensor_t *out) {
  if (in->nbytes < out->nbytes)
    return SINTER_NODE_ERROR("input holds %zu bytes, output needs %zu", in->nbytes, out->nbytes);
  if (out->nbytes) memcpy(out->data, in->data, out->nbytes);
  return NULL;
}

sinter_status_t sinter_shape_run_scatter_elements(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  sinter_tensor_t *o = &ctx->out[0];
  scatter_el_t s = {.out = o->data, .upd = u->data, .dtype = x->dtype};
  SINTER_TRY(elem_bits(x->dtype, &s.bits));
  SINTER_TRY(reduction_attr(ctx->node, &s.red));
  if (u->dtype != x->dtype) return SINTER_NODE_ERROR("updates and data differ in type");
  if (u->rank != ix->rank) return SINTER_NODE_ERROR("indices and updates differ in rank");
  for (int32_t d = 0; d < ix->rank; d++)
    if (u->dims[d] != ix->dims[d]) return SINTER_NODE_ERROR("indices and updates differ in shape");
  if (x->rank == 0) return SINTER_NODE_ERROR("cannot scatter into a scalar");
  int32_t axis;
  SINTER_TRY(norm_axis(sinter_node_attr_int(ctx->node, "axis", 0), x->rank, "axis", &axis));
  SINTER_TRY(copy_data(x, o));
  return walk_elements(x, ix, axis, scatter_el_step, &s);
}

/* ---- GatherND and ScatterND ---------------------------------------------- */

sinter_status_t sinter_shape_infer_gather_nd(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *ix = ctx->in[1];
  sinter_type_t *o = &ctx->out[0];
  SINTER_TRY(check_index_type(ix->dtype, "indices"));
  int64_t b = sinter_node_attr_int(ctx->node, "batch_dims", 0);
  sinter_type_unknown_dims(o, x->dtype, -1);
  if (x->rank < 0 || ix->rank < 0) return NULL;
  int32_t r = x->rank, q = ix->rank;
  if (q < 1 || r < 1) return SINTER_NODE_ERROR("data and indices must have rank >= 1");
  if (b < 0 || b >= q || b >= r)
    return SINTER_NODE_ERROR("batch_dims %lld must be below both ranks", (long long)b);
  int64_t k = ix->dims[q - 1].size;
  if (k < 0) return NULL;
  if (k < 1 || k > r - b)
    return SINTER_NODE_ERROR("indices' last dim %lld must be in [1, %lld]", (long long)k,
                             (long long)(r - b));
  int64_t out_rank = q - 1 + r - k - b;
  if (out_rank > SINTER_MAX_RANK)
    return SINTER_NODE_UNSUPPORTED("output rank %lld is above %d", (long long)out_rank,
                                   SINTER_MAX_RANK);
  sinter_type_unknown_dims(o, x->dtype, (int32_t)out_rank);
  int32_t j = 0;
  for (int32_t d = 0; d < q - 1; d++) {
    if (d < b)
      SINTER_TRY(merge_dim(ix->dims[d], x->dims[d], "batch dims", &o->dims[j++]));
    else
      o->dims[j++] = ix->dims[d];
  }
  for (int64_t d = b + k; d < r; d++) o->dims[j++] = x->dims[d];
  return NULL;
}

/* Layout shared by GatherND and ScatterND: B batches, M index tuples per batch, each tuple of k
 * indices selecting a slice of S elements. */
typedef struct nd_plan_s {
  int64_t batches, tuples, k, slice, data_batch;
  int64_t strides[SINTER_MAX_RANK]; /* data element stride of each indexed axis */
  int64_t dims[SINTER_MAX_RANK];    /* size of each indexed axis */
} nd_plan_t;

static sinter_status_t nd_plan(const sinter_tensor_t *x, const sinter_tensor_t *ix, int64_t b,
                               nd_plan_t *p) {
  int32_t r = x->rank, q = ix->rank;
  if (q < 1 || r < 1) return SINTER_NODE_ERROR("data and indices must have rank >= 1");
  if (b < 0 || b >= q || b >= r)
    return SINTER_NODE_ERROR("batch_dims %lld must be below both ranks", (long long)b);
  int64_t k = ix->dims[q - 1];
  if (k < 1 || k > r - b)
    return SINTER_NODE_ERROR("indices' last dim %lld must be in [1, %lld]", (long long)k,
                             (long long)(r - b));
  for (int32_t d = 0; d < b; d++)
    if (ix->dims[d] != x->dims[d]) return SINTER_NODE_ERROR("batch dim %d differs", d);
  int64_t xs[SINTER_MAX_RANK];
  row_major_strides(r, x->dims, xs);
  p->k = k;
  p->batches = prod(x->dims, 0, (int32_t)b);
  p->tuples = prod(ix->dims, (int32_t)b, q - 1);
  p->slice = prod(x->dims, (int32_t)(b + k), r);
  p->data_batch = prod(x->dims, (int32_t)b, r);
  for (int64_t i = 0; i < k; i++) {
    p->strides[i] = xs[b + i];
    p->dims[i] = x->dims[b + i];
  }
  return NULL;
}

/* Data offset (within the whole tensor) of tuple t of batch bi. */
static sinter_status_t nd_offset(const nd_plan_t *p, const sinter_tensor_t *ix, int64_t bi,
                                 int64_t t, int64_t *out) {
  int64_t base = (bi * p->tuples + t) * p->k, off = bi * p->data_batch;
  for (int64_t i = 0; i < p->k; i++) {
    int64_t v = 0;
    SINTER_TRY(
        resolve_index(sinter_load_i64(ix->data, ix->dtype, base + i), p->dims[i], (int32_t)i, &v));
    off += v * p->strides[i];
  }
  *out = off;
  return NULL;
}

sinter_status_t sinter_shape_run_gather_nd(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *ix = ctx->in[1];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  nd_plan_t p;
  SINTER_TRY(nd_plan(x, ix, sinter_node_attr_int(ctx->node, "batch_dims", 0), &p));
  for (int64_t bi = 0; bi < p.batches; bi++)
    for (int64_t t = 0; t < p.tuples; t++) {
      int64_t off;
      SINTER_TRY(nd_offset(&p, ix, bi, t, &off));
      move_elems(o->data, (bi * p.tuples + t) * p.slice, x->data, off, p.slice, bits);
    }
  return NULL;
}

sinter_status_t sinter_shape_infer_scatter_nd(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  reduction_t red;
  SINTER_TRY(reduction_attr(ctx->node, &red));
  SINTER_TRY(check_index_type(ix->dtype, "indices"));
  if (u->dtype != SINTER_DTYPE_UNDEFINED && x->dtype != SINTER_DTYPE_UNDEFINED &&
      u->dtype != x->dtype)
    return SINTER_NODE_ERROR("updates is %s, data is %s", sinter_dtype_name(u->dtype),
                             sinter_dtype_name(x->dtype));
  if (x->rank >= 0 && ix->rank >= 0 && u->rank >= 0) {
    int32_t r = x->rank, q = ix->rank;
    if (q < 1 || r < 1) return SINTER_NODE_ERROR("data and indices must have rank >= 1");
    int64_t k = ix->dims[q - 1].size;
    if (k >= 0) {
      if (k < 1 || k > r)
        return SINTER_NODE_ERROR("indices' last dim %lld must be in [1, %d]", (long long)k, r);
      if (u->rank != q - 1 + r - k)
        return SINTER_NODE_ERROR("updates has rank %d, expected %lld", u->rank,
                                 (long long)(q - 1 + r - k));
      sinter_dim_t m;
      for (int32_t d = 0; d < q - 1; d++)
        SINTER_TRY(merge_dim(u->dims[d], ix->dims[d], "updates and indices shapes", &m));
      for (int64_t d = k; d < r; d++)
        SINTER_TRY(merge_dim(u->dims[q - 1 + d - k], x->dims[d], "updates and data shapes", &m));
    }
  }
  ctx->out[0] = *x;
  return NULL;
}

sinter_status_t sinter_shape_run_scatter_nd(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  reduction_t red;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  SINTER_TRY(reduction_attr(ctx->node, &red));
  if (u->dtype != x->dtype) return SINTER_NODE_ERROR("updates and data differ in type");
  nd_plan_t p;
  SINTER_TRY(nd_plan(x, ix, 0, &p));
  /* updates must be indices.shape[:-1] + data.shape[k:] */
  int32_t q = ix->rank;
  bool ok = u->rank == q - 1 + x->rank - p.k;
  for (int32_t d = 0; ok && d < u->rank; d++)
    ok = u->dims[d] == (d < q - 1 ? ix->dims[d] : x->dims[d - (q - 1) + p.k]);
  if (!ok) return SINTER_NODE_ERROR("updates has the wrong shape");
  SINTER_TRY(copy_data(x, o));
  for (int64_t t = 0; t < p.tuples; t++) {
    int64_t off;
    SINTER_TRY(nd_offset(&p, ix, 0, t, &off));
    if (red == RED_NONE) {
      move_elems(o->data, off, u->data, t * p.slice, p.slice, bits);
    } else {
      for (int64_t e = 0; e < p.slice; e++)
        reduce_into(o->data, off + e, u->data, t * p.slice + e, x->dtype, red, bits);
    }
  }
  return NULL;
}

/* ---- NonZero ------------------------------------------------------------- */

static bool is_nonzero(const void *data, sinter_dtype_t dt, int64_t i) {
  if (sinter_dtype_is_float(dt)) return sinter_load_f64(data, dt, i) != 0; /* NaN counts */
  return sinter_load_i64(data, dt, i) != 0;
}

sinter_status_t sinter_shape_infer_non_zero(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  int bits;
  if (x->dtype != SINTER_DTYPE_UNDEFINED) SINTER_TRY(elem_bits(x->dtype, &bits));
  /* The count depends on the data, so it stays unknown even at run time; the kernel
   * allocates. */
  sinter_type_unknown_dims(&ctx->out[0], SINTER_DTYPE_I64, 2);
  if (x->rank >= 0) ctx->out[0].dims[0] = dim_const(x->rank);
  return NULL;
}

sinter_status_t sinter_shape_run_non_zero(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  int64_t n = sinter_tensor_numel(x), count = 0;
  for (int64_t i = 0; i < n; i++) count += is_nonzero(x->data, x->dtype, i);
  int64_t dims[2] = {x->rank, count};
  SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, SINTER_DTYPE_I64, 2, dims));
  int64_t *out = ctx->out[0].data;
  int64_t idx[SINTER_MAX_RANK] = {0}, j = 0;
  for (int64_t i = 0; i < n; i++) {
    if (is_nonzero(x->data, x->dtype, i)) {
      for (int32_t d = 0; d < x->rank; d++) out[d * count + j] = idx[d];
      j++;
    }
    for (int32_t d = x->rank - 1; d >= 0; d--) {
      if (++idx[d] < x->dims[d]) break;
      idx[d] = 0;
    }
  }
  return NULL;
}

/* ---- OneHot -------------------------------------------------------------- */

static sinter_status_t onehot_depth(sinter_dtype_t dt, const void *data, int64_t numel,
                                    int64_t *out) {
  if (numel != 1) return SINTER_NODE_ERROR("depth must hold one element");
  if (dt == SINTER_DTYPE_BOOL || !sinter_dtype_bits(dt)) return SINTER_NODE_ERROR("bad depth type");
  double d = sinter_load_f64(data, dt, 0);
  if (!(d >= 0) || d > 1e12) return SINTER_NODE_ERROR("depth %g is out of range", d);
  *out = (int64_t)d;
  return NULL;
}

sinter_status_t sinter_shape_infer_one_hot(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *ix = ctx->in[0], *dp = ctx->in[1], *v = ctx->in[2];
  sinter_type_t *o = &ctx->out[0];
  if (v->rank >= 0 && v->rank != 1) return SINTER_NODE_ERROR("values must be 1-D");
  int64_t nv;
  if (sinter_type_numel(v, &nv) && nv != 2) return SINTER_NODE_ERROR("values must hold 2 elements");
  if (ix->dtype != SINTER_DTYPE_UNDEFINED &&
      (ix->dtype == SINTER_DTYPE_BOOL || !sinter_dtype_bits(ix->dtype)))
    return SINTER_NODE_ERROR("indices must be numeric");
  if (ix->rank < 0) {
    sinter_type_unknown_dims(o, v->dtype, -1);
    return NULL;
  }
  int32_t r = ix->rank + 1;
  if (r > SINTER_MAX_RANK)
    return SINTER_NODE_UNSUPPORTED("output rank %d is above %d", r, SINTER_MAX_RANK);
  int32_t axis;
  SINTER_TRY(norm_axis(sinter_node_attr_int(ctx->node, "axis", -1), r, "axis", &axis));
  sinter_type_unknown_dims(o, v->dtype, r);
  for (int32_t d = 0, k = 0; d < r; d++)
    if (d != axis) o->dims[d] = ix->dims[k++];
  int64_t nd;
  if (ctx->in_data[1] && sinter_type_numel(dp, &nd)) {
    size_t need;
    if (sinter_dtype_storage_size(dp->dtype, nd, &need) && need <= ctx->in_nbytes[1]) {
      int64_t depth;
      SINTER_TRY(onehot_depth(dp->dtype, ctx->in_data[1], nd, &depth));
      o->dims[axis] = dim_const(depth);
    }
  }
  int64_t total;
  if (sinter_type_is_static(o) && !sinter_type_numel(o, &total))
    return SINTER_NODE_ERROR("output shape is too large");
  return NULL;
}

sinter_status_t sinter_shape_run_one_hot(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *ix = ctx->in[0], *v = ctx->in[2];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  SINTER_TRY(elem_bits(v->dtype, &bits));
  if (sinter_tensor_numel(v) != 2) return SINTER_NODE_ERROR("values must hold 2 elements");
  int64_t depth;
  SINTER_TRY(
      onehot_depth(ctx->in[1]->dtype, ctx->in[1]->data, sinter_tensor_numel(ctx->in[1]), &depth));
  int32_t axis;
  SINTER_TRY(norm_axis(sinter_node_attr_int(ctx->node, "axis", -1), o->rank, "axis", &axis));
  int64_t total = sinter_tensor_numel(o);
  for (int64_t i = 0; i < total; i++) move_elem(o->data, i, v->data, 0, bits);
  int64_t outer = prod(ix->dims, 0, axis), inner = prod(ix->dims, axis, ix->rank);
  bool fl = sinter_dtype_is_float(ix->dtype);
  for (int64_t a = 0; a < outer; a++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t j = a * inner + i;
      double f = fl ? sinter_load_f64(ix->data, ix->dtype, j) : 0;
      if (fl && !(fabs(f) < 1e15)) continue; /* NaN or huge: no class */
      int64_t k = fl ? (int64_t)f : sinter_load_i64(ix->data, ix->dtype, j);
      if (k < 0) k += depth;
      if (k < 0 || k >= depth) continue; /* out of range: all off */
      move_elem(o->data, (a * depth + k) * inner + i, v->data, 1, bits);
    }
  return NULL;
}

/* ---- Compress ------------------------------------------------------------ */

/* Counts the true entries of condition. Like numpy.compress, it may be shorter than the axis,
 * and longer only with false entries past the end. */
static sinter_status_t compress_count(sinter_dtype_t dt, const void *cond, int64_t n, int64_t dim,
                                      int64_t *out) {
  if (dt != SINTER_DTYPE_BOOL && !sinter_dtype_is_int(dt))
    return SINTER_NODE_ERROR("condition must be bool, got %s", sinter_dtype_name(dt));
  int64_t c = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!sinter_load_i64(cond, dt, i)) continue;
    if (i >= dim)
      return SINTER_NODE_ERROR("condition selects index %lld of an axis of %lld", (long long)i,
                               (long long)dim);
    c++;
  }
  *out = c;
  return NULL;
}

sinter_status_t sinter_shape_infer_compress(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *c = ctx->in[1];
  sinter_type_t *o = &ctx->out[0];
  if (c->rank >= 0 && c->rank != 1) return SINTER_NODE_ERROR("condition must be 1-D");
  const sinter_attr_t *axis_attr = sinter_node_attr(ctx->node, "axis");
  int32_t axis = -1;
  sinter_dim_t dim = dim_unknown();
  if (axis_attr) {
    *o = *x;
    if (x->rank < 0) return NULL;
    SINTER_TRY(norm_axis(axis_attr->i, x->rank, "axis", &axis));
    dim = x->dims[axis];
  } else {
    sinter_type_unknown_dims(o, x->dtype, 1);
    int64_t n;
    if (sinter_type_numel(x, &n)) dim = dim_const(n);
  }
  sinter_dim_t *od = &o->dims[axis_attr ? axis : 0];
  *od = dim_unknown();
  int64_t nc;
  size_t need;
  if (ctx->in_data[1] && dim.size >= 0 && sinter_type_numel(c, &nc) &&
      sinter_dtype_storage_size(c->dtype, nc, &need) && need <= ctx->in_nbytes[1]) {
    int64_t count;
    SINTER_TRY(compress_count(c->dtype, ctx->in_data[1], nc, dim.size, &count));
    *od = dim_const(count);
  }
  return NULL;
}

sinter_status_t sinter_shape_run_compress(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *c = ctx->in[1];
  int bits;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  const sinter_attr_t *axis_attr = sinter_node_attr(ctx->node, "axis");
  int64_t outer = 1, dim, inner = 1;
  int32_t axis = 0;
  if (axis_attr) {
    SINTER_TRY(norm_axis(axis_attr->i, x->rank, "axis", &axis));
    outer = prod(x->dims, 0, axis);
    dim = x->dims[axis];
    inner = prod(x->dims, axis + 1, x->rank);
  } else {
    dim = sinter_tensor_numel(x);
  }
  int64_t nc = sinter_tensor_numel(c), count;
  SINTER_TRY(compress_count(c->dtype, c->data, nc, dim, &count));
  sinter_tensor_t *o = &ctx->out[0];
  if (!o->data) {
    int64_t dims[SINTER_MAX_RANK];
    int32_t r = axis_attr ? x->rank : 1;
    for (int32_t d = 0; d < r; d++) dims[d] = axis_attr ? x->dims[d] : count;
    dims[axis] = count;
    SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, x->dtype, r, dims));
  } else if (o->dims[axis_attr ? axis : 0] != count) {
    return SINTER_ERROR(SINTER_INTERNAL, "compress output size mismatch");
  }
  for (int64_t a = 0; a < outer; a++) {
    int64_t j = 0;
    for (int64_t i = 0; i < nc && i < dim; i++) {
      if (!sinter_load_i64(c->data, c->dtype, i)) continue;
      move_elems(o->data, (a * count + j) * inner, x->data, (a * dim + i) * inner, inner, bits);
      j++;
    }
  }
  return NULL;
}

/* ---- ReverseSequence ----------------------------------------------------- */

static sinter_status_t seq_axes(const sinter_node_t *node, int32_t *batch, int32_t *time) {
  int64_t b = sinter_node_attr_int(node, "batch_axis", 1);
  int64_t t = sinter_node_attr_int(node, "time_axis", 0);
  if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
    return SINTER_NODE_ERROR("batch_axis and time_axis must be 0 and 1 in some order");
  *batch = (int32_t)b;
  *time = (int32_t)t;
  return NULL;
}

sinter_status_t sinter_shape_infer_reverse_sequence(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0], *l = ctx->in[1];
  int32_t b, t;
  SINTER_TRY(seq_axes(ctx->node, &b, &t));
  SINTER_TRY(check_index_type(l->dtype, "sequence_lens"));
  if (x->rank >= 0 && x->rank < 2) return SINTER_NODE_ERROR("input must have rank >= 2");
  if (l->rank >= 0 && l->rank != 1) return SINTER_NODE_ERROR("sequence_lens must be 1-D");
  ctx->out[0] = *x;
  if (x->rank >= 2 && l->rank == 1)
    SINTER_TRY(
        merge_dim(x->dims[b], l->dims[0], "batch size and sequence_lens", &ctx->out[0].dims[b]));
  return NULL;
}

sinter_status_t sinter_shape_run_reverse_sequence(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0], *l = ctx->in[1];
  sinter_tensor_t *o = &ctx->out[0];
  int bits;
  int32_t b, t;
  SINTER_TRY(elem_bits(x->dtype, &bits));
  SINTER_TRY(seq_axes(ctx->node, &b, &t));
  int64_t batch = x->dims[b], time = x->dims[t];
  if (l->rank != 1 || l->dims[0] != batch)
    return SINTER_NODE_ERROR("sequence_lens must have one entry per batch (%lld)",
                             (long long)batch);
  SINTER_TRY(copy_data(x, o));
  int64_t xs[SINTER_MAX_RANK];
  row_major_strides(x->rank, x->dims, xs);
  int64_t inner = prod(x->dims, 2, x->rank);
  for (int64_t i = 0; i < batch; i++) {
    int64_t len = sinter_load_i64(l->data, l->dtype, i);
    if (len < 0 || len > time)
      return SINTER_NODE_ERROR("sequence_lens[%lld] is %lld, time has %lld steps", (long long)i,
                               (long long)len, (long long)time);
    for (int64_t s = 0; s < len; s++)
      move_elems(o->data, i * xs[b] + s * xs[t], x->data, i * xs[b] + (len - 1 - s) * xs[t], inner,
                 bits);
  }
  return NULL;
}
