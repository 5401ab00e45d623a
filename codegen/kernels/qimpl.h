/* Private to qgemm.c and qconv.c: the requantizing int8 tile both GEMM shapes
 * share (portable C and AVX512-VNNI), the packed-operand layout and the exact
 * requantization of docs/ops-sinter.md. Not part of the kernel contract. */
#ifndef SINTER_CODEGEN_KERNELS_QIMPL_H
#define SINTER_CODEGEN_KERNELS_QIMPL_H

#include <stdint.h>
#include <string.h>

#include "kernels.h"

/* Register block of the tile: QMR broadcast rows x QNV vectors of 16 columns. */
enum { QMR = 6, QNV = 4, QNR = 16 * QNV };

static inline int64_t qmin64(int64_t a, int64_t b) {
  return a < b ? a : b;
}
static inline int64_t qround_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

/* One tile of C = R x V over k in groups of 4 bytes, then the requantizing
 * store. R ("rows") is read 4 bytes per row and group at r + i * r_rs + g *
 * r_gs and broadcast; V ("columns") is packed in panels of 16 columns, each
 * panel kg(+1) groups of 64 bytes (column c's 4 bytes at 4 c) v_ps bytes
 * apart. left = 0: R is u8 (activations, XORed with r_xor to turn i8 into u8)
 * and V s8 (weights), as in qgemm; left = 1: R is s8 (weights) and V u8, as
 * in qconv, where R must be packed blocks: r_rs 4, r_gs QMR * 4, r_xor 0
 * (the VNNI tile takes them as constants). The k groups run as ntap taps of kg groups: group j of tap tp
 * reads V at v + tapoff[tp] + j * v_gs (tapoff NULL: one tap at offset 0), so
 * qconv reads its columns straight from the channel-interleaved input.
 * r_tail > 0: one more group whose R holds only r_tail bytes (ntap 1 only).
 * wrap_ws > 0: column j is the pixel q = q0 + j of rows wrap_ws wide of which
 * the first wrap_ow are real outputs, stored at y + (q / ws) * ow + q % ws
 * (the others are dropped: y is the start of the output plane, not of the
 * tile); else column j goes to y + j.
 * The exact value requantized is acc + radd[i] + cadd[j] - rmul[i] * cmul[j]
 * in wrapping int32 (NULL arrays read as 0); cadd and cmul are readable up to
 * the panel end, mult only below ncols (mult_rows: one per row instead). */
typedef struct qtile_s {
  int64_t kg, ntap;
  const int64_t *tapoff;
  const uint8_t *r;
  int64_t r_rs, r_gs;
  uint32_t r_xor;
  int32_t r_tail;
  const uint8_t *v;
  int64_t v_ps, v_gs;
  const int32_t *radd, *cadd, *rmul, *cmul;
  const float *mult;
  int32_t mult_rows, mult_finite;
  int32_t yzp, lo, hi;
  uint8_t *y;
  int64_t ldy, ncols;
  int64_t wrap_ws, wrap_ow, q0;
} qtile_t;

/* Requantizes one accumulator exactly as the interpreter does: the product
 * and the zero-point sum are two separately rounded double operations (kept
 * in two statements so -ffp-contract=on cannot fuse them), NaN counts as 0,
 * then clamp to [lo, hi] and round half to even. Rounding by adding and
 * subtracting 1.5 * 2^52 is exact for |v| < 2^51, which the clamp ensures,
 * and vectorizes on any target. */
static inline int32_t qrequant(int32_t acc, float mult, int32_t yzp, int32_t lo, int32_t hi) {
  double p = (double)acc * (double)mult;
  double v = p + (double)yzp;
  if (v != v) v = 0.0;
  v = v < (double)lo ? (double)lo : v;
  v = v > (double)hi ? (double)hi : v;
  double r = (v + 6755399441055744.0) - 6755399441055744.0;
  return (int32_t)r;
}

/* qrequant for a finite multiplier, where acc * mult + yzp cannot be NaN:
 * the same value with fewer vector operations (rint rounds half to even in
 * the default rounding mode, as the 1.5 * 2^52 trick does). */
