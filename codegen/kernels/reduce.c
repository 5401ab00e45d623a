/* Reductions over a run of consecutive axes and separable 2-D resizing, both
 * fp32. Resize takes its taps precomputed by the code generator (the
 * interpreter's own coordinate rules), so the kernel only blends. */
#include <math.h>

#include "misc_impl.h"

typedef struct reduce_ctx_s {
  int32_t op;
  int64_t n, inner;
  const float *x;
  float *y;
} reduce_ctx_t;

/* One outer index: sums in double per inner lane, in increasing reduced index. */
static void reduce_task(void *vc, int64_t o0, int64_t o1) {
  const reduce_ctx_t *c = vc;
  enum { CH = 256 };
  double acc[CH];
  for (int64_t o = o0; o < o1; o++) {
    const float *x = c->x + o * c->n * c->inner;
    float *y = c->y + o * c->inner;
    for (int64_t i0 = 0; i0 < c->inner; i0 += CH) {
      int64_t m = c->inner - i0 < CH ? c->inner - i0 : CH;
      for (int64_t i = 0; i < m; i++)
        acc[i] = c->op == SINTER_K_RED_MAX   ? -INFINITY
                 : c->op == SINTER_K_RED_MIN ? INFINITY
                                             : 0.0;
      for (int64_t k = 0; k < c->n; k++) {
        const float *row = x + k * c->inner + i0;
        switch (c->op) {
          case SINTER_K_RED_MAX:
            for (int64_t i = 0; i < m; i++)
              acc[i] = (row[i] > acc[i] || isnan(row[i])) ? row[i] : acc[i];
            break;
          case SINTER_K_RED_MIN:
            for (int64_t i = 0; i < m; i++)
              acc[i] = (row[i] < acc[i] || isnan(row[i])) ? row[i] : acc[i];
            break;
          case SINTER_K_RED_SUM_SQUARE:
            for (int64_t i = 0; i < m; i++) acc[i] += (double)row[i] * row[i];
            break;
          default:
            for (int64_t i = 0; i < m; i++) acc[i] += row[i];
            break;
        }
      }
      double scale = c->op == SINTER_K_RED_MEAN && c->n > 0 ? 1.0 / (double)c->n : 1.0;
      for (int64_t i = 0; i < m; i++) y[i0 + i] = (float)(acc[i] * scale);
    }
  }
}

void sinter_k_reduce_f32(int32_t op, int64_t outer, int64_t n, int64_t inner, const float *x,
                         float *y, const sinter_art_exec_t *exec) {
  reduce_ctx_t c = {.op = op, .n = n, .inner = inner, .x = x, .y = y};
  km_run(exec, outer, km_grain(n * inner), reduce_task, &c);
}

typedef struct resize_ctx_s {
  int64_t H, W, OH, OW;
  const int64_t *yi;
  const float *yw;
  const int64_t *xi;
  const float *xw;
  const float *x;
  float *y;
} resize_ctx_t;

static void resize_task(void *vc, int64_t r0, int64_t r1) {
  const resize_ctx_t *c = vc;
  for (int64_t r = r0; r < r1; r++) { /* r = plane * OH + output row */
    int64_t p = r / c->OH, oy = r % c->OH;
    const float *a = c->x + (p * c->H + c->yi[2 * oy]) * c->W;
    const float *b = c->x + (p * c->H + c->yi[2 * oy + 1]) * c->W;
    float wa = c->yw[2 * oy], wb = c->yw[2 * oy + 1];
    float *out = c->y + r * c->OW;
    for (int64_t ox = 0; ox < c->OW; ox++) {
      int64_t i0 = c->xi[2 * ox], i1 = c->xi[2 * ox + 1];
      float u0 = c->xw[2 * ox], u1 = c->xw[2 * ox + 1];
      float top = a[i0] * u0 + a[i1] * u1, bot = b[i0] * u0 + b[i1] * u1;
      out[ox] = top * wa + bot * wb;
    }
  }
}

void sinter_k_resize2d_f32(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                           const int64_t *yi, const float *yw, const int64_t *xi,
                           const float *xw, const float *x, float *y,
                           const sinter_art_exec_t *exec) {
  resize_ctx_t c = {.H = H, .W = W, .OH = OH, .OW = OW, .yi = yi, .yw = yw, .xi = xi,
                    .xw = xw, .x = x, .y = y};
  km_run(exec, planes * OH, km_grain(OW), resize_task, &c);
}
