/* canonicalize: local rewrites that never change results: drops Identity, inference Dropout and
 * no-op Cast/Slice/Pad/Reshape/Expand and x*1, x+0, x-0, x/1; merges Reshape and Transpose
 * chains; turns shapes that inference already knows (Shape, Size, Gather of Shape, a Reshape's
 * shape computed from dims) into constants, re-inferring types as it goes. Later passes then
 * see one spelling of each computation. */
#include "passes/canonicalize.h"

#include <stdio.h>

#include "passes/pass_internal.h"

/* Rounds over the graph at most: each round only sees rewrites of earlier nodes, and one or two
 * rounds reach the fixpoint in practice. */
enum { MAX_ROUNDS = 8 };

typedef struct canon_s {
  sinter_graph_t *g;
  sinter_pass_counters_t *counters;
  bool changed;
} canon_t;

/* ---- helpers ------------------------------------------------------------------ */

/* True when a and b are provably the same size: equal constants or the same symbol. */
static bool dim_same(const sinter_dim_t *a, const sinter_dim_t *b) {
  if (a->size >= 0 || b->size >= 0) return a->size == b->size;
  return a->sym && b->sym && strcmp(a->sym, b->sym) == 0;
}

static bool shape_same(const sinter_type_t *a, const sinter_type_t *b) {
  if (a->rank < 0 || a->rank != b->rank) return false;
  for (int32_t d = 0; d < a->rank; d++)
    if (!dim_same(&a->dims[d], &b->dims[d])) return false;
  return true;
}

/* Reads a constant integer tensor of rank 0 or 1 with at most max elements. */
static bool const_ints(const sinter_value_t *v, int64_t *out, int64_t max, int64_t *out_n) {
  int64_t n;
  if (!sinter_pat_is_const(v) || !sinter_dtype_is_int(v->type.dtype) || v->type.rank > 1 ||
      !sinter_type_numel(&v->type, &n) || n > max)
    return false;
  for (int64_t i = 0; i < n; i++) out[i] = sinter_load_i64(v->data, v->type.dtype, i);
  *out_n = n;
  return true;
}

/* True when v is a constant whose elements all equal want (numeric dtypes only). */
static bool const_splat_is(const sinter_value_t *v, double want) {
  int64_t n;
  if (!sinter_pat_is_const(v) || !sinter_type_numel(&v->type, &n) || n < 1) return false;
  sinter_dtype_t dt = v->type.dtype;
  if (sinter_dtype_is_float(dt)) {
    for (int64_t i = 0; i < n; i++)
      if (sinter_load_f64(v->data, dt, i) != want) return false;
    return true;
  }
  if (sinter_dtype_is_int(dt)) {
    for (int64_t i = 0; i < n; i++)
      if (sinter_load_i64(v->data, dt, i) != (int64_t)want) return false;
    return true;
  }
  return false;
}

/* True when broadcasting c against x gives x's shape: c has no more dims than x, and each of
 * its dims (aligned right) is 1 or provably equal to x's. */
static bool broadcast_keeps(const sinter_type_t *x, const sinter_type_t *c) {
  if (x->rank < 0 || c->rank < 0 || c->rank > x->rank) return false;
  for (int32_t i = 0; i < c->rank; i++) {
    const sinter_dim_t *cd = &c->dims[c->rank - 1 - i], *xd = &x->dims[x->rank - 1 - i];
    if (cd->size == 1) continue;
    if (!dim_same(cd, xd)) return false;
  }
  return true;
}

/* Whether old (an output of a node about to go) can be replaced by v: a graph output must keep
 * its name, so v then takes it, which a graph input or another graph output cannot. */
static bool forwardable(const sinter_value_t *old, const sinter_value_t *v) {
  if (!v || v == old || v->removed) return false;
  if (!old->n_output_refs) return true;
  return v->kind != SINTER_VALUE_INPUT && v->n_output_refs == 0;
}

/* Points every use of node's output slot at v (check forwardable first), then removes node and
 * whatever only it used. */
static sinter_status_t forward(canon_t *c, sinter_node_t *node, int32_t slot, sinter_value_t *v) {
  sinter_value_t *old = node->outputs[slot];
  if (old->n_output_refs && old->name[0] && strcmp(v->name, old->name) != 0) {
    const char *name = old->name;
    SINTER_TRY(sinter_value_set_name(old, ""));
    SINTER_TRY(sinter_value_set_name(v, name));
  }
  sinter_value_replace_all_uses(old, v);
  c->changed = true;
  return sinter_pat_erase_dead(c->g, node, &c->counters->removed);
}

