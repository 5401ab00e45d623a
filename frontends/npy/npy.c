/* NumPy .npy reader and writer. The header is a Python dict literal; this
 * parser accepts exactly the keys NumPy writes and checks every size. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp/kernels.h"
#include "sinter/tensor_io.h"

#define BAD(...) SINTER_ERROR(SINTER_INVALID_ARGUMENT, __VA_ARGS__)

typedef struct descr_s {
  const char *code; /* without the byte-order character */
  sinter_dtype_t dtype;
} descr_t;

static const descr_t descrs[] = {
    {"f4", SINTER_DTYPE_F32}, {"f8", SINTER_DTYPE_F64}, {"f2", SINTER_DTYPE_F16},
    {"i8", SINTER_DTYPE_I64}, {"i4", SINTER_DTYPE_I32}, {"i2", SINTER_DTYPE_I16},
    {"i1", SINTER_DTYPE_I8},  {"u1", SINTER_DTYPE_U8},  {"u2", SINTER_DTYPE_U16},
    {"u4", SINTER_DTYPE_U32}, {"u8", SINTER_DTYPE_U64}, {"b1", SINTER_DTYPE_BOOL},
};

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* Parses a quoted Python string into buf; returns the position after it. */
static const char *parse_str(const char *p, const char *end, char *buf, size_t cap) {
  if (p >= end || (*p != '\'' && *p != '"')) return NULL;
  char q = *p++;
  size_t n = 0;
  while (p < end && *p != q) {
    if (n + 1 >= cap) return NULL;
    buf[n++] = *p++;
  }
  if (p >= end) return NULL;
  buf[n] = 0;
  return p + 1;
}

typedef struct header_s {
  char descr[16];
  int fortran;
  int rank;
  int64_t dims[SINTER_MAX_RANK];
  int have_descr, have_fortran, have_shape;
} header_t;

static sinter_status_t parse_header(const char *p, const char *end, const char *name,
                                    header_t *h) {
  memset(h, 0, sizeof(*h));
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return BAD("%s: .npy header is not a dict", name);
  p++;
  for (;;) {
    p = skip_ws(p, end);
    if (p < end && *p == '}') break;
    char key[32];
    p = parse_str(p, end, key, sizeof(key));
    if (!p) return BAD("%s: .npy header has a malformed key", name);
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return BAD("%s: .npy header: expected ':'", name);
    p = skip_ws(p + 1, end);
    if (strcmp(key, "descr") == 0) {
      p = parse_str(p, end, h->descr, sizeof(h->descr));
      if (!p) return BAD("%s: .npy header: bad descr", name);
      h->have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (end - p >= 4 && memcmp(p, "True", 4) == 0) {
        h->fortran = 1;
        p += 4;
      } else if (end - p >= 5 && memcmp(p, "False", 5) == 0) {
        p += 5;
      } else {
        return BAD("%s: .npy header: bad fortran_order", name);
      }
      h->have_fortran = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (p >= end || *p != '(') return BAD("%s: .npy header: bad shape", name);
      p++;
      for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == ')') {
          p++;
          break;
        }
        if (p >= end || !isdigit((unsigned char)*p))
          return BAD("%s: .npy header: bad shape entry", name);
        int64_t v = 0;
        while (p < end && isdigit((unsigned char)*p)) {
          if (v > (INT64_MAX - 9) / 10) return BAD("%s: .npy header: dim too large", name);
          v = v * 10 + (*p++ - '0');
        }
        while (p < end && (*p == 'L')) p++; /* Python 2 longs */
        if (h->rank >= SINTER_MAX_RANK)
          return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: rank above %d", name, SINTER_MAX_RANK);
        h->dims[h->rank++] = v;
        p = skip_ws(p, end);
        if (p < end && *p == ',') p++;
      }
      h->have_shape = 1;
    } else {
      return BAD("%s: .npy header: unexpected key '%s'", name, key);
    }
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      p++;
      continue;
    }
    p = skip_ws(p, end);
    if (p < end && *p == '}') break;
    return BAD("%s: .npy header: expected ',' or '}'", name);
  }
  if (!h->have_descr || !h->have_fortran || !h->have_shape)
    return BAD("%s: .npy header lacks descr, fortran_order or shape", name);
  return NULL;
}

