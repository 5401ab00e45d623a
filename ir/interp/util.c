/* Helpers shared by the op implementations: scalar conversions, element
 * access by dtype, broadcasting, and the op implementation registry. */
#include "ir/interp/kernels.h"

/* ---- registry ------------------------------------------------------------ */

const sinter_op_impl_t *sinter_op_impl(sinter_op_t op) {
  static const sinter_op_impl_t *const families[] = {
      sinter_impl_elementwise, sinter_impl_nn, sinter_impl_linalg, sinter_impl_shape,
      sinter_impl_quant, sinter_impl_fused_act, sinter_impl_fused_norm, sinter_impl_fused_attn,
      sinter_impl_qfused,
  };
  for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
    for (const sinter_op_impl_t *e = families[f]; e->op; e++)
      if (e->op == op) return e;
  return NULL;
}

sinter_status_t sinter_infer_node(sinter_infer_ctx_t *ctx) {
  const sinter_op_info_t *info = sinter_op_info(ctx->node->op);
  if (!info) return SINTER_ERROR(SINTER_INTERNAL, "invalid op");
  int32_t present = ctx->n_inputs;
  while (present > 0 && !ctx->in[present - 1]) present--;
  if (present < info->min_inputs || (info->max_inputs >= 0 && ctx->n_inputs > info->max_inputs))
    return SINTER_NODE_ERROR("%s takes %d to %d inputs, got %d", info->name, info->min_inputs,
                             info->max_inputs, ctx->n_inputs);
  for (int32_t i = 0; i < info->min_inputs; i++)
    if (!ctx->in[i]) return SINTER_NODE_ERROR("required input %d is missing", i);
  if (ctx->n_outputs < info->min_outputs ||
      (info->max_outputs >= 0 && ctx->n_outputs > info->max_outputs))
    return SINTER_NODE_ERROR("%s has %d to %d outputs, got %d", info->name, info->min_outputs,
                             info->max_outputs, ctx->n_outputs);
  const sinter_op_impl_t *impl = sinter_op_impl(ctx->node->op);
  if (!impl || !impl->infer)
    return SINTER_NODE_UNSUPPORTED("op %s has no shape inference yet", info->name);
  return impl->infer(ctx);
}

/* ---- scalar conversions -------------------------------------------------- */

float sinter_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: renormalize */
      int e = -1;
      do {
        e++;
        man <<= 1;
      } while (!(man & 0x400));
      bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | man << 13;
  } else {
    bits = sign | (exp + 112) << 23 | man << 13;
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t sinter_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx > 0x7f800000) return (uint16_t)(sign | 0x7e00); /* NaN */
  if (absx >= 0x477ff000) {                                 /* rounds to >= 65520: inf */
    return (uint16_t)(sign | 0x7c00);
  }
  if (absx < 0x38800000) { /* below the smallest normal half: subnormal or zero */
    float a;
    memcpy(&a, &absx, 4);
    /* Scale so the subnormal LSB is 1, then round to nearest even. */
    float scaled = a * 16777216.0f; /* 2^24 */
    uint32_t r = (uint32_t)nearbyintf(scaled);
    return (uint16_t)(sign | r);
  }
  uint32_t man = absx & 0x7fffff;
  uint32_t exp = (absx >> 23) - 112;
  uint32_t h = exp << 10 | man >> 13;
  uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

float sinter_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t sinter_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
  uint32_t lsb = (x >> 16) & 1;
  x += 0x7fff + lsb;
  return (uint16_t)(x >> 16);
}

float sinter_f8e4m3_to_f32(uint8_t v) {
  uint32_t sign = v & 0x80;
  uint32_t exp = (v >> 3) & 0xf;
  uint32_t man = v & 7;
  float r;
  if (exp == 0xf && man == 7) return NAN;
  if (exp == 0)
    r = ldexpf((float)man, -9); /* subnormal: man * 2^-6 * 2^-3 */
  else
    r = ldexpf(1.0f + (float)man / 8.0f, (int)exp - 7);
  return sign ? -r : r;
}

uint8_t sinter_f32_to_f8e4m3(float f) {
  if (isnan(f)) return 0x7f;
  uint8_t sign = signbit(f) ? 0x80 : 0;
  float a = fabsf(f);
  if (a >= 448.0f) return sign | 0x7e; /* saturate to the largest finite */
  /* Search the nearest representable value; 127 candidates, ties to even. */
  uint8_t best = 0;
  float best_err = INFINITY;
  for (uint8_t c = 0; c < 0x7f; c++) {
    float err = fabsf(sinter_f8e4m3_to_f32(c) - a);
    if (err < best_err || (err == best_err && !(c & 1))) {
      best_err = err;
      best = c;
    }
  }
  return sign | best;
}

