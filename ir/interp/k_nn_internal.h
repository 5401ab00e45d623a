/* Private to the nn family (k_nn*.c): sliding-window geometry shared by conv
 * and pooling, attribute readers, and f32 working views of tensors. Every op
 * computes in f32; other float dtypes are converted on the way in and out. */
#ifndef SINTER_INTERP_K_NN_INTERNAL_H
#define SINTER_INTERP_K_NN_INTERNAL_H

#include "ir/interp/kernels.h"

/* Conv and pooling support 1 to 3 spatial dims. Kernels work on a geometry
 * normalized to exactly 3 dims, with unit dims in front for 1-D and 2-D. */
enum { NN_MAX_SPATIAL = 3 };

typedef enum nn_auto_pad_e {
  NN_PAD_NOTSET = 0, /* explicit pads */
  NN_PAD_SAME_UPPER, /* output = ceil(in / stride), odd padding at the end */
  NN_PAD_SAME_LOWER, /* output = ceil(in / stride), odd padding at the start */
  NN_PAD_VALID,      /* no padding */
} nn_auto_pad_t;

/* A sliding window as given by the attributes (nd entries used). Kernel
 * sizes are -1 when they are not known yet (symbolic weight dims). */
typedef struct nn_window_s {
  int32_t nd;
  int64_t k[NN_MAX_SPATIAL];  /* kernel size */
  int64_t s[NN_MAX_SPATIAL];  /* stride, >= 1 */
  int64_t d[NN_MAX_SPATIAL];  /* dilation, >= 1 */
  int64_t pb[NN_MAX_SPATIAL]; /* explicit pads at the start, >= 0 */
  int64_t pe[NN_MAX_SPATIAL]; /* explicit pads at the end, >= 0 */
  nn_auto_pad_t auto_pad;
  bool ceil_mode;
} nn_window_t;

/* A fully resolved window over concrete sizes, normalized to 3 dims. */
typedef struct nn_geom_s {
  int64_t in[NN_MAX_SPATIAL], out[NN_MAX_SPATIAL];
  int64_t k[NN_MAX_SPATIAL], s[NN_MAX_SPATIAL], d[NN_MAX_SPATIAL];
  int64_t pb[NN_MAX_SPATIAL], pe[NN_MAX_SPATIAL]; /* may be negative (ConvTranspose) */
} nn_geom_t;

/* Reads kernel_shape, strides, dilations, pads, auto_pad (and ceil_mode when
 * with_ceil) for nd spatial dims. w_kernel (nd sizes, -1 unknown; or NULL)
 * are the kernel sizes implied by a weight tensor; kernel_shape must agree
 * with them. Without either, kernel_shape is required. */
sinter_status_t sinter_nn_read_window(const sinter_node_t *node, int32_t nd,
                                      const int64_t *w_kernel, bool with_ceil, nn_window_t *out);

/* Output size of spatial dim i of a forward window (conv or pool) for an
 * input of size in, with the pads it resolves to. Fails when the padded
 * input is smaller than the kernel or a size overflows. */
sinter_status_t sinter_nn_forward_dim(const nn_window_t *w, int32_t i, int64_t in,
                                      int64_t *out_size, int64_t *out_pb, int64_t *out_pe);

/* Output dims of a forward window for symbolic input dims: known sizes are
 * computed, a symbolic dim survives where the window keeps the size (unit
 * kernel and stride, no padding; or SAME with stride 1), else it becomes
 * unknown. */
sinter_status_t sinter_nn_forward_dims(const nn_window_t *w, const sinter_dim_t *in,
                                       sinter_dim_t *out);

/* Resolves a forward window over concrete input sizes into g. */
sinter_status_t sinter_nn_forward_geom(const nn_window_t *w, const int64_t *in, nn_geom_t *g);

/* Normalizes g (filled for the last nd slots' worth of dims, in [0, nd)) to
 * exactly 3 dims by shifting the entries back and filling unit dims in front. */
void sinter_nn_geom_normalize(nn_geom_t *g, int32_t nd);

/* Checks that a tensor type is usable as a float input; UNDEFINED passes. */
sinter_status_t sinter_nn_check_float(const sinter_type_t *t, const char *what);

/* Checks that a parameter (scale, bias, mean...) is a rank-1 float tensor of
 * n elements (n < 0: unknown, any size). */
sinter_status_t sinter_nn_check_vec(const sinter_type_t *t, const char *what, sinter_dim_t n);

/* Copies a dim, keeping the symbol. */
static inline sinter_dim_t nn_dim(int64_t size) {
  sinter_dim_t d = {size, NULL};
  return d;
}

/* ---- overflow-safe arithmetic ------------------------------------------- */

/* Padded sizes, kernel extents and output sizes above this are rejected, so
 * that every index sum the kernels form stays far from overflowing. */
#define NN_SIZE_LIMIT (INT64_C(1) << 62)

static inline bool nn_add(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_add_overflow(a, b, r);
}
static inline bool nn_mul(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_mul_overflow(a, b, r);
}
/* Product of n sizes; false on overflow. */
bool sinter_nn_prod(const int64_t *v, int32_t n, int64_t *out);

/* ---- f32 views -------------------------------------------------------------- */

/* Returns t's data as f32: t's own buffer when it is f32, else a converted
 * copy stored in *tmp (the caller frees *tmp). NULL when out of memory. */
const float *sinter_nn_f32_in(const sinter_tensor_t *t, float **tmp);

/* Makes sure output index exists with the given shape (the interpreter
 * usually allocated it already) and returns an f32 buffer for it: its own
 * data when it is f32, else a zeroed temporary that nn_f32_out_commit
 * converts and frees. */
sinter_status_t sinter_nn_f32_out(sinter_kernel_ctx_t *ctx, int32_t index, sinter_dtype_t dtype,
                                  int32_t rank, const int64_t *dims, float **out_buf);
void sinter_nn_f32_out_commit(sinter_kernel_ctx_t *ctx, int32_t index, float *buf);

/* A static type of tensor t (for running the shared planning code). */
void sinter_nn_type_of(const sinter_tensor_t *t, sinter_type_t *out);

/* ---- per-file entry points --------------------------------------------------- */

sinter_status_t sinter_nn_conv_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_conv_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_nn_conv_transpose_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_conv_transpose_run(sinter_kernel_ctx_t *ctx);

sinter_status_t sinter_nn_pool_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_pool_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_nn_global_pool_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_global_pool_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_nn_lrn_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_lrn_run(sinter_kernel_ctx_t *ctx);

sinter_status_t sinter_nn_batch_norm_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_batch_norm_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_nn_layer_norm_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_layer_norm_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_nn_instance_norm_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_instance_norm_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_nn_group_norm_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_group_norm_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_nn_lp_norm_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_lp_norm_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_nn_mvn_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_nn_mvn_run(sinter_kernel_ctx_t *ctx);

#endif /* SINTER_INTERP_K_NN_INTERNAL_H */
