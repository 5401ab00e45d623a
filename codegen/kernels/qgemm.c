/* Requantized int8 GEMM (QLinearMatMulAct): u8/i8 activations times s8
 * weights packed at compile time in the VNNI layout, with bias, zero points
 * and the requantize-and-clamp epilogue fused. Portable C, AVX512-VNNI and
 * AMX-INT8 variants give identical bytes. */
#include "qimpl.h"

/* Packed B: this header, then int32 corr[np] (bias and every zero-point term
 * that does not depend on a), int32 bzp[np], then np / 16 panels of 16
 * columns, each kgp groups of 4 k x 16 columns x 4 bytes (column c's bytes of
 * group g at g * 64 + 4 c), zero-padded. kgp is rounded up to 16 groups so an
 * AMX tile (64 k) never reads past a panel. */
typedef struct qgemm_hdr_s {
  int64_t K, N, kg, kgp, np;
  int32_t has_bzp, pad;
} qgemm_hdr_t;
enum { QHDR = 64 };

static void layout(int64_t K, int64_t N, int64_t *kg, int64_t *kgp, int64_t *np) {
  *kg = (K + 3) / 4;
  *kgp = qround_up(*kg, 16);
  *np = qround_up(N, 16);
}

size_t sinter_k_qgemm_packed_size(int64_t K, int64_t N) {
  int64_t kg, kgp, np;
  layout(K, N, &kg, &kgp, &np);
  return (size_t)QHDR + (size_t)np * 8 + (size_t)(np / 16) * (size_t)kgp * 64;
}

/* corr[j] = bias[j] - az * sum_k b[k][j] + K * az * bzp[j] with az the zero
 * point of a seen as u8 (i8 a is read XOR 0x80, i.e. plus 128), so that
 * acc = sum_k a_u b + corr[j] - bzp[j] * sum_k a_u, all wrapping. */
void sinter_k_qgemm_pack_b(int64_t K, int64_t N, const int8_t *b, int64_t ldb_k, int64_t ldb_n,
                           const int32_t *b_zp, const int32_t *bias, int32_t a_zp, int32_t a_signed,
                           void *packed) {
  qgemm_hdr_t h;
  memset(&h, 0, sizeof(h));
  h.K = K;
  h.N = N;
  layout(K, N, &h.kg, &h.kgp, &h.np);
  uint8_t *base = packed;
  memset(base, 0, sinter_k_qgemm_packed_size(K, N));
  int32_t *corr = (int32_t *)(void *)(base + QHDR), *bzp = corr + h.np;
  uint8_t *panels = (uint8_t *)(bzp + h.np);
  uint32_t az = (uint32_t)a_zp + (a_signed ? 128u : 0u);
  for (int64_t j = 0; j < N; j++) {
    uint32_t colsum = 0, z = b_zp ? (uint32_t)b_zp[j] : 0;
    uint8_t *pan = panels + (j / 16) * h.kgp * 64 + (j % 16) * 4;
    for (int64_t k = 0; k < K; k++) {
      int8_t v = b[k * ldb_k + j * ldb_n];
      colsum += (uint32_t)(int32_t)v;
      pan[(k / 4) * 64 + k % 4] = (uint8_t)v;
    }
    corr[j] = (int32_t)((bias ? (uint32_t)bias[j] : 0u) - az * colsum + (uint32_t)K * az * z);
    bzp[j] = (int32_t)z;
    if (z) h.has_bzp = 1;
  }
  memcpy(base, &h, sizeof(h));
}

typedef struct qgemm_ctx_s {
  qgemm_hdr_t h;
  const uint8_t *a;
  int64_t lda;
  uint32_t a_xor;
  const int32_t *corr, *bzp;
  const uint8_t *panels;
  const float *mult;
  int32_t mult_finite, yzp, lo, hi;
  uint8_t *y;
  int64_t ldy, M, nrb;
} qgemm_ctx_t;

