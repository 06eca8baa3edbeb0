#include "claimindex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claimdir.h"
#include "claimfield.h"

static bool is_indexed(const char *key)
{
	return claim_in_list(key, claim_indexed);
}

static int fsync_path(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		int rc = err_set(e, EXIT_SYSTEM, "fsync of %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return EXIT_OK;
}

static int mkdir_0700(const char *path, bool *created, struct err *e)
{
	if (!mkdir(path, 0700)) {
		*created = true;
		return EXIT_OK;
	}
	if (errno == EEXIST)
		return EXIT_OK;
	return err_set(e, EXIT_SYSTEM, "cannot create %s: %s", path, strerror(errno));
}

static int index_add(const struct claim_store *s, const char *key, const char *value, const char *lease,
		     struct err *e)
{
	struct buf top = { 0 }, kdir = { 0 }, vdir = { 0 }, entry = { 0 };
	int rc = EXIT_OK;
	if (!buf_printf(&top, "%s/.index", s->dir) || !buf_printf(&kdir, "%s/%s", (char *)top.data, key) ||
	    !buf_printf(&vdir, "%s/%s", (char *)kdir.data, value) ||
	    !buf_printf(&entry, "%s/%s", (char *)vdir.data, lease))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	/* A concurrent writer may remove an empty value directory between our
	 * mkdir and open: try again. */
	for (int tries = 0; rc == EXIT_OK; tries++) {
		bool made_top = false, made_k = false, made_v = false;
		if ((rc = mkdir_0700((char *)top.data, &made_top, e)) || (rc = mkdir_0700((char *)kdir.data, &made_k, e)) ||
		    (rc = mkdir_0700((char *)vdir.data, &made_v, e)))
			break;
		int fd = open((char *)entry.data, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0 && errno == ENOENT && tries < 20)
			continue;
		if (fd < 0) {
			rc = err_set(e, EXIT_SYSTEM, "cannot create index entry %s: %s", (char *)entry.data,
				     strerror(errno));
			break;
		}
		close(fd);
		rc = fsync_path((char *)vdir.data, e);
		if (!rc && made_v)
			rc = fsync_path((char *)kdir.data, e);
		if (!rc && made_k)
			rc = fsync_path((char *)top.data, e);
		if (!rc && made_top)
			rc = fsync_path(s->dir, e);
		break;
	}
	buf_free(&top);
	buf_free(&kdir);
	buf_free(&vdir);
	buf_free(&entry);
	return rc;
}

static void index_del(const struct claim_store *s, const char *key, const char *value, const char *lease)
{
	struct buf p = { 0 };
	if (buf_printf(&p, "%s/.index/%s/%s/%s", s->dir, key, value, lease)) {
		unlink((char *)p.data);
		p.data[p.len - strlen(lease) - 1] = 0;
		rmdir((char *)p.data); /* fails harmlessly while other leases share the value */
	}
	buf_free(&p);
}

int claimindex_before(const struct claim_store *s, const struct claim *old, const struct claim *new,
			struct err *e)
{
	for (const char *const *k = claim_indexed; *k; k++) {
		const char *nv = claim_get(new, *k), *ov = old ? claim_get(old, *k) : NULL;
		int rc;
		if (nv && (!ov || strcmp(nv, ov)) && (rc = index_add(s, *k, nv, new->lease_id, e)))
			return rc;
	}
	return EXIT_OK;
}

void claimindex_after(const struct claim_store *s, const struct claim *old, const struct claim *new)
{
	for (const char *const *k = claim_indexed; old && *k; k++) {
		const char *nv = new ? claim_get(new, *k) : NULL, *ov = claim_get(old, *k);
		if (ov && (!nv || strcmp(nv, ov)))
			index_del(s, *k, ov, old->lease_id);
	}
}

static bool index_complete(const struct claim_store *s)
{
	struct buf p = { 0 };
	struct stat st;
	bool ok = buf_printf(&p, "%s/.index/v1", s->dir) && !lstat((char *)p.data, &st) && S_ISREG(st.st_mode);
	buf_free(&p);
	return ok;
}

bool claimindex_covers(const struct claim_store *s, const char *key)
{
	return is_indexed(key) && index_complete(s);
}

struct build {
	const struct claim_store *s;
	struct err *e;
};

static int build_visit(const struct claim *c, void *arg)
{
	struct build *b = arg;
	return claimindex_before(b->s, NULL, c, b->e);
}

int claimindex_build(const struct claim_store *s, struct err *e)
{
	if (index_complete(s))
		return EXIT_OK;
	struct build b = { s, e };
	int rc = claimdir_scan(s, NULL, NULL, build_visit, NULL, &b, e);
	struct buf top = { 0 }, mark = { 0 };
	bool made = false;
	if (rc == EXIT_OK && (!buf_printf(&top, "%s/.index", s->dir) || !buf_printf(&mark, "%s/v1", (char *)top.data)))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	if (rc == EXIT_OK && !(rc = mkdir_0700((char *)top.data, &made, e))) {
		int fd = open((char *)mark.data, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			rc = err_set(e, EXIT_SYSTEM, "cannot create %s: %s", (char *)mark.data, strerror(errno));
		else
			close(fd);
		if (rc == EXIT_OK)
			rc = fsync_path((char *)top.data, e);
		if (rc == EXIT_OK && made)
			rc = fsync_path(s->dir, e);
	}
	buf_free(&top);
	buf_free(&mark);
	return rc;
}
