/* Winograd F(2x2, 3x3) for fp32 3x3 stride-1 convolutions (included by conv.c
 * only). Each 2x2 output tile comes from a 4x4 input tile d (overlap 2, zero
 * padded): y = A^T [(G g G^T) . (B^T d B)] A, so a 3x3 conv becomes 16 GEMMs
 * U_xi [M, C] x V_xi [C, tiles], 2.25x fewer multiplications than the direct
 * plans. U is transformed and packed at compile time; at run time tiles go in
 * blocks of GK_NR (one B panel of gemm_impl.h's microkernel), so a block's V
 * and GEMM outputs stay in L2 instead of materializing the whole image. */
#ifndef SINTER_CODEGEN_KERNELS_WINOGRAD_IMPL_H
#define SINTER_CODEGEN_KERNELS_WINOGRAD_IMPL_H

#include "gemm_impl.h"

/* WG_TB tiles per block (one panel); WG_MCH output channels per GEMM chunk,
 * bounding the GEMM output buffer; at most WG_SLOTS blocks' buffers in
 * scratch, so its size does not depend on the thread count (blocks are dealt
 * to slots round-robin, each slot's blocks run in order on one thread). */
enum { WG_TB = GK_NR, WG_MCH = 64, WG_SLOTS = 8 };

/* Where it wins (measured on Zen 4 against the direct plans): enough
 * channels for the GEMMs to run at speed and a map big enough that a
 * block's 48 tiles are mostly real. */
static int wg_use(const sinter_k_conv_shape_t *s) {
  if (s->group != 1 || s->KH != 3 || s->KW != 3 || s->stride_h != 1 || s->stride_w != 1 ||
      s->dil_h != 1 || s->dil_w != 1)
    return 0;
  return s->C >= 32 && s->M >= 32 && s->OH >= 14 && s->OW >= 14;
}

static int64_t wg_tiles(const sinter_k_conv_shape_t *s) {
  return gk_cdiv(s->OH, 2) * gk_cdiv(s->OW, 2);
}
static int64_t wg_slots(const sinter_k_conv_shape_t *s) {
  return gk_min(gk_cdiv(wg_tiles(s), WG_TB), WG_SLOTS);
}
static int64_t wg_mch(const sinter_k_conv_shape_t *s) {
  return gk_min(WG_MCH, gk_cdiv(s->M, GK_MR) * GK_MR);
}
/* Floats of one slot: V [16][C + 1][WG_TB] (a spare row per matrix, see
 * wg_input), then the GEMM output [16][MCH][WG_TB] and 16 floats that
 * wg_output may read (not use) past it. */
static int64_t wg_slot_floats(const sinter_k_conv_shape_t *s) {
  return 16 * (s->C + 1 + wg_mch(s)) * WG_TB + 16;
}

static size_t wg_packed_size(const sinter_k_conv_shape_t *s) {
  return (size_t)16 * (size_t)(gk_cdiv(s->M, GK_MR) * GK_MR) * (size_t)s->C * sizeof(float);
}
static int64_t wg_plane_floats(const sinter_k_conv_shape_t *s);
/* The padded input plane (wg_fill_task), then the slots. */
static size_t wg_scratch_size(const sinter_k_conv_shape_t *s) {
  return ((size_t)wg_plane_floats(s) + (size_t)wg_slots(s) * (size_t)wg_slot_floats(s)) *
         sizeof(float);
}

/* U_xi = (G g G^T)[xi], G = [[1,0,0],[.5,.5,.5],[.5,-.5,.5],[0,0,1]], in
 * double, packed as MR-row micro-panels: [16][M / MR][C][MR], rows past M zero. */
static void wg_pack(const sinter_k_conv_shape_t *s, const float *w, float *packed) {
  const int64_t C = s->C, npm = gk_cdiv(s->M, GK_MR);
  memset(packed, 0, wg_packed_size(s));
  for (int64_t m = 0; m < s->M; m++)
    for (int64_t c = 0; c < C; c++) {
      const float *g = w + (m * C + c) * 9;
      double t[4][3], u[4][4];
      for (int j = 0; j < 3; j++) {
        double a = g[j], b = g[3 + j], d = g[6 + j];
        t[0][j] = a, t[1][j] = 0.5 * (a + b + d), t[2][j] = 0.5 * (a - b + d), t[3][j] = d;
      }
      for (int i = 0; i < 4; i++) {
        double a = t[i][0], b = t[i][1], d = t[i][2];
        u[i][0] = a, u[i][1] = 0.5 * (a + b + d), u[i][2] = 0.5 * (a - b + d), u[i][3] = d;
      }
      for (int xi = 0; xi < 16; xi++)
        packed[((xi * npm + m / GK_MR) * C + c) * GK_MR + m % GK_MR] = (float)u[xi / 4][xi % 4];
    }
}

