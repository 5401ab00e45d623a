/* Shared pieces of the ONNX frontend: protobuf wire checks, TensorProto
 * decoding and encoding, external data, and the legacy-opset rewriter that
 * the reader calls for every node. */
#ifndef SINTER_ONNX_INTERNAL_H
#define SINTER_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "ir/ir_impl.h"
#include "onnx.pb-c.h"
#include "sinter/onnx.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ONNX frontend assumes a little-endian host (raw_data is little-endian)"
#endif

/* Deepest message nesting accepted before unpacking (protobuf-c recurses). */
#define ONNX_MAX_NESTING 64

/* Newest default-domain opset the reader understands. */
#define ONNX_MAX_OPSET 21

/* ONNX TensorProto.DataType numbers, including those newer than the
 * system's onnx.proto. */
enum {
  ONNX_DT_UNDEFINED = 0,
  ONNX_DT_FLOAT = 1,
  ONNX_DT_UINT8 = 2,
  ONNX_DT_INT8 = 3,
  ONNX_DT_UINT16 = 4,
  ONNX_DT_INT16 = 5,
  ONNX_DT_INT32 = 6,
  ONNX_DT_INT64 = 7,
  ONNX_DT_STRING = 8,
  ONNX_DT_BOOL = 9,
  ONNX_DT_FLOAT16 = 10,
  ONNX_DT_DOUBLE = 11,
  ONNX_DT_UINT32 = 12,
  ONNX_DT_UINT64 = 13,
  ONNX_DT_COMPLEX64 = 14,
  ONNX_DT_COMPLEX128 = 15,
  ONNX_DT_BFLOAT16 = 16,
  ONNX_DT_FLOAT8E4M3FN = 17,
  ONNX_DT_FLOAT8E4M3FNUZ = 18,
  ONNX_DT_FLOAT8E5M2 = 19,
  ONNX_DT_FLOAT8E5M2FNUZ = 20,
  ONNX_DT_UINT4 = 21,
  ONNX_DT_INT4 = 22,
  ONNX_DT_FLOAT4E2M1 = 23,
  ONNX_DT_LAST = 23,
};

/* Returns the name of an ONNX data type number ("FLOAT", ...), "?" if none. */
const char *onnx_dtype_name(int64_t onnx_type);

/* Maps an ONNX element type to a Sinter dtype, with an error (no file
 * prefix) that says why when there is none. what names the thing typed. */
sinter_status_t onnx_dtype_convert(int64_t onnx_type, const char *what, sinter_dtype_t *out);

/* Walks a serialized message of type desc without recursion and fails with
 * SINTER_INVALID_MODEL when it is truncated, corrupt, or nests messages
 * deeper than max_depth. */
sinter_status_t onnx_wire_check(const void *data, size_t len,
                                const ProtobufCMessageDescriptor *desc, int max_depth);

/* ---- external data ------------------------------------------------------ */

typedef struct onnx_ext_file_s {
  char *real_path; /* realpath of the data file (malloc'ed); NULL for the model file */
  void *base;      /* read-only mapping of the whole file, NULL when empty */
  size_t size;
  bool adopted; /* the graph unmaps it; otherwise onnx_ext_deinit does */
} onnx_ext_file_t;

/* ---- raw_data lifted out before unpacking ------------------------------- */

/* Where one lifted raw_data payload lies in the model's bytes. */
typedef struct onnx_raw_ref_s {
  size_t offset, len;
} onnx_raw_ref_t;

/* The raw_data payloads that onnx_raw_lift replaced by references, so that
 * protobuf-c does not copy the weights; decoding resolves the references. */
typedef struct onnx_raw_table_s {
  const uint8_t *base; /* the model's bytes (the offsets refer to them) */
  size_t size;
  onnx_ext_file_t *file; /* the model's own mapping when constants may borrow
                            from it, NULL when the bytes belong to the caller */
  onnx_raw_ref_t *refs;  /* malloc'ed; the caller frees it */
  size_t n, cap;
} onnx_raw_table_t;

/* Copies the serialized ModelProto data into *out (malloc'ed), replacing the
 * raw_data of initializers and node attribute tensors by short references
 * recorded in tab (and shrinking the enclosing length prefixes). Run after
 * onnx_wire_check. When nothing is lifted, or the file has a shape this does
 * not rewrite (protobuf-c then sees the original), *out is NULL and tab
 * empty. Fails only when memory is exhausted. */
sinter_status_t onnx_raw_lift(const void *data, size_t len, onnx_raw_table_t *tab, void **out,
                              size_t *out_len);

/* Replaces *data and *len by the payload they reference when they hold one of
 * tab's references; returns false when they do not. */
bool onnx_raw_resolve(const onnx_raw_table_t *tab, const uint8_t **data, size_t *len);

/* External-data state for one import: the folder data is resolved in and
 * the files mapped so far. */
typedef struct onnx_ext_s {
  const char *base_dir; /* NULL: external data is an error */
  char *base_real;      /* realpath(base_dir), malloc'ed on first use */
  onnx_ext_file_t *files;
  int32_t n_files, cap_files;
  const onnx_raw_table_t *raw; /* lifted raw_data of the model, or NULL */
} onnx_ext_t;

void onnx_ext_init(onnx_ext_t *ext, const char *base_dir);
/* Unmaps the files not adopted by a graph and frees the state. */
void onnx_ext_deinit(onnx_ext_t *ext);

/* A decoded TensorProto: a static type and its bytes in Sinter layout. */
typedef struct onnx_tensor_view_s {
  sinter_type_t type;
  const void *data; /* raw_data, owned, or external bytes */
  size_t nbytes;
  void *owned;           /* malloc'ed buffer data points to, or NULL */
  onnx_ext_file_t *file; /* set when data points into a mapping we own */
  bool in_model;         /* data is raw_data inside the model's own bytes */
} onnx_tensor_view_t;

/* Decodes t (raw_data, typed fields or external data). what names the
 * tensor in messages (no file prefix). ext may be NULL (external data is
 * then an error). The caller frees view->owned. */
sinter_status_t onnx_tensor_decode(const Onnx__TensorProto *t, const char *what, onnx_ext_t *ext,
                                   onnx_tensor_view_t *view);

/* Fills a TensorProto allocated in ar with dtype, dims and raw_data pointing
 * at data (not copied: it must outlive packing). */
sinter_status_t onnx_tensor_encode(sinter_dtype_t dtype, int32_t rank, const int64_t *dims,
                                   const void *data, size_t nbytes, const char *name,
                                   sinter_arena_t *ar, Onnx__TensorProto **out);

#endif /* SINTER_ONNX_INTERNAL_H */
