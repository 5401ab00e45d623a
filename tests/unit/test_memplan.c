/* Tests of the activation memory plan (codegen/memplan.c): hand-built graphs with arena sizes
 * worked out by hand, a brute-force check that no two simultaneously live buffers overlap,
 * errors, determinism, and the shared models (peak arena against the naive sum). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/ir_impl.h"
#include "sinter/codegen.h"
#include "sinter/ir.h"
#include "sinter/onnx.h"
#include "sinter/passes.h"
#include "tests/support/check_main.h"

#define CK_OK(expr)                                                                     \
  do {                                                                                  \
    sinter_status_t st_ = (expr);                                                       \
    ck_assert_msg(st_ == NULL, "%s: %s", #expr, st_ ? sinter_status_message(st_) : ""); \
  } while (0)

/* ---- helpers -------------------------------------------------------------------------- */

static sinter_type_t bytes_type(int64_t n) {
  sinter_type_t t = {.dtype = SINTER_DTYPE_U8, .rank = 1};
  t.dims[0].size = n;
  return t;
}

static sinter_graph_t *new_graph(sinter_value_t **out_x) {
  sinter_graph_t *g = NULL;
  CK_OK(sinter_graph_create("t", &g));
  sinter_type_t t = bytes_type(64);
  CK_OK(sinter_graph_add_input(g, "x", &t, out_x));
  return g;
}

/* Adds a node of op whose outputs are u8 vectors of the given byte sizes; returns output 0. */
static sinter_value_t *node(sinter_graph_t *g, sinter_op_t op, const char *name,
                            sinter_value_t *a, sinter_value_t *b, int n_out, const int64_t *sizes,
                            sinter_node_t **out_node) {
  sinter_value_t *ins[2] = {a, b};
  sinter_node_t *n = NULL;
  CK_OK(sinter_graph_add_node(g, op, name, ins, b ? 2 : 1, n_out, &n));
  for (int i = 0; i < n_out; i++) {
    sinter_type_t t = bytes_type(sizes[i]);
    sinter_value_t *v = sinter_node_output(n, i);
    sinter_value_set_type(v, &t);
    char vn[64];
    snprintf(vn, sizeof(vn), n_out == 1 ? "%s" : "%s_%d", name, i);
    CK_OK(sinter_value_set_name(v, vn));
  }
  if (out_node) *out_node = n;
  return sinter_node_output(n, 0);
}

static sinter_value_t *unary(sinter_graph_t *g, const char *name, sinter_value_t *a, int64_t n) {
  return node(g, SINTER_OP_RELU, name, a, NULL, 1, &n, NULL);
}

static sinter_value_t *binary(sinter_graph_t *g, const char *name, sinter_value_t *a,
                              sinter_value_t *b, int64_t n) {
  return node(g, SINTER_OP_ADD, name, a, b, 1, &n, NULL);
}

static size_t offset_of(const sinter_memplan_t *p, const sinter_value_t *v) {
  size_t off = 0, size = 0;
  ck_assert_msg(sinter_memplan_offset(p, v, &off, &size), "%s is not planned",
                sinter_value_name(v));
  return off;
}

/* The byte size of v's type with dims named sym read as batch; -1 when not static. */
static int64_t expected_bytes(const sinter_value_t *v, const char *sym, int64_t batch) {
  const sinter_type_t *t = sinter_value_type(v);
  if (t->rank < 0) return -1;
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) {
    int64_t d = t->dims[i].size;
    if (d < 0 && sym && t->dims[i].sym && strcmp(t->dims[i].sym, sym) == 0) d = batch;
    if (d < 0) return -1;
    n *= d;
  }
  int bits = sinter_dtype_bits(t->dtype);
  return bits == 4 ? (n + 1) / 2 : n * (bits / 8);
}

/* Brute force, independent of the planner's own liveness: lifetimes come from scanning every
 * node's input list in graph order. Checks that every node output that is not a graph output
 * is planned with its exact size at an aligned offset inside the arena, that nothing else is
 * planned, that no two buffers whose lifetimes overlap share a byte, and that the arena is at
 * least the largest total of simultaneously live bytes. Returns that lower bound. */
