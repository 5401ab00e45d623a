/* sinter compile: a model in, a shared library out. Runs a pass pipeline
 * (optionally quantizing to int8 first), specializes the batch and hands the
 * graph to the LLVM CPU code generator (docs/codegen.md). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sinter/codegen.h"
#include "sinter/passes.h"
#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter compile MODEL -o OUT.so [-O0|-O1|-O2|--passes P]\n"
          "                      [--quantize int8 --calib DIR [--method M]]\n"
          "                      [--cpu NAME] [--features F] [--weights embed|external]\n"
          "                      [--batch N] [--profile] [--report] [-q]\n"
          "\n"
          "Compiles MODEL (.onnx or .sir) into a shared library that libsinter_rt loads\n"
          "(`sinter run OUT.so`, `sinter bench OUT.so`, or the C API).\n"
          "\n"
          "  -O0, -O1, -O2       the graph pipeline (default -O2; see `sinter opt --list-passes`)\n"
          "  --passes P          an explicit pipeline instead\n"
          "  --quantize int8     quantize first (as `sinter quantize`, calibrated on --calib),\n"
          "                      then lower QDQ to integer ops (fold-qdq) and compile those\n"
          "  --calib DIR         calibration samples for --quantize\n"
          "  --method M          activation ranges for --quantize: minmax, percentile, entropy, mse\n"
          "  --cpu NAME          native (default), x86-64-v3, x86-64-v4, sapphirerapids, znver4,\n"
          "                      icelake-server, ... (x86-64-v3 code runs on any AVX2 machine)\n"
          "  --features F        extra LLVM target features, e.g. +avx512vnni or -amx-int8\n"
          "  --weights W         embed (default): weights inside the .so; external: in\n"
          "                      OUT.weights beside it, mapped by the runtime at load\n"
          "  --batch N           fix the batch at N (default: dynamic when the inputs have a\n"
          "                      symbolic dim 0; samples then run one after another)\n"
          "  --profile           time every node at run time; `sinter bench OUT.so` then\n"
          "                      prints a per-node and per-operator table\n"
          "  --report            print the memory plan, sizes and timings\n"
          "  -q                  no progress output\n"
          "  -o OUT.so           the library to write (written atomically)\n");
}

typedef struct progress_s {
  bool on;
  const char *last;
} progress_t;

static void progress(void *user, const char *stage, int64_t done, int64_t total) {
  progress_t *p = user;
  if (!p->on) return;
  if (p->last && strcmp(p->last, stage)) fputc('\n', stderr);
  p->last = stage;
  int width = 30, fill = total > 0 ? (int)(done * width / total) : width;
  fprintf(stderr, "\r%-10s [%.*s%*s] %lld/%lld", stage, fill,
          "##############################", width - fill, "", (long long)done,
          (long long)total);
  fflush(stderr);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Quantizes path with `sinter quantize` into a temporary QDQ model. */
static sinter_status_t quantize_to_temp(const char *path, const char *calib, const char *method,
                                        char *tmp, size_t cap) {
  const char *dir = getenv("TMPDIR");
  snprintf(tmp, cap, "%s/sinter-compile-XXXXXX.onnx", dir && *dir ? dir : "/tmp");
  int fd = mkstemps(tmp, 5);
  if (fd < 0) return SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot create a temporary file", tmp);
  close(fd);
  char *argv[] = {"quantize", (char *)path, "--calib", (char *)calib, "-o", tmp,
                  method ? "--method" : NULL, (char *)method, NULL};
  int argc = method ? 8 : 6;
  int rc = cmd_quantize(argc, argv);
  if (rc != 0) {
    unlink(tmp);
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: quantization failed (see above)", path);
  }
  return NULL;
}

static sinter_status_t run_pipeline(sinter_graph_t *g, const char *text) {
  sinter_pass_registry_t *reg = NULL;
  sinter_pipeline_t *pl = NULL;
  SINTER_TRY(sinter_pass_registry_create(&reg));
  sinter_status_t st = sinter_pipeline_parse(reg, text, &pl);
  if (!st) st = sinter_pipeline_run(g, pl, NULL, NULL);
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(reg);
  return st;
}

