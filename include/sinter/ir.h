/* The Sinter IR: a graph of SSA values and nodes, with typed attributes,
 * symbolic shapes, quantization parameters and constant tensors.
 * Everything a graph owns lives in its arena and is freed with the graph. */
#ifndef SINTER_IR_H
#define SINTER_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sinter/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dtypes ------------------------------------------------------------- */

/* Element types. The numbering is Sinter's own, not ONNX's. */
typedef enum sinter_dtype_e {
  SINTER_DTYPE_UNDEFINED = 0, /* not yet inferred */
  SINTER_DTYPE_F32,           /* IEEE binary32 */
  SINTER_DTYPE_F16,           /* IEEE binary16 */
  SINTER_DTYPE_BF16,          /* bfloat16 */
  SINTER_DTYPE_F8E4M3,        /* float8 e4m3fn (finite, NaN only) */
  SINTER_DTYPE_F64,           /* IEEE binary64 (conformance data uses it) */
  SINTER_DTYPE_I64,           /* signed 64-bit integer */
  SINTER_DTYPE_I32,           /* signed 32-bit integer */
  SINTER_DTYPE_I16,           /* signed 16-bit integer */
  SINTER_DTYPE_I8,            /* signed 8-bit integer */
  SINTER_DTYPE_U8,            /* unsigned 8-bit integer */
  SINTER_DTYPE_U16,           /* unsigned 16-bit integer */
  SINTER_DTYPE_U32,           /* unsigned 32-bit integer */
  SINTER_DTYPE_U64,           /* unsigned 64-bit integer */
  SINTER_DTYPE_I4,            /* signed 4-bit, two per byte, low nibble first */
  SINTER_DTYPE_U4,            /* unsigned 4-bit, two per byte, low nibble first */
  SINTER_DTYPE_BOOL,          /* one byte, 0 or 1 */
  SINTER_DTYPE_COUNT
} sinter_dtype_t;

/* Returns the short name ("f32", "i4", ...) or "?" for an invalid dtype. */
const char *sinter_dtype_name(sinter_dtype_t dtype);

/* Parses a short name; returns SINTER_DTYPE_UNDEFINED when unknown. */
sinter_dtype_t sinter_dtype_from_name(const char *name);

/* Returns the size of one element in bits (4 for i4/u4, 8 for bool). */
int sinter_dtype_bits(sinter_dtype_t dtype);

/* True for f32, f16, bf16, f8e4m3 and f64. */
bool sinter_dtype_is_float(sinter_dtype_t dtype);

/* True for the signed and unsigned integer types, including i4/u4. */
bool sinter_dtype_is_int(sinter_dtype_t dtype);

/* Maps an ONNX TensorProto.DataType number to a dtype; UNDEFINED for
 * numbers Sinter has no dtype for (string, complex, other float8 kinds).
 * Attributes that name a dtype (Cast's "to", EyeLike's "dtype") keep ONNX's
 * numbering in the IR. */
sinter_dtype_t sinter_dtype_from_onnx(int64_t onnx_type);

/* The ONNX TensorProto.DataType number of dtype; 0 for UNDEFINED. */
int64_t sinter_dtype_to_onnx(sinter_dtype_t dtype);

/* Returns the byte size of count elements, rounding packed 4-bit types up;
 * false on overflow. */
bool sinter_dtype_storage_size(sinter_dtype_t dtype, int64_t count, size_t *out_bytes);

/* ---- shapes and types -------------------------------------------------- */

#define SINTER_MAX_RANK 8

/* One dimension: a constant (size >= 0, sym NULL), a named symbol such as
 * the batch "N" (size -1, sym set), or unknown (size -1, sym NULL). */
typedef struct sinter_dim_s {
  int64_t size;
  const char *sym; /* interned in the owning graph's arena */
} sinter_dim_t;

/* A tensor type: dtype plus shape. rank -1 means the rank is unknown. */
typedef struct sinter_type_s {
  sinter_dtype_t dtype;
  int32_t rank;
  sinter_dim_t dims[SINTER_MAX_RANK];
} sinter_type_t;

/* True when every dim is a constant and the rank is known. */
bool sinter_type_is_static(const sinter_type_t *type);

/* Product of the dims of a static type; false on overflow or when not
 * static. */
