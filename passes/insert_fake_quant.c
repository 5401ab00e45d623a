/* insert-fake-quant: the QDQ placement of `quantize` with float weights behind Q->DQ pairs and
 * every scale and zero point an initializer, for quantization-aware training. Initial params
 * come from calibration when given, else from the weights' min/max and a default activation
 * range [-default-range, default-range]. */
#include <string.h>

#include "passes/qdq_placement.h"


static const sinter_pass_option_t options[] = {
    {"acts", SINTER_PASS_OPT_CHOICE, "int8", "int8|uint8", "activation type"},
    {"granularity", SINTER_PASS_OPT_CHOICE, "per-channel", "per-channel|per-tensor",
     "weight scales per output channel or per tensor"},
    {"weights-symmetric", SINTER_PASS_OPT_BOOL, "true", NULL, "weights symmetric (zero point 0)"},
    {"acts-symmetric", SINTER_PASS_OPT_BOOL, "false", NULL, "activations symmetric"},
    {"method", SINTER_PASS_OPT_CHOICE, "minmax", "minmax|percentile|entropy|mse",
     "how initial activation ranges come from calibration"},
    {"percentile", SINTER_PASS_OPT_FLOAT, "99.99", NULL, "percentile for method=percentile"},
    {"ops", SINTER_PASS_OPT_STRING, SINTER_QDQ_DEFAULT_OPS, NULL,
     "'|'-separated op types to fake-quantize"},
    {"keep", SINTER_PASS_OPT_STRING, "", NULL, "regex on node names kept in float"},
    {"keep-ops", SINTER_PASS_OPT_STRING, "", NULL, "'|'-separated op types kept in float"},
    {"first-last", SINTER_PASS_OPT_CHOICE, "quantize", "quantize|keep",
     "policy for the first and last quantizable nodes"},
    {"calib", SINTER_PASS_OPT_STRING, "", NULL, "calibration set for initial ranges"},
    {"calib-cache", SINTER_PASS_OPT_STRING, "", NULL, "statistics cache (used or written)"},
    {"max-samples", SINTER_PASS_OPT_INT, "0", NULL, "calibration samples to use (0: all)"},
    {"ranges", SINTER_PASS_OPT_STRING, "", NULL, "explicit activation ranges NAME:LO:HI|..."},
    {"default-range", SINTER_PASS_OPT_FLOAT, "6", NULL,
     "activations without calibration start at [-R, R]"},
};

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  (void)user;
  sinter_qdq_config_t cfg;
  SINTER_TRY(sinter_qdq_config_from_args(args, &cfg));
  cfg.fake_weights = true;
  cfg.ranges.default_range = sinter_pass_args_float(args, "default-range");
  if (!(cfg.ranges.default_range > 0 && cfg.ranges.default_range < 1e30))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "default-range must be in (0, 1e30)");
  return sinter_qdq_run_with_calib(graph, args, &cfg, false, counters);
}

const sinter_pass_info_t sinter_pass_insert_fake_quant = {
    "insert-fake-quant",
    "quantization-aware training: fake-quant QDQ pairs (float weights, scales and zero points as "
    "initializers) in the placement of quantize",
    options,
    (int32_t)(sizeof(options) / sizeof(options[0])),
    run,
    NULL};
