/* libsinter_rt identity. Artifact loading and sessions are built on top of
 * this once the code generator emits artifacts. */
#include "sinter/runtime.h"

const char *sinter_rt_version(void) { return "0.1.0"; }

uint32_t sinter_rt_abi_version(void) { return SINTER_RT_ABI_VERSION; }
