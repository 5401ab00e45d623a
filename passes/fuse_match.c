/* Matching and rewriting helpers shared by the expanded-form recognizers
 * (see fuse_match.h). */
#include "passes/fuse_match.h"

#include <stdio.h>

sinter_value_t *sinter_fm_const(sinter_value_t *v) {
  /* Exporters deduplicate equal initializers behind Identity nodes (BERT's
   * LayerNorm weights); a bounded walk also guards against odd graphs. */
  for (int hops = 0; v && hops < 16; hops++) {
    if (v->kind == SINTER_VALUE_CONST) return v;
    sinter_node_t *p = sinter_pat_producer(v, SINTER_OP_IDENTITY);
    if (!p || p->n_inputs < 1) return NULL;
    v = p->inputs[0];
  }
  return NULL;
}

bool sinter_fm_near(double a, double target, sinter_dtype_t dtype) {
  double rel = dtype == SINTER_DTYPE_F16    ? SINTER_FM_REL_TOL_F16
               : dtype == SINTER_DTYPE_BF16 ? SINTER_FM_REL_TOL_BF16
                                            : SINTER_FM_REL_TOL;
  return fabs(a - target) <= rel * (target != 0 ? fabs(target) : 1.0);
}

bool sinter_fm_scalar_value(sinter_value_t *v, double *out_value) {
  sinter_value_t *c = sinter_fm_const(v);
  /* Integer constants occur as Pow exponents (x ** 3 exported with an i64 3). */
  if (!c || !(sinter_dtype_is_float(c->type.dtype) || sinter_dtype_is_int(c->type.dtype)) ||
      c->type.dtype == SINTER_DTYPE_I4 || c->type.dtype == SINTER_DTYPE_U4)
    return false;
  int64_t n;
  if (!sinter_type_numel(&c->type, &n) || n != 1) return false;
  *out_value = sinter_load_f64(c->data, c->type.dtype, 0);
  return true;
}

bool sinter_fm_scalar(sinter_value_t *v, double target, const sinter_value_t *x) {
  double val;
  if (!sinter_fm_scalar_value(v, &val)) return false;
  /* A [1] or [1,1] operand broadcasts to more dims than a lower-rank x. */
  const sinter_value_t *c = sinter_fm_const(v);
  int32_t crank = c->type.rank;
  if (x && x->type.rank >= 0 ? crank > x->type.rank : crank > 0) return false;
  return sinter_fm_near(val, target, c->type.dtype);
}

sinter_value_t *sinter_fm_other(const sinter_node_t *n, const sinter_value_t *v) {
  if (!n || n->n_inputs != 2) return NULL;
  if (n->inputs[0] == v) return n->inputs[1];
  if (n->inputs[1] == v) return n->inputs[0];
  return NULL;
}

sinter_node_t *sinter_fm_sole_user(const sinter_value_t *v) {
  return sinter_pat_single_use(v) ? v->uses[0].node : NULL;
}

sinter_node_t *sinter_fm_sole_producer(const sinter_value_t *v, sinter_op_t op) {
  if (!sinter_pat_single_use(v)) return NULL;
  return sinter_pat_producer(v, op);
}

bool sinter_fm_is_scale(const sinter_node_t *n, const sinter_value_t *v, double k,
                        const sinter_value_t *x) {
  if (!n || n->n_inputs != 2) return false;
  if (n->op == SINTER_OP_MUL) {
    sinter_value_t *o = sinter_fm_other(n, v);
    return o && o != v && sinter_fm_scalar(o, k, x);
  }
  if (n->op == SINTER_OP_DIV)
    return n->inputs[0] == v && sinter_fm_scalar(n->inputs[1], 1.0 / k, x);
  return false;
}

