/* Sessions: load an artifact with dlopen, check its descriptor, and run it
 * with checked inputs, a per-run arena and the session's thread pool. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/thread_pool.h"
#include "sinter/runtime.h"

/* A cached arena; runs take one from the session's free list or malloc one. */
typedef struct arena_s {
  struct arena_s *next;
  uint64_t size;
  void *mem;
} arena_t;

struct sinter_rt_session_s {
  void *dl;
  const sinter_artifact_t *art;
  rt_pool_t *pool;
  uint64_t align;
  pthread_mutex_t arena_mu; /* guards free_arenas and num_free */
  arena_t *free_arenas;
  size_t num_free, max_free;
  const void *weights; /* the mapped weights file, or NULL when embedded */
  size_t weights_len;
};

/* Bits per element, 0 for an invalid dtype. */
static unsigned dtype_bits(int32_t dtype) {
  switch (dtype) {
    case SINTER_ART_F64:
    case SINTER_ART_I64:
    case SINTER_ART_U64: return 64;
    case SINTER_ART_F32:
    case SINTER_ART_I32:
    case SINTER_ART_U32: return 32;
    case SINTER_ART_F16:
    case SINTER_ART_BF16:
    case SINTER_ART_I16:
    case SINTER_ART_U16: return 16;
    case SINTER_ART_F8E4M3:
    case SINTER_ART_I8:
    case SINTER_ART_U8:
    case SINTER_ART_BOOL: return 8;
    case SINTER_ART_I4:
    case SINTER_ART_U4: return 4;
    default: return 0;
  }
}

/* Bytes of a dense tensor; 0 with *out_ok = 0 on overflow. */
static uint64_t tensor_bytes(int32_t dtype, int32_t rank, const int64_t *dims, int *out_ok) {
  uint64_t count = 1;
  *out_ok = 1;
  for (int32_t d = 0; d < rank; d++) {
    if (dims[d] < 0 || __builtin_mul_overflow(count, (uint64_t)dims[d], &count)) {
      *out_ok = 0;
      return 0;
    }
  }
  uint64_t bits;
  if (__builtin_mul_overflow(count, (uint64_t)dtype_bits(dtype), &bits)) {
    *out_ok = 0;
    return 0;
  }
  return bits / 8 + (bits % 8 != 0);
}

static sinter_status_t check_tensor_decl(const sinter_art_tensor_t *t, const char *kind, int i) {
  if (!t->name) return SINTER_ERROR(SINTER_INVALID_MODEL, "%s %d has no name", kind, i);
  if (t->dtype <= SINTER_ART_UNDEFINED || t->dtype >= SINTER_ART_DTYPE_COUNT)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s %d '%s' has invalid dtype %d", kind, i, t->name,
                        (int)t->dtype);
  if (t->rank < 0 || t->rank > SINTER_ART_MAX_RANK)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s %d '%s' has rank %d, outside 0..%d", kind, i,
                        t->name, (int)t->rank, SINTER_ART_MAX_RANK);
  for (int32_t d = 0; d < t->rank; d++) {
    int64_t v = t->dims[d];
    if (v < 0 && !(d == 0 && v == SINTER_ART_DYNAMIC))
      return SINTER_ERROR(SINTER_INVALID_MODEL,
                          "%s %d '%s' has dimension %d = %lld (only dimension 0 may be "
                          "dynamic, as -1)",
                          kind, i, t->name, (int)d, (long long)v);
  }
  return NULL;
}

static sinter_status_t check_descriptor(const sinter_artifact_t *art) {
  if (art->struct_size < SINTER_ARTIFACT_MIN_SIZE)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "descriptor is %u bytes, ABI %d needs %zu",
                        (unsigned)art->struct_size, SINTER_ARTIFACT_ABI_VERSION,
                        (size_t)SINTER_ARTIFACT_MIN_SIZE);
  if (!art->model_name || !art->recipe)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "descriptor lacks the model name or recipe");
  if (!art->run) return SINTER_ERROR(SINTER_INVALID_MODEL, "descriptor has no run entry point");
  if (art->num_inputs < 0 || art->num_inputs > 4096 || art->num_outputs < 1 ||
      art->num_outputs > 4096)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "descriptor has %d inputs and %d outputs",
                        (int)art->num_inputs, (int)art->num_outputs);
  if ((art->num_inputs && !art->inputs) || !art->outputs)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "descriptor lacks its input or output table");
  for (int i = 0; i < art->num_inputs; i++)
    SINTER_TRY(check_tensor_decl(&art->inputs[i], "input", i));
  for (int i = 0; i < art->num_outputs; i++)
    SINTER_TRY(check_tensor_decl(&art->outputs[i], "output", i));
  if (art->arena_align & (art->arena_align - 1))
    return SINTER_ERROR(SINTER_INVALID_MODEL, "arena alignment %llu is not a power of two",
                        (unsigned long long)art->arena_align);
  return NULL;
}

