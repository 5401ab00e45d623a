/* Post-training quantization calibration: run the reference interpreter over
 * a calibration set, keep exactly mergeable per-value statistics (min, max,
 * count and a fixed log-grid histogram), cache them keyed by a graph hash,
 * and turn them into ranges by minmax, percentile, entropy or mse. */
#ifndef SINTER_CALIBRATE_H
#define SINTER_CALIBRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "sinter/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- statistics ---------------------------------------------------------- */

/* Statistics for every float activation of one graph: the graph inputs and
 * the node outputs whose dtype is f32, f16, bf16 or f64 (constants are
 * skipped), in that order: inputs in graph order, then node outputs in node
 * order. Each value keeps min, max, element count and a histogram on a fixed
 * grid of |x| (see docs/calibration.md), so statistics merge exactly. */
typedef struct sinter_calib_stats_s sinter_calib_stats_t;

/* Histogram bins per sign: the 8 exponent bits and the top 6 mantissa bits
 * of a finite nonzero |x| in binary32 (255 exponents x 64). */
#define SINTER_CALIB_BINS_PER_SIGN 16320

/* Creates empty statistics for graph (whose value types must be inferred).
 * The graph is only read during the call. The caller owns *out_stats and
 * frees it with sinter_calib_stats_destroy. */
sinter_status_t sinter_calib_stats_create(const sinter_graph_t *graph,
                                          sinter_calib_stats_t **out_stats);

/* Frees stats; NULL is allowed. */
void sinter_calib_stats_destroy(sinter_calib_stats_t *stats);

/* Computes the hash that keys statistics and caches: FNV-1a 64 over the
 * graph's text IR with constants elided, then every constant's name, size
 * and bytes, then the data of every tensor attribute. */
sinter_status_t sinter_calib_graph_hash(const sinter_graph_t *graph, uint64_t *out_hash);

/* The graph hash stats was created for. */
uint64_t sinter_calib_stats_graph_hash(const sinter_calib_stats_t *stats);

/* Number of samples folded into stats (merge adds them up). */
uint64_t sinter_calib_stats_num_samples(const sinter_calib_stats_t *stats);

/* Number of values tracked. */
int32_t sinter_calib_stats_num_values(const sinter_calib_stats_t *stats);

/* Name of value index (owned by stats). */
const char *sinter_calib_stats_value_name(const sinter_calib_stats_t *stats, int32_t index);

/* Index of the value called name, -1 when it is not tracked. */
int32_t sinter_calib_stats_find(const sinter_calib_stats_t *stats, const char *name);

/* What stats holds about one value. min and max are meaningful only when
 * count > 0. */
typedef struct sinter_calib_summary_s {
  float min, max;     /* exact extremes seen (-0 counts as +0) */
  uint64_t count;     /* elements seen */
  uint64_t zeros;     /* elements equal to zero */
  uint64_t positives; /* elements > 0 */
  uint64_t negatives; /* elements < 0 */
} sinter_calib_summary_t;

/* Fills *out_summary for value index. */
sinter_status_t sinter_calib_stats_summary(const sinter_calib_stats_t *stats, int32_t index,
                                           sinter_calib_summary_t *out_summary);

/* Histogram counts of value index: pos[i] and neg[i] count elements whose
 * |x| falls in bin i (bin bounds from sinter_calib_bin_bounds). The arrays
 * (SINTER_CALIB_BINS_PER_SIGN entries each) are owned by stats and live
 * until it is destroyed; NULL for an out-of-range index. */
const uint64_t *sinter_calib_stats_histogram(const sinter_calib_stats_t *stats, int32_t index,
                                             const uint64_t **out_neg);

/* The |x| interval [lo, hi) of histogram bin i. */
void sinter_calib_bin_bounds(int32_t bin, double *out_lo, double *out_hi);

/* Folds one tensor of data into value index, as if a run had produced it.
 * t is only read. NaN or Inf is an error naming the value and the element;
 * stats is then left unchanged. Does not count a sample. */
sinter_status_t sinter_calib_stats_add_tensor(sinter_calib_stats_t *stats, int32_t index,
                                              const sinter_tensor_t *t);

/* Adds src into dst (both must be for the same graph hash); src is only
 * read. Afterwards dst equals the statistics of the union of both data
 * sets, bit for bit. */
sinter_status_t sinter_calib_stats_merge(sinter_calib_stats_t *dst,
                                         const sinter_calib_stats_t *src);

/* True when a and b hold identical statistics (hash, values, counts, bins). */
bool sinter_calib_stats_equal(const sinter_calib_stats_t *a, const sinter_calib_stats_t *b);

/* ---- cache files --------------------------------------------------------- */

/* Writes stats to path in the versioned binary cache format, atomically
 * (temp file, fsync, rename). stats is only read. */
sinter_status_t sinter_calib_stats_save(const sinter_calib_stats_t *stats, const char *path);

/* Reads a cache written by sinter_calib_stats_save for graph. Refuses, with
 * SINTER_INVALID_ARGUMENT, a cache made for another graph (different hash
 * or value list), and a corrupt or truncated file with SINTER_INVALID_MODEL.
 * The caller owns *out_stats. */
sinter_status_t sinter_calib_stats_load(const sinter_graph_t *graph, const char *path,
                                        sinter_calib_stats_t **out_stats);

/* ---- calibration sets ---------------------------------------------------- */

/* A calibration set: a list of samples, each one tensor per graph input,
 * read from disk one sample at a time. Layouts (docs/calibration.md):
 *   - a folder of .npy / .pb files, one sample each, in name order
 *     (single-input graphs);
 *   - a folder of subfolders, one sample each, in name order; each holds
 *     for graph input K either <input name>.npy|.pb or input_K.npy|.pb
 *     (the ONNX test_data_set layout);
 *   - one .npy file whose axis 0 is the batch: each row is one sample,
 *     kept with a batch axis of 1 (single-input graphs). */
