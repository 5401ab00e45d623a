/* The ONNX reader: checks and unpacks a ModelProto, then builds a Sinter
 * graph from it (initializers, inputs, topologically sorted nodes rewritten
 * into the newest-opset form, outputs) and runs shape inference. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontends/onnx/onnx_import.h"
#include "ir/interp/kernels.h"

#define OOM() SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory")

static const char *str_or_empty(const char *s) {
  return s ? s : "";
}

/* ---- name map ----------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static name_entry_t *map_find(const name_map_t *m, const char *key) {
  if (!m->cap) return NULL;
  size_t mask = m->cap - 1;
  for (size_t i = (size_t)hash_str(key) & mask;; i = (i + 1) & mask) {
    name_entry_t *e = &m->slots[i];
    if (!e->key) return NULL;
    if (strcmp(e->key, key) == 0) return e;
  }
}

static bool map_grow(name_map_t *m, size_t need) {
  if (need * 2 < m->cap) return true;
  size_t ncap = m->cap ? m->cap : 64;
  while (need * 2 >= ncap) {
    if (ncap > SIZE_MAX / 4 / sizeof(name_entry_t)) return false;
    ncap *= 2;
  }
  name_entry_t *slots = calloc(ncap, sizeof(*slots));
  if (!slots) return false;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].key) continue;
    size_t j = (size_t)hash_str(m->slots[i].key) & (ncap - 1);
    while (slots[j].key) j = (j + 1) & (ncap - 1);
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->cap = ncap;
  return true;
}

/* Inserts key; *out_existed tells whether it was already there. */
static sinter_status_t map_insert(name_map_t *m, const char *key, name_entry_t **out,
                                  bool *out_existed) {
  name_entry_t *e = map_find(m, key);
  if (e) {
    *out = e;
    *out_existed = true;
    return NULL;
  }
  if (!map_grow(m, m->count + 1)) return OOM();
  size_t mask = m->cap - 1;
  size_t i = (size_t)hash_str(key) & mask;
  while (m->slots[i].key) i = (i + 1) & mask;
  e = &m->slots[i];
  e->key = key;
  e->value = NULL;
  e->producer = -1;
  e->vinfo = NULL;
  m->count++;
  *out = e;
  *out_existed = false;
  return NULL;
}

/* Returns a name based on stem that no model name and no generated name
 * uses, and reserves it. */
static sinter_status_t unique_name(import_ctx_t *ctx, const char *stem, name_entry_t **out) {
  size_t len = strlen(stem);
  char *buf = sinter_arena_alloc(&ctx->scratch, len + 24, 1);
  if (!buf) return OOM();
  memcpy(buf, stem, len + 1);
  for (uint64_t k = 1; map_find(&ctx->names, buf); k++)
    snprintf(buf + len, 24, "_%llu", (unsigned long long)k);
  bool existed;
  return map_insert(&ctx->names, buf, out, &existed);
}

/* ---- types -------------------------------------------------------------- */

/* Converts a ValueInfoProto's type; what names it in messages. */
static sinter_status_t vinfo_type(const Onnx__ValueInfoProto *vi, const char *what,
                                  sinter_type_t *out) {
  memset(out, 0, sizeof(*out));
  out->rank = -1;
  const Onnx__TypeProto *tp = vi->type;
  if (!tp) return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has no type", what);
  switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE: break;
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s is a sequence; only tensors are supported", what);
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s is a map; only tensors are supported", what);
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s is an optional; only tensors are supported",
                          what);
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
      return SINTER_ERROR(SINTER_UNSUPPORTED,
                          "%s is a sparse tensor; sparse tensors are not "
                          "supported",
                          what);
    default: return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has no type", what);
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  if (!tt) return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has no tensor type", what);
  if (tt->has_elem_type && tt->elem_type == ONNX_DT_STRING)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "%s is a string tensor; strings are not supported",
                        what);
  SINTER_TRY(onnx_dtype_convert(tt->has_elem_type ? tt->elem_type : 0, what, &out->dtype));
  if (!tt->shape) return NULL;
  if (tt->shape->n_dim > SINTER_MAX_RANK)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "%s has rank %zu, above the limit %d", what,
                        tt->shape->n_dim, SINTER_MAX_RANK);
  out->rank = (int32_t)tt->shape->n_dim;
  for (int32_t i = 0; i < out->rank; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    out->dims[i].size = -1;
    out->dims[i].sym = NULL;
    /* Some exporters write -1 for an unknown size: read it as unknown. */
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0)
      out->dims[i].size = d->dim_value;
    else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
             d->dim_param && *d->dim_param)
      out->dims[i].sym = d->dim_param; /* interned by the graph when the type is stored */
  }
  return NULL;
}

/* Applies the declared type of the value's name, if it has one and the
 * value has none yet. Unusable declarations are ignored: inference decides. */
static void apply_declared_type(import_ctx_t *ctx, sinter_value_t *v) {
  if (v->kind != SINTER_VALUE_NODE || v->type.dtype != SINTER_DTYPE_UNDEFINED || !*v->name) return;
  name_entry_t *e = map_find(&ctx->names, v->name);
  if (!e || !e->vinfo) return;
  sinter_type_t t;
  sinter_status_t st = vinfo_type(e->vinfo, "value", &t);
  if (st) {
    sinter_status_free(st);
    return;
  }
  sinter_value_set_type(v, &t);
}

/* Infers the node's output types right away when asked to, so that rewrites
 * of later nodes can see ranks; failures are left to the final inference. */
static void try_infer(import_ctx_t *ctx, sinter_node_t *n) {
  if (!ctx->eager_infer) return;
  for (int32_t i = 0; i < n->n_inputs; i++)
    if (n->inputs[i] && n->inputs[i]->type.dtype == SINTER_DTYPE_UNDEFINED) return;
  sinter_infer_frame_t f;
  if (!sinter_infer_frame_init(&f, ctx->g, n)) return;
  sinter_status_t st = sinter_infer_node(&f.ctx);
  if (st) {
    sinter_status_free(st);
    return;
  }
  for (int32_t i = 0; i < n->n_outputs; i++)
    if (f.out[i].dtype != SINTER_DTYPE_UNDEFINED) sinter_value_set_type(n->outputs[i], &f.out[i]);
}

