/* Elementwise int8 kernels: QuantizeLinear, DequantizeLinear, QLinearAdd/Mul
 * and QLinearGlobalAveragePool, rounding exactly as the interpreter does
 * (docs/ops-sinter.md): every double operation of the reference is one
 * separately rounded statement here, so contraction cannot fuse them. */
#include <stdint.h>

#include "kernels.h"

static inline int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

/* NaN counts as 0, then clamp to [lo, hi] and round half to even. The
 * 1.5 * 2^52 trick is exact for |v| < 2^51, which the clamp ensures. */
static inline int32_t round_clamp(double v, int32_t lo, int32_t hi) {
  if (v != v) v = 0.0;
  v = v < (double)lo ? (double)lo : v;
  v = v > (double)hi ? (double)hi : v;
  double r = (v + 6755399441055744.0) - 6755399441055744.0;
  return (int32_t)r;
}

static void par(const sinter_art_exec_t *exec, int64_t n, int64_t grain, sinter_art_task_fn fn,
                void *ctx) {
  if (n <= 0) return;
  if (exec && exec->num_threads > 1 && n > grain)
    exec->parallel_for(exec, n, grain, fn, ctx);
  else
    fn(ctx, 0, n);
}

enum { EW_GRAIN = 16384 };

/* ---- QuantizeLinear ------------------------------------------------------------------- */

typedef struct quant_ctx_s {
  const float *x;
  float scale;
  int32_t zp, sgn;
  void *y;
} quant_ctx_t;

/* y = sat(round(x / scale) + zp): the quotient in f32 as the reference,
 * NaN -> 0, then saturation, which commutes with rounding and the integer
 * zero point, is a clamp of the quotient to [lo - zp, hi - zp], after which
 * 1.5 * 2^23 rounds half to even exactly in f32. */
static void quant_task(void *vc, int64_t begin, int64_t end) {
  const quant_ctx_t *c = vc;
  int32_t lo = c->sgn ? -128 : 0, hi = c->sgn ? 127 : 255;
  float flo = (float)(lo - c->zp), fhi = (float)(hi - c->zp);
  for (int64_t i = begin; i < end; i++) {
    float q = c->x[i] / c->scale;
    q = q != q ? 0.0f : q;
    q = q < flo ? flo : q;
    q = q > fhi ? fhi : q;
    float r = (q + 12582912.0f) - 12582912.0f;
    int32_t v = (int32_t)r + c->zp;
    if (c->sgn)
      ((int8_t *)c->y)[i] = (int8_t)v;
    else
      ((uint8_t *)c->y)[i] = (uint8_t)v;
  }
}

void sinter_k_quantize_f32(int64_t n, const float *x, float scale, int32_t zp, void *y,
                           int32_t y_signed, const sinter_art_exec_t *exec) {
  quant_ctx_t c = {x, scale, zp, y_signed, y};
  par(exec, n, EW_GRAIN, quant_task, &c);
}

/* ---- DequantizeLinear ----------------------------------------------------------------- */

typedef struct dequant_ctx_s {
  const void *x;
  int32_t sgn, zp;
  float scale;
  float *y;
} dequant_ctx_t;

static void dequant_task(void *vc, int64_t begin, int64_t end) {
  const dequant_ctx_t *c = vc;
  if (c->sgn) {
    const int8_t *x = c->x;
    for (int64_t i = begin; i < end; i++) c->y[i] = (float)((int32_t)x[i] - c->zp) * c->scale;
  } else {
    const uint8_t *x = c->x;
    for (int64_t i = begin; i < end; i++) c->y[i] = (float)((int32_t)x[i] - c->zp) * c->scale;
  }
}

void sinter_k_dequantize_f32(int64_t n, const void *x, int32_t x_signed, float scale, int32_t zp,
                             float *y, const sinter_art_exec_t *exec) {
  dequant_ctx_t c = {x, x_signed, zp, scale, y};
  par(exec, n, EW_GRAIN, dequant_task, &c);
}

/* ---- QLinearAdd / QLinearMul ---------------------------------------------------------- */

typedef struct qbin_ctx_s {
  int32_t op, rank;
  const int64_t *dims, *as, *bs;
  const uint8_t *a, *b;
  int32_t a_zp, b_zp, y_zp, lo, hi, sgn;
  float m_a, m_b;
  uint8_t *y;
  int64_t inner;
} qbin_ctx_t;

static inline int32_t ld8(const uint8_t *p, int64_t i, int32_t sgn) {
  return sgn ? (int32_t)(int8_t)p[i] : (int32_t)p[i];
}

/* One task per row of the last dimension (all of out for rank 0). */
static void qbin_task(void *vc, int64_t begin, int64_t end) {
  const qbin_ctx_t *c = vc;
  int32_t r = c->rank;
  int64_t sa = r > 0 ? c->as[r - 1] : 0, sb = r > 0 ? c->bs[r - 1] : 0;
  for (int64_t row = begin; row < end; row++) {
    int64_t ia = 0, ib = 0, rem = row;
    for (int32_t d = r - 2; d >= 0; d--) {
      int64_t idx = rem % c->dims[d];
      rem /= c->dims[d];
      ia += idx * c->as[d];
      ib += idx * c->bs[d];
    }
    uint8_t *y = c->y + row * c->inner;
    for (int64_t i = 0; i < c->inner; i++) {
      int32_t qa = ld8(c->a, ia + i * sa, c->sgn) - c->a_zp;
      int32_t qb = ld8(c->b, ib + i * sb, c->sgn) - c->b_zp;
      double v;
      if (c->op == 1) {
        double p = (double)((int64_t)qa * qb) * (double)c->m_a;
        v = p + (double)c->y_zp;
      } else {
        double pa = (double)qa * (double)c->m_a;
        double pb = (double)qb * (double)c->m_b;
        double s = pa + pb;
        v = s + (double)c->y_zp;
      }
      y[i] = (uint8_t)round_clamp(v, c->lo, c->hi);
    }
  }
}

