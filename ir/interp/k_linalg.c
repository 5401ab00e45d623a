/* Reference kernels, linalg family: the op table for MatMul, Gemm, Einsum,
 * the softmaxes, reductions, ArgMax/ArgMin, TopK, CumSum and the two losses.
 * The implementations live in k_linalg_*.c. */
#include "ir/interp/k_linalg_internal.h"

const sinter_op_impl_t sinter_impl_linalg[] = {
    {SINTER_OP_MATMUL, sinter_linalg_matmul_infer, sinter_linalg_matmul_run},
    {SINTER_OP_GEMM, sinter_linalg_gemm_infer, sinter_linalg_gemm_run},
    {SINTER_OP_EINSUM, sinter_linalg_einsum_infer, sinter_linalg_einsum_run},
    {SINTER_OP_SOFTMAX, sinter_linalg_softmax_infer, sinter_linalg_softmax_run},
    {SINTER_OP_LOG_SOFTMAX, sinter_linalg_softmax_infer, sinter_linalg_softmax_run},
    {SINTER_OP_HARDMAX, sinter_linalg_softmax_infer, sinter_linalg_softmax_run},
    {SINTER_OP_REDUCE_MEAN, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_SUM, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_MAX, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_MIN, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_PROD, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_L1, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_L2, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_SUM_SQUARE, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_LOG_SUM, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_REDUCE_LOG_SUM_EXP, sinter_linalg_reduce_infer, sinter_linalg_reduce_run},
    {SINTER_OP_ARG_MAX, sinter_linalg_arg_infer, sinter_linalg_arg_run},
    {SINTER_OP_ARG_MIN, sinter_linalg_arg_infer, sinter_linalg_arg_run},
    {SINTER_OP_TOPK, sinter_linalg_topk_infer, sinter_linalg_topk_run},
    {SINTER_OP_CUMSUM, sinter_linalg_cumsum_infer, sinter_linalg_cumsum_run},
    {SINTER_OP_SOFTMAX_CROSS_ENTROPY_LOSS, sinter_linalg_loss_infer, sinter_linalg_loss_run},
    {SINTER_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, sinter_linalg_loss_infer, sinter_linalg_loss_run},
    {0},
};
