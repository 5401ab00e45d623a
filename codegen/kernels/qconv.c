/* Requantized int8 2-D convolution (QLinearConvAct) of one NCHW image: im2col
 * of the activations into VNNI column panels in scratch, then the int8 tile of
 * qimpl.h with the packed weights broadcast per output channel; depthwise
 * convolutions take a direct path. Portable and AVX512-VNNI give identical
 * bytes. */
#include "qimpl.h"

/* Packed weights. kind GEMM: this header, int32 corr[mp] (bias and the zero-
 * point terms that do not depend on x), int32 wzp[mp], then per group and per
 * block of QMR output channels kg groups of QMR rows x 4 bytes (row i's 4 k of
 * group g at (g * QMR + i) * 4), zero-padded. kind DW (group == C == M):
 * int32 bias[M], then int32 (w - w_zp[m]) [M][KH * KW]. */
typedef struct qconv_hdr_s {
  int64_t kind, M, mg, group, kt, kg, nmb, mp;
} qconv_hdr_t;
enum { QHDR = 64, KIND_GEMM = 1, KIND_DW = 2 };

static int is_dw(const sinter_k_conv_shape_t *s) {
  return s->group == s->C && s->group == s->M && s->group > 1;
}

static void layout(const sinter_k_conv_shape_t *s, qconv_hdr_t *h) {
  memset(h, 0, sizeof(*h));
  h->kind = is_dw(s) ? KIND_DW : KIND_GEMM;
  h->M = s->M;
  h->group = s->group;
  h->mg = s->M / s->group;
  h->kt = s->C / s->group * s->KH * s->KW;
  h->kg = (h->kt + 3) / 4;
  h->nmb = (h->mg + QMR - 1) / QMR;
  h->mp = qround_up(s->M, 16);
}

size_t sinter_k_qconv2d_packed_size(const sinter_k_conv_shape_t *s) {
  qconv_hdr_t h;
  layout(s, &h);
  if (h.kind == KIND_DW) return (size_t)QHDR + (size_t)h.M * 4 * (size_t)(1 + s->KH * s->KW);
  return (size_t)QHDR + (size_t)h.mp * 8 + (size_t)h.group * h.nmb * h.kg * QMR * 4;
}

/* corr[m] = bias[m] - xz * sum_k w[m][k] + kt * xz * wzp[m] with xz the zero
 * point of x as u8 (i8 x is read XOR 0x80), so acc = sum_k x_u w + corr[m] -
 * wzp[m] * sum_k x_u, all wrapping. */
void sinter_k_qconv2d_pack(const sinter_k_conv_shape_t *s, const int8_t *w, const int32_t *w_zp,
                           const int32_t *bias, int32_t x_zp, int32_t x_signed, void *packed) {
  qconv_hdr_t h;
  layout(s, &h);
  uint8_t *base = packed;
  memset(base, 0, sinter_k_qconv2d_packed_size(s));
  memcpy(base, &h, sizeof(h));
  int32_t *corr = (int32_t *)(void *)(base + QHDR);
  if (h.kind == KIND_DW) {
    int64_t taps = s->KH * s->KW;
    int32_t *wv = corr + h.M;
    for (int64_t m = 0; m < h.M; m++) {
      corr[m] = bias ? bias[m] : 0;
      for (int64_t t = 0; t < taps; t++)
        wv[m * taps + t] = (int32_t)w[m * taps + t] - (w_zp ? w_zp[m] : 0);
    }
    return;
  }
  int32_t *wzp = corr + h.mp;
  uint8_t *blocks = (uint8_t *)(wzp + h.mp);
  uint32_t xz = (uint32_t)x_zp + (x_signed ? 128u : 0u);
  for (int64_t m = 0; m < h.M; m++) {
    int64_t g = m / h.mg, mi = m % h.mg, mb = mi / QMR, i = mi % QMR;
    uint8_t *blk = blocks + (g * h.nmb + mb) * h.kg * QMR * 4;
    uint32_t sum = 0, z = w_zp ? (uint32_t)w_zp[m] : 0;
    for (int64_t k = 0; k < h.kt; k++) {
      int8_t v = w[m * h.kt + k];
      sum += (uint32_t)(int32_t)v;
      blk[((k / 4) * QMR + i) * 4 + k % 4] = (uint8_t)v;
    }
    corr[m] = (int32_t)((bias ? (uint32_t)bias[m] : 0u) - xz * sum + (uint32_t)h.kt * xz * z);
    wzp[m] = (int32_t)z;
  }
}

