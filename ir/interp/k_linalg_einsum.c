/* Reference Einsum: explicit and implicit equations, ellipsis, repeated
 * labels (diagonals) and size-1 broadcasting. Two-operand f32 contractions
 * that are batched matrix products go through sinter_sgemm; everything else
 * iterates over all label combinations, summing in double (int64 for ints). */
#include "ir/interp/k_linalg_internal.h"

enum {
  MAX_OPERANDS = 16,
  N_LETTERS = 52,                           /* a-z then A-Z */
  MAX_LABELS = N_LETTERS + SINTER_MAX_RANK, /* letters, then ellipsis dims */
};

/* A parsed equation bound to operand ranks. Labels are ids: letters first,
 * then one id per ellipsis dim (left to right in the broadcast frame). */
typedef struct einsum_s {
  int32_t n_ops;
  int32_t rank[MAX_OPERANDS];
  int8_t label[MAX_OPERANDS][SINTER_MAX_RANK]; /* label id of each operand axis */
  int32_t out_rank;
  int8_t out_label[SINTER_MAX_RANK];
  int32_t ell_rank; /* dims the ellipsis stands for */
  bool in_output[MAX_LABELS];
  bool used[MAX_LABELS];
} einsum_t;

static int letter_id(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}

/* One side term: letters and at most one "...". Returns the letter count,
 * whether it has an ellipsis and its position, or -1 when malformed. */
typedef struct term_s {
  int8_t letters[64];
  int32_t n_letters;
  int32_t ell_pos; /* index in letters where "..." sits, -1 when absent */
} term_t;

static sinter_status_t parse_term(const char *s, size_t len, term_t *t) {
  t->n_letters = 0;
  t->ell_pos = -1;
  for (size_t i = 0; i < len;) {
    char c = s[i];
    if (c == ' ') {
      i++;
    } else if (c == '.') {
      if (i + 3 > len || s[i + 1] != '.' || s[i + 2] != '.' || t->ell_pos >= 0)
        return SINTER_NODE_ERROR("equation: malformed ellipsis");
      t->ell_pos = t->n_letters;
      i += 3;
    } else {
      int id = letter_id(c);
      if (id < 0) return SINTER_NODE_ERROR("equation: unexpected character '%c'", c);
      if (t->n_letters >= 64) return SINTER_NODE_ERROR("equation: term too long");
      t->letters[t->n_letters++] = (int8_t)id;
      i++;
    }
  }
  return NULL;
}

