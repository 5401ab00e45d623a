/* Graph construction, rewriting and walking: the core of the IR. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ir/ir_impl.h"

/* ---- dtypes ------------------------------------------------------------- */

static const struct {
  const char *name;
  int bits;
} dtype_table[SINTER_DTYPE_COUNT] = {
    [SINTER_DTYPE_UNDEFINED] = {"undef", 0}, [SINTER_DTYPE_F32] = {"f32", 32},
    [SINTER_DTYPE_F16] = {"f16", 16},        [SINTER_DTYPE_BF16] = {"bf16", 16},
    [SINTER_DTYPE_F8E4M3] = {"f8e4m3", 8},   [SINTER_DTYPE_F64] = {"f64", 64},
    [SINTER_DTYPE_I64] = {"i64", 64},        [SINTER_DTYPE_I32] = {"i32", 32},
    [SINTER_DTYPE_I16] = {"i16", 16},        [SINTER_DTYPE_I8] = {"i8", 8},
    [SINTER_DTYPE_U8] = {"u8", 8},           [SINTER_DTYPE_U16] = {"u16", 16},
    [SINTER_DTYPE_U32] = {"u32", 32},        [SINTER_DTYPE_U64] = {"u64", 64},
    [SINTER_DTYPE_I4] = {"i4", 4},           [SINTER_DTYPE_U4] = {"u4", 4},
    [SINTER_DTYPE_BOOL] = {"bool", 8},
};

const char *sinter_dtype_name(sinter_dtype_t dtype) {
  if ((unsigned)dtype >= SINTER_DTYPE_COUNT) return "?";
  return dtype_table[dtype].name;
}

sinter_dtype_t sinter_dtype_from_name(const char *name) {
  for (int i = 1; i < SINTER_DTYPE_COUNT; i++)
    if (strcmp(dtype_table[i].name, name) == 0) return (sinter_dtype_t)i;
  return SINTER_DTYPE_UNDEFINED;
}

int sinter_dtype_bits(sinter_dtype_t dtype) {
  if ((unsigned)dtype >= SINTER_DTYPE_COUNT) return 0;
  return dtype_table[dtype].bits;
}

/* ONNX TensorProto.DataType numbers, indexed by dtype. */
static const int64_t onnx_numbers[SINTER_DTYPE_COUNT] = {
    [SINTER_DTYPE_F32] = 1,  [SINTER_DTYPE_U8] = 2,   [SINTER_DTYPE_I8] = 3,
    [SINTER_DTYPE_U16] = 4,  [SINTER_DTYPE_I16] = 5,  [SINTER_DTYPE_I32] = 6,
    [SINTER_DTYPE_I64] = 7,  [SINTER_DTYPE_BOOL] = 9, [SINTER_DTYPE_F16] = 10,
    [SINTER_DTYPE_F64] = 11, [SINTER_DTYPE_U32] = 12, [SINTER_DTYPE_U64] = 13,
    [SINTER_DTYPE_BF16] = 16, [SINTER_DTYPE_F8E4M3] = 17, [SINTER_DTYPE_U4] = 21,
    [SINTER_DTYPE_I4] = 22,
};

sinter_dtype_t sinter_dtype_from_onnx(int64_t onnx_type) {
  for (int i = 1; i < SINTER_DTYPE_COUNT; i++)
    if (onnx_numbers[i] == onnx_type) return (sinter_dtype_t)i;
  return SINTER_DTYPE_UNDEFINED;
}

int64_t sinter_dtype_to_onnx(sinter_dtype_t dtype) {
  return (unsigned)dtype < SINTER_DTYPE_COUNT ? onnx_numbers[dtype] : 0;
}

bool sinter_dtype_is_float(sinter_dtype_t d) {
  return d == SINTER_DTYPE_F32 || d == SINTER_DTYPE_F16 || d == SINTER_DTYPE_BF16 ||
         d == SINTER_DTYPE_F8E4M3 || d == SINTER_DTYPE_F64;
}

bool sinter_dtype_is_int(sinter_dtype_t d) {
  switch (d) {
    case SINTER_DTYPE_I64: case SINTER_DTYPE_I32: case SINTER_DTYPE_I16: case SINTER_DTYPE_I8:
    case SINTER_DTYPE_U8: case SINTER_DTYPE_U16: case SINTER_DTYPE_U32: case SINTER_DTYPE_U64:
    case SINTER_DTYPE_I4: case SINTER_DTYPE_U4:
      return true;
    default:
      return false;
  }
}

bool sinter_dtype_storage_size(sinter_dtype_t dtype, int64_t count, size_t *out_bytes) {
  int bits = sinter_dtype_bits(dtype);
  if (bits == 0 || count < 0) return false;
  if (bits == 4) {
    *out_bytes = (size_t)((uint64_t)count / 2 + ((uint64_t)count & 1));
    return true;
  }
  uint64_t bytes;
  if (__builtin_mul_overflow((uint64_t)count, (uint64_t)(bits / 8), &bytes)) return false;
  if (bytes > (uint64_t)SIZE_MAX / 2) return false;
  *out_bytes = (size_t)bytes;
  return true;
}

