#include "osimage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "json.h"
#include "lite.h"

/* Opens name in dir without following links and without blocking on a
 * FIFO; only a regular file is accepted. */
static int open_listed(int dir, const char *name, const char *origin, int *fd, struct stat *st, struct err *e)
{
	*fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0) {
		if (errno == ENOENT)
			return err_set(e, EXIT_REJECTED, "%s: %s is listed in %s but missing", origin, name, CHECKSUM_FILE);
		if (errno == ELOOP)
			return err_set(e, EXIT_MALFORMED, "%s: %s is a symbolic link: refused", origin, name);
		return err_set(e, EXIT_SYSTEM, "%s: cannot open %s: %s", origin, name, strerror(errno));
	}
	if (fstat(*fd, st) || !S_ISREG(st->st_mode)) {
		close(*fd);
		*fd = -1;
		return err_set(e, EXIT_MALFORMED, "%s: %s is not a regular file: refused", origin, name);
	}
	return EXIT_OK;
}

static int load_dir(struct os_image *img, const char *path, const uint8_t *claimed, struct err *e)
{
	snprintf(img->origin, sizeof img->origin, "directory %s", path);
	int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return err_set(e, EXIT_SYSTEM, "cannot open directory %s: %s", path, strerror(errno));
	int fd, rc;
	struct stat st;
	struct buf sums = { 0 };
	if ((rc = open_listed(dir, CHECKSUM_FILE, img->origin, &fd, &st, e)) == EXIT_OK) {
		if (rc == EXIT_OK && (uint64_t)st.st_size > CHECKSUM_FILE_MAX)
			rc = err_set(e, EXIT_MALFORMED, "%s: %s is larger than %u bytes", img->origin, CHECKSUM_FILE,
				     CHECKSUM_FILE_MAX);
		if (rc == EXIT_OK)
			rc = fd_read_all(fd, CHECKSUM_FILE, CHECKSUM_FILE_MAX, &sums, e);
		close(fd);
	} else if (rc == EXIT_REJECTED) {
		rc = err_set(e, EXIT_MALFORMED, "%s has no %s: not a dstack OS image", img->origin, CHECKSUM_FILE);
	}
	if (rc == EXIT_OK && (rc = checksum_parse(&img->sums, sums.data, sums.len, e)))
		err_wrap(e, "%s", img->origin);
	if (rc == EXIT_OK && claimed)
		rc = checksum_check_identity(&img->sums, claimed, img->origin, e);
	for (size_t i = 0; rc == EXIT_OK && i < img->sums.n; i++) {
		const char *name = img->sums.e[i].name;
		if ((rc = open_listed(dir, name, img->origin, &fd, &st, e)))
			break;
		rc = tarball_add_file(&img->files, fd, name, (uint64_t)st.st_size, img->origin, e);
		close(fd);
	}
	buf_free(&sums);
	close(dir);
	return rc;
}

static int load_archive(struct os_image *img, const char *path, const uint8_t *claimed, struct err *e)
{
	snprintf(img->origin, sizeof img->origin, "archive %s", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, EXIT_SYSTEM, "cannot open %s: %s", path, strerror(errno));
	int rc = tarball_read_fd(&img->files, fd, path, e);
	close(fd);
	if (rc)
		return rc;
	const struct tar_member *sums = tarball_find(&img->files, CHECKSUM_FILE);
	if (!sums || !sums->kept)
		return err_set(e, EXIT_MALFORMED, "%s has no %s: not a dstack OS image", img->origin, CHECKSUM_FILE);
	if (checksum_parse(&img->sums, sums->data.data, sums->data.len, e))
		return err_wrap(e, "%s", img->origin);
	if (claimed && checksum_check_identity(&img->sums, claimed, img->origin, e))
		return e->code;
	for (size_t i = 0; i < img->files.n; i++) {
		const char *name = img->files.m[i].name;
		if (strcmp(name, CHECKSUM_FILE) && !checksum_find(&img->sums, name))
			return err_set(e, EXIT_MALFORMED, "%s: member %s is not listed in %s: refused", img->origin, name,
				       CHECKSUM_FILE);
	}
	for (size_t i = 0; i < img->sums.n; i++)
		if (!tarball_find(&img->files, img->sums.e[i].name))
			return err_set(e, EXIT_REJECTED, "%s: %s is listed in %s but missing", img->origin,
				       img->sums.e[i].name, CHECKSUM_FILE);
	return EXIT_OK;
}