sinter_value_t *sinter_fm_with_scalar(const sinter_node_t *n, sinter_op_t op, double target) {
  if (!n || n->op != op || n->n_inputs != 2 || !n->inputs[0] || !n->inputs[1]) return NULL;
  sinter_value_t *a = n->inputs[0], *b = n->inputs[1];
  if (sinter_fm_scalar(b, target, a) && !sinter_fm_const(a)) return a;
  bool commutative = op == SINTER_OP_ADD || op == SINTER_OP_MUL;
  if (commutative && sinter_fm_scalar(a, target, b) && !sinter_fm_const(b)) return b;
  return NULL;
}

sinter_node_t *sinter_fm_match_product(sinter_value_t *core, sinter_value_t *x, double k) {
  sinter_node_t *u1 = sinter_fm_sole_user(core);
  if (!u1 || core == x) return NULL;
  sinter_value_t *p1 = u1->outputs[0];
  /* (x * core) * k */
  if (u1->op == SINTER_OP_MUL && sinter_fm_other(u1, core) == x) {
    sinter_node_t *u2 = sinter_fm_sole_user(p1);
    return sinter_fm_is_scale(u2, p1, k, x) ? u2 : NULL;
  }
  /* x * (core * k) */
  if (sinter_fm_is_scale(u1, core, k, x)) {
    sinter_node_t *u2 = sinter_fm_sole_user(p1);
    return u2 && u2->op == SINTER_OP_MUL && sinter_fm_other(u2, p1) == x ? u2 : NULL;
  }
  /* (x * k) * core */
  if (u1->op == SINTER_OP_MUL) {
    sinter_value_t *h = sinter_fm_other(u1, core);
    sinter_node_t *ph = sinter_fm_sole_producer(h, SINTER_OP_INVALID);
    return ph && h != core && sinter_fm_is_scale(ph, x, k, x) ? u1 : NULL;
  }
  return NULL;
}

bool sinter_fm_float(const sinter_value_t *v) {
  if (!v) return false;
  sinter_dtype_t d = v->type.dtype;
  return d == SINTER_DTYPE_F32 || d == SINTER_DTYPE_F16 || d == SINTER_DTYPE_BF16 ||
         d == SINTER_DTYPE_F64;
}

bool sinter_fm_same_type(const sinter_type_t *a, const sinter_type_t *b) {
  if (a->dtype != b->dtype) return false;
  if (a->rank < 0 || b->rank < 0) return a->rank == b->rank;
  if (a->rank != b->rank) return false;
  for (int32_t i = 0; i < a->rank; i++)
    if (a->dims[i].size >= 0 && b->dims[i].size >= 0 && a->dims[i].size != b->dims[i].size)
      return false;
  return true;
}

/* The set of dims a Reduce node reduces over, as a bit mask over rank dims;
 * false when it cannot be read, keeps no dims, or is a no-op. */
static bool axes_mask(const sinter_node_t *n, int32_t rank, uint32_t *out_mask) {
  if (rank < 1 || rank > SINTER_MAX_RANK) return false;
  if (sinter_node_attr_int(n, "keepdims", 1) != 1) return false;
  int64_t axes[SINTER_MAX_RANK];
  int64_t count = 0;
  if (n->n_inputs >= 2 && n->inputs[1]) {
    sinter_value_t *c = sinter_fm_const(n->inputs[1]);
    if (!c || (c->type.dtype != SINTER_DTYPE_I64 && c->type.dtype != SINTER_DTYPE_I32))
      return false;
    if (!sinter_type_numel(&c->type, &count) || count > SINTER_MAX_RANK) return false;
    for (int64_t i = 0; i < count; i++) axes[i] = sinter_load_i64(c->data, c->type.dtype, i);
  } else {
    const int64_t *a = sinter_node_attr_ints(n, "axes", &count);
    if (count > SINTER_MAX_RANK) return false;
    for (int64_t i = 0; i < count; i++) axes[i] = a[i];
  }
  uint32_t mask = 0;
  if (count == 0) {
    /* Empty axes reduce everything, unless the node is asked to be a no-op. */
    if (sinter_node_attr_int(n, "noop_with_empty_axes", 0) != 0) return false;
    mask = (1u << rank) - 1;
  }
  for (int64_t i = 0; i < count; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (a < 0 || a >= rank) return false;
    mask |= 1u << a;
  }
  *out_mask = mask;
  return true;
}