/* Column panels of im2col (panels of 16 pixels, kg groups of 64 bytes) and
 * the per-pixel sums of x as u8 that nonzero weight zero points need. */
static size_t col_bytes(const sinter_k_conv_shape_t *s, const qconv_hdr_t *h) {
  int64_t pp = qround_up(s->OH * s->OW, 16);
  return (size_t)(pp / 16) * (size_t)h->kg * 64;
}

size_t sinter_k_qconv2d_scratch_size(const sinter_k_conv_shape_t *s) {
  qconv_hdr_t h;
  layout(s, &h);
  if (h.kind == KIND_DW) return 0;
  int64_t pp = qround_up(s->OH * s->OW, 16);
  return qround_up((int64_t)col_bytes(s, &h), 64) + (size_t)pp * 4;
}

typedef struct qconv_ctx_s {
  const sinter_k_conv_shape_t *s;
  qconv_hdr_t h;
  const uint8_t *x;
  uint8_t xor8, xz8;
  int32_t xzp;
  int64_t g; /* the group being computed (GEMM kind) */
  const int32_t *corr, *wzp, *dww;
  const uint8_t *blocks;
  int32_t has_wzp, mult_finite, yzp, lo, hi;
  const float *mult;
  uint8_t *y, *col;
  int32_t *colsum;
  int64_t OS, nrb;
} qconv_ctx_t;

/* One im2col row: k = (ci, kh, kw) of group c->g at output row oh, output
 * columns [ow0, ow0 + n), as u8 (padding reads the zero point; k >= kt, the
 * tail of the last group, reads 0). */
static void im2col_row(const qconv_ctx_t *c, int64_t k, int64_t oh, int64_t ow0, int64_t n,
                       uint8_t *r) {
  const sinter_k_conv_shape_t *s = c->s;
  if (k >= c->h.kt) {
    memset(r, 0, (size_t)n);
    return;
  }
  int64_t taps = s->KH * s->KW, ci = k / taps, kh = k / s->KW % s->KH, kw = k % s->KW;
  int64_t ih = oh * s->stride_h - s->pad_t + kh * s->dil_h;
  if (ih < 0 || ih >= s->H) {
    memset(r, c->xz8, (size_t)n);
    return;
  }
  const uint8_t *xr = c->x + ((c->g * (s->C / s->group) + ci) * s->H + ih) * s->W;
  int64_t off = kw * s->dil_w - s->pad_l, sw = s->stride_w;
  /* valid q: 0 <= (ow0 + q) * sw + off < W */
  int64_t qa = 0, qb = n;
  while (qa < n && (ow0 + qa) * sw + off < 0) qa++;
  while (qb > qa && (ow0 + qb - 1) * sw + off >= s->W) qb--;
  memset(r, c->xz8, (size_t)qa);
  const uint8_t *xs = xr + ow0 * sw + off;
  uint8_t xo = c->xor8;
  if (sw == 1)
    for (int64_t q = qa; q < qb; q++) r[q] = xs[q] ^ xo;
  else
    for (int64_t q = qa; q < qb; q++) r[q] = xs[q * sw] ^ xo;
  memset(r + qb, c->xz8, (size_t)(n - qb));
}

/* Fills k groups [begin, end) of every column panel for group c->g: pixel p
 * and k go to col[(p / 16) * kg * 64 + (k / 4) * 64 + (p % 16) * 4 + k % 4].
 * Four im2col rows are interleaved into 4-byte words, one per pixel, stored
 * in runs that stay inside one panel so the loops vectorize. */
