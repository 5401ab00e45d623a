/* sink-transposes: moves a Transpose down through a single-use chain of elementwise ops (unary,
 * or with splat-constant other operands) until it meets another Transpose, then cancels the
 * pair or merges it into one. It only rewrites when a Transpose goes away, so it never adds
 * any. */
#include <stdio.h>

#include "passes/pass_internal.h"

enum { MAX_CHAIN = 64, MAX_ROUNDS = 4 };

/* True when v is a constant whose elements are all the same bytes. */
static bool const_splat(const sinter_value_t *v) {
  int64_t n;
  int bits = sinter_dtype_bits(v->type.dtype);
  if (!sinter_pat_is_const(v) || bits < 8 || !sinter_type_numel(&v->type, &n) || n < 1)
    return false;
  size_t es = (size_t)bits / 8;
  const uint8_t *d = v->data;
  for (int64_t i = 1; i < n; i++)
    if (memcmp(d, d + (size_t)i * es, es) != 0) return false;
  return true;
}

/* True when every dim of c is 1 and c has at most rank dims: it then broadcasts the same way
 * against any permutation of a rank-rank value. */
static bool all_ones(const sinter_type_t *c, int32_t rank) {
  if (c->rank < 0 || c->rank > rank) return false;
  for (int32_t d = 0; d < c->rank; d++)
    if (c->dims[d].size != 1) return false;
  return true;
}

/* True when broadcasting c against x leaves x's shape alone. */
static bool broadcast_keeps(const sinter_type_t *x, const sinter_type_t *c) {
  if (x->rank < 0 || c->rank < 0 || c->rank > x->rank) return false;
  for (int32_t i = 0; i < c->rank; i++) {
    int64_t cs = c->dims[c->rank - 1 - i].size, xs = x->dims[x->rank - 1 - i].size;
    if (cs != 1 && (cs < 0 || cs != xs)) return false;
  }
  return true;
}

/* Whether Transpose can move from input slot of elementwise node u to its output: u maps
 * elements one to one, and its other operands are splat constants that do not widen the
 * result, so they mean the same in either layout. */
static bool pushable(const sinter_node_t *u, int32_t slot, const sinter_value_t *cur) {
  const sinter_op_info_t *info = sinter_op_info(u->op);
  if (!info || !(info->traits & SINTER_OPF_ELEMWISE) || u->op == SINTER_OP_FUSED_ELEMENTWISE ||
      u->n_outputs != 1)
    return false;
  if (cur->type.rank < 0) return false;
  for (int32_t i = 0; i < u->n_inputs; i++) {
    const sinter_value_t *o = u->inputs[i];
    if (i == slot || !o) continue;
    if (u->op == SINTER_OP_CAST_LIKE && i == 1) continue; /* read for its dtype only */
    if (!const_splat(o) || !broadcast_keeps(&cur->type, &o->type)) return false;
  }
  return true;
}

/* Makes the operands of u other than slot layout-free: a splat with dims other than 1 becomes
 * a scalar holding the same element. */
static sinter_status_t scalarize_operands(sinter_graph_t *g, sinter_node_t *u, int32_t slot,
                                          int32_t rank) {
  for (int32_t i = 0; i < u->n_inputs; i++) {
    sinter_value_t *o = u->inputs[i];
    if (i == slot || !o || (u->op == SINTER_OP_CAST_LIKE && i == 1)) continue;
    if (all_ones(&o->type, rank)) continue;
    sinter_type_t t;
    sinter_type_set_static(&t, o->type.dtype, 0, NULL);
    /* The scalar takes the splat's name when it replaces it outright. */
    const char *name = o->name;
    char buf[512];
    bool sole = sinter_pat_single_use(o);
    if (sole)
      SINTER_TRY(sinter_value_set_name(o, ""));
    else if (name[0])
      name = sinter_pat_unique_name(g, name, buf, sizeof(buf));
    sinter_value_t *s;
    SINTER_TRY(
        sinter_graph_add_const(g, name, &t, o->data, (size_t)sinter_dtype_bits(t.dtype) / 8, &s));
    if (o->quant) SINTER_TRY(sinter_value_set_quant(s, o->quant));
    SINTER_TRY(sinter_node_set_input(u, i, s));
    if (!o->n_uses && !o->n_output_refs) SINTER_TRY(sinter_graph_remove_value(g, o));
  }
  return NULL;
}

typedef struct chain_s {
  sinter_node_t *node[MAX_CHAIN];
  int32_t slot[MAX_CHAIN];
  int32_t n;
} chain_t;

/* Follows the single-use path from t's output through pushable ops; returns the Transpose at
 * its end, or NULL. */
