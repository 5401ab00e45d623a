/* Conv and ConvTranspose: shape inference and f32 reference kernels. Conv
 * runs as im2col + sinter_sgemm one image at a time (bounding the column
 * buffer), 1x1 stride-1 convs as a plain GEMM, and depthwise convs as a
 * direct loop; ConvTranspose is GEMM + col2im. */
#include "ir/interp/k_nn_internal.h"

/* Everything about one conv node that the attributes and input types decide. */
typedef struct conv_plan_s {
  int32_t rank, nd;
  int64_t group;
  nn_window_t win;
  int64_t out_pad[NN_MAX_SPATIAL];   /* ConvTranspose output_padding */
  int64_t out_shape[NN_MAX_SPATIAL]; /* ConvTranspose output_shape, -1 when absent */
  sinter_type_t out;
} conv_plan_t;

static int64_t cdiv(int64_t a, int64_t b) {
  return a / b + (a % b != 0 && (a < 0) == (b < 0));
}

/* Output positions o in [0, count) with 0 <= o * s + off < limit. */
static void valid_range(int64_t off, int64_t s, int64_t limit, int64_t count, int64_t *lo,
                        int64_t *hi) {
  int64_t a = off >= 0 ? 0 : cdiv(-off, s);
  int64_t b = limit - off <= 0 ? 0 : cdiv(limit - off, s);
  if (a > count) a = count;
  if (b > count) b = count;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

/* Output size of ConvTranspose spatial dim i and the pads it resolves to. */
static sinter_status_t convt_dim(const conv_plan_t *p, int32_t i, int64_t in, int64_t *out_size,
                                 int64_t *out_pb, int64_t *out_pe) {
  const nn_window_t *w = &p->win;
  int64_t ek, full;
  if (!nn_mul(w->k[i] - 1, w->d[i], &ek) || !nn_add(ek, 1, &ek) ||
      !nn_mul(in - 1, w->s[i], &full) || !nn_add(full, p->out_pad[i], &full) ||
      !nn_add(full, ek, &full) || full > NN_SIZE_LIMIT)
    return SINTER_NODE_ERROR("spatial dim %d: output size overflows", i);
  int64_t target = p->out_shape[i];
  bool same = w->auto_pad == NN_PAD_SAME_UPPER || w->auto_pad == NN_PAD_SAME_LOWER;
  if (target < 0 && same && (!nn_mul(in, w->s[i], &target) || target > NN_SIZE_LIMIT))
    return SINTER_NODE_ERROR("spatial dim %d: output size overflows", i);
  if (target > NN_SIZE_LIMIT)
    return SINTER_NODE_ERROR("spatial dim %d: output_shape is too large", i);
  if (target >= 0) {
    /* The pads follow from the requested size; they may come out negative,
     * which the kernel handles as a border no input reaches. */
    int64_t total = full - target, half = total / 2 - (total < 0 && total % 2 != 0);
    bool upper = w->auto_pad == NN_PAD_SAME_UPPER;
    /* Floor division, as in the ONNX reference: a negative total (a larger
     * output than the natural one) grows the end with zeros. */
    *out_pb = upper ? half : total - half;
    *out_pe = total - *out_pb;
    *out_size = target;
    return NULL;
  }
  int64_t o;
  if (!nn_add(full, -w->pb[i], &o) || !nn_add(o, -w->pe[i], &o))
    return SINTER_NODE_ERROR("spatial dim %d: output size overflows", i);
  if (o < 0)
    return SINTER_NODE_ERROR("spatial dim %d: pads %lld+%lld exceed the output size %lld", i,
                             (long long)w->pb[i], (long long)w->pe[i], (long long)full);
  *out_size = o;
  *out_pb = w->pb[i];
  *out_pe = w->pe[i];
  return NULL;
}

/* Validates a Conv (transpose false) or ConvTranspose node for the given
 * input types and fills p, including the output type. */
static sinter_status_t conv_plan(const sinter_node_t *node, const sinter_type_t *x,
                                 const sinter_type_t *w, const sinter_type_t *b, bool transpose,
                                 conv_plan_t *p) {
  memset(p, 0, sizeof(*p));
  SINTER_TRY(sinter_nn_check_float(x, "input X"));
  SINTER_TRY(sinter_nn_check_float(w, "weight W"));
  if (x->dtype && w->dtype && x->dtype != w->dtype)
    return SINTER_NODE_ERROR("weight has dtype %s, but the input has %s",
                             sinter_dtype_name(w->dtype), sinter_dtype_name(x->dtype));
  sinter_dtype_t dt = x->dtype ? x->dtype : w->dtype;
  p->group = sinter_node_attr_int(node, "group", 1);
  if (p->group < 1)
    return SINTER_NODE_ERROR("group is %lld, must be positive", (long long)p->group);
  int32_t r = x->rank >= 0 ? x->rank : w->rank;
  if (x->rank >= 0 && w->rank >= 0 && x->rank != w->rank)
    return SINTER_NODE_ERROR("weight has rank %d, expected %d", w->rank, x->rank);
  p->out.dtype = dt;
  p->out.rank = -1;
  if (r < 0) return NULL;
  if (r < 3)
    return SINTER_NODE_ERROR("%s has rank %d, expected at least 3 (N, C and spatial dims)",
                             x->rank >= 0 ? "input" : "weight", r);
  if (r > 2 + NN_MAX_SPATIAL)
    return SINTER_NODE_UNSUPPORTED("%d spatial dims; 1 to %d are supported", r - 2, NN_MAX_SPATIAL);
  p->rank = r;
  p->nd = r - 2;
  int64_t wk[NN_MAX_SPATIAL];
  for (int32_t i = 0; i < p->nd; i++) wk[i] = w->rank >= 0 ? w->dims[2 + i].size : -1;
  SINTER_TRY(sinter_nn_read_window(node, p->nd, wk, false, &p->win));

  /* Channels: Conv W is [M, C/group, k...]; ConvTranspose W is [C, M/group, k...]. */
  sinter_dim_t unk = nn_dim(-1);
  sinter_dim_t c = x->rank >= 0 ? x->dims[1] : unk;
  sinter_dim_t w0 = w->rank >= 0 ? w->dims[0] : unk, w1 = w->rank >= 0 ? w->dims[1] : unk;
  int64_t g = p->group;
  if (c.size >= 0 && c.size % g)
    return SINTER_NODE_ERROR("input has %lld channels, not divisible by group %lld",
                             (long long)c.size, (long long)g);
  sinter_dim_t m = unk;
  if (!transpose) {
    if (w0.size >= 0 && w0.size % g)
      return SINTER_NODE_ERROR("weight has %lld output channels, not divisible by group %lld",
                               (long long)w0.size, (long long)g);
    int64_t cw;
    if (c.size >= 0 && w1.size >= 0 && (!nn_mul(w1.size, g, &cw) || cw != c.size))
      return SINTER_NODE_ERROR(
          "input has %lld channels, but the weight expects %lld per group "
          "x %lld groups",
          (long long)c.size, (long long)w1.size, (long long)g);
    m = w0;
  } else {
    if (c.size >= 0 && w0.size >= 0 && c.size != w0.size)
      return SINTER_NODE_ERROR("input has %lld channels, but the weight expects %lld",
                               (long long)c.size, (long long)w0.size);
    if (w0.size >= 0 && w0.size % g)
      return SINTER_NODE_ERROR("weight has %lld input channels, not divisible by group %lld",
                               (long long)w0.size, (long long)g);
    if (w1.size >= 0 && !nn_mul(w1.size, g, &m.size))
      return SINTER_NODE_ERROR("output channel count overflows");
    if (w1.size >= 0)
      m.sym = NULL;
    else if (g == 1)
      m = w1;
  }
  if (b) SINTER_TRY(sinter_nn_check_vec(b, "bias B", m));
  if (b && b->dtype && dt && b->dtype != dt)
    return SINTER_NODE_ERROR("bias has dtype %s, but the input has %s", sinter_dtype_name(b->dtype),
                             sinter_dtype_name(dt));

  p->out.rank = r;
  p->out.dims[0] = x->rank >= 0 ? x->dims[0] : unk;
  p->out.dims[1] = m;
  sinter_dim_t in[NN_MAX_SPATIAL];
  for (int32_t i = 0; i < p->nd; i++) in[i] = x->rank >= 0 ? x->dims[2 + i] : unk;
  if (!transpose) return sinter_nn_forward_dims(&p->win, in, &p->out.dims[2]);

  for (int32_t i = 0; i < p->nd; i++) p->out_shape[i] = -1;
  int64_t n_os = 0;
  const int64_t *os = sinter_node_attr_ints(node, "output_shape", &n_os);
  if (os && n_os > 0) {
    /* Some exporters write the full shape; only the spatial part matters. */
    if (n_os != p->nd && n_os != r)
      return SINTER_NODE_ERROR("output_shape has %lld entries, expected %d", (long long)n_os,
                               p->nd);
    for (int32_t i = 0; i < p->nd; i++) {
      p->out_shape[i] = os[n_os - p->nd + i];
      if (p->out_shape[i] < 0) return SINTER_NODE_ERROR("output_shape[%d] is negative", i);
    }
  }
  int64_t n_op = 0;
  const int64_t *op = sinter_node_attr_ints(node, "output_padding", &n_op);
  if (op && n_op > 0) {
    if (n_op != p->nd)
      return SINTER_NODE_ERROR("output_padding has %lld entries, expected %d", (long long)n_op,
                               p->nd);
    for (int32_t i = 0; i < p->nd; i++) {
      if (op[i] < 0 || (op[i] >= p->win.s[i] && op[i] >= p->win.d[i]))
        return SINTER_NODE_ERROR(
            "output_padding[%d] is %lld, must be in [0, max(stride, "
            "dilation))",
            i, (long long)op[i]);
      p->out_pad[i] = op[i];
    }
  }
  for (int32_t i = 0; i < p->nd; i++) {
    if (in[i].size >= 0 && p->win.k[i] >= 1) {
      int64_t o, pb, pe;
      SINTER_TRY(convt_dim(p, i, in[i].size, &o, &pb, &pe));
      p->out.dims[2 + i] = nn_dim(o);
    } else {
      p->out.dims[2 + i] = p->out_shape[i] >= 0 ? nn_dim(p->out_shape[i]) : unk;
    }
  }
  return NULL;
}

sinter_status_t sinter_nn_conv_infer(sinter_infer_ctx_t *ctx) {
  conv_plan_t p;
  SINTER_TRY(conv_plan(ctx->node, ctx->in[0], ctx->in[1], ctx->n_inputs > 2 ? ctx->in[2] : NULL,
                       false, &p));
  ctx->out[0] = p.out;
  return NULL;
}

sinter_status_t sinter_nn_conv_transpose_infer(sinter_infer_ctx_t *ctx) {
  conv_plan_t p;
  SINTER_TRY(conv_plan(ctx->node, ctx->in[0], ctx->in[1], ctx->n_inputs > 2 ? ctx->in[2] : NULL,
                       true, &p));
  ctx->out[0] = p.out;
  return NULL;
}

/* ---- kernels ---------------------------------------------------------------------- */

/* The f32 views of a conv's inputs and output, with the buffers to free. */
typedef struct conv_io_s {
  const float *x, *w, *b;
  float *y;
  float *tx, *tw, *tb; /* converted copies */
  float *col;
} conv_io_t;

static void conv_io_free(sinter_kernel_ctx_t *ctx, conv_io_t *io, bool commit) {
  free(io->tx);
  free(io->tw);
  free(io->tb);
  free(io->col);
  if (commit) {
    sinter_nn_f32_out_commit(ctx, 0, io->y);
  } else if (io->y && (void *)io->y != ctx->out[0].data) {
    free(io->y);
  }
}

/* Plans the node for the concrete inputs and prepares the f32 views. */
static sinter_status_t conv_setup(sinter_kernel_ctx_t *ctx, bool transpose, conv_plan_t *p,
                                  conv_io_t *io) {
  memset(io, 0, sizeof(*io));
  const sinter_tensor_t *X = ctx->in[0], *W = ctx->in[1];
  const sinter_tensor_t *B = ctx->n_inputs > 2 ? ctx->in[2] : NULL;
  sinter_type_t xt, wt, bt;
  sinter_nn_type_of(X, &xt);
  sinter_nn_type_of(W, &wt);
  if (B) sinter_nn_type_of(B, &bt);
  SINTER_TRY(conv_plan(ctx->node, &xt, &wt, B ? &bt : NULL, transpose, p));
  if (!sinter_type_is_static(&p->out))
    return SINTER_ERROR(SINTER_INTERNAL, "conv output shape is not static at run time");
  int64_t dims[SINTER_MAX_RANK];
  for (int32_t i = 0; i < p->out.rank; i++) dims[i] = p->out.dims[i].size;
  SINTER_TRY(sinter_nn_f32_out(ctx, 0, p->out.dtype, p->out.rank, dims, &io->y));
  io->x = sinter_nn_f32_in(X, &io->tx);
  io->w = sinter_nn_f32_in(W, &io->tw);
  io->b = B ? sinter_nn_f32_in(B, &io->tb) : NULL;
  if (!io->x || !io->w || (B && !io->b)) {
    conv_io_free(ctx, io, false);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  }
  return NULL;
}

/* Allocates an f32 scratch of a*b*c elements, failing cleanly on overflow. */
static sinter_status_t alloc_scratch(int64_t a, int64_t b, int64_t c, float **out) {
  int64_t n;
  if (!nn_mul(a, b, &n) || !nn_mul(n, c, &n) || n > (int64_t)(SIZE_MAX / 8))
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "conv scratch buffer is too large");
  *out = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  if (!*out)
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory for a %lld-float conv scratch",
                        (long long)n);
  return NULL;
}

