/* Calibration sets: reading samples (.npy / .pb, one file or folder per
 * sample, or one batched .npy) for the calibration library. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/ir_impl.h"
#include "sinter/calibrate.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"

typedef enum layout_e { LAYOUT_FILES, LAYOUT_DIRS, LAYOUT_BATCH } layout_t;

struct sinter_calib_samples_s {
  layout_t layout;
  char *root;
  char **entries; /* file or subfolder names, sorted */
  int64_t n_entries;
  int32_t n_inputs;
  char **input_names; /* copies of the graph's input names */
  sinter_tensor_t batch; /* LAYOUT_BATCH: the whole file */
  size_t row_bytes;
};

static bool has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

static bool is_tensor_file(const char *name) {
  return has_suffix(name, ".npy") || has_suffix(name, ".pb");
}

static sinter_status_t read_tensor(const char *path, sinter_tensor_t *out) {
  memset(out, 0, sizeof(*out));
  if (has_suffix(path, ".npy")) return sinter_npy_read_file(path, out);
  char *name = NULL;
  sinter_status_t st = sinter_onnx_read_tensor_file(path, out, &name);
  free(name);
  return st;
}

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void sinter_calib_samples_close(sinter_calib_samples_t *s) {
  if (!s) return;
  for (int64_t i = 0; i < s->n_entries; i++) free(s->entries[i]);
  free(s->entries);
  for (int32_t i = 0; i < s->n_inputs; i++) free(s->input_names[i]);
  free(s->input_names);
  free(s->root);
  sinter_tensor_free_data(&s->batch);
  free(s);
}

int64_t sinter_calib_samples_count(const sinter_calib_samples_t *s) {
  return s->layout == LAYOUT_BATCH ? s->batch.dims[0] : s->n_entries;
}

const char *sinter_calib_samples_describe(const sinter_calib_samples_t *s, int64_t index,
                                          char *buf, size_t cap) {
  if (s->layout == LAYOUT_BATCH)
    snprintf(buf, cap, "%s[%lld]", s->root, (long long)index);
  else if (index >= 0 && index < s->n_entries)
    snprintf(buf, cap, "%s/%s", s->root, s->entries[index]);
  else
    snprintf(buf, cap, "%s: no sample %lld", s->root, (long long)index);
  return buf;
}

static sinter_status_t list_dir(sinter_calib_samples_t *s) {
  DIR *d = opendir(s->root);
  if (!d) return SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot open calibration folder", s->root);
  int64_t cap = 0, n_files = 0, n_dirs = 0;
  sinter_status_t st = NULL;
  struct dirent *e;
  while ((e = readdir(d)) && !st) {
    if (e->d_name[0] == '.') continue;
    char *full = join(s->root, e->d_name);
    struct stat sb;
    bool ok = full && stat(full, &sb) == 0;
    free(full);
    if (!ok) continue;
    bool is_dir = S_ISDIR(sb.st_mode);
    if (!is_dir && !(S_ISREG(sb.st_mode) && is_tensor_file(e->d_name))) continue;
    n_dirs += is_dir;
    n_files += !is_dir;
    if (s->n_entries == cap) {
      cap = cap ? cap * 2 : 64;
      char **p = realloc(s->entries, (size_t)cap * sizeof(char *));
      if (!p) {
        st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
        break;
      }
      s->entries = p;
    }
    if (!(s->entries[s->n_entries] = strdup(e->d_name)))
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    else
      s->n_entries++;
  }
  closedir(d);
  if (st) return st;
  if (n_files && n_dirs)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: calibration folder mixes tensor files and subfolders; use one "
                        "file per sample or one subfolder per sample", s->root);
  if (s->n_entries == 0)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: calibration folder holds no .npy/.pb files or sample subfolders",
                        s->root);
  qsort(s->entries, (size_t)s->n_entries, sizeof(char *), cmp_str);
  s->layout = n_dirs ? LAYOUT_DIRS : LAYOUT_FILES;
  if (s->layout == LAYOUT_FILES && s->n_inputs != 1)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: a folder of files feeds a graph with one input, this one has %d; "
                        "use one subfolder per sample holding <input name>.npy or input_K.pb",
                        s->root, s->n_inputs);
  return NULL;
}

