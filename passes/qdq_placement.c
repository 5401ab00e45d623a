/* QDQ placement shared by `quantize` and `insert-fake-quant`, following ONNX Runtime's QDQ
 * quantizer: activations per tensor (Q->DQ on each float input and on the output of every
 * quantized node), weights per output channel, biases int32 with scale s_in * s_w. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/qdq_placement.h"

/* ---- parameters ------------------------------------------------------------ */

static void qrange(sinter_dtype_t dt, bool symmetric, int32_t *qmin, int32_t *qmax) {
  if (dt == SINTER_DTYPE_U8) {
    *qmin = 0;
    *qmax = 255;
  } else {
    *qmin = symmetric ? -127 : -128;
    *qmax = 127;
  }
}

void sinter_qdq_params(float lo, float hi, sinter_dtype_t dtype, bool symmetric,
                       float *out_scale, int32_t *out_zero_point) {
  int32_t qmin, qmax;
  qrange(dtype, symmetric, &qmin, &qmax);
  double rmin = lo < 0 ? lo : 0, rmax = hi > 0 ? hi : 0;
  if (symmetric) {
    double a = fabs(rmin) > fabs(rmax) ? fabs(rmin) : fabs(rmax);
    rmin = -a;
    rmax = a;
  }
  double scale = (rmax - rmin) / (double)(qmax - qmin);
  /* An all-zero range (a zero weight channel) gets scale 1, as ONNX Runtime does; anything too
   * small for f32 is lifted to FLT_MIN so the scale stays finite and > 0. */
  if (!(scale > 0) || !isfinite(scale)) scale = 1.0;
  if (scale < 1.1754943508222875e-38) scale = 1.1754943508222875e-38;
  /* Symmetric ranges put zero at the middle code: 0 for int8, 128 for uint8. */
  double zp = symmetric ? (dtype == SINTER_DTYPE_U8 ? 128 : 0)
                        : nearbyint((double)qmin - rmin / scale);
  if (zp < qmin) zp = qmin;
  if (zp > qmax) zp = qmax;
  *out_scale = (float)scale;
  *out_zero_point = (int32_t)zp;
}

/* ---- calibration ------------------------------------------------------------ */

sinter_status_t sinter_qdq_calibrate(const sinter_graph_t *graph, const char *calib,
                                     const char *cache, int64_t max_samples,
                                     sinter_calib_stats_t **out_stats, bool *out_from_cache) {
  *out_stats = NULL;
  *out_from_cache = false;
  if (cache && *cache) {
    FILE *f = fopen(cache, "rb");
    if (f) {
      fclose(f);
      sinter_calib_stats_t *s = NULL;
      sinter_status_t st = sinter_calib_stats_load(graph, cache, &s);
      if (!st) {
        *out_stats = s;
        *out_from_cache = true;
        return NULL;
      }
      /* A cache for another graph (or a damaged one) is replaced, not trusted. */
      if (!calib || !*calib) return sinter_status_annotate(st, "calibration cache '%s'", cache);
      fprintf(stderr, "sinter: calibration cache '%s' not used (%s); recalibrating\n", cache,
              sinter_status_message(st));
      sinter_status_free(st);
    } else if (!calib || !*calib) {
      return SINTER_ERROR(SINTER_NOT_FOUND,
                          "calibration cache '%s' does not exist and no calibration set is given",
                          cache);
    }
  }
  if (!calib || !*calib)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "no calibration set (calib) or cache given");
  sinter_calib_stats_t *s = NULL;
  sinter_calib_samples_t *set = NULL;
  SINTER_TRY(sinter_calib_stats_create(graph, &s));
  sinter_status_t st = sinter_calib_samples_open(graph, calib, &set);
  if (!st) {
    sinter_calib_collect_options_t o;
    memset(&o, 0, sizeof(o));
    o.max_samples = max_samples;
    st = sinter_calib_collect(graph, set, &o, s);
  }
  sinter_calib_samples_close(set);
  if (!st && cache && *cache) st = sinter_calib_stats_save(s, cache);
  if (st) {
    sinter_calib_stats_destroy(s);
    return st;
  }
  *out_stats = s;
  return NULL;
}

