/* Elementwise and data-movement kernels: unary and broadcasting binary fp32
 * ops with the activation epilogue, strided copies (Transpose, Slice,
 * Expand, Concat), Gather and Cast. Written so that, inlined with constant
 * op codes, dims and strides, every innermost loop is a plain vector loop. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "act_impl.h"
#include "kernels.h"
#include "misc_impl.h"

enum { MAX_RANK = 8, BLOCK = 16 };

/* ---- unary ------------------------------------------------------------------------------- */

typedef struct unary_ctx_s {
  int32_t op;
  int64_t n;
  const float *x;
  float *y;
  float p0, p1;
} unary_ctx_t;

/* One loop per case, so the op test is outside the loop even when op is not a
 * constant (the parallel path). */
#define UN_LOOP(EXPR)               \
  for (int64_t i = b; i < e; i++) { \
    float v = x[i];                 \
    y[i] = (EXPR);                  \
  }                                 \
  break;
#define ACT_CASE(A) \
  case A: UN_LOOP(sinter_k_act(v, A, p0, p1))

/* Elements [b, e) of x into y; exp goes 16 at a time through km_exp, with
 * block boundaries at multiples of 16 from the array start. */
static void unary_range(int32_t op, const float *x, float *y, float p0, float p1, int64_t b,
                        int64_t e) {
  switch (op) {
    case SINTER_K_UN_NEG: UN_LOOP(-v)
    case SINTER_K_UN_ABS: UN_LOOP(fabsf(v))
    case SINTER_K_UN_EXP: {
      int64_t i = b;
      for (; i + BLOCK <= e; i += BLOCK) km_store(y + i, km_exp(km_load(x + i)));
      if (i < e) km_store_part(y + i, km_exp(km_load_part(x + i, e - i, 0.0f)), e - i);
      break;
    }
    case SINTER_K_UN_LOG: UN_LOOP(logf(v))
    case SINTER_K_UN_SQRT: UN_LOOP(sqrtf(v))
    case SINTER_K_UN_RECIPROCAL: UN_LOOP(1.0f / v)
    case SINTER_K_UN_ERF: UN_LOOP(erff(v))
    case SINTER_K_UN_FLOOR: UN_LOOP(floorf(v))
    case SINTER_K_UN_CEIL: UN_LOOP(ceilf(v))
    case SINTER_K_UN_COS: UN_LOOP(cosf(v))
    case SINTER_K_UN_SIN:
      UN_LOOP(sinf(v))
      ACT_CASE(SINTER_K_ACT_RELU)
      ACT_CASE(SINTER_K_ACT_CLIP)
      ACT_CASE(SINTER_K_ACT_LEAKY_RELU)
      ACT_CASE(SINTER_K_ACT_SIGMOID)
      ACT_CASE(SINTER_K_ACT_HARD_SIGMOID)
      ACT_CASE(SINTER_K_ACT_HARD_SWISH)
      ACT_CASE(SINTER_K_ACT_GELU)
      ACT_CASE(SINTER_K_ACT_GELU_TANH)
      ACT_CASE(SINTER_K_ACT_SILU)
      ACT_CASE(SINTER_K_ACT_TANH)
    default:
      if (x != y) memmove(y + b, x + b, (size_t)(e - b) * sizeof(float));
      break;
  }
}

/* Tasks are in blocks of 16 elements, so the exp split does not depend on them. */
static void unary_task(void *ctx, int64_t b, int64_t e) {
  const unary_ctx_t *c = ctx;
  int64_t lo = b * BLOCK, hi = e * BLOCK < c->n ? e * BLOCK : c->n;
  unary_range(c->op, c->x, c->y, c->p0, c->p1, lo, hi);
}

