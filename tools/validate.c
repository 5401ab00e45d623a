/* sinter validate: compares a candidate model (quantized, optimized) with a
 * reference on a data set, per output and per intermediate tensor matched by
 * name, and writes text, JSON or a self-contained HTML report. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/interp/kernels.h"
#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter validate REFERENCE CANDIDATE --data DIR [--json] [--html FILE]\n"
          "                       [--limit N] [--top N]\n"
          "\n"
          "Runs both models (.onnx or .sir) with the reference interpreter on the inputs in\n"
          "DIR and reports, per output, max abs error, cosine similarity, SQNR in dB and\n"
          "(for [N,C] outputs) top-1 agreement; and per intermediate tensor matched by name\n"
          "(QDQ names such as x_DequantizeLinear_Output match x), its SQNR, worst first.\n"
          "DIR holds test_data_set_*/input_K.pb folders, input_K.pb files, or .npy files\n"
          "(single-input models; a leading batch axis is split into samples).\n"
          "\n"
          "  --data DIR     the inputs (required)\n"
          "  --json         print a JSON object with \"outputs\" and \"layers\" (all layers)\n"
          "  --html FILE    also write an HTML report with a per-layer SQNR bar chart\n"
          "  --limit N      use at most N samples\n"
          "  --top N        layers shown in the text table (default 20, 0: all)\n");
}

/* ---- a small string-keyed hash map (open addressing) --------------------- */

typedef struct strmap_s {
  const char **keys; /* borrowed */
  int32_t *vals;
  size_t cap;        /* power of two */
  size_t len;
} strmap_t;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool strmap_init(strmap_t *m, size_t want) {
  m->cap = 16;
  while (m->cap < want * 2 + 1) m->cap *= 2;
  m->len = 0;
  m->keys = calloc(m->cap, sizeof(char *));
  m->vals = calloc(m->cap, sizeof(int32_t));
  return m->keys && m->vals;
}

static void strmap_deinit(strmap_t *m) {
  free(m->keys);
  free(m->vals);
}

/* Returns the slot of key: holding it, or the empty slot where it goes. The
 * map never fills up: it is sized for every key up front. */
static size_t strmap_slot(const strmap_t *m, const char *key) {
  size_t i = (size_t)hash_str(key) & (m->cap - 1);
  while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & (m->cap - 1);
  return i;
}

static int32_t strmap_get(const strmap_t *m, const char *key) {
  size_t i = strmap_slot(m, key);
  return m->keys[i] ? m->vals[i] : -1;
}

static void strmap_put(strmap_t *m, const char *key, int32_t val) {
  size_t i = strmap_slot(m, key);
  if (!m->keys[i]) m->len++;
  m->keys[i] = key;
  m->vals[i] = val;
}

/* ---- samples --------------------------------------------------------------- */

/* One model run: either n_in .pb files, or rows [row0, row0+rows) of a .npy. */
typedef struct sample_s {
  char **files; /* n_in paths (pb), or one path (npy) */
  int64_t row0, rows;
} sample_t;

typedef struct sample_list_s {
  sample_t *items;
  size_t len, cap;
  int64_t count; /* samples (rows), for --limit */
} sample_list_t;

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *path_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

/* Sorted names in dir that satisfy keep; the caller frees each and the array. */
static sinter_status_t list_dir(const char *dir, bool (*keep)(const char *, const char *),
                                char ***out_names, size_t *out_n) {
  *out_names = NULL;
  *out_n = 0;
  DIR *d = opendir(dir);
  if (!d) return SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot open the data folder", dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !keep(dir, e->d_name)) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nn = realloc(names, cap * sizeof(char *));
      if (!nn) goto oom;
      names = nn;
    }
    if (!(names[n] = strdup(e->d_name))) goto oom;
    n++;
  }
  closedir(d);
  if (n) qsort(names, n, sizeof(char *), cmp_str);
  *out_names = names;
  *out_n = n;
  return NULL;
oom:
  closedir(d);
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
}

static bool keep_test_set(const char *dir, const char *name) {
  if (strncmp(name, "test_data_set_", 14) != 0) return false;
  char *p = path_join(dir, name);
  bool ok = p && is_dir(p);
  free(p);
  return ok;
}

static bool keep_npy(const char *dir, const char *name) {
  (void)dir;
  return ends_with(name, ".npy");
}

static void samples_free(sample_list_t *s, int32_t n_files) {
  for (size_t i = 0; i < s->len; i++) {
    for (int32_t k = 0; k < n_files; k++) free(s->items[i].files[k]);
    free(s->items[i].files);
  }
  free(s->items);
  memset(s, 0, sizeof(*s));
}

static sinter_status_t samples_push(sample_list_t *s, char **files, int64_t row0, int64_t rows) {
  if (s->len == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    sample_t *n = realloc(s->items, cap * sizeof(sample_t));
    if (!n) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    s->items = n;
    s->cap = cap;
  }
  s->items[s->len++] = (sample_t){.files = files, .row0 = row0, .rows = rows};
  s->count += rows > 0 ? rows : 1; /* rows -1: one sample without a batch axis */
  return NULL;
}

