/* Calibration statistics: creation for a graph, exact accumulation into a
 * fixed log-grid histogram, merging, the graph hash, the binary cache file,
 * and collection by running the reference interpreter over a sample set. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ir/interp/kernels.h"
#include "ir/ir_impl.h"
#include "passes/calib_internal.h"
#include "sinter/tensor_io.h"

/* ---- creation and accessors ---------------------------------------------- */

static bool tracked_dtype(sinter_dtype_t d) {
  return d == SINTER_DTYPE_F32 || d == SINTER_DTYPE_F16 || d == SINTER_DTYPE_BF16 ||
         d == SINTER_DTYPE_F64;
}

static sinter_status_t add_value(sinter_calib_stats_t *s, const sinter_value_t *v) {
  if (!tracked_dtype(v->type.dtype)) return NULL;
  if (v->id >= s->n_ids)
    return SINTER_ERROR(SINTER_INTERNAL, "value id %u beyond the graph's %u", v->id, s->n_ids);
  if (s->index_of_id[v->id] >= 0) return NULL; /* already tracked */
  calib_value_t *cv = &s->values[s->n_values];
  char tmp[32];
  const char *name = v->name;
  if (!name || !name[0]) {
    snprintf(tmp, sizeof(tmp), "%%%u", v->id);
    name = tmp;
  }
  cv->name = strdup(name);
  cv->pos = calloc(CALIB_NB, sizeof(uint64_t));
  cv->neg = calloc(CALIB_NB, sizeof(uint64_t));
  if (!cv->name || !cv->pos || !cv->neg) {
    free(cv->name);
    free(cv->pos);
    free(cv->neg);
    memset(cv, 0, sizeof(*cv));
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory for calibration histograms");
  }
  cv->id = v->id;
  s->index_of_id[v->id] = s->n_values++;
  return NULL;
}

sinter_status_t sinter_calib_stats_create(const sinter_graph_t *graph,
                                          sinter_calib_stats_t **out_stats) {
  *out_stats = NULL;
  sinter_calib_stats_t *s = calloc(1, sizeof(*s));
  if (!s) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  sinter_status_t st = sinter_calib_graph_hash(graph, &s->graph_hash);
  if (st) {
    free(s);
    return st;
  }
  s->n_ids = graph->next_value_id;
  int64_t cap = (int64_t)graph->n_inputs;
  for (const sinter_node_t *n = graph->first; n; n = n->next) cap += n->n_outputs;
  s->index_of_id = malloc((s->n_ids ? s->n_ids : 1) * sizeof(int32_t));
  s->values = calloc(cap ? (size_t)cap : 1, sizeof(calib_value_t));
  if (!s->index_of_id || !s->values) {
    sinter_calib_stats_destroy(s);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  for (uint32_t i = 0; i < s->n_ids; i++) s->index_of_id[i] = -1;
  for (int32_t i = 0; i < graph->n_inputs && !st; i++) st = add_value(s, graph->inputs[i]);
  for (const sinter_node_t *n = graph->first; n && !st; n = n->next)
    for (int32_t k = 0; k < n->n_outputs && !st; k++) st = add_value(s, n->outputs[k]);
  if (st) {
    sinter_calib_stats_destroy(s);
    return st;
  }
  *out_stats = s;
  return NULL;
}

void sinter_calib_stats_destroy(sinter_calib_stats_t *s) {
  if (!s) return;
  for (int32_t i = 0; i < s->n_values; i++) {
    free(s->values[i].name);
    free(s->values[i].pos);
    free(s->values[i].neg);
  }
  free(s->values);
  free(s->index_of_id);
  free(s);
}

uint64_t sinter_calib_stats_graph_hash(const sinter_calib_stats_t *s) { return s->graph_hash; }
uint64_t sinter_calib_stats_num_samples(const sinter_calib_stats_t *s) { return s->samples; }
int32_t sinter_calib_stats_num_values(const sinter_calib_stats_t *s) { return s->n_values; }

const char *sinter_calib_stats_value_name(const sinter_calib_stats_t *s, int32_t index) {
  return index >= 0 && index < s->n_values ? s->values[index].name : NULL;
}

int32_t sinter_calib_stats_find(const sinter_calib_stats_t *s, const char *name) {
  for (int32_t i = 0; i < s->n_values; i++)
    if (strcmp(s->values[i].name, name) == 0) return i;
  return -1;
}

sinter_status_t sinter_calib_stats_summary(const sinter_calib_stats_t *s, int32_t index,
                                           sinter_calib_summary_t *out) {
  if (index < 0 || index >= s->n_values)
    return SINTER_ERROR(SINTER_OUT_OF_RANGE, "calibration value index %d of %d", index,
                        s->n_values);
  const calib_value_t *v = &s->values[index];
  memset(out, 0, sizeof(*out));
  out->min = v->min;
  out->max = v->max;
  out->count = v->count;
  out->zeros = v->zeros;
  for (int32_t i = 0; i < CALIB_NB; i++) {
    out->positives += v->pos[i];
    out->negatives += v->neg[i];
  }
  return NULL;
}

const uint64_t *sinter_calib_stats_histogram(const sinter_calib_stats_t *s, int32_t index,
                                             const uint64_t **out_neg) {
  if (index < 0 || index >= s->n_values) {
    if (out_neg) *out_neg = NULL;
    return NULL;
  }
  if (out_neg) *out_neg = s->values[index].neg;
  return s->values[index].pos;
}

static double float_of_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof(f));
  return f;
}

