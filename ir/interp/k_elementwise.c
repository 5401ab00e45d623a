/* Reference kernels for the elementwise family: unary math, binary and variadic ops with NumPy
 * broadcasting, comparisons, logic, bit ops, Where, Cast and CastLike. f32 runs in plain loops
 * the compiler vectorizes; other dtypes go chunk by chunk through a compute type (f32 for the
 * narrow floats, f64, i64 or u64), the same loops, and a rounding or wrapping store. */
#include "ir/interp/kernels.h"

/* Picks the float or double libm function from the type of v. */
#define MATHF(fn, v) _Generic((v), float : fn##f, default : fn)

enum { CHUNK = 512, MAX_BCAST = 3 };

/* ---- compute kinds ------------------------------------------------------- */

typedef enum ckind_e { CK_F32, CK_F64, CK_I64, CK_U64 } ckind_t;

static ckind_t ckind_of(sinter_dtype_t d) {
  switch (d) {
    case SINTER_DTYPE_F32:
    case SINTER_DTYPE_F16:
    case SINTER_DTYPE_BF16:
    case SINTER_DTYPE_F8E4M3: return CK_F32;
    case SINTER_DTYPE_F64: return CK_F64;
    case SINTER_DTYPE_U64: return CK_U64;
    default: return CK_I64;
  }
}

static sinter_dtype_t ck_dtype(ckind_t k) {
  static const sinter_dtype_t map[] = {SINTER_DTYPE_F32, SINTER_DTYPE_F64, SINTER_DTYPE_I64,
                                       SINTER_DTYPE_U64};
  return map[k];
}

static size_t ck_bytes(ckind_t k) {
  return k == CK_F32 ? 4 : 8;
}

static bool is_floatish(sinter_dtype_t d) {
  return sinter_dtype_is_float(d);
}

/* Reads n elements starting at element off, stride s (0 or 1), converted to kind ck. */
static void load_chunk(const void *data, sinter_dtype_t dt, int64_t off, int64_t s, int64_t n,
                       ckind_t ck, void *buf) {
  switch (ck) {
    case CK_F32: {
      float *b = buf;
      if (dt == SINTER_DTYPE_F32) {
        const float *x = (const float *)data + off;
        for (int64_t i = 0; i < n; i++) b[i] = x[i * s];
      } else if (dt == SINTER_DTYPE_F16) {
        const uint16_t *x = (const uint16_t *)data + off;
        for (int64_t i = 0; i < n; i++) b[i] = sinter_f16_to_f32(x[i * s]);
      } else if (dt == SINTER_DTYPE_BF16) {
        const uint16_t *x = (const uint16_t *)data + off;
        for (int64_t i = 0; i < n; i++) b[i] = sinter_bf16_to_f32(x[i * s]);
      } else if (dt == SINTER_DTYPE_U64) {
        const uint64_t *x = (const uint64_t *)data + off;
        for (int64_t i = 0; i < n; i++) b[i] = (float)x[i * s];
      } else if (is_floatish(dt)) {
        for (int64_t i = 0; i < n; i++) b[i] = (float)sinter_load_f64(data, dt, off + i * s);
      } else {
        for (int64_t i = 0; i < n; i++) b[i] = (float)sinter_load_i64(data, dt, off + i * s);
      }
      return;
    }
    case CK_F64: {
      double *b = buf;
      if (dt == SINTER_DTYPE_U64) {
        const uint64_t *x = (const uint64_t *)data + off;
        for (int64_t i = 0; i < n; i++) b[i] = (double)x[i * s];
      } else {
        for (int64_t i = 0; i < n; i++) b[i] = sinter_load_f64(data, dt, off + i * s);
      }
      return;
    }
    case CK_I64: {
      int64_t *b = buf;
      if (dt == SINTER_DTYPE_I32) {
        const int32_t *x = (const int32_t *)data + off;
        for (int64_t i = 0; i < n; i++) b[i] = x[i * s];
      } else {
        for (int64_t i = 0; i < n; i++) b[i] = sinter_load_i64(data, dt, off + i * s);
      }
      return;
    }
    case CK_U64: {
      uint64_t *b = buf;
      for (int64_t i = 0; i < n; i++) b[i] = (uint64_t)sinter_load_i64(data, dt, off + i * s);
      return;
    }
  }
}

/* Writes n contiguous elements of kind ck at element off, rounding or wrapping to dt. */
static void store_chunk(void *data, sinter_dtype_t dt, int64_t off, int64_t n, ckind_t ck,
                        const void *buf) {
  switch (ck) {
    case CK_F32: {
      const float *b = buf;
      if (dt == SINTER_DTYPE_F32) {
        memcpy((float *)data + off, b, sizeof(float) * (size_t)n);
      } else if (dt == SINTER_DTYPE_F16) {
        uint16_t *y = (uint16_t *)data + off;
        for (int64_t i = 0; i < n; i++) y[i] = sinter_f32_to_f16(b[i]);
      } else if (dt == SINTER_DTYPE_BF16) {
        uint16_t *y = (uint16_t *)data + off;
        for (int64_t i = 0; i < n; i++) y[i] = sinter_f32_to_bf16(b[i]);
      } else {
        for (int64_t i = 0; i < n; i++) sinter_store_f64(data, dt, off + i, b[i]);
      }
      return;
    }
    case CK_F64: {
      const double *b = buf;
      for (int64_t i = 0; i < n; i++) sinter_store_f64(data, dt, off + i, b[i]);
      return;
    }
    case CK_I64: {
      const int64_t *b = buf;
      if (dt == SINTER_DTYPE_I32) {
        int32_t *y = (int32_t *)data + off;
        for (int64_t i = 0; i < n; i++) y[i] = (int32_t)b[i];
      } else {
        for (int64_t i = 0; i < n; i++) sinter_store_i64(data, dt, off + i, b[i]);
      }
      return;
    }
    case CK_U64: {
      const uint64_t *b = buf;
      for (int64_t i = 0; i < n; i++) sinter_store_i64(data, dt, off + i, (int64_t)b[i]);
      return;
    }
  }
}

/* ---- broadcasting iteration ---------------------------------------------- */

/* The output's index space with size-1 dims dropped and runs of dims that every input walks
 * contiguously (or not at all) merged, so a same-shape op is one row of numel elements and a
 * bias add is rows of the bias length. Inner strides come out 0 or 1. */
typedef struct bcast_s {
  int32_t n_in, rank;
  int64_t dims[SINTER_MAX_RANK];
  int64_t st[MAX_BCAST][SINTER_MAX_RANK];
  int64_t numel;
} bcast_t;

static void bcast_init(bcast_t *b, const sinter_tensor_t *out, const sinter_tensor_t *const *in,
                       int32_t n_in) {
  int64_t st[MAX_BCAST][SINTER_MAX_RANK];
  b->n_in = n_in;
  b->numel = sinter_tensor_numel(out);
  for (int32_t k = 0; k < n_in; k++) sinter_broadcast_strides(in[k], out->rank, out->dims, st[k]);
  int32_t r = 0;
  for (int32_t d = 0; d < out->rank; d++) {
    if (out->dims[d] == 1) continue;
    if (r > 0) {
      bool merge = true;
      for (int32_t k = 0; k < n_in; k++)
        if (b->st[k][r - 1] != st[k][d] * out->dims[d]) merge = false;
      if (merge) {
        b->dims[r - 1] *= out->dims[d];
        for (int32_t k = 0; k < n_in; k++) b->st[k][r - 1] = st[k][d];
        continue;
      }
    }
    b->dims[r] = out->dims[d];
    for (int32_t k = 0; k < n_in; k++) b->st[k][r] = st[k][d];
    r++;
  }
  if (r == 0) {
    b->dims[0] = 1;
    for (int32_t k = 0; k < n_in; k++) b->st[k][0] = 0;
    r = 1;
  }
  b->rank = r;
}

/* Row cursor over a bcast_t: off[k] is input k's element offset of the row's first element. */
typedef struct brow_s {
  int64_t idx[SINTER_MAX_RANK];
  int64_t off[MAX_BCAST];
  int64_t out_off, n, nrows, row;
  int64_t inner_st[MAX_BCAST];
} brow_t;

