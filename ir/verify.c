/* The graph verifier: checks the invariants every pass must keep (SSA,
 * topological order, use lists, arity, types, constant sizes, quant params)
 * and reports the first violation, naming the node or value and the reason. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp/kernels.h"

enum { MAX_DEPTH = 64 }; /* nested subgraph attributes */

typedef struct vctx_s {
  const sinter_graph_t *g;
  uint32_t n_values, n_node_ids;
  unsigned char *defined;           /* by value id */
  int32_t *out_refs;                /* by value id: occurrences in the output list */
  const sinter_node_t **node_by_id; /* live nodes seen so far, by node id */
  int64_t *slot_base;               /* by node id: index of input 0 in seen */
  unsigned char *seen;              /* per node input slot: found in a use list */
} vctx_t;

#define FAIL(...) SINTER_ERROR(SINTER_INVALID_MODEL, __VA_ARGS__)

/* ---- descriptions --------------------------------------------------------- */

static const char *ndesc(const sinter_node_t *n, char *buf, size_t cap) {
  return sinter_ir_node_desc(n, buf, cap);
}

/* "'x'", or "#7" for an unnamed value. */
static const char *vdesc(const sinter_value_t *v, char *buf, size_t cap) {
  if (v->name && v->name[0])
    snprintf(buf, cap, "'%s'", v->name);
  else
    snprintf(buf, cap, "#%" PRIu32, v->id);
  return buf;
}

/* ---- types and quant params -------------------------------------------------- */

static bool interned_in(const sinter_graph_t *g, const char *sym) {
  for (int32_t i = 0; i < g->n_interned; i++)
    if (g->interned[i] == sym) return true;
  return false;
}

/* Returns NULL when t is well formed, else the reason (written into buf). */
static const char *check_type(const sinter_graph_t *g, const sinter_type_t *t, char *buf,
                              size_t cap) {
  if ((unsigned)t->dtype >= SINTER_DTYPE_COUNT) {
    snprintf(buf, cap, "dtype %d is not a valid dtype", (int)t->dtype);
    return buf;
  }
  if (t->rank < -1 || t->rank > SINTER_MAX_RANK) {
    snprintf(buf, cap, "rank %d is outside -1..%d", (int)t->rank, SINTER_MAX_RANK);
    return buf;
  }
  for (int32_t d = 0; d < t->rank; d++) {
    const sinter_dim_t *dim = &t->dims[d];
    if (dim->size < -1) {
      snprintf(buf, cap, "dim %d is %" PRId64 "; sizes are >= 0, or -1 for unknown", d, dim->size);
      return buf;
    }
    if (dim->size == -1 && dim->sym && (!dim->sym[0] || !interned_in(g, dim->sym))) {
      snprintf(buf, cap, "dim %d has a symbol that is not interned in the graph", d);
      return buf;
    }
  }
  return NULL;
}

static bool is_unsigned(sinter_dtype_t d) {
  return d == SINTER_DTYPE_U8 || d == SINTER_DTYPE_U16 || d == SINTER_DTYPE_U32 ||
         d == SINTER_DTYPE_U64 || d == SINTER_DTYPE_U4;
}

static bool is_signed_int(sinter_dtype_t d) {
  return sinter_dtype_is_int(d) && !is_unsigned(d);
}

