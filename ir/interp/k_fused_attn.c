/* Reference kernels for two of Sinter's own ops (domain ai.sinter, see docs/ops-sinter.md):
 * Attention, scaled dot-product attention in the packed [B,S,E] or per-head [..,S,D] layout,
 * and FusedElementwise, a small expression program evaluated elementwise with broadcasting. */
#include "ir/interp/kernels.h"

/* ==== Attention =========================================================== */

/* The attributes of an Attention node. */
typedef struct attn_attrs_s {
  bool bse;      /* layout "bse": [B,S,E] inputs and output, heads split inside */
  int64_t heads; /* bse only */
  float scale;   /* < 0 when absent: 1/sqrt(head dim) */
  bool causal;   /* top-left aligned: query i sees keys j <= i */
  bool has_scale;
} attn_attrs_t;

static sinter_status_t attn_read_attrs(const sinter_node_t *node, attn_attrs_t *a) {
  memset(a, 0, sizeof(*a));
  const char *layout = sinter_node_attr_string(node, "layout", "bhsd");
  if (strcmp(layout, "bse") == 0)
    a->bse = true;
  else if (strcmp(layout, "bhsd") != 0)
    return SINTER_NODE_ERROR("layout is '%s', expected 'bse' or 'bhsd'", layout);
  int64_t causal = sinter_node_attr_int(node, "causal", 0);
  if (causal != 0 && causal != 1)
    return SINTER_NODE_ERROR("causal is %lld, expected 0 or 1", (long long)causal);
  a->causal = causal == 1;
  const sinter_attr_t *s = sinter_node_attr(node, "scale");
  if (s) {
    if (s->kind != SINTER_ATTR_FLOAT) return SINTER_NODE_ERROR("scale must be a float");
    if (!isfinite(s->f)) return SINTER_NODE_ERROR("scale is not finite");
    a->scale = s->f;
    a->has_scale = true;
  }
  if (a->bse) {
    a->heads = sinter_node_attr_int(node, "num_heads", 0);
    if (a->heads < 1)
      return SINTER_NODE_ERROR("layout 'bse' needs num_heads >= 1, got %lld", (long long)a->heads);
  }
  return NULL;
}

static bool dim_known(sinter_dim_t d) {
  return d.size >= 0;
}

/* Fails when two dims are both known and differ. */
static sinter_status_t same_dim(sinter_dim_t a, sinter_dim_t b, const char *what) {
  if (dim_known(a) && dim_known(b) && a.size != b.size)
    return SINTER_NODE_ERROR("%s: %lld vs %lld", what, (long long)a.size, (long long)b.size);
  return NULL;
}

/* A mask dim (query or key axis) must be 1 or the size it lines up with. */
static sinter_status_t mask_dim(sinter_dim_t m, sinter_dim_t s, const char *what) {
  if (dim_known(m) && m.size != 1 && dim_known(s) && m.size != s.size)
    return SINTER_NODE_ERROR("mask %s dim is %lld, expected 1 or %lld", what, (long long)m.size,
                             (long long)s.size);
  return NULL;
}