/* Every listed file must hash to its line. */
static int check_files(const struct os_image *img, struct err *e)
{
	for (size_t i = 0; i < img->sums.n; i++) {
		const struct checksum_entry *en = &img->sums.e[i];
		const struct tar_member *m = tarball_find(&img->files, en->name);
		if (!m || memcmp(m->sha256, en->sha256, SHA256_LEN))
			return err_set(e, EXIT_REJECTED, "%s: %s does not match %s", img->origin, en->name, CHECKSUM_FILE);
	}
	return EXIT_OK;
}

/* A file that metadata.json names: listed (so verified) and, for the
 * firmware and the kernel, small enough to have been kept. */
static int named_file(struct os_image *img, const struct json *j, const char *key, bool need_bytes,
		      const struct tar_member **out, struct err *e)
{
	struct buf name = { 0 };
	int t = json_need(j, 0, key, e);
	int rc = t < 0 ? e->code : json_string(j, t, key, &name, e);
	if (rc == EXIT_OK && !image_name_ok((const char *)name.data, name.len))
		rc = err_set(e, EXIT_MALFORMED, "%s.%s is not a plain file name", IMAGE_METADATA, key);
	if (rc == EXIT_OK && !checksum_find(&img->sums, (const char *)name.data))
		rc = err_set(e, EXIT_MALFORMED, "%s.%s names %s, which %s does not list", IMAGE_METADATA, key,
			     (const char *)name.data, CHECKSUM_FILE);
	if (rc == EXIT_OK) {
		*out = tarball_find(&img->files, (const char *)name.data);
		if (need_bytes && !(*out)->kept)
			rc = err_set(e, EXIT_MALFORMED, "%s %s is too large (%llu bytes)", key, (const char *)name.data,
				     (unsigned long long)(*out)->size);
	}
	buf_free(&name);
	return rc;
}

static int read_metadata(struct os_image *img, struct err *e)
{
	const struct tar_member *meta = tarball_find(&img->files, IMAGE_METADATA);
	if (!meta || !checksum_find(&img->sums, IMAGE_METADATA))
		return err_set(e, EXIT_MALFORMED, "%s does not list %s", CHECKSUM_FILE, IMAGE_METADATA);
	if (!meta->kept)
		return err_set(e, EXIT_MALFORMED, "%s is too large", IMAGE_METADATA);
	struct json j;
	if (json_parse(&j, (const char *)meta->data.data, meta->data.len, e))
		return err_wrap(e, "%s", IMAGE_METADATA);
	int rc = json_type(&j, 0) == JSON_OBJECT ? EXIT_OK : err_set(e, EXIT_MALFORMED, "%s is not an object", IMAGE_METADATA);
	int t;
	if (rc == EXIT_OK && ((t = json_need(&j, 0, "cmdline", e)) < 0 || json_string(&j, t, "cmdline", &img->cmdline, e)))
		rc = e->code;
	if (rc == EXIT_OK && strlen((const char *)img->cmdline.data) != img->cmdline.len)
		rc = err_set(e, EXIT_MALFORMED, "%s.cmdline contains a NUL character", IMAGE_METADATA);
	/* Only one OVMF measurement layout exists; any other is not a guess to make. */
	if (rc == EXIT_OK && (t = json_get(&j, 0, "ovmf_variant")) >= 0 && !json_string_is(&j, t, "pre202505"))
		rc = err_set(e, EXIT_MALFORMED, "%s.ovmf_variant is not pre202505: not implemented", IMAGE_METADATA);
	if (rc == EXIT_OK && (named_file(img, &j, "bios", true, &img->bios, e) ||
			      named_file(img, &j, "kernel", true, &img->kernel, e) ||
			      named_file(img, &j, "initrd", false, &img->initrd, e)))
		rc = e->code;
	json_free(&j);
	if (rc)
		return err_wrap(e, "%s", img->origin);
	const struct tar_member *m = tarball_find(&img->files, LITE_CBOR_FILE);
	img->measurement = m && m->kept ? m : NULL;
	return EXIT_OK;
}

int osimage_load(struct os_image *img, const char *path, const uint8_t *claimed, struct err *e)
{
	memset(img, 0, sizeof *img);
	struct stat st;
	if (stat(path, &st))
		return err_set(e, EXIT_SYSTEM, "cannot read image %s: %s", path, strerror(errno));
	int rc = S_ISDIR(st.st_mode) ? load_dir(img, path, claimed, e) : load_archive(img, path, claimed, e);
	if (rc == EXIT_OK)
		rc = check_files(img, e);
	if (rc == EXIT_OK)
		rc = read_metadata(img, e);
	if (rc)
		osimage_free(img);
	return rc;
}

void osimage_free(struct os_image *img)
{
	tarball_free(&img->files);
	buf_free(&img->cmdline);
	img->kernel = img->initrd = img->bios = img->measurement = NULL;
}
