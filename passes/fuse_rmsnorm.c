/* fuse-rmsnorm: RMSNorm as exporters write it,
 *   ms = ReduceMean(Pow(x, 2) or x*x, trailing axes, keepdims=1)
 *   std = Sqrt(ms + eps)
 *   y = x * Reciprocal(std), x * (1 / std) or x / std   [* gamma]
 * optionally wrapped in Hugging Face's Cast(x, f32) ... Cast(y, x's dtype),
 * becomes RMSNormalization(x, gamma){axis, epsilon}, an ai.sinter op; without
 * gamma a ones constant stands in. sinter_decompose_rms_normalization writes
 * it back as standard ops. */
#include "passes/fuse_match.h"

typedef struct rms_match_s {
  sinter_value_t *x, *gamma;
  sinter_node_t *last;
  int32_t first; /* first normalized dim */
  double eps;
} rms_match_t;

/* The base of sq when sq = Pow(b, 2) or Mul(b, b). */
static sinter_value_t *square_base(const sinter_node_t *sq) {
  if (sq->op == SINTER_OP_MUL && sq->n_inputs == 2 && sq->inputs[0] == sq->inputs[1])
    return sq->inputs[0];
  if (sq->op == SINTER_OP_POW) return sinter_fm_with_scalar(sq, SINTER_OP_POW, 2.0);
  return NULL;
}

/* From std, the node computing xs / std. */
static sinter_node_t *divide_by(const sinter_value_t *std, const sinter_value_t *xs) {
  sinter_node_t *u = sinter_fm_sole_user(std);
  if (!u) return NULL;
  if (u->op == SINTER_OP_DIV && u->inputs[0] == xs && u->inputs[1] == std) return u;
  bool recip = u->op == SINTER_OP_RECIPROCAL || (u->op == SINTER_OP_DIV && u->inputs[1] == std &&
                                                 sinter_fm_scalar(u->inputs[0], 1.0, NULL));
  if (!recip) return NULL;
  sinter_node_t *m = sinter_fm_sole_user(u->outputs[0]);
  return m && m->op == SINTER_OP_MUL && sinter_fm_other(m, u->outputs[0]) == xs ? m : NULL;
}

/* True when v feeds exactly the nodes a and b (any slots) and is no graph
 * output. */
static bool used_only_by(const sinter_value_t *v, const sinter_node_t *a, const sinter_node_t *b) {
  if (v->n_output_refs) return false;
  for (int32_t i = 0; i < v->n_uses; i++)
    if (v->uses[i].node != a && v->uses[i].node != b) return false;
  return true;
}

/* True when xs = x - ReduceMean(x) over the same axes as ms_node: the chain
 * is the second half of a LayerNorm, which fuse-layernorm takes whole. */
static bool centred(const sinter_value_t *xs, const sinter_node_t *ms_node) {
  sinter_node_t *sub = sinter_pat_producer(xs, SINTER_OP_SUB);
  if (!sub || sub->n_inputs != 2) return false;
  sinter_node_t *mean = sinter_pat_producer(sub->inputs[1], SINTER_OP_REDUCE_MEAN);
  return mean && mean->inputs[0] == sub->inputs[0] &&
         sinter_fm_same_axes(mean, ms_node, xs->type.rank);
}