/* Adds the sample made of DIR/input_K.pb, K < n_in. */
static sinter_status_t add_pb_sample(sample_list_t *s, const char *dir, int32_t n_in) {
  char **files = calloc((size_t)n_in + 1, sizeof(char *));
  if (!files) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int32_t k = 0; k < n_in; k++) {
    char name[32];
    snprintf(name, sizeof(name), "input_%d.pb", (int)k);
    files[k] = path_join(dir, name);
    if (!files[k] || !exists(files[k])) {
      sinter_status_t st =
          files[k] ? SINTER_ERROR(SINTER_NOT_FOUND, "%s: missing (the models take %d input%s)",
                                  files[k], (int)n_in, n_in == 1 ? "" : "s")
                   : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      for (int32_t j = 0; j <= k; j++) free(files[j]);
      free(files);
      return st;
    }
  }
  sinter_status_t st = samples_push(s, files, 0, 1);
  if (st) {
    for (int32_t k = 0; k < n_in; k++) free(files[k]);
    free(files);
  }
  return st;
}

/* Learns the leading dimension of a .npy; one file is in memory at a time. */
static sinter_status_t npy_rows(const char *path, int32_t model_rank, int64_t *out_rows) {
  sinter_tensor_t t = {0};
  SINTER_TRY(sinter_npy_read_file(path, &t));
  int32_t rank = t.rank;
  int64_t d0 = rank > 0 ? t.dims[0] : 1;
  sinter_tensor_free_data(&t);
  if (rank == model_rank) {
    *out_rows = d0;
  } else if (rank + 1 == model_rank) {
    *out_rows = -1; /* one sample without the batch axis */
  } else {
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: rank %d does not fit the model input of rank %d", path, (int)rank,
                        (int)model_rank);
  }
  return NULL;
}

/* Collects the samples in dir, at most limit (< 0: all). chunk is the number
 * of rows per run for batched .npy files; with a static batch every run must
 * be a whole chunk, so the limit rounds up to a multiple of it. */
static sinter_status_t collect_samples(const char *dir, const sinter_graph_t *g, int64_t limit,
                                       int64_t chunk, bool static_batch, sample_list_t *out,
                                       bool *out_npy) {
  int32_t n_in = sinter_graph_num_inputs(g);
  *out_npy = false;
  if (!is_dir(dir)) return SINTER_ERROR(SINTER_NOT_FOUND, "%s: no such data folder", dir);
  char **names;
  size_t n;
  SINTER_TRY(list_dir(dir, keep_test_set, &names, &n));
  sinter_status_t st = NULL;
  if (n) {
    for (size_t i = 0; i < n && !st && (limit < 0 || out->count < limit); i++) {
      char *sub = path_join(dir, names[i]);
      st = sub ? add_pb_sample(out, sub, n_in) : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "oom");
      free(sub);
    }
    goto done;
  }
  char *probe = path_join(dir, "input_0.pb");
  bool have_pb = probe && exists(probe);
  free(probe);
  if (have_pb) {
    st = add_pb_sample(out, dir, n_in);
    goto done;
  }
  st = list_dir(dir, keep_npy, &names, &n);
  if (st) return st;
  if (!n) {
    st = SINTER_ERROR(SINTER_NOT_FOUND,
                      "%s: no test_data_set_*, input_0.pb or .npy files found", dir);
    goto done;
  }
  if (n_in != 1) {
    st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                      "%s: .npy data needs a single-input model; the models take %d inputs",
                      dir, (int)n_in);
    goto done;
  }
  *out_npy = true;
  int32_t model_rank = sinter_value_type(sinter_graph_input(g, 0))->rank;
  for (size_t i = 0; i < n && !st && (limit < 0 || out->count < limit); i++) {
    char *file = path_join(dir, names[i]);
    int64_t rows = 0;
    st = file ? npy_rows(file, model_rank, &rows) : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "oom");
    if (!st && static_batch && rows > 0 && rows % chunk != 0)
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: %lld rows do not fill whole batches of %lld (the models' static "
                        "batch size)", file, (long long)rows, (long long)chunk);
    if (!st && rows < 0) {
      char **files = malloc(sizeof(char *));
      if (files) files[0] = strdup(file);
      st = files && files[0] ? samples_push(out, files, 0, -1)
                             : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    }
    for (int64_t r = 0; !st && rows > 0 && r < rows && (limit < 0 || out->count < limit);
         r += chunk) {
      int64_t take = rows - r < chunk ? rows - r : chunk;
      if (limit >= 0 && !static_batch && take > limit - out->count) take = limit - out->count;
      char **files = malloc(sizeof(char *));
      if (files) files[0] = strdup(file);
      st = files && files[0] ? samples_push(out, files, r, take)
                             : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    }
    free(file);
  }
done:
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return st;
}