/* Whether the descriptor has the appended weights fields and uses them. */
static bool has_external_weights(const sinter_artifact_t *art) {
  return art->struct_size >= offsetof(sinter_artifact_t, run_ext) + sizeof(art->run_ext) &&
         art->weights_file;
}

/* Maps the artifact's weights file, named relative to the library's
 * directory, read-only. The name may not leave that directory. */
static sinter_status_t map_weights(sinter_rt_session_t *s, const char *path) {
  const sinter_artifact_t *art = s->art;
  if (!has_external_weights(art)) return NULL;
  const char *name = art->weights_file;
  if (!*name || strchr(name, '/') || !strcmp(name, "..") || !art->run_ext)
    return SINTER_ERROR(SINTER_INVALID_MODEL, "%s: invalid weights file name or entry", path);
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
  char *full = malloc(dirlen + strlen(name) + 1);
  if (!full) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "path");
  memcpy(full, path, dirlen);
  strcpy(full + dirlen, name);
  sinter_status_t st = NULL;
  int fd = open(full, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0) {
    st = SINTER_ERROR(errno == ENOENT ? SINTER_NOT_FOUND : SINTER_IO_ERROR,
                      "%s: weights file %s: %s", path, full, strerror(errno));
  } else if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != art->weights_size) {
    st = SINTER_ERROR(SINTER_INVALID_MODEL, "%s: weights file %s has %lld bytes, expected %llu",
                      path, full, (long long)sb.st_size, (unsigned long long)art->weights_size);
  } else if (sb.st_size > 0) {
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
      st = SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot map %s: %s", path, full, strerror(errno));
    else
      s->weights = m, s->weights_len = (size_t)sb.st_size;
  }
  if (fd >= 0) close(fd);
  free(full);
  return st;
}

sinter_status_t sinter_rt_session_create(const char *path, const sinter_rt_options_t *opts,
                                         sinter_rt_session_t **out_session) {
  if (!out_session) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "out_session is NULL");
  *out_session = NULL;
  if (!path) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "artifact path is NULL");
  struct stat st;
  if (stat(path, &st) != 0)
    return SINTER_ERROR(errno == ENOENT ? SINTER_NOT_FOUND : SINTER_IO_ERROR, "%s: %s", path,
                        strerror(errno));
  if (!S_ISREG(st.st_mode)) return SINTER_ERROR(SINTER_IO_ERROR, "%s: not a regular file", path);
  int32_t threads = opts ? opts->num_threads : 0;
  if (threads < 0)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "%s: thread count %d is negative", path,
                        (int)threads);
  if (threads == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    threads = cpus < 1 ? 1 : cpus > 256 ? 256 : (int32_t)cpus;
  }

  sinter_rt_session_t *s = calloc(1, sizeof(*s));
  if (!s) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "%s: out of memory", path);
  if (pthread_mutex_init(&s->arena_mu, NULL) != 0) {
    free(s);
    return SINTER_ERROR(SINTER_INTERNAL, "%s: cannot create a mutex", path);
  }
  sinter_status_t status = NULL;
  /* RTLD_LOCAL: two artifacts in one process must not see each other's symbols. */
  s->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!s->dl) {
    const char *why = dlerror();
    status = SINTER_ERROR(SINTER_INVALID_MODEL, "%s: cannot load as a shared library: %s", path,
                          why ? why : "unknown dlopen error");
    goto fail;
  }
  s->art = dlsym(s->dl, SINTER_ARTIFACT_SYMBOL);
  if (!s->art) {
    status = SINTER_ERROR(SINTER_INVALID_MODEL, "%s: not a Sinter artifact (no '%s' symbol)", path,
                          SINTER_ARTIFACT_SYMBOL);
    goto fail;
  }
  if (s->art->abi_version != SINTER_ARTIFACT_ABI_VERSION) {
    status = SINTER_ERROR(SINTER_UNSUPPORTED,
                          "%s: artifact ABI version %u, but this runtime (%s) accepts version "
                          "%d only; recompile the model with a matching sinter",
                          path, (unsigned)s->art->abi_version, sinter_rt_version(),
                          SINTER_ARTIFACT_ABI_VERSION);
    goto fail;
  }
  status = check_descriptor(s->art);
  if (status) {
    status = sinter_status_annotate(status, "%s", path);
    goto fail;
  }
  status = map_weights(s, path);
  if (status) goto fail;
  s->align = s->art->arena_align ? s->art->arena_align : 64;
  if (s->align < sizeof(void *)) s->align = sizeof(void *);
  s->max_free = (size_t)threads < 4 ? 4 : (size_t)threads;
  status = rt_pool_create(threads, &s->pool);
  if (status) {
    status = sinter_status_annotate(status, "%s", path);
    goto fail;
  }
  *out_session = s;
  return NULL;
