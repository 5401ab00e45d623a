/* Tests for the kernel library embedded in libsinter as LLVM bitcode: it
 * loads, carries every kernel without optnone, verifies, JITs and computes. */
#include <check.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/kernels.h"
#include "codegen/llvm_util.h"

static const char *const kKernels[] = {
    "sinter_k_unary_f32",       "sinter_k_binary_f32",           "sinter_k_copy_strided",
    "sinter_k_softmax_f32",     "sinter_k_gemm_f32_packed_size", "sinter_k_gemm_f32_pack_b",
    "sinter_k_gemm_f32_packed", "sinter_k_conv2d_f32",           "sinter_k_attention_f32"};
enum { NUM_KERNELS = sizeof kKernels / sizeof kKernels[0] };

static LLVMModuleRef load_ok(LLVMContextRef ctx) {
  LLVMModuleRef m = NULL;
  sinter_status_t st = sinter_codegen_load_kernels(ctx, &m);
  ck_assert_msg(st == NULL, "load failed: %s", st ? sinter_status_message(st) : "");
  ck_assert_ptr_nonnull(m);
  return m;
}

START_TEST(test_embedded_is_bitcode) {
  /* Raw LLVM bitcode starts with 'B' 'C' 0xC0DE and is a whole number of words. */
  ck_assert_uint_gt(sinter_kernels_bc_size, 4);
  ck_assert_uint_eq(sinter_kernels_bc_size % 4, 0);
  ck_assert_uint_eq(sinter_kernels_bc[0], 'B');
  ck_assert_uint_eq(sinter_kernels_bc[1], 'C');
  ck_assert_uint_eq(sinter_kernels_bc[2], 0xC0);
  ck_assert_uint_eq(sinter_kernels_bc[3], 0xDE);
}
END_TEST

START_TEST(test_functions_present_no_optnone) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = load_ok(ctx);
  unsigned optnone = LLVMGetEnumAttributeKindForName("optnone", 7);
  unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
  ck_assert_uint_ne(optnone, 0);
  ck_assert_uint_ne(noinline, 0);
  for (int i = 0; i < NUM_KERNELS; i++) {
    LLVMValueRef f = LLVMGetNamedFunction(m, kKernels[i]);
    ck_assert_msg(f != NULL, "%s missing from the kernel module", kKernels[i]);
    ck_assert_msg(!LLVMIsDeclaration(f), "%s is only declared", kKernels[i]);
    ck_assert_msg(!LLVMGetEnumAttributeAtIndex(f, LLVMAttributeFunctionIndex, optnone),
                  "%s carries optnone: nothing would inline it", kKernels[i]);
    ck_assert_msg(!LLVMGetEnumAttributeAtIndex(f, LLVMAttributeFunctionIndex, noinline),
                  "%s carries noinline", kKernels[i]);
  }
  /* No function anywhere in the module may block inlining. */
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f))
    ck_assert(!LLVMGetEnumAttributeAtIndex(f, LLVMAttributeFunctionIndex, optnone));
  char *err = NULL;
  LLVMBool bad = LLVMVerifyModule(m, LLVMReturnStatusAction, &err);
  ck_assert_msg(!bad, "module does not verify: %s", err ? err : "");
  LLVMDisposeMessage(err);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
}
END_TEST

START_TEST(test_bad_bitcode_is_an_error) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = (LLVMModuleRef)1;
  /* Valid magic, garbage after it: must come back as a status, not exit(1). */
  static const unsigned char junk[16] = {'B', 'C', 0xC0, 0xDE, 1, 2, 3, 4, 5, 6, 7, 8};
  sinter_status_t st = sinter_codegen_parse_bitcode(ctx, junk, sizeof junk, "junk.bc", &m);
  ck_assert_ptr_nonnull(st);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  ck_assert_ptr_null(m);
  ck_assert_msg(strstr(sinter_status_message(st), "junk.bc") != NULL, "%s",
                sinter_status_message(st));
  sinter_status_free(st);
  st = sinter_codegen_parse_bitcode(ctx, "", 0, "empty.bc", &m);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  st = sinter_codegen_load_kernels(NULL, &m);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  st = sinter_codegen_load_kernels(ctx, NULL);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  /* The context still works after the failed parse (handler restored). */
  LLVMModuleRef ok = load_ok(ctx);
  LLVMDisposeModule(ok);
  LLVMContextDispose(ctx);
}
END_TEST

