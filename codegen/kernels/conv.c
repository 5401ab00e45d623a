/* fp32 2-D convolution of one NCHW image. Depthwise (group == C == M) runs a
 * direct loop vectorized along the output row. Everything else is a GEMM per
 * group, y_g [Mg, OH*OW] = W_g [Mg, Kg] col_g [Kg, OH*OW] with Kg = Cg*KH*KW:
 * the constant weights are the A side, packed at compile time into MR-row
 * micro-panels (element (k, r) at k * MR + r, rows past Mg zero), and the
 * im2col matrix is the B side, built on the stack one KC x NR panel at a time
 * (for a 1x1 stride-1 unpadded conv that is a copy of x's rows), so no arena
 * scratch is needed. When OH*OW is small and fills 16-float vectors badly
 * (7x7 = 49 of 64 lanes) the roles swap ("transposed" plan): the weights are
 * packed as the B side (NR output channels per panel, gemm.c's pack_b layout),
 * the whole im2col matrix goes to scratch and is read as the A side, 8
 * positions per tile, and tiles are stored transposed. Bias, residual z and
 * the activation are fused into the store (gemm_impl.h). */
#include "gemm_impl.h"
#include "kernels.h"
#include "winograd_impl.h"

static int is_depthwise(const sinter_k_conv_shape_t *s) {
  return s->group > 1 && s->group == s->C && s->M == s->C;
}

/* Micro-panels of MR output channels per group, and the reduction length. */
static int64_t m_panels(const sinter_k_conv_shape_t *s) {
  return gk_cdiv(s->M / s->group, GK_MR);
}
static int64_t kg_of(const sinter_k_conv_shape_t *s) {
  return s->C / s->group * s->KH * s->KW;
}

/* Most im2col columns the transposed plan takes (and a pack_cols call). */
enum { T_MAX = 64 };

/* The transposed plan: few output positions that waste many vector lanes,
 * and enough output channels per group to fill them instead. */
static int use_transposed(const sinter_k_conv_shape_t *s) {
  int64_t ohw = s->OH * s->OW, mg = s->M / s->group;
  return !is_depthwise(s) && ohw <= T_MAX && ohw * 100 < 85 * 16 * gk_cdiv(ohw, 16) && mg >= 32;
}
static int64_t t_ld(const sinter_k_conv_shape_t *s) {
  return gk_cdiv(s->OH * s->OW, 8) * 8;
}

/* ---- direct plan geometry --------------------------------------------------------------- */

/* The direct plan (see "direct convolution" below) for one-group convs with a
 * window: a stride-s image is split into s x s phase planes of pw x ph
 * floats per channel. DK_SLACK zeroed floats after the last plane absorb the
 * reads of the last pixel panel's junk positions. */
enum { DK_SLACK = 64 };

typedef struct dk_geom_s {
  int64_t pw, ph, ps, cs; /* plane pitch, plane rows, plane size, channel stride */
} dk_geom_t;

static void dk_geom(const sinter_k_conv_shape_t *s, dk_geom_t *g) {
  g->pw = s->OW + (s->KW - 1) * s->dil_w / s->stride_w;
  g->ph = s->OH + (s->KH - 1) * s->dil_h / s->stride_h;
  g->ps = g->pw * g->ph;
  g->cs = s->stride_h * s->stride_w * g->ps;
}

static int use_direct(const sinter_k_conv_shape_t *s) {
  if (s->group != 1 || s->KH * s->KW < 2 || use_transposed(s)) return 0;
  if (s->stride_h > 4 || s->stride_w > 4) return 0;
  dk_geom_t g;
  dk_geom(s, &g);
  /* junk columns of the flattened grid must not waste more than a fifth */
  return g.pw * 4 <= s->OW * 5 && (double)s->C * (double)g.cs < 1e8;
}

/* The channel-vector direct plan (see below): whole 64-channel blocks, and
 * output rows short enough that a band's partial sums fit on the stack. */
enum { DT_POS = 128, DT_MB = 64 };
static int use_dt(const sinter_k_conv_shape_t *s) {
  /* measured: it beats the im2col plans on 7x7 maps, but loses to the direct
   * plan where rows are long enough to fill 16-float vectors */
  if (s->group != 1 || s->KH * s->KW < 2 || s->M % DT_MB != 0 || s->OW > DT_POS) return 0;
  if (s->OH * s->OW > T_MAX) return 0;
  if (s->stride_h > 4 || s->stride_w > 4) return 0;
  dk_geom_t g;
  dk_geom(s, &g);
  return (double)s->C * (double)g.cs < 1e8;
}

/* The channels-innermost depthwise plan (see "depthwise, channels innermost").
 * DC_IN, DC_OUT: pixel vectors of its input band and output buffers. */
enum { DC_IN = 640, DC_OUT = 256 }; /* pixel vectors of the input band and the output */

/* The large-map depthwise path ("depthwise 3x3, large maps"): floats of its
 * band buffer, output rows a step, most input rows of a band. */
enum { DL_IN = 6144, DL_R = 4, DL_RP = DL_IN / 3 + 3 };

/* Whether that path's stride-2 convs read the image's rows in place (the
 * caller checks depthwise 3x3 stride 2): pad_l 1, even W, OW = W / 2, and
 * no vector load leaving the row, but for rows of 16 to 30 floats, which
 * read into the next row and copy the plane's last one. */
static int dl_direct_s2(const sinter_k_conv_shape_t *s) {
  return s->pad_l == 1 && s->W % 2 == 0 && s->OW * 2 == s->W && s->W <= DL_IN &&
         (s->OW >= 24 || s->OW % 16 == 0 || (s->OW < 16 && s->W >= 16));
}

/* The rows-in-vectors depthwise plan (see "depthwise, one row per vector"):
 * 3x3 stride 1 where a zero-padded row fits one 16-float vector. */
/* measured: on 7x7 maps (W = 7) the 16-channel plan is 1.6x faster (9 of
 * 16 lanes would do work), on 14x14 this one is 15-20% faster */
enum { DV_ROWS = 64, DV_MIN_W = 8 };
static int use_dv(const sinter_k_conv_shape_t *s) {
  return is_depthwise(s) && s->KH == 3 && s->KW == 3 && s->stride_h == 1 && s->stride_w == 1 &&
         s->dil_h == 1 && s->dil_w == 1 && s->pad_l >= 0 && s->pad_r >= 0 && s->pad_t >= 0 &&
         s->pad_b >= 0 && s->pad_l + s->W + s->pad_r <= 16 && s->OW >= 1 && s->OH >= 1 &&
         s->OH + 2 <= DV_ROWS && s->W >= DV_MIN_W;
}

static int use_dwc(const sinter_k_conv_shape_t *s) {
  if (use_dv(s)) return 0;
  if (!is_depthwise(s) || s->C < 16 || s->KH != 3 || s->KW != 3 || s->dil_h != 1 ||
      s->dil_w != 1)
    return 0;
  if (s->stride_h < 1 || s->stride_h > 2 || s->stride_w < 1 || s->stride_w > 2) return 0;
  /* measured against the row path: faster up to 14x14 outputs (2x on 7x7),
   * slower from 28x28 (1.4x on 28x28, 2x on 56x56), where rows fill vectors */
  if (s->OH * s->OW > 196) return 0;
  /* measured: the in-place stride-2 rows beat it on 28 -> 14 (0.05 ms vs 0.07
   * for 192 channels), not on 14 -> 7 */
  if (s->stride_h == 2 && s->stride_w == 2 && s->OW >= 8 && dl_direct_s2(s)) return 0;
  int64_t pw = s->W + s->pad_l + s->pad_r;
  return 3 * pw <= DC_IN && s->OW <= DC_OUT && s->pad_t >= 0 && s->pad_l >= 0;
}

size_t sinter_k_conv2d_f32_packed_size(const sinter_k_conv_shape_t *s) {
  if (wg_use(s)) return wg_packed_size(s);
  if (use_dt(s)) return (size_t)s->M * (size_t)kg_of(s) * sizeof(float);
  if (is_depthwise(s)) return (size_t)s->C * (size_t)(s->KH * s->KW) * sizeof(float);
  if (use_transposed(s))
    return (size_t)s->group * sinter_k_gemm_f32_packed_size(kg_of(s), s->M / s->group);
  return (size_t)s->group * (size_t)m_panels(s) * (size_t)kg_of(s) * GK_MR * sizeof(float);
}

void sinter_k_conv2d_f32_pack(const sinter_k_conv_shape_t *s, const float *w, float *packed) {
  if (is_depthwise(s)) {
    memcpy(packed, w, (size_t)s->C * (size_t)(s->KH * s->KW) * sizeof(float));
    if (use_dwc(s)) /* channel groups as [C / 16][9][16]; the rest stays [C][9] */
      for (int64_t ch = 0; ch < s->C / 16 * 16; ch++)
        for (int64_t t = 0; t < 9; t++) packed[(ch / 16 * 9 + t) * 16 + ch % 16] = w[ch * 9 + t];
    return;
  }
  if (wg_use(s)) {
    wg_pack(s, w, packed);
    return;
  }
  int64_t mg = s->M / s->group, kg = kg_of(s), npm = m_panels(s);
  if (use_dt(s)) { /* [M / 64][C][KH * KW][64] */
    const int64_t taps = s->KH * s->KW;
    for (int64_t m = 0; m < s->M; m++)
      for (int64_t c = 0; c < s->C; c++)
        for (int64_t t = 0; t < taps; t++)
          packed[((m / DT_MB * s->C + c) * taps + t) * DT_MB + m % DT_MB] = w[(m * s->C + c) * taps + t];
    return;
  }
  if (use_transposed(s)) {
    size_t per_group = sinter_k_gemm_f32_packed_size(kg, mg) / sizeof(float);
    for (int64_t g = 0; g < s->group; g++)
      sinter_k_gemm_f32_pack_b(kg, mg, w + g * mg * kg, 1, kg, 1.0f, packed + g * per_group);
    return;
  }
  for (int64_t g = 0; g < s->group; g++)
    for (int64_t i = 0; i < npm; i++) {
      float *d = packed + (g * npm + i) * kg * GK_MR;
      for (int64_t r = 0; r < GK_MR; r++) {
        int64_t m = i * GK_MR + r;
        const float *src = w + (g * mg + m) * kg;
        for (int64_t k = 0; k < kg; k++) d[k * GK_MR + r] = m < mg ? src[k] : 0.0f;
      }
    }
}

size_t sinter_k_conv2d_f32_scratch_size(const sinter_k_conv_shape_t *s) {
  if (wg_use(s)) return wg_scratch_size(s);
  if (use_dt(s) || use_direct(s)) {
    dk_geom_t g;
    dk_geom(s, &g);
    return ((size_t)s->C * (size_t)g.cs + DK_SLACK) * sizeof(float);
  }
  if (!use_transposed(s)) return 0;
  return (size_t)kg_of(s) * (size_t)t_ld(s) * sizeof(float); /* one group's im2col */
}

/* ---- depthwise ------------------------------------------------------------------------- */

typedef struct dw_ctx_s {
  const sinter_k_conv_shape_t *s;
  const float *x, *w, *bias, *z;
  float *y;
  int32_t act;
  float p0, p1;
} dw_ctx_t;

/* One output element with bounds checks: the padded border. */
static inline float dw_point(const sinter_k_conv_shape_t *s, const float *xc, const float *wc,
                             float b, int64_t oy, int64_t ox) {
  float acc = b;
  for (int64_t kh = 0; kh < s->KH; kh++) {
    int64_t iy = oy * s->stride_h - s->pad_t + kh * s->dil_h;
    if (iy < 0 || iy >= s->H) continue;
    for (int64_t kw = 0; kw < s->KW; kw++) {
      int64_t ix = ox * s->stride_w - s->pad_l + kw * s->dil_w;
      if (ix < 0 || ix >= s->W) continue;
      acc += wc[kh * s->KW + kw] * xc[iy * s->W + ix];
    }
  }
  return acc;
}

/* The border-checked loop for shapes whose padded band does not fit on the
 * stack: rows fully inside the image still vectorize along ox. */
