/* Status objects: every fallible Sinter call returns a sinter_status_t.
 * NULL means success; a failure carries a code, the file:line where it was
 * raised, and a message that callers extend with context on the way up. */
#ifndef SINTER_STATUS_H
#define SINTER_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes, stable across releases. */
typedef enum sinter_status_code_e {
  SINTER_OK = 0,                 /* success (never carried by a status object) */
  SINTER_INVALID_ARGUMENT = 1,   /* the caller passed something malformed */
  SINTER_INVALID_MODEL = 2,      /* the model file or graph is malformed */
  SINTER_UNSUPPORTED = 3,        /* valid input that Sinter does not handle yet */
  SINTER_NOT_FOUND = 4,          /* a named thing does not exist */
  SINTER_OUT_OF_MEMORY = 5,      /* an allocation failed */
  SINTER_IO_ERROR = 6,           /* reading or writing a file failed */
  SINTER_OUT_OF_RANGE = 7,       /* an index, size or offset is out of bounds */
  SINTER_INTERNAL = 8,           /* a broken internal invariant (a Sinter bug) */
} sinter_status_code_t;

/* An opaque status; NULL is OK. A non-NULL status is owned by whoever holds
 * it and must be released with sinter_status_free (or passed on). */
typedef struct sinter_status_s *sinter_status_t;

/* Creates a failure status. Returns a static out-of-memory status when the
 * allocation itself fails; sinter_status_free accepts that too. */
sinter_status_t sinter_status_make(sinter_status_code_t code, const char *file, int line,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
sinter_status_t sinter_status_makev(sinter_status_code_t code, const char *file, int line,
                                    const char *fmt, va_list ap);

/* Prefixes "context: " to the message of status and returns it; takes
 * ownership of status. Returns NULL when status is NULL. */
sinter_status_t sinter_status_annotate(sinter_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns the code of status, SINTER_OK for NULL. */
sinter_status_code_t sinter_status_code(sinter_status_t status);

/* Returns the message of status; the string is owned by the status. */
const char *sinter_status_message(sinter_status_t status);

/* Returns "file:line" of the innermost raise; owned by the status. */
const char *sinter_status_location(sinter_status_t status);

/* Returns the name of a status code, such as "INVALID_MODEL". */
const char *sinter_status_code_name(sinter_status_code_t code);

/* Releases status; NULL is allowed. */
void sinter_status_free(sinter_status_t status);

/* Raises a failure at the current source location. */
#define SINTER_ERROR(code, ...) sinter_status_make((code), __FILE__, __LINE__, __VA_ARGS__)

/* Returns early with added context when expr fails. */
#define SINTER_RETURN_IF_ERROR(expr, ...)                                    \
  do {                                                                       \
    sinter_status_t sinter_st_ = (expr);                                     \
    if (sinter_st_) return sinter_status_annotate(sinter_st_, __VA_ARGS__);  \
  } while (0)

/* Returns early, unchanged, when expr fails. */
#define SINTER_TRY(expr)                         \
  do {                                           \
    sinter_status_t sinter_st_ = (expr);         \
    if (sinter_st_) return sinter_st_;           \
  } while (0)

#ifdef __cplusplus
}
#endif

#endif /* SINTER_STATUS_H */