/* ---- working nodes ------------------------------------------------------ */

const sinter_attr_t *wn_attr(const wnode_t *w, const char *name) {
  for (int32_t i = 0; i < w->n_attrs; i++)
    if (strcmp(w->attrs[i].name, name) == 0) return &w->attrs[i];
  return NULL;
}

int64_t wn_attr_int(const wnode_t *w, const char *name, int64_t dflt) {
  const sinter_attr_t *a = wn_attr(w, name);
  return a && a->kind == SINTER_ATTR_INT ? a->i : dflt;
}

void wn_remove_attr(wnode_t *w, const char *name) {
  for (int32_t i = 0; i < w->n_attrs; i++)
    if (strcmp(w->attrs[i].name, name) == 0) {
      memmove(&w->attrs[i], &w->attrs[i + 1], sizeof(sinter_attr_t) * (size_t)(w->n_attrs - i - 1));
      w->n_attrs--;
      return;
    }
}

sinter_status_t wn_set_attr(import_ctx_t *ctx, wnode_t *w, const sinter_attr_t *a) {
  for (int32_t i = 0; i < w->n_attrs; i++)
    if (strcmp(w->attrs[i].name, a->name) == 0) {
      w->attrs[i] = *a;
      return NULL;
    }
  if (w->n_attrs == w->cap_attrs) {
    int32_t ncap = w->cap_attrs ? w->cap_attrs * 2 : 8;
    sinter_attr_t *n = sinter_arena_alloc(&ctx->scratch, sizeof(*n) * (size_t)ncap, 8);
    if (!n) return OOM();
    if (w->n_attrs) memcpy(n, w->attrs, sizeof(*n) * (size_t)w->n_attrs);
    w->attrs = n;
    w->cap_attrs = ncap;
  }
  w->attrs[w->n_attrs++] = *a;
  return NULL;
}

sinter_status_t wn_set_attr_int(import_ctx_t *ctx, wnode_t *w, const char *name, int64_t v) {
  sinter_attr_t a = {.name = name, .kind = SINTER_ATTR_INT, .i = v};
  return wn_set_attr(ctx, w, &a);
}

sinter_status_t wn_set_attr_string(import_ctx_t *ctx, wnode_t *w, const char *name, const char *s) {
  sinter_attr_t a = {.name = name, .kind = SINTER_ATTR_STRING, .s = s, .s_len = strlen(s)};
  return wn_set_attr(ctx, w, &a);
}

sinter_status_t wn_set_input(import_ctx_t *ctx, wnode_t *w, int32_t index, sinter_value_t *v) {
  if (index < 0) return SINTER_ERROR(SINTER_INTERNAL, "bad input index");
  if (index >= w->cap_in) {
    int32_t ncap = w->cap_in ? w->cap_in : 4;
    while (ncap <= index) ncap *= 2;
    sinter_value_t **n = sinter_arena_alloc(&ctx->scratch, sizeof(*n) * (size_t)ncap, 8);
    if (!n) return OOM();
    if (w->n_in) memcpy(n, w->in, sizeof(*n) * (size_t)w->n_in);
    w->in = n;
    w->cap_in = ncap;
  }
  for (int32_t i = w->n_in; i < index; i++) w->in[i] = NULL;
  w->in[index] = v;
  if (index >= w->n_in) w->n_in = index + 1;
  return NULL;
}

/* ---- building blocks for rewrites --------------------------------------- */

static const char *join_name(import_ctx_t *ctx, const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = sinter_arena_alloc(&ctx->scratch, la + lb + 2, 1);
  if (!s) return NULL;
  memcpy(s, a, la);
  s[la] = '_';
  memcpy(s + la + 1, b, lb + 1);
  return s;
}

sinter_status_t imp_const(import_ctx_t *ctx, const wnode_t *w, const char *suffix,
                          sinter_dtype_t dtype, int32_t rank, const int64_t *dims, const void *data,
                          size_t nbytes, sinter_value_t **out) {
  const char *stem = join_name(ctx, w->base, suffix);
  if (!stem) return OOM();
  name_entry_t *e;
  SINTER_TRY(unique_name(ctx, stem, &e));
  sinter_type_t t = {.dtype = dtype, .rank = rank};
  for (int32_t i = 0; i < rank; i++) t.dims[i].size = dims[i];
  SINTER_TRY(sinter_graph_add_const(ctx->g, e->key, &t, data, nbytes, out));
  e->value = *out;
  return NULL;
}

sinter_status_t imp_const_i64(import_ctx_t *ctx, const wnode_t *w, const char *suffix,
                              const int64_t *v, int64_t n, sinter_value_t **out) {
  return imp_const(ctx, w, suffix, SINTER_DTYPE_I64, 1, &n, v, (size_t)n * sizeof(int64_t), out);
}

sinter_status_t imp_scalar_like(import_ctx_t *ctx, const wnode_t *w, const char *suffix, double v,
                                sinter_value_t *like, sinter_value_t **out) {
  sinter_dtype_t dt = like ? like->type.dtype : SINTER_DTYPE_UNDEFINED;
  if (dt != SINTER_DTYPE_UNDEFINED && sinter_dtype_bits(dt) >= 8) {
    unsigned char buf[8] = {0};
    if (sinter_dtype_is_float(dt))
      sinter_store_f64(buf, dt, 0, v);
    else
      sinter_store_i64(buf, dt, 0, (int64_t)v);
    return imp_const(ctx, w, suffix, dt, 0, NULL, buf, (size_t)sinter_dtype_bits(dt) / 8, out);
  }
  float f = (float)v;
  sinter_value_t *c;
  SINTER_TRY(imp_const(ctx, w, suffix, SINTER_DTYPE_F32, 0, NULL, &f, sizeof(f), &c));
  if (!like) {
    *out = c;
    return NULL;
  }
  const char *cast_suffix = join_name(ctx, suffix, "cast");
  if (!cast_suffix) return OOM();
  sinter_value_t *ins[2] = {c, like};
  sinter_node_t *n;
  SINTER_TRY(imp_emit(ctx, w, SINTER_OP_CAST_LIKE, cast_suffix, ins, 2, 1, &n));
  *out = n->outputs[0];
  return NULL;
}

