/* Helpers for the tests that run over files on disk and the sinter CLI: where the shared models
 * live, whether a path exists, and running a tool. Header-only, for tests. */
#ifndef SINTER_TESTS_MODEL_TEST_H
#define SINTER_TESTS_MODEL_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The shared models folder: $SINTER_MODELS_DIR, else ../shared/models beside the source tree.
 * Returns a static buffer. */
static inline const char *models_dir(void) {
  static char path[4096];
  const char *env = getenv("SINTER_MODELS_DIR");
  snprintf(path, sizeof(path), "%s", env ? env : SINTER_SOURCE_DIR "/../shared/models");
  return path;
}

static inline bool exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* Runs the program argv[0] with argv (NULL-terminated); returns its exit status, 128 when it did
 * not exit normally. */
static inline int run_tool(char **argv) {
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

#if defined(CHECK_H) && defined(SINTER_ONNX_H) /* with <check.h> and sinter/onnx.h */
/* Runs g in the interpreter on the input_K.pb files of the test data set folder `set`; out
 * receives one tensor per graph output (free with sinter_tensor_free_data). */
static inline void run_test_data_set(const sinter_graph_t *g, const char *set,
                                     sinter_tensor_t *out) {
  int32_t ni = sinter_graph_num_inputs(g);
  sinter_tensor_t in[8];
  ck_assert_int_le(ni, 8);
  for (int32_t k = 0; k < ni; k++) {
    char p[4200];
    snprintf(p, sizeof(p), "%s/input_%d.pb", set, k);
    sinter_status_t st = sinter_onnx_read_tensor_file(p, &in[k], NULL);
    ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  }
  sinter_interp_t *ip;
  sinter_status_t st = sinter_interp_create(g, &ip);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  st = sinter_interp_run(ip, in, ni, out);
  ck_assert_msg(st == NULL, "%s", sinter_status_message(st));
  sinter_interp_destroy(ip);
  for (int32_t k = 0; k < ni; k++) sinter_tensor_free_data(&in[k]);
}
#endif

#endif /* SINTER_TESTS_MODEL_TEST_H */