static void dw_channel_scalar(const dw_ctx_t *c, int64_t ch) {
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t H = s->H, W = s->W, OH = s->OH, OW = s->OW, KH = s->KH, KW = s->KW;
  const int64_t sh = s->stride_h, sw = s->stride_w, dh = s->dil_h, dw = s->dil_w;
  const int32_t act = c->act;
  const float p0 = c->p0, p1 = c->p1;
  /* Output columns whose taps all fall inside the row: ox * sw - pad_l >= 0
   * and ox * sw - pad_l + (KW - 1) * dw <= W - 1. */
  int64_t ox_lo = gk_min(OW, gk_cdiv(s->pad_l, sw));
  int64_t last = W - 1 + s->pad_l - (KW - 1) * dw;
  int64_t ox_hi = last < 0 ? 0 : gk_min(OW, last / sw + 1);
  if (ox_hi < ox_lo) ox_hi = ox_lo;
  const float *xc = c->x + ch * H * W, *wc = c->w + ch * KH * KW;
  const float *zc = c->z ? c->z + ch * OH * OW : NULL;
  float *restrict yc = c->y + ch * OH * OW;
  float b = c->bias ? c->bias[ch] : 0.0f;
  for (int64_t oy = 0; oy < OH; oy++) {
    float *restrict yr = yc + oy * OW;
    const float *zr = zc ? zc + oy * OW : NULL;
    int64_t iy0 = oy * sh - s->pad_t;
    int inside = iy0 >= 0 && iy0 + (KH - 1) * dh < H;
    int64_t lo = inside ? ox_lo : OW, hi = inside ? ox_hi : OW;
    for (int64_t ox = 0; ox < lo; ox++) yr[ox] = dw_point(s, xc, wc, b, oy, ox);
    if (lo < hi) {
      /* every index below is >= 0 on this range */
      int64_t base = iy0 * W - s->pad_l;
      for (int64_t ox = lo; ox < hi; ox++) {
        float acc = b;
        for (int64_t kh = 0; kh < KH; kh++)
          for (int64_t kw = 0; kw < KW; kw++)
            acc += wc[kh * KW + kw] * xc[base + kh * dh * W + ox * sw + kw * dw];
        yr[ox] = acc;
      }
    }
    for (int64_t ox = hi; ox < OW; ox++) yr[ox] = dw_point(s, xc, wc, b, oy, ox);
    if (zr)
      for (int64_t ox = 0; ox < OW; ox++) yr[ox] = sinter_k_act(yr[ox] + zr[ox], act, p0, p1);
    else
      for (int64_t ox = 0; ox < OW; ox++) yr[ox] = sinter_k_act(yr[ox], act, p0, p1);
  }
}

/* The vector path works on bands of output rows: the input rows a band reads
 * are copied, zero-padded, into a stack buffer (row pitch PW = W + pad_l +
 * pad_r, plus zeroed slack), so the inner loops run without bounds checks on
 * 16 outputs at a time. With stride 1 the band's output is computed on the
 * flattened padded grid (output (r, ox) at r * PW + ox reads input r * PW + ox
 * + kh * dh * PW + kw * dw), so narrow rows (7x7) waste only the PW - OW pad
 * columns; other strides go row by row, stride 2 deinterleaving two loads. */
enum { DW_IN = 8192, DW_OUT = 4096 };

typedef struct dw_plan_s {
  int64_t pw, rows, slack, opitch; /* pitch, output rows per band, slack, out pitch */
} dw_plan_t;

static int dw_plan(const sinter_k_conv_shape_t *s, dw_plan_t *p) {
  p->pw = s->W + s->pad_l + s->pad_r;
  p->slack = 32 * s->stride_w + (s->KW - 1) * s->dil_w + 16;
  /* Row by row, each row's last vector spills into the next row's space,
   * which that row then overwrites, so the band's output is contiguous. */
  p->opitch = s->stride_h == 1 && s->stride_w == 1 ? p->pw : s->OW;
  int64_t span = (s->KH - 1) * s->dil_h + 1;
  if (p->pw > DW_IN || s->stride_h > DW_IN) return 0;
  int64_t by_in = ((DW_IN - p->slack) / p->pw - span) / s->stride_h + 1;
  int64_t by_out = (DW_OUT - 16) / p->opitch;
  p->rows = gk_min(gk_min(by_in, by_out), s->OH);
  return p->rows >= 1 && span * p->pw + p->slack <= DW_IN;
}

/* memset/memcpy for the short runs of the band build: fixed-size pieces
 * compile to plain moves, where libc calls would dominate on 7x7 images. */
static inline void copy_floats(float *restrict d, const float *restrict x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) memcpy(d + i, x + i, 64);
  if (n - i >= 8) memcpy(d + i, x + i, 32), i += 8;
  if (n - i >= 4) memcpy(d + i, x + i, 16), i += 4;
  if (n - i >= 2) memcpy(d + i, x + i, 8), i += 2;
  if (n - i >= 1) d[i] = x[i];
}
static inline void zero_floats(float *d, int64_t n) {
  static const float zeros[16];
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) memcpy(d + i, zeros, 64);
  if (n - i >= 8) memcpy(d + i, zeros, 32), i += 8;
  if (n - i >= 4) memcpy(d + i, zeros, 16), i += 4;
  if (n - i >= 2) memcpy(d + i, zeros, 8), i += 2;
  if (n - i >= 1) d[i] = 0.0f;
}

/* The kernel window comes in as arguments so dw_channel_vec can pass the
 * common 3x3 as constants: the tap loops then unroll without specialization. */
static inline __attribute__((always_inline)) void dw_channel_vec_impl(
    const dw_ctx_t *c, const dw_plan_t *pl, int64_t ch, float *in, float *out, const int64_t KH,
    const int64_t KW, const int64_t dh, const int64_t dw) {
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t H = s->H, W = s->W, OH = s->OH, OW = s->OW;
  const int64_t sh = s->stride_h, sw = s->stride_w;
  const int64_t PW = pl->pw, opitch = pl->opitch;
  const int32_t act = c->act;
  const float p0 = c->p0, p1 = c->p1;
  const float *xc = c->x + ch * H * W, *wc = c->w + ch * KH * KW;
  const float *zc = c->z ? c->z + ch * OH * OW : NULL;
  float *yc = c->y + ch * OH * OW;
  const float b = c->bias ? c->bias[ch] : 0.0f;
  for (int64_t oy0 = 0; oy0 < OH; oy0 += pl->rows) {
    int64_t nr = gk_min(pl->rows, OH - oy0);
    int64_t rows_in = (nr - 1) * sh + (KH - 1) * dh + 1;
    for (int64_t r = 0; r < rows_in; r++) {
      float *d = in + r * PW;
      int64_t iy = oy0 * sh - s->pad_t + r;
      if (iy < 0 || iy >= H) {
        zero_floats(d, PW);
        continue;
      }
      zero_floats(d, s->pad_l);
      copy_floats(d + s->pad_l, xc + iy * W, W);
      zero_floats(d + s->pad_l + W, s->pad_r);
    }
    memset(in + rows_in * PW, 0, (size_t)pl->slack * sizeof(float));
    if (sh == 1 && sw == 1) {
      int64_t n = (nr - 1) * PW + OW;
      for (int64_t i = 0; i < n; i += 16) {
        gk_v16f acc = GK_SPLAT(b);
        for (int64_t kh = 0; kh < KH; kh++)
          for (int64_t kw = 0; kw < KW; kw++) {
            float wv = wc[kh * KW + kw];
            gk_v16f xv, wsp = GK_SPLAT(wv);
            GK_LOAD(xv, in + i + kh * dh * PW + kw * dw);
            acc += wsp * xv;
          }
        memcpy(out + i, &acc, sizeof acc);
      }
    } else {
      for (int64_t r = 0; r < nr; r++)
        for (int64_t ox = 0; ox < OW; ox += 16) {
          gk_v16f acc = GK_SPLAT(b);
          for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++) {
              const float *src = in + (r * sh + kh * dh) * PW + ox * sw + kw * dw;
              float wv = wc[kh * KW + kw];
              gk_v16f xv, wsp = GK_SPLAT(wv);
              if (sw == 1) {
                GK_LOAD(xv, src);
              } else if (sw == 2) {
                gk_v16f lo, hi;
                GK_LOAD(lo, src);
                GK_LOAD(hi, src + 16);
                xv = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                             26, 28, 30);
              } else {
                for (int l = 0; l < 16; l++) xv[l] = src[l * sw];
              }
              acc += wsp * xv;
            }
          memcpy(out + r * opitch + ox, &acc, sizeof acc);
        }
    }
    /* with opitch == OW the band is one run of nr * OW outputs */
    int64_t runs = opitch == OW ? 1 : nr, len = opitch == OW ? nr * OW : OW;
    for (int64_t r = 0; r < runs; r++) {
      float *o = out + r * opitch;
      if (zc) {
        const float *zr = zc + (oy0 + r) * OW;
        for (int64_t ox = 0; ox < len; ox++) o[ox] += zr[ox];
      }
      gk_act_row(yc + (oy0 + r) * OW, o, len, 0.0f, act, p0, p1);
    }
  }
}

static void dw_channel_vec(const dw_ctx_t *c, const dw_plan_t *pl, int64_t ch, float *in,
                           float *out) {
  const sinter_k_conv_shape_t *s = c->s;
  if (s->KH == 3 && s->KW == 3 && s->dil_h == 1 && s->dil_w == 1)
    dw_channel_vec_impl(c, pl, ch, in, out, 3, 3, 1, 1);
  else
    dw_channel_vec_impl(c, pl, ch, in, out, s->KH, s->KW, s->dil_h, s->dil_w);
}

static void dw_task(void *vctx, int64_t c0, int64_t c1) {
  const dw_ctx_t *c = vctx;
  dw_plan_t pl;
  if (!dw_plan(c->s, &pl)) {
    for (int64_t ch = c0; ch < c1; ch++) dw_channel_scalar(c, ch);
    return;
  }
  _Alignas(64) float in[DW_IN];
  _Alignas(64) float out[DW_OUT];
  for (int64_t ch = c0; ch < c1; ch++) dw_channel_vec(c, &pl, ch, in, out);
}

/* ---- depthwise 3x3, large maps ----------------------------------------------------------- */

/* Rows of 16 or more outputs fill vectors, so a 3x3 depthwise conv with
 * stride 1 or 2 runs per channel on a zero-padded band of input rows on the
 * stack, DL_R output rows at a time: each input row vector loaded feeds the
 * up to 3 output rows that use it (stride 1: 6 rows x 3 taps = 18 loads for 4
 * output vectors instead of 36), with the 9 weights, bias, residual and the
 * activation applied in registers and stored straight to y. For stride 2 the
 * band keeps each padded row split into its even and odd columns (E then O,
 * hp floats each; split once, while copying), so output column ox reads taps
 * E[ox], O[ox], E[ox + 1] with plain vector loads. Band buffers: pad and
 * slack columns are zeroed once per task and never written but by zeros. */

typedef struct dl_plan_s {
  int64_t pp, rows; /* band row pitch, output rows per band */
  int64_t hp;       /* stride 2: floats per even/odd half row */
  int direct;       /* stride 2 on the image's rows (see dl_rows) */
} dl_plan_t;

static int dl_plan(const sinter_k_conv_shape_t *s, dl_plan_t *p) {
  if (!is_depthwise(s) || s->KH != 3 || s->KW != 3 || s->dil_h != 1 || s->dil_w != 1) return 0;
  if (s->stride_h != s->stride_w || s->stride_h < 1 || s->stride_h > 2) return 0;
  if (s->pad_t < 0 || s->pad_l < 0 || s->pad_l > 16 || s->W < 1 || s->OW < 1) return 0;
  int64_t ow16 = gk_cdiv(s->OW, 16) * 16;
  if (s->stride_h == 1) {
    p->hp = 0;
    p->direct = s->pad_l == 1 && s->OW == s->W && s->W >= 16 && s->W <= DL_IN;
    p->pp = gk_max(ow16 + 2, s->pad_l + s->W);
    if (p->pp > DL_IN) return 0;
    p->rows = gk_min(DL_IN / p->pp - 2, s->OH);
  } else {
    p->direct = dl_direct_s2(s);
    p->hp = gk_max(ow16 + 1, (s->pad_l + s->W + 1) / 2);
    p->pp = 2 * p->hp;
    if (p->pp > DL_IN) return 0;
    p->rows = gk_min((DL_IN / p->pp - 1) / 2, s->OH);
  }
  return p->rows >= 1;
}

/* Stores 16 outputs to y with residual and a simple activation (others are
 * applied by the caller). */
static inline __attribute__((always_inline)) void dl_store(float *y, const float *z,
                                                           const gk_v16f *accp, int32_t act,
                                                           float p0, float p1) {
  gk_v16f acc = *accp;
  if (z) {
    gk_v16f zv;
    GK_LOAD(zv, z);
    acc += zv;
  }
  GK_ACT_VEC(acc, act, p0, p1);
  memcpy(y, &acc, sizeof acc);
}

/* The same for the n < 16 outputs of a row's last vector, element by element:
 * filling a vector from a partial copy stalls on store forwarding. */
static inline void dl_store_n(float *y, const float *z, const gk_v16f *acc, int64_t n, int32_t act,
                              float p0, float p1) {
  float t[16];
  memcpy(t, acc, sizeof t);
  for (int64_t l = 0; l < n; l++) {
    float v = z ? t[l] + z[l] : t[l];
    y[l] = gk_act_is_simple(act) ? sinter_k_act(v, act, p0, p1) : v;
  }
}

/* R output rows of one channel from the input rows rp[0 .. (R - 1) * S + 2]:
 * band rows (stride 1; stride 2 split even / odd with half pitch hp), or for
 * DIRECT the image's own rows, with pad_l 1 and every vector inside the row
 * (the last one overlapping): stride 1 with OW = W >= 16, the first and last
 * vectors' taps past the row shifted in; stride 2 as dl_direct_s2 says, split
 * in registers: output ox's taps are x[2ox - 1], x[2ox], x[2ox + 1]. */
