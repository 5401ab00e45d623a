/* Reference kernels for Sinter's fused ops (act family). */
#include "ir/interp/kernels.h"

const sinter_op_impl_t sinter_impl_fused_act[] = {
    {0},
};
