/* A small header-only builder for ONNX ModelProtos in memory, for the
 * frontend's tests and fuzz targets: every message lives in one arena, and
 * ob_pack serializes the model into a malloc'ed buffer. Not used by the
 * library itself. */
#ifndef SINTER_ONNX_BUILDER_H
#define SINTER_ONNX_BUILDER_H

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "onnx.pb-c.h"

typedef struct ob_s {
  sinter_arena_t ar;
  Onnx__ModelProto *m;
  Onnx__GraphProto *g;
} ob_t;

static inline void *ob_alloc(ob_t *b, size_t n) {
  void *p = sinter_arena_alloc(&b->ar, n ? n : 1, 8);
  if (!p) abort(); /* test helper: out of memory is fatal */
  return p;
}

static inline char *ob_str(ob_t *b, const char *s) {
  size_t n = strlen(s);
  char *c = ob_alloc(b, n + 1);
  memcpy(c, s, n + 1);
  return c;
}

/* Appends item to an arena array of pointers (copying it each time). */
static inline void ob_push(ob_t *b, void ***arr, size_t *n, void *item) {
  void **na = ob_alloc(b, sizeof(void *) * (*n + 1));
  if (*n) memcpy(na, *arr, sizeof(void *) * *n);
  na[(*n)++] = item;
  *arr = na;
}

#define OB_PUSH(b, arr, n, item) ob_push((b), (void ***)&(arr), &(n), (item))

/* Starts a model importing the default domain at opset (0: no opset_import). */
static inline void ob_init(ob_t *b, int64_t opset) {
  sinter_arena_init(&b->ar, 64 * 1024);
  b->m = ob_alloc(b, sizeof(*b->m));
  onnx__model_proto__init(b->m);
  b->m->has_ir_version = 1;
  b->m->ir_version = opset >= 15 ? 8 : 7;
  b->g = ob_alloc(b, sizeof(*b->g));
  onnx__graph_proto__init(b->g);
  b->g->name = ob_str(b, "g");
  b->m->graph = b->g;
  if (opset > 0) {
    Onnx__OperatorSetIdProto *o = ob_alloc(b, sizeof(*o));
    onnx__operator_set_id_proto__init(o);
    o->domain = ob_str(b, "");
    o->has_version = 1;
    o->version = opset;
    OB_PUSH(b, b->m->opset_import, b->m->n_opset_import, o);
  }
}

static inline void ob_deinit(ob_t *b) {
  sinter_arena_deinit(&b->ar);
}

/* Splits "a,b,,c" into names (empty entries stay, "" gives none). */
static inline void ob_names(ob_t *b, const char *list, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!list || !*list) return;
  for (const char *s = list;;) {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    char *c = ob_alloc(b, len + 1);
    memcpy(c, s, len);
    OB_PUSH(b, *out, *n, c);
    if (!e) break;
    s = e + 1;
  }
}

/* Adds a node; inputs and outputs are comma-separated names. */
static inline Onnx__NodeProto *ob_node(ob_t *b, const char *op, const char *name,
                                       const char *inputs, const char *outputs) {
  Onnx__NodeProto *n = ob_alloc(b, sizeof(*n));
  onnx__node_proto__init(n);
  n->op_type = ob_str(b, op);
  if (name) n->name = ob_str(b, name);
  ob_names(b, inputs, &n->input, &n->n_input);
  ob_names(b, outputs, &n->output, &n->n_output);
  OB_PUSH(b, b->g->node, b->g->n_node, n);
  return n;
}

static inline Onnx__AttributeProto *ob_attr(ob_t *b, Onnx__NodeProto *n, const char *name,
                                            int type) {
  Onnx__AttributeProto *a = ob_alloc(b, sizeof(*a));
  onnx__attribute_proto__init(a);
  a->name = ob_str(b, name);
  a->has_type = 1;
  a->type = (Onnx__AttributeProto__AttributeType)type;
  OB_PUSH(b, n->attribute, n->n_attribute, a);
  return a;
}

static inline void ob_attr_int(ob_t *b, Onnx__NodeProto *n, const char *name, int64_t v) {
  Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  a->has_i = 1;
  a->i = v;
}

static inline void ob_attr_float(ob_t *b, Onnx__NodeProto *n, const char *name, float v) {
  Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->has_f = 1;
  a->f = v;
}

static inline void ob_attr_string(ob_t *b, Onnx__NodeProto *n, const char *name, const char *v) {
  Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  a->has_s = 1;
  a->s.data = (uint8_t *)ob_str(b, v);
  a->s.len = strlen(v);
}

static inline void ob_attr_ints(ob_t *b, Onnx__NodeProto *n, const char *name, const int64_t *v,
                                size_t count) {
  Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->ints = ob_alloc(b, sizeof(int64_t) * count);
  memcpy(a->ints, v, sizeof(int64_t) * count);
  a->n_ints = count;
}