sinter_status_t imp_emit(import_ctx_t *ctx, const wnode_t *w, sinter_op_t op, const char *suffix,
                         sinter_value_t *const *inputs, int32_t n_inputs, int32_t n_outputs,
                         sinter_node_t **out) {
  const char *stem = suffix ? join_name(ctx, w->base, suffix) : w->base;
  if (!stem) return OOM();
  const char *node_name = suffix ? (*w->name ? join_name(ctx, w->name, suffix) : stem) : w->name;
  if (!node_name) return OOM();
  sinter_node_t *n;
  SINTER_TRY(sinter_graph_add_node(ctx->g, op, node_name, inputs, n_inputs, n_outputs, &n));
  for (int32_t i = 0; i < n_outputs; i++) {
    const char *ostem = join_name(ctx, stem, "out");
    if (!ostem) return OOM();
    name_entry_t *e;
    SINTER_TRY(unique_name(ctx, ostem, &e));
    SINTER_TRY(sinter_value_set_name(n->outputs[i], e->key));
    e->value = n->outputs[i];
  }
  *out = n;
  return NULL;
}

sinter_status_t imp_bind_output(import_ctx_t *ctx, const wnode_t *w, int32_t index,
                                sinter_value_t *v) {
  if (index >= w->n_out || !*w->out[index]) return NULL;
  name_entry_t *e = map_find(&ctx->names, w->out[index]);
  if (!e) return SINTER_ERROR(SINTER_INTERNAL, "output '%s' was not registered", w->out[index]);
  SINTER_TRY(sinter_value_set_name(v, w->out[index]));
  e->value = v;
  apply_declared_type(ctx, v);
  return NULL;
}

/* ---- attributes --------------------------------------------------------- */

/* Copies a proto string into the scratch arena (NULL becomes ""). */
static const char *scratch_str(import_ctx_t *ctx, const char *s) {
  return sinter_arena_strdup(&ctx->scratch, s ? s : "");
}

static sinter_status_t attr_tensor(import_ctx_t *ctx, const Onnx__TensorProto *tp, const char *what,
                                   sinter_tensor_t *out) {
  onnx_tensor_view_t view;
  SINTER_TRY(onnx_tensor_decode(tp, what, &ctx->ext, &view));
  memset(out, 0, sizeof(*out));
  out->dtype = view.type.dtype;
  out->rank = view.type.rank;
  for (int32_t i = 0; i < view.type.rank; i++) out->dims[i] = view.type.dims[i].size;
  out->nbytes = view.nbytes;
  out->data = sinter_arena_memdup(&ctx->scratch, view.data, view.nbytes ? view.nbytes : 1);
  free(view.owned);
  return out->data ? NULL : OOM();
}

