/* Whole-file reads and atomic writes (temp file, fsync, rename). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinter/tensor_io.h"

sinter_status_t sinter_read_file(const char *path, void **out_data, size_t *out_len) {
  *out_data = NULL;
  *out_len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return SINTER_ERROR(SINTER_IO_ERROR, "%s: not a regular file", path);
  }
  size_t len = (size_t)st.st_size;
  char *buf = malloc(len ? len : 1);
  if (!buf) {
    close(fd);
    return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "%s: out of memory for %zu bytes", path, len);
  }
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      free(buf);
      close(fd);
      return SINTER_ERROR(SINTER_IO_ERROR, "%s: read failed: %s", path,
                          r < 0 ? strerror(errno) : "file shrank");
    }
    got += (size_t)r;
  }
  close(fd);
  *out_data = buf;
  *out_len = len;
  return NULL;
}

sinter_status_t sinter_write_file_atomic(const char *path, const void *data, size_t len) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return SINTER_ERROR(SINTER_OUT_OF_MEMORY, "out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp.XXXXXX", 12);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    sinter_status_t st =
        SINTER_ERROR(SINTER_IO_ERROR, "%s: cannot create a temp file: %s", path, strerror(errno));
    free(tmp);
    return st;
  }
  const char *p = data;
  size_t left = len;
  sinter_status_t st = NULL;
  while (left && !st) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      st = SINTER_ERROR(SINTER_IO_ERROR, "%s: write failed: %s", path, strerror(errno));
      break;
    }
    p += w;
    left -= (size_t)w;
  }
  if (!st && fsync(fd) != 0)
    st = SINTER_ERROR(SINTER_IO_ERROR, "%s: fsync failed: %s", path, strerror(errno));
  /* mkstemp creates 0600; give the file the usual permissions. */
  if (!st) {
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
  }
  if (close(fd) != 0 && !st)
    st = SINTER_ERROR(SINTER_IO_ERROR, "%s: close failed: %s", path, strerror(errno));
  if (!st && rename(tmp, path) != 0)
    st = SINTER_ERROR(SINTER_IO_ERROR, "%s: rename failed: %s", path, strerror(errno));
  if (st) unlink(tmp);
  free(tmp);
  return st;
}
