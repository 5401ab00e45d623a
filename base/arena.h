/* A bump-pointer arena: many small allocations, freed all at once.
 * The IR keeps nodes, values, attributes, names and owned constants here. */
#ifndef SINTER_BASE_ARENA_H
#define SINTER_BASE_ARENA_H

#include <stddef.h>

typedef struct sinter_arena_block_s sinter_arena_block_t;

/* An arena in caller storage: _init it, allocate, then _deinit once. */
typedef struct sinter_arena_s {
  sinter_arena_block_t *head;  /* newest block first */
  size_t block_size;           /* default block payload size */
  size_t total;                /* bytes handed out, for statistics */
} sinter_arena_t;

/* Prepares an empty arena; allocates nothing yet. */
void sinter_arena_init(sinter_arena_t *arena, size_t block_size);

/* Frees every block; the arena may be _init'ed again. */
void sinter_arena_deinit(sinter_arena_t *arena);

/* Returns zeroed storage of size bytes aligned to align (a power of two, at
 * most 64), owned by the arena; NULL when memory is exhausted or size is
 * absurd. */
void *sinter_arena_alloc(sinter_arena_t *arena, size_t size, size_t align);

/* Copies n bytes into the arena; NULL on failure. */
void *sinter_arena_memdup(sinter_arena_t *arena, const void *src, size_t n);

/* Copies a NUL-terminated string into the arena; NULL on failure or NULL s. */
char *sinter_arena_strdup(sinter_arena_t *arena, const char *s);

/* Copies n bytes of s and terminates them; NULL on failure. */
char *sinter_arena_strndup(sinter_arena_t *arena, const char *s, size_t n);

#endif /* SINTER_BASE_ARENA_H */