static void brow_init(brow_t *c, const bcast_t *b) {
  memset(c, 0, sizeof(*c));
  c->n = b->dims[b->rank - 1];
  c->nrows = c->n ? b->numel / c->n : 0;
  for (int32_t k = 0; k < b->n_in; k++) c->inner_st[k] = b->st[k][b->rank - 1];
}

static void brow_next(brow_t *c, const bcast_t *b) {
  c->row++;
  c->out_off += c->n;
  for (int32_t d = b->rank - 2; d >= 0; d--) {
    c->idx[d]++;
    for (int32_t k = 0; k < b->n_in; k++) c->off[k] += b->st[k][d];
    if (c->idx[d] < b->dims[d]) return;
    for (int32_t k = 0; k < b->n_in; k++) c->off[k] -= b->st[k][d] * b->dims[d];
    c->idx[d] = 0;
  }
}

/* ---- scalar helpers ------------------------------------------------------ */

static inline float pymod_f(float x, float y) {
  float r = fmodf(x, y);
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return r;
}

static inline double pymod_d(double x, double y) {
  double r = fmod(x, y);
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return r;
}

/* double to int64 toward zero, saturating (a plain cast is undefined out of range). */
static inline int64_t d2i(double v) {
  if (isnan(v)) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return (int64_t)v;
}

#define PYMOD(x, y) _Generic((x), float : pymod_f, default : pymod_d)(x, y)

/* Integer division truncates toward zero (ONNX, C). x / 0 is defined as 0, as NumPy returns,
 * so constant folding an unreachable division never fails; INT64_MIN / -1 wraps. */
static inline int64_t idiv(int64_t x, int64_t y) {
  if (y == 0) return 0;
  if (y == -1) return (int64_t)(0 - (uint64_t)x);
  return x / y;
}

