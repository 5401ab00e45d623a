/* Static shape and dtype inference over a whole graph, using each op's
 * inference function with constant data where inputs are constants. */
#include "ir/interp/kernels.h"

sinter_status_t sinter_graph_infer_shapes(sinter_graph_t *graph) {
  enum { MAXIO = 64 };
  char desc[256];
  for (sinter_node_t *n = graph->first; n; n = n->next) {
    if (n->n_inputs > MAXIO || n->n_outputs > MAXIO)
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: more than %d inputs or outputs",
                          sinter_ir_node_desc(n, desc, sizeof(desc)), MAXIO);
    const sinter_type_t *in[MAXIO];
    const void *data[MAXIO];
    size_t nbytes[MAXIO];
    sinter_type_t out[MAXIO];
    for (int32_t i = 0; i < n->n_inputs; i++) {
      const sinter_value_t *v = n->inputs[i];
      in[i] = v ? &v->type : NULL;
      data[i] = v && v->kind == SINTER_VALUE_CONST ? v->data : NULL;
      nbytes[i] = v && v->kind == SINTER_VALUE_CONST ? v->nbytes : 0;
    }
    for (int32_t i = 0; i < n->n_outputs; i++) {
      memset(&out[i], 0, sizeof(out[i]));
      out[i].rank = -1;
    }
    sinter_infer_ctx_t ctx = {
        .graph = graph, .node = n, .n_inputs = n->n_inputs, .in = in, .in_data = data,
        .in_nbytes = nbytes, .n_outputs = n->n_outputs, .out = out,
    };
    SINTER_RETURN_IF_ERROR(sinter_infer_node(&ctx), "%s",
                           sinter_ir_node_desc(n, desc, sizeof(desc)));
    for (int32_t i = 0; i < n->n_outputs; i++) sinter_value_set_type(n->outputs[i], &out[i]);
  }
  return NULL;
}
