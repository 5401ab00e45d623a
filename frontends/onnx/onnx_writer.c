/* The ONNX writer: lowers a Sinter graph into a ModelProto at the lowest
 * opset (13 or above) that can express every node in its IR form, and
 * serializes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx_internal.h"
#include "sinter/tensor_io.h"

#define OOM() SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory")

/* The oldest opset the writer targets: the first with Softmax's single-axis
 * semantics and Squeeze/Unsqueeze/Split axes as inputs, like the IR. */
#define EXPORT_MIN_OPSET 13
/* The newest opset that Debian's onnx (1.12) checks; preferred when possible. */
#define EXPORT_PREFERRED_MAX 17

typedef struct export_ctx_s {
  sinter_arena_t ar;
  int64_t opset;
} export_ctx_t;

/* ---- opset choice ------------------------------------------------------- */

static bool const_ints(const sinter_value_t *v) {
  return v && v->kind == SINTER_VALUE_CONST && v->type.rank <= 1 &&
         (v->type.dtype == SINTER_DTYPE_I64 || v->type.dtype == SINTER_DTYPE_I32);
}

static bool is_reduce_not_sum(sinter_op_t op) {
  switch (op) {
    case SINTER_OP_REDUCE_MEAN:
    case SINTER_OP_REDUCE_MAX:
    case SINTER_OP_REDUCE_MIN:
    case SINTER_OP_REDUCE_PROD:
    case SINTER_OP_REDUCE_L1:
    case SINTER_OP_REDUCE_L2:
    case SINTER_OP_REDUCE_SUM_SQUARE:
    case SINTER_OP_REDUCE_LOG_SUM:
    case SINTER_OP_REDUCE_LOG_SUM_EXP: return true;
    default: return false;
  }
}

static bool has_attr(const sinter_node_t *n, const char *name) {
  return sinter_node_attr(n, name) != NULL;
}

static bool str_attr_is(const sinter_node_t *n, const char *name, const char *v) {
  const char *s = sinter_node_attr_string(n, name, NULL);
  return s && strcmp(s, v) == 0;
}

static bool norm_axis(int64_t axis, int32_t rank, int32_t *out) {
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  *out = (int32_t)axis;
  return true;
}

/* Split's num_outputs (opset 18) can be left out at older opsets when the
 * split is even, which is what those opsets do with no split input. */
static bool split_droppable(const sinter_node_t *n) {
  if (n->n_inputs >= 2 && n->inputs[1]) return true; /* sizes given: attr redundant */
  int64_t k = sinter_node_attr_int(n, "num_outputs", -1);
  if (k != n->n_outputs || !n->inputs[0]) return false;
  const sinter_type_t *t = &n->inputs[0]->type;
  int32_t axis;
  if (t->rank < 0 || !norm_axis(sinter_node_attr_int(n, "axis", 0), t->rank, &axis)) return false;
  return t->dims[axis].size >= 0 && k > 0 && t->dims[axis].size % k == 0;
}

/* The opset that a value of this dtype needs (IR versions 9 and 10). */
static int64_t dtype_min_opset(sinter_dtype_t dt) {
  if (dt == SINTER_DTYPE_I4 || dt == SINTER_DTYPE_U4) return 21;
  if (dt == SINTER_DTYPE_F8E4M3) return 19;
  return EXPORT_MIN_OPSET;
}