/* Mod with C semantics (fmod=1) or the sign of the divisor (fmod=0); x mod 0 is 0. */
static inline int64_t imod(int64_t x, int64_t y, bool c_fmod) {
  if (y == 0 || y == -1) return 0;
  int64_t r = x % y;
  if (!c_fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
  return r;
}

/* Exact integer power with wrapping; a negative exponent gives the truncated real result. */
static int64_t ipow(int64_t b, int64_t e) {
  if (e < 0) return b == 1 ? 1 : b == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t r = 1, base = (uint64_t)b;
  while (e) {
    if (e & 1) r *= base;
    base *= base;
    e >>= 1;
  }
  return (int64_t)r;
}

static uint64_t upow(uint64_t b, uint64_t e) {
  uint64_t r = 1;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return r;
}

static inline uint64_t ushift(uint64_t x, uint64_t y, bool left) {
  if (y >= 64) return 0;
  return left ? x << y : x >> y;
}

#define WADD(x, y) ((int64_t)((uint64_t)(x) + (uint64_t)(y)))
#define WSUB(x, y) ((int64_t)((uint64_t)(x) - (uint64_t)(y)))
#define WMUL(x, y) ((int64_t)((uint64_t)(x) * (uint64_t)(y)))

/* ---- binary rows --------------------------------------------------------- */

typedef struct binop_s {
  sinter_op_t op;
  bool fmod;       /* Mod: C fmod instead of the divisor's sign */
  bool shift_left; /* BitShift direction */
} binop_t;

/* Loops o[i] = EXPR(x = a[i*sa], y = b[i*sb]) specialized on which side is a scalar, so every
 * variant is a unit-stride loop the compiler can vectorize. */
#define BIN_LOOP(T, OT, EXPR)                     \
  do {                                            \
    OT *o_ = (OT *)o;                             \
    if (sa && sb) {                               \
      for (int64_t i = 0; i < n; i++) {           \
        T x = a[i], y = b[i];                     \
        o_[i] = (OT)(EXPR);                       \
      }                                           \
    } else if (sa) {                              \
      T y = b[0];                                 \
      for (int64_t i = 0; i < n; i++) {           \
        T x = a[i];                               \
        o_[i] = (OT)(EXPR);                       \
      }                                           \
    } else if (sb) {                              \
      T x = a[0];                                 \
      for (int64_t i = 0; i < n; i++) {           \
        T y = b[i];                               \
        o_[i] = (OT)(EXPR);                       \
      }                                           \
    } else {                                      \
      T x = a[0], y = b[0];                       \
      OT r_ = (OT)(EXPR);                         \
      for (int64_t i = 0; i < n; i++) o_[i] = r_; \
    }                                             \
  } while (0)

/* One function per float compute type; MATHF picks the libm variant. */
/* clang-format off */
#define DEFINE_FLOAT_ROW(NAME, T)                                                       \
  static void NAME(const binop_t *p, const T *a, bool sa, const T *b, bool sb, void *o, \
                   int64_t n) {                                                         \
    switch (p->op) {                                                                    \
      case SINTER_OP_ADD:                                                               \
      case SINTER_OP_SUM:                                                               \
      case SINTER_OP_MEAN: BIN_LOOP(T, T, x + y); break;                                \
      case SINTER_OP_SUB: BIN_LOOP(T, T, x - y); break;                                 \
      case SINTER_OP_MUL: BIN_LOOP(T, T, (x) * (y)); break;                                  \
      case SINTER_OP_DIV: BIN_LOOP(T, T, x / y); break;                                 \
      case SINTER_OP_POW: BIN_LOOP(T, T, MATHF(pow, x)(x, y)); break;                   \
      case SINTER_OP_MOD:                                                               \
        if (p->fmod)                                                                    \
          BIN_LOOP(T, T, MATHF(fmod, x)(x, y));                                         \
        else                                                                            \
          BIN_LOOP(T, T, PYMOD(x, y));                                                  \
        break;                                                                          \
      case SINTER_OP_PRELU: BIN_LOOP(T, T, x < 0 ? x * y : x); break;                   \
      case SINTER_OP_MAX: BIN_LOOP(T, T, (x > y || isnan(x)) ? x : y); break;           \
      case SINTER_OP_MIN: BIN_LOOP(T, T, (x < y || isnan(x)) ? x : y); break;           \
      case SINTER_OP_EQUAL: BIN_LOOP(T, uint8_t, x == y); break;                        \
      case SINTER_OP_LESS: BIN_LOOP(T, uint8_t, x < y); break;                          \
      case SINTER_OP_GREATER: BIN_LOOP(T, uint8_t, x > y); break;                       \
      case SINTER_OP_LESS_OR_EQUAL: BIN_LOOP(T, uint8_t, x <= y); break;                \
      case SINTER_OP_GREATER_OR_EQUAL: BIN_LOOP(T, uint8_t, x >= y); break;             \
      default: break;                                                                   \
    }                                                                                   \
  }

DEFINE_FLOAT_ROW(row_f32, float)
DEFINE_FLOAT_ROW(row_f64, double)
/* clang-format on */

static void row_i64(const binop_t *p, const int64_t *a, bool sa, const int64_t *b, bool sb, void *o,
                    int64_t n) {
  switch (p->op) {
    case SINTER_OP_ADD:
    case SINTER_OP_SUM:
    case SINTER_OP_MEAN: BIN_LOOP(int64_t, int64_t, WADD(x, y)); break;
    case SINTER_OP_SUB: BIN_LOOP(int64_t, int64_t, WSUB(x, y)); break;
    case SINTER_OP_MUL: BIN_LOOP(int64_t, int64_t, WMUL(x, y)); break;
    case SINTER_OP_DIV: BIN_LOOP(int64_t, int64_t, idiv(x, y)); break;
    case SINTER_OP_MOD: BIN_LOOP(int64_t, int64_t, imod(x, y, p->fmod)); break;
    case SINTER_OP_POW: BIN_LOOP(int64_t, int64_t, ipow(x, y)); break;
    case SINTER_OP_PRELU: BIN_LOOP(int64_t, int64_t, x < 0 ? WMUL(x, y) : x); break;
    case SINTER_OP_MAX: BIN_LOOP(int64_t, int64_t, x > y ? x : y); break;
    case SINTER_OP_MIN: BIN_LOOP(int64_t, int64_t, x < y ? x : y); break;
    case SINTER_OP_EQUAL: BIN_LOOP(int64_t, uint8_t, x == y); break;
    case SINTER_OP_LESS: BIN_LOOP(int64_t, uint8_t, x < y); break;
    case SINTER_OP_GREATER: BIN_LOOP(int64_t, uint8_t, x > y); break;
    case SINTER_OP_LESS_OR_EQUAL: BIN_LOOP(int64_t, uint8_t, x <= y); break;
    case SINTER_OP_GREATER_OR_EQUAL: BIN_LOOP(int64_t, uint8_t, x >= y); break;
    case SINTER_OP_AND: BIN_LOOP(int64_t, uint8_t, (x != 0) & (y != 0)); break;
    case SINTER_OP_OR: BIN_LOOP(int64_t, uint8_t, (x != 0) | (y != 0)); break;
    case SINTER_OP_XOR: BIN_LOOP(int64_t, uint8_t, (x != 0) ^ (y != 0)); break;
    case SINTER_OP_BIT_SHIFT:
      BIN_LOOP(int64_t, int64_t,
               (int64_t)ushift((uint64_t)x, y < 0 ? 64 : (uint64_t)y, p->shift_left));
      break;
    case SINTER_OP_BITWISE_AND: BIN_LOOP(int64_t, int64_t, x & y); break;
    case SINTER_OP_BITWISE_OR: BIN_LOOP(int64_t, int64_t, x | y); break;
    case SINTER_OP_BITWISE_XOR: BIN_LOOP(int64_t, int64_t, x ^ y); break;
    default: break;
  }
}

static void row_u64(const binop_t *p, const uint64_t *a, bool sa, const uint64_t *b, bool sb,
                    void *o, int64_t n) {
  switch (p->op) {
    case SINTER_OP_ADD:
    case SINTER_OP_SUM:
    case SINTER_OP_MEAN: BIN_LOOP(uint64_t, uint64_t, x + y); break;
    case SINTER_OP_SUB: BIN_LOOP(uint64_t, uint64_t, x - y); break;
    case SINTER_OP_MUL: BIN_LOOP(uint64_t, uint64_t, x * y); break;
    case SINTER_OP_DIV: BIN_LOOP(uint64_t, uint64_t, y ? x / y : 0); break;
    case SINTER_OP_MOD: BIN_LOOP(uint64_t, uint64_t, y ? x % y : 0); break;
    case SINTER_OP_POW: BIN_LOOP(uint64_t, uint64_t, upow(x, y)); break;
    case SINTER_OP_PRELU: BIN_LOOP(uint64_t, uint64_t, x + 0 * y); break; /* never negative */
    case SINTER_OP_MAX: BIN_LOOP(uint64_t, uint64_t, x > y ? x : y); break;
    case SINTER_OP_MIN: BIN_LOOP(uint64_t, uint64_t, x < y ? x : y); break;
    case SINTER_OP_EQUAL: BIN_LOOP(uint64_t, uint8_t, x == y); break;
    case SINTER_OP_LESS: BIN_LOOP(uint64_t, uint8_t, x < y); break;
    case SINTER_OP_GREATER: BIN_LOOP(uint64_t, uint8_t, x > y); break;
    case SINTER_OP_LESS_OR_EQUAL: BIN_LOOP(uint64_t, uint8_t, x <= y); break;
    case SINTER_OP_GREATER_OR_EQUAL: BIN_LOOP(uint64_t, uint8_t, x >= y); break;
    case SINTER_OP_AND: BIN_LOOP(uint64_t, uint8_t, (x != 0) & (y != 0)); break;
    case SINTER_OP_OR: BIN_LOOP(uint64_t, uint8_t, (x != 0) | (y != 0)); break;
    case SINTER_OP_XOR: BIN_LOOP(uint64_t, uint8_t, (x != 0) ^ (y != 0)); break;
    case SINTER_OP_BIT_SHIFT: BIN_LOOP(uint64_t, uint64_t, ushift(x, y, p->shift_left)); break;
    case SINTER_OP_BITWISE_AND: BIN_LOOP(uint64_t, uint64_t, x & y); break;
    case SINTER_OP_BITWISE_OR: BIN_LOOP(uint64_t, uint64_t, x | y); break;
    case SINTER_OP_BITWISE_XOR: BIN_LOOP(uint64_t, uint64_t, x ^ y); break;
    default: break;
  }
}

static void row_dispatch(const binop_t *p, ckind_t ck, const void *a, bool sa, const void *b,
                         bool sb, void *o, int64_t n) {
  switch (ck) {
    case CK_F32: row_f32(p, a, sa, b, sb, o, n); return;
    case CK_F64: row_f64(p, a, sa, b, sb, o, n); return;
    case CK_I64: row_i64(p, a, sa, b, sb, o, n); return;
    case CK_U64: row_u64(p, a, sa, b, sb, o, n); return;
  }
}

static bool op_bool_out(sinter_op_t op) {
  switch (op) {
    case SINTER_OP_EQUAL:
    case SINTER_OP_LESS:
    case SINTER_OP_GREATER:
    case SINTER_OP_LESS_OR_EQUAL:
    case SINTER_OP_GREATER_OR_EQUAL:
    case SINTER_OP_AND:
    case SINTER_OP_OR:
    case SINTER_OP_XOR: return true;
    default: return false;
  }
}

/* out = a OP b with broadcasting, computing in kind ck. out may alias a when a already has
 * out's shape (the variadic fold does that); each element is read before it is written. */
static void binary_apply(const binop_t *p, ckind_t ck, const sinter_tensor_t *a,
                         const sinter_tensor_t *b, sinter_tensor_t *out) {
  const sinter_tensor_t *ins[2] = {a, b};
  bcast_t bc;
  bcast_init(&bc, out, ins, 2);
  if (bc.numel <= 0) return;
  bool bool_out = op_bool_out(p->op);
  sinter_dtype_t cdt = ck_dtype(ck);
  size_t esz = ck_bytes(ck);
  bool a_nat = a->dtype == cdt, b_nat = b->dtype == cdt;
  bool o_nat = bool_out || out->dtype == cdt;
  size_t o_esz = bool_out ? 1 : esz;
  bool direct = a_nat && b_nat && o_nat;
  double bufa[CHUNK], bufb[CHUNK], bufo[CHUNK];
  brow_t c;
  brow_init(&c, &bc);
  for (; c.row < c.nrows; brow_next(&c, &bc)) {
    bool sa = c.inner_st[0] != 0, sb = c.inner_st[1] != 0;
    int64_t step = direct ? c.n : CHUNK;
    for (int64_t c0 = 0; c0 < c.n; c0 += step) {
      int64_t m = c.n - c0 < step ? c.n - c0 : step;
      int64_t oa = c.off[0] + (sa ? c0 : 0), ob = c.off[1] + (sb ? c0 : 0);
      const void *pa = (const char *)a->data + oa * (int64_t)esz;
      const void *pb = (const char *)b->data + ob * (int64_t)esz;
      if (!a_nat) {
        load_chunk(a->data, a->dtype, oa, sa, sa ? m : 1, ck, bufa);
        pa = bufa;
      }
      if (!b_nat) {
        load_chunk(b->data, b->dtype, ob, sb, sb ? m : 1, ck, bufb);
        pb = bufb;
      }
      void *po = o_nat ? (char *)out->data + (c.out_off + c0) * (int64_t)o_esz : (void *)bufo;
      row_dispatch(p, ck, pa, sa, pb, sb, po, m);
      if (!o_nat) store_chunk(out->data, out->dtype, c.out_off + c0, m, ck, bufo);
    }
  }
}

/* Copies in, broadcast to out's shape, into out whose dtype is the compute type ck's. */
static void broadcast_copy(ckind_t ck, const sinter_tensor_t *in, sinter_tensor_t *out) {
  const sinter_tensor_t *ins[1] = {in};
  bcast_t bc;
  bcast_init(&bc, out, ins, 1);
  if (bc.numel <= 0) return;
  size_t esz = ck_bytes(ck);
  brow_t c;
  brow_init(&c, &bc);
  for (; c.row < c.nrows; brow_next(&c, &bc))
    load_chunk(in->data, in->dtype, c.off[0], c.inner_st[0], c.n, ck,
               (char *)out->data + c.out_off * (int64_t)esz);
}

/* ---- unary rows ---------------------------------------------------------- */

typedef struct uop_s {
  sinter_op_t op;
  double alpha, beta, gamma; /* op attributes (Shrink: alpha = lambd, beta = bias) */
  bool gelu_tanh;
  double lo, hi;    /* Clip bounds for float compute */
  int64_t ilo, ihi; /* Clip bounds for integer compute */
} uop_t;

#define UN_LOOP(T, EXPR)            \
  for (int64_t i = 0; i < n; i++) { \
    T x = xs[i];                    \
    ys[i] = (T)(EXPR);              \
  }

/* clang-format off */
#define DEFINE_UNARY_FLOAT(NAME, T)                                                            \
  static void NAME(const uop_t *p, const T *xs, T *ys, int64_t n) {                            \
    const T al = (T)p->alpha, be = (T)p->beta, ga = (T)p->gamma, lo = (T)p->lo, hi = (T)p->hi; \
    const T half = (T)0.5, one = (T)1, zero = (T)0;                                            \
    switch (p->op) {                                                                           \
      case SINTER_OP_RELU: UN_LOOP(T, x < zero ? zero : x); break;                             \
      case SINTER_OP_LEAKY_RELU: UN_LOOP(T, x < zero ? al * x : x); break;                     \
      case SINTER_OP_ELU: UN_LOOP(T, x < zero ? al * MATHF(expm1, x)(x) : x); break;           \
      case SINTER_OP_SELU:                                                                     \
        UN_LOOP(T, x <= zero ? ga * (al * MATHF(exp, x)(x) - al) : ga * x);                    \
        break;                                                                                 \
      case SINTER_OP_CELU: UN_LOOP(T, x > zero ? x : al * MATHF(expm1, x)(x / al)); break;     \
      case SINTER_OP_SIGMOID:                                                                  \
        UN_LOOP(T, x >= zero ? one / (one + MATHF(exp, x)(-x))                                 \
                             : MATHF(exp, x)(x) / (one + MATHF(exp, x)(x)));                   \
        break;                                                                                 \
      case SINTER_OP_HARD_SIGMOID:                                                             \
        UN_LOOP(T, MATHF(fmax, x)(zero, MATHF(fmin, x)(one, al * x + be)));                    \
        break;                                                                                 \
      case SINTER_OP_HARD_SWISH:                                                               \
        UN_LOOP(T, (x) * MATHF(fmax, x)(zero, MATHF(fmin, x)(one, x / (T)6 + half)));          \
        break;                                                                                 \
      case SINTER_OP_TANH: UN_LOOP(T, MATHF(tanh, x)(x)); break;                               \
      case SINTER_OP_SOFTPLUS:                                                                 \
        UN_LOOP(T, x > zero ? x + MATHF(log1p, x)(MATHF(exp, x)(-x))                           \
                            : MATHF(log1p, x)(MATHF(exp, x)(x)));                              \
        break;                                                                                 \
      case SINTER_OP_SOFTSIGN: UN_LOOP(T, x / (one + MATHF(fabs, x)(x))); break;               \
      case SINTER_OP_GELU:                                                                     \
        if (p->gelu_tanh) {                                                                    \
          const T k = (T)0.7978845608028654; /* sqrt(2/pi) */                                  \
          UN_LOOP(T, (half * x) * (one + MATHF(tanh, x)(k * (x + (T)0.044715 * x * x * x))));  \
        } else {                                                                               \
          /* erfc keeps precision where 1 + erf(x) would cancel */                            \
          UN_LOOP(T, (half * x) * MATHF(erfc, x)(x * (T)-0.7071067811865476));                \
        }                                                                                      \
        break;                                                                                 \
      case SINTER_OP_MISH:                                                                     \
        UN_LOOP(T, (x) * MATHF(tanh, x)(x > zero ? x + MATHF(log1p, x)(MATHF(exp, x)(-x))      \
                                              : MATHF(log1p, x)(MATHF(exp, x)(x))));           \
        break;                                                                                 \
      case SINTER_OP_ERF: UN_LOOP(T, MATHF(erf, x)(x)); break;                                 \
      case SINTER_OP_EXP: UN_LOOP(T, MATHF(exp, x)(x)); break;                                 \
      case SINTER_OP_LOG: UN_LOOP(T, MATHF(log, x)(x)); break;                                 \
      case SINTER_OP_SQRT: UN_LOOP(T, MATHF(sqrt, x)(x)); break;                               \
      case SINTER_OP_RECIPROCAL: UN_LOOP(T, one / x); break;                                   \
      case SINTER_OP_NEG: UN_LOOP(T, -x); break;                                               \
      case SINTER_OP_ABS: UN_LOOP(T, MATHF(fabs, x)(x)); break;                                \
      case SINTER_OP_FLOOR: UN_LOOP(T, MATHF(floor, x)(x)); break;                             \
      case SINTER_OP_CEIL: UN_LOOP(T, MATHF(ceil, x)(x)); break;                               \
      /* nearbyint rounds half to even in the default rounding mode */                         \
      case SINTER_OP_ROUND: UN_LOOP(T, MATHF(nearbyint, x)(x)); break;                         \
      case SINTER_OP_SIGN: UN_LOOP(T, x > zero ? one : x < zero ? -one : x); break;            \
      case SINTER_OP_SIN: UN_LOOP(T, MATHF(sin, x)(x)); break;                                 \
      case SINTER_OP_COS: UN_LOOP(T, MATHF(cos, x)(x)); break;                                 \
      case SINTER_OP_TAN: UN_LOOP(T, MATHF(tan, x)(x)); break;                                 \
      case SINTER_OP_ASIN: UN_LOOP(T, MATHF(asin, x)(x)); break;                               \
      case SINTER_OP_ACOS: UN_LOOP(T, MATHF(acos, x)(x)); break;                               \
      case SINTER_OP_ATAN: UN_LOOP(T, MATHF(atan, x)(x)); break;                               \
      case SINTER_OP_SINH: UN_LOOP(T, MATHF(sinh, x)(x)); break;                               \
      case SINTER_OP_COSH: UN_LOOP(T, MATHF(cosh, x)(x)); break;                               \
      case SINTER_OP_ASINH: UN_LOOP(T, MATHF(asinh, x)(x)); break;                             \
      case SINTER_OP_ACOSH: UN_LOOP(T, MATHF(acosh, x)(x)); break;                             \
      case SINTER_OP_ATANH: UN_LOOP(T, MATHF(atanh, x)(x)); break;                             \
      case SINTER_OP_THRESHOLDED_RELU: UN_LOOP(T, x > al ? x : zero); break;                   \
      case SINTER_OP_SHRINK: UN_LOOP(T, (x < -al) ? x + be : (x > al) ? x - be : zero); break; \
      case SINTER_OP_CLIP: {                                                                   \
        /* max then min, so lo > hi gives hi as ONNX says; NaN passes through */               \
        UN_LOOP(T, x < lo ? lo : x);                                                           \
        for (int64_t i = 0; i < n; i++) ys[i] = ys[i] > hi ? hi : ys[i];                       \
        break;                                                                                 \
      }                                                                                        \
      default: break;                                                                          \
    }                                                                                          \
  }

DEFINE_UNARY_FLOAT(unary_f32, float)
DEFINE_UNARY_FLOAT(unary_f64, double)
/* clang-format on */

/* Integer forms of the ops ONNX defines on integers; u64 marks values that are really
 * uint64 bit patterns. */
static void unary_int(const uop_t *p, const int64_t *xs, int64_t *ys, int64_t n, bool u64) {
  switch (p->op) {
    case SINTER_OP_RELU:
      if (u64) UN_LOOP(int64_t, x) else UN_LOOP(int64_t, x < 0 ? 0 : x);
      break;
    case SINTER_OP_ABS:
      if (u64) UN_LOOP(int64_t, x) else UN_LOOP(int64_t, x < 0 ? WSUB(0, x) : x);
      break;
    case SINTER_OP_NEG: UN_LOOP(int64_t, WSUB(0, x)); break;
    case SINTER_OP_SIGN:
      if (u64) UN_LOOP(int64_t, x != 0) else UN_LOOP(int64_t, (x > 0) - (x < 0));
      break;
    case SINTER_OP_BITWISE_NOT: UN_LOOP(int64_t, ~x); break;
    case SINTER_OP_NOT: UN_LOOP(int64_t, x == 0); break;
    case SINTER_OP_CLIP:
      if (u64) {
        uint64_t lo = (uint64_t)p->ilo, hi = (uint64_t)p->ihi;
        UN_LOOP(int64_t, (uint64_t)x < lo ? (int64_t)lo : (uint64_t)x > hi ? (int64_t)hi : x);
      } else {
        int64_t lo = p->ilo, hi = p->ihi;
        for (int64_t i = 0; i < n; i++) {
          int64_t r = xs[i] < lo ? lo : xs[i];
          ys[i] = r > hi ? hi : r;
        }
      }
      break;
    case SINTER_OP_SHRINK:
      /* The result is exact in double for the integer widths ONNX allows here. */
      UN_LOOP(int64_t, (double)x < -p->alpha  ? d2i((double)x + p->beta)
                       : (double)x > p->alpha ? d2i((double)x - p->beta)
                                              : 0);
      break;
    default: UN_LOOP(int64_t, x); break;
  }
}

/* ---- dtype checks -------------------------------------------------------- */

typedef enum dclass_e {
  DC_ANY,     /* any dtype */
  DC_FLOAT,   /* floating point */
  DC_NUMERIC, /* floating point or integer */
  DC_INT,     /* integer */
  DC_BOOL,    /* bool */
} dclass_t;

static bool dtype_in(sinter_dtype_t d, dclass_t c) {
  if (d == SINTER_DTYPE_UNDEFINED) return true; /* not inferred yet: checked at run time */
  switch (c) {
    case DC_ANY: return true;
    case DC_FLOAT: return sinter_dtype_is_float(d);
    case DC_NUMERIC: return sinter_dtype_is_float(d) || sinter_dtype_is_int(d);
    case DC_INT: return sinter_dtype_is_int(d);
    case DC_BOOL: return d == SINTER_DTYPE_BOOL;
  }
  return false;
}

static const char *dclass_name(dclass_t c) {
  static const char *names[] = {"any", "a float type", "a numeric type", "an integer type", "bool"};
  return names[c];
}

static sinter_status_t check_dtype(const sinter_infer_ctx_t *ctx, int32_t i, dclass_t c) {
  const sinter_type_t *t = ctx->in[i];
  if (t && !dtype_in(t->dtype, c))
    return SINTER_NODE_ERROR("input %d has dtype %s, expected %s", i, sinter_dtype_name(t->dtype),
                             dclass_name(c));
  return NULL;
}

/* Checks inputs first..first+n-1 (present ones) against c and against each other. */
static sinter_status_t check_same(const sinter_infer_ctx_t *ctx, int32_t first, int32_t n,
                                  dclass_t c) {
  sinter_dtype_t seen = SINTER_DTYPE_UNDEFINED;
  int32_t seen_at = -1;
  for (int32_t i = first; i < first + n; i++) {
    if (!ctx->in[i]) continue;
    SINTER_TRY(check_dtype(ctx, i, c));
    sinter_dtype_t d = ctx->in[i]->dtype;
    if (d == SINTER_DTYPE_UNDEFINED) continue;
    if (seen_at >= 0 && d != seen)
      return SINTER_NODE_ERROR("input %d has dtype %s but input %d has %s", i, sinter_dtype_name(d),
                               seen_at, sinter_dtype_name(seen));
    seen = d;
    seen_at = i;
  }
  return NULL;
}

static sinter_dtype_t first_dtype(const sinter_infer_ctx_t *ctx, int32_t first, int32_t n) {
  for (int32_t i = first; i < first + n; i++)
    if (ctx->in[i] && ctx->in[i]->dtype != SINTER_DTYPE_UNDEFINED) return ctx->in[i]->dtype;
  return SINTER_DTYPE_UNDEFINED;
}

/* Broadcasts the present inputs first..first+n-1 into output 0 with dtype dt. */
static sinter_status_t infer_bcast(sinter_infer_ctx_t *ctx, int32_t first, int32_t n,
                                   sinter_dtype_t dt) {
  sinter_type_t t;
  memset(&t, 0, sizeof(t));
  SINTER_TRY(sinter_broadcast_types(ctx->in + first, n, &t));
  t.dtype = dt;
  ctx->out[0] = t;
  return NULL;
}

/* Makes sure output i has a buffer (inference gives static shapes at run time, so this is a
 * fallback). */
static sinter_status_t ensure_out(sinter_kernel_ctx_t *ctx, int32_t i, sinter_dtype_t dt,
                                  int32_t rank, const int64_t *dims) {
  if (ctx->out[i].data) return NULL;
  return sinter_kernel_alloc_output(ctx, i, dt, rank, dims);
}

/* Output 0's shape by broadcasting the present inputs first..first+n-1 of a kernel call. */
static sinter_status_t bcast_out_shape(const sinter_kernel_ctx_t *ctx, int32_t first, int32_t n,
                                       int32_t *out_rank, int64_t *dims) {
  sinter_type_t ts[MAX_BCAST + 64];
  const sinter_type_t *tp[MAX_BCAST + 64];
  if (n > (int32_t)(sizeof(ts) / sizeof(ts[0])))
    return SINTER_NODE_UNSUPPORTED("too many inputs (%d)", n);
  for (int32_t i = 0; i < n; i++) {
    const sinter_tensor_t *t = ctx->in[first + i];
    tp[i] = NULL;
    if (!t) continue;
    sinter_type_set_static(&ts[i], t->dtype, t->rank, t->dims);
    tp[i] = &ts[i];
  }
  sinter_type_t o;
  memset(&o, 0, sizeof(o));
  SINTER_TRY(sinter_broadcast_types(tp, n, &o));
  *out_rank = o.rank;
  for (int32_t d = 0; d < o.rank; d++) dims[d] = o.dims[d].size;
  return NULL;
}

/* ---- unary ops ------------------------------------------------------------ */

static dclass_t unary_class(sinter_op_t op) {
  switch (op) {
    case SINTER_OP_RELU:
    case SINTER_OP_ABS:
    case SINTER_OP_NEG:
    case SINTER_OP_SIGN:
    case SINTER_OP_CLIP:
    case SINTER_OP_SHRINK: return DC_NUMERIC;
    case SINTER_OP_NOT: return DC_BOOL;
    case SINTER_OP_BITWISE_NOT: return DC_INT;
    default: return DC_FLOAT;
  }
}

static sinter_status_t infer_unary(sinter_infer_ctx_t *ctx) {
  sinter_op_t op = ctx->node->op;
  SINTER_TRY(check_dtype(ctx, 0, unary_class(op)));
  ctx->out[0] = *ctx->in[0];
  if (op == SINTER_OP_IS_NAN || op == SINTER_OP_IS_INF) ctx->out[0].dtype = SINTER_DTYPE_BOOL;
  if (op == SINTER_OP_GELU) {
    const char *ap = sinter_node_attr_string(ctx->node, "approximate", "none");
    if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0)
      return SINTER_NODE_ERROR("approximate is '%s', expected 'none' or 'tanh'", ap);
  }
  if (op == SINTER_OP_CLIP) {
    for (int32_t i = 1; i < ctx->n_inputs; i++) {
      const sinter_type_t *t = ctx->in[i];
      if (!t) continue;
      if (t->dtype != SINTER_DTYPE_UNDEFINED && ctx->in[0]->dtype != SINTER_DTYPE_UNDEFINED &&
          t->dtype != ctx->in[0]->dtype)
        return SINTER_NODE_ERROR("input %d has dtype %s but input 0 has %s", i,
                                 sinter_dtype_name(t->dtype), sinter_dtype_name(ctx->in[0]->dtype));
      int64_t numel;
      if (sinter_type_numel(t, &numel) && numel != 1)
        return SINTER_NODE_ERROR("input %d (%s) must be a scalar, has %lld elements", i,
                                 i == 1 ? "min" : "max", (long long)numel);
    }
  }
  return NULL;
}

