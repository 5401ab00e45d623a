/* The runtime's thread pool. Every parallel_for is a job on one shared list;
 * workers and the calling thread claim chunks of it, so concurrent and nested
 * calls make progress even when all workers are busy. */
#include "runtime/thread_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job_s {
  sinter_art_task_fn fn;
  void *ctx;
  int64_t n, chunk;    /* indices and the size of one chunk */
  int64_t next;        /* the first unclaimed index */
  int64_t chunks_left; /* chunks not yet finished */
  struct job_s *next_job;
} job_t;

struct rt_pool_s {
  pthread_mutex_t mu;
  pthread_cond_t work_cv; /* a job was queued, or stop */
  pthread_cond_t done_cv; /* a job's last chunk finished */
  job_t *head;            /* jobs with unclaimed chunks */
  int stop;
  int32_t num_threads;
  int32_t num_workers; /* started */
  pthread_t *workers;
};

/* Claims the next chunk of the first job that has one; unlinks jobs whose
 * last chunk is claimed. Called with mu held. */
static job_t *claim(rt_pool_t *pool, int64_t *out_begin, int64_t *out_end) {
  job_t *job = pool->head;
  if (!job) return NULL;
  *out_begin = job->next;
  *out_end = job->n - job->next > job->chunk ? job->next + job->chunk : job->n;
  job->next = *out_end;
  if (job->next >= job->n) pool->head = job->next_job;
  return job;
}

/* Runs one claimed chunk without the lock; called and returns with mu held. */
static void run_chunk(rt_pool_t *pool, job_t *job, int64_t begin, int64_t end) {
  pthread_mutex_unlock(&pool->mu);
  job->fn(job->ctx, begin, end);
  pthread_mutex_lock(&pool->mu);
  if (--job->chunks_left == 0) pthread_cond_broadcast(&pool->done_cv);
}

static void *worker_main(void *arg) {
  rt_pool_t *pool = arg;
  pthread_mutex_lock(&pool->mu);
  while (!pool->stop) {
    int64_t begin, end;
    job_t *job = claim(pool, &begin, &end);
    if (!job) {
      pthread_cond_wait(&pool->work_cv, &pool->mu);
      continue;
    }
    run_chunk(pool, job, begin, end);
  }
  pthread_mutex_unlock(&pool->mu);
  return NULL;
}

static void parallel_for(const sinter_art_exec_t *exec, int64_t n, int64_t grain,
                         sinter_art_task_fn fn, void *ctx) {
  if (n <= 0 || !fn) return;
  rt_pool_t *pool = exec->impl;
  if (grain < 1) grain = 1;
  /* A few chunks per thread balance uneven chunks without much locking. */
  int64_t max_chunks = (int64_t)pool->num_threads * 4;
  int64_t chunks = (n - 1) / grain + 1;
  if (chunks > max_chunks) chunks = max_chunks;
  if (pool->num_workers == 0 || chunks <= 1) {
    fn(ctx, 0, n);
    return;
  }
  int64_t chunk = (n - 1) / chunks + 1;
  job_t job = {fn, ctx, n, chunk, 0, (n - 1) / chunk + 1, NULL};
  pthread_mutex_lock(&pool->mu);
  /* Appending keeps older jobs first, so a waiting caller's job finishes. */
  job_t **tail = &pool->head;
  while (*tail) tail = &(*tail)->next_job;
  *tail = &job;
  pthread_cond_broadcast(&pool->work_cv);
  while (job.next < job.n) {
    /* Work on our own job: it needs no worker to finish. */
    int64_t begin = job.next;
    int64_t end = job.n - begin > job.chunk ? begin + job.chunk : job.n;
    job.next = end;
    if (job.next >= job.n) {
      job_t **p = &pool->head;
      while (*p != &job) p = &(*p)->next_job;
      *p = job.next_job;
    }
    run_chunk(pool, &job, begin, end);
  }
  while (job.chunks_left > 0) pthread_cond_wait(&pool->done_cv, &pool->mu);
  pthread_mutex_unlock(&pool->mu);
}

sinter_status_t rt_pool_create(int32_t num_threads, rt_pool_t **out_pool) {
  *out_pool = NULL;
  if (num_threads < 1 || num_threads > 1024)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "thread count %d is outside 1..1024",
                        (int)num_threads);
  rt_pool_t *pool = calloc(1, sizeof(*pool));
  if (!pool) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory for the thread pool");
  pool->num_threads = num_threads;
  if (pthread_mutex_init(&pool->mu, NULL) != 0) {
    free(pool);
    return SINTER_ERROR(SINTER_INTERNAL, "cannot create the thread pool's mutex");
  }
  pthread_cond_init(&pool->work_cv, NULL);
  pthread_cond_init(&pool->done_cv, NULL);
  if (num_threads > 1) {
    pool->workers = calloc((size_t)num_threads - 1, sizeof(pthread_t));
    if (!pool->workers) {
      rt_pool_destroy(pool);
      return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory for the thread pool");
    }
    for (int32_t i = 0; i < num_threads - 1; i++) {
      int rc = pthread_create(&pool->workers[i], NULL, worker_main, pool);
      if (rc != 0) {
        rt_pool_destroy(pool);
        return SINTER_ERROR(SINTER_INTERNAL, "cannot start thread %d of %d (error %d)", (int)i + 2,
                            (int)num_threads, rc);
      }
      pool->num_workers++;
    }
  }
  *out_pool = pool;
  return NULL;
}

void rt_pool_destroy(rt_pool_t *pool) {
  if (!pool) return;
  pthread_mutex_lock(&pool->mu);
  pool->stop = 1;
  pthread_cond_broadcast(&pool->work_cv);
  pthread_mutex_unlock(&pool->mu);
  for (int32_t i = 0; i < pool->num_workers; i++) pthread_join(pool->workers[i], NULL);
  free(pool->workers);
  pthread_cond_destroy(&pool->work_cv);
  pthread_cond_destroy(&pool->done_cv);
  pthread_mutex_destroy(&pool->mu);
  free(pool);
}

void rt_pool_exec(rt_pool_t *pool, sinter_art_exec_t *exec) {
  exec->struct_size = sizeof(*exec);
  exec->num_threads = pool->num_threads;
  exec->parallel_for = parallel_for;
  exec->impl = pool;
}
