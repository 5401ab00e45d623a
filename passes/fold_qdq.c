/* fold-qdq: lowers QDQ islands into integer ops. At each QuantizeLinear, the float op feeding it
 * (Conv/MatMul/Gemm, or MatMul + Add of a constant bias, with an optional Relu or Clip; Add,
 * Mul, GlobalAveragePool, or a data movement op) whose inputs all come from DequantizeLinear
 * becomes one integer op on the quantized tensors. Incomplete patterns stay DQ + float op. Also
 * the decomposers of the integer ops for --export-standard. */
#include <stdio.h>

#include "passes/pass_internal.h"

/* ---- matching ----------------------------------------------------------- */

/* A DequantizeLinear (or the QuantizeLinear) with constant params: x, scale, zero point
 * (NULL: absent, meaning 0 of x's dtype). */
typedef struct qdq_s {
  sinter_node_t *node;
  sinter_value_t *x, *scale, *zp;
  int64_t count;   /* number of scales */
  int64_t axis;    /* normalized axis when count > 1 */
} qdq_t;

static bool is_q8(sinter_dtype_t d) {
  return d == SINTER_DTYPE_U8 || d == SINTER_DTYPE_I8;
}

static int64_t const_numel(const sinter_value_t *v) {
  int64_t n;
  return v && sinter_type_numel(&v->type, &n) ? n : -1;
}

/* Reads q/dq node n's params when they are constants with a plain layout (per tensor or per
 * axis, no blocks). */
static bool read_qdq(sinter_node_t *n, sinter_op_t op, qdq_t *out) {
  if (!n || n->op != op || n->n_inputs < 2 || n->n_outputs != 1) return false;
  sinter_value_t *s = n->inputs[1], *z = n->n_inputs > 2 ? n->inputs[2] : NULL;
  if (!sinter_pat_is_const(s) || s->type.dtype != SINTER_DTYPE_F32) return false;
  if (z && !sinter_pat_is_const(z)) return false;
  if (sinter_node_attr_int(n, "block_size", 0) != 0) return false;
  int64_t ns = const_numel(s);
  if (ns < 1 || (z && const_numel(z) != ns)) return false;
  memset(out, 0, sizeof(*out));
  out->node = n;
  out->x = n->inputs[0];
  out->scale = s;
  out->zp = z;
  out->count = ns;
  if (ns > 1) {
    int32_t ax, rank = out->x->type.rank;
    if (s->type.rank != 1 || !sinter_norm_axis(sinter_node_attr_int(n, "axis", 1), rank, &ax))
      return false;
    out->axis = ax;
  }
  const float *sd = s->data;
  for (int64_t i = 0; i < ns; i++)
    if (!(sd[i] > 0.0f) || !isfinite(sd[i])) return false;
  return true;
}

/* The DequantizeLinear producing v, from a u8/i8 tensor (i32 with want_i32). */
static bool dq_of(const sinter_value_t *v, bool want_i32, qdq_t *out) {
  if (!v || !read_qdq(sinter_pat_producer(v, SINTER_OP_DEQUANTIZE_LINEAR),
                      SINTER_OP_DEQUANTIZE_LINEAR, out))
    return false;
  sinter_dtype_t d = out->x->type.dtype;
  return want_i32 ? d == SINTER_DTYPE_I32 : is_q8(d);
}

static int64_t zp_at(const qdq_t *q, int64_t i) {
  if (!q->zp) return 0;
  return sinter_load_i64(q->zp->data, q->zp->type.dtype, q->count == 1 ? 0 : i);
}
static float scale_at(const qdq_t *q, int64_t i) {
  return ((const float *)q->scale->data)[q->count == 1 ? 0 : i];
}

/* True when a and b quantize the same way: same dtype, scale and zero point (per tensor). */
static bool same_params(const qdq_t *a, const qdq_t *b) {
  return a->count == 1 && b->count == 1 && a->x->type.dtype == b->x->type.dtype &&
         scale_at(a, 0) == scale_at(b, 0) && zp_at(a, 0) == zp_at(b, 0);
}

/* Quantizes a real value r as the QuantizeLinear q does: round(f32(r / s)) + zp, saturated. */
static int64_t quantize_scalar(const qdq_t *q, float r) {
  int64_t lo = q->x->type.dtype == SINTER_DTYPE_U8 ? 0 : -128, hi = lo + 255;
  double v = nearbyint((double)(r / scale_at(q, 0))) + (double)zp_at(q, 0);
  return v <= (double)lo ? lo : v >= (double)hi ? hi : (int64_t)v;
}

