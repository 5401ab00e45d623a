/* The CPU code generator: lowers a graph with static shapes into one LLVM
 * module whose entry calls the kernel library (codegen/kernels/) with constant
 * shapes, packed weights and arena offsets, runs LLVM's O3 pipeline for the
 * chosen CPU, emits an object file and links it into a shared library that
 * exports one artifact descriptor (include/sinter/artifact.h). See
 * docs/codegen.md. */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/kernels/kernels.h"
#include "codegen/llvm_util.h"
#include "ir/interp/k_nn_internal.h"
#include "ir/interp/kernels.h"
#include "sinter/artifact.h"
#include "sinter/codegen.h"
#include "sinter/tensor_io.h"

extern char **environ;

/* CPU feature bits that change which kernels are called. */
enum { F_AVX2 = 1, F_AVX512 = 2, F_VNNI = 4, F_AMX = 8 };

typedef struct cpu_entry_s {
  const char *name;
  unsigned feats;
} cpu_entry_t;

/* CPUs --cpu accepts by name (LLVM knows many more; these are the ones whose
 * kernel choice is known here). */
static const cpu_entry_t known_cpus[] = {
    {"x86-64", 0},
    {"x86-64-v2", 0},
    {"x86-64-v3", F_AVX2},
    {"x86-64-v4", F_AVX2 | F_AVX512},
    {"haswell", F_AVX2},
    {"skylake", F_AVX2},
    {"alderlake", F_AVX2},
    {"znver2", F_AVX2},
    {"znver3", F_AVX2},
    {"skylake-avx512", F_AVX2 | F_AVX512},
    {"cascadelake", F_AVX2 | F_AVX512 | F_VNNI},
    {"icelake-server", F_AVX2 | F_AVX512 | F_VNNI},
    {"tigerlake", F_AVX2 | F_AVX512 | F_VNNI},
    {"znver4", F_AVX2 | F_AVX512 | F_VNNI},
    {"znver5", F_AVX2 | F_AVX512 | F_VNNI},
    {"sapphirerapids", F_AVX2 | F_AVX512 | F_VNNI | F_AMX},
    {"emeraldrapids", F_AVX2 | F_AVX512 | F_VNNI | F_AMX},
    {"graniterapids", F_AVX2 | F_AVX512 | F_VNNI | F_AMX},
};

/* Applies "+feat,-feat" items of an LLVM feature string to flags. */
static unsigned apply_features(unsigned flags, const char *features) {
  static const struct {
    const char *name;
    unsigned bit;
  } map[] = {{"avx2", F_AVX2}, {"avx512f", F_AVX512}, {"avx512vnni", F_VNNI}, {"amx-int8", F_AMX}};
  for (const char *p = features; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > 1 && (p[0] == '+' || p[0] == '-'))
      for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].name) == len - 1 && !strncmp(p + 1, map[i].name, len - 1))
          flags = p[0] == '+' ? flags | map[i].bit : flags & ~map[i].bit;
    p = end ? end + 1 : p + len;
  }
  /* VNNI kernels also use AVX512BW/VL; AMX needs its tile feature. */
  if (!(flags & F_AVX512)) flags &= ~(unsigned)(F_VNNI | F_AMX);
  return flags;
}

/* ---- code generator state --------------------------------------------------------------- */

typedef struct blob_s {
  const sinter_value_t *key; /* the constant it holds unchanged, or NULL (packed) */
  LLVMValueRef global;       /* embedded: the global; external: NULL */
  uint64_t offset;           /* external: offset in the weights file */
} blob_t;

typedef struct cg_s {
  sinter_graph_t *g;
  const sinter_cpu_options_t *opts;
  unsigned feats;
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTypeRef i8, i32, i64, f32, ptr, voidt;
  LLVMValueRef fn;                              /* the internal entry */
  LLVMValueRef p_inputs, p_outputs, p_arena, p_exec, p_weights, v_b;
  sinter_memplan_t *plan;
  uint64_t scratch_off, scratch_max;
  blob_t *blobs;
  int32_t n_blobs, cap_blobs;
  /* External weights: the file's contents, built in memory. */
  unsigned char *wbuf;
  uint64_t wlen, wcap;
  uint64_t embedded_bytes;
  int32_t n_globals;
  int64_t *in_sample_bytes, *out_sample_bytes;
  /* Profiling (opts->profile): the per-node ns counters, the node names, and
   * the timespec slot of the entry. */
  LLVMValueRef prof_ns, prof_names, prof_ts;
  int32_t n_prof;
} cg_t;

#define NODE_ERR(node, code, ...) node_error((node), (code), __FILE__, __LINE__, __VA_ARGS__)

static sinter_status_t node_error(const sinter_node_t *node, sinter_status_code_t code,
                                  const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static sinter_status_t node_error(const sinter_node_t *node, sinter_status_code_t code,
                                  const char *file, int line, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *name = sinter_node_name(node);
  const sinter_value_t *out = sinter_node_num_outputs(node) ? sinter_node_output(node, 0) : NULL;
  if ((!name || !*name) && out)
    return sinter_status_make(code, file, line, "node producing '%s' (%s): %s",
                              sinter_value_name(out), sinter_op_info(sinter_node_op(node))->name,
                              msg);
  return sinter_status_make(code, file, line, "node '%s' (%s): %s", name ? name : "",
                            sinter_op_info(sinter_node_op(node))->name, msg);
}

/* ---- LLVM value helpers ----------------------------------------------------------------- */

static LLVMValueRef ci64(cg_t *cg, int64_t v) {
  return LLVMConstInt(cg->i64, (unsigned long long)v, 1);
}
static LLVMValueRef ci32(cg_t *cg, int64_t v) {
  return LLVMConstInt(cg->i32, (unsigned long long)v, 1);
}
static LLVMValueRef cf32(cg_t *cg, double v) { return LLVMConstReal(cg->f32, v); }
static LLVMValueRef cnull(cg_t *cg) { return LLVMConstNull(cg->ptr); }

static LLVMValueRef gep(cg_t *cg, LLVMValueRef base, LLVMValueRef off) {
  return LLVMBuildGEP2(cg->b, cg->i8, base, &off, 1, "");
}

/* A private constant global holding n bytes, 64-byte aligned. */
static LLVMValueRef const_global(cg_t *cg, const void *data, size_t n, const char *prefix) {
  char name[64];
  snprintf(name, sizeof name, "%s.%d", prefix, cg->n_globals++);
  LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, data, n, 1);
  LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
  LLVMSetAlignment(g, 64);
  return g;
}

/* A pointer to a constant array of int64 (shapes, strides, offsets). These
 * stay in the module, so LLVM folds their loads after inlining. */
static LLVMValueRef const_i64s(cg_t *cg, const int64_t *v, int32_t n) {
  if (n == 0) {
    int64_t zero = 0;
    return const_global(cg, &zero, sizeof zero, "dims");
  }
  return const_global(cg, v, (size_t)n * sizeof(int64_t), "dims");
}

/* Registers weight bytes: embedded as a global, or appended to the weights
 * file at a 64-byte aligned offset. Returns the blob index. */
static sinter_status_t add_blob(cg_t *cg, const sinter_value_t *key, const void *data, size_t n,
                                int32_t *out) {
  if (cg->n_blobs == cg->cap_blobs) {
    int32_t cap = cg->cap_blobs ? cg->cap_blobs * 2 : 64;
    blob_t *nb = realloc(cg->blobs, (size_t)cap * sizeof *nb);
    if (!nb) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "weight table");
    cg->blobs = nb;
    cg->cap_blobs = cap;
  }
  blob_t *bl = &cg->blobs[cg->n_blobs];
  memset(bl, 0, sizeof *bl);
  bl->key = key;
  if (!cg->opts->weights_external) {
    bl->global = const_global(cg, data, n ? n : 1, "w");
    cg->embedded_bytes += n;
  } else {
    uint64_t off = (cg->wlen + 63) & ~(uint64_t)63;
    uint64_t need = off + n;
    if (need > cg->wcap) {
      uint64_t cap = cg->wcap ? cg->wcap : 1 << 20;
      while (cap < need) cap *= 2;
      unsigned char *nb = realloc(cg->wbuf, cap);
      if (!nb) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "weights file of %llu bytes",
                                   (unsigned long long)need);
      cg->wbuf = nb;
      cg->wcap = cap;
    }
    memset(cg->wbuf + cg->wlen, 0, off - cg->wlen);
    if (n) memcpy(cg->wbuf + off, data, n);
    cg->wlen = need;
    bl->offset = off;
  }
  *out = cg->n_blobs++;
  return NULL;
}

static LLVMValueRef blob_ptr(cg_t *cg, int32_t i) {
  const blob_t *bl = &cg->blobs[i];
  if (bl->global) return bl->global;
  return gep(cg, cg->p_weights, ci64(cg, (int64_t)bl->offset));
}

/* Adds packed weights (owned by the caller) and returns a pointer to them. */
static sinter_status_t packed_ptr(cg_t *cg, const void *data, size_t n, LLVMValueRef *out) {
  int32_t i;
  SINTER_TRY(add_blob(cg, NULL, data, n, &i));
  *out = blob_ptr(cg, i);
  return NULL;
}

static int32_t io_index(const sinter_graph_t *g, const sinter_value_t *v, bool outputs) {
  int32_t n = outputs ? sinter_graph_num_outputs(g) : sinter_graph_num_inputs(g);
  for (int32_t i = 0; i < n; i++)
    if ((outputs ? sinter_graph_output(g, i) : sinter_graph_input(g, i)) == v) return i;
  return -1;
}

/* The address of value v inside the batch loop. */
static sinter_status_t value_ptr(cg_t *cg, const sinter_value_t *v, LLVMValueRef *out) {
  if (!v) {
    *out = cnull(cg);
    return NULL;
  }
  if (sinter_value_kind(v) == SINTER_VALUE_CONST) {
    for (int32_t i = 0; i < cg->n_blobs; i++)
      if (cg->blobs[i].key == v) {
        *out = blob_ptr(cg, i);
        return NULL;
      }
    size_t n = 0;
    const void *data = sinter_value_data(v, &n);
    int32_t i;
    SINTER_TRY(add_blob(cg, v, data, n, &i));
    *out = blob_ptr(cg, i);
    return NULL;
  }
  int32_t oi = io_index(cg->g, v, true);
  if (oi >= 0 || sinter_value_kind(v) == SINTER_VALUE_INPUT) {
    bool is_out = oi >= 0;
    int32_t idx = is_out ? oi : io_index(cg->g, v, false);
    LLVMValueRef slot = LLVMBuildGEP2(cg->b, cg->ptr, is_out ? cg->p_outputs : cg->p_inputs,
                                      (LLVMValueRef[]){ci64(cg, idx)}, 1, "");
    LLVMValueRef base = LLVMBuildLoad2(cg->b, cg->ptr, slot, sinter_value_name(v));
    int64_t per = is_out ? cg->out_sample_bytes[idx] : cg->in_sample_bytes[idx];
    *out = gep(cg, base, LLVMBuildMul(cg->b, cg->v_b, ci64(cg, per), ""));
    return NULL;
  }
  size_t off, size;
  if (!sinter_memplan_offset(cg->plan, v, &off, &size))
    return SINTER_ERROR(SINTER_INTERNAL, "value '%s' has no place in the memory plan",
                        sinter_value_name(v));
  *out = gep(cg, cg->p_arena, ci64(cg, (int64_t)off));
  return NULL;
}

static LLVMValueRef scratch_ptr(cg_t *cg, uint64_t bytes) {
  if (bytes > cg->scratch_max) cg->scratch_max = bytes;
  return gep(cg, cg->p_arena, ci64(cg, (int64_t)cg->scratch_off));
}

/* Calls kernel name with args, checking count and types against its
 * definition in the kernel library (a mismatch is a Sinter bug). */
static sinter_status_t call_kernel(cg_t *cg, const char *name, LLVMValueRef *args, unsigned n) {
  LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
  if (!fn || LLVMIsDeclaration(fn))
    return SINTER_ERROR(SINTER_INTERNAL, "kernel %s is missing from the kernel library", name);
  LLVMTypeRef fty = LLVMGlobalGetValueType(fn);
  unsigned np = LLVMCountParamTypes(fty);
  if (np != n)
    return SINTER_ERROR(SINTER_INTERNAL, "kernel %s takes %u arguments, codegen passes %u", name,
                        np, n);
  LLVMTypeRef pt[64];
  if (np > 64) return SINTER_ERROR(SINTER_INTERNAL, "kernel %s: too many parameters", name);
  LLVMGetParamTypes(fty, pt);
  for (unsigned i = 0; i < n; i++)
    if (LLVMTypeOf(args[i]) != pt[i])
      return SINTER_ERROR(SINTER_INTERNAL, "kernel %s: argument %u has the wrong type", name, i);
  /* Kernel entries are dispatchers over plans chosen from the shape; inlined
   * with constant shapes, the plan folds and the unused plans' code is
   * dropped before O3 (see compile_module), which keeps compile time low. */
  unsigned ai = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, ai, 0));
  LLVMBuildCall2(cg->b, fty, fn, args, n, "");
  return NULL;
}

/* ---- shapes ----------------------------------------------------------------------------- */

static const sinter_type_t *vtype(const sinter_value_t *v) { return sinter_value_type(v); }

static int64_t numel(const sinter_value_t *v) {
  int64_t n = 1;
  const sinter_type_t *t = vtype(v);
  for (int32_t i = 0; i < t->rank; i++) n *= t->dims[i].size;
  return n;
}

static int64_t dim(const sinter_value_t *v, int32_t i) {
  const sinter_type_t *t = vtype(v);
  if (i < 0) i += t->rank;
  return t->dims[i].size;
}

static int64_t elem_size(sinter_dtype_t dt) {
  size_t n = 0;
  return sinter_dtype_storage_size(dt, 1, &n) ? (int64_t)n : 0;
}

/* Row-major strides of type t (in elements). */
static void contiguous_strides(const sinter_type_t *t, int64_t *s) {
  int64_t acc = 1;
  for (int32_t i = t->rank - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= t->dims[i].size;
  }
}

/* Strides of in broadcast to out's shape (NumPy rules, aligned right). */
static void broadcast_strides(const sinter_type_t *in, const sinter_type_t *out, int64_t *s) {
  int64_t cs[SINTER_MAX_RANK];
  contiguous_strides(in, cs);
  for (int32_t i = 0; i < out->rank; i++) {
    int32_t j = i - (out->rank - in->rank);
    s[i] = (j < 0 || in->dims[j].size == 1) ? 0 : cs[j];
  }
}

/* Whether anything reads v: a node or the caller (a graph output). */
static bool is_used(const sinter_value_t *v) {
  return v && (sinter_value_num_uses(v) > 0 || sinter_value_is_graph_output(v));
}

static bool is_const(const sinter_value_t *v) {
  return v && sinter_value_kind(v) == SINTER_VALUE_CONST;
}

/* A constant scalar (one element) as double, of any numeric dtype. */
static bool const_scalar(const sinter_value_t *v, double *out) {
  if (!is_const(v) || numel(v) != 1) return false;
  size_t n = 0;
  const void *d = sinter_value_data(v, &n);
  switch (vtype(v)->dtype) {
    case SINTER_DTYPE_F32: *out = *(const float *)d; return true;
    case SINTER_DTYPE_F64: *out = *(const double *)d; return true;
    case SINTER_DTYPE_I64: *out = (double)*(const int64_t *)d; return true;
    case SINTER_DTYPE_I32: *out = *(const int32_t *)d; return true;
    case SINTER_DTYPE_I8: *out = *(const int8_t *)d; return true;
    case SINTER_DTYPE_U8: *out = *(const uint8_t *)d; return true;
    default: return false;
  }
}

/* Element i of a constant integer tensor (i64 or i32). */
static int64_t const_int_at(const sinter_value_t *v, int64_t i) {
  size_t n = 0;
  const void *d = sinter_value_data(v, &n);
  return vtype(v)->dtype == SINTER_DTYPE_I64 ? ((const int64_t *)d)[i] : ((const int32_t *)d)[i];
}

