/* osimage: a dstack OS image (a directory, a release tarball, or the
 * verifier's flattened mr_<os_image_hash>.tar.gz), loaded and verified:
 * identity first - sha256sum.txt hashes to the claimed os_image_hash - then
 * every file it lists must be present and match; only then is metadata.json
 * read, and through it the firmware, kernel, initrd and command line. A
 * directory's unlisted files are never opened; an archive's unlisted members
 * are refused. */
#ifndef LIB_OSIMAGE_H
#define LIB_OSIMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"
#include "err.h"
#include "imageid.h"
#include "tarball.h"

#define IMAGE_METADATA "metadata.json"

struct os_image {
	char origin[8400];        /* "directory DIR" or "archive FILE", for messages */
	struct checksum_list sums; /* its os_image_hash is the image's */
	struct tarball files;     /* every listed file, hashed */
	struct buf cmdline;       /* metadata.json "cmdline" */
	const struct tar_member *kernel, *initrd, *bios;
	const struct tar_member *measurement; /* measurement.tdx.cbor, if listed */
};

/* Loads path (a directory, or a .tar/.tar.gz file) and verifies it; claimed
 * (NULL: no claim, the image's own hash is reported) is the os_image_hash the
 * evidence names. EXIT_REJECTED for an identity or checksum mismatch,
 * EXIT_MALFORMED for a refused archive, a missing or malformed file, a
 * kernel or firmware too large to keep; EXIT_SYSTEM for I/O errors. */
int osimage_load(struct os_image *img, const char *path, const uint8_t *claimed, struct err *e);
void osimage_free(struct os_image *img);

#endif
