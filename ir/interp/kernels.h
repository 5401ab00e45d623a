/* The contract between the IR drivers (shape inference, interpreter) and the
 * per-op implementations in ir/interp/k_*.c, plus the helpers they share.
 * Each op has one infer function (types in, types out) and one kernel
 * (tensors in, tensors out). The interpreter calls infer with concrete input
 * types and data before each kernel, so shape logic lives in one place. */
#ifndef SINTER_INTERP_KERNELS_H
#define SINTER_INTERP_KERNELS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir_impl.h"

/* Inputs to shape inference for one node. */
typedef struct sinter_infer_ctx_s {
  sinter_graph_t *graph;              /* interns new symbols; NULL at run time */
  const sinter_node_t *node;
  int32_t n_inputs;
  const sinter_type_t *const *in;     /* NULL entries: omitted optional inputs */
  const void *const *in_data;         /* known data (constants, or at run time all), else NULL */
  const size_t *in_nbytes;
  int32_t n_outputs;
  sinter_type_t *out;                 /* to fill: dtype and shape of each output */
} sinter_infer_ctx_t;

/* Inputs and outputs of one kernel call. */
typedef struct sinter_kernel_ctx_s {
  const sinter_node_t *node;
  int32_t n_inputs;
  const sinter_tensor_t *const *in;   /* NULL entries: omitted optional inputs */
  int32_t n_outputs;
  /* Outputs. When inference gave a static shape, dtype, dims and a zeroed
   * malloc'ed buffer are already set. Otherwise data is NULL and the kernel
   * calls sinter_kernel_alloc_output. */
  sinter_tensor_t *out;
} sinter_kernel_ctx_t;

typedef sinter_status_t (*sinter_infer_fn)(sinter_infer_ctx_t *ctx);
typedef sinter_status_t (*sinter_kernel_fn)(sinter_kernel_ctx_t *ctx);

/* One op's implementation. A family file exports a table ending in {0}. */
typedef struct sinter_op_impl_s {
  sinter_op_t op;
  sinter_infer_fn infer;
  sinter_kernel_fn run;
} sinter_op_impl_t;

/* The family tables, one per k_*.c file. */
extern const sinter_op_impl_t sinter_impl_elementwise[]; /* k_elementwise.c */
extern const sinter_op_impl_t sinter_impl_nn[];          /* k_nn.c: conv, pool, norm */
extern const sinter_op_impl_t sinter_impl_linalg[];      /* k_linalg.c: matmul, reduce, softmax */
extern const sinter_op_impl_t sinter_impl_shape[];       /* k_shape.c: data movement */
extern const sinter_op_impl_t sinter_impl_quant[];       /* k_quant.c: quantized ops */
extern const sinter_op_impl_t sinter_impl_fused_act[];   /* k_fused_act.c: FusedConv/Gemm/MatMul */
extern const sinter_op_impl_t sinter_impl_fused_norm[];  /* k_fused_norm.c: Silu, RMSNormalization */
extern const sinter_op_impl_t sinter_impl_fused_attn[];  /* k_fused_attn.c: Attention, FusedElementwise */
extern const sinter_op_impl_t sinter_impl_qfused[];      /* k_qfused.c: fold-qdq's integer ops */

/* Returns the implementation of op, or NULL when none exists. */
const sinter_op_impl_t *sinter_op_impl(sinter_op_t op);

/* Runs op's inference on ctx, checking arity first. */
sinter_status_t sinter_infer_node(sinter_infer_ctx_t *ctx);

/* Inference for one node of a graph, from the types stored on its values: the arrays ctx points
 * into live here, so a frame on the stack needs no allocation (and must not be copied). */
enum { SINTER_INFER_MAX_IO = 64 };
typedef struct sinter_infer_frame_s {
  const sinter_type_t *in[SINTER_INFER_MAX_IO];
  const void *data[SINTER_INFER_MAX_IO];
  size_t nbytes[SINTER_INFER_MAX_IO];
  sinter_type_t out[SINTER_INFER_MAX_IO]; /* inference's result, one per output */
  sinter_infer_ctx_t ctx;
} sinter_infer_frame_t;

/* Sets frame up to infer node: input types as stored, data for constant inputs, every output
 * unknown. graph interns new symbols (NULL: none may be made). Returns false, leaving frame unset,
 * when node has more than SINTER_INFER_MAX_IO inputs or outputs. graph and node are borrowed. */
bool sinter_infer_frame_init(sinter_infer_frame_t *frame, sinter_graph_t *graph,
                             const sinter_node_t *node);

/* The operand count and scalar-parameter count of op inside a
 * FusedElementwise body; false for ops a body cannot hold. The kernel
 * (k_fused_attn.c) decodes bodies and fuse-elementwise builds them by it. */
bool sinter_fused_body_op(sinter_op_t op, int32_t *out_arity, int32_t *out_params);

/* ---- errors -------------------------------------------------------------- */

/* An error about the node being inferred or run; the drivers add the node
 * name and op, so messages state only the reason. */
