/* Reference MatMul (NumPy matmul: 1-D promotion, broadcast batch dims) and
 * Gemm. f32 goes through sinter_sgemm, f64 is computed in double, f16/bf16/f8
 * in f32 rounded on store, and integers exactly with wrapping int64 sums. */
#include "ir/interp/k_linalg_internal.h"

/* How a kernel computes a dtype. */
typedef enum num_class_e { NUM_F32, NUM_F64, NUM_NARROW_FLOAT, NUM_INT } num_class_t;

static num_class_t num_class(sinter_dtype_t d) {
  if (d == SINTER_DTYPE_F32) return NUM_F32;
  if (d == SINTER_DTYPE_F64) return NUM_F64;
  if (sinter_dtype_is_float(d)) return NUM_NARROW_FLOAT;
  return NUM_INT;
}

/* ---- MatMul ------------------------------------------------------------- */

sinter_status_t sinter_linalg_matmul_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *a = ctx->in[0], *b = ctx->in[1];
  sinter_type_t *o = &ctx->out[0];
  if (a->dtype != b->dtype)
    return SINTER_NODE_ERROR("input dtypes differ: %s and %s", sinter_dtype_name(a->dtype),
                             sinter_dtype_name(b->dtype));
  if (a->dtype != SINTER_DTYPE_UNDEFINED && !is_numeric(a->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(a->dtype));
  sinter_type_unknown_dims(o, a->dtype, 0);
  return sinter_matmul_shape(a, b, o);
}

/* Batch geometry of one MatMul: per output batch dim, the stride (in whole
 * matrices) of A and of B, 0 where that input broadcasts. */
typedef struct mm_geom_s {
  int64_t M, N, K;
  int32_t brank;
  int64_t bdims[SINTER_MAX_RANK];
  int64_t astr[SINTER_MAX_RANK], bstr[SINTER_MAX_RANK];
  int64_t nbatch, a_mats, b_mats;
} mm_geom_t;

static sinter_status_t mm_geometry(const sinter_tensor_t *a, const sinter_tensor_t *b,
                                   mm_geom_t *g) {
  if (a->rank < 1 || b->rank < 1) return SINTER_NODE_ERROR("MatMul inputs must have rank >= 1");
  g->M = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
  g->K = a->dims[a->rank - 1];
  int64_t kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
  g->N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
  if (g->K != kb)
    return SINTER_NODE_ERROR("inner dimensions differ: %lld and %lld", (long long)g->K,
                             (long long)kb);
  int32_t ar = a->rank > 2 ? a->rank - 2 : 0, br = b->rank > 2 ? b->rank - 2 : 0;
  g->brank = ar > br ? ar : br;
  int64_t sa = 1, sb = 1, nb = 1;
  for (int32_t d = g->brank - 1; d >= 0; d--) {
    int32_t da = d - (g->brank - ar), db = d - (g->brank - br);
    int64_t xa = da >= 0 ? a->dims[da] : 1, xb = db >= 0 ? b->dims[db] : 1;
    if (xa != xb && xa != 1 && xb != 1)
      return SINTER_NODE_ERROR("batch dims do not broadcast: %lld and %lld", (long long)xa,
                               (long long)xb);
    g->bdims[d] = xa == 1 ? xb : xa;
    g->astr[d] = xa == 1 ? 0 : sa;
    g->bstr[d] = xb == 1 ? 0 : sb;
    sa *= xa;
    sb *= xb;
    if (__builtin_mul_overflow(nb, g->bdims[d], &nb)) return SINTER_NODE_ERROR("output too large");
  }
  g->nbatch = nb;
  g->a_mats = sa;
  g->b_mats = sb;
  return NULL;
}

static void dgemm(int64_t M, int64_t N, int64_t K, const double *A, const double *B, double *C) {
  for (int64_t i = 0; i < M; i++) {
    double *restrict c = C + i * N;
    for (int64_t j = 0; j < N; j++) c[j] = 0.0;
    for (int64_t k = 0; k < K; k++) {
      double av = A[i * K + k];
      const double *restrict b = B + k * N;
      for (int64_t j = 0; j < N; j++) c[j] += av * b[j];
    }
  }
}

/* Integer product with two's-complement wrapping (unsigned arithmetic, so
 * overflow is defined), as integer MatMul in ONNX Runtime behaves. */
