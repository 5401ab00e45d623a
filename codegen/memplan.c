/* The activation memory plan: liveness over the graph's node order, then a
 * deterministic greedy-by-size placement into one arena (as TFLite's
 * planner does). The code generator bakes the offsets in; see docs/memplan.md. */
#include <stdlib.h>
#include <string.h>

#include "ir/ir_impl.h"
#include "sinter/codegen.h"

struct sinter_memplan_s {
  const sinter_graph_t *graph;
  size_t alignment;
  size_t arena_size;
  size_t naive_size;
  sinter_memplan_buffer_t *buffers; /* node order of the producers */
  int32_t n_buffers;
  int32_t *index_of_id; /* value id -> buffer index, -1 when not planned */
  uint32_t n_ids;
};

/* A buffer being placed, with its size rounded up to the alignment. */
typedef struct item_s {
  int32_t buffer;
  size_t span;
} item_t;

static bool align_up(size_t n, size_t align, size_t *out) {
  size_t t;
  if (__builtin_add_overflow(n, align - 1, &t)) return false;
  *out = t & ~(align - 1);
  return true;
}

/* Describes a value for messages: "value 'x' (output 0 of node 'c' (Conv))". */
static const char *value_desc(const sinter_value_t *v, char *buf, size_t cap) {
  char nd[256];
  int32_t slot = 0;
  const sinter_node_t *p = sinter_value_producer(v, &slot);
  const char *name = sinter_value_name(v);
  if (name && name[0])
    snprintf(buf, cap, "value '%s'", name);
  else
    snprintf(buf, cap, "value #%u", v->id);
  size_t k = strlen(buf);
  if (p && k < cap)
    snprintf(buf + k, cap - k, " (output %d of %s)", slot, sinter_ir_node_desc(p, nd, sizeof(nd)));
  return buf;
}

/* The byte size of v's type with batch_symbol dims read as batch_size. */
static sinter_status_t value_bytes(const sinter_graph_t *g, const sinter_value_t *v,
                                   const sinter_memplan_options_t *o, size_t *out_bytes) {
  const sinter_type_t *t = sinter_value_type(v);
  char vd[512], td[256];
  int64_t numel = 1;
  bool ok = t->rank >= 0 && sinter_dtype_bits(t->dtype) > 0;
  for (int32_t i = 0; ok && i < t->rank; i++) {
    int64_t d = t->dims[i].size;
    if (d < 0 && o->batch_symbol && t->dims[i].sym && strcmp(t->dims[i].sym, o->batch_symbol) == 0)
      d = o->batch_size;
    if (d < 0) ok = false;
    else if (__builtin_mul_overflow(numel, d, &numel))
      return SINTER_ERROR(SINTER_OUT_OF_RANGE, "graph '%s': %s: type %s is too large",
                          sinter_graph_name(g), value_desc(v, vd, sizeof(vd)),
                          sinter_type_format(t, td, sizeof(td)));
  }
  if (!ok)
    return SINTER_ERROR(SINTER_UNSUPPORTED,
                        "graph '%s': %s has type %s, whose byte size is not known at compile "
                        "time%s",
                        sinter_graph_name(g), value_desc(v, vd, sizeof(vd)),
                        sinter_type_format(t, td, sizeof(td)),
                        o->batch_symbol ? "" : " (a batch dim needs batch_symbol and batch_size)");
  if (!sinter_dtype_storage_size(t->dtype, numel, out_bytes))
    return SINTER_ERROR(SINTER_OUT_OF_RANGE, "graph '%s': %s: type %s is too large",
                        sinter_graph_name(g), value_desc(v, vd, sizeof(vd)),
                        sinter_type_format(t, td, sizeof(td)));
  return NULL;
}

/* Largest first; ties by producer position, then buffer index, so the
 * order (and so the plan) depends on nothing but the graph. */
static int cmp_items(const void *a, const void *b, void *ctx) {
  const item_t *x = a, *y = b;
  const sinter_memplan_buffer_t *bufs = ctx;
  if (x->span != y->span) return x->span > y->span ? -1 : 1;
  if (bufs[x->buffer].first != bufs[y->buffer].first)
    return bufs[x->buffer].first < bufs[y->buffer].first ? -1 : 1;
  return (x->buffer > y->buffer) - (x->buffer < y->buffer);
}

/* Insertion sort: qsort_r is not portable C11, and the ties make the order
 * total, so a stable simple sort gives the same result everywhere. The
 * counts are node outputs, and this runs once per compile. */
static void sort_items(item_t *items, int32_t n, const sinter_memplan_buffer_t *bufs) {
  for (int32_t i = 1; i < n; i++) {
    item_t key = items[i];
    int32_t j = i - 1;
    while (j >= 0 && cmp_items(&items[j], &key, (void *)bufs) > 0) {
      items[j + 1] = items[j];
      j--;
    }
    items[j + 1] = key;
  }
}

/* Places every item at the lowest aligned offset where it overlaps no
 * already placed buffer whose lifetime overlaps its own. placed[] holds the
 * placed items sorted by offset. */