/* Replaces output 0 of node with a new i64 constant holding data (shape dims), named like the
 * value it replaces so that names survive folding. */
static sinter_status_t replace_with_i64(canon_t *c, sinter_node_t *node, int32_t rank,
                                        const int64_t *dims, const int64_t *data) {
  sinter_value_t *old = node->outputs[0];
  const char *name = old->name; /* arena string: stays valid after the rename */
  SINTER_TRY(sinter_value_set_name(old, ""));
  sinter_type_t t;
  sinter_type_set_static(&t, SINTER_DTYPE_I64, rank, dims);
  int64_t n = 1;
  for (int32_t d = 0; d < rank; d++) n *= dims[d];
  sinter_value_t *k;
  SINTER_TRY(sinter_graph_add_const(c->g, name, &t, data, sizeof(int64_t) * (size_t)n, &k));
  /* The node itself counts as folded; what dies with it counts as removed. */
  c->counters->folded++;
  c->counters->removed--;
  return forward(c, node, 0, k);
}

/* Keeps what the stored type knew where fresh inference knows less (an unknown rank or dim). */
static void merge_type(sinter_type_t *fresh, const sinter_type_t *stored) {
  if (fresh->dtype == SINTER_DTYPE_UNDEFINED) fresh->dtype = stored->dtype;
  if (fresh->rank < 0) {
    sinter_dtype_t dt = fresh->dtype;
    *fresh = *stored;
    fresh->dtype = dt;
    return;
  }
  if (stored->rank != fresh->rank) return;
  for (int32_t d = 0; d < fresh->rank; d++)
    if (fresh->dims[d].size < 0 && !fresh->dims[d].sym) fresh->dims[d] = stored->dims[d];
}

/* Re-infers node's output types from its inputs, which earlier rewrites may have made more
 * precise (a Reshape that now reads a constant shape). A failing inference leaves the stored
 * types alone: refining is an improvement, never a requirement. */
static void refine_types(sinter_graph_t *g, sinter_node_t *n) {
  enum { MAXIO = 64 };
  const sinter_op_impl_t *impl = sinter_op_impl(n->op);
  if (!impl || !impl->infer || n->n_inputs > MAXIO || n->n_outputs > MAXIO) return;
  const sinter_type_t *in[MAXIO];
  const void *data[MAXIO];
  size_t nbytes[MAXIO];
  sinter_type_t out[MAXIO];
  for (int32_t i = 0; i < n->n_inputs; i++) {
    const sinter_value_t *v = n->inputs[i];
    in[i] = v ? &v->type : NULL;
    data[i] = v && v->kind == SINTER_VALUE_CONST ? v->data : NULL;
    nbytes[i] = v && v->kind == SINTER_VALUE_CONST ? v->nbytes : 0;
  }
  for (int32_t i = 0; i < n->n_outputs; i++) {
    memset(&out[i], 0, sizeof(out[i]));
    out[i].rank = -1;
  }
  sinter_infer_ctx_t ctx = {
      .graph = g,
      .node = n,
      .n_inputs = n->n_inputs,
      .in = in,
      .in_data = data,
      .in_nbytes = nbytes,
      .n_outputs = n->n_outputs,
      .out = out,
  };
  sinter_status_t st = sinter_infer_node(&ctx);
  if (st) {
    sinter_status_free(st);
    return;
  }
  for (int32_t i = 0; i < n->n_outputs; i++) {
    merge_type(&out[i], &n->outputs[i]->type);
    sinter_value_set_type(n->outputs[i], &out[i]);
  }
}

/* ---- shapes computed from other shapes ------------------------------------------- */

/* One entry of a shape vector being resolved: a known number, or dim `axis` of value src. */
typedef struct dimref_s {
  int64_t value;
  const sinter_value_t *src; /* NULL: value holds the entry */
  int32_t axis;
} dimref_t;