bool sinter_fm_trailing_axes(const sinter_node_t *reduce, int32_t rank, int32_t *out_first) {
  uint32_t mask;
  if (!axes_mask(reduce, rank, &mask)) return false;
  for (int32_t k = rank - 1; k >= 0; k--) {
    uint32_t want = ((1u << rank) - 1) & ~((1u << k) - 1);
    if (mask == want) {
      *out_first = k;
      return true;
    }
  }
  return false;
}

bool sinter_fm_same_axes(const sinter_node_t *a, const sinter_node_t *b, int32_t rank) {
  uint32_t ma, mb;
  return axes_mask(a, rank, &ma) && axes_mask(b, rank, &mb) && ma == mb;
}

sinter_status_t sinter_fm_collect(const sinter_graph_t *graph, sinter_op_t op, sinter_op_t op2,
                                  sinter_node_t ***out_nodes, int32_t *out_count) {
  int32_t n = 0;
  for (sinter_node_t *it = graph->first; it; it = it->next)
    if (it->op == op || (op2 != SINTER_OP_INVALID && it->op == op2)) n++;
  sinter_node_t **arr = malloc(sizeof(*arr) * (size_t)(n ? n : 1));
  if (!arr) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  int32_t i = 0;
  for (sinter_node_t *it = graph->first; it; it = it->next)
    if (it->op == op || (op2 != SINTER_OP_INVALID && it->op == op2)) arr[i++] = it;
  *out_nodes = arr;
  *out_count = n;
  return NULL;
}

bool sinter_fm_alive(const sinter_node_t *node) {
  return node->n_outputs > 0 && !node->outputs[0]->removed;
}

sinter_status_t sinter_fm_norm_param(sinter_graph_t *graph, sinter_value_t *p,
                                     const sinter_value_t *x, int32_t first, bool *out_ok,
                                     sinter_value_t **out) {
  *out_ok = false;
  *out = NULL;
  sinter_value_t *c = sinter_fm_const(p);
  int32_t r = x->type.rank;
  if (!c || c->type.dtype != x->type.dtype || !sinter_type_is_static(&c->type) || r < 0 ||
      c->type.rank > r)
    return NULL;
  for (int32_t i = 0; i < c->type.rank; i++) {
    int32_t j = r - c->type.rank + i;
    int64_t cd = c->type.dims[i].size, xd = x->type.dims[j].size;
    if (j < first ? cd != 1 : cd != 1 && cd != xd) return NULL;
  }
  int32_t inner = r - first;
  if (c->type.rank <= inner) {
    *out = c;
  } else {
    /* Drop the leading unit dims: the data layout stays the same. */
    sinter_type_t t = c->type;
    t.rank = inner;
    for (int32_t i = 0; i < inner; i++) t.dims[i] = c->type.dims[c->type.rank - inner + i];
    char name[512];
    sinter_pat_unique_name(graph, c->name, name, sizeof(name));
    SINTER_TRY(sinter_graph_add_const(graph, name, &t, c->data, c->nbytes, out));
  }
  *out_ok = true;
  return NULL;
}

static sinter_status_t add_filled(sinter_graph_t *graph, sinter_dtype_t dtype, int32_t rank,
                                  const int64_t *dims, double value, const char *hint,
                                  sinter_value_t **out) {
  sinter_type_t t;
  sinter_type_set_static(&t, dtype, rank, dims);
  int64_t n;
  size_t nbytes;
  if (!sinter_type_numel(&t, &n) || !sinter_dtype_storage_size(dtype, n, &nbytes))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "constant '%s' is too large", hint);
  void *buf = malloc(nbytes ? nbytes : 1);
  if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; i++) sinter_store_f64(buf, dtype, i, value);
  char name[512];
  sinter_pat_unique_name(graph, hint, name, sizeof(name));
  sinter_status_t st = sinter_graph_add_const(graph, name, &t, buf, nbytes, out);
  free(buf);
  return st;
}