static sinter_status_t infer_attention(sinter_infer_ctx_t *ctx) {
  attn_attrs_t a;
  SINTER_TRY(attn_read_attrs(ctx->node, &a));
  const sinter_type_t *q = ctx->in[0], *k = ctx->in[1], *v = ctx->in[2];
  const sinter_type_t *m = ctx->n_inputs > 3 ? ctx->in[3] : NULL;
  const sinter_type_t *all[4] = {q, k, v, m};
  sinter_dtype_t dt = SINTER_DTYPE_UNDEFINED;
  for (int32_t i = 0; i < 4; i++) {
    if (!all[i] || all[i]->dtype == SINTER_DTYPE_UNDEFINED) continue;
    if (all[i]->dtype != SINTER_DTYPE_F32 && all[i]->dtype != SINTER_DTYPE_F16 &&
        all[i]->dtype != SINTER_DTYPE_BF16)
      return SINTER_NODE_ERROR("input %d has dtype %s, expected f32, f16 or bf16", i,
                               sinter_dtype_name(all[i]->dtype));
    if (dt != SINTER_DTYPE_UNDEFINED && all[i]->dtype != dt)
      return SINTER_NODE_ERROR("input %d has dtype %s, input 0 has %s", i,
                               sinter_dtype_name(all[i]->dtype), sinter_dtype_name(dt));
    dt = all[i]->dtype;
  }
  sinter_type_t *out = &ctx->out[0];
  if (a.bse) {
    for (int32_t i = 0; i < 3; i++)
      if (all[i]->rank >= 0 && all[i]->rank != 3)
        return SINTER_NODE_ERROR("layout 'bse' needs rank-3 inputs, input %d has rank %d", i,
                                 all[i]->rank);
    if (m && m->rank > 4) return SINTER_NODE_ERROR("mask has rank %d, above 4", m->rank);
    if (q->rank < 0 || k->rank < 0 || v->rank < 0 || (m && m->rank < 0)) {
      sinter_type_unknown_dims(out, dt, 3);
      return NULL;
    }
    SINTER_TRY(same_dim(q->dims[2], k->dims[2], "query and key widths differ"));
    SINTER_TRY(same_dim(k->dims[1], v->dims[1], "key and value lengths differ"));
    const sinter_type_t *w[2] = {q, v};
    for (int32_t i = 0; i < 2; i++)
      if (dim_known(w[i]->dims[2]) && w[i]->dims[2].size % a.heads != 0)
        return SINTER_NODE_ERROR("width %lld of input %d is not a multiple of num_heads %lld",
                                 (long long)w[i]->dims[2].size, i * 2, (long long)a.heads);
    /* Logical batch [B,H] of each operand, and the mask's leading dims, broadcast together. */
    sinter_type_t bt[4];
    const sinter_type_t *bp[4] = {NULL, NULL, NULL, NULL};
    for (int32_t i = 0; i < 3; i++) {
      memset(&bt[i], 0, sizeof(bt[i]));
      bt[i].rank = 2;
      bt[i].dims[0] = all[i]->dims[0];
      bt[i].dims[1] = (sinter_dim_t){a.heads, NULL};
      bp[i] = &bt[i];
    }
    if (m) {
      SINTER_TRY(mask_dim(m->rank >= 1 ? m->dims[m->rank - 1] : (sinter_dim_t){1, NULL}, k->dims[1],
                          "key"));
      SINTER_TRY(mask_dim(m->rank >= 2 ? m->dims[m->rank - 2] : (sinter_dim_t){1, NULL}, q->dims[1],
                          "query"));
      memset(&bt[3], 0, sizeof(bt[3]));
      bt[3].rank = m->rank > 2 ? m->rank - 2 : 0;
      for (int32_t d = 0; d < bt[3].rank; d++) bt[3].dims[d] = m->dims[d];
      bp[3] = &bt[3];
    }
    sinter_type_t bo;
    memset(&bo, 0, sizeof(bo));
    SINTER_TRY(sinter_broadcast_types(bp, 4, &bo));
    if (dim_known(bo.dims[1]) && bo.dims[1].size != a.heads)
      return SINTER_NODE_ERROR("mask head dim does not broadcast to num_heads %lld",
                               (long long)a.heads);
    memset(out, 0, sizeof(*out));
    out->dtype = dt;
    out->rank = 3;
    out->dims[0] = bo.dims[0];
    out->dims[1] = q->dims[1];
    out->dims[2] = v->dims[2];
    return NULL;
  }
  int32_t r = q->rank;
  if (r < 0 || k->rank < 0 || v->rank < 0 || (m && m->rank < 0)) {
    sinter_type_unknown_dims(out, dt, r >= 0 ? r : k->rank >= 0 ? k->rank : v->rank);
    return NULL;
  }
  if (r < 2 || k->rank != r || v->rank != r)
    return SINTER_NODE_ERROR("layout 'bhsd' needs Q, K, V of one rank >= 2, got %d, %d, %d", r,
                             k->rank, v->rank);
  if (m && m->rank > r) return SINTER_NODE_ERROR("mask has rank %d, above %d", m->rank, r);
  SINTER_TRY(same_dim(q->dims[r - 1], k->dims[r - 1], "query and key head sizes differ"));
  SINTER_TRY(same_dim(k->dims[r - 2], v->dims[r - 2], "key and value lengths differ"));
  sinter_type_t bt[4];
  const sinter_type_t *bp[4] = {NULL, NULL, NULL, NULL};
  for (int32_t i = 0; i < 4; i++) {
    if (!all[i]) continue;
    memset(&bt[i], 0, sizeof(bt[i]));
    bt[i].rank = all[i]->rank > 2 ? all[i]->rank - 2 : 0;
    for (int32_t d = 0; d < bt[i].rank; d++) bt[i].dims[d] = all[i]->dims[d];
    bp[i] = &bt[i];
  }
  if (m) {
    SINTER_TRY(mask_dim(m->rank >= 1 ? m->dims[m->rank - 1] : (sinter_dim_t){1, NULL},
                        k->dims[r - 2], "key"));
    SINTER_TRY(mask_dim(m->rank >= 2 ? m->dims[m->rank - 2] : (sinter_dim_t){1, NULL},
                        q->dims[r - 2], "query"));
  }
  sinter_type_t bo;
  memset(&bo, 0, sizeof(bo));
  SINTER_TRY(sinter_broadcast_types(bp, 4, &bo));
  memset(out, 0, sizeof(*out));
  out->dtype = dt;
  out->rank = r;
  for (int32_t d = 0; d < r - 2; d++) out->dims[d] = bo.dims[d];
  out->dims[r - 2] = q->dims[r - 2];
  out->dims[r - 1] = v->dims[r - 1];
  return NULL;
}

/* One operand seen as a batch of [rows, cols] matrices: batch dims and element strides (0 where
 * the operand broadcasts), plus the row stride. */
typedef struct mview_s {
  const float *data;
  int32_t nb;
  int64_t bdims[SINTER_MAX_RANK], bstr[SINTER_MAX_RANK];
  int64_t rows, cols, row_stride;
} mview_t;

/* Aligns view v's batch dims with the output batch (right-aligned), checking that each is 1 or
 * the output's size, and returns the element offset of output batch index idx. */
static int64_t view_offset(const mview_t *v, int32_t nb, const int64_t *idx) {
  int64_t off = 0;
  for (int32_t d = 0; d < v->nb; d++) {
    int64_t i = idx[nb - v->nb + d];
    if (v->bdims[d] != 1) off += i * v->bstr[d];
  }
  return off;
}