void sinter_k_unary_f32(int32_t op, int64_t n, const float *x, float *y, float p0, float p1,
                        const sinter_art_exec_t *exec) {
  if (n <= 0) return;
  unary_ctx_t c = {op, n, x, y, p0, p1};
  int64_t blocks = (n + BLOCK - 1) / BLOCK;
  if (!exec || exec->num_threads <= 1) {
    unary_range(op, x, y, p0, p1, 0, n);
    return;
  }
  km_run(exec, blocks, km_grain(BLOCK), unary_task, &c);
}

/* ---- binary ------------------------------------------------------------------------------ */

/* Drops unit dims and merges dim d into d+1 where every stride array is
 * contiguous across them. out_strides (dense, row-major) is implied. Returns
 * the new rank (>= 1) with dims in nd, strides in ns[k]. */
static int32_t collapse(int32_t rank, const int64_t *dims, int32_t nstr,
                        const int64_t *const *strides, int64_t *nd, int64_t (*ns)[MAX_RANK]) {
  int32_t r = 0;
  for (int32_t d = 0; d < rank; d++) {
    if (dims[d] == 1) continue;
    bool merge = r > 0;
    for (int32_t k = 0; merge && k < nstr; k++) merge = ns[k][r - 1] == strides[k][d] * dims[d];
    if (merge) {
      nd[r - 1] *= dims[d];
      for (int32_t k = 0; k < nstr; k++) ns[k][r - 1] = strides[k][d];
    } else {
      nd[r] = dims[d];
      for (int32_t k = 0; k < nstr; k++) ns[k][r] = strides[k][d];
      r++;
    }
  }
  if (r == 0) {
    nd[0] = 1;
    for (int32_t k = 0; k < nstr; k++) ns[k][0] = 0;
    r = 1;
  }
  return r;
}

typedef struct binary_ctx_s {
  int32_t op, act, rank;
  float p0, p1;
  int64_t dims[MAX_RANK], as[MAX_RANK], bs[MAX_RANK];
  int64_t chunks_per_row; /* pieces of CHUNK elements per innermost row */
  const float *a, *b;
  float *out;
} binary_ctx_t;

/* Rows are cut into chunks this long; the activation runs over a chunk right
 * after the op, while it is in L1. */
enum { CHUNK = 2048 };

#define BIN_EXPR(OP, x, y)                                              \
  ((OP) == SINTER_K_BIN_ADD   ? (x) + (y)                               \
   : (OP) == SINTER_K_BIN_SUB ? (x) - (y)                               \
   : (OP) == SINTER_K_BIN_MUL ? (x) * (y)                               \
   : (OP) == SINTER_K_BIN_DIV ? (x) / (y)                               \
   : (OP) == SINTER_K_BIN_MAX ? (((x) > (y) || (x) != (x)) ? (x) : (y)) \
   : (OP) == SINTER_K_BIN_MIN ? (((x) < (y) || (x) != (x)) ? (x) : (y)) \
                              : powf((x), (y)))

/* The three stride shapes of the innermost dim get their own loops. */
#define BIN_ROW(OP)                                                              \
  do {                                                                           \
    if (sa == 1 && sb == 1)                                                      \
      for (int64_t i = 0; i < n; i++) o[i] = BIN_EXPR(OP, a[i], b[i]);           \
    else if (sa == 1 && sb == 0) {                                               \
      float y_ = b[0];                                                           \
      if ((OP) == SINTER_K_BIN_POW && y_ == 2.0f)                                \
        for (int64_t i = 0; i < n; i++) o[i] = a[i] * a[i];                      \
      else                                                                       \
        for (int64_t i = 0; i < n; i++) o[i] = BIN_EXPR(OP, a[i], y_);           \
    } else if (sa == 0 && sb == 1) {                                             \
      float x_ = a[0];                                                           \
      for (int64_t i = 0; i < n; i++) o[i] = BIN_EXPR(OP, x_, b[i]);             \
    } else                                                                       \
      for (int64_t i = 0; i < n; i++) o[i] = BIN_EXPR(OP, a[i * sa], b[i * sb]); \
  } while (0)