/* ---- ranges ------------------------------------------------------------------ */

/* Looks name up in "name:lo:hi|name:lo:hi" (the numbers are the last two ':' fields). */
static sinter_status_t explicit_range(const char *list, const char *name, float *lo, float *hi,
                                      bool *found) {
  *found = false;
  for (const char *p = list; p && *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    char item[512];
    if (len >= sizeof(item))
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "range entry too long: '%.40s...'", p);
    memcpy(item, p, len);
    item[len] = 0;
    char *c2 = strrchr(item, ':');
    char *c1 = NULL;
    if (c2) {
      *c2 = 0;
      c1 = strrchr(item, ':');
      *c2 = ':';
    }
    if (!c1 || c1 == item)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "range entry '%s' is not NAME:LO:HI", item);
    *c1 = 0;
    if (strcmp(item, name) == 0) {
      char *end1, *end2;
      double a = strtod(c1 + 1, &end1), b = strtod(c2 + 1, &end2);
      if (end1 != c2 || *end2 || !isfinite(a) || !isfinite(b) || a > b)
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "range for '%s' is not LO:HI with LO <= HI",
                            name);
      *lo = (float)a;
      *hi = (float)b;
      *found = true;
      return NULL;
    }
    p = bar ? bar + 1 : NULL;
  }
  return NULL;
}

static sinter_status_t value_range(const sinter_qdq_config_t *cfg, const sinter_value_t *v,
                                   bool symmetric, float *lo, float *hi) {
  const sinter_qdq_ranges_t *r = &cfg->ranges;
  bool found = false;
  if (r->explicit_ranges && *r->explicit_ranges) {
    SINTER_TRY(explicit_range(r->explicit_ranges, v->name, lo, hi, &found));
    if (found) return NULL;
  }
  if (r->stats) {
    int32_t idx = sinter_calib_stats_find(r->stats, v->name);
    if (idx >= 0) {
      sinter_calib_range_options_t o = r->opts;
      o.symmetric = symmetric;
      sinter_calib_range_t range;
      SINTER_RETURN_IF_ERROR(sinter_calib_compute_range(r->stats, idx, &o, &range),
                             "range of '%s'", v->name);
      *lo = range.lo;
      *hi = range.hi;
      return NULL;
    }
  }
  if (r->default_range > 0) {
    *lo = (float)-r->default_range;
    *hi = (float)r->default_range;
    return NULL;
  }
  return SINTER_ERROR(SINTER_NOT_FOUND,
                      "no calibrated range for activation '%s' (calibrate the graph as it is "
                      "when the pass runs, or give ranges)",
                      v->name);
}

/* ---- placement ------------------------------------------------------------------ */

typedef struct qctx_s {
  sinter_graph_t *g;
  const sinter_qdq_config_t *cfg;
  uint32_t n_ids;
  sinter_value_t **dq_of;  /* by value id: the DQ output replacing an activation */
  float *scale_of;         /* by value id: its activation scale */
  sinter_value_t **wdq_of; /* by const id: weight DQ output (one axis per weight) */
  float **wscale_of;       /* by const id: weight scales (malloc'ed), count in wcount_of */
  int64_t *wcount_of;
  int32_t *waxis_of;
  sinter_pass_counters_t *counters;
  bool has_regex;
  regex_t re;
} qctx_t;

static bool op_listed(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0) return true;
    p = bar ? bar + 1 : NULL;
  }
  return false;
}

static const char *op_name(sinter_op_t op) {
  const sinter_op_info_t *i = sinter_op_info(op);
  return i ? i->name : "?";
}

static bool is_f32(const sinter_value_t *v) { return v && v->type.dtype == SINTER_DTYPE_F32; }

static bool from_dq(const sinter_value_t *v) {
  return v && sinter_pat_producer(v, SINTER_OP_DEQUANTIZE_LINEAR) != NULL;
}

