/* Helpers of `sinter run` and `sinter bench` for compiled artifacts: input
 * binding against the artifact descriptor, random inputs, output summaries. */
#include "tools/rt_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp/kernels.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool tool_is_artifact(const char *path) {
  if (ends_with(path, ".so")) return true;
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  unsigned char magic[4] = {0};
  size_t got = fread(magic, 1, 4, f);
  fclose(f);
  return got == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

/* "f32[N,4]" for a descriptor tensor, N standing for the dynamic batch. */
static const char *decl_format(const sinter_art_tensor_t *t, char *buf, size_t cap) {
  size_t k = (size_t)snprintf(buf, cap, "%s[", sinter_rt_dtype_name(t->dtype));
  for (int32_t d = 0; d < t->rank && k < cap; d++) {
    if (t->dims[d] == SINTER_ART_DYNAMIC)
      k += (size_t)snprintf(buf + k, cap - k, "%sN", d ? "," : "");
    else
      k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? "," : "", (long long)t->dims[d]);
  }
  if (k < cap) snprintf(buf + k, cap - k, "]");
  return buf;
}

static const char *tensor_format(const sinter_tensor_t *t, char *buf, size_t cap) {
  sinter_type_t ty;
  sinter_type_set_static(&ty, t->dtype, t->rank, t->dims);
  return sinter_type_format(&ty, buf, cap);
}

/* Checks a tensor read from file against the descriptor's input. */
static sinter_status_t check_given(const sinter_art_tensor_t *want, const sinter_tensor_t *got,
                                   const char *file) {
  char wbuf[160], gbuf[160];
  bool ok = (int32_t)got->dtype == want->dtype && got->rank == want->rank;
  for (int32_t d = 0; ok && d < want->rank; d++)
    ok = want->dims[d] == SINTER_ART_DYNAMIC ? got->dims[d] >= 1 : got->dims[d] == want->dims[d];
  if (ok) return NULL;
  return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s' from %s: %s given, the model takes %s",
                      want->name, file, tensor_format(got, gbuf, sizeof(gbuf)),
                      decl_format(want, wbuf, sizeof(wbuf)));
}

void tool_fill_random(void *data, sinter_dtype_t dtype, int64_t n, uint64_t *seed) {
  if (!sinter_dtype_is_float(dtype)) {
    size_t bytes = 0;
    if (sinter_dtype_storage_size(dtype, n, &bytes)) memset(data, 0, bytes);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    /* xorshift64*: quick, reproducible, good enough for timing inputs. */
    uint64_t x = *seed;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *seed = x;
    double u = (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
    sinter_store_f64(data, dtype, i, 2.0 * u - 1.0);
  }
}

void tool_rt_inputs_free(tool_rt_inputs_t *in) {
  for (size_t i = 0; in->owned && i < in->n; i++) sinter_tensor_free_data(&in->owned[i]);
  free(in->owned);
  free(in->tensors);
  memset(in, 0, sizeof(*in));
}

static sinter_status_t make_random(const sinter_art_tensor_t *decl, int64_t batch, uint64_t *seed,
                                   sinter_tensor_t *out) {
  out->dtype = (sinter_dtype_t)decl->dtype;
  out->rank = decl->rank;
  int64_t n = 1;
  for (int32_t d = 0; d < decl->rank; d++) {
    out->dims[d] = decl->dims[d] == SINTER_ART_DYNAMIC ? batch : decl->dims[d];
    if (__builtin_mul_overflow(n, out->dims[d], &n))
      return SINTER_ERROR(SINTER_OUT_OF_RANGE, "input '%s': size overflows", decl->name);
  }
  size_t bytes;
  if (!sinter_dtype_storage_size(out->dtype, n, &bytes))
    return SINTER_ERROR(SINTER_OUT_OF_RANGE, "input '%s': size overflows", decl->name);
  out->data = malloc(bytes ? bytes : 1);
  if (!out->data)
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "input '%s': cannot allocate %zu bytes", decl->name,
                        bytes);
  out->nbytes = bytes;
  tool_fill_random(out->data, out->dtype, n, seed);
  return NULL;
}

