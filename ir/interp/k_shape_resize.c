/* Reference kernel for Resize (opset 19): nearest, linear and cubic, every coordinate
 * transformation mode, antialias, axes and keep_aspect_ratio_policy. Interpolation is separable:
 * one 1-D pass per resized axis, innermost first, in double precision, choosing neighbours and
 * weights exactly as ONNX's reference implementation does. */
#include "ir/interp/k_shape_internal.h"

typedef enum coord_mode_e {
  CT_HALF_PIXEL,
  CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS,
  CT_ASYMMETRIC,
  CT_TF_CROP_AND_RESIZE,
  CT_HALF_PIXEL_SYMMETRIC,
  CT_TF_HALF_PIXEL_FOR_NN, /* opset 11 only; older models still use it */
} coord_mode_t;

typedef enum interp_mode_e { IM_NEAREST, IM_LINEAR, IM_CUBIC } interp_mode_t;

typedef enum nearest_mode_e {
  NM_ROUND_PREFER_FLOOR,
  NM_ROUND_PREFER_CEIL,
  NM_FLOOR,
  NM_CEIL,
} nearest_mode_t;

typedef enum aspect_e { KA_STRETCH, KA_NOT_LARGER, KA_NOT_SMALLER } aspect_t;

/* The node's attributes, decoded. */
typedef struct resize_attrs_s {
  interp_mode_t mode;
  coord_mode_t coord;
  nearest_mode_t nearest;
  aspect_t aspect;
  double cubic_a, extrapolation;
  bool exclude_outside, antialias;
  int64_t axes[SINTER_MAX_RANK];
  int64_t n_axes; /* -1: all axes */
} resize_attrs_t;

static int pick(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

static sinter_status_t read_attrs(const sinter_node_t *node, resize_attrs_t *a) {
  static const char *const modes[] = {"nearest", "linear", "cubic"};
  static const char *const coords[] = {
      "half_pixel",         "pytorch_half_pixel",   "align_corners",       "asymmetric",
      "tf_crop_and_resize", "half_pixel_symmetric", "tf_half_pixel_for_nn"};
  static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                         "ceil"};
  static const char *const aspects[] = {"stretch", "not_larger", "not_smaller"};
  const char *s;
  int k;
  s = sinter_node_attr_string(node, "mode", "nearest");
  if ((k = pick(s, modes, 3)) < 0) return SINTER_NODE_ERROR("unknown mode '%s'", s);
  a->mode = (interp_mode_t)k;
  s = sinter_node_attr_string(node, "coordinate_transformation_mode", "half_pixel");
  if ((k = pick(s, coords, 7)) < 0)
    return SINTER_NODE_ERROR("unknown coordinate_transformation_mode '%s'", s);
  a->coord = (coord_mode_t)k;
  s = sinter_node_attr_string(node, "nearest_mode", "round_prefer_floor");
  if ((k = pick(s, nearests, 4)) < 0) return SINTER_NODE_ERROR("unknown nearest_mode '%s'", s);
  a->nearest = (nearest_mode_t)k;
  s = sinter_node_attr_string(node, "keep_aspect_ratio_policy", "stretch");
  if ((k = pick(s, aspects, 3)) < 0)
    return SINTER_NODE_ERROR("unknown keep_aspect_ratio_policy '%s'", s);
  a->aspect = (aspect_t)k;
  a->cubic_a = sinter_node_attr_float(node, "cubic_coeff_a", -0.75f);
  a->extrapolation = sinter_node_attr_float(node, "extrapolation_value", 0.0f);
  a->exclude_outside = sinter_node_attr_int(node, "exclude_outside", 0) != 0;
  a->antialias = sinter_node_attr_int(node, "antialias", 0) != 0;
  if (a->antialias && a->mode == IM_NEAREST)
    return SINTER_NODE_ERROR("antialias does not apply to nearest mode");
  int64_t n;
  const int64_t *axes = sinter_node_attr_ints(node, "axes", &n);
  a->n_axes = -1;
  if (axes) {
    if (n > SINTER_MAX_RANK) return SINTER_NODE_ERROR("axes has %lld entries", (long long)n);
    for (int64_t i = 0; i < n; i++) a->axes[i] = axes[i];
    a->n_axes = n;
  }
  return NULL;
}