static size_t check_plan(const sinter_graph_t *g, const sinter_memplan_t *p, const char *sym,
                         int64_t batch) {
  int32_t n_nodes = sinter_graph_num_nodes(g), n = 0;
  size_t align = sinter_memplan_alignment(p), arena = sinter_memplan_arena_size(p);
  typedef struct {
    const sinter_value_t *v;
    size_t off, size;
    int32_t first, last;
  } rec_t;
  int32_t cap = 0;
  for (sinter_node_t *nd = sinter_graph_first_node(g); nd; nd = sinter_node_next(nd))
    cap += sinter_node_num_outputs(nd);
  rec_t *r = calloc((size_t)cap + 1, sizeof(*r));
  ck_assert_ptr_nonnull(r);
  int32_t pos = 0;
  for (sinter_node_t *nd = sinter_graph_first_node(g); nd; nd = sinter_node_next(nd), pos++) {
    for (int32_t s = 0; s < sinter_node_num_outputs(nd); s++) {
      const sinter_value_t *v = sinter_node_output(nd, s);
      size_t off = 0, size = 0;
      bool planned = sinter_memplan_offset(p, v, &off, &size);
      if (sinter_value_is_graph_output(v)) {
        ck_assert_msg(!planned, "graph output %s is planned", sinter_value_name(v));
        continue;
      }
      ck_assert_msg(planned, "%s is not planned", sinter_value_name(v));
      ck_assert_int_eq((int64_t)size, expected_bytes(v, sym, batch));
      ck_assert_msg(off % align == 0, "%s at %zu is not %zu-aligned", sinter_value_name(v), off,
                    align);
      ck_assert_msg(off + size <= arena, "%s ends past the arena", sinter_value_name(v));
      int32_t last = pos, upos = 0;
      for (sinter_node_t *u = sinter_graph_first_node(g); u; u = sinter_node_next(u), upos++)
        for (int32_t i = 0; i < sinter_node_num_inputs(u); i++)
          if (sinter_node_input(u, i) == v && upos > last) last = upos;
      r[n++] = (rec_t){v, off, size, pos, last};
    }
  }
  ck_assert_int_eq(n, sinter_memplan_num_buffers(p));
  for (int32_t i = 0; i < sinter_graph_num_inputs(g); i++)
    ck_assert(!sinter_memplan_offset(p, sinter_graph_input(g, i), NULL, NULL));
  for (sinter_value_t *c = sinter_graph_first_const(g); c; c = sinter_value_next_const(c))
    ck_assert(!sinter_memplan_offset(p, c, NULL, NULL));
  for (int32_t i = 0; i < n; i++)
    for (int32_t j = i + 1; j < n; j++) {
      if (r[i].last < r[j].first || r[j].last < r[i].first) continue;
      if (r[i].size == 0 || r[j].size == 0) continue;
      bool disjoint = r[i].off + r[i].size <= r[j].off || r[j].off + r[j].size <= r[i].off;
      ck_assert_msg(disjoint, "%s [%zu,+%zu) and %s [%zu,+%zu) are live together and overlap",
                    sinter_value_name(r[i].v), r[i].off, r[i].size, sinter_value_name(r[j].v),
                    r[j].off, r[j].size);
    }
  size_t bound = 0;
  for (int32_t t = 0; t < n_nodes; t++) {
    size_t live = 0;
    for (int32_t i = 0; i < n; i++)
      if (r[i].first <= t && t <= r[i].last) live += r[i].size;
    if (live > bound) bound = live;
  }
  ck_assert_msg(arena >= bound, "arena %zu below the live total %zu", arena, bound);
  free(r);
  return bound;
}

static char *print_plan(const sinter_memplan_t *p) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  CK_OK(sinter_memplan_print(p, f));
  fclose(f);
  return buf;
}

/* ---- hand-built graphs ----------------------------------------------------------------- */

