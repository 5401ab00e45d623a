/* Private to the linalg family (k_linalg*.c): the kernels that k_linalg.c lists in its table,
 * and the small tensor helpers the implementation files share. */
#ifndef SINTER_INTERP_K_LINALG_INTERNAL_H
#define SINTER_INTERP_K_LINALG_INTERNAL_H

#include "ir/interp/kernels.h"

/* ---- kernels ------------------------------------------------------------- */

/* k_linalg_matmul.c */
sinter_status_t sinter_linalg_matmul_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_matmul_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_linalg_gemm_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_gemm_run(sinter_kernel_ctx_t *ctx);
/* k_linalg_einsum.c */
sinter_status_t sinter_linalg_einsum_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_einsum_run(sinter_kernel_ctx_t *ctx);
/* k_linalg_softmax.c */
sinter_status_t sinter_linalg_softmax_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_softmax_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_linalg_loss_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_loss_run(sinter_kernel_ctx_t *ctx);
/* k_linalg_reduce.c */
sinter_status_t sinter_linalg_reduce_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_reduce_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_linalg_arg_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_arg_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_linalg_topk_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_topk_run(sinter_kernel_ctx_t *ctx);
sinter_status_t sinter_linalg_cumsum_infer(sinter_infer_ctx_t *ctx);
sinter_status_t sinter_linalg_cumsum_run(sinter_kernel_ctx_t *ctx);

/* ---- helpers ------------------------------------------------------------- */

static inline bool is_numeric(sinter_dtype_t d) {
  return sinter_dtype_is_float(d) || sinter_dtype_is_int(d);
}

/* Uses the output buffer the interpreter prepared when it has this dtype and shape, or
 * allocates one. */
static inline sinter_status_t ensure_output(sinter_kernel_ctx_t *ctx, int32_t index,
                                            sinter_dtype_t dtype, int32_t rank,
                                            const int64_t *dims) {
  sinter_tensor_t *o = &ctx->out[index];
  if (o->data && o->dtype == dtype && o->rank == rank) {
    bool same = true;
    for (int32_t d = 0; d < rank; d++) same = same && o->dims[d] == dims[d];
    if (same) return NULL;
  }
  return sinter_kernel_alloc_output(ctx, index, dtype, rank, dims);
}

/* Returns a malloc'ed int64 copy of an integer tensor (caller frees); NULL on OOM. */
static inline int64_t *tensor_to_i64(const sinter_tensor_t *t) {
  int64_t n = sinter_tensor_numel(t);
  if (n < 0) return NULL;
  int64_t *r = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  if (!r) return NULL;
  for (int64_t i = 0; i < n; i++) r[i] = sinter_load_i64(t->data, t->dtype, i);
  return r;
}

/* Returns a malloc'ed double copy of a float tensor, any float dtype (caller frees); NULL on
 * OOM. */
static inline double *tensor_to_f64(const sinter_tensor_t *t) {
  int64_t n = sinter_tensor_numel(t);
  if (n < 0) return NULL;
  double *r = malloc(sizeof(double) * (size_t)(n ? n : 1));
  if (!r) return NULL;
  if (t->dtype == SINTER_DTYPE_F32)
    for (int64_t i = 0; i < n; i++) r[i] = ((const float *)t->data)[i];
  else
    for (int64_t i = 0; i < n; i++) r[i] = sinter_load_f64(t->data, t->dtype, i);
  return r;
}

#endif /* SINTER_INTERP_K_LINALG_INTERNAL_H */