/* Element i of a constant zero-point/quantized tensor (u8, i8 or i32). */
static int32_t const_q_at(const sinter_value_t *v, int64_t i) {
  size_t n = 0;
  const void *d = sinter_value_data(v, &n);
  switch (vtype(v)->dtype) {
    case SINTER_DTYPE_U8: return ((const uint8_t *)d)[i];
    case SINTER_DTYPE_I8: return ((const int8_t *)d)[i];
    case SINTER_DTYPE_I32: return ((const int32_t *)d)[i];
    default: return 0;
  }
}

static float const_f32_at(const sinter_value_t *v, int64_t i) {
  size_t n = 0;
  return ((const float *)sinter_value_data(v, &n))[i];
}

/* ---- activations ------------------------------------------------------------------------ */

typedef struct act_s {
  int32_t act;
  float p0, p1;
} act_t;

/* Reads the fused epilogue attributes (docs/ops-sinter.md, "The epilogue"). */
static sinter_status_t read_epilogue(const sinter_node_t *node, act_t *a) {
  a->act = SINTER_K_ACT_NONE;
  a->p0 = a->p1 = 0;
  const char *name = sinter_node_attr_string(node, "activation", NULL);
  if (!name || !*name) return NULL;
  int64_t np = 0;
  const sinter_attr_t *pa = sinter_node_attr(node, "activation_params");
  const float *p = pa ? pa->floats : NULL;
  np = pa ? pa->count : 0;
  static const struct {
    const char *name;
    int32_t act;
    float d0, d1;
  } acts[] = {{"Relu", SINTER_K_ACT_RELU, 0, 0},
              {"Clip", SINTER_K_ACT_CLIP, -INFINITY, INFINITY},
              {"LeakyRelu", SINTER_K_ACT_LEAKY_RELU, 0.01f, 0},
              {"Sigmoid", SINTER_K_ACT_SIGMOID, 0, 0},
              {"HardSigmoid", SINTER_K_ACT_HARD_SIGMOID, 0.2f, 0.5f},
              {"HardSwish", SINTER_K_ACT_HARD_SWISH, 0, 0},
              {"Gelu", SINTER_K_ACT_GELU, 0, 0},
              {"Silu", SINTER_K_ACT_SILU, 0, 0},
              {"Tanh", SINTER_K_ACT_TANH, 0, 0}};
  for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
    if (!strcmp(name, acts[i].name)) {
      a->act = acts[i].act;
      a->p0 = np > 0 ? p[0] : acts[i].d0;
      a->p1 = np > 1 ? p[1] : acts[i].d1;
      if (a->act == SINTER_K_ACT_GELU &&
          !strcmp(sinter_node_attr_string(node, "approximate", "none"), "tanh"))
        a->act = SINTER_K_ACT_GELU_TANH;
      return NULL;
    }
  return NODE_ERR(node, SINTER_UNSUPPORTED, "unknown fused activation '%s'", name);
}

/* ---- lowering: helpers shared by several ops -------------------------------------------- */

static sinter_status_t require_f32(const sinter_node_t *node, const sinter_value_t *v) {
  if (vtype(v)->dtype != SINTER_DTYPE_F32)
    return NODE_ERR(node, SINTER_UNSUPPORTED,
                    "the CPU code generator handles this op on f32 only, '%s' is %s",
                    sinter_value_name(v), sinter_dtype_name(vtype(v)->dtype));
  return NULL;
}

/* dst (dims of out) = src viewed with strides, element size es, offset in elements. */
static sinter_status_t emit_copy(cg_t *cg, int64_t es, int32_t rank, const int64_t *dims,
                                 LLVMValueRef src, int64_t src_off, const int64_t *src_strides,
                                 LLVMValueRef dst, int64_t dst_off, const int64_t *dst_strides) {
  LLVMValueRef args[] = {ci64(cg, es),
                         ci32(cg, rank),
                         const_i64s(cg, dims, rank),
                         gep(cg, src, ci64(cg, src_off * es)),
                         const_i64s(cg, src_strides, rank),
                         gep(cg, dst, ci64(cg, dst_off * es)),
                         const_i64s(cg, dst_strides, rank),
                         cg->p_exec};
  return call_kernel(cg, "sinter_k_copy_strided", args, 8);
}

/* A whole-tensor byte copy (Reshape and friends). */
static sinter_status_t emit_memcpy(cg_t *cg, const sinter_value_t *in, const sinter_value_t *out) {
  LLVMValueRef src, dst;
  SINTER_TRY(value_ptr(cg, in, &src));
  SINTER_TRY(value_ptr(cg, out, &dst));
  int64_t bytes = numel(out) * elem_size(vtype(out)->dtype);
  if (bytes > 0) LLVMBuildMemCpy(cg->b, dst, 1, src, 1, ci64(cg, bytes));
  return NULL;
}

/* ---- lowering: convolution and GEMM ----------------------------------------------------- */

/* The geometry of a convolution node with X at input 0 and W at input w_index
 * (1 for Conv and FusedConv, 3 for QLinearConvAct). */
static sinter_status_t conv_shape(const sinter_node_t *node, int32_t w_index,
                                  sinter_k_conv_shape_t *s) {
  const sinter_value_t *x = sinter_node_input(node, 0), *w = sinter_node_input(node, w_index);
  const sinter_value_t *y = sinter_node_output(node, 0);
  int32_t nd = vtype(x)->rank - 2;
  if (nd < 1 || nd > 2)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "only 1-D and 2-D convolution is compiled");
  int64_t wk[2] = {dim(w, 2), nd == 2 ? dim(w, 3) : 0};
  nn_window_t win;
  SINTER_TRY(sinter_nn_read_window(node, nd, wk, false, &win));
  nn_geom_t geo;
  int64_t ins[2] = {dim(x, 2), nd == 2 ? dim(x, 3) : 0};
  SINTER_TRY(sinter_nn_forward_geom(&win, ins, &geo));
  memset(s, 0, sizeof *s);
  s->C = dim(x, 1);
  s->M = dim(w, 0);
  s->H = geo.in[1], s->W = geo.in[2];
  s->OH = geo.out[1], s->OW = geo.out[2];
  s->KH = geo.k[1], s->KW = geo.k[2];
  s->stride_h = geo.s[1], s->stride_w = geo.s[2];
  s->dil_h = geo.d[1], s->dil_w = geo.d[2];
  s->pad_t = geo.pb[1], s->pad_l = geo.pb[2], s->pad_b = geo.pe[1], s->pad_r = geo.pe[2];
  s->group = sinter_node_attr_int(node, "group", 1);
  if (s->group < 1 || s->C % s->group || s->M % s->group || dim(w, 1) * s->group != s->C)
    return NODE_ERR(node, SINTER_INVALID_MODEL, "group %lld does not divide the channels",
                    (long long)s->group);
  if (dim(x, 0) * s->OH * s->OW * s->M != numel(y))
    return NODE_ERR(node, SINTER_INTERNAL, "output size disagrees with the geometry");
  return NULL;
}

/* The address of image i of a [N, ...] tensor at p (bytes per image). */
static LLVMValueRef image_ptr(cg_t *cg, LLVMValueRef p, int64_t i, int64_t bytes) {
  return i == 0 || LLVMIsNull(p) ? p : gep(cg, p, ci64(cg, i * bytes));
}

/* Two convs that the kernels run as one call: a pointwise conv and the
 * depthwise conv after it (sinter_k_conv2d_pw_dw_f32), or a depthwise conv
 * and the pointwise conv after it (sinter_k_conv2d_dw_pw_f32). a's output
 * feeds only the next node b; both are f32 with constant weights, one image,
 * and only the second may take a residual Z. */
typedef enum { PAIR_NONE, PAIR_PW_DW, PAIR_DW_PW } pair_kind_t;

static pair_kind_t fused_pair(const sinter_node_t *a, const sinter_node_t **out_b) {
  const sinter_node_t *b = sinter_node_next(a);
  if (!b) return PAIR_NONE;
  const sinter_node_t *n[2] = {a, b};
  sinter_k_conv_shape_t s[2];
  act_t e[2];
  for (int i = 0; i < 2; i++) {
    sinter_op_t op = sinter_node_op(n[i]);
    int32_t nin = sinter_node_num_inputs(n[i]);
    if ((op != SINTER_OP_CONV && op != SINTER_OP_FUSED_CONV) || nin < 2 || nin > 3 + i ||
        sinter_node_num_outputs(n[i]) != 1)
      return PAIR_NONE;
    const sinter_value_t *x = sinter_node_input(n[i], 0), *w = sinter_node_input(n[i], 1);
    if (vtype(x)->dtype != SINTER_DTYPE_F32 || vtype(x)->rank != 4 || dim(x, 0) != 1 ||
        !is_const(w))
      return PAIR_NONE;
    if (nin > 2 && sinter_node_input(n[i], 2) && !is_const(sinter_node_input(n[i], 2)))
      return PAIR_NONE;
    e[i] = (act_t){0};
    if (op == SINTER_OP_FUSED_CONV && read_epilogue(n[i], &e[i])) return PAIR_NONE;
    if (conv_shape(n[i], 1, &s[i])) return PAIR_NONE;
  }
  const sinter_value_t *mid = sinter_node_output(a, 0);
  if (sinter_node_input(b, 0) != mid || sinter_value_num_uses(mid) != 1 ||
      sinter_value_is_graph_output(mid))
    return PAIR_NONE;
  *out_b = b;
  if (sinter_node_num_inputs(b) <= 3 &&
      sinter_k_conv2d_pw_dw_f32_fusable(&s[0], e[0].act, &s[1], e[1].act))
    return PAIR_PW_DW;
  if (sinter_k_conv2d_dw_pw_f32_fusable(&s[0], e[0].act, &s[1], e[1].act)) return PAIR_DW_PW;
  return PAIR_NONE;
}

static bool joins_next(void *user, const sinter_node_t *node) {
  (void)user;
  const sinter_node_t *b;
  return fused_pair(node, &b) != PAIR_NONE;
}

/* Packs a conv's weights for sinter_k_conv2d_f32 into a blob. */
static sinter_status_t conv_weights(cg_t *cg, const sinter_node_t *node,
                                    const sinter_k_conv_shape_t *s, LLVMValueRef *out) {
  size_t psize = sinter_k_conv2d_f32_packed_size(s);
  float *packed = aligned_alloc(64, (psize + 63) & ~(size_t)63);
  if (!packed) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "packing conv weights");
  size_t wn = 0;
  sinter_k_conv2d_f32_pack(s, sinter_value_data(sinter_node_input(node, 1), &wn), packed);
  sinter_status_t st = packed_ptr(cg, packed, psize, out);
  free(packed);
  return st;
}

static sinter_status_t lower_pair(cg_t *cg, pair_kind_t kind, const sinter_node_t *a,
                                  const sinter_node_t *b) {
  const sinter_node_t *n[2] = {a, b};
  sinter_k_conv_shape_t s[2];
  act_t e[2] = {{0}, {0}};
  LLVMValueRef w[2], bias[2], shape[2];
  for (int i = 0; i < 2; i++) {
    if (sinter_node_op(n[i]) == SINTER_OP_FUSED_CONV) SINTER_TRY(read_epilogue(n[i], &e[i]));
    SINTER_TRY(conv_shape(n[i], 1, &s[i]));
    SINTER_TRY(conv_weights(cg, n[i], &s[i], &w[i]));
    SINTER_TRY(value_ptr(cg, sinter_node_num_inputs(n[i]) > 2 ? sinter_node_input(n[i], 2) : NULL,
                         &bias[i]));
    shape[i] = const_i64s(cg, (const int64_t *)&s[i], sizeof s[i] / sizeof(int64_t));
  }
  LLVMValueRef px, pm, py;
  SINTER_TRY(value_ptr(cg, sinter_node_input(a, 0), &px));
  SINTER_TRY(value_ptr(cg, sinter_node_output(a, 0), &pm));
  SINTER_TRY(value_ptr(cg, sinter_node_output(b, 0), &py));
  if (kind == PAIR_PW_DW) {
    LLVMValueRef args[] = {shape[0], shape[1], px, w[0], bias[0], ci32(cg, e[0].act),
                           cf32(cg, e[0].p0), cf32(cg, e[0].p1), w[1], bias[1], pm, py,
                           ci32(cg, e[1].act), cf32(cg, e[1].p0), cf32(cg, e[1].p1), cg->p_exec};
    return call_kernel(cg, "sinter_k_conv2d_pw_dw_f32", args, 16);
  }
  LLVMValueRef pz;
  SINTER_TRY(value_ptr(cg, sinter_node_num_inputs(b) > 3 ? sinter_node_input(b, 3) : NULL, &pz));
  LLVMValueRef args[] = {shape[0], shape[1], px, w[0], bias[0], ci32(cg, e[0].act),
                         cf32(cg, e[0].p0), cf32(cg, e[0].p1), w[1], bias[1], pz, pm, py,
                         ci32(cg, e[1].act), cf32(cg, e[1].p0), cf32(cg, e[1].p1), cg->p_exec};
  return call_kernel(cg, "sinter_k_conv2d_dw_pw_f32", args, 17);
}

static sinter_status_t lower_conv(cg_t *cg, const sinter_node_t *node) {
  int32_t nin = sinter_node_num_inputs(node);
  const sinter_value_t *x = sinter_node_input(node, 0), *w = sinter_node_input(node, 1);
  const sinter_value_t *bias = nin > 2 ? sinter_node_input(node, 2) : NULL;
  const sinter_value_t *z = nin > 3 ? sinter_node_input(node, 3) : NULL;
  const sinter_value_t *y = sinter_node_output(node, 0);
  SINTER_TRY(require_f32(node, x));
  if (!is_const(w))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "weights '%s' are not a constant",
                    sinter_value_name(w));
  act_t a = {0};
  if (sinter_node_op(node) == SINTER_OP_FUSED_CONV) SINTER_TRY(read_epilogue(node, &a));
  sinter_k_conv_shape_t s;
  SINTER_TRY(conv_shape(node, 1, &s));
  LLVMValueRef pw, px, pb, pz, py;
  SINTER_TRY(conv_weights(cg, node, &s, &pw));
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, bias, &pb));
  SINTER_TRY(value_ptr(cg, z, &pz));
  SINTER_TRY(value_ptr(cg, y, &py));
  /* A static batch inside the graph: one call per image. */
  int64_t xb = s.C * s.H * s.W * 4, yb = s.M * s.OH * s.OW * 4;
  LLVMValueRef shape = const_i64s(cg, (const int64_t *)&s, sizeof s / sizeof(int64_t));
  LLVMValueRef scratch = scratch_ptr(cg, sinter_k_conv2d_f32_scratch_size(&s));
  for (int64_t i = 0; i < dim(x, 0); i++) {
    LLVMValueRef args[] = {shape, image_ptr(cg, px, i, xb), pw, pb, image_ptr(cg, pz, i, yb),
                           image_ptr(cg, py, i, yb), scratch, ci32(cg, a.act), cf32(cg, a.p0),
                           cf32(cg, a.p1), cg->p_exec};
    SINTER_TRY(call_kernel(cg, "sinter_k_conv2d_f32", args, 11));
  }
  return NULL;
}

/* Emits C = act(A Bp + bias + R) with B constant, packed here. */
static sinter_status_t emit_gemm_const_b(cg_t *cg, int64_t M, int64_t N, int64_t K,
                                         LLVMValueRef A, int64_t lda, const float *B,
                                         int64_t ldb_k, int64_t ldb_n, float alpha,
                                         LLVMValueRef C, LLVMValueRef bias, LLVMValueRef R,
                                         const act_t *a) {
  size_t psize = sinter_k_gemm_f32_packed_size(K, N);
  float *packed = aligned_alloc(64, (psize + 63) & ~(size_t)63);
  if (!packed) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "packing GEMM weights");
  sinter_k_gemm_f32_pack_b(K, N, B, ldb_k, ldb_n, alpha, packed);
  LLVMValueRef pb;
  sinter_status_t st = packed_ptr(cg, packed, psize, &pb);
  free(packed);
  SINTER_TRY(st);
  LLVMValueRef args[] = {ci64(cg, M), ci64(cg, N), ci64(cg, K), A, ci64(cg, lda), pb, C,
                         ci64(cg, N), bias, R, ci32(cg, a->act), cf32(cg, a->p0),
                         cf32(cg, a->p1), cg->p_exec};
  return call_kernel(cg, "sinter_k_gemm_f32_packed", args, 14);
}

