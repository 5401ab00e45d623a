/* What the graph-building fuzz targets (fuzz_onnx, fuzz_sir) do with a graph they managed to
 * build: the verifier and the text printer must not crash on it. Header-only, for tests. */
#ifndef SINTER_TESTS_FUZZ_GRAPH_H
#define SINTER_TESTS_FUZZ_GRAPH_H

#include <stdbool.h>
#include <stdlib.h>

#include "sinter/ir.h"

/* Verifies and prints g (eliding large constants when elide is set), ignoring both results, then
 * destroys g (takes ownership). */
static inline void fuzz_exercise_graph(sinter_graph_t *g, bool elide) {
  sinter_status_free(sinter_graph_verify(g));
  char *text;
  size_t len;
  sinter_status_t st = sinter_graph_print_to_string(g, elide, &text, &len);
  if (!st) free(text);
  sinter_status_free(st);
  sinter_graph_destroy(g);
}

#endif /* SINTER_TESTS_FUZZ_GRAPH_H */