/* Whether node is one the pass quantizes (before keep rules). */
static bool quantizable(const qctx_t *c, const sinter_node_t *n) {
  if (!op_listed(c->cfg->ops, op_name(n->op))) return false;
  if (n->n_outputs < 1 || !is_f32(n->outputs[0])) return false;
  bool any = false;
  for (int32_t i = 0; i < n->n_inputs; i++) {
    if (from_dq(n->inputs[i])) return false; /* already quantized */
    if (is_f32(n->inputs[i]) && n->inputs[i]->kind != SINTER_VALUE_CONST) any = true;
  }
  return any;
}

static bool kept(const qctx_t *c, const sinter_node_t *n) {
  if (c->cfg->keep_ops && op_listed(c->cfg->keep_ops, op_name(n->op))) return true;
  if (c->has_regex && regexec(&c->re, n->name ? n->name : "", 0, NULL, 0) == 0) return true;
  for (int32_t i = 0; i < c->cfg->n_keep_names; i++)
    if (n->name && strcmp(n->name, c->cfg->keep_names[i]) == 0) return true;
  return false;
}

static sinter_status_t add_const_typed(qctx_t *c, const char *hint, sinter_dtype_t dt,
                                       int32_t rank, const int64_t *dims, const void *data,
                                       size_t elem, sinter_value_t **out) {
  sinter_type_t t;
  sinter_type_set_static(&t, dt, rank, dims);
  int64_t n = 1;
  for (int32_t i = 0; i < rank; i++) n *= dims[i];
  char name[600];
  sinter_pat_unique_name(c->g, hint, name, sizeof(name));
  return sinter_graph_add_const(c->g, name, &t, data, (size_t)n * elem, out);
}

static sinter_status_t add_qdq_node(qctx_t *c, sinter_node_t *before, sinter_op_t op,
                                    const char *base, const char *suffix, sinter_value_t *x,
                                    sinter_value_t *scale, sinter_value_t *zp, int32_t axis,
                                    sinter_value_t **out) {
  char hint[600], name[600], oname[640];
  snprintf(hint, sizeof(hint), "%s_%s", base, suffix);
  sinter_pat_unique_name(c->g, hint, name, sizeof(name));
  sinter_value_t *ins[3] = {x, scale, zp};
  sinter_node_t *n;
  SINTER_TRY(sinter_graph_insert_node(c->g, before, op, name, ins, 3, 1, &n));
  if (axis >= 0) SINTER_TRY(sinter_node_set_attr_int(n, "axis", axis));
  snprintf(hint, sizeof(hint), "%s_Output", name);
  sinter_pat_unique_name(c->g, hint, oname, sizeof(oname));
  SINTER_TRY(sinter_value_set_name(n->outputs[0], oname));
  SINTER_TRY(sinter_pat_infer_node(c->g, n));
  if (op == SINTER_OP_QUANTIZE_LINEAR || op == SINTER_OP_DEQUANTIZE_LINEAR) {
    /* Keep x's symbolic dims rather than re-derived ones. */
    sinter_type_t t = x->type;
    t.dtype = n->outputs[0]->type.dtype;
    sinter_value_set_type(n->outputs[0], &t);
  }
  *out = n->outputs[0];
  return NULL;
}

/* The value whose range an output reuses: MaxPool passes its input's scale through, as ONNX
 * Runtime's quantizer does, so an integer MaxPool needs no requantization. */
static const sinter_value_t *range_source(const sinter_value_t *v) {
  for (int depth = 0; depth < 16; depth++) {
    sinter_node_t *p = v->producer;
    if (!p || (p->op != SINTER_OP_MAX_POOL && p->op != SINTER_OP_GLOBAL_MAX_POOL)) break;
    v = p->inputs[0];
  }
  return v;
}

/* Puts Q->DQ on activation x and points every node use at the DQ output. A graph output keeps
 * its name on the DQ output; the float value becomes x_QuantizeLinear_Input. */
