/* fuse-elementwise: turns a region of fusible elementwise ops (unary math, Add/Sub/Mul/Div/Pow,
 * Max/Min, PRelu, Clip with constant bounds, Silu, ...) whose intermediates are used only inside
 * it into one FusedElementwise node (ai.sinter) whose body is a small program, ready for
 * codegen. The body encoding is documented in docs/ops-sinter.md. */
#include <math.h>
#include <stdio.h>

#include "passes/pass_internal.h"

/* Bounds on one region: the kernel takes at most 256 inputs; a region of 64 nodes with at most
 * four operands each stays under that. */
enum { MAX_GROUP = 64, MAX_VARIADIC = 4 };

static bool body_dtype(sinter_dtype_t d) {
  return d == SINTER_DTYPE_F32 || d == SINTER_DTYPE_F16 || d == SINTER_DTYPE_BF16;
}

/* Number of leading inputs that are data operands (Clip's bounds become parameters). */
static int32_t n_operands(const sinter_node_t *n) {
  return n->op == SINTER_OP_CLIP ? 1 : n->n_inputs;
}

/* A Clip bound: absent, or a one-element constant of dtype dt. */
static bool clip_bound(const sinter_value_t *b, sinter_dtype_t dt, float dflt, float *out) {
  if (!b) {
    *out = dflt;
    return true;
  }
  int64_t n;
  if (!sinter_pat_is_const(b) || b->type.dtype != dt || !sinter_type_numel(&b->type, &n) || n != 1)
    return false;
  *out = (float)sinter_load_f64(b->data, dt, 0);
  return !isnan(*out);
}

/* True when node n may join a body. */
static bool candidate(const sinter_node_t *n) {
  const sinter_op_info_t *info = sinter_op_info(n->op);
  int32_t arity, np;
  if (!info || !(info->traits & SINTER_OPF_FUSIBLE) || !sinter_fused_body_op(n->op, &arity, &np)) return false;
  if (n->n_outputs != 1) return false;
  const sinter_value_t *y = n->outputs[0];
  sinter_dtype_t dt = y->type.dtype;
  if (!body_dtype(dt) || y->quant) return false;
  int32_t nop = n_operands(n);
  if (nop < 1) return false;
  if (n->op == SINTER_OP_MAX || n->op == SINTER_OP_MIN) {
    if (nop < 2 || nop > MAX_VARIADIC) return false;
  } else if (nop != arity) {
    return false;
  }
  for (int32_t i = 0; i < nop; i++)
    if (!n->inputs[i] || n->inputs[i]->type.dtype != dt || n->inputs[i]->quant) return false;
  if (n->op == SINTER_OP_CLIP) {
    float lo, hi;
    if (!clip_bound(n->n_inputs > 1 ? n->inputs[1] : NULL, dt, -INFINITY, &lo) ||
        !clip_bound(n->n_inputs > 2 ? n->inputs[2] : NULL, dt, INFINITY, &hi))
      return false;
  }
  if (n->op == SINTER_OP_GELU) {
    const char *ap = sinter_node_attr_string(n, "approximate", "none");
    if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0) return false;
  }
  return true;
}

/* The parameters of node n's instruction, in the body encoding's order. */
static int32_t node_params(const sinter_node_t *n, float *p) {
  switch (n->op) {
    case SINTER_OP_LEAKY_RELU: p[0] = sinter_node_attr_float(n, "alpha", 0.01f); return 1;
    case SINTER_OP_ELU:
    case SINTER_OP_CELU:
    case SINTER_OP_THRESHOLDED_RELU: p[0] = sinter_node_attr_float(n, "alpha", 1.0f); return 1;
    case SINTER_OP_GELU:
      p[0] = strcmp(sinter_node_attr_string(n, "approximate", "none"), "tanh") == 0 ? 1.0f : 0.0f;
      return 1;
    case SINTER_OP_SELU:
      p[0] = sinter_node_attr_float(n, "alpha", 1.67326319217681884765625f);
      p[1] = sinter_node_attr_float(n, "gamma", 1.05070102214813232421875f);
      return 2;
    case SINTER_OP_HARD_SIGMOID:
      p[0] = sinter_node_attr_float(n, "alpha", 0.2f);
      p[1] = sinter_node_attr_float(n, "beta", 0.5f);
      return 2;
    case SINTER_OP_SHRINK:
      p[0] = sinter_node_attr_float(n, "bias", 0.0f);
      p[1] = sinter_node_attr_float(n, "lambd", 0.5f);
      return 2;
    case SINTER_OP_CLIP: {
      sinter_dtype_t dt = n->outputs[0]->type.dtype;
      clip_bound(n->n_inputs > 1 ? n->inputs[1] : NULL, dt, -INFINITY, &p[0]);
      clip_bound(n->n_inputs > 2 ? n->inputs[2] : NULL, dt, INFINITY, &p[1]);
      return 2;
    }
    default: return 0;
  }
}

