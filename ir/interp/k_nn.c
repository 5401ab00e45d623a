/* Reference kernels, nn family: the op table plus the sliding-window geometry
 * and f32 helpers that conv (k_nn_conv.c), pooling (k_nn_pool.c) and
 * normalization (k_nn_norm.c) share. */
#include <stdio.h>

#include "ir/interp/k_nn_internal.h"

const sinter_op_impl_t sinter_impl_nn[] = {
    {SINTER_OP_CONV, sinter_nn_conv_infer, sinter_nn_conv_run},
    {SINTER_OP_CONV_TRANSPOSE, sinter_nn_conv_transpose_infer, sinter_nn_conv_transpose_run},
    {SINTER_OP_MAX_POOL, sinter_nn_pool_infer, sinter_nn_pool_run},
    {SINTER_OP_AVERAGE_POOL, sinter_nn_pool_infer, sinter_nn_pool_run},
    {SINTER_OP_LP_POOL, sinter_nn_pool_infer, sinter_nn_pool_run},
    {SINTER_OP_GLOBAL_AVERAGE_POOL, sinter_nn_global_pool_infer, sinter_nn_global_pool_run},
    {SINTER_OP_GLOBAL_MAX_POOL, sinter_nn_global_pool_infer, sinter_nn_global_pool_run},
    {SINTER_OP_GLOBAL_LP_POOL, sinter_nn_global_pool_infer, sinter_nn_global_pool_run},
    {SINTER_OP_LRN, sinter_nn_lrn_infer, sinter_nn_lrn_run},
    {SINTER_OP_BATCH_NORMALIZATION, sinter_nn_batch_norm_infer, sinter_nn_batch_norm_run},
    {SINTER_OP_LAYER_NORMALIZATION, sinter_nn_layer_norm_infer, sinter_nn_layer_norm_run},
    {SINTER_OP_INSTANCE_NORMALIZATION, sinter_nn_instance_norm_infer, sinter_nn_instance_norm_run},
    {SINTER_OP_GROUP_NORMALIZATION, sinter_nn_group_norm_infer, sinter_nn_group_norm_run},
    {SINTER_OP_LP_NORMALIZATION, sinter_nn_lp_norm_infer, sinter_nn_lp_norm_run},
    {SINTER_OP_MEAN_VARIANCE_NORMALIZATION, sinter_nn_mvn_infer, sinter_nn_mvn_run},
    {0},
};

/* ---- attributes ------------------------------------------------------------ */

/* Reads an optional INTS attribute of exactly n entries, each >= min. An
 * absent or empty list leaves out untouched. */
static sinter_status_t read_ints(const sinter_node_t *node, const char *name, int32_t n,
                                 int64_t min, int64_t *out) {
  int64_t count;
  const int64_t *v = sinter_node_attr_ints(node, name, &count);
  const sinter_attr_t *a = sinter_node_attr(node, name);
  if (a && a->kind != SINTER_ATTR_INTS)
    return SINTER_NODE_ERROR("attribute %s must be a list of ints", name);
  if (!v || count == 0) return NULL;
  if (count != n)
    return SINTER_NODE_ERROR("%s has %lld entries, expected %d", name, (long long)count, n);
  for (int32_t i = 0; i < n; i++) {
    if (v[i] < min)
      return SINTER_NODE_ERROR("%s[%d] is %lld, must be %s", name, i, (long long)v[i],
                               min > 0 ? "positive" : "non-negative");
    out[i] = v[i];
  }
  return NULL;
}

