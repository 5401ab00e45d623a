/* Version normalization: rewrites each node from the form its model's opset
 * defines into the form of the newest opset, which is the only form the IR
 * knows (attributes that later became inputs, renamed ops, old broadcasting
 * and softmax semantics). See docs/onnx.md for the list. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontends/onnx/onnx_import.h"

#define INVALID(...) SINTER_ERROR(SINTER_INVALID_MODEL, __VA_ARGS__)
#define UNSUPPORTED(...) SINTER_ERROR(SINTER_UNSUPPORTED, __VA_ARGS__)

static bool is(const char *a, const char *b) {
  return strcmp(a, b) == 0;
}

bool onnx_legacy_known_op(const char *op) {
  return is(op, "Upsample") || is(op, "Scatter");
}

static int32_t rank_of(const sinter_value_t *v) {
  return v ? v->type.rank : -1;
}

/* An INTS attribute, or NULL with a message when it has another kind. */
static sinter_status_t get_ints(const wnode_t *w, const char *name, const sinter_attr_t **out) {
  const sinter_attr_t *a = wn_attr(w, name);
  *out = NULL;
  if (!a) return NULL;
  if (a->kind != SINTER_ATTR_INTS)
    return INVALID("attribute '%s' must be a list of integers", name);
  *out = a;
  return NULL;
}

static sinter_status_t get_float(const wnode_t *w, const char *name, bool *has, float *out) {
  const sinter_attr_t *a = wn_attr(w, name);
  *has = a != NULL;
  if (!a) return NULL;
  if (a->kind == SINTER_ATTR_FLOAT)
    *out = a->f;
  else if (a->kind == SINTER_ATTR_INT)
    *out = (float)a->i;
  else
    return INVALID("attribute '%s' must be a number", name);
  return NULL;
}

static const char *get_string(const wnode_t *w, const char *name, const char *dflt) {
  const sinter_attr_t *a = wn_attr(w, name);
  return a && a->kind == SINTER_ATTR_STRING ? a->s : dflt;
}

/* Moves an INTS attribute into input slot index as a 1-D int64 constant.
 * required: a missing attribute is an error. */
static sinter_status_t ints_attr_to_input(import_ctx_t *ctx, wnode_t *w, const char *attr,
                                          int32_t index, bool required) {
  const sinter_attr_t *a;
  SINTER_TRY(get_ints(w, attr, &a));
  if (!a) {
    if (required) return INVALID("attribute '%s' is required", attr);
    return NULL;
  }
  sinter_value_t *c;
  SINTER_TRY(imp_const_i64(ctx, w, attr, a->ints, a->count, &c));
  wn_remove_attr(w, attr);
  return wn_set_input(ctx, w, index, c);
}

/* ---- opset < 7 broadcasting --------------------------------------------- */

static bool has_legacy_broadcast(const char *op) {
  static const char *const ops[] = {"Add", "Sub", "Mul",   "Div",     "Pow", "And",
                                    "Or",  "Xor", "Equal", "Greater", "Less"};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (is(op, ops[i])) return true;
  return false;
}

/* broadcast=1 with axis aligns B's dims with A's starting at axis. NumPy
 * broadcasting aligns trailing dims, so B gets trailing 1s appended. */
static sinter_status_t legacy_broadcast(import_ctx_t *ctx, wnode_t *w) {
  int64_t bc = wn_attr_int(w, "broadcast", 0);
  const sinter_attr_t *ax = wn_attr(w, "axis");
  int64_t axis = ax && ax->kind == SINTER_ATTR_INT ? ax->i : 0;
  bool has_axis = ax != NULL;
  wn_remove_attr(w, "broadcast");
  wn_remove_attr(w, "axis");
  if (!bc || !has_axis || w->n_in != 2 || !w->in[0] || !w->in[1]) return NULL;
  int32_t ra = rank_of(w->in[0]), rb = rank_of(w->in[1]);
  if (ra < 0 || rb < 0)
    return UNSUPPORTED(
        "legacy broadcast with axis=%lld needs the ranks of both inputs, which "
        "are not known",
        (long long)axis);
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    return INVALID("broadcast axis %lld does not fit input ranks %d and %d", (long long)axis, ra,
                   rb);
  int64_t k = ra - axis - rb;
  if (k == 0) return NULL;
  int64_t axes[SINTER_MAX_RANK];
  for (int64_t i = 0; i < k; i++) axes[i] = rb + i;
  sinter_value_t *c;
  SINTER_TRY(imp_const_i64(ctx, w, "bcast_axes", axes, k, &c));
  sinter_value_t *ins[2] = {w->in[1], c};
  sinter_node_t *n;
  SINTER_TRY(imp_emit(ctx, w, SINTER_OP_UNSQUEEZE, "bcast", ins, 2, 1, &n));
  w->in[1] = n->outputs[0];
  return NULL;
}