typedef struct wg_ctx_s {
  const sinter_k_conv_shape_t *s;
  const float *x, *wp, *bias, *z;
  float *y, *scratch;
  int32_t act;
  float p0, p1;
  int64_t tw, nt, nblk, nslot;
} wg_ctx_t;

/* The zero-padded input plane: channel ch's rows of wg_pitch floats, plane
 * row 2 ty + r and column 2 tx + q holding tile (ty, tx)'s d[r][q]. A row
 * read runs past its end into the next row (or the slack after the last):
 * those lanes only reach tiles past the segment, which nothing uses. */
enum { WG_SLACK = 64 };
static int64_t wg_pitch(const sinter_k_conv_shape_t *s) {
  return gk_cdiv(2 * gk_cdiv(s->OW, 2) + 2, 16) * 16;
}
static int64_t wg_prows(const sinter_k_conv_shape_t *s) {
  return 2 * gk_cdiv(s->OH, 2) + 2;
}
static int64_t wg_plane_floats(const sinter_k_conv_shape_t *s) {
  return s->C * wg_prows(s) * wg_pitch(s) + WG_SLACK;
}

static void wg_fill_task(void *vctx, int64_t c0, int64_t c1) {
  const wg_ctx_t *c = vctx;
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t P = wg_pitch(s), PH = wg_prows(s), H = s->H, W = s->W;
  const int64_t wn = gk_min(W, P - s->pad_l);
  for (int64_t ch = c0; ch < c1; ch++) {
    float *d = c->scratch + ch * PH * P;
    for (int64_t r = 0; r < PH; r++, d += P) {
      int64_t ih = r - s->pad_t;
      if (ih < 0 || ih >= H) {
        memset(d, 0, (size_t)P * sizeof(float));
        continue;
      }
      memset(d, 0, (size_t)s->pad_l * sizeof(float));
      memcpy(d + s->pad_l, c->x + (ch * H + ih) * W, (size_t)wn * sizeof(float));
      memset(d + s->pad_l + wn, 0, (size_t)(P - s->pad_l - wn) * sizeof(float));
    }
  }
  if (c1 == s->C) memset(c->scratch + s->C * PH * P, 0, WG_SLACK * sizeof(float));
}

/* V[xi][c][j] = (B^T d B)[xi] for the block's tiles j, B^T = [[1,0,-1,0],
 * [0,1,1,0],[0,-1,1,0],[0,1,0,-1]], on 16-tile vectors: the even and odd
 * columns of the padded plane's rows give d[r][0..3] for 16 tiles. Whole
 * vectors are stored: the lanes past a segment land on tiles that a later
 * segment or channel writes (channels outermost, segments in order), or in
 * the spare row after each matrix. */