START_TEST(test_emit_object_for_host) {
  ck_assert_int_eq(LLVMInitializeNativeTarget(), 0);
  ck_assert_int_eq(LLVMInitializeNativeAsmPrinter(), 0);
  /* The AMX permission request in qgemm.c is inline asm (syscall, cpuid). */
  ck_assert_int_eq(LLVMInitializeNativeAsmParser(), 0);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = load_ok(ctx);
  /* clang-19 compiled the kernels for this host: same architecture as LLVM's default. */
  char *host = LLVMGetDefaultTargetTriple();
  const char *triple = LLVMGetTarget(m);
  size_t arch_len = strcspn(host, "-");
  ck_assert_msg(strncmp(triple, host, arch_len + 1) == 0, "module %s, host %s", triple, host);
  LLVMTargetRef target = NULL;
  char *err = NULL;
  ck_assert_msg(!LLVMGetTargetFromTriple(host, &target, &err), "%s", err ? err : "");
  LLVMTargetMachineRef tm = LLVMCreateTargetMachine(
      target, host, "generic", "", LLVMCodeGenLevelDefault, LLVMRelocPIC, LLVMCodeModelDefault);
  ck_assert_ptr_nonnull(tm);
  LLVMMemoryBufferRef obj = NULL;
  ck_assert_msg(!LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMObjectFile, &err, &obj), "%s",
                err ? err : "");
  /* An ELF object that is more than a header. */
  ck_assert_uint_gt(LLVMGetBufferSize(obj), 64);
  ck_assert_int_eq(memcmp(LLVMGetBufferStart(obj), "\177ELF", 4), 0);
  LLVMDisposeMemoryBuffer(obj);
  LLVMDisposeTargetMachine(tm);
  LLVMDisposeMessage(host);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
}
END_TEST

/* JITs the embedded kernels (no O3: this checks the kernels, not the pipeline). */
typedef struct jit_s {
  LLVMOrcLLJITRef jit;
} jit_t;

static void jit_check(LLVMErrorRef e) {
  if (!e) return;
  char *msg = LLVMGetErrorMessage(e);
  ck_abort_msg("LLJIT: %s", msg);
}

static void jit_create(jit_t *j) {
  ck_assert_int_eq(LLVMInitializeNativeTarget(), 0);
  ck_assert_int_eq(LLVMInitializeNativeAsmPrinter(), 0);
  /* The AMX permission request in qgemm.c is inline asm (syscall, cpuid). */
  ck_assert_int_eq(LLVMInitializeNativeAsmParser(), 0);
  jit_check(LLVMOrcCreateLLJIT(&j->jit, NULL));
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMModuleRef m = load_ok(LLVMOrcThreadSafeContextGetContext(tsc));
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps the context alive */
  jit_check(LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm));
}

static void *jit_lookup(jit_t *j, const char *name) {
  LLVMOrcExecutorAddress addr = 0;
  jit_check(LLVMOrcLLJITLookup(j->jit, &addr, name));
  ck_assert_msg(addr != 0, "%s not found", name);
  return (void *)(uintptr_t)addr;
}

static void jit_destroy(jit_t *j) {
  jit_check(LLVMOrcDisposeLLJIT(j->jit));
}

typedef void (*binary_fn)(int32_t, int32_t, const int64_t *, const float *, const int64_t *,
                          const float *, const int64_t *, float *, int32_t, float, float,
                          const sinter_art_exec_t *);
typedef void (*unary_fn)(int32_t, int64_t, const float *, float *, float, float,
                         const sinter_art_exec_t *);

