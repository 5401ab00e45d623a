/* cse: common-subexpression elimination. Merges constants with the same type, bytes and quant
 * params, then nodes with the same op, inputs, attributes (compared deeply) and output quant
 * params. The earliest survives, so the result does not depend on addresses. */
#include <stdio.h>

#include "passes/pass_internal.h"

/* ---- hashing ------------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n) {
  const uint8_t *p = data;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = mix(h, w);
  }
  uint64_t tail = 0;
  for (size_t k = 0; i < n; i++, k++) tail |= (uint64_t)p[i] << (8 * k);
  return mix(h, tail ^ n);
}

static uint64_t hash_type(uint64_t h, const sinter_type_t *t) {
  h = mix(h, (uint64_t)t->dtype);
  h = mix(h, (uint64_t)(int64_t)t->rank);
  for (int32_t d = 0; d < t->rank; d++) h = mix(h, (uint64_t)t->dims[d].size);
  return h;
}

static uint64_t hash_tensor(uint64_t h, const sinter_tensor_t *t) {
  h = mix(h, (uint64_t)t->dtype);
  h = mix(h, (uint64_t)(int64_t)t->rank);
  for (int32_t d = 0; d < t->rank; d++) h = mix(h, (uint64_t)t->dims[d]);
  return hash_bytes(h, t->data, t->nbytes);
}

static uint64_t hash_attr(uint64_t h, const sinter_attr_t *a) {
  h = hash_bytes(h, a->name, strlen(a->name));
  h = mix(h, (uint64_t)a->kind);
  switch (a->kind) {
    case SINTER_ATTR_INT: return mix(h, (uint64_t)a->i);
    case SINTER_ATTR_FLOAT: return hash_bytes(h, &a->f, sizeof(a->f));
    case SINTER_ATTR_STRING: return hash_bytes(h, a->s, a->s_len);
    case SINTER_ATTR_INTS: return hash_bytes(h, a->ints, sizeof(int64_t) * (size_t)a->count);
    case SINTER_ATTR_FLOATS: return hash_bytes(h, a->floats, sizeof(float) * (size_t)a->count);
    case SINTER_ATTR_STRINGS:
      for (int64_t i = 0; i < a->count; i++)
        h = hash_bytes(h, a->strings[i], strlen(a->strings[i]));
      return mix(h, (uint64_t)a->count);
    case SINTER_ATTR_TENSOR:
    case SINTER_ATTR_TENSORS:
      for (int64_t i = 0; i < a->count; i++) h = hash_tensor(h, &a->tensors[i]);
      return mix(h, (uint64_t)a->count);
    default: return h; /* graphs: nodes holding them are never merged */
  }
}

/* ---- equality ----------------------------------------------------------------- */

static bool quant_equal(const sinter_quant_params_t *a, const sinter_quant_params_t *b) {
  if (!a || !b) return a == b;
  if (a->scheme != b->scheme || a->bits != b->bits || a->axis != b->axis ||
      a->group_size != b->group_size || a->count != b->count)
    return false;
  size_t n = (size_t)a->count;
  if (n && memcmp(a->scales, b->scales, n * sizeof(float)) != 0) return false;
  if (!a->zero_points || !b->zero_points) return a->zero_points == b->zero_points;
  return !n || memcmp(a->zero_points, b->zero_points, n * sizeof(int32_t)) == 0;
}

static bool tensor_equal(const sinter_tensor_t *a, const sinter_tensor_t *b) {
  if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes) return false;
  for (int32_t d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) return false;
  return !a->nbytes || memcmp(a->data, b->data, a->nbytes) == 0;
}

