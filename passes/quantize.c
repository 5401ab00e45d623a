/* quantize: post-training quantization of the unfused float graph. Calibrates the graph as it
 * is when the pass runs (or reads a matching calibration cache), then inserts QDQ pairs with
 * the calibrated params by the shared placement (passes/qdq_placement.c). */
#include <string.h>

#include "passes/qdq_placement.h"

static const sinter_pass_option_t options[] = {
    {"weights", SINTER_PASS_OPT_CHOICE, "int8", "int8", "weight type"},
    {"acts", SINTER_PASS_OPT_CHOICE, "int8", "int8|uint8|none",
     "activation type (none: weights only)"},
    {"granularity", SINTER_PASS_OPT_CHOICE, "per-channel", "per-channel|per-tensor",
     "weight scales per output channel or per tensor"},
    {"weights-symmetric", SINTER_PASS_OPT_BOOL, "true", NULL, "weights symmetric (zero point 0)"},
    {"acts-symmetric", SINTER_PASS_OPT_BOOL, "false", NULL,
     "activations symmetric (default asymmetric, as ONNX Runtime)"},
    {"method", SINTER_PASS_OPT_CHOICE, "minmax", "minmax|percentile|entropy|mse",
     "how activation ranges come from the statistics"},
    {"percentile", SINTER_PASS_OPT_FLOAT, "99.99", NULL, "percentile for method=percentile"},
    {"ops", SINTER_PASS_OPT_STRING, SINTER_QDQ_DEFAULT_OPS, NULL,
     "'|'-separated op types to quantize"},
    {"keep", SINTER_PASS_OPT_STRING, "", NULL, "regex on node names kept in float"},
    {"keep-ops", SINTER_PASS_OPT_STRING, "", NULL, "'|'-separated op types kept in float"},
    {"first-last", SINTER_PASS_OPT_CHOICE, "quantize", "quantize|keep",
     "policy for the first and last quantizable nodes"},
    {"calib", SINTER_PASS_OPT_STRING, "", NULL, "calibration set (folder or batched .npy)"},
    {"calib-cache", SINTER_PASS_OPT_STRING, "", NULL,
     "statistics cache: used when it matches the graph, else written"},
    {"max-samples", SINTER_PASS_OPT_INT, "0", NULL, "calibration samples to use (0: all)"},
    {"ranges", SINTER_PASS_OPT_STRING, "", NULL,
     "explicit activation ranges NAME:LO:HI|... (override calibration)"},
};

sinter_status_t sinter_qdq_config_from_args(const sinter_pass_args_t *args,
                                            sinter_qdq_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  const char *acts = sinter_pass_args_string(args, "acts");
  cfg->act_dtype = !strcmp(acts, "uint8")  ? SINTER_DTYPE_U8
                   : !strcmp(acts, "none") ? SINTER_DTYPE_UNDEFINED
                                           : SINTER_DTYPE_I8;
  cfg->per_channel = sinter_pass_args_has(args, "granularity", "per-channel");
  cfg->w_symmetric = sinter_pass_args_bool(args, "weights-symmetric");
  cfg->a_symmetric = sinter_pass_args_bool(args, "acts-symmetric");
  cfg->ops = sinter_pass_args_string(args, "ops");
  cfg->keep_regex = sinter_pass_args_string(args, "keep");
  cfg->keep_ops = sinter_pass_args_string(args, "keep-ops");
  cfg->keep_first_last = sinter_pass_args_has(args, "first-last", "keep");
  cfg->ranges.explicit_ranges = sinter_pass_args_string(args, "ranges");
  SINTER_TRY(sinter_calib_method_from_name(sinter_pass_args_string(args, "method"),
                                           &cfg->ranges.opts.method));
  cfg->ranges.opts.percentile = sinter_pass_args_float(args, "percentile");
  if (!(cfg->ranges.opts.percentile > 0 && cfg->ranges.opts.percentile <= 100))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "percentile must be in (0, 100]");
  return NULL;
}

sinter_status_t sinter_qdq_run_with_calib(sinter_graph_t *graph, const sinter_pass_args_t *args,
                                          sinter_qdq_config_t *cfg, bool required,
                                          sinter_pass_counters_t *counters) {
  const char *calib = sinter_pass_args_string(args, "calib");
  const char *cache = sinter_pass_args_string(args, "calib-cache");
  sinter_calib_stats_t *stats = NULL;
  if (*calib || *cache) {
    bool cached;
    SINTER_TRY(sinter_qdq_calibrate(graph, calib, cache, sinter_pass_args_int(args, "max-samples"),
                                    &stats, &cached));
  } else if (required && cfg->act_dtype != SINTER_DTYPE_UNDEFINED &&
             !*cfg->ranges.explicit_ranges) {
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "quantize needs calib, calib-cache or ranges for activation ranges "
                        "(or acts=none)");
  }
  cfg->ranges.stats = stats;
  sinter_status_t st = sinter_qdq_insert(graph, cfg, counters);
  sinter_calib_stats_destroy(stats);
  return st;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  (void)user;
  sinter_qdq_config_t cfg;
  SINTER_TRY(sinter_qdq_config_from_args(args, &cfg));
  return sinter_qdq_run_with_calib(graph, args, &cfg, true, counters);
}

const sinter_pass_info_t sinter_pass_quantize = {
    "quantize",
    "post-training quantization: calibrate, then insert QuantizeLinear/DequantizeLinear pairs "
    "(int8 weights per channel, int32 biases, int8/uint8 activations) as ONNX Runtime places them",
    options,
    (int32_t)(sizeof(options) / sizeof(options[0])),
    run,
    NULL};