/* Shape's [start, end) range, clamped as the op defines it. */
static void shape_range(const sinter_node_t *n, int32_t rank, int64_t *start, int64_t *end) {
  int64_t s = sinter_node_attr_int(n, "start", 0), e = sinter_node_attr_int(n, "end", rank);
  if (s < 0) s += rank;
  if (e < 0) e += rank;
  *start = s < 0 ? 0 : s > rank ? rank : s;
  *end = e < 0 ? 0 : e > rank ? rank : e;
}

/* Entry idx of Shape node sh's output. */
static bool shape_entry(const sinter_node_t *sh, int64_t idx, dimref_t *out) {
  const sinter_value_t *y = sh->inputs[0];
  if (!y || y->type.rank < 0) return false;
  int64_t s, e;
  shape_range(sh, y->type.rank, &s, &e);
  int64_t len = e > s ? e - s : 0;
  if (idx < 0) idx += len;
  if (idx < 0 || idx >= len) return false;
  int32_t axis = (int32_t)(s + idx);
  out->src = y->type.dims[axis].size >= 0 ? NULL : y;
  out->value = y->type.dims[axis].size;
  out->axis = axis;
  return true;
}

/* Resolves a scalar: a constant, or Gather(Shape(y), i) of one dim. */
static bool resolve_scalar(const sinter_value_t *u, dimref_t *out) {
  int64_t v[1], n;
  if (u->type.rank == 0 && const_ints(u, v, 1, &n) && n == 1) {
    out->src = NULL;
    out->value = v[0];
    return true;
  }
  sinter_node_t *g = sinter_pat_producer(u, SINTER_OP_GATHER);
  if (!g || !g->inputs[1] || g->inputs[1]->type.rank != 0 ||
      (sinter_node_attr_int(g, "axis", 0) != 0 && sinter_node_attr_int(g, "axis", 0) != -1))
    return false;
  sinter_node_t *sh = sinter_pat_producer(g->inputs[0], SINTER_OP_SHAPE);
  if (!sh || !const_ints(g->inputs[1], v, 1, &n) || n != 1) return false;
  return shape_entry(sh, v[0], out);
}

/* Appends the entries of a 1-D shape piece: a constant, Unsqueeze of a resolvable scalar,
 * Gather(Shape(y), constant indices) or Shape(y) itself. */
static bool resolve_piece(const sinter_value_t *v, dimref_t *out, int32_t *n, int32_t max) {
  int64_t vals[SINTER_MAX_RANK], k;
  if (v->type.rank == 1 && const_ints(v, vals, SINTER_MAX_RANK, &k)) {
    if (*n + k > max) return false;
    for (int64_t i = 0; i < k; i++) out[(*n)++] = (dimref_t){.value = vals[i]};
    return true;
  }
  sinter_node_t *p = sinter_pat_producer(v, SINTER_OP_INVALID);
  if (!p || *n >= max) return false;
  if (p->op == SINTER_OP_UNSQUEEZE && p->inputs[0] && p->inputs[0]->type.rank == 0 &&
      p->n_inputs > 1 && p->inputs[1] && const_ints(p->inputs[1], vals, 1, &k) && k == 1 &&
      (vals[0] == 0 || vals[0] == -1))
    return resolve_scalar(p->inputs[0], &out[(*n)++]);
  if (p->op == SINTER_OP_SHAPE && p->inputs[0] && p->inputs[0]->type.rank >= 0) {
    int64_t s, e;
    shape_range(p, p->inputs[0]->type.rank, &s, &e);
    for (int64_t i = 0; i < e - s; i++)
      if (*n >= max || !shape_entry(p, i, &out[(*n)++])) return false;
    return true;
  }
  if (p->op == SINTER_OP_GATHER && p->inputs[1] && p->inputs[1]->type.rank == 1 &&
      (sinter_node_attr_int(p, "axis", 0) == 0 || sinter_node_attr_int(p, "axis", 0) == -1)) {
    sinter_node_t *sh = sinter_pat_producer(p->inputs[0], SINTER_OP_SHAPE);
    if (!sh || !const_ints(p->inputs[1], vals, SINTER_MAX_RANK, &k)) return false;
    for (int64_t i = 0; i < k; i++)
      if (*n >= max || !shape_entry(sh, vals[i], &out[(*n)++])) return false;
    return true;
  }
  return false;
}

