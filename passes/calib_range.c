/* Ranges from calibration statistics: minmax, percentile, entropy (minimum
 * KL divergence over a 2048-bin linear histogram, as TensorRT) and mse
 * (minimum expected quantization error), with the documented clamps. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/calib_internal.h"

enum { LIN_BINS = 2048 };
#define RANGE_EPS 1e-8
#define RANGE_HUGE 1e30

const char *sinter_calib_method_name(sinter_calib_method_t m) {
  switch (m) {
    case SINTER_CALIB_MINMAX: return "minmax";
    case SINTER_CALIB_PERCENTILE: return "percentile";
    case SINTER_CALIB_ENTROPY: return "entropy";
    case SINTER_CALIB_MSE: return "mse";
  }
  return "?";
}

sinter_status_t sinter_calib_method_from_name(const char *name, sinter_calib_method_t *out) {
  for (int m = SINTER_CALIB_MINMAX; m <= SINTER_CALIB_MSE; m++)
    if (strcmp(name, sinter_calib_method_name((sinter_calib_method_t)m)) == 0) {
      *out = (sinter_calib_method_t)m;
      return NULL;
    }
  return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                      "unknown calibration method '%s' (minmax, percentile, entropy, mse)", name);
}

const char *sinter_calib_clamp_name(sinter_calib_clamp_t c) {
  static const char *const names[] = {"none", "empty", "constant", "tiny", "huge"};
  return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

/* ---- percentile ---------------------------------------------------------- */

/* The q-quantile (0..1) of the magnitudes, interpolated inside its bin. */
static double mag_quantile(const calib_value_t *v, double q) {
  double target = q * (double)v->count, cum = (double)v->zeros;
  if (cum >= target) return 0;
  for (int32_t i = 0; i < CALIB_NB; i++) {
    double n = (double)(v->pos[i] + v->neg[i]);
    if (n == 0) continue;
    if (cum + n >= target) {
      double lo, hi;
      sinter_calib_bin_bounds(i, &lo, &hi);
      return lo + (hi - lo) * (target - cum) / n;
    }
    cum += n;
  }
  return fmax(fabs(v->min), fabs(v->max));
}

/* The q-quantile of the signed values: negative bins by falling |x|, the
 * zeros, then positive bins by rising |x|. */
static double signed_quantile(const calib_value_t *v, double q) {
  double target = q * (double)v->count, cum = 0, lo, hi;
  for (int32_t i = CALIB_NB - 1; i >= 0; i--) {
    double n = (double)v->neg[i];
    if (n == 0) continue;
    if (cum + n >= target) {
      sinter_calib_bin_bounds(i, &lo, &hi);
      return -hi + (hi - lo) * (target - cum) / n;
    }
    cum += n;
  }
  cum += (double)v->zeros;
  if (cum >= target) return 0;
  for (int32_t i = 0; i < CALIB_NB; i++) {
    double n = (double)v->pos[i];
    if (n == 0) continue;
    if (cum + n >= target) {
      sinter_calib_bin_bounds(i, &lo, &hi);
      return lo + (hi - lo) * (target - cum) / n;
    }
    cum += n;
  }
  return v->max;
}

/* ---- entropy ------------------------------------------------------------- */

/* Spreads one side's log-grid counts uniformly inside each bin onto LIN_BINS
 * linear bins over [0, amax]. Exact zeros are left out: every grid holds 0
 * exactly, and a spike of them (after Relu) would otherwise pull the KL
 * search towards tiny thresholds. */
static void to_linear(const uint64_t *bins, double amax, double *lin) {
  double w = amax / LIN_BINS;
  memset(lin, 0, LIN_BINS * sizeof(double));
  for (int32_t i = 0; i < CALIB_NB; i++) {
    if (!bins[i]) continue;
    double lo, hi, n = (double)bins[i];
    sinter_calib_bin_bounds(i, &lo, &hi);
    if (hi > amax) hi = amax;
    int64_t a = (int64_t)(lo / w), b = (int64_t)(hi / w);
    if (a >= LIN_BINS) a = LIN_BINS - 1;
    if (b >= LIN_BINS) b = LIN_BINS - 1;
    if (hi <= lo || a == b) {
      lin[a] += n;
      continue;
    }
    for (int64_t j = a; j <= b; j++) {
      double s = fmax(lo, j * w), e = fmin(hi, (j + 1) * w);
      if (e > s) lin[j] += n * (e - s) / (hi - lo);
    }
  }
}

/* TensorRT's threshold search: for each candidate i, the reference P is the
 * first i bins with the outliers added to the last, Q is the first i bins
 * merged into `levels` groups and spread back over their nonzero bins; the
 * threshold is i * width at the last minimum of KL(P || Q). */