/* The lowest opset at which node n can be written as it stands in the IR. */
static int64_t node_min_opset(const sinter_node_t *n) {
  int64_t v = EXPORT_MIN_OPSET;
#define NEED(x)           \
  do {                    \
    if ((x) > v) v = (x); \
  } while (0)
  switch (n->op) {
    case SINTER_OP_GELU: NEED(20); break;
    case SINTER_OP_GROUP_NORMALIZATION: NEED(21); break;
    case SINTER_OP_LAYER_NORMALIZATION: NEED(17); break;
    case SINTER_OP_MISH:
    case SINTER_OP_BITWISE_NOT:
    case SINTER_OP_BITWISE_AND:
    case SINTER_OP_BITWISE_OR:
    case SINTER_OP_BITWISE_XOR: NEED(18); break;
    case SINTER_OP_CAST_LIKE: NEED(15); break;
    case SINTER_OP_TRILU:
    case SINTER_OP_HARD_SWISH: NEED(14); break;
    case SINTER_OP_RESHAPE:
      if (sinter_node_attr_int(n, "allowzero", 0)) NEED(14);
      break;
    case SINTER_OP_BATCH_NORMALIZATION:
      if (sinter_node_attr_int(n, "training_mode", 0)) NEED(14);
      break;
    case SINTER_OP_SHAPE:
      if (has_attr(n, "start") || has_attr(n, "end")) NEED(15);
      break;
    case SINTER_OP_SCATTER_ELEMENTS:
    case SINTER_OP_SCATTER_ND:
      if (str_attr_is(n, "reduction", "add") || str_attr_is(n, "reduction", "mul")) NEED(16);
      if (str_attr_is(n, "reduction", "max") || str_attr_is(n, "reduction", "min")) NEED(18);
      break;
    case SINTER_OP_PAD:
      if (n->n_inputs >= 4 && n->inputs[3]) NEED(18);
      if (str_attr_is(n, "mode", "wrap")) NEED(19);
      break;
    case SINTER_OP_RESIZE:
      if (has_attr(n, "antialias") || has_attr(n, "axes") ||
          has_attr(n, "keep_aspect_ratio_policy"))
        NEED(18);
      if (str_attr_is(n, "coordinate_transformation_mode", "half_pixel_symmetric")) NEED(19);
      break;
    case SINTER_OP_SPLIT:
      if (has_attr(n, "num_outputs") && !split_droppable(n)) NEED(18);
      break;
    case SINTER_OP_LP_POOL:
      if (has_attr(n, "ceil_mode")) NEED(18);
      break;
    case SINTER_OP_AVERAGE_POOL:
      if (has_attr(n, "dilations")) NEED(19);
      break;
    case SINTER_OP_CAST:
      if (has_attr(n, "saturate")) NEED(19);
      break;
    case SINTER_OP_QUANTIZE_LINEAR:
    case SINTER_OP_DEQUANTIZE_LINEAR:
      if (has_attr(n, "saturate")) NEED(19);
      if (has_attr(n, "block_size") || has_attr(n, "output_dtype")) NEED(21);
      break;
    default: break;
  }
  if (is_reduce_not_sum(n->op)) {
    bool has_axes = n->n_inputs >= 2 && n->inputs[1];
    if ((has_axes && !const_ints(n->inputs[1])) ||
        sinter_node_attr_int(n, "noop_with_empty_axes", 0))
      NEED(18);
  }
  /* Types newer than opset 13. */
  for (int32_t i = 0; i < n->n_inputs + n->n_outputs; i++) {
    const sinter_value_t *x = i < n->n_inputs ? n->inputs[i] : n->outputs[i - n->n_inputs];
    if (!x) continue;
    NEED(dtype_min_opset(x->type.dtype));
  }
#undef NEED
  return v;
}

static int64_t choose_opset(const sinter_graph_t *g) {
  int64_t v = sinter_graph_opset(g, "");
  if (v > EXPORT_PREFERRED_MAX) v = EXPORT_PREFERRED_MAX;
  if (v < EXPORT_MIN_OPSET) v = EXPORT_MIN_OPSET;
  for (int32_t i = 0; i < g->n_inputs; i++) {
    int64_t need = dtype_min_opset(g->inputs[i]->type.dtype);
    if (need > v) v = need;
  }
  for (const sinter_value_t *c = g->first_const; c; c = c->next_const) {
    int64_t need = dtype_min_opset(c->type.dtype);
    if (need > v) v = need;
  }
  for (const sinter_node_t *n = g->first; n; n = n->next) {
    if (strcmp(sinter_op_info(n->op)->domain, "") != 0) continue;
    int64_t need = node_min_opset(n);
    if (need > v) v = need;
  }
  return v;
}

sinter_status_t sinter_onnx_export_opset(const sinter_graph_t *graph, int64_t *out_opset) {
  *out_opset = choose_opset(graph);
  return NULL;
}