static void byteswap(unsigned char *p, size_t n, size_t w) {
  for (size_t i = 0; i < n; i++, p += w)
    for (size_t a = 0, b = w - 1; a < b; a++, b--) {
      unsigned char t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
}

sinter_status_t sinter_npy_read_buffer(const void *data, size_t len, const char *name,
                                       sinter_tensor_t *out) {
  memset(out, 0, sizeof(*out));
  const unsigned char *b = data;
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return BAD("%s: not a .npy file", name);
  int major = b[6];
  size_t hlen, hoff;
  if (major == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    hoff = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return BAD("%s: truncated .npy header", name);
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    hoff = 12;
  } else {
    return BAD("%s: unsupported .npy version %d", name, major);
  }
  if (hlen > len - hoff) return BAD("%s: truncated .npy header", name);
  header_t h;
  SINTER_TRY(parse_header((const char *)b + hoff, (const char *)b + hoff + hlen, name, &h));
  const char *d = h.descr;
  char order = '=';
  if (*d == '<' || *d == '>' || *d == '|' || *d == '=') order = *d++;
  sinter_dtype_t dtype = SINTER_DTYPE_UNDEFINED;
  for (size_t i = 0; i < sizeof(descrs) / sizeof(descrs[0]); i++)
    if (strcmp(descrs[i].code, d) == 0) dtype = descrs[i].dtype;
  if (strcmp(d, "?") == 0) dtype = SINTER_DTYPE_BOOL;
  if (dtype == SINTER_DTYPE_UNDEFINED)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: unsupported .npy dtype '%s'", name, h.descr);
  out->dtype = dtype;
  out->rank = h.rank;
  for (int i = 0; i < h.rank; i++) out->dims[i] = h.dims[i];
  int64_t n = sinter_tensor_numel(out);
  size_t bytes;
  if (n < 0 || !sinter_dtype_storage_size(dtype, n, &bytes))
    return BAD("%s: .npy shape is too large", name);
  size_t off = hoff + hlen;
  if (bytes > len - off)
    return BAD("%s: .npy data is truncated: %zu bytes, shape needs %zu", name, len - off, bytes);
  unsigned char *buf = malloc(bytes ? bytes : 1);
  if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "%s: out of memory", name);
  size_t w = (size_t)sinter_dtype_bits(dtype) / 8;
  if (h.fortran && h.rank > 1) {
    /* Column-major on disk: walk C-order indices and gather. */
    int64_t idx[SINTER_MAX_RANK] = {0};
    for (int64_t i = 0; i < n; i++) {
      int64_t src = 0, stride = 1;
      for (int k = 0; k < h.rank; k++) {
        src += idx[k] * stride;
        stride *= h.dims[k];
      }
      memcpy(buf + (size_t)i * w, b + off + (size_t)src * w, w);
      for (int k = h.rank - 1; k >= 0; k--) {
        if (++idx[k] < h.dims[k]) break;
        idx[k] = 0;
      }
    }
  } else if (bytes) {
    memcpy(buf, b + off, bytes);
  }
  if (order == '>' && w > 1) byteswap(buf, (size_t)n, w);
  out->data = buf;
  out->nbytes = bytes;
  return NULL;
}

sinter_status_t sinter_npy_read_file(const char *path, sinter_tensor_t *out) {
  void *data;
  size_t len;
  memset(out, 0, sizeof(*out));
  SINTER_TRY(sinter_read_file(path, &data, &len));
  sinter_status_t st = sinter_npy_read_buffer(data, len, path, out);
  free(data);
  return st;
}

sinter_status_t sinter_npy_write_file(const char *path, const sinter_tensor_t *t) {
  sinter_dtype_t dt = t->dtype;
  sinter_dtype_t wdt = dt;
  if (dt == SINTER_DTYPE_BF16 || dt == SINTER_DTYPE_F8E4M3) wdt = SINTER_DTYPE_F32;
  if (dt == SINTER_DTYPE_I4) wdt = SINTER_DTYPE_I8;
  if (dt == SINTER_DTYPE_U4) wdt = SINTER_DTYPE_U8;
  const char *code = NULL;
  for (size_t i = 0; i < sizeof(descrs) / sizeof(descrs[0]); i++)
    if (descrs[i].dtype == wdt) code = descrs[i].code;
  if (!code)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: cannot write dtype %s as .npy", path,
                        sinter_dtype_name(dt));
  int64_t n = sinter_tensor_numel(t);
  size_t bytes;
  if (n < 0 || !sinter_dtype_storage_size(wdt, n, &bytes))
    return BAD("%s: tensor too large", path);
  char dict[256];
  int k = snprintf(dict, sizeof(dict), "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                   (wdt == SINTER_DTYPE_I8 || wdt == SINTER_DTYPE_U8 || wdt == SINTER_DTYPE_BOOL)
                       ? '|'
                       : '<',
                   code);
  for (int i = 0; i < t->rank; i++)
    k += snprintf(dict + k, sizeof(dict) - (size_t)k, "%lld%s", (long long)t->dims[i],
                  t->rank == 1 ? "," : (i + 1 < t->rank ? ", " : ""));
  k += snprintf(dict + k, sizeof(dict) - (size_t)k, "), }");
  /* Pad with spaces so that data starts at a multiple of 64, newline last. */
  size_t total_hdr = 10 + (size_t)k + 1;
  size_t pad = (64 - total_hdr % 64) % 64;
  size_t hlen = (size_t)k + pad + 1;
  size_t file_len = 10 + hlen + bytes;
  unsigned char *buf = malloc(file_len);
  if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)(hlen & 0xff);
  buf[9] = (unsigned char)(hlen >> 8);
  memcpy(buf + 10, dict, (size_t)k);
  memset(buf + 10 + k, ' ', pad);
  buf[10 + hlen - 1] = '\n';
  unsigned char *dst = buf + 10 + hlen;
  if (wdt == dt) {
    if (bytes) memcpy(dst, t->data, bytes);
  } else {
    for (int64_t i = 0; i < n; i++) {
      if (sinter_dtype_is_float(wdt))
        sinter_store_f64(dst, wdt, i, sinter_load_f64(t->data, dt, i));
      else
        sinter_store_i64(dst, wdt, i, sinter_load_i64(t->data, dt, i));
    }
  }
  sinter_status_t st = sinter_write_file_atomic(path, buf, file_len);
  free(buf);
  return st;
}