/* The kind an attribute without a type field (IR version 1) most likely has. */
static int guess_attr_type(const Onnx__AttributeProto *a) {
  if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
  if (a->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
  if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  if (a->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
  if (a->n_tensors) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS;
  if (a->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
  return 0;
}

static sinter_status_t convert_attr(import_ctx_t *ctx, const Onnx__AttributeProto *a,
                                    sinter_attr_t *out) {
  memset(out, 0, sizeof(*out));
  const char *name = str_or_empty(a->name);
  if (!*name) return SINTER_ERROR(SINTER_INVALID_MODEL, "an attribute has no name");
  if (a->ref_attr_name && *a->ref_attr_name)
    return SINTER_ERROR(SINTER_UNSUPPORTED,
                        "attribute '%s' refers to a function attribute; functions are not "
                        "supported",
                        name);
  out->name = scratch_str(ctx, name);
  if (!out->name) return OOM();
  int type = a->has_type ? (int)a->type : guess_attr_type(a);
  char what[96];
  snprintf(what, sizeof(what), "attribute '%.60s'", name);
  switch (type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
      out->kind = SINTER_ATTR_FLOAT;
      out->f = a->f;
      return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
      out->kind = SINTER_ATTR_INT;
      out->i = a->i;
      return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
      out->kind = SINTER_ATTR_STRING;
      out->s =
          sinter_arena_strndup(&ctx->scratch, a->s.data ? (const char *)a->s.data : "", a->s.len);
      out->s_len = a->s.len;
      return out->s ? NULL : OOM();
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
      if (!a->t) return SINTER_ERROR(SINTER_INVALID_MODEL, "%s of type TENSOR has no tensor", what);
      sinter_tensor_t *t = sinter_arena_alloc(&ctx->scratch, sizeof(*t), 8);
      if (!t) return OOM();
      SINTER_TRY(attr_tensor(ctx, a->t, what, t));
      out->kind = SINTER_ATTR_TENSOR;
      out->count = 1;
      out->tensors = t;
      return NULL;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
      return SINTER_ERROR(SINTER_UNSUPPORTED,
                          "%s holds a subgraph; subgraph attributes are not supported", what);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
      out->kind = SINTER_ATTR_FLOATS;
      out->count = (int64_t)a->n_floats;
      if (a->n_floats) {
        out->floats = sinter_arena_memdup(&ctx->scratch, a->floats, a->n_floats * sizeof(float));
        if (!out->floats) return OOM();
      }
      return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
      out->kind = SINTER_ATTR_INTS;
      out->count = (int64_t)a->n_ints;
      if (a->n_ints) {
        out->ints = sinter_arena_memdup(&ctx->scratch, a->ints, a->n_ints * sizeof(int64_t));
        if (!out->ints) return OOM();
      }
      return NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: {
      const char **ss = sinter_arena_alloc(&ctx->scratch, sizeof(char *) * (a->n_strings + 1), 8);
      if (!ss) return OOM();
      for (size_t i = 0; i < a->n_strings; i++) {
        ss[i] = sinter_arena_strndup(&ctx->scratch,
                                     a->strings[i].data ? (const char *)a->strings[i].data : "",
                                     a->strings[i].len);
        if (!ss[i]) return OOM();
      }
      out->kind = SINTER_ATTR_STRINGS;
      out->count = (int64_t)a->n_strings;
      out->strings = ss;
      return NULL;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: {
      sinter_tensor_t *ts = sinter_arena_alloc(&ctx->scratch, sizeof(*ts) * (a->n_tensors + 1), 8);
      if (!ts) return OOM();
      for (size_t i = 0; i < a->n_tensors; i++)
        SINTER_TRY(attr_tensor(ctx, a->tensors[i], what, &ts[i]));
      out->kind = SINTER_ATTR_TENSORS;
      out->count = (int64_t)a->n_tensors;
      out->tensors = ts;
      return NULL;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
      return SINTER_ERROR(SINTER_UNSUPPORTED,
                          "%s holds a sparse tensor; sparse tensors are not supported", what);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s holds a type; type attributes are not supported",
                          what);
    case 0: return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has no type", what);
    default: return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has unknown type %d", what, type);
  }
}

/* ---- constants ---------------------------------------------------------- */

/* External data is borrowed only when 64-byte aligned, like owned constant
 * data. raw_data sits at arbitrary offsets inside the model, so there the
 * consumers' real need, natural alignment of the element, is what counts. */
#define BORROW_ALIGN 64

static size_t element_align(sinter_dtype_t dtype) {
  int bits = sinter_dtype_bits(dtype);
  return bits >= 16 ? (size_t)bits / 8 : 1;
}

/* Drops the pages under bytes just copied out of a read-only private
 * mapping from the resident set: they re-fault from the file if touched
 * again, so the copy and its source are not both resident. */
static void drop_pages(const void *data, size_t n) {
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0 || !n) return;
  uintptr_t lo = (uintptr_t)data & ~((uintptr_t)page - 1);
  uintptr_t hi = (uintptr_t)data + n;
  (void)madvise((void *)lo, hi - lo, MADV_DONTNEED); /* only a hint */
}

static sinter_status_t add_tensor_const(import_ctx_t *ctx, const char *name,
                                        const onnx_tensor_view_t *view, sinter_value_t **out) {
  size_t align = view->in_model ? element_align(view->type.dtype) : BORROW_ALIGN;
  if (view->file && ((uintptr_t)view->data % align) == 0) {
    if (!view->file->adopted) {
      SINTER_TRY(sinter_graph_adopt_mapping(ctx->g, view->file->base, view->file->size));
      view->file->adopted = true;
    }
    return sinter_graph_add_const_borrowed(ctx->g, name, &view->type, view->data, view->nbytes,
                                           out);
  }
  SINTER_TRY(sinter_graph_add_const(ctx->g, name, &view->type, view->data, view->nbytes, out));
  if (view->file) drop_pages(view->data, view->nbytes);
  return NULL;
}

/* Turns a Constant node into a graph constant named after its output. */
static sinter_status_t lower_constant(import_ctx_t *ctx, const wnode_t *w) {
  if (w->n_out != 1 || !*w->out[0])
    return SINTER_ERROR(SINTER_INVALID_MODEL, "Constant must have exactly one output");
  if (w->n_in != 0) return SINTER_ERROR(SINTER_INVALID_MODEL, "Constant takes no inputs");
  const Onnx__NodeProto *np = w->proto;
  const Onnx__AttributeProto *which = NULL;
  for (size_t i = 0; i < np->n_attribute; i++) {
    const char *an = str_or_empty(np->attribute[i]->name);
    if (strcmp(an, "value_string") == 0 || strcmp(an, "value_strings") == 0)
      return SINTER_ERROR(SINTER_UNSUPPORTED, "attribute '%s': string constants are not supported",
                          an);
    if (strcmp(an, "sparse_value") == 0)
      return SINTER_ERROR(SINTER_UNSUPPORTED,
                          "attribute 'sparse_value': sparse constants are not supported");
    if (strcmp(an, "value") && strcmp(an, "value_float") && strcmp(an, "value_floats") &&
        strcmp(an, "value_int") && strcmp(an, "value_ints"))
      return SINTER_ERROR(SINTER_INVALID_MODEL, "unexpected attribute '%s'", an);
    if (which)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "Constant has more than one value attribute");
    which = np->attribute[i];
  }
  if (!which) return SINTER_ERROR(SINTER_INVALID_MODEL, "Constant has no value attribute");
  sinter_attr_t a;
  int type = which->has_type ? (int)which->type : guess_attr_type(which);
  if (strcmp(str_or_empty(which->name), "value") == 0 && which->t &&
      type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR &&
      !(which->ref_attr_name && *which->ref_attr_name)) {
    /* Decoded once below: converting it too would copy the tensor. */
    memset(&a, 0, sizeof(a));
    a.name = "value";
    a.kind = SINTER_ATTR_TENSOR;
  } else {
    SINTER_TRY(convert_attr(ctx, which, &a));
  }
  const char *out_name = w->out[0];
  name_entry_t *e = map_find(&ctx->names, out_name);
  sinter_value_t *v = NULL;
  sinter_type_t t = {.dtype = SINTER_DTYPE_UNDEFINED, .rank = 0};
  if (strcmp(a.name, "value") == 0) {
    if (a.kind != SINTER_ATTR_TENSOR)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "attribute 'value' must be a tensor");
    /* Re-decode so that external bytes can be borrowed rather than copied. */
    onnx_tensor_view_t view;
    SINTER_TRY(onnx_tensor_decode(which->t, "attribute 'value'", &ctx->ext, &view));
    sinter_status_t st = add_tensor_const(ctx, out_name, &view, &v);
    free(view.owned);
    SINTER_TRY(st);
  } else if (strcmp(a.name, "value_float") == 0 || strcmp(a.name, "value_int") == 0) {
    bool is_f = a.name[6] == 'f';
    if (a.kind != (is_f ? SINTER_ATTR_FLOAT : SINTER_ATTR_INT))
      return SINTER_ERROR(SINTER_INVALID_MODEL, "attribute '%s' has the wrong type", a.name);
    t.dtype = is_f ? SINTER_DTYPE_F32 : SINTER_DTYPE_I64;
    SINTER_TRY(sinter_graph_add_const(ctx->g, out_name, &t, is_f ? (void *)&a.f : (void *)&a.i,
                                      is_f ? sizeof(float) : sizeof(int64_t), &v));
  } else {
    bool is_f = a.name[6] == 'f';
    if (a.kind != (is_f ? SINTER_ATTR_FLOATS : SINTER_ATTR_INTS))
      return SINTER_ERROR(SINTER_INVALID_MODEL, "attribute '%s' has the wrong type", a.name);
    t.dtype = is_f ? SINTER_DTYPE_F32 : SINTER_DTYPE_I64;
    t.rank = 1;
    t.dims[0].size = a.count;
    const void *d = is_f ? (const void *)a.floats : (const void *)a.ints;
    SINTER_TRY(sinter_graph_add_const(ctx->g, out_name, &t, d ? d : "",
                                      (size_t)a.count * (is_f ? sizeof(float) : sizeof(int64_t)),
                                      &v));
  }
  e->value = v;
  return NULL;
}

/* ---- nodes -------------------------------------------------------------- */

static bool is_control_flow(const char *op) {
  return strcmp(op, "If") == 0 || strcmp(op, "Loop") == 0 || strcmp(op, "Scan") == 0 ||
         strcmp(op, "SequenceMap") == 0;
}

/* Builds the IR node for a rewritten w, checking its arity against ops.def. */
static sinter_status_t finish_node(import_ctx_t *ctx, wnode_t *w) {
  sinter_op_t op = sinter_op_lookup(w->domain ? w->domain : "", w->op_type);
  const sinter_op_info_t *info = sinter_op_info(op);
  if (!info) return SINTER_ERROR(SINTER_UNSUPPORTED, "op '%s' is not supported", w->op_type);
  int32_t n_in = w->n_in;
  while (n_in > 0 && !w->in[n_in - 1]) n_in--;
  int32_t n_out = w->n_out;
  while (n_out > 0 && !*w->out[n_out - 1]) n_out--;
  if (n_in < info->min_inputs || (info->max_inputs >= 0 && n_in > info->max_inputs)) {
    if (info->max_inputs < 0)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "%s takes at least %d inputs, got %d", info->name,
                          info->min_inputs, n_in);
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s takes %d to %d inputs, got %d", info->name,
                        info->min_inputs, info->max_inputs, n_in);
  }
  for (int32_t i = 0; i < info->min_inputs; i++)
    if (!w->in[i])
      return SINTER_ERROR(SINTER_INVALID_MODEL, "required input %d of %s is missing", i,
                          info->name);
  if (n_out < info->min_outputs || (info->max_outputs >= 0 && n_out > info->max_outputs)) {
    if (info->max_outputs < 0)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has at least %d outputs, got %d", info->name,
                          info->min_outputs, n_out);
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has %d to %d outputs, got %d", info->name,
                        info->min_outputs, info->max_outputs, n_out);
  }
  sinter_node_t *n;
  SINTER_TRY(sinter_graph_add_node(ctx->g, op, w->name, w->in, n_in, n_out, &n));
  for (int32_t i = 0; i < w->n_attrs; i++) SINTER_TRY(sinter_node_set_attr(n, &w->attrs[i]));
  for (int32_t i = 0; i < n_out; i++) {
    if (*w->out[i]) {
      SINTER_TRY(imp_bind_output(ctx, w, i, n->outputs[i]));
    }
  }
  try_infer(ctx, n);
  return NULL;
}