static void im2col_task(void *vc, int64_t begin, int64_t end) {
  const qconv_ctx_t *c = vc;
  const sinter_k_conv_shape_t *s = c->s;
  enum { CH = 256 };
  uint8_t rows[4][CH];
  int64_t kg = c->h.kg, OW = s->OW;
  for (int64_t g = begin; g < end; g++) {
    for (int64_t oh = 0; oh < s->OH; oh++) {
      for (int64_t ow0 = 0; ow0 < OW; ow0 += CH) {
        int64_t n = qmin64(CH, OW - ow0);
        for (int i = 0; i < 4; i++) im2col_row(c, g * 4 + i, oh, ow0, n, rows[i]);
        for (int64_t q0 = 0; q0 < n;) {
          int64_t p = oh * OW + ow0 + q0, run = qmin64(n - q0, 16 - p % 16);
          uint8_t *d = c->col + (p / 16) * kg * 64 + g * 64 + (p % 16) * 4;
          for (int64_t q = 0; q < run; q++) {
            uint32_t v = (uint32_t)rows[0][q0 + q] | (uint32_t)rows[1][q0 + q] << 8 |
                         (uint32_t)rows[2][q0 + q] << 16 | (uint32_t)rows[3][q0 + q] << 24;
            memcpy(d + q * 4, &v, 4);
          }
          q0 += run;
        }
      }
    }
    /* Pixels past OS in the last panel: zeros, so no garbage reaches a sum. */
    int64_t OS = c->OS, pp = qround_up(OS, 16);
    for (int64_t p = OS; p < pp; p++)
      memset(c->col + (p / 16) * kg * 64 + g * 64 + (p % 16) * 4, 0, 4);
  }
}

/* Per-pixel sums of the im2col bytes over the kt real k, for nonzero weight zero points. */
static void colsum_task(void *vc, int64_t begin, int64_t end) {
  const qconv_ctx_t *c = vc;
  int64_t kg = c->h.kg, kt = c->h.kt;
  for (int64_t pn = begin; pn < end; pn++) {
    const uint8_t *pan = c->col + pn * kg * 64;
    for (int64_t q = 0; q < 16; q++) {
      uint32_t sum = 0;
      for (int64_t k = 0; k < kt; k++) sum += pan[(k / 4) * 64 + q * 4 + k % 4];
      c->colsum[pn * 16 + q] = (int32_t)sum;
    }
  }
}

/* Tile i of group c->g: pixel group i / nrb (QNR pixels) major, so a run of
 * tasks reuses one group of column panels. */
static inline void make_tile(const qconv_ctx_t *c, int64_t i, qtile_t *t, int *mr, int *nv) {
  int64_t rb = i % c->nrb, pg = i / c->nrb;
  int64_t mi0 = rb * QMR, m0 = c->g * c->h.mg + mi0, p0 = pg * QNR;
  *mr = (int)qmin64(QMR, c->h.mg - mi0);
  *nv = (int)qmin64(QNV, (c->OS - p0 + 15) / 16);
  t->kg = c->h.kg;
  t->r = c->blocks + (c->g * c->h.nmb + rb) * c->h.kg * QMR * 4;
  t->r_rs = 4;
  t->r_gs = QMR * 4;
  t->r_xor = 0;
  t->r_tail = 0;
  t->v = c->col + (p0 / 16) * c->h.kg * 64;
  t->v_ps = c->h.kg * 64;
  t->radd = c->corr + m0;
  t->cadd = NULL;
  t->rmul = c->has_wzp ? c->wzp + m0 : NULL;
  t->cmul = c->has_wzp ? c->colsum + p0 : NULL;
  t->mult = c->mult + m0;
  t->mult_rows = 1;
  t->mult_finite = c->mult_finite;
  t->yzp = c->yzp;
  t->lo = c->lo;
  t->hi = c->hi;
  t->y = c->y + m0 * c->OS + p0;
  t->ldy = c->OS;
  t->ncols = c->OS - p0;
}

