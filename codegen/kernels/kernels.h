/* Prototypes of the kernel library: plain C compiled to LLVM bitcode at build
 * time and embedded in libsinter (see docs/codegen.md). The per-model entry
 * function that codegen/llvm_cpu.c builds calls these with constant shapes,
 * strides and quantization parameters; LLVM inlines and specializes them.
 *
 * The same files are also compiled natively into libsinter, so the compiler
 * can call the packing functions (weights are packed at compile time into the
 * layout the kernel reads) and the scratch-size functions, and tests and
 * bench/gemm can call kernels directly.
 *
 * Conventions:
 * - Tensors are dense and row-major unless strides say otherwise. Strides
 *   and sizes are in elements, never bytes, unless the name says bytes.
 * - Every 2-D spatial kernel works on one image (batch 1): the generated
 *   entry loops over the batch.
 * - Arrays of dims and strides are read-only; codegen passes constant globals.
 * - exec may be NULL (run serially). Otherwise a kernel may split its work
 *   with exec->parallel_for; it must give the same result for any number of
 *   threads (each output element is computed by one task, in a fixed order).
 * - Kernels never allocate, never print and never fail: codegen checks every
 *   precondition at compile time.
 * - A function whose name ends in _vnni or _amx uses those instructions and
 *   must only be called when the target has them (and, for AMX, when
 *   sinter_k_amx_available() returned 1); all others are target-neutral C
 *   that LLVM vectorizes for whatever --cpu is chosen. */
#ifndef SINTER_CODEGEN_KERNELS_H
#define SINTER_CODEGEN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/artifact.h"

/* ---- activation epilogue ---------------------------------------------------------------- */

/* Fused activation of kernels with an epilogue, with up to two float params
 * p0, p1 (docs/ops-sinter.md, "The epilogue"). Values are ABI: the code
 * generator passes them as constants. Unknown values behave as NONE. */
typedef enum sinter_k_act_e {
  SINTER_K_ACT_NONE = 0,         /* identity */
  SINTER_K_ACT_RELU = 1,         /* x < 0 ? 0 : x (NaN passes through) */
  SINTER_K_ACT_CLIP = 2,         /* min(max(x, p0), p1) */
  SINTER_K_ACT_LEAKY_RELU = 3,   /* x < 0 ? p0 * x : x */
  SINTER_K_ACT_SIGMOID = 4,      /* 1 / (1 + exp(-x)) */
  SINTER_K_ACT_HARD_SIGMOID = 5, /* max(0, min(1, p0 * x + p1)) */
  SINTER_K_ACT_HARD_SWISH = 6,   /* x * max(0, min(1, x / 6 + 0.5)) */
  SINTER_K_ACT_GELU = 7,         /* 0.5 x (1 + erf(x / sqrt 2)) */
  SINTER_K_ACT_GELU_TANH = 8,    /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  SINTER_K_ACT_SILU = 9,         /* x * sigmoid(x) */
  SINTER_K_ACT_TANH = 10,        /* tanh(x) */
} sinter_k_act_t;

/* ---- fp32 GEMM (gemm.c) ----------------------------------------------------------------- */

/* Bytes of B [K, N] packed for sinter_k_gemm_f32_packed. */
size_t sinter_k_gemm_f32_packed_size(int64_t K, int64_t N);

/* Packs B, element (k, n) at B[k * ldb_k + n * ldb_n] (so a transposed B is
 * ldb_k = 1, ldb_n = K), times alpha, into packed (packed_size bytes, 64-byte
 * aligned). */
void sinter_k_gemm_f32_pack_b(int64_t K, int64_t N, const float *B, int64_t ldb_k, int64_t ldb_n,
                              float alpha, float *packed);

/* C[m][n] = act(sum_k A[m][k] * B[k][n] + bias[n] + R[m][n]) for m < M, n < N;
 * A row-major with leading dim lda, Bp packed by sinter_k_gemm_f32_pack_b, C
 * and R (the residual, may be NULL) with leading dim ldc; bias may be NULL.
 * C must not overlap A, Bp or bias; it may equal R. */
