/* The activation epilogue of Sinter's fused ops (FusedConv, FusedGemm,
 * FusedMatMul): how the `activation`, `activation_params` and `approximate`
 * attributes read, and one function that applies the epilogue in place
 * (after FusedConv's optional residual input Z is added). The fusion passes
 * use the same names and defaults (see docs/ops-sinter.md). */
#ifndef SINTER_INTERP_K_FUSED_ACT_H
#define SINTER_INTERP_K_FUSED_ACT_H

#include "ir/interp/kernels.h"

/* The activations a fused op can apply after its linear part. */
typedef enum sinter_fused_act_kind_e {
  SINTER_FUSED_ACT_NONE = 0,     /* identity: no `activation` attribute */
  SINTER_FUSED_ACT_RELU,         /* max(x, 0) */
  SINTER_FUSED_ACT_CLIP,         /* min(max(x, p0), p1); ReLU6 is Clip(0, 6) */
  SINTER_FUSED_ACT_LEAKY_RELU,   /* x < 0 ? p0 * x : x */
  SINTER_FUSED_ACT_SIGMOID,      /* 1 / (1 + exp(-x)) */
  SINTER_FUSED_ACT_HARD_SIGMOID, /* max(0, min(1, p0 * x + p1)) */
  SINTER_FUSED_ACT_HARD_SWISH,   /* x * max(0, min(1, x / 6 + 1 / 2)) */
  SINTER_FUSED_ACT_GELU,         /* erf form, or the tanh form with approximate = "tanh" */
  SINTER_FUSED_ACT_SILU,         /* x * sigmoid(x) */
  SINTER_FUSED_ACT_TANH,         /* tanh(x) */
  SINTER_FUSED_ACT_COUNT
} sinter_fused_act_kind_t;

/* A decoded epilogue. */
typedef struct sinter_fused_act_s {
  sinter_fused_act_kind_t kind;
  float p[2];     /* the activation_params (defaults filled in) */
  bool gelu_tanh; /* Gelu with approximate = "tanh" */
} sinter_fused_act_t;

/* The `activation` string of kind ("Relu", "Clip", ...); "" for NONE. */
const char *sinter_fused_act_name(sinter_fused_act_kind_t kind);

/* The kind named by an `activation` string; SINTER_FUSED_ACT_COUNT when the
 * name is unknown. */
sinter_fused_act_kind_t sinter_fused_act_from_name(const char *name);

/* How many activation_params kind takes (0, 1 or 2), and their defaults,
 * written to out (2 entries). */
int32_t sinter_fused_act_num_params(sinter_fused_act_kind_t kind);
void sinter_fused_act_defaults(sinter_fused_act_kind_t kind, float *out);

/* Reads and validates the epilogue attributes of node. */
sinter_status_t sinter_fused_act_read(const sinter_node_t *node, sinter_fused_act_t *out);

/* Applies act in place to the n elements of a float tensor t, computing in
 * f32 (f64 in f64) with the same formulas as the standalone ops' kernels, so
 * a fused op matches its unfused graph. */
sinter_status_t sinter_fused_act_apply(const sinter_fused_act_t *act, sinter_tensor_t *t);

#endif /* SINTER_INTERP_K_FUSED_ACT_H */
