/* Small helpers for tests that build graphs with static shapes through the public API and run the
 * reference interpreter on explicit tensors (the kernel-family suites). Header-only, for tests;
 * every failure is a Check assertion. */
#ifndef SINTER_TESTS_GRAPH_TEST_H
#define SINTER_TESTS_GRAPH_TEST_H

#include <check.h>
#include <string.h>

#include "sinter/ir.h"

/* Fails the test with the status message unless st is NULL. */
static inline void ok(sinter_status_t st) {
  ck_assert_msg(st == NULL, "unexpected error: %s", sinter_status_message(st));
}

/* A type with static dims. */
static inline sinter_type_t ty(sinter_dtype_t dt, int32_t rank, const int64_t *dims) {
  sinter_type_t t;
  memset(&t, 0, sizeof(t));
  t.dtype = dt;
  t.rank = rank;
  for (int32_t i = 0; i < rank; i++) t.dims[i].size = dims[i];
  return t;
}

/* Frees the data of n output tensors filled by the interpreter. */
static inline void free_outs(sinter_tensor_t *outs, int32_t n) {
  for (int32_t i = 0; i < n; i++) sinter_tensor_free_data(&outs[i]);
}

static inline void expect_dims(const sinter_tensor_t *t, int32_t rank, const int64_t *dims) {
  ck_assert_int_eq(t->rank, rank);
  for (int32_t i = 0; i < rank; i++) ck_assert_int_eq(t->dims[i], dims[i]);
}

#endif /* SINTER_TESTS_GRAPH_TEST_H */