sinter_status_t tool_rt_bind_inputs(const sinter_rt_session_t *session, const char *const *specs,
                                    int n_specs, bool fill_random, int64_t default_batch,
                                    tool_rt_inputs_t *out) {
  memset(out, 0, sizeof(*out));
  const sinter_artifact_t *art = sinter_rt_session_artifact(session);
  size_t n = sinter_rt_session_num_inputs(session);
  out->n = n;
  out->owned = calloc(n + 1, sizeof(sinter_tensor_t));
  out->tensors = calloc(n + 1, sizeof(sinter_rt_tensor_t));
  if (!out->owned || !out->tensors) {
    tool_rt_inputs_free(out);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  sinter_status_t st = NULL;
  if (n_specs > (int)n) {
    st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "model '%s' takes %zu input%s, %d given",
                      art->model_name, n, n == 1 ? "" : "s", n_specs);
    goto fail;
  }
  int64_t batch = -1;
  const char *batch_from = NULL;
  for (int s = 0; s < n_specs; s++) {
    const char *spec = specs[s], *eq = strchr(spec, '='), *file = spec;
    size_t idx = (size_t)s;
    if (eq) {
      file = eq + 1;
      idx = n;
      for (size_t k = 0; k < n; k++) {
        const char *nm = sinter_rt_session_input(session, k)->name;
        if (strlen(nm) == (size_t)(eq - spec) && strncmp(nm, spec, (size_t)(eq - spec)) == 0)
          idx = k;
      }
      if (idx == n) {
        st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "model '%s' has no input named '%.*s'",
                          art->model_name, (int)(eq - spec), spec);
        goto fail;
      }
    }
    const sinter_art_tensor_t *decl = sinter_rt_session_input(session, idx);
    if (out->owned[idx].data) {
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s' given twice", decl->name);
      goto fail;
    }
    st = tool_read_tensor(file, &out->owned[idx], NULL);
    if (!st) st = check_given(decl, &out->owned[idx], file);
    if (st) goto fail;
    if (decl->rank > 0 && decl->dims[0] == SINTER_ART_DYNAMIC) {
      int64_t b = out->owned[idx].dims[0];
      if (batch >= 0 && b != batch) {
        st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                          "input '%s' from %s has batch %lld, but %s has batch %lld", decl->name,
                          file, (long long)b, batch_from, (long long)batch);
        goto fail;
      }
      batch = b;
      batch_from = file;
    }
  }
  if (batch < 0) batch = default_batch > 0 ? default_batch : 1;
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  for (size_t i = 0; i < n; i++) {
    const sinter_art_tensor_t *decl = sinter_rt_session_input(session, i);
    if (!out->owned[i].data) {
      if (!fill_random) {
        char buf[160];
        st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                          "input '%s' (%s) is missing: pass --input %s=FILE", decl->name,
                          decl_format(decl, buf, sizeof(buf)), decl->name);
        goto fail;
      }
      st = make_random(decl, batch, &seed, &out->owned[i]);
      if (st) goto fail;
    }
    sinter_rt_tensor_t *t = &out->tensors[i];
    t->dtype = (int32_t)out->owned[i].dtype;
    t->rank = out->owned[i].rank;
    memcpy(t->dims, out->owned[i].dims, sizeof(int64_t) * (size_t)t->rank);
    t->data = out->owned[i].data;
    t->nbytes = out->owned[i].nbytes;
  }
  out->batch = batch;
  return NULL;
fail:
  tool_rt_inputs_free(out);
  return st;
}

void tool_print_tensor_summary(const char *name, const sinter_tensor_t *t) {
  char buf[160];
  printf("%s: %s\n", name, tensor_format(t, buf, sizeof(buf)));
  int64_t n = sinter_tensor_numel(t);
  if (n <= 0) return;
  double mn = INFINITY, mx = -INFINITY, sum = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = sinter_load_f64(t->data, t->dtype, i);
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    sum += v;
  }
  printf("  min %.6g  max %.6g  mean %.6g\n  [", mn, mx, sum / (double)n);
  int64_t show = n < 10 ? n : 10;
  for (int64_t i = 0; i < show; i++)
    printf("%s%.6g", i ? ", " : "", sinter_load_f64(t->data, t->dtype, i));
  printf("%s]\n", n > show ? ", ..." : "");
}

sinter_status_t tool_write_output(const char *dir, const char *name, const sinter_tensor_t *t) {
  char safe[512], file[1024];
  size_t k = 0;
  for (const char *p = name; *p && k + 1 < sizeof(safe); p++)
    safe[k++] = (*p == '/' || *p == '\\' || *p == ':' || *p == ' ') ? '_' : *p;
  safe[k] = 0;
  if (k == 0) snprintf(safe, sizeof(safe), "output");
  snprintf(file, sizeof(file), "%s/%s.npy", dir, safe);
  return sinter_npy_write_file(file, t);
}
