/* sinter conform: runs tests in ONNX's backend-test layout (model.onnx beside
 * test_data_set_*) with the reference interpreter, or compiled for the CPU and
 * run through libsinter_rt (--backend cpu). Each test runs in a child process,
 * so a crash or hang in one test cannot stop the run. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ir/interp/kernels.h"
#include "sinter/codegen.h"
#include "sinter/passes.h"
#include "sinter/runtime.h"
#include "tools/tool.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter conform DIR [--backend interp|cpu] [--json] [--filter TEXT]\n"
          "                      [--timeout SECONDS] [--quiet]\n"
          "\n"
          "Runs every ONNX backend test under DIR (a test folder holding model.onnx and\n"
          "test_data_set_*, or a folder of them) and compares with ONNX's rule: floats\n"
          "within rtol 1e-3 and atol 1e-7, integers and booleans exact. Each test runs in\n"
          "its own process. The last line reads 'N passed, M failed, K skipped'.\n"
          "\n"
          "  --backend B      interp (default): the reference interpreter; cpu: compile\n"
          "                   each model (-O2, this CPU) with `sinter compile`'s code\n"
          "                   generator and run it through libsinter_rt; a model it\n"
          "                   cannot compile (UNSUPPORTED) is a skip\n"
          "  --json           print a JSON report instead of text\n"
          "  --filter TEXT    run only tests whose folder name contains TEXT\n"
          "  --timeout S      seconds allowed per test (default 120)\n"
          "  --quiet          print only failures and the summary\n"
          "  --min-pass N     succeed when at least N tests pass and none crashes, even\n"
          "                   if some fail (for CI gates); without it any failure fails\n");
}

enum { R_PASS, R_FAIL, R_SKIP };

/* Set from --backend before any test is forked. */
static bool cpu_backend;

typedef struct result_s {
  char *name;
  int kind;
  char detail[1024];
} result_t;

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compares got with want by ONNX's rule; writes a reason into why on failure. */
static bool compare(const sinter_tensor_t *want, const sinter_tensor_t *got, char *why,
                    size_t cap, int index) {
  if (want->dtype != got->dtype) {
    snprintf(why, cap, "output %d: dtype %s, expected %s", index, sinter_dtype_name(got->dtype),
             sinter_dtype_name(want->dtype));
    return false;
  }
  bool shape_ok = want->rank == got->rank;
  for (int d = 0; shape_ok && d < want->rank; d++) shape_ok = want->dims[d] == got->dims[d];
  if (!shape_ok) {
    char a[128], b[128];
    sinter_type_t ta, tb;
    sinter_type_set_static(&ta, got->dtype, got->rank, got->dims);
    sinter_type_set_static(&tb, want->dtype, want->rank, want->dims);
    snprintf(why, cap, "output %d: shape %s, expected %s", index,
             sinter_type_format(&ta, a, sizeof(a)), sinter_type_format(&tb, b, sizeof(b)));
    return false;
  }
  int64_t n = sinter_tensor_numel(want);
  bool is_float = sinter_dtype_is_float(want->dtype);
  double worst = 0;
  int64_t worst_i = -1, bad = 0;
  for (int64_t i = 0; i < n; i++) {
    if (is_float) {
      double w = sinter_load_f64(want->data, want->dtype, i);
      double g = sinter_load_f64(got->data, got->dtype, i);
      if (isnan(w) || isnan(g)) {
        if (isnan(w) != isnan(g)) {
          bad++;
          worst_i = i;
          worst = INFINITY;
        }
        continue;
      }
      if (w == g) continue; /* also equal infinities */
      double err = fabs(w - g);
      if (!(err <= 1e-7 + 1e-3 * fabs(w))) {
        bad++;
        if (!(err <= worst)) {
          worst = err;
          worst_i = i;
        }
      }
    } else if (sinter_load_i64(want->data, want->dtype, i) !=
               sinter_load_i64(got->data, got->dtype, i)) {
      bad++;
      if (worst_i < 0) worst_i = i;
      worst = 1;
    }
  }
  if (bad) {
    if (is_float)
      snprintf(why, cap, "output %d: %lld of %lld elements off, max abs error %.3g at %lld (got %.6g, want %.6g)",
               index, (long long)bad, (long long)n, worst, (long long)worst_i,
               sinter_load_f64(got->data, got->dtype, worst_i),
               sinter_load_f64(want->data, want->dtype, worst_i));
    else
      snprintf(why, cap, "output %d: %lld of %lld elements differ, first at %lld (got %lld, want %lld)",
               index, (long long)bad, (long long)n, (long long)worst_i,
               (long long)sinter_load_i64(got->data, got->dtype, worst_i),
               (long long)sinter_load_i64(want->data, want->dtype, worst_i));
    return false;
  }
  return true;
}