/* Writes the im2col matrix of one group of one image: row (c, kd, kh, kw)
 * holds, for every output position, the input value under that kernel tap
 * (0 in the padding). */
static void im2col(const float *x, int64_t cg, const nn_geom_t *g, float *col) {
  int64_t is = g->in[0] * g->in[1] * g->in[2];
  int64_t oh_ow = g->out[1] * g->out[2], os = g->out[0] * oh_ow;
  for (int64_t c = 0; c < cg; c++) {
    const float *xc = x + c * is;
    for (int64_t kd = 0; kd < g->k[0]; kd++)
      for (int64_t kh = 0; kh < g->k[1]; kh++)
        for (int64_t kw = 0; kw < g->k[2]; kw++) {
          float *row = col + (((c * g->k[0] + kd) * g->k[1] + kh) * g->k[2] + kw) * os;
          int64_t offw = kw * g->d[2] - g->pb[2], w0, w1;
          valid_range(offw, g->s[2], g->in[2], g->out[2], &w0, &w1);
          for (int64_t od = 0; od < g->out[0]; od++) {
            int64_t id = od * g->s[0] + kd * g->d[0] - g->pb[0];
            float *rd = row + od * oh_ow;
            if (id < 0 || id >= g->in[0]) {
              memset(rd, 0, sizeof(float) * (size_t)oh_ow);
              continue;
            }
            for (int64_t oh = 0; oh < g->out[1]; oh++) {
              int64_t ih = oh * g->s[1] + kh * g->d[1] - g->pb[1];
              float *r = rd + oh * g->out[2];
              if (ih < 0 || ih >= g->in[1]) {
                memset(r, 0, sizeof(float) * (size_t)g->out[2]);
                continue;
              }
              const float *xr = xc + (id * g->in[1] + ih) * g->in[2];
              for (int64_t ow = 0; ow < w0; ow++) r[ow] = 0;
              if (g->s[2] == 1) {
                if (w1 > w0) memcpy(r + w0, xr + (w0 + offw), sizeof(float) * (size_t)(w1 - w0));
              } else {
                for (int64_t ow = w0; ow < w1; ow++) r[ow] = xr[ow * g->s[2] + offw];
              }
              for (int64_t ow = w1; ow < g->out[2]; ow++) r[ow] = 0;
            }
          }
        }
  }
}