static sinter_status_t lower_gemm(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *A = sinter_node_input(node, 0), *B = sinter_node_input(node, 1);
  const sinter_value_t *C = sinter_node_num_inputs(node) > 2 ? sinter_node_input(node, 2) : NULL;
  const sinter_value_t *Y = sinter_node_output(node, 0);
  SINTER_TRY(require_f32(node, A));
  act_t a = {0};
  if (sinter_node_op(node) == SINTER_OP_FUSED_GEMM) SINTER_TRY(read_epilogue(node, &a));
  if (sinter_node_attr_int(node, "transA", 0))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "transA = 1 is not compiled");
  if (!is_const(B))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "B '%s' is not a constant", sinter_value_name(B));
  float alpha = sinter_node_attr_float(node, "alpha", 1.0f);
  float beta = sinter_node_attr_float(node, "beta", 1.0f);
  int64_t M = dim(Y, 0), N = dim(Y, 1), K = dim(A, 1);
  bool tb = sinter_node_attr_int(node, "transB", 0) != 0;
  size_t bn = 0;
  const float *bd = sinter_value_data(B, &bn);
  LLVMValueRef pa, py, pbias = cnull(cg), pr = cnull(cg);
  SINTER_TRY(value_ptr(cg, A, &pa));
  SINTER_TRY(value_ptr(cg, Y, &py));
  if (C && beta != 0.0f) {
    if (!is_const(C))
      return NODE_ERR(node, SINTER_UNSUPPORTED, "C '%s' is not a constant", sinter_value_name(C));
    const sinter_type_t *ct = vtype(C);
    int64_t cn = numel(C);
    size_t cb = 0;
    const float *cd = sinter_value_data(C, &cb);
    bool row = cn == N && (ct->rank == 1 || (ct->rank == 2 && ct->dims[0].size == 1));
    int64_t count = row ? N : M * N;
    float *buf = malloc((size_t)count * sizeof(float));
    if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "Gemm bias");
    /* Broadcast C to [M, N] (or keep a row) and apply beta at compile time. */
    int64_t cs[2] = {0, 0};
    sinter_type_t yt = *vtype(Y);
    if (!row) broadcast_strides(ct, &yt, cs);
    for (int64_t i = 0; i < count; i++)
      buf[i] = beta * (row ? cd[i] : cd[(i / N) * cs[0] + (i % N) * cs[1]]);
    LLVMValueRef p;
    sinter_status_t st = packed_ptr(cg, buf, (size_t)count * sizeof(float), &p);
    free(buf);
    SINTER_TRY(st);
    if (row)
      pbias = p;
    else
      pr = p;
  }
  return emit_gemm_const_b(cg, M, N, K, pa, K, bd, tb ? 1 : N, tb ? K : 1, alpha, py, pbias, pr,
                           &a);
}

static sinter_status_t lower_matmul(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *A = sinter_node_input(node, 0), *B = sinter_node_input(node, 1);
  const sinter_value_t *bias = sinter_node_num_inputs(node) > 2 ? sinter_node_input(node, 2) : NULL;
  const sinter_value_t *Y = sinter_node_output(node, 0);
  SINTER_TRY(require_f32(node, A));
  act_t a = {0};
  if (sinter_node_op(node) == SINTER_OP_FUSED_MATMUL) SINTER_TRY(read_epilogue(node, &a));
  const sinter_type_t *at = vtype(A), *bt = vtype(B), *yt = vtype(Y);
  if (at->rank < 2 || bt->rank < 2)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "1-D MatMul operands are not compiled");
  LLVMValueRef pa, py, pbias;
  SINTER_TRY(value_ptr(cg, A, &pa));
  SINTER_TRY(value_ptr(cg, Y, &py));
  SINTER_TRY(value_ptr(cg, bias, &pbias));
  int64_t K = dim(A, -1), N = dim(Y, -1);
  if (is_const(B) && bt->rank == 2) {
    size_t bn = 0;
    return emit_gemm_const_b(cg, numel(A) / K, N, K, pa, K, sinter_value_data(B, &bn), N, 1, 1.0f,
                             py, pbias, cnull(cg), &a);
  }
  if (bias || a.act != SINTER_K_ACT_NONE)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "an epilogue on a MatMul of two activations");
  /* Batched: the batch dims of A and B must each be equal to Y's or all 1. */
  int64_t M = dim(A, -2), batch = numel(Y) / (M * N);
  int64_t abatch = numel(A) / (M * K), bbatch = numel(B) / (K * N);
  if ((abatch != batch && abatch != 1) || (bbatch != batch && bbatch != 1))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "partial batch broadcasting in MatMul");
  (void)yt;
  LLVMValueRef pb;
  SINTER_TRY(value_ptr(cg, B, &pb));
  LLVMValueRef args[] = {ci64(cg, batch), ci64(cg, M), ci64(cg, N), ci64(cg, K), pa,
                         ci64(cg, abatch == 1 ? 0 : M * K), ci64(cg, K), pb,
                         ci64(cg, bbatch == 1 ? 0 : K * N), ci64(cg, N), ci64(cg, 1), py,
                         ci64(cg, M * N), ci64(cg, N), cg->p_exec};
  return call_kernel(cg, "sinter_k_matmul_f32", args, 15);
}

/* ---- lowering: elementwise -------------------------------------------------------------- */

static bool unary_code(const sinter_node_t *node, int32_t *op, float *p0, float *p1) {
  *p0 = *p1 = 0;
  switch (sinter_node_op(node)) {
    case SINTER_OP_RELU: *op = SINTER_K_ACT_RELU; return true;
    case SINTER_OP_SIGMOID: *op = SINTER_K_ACT_SIGMOID; return true;
    case SINTER_OP_TANH: *op = SINTER_K_ACT_TANH; return true;
    case SINTER_OP_HARD_SWISH: *op = SINTER_K_ACT_HARD_SWISH; return true;
    case SINTER_OP_SILU: *op = SINTER_K_ACT_SILU; return true;
    case SINTER_OP_LEAKY_RELU:
      *op = SINTER_K_ACT_LEAKY_RELU;
      *p0 = sinter_node_attr_float(node, "alpha", 0.01f);
      return true;
    case SINTER_OP_HARD_SIGMOID:
      *op = SINTER_K_ACT_HARD_SIGMOID;
      *p0 = sinter_node_attr_float(node, "alpha", 0.2f);
      *p1 = sinter_node_attr_float(node, "beta", 0.5f);
      return true;
    case SINTER_OP_GELU:
      *op = strcmp(sinter_node_attr_string(node, "approximate", "none"), "tanh")
                ? SINTER_K_ACT_GELU
                : SINTER_K_ACT_GELU_TANH;
      return true;
    case SINTER_OP_NEG: *op = SINTER_K_UN_NEG; return true;
    case SINTER_OP_ABS: *op = SINTER_K_UN_ABS; return true;
    case SINTER_OP_EXP: *op = SINTER_K_UN_EXP; return true;
    case SINTER_OP_LOG: *op = SINTER_K_UN_LOG; return true;
    case SINTER_OP_SQRT: *op = SINTER_K_UN_SQRT; return true;
    case SINTER_OP_RECIPROCAL: *op = SINTER_K_UN_RECIPROCAL; return true;
    case SINTER_OP_ERF: *op = SINTER_K_UN_ERF; return true;
    case SINTER_OP_FLOOR: *op = SINTER_K_UN_FLOOR; return true;
    case SINTER_OP_CEIL: *op = SINTER_K_UN_CEIL; return true;
    case SINTER_OP_COS: *op = SINTER_K_UN_COS; return true;
    case SINTER_OP_SIN: *op = SINTER_K_UN_SIN; return true;
    default: return false;
  }
}

static bool binary_code(sinter_op_t op, int32_t *code) {
  switch (op) {
    case SINTER_OP_ADD: *code = SINTER_K_BIN_ADD; return true;
    case SINTER_OP_SUB: *code = SINTER_K_BIN_SUB; return true;
    case SINTER_OP_MUL: *code = SINTER_K_BIN_MUL; return true;
    case SINTER_OP_DIV: *code = SINTER_K_BIN_DIV; return true;
    case SINTER_OP_MAX: *code = SINTER_K_BIN_MAX; return true;
    case SINTER_OP_MIN: *code = SINTER_K_BIN_MIN; return true;
    case SINTER_OP_POW: *code = SINTER_K_BIN_POW; return true;
    default: return false;
  }
}

static sinter_status_t emit_unary(cg_t *cg, int32_t op, float p0, float p1, int64_t n,
                                  LLVMValueRef x, LLVMValueRef y) {
  LLVMValueRef args[] = {ci32(cg, op), ci64(cg, n), x, y, cf32(cg, p0), cf32(cg, p1), cg->p_exec};
  return call_kernel(cg, "sinter_k_unary_f32", args, 7);
}

static sinter_status_t emit_binary(cg_t *cg, int32_t op, const sinter_type_t *yt,
                                   const sinter_type_t *at, LLVMValueRef pa,
                                   const sinter_type_t *bt, LLVMValueRef pb, LLVMValueRef py) {
  int64_t as[SINTER_MAX_RANK], bs[SINTER_MAX_RANK], dims[SINTER_MAX_RANK];
  broadcast_strides(at, yt, as);
  broadcast_strides(bt, yt, bs);
  for (int32_t i = 0; i < yt->rank; i++) dims[i] = yt->dims[i].size;
  LLVMValueRef args[] = {ci32(cg, op), ci32(cg, yt->rank), const_i64s(cg, dims, yt->rank), pa,
                         const_i64s(cg, as, yt->rank), pb, const_i64s(cg, bs, yt->rank), py,
                         ci32(cg, SINTER_K_ACT_NONE), cf32(cg, 0), cf32(cg, 0), cg->p_exec};
  return call_kernel(cg, "sinter_k_binary_f32", args, 12);
}

static sinter_status_t lower_elementwise(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *y = sinter_node_output(node, 0);
  SINTER_TRY(require_f32(node, y));
  int32_t nin = sinter_node_num_inputs(node);
  sinter_op_t nop = sinter_node_op(node);
  bool clip = nop == SINTER_OP_CLIP;
  for (int32_t i = 0; i < (clip ? 1 : nin); i++)
    if (sinter_node_input(node, i)) SINTER_TRY(require_f32(node, sinter_node_input(node, i)));
  if (nop == SINTER_OP_SUM || ((nop == SINTER_OP_MAX || nop == SINTER_OP_MIN) && nin != 2)) {
    /* Variadic: a copy for one input, else a chain of binary ops into Y. */
    if (nin == 1) return emit_memcpy(cg, sinter_node_input(node, 0), y);
    int32_t code = nop == SINTER_OP_MAX ? SINTER_K_BIN_MAX
                   : nop == SINTER_OP_MIN ? SINTER_K_BIN_MIN
                                          : SINTER_K_BIN_ADD;
    LLVMValueRef py, pa, pb;
    SINTER_TRY(value_ptr(cg, y, &py));
    for (int32_t i = 1; i < nin; i++) {
      const sinter_value_t *b = sinter_node_input(node, i);
      const sinter_value_t *a = i == 1 ? sinter_node_input(node, 0) : y;
      SINTER_TRY(i == 1 ? value_ptr(cg, a, &pa) : (pa = py, (sinter_status_t)NULL));
      SINTER_TRY(value_ptr(cg, b, &pb));
      SINTER_TRY(emit_binary(cg, code, vtype(y), vtype(a), pa, vtype(b), pb, py));
    }
    return NULL;
  }
  int32_t op;
  float p0, p1;
  LLVMValueRef px, py;
  SINTER_TRY(value_ptr(cg, y, &py));
  if (sinter_node_op(node) == SINTER_OP_CLIP) {
    double lo = -INFINITY, hi = INFINITY;
    int32_t n = sinter_node_num_inputs(node);
    const sinter_value_t *vlo = n > 1 ? sinter_node_input(node, 1) : NULL;
    const sinter_value_t *vhi = n > 2 ? sinter_node_input(node, 2) : NULL;
    if ((vlo && !const_scalar(vlo, &lo)) || (vhi && !const_scalar(vhi, &hi)))
      return NODE_ERR(node, SINTER_UNSUPPORTED, "Clip bounds must be constant scalars");
    SINTER_TRY(value_ptr(cg, sinter_node_input(node, 0), &px));
    return emit_unary(cg, SINTER_K_ACT_CLIP, (float)lo, (float)hi, numel(y), px, py);
  }
  if (unary_code(node, &op, &p0, &p1)) {
    SINTER_TRY(value_ptr(cg, sinter_node_input(node, 0), &px));
    return emit_unary(cg, op, p0, p1, numel(y), px, py);
  }
  if (binary_code(sinter_node_op(node), &op)) {
    const sinter_value_t *a = sinter_node_input(node, 0), *b = sinter_node_input(node, 1);
    LLVMValueRef pa, pb;
    SINTER_TRY(value_ptr(cg, a, &pa));
    SINTER_TRY(value_ptr(cg, b, &pb));
    return emit_binary(cg, op, vtype(y), vtype(a), pa, vtype(b), pb, py);
  }
  return NODE_ERR(node, SINTER_UNSUPPORTED, "no CPU kernel for this op");
}

/* FusedElementwise: its body runs as one kernel call per instruction, each
 * writing a full-size temporary in the scratch area (the last writes Y). */
static sinter_status_t lower_fused_elementwise(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *y = sinter_node_output(node, 0);
  SINTER_TRY(require_f32(node, y));
  const sinter_attr_t *ops = sinter_node_attr(node, "ops");
  const sinter_attr_t *argsa = sinter_node_attr(node, "args");
  const sinter_attr_t *params = sinter_node_attr(node, "params");
  if (!ops || !argsa || ops->count < 1)
    return NODE_ERR(node, SINTER_INVALID_MODEL, "missing body attributes");
  int32_t nin = sinter_node_num_inputs(node);
  int64_t n = numel(y), bytes = n * 4;
  int64_t nins = ops->count;
  const sinter_type_t *yt = vtype(y);
  LLVMValueRef py;
  SINTER_TRY(value_ptr(cg, y, &py));
  LLVMValueRef scratch = scratch_ptr(cg, (uint64_t)(nins > 1 ? nins - 1 : 0) * (uint64_t)bytes);
  int64_t ai = 0, pi = 0;
  for (int64_t k = 0; k < nins; k++) {
    const char *name = ops->strings[k];
    sinter_op_t op = sinter_op_lookup(!strcmp(name, "Silu") ? "ai.sinter" : "", name);
    LLVMValueRef dst = k == nins - 1 ? py : gep(cg, scratch, ci64(cg, k * bytes));
    int32_t code, arity = 1, np = 0;
    float p0 = 0, p1 = 0;
    bool bin = binary_code(op, &code);
    if (bin) arity = 2;
    LLVMValueRef src[2];
    const sinter_type_t *st[2];
    for (int32_t j = 0; j < arity; j++) {
      if (ai >= argsa->count) return NODE_ERR(node, SINTER_INVALID_MODEL, "short args");
      int64_t o = argsa->ints[ai++];
      if (o < nin) {
        SINTER_TRY(value_ptr(cg, sinter_node_input(node, (int32_t)o), &src[j]));
        st[j] = vtype(sinter_node_input(node, (int32_t)o));
        if (!bin && numel(sinter_node_input(node, (int32_t)o)) != n)
          return NODE_ERR(node, SINTER_UNSUPPORTED, "a broadcast operand of a unary instruction");
      } else {
        src[j] = gep(cg, scratch, ci64(cg, (o - nin) * bytes));
        st[j] = yt;
      }
    }
    if (bin) {
      SINTER_TRY(emit_binary(cg, code, yt, st[0], src[0], st[1], src[1], dst));
      continue;
    }
    /* Unary instructions: the ops.def names with their params (docs/ops-sinter.md). */
    static const struct {
      const char *name;
      int32_t code, np;
    } un[] = {{"Relu", SINTER_K_ACT_RELU, 0},         {"Sigmoid", SINTER_K_ACT_SIGMOID, 0},
              {"Tanh", SINTER_K_ACT_TANH, 0},         {"HardSwish", SINTER_K_ACT_HARD_SWISH, 0},
              {"Silu", SINTER_K_ACT_SILU, 0},         {"LeakyRelu", SINTER_K_ACT_LEAKY_RELU, 1},
              {"HardSigmoid", SINTER_K_ACT_HARD_SIGMOID, 2}, {"Clip", SINTER_K_ACT_CLIP, 2},
              {"Gelu", SINTER_K_ACT_GELU, 1},         {"Neg", SINTER_K_UN_NEG, 0},
              {"Abs", SINTER_K_UN_ABS, 0},            {"Exp", SINTER_K_UN_EXP, 0},
              {"Log", SINTER_K_UN_LOG, 0},            {"Sqrt", SINTER_K_UN_SQRT, 0},
              {"Reciprocal", SINTER_K_UN_RECIPROCAL, 0}, {"Erf", SINTER_K_UN_ERF, 0},
              {"Floor", SINTER_K_UN_FLOOR, 0},        {"Ceil", SINTER_K_UN_CEIL, 0},
              {"Cos", SINTER_K_UN_COS, 0},            {"Sin", SINTER_K_UN_SIN, 0}};
    int found = -1;
    for (size_t i = 0; i < sizeof un / sizeof un[0]; i++)
      if (!strcmp(un[i].name, name)) found = (int)i;
    if (found < 0)
      return NODE_ERR(node, SINTER_UNSUPPORTED, "body instruction %s has no CPU kernel", name);
    code = un[found].code;
    np = un[found].np;
    if (params && pi + np > params->count)
      return NODE_ERR(node, SINTER_INVALID_MODEL, "short params");
    if (np > 0) p0 = params->floats[pi];
    if (np > 1) p1 = params->floats[pi + 1];
    pi += np;
    if (code == SINTER_K_ACT_GELU && p0 == 1.0f) code = SINTER_K_ACT_GELU_TANH;
    if (code == SINTER_K_ACT_GELU) p0 = 0;
    SINTER_TRY(emit_unary(cg, code, p0, p1, n, src[0], dst));
  }
  return NULL;
}