void sinter_calib_bin_bounds(int32_t bin, double *out_lo, double *out_hi) {
  if (bin < 0) bin = 0;
  if (bin >= CALIB_NB) bin = CALIB_NB - 1;
  *out_lo = float_of_bits((uint32_t)bin << 17);
  /* The top bin ends at the largest finite float, not at the Inf pattern. */
  *out_hi = bin == CALIB_NB - 1 ? FLT_MAX : float_of_bits((uint32_t)(bin + 1) << 17);
}

/* ---- accumulation -------------------------------------------------------- */

/* Folds n finite floats into v. Zeros of either sign count as +0 so that
 * min/max do not depend on the order elements arrive in. */
static void accumulate(calib_value_t *v, const float *x, int64_t n) {
  float mn = v->count ? v->min : INFINITY, mx = v->count ? v->max : -INFINITY;
  uint64_t zeros = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, &x[i], sizeof(b));
    uint32_t mag = b & 0x7fffffffu;
    float xv = x[i];
    if (mag == 0) {
      zeros++;
      xv = 0.0f;
    } else if (b >> 31) {
      v->neg[mag >> 17]++;
    } else {
      v->pos[mag >> 17]++;
    }
    if (xv < mn) mn = xv;
    if (xv > mx) mx = xv;
  }
  if (n > 0) {
    v->min = mn;
    v->max = mx;
  }
  v->zeros += zeros;
  v->count += (uint64_t)n;
}

/* Converts elements [off, off+n) of t to f32 in buf. */
static void to_f32(const sinter_tensor_t *t, int64_t off, int64_t n, float *buf) {
  switch (t->dtype) {
    case SINTER_DTYPE_F16:
      for (int64_t i = 0; i < n; i++)
        buf[i] = sinter_f16_to_f32(((const uint16_t *)t->data)[off + i]);
      break;
    case SINTER_DTYPE_BF16:
      for (int64_t i = 0; i < n; i++)
        buf[i] = sinter_bf16_to_f32(((const uint16_t *)t->data)[off + i]);
      break;
    case SINTER_DTYPE_F64:
      for (int64_t i = 0; i < n; i++) buf[i] = (float)((const double *)t->data)[off + i];
      break;
    default: memcpy(buf, (const float *)t->data + off, (size_t)n * sizeof(float)); break;
  }
}

enum { CHUNK = 4096 };

sinter_status_t sinter_calib_stats_add_tensor(sinter_calib_stats_t *s, int32_t index,
                                              const sinter_tensor_t *t) {
  if (index < 0 || index >= s->n_values)
    return SINTER_ERROR(SINTER_OUT_OF_RANGE, "calibration value index %d of %d", index,
                        s->n_values);
  calib_value_t *v = &s->values[index];
  if (!tracked_dtype(t->dtype))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "value '%s': calibration data of dtype %s, "
                        "expected a float type", v->name, sinter_dtype_name(t->dtype));
  int64_t n = sinter_tensor_numel(t);
  size_t need;
  if (n < 0 || !sinter_dtype_storage_size(t->dtype, n, &need) || t->nbytes < need ||
      (n > 0 && !t->data))
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "value '%s': tensor data is shorter than its shape", v->name);
  float buf[CHUNK];
  /* Check everything first so that a bad tensor leaves the statistics as they were. */
  for (int64_t off = 0; off < n; off += CHUNK) {
    int64_t m = n - off < CHUNK ? n - off : CHUNK;
    to_f32(t, off, m, buf);
    for (int64_t i = 0; i < m; i++) {
      if (!isfinite(buf[i]))
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                            "value '%s': calibration data holds %s at element %lld", v->name,
                            isnan(buf[i]) ? "NaN" : "Inf", (long long)(off + i));
    }
  }
  if (t->dtype == SINTER_DTYPE_F32) {
    accumulate(v, (const float *)t->data, n);
    return NULL;
  }
  for (int64_t off = 0; off < n; off += CHUNK) {
    int64_t m = n - off < CHUNK ? n - off : CHUNK;
    to_f32(t, off, m, buf);
    accumulate(v, buf, m);
  }
  return NULL;
}

