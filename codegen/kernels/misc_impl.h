/* Private helpers of the misc kernels (misc.c, pool.c, norm.c, attention.c):
 * 16-float vectors written with vector extensions (one zmm on AVX-512, two
 * ymm on AVX2), a vectorized exp, and the serial-or-parallel task launcher. */
#ifndef SINTER_CODEGEN_KERNELS_MISC_IMPL_H
#define SINTER_CODEGEN_KERNELS_MISC_IMPL_H

#include <stdint.h>
#include <string.h>

#include "kernels.h"

typedef float km_v16f __attribute__((vector_size(64)));
typedef int32_t km_v16i __attribute__((vector_size(64)));

/* Without AVX-512, GCC and clang warn that 64-byte vectors are returned with
 * another ABI, and GCC notes (unsilenceably) the same for arguments. Every
 * function here is static inline, so no such call crosses an ABI boundary:
 * the warning is off for the files including this header, and functions take
 * vector arguments by pointer (the macros below wrap them). */
#pragma GCC diagnostic ignored "-Wpsabi"
/* Always inlined too: GCC's clones (.constprop, .part) would warn again. */
#define KM_INLINE static inline __attribute__((always_inline))

/* Unaligned loads and stores: memcpy compiles to one vector move. */
KM_INLINE km_v16f km_load(const float *p) {
  km_v16f v;
  memcpy(&v, p, sizeof v);
  return v;
}