/* ---- building ----------------------------------------------------------- */

/* The zero point input for a q/dq whose zero point is absent: a scalar 0 of dtype. */
static sinter_status_t zp_value(sinter_graph_t *g, const qdq_t *q, sinter_value_t **out) {
  if (q->zp) {
    *out = q->zp;
    return NULL;
  }
  sinter_dtype_t dt = q->node->op == SINTER_OP_QUANTIZE_LINEAR ? SINTER_DTYPE_U8 : q->x->type.dtype;
  char hint[512], name[512];
  snprintf(hint, sizeof(hint), "%s_zero_point", q->scale->name);
  sinter_pat_unique_name(g, hint, name, sizeof(name));
  sinter_type_t t;
  sinter_type_set_static(&t, dt, 0, NULL);
  uint8_t zero = 0;
  return sinter_graph_add_const(g, name, &t, &zero, 1, out);
}

/* Inserts an op before `before`, named after `hint`, copying from's attributes when given. */
static sinter_status_t insert(sinter_graph_t *g, sinter_node_t *before, sinter_op_t op,
                              const char *hint, const sinter_node_t *from,
                              sinter_value_t *const *ins, int32_t n_ins, sinter_node_t **out) {
  SINTER_TRY(sinter_graph_insert_node(g, before, op, hint, ins, n_ins, 1, out));
  for (int32_t i = 0; from && i < from->n_attrs; i++)
    SINTER_TRY(sinter_node_set_attr(*out, &from->attrs[i]));
  return NULL;
}

static sinter_status_t set_clamp(sinter_node_t *n, int64_t lo, int64_t hi, sinter_dtype_t dt) {
  int64_t dlo = dt == SINTER_DTYPE_U8 ? 0 : -128, dhi = dlo + 255;
  if (lo > dlo) SINTER_TRY(sinter_node_set_attr_int(n, "qmin", lo));
  if (hi < dhi) SINTER_TRY(sinter_node_set_attr_int(n, "qmax", hi));
  return NULL;
}

/* Replaces q's output with node's, infers node and erases the float ops left dead. */
static sinter_status_t finish(sinter_graph_t *g, sinter_node_t *node, const qdq_t *q,
                              sinter_node_t *last_float, sinter_pass_counters_t *counters) {
  (void)last_float;
  SINTER_TRY(sinter_pat_infer_node(g, node));
  /* Removing the Q erases, transitively, the float ops and DQs left without uses. */
  int32_t before = g->n_nodes;
  char name[512];
  snprintf(name, sizeof(name), "%s", q->node->outputs[0]->name);
  SINTER_TRY(sinter_pat_replace_output(g, q->node, 0, node->outputs[0]));
  /* The integer result is what the Q made: it keeps that name (unless a graph output took it). */
  if (name[0] && !node->outputs[0]->name[0] && !sinter_graph_find_value(g, name))
    SINTER_TRY(sinter_value_set_name(node->outputs[0], name));
  counters->removed += before - g->n_nodes;
  return NULL;
}

/* ---- Conv / MatMul / Gemm [+ Relu | Clip] -------------------------------- */

/* The activation before the Q as an integer clamp; *out_in is its input. */
static bool match_act(sinter_node_t *p, const qdq_t *q, int64_t *lo, int64_t *hi,
                      sinter_value_t **out_in) {
  *lo = q->x->type.dtype == SINTER_DTYPE_U8 ? 0 : -128;
  *hi = *lo + 255;
  if (p->op == SINTER_OP_RELU) {
    *lo = quantize_scalar(q, 0.0f);
  } else if (p->op == SINTER_OP_CLIP) {
    /* Quantizing is monotonic: Q(clip(x, a, b)) = clamp(Q(x), Q(a), Q(b)). */
    for (int32_t i = 1; i < p->n_inputs; i++) {
      sinter_value_t *c = p->inputs[i];
      if (!c) continue;
      if (!sinter_pat_is_const(c) || c->type.dtype != SINTER_DTYPE_F32 || const_numel(c) != 1)
        return false;
      float v = *(const float *)c->data;
      if (isnan(v)) return false;
      if (i == 1)
        *lo = quantize_scalar(q, v) > *lo ? quantize_scalar(q, v) : *lo;
      else
        *hi = quantize_scalar(q, v) < *hi ? quantize_scalar(q, v) : *hi;
    }
    if (*lo > *hi) return false;
  } else {
    *out_in = NULL;
    return true;
  }
  *out_in = p->inputs[0];
  return sinter_pat_single_use(*out_in);
}

