/* ONNX TensorProto <-> Sinter tensors: data type mapping, decoding of
 * raw_data, typed fields and external data (mapped read-only and confined to
 * the model's folder), encoding, and the .pb tensor file API. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontends/onnx/onnx_internal.h"
#include "sinter/tensor_io.h"

/* ---- data types --------------------------------------------------------- */

/* Names of the ONNX data type numbers, for messages and for Cast's old
 * string form; the number -> dtype mapping itself is the IR's
 * (sinter_dtype_from_onnx). */
static const char *const dtype_names[ONNX_DT_LAST + 1] = {
    "UNDEFINED",      "FLOAT",      "UINT8",          "INT8",       "UINT16",   "INT16",
    "INT32",          "INT64",      "STRING",         "BOOL",       "FLOAT16",  "DOUBLE",
    "UINT32",         "UINT64",     "COMPLEX64",      "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
    "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4",      "INT4",     "FLOAT4E2M1",
};

const char *onnx_dtype_name(int64_t t) {
  return t >= 0 && t <= ONNX_DT_LAST ? dtype_names[t] : "?";
}

sinter_status_t onnx_dtype_convert(int64_t t, const char *what, sinter_dtype_t *out) {
  *out = SINTER_DTYPE_UNDEFINED;
  if (t == ONNX_DT_UNDEFINED)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has no element type", what);
  if (t < 0 || t > ONNX_DT_LAST)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has unknown data type %lld", what, (long long)t);
  sinter_dtype_t d = sinter_dtype_from_onnx(t);
  if (d == SINTER_DTYPE_UNDEFINED)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "%s has data type %s, which Sinter does not support",
                        what, dtype_names[t]);
  *out = d;
  return NULL;
}

/* ---- external data ------------------------------------------------------ */

void onnx_ext_init(onnx_ext_t *ext, const char *base_dir) {
  memset(ext, 0, sizeof(*ext));
  ext->base_dir = base_dir;
}

void onnx_ext_deinit(onnx_ext_t *ext) {
  for (int32_t i = 0; i < ext->n_files; i++) {
    if (ext->files[i].base && !ext->files[i].adopted)
      munmap(ext->files[i].base, ext->files[i].size);
    free(ext->files[i].real_path);
  }
  free(ext->files);
  free(ext->base_real);
  memset(ext, 0, sizeof(*ext));
}

/* Parses a non-negative decimal integer that fits in int64. */
static bool parse_u63(const char *s, uint64_t *out) {
  if (!s || !*s) return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    if (v > (uint64_t)INT64_MAX / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > (uint64_t)INT64_MAX) return false;
  }
  *out = v;
  return true;
}

/* Checks that location stays inside the model's folder, maps the file (once
 * per import) and returns it. */