/* Returns NULL when q fits the value of type t, else the reason. */
static const char *check_quant(const sinter_quant_params_t *q, const sinter_type_t *t, char *buf,
                               size_t cap) {
  if (q->scheme == SINTER_QUANT_NONE) {
    if (q->count != 0) {
      snprintf(buf, cap, "quant scheme none carries %" PRId64 " scales", q->count);
      return buf;
    }
    return NULL;
  }
  if (q->scheme != SINTER_QUANT_PER_TENSOR && q->scheme != SINTER_QUANT_PER_AXIS &&
      q->scheme != SINTER_QUANT_PER_GROUP) {
    snprintf(buf, cap, "quant scheme %d is unknown", (int)q->scheme);
    return buf;
  }
  if (q->bits != 4 && q->bits != 8 && q->bits != 16 && q->bits != 32) {
    snprintf(buf, cap, "quant bits is %d; expected 4, 8, 16 or 32", (int)q->bits);
    return buf;
  }
  if ((unsigned)t->dtype < SINTER_DTYPE_COUNT && sinter_dtype_is_int(t->dtype) &&
      q->bits > sinter_dtype_bits(t->dtype)) {
    snprintf(buf, cap, "quant bits %d do not fit in %s", (int)q->bits, sinter_dtype_name(t->dtype));
    return buf;
  }
  if (q->count < 1 || !q->scales) {
    snprintf(buf, cap, "quant params have %" PRId64 " scales%s", q->count,
             q->count >= 1 ? " but no scale array" : "");
    return buf;
  }
  for (int64_t i = 0; i < q->count; i++)
    if (!isfinite(q->scales[i]) || !(q->scales[i] > 0)) {
      snprintf(buf, cap, "quant scale %" PRId64 " is %g; scales must be finite and > 0", i,
               (double)q->scales[i]);
      return buf;
    }
  if (q->zero_points) {
    int64_t lo, hi, b = q->bits;
    if (is_signed_int(t->dtype)) {
      lo = -((int64_t)1 << (b - 1));
      hi = ((int64_t)1 << (b - 1)) - 1;
    } else if (is_unsigned(t->dtype)) {
      lo = 0;
      hi = ((int64_t)1 << b) - 1;
    } else {
      lo = -((int64_t)1 << (b - 1));
      hi = ((int64_t)1 << b) - 1;
    }
    for (int64_t i = 0; i < q->count; i++)
      if (q->zero_points[i] < lo || q->zero_points[i] > hi) {
        snprintf(buf, cap, "quant zero point %" PRId64 " is %d, outside [%" PRId64 ", %" PRId64 "]",
                 i, (int)q->zero_points[i], lo, hi);
        return buf;
      }
  }
  if (q->scheme == SINTER_QUANT_PER_TENSOR) {
    if (q->count != 1) {
      snprintf(buf, cap, "per-tensor quant params have %" PRId64 " scales, expected 1", q->count);
      return buf;
    }
    return NULL;
  }
  if (q->scheme == SINTER_QUANT_PER_GROUP && q->group_size <= 0) {
    snprintf(buf, cap, "per-group quant params have group size %d", (int)q->group_size);
    return buf;
  }
  if (t->rank < 0) return NULL; /* nothing more to check against */
  int32_t axis = q->axis < 0 ? q->axis + t->rank : q->axis;
  if (axis < 0 || axis >= t->rank) {
    snprintf(buf, cap, "quant axis %d is out of range for rank %d", (int)q->axis, (int)t->rank);
    return buf;
  }
  int64_t dim = t->dims[axis].size;
  if (q->scheme == SINTER_QUANT_PER_AXIS) {
    if (dim >= 0 && q->count != dim) {
      snprintf(buf, cap, "per-axis quant params have %" PRId64 " scales, but dim %d is %" PRId64,
               q->count, (int)axis, dim);
      return buf;
    }
    return NULL;
  }
  int64_t numel;
  if (!sinter_type_numel(t, &numel)) return NULL;
  int64_t want = dim ? numel / dim * ((dim + q->group_size - 1) / q->group_size) : 0;
  if (q->count != want) {
    snprintf(buf, cap,
             "per-group quant params have %" PRId64 " scales, but %" PRId64
             " are needed (dim %d of %" PRId64 " in groups of %d)",
             q->count, want, (int)axis, dim, (int)q->group_size);
    return buf;
  }
  return NULL;
}

/* Checks a value's type and quant params; what says where it appears. */
static sinter_status_t check_value_type(const vctx_t *c, const sinter_value_t *v,
                                        const char *what) {
  char buf[256];
  const char *why = check_type(c->g, &v->type, buf, sizeof(buf));
  if (why) return FAIL("%s: %s", what, why);
  if (v->quant && (why = check_quant(v->quant, &v->type, buf, sizeof(buf))))
    return FAIL("%s: %s", what, why);
  return NULL;
}

