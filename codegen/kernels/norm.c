/* Row-wise kernels over contiguous rows: Softmax / LogSoftmax,
 * LayerNormalization and RMSNormalization. Reductions run in 16 f32 lanes
 * (two-pass where it matters) and are combined in double; one task is a run
 * of whole rows, so results do not depend on the thread count. */
#include <math.h>
#include <stdint.h>

#include "kernels.h"
#include "misc_impl.h"

typedef struct row_ctx_s {
  int64_t n;
  const float *x, *scale, *bias;
  float *y;
  float eps;
  int32_t flag; /* softmax: log_softmax */
} row_ctx_t;

/* ---- softmax ----------------------------------------------------------------------------- */

/* The maximum of a row; a NaN anywhere makes exp(x - max) NaN below, so the
 * row comes out NaN as in the interpreter whether or not max saw it (and an
 * all -inf row gives NaN from -inf - -inf, as there too). */
static float row_max(const float *x, int64_t n) {
  km_v16f m = km_splat(-INFINITY);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) m = km_max(m, km_load(x + i));
  if (i < n) m = km_max(m, km_load_part(x + i, n - i, -INFINITY));
  return km_hmax(m);
}

static void softmax_row(const float *x, float *y, int64_t n, int32_t log_softmax) {
  float mx = row_max(x, n);
  km_v16f vm = km_splat(mx), acc = km_splat(0.0f);
  int64_t i = 0;
  if (log_softmax) {
    for (; i + 16 <= n; i += 16) acc += km_exp(km_load(x + i) - vm);
    if (i < n) {
      /* Padding lanes are -inf, so they add exp(-inf) = 0. */
      acc += km_exp(km_load_part(x + i, n - i, -INFINITY) - vm);
    }
    float ls = (float)log(km_hsum(acc));
    for (i = 0; i < n; i++) y[i] = (x[i] - mx) - ls;
    return;
  }
  for (; i + 16 <= n; i += 16) {
    km_v16f e = km_exp(km_load(x + i) - vm);
    km_store(y + i, e);
    acc += e;
  }
  if (i < n) {
    km_v16f e = km_exp(km_load_part(x + i, n - i, -INFINITY) - vm);
    km_store_part(y + i, e, n - i);
    acc += e;
  }
  float sum = (float)km_hsum(acc);
  for (i = 0; i < n; i++) y[i] = y[i] / sum;
}

static void softmax_task(void *ctx, int64_t rb, int64_t re) {
  const row_ctx_t *c = ctx;
  for (int64_t r = rb; r < re; r++) softmax_row(c->x + r * c->n, c->y + r * c->n, c->n, c->flag);
}

void sinter_k_softmax_f32(int64_t rows, int64_t n, const float *x, float *y, int32_t log_softmax,
                          const sinter_art_exec_t *exec) {
  if (rows <= 0 || n <= 0) return;
  row_ctx_t c = {n, x, NULL, NULL, y, 0.0f, log_softmax};
  km_run(exec, rows, km_grain(4 * n), softmax_task, &c);
}

/* ---- layer and RMS normalization -------------------------------------------------------- */

/* Sum over a row of d = (x - mh) - ml (mode 0), of d^2 (mode 1) or of x^2
 * (mode 2), in 16 lanes times two accumulators, reduced in double. With
 * mh + ml near the row's values, x - mh is exact (Sterbenz), so the lane
 * sums carry errors relative to the row's spread, not to its offset. */
static inline double row_reduce(const float *x, int64_t n, int32_t mode, float mh, float ml) {
  km_v16f a0 = km_splat(0.0f), a1 = km_splat(0.0f), vh = km_splat(mh), vl = km_splat(ml);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    km_v16f u = km_load(x + i), v = km_load(x + i + 16);
    if (mode != 2) {
      u = (u - vh) - vl;
      v = (v - vh) - vl;
    }
    if (mode != 0) {
      u *= u;
      v *= v;
    }
    a0 += u;
    a1 += v;
  }
  for (; i < n; i += 16) {
    int64_t m = n - i < 16 ? n - i : 16;
    km_v16f u = m == 16 ? km_load(x + i) : km_load_part(x + i, m, 0.0f);
    if (mode != 2) {
      /* Padding lanes must add 0, not a function of the shift. */
      float buf[16];
      km_store(buf, (u - vh) - vl);
      for (int64_t k = m; k < 16; k++) buf[k] = 0.0f;
      u = km_load(buf);
    }
    if (mode != 0) u *= u;
    a0 += u;
  }
  return km_hsum(a0 + a1);
}

static void layernorm_task(void *ctx, int64_t rb, int64_t re) {
  const row_ctx_t *c = ctx;
  int64_t n = c->n;
  for (int64_t r = rb; r < re; r++) {
    const float *x = c->x + r * n;
    float *y = c->y + r * n;
    /* Two passes: the centered sum of squares does not cancel as E[x^2] - E[x]^2 would. */
    /* The mean of x - x[0], then the variance around the mean as two floats. */
    double mean = (double)x[0] + row_reduce(x, n, 0, x[0], 0.0f) / (double)n;
    float mh = (float)mean, ml = (float)(mean - (double)mh);
    double var = row_reduce(x, n, 1, mh, ml) / (double)n;
    float inv = (float)(1.0 / sqrt(var + (double)c->eps));
    const float *sc = c->scale, *bi = c->bias;
    if (bi)
      for (int64_t i = 0; i < n; i++) y[i] = ((x[i] - mh) - ml) * inv * sc[i] + bi[i];
    else
      for (int64_t i = 0; i < n; i++) y[i] = ((x[i] - mh) - ml) * inv * sc[i];
  }
}

void sinter_k_layernorm_f32(int64_t rows, int64_t n, const float *x, const float *scale,
                            const float *bias, float eps, float *y, const sinter_art_exec_t *exec) {
  if (rows <= 0 || n <= 0) return;
  row_ctx_t c = {n, x, scale, bias, y, eps, 0};
  km_run(exec, rows, km_grain(3 * n), layernorm_task, &c);
}

static void rmsnorm_task(void *ctx, int64_t rb, int64_t re) {
  const row_ctx_t *c = ctx;
  int64_t n = c->n;
  for (int64_t r = rb; r < re; r++) {
    const float *x = c->x + r * n;
    float *y = c->y + r * n;
    double ms = row_reduce(x, n, 2, 0.0f, 0.0f) / (double)n;
    float inv = (float)(1.0 / sqrt(ms + (double)c->eps));
    const float *sc = c->scale;
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * inv) * sc[i];
  }
}

void sinter_k_rmsnorm_f32(int64_t rows, int64_t n, const float *x, const float *scale, float eps,
                          float *y, const sinter_art_exec_t *exec) {
  if (rows <= 0 || n <= 0) return;
  row_ctx_t c = {n, x, scale, NULL, y, eps, 0};
  km_run(exec, rows, km_grain(2 * n), rmsnorm_task, &c);
}