typedef struct sinter_calib_samples_s sinter_calib_samples_t;

/* Opens the calibration set at path for graph (only read during the call).
 * An empty set is an error. The caller owns *out_samples and closes it
 * with sinter_calib_samples_close. */
sinter_status_t sinter_calib_samples_open(const sinter_graph_t *graph, const char *path,
                                          sinter_calib_samples_t **out_samples);

/* Frees samples; NULL is allowed. */
void sinter_calib_samples_close(sinter_calib_samples_t *samples);

/* Number of samples in the set. */
int64_t sinter_calib_samples_count(const sinter_calib_samples_t *samples);

/* Reads sample index into out_inputs (one tensor per graph input). The
 * tensors' data is malloc'ed and owned by the caller, who frees each with
 * sinter_tensor_free_data; on failure nothing is left to free. */
sinter_status_t sinter_calib_samples_read(sinter_calib_samples_t *samples, int64_t index,
                                          sinter_tensor_t *out_inputs);

/* A short description of sample index ("calib/0003.npy"), written into buf
 * (always terminated); returns buf. */
const char *sinter_calib_samples_describe(const sinter_calib_samples_t *samples, int64_t index,
                                          char *buf, size_t cap);

/* ---- collection ---------------------------------------------------------- */

/* Progress report: done of total samples have been processed. */
typedef void (*sinter_calib_progress_fn)(void *user, int64_t done, int64_t total);

/* Options for sinter_calib_collect. Zero-initialize, then set fields. */
typedef struct sinter_calib_collect_options_s {
  sinter_calib_progress_fn progress; /* called after each sample; NULL: none */
  void *progress_user;
  /* Without a progress callback, a bar is drawn on stderr when stderr is a
   * terminal, unless no_progress_bar is set. */
  bool no_progress_bar;
  int64_t max_samples; /* 0: every sample of the set */
} sinter_calib_collect_options_t;

/* Runs the interpreter once on inputs (one tensor per graph input, only
 * read) and folds every tracked value into stats. stats must have been
 * created for graph. Counts one sample. On error (NaN or Inf, a kernel
 * failure) stats may hold part of this sample. */
sinter_status_t sinter_calib_observe(sinter_calib_stats_t *stats, const sinter_graph_t *graph,
                                     const sinter_tensor_t *inputs, int32_t n_inputs);

/* Runs the interpreter over the samples of samples (read one at a time;
 * activations are never kept) and folds them into stats, which must have
 * been created for graph (checked by hash). opts may be NULL. Errors name
 * the sample. */
sinter_status_t sinter_calib_collect(const sinter_graph_t *graph, sinter_calib_samples_t *samples,
                                     const sinter_calib_collect_options_t *opts,
                                     sinter_calib_stats_t *stats);

/* ---- ranges -------------------------------------------------------------- */

/* How a range is chosen from the statistics. */
typedef enum sinter_calib_method_e {
  SINTER_CALIB_MINMAX = 0,  /* the extremes seen */
  SINTER_CALIB_PERCENTILE,  /* a percentile of |x| (or of x on each side) */
  SINTER_CALIB_ENTROPY,     /* minimum KL divergence, as TensorRT */
  SINTER_CALIB_MSE,         /* minimum expected quantization MSE */
} sinter_calib_method_t;

/* Returns "minmax", "percentile", "entropy" or "mse" ("?" otherwise). */
const char *sinter_calib_method_name(sinter_calib_method_t method);

/* Parses a method name; SINTER_INVALID_ARGUMENT when unknown. */
sinter_status_t sinter_calib_method_from_name(const char *name, sinter_calib_method_t *out_method);

/* Options for sinter_calib_compute_range. Zero-initialize, then set. */
typedef struct sinter_calib_range_options_s {
  sinter_calib_method_t method;
  bool symmetric;    /* true: [-t, t] for int8; false: [lo, hi] for uint8 */
  double percentile; /* PERCENTILE only, in (0, 100]; 0 means 99.99 */
  int32_t bits;      /* quantized width, 2..16; 0 means 8 */
} sinter_calib_range_options_t;

/* Which documented clamp, if any, shaped a range. */
typedef enum sinter_calib_clamp_e {
  SINTER_CALIB_CLAMP_NONE = 0, /* the method's answer, unchanged */
  SINTER_CALIB_CLAMP_EMPTY,    /* no data: [-1e-8, 1e-8] */
  SINTER_CALIB_CLAMP_CONSTANT, /* one value c: [-|c|, |c|] or [min(c,0), max(c,0)], then widened */
  SINTER_CALIB_CLAMP_TINY,     /* width below 1e-8: widened to 1e-8 around its centre */
  SINTER_CALIB_CLAMP_HUGE,     /* an end beyond 1e30: capped at +-1e30 */
} sinter_calib_clamp_t;

/* Returns "none", "empty", "constant", "tiny" or "huge". */
const char *sinter_calib_clamp_name(sinter_calib_clamp_t clamp);

/* A calibrated range. Symmetric ranges have lo == -hi. hi - lo is always
 * finite and at least 1e-8, so a scale derived from it is never 0 or Inf. */
typedef struct sinter_calib_range_s {
  float lo, hi;
  sinter_calib_clamp_t clamp;
} sinter_calib_range_t;

/* Computes the range of value index by opts. stats is only read. */
sinter_status_t sinter_calib_compute_range(const sinter_calib_stats_t *stats, int32_t index,
                                           const sinter_calib_range_options_t *opts,
                                           sinter_calib_range_t *out_range);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_CALIBRATE_H */