/* A value must belong to this graph, be live and have a sane id. */
static const char *check_value_header(const vctx_t *c, const sinter_value_t *v,
                                      sinter_value_kind_t kind) {
  if (v->graph != c->g) return "belongs to another graph";
  if (v->removed) return "was removed";
  if (v->id >= c->n_values) return "has an id beyond the graph's counter";
  if (v->kind != kind) return "has the wrong kind for its place";
  return NULL;
}

/* ---- attributes -------------------------------------------------------------- */

static sinter_status_t verify_graph(const sinter_graph_t *g, int depth);

static const char *check_tensor(const sinter_tensor_t *t, char *buf, size_t cap) {
  if ((unsigned)t->dtype >= SINTER_DTYPE_COUNT || t->dtype == SINTER_DTYPE_UNDEFINED) {
    snprintf(buf, cap, "tensor has dtype %d", (int)t->dtype);
    return buf;
  }
  if (t->rank < 0 || t->rank > SINTER_MAX_RANK) {
    snprintf(buf, cap, "tensor has rank %d", (int)t->rank);
    return buf;
  }
  int64_t numel = sinter_tensor_numel(t);
  size_t want;
  if (numel < 0 || !sinter_dtype_storage_size(t->dtype, numel, &want)) {
    snprintf(buf, cap, "tensor has bad dims");
    return buf;
  }
  if (want != t->nbytes) {
    snprintf(buf, cap, "tensor holds %zu bytes, but its type needs %zu", t->nbytes, want);
    return buf;
  }
  if (t->nbytes && !t->data) {
    snprintf(buf, cap, "tensor has no data");
    return buf;
  }
  return NULL;
}

static sinter_status_t check_attrs(const vctx_t *c, const sinter_node_t *n, int depth) {
  char nb[160], buf[256];
  if (n->n_attrs < 0 || (n->n_attrs && !n->attrs))
    return FAIL("%s: attribute array is broken", ndesc(n, nb, sizeof(nb)));
  for (int32_t i = 0; i < n->n_attrs; i++) {
    const sinter_attr_t *a = &n->attrs[i];
    if (!a->name) return FAIL("%s: attribute %d has no name", ndesc(n, nb, sizeof(nb)), i);
    if (i && strcmp(n->attrs[i - 1].name, a->name) >= 0)
      return FAIL("%s: attributes are not sorted by name, or '%s' appears twice",
                  ndesc(n, nb, sizeof(nb)), a->name);
    bool single = a->kind == SINTER_ATTR_TENSOR || a->kind == SINTER_ATTR_GRAPH;
    bool list = a->kind == SINTER_ATTR_INTS || a->kind == SINTER_ATTR_FLOATS ||
                a->kind == SINTER_ATTR_STRINGS || a->kind == SINTER_ATTR_TENSORS ||
                a->kind == SINTER_ATTR_GRAPHS;
    if (!single && !list && a->kind != SINTER_ATTR_INT && a->kind != SINTER_ATTR_FLOAT &&
        a->kind != SINTER_ATTR_STRING)
      return FAIL("%s: attribute '%s' has unknown kind %d", ndesc(n, nb, sizeof(nb)), a->name,
                  (int)a->kind);
    if (a->kind == SINTER_ATTR_STRING && !a->s)
      return FAIL("%s: attribute '%s' has no string", ndesc(n, nb, sizeof(nb)), a->name);
    if ((single && a->count != 1) || (list && a->count < 0))
      return FAIL("%s: attribute '%s' has count %" PRId64, ndesc(n, nb, sizeof(nb)), a->name,
                  a->count);
    if (!single && !list) continue;
    const void *arr = a->kind == SINTER_ATTR_INTS      ? (const void *)a->ints
                      : a->kind == SINTER_ATTR_FLOATS  ? (const void *)a->floats
                      : a->kind == SINTER_ATTR_STRINGS ? (const void *)a->strings
                      : (a->kind == SINTER_ATTR_TENSOR || a->kind == SINTER_ATTR_TENSORS)
                          ? (const void *)a->tensors
                          : (const void *)a->graphs;
    if (a->count && !arr)
      return FAIL("%s: attribute '%s' has no elements", ndesc(n, nb, sizeof(nb)), a->name);
    for (int64_t k = 0; k < a->count; k++) {
      if (a->kind == SINTER_ATTR_STRINGS && !a->strings[k])
        return FAIL("%s: attribute '%s': string %" PRId64 " is missing", ndesc(n, nb, sizeof(nb)),
                    a->name, k);
      if (a->kind == SINTER_ATTR_TENSOR || a->kind == SINTER_ATTR_TENSORS) {
        const char *why = check_tensor(&a->tensors[k], buf, sizeof(buf));
        if (why) return FAIL("%s: attribute '%s': %s", ndesc(n, nb, sizeof(nb)), a->name, why);
      }
      if (a->kind == SINTER_ATTR_GRAPH || a->kind == SINTER_ATTR_GRAPHS) {
        const sinter_graph_t *sub = a->graphs[k];
        if (!sub)
          return FAIL("%s: attribute '%s': graph %" PRId64 " is missing", ndesc(n, nb, sizeof(nb)),
                      a->name, k);
        if (sub->parent != c->g)
          return FAIL("%s: attribute '%s': subgraph '%s' is not owned by this graph",
                      ndesc(n, nb, sizeof(nb)), a->name, sub->name);
        SINTER_RETURN_IF_ERROR(verify_graph(sub, depth + 1), "%s: attribute '%s': subgraph '%s'",
                               ndesc(n, nb, sizeof(nb)), a->name, sub->name);
      }
    }
  }
  return NULL;
}