/* Whether bias value b (numel m) broadcasts over the last dim only: dims all 1 but the last. */
static bool last_dim_only(const sinter_value_t *b, int64_t m) {
  const sinter_type_t *t = &b->type;
  if (t->rank < 1 || t->dims[t->rank - 1].size != m) return false;
  for (int32_t i = 0; i + 1 < t->rank; i++)
    if (t->dims[i].size != 1) return false;
  return true;
}

/* An int32 bias for output channel scales s_x * s_w[m] (b: numel m along its last dim): a DQ'd
 * i32 constant with zero point 0 whose scale matches (to 1e-5 relative, so the int32 values add
 * as they are), or a float constant or (with allow_q8: an Add's operand, as quantizers leave a
 * MatMul's bias) a DQ'd u8/i8 constant, whose real values (the DQ's, in f32) are quantized here
 * (round half to even, saturated). */
static sinter_status_t make_bias(sinter_graph_t *g, sinter_value_t *b, const qdq_t *x,
                                 const qdq_t *w, int64_t m, bool allow_q8, sinter_value_t **out,
                                 bool *ok) {
  *ok = false;
  *out = NULL;
  if (!b) {
    *ok = true;
    return NULL;
  }
  if (const_numel(b) != m || !last_dim_only(b, m)) return NULL;
  qdq_t bq;
  bool i32 = dq_of(b, true, &bq), q8 = !i32 && allow_q8 && dq_of(b, false, &bq);
  if (i32 || q8) {
    if (!sinter_pat_is_const(bq.x) || (bq.count != 1 && bq.count != m)) return NULL;
    if (bq.count > 1 && bq.axis != bq.x->type.rank - 1) return NULL;
  } else if (!sinter_pat_is_const(b) || b->type.dtype != SINTER_DTYPE_F32) {
    return NULL;
  }
  if (i32) {
    for (int64_t i = 0; i < m; i++) {
      double want = (double)scale_at(x, 0) * (double)scale_at(w, i);
      if (zp_at(&bq, i) != 0 || fabs((double)scale_at(&bq, i) - want) > 1e-5 * want) return NULL;
    }
    if (bq.x->type.rank == 1) {
      *out = bq.x;
      *ok = true;
      return NULL;
    }
  }
  int32_t *q = malloc(sizeof(int32_t) * (size_t)m);
  if (!q) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < m; i++) {
    if (i32) { /* the same integers, reshaped to [m] */
      q[i] = (int32_t)sinter_load_i64(bq.x->data, SINTER_DTYPE_I32, i);
      continue;
    }
    /* DequantizeLinear's value: (q - zp) * s, in f32. */
    float r = q8 ? (float)(sinter_load_i64(bq.x->data, bq.x->type.dtype, i) - zp_at(&bq, i)) *
                       scale_at(&bq, i)
                 : ((const float *)b->data)[i];
    double v = nearbyint((double)r / ((double)scale_at(x, 0) * (double)scale_at(w, i)));
    q[i] = v <= (double)INT32_MIN ? INT32_MIN : v >= (double)INT32_MAX ? INT32_MAX : (int32_t)v;
  }
  /* Separate buffers: unique_name formats hint into its output. */
  char hint[512], name[512];
  const sinter_value_t *src = i32 || q8 ? bq.x : b;
  snprintf(hint, sizeof(hint), "%s%s", src->name[0] ? src->name : "bias",
           i32 ? "_reshaped" : q8 ? "_i32" : "_quantized");
  sinter_pat_unique_name(g, hint, name, sizeof(name));
  sinter_type_t t;
  sinter_type_set_static(&t, SINTER_DTYPE_I32, 1, &m);
  sinter_status_t st = sinter_graph_add_const(g, name, &t, q, sizeof(int32_t) * (size_t)m, out);
  free(q);
  *ok = !st;
  return st;
}

/* The weight [K, N] of a Gemm with transB = 1 (w [N, K]): a transposed copy. */
static sinter_status_t transposed(sinter_graph_t *g, const sinter_value_t *w,
                                  sinter_value_t **out) {
  int64_t N = w->type.dims[0].size, K = w->type.dims[1].size;
  uint8_t *d = malloc((size_t)(N * K > 0 ? N * K : 1));
  if (!d) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  const uint8_t *s = w->data;
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++) d[k * N + n] = s[n * K + k];
  char hint[512], name[512];
  snprintf(hint, sizeof(hint), "%s_transposed", w->name);
  sinter_pat_unique_name(g, hint, name, sizeof(name));
  int64_t dims[2] = {K, N};
  sinter_type_t t;
  sinter_type_set_static(&t, w->type.dtype, 2, dims);
  sinter_status_t st = sinter_graph_add_const(g, name, &t, d, (size_t)(N * K), out);
  free(d);
  return st;
}