/* Reshape(x, shape) where shape is computed from dims of other values, as exporters write
 * Reshape(x, Concat(Unsqueeze(Gather(Shape(y), 0)), [-1], ...)): each entry that is a static
 * dim becomes that number, and each symbolic dim that is provably x's own dim at the same
 * position becomes 0 (copy), so the shape turns into a constant. */
static sinter_status_t canon_reshape_shape(canon_t *c, sinter_node_t *n) {
  sinter_value_t *x = n->inputs[0], *shape = n->inputs[1];
  if (sinter_pat_is_const(shape) || sinter_node_attr_int(n, "allowzero", 0) != 0) return NULL;
  dimref_t ent[SINTER_MAX_RANK];
  int32_t k = 0;
  sinter_node_t *cat = sinter_pat_producer(shape, SINTER_OP_CONCAT);
  if (cat) {
    int64_t axis = sinter_node_attr_int(cat, "axis", 0);
    if (axis != 0 && axis != -1) return NULL;
    for (int32_t i = 0; i < cat->n_inputs; i++)
      if (!cat->inputs[i] || !resolve_piece(cat->inputs[i], ent, &k, SINTER_MAX_RANK)) return NULL;
  } else if (!resolve_piece(shape, ent, &k, SINTER_MAX_RANK)) {
    return NULL;
  }
  int64_t vals[SINTER_MAX_RANK];
  for (int32_t i = 0; i < k; i++) {
    if (!ent[i].src) {
      vals[i] = ent[i].value;
      continue;
    }
    const sinter_dim_t *yd = &ent[i].src->type.dims[ent[i].axis];
    if (i >= x->type.rank || !dim_same(yd, &x->type.dims[i])) return NULL;
    vals[i] = 0;
  }
  /* The constant takes the computed shape's name when it replaces it outright. */
  const char *name = shape->name;
  char buf[512];
  bool sole = sinter_pat_single_use(shape);
  if (sole)
    SINTER_TRY(sinter_value_set_name(shape, ""));
  else if (name[0])
    name = sinter_pat_unique_name(c->g, name, buf, sizeof(buf));
  sinter_type_t t;
  int64_t dims[1] = {k};
  sinter_type_set_static(&t, SINTER_DTYPE_I64, 1, dims);
  sinter_value_t *s;
  SINTER_TRY(sinter_graph_add_const(c->g, name, &t, vals, sizeof(int64_t) * (size_t)k, &s));
  SINTER_TRY(sinter_node_set_input(n, 1, s));
  if (shape->kind == SINTER_VALUE_NODE && !shape->n_uses && !shape->n_output_refs)
    SINTER_TRY(sinter_pat_erase_dead(c->g, shape->producer, &c->counters->removed));
  refine_types(c->g, n);
  c->counters->folded++;
  c->changed = true;
  return NULL;
}

/* ---- rules -------------------------------------------------------------------- */

/* Dropout is the identity in inference mode (training_mode absent or false), or with ratio 0,
 * as long as nobody reads the mask. */
static sinter_status_t canon_dropout(canon_t *c, sinter_node_t *n) {
  if (n->n_outputs > 1 && (n->outputs[1]->n_uses || n->outputs[1]->n_output_refs)) return NULL;
  const sinter_value_t *ratio = n->n_inputs > 1 ? n->inputs[1] : NULL;
  const sinter_value_t *training = n->n_inputs > 2 ? n->inputs[2] : NULL;
  bool identity = !training || const_splat_is(training, 0) ||
                  (training->type.dtype == SINTER_DTYPE_BOOL && sinter_pat_is_const(training) &&
                   training->nbytes == 1 && ((const uint8_t *)training->data)[0] == 0);
  if (!identity && ratio && const_splat_is(ratio, 0)) identity = true;
  if (!identity || !forwardable(n->outputs[0], n->inputs[0])) return NULL;
  return forward(c, n, 0, n->inputs[0]);
}

static sinter_status_t canon_cast(canon_t *c, sinter_node_t *n) {
  sinter_value_t *x = n->inputs[0];
  sinter_dtype_t to;
  if (n->op == SINTER_OP_CAST_LIKE) {
    if (!n->inputs[1]) return NULL;
    to = n->inputs[1]->type.dtype;
  } else {
    const sinter_attr_t *a = sinter_node_attr(n, "to");
    if (!a || a->kind != SINTER_ATTR_INT) return NULL;
    to = sinter_dtype_from_onnx(a->i);
  }
  if (to == SINTER_DTYPE_UNDEFINED || x->type.dtype != to) return NULL;
  if (!forwardable(n->outputs[0], x)) return NULL;
  return forward(c, n, 0, x);
}