/* y[oc] += conv of one input channel plane with one filter, tap by tap so
 * the innermost loop runs along contiguous output rows. */
static void depthwise_plane(const float *x, const float *wf, const nn_geom_t *g, float *y) {
  for (int64_t kd = 0; kd < g->k[0]; kd++)
    for (int64_t kh = 0; kh < g->k[1]; kh++)
      for (int64_t kw = 0; kw < g->k[2]; kw++) {
        float wv = wf[(kd * g->k[1] + kh) * g->k[2] + kw];
        int64_t d0, d1, h0, h1, w0, w1;
        int64_t offd = kd * g->d[0] - g->pb[0], offh = kh * g->d[1] - g->pb[1];
        int64_t offw = kw * g->d[2] - g->pb[2];
        valid_range(offd, g->s[0], g->in[0], g->out[0], &d0, &d1);
        valid_range(offh, g->s[1], g->in[1], g->out[1], &h0, &h1);
        valid_range(offw, g->s[2], g->in[2], g->out[2], &w0, &w1);
        for (int64_t od = d0; od < d1; od++) {
          int64_t id = od * g->s[0] + offd;
          for (int64_t oh = h0; oh < h1; oh++) {
            int64_t ih = oh * g->s[1] + offh;
            const float *xr = x + (id * g->in[1] + ih) * g->in[2];
            float *yr = y + (od * g->out[1] + oh) * g->out[2];
            if (g->s[2] == 1) {
              for (int64_t ow = w0; ow < w1; ow++) yr[ow] += wv * xr[ow + offw];
            } else {
              for (int64_t ow = w0; ow < w1; ow++) yr[ow] += wv * xr[ow * g->s[2] + offw];
            }
          }
        }
      }
}

