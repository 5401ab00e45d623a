/* Helpers shared by fold-batchnorm, fuse-conv-act and fuse-gemm-act: matching
 * an activation epilogue, writing and expanding the epilogue attributes of the
 * fused ops (FusedConv, FusedGemm, FusedMatMul), and constants of any float
 * dtype. The attribute schema is in docs/ops-sinter.md. */
#ifndef SINTER_PASSES_FUSE_ACT_UTIL_H
#define SINTER_PASSES_FUSE_ACT_UTIL_H

#include "ir/interp/k_fused_act.h"
#include "passes/pass_internal.h"

/* The choices and default of the `acts` option of both fusion passes. */
#define SINTER_FA_ACTS "relu|clip|leaky-relu|sigmoid|hard-sigmoid|hard-swish|gelu|silu|tanh"

/* An activation found after a value. */
typedef struct sinter_fa_match_s {
  sinter_fused_act_t act;
  sinter_node_t *last; /* the node whose output the fused op takes over */
} sinter_fa_match_t;

/* True for the dtypes the passes fold and fuse: f32, f16 and bf16. */
bool sinter_fa_dtype_ok(sinter_dtype_t dtype);

/* Matches an activation that is the only consumer of v: Relu, Clip with
 * constant scalar (or omitted) bounds, LeakyRelu, Sigmoid, HardSigmoid,
 * HardSwish, Gelu, Silu (ai.sinter), Tanh, or SiLU written as
 * Mul(v, Sigmoid(v)). Only activations selected in args' `acts` match (all
 * when args is NULL). v must not be a graph output. */
bool sinter_fa_match(const sinter_value_t *v, const sinter_pass_args_t *args,
                     sinter_fa_match_t *out);

/* Copies every attribute of src to dst, leaving out the epilogue ones
 * (activation, activation_params, approximate) when skip_epilogue. */
sinter_status_t sinter_fa_copy_attrs(sinter_node_t *dst, const sinter_node_t *src,
                                     bool skip_epilogue);

/* Writes act as the epilogue attributes of node (nothing for NONE). */
sinter_status_t sinter_fa_set_attrs(sinter_node_t *node, const sinter_fused_act_t *act);

/* Adds a constant of a float dtype holding n values (converted from double,
 * rounding to nearest even) with the given shape, named after hint. */
sinter_status_t sinter_fa_add_const(sinter_graph_t *graph, const char *hint, sinter_dtype_t dtype,
                                    int32_t rank, const int64_t *dims, const double *vals,
                                    sinter_value_t **out_value);

/* Reads a numeric constant's elements as doubles into a malloc'ed array the
 * caller frees; NULL when v is not a constant or on out of memory. */
double *sinter_fa_const_f64(const sinter_value_t *v, int64_t *out_count);

/* Inserts a node of op before `before` with the given inputs, named like
 * `like` and carrying its attributes less the epilogue ones, plus act's
 * epilogue when act is not NULL; then infers its output type. */
sinter_status_t sinter_fa_insert(sinter_graph_t *graph, sinter_node_t *before, sinter_op_t op,
                                 const sinter_node_t *like, const sinter_fused_act_t *act,
                                 sinter_value_t *const *inputs, int32_t n_inputs,
                                 sinter_node_t **out_node);

/* Emits standard ONNX ops before `before` that apply act to x: Relu, Clip
 * with constant bounds, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh,
 * Gelu in its erf (or tanh) form and SiLU as x * Sigmoid(x), so the result
 * needs no opset newer than 14. *out is the result (x itself for NONE).
 * name names the new nodes ("name/Relu"). */
sinter_status_t sinter_fa_expand(sinter_graph_t *graph, sinter_node_t *before,
                                 const sinter_fused_act_t *act, sinter_value_t *x, const char *name,
                                 sinter_value_t **out);

/* Makes v take over the output of `last`: every use (and graph output slot)
 * of last's output now reads v, the nodes left dead are erased, and v takes
 * the old value's name when it has none. */
sinter_status_t sinter_fa_replace(sinter_graph_t *graph, sinter_node_t *last, sinter_value_t *v);

/* Renames v to name when no other value of graph uses that name. */
sinter_status_t sinter_fa_adopt_name(sinter_graph_t *graph, sinter_value_t *v, const char *name);

#endif /* SINTER_PASSES_FUSE_ACT_UTIL_H */
