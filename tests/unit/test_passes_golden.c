/* Golden tests for the passes, in the manner of LLVM's lit and QBE's tests:
 * each tests/passes/<pass>/<case>.test holds a pipeline, an input graph and
 * the expected graph in text IR. The input is parsed, run through the
 * pipeline with verify-each, printed, and compared with the expected text
 * (itself parsed and printed, so layout and comments do not matter). Every
 * registered pass must have at least one case. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sinter/passes.h"
#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"

#define PASS_DIR SINTER_SOURCE_DIR "/tests/passes"

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints text through parse and print; NULL with *err set on failure. */
static char *normalize(const char *text, size_t len, const char *name, char **err) {
  sinter_graph_t *g;
  sinter_status_t st = sinter_graph_parse(text, len, name, &g);
  if (st) {
    *err = strdup(sinter_status_message(st));
    sinter_status_free(st);
    return NULL;
  }
  char *out;
  size_t olen;
  st = sinter_graph_print_to_string(g, false, &out, &olen);
  sinter_graph_destroy(g);
  if (st) {
    *err = strdup(sinter_status_message(st));
    sinter_status_free(st);
    return NULL;
  }
  return out;
}

/* Describes where two texts first differ. */
static void first_difference(const char *a, const char *b, char *buf, size_t cap) {
  int line = 1;
  const char *la = a, *lb = b;
  while (*a && *a == *b) {
    if (*a == '\n') {
      line++;
      la = a + 1;
      lb = b + 1;
    }
    a++;
    b++;
  }
  const char *ea = strchr(la, '\n'), *eb = strchr(lb, '\n');
  snprintf(buf, cap, "line %d\n  got:      %.*s\n  expected: %.*s", line,
           (int)(ea ? ea - la : (long)strlen(la)), la, (int)(eb ? eb - lb : (long)strlen(lb)), lb);
}

/* Runs one .test file; returns NULL on success or a malloc'ed reason. */
static char *run_case(const sinter_pass_registry_t *reg, const char *path) {
  void *data;
  size_t len;
  sinter_status_t st = sinter_read_file(path, &data, &len);
  if (st) {
    char *m = strdup(sinter_status_message(st));
    sinter_status_free(st);
    return m;
  }
  char *text = realloc(data, len + 1);
  text[len] = 0;
  char *reason = NULL;
  char pipeline[1024] = "";
  const char *p = strstr(text, "pipeline:");
  const char *in = strstr(text, "--- input\n");
  const char *ex = strstr(text, "--- expected\n");
  if (!p || !in || !ex || ex < in) {
    reason = strdup("malformed test: needs 'pipeline:', '--- input' and '--- expected'");
    goto out;
  }
  const char *pe = strchr(p, '\n');
  snprintf(pipeline, sizeof(pipeline), "%.*s", (int)(pe - p - 9), p + 9);
  in += strlen("--- input\n");
  const char *ex_body = ex + strlen("--- expected\n");
  sinter_graph_t *g;
  st = sinter_graph_parse(in, (size_t)(ex - in), path, &g);
  if (st) goto status_fail;
  sinter_pipeline_t *pl;
  st = sinter_pipeline_parse(reg, pipeline, &pl);
  if (st) {
    sinter_graph_destroy(g);
    goto status_fail;
  }
  sinter_pipeline_options_t opts = {.verify_each = true};
  st = sinter_pipeline_run(g, pl, &opts, NULL);
  sinter_pipeline_destroy(pl);
  char *got = NULL;
  size_t glen;
  if (!st) st = sinter_graph_print_to_string(g, false, &got, &glen);
  sinter_graph_destroy(g);
  if (st) goto status_fail;
  char *err = NULL;
  char *want = normalize(ex_body, strlen(ex_body), path, &err);
  if (!want) {
    reason = malloc(strlen(err) + 64);
    sprintf(reason, "expected section does not parse: %s", err);
    free(err);
    free(got);
    goto out;
  }
  if (strcmp(got, want) != 0) {
    char diff[2048];
    first_difference(got, want, diff, sizeof(diff));
    reason = malloc(strlen(diff) + strlen(got) + 64);
    sprintf(reason, "output differs at %s\n--- full output:\n%s", diff, got);
  }
  free(got);
  free(want);
  goto out;
status_fail:
  reason = strdup(sinter_status_message(st));
  sinter_status_free(st);
out:
  free(text);
  return reason;
}

START_TEST(golden) {
  sinter_pass_registry_t *reg;
  ck_assert_ptr_null(sinter_pass_registry_create(&reg));
  int cases = 0, failed = 0;
  for (int32_t i = 0; i < sinter_pass_registry_count(reg); i++) {
    const char *name = sinter_pass_registry_at(reg, i)->name;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s", PASS_DIR, name);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "pass '%s' has no golden tests (%s)", name, dir);
    char *files[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
      size_t l = strlen(e->d_name);
      if (l > 5 && strcmp(e->d_name + l - 5, ".test") == 0) files[n++] = strdup(e->d_name);
    }
    closedir(d);
    ck_assert_msg(n > 0, "pass '%s' has no .test files in %s", name, dir);
    qsort(files, (size_t)n, sizeof(char *), cmp_str);
    for (int k = 0; k < n; k++) {
      char path[2048];
      snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
      char *why = run_case(reg, path);
      cases++;
      if (why) {
        failed++;
        printf("FAIL %s/%s: %s\n", name, files[k], why);
        free(why);
      } else {
        printf("ok   %s/%s\n", name, files[k]);
      }
      free(files[k]);
    }
  }
  printf("%d golden cases, %d failed\n", cases, failed);
  sinter_pass_registry_destroy(reg);
  ck_assert_int_eq(failed, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("passes_golden");
  TCase *tc = tcase_create("golden");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, golden);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
