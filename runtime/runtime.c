/* libsinter_rt identity and dtype names. */
#include "sinter/runtime.h"

const char *sinter_rt_version(void) {
  return "0.1.0";
}

uint32_t sinter_rt_abi_version(void) {
  return SINTER_RT_ABI_VERSION;
}

const char *sinter_rt_dtype_name(int32_t dtype) {
  static const char *const names[SINTER_ART_DTYPE_COUNT] = {
      "undefined", "f32", "f16", "bf16", "f8e4m3", "f64", "i64", "i32", "i16",
      "i8",        "u8",  "u16", "u32",  "u64",    "i4",  "u4",  "bool"};
  return dtype >= 0 && dtype < SINTER_ART_DTYPE_COUNT ? names[dtype] : "?";
}
