/* fuse-attention: recognizes scaled dot-product attention as exporters write it,
 * Softmax(MatMul(Q, K^T) * scale + mask) @ V, with the head split and merge around it when
 * present, and rewrites it into one Attention node (ai.sinter, docs/ops-sinter.md). */
#include <math.h>
#include <stdio.h>

#include "passes/pass_internal.h"

/* Entries of a constant additive mask at or below this count as masked: exp underflows to
 * zero unless the scores in a row differ by more than about 9900. Exporters use -1e4, -1e9,
 * the dtype's lowest value or -inf. */
#define MASKED_AT_MOST -1e4

/* ---- small helpers -------------------------------------------------------- */

static bool float_dtype(sinter_dtype_t d) {
  return d == SINTER_DTYPE_F32 || d == SINTER_DTYPE_F16 || d == SINTER_DTYPE_BF16;
}

/* The node using v when v has exactly one use (and is no graph output). */
static sinter_node_t *only_user(const sinter_value_t *v, int32_t *out_slot) {
  if (!sinter_pat_single_use(v)) return NULL;
  if (out_slot) *out_slot = v->uses[0].slot;
  return v->uses[0].node;
}

/* A one-element float constant c of x's dtype whose broadcast cannot grow x; its value. */
static bool scalar_factor(const sinter_value_t *c, const sinter_value_t *x, double *out) {
  if (!sinter_pat_is_const(c) || !sinter_pat_is_float(c) || c->type.dtype != x->type.dtype)
    return false;
  int64_t n;
  if (!sinter_type_numel(&c->type, &n) || n != 1) return false;
  if (c->type.rank > 0 && x->type.rank < c->type.rank) return false;
  double v = sinter_load_f64(c->data, c->type.dtype, 0);
  if (!isfinite(v) || v == 0) return false;
  *out = v;
  return true;
}

/* Walks back from *v over single-use Mul/Div by scalar constants, folding their factors into
 * *scale. Stops at the first value that is not such a product. */
static void strip_scale(sinter_value_t **v, double *scale) {
  for (;;) {
    sinter_value_t *cur = *v;
    if (!sinter_pat_single_use(cur)) return;
    sinter_node_t *p = sinter_pat_producer(cur, SINTER_OP_INVALID);
    if (!p || p->n_inputs != 2 || !p->inputs[0] || !p->inputs[1]) return;
    double c;
    if (p->op == SINTER_OP_MUL && scalar_factor(p->inputs[1], p->inputs[0], &c)) {
      *scale *= c;
      *v = p->inputs[0];
    } else if (p->op == SINTER_OP_MUL && scalar_factor(p->inputs[0], p->inputs[1], &c)) {
      *scale *= c;
      *v = p->inputs[1];
    } else if (p->op == SINTER_OP_DIV && scalar_factor(p->inputs[1], p->inputs[0], &c)) {
      *scale /= c;
      *v = p->inputs[0];
    } else {
      return;
    }
  }
}

/* The perm of a Transpose node whose input has rank `rank`. */
static bool transpose_perm(const sinter_node_t *t, int32_t rank, int64_t *perm) {
  int32_t r;
  return sinter_pat_transpose_perm(t, perm, &r) && r == rank;
}

static bool perm_is(const int64_t *perm, int32_t rank, const int64_t *want) {
  for (int32_t i = 0; i < rank; i++)
    if (perm[i] != want[i]) return false;
  return true;
}

static bool same_sym(sinter_dim_t a, sinter_dim_t b) {
  return a.size < 0 && b.size < 0 && a.sym && b.sym && strcmp(a.sym, b.sym) == 0;
}

/* ---- which dim of which value a dim comes from ----------------------------------
 * Reshape targets built from Shape/Gather/Concat name dims of other values, and imported
 * graphs often carry unknown dims. To know that such a dim is the batch or sequence length of
 * the attention input, a dim is traced back through ops that pass it on unchanged to the value
 * that first determines it (its root). A broadcasting op passes a dim on when every input that
 * can set it has the same root. Roots are memoized per (value, dim) for one pass run; values
 * are never renumbered, so entries stay true while the graph is rewritten. */

typedef struct dimref_s {
  const sinter_value_t *v;
  int32_t d;
} dimref_t;

typedef struct dimmemo_s {
  uint64_t *keys; /* value id * SINTER_MAX_RANK + dim + 1; 0 is empty */
  dimref_t *vals;
  size_t cap, n;
} dimmemo_t;

enum { MAX_CANDS = 8, MAX_DEPTH = 400 };

static void memo_free(dimmemo_t *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof(*m));
}

static uint64_t memo_key(const sinter_value_t *v, int32_t d) {
  return (uint64_t)v->id * SINTER_MAX_RANK + (uint64_t)d + 1;
}

static size_t memo_slot(const dimmemo_t *m, uint64_t key) {
  size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (m->cap - 1);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  return i;
}

static bool memo_get(const dimmemo_t *m, uint64_t key, dimref_t *out) {
  if (!m->cap) return false;
  size_t i = memo_slot(m, key);
  if (!m->keys[i]) return false;
  *out = m->vals[i];
  return true;
}

/* Out of memory only loses memoization, never correctness. */
static void memo_put(dimmemo_t *m, uint64_t key, dimref_t val) {
  if (2 * (m->n + 1) > m->cap) {
    size_t ncap = m->cap ? m->cap * 2 : 256;
    dimmemo_t nm = {calloc(ncap, sizeof(uint64_t)), calloc(ncap, sizeof(dimref_t)), ncap, 0};
    if (!nm.keys || !nm.vals) {
      memo_free(&nm);
      return;
    }
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i]) {
        size_t j = memo_slot(&nm, m->keys[i]);
        nm.keys[j] = m->keys[i];
        nm.vals[j] = m->vals[i];
        nm.n++;
      }
    memo_free(m);
    *m = nm;
  }
  size_t i = memo_slot(m, key);
  if (!m->keys[i]) m->n++;
  m->keys[i] = key;
  m->vals[i] = val;
}

/* Appends the inputs first..first+n-1 of p that can set output dim d (rank r) by
 * broadcasting; false when one has unknown rank or there are too many. */
static bool bcast_cands(const sinter_node_t *p, int32_t r, int32_t d, int32_t first, int32_t n,
                        dimref_t *c, int32_t *nc) {
  for (int32_t i = first; i < first + n && i < p->n_inputs; i++) {
    const sinter_value_t *u = p->inputs[i];
    if (!u) continue;
    if (u->type.rank < 0 || *nc >= MAX_CANDS) return false;
    int32_t k = d - (r - u->type.rank);
    if (k < 0 || u->type.dims[k].size == 1) continue;
    c[(*nc)++] = (dimref_t){u, k};
  }
  return true;
}