/* ---- the walk ------------------------------------------------------------------ */

static sinter_status_t check_inputs(vctx_t *c) {
  const sinter_graph_t *g = c->g;
  char vb[160], what[200];
  if (g->n_inputs < 0 || (g->n_inputs && !g->inputs)) return FAIL("the input list is broken");
  for (int32_t i = 0; i < g->n_inputs; i++) {
    const sinter_value_t *v = g->inputs[i];
    if (!v) return FAIL("graph input %d is null", i);
    const char *why = check_value_header(c, v, SINTER_VALUE_INPUT);
    if (why) return FAIL("graph input %d (%s) %s", i, vdesc(v, vb, sizeof(vb)), why);
    if (c->defined[v->id]) return FAIL("graph input %s is listed twice", vdesc(v, vb, sizeof(vb)));
    c->defined[v->id] = 1;
    snprintf(what, sizeof(what), "graph input %s", vdesc(v, vb, sizeof(vb)));
    SINTER_TRY(check_value_type(c, v, what));
  }
  return NULL;
}

static sinter_status_t check_consts(vctx_t *c) {
  const sinter_graph_t *g = c->g;
  char vb[160], what[200], tb[160];
  const sinter_value_t *prev = NULL;
  int32_t count = 0;
  for (const sinter_value_t *v = g->first_const; v; prev = v, v = v->next_const) {
    if (++count > g->n_consts) return FAIL("the constant list is longer than its count (a cycle?)");
    if (v->prev_const != prev) return FAIL("the constant list's back links are broken");
    const char *why = check_value_header(c, v, SINTER_VALUE_CONST);
    if (why) return FAIL("constant %s %s", vdesc(v, vb, sizeof(vb)), why);
    if (c->defined[v->id]) return FAIL("constant %s is defined twice", vdesc(v, vb, sizeof(vb)));
    c->defined[v->id] = 1;
    snprintf(what, sizeof(what), "constant %s", vdesc(v, vb, sizeof(vb)));
    SINTER_TRY(check_value_type(c, v, what));
    int64_t numel;
    size_t want;
    if (v->type.dtype == SINTER_DTYPE_UNDEFINED || !sinter_type_numel(&v->type, &numel) ||
        !sinter_dtype_storage_size(v->type.dtype, numel, &want))
      return FAIL("%s: type %s is not a static, sized type", what,
                  sinter_type_format(&v->type, tb, sizeof(tb)));
    if (want != v->nbytes)
      return FAIL("%s: holds %zu bytes of data, but %s needs %zu", what, v->nbytes,
                  sinter_type_format(&v->type, tb, sizeof(tb)), want);
    if (v->nbytes && !v->data) return FAIL("%s: has no data", what);
  }
  if (count != g->n_consts)
    return FAIL("the constant list holds %d constants, its count says %d", count, g->n_consts);
  if (g->last_const != prev) return FAIL("the constant list's tail pointer is stale");
  return NULL;
}

