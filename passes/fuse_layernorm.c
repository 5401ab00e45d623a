/* fuse-layernorm: LayerNorm decomposed by exporters,
 *   mean = ReduceMean(x, trailing axes); d = x - mean
 *   var = ReduceMean(Pow(d, 2) or d*d, same axes); std = Sqrt(var + eps)
 *   y = d / std (or d * Reciprocal(std), d * (1 / std)) [* gamma] [+ beta]
 * becomes LayerNormalization(x, gamma, beta){axis, epsilon} (ONNX opset 17;
 * the ONNX writer raises the opset when it meets one). gamma and beta must be
 * constants over the normalized dims; without gamma a ones constant stands
 * in, without beta the bias input is left out. */
#include "passes/fuse_match.h"

/* The matched chain. */
typedef struct ln_match_s {
  sinter_value_t *x, *gamma, *beta;
  sinter_node_t *last;
  int32_t first; /* first normalized dim */
  double eps;
} ln_match_t;

/* True when n squares d: Pow(d, 2) or Mul(d, d). */
static bool squares(const sinter_node_t *n, const sinter_value_t *d) {
  if (n->op == SINTER_OP_MUL) return n->n_inputs == 2 && n->inputs[0] == d && n->inputs[1] == d;
  return n->op == SINTER_OP_POW && sinter_fm_with_scalar(n, SINTER_OP_POW, 2.0) == d;
}

/* From std, the node computing d / std: Div(d, std), or Mul(d, inv) with inv
 * = Reciprocal(std) or 1 / std. */
static sinter_node_t *divide_by(const sinter_value_t *std, const sinter_value_t *d) {
  sinter_node_t *u = sinter_fm_sole_user(std);
  if (!u) return NULL;
  if (u->op == SINTER_OP_DIV && u->inputs[0] == d && u->inputs[1] == std) return u;
  bool recip = u->op == SINTER_OP_RECIPROCAL || (u->op == SINTER_OP_DIV && u->inputs[1] == std &&
                                                 sinter_fm_scalar(u->inputs[0], 1.0, NULL));
  if (!recip) return NULL;
  sinter_node_t *m = sinter_fm_sole_user(u->outputs[0]);
  return m && m->op == SINTER_OP_MUL && sinter_fm_other(m, u->outputs[0]) == d ? m : NULL;
}

/* The users of d must be exactly the squaring node and the division. */
static bool d_users_ok(const sinter_value_t *d, const sinter_node_t *sq, const sinter_node_t *div) {
  if (d->n_output_refs) return false;
  for (int32_t i = 0; i < d->n_uses; i++)
    if (d->uses[i].node != sq && d->uses[i].node != div) return false;
  return true;
}

static sinter_status_t match(sinter_graph_t *graph, sinter_node_t *mean_node, ln_match_t *m,
                             bool *out_ok) {
  *out_ok = false;
  memset(m, 0, sizeof(*m));
  sinter_value_t *x = mean_node->inputs[0];
  if (!sinter_fm_float(x) || !sinter_fm_trailing_axes(mean_node, x->type.rank, &m->first))
    return NULL;
  int32_t rank = x->type.rank;
  /* d = x - mean */
  sinter_node_t *sub = sinter_fm_sole_user(mean_node->outputs[0]);
  if (!sub || sub->op != SINTER_OP_SUB || sub->inputs[0] != x ||
      sub->inputs[1] != mean_node->outputs[0])
    return NULL;
  sinter_value_t *d = sub->outputs[0];
  /* var = ReduceMean(d^2) over the same axes */
  sinter_node_t *sq = NULL;
  for (int32_t i = 0; i < d->n_uses && !sq; i++)
    if (squares(d->uses[i].node, d)) sq = d->uses[i].node;
  sinter_node_t *var = sq ? sinter_fm_sole_user(sq->outputs[0]) : NULL;
  if (!var || var->op != SINTER_OP_REDUCE_MEAN || var->inputs[0] != sq->outputs[0] ||
      !sinter_fm_same_axes(mean_node, var, rank))
    return NULL;
  /* std = Sqrt(var + eps) */
  sinter_node_t *add = sinter_fm_sole_user(var->outputs[0]);
  if (!add || add->op != SINTER_OP_ADD) return NULL;
  sinter_value_t *eps_v = sinter_fm_other(add, var->outputs[0]);
  if (!eps_v || !sinter_fm_scalar_value(eps_v, &m->eps) || m->eps < 0 ||
      sinter_fm_const(eps_v)->type.rank > rank)
    return NULL;
  sinter_node_t *sqrt_node = sinter_fm_sole_user(add->outputs[0]);
  if (!sqrt_node || sqrt_node->op != SINTER_OP_SQRT) return NULL;
  sinter_node_t *div = divide_by(sqrt_node->outputs[0], d);
  if (!div || !d_users_ok(d, sq, div)) return NULL;
  /* [* gamma] [+ beta] */
  sinter_node_t *last = div;
  sinter_value_t *y = div->outputs[0];
  sinter_node_t *u = sinter_fm_sole_user(y);
  bool ok;
  if (u && u->op == SINTER_OP_MUL) {
    SINTER_TRY(sinter_fm_norm_param(graph, sinter_fm_other(u, y), x, m->first, &ok, &m->gamma));
    if (ok) {
      last = u;
      y = u->outputs[0];
      u = sinter_fm_sole_user(y);
    }
  }
  if (u && u->op == SINTER_OP_ADD) {
    SINTER_TRY(sinter_fm_norm_param(graph, sinter_fm_other(u, y), x, m->first, &ok, &m->beta));
    if (ok) last = u;
  }
  if (!m->gamma) {
    /* LayerNormalization needs a scale: ones over static normalized dims. */
    for (int32_t i = m->first; i < rank; i++)
      if (x->type.dims[i].size < 0) return NULL;
  }
  m->x = x;
  m->last = last;
  *out_ok = true;
  return NULL;
}

static sinter_status_t try_fuse(sinter_graph_t *graph, sinter_node_t *mean_node, bool *out_done) {
  *out_done = false;
  ln_match_t m;
  bool ok;
  SINTER_TRY(match(graph, mean_node, &m, &ok));
  if (!ok) return NULL;
  if (!m.gamma) SINTER_TRY(sinter_fm_fill_param(graph, m.x, m.first, 1.0, "ln_scale", &m.gamma));
  sinter_value_t *ins[3] = {m.x, m.gamma, m.beta};
  sinter_node_t *ln;
  SINTER_TRY(sinter_fm_insert(graph, m.last, SINTER_OP_LAYER_NORMALIZATION, "LayerNormalization",
                              ins, m.beta ? 3 : 2, &ln));
  SINTER_TRY(sinter_node_set_attr_int(ln, "axis", m.first - m.x->type.rank));
  SINTER_TRY(sinter_node_set_attr_float(ln, "epsilon", (float)m.eps));
  return sinter_fm_commit(graph, m.last, ln, out_done);
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  return sinter_fm_run(graph, SINTER_OP_REDUCE_MEAN, SINTER_OP_INVALID, try_fuse, counters);
}

const sinter_pass_info_t sinter_pass_fuse_layernorm = {
    "fuse-layernorm",
    "fuse ReduceMean-Sub-Pow-ReduceMean-Add-Sqrt-Div[-Mul-Add] into LayerNormalization (opset 17)",
    NULL,
    0,
    run,
    NULL,
};
