/* fuse-gemm-act: Gemm + activation becomes FusedGemm, and MatMul by a constant
 * 2-D weight + an Add of a constant bias over the last dim (the Linear layer
 * of most exporters) + an optional activation becomes FusedMatMul, both in
 * domain ai.sinter. A bias Add after a Gemm folds into its C input. Also the
 * decomposers of FusedGemm and FusedMatMul for --export-standard. */
#include <stdio.h>

#include "passes/fuse_act_util.h"

static const sinter_pass_option_t options[] = {
    {"acts", SINTER_PASS_OPT_CHOICE, SINTER_FA_ACTS, SINTER_FA_ACTS,
     "activations to fuse into Gemm and MatMul"},
};

/* The single Add consuming v whose other operand is a constant of v's dtype;
 * the constant goes to *out_c. */
static sinter_node_t *const_add(const sinter_value_t *v, sinter_value_t **out_c) {
  if (!sinter_pat_single_use(v)) return NULL;
  sinter_node_t *add = v->uses[0].node;
  if (add->op != SINTER_OP_ADD || add->n_inputs != 2 || add->n_outputs != 1) return NULL;
  sinter_value_t *c = add->inputs[1 - v->uses[0].slot];
  if (!sinter_pat_is_const(c) || c->type.dtype != v->type.dtype) return NULL;
  *out_c = c;
  return add;
}

/* ---- Gemm ------------------------------------------------------------------------ */

/* True when c broadcasts one way onto the [M, N] type y: rank <= 2 and each
 * right-aligned dim is 1 or y's (static) size. Gemm's C accepts exactly that. */
static bool gemm_broadcastable(const sinter_type_t *c, const sinter_type_t *y) {
  if (c->rank > 2 || y->rank != 2) return false;
  for (int32_t i = 0; i < c->rank; i++) {
    int64_t s = c->dims[i].size, o = y->dims[2 - c->rank + i].size;
    if (s != 1 && s != o) return false;
  }
  return true;
}

/* The shape of C with rank padded to 2. */
static void dims2(const sinter_type_t *t, int64_t *d) {
  d[0] = t->rank == 2 ? t->dims[0].size : 1;
  d[1] = t->rank >= 1 ? t->dims[t->rank - 1].size : 1;
}

/* The new C of a Gemm whose output gets c added: c itself when the Gemm has
 * no C, else beta * C + c over their common broadcast shape. The new Gemm
 * uses beta = 1. */
static sinter_status_t gemm_new_c(sinter_graph_t *g, const sinter_node_t *gemm, sinter_value_t *c,
                                  sinter_value_t **out) {
  sinter_value_t *old = gemm->n_inputs > 2 ? gemm->inputs[2] : NULL;
  if (!old) {
    *out = c;
    return NULL;
  }
  double beta = sinter_node_attr_float(gemm, "beta", 1.0f);
  int64_t od[2], cd[2], rd[2], n_old, n_c;
  dims2(&old->type, od);
  dims2(&c->type, cd);
  for (int i = 0; i < 2; i++) rd[i] = od[i] > cd[i] ? od[i] : cd[i];
  int32_t rank = old->type.rank > c->type.rank ? old->type.rank : c->type.rank;
  double *ov = sinter_fa_const_f64(old, &n_old), *cv = sinter_fa_const_f64(c, &n_c);
  double *r = malloc(sizeof(double) * (size_t)(rd[0] * rd[1] > 0 ? rd[0] * rd[1] : 1));
  sinter_status_t st = NULL;
  if (!ov || !cv || !r) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  } else {
    for (int64_t i = 0; i < rd[0]; i++)
      for (int64_t j = 0; j < rd[1]; j++) {
        double a = ov[(od[0] == 1 ? 0 : i) * od[1] + (od[1] == 1 ? 0 : j)];
        double b = cv[(cd[0] == 1 ? 0 : i) * cd[1] + (cd[1] == 1 ? 0 : j)];
        r[i * rd[1] + j] = beta * a + b;
      }
    st = sinter_fa_add_const(g, old->name[0] ? old->name : c->name, c->type.dtype, rank,
                             rd + (2 - rank), r, out);
  }
  free(ov);
  free(cv);
  free(r);
  return st;
}

