/* Bump-pointer arena. Large requests get a block of their own so that big
 * constant tensors do not waste the tail of a shared block. */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sinter_arena_block_s {
  sinter_arena_block_t *next;
  size_t size; /* payload bytes */
  size_t used;
  _Alignas(64) unsigned char data[];
};

void sinter_arena_init(sinter_arena_t *arena, size_t block_size) {
  arena->head = NULL;
  arena->block_size = block_size ? block_size : 64 * 1024;
  arena->total = 0;
}

void sinter_arena_deinit(sinter_arena_t *arena) {
  sinter_arena_block_t *b = arena->head;
  while (b) {
    sinter_arena_block_t *next = b->next;
    free(b);
    b = next;
  }
  arena->head = NULL;
  arena->total = 0;
}

static sinter_arena_block_t *new_block(size_t payload) {
  if (payload > SIZE_MAX - sizeof(sinter_arena_block_t) - 64) return NULL;
  sinter_arena_block_t *b = aligned_alloc(64, (sizeof(*b) + payload + 63) & ~(size_t)63);
  if (!b) return NULL;
  b->next = NULL;
  b->size = payload;
  b->used = 0;
  return b;
}

void *sinter_arena_alloc(sinter_arena_t *arena, size_t size, size_t align) {
  if (align == 0) align = 1;
  if (align > 64 || (align & (align - 1))) return NULL;
  if (size == 0) size = 1;
  sinter_arena_block_t *b = arena->head;
  if (b) {
    size_t off = (b->used + align - 1) & ~(align - 1);
    if (off <= b->size && size <= b->size - off) {
      b->used = off + size;
      arena->total += size;
      memset(b->data + off, 0, size);
      return b->data + off;
    }
  }
  if (size > arena->block_size / 4) {
    /* A dedicated block, linked behind the head so the head keeps its room. */
    sinter_arena_block_t *big = new_block(size);
    if (!big) return NULL;
    big->used = size;
    if (arena->head) {
      big->next = arena->head->next;
      arena->head->next = big;
    } else {
      arena->head = big;
    }
    arena->total += size;
    memset(big->data, 0, size);
    return big->data;
  }
  sinter_arena_block_t *nb = new_block(arena->block_size);
  if (!nb) return NULL;
  nb->next = arena->head;
  arena->head = nb;
  nb->used = size;
  arena->total += size;
  memset(nb->data, 0, size);
  return nb->data;
}

void *sinter_arena_memdup(sinter_arena_t *arena, const void *src, size_t n) {
  void *p = sinter_arena_alloc(arena, n, 16);
  if (p && n) memcpy(p, src, n);
  return p;
}

char *sinter_arena_strndup(sinter_arena_t *arena, const char *s, size_t n) {
  if (!s) return NULL;
  if (n == SIZE_MAX) return NULL;
  char *p = sinter_arena_alloc(arena, n + 1, 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *sinter_arena_strdup(sinter_arena_t *arena, const char *s) {
  return s ? sinter_arena_strndup(arena, s, strlen(s)) : NULL;
}