/* Parses equation for operands of the given ranks (all known). */
static sinter_status_t einsum_parse(const char *eq, int32_t n_ops, const int32_t *ranks,
                                    einsum_t *e) {
  memset(e, 0, sizeof(*e));
  if (n_ops > MAX_OPERANDS) return SINTER_NODE_UNSUPPORTED("more than %d operands", MAX_OPERANDS);
  e->n_ops = n_ops;
  const char *arrow = strstr(eq, "->");
  size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
  term_t terms[MAX_OPERANDS];
  int32_t n_terms = 0;
  size_t start = 0;
  for (size_t i = 0; i <= lhs_len; i++) {
    if (i == lhs_len || eq[i] == ',') {
      if (n_terms >= n_ops)
        return SINTER_NODE_ERROR("equation has more terms than the %d inputs", n_ops);
      SINTER_TRY(parse_term(eq + start, i - start, &terms[n_terms]));
      n_terms++;
      start = i + 1;
    }
  }
  if (n_terms != n_ops)
    return SINTER_NODE_ERROR("equation has %d terms for %d inputs", n_terms, n_ops);
  e->ell_rank = 0;
  int32_t count[MAX_LABELS] = {0};
  for (int32_t k = 0; k < n_ops; k++) {
    term_t *t = &terms[k];
    int32_t ell = ranks[k] - t->n_letters;
    if (t->ell_pos < 0 ? ell != 0 : ell < 0)
      return SINTER_NODE_ERROR("term %d has %d labels for an input of rank %d", k, t->n_letters,
                               ranks[k]);
    if (ranks[k] > SINTER_MAX_RANK) return SINTER_NODE_ERROR("input %d rank too large", k);
    if (ell > e->ell_rank) e->ell_rank = ell;
  }
  for (int32_t k = 0; k < n_ops; k++) {
    term_t *t = &terms[k];
    int32_t ell = ranks[k] - t->n_letters, ax = 0;
    e->rank[k] = ranks[k];
    for (int32_t i = 0; i <= t->n_letters; i++) {
      if (i == t->ell_pos)
        for (int32_t j = 0; j < ell; j++)
          e->label[k][ax++] = (int8_t)(N_LETTERS + e->ell_rank - ell + j);
      if (i < t->n_letters) {
        e->label[k][ax++] = t->letters[i];
        count[t->letters[i]]++;
      }
    }
    for (int32_t i = 0; i < ranks[k]; i++) e->used[e->label[k][i]] = true;
  }
  if (arrow) {
    term_t out;
    SINTER_TRY(parse_term(arrow + 2, strlen(arrow + 2), &out));
    int32_t r = out.n_letters + (out.ell_pos >= 0 ? e->ell_rank : 0);
    if (r > SINTER_MAX_RANK) return SINTER_NODE_ERROR("output rank %d too large", r);
    int32_t ax = 0;
    for (int32_t i = 0; i <= out.n_letters; i++) {
      if (i == out.ell_pos)
        for (int32_t j = 0; j < e->ell_rank; j++) e->out_label[ax++] = (int8_t)(N_LETTERS + j);
      if (i < out.n_letters) {
        int id = out.letters[i];
        if (!e->used[id])
          return SINTER_NODE_ERROR("output label %c does not appear in the inputs",
                                   id < 26 ? 'a' + id : 'A' + id - 26);
        if (e->in_output[id])
          return SINTER_NODE_ERROR("output label %c repeated", id < 26 ? 'a' + id : 'A' + id - 26);
        e->in_output[id] = true;
        e->out_label[ax++] = (int8_t)id;
      }
    }
    for (int32_t j = 0; j < ax; j++) e->in_output[e->out_label[j]] = true;
    e->out_rank = ax;
  } else {
    /* Implicit output: the ellipsis dims, then labels seen once, in ASCII
     * order (uppercase before lowercase), as NumPy does. */
    int32_t ax = 0;
    for (int32_t j = 0; j < e->ell_rank; j++) e->out_label[ax++] = (int8_t)(N_LETTERS + j);
    static const int ascii_order[N_LETTERS] = {26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
                                               39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
                                               0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                               13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25};
    for (int32_t i = 0; i < N_LETTERS; i++) {
      int id = ascii_order[i];
      if (count[id] == 1) {
        if (ax >= SINTER_MAX_RANK) return SINTER_NODE_ERROR("output rank too large");
        e->out_label[ax++] = (int8_t)id;
      }
    }
    for (int32_t j = 0; j < ax; j++) e->in_output[e->out_label[j]] = true;
    e->out_rank = ax;
  }
  return NULL;
}

/* Combines the size of label from one axis: equal sizes, or 1 broadcasting. */
static sinter_status_t merge_dim(sinter_dim_t *acc, bool *have, sinter_dim_t d, int label) {
  if (!*have) {
    *acc = d;
    *have = true;
    return NULL;
  }
  if (d.size == 1) return NULL;
  if (acc->size == 1) {
    *acc = d;
    return NULL;
  }
  if (d.size >= 0 && acc->size >= 0) {
    if (d.size != acc->size)
      return SINTER_NODE_ERROR("label %d has sizes %lld and %lld", label, (long long)acc->size,
                               (long long)d.size);
  } else if (d.size >= 0) {
    *acc = d;
  } else if (acc->size < 0 && acc->sym != d.sym) {
    acc->sym = NULL;
  }
  return NULL;
}