sinter_status_t sinter_nn_read_window(const sinter_node_t *node, int32_t nd,
                                      const int64_t *w_kernel, bool with_ceil, nn_window_t *w) {
  memset(w, 0, sizeof(*w));
  if (nd < 1 || nd > NN_MAX_SPATIAL)
    return SINTER_NODE_UNSUPPORTED("%d spatial dims; 1 to %d are supported", nd, NN_MAX_SPATIAL);
  w->nd = nd;
  int64_t pads[2 * NN_MAX_SPATIAL] = {0};
  for (int32_t i = 0; i < nd; i++) {
    w->k[i] = -1;
    w->s[i] = w->d[i] = 1;
  }
  int64_t ks_count = 0;
  sinter_node_attr_ints(node, "kernel_shape", &ks_count);
  if (ks_count > 0) {
    SINTER_TRY(read_ints(node, "kernel_shape", nd, 1, w->k));
    for (int32_t i = 0; w_kernel && i < nd; i++)
      if (w_kernel[i] >= 0 && w_kernel[i] != w->k[i])
        return SINTER_NODE_ERROR("kernel_shape[%d] is %lld, but the weight's kernel is %lld", i,
                                 (long long)w->k[i], (long long)w_kernel[i]);
  } else if (w_kernel) {
    for (int32_t i = 0; i < nd; i++) {
      if (w_kernel[i] == 0) return SINTER_NODE_ERROR("the weight's kernel dim %d is 0", i);
      w->k[i] = w_kernel[i];
    }
  } else {
    return SINTER_NODE_ERROR("attribute kernel_shape is required");
  }
  SINTER_TRY(read_ints(node, "strides", nd, 1, w->s));
  SINTER_TRY(read_ints(node, "dilations", nd, 1, w->d));
  SINTER_TRY(read_ints(node, "pads", 2 * nd, 0, pads));
  for (int32_t i = 0; i < nd; i++) {
    w->pb[i] = pads[i];
    w->pe[i] = pads[nd + i];
    /* Reject absurd values up front, whether or not the input size is known. */
    int64_t t;
    if (w->k[i] >= 1 &&
        (!nn_mul(w->k[i] - 1, w->d[i], &t) || !nn_add(t, 1, &t) || t > NN_SIZE_LIMIT))
      return SINTER_NODE_ERROR("spatial dim %d: dilated kernel size overflows", i);
    if (!nn_add(w->pb[i], w->pe[i], &t) || t > NN_SIZE_LIMIT)
      return SINTER_NODE_ERROR("spatial dim %d: padding overflows", i);
  }
  const char *ap = sinter_node_attr_string(node, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") == 0 || ap[0] == 0) {
    w->auto_pad = NN_PAD_NOTSET;
  } else if (strcmp(ap, "SAME_UPPER") == 0) {
    w->auto_pad = NN_PAD_SAME_UPPER;
  } else if (strcmp(ap, "SAME_LOWER") == 0) {
    w->auto_pad = NN_PAD_SAME_LOWER;
  } else if (strcmp(ap, "VALID") == 0) {
    w->auto_pad = NN_PAD_VALID;
  } else {
    return SINTER_NODE_ERROR("auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", ap);
  }
  if (w->auto_pad != NN_PAD_NOTSET) /* explicit pads are ignored, as ONNX Runtime does */
    for (int32_t i = 0; i < nd; i++) w->pb[i] = w->pe[i] = 0;
  if (with_ceil) {
    int64_t c = sinter_node_attr_int(node, "ceil_mode", 0);
    if (c != 0 && c != 1)
      return SINTER_NODE_ERROR("ceil_mode is %lld, expected 0 or 1", (long long)c);
    w->ceil_mode = c == 1;
  }
  return NULL;
}

/* ---- window geometry ---------------------------------------------------------- */

sinter_status_t sinter_nn_forward_dim(const nn_window_t *w, int32_t i, int64_t in,
                                      int64_t *out_size, int64_t *out_pb, int64_t *out_pe) {
  int64_t k = w->k[i], s = w->s[i], d = w->d[i], ek, pb, pe;
  if (k < 1) return SINTER_ERROR(SINTER_INTERNAL, "kernel size of dim %d unknown", i);
  if (!nn_mul(k - 1, d, &ek) || !nn_add(ek, 1, &ek) || ek > NN_SIZE_LIMIT)
    return SINTER_NODE_ERROR("spatial dim %d: dilated kernel size overflows", i);
  if (in > NN_SIZE_LIMIT) return SINTER_NODE_ERROR("spatial dim %d: size overflows", i);
  if (w->auto_pad == NN_PAD_SAME_UPPER || w->auto_pad == NN_PAD_SAME_LOWER) {
    int64_t out = in / s + (in % s != 0), total = 0;
    if (out > 0) {
      if (!nn_add((out - 1) * s, ek, &total))
        return SINTER_NODE_ERROR("spatial dim %d: padding overflows", i);
      total -= in;
      if (total < 0) total = 0;
    }
    pe = w->auto_pad == NN_PAD_SAME_UPPER ? total - total / 2 : total / 2;
    *out_pb = total - pe;
    *out_pe = pe;
    *out_size = out;
    return NULL;
  }
  pb = w->pb[i];
  pe = w->pe[i];
  int64_t total;
  if (!nn_add(in, pb, &total) || !nn_add(total, pe, &total) || total > NN_SIZE_LIMIT)
    return SINTER_NODE_ERROR("spatial dim %d: padded size overflows", i);
  if (total < ek)
    return SINTER_NODE_ERROR(
        "spatial dim %d: padded input size %lld is smaller than the kernel "
        "extent %lld",
        i, (long long)total, (long long)ek);
  int64_t q = (total - ek) / s, r = (total - ek) % s, out = q + 1;
  if (w->ceil_mode && r != 0) {
    out = q + 2;
    /* A last window that would start in the end padding is dropped (PyTorch
     * and the ONNX reference agree on this). */
    int64_t start;
    if (!nn_mul(out - 1, s, &start))
      return SINTER_NODE_ERROR("spatial dim %d: output size overflows", i);
    if (start >= in + pb) out--;
  }
  *out_size = out;
  *out_pb = pb;
  *out_pe = pe;
  return NULL;
}