/* ---- lowering: data movement ------------------------------------------------------------ */

/* Y (contiguous) = the view of X with element strides ss and offset off, over
 * Y's dims: Transpose, Slice, Expand. */
static sinter_status_t emit_view_copy(cg_t *cg, const sinter_value_t *x, const sinter_value_t *y,
                                      const int64_t *ss, int64_t off) {
  const sinter_type_t *yt = vtype(y);
  int64_t ys[SINTER_MAX_RANK], dims[SINTER_MAX_RANK];
  contiguous_strides(yt, ys);
  for (int32_t i = 0; i < yt->rank; i++) dims[i] = yt->dims[i].size;
  if (numel(y) == 0) return NULL;
  LLVMValueRef px, py;
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  return emit_copy(cg, elem_size(vtype(x)->dtype), yt->rank, dims, px, off, ss, py, 0, ys);
}

static sinter_status_t lower_transpose(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  const sinter_type_t *yt = vtype(y);
  int64_t xs[SINTER_MAX_RANK], ss[SINTER_MAX_RANK];
  contiguous_strides(vtype(x), xs);
  int64_t np = 0;
  const int64_t *perm = sinter_node_attr_ints(node, "perm", &np);
  for (int32_t i = 0; i < yt->rank; i++)
    ss[i] = xs[perm && np == yt->rank ? perm[i] : yt->rank - 1 - i];
  return emit_view_copy(cg, x, y, ss, 0);
}

static sinter_status_t lower_slice(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  int32_t nin = sinter_node_num_inputs(node);
  const sinter_value_t *vs = sinter_node_input(node, 1);
  const sinter_value_t *va = nin > 3 ? sinter_node_input(node, 3) : NULL;
  const sinter_value_t *vst = nin > 4 ? sinter_node_input(node, 4) : NULL;
  if (!is_const(vs) || (va && !is_const(va)) || (vst && !is_const(vst)))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "Slice starts, axes and steps must be constants");
  const sinter_type_t *xt = vtype(x);
  int64_t xs[SINTER_MAX_RANK], ss[SINTER_MAX_RANK];
  contiguous_strides(xt, xs);
  int64_t off = 0;
  for (int32_t i = 0; i < xt->rank; i++) ss[i] = xs[i];
  int64_t cnt = numel(vs);
  for (int64_t i = 0; i < cnt; i++) {
    int64_t ax = va ? const_int_at(va, i) : i;
    if (ax < 0) ax += xt->rank;
    int64_t step = vst ? const_int_at(vst, i) : 1;
    int64_t d = xt->dims[ax].size, s = const_int_at(vs, i);
    if (s < 0) s += d;
    if (step > 0)
      s = s < 0 ? 0 : s > d ? d : s;
    else
      s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
    off += s * xs[ax];
    ss[ax] = xs[ax] * step;
  }
  return emit_view_copy(cg, x, y, ss, off);
}

static sinter_status_t lower_concat(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *y = sinter_node_output(node, 0);
  const sinter_type_t *yt = vtype(y);
  int64_t ax = sinter_node_attr_int(node, "axis", 0);
  if (ax < 0) ax += yt->rank;
  int64_t ys[SINTER_MAX_RANK];
  contiguous_strides(yt, ys);
  LLVMValueRef py;
  SINTER_TRY(value_ptr(cg, y, &py));
  int64_t at = 0;
  for (int32_t k = 0; k < sinter_node_num_inputs(node); k++) {
    const sinter_value_t *x = sinter_node_input(node, k);
    const sinter_type_t *xt = vtype(x);
    int64_t xs[SINTER_MAX_RANK], dims[SINTER_MAX_RANK];
    contiguous_strides(xt, xs);
    for (int32_t i = 0; i < xt->rank; i++) dims[i] = xt->dims[i].size;
    if (numel(x) > 0) {
      LLVMValueRef px;
      SINTER_TRY(value_ptr(cg, x, &px));
      SINTER_TRY(emit_copy(cg, elem_size(yt->dtype), yt->rank, dims, px, 0, xs, py, at * ys[ax],
                           ys));
    }
    at += xt->dims[ax].size;
  }
  return NULL;
}

static sinter_status_t lower_expand(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  int64_t ss[SINTER_MAX_RANK];
  broadcast_strides(vtype(x), vtype(y), ss);
  return emit_view_copy(cg, x, y, ss, 0);
}

static sinter_status_t lower_gather(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *idx = sinter_node_input(node, 1);
  const sinter_value_t *y = sinter_node_output(node, 0);
  const sinter_type_t *xt = vtype(x);
  if (vtype(idx)->dtype != SINTER_DTYPE_I64 && vtype(idx)->dtype != SINTER_DTYPE_I32)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "indices must be i32 or i64");
  int64_t ax = sinter_node_attr_int(node, "axis", 0);
  if (ax < 0) ax += xt->rank;
  int64_t outer = 1, inner = 1;
  for (int32_t i = 0; i < ax; i++) outer *= xt->dims[i].size;
  for (int32_t i = (int32_t)ax + 1; i < xt->rank; i++) inner *= xt->dims[i].size;
  LLVMValueRef px, pi, py;
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, idx, &pi));
  SINTER_TRY(value_ptr(cg, y, &py));
  LLVMValueRef args[] = {ci64(cg, elem_size(xt->dtype)), ci64(cg, outer),
                         ci64(cg, xt->dims[ax].size), ci64(cg, inner), px, pi,
                         ci32(cg, vtype(idx)->dtype == SINTER_DTYPE_I64), ci64(cg, numel(idx)), py,
                         cg->p_exec};
  return call_kernel(cg, "sinter_k_gather", args, 10);
}

static sinter_status_t lower_cast(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  static const sinter_dtype_t ok[] = {SINTER_DTYPE_F32, SINTER_DTYPE_F64, SINTER_DTYPE_I64, SINTER_DTYPE_I32,
                                      SINTER_DTYPE_I16, SINTER_DTYPE_I8,  SINTER_DTYPE_U8,  SINTER_DTYPE_U16,
                                      SINTER_DTYPE_U32, SINTER_DTYPE_U64, SINTER_DTYPE_BOOL};
  bool fx = false, fy = false;
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    fx |= vtype(x)->dtype == ok[i];
    fy |= vtype(y)->dtype == ok[i];
  }
  if (!fx || !fy)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "Cast from %s to %s is not compiled",
                    sinter_dtype_name(vtype(x)->dtype), sinter_dtype_name(vtype(y)->dtype));
  if (vtype(x)->dtype == vtype(y)->dtype) return emit_memcpy(cg, x, y);
  LLVMValueRef px, py;
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  LLVMValueRef args[] = {ci64(cg, numel(y)), px, ci32(cg, vtype(x)->dtype), py,
                         ci32(cg, vtype(y)->dtype), cg->p_exec};
  return call_kernel(cg, "sinter_k_cast", args, 6);
}

/* Inference Dropout: Y = X and an all-true mask (training mode with a ratio
 * above 0 is random and not compiled). */
static sinter_status_t lower_dropout(cg_t *cg, const sinter_node_t *node) {
  int32_t nin = sinter_node_num_inputs(node);
  const sinter_value_t *ratio = nin > 1 ? sinter_node_input(node, 1) : NULL;
  const sinter_value_t *train = nin > 2 ? sinter_node_input(node, 2) : NULL;
  double r = 0.5, t = 0;
  if (train && (!const_scalar(train, &t) || (t != 0 && ratio && !const_scalar(ratio, &r))))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "training_mode and ratio must be constants");
  if (t != 0 && (!ratio ? 0.5 : r) != 0)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "training-mode dropout with a ratio above 0");
  SINTER_TRY(emit_memcpy(cg, sinter_node_input(node, 0), sinter_node_output(node, 0)));
  const sinter_value_t *mask = sinter_node_num_outputs(node) > 1 ? sinter_node_output(node, 1) : NULL;
  if (is_used(mask)) {
    LLVMValueRef pm;
    SINTER_TRY(value_ptr(cg, mask, &pm));
    LLVMBuildMemSet(cg->b, pm, LLVMConstInt(cg->i8, 1, 0), ci64(cg, numel(mask)), 1);
  }
  return NULL;
}

/* ---- lowering: pooling and normalization ------------------------------------------------ */

static sinter_status_t pool_shape(const sinter_node_t *node, sinter_k_pool_shape_t *s) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  int32_t nd = vtype(x)->rank - 2;
  if (nd < 1 || nd > 2) return NODE_ERR(node, SINTER_UNSUPPORTED, "only 1-D and 2-D pooling");
  if (sinter_node_num_outputs(node) > 1 && is_used(sinter_node_output(node, 1)))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "MaxPool indices output");
  nn_window_t win;
  SINTER_TRY(sinter_nn_read_window(node, nd, NULL, true, &win));
  nn_geom_t geo;
  int64_t in[2] = {dim(x, 2), nd == 2 ? dim(x, 3) : 0};
  SINTER_TRY(sinter_nn_forward_geom(&win, in, &geo));
  memset(s, 0, sizeof *s);
  s->C = dim(x, 0) * dim(x, 1); /* pooling is per plane: images and channels alike */
  s->H = geo.in[1], s->W = geo.in[2], s->OH = geo.out[1], s->OW = geo.out[2];
  s->KH = geo.k[1], s->KW = geo.k[2];
  s->stride_h = geo.s[1], s->stride_w = geo.s[2];
  s->pad_t = geo.pb[1], s->pad_l = geo.pb[2], s->pad_b = geo.pe[1], s->pad_r = geo.pe[2];
  s->dil_h = geo.d[1], s->dil_w = geo.d[2];
  s->count_include_pad = sinter_node_attr_int(node, "count_include_pad", 0);
  if (s->C * s->OH * s->OW != numel(y))
    return NODE_ERR(node, SINTER_INTERNAL, "output size disagrees with the geometry");
  return NULL;
}

static sinter_status_t lower_pool(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  LLVMValueRef px, py;
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  sinter_op_t op = sinter_node_op(node);
  sinter_dtype_t dt = vtype(x)->dtype;
  if (op == SINTER_OP_GLOBAL_AVERAGE_POOL) {
    SINTER_TRY(require_f32(node, x));
    int64_t C = dim(x, 0) * dim(x, 1), HW = C ? numel(x) / C : 0;
    LLVMValueRef args[] = {ci64(cg, C), ci64(cg, HW), px, py, cg->p_exec};
    return call_kernel(cg, "sinter_k_global_avgpool_f32", args, 5);
  }
  sinter_k_pool_shape_t s;
  SINTER_TRY(pool_shape(node, &s));
  const char *k;
  if (op == SINTER_OP_AVERAGE_POOL) {
    SINTER_TRY(require_f32(node, x));
    k = "sinter_k_avgpool2d_f32";
  } else {
    k = dt == SINTER_DTYPE_F32  ? "sinter_k_maxpool2d_f32"
        : dt == SINTER_DTYPE_U8 ? "sinter_k_maxpool2d_u8"
        : dt == SINTER_DTYPE_I8 ? "sinter_k_maxpool2d_i8"
                          : NULL;
    if (!k) return NODE_ERR(node, SINTER_UNSUPPORTED, "MaxPool on %s", sinter_dtype_name(dt));
  }
  LLVMValueRef args[] = {const_i64s(cg, (const int64_t *)&s, sizeof s / sizeof(int64_t)), px, py,
                         cg->p_exec};
  return call_kernel(cg, k, args, 4);
}

static sinter_status_t lower_rows(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  SINTER_TRY(require_f32(node, x));
  const sinter_type_t *xt = vtype(x);
  sinter_op_t op = sinter_node_op(node);
  int64_t ax = sinter_node_attr_int(node, "axis", -1);
  if (ax < 0) ax += xt->rank;
  bool norm = op == SINTER_OP_LAYER_NORMALIZATION || op == SINTER_OP_RMS_NORMALIZATION;
  if (!norm && ax != xt->rank - 1)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "softmax over a non-last axis");
  int64_t n = 1;
  for (int32_t i = (int32_t)ax; i < xt->rank; i++) n *= xt->dims[i].size;
  int64_t rows = n ? numel(x) / n : 0;
  LLVMValueRef px, py;
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  if (!norm) {
    LLVMValueRef args[] = {ci64(cg, rows), ci64(cg, n), px, py,
                           ci32(cg, op == SINTER_OP_LOG_SOFTMAX), cg->p_exec};
    return call_kernel(cg, "sinter_k_softmax_f32", args, 6);
  }
  for (int32_t k = 1; k < sinter_node_num_inputs(node); k++) {
    const sinter_value_t *p = sinter_node_input(node, k);
    if (p && numel(p) != n)
      return NODE_ERR(node, SINTER_UNSUPPORTED, "scale or bias '%s' broadcasts",
                      sinter_value_name(p));
  }
  for (int32_t k = 1; k < sinter_node_num_outputs(node); k++)
    if (is_used(sinter_node_output(node, k)))
      return NODE_ERR(node, SINTER_UNSUPPORTED, "mean/inv-std outputs are not compiled");
  float eps = sinter_node_attr_float(node, "epsilon", 1e-5f);
  LLVMValueRef ps, pb;
  SINTER_TRY(value_ptr(cg, sinter_node_input(node, 1), &ps));
  if (op == SINTER_OP_RMS_NORMALIZATION) {
    LLVMValueRef args[] = {ci64(cg, rows), ci64(cg, n), px, ps, cf32(cg, eps), py, cg->p_exec};
    return call_kernel(cg, "sinter_k_rmsnorm_f32", args, 7);
  }
  SINTER_TRY(value_ptr(cg, sinter_node_num_inputs(node) > 2 ? sinter_node_input(node, 2) : NULL,
                       &pb));
  LLVMValueRef args[] = {ci64(cg, rows), ci64(cg, n), px, ps, pb, cf32(cg, eps), py, cg->p_exec};
  return call_kernel(cg, "sinter_k_layernorm_f32", args, 8);
}