static int all_finite(int64_t n, const float *m) {
  int ok = 1;
  for (int64_t i = 0; i < n; i++) ok &= (m[i] - m[i] == 0.0f);
  return ok;
}

static void init_ctx(qgemm_ctx_t *c, int64_t M, const void *a, int64_t lda, int32_t a_signed,
                     const void *bp, const float *mult, int32_t y_zp, int32_t qmin, int32_t qmax,
                     void *y, int64_t ldy) {
  memcpy(&c->h, bp, sizeof(c->h));
  c->a = a;
  c->lda = lda;
  c->a_xor = a_signed ? 0x80808080u : 0u;
  c->corr = (const int32_t *)(const void *)((const uint8_t *)bp + QHDR);
  c->bzp = c->corr + c->h.np;
  c->panels = (const uint8_t *)(c->bzp + c->h.np);
  c->mult = mult;
  c->mult_finite = all_finite(c->h.N, mult);
  c->yzp = y_zp;
  c->lo = qmin;
  c->hi = qmax;
  c->y = y;
  c->ldy = ldy;
  c->M = M;
  c->nrb = (M + QMR - 1) / QMR;
}

/* Fills the tile of row block rb and column group cg (QNR columns); returns
 * its mr and nv. rowsum must have QMR entries. */
static inline void make_tile(const qgemm_ctx_t *c, int64_t rb, int64_t cg, int32_t *rowsum,
                             qtile_t *t, int *mr, int *nv) {
  int64_t r0 = rb * QMR, j0 = cg * QNR;
  *mr = (int)qmin64(QMR, c->M - r0);
  *nv = (int)qmin64(QNV, (c->h.N - j0 + 15) / 16);
  const uint8_t *a = c->a + r0 * c->lda;
  t->kg = c->h.K / 4;
  t->ntap = 1;
  t->tapoff = NULL;
  t->r = a;
  t->r_rs = c->lda;
  t->r_gs = 4;
  t->r_xor = c->a_xor;
  t->r_tail = (int32_t)(c->h.K % 4);
  t->v = c->panels + (j0 / 16) * c->h.kgp * 64;
  t->v_ps = c->h.kgp * 64;
  t->v_gs = 64;
  t->radd = NULL;
  t->cadd = c->corr + j0;
  t->rmul = NULL;
  t->cmul = NULL;
  if (c->h.has_bzp) {
    /* b_zp != 0 needs the row sums of a (as u8): acc -= bzp[j] * rowsum[r]. */
    uint8_t x = (uint8_t)c->a_xor;
    for (int i = 0; i < *mr; i++) {
      uint32_t s = 0;
      const uint8_t *ar = a + i * c->lda;
      for (int64_t k = 0; k < c->h.K; k++) s += (uint8_t)(ar[k] ^ x);
      rowsum[i] = (int32_t)s;
    }
    t->rmul = rowsum;
    t->cmul = c->bzp + j0;
  }
  t->mult = c->mult + j0;
  t->mult_rows = 0;
  t->mult_finite = c->mult_finite;
  t->yzp = c->yzp;
  t->lo = c->lo;
  t->hi = c->hi;
  t->y = c->y + r0 * c->ldy + j0;
  t->ldy = c->ldy;
  t->ncols = c->h.N - j0;
  t->wrap_ws = t->wrap_ow = t->q0 = 0;
}

/* Tasks are tiles numbered column group major, so a task's run of tiles
 * shares one column group of B in cache. */
static void portable_task(void *vc, int64_t begin, int64_t end) {
  const qgemm_ctx_t *c = vc;
  for (int64_t i = begin; i < end; i++) {
    qtile_t t;
    int32_t rowsum[QMR];
    int mr, nv;
    make_tile(c, i % c->nrb, i / c->nrb, rowsum, &t, &mr, &nv);
    QTILE_DISPATCH(portable_tile, &t, mr, nv, 0);
  }
}