static sinter_status_t lower_node(import_ctx_t *ctx, wnode_t *w) {
  const Onnx__NodeProto *np = w->proto;
  for (size_t i = 0; i < np->n_input; i++) {
    const char *in = str_or_empty(np->input[i]);
    sinter_value_t *v = NULL;
    if (*in) {
      name_entry_t *e = map_find(&ctx->names, in);
      v = e ? e->value : NULL;
      if (!v) return SINTER_ERROR(SINTER_INTERNAL, "input '%s' was not defined in time", in);
    }
    SINTER_TRY(wn_set_input(ctx, w, (int32_t)i, v));
  }
  if (strcmp(w->op_type, "Constant") == 0) return lower_constant(ctx, w);
  for (size_t i = 0; i < np->n_attribute; i++) {
    sinter_attr_t a;
    SINTER_TRY(convert_attr(ctx, np->attribute[i], &a));
    SINTER_TRY(wn_set_attr(ctx, w, &a));
  }
  bool done = false;
  SINTER_TRY(onnx_legacy_rewrite(ctx, w, &done));
  if (done) return NULL;
  return finish_node(ctx, w);
}

/* ---- topological order -------------------------------------------------- */

/* A binary min-heap of node indexes, so that ready nodes come out in file
 * order and an already sorted graph keeps its order. */
typedef struct heap_s {
  int32_t *a;
  int32_t n;
} heap_t;

static void heap_push(heap_t *h, int32_t v) {
  int32_t i = h->n++;
  h->a[i] = v;
  while (i > 0 && h->a[(i - 1) / 2] > h->a[i]) {
    int32_t p = (i - 1) / 2, t = h->a[p];
    h->a[p] = h->a[i];
    h->a[i] = t;
    i = p;
  }
}

static int32_t heap_pop(heap_t *h) {
  int32_t top = h->a[0];
  h->a[0] = h->a[--h->n];
  for (int32_t i = 0;;) {
    int32_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->n && h->a[l] < h->a[m]) m = l;
    if (r < h->n && h->a[r] < h->a[m]) m = r;
    if (m == i) break;
    int32_t t = h->a[m];
    h->a[m] = h->a[i];
    h->a[i] = t;
    i = m;
  }
  return top;
}

/* Orders the nodes so that producers come first; on a cycle, names a node
 * on it. order receives n indexes. */
