/* The sinter command line: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "tools/tool.h"

static const tool_command_t commands[] = {
    {"inspect", "graph summary: inputs, outputs, ops, parameters, sizes", cmd_inspect},
    {"opt", "run a pass pipeline over a model, write ONNX or text IR", cmd_opt},
    {"compile", "compile a model to a shared library for the CPU (LLVM)", cmd_compile},
    {"run", "run a model or compiled .so on input tensors", cmd_run},
    {"bench", "time a model or compiled .so: latency percentiles, throughput, RSS", cmd_bench},
    {"conform", "run ONNX backend tests (model.onnx + test_data_set_*)", cmd_conform},
    {"validate", "compare a model with a reference, per output and per layer", cmd_validate},
    {"quantize", "post-training quantization to QDQ ONNX (int8/uint8) or fp16/bf16", cmd_quantize},
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: sinter COMMAND [ARGS...]\n"
          "\n"
          "Sinter, an ahead-of-time compiler for neural-network models.\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\n'sinter COMMAND --help' describes a command. Exit codes: 0 success, 1 model or\n"
          "user error, 2 usage.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (tool_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("sinter 0.1.0\n");
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].main(argc - 1, argv + 1);
  fprintf(stderr, "sinter: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return EXIT_USAGE;
}