static void binary_row(int32_t op, const float *a, int64_t sa, const float *b, int64_t sb, float *o,
                       int64_t n) {
  switch (op) {
    case SINTER_K_BIN_ADD: BIN_ROW(SINTER_K_BIN_ADD); break;
    case SINTER_K_BIN_SUB: BIN_ROW(SINTER_K_BIN_SUB); break;
    case SINTER_K_BIN_MUL: BIN_ROW(SINTER_K_BIN_MUL); break;
    case SINTER_K_BIN_DIV: BIN_ROW(SINTER_K_BIN_DIV); break;
    case SINTER_K_BIN_MAX: BIN_ROW(SINTER_K_BIN_MAX); break;
    case SINTER_K_BIN_MIN: BIN_ROW(SINTER_K_BIN_MIN); break;
    default: BIN_ROW(SINTER_K_BIN_POW); break;
  }
}

/* Pieces [pb, pe): piece p is chunk p % chunks_per_row of innermost row p / chunks_per_row.
 * The rows' operand offsets advance as an odometer. */
static void binary_task(void *ctx, int64_t pb, int64_t pe) {
  const binary_ctx_t *c = ctx;
  int32_t r = c->rank;
  int64_t inner = c->dims[r - 1], sa = c->as[r - 1], sb = c->bs[r - 1], cpr = c->chunks_per_row;
  int64_t idx[MAX_RANK] = {0}, ao = 0, bo = 0, row = pb / cpr, rest = row;
  for (int32_t d = r - 2; d >= 0; d--) {
    idx[d] = rest % c->dims[d];
    rest /= c->dims[d];
    ao += idx[d] * c->as[d];
    bo += idx[d] * c->bs[d];
  }
  for (int64_t p = pb; p < pe; row++) {
    int64_t ch_end = (row + 1) * cpr < pe ? (row + 1) * cpr : pe;
    for (; p < ch_end; p++) {
      int64_t i0 = (p - row * cpr) * CHUNK, n = inner - i0 < CHUNK ? inner - i0 : CHUNK;
      float *o = c->out + row * inner + i0;
      binary_row(c->op, c->a + ao + i0 * sa, sa, c->b + bo + i0 * sb, sb, o, n);
      if (c->act != SINTER_K_ACT_NONE) unary_range(c->act, o, o, c->p0, c->p1, 0, n);
    }
    for (int32_t d = r - 2; d >= 0; d--) {
      ao += c->as[d];
      bo += c->bs[d];
      if (++idx[d] < c->dims[d]) break;
      ao -= c->as[d] * c->dims[d];
      bo -= c->bs[d] * c->dims[d];
      idx[d] = 0;
    }
  }
}

void sinter_k_binary_f32(int32_t op, int32_t rank, const int64_t *dims, const float *a,
                         const int64_t *a_strides, const float *b, const int64_t *b_strides,
                         float *out, int32_t act, float p0, float p1,
                         const sinter_art_exec_t *exec) {
  binary_ctx_t c;
  c.op = op;
  c.act = act;
  c.p0 = p0;
  c.p1 = p1;
  c.a = a;
  c.b = b;
  c.out = out;
  int64_t numel = 1;
  for (int32_t d = 0; d < rank; d++) numel *= dims[d];
  if (numel <= 0) return;
  int64_t ns[2][MAX_RANK];
  const int64_t *strides[2] = {a_strides, b_strides};
  c.rank = collapse(rank, dims, 2, strides, c.dims, ns);
  memcpy(c.as, ns[0], sizeof c.as);
  memcpy(c.bs, ns[1], sizeof c.bs);
  int64_t inner = c.dims[c.rank - 1];
  c.chunks_per_row = (inner + CHUNK - 1) / CHUNK;
  int64_t pieces = numel / inner * c.chunks_per_row;
  int64_t per_piece = inner < CHUNK ? inner : CHUNK;
  km_run(exec, pieces, km_grain(per_piece), binary_task, &c);
}

