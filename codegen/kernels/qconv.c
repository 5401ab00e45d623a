/* Requantized int8 2-D convolution (QLinearConvAct) of one NCHW image as an
 * implicit GEMM: the input is rewritten once into planes of 4 interleaved
 * channels (one 4-byte VNNI group per pixel), padded with the zero point and
 * split into stride phases, so that for every tap 16 consecutive output
 * pixels read 64 consecutive bytes and the int8 tile of qimpl.h runs on the
 * input directly, without im2col. Depthwise convolutions take a direct path.
 * Portable and AVX512-VNNI give identical bytes. */
#include "qimpl.h"

/* Packed weights. kind GEMM: this header, int32 corr[mp] (bias and the zero-
 * point terms that do not depend on x), int32 wzp[mp], then per group and per
 * block of QMR output channels kg = taps * nc4 groups of QMR rows x 4 bytes:
 * group tp * nc4 + c4 holds channels 4 c4 .. 4 c4 + 3 of tap tp = kh * KW + kw
 * (row i's bytes at (g * QMR + i) * 4), zero beyond the group's channels.
 * kind DW (group == C == M): int32 bias[M], then int32 (w - w_zp[m]) [M][KH * KW]. */
typedef struct qconv_hdr_s {
  int64_t kind, M, mg, group, cg, nc4, taps, kt, kg, nmb, mp;
} qconv_hdr_t;
enum { QHDR = 128, KIND_GEMM = 1, KIND_DW = 2 };

static int is_dw(const sinter_k_conv_shape_t *s) {
  return s->group == s->C && s->group == s->M && s->group > 1;
}

static void layout(const sinter_k_conv_shape_t *s, qconv_hdr_t *h) {
  memset(h, 0, sizeof(*h));
  h->kind = is_dw(s) ? KIND_DW : KIND_GEMM;
  h->M = s->M;
  h->group = s->group;
  h->mg = s->M / s->group;
  h->cg = s->C / s->group;
  h->nc4 = (h->cg + 3) / 4;
  h->taps = s->KH * s->KW;
  h->kt = h->cg * h->taps;
  h->kg = h->taps * h->nc4;
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
    for (int64_t ci = 0; ci < h.cg; ci++)
      for (int64_t tp = 0; tp < h.taps; tp++) {
        int8_t v = w[(m * h.cg + ci) * h.taps + tp];
        sum += (uint32_t)(int32_t)v;
        blk[((tp * h.nc4 + ci / 4) * QMR + i) * 4 + ci % 4] = (uint8_t)v;
      }
    corr[m] = (int32_t)((bias ? (uint32_t)bias[m] : 0u) - xz * sum + (uint32_t)h.kt * xz * z);
    wzp[m] = (int32_t)z;
  }
}

/* Where the interleaved input lives. The padded image (Hp x Wp) is split
 * into stride phases (a, b): phase plane [i][j] is padded pixel (i sh + a,
 * j sw + b); only the phases some tap reads exist (na x nb of them, phase
 * values in pa[], pb[]). Output pixel (oh, ow) is q = oh * ws + ow, and tap
 * (kh, kw) reads word q + (kh dh / sh) * ws + kw dw / sw of plane (phase of
 * (kh dh % sh, kw dw % sw), c4), so 16 consecutive q are 64 consecutive
 * bytes; the q with ow >= OW are computed and dropped. */
typedef struct qgeo_s {
  int64_t na, nb, hs, ws, plane, nplanes, qn, qpad, xbytes, colsum_off, tap_off, pa_off, pb_off;
  int64_t total;
} qgeo_t;

static int64_t phase_list(int64_t k, int64_t d, int64_t st, int64_t *out) {
  int64_t n = 0;
  for (int64_t i = 0; i < k; i++) {
    int64_t a = i * d % st, seen = 0;
    for (int64_t j = 0; j < n; j++) seen |= out[j] == a;
    if (!seen) out[n++] = a;
  }
  return n;
}

static int64_t phase_index(const int64_t *list, int64_t n, int64_t a) {
  for (int64_t j = 0; j < n; j++)
    if (list[j] == a) return j;
  return 0;
}

/* How many distinct i d % st for i < k (phase_list's length), without storage. */
static int64_t phase_count(int64_t k, int64_t d, int64_t st) {
  int64_t n = 0;
  for (int64_t i = 0; i < k; i++) {
    int64_t seen = 0;
    for (int64_t j = 0; j < i; j++) seen |= j * d % st == i * d % st;
    n += !seen;
  }
  return n;
}