static sinter_status_t k_unary(sinter_kernel_ctx_t *ctx) {
  const sinter_node_t *node = ctx->node;
  const sinter_tensor_t *x = ctx->in[0];
  uop_t p = {.op = node->op, .lo = -INFINITY, .hi = INFINITY, .ilo = INT64_MIN, .ihi = INT64_MAX};
  switch (p.op) {
    case SINTER_OP_LEAKY_RELU: p.alpha = sinter_node_attr_float(node, "alpha", 0.01f); break;
    case SINTER_OP_ELU:
    case SINTER_OP_CELU:
    case SINTER_OP_THRESHOLDED_RELU: p.alpha = sinter_node_attr_float(node, "alpha", 1.0f); break;
    case SINTER_OP_SELU:
      p.alpha = sinter_node_attr_float(node, "alpha", 1.67326319217681884765625f);
      p.gamma = sinter_node_attr_float(node, "gamma", 1.05070102214813232421875f);
      break;
    case SINTER_OP_HARD_SIGMOID:
      p.alpha = sinter_node_attr_float(node, "alpha", 0.2f);
      p.beta = sinter_node_attr_float(node, "beta", 0.5f);
      break;
    case SINTER_OP_SHRINK:
      p.alpha = sinter_node_attr_float(node, "lambd", 0.5f);
      p.beta = sinter_node_attr_float(node, "bias", 0.0f);
      break;
    case SINTER_OP_GELU:
      p.gelu_tanh = strcmp(sinter_node_attr_string(node, "approximate", "none"), "tanh") == 0;
      break;
    case SINTER_OP_CLIP:
      for (int32_t i = 1; i < ctx->n_inputs && i < 3; i++) {
        const sinter_tensor_t *b = ctx->in[i];
        if (!b) continue;
        if (sinter_tensor_numel(b) != 1)
          return SINTER_NODE_ERROR("input %d of Clip must be a scalar", i);
        double v = sinter_load_f64(b->data, b->dtype, 0);
        int64_t iv = sinter_load_i64(b->data, b->dtype, 0);
        if (i == 1) {
          p.lo = v;
          p.ilo = iv;
        } else {
          p.hi = v;
          p.ihi = iv;
        }
      }
      break;
    default: break;
  }
  sinter_dtype_t odt =
      (p.op == SINTER_OP_IS_NAN || p.op == SINTER_OP_IS_INF) ? SINTER_DTYPE_BOOL : x->dtype;
  SINTER_TRY(ensure_out(ctx, 0, odt, x->rank, x->dims));
  sinter_tensor_t *y = &ctx->out[0];
  int64_t n = sinter_tensor_numel(x);
  if (n <= 0) return NULL;
  if (!dtype_in(x->dtype, unary_class(p.op)))
    return SINTER_NODE_ERROR("input has dtype %s, expected %s", sinter_dtype_name(x->dtype),
                             dclass_name(unary_class(p.op)));

  if (p.op == SINTER_OP_IS_NAN || p.op == SINTER_OP_IS_INF) {
    bool pos = sinter_node_attr_int(node, "detect_positive", 1) != 0;
    bool neg = sinter_node_attr_int(node, "detect_negative", 1) != 0;
    uint8_t *o = y->data;
    double buf[CHUNK];
    for (int64_t c0 = 0; c0 < n; c0 += CHUNK) {
      int64_t m = n - c0 < CHUNK ? n - c0 : CHUNK;
      load_chunk(x->data, x->dtype, c0, 1, m, CK_F64, buf);
      for (int64_t i = 0; i < m; i++) {
        double v = buf[i];
        o[c0 + i] = p.op == SINTER_OP_IS_NAN ? isnan(v) != 0
                                             : isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
      }
    }
    return NULL;
  }

  ckind_t ck = ckind_of(x->dtype);
  if (ck == CK_F32 && x->dtype == SINTER_DTYPE_F32) {
    unary_f32(&p, x->data, y->data, n);
    return NULL;
  }
  if (ck == CK_F64) {
    unary_f64(&p, x->data, y->data, n);
    return NULL;
  }
  if (ck == CK_I64 && x->dtype == SINTER_DTYPE_I64) {
    unary_int(&p, x->data, y->data, n, false);
    return NULL;
  }
  double buf[CHUNK];
  for (int64_t c0 = 0; c0 < n; c0 += CHUNK) {
    int64_t m = n - c0 < CHUNK ? n - c0 : CHUNK;
    load_chunk(x->data, x->dtype, c0, 1, m, ck, buf);
    if (ck == CK_F32)
      unary_f32(&p, (float *)buf, (float *)buf, m);
    else
      unary_int(&p, (int64_t *)buf, (int64_t *)buf, m, ck == CK_U64);
    store_chunk(y->data, y->dtype, c0, m, ck, buf);
  }
  return NULL;
}

