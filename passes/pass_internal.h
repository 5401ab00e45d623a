/* What pass implementations share: the built-in pass table, argument
 * storage, and small pattern-matching and rewriting helpers over the IR. */
#ifndef SINTER_PASS_INTERNAL_H
#define SINTER_PASS_INTERNAL_H

#include "ir/interp/kernels.h"
#include "ir/ir_impl.h"
#include "sinter/passes.h"

/* ---- built-in passes: one file each, named after the pass ---------------- */

extern const sinter_pass_info_t sinter_pass_infer_shapes;    /* passes/infer_shapes.c */
extern const sinter_pass_info_t sinter_pass_canonicalize;    /* passes/canonicalize.c */
extern const sinter_pass_info_t sinter_pass_fold_constants;  /* passes/fold_constants.c */
extern const sinter_pass_info_t sinter_pass_dce;             /* passes/dce.c */
extern const sinter_pass_info_t sinter_pass_cse;             /* passes/cse.c */
extern const sinter_pass_info_t sinter_pass_sink_transposes; /* passes/sink_transposes.c */
extern const sinter_pass_info_t sinter_pass_fold_batchnorm;  /* passes/fold_batchnorm.c */
extern const sinter_pass_info_t sinter_pass_fuse_conv_act;   /* passes/fuse_conv_act.c */
extern const sinter_pass_info_t sinter_pass_fuse_gemm_act;   /* passes/fuse_gemm_act.c */
extern const sinter_pass_info_t sinter_pass_fuse_hardswish;  /* passes/fuse_hardswish.c */
extern const sinter_pass_info_t sinter_pass_fuse_gelu;       /* passes/fuse_gelu.c */
extern const sinter_pass_info_t sinter_pass_fuse_silu;       /* passes/fuse_silu.c */
extern const sinter_pass_info_t sinter_pass_fuse_layernorm;  /* passes/fuse_layernorm.c */
extern const sinter_pass_info_t sinter_pass_fuse_rmsnorm;    /* passes/fuse_rmsnorm.c */
extern const sinter_pass_info_t sinter_pass_fuse_attention;  /* passes/fuse_attention.c */
extern const sinter_pass_info_t sinter_pass_fuse_elementwise;/* passes/fuse_elementwise.c */
extern const sinter_pass_info_t sinter_pass_decompose_fused; /* passes/decompose_fused.c */
extern const sinter_pass_info_t sinter_pass_convert_precision; /* passes/convert_precision.c */
extern const sinter_pass_info_t sinter_pass_quantize;        /* passes/quantize.c */
extern const sinter_pass_info_t sinter_pass_insert_fake_quant; /* passes/insert_fake_quant.c */
extern const sinter_pass_info_t sinter_pass_fold_qdq;        /* passes/fold_qdq.c */

/* ---- decomposition of Sinter's own ops back into standard ONNX ------------
 * Each replaces node (an op of domain ai.sinter) with standard ops computing
 * the same function, inserted before node, rewires its uses, and removes it.
 * Defined next to the pass that creates the op. */
typedef sinter_status_t (*sinter_decompose_fn)(sinter_graph_t *graph, sinter_node_t *node);
sinter_status_t sinter_decompose_fused_conv(sinter_graph_t *graph, sinter_node_t *node);    /* fuse_conv_act.c */
sinter_status_t sinter_decompose_fused_gemm(sinter_graph_t *graph, sinter_node_t *node);    /* fuse_gemm_act.c */
sinter_status_t sinter_decompose_fused_matmul(sinter_graph_t *graph, sinter_node_t *node);  /* fuse_gemm_act.c */
sinter_status_t sinter_decompose_silu(sinter_graph_t *graph, sinter_node_t *node);          /* fuse_silu.c */
sinter_status_t sinter_decompose_rms_normalization(sinter_graph_t *graph, sinter_node_t *node); /* fuse_rmsnorm.c */
sinter_status_t sinter_decompose_attention(sinter_graph_t *graph, sinter_node_t *node);     /* fuse_attention.c */
sinter_status_t sinter_decompose_fused_elementwise(sinter_graph_t *graph, sinter_node_t *node); /* fuse_elementwise.c */
sinter_status_t sinter_decompose_qlinear_conv_act(sinter_graph_t *graph, sinter_node_t *node);   /* fold_qdq.c */
sinter_status_t sinter_decompose_qlinear_matmul_act(sinter_graph_t *graph, sinter_node_t *node); /* fold_qdq.c */
sinter_status_t sinter_decompose_qlinear_add(sinter_graph_t *graph, sinter_node_t *node);        /* fold_qdq.c */
sinter_status_t sinter_decompose_qlinear_mul(sinter_graph_t *graph, sinter_node_t *node);        /* fold_qdq.c */
sinter_status_t sinter_decompose_qlinear_global_average_pool(sinter_graph_t *graph,
                                                             sinter_node_t *node); /* fold_qdq.c */