static sinter_status_t fold_linear(sinter_graph_t *g, const qdq_t *q, sinter_node_t *p,
                                   sinter_pass_counters_t *counters, bool *done) {
  *done = false;
  int64_t lo, hi;
  sinter_value_t *act_in;
  if (!match_act(p, q, &lo, &hi, &act_in)) return NULL;
  sinter_node_t *L = act_in ? sinter_pat_producer(act_in, SINTER_OP_INVALID) : p;
  if (!L || L->n_outputs != 1) return NULL;
  /* MatMul + Add(bias), as PyTorch exports nn.Linear on 3-D inputs (float or DQ'd bias): the
   * bias (the Add's other operand) folds like Gemm's C. */
  sinter_value_t *add_bias = NULL;
  if (L->op == SINTER_OP_ADD) {
    if (L->n_inputs != 2 || L->outputs[0]->type.dtype != SINTER_DTYPE_F32) return NULL;
    sinter_node_t *A = L;
    for (int32_t i = 0; i < 2 && L == A; i++) {
      sinter_node_t *mmn = sinter_pat_producer(A->inputs[i], SINTER_OP_MATMUL);
      if (mmn && mmn->n_outputs == 1 && sinter_pat_single_use(A->inputs[i])) {
        L = mmn;
        add_bias = A->inputs[1 - i];
      }
    }
    if (L == A || !add_bias) return NULL;
    /* The bias must not widen the MatMul's shape. */
    if (add_bias->type.rank > L->outputs[0]->type.rank) return NULL;
  }
  bool conv = L->op == SINTER_OP_CONV, mm = L->op == SINTER_OP_MATMUL;
  bool gemm = L->op == SINTER_OP_GEMM;
  if (!conv && !mm && !gemm) return NULL;
  qdq_t x, w;
  if (!dq_of(L->inputs[0], false, &x) || x.count != 1) return NULL;
  if (!dq_of(L->inputs[1], false, &w) || !sinter_pat_is_const(w.x)) return NULL;
  const sinter_type_t *wt = &w.x->type;
  bool trans_b = false;
  int64_t m; /* output channels */
  if (conv) {
    if (wt->rank < 3 || (w.count > 1 && w.axis != 0)) return NULL;
    m = wt->dims[0].size;
  } else {
    if (wt->rank != 2) return NULL;
    if (gemm) {
      if (sinter_node_attr_int(L, "transA", 0) != 0 ||
          sinter_node_attr_float(L, "alpha", 1.0f) != 1.0f ||
          (L->n_inputs > 2 && L->inputs[2] && sinter_node_attr_float(L, "beta", 1.0f) != 1.0f))
        return NULL;
      trans_b = sinter_node_attr_int(L, "transB", 0) != 0;
    }
    if (w.count > 1 && w.axis != (trans_b ? 0 : 1)) return NULL;
    m = wt->dims[trans_b ? 0 : 1].size;
    if (x.x->type.rank < 1 || (gemm && x.x->type.rank != 2)) return NULL;
  }
  if (m < 1 || (w.count != 1 && w.count != m)) return NULL;
  sinter_value_t *bias_in = add_bias ? add_bias : !mm && L->n_inputs > 2 ? L->inputs[2] : NULL;
  /* Gemm's C may be [N] or [1, N]: only [N] (the common export) folds. */
  if (bias_in && !add_bias && bias_in->type.rank != 1) return NULL;
  sinter_value_t *bias;
  bool ok;
  SINTER_TRY(make_bias(g, bias_in, &x, &w, m, add_bias != NULL, &bias, &ok));
  if (!ok) return NULL;

  sinter_value_t *wv = w.x, *xz, *wz, *yz;
  if (trans_b) SINTER_TRY(transposed(g, w.x, &wv));
  SINTER_TRY(zp_value(g, &x, &xz));
  SINTER_TRY(zp_value(g, &w, &wz));
  SINTER_TRY(zp_value(g, q, &yz));
  sinter_value_t *ins[9] = {x.x, x.scale, xz, wv, w.scale, wz, q->scale, yz, bias};
  sinter_node_t *node;
  SINTER_TRY(insert(g, L, conv ? SINTER_OP_QLINEAR_CONV_ACT : SINTER_OP_QLINEAR_MATMUL_ACT,
                    L->name, conv ? L : NULL, ins, bias ? 9 : 8, &node));
  SINTER_TRY(set_clamp(node, lo, hi, q->x->type.dtype));
  SINTER_TRY(finish(g, node, q, p, counters));
  counters->fused++;
  *done = true;
  return NULL;
}