#define SINTER_NODE_ERROR(...) SINTER_ERROR(SINTER_INVALID_MODEL, __VA_ARGS__)
#define SINTER_NODE_UNSUPPORTED(...) SINTER_ERROR(SINTER_UNSUPPORTED, __VA_ARGS__)

/* For the code generator: the taps of a Resize node along axis for input dims
 * in_dims (rank) and its constant roi/scales/sizes (NULL when absent), as the
 * interpreter uses them: output x blends inputs idx2[2x], idx2[2x+1] with
 * weights w2[2x], w2[2x+1]. UNSUPPORTED for cubic, antialias, crop or more
 * than two taps. */
sinter_status_t sinter_resize_taps2(const sinter_node_t *node, int32_t rank, const int64_t *in_dims,
                                    const sinter_tensor_t *roi, const sinter_tensor_t *scales,
                                    const sinter_tensor_t *sizes, int32_t axis, int64_t out,
                                    int64_t *idx2, float *w2);

/* ---- scalar conversions -------------------------------------------------- */

float sinter_f16_to_f32(uint16_t h);
uint16_t sinter_f32_to_f16(float f);     /* round to nearest even */
float sinter_bf16_to_f32(uint16_t h);
uint16_t sinter_f32_to_bf16(float f);    /* round to nearest even */
float sinter_f8e4m3_to_f32(uint8_t v);
uint8_t sinter_f32_to_f8e4m3(float f);   /* round to nearest even, saturate */

/* Element i of data, converted. Integers convert exactly to int64; floats
 * round toward zero when loaded as int64 (as C does). */
double sinter_load_f64(const void *data, sinter_dtype_t dtype, int64_t i);
int64_t sinter_load_i64(const void *data, sinter_dtype_t dtype, int64_t i);
/* Stores v at element i, converting like C casts (floats round to nearest
 * even for f16/bf16/f8; integers wrap). */
void sinter_store_f64(void *data, sinter_dtype_t dtype, int64_t i, double v);
void sinter_store_i64(void *data, sinter_dtype_t dtype, int64_t i, int64_t v);

/* ---- tensors ------------------------------------------------------------- */

/* Allocates a zeroed buffer for output index of ctx with the given shape. */
sinter_status_t sinter_kernel_alloc_output(sinter_kernel_ctx_t *ctx, int32_t index,
                                           sinter_dtype_t dtype, int32_t rank,
                                           const int64_t *dims);

/* Returns a malloc'ed f32 copy of t (any numeric dtype); caller frees. */
float *sinter_tensor_to_f32(const sinter_tensor_t *t);

/* Stores n f32 values from src into t (whose dtype may be any numeric). */
void sinter_tensor_from_f32(sinter_tensor_t *t, const float *src, int64_t n);

/* Reads up to max integers of an integer tensor into out; false when the
 * tensor is not an integer tensor or holds more than max. */
bool sinter_tensor_read_ints(const sinter_tensor_t *t, int64_t *out, int64_t max,
                             int64_t *out_n);

/* Normalizes a possibly negative axis into [0, rank); false when out of
 * range. */
bool sinter_norm_axis(int64_t axis, int32_t rank, int32_t *out_axis);

/* ---- broadcasting -------------------------------------------------------- */

/* Multidirectional (NumPy) broadcasting of n types into out (dtype untouched).
 * Symbolic dims broadcast against 1 and against themselves. */
sinter_status_t sinter_broadcast_types(const sinter_type_t *const *types, int32_t n,
                                       sinter_type_t *out);

/* The output shape of NumPy matmul (MatMul and its quantized forms): a 1-D operand gains a unit
 * dim that is dropped again, batch dims broadcast. Sets out's rank and dims (rank -1 when an
 * input rank is unknown), leaving its dtype alone. */
sinter_status_t sinter_matmul_shape(const sinter_type_t *a, const sinter_type_t *b,
                                    sinter_type_t *out);

/* Element strides of t, aligned to out_rank dims with broadcast dims at 0. */
void sinter_broadcast_strides(const sinter_tensor_t *t, int32_t out_rank, const int64_t *out_dims,
                              int64_t *out_strides);

/* ---- inference helpers --------------------------------------------------- */

/* Reads integer input index when its data is known; false otherwise. */
bool sinter_infer_input_ints(const sinter_infer_ctx_t *ctx, int32_t index, int64_t *out,
                             int64_t max, int64_t *out_n);

/* Sets out to a type of the given dtype and rank with all dims unknown. */
void sinter_type_unknown_dims(sinter_type_t *out, sinter_dtype_t dtype, int32_t rank);

/* Sets out to a static type with the given dims. */
void sinter_type_set_static(sinter_type_t *out, sinter_dtype_t dtype, int32_t rank,
                            const int64_t *dims);

/* ---- shared compute ----------------------------------------------------- */

/* C[M,N] (+)= A[M,K] * B[K,N], all row-major with leading dimensions lda, ldb,
 * ldc. With accumulate false, C is overwritten. Cache-blocked plain C. */
void sinter_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc, bool accumulate);

#endif /* SINTER_INTERP_KERNELS_H */