/* ---- pattern helpers (passes/pattern.c) ----------------------------------- */

/* The producer of v when it is a node of op op (any op for SINTER_OP_INVALID). */
sinter_node_t *sinter_pat_producer(const sinter_value_t *v, sinter_op_t op);

/* True when v has exactly one use and is not a graph output: rewriting its
 * producer away cannot change anything else. */
bool sinter_pat_single_use(const sinter_value_t *v);

/* True when v is a constant. */
bool sinter_pat_is_const(const sinter_value_t *v);

/* When v is a float constant whose elements all equal one value, stores it
 * (as double) and returns true. */
bool sinter_pat_const_splat(const sinter_value_t *v, double *out_value);

/* Reads a constant's elements as f32 into a malloc'ed array (caller frees);
 * NULL when v is not a numeric constant. */
float *sinter_pat_const_f32(const sinter_value_t *v, int64_t *out_count);

/* Adds an f32 constant named after hint (made unique), with the given shape. */
sinter_status_t sinter_pat_add_const_f32(sinter_graph_t *graph, const char *hint, int32_t rank,
                                         const int64_t *dims, const float *data,
                                         sinter_value_t **out_value);

/* Adds an i64 constant (for shapes and axes) named after hint. */
sinter_status_t sinter_pat_add_const_i64(sinter_graph_t *graph, const char *hint, int32_t rank,
                                         const int64_t *dims, const int64_t *data,
                                         sinter_value_t **out_value);

/* Adds a rank-0 constant of dtype dt holding v (converted as C casts do),
 * named after hint. */
sinter_status_t sinter_pat_add_scalar(sinter_graph_t *graph, const char *hint, sinter_dtype_t dt,
                                      double v, sinter_value_t **out_value);

/* The permutation of a Transpose node (the reversal when perm is absent);
 * false when the rank is unknown or perm is not a permutation. */
bool sinter_pat_transpose_perm(const sinter_node_t *node, int64_t *perm, int32_t *out_rank);

/* Makes a name unique in graph from hint, written into buf. */
const char *sinter_pat_unique_name(const sinter_graph_t *graph, const char *hint, char *buf,
                                   size_t cap);

/* Replaces every use of old_node's output `slot` with v, then removes
 * old_node if none of its outputs is used any more. */
sinter_status_t sinter_pat_replace_output(sinter_graph_t *graph, sinter_node_t *old_node,
                                          int32_t slot, sinter_value_t *v);

/* Removes node and then, transitively, producers of its inputs left without
 * uses (constants included). Adds the number of nodes removed to *removed. */
sinter_status_t sinter_pat_erase_dead(sinter_graph_t *graph, sinter_node_t *node,
                                      int64_t *removed);

/* Runs shape inference for one node (with constant data), storing output
 * types. */
sinter_status_t sinter_pat_infer_node(sinter_graph_t *graph, sinter_node_t *node);

/* True when the value's type is a float dtype. */
bool sinter_pat_is_float(const sinter_value_t *v);

#endif /* SINTER_PASS_INTERNAL_H */
