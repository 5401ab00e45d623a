/* Graphviz DOT export of a graph: one box per node labeled with op and
 * name, edges labeled with value types, small constants as small boxes and
 * large ones folded into their consumers' labels. Output is deterministic. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir_impl.h"

/* Constants with more elements than this are weights: they are folded into
 * the label of each node that reads them instead of getting a box. */
#define DOT_SMALL_CONST 16

typedef struct dot_s {
  FILE *out;
  int cluster; /* next subgraph cluster number */
} dot_t;

/* Writes s escaped for a double-quoted DOT string. */
static void esc(FILE *out, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", out);
    else if (c < 0x20 || c == 0x7f)
      fputc(' ', out);
    else
      fputc(c, out);
  }
}

static bool small_const(const sinter_value_t *v) {
  int64_t n;
  return sinter_type_numel(&v->type, &n) && n <= DOT_SMALL_CONST;
}

/* The value's display name: its own name, or %N in order of appearance,
 * the same numbering the text IR uses for unnamed values. */
typedef struct dnames_s {
  int64_t *num; /* by value id; -1 when named or unseen */
  uint32_t n;
} dnames_t;

static void number_value(dnames_t *dn, const sinter_value_t *v, int64_t *counter) {
  if (v && v->id < dn->n && !(v->name && v->name[0])) dn->num[v->id] = (*counter)++;
}

static void value_label(FILE *out, const dnames_t *dn, const sinter_value_t *v) {
  if (v->name && v->name[0]) {
    fputc('%', out);
    esc(out, v->name);
  } else if (v->id < dn->n && dn->num[v->id] >= 0) {
    fprintf(out, "%%%" PRId64, dn->num[v->id]);
  } else {
    fputs("%?", out);
  }
}

/* The DOT id of the thing that produces v, or false when v is a folded
 * constant or not defined here. */
static bool source_id(const sinter_value_t *v, const char *pfx, char *buf, size_t cap) {
  if (v->kind == SINTER_VALUE_NODE && v->producer)
    snprintf(buf, cap, "%sn%" PRIu32, pfx, v->producer->id);
  else if (v->kind == SINTER_VALUE_INPUT || (v->kind == SINTER_VALUE_CONST && small_const(v)))
    snprintf(buf, cap, "%sv%" PRIu32, pfx, v->id);
  else
    return false;
  return true;
}