/* ---- types -------------------------------------------------------------- */

bool sinter_type_is_static(const sinter_type_t *type) {
  if (type->rank < 0) return false;
  for (int i = 0; i < type->rank; i++)
    if (type->dims[i].size < 0) return false;
  return true;
}

bool sinter_type_numel(const sinter_type_t *type, int64_t *out_numel) {
  if (!sinter_type_is_static(type)) return false;
  int64_t n = 1;
  for (int i = 0; i < type->rank; i++)
    if (__builtin_mul_overflow(n, type->dims[i].size, &n)) return false;
  *out_numel = n;
  return true;
}

char *sinter_type_format(const sinter_type_t *type, char *buf, size_t cap) {
  size_t k = 0;
#define PUT(...)                                                   \
  do {                                                             \
    int n_ = snprintf(buf + k, k < cap ? cap - k : 0, __VA_ARGS__); \
    if (n_ > 0) k += (size_t)n_;                                   \
  } while (0)
  if (cap == 0) return buf;
  buf[0] = 0;
  PUT("%s", sinter_dtype_name(type->dtype));
  if (type->rank < 0) {
    PUT("[*]");
  } else {
    PUT("[");
    for (int i = 0; i < type->rank; i++) {
      if (i) PUT(",");
      if (type->dims[i].size >= 0)
        PUT("%" PRId64, type->dims[i].size);
      else if (type->dims[i].sym)
        PUT("%s", type->dims[i].sym);
      else
        PUT("?");
    }
    PUT("]");
  }
#undef PUT
  return buf;
}

int64_t sinter_tensor_numel(const sinter_tensor_t *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i] < 0 || __builtin_mul_overflow(n, t->dims[i], &n)) return -1;
  return n;
}

/* ---- ops ---------------------------------------------------------------- */

#define F_ELEMWISE SINTER_OPF_ELEMWISE
#define F_FUSIBLE SINTER_OPF_FUSIBLE
#define F_COMMUTATIVE SINTER_OPF_COMMUTATIVE
#define F_INT8 SINTER_OPF_INT8
#define F_MOVEMENT SINTER_OPF_MOVEMENT

static const sinter_op_info_t op_table[SINTER_OP_COUNT] = {
    [SINTER_OP_INVALID] = {"<invalid>", "", 0, 0, 0, 0, 0},
#define OP(e, onnx, dom, mi, ma, mo, mao, tr) [SINTER_OP_##e] = {onnx, dom, mi, ma, mo, mao, tr},
#include "ir/ops.def"
#undef OP
};

const sinter_op_info_t *sinter_op_info(sinter_op_t op) {
  if (op <= SINTER_OP_INVALID || op >= SINTER_OP_COUNT) return NULL;
  return &op_table[op];
}

sinter_op_t sinter_op_lookup(const char *domain, const char *name) {
  if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
  for (int i = 1; i < SINTER_OP_COUNT; i++)
    if (strcmp(op_table[i].name, name) == 0 && strcmp(op_table[i].domain, domain) == 0)
      return (sinter_op_t)i;
  return SINTER_OP_INVALID;
}

/* ---- graph -------------------------------------------------------------- */

#define OOM() SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory")

/* Grows an arena-backed array to hold at least need elements. */
static bool grow(sinter_arena_t *a, void **arr, int32_t *cap, int32_t need, size_t elem) {
  if (need <= *cap) return true;
  int32_t ncap = *cap ? *cap : 4;
  while (ncap < need) {
    if (ncap > INT32_MAX / 2) return false;
    ncap *= 2;
  }
  void *n = sinter_arena_alloc(a, (size_t)ncap * elem, 16);
  if (!n) return false;
  if (*arr && *cap) memcpy(n, *arr, (size_t)*cap * elem);
  *arr = n;
  *cap = ncap;
  return true;
}

sinter_status_t sinter_graph_create(const char *name, sinter_graph_t **out_graph) {
  *out_graph = NULL;
  sinter_graph_t *g = calloc(1, sizeof(*g));
  if (!g) return OOM();
  sinter_arena_init(&g->arena, 256 * 1024);
  g->name = sinter_arena_strdup(&g->arena, name ? name : "main");
  if (!g->name) {
    sinter_graph_destroy(g);
    return OOM();
  }
  *out_graph = g;
  return NULL;
}

