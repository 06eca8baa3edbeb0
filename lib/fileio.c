#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *display(const char *path)
{
	return path && strcmp(path, "-") ? path : "standard input";
}

int fd_read_all(int fd, const char *name, size_t max, struct buf *out, struct err *e)
{
	for (;;) {
		if (!buf_reserve(out, 65536))
			return err_set(e, EXIT_SYSTEM, "reading %s: out of memory", name);
		ssize_t n = read(fd, out->data + out->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(e, errno == EISDIR ? EXIT_USAGE : EXIT_SYSTEM, "cannot read %s: %s", name,
				       strerror(errno));
		if (n == 0)
			return EXIT_OK;
		out->len += (size_t)n;
		out->data[out->len] = 0;
		if (out->len > max)
			return err_set(e, EXIT_MALFORMED, "%s is larger than %zu bytes", name, max);
	}
}

int file_read_all(const char *path, size_t max, struct buf *out, struct err *e)
{
	bool is_stdin = !path || !strcmp(path, "-");
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, EXIT_SYSTEM, "cannot open %s: %s", path, strerror(errno));
	int rc = fd_read_all(fd, display(path), max, out, e);
	if (!is_stdin)
		close(fd);
	return rc;
}

int fd_write_all(int fd, const void *p, size_t n, struct err *e)
{
	const uint8_t *q = p;
	while (n) {
		ssize_t w = write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_set(e, EXIT_SYSTEM, "write failed: %s", strerror(errno));
		q += w;
		n -= (size_t)w;
	}
	return EXIT_OK;
}

static int fsync_dir_of(const char *path, struct err *e)
{
	char *copy = strdup(path);
	if (!copy)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return err_set(e, EXIT_SYSTEM, "cannot open directory of %s: %s", path, strerror(errno));
	int rc = fsync(fd) ? err_set(e, EXIT_SYSTEM, "fsync of directory of %s: %s", path, strerror(errno))
			   : EXIT_OK;
	close(fd);
	return rc;
}

/* Writes, syncs and renames the open temporary file tmpname over path; on
 * error the temporary file is removed and path is untouched. */
static int commit_tmp(int fd, const char *tmpname, const char *path, const void *p, size_t n, mode_t mode,
		      struct err *e)
{
	int rc = fd_write_all(fd, p, n, e);
	if (rc == EXIT_OK && fchmod(fd, mode))
		rc = err_set(e, EXIT_SYSTEM, "chmod %s: %s", tmpname, strerror(errno));
	if (rc == EXIT_OK && fsync(fd))
		rc = err_set(e, EXIT_SYSTEM, "fsync %s: %s", tmpname, strerror(errno));
	if (close(fd) && rc == EXIT_OK)
		rc = err_set(e, EXIT_SYSTEM, "close %s: %s", tmpname, strerror(errno));
	if (rc == EXIT_OK && rename(tmpname, path))
		rc = err_set(e, EXIT_SYSTEM, "cannot rename into %s: %s", path, strerror(errno));
	if (rc != EXIT_OK) {
		unlink(tmpname);
		return err_wrap(e, "writing %s", path);
	}
	return fsync_dir_of(path, e);
}

int file_write_atomic(const char *path, const void *p, size_t n, mode_t mode, struct err *e)
{
	struct buf tmp = { 0 };
	if (!buf_printf(&tmp, "%s.tmp.XXXXXX", path))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	char *tmpname = (char *)tmp.data;
	int fd = mkostemp(tmpname, O_CLOEXEC);
	int rc = fd < 0 ? err_set(e, EXIT_SYSTEM, "cannot create a temporary file beside %s: %s", path,
				  strerror(errno))
			: commit_tmp(fd, tmpname, path, p, n, mode, e);
	buf_free(&tmp);
	return rc;
}

int file_write_atomic_as(const char *path, const char *tmp, const void *p, size_t n, mode_t mode, struct err *e)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return err_set(e, EXIT_SYSTEM, "cannot create temporary file %s: %s", tmp, strerror(errno));
	return commit_tmp(fd, tmp, path, p, n, mode, e);
}

int output_write(const char *path, const void *p, size_t n, struct err *e)
{
	struct stat st;
	/* A device or FIFO (-o /dev/null) is written in place: renaming a
	 * temporary file over it would replace /dev/null with a regular file. */
	if (path && strcmp(path, "-") && !(stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
		return file_write_atomic(path, p, n, 0644, e);
	int fd = path && strcmp(path, "-") ? open(path, O_WRONLY | O_CLOEXEC) : STDOUT_FILENO;
	if (fd < 0)
		return err_set(e, EXIT_SYSTEM, "cannot open %s: %s", path, strerror(errno));
	int rc = fd_write_all(fd, p, n, e);
	if (fd != STDOUT_FILENO)
		close(fd);
	return rc ? err_wrap(e, "%s", fd == STDOUT_FILENO ? "standard output" : path) : rc;
}