/* a(1000) -> b(2000) -> c(3000) -> d(500) -> out. Spans at 64: 1024, 2048, 3008, 512.
 * Greedy by size: c@0; b overlaps c -> 3008; a overlaps only b -> 0; d overlaps only c ->
 * 3008. Arena = 3008 + 2048 = 5056 (the b+c peak); naive = 1024+2048+3008+512 = 6592. */
START_TEST(chain) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  sinter_value_t *a = unary(g, "a", x, 1000), *b = unary(g, "b", a, 2000),
                 *c = unary(g, "c", b, 3000), *d = unary(g, "d", c, 500),
                 *out = unary(g, "out", d, 64);
  CK_OK(sinter_graph_add_output(g, out));
  sinter_memplan_t *p = NULL;
  CK_OK(sinter_memplan_create(g, NULL, &p));
  ck_assert_uint_eq(sinter_memplan_alignment(p), 64);
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 5056);
  ck_assert_uint_eq(sinter_memplan_naive_size(p), 6592);
  ck_assert_int_eq(sinter_memplan_num_buffers(p), 4);
  ck_assert_uint_eq(offset_of(p, c), 0);
  ck_assert_uint_eq(offset_of(p, b), 3008);
  ck_assert_uint_eq(offset_of(p, a), 0);
  ck_assert_uint_eq(offset_of(p, d), 3008);
  size_t off = 1, size = 1;
  ck_assert(sinter_memplan_offset(p, a, &off, &size));
  ck_assert_uint_eq(size, 1000);
  ck_assert(!sinter_memplan_offset(p, out, &off, &size));
  ck_assert(!sinter_memplan_offset(p, x, &off, &size));
  ck_assert_uint_eq(off, 0); /* untouched on false */
  ck_assert_uint_eq(check_plan(g, p, NULL, 0), 5000);
  sinter_memplan_buffer_t bf;
  ck_assert(sinter_memplan_buffer(p, 1, &bf));
  ck_assert_ptr_eq(bf.value, b);
  ck_assert_int_eq(bf.first, 1);
  ck_assert_int_eq(bf.last, 2);
  ck_assert(!sinter_memplan_buffer(p, 4, &bf));
  ck_assert(!sinter_memplan_buffer(p, -1, &bf));
  sinter_memplan_destroy(p);
  sinter_graph_destroy(g);
}
END_TEST

/* The chain above with the node making b run together with the next (making
 * c): a, which that node reads, stays live through c's producer, so a no
 * longer shares c's bytes (a@0 and c@0 above). */
static bool joins_b(void *user, const sinter_node_t *node) {
  return sinter_node_output(node, 0) == (const sinter_value_t *)user;
}

START_TEST(joins_next) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  sinter_value_t *a = unary(g, "a", x, 1000), *b = unary(g, "b", a, 2000),
                 *c = unary(g, "c", b, 3000), *d = unary(g, "d", c, 500),
                 *out = unary(g, "out", d, 64);
  CK_OK(sinter_graph_add_output(g, out));
  sinter_memplan_options_t o = {.joins_next = joins_b, .joins_next_user = b};
  sinter_memplan_t *p = NULL;
  CK_OK(sinter_memplan_create(g, &o, &p));
  sinter_memplan_buffer_t bf;
  ck_assert(sinter_memplan_buffer(p, 0, &bf));
  ck_assert_ptr_eq(bf.value, a);
  ck_assert_int_eq(bf.last, 2);
  size_t oa = offset_of(p, a), oc = offset_of(p, c);
  ck_assert_msg(oa + 1000 <= oc || oc + 3000 <= oa, "a@%zu overlaps c@%zu", oa, oc);
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 3008 + 2048 + 1024); /* a, b, c live at 2 */
  sinter_memplan_destroy(p);
  sinter_graph_destroy(g);
}
END_TEST

/* a(640) feeds b(1280) and c(1920); d(256) = b + c. Lifetimes a[0,2] b[1,3] c[2,3] d[3,4].
 * c@0, b@1920, a@3200 (overlaps both), d@3200 (a is dead by then). Arena 3840 = a+b+c at
 * position 2; naive 4096. */