/* PRelu before opset 7 applies a 1-D slope per channel (axis 1). */
static sinter_status_t legacy_prelu(import_ctx_t *ctx, wnode_t *w) {
  if (w->n_in != 2 || !w->in[0] || !w->in[1]) return NULL;
  const sinter_value_t *s = w->in[1];
  if (s->type.rank != 1 || s->type.dims[0].size == 1) return NULL;
  int32_t r = rank_of(w->in[0]);
  if (r < 0)
    return UNSUPPORTED("a per-channel slope needs the rank of the input, which is not known");
  if (r <= 2) return NULL;
  int64_t axes[SINTER_MAX_RANK];
  for (int32_t i = 0; i < r - 2; i++) axes[i] = 1 + i;
  sinter_value_t *c;
  SINTER_TRY(imp_const_i64(ctx, w, "slope_axes", axes, r - 2, &c));
  sinter_value_t *ins[2] = {w->in[1], c};
  sinter_node_t *n;
  SINTER_TRY(imp_emit(ctx, w, SINTER_OP_UNSQUEEZE, "slope", ins, 2, 1, &n));
  w->in[1] = n->outputs[0];
  return NULL;
}

/* ---- softmax family before opset 13 ------------------------------------- */

/* The old ops flatten the input to 2-D at axis and normalize each row. With
 * axis the last dim that equals the new single-axis form; otherwise the
 * flattening is spelled out: Flatten -> op(axis=-1) -> Reshape to Shape(x). */
static sinter_status_t legacy_softmax(import_ctx_t *ctx, wnode_t *w, sinter_op_t op, bool *done) {
  int64_t axis = wn_attr_int(w, "axis", 1);
  if (w->n_in != 1 || !w->in[0] || w->n_out != 1 || !*w->out[0]) return NULL;
  sinter_value_t *x = w->in[0];
  int32_t r = rank_of(x);
  if (r >= 1) {
    int64_t a = axis < 0 ? axis + r : axis;
    if (a < 0 || a >= r)
      return INVALID("axis %lld is out of range for rank %d", (long long)axis, r);
    if (a == r - 1) return wn_set_attr_int(ctx, w, "axis", -1);
  }
  sinter_node_t *flat, *mid, *shape, *reshape;
  SINTER_TRY(imp_emit(ctx, w, SINTER_OP_FLATTEN, "flatten", &x, 1, 1, &flat));
  SINTER_TRY(sinter_node_set_attr_int(flat, "axis", axis));
  SINTER_TRY(imp_emit(ctx, w, op, NULL, &flat->outputs[0], 1, 1, &mid));
  SINTER_TRY(sinter_node_set_attr_int(mid, "axis", -1));
  SINTER_TRY(imp_emit(ctx, w, SINTER_OP_SHAPE, "shape", &x, 1, 1, &shape));
  sinter_value_t *ins[2] = {mid->outputs[0], shape->outputs[0]};
  SINTER_TRY(imp_emit(ctx, w, SINTER_OP_RESHAPE, "reshape", ins, 2, 1, &reshape));
  SINTER_TRY(imp_bind_output(ctx, w, 0, reshape->outputs[0]));
  *done = true;
  return NULL;
}

/* ---- attributes that became inputs -------------------------------------- */

static sinter_status_t legacy_clip(import_ctx_t *ctx, wnode_t *w) {
  bool has_min, has_max;
  float mn = 0, mx = 0;
  SINTER_TRY(get_float(w, "min", &has_min, &mn));
  SINTER_TRY(get_float(w, "max", &has_max, &mx));
  wn_remove_attr(w, "min");
  wn_remove_attr(w, "max");
  sinter_value_t *x = w->n_in ? w->in[0] : NULL;
  if (has_min) {
    sinter_value_t *c;
    SINTER_TRY(imp_scalar_like(ctx, w, "min", mn, x, &c));
    SINTER_TRY(wn_set_input(ctx, w, 1, c));
  }
  if (has_max) {
    sinter_value_t *c;
    SINTER_TRY(imp_scalar_like(ctx, w, "max", mx, x, &c));
    SINTER_TRY(wn_set_input(ctx, w, 2, c));
  }
  return NULL;
}

