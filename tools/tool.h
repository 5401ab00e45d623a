/* Shared helpers of the sinter command line: model loading, tensor files,
 * error reporting and exit codes. */
#ifndef SINTER_TOOL_H
#define SINTER_TOOL_H

#include <stdbool.h>
#include <stdio.h>

#include "sinter/ir.h"
#include "sinter/onnx.h"
#include "sinter/tensor_io.h"

/* Exit codes, as the design fixes them. */
enum { EXIT_OK = 0, EXIT_MODEL = 1, EXIT_USAGE = 2 };

/* One subcommand: name, one-line summary, entry point. */
typedef struct tool_command_s {
  const char *name;
  const char *summary;
  int (*main)(int argc, char **argv);
} tool_command_t;

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_conform(int argc, char **argv);
int cmd_opt(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Prints "sinter: <message>" for st to stderr, frees st, returns EXIT_MODEL
 * (or EXIT_USAGE for invalid arguments when usage_on_invalid). */
int tool_fail(sinter_status_t st);

/* Loads a model by extension: .onnx (ONNX) or .sir (text IR). */
sinter_status_t tool_load_model(const char *path, sinter_graph_t **out_graph);

/* Like tool_load_model, but when shape inference fails only because an op
 * is unsupported, keeps the graph (types partly unknown), prints a warning
 * and succeeds: for commands that look at structure. */
sinter_status_t tool_load_model_lenient(const char *path, sinter_graph_t **out_graph);

/* Reads a tensor by extension: .npy or .pb (ONNX TensorProto). */
sinter_status_t tool_read_tensor(const char *path, sinter_tensor_t *out, char **out_name);

/* True when argv[i] is --help or -h. */
bool tool_is_help(const char *arg);

#endif /* SINTER_TOOL_H */
