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

#endif /* SINTER_TESTS_MODEL_TEST_H */
