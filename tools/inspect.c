/* sinter inspect: a summary of a model (inputs, outputs, op counts,
 * parameters and sizes), as text, JSON or Graphviz DOT. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter inspect MODEL [--json] [--dot]\n"
          "\n"
          "Summarizes MODEL (.onnx or .sir): inputs and outputs with their types, op\n"
          "counts, parameter count and size.\n"
          "\n"
          "  --json   print a JSON object instead of text\n"
          "  --dot    print the graph in Graphviz DOT (render with: dot -Tsvg)\n"
          "  --ir     print the graph as text IR, constants elided\n");
}

typedef struct op_count_s {
  const char *name;
  int count;
} op_count_t;

static int by_count(const void *a, const void *b) {
  const op_count_t *x = a, *y = b;
  if (x->count != y->count) return y->count - x->count;
  return strcmp(x->name, y->name);
}

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool json = false, dot = false, ir = false;
  for (int i = 1; i < argc; i++) {
    if (tool_is_help(argv[i])) {
      usage(stdout);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (strcmp(argv[i], "--dot") == 0) {
      dot = true;
    } else if (strcmp(argv[i], "--ir") == 0) {
      ir = true;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "sinter inspect: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return EXIT_USAGE;
    } else if (!path) {
      path = argv[i];
    } else {
      fprintf(stderr, "sinter inspect: more than one model given\n");
      return EXIT_USAGE;
    }
  }
  if (!path) {
    usage(stderr);
    return EXIT_USAGE;
  }
  sinter_graph_t *g;
  sinter_status_t st = tool_load_model_lenient(path, &g);
  if (st) return tool_fail(st);
  if (dot) {
    st = sinter_graph_print_dot(g, stdout);
    sinter_graph_destroy(g);
    return st ? tool_fail(st) : EXIT_OK;
  }
  if (ir) {
    st = sinter_graph_print(g, stdout, true);
    sinter_graph_destroy(g);
    return st ? tool_fail(st) : EXIT_OK;
  }

  op_count_t ops[SINTER_OP_COUNT];
  int n_ops = 0;
  int counts[SINTER_OP_COUNT] = {0};
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n))
    counts[sinter_node_op(n)]++;
  for (int i = 1; i < SINTER_OP_COUNT; i++)
    if (counts[i]) ops[n_ops++] = (op_count_t){sinter_op_info((sinter_op_t)i)->name, counts[i]};
  qsort(ops, (size_t)n_ops, sizeof(op_count_t), by_count);
  int64_t params = 0, n_consts = 0;
  uint64_t bytes = 0;
  for (sinter_value_t *c = sinter_graph_first_const(g); c; c = sinter_value_next_const(c)) {
    int64_t numel = 0;
    size_t nb = 0;
    sinter_type_numel(sinter_value_type(c), &numel);
    sinter_value_data(c, &nb);
    params += numel;
    bytes += nb;
    n_consts++;
  }
  char buf[256];
  if (json) {
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(path));
    json_object_set_new(o, "graph", json_string(sinter_graph_name(g)));
    json_object_set_new(o, "opset", json_integer(sinter_graph_opset(g, "")));
    json_t *ins = json_array(), *outs = json_array(), *opj = json_object();
    for (int32_t i = 0; i < sinter_graph_num_inputs(g); i++) {
      sinter_value_t *v = sinter_graph_input(g, i);
      json_t *e = json_object();
      json_object_set_new(e, "name", json_string(sinter_value_name(v)));
      json_object_set_new(e, "type", json_string(sinter_type_format(sinter_value_type(v), buf, sizeof(buf))));
      json_array_append_new(ins, e);
    }
    for (int32_t i = 0; i < sinter_graph_num_outputs(g); i++) {
      sinter_value_t *v = sinter_graph_output(g, i);
      json_t *e = json_object();
      json_object_set_new(e, "name", json_string(sinter_value_name(v)));
      json_object_set_new(e, "type", json_string(sinter_type_format(sinter_value_type(v), buf, sizeof(buf))));
      json_array_append_new(outs, e);
    }
    for (int i = 0; i < n_ops; i++) json_object_set_new(opj, ops[i].name, json_integer(ops[i].count));
    json_object_set_new(o, "inputs", ins);
    json_object_set_new(o, "outputs", outs);
    json_object_set_new(o, "nodes", json_integer(sinter_graph_num_nodes(g)));
    json_object_set_new(o, "ops", opj);
    json_object_set_new(o, "constants", json_integer(n_consts));
    json_object_set_new(o, "parameters", json_integer(params));
    json_object_set_new(o, "parameter_bytes", json_integer((json_int_t)bytes));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) printf("%s\n", s);
    free(s);
    json_decref(o);
  } else {
    printf("model:      %s\n", path);
    printf("graph:      %s (opset %lld)\n", sinter_graph_name(g),
           (long long)sinter_graph_opset(g, ""));
    printf("inputs:\n");
    for (int32_t i = 0; i < sinter_graph_num_inputs(g); i++) {
      sinter_value_t *v = sinter_graph_input(g, i);
      printf("  %-24s %s\n", sinter_value_name(v),
             sinter_type_format(sinter_value_type(v), buf, sizeof(buf)));
    }
    printf("outputs:\n");
    for (int32_t i = 0; i < sinter_graph_num_outputs(g); i++) {
      sinter_value_t *v = sinter_graph_output(g, i);
      printf("  %-24s %s\n", sinter_value_name(v),
             sinter_type_format(sinter_value_type(v), buf, sizeof(buf)));
    }
    printf("nodes:      %d\n", sinter_graph_num_nodes(g));
    printf("parameters: %lld in %lld constants, %.2f MiB\n", (long long)params,
           (long long)n_consts, (double)bytes / (1024.0 * 1024.0));
    printf("ops:\n");
    for (int i = 0; i < n_ops; i++) printf("  %-24s %d\n", ops[i].name, ops[i].count);
  }
  sinter_graph_destroy(g);
  return EXIT_OK;
}