/* Offsets of every (batch..., head) problem of an attention, from the
 * operands' broadcast batch strides. */
static void head_offsets(const sinter_type_t *t, const sinter_type_t *yb, int32_t nb,
                         int64_t inner, int64_t *off, int64_t heads) {
  /* t's leading dims (rank - 2) broadcast to yb's nb batch dims. */
  int64_t cs[SINTER_MAX_RANK] = {0}, acc = inner;
  int32_t tb = t->rank - 2;
  for (int32_t i = tb - 1; i >= 0; i--) {
    cs[i] = t->dims[i].size == 1 ? 0 : acc;
    acc *= t->dims[i].size;
  }
  for (int64_t h = 0; h < heads; h++) {
    int64_t rem = h, o = 0;
    for (int32_t i = nb - 1; i >= 0; i--) {
      int64_t d = yb->dims[i].size, ix = rem % d;
      rem /= d;
      int32_t j = i - (nb - tb);
      if (j >= 0) o += ix * cs[j];
    }
    off[h] = o;
  }
}

static sinter_status_t lower_attention(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *q = sinter_node_input(node, 0), *k = sinter_node_input(node, 1);
  const sinter_value_t *v = sinter_node_input(node, 2), *y = sinter_node_output(node, 0);
  const sinter_value_t *mask = sinter_node_num_inputs(node) > 3 ? sinter_node_input(node, 3) : NULL;
  SINTER_TRY(require_f32(node, q));
  const char *layout = sinter_node_attr_string(node, "layout", "bhsd");
  int64_t causal = sinter_node_attr_int(node, "causal", 0);
  const sinter_type_t *qt = vtype(q), *kt = vtype(k), *vt = vtype(v), *yt = vtype(y);
  int64_t Sq, Sk, D, Dv, heads, q_ld, k_ld, v_ld, y_ld;
  int64_t *off = NULL;
  sinter_type_t sc = {0}; /* the scores' shape [batch..., Sq, Sk] */
  bool bse = !strcmp(layout, "bse");
  if (bse) {
    int64_t H = sinter_node_attr_int(node, "num_heads", 0);
    int64_t B = dim(y, 0);
    Sq = dim(q, 1), Sk = dim(k, 1), D = dim(q, 2) / H, Dv = dim(v, 2) / H;
    heads = B * H;
    q_ld = dim(q, 2), k_ld = dim(k, 2), v_ld = dim(v, 2), y_ld = dim(y, 2);
    sc.rank = 4;
    sc.dims[0].size = B, sc.dims[1].size = H, sc.dims[2].size = Sq, sc.dims[3].size = Sk;
  } else if (!strcmp(layout, "bhsd")) {
    Sq = dim(q, -2), Sk = dim(k, -2), D = dim(q, -1), Dv = dim(v, -1);
    heads = numel(y) / (Sq * Dv);
    q_ld = D, k_ld = D, v_ld = Dv, y_ld = Dv;
    sc = *yt;
    sc.dims[yt->rank - 1].size = Sk;
  } else {
    return NODE_ERR(node, SINTER_UNSUPPORTED, "layout '%s'", layout);
  }
  if (Sk > SINTER_K_ATTENTION_MAX_SK)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "%lld keys (at most %d)", (long long)Sk,
                    SINTER_K_ATTENTION_MAX_SK);
  float scale = sinter_node_attr_float(node, "scale", 1.0f / sqrtf((float)D));
  off = calloc((size_t)heads * 5, sizeof(int64_t));
  if (!off) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "attention offsets");
  int64_t *qo = off, *ko = off + heads, *vo = off + 2 * heads, *yo = off + 3 * heads,
          *mo = off + 4 * heads;
  int64_t msi = 0, msj = 0;
  int32_t nb = sc.rank - 2;
  if (bse) {
    int64_t H = heads / dim(y, 0);
    for (int64_t h = 0; h < heads; h++) {
      int64_t bi = h / H, hi = h % H;
      qo[h] = (dim(q, 0) == 1 ? 0 : bi * Sq * q_ld) + hi * D;
      ko[h] = (dim(k, 0) == 1 ? 0 : bi * Sk * k_ld) + hi * D;
      vo[h] = (dim(v, 0) == 1 ? 0 : bi * Sk * v_ld) + hi * Dv;
      yo[h] = bi * Sq * y_ld + hi * Dv;
    }
  } else {
    head_offsets(qt, &sc, nb, Sq * D, qo, heads);
    head_offsets(kt, &sc, nb, Sk * D, ko, heads);
    head_offsets(vt, &sc, nb, Sk * Dv, vo, heads);
    for (int64_t h = 0; h < heads; h++) yo[h] = h * Sq * Dv;
  }
  if (mask) {
    const sinter_type_t *mt = vtype(mask);
    if (mt->dtype != SINTER_DTYPE_F32) {
      free(off);
      return NODE_ERR(node, SINTER_UNSUPPORTED, "mask of dtype %s", sinter_dtype_name(mt->dtype));
    }
    int64_t ms[SINTER_MAX_RANK];
    broadcast_strides(mt, &sc, ms);
    msi = ms[sc.rank - 2], msj = ms[sc.rank - 1];
    for (int64_t h = 0; h < heads; h++) {
      int64_t rem = h, o = 0;
      for (int32_t i = nb - 1; i >= 0; i--) {
        int64_t d = sc.dims[i].size;
        o += (rem % d) * ms[i];
        rem /= d;
      }
      mo[h] = o;
    }
  }
  LLVMValueRef pq, pk, pv, pm, py;
  sinter_status_t st = value_ptr(cg, q, &pq);
  if (!st) st = value_ptr(cg, k, &pk);
  if (!st) st = value_ptr(cg, v, &pv);
  if (!st) st = value_ptr(cg, mask, &pm);
  if (!st) st = value_ptr(cg, y, &py);
  if (st) {
    free(off);
    return st;
  }
  LLVMValueRef args[] = {ci64(cg, heads), ci64(cg, Sq), ci64(cg, Sk), ci64(cg, D), ci64(cg, Dv),
                         pq, const_i64s(cg, qo, (int32_t)heads), ci64(cg, q_ld),
                         pk, const_i64s(cg, ko, (int32_t)heads), ci64(cg, k_ld),
                         pv, const_i64s(cg, vo, (int32_t)heads), ci64(cg, v_ld),
                         pm, const_i64s(cg, mo, (int32_t)heads), ci64(cg, msi), ci64(cg, msj),
                         cf32(cg, scale), ci32(cg, causal), py,
                         const_i64s(cg, yo, (int32_t)heads), ci64(cg, y_ld), cg->p_exec};
  free(off);
  return call_kernel(cg, "sinter_k_attention_f32", args, 24);
}

/* ---- lowering: integer ops -------------------------------------------------------------- */

static bool is_q8(sinter_dtype_t dt) { return dt == SINTER_DTYPE_U8 || dt == SINTER_DTYPE_I8; }

/* A per-tensor quantization parameter pair (scale, zero point) of constants. */
static sinter_status_t scalar_qparams(const sinter_node_t *node, const sinter_value_t *scale,
                                      const sinter_value_t *zp, float *s, int32_t *z) {
  double ds;
  if (!const_scalar(scale, &ds) || vtype(scale)->dtype != SINTER_DTYPE_F32)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "scale '%s' must be a constant f32 scalar",
                    scale ? sinter_value_name(scale) : "(absent)");
  *s = (float)ds;
  *z = 0;
  if (zp) {
    double dz;
    if (!const_scalar(zp, &dz))
      return NODE_ERR(node, SINTER_UNSUPPORTED, "zero point '%s' must be a constant scalar",
                      sinter_value_name(zp));
    *z = (int32_t)dz;
  }
  return NULL;
}

static int32_t qmin_of(const sinter_node_t *node, sinter_dtype_t dt) {
  return (int32_t)sinter_node_attr_int(node, "qmin", dt == SINTER_DTYPE_I8 ? -128 : 0);
}
static int32_t qmax_of(const sinter_node_t *node, sinter_dtype_t dt) {
  return (int32_t)sinter_node_attr_int(node, "qmax", dt == SINTER_DTYPE_I8 ? 127 : 255);
}

static sinter_status_t lower_qdq(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  int32_t nin = sinter_node_num_inputs(node);
  float s;
  int32_t z;
  SINTER_TRY(scalar_qparams(node, sinter_node_input(node, 1),
                            nin > 2 ? sinter_node_input(node, 2) : NULL, &s, &z));
  LLVMValueRef px, py;
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  if (sinter_node_op(node) == SINTER_OP_QUANTIZE_LINEAR) {
    SINTER_TRY(require_f32(node, x));
    if (!is_q8(vtype(y)->dtype))
      return NODE_ERR(node, SINTER_UNSUPPORTED, "quantizing to %s",
                      sinter_dtype_name(vtype(y)->dtype));
    LLVMValueRef args[] = {ci64(cg, numel(x)), px, cf32(cg, s), ci32(cg, z), py,
                           ci32(cg, vtype(y)->dtype == SINTER_DTYPE_I8), cg->p_exec};
    return call_kernel(cg, "sinter_k_quantize_f32", args, 7);
  }
  SINTER_TRY(require_f32(node, y));
  if (!is_q8(vtype(x)->dtype))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "dequantizing %s", sinter_dtype_name(vtype(x)->dtype));
  LLVMValueRef args[] = {ci64(cg, numel(x)), px, ci32(cg, vtype(x)->dtype == SINTER_DTYPE_I8),
                         cf32(cg, s), ci32(cg, z), py, cg->p_exec};
  return call_kernel(cg, "sinter_k_dequantize_f32", args, 7);
}

/* Reads per-channel weight scales and zero points (count 1 or n) of a
 * QLinear op's weight, converting u8 weights to s8 (w - 128, zp - 128: the
 * differences w - zp are unchanged). Fills mult[n] = a_scale * w_scale / y_scale
 * evaluated in f32 in that order, w8 (s8 copy of the weights) and zps[n]. */
static sinter_status_t qweights(const sinter_node_t *node, const sinter_value_t *w,
                                const sinter_value_t *ws, const sinter_value_t *wz, float a_scale,
                                float y_scale, int64_t n, float *mult, int8_t *w8, int32_t *zps) {
  if (!is_const(w) || !is_const(ws) || (wz && !is_const(wz)))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "weights and their scales must be constants");
  if (vtype(ws)->dtype != SINTER_DTYPE_F32 || (numel(ws) != 1 && numel(ws) != n) ||
      (wz && numel(wz) != 1 && numel(wz) != n))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "weight scales must be f32, per tensor or channel");
  sinter_dtype_t dt = vtype(w)->dtype;
  if (!is_q8(dt)) return NODE_ERR(node, SINTER_UNSUPPORTED, "weights of %s", sinter_dtype_name(dt));
  int32_t shift = dt == SINTER_DTYPE_U8 ? 128 : 0;
  for (int64_t j = 0; j < n; j++) {
    float wsj = const_f32_at(ws, numel(ws) == 1 ? 0 : j);
    mult[j] = a_scale * wsj / y_scale;
    zps[j] = (wz ? const_q_at(wz, numel(wz) == 1 ? 0 : j) : 0) - shift;
  }
  int64_t cnt = numel(w);
  size_t nb = 0;
  const void *d = sinter_value_data(w, &nb);
  for (int64_t i = 0; i < cnt; i++)
    w8[i] = dt == SINTER_DTYPE_U8 ? (int8_t)(((const uint8_t *)d)[i] - 128) : ((const int8_t *)d)[i];
  return NULL;
}

static sinter_status_t qbias(const sinter_node_t *node, const sinter_value_t *b, int64_t n,
                             int32_t *out) {
  if (!b) return NULL;
  if (!is_const(b) || vtype(b)->dtype != SINTER_DTYPE_I32 || numel(b) != n)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "bias must be a constant i32 [%lld]", (long long)n);
  for (int64_t j = 0; j < n; j++) out[j] = const_q_at(b, j);
  return NULL;
}

/* The common part of QLinearConvAct and QLinearMatMulAct: their nine inputs
 * (x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias), 8-bit x and y,
 * and per-tensor scales and zero points of x and y. */
typedef struct qlinear_s {
  const sinter_value_t *in[9];
  const sinter_value_t *y;
  sinter_dtype_t xd, yd;
  float xs, ys;
  int32_t xz, yz;
} qlinear_t;

static sinter_status_t qlinear_read(const sinter_node_t *node, qlinear_t *q) {
  int32_t nin = sinter_node_num_inputs(node);
  for (int32_t i = 0; i < 9; i++) q->in[i] = i < nin ? sinter_node_input(node, i) : NULL;
  q->y = sinter_node_output(node, 0);
  q->xd = vtype(q->in[0])->dtype;
  q->yd = vtype(q->y)->dtype;
  if (!is_q8(q->xd) || !is_q8(q->yd))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "the input and output must be u8 or i8");
  SINTER_TRY(scalar_qparams(node, q->in[1], q->in[2], &q->xs, &q->xz));
  return scalar_qparams(node, q->in[6], q->in[7], &q->ys, &q->yz);
}

/* Weight preparation shared by the integer conv and GEMM: s8 weights,
 * per-column zero points, i32 bias and f32 multipliers for n output columns,
 * and a buffer of psize bytes the caller packs into. */
typedef struct qweights_s {
  float *mult;
  int32_t *zps, *bias;
  int8_t *w8;
  void *packed;
  size_t psize;
} qweights_t;

static void qw_free(qweights_t *w) {
  free(w->mult), free(w->zps), free(w->bias), free(w->w8), free(w->packed);
  memset(w, 0, sizeof *w);
}

static sinter_status_t qw_prepare(const sinter_node_t *node, const qlinear_t *q, int64_t n,
                                  size_t psize, qweights_t *w) {
  memset(w, 0, sizeof *w);
  w->mult = malloc((size_t)n * sizeof(float));
  w->zps = malloc((size_t)n * sizeof(int32_t));
  w->bias = calloc((size_t)n, sizeof(int32_t));
  w->w8 = malloc((size_t)numel(q->in[3]));
  w->psize = psize;
  w->packed = aligned_alloc(64, (psize + 63) & ~(size_t)63);
  sinter_status_t st = NULL;
  if (!w->mult || !w->zps || !w->bias || !w->w8 || !w->packed)
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "packing integer weights");
  if (!st) st = qweights(node, q->in[3], q->in[4], q->in[5], q->xs, q->ys, n, w->mult, w->w8, w->zps);
  if (!st) st = qbias(node, q->in[8], n, w->bias);
  if (st) qw_free(w);
  return st;
}

/* Stores the packed weights and multipliers as weight blobs; frees w. */
static sinter_status_t qw_finish(cg_t *cg, qweights_t *w, int64_t n, LLVMValueRef *pw,
                                 LLVMValueRef *pm) {
  sinter_status_t st = packed_ptr(cg, w->packed, w->psize, pw);
  if (!st) st = packed_ptr(cg, w->mult, (size_t)n * sizeof(float), pm);
  qw_free(w);
  return st;
}