static sinter_status_t check_node(vctx_t *c, const sinter_node_t *n, int64_t *total_slots,
                                  int depth) {
  const sinter_graph_t *g = c->g;
  char nb[160], vb[160], what[360];
  const sinter_op_info_t *info = sinter_op_info(n->op);
  if (!info) return FAIL("node #%" PRIu32 " has invalid op %d", n->id, (int)n->op);
  ndesc(n, nb, sizeof(nb));
  if (n->n_inputs < 0 || n->n_outputs < 0 || (n->n_inputs && !n->inputs) ||
      (n->n_outputs && !n->outputs))
    return FAIL("%s: broken input or output array", nb);
  if (n->n_inputs < info->min_inputs || (info->max_inputs >= 0 && n->n_inputs > info->max_inputs)) {
    if (info->max_inputs < 0)
      return FAIL("%s: takes at least %d inputs, has %d", nb, info->min_inputs, n->n_inputs);
    return FAIL("%s: takes %d to %d inputs, has %d", nb, info->min_inputs, info->max_inputs,
                n->n_inputs);
  }
  if (n->n_outputs < info->min_outputs ||
      (info->max_outputs >= 0 && n->n_outputs > info->max_outputs)) {
    if (info->max_outputs < 0)
      return FAIL("%s: has at least %d outputs, has %d", nb, info->min_outputs, n->n_outputs);
    return FAIL("%s: has %d to %d outputs, has %d", nb, info->min_outputs, info->max_outputs,
                n->n_outputs);
  }
  for (int32_t i = 0; i < n->n_inputs; i++) {
    const sinter_value_t *v = n->inputs[i];
    if (!v) {
      if (i < info->min_inputs) return FAIL("%s: required input %d is missing", nb, i);
      continue;
    }
    vdesc(v, vb, sizeof(vb));
    if (v->graph != g) return FAIL("%s: input %d (%s) belongs to another graph", nb, i, vb);
    if (v->removed) return FAIL("%s: input %d (%s) was removed from the graph", nb, i, vb);
    if (v->id >= c->n_values) return FAIL("%s: input %d (%s) has a bad id", nb, i, vb);
    if (c->defined[v->id]) continue;
    const sinter_node_t *p = v->producer;
    if (v->kind == SINTER_VALUE_NODE && p && p->graph == g)
      return FAIL(
          "%s: input %d (%s) is used before it is defined (nodes out of topological "
          "order, or a cycle)",
          nb, i, vb);
    return FAIL("%s: input %d (%s) is not defined in this graph", nb, i, vb);
  }
  c->slot_base[n->id] = *total_slots;
  *total_slots += n->n_inputs;
  for (int32_t i = 0; i < n->n_outputs; i++) {
    const sinter_value_t *v = n->outputs[i];
    if (!v) return FAIL("%s: output %d is null", nb, i);
    vdesc(v, vb, sizeof(vb));
    const char *why = check_value_header(c, v, SINTER_VALUE_NODE);
    if (why) return FAIL("%s: output %d (%s) %s", nb, i, vb, why);
    if (v->producer != n || v->producer_slot != i)
      return FAIL("%s: output %d (%s) names another producer or slot", nb, i, vb);
    if (c->defined[v->id]) return FAIL("%s: output %d (%s) is defined twice", nb, i, vb);
    c->defined[v->id] = 1;
    snprintf(what, sizeof(what), "%s: output %d (%s)", nb, i, vb);
    SINTER_TRY(check_value_type(c, v, what));
  }
  return check_attrs(c, n, depth);
}