static int64_t ir_version_for(int64_t opset) {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

/* ---- names -------------------------------------------------------------- */

/* Every value needs a unique, non-empty name in ONNX. Names come from the IR
 * when they are unique; the rest get "v<id>" (made unique). */
typedef struct names_s {
  const char **by_id; /* indexed by value id */
  uint32_t n;
  const char **set; /* open-addressing set of names in use */
  size_t cap;
} names_t;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool set_has(const names_t *nm, const char *s) {
  for (size_t i = (size_t)hash_str(s) & (nm->cap - 1); nm->set[i]; i = (i + 1) & (nm->cap - 1))
    if (strcmp(nm->set[i], s) == 0) return true;
  return false;
}

static void set_add(names_t *nm, const char *s) {
  size_t i = (size_t)hash_str(s) & (nm->cap - 1);
  while (nm->set[i]) i = (i + 1) & (nm->cap - 1);
  nm->set[i] = s;
}

static sinter_status_t name_value(export_ctx_t *ctx, names_t *nm, const sinter_value_t *v) {
  if (v->id >= nm->n) return SINTER_ERROR(SINTER_INTERNAL, "value id out of range");
  if (nm->by_id[v->id]) return NULL;
  const char *name = v->name && *v->name && !set_has(nm, v->name) ? v->name : NULL;
  if (!name) {
    const char *stem = v->name && *v->name ? v->name : "v";
    size_t len = strlen(stem);
    char *buf = sinter_arena_alloc(&ctx->ar, len + 24, 1);
    if (!buf) return OOM();
    snprintf(buf, len + 24, "%s%s%u", stem, *v->name ? "_" : "", v->id);
    for (uint64_t k = 1; set_has(nm, buf); k++)
      snprintf(buf, len + 24, "%s_%u_%llu", stem, v->id, (unsigned long long)k);
    name = buf;
  }
  set_add(nm, name);
  nm->by_id[v->id] = name;
  return NULL;
}

/* ---- protos ------------------------------------------------------------- */

static sinter_status_t make_type(export_ctx_t *ctx, const sinter_type_t *t, const char *what,
                                 Onnx__TypeProto **out) {
  sinter_arena_t *ar = &ctx->ar;
  int32_t dt = (int32_t)sinter_dtype_to_onnx(t->dtype);
  if (!dt)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "%s has no known dtype (run shape inference "
                        "before exporting)",
                        what);
  Onnx__TypeProto *tp = sinter_arena_alloc(ar, sizeof(*tp), 8);
  Onnx__TypeProto__Tensor *tt = sinter_arena_alloc(ar, sizeof(*tt), 8);
  if (!tp || !tt) return OOM();
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = dt;
  if (t->rank >= 0) {
    Onnx__TensorShapeProto *sp = sinter_arena_alloc(ar, sizeof(*sp), 8);
    Onnx__TensorShapeProto__Dimension **dims =
        sinter_arena_alloc(ar, sizeof(*dims) * ((size_t)t->rank + 1), 8);
    if (!sp || !dims) return OOM();
    onnx__tensor_shape_proto__init(sp);
    for (int32_t i = 0; i < t->rank; i++) {
      Onnx__TensorShapeProto__Dimension *d = sinter_arena_alloc(ar, sizeof(*d), 8);
      if (!d) return OOM();
      onnx__tensor_shape_proto__dimension__init(d);
      if (t->dims[i].size >= 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = t->dims[i].size;
      } else if (t->dims[i].sym) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = (char *)t->dims[i].sym;
      }
      dims[i] = d;
    }
    sp->n_dim = (size_t)t->rank;
    sp->dim = dims;
    tt->shape = sp;
  }
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  *out = tp;
  return NULL;
}

static sinter_status_t make_value_info(export_ctx_t *ctx, const char *name, const sinter_type_t *t,
                                       const char *what, Onnx__ValueInfoProto **out) {
  Onnx__ValueInfoProto *vi = sinter_arena_alloc(&ctx->ar, sizeof(*vi), 8);
  if (!vi) return OOM();
  onnx__value_info_proto__init(vi);
  vi->name = (char *)name;
  SINTER_TRY(make_type(ctx, t, what, &vi->type));
  *out = vi;
  return NULL;
}

static sinter_status_t graph_proto(export_ctx_t *ctx, const sinter_graph_t *g,
                                   Onnx__GraphProto **out);

