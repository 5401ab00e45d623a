/* Reading and writing single tensors: NumPy .npy files and ONNX TensorProto
 * .pb files (the format of ONNX's test data). */
#ifndef SINTER_TENSOR_IO_H
#define SINTER_TENSOR_IO_H

#include "sinter/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parses a .npy image in memory (format 1.0, 2.0 and 3.0; little or big
 * endian; C or Fortran order). out->data is malloc'ed in C order and owned by
 * the caller (sinter_tensor_free_data). name is used in messages. */
sinter_status_t sinter_npy_read_buffer(const void *data, size_t len, const char *name,
                                       sinter_tensor_t *out_tensor);

/* Reads a .npy file; see sinter_npy_read_buffer. */
sinter_status_t sinter_npy_read_file(const char *path, sinter_tensor_t *out_tensor);

/* Writes t as a .npy file (format 1.0, little endian, C order) through a
 * temp file and rename. bf16 and f8e4m3 are widened to f32, and i4/u4 to
 * i8/u8, since NumPy has no such types. */
sinter_status_t sinter_npy_write_file(const char *path, const sinter_tensor_t *t);

/* Writes a file atomically: data goes to a temp file beside path, which is
 * fsync'd and renamed over path. Nothing is left behind on failure. */
sinter_status_t sinter_write_file_atomic(const char *path, const void *data, size_t len);

/* Reads a whole file into a malloc'ed buffer that the caller frees. */
sinter_status_t sinter_read_file(const char *path, void **out_data, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_TENSOR_IO_H */