START_TEST(diamond) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  sinter_value_t *a = unary(g, "a", x, 640), *b = unary(g, "b", a, 1280),
                 *c = unary(g, "c", a, 1920), *d = binary(g, "d", b, c, 256),
                 *out = unary(g, "out", d, 64);
  CK_OK(sinter_graph_add_output(g, out));
  sinter_memplan_t *p = NULL;
  CK_OK(sinter_memplan_create(g, NULL, &p));
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 3840);
  ck_assert_uint_eq(sinter_memplan_naive_size(p), 4096);
  ck_assert_uint_eq(offset_of(p, c), 0);
  ck_assert_uint_eq(offset_of(p, b), 1920);
  ck_assert_uint_eq(offset_of(p, a), 3200);
  ck_assert_uint_eq(offset_of(p, d), 3200);
  ck_assert_uint_eq(check_plan(g, p, NULL, 0), 3840);
  sinter_memplan_destroy(p);
  sinter_graph_destroy(g);
}
END_TEST

/* Split -> s0(384) s1(640) s2(128, never used); r(1024) = relu(s0); out = r + s1.
 * Lifetimes s0[0,1] s1[0,2] s2[0,0] r[1,2]. r@0, s1@1024, s0@1664, s2@0 (r is not live yet).
 * Arena 2048 = s0+s1+r at position 1; naive 2176. */
START_TEST(multi_output) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  const int64_t sizes[3] = {384, 640, 128};
  sinter_node_t *split = NULL;
  node(g, SINTER_OP_SPLIT, "s", x, NULL, 3, sizes, &split);
  sinter_value_t *s0 = sinter_node_output(split, 0), *s1 = sinter_node_output(split, 1),
                 *s2 = sinter_node_output(split, 2);
  sinter_value_t *r = unary(g, "r", s0, 1024), *out = binary(g, "out", r, s1, 64);
  CK_OK(sinter_graph_add_output(g, out));
  sinter_memplan_t *p = NULL;
  CK_OK(sinter_memplan_create(g, NULL, &p));
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 2048);
  ck_assert_uint_eq(sinter_memplan_naive_size(p), 2176);
  ck_assert_uint_eq(offset_of(p, r), 0);
  ck_assert_uint_eq(offset_of(p, s1), 1024);
  ck_assert_uint_eq(offset_of(p, s0), 1664);
  ck_assert_uint_eq(offset_of(p, s2), 0);
  ck_assert_uint_eq(check_plan(g, p, NULL, 0), 2048);
  sinter_memplan_destroy(p);
  sinter_graph_destroy(g);
}
END_TEST

/* a(256) is made first and used last; b, c, d (1024 each) form a chain in between.
 * Lifetimes a[0,4] b[1,2] c[2,3] d[3,4]. b@0, c@1024, d@0 (b is dead), a@2048 above both.
 * Arena 2304; naive 3328. Planning by position would put a at 0 under b: the lifetime of a
 * must reach its far user. */
START_TEST(used_far_later) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  sinter_value_t *a = unary(g, "a", x, 256), *b = unary(g, "b", x, 1024),
                 *c = unary(g, "c", b, 1024), *d = unary(g, "d", c, 1024),
                 *out = binary(g, "out", a, d, 64);
  CK_OK(sinter_graph_add_output(g, out));
  sinter_memplan_t *p = NULL;
  CK_OK(sinter_memplan_create(g, NULL, &p));
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 2304);
  ck_assert_uint_eq(sinter_memplan_naive_size(p), 3328);
  ck_assert_uint_eq(offset_of(p, b), 0);
  ck_assert_uint_eq(offset_of(p, c), 1024);
  ck_assert_uint_eq(offset_of(p, d), 0);
  ck_assert_uint_eq(offset_of(p, a), 2048);
  check_plan(g, p, NULL, 0);
  sinter_memplan_destroy(p);
  sinter_graph_destroy(g);
}
END_TEST