/* Normalizes the axes attribute against rank (all axes when absent). */
static sinter_status_t resolve_axes(const resize_attrs_t *a, int32_t rank, int32_t *axes,
                                    int32_t *n_axes) {
  if (a->n_axes < 0) {
    for (int32_t d = 0; d < rank; d++) axes[d] = d;
    *n_axes = rank;
    return NULL;
  }
  bool seen[SINTER_MAX_RANK] = {false};
  for (int64_t i = 0; i < a->n_axes; i++) {
    int32_t ax;
    if (!sinter_norm_axis(a->axes[i], rank, &ax))
      return SINTER_NODE_ERROR("axis %lld is out of range for rank %d", (long long)a->axes[i],
                               rank);
    if (seen[ax]) return SINTER_NODE_ERROR("axis %d appears twice", ax);
    seen[ax] = true;
    axes[i] = ax;
  }
  *n_axes = (int32_t)a->n_axes;
  return NULL;
}

/* Resize's optional inputs are views (k_shape_internal.h), except that an empty tensor counts as
 * absent, as older exporters pass empty scales next to sizes. */
static view_t resize_input(view_t v) {
  if (v.numel == 0) return (view_t){.rank = -1, .numel = -1};
  return v;
}

/* The resolved geometry: output size, scale factor and ROI of every axis. */
typedef struct plan_s {
  int64_t out[SINTER_MAX_RANK];
  double scale[SINTER_MAX_RANK];
  double roi_start[SINTER_MAX_RANK], roi_end[SINTER_MAX_RANK];
} plan_t;

/* Computes the plan from static input dims and known scales or sizes (and roi when used). */
static sinter_status_t make_plan(const resize_attrs_t *a, int32_t rank, const int64_t *in_dims,
                                 const view_t *roi, const view_t *scales, const view_t *sizes,
                                 plan_t *p) {
  int32_t axes[SINTER_MAX_RANK], n;
  SINTER_TRY(resolve_axes(a, rank, axes, &n));
  for (int32_t d = 0; d < rank; d++) {
    p->out[d] = in_dims[d];
    p->scale[d] = 1.0;
    p->roi_start[d] = 0.0;
    p->roi_end[d] = 1.0;
  }
  if (scales->present == sizes->present)
    return SINTER_NODE_ERROR("exactly one of scales and sizes must be given");
  const view_t *given = scales->present ? scales : sizes;
  if (given->numel != n)
    return SINTER_NODE_ERROR("%s has %lld entries, expected %d",
                             scales->present ? "scales" : "sizes", (long long)given->numel, n);
  if (scales->present) {
    if (!sinter_dtype_is_float(scales->dtype)) return SINTER_NODE_ERROR("scales must be float");
    for (int32_t i = 0; i < n; i++) {
      int32_t d = axes[i];
      double s = sinter_load_f64(scales->data, scales->dtype, i);
      if (!(s > 0) || !isfinite(s)) return SINTER_NODE_ERROR("scales[%d] is %g", i, s);
      double o = floor(s * (double)in_dims[d]);
      if (o > 1e15) return SINTER_NODE_ERROR("output dim %d is too large", d);
      p->scale[d] = s;
      p->out[d] = (int64_t)o;
    }
  } else {
    if (!sinter_dtype_is_int(sizes->dtype)) return SINTER_NODE_ERROR("sizes must be integer");
    for (int32_t i = 0; i < n; i++) {
      int32_t d = axes[i];
      int64_t s = sinter_load_i64(sizes->data, sizes->dtype, i);
      if (s < 0) return SINTER_NODE_ERROR("sizes[%d] is %lld", i, (long long)s);
      if (in_dims[d] == 0 && s > 0) return SINTER_NODE_ERROR("cannot resize the empty axis %d", d);
      p->out[d] = s;
      p->scale[d] = in_dims[d] ? (double)s / (double)in_dims[d] : 1.0;
    }
    if (a->aspect != KA_STRETCH && n > 0) {
      double s = p->scale[axes[0]];
      for (int32_t i = 1; i < n; i++) {
        double t = p->scale[axes[i]];
        s = a->aspect == KA_NOT_LARGER ? (t < s ? t : s) : (t > s ? t : s);
      }
      for (int32_t i = 0; i < n; i++) {
        int32_t d = axes[i];
        double o = floor(s * (double)in_dims[d] + 0.5); /* round half up */
        if (o > 1e15) return SINTER_NODE_ERROR("output dim %d is too large", d);
        p->scale[d] = s;
        p->out[d] = (int64_t)o;
      }
    }
  }
  if (a->coord == CT_TF_CROP_AND_RESIZE) {
    if (!roi->present || !roi->known)
      return SINTER_NODE_ERROR("tf_crop_and_resize needs a known roi input");
    if (roi->numel != 2 * n)
      return SINTER_NODE_ERROR("roi has %lld entries, expected %d", (long long)roi->numel, 2 * n);
    if (!sinter_dtype_is_float(roi->dtype)) return SINTER_NODE_ERROR("roi must be float");
    for (int32_t i = 0; i < n; i++) {
      p->roi_start[axes[i]] = sinter_load_f64(roi->data, roi->dtype, i);
      p->roi_end[axes[i]] = sinter_load_f64(roi->data, roi->dtype, n + i);
    }
  }
  return NULL;
}

