/* fuse-conv-act: Conv, an optional Add of a per-channel constant (folded into
 * the bias), an optional residual Add of a same-shaped value (FusedConv's
 * input Z) and an activation become one FusedConv (ai.sinter) whose epilogue
 * is an attribute. A bias Add with no activation after it is folded into the
 * Conv's bias alone. Also the decomposer of FusedConv for --export-standard. */
#include <stdio.h>

#include "passes/fuse_act_util.h"

static const sinter_pass_option_t options[] = {
    {"acts", SINTER_PASS_OPT_CHOICE, SINTER_FA_ACTS, SINTER_FA_ACTS,
     "activations to fuse into the convolution"},
};

/* True when the constant c, added to a conv output of type y, adds one value
 * per output channel (or one overall) without changing the output's shape:
 * right-aligned with y, every dim of c is 1 except, possibly, the channel dim. */
static bool per_channel(const sinter_value_t *c, const sinter_type_t *y) {
  const sinter_type_t *t = &c->type;
  if (t->rank > y->rank) return false;
  for (int32_t i = 0; i < t->rank; i++) {
    int32_t d = y->rank - t->rank + i;
    int64_t s = t->dims[i].size;
    if (s != 1 && !(d == 1 && s == y->dims[1].size)) return false;
  }
  return true;
}

/* The Add after the conv output y that can fold into the bias, with its
 * constant in *out_c; NULL when there is none. */
static sinter_node_t *bias_add(const sinter_node_t *conv, sinter_value_t **out_c) {
  const sinter_value_t *y = conv->outputs[0];
  if (!sinter_pat_single_use(y)) return NULL;
  sinter_node_t *add = y->uses[0].node;
  if (add->op != SINTER_OP_ADD || add->n_inputs != 2 || add->n_outputs != 1) return NULL;
  sinter_value_t *c = add->inputs[1 - y->uses[0].slot];
  if (!sinter_pat_is_const(c) || c->type.dtype != y->type.dtype || !per_channel(c, &y->type))
    return NULL;
  /* The conv's own bias must be constant too, to add the two. */
  const sinter_value_t *b = conv->n_inputs > 2 ? conv->inputs[2] : NULL;
  if (b && !sinter_pat_is_const(b)) return NULL;
  *out_c = c;
  return add;
}

/* Makes the bias constant conv bias (or 0) + c, with m channels. */
static sinter_status_t folded_bias(sinter_graph_t *g, const sinter_node_t *conv,
                                   const sinter_value_t *c, int64_t m, sinter_value_t **out) {
  const sinter_value_t *b = conv->n_inputs > 2 ? conv->inputs[2] : NULL;
  int64_t nb = 0, nc = 0;
  double *bv = b ? sinter_fa_const_f64(b, &nb) : NULL;
  double *cv = sinter_fa_const_f64(c, &nc);
  double *sum = malloc(sizeof(double) * (size_t)(m > 0 ? m : 1));
  sinter_status_t st = NULL;
  if ((b && !bv) || !cv || !sum) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  } else if ((b && nb != m) || (nc != 1 && nc != m)) {
    st = SINTER_ERROR(SINTER_INTERNAL, "bias sizes %lld and %lld for %lld channels", (long long)nb,
                      (long long)nc, (long long)m);
  } else {
    /* Sum in double and round once; the result differs from the two f32
     * adds of the original graph by at most one rounding. */
    for (int64_t i = 0; i < m; i++) sum[i] = (bv ? bv[i] : 0.0) + cv[nc == 1 ? 0 : i];
    const char *hint = b && b->name[0] ? b->name : c->name;
    st = sinter_fa_add_const(g, hint, conv->outputs[0]->type.dtype, 1, &m, sum, out);
  }
  free(bv);
  free(cv);
  free(sum);
  return st;
}

/* True when dims a and b are provably equal: the same constant, or the same
 * named symbol. */
static bool same_dim(sinter_dim_t a, sinter_dim_t b) {
  if (a.size >= 0 || b.size >= 0) return a.size == b.size;
  return a.sym && b.sym && strcmp(a.sym, b.sym) == 0;
}

/* True when a and b are the same dtype and provably the same shape. */
static bool same_type(const sinter_type_t *a, const sinter_type_t *b) {
  if (a->dtype != b->dtype || a->rank < 0 || a->rank != b->rank) return false;
  for (int32_t i = 0; i < a->rank; i++)
    if (!same_dim(a->dims[i], b->dims[i])) return false;
  return true;
}

