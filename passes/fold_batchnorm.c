/* fold-batchnorm: an inference BatchNormalization y = x * s + t, with
 * s = scale / sqrt(var + eps) and t = B - mean * s per channel, folds into the
 * constant weights of the Conv, ConvTranspose, Gemm or MatMul that produces x.
 * The new weights are computed in double and rounded once to the weight's
 * dtype; the rest of the graph is untouched. */
#include <stdio.h>

#include "passes/fuse_act_util.h"

/* The per-channel affine map of one BatchNormalization. */
typedef struct bn_affine_s {
  int64_t c;
  double *s, *t; /* malloc'ed, c entries each */
} bn_affine_t;

static void affine_free(bn_affine_t *a) {
  free(a->s);
  free(a->t);
}

/* Reads bn's statistics when they are constants of c elements and bn runs in
 * inference mode with no use of its training outputs. false: no fold. */
static bool read_affine(const sinter_node_t *bn, int64_t c, bn_affine_t *a, bool *oom) {
  memset(a, 0, sizeof(*a));
  *oom = false;
  if (sinter_node_attr_int(bn, "training_mode", 0) != 0) return false;
  for (int32_t i = 1; i < bn->n_outputs; i++)
    if (bn->outputs[i]->n_uses || bn->outputs[i]->n_output_refs) return false;
  if (bn->n_inputs != 5) return false;
  for (int32_t i = 1; i < 5; i++) {
    const sinter_value_t *p = bn->inputs[i];
    int64_t n;
    if (!sinter_pat_is_const(p) || !sinter_dtype_is_float(p->type.dtype) || p->type.rank != 1 ||
        !sinter_type_numel(&p->type, &n) || n != c)
      return false;
  }
  double eps = sinter_node_attr_float(bn, "epsilon", 1e-5f);
  int64_t n;
  double *scale = sinter_fa_const_f64(bn->inputs[1], &n);
  double *bias = sinter_fa_const_f64(bn->inputs[2], &n);
  double *mean = sinter_fa_const_f64(bn->inputs[3], &n);
  double *var = sinter_fa_const_f64(bn->inputs[4], &n);
  a->c = c;
  a->s = malloc(sizeof(double) * (size_t)(c > 0 ? c : 1));
  a->t = malloc(sizeof(double) * (size_t)(c > 0 ? c : 1));
  bool ok = scale && bias && mean && var && a->s && a->t;
  if (ok) {
    /* The same arithmetic as the BatchNormalization kernel. */
    for (int64_t i = 0; i < c; i++) {
      a->s[i] = scale[i] / sqrt(var[i] + eps);
      a->t[i] = bias[i] - mean[i] * a->s[i];
    }
  } else {
    *oom = true;
    affine_free(a);
  }
  free(scale);
  free(bias);
  free(mean);
  free(var);
  return ok;
}

/* A folded constant: the values of w (or zeros when w is NULL), with
 * f(index) applied, as a new constant of dtype with w's shape (or 1-D c). */
typedef struct folded_s {
  double *v;
  int64_t n;
} folded_t;

static sinter_status_t load(const sinter_value_t *w, int64_t n_if_absent, folded_t *f) {
  memset(f, 0, sizeof(*f));
  if (w) {
    f->v = sinter_fa_const_f64(w, &f->n);
  } else {
    f->n = n_if_absent;
    f->v = calloc((size_t)(n_if_absent > 0 ? n_if_absent : 1), sizeof(double));
  }
  return f->v ? NULL : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
}

/* Adds f as a constant shaped like like (or 1-D when like is NULL). */
static sinter_status_t store(sinter_graph_t *g, const char *hint, sinter_dtype_t dtype,
                             const sinter_value_t *like, folded_t *f, sinter_value_t **out) {
  int64_t dims[SINTER_MAX_RANK];
  int32_t rank = like ? like->type.rank : 1;
  if (like)
    for (int32_t i = 0; i < rank; i++) dims[i] = like->type.dims[i].size;
  else
    dims[0] = f->n;
  sinter_status_t st = sinter_fa_add_const(g, hint, dtype, rank, dims, f->v, out);
  free(f->v);
  f->v = NULL;
  return st;
}

/* bias' = bias * s + t, per channel. */
static void fold_bias(folded_t *b, const bn_affine_t *a) {
  for (int64_t i = 0; i < a->c; i++) b->v[i] = b->v[i] * a->s[i] + a->t[i];
}