static void wg_input(const wg_ctx_t *c, int64_t t0, int64_t n, float *restrict V) {
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t C = s->C, tw = c->tw, P = wg_pitch(s), PH = wg_prows(s);
  const int64_t xs = (C + 1) * WG_TB; /* between the 16 matrices */
  for (int64_t ch = 0; ch < C; ch++) {
    for (int64_t ty = t0 / tw; ty <= (t0 + n - 1) / tw; ty++) {
      int64_t tx0 = gk_max(t0 - ty * tw, 0), tx1 = gk_min(t0 + n - ty * tw, tw);
      int64_t nx = tx1 - tx0, j0 = ty * tw + tx0 - t0;
      const float *pl = c->scratch + (ch * PH + 2 * ty) * P + 2 * tx0;
      float *v = V + ch * WG_TB + j0;
      for (int64_t k = 0; k < nx; k += 16) {
        gk_v16f t[4][4];
        for (int r = 0; r < 4; r++) {
          gk_v16f a, b, a2, b2;
          const float *q = pl + r * P + 2 * k;
          GK_LOAD(a, q);
          GK_LOAD(b, q + 16);
          GK_LOAD(a2, q + 2);
          GK_LOAD(b2, q + 18);
#define WG_EVEN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define WG_ODD 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
          gk_v16f d0 = __builtin_shufflevector(a, b, WG_EVEN);
          gk_v16f d1 = __builtin_shufflevector(a, b, WG_ODD);
          gk_v16f d2 = __builtin_shufflevector(a2, b2, WG_EVEN);
          gk_v16f d3 = __builtin_shufflevector(a2, b2, WG_ODD);
#undef WG_EVEN
#undef WG_ODD
          t[r][0] = d0 - d2, t[r][1] = d1 + d2, t[r][2] = d2 - d1, t[r][3] = d1 - d3;
        }
        for (int j = 0; j < 4; j++) {
          gk_v16f v0 = t[0][j] - t[2][j], v1 = t[1][j] + t[2][j];
          gk_v16f v2 = t[2][j] - t[1][j], v3 = t[1][j] - t[3][j];
          memcpy(v + (0 * 4 + j) * xs + k, &v0, sizeof v0);
          memcpy(v + (1 * 4 + j) * xs + k, &v1, sizeof v1);
          memcpy(v + (2 * 4 + j) * xs + k, &v2, sizeof v2);
          memcpy(v + (3 * 4 + j) * xs + k, &v3, sizeof v3);
        }
      }
    }
  }
}

/* y = act(A^T m A + z + bias) for output channels m0 .. m0 + mc of the block,
 * A^T = [[1,1,1,0],[0,1,-1,-1]]; Mb is [16][mch][WG_TB] (+ 16 floats of
 * slack: the last vector of a segment may read past a row). */
static void wg_output(const wg_ctx_t *c, int64_t t0, int64_t n, int64_t m0, int64_t mc,
                      const float *restrict Mb, int64_t mch) {
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t OH = s->OH, OW = s->OW, tw = c->tw, ohw = OH * OW;
  const int64_t xs = mch * WG_TB;
  for (int64_t m = m0; m < m0 + mc; m++) {
    const float bias = c->bias ? c->bias[m] : 0.0f;
    for (int64_t ty = t0 / tw; ty <= (t0 + n - 1) / tw; ty++) {
      int64_t tx0 = gk_max(t0 - ty * tw, 0), tx1 = gk_min(t0 + n - ty * tw, tw);
      int64_t nx = tx1 - tx0, j0 = ty * tw + tx0 - t0;
      const float *mp = Mb + (m - m0) * WG_TB + j0;
      float r0[2 * WG_TB], r1[2 * WG_TB];
      for (int64_t k = 0; k < nx; k += 16) {
        gk_v16f q[4][2];
        for (int i = 0; i < 4; i++) {
          gk_v16f a0, a1, a2, a3;
          GK_LOAD(a0, mp + (i * 4 + 0) * xs + k);
          GK_LOAD(a1, mp + (i * 4 + 1) * xs + k);
          GK_LOAD(a2, mp + (i * 4 + 2) * xs + k);
          GK_LOAD(a3, mp + (i * 4 + 3) * xs + k);
          q[i][0] = a0 + a1 + a2, q[i][1] = a1 - a2 - a3;
        }
        gk_v16f y00 = q[0][0] + q[1][0] + q[2][0], y01 = q[0][1] + q[1][1] + q[2][1];
        gk_v16f y10 = q[1][0] - q[2][0] - q[3][0], y11 = q[1][1] - q[2][1] - q[3][1];
        gk_v16f lo0 = __builtin_shufflevector(y00, y01, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21,
                                              6, 22, 7, 23);
        gk_v16f hi0 = __builtin_shufflevector(y00, y01, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13,
                                              29, 14, 30, 15, 31);
        gk_v16f lo1 = __builtin_shufflevector(y10, y11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21,
                                              6, 22, 7, 23);
        gk_v16f hi1 = __builtin_shufflevector(y10, y11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13,
                                              29, 14, 30, 15, 31);
        memcpy(r0 + 2 * k, &lo0, sizeof lo0);
        memcpy(r0 + 2 * k + 16, &hi0, sizeof hi0);
        memcpy(r1 + 2 * k, &lo1, sizeof lo1);
        memcpy(r1 + 2 * k + 16, &hi1, sizeof hi1);
      }
      int64_t ox0 = 2 * tx0, cnt = gk_min(2 * nx, OW - ox0);
      for (int rr = 0; rr < 2; rr++) {
        int64_t oy = 2 * ty + rr;
        if (oy >= OH) break;
        float *row = rr ? r1 : r0;
        int64_t off = m * ohw + oy * OW + ox0;
        if (c->z)
          for (int64_t j = 0; j < cnt; j++) row[j] += c->z[off + j];
        gk_act_row(c->y + off, row, cnt, bias, c->act, c->p0, c->p1);
      }
    }
  }
}