static void run(const qgemm_ctx_t *c, sinter_art_task_fn fn, const sinter_art_exec_t *exec) {
  int64_t ncg = (c->h.N + QNR - 1) / QNR, n = c->nrb * ncg;
  if (n <= 0) return;
  if (exec && exec->num_threads > 1)
    exec->parallel_for(exec, n, 1, fn, (void *)c);
  else
    fn((void *)c, 0, n);
}

void sinter_k_qgemm(int64_t M, int64_t N, int64_t K, const void *a, int64_t lda, int32_t a_signed,
                    const void *bp, const float *mult, int32_t y_zp, int32_t qmin, int32_t qmax,
                    void *y, int64_t ldy, int32_t y_signed, const sinter_art_exec_t *exec) {
  (void)N;
  (void)K;
  (void)y_signed; /* the clamp bounds already say the range; the low byte is the value */
  qgemm_ctx_t c;
  init_ctx(&c, M, a, lda, a_signed, bp, mult, y_zp, qmin, qmax, y, ldy);
  run(&c, portable_task, exec);
}

/* ---- AVX512-VNNI ---------------------------------------------------------------------- */

#if defined(__x86_64__)
static QVNNI_TARGET void vnni_tile_any(const qtile_t *t, int mr, int nv) {
  QTILE_DISPATCH(vnni_tile, t, mr, nv, 0);
}

static QVNNI_TARGET void vnni_task(void *vc, int64_t begin, int64_t end) {
  const qgemm_ctx_t *c = vc;
  for (int64_t i = begin; i < end; i++) {
    qtile_t t;
    int32_t rowsum[QMR];
    int mr, nv;
    make_tile(c, i % c->nrb, i / c->nrb, rowsum, &t, &mr, &nv);
    vnni_tile_any(&t, mr, nv);
  }
}

QVNNI_TARGET void sinter_k_qgemm_vnni(int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                                      int32_t a_signed, const void *bp, const float *mult,
                                      int32_t y_zp, int32_t qmin, int32_t qmax, void *y,
                                      int64_t ldy, int32_t y_signed,
                                      const sinter_art_exec_t *exec) {
  (void)N;
  (void)K;
  (void)y_signed;
  qgemm_ctx_t c;
  init_ctx(&c, M, a, lda, a_signed, bp, mult, y_zp, qmin, qmax, y, ldy);
  run(&c, vnni_task, exec);
}
#else
void sinter_k_qgemm_vnni(int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                         int32_t a_signed, const void *bp, const float *mult, int32_t y_zp,
                         int32_t qmin, int32_t qmax, void *y, int64_t ldy, int32_t y_signed,
                         const sinter_art_exec_t *exec) {
  sinter_k_qgemm(M, N, K, a, lda, a_signed, bp, mult, y_zp, qmin, qmax, y, ldy, y_signed, exec);
}
#endif

/* ---- AMX-INT8 ------------------------------------------------------------------------- */

#if defined(__x86_64__) && defined(__linux__)
/* Linux x86-64 arch_prctl codes (asm/prctl.h) and the XTILEDATA state bit. */
enum { SYS_ARCH_PRCTL = 158, ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023 };
enum { XFEATURE_XTILEDATA = 18 };

/* Raw syscall: no libc dependency and no errno, as the kernels must not need either. */
static long raw_syscall2(long n, long a0, long a1) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a0), "S"(a1) : "rcx", "r11", "memory");
  return ret;
}

