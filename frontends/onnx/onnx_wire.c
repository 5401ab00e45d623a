/* An iterative walk over the protobuf wire format, run before protobuf-c's
 * recursive unpacker so that a hostile file cannot nest messages deep enough
 * to exhaust the stack, and so that truncation gets a precise message. */
#include "frontends/onnx/onnx_internal.h"

typedef struct frame_s {
  const ProtobufCMessageDescriptor *desc;
  size_t end;
} frame_t;

/* Reads a base-128 varint at *pos (before end); false when truncated or
 * longer than 10 bytes. */
static bool read_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < 10; i++) {
    if (*pos >= end) return false;
    uint8_t b = p[(*pos)++];
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

#define CORRUPT(...) \
  SINTER_ERROR(SINTER_INVALID_MODEL, "corrupt or truncated protobuf: " __VA_ARGS__)

sinter_status_t onnx_wire_check(const void *data, size_t len,
                                const ProtobufCMessageDescriptor *desc, int max_depth) {
  const uint8_t *p = data;
  frame_t stack[ONNX_MAX_NESTING + 1];
  if (max_depth > ONNX_MAX_NESTING) max_depth = ONNX_MAX_NESTING;
  int depth = 0;
  stack[0].desc = desc;
  stack[0].end = len;
  size_t pos = 0;
  for (;;) {
    while (depth > 0 && pos == stack[depth].end) depth--;
    if (pos == stack[depth].end) break; /* depth 0 and at the end */
    size_t end = stack[depth].end;
    size_t at = pos;
    uint64_t key;
    if (!read_varint(p, end, &pos, &key)) return CORRUPT("bad field key at byte %zu", at);
    uint64_t num = key >> 3;
    unsigned wt = (unsigned)(key & 7);
    if (num == 0 || num > 536870911u)
      return CORRUPT("invalid field number %llu at byte %zu", (unsigned long long)num, at);
    const ProtobufCFieldDescriptor *f = stack[depth].desc ? protobuf_c_message_descriptor_get_field(
                                                                stack[depth].desc, (unsigned)num)
                                                          : NULL;
    uint64_t skip = 0;
    switch (wt) {
      case 0: { /* varint */
        uint64_t v;
        if (!read_varint(p, end, &pos, &v)) return CORRUPT("bad varint at byte %zu", pos);
        continue;
      }
      case 1: skip = 8; break;
      case 5: skip = 4; break;
      case 2: {
        if (!read_varint(p, end, &pos, &skip)) return CORRUPT("bad length at byte %zu", pos);
        if (skip > end - pos)
          return CORRUPT("field %llu at byte %zu claims %llu bytes, only %zu remain",
                         (unsigned long long)num, at, (unsigned long long)skip, end - pos);
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
          if (depth + 1 >= max_depth)
            return SINTER_ERROR(SINTER_INVALID_MODEL,
                                "protobuf messages nest deeper than %d levels (at byte %zu)",
                                max_depth, at);
          depth++;
          stack[depth].desc = f->descriptor;
          stack[depth].end = pos + (size_t)skip;
          continue;
        }
        break;
      }
      default: return CORRUPT("unsupported wire type %u at byte %zu", wt, at);
    }
    if (skip > end - pos)
      return CORRUPT("field %llu at byte %zu is cut short", (unsigned long long)num, at);
    pos += (size_t)skip;
  }
  return NULL;
}