void sinter_k_gemm_f32_packed(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                              const float *Bp, float *C, int64_t ldc, const float *bias,
                              const float *R, int32_t act, float p0, float p1,
                              const sinter_art_exec_t *exec);

/* Batched GEMM with an unpacked B (both operands activations), for MatMul:
 * for b < batch: C_b = A_b B_b, with A_b = A + b * a_batch_stride (row-major,
 * lda), B_b element (k, n) at B + b * b_batch_stride + k * ldb_k + n * ldb_n,
 * C_b = C + b * c_batch_stride (ldc). A batch stride of 0 broadcasts. */
void sinter_k_matmul_f32(int64_t batch, int64_t M, int64_t N, int64_t K, const float *A,
                         int64_t a_batch_stride, int64_t lda, const float *B,
                         int64_t b_batch_stride, int64_t ldb_k, int64_t ldb_n, float *C,
                         int64_t c_batch_stride, int64_t ldc, const sinter_art_exec_t *exec);

/* ---- fp32 convolution (conv.c) ---------------------------------------------------------- */

/* A 2-D convolution of one image, NCHW: x [C, H, W], weights [M, C/group, KH,
 * KW], y [M, OH, OW]. Conv1d is H = KH = 1. Pads are top/left/bottom/right. */
typedef struct sinter_k_conv_shape_s {
  int64_t C, H, W, M, OH, OW, KH, KW;
  int64_t stride_h, stride_w, pad_t, pad_l, pad_b, pad_r, dil_h, dil_w, group;
} sinter_k_conv_shape_t;

/* Bytes of the weights packed for sinter_k_conv2d_f32. */
size_t sinter_k_conv2d_f32_packed_size(const sinter_k_conv_shape_t *s);

/* Packs w [M, C/group, KH, KW] into packed (64-byte aligned). */
void sinter_k_conv2d_f32_pack(const sinter_k_conv_shape_t *s, const float *w, float *packed);

/* Bytes of arena scratch sinter_k_conv2d_f32 needs (e.g. for im2col); 0 when
 * none. Independent of the number of threads. */
size_t sinter_k_conv2d_f32_scratch_size(const sinter_k_conv_shape_t *s);

/* y = act(conv(x, w) + bias + z): bias [M] or NULL, z (the residual) [M, OH,
 * OW] or NULL. wp from sinter_k_conv2d_f32_pack; scratch has
 * scratch_size bytes (64-byte aligned). y does not overlap x, z or scratch. */
void sinter_k_conv2d_f32(const sinter_k_conv_shape_t *s, const float *x, const float *wp,
                         const float *bias, const float *z, float *y, void *scratch, int32_t act,
                         float p0, float p1, const sinter_art_exec_t *exec);

/* A pointwise conv (1x1, stride 1, no pad, one group: C -> E channels) whose
 * output feeds only a 3x3 depthwise conv (E channels), run together: on one
 * thread the pointwise output goes, a band of rows at a time, to a ring of
 * rows in mid and the depthwise conv reads it from there while it is still in
 * cache, instead of a round trip of the whole E x H x W map through memory.
 * The results are bit for bit those of the two sinter_k_conv2d_f32 calls,
 * which is what runs with more than one thread (mid then holds the whole
 * map). Returns 1 when the pair qualifies (acts simple, weights packed for
 * sinter_k_conv2d_f32, no scratch, no residual on either, a map too large to
 * stay in L2). */
int sinter_k_conv2d_pw_dw_f32_fusable(const sinter_k_conv_shape_t *pw, int32_t pw_act,
                                      const sinter_k_conv_shape_t *dw, int32_t dw_act);

/* y = act(dw(act_pw(pw(x) + pw_bias)) + dw_bias). mid has E x H x W floats
 * (64-byte aligned); it is clobbered. */
