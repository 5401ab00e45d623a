/* The tail every Check suite's main shares: run the suite and turn the failure count into the
 * exit status ctest reads. Header-only, for tests. */
#ifndef SINTER_TESTS_CHECK_MAIN_H
#define SINTER_TESTS_CHECK_MAIN_H

#include <check.h>

/* Runs every test in s (the runner takes ownership of s) and returns 0 when all passed, else 1. */
static inline int run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}

#endif /* SINTER_TESTS_CHECK_MAIN_H */
