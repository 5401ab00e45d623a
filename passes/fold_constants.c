/* fold-constants: evaluates nodes whose inputs are all constants with the reference kernels
 * (the interpreter's own, so folding computes exactly what running would) and replaces them
 * with constants; also folds shapes that inference already knows (Shape, Size, Gather of
 * Shape, a Reshape's computed shape). Types are re-inferred on the way, so folds propagate
 * through shape plumbing in one walk. */
#include <stdio.h>

#include "passes/canonicalize.h"
#include "passes/pass_internal.h"

enum { MAXIO = 64 };

/* 64 MiB: large enough for any shape plumbing or folded weight transform, small enough that a
 * folded Expand or ConstantOfShape cannot bloat a model by gigabytes. */
#define DEFAULT_MAX_BYTES 67108864
#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct fold_s {
  sinter_graph_t *g;
  sinter_pass_counters_t *counters;
  int64_t max_bytes;
} fold_t;

/* Ops whose result may differ between runs (RandomNormal, Bernoulli, ...) must never become
 * constants. None is in the op table today; new ones belong here. */
static bool nondeterministic(sinter_op_t op) {
  (void)op;
  return false;
}

/* Ops deliberately left in place: DequantizeLinear of a constant is how quantized weights are
 * stored, and folding it would undo the quantization. */
static bool keep_unfolded(sinter_op_t op) {
  return op == SINTER_OP_DEQUANTIZE_LINEAR;
}

static bool has_subgraph(const sinter_node_t *n) {
  for (int32_t i = 0; i < n->n_attrs; i++)
    if (n->attrs[i].kind == SINTER_ATTR_GRAPH || n->attrs[i].kind == SINTER_ATTR_GRAPHS)
      return true;
  return false;
}

/* ---- replacing outputs with constants ------------------------------------------- */

/* Makes a constant from t that takes over output slot of node: its uses, its name (so graph
 * outputs keep theirs) and its quant params. */
static sinter_status_t install_const(fold_t *f, sinter_node_t *node, int32_t slot,
                                     const sinter_tensor_t *t) {
  sinter_value_t *old = node->outputs[slot];
  const char *name = old->name; /* arena string: stays valid after the rename */
  SINTER_TRY(sinter_value_set_name(old, ""));
  sinter_type_t ty;
  sinter_type_set_static(&ty, t->dtype, t->rank, t->dims);
  sinter_value_t *k;
  SINTER_TRY(sinter_graph_add_const(f->g, name, &ty, t->data, t->nbytes, &k));
  if (old->quant) SINTER_TRY(sinter_value_set_quant(k, old->quant));
  sinter_value_replace_all_uses(old, k);
  return NULL;
}

static bool output_needed(const sinter_value_t *v) {
  return v->n_uses || v->n_output_refs;
}

/* Runs node's kernel on its constant inputs and installs the results. *out_folded stays false,
 * with nothing changed, when the op cannot run here or a result would exceed the size cap. */