static inline __attribute__((always_inline)) void dl_rows(const float *const *rp, int64_t hp,
                                                          const gk_v16f *wv, const gk_v16f *bvp,
                                                          float *y, const float *z, int64_t OW,
                                                          int32_t act, float p0, float p1,
                                                          const int R, const int S,
                                                          const int DIRECT) {
  /* With 16 or more columns the last vector is the one ending at OW: it
   * recomputes some outputs, bit for bit, unless the residual is y itself. */
  const int overlap = OW >= 16 && (!z || z != y);
  for (int64_t ox0 = 0; ox0 < OW; ox0 += 16) {
    const int64_t ox = overlap && ox0 + 16 > OW ? OW - 16 : ox0;
    gk_v16f acc[DL_R];
    for (int r = 0; r < R; r++) acc[r] = *bvp;
    /* input row i feeds output row r through kernel row i - S * r */
    for (int i = 0; i < (R - 1) * S + 3; i++) {
      const float *ip = rp[i] + ox;
      gk_v16f a0, a1, a2;
      if (DIRECT && S == 1) {
        /* the row's first and last vectors shift in the pad's zero */
        gk_v16f zero = {0};
        GK_LOAD(a1, ip);
        if (ox > 0)
          GK_LOAD(a0, ip - 1);
        else
          a0 = __builtin_shufflevector(zero, a1, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
                                       28, 29, 30);
        if (ox + 16 < OW)
          GK_LOAD(a2, ip + 1);
        else
          a2 = __builtin_shufflevector(a1, zero, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                       16);
      } else if (DIRECT) {
        gk_v16f lo, hi, prev = {0};
        GK_LOAD(lo, ip + ox);
        GK_LOAD(hi, ip + ox + 16);
        if (ox > 0) GK_LOAD(prev, ip + ox - 16); /* its last lane is x[2ox - 1] */
        a1 = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                     30);
        a2 = __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29,
                                     31);
        a0 = __builtin_shufflevector(prev, a2, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
                                     28, 29, 30);
      } else if (S == 1) {
        GK_LOAD(a0, ip);
        GK_LOAD(a1, ip + 1);
        GK_LOAD(a2, ip + 2);
      } else {
        GK_LOAD(a0, ip);
        GK_LOAD(a1, ip + hp);
        GK_LOAD(a2, ip + 1);
      }
      for (int r = 0; r < R; r++) {
        int kh = i - S * r;
        if (kh < 0 || kh > 2) continue;
        acc[r] += wv[kh * 3] * a0;
        acc[r] += wv[kh * 3 + 1] * a1;
        acc[r] += wv[kh * 3 + 2] * a2;
      }
    }
    if (ox + 16 <= OW)
      for (int r = 0; r < R; r++)
        dl_store(y + r * OW + ox, z ? z + r * OW + ox : NULL, &acc[r], act, p0, p1);
    else
      for (int r = 0; r < R; r++)
        dl_store_n(y + r * OW + ox, z ? z + r * OW + ox : NULL, &acc[r], OW - ox, act, p0, p1);
  }
}

/* One padded input row into the band: plain (stride 1) or split into even
 * and odd columns (stride 2). Positions past the row get zeros, which is
 * what the right pad holds. */
static inline __attribute__((always_inline)) void dl_copy_row(float *d, const float *x, int64_t W,
                                                              int64_t pad_l, int64_t hp,
                                                              const int S) {
  if (S == 1) {
    d += pad_l;
    if (W < 16) {
      copy_floats(d, x, W);
      return;
    }
    /* the last vector ends at W, overlapping the one before */
    for (int64_t i = 0; i < W; i += 16) {
      int64_t j = gk_min(i, W - 16);
      memcpy(d + j, x + j, 64);
    }
    return;
  }
  /* padded column p = pad_l + ix goes to E[p / 2] (p even) or O[p / 2] */
  if (W < 32 || (W & 1)) {
    for (int64_t ix = 0; ix < W; ix++) {
      int64_t p = pad_l + ix;
      d[(p & 1) * hp + p / 2] = x[ix];
    }
    return;
  }
  float *de = d + (pad_l + 1) / 2, *dn = d + hp + pad_l / 2;
  if (pad_l & 1) {
    float *t = de;
    de = dn;
    dn = t;
  }
  /* de gets x's even columns, dn its odd ones; W is even, so the last 32
   * columns, overlapping the previous block, keep their parity */
  for (int64_t i0 = 0; i0 < W; i0 += 32) {
    int64_t i = gk_min(i0, W - 32);
    gk_v16f lo, hi;
    GK_LOAD(lo, x + i);
    GK_LOAD(hi, x + i + 16);
    gk_v16f ev =
        __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    gk_v16f od =
        __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    memcpy(de + i / 2, &ev, sizeof ev);
    memcpy(dn + i / 2, &od, sizeof od);
  }
}

/* Output rows oy0 + r, r < nr, from input rows rp[r * S ...], R at a time. */
static inline __attribute__((always_inline)) void dl_band(const dw_ctx_t *c, const float **rp,
                                                          int64_t hp, const gk_v16f *wv,
                                                          const gk_v16f *bvp, float *yc,
                                                          const float *zc, int64_t oy0, int64_t nr,
                                                          int32_t act, const int S,
                                                          const int DIRECT) {
  const int64_t OW = c->s->OW;
  int64_t r = 0;
  for (; r + DL_R <= nr; r += DL_R) {
    const int64_t o = (oy0 + r) * OW;
    dl_rows(rp + r * S, hp, wv, bvp, yc + o, zc ? zc + o : NULL, OW, act, c->p0, c->p1, DL_R, S,
            DIRECT);
  }
  for (; r < nr; r++) {
    const int64_t o = (oy0 + r) * OW;
    dl_rows(rp + r * S, hp, wv, bvp, yc + o, zc ? zc + o : NULL, OW, act, c->p0, c->p1, 1, S,
            DIRECT);
  }
}

static inline __attribute__((always_inline)) void dl_channel_impl(const dw_ctx_t *c,
                                                                  const dl_plan_t *pl, int64_t ch,
                                                                  float *in, const int S,
                                                                  const int32_t act) {
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t H = s->H, W = s->W, OH = s->OH, OW = s->OW, pp = pl->pp, hp = pl->hp;
  const float *xc = c->x + ch * H * W, *wc = c->w + ch * 9;
  const float *zc = c->z ? c->z + ch * OH * OW : NULL;
  float *yc = c->y + ch * OH * OW;
  gk_v16f wv[9], bv = GK_SPLAT(c->bias ? c->bias[ch] : 0.0f);
  for (int t = 0; t < 9; t++) wv[t] = (gk_v16f)GK_SPLAT(wc[t]);
  const float *rp[DL_RP];
  if (pl->direct) {
    /* rows outside the image read the band buffer's zeros */
    for (int64_t oy0 = 0; oy0 < OH; oy0 += DL_RP / 2 - 1) {
      const int64_t nr = gk_min(DL_RP / 2 - 1, OH - oy0);
      for (int64_t i = 0; i < (nr - 1) * S + 3; i++) {
        int64_t iy = oy0 * S - s->pad_t + i;
        rp[i] = iy < 0 || iy >= H ? in : xc + iy * W;
        /* rows shorter than the 32 floats read: the plane's last row is
         * read from a copy (the others read into the next row) */
        if (S == 2 && OW < 16 && iy == H - 1) {
          copy_floats(in + 32, xc + iy * W, W);
          rp[i] = in + 32;
        }
      }
      dl_band(c, rp, 0, wv, &bv, yc, zc, oy0, nr, act, S, 1);
    }
  } else
    for (int64_t oy0 = 0; oy0 < OH; oy0 += pl->rows) {
      const int64_t nr = gk_min(pl->rows, OH - oy0), rows_in = (nr - 1) * S + 3;
      const int64_t iy0 = oy0 * S - s->pad_t;
      for (int64_t r = 0; r < rows_in; r++) {
        int64_t iy = iy0 + r;
        if (iy < 0 || iy >= H)
          zero_floats(in + r * pp, pp);
        else
          dl_copy_row(in + r * pp, xc + iy * W, W, s->pad_l, hp, S);
      }
      for (int64_t i = 0; i < rows_in; i++) rp[i] = in + i * pp;
      dl_band(c, rp, hp, wv, &bv, yc, zc, oy0, nr, act, S, 0);
    }
  if (act != c->act)
    for (int64_t i = 0; i < OH * OW; i++) yc[i] = sinter_k_act(yc[i], c->act, c->p0, c->p1);
}

static void dl_task(void *vctx, int64_t c0, int64_t c1) {
  const dw_ctx_t *c = vctx;
  dl_plan_t pl;
  if (!dl_plan(c->s, &pl)) {
    dw_task(vctx, c0, c1);
    return;
  }
  /* the direct rows' last vector overlaps the one before: not with y as z */
  if (c->z && c->z == c->y) pl.direct = 0;
  _Alignas(64) float in[DL_IN];
  memset(in, 0, sizeof in);
  /* the stride and the common activations as constants */
  const int32_t act = gk_act_is_simple(c->act) ? c->act : SINTER_K_ACT_NONE;
  const int s1 = c->s->stride_h == 1;
  for (int64_t ch = c0; ch < c1; ch++) {
    if (act == SINTER_K_ACT_CLIP)
      s1 ? dl_channel_impl(c, &pl, ch, in, 1, SINTER_K_ACT_CLIP)
         : dl_channel_impl(c, &pl, ch, in, 2, SINTER_K_ACT_CLIP);
    else if (act == SINTER_K_ACT_NONE)
      s1 ? dl_channel_impl(c, &pl, ch, in, 1, SINTER_K_ACT_NONE)
         : dl_channel_impl(c, &pl, ch, in, 2, SINTER_K_ACT_NONE);
    else
      s1 ? dl_channel_impl(c, &pl, ch, in, 1, act) : dl_channel_impl(c, &pl, ch, in, 2, act);
  }
}

/* ---- depthwise, channels innermost ------------------------------------------------------- */

/* Small maps fill 16-float rows badly and spend their time on borders, so
 * 3x3 depthwise convs with stride 1 or 2 run on 16 channels at a time: a band
 * of the group's input rows is transposed (16 x 16 shuffles) into a
 * zero-padded [rows][PW][16] stack buffer, each output pixel of the band is 9
 * full-vector FMAs with the weights in registers and no border code, and the
 * band's [pixels][16] result is transposed back into NCHW, where residual and
 * activation are applied. Channels past the last multiple of 16 take the row
 * path. Weights are packed [C / 16][9][16], then the rest as [C][9]. */
/* t = transpose of the 16 x 16 block v, by swapping one index bit of rows and
 * columns per stage. */
#define DC_SWAP(B, LO, HI)                                        \
  for (int i_ = 0; i_ < 16; i_++)                                 \
    if (!(i_ & (B))) {                                            \
      gk_v16f a_ = v[i_], b_ = v[i_ | (B)];                       \
      v[i_] = __builtin_shufflevector(a_, b_, LO);                \
      v[i_ | (B)] = __builtin_shufflevector(a_, b_, HI);          \
    }
#define DC_L1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define DC_H1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#define DC_L2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define DC_H2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define DC_L4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define DC_H4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define DC_L8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define DC_H8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
static inline __attribute__((always_inline)) void dc_transpose(gk_v16f v[16]) {
  DC_SWAP(1, DC_L1, DC_H1)
  DC_SWAP(2, DC_L2, DC_H2)
  DC_SWAP(4, DC_L4, DC_H4)
  DC_SWAP(8, DC_L8, DC_H8)
}
#undef DC_SWAP
#undef DC_L1
#undef DC_H1
#undef DC_L2
#undef DC_H2
#undef DC_L4
#undef DC_H4
#undef DC_L8
#undef DC_H8

/* n (<= 16) floats, the rest of the vector zero / only n stored */
static inline __attribute__((always_inline)) void dc_load_n(gk_v16f *v, const float *p,
                                                            int64_t n) {
  if (n == 16) {
    GK_LOAD(*v, p);
    return;
  }
  *v = (gk_v16f){0};
  for (int64_t i = 0; i < n; i++) (*v)[i] = p[i];
}
static inline __attribute__((always_inline)) void dc_store_n(float *p, const gk_v16f *v,
                                                             int64_t n) {
  if (n == 16)
    memcpy(p, v, sizeof *v);
  else
    for (int64_t i = 0; i < n; i++) p[i] = (*v)[i];
}

typedef struct dc_band_s {
  int64_t oy0, nr; /* output rows of the band */
} dc_band_t;

/* Output rows per band: the input band and the output must fit the buffers. */
static int64_t dc_rows(const sinter_k_conv_shape_t *s) {
  int64_t pw = s->W + s->pad_l + s->pad_r;
  int64_t by_in = (DC_IN / pw - 3) / s->stride_h + 1, by_out = DC_OUT / s->OW;
  return gk_max(1, gk_min(gk_min(by_in, by_out), s->OH));
}

