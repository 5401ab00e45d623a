/* The pass manager: pipeline parsing and printing, option validation and
 * errors, external passes, statistics, verify-each and IR dumps. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/passes.h"
#include "tests/support/check_main.h"

static sinter_graph_t *tiny_graph(void) {
  sinter_graph_t *g;
  ck_assert_ptr_null(sinter_graph_create("g", &g));
  sinter_type_t t = {.dtype = SINTER_DTYPE_F32, .rank = 1};
  t.dims[0].size = 4;
  sinter_value_t *x;
  ck_assert_ptr_null(sinter_graph_add_input(g, "x", &t, &x));
  sinter_node_t *n;
  ck_assert_ptr_null(sinter_graph_add_node(g, SINTER_OP_RELU, "r", &x, 1, 1, &n));
  ck_assert_ptr_null(sinter_graph_add_output(g, sinter_node_output(n, 0)));
  ck_assert_ptr_null(sinter_graph_infer_shapes(g));
  return g;
}

/* An external pass with every option kind; it records what it saw. */
typedef struct seen_s {
  int runs;
  bool flag;
  int64_t count;
  double ratio;
  char mode[64];
  bool has_b;
} seen_t;

static sinter_status_t probe_run(sinter_graph_t *g, const sinter_pass_args_t *a,
                                 sinter_pass_counters_t *c, void *user) {
  seen_t *s = user;
  s->runs++;
  s->flag = sinter_pass_args_bool(a, "flag");
  s->count = sinter_pass_args_int(a, "count");
  s->ratio = sinter_pass_args_float(a, "ratio");
  snprintf(s->mode, sizeof(s->mode), "%s", sinter_pass_args_string(a, "mode"));
  s->has_b = sinter_pass_args_has(a, "mode", "b");
  c->rewritten += 2;
  return NULL;
}

static const sinter_pass_option_t probe_opts[] = {
    {"flag", SINTER_PASS_OPT_BOOL, "false", NULL, "a flag"},
    {"count", SINTER_PASS_OPT_INT, "3", NULL, "a count"},
    {"ratio", SINTER_PASS_OPT_FLOAT, "0.5", NULL, "a ratio"},
    {"mode", SINTER_PASS_OPT_CHOICE, "a", "a|b|c", "modes"},
};

static sinter_pass_registry_t *registry_with_probe(seen_t *seen) {
  sinter_pass_registry_t *r;
  ck_assert_ptr_null(sinter_pass_registry_create(&r));
  sinter_pass_info_t info = {"probe", "records its options", probe_opts, 4, probe_run, seen};
  ck_assert_ptr_null(sinter_pass_registry_add(r, &info));
  return r;
}

START_TEST(parse_and_print) {
  seen_t seen = {0};
  sinter_pass_registry_t *r = registry_with_probe(&seen);
  sinter_pipeline_t *pl;
  /* Options in any order and spacing; choices print in declaration order;
   * defaults are omitted. */
  ck_assert_ptr_null(sinter_pipeline_parse(
      r, " infer-shapes , probe{ mode = c|a , flag=1,count=3},probe", &pl));
  char *text;
  ck_assert_ptr_null(sinter_pipeline_print(pl, &text));
  ck_assert_str_eq(text, "infer-shapes,probe{flag=true,mode=a|c},probe");
  sinter_pipeline_t *pl2;
  ck_assert_ptr_null(sinter_pipeline_parse(r, text, &pl2));
  char *text2;
  ck_assert_ptr_null(sinter_pipeline_print(pl2, &text2));
  ck_assert_str_eq(text, text2);
  free(text);
  free(text2);
  sinter_pipeline_destroy(pl2);

  sinter_graph_t *g = tiny_graph();
  sinter_pipeline_stats_t stats;
  sinter_pipeline_options_t opts = {.verify_each = true};
  ck_assert_ptr_null(sinter_pipeline_run(g, pl, &opts, &stats));
  ck_assert_int_eq(seen.runs, 2);
  /* The last run saw the defaults. */
  ck_assert(!seen.flag);
  ck_assert_int_eq(seen.count, 3);
  ck_assert(seen.ratio == 0.5);
  ck_assert_str_eq(seen.mode, "a");
  ck_assert(!seen.has_b);
  ck_assert_int_eq(stats.n_records, 3);
  ck_assert_str_eq(stats.records[1].name, "probe");
  ck_assert_int_eq(stats.records[1].counters.rewritten, 2);
  ck_assert_int_eq(stats.records[1].nodes_before, 1);
  char *buf;
  size_t len;
  FILE *f = open_memstream(&buf, &len);
  sinter_pipeline_stats_print(&stats, true, f);
  sinter_pipeline_stats_print(&stats, false, f);
  fclose(f);
  ck_assert_ptr_nonnull(strstr(buf, "probe"));
  ck_assert_ptr_nonnull(strstr(buf, "total"));
  free(buf);
  sinter_pipeline_stats_free(&stats);
  sinter_graph_destroy(g);
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(r);
}
END_TEST