bool sinter_type_numel(const sinter_type_t *type, int64_t *out_numel);

/* Writes "f32[N,3,224,224]" into buf (always terminated); returns buf. */
char *sinter_type_format(const sinter_type_t *type, char *buf, size_t cap);

/* A concrete tensor: dtype, dims and data in caller-chosen storage.
 * Used for attribute tensors, interpreter inputs and outputs. */
typedef struct sinter_tensor_s {
  sinter_dtype_t dtype;
  int32_t rank;
  int64_t dims[SINTER_MAX_RANK];
  void *data;
  size_t nbytes;
} sinter_tensor_t;

/* Number of elements of t (1 for a scalar); -1 on overflow. */
int64_t sinter_tensor_numel(const sinter_tensor_t *t);

/* ---- quantization parameters ------------------------------------------- */

/* How a quantized tensor's scales apply. */
typedef enum sinter_quant_scheme_e {
  SINTER_QUANT_NONE = 0,    /* not quantized */
  SINTER_QUANT_PER_TENSOR,  /* one scale and zero point */
  SINTER_QUANT_PER_AXIS,    /* one per index along axis */
  SINTER_QUANT_PER_GROUP,   /* one per group_size consecutive elements along axis */
} sinter_quant_scheme_t;

/* Quantization parameters attached to a value. Arrays live in the graph's
 * arena once attached. */
typedef struct sinter_quant_params_s {
  sinter_quant_scheme_t scheme;
  int32_t bits;        /* 4 or 8 (or 16, 32 for biases) */
  int32_t axis;        /* per-axis and per-group only */
  int32_t group_size;  /* per-group only */
  int64_t count;       /* number of scales (and zero points) */
  const float *scales;
  const int32_t *zero_points; /* NULL means all zero */
} sinter_quant_params_t;

/* ---- ops ---------------------------------------------------------------- */

/* Op kinds, generated from ir/ops.def. */
typedef enum sinter_op_e {
  SINTER_OP_INVALID = 0,
#define OP(e, onnx, dom, mi, ma, mo, mao, tr) SINTER_OP_##e,
#include "sinter/ops.def"
#undef OP
  SINTER_OP_COUNT
} sinter_op_t;

/* Op traits (bit flags). */
enum {
  SINTER_OPF_ELEMWISE = 1 << 0,    /* output[i] depends on input[i] (with broadcasting) */
  SINTER_OPF_FUSIBLE = 1 << 1,     /* may join a fused elementwise body */
  SINTER_OPF_COMMUTATIVE = 1 << 2, /* inputs may be reordered */
  SINTER_OPF_INT8 = 1 << 3,        /* has an integer (int8) form */
  SINTER_OPF_MOVEMENT = 1 << 4,    /* moves data without arithmetic */
};

/* Static description of an op, from ops.def. */
typedef struct sinter_op_info_s {
  const char *name;   /* ONNX op type */
  const char *domain; /* "" is the default ONNX domain */
  int min_inputs, max_inputs;   /* max -1: variadic */
  int min_outputs, max_outputs; /* max -1: variadic */
  unsigned traits;
} sinter_op_info_t;

/* Returns the info of op; NULL for an invalid op. */
const sinter_op_info_t *sinter_op_info(sinter_op_t op);

/* Looks an op up by domain ("" or "ai.onnx" for the default) and type. */
sinter_op_t sinter_op_lookup(const char *domain, const char *name);

/* ---- handles ------------------------------------------------------------ */

typedef struct sinter_graph_s sinter_graph_t;
typedef struct sinter_node_s sinter_node_t;
typedef struct sinter_value_s sinter_value_t;

/* What a value is. */
typedef enum sinter_value_kind_e {
  SINTER_VALUE_INPUT = 0, /* a graph input */
  SINTER_VALUE_CONST,     /* an initializer: a constant tensor */
  SINTER_VALUE_NODE,      /* an output slot of one node */
} sinter_value_kind_t;

/* Attribute kinds; the names match ONNX's AttributeProto types. */
typedef enum sinter_attr_kind_e {
  SINTER_ATTR_INT = 0,
  SINTER_ATTR_FLOAT,
  SINTER_ATTR_STRING,
  SINTER_ATTR_TENSOR,
  SINTER_ATTR_GRAPH,
  SINTER_ATTR_INTS,
  SINTER_ATTR_FLOATS,
  SINTER_ATTR_STRINGS,
  SINTER_ATTR_TENSORS,
  SINTER_ATTR_GRAPHS,
} sinter_attr_kind_t;