/* Three outputs of 1, 65 and 100 bytes, all live together. At 64: spans 64, 128, 128 ->
 * s1@0 (ties go to the earlier buffer), s2@128, s0@256, arena 320. At 16: spans 16, 80, 112
 * -> s2@0, s1@112, s0@192, arena 208. Sizes stay exact. */
START_TEST(alignment) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  const int64_t sizes[3] = {1, 65, 100};
  sinter_node_t *split = NULL;
  node(g, SINTER_OP_SPLIT, "s", x, NULL, 3, sizes, &split);
  sinter_value_t *s[3] = {sinter_node_output(split, 0), sinter_node_output(split, 1),
                          sinter_node_output(split, 2)};
  sinter_value_t *ins[3] = {s[0], s[1], s[2]};
  sinter_node_t *cat = NULL;
  CK_OK(sinter_graph_add_node(g, SINTER_OP_CONCAT, "cat", ins, 3, 1, &cat));
  sinter_type_t t = bytes_type(166);
  sinter_value_set_type(sinter_node_output(cat, 0), &t);
  CK_OK(sinter_graph_add_output(g, sinter_node_output(cat, 0)));

  sinter_memplan_t *p = NULL;
  CK_OK(sinter_memplan_create(g, NULL, &p));
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 320);
  ck_assert_uint_eq(sinter_memplan_naive_size(p), 320);
  ck_assert_uint_eq(offset_of(p, s[1]), 0);
  ck_assert_uint_eq(offset_of(p, s[2]), 128);
  ck_assert_uint_eq(offset_of(p, s[0]), 256);
  check_plan(g, p, NULL, 0);
  sinter_memplan_destroy(p);

  sinter_memplan_options_t o = {.alignment = 16};
  CK_OK(sinter_memplan_create(g, &o, &p));
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 208);
  ck_assert_uint_eq(sinter_memplan_naive_size(p), 208);
  ck_assert_uint_eq(offset_of(p, s[2]), 0);
  ck_assert_uint_eq(offset_of(p, s[1]), 112);
  ck_assert_uint_eq(offset_of(p, s[0]), 192);
  size_t off, size;
  ck_assert(sinter_memplan_offset(p, s[1], &off, &size));
  ck_assert_uint_eq(size, 65);
  check_plan(g, p, NULL, 0);
  sinter_memplan_destroy(p);
  sinter_graph_destroy(g);
}
END_TEST

/* A graph whose only node output is a graph output plans nothing; so does an empty graph. */
START_TEST(nothing_to_plan) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  sinter_memplan_t *p = NULL;
  CK_OK(sinter_memplan_create(g, NULL, &p));
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 0);
  ck_assert_int_eq(sinter_memplan_num_buffers(p), 0);
  sinter_memplan_destroy(p);
  CK_OK(sinter_graph_add_output(g, unary(g, "y", x, 100)));
  CK_OK(sinter_memplan_create(g, NULL, &p));
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 0);
  ck_assert_uint_eq(sinter_memplan_naive_size(p), 0);
  char *text = print_plan(p);
  ck_assert_ptr_nonnull(strstr(text, "0 buffers"));
  free(text);
  sinter_memplan_destroy(p);
  sinter_memplan_destroy(NULL);
  sinter_graph_destroy(g);
}
END_TEST

/* A symbolic batch: f32[N,16] is 64*N bytes once N is given; without it, or with another
 * symbol, or with an unknown dim, planning fails and names the value. */
