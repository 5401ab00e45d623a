/* Tests of the graph verifier: a valid graph passes, and each class of
 * corruption (made through the ir_impl.h fields) is caught with a message
 * that names the node or value and the reason. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/interp/kernels.h"
#include "ir/ir_impl.h"
#include "sinter/ir.h"
#include "tests/support/check_main.h"

/* Internal, in ir/verify.c. */
#include "ir/ir_impl.h"

static void ok(sinter_status_t st, const char *what) {
  if (st) {
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s: %s", what, sinter_status_message(st));
    sinter_status_free(st);
    ck_abort_msg("%s", msg);
  }
}

/* Verifies g, which must fail with a message containing each of the
 * NULL-terminated fragments. */
static void expect_fail(const sinter_graph_t *g, ...) {
  sinter_status_t st = sinter_graph_verify(g);
  ck_assert_msg(st != NULL, "the verifier accepted a corrupt graph");
  const char *m = sinter_status_message(st);
  va_list ap;
  va_start(ap, g);
  for (const char *frag; (frag = va_arg(ap, const char *));)
    ck_assert_msg(strstr(m, frag) != NULL, "message \"%s\" lacks \"%s\"", m, frag);
  va_end(ap);
  ck_assert_int_eq(sinter_status_code(st), SINTER_INVALID_MODEL);
  sinter_status_free(st);
}

static sinter_type_t ty(sinter_dtype_t d, int rank, const int64_t *dims) {
  sinter_type_t t = {.dtype = d, .rank = rank};
  for (int i = 0; i < rank; i++) t.dims[i].size = dims[i];
  return t;
}

/* The fixture: x[N,4] -> MatMul(w) -> Add(b) -> Relu -> TopK(k) -> outputs,
 * plus a per-axis quantized int8 weight read by a DequantizeLinear. */
typedef struct fx_s {
  sinter_graph_t *g;
  sinter_value_t *x, *w, *b, *k, *wq, *wq_scale;
  sinter_node_t *mm, *add, *relu, *topk, *dq;
} fx_t;

static fx_t build(void) {
  fx_t f;
  ok(sinter_graph_create("fixture", &f.g), "create");
  sinter_graph_t *g = f.g;
  sinter_type_t tx = ty(SINTER_DTYPE_F32, 2, (int64_t[]){-1, 4});
  tx.dims[0].sym = "N";
  ok(sinter_graph_add_input(g, "x", &tx, &f.x), "x");
  float wdata[16] = {0};
  sinter_type_t tw = ty(SINTER_DTYPE_F32, 2, (int64_t[]){4, 4});
  ok(sinter_graph_add_const(g, "w", &tw, wdata, sizeof(wdata), &f.w), "w");
  sinter_type_t tb = ty(SINTER_DTYPE_F32, 1, (int64_t[]){4});
  ok(sinter_graph_add_const(g, "b", &tb, (float[]){1, 2, 3, 4}, 16, &f.b), "b");
  sinter_type_t tk = ty(SINTER_DTYPE_I64, 1, (int64_t[]){1});
  ok(sinter_graph_add_const(g, "k", &tk, (int64_t[]){2}, 8, &f.k), "k");
  sinter_type_t twq = ty(SINTER_DTYPE_I8, 2, (int64_t[]){4, 4});
  int8_t q[16] = {0};
  ok(sinter_graph_add_const(g, "wq", &twq, q, 16, &f.wq), "wq");
  sinter_quant_params_t qp = {.scheme = SINTER_QUANT_PER_AXIS,
                              .bits = 8,
                              .axis = 0,
                              .count = 4,
                              .scales = (float[]){0.5f, 0.25f, 0.125f, 1.f},
                              .zero_points = (int32_t[]){0, 1, -1, 0}};
  ok(sinter_value_set_quant(f.wq, &qp), "quant");
  ok(sinter_graph_add_const(g, "wq_scale", &tb, (float[]){0.5f, 0.25f, 0.125f, 1.f}, 16,
                            &f.wq_scale),
     "wq_scale");

  ok(sinter_graph_add_node(g, SINTER_OP_MATMUL, "mm", (sinter_value_t *[]){f.x, f.w}, 2, 1, &f.mm),
     "mm");
  sinter_value_set_type(f.mm->outputs[0], &tx);
  ok(sinter_graph_add_node(g, SINTER_OP_ADD, "add", (sinter_value_t *[]){f.mm->outputs[0], f.b}, 2,
                           1, &f.add),
     "add");
  sinter_value_set_type(f.add->outputs[0], &tx);
  ok(sinter_graph_add_node(g, SINTER_OP_RELU, "relu", &f.add->outputs[0], 1, 1, &f.relu), "relu");
  sinter_value_set_type(f.relu->outputs[0], &tx);
  ok(sinter_value_set_name(f.relu->outputs[0], "r"), "name");
  ok(sinter_graph_add_node(g, SINTER_OP_TOPK, "topk", (sinter_value_t *[]){f.relu->outputs[0], f.k},
                           2, 2, &f.topk),
     "topk");
  sinter_type_t tv = ty(SINTER_DTYPE_F32, 2, (int64_t[]){-1, 2});
  tv.dims[0].sym = "N";
  sinter_value_set_type(f.topk->outputs[0], &tv);
  tv.dtype = SINTER_DTYPE_I64;
  sinter_value_set_type(f.topk->outputs[1], &tv);
  ok(sinter_node_set_attr_int(f.topk, "axis", -1), "attr");
  ok(sinter_node_set_attr_int(f.topk, "largest", 1), "attr");
  ok(sinter_graph_add_node(g, SINTER_OP_DEQUANTIZE_LINEAR, "dq",
                           (sinter_value_t *[]){f.wq, f.wq_scale, NULL}, 3, 1, &f.dq),
     "dq");
  sinter_value_set_type(f.dq->outputs[0], &tw);
  ok(sinter_graph_add_output(g, f.topk->outputs[0]), "out");
  ok(sinter_graph_add_output(g, f.topk->outputs[1]), "out");
  ok(sinter_graph_add_output(g, f.dq->outputs[0]), "out");
  return f;
}