/* An attribute. All pointers are owned by the graph's arena. */
typedef struct sinter_attr_s {
  const char *name;
  sinter_attr_kind_t kind;
  int64_t i;                 /* INT */
  float f;                   /* FLOAT */
  const char *s;             /* STRING: bytes, NUL-terminated for convenience */
  size_t s_len;              /* STRING: length in bytes */
  int64_t count;             /* number of elements of the list kinds */
  const int64_t *ints;       /* INTS */
  const float *floats;       /* FLOATS */
  const char *const *strings;/* STRINGS (each NUL-terminated) */
  const sinter_tensor_t *tensors; /* TENSOR (count 1) and TENSORS */
  sinter_graph_t *const *graphs;  /* GRAPH (count 1) and GRAPHS */
} sinter_attr_t;

/* ---- graphs ------------------------------------------------------------- */

/* Creates an empty graph named name (copied). The caller owns the result and
 * frees it with sinter_graph_destroy. */
sinter_status_t sinter_graph_create(const char *name, sinter_graph_t **out_graph);

/* Frees graph, everything in its arena, and the mappings it borrows from. */
void sinter_graph_destroy(sinter_graph_t *graph);

/* Returns the graph's name (owned by the graph). */
const char *sinter_graph_name(const sinter_graph_t *graph);

/* Sets the opset version the graph was imported at for domain ("" default). */
sinter_status_t sinter_graph_set_opset(sinter_graph_t *graph, const char *domain, int64_t version);

/* Returns the opset version for domain, 0 when absent. */
int64_t sinter_graph_opset(const sinter_graph_t *graph, const char *domain);

/* Interns a symbol name for a dimension; the string is owned by the graph. */
const char *sinter_graph_intern(sinter_graph_t *graph, const char *s);

/* Registers a memory mapping that constants borrow from; graph munmaps it
 * on destroy. */
sinter_status_t sinter_graph_adopt_mapping(sinter_graph_t *graph, void *base, size_t length);

/* Adds a graph input of the given type. The value is owned by the graph. */
sinter_status_t sinter_graph_add_input(sinter_graph_t *graph, const char *name,
                                       const sinter_type_t *type, sinter_value_t **out_value);

/* Adds a constant. data (nbytes, checked against type) is copied into the
 * graph's arena. */
sinter_status_t sinter_graph_add_const(sinter_graph_t *graph, const char *name,
                                       const sinter_type_t *type, const void *data,
                                       size_t nbytes, sinter_value_t **out_value);

/* Adds a constant whose data is borrowed, not copied: data must outlive the
 * graph (for example memory registered with sinter_graph_adopt_mapping). */
sinter_status_t sinter_graph_add_const_borrowed(sinter_graph_t *graph, const char *name,
                                                const sinter_type_t *type, const void *data,
                                                size_t nbytes, sinter_value_t **out_value);

/* Marks value as a graph output (appended to the output list). */
sinter_status_t sinter_graph_add_output(sinter_graph_t *graph, sinter_value_t *value);

/* Replaces output slot index with value. */
sinter_status_t sinter_graph_set_output(sinter_graph_t *graph, int32_t index,
                                        sinter_value_t *value);

/* Creates a node of op with the given inputs (NULL entries are omitted
 * optional inputs) and n_outputs fresh output values of undefined type,
 * appended at the end of the graph. Use lists are updated. The node is owned
 * by the graph. name may be NULL. */
sinter_status_t sinter_graph_add_node(sinter_graph_t *graph, sinter_op_t op, const char *name,
                                      sinter_value_t *const *inputs, int32_t n_inputs,
                                      int32_t n_outputs, sinter_node_t **out_node);

/* Like sinter_graph_add_node but inserts the new node just before before
 * (NULL: at the end). */
sinter_status_t sinter_graph_insert_node(sinter_graph_t *graph, sinter_node_t *before,
                                         sinter_op_t op, const char *name,
                                         sinter_value_t *const *inputs, int32_t n_inputs,
                                         int32_t n_outputs, sinter_node_t **out_node);