static sinter_status_t lower_qconv(cg_t *cg, const sinter_node_t *node) {
  qlinear_t q;
  SINTER_TRY(qlinear_read(node, &q));
  const sinter_value_t *const *in = q.in, *y = q.y;
  sinter_dtype_t xd = q.xd, yd = q.yd;
  int32_t xz = q.xz, yz = q.yz;
  sinter_k_conv_shape_t s;
  SINTER_TRY(conv_shape(node, 3, &s));
  qweights_t w;
  SINTER_TRY(qw_prepare(node, &q, s.M, sinter_k_qconv2d_packed_size(&s), &w));
  sinter_k_qconv2d_pack(&s, w.w8, w.zps, in[8] ? w.bias : NULL, xz, xd == SINTER_DTYPE_I8, w.packed);
  LLVMValueRef pw = NULL, pm = NULL, px = NULL, py = NULL;
  SINTER_TRY(qw_finish(cg, &w, s.M, &pw, &pm));
  SINTER_TRY(value_ptr(cg, in[0], &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  bool vnni = (cg->feats & F_VNNI) != 0;
  LLVMValueRef shape = const_i64s(cg, (const int64_t *)&s, sizeof s / sizeof(int64_t));
  LLVMValueRef scratch = scratch_ptr(cg, sinter_k_qconv2d_scratch_size(&s));
  for (int64_t i = 0; i < dim(in[0], 0); i++) {
    LLVMValueRef args[] = {shape, image_ptr(cg, px, i, s.C * s.H * s.W),
                           ci32(cg, xd == SINTER_DTYPE_I8), ci32(cg, xz), pw, pm, ci32(cg, yz),
                           ci32(cg, qmin_of(node, yd)), ci32(cg, qmax_of(node, yd)),
                           image_ptr(cg, py, i, s.M * s.OH * s.OW), ci32(cg, yd == SINTER_DTYPE_I8),
                           scratch, cg->p_exec};
    SINTER_TRY(call_kernel(cg, vnni ? "sinter_k_qconv2d_vnni" : "sinter_k_qconv2d", args, 13));
  }
  return NULL;
}

static sinter_status_t lower_qmatmul(cg_t *cg, const sinter_node_t *node) {
  qlinear_t q;
  SINTER_TRY(qlinear_read(node, &q));
  const sinter_value_t *const *in = q.in, *y = q.y;
  sinter_dtype_t ad = q.xd, yd = q.yd;
  int32_t az = q.xz, yz = q.yz;
  if (vtype(in[3])->rank != 2) return NODE_ERR(node, SINTER_UNSUPPORTED, "b must be 2-D");
  int64_t K = dim(in[3], 0), N = dim(in[3], 1), M = numel(in[0]) / K;
  qweights_t w;
  SINTER_TRY(qw_prepare(node, &q, N, sinter_k_qgemm_packed_size(K, N), &w));
  sinter_k_qgemm_pack_b(K, N, w.w8, N, 1, w.zps, in[8] ? w.bias : NULL, az, ad == SINTER_DTYPE_I8,
                        w.packed);
  LLVMValueRef pw = NULL, pm = NULL, pa = NULL, py = NULL;
  SINTER_TRY(qw_finish(cg, &w, N, &pw, &pm));
  SINTER_TRY(value_ptr(cg, in[0], &pa));
  SINTER_TRY(value_ptr(cg, y, &py));
  bool vnni = (cg->feats & F_VNNI) != 0, amx = (cg->feats & F_AMX) != 0;
  LLVMValueRef args[] = {ci64(cg, M), ci64(cg, N), ci64(cg, K), pa, ci64(cg, K),
                         ci32(cg, ad == SINTER_DTYPE_I8), pw, pm, ci32(cg, yz),
                         ci32(cg, qmin_of(node, yd)), ci32(cg, qmax_of(node, yd)), py, ci64(cg, N),
                         ci32(cg, yd == SINTER_DTYPE_I8), cg->p_exec};
  return call_kernel(cg, amx ? "sinter_k_qgemm_amx" : vnni ? "sinter_k_qgemm_vnni" : "sinter_k_qgemm",
                     args, 15);
}

static sinter_status_t lower_qbinary(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *in[8];
  for (int32_t i = 0; i < 8; i++) in[i] = sinter_node_input(node, i);
  const sinter_value_t *y = sinter_node_output(node, 0);
  sinter_dtype_t yd = vtype(y)->dtype;
  if (!is_q8(yd) || vtype(in[0])->dtype != yd || vtype(in[3])->dtype != yd)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "a, b and y must share one 8-bit dtype");
  float as, bs, ys;
  int32_t az, bz, yz;
  SINTER_TRY(scalar_qparams(node, in[1], in[2], &as, &az));
  SINTER_TRY(scalar_qparams(node, in[4], in[5], &bs, &bz));
  SINTER_TRY(scalar_qparams(node, in[6], in[7], &ys, &yz));
  bool mul = sinter_node_op(node) == SINTER_OP_QLINEAR_MUL;
  float ma = mul ? as * bs / ys : as / ys, mb = mul ? 0.0f : bs / ys;
  const sinter_type_t *yt = vtype(y);
  int64_t sa[SINTER_MAX_RANK], sb[SINTER_MAX_RANK], dims[SINTER_MAX_RANK];
  broadcast_strides(vtype(in[0]), yt, sa);
  broadcast_strides(vtype(in[3]), yt, sb);
  for (int32_t i = 0; i < yt->rank; i++) dims[i] = yt->dims[i].size;
  LLVMValueRef pa, pb, py;
  SINTER_TRY(value_ptr(cg, in[0], &pa));
  SINTER_TRY(value_ptr(cg, in[3], &pb));
  SINTER_TRY(value_ptr(cg, y, &py));
  LLVMValueRef args[] = {ci32(cg, mul), ci32(cg, yt->rank), const_i64s(cg, dims, yt->rank), pa,
                         const_i64s(cg, sa, yt->rank), ci32(cg, az), cf32(cg, ma), pb,
                         const_i64s(cg, sb, yt->rank), ci32(cg, bz), cf32(cg, mb), ci32(cg, yz),
                         ci32(cg, qmin_of(node, yd)), ci32(cg, qmax_of(node, yd)), py,
                         ci32(cg, yd == SINTER_DTYPE_I8), cg->p_exec};
  return call_kernel(cg, "sinter_k_qbinary", args, 17);
}

static sinter_status_t lower_qgap(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  sinter_dtype_t xd = vtype(x)->dtype;
  if (!is_q8(xd) || vtype(y)->dtype != xd)
    return NODE_ERR(node, SINTER_UNSUPPORTED, "x and y must share one 8-bit dtype");
  float xs, ys;
  int32_t xz, yz;
  SINTER_TRY(scalar_qparams(node, sinter_node_input(node, 1), sinter_node_input(node, 2), &xs, &xz));
  SINTER_TRY(scalar_qparams(node, sinter_node_input(node, 3), sinter_node_input(node, 4), &ys, &yz));
  int64_t C = dim(x, 0) * dim(x, 1), HW = C ? numel(x) / C : 0;
  LLVMValueRef px, py;
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  LLVMValueRef args[] = {ci64(cg, C), ci64(cg, HW), px, ci32(cg, xz), cf32(cg, xs / ys),
                         ci32(cg, yz), py, ci32(cg, xd == SINTER_DTYPE_I8), cg->p_exec};
  return call_kernel(cg, "sinter_k_qglobal_avgpool", args, 9);
}

/* ---- lowering: reductions and resizing -------------------------------------------------- */

static sinter_status_t lower_reduce(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  SINTER_TRY(require_f32(node, x));
  const sinter_type_t *xt = vtype(x);
  int32_t op;
  switch (sinter_node_op(node)) {
    case SINTER_OP_REDUCE_SUM: op = SINTER_K_RED_SUM; break;
    case SINTER_OP_REDUCE_MEAN: op = SINTER_K_RED_MEAN; break;
    case SINTER_OP_REDUCE_MAX: op = SINTER_K_RED_MAX; break;
    case SINTER_OP_REDUCE_MIN: op = SINTER_K_RED_MIN; break;
    default: op = SINTER_K_RED_SUM_SQUARE; break;
  }
  bool red[SINTER_MAX_RANK] = {false};
  const sinter_value_t *va = sinter_node_num_inputs(node) > 1 ? sinter_node_input(node, 1) : NULL;
  if (va && !is_const(va))
    return NODE_ERR(node, SINTER_UNSUPPORTED, "axes must be a constant");
  int64_t na = va ? numel(va) : 0;
  if (na == 0) {
    if (sinter_node_attr_int(node, "noop_with_empty_axes", 0)) return emit_memcpy(cg, x, y);
    for (int32_t i = 0; i < xt->rank; i++) red[i] = true;
  }
  for (int64_t i = 0; i < na; i++) {
    int64_t a = const_int_at(va, i);
    red[a < 0 ? a + xt->rank : a] = true;
  }
  /* The reduced axes must be consecutive (after dropping unit dims). */
  int32_t first = -1, last = -1;
  for (int32_t i = 0; i < xt->rank; i++)
    if (red[i] && xt->dims[i].size != 1) {
      if (first < 0) first = i;
      last = i;
    }
  int64_t outer = 1, n = 1, inner = 1;
  for (int32_t i = 0; i < xt->rank; i++) {
    int64_t d = xt->dims[i].size;
    if (first < 0 || i < first) outer *= d;
    else if (i > last) inner *= d;
    else if (red[i] || d == 1) n *= d;
    else return NODE_ERR(node, SINTER_UNSUPPORTED, "reduced axes are not consecutive");
  }
  LLVMValueRef px, py;
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  LLVMValueRef args[] = {ci32(cg, op), ci64(cg, outer), ci64(cg, n), ci64(cg, inner), px, py,
                         cg->p_exec};
  return call_kernel(cg, "sinter_k_reduce_f32", args, 7);
}

/* A constant input as a tensor view (NULL when absent or empty-named). */
static bool const_tensor(const sinter_node_t *node, int32_t i, sinter_tensor_t *t) {
  const sinter_value_t *v = i < sinter_node_num_inputs(node) ? sinter_node_input(node, i) : NULL;
  if (!v || !is_const(v)) return false;
  const sinter_type_t *ty = vtype(v);
  memset(t, 0, sizeof *t);
  t->dtype = ty->dtype;
  t->rank = ty->rank;
  for (int32_t d = 0; d < ty->rank; d++) t->dims[d] = ty->dims[d].size;
  t->data = (void *)sinter_value_data(v, &t->nbytes);
  return true;
}

static sinter_status_t lower_resize(cg_t *cg, const sinter_node_t *node) {
  const sinter_value_t *x = sinter_node_input(node, 0), *y = sinter_node_output(node, 0);
  SINTER_TRY(require_f32(node, x));
  const sinter_type_t *xt = vtype(x), *yt = vtype(y);
  int32_t r = xt->rank;
  if (r < 2) return NODE_ERR(node, SINTER_UNSUPPORTED, "Resize of rank %d", r);
  for (int32_t d = 0; d < r - 2; d++)
    if (xt->dims[d].size != yt->dims[d].size)
      return NODE_ERR(node, SINTER_UNSUPPORTED, "only the last two axes may be resized");
  for (int32_t i = 1; i < sinter_node_num_inputs(node); i++) {
    const sinter_value_t *v = sinter_node_input(node, i);
    if (v && !is_const(v)) return NODE_ERR(node, SINTER_UNSUPPORTED, "roi, scales and sizes must be constants");
  }
  sinter_tensor_t roi, scales, sizes;
  bool hr = const_tensor(node, 1, &roi), hs = const_tensor(node, 2, &scales),
       hz = const_tensor(node, 3, &sizes);
  int64_t in[SINTER_MAX_RANK];
  for (int32_t d = 0; d < r; d++) in[d] = xt->dims[d].size;
  int64_t H = in[r - 2], W = in[r - 1], OH = yt->dims[r - 2].size, OW = yt->dims[r - 1].size;
  int64_t *yi = malloc(sizeof(int64_t) * (size_t)(2 * OH + 2 * OW + 2));
  float *yw = malloc(sizeof(float) * (size_t)(2 * OH + 2 * OW + 2));
  if (!yi || !yw) {
    free(yi), free(yw);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "resize taps");
  }
  int64_t *xi = yi + 2 * OH;
  float *xw = yw + 2 * OH;
  sinter_status_t st = sinter_resize_taps2(node, r, in, hr ? &roi : NULL, hs ? &scales : NULL,
                                           hz ? &sizes : NULL, r - 2, OH, yi, yw);
  if (!st)
    st = sinter_resize_taps2(node, r, in, hr ? &roi : NULL, hs ? &scales : NULL,
                             hz ? &sizes : NULL, r - 1, OW, xi, xw);
  LLVMValueRef px = NULL, py = NULL, pyw = NULL, pxw = NULL;
  LLVMValueRef pyi = st ? NULL : const_i64s(cg, yi, (int32_t)(2 * OH));
  LLVMValueRef pxi = st ? NULL : const_i64s(cg, xi, (int32_t)(2 * OW));
  if (!st) pyw = const_global(cg, yw, sizeof(float) * (size_t)(2 * OH), "taps");
  if (!st) pxw = const_global(cg, xw, sizeof(float) * (size_t)(2 * OW), "taps");
  free(yi), free(yw);
  if (st) return sinter_status_annotate(st, "node '%s' (Resize)", sinter_node_name(node));
  SINTER_TRY(value_ptr(cg, x, &px));
  SINTER_TRY(value_ptr(cg, y, &py));
  LLVMValueRef args[] = {ci64(cg, numel(x) / (H * W)), ci64(cg, H), ci64(cg, W), ci64(cg, OH),
                         ci64(cg, OW), pyi, pyw, pxi, pxw, px, py, cg->p_exec};
  return call_kernel(cg, "sinter_k_resize2d_f32", args, 12);
}

/* ---- node dispatch ---------------------------------------------------------------------- */

static sinter_status_t lower_node(cg_t *cg, const sinter_node_t *node) {
  switch (sinter_node_op(node)) {
    case SINTER_OP_CONV:
    case SINTER_OP_FUSED_CONV: return lower_conv(cg, node);
    case SINTER_OP_GEMM:
    case SINTER_OP_FUSED_GEMM: return lower_gemm(cg, node);
    case SINTER_OP_MATMUL:
    case SINTER_OP_FUSED_MATMUL: return lower_matmul(cg, node);
    case SINTER_OP_FUSED_ELEMENTWISE: return lower_fused_elementwise(cg, node);
    case SINTER_OP_RESHAPE:
    case SINTER_OP_FLATTEN:
    case SINTER_OP_SQUEEZE:
    case SINTER_OP_UNSQUEEZE:
    case SINTER_OP_IDENTITY:
      return emit_memcpy(cg, sinter_node_input(node, 0), sinter_node_output(node, 0));
    case SINTER_OP_DROPOUT: return lower_dropout(cg, node);
    case SINTER_OP_TRANSPOSE: return lower_transpose(cg, node);
    case SINTER_OP_SLICE: return lower_slice(cg, node);
    case SINTER_OP_CONCAT: return lower_concat(cg, node);
    case SINTER_OP_EXPAND: return lower_expand(cg, node);
    case SINTER_OP_GATHER: return lower_gather(cg, node);
    case SINTER_OP_CAST: return lower_cast(cg, node);
    case SINTER_OP_MAX_POOL:
    case SINTER_OP_AVERAGE_POOL:
    case SINTER_OP_GLOBAL_AVERAGE_POOL: return lower_pool(cg, node);
    case SINTER_OP_SOFTMAX:
    case SINTER_OP_LOG_SOFTMAX:
    case SINTER_OP_LAYER_NORMALIZATION:
    case SINTER_OP_RMS_NORMALIZATION: return lower_rows(cg, node);
    case SINTER_OP_ATTENTION: return lower_attention(cg, node);
    case SINTER_OP_REDUCE_SUM:
    case SINTER_OP_REDUCE_MEAN:
    case SINTER_OP_REDUCE_MAX:
    case SINTER_OP_REDUCE_MIN:
    case SINTER_OP_REDUCE_SUM_SQUARE: return lower_reduce(cg, node);
    case SINTER_OP_RESIZE: return lower_resize(cg, node);
    case SINTER_OP_QUANTIZE_LINEAR:
    case SINTER_OP_DEQUANTIZE_LINEAR: return lower_qdq(cg, node);
    case SINTER_OP_QLINEAR_CONV_ACT: return lower_qconv(cg, node);
    case SINTER_OP_QLINEAR_MATMUL_ACT: return lower_qmatmul(cg, node);
    case SINTER_OP_QLINEAR_ADD:
    case SINTER_OP_QLINEAR_MUL: return lower_qbinary(cg, node);
    case SINTER_OP_QLINEAR_GLOBAL_AVERAGE_POOL: return lower_qgap(cg, node);
    default: return lower_elementwise(cg, node);
  }
}

/* ---- batch specialization --------------------------------------------------------------- */

void sinter_batch_spec_free(sinter_batch_spec_t *spec) {
  if (!spec) return;
  free(spec->input_dynamic);
  free(spec->output_dynamic);
  memset(spec, 0, sizeof *spec);
}