sinter_status_t sinter_linalg_einsum_infer(sinter_infer_ctx_t *ctx) {
  const char *eq = sinter_node_attr_string(ctx->node, "equation", NULL);
  if (!eq) return SINTER_NODE_ERROR("missing attribute 'equation'");
  sinter_type_t *o = &ctx->out[0];
  sinter_dtype_t dt = SINTER_DTYPE_UNDEFINED;
  bool ranks_known = true;
  int32_t ranks[MAX_OPERANDS];
  if (ctx->n_inputs > MAX_OPERANDS)
    return SINTER_NODE_UNSUPPORTED("more than %d operands", MAX_OPERANDS);
  for (int32_t k = 0; k < ctx->n_inputs; k++) {
    const sinter_type_t *t = ctx->in[k];
    if (!t) return SINTER_NODE_ERROR("input %d is missing", k);
    if (k == 0) dt = t->dtype;
    if (t->dtype != dt) return SINTER_NODE_ERROR("input dtypes differ");
    if (t->rank < 0) ranks_known = false;
    ranks[k] = t->rank;
  }
  if (dt != SINTER_DTYPE_UNDEFINED && !is_numeric(dt))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(dt));
  if (!ranks_known) {
    sinter_type_unknown_dims(o, dt, 0);
    o->rank = -1;
    return NULL;
  }
  einsum_t e;
  SINTER_TRY(einsum_parse(eq, ctx->n_inputs, ranks, &e));
  sinter_dim_t size[MAX_LABELS];
  bool have[MAX_LABELS] = {false};
  for (int32_t k = 0; k < e.n_ops; k++) {
    int8_t first_axis[MAX_LABELS];
    memset(first_axis, -1, sizeof(first_axis));
    for (int32_t i = 0; i < e.rank[k]; i++) {
      int l = e.label[k][i];
      sinter_dim_t d = ctx->in[k]->dims[i];
      if (first_axis[l] >= 0) {
        /* A repeated label in one operand is a diagonal: sizes must agree. */
        sinter_dim_t p = ctx->in[k]->dims[first_axis[l]];
        if (p.size >= 0 && d.size >= 0 && p.size != d.size)
          return SINTER_NODE_ERROR("input %d: diagonal axes have sizes %lld and %lld", k,
                                   (long long)p.size, (long long)d.size);
      } else {
        first_axis[l] = (int8_t)i;
      }
      SINTER_TRY(merge_dim(&size[l], &have[l], d, l));
    }
  }
  memset(o, 0, sizeof(*o));
  o->dtype = dt;
  o->rank = e.out_rank;
  for (int32_t j = 0; j < e.out_rank; j++) {
    int l = e.out_label[j];
    o->dims[j] = have[l] ? size[l] : (sinter_dim_t){1, NULL};
  }
  return NULL;
}

/* ---- kernel ------------------------------------------------------------- */

/* Concrete sizes of every label and each operand's element stride per label
 * (summed over repeated axes, 0 where the operand broadcasts or lacks it). */
typedef struct einsum_plan_s {
  int64_t size[MAX_LABELS];
  int64_t stride[MAX_OPERANDS][MAX_LABELS];
  bool broadcasts; /* some operand axis of size 1 stands for a larger label */
  bool diagonal;   /* some operand repeats a label */
} einsum_plan_t;

static sinter_status_t einsum_plan(const einsum_t *e, const sinter_tensor_t *const *in,
                                   einsum_plan_t *p) {
  memset(p, 0, sizeof(*p));
  for (int l = 0; l < MAX_LABELS; l++) p->size[l] = 1;
  bool seen[MAX_LABELS] = {false};
  for (int32_t k = 0; k < e->n_ops; k++)
    for (int32_t i = 0; i < e->rank[k]; i++) {
      int l = e->label[k][i];
      int64_t d = in[k]->dims[i];
      if (!seen[l] || p->size[l] == 1) {
        p->size[l] = d;
        seen[l] = true;
      } else if (d != 1 && d != p->size[l]) {
        return SINTER_NODE_ERROR("label %d has sizes %lld and %lld", l, (long long)p->size[l],
                                 (long long)d);
      }
    }
  for (int32_t k = 0; k < e->n_ops; k++) {
    int64_t s = 1;
    bool seen_here[MAX_LABELS] = {false};
    for (int32_t i = e->rank[k] - 1; i >= 0; i--) {
      int l = e->label[k][i];
      int64_t d = in[k]->dims[i];
      if (seen_here[l]) {
        p->diagonal = true;
        if (d != p->size[l]) return SINTER_NODE_ERROR("input %d: diagonal axes differ", k);
      }
      seen_here[l] = true;
      if (d == p->size[l])
        p->stride[k][l] += s;
      else
        p->broadcasts = true;
      s *= d;
    }
  }
  return NULL;
}

/* The general path: for each output element, sum the product of operands
 * over every combination of the contracted labels. */