fail:
  if (s->weights) munmap((void *)s->weights, s->weights_len);
  if (s->dl) dlclose(s->dl);
  pthread_mutex_destroy(&s->arena_mu);
  free(s);
  return status;
}

void sinter_rt_session_destroy(sinter_rt_session_t *session) {
  if (!session) return;
  rt_pool_destroy(session->pool);
  for (arena_t *a = session->free_arenas, *next; a; a = next) {
    next = a->next;
    free(a->mem);
    free(a);
  }
  pthread_mutex_destroy(&session->arena_mu);
  if (session->weights) munmap((void *)session->weights, session->weights_len);
  if (session->dl) dlclose(session->dl);
  free(session);
}

/* Takes a cached arena of at least size bytes, or allocates one. */
static sinter_status_t arena_acquire(sinter_rt_session_t *s, uint64_t size, arena_t **out) {
  *out = NULL;
  pthread_mutex_lock(&s->arena_mu);
  for (arena_t **p = &s->free_arenas; *p; p = &(*p)->next) {
    if ((*p)->size >= size) {
      *out = *p;
      *p = (*p)->next;
      s->num_free--;
      break;
    }
  }
  pthread_mutex_unlock(&s->arena_mu);
  if (*out) return NULL;
  if (size > SIZE_MAX - s->align)
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "arena of %llu bytes is too large",
                        (unsigned long long)size);
  arena_t *a = calloc(1, sizeof(*a));
  void *mem = NULL;
  /* Never size 0: the artifact may still take the arena's address. */
  if (!a || posix_memalign(&mem, s->align, size ? (size_t)size : s->align) != 0) {
    free(a);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "cannot allocate an arena of %llu bytes",
                        (unsigned long long)size);
  }
  a->size = size;
  a->mem = mem;
  *out = a;
  return NULL;
}

/* Returns an arena to the cache, or frees it when the cache is full; the
 * smallest cached arena makes room for a larger one. */
static void arena_release(sinter_rt_session_t *s, arena_t *a) {
  pthread_mutex_lock(&s->arena_mu);
  if (s->num_free >= s->max_free) {
    arena_t **smallest = &s->free_arenas;
    for (arena_t **p = &s->free_arenas; *p; p = &(*p)->next)
      if ((*p)->size < (*smallest)->size) smallest = p;
    if ((*smallest)->size < a->size) {
      arena_t *drop = *smallest;
      *smallest = drop->next;
      s->num_free--;
      a->next = s->free_arenas;
      s->free_arenas = a;
      s->num_free++;
      a = drop;
    }
    pthread_mutex_unlock(&s->arena_mu);
    free(a->mem);
    free(a);
    return;
  }
  a->next = s->free_arenas;
  s->free_arenas = a;
  s->num_free++;
  pthread_mutex_unlock(&s->arena_mu);
}

