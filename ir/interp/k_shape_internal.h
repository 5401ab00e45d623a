/* Private to the shape family (k_shape*.c): the kernels that k_shape.c lists in its table but
 * defines in k_shape_index.c and k_shape_resize.c, and the element-movement and inference helpers
 * they share. Elements move by size, so every dtype works, packed 4-bit ones included. */
#ifndef SINTER_INTERP_K_SHAPE_INTERNAL_H
#define SINTER_INTERP_K_SHAPE_INTERNAL_H

#include "ir/interp/kernels.h"

/* ---- kernels defined outside k_shape.c ----------------------------------- */

/* k_shape_index.c */
sinter_status_t sinter_shape_infer_gather(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_gather(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_shape_infer_gather_elements(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_gather_elements(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_shape_infer_gather_nd(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_gather_nd(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_shape_infer_scatter_elements(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_scatter_elements(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_shape_infer_scatter_nd(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_scatter_nd(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_shape_infer_non_zero(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_non_zero(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_shape_infer_one_hot(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_one_hot(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_shape_infer_compress(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_compress(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_shape_infer_reverse_sequence(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_reverse_sequence(sinter_kernel_ctx_t *ctx);
/* k_shape_resize.c */
sinter_status_t sinter_shape_infer_resize(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_shape_run_resize(sinter_kernel_ctx_t *ctx);

/* ---- element movement ---------------------------------------------------- */

/* Bits per element of dtype; fails for element sizes the movers do not handle. *out_bits is set
 * either way, which keeps GCC from seeing a path where callers read it uninitialized. */
static inline sinter_status_t elem_bits(sinter_dtype_t dtype, int *out_bits) {
  int bits = sinter_dtype_bits(dtype);
  *out_bits = bits;
  if (bits != 4 && bits != 8 && bits != 16 && bits != 32 && bits != 64)
    return SINTER_NODE_ERROR("unsupported element type %s", sinter_dtype_name(dtype));
  return NULL;
}

/* Copies element si of src to element di of dst; 4-bit types move one nibble. */
static inline void move_elem(void *dst, int64_t di, const void *src, int64_t si, int bits) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  switch (bits) {
    case 8: d[di] = s[si]; return;
    case 16: memcpy(d + di * 2, s + si * 2, 2); return;
    case 32: memcpy(d + di * 4, s + si * 4, 4); return;
    case 64: memcpy(d + di * 8, s + si * 8, 8); return;
    default: {
      uint8_t v = s[si >> 1];
      v = (si & 1) ? (uint8_t)(v >> 4) : (uint8_t)(v & 0xf);
      uint8_t *b = d + (di >> 1);
      *b = (di & 1) ? (uint8_t)((*b & 0x0f) | (v << 4)) : (uint8_t)((*b & 0xf0) | v);
      return;
    }
  }
}

/* Copies count consecutive elements. */
static inline void move_elems(void *dst, int64_t di, const void *src, int64_t si, int64_t count,
                              int bits) {
  if (count <= 0) return;
  if (bits >= 8) {
    size_t es = (size_t)bits / 8;
    memcpy((uint8_t *)dst + (size_t)di * es, (const uint8_t *)src + (size_t)si * es,
           (size_t)count * es);
    return;
  }
  for (int64_t k = 0; k < count; k++) move_elem(dst, di + k, src, si + k, bits);
}

/* Element strides of a dense row-major tensor with the given dims. */
static inline void row_major_strides(int32_t rank, const int64_t *dims, int64_t *out) {
  int64_t s = 1;
  for (int32_t d = rank - 1; d >= 0; d--) {
    out[d] = s;
    s *= dims[d];
  }
}

/* Product of dims[lo, hi). */
static inline int64_t prod(const int64_t *dims, int32_t lo, int32_t hi) {
  int64_t p = 1;
  for (int32_t d = lo; d < hi; d++) p *= dims[d];
  return p;
}

/* ---- reading inputs ------------------------------------------------------ */

/* An input as seen by inference or a kernel: its type, and its data when known. */
typedef struct view_s {
  bool present; /* the input is given */
  bool known;   /* data is available */
  sinter_dtype_t dtype;
  int32_t rank;  /* -1: unknown */
  int64_t numel; /* -1: not static */
  const void *data;
} view_t;

/* The view of input i at inference; data is known for constant inputs. */
static inline view_t infer_view(const sinter_infer_ctx_t *ctx, int32_t i) {
  view_t v = {.rank = -1, .numel = -1};
  if (i >= ctx->n_inputs || !ctx->in[i]) return v;
  const sinter_type_t *t = ctx->in[i];
  v.present = true;
  v.dtype = t->dtype;
  v.rank = t->rank;
  int64_t n;
  if (sinter_type_numel(t, &n)) v.numel = n;
  size_t need;
  if (v.numel >= 0 && ctx->in_data[i] && sinter_dtype_storage_size(t->dtype, n, &need) &&
      need <= ctx->in_nbytes[i]) {
    v.known = true;
    v.data = ctx->in_data[i];
  }
  return v;
}

/* The view of input i of a running kernel. */
static inline view_t kernel_view(const sinter_kernel_ctx_t *ctx, int32_t i) {
  view_t v = {.rank = -1, .numel = -1};
  if (i >= ctx->n_inputs || !ctx->in[i]) return v;
  const sinter_tensor_t *t = ctx->in[i];
  v.present = true;
  v.dtype = t->dtype;
  v.rank = t->rank;
  v.numel = sinter_tensor_numel(t);
  size_t need;
  if (v.numel >= 0 && t->data && sinter_dtype_storage_size(t->dtype, v.numel, &need) &&
      need <= t->nbytes) {
    v.known = true;
    v.data = t->data;
  }
  return v;
}

/* ---- inference helpers --------------------------------------------------- */

static inline sinter_dim_t dim_const(int64_t n) {
  sinter_dim_t d = {n, NULL};
  return d;
}

static inline sinter_dim_t dim_unknown(void) {
  sinter_dim_t d = {-1, NULL};
  return d;
}

/* Normalizes a possibly negative axis into [0, rank); what names it in the error. */
static inline sinter_status_t norm_axis(int64_t axis, int32_t rank, const char *what,
                                        int32_t *out) {
  if (!sinter_norm_axis(axis, rank, out))
    return SINTER_NODE_ERROR("%s %lld is out of range for rank %d", what, (long long)axis, rank);
  return NULL;
}

#endif /* SINTER_INTERP_K_SHAPE_INTERNAL_H */