void sinter_k_conv2d_pw_dw_f32(const sinter_k_conv_shape_t *pw, const sinter_k_conv_shape_t *dw,
                               const float *x, const float *pw_wp, const float *pw_bias,
                               int32_t pw_act, float pw_p0, float pw_p1, const float *dw_wp,
                               const float *dw_bias, float *mid, float *y, int32_t act, float p0,
                               float p1, const sinter_art_exec_t *exec);

/* The reverse pair: a 3x3 depthwise conv (E channels) whose output feeds
 * only a pointwise conv (E -> M), run together the same way (the depthwise
 * rows go to a band buffer at the start of mid and the pointwise conv reads
 * them from cache), bit for bit the two calls. z is the pointwise conv's
 * residual or NULL. */
int sinter_k_conv2d_dw_pw_f32_fusable(const sinter_k_conv_shape_t *dw, int32_t dw_act,
                                      const sinter_k_conv_shape_t *pw, int32_t pw_act);

/* y = act(pw(act_dw(dw(x) + dw_bias)) + pw_bias + z). mid has E x OH x OW
 * floats of the depthwise output (64-byte aligned); it is clobbered. */
void sinter_k_conv2d_dw_pw_f32(const sinter_k_conv_shape_t *dw, const sinter_k_conv_shape_t *pw,
                               const float *x, const float *dw_wp, const float *dw_bias,
                               int32_t dw_act, float dw_p0, float dw_p1, const float *pw_wp,
                               const float *pw_bias, const float *z, float *mid, float *y,
                               int32_t act, float p0, float p1, const sinter_art_exec_t *exec);

/* ---- int8 (qgemm.c, qconv.c, quant.c) --------------------------------------------------- */

/* Whether AMX tiles may be used: 1 when the CPU has AMX-INT8 and the kernel
 * granted ARCH_REQ_XCOMP_PERM for XTILEDATA (asked once per process), 0
 * otherwise. Only defined when compiled for a target with AMX. */
int sinter_k_amx_available(void);

/* Requantized integer GEMM, QLinearMatMul semantics with a fused clamp:
 * y[r][j] = clamp(sat(round_half_even((double)acc * (double)mult[j] + y_zp)),
 * qmin, qmax), acc = bias[j] + sum_k (a[r][k] - a_zp) (b[k][j] - b_zp[j]) in
 * int32. a is u8 (a_signed = 0) or i8 (a_signed = 1), [M, K] with leading dim
 * lda; y is u8 or i8 (y_signed), [M, N] with leading dim ldy. b is s8 and
 * packed by sinter_k_qgemm_pack_b, which also folds bias, a_zp and the
 * zero-point terms into per-column int32 corrections, so the kernel needs no
 * zero point but y's. mult has N entries (per column; repeat a per-tensor
 * value). The _vnni variant (AVX512-VNNI vpdpbusd), the _amx variant and the
 * portable one give identical results. */
size_t sinter_k_qgemm_packed_size(int64_t K, int64_t N);
void sinter_k_qgemm_pack_b(int64_t K, int64_t N, const int8_t *b, int64_t ldb_k, int64_t ldb_n,
                           const int32_t *b_zp /* [N] */, const int32_t *bias /* [N] or NULL */,
                           int32_t a_zp, int32_t a_signed, void *packed);
void sinter_k_qgemm(int64_t M, int64_t N, int64_t K, const void *a, int64_t lda, int32_t a_signed,
                    const void *bp, const float *mult, int32_t y_zp, int32_t qmin, int32_t qmax,
                    void *y, int64_t ldy, int32_t y_signed, const sinter_art_exec_t *exec);
void sinter_k_qgemm_vnni(int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                         int32_t a_signed, const void *bp, const float *mult, int32_t y_zp,
                         int32_t qmin, int32_t qmax, void *y, int64_t ldy, int32_t y_signed,
                         const sinter_art_exec_t *exec);
void sinter_k_qgemm_amx(int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                        int32_t a_signed, const void *bp, const float *mult, int32_t y_zp,
                        int32_t qmin, int32_t qmax, void *y, int64_t ldy, int32_t y_signed,
                        const sinter_art_exec_t *exec);

