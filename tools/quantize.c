/* sinter quantize: post-training quantization to standard QDQ ONNX (or fp16/bf16), with a
 * calibration cache and an accuracy guard that keeps the worst layers in float until the
 * output SQNR on the calibration set meets a target. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/ir_impl.h"
#include "passes/qdq_placement.h"
#include "sinter/passes.h"
#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter quantize MODEL --calib DIR -o OUT.onnx [--scheme SCHEME]\n"
          "                       [--method METHOD] [--keep REGEX] [--min-sqnr DB]\n"
          "                       [--calib-cache FILE] [--max-samples N]\n"
          "\n"
          "Quantizes MODEL after canonicalize, fold-constants and dce, and writes standard\n"
          "QDQ ONNX (QuantizeLinear/DequantizeLinear) that ONNX Runtime runs.\n"
          "\n"
          "  --calib DIR          calibration set: a folder of .npy/.pb samples, of\n"
          "                       test_data_set-style folders, or one batched .npy\n"
          "  --scheme S           int8 (default: int8 weights per channel, int8 activations),\n"
          "                       int8-per-tensor, uint8 (uint8 activations), fp16, bf16\n"
          "  --method M           activation ranges: minmax, percentile (default), entropy, mse\n"
          "  --keep REGEX         node names kept in float\n"
          "  --min-sqnr DB        accuracy guard: keep the worst layer in float, one at a\n"
          "                       time, until the output SQNR on (up to 32) calibration\n"
          "                       samples reaches DB (at most 16 layers; exit 1 when the\n"
          "                       target is not reached, the model is still written)\n"
          "  --calib-cache FILE   statistics cache: used when it matches the graph, else written\n"
          "  --max-samples N      calibrate on the first N samples only\n"
          "  --calib-only         only calibrate and write --calib-cache (no -o needed)\n"
          "  -o FILE              the output model (.onnx or .sir)\n");
}

#define PREP_PIPELINE "canonicalize,fold-constants,dce"

static sinter_status_t prepare(const sinter_pass_registry_t *reg, const char *path,
                               const char *extra, sinter_graph_t **out) {
  char text[1024];
  snprintf(text, sizeof(text), "%s%s%s", PREP_PIPELINE, extra ? "," : "", extra ? extra : "");
  sinter_pipeline_t *pl = NULL;
  SINTER_TRY(sinter_pipeline_parse(reg, text, &pl));
  sinter_graph_t *g = NULL;
  sinter_status_t st = tool_load_model(path, &g);
  if (!st) st = sinter_pipeline_run(g, pl, NULL, NULL);
  sinter_pipeline_destroy(pl);
  if (st) {
    sinter_graph_destroy(g);
    return st;
  }
  *out = g;
  return NULL;
}

static sinter_status_t write_model(const sinter_graph_t *g, const char *path) {
  size_t n = strlen(path);
  if (n > 4 && !strcmp(path + n - 4, ".sir")) {
    FILE *f = fopen(path, "w");
    if (!f) return SINTER_ERROR(SINTER_IO_ERROR, "cannot write '%s'", path);
    sinter_status_t st = sinter_graph_print(g, f, false);
    if (fclose(f) && !st) st = SINTER_ERROR(SINTER_IO_ERROR, "cannot write '%s'", path);
    return st;
  }
  return sinter_onnx_export_file(g, path);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the accuracy guard ------------------------------------------------------ */

typedef struct layer_s {
  char *name; /* the quantized tensor (its Q node's name without _QuantizeLinear) */
  double signal, noise;
} layer_t;

typedef struct eval_s {
  const sinter_graph_t *ref;
  sinter_tensor_t *ref_vals; /* by ref value id: this sample's fp32 values */
  layer_t *layers;
  int32_t n_layers, cap_layers;
} eval_t;

static bool observe_ref(void *user, const sinter_node_t *node, const sinter_tensor_t *outs,
                        int32_t n) {
  eval_t *e = user;
  for (int32_t k = 0; k < n; k++) {
    const sinter_value_t *v = node->outputs[k];
    if (outs[k].dtype != SINTER_DTYPE_F32) continue;
    sinter_tensor_t *t = &e->ref_vals[v->id];
    *t = outs[k];
    t->data = malloc(outs[k].nbytes ? outs[k].nbytes : 1);
    if (!t->data) return false;
    memcpy(t->data, outs[k].data, outs[k].nbytes);
  }
  return true;
}

