/* Embeds Sinter's pass pipeline in another program: registers a custom pass
 * written in C and runs it between built-in passes.
 *   usage: embed_pipeline MODEL.onnx
 * The custom pass, "count-ops", counts nodes per op through the public walk
 * API and reports through its user-data pointer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/onnx.h"
#include "sinter/passes.h"

typedef struct op_census_s {
  int counts[SINTER_OP_COUNT];
  int runs;
} op_census_t;

static sinter_status_t count_ops(sinter_graph_t *graph, const sinter_pass_args_t *args,
                                 sinter_pass_counters_t *counters, void *user) {
  op_census_t *census = user;
  memset(census->counts, 0, sizeof(census->counts));
  for (sinter_node_t *n = sinter_graph_first_node(graph); n; n = sinter_node_next(n))
    census->counts[sinter_node_op(n)]++;
  census->runs++;
  if (sinter_pass_args_bool(args, "verbose"))
    printf("count-ops: %d nodes\n", sinter_graph_num_nodes(graph));
  return NULL;
}

static const sinter_pass_option_t count_ops_options[] = {
    {"verbose", SINTER_PASS_OPT_BOOL, "false", NULL, "print the node count"},
};

static int fail(sinter_status_t st) {
  fprintf(stderr, "embed_pipeline: %s\n", sinter_status_message(st));
  sinter_status_free(st);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: embed_pipeline MODEL.onnx\n");
    return 2;
  }
  op_census_t before = {0}, after = {0};
  sinter_pass_registry_t *reg;
  sinter_status_t st = sinter_pass_registry_create(&reg);
  if (st) return fail(st);
  /* Two registrations of the same code with different user data. */
  sinter_pass_info_t p1 = {"count-ops-before", "count nodes per op (before)", count_ops_options, 1,
                           count_ops, &before};
  sinter_pass_info_t p2 = {"count-ops-after", "count nodes per op (after)", count_ops_options, 1,
                           count_ops, &after};
  if ((st = sinter_pass_registry_add(reg, &p1)) || (st = sinter_pass_registry_add(reg, &p2)))
    return fail(st);

  sinter_graph_t *g;
  if ((st = sinter_onnx_import_file(argv[1], &g))) return fail(st);
  sinter_pipeline_t *pl;
  if ((st = sinter_pipeline_parse(reg, "count-ops-before{verbose=true},-O1,count-ops-after{verbose=true}", &pl)))
    return fail(st);
  char *text;
  if ((st = sinter_pipeline_print(pl, &text))) return fail(st);
  printf("pipeline: %s\n", text);
  sinter_pipeline_options_t opts = {.verify_each = true};
  sinter_pipeline_stats_t stats;
  if ((st = sinter_pipeline_run(g, pl, &opts, &stats))) return fail(st);
  sinter_pipeline_stats_print(&stats, true, stdout);
  printf("%-22s %7s %7s\n", "op", "before", "after");
  for (int op = 1; op < SINTER_OP_COUNT; op++)
    if (before.counts[op] || after.counts[op])
      printf("%-22s %7d %7d\n", sinter_op_info((sinter_op_t)op)->name, before.counts[op],
             after.counts[op]);
  int ok = before.runs == 1 && after.runs == 1;
  sinter_pipeline_stats_free(&stats);
  free(text);
  sinter_pipeline_destroy(pl);
  sinter_graph_destroy(g);
  sinter_pass_registry_destroy(reg);
  if (!ok) {
    fprintf(stderr, "embed_pipeline: the custom passes did not run once each\n");
    return 1;
  }
  return 0;
}