/* ---- binary and variadic ops ---------------------------------------------- */

static sinter_status_t infer_binary(sinter_infer_ctx_t *ctx) {
  sinter_op_t op = ctx->node->op;
  int32_t n = ctx->n_inputs;
  sinter_dtype_t dt;
  switch (op) {
    case SINTER_OP_POW:
      SINTER_TRY(check_dtype(ctx, 0, DC_NUMERIC));
      SINTER_TRY(check_dtype(ctx, 1, DC_NUMERIC));
      dt = ctx->in[0]->dtype;
      break;
    case SINTER_OP_EQUAL:
      SINTER_TRY(check_same(ctx, 0, n, DC_ANY));
      dt = SINTER_DTYPE_BOOL;
      break;
    case SINTER_OP_LESS:
    case SINTER_OP_GREATER:
    case SINTER_OP_LESS_OR_EQUAL:
    case SINTER_OP_GREATER_OR_EQUAL:
      SINTER_TRY(check_same(ctx, 0, n, DC_NUMERIC));
      dt = SINTER_DTYPE_BOOL;
      break;
    case SINTER_OP_AND:
    case SINTER_OP_OR:
    case SINTER_OP_XOR:
      SINTER_TRY(check_same(ctx, 0, n, DC_BOOL));
      dt = SINTER_DTYPE_BOOL;
      break;
    case SINTER_OP_BIT_SHIFT: {
      SINTER_TRY(check_same(ctx, 0, n, DC_INT));
      const char *dir = sinter_node_attr_string(ctx->node, "direction", NULL);
      if (!dir || (strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0))
        return SINTER_NODE_ERROR("direction must be 'LEFT' or 'RIGHT'");
      dt = first_dtype(ctx, 0, n);
      break;
    }
    case SINTER_OP_BITWISE_AND:
    case SINTER_OP_BITWISE_OR:
    case SINTER_OP_BITWISE_XOR:
      SINTER_TRY(check_same(ctx, 0, n, DC_INT));
      dt = first_dtype(ctx, 0, n);
      break;
    default:
      SINTER_TRY(check_same(ctx, 0, n, DC_NUMERIC));
      dt = first_dtype(ctx, 0, n);
      break;
  }
  if (op == SINTER_OP_PRELU) {
    /* The slope broadcasts to X, never the other way. */
    const sinter_type_t *x = ctx->in[0], *s = ctx->in[1];
    if (x->rank >= 0 && s->rank >= 0) {
      if (s->rank > x->rank)
        return SINTER_NODE_ERROR("slope has rank %d, above the rank %d of X", s->rank, x->rank);
      for (int32_t d = 0; d < s->rank; d++) {
        sinter_dim_t sd = s->dims[d], xd = x->dims[d + x->rank - s->rank];
        if (sd.size == 1 || (sd.size < 0 && xd.size < 0)) continue;
        if (sd.size >= 0 && xd.size >= 0 && sd.size == xd.size) continue;
        if (sd.size < 0 || xd.size < 0) continue; /* checked at run time */
        return SINTER_NODE_ERROR("slope dim %d is %lld, does not broadcast to X's %lld", d,
                                 (long long)sd.size, (long long)xd.size);
      }
    }
    ctx->out[0] = *x;
    ctx->out[0].dtype = dt;
    return NULL;
  }
  return infer_bcast(ctx, 0, n, dt);
}