static void igemm(int64_t M, int64_t N, int64_t K, const int64_t *A, const int64_t *B, int64_t *C) {
  for (int64_t i = 0; i < M; i++) {
    uint64_t *restrict c = (uint64_t *)(C + i * N);
    for (int64_t j = 0; j < N; j++) c[j] = 0;
    for (int64_t k = 0; k < K; k++) {
      uint64_t av = (uint64_t)A[i * K + k];
      const int64_t *restrict b = B + k * N;
      for (int64_t j = 0; j < N; j++) c[j] += av * (uint64_t)b[j];
    }
  }
}

/* One matrix product of the batch, in the compute representation of cls. */
static void mm_one(num_class_t cls, int64_t M, int64_t N, int64_t K, const void *A, const void *B,
                   void *C) {
  if (cls == NUM_F64)
    dgemm(M, N, K, A, B, C);
  else if (cls == NUM_INT)
    igemm(M, N, K, A, B, C);
  else
    sinter_sgemm(M, N, K, A, K, B, N, C, N, false);
}

sinter_status_t sinter_linalg_matmul_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *a = ctx->in[0], *b = ctx->in[1];
  if (a->dtype != b->dtype) return SINTER_NODE_ERROR("input dtypes differ");
  if (!is_numeric(a->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(a->dtype));
  mm_geom_t g;
  memset(&g, 0, sizeof(g));
  SINTER_TRY(mm_geometry(a, b, &g));
  int64_t odims[SINTER_MAX_RANK];
  int32_t orank = 0;
  for (int32_t d = 0; d < g.brank; d++) odims[orank++] = g.bdims[d];
  if (a->rank >= 2) odims[orank++] = g.M;
  if (b->rank >= 2) odims[orank++] = g.N;
  SINTER_TRY(ensure_output(ctx, 0, a->dtype, orank, odims));
  sinter_tensor_t *o = &ctx->out[0];
  int64_t onum = sinter_tensor_numel(o);
  if (onum == 0) return NULL;

  num_class_t cls = num_class(a->dtype);
  size_t esz = cls == NUM_F32 ? sizeof(float) : cls == NUM_NARROW_FLOAT ? sizeof(float) : 8;
  const void *A = a->data, *B = b->data;
  void *C = o->data;
  void *ta = NULL, *tb = NULL, *tc = NULL;
  if (cls == NUM_NARROW_FLOAT) {
    ta = sinter_tensor_to_f32(a);
    tb = sinter_tensor_to_f32(b);
    tc = malloc(sizeof(float) * (size_t)onum);
  } else if (cls == NUM_INT) {
    ta = tensor_to_i64(a);
    tb = tensor_to_i64(b);
    tc = malloc(sizeof(int64_t) * (size_t)onum);
  }
  if (cls == NUM_NARROW_FLOAT || cls == NUM_INT) {
    if (!ta || !tb || !tc) {
      free(ta);
      free(tb);
      free(tc);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    }
    A = ta;
    B = tb;
    C = tc;
  }

  int64_t amat = g.M * g.K, bmat = g.K * g.N, cmat = g.M * g.N;
  if (g.b_mats == 1 && g.a_mats == g.nbatch) {
    /* B is one matrix shared by every batch: fold the batch into M. */
    mm_one(cls, g.M * g.nbatch, g.N, g.K, A, B, C);
  } else {
    int64_t idx[SINTER_MAX_RANK] = {0};
    int64_t offa = 0, offb = 0;
    for (int64_t bi = 0; bi < g.nbatch; bi++) {
      mm_one(cls, g.M, g.N, g.K, (const char *)A + (size_t)(offa * amat) * esz,
             (const char *)B + (size_t)(offb * bmat) * esz, (char *)C + (size_t)(bi * cmat) * esz);
      for (int32_t d = g.brank - 1; d >= 0; d--) {
        idx[d]++;
        offa += g.astr[d];
        offb += g.bstr[d];
        if (idx[d] < g.bdims[d]) break;
        offa -= g.astr[d] * g.bdims[d];
        offb -= g.bstr[d] * g.bdims[d];
        idx[d] = 0;
      }
    }
  }

  if (cls == NUM_NARROW_FLOAT) {
    sinter_tensor_from_f32(o, tc, onum);
  } else if (cls == NUM_INT) {
    for (int64_t i = 0; i < onum; i++) sinter_store_i64(o->data, o->dtype, i, ((int64_t *)tc)[i]);
  }
  free(ta);
  free(tb);
  free(tc);
  return NULL;
}

/* ---- Gemm --------------------------------------------------------------- */