/* Unlinks node from the graph and from its inputs' use lists. Its outputs
 * must have no uses left and must not be graph outputs. The arena keeps the
 * memory until the graph is destroyed. */
sinter_status_t sinter_graph_remove_node(sinter_graph_t *graph, sinter_node_t *node);

/* Removes a constant or input value with no uses (inputs are also removed
 * from the input list). */
sinter_status_t sinter_graph_remove_value(sinter_graph_t *graph, sinter_value_t *value);

/* Points every use of from (node inputs and graph outputs) at to. */
void sinter_value_replace_all_uses(sinter_value_t *from, sinter_value_t *to);

/* Points input slot index of node at value (NULL omits it); use lists are
 * updated. */
sinter_status_t sinter_node_set_input(sinter_node_t *node, int32_t index, sinter_value_t *value);

/* Moves node to just before before (which must be in the same graph). */
void sinter_node_move_before(sinter_node_t *node, sinter_node_t *before);

/* Walking. Counts and indexes are stable until the next rewrite. */
int32_t sinter_graph_num_inputs(const sinter_graph_t *graph);
sinter_value_t *sinter_graph_input(const sinter_graph_t *graph, int32_t index);
int32_t sinter_graph_num_outputs(const sinter_graph_t *graph);
sinter_value_t *sinter_graph_output(const sinter_graph_t *graph, int32_t index);
int32_t sinter_graph_num_nodes(const sinter_graph_t *graph);
sinter_node_t *sinter_graph_first_node(const sinter_graph_t *graph);
sinter_node_t *sinter_graph_last_node(const sinter_graph_t *graph);
sinter_node_t *sinter_node_next(const sinter_node_t *node);
sinter_node_t *sinter_node_prev(const sinter_node_t *node);
/* Constants in creation order: first, then sinter_value_next_const. */
sinter_value_t *sinter_graph_first_const(const sinter_graph_t *graph);
sinter_value_t *sinter_value_next_const(const sinter_value_t *value);
/* Finds a value by name; NULL when absent. Linear time. */
sinter_value_t *sinter_graph_find_value(const sinter_graph_t *graph, const char *name);

/* Node accessors. Returned pointers are owned by the graph. */
sinter_op_t sinter_node_op(const sinter_node_t *node);
const char *sinter_node_name(const sinter_node_t *node);
sinter_status_t sinter_node_set_name(sinter_node_t *node, const char *name);
int32_t sinter_node_num_inputs(const sinter_node_t *node);
sinter_value_t *sinter_node_input(const sinter_node_t *node, int32_t index);
int32_t sinter_node_num_outputs(const sinter_node_t *node);
sinter_value_t *sinter_node_output(const sinter_node_t *node, int32_t index);
sinter_graph_t *sinter_node_graph(const sinter_node_t *node);

/* Attributes: lookup returns NULL when absent. Setters copy their data into
 * the arena and replace any attribute of the same name. */
int32_t sinter_node_num_attrs(const sinter_node_t *node);
const sinter_attr_t *sinter_node_attr_at(const sinter_node_t *node, int32_t index);
const sinter_attr_t *sinter_node_attr(const sinter_node_t *node, const char *name);
int64_t sinter_node_attr_int(const sinter_node_t *node, const char *name, int64_t dflt);
float sinter_node_attr_float(const sinter_node_t *node, const char *name, float dflt);
const char *sinter_node_attr_string(const sinter_node_t *node, const char *name,
                                    const char *dflt);
/* Returns the INTS attribute's elements and count, or NULL/0 when absent. */
const int64_t *sinter_node_attr_ints(const sinter_node_t *node, const char *name,
                                     int64_t *out_count);
sinter_status_t sinter_node_set_attr_int(sinter_node_t *node, const char *name, int64_t v);
sinter_status_t sinter_node_set_attr_float(sinter_node_t *node, const char *name, float v);
sinter_status_t sinter_node_set_attr_string(sinter_node_t *node, const char *name,
                                            const char *s, size_t len);
sinter_status_t sinter_node_set_attr_ints(sinter_node_t *node, const char *name,
                                          const int64_t *v, int64_t count);