sinter_status_t sinter_shape_infer_resize(sinter_infer_ctx_t *ctx) {
  const sinter_type_t *x = ctx->in[0];
  sinter_type_t *o = &ctx->out[0];
  resize_attrs_t a;
  SINTER_TRY(read_attrs(ctx->node, &a));
  if (x->dtype != SINTER_DTYPE_UNDEFINED &&
      (x->dtype == SINTER_DTYPE_BOOL || x->dtype == SINTER_DTYPE_I4 || x->dtype == SINTER_DTYPE_U4))
    return SINTER_NODE_UNSUPPORTED("Resize does not take %s", sinter_dtype_name(x->dtype));
  *o = *x;
  if (x->rank < 0) return NULL;
  int32_t axes[SINTER_MAX_RANK], n;
  SINTER_TRY(resolve_axes(&a, x->rank, axes, &n));
  view_t roi = resize_input(infer_view(ctx, 1)), scales = resize_input(infer_view(ctx, 2));
  view_t sizes = resize_input(infer_view(ctx, 3));
  if (scales.present && sizes.present)
    return SINTER_NODE_ERROR("scales and sizes cannot both be given");
  if (!scales.present && !sizes.present)
    return SINTER_NODE_ERROR("one of scales and sizes must be given");
  const view_t *given = scales.present ? &scales : &sizes;
  if (!given->known) { /* the resized axes become unknown */
    for (int32_t i = 0; i < n; i++) o->dims[axes[i]].size = -1, o->dims[axes[i]].sym = NULL;
    return NULL;
  }
  /* Symbolic input dims get a stand-in size of 1: they only matter where they scale. */
  int64_t in_dims[SINTER_MAX_RANK];
  bool all_static = true;
  for (int32_t d = 0; d < x->rank; d++) {
    in_dims[d] = x->dims[d].size >= 0 ? x->dims[d].size : 1;
    all_static &= x->dims[d].size >= 0;
  }
  if (!roi.known) roi.present = false; /* the roi only matters to the kernel */
  resize_attrs_t shape_only = a;
  shape_only.coord = CT_HALF_PIXEL;
  plan_t p;
  SINTER_TRY(make_plan(&shape_only, x->rank, in_dims, &roi, &scales, &sizes, &p));
  /* With keep_aspect_ratio_policy every resized axis depends on all of them. */
  bool coupled = sizes.present && a.aspect != KA_STRETCH;
  for (int32_t i = 0; i < n; i++) {
    int32_t d = axes[i];
    bool known = coupled ? all_static : sizes.present || x->dims[d].size >= 0;
    if (known) {
      o->dims[d].size = p.out[d];
      o->dims[d].sym = NULL;
    } else if (!(scales.present && p.scale[d] == 1.0)) { /* scale 1 keeps a symbol */
      o->dims[d].size = -1;
      o->dims[d].sym = NULL;
    }
  }
  int64_t numel;
  size_t bytes;
  if (sinter_type_is_static(o) &&
      (!sinter_type_numel(o, &numel) || !sinter_dtype_storage_size(o->dtype, numel, &bytes)))
    return SINTER_NODE_ERROR("output shape is too large");
  return NULL;
}

/* ---- interpolation -------------------------------------------------------- */

/* Weights of the neighbours of a point at fractional offset ratio in (0, 1]; returns their
 * count (even). */