sinter_status_t sinter_linalg_gemm_infer(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *a = ctx->in[0], *b = ctx->in[1];
  const sinter_type_t *c = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  sinter_type_t *o = &ctx->out[0];
  if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
    return SINTER_NODE_ERROR("input dtypes differ");
  if (a->dtype != SINTER_DTYPE_UNDEFINED && !is_numeric(a->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(a->dtype));
  if ((a->rank >= 0 && a->rank != 2) || (b->rank >= 0 && b->rank != 2))
    return SINTER_NODE_ERROR("A and B must have rank 2, got %d and %d", a->rank, b->rank);
  if (c && c->rank > 2) return SINTER_NODE_ERROR("C must have rank <= 2, got %d", c->rank);
  bool ta = sinter_node_attr_int(ctx->node, "transA", 0) != 0;
  bool tb = sinter_node_attr_int(ctx->node, "transB", 0) != 0;
  sinter_dim_t unk = {-1, NULL};
  sinter_dim_t M = a->rank == 2 ? a->dims[ta ? 1 : 0] : unk;
  sinter_dim_t Ka = a->rank == 2 ? a->dims[ta ? 0 : 1] : unk;
  sinter_dim_t Kb = b->rank == 2 ? b->dims[tb ? 1 : 0] : unk;
  sinter_dim_t N = b->rank == 2 ? b->dims[tb ? 0 : 1] : unk;
  if (Ka.size >= 0 && Kb.size >= 0 && Ka.size != Kb.size)
    return SINTER_NODE_ERROR("inner dimensions differ: %lld and %lld", (long long)Ka.size,
                             (long long)Kb.size);
  if (c && c->rank >= 0) {
    /* C broadcasts one way to [M, N]: each of its dims is 1 or equal. */
    sinter_dim_t mn[2] = {M, N};
    for (int32_t d = 0; d < c->rank; d++) {
      sinter_dim_t cd = c->dims[d], od = mn[2 - c->rank + d];
      if (cd.size >= 0 && od.size >= 0 && cd.size != 1 && cd.size != od.size)
        return SINTER_NODE_ERROR("C dim %d is %lld, cannot broadcast to %lld", d,
                                 (long long)cd.size, (long long)od.size);
    }
  }
  memset(o, 0, sizeof(*o));
  o->dtype = a->dtype;
  o->rank = 2;
  o->dims[0] = M;
  o->dims[1] = N;
  return NULL;
}

/* Y = alpha * op(A) op(B) + beta * C in f32, rounding as NumPy does in
 * float32: the product, each scaling and the sum are rounded separately. */
static sinter_status_t gemm_f32(int64_t M, int64_t N, int64_t K, const float *A, bool ta,
                                const float *B, bool tb, float alpha, float beta, const float *C,
                                const int64_t *cstr, float *Y) {
  float *at = NULL, *bt = NULL;
  if (ta) {
    at = malloc(sizeof(float) * (size_t)(M * K > 0 ? M * K : 1));
    if (!at) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    for (int64_t k = 0; k < K; k++)
      for (int64_t i = 0; i < M; i++) at[i * K + k] = A[k * M + i];
    A = at;
  }
  if (tb) {
    bt = malloc(sizeof(float) * (size_t)(K * N > 0 ? K * N : 1));
    if (!bt) {
      free(at);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    }
    for (int64_t j = 0; j < N; j++)
      for (int64_t k = 0; k < K; k++) bt[k * N + j] = B[j * K + k];
    B = bt;
  }
  sinter_sgemm(M, N, K, A, K, B, N, Y, N, false);
  free(at);
  free(bt);
  if (alpha != 1.0f)
    for (int64_t i = 0; i < M * N; i++) Y[i] = alpha * Y[i];
  if (C)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) Y[i * N + j] += beta * C[i * cstr[0] + j * cstr[1]];
  return NULL;
}

static void gemm_f64(int64_t M, int64_t N, int64_t K, const double *A, bool ta, const double *B,
                     bool tb, double alpha, double beta, const double *C, const int64_t *cstr,
                     double *Y) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0.0;
      for (int64_t k = 0; k < K; k++)
        s += A[ta ? k * M + i : i * K + k] * B[tb ? j * K + k : k * N + j];
      double y = alpha * s;
      if (C) y += beta * C[i * cstr[0] + j * cstr[1]];
      Y[i * N + j] = y;
    }
}

/* Integers: exact wrapping sums; alpha and beta other than 1 go through
 * double, as an integer Gemm with float scales can only be approximate. */