START_TEST(batch_symbol) {
  sinter_graph_t *g = NULL;
  CK_OK(sinter_graph_create("b", &g));
  sinter_type_t t = {.dtype = SINTER_DTYPE_F32, .rank = 2};
  t.dims[0] = (sinter_dim_t){-1, sinter_graph_intern(g, "N")};
  t.dims[1] = (sinter_dim_t){16, NULL};
  sinter_value_t *x;
  CK_OK(sinter_graph_add_input(g, "x", &t, &x));
  sinter_value_t *ins[1] = {x};
  sinter_node_t *n1, *n2;
  CK_OK(sinter_graph_add_node(g, SINTER_OP_RELU, "r1", ins, 1, 1, &n1));
  sinter_value_t *h = sinter_node_output(n1, 0);
  sinter_value_set_type(h, &t);
  CK_OK(sinter_value_set_name(h, "hidden"));
  ins[0] = h;
  CK_OK(sinter_graph_add_node(g, SINTER_OP_RELU, "r2", ins, 1, 1, &n2));
  sinter_value_set_type(sinter_node_output(n2, 0), &t);
  CK_OK(sinter_graph_add_output(g, sinter_node_output(n2, 0)));

  sinter_memplan_t *p = NULL;
  sinter_memplan_options_t o = {.batch_symbol = "N", .batch_size = 3};
  CK_OK(sinter_memplan_create(g, &o, &p));
  size_t off, size;
  ck_assert(sinter_memplan_offset(p, h, &off, &size));
  ck_assert_uint_eq(size, 3 * 16 * 4);
  ck_assert_uint_eq(sinter_memplan_arena_size(p), 192);
  check_plan(g, p, "N", 3);
  sinter_memplan_destroy(p);

  sinter_memplan_options_t bad[3] = {{0}, {.batch_symbol = "B", .batch_size = 3}};
  for (int i = 0; i < 2; i++) {
    p = (sinter_memplan_t *)1;
    sinter_status_t st = sinter_memplan_create(g, &bad[i], &p);
    ck_assert_ptr_nonnull(st);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(sinter_status_code(st), SINTER_UNSUPPORTED);
    ck_assert_msg(strstr(sinter_status_message(st), "'hidden'") &&
                      strstr(sinter_status_message(st), "r1") &&
                      strstr(sinter_status_message(st), "f32[N,16]"),
                  "message: %s", sinter_status_message(st));
    sinter_status_free(st);
  }
  sinter_type_t unk = t;
  unk.dims[0].sym = NULL;
  sinter_value_set_type(h, &unk);
  sinter_status_t st = sinter_memplan_create(g, &o, &p);
  ck_assert_int_eq(sinter_status_code(st), SINTER_UNSUPPORTED);
  ck_assert_ptr_nonnull(strstr(sinter_status_message(st), "'hidden'"));
  sinter_status_free(st);
  sinter_type_t norank = {.dtype = SINTER_DTYPE_F32, .rank = -1};
  sinter_value_set_type(h, &norank);
  st = sinter_memplan_create(g, &o, &p);
  ck_assert_int_eq(sinter_status_code(st), SINTER_UNSUPPORTED);
  sinter_status_free(st);
  sinter_type_t nodtype = t;
  nodtype.dtype = SINTER_DTYPE_UNDEFINED;
  sinter_value_set_type(h, &nodtype);
  st = sinter_memplan_create(g, &o, &p);
  ck_assert_int_eq(sinter_status_code(st), SINTER_UNSUPPORTED);
  sinter_status_free(st);
  sinter_graph_destroy(g);
}
END_TEST

START_TEST(bad_options) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  sinter_memplan_t *p = NULL;
  sinter_memplan_options_t o = {.alignment = 48};
  sinter_status_t st = sinter_memplan_create(g, &o, &p);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  o = (sinter_memplan_options_t){.batch_symbol = "N", .batch_size = 0};
  st = sinter_memplan_create(g, &o, &p);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  st = sinter_memplan_create(NULL, NULL, &p);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  st = sinter_memplan_create(g, NULL, NULL);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_ARGUMENT);
  sinter_status_free(st);
  /* A huge tensor overflows instead of wrapping. */
  sinter_type_t t = {.dtype = SINTER_DTYPE_F64, .rank = 3};
  t.dims[0].size = t.dims[1].size = t.dims[2].size = INT64_C(1) << 30;
  sinter_value_t *h = unary(g, "h", x, 1);
  sinter_value_set_type(h, &t);
  CK_OK(sinter_graph_add_output(g, unary(g, "o", h, 1)));
  st = sinter_memplan_create(g, NULL, &p);
  ck_assert_int_eq(sinter_status_code(st), SINTER_OUT_OF_RANGE);
  ck_assert_ptr_nonnull(strstr(sinter_status_message(st), "'h'"));
  sinter_status_free(st);
  sinter_graph_destroy(g);
}
END_TEST

