/* The sinter command line: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sinter: no subcommands yet\n");
  return 2;
}