static void geometry(const sinter_k_conv_shape_t *s, const qconv_hdr_t *h, qgeo_t *g) {
  int64_t hp = s->H + s->pad_t + s->pad_b, wp = s->W + s->pad_l + s->pad_r;
  g->hs = (hp + s->stride_h - 1) / s->stride_h;
  g->ws = (wp + s->stride_w - 1) / s->stride_w;
  g->na = phase_count(s->KH, s->dil_h, s->stride_h);
  g->nb = phase_count(s->KW, s->dil_w, s->stride_w);
  g->plane = g->hs * g->ws * 4;
  g->nplanes = g->na * g->nb * h->nc4;
  g->qn = s->OH * g->ws;
  g->qpad = qround_up(g->qn, QNR);
  int64_t maxoff = (s->KH - 1) * s->dil_h / s->stride_h * g->ws + (s->KW - 1) * s->dil_w / s->stride_w;
  int64_t slack = g->qpad + maxoff - g->hs * g->ws;
  if (slack < 0) slack = 0;
  g->xbytes = g->nplanes * g->plane + (slack + 16) * 4;
  g->colsum_off = qround_up(g->xbytes, 64);
  g->tap_off = g->colsum_off + qround_up(g->qpad * 4, 64);
  g->pa_off = g->tap_off + h->taps * 8;
  g->pb_off = g->pa_off + qmin64(s->KH, s->stride_h) * 8;
  g->total = g->pb_off + qmin64(s->KW, s->stride_w) * 8;
}

size_t sinter_k_qconv2d_scratch_size(const sinter_k_conv_shape_t *s) {
  qconv_hdr_t h;
  layout(s, &h);
  if (h.kind == KIND_DW) return 0;
  qgeo_t g;
  geometry(s, &h, &g);
  return (size_t)g.total;
}

typedef struct qconv_ctx_s {
  const sinter_k_conv_shape_t *s;
  qconv_hdr_t h;
  qgeo_t geo;
  const uint8_t *x;
  uint8_t xor8, xz8;
  int32_t xzp;
  int64_t g; /* the group being computed (GEMM kind) */
  const int32_t *corr, *wzp, *dww;
  const uint8_t *blocks;
  int32_t has_wzp, mult_finite, yzp, lo, hi;
  const float *mult;
  uint8_t *y, *xb;
  int32_t *colsum;
  int64_t *tapoff, *pa, *pb;
  int64_t OS, nrb;
} qconv_ctx_t;

static inline void put4(uint8_t *d, uint32_t v) {
  memcpy(d, &v, 4);
}

/* Writes interleaved plane `it` (phase it / nc4, channel quad it % nc4) of
 * group c->g: channel bytes XORed to u8, padding the zero point, channels
 * past the group 0 (their weights are 0). */