static sinter_status_t open_external(onnx_ext_t *ext, const char *what, const char *location,
                                     onnx_ext_file_t **out) {
  *out = NULL;
  if (!ext || !ext->base_dir)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s uses external data '%s', but the model was read from memory without "
                        "a base folder",
                        what, location);
  if (!*location)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: external data location is empty", what);
  if (location[0] == '/')
    return SINTER_ERROR(SINTER_INVALID_MODEL,
                        "%s: external data location '%s' is an absolute path; it must be relative "
                        "to the model's folder",
                        what, location);
  for (const char *c = location; *c;) {
    const char *e = strchr(c, '/');
    size_t n = e ? (size_t)(e - c) : strlen(c);
    if (n == 2 && c[0] == '.' && c[1] == '.')
      return SINTER_ERROR(SINTER_INVALID_MODEL,
                          "%s: external data location '%s' contains '..'; it must stay inside the "
                          "model's folder",
                          what, location);
    c += n;
    while (*c == '/') c++;
  }
  if (!ext->base_real) {
    ext->base_real = realpath(ext->base_dir, NULL);
    if (!ext->base_real)
      return SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot resolve the model folder '%s': %s", what,
                          ext->base_dir, strerror(errno));
  }
  size_t lb = strlen(ext->base_dir), ll = strlen(location);
  char *joined = malloc(lb + ll + 2);
  if (!joined) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  memcpy(joined, ext->base_dir, lb);
  joined[lb] = '/';
  memcpy(joined + lb + 1, location, ll + 1);
  char *real = realpath(joined, NULL);
  int err = errno;
  free(joined);
  if (!real)
    return SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot open external data '%s': %s", what, location,
                        strerror(err));
  size_t lr = strlen(ext->base_real);
  bool inside = strncmp(real, ext->base_real, lr) == 0 &&
                (real[lr] == '/' || (lr == 1 && ext->base_real[0] == '/'));
  if (!inside) {
    sinter_status_t st = SINTER_ERROR(SINTER_INVALID_MODEL,
                                      "%s: external data location '%s' resolves to '%s', outside "
                                      "the model's folder (through a symlink)",
                                      what, location, real);
    free(real);
    return st;
  }
  for (int32_t i = 0; i < ext->n_files; i++)
    if (strcmp(ext->files[i].real_path, real) == 0) {
      free(real);
      *out = &ext->files[i];
      return NULL;
    }
  int fd = open(real, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    sinter_status_t s = SINTER_ERROR(SINTER_IO_ERROR,
                                     "%s: external data '%s' is not a readable "
                                     "regular file",
                                     what, location);
    if (fd >= 0) close(fd);
    free(real);
    return s;
  }
  void *base = NULL;
  size_t size = (size_t)st.st_size;
  if (size > 0) {
    base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
      sinter_status_t s = SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot map external data '%s': %s",
                                       what, location, strerror(errno));
      close(fd);
      free(real);
      return s;
    }
  }
  close(fd);
  if (ext->n_files == ext->cap_files) {
    int32_t ncap = ext->cap_files ? ext->cap_files * 2 : 4;
    onnx_ext_file_t *n = realloc(ext->files, sizeof(*n) * (size_t)ncap);
    if (!n) {
      if (base) munmap(base, size);
      free(real);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    }
    ext->files = n;
    ext->cap_files = ncap;
  }
  onnx_ext_file_t *f = &ext->files[ext->n_files++];
  f->real_path = real;
  f->base = base;
  f->size = size;
  f->adopted = false;
  *out = f;
  return NULL;
}

static sinter_status_t decode_external(const Onnx__TensorProto *t, const char *what,
                                       onnx_ext_t *ext, size_t want, onnx_tensor_view_t *view) {
  const char *location = NULL;
  uint64_t offset = 0, length = 0;
  bool has_length = false;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = t->external_data[i];
    const char *k = e->key ? e->key : "", *v = e->value ? e->value : "";
    if (strcmp(k, "location") == 0) {
      location = v;
    } else if (strcmp(k, "offset") == 0) {
      if (!parse_u63(v, &offset))
        return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: bad external data offset '%s'", what, v);
    } else if (strcmp(k, "length") == 0) {
      if (!parse_u63(v, &length))
        return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: bad external data length '%s'", what, v);
      has_length = true;
    }
  }
  if (!location)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: external data has no 'location'", what);
  onnx_ext_file_t *f;
  SINTER_TRY(open_external(ext, what, location, &f));
  if (offset > f->size)
    return SINTER_ERROR(SINTER_OUT_OF_RANGE,
                        "%s: external data offset %llu is beyond the end of '%s' (%zu bytes)", what,
                        (unsigned long long)offset, location, f->size);
  if (!has_length) length = f->size - offset;
  if (length > f->size - offset)
    return SINTER_ERROR(SINTER_OUT_OF_RANGE,
                        "%s: external data range [%llu, +%llu) runs past the end of '%s' (%zu "
                        "bytes)",
                        what, (unsigned long long)offset, (unsigned long long)length, location,
                        f->size);
  if (length != want)
    return SINTER_ERROR(SINTER_INVALID_MODEL,
                        "%s: external data holds %llu bytes, but %s needs %zu", what,
                        (unsigned long long)length, sinter_dtype_name(view->type.dtype), want);
  view->data = want ? (const char *)f->base + offset : "";
  view->nbytes = want;
  view->file = want ? f : NULL;
  return NULL;
}