static int64_t coeffs(const resize_attrs_t *a, double ratio, double scale, double *c, int64_t cap) {
  if (a->mode == IM_NEAREST) {
    bool right;
    if (ratio == 1.0)
      right = true;
    else if (a->nearest == NM_ROUND_PREFER_FLOOR)
      right = ratio > 0.5;
    else if (a->nearest == NM_ROUND_PREFER_CEIL)
      right = ratio >= 0.5;
    else
      right = a->nearest == NM_CEIL;
    c[0] = right ? 0 : 1;
    c[1] = right ? 1 : 0;
    return 2;
  }
  if (a->mode == IM_LINEAR) {
    if (!a->antialias) {
      c[0] = 1 - ratio;
      c[1] = ratio;
      return 2;
    }
    double s = scale < 1 ? scale : 1; /* the filter widens only when downsampling */
    int64_t start = (int64_t)floor(-1 / s) + 1, n = 2 - 2 * start;
    if (n > cap) return -1;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
      double w = 1 - fabs(((double)(start + i) - ratio) * s);
      c[i] = w < 0 ? 0 : w > 1 ? 1 : w;
      sum += c[i];
    }
    for (int64_t i = 0; i < n; i++) c[i] /= sum;
    return n;
  }
  double A = a->cubic_a;
  if (!a->antialias) {
    double r = ratio, q = 1 - ratio;
    c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
    c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    c[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
    c[3] = ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A;
    return 4;
  }
  double s = scale < 1 ? scale : 1;
  int64_t start = (int64_t)floor(-2 / s) + 1, n = 2 - 2 * start;
  if (n > cap) return -1;
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = fabs(s * ((double)(start + i) - ratio)), x2 = x * x, x3 = x2 * x;
    c[i] = x <= 1  ? (A + 2) * x3 - (A + 3) * x2 + 1
           : x < 2 ? A * x3 - 5 * A * x2 + 8 * A * x - 4 * A
                   : 0.0;
    sum += c[i];
  }
  for (int64_t i = 0; i < n; i++) c[i] /= sum;
  return n;
}

/* Input coordinate of output position x along one axis, per the transformation mode. Returns
 * false when tf_crop_and_resize lands outside the input (the extrapolation value applies). */
static bool source_coord(const resize_attrs_t *a, int64_t x, int64_t in, int64_t out_int,
                         double scale, double roi0, double roi1, double *out) {
  double out_w = scale * (double)in, xd = (double)x, r;
  switch (a->coord) {
    case CT_ALIGN_CORNERS: r = out_w == 1 ? 0.0 : xd * (double)(in - 1) / (out_w - 1); break;
    case CT_ASYMMETRIC: r = xd / scale; break;
    case CT_TF_CROP_AND_RESIZE:
      r = out_w == 1 ? (roi1 - roi0) * (double)(in - 1) / 2
                     : xd * (roi1 - roi0) * (double)(in - 1) / (out_w - 1);
      r += roi0 * (double)(in - 1);
      if (r < 0 || r > (double)(in - 1)) return false;
      break;
    case CT_PYTORCH_HALF_PIXEL: r = out_w == 1 ? -0.5 : (xd + 0.5) / scale - 0.5; break;
    case CT_TF_HALF_PIXEL_FOR_NN: r = (xd + 0.5) / scale; break;
    case CT_HALF_PIXEL_SYMMETRIC: {
      double adjustment = (double)out_int / out_w;
      double offset = (double)in / 2 * (1 - adjustment);
      r = offset + (xd + 0.5) / scale - 0.5;
      break;
    }
    default: r = (xd + 0.5) / scale - 0.5; break;
  }
  *out = r;
  return true;
}

/* One output position of a 1-D pass: its taps (input indices, clamped to the edge) and weights,
 * or extrapolate. */
typedef struct taps_s {
  int64_t n;
  bool extrapolate;
} taps_t;

/* The taps of every output position of a 1-D pass along axis (in -> out):
 * taps[x], and idx/w with cap entries per position. The caller frees the
 * three arrays. */