sinter_status_t sinter_ir_subgraph_create(sinter_graph_t *parent, const char *name,
                                          sinter_graph_t **out_graph) {
  *out_graph = NULL;
  if (!grow(&parent->arena, (void **)&parent->children, &parent->cap_children,
            parent->n_children + 1, sizeof(sinter_graph_t *)))
    return OOM();
  sinter_graph_t *g;
  SINTER_TRY(sinter_graph_create(name, &g));
  g->parent = parent;
  parent->children[parent->n_children++] = g;
  *out_graph = g;
  return NULL;
}

void sinter_graph_destroy(sinter_graph_t *graph) {
  if (!graph) return;
  for (int32_t i = 0; i < graph->n_children; i++) sinter_graph_destroy(graph->children[i]);
  for (sinter_mapping_t *m = graph->mappings; m; m = m->next) munmap(m->base, m->length);
  sinter_arena_deinit(&graph->arena);
  free(graph);
}

const char *sinter_graph_name(const sinter_graph_t *graph) { return graph->name; }

sinter_status_t sinter_graph_set_opset(sinter_graph_t *graph, const char *domain,
                                       int64_t version) {
  if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
  for (int32_t i = 0; i < graph->n_opsets; i++)
    if (strcmp(graph->opsets[i].domain, domain) == 0) {
      graph->opsets[i].version = version;
      return NULL;
    }
  sinter_opset_t *n =
      sinter_arena_alloc(&graph->arena, sizeof(*n) * (size_t)(graph->n_opsets + 1), 8);
  if (!n) return OOM();
  if (graph->n_opsets) memcpy(n, graph->opsets, sizeof(*n) * (size_t)graph->n_opsets);
  n[graph->n_opsets].domain = sinter_arena_strdup(&graph->arena, domain);
  if (!n[graph->n_opsets].domain) return OOM();
  n[graph->n_opsets].version = version;
  graph->opsets = n;
  graph->n_opsets++;
  return NULL;
}

int64_t sinter_graph_opset(const sinter_graph_t *graph, const char *domain) {
  if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
  for (int32_t i = 0; i < graph->n_opsets; i++)
    if (strcmp(graph->opsets[i].domain, domain) == 0) return graph->opsets[i].version;
  return 0;
}

const char *sinter_graph_intern(sinter_graph_t *graph, const char *s) {
  if (!s) return NULL;
  for (int32_t i = 0; i < graph->n_interned; i++)
    if (strcmp(graph->interned[i], s) == 0) return graph->interned[i];
  if (!grow(&graph->arena, (void **)&graph->interned, &graph->cap_interned,
            graph->n_interned + 1, sizeof(char *)))
    return NULL;
  const char *c = sinter_arena_strdup(&graph->arena, s);
  if (!c) return NULL;
  graph->interned[graph->n_interned++] = c;
  return c;
}

sinter_status_t sinter_graph_adopt_mapping(sinter_graph_t *graph, void *base, size_t length) {
  sinter_mapping_t *m = sinter_arena_alloc(&graph->arena, sizeof(*m), 8);
  if (!m) return OOM();
  m->base = base;
  m->length = length;
  m->next = graph->mappings;
  graph->mappings = m;
  return NULL;
}

sinter_value_t *sinter_ir_new_value(sinter_graph_t *graph, sinter_value_kind_t kind,
                                    const char *name) {
  sinter_value_t *v = sinter_arena_alloc(&graph->arena, sizeof(*v), 8);
  if (!v) return NULL;
  v->id = graph->next_value_id++;
  v->kind = kind;
  v->graph = graph;
  v->name = sinter_arena_strdup(&graph->arena, name ? name : "");
  if (!v->name) return NULL;
  v->type.rank = -1;
  return v;
}

/* Copies type, interning its symbols in graph so that the type never points
 * into another graph's arena. */
static void copy_type(sinter_graph_t *graph, sinter_type_t *dst, const sinter_type_t *src) {
  *dst = *src;
  if (dst->rank > SINTER_MAX_RANK) dst->rank = SINTER_MAX_RANK;
  for (int i = 0; i < dst->rank && i < SINTER_MAX_RANK; i++)
    if (dst->dims[i].sym) dst->dims[i].sym = sinter_graph_intern(graph, dst->dims[i].sym);
}

sinter_status_t sinter_graph_add_input(sinter_graph_t *graph, const char *name,
                                       const sinter_type_t *type, sinter_value_t **out_value) {
  if (out_value) *out_value = NULL;
  if (type && type->rank > SINTER_MAX_RANK)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "input '%s' has rank %d, above the limit %d",
                        name ? name : "", type->rank, SINTER_MAX_RANK);
  if (!grow(&graph->arena, (void **)&graph->inputs, &graph->cap_inputs, graph->n_inputs + 1,
            sizeof(sinter_value_t *)))
    return OOM();
  sinter_value_t *v = sinter_ir_new_value(graph, SINTER_VALUE_INPUT, name);
  if (!v) return OOM();
  if (type) copy_type(graph, &v->type, type);
  graph->inputs[graph->n_inputs++] = v;
  if (out_value) *out_value = v;
  return NULL;
}

