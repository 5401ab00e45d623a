/* The artifact ABI: the C structs a compiled model.so exports, as one
 * descriptor symbol, for libsinter_rt to load. Self-contained (no ir.h), so a
 * generated artifact and the runtime need nothing else. See docs/artifact.md. */
#ifndef SINTER_ARTIFACT_H
#define SINTER_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version described by this header. A runtime refuses any other. */
#define SINTER_ARTIFACT_ABI_VERSION 1

/* The name of the exported descriptor. It stays the same in every ABI
 * version, so a runtime can read abi_version and reject another version by
 * name rather than failing to find a versioned symbol. */
#define SINTER_ARTIFACT_SYMBOL "sinter_artifact"

/* The most dimensions a tensor of the ABI carries. */
#define SINTER_ART_MAX_RANK 8

/* A dimension that is the dynamic batch; only dims[0] may carry it. */
#define SINTER_ART_DYNAMIC (-1)

/* Element types, numbered as sinter_dtype_t in ir.h (kept equal on purpose,
 * so codegen casts one into the other). */
typedef enum sinter_art_dtype_e {
  SINTER_ART_UNDEFINED = 0, /* never valid in a descriptor */
  SINTER_ART_F32 = 1,       /* IEEE binary32 */
  SINTER_ART_F16 = 2,       /* IEEE binary16 */
  SINTER_ART_BF16 = 3,      /* bfloat16 */
  SINTER_ART_F8E4M3 = 4,    /* float8 e4m3fn */
  SINTER_ART_F64 = 5,       /* IEEE binary64 */
  SINTER_ART_I64 = 6,       /* signed 64-bit integer */
  SINTER_ART_I32 = 7,       /* signed 32-bit integer */
  SINTER_ART_I16 = 8,       /* signed 16-bit integer */
  SINTER_ART_I8 = 9,        /* signed 8-bit integer */
  SINTER_ART_U8 = 10,       /* unsigned 8-bit integer */
  SINTER_ART_U16 = 11,      /* unsigned 16-bit integer */
  SINTER_ART_U32 = 12,      /* unsigned 32-bit integer */
  SINTER_ART_U64 = 13,      /* unsigned 64-bit integer */
  SINTER_ART_I4 = 14,       /* signed 4-bit, two per byte, low nibble first */
  SINTER_ART_U4 = 15,       /* unsigned 4-bit, two per byte, low nibble first */
  SINTER_ART_BOOL = 16,     /* one byte, 0 or 1 */
  SINTER_ART_DTYPE_COUNT
} sinter_art_dtype_t;

/* One input or output of the model. Tensors are dense, row-major. */
typedef struct sinter_art_tensor_s {
  const char *name;                  /* the graph value's name */
  int32_t dtype;                     /* a sinter_art_dtype_t */
  int32_t rank;                      /* 0 .. SINTER_ART_MAX_RANK */
  int64_t dims[SINTER_ART_MAX_RANK]; /* >= 0, or SINTER_ART_DYNAMIC in dims[0] */
} sinter_art_tensor_t;

/* A task over the index range [begin, end). */
typedef void (*sinter_art_task_fn)(void *ctx, int64_t begin, int64_t end);

/* What the runtime lends a run: a parallel-for over its thread pool. */
typedef struct sinter_art_exec_s {
  uint32_t struct_size; /* sizeof(sinter_art_exec_t) of the runtime */
  int32_t num_threads;  /* threads that may run tasks, the caller's included */
  /* Runs fn over [0, n) split into chunks of at least grain indices (grain
   * <= 0 means 1), on the pool and the calling thread, and returns when all
   * are done. Chunks run concurrently: fn must only write disjoint data. It
   * may be called from inside fn (nested), and by concurrent runs. */
  void (*parallel_for)(const struct sinter_art_exec_s *exec, int64_t n, int64_t grain,
                       sinter_art_task_fn fn, void *ctx);
  void *impl; /* the runtime's; artifacts do not touch it */
} sinter_art_exec_t;

/* The entry point. inputs/outputs are in descriptor order, with dims[0] =
 * batch where the descriptor has SINTER_ART_DYNAMIC; arena holds at least the
 * descriptor's arena size for batch bytes, aligned to arena_align, private to
 * this call. Returns 0 on success, another value on a failure. */
typedef int (*sinter_art_run_fn)(const void *const *inputs, void *const *outputs, void *arena,
                                 int64_t batch, const sinter_art_exec_t *exec);

/* The entry point of an artifact whose weights live in a side file: as
 * sinter_art_run_fn, plus the address where the runtime mapped that file. */
typedef int (*sinter_art_run_ext_fn)(const void *const *inputs, void *const *outputs,
                                     void *arena, int64_t batch, const sinter_art_exec_t *exec,
                                     const void *weights);

/* Optional: the arena size in bytes for batch (>= 1); 0 with *out_ok = 0 when
 * it cannot be represented. */
typedef uint64_t (*sinter_art_arena_size_fn)(int64_t batch, int *out_ok);

/* The descriptor (ABI version 1). abi_version is the first field in every
 * version; fields are only ever appended, with struct_size telling how many. */
typedef struct sinter_artifact_s {
  uint32_t abi_version;               /* SINTER_ARTIFACT_ABI_VERSION */
  uint32_t struct_size;               /* sizeof(sinter_artifact_t) of the artifact */
  const char *model_name;             /* e.g. the ONNX graph name; never NULL */
  const char *recipe;                 /* the pass pipeline / compile flags; never NULL */
  int32_t num_inputs;                 /* entries of inputs */
  int32_t num_outputs;                /* entries of outputs (>= 1) */
  const sinter_art_tensor_t *inputs;  /* num_inputs entries */
  const sinter_art_tensor_t *outputs; /* num_outputs entries */
  /* The activation arena: arena_fixed + batch * arena_per_batch bytes, unless
   * arena_size is set, which then gives the size for a batch. */
  uint64_t arena_fixed;
  uint64_t arena_per_batch;
  sinter_art_arena_size_fn arena_size; /* optional (NULL) */
  uint64_t arena_align;                /* power of two, or 0 for 64 */
  sinter_art_run_fn run;               /* never NULL */
  /* Appended fields, present when struct_size covers them. weights_file is
   * NULL when the weights are inside the library; otherwise it names a file
   * in the library's directory, of weights_size bytes, that the runtime maps
   * read-only and passes to run_ext (run then refuses to run). */
  const char *weights_file;
  uint64_t weights_size;
  sinter_art_run_ext_fn run_ext;
  /* Appended: per-node timing, present when struct_size covers it and the
   * artifact was compiled with profiling (sinter compile --profile), else
   * profile_count is 0. Every run adds each node's wall time in ns to
   * profile_ns[i] (atomically, so concurrent runs add up); a reader may zero
   * the counters between runs. profile_names[i] is "NAME (Op)". */
  int32_t profile_count;
  const char *const *profile_names;
  uint64_t *profile_ns;
} sinter_artifact_t;

/* Whether desc carries the profiling fields and was compiled with them. */
#define SINTER_ARTIFACT_HAS_PROFILE(desc)                                                        \
  ((desc)->struct_size >= offsetof(sinter_artifact_t, profile_ns) + sizeof(uint64_t *) &&        \
   (desc)->profile_count > 0 && (desc)->profile_ns)

/* The descriptor size before the appended weights fields. */
#define SINTER_ARTIFACT_MIN_SIZE (offsetof(sinter_artifact_t, run) + sizeof(sinter_art_run_fn))

#ifdef __cplusplus
}
#endif

#endif /* SINTER_ARTIFACT_H */
