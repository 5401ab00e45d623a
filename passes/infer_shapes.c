/* infer-shapes: recomputes every node output's dtype and shape. */
#include "passes/pass_internal.h"

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  return sinter_graph_infer_shapes(graph);
}

const sinter_pass_info_t sinter_pass_infer_shapes = {
    "infer-shapes", "recompute the dtype and shape of every node output", NULL, 0, run, NULL,
};