/* One block of tiles: input transform, the 16 GEMMs in chunks of output
 * channels, each chunk's output transform. K runs in KC blocks outermost so
 * a KC x NR piece of V stays in L1 while the weight micro-panels stream. */
static void wg_block(const wg_ctx_t *c, int64_t b, float *V, float *Mb) {
  const sinter_k_conv_shape_t *s = c->s;
  const int64_t C = s->C, M = s->M, npm = gk_cdiv(M, GK_MR), mch = wg_mch(s);
  const int64_t t0 = b * WG_TB, n = gk_min(WG_TB, c->nt - t0);
  float tile[GK_MR * GK_NR];
  wg_input(c, t0, n, V);
  for (int64_t m0 = 0; m0 < M; m0 += mch) {
    int64_t mc = gk_min(mch, M - m0);
    for (int xi = 0; xi < 16; xi++) {
      gk_epi_t e = {.C = Mb + xi * mch * WG_TB, .ldc = WG_TB, .act = SINTER_K_ACT_NONE};
      const float *u = c->wp + xi * npm * C * GK_MR, *v = V + xi * (C + 1) * WG_TB;
      for (int64_t k0 = 0; k0 < C; k0 += GK_KC) {
        int64_t kc = gk_min(GK_KC, C - k0);
        for (int64_t i = m0 / GK_MR; i * GK_MR < m0 + mc; i++) {
          int64_t mr = gk_min(GK_MR, M - i * GK_MR);
          gk_tile(mr, n, kc, u + (i * C + k0) * GK_MR, 1, GK_MR, v + k0 * WG_TB, &e,
                  i * GK_MR - m0, 0, k0 == 0, k0 + kc >= C, tile);
        }
      }
    }
    wg_output(c, t0, n, m0, mc, Mb, mch);
  }
}

static void wg_task(void *vctx, int64_t s0, int64_t s1) {
  const wg_ctx_t *c = vctx;
  const int64_t sf = wg_slot_floats(c->s);
  for (int64_t sl = s0; sl < s1; sl++) {
    float *V = c->scratch + wg_plane_floats(c->s) + sl * sf, *Mb = V + 16 * (c->s->C + 1) * WG_TB;
    for (int64_t b = sl; b < c->nblk; b += c->nslot) wg_block(c, b, V, Mb);
  }
}

static void conv_winograd(const sinter_k_conv_shape_t *s, const float *x, const float *wp,
                          const float *bias, const float *z, float *y, void *scratch, int32_t act,
                          float p0, float p1, const sinter_art_exec_t *exec) {
  wg_ctx_t c = {.s = s, .x = x, .wp = wp, .bias = bias, .z = z, .y = y, .scratch = scratch,
                .act = act, .p0 = p0, .p1 = p1};
  c.tw = gk_cdiv(s->OW, 2);
  c.nt = wg_tiles(s);
  c.nblk = gk_cdiv(c.nt, WG_TB);
  if (exec && exec->num_threads > 1) {
    exec->parallel_for(exec, s->C, 8, wg_fill_task, &c);
    c.nslot = wg_slots(s);
    exec->parallel_for(exec, c.nslot, 1, wg_task, &c);
  } else { /* one slot for all blocks: same results, less cache traffic */
    wg_fill_task(&c, 0, s->C);
    c.nslot = 1;
    wg_task(&c, 0, 1);
  }
}

#endif /* SINTER_CODEGEN_KERNELS_WINOGRAD_IMPL_H */
