/* sinter bench: times a model, a compiled artifact through libsinter_rt or an
 * ONNX/IR model through the reference interpreter, and prints latency
 * percentiles, throughput and peak RSS (or one JSON object). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tools/rt_util.h"
#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter bench MODEL|OUT.so [--threads N] [--warmup N] [--iters N] [--batch N]\n"
          "                    [--input NAME=FILE ...] [--json]\n"
          "\n"
          "Times MODEL: a compiled artifact (OUT.so from 'sinter compile') with the\n"
          "runtime, or an ONNX model (.onnx) or text IR (.sir) with the reference\n"
          "interpreter, which is far slower than compiled code (it says so). Inputs not\n"
          "given are random, of the declared shapes with the dynamic batch set to --batch:\n"
          "floats uniform in [-1, 1), integers (token ids, indices, masks) and bools 0.\n"
          "Prints the p50/p90/p99, mean, min and max latency of the timed runs in ms, the\n"
          "throughput (batch / mean latency, inferences per second) and the process's\n"
          "peak resident memory (getrusage). Percentiles interpolate linearly between the\n"
          "sorted latencies.\n"
          "\n"
          "  --threads N          threads of a compiled artifact (default: one per CPU);\n"
          "                       the interpreter is single-threaded\n"
          "  --warmup N           untimed runs first (default 5)\n"
          "  --iters N            timed runs (default 50)\n"
          "  --batch N            the dynamic batch of random inputs (default 1)\n"
          "  --input [NAME=]FILE  an input tensor (.npy or .pb) instead of random data\n"
          "  --json               print one JSON object: model, backend, threads, batch,\n"
          "                       warmup, iters, p50_ms, p90_ms, p99_ms, mean_ms, min_ms,\n"
          "                       max_ms, throughput_per_s, peak_rss_mb, start_rss_mb (the\n"
          "                       peak before loading the model: this process's own)\n"
          "\n"
          "An artifact compiled with 'sinter compile --profile' also gets a per-node table:\n"
          "mean ms per timed run and share, then totals per operator (in JSON: 'profile',\n"
          "an array of {node, mean_ms}). Timing adds two clock reads per node.\n");
}

/* The per-node table of an artifact compiled with --profile: every node in
 * graph order with its mean ms per run and share of the mean latency, then the
 * totals per operator, largest first. */
static void print_profile(const sinter_artifact_t *a, long iters, double mean_ms) {
  int32_t n = a->profile_count;
  double total = 0;
  for (int32_t i = 0; i < n; i++) total += (double)a->profile_ns[i] * 1e-6 / (double)iters;
  printf("profile:    %d nodes, %.3f ms per run timed inside nodes (%.1f%% of the mean)\n", n,
         total, mean_ms > 0 ? 100.0 * total / mean_ms : 0.0);
  printf("  %9s %6s  node\n", "ms/run", "share");
  for (int32_t i = 0; i < n; i++) {
    double ms = (double)a->profile_ns[i] * 1e-6 / (double)iters;
    printf("  %9.4f %5.1f%%  %s\n", ms, total > 0 ? 100.0 * ms / total : 0.0, a->profile_names[i]);
  }
  /* Per operator: the text in the names' trailing parentheses. */
  typedef struct { char op[64]; double ms; int count; } op_row_t;
  op_row_t *rows = calloc(n > 0 ? (size_t)n : 1, sizeof *rows);
  int nr = 0;
  for (int32_t i = 0; rows && i < n; i++) {
    const char *open = strrchr(a->profile_names[i], '(');
    char op[64];
    snprintf(op, sizeof op, "%s", open ? open + 1 : "?");
    char *close = strrchr(op, ')');
    if (close) *close = 0;
    int r = 0;
    while (r < nr && strcmp(rows[r].op, op)) r++;
    if (r == nr) snprintf(rows[nr++].op, sizeof rows[r].op, "%s", op);
    rows[r].ms += (double)a->profile_ns[i] * 1e-6 / (double)iters;
    rows[r].count++;
  }
  for (int i = 1; i < nr; i++)
    for (int j = i; j > 0 && rows[j].ms > rows[j - 1].ms; j--) {
      op_row_t tmp = rows[j];
      rows[j] = rows[j - 1];
      rows[j - 1] = tmp;
    }
  printf("  per operator:\n");
  for (int i = 0; i < nr; i++)
    printf("  %9.4f %5.1f%%  %s x%d\n", rows[i].ms, total > 0 ? 100.0 * rows[i].ms / total : 0.0,
           rows[i].op, rows[i].count);
  free(rows);
}