static sinter_status_t compute_taps(const resize_attrs_t *a, const plan_t *p, int32_t axis,
                                    int64_t in, int64_t out, int64_t cap, taps_t **out_taps,
                                    int64_t **out_idx, double **out_w) {
  taps_t *taps = calloc((size_t)out, sizeof(taps_t));
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(out * cap));
  double *w = malloc(sizeof(double) * (size_t)(out * cap));
  if (!taps || !idx || !w) {
    free(taps);
    free(idx);
    free(w);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  for (int64_t x = 0; x < out; x++) {
    double xo;
    if (!source_coord(a, x, in, out, p->scale[axis], p->roi_start[axis], p->roi_end[axis], &xo)) {
      taps[x].extrapolate = true;
      continue;
    }
    /* Neighbours are the n indices nearest xo, ties to the left, so the weight ratio lies in
     * (0, 1]; beyond the edges the input repeats its border (reached through a padding of
     * n/2 on each side, as the ONNX reference pads). */
    double fl = floor(xo);
    bool integral = fl == xo;
    double ratio = integral ? 1.0 : xo - fl;
    double *c = &w[x * cap];
    int64_t n = coeffs(a, ratio, p->scale[axis], c, cap);
    if (n < 0) {
      free(taps);
      free(idx);
      free(w);
      return SINTER_ERROR(SINTER_INTERNAL, "resize filter wider than planned");
    }
    int64_t half = n / 2;
    double lo = (double)-half, hi = (double)(in + half - n);
    double base_d = integral ? fl - (double)half : fl - (double)half + 1;
    base_d = base_d < lo ? lo : base_d > hi ? hi : base_d; /* also tames huge coordinates */
    int64_t base = (int64_t)base_d;
    double sum = 0;
    for (int64_t k = 0; k < n; k++) {
      int64_t i = base + k;
      if (a->exclude_outside && (i < 0 || i >= in)) c[k] = 0;
      sum += c[k];
      idx[x * cap + k] = i < 0 ? 0 : i >= in ? in - 1 : i;
    }
    if (a->exclude_outside)
      for (int64_t k = 0; k < n; k++) c[k] /= sum;
    taps[x].n = n;
  }
  *out_taps = taps;
  *out_idx = idx;
  *out_w = w;
  return NULL;
}

/* Resizes axis `axis` of src (dims cur) into dst, whose dims differ only on that axis. */
static sinter_status_t resize_pass(const resize_attrs_t *a, const plan_t *p, int32_t axis,
                                   int32_t rank, const int64_t *cur, const double *src,
                                   double *dst) {
  int64_t in = cur[axis], out = p->out[axis];
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; d++) outer *= cur[d];
  for (int32_t d = axis + 1; d < rank; d++) inner *= cur[d];
  if (out == 0 || outer == 0 || inner == 0) return NULL;
  /* The widest antialias filter depends on the scale; bound it. */
  double s = p->scale[axis] < 1 ? p->scale[axis] : 1;
  int64_t cap = a->antialias ? (int64_t)(4.0 / s) + 8 : 4;
  if (cap > (1 << 20)) return SINTER_NODE_UNSUPPORTED("antialias filter is too wide");
  taps_t *taps;
  int64_t *idx;
  double *w;
  SINTER_TRY(compute_taps(a, p, axis, in, out, cap, &taps, &idx, &w));
  for (int64_t o = 0; o < outer; o++) {
    const double *sp = src + o * in * inner;
    double *dp = dst + o * out * inner;
    for (int64_t x = 0; x < out; x++) {
      double *row = dp + x * inner;
      if (taps[x].extrapolate) {
        for (int64_t i = 0; i < inner; i++) row[i] = a->extrapolation;
        continue;
      }
      for (int64_t i = 0; i < inner; i++) row[i] = 0;
      for (int64_t k = 0; k < taps[x].n; k++) {
        double c = w[x * cap + k];
        if (c == 0) continue;
        const double *srow = sp + idx[x * cap + k] * inner;
        for (int64_t i = 0; i < inner; i++) row[i] += c * srow[i];
      }
    }
  }
  free(taps);
  free(idx);
  free(w);
  return NULL;
}