/* A residual connection after a conv: its output feeds only an Add whose
 * other operand z has exactly the output's type (no broadcasting), and an
 * activation selected by `acts` is the Add's only consumer. */
typedef struct residual_s {
  sinter_node_t *add;
  sinter_value_t *z;
  sinter_fa_match_t m;
} residual_t;

static bool residual_add(const sinter_node_t *conv, const sinter_pass_args_t *args,
                         residual_t *out) {
  if (conv->op != SINTER_OP_CONV || conv->n_outputs != 1) return false;
  const sinter_value_t *y = conv->outputs[0];
  if (!sinter_fa_dtype_ok(y->type.dtype) || !sinter_pat_single_use(y)) return false;
  sinter_node_t *add = y->uses[0].node;
  if (add->op != SINTER_OP_ADD || add->n_inputs != 2 || add->n_outputs != 1) return false;
  sinter_value_t *z = add->inputs[1 - y->uses[0].slot];
  if (!z || z == y || !same_type(&z->type, &y->type)) return false;
  if (!same_type(&add->outputs[0]->type, &y->type)) return false;
  /* Without an activation there is nothing to gain over Conv + Add. */
  if (!sinter_fa_match(add->outputs[0], args, &out->m)) return false;
  out->add = add;
  out->z = z;
  return true;
}

/* True when z is the output of another conv that could take this residual
 * Add as well and comes later in the graph: of two candidates (ResNet's
 * downsample blocks add two conv outputs), the later one fuses, so the
 * choice does not depend on which the walk meets first. */
static bool later_conv_takes_it(const sinter_node_t *conv, const residual_t *r,
                                const sinter_pass_args_t *args) {
  const sinter_node_t *other = sinter_pat_producer(r->z, SINTER_OP_CONV);
  residual_t r2;
  if (!other || other == conv || !residual_add(other, args, &r2) || r2.add != r->add) return false;
  const sinter_value_t *oy = other->outputs[0];
  if (oy->type.rank < 3 || oy->type.dims[1].size < 0) return false;
  /* Both convs come before the Add: walking on from conv meets other first
   * exactly when other is the later one. */
  for (const sinter_node_t *n = conv->next; n && n != r->add; n = n->next)
    if (n == other) return true;
  return false;
}

/* Replaces conv, the residual Add and the activation with one FusedConv taking
 * z as input Z. It goes where the Add was, after both operands exist. */
static sinter_status_t fuse_residual(sinter_graph_t *g, sinter_node_t *conv, const residual_t *r,
                                     sinter_node_t **out_node) {
  sinter_value_t *ins[4] = {conv->inputs[0], conv->inputs[1],
                            conv->n_inputs > 2 ? conv->inputs[2] : NULL, r->z};
  sinter_node_t *node;
  SINTER_TRY(sinter_fa_insert(g, r->add, SINTER_OP_FUSED_CONV, conv, &r->m.act, ins, 4, &node));
  SINTER_TRY(sinter_fa_replace(g, r->m.last, node->outputs[0]));
  *out_node = node;
  return NULL;
}

/* Tries the pattern at conv; *out_node is the node that replaced it, if any,
 * and *out_next the node the walk goes on with. */