/* Names a folded constant after the one it replaces, else after fallback. */
static const char *hint_of(const sinter_value_t *old, const sinter_value_t *fallback) {
  return old && old->name[0] ? old->name : fallback->name;
}

/* Finishes a fold: the BN's output now reads v, and the folded constants take
 * the names of the constants they replaced once those are gone. */
static sinter_status_t finish(sinter_graph_t *g, sinter_node_t *bn, sinter_node_t *old,
                              sinter_value_t *v, sinter_value_t **consts, const char **names,
                              int32_t n) {
  const char *old_name = old->outputs[0]->name;
  SINTER_TRY(sinter_pat_replace_output(g, bn, 0, v));
  if (!v->name[0]) SINTER_TRY(sinter_fa_adopt_name(g, v, old_name));
  for (int32_t i = 0; i < n; i++) SINTER_TRY(sinter_fa_adopt_name(g, consts[i], names[i]));
  return NULL;
}

/* Conv: W [M, C/g, k...] scales by s[m]. ConvTranspose: W [C, M/g, k...],
 * and output channel m = (ci / (C/g)) * (M/g) + j for W[ci, j]. */
static sinter_status_t fold_conv(sinter_graph_t *g, sinter_node_t *bn, sinter_node_t *conv,
                                 bool *done) {
  sinter_value_t *x = conv->outputs[0], *w = conv->inputs[1];
  sinter_value_t *b = conv->n_inputs > 2 ? conv->inputs[2] : NULL;
  bool transpose = conv->op == SINTER_OP_CONV_TRANSPOSE;
  if (!sinter_pat_is_const(w) || !sinter_fa_dtype_ok(w->type.dtype) || w->type.rank < 3 ||
      (b && !sinter_pat_is_const(b)) || x->type.dtype != w->type.dtype ||
      x->type.rank != w->type.rank || x->type.dims[1].size < 0)
    return NULL;
  int64_t m = x->type.dims[1].size, grp = sinter_node_attr_int(conv, "group", 1);
  int64_t w0 = w->type.dims[0].size, w1 = w->type.dims[1].size;
  int64_t nb;
  if (grp < 1 || (!transpose && w0 != m) || (transpose && (w0 % grp || w1 * grp != m)) ||
      (b && (!sinter_type_numel(&b->type, &nb) || nb != m || b->type.dtype != w->type.dtype)))
    return NULL;
  bn_affine_t a;
  bool oom;
  if (!read_affine(bn, m, &a, &oom))
    return oom ? SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory") : NULL;
  folded_t fw, fb;
  sinter_status_t st = load(w, 0, &fw);
  if (!st) st = load(b, m, &fb);
  if (st) {
    free(fw.v);
    affine_free(&a);
    return st;
  }
  int64_t k = fw.n / (w0 * w1 > 0 ? w0 * w1 : 1); /* kernel taps per (w0, w1) pair */
  for (int64_t i0 = 0; i0 < w0; i0++)
    for (int64_t i1 = 0; i1 < w1; i1++) {
      int64_t ch = transpose ? (i0 / (w0 / grp)) * w1 + i1 : i0;
      double *p = fw.v + (i0 * w1 + i1) * k;
      for (int64_t t = 0; t < k; t++) p[t] *= a.s[ch];
    }
  fold_bias(&fb, &a);
  affine_free(&a);
  sinter_value_t *ins[3] = {conv->inputs[0], NULL, NULL};
  const char *names[2] = {w->name, b ? b->name : bn->inputs[2]->name};
  st = store(g, hint_of(w, bn->inputs[1]), w->type.dtype, w, &fw, &ins[1]);
  if (!st) st = store(g, hint_of(b, bn->inputs[2]), w->type.dtype, NULL, &fb, &ins[2]);
  free(fb.v);
  SINTER_TRY(st);
  sinter_node_t *node;
  SINTER_TRY(sinter_fa_insert(g, conv, conv->op, conv, NULL, ins, 3, &node));
  SINTER_TRY(finish(g, bn, conv, node->outputs[0], &ins[1], names, 2));
  *done = true;
  return NULL;
}

/* Gemm: Y = alpha * A B + beta * C over [M, N], channel = column n. B's
 * columns (rows with transB) scale by s; C becomes beta * C * s + t (beta 1). */
