/* Pattern-matching and rewriting helpers shared by the passes. */
#include <stdio.h>

#include "passes/pass_internal.h"

sinter_node_t *sinter_pat_producer(const sinter_value_t *v, sinter_op_t op) {
  if (!v || v->kind != SINTER_VALUE_NODE || !v->producer) return NULL;
  if (op != SINTER_OP_INVALID && v->producer->op != op) return NULL;
  return v->producer;
}

bool sinter_pat_single_use(const sinter_value_t *v) {
  return v && v->n_uses == 1 && v->n_output_refs == 0;
}

bool sinter_pat_is_const(const sinter_value_t *v) {
  return v && v->kind == SINTER_VALUE_CONST;
}

bool sinter_pat_is_float(const sinter_value_t *v) {
  return v && sinter_dtype_is_float(v->type.dtype);
}

bool sinter_pat_const_splat(const sinter_value_t *v, double *out_value) {
  if (!sinter_pat_is_const(v) || !sinter_dtype_is_float(v->type.dtype)) return false;
  int64_t n;
  if (!sinter_type_numel(&v->type, &n) || n < 1) return false;
  double first = sinter_load_f64(v->data, v->type.dtype, 0);
  for (int64_t i = 1; i < n; i++)
    if (sinter_load_f64(v->data, v->type.dtype, i) != first) return false;
  *out_value = first;
  return true;
}

float *sinter_pat_const_f32(const sinter_value_t *v, int64_t *out_count) {
  if (!sinter_pat_is_const(v)) return NULL;
  int64_t n;
  if (!sinter_type_numel(&v->type, &n)) return NULL;
  float *r = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!r) return NULL;
  for (int64_t i = 0; i < n; i++) r[i] = (float)sinter_load_f64(v->data, v->type.dtype, i);
  *out_count = n;
  return r;
}

const char *sinter_pat_unique_name(const sinter_graph_t *graph, const char *hint, char *buf,
                                   size_t cap) {
  snprintf(buf, cap, "%s", hint && *hint ? hint : "v");
  if (!sinter_graph_find_value(graph, buf)) return buf;
  for (int k = 1;; k++) {
    snprintf(buf, cap, "%s.%d", hint && *hint ? hint : "v", k);
    if (!sinter_graph_find_value(graph, buf)) return buf;
  }
}

static sinter_status_t add_const(sinter_graph_t *graph, const char *hint, sinter_dtype_t dtype,
                                 int32_t rank, const int64_t *dims, const void *data,
                                 size_t elem, sinter_value_t **out_value) {
  sinter_type_t t;
  sinter_type_set_static(&t, dtype, rank, dims);
  int64_t n;
  if (!sinter_type_numel(&t, &n)) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "bad constant shape");
  char name[512];
  sinter_pat_unique_name(graph, hint, name, sizeof(name));
  return sinter_graph_add_const(graph, name, &t, data, (size_t)n * elem, out_value);
}

sinter_status_t sinter_pat_add_const_f32(sinter_graph_t *graph, const char *hint, int32_t rank,
                                         const int64_t *dims, const float *data,
                                         sinter_value_t **out_value) {
  return add_const(graph, hint, SINTER_DTYPE_F32, rank, dims, data, sizeof(float), out_value);
}

sinter_status_t sinter_pat_add_const_i64(sinter_graph_t *graph, const char *hint, int32_t rank,
                                         const int64_t *dims, const int64_t *data,
                                         sinter_value_t **out_value) {
  return add_const(graph, hint, SINTER_DTYPE_I64, rank, dims, data, sizeof(int64_t), out_value);
}

static bool node_dead(const sinter_node_t *n) {
  for (int32_t i = 0; i < n->n_outputs; i++)
    if (n->outputs[i]->n_uses || n->outputs[i]->n_output_refs) return false;
  return true;
}