/* ---- Add / Mul [+ Relu | Clip], GlobalAveragePool ------------------------- */

static sinter_status_t fold_binary(sinter_graph_t *g, const qdq_t *q, sinter_node_t *p,
                                   sinter_pass_counters_t *counters, bool *done) {
  *done = false;
  int64_t lo, hi;
  sinter_value_t *act_in;
  if (!match_act(p, q, &lo, &hi, &act_in)) return NULL;
  sinter_node_t *B = act_in ? sinter_pat_producer(act_in, SINTER_OP_INVALID) : p;
  if (!B || (B->op != SINTER_OP_ADD && B->op != SINTER_OP_MUL) || B->n_inputs != 2) return NULL;
  qdq_t a, b;
  if (!dq_of(B->inputs[0], false, &a) || a.count != 1) return NULL;
  if (!dq_of(B->inputs[1], false, &b) || b.count != 1) return NULL;
  sinter_value_t *az, *bz, *yz;
  SINTER_TRY(zp_value(g, &a, &az));
  SINTER_TRY(zp_value(g, &b, &bz));
  SINTER_TRY(zp_value(g, q, &yz));
  sinter_value_t *ins[8] = {a.x, a.scale, az, b.x, b.scale, bz, q->scale, yz};
  sinter_node_t *node;
  SINTER_TRY(insert(g, B, B->op == SINTER_OP_ADD ? SINTER_OP_QLINEAR_ADD : SINTER_OP_QLINEAR_MUL,
                    B->name, NULL, ins, 8, &node));
  SINTER_TRY(set_clamp(node, lo, hi, q->x->type.dtype));
  SINTER_TRY(finish(g, node, q, p, counters));
  counters->fused++;
  *done = true;
  return NULL;
}

static sinter_status_t fold_gap(sinter_graph_t *g, const qdq_t *q, sinter_node_t *p,
                                sinter_pass_counters_t *counters, bool *done) {
  *done = false;
  qdq_t x;
  if (p->op != SINTER_OP_GLOBAL_AVERAGE_POOL || !dq_of(p->inputs[0], false, &x) || x.count != 1)
    return NULL;
  sinter_value_t *xz, *yz;
  SINTER_TRY(zp_value(g, &x, &xz));
  SINTER_TRY(zp_value(g, q, &yz));
  sinter_value_t *ins[5] = {x.x, x.scale, xz, q->scale, yz};
  sinter_node_t *node;
  SINTER_TRY(insert(g, p, SINTER_OP_QLINEAR_GLOBAL_AVERAGE_POOL, p->name, NULL, ins, 5, &node));
  SINTER_TRY(finish(g, node, q, p, counters));
  counters->fused++;
  *done = true;
  return NULL;
}

/* ---- data movement and MaxPool: the same op on the integers ----------------- */

/* Ops that commute with quantization when input and output share params: they move or select
 * values (MaxPool: rounding and saturating are monotonic), never compute new ones. */
static bool int_passthrough(sinter_op_t op) {
  switch (op) {
    case SINTER_OP_MAX_POOL:
    case SINTER_OP_FLATTEN:
    case SINTER_OP_RESHAPE:
    case SINTER_OP_TRANSPOSE:
    case SINTER_OP_SQUEEZE:
    case SINTER_OP_UNSQUEEZE:
    case SINTER_OP_IDENTITY:
    case SINTER_OP_CONCAT:
    case SINTER_OP_DEPTH_TO_SPACE:
    case SINTER_OP_SPACE_TO_DEPTH: return true;
    default: return false;
  }
}

