/* Round trips over real models: text IR (import → print → parse → print must
 * be byte-identical) and ONNX (import → export → import must give bitwise
 * identical interpreter outputs). Runs over ../shared/models and the ONNX
 * node tests; exported files are kept for the onnx.checker test. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sinter/ir.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"
#include "tests/support/model_test.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists model.onnx paths: the shared models, then the node tests. */
static char **list_models(size_t *out_n) {
  size_t n = 0, cap = 1024;
  char **v = malloc(cap * sizeof(char *));
  static const char *shared[] = {"digits_cnn", "digits_mlp", "resnet18", "mobilenet_v2",
                                 "bert_tiny", "tiny_llama"};
  for (size_t i = 0; i < 6; i++) {
    char p[4096];
    snprintf(p, sizeof(p), "%s/../shared/models/%s/model.onnx", SINTER_SOURCE_DIR, shared[i]);
    if (exists(p)) v[n++] = strdup(p);
  }
  size_t first_node = n;
  DIR *d = opendir(NODE_DIR);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s/model.onnx", NODE_DIR, e->d_name);
    if (!exists(p)) continue;
    if (n == cap) v = realloc(v, (cap *= 2) * sizeof(char *));
    v[n++] = strdup(p);
  }
  if (d) closedir(d);
  qsort(v + first_node, n - first_node, sizeof(char *), cmp_str);
  *out_n = n;
  return v;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

START_TEST(text_roundtrip) {
  size_t n;
  char **models = list_models(&n);
  int shared_ok = 0, node_ok = 0, imported = 0;
  for (size_t i = 0; i < n; i++) {
    sinter_graph_t *g;
    sinter_status_t st = sinter_onnx_import_file(models[i], &g);
    if (st) { /* unsupported ops or dtypes: not a text-IR question */
      sinter_status_free(st);
      continue;
    }
    imported++;
    char *t1, *t2;
    size_t l1, l2;
    st = sinter_graph_print_to_string(g, false, &t1, &l1);
    ck_assert_msg(st == NULL, "%s: print: %s", models[i], sinter_status_message(st));
    sinter_graph_t *g2;
    st = sinter_graph_parse(t1, l1, models[i], &g2);
    ck_assert_msg(st == NULL, "%s: parse: %s", models[i], sinter_status_message(st));
    st = sinter_graph_print_to_string(g2, false, &t2, &l2);
    ck_assert_msg(st == NULL, "%s: print: %s", models[i], sinter_status_message(st));
    ck_assert_msg(l1 == l2 && memcmp(t1, t2, l1) == 0, "%s: text differs after a round trip",
                  models[i]);
    if (strstr(models[i], "/shared/models/"))
      shared_ok++;
    else
      node_ok++;
    free(t1);
    free(t2);
    sinter_graph_destroy(g2);
    sinter_graph_destroy(g);
  }
  printf("text round trip: %d shared models, %d node-test models byte-identical (%d imported)\n",
         shared_ok, node_ok, imported);
  ck_assert_int_ge(node_ok, 100);
  free_list(models, n);
}
END_TEST

/* Reads test_data_set_0 inputs of the model at path; false when absent. */
static bool read_inputs(const char *model_path, const sinter_graph_t *g, sinter_tensor_t *in) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", model_path);
  *strrchr(dir, '/') = 0;
  for (int32_t k = 0; k < sinter_graph_num_inputs(g); k++) {
    char p[4200];
    snprintf(p, sizeof(p), "%s/test_data_set_0/input_%d.pb", dir, k);
    sinter_status_t st = sinter_onnx_read_tensor_file(p, &in[k], NULL);
    if (st) {
      sinter_status_free(st);
      for (int32_t j = 0; j < k; j++) sinter_tensor_free_data(&in[j]);
      return false;
    }
  }
  return true;
}

static bool run(const sinter_graph_t *g, sinter_tensor_t *in, sinter_tensor_t *out) {
  sinter_interp_t *ip;
  sinter_status_t st = sinter_interp_create(g, &ip);
  if (!st) st = sinter_interp_run(ip, in, sinter_graph_num_inputs(g), out);
  sinter_interp_destroy(ip);
  if (st) sinter_status_free(st);
  return st == NULL;
}

START_TEST(onnx_roundtrip) {
  size_t n;
  char **models = list_models(&n);
  const char *export_dir = SINTER_BINARY_DIR "/roundtrip";
  mkdir(export_dir, 0777);
  int compared = 0;
  for (size_t i = 0; i < n; i++) {
    sinter_graph_t *g;
    sinter_status_t st = sinter_onnx_import_file(models[i], &g);
    if (st) {
      sinter_status_free(st);
      continue;
    }
    void *buf;
    size_t len;
    st = sinter_onnx_export_buffer(g, &buf, &len);
    ck_assert_msg(st == NULL, "%s: export: %s", models[i], sinter_status_message(st));
    sinter_graph_t *g2;
    st = sinter_onnx_import_buffer(buf, len, models[i], NULL, &g2);
    ck_assert_msg(st == NULL, "%s: re-import: %s", models[i], sinter_status_message(st));
    /* Keep the export for the onnx.checker test: <parent folder>.onnx */
    char name[4096], out_path[4400];
    snprintf(name, sizeof(name), "%s", models[i]);
    *strrchr(name, '/') = 0;
    snprintf(out_path, sizeof(out_path), "%s/%s.onnx", export_dir, strrchr(name, '/') + 1);
    st = sinter_write_file_atomic(out_path, buf, len);
    ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
    free(buf);
    int32_t ni = sinter_graph_num_inputs(g), no = sinter_graph_num_outputs(g);
    ck_assert_int_eq(ni, sinter_graph_num_inputs(g2));
    ck_assert_int_eq(no, sinter_graph_num_outputs(g2));
    sinter_tensor_t *in = calloc((size_t)ni + 1, sizeof(*in));
    sinter_tensor_t *o1 = calloc((size_t)no + 1, sizeof(*o1));
    sinter_tensor_t *o2 = calloc((size_t)no + 1, sizeof(*o2));
    if (read_inputs(models[i], g, in)) {
      bool r1 = run(g, in, o1);
      if (r1) {
        ck_assert_msg(run(g2, in, o2), "%s: the re-imported graph fails to run", models[i]);
        for (int32_t k = 0; k < no; k++) {
          ck_assert_int_eq(o1[k].dtype, o2[k].dtype);
          ck_assert_int_eq(o1[k].nbytes, o2[k].nbytes);
          ck_assert_msg(memcmp(o1[k].data, o2[k].data, o1[k].nbytes) == 0,
                        "%s: output %d differs after an ONNX round trip", models[i], k);
          sinter_tensor_free_data(&o1[k]);
          sinter_tensor_free_data(&o2[k]);
        }
        compared++;
      }
      for (int32_t k = 0; k < ni; k++) sinter_tensor_free_data(&in[k]);
    }
    free(in);
    free(o1);
    free(o2);
    sinter_graph_destroy(g2);
    sinter_graph_destroy(g);
  }
  printf("ONNX round trip: %d models gave identical outputs after export and re-import\n",
         compared);
  ck_assert_int_ge(compared, 100);
  free_list(models, n);
}
END_TEST

int main(void) {
  if (!exists(NODE_DIR)) {
    printf("SKIP: %s is absent (Debian package libonnx-testdata)\n", NODE_DIR);
    return 77;
  }
  Suite *s = suite_create("roundtrip");
  TCase *tc = tcase_create("roundtrip");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, text_roundtrip);
  tcase_add_test(tc, onnx_roundtrip);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
