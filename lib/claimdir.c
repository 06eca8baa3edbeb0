#include "claimdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claimfield.h"
#include "claimindex.h"
#include "claimstore.h"
#include "fileio.h"

static int check_dir(const char *dir, const struct stat *st, struct err *e)
{
	if (S_ISLNK(st->st_mode))
		return err_set(e, EXIT_MALFORMED, "claims directory %s is a symbolic link", dir);
	if (!S_ISDIR(st->st_mode))
		return err_set(e, EXIT_MALFORMED, "claims directory %s is not a directory", dir);
	if (st->st_uid != geteuid())
		return err_set(e, EXIT_MALFORMED, "claims directory %s is not owned by uid %u", dir,
			       (unsigned)geteuid());
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return err_set(e, EXIT_MALFORMED, "claims directory %s is writable by group or others (mode %03o)",
			       dir, (unsigned)(st->st_mode & 0777));
	return EXIT_OK;
}

/* mkdir -p with mode 0700 for the missing components. */
static int make_dirs(char *path, struct err *e)
{
	for (char *p = path + 1;; p++) {
		bool end = *p == 0;
		if (*p != '/' && !end)
			continue;
		*p = 0;
		if (mkdir(path, 0700) && errno != EEXIST) {
			int rc = err_set(e, EXIT_SYSTEM, "cannot create directory %s: %s", path, strerror(errno));
			if (!end)
				*p = '/';
			return rc;
		}
		if (end)
			return EXIT_OK;
		*p = '/';
	}
}

static void dir_close(struct claim_store *s)
{
	free(s->dir);
	s->dir = NULL;
}

int claimdir_open(struct claim_store *s, const char *dir, bool create, struct err *e)
{
	struct buf path = { 0 };
	const char *env = getenv("PHALA_CLAIMS_DIR");
	bool ok;
	if (dir)
		ok = buf_append_str(&path, dir);
	else if (env && *env)
		ok = buf_append_str(&path, env);
	else {
		const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
		if (state && *state == '/')
			ok = buf_printf(&path, "%s/phala-lease/claims", state);
		else if (home && *home == '/')
			ok = buf_printf(&path, "%s/.local/state/phala-lease/claims", home);
		else {
			return err_set(e, EXIT_USAGE,
				       "no claims directory: set --dir, PHALA_CLAIMS_DIR, XDG_STATE_HOME or HOME");
		}
	}
	if (!ok)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	char *d = (char *)path.data;
	if (!*d) {
		buf_free(&path);
		return err_set(e, EXIT_USAGE, "empty claims directory name");
	}
	while (path.len > 1 && d[path.len - 1] == '/')
		d[--path.len] = 0;
	struct stat st;
	int rc = EXIT_OK;
	if (lstat(d, &st) && errno == ENOENT) {
		if (!create) {
			s->ops = &claimdir_ops;
			s->dir = d; /* reads see no claims */
			return EXIT_OK;
		}
		if (!(rc = make_dirs(d, e)) && lstat(d, &st))
			rc = err_set(e, EXIT_SYSTEM, "claims directory %s: %s", d, strerror(errno));
	} else if (errno = 0, lstat(d, &st)) {
		rc = err_set(e, EXIT_SYSTEM, "claims directory %s: %s", d, strerror(errno));
	}
	if (rc == EXIT_OK)
		rc = check_dir(d, &st, e);
	if (rc) {
		buf_free(&path);
		return rc;
	}
	s->ops = &claimdir_ops;
	s->dir = d;
	if (create && (rc = claimindex_build(s, e)))
		dir_close(s);
	return rc;
}

enum claim_file { CLAIM_JSON, CLAIM_LOCK, CLAIM_TMP };

/* DIR/LEASE.json, DIR/.LEASE.lock or DIR/.LEASE.tmp */
static bool claim_path(const struct claim_store *s, const char *lease, enum claim_file f, struct buf *out)
{
	buf_reset(out);
	if (f == CLAIM_JSON)
		return buf_printf(out, "%s/%s.json", s->dir, lease);
	return buf_printf(out, "%s/.%s.%s", s->dir, lease, f == CLAIM_LOCK ? "lock" : "tmp");
}

/* Reads and parses the claim file name (relative to dirfd), which must be
 * LEASE.json for lease. EXIT_REJECTED ("no claim") when absent; other
 * messages say what is wrong with the file, without naming it. */
