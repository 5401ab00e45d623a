/* Pooling kernels of one NCHW image: max (f32, u8, i8), average and global
 * average. Each output row is split into the columns whose window lies
 * inside the image, done tap by tap with vector loops over the columns, and
 * the few border columns, done with clipped windows. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "misc_impl.h"

/* Range [lo, hi) of taps j < k with 0 <= start + j * d < in. */
static inline void tap_range(int64_t start, int64_t k, int64_t d, int64_t in, int64_t *lo,
                             int64_t *hi) {
  int64_t a = start >= 0 ? 0 : (-start + d - 1) / d;
  int64_t b = start >= in ? 0 : (in - 1 - start) / d + 1;
  if (b > k) b = k;
  if (a > k) a = k;
  *lo = a;
  *hi = b > a ? b : a;
}

/* Output columns [ow0, ow1) whose whole window is inside [0, W). */
static inline void interior_cols(const sinter_k_pool_shape_t *s, int64_t *ow0, int64_t *ow1) {
  int64_t span = (s->KW - 1) * s->dil_w;
  int64_t a = (s->pad_l + s->stride_w - 1) / s->stride_w;
  int64_t last = s->W - 1 - span + s->pad_l; /* ow * stride_w <= last */
  int64_t b = last < 0 ? 0 : last / s->stride_w + 1;
  if (b > s->OW) b = s->OW;
  if (a > b) a = b;
  *ow0 = a;
  *ow1 = b;
}

typedef struct pool_ctx_s {
  const sinter_k_pool_shape_t *s;
  const void *x;
  void *y;
} pool_ctx_t;

/* The maxima of output columns [cb, cb + N) of one row, taps in (kh, kw)
 * order; with N = 16 the loops over i become single vector operations. */
#define MAX_BLOCK(T, N)                                       \
  do {                                                        \
    T acc[16];                                                \
    const T *x0 = xb + (sh + h0 * s->dil_h) * s->W;           \
    for (int64_t i = 0; i < (N); i++) acc[i] = x0[i * sw];    \
    for (int64_t kh = h0; kh < h1; kh++) {                    \
      const T *xr = xb + (sh + kh * s->dil_h) * s->W;         \
      for (int64_t kw = kh == h0 ? 1 : 0; kw < s->KW; kw++) { \
        const T *xt = xr + kw * dw;                           \
        for (int64_t i = 0; i < (N); i++) {                   \
          T v = xt[i * sw];                                   \
          acc[i] = v > acc[i] ? v : acc[i];                   \
        }                                                     \
      }                                                       \
    }                                                         \
    for (int64_t i = 0; i < (N); i++) yr[cb + i] = acc[i];    \
  } while (0)

/* Max pooling for element type T: the first tap in (kh, kw) order, then any
 * strictly greater one, as the interpreter does; an all-padding window gives
 * EMPTY. Tasks are output rows (c, oh). */