static inline __attribute__((always_inline)) void dc_group_impl(const dw_ctx_t *c, int64_t c0,
                                                                gk_v16f *in, gk_v16f *out,
                                                                const int64_t sh,
                                                                const int64_t sw) {
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t H = s->H, W = s->W, OH = s->OH, OW = s->OW, HW = H * W, OHW = OH * OW;
  const int64_t PW = W + s->pad_l + s->pad_r, rows = dc_rows(s);
  gk_v16f wv[9], bv = {0};
  for (int t = 0; t < 9; t++) GK_LOAD(wv[t], c->w + (c0 / 16 * 9 + t) * 16);
  if (c->bias) GK_LOAD(bv, c->bias + c0);
  const float *xg = c->x + c0 * HW;
  for (int64_t oy0 = 0; oy0 < OH; oy0 += rows) {
    const int64_t nr = gk_min(rows, OH - oy0), rows_in = (nr - 1) * sh + 3;
    const int64_t iy0 = oy0 * sh - s->pad_t;
    /* rows of the band inside the image: [ia, ib) */
    int64_t ia = gk_max(iy0, 0), ib = gk_min(iy0 + rows_in, H);
    if (ib < ia) ib = ia;
    for (int64_t r = 0; r < rows_in; r++) {
      gk_v16f *d = in + r * PW;
      int64_t iy = iy0 + r;
      if (iy < ia || iy >= ib) {
        for (int64_t j = 0; j < PW; j++) d[j] = (gk_v16f){0};
        continue;
      }
      for (int64_t j = 0; j < s->pad_l; j++) d[j] = (gk_v16f){0};
      for (int64_t j = s->pad_l + W; j < PW; j++) d[j] = (gk_v16f){0};
    }
    /* the inside rows are one run of the planes: transpose 16 pixels at a time */
    int64_t prow = ia - iy0, pcol = 0;
    for (int64_t p = ia * W; p < ib * W; p += 16) {
      int64_t n = gk_min(16, ib * W - p);
      gk_v16f v[16];
      for (int ch = 0; ch < 16; ch++) dc_load_n(&v[ch], xg + ch * HW + p, n);
      dc_transpose(v);
      for (int64_t k = 0; k < n; k++) {
        in[prow * PW + s->pad_l + pcol] = v[k];
        if (++pcol == W) pcol = 0, prow++;
      }
    }
    gk_v16f *o = out;
    for (int64_t r = 0; r < nr; r++) {
      const gk_v16f *ir = in + r * sh * PW;
      for (int64_t ox = 0; ox < OW; ox++) {
        const gk_v16f *ip = ir + ox * sw;
        gk_v16f acc = bv;
        for (int kh = 0; kh < 3; kh++)
          for (int kw = 0; kw < 3; kw++) acc += wv[kh * 3 + kw] * ip[kh * PW + kw];
        *o++ = acc;
      }
    }
    /* back to NCHW, 16 pixels at a time, with residual and activation */
    const int64_t np = nr * OW, q0 = oy0 * OW;
    for (int64_t q = 0; q < np; q += 16) {
      int64_t n = gk_min(16, np - q);
      gk_v16f v[16];
      for (int k = 0; k < 16; k++) v[k] = out[q + k];
      dc_transpose(v);
      for (int ch = 0; ch < 16; ch++) {
        float *yp = c->y + (c0 + ch) * OHW + q0 + q;
        gk_v16f t = v[ch];
        if (c->z) {
          gk_v16f zv;
          dc_load_n(&zv, c->z + (c0 + ch) * OHW + q0 + q, n);
          t += zv;
        }
        if (gk_act_is_simple(c->act)) {
          GK_ACT_VEC(t, c->act, c->p0, c->p1);
          dc_store_n(yp, &t, n);
        } else {
          float tmp[16];
          memcpy(tmp, &t, sizeof t);
          gk_act_row(yp, tmp, n, 0.0f, c->act, c->p0, c->p1);
        }
      }
    }
  }
}

static void dc_group(const dw_ctx_t *c, int64_t c0, gk_v16f *in, gk_v16f *out) {
  const sinter_k_conv_shape_t *s = c->s;
  if (s->stride_h == 1 && s->stride_w == 1)
    dc_group_impl(c, c0, in, out, 1, 1);
  else if (s->stride_h == 2 && s->stride_w == 2)
    dc_group_impl(c, c0, in, out, 2, 2);
  else
    dc_group_impl(c, c0, in, out, s->stride_h, s->stride_w);
}

/* Tasks 0 .. C / 16 - 1 are channel groups, the rest single leftover channels. */
static __attribute__((noinline)) void dc_groups(const dw_ctx_t *c, int64_t g0, int64_t g1) {
  /* out has 16 spare vectors: the last transpose-back block reads past np */
  _Alignas(64) gk_v16f in[DC_IN];
  _Alignas(64) gk_v16f out[DC_OUT + 16];
  for (int64_t g = g0; g < g1; g++) dc_group(c, g * 16, in, out);
}

static void dc_task(void *vctx, int64_t t0, int64_t t1) {
  const dw_ctx_t *c = vctx;
  const int64_t ng = c->s->C / 16;
  if (t0 < ng) dc_groups(c, t0, gk_min(t1, ng));
  if (t1 > ng) dw_task(vctx, ng * 16 + gk_max(t0 - ng, 0), ng * 16 + (t1 - ng));
}

/* ---- depthwise, one row per vector ------------------------------------------------------ */

/* Maps at most 14 wide (14x14): a zero-padded input row fits one 16-float
 * vector (lane j = padded column j). The channel's padded rows are copied
 * once into a stack plane of 32-float rows whose upper halves stay zero, so
 * the taps of output row oy are plain loads of padded rows oy .. oy + 2 at
 * offsets 0, 1 and 2: nine loads and nine FMAs a row, no transposes, no
 * border code. The lanes past OW are computed and not stored. */
enum { DV_PITCH = 32 };

static inline __attribute__((always_inline)) void dv_channel(const dw_ctx_t *c, int64_t ch,
                                                             float *plane, const int32_t act) {
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t H = s->H, W = s->W, OH = s->OH, OW = s->OW, pt = s->pad_t, pl = s->pad_l;
  const float *xc = c->x + ch * H * W, *wc = c->w + ch * 9;
  const float *zc = c->z ? c->z + ch * OH * OW : NULL;
  float *yc = c->y + ch * OH * OW;
  /* padded row i = input row i - pad_t (rows outside the input stay zero).
   * Rows whose 16 floats around them lie inside the channel load those and
   * keep the row's lanes; the others (first, last) go through a copy. */
  const gk_v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const gk_v16i keep = (lane >= (int32_t)pl) & (lane < (int32_t)(pl + W));
  for (int64_t i = 0; i < OH + 2; i++) {
    int64_t iy = i - pt;
    if (iy < 0 || iy >= H) continue;
    float *d = plane + i * DV_PITCH;
    if (iy * W - pl >= 0 && iy * W - pl + 16 <= H * W) {
      gk_v16f v;
      GK_LOAD(v, xc + iy * W - pl);
      v = (gk_v16f)((gk_v16i)v & keep);
      memcpy(d, &v, sizeof v);
    } else {
      memcpy(d + pl, xc + iy * W, (size_t)W * sizeof(float));
    }
  }
  gk_v16f bv = GK_SPLAT(c->bias ? c->bias[ch] : 0.0f);
  for (int64_t oy = 0; oy < OH; oy++) {
    gk_v16f acc = bv;
    for (int kh = 0; kh < 3; kh++)
      for (int kw = 0; kw < 3; kw++) {
        gk_v16f v, w = GK_SPLAT(wc[kh * 3 + kw]);
        GK_LOAD(v, plane + (oy + kh) * DV_PITCH + kw);
        acc += w * v;
      }
    /* a full vector where it stays inside the channel: its lanes past OW
     * land on the next row, which is stored after */
    const int full = oy * OW + 16 <= OH * OW;
    if (zc) {
      gk_v16f zv;
      if (full) {
        GK_LOAD(zv, zc + oy * OW);
      } else {
        float zr[16] = {0};
        memcpy(zr, zc + oy * OW, (size_t)OW * sizeof(float));
        memcpy(&zv, zr, sizeof zv);
      }
      acc += zv;
    }
    if (gk_act_is_simple(act)) {
      GK_ACT_VEC(acc, act, c->p0, c->p1);
    } else {
      for (int l = 0; l < 16; l++) acc[l] = sinter_k_act(acc[l], act, c->p0, c->p1);
    }
    if (full) {
      memcpy(yc + oy * OW, &acc, sizeof acc);
    } else {
      float out[16];
      memcpy(out, &acc, sizeof out);
      memcpy(yc + oy * OW, out, (size_t)OW * sizeof(float));
    }
  }
  /* the plane's rows that held input go back to zero for the next channel */
  for (int64_t i = 0; i < OH + 2; i++) memset(plane + i * DV_PITCH, 0, 16 * sizeof(float));
}

static void dv_task(void *vctx, int64_t c0, int64_t c1) {
  const dw_ctx_t *c = vctx;
  _Alignas(64) float plane[DV_ROWS * DV_PITCH];
  memset(plane, 0, sizeof plane);
  const int32_t act = c->act;
  for (int64_t ch = c0; ch < c1; ch++) {
    if (act == SINTER_K_ACT_CLIP)
      dv_channel(c, ch, plane, SINTER_K_ACT_CLIP);
    else if (act == SINTER_K_ACT_NONE)
      dv_channel(c, ch, plane, SINTER_K_ACT_NONE);
    else
      dv_channel(c, ch, plane, act);
  }
}

/* ---- im2col + GEMM ----------------------------------------------------------------------- */

typedef struct cg_ctx_s {
  const sinter_k_conv_shape_t *s;
  const float *x, *wp, *bias, *z;
  float *y;
  int32_t act;
  float p0, p1;
  int64_t np, mch, mpc; /* N panels (tasks), M chunks, micro-panels per chunk */
  int merge_tail;        /* the last task also runs one more, narrow, panel */
} cg_ctx_t;

/* A run of a panel's columns that lies in one output row. */
typedef struct seg_s {
  int64_t oy, ox, len, j;
} seg_t;

/* Packs rows [k0, k0 + kc) x columns [n0, n0 + nr) (nr <= T_MAX) of a
 * group's im2col matrix into dst (k, j) at k * ld + j; columns nr .. nrv are
 * zero. */
static void pack_cols(const sinter_k_conv_shape_t *s, const float *xg, int64_t k0, int64_t kc,
                      int64_t n0, int64_t nr, float *dst, int64_t ld, int64_t nrv) {
  const int64_t H = s->H, W = s->W, KH = s->KH, KW = s->KW, OW = s->OW;
  if (KH == 1 && KW == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_t == 0 &&
      s->pad_l == 0 && s->pad_b == 0 && s->pad_r == 0 && H == s->OH && W == OW) {
    for (int64_t k = 0; k < kc; k++) {
      float *d = dst + k * ld;
      memcpy(d, xg + (k0 + k) * H * W + n0, (size_t)nr * sizeof(float));
      for (int64_t j = nr; j < nrv; j++) d[j] = 0.0f;
    }
    return;
  }
  seg_t seg[T_MAX];
  int64_t nseg = 0;
  for (int64_t j = 0; j < nr;) {
    int64_t n = n0 + j, oy = n / OW, ox = n % OW, len = gk_min(nr - j, OW - ox);
    seg[nseg++] = (seg_t){oy, ox, len, j};
    j += len;
  }
  int64_t c = k0 / (KH * KW), kh = k0 / KW % KH, kw = k0 % KW;
  for (int64_t k = 0; k < kc; k++) {
    float *d = dst + k * ld;
    const float *xc = xg + c * H * W;
    for (int64_t q = 0; q < nseg; q++) {
      const seg_t *sg = &seg[q];
      float *dd = d + sg->j;
      int64_t iy = sg->oy * s->stride_h - s->pad_t + kh * s->dil_h;
      if (iy < 0 || iy >= H) {
        for (int64_t t = 0; t < sg->len; t++) dd[t] = 0.0f;
        continue;
      }
      const float *xr = xc + iy * W;
      int64_t sw = s->stride_w, ix0 = sg->ox * sw - s->pad_l + kw * s->dil_w;
      /* t in [tlo, thi) reads inside the row: 0 <= ix0 + t * sw < W */
      int64_t tlo = ix0 >= 0 ? 0 : gk_min(sg->len, gk_cdiv(-ix0, sw));
      int64_t thi = ix0 >= W ? 0 : gk_min(sg->len, gk_cdiv(W - ix0, sw));
      if (thi < tlo) thi = tlo;
      for (int64_t t = 0; t < tlo; t++) dd[t] = 0.0f;
      if (sw == 1)
        memcpy(dd + tlo, xr + (ix0 + tlo), (size_t)(thi - tlo) * sizeof(float));
      else
        for (int64_t t = tlo; t < thi; t++) dd[t] = xr[ix0 + t * sw];
      for (int64_t t = thi; t < sg->len; t++) dd[t] = 0.0f;
    }
    if (++kw == KW) {
      kw = 0;
      if (++kh == KH) kh = 0, c++;
    }
  }
  for (int64_t k = 0; k < kc; k++)
    for (int64_t j = nr; j < nrv; j++) dst[k * ld + j] = 0.0f;
}

/* Longest K a pointwise full tile takes in one pass. */
enum { PW_KMAX = 1024 };

/* x's channel rows at b + k * b_ks, columns [0, nrv) of rows [k0, k0 + kc)
 * into dst (ld GK_NR), zero past nr. */
