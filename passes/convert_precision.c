/* convert-precision: runs a graph's float computations in f16 or bf16. f32 weights are stored in
 * the target dtype, nodes kept in f32 (by name regex, op type, or because their kernel lacks the
 * low-precision form) get Casts at every boundary, and graph inputs and outputs stay f32. */
#include <regex.h>

#include "passes/pass_internal.h"

/* Ops whose kernels take f16/bf16 inputs and compute in f32, rounding on store. Anything else
 * that touches f32 values stays in f32. */
static const sinter_op_t convertible_ops[] = {
    SINTER_OP_CONV, SINTER_OP_CONV_TRANSPOSE, SINTER_OP_MAX_POOL, SINTER_OP_AVERAGE_POOL,
    SINTER_OP_GLOBAL_AVERAGE_POOL, SINTER_OP_GLOBAL_MAX_POOL, SINTER_OP_BATCH_NORMALIZATION,
    SINTER_OP_LAYER_NORMALIZATION, SINTER_OP_INSTANCE_NORMALIZATION,
    SINTER_OP_GROUP_NORMALIZATION, SINTER_OP_RELU, SINTER_OP_LEAKY_RELU, SINTER_OP_ELU,
    SINTER_OP_SELU, SINTER_OP_CELU, SINTER_OP_SIGMOID, SINTER_OP_HARD_SIGMOID,
    SINTER_OP_HARD_SWISH, SINTER_OP_TANH, SINTER_OP_SOFTPLUS, SINTER_OP_SOFTSIGN, SINTER_OP_GELU,
    SINTER_OP_MISH, SINTER_OP_ERF, SINTER_OP_EXP, SINTER_OP_LOG, SINTER_OP_SQRT,
    SINTER_OP_RECIPROCAL, SINTER_OP_NEG, SINTER_OP_ABS, SINTER_OP_FLOOR, SINTER_OP_CEIL,
    SINTER_OP_ROUND, SINTER_OP_SIGN, SINTER_OP_SIN, SINTER_OP_COS, SINTER_OP_CLIP, SINTER_OP_ADD,
    SINTER_OP_SUB, SINTER_OP_MUL, SINTER_OP_DIV, SINTER_OP_POW, SINTER_OP_PRELU, SINTER_OP_MAX,
    SINTER_OP_MIN, SINTER_OP_MEAN, SINTER_OP_SUM, SINTER_OP_EQUAL, SINTER_OP_LESS,
    SINTER_OP_GREATER, SINTER_OP_LESS_OR_EQUAL, SINTER_OP_GREATER_OR_EQUAL, SINTER_OP_WHERE,
    SINTER_OP_MATMUL, SINTER_OP_GEMM, SINTER_OP_SOFTMAX, SINTER_OP_LOG_SOFTMAX,
    SINTER_OP_REDUCE_MEAN, SINTER_OP_REDUCE_SUM, SINTER_OP_REDUCE_MAX, SINTER_OP_REDUCE_MIN,
    SINTER_OP_REDUCE_PROD, SINTER_OP_REDUCE_L1, SINTER_OP_REDUCE_L2,
    SINTER_OP_REDUCE_SUM_SQUARE, SINTER_OP_REDUCE_LOG_SUM, SINTER_OP_REDUCE_LOG_SUM_EXP,
    SINTER_OP_ARG_MAX, SINTER_OP_ARG_MIN, SINTER_OP_TOPK, SINTER_OP_CUMSUM, SINTER_OP_RESHAPE,
    SINTER_OP_FLATTEN, SINTER_OP_TRANSPOSE, SINTER_OP_SQUEEZE, SINTER_OP_UNSQUEEZE,
    SINTER_OP_CONCAT, SINTER_OP_SPLIT, SINTER_OP_SLICE, SINTER_OP_GATHER,
    SINTER_OP_GATHER_ELEMENTS, SINTER_OP_EXPAND, SINTER_OP_TILE, SINTER_OP_PAD,
    SINTER_OP_IDENTITY, SINTER_OP_RESIZE, SINTER_OP_DEPTH_TO_SPACE, SINTER_OP_SPACE_TO_DEPTH,
    SINTER_OP_TRILU, SINTER_OP_FUSED_CONV, SINTER_OP_FUSED_GEMM, SINTER_OP_FUSED_MATMUL,
    SINTER_OP_SILU, SINTER_OP_RMS_NORMALIZATION, SINTER_OP_ATTENTION,
    SINTER_OP_FUSED_ELEMENTWISE,
};

static bool convertible(sinter_op_t op) {
  for (size_t i = 0; i < sizeof(convertible_ops) / sizeof(convertible_ops[0]); i++)
    if (convertible_ops[i] == op) return true;
  return false;
}