static inline void ob_attr_floats(ob_t *b, Onnx__NodeProto *n, const char *name, const float *v,
                                  size_t count) {
  Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
  a->floats = ob_alloc(b, sizeof(float) * count);
  memcpy(a->floats, v, sizeof(float) * count);
  a->n_floats = count;
}

/* A tensor with raw_data (copied); name may be NULL. Not attached anywhere. */
static inline Onnx__TensorProto *ob_tensor(ob_t *b, const char *name, int32_t data_type,
                                           size_t rank, const int64_t *dims, const void *raw,
                                           size_t nbytes) {
  Onnx__TensorProto *t = ob_alloc(b, sizeof(*t));
  onnx__tensor_proto__init(t);
  if (name) t->name = ob_str(b, name);
  t->has_data_type = 1;
  t->data_type = data_type;
  t->n_dims = rank;
  t->dims = ob_alloc(b, sizeof(int64_t) * (rank + 1));
  if (rank) memcpy(t->dims, dims, sizeof(int64_t) * rank);
  if (raw) {
    t->has_raw_data = 1;
    t->raw_data.data = ob_alloc(b, nbytes);
    memcpy(t->raw_data.data, raw, nbytes);
    t->raw_data.len = nbytes;
  }
  return t;
}

/* Adds an initializer with raw_data. */
static inline Onnx__TensorProto *ob_initializer(ob_t *b, const char *name, int32_t data_type,
                                                size_t rank, const int64_t *dims, const void *raw,
                                                size_t nbytes) {
  Onnx__TensorProto *t = ob_tensor(b, name, data_type, rank, dims, raw, nbytes);
  OB_PUSH(b, b->g->initializer, b->g->n_initializer, t);
  return t;
}

/* A tensor ValueInfo. rank -1: no shape. dims: >= 0 a size, -1 an unknown
 * dim, -2 the symbol "N". */
static inline Onnx__ValueInfoProto *ob_value_info(ob_t *b, const char *name, int32_t elem, int rank,
                                                  const int64_t *dims) {
  Onnx__ValueInfoProto *vi = ob_alloc(b, sizeof(*vi));
  onnx__value_info_proto__init(vi);
  vi->name = ob_str(b, name);
  Onnx__TypeProto *tp = ob_alloc(b, sizeof(*tp));
  onnx__type_proto__init(tp);
  Onnx__TypeProto__Tensor *tt = ob_alloc(b, sizeof(*tt));
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = elem;
  if (rank >= 0) {
    Onnx__TensorShapeProto *sp = ob_alloc(b, sizeof(*sp));
    onnx__tensor_shape_proto__init(sp);
    for (int i = 0; i < rank; i++) {
      Onnx__TensorShapeProto__Dimension *d = ob_alloc(b, sizeof(*d));
      onnx__tensor_shape_proto__dimension__init(d);
      if (dims[i] >= 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
      } else if (dims[i] == -2) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = ob_str(b, "N");
      }
      OB_PUSH(b, sp->dim, sp->n_dim, d);
    }
    tt->shape = sp;
  }
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  vi->type = tp;
  return vi;
}

static inline Onnx__ValueInfoProto *ob_input(ob_t *b, const char *name, int32_t elem, int rank,
                                             const int64_t *dims) {
  Onnx__ValueInfoProto *vi = ob_value_info(b, name, elem, rank, dims);
  OB_PUSH(b, b->g->input, b->g->n_input, vi);
  return vi;
}

static inline Onnx__ValueInfoProto *ob_output(ob_t *b, const char *name, int32_t elem, int rank,
                                              const int64_t *dims) {
  Onnx__ValueInfoProto *vi = ob_value_info(b, name, elem, rank, dims);
  OB_PUSH(b, b->g->output, b->g->n_output, vi);
  return vi;
}

/* Adds a key/value pair to a tensor's external_data and marks it external. */
static inline void ob_external(ob_t *b, Onnx__TensorProto *t, const char *key, const char *v) {
  Onnx__StringStringEntryProto *e = ob_alloc(b, sizeof(*e));
  onnx__string_string_entry_proto__init(e);
  e->key = ob_str(b, key);
  e->value = ob_str(b, v);
  OB_PUSH(b, t->external_data, t->n_external_data, e);
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

/* Serializes the model into a malloc'ed buffer the caller frees. */
static inline void *ob_pack(ob_t *b, size_t *out_len) {
  size_t len = onnx__model_proto__get_packed_size(b->m);
  void *buf = malloc(len ? len : 1);
  if (!buf) abort();
  onnx__model_proto__pack(b->m, buf);
  *out_len = len;
  return buf;
}

#endif /* SINTER_ONNX_BUILDER_H */