/* ---- growing and emitting one region ------------------------------------------ */

enum { FREE = 0, IN_GROUP, DONE };

typedef struct fuse_ctx_s {
  sinter_graph_t *g;
  uint8_t *state; /* per node id below cap */
  int32_t *pos;   /* graph position per node id below cap */
  uint32_t cap;
} fuse_ctx_t;

static uint8_t state_of(const fuse_ctx_t *c, const sinter_node_t *n) {
  return n->id < c->cap ? c->state[n->id] : DONE;
}

/* True when every use of v is by a node of the current group. */
static bool uses_in_group(const fuse_ctx_t *c, const sinter_value_t *v) {
  if (v->n_output_refs || v->n_uses == 0) return false;
  for (int32_t i = 0; i < v->n_uses; i++)
    if (state_of(c, v->uses[i].node) != IN_GROUP) return false;
  return true;
}

/* Adds producers to group until no more can join: a producer joins when it may join a body,
 * has the root's dtype and every use of its output is already in the group. */
static int32_t grow(fuse_ctx_t *c, sinter_node_t **group, int32_t n) {
  sinter_dtype_t dt = group[0]->outputs[0]->type.dtype;
  bool changed = true;
  while (changed && n < MAX_GROUP) {
    changed = false;
    for (int32_t gi = 0; gi < n && n < MAX_GROUP; gi++) {
      sinter_node_t *m = group[gi];
      for (int32_t s = 0; s < n_operands(m) && n < MAX_GROUP; s++) {
        sinter_value_t *u = m->inputs[s];
        sinter_node_t *p = sinter_pat_producer(u, SINTER_OP_INVALID);
        if (!p || state_of(c, p) != FREE || !candidate(p) || u->type.dtype != dt) continue;
        if (!uses_in_group(c, u)) continue;
        c->state[p->id] = IN_GROUP;
        group[n++] = p;
        changed = true;
      }
    }
  }
  return n;
}

/* Sorts the group into graph order (insertion sort on positions; groups are small). */
static void sort_group(const fuse_ctx_t *c, sinter_node_t **group, int32_t n) {
  for (int32_t i = 1; i < n; i++) {
    sinter_node_t *x = group[i];
    int32_t j = i - 1;
    while (j >= 0 && c->pos[group[j]->id] > c->pos[x->id]) {
      group[j + 1] = group[j];
      j--;
    }
    group[j + 1] = x;
  }
}

/* The program of a sorted group: external inputs, op names, operand indices, parameters. */
typedef struct body_s {
  sinter_value_t *ext[MAX_GROUP * MAX_VARIADIC];
  int32_t n_ext;
  const char *ops[MAX_GROUP * MAX_VARIADIC];
  int64_t args[MAX_GROUP * MAX_VARIADIC * 2];
  float params[MAX_GROUP * 2];
  int32_t n_ops, n_args, n_params;
  int32_t result[MAX_GROUP]; /* instruction index holding member i's output */
} body_t;

static int32_t group_index(sinter_node_t *const *group, int32_t n, const sinter_node_t *p) {
  for (int32_t i = 0; i < n; i++)
    if (group[i] == p) return i;
  return -1;
}