/* ---- element access ------------------------------------------------------ */

double sinter_load_f64(const void *data, sinter_dtype_t dtype, int64_t i) {
  switch (dtype) {
    case SINTER_DTYPE_F32: return ((const float *)data)[i];
    case SINTER_DTYPE_F64: return ((const double *)data)[i];
    case SINTER_DTYPE_F16: return sinter_f16_to_f32(((const uint16_t *)data)[i]);
    case SINTER_DTYPE_BF16: return sinter_bf16_to_f32(((const uint16_t *)data)[i]);
    case SINTER_DTYPE_F8E4M3: return sinter_f8e4m3_to_f32(((const uint8_t *)data)[i]);
    default: return (double)sinter_load_i64(data, dtype, i);
  }
}

int64_t sinter_load_i64(const void *data, sinter_dtype_t dtype, int64_t i) {
  switch (dtype) {
    case SINTER_DTYPE_I64: return ((const int64_t *)data)[i];
    case SINTER_DTYPE_I32: return ((const int32_t *)data)[i];
    case SINTER_DTYPE_I16: return ((const int16_t *)data)[i];
    case SINTER_DTYPE_I8: return ((const int8_t *)data)[i];
    case SINTER_DTYPE_U8: return ((const uint8_t *)data)[i];
    case SINTER_DTYPE_U16: return ((const uint16_t *)data)[i];
    case SINTER_DTYPE_U32: return ((const uint32_t *)data)[i];
    case SINTER_DTYPE_U64: return (int64_t)((const uint64_t *)data)[i];
    case SINTER_DTYPE_BOOL: return ((const uint8_t *)data)[i] != 0;
    case SINTER_DTYPE_I4: {
      uint8_t b = ((const uint8_t *)data)[i / 2];
      int v = (i & 1) ? b >> 4 : b & 0xf;
      return v >= 8 ? v - 16 : v;
    }
    case SINTER_DTYPE_U4: {
      uint8_t b = ((const uint8_t *)data)[i / 2];
      return (i & 1) ? b >> 4 : b & 0xf;
    }
    default: {
      double d = sinter_load_f64(data, dtype, i);
      if (isnan(d)) return 0;
      if (d >= 9.2233720368547758e18) return INT64_MAX;
      if (d <= -9.2233720368547758e18) return INT64_MIN;
      return (int64_t)d;
    }
  }
}

void sinter_store_f64(void *data, sinter_dtype_t dtype, int64_t i, double v) {
  switch (dtype) {
    case SINTER_DTYPE_F32: ((float *)data)[i] = (float)v; return;
    case SINTER_DTYPE_F64: ((double *)data)[i] = v; return;
    case SINTER_DTYPE_F16: ((uint16_t *)data)[i] = sinter_f32_to_f16((float)v); return;
    case SINTER_DTYPE_BF16: ((uint16_t *)data)[i] = sinter_f32_to_bf16((float)v); return;
    case SINTER_DTYPE_F8E4M3: ((uint8_t *)data)[i] = sinter_f32_to_f8e4m3((float)v); return;
    case SINTER_DTYPE_BOOL: ((uint8_t *)data)[i] = v != 0; return;
    default: {
      int64_t iv;
      if (isnan(v)) iv = 0;
      else if (v >= 9.2233720368547758e18) iv = INT64_MAX;
      else if (v <= -9.2233720368547758e18) iv = INT64_MIN;
      else iv = (int64_t)v;
      sinter_store_i64(data, dtype, i, iv);
      return;
    }
  }
}

void sinter_store_i64(void *data, sinter_dtype_t dtype, int64_t i, int64_t v) {
  switch (dtype) {
    case SINTER_DTYPE_I64: ((int64_t *)data)[i] = v; return;
    case SINTER_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)v; return;
    case SINTER_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)v; return;
    case SINTER_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)v; return;
    case SINTER_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)v; return;
    case SINTER_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)v; return;
    case SINTER_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)v; return;
    case SINTER_DTYPE_U64: ((uint64_t *)data)[i] = (uint64_t)v; return;
    case SINTER_DTYPE_BOOL: ((uint8_t *)data)[i] = v != 0; return;
    case SINTER_DTYPE_I4: case SINTER_DTYPE_U4: {
      uint8_t *b = (uint8_t *)data + i / 2;
      uint8_t nib = (uint8_t)(v & 0xf);
      *b = (i & 1) ? (uint8_t)((*b & 0x0f) | nib << 4) : (uint8_t)((*b & 0xf0) | nib);
      return;
    }
    default:
      /* Only floats are left; anything else (an invalid dtype) is ignored
       * rather than bouncing between the two stores forever. */
      if (sinter_dtype_is_float(dtype)) sinter_store_f64(data, dtype, i, (double)v);
      return;
  }
}