KM_INLINE km_v16f km_splat(float x) {
  return (km_v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}

/* The first n (< 16) floats of p, the other lanes set to fill. */
KM_INLINE km_v16f km_load_part(const float *p, int64_t n, float fill) {
  float buf[16];
  for (int i = 0; i < 16; i++) buf[i] = i < n ? p[i] : fill;
  return km_load(buf);
}

KM_INLINE void km_store_part_p(float *p, const km_v16f *v, int64_t n) {
  float buf[16];
  memcpy(buf, v, sizeof buf);
  for (int64_t i = 0; i < n; i++) p[i] = buf[i];
}

/* Lane-wise select: m is all-ones (from a vector compare) where a is wanted. */
KM_INLINE km_v16f km_select_p(const km_v16i *m, const km_v16f *a, const km_v16f *b) {
  return (km_v16f)((*m & (km_v16i)*a) | (~*m & (km_v16i)*b));
}

/* Horizontal sum in double, in a fixed pairwise order. */
KM_INLINE double km_hsum_p(const km_v16f *v) {
  float l[16];
  memcpy(l, v, sizeof l);
  double s[8];
  for (int i = 0; i < 8; i++) s[i] = (double)l[i] + (double)l[i + 8];
  for (int i = 0; i < 4; i++) s[i] += s[i + 4];
  return (s[0] + s[2]) + (s[1] + s[3]);
}

/* Horizontal sum in float, pairwise (cheaper, for short dot products). */
KM_INLINE float km_hsum_f_p(const km_v16f *v) {
  float l[16];
  memcpy(l, v, sizeof l);
  for (int i = 0; i < 8; i++) l[i] += l[i + 8];
  for (int i = 0; i < 4; i++) l[i] += l[i + 4];
  return (l[0] + l[2]) + (l[1] + l[3]);
}

KM_INLINE float km_hmax_p(const km_v16f *v) {
  float l[16];
  memcpy(l, v, sizeof l);
  float m = l[0];
  for (int i = 1; i < 16; i++) m = l[i] > m ? l[i] : m;
  return m;
}

/* exp(x) lane-wise, branch-free. Range reduction x = n ln2 + r (Cody-Waite,
 * |r| <= ln2/2), Taylor polynomial of degree 7 (truncation error < 1e-8
 * relative), then the result is scaled by 2^n in two steps so that results
 * in the subnormal range are rounded once and overflow gives inf. Measured
 * against exp in double: at most 2 ulp on [-104, 88.7] (tests check this).
 * NaN gives NaN, -inf gives 0, +inf gives inf. n is taken from the bits of
 * x log2(e) + 1.5*2^23, avoiding a float-to-int conversion of NaN. */
KM_INLINE km_v16f km_exp_p(const km_v16f *px) {
  const km_v16f lo = km_splat(-110.0f), hi = km_splat(89.0f);
  km_v16f x = *px;
  km_v16i below = x<lo, above = x> hi;
  x = km_select_p(&below, &lo, &x);
  x = km_select_p(&above, &hi, &x);
  const km_v16f magic = km_splat(12582912.0f);
  km_v16f t = x * km_splat(1.44269504088896341f) + magic;
  km_v16f nf = t - magic;
  km_v16f r = x - nf * km_splat(0.693359375f);
  r = r - nf * km_splat(-2.12194440e-4f);
  km_v16f p = km_splat(1.0f / 5040.0f);
  p = p * r + km_splat(1.0f / 720.0f);
  p = p * r + km_splat(1.0f / 120.0f);
  p = p * r + km_splat(1.0f / 24.0f);
  p = p * r + km_splat(1.0f / 6.0f);
  p = p * r + km_splat(0.5f);
  p = p * r + km_splat(1.0f);
  p = p * r + km_splat(1.0f);
  km_v16i n = (km_v16i)t - (km_v16i)magic;
  km_v16i n1 = n >> 1, n2 = n - n1;
  km_v16f s1 = (km_v16f)((n1 + 127) << 23), s2 = (km_v16f)((n2 + 127) << 23);
  return p * s1 * s2;
}

/* By-value forms of the above (GNU statement expressions). */
#define km_store(p, v)                   \
  ({                                     \
    const km_v16f km_sv_ = (v);          \
    memcpy((p), &km_sv_, sizeof km_sv_); \
  })
#define km_store_part(p, v, n)          \
  ({                                    \
    const km_v16f km_pv_ = (v);         \
    km_store_part_p((p), &km_pv_, (n)); \
  })
#define km_max(a, b)                          \
  ({                                          \
    const km_v16f km_ma_ = (a), km_mb_ = (b); \
    const km_v16i km_mm_ = km_mb_ > km_ma_;   \
    km_select_p(&km_mm_, &km_mb_, &km_ma_);   \
  })
#define km_hsum(v)              \
  ({                            \
    const km_v16f km_hv_ = (v); \
    km_hsum_p(&km_hv_);         \
  })
#define km_hsum_f(v)            \
  ({                            \
    const km_v16f km_fv_ = (v); \
    km_hsum_f_p(&km_fv_);       \
  })
#define km_hmax(v)              \
  ({                            \
    const km_v16f km_xv_ = (v); \
    km_hmax_p(&km_xv_);         \
  })
#define km_exp(v)               \
  ({                            \
    const km_v16f km_ev_ = (v); \
    km_exp_p(&km_ev_);          \
  })

/* exp of one float through the vector code, so scalar tails round exactly
 * as vector bodies do. */
KM_INLINE float km_expf(float x) {
  km_v16f v = km_splat(x);
  return km_exp_p(&v)[0];
}

/* Runs fn over [0, n) on exec's pool when it has more than one thread and
 * there is more than one grain of work, else inline on this thread. */
KM_INLINE void km_run(const sinter_art_exec_t *exec, int64_t n, int64_t grain,
                      sinter_art_task_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (exec && exec->num_threads > 1 && n > grain)
    exec->parallel_for(exec, n, grain, fn, ctx);
  else
    fn(ctx, 0, n);
}

/* A grain for n units of work_per_unit elements each: about 32K elements. */
KM_INLINE int64_t km_grain(int64_t work_per_unit) {
  if (work_per_unit < 1) work_per_unit = 1;
  int64_t g = ((int64_t)1 << 15) / work_per_unit;
  return g < 1 ? 1 : g;
}

#endif /* SINTER_CODEGEN_KERNELS_MISC_IMPL_H */