sinter_status_t sinter_calib_samples_open(const sinter_graph_t *graph, const char *path,
                                          sinter_calib_samples_t **out_samples) {
  *out_samples = NULL;
  sinter_calib_samples_t *s = calloc(1, sizeof(*s));
  if (!s) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  sinter_status_t st = NULL;
  s->n_inputs = graph->n_inputs;
  s->root = strdup(path);
  s->input_names = calloc(graph->n_inputs ? (size_t)graph->n_inputs : 1, sizeof(char *));
  if (!s->root || !s->input_names) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int32_t i = 0; i < graph->n_inputs && !st; i++)
    if (!(s->input_names[i] = strdup(graph->inputs[i]->name)))
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  struct stat sb;
  if (!st && stat(path, &sb) != 0)
    st = SINTER_ERROR(SINTER_NOT_FOUND, "%s: calibration set not found", path);
  if (!st && S_ISDIR(sb.st_mode)) {
    st = list_dir(s);
  } else if (!st) {
    s->layout = LAYOUT_BATCH;
    if (!has_suffix(path, ".npy"))
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: a calibration set is a folder or one .npy file with a batch axis",
                        path);
    else if (s->n_inputs != 1)
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: one .npy file feeds a graph with one input, this one has %d", path,
                        s->n_inputs);
    if (!st) st = sinter_npy_read_file(path, &s->batch);
    if (!st && s->batch.rank < 1)
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: a calibration batch needs a batch axis (rank >= 1), got a scalar",
                        path);
    if (!st && s->batch.dims[0] == 0)
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s: the calibration batch is empty", path);
    if (!st) {
      int64_t n = sinter_tensor_numel(&s->batch);
      size_t total;
      if (n < 0 || !sinter_dtype_storage_size(s->batch.dtype, n, &total) ||
          sinter_dtype_bits(s->batch.dtype) < 8)
        st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s: unsupported calibration batch", path);
      else
        s->row_bytes = total / (size_t)s->batch.dims[0];
    }
  }
  if (st) {
    sinter_calib_samples_close(s);
    return st;
  }
  *out_samples = s;
  return NULL;
}

/* Finds the file for graph input k in a sample folder: <name>.npy, <name>.pb,
 * input_<k>.npy, input_<k>.pb, first match wins. Returns a malloc'ed path. */
static sinter_status_t find_input_file(const sinter_calib_samples_t *s, const char *dir,
                                       int32_t k, char **out_path) {
  char cand[4][300];
  int nc = 0;
  const char *nm = s->input_names[k];
  if (nm[0] && !strchr(nm, '/') && strlen(nm) < 250) {
    snprintf(cand[nc++], sizeof(cand[0]), "%s.npy", nm);
    snprintf(cand[nc++], sizeof(cand[0]), "%s.pb", nm);
  }
  snprintf(cand[nc++], sizeof(cand[0]), "input_%d.npy", k);
  snprintf(cand[nc++], sizeof(cand[0]), "input_%d.pb", k);
  for (int i = 0; i < nc; i++) {
    char *p = join(dir, cand[i]);
    if (!p) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    struct stat sb;
    if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
      *out_path = p;
      return NULL;
    }
    free(p);
  }
  return SINTER_ERROR(SINTER_NOT_FOUND, "%s: no file for graph input %d '%s' (looked for "
                      "%s.npy, %s.pb, input_%d.npy, input_%d.pb)", dir, k, nm, nm, nm, k, k);
}

sinter_status_t sinter_calib_samples_read(sinter_calib_samples_t *s, int64_t index,
                                          sinter_tensor_t *out) {
  for (int32_t k = 0; k < s->n_inputs; k++) memset(&out[k], 0, sizeof(out[k]));
  if (index < 0 || index >= sinter_calib_samples_count(s))
    return SINTER_ERROR(SINTER_OUT_OF_RANGE, "%s: no calibration sample %lld", s->root,
                        (long long)index);
  if (s->layout == LAYOUT_BATCH) {
    out[0] = s->batch;
    out[0].dims[0] = 1;
    out[0].nbytes = s->row_bytes;
    out[0].data = malloc(s->row_bytes ? s->row_bytes : 1);
    if (!out[0].data) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    memcpy(out[0].data, (const char *)s->batch.data + (size_t)index * s->row_bytes, s->row_bytes);
    return NULL;
  }
  char *path = join(s->root, s->entries[index]);
  if (!path) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  sinter_status_t st = NULL;
  if (s->layout == LAYOUT_FILES) {
    st = read_tensor(path, &out[0]);
  } else {
    for (int32_t k = 0; k < s->n_inputs && !st; k++) {
      char *f = NULL;
      st = find_input_file(s, path, k, &f);
      if (!st) st = read_tensor(f, &out[k]);
      free(f);
    }
    if (st)
      for (int32_t k = 0; k < s->n_inputs; k++) sinter_tensor_free_data(&out[k]);
  }
  free(path);
  return st;
}