sinter_status_t sinter_shape_run_resize(sinter_kernel_ctx_t *ctx) {
  const sinter_tensor_t *x = ctx->in[0];
  sinter_tensor_t *o = &ctx->out[0];
  resize_attrs_t a;
  SINTER_TRY(read_attrs(ctx->node, &a));
  view_t roi = resize_input(kernel_view(ctx, 1)), scales = resize_input(kernel_view(ctx, 2));
  view_t sizes = resize_input(kernel_view(ctx, 3));
  int32_t r = x->rank, axes[SINTER_MAX_RANK], n;
  SINTER_TRY(resolve_axes(&a, r, axes, &n));
  plan_t p;
  SINTER_TRY(make_plan(&a, r, x->dims, &roi, &scales, &sizes, &p));
  for (int32_t d = 0; d < r; d++)
    if (p.out[d] != o->dims[d]) return SINTER_ERROR(SINTER_INTERNAL, "resize shape mismatch");
  int64_t total = sinter_tensor_numel(o), n_in = sinter_tensor_numel(x);
  if (total == 0) return NULL;
  if (n_in == 0) return SINTER_NODE_ERROR("cannot resize an empty tensor");
  /* Work in double: the reference keeps float64 between its per-axis steps. */
  int64_t cur[SINTER_MAX_RANK], peak = n_in;
  for (int32_t d = 0; d < r; d++) cur[d] = x->dims[d];
  double *buf = malloc(sizeof(double) * (size_t)n_in);
  if (!buf) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < n_in; i++) buf[i] = sinter_load_f64(x->data, x->dtype, i);
  sinter_status_t st = NULL;
  for (int32_t i = n - 1; i >= 0 && !st; i--) {
    int32_t d = axes[i];
    /* An axis kept at scale 1 maps every position onto itself, except when cropping. */
    if (p.out[d] == cur[d] && p.scale[d] == 1.0 && a.coord != CT_TF_CROP_AND_RESIZE) continue;
    int64_t next = 1;
    for (int32_t e = 0; e < r; e++) next *= e == d ? p.out[d] : cur[e];
    if (next > peak) peak = next;
    double *nb = malloc(sizeof(double) * (size_t)(next ? next : 1));
    if (!nb) {
      st = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
      break;
    }
    st = resize_pass(&a, &p, d, r, cur, buf, nb);
    free(buf);
    buf = nb;
    cur[d] = p.out[d];
  }
  if (!st)
    for (int64_t i = 0; i < total; i++) sinter_store_f64(o->data, o->dtype, i, buf[i]);
  free(buf);
  return st;
}

/* Views of constant tensors, as kernel_view gives at run time. */
static view_t tensor_view(const sinter_tensor_t *t) {
  if (!t) return (view_t){.rank = -1, .numel = -1};
  view_t v = {.present = true, .known = true, .dtype = t->dtype, .rank = t->rank,
              .numel = sinter_tensor_numel(t), .data = t->data};
  return resize_input(v);
}

sinter_status_t sinter_resize_taps2(const sinter_node_t *node, int32_t rank, const int64_t *in_dims,
                                    const sinter_tensor_t *roi, const sinter_tensor_t *scales,
                                    const sinter_tensor_t *sizes, int32_t axis, int64_t out,
                                    int64_t *idx2, float *w2) {
  resize_attrs_t a;
  SINTER_TRY(read_attrs(node, &a));
  if (a.antialias || a.mode == IM_CUBIC || a.coord == CT_TF_CROP_AND_RESIZE)
    return SINTER_NODE_UNSUPPORTED("only nearest and linear resizing without antialias or crop");
  view_t vr = tensor_view(roi), vs = tensor_view(scales), vz = tensor_view(sizes);
  plan_t p;
  SINTER_TRY(make_plan(&a, rank, in_dims, &vr, &vs, &vz, &p));
  if (p.out[axis] != out) return SINTER_ERROR(SINTER_INTERNAL, "resize plan disagrees");
  int64_t in = in_dims[axis];
  if (p.out[axis] == in && p.scale[axis] == 1.0) {
    for (int64_t x = 0; x < out; x++) idx2[2 * x] = idx2[2 * x + 1] = x, w2[2 * x] = 1, w2[2 * x + 1] = 0;
    return NULL;
  }
  taps_t *taps;
  int64_t *idx;
  double *w;
  SINTER_TRY(compute_taps(&a, &p, axis, in, out, 4, &taps, &idx, &w));
  sinter_status_t st = NULL;
  for (int64_t x = 0; x < out && !st; x++) {
    if (taps[x].extrapolate || taps[x].n > 2) {
      st = SINTER_NODE_UNSUPPORTED("more than two taps per output");
      break;
    }
    for (int64_t k = 0; k < 2; k++) {
      idx2[2 * x + k] = k < taps[x].n ? idx[x * 4 + k] : idx[x * 4];
      w2[2 * x + k] = k < taps[x].n ? (float)w[x * 4 + k] : 0.0f;
    }
  }
  free(taps);
  free(idx);
  free(w);
  return st;
}
