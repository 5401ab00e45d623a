/* dce: removes nodes none of whose outputs is used or a graph output, then constants nobody
 * reads. No op in the table has side effects, so unused means dead. */
#include "passes/pass_internal.h"

static bool node_dead(const sinter_node_t *n) {
  for (int32_t i = 0; i < n->n_outputs; i++)
    if (n->outputs[i]->n_uses || n->outputs[i]->n_output_refs) return false;
  return true;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  /* Backwards, so that removing a node's uses has already made its producers dead when the
   * walk reaches them: one sweep suffices. */
  for (sinter_node_t *n = graph->last, *prev; n; n = prev) {
    prev = n->prev;
    if (!node_dead(n)) continue;
    SINTER_TRY(sinter_graph_remove_node(graph, n));
    counters->removed++;
  }
  for (sinter_value_t *v = graph->first_const, *next; v; v = next) {
    next = v->next_const;
    if (v->n_uses || v->n_output_refs) continue;
    SINTER_TRY(sinter_graph_remove_value(graph, v));
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_dce = {
    "dce", "remove nodes whose results are unused, and unused constants", NULL, 0, run, NULL,
};