/* ---- decoding ----------------------------------------------------------- */

/* Copies n typed-field elements into a fresh buffer in Sinter layout. */
static sinter_status_t decode_typed(const Onnx__TensorProto *t, const char *what, int64_t onnx_dt,
                                    int64_t numel, size_t want, onnx_tensor_view_t *view) {
  size_t have = 0;
  const char *field = "";
  switch (onnx_dt) {
    case ONNX_DT_FLOAT:
      have = t->n_float_data;
      field = "float_data";
      break;
    case ONNX_DT_INT64:
      have = t->n_int64_data;
      field = "int64_data";
      break;
    case ONNX_DT_DOUBLE:
      have = t->n_double_data;
      field = "double_data";
      break;
    case ONNX_DT_UINT32:
    case ONNX_DT_UINT64:
      have = t->n_uint64_data;
      field = "uint64_data";
      break;
    default:
      have = t->n_int32_data;
      field = "int32_data";
      break;
  }
  /* Packed 4-bit types store two elements per int32_data entry. */
  uint64_t need = (uint64_t)numel;
  if (onnx_dt == ONNX_DT_INT4 || onnx_dt == ONNX_DT_UINT4) need = ((uint64_t)numel + 1) / 2;
  if (have == 0 && need > 0)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has no data (%lld elements expected)", what,
                        (long long)numel);
  if (have != need)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: %s holds %zu values, but the shape needs %llu",
                        what, field, have, (unsigned long long)need);
  unsigned char *buf = malloc(want ? want : 1);
  if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "%s: out of memory", what);
  view->owned = buf;
  view->data = buf;
  view->nbytes = want;
  if (!want) return NULL;
  switch (onnx_dt) {
    case ONNX_DT_FLOAT: memcpy(buf, t->float_data, want); break;
    case ONNX_DT_INT64: memcpy(buf, t->int64_data, want); break;
    case ONNX_DT_DOUBLE: memcpy(buf, t->double_data, want); break;
    case ONNX_DT_UINT64: memcpy(buf, t->uint64_data, want); break;
    case ONNX_DT_UINT32:
      for (size_t i = 0; i < have; i++) {
        uint32_t v = (uint32_t)t->uint64_data[i];
        memcpy(buf + 4 * i, &v, 4);
      }
      break;
    case ONNX_DT_INT32: memcpy(buf, t->int32_data, want); break;
    case ONNX_DT_INT16:
    case ONNX_DT_UINT16:
    case ONNX_DT_FLOAT16:
    case ONNX_DT_BFLOAT16:
      for (size_t i = 0; i < have; i++) {
        uint16_t v = (uint16_t)t->int32_data[i];
        memcpy(buf + 2 * i, &v, 2);
      }
      break;
    case ONNX_DT_BOOL:
      for (size_t i = 0; i < have; i++) buf[i] = t->int32_data[i] != 0;
      break;
    default: /* 8-bit types and packed 4-bit bytes */
      for (size_t i = 0; i < have; i++) buf[i] = (unsigned char)t->int32_data[i];
      break;
  }
  return NULL;
}