/* ---- strided copy ------------------------------------------------------------------------ */

typedef struct copy_ctx_s {
  int64_t esz;
  int32_t rank;
  int64_t dims[MAX_RANK], ss[MAX_RANK], ds[MAX_RANK];
  const char *src;
  char *dst;
} copy_ctx_t;

#define COPY_LOOP(T)                                           \
  do {                                                         \
    const T *s_ = (const T *)(const void *)s;                  \
    T *d_ = (T *)(void *)d;                                    \
    if (ds == 1)                                               \
      for (int64_t i = 0; i < n; i++) d_[i] = s_[i * ss];      \
    else                                                       \
      for (int64_t i = 0; i < n; i++) d_[i * ds] = s_[i * ss]; \
  } while (0)

/* One innermost row of n elements. */
static void copy_row(int64_t esz, const char *s, int64_t ss, char *d, int64_t ds, int64_t n) {
  if (ss == 1 && ds == 1) {
    memcpy(d, s, (size_t)(n * esz));
    return;
  }
  switch (esz) {
    case 1: COPY_LOOP(uint8_t); break;
    case 2: COPY_LOOP(uint16_t); break;
    case 4: COPY_LOOP(uint32_t); break;
    case 8: COPY_LOOP(uint64_t); break;
    default:
      for (int64_t i = 0; i < n; i++) memcpy(d + i * ds * esz, s + i * ss * esz, (size_t)esz);
  }
}

/* Rows [rb, re) of the collapsed view. */
static void copy_task(void *ctx, int64_t rb, int64_t re) {
  const copy_ctx_t *c = ctx;
  int32_t r = c->rank;
  int64_t n = c->dims[r - 1], ss = c->ss[r - 1], ds = c->ds[r - 1];
  int64_t idx[MAX_RANK] = {0}, so = 0, dof = 0, rest = rb;
  for (int32_t d = r - 2; d >= 0; d--) {
    idx[d] = rest % c->dims[d];
    rest /= c->dims[d];
    so += idx[d] * c->ss[d];
    dof += idx[d] * c->ds[d];
  }
  for (int64_t row = rb; row < re; row++) {
    copy_row(c->esz, c->src + so * c->esz, ss, c->dst + dof * c->esz, ds, n);
    for (int32_t d = r - 2; d >= 0; d--) {
      so += c->ss[d];
      dof += c->ds[d];
      if (++idx[d] < c->dims[d]) break;
      so -= c->ss[d] * c->dims[d];
      dof -= c->ds[d] * c->dims[d];
      idx[d] = 0;
    }
  }
}

void sinter_k_copy_strided(int64_t elem_size, int32_t rank, const int64_t *dims, const void *src,
                           const int64_t *src_strides, void *dst, const int64_t *dst_strides,
                           const sinter_art_exec_t *exec) {
  int64_t numel = 1;
  for (int32_t d = 0; d < rank; d++) numel *= dims[d];
  if (numel <= 0) return;
  copy_ctx_t c;
  c.esz = elem_size;
  c.src = src;
  c.dst = dst;
  int64_t ns[2][MAX_RANK];
  const int64_t *strides[2] = {src_strides, dst_strides};
  c.rank = collapse(rank, dims, 2, strides, c.dims, ns);
  memcpy(c.ss, ns[0], sizeof c.ss);
  memcpy(c.ds, ns[1], sizeof c.ds);
  int64_t inner = c.dims[c.rank - 1];
  km_run(exec, numel / inner, km_grain(inner * elem_size / 4), copy_task, &c);
}

/* ---- gather ------------------------------------------------------------------------------ */

typedef struct gather_ctx_s {
  int64_t esz, axis_dim, inner, n;
  const char *data;
  const void *indices;
  int32_t idx64;
  char *out;
} gather_ctx_t;