static double kl_threshold(const double *h, double amax, int32_t levels) {
  double w = amax / LIN_BINS, best = INFINITY;
  int32_t best_i = LIN_BINS;
  double *p = malloc(LIN_BINS * sizeof(double)), *q = malloc(LIN_BINS * sizeof(double));
  if (!p || !q) {
    free(p);
    free(q);
    return amax;
  }
  double suffix[LIN_BINS + 1];
  suffix[LIN_BINS] = 0;
  for (int32_t j = LIN_BINS - 1; j >= 0; j--) suffix[j] = suffix[j + 1] + h[j];
  for (int32_t i = levels; i <= LIN_BINS; i++) {
    double psum = 0, qsum = 0;
    for (int32_t j = 0; j < i; j++) p[j] = h[j];
    p[i - 1] += suffix[i];
    for (int32_t g = 0; g < levels; g++) {
      int32_t s = (int32_t)((int64_t)g * i / levels), e = (int32_t)((int64_t)(g + 1) * i / levels);
      double sum = 0;
      int32_t nz = 0;
      for (int32_t j = s; j < e; j++) {
        sum += h[j];
        nz += h[j] != 0;
      }
      for (int32_t j = s; j < e; j++) q[j] = h[j] != 0 ? sum / nz : 0;
    }
    for (int32_t j = 0; j < i; j++) {
      psum += p[j];
      qsum += q[j];
    }
    if (psum <= 0 || qsum <= 0) continue;
    double kl = 0;
    for (int32_t j = 0; j < i && isfinite(kl); j++) {
      if (p[j] <= 0) continue;
      double pj = p[j] / psum, qj = q[j] / qsum;
      kl = qj > 0 ? kl + pj * log(pj / qj) : INFINITY;
    }
    if (kl <= best) {
      best = kl;
      best_i = i;
    }
  }
  free(p);
  free(q);
  return best_i * w;
}

static double entropy_side(const uint64_t *bins, double amax, int32_t levels) {
  if (amax <= 0) return 0;
  double *lin = malloc(LIN_BINS * sizeof(double));
  if (!lin) return amax;
  to_linear(bins, amax, lin);
  double t = kl_threshold(lin, amax, levels);
  free(lin);
  return t;
}

/* ---- mse ----------------------------------------------------------------- */

/* Expected squared error of quantizing v onto the grid lo + k*step (k in
 * 0..nsteps) with clipping to [lo, hi]. Each bin is sampled at 4 evenly
 * spread points inside it (clipped to the data's extremes). */
static double mse_cost(const calib_value_t *v, double lo, double hi, double step, int32_t nsteps) {
  double cost = 0;
  for (int side = 0; side < 2; side++) {
    const uint64_t *bins = side ? v->neg : v->pos;
    double sg = side ? -1 : 1;
    for (int32_t i = 0; i < CALIB_NB; i++) {
      if (!bins[i]) continue;
      double a, b, e = 0;
      sinter_calib_bin_bounds(i, &a, &b);
      for (int k = 0; k < 4; k++) {
        double x = sg * (a + (b - a) * (k + 0.5) / 4);
        if (x < v->min) x = v->min;
        if (x > v->max) x = v->max;
        double r = nearbyint((x - lo) / step);
        if (r < 0) r = 0;
        if (r > nsteps) r = nsteps;
        double d = x - (lo + r * step);
        e += d * d;
      }
      cost += (double)bins[i] * e / 4;
    }
  }
  double r = nearbyint(-lo / step); /* the zeros */
  if (r < 0) r = 0;
  if (r > nsteps) r = nsteps;
  double d = lo + r * step;
  return cost + (double)v->zeros * d * d;
}

/* Scales the range [lo0, hi0] by alpha on the candidate grid of bin edges
 * from amax/1024 up to amax, keeping the largest alpha among equal costs. */
static void mse_search(const calib_value_t *v, double lo0, double hi0, int32_t nsteps,
                       double *out_lo, double *out_hi) {
  double amax = fmax(fabs(lo0), fabs(hi0));
  double best = INFINITY, best_a = 1;
  double cand_lo = amax / 1024;
  for (int32_t i = CALIB_NB; i >= 0; i--) {
    double a;
    if (i == CALIB_NB) {
      a = 1;
    } else {
      double lo, hi;
      sinter_calib_bin_bounds(i, &lo, &hi);
      if (hi >= amax) continue;
      if (hi < cand_lo) break;
      a = hi / amax;
    }
    double lo = lo0 * a, hi = hi0 * a, step = (hi - lo) / nsteps;
    if (!(step > 0)) continue;
    double c = mse_cost(v, lo, hi, step, nsteps);
    if (c < best) {
      best = c;
      best_a = a;
    }
  }
  *out_lo = lo0 * best_a;
  *out_hi = hi0 * best_a;
}