/* Loads the input tensors of sample s into in (n_in entries). */
static sinter_status_t load_sample(const sample_t *s, bool npy, int32_t n_in,
                                   sinter_tensor_t *in) {
  if (!npy) {
    for (int32_t k = 0; k < n_in; k++) SINTER_TRY(tool_read_tensor(s->files[k], &in[k], NULL));
    return NULL;
  }
  sinter_tensor_t t = {0};
  SINTER_TRY(sinter_npy_read_file(s->files[0], &t));
  if (s->rows < 0) { /* add the batch axis */
    if (t.rank >= SINTER_MAX_RANK) {
      sinter_tensor_free_data(&t);
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s: rank too large", s->files[0]);
    }
    memmove(t.dims + 1, t.dims, (size_t)t.rank * sizeof(int64_t));
    t.dims[0] = 1;
    t.rank++;
    in[0] = t;
    return NULL;
  }
  int64_t total = t.dims[0];
  size_t row_bytes = total ? t.nbytes / (size_t)total : 0;
  if (s->row0 == 0 && s->rows == total) {
    in[0] = t;
    return NULL;
  }
  void *data = malloc(row_bytes * (size_t)s->rows + 1);
  if (!data) {
    sinter_tensor_free_data(&t);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  memcpy(data, (char *)t.data + row_bytes * (size_t)s->row0, row_bytes * (size_t)s->rows);
  free(t.data);
  t.data = data;
  t.dims[0] = s->rows;
  t.nbytes = row_bytes * (size_t)s->rows;
  in[0] = t;
  return NULL;
}

/* ---- statistics ------------------------------------------------------------ */

/* Accumulated comparison of one graph output. */
typedef struct out_stat_s {
  const char *name;
  char shape[96];
  double max_abs, dot, ref_sq, cand_sq, noise;
  int64_t elements, nan_count;
  bool classifier;
  int64_t agree, rows;
} out_stat_t;

/* One intermediate tensor matched by name across the graphs. */
typedef struct layer_s {
  const char *ref_name;  /* value name in the reference (owned by its graph) */
  const char *cand_name; /* the matching value in the candidate */
  const char *node;      /* producing node in the reference ("" if unnamed) */
  const char *op;
  int32_t order;         /* position in the reference, for stable ties */
  int32_t priority;      /* 2: QDQ-renamed match, 1: exact name */
  double signal, noise;
  int64_t samples, shape_mismatch;
  /* The reference values of the current sample. */
  float *buf;
  int64_t numel;
  int32_t rank;
  int64_t dims[SINTER_MAX_RANK];
} layer_t;

typedef struct ctx_s {
  layer_t *layers;
  int32_t n_layers;
  strmap_t ref_map;  /* reference value name -> layer */
  strmap_t cand_map; /* candidate value name -> layer */
  bool failed_oom;
} ctx_t;

/* Suffixes that quantization tools give the DequantizeLinear output that
 * stands in for a float tensor x (ORT: x_DequantizeLinear_Output). */
static const char *const dq_suffixes[] = {"_DequantizeLinear_Output", "_dequantized",
                                          "_DequantizeLinear", "_dequant"};

/* Writes the reference name that cand_name stands for, or "" when it has no
 * QDQ suffix. */
static void strip_dq_suffix(const char *cand_name, char *out, size_t cap) {
  out[0] = 0;
  size_t n = strlen(cand_name);
  for (size_t i = 0; i < sizeof(dq_suffixes) / sizeof(dq_suffixes[0]); i++) {
    size_t m = strlen(dq_suffixes[i]);
    if (n > m && strcmp(cand_name + n - m, dq_suffixes[i]) == 0 && n - m < cap) {
      memcpy(out, cand_name, n - m);
      out[n - m] = 0;
      return;
    }
  }
}

static bool is_float_value(const sinter_value_t *v) {
  sinter_dtype_t dt = sinter_value_type(v)->dtype;
  /* An unknown dtype may still be float at run time; the observer checks. */
  return dt == SINTER_DTYPE_UNDEFINED || sinter_dtype_is_float(dt);
}

/* Builds the layer table: every float node output of the reference that some
 * candidate node output matches, by exact name or through a QDQ suffix (the
 * suffixed match wins: it is the quantized tensor). */
static sinter_status_t match_layers(const sinter_graph_t *ref, const sinter_graph_t *cand,
                                    ctx_t *c) {
  int64_t n_ref = 0, n_cand = 0;
  for (sinter_node_t *n = sinter_graph_first_node(ref); n; n = sinter_node_next(n))
    n_ref += sinter_node_num_outputs(n);
  for (sinter_node_t *n = sinter_graph_first_node(cand); n; n = sinter_node_next(n))
    n_cand += sinter_node_num_outputs(n);
  c->layers = calloc((size_t)n_ref + 1, sizeof(layer_t));
  if (!c->layers || !strmap_init(&c->ref_map, (size_t)n_ref) ||
      !strmap_init(&c->cand_map, (size_t)n_cand))
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  /* All reference float outputs are candidates for a row, in order. */
  strmap_t all;
  if (!strmap_init(&all, (size_t)n_ref)) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "oom");
  int32_t order = 0;
  for (sinter_node_t *n = sinter_graph_first_node(ref); n; n = sinter_node_next(n))
    for (int32_t i = 0; i < sinter_node_num_outputs(n); i++) {
      sinter_value_t *v = sinter_node_output(n, i);
      const char *nm = v ? sinter_value_name(v) : NULL;
      if (!nm || !*nm || !is_float_value(v) || strmap_get(&all, nm) >= 0) continue;
      layer_t *l = &c->layers[order];
      l->ref_name = nm;
      l->node = sinter_node_name(n) ? sinter_node_name(n) : "";
      l->op = sinter_op_info(sinter_node_op(n))->name;
      l->order = order;
      strmap_put(&all, nm, order++);
    }
  char key[1024];
  for (sinter_node_t *n = sinter_graph_first_node(cand); n; n = sinter_node_next(n))
    for (int32_t i = 0; i < sinter_node_num_outputs(n); i++) {
      sinter_value_t *v = sinter_node_output(n, i);
      const char *nm = v ? sinter_value_name(v) : NULL;
      if (!nm || !*nm || !is_float_value(v)) continue;
      strip_dq_suffix(nm, key, sizeof(key));
      int32_t prio = 2;
      int32_t idx = key[0] ? strmap_get(&all, key) : -1;
      if (idx < 0) {
        prio = 1;
        idx = strmap_get(&all, nm);
      }
      if (idx < 0 || c->layers[idx].priority >= prio) continue;
      c->layers[idx].priority = prio;
      c->layers[idx].cand_name = nm;
    }
  strmap_deinit(&all);
  /* Compact to the matched rows. */
  int32_t k = 0;
  for (int32_t i = 0; i < order; i++)
    if (c->layers[i].priority) c->layers[k++] = c->layers[i];
  c->n_layers = k;
  for (int32_t i = 0; i < k; i++) {
    strmap_put(&c->ref_map, c->layers[i].ref_name, i);
    strmap_put(&c->cand_map, c->layers[i].cand_name, i);
  }
  return NULL;
}

