/* End-to-end check of `sinter run` on every model in ../shared/models: each
 * test_data_set_* output (PyTorch's) must match within 1e-4 of the largest
 * reference magnitude. That bound is fp32 round-off accumulated over a few
 * hundred dependent operations (about 1e-6 relative each) with margin, and
 * tight enough to catch any wrong kernel, which is off by far more. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ir/interp/kernels.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"
#include "tests/support/model_test.h"

static void check_model(const char *name) {
  char dir[4096], model[4096];
  snprintf(dir, sizeof(dir), "%s/%s", models_dir(), name);
  snprintf(model, sizeof(model), "%s/model.onnx", dir);
  if (!exists(model)) {
    printf("skip %s: no model.onnx\n", name);
    return;
  }
  sinter_graph_t *g;
  sinter_status_t st = sinter_onnx_import_file(model, &g);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  int sets = 0;
  for (int s = 0;; s++) {
    char set[4200];
    snprintf(set, sizeof(set), "%s/test_data_set_%d", dir, s);
    if (!exists(set)) break;
    sets++;
    char tmp[] = "/tmp/sinter-models-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    char *argv[64];
    char specs[16][4600];
    int a = 0;
    argv[a++] = SINTER_TOOL;
    argv[a++] = "run";
    argv[a++] = model;
    for (int k = 0; k < sinter_graph_num_inputs(g) && k < 16; k++) {
      snprintf(specs[k], sizeof(specs[k]), "%s=%s/input_%d.pb",
               sinter_value_name(sinter_graph_input(g, k)), set, k);
      argv[a++] = "--input";
      argv[a++] = specs[k];
    }
    argv[a++] = "--output-dir";
    argv[a++] = tmp;
    argv[a++] = "--quiet";
    argv[a] = NULL;
    ck_assert_int_eq(run_tool(argv), 0);
    for (int o = 0; o < sinter_graph_num_outputs(g); o++) {
      char want_path[4300], got_path[4300];
      snprintf(want_path, sizeof(want_path), "%s/output_%d.pb", set, o);
      const char *oname = sinter_value_name(sinter_graph_output(g, o));
      char safe[512];
      size_t k = 0;
      for (const char *p = oname; *p && k + 1 < sizeof(safe); p++)
        safe[k++] = (*p == '/' || *p == ':' || *p == ' ' || *p == '\\') ? '_' : *p;
      safe[k] = 0;
      snprintf(got_path, sizeof(got_path), "%s/%s.npy", tmp, safe);
      sinter_tensor_t want, got;
      st = sinter_onnx_read_tensor_file(want_path, &want, NULL);
      ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
      st = sinter_npy_read_file(got_path, &got);
      ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
      ck_assert_int_eq(want.rank, got.rank);
      for (int d = 0; d < want.rank; d++) ck_assert_int_eq(want.dims[d], got.dims[d]);
      int64_t n = sinter_tensor_numel(&want);
      double ref_max = 0, err_max = 0;
      for (int64_t i = 0; i < n; i++) {
        double w = sinter_load_f64(want.data, want.dtype, i);
        double v = sinter_load_f64(got.data, got.dtype, i);
        if (fabs(w) > ref_max) ref_max = fabs(w);
        if (!(fabs(w - v) <= err_max)) err_max = fabs(w - v);
      }
      double rel = err_max / (ref_max > 0 ? ref_max : 1);
      printf("%s set %d output '%s': max |err| %.3g, max |ref| %.3g, relative %.3g\n", name, s,
             oname, err_max, ref_max, rel);
      ck_assert_msg(rel <= 1e-4, "%s: relative error %g above 1e-4", name, rel);
      sinter_tensor_free_data(&want);
      sinter_tensor_free_data(&got);
      unlink(got_path);
    }
    rmdir(tmp);
  }
  ck_assert_int_gt(sets, 0);
  sinter_graph_destroy(g);
}

START_TEST(test_model) {
  static const char *names[] = {"digits_cnn", "digits_mlp", "resnet18", "mobilenet_v2",
                                "bert_tiny", "tiny_llama"};
  check_model(names[_i]);
}
END_TEST

int main(void) {
  char probe[4200];
  snprintf(probe, sizeof(probe), "%s/README.md", models_dir());
  if (!exists(probe)) {
    printf("SKIP: %s is absent; the shared-model tests need ../shared/models\n", models_dir());
    return 77; /* ctest SKIP_RETURN_CODE */
  }
  Suite *s = suite_create("shared_models");
  TCase *tc = tcase_create("run");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_model, 0, 6);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