/* One timed target: a session with bound inputs, or an interpreter. */
typedef struct target_s {
  /* artifact */
  sinter_rt_session_t *session;
  tool_rt_inputs_t rt_in;
  sinter_rt_tensor_t *rt_out; /* allocated by the first run, reused after */
  size_t n_rt_out;
  /* interpreter */
  sinter_graph_t *graph;
  sinter_interp_t *interp;
  sinter_tensor_t *in, *out;
  int32_t n_in, n_out;
} target_t;

static sinter_status_t run_once(target_t *t) {
  if (t->session)
    return sinter_rt_session_run(t->session, t->rt_in.tensors, t->rt_in.n, t->rt_out, t->n_rt_out);
  return sinter_interp_run(t->interp, t->in, t->n_in, t->out);
}

/* Interpreter outputs are fresh every run; freed outside the timed region. */
static void after_run(target_t *t) {
  for (int32_t i = 0; !t->session && i < t->n_out; i++) sinter_tensor_free_data(&t->out[i]);
}

static void target_free(target_t *t) {
  for (size_t i = 0; t->rt_out && i < t->n_rt_out; i++) free(t->rt_out[i].data);
  free(t->rt_out);
  tool_rt_inputs_free(&t->rt_in);
  sinter_rt_session_destroy(t->session);
  after_run(t);
  for (int32_t i = 0; t->in && i < t->n_in; i++) sinter_tensor_free_data(&t->in[i]);
  free(t->in);
  free(t->out);
  sinter_interp_destroy(t->interp);
  sinter_graph_destroy(t->graph);
}

static sinter_status_t open_artifact(target_t *t, const char *path, int threads,
                                     const char *const *specs, int n_specs, int64_t batch) {
  sinter_rt_options_t opts = {.num_threads = threads};
  SINTER_TRY(sinter_rt_session_create(path, &opts, &t->session));
  SINTER_TRY(tool_rt_bind_inputs(t->session, specs, n_specs, true, batch, &t->rt_in));
  t->n_rt_out = sinter_rt_session_num_outputs(t->session);
  t->rt_out = calloc(t->n_rt_out, sizeof(*t->rt_out));
  if (!t->rt_out) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  return NULL;
}

/* A symbol's size, learned from the given input files. */
typedef struct {
  const char *sym;
  int64_t size;
} sym_size_t;

static sinter_status_t open_interp(target_t *t, const char *path, const char *const *specs,
                                   int n_specs, int64_t default_batch, int64_t *out_batch) {
  SINTER_TRY(tool_load_model(path, &t->graph));
  sinter_graph_t *g = t->graph;
  t->n_in = sinter_graph_num_inputs(g);
  t->n_out = sinter_graph_num_outputs(g);
  t->in = calloc((size_t)t->n_in + 1, sizeof(sinter_tensor_t));
  t->out = calloc((size_t)t->n_out + 1, sizeof(sinter_tensor_t));
  sym_size_t *syms = calloc((size_t)t->n_in * SINTER_MAX_RANK + 1, sizeof(sym_size_t));
  size_t n_syms = 0;
  sinter_status_t st = NULL;
  if (!t->in || !t->out || !syms) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  if (n_specs > t->n_in) {
    st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s takes %d input%s, %d given", path, t->n_in,
                      t->n_in == 1 ? "" : "s", n_specs);
    goto done;
  }
  int64_t batch = -1;
  for (int s = 0; s < n_specs; s++) {
    const char *spec = specs[s], *eq = strchr(spec, '='), *file = spec;
    int32_t idx = s;
    if (eq) {
      file = eq + 1;
      idx = -1;
      for (int32_t k = 0; k < t->n_in; k++) {
        const char *nm = sinter_value_name(sinter_graph_input(g, k));
        if (strlen(nm) == (size_t)(eq - spec) && strncmp(nm, spec, (size_t)(eq - spec)) == 0)
          idx = k;
      }
      if (idx < 0) {
        st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s has no input named '%.*s'", path,
                          (int)(eq - spec), spec);
        goto done;
      }
    }
    const sinter_value_t *v = sinter_graph_input(g, idx);
    if (t->in[idx].data) {
      st = SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input '%s' given twice", sinter_value_name(v));
      goto done;
    }
    if ((st = tool_read_tensor(file, &t->in[idx], NULL))) goto done;
    const sinter_type_t *ty = sinter_value_type(v);
    for (int32_t d = 0; d < ty->rank && d < t->in[idx].rank; d++) {
      if (ty->dims[d].size >= 0) continue;
      if (d == 0 && batch < 0) batch = t->in[idx].dims[0];
      if (ty->dims[d].sym) {
        syms[n_syms].sym = ty->dims[d].sym;
        syms[n_syms++].size = t->in[idx].dims[d];
      }
    }
  }
  if (batch < 0) batch = default_batch;
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  for (int32_t i = 0; i < t->n_in; i++) {
    if (t->in[i].data) continue;
    const sinter_value_t *v = sinter_graph_input(g, i);
    const sinter_type_t *ty = sinter_value_type(v);
    char buf[160];
    if (ty->rank < 0 || ty->dtype == SINTER_DTYPE_UNDEFINED) {
      st = SINTER_ERROR(
          SINTER_INVALID_ARGUMENT, "input '%s' has type %s: pass it with --input %s=FILE",
          sinter_value_name(v), sinter_type_format(ty, buf, sizeof(buf)), sinter_value_name(v));
      goto done;
    }
    sinter_tensor_t *x = &t->in[i];
    x->dtype = ty->dtype;
    x->rank = ty->rank;
    int64_t n = 1;
    for (int32_t d = 0; d < ty->rank; d++) {
      int64_t size = ty->dims[d].size;
      for (size_t k = 0; size < 0 && ty->dims[d].sym && k < n_syms; k++)
        if (strcmp(syms[k].sym, ty->dims[d].sym) == 0) size = syms[k].size;
      if (size < 0 && d == 0) size = batch;
      if (size < 0) {
        st = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                          "input '%s' (%s): dimension %d has no known size; pass it with "
                          "--input %s=FILE",
                          sinter_value_name(v), sinter_type_format(ty, buf, sizeof(buf)), (int)d,
                          sinter_value_name(v));
        goto done;
      }
      x->dims[d] = size;
      if (__builtin_mul_overflow(n, size, &n)) {
        st = SINTER_ERROR(SINTER_OUT_OF_RANGE, "input '%s': size overflows", sinter_value_name(v));
        goto done;
      }
    }
    size_t bytes;
    if (!sinter_dtype_storage_size(x->dtype, n, &bytes) || !(x->data = malloc(bytes ? bytes : 1))) {
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "input '%s': cannot allocate it",
                        sinter_value_name(v));
      goto done;
    }
    x->nbytes = bytes;
    tool_fill_random(x->data, x->dtype, n, &seed);
  }
  *out_batch = batch;
  st = sinter_interp_create(g, &t->interp);