static sinter_status_t legacy_pad(import_ctx_t *ctx, wnode_t *w) {
  const char *key = wn_attr(w, "pads") ? "pads" : "paddings";
  const sinter_attr_t *pads;
  SINTER_TRY(get_ints(w, key, &pads));
  if (!pads) return INVALID("attribute 'pads' is required");
  bool has_value;
  float value = 0;
  SINTER_TRY(get_float(w, "value", &has_value, &value));
  const char *mode = get_string(w, "mode", "constant");
  sinter_value_t *c;
  SINTER_TRY(imp_const_i64(ctx, w, "pads", pads->ints, pads->count, &c));
  wn_remove_attr(w, "pads");
  wn_remove_attr(w, "paddings");
  wn_remove_attr(w, "value");
  SINTER_TRY(wn_set_input(ctx, w, 1, c));
  if (has_value && value != 0 && is(mode, "constant")) {
    SINTER_TRY(imp_scalar_like(ctx, w, "value", value, w->in[0], &c));
    SINTER_TRY(wn_set_input(ctx, w, 2, c));
  }
  return NULL;
}

static sinter_status_t legacy_slice(import_ctx_t *ctx, wnode_t *w) {
  SINTER_TRY(ints_attr_to_input(ctx, w, "starts", 1, true));
  SINTER_TRY(ints_attr_to_input(ctx, w, "ends", 2, true));
  return ints_attr_to_input(ctx, w, "axes", 3, false);
}

static sinter_status_t legacy_topk(import_ctx_t *ctx, wnode_t *w) {
  const sinter_attr_t *a = wn_attr(w, "k");
  if (!a || a->kind != SINTER_ATTR_INT) return INVALID("attribute 'k' is required");
  int64_t k = a->i;
  sinter_value_t *c;
  SINTER_TRY(imp_const_i64(ctx, w, "k", &k, 1, &c));
  wn_remove_attr(w, "k");
  return wn_set_input(ctx, w, 1, c);
}

static sinter_status_t legacy_dropout(import_ctx_t *ctx, wnode_t *w) {
  bool has;
  float ratio = 0.5f;
  SINTER_TRY(get_float(w, "ratio", &has, &ratio));
  wn_remove_attr(w, "ratio");
  if (!has) return NULL;
  sinter_value_t *c;
  SINTER_TRY(imp_const(ctx, w, "ratio", SINTER_DTYPE_F32, 0, NULL, &ratio, sizeof(ratio), &c));
  return wn_set_input(ctx, w, 1, c);
}

static sinter_status_t legacy_reshape(import_ctx_t *ctx, wnode_t *w) {
  if (w->n_in >= 2) return NULL;
  return ints_attr_to_input(ctx, w, "shape", 1, true);
}

/* Cast before opset 6 names the target type as a string. */
static sinter_status_t legacy_cast(import_ctx_t *ctx, wnode_t *w) {
  const sinter_attr_t *a = wn_attr(w, "to");
  if (!a || a->kind != SINTER_ATTR_STRING) return NULL;
  char up[32];
  size_t n = strlen(a->s);
  if (n >= sizeof(up)) return INVALID("unknown Cast target type '%s'", a->s);
  for (size_t i = 0; i <= n; i++)
    up[i] = (char)(a->s[i] >= 'a' && a->s[i] <= 'z' ? a->s[i] - 32 : a->s[i]);
  for (int64_t t = 1; t <= ONNX_DT_LAST; t++)
    if (is(onnx_dtype_name(t), up)) return wn_set_attr_int(ctx, w, "to", t);
  return INVALID("unknown Cast target type '%s'", a->s);
}

/* ---- renamed and reshaped ops ------------------------------------------- */

