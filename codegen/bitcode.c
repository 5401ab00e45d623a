/* Loads the kernel library embedded as LLVM bitcode (see cmake/kernels.cmake)
 * into an LLVM context, turning LLVM's diagnostics into a sinter status. */
#include <stdio.h>
#include <string.h>

#include <llvm-c/BitReader.h>

#include "codegen/llvm_util.h"

/* Collects the first error LLVM reports while parsing. Without a handler,
 * LLVM prints the error and terminates the process, which a library must not do. */
typedef struct diag_capture_s {
  char message[512];
  int has_error;
} diag_capture_t;

static void capture_diagnostic(LLVMDiagnosticInfoRef info, void *opaque) {
  diag_capture_t *cap = opaque;
  if (LLVMGetDiagInfoSeverity(info) != LLVMDSError || cap->has_error) return;
  char *text = LLVMGetDiagInfoDescription(info);
  snprintf(cap->message, sizeof cap->message, "%s", text ? text : "unknown error");
  LLVMDisposeMessage(text);
  cap->has_error = 1;
}

sinter_status_t sinter_codegen_parse_bitcode(LLVMContextRef ctx, const void *data, size_t size,
                                             const char *name, LLVMModuleRef *out_module) {
  if (!out_module) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "out_module is NULL");
  *out_module = NULL;
  if (!ctx) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "LLVM context is NULL");
  if (!name) name = "bitcode";
  if (!data || size == 0)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s: empty bitcode buffer", name);

  /* The buffer only borrows data: the module keeps no reference to it once
   * parsed (parse, not lazy load). */
  LLVMMemoryBufferRef buf =
      LLVMCreateMemoryBufferWithMemoryRange((const char *)data, size, name, 0);
  if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "%s: cannot wrap bitcode buffer", name);

  diag_capture_t cap = {.has_error = 0};
  LLVMDiagnosticHandler old_handler = LLVMContextGetDiagnosticHandler(ctx);
  void *old_opaque = LLVMContextGetDiagnosticContext(ctx);
  LLVMContextSetDiagnosticHandler(ctx, capture_diagnostic, &cap);
  LLVMModuleRef module = NULL;
  LLVMBool failed = LLVMParseBitcodeInContext2(ctx, buf, &module);
  LLVMContextSetDiagnosticHandler(ctx, old_handler, old_opaque);
  LLVMDisposeMemoryBuffer(buf);

  if (failed || !module) {
    if (module) LLVMDisposeModule(module);
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s: invalid LLVM bitcode: %s", name,
                        cap.has_error ? cap.message : "parse failed");
  }
  *out_module = module;
  return NULL;
}

sinter_status_t sinter_codegen_load_kernels(LLVMContextRef ctx, LLVMModuleRef *out_module) {
  sinter_status_t st = sinter_codegen_parse_bitcode(ctx, sinter_kernels_bc, sinter_kernels_bc_size,
                                                    "sinter_kernels.bc", out_module);
  if (st && sinter_status_code(st) == SINTER_INVALID_ARGUMENT && ctx && out_module) {
    /* Bad arguments were ruled out: the embedded library itself is broken. */
    sinter_status_t internal = SINTER_ERROR(
        SINTER_INTERNAL, "embedded kernel library: %s (rebuild libsinter)",
        sinter_status_message(st));
    sinter_status_free(st);
    return internal;
  }
  return st;
}