/* ---- merge and equality -------------------------------------------------- */

sinter_status_t sinter_calib_stats_merge(sinter_calib_stats_t *dst,
                                         const sinter_calib_stats_t *src) {
  if (dst->graph_hash != src->graph_hash || dst->n_values != src->n_values)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "cannot merge calibration statistics of different graphs "
                        "(hash %016llx with %016llx)",
                        (unsigned long long)dst->graph_hash, (unsigned long long)src->graph_hash);
  for (int32_t i = 0; i < dst->n_values; i++)
    if (strcmp(dst->values[i].name, src->values[i].name) != 0)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                          "cannot merge calibration statistics: value %d is '%s' in one, '%s' "
                          "in the other", i, dst->values[i].name, src->values[i].name);
  for (int32_t i = 0; i < dst->n_values; i++) {
    calib_value_t *d = &dst->values[i];
    const calib_value_t *s = &src->values[i];
    if (s->count == 0) continue;
    if (d->count == 0) {
      d->min = s->min;
      d->max = s->max;
    } else {
      if (s->min < d->min) d->min = s->min;
      if (s->max > d->max) d->max = s->max;
    }
    d->count += s->count;
    d->zeros += s->zeros;
    for (int32_t b = 0; b < CALIB_NB; b++) {
      d->pos[b] += s->pos[b];
      d->neg[b] += s->neg[b];
    }
  }
  dst->samples += src->samples;
  return NULL;
}

bool sinter_calib_stats_equal(const sinter_calib_stats_t *a, const sinter_calib_stats_t *b) {
  if (a->graph_hash != b->graph_hash || a->n_values != b->n_values || a->samples != b->samples)
    return false;
  for (int32_t i = 0; i < a->n_values; i++) {
    const calib_value_t *x = &a->values[i], *y = &b->values[i];
    if (strcmp(x->name, y->name) != 0 || x->count != y->count || x->zeros != y->zeros) return false;
    if (x->count && (memcmp(&x->min, &y->min, sizeof(float)) != 0 ||
                     memcmp(&x->max, &y->max, sizeof(float)) != 0))
      return false;
    if (memcmp(x->pos, y->pos, CALIB_NB * sizeof(uint64_t)) != 0 ||
        memcmp(x->neg, y->neg, CALIB_NB * sizeof(uint64_t)) != 0)
      return false;
  }
  return true;
}

/* ---- graph hash ---------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= FNV_PRIME;
  }
  return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t x) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(x >> (8 * i));
  return fnv(h, b, 8);
}

static uint64_t hash_graph_attrs(uint64_t h, const sinter_graph_t *g) {
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t a = 0; a < n->n_attrs; a++) {
      const sinter_attr_t *at = &n->attrs[a];
      if (at->kind == SINTER_ATTR_TENSOR || at->kind == SINTER_ATTR_TENSORS)
        for (int64_t k = 0; k < at->count; k++) {
          h = fnv_u64(h, at->tensors[k].nbytes);
          if (at->tensors[k].data) h = fnv(h, at->tensors[k].data, at->tensors[k].nbytes);
        }
      if (at->kind == SINTER_ATTR_GRAPH || at->kind == SINTER_ATTR_GRAPHS)
        for (int64_t k = 0; k < at->count; k++) h = hash_graph_attrs(h, at->graphs[k]);
    }
  return h;
}

sinter_status_t sinter_calib_graph_hash(const sinter_graph_t *graph, uint64_t *out_hash) {
  char *text = NULL;
  size_t len = 0;
  /* Elided text keeps the hash quick for large models; the bytes follow. */
  SINTER_RETURN_IF_ERROR(sinter_graph_print_to_string(graph, true, &text, &len),
                         "while hashing graph '%s' for calibration", graph->name);
  uint64_t h = fnv(FNV_OFFSET, text, len);
  free(text);
  for (const sinter_value_t *c = graph->first_const; c; c = c->next_const) {
    h = fnv(h, c->name, strlen(c->name) + 1);
    h = fnv_u64(h, c->nbytes);
    if (c->data) h = fnv(h, c->data, c->nbytes);
  }
  *out_hash = hash_graph_attrs(h, graph);
  return NULL;
}