static void portable_task(void *vc, int64_t begin, int64_t end) {
  const qconv_ctx_t *c = vc;
  for (int64_t i = begin; i < end; i++) {
    qtile_t t;
    int mr, nv;
    make_tile(c, i, &t, &mr, &nv);
    QTILE_DISPATCH(portable_tile, &t, mr, nv, 1);
  }
}

/* Depthwise: acc[m][p] = bias[m] + sum over the taps inside the image of
 * (x - x_zp) (w - w_zp[m]); taps in the padding add (x_zp - x_zp) * w = 0. */
static void dw_task(void *vc, int64_t begin, int64_t end) {
  const qconv_ctx_t *c = vc;
  const sinter_k_conv_shape_t *s = c->s;
  int64_t taps = s->KH * s->KW, OW = s->OW;
  int32_t xz = c->xzp;
  enum { CH = 256 };
  uint32_t acc[CH];
  for (int64_t m = begin; m < end; m++) {
    const uint8_t *xc = c->x + m * s->H * s->W;
    const int32_t *wm = c->dww + m * taps;
    for (int64_t oh = 0; oh < s->OH; oh++) {
      for (int64_t ow0 = 0; ow0 < OW; ow0 += CH) {
        int64_t n = qmin64(CH, OW - ow0);
        for (int64_t q = 0; q < n; q++) acc[q] = (uint32_t)c->corr[m];
        for (int64_t kh = 0; kh < s->KH; kh++) {
          int64_t ih = oh * s->stride_h - s->pad_t + kh * s->dil_h;
          if (ih < 0 || ih >= s->H) continue;
          const uint8_t *xr = xc + ih * s->W;
          for (int64_t kw = 0; kw < s->KW; kw++) {
            uint32_t wv = (uint32_t)wm[kh * s->KW + kw];
            int64_t off = kw * s->dil_w - s->pad_l;
            /* valid q: 0 <= (ow0 + q) * stride_w + off < W */
            int64_t qa = 0, qb = n;
            while (qa < n && (ow0 + qa) * s->stride_w + off < 0) qa++;
            while (qb > qa && (ow0 + qb - 1) * s->stride_w + off >= s->W) qb--;
            if (c->xor8) {
              for (int64_t q = qa; q < qb; q++)
                acc[q] += wv * (uint32_t)((int32_t)(int8_t)xr[(ow0 + q) * s->stride_w + off] - xz);
            } else {
              for (int64_t q = qa; q < qb; q++)
                acc[q] += wv * (uint32_t)((int32_t)xr[(ow0 + q) * s->stride_w + off] - xz);
            }
          }
        }
        uint8_t *yr = c->y + (m * s->OH + oh) * OW + ow0;
        /* Locals: stores to bytes could alias the context, blocking vectorization. */
        float mm = c->mult[m];
        int32_t yzp = c->yzp, lo = c->lo, hi = c->hi;
        for (int64_t q = 0; q < n; q++) yr[q] = (uint8_t)qrequant((int32_t)acc[q], mm, yzp, lo, hi);
      }
    }
  }
}

static int all_finite(int64_t n, const float *m) {
  int ok = 1;
  for (int64_t i = 0; i < n; i++) ok &= (m[i] - m[i] == 0.0f);
  return ok;
}

static void init_ctx(qconv_ctx_t *c, const sinter_k_conv_shape_t *s, const void *x,
                     int32_t x_signed, int32_t x_zp, const void *wp, const float *mult,
                     int32_t y_zp, int32_t qmin, int32_t qmax, void *y, void *scratch) {
  memset(c, 0, sizeof(*c));
  c->s = s;
  memcpy(&c->h, wp, sizeof(c->h));
  c->x = x;
  c->xor8 = x_signed ? 0x80 : 0;
  c->xz8 = (uint8_t)((uint8_t)x_zp ^ c->xor8);
  c->xzp = x_zp;
  c->corr = (const int32_t *)(const void *)((const uint8_t *)wp + QHDR);
  c->mult = mult;
  c->mult_finite = all_finite(s->M, mult);
  c->yzp = y_zp;
  c->lo = qmin;
  c->hi = qmax;
  c->y = y;
  c->OS = s->OH * s->OW;
  if (c->h.kind == KIND_DW) {
    c->dww = c->corr + c->h.M;
    return;
  }
  c->wzp = c->corr + c->h.mp;
  c->blocks = (const uint8_t *)(c->wzp + c->h.mp);
  for (int64_t m = 0; m < s->M; m++) c->has_wzp |= c->wzp[m] != 0;
  c->col = scratch;
  c->colsum = (int32_t *)(void *)(c->col + qround_up((int64_t)col_bytes(s, &c->h), 64));
  c->nrb = c->h.nmb;
}

