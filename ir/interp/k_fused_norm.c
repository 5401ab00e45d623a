/* Reference kernels for Sinter's fused ops (norm family). */
#include "ir/interp/kernels.h"

const sinter_op_impl_t sinter_impl_fused_norm[] = {
    {0},
};