static sinter_status_t add_const(sinter_graph_t *graph, const char *name,
                                 const sinter_type_t *type, const void *data, size_t nbytes,
                                 bool borrow, sinter_value_t **out_value) {
  if (out_value) *out_value = NULL;
  int64_t numel;
  size_t want;
  if (type->rank > SINTER_MAX_RANK)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "constant '%s' has rank %d, above the limit %d",
                        name ? name : "", type->rank, SINTER_MAX_RANK);
  if (!sinter_type_numel(type, &numel) || !sinter_dtype_storage_size(type->dtype, numel, &want))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "constant '%s' needs a static shape and a valid dtype", name ? name : "");
  if (want != nbytes)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "constant '%s': %zu bytes of data, but %s needs %zu", name ? name : "",
                        nbytes, sinter_dtype_name(type->dtype), want);
  sinter_value_t *v = sinter_ir_new_value(graph, SINTER_VALUE_CONST, name);
  if (!v) return OOM();
  copy_type(graph, &v->type, type);
  if (borrow) {
    v->data = data;
    v->data_borrowed = true;
  } else {
    void *copy = sinter_arena_alloc(&graph->arena, nbytes ? nbytes : 1, 64);
    if (!copy) return OOM();
    if (nbytes) memcpy(copy, data, nbytes);
    v->data = copy;
  }
  v->nbytes = nbytes;
  v->prev_const = graph->last_const;
  if (graph->last_const)
    graph->last_const->next_const = v;
  else
    graph->first_const = v;
  graph->last_const = v;
  graph->n_consts++;
  if (out_value) *out_value = v;
  return NULL;
}

sinter_status_t sinter_graph_add_const(sinter_graph_t *graph, const char *name,
                                       const sinter_type_t *type, const void *data,
                                       size_t nbytes, sinter_value_t **out_value) {
  return add_const(graph, name, type, data, nbytes, false, out_value);
}

sinter_status_t sinter_graph_add_const_borrowed(sinter_graph_t *graph, const char *name,
                                                const sinter_type_t *type, const void *data,
                                                size_t nbytes, sinter_value_t **out_value) {
  return add_const(graph, name, type, data, nbytes, true, out_value);
}

sinter_status_t sinter_graph_add_output(sinter_graph_t *graph, sinter_value_t *value) {
  if (!value || value->graph != graph)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "graph output must be a value of this graph");
  if (!grow(&graph->arena, (void **)&graph->outputs, &graph->cap_outputs, graph->n_outputs + 1,
            sizeof(sinter_value_t *)))
    return OOM();
  graph->outputs[graph->n_outputs++] = value;
  value->n_output_refs++;
  return NULL;
}

sinter_status_t sinter_graph_set_output(sinter_graph_t *graph, int32_t index,
                                        sinter_value_t *value) {
  if (index < 0 || index >= graph->n_outputs || !value || value->graph != graph)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "bad graph output index %d", index);
  graph->outputs[index]->n_output_refs--;
  graph->outputs[index] = value;
  value->n_output_refs++;
  return NULL;
}

static bool add_use(sinter_value_t *v, sinter_node_t *node, int32_t slot) {
  if (!grow(&v->graph->arena, (void **)&v->uses, &v->cap_uses, v->n_uses + 1,
            sizeof(sinter_use_t)))
    return false;
  v->uses[v->n_uses].node = node;
  v->uses[v->n_uses].slot = slot;
  v->n_uses++;
  return true;
}

static void drop_use(sinter_value_t *v, sinter_node_t *node, int32_t slot) {
  for (int32_t i = 0; i < v->n_uses; i++)
    if (v->uses[i].node == node && v->uses[i].slot == slot) {
      /* Keep order so that walks over uses stay deterministic. */
      memmove(&v->uses[i], &v->uses[i + 1], sizeof(sinter_use_t) * (size_t)(v->n_uses - i - 1));
      v->n_uses--;
      return;
    }
}

static void link_before(sinter_graph_t *g, sinter_node_t *n, sinter_node_t *before) {
  if (!before) {
    n->prev = g->last;
    n->next = NULL;
    if (g->last)
      g->last->next = n;
    else
      g->first = n;
    g->last = n;
  } else {
    n->next = before;
    n->prev = before->prev;
    if (before->prev)
      before->prev->next = n;
    else
      g->first = n;
    before->prev = n;
  }
}

static void unlink_node(sinter_graph_t *g, sinter_node_t *n) {
  if (n->prev)
    n->prev->next = n->next;
  else
    g->first = n->next;
  if (n->next)
    n->next->prev = n->prev;
  else
    g->last = n->prev;
  n->prev = n->next = NULL;
}

