/* Static shape and dtype inference over a whole graph, using each op's
 * inference function with constant data where inputs are constants. */
#include "ir/interp/kernels.h"

bool sinter_infer_frame_init(sinter_infer_frame_t *frame, sinter_graph_t *graph,
                             const sinter_node_t *node) {
  if (node->n_inputs > SINTER_INFER_MAX_IO || node->n_outputs > SINTER_INFER_MAX_IO) return false;
  for (int32_t i = 0; i < node->n_inputs; i++) {
    const sinter_value_t *v = node->inputs[i];
    frame->in[i] = v ? &v->type : NULL;
    frame->data[i] = v && v->kind == SINTER_VALUE_CONST ? v->data : NULL;
    frame->nbytes[i] = v && v->kind == SINTER_VALUE_CONST ? v->nbytes : 0;
  }
  for (int32_t i = 0; i < node->n_outputs; i++) {
    memset(&frame->out[i], 0, sizeof(frame->out[i]));
    frame->out[i].rank = -1;
  }
  frame->ctx = (sinter_infer_ctx_t){
      .graph = graph,
      .node = node,
      .n_inputs = node->n_inputs,
      .in = frame->in,
      .in_data = frame->data,
      .in_nbytes = frame->nbytes,
      .n_outputs = node->n_outputs,
      .out = frame->out,
  };
  return true;
}

sinter_status_t sinter_graph_infer_shapes(sinter_graph_t *graph) {
  char desc[256];
  for (sinter_node_t *n = graph->first; n; n = n->next) {
    sinter_infer_frame_t f;
    if (!sinter_infer_frame_init(&f, graph, n))
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: more than %d inputs or outputs",
                          sinter_ir_node_desc(n, desc, sizeof(desc)), SINTER_INFER_MAX_IO);
    SINTER_RETURN_IF_ERROR(sinter_infer_node(&f.ctx), "%s",
                           sinter_ir_node_desc(n, desc, sizeof(desc)));
    for (int32_t i = 0; i < n->n_outputs; i++) sinter_value_set_type(n->outputs[i], &f.out[i]);
  }
  return NULL;
}