sinter_status_t onnx_tensor_decode(const Onnx__TensorProto *t, const char *what, onnx_ext_t *ext,
                                   onnx_tensor_view_t *view) {
  memset(view, 0, sizeof(*view));
  int64_t onnx_dt = t->has_data_type ? t->data_type : 0;
  if (onnx_dt == ONNX_DT_STRING)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "%s is a string tensor; strings are not supported",
                        what);
  SINTER_TRY(onnx_dtype_convert(onnx_dt, what, &view->type.dtype));
  if (t->segment)
    return SINTER_ERROR(SINTER_UNSUPPORTED,
                        "%s is a segment of a tensor; segments are not "
                        "supported",
                        what);
  if (t->n_dims > SINTER_MAX_RANK)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "%s has rank %zu, above the limit %d", what, t->n_dims,
                        SINTER_MAX_RANK);
  view->type.rank = (int32_t)t->n_dims;
  int64_t numel = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has negative dimension %lld", what,
                          (long long)t->dims[i]);
    if (__builtin_mul_overflow(numel, t->dims[i], &numel))
      return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: the product of its dims overflows", what);
    view->type.dims[i].size = t->dims[i];
  }
  size_t want;
  if (!sinter_dtype_storage_size(view->type.dtype, numel, &want))
    return SINTER_ERROR(SINTER_INVALID_MODEL,
                        "%s: %lld elements of %s overflow the address "
                        "space",
                        what, (long long)numel, sinter_dtype_name(view->type.dtype));
  bool external =
      t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  if (t->has_data_location && !external &&
      t->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has unknown data_location %d", what,
                        (int)t->data_location);
  if (external) return decode_external(t, what, ext, want, view);
  if (t->n_external_data)
    return SINTER_ERROR(SINTER_INVALID_MODEL,
                        "%s has external_data entries but data_location is not EXTERNAL", what);
  const uint8_t *raw = t->raw_data.data;
  size_t raw_len = t->raw_data.len;
  const onnx_raw_table_t *tab = ext ? ext->raw : NULL;
  bool in_model = t->has_raw_data && onnx_raw_resolve(tab, &raw, &raw_len);
  if (t->has_raw_data && (raw_len > 0 || numel == 0 ||
                          (t->n_float_data | t->n_int32_data | t->n_int64_data | t->n_double_data |
                           t->n_uint64_data) == 0)) {
    if (raw_len != want)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: raw_data has %zu bytes, but %s needs %zu",
                          what, raw_len, sinter_dtype_name(view->type.dtype), want);
    view->data = want ? (const void *)raw : "";
    view->nbytes = want;
    view->in_model = in_model && want;
    view->file = view->in_model ? tab->file : NULL;
    return NULL;
  }
  return decode_typed(t, what, onnx_dt, numel, want, view);
}

/* ---- encoding ----------------------------------------------------------- */