static sinter_status_t make_attr(export_ctx_t *ctx, const sinter_attr_t *a,
                                 Onnx__AttributeProto **out) {
  sinter_arena_t *ar = &ctx->ar;
  Onnx__AttributeProto *p = sinter_arena_alloc(ar, sizeof(*p), 8);
  if (!p) return OOM();
  onnx__attribute_proto__init(p);
  p->name = (char *)a->name;
  p->has_type = 1;
  size_t n = a->count > 0 ? (size_t)a->count : 0;
  switch (a->kind) {
    case SINTER_ATTR_INT:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
      p->has_i = 1;
      p->i = a->i;
      break;
    case SINTER_ATTR_FLOAT:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
      p->has_f = 1;
      p->f = a->f;
      break;
    case SINTER_ATTR_STRING:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
      p->has_s = 1;
      p->s.data = (uint8_t *)(a->s ? a->s : "");
      p->s.len = a->s ? a->s_len : 0;
      break;
    case SINTER_ATTR_INTS:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
      p->n_ints = n;
      p->ints = (int64_t *)a->ints;
      break;
    case SINTER_ATTR_FLOATS:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
      p->n_floats = n;
      p->floats = (float *)a->floats;
      break;
    case SINTER_ATTR_STRINGS: {
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
      ProtobufCBinaryData *ss = sinter_arena_alloc(ar, sizeof(*ss) * (n + 1), 8);
      if (!ss) return OOM();
      for (size_t i = 0; i < n; i++) {
        ss[i].data = (uint8_t *)a->strings[i];
        ss[i].len = strlen(a->strings[i]);
      }
      p->n_strings = n;
      p->strings = ss;
      break;
    }
    case SINTER_ATTR_TENSOR:
    case SINTER_ATTR_TENSORS: {
      Onnx__TensorProto **ts = sinter_arena_alloc(ar, sizeof(*ts) * (n + 1), 8);
      if (!ts) return OOM();
      for (size_t i = 0; i < n; i++) {
        const sinter_tensor_t *t = &a->tensors[i];
        SINTER_RETURN_IF_ERROR(
            onnx_tensor_encode(t->dtype, t->rank, t->dims, t->data, t->nbytes, NULL, ar, &ts[i]),
            "attribute '%s'", a->name);
      }
      if (a->kind == SINTER_ATTR_TENSOR) {
        if (n != 1)
          return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "attribute '%s' must hold one tensor",
                              a->name);
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
        p->t = ts[0];
      } else {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS;
        p->n_tensors = n;
        p->tensors = ts;
      }
      break;
    }
    case SINTER_ATTR_GRAPH:
    case SINTER_ATTR_GRAPHS: {
      Onnx__GraphProto **gs = sinter_arena_alloc(ar, sizeof(*gs) * (n + 1), 8);
      if (!gs) return OOM();
      for (size_t i = 0; i < n; i++)
        SINTER_RETURN_IF_ERROR(graph_proto(ctx, a->graphs[i], &gs[i]), "attribute '%s'", a->name);
      if (a->kind == SINTER_ATTR_GRAPH) {
        if (n != 1)
          return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "attribute '%s' must hold one graph",
                              a->name);
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
        p->g = gs[0];
      } else {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
        p->n_graphs = n;
        p->graphs = gs;
      }
      break;
    }
    default:
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "attribute '%s' has unknown kind %d", a->name,
                          a->kind);
  }
  *out = p;
  return NULL;
}

/* True when axes input slot of n is written as an attribute instead. */
static bool axes_as_attr(const export_ctx_t *ctx, const sinter_node_t *n, int32_t slot) {
  return slot == 1 && ctx->opset < 18 && is_reduce_not_sum(n->op) &&
         !*sinter_op_info(n->op)->domain;
}

/* A constant whose every use becomes an axes attribute is left out, so that
 * re-importing the file does not grow an unused initializer. */
static bool only_reduce_axes(const export_ctx_t *ctx, const sinter_value_t *c) {
  if (!c->n_uses || c->n_output_refs) return false;
  for (int32_t i = 0; i < c->n_uses; i++)
    if (!axes_as_attr(ctx, c->uses[i].node, c->uses[i].slot)) return false;
  return true;
}