/* Whether Reshape(x, shape) provably returns x's shape. */
static bool reshape_is_noop(const sinter_node_t *n) {
  const sinter_value_t *x = n->inputs[0];
  const sinter_type_t *xt = &x->type, *ot = &n->outputs[0]->type;
  if (sinter_type_is_static(xt) && sinter_type_is_static(ot) && shape_same(xt, ot)) return true;
  int64_t shape[SINTER_MAX_RANK], k;
  if (xt->rank < 0 || !const_ints(n->inputs[1], shape, SINTER_MAX_RANK, &k) || k != xt->rank)
    return false;
  bool allowzero = sinter_node_attr_int(n, "allowzero", 0) != 0;
  int32_t infer_at = -1;
  for (int32_t i = 0; i < k; i++) {
    const sinter_dim_t *d = &xt->dims[i];
    if (shape[i] == -1) {
      if (infer_at >= 0) return false;
      infer_at = i;
    } else if (shape[i] == 0 && !allowzero) {
      continue; /* copies x's dim */
    } else if (d->size != shape[i]) {
      return false;
    }
  }
  if (infer_at < 0) return true;
  /* The -1 takes what the other dims leave over, which is x's dim when they all equal x's and
   * none of them is 0 (or could be). */
  for (int32_t i = 0; i < k; i++)
    if (i != infer_at && xt->dims[i].size <= 0) return false;
  return true;
}

/* Ops whose output is a reshaped view of input 0, so that a Reshape with a fully given shape
 * after them can read input 0 directly. */
static bool is_reshape_like(sinter_op_t op) {
  return op == SINTER_OP_RESHAPE || op == SINTER_OP_FLATTEN || op == SINTER_OP_SQUEEZE ||
         op == SINTER_OP_UNSQUEEZE;
}

static sinter_status_t canon_reshape(canon_t *c, sinter_node_t *n) {
  SINTER_TRY(canon_reshape_shape(c, n));
  sinter_value_t *x = n->inputs[0];
  /* Reshape(Reshape(y, s1), s2) is Reshape(y, s2) when s2 is fully given: then the result
   * depends only on the element count. A 0 in s2 copies the middle value's dim: that still
   * works when y has the same dim there, and otherwise the dim must be a known constant that
   * can be written instead. */
  sinter_node_t *p = sinter_pat_producer(x, SINTER_OP_INVALID);
  int64_t shape[SINTER_MAX_RANK], k;
  if (p && is_reshape_like(p->op) && p->inputs[0] && sinter_pat_single_use(x) &&
      const_ints(n->inputs[1], shape, SINTER_MAX_RANK, &k)) {
    const sinter_type_t *yt = &p->inputs[0]->type;
    bool allowzero = sinter_node_attr_int(n, "allowzero", 0) != 0;
    bool ok = true, rewrote = false;
    for (int32_t i = 0; i < k && ok; i++) {
      if (shape[i] != 0 || allowzero) continue;
      if (i < x->type.rank && i < yt->rank && dim_same(&x->type.dims[i], &yt->dims[i])) continue;
      if (i < x->type.rank && x->type.dims[i].size > 0) {
        shape[i] = x->type.dims[i].size;
        rewrote = true;
      } else {
        ok = false;
      }
    }
    if (ok) {
      if (rewrote) {
        /* The new shape takes the old one's name when it replaces it outright. */
        sinter_value_t *old_shape = n->inputs[1], *s;
        const char *hint = old_shape->name;
        bool sole = sinter_pat_single_use(old_shape);
        if (sole) SINTER_TRY(sinter_value_set_name(old_shape, ""));
        char name[512];
        if (!sole && hint[0]) hint = sinter_pat_unique_name(c->g, hint, name, sizeof(name));
        sinter_type_t st;
        int64_t dims[1] = {k};
        sinter_type_set_static(&st, SINTER_DTYPE_I64, 1, dims);
        SINTER_TRY(sinter_graph_add_const(c->g, hint, &st, shape, sizeof(int64_t) * (size_t)k, &s));
        SINTER_TRY(sinter_node_set_input(n, 1, s));
        if (sole) SINTER_TRY(sinter_graph_remove_value(c->g, old_shape));
      }
      SINTER_TRY(sinter_node_set_input(n, 0, p->inputs[0]));
      SINTER_TRY(sinter_pat_erase_dead(c->g, p, &c->counters->removed));
      c->counters->rewritten++;
      c->changed = true;
      x = n->inputs[0];
    }
  }
  if (reshape_is_noop(n) && forwardable(n->outputs[0], x)) return forward(c, n, 0, x);
  return NULL;
}