static sinter_status_t match(sinter_graph_t *graph, sinter_node_t *ms_node, rms_match_t *m,
                             bool *out_ok) {
  *out_ok = false;
  memset(m, 0, sizeof(*m));
  sinter_node_t *sq = sinter_fm_sole_producer(ms_node->inputs[0], SINTER_OP_INVALID);
  sinter_value_t *xs = sq ? square_base(sq) : NULL;
  if (!xs || !sinter_fm_float(xs) || !sinter_fm_trailing_axes(ms_node, xs->type.rank, &m->first))
    return NULL;
  int32_t rank = xs->type.rank;
  if (centred(xs, ms_node)) return NULL;
  sinter_node_t *add = sinter_fm_sole_user(ms_node->outputs[0]);
  if (!add || add->op != SINTER_OP_ADD) return NULL;
  sinter_value_t *eps_v = sinter_fm_other(add, ms_node->outputs[0]);
  if (!eps_v || !sinter_fm_scalar_value(eps_v, &m->eps) || m->eps < 0 ||
      sinter_fm_const(eps_v)->type.rank > rank)
    return NULL;
  sinter_node_t *sqrt_node = sinter_fm_sole_user(add->outputs[0]);
  if (!sqrt_node || sqrt_node->op != SINTER_OP_SQRT) return NULL;
  sinter_node_t *nrm = divide_by(sqrt_node->outputs[0], xs);
  if (!nrm) return NULL;
  sinter_node_t *last = nrm;
  sinter_value_t *y = nrm->outputs[0], *x = xs;
  /* Hugging Face computes in f32: x.to(float32) ... y.to(input_dtype). */
  sinter_node_t *cast_in = sinter_pat_producer(xs, SINTER_OP_CAST);
  if (cast_in && xs->type.dtype == SINTER_DTYPE_F32 && sinter_fm_float(cast_in->inputs[0]) &&
      used_only_by(xs, sq, nrm)) {
    x = cast_in->inputs[0];
    sinter_node_t *cast_out = sinter_fm_sole_user(y);
    bool back = cast_out && cast_out->op == SINTER_OP_CAST &&
                sinter_node_attr_int(cast_out, "to", 0) == sinter_dtype_to_onnx(x->type.dtype);
    if (back) {
      last = cast_out;
      y = cast_out->outputs[0];
    } else if (x->type.dtype != SINTER_DTYPE_F32) {
      return NULL;
    }
  }
  sinter_node_t *u = sinter_fm_sole_user(y);
  if (u && u->op == SINTER_OP_MUL) {
    bool ok;
    SINTER_TRY(sinter_fm_norm_param(graph, sinter_fm_other(u, y), x, m->first, &ok, &m->gamma));
    if (ok) last = u;
  }
  if (!m->gamma)
    for (int32_t i = m->first; i < rank; i++)
      if (x->type.dims[i].size < 0) return NULL;
  m->x = x;
  m->last = last;
  *out_ok = true;
  return NULL;
}

static sinter_status_t try_fuse(sinter_graph_t *graph, sinter_node_t *ms_node, bool *out_done) {
  *out_done = false;
  rms_match_t m;
  bool ok;
  SINTER_TRY(match(graph, ms_node, &m, &ok));
  if (!ok) return NULL;
  if (!m.gamma) SINTER_TRY(sinter_fm_fill_param(graph, m.x, m.first, 1.0, "rms_scale", &m.gamma));
  sinter_value_t *ins[2] = {m.x, m.gamma};
  sinter_node_t *rms;
  SINTER_TRY(sinter_fm_insert(graph, m.last, SINTER_OP_RMS_NORMALIZATION, "RMSNormalization", ins,
                              2, &rms));
  SINTER_TRY(sinter_node_set_attr_int(rms, "axis", m.first - m.x->type.rank));
  SINTER_TRY(sinter_node_set_attr_float(rms, "epsilon", (float)m.eps));
  return sinter_fm_commit(graph, m.last, rms, out_done);
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  return sinter_fm_run(graph, SINTER_OP_REDUCE_MEAN, SINTER_OP_INVALID, try_fuse, counters);
}

const sinter_pass_info_t sinter_pass_fuse_rmsnorm = {
    "fuse-rmsnorm",
    "fuse Pow-ReduceMean-Add-Sqrt-Reciprocal-Mul[-Mul] into RMSNormalization (ai.sinter)",
    NULL,
    0,
    run,
    NULL,
};

/* ---- decomposition ---------------------------------------------------------------- */

/* Adds node op over ins before `before`, inferring its type. */
static sinter_status_t emit(sinter_graph_t *graph, sinter_node_t *before, sinter_op_t op,
                            const char *suffix, sinter_value_t *const *ins, int32_t n,
                            sinter_node_t **out) {
  SINTER_TRY(sinter_fm_insert(graph, before, op, suffix, ins, n, out));
  return sinter_pat_infer_node(graph, *out);
}

