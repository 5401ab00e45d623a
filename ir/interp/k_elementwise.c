/* Reference kernels: elementwise family (placeholder table, filled in by its owner). */
#include "ir/interp/kernels.h"

const sinter_op_impl_t sinter_impl_elementwise[] = {
    {0},
};