static sinter_status_t dot_graph(dot_t *d, const sinter_graph_t *g, const char *pfx, int depth) {
  FILE *out = d->out;
  char tb[160], src[64];
  if (depth > 64) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "subgraphs nested too deeply");
  dnames_t dn = {.n = g->next_value_id};
  dn.num = malloc(sizeof(int64_t) * (dn.n ? dn.n : 1));
  if (!dn.num) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (uint32_t i = 0; i < dn.n; i++) dn.num[i] = -1;
  int64_t counter = 0;
  for (int32_t i = 0; i < g->n_inputs; i++) number_value(&dn, g->inputs[i], &counter);
  for (const sinter_value_t *c = g->first_const; c; c = c->next_const)
    number_value(&dn, c, &counter);
  for (const sinter_node_t *n = g->first; n; n = n->next)
    for (int32_t i = 0; i < n->n_outputs; i++) number_value(&dn, n->outputs[i], &counter);

  for (int32_t i = 0; i < g->n_inputs; i++) {
    const sinter_value_t *v = g->inputs[i];
    fprintf(out, "  %sv%" PRIu32 " [shape=ellipse, label=\"input ", pfx, v->id);
    value_label(out, &dn, v);
    fputs("\\n", out);
    esc(out, sinter_type_format(&v->type, tb, sizeof(tb)));
    fputs("\"];\n", out);
  }
  for (const sinter_value_t *c = g->first_const; c; c = c->next_const) {
    if (!small_const(c)) continue;
    fprintf(out,
            "  %sv%" PRIu32
            " [shape=box, style=filled, fillcolor=\"#eeeeee\", fontsize=9, "
            "label=\"",
            pfx, c->id);
    value_label(out, &dn, c);
    fputs("\\n", out);
    esc(out, sinter_type_format(&c->type, tb, sizeof(tb)));
    fputs("\"];\n", out);
  }
  for (const sinter_node_t *n = g->first; n; n = n->next) {
    const sinter_op_info_t *info = sinter_op_info(n->op);
    fprintf(out, "  %sn%" PRIu32 " [shape=box, style=rounded, label=\"", pfx, n->id);
    esc(out, info ? info->name : "<invalid op>");
    if (n->name && n->name[0]) {
      fputs("\\n", out);
      esc(out, n->name);
    }
    for (int32_t i = 0; i < n->n_inputs; i++) {
      const sinter_value_t *v = n->inputs[i];
      if (!v || v->kind != SINTER_VALUE_CONST || small_const(v)) continue;
      fputs("\\n", out);
      value_label(out, &dn, v);
      fputs(" : ", out);
      esc(out, sinter_type_format(&v->type, tb, sizeof(tb)));
    }
    fputs("\"];\n", out);
    for (int32_t i = 0; i < n->n_inputs; i++) {
      const sinter_value_t *v = n->inputs[i];
      if (!v || !source_id(v, pfx, src, sizeof(src))) continue;
      fprintf(out, "  %s -> %sn%" PRIu32 " [label=\"", src, pfx, n->id);
      if (v->producer && v->producer->n_outputs > 1) fprintf(out, "#%d ", v->producer_slot);
      esc(out, sinter_type_format(&v->type, tb, sizeof(tb)));
      fputs("\"];\n", out);
    }
    for (int32_t a = 0; a < n->n_attrs; a++) {
      const sinter_attr_t *at = &n->attrs[a];
      if (at->kind != SINTER_ATTR_GRAPH && at->kind != SINTER_ATTR_GRAPHS) continue;
      for (int64_t k = 0; k < at->count && at->graphs; k++) {
        const sinter_graph_t *sub = at->graphs[k];
        if (!sub) continue;
        int id = d->cluster++;
        char spfx[32];
        snprintf(spfx, sizeof(spfx), "g%d_", id);
        fprintf(out, "  subgraph cluster_%d {\n  label=\"", id);
        esc(out, at->name);
        fputs(" = @", out);
        esc(out, sub->name);
        fputs("\";\n  style=dashed;\n", out);
        sinter_status_t st = dot_graph(d, sub, spfx, depth + 1);
        if (st) {
          free(dn.num);
          return st;
        }
        fputs("  }\n", out);
        /* Link the owner to its body so the cluster sits beside it. */
        if (sub->first)
          fprintf(out, "  %sn%" PRIu32 " -> %sn%" PRIu32 " [style=dotted, arrowhead=none];\n", pfx,
                  n->id, spfx, sub->first->id);
      }
    }
  }
  for (int32_t i = 0; i < g->n_outputs; i++) {
    const sinter_value_t *v = g->outputs[i];
    fprintf(out, "  %so%d [shape=ellipse, label=\"output ", pfx, (int)i);
    value_label(out, &dn, v);
    fputs("\"];\n", out);
    if (source_id(v, pfx, src, sizeof(src))) {
      fprintf(out, "  %s -> %so%d [label=\"", src, pfx, (int)i);
      if (v->producer && v->producer->n_outputs > 1) fprintf(out, "#%d ", v->producer_slot);
      esc(out, sinter_type_format(&v->type, tb, sizeof(tb)));
      fputs("\"];\n", out);
    }
  }
  free(dn.num);
  return NULL;
}

sinter_status_t sinter_graph_print_dot(const sinter_graph_t *graph, FILE *out) {
  if (!graph || !out) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "no graph or no output");
  dot_t d = {.out = out};
  fputs("digraph \"", out);
  esc(out, graph->name ? graph->name : "");
  fputs(
      "\" {\n  node [fontname=\"Helvetica\", fontsize=11];\n"
      "  edge [fontname=\"Helvetica\", fontsize=9];\n",
      out);
  SINTER_TRY(dot_graph(&d, graph, "", 0));
  fputs("}\n", out);
  if (fflush(out) != 0 || ferror(out))
    return SINTER_ERROR(SINTER_IO_ERROR, "writing the DOT graph failed");
  return NULL;
}