int cmd_compile(int argc, char **argv) {
  const char *path = NULL, *out = NULL, *passes = NULL, *quant = NULL, *calib = NULL;
  const char *method = NULL, *weights = "embed";
  sinter_cpu_options_t o = {0};
  int64_t batch = 0;
  bool report = false, quiet = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (tool_is_help(a)) {
      usage(stdout);
      return EXIT_OK;
    } else if (!strcmp(a, "-O0") || !strcmp(a, "-O1") || !strcmp(a, "-O2")) {
      passes = a;
    } else if (!strcmp(a, "--passes") && has) {
      passes = argv[++i];
    } else if (!strcmp(a, "-o") && has) {
      out = argv[++i];
    } else if (!strcmp(a, "--quantize") && has) {
      quant = argv[++i];
    } else if (!strcmp(a, "--calib") && has) {
      calib = argv[++i];
    } else if (!strcmp(a, "--method") && has) {
      method = argv[++i];
    } else if (!strcmp(a, "--cpu") && has) {
      o.cpu = argv[++i];
    } else if (!strcmp(a, "--features") && has) {
      o.features = argv[++i];
    } else if (!strcmp(a, "--weights") && has) {
      weights = argv[++i];
    } else if (!strcmp(a, "--batch") && has) {
      char *end;
      batch = strtoll(argv[++i], &end, 10);
      if (*end || batch < 1) {
        fprintf(stderr, "sinter compile: --batch needs a positive integer\n");
        return EXIT_USAGE;
      }
    } else if (!strcmp(a, "--report")) {
      report = true;
    } else if (!strcmp(a, "--profile")) {
      o.profile = true;
    } else if (!strcmp(a, "-q")) {
      quiet = true;
    } else if (a[0] == '-' || path) {
      fprintf(stderr, "sinter compile: unexpected argument '%s'\n", a);
      usage(stderr);
      return EXIT_USAGE;
    } else {
      path = a;
    }
  }
  if (!path || !out) {
    fprintf(stderr, "sinter compile: %s\n", !path ? "no model given" : "no output given (-o)");
    usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(weights, "embed") && strcmp(weights, "external")) {
    fprintf(stderr, "sinter compile: --weights must be embed or external, not '%s'\n", weights);
    return EXIT_USAGE;
  }
  if (quant && (strcmp(quant, "int8") || !calib)) {
    fprintf(stderr, "sinter compile: --quantize takes int8 and needs --calib DIR\n");
    return EXIT_USAGE;
  }
  o.weights_external = !strcmp(weights, "external");

  double t0 = now_s();
  char tmp[4096] = "";
  sinter_graph_t *g = NULL;
  sinter_batch_spec_t spec = {0};
  char recipe[1024];
  const char *pipeline = passes ? passes : "-O2";
  sinter_status_t st = NULL;
  if (quant) st = quantize_to_temp(path, calib, method, tmp, sizeof tmp);
  if (!st) st = tool_load_model(quant ? tmp : path, &g);
  if (*tmp) unlink(tmp);
  /* Specialize first, so the pipeline folds shape arithmetic on static shapes. */
  if (!st) st = sinter_codegen_specialize_batch(g, batch, &spec);
  /* A QDQ model (ours or another quantizer's) becomes integer ops first. */
  bool qdq = quant != NULL;
  for (sinter_node_t *n = g ? sinter_graph_first_node(g) : NULL; n && !qdq; n = sinter_node_next(n))
    qdq = sinter_node_op(n) == SINTER_OP_QUANTIZE_LINEAR ||
          sinter_node_op(n) == SINTER_OP_DEQUANTIZE_LINEAR;
  if (!st && qdq) st = run_pipeline(g, "canonicalize,fold-constants,fold-qdq,dce");
  if (!st && strcmp(pipeline, "-O0")) st = run_pipeline(g, pipeline);
  double t1 = now_s();
  snprintf(recipe, sizeof recipe, "%s%s%s; cpu=%s; weights=%s; batch=%s%s",
           quant ? "quantize int8, " : "", qdq ? "fold-qdq, " : "", pipeline, o.cpu ? o.cpu : "native", weights,
           spec.dynamic ? "dynamic" : "fixed", o.profile ? "; profile" : "");
  o.recipe = recipe;
  o.batch = &spec;
  progress_t pr = {.on = !quiet && isatty(2)};
  o.progress = progress;
  o.progress_user = &pr;
  sinter_cpu_report_t rep;
  if (!st) st = sinter_compile_cpu(g, &o, out, &rep);
  if (pr.last) fputc('\n', stderr);
  sinter_batch_spec_free(&spec);
  sinter_graph_destroy(g);
  if (st) return tool_fail(st);
  double t2 = now_s();
  if (!quiet)
    fprintf(stderr, "sinter compile: wrote %s (%s%s, %.2f s)\n", out, rep.cpu,
            rep.amx ? ", AMX" : rep.vnni ? ", VNNI" : rep.avx512 ? ", AVX-512" : "", t2 - t0);
  if (report) {
    printf("cpu:            %s (avx512 %s, vnni %s, amx %s)\n", rep.cpu, rep.avx512 ? "yes" : "no",
           rep.vnni ? "yes" : "no", rep.amx ? "yes" : "no");
    printf("arena:          %.2f MiB (plan %.2f MiB, naive %.2f MiB, scratch %.2f MiB)\n",
           rep.arena_bytes / 1048576.0, rep.plan_bytes / 1048576.0, rep.naive_bytes / 1048576.0,
           rep.scratch_bytes / 1048576.0);
    printf("weights:        %.2f MiB (%s)\n", rep.weight_bytes / 1048576.0, weights);
    printf("time:           %.2f s total: graph %.2f, lowering %.2f, LLVM O3 %.2f, "
           "codegen %.2f, link %.2f\n",
           t2 - t0, t1 - t0, rep.seconds_lower, rep.seconds_optimize, rep.seconds_emit,
           rep.seconds_link);
  }
  return EXIT_OK;
}
