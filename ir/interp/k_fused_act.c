/* Reference kernels for Sinter's fused linear ops with an activation epilogue
 * (domain ai.sinter): FusedConv, FusedGemm and FusedMatMul. Each runs the
 * standard op's own implementation (Conv, Gemm, MatMul) through the op
 * registry, then adds FusedConv's residual or FusedMatMul's bias and applies
 * the epilogue in place. */
#include "ir/interp/k_fused_act.h"

/* ---- the epilogue ------------------------------------------------------------ */

static const char *const act_names[SINTER_FUSED_ACT_COUNT] = {
    [SINTER_FUSED_ACT_NONE] = "",
    [SINTER_FUSED_ACT_RELU] = "Relu",
    [SINTER_FUSED_ACT_CLIP] = "Clip",
    [SINTER_FUSED_ACT_LEAKY_RELU] = "LeakyRelu",
    [SINTER_FUSED_ACT_SIGMOID] = "Sigmoid",
    [SINTER_FUSED_ACT_HARD_SIGMOID] = "HardSigmoid",
    [SINTER_FUSED_ACT_HARD_SWISH] = "HardSwish",
    [SINTER_FUSED_ACT_GELU] = "Gelu",
    [SINTER_FUSED_ACT_SILU] = "Silu",
    [SINTER_FUSED_ACT_TANH] = "Tanh",
};

const char *sinter_fused_act_name(sinter_fused_act_kind_t kind) {
  return kind >= 0 && kind < SINTER_FUSED_ACT_COUNT ? act_names[kind] : "";
}

sinter_fused_act_kind_t sinter_fused_act_from_name(const char *name) {
  if (!name || !*name) return SINTER_FUSED_ACT_NONE;
  for (int k = 1; k < SINTER_FUSED_ACT_COUNT; k++)
    if (strcmp(act_names[k], name) == 0) return (sinter_fused_act_kind_t)k;
  return SINTER_FUSED_ACT_COUNT;
}

int32_t sinter_fused_act_num_params(sinter_fused_act_kind_t kind) {
  switch (kind) {
    case SINTER_FUSED_ACT_CLIP:
    case SINTER_FUSED_ACT_HARD_SIGMOID: return 2;
    case SINTER_FUSED_ACT_LEAKY_RELU: return 1;
    default: return 0;
  }
}

void sinter_fused_act_defaults(sinter_fused_act_kind_t kind, float *out) {
  out[0] = out[1] = 0.0f;
  switch (kind) {
    case SINTER_FUSED_ACT_CLIP:
      out[0] = -INFINITY;
      out[1] = INFINITY;
      break;
    case SINTER_FUSED_ACT_LEAKY_RELU: out[0] = 0.01f; break; /* ONNX LeakyRelu's default */
    case SINTER_FUSED_ACT_HARD_SIGMOID:                      /* ONNX HardSigmoid's defaults */
      out[0] = 0.2f;
      out[1] = 0.5f;
      break;
    default: break;
  }
}

sinter_status_t sinter_fused_act_read(const sinter_node_t *node, sinter_fused_act_t *out) {
  memset(out, 0, sizeof(*out));
  const sinter_attr_t *a = sinter_node_attr(node, "activation");
  if (a && a->kind != SINTER_ATTR_STRING)
    return SINTER_NODE_ERROR("attribute activation must be a string");
  const char *name = a ? a->s : "";
  sinter_fused_act_kind_t kind = sinter_fused_act_from_name(name);
  if (kind == SINTER_FUSED_ACT_COUNT)
    return SINTER_NODE_ERROR(
        "activation '%s' is not Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Gelu, "
        "Silu or Tanh",
        name);
  out->kind = kind;
  sinter_fused_act_defaults(kind, out->p);
  int32_t want = sinter_fused_act_num_params(kind);
  const sinter_attr_t *p = sinter_node_attr(node, "activation_params");
  if (p) {
    if (p->kind != SINTER_ATTR_FLOATS)
      return SINTER_NODE_ERROR("attribute activation_params must be a list of floats");
    if (p->count != 0 && p->count != want)
      return SINTER_NODE_ERROR("activation_params has %lld entries, but %s takes %d",
                               (long long)p->count, kind ? name : "no activation", want);
    for (int64_t i = 0; i < p->count; i++) out->p[i] = p->floats[i];
  }
  const sinter_attr_t *ap = sinter_node_attr(node, "approximate");
  if (ap) {
    if (kind != SINTER_FUSED_ACT_GELU)
      return SINTER_NODE_ERROR("attribute approximate is only for activation Gelu");
    if (ap->kind != SINTER_ATTR_STRING ||
        (strcmp(ap->s, "none") != 0 && strcmp(ap->s, "tanh") != 0))
      return SINTER_NODE_ERROR("approximate must be \"none\" or \"tanh\"");
    out->gelu_tanh = strcmp(ap->s, "tanh") == 0;
  }
  return NULL;
}