/* ---- tensors ------------------------------------------------------------- */

sinter_status_t sinter_kernel_alloc_output(sinter_kernel_ctx_t *ctx, int32_t index,
                                           sinter_dtype_t dtype, int32_t rank,
                                           const int64_t *dims) {
  if (index < 0 || index >= ctx->n_outputs)
    return SINTER_ERROR(SINTER_INTERNAL, "output index %d out of range", index);
  if (rank < 0 || rank > SINTER_MAX_RANK)
    return SINTER_NODE_UNSUPPORTED("output rank %d above the limit %d", rank, SINTER_MAX_RANK);
  sinter_tensor_t *t = &ctx->out[index];
  free(t->data);
  memset(t, 0, sizeof(*t));
  t->dtype = dtype;
  t->rank = rank;
  for (int32_t i = 0; i < rank; i++) t->dims[i] = dims[i];
  int64_t n = sinter_tensor_numel(t);
  size_t bytes;
  if (n < 0 || !sinter_dtype_storage_size(dtype, n, &bytes))
    return SINTER_NODE_ERROR("output %d is too large", index);
  t->data = calloc(1, bytes ? bytes : 1);
  if (!t->data) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory for %zu bytes", bytes);
  t->nbytes = bytes;
  return NULL;
}

float *sinter_tensor_to_f32(const sinter_tensor_t *t) {
  int64_t n = sinter_tensor_numel(t);
  if (n < 0) return NULL;
  float *r = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!r) return NULL;
  if (t->dtype == SINTER_DTYPE_F32) {
    if (n) memcpy(r, t->data, sizeof(float) * (size_t)n);
  } else {
    for (int64_t i = 0; i < n; i++) r[i] = (float)sinter_load_f64(t->data, t->dtype, i);
  }
  return r;
}

void sinter_tensor_from_f32(sinter_tensor_t *t, const float *src, int64_t n) {
  if (t->dtype == SINTER_DTYPE_F32) {
    if (n) memcpy(t->data, src, sizeof(float) * (size_t)n);
    return;
  }
  for (int64_t i = 0; i < n; i++) sinter_store_f64(t->data, t->dtype, i, src[i]);
}

bool sinter_tensor_read_ints(const sinter_tensor_t *t, int64_t *out, int64_t max,
                             int64_t *out_n) {
  if (!t || !sinter_dtype_is_int(t->dtype)) return false;
  int64_t n = sinter_tensor_numel(t);
  if (n < 0 || n > max) return false;
  for (int64_t i = 0; i < n; i++) out[i] = sinter_load_i64(t->data, t->dtype, i);
  *out_n = n;
  return true;
}

bool sinter_norm_axis(int64_t axis, int32_t rank, int32_t *out_axis) {
  if (axis < -(int64_t)rank || axis >= rank) return false;
  *out_axis = (int32_t)(axis < 0 ? axis + rank : axis);
  return true;
}

/* ---- broadcasting -------------------------------------------------------- */

sinter_status_t sinter_broadcast_types(const sinter_type_t *const *types, int32_t n,
                                       sinter_type_t *out) {
  int32_t rank = 0;
  for (int32_t k = 0; k < n; k++) {
    if (!types[k]) continue;
    if (types[k]->rank < 0) {
      out->rank = -1;
      return NULL;
    }
    if (types[k]->rank > rank) rank = types[k]->rank;
  }
  out->rank = rank;
  for (int32_t d = 0; d < rank; d++) {
    sinter_dim_t r = {1, NULL};
    bool have = false;
    for (int32_t k = 0; k < n; k++) {
      const sinter_type_t *t = types[k];
      if (!t) continue;
      int32_t off = rank - t->rank;
      if (d < off) continue;
      sinter_dim_t x = t->dims[d - off];
      if (x.size == 1) continue;
      if (!have) {
        r = x;
        have = true;
        continue;
      }
      if (x.size >= 0 && r.size >= 0) {
        if (x.size != r.size)
          return SINTER_NODE_ERROR("shapes do not broadcast: dim %d is %lld and %lld", d,
                                   (long long)r.size, (long long)x.size);
      } else if (x.size >= 0) {
        r = x; /* a known size wins over a symbol, which must equal it */
      } else if (r.size < 0 && (r.sym != x.sym || !r.sym)) {
        r.sym = NULL; /* two different symbols: unknown */
      }
    }
    out->dims[d] = r;
  }
  return NULL;
}