static sinter_status_t place(sinter_memplan_t *plan, const item_t *items, int32_t n,
                             item_t *placed) {
  sinter_memplan_buffer_t *bufs = plan->buffers;
  int32_t n_placed = 0;
  size_t arena = 0;
  for (int32_t i = 0; i < n; i++) {
    sinter_memplan_buffer_t *b = &bufs[items[i].buffer];
    size_t span = items[i].span, cand = 0;
    for (int32_t k = 0; k < n_placed; k++) {
      const sinter_memplan_buffer_t *p = &bufs[placed[k].buffer];
      if (p->last < b->first || b->last < p->first) continue;
      size_t want_end, p_end;
      if (__builtin_add_overflow(cand, span, &want_end) ||
          __builtin_add_overflow(p->offset, placed[k].span, &p_end))
        return SINTER_ERROR(SINTER_OUT_OF_RANGE, "graph '%s': the arena overflows size_t",
                            sinter_graph_name(plan->graph));
      if (span > 0 && placed[k].span > 0 && p->offset >= want_end) break; /* the gap fits */
      if (span > 0 && placed[k].span > 0 && p_end > cand) cand = p_end;
    }
    b->offset = cand;
    size_t end;
    if (__builtin_add_overflow(cand, span, &end))
      return SINTER_ERROR(SINTER_OUT_OF_RANGE, "graph '%s': the arena overflows size_t",
                          sinter_graph_name(plan->graph));
    if (end > arena) arena = end;
    /* Keep placed[] sorted by offset (ties: placement order). */
    int32_t at = n_placed;
    while (at > 0 && bufs[placed[at - 1].buffer].offset > cand) {
      placed[at] = placed[at - 1];
      at--;
    }
    placed[at] = items[i];
    n_placed++;
  }
  plan->arena_size = arena;
  return NULL;
}

static sinter_status_t build(sinter_memplan_t *plan, const sinter_memplan_options_t *o) {
  const sinter_graph_t *g = plan->graph;
  sinter_status_t st = NULL;
  int32_t *pos_of_node = NULL;
  item_t *items = NULL, *placed = NULL;

  uint32_t n_node_ids = g->next_node_id;
  pos_of_node = malloc(((size_t)n_node_ids + 1) * sizeof(*pos_of_node));
  plan->n_ids = g->next_value_id;
  plan->index_of_id = malloc(((size_t)plan->n_ids + 1) * sizeof(*plan->index_of_id));
  int32_t n_cand = 0, pos = 0;
  for (const sinter_node_t *n = g->first; n; n = n->next) n_cand += n->n_outputs;
  plan->buffers = calloc((size_t)n_cand + 1, sizeof(*plan->buffers));
  items = malloc(((size_t)n_cand + 1) * sizeof(*items));
  placed = malloc(((size_t)n_cand + 1) * sizeof(*placed));
  if (!pos_of_node || !plan->index_of_id || !plan->buffers || !items || !placed) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "graph '%s': out of memory planning the arena",
                      sinter_graph_name(g));
    goto done;
  }
  for (uint32_t i = 0; i < plan->n_ids; i++) plan->index_of_id[i] = -1;
  for (uint32_t i = 0; i < n_node_ids; i++) pos_of_node[i] = -1;

  for (const sinter_node_t *n = g->first; n; n = n->next, pos++) {
    if (n->id >= n_node_ids) {
      st = SINTER_ERROR(SINTER_INTERNAL, "graph '%s': node id %u out of range",
                        sinter_graph_name(g), n->id);
      goto done;
    }
    pos_of_node[n->id] = pos;
    /* A subgraph may read outer values, which would extend their lifetimes
     * beyond what the outer use lists say. */
    for (int32_t a = 0; a < n->n_attrs; a++) {
      if (n->attrs[a].kind == SINTER_ATTR_GRAPH || n->attrs[a].kind == SINTER_ATTR_GRAPHS) {
        char nd[256];
        st = SINTER_ERROR(SINTER_UNSUPPORTED,
                          "graph '%s': %s has a subgraph; memory planning does not handle "
                          "subgraphs",
                          sinter_graph_name(g), sinter_ir_node_desc(n, nd, sizeof(nd)));
        goto done;
      }
    }
  }

  pos = 0;
  size_t naive = 0;
  for (const sinter_node_t *n = g->first; n; n = n->next, pos++) {
    for (int32_t s = 0; s < n->n_outputs; s++) {
      const sinter_value_t *v = n->outputs[s];
      if (sinter_value_is_graph_output(v)) continue;
      size_t bytes, span;
      st = value_bytes(g, v, o, &bytes);
      if (st) goto done;
      if (!align_up(bytes, plan->alignment, &span) ||
          __builtin_add_overflow(naive, span, &naive)) {
        st = SINTER_ERROR(SINTER_OUT_OF_RANGE, "graph '%s': the arena overflows size_t",
                          sinter_graph_name(g));
        goto done;
      }
      int32_t last = pos;
      for (int32_t u = 0; u < v->n_uses; u++) {
        const sinter_node_t *user = v->uses[u].node;
        int32_t up = user && user->id < n_node_ids ? pos_of_node[user->id] : -1;
        if (up >= 0 && o->joins_next && user->next && o->joins_next(o->joins_next_user, user)) up++;
        if (up < pos) {
          char vd[512];
          st = SINTER_ERROR(SINTER_INVALID_MODEL,
                            "graph '%s': %s is used by a node that is not after its producer "
                            "in the graph",
                            sinter_graph_name(g), value_desc(v, vd, sizeof(vd)));
          goto done;
        }
        if (up > last) last = up;
      }
      int32_t bi = plan->n_buffers++;
      plan->buffers[bi] = (sinter_memplan_buffer_t){v, 0, bytes, pos, last};
      if (v->id < plan->n_ids) plan->index_of_id[v->id] = bi;
      items[bi] = (item_t){bi, span};
    }
  }
  plan->naive_size = naive;

  sort_items(items, plan->n_buffers, plan->buffers);
  st = place(plan, items, plan->n_buffers, placed);