static sinter_status_t fuse_at(sinter_graph_t *g, sinter_node_t *conv,
                               const sinter_pass_args_t *args, sinter_pass_counters_t *counters,
                               sinter_node_t **out_node, sinter_node_t **out_next) {
  *out_node = NULL;
  *out_next = conv->next;
  if (conv->n_outputs != 1) return NULL;
  sinter_value_t *y = conv->outputs[0];
  if (!sinter_fa_dtype_ok(y->type.dtype) || y->type.rank < 3 || y->type.dims[1].size < 0)
    return NULL;
  sinter_value_t *c = NULL;
  sinter_node_t *add = bias_add(conv, &c);
  residual_t r;
  if (!add && residual_add(conv, args, &r)) {
    if (later_conv_takes_it(conv, &r, args)) return NULL;
    /* The nodes between conv and the Add stay; the fused node sits where the
     * Add was. Go on after conv, or with the fused node if the Add came next. */
    sinter_node_t *next = conv->next == r.add ? NULL : conv->next;
    SINTER_TRY(fuse_residual(g, conv, &r, out_node));
    *out_next = next ? next : (*out_node)->next;
    counters->fused++;
    return NULL;
  }
  sinter_fa_match_t m;
  bool has_act = sinter_fa_match(add ? add->outputs[0] : y, args, &m);
  if (!add && !has_act) return NULL;

  sinter_value_t *ins[3] = {conv->inputs[0], conv->inputs[1],
                            conv->n_inputs > 2 ? conv->inputs[2] : NULL};
  const char *old_bias = ins[2] ? ins[2]->name : c ? c->name : "";
  if (add) SINTER_TRY(folded_bias(g, conv, c, y->type.dims[1].size, &ins[2]));
  sinter_node_t *node;
  SINTER_TRY(sinter_fa_insert(g, conv, has_act ? SINTER_OP_FUSED_CONV : SINTER_OP_CONV, conv,
                              has_act ? &m.act : NULL, ins, ins[2] ? 3 : 2, &node));
  SINTER_TRY(sinter_fa_replace(g, has_act ? m.last : add, node->outputs[0]));
  /* The folded bias replaces the old one: give it that name once it is free. */
  if (add) SINTER_TRY(sinter_fa_adopt_name(g, ins[2], old_bias));
  if (has_act)
    counters->fused++;
  else
    counters->rewritten++;
  *out_node = node;
  /* Rewrites only remove nodes after the conv. A Conv that took a bias Add
   * may meet another Add or an activation: look at it again. */
  *out_next = node->op == SINTER_OP_CONV ? node : node->next;
  return NULL;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  (void)user;
  for (sinter_node_t *n = graph->first; n;) {
    sinter_node_t *next = n->next, *repl = NULL;
    if (n->op == SINTER_OP_CONV) {
      char desc[256];
      SINTER_RETURN_IF_ERROR(fuse_at(graph, n, args, counters, &repl, &next), "fusing %s",
                             sinter_ir_node_desc(n, desc, sizeof(desc)));
    }
    n = next;
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_fuse_conv_act = {
    "fuse-conv-act",
    "fuse Conv + per-channel bias Add + residual Add + activation into FusedConv",
    options,
    (int32_t)(sizeof(options) / sizeof(options[0])),
    run,
    NULL,
};

/* ---- decomposition ---------------------------------------------------------- */

sinter_status_t sinter_decompose_fused_conv(sinter_graph_t *graph, sinter_node_t *node) {
  char desc[256];
  sinter_ir_node_desc(node, desc, sizeof(desc));
  if (node->op != SINTER_OP_FUSED_CONV || node->n_outputs != 1)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s is not a FusedConv", desc);
  sinter_fused_act_t act;
  SINTER_RETURN_IF_ERROR(sinter_fused_act_read(node, &act), "%s", desc);
  const char *name = node->name[0] ? node->name : "conv";
  /* Conv takes X, W and the bias B, if any; the residual Z is added after. */
  int32_t n_conv = node->n_inputs < 3 ? node->n_inputs : 3;
  while (n_conv > 2 && !node->inputs[n_conv - 1]) n_conv--;
  sinter_value_t *z = node->n_inputs > 3 ? node->inputs[3] : NULL;
  sinter_node_t *conv;
  SINTER_RETURN_IF_ERROR(
      sinter_fa_insert(graph, node, SINTER_OP_CONV, node, NULL, node->inputs, n_conv, &conv),
      "decomposing %s", desc);
  sinter_value_t *y = conv->outputs[0];
  if (z) {
    char nm[512];
    snprintf(nm, sizeof(nm), "%s/Add", name);
    sinter_value_t *ins[2] = {y, z};
    sinter_node_t *add;
    SINTER_RETURN_IF_ERROR(
        sinter_graph_insert_node(graph, node, SINTER_OP_ADD, nm, ins, 2, 1, &add), "decomposing %s",
        desc);
    SINTER_RETURN_IF_ERROR(sinter_pat_infer_node(graph, add), "decomposing %s", desc);
    y = add->outputs[0];
  }
  SINTER_RETURN_IF_ERROR(sinter_fa_expand(graph, node, &act, y, name, &y), "decomposing %s", desc);
  return sinter_fa_replace(graph, node, y);
}