START_TEST(test_valid) {
  fx_t f = build();
  ok(sinter_graph_verify(f.g), "verify");
  /* Rewrites through the API keep the graph valid. */
  sinter_node_t *neg;
  ok(sinter_graph_insert_node(f.g, f.relu, SINTER_OP_NEG, "neg", &f.add->outputs[0], 1, 1, &neg),
     "insert");
  sinter_value_set_type(neg->outputs[0], &f.add->outputs[0]->type);
  ok(sinter_node_set_input(f.relu, 0, neg->outputs[0]), "set input");
  ok(sinter_graph_verify(f.g), "verify after insert");
  sinter_value_replace_all_uses(neg->outputs[0], f.add->outputs[0]);
  ok(sinter_graph_remove_node(f.g, neg), "remove");
  ok(sinter_graph_verify(f.g), "verify after remove");
  sinter_graph_destroy(f.g);
}
END_TEST

/* ---- SSA, order, use lists ---------------------------------------------------------- */

START_TEST(test_topo_order) {
  fx_t f = build();
  sinter_node_move_before(f.relu, f.mm);
  expect_fail(f.g, "node 'relu' (Relu): input 0 (#", "used before it is defined", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_cycle) {
  fx_t f = build();
  /* mm reads relu's output, which depends on mm: a cycle, use lists intact. */
  ok(sinter_node_set_input(f.mm, 0, f.relu->outputs[0]), "set input");
  expect_fail(f.g, "node 'mm' (MatMul): input 0 ('r') is used before it is defined", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_self_loop) {
  fx_t f = build();
  ok(sinter_node_set_input(f.relu, 0, f.relu->outputs[0]), "set input");
  expect_fail(f.g, "node 'relu' (Relu): input 0 ('r') is used before it is defined", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_missing_use) {
  fx_t f = build();
  f.b->n_uses = 0; /* Add still reads b */
  expect_fail(f.g, "node 'add' (Add): input 1 ('b') is missing from the use list", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_stale_use) {
  fx_t f = build();
  /* A use that says relu reads w, though relu reads add's output. */
  sinter_use_t *u = sinter_arena_alloc(&f.g->arena, sizeof(sinter_use_t) * 4, 8);
  memcpy(u, f.w->uses, sizeof(sinter_use_t) * (size_t)f.w->n_uses);
  u[f.w->n_uses].node = f.relu;
  u[f.w->n_uses].slot = 0;
  f.w->uses = u;
  f.w->cap_uses = 4;
  f.w->n_uses++;
  expect_fail(f.g, "value 'w'", "node 'relu' (Relu) reads it at input 0", "stale use", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_use_of_removed_node) {
  fx_t f = build();
  sinter_node_t *neg;
  ok(sinter_graph_add_node(f.g, SINTER_OP_NEG, "neg", &f.b, 1, 1, &neg), "add");
  ok(sinter_graph_remove_node(f.g, neg), "remove");
  /* Put the removed node's use back, as a buggy pass might forget to drop it. */
  f.b->uses[f.b->n_uses].node = neg;
  f.b->uses[f.b->n_uses].slot = 0;
  f.b->n_uses++;
  expect_fail(f.g, "value 'b': use 1 names a node that is not in the graph", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_duplicate_use) {
  fx_t f = build();
  sinter_use_t *u = sinter_arena_alloc(&f.g->arena, sizeof(sinter_use_t) * 4, 8);
  u[0] = f.b->uses[0];
  u[1] = f.b->uses[0];
  f.b->uses = u;
  f.b->cap_uses = 4;
  f.b->n_uses = 2;
  expect_fail(f.g, "value 'b'", "node 'add' (Add) input 1 is listed twice", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_input_from_other_graph) {
  fx_t f = build();
  sinter_graph_t *other;
  sinter_value_t *ov;
  ok(sinter_graph_create("other", &other), "create");
  sinter_type_t t = ty(SINTER_DTYPE_F32, 1, (int64_t[]){4});
  ok(sinter_graph_add_input(other, "alien", &t, &ov), "input");
  f.add->inputs[1] = ov; /* behind the API's back */
  expect_fail(f.g, "node 'add' (Add): input 1 ('alien') belongs to another graph", NULL);
  sinter_graph_destroy(other);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_removed_input_value) {
  fx_t f = build();
  f.b->removed = true;
  /* The const list still holds it, so the header check fires first. */
  expect_fail(f.g, "constant 'b' was removed", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_undefined_input_value) {
  fx_t f = build();
  /* An input value that is not in the graph's input list. */
  sinter_value_t *ghost = sinter_ir_new_value(f.g, SINTER_VALUE_INPUT, "ghost");
  ghost->type = f.b->type;
  ok(sinter_node_set_input(f.add, 1, ghost), "set input");
  expect_fail(f.g, "node 'add' (Add): input 1 ('ghost') is not defined in this graph", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_defined_twice) {
  fx_t f = build();
  /* relu claims add's output value as its own. */
  f.relu->outputs[0] = f.add->outputs[0];
  expect_fail(f.g, "node 'relu' (Relu): output 0", "names another producer", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  ok(sinter_graph_add_input(f.g, "x2", &f.x->type, NULL), "input");
  f.g->inputs[1] = f.x;
  expect_fail(f.g, "graph input 'x' is listed twice", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_broken_lists) {
  fx_t f = build();
  f.add->prev = NULL;
  expect_fail(f.g, "back links", "node 'add' (Add)", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.g->n_nodes = 3;
  expect_fail(f.g, "node list is longer than its count", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.relu->next = f.mm; /* a cycle in the list itself */
  expect_fail(f.g, NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.g->n_consts = 9;
  expect_fail(f.g, "constant list holds 5 constants, its count says 9", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

/* ---- graph outputs ------------------------------------------------------------------- */

START_TEST(test_outputs) {
  fx_t f = build();
  f.topk->outputs[1]->removed = true;
  expect_fail(f.g, "node 'topk' (TopK): output 1", "was removed", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.g->outputs[2] = f.relu->outputs[0]; /* without fixing the reference counts */
  expect_fail(f.g, "counts 0 graph output references, but the output list names it 1 times", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.g->outputs[0] = NULL;
  expect_fail(f.g, "graph output 0 is null", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  sinter_value_t *stray = sinter_ir_new_value(f.g, SINTER_VALUE_NODE, "stray");
  f.g->outputs[0] = stray;
  expect_fail(f.g, "graph output 0 ('stray') is not defined in this graph", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

/* ---- arity ------------------------------------------------------------------------------ */

START_TEST(test_arity) {
  fx_t f = build();
  ok(sinter_node_set_input(f.add, 1, NULL), "set input");
  expect_fail(f.g, "node 'add' (Add): required input 1 is missing", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.relu->n_inputs = 2;
  f.relu->inputs = (sinter_value_t *[]){f.add->outputs[0], f.b};
  expect_fail(f.g, "node 'relu' (Relu): takes 1 to 1 inputs, has 2", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.topk->n_outputs = 1;
  expect_fail(f.g, "node 'topk' (TopK): has 2 to 2 outputs, has 1", NULL);
  sinter_graph_destroy(f.g);

  /* A trailing omitted optional input is fine. */
  f = build();
  ok(sinter_graph_verify(f.g), "dq has a trailing NULL input");
  f.mm->op = (sinter_op_t)9999;
  expect_fail(f.g, "invalid op 9999", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

/* ---- types and constants ------------------------------------------------------------------ */

START_TEST(test_types) {
  fx_t f = build();
  f.add->outputs[0]->type.dtype = (sinter_dtype_t)99;
  expect_fail(f.g, "node 'add' (Add): output 0", "dtype 99 is not a valid dtype", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.x->type.rank = 9;
  expect_fail(f.g, "graph input 'x'", "rank 9 is outside -1..8", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.x->type.rank = -2;
  expect_fail(f.g, "rank -2", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.relu->outputs[0]->type.dims[1].size = -5;
  expect_fail(f.g, "output 0 ('r')", "dim 1 is -5", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.x->type.dims[0].sym = "N"; /* a literal, not interned in the graph */
  expect_fail(f.g, "graph input 'x'", "dim 0 has a symbol that is not interned", NULL);
  sinter_graph_destroy(f.g);

  /* Undefined dtypes and unknown ranks are allowed on values (not yet
   * inferred). */
  f = build();
  sinter_type_t u = {.dtype = SINTER_DTYPE_UNDEFINED, .rank = -1};
  sinter_value_set_type(f.relu->outputs[0], &u);
  ok(sinter_graph_verify(f.g), "undefined types are valid");
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_constants) {
  fx_t f = build();
  f.w->nbytes = 60;
  expect_fail(f.g, "constant 'w': holds 60 bytes of data, but f32[4,4] needs 64", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.w->type.dims[0].size = -1;
  expect_fail(f.g, "constant 'w': type f32[?,4] is not a static, sized type", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.w->type.dtype = SINTER_DTYPE_UNDEFINED;
  expect_fail(f.g, "constant 'w'", "not a static, sized type", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.w->data = NULL;
  expect_fail(f.g, "constant 'w': has no data", NULL);
  sinter_graph_destroy(f.g);

  /* Packed int4: 5 elements take 3 bytes. */
  f = build();
  sinter_type_t t4 = ty(SINTER_DTYPE_I4, 1, (int64_t[]){5});
  sinter_value_t *c;
  ok(sinter_graph_add_const(f.g, "p", &t4, (uint8_t[]){1, 2, 3}, 3, &c), "i4");
  ok(sinter_graph_verify(f.g), "i4 size");
  c->nbytes = 2;
  expect_fail(f.g, "constant 'p': holds 2 bytes of data, but i4[5] needs 3", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

/* ---- quant params -----------------------------------------------------------------------------
 */

static void quant_case(sinter_quant_params_t qp, const char *want) {
  fx_t f = build();
  sinter_quant_params_t *q = f.wq->quant;
  q->scheme = qp.scheme;
  q->bits = qp.bits;
  q->axis = qp.axis;
  q->group_size = qp.group_size;
  if (qp.count) { /* a new scale array: zero points go with it */
    q->count = qp.count;
    q->zero_points = qp.zero_points;
  } else if (qp.zero_points) {
    q->zero_points = qp.zero_points;
  }
  if (qp.scales) q->scales = qp.scales;
  if (want) {
    expect_fail(f.g, "constant 'wq'", want, NULL);
  } else {
    ok(sinter_graph_verify(f.g), "valid quant params");
  }
  sinter_graph_destroy(f.g);
}

#define PA SINTER_QUANT_PER_AXIS
#define PT SINTER_QUANT_PER_TENSOR
#define PG SINTER_QUANT_PER_GROUP

START_TEST(test_quant) {
  static const float one[1] = {1.f}, four[4] = {1, 1, 1, 1}, eight[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  static const int32_t zp_big[4] = {0, 200, 0, 0};
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 8}, NULL);
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 8, .axis = -2}, NULL);
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 7}, "quant bits is 7");
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 16}, "quant bits 16 do not fit in i8");
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 8, .count = 3},
             "per-axis quant params have 3 scales, but dim 0 is 4");
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 8, .axis = 2},
             "quant axis 2 is out of range for rank 2");
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 8, .scales = (float[]){1, -1, 1, 1}},
             "quant scale 1 is -1; scales must be finite and > 0");
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 8, .scales = (float[]){1, 1, NAN, 1}},
             "quant scale 2 is nan");
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 8, .scales = (float[]){0, 1, 1, 1}},
             "quant scale 0 is 0");
  quant_case((sinter_quant_params_t){.scheme = PA, .bits = 8, .zero_points = zp_big},
             "quant zero point 1 is 200, outside [-128, 127]");
  quant_case((sinter_quant_params_t){.scheme = PT, .bits = 8},
             "per-tensor quant params have 4 scales, expected 1");
  quant_case((sinter_quant_params_t){.scheme = PT, .bits = 8, .count = 1, .scales = one}, NULL);
  /* Per-group along axis 1 of [4,4] in groups of 2: 4 * 2 = 8 scales. */
  quant_case(
      (sinter_quant_params_t){
          .scheme = PG, .bits = 4, .axis = 1, .group_size = 2, .count = 8, .scales = eight},
      NULL);
  quant_case(
      (sinter_quant_params_t){
          .scheme = PG, .bits = 4, .axis = 1, .group_size = 2, .count = 4, .scales = four},
      "per-group quant params have 4 scales, but 8 are needed");
  quant_case((sinter_quant_params_t){.scheme = PG, .bits = 4, .axis = 1, .group_size = 0},
             "per-group quant params have group size 0");
  quant_case((sinter_quant_params_t){.scheme = (sinter_quant_scheme_t)7, .bits = 8},
             "quant scheme 7 is unknown");
  quant_case((sinter_quant_params_t){.scheme = SINTER_QUANT_NONE, .bits = 8},
             "quant scheme none carries 4 scales");
}
END_TEST

START_TEST(test_quant_unsigned_zero_points) {
  fx_t f = build();
  /* On a u8 graph input, zero points must lie in [0, 255]. */
  sinter_type_t tu = ty(SINTER_DTYPE_U8, 1, (int64_t[]){2});
  sinter_value_t *in;
  ok(sinter_graph_add_input(f.g, "u", &tu, &in), "input");
  sinter_quant_params_t qp = {.scheme = PT,
                              .bits = 8,
                              .count = 1,
                              .scales = (float[]){1.f},
                              .zero_points = (int32_t[]){255}};
  ok(sinter_value_set_quant(in, &qp), "quant");
  ok(sinter_graph_verify(f.g), "255 fits u8");
  qp.zero_points = (int32_t[]){-1};
  ok(sinter_value_set_quant(in, &qp), "quant");
  expect_fail(f.g, "graph input 'u'", "quant zero point 0 is -1, outside [0, 255]", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

/* ---- attributes and subgraphs -----------------------------------------------------------------
 */

START_TEST(test_attrs) {
  fx_t f = build();
  sinter_attr_t tmp = f.topk->attrs[0];
  f.topk->attrs[0] = f.topk->attrs[1];
  f.topk->attrs[1] = tmp;
  expect_fail(f.g, "node 'topk' (TopK): attributes are not sorted by name", NULL);
  sinter_graph_destroy(f.g);

  f = build();
  sinter_tensor_t t = {
      .dtype = SINTER_DTYPE_F32, .rank = 1, .dims = {3}, .data = (float[]){1, 2, 3}, .nbytes = 12};
  sinter_attr_t a = {.name = "value", .kind = SINTER_ATTR_TENSOR, .count = 1, .tensors = &t};
  ok(sinter_node_set_attr(f.relu, &a), "attr");
  ok(sinter_graph_verify(f.g), "tensor attr");
  ((sinter_tensor_t *)f.relu->attrs[0].tensors)[0].nbytes = 8;
  expect_fail(f.g,
              "node 'relu' (Relu): attribute 'value': tensor holds 8 bytes, but its type "
              "needs 12",
              NULL);
  sinter_graph_destroy(f.g);

  f = build();
  f.topk->attrs[0].kind = (sinter_attr_kind_t)42;
  expect_fail(f.g, "attribute 'axis' has unknown kind 42", NULL);
  sinter_graph_destroy(f.g);
}
END_TEST

START_TEST(test_subgraph) {
  fx_t f = build();
  sinter_graph_t *sub;
  ok(sinter_ir_subgraph_create(f.g, "body", &sub), "subgraph");
  sinter_type_t t = ty(SINTER_DTYPE_F32, 1, (int64_t[]){1});
  sinter_value_t *a;
  ok(sinter_graph_add_input(sub, "a", &t, &a), "input");
  sinter_node_t *n1, *n2;
  ok(sinter_graph_add_node(sub, SINTER_OP_NEG, "n1", &a, 1, 1, &n1), "n1");
  ok(sinter_graph_add_node(sub, SINTER_OP_ABS, "n2", &n1->outputs[0], 1, 1, &n2), "n2");
  ok(sinter_graph_add_output(sub, n2->outputs[0]), "output");
  sinter_attr_t ga = {.name = "body", .kind = SINTER_ATTR_GRAPH, .count = 1, .graphs = &sub};
  ok(sinter_node_set_attr(f.relu, &ga), "attr");
  ok(sinter_graph_verify(f.g), "valid subgraph");
  sinter_node_move_before(n2, n1);
  expect_fail(f.g, "node 'relu' (Relu): attribute 'body': subgraph 'body'",
              "node 'n2' (Abs): input 0", "used before it is defined", NULL);
  sinter_node_move_before(n1, n2);
  ok(sinter_graph_verify(f.g), "fixed again");
  /* A subgraph that belongs to another graph. */
  sinter_graph_t *stray;
  ok(sinter_graph_create("stray", &stray), "create");
  sinter_attr_t gb = {.name = "else", .kind = SINTER_ATTR_GRAPH, .count = 1, .graphs = &stray};
  ok(sinter_node_set_attr(f.relu, &gb), "attr");
  expect_fail(f.g, "attribute 'else': subgraph 'stray' is not owned by this graph", NULL);
  sinter_graph_destroy(stray);
  sinter_graph_destroy(f.g);
}
END_TEST

/* ---- inferred types ----------------------------------------------------------------------------
 */

START_TEST(test_verify_types) {
  const sinter_op_impl_t *impl = sinter_op_impl(SINTER_OP_RELU);
  if (!impl || !impl->infer) {
    fprintf(stderr, "test_verify_types: Relu has no shape inference yet, skipped\n");
    return;
  }
  fx_t f = build();
  ok(sinter_graph_verify(f.g), "verify");
  /* x is f32[N,4]; Relu of add's f32[N,4] output cannot be f32[N,5]. */
  ok(sinter_ir_verify_types(f.g), "stored types agree with inference");
  f.relu->outputs[0]->type.dims[1].size = 5;
  sinter_status_t st = sinter_ir_verify_types(f.g);
  ck_assert_ptr_nonnull(st);
  ck_assert_msg(strstr(sinter_status_message(st),
                       "node 'relu' (Relu): output 0 is stored as "
                       "f32[N,5], but inference gives f32[") != NULL,
                "%s", sinter_status_message(st));
  sinter_status_free(st);
  f.relu->outputs[0]->type.dims[1].size = 4;
  f.relu->outputs[0]->type.dtype = SINTER_DTYPE_I32;
  st = sinter_ir_verify_types(f.g);
  ck_assert_ptr_nonnull(st);
  sinter_status_free(st);
  sinter_graph_destroy(f.g);
}
END_TEST

static Suite *verify_suite(void) {
  Suite *s = suite_create("verify");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_valid);
  tcase_add_test(tc, test_topo_order);
  tcase_add_test(tc, test_cycle);
  tcase_add_test(tc, test_self_loop);
  tcase_add_test(tc, test_missing_use);
  tcase_add_test(tc, test_stale_use);
  tcase_add_test(tc, test_use_of_removed_node);
  tcase_add_test(tc, test_duplicate_use);
  tcase_add_test(tc, test_input_from_other_graph);
  tcase_add_test(tc, test_removed_input_value);
  tcase_add_test(tc, test_undefined_input_value);
  tcase_add_test(tc, test_defined_twice);
  tcase_add_test(tc, test_broken_lists);
  tcase_add_test(tc, test_outputs);
  tcase_add_test(tc, test_arity);
  tcase_add_test(tc, test_types);
  tcase_add_test(tc, test_constants);
  tcase_add_test(tc, test_quant);
  tcase_add_test(tc, test_quant_unsigned_zero_points);
  tcase_add_test(tc, test_attrs);
  tcase_add_test(tc, test_subgraph);
  tcase_add_test(tc, test_verify_types);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return run_suite(verify_suite());
}