done:
  free(pos_of_node);
  free(items);
  free(placed);
  return st;
}

sinter_status_t sinter_memplan_create(const sinter_graph_t *graph,
                                      const sinter_memplan_options_t *opts,
                                      sinter_memplan_t **out_plan) {
  if (!graph || !out_plan)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "sinter_memplan_create: NULL argument");
  *out_plan = NULL;
  sinter_memplan_options_t o = {0};
  if (opts) o = *opts;
  if (o.alignment == 0) o.alignment = SINTER_MEMPLAN_DEFAULT_ALIGNMENT;
  if ((o.alignment & (o.alignment - 1)) != 0)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "memory plan: alignment %zu is not a power of two", o.alignment);
  if (o.batch_symbol && o.batch_size < 1)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                        "memory plan: batch_size %lld for symbol '%s' must be at least 1",
                        (long long)o.batch_size, o.batch_symbol);
  sinter_memplan_t *plan = calloc(1, sizeof(*plan));
  if (!plan) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "memory plan: out of memory");
  plan->graph = graph;
  plan->alignment = o.alignment;
  sinter_status_t st = build(plan, &o);
  if (st) {
    sinter_memplan_destroy(plan);
    return st;
  }
  *out_plan = plan;
  return NULL;
}

void sinter_memplan_destroy(sinter_memplan_t *plan) {
  if (!plan) return;
  free(plan->buffers);
  free(plan->index_of_id);
  free(plan);
}

size_t sinter_memplan_arena_size(const sinter_memplan_t *plan) { return plan->arena_size; }

size_t sinter_memplan_naive_size(const sinter_memplan_t *plan) { return plan->naive_size; }

size_t sinter_memplan_alignment(const sinter_memplan_t *plan) { return plan->alignment; }

int32_t sinter_memplan_num_buffers(const sinter_memplan_t *plan) { return plan->n_buffers; }

bool sinter_memplan_offset(const sinter_memplan_t *plan, const sinter_value_t *value,
                           size_t *out_offset, size_t *out_size) {
  if (!plan || !value || value->graph != plan->graph || value->id >= plan->n_ids) return false;
  int32_t bi = plan->index_of_id[value->id];
  if (bi < 0 || plan->buffers[bi].value != value) return false;
  if (out_offset) *out_offset = plan->buffers[bi].offset;
  if (out_size) *out_size = plan->buffers[bi].size;
  return true;
}

bool sinter_memplan_buffer(const sinter_memplan_t *plan, int32_t index,
                           sinter_memplan_buffer_t *out_buffer) {
  if (!plan || index < 0 || index >= plan->n_buffers) return false;
  if (out_buffer) *out_buffer = plan->buffers[index];
  return true;
}

sinter_status_t sinter_memplan_print(const sinter_memplan_t *plan, FILE *out) {
  if (!plan || !out)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "sinter_memplan_print: NULL argument");
  double saved = plan->naive_size
                     ? 100.0 * (1.0 - (double)plan->arena_size / (double)plan->naive_size)
                     : 0.0;
  fprintf(out,
          "memory plan of graph '%s': %d buffers, alignment %zu\n"
          "  arena (peak) %zu bytes (%.2f MiB), naive sum %zu bytes (%.2f MiB), %.1f%% saved\n",
          sinter_graph_name(plan->graph), plan->n_buffers, plan->alignment, plan->arena_size,
          (double)plan->arena_size / 1048576.0, plan->naive_size,
          (double)plan->naive_size / 1048576.0, saved);
  fprintf(out, "  %12s %12s %13s  %s\n", "offset", "size", "live", "value");
  for (int32_t i = 0; i < plan->n_buffers; i++) {
    const sinter_memplan_buffer_t *b = &plan->buffers[i];
    char vd[512], td[256], live[32];
    snprintf(live, sizeof(live), "[%d,%d]", b->first, b->last);
    fprintf(out, "  %12zu %12zu %13s  %s %s\n", b->offset, b->size, live,
            value_desc(b->value, vd, sizeof(vd)),
            sinter_type_format(sinter_value_type(b->value), td, sizeof(td)));
  }
  if (ferror(out))
    return SINTER_ERROR(SINTER_IO_ERROR, "memory plan of graph '%s': write failed",
                        sinter_graph_name(plan->graph));
  return NULL;
}