static void build_body(sinter_node_t *const *group, int32_t n, body_t *b) {
  memset(b, 0, sizeof(*b));
  /* External inputs first, in order of first use, so operand numbering is known. */
  for (int32_t i = 0; i < n; i++)
    for (int32_t s = 0; s < n_operands(group[i]); s++) {
      sinter_value_t *u = group[i]->inputs[s];
      if (group_index(group, n, u->producer) >= 0 && u->kind == SINTER_VALUE_NODE) continue;
      bool seen = false;
      for (int32_t k = 0; k < b->n_ext && !seen; k++) seen = b->ext[k] == u;
      if (!seen) b->ext[b->n_ext++] = u;
    }
  for (int32_t i = 0; i < n; i++) {
    const sinter_node_t *m = group[i];
    int64_t opnd[MAX_VARIADIC];
    int32_t nop = n_operands(m);
    for (int32_t s = 0; s < nop; s++) {
      sinter_value_t *u = m->inputs[s];
      int32_t gi = u->kind == SINTER_VALUE_NODE ? group_index(group, n, u->producer) : -1;
      if (gi >= 0) {
        opnd[s] = b->n_ext + b->result[gi];
      } else {
        for (int32_t k = 0; k < b->n_ext; k++)
          if (b->ext[k] == u) opnd[s] = k;
      }
    }
    const char *name = sinter_op_info(m->op)->name;
    if ((m->op == SINTER_OP_MAX || m->op == SINTER_OP_MIN)) {
      /* Max(a,b,c) = Max(Max(a,b),c): the selection is exact, so chaining changes nothing. */
      int64_t acc = opnd[0];
      for (int32_t s = 1; s < nop; s++) {
        b->ops[b->n_ops] = name;
        b->args[b->n_args++] = acc;
        b->args[b->n_args++] = opnd[s];
        acc = b->n_ext + b->n_ops;
        b->n_ops++;
      }
    } else {
      b->ops[b->n_ops] = name;
      for (int32_t s = 0; s < nop; s++) b->args[b->n_args++] = opnd[s];
      b->n_params += node_params(m, b->params + b->n_params);
      b->n_ops++;
    }
    b->result[i] = b->n_ops - 1;
  }
}

/* Gives nv the name of the replaced value old, unless nv already has one. */
static sinter_status_t adopt_name(sinter_value_t *old, sinter_value_t *nv, const char *name) {
  if (!name[0] || nv->name[0]) return NULL;
  SINTER_TRY(sinter_value_set_name(old, ""));
  return sinter_value_set_name(nv, name);
}

/* Replaces the sorted group (root last) by one FusedElementwise node. */
static sinter_status_t emit_group(fuse_ctx_t *c, sinter_node_t **group, int32_t n, bool *fired) {
  *fired = false;
  body_t *b = malloc(sizeof(*b));
  if (!b) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  build_body(group, n, b);
  sinter_node_t *root = group[n - 1];
  sinter_node_t *f;
  sinter_status_t st = sinter_graph_insert_node(c->g, root, SINTER_OP_FUSED_ELEMENTWISE, root->name,
                                                b->ext, b->n_ext, 1, &f);
  if (!st) {
    sinter_attr_t a;
    memset(&a, 0, sizeof(a));
    a.name = "ops";
    a.kind = SINTER_ATTR_STRINGS;
    a.count = b->n_ops;
    a.strings = b->ops;
    st = sinter_node_set_attr(f, &a);
  }
  if (!st) st = sinter_node_set_attr_ints(f, "args", b->args, b->n_args);
  if (!st && b->n_params) st = sinter_node_set_attr_floats(f, "params", b->params, b->n_params);
  if (!st) st = sinter_pat_infer_node(c->g, f);
  if (st) {
    /* Inputs that cannot broadcast together: the original fails at run time as well. */
    sinter_status_free(st);
    sinter_status_free(sinter_graph_remove_node(c->g, f));
    free(b);
    return NULL;
  }
  free(b);
  sinter_value_t *old = root->outputs[0];
  char name[512];
  snprintf(name, sizeof(name), "%s", old->name);
  SINTER_TRY(sinter_pat_replace_output(c->g, root, 0, f->outputs[0]));
  SINTER_TRY(adopt_name(old, f->outputs[0], name));
  *fired = true;
  return NULL;
}

/* ---- decomposition into standard ONNX ------------------------------------------------ */