/* Deep equality; floats compare by bits, so NaN equals the same NaN and 0.0 differs from -0.0. */
static bool attr_equal(const sinter_attr_t *a, const sinter_attr_t *b) {
  if (strcmp(a->name, b->name) != 0 || a->kind != b->kind) return false;
  size_t n = (size_t)a->count;
  switch (a->kind) {
    case SINTER_ATTR_INT: return a->i == b->i;
    case SINTER_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof(float)) == 0;
    case SINTER_ATTR_STRING:
      return a->s_len == b->s_len && (!a->s_len || memcmp(a->s, b->s, a->s_len) == 0);
    case SINTER_ATTR_INTS:
      return a->count == b->count && (!n || memcmp(a->ints, b->ints, n * sizeof(int64_t)) == 0);
    case SINTER_ATTR_FLOATS:
      return a->count == b->count && (!n || memcmp(a->floats, b->floats, n * sizeof(float)) == 0);
    case SINTER_ATTR_STRINGS:
      if (a->count != b->count) return false;
      for (size_t i = 0; i < n; i++)
        if (strcmp(a->strings[i], b->strings[i]) != 0) return false;
      return true;
    case SINTER_ATTR_TENSOR:
    case SINTER_ATTR_TENSORS:
      if (a->count != b->count) return false;
      for (size_t i = 0; i < n; i++)
        if (!tensor_equal(&a->tensors[i], &b->tensors[i])) return false;
      return true;
    default: return false;
  }
}

static bool has_subgraph(const sinter_node_t *n) {
  for (int32_t i = 0; i < n->n_attrs; i++)
    if (n->attrs[i].kind == SINTER_ATTR_GRAPH || n->attrs[i].kind == SINTER_ATTR_GRAPHS)
      return true;
  return false;
}

/* Binary commutative ops compare their inputs as a set. Only binary ones: Sum or Mean of three
 * inputs adds in input order, and reordering would change float rounding. */
static bool inputs_commute(const sinter_node_t *n) {
  const sinter_op_info_t *info = sinter_op_info(n->op);
  return info && (info->traits & SINTER_OPF_COMMUTATIVE) && n->n_inputs == 2 && n->inputs[0] &&
         n->inputs[1];
}

/* The input at slot i, in the order used for hashing and comparing. */
static const sinter_value_t *key_input(const sinter_node_t *n, int32_t i) {
  if (inputs_commute(n) && n->inputs[0]->id > n->inputs[1]->id) return n->inputs[1 - i];
  return n->inputs[i];
}

static uint64_t hash_node(const sinter_node_t *n) {
  uint64_t h = mix(0x51ed27f3ull, (uint64_t)n->op);
  h = mix(h, (uint64_t)n->n_inputs);
  h = mix(h, (uint64_t)n->n_outputs);
  for (int32_t i = 0; i < n->n_inputs; i++) {
    const sinter_value_t *v = key_input(n, i);
    h = mix(h, v ? (uint64_t)v->id + 1 : 0);
  }
  for (int32_t i = 0; i < n->n_attrs; i++) h = hash_attr(h, &n->attrs[i]);
  return h;
}

static bool node_equal(const sinter_node_t *a, const sinter_node_t *b) {
  if (a->op != b->op || a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs ||
      a->n_attrs != b->n_attrs)
    return false;
  for (int32_t i = 0; i < a->n_inputs; i++)
    if (key_input(a, i) != key_input(b, i)) return false;
  /* Attributes are kept sorted by name, so equal sets line up. */
  for (int32_t i = 0; i < a->n_attrs; i++)
    if (!attr_equal(&a->attrs[i], &b->attrs[i])) return false;
  for (int32_t i = 0; i < a->n_outputs; i++)
    if (!quant_equal(a->outputs[i]->quant, b->outputs[i]->quant)) return false;
  return true;
}

static uint64_t hash_const(const sinter_value_t *v) {
  return hash_bytes(hash_type(0x2545f491ull, &v->type), v->data, v->nbytes);
}

static bool const_equal(const sinter_value_t *a, const sinter_value_t *b) {
  if (a->type.dtype != b->type.dtype || a->type.rank != b->type.rank || a->nbytes != b->nbytes)
    return false;
  for (int32_t d = 0; d < a->type.rank; d++)
    if (a->type.dims[d].size != b->type.dims[d].size) return false;
  if (!quant_equal(a->quant, b->quant)) return false;
  return !a->nbytes || memcmp(a->data, b->data, a->nbytes) == 0;
}

/* ---- an open-addressing table of survivors ------------------------------------- */

typedef struct entry_s {
  uint64_t hash;
  void *item; /* a node or a constant value; NULL: empty */
} entry_t;

