/* Helpers shared by fold-batchnorm, fuse-conv-act and fuse-gemm-act: the
 * activation matcher, epilogue attributes and their expansion into standard
 * ONNX ops, and float constants of any dtype. */
#include "passes/fuse_act_util.h"

#include <stdio.h>

bool sinter_fa_dtype_ok(sinter_dtype_t dtype) {
  return dtype == SINTER_DTYPE_F32 || dtype == SINTER_DTYPE_F16 || dtype == SINTER_DTYPE_BF16;
}

/* The `acts` choice that selects kind. */
static const char *act_option(sinter_fused_act_kind_t kind) {
  switch (kind) {
    case SINTER_FUSED_ACT_RELU: return "relu";
    case SINTER_FUSED_ACT_CLIP: return "clip";
    case SINTER_FUSED_ACT_LEAKY_RELU: return "leaky-relu";
    case SINTER_FUSED_ACT_SIGMOID: return "sigmoid";
    case SINTER_FUSED_ACT_HARD_SIGMOID: return "hard-sigmoid";
    case SINTER_FUSED_ACT_HARD_SWISH: return "hard-swish";
    case SINTER_FUSED_ACT_GELU: return "gelu";
    case SINTER_FUSED_ACT_SILU: return "silu";
    case SINTER_FUSED_ACT_TANH: return "tanh";
    default: return NULL;
  }
}

/* A Clip bound: omitted, or a constant float scalar (numel 1). */
static bool clip_bound(const sinter_node_t *clip, int32_t index, float dflt, float *out) {
  const sinter_value_t *b = index < clip->n_inputs ? clip->inputs[index] : NULL;
  if (!b) {
    *out = dflt;
    return true;
  }
  int64_t n;
  if (!sinter_pat_is_const(b) || !sinter_dtype_is_float(b->type.dtype) ||
      !sinter_type_numel(&b->type, &n) || n != 1)
    return false;
  *out = (float)sinter_load_f64(b->data, b->type.dtype, 0);
  return true;
}

/* SiLU as the exporters write it: v feeds a Sigmoid and a Mul, and the Mul
 * multiplies v by that Sigmoid (in either order). */
static bool match_silu_mul(const sinter_value_t *v, sinter_fa_match_t *out) {
  if (v->n_uses != 2) return false;
  for (int32_t k = 0; k < 2; k++) {
    sinter_node_t *sig = v->uses[k].node, *mul = v->uses[1 - k].node;
    if (sig->op != SINTER_OP_SIGMOID || mul->op != SINTER_OP_MUL || sig == mul) continue;
    if (sig->n_outputs != 1 || mul->n_outputs != 1 || mul->n_inputs != 2) continue;
    sinter_value_t *s = sig->outputs[0];
    if (!sinter_pat_single_use(s) || s->uses[0].node != mul) continue;
    int32_t vs = v->uses[1 - k].slot;
    if (mul->inputs[1 - vs] != s) continue;
    out->act.kind = SINTER_FUSED_ACT_SILU;
    out->last = mul;
    return true;
  }
  return false;
}

bool sinter_fa_match(const sinter_value_t *v, const sinter_pass_args_t *args,
                     sinter_fa_match_t *out) {
  memset(out, 0, sizeof(*out));
  if (!v || v->n_output_refs || !sinter_fa_dtype_ok(v->type.dtype)) return false;
  sinter_fused_act_t *a = &out->act;
  if (v->n_uses == 2) {
    if (!match_silu_mul(v, out)) return false;
  } else if (v->n_uses == 1 && v->uses[0].slot == 0 && v->uses[0].node->n_outputs == 1) {
    sinter_node_t *u = v->uses[0].node;
    out->last = u;
    switch (u->op) {
      case SINTER_OP_RELU: a->kind = SINTER_FUSED_ACT_RELU; break;
      case SINTER_OP_SIGMOID: a->kind = SINTER_FUSED_ACT_SIGMOID; break;
      case SINTER_OP_HARD_SWISH: a->kind = SINTER_FUSED_ACT_HARD_SWISH; break;
      case SINTER_OP_TANH: a->kind = SINTER_FUSED_ACT_TANH; break;
      case SINTER_OP_SILU: a->kind = SINTER_FUSED_ACT_SILU; break;
      case SINTER_OP_LEAKY_RELU:
        a->kind = SINTER_FUSED_ACT_LEAKY_RELU;
        a->p[0] = sinter_node_attr_float(u, "alpha", 0.01f);
        break;
      case SINTER_OP_HARD_SIGMOID:
        a->kind = SINTER_FUSED_ACT_HARD_SIGMOID;
        a->p[0] = sinter_node_attr_float(u, "alpha", 0.2f);
        a->p[1] = sinter_node_attr_float(u, "beta", 0.5f);
        break;
      case SINTER_OP_GELU: {
        const char *ap = sinter_node_attr_string(u, "approximate", "none");
        if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0) return false;
        a->kind = SINTER_FUSED_ACT_GELU;
        a->gelu_tanh = strcmp(ap, "tanh") == 0;
        break;
      }
      case SINTER_OP_CLIP:
        /* Bounds computed at run time cannot become attributes. */
        if (!clip_bound(u, 1, -INFINITY, &a->p[0]) || !clip_bound(u, 2, INFINITY, &a->p[1]))
          return false;
        a->kind = SINTER_FUSED_ACT_CLIP;
        break;
      default: return false;
    }
  } else {
    return false;
  }
  if (out->last->outputs[0]->type.dtype != v->type.dtype) return false;
  return !args || sinter_pass_args_has(args, "acts", act_option(a->kind));
}