/* Requantized integer 2-D convolution of one image (QLinearConvAct, docs/
 * ops-sinter.md): x u8/i8 [C, H, W], w s8 [M, C/group, KH, KW] with per-
 * output-channel zero points and scales, bias i32 [M] or NULL, y u8/i8 [M, OH,
 * OW]. Padding reads x_zp. mult[m] = x_scale * w_scale[m] / y_scale in f32. */
size_t sinter_k_qconv2d_packed_size(const sinter_k_conv_shape_t *s);
void sinter_k_qconv2d_pack(const sinter_k_conv_shape_t *s, const int8_t *w,
                           const int32_t *w_zp /* [M] */, const int32_t *bias /* [M] or NULL */,
                           int32_t x_zp, int32_t x_signed, void *packed);
size_t sinter_k_qconv2d_scratch_size(const sinter_k_conv_shape_t *s);
void sinter_k_qconv2d(const sinter_k_conv_shape_t *s, const void *x, int32_t x_signed,
                      int32_t x_zp, const void *wp, const float *mult, int32_t y_zp, int32_t qmin,
                      int32_t qmax, void *y, int32_t y_signed, void *scratch,
                      const sinter_art_exec_t *exec);
void sinter_k_qconv2d_vnni(const sinter_k_conv_shape_t *s, const void *x, int32_t x_signed,
                           int32_t x_zp, const void *wp, const float *mult, int32_t y_zp,
                           int32_t qmin, int32_t qmax, void *y, int32_t y_signed, void *scratch,
                           const sinter_art_exec_t *exec);

/* QuantizeLinear of n floats with one scale and zero point, round half to
 * even, saturating to u8 (y_signed = 0) or i8. */
void sinter_k_quantize_f32(int64_t n, const float *x, float scale, int32_t zp, void *y,
                           int32_t y_signed, const sinter_art_exec_t *exec);

/* DequantizeLinear of n u8/i8 values with one scale and zero point:
 * y = (float)((int32_t)x - zp) * scale. */
void sinter_k_dequantize_f32(int64_t n, const void *x, int32_t x_signed, float scale, int32_t zp,
                             float *y, const sinter_art_exec_t *exec);

/* QLinearAdd (op = 0) and QLinearMul (op = 1) with broadcasting: out is
 * contiguous of dims[rank]; element i of a is at the strides a_strides (0
 * where a broadcasts), same for b. Semantics of docs/ops-sinter.md. All three
 * share one signedness (sgn = 1: i8). */
void sinter_k_qbinary(int32_t op, int32_t rank, const int64_t *dims, const void *a,
                      const int64_t *a_strides, int32_t a_zp, float m_a, const void *b,
                      const int64_t *b_strides, int32_t b_zp, float m_b, int32_t y_zp,
                      int32_t qmin, int32_t qmax, void *y, int32_t sgn,
                      const sinter_art_exec_t *exec);

/* QLinearGlobalAveragePool of one image: x [C, HW] -> y [C]. m = x_scale /
 * y_scale in f32. */
void sinter_k_qglobal_avgpool(int64_t C, int64_t HW, const void *x, int32_t x_zp, float m,
                              int32_t y_zp, void *y, int32_t sgn, const sinter_art_exec_t *exec);

/* ---- everything else, fp32 unless named (misc.c) ---------------------------------------- */

/* Elementwise ops on contiguous float arrays. */
typedef enum sinter_k_unary_e {
  SINTER_K_UN_NEG = 100,
  SINTER_K_UN_ABS,
  SINTER_K_UN_EXP,
  SINTER_K_UN_LOG,
  SINTER_K_UN_SQRT,
  SINTER_K_UN_RECIPROCAL,
  SINTER_K_UN_ERF,
  SINTER_K_UN_FLOOR,
  SINTER_K_UN_CEIL,
  SINTER_K_UN_COS,
  SINTER_K_UN_SIN,
} sinter_k_unary_t;