/* The values whose dim determines dim d of v's producer output; false when not traceable. */
static bool dim_cands(const sinter_value_t *v, int32_t d, dimref_t *c, int32_t *nc) {
  *nc = 0;
  const sinter_node_t *p = sinter_pat_producer(v, SINTER_OP_INVALID);
  int32_t r = v->type.rank;
  if (!p || r < 0 || d < 0 || d >= r || v->producer_slot != 0) return false;
  const sinter_op_info_t *info = sinter_op_info(p->op);
  switch (p->op) {
    case SINTER_OP_MATMUL: {
      const sinter_value_t *a = p->inputs[0], *b = p->inputs[1];
      int32_t ra = a->type.rank, rb = b->type.rank;
      if (ra < 2 || rb < 2) return false;
      if (d == r - 1) {
        c[(*nc)++] = (dimref_t){b, rb - 1};
      } else if (d == r - 2) {
        c[(*nc)++] = (dimref_t){a, ra - 2};
      } else {
        const sinter_value_t *ops[2] = {a, b};
        for (int32_t i = 0; i < 2; i++) {
          int32_t k = d - (r - ops[i]->type.rank);
          if (k < 0 || k >= ops[i]->type.rank - 2 || ops[i]->type.dims[k].size == 1) continue;
          c[(*nc)++] = (dimref_t){ops[i], k};
        }
      }
      return true;
    }
    case SINTER_OP_TRANSPOSE: {
      int64_t perm[SINTER_MAX_RANK];
      if (p->inputs[0]->type.rank != r || !transpose_perm(p, r, perm)) return false;
      c[(*nc)++] = (dimref_t){p->inputs[0], (int32_t)perm[d]};
      return true;
    }
    case SINTER_OP_GATHER: {
      /* An embedding lookup: the leading dims are the indices'. */
      const sinter_value_t *data = p->inputs[0], *ind = p->inputs[1];
      int64_t axis = sinter_node_attr_int(p, "axis", 0);
      if (data->type.rank < 1 || ind->type.rank < 0) return false;
      if (axis < 0) axis += data->type.rank;
      if (axis != 0 || d >= ind->type.rank) return false;
      c[(*nc)++] = (dimref_t){ind, d};
      return true;
    }
    case SINTER_OP_REDUCE_MEAN:
    case SINTER_OP_REDUCE_SUM:
    case SINTER_OP_REDUCE_MAX:
    case SINTER_OP_REDUCE_MIN:
    case SINTER_OP_REDUCE_PROD:
    case SINTER_OP_REDUCE_L1:
    case SINTER_OP_REDUCE_L2:
    case SINTER_OP_REDUCE_SUM_SQUARE:
    case SINTER_OP_REDUCE_LOG_SUM:
    case SINTER_OP_REDUCE_LOG_SUM_EXP: {
      /* keepdims=1 with constant axes: the other dims pass through. */
      const sinter_value_t *x = p->inputs[0], *ax = p->n_inputs > 1 ? p->inputs[1] : NULL;
      int64_t na;
      if (sinter_node_attr_int(p, "keepdims", 1) != 1 || x->type.rank != r || !ax ||
          !sinter_pat_is_const(ax) || !sinter_dtype_is_int(ax->type.dtype) ||
          !sinter_type_numel(&ax->type, &na) || na < 1)
        return false;
      for (int64_t i = 0; i < na; i++) {
        int64_t a = sinter_load_i64(ax->data, ax->type.dtype, i);
        if (a < 0) a += r;
        if (a == d) return false;
      }
      c[(*nc)++] = (dimref_t){x, d};
      return true;
    }
    case SINTER_OP_ATTENTION: {
      const sinter_value_t *q = p->inputs[0], *k = p->inputs[1], *val = p->inputs[2];
      const sinter_value_t *mk = p->n_inputs > 3 ? p->inputs[3] : NULL;
      bool bse = strcmp(sinter_node_attr_string(p, "layout", "bhsd"), "bse") == 0;
      if (q->type.rank != r || k->type.rank != r || val->type.rank != r ||
          (mk && mk->type.rank < 0))
        return false;
      if (d == r - 2 || (bse && d == 1)) {
        c[(*nc)++] = (dimref_t){q, d};
      } else if (d == r - 1) {
        c[(*nc)++] = (dimref_t){val, d};
      } else {
        const sinter_value_t *ops[3] = {q, k, val};
        for (int32_t i = 0; i < 3; i++)
          if (ops[i]->type.dims[d].size != 1) c[(*nc)++] = (dimref_t){ops[i], d};
        /* The mask lines up with [batch..., Sq, Sk] ([B,H,Sq,Sk] for bse). */
        int32_t sr = bse ? 4 : r, md = bse ? 0 : d;
        if (mk) {
          int32_t k2 = md - (sr - mk->type.rank);
          if (k2 >= 0 && mk->type.dims[k2].size != 1) c[(*nc)++] = (dimref_t){mk, k2};
        }
      }
      return true;
    }
    case SINTER_OP_UNSQUEEZE:
    case SINTER_OP_SQUEEZE: {
      /* Constant axes: the output dim maps to an input dim unless it is an inserted axis. */
      const sinter_value_t *x = p->inputs[0], *ax = p->n_inputs > 1 ? p->inputs[1] : NULL;
      int32_t rx = x->type.rank;
      int64_t na;
      if (rx < 0 || !ax || !sinter_pat_is_const(ax) || !sinter_dtype_is_int(ax->type.dtype) ||
          !sinter_type_numel(&ax->type, &na) || na > SINTER_MAX_RANK)
        return false;
      bool mark[SINTER_MAX_RANK] = {false};
      int32_t big = p->op == SINTER_OP_UNSQUEEZE ? r : rx;
      for (int64_t i = 0; i < na; i++) {
        int64_t a = sinter_load_i64(ax->data, ax->type.dtype, i);
        if (a < 0) a += big;
        if (a < 0 || a >= big) return false;
        mark[a] = true;
      }
      if (p->op == SINTER_OP_UNSQUEEZE) {
        if (na < 1 || r != rx + na || mark[d]) return false;
        int32_t k = 0;
        for (int32_t i = 0; i < d; i++) k += !mark[i];
        c[(*nc)++] = (dimref_t){x, k};
      } else {
        if (na < 1 || r != rx - na) return false;
        int32_t seen = -1;
        for (int32_t i = 0; i < rx; i++)
          if (!mark[i] && ++seen == d) {
            c[(*nc)++] = (dimref_t){x, i};
            break;
          }
      }
      return *nc == 1;
    }
    case SINTER_OP_IDENTITY:
    case SINTER_OP_SOFTMAX:
    case SINTER_OP_LOG_SOFTMAX:
    case SINTER_OP_LAYER_NORMALIZATION:
    case SINTER_OP_RMS_NORMALIZATION:
    case SINTER_OP_DROPOUT:
      if (p->inputs[0]->type.rank != r) return false;
      c[(*nc)++] = (dimref_t){p->inputs[0], d};
      return true;
    case SINTER_OP_CLIP:
    case SINTER_OP_CAST_LIKE: return bcast_cands(p, r, d, 0, 1, c, nc);
    default:
      if (info && (info->traits & SINTER_OPF_ELEMWISE) && p->n_outputs == 1)
        return bcast_cands(p, r, d, 0, p->n_inputs, c, nc);
      return false;
  }
}