/* Reference observer: keeps a float copy of each matched tensor. */
static bool observe_ref(void *user, const sinter_node_t *node, const sinter_tensor_t *outs,
                        int32_t n_out) {
  ctx_t *c = user;
  for (int32_t i = 0; i < n_out; i++) {
    const sinter_value_t *v = sinter_node_output(node, i);
    const char *nm = v ? sinter_value_name(v) : NULL;
    int32_t idx = nm ? strmap_get(&c->ref_map, nm) : -1;
    if (idx < 0 || !sinter_dtype_is_float(outs[i].dtype)) continue;
    layer_t *l = &c->layers[idx];
    free(l->buf);
    l->buf = sinter_tensor_to_f32(&outs[i]);
    if (!l->buf && sinter_tensor_numel(&outs[i]) > 0) {
      c->failed_oom = true;
      return false;
    }
    l->numel = sinter_tensor_numel(&outs[i]);
    l->rank = outs[i].rank;
    memcpy(l->dims, outs[i].dims, sizeof(l->dims));
  }
  return true;
}

/* Candidate observer: accumulates signal and noise energy per matched tensor. */
static bool observe_cand(void *user, const sinter_node_t *node, const sinter_tensor_t *outs,
                         int32_t n_out) {
  ctx_t *c = user;
  for (int32_t i = 0; i < n_out; i++) {
    const sinter_value_t *v = sinter_node_output(node, i);
    const char *nm = v ? sinter_value_name(v) : NULL;
    int32_t idx = nm ? strmap_get(&c->cand_map, nm) : -1;
    if (idx < 0 || !sinter_dtype_is_float(outs[i].dtype)) continue;
    layer_t *l = &c->layers[idx];
    if (!l->buf && l->numel == 0) continue; /* not produced by the reference this time */
    bool same = outs[i].rank == l->rank;
    for (int32_t d = 0; same && d < l->rank; d++) same = outs[i].dims[d] == l->dims[d];
    if (!same) {
      l->shape_mismatch++;
      continue;
    }
    double sig = 0, noise = 0;
    for (int64_t k = 0; k < l->numel; k++) {
      double r = l->buf[k], e = r - sinter_load_f64(outs[i].data, outs[i].dtype, k);
      sig += r * r;
      noise += e * e;
    }
    l->signal += sig;
    l->noise += noise;
    l->samples++;
  }
  return true;
}

static void clear_sample(ctx_t *c) {
  for (int32_t i = 0; i < c->n_layers; i++) {
    free(c->layers[i].buf);
    c->layers[i].buf = NULL;
    c->layers[i].numel = 0;
  }
}

static double sqnr_db(double signal, double noise) {
  if (noise == 0) return INFINITY;
  return 10.0 * log10(signal / noise);
}

static double cosine(const out_stat_t *o) {
  if (o->ref_sq == 0 && o->cand_sq == 0) return 1.0;
  if (o->ref_sq == 0 || o->cand_sq == 0) return 0.0;
  return o->dot / sqrt(o->ref_sq * o->cand_sq);
}

static void compare_output(out_stat_t *o, const sinter_tensor_t *r, const sinter_tensor_t *c) {
  int64_t n = sinter_tensor_numel(r);
  for (int64_t i = 0; i < n; i++) {
    double a = sinter_load_f64(r->data, r->dtype, i), b = sinter_load_f64(c->data, c->dtype, i);
    if (isnan(a) || isnan(b)) {
      o->nan_count++;
      continue;
    }
    double e = fabs(a - b);
    if (e > o->max_abs) o->max_abs = e;
    o->dot += a * b;
    o->ref_sq += a * a;
    o->cand_sq += b * b;
    o->noise += (a - b) * (a - b);
  }
  o->elements += n;
  if (o->classifier && r->rank == 2) {
    int64_t rows = r->dims[0], cols = r->dims[1];
    for (int64_t i = 0; i < rows; i++) {
      int64_t ar = 0, ac = 0;
      for (int64_t j = 1; j < cols; j++) {
        if (sinter_load_f64(r->data, r->dtype, i * cols + j) >
            sinter_load_f64(r->data, r->dtype, i * cols + ar))
          ar = j;
        if (sinter_load_f64(c->data, c->dtype, i * cols + j) >
            sinter_load_f64(c->data, c->dtype, i * cols + ac))
          ac = j;
      }
      o->agree += ar == ac;
      o->rows++;
    }
  }
}

