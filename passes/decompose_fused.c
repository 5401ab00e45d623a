/* decompose-fused: rewrites Sinter's own ops (domain ai.sinter) into
 * standard ONNX ops computing the same function, so that any ONNX tool can
 * read the result (`sinter opt --export-standard`). */
#include "passes/pass_internal.h"

/* Decomposers live beside the passes that create their ops; the registry's
 * references to those passes link them in. */
#pragma weak sinter_decompose_fused_conv
#pragma weak sinter_decompose_fused_gemm
#pragma weak sinter_decompose_fused_matmul
#pragma weak sinter_decompose_silu
#pragma weak sinter_decompose_rms_normalization
#pragma weak sinter_decompose_attention
#pragma weak sinter_decompose_fused_elementwise
#pragma weak sinter_decompose_qlinear_conv_act
#pragma weak sinter_decompose_qlinear_matmul_act
#pragma weak sinter_decompose_qlinear_add
#pragma weak sinter_decompose_qlinear_mul
#pragma weak sinter_decompose_qlinear_global_average_pool

static sinter_decompose_fn decomposer(sinter_op_t op) {
  switch (op) {
    case SINTER_OP_FUSED_CONV: return sinter_decompose_fused_conv;
    case SINTER_OP_FUSED_GEMM: return sinter_decompose_fused_gemm;
    case SINTER_OP_FUSED_MATMUL: return sinter_decompose_fused_matmul;
    case SINTER_OP_SILU: return sinter_decompose_silu;
    case SINTER_OP_RMS_NORMALIZATION: return sinter_decompose_rms_normalization;
    case SINTER_OP_ATTENTION: return sinter_decompose_attention;
    case SINTER_OP_FUSED_ELEMENTWISE: return sinter_decompose_fused_elementwise;
    case SINTER_OP_QLINEAR_CONV_ACT: return sinter_decompose_qlinear_conv_act;
    case SINTER_OP_QLINEAR_MATMUL_ACT: return sinter_decompose_qlinear_matmul_act;
    case SINTER_OP_QLINEAR_ADD: return sinter_decompose_qlinear_add;
    case SINTER_OP_QLINEAR_MUL: return sinter_decompose_qlinear_mul;
    case SINTER_OP_QLINEAR_GLOBAL_AVERAGE_POOL: return sinter_decompose_qlinear_global_average_pool;
    default: return NULL;
  }
}

static sinter_status_t run(sinter_graph_t *graph, const sinter_pass_args_t *args,
                           sinter_pass_counters_t *counters, void *user) {
  sinter_node_t *n = graph->first;
  while (n) {
    sinter_node_t *next = n->next;
    const sinter_op_info_t *info = sinter_op_info(n->op);
    if (info && info->domain[0]) {
      sinter_decompose_fn fn = decomposer(n->op);
      char desc[256];
      if (!fn)
        return SINTER_ERROR(SINTER_UNSUPPORTED, "%s: no decomposition into standard ONNX",
                            sinter_ir_node_desc(n, desc, sizeof(desc)));
      SINTER_RETURN_IF_ERROR(fn(graph, n), "decomposing %s",
                             sinter_ir_node_desc(n, desc, sizeof(desc)));
      counters->rewritten++;
    }
    n = next;
  }
  return NULL;
}

const sinter_pass_info_t sinter_pass_decompose_fused = {
    "decompose-fused", "rewrite Sinter's fused ops (ai.sinter) back into standard ONNX ops",
    NULL, 0, run, NULL,
};