static layer_t *layer_get(eval_t *e, const char *name) {
  for (int32_t i = 0; i < e->n_layers; i++)
    if (!strcmp(e->layers[i].name, name)) return &e->layers[i];
  if (e->n_layers == e->cap_layers) {
    int32_t nc = e->cap_layers ? 2 * e->cap_layers : 64;
    layer_t *nl = realloc(e->layers, (size_t)nc * sizeof(*nl));
    if (!nl) return NULL;
    e->layers = nl;
    e->cap_layers = nc;
  }
  layer_t *l = &e->layers[e->n_layers++];
  memset(l, 0, sizeof(*l));
  l->name = strdup(name);
  return l->name ? l : NULL;
}

/* The fp32 tensor of ref named name (graph inputs are not stored: the input's own
 * quantization is measured too, against the sample itself). */
static const sinter_tensor_t *ref_tensor(const eval_t *e, const char *name,
                                         const sinter_tensor_t *inputs) {
  const sinter_value_t *v = sinter_graph_find_value(e->ref, name);
  if (!v) return NULL;
  if (v->kind == SINTER_VALUE_INPUT) {
    for (int32_t i = 0; i < e->ref->n_inputs; i++)
      if (e->ref->inputs[i] == v) return &inputs[i];
    return NULL;
  }
  return v->kind == SINTER_VALUE_NODE && e->ref_vals[v->id].data ? &e->ref_vals[v->id] : NULL;
}

typedef struct cand_obs_s {
  eval_t *e;
  const sinter_tensor_t *inputs;
} cand_obs_t;

static bool observe_cand(void *user, const sinter_node_t *node, const sinter_tensor_t *outs,
                         int32_t n) {
  cand_obs_t *o = user;
  (void)n;
  if (node->op != SINTER_OP_DEQUANTIZE_LINEAR) return true;
  const sinter_node_t *q = node->inputs[0]->producer;
  if (!q || q->op != SINTER_OP_QUANTIZE_LINEAR || !q->name) return true;
  const char *suffix = "_QuantizeLinear";
  size_t len = strlen(q->name), sl = strlen(suffix);
  if (len <= sl || strcmp(q->name + len - sl, suffix)) return true;
  char name[512];
  snprintf(name, sizeof(name), "%.*s", (int)(len - sl), q->name);
  const sinter_tensor_t *r = ref_tensor(o->e, name, o->inputs);
  if (!r || r->nbytes != outs[0].nbytes || outs[0].dtype != SINTER_DTYPE_F32) return true;
  layer_t *l = layer_get(o->e, name);
  if (!l) return false;
  const float *a = r->data, *b = outs[0].data;
  for (size_t i = 0; i < r->nbytes / sizeof(float); i++) {
    double d = (double)b[i] - a[i];
    l->signal += (double)a[i] * a[i];
    l->noise += d * d;
  }
  return true;
}

static double sqnr_db(double s, double n) {
  if (n <= 0) return INFINITY;
  if (s <= 0) return -INFINITY;
  return 10.0 * log10(s / n);
}

/* Runs ref and cand over the first n samples: the output SQNR (all outputs pooled) and the
 * per-layer sums in e->layers. */