static sinter_status_t check_nodes(vctx_t *c, int64_t *total_slots, int depth) {
  const sinter_graph_t *g = c->g;
  char nb[160];
  const sinter_node_t *prev = NULL;
  int32_t count = 0;
  for (const sinter_node_t *n = g->first; n; prev = n, n = n->next) {
    if (++count > g->n_nodes) return FAIL("the node list is longer than its count (a cycle?)");
    if (n->prev != prev)
      return FAIL("the node list's back links are broken at %s", ndesc(n, nb, sizeof(nb)));
    if (n->graph != g) return FAIL("%s belongs to another graph", ndesc(n, nb, sizeof(nb)));
    if (n->id >= c->n_node_ids || c->node_by_id[n->id])
      return FAIL("%s has a bad or repeated id", ndesc(n, nb, sizeof(nb)));
    SINTER_TRY(check_node(c, n, total_slots, depth));
    c->node_by_id[n->id] = n;
  }
  if (count != g->n_nodes)
    return FAIL("the node list holds %d nodes, its count says %d", count, g->n_nodes);
  if (g->last != prev) return FAIL("the node list's tail pointer is stale");
  return NULL;
}

/* Every use recorded must match a node input, and every input a use. */
static sinter_status_t check_uses_of(vctx_t *c, const sinter_value_t *v) {
  char vb[160], nb[160];
  vdesc(v, vb, sizeof(vb));
  if (v->n_uses < 0 || v->n_uses > v->cap_uses || (v->n_uses && !v->uses))
    return FAIL("value %s: broken use list", vb);
  for (int32_t k = 0; k < v->n_uses; k++) {
    const sinter_node_t *n = v->uses[k].node;
    int32_t slot = v->uses[k].slot;
    if (!n || n->graph != c->g || n->id >= c->n_node_ids || c->node_by_id[n->id] != n)
      return FAIL("value %s: use %d names a node that is not in the graph (a stale use)", vb, k);
    ndesc(n, nb, sizeof(nb));
    if (slot < 0 || slot >= n->n_inputs)
      return FAIL("value %s: use %d names input %d of %s, which has %d inputs", vb, k, slot, nb,
                  n->n_inputs);
    if (n->inputs[slot] != v)
      return FAIL(
          "value %s: use %d says %s reads it at input %d, but that input is another "
          "value (a stale use)",
          vb, k, nb, slot);
    unsigned char *s = &c->seen[c->slot_base[n->id] + slot];
    if (*s) return FAIL("value %s: %s input %d is listed twice in its use list", vb, nb, slot);
    *s = 1;
  }
  return NULL;
}

static sinter_status_t check_uses(vctx_t *c) {
  const sinter_graph_t *g = c->g;
  char nb[160], vb[160];
  for (int32_t i = 0; i < g->n_inputs; i++) SINTER_TRY(check_uses_of(c, g->inputs[i]));
  for (const sinter_value_t *v = g->first_const; v; v = v->next_const)
    SINTER_TRY(check_uses_of(c, v));
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_outputs; i++) SINTER_TRY(check_uses_of(c, n->outputs[i]));
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_inputs; i++)
      if (n->inputs[i] && !c->seen[c->slot_base[n->id] + i])
        return FAIL("%s: input %d (%s) is missing from the use list of its value",
                    ndesc(n, nb, sizeof(nb)), i, vdesc(n->inputs[i], vb, sizeof(vb)));
  return NULL;
}

static sinter_status_t check_output_refs_of(const vctx_t *c, const sinter_value_t *v) {
  char vb[160];
  if (v->n_output_refs != c->out_refs[v->id])
    return FAIL(
        "value %s: counts %d graph output references, but the output list names it %d "
        "times",
        vdesc(v, vb, sizeof(vb)), v->n_output_refs, c->out_refs[v->id]);
  return NULL;
}

static sinter_status_t check_outputs(vctx_t *c) {
  const sinter_graph_t *g = c->g;
  char vb[160];
  if (g->n_outputs < 0 || (g->n_outputs && !g->outputs)) return FAIL("the output list is broken");
  for (int32_t i = 0; i < g->n_outputs; i++) {
    const sinter_value_t *v = g->outputs[i];
    if (!v) return FAIL("graph output %d is null", i);
    vdesc(v, vb, sizeof(vb));
    if (v->graph != g) return FAIL("graph output %d (%s) belongs to another graph", i, vb);
    if (v->removed) return FAIL("graph output %d (%s) was removed from the graph", i, vb);
    if (v->id >= c->n_values || !c->defined[v->id])
      return FAIL("graph output %d (%s) is not defined in this graph", i, vb);
    c->out_refs[v->id]++;
  }
  for (int32_t i = 0; i < g->n_inputs; i++) SINTER_TRY(check_output_refs_of(c, g->inputs[i]));
  for (const sinter_value_t *v = g->first_const; v; v = v->next_const)
    SINTER_TRY(check_output_refs_of(c, v));
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_outputs; i++) SINTER_TRY(check_output_refs_of(c, n->outputs[i]));
  return NULL;
}