static bool perm_is_identity(const int64_t *perm, int32_t rank) {
  for (int32_t i = 0; i < rank; i++)
    if (perm[i] != i) return false;
  return true;
}

static sinter_status_t canon_transpose(canon_t *c, sinter_node_t *n) {
  int64_t perm[SINTER_MAX_RANK];
  int32_t rank;
  if (!sinter_pat_transpose_perm(n, perm, &rank)) return NULL;
  /* Transpose(Transpose(y, p1), p2) is Transpose(y, p1[p2[i]]). Rewiring is worth it even when
   * the inner one has other users: it never adds a node, and the inner one may die later. */
  sinter_node_t *p = sinter_pat_producer(n->inputs[0], SINTER_OP_TRANSPOSE);
  int64_t inner[SINTER_MAX_RANK];
  int32_t inner_rank;
  if (p && p->inputs[0] && sinter_pat_transpose_perm(p, inner, &inner_rank) && inner_rank == rank) {
    int64_t composed[SINTER_MAX_RANK];
    for (int32_t i = 0; i < rank; i++) composed[i] = inner[perm[i]];
    SINTER_TRY(sinter_node_set_attr_ints(n, "perm", composed, rank));
    SINTER_TRY(sinter_node_set_input(n, 0, p->inputs[0]));
    SINTER_TRY(sinter_pat_erase_dead(c->g, p, &c->counters->removed));
    memcpy(perm, composed, sizeof(composed));
    c->counters->rewritten++;
    c->changed = true;
  }
  if (perm_is_identity(perm, rank) && n->inputs[0]->type.rank == rank &&
      forwardable(n->outputs[0], n->inputs[0]))
    return forward(c, n, 0, n->inputs[0]);
  return NULL;
}

static sinter_status_t canon_shape(canon_t *c, sinter_node_t *n) {
  const sinter_type_t *t = &n->inputs[0]->type;
  if (t->rank < 0) return NULL;
  int64_t s, e, vals[SINTER_MAX_RANK];
  shape_range(n, t->rank, &s, &e);
  int64_t len = e > s ? e - s : 0;
  for (int64_t i = 0; i < len; i++) {
    if (t->dims[s + i].size < 0) return NULL;
    vals[i] = t->dims[s + i].size;
  }
  return replace_with_i64(c, n, 1, &len, vals);
}

static sinter_status_t canon_size(canon_t *c, sinter_node_t *n) {
  int64_t numel;
  if (!sinter_type_numel(&n->inputs[0]->type, &numel)) return NULL;
  return replace_with_i64(c, n, 0, NULL, &numel);
}

/* Gather(Shape(x), indices) on static dims of x, even when other dims are symbolic: exporters
 * read one dim at a time this way. */
static sinter_status_t canon_gather_shape(canon_t *c, sinter_node_t *n) {
  sinter_node_t *sh = sinter_pat_producer(n->inputs[0], SINTER_OP_SHAPE);
  const sinter_value_t *idx = n->inputs[1];
  if (!sh || !sh->inputs[0] || !sinter_pat_is_const(idx) || !sinter_dtype_is_int(idx->type.dtype))
    return NULL;
  int64_t axis = sinter_node_attr_int(n, "axis", 0);
  if (axis != 0 && axis != -1) return NULL;
  const sinter_type_t *t = &sh->inputs[0]->type;
  if (t->rank < 0) return NULL;
  int64_t s, e, count;
  shape_range(sh, t->rank, &s, &e);
  int64_t len = e > s ? e - s : 0;
  if (!sinter_type_numel(&idx->type, &count) || count > 64) return NULL;
  int64_t vals[64];
  for (int64_t i = 0; i < count; i++) {
    int64_t j = sinter_load_i64(idx->data, idx->type.dtype, i);
    if (j < 0) j += len;
    if (j < 0 || j >= len || t->dims[s + j].size < 0) return NULL;
    vals[i] = t->dims[s + j].size;
  }
  int64_t dims[SINTER_MAX_RANK];
  for (int32_t d = 0; d < idx->type.rank; d++) dims[d] = idx->type.dims[d].size;
  return replace_with_i64(c, n, idx->type.rank, dims, vals);
}