/* Upsample (opsets 7-9; opset 1's experimental form too) becomes Resize. */
static sinter_status_t legacy_upsample(import_ctx_t *ctx, wnode_t *w) {
  const char *mode = get_string(w, "mode", "nearest");
  sinter_value_t *scales = NULL;
  if (ctx->opset >= 9) {
    scales = w->n_in >= 2 ? w->in[1] : NULL;
    if (!scales) return INVALID("input 'scales' is required");
  } else if (wn_attr(w, "scales")) {
    const sinter_attr_t *a = wn_attr(w, "scales");
    if (a->kind != SINTER_ATTR_FLOATS) return INVALID("attribute 'scales' must be floats");
    SINTER_TRY(imp_const(ctx, w, "scales", SINTER_DTYPE_F32, 1, &a->count, a->floats,
                         (size_t)a->count * sizeof(float), &scales));
  } else {
    bool hh, hw;
    float s[4] = {1, 1, 1, 1};
    SINTER_TRY(get_float(w, "height_scale", &hh, &s[2]));
    SINTER_TRY(get_float(w, "width_scale", &hw, &s[3]));
    if (!hh || !hw) return INVALID("attribute 'scales' is required");
    int64_t four = 4;
    SINTER_TRY(imp_const(ctx, w, "scales", SINTER_DTYPE_F32, 1, &four, s, sizeof(s), &scales));
  }
  wn_remove_attr(w, "scales");
  wn_remove_attr(w, "height_scale");
  wn_remove_attr(w, "width_scale");
  w->n_in = w->n_in > 0 ? 1 : 0;
  SINTER_TRY(wn_set_input(ctx, w, 1, NULL));
  SINTER_TRY(wn_set_input(ctx, w, 2, scales));
  w->op_type = "Resize";
  if (is(mode, "nearest")) {
    SINTER_TRY(wn_set_attr_string(ctx, w, "mode", "nearest"));
    SINTER_TRY(wn_set_attr_string(ctx, w, "coordinate_transformation_mode", "asymmetric"));
    return wn_set_attr_string(ctx, w, "nearest_mode", "floor");
  }
  if (is(mode, "linear") || is(mode, "bilinear")) {
    SINTER_TRY(wn_set_attr_string(ctx, w, "mode", "linear"));
    return wn_set_attr_string(ctx, w, "coordinate_transformation_mode", "asymmetric");
  }
  return INVALID("unknown Upsample mode '%s'", mode);
}

static bool is_empty_const(const sinter_value_t *v) {
  return v && v->kind == SINTER_VALUE_CONST && v->nbytes == 0;
}

static sinter_status_t legacy_resize(import_ctx_t *ctx, wnode_t *w) {
  if (ctx->opset < 11) {
    /* Resize-10: (X, scales), sampling like Upsample. */
    sinter_value_t *scales = w->n_in >= 2 ? w->in[1] : NULL;
    SINTER_TRY(wn_set_input(ctx, w, 1, NULL));
    SINTER_TRY(wn_set_input(ctx, w, 2, scales));
    const char *mode = get_string(w, "mode", "nearest");
    SINTER_TRY(wn_set_attr_string(ctx, w, "coordinate_transformation_mode", "asymmetric"));
    if (is(mode, "nearest")) SINTER_TRY(wn_set_attr_string(ctx, w, "nearest_mode", "floor"));
    return NULL;
  }
  /* Opsets 11 and 12 require roi and scales, often as empty tensors; the
   * newest form omits them instead. */
  if (w->n_in >= 2 && is_empty_const(w->in[1])) w->in[1] = NULL;
  if (w->n_in >= 3 && is_empty_const(w->in[2]) && w->n_in >= 4 && w->in[3]) w->in[2] = NULL;
  return NULL;
}

static sinter_status_t legacy_batchnorm(import_ctx_t *ctx, wnode_t *w) {
  if (ctx->opset < 9) {
    if (wn_attr_int(w, "spatial", 1) == 0)
      return UNSUPPORTED("spatial=0 (per-activation statistics) is not supported");
    wn_remove_attr(w, "spatial");
    for (int32_t i = 3; i < w->n_out; i++)
      if (*w->out[i])
        return UNSUPPORTED("output %d (saved mean or variance, for training) is not supported", i);
    if (w->n_out > 3) w->n_out = 3;
  }
  int32_t live = 0;
  for (int32_t i = 1; i < w->n_out; i++)
    if (*w->out[i]) live++;
  /* Before opset 14 the extra outputs alone meant training mode. */
  if (ctx->opset < 14 && live) SINTER_TRY(wn_set_attr_int(ctx, w, "training_mode", 1));
  return NULL;
}