/* Inputs that ONNX fixes to f32 whatever the data's type (Resize's roi and scales). */
static bool input_stays_f32(sinter_op_t op, int32_t slot) {
  return op == SINTER_OP_RESIZE && (slot == 1 || slot == 2);
}

typedef struct conv_s {
  sinter_graph_t *g;
  sinter_dtype_t to;
  const char *suffix;          /* "fp16" or "bf16", for new names */
  uint32_t n_ids;              /* values with id < n_ids existed before the pass */
  sinter_value_t **low;        /* by id: the target-dtype version of an f32 value */
  sinter_value_t **high;       /* by id: the f32 version of a value the pass lowered */
  bool *lowered;               /* by id: a node output whose dtype the pass changed to `to` */
  const char *keep_ops;
  bool has_regex;
  regex_t re;
  sinter_pass_counters_t *counters;
} conv_t;

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

static bool is_lowered(const conv_t *c, const sinter_value_t *v) {
  return v->id < c->n_ids && c->lowered[v->id];
}

/* Inserts Cast(v, to) before `before`, naming its output after v. */
static sinter_status_t add_cast(conv_t *c, sinter_node_t *before, sinter_value_t *v,
                                sinter_dtype_t to, const char *suffix, sinter_value_t **out) {
  char hint[512], name[512];
  snprintf(hint, sizeof(hint), "%s_%s", *v->name ? v->name : "v", suffix);
  sinter_pat_unique_name(c->g, hint, name, sizeof(name));
  sinter_node_t *cast;
  SINTER_TRY(sinter_graph_insert_node(c->g, before, SINTER_OP_CAST, name, &v, 1, 1, &cast));
  SINTER_TRY(sinter_node_set_attr_int(cast, "to", sinter_dtype_to_onnx(to)));
  SINTER_TRY(sinter_value_set_name(cast->outputs[0], name));
  SINTER_TRY(sinter_pat_infer_node(c->g, cast));
  /* Keep the symbolic shape v had rather than what inference re-derives. */
  sinter_type_t t = v->type;
  t.dtype = to;
  sinter_value_set_type(cast->outputs[0], &t);
  c->counters->rewritten++;
  *out = cast->outputs[0];
  return NULL;
}

/* A target-dtype copy of an f32 constant. Finite values beyond f16's range saturate to
 * +-65504 (exporters write -FLT_MAX as a mask fill; as inf it would make 0 * mask NaN). */
static sinter_status_t lower_const(conv_t *c, sinter_value_t *v, sinter_value_t **out) {
  int64_t n;
  if (!sinter_type_numel(&v->type, &n) || (size_t)n * sizeof(float) != v->nbytes)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "constant '%s': size does not match its type",
                        v->name);
  uint16_t *buf = malloc(n ? (size_t)n * sizeof(uint16_t) : 1);
  if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    float f;
    memcpy(&f, (const char *)v->data + (size_t)i * sizeof(float), sizeof(f));
    if (c->to == SINTER_DTYPE_F16) {
      if (isfinite(f) && f > 65504.0f) f = 65504.0f;
      if (isfinite(f) && f < -65504.0f) f = -65504.0f;
      buf[i] = sinter_f32_to_f16(f);
    } else {
      buf[i] = sinter_f32_to_bf16(f);
    }
  }
  char hint[512], name[512];
  snprintf(hint, sizeof(hint), "%s_%s", *v->name ? v->name : "c", c->suffix);
  sinter_pat_unique_name(c->g, hint, name, sizeof(name));
  sinter_type_t t = v->type;
  t.dtype = c->to;
  sinter_status_t st = sinter_graph_add_const(c->g, name, &t, buf, (size_t)n * sizeof(uint16_t),
                                              out);
  free(buf);
  return st;
}

/* The target-dtype version of f32 value v, for a converted node `user`. */
static sinter_status_t get_low(conv_t *c, sinter_node_t *user, sinter_value_t *v,
                               sinter_value_t **out) {
  if (is_lowered(c, v)) {
    *out = v;
    return NULL;
  }
  if (v->id < c->n_ids && c->low[v->id]) {
    *out = c->low[v->id];
    return NULL;
  }
  sinter_value_t *l;
  if (v->kind == SINTER_VALUE_CONST)
    SINTER_TRY(lower_const(c, v, &l));
  else
    SINTER_TRY(add_cast(c, user, v, c->to, c->suffix, &l));
  if (v->id < c->n_ids) c->low[v->id] = l;
  *out = l;
  return NULL;
}

/* The f32 version of lowered value v, for a kept node `user` (NULL: at the end). */
static sinter_status_t get_high(conv_t *c, sinter_node_t *user, sinter_value_t *v,
                                sinter_value_t **out) {
  if (!c->high[v->id]) SINTER_TRY(add_cast(c, user, v, SINTER_DTYPE_F32, "f32", &c->high[v->id]));
  *out = c->high[v->id];
  return NULL;
}

