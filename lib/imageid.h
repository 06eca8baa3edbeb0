/* imageid: the identity of a dstack OS image. os_image_hash is SHA-256 of
 * the image's sha256sum.txt, whose lines ("<sha256 hex>  <file name>") bind
 * every file of the image (dstack verifier/src/verification.rs). The file is
 * untrusted until its hash equals the claimed os_image_hash; the parser is
 * strict either way. */
#ifndef LIB_IMAGEID_H
#define LIB_IMAGEID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "err.h"

#define CHECKSUM_FILE "sha256sum.txt"
#define CHECKSUM_FILE_MAX 65536u
#define CHECKSUM_MAX_ENTRIES 64
#define IMAGE_NAME_MAX 128

struct checksum_entry {
	char name[IMAGE_NAME_MAX];
	uint8_t sha256[SHA256_LEN];
};

struct checksum_list {
	uint8_t os_image_hash[SHA256_LEN]; /* SHA-256 of the text parsed */
	size_t n;
	struct checksum_entry e[CHECKSUM_MAX_ENTRIES];
};

/* Parses sha256sum.txt: one "<64 hex> <space or *><name>" per line (LF, the
 * last one may lack it; blank lines allowed), names plain file names (see
 * image_name_ok), none twice, sha256sum.txt itself not listed. */
int checksum_parse(struct checksum_list *l, const uint8_t *text, size_t len, struct err *e);
const struct checksum_entry *checksum_find(const struct checksum_list *l, const char *name);

/* True for a name that is one plain path component of printable ASCII
 * letters, digits and "._+-", not "." or "..", not starting with '-'. */
bool image_name_ok(const char *name, size_t len);

/* EXIT_REJECTED unless the list's os_image_hash equals claimed; what names
 * the checksum file in the message ("sha256sum.txt of DIR"). */
int checksum_check_identity(const struct checksum_list *l, const uint8_t claimed[SHA256_LEN], const char *what,
			    struct err *e);

#endif