sinter_status_t sinter_nn_conv_run(sinter_kernel_ctx_t *ctx) {
  conv_plan_t p;
  conv_io_t io;
  SINTER_TRY(conv_setup(ctx, false, &p, &io));
  const sinter_tensor_t *X = ctx->in[0], *W = ctx->in[1];
  nn_geom_t g;
  sinter_status_t st = sinter_nn_forward_geom(&p.win, &X->dims[2], &g);
  if (st) {
    conv_io_free(ctx, &io, false);
    return st;
  }
  int64_t n_img = X->dims[0], c = X->dims[1], m = W->dims[0], grp = p.group;
  int64_t cg = c / grp, mg = m / grp;
  int64_t is = g.in[0] * g.in[1] * g.in[2], os = g.out[0] * g.out[1] * g.out[2];
  int64_t k = g.k[0] * g.k[1] * g.k[2];
  bool pointwise = k == 1;
  for (int32_t i = 0; i < NN_MAX_SPATIAL; i++)
    pointwise = pointwise && g.s[i] == 1 && g.pb[i] == 0 && g.pe[i] == 0;
  bool depthwise = cg == 1 && grp > 1;
  if (!pointwise && !depthwise) {
    st = alloc_scratch(cg, k, os, &io.col);
    if (st) {
      conv_io_free(ctx, &io, false);
      return st;
    }
  }
  for (int64_t n = 0; n < n_img; n++) {
    for (int64_t gi = 0; gi < grp; gi++) {
      const float *xg = io.x + (n * c + gi * cg) * is;
      const float *wg = io.w + gi * mg * cg * k;
      float *yg = io.y + (n * m + gi * mg) * os;
      if (pointwise) {
        sinter_sgemm(mg, os, cg, wg, cg, xg, is, yg, os, false);
      } else if (depthwise) {
        for (int64_t j = 0; j < mg; j++) {
          float *yp = yg + j * os;
          memset(yp, 0, sizeof(float) * (size_t)os);
          depthwise_plane(xg, wg + j * k, &g, yp);
        }
      } else {
        im2col(xg, cg, &g, io.col);
        sinter_sgemm(mg, os, cg * k, wg, cg * k, io.col, os, yg, os, false);
      }
    }
    if (io.b)
      for (int64_t oc = 0; oc < m; oc++) {
        float bv = io.b[oc], *yp = io.y + (n * m + oc) * os;
        for (int64_t i = 0; i < os; i++) yp[i] += bv;
      }
  }
  conv_io_free(ctx, &io, true);
  return NULL;
}