/* Reads the integers of a constant int32/int64 tensor into the arena. */
static sinter_status_t const_to_ints(export_ctx_t *ctx, const sinter_value_t *v, int64_t **out,
                                     size_t *out_n) {
  int64_t numel;
  if (!sinter_type_numel(&v->type, &numel) || numel < 0)
    return SINTER_ERROR(SINTER_INTERNAL, "constant without a static shape");
  int64_t *ints = sinter_arena_alloc(&ctx->ar, sizeof(int64_t) * ((size_t)numel + 1), 8);
  if (!ints) return OOM();
  for (int64_t i = 0; i < numel; i++) {
    if (v->type.dtype == SINTER_DTYPE_I64) {
      memcpy(&ints[i], (const char *)v->data + 8 * i, 8);
    } else {
      int32_t x;
      memcpy(&x, (const char *)v->data + 4 * i, 4);
      ints[i] = x;
    }
  }
  *out = ints;
  *out_n = (size_t)numel;
  return NULL;
}

static sinter_status_t node_proto(export_ctx_t *ctx, const names_t *nm, const sinter_node_t *n,
                                  Onnx__NodeProto **out) {
  sinter_arena_t *ar = &ctx->ar;
  const sinter_op_info_t *info = sinter_op_info(n->op);
  Onnx__NodeProto *p = sinter_arena_alloc(ar, sizeof(*p), 8);
  if (!p) return OOM();
  onnx__node_proto__init(p);
  p->op_type = (char *)info->name;
  if (*info->domain) p->domain = (char *)info->domain;
  if (n->name && *n->name) p->name = (char *)n->name;

  bool is_default = !*info->domain;
  int32_t n_in = n->n_inputs;
  /* Reduce* other than ReduceSum take axes as an attribute before opset 18. */
  bool axes_to_attr = n_in >= 2 && axes_as_attr(ctx, n, 1);
  int64_t *axes = NULL;
  size_t n_axes = 0;
  if (axes_to_attr && n->inputs[1]) SINTER_TRY(const_to_ints(ctx, n->inputs[1], &axes, &n_axes));
  if (axes_to_attr) n_in = 1;
  while (n_in > 0 && !n->inputs[n_in - 1]) n_in--;
  p->input = sinter_arena_alloc(ar, sizeof(char *) * ((size_t)n_in + 1), 8);
  p->output = sinter_arena_alloc(ar, sizeof(char *) * ((size_t)n->n_outputs + 1), 8);
  p->attribute = sinter_arena_alloc(ar, sizeof(void *) * ((size_t)n->n_attrs + 2), 8);
  if (!p->input || !p->output || !p->attribute) return OOM();
  for (int32_t i = 0; i < n_in; i++)
    p->input[i] = n->inputs[i] ? (char *)nm->by_id[n->inputs[i]->id] : (char *)"";
  p->n_input = (size_t)n_in;
  for (int32_t i = 0; i < n->n_outputs; i++) p->output[i] = (char *)nm->by_id[n->outputs[i]->id];
  p->n_output = (size_t)n->n_outputs;

  for (int32_t i = 0; i < n->n_attrs; i++) {
    const sinter_attr_t *a = &n->attrs[i];
    if (is_default && ctx->opset < 18) {
      if (n->op == SINTER_OP_SPLIT && strcmp(a->name, "num_outputs") == 0) continue;
      if (is_reduce_not_sum(n->op) && strcmp(a->name, "noop_with_empty_axes") == 0) continue;
    }
    if (is_default && ctx->opset < 14 && n->op == SINTER_OP_BATCH_NORMALIZATION &&
        strcmp(a->name, "training_mode") == 0)
      continue;
    SINTER_RETURN_IF_ERROR(make_attr(ctx, a, &p->attribute[p->n_attribute]), "node '%s' (%s)",
                           n->name, info->name);
    p->n_attribute++;
  }
  if (axes) {
    sinter_attr_t a = {
        .name = "axes", .kind = SINTER_ATTR_INTS, .ints = axes, .count = (int64_t)n_axes};
    SINTER_TRY(make_attr(ctx, &a, &p->attribute[p->n_attribute]));
    p->n_attribute++;
  }
  *out = p;
  return NULL;
}

/* Fills a GraphProto from g; all memory comes from the arena, and constant
 * data is referenced, not copied. */
