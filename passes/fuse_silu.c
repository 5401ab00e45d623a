/* fuse-silu: x * Sigmoid(x) (either operand order) becomes Silu(x), an
 * ai.sinter op; sinter_decompose_silu turns it back into Sigmoid and Mul. */
#include "passes/fuse_match.h"

/* Fuses at Sigmoid node s when its only user multiplies it with its input. */
static sinter_status_t try_fuse(sinter_graph_t *graph, sinter_node_t *s, bool *out_done) {
  *out_done = false;
  sinter_value_t *x = s->inputs[0];
  if (!sinter_fm_float(x)) return NULL;
  sinter_node_t *mul = sinter_fm_sole_user(s->outputs[0]);
  if (!mul || mul->op != SINTER_OP_MUL || sinter_fm_other(mul, s->outputs[0]) != x) return NULL;
  sinter_node_t *silu;
  SINTER_TRY(sinter_fm_insert(graph, mul, SINTER_OP_SILU, "Silu", &x, 1, &silu));
  return sinter_fm_commit(graph, mul, silu, out_done);
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  return sinter_fm_run(graph, SINTER_OP_SIGMOID, SINTER_OP_INVALID, try_fuse, counters);
}

const sinter_pass_info_t sinter_pass_fuse_silu = {
    "fuse-silu", "fuse x*Sigmoid(x) into Silu (ai.sinter)", NULL, 0, run, NULL,
};

sinter_status_t sinter_decompose_silu(sinter_graph_t *graph, sinter_node_t *node) {
  if (node->op != SINTER_OP_SILU || node->n_inputs != 1 || !node->inputs[0])
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "not a Silu node");
  sinter_value_t *x = node->inputs[0];
  sinter_node_t *sig, *mul;
  SINTER_TRY(sinter_fm_insert(graph, node, SINTER_OP_SIGMOID, "Sigmoid", &x, 1, &sig));
  SINTER_TRY(sinter_pat_infer_node(graph, sig));
  sinter_value_t *ins[2] = {x, sig->outputs[0]};
  SINTER_TRY(sinter_fm_insert(graph, node, SINTER_OP_MUL, "Mul", ins, 2, &mul));
  bool done;
  SINTER_TRY(sinter_fm_commit(graph, node, mul, &done));
  if (!done) return SINTER_ERROR(SINTER_INVALID_MODEL, "Silu input has no float type");
  return NULL;
}