static bool same_ref(dimref_t a, dimref_t b) {
  return a.v == b.v && a.d == b.d;
}

/* True when two dims are both known and equal, or are the same named symbol. */
static bool dims_same_type(sinter_dim_t x, sinter_dim_t y) {
  if (x.size >= 0 && y.size >= 0) return x.size == y.size;
  return same_sym(x, y);
}

static dimref_t dim_root_at(dimmemo_t *memo, const sinter_value_t *v, int32_t d, int depth) {
  dimref_t self = {v, d}, r;
  uint64_t key = memo_key(v, d);
  if (memo_get(memo, key, &r)) return r;
  if (depth > MAX_DEPTH) return self; /* not memoized: a deeper start may still get further */
  dimref_t c[MAX_CANDS];
  int32_t nc;
  if (!dim_cands(v, d, c, &nc) || nc == 0) {
    r = self;
  } else {
    /* Candidates with the same root, or roots of one known size or symbol, are all one size. */
    r = dim_root_at(memo, c[0].v, c[0].d, depth + 1);
    for (int32_t i = 1; i < nc && !same_ref(r, self); i++) {
      dimref_t ri = dim_root_at(memo, c[i].v, c[i].d, depth + 1);
      if (!same_ref(ri, r) && !dims_same_type(ri.v->type.dims[ri.d], r.v->type.dims[r.d])) r = self;
    }
  }
  memo_put(memo, key, r);
  return r;
}

/* True when dim i of a and dim j of b are provably the same size. */
static bool dims_equal(dimmemo_t *memo, const sinter_value_t *a, int32_t i, const sinter_value_t *b,
                       int32_t j) {
  if (i < 0 || j < 0 || a->type.rank <= i || b->type.rank <= j) return false;
  if (dims_same_type(a->type.dims[i], b->type.dims[j])) return true;
  dimref_t ra = dim_root_at(memo, a, i, 0), rb = dim_root_at(memo, b, j, 0);
  if (same_ref(ra, rb)) return true;
  /* A root passes its dim on unchanged, so its type speaks for the traced dim. */
  return dims_same_type(ra.v->type.dims[ra.d], rb.v->type.dims[rb.d]) ||
         dims_same_type(a->type.dims[i], rb.v->type.dims[rb.d]) ||
         dims_same_type(ra.v->type.dims[ra.d], b->type.dims[j]);
}

/* ---- reading reshape targets ---------------------------------------------------
 * An entry of a shape vector: a constant, "dim d of value v" (from Shape), or unknown. */

typedef enum sym_kind_e { SYM_UNKNOWN = 0, SYM_CONST, SYM_DIM } sym_kind_t;

typedef struct sym_s {
  sym_kind_t kind;
  int64_t c;
  dimref_t dim;
} sym_t;

enum { MAX_SYMS = SINTER_MAX_RANK };

static bool read_vec(const sinter_value_t *v, sym_t *out, int32_t *n, int depth);

static sym_t read_scalar(const sinter_value_t *v, int depth) {
  sym_t u = {SYM_UNKNOWN, 0, {NULL, 0}};
  if (depth > 16 || !v) return u;
  int64_t numel;
  if (sinter_pat_is_const(v) && sinter_dtype_is_int(v->type.dtype) &&
      sinter_type_numel(&v->type, &numel) && numel == 1 && v->type.rank <= 1) {
    u.kind = SYM_CONST;
    u.c = sinter_load_i64(v->data, v->type.dtype, 0);
    return u;
  }
  const sinter_node_t *p = sinter_pat_producer(v, SINTER_OP_INVALID);
  if (!p) return u;
  if (p->op == SINTER_OP_CAST || p->op == SINTER_OP_IDENTITY) {
    if (sinter_dtype_is_int(p->inputs[0]->type.dtype) && sinter_dtype_is_int(v->type.dtype))
      return read_scalar(p->inputs[0], depth + 1);
    return u;
  }
  if ((p->op == SINTER_OP_SQUEEZE || p->op == SINTER_OP_UNSQUEEZE || p->op == SINTER_OP_RESHAPE) &&
      sinter_type_numel(&v->type, &numel) && numel == 1) {
    sym_t e[MAX_SYMS];
    int32_t n;
    if (read_vec(p->inputs[0], e, &n, depth + 1) && n == 1) return e[0];
    return read_scalar(p->inputs[0], depth + 1);
  }
  if (p->op == SINTER_OP_GATHER && sinter_node_attr_int(p, "axis", 0) == 0) {
    const sinter_value_t *idx = p->inputs[1];
    if (!sinter_pat_is_const(idx) || !sinter_dtype_is_int(idx->type.dtype) ||
        !sinter_type_numel(&idx->type, &numel) || numel != 1)
      return u;
    sym_t e[MAX_SYMS];
    int32_t n;
    if (!read_vec(p->inputs[0], e, &n, depth + 1)) return u;
    int64_t k = sinter_load_i64(idx->data, idx->type.dtype, 0);
    if (k < 0) k += n;
    if (k < 0 || k >= n) return u;
    return e[k];
  }
  return u;
}