sinter_status_t sinter_graph_insert_node(sinter_graph_t *graph, sinter_node_t *before,
                                         sinter_op_t op, const char *name,
                                         sinter_value_t *const *inputs, int32_t n_inputs,
                                         int32_t n_outputs, sinter_node_t **out_node) {
  if (out_node) *out_node = NULL;
  if (!sinter_op_info(op)) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "invalid op %d", op);
  if (n_inputs < 0 || n_outputs < 0 || n_inputs > 1 << 20 || n_outputs > 1 << 20)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "bad arity");
  if (before && before->graph != graph)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "insertion point is in another graph");
  for (int32_t i = 0; i < n_inputs; i++)
    if (inputs[i] && inputs[i]->graph != graph)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input %d belongs to another graph", i);
  sinter_node_t *n = sinter_arena_alloc(&graph->arena, sizeof(*n), 8);
  if (!n) return OOM();
  n->id = graph->next_node_id++;
  n->op = op;
  n->graph = graph;
  n->name = sinter_arena_strdup(&graph->arena, name ? name : "");
  n->inputs = sinter_arena_alloc(&graph->arena, sizeof(sinter_value_t *) * (size_t)(n_inputs + 1), 8);
  n->outputs =
      sinter_arena_alloc(&graph->arena, sizeof(sinter_value_t *) * (size_t)(n_outputs + 1), 8);
  if (!n->name || !n->inputs || !n->outputs) return OOM();
  n->n_inputs = n_inputs;
  n->n_outputs = n_outputs;
  for (int32_t i = 0; i < n_outputs; i++) {
    sinter_value_t *v = sinter_ir_new_value(graph, SINTER_VALUE_NODE, NULL);
    if (!v) return OOM();
    v->producer = n;
    v->producer_slot = i;
    n->outputs[i] = v;
  }
  for (int32_t i = 0; i < n_inputs; i++) {
    n->inputs[i] = inputs[i];
    if (inputs[i] && !add_use(inputs[i], n, i)) return OOM();
  }
  link_before(graph, n, before);
  graph->n_nodes++;
  if (out_node) *out_node = n;
  return NULL;
}

sinter_status_t sinter_graph_add_node(sinter_graph_t *graph, sinter_op_t op, const char *name,
                                      sinter_value_t *const *inputs, int32_t n_inputs,
                                      int32_t n_outputs, sinter_node_t **out_node) {
  return sinter_graph_insert_node(graph, NULL, op, name, inputs, n_inputs, n_outputs, out_node);
}

sinter_status_t sinter_graph_remove_node(sinter_graph_t *graph, sinter_node_t *node) {
  if (node->graph != graph)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "node belongs to another graph");
  for (int32_t i = 0; i < node->n_outputs; i++) {
    sinter_value_t *v = node->outputs[i];
    if (v->n_uses || v->n_output_refs)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                          "cannot remove node '%s' (%s): output %d is still used", node->name,
                          sinter_op_info(node->op)->name, i);
  }
  for (int32_t i = 0; i < node->n_inputs; i++)
    if (node->inputs[i]) drop_use(node->inputs[i], node, i);
  for (int32_t i = 0; i < node->n_outputs; i++) node->outputs[i]->removed = true;
  unlink_node(graph, node);
  graph->n_nodes--;
  return NULL;
}

sinter_status_t sinter_graph_remove_value(sinter_graph_t *graph, sinter_value_t *value) {
  if (value->graph != graph || value->n_uses || value->n_output_refs ||
      value->kind == SINTER_VALUE_NODE)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "value '%s' cannot be removed: it is used or produced by a node",
                        value->name);
  if (value->kind == SINTER_VALUE_CONST) {
    if (value->prev_const)
      value->prev_const->next_const = value->next_const;
    else
      graph->first_const = value->next_const;
    if (value->next_const)
      value->next_const->prev_const = value->prev_const;
    else
      graph->last_const = value->prev_const;
    graph->n_consts--;
  } else {
    for (int32_t i = 0; i < graph->n_inputs; i++)
      if (graph->inputs[i] == value) {
        memmove(&graph->inputs[i], &graph->inputs[i + 1],
                sizeof(sinter_value_t *) * (size_t)(graph->n_inputs - i - 1));
        graph->n_inputs--;
        break;
      }
  }
  value->removed = true;
  return NULL;
}

void sinter_value_replace_all_uses(sinter_value_t *from, sinter_value_t *to) {
  if (from == to) return;
  while (from->n_uses) {
    sinter_use_t u = from->uses[from->n_uses - 1];
    from->n_uses--;
    u.node->inputs[u.slot] = to;
    if (to) add_use(to, u.node, u.slot);
  }
  sinter_graph_t *g = from->graph;
  for (int32_t i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == from && to) {
      g->outputs[i] = to;
      from->n_output_refs--;
      to->n_output_refs++;
    }
}