static sinter_status_t einsum_general(const einsum_t *e, const einsum_plan_t *p,
                                      const sinter_tensor_t *const *in, sinter_tensor_t *out) {
  bool is_int = sinter_dtype_is_int(out->dtype);
  void *ops[MAX_OPERANDS] = {NULL};
  sinter_status_t st = NULL;
  for (int32_t k = 0; k < e->n_ops; k++) {
    /* Each operand as int64 (ints) or double (floats), in a fresh buffer. */
    ops[k] = is_int ? (void *)tensor_to_i64(in[k]) : (void *)tensor_to_f64(in[k]);
    if (!ops[k]) {
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      goto done;
    }
  }
  /* Contracted labels: used by some operand, not in the output. */
  int red[MAX_LABELS], n_red = 0;
  int64_t red_total = 1;
  for (int l = 0; l < MAX_LABELS; l++)
    if (e->used[l] && !e->in_output[l]) {
      red[n_red++] = l;
      red_total *= p->size[l];
    }
  int64_t out_n = sinter_tensor_numel(out);
  int64_t oidx[SINTER_MAX_RANK] = {0};
  int64_t base[MAX_OPERANDS] = {0};
  for (int64_t o = 0; o < out_n; o++) {
    int64_t ridx[MAX_LABELS] = {0};
    int64_t off[MAX_OPERANDS];
    for (int32_t k = 0; k < e->n_ops; k++) off[k] = base[k];
    double sd = 0.0;
    uint64_t si = 0;
    for (int64_t r = 0; r < red_total; r++) {
      if (is_int) {
        uint64_t prod = 1;
        for (int32_t k = 0; k < e->n_ops; k++) prod *= (uint64_t)((const int64_t *)ops[k])[off[k]];
        si += prod;
      } else {
        double prod = 1.0;
        for (int32_t k = 0; k < e->n_ops; k++) prod *= ((const double *)ops[k])[off[k]];
        sd += prod;
      }
      for (int32_t j = n_red - 1; j >= 0; j--) {
        int l = red[j];
        for (int32_t k = 0; k < e->n_ops; k++) off[k] += p->stride[k][l];
        if (++ridx[j] < p->size[l]) break;
        for (int32_t k = 0; k < e->n_ops; k++) off[k] -= p->stride[k][l] * p->size[l];
        ridx[j] = 0;
      }
    }
    if (is_int)
      sinter_store_i64(out->data, out->dtype, o, (int64_t)si);
    else
      sinter_store_f64(out->data, out->dtype, o, sd);
    for (int32_t j = e->out_rank - 1; j >= 0; j--) {
      int l = e->out_label[j];
      for (int32_t k = 0; k < e->n_ops; k++) base[k] += p->stride[k][l];
      if (++oidx[j] < p->size[l]) break;
      for (int32_t k = 0; k < e->n_ops; k++) base[k] -= p->stride[k][l] * p->size[l];
      oidx[j] = 0;
    }
  }
done:
  for (int32_t k = 0; k < e->n_ops; k++) free(ops[k]);
  return st;
}

/* Copies src into dst laid out contiguously in the order of labels, reading
 * src through per-label strides. */
static void gather_f32(const float *src, const int *labels, int32_t n, const int64_t *size,
                       const int64_t *stride, float *dst, int64_t total) {
  int64_t idx[MAX_LABELS] = {0}, off = 0;
  for (int64_t t = 0; t < total; t++) {
    dst[t] = src[off];
    for (int32_t j = n - 1; j >= 0; j--) {
      int l = labels[j];
      off += stride[l];
      if (++idx[j] < size[l]) break;
      off -= stride[l] * size[l];
      idx[j] = 0;
    }
  }
}

/* The fast path: A and B as [batch, M, K] and [batch, K, N] after a
 * transposing copy, one sgemm per batch, then the result transposed into
 * the output's label order. Returns false when the equation does not fit
 * (diagonals, broadcasting, or a label summed within one operand). */