/* Checks inputs against the descriptor and finds the batch. */
static sinter_status_t check_inputs(const sinter_artifact_t *art, const sinter_rt_tensor_t *inputs,
                                    size_t num_inputs, int64_t *out_batch) {
  if (num_inputs != (size_t)art->num_inputs)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "model '%s' takes %d inputs, got %zu",
                        art->model_name, (int)art->num_inputs, num_inputs);
  if (num_inputs && !inputs) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "inputs is NULL");
  int64_t batch = -1;
  int batch_from = -1;
  for (size_t i = 0; i < num_inputs; i++) {
    const sinter_art_tensor_t *want = &art->inputs[i];
    const sinter_rt_tensor_t *got = &inputs[i];
    if (got->dtype != want->dtype)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input %zu '%s': dtype %s expected, got %s", i,
                          want->name, sinter_rt_dtype_name(want->dtype),
                          sinter_rt_dtype_name(got->dtype));
    if (got->rank != want->rank)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input %zu '%s': rank %d expected, got %d", i,
                          want->name, (int)want->rank, (int)got->rank);
    for (int32_t d = 0; d < want->rank; d++) {
      if (want->dims[d] == SINTER_ART_DYNAMIC) {
        if (got->dims[d] < 1)
          return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                              "input %zu '%s': batch (dimension 0) is %lld, must be >= 1", i,
                              want->name, (long long)got->dims[d]);
        if (batch >= 0 && got->dims[d] != batch)
          return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                              "input %zu '%s': batch %lld differs from batch %lld of input %d", i,
                              want->name, (long long)got->dims[d], (long long)batch, batch_from);
        batch = got->dims[d];
        batch_from = (int)i;
      } else if (got->dims[d] != want->dims[d]) {
        return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                            "input %zu '%s': dimension %d is %lld, expected %lld", i, want->name,
                            (int)d, (long long)got->dims[d], (long long)want->dims[d]);
      }
    }
    int ok;
    uint64_t need = tensor_bytes(got->dtype, got->rank, got->dims, &ok);
    if (!ok)
      return SINTER_ERROR(SINTER_OUT_OF_RANGE, "input %zu '%s': size overflows", i, want->name);
    if (!got->data && need)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "input %zu '%s': data is NULL", i, want->name);
    if (got->nbytes && got->nbytes < need)
      return SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                          "input %zu '%s': %zu bytes given, shape needs %llu", i, want->name,
                          got->nbytes, (unsigned long long)need);
  }
  *out_batch = batch < 0 ? 1 : batch;
  return NULL;
}

static sinter_status_t arena_bytes(const sinter_artifact_t *art, int64_t batch, uint64_t *out) {
  if (art->arena_size) {
    int ok = 0;
    *out = art->arena_size(batch, &ok);
    if (!ok)
      return SINTER_ERROR(SINTER_OUT_OF_RANGE, "arena size for batch %lld overflows",
                          (long long)batch);
    return NULL;
  }
  uint64_t per;
  if (__builtin_mul_overflow(art->arena_per_batch, (uint64_t)batch, &per) ||
      __builtin_add_overflow(per, art->arena_fixed, out))
    return SINTER_ERROR(SINTER_OUT_OF_RANGE, "arena size for batch %lld overflows",
                        (long long)batch);
  return NULL;
}

/* Frees the outputs this run allocated, after a failure. */
static void free_allocated(sinter_rt_tensor_t *outputs, const unsigned char *allocated, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (allocated[i]) {
      free(outputs[i].data);
      outputs[i].data = NULL;
      outputs[i].nbytes = 0;
    }
  }
}