static sinter_status_t fuse_gemm(sinter_graph_t *g, sinter_node_t *gemm,
                                 const sinter_pass_args_t *args, sinter_pass_counters_t *counters,
                                 sinter_node_t **out_node) {
  sinter_value_t *y = gemm->outputs[0];
  if (gemm->n_outputs != 1 || !sinter_fa_dtype_ok(y->type.dtype) || y->type.rank != 2) return NULL;
  sinter_value_t *c = NULL, *old_c = gemm->n_inputs > 2 ? gemm->inputs[2] : NULL;
  sinter_node_t *add = const_add(y, &c);
  if (add && (!gemm_broadcastable(&c->type, &y->type) || (old_c && !sinter_pat_is_const(old_c))))
    add = NULL;
  sinter_fa_match_t m;
  bool has_act = sinter_fa_match(add ? add->outputs[0] : y, args, &m);
  if (!add && !has_act) return NULL;

  sinter_value_t *ins[3] = {gemm->inputs[0], gemm->inputs[1], old_c};
  const char *old_name = old_c ? old_c->name : "";
  if (add) SINTER_TRY(gemm_new_c(g, gemm, c, &ins[2]));
  sinter_node_t *node;
  SINTER_TRY(sinter_fa_insert(g, gemm, has_act ? SINTER_OP_FUSED_GEMM : SINTER_OP_GEMM, gemm,
                              has_act ? &m.act : NULL, ins, ins[2] ? 3 : 2, &node));
  if (add && sinter_node_attr(node, "beta"))
    SINTER_TRY(sinter_node_set_attr_float(node, "beta", 1.0f));
  SINTER_TRY(sinter_fa_replace(g, has_act ? m.last : add, node->outputs[0]));
  if (add && ins[2] != c) SINTER_TRY(sinter_fa_adopt_name(g, ins[2], old_name));
  if (has_act)
    counters->fused++;
  else
    counters->rewritten++;
  *out_node = node;
  return NULL;
}

/* ---- MatMul ---------------------------------------------------------------------- */

/* True when c adds one value per column of y (last dim n) without changing
 * y's shape: c has rank <= y's, n elements, and every dim but the last is 1. */
static bool last_dim_bias(const sinter_type_t *c, const sinter_type_t *y, int64_t n) {
  if (c->rank > y->rank || c->rank < 1) return false;
  for (int32_t i = 0; i + 1 < c->rank; i++)
    if (c->dims[i].size != 1) return false;
  return c->dims[c->rank - 1].size == n;
}