/* GroupNormalization 18-20 scales per group; 21 scales per channel. */
static sinter_status_t legacy_groupnorm(import_ctx_t *ctx, wnode_t *w) {
  if (w->n_in != 3 || !w->in[0] || !w->in[1] || !w->in[2]) return NULL;
  int64_t groups = wn_attr_int(w, "num_groups", 0);
  const sinter_type_t *xt = &w->in[0]->type;
  int64_t c = xt->rank >= 2 ? xt->dims[1].size : -1;
  for (int k = 1; k <= 2; k++) {
    const sinter_value_t *s = w->in[k];
    if (s->kind != SINTER_VALUE_CONST || s->type.rank != 1 || groups <= 0 || c <= 0 || c % groups ||
        s->type.dims[0].size != groups)
      return UNSUPPORTED(
          "per-group scale and bias (opsets 18-20) need constant scale and bias "
          "and a known channel count");
    size_t esz = (size_t)sinter_dtype_bits(s->type.dtype) / 8;
    if (!esz) return UNSUPPORTED("scale and bias of this dtype are not supported");
    unsigned char *buf = sinter_arena_alloc(&ctx->scratch, esz * (size_t)c, 8);
    if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    int64_t per = c / groups;
    for (int64_t ch = 0; ch < c; ch++)
      memcpy(buf + esz * (size_t)ch, (const unsigned char *)s->data + esz * (size_t)(ch / per),
             esz);
    sinter_value_t *nc;
    SINTER_TRY(imp_const(ctx, w, k == 1 ? "scale_per_channel" : "bias_per_channel", s->type.dtype,
                         1, &c, buf, esz * (size_t)c, &nc));
    w->in[k] = nc;
  }
  return NULL;
}

static bool is_reduce(const char *op) {
  return strncmp(op, "Reduce", 6) == 0 && sinter_op_lookup("", op) != SINTER_OP_INVALID;
}

sinter_status_t onnx_legacy_rewrite(import_ctx_t *ctx, wnode_t *w, bool *out_done) {
  *out_done = false;
  const char *op = w->op_type;
  int64_t v = ctx->opset;
  /* Opsets 1-6 bookkeeping attributes with no meaning for inference. */
  wn_remove_attr(w, "consumed_inputs");
  wn_remove_attr(w, "is_test");

  if (v < 7 && has_legacy_broadcast(op)) return legacy_broadcast(ctx, w);
  if (v < 7 && is(op, "Gemm")) {
    wn_remove_attr(w, "broadcast");
    return NULL;
  }
  if (v < 7 && is(op, "PRelu")) return legacy_prelu(ctx, w);
  if (v < 13 && is(op, "Softmax")) return legacy_softmax(ctx, w, SINTER_OP_SOFTMAX, out_done);
  if (v < 13 && is(op, "LogSoftmax"))
    return legacy_softmax(ctx, w, SINTER_OP_LOG_SOFTMAX, out_done);
  if (v < 13 && is(op, "Hardmax")) return legacy_softmax(ctx, w, SINTER_OP_HARDMAX, out_done);
  if (v < 10 && is(op, "Slice")) return legacy_slice(ctx, w);
  if (v < 11 && is(op, "Clip")) return legacy_clip(ctx, w);
  if (v < 11 && is(op, "Pad")) return legacy_pad(ctx, w);
  if (is_reduce(op) && v < (is(op, "ReduceSum") ? 13 : 18))
    return ints_attr_to_input(ctx, w, "axes", 1, false);
  if (v < 13 && is(op, "Split")) return ints_attr_to_input(ctx, w, "split", 1, false);
  if (v < 13 && is(op, "Squeeze")) return ints_attr_to_input(ctx, w, "axes", 1, false);
  if (v < 13 && is(op, "Unsqueeze")) return ints_attr_to_input(ctx, w, "axes", 1, true);
  if (v < 10 && is(op, "TopK")) return legacy_topk(ctx, w);
  if (v < 12 && is(op, "Dropout")) return legacy_dropout(ctx, w);
  if (v < 5 && is(op, "Reshape")) return legacy_reshape(ctx, w);
  if (v < 6 && is(op, "Cast")) return legacy_cast(ctx, w);
  if (v < 6 && is(op, "Tile"))
    return UNSUPPORTED("Tile before opset 6 (tiles and axis inputs) is not supported");
  if (v < 4 && is(op, "Concat") && !wn_attr(w, "axis")) return wn_set_attr_int(ctx, w, "axis", 1);
  if (v < 2 && (is(op, "LpPool") || is(op, "GlobalLpPool"))) {
    const sinter_attr_t *p = wn_attr(w, "p");
    if (p && p->kind == SINTER_ATTR_FLOAT) return wn_set_attr_int(ctx, w, "p", llrintf(p->f));
    return NULL;
  }
  if (is(op, "Upsample")) return legacy_upsample(ctx, w);
  if (is(op, "Resize")) return legacy_resize(ctx, w);
  if (is(op, "Scatter")) {
    w->op_type = "ScatterElements";
    return NULL;
  }
  if (is(op, "BatchNormalization")) return legacy_batchnorm(ctx, w);
  if (v >= 18 && v < 21 && is(op, "GroupNormalization")) return legacy_groupnorm(ctx, w);
  return NULL;
}
