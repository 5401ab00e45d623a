/* Internal layout of the IR objects. Code inside libsinter (ir/, frontends/,
 * passes/, codegen/) may use the fields directly; embedders use the
 * accessors in sinter/ir.h. */
#ifndef SINTER_IR_IMPL_H
#define SINTER_IR_IMPL_H

#include "base/arena.h"
#include "sinter/ir.h"

typedef struct sinter_use_s {
  sinter_node_t *node;
  int32_t slot;
} sinter_use_t;

struct sinter_value_s {
  uint32_t id;               /* creation order, unique within the graph */
  sinter_value_kind_t kind;
  const char *name;          /* arena string; "" when unnamed */
  sinter_type_t type;
  sinter_node_t *producer;   /* SINTER_VALUE_NODE only */
  int32_t producer_slot;
  const void *data;          /* SINTER_VALUE_CONST only */
  size_t nbytes;
  bool data_borrowed;        /* data points into an adopted mapping */
  sinter_quant_params_t *quant;
  sinter_use_t *uses;
  int32_t n_uses, cap_uses;
  int32_t n_output_refs;     /* how many graph output slots name this value */
  sinter_graph_t *graph;
  sinter_value_t *next_const, *prev_const; /* constant list links */
  bool removed;
};

struct sinter_node_s {
  uint32_t id;
  sinter_op_t op;
  const char *name;          /* arena string; "" when unnamed */
  sinter_value_t **inputs;   /* NULL entries: omitted optional inputs */
  int32_t n_inputs;
  sinter_value_t **outputs;  /* never NULL entries */
  int32_t n_outputs;
  sinter_attr_t *attrs;      /* sorted by name */
  int32_t n_attrs, cap_attrs;
  sinter_node_t *prev, *next;
  sinter_graph_t *graph;
};

typedef struct sinter_opset_s {
  const char *domain;
  int64_t version;
} sinter_opset_t;

typedef struct sinter_mapping_s {
  void *base;
  size_t length;
  struct sinter_mapping_s *next;
} sinter_mapping_t;

struct sinter_graph_s {
  sinter_arena_t arena;
  const char *name;
  sinter_graph_t *parent;    /* enclosing graph of a subgraph attribute */
  sinter_value_t **inputs;
  int32_t n_inputs, cap_inputs;
  sinter_value_t **outputs;
  int32_t n_outputs, cap_outputs;
  sinter_node_t *first, *last;
  int32_t n_nodes;
  sinter_value_t *first_const, *last_const;
  int32_t n_consts;
  sinter_opset_t *opsets;
  int32_t n_opsets;
  const char **interned;     /* symbol strings, a small open list */
  int32_t n_interned, cap_interned;
  sinter_mapping_t *mappings;
  sinter_graph_t **children;  /* subgraphs owned by this graph */
  int32_t n_children, cap_children;
  uint32_t next_value_id, next_node_id;
};

/* Allocates a fresh value of kind in graph (not linked anywhere). */
sinter_value_t *sinter_ir_new_value(sinter_graph_t *graph, sinter_value_kind_t kind,
                                    const char *name);

/* Allocates an empty subgraph whose parent is parent (its own arena). */
sinter_status_t sinter_ir_subgraph_create(sinter_graph_t *parent, const char *name,
                                          sinter_graph_t **out_graph);

/* Describes node for messages: "node 'conv1' (Conv)", or "node #3 (Conv)"
 * when it has no name. Writes into buf and returns it. */
const char *sinter_ir_node_desc(const sinter_node_t *node, char *buf, size_t cap);

/* Re-runs shape inference on scratch copies of the node types and reports
 * the first stored type that disagrees with it (ops without inference are
 * skipped). */
sinter_status_t sinter_ir_verify_types(const sinter_graph_t *graph);

#endif /* SINTER_IR_IMPL_H */
