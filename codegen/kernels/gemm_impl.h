/* The fp32 GEMM microkernel and tile epilogue shared by gemm.c and conv.c:
 * MR x NR register tiles of 16-float vectors (GCC/clang vector extensions),
 * A broadcast from an MR-row micro-panel, B read from a K-major NR-wide panel.
 * Private to codegen/kernels; every function is static so LLVM specializes
 * each call site for its constant shapes. */
#ifndef SINTER_CODEGEN_KERNELS_GEMM_IMPL_H
#define SINTER_CODEGEN_KERNELS_GEMM_IMPL_H

#include <stdint.h>
#include <string.h>

#include "act_impl.h"
#include "kernels.h"

typedef float gk_v16f __attribute__((vector_size(64)));

/* MR rows x NV vectors of 16 floats: 24 accumulators leave 8 of AVX-512's 32
 * zmm registers for the B vectors and the broadcast of A. KC bounds a B panel
 * (KC x NR floats, 24 KiB) so it stays in L1 while the A micro-panels stream. */
enum { GK_MR = 8, GK_NV = 3, GK_NR = GK_NV * 16, GK_KC = 128 };

static inline int64_t gk_min(int64_t a, int64_t b) {
  return a < b ? a : b;
}
static inline int64_t gk_max(int64_t a, int64_t b) {
  return a > b ? a : b;
}
static inline int64_t gk_cdiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

/* A macro, not a function: GCC warns about a vector return value's ABI when
 * the native build lacks AVX-512. */
#define GK_SPLAT(x) \
  { x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x }
#define GK_LOAD(v, p) memcpy(&(v), (p), sizeof(gk_v16f))

/* tile[r * NR + j] = sum_k a[r * a_rs + k * a_ks] * b[k * NR + j] for r < mr,
 * j < 16 * nv: the register-blocked inner loop, one variant per (mr, nv) so
 * edge tiles run no wasted rows and at most 15 wasted columns. */
#define GK_UKR(MRV, NVV)                                                                   \
  static void gk_ukr_##MRV##_##NVV(int64_t kc, const float *a, int64_t a_rs, int64_t a_ks, \
                                   const float *b, float *tile) {                          \
    gk_v16f acc[MRV][NVV];                                                                 \
    for (int r = 0; r < MRV; r++)                                                          \
      for (int v = 0; v < NVV; v++) acc[r][v] = (gk_v16f){0};                              \
    for (int64_t k = 0; k < kc; k++) {                                                     \
      gk_v16f bv[NVV];                                                                     \
      /* one row of A streams B once (GEMV): fetch B ahead, as the B panel    */           \
      /* comes from memory, not cache, when the weights exceed the cache      */           \
      if (MRV == 1)                                                                        \
        for (int v = 0; v < NVV; v++)                                                      \
          __builtin_prefetch((const void *)((uintptr_t)(b + k * GK_NR + 16 * v) +          \
                                            16 * GK_NR * sizeof(float)),                   \
                             0, 0);                                                        \
      for (int v = 0; v < NVV; v++) GK_LOAD(bv[v], b + k * GK_NR + 16 * v);                \
      for (int r = 0; r < MRV; r++) {                                                      \
        float as = a[r * a_rs + k * a_ks];                                                 \
        gk_v16f av = GK_SPLAT(as);                                                         \
        for (int v = 0; v < NVV; v++) acc[r][v] += av * bv[v];                             \
      }                                                                                    \
    }                                                                                      \
    for (int r = 0; r < MRV; r++)                                                          \
      for (int v = 0; v < NVV; v++) memcpy(tile + r * GK_NR + 16 * v, &acc[r][v], 64);     \
  }

#define GK_UKR_ROW(MRV) GK_UKR(MRV, 1) GK_UKR(MRV, 2) GK_UKR(MRV, 3)
GK_UKR_ROW(1)
GK_UKR_ROW(2)
GK_UKR_ROW(3)
GK_UKR_ROW(4)
GK_UKR_ROW(5)
GK_UKR_ROW(6)
GK_UKR_ROW(7)
GK_UKR_ROW(8)
#undef GK_UKR_ROW
#undef GK_UKR

typedef void (*gk_ukr_fn)(int64_t, const float *, int64_t, int64_t, const float *, float *);