/* Slice that takes every element with step 1 on each listed axis. */
static sinter_status_t canon_slice(canon_t *c, sinter_node_t *n) {
  sinter_value_t *x = n->inputs[0];
  const sinter_type_t *t = &x->type;
  if (t->rank < 0) return NULL;
  int64_t starts[SINTER_MAX_RANK], ends[SINTER_MAX_RANK], axes[SINTER_MAX_RANK],
      steps[SINTER_MAX_RANK], ns, ne, na, nt;
  if (!const_ints(n->inputs[1], starts, SINTER_MAX_RANK, &ns) ||
      !const_ints(n->inputs[2], ends, SINTER_MAX_RANK, &ne) || ns != ne)
    return NULL;
  const sinter_value_t *av = n->n_inputs > 3 ? n->inputs[3] : NULL;
  const sinter_value_t *sv = n->n_inputs > 4 ? n->inputs[4] : NULL;
  if (av && (!const_ints(av, axes, SINTER_MAX_RANK, &na) || na != ns)) return NULL;
  if (sv && (!const_ints(sv, steps, SINTER_MAX_RANK, &nt) || nt != ns)) return NULL;
  for (int64_t i = 0; i < ns; i++) {
    int64_t a = av ? axes[i] : i;
    if (a < 0) a += t->rank;
    if (a < 0 || a >= t->rank) return NULL;
    if (sv && steps[i] != 1) return NULL;
    int64_t dim = t->dims[a].size, s = starts[i], e = ends[i];
    if (dim < 0) {
      /* "From 0 to the end", the way exporters write it for a dim they do not know. */
      if (s != 0 || e < INT32_MAX) return NULL;
      continue;
    }
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    s = s < 0 ? 0 : s > dim ? dim : s;
    e = e < 0 ? 0 : e > dim ? dim : e;
    if (dim > 0 && (s != 0 || e != dim)) return NULL;
  }
  if (!forwardable(n->outputs[0], x)) return NULL;
  return forward(c, n, 0, x);
}

static sinter_status_t canon_pad(canon_t *c, sinter_node_t *n) {
  int64_t pads[2 * SINTER_MAX_RANK], np;
  if (!const_ints(n->inputs[1], pads, 2 * SINTER_MAX_RANK, &np)) return NULL;
  for (int64_t i = 0; i < np; i++)
    if (pads[i] != 0) return NULL;
  if (!forwardable(n->outputs[0], n->inputs[0])) return NULL;
  return forward(c, n, 0, n->inputs[0]);
}

static sinter_status_t canon_expand(canon_t *c, sinter_node_t *n) {
  sinter_value_t *x = n->inputs[0];
  const sinter_type_t *xt = &x->type, *ot = &n->outputs[0]->type;
  bool noop = sinter_type_is_static(xt) && sinter_type_is_static(ot) && shape_same(xt, ot);
  int64_t shape[SINTER_MAX_RANK], k;
  if (!noop && xt->rank >= 0 && const_ints(n->inputs[1], shape, SINTER_MAX_RANK, &k) &&
      k <= xt->rank) {
    noop = true;
    for (int64_t i = 0; i < k && noop; i++) {
      int64_t want = shape[k - 1 - i], have = xt->dims[xt->rank - 1 - i].size;
      noop = want == 1 || (have >= 0 && have == want);
    }
  }
  if (!noop || !forwardable(n->outputs[0], x)) return NULL;
  return forward(c, n, 0, x);
}

/* x*1, 1*x, x+0, 0+x, x-0 and x/1 with a splat constant that does not widen x by
 * broadcasting. x+0 turns -0.0 into +0.0 in IEEE arithmetic; that sign of zero is the one
 * difference, which no comparison can see. */