static sinter_status_t topo_sort(import_ctx_t *ctx, const Onnx__GraphProto *gp, wnode_t *nodes,
                                 int32_t n, int32_t *order) {
  int32_t *indeg = calloc((size_t)n + 1, sizeof(int32_t));
  int32_t *start = calloc((size_t)n + 2, sizeof(int32_t));
  int32_t *heap_mem = malloc(sizeof(int32_t) * ((size_t)n + 1));
  int32_t *succ = NULL;
  sinter_status_t st = NULL;
  if (!indeg || !start || !heap_mem) {
    st = OOM();
    goto done;
  }
  /* Count edges per producer, then fill successor lists (CSR). */
  size_t n_edges = 0;
  for (int32_t i = 0; i < n; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    for (size_t k = 0; k < np->n_input; k++) {
      const char *in = str_or_empty(np->input[k]);
      if (!*in) continue;
      name_entry_t *e = map_find(&ctx->names, in);
      if (e->producer < 0) continue;
      if (e->producer == i) {
        st = SINTER_ERROR(SINTER_INVALID_MODEL,
                          "%s: the graph has a cycle (the node uses its "
                          "own output '%s')",
                          nodes[i].where, in);
        goto done;
      }
      start[e->producer + 1]++;
      indeg[i]++;
      n_edges++;
    }
  }
  for (int32_t i = 0; i < n; i++) start[i + 1] += start[i];
  succ = malloc(sizeof(int32_t) * (n_edges + 1));
  int32_t *fill = calloc((size_t)n + 1, sizeof(int32_t));
  if (!succ || !fill) {
    free(fill);
    st = OOM();
    goto done;
  }
  for (int32_t i = 0; i < n; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    for (size_t k = 0; k < np->n_input; k++) {
      const char *in = str_or_empty(np->input[k]);
      if (!*in) continue;
      name_entry_t *e = map_find(&ctx->names, in);
      if (e->producer < 0) continue;
      succ[start[e->producer] + fill[e->producer]++] = i;
    }
  }
  free(fill);
  heap_t h = {heap_mem, 0};
  for (int32_t i = 0; i < n; i++)
    if (!indeg[i]) heap_push(&h, i);
  int32_t emitted = 0;
  while (h.n) {
    int32_t i = heap_pop(&h);
    order[emitted++] = i;
    for (int32_t k = start[i]; k < start[i + 1]; k++)
      if (--indeg[succ[k]] == 0) heap_push(&h, succ[k]);
  }
  if (emitted < n) {
    /* Walk backwards along unresolved inputs; after n steps we are on a
     * cycle. */
    int32_t cur = -1;
    for (int32_t i = 0; i < n && cur < 0; i++)
      if (indeg[i]) cur = i;
    for (int32_t step = 0; step < n; step++) {
      const Onnx__NodeProto *np = gp->node[cur];
      for (size_t k = 0; k < np->n_input; k++) {
        const char *in = str_or_empty(np->input[k]);
        if (!*in) continue;
        name_entry_t *e = map_find(&ctx->names, in);
        if (e->producer >= 0 && indeg[e->producer]) {
          cur = e->producer;
          break;
        }
      }
    }
    st = SINTER_ERROR(SINTER_INVALID_MODEL, "%s: the graph has a cycle through this node",
                      nodes[cur].where);
  }
done:
  free(indeg);
  free(start);
  free(heap_mem);
  free(succ);
  return st;
}

/* ---- the model ---------------------------------------------------------- */

static sinter_status_t model_opset(const Onnx__ModelProto *m, int64_t *out) {
  *out = 0;
  bool found = false;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    const char *d = str_or_empty(o->domain);
    if (*d && strcmp(d, "ai.onnx") != 0) continue;
    if (found && o->version != *out)
      return SINTER_ERROR(SINTER_INVALID_MODEL,
                          "the default domain is imported twice, at "
                          "opsets %lld and %lld",
                          (long long)*out, (long long)o->version);
    *out = o->has_version ? o->version : 0;
    found = true;
  }
  /* Models from before opset_import existed (IR version < 3) are opset 1. */
  if (!found) *out = 1;
  if (*out < 1 || *out > ONNX_MAX_OPSET)
    return SINTER_ERROR(SINTER_UNSUPPORTED,
                        "opset %lld of the default domain is not supported (1 to %d are)",
                        (long long)*out, ONNX_MAX_OPSET);
  return NULL;
}

static const char *node_where(import_ctx_t *ctx, const Onnx__NodeProto *np, int32_t index) {
  const char *name = str_or_empty(np->name);
  const char *op = str_or_empty(np->op_type);
  size_t cap = strlen(name) + strlen(op) + 48;
  char *s = sinter_arena_alloc(&ctx->scratch, cap, 1);
  if (!s) return NULL;
  if (*name)
    snprintf(s, cap, "node '%s' (%s)", name, op);
  else
    snprintf(s, cap, "node #%d (%s)", index, op);
  return s;
}