/* ---- cache file ---------------------------------------------------------- */

static const char CACHE_MAGIC[8] = {'S', 'N', 'T', 'C', 'A', 'L', 'I', 'B'};
enum { CACHE_VERSION = 1 };

typedef struct buf_s {
  unsigned char *p;
  size_t len, cap;
  bool oom;
} buf_t;

static void put(buf_t *b, const void *data, size_t n) {
  if (b->oom) return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static void put_u32(buf_t *b, uint32_t x) {
  unsigned char c[4];
  for (int i = 0; i < 4; i++) c[i] = (unsigned char)(x >> (8 * i));
  put(b, c, 4);
}

static void put_u64(buf_t *b, uint64_t x) {
  unsigned char c[8];
  for (int i = 0; i < 8; i++) c[i] = (unsigned char)(x >> (8 * i));
  put(b, c, 8);
}

static void put_f32(buf_t *b, float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  put_u32(b, x);
}

static void put_bins(buf_t *b, const uint64_t *bins) {
  uint32_t nz = 0;
  for (int32_t i = 0; i < CALIB_NB; i++) nz += bins[i] != 0;
  put_u32(b, nz);
  for (int32_t i = 0; i < CALIB_NB; i++)
    if (bins[i]) {
      put_u32(b, (uint32_t)i);
      put_u64(b, bins[i]);
    }
}

sinter_status_t sinter_calib_stats_save(const sinter_calib_stats_t *s, const char *path) {
  buf_t b = {0};
  put(&b, CACHE_MAGIC, 8);
  put_u32(&b, CACHE_VERSION);
  put_u32(&b, CALIB_NB);
  put_u64(&b, s->graph_hash);
  put_u64(&b, s->samples);
  put_u32(&b, (uint32_t)s->n_values);
  for (int32_t i = 0; i < s->n_values; i++) {
    const calib_value_t *v = &s->values[i];
    uint32_t nl = (uint32_t)strlen(v->name);
    put_u32(&b, nl);
    put(&b, v->name, nl);
    put_f32(&b, v->count ? v->min : 0.0f);
    put_f32(&b, v->count ? v->max : 0.0f);
    put_u64(&b, v->count);
    put_u64(&b, v->zeros);
    put_bins(&b, v->pos);
    put_bins(&b, v->neg);
  }
  if (!b.oom) put_u64(&b, fnv(FNV_OFFSET, b.p, b.len));
  if (b.oom) {
    free(b.p);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "%s: out of memory writing calibration cache", path);
  }
  sinter_status_t st = sinter_write_file_atomic(path, b.p, b.len);
  free(b.p);
  return sinter_status_annotate(st, "%s: writing calibration cache", path);
}

typedef struct rd_s {
  const unsigned char *p;
  size_t len, off;
} rd_t;

static bool get(rd_t *r, void *out, size_t n) {
  if (r->len - r->off < n) return false;
  memcpy(out, r->p + r->off, n);
  r->off += n;
  return true;
}

static bool get_u32(rd_t *r, uint32_t *x) {
  unsigned char c[4];
  if (!get(r, c, 4)) return false;
  *x = 0;
  for (int i = 0; i < 4; i++) *x |= (uint32_t)c[i] << (8 * i);
  return true;
}

static bool get_u64(rd_t *r, uint64_t *x) {
  unsigned char c[8];
  if (!get(r, c, 8)) return false;
  *x = 0;
  for (int i = 0; i < 8; i++) *x |= (uint64_t)c[i] << (8 * i);
  return true;
}

static bool get_f32(rd_t *r, float *f) {
  uint32_t x;
  if (!get_u32(r, &x)) return false;
  memcpy(f, &x, 4);
  return true;
}

