/* A tiny harness for interpreter tests: build a graph whose shapes are written as text ("2,N,3"),
 * feed it caller data, infer shapes, run the reference interpreter and compare the outputs with a
 * stated tolerance. Header-only, for tests; every failure is a Check assertion. */
#ifndef SINTER_TESTS_INTERP_TEST_H
#define SINTER_TESTS_INTERP_TEST_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/ir.h"

/* One graph under test: the feeds borrow the caller's data, the outputs are owned (tg_free). */
typedef struct tg_s {
  sinter_graph_t *g;
  sinter_tensor_t feeds[8];
  int32_t n_feeds;
  sinter_tensor_t outs[16];
  int32_t n_outs;
} tg_t;

/* Parses "2,N,3" into a type: numbers are sizes, names are symbols, "" is a scalar. */
static inline sinter_type_t mk(sinter_graph_t *g, sinter_dtype_t dt, const char *shape) {
  sinter_type_t t;
  memset(&t, 0, sizeof(t));
  t.dtype = dt;
  char buf[128];
  snprintf(buf, sizeof(buf), "%s", shape);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    sinter_dim_t *d = &t.dims[t.rank++];
    if (tok[0] >= '0' && tok[0] <= '9') {
      d->size = atoll(tok);
    } else {
      d->size = -1;
      d->sym = sinter_graph_intern(g, tok);
    }
  }
  return t;
}

/* Starts an empty graph; pair with tg_free. */
static inline void tg_init(tg_t *t) {
  memset(t, 0, sizeof(*t));
  ck_assert_ptr_null(sinter_graph_create("t", &t->g));
}

/* A graph input declared as decl and fed with data of the static shape feed. */
static inline sinter_value_t *tg_input(tg_t *t, sinter_dtype_t dt, const char *decl,
                                       const char *feed, const void *data, size_t nbytes) {
  sinter_type_t ty = mk(t->g, dt, decl);
  char name[16];
  snprintf(name, sizeof(name), "in%d", t->n_feeds);
  sinter_value_t *v;
  ck_assert_ptr_null(sinter_graph_add_input(t->g, name, &ty, &v));
  sinter_type_t ft = mk(t->g, dt, feed);
  sinter_tensor_t *f = &t->feeds[t->n_feeds++];
  f->dtype = dt;
  f->rank = ft.rank;
  for (int32_t i = 0; i < ft.rank; i++) f->dims[i] = ft.dims[i].size;
  f->data = (void *)data;
  f->nbytes = nbytes;
  return v;
}

/* An input whose declared shape is the fed shape. */
static inline sinter_value_t *tg_in(tg_t *t, sinter_dtype_t dt, const char *shape, const void *data,
                                    size_t nbytes) {
  return tg_input(t, dt, shape, shape, data, nbytes);
}

/* A constant of the given shape holding a copy of data. */
static inline sinter_value_t *tg_const(tg_t *t, sinter_dtype_t dt, const char *shape,
                                       const void *data, size_t nbytes) {
  sinter_type_t ty = mk(t->g, dt, shape);
  sinter_value_t *v;
  ck_assert_ptr_null(sinter_graph_add_const(t->g, NULL, &ty, data, nbytes, &v));
  return v;
}

/* Adds op over ins with n_out outputs, each of which becomes a graph output. */
static inline sinter_node_t *tg_node_n(tg_t *t, sinter_op_t op, sinter_value_t *const *ins,
                                       int32_t n, int32_t n_out) {
  sinter_node_t *node;
  ck_assert_ptr_null(sinter_graph_add_node(t->g, op, "n", ins, n, n_out, &node));
  for (int32_t i = 0; i < n_out; i++)
    ck_assert_ptr_null(sinter_graph_add_output(t->g, sinter_node_output(node, i)));
  return node;
}

/* Adds op over ins with one output that becomes a graph output. */
static inline sinter_node_t *tg_node(tg_t *t, sinter_op_t op, sinter_value_t *const *ins,
                                     int32_t n) {
  return tg_node_n(t, op, ins, n, 1);
}

/* Infers shapes and runs; the outputs land in t->outs. */
static inline sinter_status_t tg_run(tg_t *t) {
  sinter_status_t st = sinter_graph_infer_shapes(t->g);
  if (st) return st;
  sinter_interp_t *ip;
  st = sinter_interp_create(t->g, &ip);
  if (st) return st;
  t->n_outs = sinter_graph_num_outputs(t->g);
  st = sinter_interp_run(ip, t->feeds, t->n_feeds, t->outs);
  sinter_interp_destroy(ip);
  return st;
}

/* tg_run that must succeed. */
static inline void tg_run_ok(tg_t *t) {
  sinter_status_t st = tg_run(t);
  if (st) ck_abort_msg("run failed: %s", sinter_status_message(st));
}

/* Frees the outputs of the last run and the graph. */
static inline void tg_free(tg_t *t) {
  for (int32_t i = 0; i < t->n_outs; i++) sinter_tensor_free_data(&t->outs[i]);
  sinter_graph_destroy(t->g);
}

/* Checks an output's dtype and static shape. */
static inline void expect_shape(const sinter_tensor_t *o, sinter_dtype_t dt, int32_t rank,
                                const int64_t *dims) {
  ck_assert_int_eq(o->dtype, dt);
  ck_assert_int_eq(o->rank, rank);
  for (int32_t i = 0; i < rank; i++) ck_assert_int_eq(o->dims[i], dims[i]);
}

/* Compares f32 results within rel * |want| + abs; NaN must match NaN. */
static inline void expect_f32(const sinter_tensor_t *o, const float *want, int n, double rel,
                              double abs) {
  ck_assert_int_eq(o->dtype, SINTER_DTYPE_F32);
  ck_assert_int_eq((int)(o->nbytes / 4), n);
  const float *got = o->data;
  for (int i = 0; i < n; i++) {
    if (isnan(want[i])) {
      ck_assert_msg(isnan(got[i]), "element %d: got %g, want NaN", i, got[i]);
      continue;
    }
    if (isinf(want[i])) {
      ck_assert_msg(got[i] == want[i], "element %d: got %g, want %g", i, got[i], want[i]);
      continue;
    }
    double err = fabs((double)got[i] - want[i]);
    ck_assert_msg(err <= rel * fabs(want[i]) + abs, "element %d: got %.9g, want %.9g", i, got[i],
                  want[i]);
  }
}

/* Bit-exact comparison of an output's data with n bytes of want. */
static inline void expect_bytes(const sinter_tensor_t *o, const void *want, size_t n) {
  ck_assert_uint_eq(o->nbytes, n);
  ck_assert_mem_eq(o->data, want, n);
}

/* Checks that st is an error with code whose message contains needle, then frees it. */
static inline void expect_error(sinter_status_t st, sinter_status_code_t code, const char *needle) {
  ck_assert_ptr_nonnull(st);
  ck_assert_int_eq(sinter_status_code(st), code);
  ck_assert_msg(strstr(sinter_status_message(st), needle), "message '%s' lacks '%s'",
                sinter_status_message(st), needle);
  sinter_status_free(st);
}

#endif /* SINTER_TESTS_INTERP_TEST_H */
