/* A hand-written artifact implementing the ABI of sinter/artifact.h, for the
 * runtime's tests: y = relu(x·W + b) and its row argmax, with a dynamic batch.
 * Variants: -DFAKE_ABI_VERSION=N claims another ABI version, -DFAKE_ARENA_CALLBACK
 * sizes the arena with the callback, -DFAKE_BAD_DIM declares a malformed shape. */
#include <stdint.h>
#include <string.h>

#include "sinter/artifact.h"

#ifndef FAKE_ABI_VERSION
#define FAKE_ABI_VERSION SINTER_ARTIFACT_ABI_VERSION
#endif

/* Kept in sync by hand with the expectations in tests/unit/test_runtime.c. */
static const float W[4][3] = {
    {0.5f, -1.0f, 2.0f}, {1.0f, 0.25f, -0.5f}, {-2.0f, 1.5f, 0.0f}, {0.75f, 0.0f, 1.0f}};
static const float B[3] = {0.1f, -0.2f, 0.3f};

enum { FIXED_BYTES = 64, ROW_BYTES = 3 * sizeof(float) };

typedef struct {
  const float *x;
  float *y;
  int64_t *argmax;
  float *pre; /* pre-activations in the arena, 3 per row */
  const sinter_art_exec_t *exec;
} ctx_t;

typedef struct {
  const ctx_t *c;
  int64_t row;
} row_ctx_t;

/* One output column of one row: exercises a nested parallel_for. */
static void column_task(void *arg, int64_t begin, int64_t end) {
  const row_ctx_t *r = arg;
  const float *x = r->c->x + r->row * 4;
  for (int64_t j = begin; j < end; j++) {
    float acc = B[j];
    for (int k = 0; k < 4; k++) acc += x[k] * W[k][j];
    r->c->pre[r->row * 3 + j] = acc;
  }
}

static void row_task(void *arg, int64_t begin, int64_t end) {
  const ctx_t *c = arg;
  for (int64_t i = begin; i < end; i++) {
    row_ctx_t r = {c, i};
    c->exec->parallel_for(c->exec, 3, 1, column_task, &r);
    int64_t best = 0;
    for (int j = 0; j < 3; j++) {
      float v = c->pre[i * 3 + j];
      c->y[i * 3 + j] = v > 0.0f ? v : 0.0f;
      if (c->y[i * 3 + j] > c->y[i * 3 + best]) best = j;
    }
    c->argmax[i] = best;
  }
}

static int fake_run(const void *const *inputs, void *const *outputs, void *arena, int64_t batch,
                    const sinter_art_exec_t *exec) {
  if (batch < 1 || !exec || exec->struct_size < sizeof(sinter_art_exec_t)) return 1;
  if ((uintptr_t)arena % 64 != 0) return 2;
  /* Touch the whole arena, so a short one shows up under ASan. */
  memset(arena, 0xA5, FIXED_BYTES + (size_t)batch * ROW_BYTES);
  ctx_t c = {inputs[0], outputs[0], outputs[1], (float *)((char *)arena + FIXED_BYTES), exec};
  exec->parallel_for(exec, batch, 1, row_task, &c);
  return 0;
}

static const sinter_art_tensor_t fake_inputs[] = {
    {"x", SINTER_ART_F32, 2, {SINTER_ART_DYNAMIC, 4}},
};
#ifdef FAKE_BAD_DIM
#define Y_DIM1 (-3)
#else
#define Y_DIM1 3
#endif
static const sinter_art_tensor_t fake_outputs[] = {
    {"y", SINTER_ART_F32, 2, {SINTER_ART_DYNAMIC, Y_DIM1}},
    {"argmax", SINTER_ART_I64, 1, {SINTER_ART_DYNAMIC}},
};

#ifdef FAKE_ARENA_CALLBACK
static uint64_t fake_arena_size(int64_t batch, int *out_ok) {
  *out_ok = batch >= 1 && batch < (INT64_MAX - FIXED_BYTES) / ROW_BYTES;
  return *out_ok ? FIXED_BYTES + (uint64_t)batch * ROW_BYTES : 0;
}
#define ARENA_FIXED 0
#define ARENA_PER_BATCH 0
#define ARENA_SIZE fake_arena_size
#else
#define ARENA_FIXED FIXED_BYTES
#define ARENA_PER_BATCH ROW_BYTES
#define ARENA_SIZE NULL
#endif

__attribute__((visibility("default"))) const sinter_artifact_t sinter_artifact = {
    .abi_version = FAKE_ABI_VERSION,
    .struct_size = sizeof(sinter_artifact_t),
    .model_name = "fake_linear_relu",
    .recipe = "hand-written",
    .num_inputs = 1,
    .num_outputs = 2,
    .inputs = fake_inputs,
    .outputs = fake_outputs,
    .arena_fixed = ARENA_FIXED,
    .arena_per_batch = ARENA_PER_BATCH,
    .arena_size = ARENA_SIZE,
    .arena_align = 64,
    .run = fake_run,
};