sinter_status_t sinter_matmul_shape(const sinter_type_t *a, const sinter_type_t *b,
                                    sinter_type_t *out) {
  if (a->rank < 0 || b->rank < 0) {
    out->rank = -1;
    return NULL;
  }
  if (a->rank == 0 || b->rank == 0) return SINTER_NODE_ERROR("MatMul inputs must have rank >= 1");
  sinter_dim_t ka = a->dims[a->rank - 1];
  sinter_dim_t kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
  if (ka.size >= 0 && kb.size >= 0 && ka.size != kb.size)
    return SINTER_NODE_ERROR("inner dimensions differ: %lld and %lld", (long long)ka.size,
                             (long long)kb.size);
  /* The batch dims (all but the last two) broadcast; 1-D operands have none. */
  sinter_type_t ba, bb, bo;
  memset(&ba, 0, sizeof(ba));
  memset(&bb, 0, sizeof(bb));
  memset(&bo, 0, sizeof(bo));
  ba.rank = a->rank > 2 ? a->rank - 2 : 0;
  bb.rank = b->rank > 2 ? b->rank - 2 : 0;
  for (int32_t d = 0; d < ba.rank; d++) ba.dims[d] = a->dims[d];
  for (int32_t d = 0; d < bb.rank; d++) bb.dims[d] = b->dims[d];
  const sinter_type_t *parts[2] = {&ba, &bb};
  SINTER_TRY(sinter_broadcast_types(parts, 2, &bo));
  int32_t r = bo.rank;
  if (a->rank >= 2) bo.dims[r++] = a->dims[a->rank - 2];
  if (b->rank >= 2) bo.dims[r++] = b->dims[b->rank - 1];
  if (r > SINTER_MAX_RANK) return SINTER_NODE_UNSUPPORTED("output rank above %d", SINTER_MAX_RANK);
  out->rank = r;
  for (int32_t d = 0; d < r; d++) out->dims[d] = bo.dims[d];
  return NULL;
}

void sinter_broadcast_strides(const sinter_tensor_t *t, int32_t out_rank, const int64_t *out_dims,
                              int64_t *out_strides) {
  int64_t stride = 1;
  for (int32_t d = out_rank - 1; d >= 0; d--) {
    int32_t td = d - (out_rank - t->rank);
    if (td < 0) {
      out_strides[d] = 0;
      continue;
    }
    out_strides[d] = (t->dims[td] == 1 && out_dims[d] != 1) ? 0 : stride;
    stride *= t->dims[td];
  }
}

/* ---- inference helpers --------------------------------------------------- */

bool sinter_infer_input_ints(const sinter_infer_ctx_t *ctx, int32_t index, int64_t *out,
                             int64_t max, int64_t *out_n) {
  if (index >= ctx->n_inputs || !ctx->in[index] || !ctx->in_data[index]) return false;
  const sinter_type_t *t = ctx->in[index];
  if (!sinter_dtype_is_int(t->dtype)) return false;
  int64_t n;
  if (!sinter_type_numel(t, &n) || n > max) return false;
  size_t need;
  if (!sinter_dtype_storage_size(t->dtype, n, &need) || need > ctx->in_nbytes[index]) return false;
  for (int64_t i = 0; i < n; i++) out[i] = sinter_load_i64(ctx->in_data[index], t->dtype, i);
  *out_n = n;
  return true;
}

void sinter_type_unknown_dims(sinter_type_t *out, sinter_dtype_t dtype, int32_t rank) {
  memset(out, 0, sizeof(*out));
  out->dtype = dtype;
  out->rank = rank;
  for (int32_t i = 0; i < rank && i < SINTER_MAX_RANK; i++) out->dims[i].size = -1;
}

void sinter_type_set_static(sinter_type_t *out, sinter_dtype_t dtype, int32_t rank,
                            const int64_t *dims) {
  memset(out, 0, sizeof(*out));
  out->dtype = dtype;
  out->rank = rank;
  for (int32_t i = 0; i < rank; i++) out->dims[i].size = dims[i];
}
