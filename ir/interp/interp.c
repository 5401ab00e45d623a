/* The reference interpreter: runs a graph node by node with the kernels in
 * ir/interp/k_*.c. Each node's output shapes come from the same inference
 * functions the compiler uses, fed with concrete input shapes and data. */
#include <stdio.h>

#include "ir/interp/kernels.h"

struct sinter_interp_s {
  const sinter_graph_t *graph;
  sinter_interp_observer_fn observer;
  void *observer_user;
};

typedef struct slot_s {
  sinter_tensor_t t;
  bool owned;     /* t.data is malloc'ed by the interpreter */
  bool ready;
  int32_t pending; /* uses still to come */
} slot_t;

sinter_status_t sinter_interp_create(const sinter_graph_t *graph, sinter_interp_t **out_interp) {
  *out_interp = NULL;
  for (const sinter_node_t *n = graph->first; n; n = n->next)
    if (!sinter_op_impl(n->op) || !sinter_op_impl(n->op)->run)
    {
      char desc[256];
      return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: the interpreter has no kernel for it",
                          sinter_ir_node_desc(n, desc, sizeof(desc)));
    }
  sinter_interp_t *in = calloc(1, sizeof(*in));
  if (!in) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  in->graph = graph;
  *out_interp = in;
  return NULL;
}

void sinter_interp_destroy(sinter_interp_t *interp) { free(interp); }

void sinter_interp_set_observer(sinter_interp_t *interp, sinter_interp_observer_fn fn,
                                void *user) {
  interp->observer = fn;
  interp->observer_user = user;
}

void sinter_tensor_free_data(sinter_tensor_t *t) {
  if (!t) return;
  free(t->data);
  t->data = NULL;
  t->nbytes = 0;
}

static void type_of_tensor(const sinter_tensor_t *t, sinter_type_t *out) {
  sinter_type_set_static(out, t->dtype, t->rank, t->dims);
}

/* Checks a caller's input against the graph input's declared type and binds
 * symbolic dims to sizes (the same symbol must get the same size). */
static sinter_status_t bind_input(const sinter_value_t *v, const sinter_tensor_t *t,
                                  const char **syms, int64_t *sizes, int32_t *n_syms) {
  const sinter_type_t *ty = &v->type;
  if (ty->dtype != SINTER_DTYPE_UNDEFINED && t->dtype != ty->dtype)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s': dtype %s, expected %s", v->name,
                        sinter_dtype_name(t->dtype), sinter_dtype_name(ty->dtype));
  if (t->rank < 0 || t->rank > SINTER_MAX_RANK)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s': bad rank %d", v->name, t->rank);
  if (ty->rank >= 0) {
    if (t->rank != ty->rank)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s': rank %d, expected %d", v->name,
                          t->rank, ty->rank);
    for (int32_t d = 0; d < t->rank; d++) {
      if (ty->dims[d].size >= 0 && ty->dims[d].size != t->dims[d])
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s': dim %d is %lld, expected %lld",
                            v->name, d, (long long)t->dims[d], (long long)ty->dims[d].size);
      if (ty->dims[d].size < 0 && ty->dims[d].sym) {
        int32_t k = 0;
        while (k < *n_syms && syms[k] != ty->dims[d].sym) k++;
        if (k < *n_syms) {
          if (sizes[k] != t->dims[d])
            return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                                "input '%s': dim %d (%s) is %lld, but %s is %lld elsewhere",
                                v->name, d, syms[k], (long long)t->dims[d], syms[k],
                                (long long)sizes[k]);
        } else if (*n_syms < 64) {
          syms[*n_syms] = ty->dims[d].sym;
          sizes[(*n_syms)++] = t->dims[d];
        }
      }
    }
  }
  int64_t n = sinter_tensor_numel(t);
  size_t need;
  if (n < 0 || !sinter_dtype_storage_size(t->dtype, n, &need) || t->nbytes < need)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s': %zu bytes of data, shape needs more",
                        v->name, t->nbytes);
  return NULL;
}