/* Worst SQNR first; matched tensors without data go last. */
static int cmp_layer(const void *a, const void *b) {
  const layer_t *x = a, *y = b;
  if ((x->samples > 0) != (y->samples > 0)) return x->samples > 0 ? -1 : 1;
  double sx = sqnr_db(x->signal, x->noise), sy = sqnr_db(y->signal, y->noise);
  if (isnan(sx) != isnan(sy)) return isnan(sx) ? -1 : 1;
  if (sx < sy) return -1;
  if (sx > sy) return 1;
  return x->order - y->order;
}

/* ---- reporting -------------------------------------------------------------- */

static void fmt_db(double v, char *buf, size_t cap) {
  if (isnan(v))
    snprintf(buf, cap, "nan");
  else if (isinf(v))
    snprintf(buf, cap, v > 0 ? "inf" : "-inf");
  else
    snprintf(buf, cap, "%.2f", v);
}

/* Non-finite numbers go to JSON as the strings "inf", "-inf", "nan". */
static json_t *json_num(double v) {
  if (isfinite(v)) return json_real(v);
  return json_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static void print_text(const out_stat_t *outs, int32_t n_out, const ctx_t *c, int64_t samples,
                       int64_t top) {
  printf("samples: %lld\n\noutputs:\n", (long long)samples);
  printf("  %-24s %-16s %12s %10s %10s %s\n", "name", "shape", "max_abs_err", "cosine",
         "sqnr_db", "top1_agree");
  for (int32_t i = 0; i < n_out; i++) {
    const out_stat_t *o = &outs[i];
    char db[32], top1[64] = "-";
    fmt_db(sqnr_db(o->ref_sq, o->noise), db, sizeof(db));
    if (o->classifier && o->rows)
      snprintf(top1, sizeof(top1), "%.4f (%lld/%lld)", (double)o->agree / (double)o->rows,
               (long long)o->agree, (long long)o->rows);
    printf("  %-24s %-16s %12.4g %10.6f %10s %s\n", o->name, o->shape, o->max_abs, cosine(o), db,
           top1);
    if (o->nan_count) printf("    (%lld NaN elements skipped)\n", (long long)o->nan_count);
  }
  int64_t shown = c->n_layers;
  if (top > 0 && top < shown) shown = top;
  printf("\nlayers: %d tensors matched by name, worst SQNR first%s\n", (int)c->n_layers,
         shown < c->n_layers ? " (use --top 0 for all)" : "");
  if (!c->n_layers) return;
  printf("  %10s  %-40s %s\n", "sqnr_db", "tensor", "node (op)");
  for (int64_t i = 0; i < shown; i++) {
    const layer_t *l = &c->layers[i];
    char db[32];
    if (l->samples)
      fmt_db(sqnr_db(l->signal, l->noise), db, sizeof(db));
    else
      snprintf(db, sizeof(db), "n/a");
    printf("  %10s  %-40s %s (%s)%s\n", db, l->ref_name, *l->node ? l->node : "<unnamed>", l->op,
           l->shape_mismatch ? "  [shape differs in some samples]" : "");
  }
}

static int print_json(const char *ref_path, const char *cand_path, const out_stat_t *outs,
                      int32_t n_out, const ctx_t *c, int64_t samples) {
  json_t *root = json_object(), *jo = json_array(), *jl = json_array();
  json_object_set_new(root, "reference", json_string(ref_path));
  json_object_set_new(root, "candidate", json_string(cand_path));
  json_object_set_new(root, "samples", json_integer(samples));
  for (int32_t i = 0; i < n_out; i++) {
    const out_stat_t *o = &outs[i];
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(o->name));
    json_object_set_new(e, "shape", json_string(o->shape));
    json_object_set_new(e, "elements", json_integer(o->elements));
    json_object_set_new(e, "max_abs_error", json_num(o->max_abs));
    json_object_set_new(e, "cosine", json_num(cosine(o)));
    json_object_set_new(e, "sqnr_db", json_num(sqnr_db(o->ref_sq, o->noise)));
    json_object_set_new(e, "nan_elements", json_integer(o->nan_count));
    json_object_set_new(e, "top1_agreement",
                        o->classifier && o->rows ? json_real((double)o->agree / (double)o->rows)
                                                 : json_null());
    json_array_append_new(jo, e);
  }
  for (int32_t i = 0; i < c->n_layers; i++) {
    const layer_t *l = &c->layers[i];
    json_t *e = json_object();
    json_object_set_new(e, "tensor", json_string(l->ref_name));
    json_object_set_new(e, "candidate_tensor", json_string(l->cand_name));
    json_object_set_new(e, "node", json_string(l->node));
    json_object_set_new(e, "op", json_string(l->op));
    json_object_set_new(e, "sqnr_db",
                        l->samples ? json_num(sqnr_db(l->signal, l->noise)) : json_null());
    json_object_set_new(e, "samples", json_integer(l->samples));
    json_object_set_new(e, "shape_mismatches", json_integer(l->shape_mismatch));
    json_array_append_new(jl, e);
  }
  json_object_set_new(root, "outputs", jo);
  json_object_set_new(root, "layers", jl);
  char *s = json_dumps(root, JSON_INDENT(2));
  json_decref(root);
  if (!s) return tool_fail(SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory"));
  printf("%s\n", s);
  free(s);
  return EXIT_OK;
}

/* A growable string for the HTML report. */
typedef struct sbuf_s {
  char *p;
  size_t len, cap;
  bool oom;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = true;
      return;
    }
    if (b->p && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + (size_t)n) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
}

