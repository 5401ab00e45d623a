/* sinter opt: runs a pass pipeline over a model and writes the result as
 * ONNX or text IR. */
#include <stdlib.h>
#include <string.h>

#include "sinter/passes.h"
#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter opt MODEL (--passes PIPELINE | -O0 | -O1 | -O2) [--export-standard]\n"
          "                  -o OUT.onnx|OUT.sir [--verify-each] [--print-ir-after=NAME]\n"
          "                  [--print-ir-after-all] [--time-passes] [--stats]\n"
          "       sinter opt --list-passes [--markdown]\n"
          "\n"
          "Runs a pipeline of passes over MODEL (.onnx or .sir) and writes the result.\n"
          "A pipeline is a comma-separated list of passes, each with optional options:\n"
          "  canonicalize,fold-constants,fuse-conv-act{acts=relu|clip},dce\n"
          "\n"
          "  --passes P             the pipeline to run (may start with -O1 or -O2)\n"
          "  -O0, -O1, -O2          a default pipeline (see --list-passes)\n"
          "  -o FILE                output: .onnx (ONNX) or .sir (text IR); written only if\n"
          "                         every pass succeeds\n"
          "  --export-standard      rewrite Sinter's fused ops back into standard ONNX ops\n"
          "  --verify-each          verify the IR after every pass\n"
          "  --print-ir-after=NAME  print the IR (constants elided) after each run of NAME\n"
          "  --print-ir-after-all   print the IR after every pass\n"
          "  --time-passes          print the wall time of every pass\n"
          "  --stats                print per-pass node counts: removed, fused, folded\n"
          "  --list-passes          list every pass with its summary and options\n");
}

static const char *kind_name(sinter_pass_option_kind_t k) {
  switch (k) {
    case SINTER_PASS_OPT_BOOL: return "bool";
    case SINTER_PASS_OPT_INT: return "int";
    case SINTER_PASS_OPT_FLOAT: return "float";
    case SINTER_PASS_OPT_STRING: return "string";
    case SINTER_PASS_OPT_CHOICE: return "choice";
  }
  return "?";
}

/* Prints the registry; in Markdown for docs/passes.md, which a test keeps in
 * step with this output. */