START_TEST(test_jit_elementwise) {
  jit_t j;
  jit_create(&j);
  binary_fn bin = (binary_fn)jit_lookup(&j, "sinter_k_binary_f32");
  unary_fn un = (unary_fn)jit_lookup(&j, "sinter_k_unary_f32");
  /* Inputs and sums are exact in binary floating point, so results compare exactly.
   * The last element is a sentinel that n = 5 must leave untouched. */
  float a[6] = {1.5f, -2.0f, 0.25f, 100.0f, -0.5f, 7.0f};
  float b[6] = {0.5f, 3.0f, -0.25f, 28.0f, -1.5f, 7.0f};
  float out[6] = {0, 0, 0, 0, 0, -42.0f};
  const int64_t n5[1] = {5}, s1[1] = {1}, s0[1] = {0};
  bin(SINTER_K_BIN_ADD, 1, n5, a, s1, b, s1, out, SINTER_K_ACT_NONE, 0, 0, NULL);
  const float sum[5] = {2.0f, 1.0f, 0.0f, 128.0f, -2.0f};
  for (int i = 0; i < 5; i++) ck_assert_float_eq(out[i], sum[i]);
  ck_assert_float_eq(out[5], -42.0f);
  bin(SINTER_K_BIN_MUL, 1, n5, a, s1, b, s1, out, SINTER_K_ACT_NONE, 0, 0, NULL);
  const float prod[5] = {0.75f, -6.0f, -0.0625f, 2800.0f, 0.75f};
  for (int i = 0; i < 5; i++) ck_assert_float_eq(out[i], prod[i]);
  /* Broadcast b[0] = 0.5 with the ReLU epilogue: a - 0.5 clamped at 0. */
  bin(SINTER_K_BIN_SUB, 1, n5, a, s1, b, s0, out, SINTER_K_ACT_RELU, 0, 0, NULL);
  const float sub[5] = {1.0f, 0.0f, 0.0f, 99.5f, 0.0f};
  for (int i = 0; i < 5; i++) ck_assert_float_eq(out[i], sub[i]);
  ck_assert_float_eq(out[5], -42.0f);
  un(SINTER_K_ACT_RELU, 5, a, out, 0, 0, NULL);
  const float rel[5] = {1.5f, 0.0f, 0.25f, 100.0f, 0.0f};
  for (int i = 0; i < 5; i++) ck_assert_float_eq(out[i], rel[i]);
  /* In place, as the header allows; NaN passes through like the interpreter's Relu. */
  float x[3] = {-1.0f, NAN, 3.0f};
  un(SINTER_K_ACT_RELU, 3, x, x, 0, 0, NULL);
  ck_assert_float_eq(x[0], 0.0f);
  ck_assert(isnan(x[1]));
  ck_assert_float_eq(x[2], 3.0f);
  /* exp(0) = 1 and exp(1) within 2 ulp of e (the kernel's stated accuracy). */
  float e[2] = {0.0f, 1.0f};
  un(SINTER_K_UN_EXP, 2, e, e, 0, 0, NULL);
  ck_assert_float_eq(e[0], 1.0f);
  ck_assert_float_eq_tol(e[1], 2.7182817f, 2.5e-7f);
  un(SINTER_K_UN_NEG, 0, x, x, 0, 0, NULL); /* n = 0 touches nothing */
  ck_assert_float_eq(x[2], 3.0f);
  jit_destroy(&j);
}
END_TEST

typedef size_t (*packed_size_fn)(int64_t, int64_t);
typedef void (*pack_b_fn)(int64_t, int64_t, const float *, int64_t, int64_t, float, float *);
typedef void (*gemm_fn)(int64_t, int64_t, int64_t, const float *, int64_t, const float *, float *,
                        int64_t, const float *, const float *, int32_t, float, float,
                        const sinter_art_exec_t *);

typedef struct gemm_jit_s {
  packed_size_fn size;
  pack_b_fn pack;
  gemm_fn gemm;
} gemm_jit_t;

static gemm_jit_t gemm_lookup(jit_t *j) {
  gemm_jit_t g;
  g.size = (packed_size_fn)jit_lookup(j, "sinter_k_gemm_f32_packed_size");
  g.pack = (pack_b_fn)jit_lookup(j, "sinter_k_gemm_f32_pack_b");
  g.gemm = (gemm_fn)jit_lookup(j, "sinter_k_gemm_f32_packed");
  return g;
}

/* B [K, N] row-major (ldb) packed by the JIT'd packer into 64-byte aligned memory. */
static float *pack_b(const gemm_jit_t *g, int64_t K, int64_t N, const float *B, int64_t ldb) {
  size_t bytes = g->size(K, N);
  ck_assert_uint_ge(bytes, (size_t)(K * N) * sizeof(float));
  float *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  ck_assert_ptr_nonnull(p);
  g->pack(K, N, B, ldb, 1, 1.0f, p);
  return p;
}