static sinter_status_t bcast_batch(const mview_t *const *vs, int32_t n, int32_t nb, int64_t *out) {
  for (int32_t d = 0; d < nb; d++) out[d] = 1;
  for (int32_t k = 0; k < n; k++) {
    const mview_t *v = vs[k];
    if (!v) continue;
    for (int32_t d = 0; d < v->nb; d++) {
      int64_t s = v->bdims[d], *o = &out[nb - v->nb + d];
      if (s == 1) continue;
      if (*o != 1 && *o != s)
        return SINTER_NODE_ERROR("batch dims do not broadcast: %lld vs %lld", (long long)*o,
                                 (long long)s);
      *o = s;
    }
  }
  return NULL;
}

/* Row-wise softmax of scale*s + mask over the keys a query may see, in place (f32 with a double
 * sum, max subtracted, as the Softmax kernel computes it). */
static void attn_softmax(float *s, int64_t sq, int64_t sk, float scale, const float *mask,
                         int64_t mq_st, int64_t mk_st, bool causal) {
  for (int64_t i = 0; i < sq; i++) {
    float *row = s + i * sk;
    int64_t lim = causal ? (i + 1 < sk ? i + 1 : sk) : sk;
    for (int64_t j = 0; j < lim; j++) {
      float x = row[j] * scale;
      if (mask) x = x + mask[i * mq_st + j * mk_st];
      row[j] = x;
    }
    float mx = lim > 0 ? row[0] : 0.0f;
    for (int64_t j = 1; j < lim; j++) {
      float v = row[j];
      if (v > mx || (v != v && mx == mx)) mx = v;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < lim; j++) {
      float e = expf(row[j] - mx);
      row[j] = e;
      sum += e;
    }
    for (int64_t j = 0; j < lim; j++) row[j] = (float)(row[j] / sum);
    for (int64_t j = lim; j < sk; j++) row[j] = 0.0f;
  }
}