static bool kept_by_user(const conv_t *c, const sinter_node_t *n) {
  if (op_listed(c->keep_ops, sinter_op_info(n->op)->name)) return true;
  return c->has_regex && regexec(&c->re, n->name, 0, NULL, 0) == 0;
}

/* Whether input slot i of n takes part in the conversion: an f32 (or lowered) float input. */
static bool float_input(const conv_t *c, const sinter_node_t *n, int32_t i) {
  const sinter_value_t *v = n->inputs[i];
  if (!v || input_stays_f32(n->op, i)) return false;
  return v->type.dtype == SINTER_DTYPE_F32 || is_lowered(c, v);
}

/* Tries to run n in the target dtype: infers its outputs with the lowered input types first,
 * and leaves n alone (returning false) when inference refuses them. */
static sinter_status_t try_convert(conv_t *c, sinter_node_t *n, bool *out_done) {
  *out_done = false;
  bool any = false;
  for (int32_t i = 0; i < n->n_inputs; i++) any |= float_input(c, n, i);
  for (int32_t i = 0; i < n->n_outputs; i++) any |= n->outputs[i]->type.dtype == SINTER_DTYPE_F32;
  if (!any) {
    *out_done = true; /* no f32 in or out (an integer or shape path): nothing to do */
    return NULL;
  }
  sinter_infer_frame_t frame;
  if (!sinter_infer_frame_init(&frame, c->g, n)) return NULL;
  sinter_type_t low_types[SINTER_INFER_MAX_IO];
  for (int32_t i = 0; i < n->n_inputs; i++) {
    if (!float_input(c, n, i)) continue;
    low_types[i] = n->inputs[i]->type;
    low_types[i].dtype = c->to;
    frame.in[i] = &low_types[i];
    frame.data[i] = NULL;
    frame.nbytes[i] = 0;
  }
  if (sinter_infer_node(&frame.ctx)) return NULL; /* the op has no low-precision form: keep */
  for (int32_t i = 0; i < n->n_inputs; i++) {
    if (!float_input(c, n, i)) continue;
    sinter_value_t *l;
    SINTER_TRY(get_low(c, n, n->inputs[i], &l));
    if (l != n->inputs[i]) SINTER_TRY(sinter_node_set_input(n, i, l));
  }
  for (int32_t i = 0; i < n->n_outputs; i++) {
    sinter_value_t *o = n->outputs[i];
    if (o->type.dtype != SINTER_DTYPE_F32 || frame.out[i].dtype != c->to) continue;
    sinter_type_t t = o->type;
    t.dtype = c->to;
    sinter_value_set_type(o, &t);
    c->lowered[o->id] = true;
  }
  c->counters->rewritten++;
  *out_done = true;
  return NULL;
}

static sinter_status_t keep_node(conv_t *c, sinter_node_t *n) {
  for (int32_t i = 0; i < n->n_inputs; i++) {
    sinter_value_t *v = n->inputs[i];
    if (!v || !is_lowered(c, v)) continue;
    sinter_value_t *h;
    SINTER_TRY(get_high(c, n, v, &h));
    SINTER_TRY(sinter_node_set_input(n, i, h));
  }
  return NULL;
}

static sinter_status_t visit(conv_t *c, sinter_node_t *n) {
  if (n->op == SINTER_OP_SHAPE || n->op == SINTER_OP_SIZE) return NULL; /* any dtype */
  if (n->op == SINTER_OP_CAST && n->n_inputs == 1 && n->inputs[0]) {
    sinter_value_t *x = n->inputs[0], *y = n->outputs[0];
    bool x_float = sinter_dtype_is_float(x->type.dtype);
    /* float -> int/bool reads any float: no Cast back to f32 needed. */
    if (x_float && !sinter_dtype_is_float(y->type.dtype)) return NULL;
    /* int/bool -> f32 makes a float: make it in the target dtype instead. */
    if (!x_float && x->type.dtype != SINTER_DTYPE_UNDEFINED &&
        y->type.dtype == SINTER_DTYPE_F32 && !kept_by_user(c, n)) {
      SINTER_TRY(sinter_node_set_attr_int(n, "to", sinter_dtype_to_onnx(c->to)));
      sinter_type_t t = y->type;
      t.dtype = c->to;
      sinter_value_set_type(y, &t);
      c->lowered[y->id] = true;
      c->counters->rewritten++;
      return NULL;
    }
    return keep_node(c, n);
  }
  if (convertible(n->op) && !kept_by_user(c, n)) {
    bool done;
    SINTER_TRY(try_convert(c, n, &done));
    if (done) return NULL;
  }
  return keep_node(c, n);
}