/* The common case, a, b and y dense and of one shape (residual adds): flat
 * loops with the parameters in locals and op and signedness constant, so
 * they vectorize (8 doubles a vector). Same statements as qbin_task, so the
 * same roundings. */
static inline __attribute__((always_inline)) void qbin_flat(const qbin_ctx_t *c, int64_t begin,
                                                            int64_t end, const int op,
                                                            const int sgn) {
  const uint8_t *pa = c->a, *pb = c->b;
  uint8_t *py = c->y;
  int32_t az = c->a_zp, bz = c->b_zp, lo = c->lo, hi = c->hi;
  double ma = (double)c->m_a, mb = (double)c->m_b, yz = (double)c->y_zp;
  double dlo = (double)lo, dhi = (double)hi;
  for (int64_t i = begin; i < end; i++) {
    int32_t qa = ld8(pa, i, sgn) - az;
    int32_t qb = ld8(pb, i, sgn) - bz;
    double v;
    if (op == 1) {
      double p = (double)((int64_t)qa * qb) * ma;
      v = p + yz;
    } else {
      double xa = (double)qa * ma;
      double xb = (double)qb * mb;
      double sum = xa + xb;
      v = sum + yz;
    }
    v = v != v ? 0.0 : v;
    v = v < dlo ? dlo : v;
    v = v > dhi ? dhi : v;
    double r = (v + 6755399441055744.0) - 6755399441055744.0;
    py[i] = (uint8_t)(int32_t)r;
  }
}

static void qbin_flat_task(void *vc, int64_t begin, int64_t end) {
  const qbin_ctx_t *c = vc;
  if (c->op == 1)
    c->sgn ? qbin_flat(c, begin, end, 1, 1) : qbin_flat(c, begin, end, 1, 0);
  else
    c->sgn ? qbin_flat(c, begin, end, 0, 1) : qbin_flat(c, begin, end, 0, 0);
}

/* Whether strides st describe the dense layout of dims (size-1 dims aside). */
static int dense(int32_t rank, const int64_t *dims, const int64_t *st) {
  int64_t e = 1;
  for (int32_t d = rank - 1; d >= 0; d--) {
    if (dims[d] != 1 && st[d] != e) return 0;
    e *= dims[d];
  }
  return 1;
}

/* For QLinearMul, m_a is the product multiplier a_scale * b_scale / y_scale
 * (m_b unused), as in docs/ops-sinter.md. */
void sinter_k_qbinary(int32_t op, int32_t rank, const int64_t *dims, const void *a,
                      const int64_t *a_strides, int32_t a_zp, float m_a, const void *b,
                      const int64_t *b_strides, int32_t b_zp, float m_b, int32_t y_zp, int32_t qmin,
                      int32_t qmax, void *y, int32_t sgn, const sinter_art_exec_t *exec) {
  qbin_ctx_t c = {op,
                  rank,
                  dims,
                  a_strides,
                  b_strides,
                  a,
                  b,
                  a_zp,
                  b_zp,
                  y_zp,
                  qmin,
                  qmax,
                  sgn,
                  m_a,
                  m_b,
                  y,
                  rank > 0 ? dims[rank - 1] : 1};
  int64_t rows = 1;
  for (int32_t d = 0; d + 1 < rank; d++) rows *= dims[d];
  if (c.inner <= 0) return;
  if (dense(rank, dims, a_strides) && dense(rank, dims, b_strides)) {
    par(exec, rows * c.inner, EW_GRAIN, qbin_flat_task, &c);
    return;
  }
  int64_t grain = c.inner >= EW_GRAIN ? 1 : EW_GRAIN / c.inner;
  par(exec, rows, grain, qbin_task, &c);
}

/* ---- QLinearGlobalAveragePool --------------------------------------------------------- */

typedef struct qgap_ctx_s {
  int64_t HW;
  const uint8_t *x;
  int32_t x_zp, y_zp, sgn;
  float m;
  uint8_t *y;
} qgap_ctx_t;

/* y[c] = sat(round(S * m / HW + y_zp)), S = sum (x - x_zp) exactly: the byte
 * sum fits int64 and the zero point comes off once. */
static void qgap_task(void *vc, int64_t begin, int64_t end) {
  const qgap_ctx_t *c = vc;
  int32_t lo = c->sgn ? -128 : 0, hi = c->sgn ? 127 : 255;
  for (int64_t ch = begin; ch < end; ch++) {
    const uint8_t *x = c->x + ch * c->HW;
    int64_t sum = 0;
    if (c->sgn)
      for (int64_t p = 0; p < c->HW; p++) sum += (int8_t)x[p];
    else
      for (int64_t p = 0; p < c->HW; p++) sum += x[p];
    sum -= (int64_t)c->x_zp * c->HW;
    double v = (double)c->y_zp;
    if (c->HW) {
      double p = (double)sum * (double)c->m;
      double q = p / (double)c->HW;
      v = q + (double)c->y_zp;
    }
    c->y[ch] = (uint8_t)round_clamp(v, lo, hi);
  }
}

void sinter_k_qglobal_avgpool(int64_t C, int64_t HW, const void *x, int32_t x_zp, float m,
                              int32_t y_zp, void *y, int32_t sgn, const sinter_art_exec_t *exec) {
  qgap_ctx_t c = {HW, x, x_zp, y_zp, sgn, m, y};
  int64_t grain = HW >= EW_GRAIN ? 1 : EW_GRAIN / (HW > 0 ? HW : 1);
  par(exec, C, min64(grain, C > 0 ? C : 1), qgap_task, &c);
}