/* Reads a 1-D integer shape vector into entries; false when its length is unknown. */
static bool read_vec(const sinter_value_t *v, sym_t *out, int32_t *n, int depth) {
  if (depth > 16 || !v || v->type.rank != 1 || !sinter_dtype_is_int(v->type.dtype)) return false;
  int64_t len = v->type.dims[0].size;
  if (len > MAX_SYMS) return false;
  if (sinter_pat_is_const(v)) {
    if (len < 0) return false;
    for (int64_t i = 0; i < len; i++)
      out[i] = (sym_t){SYM_CONST, sinter_load_i64(v->data, v->type.dtype, i), {NULL, 0}};
    *n = (int32_t)len;
    return true;
  }
  const sinter_node_t *p = sinter_pat_producer(v, SINTER_OP_INVALID);
  if (p && p->op == SINTER_OP_SHAPE) {
    const sinter_value_t *x = p->inputs[0];
    int32_t r = x->type.rank;
    if (r < 0) return false;
    int64_t s = sinter_node_attr_int(p, "start", 0), e = sinter_node_attr_int(p, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    if (e - s > MAX_SYMS) return false;
    int32_t k = 0;
    for (int64_t i = s; i < e; i++) out[k++] = (sym_t){SYM_DIM, 0, {x, (int32_t)i}};
    *n = k;
    return true;
  }
  if (p && p->op == SINTER_OP_CONCAT &&
      (sinter_node_attr_int(p, "axis", 0) == 0 || sinter_node_attr_int(p, "axis", 0) == -1)) {
    int32_t k = 0;
    for (int32_t i = 0; i < p->n_inputs; i++) {
      sym_t part[MAX_SYMS];
      int32_t m;
      if (!read_vec(p->inputs[i], part, &m, depth + 1) || k + m > MAX_SYMS) return false;
      for (int32_t j = 0; j < m; j++) out[k++] = part[j];
    }
    *n = k;
    return true;
  }
  if (p && (p->op == SINTER_OP_UNSQUEEZE || p->op == SINTER_OP_RESHAPE) && len == 1) {
    out[0] = read_scalar(p->inputs[0], depth + 1);
    *n = 1;
    return true;
  }
  if (p && p->op == SINTER_OP_CAST && sinter_dtype_is_int(p->inputs[0]->type.dtype))
    return read_vec(p->inputs[0], out, n, depth + 1);
  if (p && p->op == SINTER_OP_GATHER && sinter_node_attr_int(p, "axis", 0) == 0 &&
      sinter_pat_is_const(p->inputs[1]) && sinter_dtype_is_int(p->inputs[1]->type.dtype) &&
      p->inputs[1]->type.rank == 1) {
    sym_t e[MAX_SYMS];
    int32_t m;
    int64_t cnt;
    if (!read_vec(p->inputs[0], e, &m, depth + 1) ||
        !sinter_type_numel(&p->inputs[1]->type, &cnt) || cnt > MAX_SYMS)
      return false;
    for (int64_t i = 0; i < cnt; i++) {
      int64_t k = sinter_load_i64(p->inputs[1]->data, p->inputs[1]->type.dtype, i);
      if (k < 0) k += m;
      if (k < 0 || k >= m) return false;
      out[i] = e[k];
    }
    *n = (int32_t)cnt;
    return true;
  }
  if (len < 0) return false;
  for (int64_t i = 0; i < len; i++) out[i] = (sym_t){SYM_UNKNOWN, 0, {NULL, 0}};
  *n = (int32_t)len;
  return true;
}

/* True when reshape target entry e at position i provably equals dim i of value x. A 0
 * copies the dim at the same position of the reshaped tensor, which is right when
 * copies_x_dim says that tensor's dim i is x's dim i. */
static bool entry_is_dim(dimmemo_t *memo, sym_t e, bool allowzero, bool copies_x_dim,
                         const sinter_value_t *x, int32_t i) {
  if (e.kind == SYM_CONST) {
    if (e.c == 0 && !allowzero) return copies_x_dim;
    return e.c > 0 && x->type.rank > i && x->type.dims[i].size == e.c;
  }
  if (e.kind == SYM_DIM) return dims_equal(memo, e.dim.v, e.dim.d, x, i);
  return false;
}

/* ---- the head split and merge ------------------------------------------------ */

/* When v is a chain of single-use Transposes (composed perm want) over a single-use Reshape
 * that splits src [B,S,E] into [B,S,H,E/H], stores src and H. */
static bool head_split(dimmemo_t *memo, sinter_value_t *v, const int64_t want[4],
                       sinter_value_t **out_src, int64_t *out_heads) {
  int64_t c[4] = {0, 1, 2, 3};
  sinter_value_t *cur = v;
  for (;;) {
    sinter_node_t *t = sinter_pat_producer(cur, SINTER_OP_TRANSPOSE);
    if (!t) break;
    int64_t p[4];
    if (!sinter_pat_single_use(cur) || t->inputs[0]->type.rank != 4 || !transpose_perm(t, 4, p))
      return false;
    for (int32_t i = 0; i < 4; i++) c[i] = p[c[i]];
    cur = t->inputs[0];
  }
  if (!perm_is(c, 4, want)) return false;
  sinter_node_t *r = sinter_pat_producer(cur, SINTER_OP_RESHAPE);
  if (!r || !sinter_pat_single_use(cur) || cur->type.rank != 4) return false;
  sinter_value_t *src = r->inputs[0];
  if (src->type.rank != 3) return false;
  const sinter_type_t *st = &src->type, *ot = &cur->type;
  /* Static shapes say it directly. */
  if (sinter_type_is_static(st) && sinter_type_is_static(ot)) {
    if (ot->dims[0].size != st->dims[0].size || ot->dims[1].size != st->dims[1].size ||
        ot->dims[2].size < 1 || ot->dims[2].size * ot->dims[3].size != st->dims[2].size)
      return false;
    *out_src = src;
    *out_heads = ot->dims[2].size;
    return true;
  }
  sym_t e[MAX_SYMS];
  int32_t n;
  bool allowzero = sinter_node_attr_int(r, "allowzero", 0) != 0;
  if (!read_vec(r->inputs[1], e, &n, 0) || n != 4) return false;
  if (!entry_is_dim(memo, e[0], allowzero, true, src, 0) ||
      !entry_is_dim(memo, e[1], allowzero, true, src, 1))
    return false;
  /* [B,S,H,?]: the element count forces the last entry to E/H. */
  if (e[2].kind == SYM_CONST && e[2].c > 0) {
    if (st->dims[2].size >= 0 && st->dims[2].size % e[2].c != 0) return false;
    *out_src = src;
    *out_heads = e[2].c;
    return true;
  }
  /* [B,S,-1,D] with E known. */
  if (e[2].kind == SYM_CONST && e[2].c == -1 && e[3].kind == SYM_CONST && e[3].c > 0 &&
      st->dims[2].size > 0 && st->dims[2].size % e[3].c == 0) {
    *out_src = src;
    *out_heads = st->dims[2].size / e[3].c;
    return true;
  }
  return false;
}

/* When the attention output o [B,H,Sq,Dv] only feeds single-use Transposes (composed perm
 * [0,2,1,3]) and then a Reshape to [B,Sq,H*Dv], where B and Sq are dims 0 and 1 of q_src,
 * returns that Reshape. */
static sinter_node_t *head_merge(dimmemo_t *memo, sinter_value_t *o, const sinter_value_t *q_src) {
  static const int64_t want[4] = {0, 2, 1, 3};
  int64_t c[4] = {0, 1, 2, 3};
  sinter_value_t *cur = o;
  sinter_node_t *u;
  int32_t slot;
  for (;;) {
    u = only_user(cur, &slot);
    if (!u || u->op != SINTER_OP_TRANSPOSE) break;
    int64_t p[4], nc[4];
    if (cur->type.rank != 4 || !transpose_perm(u, 4, p)) return NULL;
    for (int32_t i = 0; i < 4; i++) nc[i] = c[p[i]];
    memcpy(c, nc, sizeof(c));
    cur = u->outputs[0];
  }
  if (!u || u->op != SINTER_OP_RESHAPE || slot != 0 || !perm_is(c, 4, want) || cur == o)
    return NULL;
  const sinter_value_t *res = u->outputs[0];
  if (res->type.rank >= 0 && res->type.rank != 3) return NULL;
  if (sinter_type_is_static(&res->type) && sinter_type_is_static(&q_src->type))
    return res->type.dims[0].size == q_src->type.dims[0].size &&
                   res->type.dims[1].size == q_src->type.dims[1].size
               ? u
               : NULL;
  sym_t e[MAX_SYMS];
  int32_t n;
  bool allowzero = sinter_node_attr_int(u, "allowzero", 0) != 0;
  if (!read_vec(u->inputs[1], e, &n, 0) || n != 3) return NULL;
  /* A 0 copies the transposed output's dim, which is B (then Sq) already. */
  if (!entry_is_dim(memo, e[0], allowzero, true, q_src, 0) ||
      !entry_is_dim(memo, e[1], allowzero, true, q_src, 1))
    return NULL;
  return u;
}

/* ---- causal masks ---------------------------------------------------------------- */

/* True when scores' last two dims are static and equal to the constant m's, whose leading dims
 * are all 1 (so m cannot broadcast the scores any further). */
static bool mask_fits(const sinter_value_t *m, const sinter_value_t *scores, int64_t *sq,
                      int64_t *sk) {
  int32_t r = scores->type.rank, mr = m->type.rank;
  if (mr < 2 || r < 2 || mr > r || !sinter_type_is_static(&m->type)) return false;
  for (int32_t d = 0; d < mr - 2; d++)
    if (m->type.dims[d].size != 1) return false;
  *sq = m->type.dims[mr - 2].size;
  *sk = m->type.dims[mr - 1].size;
  return scores->type.dims[r - 2].size == *sq && scores->type.dims[r - 1].size == *sk;
}

/* An additive constant mask that is 0 where key j <= query i and at most MASKED_AT_MOST
 * elsewhere. */
static bool causal_additive(const sinter_value_t *m, const sinter_value_t *scores) {
  int64_t sq, sk;
  if (!sinter_pat_is_const(m) || !sinter_pat_is_float(m) || !mask_fits(m, scores, &sq, &sk))
    return false;
  for (int64_t i = 0; i < sq; i++)
    for (int64_t j = 0; j < sk; j++) {
      double x = sinter_load_f64(m->data, m->type.dtype, i * sk + j);
      if (j <= i ? x != 0.0 : !(x <= MASKED_AT_MOST)) return false;
    }
  return true;
}

/* A constant bool condition that is true exactly where key j <= query i (keep) or, with
 * inverted, exactly where j > i. */
static bool causal_cond(const sinter_value_t *c, const sinter_value_t *scores, bool inverted) {
  int64_t sq, sk;
  if (!sinter_pat_is_const(c) || c->type.dtype != SINTER_DTYPE_BOOL ||
      !mask_fits(c, scores, &sq, &sk))
    return false;
  const uint8_t *d = c->data;
  for (int64_t i = 0; i < sq; i++)
    for (int64_t j = 0; j < sk; j++)
      if ((d[i * sk + j] != 0) != ((j <= i) != inverted)) return false;
  return true;
}

/* A scalar constant fill at most MASKED_AT_MOST (or -inf). */
static bool masked_fill(const sinter_value_t *f, const sinter_value_t *scores) {
  int64_t n;
  if (!sinter_pat_is_const(f) || !sinter_pat_is_float(f) || !sinter_type_numel(&f->type, &n) ||
      n != 1 || f->type.rank > scores->type.rank)
    return false;
  return sinter_load_f64(f->data, f->type.dtype, 0) <= MASKED_AT_MOST;
}

/* ---- matching -------------------------------------------------------------------- */

typedef struct attn_match_s {
  sinter_node_t *softmax, *qk, *pv;
  sinter_value_t *q, *kt, *v, *mask;
  double scale;
  bool causal;
} attn_match_t;

/* The scores MatMul under *s after stripping scalar factors, when its output is single use. */
static sinter_node_t *scores_matmul(sinter_value_t *s, double *scale) {
  strip_scale(&s, scale);
  sinter_node_t *mm = sinter_pat_producer(s, SINTER_OP_MATMUL);
  return mm && sinter_pat_single_use(s) ? mm : NULL;
}

static bool match_core(sinter_node_t *sm, attn_match_t *m) {
  memset(m, 0, sizeof(*m));
  m->softmax = sm;
  m->scale = 1.0;
  sinter_value_t *x = sm->inputs[0], *p = sm->outputs[0];
  int32_t r = x->type.rank, slot;
  if (r < 2 || !float_dtype(x->type.dtype)) return false;
  int64_t axis = sinter_node_attr_int(sm, "axis", -1);
  if (axis < 0) axis += r;
  if (axis != r - 1) return false;
  sinter_node_t *pv = only_user(p, &slot);
  if (!pv || pv->op != SINTER_OP_MATMUL || slot != 0) return false;
  if (!sinter_pat_single_use(x)) return false;
  sinter_node_t *prod = sinter_pat_producer(x, SINTER_OP_INVALID);
  sinter_node_t *qk = NULL;
  if (prod && prod->op == SINTER_OP_ADD) {
    for (int32_t side = 0; side < 2 && !qk; side++) {
      double sc = 1.0;
      qk = scores_matmul(prod->inputs[side], &sc);
      if (qk) {
        m->scale = sc;
        m->mask = prod->inputs[1 - side];
      }
    }
    if (qk && causal_additive(m->mask, qk->outputs[0])) {
      m->mask = NULL;
      m->causal = true;
    }
  } else if (prod && prod->op == SINTER_OP_WHERE) {
    /* Where(tril, scores, fill) or Where(triu, fill, scores). */
    for (int32_t side = 1; side <= 2 && !qk; side++) {
      double sc = 1.0;
      sinter_node_t *mm = scores_matmul(prod->inputs[side], &sc);
      if (!mm) continue;
      const sinter_value_t *scores = mm->outputs[0];
      if (!causal_cond(prod->inputs[0], scores, side == 2) ||
          !masked_fill(prod->inputs[3 - side], scores))
        continue;
      qk = mm;
      m->scale = sc;
      m->causal = true;
    }
  } else {
    qk = scores_matmul(x, &m->scale);
  }
  if (!qk) return false;
  m->qk = qk;
  m->pv = pv;
  m->q = qk->inputs[0];
  m->kt = qk->inputs[1];
  m->v = pv->inputs[1];
  strip_scale(&m->q, &m->scale);
  strip_scale(&m->kt, &m->scale);
  const sinter_value_t *vals[5] = {m->q, m->kt, m->v, qk->outputs[0], pv->outputs[0]};
  for (int32_t i = 0; i < 5; i++)
    if (vals[i]->type.rank != r || vals[i]->type.dtype != x->type.dtype) return false;
  if (m->mask) {
    if (m->mask->type.rank < 0 || m->mask->type.rank > r || m->mask->type.dtype != x->type.dtype)
      return false;
    if (m->mask == m->q || m->mask == m->kt || m->mask == m->v) return false;
  }
  return isfinite(m->scale) && m->scale != 0 && fabs(m->scale) < 3.4e38;
}

/* The packed form: head splits on Q, K, V and the merge on the output, all absorbable. */
typedef struct bse_match_s {
  sinter_value_t *q, *k, *v;
  int64_t heads;
  sinter_node_t *merge;
} bse_match_t;

static bool match_bse(dimmemo_t *memo, attn_match_t *m, bse_match_t *b) {
  static const int64_t qv_perm[4] = {0, 2, 1, 3}, kt_perm[4] = {0, 2, 3, 1};
  if (m->q->type.rank != 4) return false;
  int64_t hq, hk, hv;
  if (!head_split(memo, m->q, qv_perm, &b->q, &hq) ||
      !head_split(memo, m->kt, kt_perm, &b->k, &hk) ||
      !head_split(memo, m->v, qv_perm, &b->v, &hv) || hq != hk || hq != hv)
    return false;
  b->heads = hq;
  /* Batch: K, V and the mask must not broadcast Q's batch any wider. */
  const sinter_value_t *kv[2] = {b->k, b->v};
  for (int32_t i = 0; i < 2; i++)
    if (kv[i]->type.dims[0].size != 1 && !dims_equal(memo, kv[i], 0, b->q, 0)) return false;
  if (m->mask) {
    const sinter_value_t *mk = m->mask;
    int32_t mr = mk->type.rank;
    if (mr == 4 && mk->type.dims[0].size != 1 && !dims_equal(memo, mk, 0, b->q, 0)) return false;
    if (mr >= 3 && mk->type.dims[mr - 3].size != 1 && mk->type.dims[mr - 3].size != b->heads)
      return false;
  }
  b->merge = head_merge(memo, m->pv->outputs[0], b->q);
  return b->merge != NULL;
}

/* ---- rewriting ----------------------------------------------------------------------- */

/* Gives nv the name the replaced value old had, unless nv already has one (a graph output's
 * name moves with sinter_pat_replace_output). */
static sinter_status_t adopt_name(sinter_value_t *old, sinter_value_t *nv, const char *name) {
  if (!name[0] || nv->name[0]) return NULL;
  SINTER_TRY(sinter_value_set_name(old, ""));
  return sinter_value_set_name(nv, name);
}

/* Removes freshly made nodes, users first, after a failed rewrite. */
static void undo(sinter_graph_t *g, sinter_node_t **made, int32_t n) {
  for (int32_t i = n - 1; i >= 0; i--) sinter_status_free(sinter_graph_remove_node(g, made[i]));
}

/* K [..,Sk,D] from K^T [..,D,Sk]: through the Transpose that made K^T when there is one. */
static sinter_status_t key_from_kt(sinter_graph_t *g, sinter_node_t *before, sinter_value_t *kt,
                                   sinter_node_t **made, int32_t *n_made, sinter_value_t **out_k) {
  int32_t r = kt->type.rank;
  int64_t perm[SINTER_MAX_RANK];
  sinter_value_t *src = kt;
  sinter_node_t *t = sinter_pat_producer(kt, SINTER_OP_TRANSPOSE);
  if (t && t->inputs[0]->type.rank == r && transpose_perm(t, r, perm)) {
    src = t->inputs[0];
  } else {
    for (int32_t i = 0; i < r; i++) perm[i] = i;
  }
  int64_t tmp = perm[r - 1];
  perm[r - 1] = perm[r - 2];
  perm[r - 2] = tmp;
  bool identity = true;
  for (int32_t i = 0; i < r; i++) identity = identity && perm[i] == i;
  if (identity) {
    *out_k = src;
    return NULL;
  }
  char name[512];
  snprintf(name, sizeof(name), "%s/key", before->name[0] ? before->name : "attention");
  sinter_node_t *n;
  SINTER_TRY(sinter_graph_insert_node(g, before, SINTER_OP_TRANSPOSE, name, &src, 1, 1, &n));
  made[(*n_made)++] = n;
  SINTER_TRY(sinter_node_set_attr_ints(n, "perm", perm, r));
  SINTER_TRY(sinter_pat_infer_node(g, n));
  *out_k = n->outputs[0];
  return NULL;
}

/* Rewrites one match; *fired says whether the graph changed. */
static sinter_status_t rewrite(sinter_graph_t *g, dimmemo_t *memo, attn_match_t *m, bool *fired) {
  *fired = false;
  bse_match_t b;
  memset(&b, 0, sizeof(b));
  bool bse = match_bse(memo, m, &b);
  sinter_node_t *replaced = bse ? b.merge : m->pv;
  sinter_node_t *made[4];
  int32_t n_made = 0;
  sinter_value_t *ins[4];
  if (bse) {
    ins[0] = b.q;
    ins[1] = b.k;
    ins[2] = b.v;
  } else {
    ins[0] = m->q;
    ins[2] = m->v;
    sinter_status_t st = key_from_kt(g, m->pv, m->kt, made, &n_made, &ins[1]);
    if (st) {
      undo(g, made, n_made);
      return st;
    }
  }
  ins[3] = m->mask;
  sinter_node_t *attn;
  sinter_status_t st = sinter_graph_insert_node(g, m->pv, SINTER_OP_ATTENTION, replaced->name, ins,
                                                m->mask ? 4 : 3, 1, &attn);
  if (!st) made[n_made++] = attn;
  if (!st) st = sinter_node_set_attr_string(attn, "layout", bse ? "bse" : "bhsd", bse ? 3 : 4);
  if (!st && bse) st = sinter_node_set_attr_int(attn, "num_heads", b.heads);
  if (!st) st = sinter_node_set_attr_float(attn, "scale", (float)m->scale);
  if (!st) st = sinter_node_set_attr_int(attn, "causal", m->causal ? 1 : 0);
  if (!st) st = sinter_pat_infer_node(g, attn);
  if (st) {
    /* A shape the op cannot take (the original graph would fail at run time too): leave it. */
    sinter_status_free(st);
    undo(g, made, n_made);
    return NULL;
  }
  sinter_value_t *old = replaced->outputs[0];
  char name[512];
  snprintf(name, sizeof(name), "%s", old->name);
  SINTER_TRY(sinter_pat_replace_output(g, replaced, 0, attn->outputs[0]));
  SINTER_TRY(adopt_name(old, attn->outputs[0], name));
  *fired = true;
  return NULL;
}

/* ---- decomposition into standard ONNX ------------------------------------------------- */

/* Inserts op before `before`, named base/suffix, sets no attributes. */
static sinter_status_t emit(sinter_graph_t *g, sinter_node_t *before, sinter_op_t op,
                            const char *base, const char *suffix, sinter_value_t *const *ins,
                            int32_t n_in, sinter_node_t **out) {
  char name[512];
  snprintf(name, sizeof(name), "%s/%s", base, suffix);
  return sinter_graph_insert_node(g, before, op, name, ins, n_in, 1, out);
}

static sinter_status_t emit_done(sinter_graph_t *g, sinter_node_t *n, sinter_value_t **out) {
  SINTER_TRY(sinter_pat_infer_node(g, n));
  *out = n->outputs[0];
  return NULL;
}

static sinter_status_t transpose_of(sinter_graph_t *g, sinter_node_t *before, const char *base,
                                    const char *suffix, sinter_value_t *x, const int64_t *perm,
                                    int32_t rank, sinter_value_t **out) {
  sinter_node_t *n;
  SINTER_TRY(emit(g, before, SINTER_OP_TRANSPOSE, base, suffix, &x, 1, &n));
  SINTER_TRY(sinter_node_set_attr_ints(n, "perm", perm, rank));
  return emit_done(g, n, out);
}

/* x [B,S,E] -> [B,H,S,E/H] (or [B,H,E/H,S] with key_t). */
static sinter_status_t split_heads(sinter_graph_t *g, sinter_node_t *before, const char *base,
                                   const char *what, sinter_value_t *x, sinter_value_t *shape,
                                   bool key_t, sinter_value_t **out) {
  static const int64_t qv[4] = {0, 2, 1, 3}, kt[4] = {0, 2, 3, 1};
  char suffix[64];
  snprintf(suffix, sizeof(suffix), "%s_split", what);
  sinter_value_t *ins[2] = {x, shape}, *r;
  sinter_node_t *n;
  SINTER_TRY(emit(g, before, SINTER_OP_RESHAPE, base, suffix, ins, 2, &n));
  SINTER_TRY(emit_done(g, n, &r));
  snprintf(suffix, sizeof(suffix), "%s_heads", what);
  return transpose_of(g, before, base, suffix, r, key_t ? kt : qv, 4, out);
}

/* [Sq,Sk] bool, true where key j > query i: a constant when both lengths are known, else
 * computed from the scores' shape. */
static sinter_status_t causal_condition(sinter_graph_t *g, sinter_node_t *before, const char *base,
                                        sinter_value_t *s, sinter_value_t **out) {
  int32_t r = s->type.rank;
  sinter_dim_t dq = s->type.dims[r - 2], dk = s->type.dims[r - 1];
  char hint[512];
  snprintf(hint, sizeof(hint), "%s/causal", base);
  if (dq.size >= 0 && dk.size >= 0) {
    int64_t n;
    if (__builtin_mul_overflow(dq.size, dk.size, &n) || n > (1 << 26))
      return SINTER_ERROR(SINTER_UNSUPPORTED, "causal mask of %lld x %lld is too large",
                          (long long)dq.size, (long long)dk.size);
    uint8_t *d = malloc((size_t)(n > 0 ? n : 1));
    if (!d) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < dq.size; i++)
      for (int64_t j = 0; j < dk.size; j++) d[i * dk.size + j] = j > i;
    sinter_type_t t;
    int64_t dims[2] = {dq.size, dk.size};
    sinter_type_set_static(&t, SINTER_DTYPE_BOOL, 2, dims);
    char name[512];
    sinter_pat_unique_name(g, hint, name, sizeof(name));
    sinter_status_t st = sinter_graph_add_const(g, name, &t, d, (size_t)n, out);
    free(d);
    return st;
  }
  sinter_value_t *shape, *sq, *sk, *zero, *one, *axis1, *rq, *rk, *rq1, *v;
  sinter_node_t *n;
  int64_t k;
  SINTER_TRY(emit(g, before, SINTER_OP_SHAPE, base, "scores_shape", &s, 1, &n));
  SINTER_TRY(emit_done(g, n, &shape));
  k = -2;
  SINTER_TRY(sinter_pat_add_const_i64(g, hint, 0, NULL, &k, &v));
  sinter_value_t *gi[2] = {shape, v};
  SINTER_TRY(emit(g, before, SINTER_OP_GATHER, base, "query_len", gi, 2, &n));
  SINTER_TRY(emit_done(g, n, &sq));
  k = -1;
  SINTER_TRY(sinter_pat_add_const_i64(g, hint, 0, NULL, &k, &v));
  gi[1] = v;
  SINTER_TRY(emit(g, before, SINTER_OP_GATHER, base, "key_len", gi, 2, &n));
  SINTER_TRY(emit_done(g, n, &sk));
  k = 0;
  SINTER_TRY(sinter_pat_add_const_i64(g, hint, 0, NULL, &k, &zero));
  k = 1;
  SINTER_TRY(sinter_pat_add_const_i64(g, hint, 0, NULL, &k, &one));
  int64_t one_dim = 1;
  SINTER_TRY(sinter_pat_add_const_i64(g, hint, 1, &one_dim, &k, &axis1));
  sinter_value_t *ri[3] = {zero, sq, one};
  SINTER_TRY(emit(g, before, SINTER_OP_RANGE, base, "query_pos", ri, 3, &n));
  SINTER_TRY(emit_done(g, n, &rq));
  ri[1] = sk;
  SINTER_TRY(emit(g, before, SINTER_OP_RANGE, base, "key_pos", ri, 3, &n));
  SINTER_TRY(emit_done(g, n, &rk));
  sinter_value_t *ui[2] = {rq, axis1};
  SINTER_TRY(emit(g, before, SINTER_OP_UNSQUEEZE, base, "query_col", ui, 2, &n));
  SINTER_TRY(emit_done(g, n, &rq1));
  sinter_value_t *li[2] = {rq1, rk};
  SINTER_TRY(emit(g, before, SINTER_OP_LESS, base, "future", li, 2, &n));
  return emit_done(g, n, out);
}