static bool get_bins(rd_t *r, uint64_t *bins) {
  uint32_t nz;
  if (!get_u32(r, &nz) || nz > CALIB_NB) return false;
  int64_t last = -1;
  for (uint32_t k = 0; k < nz; k++) {
    uint32_t i;
    uint64_t n;
    if (!get_u32(r, &i) || !get_u64(r, &n)) return false;
    if (i >= CALIB_NB || (int64_t)i <= last || n == 0) return false;
    bins[i] = n;
    last = i;
  }
  return true;
}

static sinter_status_t parse_cache(const char *path, const unsigned char *data, size_t len,
                                   sinter_calib_stats_t *s) {
#define BAD(what) \
  SINTER_ERROR(SINTER_INVALID_MODEL, "%s: corrupt calibration cache: %s", path, what)
  if (len < 8 + 4 + 4 + 8 + 8 + 4 + 8 || memcmp(data, CACHE_MAGIC, 8) != 0)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: not a Sinter calibration cache", path);
  rd_t r = {data, len - 8, 8};
  uint64_t sum = 0;
  for (int i = 0; i < 8; i++) sum |= (uint64_t)data[len - 8 + i] << (8 * i);
  uint32_t version, nb, nv;
  uint64_t hash, samples;
  get_u32(&r, &version);
  if (version != CACHE_VERSION)
    return SINTER_ERROR(SINTER_INVALID_MODEL,
                        "%s: calibration cache version %u, this build reads version %d", path,
                        version, CACHE_VERSION);
  if (sum != fnv(FNV_OFFSET, data, len - 8)) return BAD("checksum mismatch (truncated or edited)");
  get_u32(&r, &nb);
  get_u64(&r, &hash);
  get_u64(&r, &samples);
  get_u32(&r, &nv);
  if (nb != CALIB_NB) return BAD("unexpected histogram size");
  if (hash != s->graph_hash)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: calibration cache was made for a different graph (hash %016llx; "
                        "this graph hashes to %016llx): recalibrate or use the matching model",
                        path, (unsigned long long)hash, (unsigned long long)s->graph_hash);
  if (nv != (uint32_t)s->n_values)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s: calibration cache holds %u values, the graph has %d", path, nv,
                        s->n_values);
  s->samples = samples;
  for (int32_t i = 0; i < s->n_values; i++) {
    calib_value_t *v = &s->values[i];
    uint32_t nl;
    if (!get_u32(&r, &nl) || nl > r.len - r.off) return BAD("truncated value name");
    if (nl != strlen(v->name) || memcmp(r.p + r.off, v->name, nl) != 0)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                          "%s: calibration cache value %d is '%.*s', the graph's is '%s'", path, i,
                          (int)(nl > 200 ? 200 : nl), (const char *)r.p + r.off, v->name);
    r.off += nl;
    if (!get_f32(&r, &v->min) || !get_f32(&r, &v->max) || !get_u64(&r, &v->count) ||
        !get_u64(&r, &v->zeros) || !get_bins(&r, v->pos) || !get_bins(&r, v->neg))
      return BAD("truncated value record");
    uint64_t tot = v->zeros;
    for (int32_t b = 0; b < CALIB_NB; b++) tot += v->pos[b] + v->neg[b];
    if (tot != v->count || (v->count && !(v->min <= v->max)))
      return BAD("inconsistent counts");
  }
  if (r.off != r.len) return BAD("trailing bytes");
  return NULL;
#undef BAD
}

sinter_status_t sinter_calib_stats_load(const sinter_graph_t *graph, const char *path,
                                        sinter_calib_stats_t **out_stats) {
  *out_stats = NULL;
  void *data = NULL;
  size_t len = 0;
  SINTER_TRY(sinter_read_file(path, &data, &len));
  sinter_calib_stats_t *s = NULL;
  sinter_status_t st = sinter_calib_stats_create(graph, &s);
  if (!st) st = parse_cache(path, data, len, s);
  free(data);
  if (st) {
    sinter_calib_stats_destroy(s);
    return st;
  }
  *out_stats = s;
  return NULL;
}

/* ---- collection ---------------------------------------------------------- */

typedef struct observe_ctx_s {
  sinter_calib_stats_t *stats;
  sinter_status_t st;
} observe_ctx_t;