/* Output rows [rb, re) of the [outer * n] rows of inner elements. */
static void gather_task(void *ctx, int64_t rb, int64_t re) {
  const gather_ctx_t *c = ctx;
  size_t row_bytes = (size_t)(c->inner * c->esz);
  for (int64_t r = rb; r < re; r++) {
    int64_t o = r / c->n, j = r % c->n;
    int64_t k = c->idx64 ? ((const int64_t *)c->indices)[j] : ((const int32_t *)c->indices)[j];
    if (k < 0) k += c->axis_dim;
    char *dst = c->out + (size_t)r * row_bytes;
    if (k < 0 || k >= c->axis_dim)
      memset(dst, 0, row_bytes);
    else
      memcpy(dst, c->data + (size_t)(o * c->axis_dim + k) * row_bytes, row_bytes);
  }
}

void sinter_k_gather(int64_t elem_size, int64_t outer, int64_t axis_dim, int64_t inner,
                     const void *data, const void *indices, int32_t idx_is_i64, int64_t n,
                     void *out, const sinter_art_exec_t *exec) {
  if (outer <= 0 || n <= 0 || inner <= 0) return;
  gather_ctx_t c = {elem_size, axis_dim, inner, n, data, indices, idx_is_i64, out};
  km_run(exec, outer * n, km_grain(inner * elem_size / 4), gather_task, &c);
}

/* ---- cast -------------------------------------------------------------------------------- */

/* Float to a signed 64-bit integer as the interpreter does: truncation, NaN
 * to 0, saturation at the int64 range; narrower integers then wrap. */
static inline int64_t f2i(double v) {
  if (v != v) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return (int64_t)v;
}

static inline uint64_t f2u64(double v) {
  /* Beyond INT64_MAX the value only fits unsigned; negatives wrap. */
  return v >= 9.2233720368547758e18 && v < 1.8446744073709552e19 ? (uint64_t)v : (uint64_t)f2i(v);
}

/* Per (source kind, destination) one loop. FROM is a float type (f32, f64), a
 * signed integer type read as int64, or uint64_t. */
#define CAST_LOOP(FT, TT, EXPR)           \
  do {                                    \
    const FT *xs = (const FT *)x + b;     \
    TT *ys = (TT *)y + b;                 \
    for (int64_t i = 0; i < e - b; i++) { \
      FT v = xs[i];                       \
      ys[i] = (TT)(EXPR);                 \
    }                                     \
  } while (0)

/* Float source: ints truncate (through f2i), bool is v != 0. */
#define CAST_FROM_FLOAT(FT)                                                \
  switch (to) {                                                            \
    case SINTER_ART_F32: CAST_LOOP(FT, float, v); break;                   \
    case SINTER_ART_F64: CAST_LOOP(FT, double, v); break;                  \
    case SINTER_ART_I64: CAST_LOOP(FT, int64_t, f2i(v)); break;            \
    case SINTER_ART_I32: CAST_LOOP(FT, int32_t, (int32_t)f2i(v)); break;   \
    case SINTER_ART_I16: CAST_LOOP(FT, int16_t, (int16_t)f2i(v)); break;   \
    case SINTER_ART_I8: CAST_LOOP(FT, int8_t, (int8_t)f2i(v)); break;      \
    case SINTER_ART_U8: CAST_LOOP(FT, uint8_t, (uint8_t)f2i(v)); break;    \
    case SINTER_ART_U16: CAST_LOOP(FT, uint16_t, (uint16_t)f2i(v)); break; \
    case SINTER_ART_U32: CAST_LOOP(FT, uint32_t, (uint32_t)f2i(v)); break; \
    case SINTER_ART_U64: CAST_LOOP(FT, uint64_t, f2u64(v)); break;         \
    case SINTER_ART_BOOL: CAST_LOOP(FT, uint8_t, v != 0); break;           \
    default: break;                                                        \
  }

/* Integer source: C conversions (wrapping to narrower integers, one rounding
 * to floats); bool is v != 0. */