static sinter_status_t fold_passthrough(sinter_graph_t *g, const qdq_t *q, sinter_node_t *p,
                                        sinter_pass_counters_t *counters, bool *done) {
  *done = false;
  if (!int_passthrough(p->op) || p->n_outputs != 1 || q->count != 1) return NULL;
  /* Concat: every input; the others: the data input 0 (the rest are shapes or axes). */
  int32_t n_data = p->op == SINTER_OP_CONCAT ? p->n_inputs : 1;
  sinter_value_t *ins[SINTER_INFER_MAX_IO];
  if (p->n_inputs > SINTER_INFER_MAX_IO) return NULL;
  for (int32_t i = 0; i < p->n_inputs; i++) {
    ins[i] = p->inputs[i];
    if (i >= n_data) continue;
    qdq_t x;
    if (!dq_of(p->inputs[i], false, &x) || !same_params(&x, q)) return NULL;
    ins[i] = x.x;
  }
  sinter_node_t *node;
  SINTER_TRY(insert(g, p, p->op, p->name, p, ins, p->n_inputs, &node));
  SINTER_TRY(finish(g, node, q, p, counters));
  counters->rewritten++;
  *done = true;
  return NULL;
}

/* ---- the pass ------------------------------------------------------------ */

static sinter_status_t fold_at(sinter_graph_t *g, sinter_node_t *qn,
                               sinter_pass_counters_t *counters) {
  qdq_t q;
  if (!read_qdq(qn, SINTER_OP_QUANTIZE_LINEAR, &q) || q.count != 1) return NULL;
  sinter_dtype_t dt = qn->outputs[0]->type.dtype;
  if (!is_q8(dt) || (q.zp && q.zp->type.dtype != dt)) return NULL;
  if (!q.x || q.x->type.dtype != SINTER_DTYPE_F32 || !sinter_pat_single_use(q.x)) return NULL;
  sinter_node_t *p = sinter_pat_producer(q.x, SINTER_OP_INVALID);
  if (!p || p->n_outputs != 1) return NULL;
  /* q.x below stands for the Q's output dtype when quantizing constants. */
  q.x = qn->outputs[0];
  bool done = false;
  SINTER_TRY(fold_linear(g, &q, p, counters, &done));
  if (!done) SINTER_TRY(fold_binary(g, &q, p, counters, &done));
  if (!done) SINTER_TRY(fold_gap(g, &q, p, counters, &done));
  if (!done) SINTER_TRY(fold_passthrough(g, &q, p, counters, &done));
  return NULL;
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  (void)args;
  (void)user;
  for (sinter_node_t *n = graph->first; n;) {
    sinter_node_t *next = n->next;
    if (n->op == SINTER_OP_QUANTIZE_LINEAR) {
      char desc[256];
      sinter_ir_node_desc(n, desc, sizeof(desc));
      /* Folding removes n and float ops before it; the walk goes on after n. */
      SINTER_RETURN_IF_ERROR(fold_at(graph, n, counters), "folding %s", desc);
    }
    n = next;
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_fold_qdq = {
    "fold-qdq",
    "lower QDQ islands (DQ -> Conv/MatMul/Gemm/Add/Mul/pool/movement -> Q) into integer ops",
    NULL,
    0,
    run,
    NULL,
};

/* ---- decomposition into standard ONNX ------------------------------------- */

static sinter_status_t std_node(sinter_graph_t *g, sinter_node_t *before, sinter_op_t op,
                                const char *suffix, sinter_value_t *const *ins, int32_t n,
                                sinter_node_t **out) {
  char name[512];
  snprintf(name, sizeof(name), "%s/%s", before->name[0] ? before->name : "q", suffix);
  SINTER_TRY(sinter_graph_insert_node(g, before, op, name, ins, n, 1, out));
  return NULL;
}

static sinter_status_t add_scalar(sinter_graph_t *g, const char *hint, sinter_dtype_t dt,
                                  double v, sinter_value_t **out) {
  char name[512];
  sinter_pat_unique_name(g, hint, name, sizeof(name));
  sinter_type_t t;
  sinter_type_set_static(&t, dt, 0, NULL);
  uint8_t buf[8];
  size_t nb = (size_t)sinter_dtype_bits(dt) / 8;
  sinter_store_f64(buf, dt, 0, v);
  return sinter_graph_add_const(g, name, &t, buf, nb, out);
}

/* y clamped to the node's [qmin, qmax] with an integer Clip (none when the clamp is the whole
 * range); the node's output uses then move to the result. */
static sinter_status_t clamp_and_replace(sinter_graph_t *g, sinter_node_t *node,
                                         sinter_node_t *last) {
  SINTER_TRY(sinter_pat_infer_node(g, last));
  sinter_value_t *y = last->outputs[0];
  sinter_dtype_t dt = y->type.dtype;
  int64_t lo = dt == SINTER_DTYPE_U8 ? 0 : -128, hi = lo + 255;
  int64_t a = sinter_node_attr_int(node, "qmin", lo), b = sinter_node_attr_int(node, "qmax", hi);
  if (a != lo || b != hi) {
    sinter_value_t *ins[3] = {y, NULL, NULL};
    SINTER_TRY(add_scalar(g, "qmin", dt, (double)a, &ins[1]));
    SINTER_TRY(add_scalar(g, "qmax", dt, (double)b, &ins[2]));
    sinter_node_t *clip;
    SINTER_TRY(std_node(g, node, SINTER_OP_CLIP, "Clip", ins, 3, &clip));
    SINTER_TRY(sinter_pat_infer_node(g, clip));
    y = clip->outputs[0];
  }
  return sinter_pat_replace_output(g, node, 0, y);
}

/* QLinearConv with the same inputs and attributes, then the clamp: bit for bit the same. */
sinter_status_t sinter_decompose_qlinear_conv_act(sinter_graph_t *graph, sinter_node_t *node) {
  sinter_node_t *c;
  SINTER_TRY(std_node(graph, node, SINTER_OP_QLINEAR_CONV, "QLinearConv", node->inputs,
                      node->n_inputs, &c));
  for (int32_t i = 0; i < node->n_attrs; i++)
    if (strcmp(node->attrs[i].name, "qmin") && strcmp(node->attrs[i].name, "qmax"))
      SINTER_TRY(sinter_node_set_attr(c, &node->attrs[i]));
  return clamp_and_replace(graph, node, c);
}

/* Without a bias, QLinearMatMul (+ clamp); with one, the requantization spelled out in double
 * (MatMulInteger, Add bias, Cast f64, Mul multiplier, Add zero point, Round, Clip, Cast): each
 * step rounds as the kernel does, so both are bit for bit the same. */
sinter_status_t sinter_decompose_qlinear_matmul_act(sinter_graph_t *graph, sinter_node_t *node) {
  sinter_value_t *bias = node->n_inputs > 8 ? node->inputs[8] : NULL;
  if (!bias) {
    sinter_node_t *m;
    SINTER_TRY(std_node(graph, node, SINTER_OP_QLINEAR_MATMUL, "QLinearMatMul", node->inputs, 8,
                        &m));
    return clamp_and_replace(graph, node, m);
  }
  sinter_value_t *as = node->inputs[1], *bs = node->inputs[4], *ys = node->inputs[6];
  sinter_value_t *yz = node->inputs[7];
  if (!sinter_pat_is_const(as) || !sinter_pat_is_const(bs) || !sinter_pat_is_const(ys) ||
      !sinter_pat_is_const(yz) || as->type.dtype != SINTER_DTYPE_F32 ||
      bs->type.dtype != SINTER_DTYPE_F32 || ys->type.dtype != SINTER_DTYPE_F32)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "a biased QLinearMatMulAct needs constant f32 scales");
  int64_t nb = const_numel(bs);
  double *mult = malloc(sizeof(double) * (size_t)(nb > 0 ? nb : 1));
  if (!mult) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  float a0 = *(const float *)as->data, y0 = *(const float *)ys->data;
  for (int64_t j = 0; j < nb; j++) mult[j] = (double)(a0 * ((const float *)bs->data)[j] / y0);
  sinter_type_t mt;
  sinter_type_set_static(&mt, SINTER_DTYPE_F64, nb == 1 ? 0 : 1, &nb);
  char name[512];
  sinter_pat_unique_name(graph, "requant_multiplier", name, sizeof(name));
  sinter_value_t *mv;
  sinter_status_t st = sinter_graph_add_const(graph, name, &mt, mult, sizeof(double) * (size_t)nb,
                                              &mv);
  free(mult);
  SINTER_TRY(st);
  sinter_node_t *mm, *add, *cast, *mul, *addz, *round, *clip, *out;
  sinter_value_t *ins[4] = {node->inputs[0], node->inputs[3], node->inputs[2], node->inputs[5]};
  SINTER_TRY(std_node(graph, node, SINTER_OP_MATMUL_INTEGER, "MatMulInteger", ins, 4, &mm));
  SINTER_TRY(sinter_pat_infer_node(graph, mm));
  sinter_value_t *i2[2] = {mm->outputs[0], bias};
  SINTER_TRY(std_node(graph, node, SINTER_OP_ADD, "AddBias", i2, 2, &add));
  SINTER_TRY(sinter_pat_infer_node(graph, add));
  SINTER_TRY(std_node(graph, node, SINTER_OP_CAST, "CastF64", add->outputs, 1, &cast));
  SINTER_TRY(sinter_node_set_attr_int(cast, "to", sinter_dtype_to_onnx(SINTER_DTYPE_F64)));
  SINTER_TRY(sinter_pat_infer_node(graph, cast));
  sinter_value_t *i3[2] = {cast->outputs[0], mv};
  SINTER_TRY(std_node(graph, node, SINTER_OP_MUL, "Requantize", i3, 2, &mul));
  SINTER_TRY(sinter_pat_infer_node(graph, mul));
  sinter_dtype_t dt = yz->type.dtype;
  sinter_value_t *i4[2] = {mul->outputs[0], NULL};
  SINTER_TRY(add_scalar(graph, "y_zero_point_f64", SINTER_DTYPE_F64,
                        (double)sinter_load_i64(yz->data, dt, 0), &i4[1]));
  SINTER_TRY(std_node(graph, node, SINTER_OP_ADD, "AddZeroPoint", i4, 2, &addz));
  SINTER_TRY(sinter_pat_infer_node(graph, addz));
  SINTER_TRY(std_node(graph, node, SINTER_OP_ROUND, "Round", addz->outputs, 1, &round));
  SINTER_TRY(sinter_pat_infer_node(graph, round));
  int64_t lo = dt == SINTER_DTYPE_U8 ? 0 : -128;
  sinter_value_t *i5[3] = {round->outputs[0], NULL, NULL};
  SINTER_TRY(add_scalar(graph, "qmin", SINTER_DTYPE_F64,
                        (double)sinter_node_attr_int(node, "qmin", lo), &i5[1]));
  SINTER_TRY(add_scalar(graph, "qmax", SINTER_DTYPE_F64,
                        (double)sinter_node_attr_int(node, "qmax", lo + 255), &i5[2]));
  SINTER_TRY(std_node(graph, node, SINTER_OP_CLIP, "Saturate", i5, 3, &clip));
  SINTER_TRY(sinter_pat_infer_node(graph, clip));
  SINTER_TRY(std_node(graph, node, SINTER_OP_CAST, "Cast", clip->outputs, 1, &out));
  SINTER_TRY(sinter_node_set_attr_int(out, "to", sinter_dtype_to_onnx(dt)));
  SINTER_TRY(sinter_pat_infer_node(graph, out));
  return sinter_pat_replace_output(graph, node, 0, out->outputs[0]);
}

/* DequantizeLinear of each input, the float op, QuantizeLinear (+ clamp): the QDQ form the
 * op came from. The float path agrees with the integer kernel within one step (docs). */
static sinter_status_t decompose_dq_op_q(sinter_graph_t *g, sinter_node_t *node, sinter_op_t op,
                                         int32_t n_data) {
  sinter_value_t *fin[2];
  for (int32_t i = 0; i < n_data; i++) {
    sinter_node_t *dq;
    SINTER_TRY(std_node(g, node, SINTER_OP_DEQUANTIZE_LINEAR, i ? "DequantizeB" : "Dequantize",
                        node->inputs + 3 * i, 3, &dq));
    SINTER_TRY(sinter_pat_infer_node(g, dq));
    fin[i] = dq->outputs[0];
  }
  sinter_node_t *f, *q;
  SINTER_TRY(std_node(g, node, op, sinter_op_info(op)->name, fin, n_data, &f));
  SINTER_TRY(sinter_pat_infer_node(g, f));
  sinter_value_t *qi[3] = {f->outputs[0], node->inputs[3 * n_data], node->inputs[3 * n_data + 1]};
  SINTER_TRY(std_node(g, node, SINTER_OP_QUANTIZE_LINEAR, "Quantize", qi, 3, &q));
  return clamp_and_replace(g, node, q);
}

sinter_status_t sinter_decompose_qlinear_add(sinter_graph_t *graph, sinter_node_t *node) {
  return decompose_dq_op_q(graph, node, SINTER_OP_ADD, 2);
}

sinter_status_t sinter_decompose_qlinear_mul(sinter_graph_t *graph, sinter_node_t *node) {
  return decompose_dq_op_q(graph, node, SINTER_OP_MUL, 2);
}

sinter_status_t sinter_decompose_qlinear_global_average_pool(sinter_graph_t *graph,
                                                             sinter_node_t *node) {
  return decompose_dq_op_q(graph, node, SINTER_OP_GLOBAL_AVERAGE_POOL, 1);
}
