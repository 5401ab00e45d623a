/* Umbrella header of the Sinter compiler library (libsinter). A deployed
 * program that only runs compiled models includes sinter/runtime.h instead. */
#ifndef SINTER_SINTER_H
#define SINTER_SINTER_H

#include "sinter/status.h"
#include "sinter/ir.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"
#include "sinter/passes.h"
#include "sinter/calibrate.h"
#include "sinter/codegen.h"

#endif /* SINTER_SINTER_H */
