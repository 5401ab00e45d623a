/* What canonicalize shares with fold-constants: type refinement after a rewrite, and the
 * rewrites that turn shape computations into constants, so that one fold-constants walk
 * reaches what canonicalize and folding reach together. Internal to passes/. */
#ifndef SINTER_PASSES_CANONICALIZE_H
#define SINTER_PASSES_CANONICALIZE_H

#include "passes/pass_internal.h"

/* Re-infers node's output types from its inputs, keeping what the stored types knew where the
 * fresh inference knows less; an inference error leaves the types as they were. */
void sinter_canon_refine_types(sinter_graph_t *graph, sinter_node_t *node);

/* Folds node when it reads shapes that inference knows: Shape or Size of static dims, Gather
 * of static dims out of Shape, and a Reshape whose shape is computed from dims (it gets a
 * constant shape). *out_changed says whether node was rewritten or removed. */
sinter_status_t sinter_canon_fold_shapes(sinter_graph_t *graph, sinter_node_t *node,
                                         sinter_pass_counters_t *counters, bool *out_changed);

#endif /* SINTER_PASSES_CANONICALIZE_H */