/* Runs the variant for mr rows (1..MR) and nr columns (1..NR). */
static inline void gk_ukr(int64_t mr, int64_t nr, int64_t kc, const float *a, int64_t a_rs,
                          int64_t a_ks, const float *b, float *tile) {
#define GK_ROW(MRV) \
  { gk_ukr_##MRV##_1, gk_ukr_##MRV##_2, gk_ukr_##MRV##_3 }
  static const gk_ukr_fn table[GK_MR][GK_NV] = {GK_ROW(1), GK_ROW(2), GK_ROW(3), GK_ROW(4),
                                                GK_ROW(5), GK_ROW(6), GK_ROW(7), GK_ROW(8)};
#undef GK_ROW
  int64_t nv = (nr + 15) / 16;
  if (mr == GK_MR && nv == GK_NV) { /* the hot case, called directly so it inlines */
    gk_ukr_8_3(kc, a, a_rs, a_ks, b, tile);
    return;
  }
  table[mr - 1][nv - 1](kc, a, a_rs, a_ks, b, tile);
}

/* y[j] = act(x[j] + bias) for j < n, with the switch outside the loops so
 * each case vectorizes even when act is not a compile-time constant. */
#define GK_ACT_CASE(ACT)                                                           \
  case ACT:                                                                        \
    for (int64_t j = 0; j < n; j++) y[j] = sinter_k_act(x[j] + bias, ACT, p0, p1); \
    break;
static inline void gk_act_row(float *restrict y, const float *restrict x, int64_t n, float bias,
                              int32_t act, float p0, float p1) {
  switch (act) {
    GK_ACT_CASE(SINTER_K_ACT_RELU)
    GK_ACT_CASE(SINTER_K_ACT_CLIP)
    GK_ACT_CASE(SINTER_K_ACT_LEAKY_RELU)
    GK_ACT_CASE(SINTER_K_ACT_SIGMOID)
    GK_ACT_CASE(SINTER_K_ACT_HARD_SIGMOID)
    GK_ACT_CASE(SINTER_K_ACT_HARD_SWISH)
    GK_ACT_CASE(SINTER_K_ACT_GELU)
    GK_ACT_CASE(SINTER_K_ACT_GELU_TANH)
    GK_ACT_CASE(SINTER_K_ACT_SILU)
    GK_ACT_CASE(SINTER_K_ACT_TANH)
    default:
      for (int64_t j = 0; j < n; j++) y[j] = x[j] + bias;
      break;
  }
}
#undef GK_ACT_CASE

/* Where a tile's result goes: C (ldc) = act(products + bias_m[row] +
 * bias_n[col] + R) with R at the same leading dimension as C; bias_m, bias_n
 * and R may be NULL. */
typedef struct gk_epi_s {
  float *C;
  int64_t ldc;
  const float *R;
  const float *bias_m;
  const float *bias_n;
  int32_t act;
  float p0, p1;
} gk_epi_t;

/* Stores an mr x nr tile at (i0, j0) of C. The K range is cut in KC blocks:
 * the first block adds R (read before C is written, so C may equal R), later
 * blocks add C's partial sum, and the last adds the biases and applies act. */
static inline void gk_store(const gk_epi_t *e, float *tile, int64_t i0, int64_t j0, int64_t mr,
                            int64_t nr, int first, int last) {
  for (int64_t r = 0; r < mr; r++) {
    float *t = tile + r * GK_NR;
    float *c = e->C + (i0 + r) * e->ldc + j0;
    const float *src = first ? (e->R ? e->R + (i0 + r) * e->ldc + j0 : NULL) : c;
    if (src)
      for (int64_t j = 0; j < nr; j++) t[j] += src[j];
    if (!last) {
      for (int64_t j = 0; j < nr; j++) c[j] = t[j];
      continue;
    }
    if (e->bias_n)
      for (int64_t j = 0; j < nr; j++) t[j] += e->bias_n[j0 + j];
    gk_act_row(c, t, nr, e->bias_m ? e->bias_m[i0 + r] : 0.0f, e->act, e->p0, e->p1);
  }
}

typedef int32_t gk_v16i __attribute__((vector_size(64)));

/* x < lo ? lo : x, elementwise, as bit ops (LLVM turns them into a blend or a
 * max): NaN compares false and passes through, as in sinter_k_act. */
#define GK_LT_SELECT(x, lo, val)                                 \
  do {                                                           \
    gk_v16i m_ = (gk_v16i)((x) < (lo));                          \
    (x) = (gk_v16f)(((gk_v16i)(x) & ~m_) | ((gk_v16i)(val)&m_)); \
  } while (0)

/* Whether GK_ACT_VEC handles act. */
static inline int gk_act_is_simple(int32_t act) {
  return act == SINTER_K_ACT_NONE || act == SINTER_K_ACT_RELU || act == SINTER_K_ACT_CLIP ||
         act == SINTER_K_ACT_LEAKY_RELU;
}

/* x = act(x) on a vector, for the simple acts (others leave x unchanged), with
 * sinter_k_act's comparisons so NaN passes through the same way. */
#define GK_ACT_VEC(x, act, p0, p1)                                         \
  do {                                                                     \
    if ((act) == SINTER_K_ACT_RELU) {                                      \
      gk_v16f z_ = {0};                                                    \
      GK_LT_SELECT(x, z_, z_);                                             \
    } else if ((act) == SINTER_K_ACT_CLIP) {                               \
      gk_v16f lo_ = GK_SPLAT(p0), hi_ = GK_SPLAT(p1);                      \
      GK_LT_SELECT(x, lo_, lo_);                                           \
      /* y > p1 ? p1 : y is p1 < y ? p1 : y */                             \
      gk_v16i m_ = (gk_v16i)(hi_ < (x));                                   \
      (x) = (gk_v16f)(((gk_v16i)(x) & ~m_) | ((gk_v16i)hi_ & m_));         \
    } else if ((act) == SINTER_K_ACT_LEAKY_RELU) {                         \
      gk_v16f z_ = {0}, sl_ = GK_SPLAT(p0);                                \
      gk_v16f neg_ = (x) * sl_;                                            \
      GK_LT_SELECT(x, z_, neg_);                                           \
    }                                                                      \
  } while (0)

/* A full MR x NR tile with the epilogue applied to the accumulators in
 * registers (act must be simple): saves the round trip through the stack
 * tile, which matters when kc is small (1x1 convs with few channels). Row k
 * of B is at b + k * b_ks (GK_NR for a packed panel; a pointwise conv reads x
 * in place). Same arithmetic, in the same order, as gk_ukr + gk_store. */
static inline __attribute__((always_inline)) void gk_tile_full_nv(
    int64_t kc, const float *a, int64_t a_rs, int64_t a_ks, const float *b, int64_t b_ks,
    const gk_epi_t *e, int64_t i0, int64_t j0, int first, int last, const int NV) {
  /* fully unrolled loops keep acc in registers: otherwise LLVM keeps it as a
   * stack array and zeroes it with a memset per tile */
  gk_v16f acc[GK_MR][GK_NV]; /* NV <= GK_NV; a fixed size, not a VLA */
#pragma GCC unroll 8
  for (int r = 0; r < GK_MR; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) acc[r][v] = (gk_v16f){0};
  for (int64_t k = 0; k < kc; k++) {
    gk_v16f bv[GK_NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) GK_LOAD(bv[v], b + k * b_ks + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < GK_MR; r++) {
      float as = a[r * a_rs + k * a_ks];
      gk_v16f av = GK_SPLAT(as);
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++) acc[r][v] += av * bv[v];
    }
  }
  const int32_t act = e->act;
  const float p0 = e->p0, p1 = e->p1;
#pragma GCC unroll 8
  for (int r = 0; r < GK_MR; r++) {
    float *c = e->C + (i0 + r) * e->ldc + j0;
    const float *src = first ? (e->R ? e->R + (i0 + r) * e->ldc + j0 : NULL) : c;
    float bm = e->bias_m ? e->bias_m[i0 + r] : 0.0f;
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) {
      gk_v16f x = acc[r][v], t;
      if (src) {
        GK_LOAD(t, src + 16 * v);
        x += t;
      }
      if (last) {
        if (e->bias_n) {
          GK_LOAD(t, e->bias_n + j0 + 16 * v);
          x += t;
        }
        gk_v16f bmv = GK_SPLAT(bm);
        x += bmv;
        GK_ACT_VEC(x, act, p0, p1);
      }
      memcpy(c + 16 * v, &x, sizeof x);
    }
  }
}

