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
  /* Optional: true when node runs together with the node after it (a fused
   * kernel call), so the values node reads stay live through that node too
   * and never share bytes with what it writes. */
  bool (*joins_next)(void *user, const sinter_node_t *node);
  void *joins_next_user;
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


/* ---- CPU code generator (codegen/llvm_cpu.c) -------------------------------------------- */

/* Which inputs and outputs carry the dynamic batch, as found by
 * sinter_codegen_specialize_batch. Free with sinter_batch_spec_free. */
typedef struct sinter_batch_spec_s {
  int64_t batch;        /* the batch the graph's shapes now have (>= 1) */
  bool dynamic;         /* the artifact takes any batch, running samples one at a time */
  int32_t num_inputs, num_outputs;
  bool *input_dynamic;  /* [num_inputs]: dim 0 is the batch */
  bool *output_dynamic; /* [num_outputs] */
} sinter_batch_spec_t;

/* Gives graph static shapes for code generation. Inputs may have one
 * symbolic dim, dim 0, shared by all of them (the batch); every other dim
 * must be static. batch = 0 asks for a dynamic batch: the graph is
 * specialized to batch 1 and the artifact runs each sample in turn, which is
 * only allowed when the batch symbol appears in no value's shape except in
 * dim 0 (else the error asks for a fixed batch). batch >= 1 fixes it. Shape
 * inference is rerun. On success the caller frees spec's arrays. */
sinter_status_t sinter_codegen_specialize_batch(sinter_graph_t *graph, int64_t batch,
                                                sinter_batch_spec_t *spec);
void sinter_batch_spec_free(sinter_batch_spec_t *spec);

/* Options of sinter_compile_cpu. Zero-initialize, then set fields. */
typedef struct sinter_cpu_options_s {
  const char *cpu;      /* NULL or "native" (the host), or a name: x86-64-v3, x86-64-v4,
                           sapphirerapids, znver4, ... */
  const char *features; /* extra LLVM features, "+avx512vnni,-amx-int8"; NULL for none */
  bool weights_external; /* weights go to OUT.weights beside the library, mmapped at load */
  const char *model_name; /* recorded in the descriptor; NULL: the graph's name */
  const char *recipe;     /* recorded in the descriptor: the pipeline and flags */
  const sinter_batch_spec_t *batch; /* from sinter_codegen_specialize_batch; NULL: static */
  const char *linker;     /* the C compiler driver that links; NULL: "cc" */
  const char *llvm_passes; /* NULL: "default<O3>" */
  bool profile;            /* time every node into the descriptor's profile counters */
  /* Called as work proceeds (stage names: lowering, optimizing, emitting,
   * linking); may be NULL. */
  void (*progress)(void *user, const char *stage, int64_t done, int64_t total);
  void *progress_user;
} sinter_cpu_options_t;

/* What sinter_compile_cpu did. */
typedef struct sinter_cpu_report_s {
  uint64_t arena_bytes;   /* activation arena per run: plan + scratch */
  uint64_t plan_bytes;    /* the liveness plan's peak */
  uint64_t naive_bytes;   /* one buffer per value */
  uint64_t scratch_bytes; /* the largest per-node scratch (im2col, temporaries) */
  uint64_t weight_bytes;  /* packed weights, embedded or in the side file */
  double seconds_lower, seconds_optimize, seconds_emit, seconds_link;
  char cpu[64];           /* the CPU the code was generated for */
  bool avx512, vnni, amx; /* which kernel families were chosen */
} sinter_cpu_report_t;

/* Compiles graph (static shapes, see sinter_codegen_specialize_batch) into a
 * shared library at out_path exporting the artifact descriptor. Writes to a
 * temporary file and renames it into place: on failure nothing is left. The
 * graph is not changed. report may be NULL. */
sinter_status_t sinter_compile_cpu(sinter_graph_t *graph, const sinter_cpu_options_t *opts,
                                   const char *out_path, sinter_cpu_report_t *report);

#ifdef __cplusplus
}
#endif

#endif /* SINTER_CODEGEN_H */
