/* The public API of Sinter's code generator. It starts with the memory plan:
 * one activation arena whose offsets come from liveness over the graph's
 * node order, computed at compile time (docs/memplan.md). */
#ifndef SINTER_CODEGEN_H
#define SINTER_CODEGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sinter/ir.h"
#include "sinter/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- memory plan ----------------------------------------------------------------------- */

/* The default alignment of every buffer in the activation arena, in bytes. */
#define SINTER_MEMPLAN_DEFAULT_ALIGNMENT 64

/* Options of sinter_memplan_create. Zero-initialize, then set fields. */
typedef struct sinter_memplan_options_s {
  /* Alignment of every offset (and of the arena size), a power of two; 0 means
   * SINTER_MEMPLAN_DEFAULT_ALIGNMENT. */
  size_t alignment;
  /* When set, dims named by this symbol (such as the batch "N") count as
   * batch_size; other symbolic or unknown dims are an error. */
  const char *batch_symbol;
  /* The size substituted for batch_symbol; must be >= 1 when batch_symbol is set. */
  int64_t batch_size;
} sinter_memplan_options_t;

/* A memory plan: an offset and size in one activation arena for every node
 * output that is not a graph output. Opaque; it borrows the graph it was made
 * from, which must outlive it and must not change while it is used. */
typedef struct sinter_memplan_s sinter_memplan_t;

/* Plans the activation arena of graph in its current node order: a value is
 * live from its producer to its last user, and values whose lifetimes
 * overlap get disjoint byte ranges (greedy by size, lowest offset first).
 * Graph inputs, constants and graph outputs are not planned: they live in
 * caller buffers and weight storage. Fails, naming the value, when a planned
 * value's byte size is not static; and on subgraph attributes. opts may be
 * NULL (defaults). The caller owns *out_plan (sinter_memplan_destroy). */
sinter_status_t sinter_memplan_create(const sinter_graph_t *graph,
                                      const sinter_memplan_options_t *opts,
                                      sinter_memplan_t **out_plan);

/* Frees plan; NULL is allowed. */
void sinter_memplan_destroy(sinter_memplan_t *plan);

/* The arena size the plan needs (its peak), in bytes: a multiple of the
 * alignment, 0 when nothing is planned. */
size_t sinter_memplan_arena_size(const sinter_memplan_t *plan);

/* The naive total: the sum of every planned buffer's size rounded up to the
 * alignment, which is what one buffer per value would take. */
size_t sinter_memplan_naive_size(const sinter_memplan_t *plan);

/* The alignment the plan was made with, in bytes. */
size_t sinter_memplan_alignment(const sinter_memplan_t *plan);

/* The number of planned buffers (one per planned value). */
int32_t sinter_memplan_num_buffers(const sinter_memplan_t *plan);

/* Looks value up: true with its byte offset in the arena and its exact byte
 * size (before alignment padding) when value is planned; false (outputs
 * untouched) for graph inputs, constants, graph outputs and values of
 * another graph. */
bool sinter_memplan_offset(const sinter_memplan_t *plan, const sinter_value_t *value,
                           size_t *out_offset, size_t *out_size);

/* One planned buffer, for walking a plan. value is owned by the graph. */
typedef struct sinter_memplan_buffer_s {
  const sinter_value_t *value;
  size_t offset;       /* byte offset in the arena, a multiple of the alignment */
  size_t size;         /* exact byte size of the value */
  int32_t first, last; /* positions in node order of the producer and the last user */
} sinter_memplan_buffer_t;

/* Returns buffer index (0 <= index < sinter_memplan_num_buffers) in node
 * order of the producers (then output slot); false when index is out of range. */
bool sinter_memplan_buffer(const sinter_memplan_t *plan, int32_t index,
                           sinter_memplan_buffer_t *out_buffer);

/* Prints the plan for humans: the totals, then one line per buffer in node
 * order with its offset, size, lifetime, name and type. */
sinter_status_t sinter_memplan_print(const sinter_memplan_t *plan, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_CODEGEN_H */