/* Classifies a failure status: unsupported features are skips. */
static int classify(sinter_status_t st, const char *what, char *detail, size_t cap) {
  int kind = sinter_status_code(st) == SINTER_UNSUPPORTED ? R_SKIP : R_FAIL;
  snprintf(detail, cap, "%s: %s", what, sinter_status_message(st));
  sinter_status_free(st);
  return kind;
}

/* Replaces graph inputs 1.. of g with constants holding test_data_set_0's
 * values, compiles g for this CPU without graph passes, and opens a session
 * on the result (the library file is removed once loaded). */
static sinter_status_t cpu_freeze_and_compile(sinter_graph_t *g, const char *dir,
                                              sinter_rt_session_t **out) {
  for (int frozen = 0; sinter_graph_num_inputs(g) > 1; frozen++) {
    sinter_value_t *v = sinter_graph_input(g, 1);
    char path[4200], name[1024];
    snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, 1 + frozen);
    sinter_tensor_t t;
    SINTER_TRY(sinter_onnx_read_tensor_file(path, &t, NULL));
    sinter_type_t ty = {.dtype = t.dtype, .rank = t.rank};
    for (int32_t d = 0; d < t.rank; d++) ty.dims[d].size = t.dims[d];
    snprintf(name, sizeof name, "%s", sinter_value_name(v));
    sinter_value_t *c = NULL;
    sinter_status_t st = sinter_graph_add_const(g, "__frozen", &ty, t.data, t.nbytes, &c);
    sinter_tensor_free_data(&t);
    SINTER_TRY(st);
    sinter_value_replace_all_uses(v, c);
    for (int32_t o = 0; o < sinter_graph_num_outputs(g); o++)
      if (sinter_graph_output(g, o) == v) SINTER_TRY(sinter_graph_set_output(g, o, c));
    SINTER_TRY(sinter_graph_remove_value(g, v));
    SINTER_TRY(sinter_value_set_name(c, name));
  }
  SINTER_TRY(sinter_graph_infer_shapes(g));
  sinter_batch_spec_t spec;
  SINTER_TRY(sinter_codegen_specialize_batch(g, 0, &spec));
  const char *tmp = getenv("TMPDIR");
  char so_path[96];
  snprintf(so_path, sizeof so_path, "%.60s/conform-XXXXXX.so", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemps(so_path, 3);
  if (fd < 0) {
    sinter_batch_spec_free(&spec);
    return SINTER_ERROR(SINTER_IO_ERROR, "cannot create %s", so_path);
  }
  close(fd);
  sinter_cpu_options_t o = {.batch = &spec, .recipe = "conform"};
  sinter_status_t st = sinter_compile_cpu(g, &o, so_path, NULL);
  sinter_batch_spec_free(&spec);
  if (!st) st = sinter_rt_session_create(so_path, NULL, out);
  unlink(so_path);
  return st;
}

