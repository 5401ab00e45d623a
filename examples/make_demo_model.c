/* Builds the demo model with Sinter's own IR builder and writes it as ONNX,
 * with a sample input: a small edge-detecting CNN over an 8x8 image.
 *   usage: make_demo_model OUT_DIR   (writes demo.onnx and input.npy) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sinter/ir.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"

#define CHECK(expr)                                                   \
  do {                                                                \
    sinter_status_t st_ = (expr);                                     \
    if (st_) {                                                        \
      fprintf(stderr, "make_demo_model: %s\n", sinter_status_message(st_)); \
      sinter_status_free(st_);                                        \
      return 1;                                                       \
    }                                                                 \
  } while (0)

static sinter_type_t f32(int rank, const int64_t *dims) {
  sinter_type_t t = {.dtype = SINTER_DTYPE_F32, .rank = rank};
  for (int i = 0; i < rank; i++) t.dims[i].size = dims[i];
  return t;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_demo_model OUT_DIR\n");
    return 2;
  }
  sinter_graph_t *g;
  CHECK(sinter_graph_create("demo", &g));
  CHECK(sinter_graph_set_opset(g, "", 13));

  /* Input: a batch of 8x8 grey images; the batch is a symbol. */
  sinter_type_t xt = {.dtype = SINTER_DTYPE_F32, .rank = 4};
  xt.dims[0] = (sinter_dim_t){-1, "N"};
  xt.dims[1].size = 1, xt.dims[2].size = 8, xt.dims[3].size = 8;
  sinter_value_t *x, *w, *b, *fw, *fb;
  CHECK(sinter_graph_add_input(g, "image", &xt, &x));

  /* Four 3x3 filters: identity, horizontal and vertical Sobel, Laplacian. */
  static const float filters[4][9] = {
      {0, 0, 0, 0, 1, 0, 0, 0, 0},
      {-1, -2, -1, 0, 0, 0, 1, 2, 1},
      {-1, 0, 1, -2, 0, 2, -1, 0, 1},
      {0, 1, 0, 1, -4, 1, 0, 1, 0},
  };
  static const float bias[4] = {0, 0, 0, 0};
  sinter_type_t wt = f32(4, (int64_t[]){4, 1, 3, 3}), bt = f32(1, (int64_t[]){4});
  CHECK(sinter_graph_add_const(g, "conv.weight", &wt, filters, sizeof(filters), &w));
  CHECK(sinter_graph_add_const(g, "conv.bias", &bt, bias, sizeof(bias), &b));

  /* A dense layer 64 -> 3 that scores "mostly horizontal", "mostly vertical"
   * and "blob" from the pooled edge maps. */
  float dense[3 * 64], dense_b[3] = {0, 0, -1};
  for (int o = 0; o < 3; o++)
    for (int i = 0; i < 64; i++) {
      int ch = i / 16;
      dense[o * 64 + i] = (o == 0 && ch == 1) || (o == 1 && ch == 2) || (o == 2 && ch == 3)
                              ? 0.25f
                              : (ch == 0 ? 0.01f : -0.05f);
    }
  sinter_type_t fwt = f32(2, (int64_t[]){3, 64}), fbt = f32(1, (int64_t[]){3});
  CHECK(sinter_graph_add_const(g, "fc.weight", &fwt, dense, sizeof(dense), &fw));
  CHECK(sinter_graph_add_const(g, "fc.bias", &fbt, dense_b, sizeof(dense_b), &fb));

  sinter_node_t *conv, *relu, *pool, *flat, *fc, *sm;
  CHECK(sinter_graph_add_node(g, SINTER_OP_CONV, "conv", (sinter_value_t *[]){x, w, b}, 3, 1, &conv));
  CHECK(sinter_node_set_attr_ints(conv, "pads", (int64_t[]){1, 1, 1, 1}, 4));
  CHECK(sinter_node_set_attr_ints(conv, "kernel_shape", (int64_t[]){3, 3}, 2));
  CHECK(sinter_graph_add_node(g, SINTER_OP_RELU, "relu", (sinter_value_t *[]){sinter_node_output(conv, 0)}, 1, 1, &relu));
  CHECK(sinter_graph_add_node(g, SINTER_OP_MAX_POOL, "pool", (sinter_value_t *[]){sinter_node_output(relu, 0)}, 1, 1, &pool));
  CHECK(sinter_node_set_attr_ints(pool, "kernel_shape", (int64_t[]){2, 2}, 2));
  CHECK(sinter_node_set_attr_ints(pool, "strides", (int64_t[]){2, 2}, 2));
  CHECK(sinter_graph_add_node(g, SINTER_OP_FLATTEN, "flatten", (sinter_value_t *[]){sinter_node_output(pool, 0)}, 1, 1, &flat));
  CHECK(sinter_graph_add_node(g, SINTER_OP_GEMM, "fc", (sinter_value_t *[]){sinter_node_output(flat, 0), fw, fb}, 3, 1, &fc));
  CHECK(sinter_node_set_attr_int(fc, "transB", 1));
  CHECK(sinter_graph_add_node(g, SINTER_OP_SOFTMAX, "softmax", (sinter_value_t *[]){sinter_node_output(fc, 0)}, 1, 1, &sm));
  CHECK(sinter_value_set_name(sinter_node_output(conv, 0), "edges"));
  CHECK(sinter_value_set_name(sinter_node_output(sm, 0), "scores"));
  CHECK(sinter_graph_add_output(g, sinter_node_output(sm, 0)));
  CHECK(sinter_graph_infer_shapes(g));
  CHECK(sinter_graph_verify(g));

  char path[4096];
  snprintf(path, sizeof(path), "%s/demo.onnx", argv[1]);
  CHECK(sinter_onnx_export_file(g, path));

  /* Two sample images: a horizontal bar and a vertical bar. */
  float img[2][64] = {{0}};
  for (int i = 0; i < 8; i++) {
    img[0][3 * 8 + i] = img[0][4 * 8 + i] = 1.0f;
    img[1][i * 8 + 3] = img[1][i * 8 + 4] = 1.0f;
  }
  sinter_tensor_t t = {.dtype = SINTER_DTYPE_F32, .rank = 4, .dims = {2, 1, 8, 8},
                       .data = img, .nbytes = sizeof(img)};
  snprintf(path, sizeof(path), "%s/input.npy", argv[1]);
  CHECK(sinter_npy_write_file(path, &t));
  sinter_graph_destroy(g);
  printf("wrote %s/demo.onnx and %s/input.npy\n", argv[1], argv[1]);
  return 0;
}