sinter_status_t sinter_node_set_input(sinter_node_t *node, int32_t index, sinter_value_t *value) {
  if (index < 0 || index >= node->n_inputs)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input index %d out of range", index);
  if (value && value->graph != node->graph)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "value belongs to another graph");
  if (node->inputs[index]) drop_use(node->inputs[index], node, index);
  node->inputs[index] = value;
  if (value && !add_use(value, node, index)) return OOM();
  return NULL;
}

void sinter_node_move_before(sinter_node_t *node, sinter_node_t *before) {
  if (node == before) return;
  unlink_node(node->graph, node);
  link_before(node->graph, node, before);
}

const char *sinter_ir_node_desc(const sinter_node_t *n, char *buf, size_t cap) {
  const sinter_op_info_t *info = sinter_op_info(n->op);
  const char *op = info ? info->name : "<invalid op>";
  if (n->name && n->name[0])
    snprintf(buf, cap, "node '%s' (%s)", n->name, op);
  else
    snprintf(buf, cap, "node #%" PRIu32 " (%s)", n->id, op);
  return buf;
}

/* ---- walking ------------------------------------------------------------ */

int32_t sinter_graph_num_inputs(const sinter_graph_t *g) { return g->n_inputs; }
sinter_value_t *sinter_graph_input(const sinter_graph_t *g, int32_t i) {
  return i >= 0 && i < g->n_inputs ? g->inputs[i] : NULL;
}
int32_t sinter_graph_num_outputs(const sinter_graph_t *g) { return g->n_outputs; }
sinter_value_t *sinter_graph_output(const sinter_graph_t *g, int32_t i) {
  return i >= 0 && i < g->n_outputs ? g->outputs[i] : NULL;
}
int32_t sinter_graph_num_nodes(const sinter_graph_t *g) { return g->n_nodes; }
sinter_node_t *sinter_graph_first_node(const sinter_graph_t *g) { return g->first; }
sinter_node_t *sinter_graph_last_node(const sinter_graph_t *g) { return g->last; }
sinter_node_t *sinter_node_next(const sinter_node_t *n) { return n->next; }
sinter_node_t *sinter_node_prev(const sinter_node_t *n) { return n->prev; }
sinter_value_t *sinter_graph_first_const(const sinter_graph_t *g) { return g->first_const; }
sinter_value_t *sinter_value_next_const(const sinter_value_t *v) { return v->next_const; }

sinter_value_t *sinter_graph_find_value(const sinter_graph_t *g, const char *name) {
  if (!name || !*name) return NULL;
  for (int32_t i = 0; i < g->n_inputs; i++)
    if (strcmp(g->inputs[i]->name, name) == 0) return g->inputs[i];
  for (sinter_value_t *c = g->first_const; c; c = c->next_const)
    if (strcmp(c->name, name) == 0) return c;
  for (sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_outputs; i++)
      if (strcmp(n->outputs[i]->name, name) == 0) return n->outputs[i];
  return NULL;
}

sinter_op_t sinter_node_op(const sinter_node_t *n) { return n->op; }
const char *sinter_node_name(const sinter_node_t *n) { return n->name; }
sinter_status_t sinter_node_set_name(sinter_node_t *n, const char *name) {
  const char *c = sinter_arena_strdup(&n->graph->arena, name ? name : "");
  if (!c) return OOM();
  n->name = c;
  return NULL;
}
int32_t sinter_node_num_inputs(const sinter_node_t *n) { return n->n_inputs; }
sinter_value_t *sinter_node_input(const sinter_node_t *n, int32_t i) {
  return i >= 0 && i < n->n_inputs ? n->inputs[i] : NULL;
}
int32_t sinter_node_num_outputs(const sinter_node_t *n) { return n->n_outputs; }
sinter_value_t *sinter_node_output(const sinter_node_t *n, int32_t i) {
  return i >= 0 && i < n->n_outputs ? n->outputs[i] : NULL;
}
sinter_graph_t *sinter_node_graph(const sinter_node_t *n) { return n->graph; }

/* ---- attributes --------------------------------------------------------- */

int32_t sinter_node_num_attrs(const sinter_node_t *n) { return n->n_attrs; }
const sinter_attr_t *sinter_node_attr_at(const sinter_node_t *n, int32_t i) {
  return i >= 0 && i < n->n_attrs ? &n->attrs[i] : NULL;
}

