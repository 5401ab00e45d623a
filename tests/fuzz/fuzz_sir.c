/* Fuzz target: the text IR parser; a parsed graph must print and verify
 * without crashing. */
#include <stdlib.h>

#include "sinter/ir.h"
#include "tests/support/fuzz_graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sinter_graph_t *g;
  sinter_status_t st = sinter_graph_parse((const char *)data, size, "fuzz.sir", &g);
  if (st) {
    sinter_status_free(st);
    return 0;
  }
  fuzz_exercise_graph(g, false);
  return 0;
}