static int read_at(int dirfd, const char *name, const char *lease, struct claim *c, struct err *e)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_set(e, EXIT_REJECTED, "no claim");
		if (errno == ELOOP)
			return err_set(e, EXIT_MALFORMED, "refusing a claim file that is a symbolic link");
		return err_set(e, EXIT_SYSTEM, "cannot open: %s", strerror(errno));
	}
	struct stat st;
	struct buf text = { 0 };
	int rc = EXIT_OK;
	if (fstat(fd, &st))
		rc = err_set(e, EXIT_SYSTEM, "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = err_set(e, EXIT_MALFORMED, "not a regular file");
	else if (st.st_size > CLAIM_FILE_MAX)
		rc = err_set(e, EXIT_MALFORMED, "corrupt claim: larger than %d bytes", CLAIM_FILE_MAX);
	else
		rc = fd_read_all(fd, "claim", CLAIM_FILE_MAX, &text, e);
	close(fd);
	if (rc == EXIT_OK && (rc = claim_parse(c, (const char *)text.data, text.len, e)))
		err_wrap(e, "corrupt claim");
	if (rc == EXIT_OK && strcmp(c->lease_id, lease)) {
		rc = err_set(e, EXIT_MALFORMED, "corrupt claim: lease_id \"%s\" differs from the file name", c->lease_id);
		claim_free(c);
	}
	buf_free(&text);
	return rc;
}

static int dir_read(const struct claim_store *s, const char *lease, struct claim *c, struct err *e)
{
	char name[CLAIM_LEASE_MAX + 8];
	snprintf(name, sizeof name, "%s.json", lease);
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT)
		return err_set(e, EXIT_REJECTED, "%s: no claim", lease);
	if (dfd < 0)
		return err_set(e, EXIT_SYSTEM, "cannot open claims directory %s: %s", s->dir, strerror(errno));
	int rc = read_at(dfd, name, lease, c, e);
	close(dfd);
	if (rc == EXIT_REJECTED)
		err_wrap(e, "%s", lease);
	else if (rc)
		err_wrap(e, "%s/%s", s->dir, name);
	return rc;
}

/* ---- locking ---- */

/* The inherited lock descriptor, when the environment names this lease and
 * the descriptor is this lease's lock file. */
static int inherited_lock(const char *lease, const char *path)
{
	const char *l = getenv(CLAIM_ENV_LOCK_LEASE), *f = getenv(CLAIM_ENV_LOCK_FD);
	if (!l || !f || strcmp(l, lease) || !claim_valid_uint(f, strlen(f), 3, 1 << 20))
		return -1;
	int fd = atoi(f);
	struct stat a, b;
	if (fstat(fd, &a) || lstat(path, &b) || !S_ISREG(b.st_mode) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return -1;
	return fd;
}

#define LOCK_STALE (-1) /* lock_once: the file locked is no longer at the path */

static int lock_once(const struct claim_store *s, const char *lease, bool for_child, struct claim_lock *l,
		     struct err *e)
{
	l->store = NULL;
	l->fd = -1;
	l->inherited = false;
	int rc;
	struct buf path = { 0 };
	if (!claim_path(s, lease, CLAIM_LOCK, &path))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	const char *p = (const char *)path.data;
	int fd = inherited_lock(lease, p);
	if (fd >= 0) {
		l->inherited = true;
	} else {
		fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | (for_child ? 0 : O_CLOEXEC), 0600);
		if (fd < 0 && errno == ENOENT) {
			rc = err_set(e, EXIT_REJECTED, "%s: no claim (no claims directory %s)", lease, s->dir);
			buf_free(&path);
			return rc;
		}
		if (fd < 0) {
			rc = err_set(e, errno == ELOOP ? EXIT_MALFORMED : EXIT_SYSTEM, "%s: cannot open lock file %s: %s",
				     lease, p, errno == ELOOP ? "it is a symbolic link" : strerror(errno));
			buf_free(&path);
			return rc;
		}
		struct stat st;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			close(fd);
			rc = err_set(e, EXIT_MALFORMED, "%s: lock file %s is not a regular file", lease, p);
			buf_free(&path);
			return rc;
		}
	}
	/* On the inherited descriptor this returns at once: the lock is held by
	 * the same open file description. */
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			rc = err_set(e, EXIT_SYSTEM, "%s: cannot lock %s: %s", lease, p, strerror(errno));
			if (!l->inherited)
				close(fd);
			buf_free(&path);
			return rc;
		}
	}
	/* The holder before us may have removed the lock file of a lease whose
	 * claim is gone (claim_unlock_gone): a lock on that old file excludes
	 * no one any more, so start over on the file now at the path. */
	struct stat held, now;
	if (!l->inherited && (fstat(fd, &held) || lstat(p, &now) || held.st_dev != now.st_dev ||
			      held.st_ino != now.st_ino)) {
		close(fd);
		buf_free(&path);
		return LOCK_STALE;
	}
	buf_free(&path);
	l->store = s;
	snprintf(l->lease, sizeof l->lease, "%s", lease);
	l->fd = fd;
	return EXIT_OK;
}