const sinter_attr_t *sinter_node_attr(const sinter_node_t *n, const char *name) {
  for (int32_t i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t sinter_node_attr_int(const sinter_node_t *n, const char *name, int64_t dflt) {
  const sinter_attr_t *a = sinter_node_attr(n, name);
  if (!a) return dflt;
  if (a->kind == SINTER_ATTR_INT) return a->i;
  if (a->kind == SINTER_ATTR_FLOAT) return (int64_t)a->f;
  return dflt;
}

float sinter_node_attr_float(const sinter_node_t *n, const char *name, float dflt) {
  const sinter_attr_t *a = sinter_node_attr(n, name);
  if (!a) return dflt;
  if (a->kind == SINTER_ATTR_FLOAT) return a->f;
  if (a->kind == SINTER_ATTR_INT) return (float)a->i;
  return dflt;
}

const char *sinter_node_attr_string(const sinter_node_t *n, const char *name, const char *dflt) {
  const sinter_attr_t *a = sinter_node_attr(n, name);
  return a && a->kind == SINTER_ATTR_STRING ? a->s : dflt;
}

const int64_t *sinter_node_attr_ints(const sinter_node_t *n, const char *name,
                                     int64_t *out_count) {
  const sinter_attr_t *a = sinter_node_attr(n, name);
  if (!a || a->kind != SINTER_ATTR_INTS) {
    if (out_count) *out_count = 0;
    return NULL;
  }
  if (out_count) *out_count = a->count;
  return a->ints ? a->ints : (const int64_t *)"";  /* non-NULL for an empty list */
}

static sinter_status_t copy_tensor(sinter_arena_t *ar, sinter_tensor_t *dst,
                                   const sinter_tensor_t *src) {
  *dst = *src;
  dst->data = NULL;
  if (src->nbytes) {
    dst->data = sinter_arena_memdup(ar, src->data, src->nbytes);
    if (!dst->data) return OOM();
  }
  return NULL;
}

/* Deep-copies attr into the node's arena. */
static sinter_status_t copy_attr(sinter_graph_t *g, sinter_attr_t *dst, const sinter_attr_t *src) {
  sinter_arena_t *ar = &g->arena;
  memset(dst, 0, sizeof(*dst));
  dst->name = sinter_arena_strdup(ar, src->name);
  if (!dst->name) return OOM();
  dst->kind = src->kind;
  dst->i = src->i;
  dst->f = src->f;
  dst->count = src->count;
  if (src->count < 0 || src->count > (int64_t)1 << 40)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "attribute '%s' has a bad length", src->name);
  size_t n = (size_t)src->count;
  switch (src->kind) {
    case SINTER_ATTR_INT: case SINTER_ATTR_FLOAT:
      break;
    case SINTER_ATTR_STRING:
      dst->s = sinter_arena_strndup(ar, src->s ? src->s : "", src->s ? src->s_len : 0);
      dst->s_len = src->s ? src->s_len : 0;
      if (!dst->s) return OOM();
      break;
    case SINTER_ATTR_INTS:
      if (n) {
        dst->ints = sinter_arena_memdup(ar, src->ints, n * sizeof(int64_t));
        if (!dst->ints) return OOM();
      }
      break;
    case SINTER_ATTR_FLOATS:
      if (n) {
        dst->floats = sinter_arena_memdup(ar, src->floats, n * sizeof(float));
        if (!dst->floats) return OOM();
      }
      break;
    case SINTER_ATTR_STRINGS: {
      const char **ss = sinter_arena_alloc(ar, sizeof(char *) * (n + 1), 8);
      if (!ss) return OOM();
      for (size_t i = 0; i < n; i++)
        if (!(ss[i] = sinter_arena_strdup(ar, src->strings[i]))) return OOM();
      dst->strings = ss;
      break;
    }
    case SINTER_ATTR_TENSOR: case SINTER_ATTR_TENSORS: {
      sinter_tensor_t *ts = sinter_arena_alloc(ar, sizeof(sinter_tensor_t) * (n + 1), 8);
      if (!ts) return OOM();
      for (size_t i = 0; i < n; i++) SINTER_TRY(copy_tensor(ar, &ts[i], &src->tensors[i]));
      dst->tensors = ts;
      break;
    }
    case SINTER_ATTR_GRAPH: case SINTER_ATTR_GRAPHS: {
      sinter_graph_t **gs = sinter_arena_alloc(ar, sizeof(sinter_graph_t *) * (n + 1), 8);
      if (!gs) return OOM();
      for (size_t i = 0; i < n; i++) gs[i] = src->graphs[i];
      dst->graphs = gs;
      break;
    }
    default:
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "attribute '%s' has unknown kind %d",
                          src->name, src->kind);
  }
  return NULL;
}

sinter_status_t sinter_node_set_attr(sinter_node_t *node, const sinter_attr_t *attr) {
  sinter_graph_t *g = node->graph;
  sinter_attr_t copy;
  SINTER_TRY(copy_attr(g, &copy, attr));
  int32_t pos = 0;
  while (pos < node->n_attrs && strcmp(node->attrs[pos].name, attr->name) < 0) pos++;
  if (pos < node->n_attrs && strcmp(node->attrs[pos].name, attr->name) == 0) {
    node->attrs[pos] = copy;
    return NULL;
  }
  if (!grow(&g->arena, (void **)&node->attrs, &node->cap_attrs, node->n_attrs + 1,
            sizeof(sinter_attr_t)))
    return OOM();
  memmove(&node->attrs[pos + 1], &node->attrs[pos],
          sizeof(sinter_attr_t) * (size_t)(node->n_attrs - pos));
  node->attrs[pos] = copy;
  node->n_attrs++;
  return NULL;
}