static sinter_status_t fold_gemm(sinter_graph_t *g, sinter_node_t *bn, sinter_node_t *gemm,
                                 bool *done) {
  sinter_value_t *x = gemm->outputs[0], *w = gemm->inputs[1];
  sinter_value_t *c = gemm->n_inputs > 2 ? gemm->inputs[2] : NULL;
  if (!sinter_pat_is_const(w) || !sinter_fa_dtype_ok(w->type.dtype) || w->type.rank != 2 ||
      (c && (!sinter_pat_is_const(c) || c->type.rank > 2 || c->type.dtype != w->type.dtype)) ||
      x->type.rank != 2 || x->type.dims[1].size < 0)
    return NULL;
  int64_t n = x->type.dims[1].size;
  bool tb = sinter_node_attr_int(gemm, "transB", 0) != 0;
  if (w->type.dims[tb ? 0 : 1].size != n) return NULL;
  /* C keeps its row dim when it has one of size M (static, as C is constant). */
  int64_t rows = c && c->type.rank == 2 ? c->type.dims[0].size : 1;
  int64_t ccols = c && c->type.rank >= 1 ? c->type.dims[c->type.rank - 1].size : 1;
  bn_affine_t a;
  bool oom;
  if (!read_affine(bn, n, &a, &oom))
    return oom ? SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory") : NULL;
  double beta = sinter_node_attr_float(gemm, "beta", 1.0f);
  folded_t fw, fc = {0};
  sinter_status_t st = load(w, 0, &fw);
  double *cv = NULL;
  int64_t cn = 0;
  if (!st && c && !(cv = sinter_fa_const_f64(c, &cn)))
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  if (!st) {
    fc.n = rows * n;
    fc.v = malloc(sizeof(double) * (size_t)(fc.n > 0 ? fc.n : 1));
    if (!fc.v) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  if (st) {
    free(fw.v);
    free(cv);
    affine_free(&a);
    return st;
  }
  int64_t kdim = w->type.dims[tb ? 1 : 0].size;
  for (int64_t kk = 0; kk < kdim; kk++)
    for (int64_t j = 0; j < n; j++) fw.v[tb ? j * kdim + kk : kk * n + j] *= a.s[j];
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < n; j++) {
      double cij = cv ? beta * cv[i * ccols + (ccols == 1 ? 0 : j)] : 0.0;
      fc.v[i * n + j] = cij * a.s[j] + a.t[j];
    }
  free(cv);
  affine_free(&a);
  sinter_value_t *ins[3] = {gemm->inputs[0], NULL, NULL};
  const char *names[2] = {w->name, c ? c->name : bn->inputs[2]->name};
  int64_t cdims[2] = {rows, n};
  st = store(g, hint_of(w, bn->inputs[1]), w->type.dtype, w, &fw, &ins[1]);
  if (!st)
    st = sinter_fa_add_const(g, hint_of(c, bn->inputs[2]), w->type.dtype, rows > 1 ? 2 : 1,
                             rows > 1 ? cdims : cdims + 1, fc.v, &ins[2]);
  free(fc.v);
  SINTER_TRY(st);
  sinter_node_t *node;
  SINTER_TRY(sinter_fa_insert(g, gemm, gemm->op, gemm, NULL, ins, 3, &node));
  SINTER_TRY(sinter_node_set_attr_float(node, "beta", 1.0f));
  SINTER_TRY(finish(g, bn, gemm, node->outputs[0], &ins[1], names, 2));
  *done = true;
  return NULL;
}

/* MatMul by a constant [K, N] weight with a 2-D output (BN's channel is then
 * the last dim), with or without a bias Add of N values after it: the weight's
 * columns scale by s and the bias becomes bias * s + t, in a new Add when there
 * was none. */