static void pack_x_task(void *vc, int64_t begin, int64_t end) {
  const qconv_ctx_t *c = vc;
  const sinter_k_conv_shape_t *s = c->s;
  const qgeo_t *g = &c->geo;
  int64_t nc4 = c->h.nc4, H = s->H, W = s->W, ws = g->ws, sw = s->stride_w;
  for (int64_t it = begin; it < end; it++) {
    int64_t ph = it / nc4, c4 = it % nc4;
    int64_t a = c->pa[ph / g->nb], b = c->pb[ph % g->nb];
    int64_t nreal = qmin64(4, c->h.cg - c4 * 4);
    uint32_t mask = nreal >= 4 ? 0xffffffffu : (1u << (8 * nreal)) - 1;
    uint32_t xr = 0x80808080u * (c->xor8 != 0);
    uint32_t xzw = (0x01010101u * c->xz8) & mask;
    const uint8_t *src[4];
    for (int64_t k = 0; k < 4; k++)
      src[k] = c->x + (c->g * c->h.cg + c4 * 4 + (k < nreal ? k : 0)) * H * W;
    uint8_t *pl = c->xb + it * g->plane;
    /* valid j: 0 <= j sw + b - pad_l < W */
    int64_t lo = s->pad_l - b, ja = lo <= 0 ? 0 : (lo + sw - 1) / sw;
    int64_t hi = W - 1 + s->pad_l - b, jb = hi < 0 ? 0 : qmin64(ws, hi / sw + 1);
    if (jb < ja) jb = ja;
    if (ja > ws) ja = jb = ws;
    for (int64_t i = 0; i < g->hs; i++) {
      uint8_t *d = pl + i * ws * 4;
      int64_t ih = i * s->stride_h + a - s->pad_t;
      if (ih < 0 || ih >= H) {
        for (int64_t j = 0; j < ws; j++) put4(d + j * 4, xzw);
        continue;
      }
      for (int64_t j = 0; j < ja; j++) put4(d + j * 4, xzw);
      for (int64_t j = jb; j < ws; j++) put4(d + j * 4, xzw);
      int64_t iw0 = ja * sw + b - s->pad_l, n = jb - ja;
      const uint8_t *r0 = src[0] + ih * W + iw0, *r1 = src[1] + ih * W + iw0;
      const uint8_t *r2 = src[2] + ih * W + iw0, *r3 = src[3] + ih * W + iw0;
      uint8_t *dd = d + ja * 4;
      if (sw == 1) {
        for (int64_t j = 0; j < n; j++)
          put4(dd + j * 4, ((r0[j] | (uint32_t)r1[j] << 8 | (uint32_t)r2[j] << 16 |
                             (uint32_t)r3[j] << 24) ^ xr) & mask);
      } else if (sw == 2) {
        for (int64_t j = 0; j < n; j++)
          put4(dd + j * 4, ((r0[2 * j] | (uint32_t)r1[2 * j] << 8 | (uint32_t)r2[2 * j] << 16 |
                             (uint32_t)r3[2 * j] << 24) ^ xr) & mask);
      } else {
        for (int64_t j = 0; j < n; j++)
          put4(dd + j * 4, ((r0[j * sw] | (uint32_t)r1[j * sw] << 8 |
                             (uint32_t)r2[j * sw] << 16 | (uint32_t)r3[j * sw] << 24) ^ xr) & mask);
      }
    }
  }
}

/* Per-pixel sums of x as u8 over the kt real k (padding counts as the zero
 * point), for nonzero weight zero points; 0 for dropped pixels. */
static void colsum_task(void *vc, int64_t begin, int64_t end) {
  const qconv_ctx_t *c = vc;
  const qgeo_t *g = &c->geo;
  for (int64_t q = begin * 16; q < end * 16; q++) {
    uint32_t sum = 0;
    if (q < g->qn && q % g->ws < c->s->OW) {
      for (int64_t tp = 0; tp < c->h.taps; tp++)
        for (int64_t ci = 0; ci < c->h.cg; ci++)
          sum += c->xb[c->tapoff[tp] + (ci / 4) * g->plane + q * 4 + ci % 4];
    }
    c->colsum[q] = (int32_t)sum;
  }
}

/* Tile i of group c->g: pixel group i / nrb (QNR pixels) major, so a run of
 * tasks reuses one stretch of the input planes. */
