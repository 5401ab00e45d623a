/* fuse-gelu: the expanded GELU forms exporters write become one Gelu (ONNX
 * opset 20; the ONNX writer raises the opset when it meets one):
 *   erf:  x * 0.5 * (1 + Erf(x / sqrt(2)))          -> Gelu(x)
 *   tanh: x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 *                                                   -> Gelu(x, approximate="tanh")
 * with x/sqrt(2) as Div or as Mul by 1/sqrt(2), x^3 as Pow(x, 3) or x*x*x,
 * and the three-factor product in any association. */
#include "passes/fuse_match.h"

#define SQRT2 1.4142135623730951
#define SQRT_2_OVER_PI 0.7978845608028654

/* x when v = x / sqrt(2) or x * (1/sqrt(2)), v feeding nothing else. */
static sinter_value_t *match_scaled_input(sinter_value_t *v) {
  sinter_node_t *p = sinter_fm_sole_producer(v, SINTER_OP_INVALID);
  if (!p) return NULL;
  sinter_value_t *x = NULL;
  if (p->op == SINTER_OP_DIV) x = sinter_fm_with_scalar(p, SINTER_OP_DIV, SQRT2);
  if (p->op == SINTER_OP_MUL) x = sinter_fm_with_scalar(p, SINTER_OP_MUL, 1.0 / SQRT2);
  return x;
}

/* True when v = x^3, written Pow(x, 3) or as two Muls, all single-use. */
static bool is_cube(sinter_value_t *v, sinter_value_t *x) {
  sinter_node_t *p = sinter_fm_sole_producer(v, SINTER_OP_INVALID);
  if (!p) return false;
  if (p->op == SINTER_OP_POW) return sinter_fm_with_scalar(p, SINTER_OP_POW, 3.0) == x;
  if (p->op != SINTER_OP_MUL || p->n_inputs != 2) return false;
  /* x * (x*x) or (x*x) * x */
  for (int i = 0; i < 2; i++) {
    if (p->inputs[i] != x) continue;
    sinter_node_t *sq = sinter_fm_sole_producer(p->inputs[1 - i], SINTER_OP_MUL);
    if (sq && sq->n_inputs == 2 && sq->inputs[0] == x && sq->inputs[1] == x) return true;
  }
  return false;
}

/* The core 1 + f(...) of either form: the Add after the Erf or Tanh. */
static sinter_value_t *one_plus(sinter_node_t *act) {
  sinter_node_t *add = sinter_fm_sole_user(act->outputs[0]);
  if (!add || sinter_fm_with_scalar(add, SINTER_OP_ADD, 1.0) != act->outputs[0]) return NULL;
  return add->outputs[0];
}

static sinter_status_t fuse(sinter_graph_t *graph, sinter_value_t *x, sinter_value_t *core,
                            bool tanh_form, bool *out_done) {
  if (!core || !sinter_fm_float(x)) return NULL;
  sinter_node_t *last = sinter_fm_match_product(core, x, 0.5);
  if (!last) return NULL;
  sinter_node_t *gelu;
  SINTER_TRY(sinter_fm_insert(graph, last, SINTER_OP_GELU, "Gelu", &x, 1, &gelu));
  if (tanh_form) SINTER_TRY(sinter_node_set_attr_string(gelu, "approximate", "tanh", 4));
  return sinter_fm_commit(graph, last, gelu, out_done);
}

static sinter_status_t try_erf(sinter_graph_t *graph, sinter_node_t *erf, bool *out_done) {
  sinter_value_t *x = match_scaled_input(erf->inputs[0]);
  if (!x) return NULL;
  return fuse(graph, x, one_plus(erf), false, out_done);
}

static sinter_status_t try_tanh(sinter_graph_t *graph, sinter_node_t *tanh_node, bool *out_done) {
  /* Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)) */
  sinter_node_t *scale = sinter_fm_sole_producer(tanh_node->inputs[0], SINTER_OP_MUL);
  sinter_value_t *inner =
      scale ? sinter_fm_with_scalar(scale, SINTER_OP_MUL, SQRT_2_OVER_PI) : NULL;
  sinter_node_t *add = inner ? sinter_fm_sole_producer(inner, SINTER_OP_ADD) : NULL;
  if (!add || add->n_inputs != 2) return NULL;
  for (int i = 0; i < 2; i++) {
    sinter_value_t *x = add->inputs[i], *term = add->inputs[1 - i];
    sinter_node_t *coef = sinter_fm_sole_producer(term, SINTER_OP_MUL);
    sinter_value_t *cube = coef ? sinter_fm_with_scalar(coef, SINTER_OP_MUL, 0.044715) : NULL;
    if (cube && cube != x && is_cube(cube, x))
      return fuse(graph, x, one_plus(tanh_node), true, out_done);
  }
  return NULL;
}

static sinter_status_t try_either(sinter_graph_t *graph, sinter_node_t *n, bool *out_done) {
  return n->op == SINTER_OP_ERF ? try_erf(graph, n, out_done) : try_tanh(graph, n, out_done);
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  return sinter_fm_run(graph, SINTER_OP_ERF, SINTER_OP_TANH, try_either, counters);
}

const sinter_pass_info_t sinter_pass_fuse_gelu = {
    "fuse-gelu", "fuse the erf and tanh forms of GELU into Gelu (opset 20)", NULL, 0, run, NULL,
};
