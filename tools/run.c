/* sinter run: runs a model on input tensors with the reference interpreter
 * and prints or saves the outputs. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ir/interp/kernels.h"
#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter run MODEL --input [NAME=]FILE ... [--output-dir DIR] [--quiet]\n"
          "\n"
          "Runs MODEL (.onnx or .sir) with the reference interpreter. Each --input names a\n"
          "graph input and a tensor file (.npy, or .pb holding an ONNX TensorProto); without\n"
          "NAME= the inputs are taken in the graph's order. A dynamic batch dimension takes\n"
          "the size of the given tensor.\n"
          "\n"
          "  --input [NAME=]FILE  an input tensor (repeatable)\n"
          "  --output-dir DIR     write each output to DIR/<output name>.npy\n"
          "  --quiet              do not print the output summary\n");
}

/* Output names may contain '/' or ':'; keep file names flat and portable. */
static void file_safe(const char *name, char *out, size_t cap) {
  size_t k = 0;
  for (const char *p = name; *p && k + 1 < cap; p++)
    out[k++] = (*p == '/' || *p == '\\' || *p == ':' || *p == ' ') ? '_' : *p;
  out[k] = 0;
  if (k == 0) snprintf(out, cap, "output");
}

static void summarize(const char *name, const sinter_tensor_t *t) {
  char buf[160];
  sinter_type_t ty;
  sinter_type_set_static(&ty, t->dtype, t->rank, t->dims);
  printf("%s: %s\n", name, sinter_type_format(&ty, buf, sizeof(buf)));
  int64_t n = sinter_tensor_numel(t);
  if (n <= 0) return;
  double mn = INFINITY, mx = -INFINITY, sum = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = sinter_load_f64(t->data, t->dtype, i);
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    sum += v;
  }
  printf("  min %.6g  max %.6g  mean %.6g\n  [", mn, mx, sum / (double)n);
  int64_t show = n < 10 ? n : 10;
  for (int64_t i = 0; i < show; i++)
    printf("%s%.6g", i ? ", " : "", sinter_load_f64(t->data, t->dtype, i));
  printf("%s]\n", n > show ? ", ..." : "");
}

int cmd_run(int argc, char **argv) {
  const char *path = NULL, *out_dir = NULL;
  bool quiet = false;
  const char **in_specs = calloc((size_t)argc, sizeof(char *));
  int n_specs = 0;
  if (!in_specs) return EXIT_MODEL;
  int rc = EXIT_OK;
  for (int i = 1; i < argc; i++) {
    if (tool_is_help(argv[i])) {
      usage(stdout);
      free(in_specs);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--input") == 0 || strcmp(argv[i], "-i") == 0) {
      if (++i >= argc) goto bad_usage;
      in_specs[n_specs++] = argv[i];
    } else if (strcmp(argv[i], "--output-dir") == 0 || strcmp(argv[i], "-o") == 0) {
      if (++i >= argc) goto bad_usage;
      out_dir = argv[i];
    } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
      quiet = true;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "sinter run: unknown option '%s'\n", argv[i]);
      goto bad_usage;
    } else if (!path) {
      path = argv[i];
    } else {
      fprintf(stderr, "sinter run: more than one model given\n");
      goto bad_usage;
    }
  }
  if (!path) goto bad_usage;

  sinter_graph_t *g = NULL;
  sinter_interp_t *ip = NULL;
  sinter_tensor_t *inputs = NULL, *outputs = NULL;
  int32_t n_in = 0, n_out = 0;
  sinter_status_t st = tool_load_model(path, &g);
  if (st) goto fail;
  n_in = sinter_graph_num_inputs(g);
  n_out = sinter_graph_num_outputs(g);
  inputs = calloc((size_t)n_in + 1, sizeof(sinter_tensor_t));
  outputs = calloc((size_t)n_out + 1, sizeof(sinter_tensor_t));
  if (!inputs || !outputs) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    goto fail;
  }
  if (n_specs != n_in) {
    st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s takes %d input%s, %d given", path, n_in,
                      n_in == 1 ? "" : "s", n_specs);
    goto fail;
  }
  for (int s = 0; s < n_specs; s++) {
    const char *spec = in_specs[s];
    const char *eq = strchr(spec, '=');
    int32_t idx = s;
    const char *file = spec;
    if (eq) {
      file = eq + 1;
      idx = -1;
      for (int32_t k = 0; k < n_in; k++) {
        const char *nm = sinter_value_name(sinter_graph_input(g, k));
        if (strlen(nm) == (size_t)(eq - spec) && strncmp(nm, spec, (size_t)(eq - spec)) == 0)
          idx = k;
      }
      if (idx < 0) {
        st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s has no input named '%.*s'", path,
                          (int)(eq - spec), spec);
        goto fail;
      }
    }
    if (inputs[idx].data) {
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s' given twice",
                        sinter_value_name(sinter_graph_input(g, idx)));
      goto fail;
    }
    st = tool_read_tensor(file, &inputs[idx], NULL);
    if (st) goto fail;
  }
  st = sinter_interp_create(g, &ip);
  if (st) goto fail;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  st = sinter_interp_run(ip, inputs, n_in, outputs);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (st) goto fail;
  if (out_dir) {
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
      st = SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot create: %s", out_dir, strerror(errno));
      goto fail;
    }
  }
  for (int32_t i = 0; i < n_out; i++) {
    const char *name = sinter_value_name(sinter_graph_output(g, i));
    if (!quiet) summarize(name, &outputs[i]);
    if (out_dir) {
      char safe[512], file[1024];
      file_safe(name, safe, sizeof(safe));
      snprintf(file, sizeof(file), "%s/%s.npy", out_dir, safe);
      st = sinter_npy_write_file(file, &outputs[i]);
      if (st) goto fail;
    }
  }
  if (!quiet)
    fprintf(stderr, "ran in %.2f ms\n",
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
  goto done;
fail:
  rc = tool_fail(st);
done:
  for (int32_t i = 0; inputs && i < n_in; i++) sinter_tensor_free_data(&inputs[i]);
  for (int32_t i = 0; outputs && i < n_out; i++) sinter_tensor_free_data(&outputs[i]);
  free(inputs);
  free(outputs);
  sinter_interp_destroy(ip);
  sinter_graph_destroy(g);
  free(in_specs);
  return rc;
bad_usage:
  usage(stderr);
  free(in_specs);
  return EXIT_USAGE;
}