static int dir_lock(const struct claim_store *s, const char *lease, bool for_child, struct claim_lock *l,
		    struct err *e)
{
	for (int tries = 0; tries < 1000; tries++) {
		int rc = lock_once(s, lease, for_child, l, e);
		if (rc != LOCK_STALE)
			return rc;
	}
	return err_set(e, EXIT_SYSTEM, "%s: its lock file keeps being replaced", lease);
}

static void dir_unlock(struct claim_lock *l, bool gone)
{
	struct buf p = { 0 };
	struct stat held, at;
	const struct claim_store *s = l->store;
	const char *lease = l->lease;
	if (gone && l->fd >= 0 && !l->inherited && claim_path(s, lease, CLAIM_JSON, &p) &&
	    lstat((const char *)p.data, &at) && errno == ENOENT && claim_path(s, lease, CLAIM_LOCK, &p) &&
	    !fstat(l->fd, &held) && !lstat((const char *)p.data, &at) && held.st_dev == at.st_dev &&
	    held.st_ino == at.st_ino)
		unlink((const char *)p.data);
	buf_free(&p);
	if (l->fd >= 0 && !l->inherited) {
		/* Explicitly: a child may still hold a copy of the descriptor. */
		flock(l->fd, LOCK_UN);
		close(l->fd);
	}
	l->fd = -1;
}

static int dir_hand_down(struct claim_lock *l, struct err *e)
{
	char fd[16];
	snprintf(fd, sizeof fd, "%d", l->fd);
	if (setenv(CLAIM_ENV_LOCK_LEASE, l->lease, 1) || setenv(CLAIM_ENV_LOCK_FD, fd, 1))
		return err_set(e, EXIT_SYSTEM, "setenv: %s", strerror(errno));
	return EXIT_OK;
}

/* Lock held: the claim file is absent (EXIT_REJECTED "claim exists" when
 * it is there). */
static int absent(const struct claim_store *s, const char *lease, struct err *e)
{
	struct buf path = { 0 };
	struct stat st;
	int rc = EXIT_OK;
	if (!claim_path(s, lease, CLAIM_JSON, &path))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	else if (!lstat((const char *)path.data, &st))
		rc = S_ISREG(st.st_mode)
			     ? err_set(e, EXIT_REJECTED, "%s: claim exists", lease)
			     : err_set(e, EXIT_MALFORMED, "%s: %s exists and is not a claim file", lease,
				       (const char *)path.data);
	else if (errno != ENOENT)
		rc = err_set(e, EXIT_SYSTEM, "%s: %s: %s", lease, (const char *)path.data, strerror(errno));
	buf_free(&path);
	return rc;
}

/* Writes c (lock held), old being the claim it replaces (NULL: none). */
static int dir_write(const struct claim_store *s, const struct claim *old, const struct claim *c, struct err *e)
{
	int rc = old ? EXIT_OK : absent(s, c->lease_id, e);
	if (rc || (rc = claimindex_before(s, old, c, e)))
		return rc;
	struct buf text = { 0 }, path = { 0 }, tmp = { 0 };
	if (!claim_serialise(c, &text) || !buf_append(&text, "\n", 1) ||
	    !claim_path(s, c->lease_id, CLAIM_JSON, &path) || !claim_path(s, c->lease_id, CLAIM_TMP, &tmp))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	else if (text.len > CLAIM_FILE_MAX)
		rc = err_set(e, EXIT_USAGE, "%s: the claim would be larger than %d bytes", c->lease_id, CLAIM_FILE_MAX);
	else /* the lock is held: the fixed temporary name is ours */
		rc = file_write_atomic_as((const char *)path.data, (const char *)tmp.data, text.data, text.len, 0600,
					  e);
	buf_free(&text);
	buf_free(&path);
	buf_free(&tmp);
	if (rc == EXIT_OK)
		claimindex_after(s, old, c);
	return rc;
}

static int dir_remove(const struct claim_store *s, const struct claim *old, struct err *e)
{
	const char *lease = old->lease_id;
	struct buf path = { 0 };
	int rc = EXIT_OK;
	if (!claim_path(s, lease, CLAIM_JSON, &path))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	else if (unlink((const char *)path.data))
		rc = err_set(e, EXIT_SYSTEM, "%s: cannot remove %s: %s", lease, (const char *)path.data,
			     strerror(errno));
	else {
		/* A temporary file left by a killed writer: ours, as the lock is held. */
		if (claim_path(s, lease, CLAIM_TMP, &path))
			unlink((const char *)path.data);
		int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd))
			rc = err_set(e, EXIT_SYSTEM, "fsync of %s: %s", s->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		claimindex_after(s, old, NULL);
	}
	buf_free(&path);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* .LEASE.lock and .LEASE.tmp (a write in progress, or one a crash interrupted). */