/* y[i] = f(x[i]) for i < n, f a sinter_k_act_t (with p0, p1) or a
 * sinter_k_unary_t. y may equal x. */
void sinter_k_unary_f32(int32_t op, int64_t n, const float *x, float *y, float p0, float p1,
                        const sinter_art_exec_t *exec);

typedef enum sinter_k_binary_e {
  SINTER_K_BIN_ADD = 0,
  SINTER_K_BIN_SUB = 1,
  SINTER_K_BIN_MUL = 2,
  SINTER_K_BIN_DIV = 3,
  SINTER_K_BIN_MAX = 4,
  SINTER_K_BIN_MIN = 5,
  SINTER_K_BIN_POW = 6,
} sinter_k_binary_t;

/* out (contiguous, dims[rank], rank <= 8) = a op b, where element (i0..) of a
 * is at sum i_d * a_strides[d] (0 where a broadcasts) and likewise b; then the
 * epilogue act(p0, p1). out may equal a or b when they are not broadcast. */
void sinter_k_binary_f32(int32_t op, int32_t rank, const int64_t *dims, const float *a,
                         const int64_t *a_strides, const float *b, const int64_t *b_strides,
                         float *out, int32_t act, float p0, float p1,
                         const sinter_art_exec_t *exec);

/* Copies elem_size-byte elements: for every index (i0..) < dims[rank],
 * dst[sum i_d * dst_strides[d]] = src[sum i_d * src_strides[d]]. Covers
 * Transpose, Slice, Expand, one input of Concat, and plain copies. rank <= 8;
 * rank 0 copies one element. */
void sinter_k_copy_strided(int64_t elem_size, int32_t rank, const int64_t *dims, const void *src,
                           const int64_t *src_strides, void *dst, const int64_t *dst_strides,
                           const sinter_art_exec_t *exec);

/* Gather along one axis: data viewed as [outer, axis_dim, inner] (elements of
 * elem_size bytes), indices (i64 when idx_is_i64, else i32) of count n, out
 * [outer, n, inner]. Negative indices count from the end; an index out of
 * range after that writes zeros (codegen checks constant indices). */
void sinter_k_gather(int64_t elem_size, int64_t outer, int64_t axis_dim, int64_t inner,
                     const void *data, const void *indices, int32_t idx_is_i64, int64_t n,
                     void *out, const sinter_art_exec_t *exec);

/* Max pooling of one image, x [C, H, W] -> y [C, OH, OW]; padding never wins.
 * The _u8 / _i8 forms are for quantized tensors. */
typedef struct sinter_k_pool_shape_s {
  int64_t C, H, W, OH, OW, KH, KW;
  int64_t stride_h, stride_w, pad_t, pad_l, pad_b, pad_r, dil_h, dil_w;
  int64_t count_include_pad; /* average pooling only */
} sinter_k_pool_shape_t;
void sinter_k_maxpool2d_f32(const sinter_k_pool_shape_t *s, const float *x, float *y,
                            const sinter_art_exec_t *exec);
void sinter_k_maxpool2d_u8(const sinter_k_pool_shape_t *s, const uint8_t *x, uint8_t *y,
                           const sinter_art_exec_t *exec);
void sinter_k_maxpool2d_i8(const sinter_k_pool_shape_t *s, const int8_t *x, int8_t *y,
                           const sinter_art_exec_t *exec);
void sinter_k_avgpool2d_f32(const sinter_k_pool_shape_t *s, const float *x, float *y,
                            const sinter_art_exec_t *exec);

/* y[c] = mean of x[c][0..HW) for c < C. */
void sinter_k_global_avgpool_f32(int64_t C, int64_t HW, const float *x, float *y,
                                 const sinter_art_exec_t *exec);

/* Softmax over contiguous rows: y[r][:] = softmax(x[r][:]) for r < rows, each
 * of length n, max subtracted. log_softmax = 1 gives LogSoftmax. */