static sinter_status_t evaluate(fold_t *f, sinter_node_t *n, bool *out_folded) {
  const sinter_op_impl_t *impl = sinter_op_impl(n->op);
  if (!impl || !impl->infer || !impl->run || n->n_inputs > MAXIO || n->n_outputs > MAXIO)
    return NULL;
  const sinter_tensor_t *in[MAXIO];
  sinter_tensor_t in_t[MAXIO];
  const sinter_type_t *in_types[MAXIO];
  const void *in_data[MAXIO];
  size_t in_nbytes[MAXIO];
  sinter_type_t out_types[MAXIO];
  sinter_tensor_t out[MAXIO];
  memset(out, 0, sizeof(out[0]) * (size_t)n->n_outputs);
  for (int32_t i = 0; i < n->n_inputs; i++) {
    const sinter_value_t *v = n->inputs[i];
    if (!v) {
      in[i] = NULL;
      in_types[i] = NULL;
      in_data[i] = NULL;
      in_nbytes[i] = 0;
      continue;
    }
    sinter_tensor_t *t = &in_t[i];
    memset(t, 0, sizeof(*t));
    t->dtype = v->type.dtype;
    t->rank = v->type.rank;
    for (int32_t d = 0; d < v->type.rank; d++) t->dims[d] = v->type.dims[d].size;
    t->data = (void *)v->data;
    t->nbytes = v->nbytes;
    in[i] = t;
    in_types[i] = &v->type;
    in_data[i] = v->data;
    in_nbytes[i] = v->nbytes;
  }
  for (int32_t i = 0; i < n->n_outputs; i++) {
    memset(&out_types[i], 0, sizeof(out_types[i]));
    out_types[i].rank = -1;
  }
  sinter_infer_ctx_t ictx = {
      .graph = NULL,
      .node = n,
      .n_inputs = n->n_inputs,
      .in = in_types,
      .in_data = in_data,
      .in_nbytes = in_nbytes,
      .n_outputs = n->n_outputs,
      .out = out_types,
  };
  sinter_status_t st = sinter_infer_node(&ictx);
  if (st) goto skip;
  for (int32_t i = 0; i < n->n_outputs; i++) {
    if (!sinter_type_is_static(&out_types[i])) continue;
    int64_t numel;
    size_t bytes;
    if (!sinter_type_numel(&out_types[i], &numel) ||
        !sinter_dtype_storage_size(out_types[i].dtype, numel, &bytes) ||
        bytes > (uint64_t)f->max_bytes)
      goto skip;
    int64_t dims[SINTER_MAX_RANK];
    for (int32_t d = 0; d < out_types[i].rank; d++) dims[d] = out_types[i].dims[d].size;
    sinter_kernel_ctx_t tmp = {.node = n, .n_outputs = n->n_outputs, .out = out};
    st = sinter_kernel_alloc_output(&tmp, i, out_types[i].dtype, out_types[i].rank, dims);
    if (st) goto skip;
  }
  sinter_kernel_ctx_t kctx = {
      .node = n,
      .n_inputs = n->n_inputs,
      .in = in,
      .n_outputs = n->n_outputs,
      .out = out,
  };
  st = impl->run(&kctx);
  if (st) goto skip;
  for (int32_t i = 0; i < n->n_outputs; i++) {
    int64_t numel = sinter_tensor_numel(&out[i]);
    size_t want;
    if (!out[i].data || out[i].nbytes > (uint64_t)f->max_bytes || numel < 0 ||
        !sinter_dtype_storage_size(out[i].dtype, numel, &want) || want != out[i].nbytes)
      goto skip;
  }
  for (int32_t i = 0; i < n->n_outputs && !st; i++)
    if (output_needed(n->outputs[i])) st = install_const(f, n, i, &out[i]);
  for (int32_t i = 0; i < n->n_outputs; i++) free(out[i].data);
  if (st) return st;
  *out_folded = true;
  return NULL;
skip:
  /* Whatever the interpreter cannot do here (an unsupported case, a kernel error that would
   * also fail at run time) simply stays in the graph. */
  sinter_status_free(st);
  for (int32_t i = 0; i < n->n_outputs; i++) free(out[i].data);
  return NULL;
}

static sinter_status_t fold_node(fold_t *f, sinter_node_t *n) {
  if (nondeterministic(n->op) || keep_unfolded(n->op) || has_subgraph(n)) return NULL;
  bool all_const = false, folded = false;
  for (int32_t i = 0; i < n->n_inputs; i++) {
    if (!n->inputs[i]) continue;
    if (!sinter_pat_is_const(n->inputs[i])) {
      all_const = false;
      break;
    }
    all_const = true;
  }
  if (!all_const) {
    /* Shapes that inference knows (Shape, Size, Gather of Shape, a Reshape's computed shape)
     * fold even though their inputs are not constants; canonicalize has the rules. */
    bool changed;
    return sinter_canon_fold_shapes(f->g, n, f->counters, &changed);
  }
  SINTER_TRY(evaluate(f, n, &folded));
  if (!folded) return NULL;
  f->counters->folded++;
  /* Every output is now unused: drop the node and the constants only it read. */
  return sinter_pat_erase_dead(f->g, n, NULL);
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  fold_t f = {.g = graph, .counters = counters, .max_bytes = DEFAULT_MAX_BYTES};
  if (args) f.max_bytes = sinter_pass_args_int(args, "max-bytes");
  if (f.max_bytes < 0) f.max_bytes = 0;
  /* One walk in graph order: a node sees its inputs already folded, and re-inference gives it
   * the static shapes that earlier folds revealed. */
  for (sinter_node_t *n = graph->first, *next; n; n = next) {
    next = n->next;
    sinter_canon_refine_types(graph, n);
    char desc[256];
    SINTER_RETURN_IF_ERROR(fold_node(&f, n), "fold-constants: %s",
                           sinter_ir_node_desc(n, desc, sizeof(desc)));
  }
  return NULL;
}

static const sinter_pass_option_t options[] = {
    {"max-bytes", SINTER_PASS_OPT_INT, STR(DEFAULT_MAX_BYTES), NULL,
     "largest constant, in bytes, that folding may create"},
};

const sinter_pass_info_t sinter_pass_fold_constants = {
    "fold-constants",
    "evaluate nodes whose inputs are all constants, and Shape/Size of static shapes, into "
    "constants",
    options,
    1,
    run,
    NULL,
};
