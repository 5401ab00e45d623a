/* Fuzz target: the single-tensor readers, .npy and ONNX TensorProto. */
#include <stdlib.h>
#include "sinter/ir.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sinter_tensor_t t;
  sinter_status_t st = sinter_npy_read_buffer(data, size, "fuzz.npy", &t);
  if (!st) sinter_tensor_free_data(&t);
  sinter_status_free(st);
  char *name = NULL;
  st = sinter_onnx_read_tensor_buffer(data, size, "fuzz.pb", &t, &name);
  if (!st) sinter_tensor_free_data(&t);
  sinter_status_free(st);
  free(name);
  return 0;
}