typedef struct table_s {
  entry_t *e;
  size_t mask;
} table_t;

static sinter_status_t table_init(table_t *t, int64_t items) {
  size_t cap = 16;
  while (cap < (size_t)items * 2 + 16) cap *= 2;
  t->e = calloc(cap, sizeof(entry_t));
  t->mask = cap - 1;
  return t->e ? NULL : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
}

/* Returns the first item with hash h that eq accepts, or inserts item and returns NULL. */
static void *table_find_or_insert(table_t *t, uint64_t h, void *item,
                                  bool (*eq)(const void *, const void *)) {
  for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
    if (!t->e[i].item) {
      t->e[i].hash = h;
      t->e[i].item = item;
      return NULL;
    }
    if (t->e[i].hash == h && eq(t->e[i].item, item)) return t->e[i].item;
  }
}

static bool node_eq(const void *a, const void *b) {
  return node_equal(a, b);
}
static bool const_eq(const void *a, const void *b) {
  return const_equal(a, b);
}

/* ---- the pass ---------------------------------------------------------------------- */

/* Replaces every use of dup with keep. A graph output must keep its name: keep then takes it,
 * unless keep is a graph output itself, in which case nothing changes and false comes back. */
static sinter_status_t merge_value(sinter_value_t *dup, sinter_value_t *keep, bool *out_merged) {
  *out_merged = false;
  if (dup->n_output_refs) {
    if (keep->n_output_refs || keep->kind == SINTER_VALUE_INPUT) return NULL;
    if (dup->name[0]) {
      const char *name = dup->name;
      SINTER_TRY(sinter_value_set_name(dup, ""));
      SINTER_TRY(sinter_value_set_name(keep, name));
    }
  }
  sinter_value_replace_all_uses(dup, keep);
  *out_merged = true;
  return NULL;
}

static sinter_status_t cse_consts(sinter_graph_t *g, int64_t *merged) {
  table_t t;
  SINTER_TRY(table_init(&t, g->n_consts));
  sinter_status_t st = NULL;
  for (sinter_value_t *v = g->first_const, *next; v && !st; v = next) {
    next = v->next_const;
    sinter_value_t *keep = table_find_or_insert(&t, hash_const(v), v, const_eq);
    if (!keep) continue;
    bool done;
    st = merge_value(v, keep, &done);
    if (!st && done) {
      st = sinter_graph_remove_value(g, v);
      (*merged)++;
    }
  }
  free(t.e);
  return st;
}

static sinter_status_t cse_nodes(sinter_graph_t *g, int64_t *removed) {
  table_t t;
  SINTER_TRY(table_init(&t, g->n_nodes));
  sinter_status_t st = NULL;
  for (sinter_node_t *n = g->first, *next; n && !st; n = next) {
    next = n->next;
    if (has_subgraph(n) || n->n_outputs == 0) continue;
    sinter_node_t *keep = table_find_or_insert(&t, hash_node(n), n, node_eq);
    if (!keep) continue;
    /* Every output must be mergeable, or the duplicate has to stay. */
    bool ok = true;
    for (int32_t i = 0; i < n->n_outputs && ok; i++)
      if (n->outputs[i]->n_output_refs && keep->outputs[i]->n_output_refs) ok = false;
    if (!ok) continue;
    for (int32_t i = 0; i < n->n_outputs && !st; i++) {
      bool done;
      st = merge_value(n->outputs[i], keep->outputs[i], &done);
    }
    if (!st) st = sinter_graph_remove_node(g, n);
    if (!st) (*removed)++;
  }
  free(t.e);
  return st;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  int64_t merged_consts = 0;
  /* Constants first: nodes that read equal constants then have equal inputs. */
  SINTER_RETURN_IF_ERROR(cse_consts(graph, &merged_consts), "cse");
  SINTER_RETURN_IF_ERROR(cse_nodes(graph, &counters->removed), "cse");
  counters->rewritten += merged_consts;
  return NULL;
}

const sinter_pass_info_t sinter_pass_cse = {
    "cse", "merge identical constants and nodes that compute the same value", NULL, 0, run, NULL,
};