static bool observer(void *user, const sinter_node_t *node, const sinter_tensor_t *outputs,
                     int32_t n_outputs) {
  observe_ctx_t *c = user;
  for (int32_t k = 0; k < n_outputs && k < node->n_outputs; k++) {
    uint32_t id = node->outputs[k]->id;
    if (id >= c->stats->n_ids || c->stats->index_of_id[id] < 0) continue;
    if (!tracked_dtype(outputs[k].dtype)) continue;
    sinter_status_t st = sinter_calib_stats_add_tensor(c->stats, c->stats->index_of_id[id],
                                                       &outputs[k]);
    if (st) {
      char desc[256];
      c->st = sinter_status_annotate(st, "%s", sinter_ir_node_desc(node, desc, sizeof(desc)));
      return false;
    }
  }
  return true;
}

sinter_status_t sinter_calib_observe(sinter_calib_stats_t *stats, const sinter_graph_t *graph,
                                     const sinter_tensor_t *inputs, int32_t n_inputs) {
  if (graph->next_value_id != stats->n_ids)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "calibration statistics were made for another graph than '%s'",
                        graph->name);
  for (int32_t i = 0; i < graph->n_inputs && i < n_inputs; i++) {
    uint32_t id = graph->inputs[i]->id;
    if (stats->index_of_id[id] < 0 || !tracked_dtype(inputs[i].dtype)) continue;
    SINTER_RETURN_IF_ERROR(sinter_calib_stats_add_tensor(stats, stats->index_of_id[id], &inputs[i]),
                           "graph input %d", i);
  }
  sinter_interp_t *ip = NULL;
  SINTER_TRY(sinter_interp_create(graph, &ip));
  observe_ctx_t ctx = {stats, NULL};
  sinter_interp_set_observer(ip, observer, &ctx);
  int32_t n_out = graph->n_outputs;
  sinter_tensor_t *outs = calloc(n_out ? (size_t)n_out : 1, sizeof(sinter_tensor_t));
  if (!outs) {
    sinter_interp_destroy(ip);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  sinter_status_t st = sinter_interp_run(ip, inputs, n_inputs, outs);
  if (ctx.st) {
    /* The observer's own error says more than "stopped by the observer". */
    sinter_status_free(st);
    st = ctx.st;
  }
  if (!st)
    for (int32_t i = 0; i < n_out; i++) sinter_tensor_free_data(&outs[i]);
  free(outs);
  sinter_interp_destroy(ip);
  if (!st) stats->samples++;
  return st;
}

static void draw_bar(int64_t done, int64_t total, double elapsed) {
  enum { W = 30 };
  int fill = total > 0 ? (int)(done * W / total) : W;
  char bar[W + 1];
  for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
  bar[W] = 0;
  fprintf(stderr, "\rcalibrating [%s] %lld/%lld  %.1fs", bar, (long long)done, (long long)total,
          elapsed);
  if (done == total) fputc('\n', stderr);
  fflush(stderr);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

sinter_status_t sinter_calib_collect(const sinter_graph_t *graph, sinter_calib_samples_t *samples,
                                     const sinter_calib_collect_options_t *opts,
                                     sinter_calib_stats_t *stats) {
  sinter_calib_collect_options_t dflt = {0};
  if (!opts) opts = &dflt;
  uint64_t h;
  SINTER_TRY(sinter_calib_graph_hash(graph, &h));
  if (h != stats->graph_hash || graph->next_value_id != stats->n_ids)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "calibration statistics were made for another graph than '%s'",
                        graph->name);
  int64_t total = sinter_calib_samples_count(samples);
  if (opts->max_samples > 0 && opts->max_samples < total) total = opts->max_samples;
  bool bar = !opts->progress && !opts->no_progress_bar && isatty(STDERR_FILENO);
  int32_t n_in = graph->n_inputs;
  sinter_tensor_t *in = calloc(n_in ? (size_t)n_in : 1, sizeof(sinter_tensor_t));
  if (!in) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  double t0 = now_s();
  sinter_status_t st = NULL;
  for (int64_t i = 0; i < total && !st; i++) {
    st = sinter_calib_samples_read(samples, i, in);
    if (st) break;
    st = sinter_calib_observe(stats, graph, in, n_in);
    for (int32_t k = 0; k < n_in; k++) sinter_tensor_free_data(&in[k]);
    if (st) {
      char desc[512];
      st = sinter_status_annotate(st, "calibration sample %lld (%s)", (long long)i,
                                  sinter_calib_samples_describe(samples, i, desc, sizeof(desc)));
      break;
    }
    if (opts->progress) opts->progress(opts->progress_user, i + 1, total);
    if (bar) draw_bar(i + 1, total, now_s() - t0);
  }
  if (st && bar) fputc('\n', stderr);
  free(in);
  return st;
}
