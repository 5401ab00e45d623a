/* An iterative walk over the protobuf wire format, run before protobuf-c's
 * recursive unpacker so that a hostile file cannot nest messages deep enough
 * to exhaust the stack, and so that truncation gets a precise message; and a
 * rewrite that lifts tensor raw_data out so that protobuf-c never copies it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- lifting raw_data --------------------------------------------------- */

/* The messages on the way from a ModelProto to the tensors the importer
 * decodes: graph.initializer[] and graph.node[].attribute[].t / .tensors[]. */
enum { K_MODEL, K_GRAPH, K_NODE, K_ATTR, K_TENSOR, K_DEPTH };

#define RAW_FIELD 9 /* TensorProto.raw_data */
#define LIFT_MIN 64 /* smaller payloads are cheap to copy */
#define REF_LEN 16  /* magic + little-endian index */
static const uint8_t ref_magic[8] = {0, 'S', 'N', 'T', 'R', 'R', 'A', 'W'};

/* Kind of the message in field num of a message of kind k, -1 for none. */
static int child_kind(int k, uint64_t num) {
  switch (k) {
    case K_MODEL: return num == 7 ? K_GRAPH : -1;
    case K_GRAPH: return num == 5 ? K_TENSOR : num == 1 ? K_NODE : -1;
    case K_NODE: return num == 5 ? K_ATTR : -1;
    case K_ATTR: return num == 5 || num == 10 ? K_TENSOR : -1;
    default: return -1;
  }
}

/* The field numbers above must be those of the generated code. */
static bool field_is(const ProtobufCMessageDescriptor *d, const char *name, unsigned num) {
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
  return f && f->id == num;
}

static bool layout_known(void) {
  return field_is(&onnx__model_proto__descriptor, "graph", 7) &&
         field_is(&onnx__graph_proto__descriptor, "initializer", 5) &&
         field_is(&onnx__graph_proto__descriptor, "node", 1) &&
         field_is(&onnx__node_proto__descriptor, "attribute", 5) &&
         field_is(&onnx__attribute_proto__descriptor, "t", 5) &&
         field_is(&onnx__attribute_proto__descriptor, "tensors", 10) &&
         field_is(&onnx__tensor_proto__descriptor, "raw_data", RAW_FIELD);
}

typedef struct lframe_s {
  int kind;
  size_t end;         /* end of the message in the source */
  size_t len_at;      /* where its length prefix was written in the output */
  unsigned len_width; /* bytes of that prefix */
  uint64_t len;       /* its original length */
  uint64_t removed;   /* bytes lifted out of it so far */
} lframe_t;

typedef struct obuf_s {
  uint8_t *p;
  size_t n, cap;
} obuf_t;

static bool put(obuf_t *o, const void *src, size_t n) {
  if (n > o->cap - o->n) {
    size_t ncap = o->cap ? o->cap : 64 * 1024;
    while (ncap - o->n < n) {
      if (ncap > SIZE_MAX / 2) return false;
      ncap *= 2;
    }
    uint8_t *np = realloc(o->p, ncap);
    if (!np) return false;
    o->p = np;
    o->cap = ncap;
  }
  memcpy(o->p + o->n, src, n);
  o->n += n;
  return true;
}

static bool is_ref(const uint8_t *p, size_t n) {
  return n == REF_LEN && memcmp(p, ref_magic, sizeof(ref_magic)) == 0;
}

/* Writes v into exactly width bytes (non-minimal when it is smaller than the
 * original), so that no offset already written moves. protobuf-c accepts
 * length prefixes of up to 5 bytes in any encoding. */
static void put_varint_width(uint8_t *at, uint64_t v, unsigned width) {
  for (unsigned i = 0; i + 1 < width; i++) {
    at[i] = (uint8_t)((v & 0x7f) | 0x80);
    v >>= 7;
  }
  at[width - 1] = (uint8_t)(v & 0x7f);
}

