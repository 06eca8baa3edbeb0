/* fileio: whole-file reads with a size cap, and writes that never leave a
 * partial file behind. */
#ifndef LIB_FILEIO_H
#define LIB_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "bytes.h"
#include "err.h"

/* Largest input any tool reads (evidence, collateral, claims are far smaller). */
#define INPUT_MAX ((size_t)64 << 20)

/* Reads all of path ("-" or NULL: stdin), at most max bytes. */
int file_read_all(const char *path, size_t max, struct buf *out, struct err *e);

/* Reads fd to its end, at most max bytes (name is used in messages). */
int fd_read_all(int fd, const char *name, size_t max, struct buf *out, struct err *e);

/* Writes n bytes to fd, retrying short writes and EINTR. */
int fd_write_all(int fd, const void *p, size_t n, struct err *e);

/* Writes a file atomically: temporary file in the same directory, fsync,
 * rename over path, fsync of the directory. On error path is untouched. */
int file_write_atomic(const char *path, const void *p, size_t n, mode_t mode, struct err *e);

/* The same with the fixed temporary name tmp (in path's directory), for
 * callers that serialise their writers (a lock): a writer killed midway
 * leaves at most that one file, which the next write replaces. */
int file_write_atomic_as(const char *path, const char *tmp, const void *p, size_t n, mode_t mode, struct err *e);

/* Writes to stdout ("-" or NULL) or atomically to a file. */
int output_write(const char *path, const void *p, size_t n, struct err *e);

#endif
