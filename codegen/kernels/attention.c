/* Scaled dot-product attention (docs/ops-sinter.md, Attention), one query
 * row at a time: its Sk scores live on the stack, the softmax runs over them
 * and the output row is accumulated as sum_j p_j V[j]. Tasks are (head,
 * query row) pairs, so results do not depend on the thread count. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "misc_impl.h"

typedef struct attn_ctx_s {
  int64_t Sq, Sk, D, Dv;
  const float *q, *k, *v, *mask;
  const int64_t *q_off, *k_off, *v_off, *mask_off, *y_off;
  int64_t q_ld, k_ld, v_ld, mask_si, mask_sj, y_ld;
  float scale;
  int32_t causal;
  float *y;
} attn_ctx_t;

/* Dot product along D in 16 lanes (two accumulators), reduced in a fixed order. */
static inline float dot(const float *a, const float *b, int64_t n) {
  km_v16f a0 = km_splat(0.0f), a1 = km_splat(0.0f);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 += km_load(a + i) * km_load(b + i);
    a1 += km_load(a + i + 16) * km_load(b + i + 16);
  }
  if (i + 16 <= n) {
    a0 += km_load(a + i) * km_load(b + i);
    i += 16;
  }
  if (i < n) a1 += km_load_part(a + i, n - i, 0.0f) * km_load_part(b + i, n - i, 0.0f);
  return km_hsum_f(a0 + a1);
}

/* y[0, w) = sum_{j < n} p[j] * V[j][0, w) for w <= 16, V rows ld apart; even
 * and odd j in two accumulators (for the add latency), combined at the end. */
static inline void pv_block(const float *p, const float *v, int64_t ld, int64_t n, int64_t w,
                            float *y) {
  km_v16f a0 = km_splat(0.0f), a1 = km_splat(0.0f);
  int64_t j = 0;
  if (w == 16) {
    for (; j + 2 <= n; j += 2) {
      a0 += km_splat(p[j]) * km_load(v + j * ld);
      a1 += km_splat(p[j + 1]) * km_load(v + (j + 1) * ld);
    }
    if (j < n) a0 += km_splat(p[j]) * km_load(v + j * ld);
    km_store(y, a0 + a1);
    return;
  }
  for (; j < n; j++) a0 += km_splat(p[j]) * km_load_part(v + j * ld, w, 0.0f);
  km_store_part(y, a0, w);
}

static void attn_row(const attn_ctx_t *c, int64_t h, int64_t i) {
  const int64_t Sk = c->Sk, D = c->D, Dv = c->Dv;
  float *yr = c->y + c->y_off[h] + i * c->y_ld;
  if (Sk == 0) {
    memset(yr, 0, sizeof(float) * (size_t)Dv);
    return;
  }
  float s[SINTER_K_ATTENTION_MAX_SK];
  const float *qr = c->q + c->q_off[h] + i * c->q_ld;
  const float *kh = c->k + c->k_off[h];
  int64_t lim = c->causal && i + 1 < Sk ? i + 1 : Sk;
  const float *mr = c->mask ? c->mask + c->mask_off[h] + i * c->mask_si : NULL;
  for (int64_t j = 0; j < lim; j++) {
    float x = dot(qr, kh + j * c->k_ld, D) * c->scale;
    if (mr) x = x + mr[j * c->mask_sj];
    s[j] = x;
  }
  /* Softmax as the Softmax kernel: max subtracted, padding lanes exp(-inf) = 0. */
  km_v16f m = km_splat(-INFINITY);
  int64_t j = 0;
  for (; j + 16 <= lim; j += 16) m = km_max(m, km_load(s + j));
  if (j < lim) m = km_max(m, km_load_part(s + j, lim - j, -INFINITY));
  km_v16f vm = km_splat(km_hmax(m)), acc = km_splat(0.0f);
  for (j = 0; j + 16 <= lim; j += 16) {
    km_v16f e = km_exp(km_load(s + j) - vm);
    km_store(s + j, e);
    acc += e;
  }
  if (j < lim) {
    km_v16f e = km_exp(km_load_part(s + j, lim - j, -INFINITY) - vm);
    km_store_part(s + j, e, lim - j);
    acc += e;
  }
  float sum = (float)km_hsum(acc);
  for (j = 0; j < lim; j++) s[j] = s[j] / sum;
  /* y = sum_j p_j V[j], 16 columns at a time with the accumulators in registers. */
  const float *vh = c->v + c->v_off[h];
  for (int64_t d = 0; d < Dv; d += 16)
    pv_block(s, vh + d, c->v_ld, lim, Dv - d < 16 ? Dv - d : 16, yr + d);
}

static void attn_task(void *ctx, int64_t b, int64_t e) {
  const attn_ctx_t *c = ctx;
  for (int64_t t = b; t < e; t++) attn_row(c, t / c->Sq, t % c->Sq);
}

void sinter_k_attention_f32(int64_t heads, int64_t Sq, int64_t Sk, int64_t D, int64_t Dv,
                            const float *q, const int64_t *q_off, int64_t q_ld, const float *k,
                            const int64_t *k_off, int64_t k_ld, const float *v,
                            const int64_t *v_off, int64_t v_ld, const float *mask,
                            const int64_t *mask_off, int64_t mask_si, int64_t mask_sj, float scale,
                            int32_t causal, float *y, const int64_t *y_off, int64_t y_ld,
                            const sinter_art_exec_t *exec) {
  if (heads <= 0 || Sq <= 0 || Dv <= 0) return;
  attn_ctx_t c = {.Sq = Sq,
                  .Sk = Sk,
                  .D = D,
                  .Dv = Dv,
                  .q = q,
                  .k = k,
                  .v = v,
                  .mask = mask,
                  .q_off = q_off,
                  .k_off = k_off,
                  .v_off = v_off,
                  .mask_off = mask_off,
                  .y_off = y_off,
                  .q_ld = q_ld,
                  .k_ld = k_ld,
                  .v_ld = v_ld,
                  .mask_si = mask_si,
                  .mask_sj = mask_sj,
                  .y_ld = y_ld,
                  .scale = scale,
                  .causal = causal,
                  .y = y};
  km_run(exec, heads * Sq, km_grain(Sk * (D + Dv)), attn_task, &c);
}