static ckind_t binary_ckind(sinter_op_t op, const sinter_tensor_t *a, const sinter_tensor_t *b,
                            sinter_dtype_t out_dt) {
  if (op_bool_out(op)) return ckind_of(a->dtype);
  if (op == SINTER_OP_POW && !is_floatish(a->dtype) && is_floatish(b->dtype)) return CK_F64;
  if (op == SINTER_OP_POW && !is_floatish(a->dtype)) return CK_I64;
  return ckind_of(out_dt);
}

static sinter_status_t k_binary(sinter_kernel_ctx_t *ctx) {
  const sinter_node_t *node = ctx->node;
  binop_t p = {.op = node->op};
  p.fmod = sinter_node_attr_int(node, "fmod", 0) != 0;
  const char *dir = sinter_node_attr_string(node, "direction", "LEFT");
  p.shift_left = strcmp(dir, "RIGHT") != 0;
  const sinter_tensor_t *a = ctx->in[0], *b = ctx->in[1];
  int32_t rank;
  int64_t dims[SINTER_MAX_RANK];
  SINTER_TRY(bcast_out_shape(ctx, 0, 2, &rank, dims));
  if (p.op == SINTER_OP_PRELU) {
    if (rank != a->rank || memcmp(dims, a->dims, sizeof(int64_t) * (size_t)rank) != 0)
      return SINTER_NODE_ERROR("slope does not broadcast to the shape of X");
  }
  sinter_dtype_t odt = op_bool_out(p.op) ? SINTER_DTYPE_BOOL : a->dtype;
  SINTER_TRY(ensure_out(ctx, 0, odt, rank, dims));
  binary_apply(&p, binary_ckind(p.op, a, b, odt), a, b, &ctx->out[0]);
  return NULL;
}