static void gemm_int(int64_t M, int64_t N, int64_t K, const int64_t *A, bool ta, const int64_t *B,
                     bool tb, float alpha, float beta, const int64_t *C, const int64_t *cstr,
                     sinter_tensor_t *y) {
  bool exact = alpha == 1.0f && beta == 1.0f;
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      uint64_t s = 0;
      for (int64_t k = 0; k < K; k++)
        s += (uint64_t)A[ta ? k * M + i : i * K + k] * (uint64_t)B[tb ? j * K + k : k * N + j];
      int64_t cv = C ? C[i * cstr[0] + j * cstr[1]] : 0;
      if (exact)
        sinter_store_i64(y->data, y->dtype, i * N + j, (int64_t)(s + (uint64_t)cv));
      else
        sinter_store_f64(y->data, y->dtype, i * N + j,
                         (double)alpha * (double)(int64_t)s + (C ? (double)beta * (double)cv : 0));
    }
}

sinter_status_t sinter_linalg_gemm_run(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *a = ctx->in[0], *b = ctx->in[1];
  const sinter_tensor_t *c = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  if (a->rank != 2 || b->rank != 2) return SINTER_NODE_ERROR("A and B must have rank 2");
  if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
    return SINTER_NODE_ERROR("input dtypes differ");
  if (!is_numeric(a->dtype))
    return SINTER_NODE_ERROR("dtype %s is not numeric", sinter_dtype_name(a->dtype));
  bool ta = sinter_node_attr_int(ctx->node, "transA", 0) != 0;
  bool tb = sinter_node_attr_int(ctx->node, "transB", 0) != 0;
  float alpha = sinter_node_attr_float(ctx->node, "alpha", 1.0f);
  float beta = sinter_node_attr_float(ctx->node, "beta", 1.0f);
  int64_t M = a->dims[ta ? 1 : 0], K = a->dims[ta ? 0 : 1];
  int64_t Kb = b->dims[tb ? 1 : 0], N = b->dims[tb ? 0 : 1];
  if (K != Kb)
    return SINTER_NODE_ERROR("inner dimensions differ: %lld and %lld", (long long)K, (long long)Kb);
  int64_t cstr[2] = {0, 0};
  if (c) {
    if (c->rank > 2) return SINTER_NODE_ERROR("C must have rank <= 2, got %d", c->rank);
    int64_t mn[2] = {M, N};
    for (int32_t d = 0; d < c->rank; d++) {
      int64_t cd = c->dims[d], od = mn[2 - c->rank + d];
      if (cd != 1 && cd != od)
        return SINTER_NODE_ERROR("C dim %d is %lld, cannot broadcast to %lld", d, (long long)cd,
                                 (long long)od);
    }
    sinter_broadcast_strides(c, 2, mn, cstr);
  }
  int64_t odims[2] = {M, N};
  SINTER_TRY(ensure_output(ctx, 0, a->dtype, 2, odims));
  sinter_tensor_t *y = &ctx->out[0];
  if (M == 0 || N == 0) return NULL;
  num_class_t cls = num_class(a->dtype);
  if (cls == NUM_F32)
    return gemm_f32(M, N, K, a->data, ta, b->data, tb, alpha, beta, c ? c->data : NULL, cstr,
                    y->data);
  if (cls == NUM_F64) {
    gemm_f64(M, N, K, a->data, ta, b->data, tb, alpha, beta, c ? c->data : NULL, cstr, y->data);
    return NULL;
  }
  sinter_status_t st = NULL;
  if (cls == NUM_NARROW_FLOAT) {
    float *fa = sinter_tensor_to_f32(a), *fb = sinter_tensor_to_f32(b);
    float *fc = c ? sinter_tensor_to_f32(c) : NULL;
    float *fy = malloc(sizeof(float) * (size_t)(M * N));
    if (!fa || !fb || (c && !fc) || !fy)
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    else
      st = gemm_f32(M, N, K, fa, ta, fb, tb, alpha, beta, fc, cstr, fy);
    if (!st) sinter_tensor_from_f32(y, fy, M * N);
    free(fa);
    free(fb);
    free(fc);
    free(fy);
    return st;
  }
  int64_t *ia = tensor_to_i64(a), *ib = tensor_to_i64(b);
  int64_t *ic = c ? tensor_to_i64(c) : NULL;
  if (!ia || !ib || (c && !ic))
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  else
    gemm_int(M, N, K, ia, ta, ib, tb, alpha, beta, ic, cstr, y);
  free(ia);
  free(ib);
  free(ic);
  return st;
}