sinter_status_t sinter_decompose_rms_normalization(sinter_graph_t *graph, sinter_node_t *node) {
  if (node->op != SINTER_OP_RMS_NORMALIZATION || node->n_inputs != 2 || !node->inputs[0] ||
      !node->inputs[1])
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "not an RMSNormalization node");
  sinter_value_t *x = node->inputs[0], *scale = node->inputs[1];
  sinter_dtype_t dt = x->type.dtype;
  if (!sinter_fm_float(x))
    return SINTER_ERROR(SINTER_UNSUPPORTED, "input has dtype %s", sinter_dtype_name(dt));
  /* The normalized dims as negative axes, which need no known rank. */
  int64_t axis = sinter_node_attr_int(node, "axis", -1);
  int32_t rank = x->type.rank;
  if (axis >= 0) {
    if (rank < 0)
      return SINTER_ERROR(SINTER_UNSUPPORTED, "axis %lld needs a known input rank",
                          (long long)axis);
    axis -= rank;
  }
  if (axis >= 0 || axis < -SINTER_MAX_RANK || (rank >= 0 && axis < -rank))
    return SINTER_ERROR(SINTER_INVALID_MODEL, "axis %lld is out of range for rank %d",
                        (long long)sinter_node_attr_int(node, "axis", -1), rank);
  int64_t axes[SINTER_MAX_RANK], n_axes = -axis;
  for (int64_t i = 0; i < n_axes; i++) axes[i] = axis + i;
  /* f16 and bf16 are computed in f32, as the kernel does (and as Hugging Face
   * writes it, so fuse-rmsnorm finds this form again). */
  bool widen = dt == SINTER_DTYPE_F16 || dt == SINTER_DTYPE_BF16;
  sinter_dtype_t ct = widen ? SINTER_DTYPE_F32 : dt;
  sinter_value_t *axes_v, *eps_v, *in[2];
  SINTER_TRY(sinter_pat_add_const_i64(graph, "rms_axes", 1, &n_axes, axes, &axes_v));
  SINTER_TRY(sinter_fm_scalar_const(graph, ct, sinter_node_attr_float(node, "epsilon", 1e-5f),
                                    "rms_eps", &eps_v));
  sinter_node_t *n;
  sinter_value_t *xc = x;
  if (widen) {
    SINTER_TRY(sinter_fm_insert(graph, node, SINTER_OP_CAST, "Cast", &x, 1, &n));
    SINTER_TRY(sinter_node_set_attr_int(n, "to", sinter_dtype_to_onnx(SINTER_DTYPE_F32)));
    SINTER_TRY(sinter_pat_infer_node(graph, n));
    xc = n->outputs[0];
  }
  in[0] = xc, in[1] = xc;
  SINTER_TRY(emit(graph, node, SINTER_OP_MUL, "Mul", in, 2, &n));
  in[0] = n->outputs[0], in[1] = axes_v;
  SINTER_TRY(sinter_fm_insert(graph, node, SINTER_OP_REDUCE_MEAN, "ReduceMean", in, 2, &n));
  SINTER_TRY(sinter_node_set_attr_int(n, "keepdims", 1));
  SINTER_TRY(sinter_pat_infer_node(graph, n));
  in[0] = n->outputs[0], in[1] = eps_v;
  SINTER_TRY(emit(graph, node, SINTER_OP_ADD, "Add", in, 2, &n));
  in[0] = n->outputs[0];
  SINTER_TRY(emit(graph, node, SINTER_OP_SQRT, "Sqrt", in, 1, &n));
  in[0] = xc, in[1] = n->outputs[0];
  SINTER_TRY(emit(graph, node, SINTER_OP_DIV, "Div", in, 2, &n));
  if (widen) {
    in[0] = n->outputs[0];
    SINTER_TRY(sinter_fm_insert(graph, node, SINTER_OP_CAST, "Cast", in, 1, &n));
    SINTER_TRY(sinter_node_set_attr_int(n, "to", sinter_dtype_to_onnx(dt)));
    SINTER_TRY(sinter_pat_infer_node(graph, n));
  }
  in[0] = n->outputs[0], in[1] = scale;
  SINTER_TRY(sinter_fm_insert(graph, node, SINTER_OP_MUL, "Mul", in, 2, &n));
  bool done;
  SINTER_TRY(sinter_fm_commit(graph, node, n, &done));
  if (!done) return SINTER_ERROR(SINTER_INVALID_MODEL, "scale does not broadcast to the input");
  return NULL;
}