static bool is_epilogue_attr(const char *name) {
  return strcmp(name, "activation") == 0 || strcmp(name, "activation_params") == 0 ||
         strcmp(name, "approximate") == 0;
}

sinter_status_t sinter_fa_copy_attrs(sinter_node_t *dst, const sinter_node_t *src,
                                     bool skip_epilogue) {
  for (int32_t i = 0; i < src->n_attrs; i++) {
    if (skip_epilogue && is_epilogue_attr(src->attrs[i].name)) continue;
    SINTER_TRY(sinter_node_set_attr(dst, &src->attrs[i]));
  }
  return NULL;
}

sinter_status_t sinter_fa_set_attrs(sinter_node_t *node, const sinter_fused_act_t *act) {
  if (act->kind == SINTER_FUSED_ACT_NONE) return NULL;
  const char *name = sinter_fused_act_name(act->kind);
  SINTER_TRY(sinter_node_set_attr_string(node, "activation", name, strlen(name)));
  int32_t np = sinter_fused_act_num_params(act->kind);
  if (np > 0) SINTER_TRY(sinter_node_set_attr_floats(node, "activation_params", act->p, np));
  if (act->kind == SINTER_FUSED_ACT_GELU && act->gelu_tanh)
    SINTER_TRY(sinter_node_set_attr_string(node, "approximate", "tanh", 4));
  return NULL;
}

sinter_status_t sinter_fa_add_const(sinter_graph_t *graph, const char *hint, sinter_dtype_t dtype,
                                    int32_t rank, const int64_t *dims, const double *vals,
                                    sinter_value_t **out_value) {
  sinter_type_t t;
  sinter_type_set_static(&t, dtype, rank, dims);
  int64_t n;
  size_t bytes;
  if (!sinter_dtype_is_float(dtype) || !sinter_type_numel(&t, &n) ||
      !sinter_dtype_storage_size(dtype, n, &bytes))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "bad constant type");
  void *data = malloc(bytes ? bytes : 1);
  if (!data) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; i++) sinter_store_f64(data, dtype, i, vals[i]);
  char name[512];
  sinter_pat_unique_name(graph, hint, name, sizeof(name));
  sinter_status_t st = sinter_graph_add_const(graph, name, &t, data, bytes, out_value);
  free(data);
  return st;
}

double *sinter_fa_const_f64(const sinter_value_t *v, int64_t *out_count) {
  int64_t n;
  if (!sinter_pat_is_const(v) || !sinter_type_numel(&v->type, &n)) return NULL;
  double *r = malloc(sizeof(double) * (size_t)(n ? n : 1));
  if (!r) return NULL;
  for (int64_t i = 0; i < n; i++) r[i] = sinter_load_f64(v->data, v->type.dtype, i);
  *out_count = n;
  return r;
}

