/* `sinter opt -O2` on every shared model: the optimized model (written as
 * ONNX by the CLI, then read back) must give the same outputs as the
 * original on test_data_set_0, within 1e-4 of the largest reference value:
 * folding BatchNorm into weights and fused kernels reorder f32 arithmetic,
 * which moves results by a few ulps per layer, far below that bound, while
 * a wrong rewrite is off by far more. The text IR of two -O2 runs must be
 * byte-identical (determinism), and node counts before and after are
 * printed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sinter/onnx.h"
#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"
#include "tests/support/model_test.h"

static void count_ops(const sinter_graph_t *g, int *counts) {
  memset(counts, 0, sizeof(int) * SINTER_OP_COUNT);
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n))
    counts[sinter_node_op(n)]++;
}

static char *slurp(const char *path, size_t *len) {
  void *d;
  sinter_status_t st = sinter_read_file(path, &d, len);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  return d;
}

static const char *names[] = {"digits_cnn", "digits_mlp", "resnet18", "mobilenet_v2",
                              "bert_tiny", "tiny_llama"};

START_TEST(opt_o2) {
  const char *name = names[_i];
  char model[4096], set[4200];
  snprintf(model, sizeof(model), "%s/%s/model.onnx", models_dir(), name);
  snprintf(set, sizeof(set), "%s/%s/test_data_set_0", models_dir(), name);
  char tmp[] = "/tmp/sinter-opt-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  char out_onnx[256], out_a[256], out_b[256];
  snprintf(out_onnx, sizeof(out_onnx), "%s/o2.onnx", tmp);
  snprintf(out_a, sizeof(out_a), "%s/a.sir", tmp);
  snprintf(out_b, sizeof(out_b), "%s/b.sir", tmp);
  char *argv1[] = {SINTER_TOOL, "opt", model, "-O2", "--verify-each", "-o", out_onnx, NULL};
  ck_assert_int_eq(run_tool(argv1), 0);
  char *argv2[] = {SINTER_TOOL, "opt", model, "-O2", "-o", out_a, NULL};
  ck_assert_int_eq(run_tool(argv2), 0);
  char *argv3[] = {SINTER_TOOL, "opt", model, "-O2", "-o", out_b, NULL};
  ck_assert_int_eq(run_tool(argv3), 0);
  size_t la, lb;
  char *a = slurp(out_a, &la), *b = slurp(out_b, &lb);
  ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s: two -O2 runs differ", name);
  free(a);
  free(b);

  sinter_graph_t *g0, *g2;
  sinter_status_t st = sinter_onnx_import_file(model, &g0);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  st = sinter_onnx_import_file(out_onnx, &g2);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  int c0[SINTER_OP_COUNT], c2[SINTER_OP_COUNT];
  count_ops(g0, c0);
  count_ops(g2, c2);
  printf("%s: %d nodes before -O2, %d after\n", name, sinter_graph_num_nodes(g0),
         sinter_graph_num_nodes(g2));
  for (int op = 1; op < SINTER_OP_COUNT; op++)
    if (c0[op] || c2[op])
      printf("  %-24s %5d -> %5d\n", sinter_op_info((sinter_op_t)op)->name, c0[op], c2[op]);
  sinter_tensor_t o0[4] = {0}, o2[4] = {0};
  run_test_data_set(g0, set, o0);
  run_test_data_set(g2, set, o2);
  for (int32_t k = 0; k < sinter_graph_num_outputs(g0); k++) {
    ck_assert_int_eq(o0[k].nbytes, o2[k].nbytes);
    int64_t n = sinter_tensor_numel(&o0[k]);
    double ref = 0, err = 0;
    for (int64_t i = 0; i < n; i++) {
      double x = ((float *)o0[k].data)[i], y = ((float *)o2[k].data)[i];
      if (fabs(x) > ref) ref = fabs(x);
      if (!(fabs(x - y) <= err)) err = fabs(x - y);
    }
    printf("  output %d: max |err| %.3g, max |ref| %.3g, relative %.3g\n", k, err, ref,
           err / (ref > 0 ? ref : 1));
    ck_assert_msg(err <= 1e-4 * (ref > 0 ? ref : 1), "%s: -O2 changed output %d by %g", name, k,
                  err);
    sinter_tensor_free_data(&o0[k]);
    sinter_tensor_free_data(&o2[k]);
  }
  sinter_graph_destroy(g0);
  sinter_graph_destroy(g2);
  unlink(out_onnx);
  unlink(out_a);
  unlink(out_b);
  rmdir(tmp);
}
END_TEST

int main(void) {
  char probe[4200];
  snprintf(probe, sizeof(probe), "%s/README.md", models_dir());
  if (!exists(probe)) {
    printf("SKIP: %s is absent; the -O2 model tests need ../shared/models\n", models_dir());
    return 77;
  }
  Suite *s = suite_create("opt_models");
  TCase *tc = tcase_create("opt");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, opt_o2, 0, 6);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