static sinter_status_t k_attention(sinter_kernel_ctx_t *ctx) {
  attn_attrs_t a;
  SINTER_TRY(attn_read_attrs(ctx->node, &a));
  const sinter_tensor_t *tq = ctx->in[0], *tk = ctx->in[1], *tv = ctx->in[2];
  const sinter_tensor_t *tm = ctx->n_inputs > 3 ? ctx->in[3] : NULL;
  const sinter_tensor_t *ts[4] = {tq, tk, tv, tm};
  for (int32_t i = 0; i < 4; i++) {
    if (!ts[i]) continue;
    if ((tq->dtype != SINTER_DTYPE_F32 && tq->dtype != SINTER_DTYPE_F16 &&
         tq->dtype != SINTER_DTYPE_BF16) ||
        ts[i]->dtype != tq->dtype)
      return SINTER_NODE_ERROR("input %d has dtype %s; all must be one of f32, f16, bf16", i,
                               sinter_dtype_name(ts[i]->dtype));
  }
  mview_t q, k, v, m;
  memset(&q, 0, sizeof(q));
  memset(&k, 0, sizeof(k));
  memset(&v, 0, sizeof(v));
  memset(&m, 0, sizeof(m));
  int32_t nb;
  int64_t sq, sk, dqk, dv;
  if (a.bse) {
    for (int32_t i = 0; i < 3; i++)
      if (ts[i]->rank != 3)
        return SINTER_NODE_ERROR("layout 'bse' needs rank-3 inputs, input %d has rank %d", i,
                                 ts[i]->rank);
    int64_t h = a.heads, eq = tq->dims[2], ek = tk->dims[2], ev = tv->dims[2];
    if (eq != ek)
      return SINTER_NODE_ERROR("query width %lld differs from key width %lld", (long long)eq,
                               (long long)ek);
    if (eq % h || ev % h)
      return SINTER_NODE_ERROR("widths %lld and %lld are not multiples of num_heads %lld",
                               (long long)eq, (long long)ev, (long long)h);
    nb = 2;
    sq = tq->dims[1];
    sk = tk->dims[1];
    dqk = eq / h;
    dv = ev / h;
    if (tv->dims[1] != sk)
      return SINTER_NODE_ERROR("key length %lld differs from value length %lld", (long long)sk,
                               (long long)tv->dims[1]);
    mview_t *vw[3] = {&q, &k, &v};
    int64_t cols[3] = {dqk, dqk, dv};
    for (int32_t i = 0; i < 3; i++) {
      const sinter_tensor_t *t = ts[i];
      vw[i]->nb = 2;
      vw[i]->bdims[0] = t->dims[0];
      vw[i]->bdims[1] = h;
      vw[i]->bstr[0] = t->dims[1] * t->dims[2];
      vw[i]->bstr[1] = cols[i];
      vw[i]->rows = t->dims[1];
      vw[i]->cols = cols[i];
      vw[i]->row_stride = t->dims[2];
    }
  } else {
    int32_t r = tq->rank;
    if (r < 2 || tk->rank != r || tv->rank != r)
      return SINTER_NODE_ERROR("layout 'bhsd' needs query, key and value of one rank >= 2");
    nb = r - 2;
    sq = tq->dims[r - 2];
    sk = tk->dims[r - 2];
    dqk = tq->dims[r - 1];
    dv = tv->dims[r - 1];
    if (tk->dims[r - 1] != dqk)
      return SINTER_NODE_ERROR("query head size %lld differs from key head size %lld",
                               (long long)dqk, (long long)tk->dims[r - 1]);
    if (tv->dims[r - 2] != sk)
      return SINTER_NODE_ERROR("key length %lld differs from value length %lld", (long long)sk,
                               (long long)tv->dims[r - 2]);
    mview_t *vw[3] = {&q, &k, &v};
    for (int32_t i = 0; i < 3; i++) {
      const sinter_tensor_t *t = ts[i];
      vw[i]->nb = nb;
      int64_t st = t->dims[r - 2] * t->dims[r - 1];
      for (int32_t d = nb - 1; d >= 0; d--) {
        vw[i]->bdims[d] = t->dims[d];
        vw[i]->bstr[d] = st;
        st *= t->dims[d];
      }
      vw[i]->rows = t->dims[r - 2];
      vw[i]->cols = t->dims[r - 1];
      vw[i]->row_stride = t->dims[r - 1];
    }
  }
  /* The mask lines up with the scores [batch..., Sq, Sk]. */
  int64_t mq_st = 0, mk_st = 0;
  if (tm) {
    int32_t mr = tm->rank;
    if (mr > nb + 2)
      return SINTER_NODE_ERROR("mask has rank %d, above the scores' rank %d", mr, nb + 2);
    int64_t mqd = mr >= 2 ? tm->dims[mr - 2] : 1, mkd = mr >= 1 ? tm->dims[mr - 1] : 1;
    if ((mqd != 1 && mqd != sq) || (mkd != 1 && mkd != sk))
      return SINTER_NODE_ERROR("mask dims [%lld,%lld] do not broadcast to scores [%lld,%lld]",
                               (long long)mqd, (long long)mkd, (long long)sq, (long long)sk);
    m.nb = mr > 2 ? mr - 2 : 0;
    int64_t st = mqd * mkd;
    for (int32_t d = m.nb - 1; d >= 0; d--) {
      m.bdims[d] = tm->dims[d];
      m.bstr[d] = st;
      st *= tm->dims[d];
    }
    mk_st = mkd == 1 ? 0 : 1;
    mq_st = mqd == 1 ? 0 : mkd;
  }
  const mview_t *views[4] = {&q, &k, &v, tm ? &m : NULL};
  int64_t ob[SINTER_MAX_RANK];
  SINTER_TRY(bcast_batch(views, 4, nb, ob));
  if (a.bse && ob[1] != a.heads)
    return SINTER_NODE_ERROR("mask head dim does not broadcast to num_heads %lld",
                             (long long)a.heads);
  float scale = a.has_scale ? a.scale : (dqk > 0 ? (float)(1.0 / sqrt((double)dqk)) : 1.0f);

  /* Output: [B, Sq, H*Dv] or [batch..., Sq, Dv]. */
  int32_t orank;
  int64_t odims[SINTER_MAX_RANK];
  mview_t o;
  memset(&o, 0, sizeof(o));
  o.nb = nb;
  if (a.bse) {
    orank = 3;
    odims[0] = ob[0];
    odims[1] = sq;
    odims[2] = a.heads * dv;
    o.bstr[0] = sq * odims[2];
    o.bstr[1] = dv;
    o.row_stride = odims[2];
  } else {
    orank = nb + 2;
    for (int32_t d = 0; d < nb; d++) odims[d] = ob[d];
    odims[nb] = sq;
    odims[nb + 1] = dv;
    int64_t st = sq * dv;
    for (int32_t d = nb - 1; d >= 0; d--) {
      o.bstr[d] = st;
      st *= ob[d];
    }
    o.row_stride = dv;
  }
  for (int32_t d = 0; d < nb; d++) o.bdims[d] = ob[d];
  if (!ctx->out[0].data) SINTER_TRY(sinter_kernel_alloc_output(ctx, 0, tq->dtype, orank, odims));
  sinter_tensor_t *out = &ctx->out[0];
  int64_t total = sinter_tensor_numel(out);
  int64_t nbatch = 1;
  for (int32_t d = 0; d < nb; d++) nbatch *= ob[d];
  if (total <= 0 || nbatch <= 0) return NULL;

  /* Narrow floats run through f32 copies. */
  float *conv[4] = {NULL, NULL, NULL, NULL}, *obuf = NULL, *kt = NULL, *s = NULL;
  sinter_status_t st = NULL;
  mview_t *vw[4] = {&q, &k, &v, &m};
  for (int32_t i = 0; i < 4 && !st; i++) {
    if (!ts[i]) continue;
    if (ts[i]->dtype == SINTER_DTYPE_F32) {
      vw[i]->data = ts[i]->data;
    } else {
      conv[i] = sinter_tensor_to_f32(ts[i]);
      if (!conv[i]) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      vw[i]->data = conv[i];
    }
  }
  float *od = out->dtype == SINTER_DTYPE_F32 ? out->data : NULL;
  if (!st && !od) {
    od = obuf = calloc((size_t)total, sizeof(float));
    if (!obuf) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  if (!st) {
    kt = malloc(sizeof(float) * (size_t)(dqk * sk > 0 ? dqk * sk : 1));
    s = malloc(sizeof(float) * (size_t)(sq * sk > 0 ? sq * sk : 1));
    if (!kt || !s) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  int64_t idx[SINTER_MAX_RANK];
  memset(idx, 0, sizeof(idx));
  for (int64_t b = 0; b < nbatch && !st; b++) {
    const float *qp = q.data + view_offset(&q, nb, idx);
    const float *kp = k.data + view_offset(&k, nb, idx);
    const float *vp = v.data + view_offset(&v, nb, idx);
    const float *mp = tm ? m.data + view_offset(&m, nb, idx) : NULL;
    int64_t ooff = 0;
    for (int32_t d = 0; d < nb; d++) ooff += idx[d] * o.bstr[d];
    float *op = od + ooff;
    if (sk == 0) {
      for (int64_t i = 0; i < sq; i++) memset(op + i * o.row_stride, 0, sizeof(float) * (size_t)dv);
    } else {
      /* K^T for the head, so both products are plain row-major sgemm calls. */
      for (int64_t j = 0; j < sk; j++)
        for (int64_t d = 0; d < dqk; d++) kt[d * sk + j] = kp[j * k.row_stride + d];
      sinter_sgemm(sq, sk, dqk, qp, q.row_stride, kt, sk, s, sk, false);
      attn_softmax(s, sq, sk, scale, mp, mq_st, mk_st, a.causal);
      sinter_sgemm(sq, dv, sk, s, sk, vp, v.row_stride, op, o.row_stride, false);
    }
    for (int32_t d = nb - 1; d >= 0; d--) {
      if (++idx[d] < ob[d]) break;
      idx[d] = 0;
    }
  }
  if (!st && obuf) sinter_tensor_from_f32(out, obuf, total);
  for (int32_t i = 0; i < 4; i++) free(conv[i]);
  free(obuf);
  free(kt);
  free(s);
  return st;
}

/* ==== FusedElementwise ===================================================== */

enum { FE_MAX_INPUTS = 256, FE_MAX_INSTRS = 1024, FE_CHUNK = 256 };

bool sinter_fused_body_op(sinter_op_t op, int32_t *out_arity, int32_t *out_params) {
  *out_params = 0;
  *out_arity = 1;
  switch (op) {
    case SINTER_OP_ADD:
    case SINTER_OP_SUB:
    case SINTER_OP_MUL:
    case SINTER_OP_DIV:
    case SINTER_OP_POW:
    case SINTER_OP_PRELU:
    case SINTER_OP_MAX:
    case SINTER_OP_MIN: *out_arity = 2; return true;
    case SINTER_OP_LEAKY_RELU:
    case SINTER_OP_ELU:
    case SINTER_OP_CELU:
    case SINTER_OP_THRESHOLDED_RELU:
    case SINTER_OP_GELU: *out_params = 1; return true;
    case SINTER_OP_SELU:
    case SINTER_OP_HARD_SIGMOID:
    case SINTER_OP_SHRINK:
    case SINTER_OP_CLIP: *out_params = 2; return true;
    case SINTER_OP_RELU:
    case SINTER_OP_SIGMOID:
    case SINTER_OP_HARD_SWISH:
    case SINTER_OP_TANH:
    case SINTER_OP_SOFTPLUS:
    case SINTER_OP_SOFTSIGN:
    case SINTER_OP_MISH:
    case SINTER_OP_ERF:
    case SINTER_OP_EXP:
    case SINTER_OP_LOG:
    case SINTER_OP_SQRT:
    case SINTER_OP_RECIPROCAL:
    case SINTER_OP_NEG:
    case SINTER_OP_ABS:
    case SINTER_OP_FLOOR:
    case SINTER_OP_CEIL:
    case SINTER_OP_ROUND:
    case SINTER_OP_SIGN:
    case SINTER_OP_SIN:
    case SINTER_OP_COS:
    case SINTER_OP_TAN:
    case SINTER_OP_ASIN:
    case SINTER_OP_ACOS:
    case SINTER_OP_ATAN:
    case SINTER_OP_SINH:
    case SINTER_OP_COSH:
    case SINTER_OP_ASINH:
    case SINTER_OP_ACOSH:
    case SINTER_OP_ATANH:
    case SINTER_OP_SILU: return true;
    default: return false;
  }
}

/* A decoded body: per instruction its op and where its operands and parameters start. */
typedef struct fe_prog_s {
  int32_t n_in, n;
  sinter_op_t *ops;
  int32_t *arity, *arg_at, *param_at;
  const int64_t *args;
  const float *params;
} fe_prog_t;

static void fe_prog_free(fe_prog_t *p) {
  free(p->ops);
  free(p->arity);
  free(p->arg_at);
  free(p->param_at);
  memset(p, 0, sizeof(*p));
}

/* Decodes and checks the ops/args/params attributes of node for n_in inputs. */
static sinter_status_t fe_prog_decode(const sinter_node_t *node, int32_t n_in, fe_prog_t *p) {
  memset(p, 0, sizeof(*p));
  const sinter_attr_t *ops = sinter_node_attr(node, "ops");
  const sinter_attr_t *args = sinter_node_attr(node, "args");
  const sinter_attr_t *params = sinter_node_attr(node, "params");
  if (!ops || ops->kind != SINTER_ATTR_STRINGS || ops->count < 1)
    return SINTER_NODE_ERROR("attribute 'ops' must be a non-empty list of strings");
  if (ops->count > FE_MAX_INSTRS)
    return SINTER_NODE_UNSUPPORTED("body has %lld instructions, above %d", (long long)ops->count,
                                   FE_MAX_INSTRS);
  if (n_in < 1 || n_in > FE_MAX_INPUTS)
    return SINTER_NODE_UNSUPPORTED("%d inputs; FusedElementwise takes 1 to %d", n_in,
                                   FE_MAX_INPUTS);
  if (!args || args->kind != SINTER_ATTR_INTS)
    return SINTER_NODE_ERROR("attribute 'args' must be a list of ints");
  if (params && params->kind != SINTER_ATTR_FLOATS)
    return SINTER_NODE_ERROR("attribute 'params' must be a list of floats");
  int32_t n = (int32_t)ops->count;
  p->n_in = n_in;
  p->n = n;
  p->ops = malloc(sizeof(*p->ops) * (size_t)n);
  p->arity = malloc(sizeof(int32_t) * (size_t)n);
  p->arg_at = malloc(sizeof(int32_t) * (size_t)n);
  p->param_at = malloc(sizeof(int32_t) * (size_t)n);
  if (!p->ops || !p->arity || !p->arg_at || !p->param_at) {
    fe_prog_free(p);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  p->args = args->ints;
  p->params = params ? params->floats : NULL;
  int64_t n_params = params ? params->count : 0;
  int64_t ai = 0, pi = 0;
  sinter_status_t st = NULL;
  for (int32_t k = 0; k < n && !st; k++) {
    const char *name = ops->strings[k];
    sinter_op_t op = sinter_op_lookup("", name);
    if (op == SINTER_OP_INVALID) op = sinter_op_lookup("ai.sinter", name);
    int32_t ar, np;
    if (op == SINTER_OP_INVALID || !sinter_fused_body_op(op, &ar, &np)) {
      st = SINTER_NODE_ERROR("instruction %d: '%s' is not an op a body may hold", k, name);
      break;
    }
    if (ai + ar > args->count || pi + np > n_params) {
      st = SINTER_NODE_ERROR("instruction %d (%s): 'args' or 'params' run out", k, name);
      break;
    }
    for (int32_t j = 0; j < ar; j++) {
      int64_t a = args->ints[ai + j];
      if (a < 0 || a >= (int64_t)n_in + k)
        st =
            SINTER_NODE_ERROR("instruction %d (%s): operand %lld is not an input or earlier result",
                              k, name, (long long)a);
    }
    p->ops[k] = op;
    p->arity[k] = ar;
    p->arg_at[k] = (int32_t)ai;
    p->param_at[k] = (int32_t)pi;
    ai += ar;
    pi += np;
  }
  if (!st && (ai != args->count || pi != n_params))
    st = SINTER_NODE_ERROR("'args' has %lld entries and 'params' %lld; the ops take %lld and %lld",
                           (long long)args->count, (long long)n_params, (long long)ai,
                           (long long)pi);
  if (st) fe_prog_free(p);
  return st;
}

static sinter_status_t infer_fused_elementwise(sinter_infer_ctx_t *ctx) {
  fe_prog_t p;
  SINTER_TRY(fe_prog_decode(ctx->node, ctx->n_inputs, &p));
  fe_prog_free(&p);
  sinter_dtype_t dt = SINTER_DTYPE_UNDEFINED;
  for (int32_t i = 0; i < ctx->n_inputs; i++) {
    const sinter_type_t *t = ctx->in[i];
    if (!t) return SINTER_NODE_ERROR("input %d is missing", i);
    if (t->dtype == SINTER_DTYPE_UNDEFINED) continue;
    if (t->dtype != SINTER_DTYPE_F32 && t->dtype != SINTER_DTYPE_F16 &&
        t->dtype != SINTER_DTYPE_BF16)
      return SINTER_NODE_ERROR("input %d has dtype %s, expected f32, f16 or bf16", i,
                               sinter_dtype_name(t->dtype));
    if (dt != SINTER_DTYPE_UNDEFINED && t->dtype != dt)
      return SINTER_NODE_ERROR("input %d has dtype %s, an earlier input %s", i,
                               sinter_dtype_name(t->dtype), sinter_dtype_name(dt));
    dt = t->dtype;
  }
  sinter_type_t o;
  memset(&o, 0, sizeof(o));
  SINTER_TRY(sinter_broadcast_types(ctx->in, ctx->n_inputs, &o));
  o.dtype = dt;
  ctx->out[0] = o;
  return NULL;
}

/* The logistic function exactly as the Sigmoid kernel computes it in f32. */
static inline float fe_sigmoid(float x) {
  return x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
}

static inline float fe_softplus(float x) {
  return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

/* y = op(x) over n elements with parameters pr, in the f32 arithmetic of the unary kernels. */
static void fe_unary(sinter_op_t op, const float *pr, const float *xs, float *ys, int64_t n) {
  /* Only ops that take parameters read pr (the decoder checked there are enough). */
  switch (op) {
#define UN(EXPR)                    \
  for (int64_t i = 0; i < n; i++) { \
    float x = xs[i];                \
    ys[i] = (float)(EXPR);          \
  }                                 \
  break;
    case SINTER_OP_RELU: UN(x < 0.0f ? 0.0f : x)
    case SINTER_OP_LEAKY_RELU: {
      const float al = pr[0];
      UN(x < 0.0f ? al * x : x)
    }
    case SINTER_OP_ELU: {
      const float al = pr[0];
      UN(x < 0.0f ? al * expm1f(x) : x)
    }
    case SINTER_OP_SELU: {
      const float al = pr[0], ga = pr[1];
      UN(x <= 0.0f ? ga * (al * expf(x) - al) : ga * x)
    }
    case SINTER_OP_CELU: {
      const float al = pr[0];
      UN(x > 0.0f ? x : al * expm1f(x / al))
    }
    case SINTER_OP_SIGMOID: UN(fe_sigmoid(x))
    case SINTER_OP_HARD_SIGMOID: {
      const float al = pr[0], be = pr[1];
      UN(fmaxf(0.0f, fminf(1.0f, al * x + be)))
    }
    case SINTER_OP_HARD_SWISH: UN(x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f)))
    case SINTER_OP_TANH: UN(tanhf(x))
    case SINTER_OP_SOFTPLUS: UN(fe_softplus(x))
    case SINTER_OP_SOFTSIGN: UN(x / (1.0f + fabsf(x)))
    case SINTER_OP_GELU:
      if (pr[0] != 0.0f) {
        const float k = 0.7978845608028654f; /* sqrt(2/pi) */
        UN((0.5f * x) * (1.0f + tanhf(k * (x + 0.044715f * x * x * x))))
      } else {
        UN((0.5f * x) * erfcf(x * -0.7071067811865476f))
      }
    case SINTER_OP_MISH: UN(x * tanhf(fe_softplus(x)))
    case SINTER_OP_ERF: UN(erff(x))
    case SINTER_OP_EXP: UN(expf(x))
    case SINTER_OP_LOG: UN(logf(x))
    case SINTER_OP_SQRT: UN(sqrtf(x))
    case SINTER_OP_RECIPROCAL: UN(1.0f / x)
    case SINTER_OP_NEG: UN(-x)
    case SINTER_OP_ABS: UN(fabsf(x))
    case SINTER_OP_FLOOR: UN(floorf(x))
    case SINTER_OP_CEIL: UN(ceilf(x))
    case SINTER_OP_ROUND: UN(nearbyintf(x))
    case SINTER_OP_SIGN: UN(x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x)
    case SINTER_OP_SIN: UN(sinf(x))
    case SINTER_OP_COS: UN(cosf(x))
    case SINTER_OP_TAN: UN(tanf(x))
    case SINTER_OP_ASIN: UN(asinf(x))
    case SINTER_OP_ACOS: UN(acosf(x))
    case SINTER_OP_ATAN: UN(atanf(x))
    case SINTER_OP_SINH: UN(sinhf(x))
    case SINTER_OP_COSH: UN(coshf(x))
    case SINTER_OP_ASINH: UN(asinhf(x))
    case SINTER_OP_ACOSH: UN(acoshf(x))
    case SINTER_OP_ATANH: UN(atanhf(x))
    case SINTER_OP_THRESHOLDED_RELU: {
      const float al = pr[0];
      UN(x > al ? x : 0.0f)
    }
    case SINTER_OP_SHRINK: {
      /* params are [bias, lambd] */
      const float bias = pr[0], lambd = pr[1];
      UN((x < -lambd) ? x + bias : (x > lambd) ? x - bias : 0.0f)
    }
    case SINTER_OP_CLIP: {
      /* max then min, so lo > hi gives hi as ONNX says; NaN passes through */
      const float lo = pr[0], hi = pr[1];
      for (int64_t i = 0; i < n; i++) {
        float r = xs[i] < lo ? lo : xs[i];
        ys[i] = r > hi ? hi : r;
      }
      break;
    }
    case SINTER_OP_SILU: UN(x * fe_sigmoid(x))
#undef UN
    default: break;
  }
}

static void fe_binary(sinter_op_t op, const float *as, const float *bs, float *ys, int64_t n) {
  switch (op) {
#define BI(EXPR)                    \
  for (int64_t i = 0; i < n; i++) { \
    float x = as[i], y = bs[i];     \
    ys[i] = (float)(EXPR);          \
  }                                 \
  break;
    case SINTER_OP_ADD: BI(x + y)
    case SINTER_OP_SUB: BI(x - y)
    case SINTER_OP_MUL: BI((x) * (y))
    case SINTER_OP_DIV: BI(x / y)
    case SINTER_OP_POW: BI(powf(x, y))
    case SINTER_OP_PRELU: BI(x < 0.0f ? x * y : x)
    case SINTER_OP_MAX: BI((x > y || isnan(x)) ? x : y)
    case SINTER_OP_MIN: BI((x < y || isnan(x)) ? x : y)
#undef BI
    default: break;
  }
}

/* Rounds n values to dtype dt and back, as storing an intermediate tensor would. */
static void fe_round(sinter_dtype_t dt, float *x, int64_t n) {
  if (dt == SINTER_DTYPE_F16)
    for (int64_t i = 0; i < n; i++) x[i] = sinter_f16_to_f32(sinter_f32_to_f16(x[i]));
  else if (dt == SINTER_DTYPE_BF16)
    for (int64_t i = 0; i < n; i++) x[i] = sinter_bf16_to_f32(sinter_f32_to_bf16(x[i]));
}

static sinter_status_t k_fused_elementwise(sinter_kernel_ctx_t *ctx) {
  int32_t n_in = ctx->n_inputs;
  fe_prog_t p;
  SINTER_TRY(fe_prog_decode(ctx->node, n_in, &p));
  sinter_dtype_t dt = ctx->in[0] ? ctx->in[0]->dtype : SINTER_DTYPE_UNDEFINED;
  for (int32_t i = 0; i < n_in; i++) {
    if (!ctx->in[i] || ctx->in[i]->dtype != dt ||
        (dt != SINTER_DTYPE_F32 && dt != SINTER_DTYPE_F16 && dt != SINTER_DTYPE_BF16)) {
      fe_prog_free(&p);
      return SINTER_NODE_ERROR("inputs must all be present and share one of f32, f16, bf16");
    }
  }
  /* Output shape: every input broadcast together. */
  int32_t rank = 0;
  int64_t dims[SINTER_MAX_RANK];
  for (int32_t i = 0; i < n_in; i++)
    if (ctx->in[i]->rank > rank) rank = ctx->in[i]->rank;
  for (int32_t d = 0; d < rank; d++) {
    dims[d] = 1;
    for (int32_t i = 0; i < n_in; i++) {
      const sinter_tensor_t *t = ctx->in[i];
      int32_t td = d - (rank - t->rank);
      if (td < 0 || t->dims[td] == 1) continue;
      if (dims[d] != 1 && dims[d] != t->dims[td]) {
        fe_prog_free(&p);
        return SINTER_NODE_ERROR("inputs do not broadcast: dim %d is %lld and %lld", d,
                                 (long long)dims[d], (long long)t->dims[td]);
      }
      dims[d] = t->dims[td];
    }
  }
  sinter_status_t st = NULL;
  if (!ctx->out[0].data) st = sinter_kernel_alloc_output(ctx, 0, dt, rank, dims);
  if (st) {
    fe_prog_free(&p);
    return st;
  }
  sinter_tensor_t *out = &ctx->out[0];
  int64_t numel = sinter_tensor_numel(out);
  const float **xin = calloc((size_t)n_in, sizeof(*xin));
  float **conv = calloc((size_t)n_in, sizeof(*conv));
  int64_t *strides = calloc((size_t)n_in * SINTER_MAX_RANK, sizeof(int64_t));
  int64_t *offs = calloc((size_t)n_in, sizeof(int64_t));
  /* Registers: one chunk per input, then one per instruction. */
  float *regs = malloc(sizeof(float) * FE_CHUNK * (size_t)(n_in + p.n));
  if (!xin || !conv || !strides || !offs || !regs)
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int32_t i = 0; i < n_in && !st; i++) {
    const sinter_tensor_t *t = ctx->in[i];
    if (dt == SINTER_DTYPE_F32) {
      xin[i] = t->data;
    } else {
      conv[i] = sinter_tensor_to_f32(t);
      if (!conv[i]) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      xin[i] = conv[i];
    }
    sinter_broadcast_strides(t, rank, dims, strides + (size_t)i * SINTER_MAX_RANK);
  }
  int64_t idx[SINTER_MAX_RANK];
  memset(idx, 0, sizeof(idx));
  for (int64_t e0 = 0; e0 < numel && !st; e0 += FE_CHUNK) {
    int64_t m = numel - e0 < FE_CHUNK ? numel - e0 : FE_CHUNK;
    for (int64_t t = 0; t < m; t++) {
      for (int32_t i = 0; i < n_in; i++) regs[(size_t)i * FE_CHUNK + t] = xin[i][offs[i]];
      for (int32_t d = rank - 1; d >= 0; d--) {
        idx[d]++;
        for (int32_t i = 0; i < n_in; i++) offs[i] += strides[(size_t)i * SINTER_MAX_RANK + d];
        if (idx[d] < dims[d]) break;
        for (int32_t i = 0; i < n_in; i++)
          offs[i] -= strides[(size_t)i * SINTER_MAX_RANK + d] * dims[d];
        idx[d] = 0;
      }
    }
    for (int32_t k = 0; k < p.n; k++) {
      float *y = regs + (size_t)(n_in + k) * FE_CHUNK;
      const float *a = regs + (size_t)p.args[p.arg_at[k]] * FE_CHUNK;
      if (p.arity[k] == 2) {
        const float *b = regs + (size_t)p.args[p.arg_at[k] + 1] * FE_CHUNK;
        fe_binary(p.ops[k], a, b, y, m);
      } else {
        fe_unary(p.ops[k], p.params ? p.params + p.param_at[k] : NULL, a, y, m);
      }
      fe_round(dt, y, m);
    }
    const float *res = regs + (size_t)(n_in + p.n - 1) * FE_CHUNK;
    if (dt == SINTER_DTYPE_F32) {
      memcpy((float *)out->data + e0, res, sizeof(float) * (size_t)m);
    } else {
      for (int64_t t = 0; t < m; t++) sinter_store_f64(out->data, dt, e0 + t, res[t]);
    }
  }
  if (conv)
    for (int32_t i = 0; i < n_in; i++) free(conv[i]);
  free(conv);
  free(xin);
  free(strides);
  free(offs);
  free(regs);
  fe_prog_free(&p);
  return st;
}

const sinter_op_impl_t sinter_impl_fused_attn[] = {
    {SINTER_OP_ATTENTION, infer_attention, k_attention},
    {SINTER_OP_FUSED_ELEMENTWISE, infer_fused_elementwise, k_fused_elementwise},
    {0},
};