sinter_status_t sinter_fa_insert(sinter_graph_t *graph, sinter_node_t *before, sinter_op_t op,
                                 const sinter_node_t *like, const sinter_fused_act_t *act,
                                 sinter_value_t *const *inputs, int32_t n_inputs,
                                 sinter_node_t **out_node) {
  sinter_node_t *n;
  SINTER_TRY(sinter_graph_insert_node(graph, before, op, like->name, inputs, n_inputs, 1, &n));
  SINTER_TRY(sinter_fa_copy_attrs(n, like, true));
  if (act) SINTER_TRY(sinter_fa_set_attrs(n, act));
  SINTER_TRY(sinter_pat_infer_node(graph, n));
  *out_node = n;
  return NULL;
}

/* Inserts op(inputs) before `before`, named "<name>/<Op>", infers its type and
 * returns its output. */
static sinter_status_t emit(sinter_graph_t *g, sinter_node_t *before, sinter_op_t op,
                            const char *name, sinter_value_t *const *ins, int32_t n,
                            sinter_node_t **out_node, sinter_value_t **out) {
  char nm[512];
  snprintf(nm, sizeof(nm), "%s/%s", name, sinter_op_info(op)->name);
  sinter_node_t *node;
  SINTER_TRY(sinter_graph_insert_node(g, before, op, nm, ins, n, 1, &node));
  if (out_node) *out_node = node;
  *out = node->outputs[0];
  /* Typed at once: the next op's scalar constants take this output's dtype.
   * Attributes set afterwards (alpha, beta) do not change the type. */
  return sinter_pat_infer_node(g, node);
}

/* A scalar constant of dtype named "<name>/<what>". */
static sinter_status_t scalar(sinter_graph_t *g, const char *name, const char *what,
                              sinter_dtype_t dtype, double v, sinter_value_t **out) {
  char hint[512];
  snprintf(hint, sizeof(hint), "%s/%s", name, what);
  return sinter_fa_add_const(g, hint, dtype, 0, NULL, &v, out);
}

/* Emits a binary op of x and a scalar constant c (x first unless c_first). */
static sinter_status_t emit_scalar_op(sinter_graph_t *g, sinter_node_t *before, sinter_op_t op,
                                      const char *name, const char *what, sinter_value_t *x,
                                      double c, bool c_first, sinter_value_t **out) {
  sinter_value_t *k;
  SINTER_TRY(scalar(g, name, what, x->type.dtype, c, &k));
  sinter_value_t *ins[2] = {c_first ? k : x, c_first ? x : k};
  return emit(g, before, op, name, ins, 2, NULL, out);
}