/* ---- the range ----------------------------------------------------------- */

sinter_status_t sinter_calib_compute_range(const sinter_calib_stats_t *stats, int32_t index,
                                           const sinter_calib_range_options_t *opts,
                                           sinter_calib_range_t *out) {
  if (index < 0 || index >= stats->n_values)
    return SINTER_ERROR(SINTER_OUT_OF_RANGE, "calibration value index %d of %d", index,
                        stats->n_values);
  const calib_value_t *v = &stats->values[index];
  double pct = opts->percentile == 0 ? 99.99 : opts->percentile;
  int32_t bits = opts->bits == 0 ? 8 : opts->bits;
  if (!(pct > 0 && pct <= 100))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "percentile %g is outside (0, 100]", pct);
  if (bits < 2 || bits > 16)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "quantized width of %d bits (2..16)", bits);
  if (opts->method < SINTER_CALIB_MINMAX || opts->method > SINTER_CALIB_MSE)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "unknown calibration method %d", opts->method);
  bool sym = opts->symmetric;
  double lo = 0, hi = 0;
  out->clamp = SINTER_CALIB_CLAMP_NONE;
  if (v->count == 0) {
    out->lo = (float)-RANGE_EPS;
    out->hi = (float)RANGE_EPS;
    out->clamp = SINTER_CALIB_CLAMP_EMPTY;
    return NULL;
  }
  double mn = v->min, mx = v->max, amax = fmax(fabs(mn), fabs(mx));
  bool has_neg = mn < 0, has_pos = mx > 0;
  if (mn == mx) {
    /* One value: a range that still represents it exactly and holds 0. */
    if (sym) {
      lo = -amax;
      hi = amax;
    } else {
      lo = fmin(mn, 0);
      hi = fmax(mx, 0);
    }
    out->clamp = SINTER_CALIB_CLAMP_CONSTANT;
  } else {
    switch (opts->method) {
      case SINTER_CALIB_MINMAX:
        lo = sym ? -amax : mn;
        hi = sym ? amax : mx;
        break;
      case SINTER_CALIB_PERCENTILE:
        if (sym) {
          hi = fmin(mag_quantile(v, pct / 100), amax);
          lo = -hi;
        } else {
          lo = fmax(signed_quantile(v, 1 - pct / 100), mn);
          hi = fmin(signed_quantile(v, pct / 100), mx);
        }
        break;
      case SINTER_CALIB_ENTROPY: {
        if (sym) {
          uint64_t *m = malloc(CALIB_NB * sizeof(uint64_t));
          if (!m) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
          for (int32_t i = 0; i < CALIB_NB; i++) m[i] = v->pos[i] + v->neg[i];
          hi = entropy_side(m, amax, 1 << (bits - 1));
          free(m);
          lo = -hi;
        } else {
          /* One-sided data gets all 2^bits - 1 levels; two-sided data searches
           * each side on its own with half of them. */
          int32_t levels = has_neg && has_pos ? 1 << (bits - 1) : (1 << bits) - 1;
          hi = has_pos ? entropy_side(v->pos, mx, levels) : mx;
          lo = has_neg ? -entropy_side(v->neg, -mn, levels) : mn;
        }
        break;
      }
      case SINTER_CALIB_MSE:
        if (sym)
          mse_search(v, -amax, amax, 2 * ((1 << (bits - 1)) - 1), &lo, &hi);
        else
          mse_search(v, mn, mx, (1 << bits) - 1, &lo, &hi);
        break;
    }
  }
  if (hi > RANGE_HUGE || lo < -RANGE_HUGE) {
    hi = fmin(hi, RANGE_HUGE);
    lo = fmax(lo, -RANGE_HUGE);
    out->clamp = SINTER_CALIB_CLAMP_HUGE;
  }
  if (hi - lo < 2 * RANGE_EPS) {
    double c = sym ? 0 : (lo + hi) / 2;
    double w = fmax(RANGE_EPS, fabs(c) * 0x1p-20);
    lo = c - w;
    hi = c + w;
    if (out->clamp == SINTER_CALIB_CLAMP_NONE) out->clamp = SINTER_CALIB_CLAMP_TINY;
  }
  out->lo = (float)lo;
  out->hi = (float)hi;
  return NULL;
}