sinter_status_t sinter_node_remove_attr(sinter_node_t *node, const char *name) {
  for (int32_t i = 0; i < node->n_attrs; i++)
    if (strcmp(node->attrs[i].name, name) == 0) {
      memmove(&node->attrs[i], &node->attrs[i + 1],
              sizeof(sinter_attr_t) * (size_t)(node->n_attrs - i - 1));
      node->n_attrs--;
      return NULL;
    }
  return NULL;
}

sinter_status_t sinter_node_set_attr_int(sinter_node_t *node, const char *name, int64_t v) {
  sinter_attr_t a = {.name = name, .kind = SINTER_ATTR_INT, .i = v};
  return sinter_node_set_attr(node, &a);
}

sinter_status_t sinter_node_set_attr_float(sinter_node_t *node, const char *name, float v) {
  sinter_attr_t a = {.name = name, .kind = SINTER_ATTR_FLOAT, .f = v};
  return sinter_node_set_attr(node, &a);
}

sinter_status_t sinter_node_set_attr_string(sinter_node_t *node, const char *name,
                                            const char *s, size_t len) {
  sinter_attr_t a = {.name = name, .kind = SINTER_ATTR_STRING, .s = s, .s_len = len};
  return sinter_node_set_attr(node, &a);
}

sinter_status_t sinter_node_set_attr_ints(sinter_node_t *node, const char *name,
                                          const int64_t *v, int64_t count) {
  sinter_attr_t a = {.name = name, .kind = SINTER_ATTR_INTS, .ints = v, .count = count};
  return sinter_node_set_attr(node, &a);
}

sinter_status_t sinter_node_set_attr_floats(sinter_node_t *node, const char *name,
                                            const float *v, int64_t count) {
  sinter_attr_t a = {.name = name, .kind = SINTER_ATTR_FLOATS, .floats = v, .count = count};
  return sinter_node_set_attr(node, &a);
}

/* ---- values ------------------------------------------------------------- */

sinter_value_kind_t sinter_value_kind(const sinter_value_t *v) { return v->kind; }
const char *sinter_value_name(const sinter_value_t *v) { return v->name; }
sinter_status_t sinter_value_set_name(sinter_value_t *v, const char *name) {
  const char *c = sinter_arena_strdup(&v->graph->arena, name ? name : "");
  if (!c) return OOM();
  v->name = c;
  return NULL;
}
const sinter_type_t *sinter_value_type(const sinter_value_t *v) { return &v->type; }
void sinter_value_set_type(sinter_value_t *v, const sinter_type_t *type) {
  copy_type(v->graph, &v->type, type);
}
sinter_node_t *sinter_value_producer(const sinter_value_t *v, int32_t *out_slot) {
  if (out_slot) *out_slot = v->producer ? v->producer_slot : -1;
  return v->producer;
}
int32_t sinter_value_num_uses(const sinter_value_t *v) { return v->n_uses; }
sinter_node_t *sinter_value_use(const sinter_value_t *v, int32_t i, int32_t *out_slot) {
  if (i < 0 || i >= v->n_uses) return NULL;
  if (out_slot) *out_slot = v->uses[i].slot;
  return v->uses[i].node;
}
bool sinter_value_is_graph_output(const sinter_value_t *v) { return v->n_output_refs > 0; }
const void *sinter_value_data(const sinter_value_t *v, size_t *out_nbytes) {
  if (out_nbytes) *out_nbytes = v->kind == SINTER_VALUE_CONST ? v->nbytes : 0;
  return v->kind == SINTER_VALUE_CONST ? v->data : NULL;
}
const sinter_quant_params_t *sinter_value_quant(const sinter_value_t *v) { return v->quant; }

sinter_status_t sinter_value_set_quant(sinter_value_t *v, const sinter_quant_params_t *qp) {
  if (!qp) {
    v->quant = NULL;
    return NULL;
  }
  if (qp->count < 0 || qp->count > (int64_t)1 << 32)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "quant params of '%s': bad count", v->name);
  sinter_arena_t *ar = &v->graph->arena;
  sinter_quant_params_t *c = sinter_arena_alloc(ar, sizeof(*c), 8);
  if (!c) return OOM();
  *c = *qp;
  size_t n = (size_t)qp->count;
  c->scales = NULL;
  c->zero_points = NULL;
  if (n) {
    c->scales = sinter_arena_memdup(ar, qp->scales, n * sizeof(float));
    if (!c->scales) return OOM();
    if (qp->zero_points) {
      c->zero_points = sinter_arena_memdup(ar, qp->zero_points, n * sizeof(int32_t));
      if (!c->zero_points) return OOM();
    }
  }
  v->quant = c;
  return NULL;
}