static inline int32_t qrequant_finite(int32_t acc, float mult, int32_t yzp, int32_t lo,
                                      int32_t hi) {
  double p = (double)acc * (double)mult;
  double v = p + (double)yzp;
  v = v < (double)lo ? (double)lo : v;
  v = v > (double)hi ? (double)hi : v;
  return (int32_t)__builtin_rint(v);
}

static inline uint32_t qload4(const uint8_t *p) {
  uint32_t w;
  memcpy(&w, p, 4);
  return w;
}

/* Sum of u8 x s8 over one group of 4 bytes, exact in int32. */
static inline int32_t qdot4(uint32_t u, uint32_t s) {
  int32_t t = 0;
  for (int b = 0; b < 4; b++) t += (int32_t)(uint8_t)(u >> 8 * b) * (int32_t)(int8_t)(s >> 8 * b);
  return t;
}

/* The portable tile: the same arithmetic as vnni_tile (wrapping int32 sums of
 * the same products), so both give identical bytes. */
static inline void portable_tile(const qtile_t *t, int mr, int nv, int left) {
  uint32_t acc[QMR][QNR];
  int ncol = nv * 16;
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < ncol; j++) acc[i][j] = 0;
  int64_t ng = t->ntap * t->kg + (t->r_tail > 0);
  for (int64_t g = 0; g < ng; g++) {
    int64_t tp = t->kg > 0 ? qmin64(g / t->kg, t->ntap - 1) : 0;
    const uint8_t *vg = t->v + (t->tapoff ? t->tapoff[tp] : 0) + (g - tp * t->kg) * t->v_gs;
    for (int i = 0; i < mr; i++) {
      const uint8_t *rp = t->r + i * t->r_rs + g * t->r_gs;
      uint32_t rw = 0;
      if (g < t->ntap * t->kg)
        rw = qload4(rp);
      else
        memcpy(&rw, rp, (size_t)t->r_tail);
      rw ^= t->r_xor;
      for (int j = 0; j < ncol; j++) {
        uint32_t vw = qload4(vg + (j / 16) * t->v_ps + (j % 16) * 4);
        acc[i][j] += (uint32_t)(left ? qdot4(vw, rw) : qdot4(rw, vw));
      }
    }
  }
  int64_t yoff[QNR];
  for (int j = 0; j < ncol; j++) {
    yoff[j] = j;
    if (t->wrap_ws > 0) {
      int64_t q = t->q0 + j, ow = q % t->wrap_ws;
      yoff[j] = ow < t->wrap_ow ? q / t->wrap_ws * t->wrap_ow + ow : -1;
    }
  }
  for (int i = 0; i < mr; i++) {
    for (int j = 0; j < ncol && j < t->ncols; j++) {
      if (yoff[j] < 0) continue;
      uint32_t a = acc[i][j];
      if (t->radd) a += (uint32_t)t->radd[i];
      if (t->cadd) a += (uint32_t)t->cadd[j];
      if (t->rmul && t->cmul) a -= (uint32_t)t->rmul[i] * (uint32_t)t->cmul[j];
      float m = t->mult_rows ? t->mult[i] : t->mult[j];
      t->y[i * t->ldy + yoff[j]] = (uint8_t)qrequant((int32_t)a, m, t->yzp, t->lo, t->hi);
    }
  }
}

/* Calls f(t, mr, nv, left) with mr, nv and left as constants, so the tile's
 * loops unroll and its accumulators stay in registers. */
#define QTILE_DISPATCH(f, t, mr, nv, left)                                                      \
  do {                                                                                          \
    switch ((mr)*8 + (nv)-1) {                                                                  \
      QTILE_CASES_MR(f, t, 1, left)                                                             \
      QTILE_CASES_MR(f, t, 2, left) QTILE_CASES_MR(f, t, 3, left) QTILE_CASES_MR(f, t, 4, left) \
          QTILE_CASES_MR(f, t, 5, left) QTILE_CASES_MR(f, t, 6, left) default : break;          \
    }                                                                                           \
  } while (0)