/* A node with a subgraph attribute is refused: the subgraph could read outer values, which
 * the outer use lists do not show. */
START_TEST(subgraph_refused) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  sinter_value_t *h = unary(g, "h", x, 64);
  sinter_node_t *n = sinter_value_producer(h, NULL);
  CK_OK(sinter_graph_add_output(g, unary(g, "o", h, 64)));
  sinter_graph_t *body = NULL;
  CK_OK(sinter_ir_subgraph_create(g, "body", &body));
  sinter_attr_t a = {.name = "body", .kind = SINTER_ATTR_GRAPH, .count = 1, .graphs = &body};
  CK_OK(sinter_node_set_attr(n, &a));
  sinter_memplan_t *p = NULL;
  sinter_status_t st = sinter_memplan_create(g, NULL, &p);
  ck_assert_int_eq(sinter_status_code(st), SINTER_UNSUPPORTED);
  ck_assert_ptr_nonnull(strstr(sinter_status_message(st), "subgraph"));
  ck_assert_ptr_null(p);
  sinter_status_free(st);
  sinter_graph_destroy(g);
}
END_TEST

/* Many same-size buffers (all ties) with a random-looking use pattern: two plans of the same
 * graph are identical, and the brute-force check holds. */
START_TEST(determinism) {
  sinter_value_t *x;
  sinter_graph_t *g = new_graph(&x);
  enum { N = 40 };
  sinter_value_t *v[N];
  uint32_t seed = 12345;
  for (int i = 0; i < N; i++) {
    char name[16];
    snprintf(name, sizeof(name), "v%d", i);
    seed = seed * 1103515245u + 12345u;
    int64_t size = 128 * (1 + (int64_t)((seed >> 16) % 3));
    sinter_value_t *a = i ? v[(seed >> 8) % (uint32_t)i] : x;
    sinter_value_t *b = i > 1 ? v[i - 1] : NULL;
    v[i] = b ? binary(g, name, a, b, size) : unary(g, name, a, size);
  }
  CK_OK(sinter_graph_add_output(g, unary(g, "out", v[N - 1], 64)));
  sinter_memplan_t *p1 = NULL, *p2 = NULL;
  CK_OK(sinter_memplan_create(g, NULL, &p1));
  CK_OK(sinter_memplan_create(g, NULL, &p2));
  for (int i = 0; i < N; i++) ck_assert_uint_eq(offset_of(p1, v[i]), offset_of(p2, v[i]));
  char *t1 = print_plan(p1), *t2 = print_plan(p2);
  ck_assert_str_eq(t1, t2);
  check_plan(g, p1, NULL, 0);
  ck_assert_uint_lt(sinter_memplan_arena_size(p1), sinter_memplan_naive_size(p1));
  free(t1);
  free(t2);
  sinter_memplan_destroy(p1);
  sinter_memplan_destroy(p2);
  sinter_graph_destroy(g);
}
END_TEST

/* ---- shared models --------------------------------------------------------------------- */

static const char *const models[] = {"resnet18", "mobilenet_v2", "bert_tiny"};

static const char *models_dir(void) {
  const char *env = getenv("SINTER_MODELS_DIR");
  return env ? env : SINTER_SOURCE_DIR "/../shared/models";
}

/* Runs the basic cleanup pipeline (what the compiler runs before codegen at every level). */
static void optimize(sinter_graph_t *g) {
  sinter_pass_registry_t *reg = NULL;
  sinter_pipeline_t *pl = NULL;
  CK_OK(sinter_pass_registry_create(&reg));
  CK_OK(sinter_pipeline_parse(reg, "canonicalize,fold-constants,dce,cse", &pl));
  CK_OK(sinter_pipeline_run(g, pl, NULL, NULL));
  sinter_pipeline_destroy(pl);
  sinter_pass_registry_destroy(reg);
}