static sinter_status_t graph_proto(export_ctx_t *ctx, const sinter_graph_t *g,
                                   Onnx__GraphProto **out) {
  sinter_arena_t *ar = &ctx->ar;
  names_t nm = {0};
  nm.n = g->next_value_id;
  nm.by_id = sinter_arena_alloc(ar, sizeof(char *) * ((size_t)nm.n + 1), 8);
  nm.cap = 64;
  while (nm.cap < (size_t)nm.n * 2 + 16) nm.cap *= 2;
  nm.set = sinter_arena_alloc(ar, sizeof(char *) * nm.cap, 8);
  if (!nm.by_id || !nm.set) return OOM();
  /* Names given by the IR win over generated ones: inputs, constants and
   * outputs first, in a fixed order. */
  for (int32_t i = 0; i < g->n_inputs; i++) SINTER_TRY(name_value(ctx, &nm, g->inputs[i]));
  for (const sinter_value_t *c = g->first_const; c; c = c->next_const)
    SINTER_TRY(name_value(ctx, &nm, c));
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_outputs; i++)
      if (*n->outputs[i]->name) SINTER_TRY(name_value(ctx, &nm, n->outputs[i]));
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_outputs; i++) SINTER_TRY(name_value(ctx, &nm, n->outputs[i]));
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_inputs; i++)
      if (n->inputs[i] && (n->inputs[i]->graph != g || !nm.by_id[n->inputs[i]->id]))
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                            "node '%s' (%s): input %d is not a value of this graph", n->name,
                            sinter_op_info(n->op)->name, i);

  Onnx__GraphProto *gp = sinter_arena_alloc(ar, sizeof(*gp), 8);
  if (!gp) return OOM();
  onnx__graph_proto__init(gp);
  gp->name = (char *)(g->name ? g->name : "main");

  gp->input = sinter_arena_alloc(ar, sizeof(void *) * ((size_t)g->n_inputs + 1), 8);
  if (!gp->input) return OOM();
  for (int32_t i = 0; i < g->n_inputs; i++) {
    const sinter_value_t *v = g->inputs[i];
    char what[96];
    snprintf(what, sizeof(what), "graph input '%.64s'", nm.by_id[v->id]);
    SINTER_TRY(make_value_info(ctx, nm.by_id[v->id], &v->type, what, &gp->input[i]));
  }
  gp->n_input = (size_t)g->n_inputs;

  gp->initializer = sinter_arena_alloc(ar, sizeof(void *) * ((size_t)g->n_consts + 1), 8);
  if (!gp->initializer) return OOM();
  for (const sinter_value_t *c = g->first_const; c; c = c->next_const) {
    if (only_reduce_axes(ctx, c)) continue;
    int64_t dims[SINTER_MAX_RANK];
    for (int32_t i = 0; i < c->type.rank; i++) dims[i] = c->type.dims[i].size;
    SINTER_TRY(onnx_tensor_encode(c->type.dtype, c->type.rank, dims, c->data, c->nbytes,
                                  nm.by_id[c->id], ar, &gp->initializer[gp->n_initializer]));
    gp->n_initializer++;
  }

  gp->node = sinter_arena_alloc(ar, sizeof(void *) * ((size_t)g->n_nodes + 1), 8);
  gp->value_info = sinter_arena_alloc(ar, sizeof(void *) * ((size_t)g->next_value_id + 1), 8);
  if (!gp->node || !gp->value_info) return OOM();
  /* ONNX wants node names unique within a graph; the IR does not (passes
   * name new nodes after the ones they replace), so repeats get a suffix. */
  names_t node_names = {0};
  node_names.cap = 16;
  while (node_names.cap < (size_t)g->n_nodes * 2 + 16) node_names.cap *= 2;
  node_names.set = sinter_arena_alloc(ar, sizeof(char *) * node_names.cap, 8);
  if (!node_names.set) return OOM();
  for (const sinter_node_t *n = g->first; n; n = n->next) {
    SINTER_TRY(node_proto(ctx, &nm, n, &gp->node[gp->n_node]));
    Onnx__NodeProto *np = gp->node[gp->n_node];
    if (np->name && *np->name) {
      if (set_has(&node_names, np->name)) {
        size_t len = strlen(np->name) + 24;
        char *buf = sinter_arena_alloc(ar, len, 1);
        if (!buf) return OOM();
        for (uint64_t k = 1;; k++) {
          snprintf(buf, len, "%s.%llu", n->name, (unsigned long long)k);
          if (!set_has(&node_names, buf)) break;
        }
        np->name = buf;
      }
      set_add(&node_names, np->name);
    }
    gp->n_node++;
    for (int32_t i = 0; i < n->n_outputs; i++) {
      const sinter_value_t *v = n->outputs[i];
      if (v->type.dtype == SINTER_DTYPE_UNDEFINED || v->n_output_refs) continue;
      SINTER_TRY(make_value_info(ctx, nm.by_id[v->id], &v->type, "value",
                                 &gp->value_info[gp->n_value_info]));
      gp->n_value_info++;
    }
  }

  gp->output = sinter_arena_alloc(ar, sizeof(void *) * ((size_t)g->n_outputs + 1), 8);
  if (!gp->output) return OOM();
  for (int32_t i = 0; i < g->n_outputs; i++) {
    const sinter_value_t *v = g->outputs[i];
    char what[96];
    snprintf(what, sizeof(what), "graph output '%.64s'", nm.by_id[v->id]);
    SINTER_TRY(make_value_info(ctx, nm.by_id[v->id], &v->type, what, &gp->output[i]));
  }
  gp->n_output = (size_t)g->n_outputs;
  *out = gp;
  return NULL;
}