static bool ignored_name(const char *name)
{
	size_t n = strlen(name), suffix;
	if (!strcmp(name, ".index"))
		return true;
	if (n > 5 && !strcmp(name + n - 5, ".lock"))
		suffix = 5;
	else if (n > 4 && !strcmp(name + n - 4, ".tmp"))
		suffix = 4;
	else
		return false;
	size_t ln = n - 1 - suffix;
	if (name[0] != '.' || ln < 1 || ln > CLAIM_LEASE_MAX)
		return false;
	char lease[CLAIM_LEASE_MAX + 1];
	memcpy(lease, name + 1, ln);
	lease[ln] = 0;
	return claim_valid_lease(lease);
}

/* The lease of a claim file name, or false. */
static bool lease_of(const char *name, char lease[CLAIM_LEASE_MAX + 1])
{
	size_t n = strlen(name);
	if (n < 6 || n - 5 > CLAIM_LEASE_MAX || strcmp(name + n - 5, ".json"))
		return false;
	memcpy(lease, name, n - 5);
	lease[n - 5] = 0;
	return claim_valid_lease(lease);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The sorted entries of directory path (without ., .., lock and temporary
 * files; with suffix appended to each). An absent directory has none. */
static int read_names(const char *path, const char *suffix, char ***out, size_t *count, struct err *e)
{
	*out = NULL;
	*count = 0;
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? EXIT_OK
				       : err_set(e, EXIT_SYSTEM, "cannot read directory %s: %s", path, strerror(errno));
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = EXIT_OK;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || ignored_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			char **nn = realloc(names, cap * sizeof *names);
			if (!nn) {
				rc = err_set(e, EXIT_SYSTEM, "out of memory");
				break;
			}
			names = nn;
		}
		size_t len = strlen(de->d_name);
		if (!(names[n] = malloc(len + strlen(suffix) + 1))) {
			rc = err_set(e, EXIT_SYSTEM, "out of memory");
			break;
		}
		memcpy(names[n], de->d_name, len);
		strcpy(names[n++] + len, suffix);
		errno = 0;
	}
	if (rc == EXIT_OK && errno)
		rc = err_set(e, EXIT_SYSTEM, "cannot read directory %s: %s", path, strerror(errno));
	closedir(d);
	if (rc) {
		free_names(names, n);
		return rc;
	}
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	*out = names;
	*count = n;
	return EXIT_OK;
}

/* Visits the claims: all files of the directory, or (key given, and the
 * index covers it) only the candidates the index names. */
int claimdir_scan(const struct claim_store *s, const char *key, const char *value, claim_visit_fn visit,
		  claim_skip_fn skip, void *arg, struct err *e)
{
	bool index = key && claimindex_covers(s, key);
	struct buf path = { 0 };
	if (!(index ? buf_printf(&path, "%s/.index/%s/%s", s->dir, key, value) : buf_append_str(&path, s->dir)))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	char **names;
	size_t n;
	int rc = read_names((char *)path.data, index ? ".json" : "", &names, &n, e);
	buf_free(&path);
	if (rc || !n)
		return rc;
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		free_names(names, n);
		return err_set(e, EXIT_SYSTEM, "cannot open claims directory %s: %s", s->dir, strerror(errno));
	}
	for (size_t i = 0; rc == EXIT_OK && i < n; i++) {
		char lease[CLAIM_LEASE_MAX + 1];
		struct claim c;
		struct err why = { 0 };
		int r;
		if (!lease_of(names[i], lease))
			r = err_set(&why, EXIT_MALFORMED, "not a claim file name");
		else
			r = read_at(dfd, names[i], lease, &c, &why);
		if (r == EXIT_REJECTED || (r && index && !lease_of(names[i], lease)))
			continue; /* removed since readdir, or a stray index entry */
		if (r) {
			if (skip)
				skip(names[i], &why, arg);
			continue;
		}
		rc = visit(&c, arg);
		claim_free(&c);
	}
	free_names(names, n);
	close(dfd);
	return rc;
}

const struct claim_store_ops claimdir_ops = {
	.name = "directory",
	.close = dir_close,
	.read = dir_read,
	.lock = dir_lock,
	.unlock = dir_unlock,
	.hand_down = dir_hand_down,
	.write = dir_write,
	.remove = dir_remove,
	.scan = claimdir_scan,
};