static sinter_status_t quantize_activation(qctx_t *c, sinter_value_t *x) {
  if (x->id < c->n_ids && c->dq_of[x->id]) return NULL;
  if (from_dq(x)) return NULL; /* already the DQ output of an earlier pair */
  const sinter_qdq_config_t *cfg = c->cfg;
  float lo = 0, hi = 0, scale;
  int32_t zp;
  const sinter_value_t *src = range_source(x);
  const sinter_node_t *sdq = NULL;
  if (src != x && from_dq(src)) sdq = src->producer;
  else if (src != x && src->id < c->n_ids && c->dq_of[src->id]) sdq = c->dq_of[src->id]->producer;
  if (sdq && sdq->inputs[1]->kind == SINTER_VALUE_CONST && sdq->inputs[2] &&
      sdq->inputs[2]->kind == SINTER_VALUE_CONST && sdq->inputs[1]->type.rank == 0 &&
      sdq->inputs[2]->type.dtype == (cfg->act_dtype == SINTER_DTYPE_U8 ? SINTER_DTYPE_U8
                                                                       : SINTER_DTYPE_I8)) {
    /* Reuse the exact params of the source. */
    memcpy(&scale, sdq->inputs[1]->data, sizeof(float));
    const sinter_value_t *z = sdq->inputs[2];
    zp = z->type.dtype == SINTER_DTYPE_U8 ? (int32_t) * (const uint8_t *)z->data
                                          : (int32_t) * (const int8_t *)z->data;
  } else {
    SINTER_TRY(value_range(cfg, src, cfg->a_symmetric, &lo, &hi));
    sinter_qdq_params(lo, hi, cfg->act_dtype, cfg->a_symmetric, &scale, &zp);
  }
  char base[512];
  snprintf(base, sizeof(base), "%s", *x->name ? x->name : "v");
  char hint[600];
  sinter_value_t *sv, *zv;
  snprintf(hint, sizeof(hint), "%s_scale", base);
  SINTER_TRY(add_const_typed(c, hint, SINTER_DTYPE_F32, 0, NULL, &scale, sizeof(float), &sv));
  snprintf(hint, sizeof(hint), "%s_zero_point", base);
  if (cfg->act_dtype == SINTER_DTYPE_U8) {
    uint8_t z8 = (uint8_t)zp;
    SINTER_TRY(add_const_typed(c, hint, SINTER_DTYPE_U8, 0, NULL, &z8, 1, &zv));
  } else {
    int8_t z8 = (int8_t)zp;
    SINTER_TRY(add_const_typed(c, hint, SINTER_DTYPE_I8, 0, NULL, &z8, 1, &zv));
  }
  sinter_node_t *before = x->producer ? x->producer->next : c->g->first;
  sinter_value_t *q, *dq;
  SINTER_TRY(add_qdq_node(c, before, SINTER_OP_QUANTIZE_LINEAR, base, "QuantizeLinear", x, sv,
                          zv, -1, &q));
  SINTER_TRY(add_qdq_node(c, before, SINTER_OP_DEQUANTIZE_LINEAR, base, "DequantizeLinear", q,
                          sv, zv, -1, &dq));
  /* Rewire node uses (all but the new Q). */
  for (int32_t i = x->n_uses - 1; i >= 0; i--) {
    sinter_node_t *u = x->uses[i].node;
    if (u == q->producer) continue;
    SINTER_TRY(sinter_node_set_input(u, x->uses[i].slot, dq));
  }
  if (x->n_output_refs) {
    char fl[640];
    snprintf(hint, sizeof(hint), "%s_QuantizeLinear_Input", base);
    sinter_pat_unique_name(c->g, hint, fl, sizeof(fl));
    SINTER_TRY(sinter_value_set_name(x, fl));
    SINTER_TRY(sinter_value_set_name(dq, base));
    for (int32_t i = 0; i < c->g->n_outputs; i++)
      if (c->g->outputs[i] == x) SINTER_TRY(sinter_graph_set_output(c->g, i, dq));
  }
  if (x->id < c->n_ids) {
    c->dq_of[x->id] = dq;
    c->scale_of[x->id] = scale;
  }
  c->counters->rewritten++;
  return NULL;
}

