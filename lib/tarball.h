/* tarball: reads an OS image archive (ustar, gzip-compressed or not) in one
 * streaming pass without extracting it: each member is hashed (SHA-256 for
 * the identity check, SHA-384 for measurement) and, when small, kept in
 * memory. Nothing is written anywhere, so a hostile archive cannot place a
 * file; it is refused, before its data is read, when a member is absolute,
 * contains "..", lies deeper than one directory, is a link, device, FIFO or
 * extended header, appears twice, or declares more than TAR_MEMBER_MAX bytes.
 * gzip through zlib (Debian's zlib1g-dev): in-process and streaming, so the
 * compressed bytes never meet a second parser or a child process, and the
 * decompressed size is bounded as it is produced. */
#ifndef LIB_TARBALL_H
#define LIB_TARBALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "digest.h"
#include "err.h"
#include "imageid.h"

#define TAR_MAX_MEMBERS 64
#define TAR_MEMBER_MAX ((uint64_t)2 << 30) /* a release's rootfs fits; 10 GiB does not */
#define TAR_TOTAL_MAX ((uint64_t)3 << 30)  /* decompressed bytes, padding included */
#define TAR_KEEP_MAX ((size_t)64 << 20)    /* members up to this size are kept */
#define TAR_KEEP_TOTAL ((size_t)256 << 20)

struct tar_member {
	char name[IMAGE_NAME_MAX]; /* without the archive's directory, if it has one */
	uint64_t size;
	uint8_t sha256[SHA256_LEN], sha384[SHA384_LEN];
	bool kept;
	struct buf data; /* the bytes, when kept */
};

struct tarball {
	char dir[IMAGE_NAME_MAX]; /* the one directory all members are in, or "" */
	size_t n;
	struct tar_member m[TAR_MAX_MEMBERS];
};

/* Reads the archive from fd (name for messages) or from memory.
 * EXIT_MALFORMED for anything refused above, a bad header checksum, a
 * truncated archive or gzip stream, or bytes after the end-of-archive that
 * are not zero; EXIT_SYSTEM for read errors. */
int tarball_read_fd(struct tarball *t, int fd, const char *name, struct err *e);
int tarball_read_mem(struct tarball *t, const uint8_t *p, size_t n, struct err *e);
/* Adds an open file of size bytes as one more member (an image directory's
 * files go through the same hashing); EXIT_MALFORMED when it is larger than
 * TAR_MEMBER_MAX or there are too many, EXIT_SYSTEM when it changes size. */
int tarball_add_file(struct tarball *t, int fd, const char *name, uint64_t size, const char *origin, struct err *e);
const struct tar_member *tarball_find(const struct tarball *t, const char *name);
void tarball_free(struct tarball *t);

#endif
