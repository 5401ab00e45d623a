/* The reader's working state, shared between onnx_reader.c (graph building)
 * and onnx_legacy.c (rewriting older opset forms into the IR's newest form). */
#ifndef SINTER_ONNX_IMPORT_H
#define SINTER_ONNX_IMPORT_H

#include "frontends/onnx/onnx_internal.h"

/* One name of the model: an initializer, input, node output or a name the
 * importer generated. Keys live in the unpacked model or the scratch arena. */
typedef struct name_entry_s {
  const char *key;
  sinter_value_t *value;             /* NULL until defined */
  int32_t producer;                  /* index of the producing NodeProto, or -1 */
  const Onnx__ValueInfoProto *vinfo; /* declared type, or NULL */
} name_entry_t;

typedef struct name_map_s {
  name_entry_t *slots;
  size_t cap, count;
} name_map_t;

typedef struct import_ctx_s {
  sinter_graph_t *g;
  sinter_arena_t scratch; /* attributes and temporary names; freed after import */
  name_map_t names;
  onnx_ext_t ext;
  int64_t opset;    /* default-domain opset of the model */
  bool eager_infer; /* infer each node's types as it is created */
} import_ctx_t;

/* A node being imported: NodeProto fields, converted and open to rewriting
 * before it becomes an IR node. */
typedef struct wnode_s {
  const Onnx__NodeProto *proto;
  int32_t index;       /* position in the file */
  const char *name;    /* node name, "" when none */
  const char *where;   /* "node 'x' (Conv)" for messages */
  const char *base;    /* stem for generated names: the node name or first output */
  const char *op_type; /* ONNX op type; rewrites may change it */
  const char *domain;  /* "" for the default domain, or "ai.sinter" */
  sinter_value_t **in; /* NULL: omitted optional input */
  int32_t n_in, cap_in;
  const char **out; /* output names, "" when omitted */
  int32_t n_out;
  sinter_attr_t *attrs;
  int32_t n_attrs, cap_attrs;
} wnode_t;

/* ---- helpers the rewriter uses (onnx_reader.c) ------------------------- */

const sinter_attr_t *wn_attr(const wnode_t *w, const char *name);
int64_t wn_attr_int(const wnode_t *w, const char *name, int64_t dflt);
void wn_remove_attr(wnode_t *w, const char *name);
sinter_status_t wn_set_attr(import_ctx_t *ctx, wnode_t *w, const sinter_attr_t *a);
sinter_status_t wn_set_attr_int(import_ctx_t *ctx, wnode_t *w, const char *name, int64_t v);
sinter_status_t wn_set_attr_string(import_ctx_t *ctx, wnode_t *w, const char *name, const char *s);
/* Sets input slot index (growing the list with NULLs). */
sinter_status_t wn_set_input(import_ctx_t *ctx, wnode_t *w, int32_t index, sinter_value_t *v);

/* Adds a constant named after the node ("<base>_<suffix>", made unique). */
sinter_status_t imp_const(import_ctx_t *ctx, const wnode_t *w, const char *suffix,
                          sinter_dtype_t dtype, int32_t rank, const int64_t *dims, const void *data,
                          size_t nbytes, sinter_value_t **out);
/* A 1-D int64 constant of n elements. */
sinter_status_t imp_const_i64(import_ctx_t *ctx, const wnode_t *w, const char *suffix,
                              const int64_t *v, int64_t n, sinter_value_t **out);
/* A scalar with like's dtype, or an f32 scalar plus CastLike when like's
 * dtype is not known yet. */
sinter_status_t imp_scalar_like(import_ctx_t *ctx, const wnode_t *w, const char *suffix, double v,
                                sinter_value_t *like, sinter_value_t **out);
/* Emits a helper node before the node being imported: named
 * "<base>_<suffix>", outputs named "<base>_<suffix>_out[k]" (unique). */
sinter_status_t imp_emit(import_ctx_t *ctx, const wnode_t *w, sinter_op_t op, const char *suffix,
                         sinter_value_t *const *inputs, int32_t n_inputs, int32_t n_outputs,
                         sinter_node_t **out);
/* Gives output index of w the value v: v takes the ONNX name and type. */
sinter_status_t imp_bind_output(import_ctx_t *ctx, const wnode_t *w, int32_t index,
                                sinter_value_t *v);

/* ---- the rewriter (onnx_legacy.c) --------------------------------------- */

/* True for op types that exist only in older opsets and are renamed or
 * rewritten on import (Upsample, Scatter). */
bool onnx_legacy_known_op(const char *op_type);

/* Rewrites w from its opset's form into the IR's (newest-opset) form.
 * Sets *out_done when it has emitted the nodes and bound the outputs
 * itself; otherwise the reader builds one node from the rewritten w. */
sinter_status_t onnx_legacy_rewrite(import_ctx_t *ctx, wnode_t *w, bool *out_done);

#endif /* SINTER_ONNX_IMPORT_H */
