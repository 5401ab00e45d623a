/* Runs a compiled model (OUT.so from `sinter compile`) with libsinter_rt only:
 * inputs are zeros, or input 0 comes from an .npy file of the right dtype and
 * shape, batch 1; prints the first values of each output.
 * usage: run_compiled MODEL.so [INPUT0.npy] */
#include <sinter/runtime.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  sinter_rt_session_t *s;
  sinter_rt_options_t opts = {.num_threads = 1};
  sinter_status_t st = argc > 1 ? sinter_rt_session_create(argv[1], &opts, &s) : NULL;
  if (argc < 2 || st) return fprintf(stderr, "%s\n", st ? sinter_status_message(st) : argv[0]), 1;
  size_t n_in = sinter_rt_session_num_inputs(s), n_out = sinter_rt_session_num_outputs(s);
  sinter_rt_tensor_t in[16] = {{0}}, out[16] = {{0}};
  if (n_in > 16 || n_out > 16) return fprintf(stderr, "more than 16 inputs or outputs\n"), 1;
  for (size_t i = 0; i < n_in; i++) {
    const sinter_art_tensor_t *d = sinter_rt_session_input(s, i);
    size_t numel = 1;
    in[i].dtype = d->dtype, in[i].rank = d->rank;
    for (int k = 0; k < d->rank; k++)
      numel *= (size_t)(in[i].dims[k] = d->dims[k] < 0 ? 1 : d->dims[k]);
    in[i].data = calloc(numel, 8); /* zeros; 8 bytes covers every dtype */
    FILE *f = i == 0 && argc > 2 ? fopen(argv[2], "rb") : NULL;
    unsigned char hdr[10]; /* .npy 1.0: magic, version, header length (LE u16), header */
    if (f && fread(hdr, 1, 10, f) == 10 && fseek(f, 10 + hdr[8] + 256 * hdr[9], SEEK_SET) == 0)
      (void)!fread(in[i].data, 1, numel * 8, f);
    if (f) fclose(f);
  }
  if ((st = sinter_rt_session_run(s, in, n_in, out, n_out)))
    return fprintf(stderr, "%s\n", sinter_status_message(st)), 1;
  for (size_t i = 0; i < n_out; i++) {
    printf("%s (%s):", sinter_rt_session_output(s, i)->name, sinter_rt_dtype_name(out[i].dtype));
    for (size_t k = 0; out[i].dtype == SINTER_ART_F32 && k < out[i].nbytes / 4 && k < 10; k++)
      printf(" %.5g", ((float *)out[i].data)[k]);
    printf("\n");
    free(out[i].data);
  }
  for (size_t i = 0; i < n_in; i++) free(in[i].data);
  sinter_rt_session_destroy(s);
  return 0;
}