static sinter_status_t build_graph(import_ctx_t *ctx, const Onnx__ModelProto *m) {
  const Onnx__GraphProto *gp = m->graph;
  if (!gp) return SINTER_ERROR(SINTER_INVALID_MODEL, "the model has no graph");
  SINTER_TRY(model_opset(m, &ctx->opset));
  SINTER_TRY(sinter_graph_create(gp->name && *gp->name ? gp->name : "main", &ctx->g));
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    SINTER_TRY(sinter_graph_set_opset(ctx->g, str_or_empty(o->domain), o->version));
  }
  if (!m->n_opset_import) SINTER_TRY(sinter_graph_set_opset(ctx->g, "", ctx->opset));
  if (gp->n_sparse_initializer)
    return SINTER_ERROR(
        SINTER_UNSUPPORTED, "sparse initializer '%s' is not supported",
        str_or_empty(gp->sparse_initializer[0]->values ? gp->sparse_initializer[0]->values->name
                                                       : NULL));
  if (gp->n_node > INT32_MAX / 2)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "too many nodes (%zu)", gp->n_node);
  if (!map_grow(&ctx->names, gp->n_initializer + gp->n_input + gp->n_node * 2 + 16)) return OOM();

  /* Initializers. */
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *t = gp->initializer[i];
    const char *name = str_or_empty(t->name);
    if (!*name) return SINTER_ERROR(SINTER_INVALID_MODEL, "initializer #%zu has no name", i);
    name_entry_t *e;
    bool existed;
    SINTER_TRY(map_insert(&ctx->names, name, &e, &existed));
    if (existed)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "initializer '%s' is defined twice", name);
    char what[96];
    snprintf(what, sizeof(what), "initializer '%.64s'", name);
    onnx_tensor_view_t view;
    SINTER_TRY(onnx_tensor_decode(t, what, &ctx->ext, &view));
    sinter_status_t st = add_tensor_const(ctx, name, &view, &e->value);
    free(view.owned);
    SINTER_RETURN_IF_ERROR(st, "%s", what);
  }

  /* Inputs; in old IR versions initializers are listed as inputs too, and
   * then they are constants. */
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    const char *name = str_or_empty(vi->name);
    if (!*name) return SINTER_ERROR(SINTER_INVALID_MODEL, "graph input #%zu has no name", i);
    name_entry_t *e;
    bool existed;
    SINTER_TRY(map_insert(&ctx->names, name, &e, &existed));
    if (existed) {
      if (e->value && e->value->kind == SINTER_VALUE_CONST) continue;
      return SINTER_ERROR(SINTER_INVALID_MODEL, "graph input '%s' is listed twice", name);
    }
    char what[96];
    snprintf(what, sizeof(what), "graph input '%.64s'", name);
    sinter_type_t t;
    SINTER_TRY(vinfo_type(vi, what, &t));
    SINTER_TRY(sinter_graph_add_input(ctx->g, name, &t, &e->value));
  }

  /* Nodes: check domain and op, then register outputs. */
  int32_t n = (int32_t)gp->n_node;
  wnode_t *nodes = sinter_arena_alloc(&ctx->scratch, sizeof(wnode_t) * ((size_t)n + 1), 8);
  if (!nodes) return OOM();
  for (int32_t i = 0; i < n; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    wnode_t *w = &nodes[i];
    w->proto = np;
    w->index = i;
    w->name = str_or_empty(np->name);
    w->op_type = str_or_empty(np->op_type);
    w->where = node_where(ctx, np, i);
    if (!w->where) return OOM();
    const char *domain = str_or_empty(np->domain);
    if (!*w->op_type) return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has no op type", w->where);
    if (strcmp(domain, "ai.onnx") == 0) domain = "";
    w->domain = domain;
    /* Sinter's own ops (domain ai.sinter) come back from its own exports. */
    if (*domain && (strcmp(domain, "ai.sinter") != 0 ||
                    sinter_op_lookup(domain, w->op_type) == SINTER_OP_INVALID))
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: domain '%s' is not supported", w->where, domain);
    if (is_control_flow(w->op_type))
      return SINTER_ERROR(SINTER_UNSUPPORTED,
                          "%s: control-flow ops with subgraphs are not supported", w->where);
    if (!*domain && strcmp(w->op_type, "Constant") != 0 && !onnx_legacy_known_op(w->op_type) &&
        sinter_op_lookup("", w->op_type) == SINTER_OP_INVALID)
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: op '%s' is not supported", w->where, w->op_type);
    if (np->n_output > INT32_MAX / 2 || np->n_input > INT32_MAX / 2)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "%s has too many inputs or outputs", w->where);
    w->n_out = (int32_t)np->n_output;
    w->out = sinter_arena_alloc(&ctx->scratch, sizeof(char *) * (np->n_output + 1), 8);
    if (!w->out) return OOM();
    w->base = *w->name ? w->name : NULL;
    for (size_t k = 0; k < np->n_output; k++) {
      const char *o = str_or_empty(np->output[k]);
      w->out[k] = o;
      if (!*o) continue;
      if (!w->base) w->base = o;
      name_entry_t *e;
      bool existed;
      SINTER_TRY(map_insert(&ctx->names, o, &e, &existed));
      if (existed)
        return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: output '%s' is already defined", w->where,
                            o);
      e->producer = i;
    }
    if (!w->base) {
      char *b = sinter_arena_alloc(&ctx->scratch, 24, 1);
      if (!b) return OOM();
      snprintf(b, 24, "node%d", i);
      w->base = b;
    }
  }
  /* Every input must be defined somewhere. */
  for (int32_t i = 0; i < n; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    for (size_t k = 0; k < np->n_input; k++) {
      const char *in = str_or_empty(np->input[k]);
      if (*in && !map_find(&ctx->names, in))
        return SINTER_ERROR(SINTER_INVALID_MODEL,
                            "%s: input '%s' is not defined (missing initializer?)", nodes[i].where,
                            in);
    }
  }
  /* Declared types of intermediate values and outputs. */
  for (size_t i = 0; i < gp->n_value_info + gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi =
        i < gp->n_value_info ? gp->value_info[i] : gp->output[i - gp->n_value_info];
    name_entry_t *e = map_find(&ctx->names, str_or_empty(vi->name));
    if (e && vi->type) e->vinfo = vi;
  }

  int32_t *order = sinter_arena_alloc(&ctx->scratch, sizeof(int32_t) * ((size_t)n + 1), 8);
  if (!order) return OOM();
  SINTER_TRY(topo_sort(ctx, gp, nodes, n, order));
  for (int32_t k = 0; k < n; k++) {
    wnode_t *w = &nodes[order[k]];
    SINTER_RETURN_IF_ERROR(lower_node(ctx, w), "%s", w->where);
  }

  /* Outputs. */
  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    const char *name = str_or_empty(vi->name);
    name_entry_t *e = map_find(&ctx->names, name);
    if (!e || !e->value)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "graph output '%s' is not defined", name);
    char what[96];
    snprintf(what, sizeof(what), "graph output '%.64s'", name);
    if (vi->type) {
      /* Outputs must be tensors we can hold, even when the declared shape
       * is not used. */
      sinter_type_t t;
      SINTER_TRY(vinfo_type(vi, what, &t));
    }
    SINTER_TRY(sinter_graph_add_output(ctx->g, e->value));
  }
  return NULL;
}