static void pw_pack(const float *b, int64_t b_ks, int64_t k0, int64_t kc, int64_t nr,
                    int64_t nrv, float *dst) {
  for (int64_t k = 0; k < kc; k++) {
    float *d = dst + k * GK_NR;
    memcpy(d, b + (k0 + k) * b_ks, (size_t)nr * sizeof(float));
    for (int64_t j = nr; j < nrv; j++) d[j] = 0.0f;
  }
}

/* One panel of nr (<= NR) columns of a pointwise conv with simple act and kg
 * <= PW_KMAX, micro-panels [i_beg, i_end), the one routine for cg_task and
 * the fused pairs: B row k at b + k * b_ks, output columns j0 .. j0 + nr of
 * ep. Full micro-panels over whole vectors run over all of K in registers;
 * the rest in KC blocks through a packed panel. */
static void pw_panel(const float *b, int64_t b_ks, int64_t kg, int64_t mg, const float *wp,
                     const gk_epi_t *ep, int64_t j0, int64_t nr, int64_t i_beg, int64_t i_end,
                     int64_t back, float *bpack, float *tile) {
  const int64_t nkb = gk_cdiv(kg, GK_KC), pad = gk_cdiv(nr, 16) * 16 - nr;
  /* A last panel that is not whole vectors steps back over columns this
   * caller computed before it (back of them), when there are enough, so it
   * runs on full vectors: those columns are recomputed bit for bit. */
  if (pad && back >= pad) {
    b -= pad;
    j0 -= pad;
    nr += pad;
  }
  if (nr % 16 == 0) {
    for (int64_t i = i_beg; i < i_end; i++) {
      int64_t mr = gk_min(GK_MR, mg - i * GK_MR);
      const float *a = wp + i * kg * GK_MR;
      if (mr == GK_MR) {
        if (nr == GK_NR)
          gk_tile_full(kg, a, 1, GK_MR, b, b_ks, ep, i * GK_MR, j0, 1, 1);
        else if (nr == 32)
          gk_tile_full_2(kg, a, 1, GK_MR, b, b_ks, ep, i * GK_MR, j0);
        else
          gk_tile_full_1(kg, a, 1, GK_MR, b, b_ks, ep, i * GK_MR, j0);
        continue;
      }
      for (int64_t kb = 0; kb < nkb; kb++) {
        int64_t k0 = kb * GK_KC, kc = gk_min(GK_KC, kg - k0);
        pw_pack(b, b_ks, k0, kc, nr, GK_NR, bpack);
        gk_tile(mr, nr, kc, a + k0 * GK_MR, 1, GK_MR, bpack, ep, i * GK_MR, j0, kb == 0,
                kb == nkb - 1, tile);
      }
    }
    return;
  }
  for (int64_t kb = 0; kb < nkb; kb++) {
    int64_t k0 = kb * GK_KC, kc = gk_min(GK_KC, kg - k0);
    pw_pack(b, b_ks, k0, kc, nr, gk_cdiv(nr, 16) * 16, bpack);
    for (int64_t i = i_beg; i < i_end; i++) {
      int64_t mr = gk_min(GK_MR, mg - i * GK_MR);
      gk_tile(mr, nr, kc, wp + i * kg * GK_MR + k0 * GK_MR, 1, GK_MR, bpack, ep, i * GK_MR, j0,
              kb == 0, kb == nkb - 1, tile);
    }
  }
}


/* Task t is (group, N panel, M chunk); K runs in increasing KC blocks so every
 * element's sum has one order whatever the split. */
static void cg_task(void *vctx, int64_t t0, int64_t t1) {
  const cg_ctx_t *c = vctx;
  const sinter_k_conv_shape_t *s = c->s;
  _Alignas(64) float bpack[GK_KC * GK_NR];
  _Alignas(64) float tile[GK_MR * GK_NR];
  const int64_t mg = s->M / s->group, cg = s->C / s->group, kg = kg_of(s), npm = m_panels(s);
  const int64_t ohw = s->OH * s->OW, nkb = kg ? gk_cdiv(kg, GK_KC) : 1;
  const int pointwise = s->KH == 1 && s->KW == 1 && s->stride_h == 1 && s->stride_w == 1 &&
                        s->pad_t == 0 && s->pad_l == 0 && s->pad_b == 0 && s->pad_r == 0 &&
                        s->H == s->OH && s->W == s->OW;
  const int pw_path = pointwise && gk_act_is_simple(c->act) && kg <= PW_KMAX;
  for (int64_t t = t0; t < t1; t++) {
    int64_t g = t / (c->np * c->mch), rest = t % (c->np * c->mch);
    int64_t p = rest / c->mch, mc = rest % c->mch;
    /* the last task also takes the narrow last panel (see cg_merge_tail) */
    int64_t p_end = p == c->np - 1 && c->merge_tail ? p + 2 : p + 1;
    for (int64_t pp = p; pp < p_end; pp++) {
      int64_t n0 = pp * GK_NR, nr = gk_min(GK_NR, ohw - n0);
      int64_t i_beg = mc * c->mpc, i_end = gk_min(npm, i_beg + c->mpc);
      gk_epi_t e = {.C = c->y + g * mg * ohw,
                    .ldc = ohw,
                    .R = c->z ? c->z + g * mg * ohw : NULL,
                    .bias_m = c->bias ? c->bias + g * mg : NULL,
                    .act = c->act,
                    .p0 = c->p0,
                    .p1 = c->p1};
      const float *xg = c->x + g * cg * s->H * s->W;
      if (pw_path) {
        /* x's rows are the B panel already: full tiles read them in place, over
         * all of K at once so C is written once (the panel, K x NR floats, sits
         * in L2 while the weight micro-panels go by) */
        pw_panel(xg + n0, ohw, kg, mg, c->wp + g * npm * kg * GK_MR, &e, n0, nr, i_beg, i_end,
                 pp > p ? GK_NR : 0, bpack, tile);
        continue;
      }
      if (pointwise && nr == GK_NR && gk_act_is_simple(c->act)) {
        /* x's rows are the B panel already: full tiles read them in place */
        for (int64_t kb = 0; kb < nkb; kb++) {
          int64_t k0 = kb * GK_KC, kc = gk_min(GK_KC, kg - k0);
          for (int64_t i = i_beg; i < i_end; i++) {
            int64_t mr = gk_min(GK_MR, mg - i * GK_MR);
            const float *a = c->wp + (g * npm + i) * kg * GK_MR + k0 * GK_MR;
            if (mr == GK_MR) {
              gk_tile_full(kc, a, 1, GK_MR, xg + k0 * ohw + n0, ohw, &e, i * GK_MR, n0, kb == 0,
                           kb == nkb - 1);
            } else {
              pack_cols(s, xg, k0, kc, n0, nr, bpack, GK_NR, GK_NR);
              gk_tile(mr, nr, kc, a, 1, GK_MR, bpack, &e, i * GK_MR, n0, kb == 0, kb == nkb - 1,
                      tile);
            }
          }
        }
        continue;
      }
      for (int64_t kb = 0; kb < nkb; kb++) {
        int64_t k0 = kb * GK_KC, kc = gk_min(GK_KC, kg - k0);
        pack_cols(s, xg, k0, kc, n0, nr, bpack, GK_NR, gk_cdiv(nr, 16) * 16);
        for (int64_t i = i_beg; i < i_end; i++) {
          int64_t mr = gk_min(GK_MR, mg - i * GK_MR);
          const float *a = c->wp + (g * npm + i) * kg * GK_MR + k0 * GK_MR;
          gk_tile(mr, nr, kc, a, 1, GK_MR, bpack, &e, i * GK_MR, n0, kb == 0, kb == nkb - 1, tile);
        }
      }
    }
  }
}

/* ---- direct convolution ----------------------------------------------------------------- */

/* No im2col: x is copied once into zero-padded phase planes in scratch, plane
 * (a, b) of channel c holding padded pixel (sh * i + a, sw * j + b) at i * pw
 * + j. Output (oy, ox) is computed at position p = oy * pw + ox of a
 * flattened grid, and tap (kh, kw) of channel c reads the plane of phase
 * (kh * dh % sh, kw * dw % sw) at p + (kh * dh / sh) * pw + kw * dw / sw: a
 * constant shift of p, so 16 consecutive positions are one vector load
 * whatever the stride. Positions with ox >= OW are junk, computed and dropped.
 * The register tile is MR output channels (weights in the im2col plan's
 * MR-row micro-panels, rows past M zero) x up to NR positions, over all of K
 * in registers. */

typedef struct dk_ctx_s {
  const sinter_k_conv_shape_t *s;
  const float *x, *wp, *bias, *z;
  float *y, *pl;
  int32_t act;
  float p0, p1;
  dk_geom_t g;
  int64_t n, np, mch, mpc; /* flattened positions, panels, M chunks, panels per chunk */
  int m_major;              /* tasks run M chunk by M chunk (else panel by panel) */
} dk_ctx_t;

/* Task t fills the planes of channel t. */
static void dk_fill_task(void *vctx, int64_t c0, int64_t c1) {
  const dk_ctx_t *c = vctx;
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t H = s->H, W = s->W, sh = s->stride_h, sw = s->stride_w, pw = c->g.pw;
  for (int64_t ch = c0; ch < c1; ch++) {
    const float *xc = c->x + ch * H * W;
    float *d = c->pl + ch * c->g.cs;
    for (int64_t a = 0; a < sh; a++)
      for (int64_t b = 0; b < sw; b++)
        for (int64_t i = 0; i < c->g.ph; i++, d += pw) {
          int64_t iy = sh * i + a - s->pad_t;
          if (iy < 0 || iy >= H) {
            zero_floats(d, pw);
            continue;
          }
          const float *xr = xc + iy * W;
          /* j in [jlo, jhi) reads inside the row: 0 <= sw * j + b - pad_l < W */
          int64_t ix0 = b - s->pad_l;
          int64_t jlo = ix0 >= 0 ? 0 : gk_min(pw, gk_cdiv(-ix0, sw));
          int64_t jhi = ix0 >= W ? 0 : gk_min(pw, gk_cdiv(W - ix0, sw));
          if (jhi < jlo) jhi = jlo;
          zero_floats(d, jlo);
          int64_t j = jlo;
          if (sw == 1) {
            copy_floats(d + jlo, xr + ix0 + jlo, jhi - jlo);
            j = jhi;
          } else if (sw == 2) {
            /* 16 outputs from two vector loads and one shuffle */
            for (; j + 16 <= jhi && ix0 + 2 * j + 32 <= W; j += 16) {
              gk_v16f lo, hi;
              GK_LOAD(lo, xr + ix0 + 2 * j);
              GK_LOAD(hi, xr + ix0 + 2 * j + 16);
              gk_v16f ev = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
                                                   22, 24, 26, 28, 30);
              memcpy(d + j, &ev, sizeof ev);
            }
          }
          for (; j < jhi; j++) d[j] = xr[ix0 + sw * j];
          zero_floats(d + jhi, pw - jhi);
        }
  }
}

/* Where tap (kh, kw) of a position's window starts in a channel's phase
 * planes (in: the channel's first plane; ps: plane size, pw: plane pitch). */
static inline __attribute__((always_inline)) const float *dk_tap(
    const float *in, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
    int64_t ps, int64_t pw) {
  return in + (kh * dh % sh * sw + kw * dw % sw) * ps + kh * dh / sh * pw + kw * dw / sw;
}

/* tile[r * NR + 16 * v + l] = conv at position p0 + 16 * v + l for output
 * channel r of micro-panel a; the geometry comes in as arguments so the
 * common windows pass constants and the tap loops unroll. */
static inline __attribute__((always_inline)) void dk_ukr_impl(
    int64_t C, const float *a, const float *in, int64_t cs, int64_t pw, int64_t ps, float *tile,
    int first, const int NV, const int64_t KH, const int64_t KW, const int64_t sh, const int64_t sw,
    const int64_t dh, const int64_t dw) {
  gk_v16f acc[GK_MR][GK_NV];
  for (int r = 0; r < GK_MR; r++)
    for (int v = 0; v < NV; v++) {
      acc[r][v] = (gk_v16f){0};
      if (!first) GK_LOAD(acc[r][v], tile + r * GK_NR + 16 * v);
    }
  for (int64_t c = 0; c < C; c++, in += cs) {
    for (int64_t kh = 0; kh < KH; kh++)
      for (int64_t kw = 0; kw < KW; kw++, a += GK_MR) {
        const float *src = dk_tap(in, kh, kw, sh, sw, dh, dw, ps, pw);
        gk_v16f xv[GK_NV];
        for (int v = 0; v < NV; v++) GK_LOAD(xv[v], src + 16 * v);
        for (int r = 0; r < GK_MR; r++) {
          float as = a[r];
          gk_v16f av = GK_SPLAT(as);
          for (int v = 0; v < NV; v++) acc[r][v] += av * xv[v];
        }
      }
  }
  for (int r = 0; r < GK_MR; r++)
    for (int v = 0; v < NV; v++) memcpy(tile + r * GK_NR + 16 * v, &acc[r][v], 64);
}