static bool type_mentions(const sinter_type_t *t, const char *sym, int32_t *at) {
  for (int32_t i = 0; i < t->rank; i++)
    if (t->dims[i].sym && !strcmp(t->dims[i].sym, sym)) {
      *at = i;
      if (i != 0) return true;
    }
  return false;
}

sinter_status_t sinter_codegen_specialize_batch(sinter_graph_t *g, int64_t batch,
                                                sinter_batch_spec_t *spec) {
  if (!g || !spec) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "graph or spec is NULL");
  memset(spec, 0, sizeof *spec);
  if (batch < 0) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "batch %lld < 0", (long long)batch);
  int32_t ni = sinter_graph_num_inputs(g), no = sinter_graph_num_outputs(g);
  /* The batch symbol: dim 0 of the inputs, one symbol for all. */
  const char *sym = NULL;
  for (int32_t i = 0; i < ni; i++) {
    const sinter_type_t *t = vtype(sinter_graph_input(g, i));
    if (t->rank < 0)
      return SINTER_ERROR(SINTER_UNSUPPORTED, "input '%s' has an unknown rank",
                          sinter_value_name(sinter_graph_input(g, i)));
    for (int32_t d = 0; d < t->rank; d++) {
      if (t->dims[d].size >= 0) continue;
      if (d == 0 && t->dims[0].sym && (!sym || !strcmp(sym, t->dims[0].sym))) {
        sym = t->dims[0].sym;
        continue;
      }
      return SINTER_ERROR(SINTER_UNSUPPORTED,
                          "input '%s' dim %d is %s%s: the CPU code generator needs static shapes "
                          "apart from one batch dim 0 shared by the inputs",
                          sinter_value_name(sinter_graph_input(g, i)), (int)d,
                          t->dims[d].sym ? "the symbol " : "unknown",
                          t->dims[d].sym ? t->dims[d].sym : "");
    }
  }
  spec->num_inputs = ni;
  spec->num_outputs = no;
  spec->input_dynamic = calloc((size_t)ni + 1, sizeof(bool));
  spec->output_dynamic = calloc((size_t)no + 1, sizeof(bool));
  if (!spec->input_dynamic || !spec->output_dynamic) {
    sinter_batch_spec_free(spec);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "batch spec");
  }
  spec->batch = batch ? batch : 1;
  if (!sym) return NULL;
  /* Samples run one at a time only when the batch symbol appears nowhere but
   * in dim 0: then no op mixes samples (dim 0 is never reduced or moved). */
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n))
    for (int32_t k = 0; k < sinter_node_num_outputs(n); k++) {
      const sinter_value_t *v = sinter_node_output(n, k);
      int32_t at = -1;
      if (v && type_mentions(vtype(v), sym, &at) && batch == 0) {
        sinter_batch_spec_free(spec);
        return SINTER_ERROR(SINTER_UNSUPPORTED,
                            "value '%s' (of node '%s') carries the batch '%s' in dim %d: compile "
                            "with a fixed batch (--batch N)",
                            sinter_value_name(v), sinter_node_name(n), sym, (int)at);
      }
    }
  spec->dynamic = batch == 0;
  for (int32_t i = 0; i < ni; i++) {
    sinter_value_t *v = sinter_graph_input(g, i);
    sinter_type_t t = *vtype(v);
    if (t.rank > 0 && t.dims[0].sym && !strcmp(t.dims[0].sym, sym)) {
      spec->input_dynamic[i] = spec->dynamic;
      t.dims[0].size = spec->batch;
      t.dims[0].sym = NULL;
      sinter_value_set_type(v, &t);
    }
  }
  for (int32_t i = 0; i < no; i++) {
    const sinter_type_t *t = vtype(sinter_graph_output(g, i));
    spec->output_dynamic[i] =
        spec->dynamic && t->rank > 0 && t->dims[0].sym && !strcmp(t->dims[0].sym, sym);
  }
  sinter_status_t st = sinter_graph_infer_shapes(g);
  if (st) {
    sinter_batch_spec_free(spec);
    return sinter_status_annotate(st, "shape inference at batch %lld", (long long)spec->batch);
  }
  return NULL;
}

/* ---- target ----------------------------------------------------------------------------- */

static sinter_status_t make_target(const sinter_cpu_options_t *o, LLVMTargetMachineRef *out_tm,
                                   char **out_cpu, char **out_features, unsigned *out_feats) {
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  LLVMInitializeX86AsmParser(); /* kernels hold inline asm (cpuid, syscall) */
  const char *cpu = o->cpu && *o->cpu ? o->cpu : "native";
  char *cpu_s, *feat_s;
  unsigned feats;
  if (!strcmp(cpu, "native")) {
    cpu_s = LLVMGetHostCPUName();
    char *host = LLVMGetHostCPUFeatures();
    feats = apply_features(0, host);
    size_t n = strlen(host) + (o->features ? strlen(o->features) : 0) + 2;
    feat_s = malloc(n);
    if (feat_s)
      snprintf(feat_s, n, "%s%s%s", host, o->features && *o->features ? "," : "",
               o->features ? o->features : "");
    LLVMDisposeMessage(host);
    if (!feat_s) {
      LLVMDisposeMessage(cpu_s);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "feature string");
    }
  } else {
    const cpu_entry_t *e = NULL;
    for (size_t i = 0; i < sizeof known_cpus / sizeof known_cpus[0]; i++)
      if (!strcmp(known_cpus[i].name, cpu)) e = &known_cpus[i];
    if (!e) {
      char list[512] = "native";
      for (size_t i = 0; i < sizeof known_cpus / sizeof known_cpus[0]; i++) {
        strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, known_cpus[i].name, sizeof list - strlen(list) - 1);
      }
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "unknown CPU '%s' (known: %s)", cpu, list);
    }
    cpu_s = LLVMCreateMessage(cpu);
    feat_s = malloc(o->features ? strlen(o->features) + 1 : 1);
    if (!feat_s) {
      LLVMDisposeMessage(cpu_s);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "feature string");
    }
    strcpy(feat_s, o->features ? o->features : "");
    feats = e->feats;
  }
  feats = apply_features(feats, o->features);
  char *triple = LLVMGetDefaultTargetTriple();
  LLVMTargetRef target;
  char *err = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &err)) {
    sinter_status_t st = SINTER_ERROR(SINTER_INTERNAL, "no LLVM target for %s: %s", triple,
                                      err ? err : "?");
    LLVMDisposeMessage(err);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu_s);
    free(feat_s);
    return st;
  }
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(target, triple, cpu_s, feat_s, LLVMCodeGenLevelAggressive,
                              LLVMRelocPIC, LLVMCodeModelDefault);
  LLVMDisposeMessage(triple);
  if (!tm) {
    LLVMDisposeMessage(cpu_s);
    free(feat_s);
    return SINTER_ERROR(SINTER_INTERNAL, "cannot create an LLVM target machine for %s", cpu);
  }
  *out_tm = tm;
  *out_cpu = cpu_s;
  *out_features = feat_s;
  *out_feats = feats;
  return NULL;
}

static void set_fn_attr(LLVMContextRef ctx, LLVMValueRef fn, const char *k, const char *v) {
  LLVMRemoveStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, k, (unsigned)strlen(k));
  if (!v) return;
  LLVMAttributeRef a =
      LLVMCreateStringAttribute(ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v));
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

/* Points every function at the chosen CPU: target-neutral kernels take the
 * target's features, so LLVM vectorizes them for it; kernels written for an
 * ISA extension keep their own features (they are only called when the
 * target has them, and otherwise deleted). */
static void retarget_functions(cg_t *cg, const char *cpu, const char *features) {
  for (LLVMValueRef fn = LLVMGetFirstFunction(cg->mod); fn; fn = LLVMGetNextFunction(fn)) {
    if (LLVMIsDeclaration(fn)) continue;
    LLVMAttributeRef fa = LLVMGetStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                                        "target-features", 15);
    unsigned len = 0;
    const char *cur = fa ? LLVMGetStringAttributeValue(fa, &len) : "";
    bool isa = fa && (memmem(cur, len, "+avx512vnni", 11) || memmem(cur, len, "+amx-", 5));
    set_fn_attr(cg->ctx, fn, "target-cpu", cpu);
    set_fn_attr(cg->ctx, fn, "tune-cpu", NULL);
    if (!isa) set_fn_attr(cg->ctx, fn, "target-features", *features ? features : NULL);
    if (cg->feats & F_AVX512) set_fn_attr(cg->ctx, fn, "prefer-vector-width", "512");
  }
}

/* ---- entry, descriptor ------------------------------------------------------------------ */

static LLVMValueRef const_str(cg_t *cg, const char *s) {
  return const_global(cg, s, strlen(s) + 1, "str");
}

static LLVMValueRef tensor_desc(cg_t *cg, const sinter_value_t *v, bool dynamic) {
  const sinter_type_t *t = vtype(v);
  LLVMValueRef dims[SINTER_ART_MAX_RANK];
  for (int32_t i = 0; i < SINTER_ART_MAX_RANK; i++)
    dims[i] = ci64(cg, i < t->rank ? (i == 0 && dynamic ? SINTER_ART_DYNAMIC : t->dims[i].size) : 0);
  LLVMValueRef f[] = {const_str(cg, sinter_value_name(v)), ci32(cg, t->dtype), ci32(cg, t->rank),
                      LLVMConstArray2(cg->i64, dims, SINTER_ART_MAX_RANK)};
  return LLVMConstStructInContext(cg->ctx, f, 4, 0);
}

static LLVMValueRef tensor_table(cg_t *cg, bool outputs, const sinter_batch_spec_t *spec) {
  int32_t n = outputs ? sinter_graph_num_outputs(cg->g) : sinter_graph_num_inputs(cg->g);
  if (n == 0) return cnull(cg);
  LLVMValueRef *el = calloc((size_t)n, sizeof *el);
  if (!el) return NULL;
  for (int32_t i = 0; i < n; i++) {
    const sinter_value_t *v = outputs ? sinter_graph_output(cg->g, i) : sinter_graph_input(cg->g, i);
    bool dyn = spec && (outputs ? spec->output_dynamic[i] : spec->input_dynamic[i]);
    el[i] = tensor_desc(cg, v, dyn);
  }
  LLVMValueRef arr = LLVMConstArray2(LLVMTypeOf(el[0]), el, (uint64_t)n);
  free(el);
  LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMTypeOf(arr), outputs ? "outputs" : "inputs");
  LLVMSetInitializer(g, arr);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return g;
}

/* The exported entry points: run (embedded weights, or a refusal when they
 * are external) and run_ext (external weights passed in). */
static void build_wrappers(cg_t *cg, LLVMValueRef *out_run, LLVMValueRef *out_run_ext) {
  LLVMTypeRef p5[] = {cg->ptr, cg->ptr, cg->ptr, cg->i64, cg->ptr};
  LLVMTypeRef p6[] = {cg->ptr, cg->ptr, cg->ptr, cg->i64, cg->ptr, cg->ptr};
  LLVMTypeRef ty5 = LLVMFunctionType(cg->i32, p5, 5, 0), ty6 = LLVMFunctionType(cg->i32, p6, 6, 0);
  LLVMValueRef run = LLVMAddFunction(cg->mod, "sinter_artifact_run", ty5);
  LLVMValueRef ext = LLVMAddFunction(cg->mod, "sinter_artifact_run_ext", ty6);
  LLVMSetLinkage(run, LLVMInternalLinkage);
  LLVMSetLinkage(ext, LLVMInternalLinkage);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(cg->ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(cg->ctx, run, "entry"));
  if (cg->opts->weights_external) {
    LLVMBuildRet(b, ci32(cg, 3)); /* weights not bound: use run_ext */
  } else {
    LLVMValueRef a[6];
    for (unsigned i = 0; i < 5; i++) a[i] = LLVMGetParam(run, i);
    a[5] = cnull(cg);
    LLVMBuildRet(b, LLVMBuildCall2(b, LLVMGlobalGetValueType(cg->fn), cg->fn, a, 6, ""));
  }
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(cg->ctx, ext, "entry"));
  LLVMValueRef a[6];
  for (unsigned i = 0; i < 6; i++) a[i] = LLVMGetParam(ext, i);
  LLVMBuildRet(b, LLVMBuildCall2(b, LLVMGlobalGetValueType(cg->fn), cg->fn, a, 6, ""));
  LLVMDisposeBuilder(b);
  *out_run = run;
  *out_run_ext = ext;
}

static sinter_status_t build_descriptor(cg_t *cg, const sinter_batch_spec_t *spec,
                                        uint64_t arena, const char *weights_file) {
  LLVMValueRef run, ext;
  build_wrappers(cg, &run, &ext);
  LLVMValueRef in = tensor_table(cg, false, spec), out = tensor_table(cg, true, spec);
  if (!in || !out) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "descriptor tables");
  const char *name = cg->opts->model_name ? cg->opts->model_name : sinter_graph_name(cg->g);
  LLVMValueRef f[] = {
      ci32(cg, SINTER_ARTIFACT_ABI_VERSION),
      ci32(cg, sizeof(sinter_artifact_t)),
      const_str(cg, name ? name : "model"),
      const_str(cg, cg->opts->recipe ? cg->opts->recipe : ""),
      ci32(cg, sinter_graph_num_inputs(cg->g)),
      ci32(cg, sinter_graph_num_outputs(cg->g)),
      in,
      out,
      ci64(cg, (int64_t)arena),
      ci64(cg, 0),
      cnull(cg),
      ci64(cg, 64),
      run,
      weights_file ? const_str(cg, weights_file) : cnull(cg),
      ci64(cg, (int64_t)cg->wlen),
      ext,
      ci32(cg, cg->n_prof),
      cg->prof_names ? cg->prof_names : cnull(cg),
      cg->prof_ns ? cg->prof_ns : cnull(cg),
  };
  LLVMValueRef init = LLVMConstStructInContext(cg->ctx, f, sizeof f / sizeof f[0], 0);
  LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), SINTER_ARTIFACT_SYMBOL);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMExternalLinkage);
  LLVMSetVisibility(g, LLVMDefaultVisibility);
  return NULL;
}

/* Everything but the descriptor becomes internal, so the library exports one
 * symbol and unused kernels are dropped by LLVM. */
static void internalize(cg_t *cg) {
  for (LLVMValueRef fn = LLVMGetFirstFunction(cg->mod); fn; fn = LLVMGetNextFunction(fn))
    if (!LLVMIsDeclaration(fn)) LLVMSetLinkage(fn, LLVMInternalLinkage);
  for (LLVMValueRef g = LLVMGetFirstGlobal(cg->mod); g; g = LLVMGetNextGlobal(g)) {
    if (LLVMIsDeclaration(g)) continue;
    const char *n = LLVMGetValueName(g);
    if (strcmp(n, SINTER_ARTIFACT_SYMBOL) && LLVMGetLinkage(g) != LLVMPrivateLinkage)
      LLVMSetLinkage(g, LLVMInternalLinkage);
  }
}

/* ---- profiling: wall time per node, added to a counter array in the library ------------ */

static sinter_status_t profile_begin(cg_t *cg, LLVMBasicBlockRef entry, int32_t total) {
  if (total <= 0) return NULL;
  LLVMTypeRef arr = LLVMArrayType2(cg->i64, (uint64_t)total);
  cg->prof_ns = LLVMAddGlobal(cg->mod, arr, "sinter_profile_ns");
  LLVMSetInitializer(cg->prof_ns, LLVMConstNull(arr));
  LLVMSetAlignment(cg->prof_ns, 64);
  LLVMValueRef *names = malloc(sizeof *names * (size_t)total);
  if (!names) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "profile names");
  int32_t i = 0;
  for (const sinter_node_t *n = sinter_graph_first_node(cg->g); n; n = sinter_node_next(n)) {
    const char *name = sinter_node_name(n);
    if ((!name || !*name) && sinter_node_num_outputs(n))
      name = sinter_value_name(sinter_node_output(n, 0));
    char buf[512];
    snprintf(buf, sizeof buf, "%s (%s)", name ? name : "", sinter_op_info(sinter_node_op(n))->name);
    names[i++] = const_str(cg, buf);
  }
  LLVMValueRef init = LLVMConstArray2(cg->ptr, names, (uint64_t)total);
  free(names);
  cg->prof_names = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), "sinter_profile_names");
  LLVMSetInitializer(cg->prof_names, init);
  LLVMSetGlobalConstant(cg->prof_names, 1);
  cg->n_prof = total;
  /* The timespec lives in the entry block, before the sample loop. */
  LLVMBasicBlockRef here = LLVMGetInsertBlock(cg->b);
  LLVMPositionBuilderBefore(cg->b, LLVMGetBasicBlockTerminator(entry));
  LLVMTypeRef ts[] = {cg->i64, cg->i64};
  cg->prof_ts = LLVMBuildAlloca(cg->b, LLVMStructTypeInContext(cg->ctx, ts, 2, 0), "ts");
  LLVMPositionBuilderAtEnd(cg->b, here);
  return NULL;
}

