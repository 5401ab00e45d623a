/* Matching and rewriting helpers shared by the expanded-form recognizers
 * (fuse-hardswish, fuse-gelu, fuse-silu, fuse-layernorm, fuse-rmsnorm): tolerant
 * constant tests, single-user walks, a scaled-product matcher and the
 * insert-infer-replace step every fusion ends with. */
#ifndef SINTER_PASSES_FUSE_MATCH_H
#define SINTER_PASSES_FUSE_MATCH_H

#include "passes/pass_internal.h"

/* Relative tolerance on matched f32 (and f64) constants: exporters print them
 * with about seven significant digits (1.4142135, 0.70710678, 0.044715).
 * f16 and bf16 constants get about two units in their last place instead
 * (f16 0.044715 is 0.04471 with an error of 4e-4). */
#define SINTER_FM_REL_TOL 1e-4
#define SINTER_FM_REL_TOL_F16 1e-3
#define SINTER_FM_REL_TOL_BF16 8e-3

/* Follows Identity nodes back from v to a constant; NULL when it ends
 * elsewhere. */
sinter_value_t *sinter_fm_const(sinter_value_t *v);

/* True when a, a value stored as dtype, is within that dtype's relative
 * tolerance of target (the same number as an absolute bound when target is 0). */
bool sinter_fm_near(double a, double target, sinter_dtype_t dtype);

/* True when v is a one-element numeric constant (through Identity) near
 * target, which as a binary operand of x cannot change x's shape. */
bool sinter_fm_scalar(sinter_value_t *v, double target, const sinter_value_t *x);

/* Reads a one-element float or integer constant (through Identity); false
 * otherwise. */
bool sinter_fm_scalar_value(sinter_value_t *v, double *out_value);

/* The input of a two-input node other than v, or NULL when v is not one
 * of them. For op(v, v) it returns v. */
sinter_value_t *sinter_fm_other(const sinter_node_t *n, const sinter_value_t *v);

/* The node using v when v has exactly one use and is not a graph output. */
sinter_node_t *sinter_fm_sole_user(const sinter_value_t *v);

/* The producer of v when it is of op op and v feeds nothing else (v is an
 * intermediate the fusion may delete). */
sinter_node_t *sinter_fm_sole_producer(const sinter_value_t *v, sinter_op_t op);

/* When n is Mul(v, c) or Mul(c, v) with c near k, or Div(v, c) with c near
 * 1/k: true (x is the value whose shape must not change). */
bool sinter_fm_is_scale(const sinter_node_t *n, const sinter_value_t *v, double k,
                        const sinter_value_t *x);

/* When n is op(a, c) (or op(c, a) for Add and Mul) with c a scalar constant
 * near target, returns a; else NULL. */
sinter_value_t *sinter_fm_with_scalar(const sinter_node_t *n, sinter_op_t op, double target);

/* Matches the three-factor product x * core * k in the orders exporters
 * write: (x*core)*k, x*(core*k), (x*k)*core, with Div by 1/k for *k. core
 * and the intermediate products must have a single use. Returns the node
 * computing the product, or NULL. */
sinter_node_t *sinter_fm_match_product(sinter_value_t *core, sinter_value_t *x, double k);

/* True for the float dtypes the fused kernels take (f32, f16, bf16, f64). */
bool sinter_fm_float(const sinter_value_t *v);

/* True when b may stand for a, a value of the same dtype and shape: known
 * ranks equal and known sizes equal. */
bool sinter_fm_same_type(const sinter_type_t *a, const sinter_type_t *b);

/* Reads the axes of a Reduce* node (input 1, or the legacy attribute) and
 * checks keepdims=1. When they are the trailing dims [k, rank) of a rank-rank
 * input, stores k and returns true. */
bool sinter_fm_trailing_axes(const sinter_node_t *reduce, int32_t rank, int32_t *out_first);

/* Checks that axes of two Reduce nodes are equal after normalization. */
bool sinter_fm_same_axes(const sinter_node_t *a, const sinter_node_t *b, int32_t rank);

/* The candidate nodes of op (or op2, when not SINTER_OP_INVALID) in graph
 * order, in a malloc'ed array the caller frees. The array outlives rewrites:
 * check sinter_fm_alive before using an entry. */
sinter_status_t sinter_fm_collect(const sinter_graph_t *graph, sinter_op_t op, sinter_op_t op2,
                                  sinter_node_t ***out_nodes, int32_t *out_count);

/* Tries one rewrite rooted at candidate; sets *out_done when it fired. */
typedef sinter_status_t (*sinter_fm_try_fn)(sinter_graph_t *graph, sinter_node_t *candidate,
                                            bool *out_done);

/* Runs try on every node of op or op2 present when the walk starts (in graph
 * order, skipping nodes an earlier rewrite removed), counting fusions. */
sinter_status_t sinter_fm_run(sinter_graph_t *graph, sinter_op_t op, sinter_op_t op2,
                              sinter_fm_try_fn try_fn, sinter_pass_counters_t *counters);

/* False once node has been removed from its graph. */
bool sinter_fm_alive(const sinter_node_t *node);

/* A per-channel constant p (through Identity) that multiplies or adds to x
 * normalized over dims [first, rank): same dtype as x, static shape, at most
 * rank dims, 1 on the dims before first and 1 or x's size on the others.
 * Stores in *out a constant of the normalized rank holding the same data
 * (p itself when it already has that rank or less, else a reshaped copy). */
sinter_status_t sinter_fm_norm_param(sinter_graph_t *graph, sinter_value_t *p,
                                     const sinter_value_t *x, int32_t first, bool *out_ok,
                                     sinter_value_t **out);

/* Adds a constant of x's dtype and the normalized dims [first, rank) of x,
 * every element value; fails unless those dims are static. */
sinter_status_t sinter_fm_fill_param(sinter_graph_t *graph, const sinter_value_t *x, int32_t first,
                                     double value, const char *hint, sinter_value_t **out);

/* Adds a one-element constant (rank 0) of dtype holding value. */
sinter_status_t sinter_fm_scalar_const(sinter_graph_t *graph, sinter_dtype_t dtype, double value,
                                       const char *hint, sinter_value_t **out);

/* Inserts a node of op over ins before `before`, named after before's scope
 * ("/a/b/Add_1" gives "/a/b/<suffix>"), unique among the graph's nodes. */
sinter_status_t sinter_fm_insert(sinter_graph_t *graph, sinter_node_t *before, sinter_op_t op,
                                 const char *suffix, sinter_value_t *const *ins, int32_t n_ins,
                                 sinter_node_t **out_node);

/* Infers node's output type; on success points every use of last's output
 * at node's output (which takes over its name) and erases last and every
 * producer left without uses. When inference rejects node, removes it,
 * leaves the graph as it was and sets *out_done false. */
sinter_status_t sinter_fm_commit(sinter_graph_t *graph, sinter_node_t *last, sinter_node_t *node,
                                 bool *out_done);

#endif /* SINTER_PASSES_FUSE_MATCH_H */