static sinter_status_t fold_matmul(sinter_graph_t *g, sinter_node_t *bn, sinter_node_t *prod,
                                   bool *done) {
  sinter_node_t *add = NULL, *mm = prod;
  sinter_value_t *bias = NULL;
  if (prod->op == SINTER_OP_ADD) {
    add = prod;
    if (add->n_inputs != 2) return NULL;
    for (int32_t k = 0; k < 2 && !bias; k++) {
      sinter_node_t *p = sinter_pat_producer(add->inputs[k], SINTER_OP_MATMUL);
      if (p && sinter_pat_single_use(add->inputs[k]) && sinter_pat_is_const(add->inputs[1 - k])) {
        mm = p;
        bias = add->inputs[1 - k];
      }
    }
    if (!bias) return NULL;
  }
  sinter_value_t *y = mm->outputs[0], *w = mm->inputs[1];
  sinter_value_t *x = add ? add->outputs[0] : y;
  if (!sinter_pat_is_const(w) || !sinter_fa_dtype_ok(w->type.dtype) || w->type.rank != 2 ||
      y->type.rank != 2 || x->type.rank != 2 || y->type.dtype != w->type.dtype)
    return NULL;
  int64_t kdim = w->type.dims[0].size, n = w->type.dims[1].size, bn_count;
  if (bias && (bias->type.dtype != w->type.dtype || bias->type.rank < 1 || bias->type.rank > 2 ||
               !sinter_type_numel(&bias->type, &bn_count) || bn_count != n ||
               bias->type.dims[bias->type.rank - 1].size != n))
    return NULL;
  bn_affine_t a;
  bool oom;
  if (!read_affine(bn, n, &a, &oom))
    return oom ? SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory") : NULL;
  folded_t fw, fb;
  sinter_status_t st = load(w, 0, &fw);
  if (!st) st = load(bias, n, &fb);
  if (st) {
    free(fw.v);
    affine_free(&a);
    return st;
  }
  for (int64_t kk = 0; kk < kdim; kk++)
    for (int64_t j = 0; j < n; j++) fw.v[kk * n + j] *= a.s[j];
  fold_bias(&fb, &a);
  affine_free(&a);
  sinter_value_t *nw = NULL, *nb = NULL;
  const char *names[2] = {w->name, bias ? bias->name : bn->inputs[2]->name};
  st = store(g, hint_of(w, bn->inputs[1]), w->type.dtype, w, &fw, &nw);
  if (!st) st = store(g, hint_of(bias, bn->inputs[2]), w->type.dtype, NULL, &fb, &nb);
  free(fb.v);
  SINTER_TRY(st);
  sinter_value_t *mins[2] = {mm->inputs[0], nw};
  sinter_node_t *nmm, *nadd;
  SINTER_TRY(sinter_fa_insert(g, mm, SINTER_OP_MATMUL, mm, NULL, mins, 2, &nmm));
  sinter_value_t *ains[2] = {nmm->outputs[0], nb};
  const char *add_name = add ? add->name : bn->name;
  SINTER_TRY(sinter_graph_insert_node(g, mm, SINTER_OP_ADD, add_name, ains, 2, 1, &nadd));
  SINTER_TRY(sinter_pat_infer_node(g, nadd));
  const char *mm_name = y->name;
  sinter_value_t *consts[2] = {nw, nb};
  SINTER_TRY(finish(g, bn, add ? add : bn, nadd->outputs[0], consts, names, 2));
  SINTER_TRY(sinter_fa_adopt_name(g, nmm->outputs[0], mm_name));
  *done = true;
  return NULL;
}

static sinter_status_t fold_at(sinter_graph_t *g, sinter_node_t *bn, bool *done) {
  *done = false;
  sinter_value_t *x = bn->inputs[0];
  if (!sinter_fa_dtype_ok(x->type.dtype) || !sinter_pat_single_use(x)) return NULL;
  sinter_node_t *p = sinter_pat_producer(x, SINTER_OP_INVALID);
  if (!p || p->n_outputs != 1) return NULL;
  switch (p->op) {
    case SINTER_OP_CONV:
    case SINTER_OP_CONV_TRANSPOSE: return fold_conv(g, bn, p, done);
    case SINTER_OP_GEMM: return fold_gemm(g, bn, p, done);
    case SINTER_OP_MATMUL:
    case SINTER_OP_ADD: return fold_matmul(g, bn, p, done);
    default: return NULL;
  }
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  (void)args;
  (void)user;
  for (sinter_node_t *n = graph->first; n;) {
    sinter_node_t *next = n->next;
    if (n->op == SINTER_OP_BATCH_NORMALIZATION) {
      bool done;
      char desc[256];
      /* The fold inserts before the producer and erases the BN (and the old
       * producer), so `next` stays valid. */
      SINTER_RETURN_IF_ERROR(fold_at(graph, n, &done), "folding %s",
                             sinter_ir_node_desc(n, desc, sizeof(desc)));
      if (done) counters->folded++;
    }
    n = next;
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_fold_batchnorm = {
    "fold-batchnorm",
    "fold inference BatchNormalization into the weights of a preceding Conv, ConvTranspose, "
    "Gemm or MatMul",
    NULL,
    0,
    run,
    NULL,
};
