/* Internal LLVM helpers of the CPU code generator: access to the kernel
 * library that the build embeds in libsinter as LLVM bitcode. */
#ifndef SINTER_CODEGEN_LLVM_UTIL_H
#define SINTER_CODEGEN_LLVM_UTIL_H

#include <stddef.h>

#include <llvm-c/Core.h>

#include "sinter/status.h"

/* The embedded kernel bitcode (codegen/kernels/ *.c linked by llvm-link-19),
 * generated into the build directory. Static storage, never freed. */
extern const unsigned char sinter_kernels_bc[];
extern const size_t sinter_kernels_bc_size;

/* Parses size bytes of LLVM bitcode at data into a new module in ctx. name
 * labels the buffer in messages. data is borrowed for the call only. On
 * success *out_module is owned by the caller (LLVMDisposeModule); on failure
 * it is NULL and the status (INVALID_ARGUMENT) carries LLVM's reason. The
 * context's diagnostic handler is restored before returning. */
sinter_status_t sinter_codegen_parse_bitcode(LLVMContextRef ctx, const void *data, size_t size,
                                             const char *name, LLVMModuleRef *out_module);

/* Loads the embedded kernel library into a new module in ctx; *out_module is
 * owned by the caller. Fails with INTERNAL when the embedded bitcode does not
 * parse (a broken build). */
sinter_status_t sinter_codegen_load_kernels(LLVMContextRef ctx, LLVMModuleRef *out_module);

#endif /* SINTER_CODEGEN_LLVM_UTIL_H */