void sinter_k_softmax_f32(int64_t rows, int64_t n, const float *x, float *y, int32_t log_softmax,
                          const sinter_art_exec_t *exec);

/* LayerNormalization over contiguous rows of n: y = (x - mean) / sqrt(var +
 * eps) * scale + bias; scale [n], bias [n] or NULL. */
void sinter_k_layernorm_f32(int64_t rows, int64_t n, const float *x, const float *scale,
                            const float *bias, float eps, float *y,
                            const sinter_art_exec_t *exec);

/* RMSNormalization over contiguous rows of n: y = x / sqrt(mean(x^2) + eps) *
 * scale; scale [n]. */
void sinter_k_rmsnorm_f32(int64_t rows, int64_t n, const float *x, const float *scale, float eps,
                          float *y, const sinter_art_exec_t *exec);

/* Scaled dot-product attention for heads independent problems (docs/
 * ops-sinter.md, Attention): for h < heads, Q_h [Sq, D] at q + q_off[h] with
 * row stride q_ld, K_h [Sk, D] at k + k_off[h] (k_ld), V_h [Sk, Dv] at v +
 * v_off[h] (v_ld), Y_h [Sq, Dv] at y + y_off[h] (y_ld); mask (may be NULL):
 * element (i, j) of head h at mask + mask_off[h] + i * mask_si + j * mask_sj
 * (strides 0 broadcast). scale multiplies Q K^T; causal = 1 masks j > i.
 * Works one query row at a time with the row's scores on the stack, so Sk <=
 * SINTER_K_ATTENTION_MAX_SK (codegen checks). */
#define SINTER_K_ATTENTION_MAX_SK 8192
void sinter_k_attention_f32(int64_t heads, int64_t Sq, int64_t Sk, int64_t D, int64_t Dv,
                            const float *q, const int64_t *q_off, int64_t q_ld, const float *k,
                            const int64_t *k_off, int64_t k_ld, const float *v,
                            const int64_t *v_off, int64_t v_ld, const float *mask,
                            const int64_t *mask_off, int64_t mask_si, int64_t mask_sj,
                            float scale, int32_t causal, float *y, const int64_t *y_off,
                            int64_t y_ld, const sinter_art_exec_t *exec);

/* Converts n elements between dtypes (sinter_art_dtype_t codes, of the set
 * f32, f64, i64, i32, i16, i8, u8, u16, u32, u64, bool), as ONNX Cast does for
 * those types (float to int truncates toward zero). */
void sinter_k_cast(int64_t n, const void *x, int32_t from, void *y, int32_t to,
                   const sinter_art_exec_t *exec);

/* ---- reductions and resizing (reduce.c) ------------------------------------------------- */

typedef enum sinter_k_reduce_e {
  SINTER_K_RED_SUM = 0,
  SINTER_K_RED_MEAN = 1,
  SINTER_K_RED_MAX = 2, /* NaN wins, as in the interpreter */
  SINTER_K_RED_MIN = 3,
  SINTER_K_RED_SUM_SQUARE = 4,
} sinter_k_reduce_t;

/* x viewed as [outer, n, inner] reduced over n into y [outer, inner]; sums in
 * double, in increasing index order. */
void sinter_k_reduce_f32(int32_t op, int64_t outer, int64_t n, int64_t inner, const float *x,
                         float *y, const sinter_art_exec_t *exec);

/* Separable 2-D resize of planes images [H, W] into [OH, OW] with two taps
 * per axis: output row oy blends input rows yi[2 oy], yi[2 oy + 1] with
 * weights yw[2 oy], yw[2 oy + 1] (nearest: one weight 1, the other 0), and
 * likewise columns with xi, xw. The code generator computes the taps. */
void sinter_k_resize2d_f32(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                           const int64_t *yi, const float *yw, const int64_t *xi,
                           const float *xw, const float *x, float *y,
                           const sinter_art_exec_t *exec);

#endif /* SINTER_CODEGEN_KERNELS_H */