#define QTILE_CASES_MR(f, t, m, left)      \
  case m * 8 + 0: f(t, m, 1, left); break; \
  case m * 8 + 1: f(t, m, 2, left); break; \
  case m * 8 + 2: f(t, m, 3, left); break; \
  case m * 8 + 3:                          \
    f(t, m, 4, left);                      \
    break;

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define QVNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

/* Requantizes 16 int32 sums with 16 multipliers to 16 bytes. */
static inline __attribute__((always_inline)) QVNNI_TARGET __m128i vnni_requant16(__m512i v,
                                                                                __m512d mlo,
                                                                                __m512d mhi,
                                                                                const qtile_t *t) {
  __m512d zp = _mm512_set1_pd((double)t->yzp);
  __m512d lo = _mm512_set1_pd((double)t->lo), hi = _mm512_set1_pd((double)t->hi);
  __m512d dl = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(v)), mlo);
  __m512d dh = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(v, 1)), mhi);
  dl = _mm512_add_pd(dl, zp);
  dh = _mm512_add_pd(dh, zp);
  if (!t->mult_finite) { /* NaN (inf * 0 or a NaN scale) requantizes 0 */
    dl = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(dl, dl, _CMP_ORD_Q), dl);
    dh = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(dh, dh, _CMP_ORD_Q), dh);
  }
  dl = _mm512_min_pd(_mm512_max_pd(dl, lo), hi);
  dh = _mm512_min_pd(_mm512_max_pd(dh, lo), hi);
  __m256i il = _mm512_cvt_roundpd_epi32(dl, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256i ih = _mm512_cvt_roundpd_epi32(dh, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_cvtepi32_epi8(_mm512_inserti64x4(_mm512_castsi256_si512(il), ih, 1));
}

/* Requantizes 16 int32 sums and stores `n` (1..16) bytes. */
static inline __attribute__((always_inline)) QVNNI_TARGET void vnni_store16(__m512i v, __m512d mlo,
                                                                            __m512d mhi,
                                                                            const qtile_t *t,
                                                                            uint8_t *y, int64_t n) {
  __m128i b = vnni_requant16(v, mlo, mhi, t);
  if (n >= 16)
    _mm_storeu_si128((__m128i *)(void *)y, b);
  else
    _mm_mask_storeu_epi8(y, (__mmask16)((1u << n) - 1), b);
}

/* Stores lanes [0, n) of b, pixels q.. of rows ws wide starting at (oh, ow),
 * keeping only columns below OW: one masked store per row piece, its lane 0
 * placed so that lane l lands on its pixel (masked lanes are not touched). */
static inline __attribute__((always_inline)) QVNNI_TARGET void vnni_store_wrap(
    __m128i b, uint8_t *yr, int64_t ow, int64_t n, int64_t ws, int64_t OW) {
  for (int64_t l = 0; l < n;) {
    int64_t run = qmin64(n - l, ws - ow);
    if (ow < OW) {
      int64_t val = qmin64(run, OW - ow);
      _mm_mask_storeu_epi8(yr + ow - l, (__mmask16)(((1u << val) - 1) << l), b);
    }
    l += run;
    ow = 0;
    yr += OW;
  }
}

static inline __attribute__((always_inline)) QVNNI_TARGET void vnni_tile(const qtile_t *t,
                                                                         const int mr, const int nv,
                                                                         const int left) {
  __m512i acc[QMR][QNV];
  for (int i = 0; i < mr; i++)
    for (int c = 0; c < nv; c++) acc[i][c] = _mm512_setzero_si512();
  const uint8_t *rp = t->r, *vp = t->v;
  /* qconv's R (left) is always packed blocks: constant strides and no XOR
   * let every broadcast read memory at a fixed offset. */
  const int64_t rs = left ? 4 : t->r_rs, gs = left ? QMR * 4 : t->r_gs;
  const int64_t ps = t->v_ps, vgs = t->v_gs;
  const uint32_t rx = left ? 0 : t->r_xor;
  /* One flat loop over all groups (a nested tap loop makes LLVM spill the
   * accumulators); at the end of a tap, V jumps to the next tap's offset. */
  const int64_t *to = t->tapoff, kg = t->kg;
  int64_t cnt = kg;
  if (to) vp += to[0];
  for (int64_t g = kg * t->ntap; g > 0; g--) {
    __m512i bv[QNV];
    for (int c = 0; c < nv; c++) bv[c] = _mm512_loadu_si512(vp + c * ps);
    for (int i = 0; i < mr; i++) {
      __m512i a = _mm512_set1_epi32((int)(qload4(rp + i * rs) ^ rx));
      for (int c = 0; c < nv; c++)
        acc[i][c] = left ? _mm512_dpbusd_epi32(acc[i][c], bv[c], a)
                         : _mm512_dpbusd_epi32(acc[i][c], a, bv[c]);
    }
    rp += gs;
    vp += vgs;
    if (--cnt == 0 && to && g > 1) {
      to++;
      vp = t->v + *to;
      cnt = kg;
    }
  }
  if (t->r_tail > 0) {
    __m512i bv[QNV];
    for (int c = 0; c < nv; c++) bv[c] = _mm512_loadu_si512(vp + c * ps);
    for (int i = 0; i < mr; i++) {
      uint32_t w = 0;
      memcpy(&w, rp + i * rs, (size_t)t->r_tail);
      __m512i a = _mm512_set1_epi32((int)(w ^ rx));
      for (int c = 0; c < nv; c++)
        acc[i][c] = left ? _mm512_dpbusd_epi32(acc[i][c], bv[c], a)
                         : _mm512_dpbusd_epi32(acc[i][c], a, bv[c]);
    }
  }
  /* The epilogue is too big to unroll fully; through a buffer, its loop
   * indices do not force the accumulators above out of registers. */
  __m512i buf[QMR][QNV];
  for (int i = 0; i < mr; i++)
    for (int c = 0; c < nv; c++) buf[i][c] = acc[i][c];
  __m512d mlo[QNV], mhi[QNV];
  int64_t woh[QNV], wow[QNV];
  for (int c = 0; c < nv; c++) {
    mlo[c] = mhi[c] = _mm512_setzero_pd();
    woh[c] = wow[c] = 0;
    if (t->wrap_ws > 0) {
      woh[c] = (t->q0 + 16 * c) / t->wrap_ws;
      wow[c] = (t->q0 + 16 * c) % t->wrap_ws;
    }
  }
  if (!t->mult_rows) {
    for (int c = 0; c < nv; c++) {
      int64_t n = t->ncols - 16 * c;
      __mmask16 k = n >= 16 ? (__mmask16)0xffff : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
      __m512 m = _mm512_maskz_loadu_ps(k, t->mult + 16 * c);
      mlo[c] = _mm512_cvtps_pd(_mm512_castps512_ps256(m));
      mhi[c] = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(m), 1)));
    }
  }
  for (int i = 0; i < mr; i++) {
    __m512i ra = _mm512_set1_epi32(t->radd ? t->radd[i] : 0);
    __m512i rm = _mm512_set1_epi32(t->rmul ? t->rmul[i] : 0);
    if (t->mult_rows) {
      __m512d m = _mm512_set1_pd((double)t->mult[i]);
      for (int c = 0; c < nv; c++) mlo[c] = mhi[c] = m;
    }
    for (int c = 0; c < nv; c++) {
      int64_t n = t->ncols - 16 * c;
      if (n <= 0) break;
      __m512i v = _mm512_add_epi32(buf[i][c], ra);
      if (t->cadd) v = _mm512_add_epi32(v, _mm512_loadu_si512(t->cadd + 16 * c));
      if (t->rmul && t->cmul)
        v = _mm512_sub_epi32(v, _mm512_mullo_epi32(rm, _mm512_loadu_si512(t->cmul + 16 * c)));
      if (t->wrap_ws > 0)
        vnni_store_wrap(vnni_requant16(v, mlo[c], mhi[c], t),
                        t->y + i * t->ldy + woh[c] * t->wrap_ow, wow[c], qmin64(n, 16),
                        t->wrap_ws, t->wrap_ow);
      else
        vnni_store16(v, mlo[c], mhi[c], t, t->y + i * t->ldy + 16 * c, n);
    }
  }
}
#endif

#endif /* SINTER_CODEGEN_KERNELS_QIMPL_H */