START_TEST(test_jit_gemm_by_hand) {
  jit_t j;
  jit_create(&j);
  gemm_jit_t g = gemm_lookup(&j);
  /* A 2x3, B 3x2, bias {1,-100}; by hand: A*B = {{4, 5}, {10, 11}}. */
  const float A[6] = {1, 2, 3, 4, 5, 6};
  const float B[6] = {1, 0, 0, 1, 1, 1};
  const float bias[2] = {1, -100};
  float *Bp = pack_b(&g, 3, 2, B, 2);
  float C[2 * 3]; /* ldc = 3: column 2 is padding that must stay untouched */
  for (int i = 0; i < 6; i++) C[i] = -7.0f;
  g.gemm(2, 2, 3, A, 3, Bp, C, 3, bias, NULL, SINTER_K_ACT_NONE, 0, 0, NULL);
  ck_assert_float_eq(C[0], 5.0f);
  ck_assert_float_eq(C[1], -95.0f);
  ck_assert_float_eq(C[2], -7.0f);
  ck_assert_float_eq(C[3], 11.0f);
  ck_assert_float_eq(C[4], -89.0f);
  ck_assert_float_eq(C[5], -7.0f);
  g.gemm(2, 2, 3, A, 3, Bp, C, 3, bias, NULL, SINTER_K_ACT_RELU, 0, 0, NULL);
  ck_assert_float_eq(C[0], 5.0f);
  ck_assert_float_eq(C[1], 0.0f);
  ck_assert_float_eq(C[4], 0.0f);
  g.gemm(2, 2, 3, A, 3, Bp, C, 3, NULL, NULL, SINTER_K_ACT_NONE, 0, 0, NULL);
  ck_assert_float_eq(C[1], 5.0f);
  ck_assert_float_eq(C[3], 10.0f);
  free(Bp);
  jit_destroy(&j);
}
END_TEST

START_TEST(test_jit_gemm_blocked_sizes) {
  jit_t j;
  jit_create(&j);
  gemm_jit_t g = gemm_lookup(&j);
  /* Sizes straddle the usual block edges (8-row, 16/48-column, 128/256-deep
   * tiles). Entries are small integers, so every product and partial sum
   * (|sum| <= 150*9*8 + 4 + 2 < 2^24) is exact in fp32 whatever the
   * order or FMA contraction: compare exactly against a plain triple loop in
   * double, with the residual R = C in place. */
  const int64_t M = 67, N = 131, K = 150, lda = K + 3, ldb = N + 1, ldc = N + 5;
  float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * ldb);
  float *C = malloc(sizeof(float) * M * ldc), *bias = malloc(sizeof(float) * N);
  ck_assert(A && B && C && bias);
  for (int64_t i = 0; i < M * lda; i++) A[i] = (float)((i * 7) % 19 - 9);
  for (int64_t i = 0; i < K * ldb; i++) B[i] = (float)((i * 5) % 17 - 8);
  for (int64_t i = 0; i < N; i++) bias[i] = (float)(i % 9 - 4);
  for (int64_t i = 0; i < M * ldc; i++) C[i] = (float)(i % 5 - 2);
  float *Bp = pack_b(&g, K, N, B, ldb);
  g.gemm(M, N, K, A, lda, Bp, C, ldc, bias, C, SINTER_K_ACT_RELU, 0, 0, NULL);
  int64_t negatives = 0;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      double ref = bias[n] + (double)((m * ldc + n) % 5 - 2);
      for (int64_t k = 0; k < K; k++) ref += (double)A[m * lda + k] * B[k * ldb + n];
      if (ref < 0) negatives++;
      ref = ref < 0 ? 0 : ref;
      ck_assert_msg(C[m * ldc + n] == (float)ref, "C[%ld][%ld] = %g, want %g", (long)m, (long)n,
                    C[m * ldc + n], ref);
    }
  ck_assert_int_gt(negatives, 0); /* the relu epilogue was exercised */
  free(A);
  free(B);
  free(C);
  free(bias);
  free(Bp);
  jit_destroy(&j);
}
END_TEST

static Suite *kernels_bc_suite(void) {
  Suite *s = suite_create("kernels_bc");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_embedded_is_bitcode);
  tcase_add_test(tc, test_functions_present_no_optnone);
  tcase_add_test(tc, test_bad_bitcode_is_an_error);
  tcase_add_test(tc, test_emit_object_for_host);
  tcase_add_test(tc, test_jit_elementwise);
  tcase_add_test(tc, test_jit_gemm_by_hand);
  tcase_add_test(tc, test_jit_gemm_blocked_sizes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(kernels_bc_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