static sinter_node_t *find_partner(const sinter_node_t *t, chain_t *ch) {
  const sinter_value_t *cur = t->outputs[0];
  ch->n = 0;
  for (;;) {
    if (!sinter_pat_single_use(cur)) return NULL;
    sinter_node_t *u = cur->uses[0].node;
    int32_t slot = cur->uses[0].slot;
    if (u->op == SINTER_OP_TRANSPOSE) return slot == 0 ? u : NULL;
    if (ch->n == MAX_CHAIN || !pushable(u, slot, cur)) return NULL;
    ch->node[ch->n] = u;
    ch->slot[ch->n] = slot;
    ch->n++;
    cur = u->outputs[0];
  }
}

static sinter_status_t sink_one(sinter_graph_t *g, sinter_node_t *t1,
                                sinter_pass_counters_t *counters, bool *changed) {
  int64_t p1[SINTER_MAX_RANK], p2[SINTER_MAX_RANK];
  int32_t r1, r2;
  sinter_value_t *x = t1->inputs[0];
  if (!x || !sinter_pat_transpose_perm(t1, p1, &r1)) return NULL;
  chain_t ch;
  sinter_node_t *t2 = find_partner(t1, &ch);
  if (!t2 || !sinter_pat_transpose_perm(t2, p2, &r2) || r1 != r2) return NULL;
  int64_t composed[SINTER_MAX_RANK];
  bool identity = true;
  for (int32_t i = 0; i < r1; i++) {
    composed[i] = p1[p2[i]];
    identity &= composed[i] == i;
  }
  sinter_value_t *t2_out = t2->outputs[0];
  /* With nothing in between, cancelling makes x itself the result: a graph output cannot be
   * renamed to a graph input or to another output. */
  if (identity && ch.n == 0 && t2_out->n_output_refs &&
      (x->kind == SINTER_VALUE_INPUT || x->n_output_refs))
    return NULL;
  /* Feed the chain from x directly; each op then works in x's layout. */
  for (int32_t k = 0; k < ch.n; k++) {
    sinter_node_t *u = ch.node[k];
    SINTER_TRY(scalarize_operands(g, u, ch.slot[k], r1));
    if (k == 0) SINTER_TRY(sinter_node_set_input(u, ch.slot[0], x));
    char desc[256];
    SINTER_RETURN_IF_ERROR(sinter_pat_infer_node(g, u), "%s",
                           sinter_ir_node_desc(u, desc, sizeof(desc)));
    counters->rewritten++;
  }
  sinter_value_t *last = ch.n ? ch.node[ch.n - 1]->outputs[0] : x;
  if (identity) {
    if (t2_out->n_output_refs && t2_out->name[0]) {
      const char *name = t2_out->name;
      SINTER_TRY(sinter_value_set_name(t2_out, ""));
      SINTER_TRY(sinter_value_set_name(last, name));
    }
    sinter_value_replace_all_uses(t2_out, last);
    SINTER_TRY(sinter_graph_remove_node(g, t2));
    counters->removed++;
  } else {
    SINTER_TRY(sinter_node_set_attr_ints(t2, "perm", composed, r1));
    SINTER_TRY(sinter_node_set_input(t2, 0, last));
  }
  /* t1's only reader (the chain's head, or t2) no longer reads it. */
  SINTER_TRY(sinter_graph_remove_node(g, t1));
  counters->removed++;
  *changed = true;
  return NULL;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  for (int round = 0; round < MAX_ROUNDS; round++) {
    /* Rewrites remove Transposes further down the graph, so take the list first and skip the
     * ones that are gone by the time the walk reaches them. */
    int32_t n = 0;
    for (sinter_node_t *m = graph->first; m; m = m->next) n += m->op == SINTER_OP_TRANSPOSE;
    if (!n) return NULL;
    sinter_node_t **list = malloc(sizeof(*list) * (size_t)n);
    if (!list) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    n = 0;
    for (sinter_node_t *m = graph->first; m; m = m->next)
      if (m->op == SINTER_OP_TRANSPOSE) list[n++] = m;
    bool changed = false;
    sinter_status_t st = NULL;
    for (int32_t i = 0; i < n && !st; i++) {
      if (list[i]->outputs[0]->removed) continue;
      char desc[256];
      st = sink_one(graph, list[i], counters, &changed);
      if (st)
        st = sinter_status_annotate(st, "sink-transposes: %s",
                                    sinter_ir_node_desc(list[i], desc, sizeof(desc)));
    }
    free(list);
    if (st) return st;
    if (!changed) break;
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_sink_transposes = {
    "sink-transposes",
    "move Transposes down through elementwise ops and cancel or merge them in pairs",
    NULL,
    0,
    run,
    NULL,
};