/* Runs a session on interpreter-style tensors; outputs are malloc'ed. */
static sinter_status_t cpu_run(sinter_rt_session_t *s, const sinter_tensor_t *in, int32_t n_in,
                               sinter_tensor_t *out, int32_t n_out) {
  sinter_rt_tensor_t *ri = calloc((size_t)n_in + 1, sizeof(*ri));
  sinter_rt_tensor_t *ro = calloc((size_t)n_out + 1, sizeof(*ro));
  if (!ri || !ro) {
    free(ri);
    free(ro);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "tensors");
  }
  for (int32_t i = 0; i < n_in; i++) {
    ri[i].dtype = in[i].dtype;
    ri[i].rank = in[i].rank;
    memcpy(ri[i].dims, in[i].dims, sizeof(int64_t) * (size_t)in[i].rank);
    ri[i].data = in[i].data;
    ri[i].nbytes = in[i].nbytes;
  }
  sinter_status_t st = sinter_rt_session_run(s, ri, (size_t)n_in, ro, (size_t)n_out);
  for (int32_t o = 0; !st && o < n_out; o++) {
    out[o].dtype = ro[o].dtype;
    out[o].rank = ro[o].rank;
    memcpy(out[o].dims, ro[o].dims, sizeof(int64_t) * (size_t)ro[o].rank);
    out[o].data = ro[o].data;
    out[o].nbytes = ro[o].nbytes;
  }
  free(ri);
  free(ro);
  return st;
}

/* Runs one test folder; executes in the child process. */
static int run_test(const char *dir, char *detail, size_t cap) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/model.onnx", dir);
  sinter_graph_t *g;
  sinter_status_t st = sinter_onnx_import_file(path, &g);
  if (st) return classify(st, "import", detail, cap);
  sinter_interp_t *ip = NULL;
  sinter_rt_session_t *sess = NULL;
  if (cpu_backend) {
    /* Inputs after the first become constants of this data set (a node
     * test's weights are inputs; the code generator wants them constant);
     * nothing is folded, so the kernels still compute. Multi-set tests
     * compile the first set's values only. */
    st = cpu_freeze_and_compile(g, dir, &sess);
  } else {
    st = sinter_interp_create(g, &ip);
  }
  if (st) {
    sinter_graph_destroy(g);
    return classify(st, cpu_backend ? "compile" : "prepare", detail, cap);
  }
  int32_t n_in = sinter_graph_num_inputs(g), n_out = sinter_graph_num_outputs(g);
  int kind = R_PASS, sets = 0;
  snprintf(detail, cap, "ok");
  for (int s = 0; kind == R_PASS && (!cpu_backend || s == 0); s++) {
    char set[4096];
    snprintf(set, sizeof(set), "%s/test_data_set_%d", dir, s);
    if (!is_dir(set)) break;
    sets++;
    sinter_tensor_t *in = calloc((size_t)n_in + 1, sizeof(*in));
    sinter_tensor_t *out = calloc((size_t)n_out + 1, sizeof(*out));
    int k = 0;
    for (;; k++) {
      snprintf(path, sizeof(path), "%s/input_%d.pb", set, k);
      if (!exists(path) || (cpu_backend && k >= n_in)) break;
      if (k >= n_in) {
        snprintf(detail, cap, "data set %d has more inputs than the model (%d)", s, n_in);
        kind = R_FAIL;
        break;
      }
      st = sinter_onnx_read_tensor_file(path, &in[k], NULL);
      if (st) {
        kind = classify(st, "input", detail, cap);
        break;
      }
    }
    /* ONNX's test data stores bfloat16 tensors as uint16 bit patterns (NumPy
     * has no bfloat16); read them as what the model declares. */
    for (int i = 0; i < k && i < n_in; i++)
      if (in[i].dtype == SINTER_DTYPE_U16 &&
          sinter_value_type(sinter_graph_input(g, i))->dtype == SINTER_DTYPE_BF16)
        in[i].dtype = SINTER_DTYPE_BF16;
    if (kind == R_PASS && k != n_in && !(cpu_backend && k > n_in)) {
      snprintf(detail, cap, "data set %d has %d inputs, the model %d", s, k, n_in);
      kind = R_FAIL;
    }
    if (kind == R_PASS) {
      st = cpu_backend ? cpu_run(sess, in, n_in, out, n_out) : sinter_interp_run(ip, in, n_in, out);
      if (st) kind = classify(st, "run", detail, cap);
    }
    for (int o = 0; kind == R_PASS && o < n_out; o++) {
      snprintf(path, sizeof(path), "%s/output_%d.pb", set, o);
      if (!exists(path)) continue;
      sinter_tensor_t want;
      st = sinter_onnx_read_tensor_file(path, &want, NULL);
      if (st) {
        kind = classify(st, "expected output", detail, cap);
        break;
      }
      if (want.dtype == SINTER_DTYPE_U16 && out[o].dtype == SINTER_DTYPE_BF16)
        want.dtype = SINTER_DTYPE_BF16;
      char why[600];
      if (!compare(&want, &out[o], why, sizeof(why), o)) {
        snprintf(detail, cap, "data set %d: %s", s, why);
        kind = R_FAIL;
      }
      sinter_tensor_free_data(&want);
    }
    for (int i = 0; i < n_in; i++) sinter_tensor_free_data(&in[i]);
    for (int i = 0; i < n_out; i++) sinter_tensor_free_data(&out[i]);
    free(in);
    free(out);
  }
  if (kind == R_PASS && sets == 0) {
    snprintf(detail, cap, "no test_data_set_* folders");
    kind = R_SKIP;
  }
  sinter_interp_destroy(ip);
  sinter_rt_session_destroy(sess);
  sinter_graph_destroy(g);
  return kind;
}

