/* Shared helpers of the sinter command line. */
#include <stdlib.h>
#include <string.h>

#include "tools/tool.h"

int tool_fail(sinter_status_t st) {
  fprintf(stderr, "sinter: %s\n", sinter_status_message(st));
  int code = EXIT_MODEL;
  sinter_status_free(st);
  return code;
}

bool tool_is_help(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

sinter_status_t tool_load_model(const char *path, sinter_graph_t **out_graph) {
  *out_graph = NULL;
  if (ends_with(path, ".sir")) {
    void *text;
    size_t len;
    SINTER_TRY(sinter_read_file(path, &text, &len));
    sinter_status_t st = sinter_graph_parse(text, len, path, out_graph);
    free(text);
    return st;
  }
  return sinter_onnx_import_file(path, out_graph);
}

sinter_status_t tool_load_model_lenient(const char *path, sinter_graph_t **out_graph) {
  *out_graph = NULL;
  if (ends_with(path, ".sir")) return tool_load_model(path, out_graph);
  sinter_onnx_import_options_t opts = {.skip_shape_inference = true};
  SINTER_TRY(sinter_onnx_import_file_opts(path, &opts, out_graph));
  sinter_status_t st = sinter_graph_infer_shapes(*out_graph);
  if (st && sinter_status_code(st) == SINTER_UNSUPPORTED) {
    fprintf(stderr, "sinter: warning: %s: %s; some types stay unknown\n", path,
            sinter_status_message(st));
    sinter_status_free(st);
    return NULL;
  }
  if (st) {
    sinter_graph_destroy(*out_graph);
    *out_graph = NULL;
    return sinter_status_annotate(st, "%s", path);
  }
  return NULL;
}

sinter_status_t tool_read_tensor(const char *path, sinter_tensor_t *out, char **out_name) {
  if (out_name) *out_name = NULL;
  if (ends_with(path, ".npy")) return sinter_npy_read_file(path, out);
  if (ends_with(path, ".pb")) return sinter_onnx_read_tensor_file(path, out, out_name);
  return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                      "%s: unknown tensor file type (expected .npy or .pb)", path);
}