static bool einsum_matmul_f32(const einsum_t *e, const einsum_plan_t *p,
                              const sinter_tensor_t *const *in, sinter_tensor_t *out,
                              sinter_status_t *st) {
  *st = NULL;
  if (e->n_ops != 2 || p->diagonal || p->broadcasts || out->dtype != SINTER_DTYPE_F32 ||
      in[0]->dtype != SINTER_DTYPE_F32)
    return false;
  bool in_a[MAX_LABELS] = {false}, in_b[MAX_LABELS] = {false};
  for (int32_t i = 0; i < e->rank[0]; i++) in_a[e->label[0][i]] = true;
  for (int32_t i = 0; i < e->rank[1]; i++) in_b[e->label[1][i]] = true;
  int bl[MAX_LABELS], ml[MAX_LABELS], nl[MAX_LABELS], kl[MAX_LABELS];
  int32_t nb = 0, nm = 0, nn = 0, nk = 0;
  int64_t B = 1, M = 1, N = 1, K = 1;
  for (int32_t j = 0; j < e->out_rank; j++) {
    int l = e->out_label[j];
    if (in_a[l] && in_b[l])
      bl[nb++] = l, B *= p->size[l];
    else if (in_a[l])
      ml[nm++] = l, M *= p->size[l];
    else
      nl[nn++] = l, N *= p->size[l];
  }
  for (int32_t i = 0; i < e->rank[0]; i++) {
    int l = e->label[0][i];
    if (e->in_output[l]) continue;
    if (!in_b[l]) return false; /* summed over A alone */
    kl[nk++] = l;
    K *= p->size[l];
  }
  for (int32_t i = 0; i < e->rank[1]; i++) {
    int l = e->label[1][i];
    if (!e->in_output[l] && !in_a[l]) return false;
  }
  /* Only worth it when there is a real product to compute. */
  if (nk == 0 || (M == 1 && N == 1)) return false;
  int la[MAX_LABELS], lb[MAX_LABELS], lc[MAX_LABELS];
  int32_t na = 0, nbb = 0, nc = 0;
  for (int32_t j = 0; j < nb; j++) la[na++] = bl[j], lb[nbb++] = bl[j], lc[nc++] = bl[j];
  for (int32_t j = 0; j < nm; j++) la[na++] = ml[j], lc[nc++] = ml[j];
  for (int32_t j = 0; j < nk; j++) la[na++] = kl[j], lb[nbb++] = kl[j];
  for (int32_t j = 0; j < nn; j++) lb[nbb++] = nl[j], lc[nc++] = nl[j];
  int64_t an = B * M * K, bn = B * K * N, cn = B * M * N;
  float *ap = malloc(sizeof(float) * (size_t)(an ? an : 1));
  float *bp = malloc(sizeof(float) * (size_t)(bn ? bn : 1));
  float *cp = malloc(sizeof(float) * (size_t)(cn ? cn : 1));
  if (!ap || !bp || !cp) {
    free(ap);
    free(bp);
    free(cp);
    *st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    return true;
  }
  gather_f32(in[0]->data, la, na, p->size, p->stride[0], ap, an);
  gather_f32(in[1]->data, lb, nbb, p->size, p->stride[1], bp, bn);
  for (int64_t b = 0; b < B; b++)
    sinter_sgemm(M, N, K, ap + b * M * K, K, bp + b * K * N, N, cp + b * M * N, N, false);
  /* cp is laid out in lc order; read it back in the output's label order. */
  int64_t cstride[MAX_LABELS] = {0}, s = 1;
  for (int32_t j = nc - 1; j >= 0; j--) {
    cstride[lc[j]] = s;
    s *= p->size[lc[j]];
  }
  int ol[SINTER_MAX_RANK];
  for (int32_t j = 0; j < e->out_rank; j++) ol[j] = e->out_label[j];
  gather_f32(cp, ol, e->out_rank, p->size, cstride, out->data, cn);
  free(ap);
  free(bp);
  free(cp);
  return true;
}

sinter_status_t sinter_linalg_einsum_run(sinter_kernel_ctx_t *ctx) {
  const char *eq = sinter_node_attr_string(ctx->node, "equation", NULL);
  if (!eq) return SINTER_NODE_ERROR("missing attribute 'equation'");
  int32_t ranks[MAX_OPERANDS];
  if (ctx->n_inputs > MAX_OPERANDS)
    return SINTER_NODE_UNSUPPORTED("more than %d operands", MAX_OPERANDS);
  for (int32_t k = 0; k < ctx->n_inputs; k++) {
    if (!ctx->in[k]) return SINTER_NODE_ERROR("input %d is missing", k);
    if (ctx->in[k]->dtype != ctx->in[0]->dtype) return SINTER_NODE_ERROR("input dtypes differ");
    ranks[k] = ctx->in[k]->rank;
  }
  sinter_dtype_t dt = ctx->in[0]->dtype;
  if (!is_numeric(dt)) return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(dt));
  einsum_t e;
  SINTER_TRY(einsum_parse(eq, ctx->n_inputs, ranks, &e));
  einsum_plan_t p;
  SINTER_TRY(einsum_plan(&e, ctx->in, &p));
  int64_t dims[SINTER_MAX_RANK];
  for (int32_t j = 0; j < e.out_rank; j++) dims[j] = p.size[e.out_label[j]];
  sinter_tensor_t *o = &ctx->out[0];
  SINTER_TRY(ensure_output(ctx, 0, dt, e.out_rank, dims));
  /* Bound the general path's work: output elements times contraction size. */
  double work = 1.0;
  for (int l = 0; l < MAX_LABELS; l++)
    if (e.used[l]) work *= (double)p.size[l];
  for (int32_t k = 0; k < e.n_ops; k++)
    if (sinter_tensor_numel(ctx->in[k]) == 0) work = 0;
  sinter_status_t st;
  if (einsum_matmul_f32(&e, &p, ctx->in, o, &st)) return st;
  if (work > 1e11) return SINTER_NODE_UNSUPPORTED("einsum too large for the reference kernel");
  return einsum_general(&e, &p, ctx->in, o);
}