START_TEST(errors_list_valid_choices) {
  seen_t seen = {0};
  sinter_pass_registry_t *r = registry_with_probe(&seen);
  static const struct {
    const char *text, *needle;
  } bad[] = {
      {"nope", "valid passes: "},
      {"probe{zap=1}", "valid options: flag, count, ratio, mode"},
      {"probe{mode=d}", "valid: a|b|c"},
      {"probe{count=x}", "takes an integer"},
      {"probe{ratio=}", "takes a number"},
      {"probe{flag=maybe}", "true or false"},
      {"probe{count}", "needs '=value'"},
      {"probe{count=1", "unbalanced '{'"},
      {"probe}", "unbalanced '}'"},
      {"probe,,probe", "empty pass name"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sinter_pipeline_t *pl = NULL;
    sinter_status_t st = sinter_pipeline_parse(r, bad[i].text, &pl);
    ck_assert_msg(st != NULL, "'%s' parsed", bad[i].text);
    ck_assert_ptr_null(pl);
    ck_assert_msg(strstr(sinter_status_message(st), bad[i].needle), "'%s': %s", bad[i].text,
                  sinter_status_message(st));
    sinter_status_free(st);
  }
  /* A duplicate or malformed registration is refused. */
  sinter_pass_info_t dup = {"probe", "again", NULL, 0, probe_run, &seen};
  sinter_status_t st = sinter_pass_registry_add(r, &dup);
  ck_assert_ptr_nonnull(st);
  sinter_status_free(st);
  sinter_pass_info_t badname = {"Bad Name", "x", NULL, 0, probe_run, &seen};
  st = sinter_pass_registry_add(r, &badname);
  ck_assert_ptr_nonnull(st);
  sinter_status_free(st);
  sinter_pass_registry_destroy(r);
}
END_TEST

static sinter_status_t breaker_run(sinter_graph_t *g, const sinter_pass_args_t *a,
                                   sinter_pass_counters_t *c, void *user) {
  /* Moves the only node's input out of reach: uses it before definition by
   * pointing it at a node output of its own. */
  sinter_node_t *n = sinter_graph_first_node(g);
  return sinter_node_set_input(n, 0, sinter_node_output(n, 0));
}

static sinter_status_t failing_run(sinter_graph_t *g, const sinter_pass_args_t *a,
                                   sinter_pass_counters_t *c, void *user) {
  return SINTER_ERROR(SINTER_INVALID_MODEL, "cannot do it");
}

START_TEST(verify_each_and_failures) {
  sinter_pass_registry_t *r;
  ck_assert_ptr_null(sinter_pass_registry_create(&r));
  sinter_pass_info_t b = {"breaker", "breaks SSA", NULL, 0, breaker_run, NULL};
  sinter_pass_info_t f = {"failing", "fails", NULL, 0, failing_run, NULL};
  ck_assert_ptr_null(sinter_pass_registry_add(r, &b));
  ck_assert_ptr_null(sinter_pass_registry_add(r, &f));
  sinter_pipeline_t *pl;
  ck_assert_ptr_null(sinter_pipeline_parse(r, "infer-shapes,breaker,infer-shapes", &pl));
  sinter_graph_t *g = tiny_graph();
  sinter_pipeline_options_t opts = {.verify_each = true};
  sinter_status_t st = sinter_pipeline_run(g, pl, &opts, NULL);
  ck_assert_ptr_nonnull(st);
  ck_assert_msg(strstr(sinter_status_message(st), "invalid after pass 'breaker' (#2"), "%s",
                sinter_status_message(st));
  sinter_status_free(st);
  sinter_graph_destroy(g);
  sinter_pipeline_destroy(pl);

  ck_assert_ptr_null(sinter_pipeline_parse(r, "infer-shapes,failing", &pl));
  g = tiny_graph();
  st = sinter_pipeline_run(g, pl, NULL, NULL);
  ck_assert_str_eq(sinter_status_message(st), "pass 'failing' (#2 in the pipeline): cannot do it");
  sinter_status_free(st);
  sinter_graph_destroy(g);
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(r);
}
END_TEST

START_TEST(print_ir_after) {
  sinter_pass_registry_t *r;
  ck_assert_ptr_null(sinter_pass_registry_create(&r));
  sinter_pipeline_t *pl;
  ck_assert_ptr_null(sinter_pipeline_parse(r, "infer-shapes,infer-shapes", &pl));
  sinter_graph_t *g = tiny_graph();
  char *buf;
  size_t len;
  FILE *f = open_memstream(&buf, &len);
  sinter_pipeline_options_t opts = {.print_ir_after = "infer-shapes", .dump = f};
  ck_assert_ptr_null(sinter_pipeline_run(g, pl, &opts, NULL));
  fclose(f);
  const char *first = strstr(buf, "IR after infer-shapes (#1)");
  ck_assert_ptr_nonnull(first);
  ck_assert_ptr_nonnull(strstr(first, "IR after infer-shapes (#2)"));
  ck_assert_ptr_nonnull(strstr(buf, "Relu"));
  free(buf);
  sinter_graph_destroy(g);
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(r);
}
END_TEST

START_TEST(default_levels) {
  ck_assert_str_eq(sinter_pipeline_default(0), "");
  ck_assert_str_eq(sinter_pipeline_default(1), "canonicalize,fold-constants,dce,cse");
  ck_assert_ptr_nonnull(strstr(sinter_pipeline_default(2), "fuse-conv-act"));
  ck_assert_ptr_null(sinter_pipeline_default(3));
  sinter_pass_registry_t *r;
  ck_assert_ptr_null(sinter_pass_registry_create(&r));
  sinter_pipeline_t *pl;
  ck_assert_ptr_null(sinter_pipeline_parse(r, "-O0,infer-shapes", &pl));
  char *text;
  ck_assert_ptr_null(sinter_pipeline_print(pl, &text));
  ck_assert_str_eq(text, "infer-shapes");
  free(text);
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pass_manager");
  TCase *tc = tcase_create("pass_manager");
  tcase_add_test(tc, parse_and_print);
  tcase_add_test(tc, errors_list_valid_choices);
  tcase_add_test(tc, verify_each_and_failures);
  tcase_add_test(tc, print_ir_after);
  tcase_add_test(tc, default_levels);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