static sinter_status_t fuse_matmul(sinter_graph_t *g, sinter_node_t *mm,
                                   const sinter_pass_args_t *args, sinter_pass_counters_t *counters,
                                   sinter_node_t **out_node) {
  sinter_value_t *y = mm->outputs[0], *w = mm->inputs[1];
  if (mm->n_outputs != 1 || !sinter_fa_dtype_ok(y->type.dtype) || y->type.rank < 1 ||
      !sinter_pat_is_const(w) || w->type.rank != 2 || mm->inputs[0]->type.rank < 1)
    return NULL;
  int64_t n = w->type.dims[1].size;
  sinter_value_t *c = NULL;
  sinter_node_t *add = const_add(y, &c);
  if (add && !last_dim_bias(&c->type, &y->type, n)) add = NULL;
  sinter_fa_match_t m;
  bool has_act = sinter_fa_match(add ? add->outputs[0] : y, args, &m);
  if (!add && !has_act) return NULL;

  sinter_value_t *ins[3] = {mm->inputs[0], w, NULL};
  if (add && c->type.rank == 1) {
    ins[2] = c;
  } else if (add) {
    /* FusedMatMul's bias is 1-D: the same data, reshaped. */
    int64_t cnt;
    double *cv = sinter_fa_const_f64(c, &cnt);
    if (!cv) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    sinter_status_t st = sinter_fa_add_const(g, c->name, c->type.dtype, 1, &n, cv, &ins[2]);
    free(cv);
    SINTER_TRY(st);
  }
  const char *old_name = add ? c->name : "";
  sinter_node_t *node;
  SINTER_TRY(sinter_fa_insert(g, mm, SINTER_OP_FUSED_MATMUL, mm, has_act ? &m.act : NULL, ins,
                              ins[2] ? 3 : 2, &node));
  SINTER_TRY(sinter_fa_replace(g, has_act ? m.last : add, node->outputs[0]));
  if (add && ins[2] != c) SINTER_TRY(sinter_fa_adopt_name(g, ins[2], old_name));
  counters->fused++;
  *out_node = node;
  return NULL;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  (void)user;
  for (sinter_node_t *n = graph->first; n;) {
    sinter_node_t *next = n->next, *repl = NULL;
    sinter_status_t st = NULL;
    if (n->op == SINTER_OP_GEMM)
      st = fuse_gemm(graph, n, args, counters, &repl);
    else if (n->op == SINTER_OP_MATMUL)
      st = fuse_matmul(graph, n, args, counters, &repl);
    if (st) {
      char desc[256];
      return sinter_status_annotate(st, "fusing %s", sinter_ir_node_desc(n, desc, sizeof(desc)));
    }
    /* Rewrites only remove nodes after the matched one. A Gemm that took a
     * bias Add may meet another Add or an activation: look at it again. */
    if (repl) next = repl->op == SINTER_OP_GEMM ? repl : repl->next;
    n = next;
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_fuse_gemm_act = {
    "fuse-gemm-act",
    "fuse Gemm + activation into FusedGemm, MatMul + bias Add (+ activation) into FusedMatMul",
    options,
    (int32_t)(sizeof(options) / sizeof(options[0])),
    run,
    NULL,
};

/* ---- decomposition ---------------------------------------------------------- */

sinter_status_t sinter_decompose_fused_gemm(sinter_graph_t *graph, sinter_node_t *node) {
  char desc[256];
  sinter_ir_node_desc(node, desc, sizeof(desc));
  if (node->op != SINTER_OP_FUSED_GEMM || node->n_outputs != 1)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s is not a FusedGemm", desc);
  sinter_fused_act_t act;
  SINTER_RETURN_IF_ERROR(sinter_fused_act_read(node, &act), "%s", desc);
  sinter_node_t *gemm;
  SINTER_RETURN_IF_ERROR(sinter_fa_insert(graph, node, SINTER_OP_GEMM, node, NULL, node->inputs,
                                          node->n_inputs, &gemm),
                         "decomposing %s", desc);
  sinter_value_t *y;
  SINTER_RETURN_IF_ERROR(sinter_fa_expand(graph, node, &act, gemm->outputs[0],
                                          node->name[0] ? node->name : "gemm", &y),
                         "decomposing %s", desc);
  return sinter_fa_replace(graph, node, y);
}

sinter_status_t sinter_decompose_fused_matmul(sinter_graph_t *graph, sinter_node_t *node) {
  char desc[256];
  sinter_ir_node_desc(node, desc, sizeof(desc));
  if (node->op != SINTER_OP_FUSED_MATMUL || node->n_outputs != 1)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s is not a FusedMatMul", desc);
  sinter_fused_act_t act;
  SINTER_RETURN_IF_ERROR(sinter_fused_act_read(node, &act), "%s", desc);
  const char *name = node->name[0] ? node->name : "matmul";
  sinter_node_t *mm;
  SINTER_RETURN_IF_ERROR(
      sinter_fa_insert(graph, node, SINTER_OP_MATMUL, node, NULL, node->inputs, 2, &mm),
      "decomposing %s", desc);
  sinter_value_t *y = mm->outputs[0];
  sinter_value_t *bias = node->n_inputs > 2 ? node->inputs[2] : NULL;
  if (bias) {
    char nm[512];
    snprintf(nm, sizeof(nm), "%s/Add", name);
    sinter_value_t *ins[2] = {y, bias};
    sinter_node_t *add;
    SINTER_RETURN_IF_ERROR(
        sinter_graph_insert_node(graph, node, SINTER_OP_ADD, nm, ins, 2, 1, &add), "decomposing %s",
        desc);
    SINTER_RETURN_IF_ERROR(sinter_pat_infer_node(graph, add), "decomposing %s", desc);
    y = add->outputs[0];
  }
  SINTER_RETURN_IF_ERROR(sinter_fa_expand(graph, node, &act, y, name, &y), "decomposing %s", desc);
  return sinter_fa_replace(graph, node, y);
}
