/* convert-precision on every shared model: outputs after {to=fp16} and {to=bf16} stay within a
 * per-format bound of the f32 outputs on test_data_set_0, the graph keeps its f32 interface, and
 * the pass really lowered something (weights in the target dtype). Skips without the models. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/onnx.h"
#include "sinter/passes.h"
#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"
#include "tests/support/model_test.h"

/* Bounds, justified in docs/precision.md. Rounding to fp16 (10 stored mantissa bits) moves a
 * value by at most 2^-11 = 4.9e-4 relative, bf16 (7 bits) by 2^-8 = 3.9e-3; the interpreter
 * accumulates in f32, so each layer adds about one rounding of its inputs, weights and output,
 * and errors grow with depth and with cancellation in sums. The bounds below are about 3-5x the
 * worst max-error measured on the shared models (see the report printed by the test); cosine
 * similarity catches errors spread over the whole output that a max bound would let through. */
typedef struct fmt_s {
  const char *pipeline;
  sinter_dtype_t dtype;
  double max_rel; /* max |err| <= max_rel * max |ref| */
  double min_cos; /* cosine(ref, out) >= min_cos */
} fmt_t;

static const fmt_t fmts[] = {
    {"convert-precision{to=fp16}", SINTER_DTYPE_F16, 1e-2, 0.9999},
    {"convert-precision{to=bf16}", SINTER_DTYPE_BF16, 6e-2, 0.999},
};

static const char *names[] = {"digits_cnn", "digits_mlp", "resnet18", "mobilenet_v2",
                              "bert_tiny", "tiny_llama"};

static void convert(sinter_graph_t *g, const char *text) {
  sinter_pass_registry_t *reg;
  sinter_pipeline_t *p;
  sinter_status_t st = sinter_pass_registry_create(&reg);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  st = sinter_pipeline_parse(reg, text, &p);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  sinter_pipeline_options_t o = {0};
  o.verify_each = true;
  st = sinter_pipeline_run(g, p, &o, NULL);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  sinter_pipeline_destroy(p);
  sinter_pass_registry_destroy(reg);
}

START_TEST(model_precision) {
  const char *name = names[_i / 2];
  const fmt_t *f = &fmts[_i % 2];
  char model[4096], set[4200];
  snprintf(model, sizeof(model), "%s/%s/model.onnx", models_dir(), name);
  snprintf(set, sizeof(set), "%s/%s/test_data_set_0", models_dir(), name);
  sinter_graph_t *g0, *g1;
  sinter_status_t st = sinter_onnx_import_file(model, &g0);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  st = sinter_onnx_import_file(model, &g1);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  convert(g1, f->pipeline);

  /* The interface stays as it was: same inputs and outputs, same names and dtypes. */
  ck_assert_int_eq(sinter_graph_num_inputs(g0), sinter_graph_num_inputs(g1));
  ck_assert_int_eq(sinter_graph_num_outputs(g0), sinter_graph_num_outputs(g1));
  for (int32_t k = 0; k < sinter_graph_num_inputs(g0); k++) {
    const sinter_value_t *a = sinter_graph_input(g0, k), *b = sinter_graph_input(g1, k);
    ck_assert_str_eq(sinter_value_name(a), sinter_value_name(b));
    ck_assert_int_eq(sinter_value_type(a)->dtype, sinter_value_type(b)->dtype);
  }
  for (int32_t k = 0; k < sinter_graph_num_outputs(g0); k++) {
    const sinter_value_t *a = sinter_graph_output(g0, k), *b = sinter_graph_output(g1, k);
    ck_assert_str_eq(sinter_value_name(a), sinter_value_name(b));
    ck_assert_int_eq(sinter_value_type(a)->dtype, SINTER_DTYPE_F32);
    ck_assert_int_eq(sinter_value_type(b)->dtype, SINTER_DTYPE_F32);
  }
  /* Most weight bytes are now in the target dtype, and no f32 constant of more than 16
   * elements is left (the big ones are weights of converted ops). */
  int64_t low = 0, big_f32 = 0;
  for (sinter_value_t *c = sinter_graph_first_const(g1); c; c = sinter_value_next_const(c)) {
    int64_t n = 0;
    sinter_type_numel(sinter_value_type(c), &n);
    if (sinter_value_type(c)->dtype == f->dtype) low += n;
    if (sinter_value_type(c)->dtype == SINTER_DTYPE_F32 && n > 16) big_f32++;
  }
  ck_assert_int_gt(low, 0);
  ck_assert_msg(big_f32 == 0, "%s: %lld large f32 constants left", name, (long long)big_f32);

  sinter_tensor_t o0[4] = {0}, o1[4] = {0};
  ck_assert_int_le(sinter_graph_num_outputs(g0), 4);
  run_test_data_set(g0, set, o0);
  run_test_data_set(g1, set, o1);
  for (int32_t k = 0; k < sinter_graph_num_outputs(g0); k++) {
    ck_assert_int_eq(o0[k].dtype, SINTER_DTYPE_F32);
    ck_assert_int_eq(o1[k].dtype, SINTER_DTYPE_F32);
    ck_assert_int_eq(o0[k].nbytes, o1[k].nbytes);
    int64_t n = sinter_tensor_numel(&o0[k]);
    double ref = 0, err = 0, dot = 0, n0 = 0, n1 = 0;
    for (int64_t i = 0; i < n; i++) {
      double x = ((float *)o0[k].data)[i], y = ((float *)o1[k].data)[i];
      if (fabs(x) > ref) ref = fabs(x);
      if (!(fabs(x - y) <= err)) err = fabs(x - y); /* NaN lands here and fails below */
      dot += x * y;
      n0 += x * x;
      n1 += y * y;
    }
    double cosv = n0 > 0 && n1 > 0 ? dot / sqrt(n0 * n1) : (n0 == n1 ? 1.0 : 0.0);
    double rel = err / (ref > 0 ? ref : 1);
    printf("%-13s %s output %d: max |err| %.3g, max |ref| %.3g, relative %.3g, cosine %.7f\n",
           name, f->pipeline, k, err, ref, rel, cosv);
    ck_assert_msg(rel <= f->max_rel, "%s %s: output %d max relative error %g > %g", name,
                  f->pipeline, k, rel, f->max_rel);
    ck_assert_msg(cosv >= f->min_cos, "%s %s: output %d cosine %g < %g", name, f->pipeline, k,
                  cosv, f->min_cos);
    sinter_tensor_free_data(&o0[k]);
    sinter_tensor_free_data(&o1[k]);
  }
  sinter_graph_destroy(g0);
  sinter_graph_destroy(g1);
}
END_TEST

int main(void) {
  char probe[4200];
  snprintf(probe, sizeof(probe), "%s/README.md", models_dir());
  if (!exists(probe)) {
    printf("SKIP: %s is absent; the convert-precision model tests need ../shared/models\n",
           models_dir());
    return 77;
  }
  Suite *s = suite_create("pass_convert_precision");
  TCase *tc = tcase_create("models");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, model_precision, 0, 12);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
