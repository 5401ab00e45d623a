/* libsinter_rt: the runtime that loads and runs compiled Sinter artifacts.
 * It depends on libc, libm, pthreads and dl only. This release carries the
 * library's identity and ABI version; sessions arrive with the CPU code
 * generator, which produces the artifacts they run. */
#ifndef SINTER_RUNTIME_H
#define SINTER_RUNTIME_H

#include <stdint.h>

#include "sinter/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The artifact ABI version this runtime accepts. */
#define SINTER_RT_ABI_VERSION 1

/* Returns the runtime's version string, such as "0.1.0" (static storage). */
const char *sinter_rt_version(void);

/* Returns SINTER_RT_ABI_VERSION of the library actually linked. */
uint32_t sinter_rt_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_RUNTIME_H */