static sinter_status_t evaluate(const sinter_graph_t *ref, const sinter_graph_t *cand,
                                sinter_calib_samples_t *set, int64_t n, eval_t *e,
                                double *out_sqnr) {
  sinter_interp_t *ri = NULL, *ci = NULL;
  SINTER_TRY(sinter_interp_create(ref, &ri));
  sinter_status_t st = sinter_interp_create(cand, &ci);
  e->ref = ref;
  e->ref_vals = calloc(ref->next_value_id ? ref->next_value_id : 1, sizeof(sinter_tensor_t));
  int32_t nin = ref->n_inputs, nout = ref->n_outputs;
  sinter_tensor_t *in = calloc((size_t)nin + 1, sizeof(*in));
  sinter_tensor_t *ro = calloc((size_t)nout + 1, sizeof(*ro));
  sinter_tensor_t *co = calloc((size_t)nout + 1, sizeof(*co));
  if (!st && (!e->ref_vals || !in || !ro || !co))
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  double sig = 0, noise = 0;
  for (int64_t s = 0; s < n && !st; s++) {
    st = sinter_calib_samples_read(set, s, in);
    if (st) break;
    cand_obs_t co_user = {e, in};
    sinter_interp_set_observer(ri, observe_ref, e);
    sinter_interp_set_observer(ci, observe_cand, &co_user);
    st = sinter_interp_run(ri, in, nin, ro);
    if (!st) {
      st = sinter_interp_run(ci, in, nin, co);
      if (!st) {
        for (int32_t k = 0; k < nout; k++) {
          if (ro[k].dtype == SINTER_DTYPE_F32 && co[k].dtype == SINTER_DTYPE_F32 &&
              ro[k].nbytes == co[k].nbytes) {
            const float *a = ro[k].data, *b = co[k].data;
            for (size_t i = 0; i < ro[k].nbytes / sizeof(float); i++) {
              double d = (double)b[i] - a[i];
              sig += (double)a[i] * a[i];
              noise += d * d;
            }
          }
          sinter_tensor_free_data(&co[k]);
        }
      }
      for (int32_t k = 0; k < nout; k++) sinter_tensor_free_data(&ro[k]);
    }
    for (uint32_t i = 0; i < ref->next_value_id; i++) {
      free(e->ref_vals[i].data);
      e->ref_vals[i].data = NULL;
    }
    for (int32_t i = 0; i < nin; i++) sinter_tensor_free_data(&in[i]);
  }
  free(in), free(ro), free(co);
  free(e->ref_vals);
  e->ref_vals = NULL;
  sinter_interp_destroy(ri);
  sinter_interp_destroy(ci);
  *out_sqnr = sqnr_db(sig, noise);
  return st;
}

static double layer_sqnr(const eval_t *e, const char *name) {
  for (int32_t i = 0; i < e->n_layers; i++)
    if (!strcmp(e->layers[i].name, name)) return sqnr_db(e->layers[i].signal, e->layers[i].noise);
  return NAN;
}

/* The name a DQ output stands for ("x" of x_DequantizeLinear_Output), or NULL. */
static const char *qdq_source(const sinter_value_t *v, char *buf, size_t cap) {
  const sinter_node_t *dq = v ? v->producer : NULL;
  if (!dq || dq->op != SINTER_OP_DEQUANTIZE_LINEAR) return NULL;
  const sinter_node_t *q = dq->inputs[0]->producer;
  if (!q || q->op != SINTER_OP_QUANTIZE_LINEAR) return NULL;
  size_t len = strlen(q->name), sl = strlen("_QuantizeLinear");
  if (len <= sl) return NULL;
  snprintf(buf, cap, "%.*s", (int)(len - sl), q->name);
  return buf;
}

/* The quantized tensor downstream of y: y's own Q, or that of a Relu/Clip reading y. */
static const char *output_source(const sinter_value_t *y, char *buf, size_t cap) {
  for (int depth = 0; depth < 2 && y; depth++) {
    const sinter_value_t *next = NULL;
    for (int32_t i = 0; i < y->n_uses; i++) {
      const sinter_node_t *u = y->uses[i].node;
      if (u->op == SINTER_OP_QUANTIZE_LINEAR) {
        size_t len = strlen(u->name), sl = strlen("_QuantizeLinear");
        if (len <= sl) return NULL;
        snprintf(buf, cap, "%.*s", (int)(len - sl), u->name);
        return buf;
      }
      if (u->op == SINTER_OP_RELU || u->op == SINTER_OP_CLIP) next = u->outputs[0];
    }
    y = next;
  }
  return NULL;
}

/* Picks the quantized node whose output loses most SQNR relative to its quantized inputs,
 * among those not yet kept in float (a kept node's output may still be quantized for its
 * consumers, so it can look lossy again). */