sinter_status_t sinter_pat_erase_dead(sinter_graph_t *graph, sinter_node_t *node,
                                      int64_t *removed) {
  if (!node_dead(node)) return NULL;
  /* Remember the inputs first: removing the node drops their uses. */
  int32_t n_in = node->n_inputs;
  sinter_value_t *stack_in[16];
  sinter_value_t **ins = n_in <= 16 ? stack_in : malloc(sizeof(*ins) * (size_t)n_in);
  if (!ins) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int32_t i = 0; i < n_in; i++) ins[i] = node->inputs[i];
  sinter_status_t st = sinter_graph_remove_node(graph, node);
  if (!st && removed) (*removed)++;
  for (int32_t i = 0; i < n_in && !st; i++) {
    sinter_value_t *v = ins[i];
    if (!v || v->removed || v->n_uses || v->n_output_refs) continue;
    if (v->kind == SINTER_VALUE_CONST)
      st = sinter_graph_remove_value(graph, v);
    else if (v->kind == SINTER_VALUE_NODE)
      st = sinter_pat_erase_dead(graph, v->producer, removed);
  }
  if (ins != stack_in) free(ins);
  return st;
}

sinter_status_t sinter_pat_replace_output(sinter_graph_t *graph, sinter_node_t *old_node,
                                          int32_t slot, sinter_value_t *v) {
  sinter_value_t *old = old_node->outputs[slot];
  /* Keep the graph-visible name on the value that now carries the result. */
  if (old->n_output_refs && v->kind == SINTER_VALUE_NODE) {
    const char *name = old->name;
    SINTER_TRY(sinter_value_set_name(old, ""));
    SINTER_TRY(sinter_value_set_name(v, name));
  }
  sinter_value_replace_all_uses(old, v);
  return sinter_pat_erase_dead(graph, old_node, NULL);
}

sinter_status_t sinter_pat_infer_node(sinter_graph_t *graph, sinter_node_t *n) {
  char desc[256];
  sinter_infer_frame_t frame;
  if (!sinter_infer_frame_init(&frame, graph, n))
    return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: too many inputs or outputs",
                        sinter_ir_node_desc(n, desc, sizeof(desc)));
  SINTER_RETURN_IF_ERROR(sinter_infer_node(&frame.ctx), "%s",
                         sinter_ir_node_desc(n, desc, sizeof(desc)));
  for (int32_t i = 0; i < n->n_outputs; i++) sinter_value_set_type(n->outputs[i], &frame.out[i]);
  return NULL;
}

sinter_status_t sinter_pat_add_scalar(sinter_graph_t *graph, const char *hint, sinter_dtype_t dt,
                                      double v, sinter_value_t **out_value) {
  sinter_type_t t;
  sinter_type_set_static(&t, dt, 0, NULL);
  uint8_t buf[8] = {0};
  size_t nbytes;
  if (!sinter_dtype_storage_size(dt, 1, &nbytes) || nbytes > sizeof(buf))
    return SINTER_ERROR(SINTER_UNSUPPORTED, "no scalar constant of dtype %s",
                        sinter_dtype_name(dt));
  sinter_store_f64(buf, dt, 0, v);
  char name[512];
  sinter_pat_unique_name(graph, hint, name, sizeof(name));
  return sinter_graph_add_const(graph, name, &t, buf, nbytes, out_value);
}

bool sinter_pat_transpose_perm(const sinter_node_t *n, int64_t *perm, int32_t *out_rank) {
  int64_t count;
  const int64_t *p = sinter_node_attr_ints(n, "perm", &count);
  if (!p) {
    int32_t r = n->inputs[0] ? n->inputs[0]->type.rank : -1;
    if (r < 0) return false;
    for (int32_t i = 0; i < r; i++) perm[i] = r - 1 - i;
    *out_rank = r;
    return true;
  }
  if (count > SINTER_MAX_RANK) return false;
  bool seen[SINTER_MAX_RANK] = {false};
  for (int64_t i = 0; i < count; i++) {
    if (p[i] < 0 || p[i] >= count || seen[p[i]]) return false;
    seen[p[i]] = true;
    perm[i] = p[i];
  }
  *out_rank = (int32_t)count;
  return true;
}