sinter_status_t sinter_nn_forward_dims(const nn_window_t *w, const sinter_dim_t *in,
                                       sinter_dim_t *out) {
  for (int32_t i = 0; i < w->nd; i++) {
    if (in[i].size >= 0 && w->k[i] >= 1) {
      int64_t o, pb, pe;
      SINTER_TRY(sinter_nn_forward_dim(w, i, in[i].size, &o, &pb, &pe));
      out[i] = nn_dim(o);
      continue;
    }
    /* With stride 1, SAME padding or pads that add up to the kernel extent
     * less one keep the size, so a symbolic dim survives. (read_window
     * checked that these sums do not overflow.) */
    bool same = w->auto_pad == NN_PAD_SAME_UPPER || w->auto_pad == NN_PAD_SAME_LOWER;
    bool keeps =
        w->s[i] == 1 && w->k[i] >= 1 && (same || w->pb[i] + w->pe[i] == (w->k[i] - 1) * w->d[i]);
    out[i] = keeps ? in[i] : nn_dim(-1);
  }
  return NULL;
}

void sinter_nn_geom_normalize(nn_geom_t *g, int32_t nd) {
  int32_t off = NN_MAX_SPATIAL - nd;
  for (int32_t i = nd - 1; i >= 0 && off > 0; i--) {
    g->in[i + off] = g->in[i];
    g->out[i + off] = g->out[i];
    g->k[i + off] = g->k[i];
    g->s[i + off] = g->s[i];
    g->d[i + off] = g->d[i];
    g->pb[i + off] = g->pb[i];
    g->pe[i + off] = g->pe[i];
  }
  for (int32_t i = 0; i < off; i++) {
    g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
    g->pb[i] = g->pe[i] = 0;
  }
}

sinter_status_t sinter_nn_forward_geom(const nn_window_t *w, const int64_t *in, nn_geom_t *g) {
  memset(g, 0, sizeof(*g));
  for (int32_t i = 0; i < w->nd; i++) {
    g->in[i] = in[i];
    g->k[i] = w->k[i];
    g->s[i] = w->s[i];
    g->d[i] = w->d[i];
    SINTER_TRY(sinter_nn_forward_dim(w, i, in[i], &g->out[i], &g->pb[i], &g->pe[i]));
  }
  sinter_nn_geom_normalize(g, w->nd);
  return NULL;
}

/* ---- type checks ------------------------------------------------------------- */

sinter_status_t sinter_nn_check_float(const sinter_type_t *t, const char *what) {
  switch (t->dtype) {
    case SINTER_DTYPE_UNDEFINED:
    case SINTER_DTYPE_F32:
    case SINTER_DTYPE_F16:
    case SINTER_DTYPE_BF16:
    case SINTER_DTYPE_F64: return NULL;
    default:
      return SINTER_NODE_ERROR("%s has dtype %s, expected f32, f16, bf16 or f64", what,
                               sinter_dtype_name(t->dtype));
  }
}

sinter_status_t sinter_nn_check_vec(const sinter_type_t *t, const char *what, sinter_dim_t n) {
  SINTER_TRY(sinter_nn_check_float(t, what));
  if (t->rank < 0) return NULL;
  if (t->rank != 1) return SINTER_NODE_ERROR("%s has rank %d, expected 1", what, t->rank);
  if (n.size >= 0 && t->dims[0].size >= 0 && t->dims[0].size != n.size)
    return SINTER_NODE_ERROR("%s has %lld elements, expected %lld", what,
                             (long long)t->dims[0].size, (long long)n.size);
  return NULL;
}

bool sinter_nn_prod(const int64_t *v, int32_t n, int64_t *out) {
  int64_t p = 1;
  for (int32_t i = 0; i < n; i++)
    if (v[i] < 0 || !nn_mul(p, v[i], &p)) return false;
  *out = p;
  return true;
}

/* ---- f32 views ------------------------------------------------------------------ */

const float *sinter_nn_f32_in(const sinter_tensor_t *t, float **tmp) {
  *tmp = NULL;
  if (t->dtype == SINTER_DTYPE_F32) return (const float *)t->data;
  *tmp = sinter_tensor_to_f32(t);
  return *tmp;
}

sinter_status_t sinter_nn_f32_out(sinter_kernel_ctx_t *ctx, int32_t index, sinter_dtype_t dtype,
                                  int32_t rank, const int64_t *dims, float **out_buf) {
  *out_buf = NULL;
  sinter_tensor_t *t = &ctx->out[index];
  bool ready = t->data && t->dtype == dtype && t->rank == rank;
  for (int32_t i = 0; ready && i < rank; i++) ready = t->dims[i] == dims[i];
  if (!ready) SINTER_TRY(sinter_kernel_alloc_output(ctx, index, dtype, rank, dims));
  if (t->dtype == SINTER_DTYPE_F32) {
    *out_buf = (float *)t->data;
    return NULL;
  }
  int64_t n = sinter_tensor_numel(t);
  *out_buf = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
  if (!*out_buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  return NULL;
}

void sinter_nn_f32_out_commit(sinter_kernel_ctx_t *ctx, int32_t index, float *buf) {
  sinter_tensor_t *t = &ctx->out[index];
  if (!buf || (float *)t->data == buf) return;
  sinter_tensor_from_f32(t, buf, sinter_tensor_numel(t));
  free(buf);
}

void sinter_nn_type_of(const sinter_tensor_t *t, sinter_type_t *out) {
  sinter_type_set_static(out, t->dtype, t->rank, t->dims);
}