/* The full tile (NV = GK_NV), and narrower ones for the last columns of a
 * pointwise conv whose width is a multiple of 16. */
static void gk_tile_full(int64_t kc, const float *a, int64_t a_rs, int64_t a_ks, const float *b,
                         int64_t b_ks, const gk_epi_t *e, int64_t i0, int64_t j0, int first,
                         int last) {
  gk_tile_full_nv(kc, a, a_rs, a_ks, b, b_ks, e, i0, j0, first, last, GK_NV);
}
static inline void gk_tile_full_1(int64_t kc, const float *a, int64_t a_rs, int64_t a_ks,
                                  const float *b, int64_t b_ks, const gk_epi_t *e, int64_t i0,
                                  int64_t j0) {
  gk_tile_full_nv(kc, a, a_rs, a_ks, b, b_ks, e, i0, j0, 1, 1, 1);
}
static inline void gk_tile_full_2(int64_t kc, const float *a, int64_t a_rs, int64_t a_ks,
                                  const float *b, int64_t b_ks, const gk_epi_t *e, int64_t i0,
                                  int64_t j0) {
  gk_tile_full_nv(kc, a, a_rs, a_ks, b, b_ks, e, i0, j0, 1, 1, 2);
}

/* One tile: microkernel and epilogue, in registers when the tile is full. */
static inline void gk_tile(int64_t mr, int64_t nr, int64_t kc, const float *a, int64_t a_rs,
                           int64_t a_ks, const float *b, const gk_epi_t *e, int64_t i0, int64_t j0,
                           int first, int last, float *tile) {
  if (mr == GK_MR && nr == GK_NR && gk_act_is_simple(e->act)) {
    gk_tile_full(kc, a, a_rs, a_ks, b, GK_NR, e, i0, j0, first, last);
    return;
  }
  gk_ukr(mr, nr, kc, a, a_rs, a_ks, b, tile);
  gk_store(e, tile, i0, j0, mr, nr, first, last);
}

#endif /* SINTER_CODEGEN_KERNELS_GEMM_IMPL_H */