/* Inference may know less about an output than the file declares (a shape
 * computed at run time): keep the declared rank and dims where inference
 * left them unknown, and never override what inference found. */
static void refine_outputs(import_ctx_t *ctx, const Onnx__GraphProto *gp) {
  for (int32_t i = 0; i < ctx->g->n_outputs && (size_t)i < gp->n_output; i++) {
    sinter_value_t *v = ctx->g->outputs[i];
    if (v->kind != SINTER_VALUE_NODE || !gp->output[i]->type) continue;
    sinter_type_t d;
    sinter_status_t st = vinfo_type(gp->output[i], "output", &d);
    if (st) {
      sinter_status_free(st);
      continue;
    }
    sinter_type_t t = v->type;
    if (t.dtype != SINTER_DTYPE_UNDEFINED && t.dtype != d.dtype) continue;
    if (t.rank < 0) {
      if (d.rank < 0) continue;
      d.dtype = t.dtype != SINTER_DTYPE_UNDEFINED ? t.dtype : d.dtype;
      sinter_value_set_type(v, &d);
      continue;
    }
    if (t.rank != d.rank) continue;
    bool changed = false;
    for (int32_t k = 0; k < t.rank; k++)
      if (t.dims[k].size < 0 && !t.dims[k].sym && (d.dims[k].size >= 0 || d.dims[k].sym)) {
        t.dims[k] = d.dims[k];
        changed = true;
      }
    if (changed) sinter_value_set_type(v, &t);
  }
}

/* model_file is the mapping data lies in when constants may borrow from it
 * (the graph then adopts it), NULL when data belongs to the caller. */
static sinter_status_t import_buffer(const void *data, size_t len, const char *name,
                                     const char *base_dir, const sinter_onnx_import_options_t *opts,
                                     onnx_ext_file_t *model_file, sinter_graph_t **out_graph) {
  sinter_status_t st = onnx_wire_check(data, len, &onnx__model_proto__descriptor, ONNX_MAX_NESTING);
  if (st) return sinter_status_annotate(st, "%s", name);
  if (len == 0)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: the file is empty, not an ONNX model", name);
  /* protobuf-c copies every bytes field: let it see the weights only as
   * references into data. */
  onnx_raw_table_t raw = {.base = data, .size = len, .file = model_file};
  void *lifted;
  size_t lifted_len;
  st = onnx_raw_lift(data, len, &raw, &lifted, &lifted_len);
  if (st) {
    free(raw.refs);
    return sinter_status_annotate(st, "%s", name);
  }
  Onnx__ModelProto *m = lifted ? onnx__model_proto__unpack(NULL, lifted_len, lifted)
                               : onnx__model_proto__unpack(NULL, len, data);
  free(lifted);
  if (!m) {
    free(raw.refs);
    return SINTER_ERROR(SINTER_INVALID_MODEL,
                        "%s: not a valid ONNX model (truncated or corrupt protobuf)", name);
  }
  import_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  sinter_arena_init(&ctx.scratch, 64 * 1024);
  onnx_ext_init(&ctx.ext, base_dir);
  ctx.ext.raw = raw.n ? &raw : NULL;
  ctx.eager_infer = !(opts && opts->skip_shape_inference);
  st = build_graph(&ctx, m);
  if (!st && ctx.eager_infer) st = sinter_graph_infer_shapes(ctx.g);
  if (!st && ctx.eager_infer) refine_outputs(&ctx, m->graph);
  onnx__model_proto__free_unpacked(m, NULL);
  free(raw.refs);
  free(ctx.names.slots);
  sinter_arena_deinit(&ctx.scratch);
  if (st) {
    sinter_graph_destroy(ctx.g); /* unmaps the adopted mappings */
    onnx_ext_deinit(&ctx.ext);
    return sinter_status_annotate(st, "%s", name);
  }
  onnx_ext_deinit(&ctx.ext);
  *out_graph = ctx.g;
  return NULL;
}

sinter_status_t sinter_onnx_import_buffer_opts(const void *data, size_t len, const char *name,
                                               const char *base_dir,
                                               const sinter_onnx_import_options_t *opts,
                                               sinter_graph_t **out_graph) {
  *out_graph = NULL;
  if (!data && len) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "NULL model data");
  return import_buffer(data ? data : "", len, name ? name : "<memory>", base_dir, opts, NULL,
                       out_graph);
}

sinter_status_t sinter_onnx_import_buffer(const void *data, size_t len, const char *name,
                                          const char *base_dir, sinter_graph_t **out_graph) {
  return sinter_onnx_import_buffer_opts(data, len, name, base_dir, NULL, out_graph);
}

sinter_status_t sinter_onnx_import_file_opts(const char *path,
                                             const sinter_onnx_import_options_t *opts,
                                             sinter_graph_t **out_graph) {
  *out_graph = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return SINTER_ERROR(SINTER_IO_ERROR, "%s: not a regular file", path);
  }
  size_t len = (size_t)sb.st_size;
  void *data = NULL;
  if (len) {
    data = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      sinter_status_t st =
          SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot map: %s", path, strerror(errno));
      close(fd);
      return st;
    }
  }
  close(fd);
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  /* Constants borrow the aligned raw_data straight from this mapping. */
  onnx_ext_file_t model_file = {.real_path = NULL, .base = data, .size = len, .adopted = false};
  sinter_status_t st = dir ? import_buffer(data ? data : "", len, path, dir, opts,
                                           data ? &model_file : NULL, out_graph)
                           : OOM();
  free(dir);
  if (data && !model_file.adopted) munmap(data, len); /* else the graph unmaps it */
  return st;
}

sinter_status_t sinter_onnx_import_file(const char *path, sinter_graph_t **out_graph) {
  return sinter_onnx_import_file_opts(path, NULL, out_graph);
}