/* Adds domain to the model's opset imports unless it is there. */
static sinter_status_t add_opset(export_ctx_t *ctx, Onnx__ModelProto *m, const char *domain,
                                 int64_t version) {
  for (size_t i = 0; i < m->n_opset_import; i++)
    if (strcmp(m->opset_import[i]->domain ? m->opset_import[i]->domain : "", domain) == 0)
      return NULL;
  Onnx__OperatorSetIdProto *o = sinter_arena_alloc(&ctx->ar, sizeof(*o), 8);
  Onnx__OperatorSetIdProto **list =
      sinter_arena_alloc(&ctx->ar, sizeof(*list) * (m->n_opset_import + 1), 8);
  if (!o || !list) return OOM();
  onnx__operator_set_id_proto__init(o);
  o->domain = (char *)domain;
  o->has_version = 1;
  o->version = version;
  if (m->n_opset_import) memcpy(list, m->opset_import, sizeof(*list) * m->n_opset_import);
  list[m->n_opset_import++] = o;
  m->opset_import = list;
  return NULL;
}

static sinter_status_t export_buffer(const sinter_graph_t *graph, void **out_data,
                                     size_t *out_len) {
  export_ctx_t ctx;
  sinter_arena_init(&ctx.ar, 256 * 1024);
  ctx.opset = choose_opset(graph);
  Onnx__ModelProto m;
  onnx__model_proto__init(&m);
  m.has_ir_version = 1;
  m.ir_version = ir_version_for(ctx.opset);
  m.producer_name = "sinter";
  m.producer_version = "0.1.0";
  sinter_status_t st = graph_proto(&ctx, graph, &m.graph);
  if (!st) st = add_opset(&ctx, &m, "", ctx.opset);
  for (const sinter_node_t *n = graph->first; n && !st; n = n->next) {
    const char *d = sinter_op_info(n->op)->domain;
    if (*d) st = add_opset(&ctx, &m, d, 1);
  }
  if (!st) {
    size_t len = onnx__model_proto__get_packed_size(&m);
    /* ONNX (protobuf) cannot read messages of 2 GiB or more. */
    if (len >= ((size_t)1 << 31)) {
      st = SINTER_ERROR(SINTER_UNSUPPORTED,
                        "the model is %zu bytes; ONNX files of 2 GiB or more "
                        "need external data, which the writer does not produce yet",
                        len);
    } else {
      void *buf = malloc(len ? len : 1);
      if (!buf) {
        st = OOM();
      } else {
        onnx__model_proto__pack(&m, buf);
        *out_data = buf;
        *out_len = len;
      }
    }
  }
  sinter_arena_deinit(&ctx.ar);
  return st;
}

sinter_status_t sinter_onnx_export_buffer(const sinter_graph_t *graph, void **out_data,
                                          size_t *out_len) {
  *out_data = NULL;
  *out_len = 0;
  SINTER_RETURN_IF_ERROR(export_buffer(graph, out_data, out_len), "exporting graph '%s' to ONNX",
                         graph->name);
  return NULL;
}

sinter_status_t sinter_onnx_export_file(const sinter_graph_t *graph, const char *path) {
  void *data;
  size_t len;
  SINTER_RETURN_IF_ERROR(export_buffer(graph, &data, &len), "%s", path);
  sinter_status_t st = sinter_write_file_atomic(path, data, len);
  free(data);
  return st;
}