sinter_status_t sinter_node_set_attr_floats(sinter_node_t *node, const char *name,
                                            const float *v, int64_t count);
/* Copies attr (deeply, including tensors; graphs are adopted, not copied). */
sinter_status_t sinter_node_set_attr(sinter_node_t *node, const sinter_attr_t *attr);
sinter_status_t sinter_node_remove_attr(sinter_node_t *node, const char *name);

/* Value accessors. */
sinter_value_kind_t sinter_value_kind(const sinter_value_t *value);
const char *sinter_value_name(const sinter_value_t *value);
sinter_status_t sinter_value_set_name(sinter_value_t *value, const char *name);
const sinter_type_t *sinter_value_type(const sinter_value_t *value);
void sinter_value_set_type(sinter_value_t *value, const sinter_type_t *type);
/* The producing node and output slot; NULL for inputs and constants. */
sinter_node_t *sinter_value_producer(const sinter_value_t *value, int32_t *out_slot);
int32_t sinter_value_num_uses(const sinter_value_t *value);
/* Use index: the using node and its input slot. */
sinter_node_t *sinter_value_use(const sinter_value_t *value, int32_t index, int32_t *out_slot);
bool sinter_value_is_graph_output(const sinter_value_t *value);
/* Constant data (NULL for non-constants); owned by the graph or borrowed. */
const void *sinter_value_data(const sinter_value_t *value, size_t *out_nbytes);
/* Quant params or NULL; owned by the graph. */
const sinter_quant_params_t *sinter_value_quant(const sinter_value_t *value);
/* Copies qp into the graph's arena and attaches it (NULL detaches). */
sinter_status_t sinter_value_set_quant(sinter_value_t *value, const sinter_quant_params_t *qp);

/* ---- analyses and transforms -------------------------------------------- */

/* Checks SSA form, topological order, use lists, arity, and type, shape
 * and quant-param consistency. Returns the first problem found. */
sinter_status_t sinter_graph_verify(const sinter_graph_t *graph);

/* Infers dtypes and shapes of every node output from the graph's inputs and
 * constants, with symbolic dims where sizes are unknown. */
sinter_status_t sinter_graph_infer_shapes(sinter_graph_t *graph);

/* Prints the graph as text IR. With elide_constants, constant data is shown
 * as a size only (not parseable back). */
sinter_status_t sinter_graph_print(const sinter_graph_t *graph, FILE *out, bool elide_constants);

/* Prints into a malloc'ed string that the caller frees. */
sinter_status_t sinter_graph_print_to_string(const sinter_graph_t *graph, bool elide_constants,
                                             char **out_text, size_t *out_len);

/* Parses text IR; source_name is used in error messages. The caller owns
 * the new graph. */
sinter_status_t sinter_graph_parse(const char *text, size_t len, const char *source_name,
                                   sinter_graph_t **out_graph);

/* Writes the graph in Graphviz DOT. */
sinter_status_t sinter_graph_print_dot(const sinter_graph_t *graph, FILE *out);

/* ---- reference interpreter ---------------------------------------------- */

typedef struct sinter_interp_s sinter_interp_t;

/* Prepares graph for execution. The graph must outlive the interpreter and
 * must not change while it exists. The caller owns the result. */
sinter_status_t sinter_interp_create(const sinter_graph_t *graph, sinter_interp_t **out_interp);
void sinter_interp_destroy(sinter_interp_t *interp);

/* Called after each node with its output tensors; return false to stop. */
typedef bool (*sinter_interp_observer_fn)(void *user, const sinter_node_t *node,
                                          const sinter_tensor_t *outputs, int32_t n_outputs);
void sinter_interp_set_observer(sinter_interp_t *interp, sinter_interp_observer_fn fn,
                                void *user);

/* Runs the graph. inputs follow the graph's input order. On success
 * out_outputs receives sinter_graph_num_outputs tensors whose data the caller
 * frees with sinter_tensor_free_data. */
sinter_status_t sinter_interp_run(sinter_interp_t *interp, const sinter_tensor_t *inputs,
                                  int32_t n_inputs, sinter_tensor_t *out_outputs);

/* Frees data returned by the interpreter (malloc'ed) and clears the tensor. */
void sinter_tensor_free_data(sinter_tensor_t *t);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_IR_H */