/* Plans g at batch 1, checks the plan, prints peak against naive under label, and returns the
 * printed plan (the caller frees it). */
static char *plan_model(const sinter_graph_t *g, const char *label, bool report) {
  sinter_memplan_options_t o = {.batch_symbol = "N", .batch_size = 1};
  sinter_memplan_t *p = NULL;
  CK_OK(sinter_memplan_create(g, &o, &p));
  size_t arena = sinter_memplan_arena_size(p), naive = sinter_memplan_naive_size(p);
  size_t bound = check_plan(g, p, "N", 1);
  ck_assert_msg(arena < naive, "%s: arena %zu not below naive %zu", label, arena, naive);
  if (report)
      printf("memplan %s (batch 1): %d nodes, %d buffers, peak arena %zu bytes (%.2f MiB), "
           "naive sum %zu bytes (%.2f MiB), %.2fx smaller; most bytes live at once %zu\n",
           label, sinter_graph_num_nodes(g), sinter_memplan_num_buffers(p), arena,
           arena / 1048576.0, naive, naive / 1048576.0, (double)naive / (double)arena, bound);
  char *text = print_plan(p);
  sinter_memplan_destroy(p);
  return text;
}

/* Plans each model as imported and after the cleanup pipeline, at batch 1. bert_tiny as
 * imported computes position ids with Range over a Shape, whose length is unknown before
 * fold-constants: that must fail and name the value. A second import and pipeline run must
 * print the same plan. */
START_TEST(shared_models) {
  const char *name = models[_i];
  char path[4096], label[64];
  snprintf(path, sizeof(path), "%s/%s/model.onnx", models_dir(), name);
  struct stat st;
  if (stat(path, &st) != 0) {
    printf("skip %s: %s is absent\n", name, path);
    return;
  }
  char *texts[2] = {NULL, NULL};
  for (int round = 0; round < 2; round++) {
    sinter_graph_t *g = NULL;
    CK_OK(sinter_onnx_import_file(path, &g));
    if (round == 0) {
      if (strcmp(name, "bert_tiny") == 0) {
        sinter_memplan_options_t o = {.batch_symbol = "N", .batch_size = 1};
        sinter_memplan_t *p = NULL;
        sinter_status_t s = sinter_memplan_create(g, &o, &p);
        ck_assert_int_eq(sinter_status_code(s), SINTER_UNSUPPORTED);
        ck_assert_msg(strstr(sinter_status_message(s), "Range"), "%s", sinter_status_message(s));
        printf("memplan bert_tiny as imported: %s\n", sinter_status_message(s));
        sinter_status_free(s);
      } else {
        snprintf(label, sizeof(label), "%s as imported", name);
        free(plan_model(g, label, true));
      }
    }
    optimize(g);
    snprintf(label, sizeof(label), "%s after cleanup", name);
    texts[round] = plan_model(g, label, round == 0);
    sinter_graph_destroy(g);
  }
  ck_assert_str_eq(texts[0], texts[1]);
  free(texts[0]);
  free(texts[1]);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("memplan");
  TCase *tc = tcase_create("hand");
  tcase_add_test(tc, chain);
  tcase_add_test(tc, joins_next);
  tcase_add_test(tc, diamond);
  tcase_add_test(tc, multi_output);
  tcase_add_test(tc, used_far_later);
  tcase_add_test(tc, alignment);
  tcase_add_test(tc, nothing_to_plan);
  tcase_add_test(tc, batch_symbol);
  tcase_add_test(tc, bad_options);
  tcase_add_test(tc, subgraph_refused);
  tcase_add_test(tc, determinism);
  suite_add_tcase(s, tc);
  TCase *tm = tcase_create("models");
  tcase_set_timeout(tm, 600);
  tcase_add_loop_test(tm, shared_models, 0, (int)(sizeof(models) / sizeof(models[0])));
  suite_add_tcase(s, tm);
  return s;
}

int main(void) { return run_suite(suite()); }