/* Max, Min, Sum and Mean fold their inputs into an accumulator of the compute type, broadcast
 * to the output shape, then round once into the output. */
static sinter_status_t k_variadic(sinter_kernel_ctx_t *ctx) {
  const sinter_node_t *node = ctx->node;
  binop_t p = {.op = node->op};
  int32_t n = ctx->n_inputs;
  int32_t rank;
  int64_t dims[SINTER_MAX_RANK];
  SINTER_TRY(bcast_out_shape(ctx, 0, n, &rank, dims));
  const sinter_tensor_t *first = NULL;
  int32_t count = 0;
  for (int32_t i = 0; i < n; i++)
    if (ctx->in[i]) {
      if (!first) first = ctx->in[i];
      count++;
    }
  if (!first) return SINTER_NODE_ERROR("no inputs");
  SINTER_TRY(ensure_out(ctx, 0, first->dtype, rank, dims));
  sinter_tensor_t *out = &ctx->out[0];
  int64_t numel = sinter_tensor_numel(out);
  if (numel <= 0) return NULL;
  ckind_t ck = ckind_of(out->dtype);
  sinter_tensor_t acc = *out;
  void *tmp = NULL;
  if (out->dtype != ck_dtype(ck)) {
    tmp = malloc((size_t)numel * ck_bytes(ck));
    if (!tmp) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    acc.dtype = ck_dtype(ck);
    acc.data = tmp;
  }
  broadcast_copy(ck, first, &acc);
  bool seen_first = false;
  for (int32_t i = 0; i < n; i++) {
    if (!ctx->in[i]) continue;
    if (!seen_first) {
      seen_first = true;
      continue;
    }
    binary_apply(&p, ck, &acc, ctx->in[i], &acc);
  }
  if (p.op == SINTER_OP_MEAN && count > 1) {
    switch (ck) {
      case CK_F32:
        for (int64_t i = 0; i < numel; i++) ((float *)acc.data)[i] /= (float)count;
        break;
      case CK_F64:
        for (int64_t i = 0; i < numel; i++) ((double *)acc.data)[i] /= count;
        break;
      case CK_I64:
        for (int64_t i = 0; i < numel; i++) ((int64_t *)acc.data)[i] /= count;
        break;
      case CK_U64:
        for (int64_t i = 0; i < numel; i++) ((uint64_t *)acc.data)[i] /= (uint64_t)count;
        break;
    }
  }
  if (tmp) {
    store_chunk(out->data, out->dtype, 0, numel, ck, tmp);
    free(tmp);
  }
  return NULL;
}

/* ---- Where ---------------------------------------------------------------- */

static sinter_status_t infer_where(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(check_dtype(ctx, 0, DC_BOOL));
  SINTER_TRY(check_same(ctx, 1, 2, DC_ANY));
  return infer_bcast(ctx, 0, 3, first_dtype(ctx, 1, 2));
}

#define WHERE_LOOP(T)                                                                 \
  do {                                                                                \
    const T *x_ = (const T *)x->data + c.off[1], *y_ = (const T *)y->data + c.off[2]; \
    T *o_ = (T *)out->data + c.out_off;                                               \
    for (int64_t i = 0; i < c.n; i++) o_[i] = cd[i * sc] ? x_[i * sx] : y_[i * sy];   \
  } while (0)

static sinter_status_t k_where(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *cond = ctx->in[0], *x = ctx->in[1], *y = ctx->in[2];
  if (x->dtype != y->dtype)
    return SINTER_NODE_ERROR("X is %s but Y is %s", sinter_dtype_name(x->dtype),
                             sinter_dtype_name(y->dtype));
  int32_t rank;
  int64_t dims[SINTER_MAX_RANK];
  SINTER_TRY(bcast_out_shape(ctx, 0, 3, &rank, dims));
  SINTER_TRY(ensure_out(ctx, 0, x->dtype, rank, dims));
  sinter_tensor_t *out = &ctx->out[0];
  bcast_t bc;
  bcast_init(&bc, out, ctx->in, 3);
  if (bc.numel <= 0) return NULL;
  int bits = sinter_dtype_bits(x->dtype);
  brow_t c;
  brow_init(&c, &bc);
  for (; c.row < c.nrows; brow_next(&c, &bc)) {
    const uint8_t *cd = (const uint8_t *)cond->data + c.off[0];
    int64_t sc = c.inner_st[0], sx = c.inner_st[1], sy = c.inner_st[2];
    switch (bits) {
      case 8: WHERE_LOOP(uint8_t); break;
      case 16: WHERE_LOOP(uint16_t); break;
      case 32: WHERE_LOOP(uint32_t); break;
      case 64: WHERE_LOOP(uint64_t); break;
      default:
        for (int64_t i = 0; i < c.n; i++) {
          bool t = cd[i * sc] != 0;
          int64_t v = t ? sinter_load_i64(x->data, x->dtype, c.off[1] + i * sx)
                        : sinter_load_i64(y->data, y->dtype, c.off[2] + i * sy);
          sinter_store_i64(out->data, out->dtype, c.out_off + i, v);
        }
        break;
    }
  }
  return NULL;
}

/* ---- Cast and CastLike ---------------------------------------------------- */


static sinter_status_t cast_target(const sinter_node_t *node, sinter_dtype_t *out) {
  const sinter_attr_t *a = sinter_node_attr(node, "to");
  if (!a || a->kind != SINTER_ATTR_INT) return SINTER_NODE_ERROR("attribute 'to' is missing");
  *out = sinter_dtype_from_onnx(a->i);
  if (*out != SINTER_DTYPE_UNDEFINED) return NULL;
  if (a->i == 8) return SINTER_NODE_UNSUPPORTED("casting to STRING is not supported");
  if (a->i >= 0 && a->i <= 23)
    return SINTER_NODE_UNSUPPORTED("casting to ONNX data type %lld is not supported",
                                   (long long)a->i);
  return SINTER_NODE_ERROR("attribute 'to' is %lld, not an ONNX data type", (long long)a->i);
}

