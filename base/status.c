/* Status objects: allocation, annotation and release. */
#include "sinter/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sinter_status_s {
  sinter_status_code_t code;
  char location[96];
  char *message;
};

static struct sinter_status_s oom_status = {SINTER_OUT_OF_MEMORY, "", "out of memory"};

sinter_status_t sinter_status_makev(sinter_status_code_t code, const char *file, int line,
                                    const char *fmt, va_list ap) {
  sinter_status_t st = calloc(1, sizeof(*st));
  if (!st) return &oom_status;
  st->code = code;
  const char *base = file ? strrchr(file, '/') : NULL;
  snprintf(st->location, sizeof(st->location), "%s:%d", base ? base + 1 : (file ? file : "?"),
           line);
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  st->message = malloc((size_t)n + 1);
  if (!st->message) {
    free(st);
    return &oom_status;
  }
  vsnprintf(st->message, (size_t)n + 1, fmt, ap);
  return st;
}

sinter_status_t sinter_status_make(sinter_status_code_t code, const char *file, int line,
                                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sinter_status_t st = sinter_status_makev(code, file, line, fmt, ap);
  va_end(ap);
  return st;
}

sinter_status_t sinter_status_annotate(sinter_status_t status, const char *fmt, ...) {
  if (!status || status == &oom_status) return status;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n <= 0) return status;
  size_t old = strlen(status->message);
  char *msg = malloc((size_t)n + 2 + old + 1);
  if (!msg) return status; /* keep the original message rather than lose it */
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)n + 1, fmt, ap);
  va_end(ap);
  memcpy(msg + n, ": ", 2);
  memcpy(msg + n + 2, status->message, old + 1);
  free(status->message);
  status->message = msg;
  return status;
}

sinter_status_code_t sinter_status_code(sinter_status_t status) {
  return status ? status->code : SINTER_OK;
}

const char *sinter_status_message(sinter_status_t status) {
  return status ? status->message : "ok";
}

const char *sinter_status_location(sinter_status_t status) {
  return status ? status->location : "";
}

const char *sinter_status_code_name(sinter_status_code_t code) {
  switch (code) {
    case SINTER_OK: return "OK";
    case SINTER_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case SINTER_INVALID_MODEL: return "INVALID_MODEL";
    case SINTER_UNSUPPORTED: return "UNSUPPORTED";
    case SINTER_NOT_FOUND: return "NOT_FOUND";
    case SINTER_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case SINTER_IO_ERROR: return "IO_ERROR";
    case SINTER_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case SINTER_INTERNAL: return "INTERNAL";
  }
  return "UNKNOWN";
}

void sinter_status_free(sinter_status_t status) {
  if (!status || status == &oom_status) return;
  free(status->message);
  free(status);
}
