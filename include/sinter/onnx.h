/* The ONNX frontend: imports ONNX models (opsets 1 to 21 of the default
 * domain) into a Sinter graph, exports graphs back as ONNX models, and reads
 * and writes single ONNX TensorProto files (the .pb files of ONNX test data).
 * ONNX data type numbers map to dtypes with sinter_dtype_from_onnx (ir.h). */
#ifndef SINTER_ONNX_H
#define SINTER_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sinter/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options for importing a model. Zero-initialize, then set fields. */
typedef struct sinter_onnx_import_options_s {
  /* Leave node output types as declared in the file (or unknown) instead of
   * running sinter_graph_infer_shapes after import. Meant for tests of the
   * reader and for tools that only look at the structure. */
  bool skip_shape_inference;
} sinter_onnx_import_options_t;

/* Imports an ONNX model file and runs shape inference. The caller owns
 * *out_graph (sinter_graph_destroy). External data is resolved relative to
 * the model's folder. Every error message starts with "<path>: ". */
sinter_status_t sinter_onnx_import_file(const char *path, sinter_graph_t **out_graph);

/* Like sinter_onnx_import_file with options; opts may be NULL (defaults). */
sinter_status_t sinter_onnx_import_file_opts(const char *path,
                                             const sinter_onnx_import_options_t *opts,
                                             sinter_graph_t **out_graph);

/* Imports a model from memory; data is only read during the call. name is
 * used in messages; base_dir is the folder external data is resolved in
 * (NULL: any external data is an error). The caller owns *out_graph. */
sinter_status_t sinter_onnx_import_buffer(const void *data, size_t len, const char *name,
                                          const char *base_dir, sinter_graph_t **out_graph);

/* Like sinter_onnx_import_buffer with options; opts may be NULL. */
sinter_status_t sinter_onnx_import_buffer_opts(const void *data, size_t len, const char *name,
                                               const char *base_dir,
                                               const sinter_onnx_import_options_t *opts,
                                               sinter_graph_t **out_graph);

/* Exports graph as an ONNX model file. The file is written to a temp file
 * beside path, fsync'd and renamed: nothing partial is left on failure. */
sinter_status_t sinter_onnx_export_file(const sinter_graph_t *graph, const char *path);

/* Serializes graph as an ONNX model into a malloc'ed buffer that the caller
 * frees with free(). */
sinter_status_t sinter_onnx_export_buffer(const sinter_graph_t *graph, void **out_data,
                                          size_t *out_len);

/* Returns the ONNX opset that sinter_onnx_export_* would write graph at. */
sinter_status_t sinter_onnx_export_opset(const sinter_graph_t *graph, int64_t *out_opset);

/* Reads a serialized TensorProto (.pb). out_tensor->data is malloc'ed and
 * owned by the caller (sinter_tensor_free_data); *out_name, when out_name is
 * not NULL, receives a malloc'ed copy of the tensor's name or NULL. */
sinter_status_t sinter_onnx_read_tensor_file(const char *path, sinter_tensor_t *out_tensor,
                                             char **out_name);

/* Parses a serialized TensorProto from memory; see
 * sinter_onnx_read_tensor_file. name is used in messages. */
sinter_status_t sinter_onnx_read_tensor_buffer(const void *data, size_t len, const char *name,
                                               sinter_tensor_t *out_tensor, char **out_name);

/* Writes t as a serialized TensorProto with raw_data; name may be NULL.
 * Atomic like sinter_onnx_export_file. */
sinter_status_t sinter_onnx_write_tensor_file(const char *path, const sinter_tensor_t *t,
                                              const char *name);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_ONNX_H */
