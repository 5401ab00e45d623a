/* Fuzz target: the ONNX model reader (and, on success, the verifier and the
 * text printer over whatever it built). */
#include <stdlib.h>

#include "sinter/ir.h"
#include "sinter/onnx.h"
#include "tests/support/fuzz_graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sinter_graph_t *g;
  sinter_status_t st = sinter_onnx_import_buffer(data, size, "fuzz.onnx", NULL, &g);
  if (st) {
    sinter_status_free(st);
    return 0;
  }
  fuzz_exercise_graph(g, true);
  return 0;
}
