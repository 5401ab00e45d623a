/* sinter run: runs a model on input tensors, an ONNX/IR model with the
 * reference interpreter or a compiled artifact (model.so) through
 * libsinter_rt, and prints or saves the outputs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tools/rt_util.h"
#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter run MODEL --input [NAME=]FILE ... [--output-dir DIR] [--threads N]\n"
          "                  [--quiet]\n"
          "\n"
          "Runs MODEL: an ONNX model (.onnx) or text IR (.sir) with the reference\n"
          "interpreter, or a compiled artifact (OUT.so from 'sinter compile') with the\n"
          "runtime. Each --input names a model input and a tensor file (.npy, or .pb\n"
          "holding an ONNX TensorProto); without NAME= the inputs are taken in the model's\n"
          "order. A dynamic batch dimension takes the size of the given tensor.\n"
          "\n"
          "  --input [NAME=]FILE  an input tensor (repeatable)\n"
          "  --output-dir DIR     write each output to DIR/<output name>.npy\n"
          "  --threads N          threads of a compiled artifact's run (default: one per\n"
          "                       CPU); the interpreter is single-threaded\n"
          "  --quiet              do not print the output summary\n");
}

static double ms_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static sinter_status_t make_dir(const char *dir) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot create: %s", dir, strerror(errno));
  return NULL;
}

/* Runs a compiled artifact through libsinter_rt. */
static int run_artifact(const char *path, const char *const *specs, int n_specs,
                        const char *out_dir, int threads, bool quiet) {
  sinter_rt_options_t opts = {.num_threads = threads};
  sinter_rt_session_t *s = NULL;
  tool_rt_inputs_t in = {0};
  sinter_rt_tensor_t *outs = NULL;
  size_t n_out = 0;
  sinter_status_t st = sinter_rt_session_create(path, &opts, &s);
  if (st) return tool_fail(st);
  st = tool_rt_bind_inputs(s, specs, n_specs, false, 1, &in);
  if (st) goto done;
  n_out = sinter_rt_session_num_outputs(s);
  outs = calloc(n_out, sizeof(*outs));
  if (!outs) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  st = sinter_rt_session_run(s, in.tensors, in.n, outs, n_out);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (st) {
    st = sinter_status_annotate(st, "%s", path);
    goto done;
  }
  if (out_dir && (st = make_dir(out_dir))) goto done;
  for (size_t i = 0; i < n_out; i++) {
    sinter_tensor_t t = {.dtype = (sinter_dtype_t)outs[i].dtype,
                         .rank = outs[i].rank,
                         .data = outs[i].data,
                         .nbytes = outs[i].nbytes};
    memcpy(t.dims, outs[i].dims, sizeof(int64_t) * (size_t)t.rank);
    const char *name = sinter_rt_session_output(s, i)->name;
    if (!quiet) tool_print_tensor_summary(name, &t);
    if (out_dir && (st = tool_write_output(out_dir, name, &t))) goto done;
  }
  if (!quiet)
    fprintf(stderr, "ran in %.2f ms (compiled, %d thread%s)\n", ms_between(&t0, &t1),
            (int)sinter_rt_session_num_threads(s),
            sinter_rt_session_num_threads(s) == 1 ? "" : "s");
done:
  for (size_t i = 0; outs && i < n_out; i++) free(outs[i].data);
  free(outs);
  tool_rt_inputs_free(&in);
  sinter_rt_session_destroy(s);
  return st ? tool_fail(st) : EXIT_OK;
}

int cmd_run(int argc, char **argv) {
  const char *path = NULL, *out_dir = NULL;
  bool quiet = false;
  int threads = 0;
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
    } else if (strcmp(argv[i], "--threads") == 0 || strcmp(argv[i], "-j") == 0) {
      if (++i >= argc) goto bad_usage;
      char *end;
      long v = strtol(argv[i], &end, 10);
      if (*end || end == argv[i] || v < 0 || v > 1024) {
        fprintf(stderr, "sinter run: --threads takes a count in 0..1024, not '%s'\n", argv[i]);
        goto bad_usage;
      }
      threads = (int)v;
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
  if (tool_is_artifact(path)) {
    rc = run_artifact(path, in_specs, n_specs, out_dir, threads, quiet);
    free(in_specs);
    return rc;
  }

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
  if (out_dir && (st = make_dir(out_dir))) goto fail;
  for (int32_t i = 0; i < n_out; i++) {
    const char *name = sinter_value_name(sinter_graph_output(g, i));
    if (!quiet) tool_print_tensor_summary(name, &outputs[i]);
    if (out_dir && (st = tool_write_output(out_dir, name, &outputs[i]))) goto fail;
  }
  if (!quiet) fprintf(stderr, "ran in %.2f ms\n", ms_between(&t0, &t1));
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
