/* A fixed pool of worker threads behind the artifact ABI's parallel_for.
 * Private to libsinter_rt. */
#ifndef SINTER_RUNTIME_THREAD_POOL_H
#define SINTER_RUNTIME_THREAD_POOL_H

#include <stdint.h>

#include "sinter/artifact.h"
#include "sinter/status.h"

typedef struct rt_pool_s rt_pool_t;

/* Kept out of libsinter_rt.so's exported symbols. */
#define RT_HIDDEN __attribute__((visibility("hidden")))

/* Starts num_threads - 1 workers (the caller of parallel_for is the last
 * thread); num_threads >= 1. *out_pool is owned by the caller. */
RT_HIDDEN sinter_status_t rt_pool_create(int32_t num_threads, rt_pool_t **out_pool);

/* Stops and joins the workers; NULL is allowed. No job may be in flight. */
RT_HIDDEN void rt_pool_destroy(rt_pool_t *pool);

/* Fills exec so that its parallel_for runs on pool. */
RT_HIDDEN void rt_pool_exec(rt_pool_t *pool, sinter_art_exec_t *exec);

#endif /* SINTER_RUNTIME_THREAD_POOL_H */
