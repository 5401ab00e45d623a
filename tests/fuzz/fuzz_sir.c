/* Fuzz target: the text IR parser; a parsed graph must print and verify
 * without crashing. */
#include <stdlib.h>

#include "sinter/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sinter_graph_t *g;
  sinter_status_t st = sinter_graph_parse((const char *)data, size, "fuzz.sir", &g);
  if (st) {
    sinter_status_free(st);
    return 0;
  }
  sinter_status_free(sinter_graph_verify(g));
  char *text;
  size_t len;
  if (!(st = sinter_graph_print_to_string(g, false, &text, &len))) free(text);
  sinter_status_free(st);
  sinter_graph_destroy(g);
  return 0;
}