static sinter_status_t canon_binary(canon_t *c, sinter_node_t *n) {
  if (n->n_inputs != 2 || !n->inputs[0] || !n->inputs[1]) return NULL;
  double unit = (n->op == SINTER_OP_MUL || n->op == SINTER_OP_DIV) ? 1.0 : 0.0;
  bool commutes = n->op == SINTER_OP_MUL || n->op == SINTER_OP_ADD;
  for (int side = 1; side >= (commutes ? 0 : 1); side--) {
    sinter_value_t *k = n->inputs[side], *x = n->inputs[1 - side];
    if (x->type.dtype != n->outputs[0]->type.dtype || k->type.dtype != x->type.dtype) continue;
    if (!sinter_dtype_is_float(x->type.dtype) && !sinter_dtype_is_int(x->type.dtype)) continue;
    if (!const_splat_is(k, unit) || !broadcast_keeps(&x->type, &k->type)) continue;
    if (!forwardable(n->outputs[0], x)) continue;
    return forward(c, n, 0, x);
  }
  return NULL;
}

static sinter_status_t canon_node(canon_t *c, sinter_node_t *n) {
  if (n->n_inputs < 1 || !n->inputs[0]) return NULL;
  switch (n->op) {
    case SINTER_OP_IDENTITY:
      if (!forwardable(n->outputs[0], n->inputs[0])) return NULL;
      return forward(c, n, 0, n->inputs[0]);
    case SINTER_OP_DROPOUT: return canon_dropout(c, n);
    case SINTER_OP_CAST:
    case SINTER_OP_CAST_LIKE: return canon_cast(c, n);
    case SINTER_OP_RESHAPE: return n->inputs[1] ? canon_reshape(c, n) : NULL;
    case SINTER_OP_TRANSPOSE: return canon_transpose(c, n);
    case SINTER_OP_SHAPE: return canon_shape(c, n);
    case SINTER_OP_SIZE: return canon_size(c, n);
    case SINTER_OP_GATHER: return n->inputs[1] ? canon_gather_shape(c, n) : NULL;
    case SINTER_OP_SLICE: return n->inputs[1] && n->inputs[2] ? canon_slice(c, n) : NULL;
    case SINTER_OP_PAD: return n->inputs[1] ? canon_pad(c, n) : NULL;
    case SINTER_OP_EXPAND: return n->inputs[1] ? canon_expand(c, n) : NULL;
    case SINTER_OP_MUL:
    case SINTER_OP_ADD:
    case SINTER_OP_SUB:
    case SINTER_OP_DIV: return canon_binary(c, n);
    default: return NULL;
  }
}

/* ---- shared with fold-constants (passes/canonicalize.h) ----------------------------- */

void sinter_canon_refine_types(sinter_graph_t *graph, sinter_node_t *node) {
  refine_types(graph, node);
}

sinter_status_t sinter_canon_fold_shapes(sinter_graph_t *graph, sinter_node_t *node,
                                         sinter_pass_counters_t *counters, bool *out_changed) {
  canon_t c = {.g = graph, .counters = counters};
  sinter_status_t st = NULL;
  *out_changed = false;
  if (node->n_inputs < 1 || !node->inputs[0]) return NULL;
  switch (node->op) {
    case SINTER_OP_SHAPE: st = canon_shape(&c, node); break;
    case SINTER_OP_SIZE: st = canon_size(&c, node); break;
    case SINTER_OP_GATHER: st = node->inputs[1] ? canon_gather_shape(&c, node) : NULL; break;
    case SINTER_OP_RESHAPE: st = node->inputs[1] ? canon_reshape_shape(&c, node) : NULL; break;
    default: break;
  }
  *out_changed = c.changed;
  return st;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  canon_t c = {.g = graph, .counters = counters};
  for (int round = 0; round < MAX_ROUNDS; round++) {
    c.changed = false;
    /* A rewrite removes the node it visits and possibly earlier ones, never later ones. */
    for (sinter_node_t *n = graph->first, *next; n; n = next) {
      next = n->next;
      refine_types(graph, n);
      char desc[256];
      SINTER_RETURN_IF_ERROR(canon_node(&c, n), "canonicalize: %s",
                             sinter_ir_node_desc(n, desc, sizeof(desc)));
    }
    if (!c.changed) break;
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_canonicalize = {
    "canonicalize",
    "remove no-op nodes (Identity, Dropout, same-type Cast, full Slice, zero Pad, x*1, x+0), "
    "merge Reshape and Transpose chains, and turn known shapes into constants",
    NULL,
    0,
    run,
    NULL,
};