/* The epilogue over one row of T (float or double). The formulas are those of
 * the standalone ops in k_elementwise.c, element for element; SiLU is
 * x * Sigmoid(x) computed as the two-op graph computes it in T. */
#define DEFINE_APPLY(NAME, T, F)                                                              \
  static void NAME(const sinter_fused_act_t *act, T *xs, int64_t n) {                         \
    const T zero = 0, one = 1, half = (T)0.5, p0 = (T)act->p[0], p1 = (T)act->p[1];           \
    switch (act->kind) {                                                                      \
      case SINTER_FUSED_ACT_NONE: break;                                                      \
      case SINTER_FUSED_ACT_RELU:                                                             \
        for (int64_t i = 0; i < n; i++) xs[i] = xs[i] < zero ? zero : xs[i];                  \
        break;                                                                                \
      case SINTER_FUSED_ACT_CLIP:                                                             \
        /* max then min, so min > max gives max as ONNX says; NaN passes through */           \
        for (int64_t i = 0; i < n; i++) {                                                     \
          T x = xs[i] < p0 ? p0 : xs[i];                                                      \
          xs[i] = x > p1 ? p1 : x;                                                            \
        }                                                                                     \
        break;                                                                                \
      case SINTER_FUSED_ACT_LEAKY_RELU:                                                       \
        for (int64_t i = 0; i < n; i++) xs[i] = xs[i] < zero ? p0 * xs[i] : xs[i];            \
        break;                                                                                \
      case SINTER_FUSED_ACT_SIGMOID:                                                          \
      case SINTER_FUSED_ACT_SILU:                                                             \
        for (int64_t i = 0; i < n; i++) {                                                     \
          T x = xs[i];                                                                        \
          T s = x >= zero ? one / (one + exp##F(-x)) : exp##F(x) / (one + exp##F(x));         \
          xs[i] = act->kind == SINTER_FUSED_ACT_SILU ? x * s : s;                             \
        }                                                                                     \
        break;                                                                                \
      case SINTER_FUSED_ACT_HARD_SIGMOID:                                                     \
        for (int64_t i = 0; i < n; i++) xs[i] = fmax##F(zero, fmin##F(one, p0 * xs[i] + p1)); \
        break;                                                                                \
      case SINTER_FUSED_ACT_HARD_SWISH:                                                       \
        for (int64_t i = 0; i < n; i++) {                                                     \
          T x = xs[i];                                                                        \
          xs[i] = x * fmax##F(zero, fmin##F(one, x / (T)6 + half));                           \
        }                                                                                     \
        break;                                                                                \
      case SINTER_FUSED_ACT_GELU:                                                             \
        if (act->gelu_tanh) {                                                                 \
          const T k = (T)0.7978845608028654; /* sqrt(2/pi) */                                 \
          for (int64_t i = 0; i < n; i++) {                                                   \
            T x = xs[i];                                                                      \
            xs[i] = (half * x) * (one + tanh##F(k * (x + (T)0.044715 * x * x * x)));          \
          }                                                                                   \
        } else {                                                                              \
          /* erfc keeps precision where 1 + erf(x) would cancel */                            \
          for (int64_t i = 0; i < n; i++)                                                     \
            xs[i] = (half * xs[i]) * erfc##F(xs[i] * (T)-0.7071067811865476);                 \
        }                                                                                     \
        break;                                                                                \
      case SINTER_FUSED_ACT_TANH:                                                             \
        for (int64_t i = 0; i < n; i++) xs[i] = tanh##F(xs[i]);                               \
        break;                                                                                \
      default: break;                                                                         \
    }                                                                                         \
  }

DEFINE_APPLY(apply_f32, float, f)
DEFINE_APPLY(apply_f64, double, )

sinter_status_t sinter_fused_act_apply(const sinter_fused_act_t *act, sinter_tensor_t *t) {
  if (act->kind == SINTER_FUSED_ACT_NONE) return NULL;
  if (!sinter_dtype_is_float(t->dtype))
    return SINTER_NODE_ERROR("activation %s needs a float output, not %s",
                             sinter_fused_act_name(act->kind), sinter_dtype_name(t->dtype));
  int64_t n = sinter_tensor_numel(t);
  if (n <= 0) return NULL;
  if (t->dtype == SINTER_DTYPE_F32) {
    apply_f32(act, t->data, n);
  } else if (t->dtype == SINTER_DTYPE_F64) {
    apply_f64(act, t->data, n);
  } else {
    /* Narrow floats compute in f32 and round once on the way back, as the
     * standalone activation kernels do. */
    float *tmp = sinter_tensor_to_f32(t);
    if (!tmp) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    apply_f32(act, tmp, n);
    sinter_tensor_from_f32(t, tmp, n);
    free(tmp);
  }
  return NULL;
}

/* ---- shared plumbing ---------------------------------------------------------- */

static const sinter_op_impl_t *base_impl(sinter_op_t op) {
  const sinter_op_impl_t *impl = sinter_op_impl(op);
  return impl && impl->infer && impl->run ? impl : NULL;
}

static sinter_status_t infer_with(sinter_op_t base, sinter_infer_ctx_t *ctx) {
  sinter_fused_act_t act;
  SINTER_TRY(sinter_fused_act_read(ctx->node, &act));
  const sinter_op_impl_t *impl = base_impl(base);
  if (!impl)
    return SINTER_ERROR(SINTER_INTERNAL, "no implementation of %s", sinter_op_info(base)->name);
  SINTER_TRY(impl->infer(ctx));
  sinter_dtype_t dt = ctx->out[0].dtype;
  if (dt != SINTER_DTYPE_UNDEFINED && !sinter_dtype_is_float(dt))
    return SINTER_NODE_ERROR("dtype %s is not a float type", sinter_dtype_name(dt));
  return NULL;
}

static sinter_status_t run_with(sinter_op_t base, sinter_kernel_ctx_t *ctx,
                                sinter_fused_act_t *act) {
  SINTER_TRY(sinter_fused_act_read(ctx->node, act));
  const sinter_op_impl_t *impl = base_impl(base);
  if (!impl)
    return SINTER_ERROR(SINTER_INTERNAL, "no implementation of %s", sinter_op_info(base)->name);
  if (!sinter_dtype_is_float(ctx->in[0]->dtype))
    return SINTER_NODE_ERROR("dtype %s is not a float type", sinter_dtype_name(ctx->in[0]->dtype));
  return impl->run(ctx);
}

/* ---- FusedConv ------------------------------------------------------------------ */

/* True when dims a and b may be equal at run time: only two different
 * constants cannot (two different symbols may still bind the same size). */
static bool dims_may_equal(sinter_dim_t a, sinter_dim_t b) {
  return a.size < 0 || b.size < 0 || a.size == b.size;
}

/* Conv's own inference and kernel read only Conv's attributes and inputs X,
 * W and B, which FusedConv carries unchanged; the epilogue attributes and the
 * residual Z (input 3), which must have the conv output's dtype and shape
 * (no broadcasting), are checked here. */
static sinter_status_t fused_conv_infer(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(infer_with(SINTER_OP_CONV, ctx));
  const sinter_type_t *z = ctx->n_inputs > 3 ? ctx->in[3] : NULL;
  if (!z) return NULL;
  const sinter_type_t *o = &ctx->out[0];
  if (z->dtype != SINTER_DTYPE_UNDEFINED && o->dtype != SINTER_DTYPE_UNDEFINED &&
      z->dtype != o->dtype)
    return SINTER_NODE_ERROR("residual Z has dtype %s, but the convolution gives %s",
                             sinter_dtype_name(z->dtype), sinter_dtype_name(o->dtype));
  if (z->rank < 0 || o->rank < 0) return NULL;
  if (z->rank != o->rank)
    return SINTER_NODE_ERROR("residual Z has rank %d, but the convolution output has rank %d",
                             z->rank, o->rank);
  for (int32_t i = 0; i < z->rank; i++)
    if (!dims_may_equal(z->dims[i], o->dims[i]))
      return SINTER_NODE_ERROR(
          "residual Z must have the convolution output's shape: dim %d is %lld, not %lld", i,
          (long long)z->dims[i].size, (long long)o->dims[i].size);
  return NULL;
}

/* y += z elementwise, same shape and dtype, rounding to y's dtype after the
 * add as a separate Add would. */
static sinter_status_t add_residual(const sinter_tensor_t *z, sinter_tensor_t *y) {
  if (z->dtype != y->dtype)
    return SINTER_NODE_ERROR("residual Z has dtype %s, but the convolution gives %s",
                             sinter_dtype_name(z->dtype), sinter_dtype_name(y->dtype));
  bool same = z->rank == y->rank;
  for (int32_t i = 0; same && i < y->rank; i++) same = z->dims[i] == y->dims[i];
  if (!same) return SINTER_NODE_ERROR("residual Z must have the convolution output's shape");
  int64_t n = sinter_tensor_numel(y);
  if (n <= 0) return NULL;
  if (y->dtype == SINTER_DTYPE_F32) {
    float *ys = y->data;
    const float *zs = z->data;
    for (int64_t i = 0; i < n; i++) ys[i] += zs[i];
  } else if (y->dtype == SINTER_DTYPE_F64) {
    double *ys = y->data;
    const double *zs = z->data;
    for (int64_t i = 0; i < n; i++) ys[i] += zs[i];
  } else {
    float *ys = sinter_tensor_to_f32(y), *zs = sinter_tensor_to_f32(z);
    if (!ys || !zs) {
      free(ys);
      free(zs);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) ys[i] += zs[i];
    sinter_tensor_from_f32(y, ys, n);
    free(ys);
    free(zs);
  }
  return NULL;
}

static sinter_status_t fused_conv_run(sinter_kernel_ctx_t *ctx) {
  sinter_fused_act_t act;
  SINTER_TRY(run_with(SINTER_OP_CONV, ctx, &act));
  const sinter_tensor_t *z = ctx->n_inputs > 3 ? ctx->in[3] : NULL;
  if (z) SINTER_TRY(add_residual(z, &ctx->out[0]));
  return sinter_fused_act_apply(&act, &ctx->out[0]);
}

/* ---- FusedGemm ------------------------------------------------------------------ */

static sinter_status_t fused_gemm_infer(sinter_infer_ctx_t *ctx) {
  return infer_with(SINTER_OP_GEMM, ctx);
}

static sinter_status_t fused_gemm_run(sinter_kernel_ctx_t *ctx) {
  sinter_fused_act_t act;
  SINTER_TRY(run_with(SINTER_OP_GEMM, ctx, &act));
  return sinter_fused_act_apply(&act, &ctx->out[0]);
}

/* ---- FusedMatMul ---------------------------------------------------------------- */

/* MatMul's inference for inputs A and B; the bias, when present, is a 1-D
 * tensor as long as the output's last dim, of the same dtype. */
static sinter_status_t fused_matmul_infer(sinter_infer_ctx_t *ctx) {
  SINTER_TRY(infer_with(SINTER_OP_MATMUL, ctx));
  const sinter_type_t *b = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  if (!b) return NULL;
  const sinter_type_t *o = &ctx->out[0];
  if (b->dtype != SINTER_DTYPE_UNDEFINED && o->dtype != SINTER_DTYPE_UNDEFINED &&
      b->dtype != o->dtype)
    return SINTER_NODE_ERROR("bias has dtype %s, but the product has %s",
                             sinter_dtype_name(b->dtype), sinter_dtype_name(o->dtype));
  if (b->rank >= 0 && b->rank != 1)
    return SINTER_NODE_ERROR("bias must have rank 1, has rank %d", b->rank);
  if (o->rank == 0) return SINTER_NODE_ERROR("a bias needs a product of rank >= 1");
  if (b->rank == 1 && o->rank > 0) {
    sinter_dim_t bn = b->dims[0], on = o->dims[o->rank - 1];
    if (bn.size >= 0 && on.size >= 0 && bn.size != on.size)
      return SINTER_NODE_ERROR("bias has %lld elements, but the product's last dim is %lld",
                               (long long)bn.size, (long long)on.size);
  }
  return NULL;
}

/* y[..., j] += bias[j], rounding to y's dtype after the add as a separate Add
 * would. */
static sinter_status_t add_bias(const sinter_tensor_t *bias, sinter_tensor_t *y) {
  if (y->rank < 1) return SINTER_NODE_ERROR("a bias needs a product of rank >= 1");
  int64_t n = y->dims[y->rank - 1];
  if (bias->rank != 1 || bias->dims[0] != n)
    return SINTER_NODE_ERROR("bias must have shape [%lld]", (long long)n);
  if (bias->dtype != y->dtype)
    return SINTER_NODE_ERROR("bias has dtype %s, but the product has %s",
                             sinter_dtype_name(bias->dtype), sinter_dtype_name(y->dtype));
  int64_t total = sinter_tensor_numel(y);
  if (total <= 0 || n <= 0) return NULL;
  if (y->dtype == SINTER_DTYPE_F32) {
    float *ys = y->data;
    const float *bs = bias->data;
    for (int64_t r = 0; r < total / n; r++)
      for (int64_t j = 0; j < n; j++) ys[r * n + j] += bs[j];
  } else if (y->dtype == SINTER_DTYPE_F64) {
    double *ys = y->data;
    const double *bs = bias->data;
    for (int64_t r = 0; r < total / n; r++)
      for (int64_t j = 0; j < n; j++) ys[r * n + j] += bs[j];
  } else {
    float *ys = sinter_tensor_to_f32(y), *bs = sinter_tensor_to_f32(bias);
    if (!ys || !bs) {
      free(ys);
      free(bs);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
    }
    for (int64_t r = 0; r < total / n; r++)
      for (int64_t j = 0; j < n; j++) ys[r * n + j] += bs[j];
    sinter_tensor_from_f32(y, ys, total);
    free(ys);
    free(bs);
  }
  return NULL;
}

static sinter_status_t fused_matmul_run(sinter_kernel_ctx_t *ctx) {
  sinter_fused_act_t act;
  SINTER_TRY(run_with(SINTER_OP_MATMUL, ctx, &act));
  const sinter_tensor_t *bias = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  if (bias) SINTER_TRY(add_bias(bias, &ctx->out[0]));
  return sinter_fused_act_apply(&act, &ctx->out[0]);
}

const sinter_op_impl_t sinter_impl_fused_act[] = {
    {SINTER_OP_FUSED_CONV, fused_conv_infer, fused_conv_run},
    {SINTER_OP_FUSED_GEMM, fused_gemm_infer, fused_gemm_run},
    {SINTER_OP_FUSED_MATMUL, fused_matmul_infer, fused_matmul_run},
    {0},
};
