/* QDQ placement shared by `quantize` and `insert-fake-quant`: which nodes and inputs get
 * QuantizeLinear/DequantizeLinear pairs, how weights and biases are quantized, and where the
 * activation ranges come from (calibration statistics, a cache file, or explicit ranges). */
#ifndef SINTER_QDQ_PLACEMENT_H
#define SINTER_QDQ_PLACEMENT_H

#include "passes/pass_internal.h"
#include "sinter/calibrate.h"

/* The op types quantized by default, on the unfused graph. */
#define SINTER_QDQ_DEFAULT_OPS \
  "Conv|ConvTranspose|MatMul|Gemm|Add|Mul|Concat|MaxPool|AveragePool|GlobalAveragePool"

/* Where activation ranges come from: explicit ranges win, then statistics, then (fake quant
 * only) [-default_range, default_range]. */
typedef struct sinter_qdq_ranges_s {
  const sinter_calib_stats_t *stats;   /* may be NULL */
  sinter_calib_range_options_t opts;   /* method, percentile; symmetric is set per use */
  const char *explicit_ranges;         /* "name:lo:hi|name:lo:hi"; NULL or "" for none */
  double default_range;                /* > 0: used when nothing else knows the value */
} sinter_qdq_ranges_t;

typedef struct sinter_qdq_config_s {
  sinter_dtype_t act_dtype;   /* I8 or U8; UNDEFINED: activations stay float (weights only) */
  bool per_channel;           /* weights: per output channel, else per tensor */
  bool w_symmetric, a_symmetric;
  bool fake_weights;          /* keep weights float behind a Q->DQ pair; biases stay float */
  const char *ops;            /* '|'-separated op types to quantize */
  const char *keep_regex;     /* node names kept in float (POSIX extended regex); NULL: none */
  const char *keep_ops;       /* '|'-separated op types kept in float; NULL: none */
  const char *const *keep_names; /* exact node names kept in float (the accuracy guard) */
  int32_t n_keep_names;
  bool keep_first_last;       /* keep the first and the last quantizable node in float */
  sinter_qdq_ranges_t ranges;
} sinter_qdq_config_t;

/* Inserts QDQ pairs into graph by cfg. Adds the number of inserted Q/DQ pairs to
 * counters->rewritten. */
sinter_status_t sinter_qdq_insert(sinter_graph_t *graph, const sinter_qdq_config_t *cfg,
                                  sinter_pass_counters_t *counters);

/* Statistics for graph from calib (a calibration set path) and/or cache (a cache file path):
 * a cache that exists and matches the graph is used without running the interpreter;
 * otherwise the set is collected (max_samples 0: all) and, when cache is given, written to
 * it. *out_from_cache tells which happened. The caller destroys *out_stats. */
sinter_status_t sinter_qdq_calibrate(const sinter_graph_t *graph, const char *calib,
                                     const char *cache, int64_t max_samples,
                                     sinter_calib_stats_t **out_stats, bool *out_from_cache);

/* scale and zero point for range [lo, hi] in dtype (I8 or U8), as ONNX Runtime's quantizer
 * computes them: the range is widened to hold 0; symmetric int8 uses [-127, 127]. */
void sinter_qdq_params(float lo, float hi, sinter_dtype_t dtype, bool symmetric,
                       float *out_scale, int32_t *out_zero_point);

/* Fills cfg from the options quantize and insert-fake-quant share (passes/quantize.c). */
sinter_status_t sinter_qdq_config_from_args(const sinter_pass_args_t *args,
                                            sinter_qdq_config_t *cfg);

/* Runs sinter_qdq_insert with statistics from the calib / calib-cache options when either is
 * given; with required, activations need them (or explicit ranges). */
sinter_status_t sinter_qdq_run_with_calib(sinter_graph_t *graph, const sinter_pass_args_t *args,
                                          sinter_qdq_config_t *cfg, bool required,
                                          sinter_pass_counters_t *counters);

#endif /* SINTER_QDQ_PLACEMENT_H */