#define DEFINE_MAXPOOL(NAME, T, EMPTY, VBLOCK, FASTROW)                                        \
  static void NAME##_rows(const sinter_k_pool_shape_t *s, const T *x, T *y, int64_t rb,        \
                          int64_t re) {                                                        \
    int64_t ow0, ow1;                                                                          \
    interior_cols(s, &ow0, &ow1);                                                              \
    const int64_t sw = s->stride_w, dw = s->dil_w;                                             \
    for (int64_t r = rb; r < re; r++) {                                                        \
      int64_t c = r / s->OH, oh = r % s->OH;                                                   \
      const T *xc = x + c * s->H * s->W;                                                       \
      T *yr = y + r * s->OW;                                                                   \
      int64_t sh = oh * s->stride_h - s->pad_t, h0, h1;                                        \
      tap_range(sh, s->KH, s->dil_h, s->H, &h0, &h1);                                          \
      if (FASTROW(s, xc, yr, sh, h0, h1)) continue;                                            \
      for (int64_t ow = 0; ow < s->OW; ow++) {                                                 \
        if (ow == ow0 && ow1 > ow0 && h1 > h0) {                                               \
          ow = ow1 - 1;                                                                        \
          continue;                                                                            \
        }                                                                                      \
        int64_t sw0 = ow * sw - s->pad_l, w0, w1;                                              \
        tap_range(sw0, s->KW, dw, s->W, &w0, &w1);                                             \
        T best = (EMPTY);                                                                      \
        int first = 1;                                                                         \
        for (int64_t kh = h0; kh < h1; kh++) {                                                 \
          const T *xr = xc + (sh + kh * s->dil_h) * s->W + sw0;                                \
          for (int64_t kw = w0; kw < w1; kw++) {                                               \
            T v = xr[kw * dw];                                                                 \
            if (first || v > best) best = v;                                                   \
            first = 0;                                                                         \
          }                                                                                    \
        }                                                                                      \
        yr[ow] = best;                                                                         \
      }                                                                                        \
      if (h1 <= h0) continue;                                                                  \
      /* Interior columns, 16 at a time: every kw tap is in range, and the 16                  \
       * maxima stay in registers across the taps. */                                          \
      for (int64_t cb = ow0; cb < ow1; cb += 16) {                                             \
        /* A short last block overlaps the previous one (same values again). */                \
        if (ow1 - cb < 16 && ow1 - ow0 >= 16) cb = ow1 - 16;                                   \
        int64_t n = ow1 - cb < 16 ? ow1 - cb : 16;                                             \
        const T *xb = xc + cb * sw - s->pad_l;                                                 \
        if (n == 16 && VBLOCK(s, xb, sh, h0, h1, yr + cb)) continue;                           \
        MAX_BLOCK(T, n);                                                                       \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
  static void NAME##_task(void *ctx, int64_t rb, int64_t re) {                                 \
    const pool_ctx_t *c = ctx;                                                                 \
    NAME##_rows(c->s, c->x, c->y, rb, re);                                                     \
  }                                                                                            \
  void NAME(const sinter_k_pool_shape_t *s, const T *x, T *y, const sinter_art_exec_t *exec) { \
    int64_t rows = s->C * s->OH;                                                               \
    if (rows <= 0 || s->OW <= 0) return;                                                       \
    if (!exec || exec->num_threads <= 1) {                                                     \
      NAME##_rows(s, x, y, 0, rows);                                                           \
      return;                                                                                  \
    }                                                                                          \
    pool_ctx_t c = {s, x, y};                                                                  \
    km_run(exec, rows, km_grain(s->OW * s->KH * s->KW), NAME##_task, &c);                      \
  }

/* 16 floats at p[0], p[s], ... p[15 s]. Stride 2 (the common pooling and
 * downsampling stride) reads p[0..30] as two vectors and keeps the even
 * elements, never reading past p[30]. */
KM_INLINE km_v16f load_strided(const float *p, int64_t s) {
  if (s == 1) return km_load(p);
  if (s == 2) {
    km_v16f a = km_load(p), b = km_load(p + 15);
#if defined(__clang__)
    return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31);
#else
    return __builtin_shuffle(a, b,
                             (km_v16i){0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31});
#endif
  }
  float buf[16];
  for (int i = 0; i < 16; i++) buf[i] = p[i * s];
  return km_load(buf);
}

/* 16 f32 maxima in a register across the taps; returns 1 (done). */
static inline int max_block_f32(const sinter_k_pool_shape_t *s, const float *xb, int64_t sh,
                                int64_t h0, int64_t h1, float *y) {
  km_v16f acc = load_strided(xb + (sh + h0 * s->dil_h) * s->W, s->stride_w);
  for (int64_t kh = h0; kh < h1; kh++) {
    const float *xr = xb + (sh + kh * s->dil_h) * s->W;
    for (int64_t kw = kh == h0 ? 1 : 0; kw < s->KW; kw++)
      acc = km_max(acc, load_strided(xr + kw * s->dil_w, s->stride_w));
  }
  km_store(y, acc);
  return 1;
}

#define NO_VBLOCK(s, xb, sh, h0, h1, y) 0
#define NO_FASTROW(s, xc, yr, sh, h0, h1) 0

/* ---- 8-bit rows ---------------------------------------------------------------------------
 * The 8-bit forms do a whole output row in two passes over a row buffer t: first the maximum
 * over the row's kh taps of every input column (64 at a time), stored at t[pad_l + w] with the
 * type's minimum (EMPTY) all around; then, since EMPTY loses to every real value and an
 * all-padding window gives EMPTY anyway, every output column is a plain maximum of its KW taps
 * in t, with no border cases. Stride 2 splits t into even and odd halves once, so each tap is
 * one unaligned load there. Integer maxima are exact, so this equals the generic loop. Rows
 * needing more than P8_CAP bytes of t, and strides above 2, take the generic loop. */
#define P8_CAP 4096

#define EVEN64                                                                                    \
  0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48,  \
      50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 78, 80, 82, 84, 86, 88, 90, 92, 94, \
      96, 98, 100, 102, 104, 106, 108, 110, 112, 114, 116, 118, 120, 122, 124, 126
#define ODD64                                                                                     \
  1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 43, 45, 47, 49,  \
      51, 53, 55, 57, 59, 61, 63, 65, 67, 69, 71, 73, 75, 77, 79, 81, 83, 85, 87, 89, 91, 93, 95, \
      97, 99, 101, 103, 105, 107, 109, 111, 113, 115, 117, 119, 121, 123, 125, 127

/* Vector helpers are macros (GNU statement expressions) so no 64-byte vector is passed by
 * value (see misc_impl.h). Loads and stores go through memcpy: unaligned vector moves. */
#define V8_LD(VT, p)                 \
  ({                                 \
    VT v8l_;                         \
    memcpy(&v8l_, (p), sizeof v8l_); \
    v8l_;                            \
  })
#define V8_ST(VT, p, v)              \
  ({                                 \
    const VT v8s_ = (v);             \
    memcpy((p), &v8s_, sizeof v8s_); \
  })
/* Lane-wise max through a compare mask (becomes vpmaxub / vpmaxsb). */
#define V8_MAX(VT, a, b)                  \
  ({                                      \
    const VT v8a_ = (a), v8b_ = (b);      \
    const VT v8m_ = (VT)(v8b_ > v8a_);    \
    (VT)((v8m_ & v8b_) | (~v8m_ & v8a_)); \
  })
#if defined(__clang__)
#define V8_EVEN(VT, a, b) __builtin_shufflevector((a), (b), EVEN64)
#define V8_ODD(VT, a, b) __builtin_shufflevector((a), (b), ODD64)
#else
#define V8_EVEN(VT, a, b) __builtin_shuffle((a), (b), (p8_idx){EVEN64})
#define V8_ODD(VT, a, b) __builtin_shuffle((a), (b), (p8_idx){ODD64})
#endif

typedef uint8_t p8_u8 __attribute__((vector_size(64)));
typedef int8_t p8_i8 __attribute__((vector_size(64)));
typedef uint8_t p8_idx __attribute__((vector_size(64)));

/* Returns 1 when it wrote output row yr (input plane xc, first input row sh, row taps
 * [h0, h1)), 0 to leave the row to the generic loop. */
#define DEFINE_ROW8(NAME, T, VT, EMPTY)                                                         \
  static int NAME(const sinter_k_pool_shape_t *s, const T *xc, T *yr, int64_t sh, int64_t h0,   \
                  int64_t h1) {                                                                 \
    const int64_t sw = s->stride_w, dw = s->dil_w, W = s->W, pl = s->pad_l, OW = s->OW;         \
    if (sw > 2 || pl < 0 || pl > P8_CAP || W > P8_CAP || OW > P8_CAP || s->KW > P8_CAP ||       \
        dw > P8_CAP)                                                                            \
      return 0;                                                                                 \
    const int64_t owr = (OW + 63) / 64 * 64, ext = (s->KW - 1) * dw;                            \
    int64_t need = sw == 1 ? owr + ext : 2 * (owr + ext / 2 + 1);                               \
    if (need < pl + W) need = pl + W;                                                           \
    need = (need + 127) / 128 * 128;                                                            \
    if (need > P8_CAP) return 0;                                                                \
    if (h1 <= h0) {                                                                             \
      memset(yr, (uint8_t)(EMPTY), (size_t)OW);                                                 \
      return 1;                                                                                 \
    }                                                                                           \
    T t[P8_CAP] __attribute__((aligned(64)));                                                   \
    memset(t, (uint8_t)(EMPTY), (size_t)pl);                                                    \
    memset(t + pl + W, (uint8_t)(EMPTY), (size_t)(need - pl - W));                              \
    const T *r0 = xc + (sh + h0 * s->dil_h) * W;                                                \
    const int64_t rs = s->dil_h * W;                                                            \
    if (W >= 64) {                                                                              \
      /* A short last block overlaps the previous one (same values again). */                   \
      for (int64_t w = 0; w < W; w += 64) {                                                     \
        const int64_t wc = w + 64 <= W ? w : W - 64;                                            \
        VT acc = V8_LD(VT, r0 + wc);                                                            \
        for (int64_t kh = 1; kh < h1 - h0; kh++)                                                \
          acc = V8_MAX(VT, acc, V8_LD(VT, r0 + kh * rs + wc));                                  \
        V8_ST(VT, t + pl + wc, acc);                                                            \
      }                                                                                         \
    } else {                                                                                    \
      for (int64_t w = 0; w < W; w++) {                                                         \
        T m = r0[w];                                                                            \
        for (int64_t kh = 1; kh < h1 - h0; kh++) m = r0[kh * rs + w] > m ? r0[kh * rs + w] : m; \
        t[pl + w] = m;                                                                          \
      }                                                                                         \
    }                                                                                           \
    const T *ev = t, *od = t;                                                                   \
    T eo[P8_CAP] __attribute__((aligned(64)));                                                  \
    if (sw == 2) {                                                                              \
      /* eo = even columns of t, then odd ones: tap offset o reads eo[o & 1 half] + o / 2. */   \
      const int64_t half = need / 2;                                                            \
      for (int64_t i = 0; i < need; i += 128) {                                                 \
        VT a = V8_LD(VT, t + i), b = V8_LD(VT, t + i + 64);                                     \
        V8_ST(VT, eo + i / 2, V8_EVEN(VT, a, b));                                               \
        V8_ST(VT, eo + half + i / 2, V8_ODD(VT, a, b));                                         \
      }                                                                                         \
      ev = eo;                                                                                  \
      od = eo + half;                                                                           \
    }                                                                                           \
    T last[64];                                                                                 \
    for (int64_t cb = 0; cb < OW; cb += 64) {                                                   \
      VT acc = V8_LD(VT, ev + cb);                                                              \
      for (int64_t kw = 1; kw < s->KW; kw++) {                                                  \
        const int64_t o = kw * dw;                                                              \
        const T *src = sw == 1 ? t + o : ((o & 1) ? od : ev) + (o >> 1);                        \
        acc = V8_MAX(VT, acc, V8_LD(VT, src + cb));                                             \
      }                                                                                         \
      if (OW - cb >= 64) {                                                                      \
        V8_ST(VT, yr + cb, acc);                                                                \
      } else {                                                                                  \
        V8_ST(VT, last, acc);                                                                   \
        memcpy(yr + cb, last, (size_t)(OW - cb));                                               \
      }                                                                                         \
    }                                                                                           \
    return 1;                                                                                   \
  }

DEFINE_ROW8(row8_u8, uint8_t, p8_u8, 0)
DEFINE_ROW8(row8_i8, int8_t, p8_i8, INT8_MIN)

DEFINE_MAXPOOL(sinter_k_maxpool2d_f32, float, -INFINITY, max_block_f32, NO_FASTROW)
DEFINE_MAXPOOL(sinter_k_maxpool2d_u8, uint8_t, 0, NO_VBLOCK, row8_u8)
DEFINE_MAXPOOL(sinter_k_maxpool2d_i8, int8_t, INT8_MIN, NO_VBLOCK, row8_i8)

/* Taps of one dim counted for count_include_pad: those below in + pad_end
 * (padding counts, the ceil_mode overhang past it does not). */
static inline int64_t taps_padded(int64_t start, int64_t k, int64_t d, int64_t limit) {
  if (start >= limit) return 0;
  int64_t n = (limit - 1 - start) / d + 1;
  return n < k ? n : k;
}

#define AVG_BLOCK(N)                                             \
  do {                                                           \
    float acc[16];                                               \
    for (int64_t i = 0; i < (N); i++) acc[i] = 0.0f;             \
    for (int64_t kh = h0; kh < h1; kh++) {                       \
      const float *xr = xb + (sh + kh * s->dil_h) * s->W;        \
      for (int64_t kw = 0; kw < s->KW; kw++) {                   \
        const float *xt = xr + kw * dw;                          \
        for (int64_t i = 0; i < (N); i++) acc[i] += xt[i * sw];  \
      }                                                          \
    }                                                            \
    for (int64_t i = 0; i < (N); i++) yr[cb + i] = acc[i] / div; \
  } while (0)

/* Average pooling: sums in f32 in (kh, kw) order, divided by the count. */
static void avgpool_rows(const sinter_k_pool_shape_t *s, const float *x, float *y, int64_t rb,
                         int64_t re) {
  int64_t ow0, ow1;
  interior_cols(s, &ow0, &ow1);
  const int64_t sw = s->stride_w, dw = s->dil_w;
  for (int64_t r = rb; r < re; r++) {
    int64_t c = r / s->OH, oh = r % s->OH;
    const float *xc = x + c * s->H * s->W;
    float *yr = y + r * s->OW;
    int64_t sh = oh * s->stride_h - s->pad_t, h0, h1;
    tap_range(sh, s->KH, s->dil_h, s->H, &h0, &h1);
    int64_t cnt_h =
        s->count_include_pad ? taps_padded(sh, s->KH, s->dil_h, s->H + s->pad_b) : h1 - h0;
    for (int64_t ow = 0; ow < s->OW; ow++) {
      if (ow == ow0 && ow1 > ow0 && h1 > h0) {
        ow = ow1 - 1;
        continue;
      }
      int64_t sw0 = ow * sw - s->pad_l, w0, w1;
      tap_range(sw0, s->KW, dw, s->W, &w0, &w1);
      float acc = 0.0f;
      for (int64_t kh = h0; kh < h1; kh++) {
        const float *xr = xc + (sh + kh * s->dil_h) * s->W + sw0;
        for (int64_t kw = w0; kw < w1; kw++) acc += xr[kw * dw];
      }
      int64_t cnt_w = s->count_include_pad ? taps_padded(sw0, s->KW, dw, s->W + s->pad_r) : w1 - w0;
      int64_t cnt = cnt_h * cnt_w;
      yr[ow] = cnt > 0 ? acc / (float)cnt : 0.0f;
    }
    if (h1 <= h0) continue;
    /* Interior columns all count KW taps (padding or not, they are real), 16 at
     * a time with the sums in registers. */
    float div = (float)(cnt_h * s->KW);
    for (int64_t cb = ow0; cb < ow1; cb += 16) {
      if (ow1 - cb < 16 && ow1 - ow0 >= 16) cb = ow1 - 16; /* overlap, as in max pooling */
      int64_t n = ow1 - cb < 16 ? ow1 - cb : 16;
      const float *xb = xc + cb * sw - s->pad_l;
      if (n == 16) {
        km_v16f acc = km_splat(0.0f);
        for (int64_t kh = h0; kh < h1; kh++) {
          const float *xr = xb + (sh + kh * s->dil_h) * s->W;
          for (int64_t kw = 0; kw < s->KW; kw++) acc += load_strided(xr + kw * dw, sw);
        }
        km_store(yr + cb, acc / km_splat(div));
      } else {
        AVG_BLOCK(n);
      }
    }
  }
}

static void avgpool_task(void *ctx, int64_t rb, int64_t re) {
  const pool_ctx_t *c = ctx;
  avgpool_rows(c->s, c->x, c->y, rb, re);
}

void sinter_k_avgpool2d_f32(const sinter_k_pool_shape_t *s, const float *x, float *y,
                            const sinter_art_exec_t *exec) {
  int64_t rows = s->C * s->OH;
  if (rows <= 0 || s->OW <= 0) return;
  if (!exec || exec->num_threads <= 1) {
    avgpool_rows(s, x, y, 0, rows);
    return;
  }
  pool_ctx_t c = {s, x, y};
  km_run(exec, rows, km_grain(s->OW * s->KH * s->KW), avgpool_task, &c);
}

/* ---- global average ---------------------------------------------------------------------- */

typedef struct gap_ctx_s {
  int64_t HW;
  const float *x;
  float *y;
} gap_ctx_t;

/* Sum of n floats in 16 lanes (two accumulators to hide add latency),
 * reduced in double: the error stays within about n/32 ulp of sum |x|. */
static inline double row_sum(const float *x, int64_t n) {
  km_v16f a0 = km_splat(0.0f), a1 = km_splat(0.0f);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 += km_load(x + i);
    a1 += km_load(x + i + 16);
  }
  if (i + 16 <= n) {
    a0 += km_load(x + i);
    i += 16;
  }
  if (i < n) a1 += km_load_part(x + i, n - i, 0.0f);
  return km_hsum(a0 + a1);
}

static void gap_task(void *ctx, int64_t cb, int64_t ce) {
  const gap_ctx_t *g = ctx;
  for (int64_t c = cb; c < ce; c++)
    g->y[c] = (float)(row_sum(g->x + c * g->HW, g->HW) / (double)g->HW);
}

void sinter_k_global_avgpool_f32(int64_t C, int64_t HW, const float *x, float *y,
                                 const sinter_art_exec_t *exec) {
  if (C <= 0) return;
  if (HW <= 0) {
    for (int64_t c = 0; c < C; c++) y[c] = NAN; /* the mean of nothing, as the interpreter */
    return;
  }
  gap_ctx_t g = {HW, x, y};
  km_run(exec, C, km_grain(HW), gap_task, &g);
}
