/* fuse-conv-act: Conv, an optional Add of a per-channel constant (folded into
 * the bias) and an activation become one FusedConv (ai.sinter) whose epilogue
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

/* Tries the pattern at conv; *out_node is the node that replaced it, if any. */
static sinter_status_t fuse_at(sinter_graph_t *g, sinter_node_t *conv,
                               const sinter_pass_args_t *args, sinter_pass_counters_t *counters,
                               sinter_node_t **out_node) {
  *out_node = NULL;
  if (conv->n_outputs != 1) return NULL;
  sinter_value_t *y = conv->outputs[0];
  if (!sinter_fa_dtype_ok(y->type.dtype) || y->type.rank < 3 || y->type.dims[1].size < 0)
    return NULL;
  sinter_value_t *c = NULL;
  sinter_node_t *add = bias_add(conv, &c);
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
  return NULL;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  (void)user;
  for (sinter_node_t *n = graph->first; n;) {
    sinter_node_t *next = n->next, *repl = NULL;
    if (n->op == SINTER_OP_CONV) {
      char desc[256];
      SINTER_RETURN_IF_ERROR(fuse_at(graph, n, args, counters, &repl), "fusing %s",
                             sinter_ir_node_desc(n, desc, sizeof(desc)));
      /* Rewrites only remove nodes after the conv. A Conv that took a bias
       * Add may meet another Add or an activation: look at it again. */
      if (repl) next = repl->op == SINTER_OP_CONV ? repl : repl->next;
    }
    n = next;
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_fuse_conv_act = {
    "fuse-conv-act",
    "fuse Conv + per-channel bias Add + activation into FusedConv",
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
  sinter_node_t *conv;
  SINTER_RETURN_IF_ERROR(sinter_fa_insert(graph, node, SINTER_OP_CONV, node, NULL, node->inputs,
                                          node->n_inputs, &conv),
                         "decomposing %s", desc);
  sinter_value_t *y;
  SINTER_RETURN_IF_ERROR(sinter_fa_expand(graph, node, &act, conv->outputs[0],
                                          node->name[0] ? node->name : "conv", &y),
                         "decomposing %s", desc);
  return sinter_fa_replace(graph, node, y);
}
