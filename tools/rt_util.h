/* Helpers of `sinter run` and `sinter bench` for compiled artifacts (model.so
 * run through libsinter_rt): detection, binding input files to the
 * descriptor's inputs, random inputs, and output summaries. */
#ifndef SINTER_TOOLS_RT_UTIL_H
#define SINTER_TOOLS_RT_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "sinter/runtime.h"
#include "tools/tool.h"

/* True when path names a compiled artifact: a ".so" suffix, or a file that
 * starts with the ELF magic. */
bool tool_is_artifact(const char *path);

/* Bound inputs of one artifact: the runtime's views and the tensors that own
 * their data (read from files or generated). */
typedef struct tool_rt_inputs_s {
  size_t n;
  sinter_tensor_t *owned;      /* n entries; data freed by tool_rt_inputs_free */
  sinter_rt_tensor_t *tensors; /* n entries, pointing into owned */
  int64_t batch;               /* the batch of the dynamic inputs (1 when none) */
} tool_rt_inputs_t;

/* Binds specs ("NAME=FILE", or "FILE" taken in descriptor order) to the
 * session's inputs, checking each file's dtype and shape against the
 * descriptor with errors that name the input and the file. Inputs without a
 * spec are an error unless fill_random, which fills them with random data
 * of the declared shape (the dynamic batch being the batch of the given
 * files, else default_batch): floats uniform in [-1, 1), integers and bools 0. */
sinter_status_t tool_rt_bind_inputs(const sinter_rt_session_t *session, const char *const *specs,
                                    int n_specs, bool fill_random, int64_t default_batch,
                                    tool_rt_inputs_t *out);

/* Frees what tool_rt_bind_inputs allocated; safe on a zeroed struct. */
void tool_rt_inputs_free(tool_rt_inputs_t *in);

/* Fills n elements of dtype at data: floats uniform in [-1, 1) from *seed,
 * everything else 0 (valid token ids, indices and masks). */
void tool_fill_random(void *data, sinter_dtype_t dtype, int64_t n, uint64_t *seed);

/* Prints "NAME: TYPE", min/max/mean and the first values of t to stdout:
 * the output summary of `sinter run`. */
void tool_print_tensor_summary(const char *name, const sinter_tensor_t *t);

/* Writes t to DIR/<name>.npy, with '/', '\\', ':' and spaces in name
 * replaced by '_'. */
sinter_status_t tool_write_output(const char *dir, const char *name, const sinter_tensor_t *t);

#endif /* SINTER_TOOLS_RT_UTIL_H */