#define DK_UKR(NAME, KH, KW, SH, SW)                                                           \
  static void NAME(const sinter_k_conv_shape_t *s, int64_t C, int first, int nv, const float *a, \
                   const float *in, int64_t cs, int64_t pw, int64_t ps, float *tile) {         \
    (void)s;                                                                                   \
    if (nv == 3)                                                                               \
      dk_ukr_impl(C, a, in, cs, pw, ps, tile, first, 3, KH, KW, SH, SW, 1, 1);                     \
    else if (nv == 2)                                                                          \
      dk_ukr_impl(C, a, in, cs, pw, ps, tile, first, 2, KH, KW, SH, SW, 1, 1);                     \
    else                                                                                       \
      dk_ukr_impl(C, a, in, cs, pw, ps, tile, first, 1, KH, KW, SH, SW, 1, 1);                     \
  }
DK_UKR(dk_ukr_3x3s1, 3, 3, 1, 1)
DK_UKR(dk_ukr_3x3s2, 3, 3, 2, 2)
#undef DK_UKR

static void dk_ukr_any(const sinter_k_conv_shape_t *s, int64_t C, int first, int nv,
                       const float *a, const float *in, int64_t cs, int64_t pw, int64_t ps,
                       float *tile) {
  const int64_t KH = s->KH, KW = s->KW, sh = s->stride_h, sw = s->stride_w;
  const int64_t dh = s->dil_h, dw = s->dil_w;
  if (nv == 3)
    dk_ukr_impl(C, a, in, cs, pw, ps, tile, first, 3, KH, KW, sh, sw, dh, dw);
  else if (nv == 2)
    dk_ukr_impl(C, a, in, cs, pw, ps, tile, first, 2, KH, KW, sh, sw, dh, dw);
  else
    dk_ukr_impl(C, a, in, cs, pw, ps, tile, first, 1, KH, KW, sh, sw, dh, dw);
}

/* Input channels per block: a block's slice of the planes stays in L1 while
 * every micro-panel of the chunk sweeps it; partial sums wait in part. */
enum { DK_CB = 16, DK_MPC = 16, DK_SMALL_K = 32 };

/* Task t is (N panel, M chunk of at most DK_MPC micro-panels). */
static void dk_task(void *vctx, int64_t t0, int64_t t1) {
  const dk_ctx_t *c = vctx;
  const sinter_k_conv_shape_t *s = c->s;
  _Alignas(64) float part[DK_MPC * GK_MR * GK_NR];
  const int64_t M = s->M, C = s->C, OW = s->OW, ohw = s->OH * s->OW, kg = kg_of(s);
  const int64_t pw = c->g.pw, taps = s->KH * s->KW;
  const int is3x3 = s->KH == 3 && s->KW == 3 && s->dil_h == 1 && s->dil_w == 1;
  void (*ukr)(const sinter_k_conv_shape_t *, int64_t, int, int, const float *, const float *,
              int64_t, int64_t, int64_t, float *) = dk_ukr_any;
  if (is3x3 && s->stride_h == 1 && s->stride_w == 1) ukr = dk_ukr_3x3s1;
  if (is3x3 && s->stride_h == 2 && s->stride_w == 2) ukr = dk_ukr_3x3s2;
  for (int64_t t = t0; t < t1; t++) {
    int64_t p = c->m_major ? t % c->np : t / c->mch, mc = c->m_major ? t / c->np : t % c->mch;
    int64_t q0 = p * GK_NR, nq = gk_min(GK_NR, c->n - q0);
    int nv = (int)gk_cdiv(nq, 16);
    int64_t i_beg = mc * c->mpc, i_end = gk_min(gk_cdiv(M, GK_MR), i_beg + c->mpc);
    for (int64_t c0 = 0; c0 < C; c0 += DK_CB) {
      int64_t cb = gk_min(DK_CB, C - c0);
      for (int64_t i = i_beg; i < i_end; i++)
        ukr(s, cb, c0 == 0, nv, c->wp + i * kg * GK_MR + c0 * taps * GK_MR,
            c->pl + c0 * c->g.cs + q0, c->g.cs, pw, c->g.ps, part + (i - i_beg) * GK_MR * GK_NR);
    }
    for (int64_t i = i_beg; i < i_end; i++) {
      float *tile = part + (i - i_beg) * GK_MR * GK_NR;
      int64_t mr = gk_min(GK_MR, M - i * GK_MR);
      /* the tile's positions, one output row's run at a time */
      for (int64_t q = q0; q < q0 + nq;) {
        int64_t oy = q / pw, ox = q % pw;
        if (ox >= OW) {
          q += pw - ox;
          continue;
        }
        int64_t len = gk_min(q0 + nq - q, OW - ox);
        for (int64_t r = 0; r < mr; r++) {
          int64_t m = i * GK_MR + r;
          float *tr = tile + r * GK_NR + (q - q0);
          int64_t o = m * ohw + oy * OW + ox;
          if (c->z)
            for (int64_t j = 0; j < len; j++) tr[j] += c->z[o + j];
          gk_act_row(c->y + o, tr, len, c->bias ? c->bias[m] : 0.0f, c->act, c->p0, c->p1);
        }
        q += len;
      }
    }
  }
}

/* The context of the direct plans, and x copied into its phase planes. */
static void dk_prepare(dk_ctx_t *c, const sinter_k_conv_shape_t *s, const float *x,
                       const float *wp, const float *bias, const float *z, float *y, float *pl,
                       int32_t act, float p0, float p1, const sinter_art_exec_t *exec) {
  *c = (dk_ctx_t){.s = s, .x = x, .wp = wp, .bias = bias, .z = z, .y = y, .pl = pl, .act = act,
                  .p0 = p0, .p1 = p1};
  dk_geom(s, &c->g);
  zero_floats(pl + s->C * c->g.cs, DK_SLACK);
  if (exec && exec->num_threads > 1 && s->C > 1)
    exec->parallel_for(exec, s->C, 1, dk_fill_task, c);
  else
    dk_fill_task(c, 0, s->C);
}

static void conv_direct(const sinter_k_conv_shape_t *s, const float *x, const float *wp,
                        const float *bias, const float *z, float *y, float *pl, int32_t act,
                        float p0, float p1, const sinter_art_exec_t *exec) {
  const int threaded = exec && exec->num_threads > 1;
  dk_ctx_t c;
  dk_prepare(&c, s, x, wp, bias, z, y, pl, act, p0, p1, exec);
  int64_t npm = gk_cdiv(s->M, GK_MR);
  c.n = (s->OH - 1) * c.g.pw + s->OW;
  c.np = gk_cdiv(c.n, GK_NR);
  c.mch = gk_cdiv(npm, DK_MPC);
  c.mpc = gk_cdiv(npm, c.mch);
  if (s->C * s->KH * s->KW <= DK_SMALL_K) {
    /* A first layer (a few input channels): one micro-panel at a time over
     * the whole map, so the output is written as 8 streams, not 8 per
     * micro-panel (32 for 32 channels), which the hardware cannot prefetch
     * for writing; the small planes stay in cache between the passes. */
    c.mch = npm;
    c.mpc = 1;
    c.m_major = 1;
  }
  if (threaded) {
    int64_t want = 4 * (int64_t)exec->num_threads;
    if (c.np * c.mch < want) {
      c.mch = gk_min(npm, gk_cdiv(want, c.np));
      c.mpc = gk_cdiv(npm, c.mch);
      c.mch = gk_cdiv(npm, c.mpc);
    }
  }
  int64_t nt = c.np * c.mch;
  if (threaded && nt > 1)
    exec->parallel_for(exec, nt, 1, dk_task, &c);
  else
    dk_task(&c, 0, nt);
}

/* ---- channel-vector direct convolution ----------------------------------------------------- */

/* The same phase planes as the direct plan, but the register tile is P <= 6
 * consecutive output positions of one row x 64 output channels (4 vectors of
 * the weights packed [M / 64][C][KH * KW][64]): per tap, 4 aligned weight
 * loads and P broadcast input floats feed 4 * P FMAs, and a row's tiles cover
 * it exactly, so no lane computes junk whatever the width (7x7 maps). Input
 * channels go in DT_CB blocks so the block's weights stay in L1 while all
 * tiles of a band of rows use them; partial sums wait on the stack as
 * [position][64] and are transposed 16 x 16 into y at the end. */
enum { DT_CB = 8, DT_P = 6 };

static inline __attribute__((always_inline)) void dt_ukr_impl(
    int64_t C, const float *a, const float *in, int64_t cs, int64_t pw, int64_t ps, float *pt,
    int first, const int P, const int64_t KH, const int64_t KW, const int64_t sh,
    const int64_t sw, const int64_t dh, const int64_t dw) {
  gk_v16f acc[DT_P][4];
  for (int r = 0; r < P; r++)
    for (int v = 0; v < 4; v++) {
      acc[r][v] = (gk_v16f){0};
      if (!first) GK_LOAD(acc[r][v], pt + r * DT_MB + 16 * v);
    }
  for (int64_t c = 0; c < C; c++, in += cs) {
    for (int64_t kh = 0; kh < KH; kh++)
      for (int64_t kw = 0; kw < KW; kw++, a += DT_MB) {
        const float *src = dk_tap(in, kh, kw, sh, sw, dh, dw, ps, pw);
        gk_v16f wv[4];
        for (int v = 0; v < 4; v++) GK_LOAD(wv[v], a + 16 * v);
        for (int r = 0; r < P; r++) {
          float xs = src[r];
          gk_v16f xv = GK_SPLAT(xs);
          for (int v = 0; v < 4; v++) acc[r][v] += xv * wv[v];
        }
      }
  }
  for (int r = 0; r < P; r++)
    for (int v = 0; v < 4; v++) memcpy(pt + r * DT_MB + 16 * v, &acc[r][v], 64);
}

#define DT_CASES(KH, KW, SH, SW, DH, DW)                                                  \
  switch (P) {                                                                            \
    case 6: dt_ukr_impl(C, a, in, cs, pw, ps, pt, first, 6, KH, KW, SH, SW, DH, DW); break; \
    case 5: dt_ukr_impl(C, a, in, cs, pw, ps, pt, first, 5, KH, KW, SH, SW, DH, DW); break; \
    case 4: dt_ukr_impl(C, a, in, cs, pw, ps, pt, first, 4, KH, KW, SH, SW, DH, DW); break; \
    case 3: dt_ukr_impl(C, a, in, cs, pw, ps, pt, first, 3, KH, KW, SH, SW, DH, DW); break; \
    case 2: dt_ukr_impl(C, a, in, cs, pw, ps, pt, first, 2, KH, KW, SH, SW, DH, DW); break; \
    default: dt_ukr_impl(C, a, in, cs, pw, ps, pt, first, 1, KH, KW, SH, SW, DH, DW); break; \
  }
typedef void (*dt_ukr_fn)(const sinter_k_conv_shape_t *, int64_t, int, int, const float *,
                          const float *, int64_t, int64_t, int64_t, float *);
#define DT_UKR(NAME, KH, KW, SH, SW)                                                          \
  static void NAME(const sinter_k_conv_shape_t *s, int64_t C, int first, int P,               \
                   const float *a, const float *in, int64_t cs, int64_t pw, int64_t ps,       \
                   float *pt) {                                                               \
    (void)s;                                                                                  \
    DT_CASES(KH, KW, SH, SW, 1, 1)                                                            \
  }
DT_UKR(dt_ukr_3x3s1, 3, 3, 1, 1)
DT_UKR(dt_ukr_3x3s2, 3, 3, 2, 2)
DT_UKR(dt_ukr_7x7s2, 7, 7, 2, 2)
#undef DT_UKR
static void dt_ukr_any(const sinter_k_conv_shape_t *s, int64_t C, int first, int P,
                       const float *a, const float *in, int64_t cs, int64_t pw, int64_t ps,
                       float *pt) {
  DT_CASES(s->KH, s->KW, s->stride_h, s->stride_w, s->dil_h, s->dil_w)
}
#undef DT_CASES

/* Swaps the off-diagonal b x b blocks of every 2b x 2b block of rows v[i],
 * v[i + b]: after b = 8, 4, 2, 1 the 16 x 16 matrix is transposed. */