sinter_status_t sinter_fm_fill_param(sinter_graph_t *graph, const sinter_value_t *x, int32_t first,
                                     double value, const char *hint, sinter_value_t **out) {
  int32_t r = x->type.rank;
  int64_t dims[SINTER_MAX_RANK];
  if (r < 0 || first < 0 || first > r)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "no normalized dims");
  for (int32_t i = first; i < r; i++) {
    dims[i - first] = x->type.dims[i].size;
    if (dims[i - first] < 0)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "normalized dim %d is not static", i);
  }
  return add_filled(graph, x->type.dtype, r - first, dims, value, hint, out);
}

sinter_status_t sinter_fm_scalar_const(sinter_graph_t *graph, sinter_dtype_t dtype, double value,
                                       const char *hint, sinter_value_t **out) {
  return add_filled(graph, dtype, 0, NULL, value, hint, out);
}

static bool node_name_taken(const sinter_graph_t *graph, const char *name) {
  for (const sinter_node_t *n = graph->first; n; n = n->next)
    if (strcmp(n->name, name) == 0) return true;
  return false;
}

sinter_status_t sinter_fm_insert(sinter_graph_t *graph, sinter_node_t *before, sinter_op_t op,
                                 const char *suffix, sinter_value_t *const *ins, int32_t n_ins,
                                 sinter_node_t **out_node) {
  char name[512] = "";
  if (before->name[0]) {
    const char *slash = strrchr(before->name, '/');
    int scope = slash ? (int)(slash - before->name) + 1 : 0;
    snprintf(name, sizeof(name), "%.*s%s", scope, before->name, suffix);
    size_t len = strlen(name);
    for (int k = 1; node_name_taken(graph, name) && len + 12 < sizeof(name); k++)
      snprintf(name + len, sizeof(name) - len, ".%d", k);
  }
  return sinter_graph_insert_node(graph, before, op, name[0] ? name : NULL, ins, n_ins, 1,
                                  out_node);
}

sinter_status_t sinter_fm_commit(sinter_graph_t *graph, sinter_node_t *last, sinter_node_t *node,
                                 bool *out_done) {
  *out_done = false;
  sinter_value_t *old = last->outputs[0], *nv = node->outputs[0];
  sinter_status_t st = sinter_pat_infer_node(graph, node);
  if (st || !sinter_fm_same_type(&old->type, &nv->type)) {
    /* The matcher let through something the fused op rejects: keep the
     * original subgraph (and drop any constant made for the new node). */
    sinter_status_free(st);
    return sinter_pat_erase_dead(graph, node, NULL);
  }
  const char *name = old->name;
  SINTER_TRY(sinter_pat_replace_output(graph, last, 0, nv));
  if (!nv->name[0] && name[0]) {
    SINTER_TRY(sinter_value_set_name(old, ""));
    SINTER_TRY(sinter_value_set_name(nv, name));
  }
  *out_done = true;
  return NULL;
}

sinter_status_t sinter_fm_run(sinter_graph_t *graph, sinter_op_t op, sinter_op_t op2,
                              sinter_fm_try_fn try_fn, sinter_pass_counters_t *counters) {
  sinter_node_t **cand;
  int32_t n;
  SINTER_TRY(sinter_fm_collect(graph, op, op2, &cand, &n));
  sinter_status_t st = NULL;
  for (int32_t i = 0; i < n && !st; i++) {
    if (!sinter_fm_alive(cand[i])) continue;
    bool done = false;
    st = try_fn(graph, cand[i], &done);
    if (done) counters->fused++;
  }
  free(cand);
  return st;
}
