/* A standalone driver for the fuzz targets, used when they are not built
 * with libFuzzer: it runs each seed file, then a fixed number of seeded
 * random mutations of it (bit flips, byte overwrites, truncations, spliced
 * chunks), so that ctest exercises the parsers with malformed input under
 * ASan+UBSan on every run. With clang, -DSINTER_FUZZ=ON builds the same
 * targets against libFuzzer for open-ended fuzzing.
 *   usage: fuzz_X [--iterations N] SEED_FILE_OR_DIR... */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void mutate_and_run(const uint8_t *seed, size_t n, long iterations) {
  uint8_t *buf = malloc(n + 64);
  if (!buf) return;
  for (long it = 0; it < iterations; it++) {
    size_t len = n;
    memcpy(buf, seed, n);
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e < edits && len; e++) {
      size_t pos = (size_t)(rnd() % len);
      switch (rnd() % 5) {
        case 0: buf[pos] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: buf[pos] = (uint8_t)rnd(); break;
        case 2: buf[pos] = (uint8_t)((rnd() & 1) ? 0xff : 0x00); break;
        case 3: len = pos + 1; break; /* truncate */
        case 4: { /* copy a chunk from elsewhere */
          size_t src = (size_t)(rnd() % len), k = (size_t)(rnd() % 16);
          if (src + k > len) k = len - src;
          if (pos + k > len) k = len - pos;
          memmove(buf + pos, buf + src, k);
          break;
        }
      }
    }
    LLVMFuzzerTestOneInput(buf, len);
  }
  free(buf);
}

static int run_file(const char *path, long iterations) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (n < 0 || n > (64 << 20)) {
    fclose(f);
    return 0;
  }
  uint8_t *data = malloc((size_t)n + 1);
  size_t got = data ? fread(data, 1, (size_t)n, f) : 0;
  fclose(f);
  if (!data) return 0;
  LLVMFuzzerTestOneInput(data, got);
  mutate_and_run(data, got, iterations);
  free(data);
  return 1;
}

int main(int argc, char **argv) {
  long iterations = 200;
  int files = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      iterations = atol(argv[++i]);
      continue;
    }
    struct stat st;
    if (stat(argv[i], &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      struct dirent *e;
      while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
        files += run_file(p, iterations);
      }
      if (d) closedir(d);
    } else {
      files += run_file(argv[i], iterations);
    }
  }
  printf("fuzz driver: %d seed files, %ld mutations each, no crash\n", files, iterations);
  return files ? 0 : 1;
}
