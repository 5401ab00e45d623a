/* libsinter_rt: the runtime that loads and runs compiled Sinter artifacts
 * (model.so files exporting the descriptor of sinter/artifact.h). It depends
 * on libc, libm, pthreads and dl only. */
#ifndef SINTER_RUNTIME_H
#define SINTER_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/artifact.h"
#include "sinter/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The artifact ABI version this runtime accepts. */
#define SINTER_RT_ABI_VERSION SINTER_ARTIFACT_ABI_VERSION

/* Returns the runtime's version string, such as "0.1.0" (static storage). */
const char *sinter_rt_version(void);

/* Returns SINTER_RT_ABI_VERSION of the library actually linked. */
uint32_t sinter_rt_abi_version(void);

/* ---- sessions ----------------------------------------------------------- */

/* A loaded artifact with its thread pool. Opaque. */
typedef struct sinter_rt_session_s sinter_rt_session_t;

/* Session options; zero-initialize, then set what you need. */
typedef struct sinter_rt_options_s {
  int32_t num_threads; /* threads running kernels, the caller's included; 0: one per CPU */
} sinter_rt_options_t;

/* A tensor passed to or returned from a run. dims[0] of a dynamic-batch
 * tensor is the batch. */
typedef struct sinter_rt_tensor_s {
  int32_t dtype;                     /* a sinter_art_dtype_t */
  int32_t rank;                      /* 0 .. SINTER_ART_MAX_RANK */
  int64_t dims[SINTER_ART_MAX_RANK]; /* the shape */
  void *data;                        /* dense row-major elements */
  size_t nbytes;                     /* bytes at data (0: unchecked for inputs) */
} sinter_rt_tensor_t;

/* Loads the artifact at path (dlopen) and starts its thread pool; opts may be
 * NULL. Fails with a clear status for a missing file, a file that is not a
 * Sinter artifact, another ABI version or a malformed descriptor. On success
 * *out_session is owned by the caller (release with sinter_rt_session_destroy). */
sinter_status_t sinter_rt_session_create(const char *path, const sinter_rt_options_t *opts,
                                         sinter_rt_session_t **out_session);

/* Stops the pool, frees the arenas and unloads the artifact; NULL is allowed.
 * No run may be in flight. Pointers from the getters below become invalid. */
void sinter_rt_session_destroy(sinter_rt_session_t *session);

/* Runs the model. inputs: num_inputs tensors in descriptor order, borrowed;
 * dtype, rank and dims must match the descriptor (dims[0] of dynamic-batch
 * inputs being the batch, the same for all). outputs: num_outputs tensors.
 * For each, a caller with data == NULL gets a buffer allocated by the runtime
 * with malloc, owned by the caller (release with free); a caller with data !=
 * NULL gives a buffer of nbytes bytes, which must be large enough. On success
 * every output's dtype, rank, dims and nbytes are set. Safe to call from
 * several threads at once on one session; each run has its own arena. */
sinter_status_t sinter_rt_session_run(sinter_rt_session_t *session,
                                      const sinter_rt_tensor_t *inputs, size_t num_inputs,
                                      sinter_rt_tensor_t *outputs, size_t num_outputs);

/* Returns the artifact's descriptor, borrowed for the session's lifetime. */
const sinter_artifact_t *sinter_rt_session_artifact(const sinter_rt_session_t *session);

/* Returns the number of model inputs / outputs. */
size_t sinter_rt_session_num_inputs(const sinter_rt_session_t *session);
size_t sinter_rt_session_num_outputs(const sinter_rt_session_t *session);

/* Returns input / output i (NULL when out of range), borrowed for the
 * session's lifetime. */
const sinter_art_tensor_t *sinter_rt_session_input(const sinter_rt_session_t *session, size_t i);
const sinter_art_tensor_t *sinter_rt_session_output(const sinter_rt_session_t *session, size_t i);

/* Returns the number of threads the session runs kernels on. */
int32_t sinter_rt_session_num_threads(const sinter_rt_session_t *session);

/* Returns the short name of an artifact dtype ("f32", ...), "?" when invalid. */
const char *sinter_rt_dtype_name(int32_t dtype);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_RUNTIME_H */