/* Graph outputs that the pass lowered get a Cast back to f32 that takes over the output's name. */
static sinter_status_t fix_outputs(conv_t *c) {
  for (int32_t i = 0; i < c->g->n_outputs; i++) {
    sinter_value_t *v = c->g->outputs[i];
    if (!is_lowered(c, v)) continue;
    sinter_value_t *h;
    SINTER_TRY(get_high(c, NULL, v, &h));
    if (strcmp(h->name, v->name) != 0 && *v->name) {
      char name[512], hint[512];
      snprintf(hint, sizeof(hint), "%s_%s", v->name, c->suffix);
      sinter_pat_unique_name(c->g, hint, name, sizeof(name));
      char *orig = strdup(v->name);
      if (!orig) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      sinter_status_t st = sinter_value_set_name(v, name);
      if (!st) st = sinter_value_set_name(h, orig);
      if (!st) st = sinter_node_set_name(h->producer, orig);
      free(orig);
      SINTER_TRY(st);
    }
    SINTER_TRY(sinter_graph_set_output(c->g, i, h));
  }
  return NULL;
}

/* Drops f32 constants nobody reads any more; their lowered copies take over the names. */
static sinter_status_t tidy_consts(conv_t *c) {
  for (uint32_t id = 0; id < c->n_ids; id++) {
    sinter_value_t *v = c->low[id];
    if (!v || v->kind != SINTER_VALUE_CONST) continue;
    /* Find the original by walking the constants: ids are unique. */
    for (sinter_value_t *o = c->g->first_const; o; o = o->next_const) {
      if (o->id != id) continue;
      if (o->n_uses || o->n_output_refs) break;
      char *orig = strdup(o->name);
      if (!orig) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      sinter_status_t st = sinter_graph_remove_value(c->g, o);
      if (!st && *orig) st = sinter_value_set_name(v, orig);
      free(orig);
      SINTER_TRY(st);
      break;
    }
  }
  return NULL;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  (void)user;
  conv_t c = {0};
  c.g = graph;
  c.counters = counters;
  bool bf16 = sinter_pass_args_has(args, "to", "bf16");
  c.to = bf16 ? SINTER_DTYPE_BF16 : SINTER_DTYPE_F16;
  c.suffix = bf16 ? "bf16" : "fp16";
  c.keep_ops = sinter_pass_args_string(args, "keep-ops");
  const char *keep = sinter_pass_args_string(args, "keep");
  if (keep && *keep) {
    int rc = regcomp(&c.re, keep, REG_EXTENDED | REG_NOSUB);
    if (rc) {
      char msg[256];
      regerror(rc, &c.re, msg, sizeof(msg));
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "convert-precision: keep regex '%s': %s", keep,
                          msg);
    }
    c.has_regex = true;
  }
  c.n_ids = graph->next_value_id;
  c.low = calloc(c.n_ids ? c.n_ids : 1, sizeof(*c.low));
  c.high = calloc(c.n_ids ? c.n_ids : 1, sizeof(*c.high));
  c.lowered = calloc(c.n_ids ? c.n_ids : 1, sizeof(*c.lowered));
  sinter_status_t st = NULL;
  if (!c.low || !c.high || !c.lowered)
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  /* Casts are inserted before the node being visited, so walking on from it never sees them. */
  sinter_node_t *last = graph->last;
  for (sinter_node_t *n = graph->first, *next; !st && n; n = next) {
    next = n->next;
    st = visit(&c, n);
    if (n == last) break;
  }
  if (!st) st = fix_outputs(&c);
  if (!st) st = tidy_consts(&c);
  if (c.has_regex) regfree(&c.re);
  free(c.low);
  free(c.high);
  free(c.lowered);
  return st;
}

static const sinter_pass_option_t options[] = {
    {"to", SINTER_PASS_OPT_CHOICE, "fp16", "fp16|bf16", "the dtype float computations run in"},
    {"keep", SINTER_PASS_OPT_STRING, "",
     NULL, "POSIX extended regex on node names; matching nodes stay f32 (empty: none)"},
    {"keep-ops", SINTER_PASS_OPT_STRING,
     "Softmax|LogSoftmax|LayerNormalization|RMSNormalization|GroupNormalization|"
     "InstanceNormalization|ReduceMean|ReduceSum|ReduceSumSquare|ReduceProd|ReduceL2|"
     "ReduceLogSum|ReduceLogSumExp|CumSum|Exp|Log|Pow|Sqrt|Reciprocal|Range",
     NULL, "'|'-separated op types kept in f32 (see docs/precision.md)"},
};

const sinter_pass_info_t sinter_pass_convert_precision = {
    "convert-precision",
    "run float computations in f16 or bf16 with f32 weights converted and Casts at the boundaries",
    options, 3, run, NULL,
};
