/* fuse-hardswish: the expanded HardSwish forms become one HardSwish (ONNX
 * opset 14; the ONNX writer raises the opset when it meets one):
 *   x * Clip(x + 3, 0, 6) / 6   (ReLU6(x + 3); Div by 6 or Mul by 1/6, any
 *                                association of the three factors)
 *   x * HardSigmoid(x, alpha=1/6, beta=0.5)   (PyTorch's opset < 14 export) */
#include "passes/fuse_match.h"

static sinter_status_t fuse(sinter_graph_t *graph, sinter_node_t *last, sinter_value_t *x,
                            bool *out_done) {
  sinter_node_t *hs;
  SINTER_TRY(sinter_fm_insert(graph, last, SINTER_OP_HARD_SWISH, "HardSwish", &x, 1, &hs));
  return sinter_fm_commit(graph, last, hs, out_done);
}

static sinter_status_t try_clip(sinter_graph_t *graph, sinter_node_t *clip, bool *out_done) {
  /* Both bounds must be there: Clip(a, 0) alone is a Relu, not a ReLU6. */
  if (clip->n_inputs != 3 || !clip->inputs[1] || !clip->inputs[2]) return NULL;
  sinter_node_t *add = sinter_fm_sole_producer(clip->inputs[0], SINTER_OP_ADD);
  sinter_value_t *x = add ? sinter_fm_with_scalar(add, SINTER_OP_ADD, 3.0) : NULL;
  if (!x || !sinter_fm_float(x) || !sinter_fm_scalar(clip->inputs[1], 0.0, x) ||
      !sinter_fm_scalar(clip->inputs[2], 6.0, x))
    return NULL;
  sinter_node_t *last = sinter_fm_match_product(clip->outputs[0], x, 1.0 / 6.0);
  return last ? fuse(graph, last, x, out_done) : NULL;
}

static sinter_status_t try_hard_sigmoid(sinter_graph_t *graph, sinter_node_t *hsig,
                                        bool *out_done) {
  sinter_value_t *x = hsig->inputs[0];
  /* ONNX's defaults are alpha 0.2, beta 0.5: only 1/6 gives HardSwish. */
  if (!sinter_fm_float(x) ||
      !sinter_fm_near(sinter_node_attr_float(hsig, "alpha", 0.2f), 1.0 / 6.0, SINTER_DTYPE_F32) ||
      !sinter_fm_near(sinter_node_attr_float(hsig, "beta", 0.5f), 0.5, SINTER_DTYPE_F32))
    return NULL;
  sinter_node_t *mul = sinter_fm_sole_user(hsig->outputs[0]);
  if (!mul || mul->op != SINTER_OP_MUL || sinter_fm_other(mul, hsig->outputs[0]) != x) return NULL;
  return fuse(graph, mul, x, out_done);
}

static sinter_status_t try_either(sinter_graph_t *graph, sinter_node_t *n, bool *out_done) {
  return n->op == SINTER_OP_CLIP ? try_clip(graph, n, out_done)
                                 : try_hard_sigmoid(graph, n, out_done);
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  return sinter_fm_run(graph, SINTER_OP_CLIP, SINTER_OP_HARD_SIGMOID, try_either, counters);
}

const sinter_pass_info_t sinter_pass_fuse_hardswish = {
    "fuse-hardswish",
    "fuse x*Clip(x+3,0,6)/6 and x*HardSigmoid(x) into HardSwish (opset 14)",
    NULL,
    0,
    run,
    NULL,
};