/* Emits one standard node for an instruction; params are the instruction's parameters. */
static sinter_status_t emit_instr(sinter_graph_t *g, sinter_node_t *before, const char *base,
                                  int32_t k, sinter_op_t op, sinter_value_t *const *opnd,
                                  int32_t nop, const float *pr, sinter_dtype_t dt,
                                  sinter_value_t **out) {
  char name[512], hint[512];
  const char *opname = sinter_op_info(op)->name;
  snprintf(name, sizeof(name), "%s/%d_%s", base, (int)k, opname);
  sinter_node_t *n;
  if (op == SINTER_OP_SILU) {
    sinter_value_t *sig;
    SINTER_TRY(sinter_graph_insert_node(g, before, SINTER_OP_SIGMOID, name, opnd, 1, 1, &n));
    SINTER_TRY(sinter_pat_infer_node(g, n));
    sig = n->outputs[0];
    sinter_value_t *mi[2] = {opnd[0], sig};
    SINTER_TRY(sinter_graph_insert_node(g, before, SINTER_OP_MUL, name, mi, 2, 1, &n));
    SINTER_TRY(sinter_pat_infer_node(g, n));
    *out = n->outputs[0];
    return NULL;
  }
  if (op == SINTER_OP_CLIP) {
    sinter_value_t *ci[3] = {opnd[0], NULL, NULL};
    int32_t nin = 1;
    if (!(isinf(pr[0]) && pr[0] < 0)) {
      snprintf(hint, sizeof(hint), "%s/%d_min", base, (int)k);
      SINTER_TRY(sinter_pat_add_scalar(g, hint, dt, pr[0], &ci[1]));
      nin = 2;
    }
    if (!(isinf(pr[1]) && pr[1] > 0)) {
      snprintf(hint, sizeof(hint), "%s/%d_max", base, (int)k);
      SINTER_TRY(sinter_pat_add_scalar(g, hint, dt, pr[1], &ci[2]));
      nin = 3;
    }
    SINTER_TRY(sinter_graph_insert_node(g, before, op, name, ci, nin, 1, &n));
  } else {
    SINTER_TRY(sinter_graph_insert_node(g, before, op, name, opnd, nop, 1, &n));
  }
  switch (op) {
    case SINTER_OP_LEAKY_RELU:
    case SINTER_OP_ELU:
    case SINTER_OP_CELU:
    case SINTER_OP_THRESHOLDED_RELU:
      SINTER_TRY(sinter_node_set_attr_float(n, "alpha", pr[0]));
      break;
    case SINTER_OP_SELU:
      SINTER_TRY(sinter_node_set_attr_float(n, "alpha", pr[0]));
      SINTER_TRY(sinter_node_set_attr_float(n, "gamma", pr[1]));
      break;
    case SINTER_OP_HARD_SIGMOID:
      SINTER_TRY(sinter_node_set_attr_float(n, "alpha", pr[0]));
      SINTER_TRY(sinter_node_set_attr_float(n, "beta", pr[1]));
      break;
    case SINTER_OP_SHRINK:
      SINTER_TRY(sinter_node_set_attr_float(n, "bias", pr[0]));
      SINTER_TRY(sinter_node_set_attr_float(n, "lambd", pr[1]));
      break;
    case SINTER_OP_GELU:
      if (pr[0] != 0.0f) SINTER_TRY(sinter_node_set_attr_string(n, "approximate", "tanh", 4));
      break;
    default: break;
  }
  SINTER_TRY(sinter_pat_infer_node(g, n));
  *out = n->outputs[0];
  return NULL;
}