sinter_status_t sinter_nn_conv_transpose_run(sinter_kernel_ctx_t *ctx) {
  conv_plan_t p;
  conv_io_t io;
  SINTER_TRY(conv_setup(ctx, true, &p, &io));
  const sinter_tensor_t *X = ctx->in[0], *W = ctx->in[1];
  nn_geom_t g;
  memset(&g, 0, sizeof(g));
  sinter_status_t st = NULL;
  for (int32_t i = 0; i < p.nd && !st; i++) {
    g.in[i] = X->dims[2 + i];
    g.k[i] = p.win.k[i];
    g.s[i] = p.win.s[i];
    g.d[i] = p.win.d[i];
    st = convt_dim(&p, i, g.in[i], &g.out[i], &g.pb[i], &g.pe[i]);
  }
  sinter_nn_geom_normalize(&g, p.nd);
  int64_t n_img = X->dims[0], c = X->dims[1], grp = p.group, cg = c / grp, mg = W->dims[1];
  int64_t m = mg * grp;
  int64_t is = g.in[0] * g.in[1] * g.in[2], os = g.out[0] * g.out[1] * g.out[2];
  int64_t k = g.k[0] * g.k[1] * g.k[2], mk = mg * k;
  float *wt = NULL;
  if (!st) st = alloc_scratch(mk, is, 1, &io.col);
  if (!st) st = alloc_scratch(grp, mk, cg, &wt);
  if (st) {
    free(wt);
    conv_io_free(ctx, &io, false);
    return st;
  }
  /* W is [C, M/group, k...]: per group a [cg, mk] matrix, transposed once so
   * that col = W_g^T x X_g is a plain row-major GEMM. */
  for (int64_t gi = 0; gi < grp; gi++)
    for (int64_t ci = 0; ci < cg; ci++)
      for (int64_t j = 0; j < mk; j++) wt[(gi * mk + j) * cg + ci] = io.w[(gi * cg + ci) * mk + j];
  for (int64_t n = 0; n < n_img; n++) {
    for (int64_t gi = 0; gi < grp; gi++) {
      const float *xg = io.x + (n * c + gi * cg) * is;
      sinter_sgemm(mk, is, cg, wt + gi * mk * cg, cg, xg, is, io.col, is, false);
      for (int64_t j = 0; j < mg; j++) {
        float *yp = io.y + (n * m + gi * mg + j) * os;
        for (int64_t kd = 0; kd < g.k[0]; kd++)
          for (int64_t kh = 0; kh < g.k[1]; kh++)
            for (int64_t kw = 0; kw < g.k[2]; kw++) {
              const float *row = io.col + (((j * g.k[0] + kd) * g.k[1] + kh) * g.k[2] + kw) * is;
              int64_t offd = kd * g.d[0] - g.pb[0], offh = kh * g.d[1] - g.pb[1];
              int64_t offw = kw * g.d[2] - g.pb[2], d0, d1, h0, h1, w0, w1;
              valid_range(offd, g.s[0], g.out[0], g.in[0], &d0, &d1);
              valid_range(offh, g.s[1], g.out[1], g.in[1], &h0, &h1);
              valid_range(offw, g.s[2], g.out[2], g.in[2], &w0, &w1);
              for (int64_t id = d0; id < d1; id++) {
                int64_t od = id * g.s[0] + offd;
                for (int64_t ih = h0; ih < h1; ih++) {
                  int64_t oh = ih * g.s[1] + offh;
                  const float *r = row + (id * g.in[1] + ih) * g.in[2];
                  float *yr = yp + (od * g.out[1] + oh) * g.out[2];
                  for (int64_t iw = w0; iw < w1; iw++) yr[iw * g.s[2] + offw] += r[iw];
                }
              }
            }
      }
    }
    if (io.b)
      for (int64_t oc = 0; oc < m; oc++) {
        float bv = io.b[oc], *yp = io.y + (n * m + oc) * os;
        for (int64_t i = 0; i < os; i++) yp[i] += bv;
      }
  }
  free(wt);
  conv_io_free(ctx, &io, true);
  return NULL;
}