/* CLOCK_MONOTONIC now, in ns, through libc's clock_gettime. */
static LLVMValueRef profile_now(cg_t *cg) {
  LLVMTypeRef p[] = {cg->i32, cg->ptr};
  LLVMTypeRef fty = LLVMFunctionType(cg->i32, p, 2, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, "clock_gettime");
  if (!fn) fn = LLVMAddFunction(cg->mod, "clock_gettime", fty);
  LLVMBuildCall2(cg->b, fty, fn, (LLVMValueRef[]){ci32(cg, 1 /* CLOCK_MONOTONIC */), cg->prof_ts},
                 2, "");
  LLVMValueRef sec = LLVMBuildLoad2(cg->b, cg->i64, cg->prof_ts, "sec");
  LLVMValueRef nsec = LLVMBuildLoad2(cg->b, cg->i64, gep(cg, cg->prof_ts, ci64(cg, 8)), "nsec");
  return LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, sec, ci64(cg, 1000000000), ""), nsec, "now");
}

static void profile_add(cg_t *cg, int32_t i, LLVMValueRef t0) {
  LLVMValueRef dt = LLVMBuildSub(cg->b, profile_now(cg), t0, "dt");
  LLVMValueRef slot = gep(cg, cg->prof_ns, ci64(cg, (int64_t)i * 8));
  LLVMBuildAtomicRMW(cg->b, LLVMAtomicRMWBinOpAdd, slot, dt, LLVMAtomicOrderingMonotonic, 0);
}

/* Builds the entry: a loop over the batch whose body runs every node. */
static sinter_status_t build_entry(cg_t *cg) {
  LLVMTypeRef params[] = {cg->ptr, cg->ptr, cg->ptr, cg->i64, cg->ptr, cg->ptr};
  cg->fn = LLVMAddFunction(cg->mod, "sinter_model_run", LLVMFunctionType(cg->i32, params, 6, 0));
  LLVMSetLinkage(cg->fn, LLVMInternalLinkage);
  cg->p_inputs = LLVMGetParam(cg->fn, 0);
  cg->p_outputs = LLVMGetParam(cg->fn, 1);
  cg->p_arena = LLVMGetParam(cg->fn, 2);
  LLVMValueRef batch = LLVMGetParam(cg->fn, 3);
  cg->p_exec = LLVMGetParam(cg->fn, 4);
  cg->p_weights = LLVMGetParam(cg->fn, 5);
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "entry");
  LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "sample");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "done");
  LLVMPositionBuilderAtEnd(cg->b, entry);
  LLVMBuildBr(cg->b, loop);
  LLVMPositionBuilderAtEnd(cg->b, loop);
  cg->v_b = LLVMBuildPhi(cg->b, cg->i64, "b");
  int32_t total = sinter_graph_num_nodes(cg->g), i = 0;
  if (cg->opts->profile) SINTER_TRY(profile_begin(cg, entry, total));
  for (sinter_node_t *n = sinter_graph_first_node(cg->g); n; n = sinter_node_next(n), i++) {
    LLVMValueRef t0 = cg->prof_ns ? profile_now(cg) : NULL;
    const sinter_node_t *b;
    pair_kind_t kind = fused_pair(n, &b);
    if (kind != PAIR_NONE) {
      /* one call for both; the profile counts it under the first */
      SINTER_TRY(lower_pair(cg, kind, n, b));
      if (t0) profile_add(cg, i, t0);
      n = sinter_node_next(n);
      i++;
      continue;
    }
    SINTER_TRY(lower_node(cg, n));
    if (t0) profile_add(cg, i, t0);
    if (cg->opts->progress) cg->opts->progress(cg->opts->progress_user, "lowering", i + 1, total);
  }
  /* A graph output that is an input or a constant is copied in. */
  for (int32_t k = 0; k < sinter_graph_num_outputs(cg->g); k++) {
    const sinter_value_t *v = sinter_graph_output(cg->g, k);
    if (sinter_value_kind(v) == SINTER_VALUE_NODE) continue;
    LLVMValueRef src;
    if (sinter_value_kind(v) == SINTER_VALUE_INPUT) {
      int32_t idx = io_index(cg->g, v, false);
      LLVMValueRef slot = LLVMBuildGEP2(cg->b, cg->ptr, cg->p_inputs,
                                        (LLVMValueRef[]){ci64(cg, idx)}, 1, "");
      src = gep(cg, LLVMBuildLoad2(cg->b, cg->ptr, slot, ""),
                LLVMBuildMul(cg->b, cg->v_b, ci64(cg, cg->in_sample_bytes[idx]), ""));
    } else {
      SINTER_TRY(value_ptr(cg, v, &src));
    }
    LLVMValueRef slot = LLVMBuildGEP2(cg->b, cg->ptr, cg->p_outputs,
                                      (LLVMValueRef[]){ci64(cg, k)}, 1, "");
    LLVMValueRef dst = gep(cg, LLVMBuildLoad2(cg->b, cg->ptr, slot, ""),
                           LLVMBuildMul(cg->b, cg->v_b, ci64(cg, cg->out_sample_bytes[k]), ""));
    LLVMBuildMemCpy(cg->b, dst, 1, src, 1, ci64(cg, cg->out_sample_bytes[k]));
  }
  LLVMValueRef next = LLVMBuildAdd(cg->b, cg->v_b, ci64(cg, 1), "b.next");
  LLVMBasicBlockRef tail = LLVMGetInsertBlock(cg->b);
  LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, next, batch, ""), loop, done);
  LLVMValueRef inc_v[] = {ci64(cg, 0), next};
  LLVMBasicBlockRef inc_b[] = {entry, tail};
  LLVMAddIncoming(cg->v_b, inc_v, inc_b, 2);
  LLVMPositionBuilderAtEnd(cg->b, done);
  LLVMBuildRet(cg->b, ci32(cg, 0));
  return NULL;
}

/* ---- emission and linking --------------------------------------------------------------- */

static sinter_status_t run_linker(const char *cc, const char *obj, const char *out) {
  char *argv[] = {(char *)cc, "-shared", "-o", (char *)out, (char *)obj, "-lm",
                  "-Wl,-z,noexecstack", "-Wl,--as-needed", NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, cc, NULL, NULL, argv, environ);
  if (rc != 0)
    return SINTER_ERROR(SINTER_IO_ERROR, "cannot run the linker '%s': %s", cc, strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return SINTER_ERROR(SINTER_IO_ERROR, "waitpid: %s", strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return SINTER_ERROR(SINTER_IO_ERROR, "the linker '%s' failed (status %d) linking %s", cc,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  return NULL;
}

/* Before O3: inline the kernel entries and their small helpers into the
 * model's entry with constant shapes, fold the plan choices, and drop the
 * plans (and kernels) no call uses, so O3 and instruction selection only see
 * code that runs. */
#define PRE_PASSES \
  "globaldce,always-inline,cgscc(inline),function(sroa,early-cse,instcombine<no-verify-fixpoint>,sccp,simplifycfg)," \
  "globaldce"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static sinter_status_t check_static(const sinter_graph_t *g) {
  for (sinter_node_t *n = sinter_graph_first_node(g); n; n = sinter_node_next(n)) {
    for (int32_t k = 0; k < sinter_node_num_outputs(n); k++) {
      const sinter_value_t *v = sinter_node_output(n, k);
      if (v && !sinter_type_is_static(vtype(v))) {
        char buf[128];
        return SINTER_ERROR(SINTER_UNSUPPORTED,
                            "node '%s': output '%s' has the non-static type %s; the CPU code "
                            "generator needs static shapes (specialize the batch first)",
                            sinter_node_name(n), sinter_value_name(v),
                            sinter_type_format(vtype(v), buf, sizeof buf));
      }
    }
  }
  for (int32_t i = 0; i < sinter_graph_num_inputs(g); i++)
    if (!sinter_type_is_static(vtype(sinter_graph_input(g, i))))
      return SINTER_ERROR(SINTER_UNSUPPORTED, "input '%s' does not have a static shape",
                          sinter_value_name(sinter_graph_input(g, i)));
  return NULL;
}

static sinter_status_t sample_bytes(cg_t *cg) {
  int32_t ni = sinter_graph_num_inputs(cg->g), no = sinter_graph_num_outputs(cg->g);
  cg->in_sample_bytes = calloc((size_t)ni + 1, sizeof(int64_t));
  cg->out_sample_bytes = calloc((size_t)no + 1, sizeof(int64_t));
  if (!cg->in_sample_bytes || !cg->out_sample_bytes)
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "io table");
  for (int32_t i = 0; i < ni; i++) {
    const sinter_value_t *v = sinter_graph_input(cg->g, i);
    cg->in_sample_bytes[i] = numel(v) * elem_size(vtype(v)->dtype);
  }
  for (int32_t i = 0; i < no; i++) {
    const sinter_value_t *v = sinter_graph_output(cg->g, i);
    cg->out_sample_bytes[i] = numel(v) * elem_size(vtype(v)->dtype);
  }
  return NULL;
}

sinter_status_t sinter_compile_cpu(sinter_graph_t *graph, const sinter_cpu_options_t *opts,
                                   const char *out_path, sinter_cpu_report_t *report) {
  if (!graph || !opts || !out_path)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "graph, options or output path is NULL");
  SINTER_TRY(check_static(graph));
  double t0 = now_s();
  cg_t cg = {.g = graph, .opts = opts};
  sinter_status_t st = NULL;
  char *cpu = NULL, *features = NULL, *obj = NULL, *tmp_so = NULL, *wpath = NULL;
  const char *wname = NULL;
  LLVMTargetMachineRef tm = NULL;
  cg.ctx = LLVMContextCreate();
  if ((st = make_target(opts, &tm, &cpu, &features, &cg.feats))) goto done;
  if ((st = sinter_codegen_load_kernels(cg.ctx, &cg.mod))) goto done;
  cg.b = LLVMCreateBuilderInContext(cg.ctx);
  cg.i8 = LLVMInt8TypeInContext(cg.ctx);
  cg.i32 = LLVMInt32TypeInContext(cg.ctx);
  cg.i64 = LLVMInt64TypeInContext(cg.ctx);
  cg.f32 = LLVMFloatTypeInContext(cg.ctx);
  cg.ptr = LLVMPointerTypeInContext(cg.ctx, 0);
  cg.voidt = LLVMVoidTypeInContext(cg.ctx);
  if ((st = sample_bytes(&cg))) goto done;
  sinter_memplan_options_t mo = {.alignment = 64, .joins_next = joins_next};
  if ((st = sinter_memplan_create(graph, &mo, &cg.plan))) goto done;
  cg.scratch_off = sinter_memplan_arena_size(cg.plan);
  if ((st = build_entry(&cg))) goto done;
  uint64_t arena = cg.scratch_off + ((cg.scratch_max + 63) & ~(uint64_t)63);
  if (opts->weights_external) {
    /* OUT.so -> OUT.weights beside it; the descriptor records the base name. */
    size_t n = strlen(out_path);
    wpath = malloc(n + 16);
    if (!wpath) {
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "path");
      goto done;
    }
    strcpy(wpath, out_path);
    char *dot = strrchr(wpath, '.'), *slash = strrchr(wpath, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    strcat(wpath, ".weights");
    wname = strrchr(wpath, '/') ? strrchr(wpath, '/') + 1 : wpath;
  }
  if ((st = build_descriptor(&cg, opts->batch, arena, wname))) goto done;
  internalize(&cg);
  retarget_functions(&cg, cpu, features);
  char *err = NULL;
  if (LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &err)) {
    st = SINTER_ERROR(SINTER_INTERNAL, "generated LLVM module is invalid: %.400s", err ? err : "?");
    LLVMDisposeMessage(err);
    goto done;
  }
  LLVMDisposeMessage(err);
  double t1 = now_s();
  if (opts->progress) opts->progress(opts->progress_user, "optimizing", 0, 1);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(cg.mod, td);
  LLVMDisposeTargetData(td);
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(cg.mod, triple);
  LLVMDisposeMessage(triple);
  LLVMPassBuilderOptionsRef pbo = LLVMCreatePassBuilderOptions();
  LLVMErrorRef perr = LLVMRunPasses(cg.mod, opts->llvm_passes ? opts->llvm_passes : PRE_PASSES ",default<O3>",
                                    tm, pbo);
  LLVMDisposePassBuilderOptions(pbo);
  if (perr) {
    char *m = LLVMGetErrorMessage(perr);
    st = SINTER_ERROR(SINTER_INTERNAL, "LLVM passes failed: %s", m);
    LLVMDisposeErrorMessage(m);
    goto done;
  }
  double t2 = now_s();
  if (opts->progress) opts->progress(opts->progress_user, "emitting", 0, 1);
  size_t n = strlen(out_path);
  obj = malloc(n + 32);
  tmp_so = malloc(n + 32);
  if (!obj || !tmp_so) {
    st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "path");
    goto done;
  }
  snprintf(obj, n + 32, "%s.%ld.tmp.o", out_path, (long)getpid());
  snprintf(tmp_so, n + 32, "%s.%ld.tmp.so", out_path, (long)getpid());
  err = NULL;
  if (LLVMTargetMachineEmitToFile(tm, cg.mod, obj, LLVMObjectFile, &err)) {
    st = SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot emit the object file: %s", obj,
                      err ? err : "?");
    LLVMDisposeMessage(err);
    goto done;
  }
  double t3 = now_s();
  if (opts->progress) opts->progress(opts->progress_user, "linking", 0, 1);
  if ((st = run_linker(opts->linker ? opts->linker : "cc", obj, tmp_so))) goto done;
  if (wpath && (st = sinter_write_file_atomic(wpath, cg.wbuf ? (void *)cg.wbuf : "", cg.wlen)))
    goto done;
  if (rename(tmp_so, out_path) != 0) {
    st = SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot rename into place: %s", out_path,
                      strerror(errno));
    goto done;
  }
  double t4 = now_s();
  if (report) {
    memset(report, 0, sizeof *report);
    report->arena_bytes = arena;
    report->plan_bytes = sinter_memplan_arena_size(cg.plan);
    report->naive_bytes = sinter_memplan_naive_size(cg.plan);
    report->scratch_bytes = cg.scratch_max;
    report->weight_bytes = opts->weights_external ? cg.wlen : cg.embedded_bytes;
    report->seconds_lower = t1 - t0;
    report->seconds_optimize = t2 - t1;
    report->seconds_emit = t3 - t2;
    report->seconds_link = t4 - t3;
    snprintf(report->cpu, sizeof report->cpu, "%s", cpu);
    report->vnni = (cg.feats & F_VNNI) != 0;
    report->amx = (cg.feats & F_AMX) != 0;
    report->avx512 = (cg.feats & F_AVX512) != 0;
  }
done:
  if (obj) unlink(obj);
  if (tmp_so) unlink(tmp_so);
  free(obj);
  free(tmp_so);
  free(wpath);
  free(cg.wbuf);
  free(cg.blobs);
  free(cg.in_sample_bytes);
  free(cg.out_sample_bytes);
  sinter_memplan_destroy(cg.plan);
  if (cg.b) LLVMDisposeBuilder(cg.b);
  if (cg.mod) LLVMDisposeModule(cg.mod);
  if (tm) LLVMDisposeTargetMachine(tm);
  if (cpu) LLVMDisposeMessage(cpu);
  free(features);
  LLVMContextDispose(cg.ctx);
  return st;
}