sinter_status_t sinter_decompose_fused_elementwise(sinter_graph_t *g, sinter_node_t *node) {
  if (node->op != SINTER_OP_FUSED_ELEMENTWISE)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "not a FusedElementwise node");
  const sinter_attr_t *ops = sinter_node_attr(node, "ops");
  const sinter_attr_t *args = sinter_node_attr(node, "args");
  const sinter_attr_t *params = sinter_node_attr(node, "params");
  int32_t n_in = node->n_inputs;
  if (!ops || ops->kind != SINTER_ATTR_STRINGS || ops->count < 1 || !args ||
      args->kind != SINTER_ATTR_INTS || (params && params->kind != SINTER_ATTR_FLOATS))
    return SINTER_ERROR(SINTER_INVALID_MODEL,
                        "malformed body: needs 'ops' (strings) and 'args' "
                        "(ints), 'params' (floats) when used");
  for (int32_t i = 0; i < n_in; i++)
    if (!node->inputs[i]) return SINTER_ERROR(SINTER_INVALID_MODEL, "input %d is missing", i);
  sinter_dtype_t dt = node->outputs[0]->type.dtype;
  if (dt == SINTER_DTYPE_UNDEFINED) dt = node->inputs[0]->type.dtype;
  int64_t n_ops = ops->count, n_params = params ? params->count : 0;
  sinter_value_t **vals = malloc(sizeof(*vals) * (size_t)(n_in + n_ops));
  if (!vals) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int32_t i = 0; i < n_in; i++) vals[i] = node->inputs[i];
  const char *base = node->name[0] ? node->name : "fused";
  int64_t ai = 0, pi = 0;
  sinter_status_t st = NULL;
  for (int64_t k = 0; k < n_ops && !st; k++) {
    const char *nm = ops->strings[k];
    sinter_op_t op = sinter_op_lookup("", nm);
    if (op == SINTER_OP_INVALID) op = sinter_op_lookup("ai.sinter", nm);
    int32_t ar, np;
    if (op == SINTER_OP_INVALID || !sinter_fused_body_op(op, &ar, &np)) {
      st = SINTER_ERROR(SINTER_INVALID_MODEL, "instruction %lld: '%s' cannot be in a body",
                        (long long)k, nm);
      break;
    }
    if (ai + ar > args->count || pi + np > n_params) {
      st = SINTER_ERROR(SINTER_INVALID_MODEL, "instruction %lld: 'args' or 'params' run out",
                        (long long)k);
      break;
    }
    sinter_value_t *opnd[2];
    for (int32_t j = 0; j < ar && !st; j++) {
      int64_t a = args->ints[ai + j];
      if (a < 0 || a >= n_in + k)
        st = SINTER_ERROR(SINTER_INVALID_MODEL, "instruction %lld: operand %lld out of range",
                          (long long)k, (long long)a);
      else
        opnd[j] = vals[a];
    }
    if (!st)
      st = emit_instr(g, node, base, (int32_t)k, op, opnd, ar, params ? params->floats + pi : NULL,
                      dt, &vals[n_in + k]);
    ai += ar;
    pi += np;
  }
  sinter_value_t *res = st ? NULL : vals[n_in + n_ops - 1];
  free(vals);
  if (st) return st;
  sinter_value_t *old = node->outputs[0];
  char name[512];
  snprintf(name, sizeof(name), "%s", old->name);
  SINTER_TRY(sinter_pat_replace_output(g, node, 0, res));
  return adopt_name(old, res, name);
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  int32_t total = sinter_graph_num_nodes(graph);
  fuse_ctx_t c = {graph, NULL, NULL, graph->next_node_id};
  sinter_node_t **order = malloc(sizeof(*order) * (size_t)(total > 0 ? total : 1));
  c.state = calloc(c.cap ? c.cap : 1, 1);
  c.pos = calloc(c.cap ? c.cap : 1, sizeof(int32_t));
  sinter_node_t *group[MAX_GROUP];
  if (!order || !c.state || !c.pos) {
    free(order);
    free(c.state);
    free(c.pos);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  int32_t n = 0;
  for (sinter_node_t *nd = graph->first; nd; nd = nd->next) {
    c.pos[nd->id] = n;
    order[n++] = nd;
  }
  sinter_status_t st = NULL;
  /* Roots from the bottom up, so each region is grown from its last node. */
  for (int32_t i = n - 1; i >= 0 && !st; i--) {
    sinter_node_t *root = order[i];
    if (c.state[root->id] != FREE || !candidate(root)) continue;
    c.state[root->id] = IN_GROUP;
    group[0] = root;
    int32_t gn = grow(&c, group, 1);
    sort_group(&c, group, gn);
    bool fired = false;
    if (gn >= 2) {
      char desc[256];
      st = emit_group(&c, group, gn, &fired);
      if (st)
        st = sinter_status_annotate(st, "fusing elementwise ops ending at %s",
                                    sinter_ir_node_desc(root, desc, sizeof(desc)));
    }
    if (fired) {
      counters->fused++;
      for (int32_t k = 0; k < gn; k++) c.state[group[k]->id] = DONE;
    } else {
      /* Alone (or unfusable), the root stays; its producers may still start regions. */
      for (int32_t k = 0; k < gn; k++) c.state[group[k]->id] = FREE;
      c.state[root->id] = DONE;
    }
  }
  free(order);
  free(c.state);
  free(c.pos);
  return st;
}

/* clang-format off */
const sinter_pass_info_t sinter_pass_fuse_elementwise = {
    "fuse-elementwise",
    "fuse regions of elementwise ops into FusedElementwise nodes with an expression body",
    NULL, 0, run, NULL,
};
/* clang-format on */