static const sinter_node_t *worst_node(const sinter_graph_t *cand, const eval_t *e,
                                       char *const *kept, int32_t n_kept, double *out_drop) {
  const sinter_node_t *best = NULL;
  double best_drop = -INFINITY;
  char buf[512];
  for (const sinter_node_t *n = cand->first; n; n = n->next) {
    if (n->op == SINTER_OP_QUANTIZE_LINEAR || n->op == SINTER_OP_DEQUANTIZE_LINEAR) continue;
    bool already = false;
    for (int32_t k = 0; k < n_kept && !already; k++) already = !strcmp(kept[k], n->name);
    if (already) continue;
    double in_db = INFINITY;
    bool any = false;
    for (int32_t i = 0; i < n->n_inputs; i++) {
      const char *src = qdq_source(n->inputs[i], buf, sizeof(buf));
      if (!src) continue;
      any = true;
      double s = layer_sqnr(e, src);
      if (!isnan(s) && s < in_db) in_db = s;
    }
    if (!any || n->n_outputs < 1) continue;
    const char *out = output_source(n->outputs[0], buf, sizeof(buf));
    double out_db = out ? layer_sqnr(e, out) : NAN;
    if (isnan(out_db)) continue;
    double drop = (isinf(in_db) ? 100.0 : in_db) - out_db;
    if (drop > best_drop) {
      best_drop = drop;
      best = n;
    }
  }
  *out_drop = best_drop;
  return best;
}

/* ---- main ------------------------------------------------------------------- */