static void list_passes(const sinter_pass_registry_t *reg, bool markdown) {
  if (markdown) {
    printf("| level | pipeline |\n|---|---|\n");
    for (int l = 0; l <= 2; l++)
      printf("| `-O%d` | `%s` |\n", l, *sinter_pipeline_default(l) ? sinter_pipeline_default(l) : "(no passes)");
    printf("\n");
  } else {
    for (int l = 0; l <= 2; l++)
      printf("-O%d = %s\n", l, *sinter_pipeline_default(l) ? sinter_pipeline_default(l) : "(no passes)");
    printf("\n");
  }
  for (int32_t i = 0; i < sinter_pass_registry_count(reg); i++) {
    const sinter_pass_info_t *p = sinter_pass_registry_at(reg, i);
    if (markdown)
      printf("### `%s`\n\n%s.\n\n", p->name, p->summary);
    else
      printf("%-20s %s\n", p->name, p->summary);
    for (int32_t k = 0; k < p->n_options; k++) {
      const sinter_pass_option_t *o = &p->options[k];
      if (markdown)
        printf("- `%s` (%s%s%s, default `%s`): %s\n", o->name, kind_name(o->kind),
               o->choices ? ": " : "", o->choices ? o->choices : "",
               o->default_value ? o->default_value : "", o->help ? o->help : "");
      else
        printf("  %-18s %s%s%s, default %s: %s\n", o->name, kind_name(o->kind),
               o->choices ? " " : "", o->choices ? o->choices : "",
               o->default_value ? o->default_value : "\"\"", o->help ? o->help : "");
    }
    if (markdown && p->n_options) printf("\n");
  }
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cmd_opt(int argc, char **argv) {
  const char *path = NULL, *out = NULL, *passes = NULL, *print_after = NULL;
  bool export_standard = false, verify_each = false, print_all = false, time_passes = false,
       stats = false, list = false, markdown = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (tool_is_help(a)) {
      usage(stdout);
      return EXIT_OK;
    } else if (!strcmp(a, "--passes") && i + 1 < argc) {
      passes = argv[++i];
    } else if (!strncmp(a, "--passes=", 9)) {
      passes = a + 9;
    } else if (!strcmp(a, "-O0") || !strcmp(a, "-O1") || !strcmp(a, "-O2")) {
      passes = a;
    } else if (!strcmp(a, "-o") && i + 1 < argc) {
      out = argv[++i];
    } else if (!strcmp(a, "--export-standard")) {
      export_standard = true;
    } else if (!strcmp(a, "--verify-each")) {
      verify_each = true;
    } else if (!strncmp(a, "--print-ir-after=", 17)) {
      print_after = a + 17;
    } else if (!strcmp(a, "--print-ir-after") && i + 1 < argc) {
      print_after = argv[++i];
    } else if (!strcmp(a, "--print-ir-after-all")) {
      print_all = true;
    } else if (!strcmp(a, "--time-passes")) {
      time_passes = true;
    } else if (!strcmp(a, "--stats")) {
      stats = true;
    } else if (!strcmp(a, "--list-passes")) {
      list = true;
    } else if (!strcmp(a, "--markdown")) {
      markdown = true;
    } else if (a[0] == '-') {
      fprintf(stderr, "sinter opt: unknown option '%s'\n", a);
      usage(stderr);
      return EXIT_USAGE;
    } else if (!path) {
      path = a;
    } else {
      fprintf(stderr, "sinter opt: more than one model given\n");
      return EXIT_USAGE;
    }
  }
  sinter_pass_registry_t *reg = NULL;
  sinter_status_t st = sinter_pass_registry_create(&reg);
  if (st) return tool_fail(st);
  if (list) {
    list_passes(reg, markdown);
    sinter_pass_registry_destroy(reg);
    return EXIT_OK;
  }
  if (!path || !out || !passes) {
    fprintf(stderr, "sinter opt: %s\n",
            !path ? "no model given" : !out ? "no output given (-o)" : "no pipeline given (--passes or -O1/-O2)");
    usage(stderr);
    sinter_pass_registry_destroy(reg);
    return EXIT_USAGE;
  }
  if (!ends_with(out, ".onnx") && !ends_with(out, ".sir")) {
    fprintf(stderr, "sinter opt: %s: the output must end in .onnx or .sir\n", out);
    sinter_pass_registry_destroy(reg);
    return EXIT_USAGE;
  }
  sinter_pipeline_t *pl = NULL;
  sinter_graph_t *g = NULL;
  sinter_pipeline_stats_t pstats = {0};
  int rc = EXIT_OK;
  st = sinter_pipeline_parse(reg, passes, &pl);
  if (st) {
    rc = tool_fail(st);
    if (rc == EXIT_MODEL) rc = EXIT_USAGE; /* a bad pipeline is a usage error */
    goto done;
  }
  if (export_standard) {
    if ((st = sinter_pipeline_append(pl, "decompose-fused"))) goto fail;
  }
  if ((st = tool_load_model(path, &g))) goto fail;
  sinter_pipeline_options_t opts = {
      .verify_each = verify_each, .print_ir_after_all = print_all,
      .print_ir_after = print_after, .elide_constants = true, .dump = stdout,
  };
  st = sinter_pipeline_run(g, pl, &opts, &pstats);
  if (time_passes) sinter_pipeline_stats_print(&pstats, false, stderr);
  if (stats) sinter_pipeline_stats_print(&pstats, true, stderr);
  if (st) {
    st = sinter_status_annotate(st, "%s", path);
    goto fail;
  }
  if (ends_with(out, ".onnx")) {
    st = sinter_onnx_export_file(g, out);
  } else {
    char *text = NULL;
    size_t len = 0;
    st = sinter_graph_print_to_string(g, false, &text, &len);
    if (!st) st = sinter_write_file_atomic(out, text, len);
    free(text);
  }
  if (st) goto fail;
  goto done;
fail:
  rc = tool_fail(st);
done:
  sinter_pipeline_stats_free(&pstats);
  sinter_graph_destroy(g);
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(reg);
  return rc;
}