static sinter_status_t run_node(sinter_interp_t *ip, const sinter_node_t *node, slot_t *slots) {
  enum { MAXIO = 64 };
  const sinter_op_info_t *info = sinter_op_info(node->op);
  int32_t n_in = node->n_inputs, n_out = node->n_outputs;
  if (n_in > MAXIO || n_out > MAXIO)
    return SINTER_ERROR(SINTER_UNSUPPORTED, "more than %d inputs or outputs", MAXIO);
  const sinter_tensor_t *in[MAXIO];
  sinter_type_t in_types[MAXIO];
  const sinter_type_t *in_type_ptrs[MAXIO];
  const void *in_data[MAXIO];
  size_t in_nbytes[MAXIO];
  sinter_type_t out_types[MAXIO];
  sinter_tensor_t out[MAXIO];
  memset(out, 0, sizeof(out));
  memset(out_types, 0, sizeof(out_types));
  for (int32_t i = 0; i < n_in; i++) {
    const sinter_value_t *v = node->inputs[i];
    if (!v) {
      in[i] = NULL;
      in_type_ptrs[i] = NULL;
      in_data[i] = NULL;
      in_nbytes[i] = 0;
      continue;
    }
    slot_t *s = &slots[v->id];
    if (!s->ready)
      return SINTER_ERROR(SINTER_INVALID_MODEL, "input %d ('%s') is not computed yet", i, v->name);
    in[i] = &s->t;
    type_of_tensor(&s->t, &in_types[i]);
    in_type_ptrs[i] = &in_types[i];
    in_data[i] = s->t.data;
    in_nbytes[i] = s->t.nbytes;
  }
  sinter_infer_ctx_t ictx = {
      .graph = NULL, .node = node, .n_inputs = n_in, .in = in_type_ptrs, .in_data = in_data,
      .in_nbytes = in_nbytes, .n_outputs = n_out, .out = out_types,
  };
  for (int32_t i = 0; i < n_out; i++) out_types[i].rank = -1;
  sinter_status_t st = sinter_infer_node(&ictx);
  if (st) return st;
  for (int32_t i = 0; i < n_out; i++) {
    if (!sinter_type_is_static(&out_types[i])) continue;
    int64_t dims[SINTER_MAX_RANK];
    for (int32_t d = 0; d < out_types[i].rank; d++) dims[d] = out_types[i].dims[d].size;
    sinter_kernel_ctx_t tmp = {.node = node, .n_outputs = n_out, .out = out};
    st = sinter_kernel_alloc_output(&tmp, i, out_types[i].dtype, out_types[i].rank, dims);
    if (st) goto fail;
  }
  sinter_kernel_ctx_t kctx = {
      .node = node, .n_inputs = n_in, .in = in, .n_outputs = n_out, .out = out,
  };
  st = sinter_op_impl(node->op)->run(&kctx);
  if (st) goto fail;
  for (int32_t i = 0; i < n_out; i++) {
    if (!out[i].data) {
      st = SINTER_ERROR(SINTER_INTERNAL, "kernel for %s did not produce output %d", info->name, i);
      goto fail;
    }
  }
  if (ip->observer && !ip->observer(ip->observer_user, node, out, n_out)) {
    st = SINTER_ERROR(SINTER_INTERNAL, "stopped by the observer");
    goto fail;
  }
  for (int32_t i = 0; i < n_out; i++) {
    slot_t *s = &slots[node->outputs[i]->id];
    s->t = out[i];
    s->owned = true;
    s->ready = true;
  }
  return NULL;
fail:
  for (int32_t i = 0; i < n_out; i++) free(out[i].data);
  return st;
}

sinter_status_t sinter_interp_run(sinter_interp_t *ip, const sinter_tensor_t *inputs,
                                  int32_t n_inputs, sinter_tensor_t *out_outputs) {
  const sinter_graph_t *g = ip->graph;
  if (n_inputs != g->n_inputs)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "graph '%s' takes %d inputs, got %d", g->name,
                        g->n_inputs, n_inputs);
  for (int32_t i = 0; i < g->n_outputs; i++) memset(&out_outputs[i], 0, sizeof(sinter_tensor_t));
  slot_t *slots = calloc(g->next_value_id ? g->next_value_id : 1, sizeof(slot_t));
  if (!slots) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  sinter_status_t st = NULL;
  const char *syms[64];
  int64_t sizes[64];
  int32_t n_syms = 0;
  for (int32_t i = 0; i < g->n_inputs && !st; i++) {
    const sinter_value_t *v = g->inputs[i];
    st = bind_input(v, &inputs[i], syms, sizes, &n_syms);
    slots[v->id].t = inputs[i];
    slots[v->id].ready = true;
  }
  for (const sinter_value_t *c = g->first_const; c && !st; c = c->next_const) {
    slot_t *s = &slots[c->id];
    s->t.dtype = c->type.dtype;
    s->t.rank = c->type.rank;
    for (int32_t d = 0; d < c->type.rank; d++) s->t.dims[d] = c->type.dims[d].size;
    s->t.data = (void *)c->data;
    s->t.nbytes = c->nbytes;
    s->ready = true;
  }
  /* Count remaining uses so that intermediates are freed as soon as possible. */
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_inputs; i++)
      if (n->inputs[i]) slots[n->inputs[i]->id].pending++;
  for (int32_t i = 0; i < g->n_outputs; i++) slots[g->outputs[i]->id].pending++;

  for (const sinter_node_t *n = g->first; n && !st; n = n->next) {
    st = run_node(ip, n, slots);
    if (st) {
      char desc[256];
      st = sinter_status_annotate(st, "%s", sinter_ir_node_desc(n, desc, sizeof(desc)));
      break;
    }
    for (int32_t i = 0; i < n->n_inputs; i++) {
      if (!n->inputs[i]) continue;
      slot_t *s = &slots[n->inputs[i]->id];
      if (--s->pending == 0 && s->owned) {
        free(s->t.data);
        s->t.data = NULL;
        s->ready = false;
      }
    }
    for (int32_t i = 0; i < n->n_outputs; i++) {
      slot_t *s = &slots[n->outputs[i]->id];
      if (s->pending == 0 && s->owned) { /* unused output */
        free(s->t.data);
        s->t.data = NULL;
      }
    }
  }
  for (int32_t i = 0; i < g->n_outputs && !st; i++) {
    slot_t *s = &slots[g->outputs[i]->id];
    if (!s->ready) {
      st = SINTER_ERROR(SINTER_INVALID_MODEL, "graph output '%s' was never computed",
                        g->outputs[i]->name);
      break;
    }
    sinter_tensor_t *o = &out_outputs[i];
    *o = s->t;
    if (s->owned && s->pending == 1) {
      s->owned = false; /* ownership moves to the caller */
    } else {
      o->data = malloc(s->t.nbytes ? s->t.nbytes : 1);
      if (!o->data) {
        st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
        break;
      }
      if (s->t.nbytes) memcpy(o->data, s->t.data, s->t.nbytes);
    }
    s->pending--;
  }
  for (uint32_t i = 0; i < g->next_value_id; i++)
    if (slots[i].owned) free(slots[i].t.data);
  if (st)
    for (int32_t i = 0; i < g->n_outputs; i++) sinter_tensor_free_data(&out_outputs[i]);
  free(slots);
  return st;
}