/* Quantizes float constant w (int8, symmetric or not) per channel on axis (-1: per tensor) and
 * sets node's input slot to its DQ. Scales are kept for the bias. */
static sinter_status_t quantize_weight(qctx_t *c, sinter_node_t *node, int32_t slot,
                                       int32_t axis) {
  sinter_value_t *w = node->inputs[slot];
  const sinter_qdq_config_t *cfg = c->cfg;
  if (w->id < c->n_ids && c->wdq_of[w->id] && c->waxis_of[w->id] == axis)
    return sinter_node_set_input(node, slot, c->wdq_of[w->id]);
  int64_t n;
  float *data = sinter_pat_const_f32(w, &n);
  if (!data) return SINTER_ERROR(SINTER_INVALID_MODEL, "weight '%s' is not readable", w->name);
  if (axis >= w->type.rank) axis = -1;
  int64_t channels = axis >= 0 ? w->type.dims[axis].size : 1, inner = 1;
  if (axis >= 0)
    for (int32_t i = axis + 1; i < w->type.rank; i++) inner *= w->type.dims[i].size;
  if (channels <= 0 || n == 0) {
    free(data);
    return NULL; /* nothing to quantize: leave it float */
  }
  float *scales = malloc((size_t)channels * sizeof(float));
  int8_t *zps = malloc((size_t)channels);
  int8_t *qd = malloc((size_t)n);
  if (!scales || !zps || !qd) {
    free(data), free(scales), free(zps), free(qd);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  /* Per-channel extremes in one sweep (scales[] holds the minima meanwhile). */
  float *his = calloc((size_t)channels, sizeof(float));
  if (!his) {
    free(data), free(scales), free(zps), free(qd);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  for (int64_t ch = 0; ch < channels; ch++) scales[ch] = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t ch = axis >= 0 ? (i / inner) % channels : 0;
    if (!isfinite(data[i])) {
      free(data), free(scales), free(zps), free(qd), free(his);
      return SINTER_ERROR(SINTER_INVALID_MODEL, "weight '%s' holds NaN or Inf at element %lld",
                          w->name, (long long)i);
    }
    if (data[i] < scales[ch]) scales[ch] = data[i];
    if (data[i] > his[ch]) his[ch] = data[i];
  }
  for (int64_t ch = 0; ch < channels; ch++) {
    int32_t zp;
    sinter_qdq_params(scales[ch], his[ch], SINTER_DTYPE_I8, cfg->w_symmetric, &scales[ch], &zp);
    zps[ch] = (int8_t)zp;
  }
  free(his);
  for (int64_t i = 0; i < n; i++) {
    int64_t ch = axis >= 0 ? (i / inner) % channels : 0;
    /* Saturates to the full [-128, 127], as QuantizeLinear does. */
    int32_t v = (int32_t)nearbyint((double)data[i] / scales[ch]) + zps[ch];
    qd[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
  }
  free(data);
  char base[512], hint[600];
  snprintf(base, sizeof(base), "%s", *w->name ? w->name : "w");
  int64_t sdims[1] = {channels};
  int32_t srank = axis >= 0 ? 1 : 0;
  sinter_value_t *sv, *zv, *dq;
  sinter_status_t st;
  snprintf(hint, sizeof(hint), "%s_scale", base);
  st = add_const_typed(c, hint, SINTER_DTYPE_F32, srank, sdims, scales, sizeof(float), &sv);
  snprintf(hint, sizeof(hint), "%s_zero_point", base);
  if (!st) st = add_const_typed(c, hint, SINTER_DTYPE_I8, srank, sdims, zps, 1, &zv);
  if (!st && cfg->fake_weights) {
    sinter_value_t *q;
    st = add_qdq_node(c, node, SINTER_OP_QUANTIZE_LINEAR, base, "QuantizeLinear", w, sv, zv,
                      axis >= 0 ? axis : -1, &q);
    if (!st)
      st = add_qdq_node(c, node, SINTER_OP_DEQUANTIZE_LINEAR, base, "DequantizeLinear", q, sv,
                        zv, axis >= 0 ? axis : -1, &dq);
  } else if (!st) {
    sinter_value_t *wq;
    int64_t dims[SINTER_MAX_RANK];
    for (int32_t i = 0; i < w->type.rank; i++) dims[i] = w->type.dims[i].size;
    snprintf(hint, sizeof(hint), "%s_quantized", base);
    st = add_const_typed(c, hint, SINTER_DTYPE_I8, w->type.rank, dims, qd, 1, &wq);
    if (!st) {
      int32_t *zpv = malloc((size_t)channels * sizeof(int32_t));
      if (zpv) {
        for (int64_t ch = 0; ch < channels; ch++) zpv[ch] = zps[ch];
        sinter_quant_params_t qp = {axis >= 0 ? SINTER_QUANT_PER_AXIS : SINTER_QUANT_PER_TENSOR,
                                    8, axis >= 0 ? axis : 0, 0, channels, scales, zpv};
        st = sinter_value_set_quant(wq, &qp);
        free(zpv);
      }
    }
    if (!st)
      st = add_qdq_node(c, node, SINTER_OP_DEQUANTIZE_LINEAR, base, "DequantizeLinear", wq, sv,
                        zv, axis >= 0 ? axis : -1, &dq);
  }
  free(zps);
  free(qd);
  if (!st) st = sinter_node_set_input(node, slot, dq);
  if (st) {
    free(scales);
    return st;
  }
  if (w->id < c->n_ids) {
    free(c->wscale_of[w->id]);
    c->wdq_of[w->id] = dq;
    c->wscale_of[w->id] = scales;
    c->wcount_of[w->id] = channels;
    c->waxis_of[w->id] = axis;
  } else {
    free(scales);
  }
  if (w->n_uses == 0 && !w->n_output_refs) SINTER_TRY(sinter_graph_remove_value(c->g, w));
  c->counters->rewritten++;
  return NULL;
}

/* Quantizes bias b (slot of node) as int32 with scale s_in * s_w[c] and zero point 0. */
static sinter_status_t quantize_bias(qctx_t *c, sinter_node_t *node, int32_t slot, float s_in,
                                     const float *s_w, int64_t n_sw) {
  sinter_value_t *b = node->inputs[slot];
  int64_t n;
  if (b->type.rank != 1) return NULL;
  float *data = sinter_pat_const_f32(b, &n);
  if (!data) return NULL;
  if (n_sw != 1 && n_sw != n) {
    free(data);
    return NULL; /* channel counts disagree (grouped ConvTranspose): leave it float */
  }
  float *scales = malloc((size_t)n * sizeof(float));
  int32_t *q = malloc((size_t)n * sizeof(int32_t)), *zps = calloc((size_t)n, sizeof(int32_t));
  if (!scales || !q || !zps) {
    free(data), free(scales), free(q), free(zps);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(data[i])) {
      free(data), free(scales), free(q), free(zps);
      return SINTER_ERROR(SINTER_INVALID_MODEL, "bias '%s' holds NaN or Inf", b->name);
    }
    float s = s_in * s_w[n_sw == 1 ? 0 : i];
    if (!(s > 0) || !isfinite(s)) s = 1.1754943508222875e-38f;
    scales[i] = s;
    double v = nearbyint((double)data[i] / (double)s);
    q[i] = (int32_t)(v < -2147483648.0 ? -2147483648.0 : v > 2147483647.0 ? 2147483647.0 : v);
  }
  free(data);
  char base[512], hint[600];
  snprintf(base, sizeof(base), "%s", *b->name ? b->name : "b");
  int64_t dims[1] = {n};
  sinter_value_t *bq, *sv, *zv, *dq;
  snprintf(hint, sizeof(hint), "%s_quantized", base);
  sinter_status_t st = add_const_typed(c, hint, SINTER_DTYPE_I32, 1, dims, q, 4, &bq);
  snprintf(hint, sizeof(hint), "%s_scale", base);
  if (!st) st = add_const_typed(c, hint, SINTER_DTYPE_F32, 1, dims, scales, 4, &sv);
  snprintf(hint, sizeof(hint), "%s_zero_point", base);
  if (!st) st = add_const_typed(c, hint, SINTER_DTYPE_I32, 1, dims, zps, 4, &zv);
  if (!st) {
    sinter_quant_params_t qp = {SINTER_QUANT_PER_AXIS, 32, 0, 0, n, scales, zps};
    st = sinter_value_set_quant(bq, &qp);
  }
  if (!st)
    st = add_qdq_node(c, node, SINTER_OP_DEQUANTIZE_LINEAR, base, "DequantizeLinear", bq, sv, zv,
                      0, &dq);
  free(scales), free(q), free(zps);
  SINTER_TRY(st);
  SINTER_TRY(sinter_node_set_input(node, slot, dq));
  if (b->n_uses == 0 && !b->n_output_refs) SINTER_TRY(sinter_graph_remove_value(c->g, b));
  c->counters->rewritten++;
  return NULL;
}

/* The weight axis of input slot 1 (output channels), -1 when slot 1 is not a weight. */
static int32_t weight_axis(const sinter_node_t *n) {
  const sinter_value_t *w = n->n_inputs > 1 ? n->inputs[1] : NULL;
  if (!w || w->kind != SINTER_VALUE_CONST || !is_f32(w) || !sinter_type_is_static(&w->type))
    return -2;
  switch (n->op) {
    case SINTER_OP_CONV: return 0;
    case SINTER_OP_CONV_TRANSPOSE: return 1;
    case SINTER_OP_MATMUL: return w->type.rank >= 2 ? w->type.rank - 1 : -1;
    case SINTER_OP_GEMM: return sinter_node_attr_int(n, "transB", 0) ? 0 : 1;
    default: return -2;
  }
}

/* Where a node's output is quantized: after a Relu or Clip that alone reads it (TensorRT and
 * ONNX Runtime fuse the activation; its [0, max] range keeps the full resolution). */
static sinter_value_t *output_point(sinter_node_t *n) {
  sinter_value_t *y = n->outputs[0];
  if (y->n_uses == 1 && !y->n_output_refs) {
    sinter_node_t *u = y->uses[0].node;
    if ((u->op == SINTER_OP_RELU || u->op == SINTER_OP_CLIP) && u->inputs[0] == y &&
        is_f32(u->outputs[0]))
      return u->outputs[0];
  }
  return y;
}

static sinter_status_t quantize_node(qctx_t *c, sinter_node_t *n) {
  const sinter_qdq_config_t *cfg = c->cfg;
  bool acts = cfg->act_dtype != SINTER_DTYPE_UNDEFINED;
  int32_t waxis = weight_axis(n);
  bool linear = waxis > -2;
  for (int32_t i = 0; i < n->n_inputs; i++) {
    sinter_value_t *v = n->inputs[i];
    if (!is_f32(v)) continue;
    if (linear && i == 1) {
      SINTER_TRY(quantize_weight(c, n, 1, cfg->per_channel ? waxis : -1));
    } else if (linear && i == 2) {
      continue; /* bias: below, once the input scale is known */
    } else if (v->kind == SINTER_VALUE_CONST) {
      /* A constant operand of Add, Mul, Concat...: per-tensor int8, as ONNX Runtime does. */
      if (!cfg->fake_weights && sinter_type_is_static(&v->type))
        SINTER_TRY(quantize_weight(c, n, i, -1));
    } else if (acts && !(n->op == SINTER_OP_GEMM && i == 2)) {
      SINTER_TRY(quantize_activation(c, v));
    }
  }
  if (linear && n->n_inputs > 2 && n->inputs[2] && acts && !cfg->fake_weights) {
    sinter_value_t *x = n->inputs[0];
    sinter_node_t *dq = x ? x->producer : NULL;
    const sinter_value_t *wdq = n->inputs[1];
    bool ok = dq && dq->op == SINTER_OP_DEQUANTIZE_LINEAR && wdq->producer &&
              wdq->producer->op == SINTER_OP_DEQUANTIZE_LINEAR;
    bool gemm_plain = n->op != SINTER_OP_GEMM || (sinter_node_attr_float(n, "alpha", 1.0f) == 1.0f &&
                                                  sinter_node_attr_float(n, "beta", 1.0f) == 1.0f);
    if (ok && gemm_plain && n->inputs[2]->kind == SINTER_VALUE_CONST && is_f32(n->inputs[2])) {
      float s_in;
      memcpy(&s_in, dq->inputs[1]->data, sizeof(float));
      const sinter_value_t *ws = wdq->producer->inputs[1];
      int64_t nsw = ws->type.rank == 0 ? 1 : ws->type.dims[0].size;
      SINTER_TRY(quantize_bias(c, n, 2, s_in, (const float *)ws->data, nsw));
    }
  }
  if (acts) SINTER_TRY(quantize_activation(c, output_point(n)));
  return NULL;
}

sinter_status_t sinter_qdq_insert(sinter_graph_t *g, const sinter_qdq_config_t *cfg,
                                  sinter_pass_counters_t *counters) {
  if (cfg->act_dtype != SINTER_DTYPE_UNDEFINED && cfg->act_dtype != SINTER_DTYPE_I8 &&
      cfg->act_dtype != SINTER_DTYPE_U8)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "activations must be int8 or uint8");
  qctx_t c;
  memset(&c, 0, sizeof(c));
  c.g = g;
  c.cfg = cfg;
  c.counters = counters;
  c.n_ids = g->next_value_id;
  if (cfg->keep_regex && *cfg->keep_regex) {
    int rc = regcomp(&c.re, cfg->keep_regex, REG_EXTENDED | REG_NOSUB);
    if (rc) {
      char msg[200];
      regerror(rc, &c.re, msg, sizeof(msg));
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "keep regex '%s': %s", cfg->keep_regex, msg);
    }
    c.has_regex = true;
  }
  size_t ni = c.n_ids ? c.n_ids : 1;
  c.dq_of = calloc(ni, sizeof(*c.dq_of));
  c.scale_of = calloc(ni, sizeof(*c.scale_of));
  c.wdq_of = calloc(ni, sizeof(*c.wdq_of));
  c.wscale_of = calloc(ni, sizeof(*c.wscale_of));
  c.wcount_of = calloc(ni, sizeof(*c.wcount_of));
  c.waxis_of = calloc(ni, sizeof(*c.waxis_of));
  int32_t nn = g->n_nodes;
  sinter_node_t **todo = malloc((nn ? (size_t)nn : 1) * sizeof(*todo));
  sinter_status_t st = NULL;
  if (!c.dq_of || !c.scale_of || !c.wdq_of || !c.wscale_of || !c.wcount_of || !c.waxis_of ||
      !todo)
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  int32_t nt = 0;
  /* The graph opset must allow per-axis DequantizeLinear (13). */
  if (!st && sinter_graph_opset(g, "") < 13) st = sinter_graph_set_opset(g, "", 13);
  for (sinter_node_t *n = g->first; n && !st; n = n->next)
    if (quantizable(&c, n)) todo[nt++] = n;
  for (int32_t i = 0; i < nt && !st; i++) {
    if (cfg->keep_first_last && (i == 0 || i == nt - 1)) continue;
    if (kept(&c, todo[i])) continue;
    st = quantize_node(&c, todo[i]);
    if (st) {
      char d[200];
      st = sinter_status_annotate(st, "quantizing %s", sinter_ir_node_desc(todo[i], d, sizeof(d)));
    }
  }
  free(todo);
  if (c.wscale_of)
    for (uint32_t i = 0; i < c.n_ids; i++) free(c.wscale_of[i]);
  free(c.dq_of), free(c.scale_of), free(c.wdq_of), free(c.wscale_of), free(c.wcount_of);
  free(c.waxis_of);
  if (c.has_regex) regfree(&c.re);
  return st;
}