#define DT_SWAP(B, ...)                                                            \
  for (int i = 0; i < 16; i++)                                                     \
    if (!(i & (B))) {                                                              \
      gk_v16f lo_ = __builtin_shufflevector(v[i], v[i + (B)], __VA_ARGS__);        \
      gk_v16f hi_ = __builtin_shufflevector(v[i], v[i + (B)], DT_HI_##B);          \
      v[i] = lo_, v[i + (B)] = hi_;                                                \
    }
#define DT_HI_8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define DT_HI_4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define DT_HI_2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define DT_HI_1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
static inline void dt_transpose16(gk_v16f *v) {
  DT_SWAP(8, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
  DT_SWAP(4, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27)
  DT_SWAP(2, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29)
  DT_SWAP(1, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30)
}
#undef DT_SWAP
#undef DT_HI_8
#undef DT_HI_4
#undef DT_HI_2
#undef DT_HI_1

/* Task t is (band of rows, 64-channel block). */
static void dt_task(void *vctx, int64_t t0, int64_t t1) {
  const dk_ctx_t *c = vctx;
  const sinter_k_conv_shape_t *s = c->s;
  _Alignas(64) float part[DT_POS * DT_MB];
  const int64_t C = s->C, OW = s->OW, OH = s->OH, ohw = OH * OW, taps = s->KH * s->KW;
  const int64_t pw = c->g.pw, rows = DT_POS / OW, nmb = s->M / DT_MB;
  const int is3x3 = s->KH == 3 && s->KW == 3 && s->dil_h == 1 && s->dil_w == 1;
  dt_ukr_fn ukr = dt_ukr_any;
  if (is3x3 && s->stride_h == 1 && s->stride_w == 1) ukr = dt_ukr_3x3s1;
  if (is3x3 && s->stride_h == 2 && s->stride_w == 2) ukr = dt_ukr_3x3s2;
  if (s->KH == 7 && s->KW == 7 && s->dil_h == 1 && s->dil_w == 1 && s->stride_h == 2 &&
      s->stride_w == 2)
    ukr = dt_ukr_7x7s2;
  /* a row in equal tiles of at most DT_P positions */
  const int64_t ntile = gk_cdiv(OW, DT_P), tbase = OW / ntile, textra = OW % ntile;
  for (int64_t t = t0; t < t1; t++) {
    int64_t band = t / nmb, mb = t % nmb;
    int64_t oy0 = band * rows, nr = gk_min(rows, OH - oy0), npos = nr * OW;
    const float *wb = c->wp + mb * C * taps * DT_MB;
    for (int64_t c0 = 0; c0 < C; c0 += DT_CB) {
      int64_t cb = gk_min(DT_CB, C - c0);
      for (int64_t r = 0; r < nr; r++)
        for (int64_t ti = 0, ox = 0; ti < ntile; ti++) {
          int P = (int)(tbase + (ti < textra));
          ukr(s, cb, c0 == 0, P, wb + c0 * taps * DT_MB, c->pl + c0 * c->g.cs + (oy0 + r) * pw + ox,
              c->g.cs, pw, c->g.ps, part + (r * OW + ox) * DT_MB);
          ox += P;
        }
    }
    /* the band's outputs of one channel are one run of y */
    for (int64_t q0 = 0; q0 < npos; q0 += 16) {
      int64_t len = gk_min(16, npos - q0);
      for (int64_t v0 = 0; v0 < DT_MB; v0 += 16) {
        gk_v16f v[16];
        for (int i = 0; i < 16; i++) {
          v[i] = (gk_v16f){0};
          if (i < len) GK_LOAD(v[i], part + (q0 + i) * DT_MB + v0);
        }
        dt_transpose16(v);
        for (int l = 0; l < 16; l++) {
          int64_t m = mb * DT_MB + v0 + l, o = m * ohw + oy0 * OW + q0;
          _Alignas(64) float tmp[16];
          memcpy(tmp, &v[l], sizeof tmp);
          if (c->z)
            for (int64_t j = 0; j < len; j++) tmp[j] += c->z[o + j];
          gk_act_row(c->y + o, tmp, len, c->bias ? c->bias[m] : 0.0f, c->act, c->p0, c->p1);
        }
      }
    }
  }
}

static void conv_dt(const sinter_k_conv_shape_t *s, const float *x, const float *wp,
                    const float *bias, const float *z, float *y, float *pl, int32_t act, float p0,
                    float p1, const sinter_art_exec_t *exec) {
  const int threaded = exec && exec->num_threads > 1;
  dk_ctx_t c;
  dk_prepare(&c, s, x, wp, bias, z, y, pl, act, p0, p1, exec);
  int64_t nt = gk_cdiv(s->OH, DT_POS / s->OW) * (s->M / DT_MB);
  if (threaded && nt > 1)
    exec->parallel_for(exec, nt, 1, dt_task, &c);
  else
    dt_task(&c, 0, nt);
}

/* ---- transposed plan ------------------------------------------------------------------- */

typedef struct ct_ctx_s {
  const sinter_k_conv_shape_t *s;
  const float *xg, *wpg, *bias, *z; /* this group's */
  float *y, *col;
  int32_t act;
  float p0, p1;
} ct_ctx_t;

/* Task t packs im2col rows [t * KC, t * KC + KC) into col (ld t_ld). */
static void ct_pack_task(void *vctx, int64_t t0, int64_t t1) {
  const ct_ctx_t *c = vctx;
  int64_t kg = kg_of(c->s), ld = t_ld(c->s), ohw = c->s->OH * c->s->OW;
  for (int64_t t = t0; t < t1; t++) {
    int64_t k0 = t * GK_KC, kc = gk_min(GK_KC, kg - k0);
    pack_cols(c->s, c->xg, k0, kc, 0, ohw, c->col + k0 * ld, ld, ld);
  }
}

/* Task t is the weight panel of output channels [t * NR, t * NR + NR): all
 * positions in tiles of at most MR, over K in CT_KC blocks (the partial sums
 * wait in part), and the tiles are stored transposed. A tile needs 3 vectors
 * of the panel per 21 FMAs, which L2 delivers, so the block is as long as
 * common K gets: measured on 7x7 maps, K = 960 in one pass is 10% faster than
 * in blocks of 128 that stay in L1. */
enum { CT_KC = 1024 };

/* Stores a panel's sums, part[r * NR + j] for position r and channel j0 + j,
 * transposed 16 x 16 in registers: y = act((part + z) + bias) per channel
 * row, the same operations in the same order as one element at a time. */
static inline __attribute__((always_inline)) void ct_store(const ct_ctx_t *c, const float *part,
                                                           int64_t j0, int64_t nr, int64_t ohw,
                                                           int32_t act, float p0, float p1) {
  for (int64_t jv = 0; jv < nr; jv += 16) {
    int64_t nj = gk_min(16, nr - jv);
    for (int64_t r0 = 0; r0 < ohw; r0 += 16) {
      int64_t nrow = gk_min(16, ohw - r0);
      gk_v16f v[16];
      for (int i = 0; i < 16; i++) {
        v[i] = (gk_v16f){0};
        if (i < nrow) GK_LOAD(v[i], part + (r0 + i) * GK_NR + jv);
      }
      dc_transpose(v);
      for (int64_t j = 0; j < nj; j++) {
        int64_t m = j0 + jv + j;
        gk_v16f x = v[j], t;
        if (c->z) {
          dc_load_n(&t, c->z + m * ohw + r0, nrow);
          x += t;
        }
        float b = c->bias ? c->bias[m] : 0.0f;
        gk_v16f bv = GK_SPLAT(b);
        x += bv;
        if (gk_act_is_simple(act))
          GK_ACT_VEC(x, act, p0, p1);
        else
          for (int l = 0; l < 16; l++) x[l] = sinter_k_act(x[l], act, p0, p1);
        dc_store_n(c->y + m * ohw + r0, &x, nrow);
      }
    }
  }
}

static void ct_task(void *vctx, int64_t t0, int64_t t1) {
  const ct_ctx_t *c = vctx;
  const sinter_k_conv_shape_t *s = c->s;
  _Alignas(64) float tile[GK_MR * GK_NR];
  _Alignas(64) float part[T_MAX * GK_NR];
  const int64_t kg = kg_of(s), ld = t_ld(s), ohw = s->OH * s->OW, mg = s->M / s->group;
  const int32_t act = c->act;
  const float p0 = c->p0, p1 = c->p1;
  /* equal tiles: 49 positions are 7 tiles of 7, not 6 of 8 and one of 1 */
  const int64_t ntile = gk_cdiv(ohw, GK_MR), step = gk_cdiv(ohw, ntile);
  for (int64_t p = t0; p < t1; p++) {
    int64_t j0 = p * GK_NR, nr = gk_min(GK_NR, mg - j0);
    for (int64_t k0 = 0; k0 < kg; k0 += CT_KC) {
      int64_t kc = gk_min(CT_KC, kg - k0);
      const float *b = c->wpg + p * kg * GK_NR + k0 * GK_NR;
      for (int64_t i0 = 0; i0 < ohw; i0 += step) {
        int64_t mr = gk_min(step, ohw - i0);
        float *pt = part + i0 * GK_NR;
        gk_ukr(mr, nr, kc, c->col + k0 * ld + i0, 1, ld, b, k0 == 0 ? pt : tile);
        if (k0 > 0)
          for (int64_t q = 0; q < mr * GK_NR; q++) pt[q] += tile[q];
      }
    }
    ct_store(c, part, j0, nr, ohw, act, p0, p1);
  }
}

static void conv_transposed(const sinter_k_conv_shape_t *s, const float *x, const float *wp,
                            const float *bias, const float *z, float *y, float *col, int32_t act,
                            float p0, float p1, const sinter_art_exec_t *exec) {
  const int64_t mg = s->M / s->group, cg = s->C / s->group, kg = kg_of(s), ohw = s->OH * s->OW;
  const size_t per_group = sinter_k_gemm_f32_packed_size(kg, mg) / sizeof(float);
  const int threaded = exec && exec->num_threads > 1;
  for (int64_t g = 0; g < s->group; g++) {
    ct_ctx_t c = {s,
                  x + g * cg * s->H * s->W,
                  wp + g * per_group,
                  bias ? bias + g * mg : NULL,
                  z ? z + g * mg * ohw : NULL,
                  y + g * mg * ohw,
                  col,
                  act,
                  p0,
                  p1};
    int64_t nkb = gk_cdiv(kg, GK_KC), np = gk_cdiv(mg, GK_NR);
    if (threaded && nkb > 1)
      exec->parallel_for(exec, nkb, 1, ct_pack_task, &c);
    else
      ct_pack_task(&c, 0, nkb);
    if (threaded && np > 1)
      exec->parallel_for(exec, np, 1, ct_task, &c);
    else
      ct_task(&c, 0, np);
  }
}

void sinter_k_conv2d_f32(const sinter_k_conv_shape_t *s, const float *x, const float *wp,
                         const float *bias, const float *z, float *y, void *scratch, int32_t act,
                         float p0, float p1, const sinter_art_exec_t *exec) {
  int threaded = exec && exec->num_threads > 1;
  if (s->M <= 0 || s->OH <= 0 || s->OW <= 0) return;
  if (is_depthwise(s)) {
    dw_ctx_t c = {s, x, wp, bias, z, y, act, p0, p1};
    if (use_dv(s)) {
      if (threaded)
        exec->parallel_for(exec, s->C, 1, dv_task, &c);
      else
        dv_task(&c, 0, s->C);
      return;
    }
    if (use_dwc(s)) {
      int64_t nt = s->C / 16 + s->C % 16;
      if (threaded)
        exec->parallel_for(exec, nt, 1, dc_task, &c);
      else
        dc_task(&c, 0, nt);
      return;
    }
    dl_plan_t pl;
    void (*task)(void *, int64_t, int64_t) = dl_plan(s, &pl) ? dl_task : dw_task;
    if (threaded)
      exec->parallel_for(exec, s->C, 1, task, &c);
    else
      task(&c, 0, s->C);
    return;
  }
  if (wg_use(s)) {
    conv_winograd(s, x, wp, bias, z, y, scratch, act, p0, p1, exec);
    return;
  }
  if (use_dt(s)) {
    conv_dt(s, x, wp, bias, z, y, scratch, act, p0, p1, exec);
    return;
  }
  if (use_direct(s)) {
    conv_direct(s, x, wp, bias, z, y, scratch, act, p0, p1, exec);
    return;
  }
  if (use_transposed(s)) {
    conv_transposed(s, x, wp, bias, z, y, scratch, act, p0, p1, exec);
    return;
  }
  cg_ctx_t c = {
      .s = s, .x = x, .wp = wp, .bias = bias, .z = z, .y = y, .act = act, .p0 = p0, .p1 = p1};
  int64_t npm = m_panels(s), ohw = s->OH * s->OW;
  c.np = gk_cdiv(ohw, GK_NR);
  /* cg_merge_tail: a pointwise conv whose last panel is not whole vectors
   * (196 = 4 x 48 + 4) runs it in the same task as the panel before, so
   * pw_panel can step back onto full vectors without two tasks writing the
   * same columns */
  if (s->KH * s->KW == 1 && s->stride_h == 1 && s->stride_w == 1 && !s->pad_t && !s->pad_l &&
      !s->pad_b && !s->pad_r && s->H == s->OH && s->W == s->OW && gk_act_is_simple(act) &&
      kg_of(s) <= PW_KMAX && c.np >= 2 && ohw % GK_NR % 16) {
    c.np--;
    c.merge_tail = 1;
  }
  c.mch = 1;
  c.mpc = npm;
  /* With threads, split M too when there are few panels; the split changes
   * only which task computes an element, not its sum. */
  if (threaded) {
    int64_t want = 4 * (int64_t)exec->num_threads, have = s->group * c.np;
    if (have < want) {
      c.mch = gk_min(npm, gk_cdiv(want, have));
      c.mpc = gk_cdiv(npm, c.mch);
      c.mch = gk_cdiv(npm, c.mpc);
    }
  }
  int64_t nt = s->group * c.np * c.mch;
  if (threaded && nt > 1)
    exec->parallel_for(exec, nt, 1, cg_task, &c);
  else
    cg_task(&c, 0, nt);
}

/* ---- pointwise then depthwise ------------------------------------------------------------ */

/* The pointwise output (E channels) lives in a ring of FR rows per channel,
 * ring pitch FR * W, of at most FUSE_RING floats in all: row iy in slot iy %
 * FR. Each band of depthwise output rows first computes the pointwise rows it
 * still lacks (never more than the ring holds, so no row a band needs is
 * overwritten), then runs the large-map depthwise rows (dl_band, direct) on
 * the ring's rows. */
enum { FUSE_RING = 128 * 1024, FUSE_MIN_MAP = 256 * 1024 };

static int fuse_ring_rows(const sinter_k_conv_shape_t *dw) {
  return (int)gk_min(dw->H, FUSE_RING / (dw->C * dw->W));
}

/* What both fused pairs need: pw a 1x1 stride-1 unpadded one-group conv with
 * at most kmax input channels, dw a 3x3 depthwise conv on the large-map
 * direct path, simple acts, no scratch, an intermediate of at least
 * FUSE_MIN_MAP floats (e floats per position over a map of ohw). */
static int fuse_pair_ok(const sinter_k_conv_shape_t *pw, int32_t pw_act,
                        const sinter_k_conv_shape_t *dw, int32_t dw_act, int64_t kmax,
                        int64_t e, int64_t ohw) {
  if (pw->KH != 1 || pw->KW != 1 || pw->stride_h != 1 || pw->stride_w != 1 || pw->pad_t ||
      pw->pad_l || pw->pad_b || pw->pad_r || pw->group != 1 || pw->OH != pw->H ||
      pw->OW != pw->W || pw->C > kmax || pw->C < 1 || use_transposed(pw))
    return 0;
  if (!gk_act_is_simple(pw_act) || !gk_act_is_simple(dw_act) || !is_depthwise(dw)) return 0;
  if (use_dwc(dw) || dw->OW < 16 || sinter_k_conv2d_f32_scratch_size(pw) ||
      sinter_k_conv2d_f32_scratch_size(dw))
    return 0;
  dl_plan_t pl;
  return dl_plan(dw, &pl) && pl.direct && e * ohw >= FUSE_MIN_MAP;
}

int sinter_k_conv2d_pw_dw_f32_fusable(const sinter_k_conv_shape_t *pw, int32_t pw_act,
                                      const sinter_k_conv_shape_t *dw, int32_t dw_act) {
  if (dw->C != pw->M || dw->H != pw->OH || dw->W != pw->OW) return 0;
  /* Measured on MobileNetV2's blocks: stride 2 gains (16 > 96 channels on
   * 112 x 112: 0.64 ms instead of 0.73 with cold caches, even when warm),
   * stride 1 loses (24 > 144 on 56 x 56: 0.40 instead of 0.36), its
   * depthwise output being as large as its input, so it stays two calls. */
  if (!fuse_pair_ok(pw, pw_act, dw, dw_act, GK_KC, dw->C, dw->H * dw->W) || dw->stride_h != 2)
    return 0;
  return fuse_ring_rows(dw) >= 5;
}

/* Pointwise rows [a, b) of the image into the ring (slots a % fr onward, no
 * wrap): x's rows read in place, panels as cg_task computes them (with K <=
 * KC, one pass, the panel boundaries do not change the sums). */
static void fuse_pw_rows(const sinter_k_conv_shape_t *pw, const float *x, const float *wp,
                         const gk_epi_t *ep, int64_t a, int64_t b) {
  _Alignas(64) float bpack[GK_KC * GK_NR];
  _Alignas(64) float tile[GK_MR * GK_NR];
  const int64_t base = a * pw->W, end = b * pw->W;
  for (int64_t n0 = base; n0 < end; n0 += GK_NR)
    pw_panel(x + n0, pw->H * pw->W, pw->C, pw->M, wp, ep, n0 - base, gk_min(GK_NR, end - n0), 0,
             gk_cdiv(pw->M, GK_MR), n0 - base, bpack, tile);
}

/* A band of depthwise rows for the fused calls: input channel ch at src + ch
 * * src_cs, its band row i at + roff[i] (-1: the pad's zero row); output
 * channel ch at y + ch * y_cs, its rows oy0 .. oy0 + nb - 1 at + (oy0 + r) *
 * OW. */
typedef struct fuse_band_s {
  const float *src, *zero;
  const int64_t *roff;
  int64_t src_cs;
  float *y;
  int64_t y_cs, oy0, nb;
} fuse_band_t;

/* The band for every channel on dl_band's direct path; stride and the common
 * activations dispatched once, as dl_task does. */
static inline __attribute__((always_inline)) void fuse_dw_impl(const dw_ctx_t *c,
                                                               const fuse_band_t *fb,
                                                               const int S, const int32_t act) {
  const int64_t rows_in = (fb->nb - 1) * S + 3;
  const float *rp[DL_RP];
  for (int64_t ch = 0; ch < c->s->C; ch++) {
    const float *src = fb->src + ch * fb->src_cs, *wc = c->w + ch * 9;
    gk_v16f wv[9], bv = GK_SPLAT(c->bias ? c->bias[ch] : 0.0f);
    for (int t = 0; t < 9; t++) wv[t] = (gk_v16f)GK_SPLAT(wc[t]);
    for (int64_t i = 0; i < rows_in; i++) rp[i] = fb->roff[i] < 0 ? fb->zero : src + fb->roff[i];
    dl_band(c, rp, 0, wv, &bv, fb->y + ch * fb->y_cs, NULL, fb->oy0, fb->nb, act, S, 1);
  }
}

static __attribute__((noinline)) void fuse_dw_band(const dw_ctx_t *c, const fuse_band_t *fb) {
  const int32_t act = c->act;
  if (c->s->stride_h == 1) {
    if (act == SINTER_K_ACT_CLIP)
      fuse_dw_impl(c, fb, 1, SINTER_K_ACT_CLIP);
    else if (act == SINTER_K_ACT_NONE)
      fuse_dw_impl(c, fb, 1, SINTER_K_ACT_NONE);
    else
      fuse_dw_impl(c, fb, 1, act);
  } else {
    if (act == SINTER_K_ACT_CLIP)
      fuse_dw_impl(c, fb, 2, SINTER_K_ACT_CLIP);
    else if (act == SINTER_K_ACT_NONE)
      fuse_dw_impl(c, fb, 2, SINTER_K_ACT_NONE);
    else
      fuse_dw_impl(c, fb, 2, act);
  }
}

void sinter_k_conv2d_pw_dw_f32(const sinter_k_conv_shape_t *pw, const sinter_k_conv_shape_t *dw,
                               const float *x, const float *pw_wp, const float *pw_bias,
                               int32_t pw_act, float pw_p0, float pw_p1, const float *dw_wp,
                               const float *dw_bias, float *mid, float *y, int32_t act, float p0,
                               float p1, const sinter_art_exec_t *exec) {
  if ((exec && exec->num_threads > 1) || !sinter_k_conv2d_pw_dw_f32_fusable(pw, pw_act, dw, act)) {
    sinter_k_conv2d_f32(pw, x, pw_wp, pw_bias, NULL, mid, NULL, pw_act, pw_p0, pw_p1, exec);
    sinter_k_conv2d_f32(dw, mid, dw_wp, dw_bias, NULL, y, NULL, act, p0, p1, exec);
    return;
  }
  const int64_t H = dw->H, W = dw->W, OH = dw->OH, S = dw->stride_h;
  /* bands of whole DL_R-row steps where the ring allows */
  const int64_t fr = fuse_ring_rows(dw), nr_fit = (fr - 3) / S + 1;
  const int64_t nr_max = nr_fit >= DL_R ? nr_fit / DL_R * DL_R : nr_fit;
  _Alignas(64) float zero[DL_IN];
  memset(zero, 0, sizeof zero);
  dw_ctx_t c = {dw, mid, dw_wp, dw_bias, NULL, y, act, p0, p1};
  int64_t roff[DL_RP];
  int64_t done = 0; /* pointwise rows [0, done) computed */
  for (int64_t oy0 = 0; oy0 < OH; oy0 += nr_max) {
    const int64_t nb = gk_min(nr_max, OH - oy0), lo = oy0 * S - dw->pad_t;
    const int64_t hi = gk_min(H, lo + (nb - 1) * S + 3);
    while (done < hi) {
      int64_t b = gk_min(hi, (done / fr + 1) * fr);
      gk_epi_t ep = {.C = mid + done % fr * W, .ldc = fr * W, .bias_m = pw_bias, .act = pw_act,
                     .p0 = pw_p0, .p1 = pw_p1};
      fuse_pw_rows(pw, x, pw_wp, &ep, done, b);
      done = b;
    }
    /* the band's rows as offsets in a channel's ring, -1 for the pad */
    const int64_t rows_in = (nb - 1) * S + 3;
    for (int64_t i = 0; i < rows_in; i++) {
      int64_t iy = lo + i;
      roff[i] = iy < 0 || iy >= H ? -1 : iy % fr * W;
    }
    fuse_band_t fb = {mid, zero, roff, fr * W, y, OH * dw->OW, oy0, nb};
    fuse_dw_band(&c, &fb);
  }
}

/* ---- depthwise then pointwise ------------------------------------------------------------ */

/* The depthwise output goes to a band buffer (at the start of mid) FB rows at
 * a time, and the pointwise conv reads the band while it is in cache. FB is a
 * multiple of the rows that make whole 48-column panels of the pointwise
 * GEMM, so each panel is computed as cg_task computes it: the same tile path
 * per element, the same bits. */

/* Rows per band: whole panels, at most FUSE_RING floats (at least one step). */
static int64_t fuse_band_rows(const sinter_k_conv_shape_t *dw) {
  int64_t step = 1;
  while (step * dw->OW % GK_NR) step++;
  int64_t by_size = FUSE_RING / (dw->C * dw->OW) / step * step;
  return gk_min(gk_max(by_size, step), gk_cdiv(dw->OH, step) * step);
}

int sinter_k_conv2d_dw_pw_f32_fusable(const sinter_k_conv_shape_t *dw, int32_t dw_act,
                                      const sinter_k_conv_shape_t *pw, int32_t pw_act) {
  if (dw->M != pw->C || dw->OH != pw->H || dw->OW != pw->W) return 0;
  if (!fuse_pair_ok(pw, pw_act, dw, dw_act, PW_KMAX, dw->C, dw->OH * dw->OW)) return 0;
  /* the band fits in the intermediate and is smaller than the map */
  const int64_t fbr = fuse_band_rows(dw);
  if (fbr >= dw->OH) return 0;
  /* a narrow last panel steps back as in cg_task: the last band must hold
   * more than that panel */
  const int64_t last = (dw->OH - (gk_cdiv(dw->OH, fbr) - 1) * fbr) * dw->OW;
  return !(last % GK_NR % 16) || last > GK_NR;
}

void sinter_k_conv2d_dw_pw_f32(const sinter_k_conv_shape_t *dw, const sinter_k_conv_shape_t *pw,
                               const float *x, const float *dw_wp, const float *dw_bias,
                               int32_t dw_act, float dw_p0, float dw_p1, const float *pw_wp,
                               const float *pw_bias, const float *z, float *mid, float *y,
                               int32_t act, float p0, float p1, const sinter_art_exec_t *exec) {
  if ((exec && exec->num_threads > 1) || !sinter_k_conv2d_dw_pw_f32_fusable(dw, dw_act, pw, act)) {
    sinter_k_conv2d_f32(dw, x, dw_wp, dw_bias, NULL, mid, NULL, dw_act, dw_p0, dw_p1, exec);
    sinter_k_conv2d_f32(pw, mid, pw_wp, pw_bias, z, y, NULL, act, p0, p1, exec);
    return;
  }
  _Alignas(64) float bpack[GK_KC * GK_NR];
  _Alignas(64) float tile[GK_MR * GK_NR];
  _Alignas(64) float zero[DL_IN];
  memset(zero, 0, sizeof zero);
  const int64_t H = dw->H, W = dw->W, OH = dw->OH, OW = dw->OW, S = dw->stride_h;
  const int64_t fb_rows = fuse_band_rows(dw), ohw = OH * OW;
  dw_ctx_t c = {dw, x, dw_wp, dw_bias, NULL, NULL, dw_act, dw_p0, dw_p1};
  gk_epi_t ep = {.C = y, .ldc = ohw, .R = z, .bias_m = pw_bias, .act = act, .p0 = p0, .p1 = p1};
  int64_t roff[DL_RP];
  for (int64_t oy0 = 0; oy0 < OH; oy0 += fb_rows) {
    const int64_t nb = gk_min(fb_rows, OH - oy0), lo = oy0 * S - dw->pad_t;
    for (int64_t i = 0; i < (nb - 1) * S + 3; i++) {
      int64_t iy = lo + i;
      roff[i] = iy < 0 || iy >= H ? -1 : iy * W;
    }
    fuse_band_t fb = {x, zero, roff, H * W, mid, fb_rows * OW, 0, nb};
    fuse_dw_band(&c, &fb);
    /* the band's positions [n0, n1) of the pointwise conv, in whole panels */
    const int64_t n0 = oy0 * OW, n1 = n0 + nb * OW;
    for (int64_t n = n0; n < n1; n += GK_NR)
      pw_panel(mid + (n - n0), fb_rows * OW, pw->C, pw->M, pw_wp, &ep, n, gk_min(GK_NR, n1 - n),
               0, gk_cdiv(pw->M, GK_MR), n - n0, bpack, tile);
  }
}