/* Appends s escaped for HTML text and attribute values, at most max_chars
 * bytes of it (0: all), with an ellipsis when cut. */
static void sb_escape(sbuf_t *b, const char *s, size_t max_chars) {
  size_t n = strlen(s);
  bool cut = max_chars && n > max_chars;
  if (cut) {
    n = max_chars;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* keep UTF-8 whole */
  }
  for (size_t i = 0; i < n; i++) {
    switch (s[i]) {
    case '&': sb_printf(b, "&amp;"); break;
    case '<': sb_printf(b, "&lt;"); break;
    case '>': sb_printf(b, "&gt;"); break;
    case '"': sb_printf(b, "&quot;"); break;
    case '\'': sb_printf(b, "&#39;"); break;
    default: sb_printf(b, "%c", s[i]);
    }
  }
  if (cut) sb_printf(b, "&#8230;");
}

enum { ROW_H = 18, LABEL_W = 420, BAR_W = 520, VALUE_W = 70, TOP_H = 28, LABEL_CHARS = 60 };

static sinter_status_t write_html(const char *path, const char *ref_path, const char *cand_path,
                                  const out_stat_t *outs, int32_t n_out, const ctx_t *c,
                                  int64_t samples) {
  sbuf_t b = {0};
  sb_printf(&b,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
            "<title>sinter validate</title>\n"
            "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "td:first-child,th:first-child{text-align:left}"
            "svg text{font-family:monospace;font-size:12px}</style>\n</head><body>\n"
            "<h1>sinter validate</h1>\n<p>reference: <code>");
  sb_escape(&b, ref_path, 0);
  sb_printf(&b, "</code><br>candidate: <code>");
  sb_escape(&b, cand_path, 0);
  sb_printf(&b, "</code><br>samples: %lld</p>\n<h2>Outputs</h2>\n<table>\n"
                "<tr><th>output</th><th>shape</th><th>max abs error</th><th>cosine</th>"
                "<th>SQNR (dB)</th><th>top-1 agreement</th></tr>\n",
            (long long)samples);
  for (int32_t i = 0; i < n_out; i++) {
    const out_stat_t *o = &outs[i];
    char db[32];
    fmt_db(sqnr_db(o->ref_sq, o->noise), db, sizeof(db));
    sb_printf(&b, "<tr><td>");
    sb_escape(&b, o->name, 0);
    sb_printf(&b, "</td><td>");
    sb_escape(&b, o->shape, 0);
    sb_printf(&b, "</td><td>%.4g</td><td>%.6f</td><td>%s</td><td>", o->max_abs, cosine(o), db);
    if (o->classifier && o->rows)
      sb_printf(&b, "%.4f (%lld/%lld)", (double)o->agree / (double)o->rows, (long long)o->agree,
                (long long)o->rows);
    else
      sb_printf(&b, "-");
    sb_printf(&b, "</td></tr>\n");
  }
  sb_printf(&b, "</table>\n");

  /* The chart: one fixed-height row per layer, worst first; the SVG grows
   * downward, so 500 layers stay legible (scroll, not squeeze). */
  int32_t n = 0;
  double max_db = 0;
  for (int32_t i = 0; i < c->n_layers; i++) {
    if (!c->layers[i].samples) continue;
    n++;
    double v = sqnr_db(c->layers[i].signal, c->layers[i].noise);
    if (isfinite(v) && v > max_db) max_db = v;
  }
  double scale_max = max_db > 0 ? ceil(max_db / 10.0) * 10.0 : 10.0;
  int width = LABEL_W + BAR_W + VALUE_W, height = TOP_H + n * ROW_H + 8;
  sb_printf(&b,
            "<h2>Per-layer SQNR (%d tensors, worst first)</h2>\n"
            "<p>SQNR of each candidate tensor against the reference tensor of the same name, "
            "energies summed over all samples. Red below 20 dB, orange below 30 dB; "
            "&#8734; means identical.</p>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\">\n",
            (int)n, width, height, width, height);
  for (int t = 0; t <= 10; t++) {
    double x = LABEL_W + BAR_W * t / 10.0;
    sb_printf(&b,
              "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
              "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%g</text>\n",
              x, TOP_H - 6, x, height - 4, x, TOP_H - 10, scale_max * t / 10.0);
  }
  int32_t row = 0;
  for (int32_t i = 0; i < c->n_layers; i++) {
    const layer_t *l = &c->layers[i];
    if (!l->samples) continue;
    double v = sqnr_db(l->signal, l->noise);
    double frac = isnan(v) || v <= 0 ? 0 : isinf(v) ? 1 : v / scale_max;
    if (frac > 1) frac = 1;
    const char *color = !(v >= 20) ? "#d62728" : v < 30 ? "#ff7f0e" : "#2ca02c";
    int y = TOP_H + row * ROW_H;
    char db[32];
    fmt_db(v, db, sizeof(db));
    sb_printf(&b, "<g><title>");
    sb_escape(&b, l->ref_name, 0);
    sb_printf(&b, " | node ");
    sb_escape(&b, *l->node ? l->node : "<unnamed>", 0);
    sb_printf(&b, " (%s) | %s dB</title>", l->op, db);
    sb_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 6, y + ROW_H - 5);
    sb_escape(&b, l->ref_name, LABEL_CHARS);
    sb_printf(&b,
              "</text><rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
              "fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">%s</text></g>\n",
              LABEL_W, y + 2, BAR_W * frac, ROW_H - 4, color, LABEL_W + BAR_W * frac + 4,
              y + ROW_H - 5, isinf(v) && v > 0 ? "&#8734;" : db);
    row++;
  }
  sb_printf(&b, "</svg>\n<h2>Per-layer table</h2>\n<table>\n"
                "<tr><th>tensor</th><th>node</th><th>op</th><th>SQNR (dB)</th></tr>\n");
  for (int32_t i = 0; i < c->n_layers; i++) {
    const layer_t *l = &c->layers[i];
    char db[32] = "n/a";
    if (l->samples) fmt_db(sqnr_db(l->signal, l->noise), db, sizeof(db));
    sb_printf(&b, "<tr><td>");
    sb_escape(&b, l->ref_name, 0);
    sb_printf(&b, "</td><td>");
    sb_escape(&b, l->node, 0);
    sb_printf(&b, "</td><td>%s</td><td>%s</td></tr>\n", l->op, db);
  }
  sb_printf(&b, "</table>\n</body></html>\n");
  if (b.oom) {
    free(b.p);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory writing the HTML report");
  }
  sinter_status_t st = sinter_write_file_atomic(path, b.p, b.len);
  free(b.p);
  return st;
}