static sinter_status_t infer_cast(sinter_infer_ctx_t *ctx) {
  sinter_dtype_t to;
  if (ctx->node->op == SINTER_OP_CAST_LIKE)
    to = ctx->in[1]->dtype;
  else
    SINTER_TRY(cast_target(ctx->node, &to));
  ctx->out[0] = *ctx->in[0];
  ctx->out[0].dtype = to;
  return NULL;
}

/* float to e4m3fn: with saturate, out-of-range values and infinities clamp to +-448; without
 * it they become NaN. Magnitudes up to 464 still round to 448 (ties to even). */
static uint8_t to_f8(float v, bool saturate) {
  if (!saturate && !isnan(v) && fabsf(v) > 464.0f) return (uint8_t)((signbit(v) ? 0x80 : 0) | 0x7f);
  return sinter_f32_to_f8e4m3(v);
}

static sinter_status_t k_cast(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_dtype_t to;
  if (ctx->node->op == SINTER_OP_CAST_LIKE)
    to = ctx->in[1]->dtype;
  else
    SINTER_TRY(cast_target(ctx->node, &to));
  bool saturate = sinter_node_attr_int(ctx->node, "saturate", 1) != 0;
  SINTER_TRY(ensure_out(ctx, 0, to, x->rank, x->dims));
  sinter_tensor_t *y = &ctx->out[0];
  int64_t n = sinter_tensor_numel(x);
  if (n <= 0) return NULL;
  sinter_dtype_t from = x->dtype;
  if (from == to) {
    memcpy(y->data, x->data, y->nbytes < x->nbytes ? y->nbytes : x->nbytes);
    return NULL;
  }
  /* Common conversions get their own loops; the rest go element by element. */
  if (from == SINTER_DTYPE_F16 && to == SINTER_DTYPE_F32) {
    for (int64_t i = 0; i < n; i++)
      ((float *)y->data)[i] = sinter_f16_to_f32(((const uint16_t *)x->data)[i]);
    return NULL;
  }
  if (from == SINTER_DTYPE_F32 && to == SINTER_DTYPE_F16) {
    for (int64_t i = 0; i < n; i++)
      ((uint16_t *)y->data)[i] = sinter_f32_to_f16(((const float *)x->data)[i]);
    return NULL;
  }
  if (from == SINTER_DTYPE_I64 && to == SINTER_DTYPE_I32) {
    for (int64_t i = 0; i < n; i++)
      ((int32_t *)y->data)[i] = (int32_t)((const int64_t *)x->data)[i];
    return NULL;
  }
  if (from == SINTER_DTYPE_I32 && to == SINTER_DTYPE_I64) {
    for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = ((const int32_t *)x->data)[i];
    return NULL;
  }
  bool src_float = is_floatish(from);
  for (int64_t i = 0; i < n; i++) {
    if (to == SINTER_DTYPE_F8E4M3) {
      float v = src_float                  ? (float)sinter_load_f64(x->data, from, i)
                : from == SINTER_DTYPE_U64 ? (float)((const uint64_t *)x->data)[i]
                                           : (float)sinter_load_i64(x->data, from, i);
      ((uint8_t *)y->data)[i] = to_f8(v, saturate);
    } else if (to == SINTER_DTYPE_I4 || to == SINTER_DTYPE_U4) {
      /* ONNX saturates into the 4-bit range, rounding floats half to even. */
      double lo = to == SINTER_DTYPE_I4 ? -8 : 0, hi = to == SINTER_DTYPE_I4 ? 7 : 15;
      double v = src_float                  ? sinter_load_f64(x->data, from, i)
                 : from == SINTER_DTYPE_U64 ? (double)((const uint64_t *)x->data)[i]
                                            : (double)sinter_load_i64(x->data, from, i);
      v = isnan(v) ? 0 : v < lo ? lo : v > hi ? hi : nearbyint(v);
      sinter_store_i64(y->data, to, i, (int64_t)v);
    } else if (src_float && to == SINTER_DTYPE_U64) {
      /* Beyond INT64_MAX the value only fits unsigned; negatives wrap as on x86 NumPy. */
      double v = sinter_load_f64(x->data, from, i);
      ((uint64_t *)y->data)[i] =
          v >= 9.2233720368547758e18 && v < 1.8446744073709552e19 ? (uint64_t)v : (uint64_t)d2i(v);
    } else if (src_float) {
      sinter_store_f64(y->data, to, i, sinter_load_f64(x->data, from, i));
    } else if (from == SINTER_DTYPE_U64) {
      uint64_t u = ((const uint64_t *)x->data)[i];
      if (to == SINTER_DTYPE_F32)
        ((float *)y->data)[i] = (float)u;
      else if (is_floatish(to))
        sinter_store_f64(y->data, to, i, (double)u);
      else
        sinter_store_i64(y->data, to, i, (int64_t)u);
    } else {
      int64_t v = sinter_load_i64(x->data, from, i);
      if (to == SINTER_DTYPE_F32)
        ((float *)y->data)[i] = (float)v; /* one rounding, not two through double */
      else if (is_floatish(to))
        sinter_store_f64(y->data, to, i, (double)v);
      else
        sinter_store_i64(y->data, to, i, v);
    }
  }
  return NULL;
}

/* ---- table ---------------------------------------------------------------- */

#define UNARY(e) \
  { SINTER_OP_##e, infer_unary, k_unary }
#define BINARY(e) \
  { SINTER_OP_##e, infer_binary, k_binary }
#define VARIADIC(e) \
  { SINTER_OP_##e, infer_binary, k_variadic }

const sinter_op_impl_t sinter_impl_elementwise[] = {
    UNARY(RELU),
    UNARY(LEAKY_RELU),
    UNARY(ELU),
    UNARY(SELU),
    UNARY(CELU),
    UNARY(SIGMOID),
    UNARY(HARD_SIGMOID),
    UNARY(HARD_SWISH),
    UNARY(TANH),
    UNARY(SOFTPLUS),
    UNARY(SOFTSIGN),
    UNARY(GELU),
    UNARY(MISH),
    UNARY(ERF),
    UNARY(EXP),
    UNARY(LOG),
    UNARY(SQRT),
    UNARY(RECIPROCAL),
    UNARY(NEG),
    UNARY(ABS),
    UNARY(FLOOR),
    UNARY(CEIL),
    UNARY(ROUND),
    UNARY(SIGN),
    UNARY(SIN),
    UNARY(COS),
    UNARY(TAN),
    UNARY(ASIN),
    UNARY(ACOS),
    UNARY(ATAN),
    UNARY(SINH),
    UNARY(COSH),
    UNARY(ASINH),
    UNARY(ACOSH),
    UNARY(ATANH),
    UNARY(THRESHOLDED_RELU),
    UNARY(SHRINK),
    UNARY(IS_NAN),
    UNARY(IS_INF),
    UNARY(NOT),
    UNARY(BITWISE_NOT),
    UNARY(CLIP),
    BINARY(ADD),
    BINARY(SUB),
    BINARY(MUL),
    BINARY(DIV),
    BINARY(POW),
    BINARY(MOD),
    BINARY(PRELU),
    VARIADIC(MAX),
    VARIADIC(MIN),
    VARIADIC(MEAN),
    VARIADIC(SUM),
    BINARY(EQUAL),
    BINARY(LESS),
    BINARY(GREATER),
    BINARY(LESS_OR_EQUAL),
    BINARY(GREATER_OR_EQUAL),
    BINARY(AND),
    BINARY(OR),
    BINARY(XOR),
    BINARY(BIT_SHIFT),
    BINARY(BITWISE_AND),
    BINARY(BITWISE_OR),
    BINARY(BITWISE_XOR),
    {SINTER_OP_WHERE, infer_where, k_where},
    {SINTER_OP_CAST, infer_cast, k_cast},
    {SINTER_OP_CAST_LIKE, infer_cast, k_cast},
    {0},
};