sinter_status_t sinter_rt_session_run(sinter_rt_session_t *session,
                                      const sinter_rt_tensor_t *inputs, size_t num_inputs,
                                      sinter_rt_tensor_t *outputs, size_t num_outputs) {
  if (!session) return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "session is NULL");
  const sinter_artifact_t *art = session->art;
  int64_t batch = 1;
  SINTER_TRY(check_inputs(art, inputs, num_inputs, &batch));
  if (num_outputs != (size_t)art->num_outputs || !outputs)
    return SINTER_ERROR(SINTER_INVALID_ARGUMENT, "model '%s' has %d outputs, got room for %zu",
                        art->model_name, (int)art->num_outputs, outputs ? num_outputs : 0);

  /* Small models keep the pointer tables on the stack. */
  enum { SMALL = 16 };
  const void *in_small[SMALL];
  void *out_small[SMALL];
  unsigned char alloc_small[SMALL];
  const void **in_ptrs = in_small;
  void **out_ptrs = out_small;
  unsigned char *allocated = alloc_small;
  void *heap = NULL;
  size_t n_io = num_inputs > num_outputs ? num_inputs : num_outputs;
  if (n_io > SMALL) {
    heap = calloc(n_io, 2 * sizeof(void *) + 1);
    if (!heap) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory for a run");
    in_ptrs = heap;
    out_ptrs = (void **)heap + n_io;
    allocated = (unsigned char *)((void **)heap + 2 * n_io);
  }
  memset(allocated, 0, num_outputs);
  for (size_t i = 0; i < num_inputs; i++) in_ptrs[i] = inputs[i].data;

  sinter_status_t status = NULL;
  for (size_t i = 0; i < num_outputs && !status; i++) {
    const sinter_art_tensor_t *decl = &art->outputs[i];
    int64_t dims[SINTER_ART_MAX_RANK];
    for (int32_t d = 0; d < decl->rank; d++)
      dims[d] = decl->dims[d] == SINTER_ART_DYNAMIC ? batch : decl->dims[d];
    int ok;
    uint64_t need = tensor_bytes(decl->dtype, decl->rank, dims, &ok);
    if (!ok || need > SIZE_MAX) {
      status = SINTER_ERROR(SINTER_OUT_OF_RANGE, "output %zu '%s': size overflows for batch %lld",
                            i, decl->name, (long long)batch);
      break;
    }
    if (outputs[i].data) {
      if (outputs[i].nbytes < need) {
        status = SINTER_ERROR(SINTER_INVALID_ARGUMENT,
                              "output %zu '%s': buffer of %zu bytes given, needs %llu", i,
                              decl->name, outputs[i].nbytes, (unsigned long long)need);
        break;
      }
    } else {
      outputs[i].data = malloc(need ? (size_t)need : 1);
      if (!outputs[i].data) {
        status = SINTER_ERROR(SINTER_OUT_OF_MEMORY, "output %zu '%s': cannot allocate %llu bytes",
                              i, decl->name, (unsigned long long)need);
        break;
      }
      allocated[i] = 1;
    }
    outputs[i].dtype = decl->dtype;
    outputs[i].rank = decl->rank;
    memcpy(outputs[i].dims, dims, sizeof(int64_t) * (size_t)decl->rank);
    outputs[i].nbytes = (size_t)need;
    out_ptrs[i] = outputs[i].data;
  }

  uint64_t arena_size = 0;
  arena_t *arena = NULL;
  if (!status) status = arena_bytes(art, batch, &arena_size);
  if (!status) status = arena_acquire(session, arena_size, &arena);
  if (!status) {
    sinter_art_exec_t exec;
    rt_pool_exec(session->pool, &exec);
    int rc = session->weights || has_external_weights(art)
                 ? art->run_ext(in_ptrs, out_ptrs, arena->mem, batch, &exec, session->weights)
                 : art->run(in_ptrs, out_ptrs, arena->mem, batch, &exec);
    arena_release(session, arena);
    if (rc != 0)
      status = SINTER_ERROR(SINTER_INTERNAL, "model '%s': the artifact's run failed with code %d",
                            art->model_name, rc);
  }
  if (status) free_allocated(outputs, allocated, num_outputs);
  free(heap);
  return status;
}

const sinter_artifact_t *sinter_rt_session_artifact(const sinter_rt_session_t *session) {
  return session ? session->art : NULL;
}

size_t sinter_rt_session_num_inputs(const sinter_rt_session_t *session) {
  return session ? (size_t)session->art->num_inputs : 0;
}

size_t sinter_rt_session_num_outputs(const sinter_rt_session_t *session) {
  return session ? (size_t)session->art->num_outputs : 0;
}

const sinter_art_tensor_t *sinter_rt_session_input(const sinter_rt_session_t *session, size_t i) {
  return session && i < (size_t)session->art->num_inputs ? &session->art->inputs[i] : NULL;
}

const sinter_art_tensor_t *sinter_rt_session_output(const sinter_rt_session_t *session, size_t i) {
  return session && i < (size_t)session->art->num_outputs ? &session->art->outputs[i] : NULL;
}

int32_t sinter_rt_session_num_threads(const sinter_rt_session_t *session) {
  sinter_art_exec_t exec;
  if (!session) return 0;
  rt_pool_exec(session->pool, &exec);
  return exec.num_threads;
}