sinter_status_t onnx_tensor_encode(sinter_dtype_t dtype, int32_t rank, const int64_t *dims,
                                   const void *data, size_t nbytes, const char *name,
                                   sinter_arena_t *ar, Onnx__TensorProto **out) {
  *out = NULL;
  int32_t onnx_dt = (int32_t)sinter_dtype_to_onnx(dtype);
  if (!onnx_dt)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "tensor '%s' has no valid dtype",
                        name ? name : "");
  if (rank < 0 || rank > SINTER_MAX_RANK)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "tensor '%s' has bad rank %d", name ? name : "",
                        rank);
  int64_t numel = 1;
  for (int32_t i = 0; i < rank; i++)
    if (dims[i] < 0 || __builtin_mul_overflow(numel, dims[i], &numel))
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "tensor '%s' has bad dims", name ? name : "");
  size_t want;
  if (!sinter_dtype_storage_size(dtype, numel, &want) || want != nbytes)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "tensor '%s': %zu bytes of data for %lld %s",
                        name ? name : "", nbytes, (long long)numel, sinter_dtype_name(dtype));
  Onnx__TensorProto *t = sinter_arena_alloc(ar, sizeof(*t), 8);
  if (!t) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  onnx__tensor_proto__init(t);
  if (rank) {
    t->dims = sinter_arena_memdup(ar, dims, sizeof(int64_t) * (size_t)rank);
    if (!t->dims) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  t->n_dims = (size_t)rank;
  t->has_data_type = 1;
  t->data_type = onnx_dt;
  if (name && *name) {
    t->name = sinter_arena_strdup(ar, name);
    if (!t->name) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  t->has_raw_data = 1;
  t->raw_data.len = nbytes;
  t->raw_data.data = (uint8_t *)data;
  *out = t;
  return NULL;
}

/* ---- tensor files ------------------------------------------------------- */

/* Returns a malloc'ed copy of the folder part of path ("." when none). */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

static sinter_status_t read_tensor(const void *data, size_t len, const char *name,
                                   const char *base_dir, sinter_tensor_t *out, char **out_name) {
  sinter_status_t st =
      onnx_wire_check(data, len, &onnx__tensor_proto__descriptor, ONNX_MAX_NESTING);
  if (st) return sinter_status_annotate(st, "%s", name);
  Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, data);
  if (!t)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: not a valid TensorProto (corrupt protobuf)",
                        name);
  onnx_ext_t ext;
  onnx_ext_init(&ext, base_dir);
  onnx_tensor_view_t view;
  char what[96];
  snprintf(what, sizeof(what), "tensor '%.64s'", t->name ? t->name : "");
  st = onnx_tensor_decode(t, what, &ext, &view);
  if (!st) {
    out->dtype = view.type.dtype;
    out->rank = view.type.rank;
    for (int32_t i = 0; i < view.type.rank; i++) out->dims[i] = view.type.dims[i].size;
    if (view.owned) {
      out->data = view.owned;
      view.owned = NULL;
    } else {
      out->data = malloc(view.nbytes ? view.nbytes : 1);
      if (!out->data)
        st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      else if (view.nbytes)
        memcpy(out->data, view.data, view.nbytes);
    }
    out->nbytes = view.nbytes;
  }
  if (!st && out_name && t->name && *t->name) {
    *out_name = strdup(t->name);
    if (!*out_name) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  if (st) {
    free(out->data);
    memset(out, 0, sizeof(*out));
    st = sinter_status_annotate(st, "%s", name);
  }
  free(view.owned);
  onnx_ext_deinit(&ext);
  onnx__tensor_proto__free_unpacked(t, NULL);
  return st;
}

sinter_status_t sinter_onnx_read_tensor_buffer(const void *data, size_t len, const char *name,
                                               sinter_tensor_t *out_tensor, char **out_name) {
  memset(out_tensor, 0, sizeof(*out_tensor));
  if (out_name) *out_name = NULL;
  return read_tensor(data, len, name ? name : "<memory>", NULL, out_tensor, out_name);
}

sinter_status_t sinter_onnx_read_tensor_file(const char *path, sinter_tensor_t *out_tensor,
                                             char **out_name) {
  memset(out_tensor, 0, sizeof(*out_tensor));
  if (out_name) *out_name = NULL;
  void *data;
  size_t len;
  SINTER_TRY(sinter_read_file(path, &data, &len));
  char *dir = dir_of(path);
  sinter_status_t st = dir ? read_tensor(data, len, path, dir, out_tensor, out_name)
                           : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  free(dir);
  free(data);
  return st;
}

sinter_status_t sinter_onnx_write_tensor_file(const char *path, const sinter_tensor_t *t,
                                              const char *name) {
  sinter_arena_t ar;
  sinter_arena_init(&ar, 4096);
  Onnx__TensorProto *tp;
  sinter_status_t st =
      onnx_tensor_encode(t->dtype, t->rank, t->dims, t->data, t->nbytes, name, &ar, &tp);
  if (st) {
    sinter_arena_deinit(&ar);
    return sinter_status_annotate(st, "%s", path);
  }
  size_t len = onnx__tensor_proto__get_packed_size(tp);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "%s: out of memory", path);
  } else {
    onnx__tensor_proto__pack(tp, buf);
    st = sinter_write_file_atomic(path, buf, len); /* its messages name path */
    free(buf);
  }
  sinter_arena_deinit(&ar);
  return st;
}