/* ---- the command -------------------------------------------------------------- */

/* Checks that both models take the same inputs (count, dtype, rank, static
 * dims where both are static). */
static sinter_status_t check_inputs(const char *rp, const sinter_graph_t *r, const char *cp,
                                    const sinter_graph_t *c) {
  int32_t n = sinter_graph_num_inputs(r);
  if (n != sinter_graph_num_inputs(c))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "inputs differ: %s takes %d, %s takes %d", rp,
                        (int)n, cp, (int)sinter_graph_num_inputs(c));
  for (int32_t i = 0; i < n; i++) {
    const sinter_type_t *a = sinter_value_type(sinter_graph_input(r, i));
    const sinter_type_t *b = sinter_value_type(sinter_graph_input(c, i));
    bool same = a->dtype == b->dtype && a->rank == b->rank;
    for (int32_t d = 0; same && d < a->rank; d++)
      if (a->dims[d].size >= 0 && b->dims[d].size >= 0) same = a->dims[d].size == b->dims[d].size;
    if (!same) {
      char x[128], y[128];
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input %d differs: %s in %s, %s in %s",
                          (int)i, sinter_type_format(a, x, sizeof(x)), rp,
                          sinter_type_format(b, y, sizeof(y)), cp);
    }
  }
  if (sinter_graph_num_outputs(r) != sinter_graph_num_outputs(c))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "outputs differ: %s has %d, %s has %d", rp,
                        (int)sinter_graph_num_outputs(r), cp, (int)sinter_graph_num_outputs(c));
  return NULL;
}

static bool parse_count(const char *s, int64_t *out) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < 0) return false;
  *out = v;
  return true;
}