#define CAST_FROM_INT(FT)                                        \
  switch (to) {                                                  \
    case SINTER_ART_F32: CAST_LOOP(FT, float, v); break;         \
    case SINTER_ART_F64: CAST_LOOP(FT, double, v); break;        \
    case SINTER_ART_I64: CAST_LOOP(FT, int64_t, v); break;       \
    case SINTER_ART_I32: CAST_LOOP(FT, int32_t, v); break;       \
    case SINTER_ART_I16: CAST_LOOP(FT, int16_t, v); break;       \
    case SINTER_ART_I8: CAST_LOOP(FT, int8_t, v); break;         \
    case SINTER_ART_U8: CAST_LOOP(FT, uint8_t, v); break;        \
    case SINTER_ART_U16: CAST_LOOP(FT, uint16_t, v); break;      \
    case SINTER_ART_U32: CAST_LOOP(FT, uint32_t, v); break;      \
    case SINTER_ART_U64: CAST_LOOP(FT, uint64_t, v); break;      \
    case SINTER_ART_BOOL: CAST_LOOP(FT, uint8_t, v != 0); break; \
    default: break;                                              \
  }

static size_t dtype_size(int32_t dt) {
  switch (dt) {
    case SINTER_ART_F64:
    case SINTER_ART_I64:
    case SINTER_ART_U64: return 8;
    case SINTER_ART_F32:
    case SINTER_ART_I32:
    case SINTER_ART_U32: return 4;
    case SINTER_ART_I16:
    case SINTER_ART_U16: return 2;
    default: return 1;
  }
}

static void cast_range(const void *x, int32_t from, void *y, int32_t to, int64_t b, int64_t e) {
  if (from == to) {
    size_t es = dtype_size(from);
    memcpy((char *)y + b * es, (const char *)x + b * es, (size_t)(e - b) * es);
    return;
  }
  switch (from) {
    case SINTER_ART_F32: CAST_FROM_FLOAT(float); break;
    case SINTER_ART_F64: CAST_FROM_FLOAT(double); break;
    case SINTER_ART_I64: CAST_FROM_INT(int64_t); break;
    case SINTER_ART_I32: CAST_FROM_INT(int32_t); break;
    case SINTER_ART_I16: CAST_FROM_INT(int16_t); break;
    case SINTER_ART_I8: CAST_FROM_INT(int8_t); break;
    case SINTER_ART_U8: CAST_FROM_INT(uint8_t); break;
    case SINTER_ART_U16: CAST_FROM_INT(uint16_t); break;
    case SINTER_ART_U32: CAST_FROM_INT(uint32_t); break;
    case SINTER_ART_U64: CAST_FROM_INT(uint64_t); break;
    /* A bool byte other than 0 or 1 still reads as true. */
    case SINTER_ART_BOOL: {
      const uint8_t *xs = (const uint8_t *)x;
      int32_t to2 = to == SINTER_ART_BOOL ? SINTER_ART_U8 : to;
      uint8_t tmp[256];
      for (int64_t i = b; i < e; i += 256) {
        int64_t m = e - i < 256 ? e - i : 256;
        for (int64_t k = 0; k < m; k++) tmp[k] = xs[i + k] != 0;
        cast_range(tmp, SINTER_ART_U8, (char *)y + (size_t)i * dtype_size(to), to2, 0, m);
      }
      break;
    }
    default: break;
  }
}

typedef struct cast_ctx_s {
  const void *x;
  void *y;
  int32_t from, to;
  int64_t n;
} cast_ctx_t;

static void cast_task(void *ctx, int64_t b, int64_t e) {
  const cast_ctx_t *c = ctx;
  cast_range(c->x, c->from, c->y, c->to, b, e);
}

void sinter_k_cast(int64_t n, const void *x, int32_t from, void *y, int32_t to,
                   const sinter_art_exec_t *exec) {
  if (n <= 0) return;
  cast_ctx_t c = {x, y, from, to, n};
  km_run(exec, n, km_grain(1), cast_task, &c);
}