sinter_status_t onnx_raw_lift(const void *data, size_t len, onnx_raw_table_t *tab, void **out,
                              size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  tab->n = 0;
  if (!layout_known()) return NULL;
  const uint8_t *p = data;
  lframe_t stack[K_DEPTH + 1];
  int depth = 0;
  memset(&stack[0], 0, sizeof(stack[0]));
  stack[0].kind = K_MODEL;
  stack[0].end = len;
  obuf_t o = {NULL, 0, 0};
  size_t pos = 0;
  for (;;) {
    while (depth > 0 && pos == stack[depth].end) {
      lframe_t *f = &stack[depth];
      put_varint_width(o.p + f->len_at, f->len - f->removed, f->len_width);
      stack[depth - 1].removed += f->removed;
      depth--;
    }
    if (pos == stack[depth].end) break;
    size_t end = stack[depth].end;
    size_t at = pos;
    uint64_t key;
    if (!read_varint(p, end, &pos, &key)) goto keep_original;
    uint64_t num = key >> 3;
    unsigned wt = (unsigned)(key & 7);
    switch (wt) {
      case 0: {
        uint64_t v;
        if (!read_varint(p, end, &pos, &v)) goto keep_original;
        break;
      }
      case 1:
      case 5: {
        size_t w = wt == 1 ? 8 : 4;
        if (w > end - pos) goto keep_original;
        pos += w;
        break;
      }
      case 2: {
        size_t len_at = pos;
        uint64_t n;
        if (!read_varint(p, end, &pos, &n) || n > end - pos) goto keep_original;
        unsigned width = (unsigned)(pos - len_at);
        int ck = child_kind(stack[depth].kind, num);
        if (ck >= 0) {
          /* protobuf-c rejects these; let it see the original. */
          if (width > 5 || n > INT_MAX || depth + 1 > K_DEPTH) goto keep_original;
          if (!put(&o, p + at, pos - at)) goto oom;
          depth++;
          stack[depth].kind = ck;
          stack[depth].end = pos + (size_t)n;
          stack[depth].len_at = o.n - width;
          stack[depth].len_width = width;
          stack[depth].len = n;
          stack[depth].removed = 0;
          continue;
        }
        /* Payloads that look like a reference are lifted too, so that every
         * reference the decoder meets is one of ours. */
        if (stack[depth].kind == K_TENSOR && num == RAW_FIELD &&
            (n >= LIFT_MIN || is_ref(p + pos, (size_t)n))) {
          if (n > INT_MAX) goto keep_original;
          if (tab->n == tab->cap) {
            size_t ncap = tab->cap ? tab->cap * 2 : 64;
            onnx_raw_ref_t *r = realloc(tab->refs, ncap * sizeof(*r));
            if (!r) goto oom;
            tab->refs = r;
            tab->cap = ncap;
          }
          tab->refs[tab->n].offset = pos;
          tab->refs[tab->n].len = (size_t)n;
          uint8_t ref[1 + REF_LEN];
          ref[0] = REF_LEN;
          memcpy(ref + 1, ref_magic, sizeof(ref_magic));
          uint64_t idx = tab->n++;
          for (int b = 0; b < 8; b++) ref[1 + 8 + b] = (uint8_t)(idx >> (8 * b));
          if (!put(&o, p + at, len_at - at) || !put(&o, ref, sizeof(ref))) goto oom;
          size_t old_size = pos + (size_t)n - at, new_size = len_at - at + sizeof(ref);
          stack[depth].removed += old_size - new_size;
          pos += (size_t)n;
          continue;
        }
        pos += (size_t)n;
        break;
      }
      default: goto keep_original;
    }
    if (!put(&o, p + at, pos - at)) goto oom;
  }
  if (!tab->n) goto keep_original;
  *out = o.p;
  *out_len = o.n;
  return NULL;
keep_original:
  free(o.p);
  tab->n = 0;
  return NULL;
oom:
  free(o.p);
  tab->n = 0;
  return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
}

bool onnx_raw_resolve(const onnx_raw_table_t *tab, const uint8_t **data, size_t *len) {
  if (!tab || !*data || !is_ref(*data, *len)) return false;
  uint64_t idx = 0;
  for (int b = 0; b < 8; b++) idx |= (uint64_t)(*data)[8 + b] << (8 * b);
  if (idx >= tab->n) return false;
  *data = tab->base + tab->refs[idx].offset;
  *len = tab->refs[idx].len;
  return true;
}