int cmd_validate(int argc, char **argv) {
  const char *paths[2] = {NULL, NULL}, *data = NULL, *html = NULL;
  bool json = false;
  int64_t limit = -1, top = 20;
  int n_paths = 0;
  for (int i = 1; i < argc; i++) {
    if (tool_is_help(argv[i])) {
      usage(stdout);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--data") == 0) {
      if (++i >= argc) goto bad_usage;
      data = argv[i];
    } else if (strcmp(argv[i], "--html") == 0) {
      if (++i >= argc) goto bad_usage;
      html = argv[i];
    } else if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (strcmp(argv[i], "--limit") == 0 || strcmp(argv[i], "--top") == 0) {
      bool is_limit = argv[i][2] == 'l';
      if (++i >= argc || !parse_count(argv[i], is_limit ? &limit : &top)) {
        fprintf(stderr, "sinter validate: %s needs a count\n", argv[i - 1]);
        goto bad_usage;
      }
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "sinter validate: unknown option '%s'\n", argv[i]);
      goto bad_usage;
    } else if (n_paths < 2) {
      paths[n_paths++] = argv[i];
    } else {
      fprintf(stderr, "sinter validate: more than two models given\n");
      goto bad_usage;
    }
  }
  if (n_paths != 2 || !data) goto bad_usage;

  int rc = EXIT_OK;
  sinter_graph_t *g[2] = {NULL, NULL};
  sinter_interp_t *ip[2] = {NULL, NULL};
  sample_list_t samples = {0};
  bool npy = false;
  int32_t n_in = 0, n_out = 0;
  sinter_tensor_t *in = NULL, *ro = NULL, *co = NULL;
  out_stat_t *os = NULL;
  ctx_t c = {0};
  sinter_status_t st = NULL;
  for (int k = 0; k < 2 && !st; k++) st = tool_load_model(paths[k], &g[k]);
  if (st) goto fail;
  st = check_inputs(paths[0], g[0], paths[1], g[1]);
  if (st) goto fail;
  n_in = sinter_graph_num_inputs(g[0]);
  n_out = sinter_graph_num_outputs(g[0]);
  /* A static batch dim fixes the rows per run; a dynamic one takes up to 16. */
  int64_t chunk = 16;
  bool static_batch = false;
  if (n_in == 1) {
    const sinter_type_t *t = sinter_value_type(sinter_graph_input(g[0], 0));
    if (t->rank > 0 && t->dims[0].size > 0) {
      chunk = t->dims[0].size;
      static_batch = true;
    }
  }
  st = collect_samples(data, g[0], limit, chunk, static_batch, &samples, &npy);
  if (st) goto fail;
  if (!samples.len) {
    st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s: no samples to run", data);
    goto fail;
  }
  in = calloc((size_t)n_in + 1, sizeof(*in));
  ro = calloc((size_t)n_out + 1, sizeof(*ro));
  co = calloc((size_t)n_out + 1, sizeof(*co));
  os = calloc((size_t)n_out + 1, sizeof(*os));
  if (!in || !ro || !co || !os) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    goto fail;
  }
  for (int32_t i = 0; i < n_out; i++) {
    const sinter_value_t *v = sinter_graph_output(g[0], i);
    const sinter_type_t *t = sinter_value_type(v);
    os[i].name = sinter_value_name(v);
    sinter_type_format(t, os[i].shape, sizeof(os[i].shape));
    os[i].classifier = t->rank == 2 && (t->dims[1].size > 1 || t->dims[1].size < 0);
  }
  st = match_layers(g[0], g[1], &c);
  if (st) goto fail;
  for (int k = 0; k < 2 && !st; k++) st = sinter_interp_create(g[k], &ip[k]);
  if (st) goto fail;
  sinter_interp_set_observer(ip[0], observe_ref, &c);
  sinter_interp_set_observer(ip[1], observe_cand, &c);
  for (size_t s = 0; s < samples.len; s++) {
    st = load_sample(&samples.items[s], npy, n_in, in);
    if (!st) st = sinter_interp_run(ip[0], in, n_in, ro);
    if (st && c.failed_oom) st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    if (st) st = sinter_status_annotate(st, "%s", paths[0]);
    if (!st) {
      st = sinter_interp_run(ip[1], in, n_in, co);
      if (st) st = sinter_status_annotate(st, "%s", paths[1]);
    }
    for (int32_t i = 0; !st && i < n_out; i++) {
      bool same = ro[i].rank == co[i].rank;
      for (int32_t d = 0; same && d < ro[i].rank; d++) same = ro[i].dims[d] == co[i].dims[d];
      if (!same) {
        char a[128], b[128];
        sinter_type_t ta, tb;
        sinter_type_set_static(&ta, ro[i].dtype, ro[i].rank, ro[i].dims);
        sinter_type_set_static(&tb, co[i].dtype, co[i].rank, co[i].dims);
        st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "output %d ('%s'): shape %s vs %s",
                          (int)i, os[i].name, sinter_type_format(&ta, a, sizeof(a)),
                          sinter_type_format(&tb, b, sizeof(b)));
        break;
      }
      os[i].classifier = os[i].classifier && ro[i].rank == 2 && ro[i].dims[1] > 1;
      compare_output(&os[i], &ro[i], &co[i]);
    }
    clear_sample(&c);
    for (int32_t i = 0; i < n_in; i++) sinter_tensor_free_data(&in[i]);
    for (int32_t i = 0; i < n_out; i++) {
      sinter_tensor_free_data(&ro[i]);
      sinter_tensor_free_data(&co[i]);
    }
    if (st) {
      st = sinter_status_annotate(st, "sample %zu", s);
      goto fail;
    }
  }
  qsort(c.layers, (size_t)c.n_layers, sizeof(layer_t), cmp_layer);
  if (json)
    rc = print_json(paths[0], paths[1], os, n_out, &c, samples.count);
  else
    print_text(os, n_out, &c, samples.count, top);
  if (html) {
    st = write_html(html, paths[0], paths[1], os, n_out, &c, samples.count);
    if (st) goto fail;
    if (!json) printf("\nwrote %s\n", html);
  }
  goto done;
fail:
  rc = tool_fail(st);
done:
  clear_sample(&c);
  free(c.layers);
  strmap_deinit(&c.ref_map);
  strmap_deinit(&c.cand_map);
  free(in);
  free(ro);
  free(co);
  free(os);
  samples_free(&samples, npy ? 1 : n_in);
  for (int k = 0; k < 2; k++) {
    sinter_interp_destroy(ip[k]);
    sinter_graph_destroy(g[k]);
  }
  return rc;
bad_usage:
  usage(stderr);
  return EXIT_USAGE;
}