static int probe_amx(void) {
  unsigned eax, ebx, ecx, edx;
  __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(0), "c"(0));
  if (eax < 7) return 0;
  __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(0));
  /* EDX bit 24 AMX-TILE, bit 25 AMX-INT8; AVX512-VNNI (ECX bit 11) for the epilogue. */
  if (!(edx & (1u << 24)) || !(edx & (1u << 25)) || !(ecx & (1u << 11))) return 0;
  if (raw_syscall2(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
  uint64_t perm = 0;
  if (raw_syscall2(SYS_ARCH_PRCTL, ARCH_GET_XCOMP_PERM, (long)&perm) != 0) return 0;
  return (perm >> XFEATURE_XTILEDATA) & 1;
}

/* The one piece of global state in the kernels: 0 unknown, 1 granted, 2 not.
 * Racing first calls both probe; the request is idempotent. */
static int amx_state;

int sinter_k_amx_available(void) {
  int s = __atomic_load_n(&amx_state, __ATOMIC_ACQUIRE);
  if (s == 0) {
    s = probe_amx() ? 1 : 2;
    __atomic_store_n(&amx_state, s, __ATOMIC_RELEASE);
  }
  return s == 1;
}

/* UNTESTED ON HARDWARE: the machine this was written on (AMD Zen 4) has no
 * AMX, so only the fallback below has run. The tile path follows the Intel
 * SDM: palette 1, C tiles tmm0-3 (16 rows x 16 int32), A tile tmm4 (16 rows x
 * 64 u8, from a zero-padded stack copy, i8 XORed to u8), B tile tmm5 (16
 * groups x 16 columns x 4 s8 = one 64-k slice of a packed panel, which is
 * exactly the VNNI layout, stride 64 bytes). */
#define QAMX_TARGET \
  __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

typedef struct amx_cfg_s {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} amx_cfg_t;

enum { AMX_KA = 2048 }; /* k bytes of A copied at a time: a 32 KiB stack buffer */

static QAMX_TARGET void amx_row_block(const qgemm_ctx_t *c, int64_t rb, uint8_t *abuf,
                                      int32_t *cbuf) {
  int64_t r0 = rb * 16, mr = qmin64(16, c->M - r0), kp = c->h.kgp * 4, K = c->h.K;
  int single = kp <= AMX_KA;
  uint8_t x = (uint8_t)c->a_xor;
  int32_t rowsum[16];
  if (c->h.has_bzp) {
    for (int64_t i = 0; i < mr; i++) {
      uint32_t s = 0;
      for (int64_t k = 0; k < K; k++) s += (uint8_t)(c->a[(r0 + i) * c->lda + k] ^ x);
      rowsum[i] = (int32_t)s;
    }
  }
  for (int64_t j0 = 0; j0 < c->h.N; j0 += 64) {
    int nv = (int)qmin64(4, (c->h.N - j0 + 15) / 16);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t k0 = 0; k0 < kp; k0 += AMX_KA) {
      int64_t kc = qmin64(AMX_KA, kp - k0);
      if (!single || j0 == 0) {
        /* Copy rows r0.. of a, k in [k0, k0 + kc), XORed, zero beyond M and K. */
        for (int64_t i = 0; i < 16; i++) {
          uint8_t *d = abuf + i * AMX_KA;
          int64_t n = i < mr ? qmin64(kc, K - k0) : 0;
          if (n < 0) n = 0;
          const uint8_t *s = c->a + (r0 + i) * c->lda + k0;
          for (int64_t k = 0; k < n; k++) d[k] = s[k] ^ x;
          memset(d + n, 0, (size_t)(kc - n));
        }
      }
      for (int64_t kk = 0; kk < kc; kk += 64) {
        const uint8_t *bp = c->panels + (j0 / 16) * c->h.kgp * 64 + (k0 + kk) / 4 * 64;
        int64_t ps = c->h.kgp * 64;
        _tile_loadd(4, abuf + kk, AMX_KA);
        _tile_loadd(5, bp, 64);
        _tile_dpbusd(0, 4, 5);
        if (nv > 1) {
          _tile_loadd(5, bp + ps, 64);
          _tile_dpbusd(1, 4, 5);
        }
        if (nv > 2) {
          _tile_loadd(5, bp + 2 * ps, 64);
          _tile_dpbusd(2, 4, 5);
        }
        if (nv > 3) {
          _tile_loadd(5, bp + 3 * ps, 64);
          _tile_dpbusd(3, 4, 5);
        }
      }
    }
    /* cbuf[i][c * 16 + l]: row i, column j0 + 16 c + l. */
    _tile_stored(0, cbuf, 256);
    _tile_stored(1, cbuf + 16, 256);
    _tile_stored(2, cbuf + 32, 256);
    _tile_stored(3, cbuf + 48, 256);
    qtile_t t;
    memset(&t, 0, sizeof(t));
    t.mult_finite = c->mult_finite;
    t.yzp = c->yzp;
    t.lo = c->lo;
    t.hi = c->hi;
    for (int cc = 0; cc < nv; cc++) {
      int64_t j = j0 + 16 * cc, n = c->h.N - j;
      __mmask16 k = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
      __m512 m = _mm512_maskz_loadu_ps(k, c->mult + j);
      __m512d mlo = _mm512_cvtps_pd(_mm512_castps512_ps256(m));
      __m512d mhi =
          _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(m), 1)));
      __m512i corr = _mm512_loadu_si512(c->corr + j), bz = _mm512_loadu_si512(c->bzp + j);
      for (int64_t i = 0; i < mr; i++) {
        __m512i v = _mm512_add_epi32(_mm512_loadu_si512(cbuf + i * 64 + 16 * cc), corr);
        if (c->h.has_bzp)
          v = _mm512_sub_epi32(v, _mm512_mullo_epi32(_mm512_set1_epi32(rowsum[i]), bz));
        vnni_store16(v, mlo, mhi, &t, c->y + (r0 + i) * c->ldy + j, n);
      }
    }
  }
}