static inline void make_tile(const qconv_ctx_t *c, int64_t i, qtile_t *t, int *mr, int *nv) {
  const qgeo_t *g = &c->geo;
  int64_t rb = i % c->nrb, pg = i / c->nrb;
  int64_t mi0 = rb * QMR, m0 = c->g * c->h.mg + mi0, p0 = pg * QNR;
  *mr = (int)qmin64(QMR, c->h.mg - mi0);
  *nv = (int)qmin64(QNV, (g->qn - p0 + 15) / 16);
  t->kg = c->h.nc4;
  t->ntap = c->h.taps;
  t->tapoff = c->tapoff;
  t->r = c->blocks + (c->g * c->h.nmb + rb) * c->h.kg * QMR * 4;
  t->r_rs = 4;
  t->r_gs = QMR * 4;
  t->r_xor = 0;
  t->r_tail = 0;
  t->v = c->xb + p0 * 4;
  t->v_ps = 64;
  t->v_gs = g->plane;
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
  t->ldy = c->OS;
  t->ncols = g->qn - p0;
  if (g->ws == c->s->OW) {
    t->y = c->y + m0 * c->OS + p0;
    t->wrap_ws = t->wrap_ow = t->q0 = 0;
  } else {
    t->y = c->y + m0 * c->OS;
    t->wrap_ws = g->ws;
    t->wrap_ow = c->s->OW;
    t->q0 = p0;
  }
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
 * (x - x_zp) (w - w_zp[m]); taps in the padding add (x_zp - x_zp) * w = 0.
 * Integer sums are exact in any order (wrapping), so the two paths below
 * agree bit for bit. This one runs each tap over the row chunk in memory:
 * the faster one for stride 1 (measured), and the fallback when a window
 * does not fit dw_task's buffer. */
static void dw_row_direct(const qconv_ctx_t *c, int64_t m, int64_t oh, int64_t ow0, int64_t n,
                          uint32_t *acc) {
  const sinter_k_conv_shape_t *s = c->s;
  const uint8_t *xc = c->x + m * s->H * s->W;
  const int32_t *wm = c->dww + m * s->KH * s->KW;
  int32_t xz = c->xzp;
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
}

enum { DW_CH = 256, DW_RB = 4096, DW_TAPS = 64 };

typedef uint32_t dw_v16 __attribute__((vector_size(64)));

/* The chunk geometry of dw_task: output columns per chunk (a multiple of 16,
 * 0 when the general path must run) and words per phase row. */
static int64_t dw_chunk(const sinter_k_conv_shape_t *s, int64_t *len) {
  int64_t reach = (s->KW - 1) * s->dil_w / s->stride_w + 1;
  int64_t per = DW_RB / (s->KH * s->stride_w);
  int64_t n = qmin64(DW_CH, (per - reach) / 16 * 16);
  *len = n + reach;
  return n >= 16 && s->KH * s->KW <= DW_TAPS ? n : 0;
}

/* The strided path, per output row chunk: each kernel row's input window is
 * widened once to int32 (x - x_zp, 0 in the padding) and split into stride
 * phases (phase p, word j = input column iw0 + j sw + p), so every tap reads
 * 16 consecutive words; the 16 sums stay in a vector across all taps. */
static void dw_task(void *vc, int64_t begin, int64_t end) {
  const qconv_ctx_t *c = vc;
  const sinter_k_conv_shape_t *s = c->s;
  int64_t taps = s->KH * s->KW, OW = s->OW, W = s->W, sw = s->stride_w, dw = s->dil_w;
  int64_t len, ch = dw_chunk(s, &len);
  int32_t xz = c->xzp;
  uint32_t acc[DW_CH], rb[DW_RB + 16], tw[DW_TAPS];
  const dw_v16 zero = {0};
  int64_t toff[DW_TAPS], trel[DW_TAPS];
  uint8_t yb[DW_CH];
  if (ch)
    for (int64_t kh = 0; kh < s->KH; kh++)
      for (int64_t kw = 0; kw < s->KW; kw++)
        trel[kh * s->KW + kw] = (kh * sw + kw * dw % sw) * len + kw * dw / sw;
  for (int64_t m = begin; m < end; m++) {
    const uint8_t *xc = c->x + m * s->H * W;
    const int32_t *wm = c->dww + m * taps;
    uint32_t bias = (uint32_t)c->corr[m];
    for (int64_t oh = 0; oh < s->OH; oh++) {
      for (int64_t ow0 = 0; ow0 < OW; ow0 += (ch ? ch : DW_CH)) {
        int64_t n = qmin64(ch ? ch : DW_CH, OW - ow0);
        if (!ch || sw == 1) {
          /* Whole 16-lane blocks of bias (n <= DW_CH, a multiple of 16), so
           * the block requantization below reads no stale lanes. */
          for (int64_t q = 0; q < (ch ? qround_up(n, 16) : n); q++) acc[q] = bias;
          dw_row_direct(c, m, oh, ow0, n, acc);
        } else {
          /* Words this chunk's taps read of each phase row (pitch len). */
          int64_t iw0 = ow0 * sw - s->pad_l, used = qmin64(len, qround_up(n, 16) + len - ch);
          for (int64_t kh = 0; kh < s->KH; kh++) {
            int64_t ih = oh * s->stride_h - s->pad_t + kh * s->dil_h;
            if (ih < 0 || ih >= s->H) continue;
            const uint8_t *xr = xc + ih * W;
            for (int64_t p = 0; p < sw; p++) {
              uint32_t *d = rb + (kh * sw + p) * len;
              /* word j is real when 0 <= iw0 + j sw + p < W */
              int64_t lo = -(iw0 + p), ja = lo <= 0 ? 0 : (lo + sw - 1) / sw;
              int64_t hi = W - 1 - (iw0 + p), jb = hi < 0 ? 0 : hi / sw + 1;
              ja = qmin64(ja, used);
              jb = qmin64(jb, used);
              if (jb < ja) jb = ja;
              const uint8_t *xs = xr + iw0 + p;
              /* Zeros by whole vectors (short runs as loops become memset
               * calls): overshoot lands in rows filled later or in the slack. */
              for (int64_t j = 0; j < ja; j += 16) memcpy(d + j, &zero, sizeof(zero));
              uint8_t xo = c->xor8; /* i8 as u8 (XOR 0x80) minus the zero point as u8 */
              int32_t z8 = xz + (xo ? 128 : 0);
              if (sw == 1)
                for (int64_t j = ja; j < jb; j++) d[j] = (uint32_t)((int32_t)(xs[j] ^ xo) - z8);
              else if (sw == 2)
                for (int64_t j = ja; j < jb; j++)
                  d[j] = (uint32_t)((int32_t)(xs[2 * j] ^ xo) - z8);
              else
                for (int64_t j = ja; j < jb; j++)
                  d[j] = (uint32_t)((int32_t)(xs[j * sw] ^ xo) - z8);
              for (int64_t j = jb; j < used; j += 16) memcpy(d + j, &zero, sizeof(zero));
            }
          }
          /* The taps of this output row that fall inside the image. */
          int64_t nt = 0;
          for (int64_t kh = 0; kh < s->KH; kh++) {
            int64_t ih = oh * s->stride_h - s->pad_t + kh * s->dil_h;
            if (ih < 0 || ih >= s->H) continue;
            for (int64_t kw = 0; kw < s->KW; kw++) {
              toff[nt] = trel[kh * s->KW + kw];
              tw[nt++] = (uint32_t)wm[kh * s->KW + kw];
            }
          }
          for (int64_t q0 = 0; q0 < n; q0 += 16) {
            dw_v16 a = {0};
            a += bias;
            for (int64_t t = 0; t < nt; t++) {
              dw_v16 v;
              memcpy(&v, rb + toff[t] + q0, sizeof(v));
              a += tw[t] * v;
            }
            memcpy(acc + q0, &a, sizeof(a));
          }
        }
        uint8_t *yr = c->y + (m * s->OH + oh) * OW + ow0;
        /* Locals: stores to bytes could alias the context, blocking vectorization. */
        float mm = c->mult[m];
        int32_t yzp = c->yzp, lo = c->lo, hi = c->hi;
        if (ch && mm - mm == 0.0f) {
          /* Whole 16-lane blocks (acc is computed that far), so narrow rows
           * do not fall into a scalar remainder loop. */
          for (int64_t q0 = 0; q0 < n; q0 += 16)
            for (int64_t l = 0; l < 16; l++)
              yb[q0 + l] = (uint8_t)qrequant_finite((int32_t)acc[q0 + l], mm, yzp, lo, hi);
          memcpy(yr, yb, (size_t)n);
        } else {
          for (int64_t q = 0; q < n; q++)
            yr[q] = (uint8_t)qrequant((int32_t)acc[q], mm, yzp, lo, hi);
        }
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
  uint8_t *sc = scratch;
  qgeo_t *g = &c->geo;
  geometry(s, &c->h, g);
  c->xb = sc;
  c->colsum = (int32_t *)(void *)(sc + g->colsum_off);
  c->tapoff = (int64_t *)(void *)(sc + g->tap_off);
  c->pa = (int64_t *)(void *)(sc + g->pa_off);
  c->pb = (int64_t *)(void *)(sc + g->pb_off);
  phase_list(s->KH, s->dil_h, s->stride_h, c->pa);
  phase_list(s->KW, s->dil_w, s->stride_w, c->pb);
  for (int64_t kh = 0; kh < s->KH; kh++)
    for (int64_t kw = 0; kw < s->KW; kw++) {
      int64_t ia = phase_index(c->pa, g->na, kh * s->dil_h % s->stride_h);
      int64_t ib = phase_index(c->pb, g->nb, kw * s->dil_w % s->stride_w);
      int64_t word = kh * s->dil_h / s->stride_h * g->ws + kw * s->dil_w / s->stride_w;
      c->tapoff[kh * s->KW + kw] = (ia * g->nb + ib) * c->h.nc4 * g->plane + word * 4;
    }
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
  const qgeo_t *g = &c->geo;
  if (c->OS <= 0) return;
  int64_t ntiles = c->nrb * (g->qpad / QNR), tail = g->xbytes - g->nplanes * g->plane;
  for (c->g = 0; c->g < c->h.group; c->g++) {
    memset(c->xb + g->nplanes * g->plane, c->xz8, (size_t)tail);
    par(exec, g->nplanes, pack_x_task, c);
    if (c->has_wzp) par(exec, g->qpad / 16, colsum_task, c);
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