static sinter_status_t expand_ops(sinter_graph_t *g, sinter_node_t *before,
                                  const sinter_fused_act_t *act, sinter_value_t *x,
                                  const char *name, sinter_value_t **out) {
  sinter_dtype_t dt = x->type.dtype;
  sinter_node_t *node;
  sinter_value_t *y, *t, *u;
  switch (act->kind) {
    case SINTER_FUSED_ACT_NONE: *out = x; return NULL;
    case SINTER_FUSED_ACT_RELU: return emit(g, before, SINTER_OP_RELU, name, &x, 1, NULL, out);
    case SINTER_FUSED_ACT_SIGMOID:
      return emit(g, before, SINTER_OP_SIGMOID, name, &x, 1, NULL, out);
    case SINTER_FUSED_ACT_HARD_SWISH:
      return emit(g, before, SINTER_OP_HARD_SWISH, name, &x, 1, NULL, out);
    case SINTER_FUSED_ACT_TANH: return emit(g, before, SINTER_OP_TANH, name, &x, 1, NULL, out);
    case SINTER_FUSED_ACT_LEAKY_RELU:
      SINTER_TRY(emit(g, before, SINTER_OP_LEAKY_RELU, name, &x, 1, &node, out));
      return sinter_node_set_attr_float(node, "alpha", act->p[0]);
    case SINTER_FUSED_ACT_HARD_SIGMOID:
      SINTER_TRY(emit(g, before, SINTER_OP_HARD_SIGMOID, name, &x, 1, &node, out));
      SINTER_TRY(sinter_node_set_attr_float(node, "alpha", act->p[0]));
      return sinter_node_set_attr_float(node, "beta", act->p[1]);
    case SINTER_FUSED_ACT_CLIP: {
      /* Infinite bounds are the omitted inputs. */
      sinter_value_t *ins[3] = {x, NULL, NULL};
      int32_t n = 1;
      if (!isinf(act->p[0]) || act->p[0] > 0) {
        SINTER_TRY(scalar(g, name, "min", dt, act->p[0], &ins[1]));
        n = 2;
      }
      if (!isinf(act->p[1]) || act->p[1] < 0) {
        SINTER_TRY(scalar(g, name, "max", dt, act->p[1], &ins[2]));
        n = 3;
      }
      return emit(g, before, SINTER_OP_CLIP, name, ins, n, NULL, out);
    }
    case SINTER_FUSED_ACT_SILU: {
      SINTER_TRY(emit(g, before, SINTER_OP_SIGMOID, name, &x, 1, NULL, &t));
      sinter_value_t *ins[2] = {x, t};
      return emit(g, before, SINTER_OP_MUL, name, ins, 2, NULL, out);
    }
    case SINTER_FUSED_ACT_GELU:
      if (!act->gelu_tanh) {
        /* PyTorch's export of the exact GELU, so fuse-gelu finds it again:
         * (x * (erf(x / sqrt(2)) + 1)) * 0.5. */
        SINTER_TRY(
            emit_scalar_op(g, before, SINTER_OP_DIV, name, "sqrt2", x, sqrt(2.0), false, &t));
        SINTER_TRY(emit(g, before, SINTER_OP_ERF, name, &t, 1, NULL, &u));
        SINTER_TRY(emit_scalar_op(g, before, SINTER_OP_ADD, name, "one", u, 1.0, false, &t));
        sinter_value_t *ins[2] = {x, t};
        SINTER_TRY(emit(g, before, SINTER_OP_MUL, name, ins, 2, NULL, &y));
        return emit_scalar_op(g, before, SINTER_OP_MUL, name, "half", y, 0.5, false, out);
      } else {
        /* 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))) */
        sinter_value_t *xx[2] = {x, x};
        SINTER_TRY(emit(g, before, SINTER_OP_MUL, name, xx, 2, NULL, &t));
        sinter_value_t *x3[2] = {t, x};
        SINTER_TRY(emit(g, before, SINTER_OP_MUL, name, x3, 2, NULL, &u));
        SINTER_TRY(emit_scalar_op(g, before, SINTER_OP_MUL, name, "c", u, 0.044715, false, &t));
        sinter_value_t *s[2] = {x, t};
        SINTER_TRY(emit(g, before, SINTER_OP_ADD, name, s, 2, NULL, &u));
        SINTER_TRY(
            emit_scalar_op(g, before, SINTER_OP_MUL, name, "k", u, 0.7978845608028654, false, &t));
        SINTER_TRY(emit(g, before, SINTER_OP_TANH, name, &t, 1, NULL, &u));
        SINTER_TRY(emit_scalar_op(g, before, SINTER_OP_ADD, name, "one", u, 1.0, false, &t));
        sinter_value_t *ins[2] = {x, t};
        SINTER_TRY(emit(g, before, SINTER_OP_MUL, name, ins, 2, NULL, &y));
        return emit_scalar_op(g, before, SINTER_OP_MUL, name, "half", y, 0.5, false, out);
      }
    default: return SINTER_ERROR(SINTER_INTERNAL, "unknown activation %d", act->kind);
  }
}

sinter_status_t sinter_fa_expand(sinter_graph_t *graph, sinter_node_t *before,
                                 const sinter_fused_act_t *act, sinter_value_t *x, const char *name,
                                 sinter_value_t **out) {
  if (act->kind != SINTER_FUSED_ACT_NONE && !sinter_dtype_is_float(x->type.dtype))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "activation %s on a value of dtype %s",
                        sinter_fused_act_name(act->kind), sinter_dtype_name(x->type.dtype));
  return expand_ops(graph, before, act, x, name, out);
}

sinter_status_t sinter_fa_adopt_name(sinter_graph_t *graph, sinter_value_t *v, const char *name) {
  if (!name || !*name || strcmp(v->name, name) == 0) return NULL;
  if (sinter_graph_find_value(graph, name)) return NULL;
  return sinter_value_set_name(v, name);
}

sinter_status_t sinter_fa_replace(sinter_graph_t *graph, sinter_node_t *last, sinter_value_t *v) {
  const char *name = last->outputs[0]->name; /* arena string: outlives the value */
  SINTER_TRY(sinter_pat_replace_output(graph, last, 0, v));
  if (!v->name[0]) SINTER_TRY(sinter_fa_adopt_name(graph, v, name));
  return NULL;
}