static QAMX_TARGET void amx_task(void *vc, int64_t begin, int64_t end) {
  const qgemm_ctx_t *c = vc;
  amx_cfg_t cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.palette = 1;
  for (int i = 0; i < 6; i++) {
    cfg.rows[i] = 16;
    cfg.colsb[i] = 64;
  }
  _tile_loadconfig(&cfg);
  uint8_t abuf[16 * AMX_KA] __attribute__((aligned(64)));
  int32_t cbuf[16 * 64] __attribute__((aligned(64)));
  for (int64_t rb = begin; rb < end; rb++) amx_row_block(c, rb, abuf, cbuf);
  _tile_release();
}

QAMX_TARGET void sinter_k_qgemm_amx(int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                                    int32_t a_signed, const void *bp, const float *mult,
                                    int32_t y_zp, int32_t qmin, int32_t qmax, void *y, int64_t ldy,
                                    int32_t y_signed, const sinter_art_exec_t *exec) {
  /* Every AMX CPU has AVX512-VNNI, so that is the fallback when the kernel
   * refuses the tile state. */
  if (!sinter_k_amx_available()) {
    sinter_k_qgemm_vnni(M, N, K, a, lda, a_signed, bp, mult, y_zp, qmin, qmax, y, ldy, y_signed,
                        exec);
    return;
  }
  qgemm_ctx_t c;
  init_ctx(&c, M, a, lda, a_signed, bp, mult, y_zp, qmin, qmax, y, ldy);
  int64_t n = (M + 15) / 16;
  if (n <= 0 || N <= 0) return;
  if (exec && exec->num_threads > 1)
    exec->parallel_for(exec, n, 1, amx_task, &c);
  else
    amx_task(&c, 0, n);
}
#else
int sinter_k_amx_available(void) {
  return 0;
}
void sinter_k_qgemm_amx(int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                        int32_t a_signed, const void *bp, const float *mult, int32_t y_zp,
                        int32_t qmin, int32_t qmax, void *y, int64_t ldy, int32_t y_signed,
                        const sinter_art_exec_t *exec) {
  sinter_k_qgemm_vnni(M, N, K, a, lda, a_signed, bp, mult, y_zp, qmin, qmax, y, ldy, y_signed,
                      exec);
}
#endif