/* Forks a child for one test and collects its verdict through a pipe. */
static void run_isolated(const char *dir, int timeout, result_t *r) {
  int fds[2];
  fflush(stdout);
  fflush(stderr);
  if (pipe(fds) != 0) {
    r->kind = R_FAIL;
    snprintf(r->detail, sizeof(r->detail), "pipe failed");
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm((unsigned)timeout);
    char detail[sizeof(r->detail)];
    int kind = run_test(dir, detail, sizeof(detail));
    char msg[sizeof(detail) + 8];
    int n = snprintf(msg, sizeof(msg), "%d%s", kind, detail);
    if (write(fds[1], msg, (size_t)(n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1)) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    r->kind = R_FAIL;
    snprintf(r->detail, sizeof(r->detail), "fork failed");
    return;
  }
  char buf[sizeof(r->detail) + 8];
  size_t got = 0;
  ssize_t n;
  while (got + 1 < sizeof(buf) && (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
    got += (size_t)n;
  buf[got] = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    r->kind = R_FAIL;
    int sig = WTERMSIG(status);
    if (sig == SIGALRM)
      snprintf(r->detail, sizeof(r->detail), "timeout after %d s", timeout);
    else
      snprintf(r->detail, sizeof(r->detail), "crash: signal %d (%s)", sig, strsignal(sig));
    return;
  }
  if (got == 0) {
    r->kind = R_FAIL;
    snprintf(r->detail, sizeof(r->detail), "crash: child exited with status %d and no verdict",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return;
  }
  r->kind = buf[0] - '0';
  snprintf(r->detail, sizeof(r->detail), "%s", buf + 1);
}

static const char *basename_of(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

int cmd_conform(int argc, char **argv) {
  const char *dir = NULL, *filter = NULL;
  bool json = false, quiet = false;
  int timeout = 120;
  long min_pass = -1;
  for (int i = 1; i < argc; i++) {
    if (tool_is_help(argv[i])) {
      usage(stdout);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
      const char *b = argv[++i];
      if (strcmp(b, "interp") && strcmp(b, "cpu")) {
        fprintf(stderr, "sinter conform: --backend must be interp or cpu, not '%s'\n", b);
        return EXIT_USAGE;
      }
      cpu_backend = !strcmp(b, "cpu");
    } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
      quiet = true;
    } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
    } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
      timeout = atoi(argv[++i]);
      if (timeout <= 0) {
        fprintf(stderr, "sinter conform: --timeout needs a positive number\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(argv[i], "--min-pass") == 0 && i + 1 < argc) {
      min_pass = atol(argv[++i]);
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "sinter conform: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = argv[i];
    } else {
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (!dir) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!is_dir(dir)) {
    fprintf(stderr, "sinter: %s: not a folder\n", dir);
    return EXIT_MODEL;
  }
  char **tests = NULL;
  size_t n_tests = 0, cap = 0;
  char probe[4096];
  snprintf(probe, sizeof(probe), "%s/model.onnx", dir);
  if (exists(probe)) {
    tests = malloc(sizeof(char *));
    tests[n_tests++] = strdup(dir);
  } else {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      if (filter && !strstr(e->d_name, filter)) continue;
      char sub[4096];
      snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
      snprintf(probe, sizeof(probe), "%s/model.onnx", sub);
      if (!exists(probe)) continue;
      if (n_tests == cap) {
        cap = cap ? cap * 2 : 64;
        tests = realloc(tests, cap * sizeof(char *));
      }
      tests[n_tests++] = strdup(sub);
    }
    if (d) closedir(d);
    qsort(tests, n_tests, sizeof(char *), cmp_str);
  }
  result_t *res = calloc(n_tests + 1, sizeof(result_t));
  int counts[3] = {0, 0, 0}, crashes = 0;
  for (size_t i = 0; i < n_tests; i++) {
    res[i].name = tests[i];
    run_isolated(tests[i], timeout, &res[i]);
    counts[res[i].kind]++;
    if (strncmp(res[i].detail, "crash", 5) == 0 || strncmp(res[i].detail, "timeout", 7) == 0)
      crashes++;
    if (!json && (!quiet || res[i].kind == R_FAIL)) {
      static const char *tag[] = {"PASS", "FAIL", "SKIP"};
      if (res[i].kind == R_PASS)
        printf("PASS %s\n", basename_of(tests[i]));
      else
        printf("%s %s: %s\n", tag[res[i].kind], basename_of(tests[i]), res[i].detail);
      fflush(stdout);
    }
  }
  if (json) {
    json_t *o = json_object(), *arr = json_array();
    static const char *kinds[] = {"pass", "fail", "skip"};
    for (size_t i = 0; i < n_tests; i++) {
      json_t *e = json_object();
      json_object_set_new(e, "name", json_string(basename_of(res[i].name)));
      json_object_set_new(e, "status", json_string(kinds[res[i].kind]));
      json_object_set_new(e, "detail", json_string(res[i].detail));
      json_array_append_new(arr, e);
    }
    json_object_set_new(o, "tests", arr);
    json_object_set_new(o, "passed", json_integer(counts[R_PASS]));
    json_object_set_new(o, "failed", json_integer(counts[R_FAIL]));
    json_object_set_new(o, "skipped", json_integer(counts[R_SKIP]));
    json_object_set_new(o, "crashes", json_integer(crashes));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) printf("%s\n", s);
    free(s);
    json_decref(o);
  } else {
    if (crashes) printf("crashes or timeouts: %d\n", crashes);
    printf("%d passed, %d failed, %d skipped\n", counts[R_PASS], counts[R_FAIL], counts[R_SKIP]);
  }
  for (size_t i = 0; i < n_tests; i++) free(tests[i]);
  free(tests);
  free(res);
  if (min_pass >= 0) return counts[R_PASS] >= min_pass && crashes == 0 ? EXIT_OK : EXIT_MODEL;
  return counts[R_FAIL] ? EXIT_MODEL : EXIT_OK;
}