int cmd_quantize(int argc, char **argv) {
  const char *model = NULL, *calib = NULL, *scheme = "int8", *method = "percentile",
             *keep = NULL, *cache = NULL, *out = NULL;
  double min_sqnr = NAN;
  int64_t max_samples = 0;
  bool calib_only = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (tool_is_help(a)) {
      usage(stdout);
      return EXIT_OK;
    }
#define TAKE(flag, var)                                               \
  if (!strcmp(a, flag)) {                                             \
    if (!next) {                                                      \
      fprintf(stderr, "sinter quantize: %s needs a value\n", flag);   \
      return EXIT_USAGE;                                              \
    }                                                                 \
    var = next;                                                       \
    i++;                                                              \
    continue;                                                         \
  }
    if (!strcmp(a, "--calib-only")) {
      calib_only = true;
      continue;
    }
    TAKE("--calib", calib)
    TAKE("--scheme", scheme)
    TAKE("--method", method)
    TAKE("--keep", keep)
    TAKE("--calib-cache", cache)
    TAKE("-o", out)
#undef TAKE
    if (!strcmp(a, "--min-sqnr") || !strcmp(a, "--max-samples")) {
      char *end;
      double v = next ? strtod(next, &end) : NAN;
      if (!next || *end || !isfinite(v)) {
        fprintf(stderr, "sinter quantize: %s needs a number\n", a);
        return EXIT_USAGE;
      }
      if (a[2] == 'm' && a[3] == 'i') min_sqnr = v;
      else max_samples = (int64_t)v;
      i++;
      continue;
    }
    if (a[0] == '-' || model) {
      fprintf(stderr, "sinter quantize: unexpected argument '%s'\n\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
    model = a;
  }
  bool low = !strcmp(scheme, "fp16") || !strcmp(scheme, "bf16");
  if (calib_only && (!calib || !cache)) {
    fprintf(stderr, "sinter quantize: --calib-only needs --calib and --calib-cache\n");
    return EXIT_USAGE;
  }
  if (!model || (!out && !calib_only) || (!low && !calib && !cache)) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!low && strcmp(scheme, "int8") && strcmp(scheme, "int8-per-tensor") &&
      strcmp(scheme, "uint8")) {
    fprintf(stderr, "sinter quantize: unknown scheme '%s'\n", scheme);
    return EXIT_USAGE;
  }
  sinter_qdq_config_t cfg;
  memset(&cfg, 0, sizeof(cfg));
  sinter_status_t st = sinter_calib_method_from_name(method, &cfg.ranges.opts.method);
  if (st) {
    sinter_status_free(st);
    fprintf(stderr, "sinter quantize: unknown method '%s'\n", method);
    return EXIT_USAGE;
  }
  sinter_pass_registry_t *reg = NULL;
  if ((st = sinter_pass_registry_create(&reg))) return tool_fail(st);
  sinter_graph_t *ref = NULL, *cand = NULL;
  sinter_calib_stats_t *stats = NULL;
  sinter_calib_samples_t *set = NULL;
  char **kept = NULL;
  int32_t n_kept = 0;
  eval_t e;
  memset(&e, 0, sizeof(e));
  int rc = EXIT_OK;
  if (low) {
    char extra[700];
    snprintf(extra, sizeof(extra), "convert-precision{to=%s%s%s}", scheme, keep ? ",keep=" : "",
             keep ? keep : "");
    st = prepare(reg, model, extra, &cand);
    if (!st) st = write_model(cand, out);
    goto done;
  }
  cfg.act_dtype = !strcmp(scheme, "uint8") ? SINTER_DTYPE_U8 : SINTER_DTYPE_I8;
  cfg.per_channel = strcmp(scheme, "int8-per-tensor") != 0;
  cfg.w_symmetric = true;
  cfg.a_symmetric = false;
  cfg.ops = SINTER_QDQ_DEFAULT_OPS;
  cfg.keep_regex = keep;
  if ((st = prepare(reg, model, NULL, &ref))) goto done;
  double t0 = now_s();
  bool from_cache = false;
  if ((st = sinter_qdq_calibrate(ref, calib, cache, max_samples, &stats, &from_cache))) goto done;
  fprintf(stderr, "calibration: %s, %llu samples, %.2f s\n",
          from_cache ? "read from cache" : "collected",
          (unsigned long long)sinter_calib_stats_num_samples(stats), now_s() - t0);
  /* Calibration alone: the statistics are in the cache file now. */
  if (calib_only) goto done;
  cfg.ranges.stats = stats;
  int64_t n_eval = 0;
  if (!isnan(min_sqnr)) {
    if (!calib) {
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "--min-sqnr needs --calib to measure on");
      goto done;
    }
    if ((st = sinter_calib_samples_open(ref, calib, &set))) goto done;
    n_eval = sinter_calib_samples_count(set);
    if (n_eval > 32) n_eval = 32;
  }
  for (;;) {
    sinter_graph_destroy(cand);
    cand = NULL;
    if ((st = prepare(reg, model, NULL, &cand))) goto done;
    cfg.keep_names = (const char *const *)kept;
    cfg.n_keep_names = n_kept;
    sinter_pass_counters_t counters = {0};
    if ((st = sinter_qdq_insert(cand, &cfg, &counters))) goto done;
    if ((st = sinter_graph_verify(cand))) goto done;
    if (isnan(min_sqnr)) break;
    for (int32_t i = 0; i < e.n_layers; i++) free(e.layers[i].name);
    e.n_layers = 0;
    double db;
    if ((st = evaluate(ref, cand, set, n_eval, &e, &db))) goto done;
    fprintf(stderr, "accuracy guard: output SQNR %.2f dB on %lld samples (target %.2f dB)\n", db,
            (long long)n_eval, min_sqnr);
    if (db >= min_sqnr) break;
    double drop;
    const sinter_node_t *w = worst_node(cand, &e, kept, n_kept, &drop);
    if (n_kept >= 16) {
      fprintf(stderr, "accuracy guard: 16 layers kept in float; target not reached\n");
      rc = EXIT_MODEL;
      break;
    }
    if (!w || !w->name || !*w->name) {
      fprintf(stderr, "accuracy guard: no quantized layer left to keep; target not reached\n");
      rc = EXIT_MODEL;
      break;
    }
    char **nk = realloc(kept, (size_t)(n_kept + 1) * sizeof(*nk));
    if (!nk || !(nk[n_kept] = strdup(w->name))) {
      kept = nk ? nk : kept;
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      goto done;
    }
    kept = nk;
    n_kept++;
    fprintf(stderr, "accuracy guard: keeping '%s' (%s) in float (it loses %.2f dB)\n", w->name,
            sinter_op_info(w->op)->name, drop);
  }
  if (!isnan(min_sqnr)) {
    printf("kept in float (%d):", n_kept);
    for (int32_t i = 0; i < n_kept; i++) printf(" %s", kept[i]);
    printf("\n");
  }
  st = write_model(cand, out);
done:
  if (st) rc = tool_fail(st);
  for (int32_t i = 0; i < e.n_layers; i++) free(e.layers[i].name);
  free(e.layers);
  for (int32_t i = 0; i < n_kept; i++) free(kept[i]);
  free(kept);
  sinter_calib_samples_close(set);
  sinter_calib_stats_destroy(stats);
  sinter_graph_destroy(ref);
  sinter_graph_destroy(cand);
  sinter_pass_registry_destroy(reg);
  return rc;
}