sinter_status_t sinter_decompose_attention(sinter_graph_t *g, sinter_node_t *node) {
  if (node->op != SINTER_OP_ATTENTION || node->n_inputs < 3)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "not an Attention node");
  const char *layout = sinter_node_attr_string(node, "layout", "bhsd");
  bool bse = strcmp(layout, "bse") == 0;
  if (!bse && strcmp(layout, "bhsd") != 0)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "layout is '%s', expected 'bse' or 'bhsd'", layout);
  int64_t heads = sinter_node_attr_int(node, "num_heads", 0);
  bool causal = sinter_node_attr_int(node, "causal", 0) != 0;
  sinter_value_t *q = node->inputs[0], *k = node->inputs[1], *v = node->inputs[2];
  sinter_value_t *mask = node->n_inputs > 3 ? node->inputs[3] : NULL;
  sinter_dtype_t dt = q->type.dtype;
  const char *base = node->name[0] ? node->name : "attention";
  double scale;
  const sinter_attr_t *sa = sinter_node_attr(node, "scale");
  if (sa && sa->kind == SINTER_ATTR_FLOAT) {
    scale = sa->f;
  } else {
    int64_t d = -1;
    if (bse && q->type.rank == 3 && q->type.dims[2].size > 0 && heads > 0)
      d = q->type.dims[2].size / heads;
    else if (!bse && q->type.rank >= 2)
      d = q->type.dims[q->type.rank - 1].size;
    if (d <= 0)
      return SINTER_ERROR(SINTER_UNSUPPORTED, "no scale attribute and the head size is unknown");
    scale = (double)(float)(1.0 / sqrt((double)d));
  }
  sinter_value_t *qh, *kt, *vh, *s, *tmp;
  sinter_node_t *n;
  if (bse) {
    if (heads < 1) return SINTER_ERROR(SINTER_INVALID_MODEL, "layout 'bse' needs num_heads");
    int64_t shp[4] = {0, 0, heads, -1}, four = 4;
    char hint[512];
    snprintf(hint, sizeof(hint), "%s/head_shape", base);
    sinter_value_t *shape;
    SINTER_TRY(sinter_pat_add_const_i64(g, hint, 1, &four, shp, &shape));
    SINTER_TRY(split_heads(g, node, base, "query", q, shape, false, &qh));
    SINTER_TRY(split_heads(g, node, base, "key", k, shape, true, &kt));
    SINTER_TRY(split_heads(g, node, base, "value", v, shape, false, &vh));
  } else {
    int32_t r = k->type.rank;
    if (r < 2) return SINTER_ERROR(SINTER_UNSUPPORTED, "the rank of the key is unknown");
    int64_t perm[SINTER_MAX_RANK];
    for (int32_t i = 0; i < r; i++) perm[i] = i;
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    qh = q;
    vh = v;
    SINTER_TRY(transpose_of(g, node, base, "key_t", k, perm, r, &kt));
  }
  sinter_value_t *mi[2] = {qh, kt};
  SINTER_TRY(emit(g, node, SINTER_OP_MATMUL, base, "scores", mi, 2, &n));
  SINTER_TRY(emit_done(g, n, &s));
  if (scale != 1.0) {
    char hint[512];
    snprintf(hint, sizeof(hint), "%s/scale", base);
    SINTER_TRY(sinter_pat_add_scalar(g, hint, dt, scale, &tmp));
    sinter_value_t *ai[2] = {s, tmp};
    SINTER_TRY(emit(g, node, SINTER_OP_MUL, base, "scaled", ai, 2, &n));
    SINTER_TRY(emit_done(g, n, &s));
  }
  if (mask) {
    sinter_value_t *ai[2] = {s, mask};
    SINTER_TRY(emit(g, node, SINTER_OP_ADD, base, "masked", ai, 2, &n));
    SINTER_TRY(emit_done(g, n, &s));
  }
  if (causal) {
    if (s->type.rank < 2)
      return SINTER_ERROR(SINTER_UNSUPPORTED, "the rank of the scores is unknown");
    sinter_value_t *cond, *fill;
    SINTER_TRY(causal_condition(g, node, base, s, &cond));
    char hint[512];
    snprintf(hint, sizeof(hint), "%s/masked_value", base);
    SINTER_TRY(sinter_pat_add_scalar(g, hint, dt, -INFINITY, &fill));
    sinter_value_t *wi[3] = {cond, fill, s};
    SINTER_TRY(emit(g, node, SINTER_OP_WHERE, base, "causal_scores", wi, 3, &n));
    SINTER_TRY(emit_done(g, n, &s));
  }
  SINTER_TRY(emit(g, node, SINTER_OP_SOFTMAX, base, "weights", &s, 1, &n));
  SINTER_TRY(sinter_node_set_attr_int(n, "axis", -1));
  SINTER_TRY(emit_done(g, n, &s));
  sinter_value_t *pi[2] = {s, vh};
  SINTER_TRY(emit(g, node, SINTER_OP_MATMUL, base, "context", pi, 2, &n));
  SINTER_TRY(emit_done(g, n, &s));
  if (bse) {
    static const int64_t back[4] = {0, 2, 1, 3};
    int64_t shp[3] = {0, 0, -1}, three = 3;
    SINTER_TRY(transpose_of(g, node, base, "merge_heads", s, back, 4, &s));
    char hint[512];
    snprintf(hint, sizeof(hint), "%s/merged_shape", base);
    sinter_value_t *shape;
    SINTER_TRY(sinter_pat_add_const_i64(g, hint, 1, &three, shp, &shape));
    sinter_value_t *ri[2] = {s, shape};
    SINTER_TRY(emit(g, node, SINTER_OP_RESHAPE, base, "merged", ri, 2, &n));
    SINTER_TRY(emit_done(g, n, &s));
  }
  sinter_value_t *old = node->outputs[0];
  char name[512];
  snprintf(name, sizeof(name), "%s", old->name);
  SINTER_TRY(sinter_pat_replace_output(g, node, 0, s));
  return adopt_name(old, s, name);
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  /* Softmax nodes in graph order, collected first: a rewrite removes nodes (never the other
   * Softmaxes' patterns, which it checks are single-use chains) and the arena keeps them. */
  int32_t total = sinter_graph_num_nodes(graph);
  sinter_node_t **list = malloc(sizeof(*list) * (size_t)(total > 0 ? total : 1));
  if (!list) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  int32_t n = 0;
  for (sinter_node_t *nd = graph->first; nd; nd = nd->next)
    if (nd->op == SINTER_OP_SOFTMAX) list[n++] = nd;
  dimmemo_t memo = {NULL, NULL, 0, 0};
  sinter_status_t st = NULL;
  for (int32_t i = 0; i < n && !st; i++) {
    sinter_node_t *sm = list[i];
    if (sm->outputs[0]->removed) continue;
    attn_match_t m;
    if (!match_core(sm, &m)) continue;
    bool fired;
    char desc[256];
    st = rewrite(graph, &memo, &m, &fired);
    if (st)
      st = sinter_status_annotate(st, "fusing attention at %s",
                                  sinter_ir_node_desc(sm, desc, sizeof(desc)));
    if (fired) counters->fused++;
  }
  free(list);
  memo_free(&memo);
  return st;
}

/* clang-format off */
const sinter_pass_info_t sinter_pass_fuse_attention = {
    "fuse-attention",
    "fuse scaled dot-product attention (with its head split and merge) into Attention",
    NULL, 0, run, NULL,
};
/* clang-format on */
