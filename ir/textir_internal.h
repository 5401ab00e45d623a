/* Rules of the text IR (docs/ir.md) that the parser (ir/parse.c) and the printer (ir/print.c)
 * must agree on: the lexical classes of names, and which dtypes are written as decimal lists. The
 * printer writes a name bare, or data as decimals, only where the lexer reads it back. */
#ifndef SINTER_IR_TEXTIR_INTERNAL_H
#define SINTER_IR_TEXTIR_INTERNAL_H

#include <stdbool.h>

#include "sinter/ir.h"

static inline bool is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool is_digit(int c) {
  return c >= '0' && c <= '9';
}
/* Characters of an identifier after its first. */
static inline bool is_name_char(int c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '.';
}
/* After % and @ a name may also hold '/' and '-', common in exported models
 * ("/layer1/Conv_output_0"). */
static inline bool is_ref_char(int c) {
  return is_name_char(c) || c == '/' || c == '-';
}

/* True when dtype's elements are written exactly as decimal numbers. */
static inline bool decimal_dtype(sinter_dtype_t d) {
  switch (d) {
    case SINTER_DTYPE_F32:
    case SINTER_DTYPE_F64:
    case SINTER_DTYPE_I64:
    case SINTER_DTYPE_I32:
    case SINTER_DTYPE_I16:
    case SINTER_DTYPE_I8:
    case SINTER_DTYPE_U8:
    case SINTER_DTYPE_U16:
    case SINTER_DTYPE_U32:
    case SINTER_DTYPE_U64:
    case SINTER_DTYPE_BOOL: return true;
    default: return false;
  }
}

#endif /* SINTER_IR_TEXTIR_INTERNAL_H */