done:
  free(syms);
  return st;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Linear interpolation between closest ranks (NumPy's default). */
static double percentile(const double *sorted, int n, double q) {
  double pos = q / 100.0 * (double)(n - 1);
  int lo = (int)pos;
  if (lo >= n - 1) return sorted[n - 1];
  return sorted[lo] + (pos - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool parse_count(const char *opt, const char *s, long lo, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || end == s || v < lo || v > hi) {
    fprintf(stderr, "sinter bench: %s takes a count in %ld..%ld, not '%s'\n", opt, lo, hi, s);
    return false;
  }
  *out = v;
  return true;
}

int cmd_bench(int argc, char **argv) {
  const char *path = NULL;
  long threads = 0, warmup = 5, iters = 50, batch = 1;
  bool json = false;
  const char **specs = calloc((size_t)argc + 1, sizeof(char *));
  int n_specs = 0;
  if (!specs) return EXIT_MODEL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_val = i + 1 < argc;
    if (tool_is_help(a)) {
      usage(stdout);
      free(specs);
      return EXIT_OK;
    } else if (strcmp(a, "--json") == 0) {
      json = true;
    } else if (strcmp(a, "--threads") == 0 || strcmp(a, "-j") == 0) {
      if (!has_val || !parse_count(a, argv[++i], 0, 1024, &threads)) goto bad_usage;
    } else if (strcmp(a, "--warmup") == 0) {
      if (!has_val || !parse_count(a, argv[++i], 0, 100000000, &warmup)) goto bad_usage;
    } else if (strcmp(a, "--iters") == 0 || strcmp(a, "-n") == 0) {
      if (!has_val || !parse_count(a, argv[++i], 1, 100000000, &iters)) goto bad_usage;
    } else if (strcmp(a, "--batch") == 0 || strcmp(a, "-b") == 0) {
      if (!has_val || !parse_count(a, argv[++i], 1, 1L << 30, &batch)) goto bad_usage;
    } else if (strcmp(a, "--input") == 0 || strcmp(a, "-i") == 0) {
      if (!has_val) goto bad_usage;
      specs[n_specs++] = argv[++i];
    } else if (a[0] == '-') {
      fprintf(stderr, "sinter bench: unknown option '%s'\n", a);
      goto bad_usage;
    } else if (!path) {
      path = a;
    } else {
      fprintf(stderr, "sinter bench: more than one model given\n");
      goto bad_usage;
    }
  }
  if (!path) goto bad_usage;

  /* The process's own footprint (this binary carries the compiler and LLVM),
   * to tell apart from what loading and running the model adds. */
  struct rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  double rss0_mb = (double)ru0.ru_maxrss / 1024.0;
  target_t t = {0};
  double *lat = calloc((size_t)iters, sizeof(double));
  bool artifact = tool_is_artifact(path);
  int64_t run_batch = batch;
  int rc = EXIT_OK;
  sinter_status_t st = lat ? NULL : SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  if (!st && artifact) {
    st = open_artifact(&t, path, (int)threads, specs, n_specs, batch);
    if (!st) run_batch = t.rt_in.batch;
  } else if (!st) {
    st = open_interp(&t, path, specs, n_specs, batch, &run_batch);
  }
  if (st) goto fail;
  int used_threads = artifact ? (int)sinter_rt_session_num_threads(t.session) : 1;
  const sinter_artifact_t *prof = artifact ? sinter_rt_session_artifact(t.session) : NULL;
  if (prof && !SINTER_ARTIFACT_HAS_PROFILE(prof)) prof = NULL;
  bool progress = isatty(2);
  long total = warmup + iters;
  for (long k = 0; k < total; k++) {
    if (progress && (k % 10 == 0 || k == total - 1))
      fprintf(stderr, "\r%s %ld/%ld", k < warmup ? "warmup" : "timing",
              k < warmup ? k + 1 : k - warmup + 1, k < warmup ? warmup : iters);
    if (k == warmup && prof) memset(prof->profile_ns, 0, sizeof(uint64_t) * (size_t)prof->profile_count);
    double t0 = now_ms();
    st = run_once(&t);
    double t1 = now_ms();
    if (st) goto fail;
    after_run(&t);
    if (k >= warmup) lat[k - warmup] = t1 - t0;
  }
  if (progress) fprintf(stderr, "\r%40s\r", "");

  double mean = 0;
  for (long k = 0; k < iters; k++) mean += lat[k];
  mean /= (double)iters;
  qsort(lat, (size_t)iters, sizeof(double), cmp_double);
  double p50 = percentile(lat, (int)iters, 50), p90 = percentile(lat, (int)iters, 90),
         p99 = percentile(lat, (int)iters, 99);
  double tput = mean > 0 ? (double)run_batch * 1e3 / mean : 0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss_mb = (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
  const char *backend = artifact ? "runtime" : "interpreter";

  if (json) {
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(path));
    json_object_set_new(o, "backend", json_string(backend));
    json_object_set_new(o, "threads", json_integer(used_threads));
    json_object_set_new(o, "batch", json_integer(run_batch));
    json_object_set_new(o, "warmup", json_integer(warmup));
    json_object_set_new(o, "iters", json_integer(iters));
    json_object_set_new(o, "p50_ms", json_real(p50));
    json_object_set_new(o, "p90_ms", json_real(p90));
    json_object_set_new(o, "p99_ms", json_real(p99));
    json_object_set_new(o, "mean_ms", json_real(mean));
    json_object_set_new(o, "min_ms", json_real(lat[0]));
    json_object_set_new(o, "max_ms", json_real(lat[iters - 1]));
    json_object_set_new(o, "throughput_per_s", json_real(tput));
    json_object_set_new(o, "peak_rss_mb", json_real(rss_mb));
    json_object_set_new(o, "start_rss_mb", json_real(rss0_mb));
    if (prof) {
      json_t *a = json_array();
      for (int32_t i = 0; i < prof->profile_count; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "node", json_string(prof->profile_names[i]));
        json_object_set_new(e, "mean_ms", json_real((double)prof->profile_ns[i] * 1e-6 / (double)iters));
        json_array_append_new(a, e);
      }
      json_object_set_new(o, "profile", a);
    }
    char *text = json_dumps(o, JSON_REAL_PRECISION(6));
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(o);
  } else {
    if (artifact) {
      const sinter_artifact_t *art = sinter_rt_session_artifact(t.session);
      printf("model:      %s (compiled '%s', recipe: %s)\n", path, art->model_name, art->recipe);
      printf("backend:    runtime, %d thread%s\n", used_threads, used_threads == 1 ? "" : "s");
    } else {
      printf("model:      %s\n", path);
      printf(
          "backend:    reference interpreter, 1 thread (not compiled code: use 'sinter "
          "compile' and bench the .so for real speed)\n");
    }
    printf("batch:      %lld\n", (long long)run_batch);
    printf("runs:       %ld timed after %ld warmup\n", iters, warmup);
    printf("latency:    p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", p50, p90, p99);
    printf("            mean %.3f ms  min %.3f ms  max %.3f ms\n", mean, lat[0], lat[iters - 1]);
    printf("throughput: %.2f inferences/s\n", tput);
    printf("peak RSS:   %.1f MB (%.1f MB before loading the model)\n", rss_mb, rss0_mb);
    if (prof) print_profile(prof, iters, mean);
  }
  goto done;
fail:
  rc = tool_fail(st);
done:
  target_free(&t);
  free(lat);
  free(specs);
  return rc;
bad_usage:
  usage(stderr);
  free(specs);
  return EXIT_USAGE;
}