static sinter_status_t verify_graph(const sinter_graph_t *g, int depth) {
  if (depth > MAX_DEPTH) return FAIL("subgraphs nested deeper than %d levels", MAX_DEPTH);
  vctx_t c = {.g = g, .n_values = g->next_value_id, .n_node_ids = g->next_node_id};
  size_t nv = c.n_values ? c.n_values : 1, nn = c.n_node_ids ? c.n_node_ids : 1;
  c.defined = calloc(nv, 1);
  c.out_refs = calloc(nv, sizeof(int32_t));
  c.node_by_id = calloc(nn, sizeof(*c.node_by_id));
  c.slot_base = calloc(nn, sizeof(int64_t));
  sinter_status_t st = NULL;
  int64_t total_slots = 0;
  if (!c.defined || !c.out_refs || !c.node_by_id || !c.slot_base) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory while verifying");
    goto done;
  }
  if ((st = check_inputs(&c)) || (st = check_consts(&c)) ||
      (st = check_nodes(&c, &total_slots, depth)))
    goto done;
  c.seen = calloc(total_slots ? (size_t)total_slots : 1, 1);
  if (!c.seen) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory while verifying");
    goto done;
  }
  if ((st = check_uses(&c))) goto done;
  st = check_outputs(&c);
done:
  free(c.defined);
  free(c.out_refs);
  free(c.node_by_id);
  free(c.slot_base);
  free(c.seen);
  return st;
}

sinter_status_t sinter_graph_verify(const sinter_graph_t *graph) {
  if (!graph) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "no graph to verify");
  return verify_graph(graph, 0);
}

/* ---- type consistency (internal) ----------------------------------------------- */

/* Re-runs shape inference on every node from the stored input types, into
 * scratch types, and fails where an inferred dtype, rank or static dim
 * contradicts the stored output type. Ops without inference are skipped.
 * Run it after sinter_graph_verify succeeded. Declared for tests and the
 * pass manager (prototype in ir_impl.h). */
sinter_status_t sinter_ir_verify_types(const sinter_graph_t *graph) {
  char nb[160], b1[160], b2[160];
  for (const sinter_node_t *n = graph->first; n; n = n->next) {
    const sinter_op_impl_t *impl = sinter_op_impl(n->op);
    if (!impl || !impl->infer) continue;
    /* graph NULL: inference must not intern symbols into a const graph. */
    sinter_infer_frame_t f;
    if (!sinter_infer_frame_init(&f, NULL, n)) continue;
    SINTER_RETURN_IF_ERROR(sinter_infer_node(&f.ctx), "%s: shape inference on the stored types",
                           ndesc(n, nb, sizeof(nb)));
    for (int32_t i = 0; i < n->n_outputs; i++) {
      const sinter_type_t *s = &n->outputs[i]->type, *t = &f.out[i];
      bool bad = s->dtype != SINTER_DTYPE_UNDEFINED && t->dtype != SINTER_DTYPE_UNDEFINED &&
                 s->dtype != t->dtype;
      if (!bad && s->rank >= 0 && t->rank >= 0) {
        bad = s->rank != t->rank;
        for (int32_t d = 0; !bad && d < s->rank; d++)
          bad = s->dims[d].size >= 0 && t->dims[d].size >= 0 && s->dims[d].size != t->dims[d].size;
      }
      if (bad)
        return FAIL("%s: output %d is stored as %s, but inference gives %s",
                    ndesc(n, nb, sizeof(nb)), i, sinter_type_format(s, b1, sizeof(b1)),
                    sinter_type_format(t, b2, sizeof(b2)));
    }
  }
  return NULL;
}