static void par(const sinter_art_exec_t *exec, int64_t n, sinter_art_task_fn fn, void *ctx) {
  if (n <= 0) return;
  if (exec && exec->num_threads > 1)
    exec->parallel_for(exec, n, 1, fn, ctx);
  else
    fn(ctx, 0, n);
}

static void run(qconv_ctx_t *c, sinter_art_task_fn gemm_task, const sinter_art_exec_t *exec) {
  if (c->h.kind == KIND_DW) {
    par(exec, c->h.M, dw_task, c);
    return;
  }
  int64_t npan = (c->OS + 15) / 16, ntiles = c->nrb * ((c->OS + QNR - 1) / QNR);
  for (c->g = 0; c->g < c->h.group; c->g++) {
    par(exec, c->h.kg, im2col_task, c);
    if (c->has_wzp) par(exec, npan, colsum_task, c);
    par(exec, ntiles, gemm_task, c);
  }
}

void sinter_k_qconv2d(const sinter_k_conv_shape_t *s, const void *x, int32_t x_signed, int32_t x_zp,
                      const void *wp, const float *mult, int32_t y_zp, int32_t qmin, int32_t qmax,
                      void *y, int32_t y_signed, void *scratch, const sinter_art_exec_t *exec) {
  (void)y_signed; /* qmin/qmax carry the range; the low byte is the value */
  qconv_ctx_t c;
  init_ctx(&c, s, x, x_signed, x_zp, wp, mult, y_zp, qmin, qmax, y, scratch);
  run(&c, portable_task, exec);
}

#if defined(__x86_64__)
static QVNNI_TARGET void vnni_tile_any(const qtile_t *t, int mr, int nv) {
  QTILE_DISPATCH(vnni_tile, t, mr, nv, 1);
}

static QVNNI_TARGET void vnni_task(void *vc, int64_t begin, int64_t end) {
  const qconv_ctx_t *c = vc;
  for (int64_t i = begin; i < end; i++) {
    qtile_t t;
    int mr, nv;
    make_tile(c, i, &t, &mr, &nv);
    vnni_tile_any(&t, mr, nv);
  }
}

QVNNI_TARGET void sinter_k_qconv2d_vnni(const sinter_k_conv_shape_t *s, const void *x,
                                        int32_t x_signed, int32_t x_zp, const void *wp,
                                        const float *mult, int32_t y_zp, int32_t qmin, int32_t qmax,
                                        void *y, int32_t y_signed, void *scratch,
                                        const sinter_art_exec_t *exec) {
  (void)y_signed;
  qconv_ctx_t c;
  init_ctx(&c, s, x, x_signed, x_zp, wp, mult, y_zp, qmin, qmax, y, scratch);
  run(&c, vnni_task, exec);
}
#else
void sinter_k_qconv2d_vnni(const sinter_k_conv_shape_t *s, const void *x, int32_t x_signed,
                           int32_t x_zp, const void *wp, const float *mult, int32_t y_zp,
                           int32_t qmin, int32_t qmax, void *y, int32_t y_signed, void *scratch,
                           const sinter_art_exec_t *exec) {
  sinter_k_qconv2d(s, x, x_signed, x_zp, wp, mult, y_zp, qmin, qmax, y, y_signed, scratch, exec);
}
#endif
