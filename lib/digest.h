/* digest: the SHA-2 functions evidence checking needs, with the digest
 * implementations fetched once (per-call EVP fetches dominate small hashes). */
#ifndef LIB_DIGEST_H
#define LIB_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA384_LEN 48
#define SHA512_LEN 64

/* A part of the message to hash; the parts are hashed as one concatenation. */
struct span {
	const void *p;
	size_t n;
};

/* Return 0 on success, -1 if OpenSSL fails (the caller reports EXIT_SYSTEM). */
int sha256_spans(uint8_t out[SHA256_LEN], const struct span *parts, size_t count);
int sha384_spans(uint8_t out[SHA384_LEN], const struct span *parts, size_t count);
int sha512_spans(uint8_t out[SHA512_LEN], const struct span *parts, size_t count);

/* An incremental digest, for inputs that arrive in pieces (files, archives,
 * the MRTD's page blocks). digest_begin allocates; digest_end and
 * digest_drop release; after a failed call only digest_drop is valid. */
enum digest_alg { DIGEST_SHA256, DIGEST_SHA384 };
struct digest_stream {
	void *ctx; /* EVP_MD_CTX */
	enum digest_alg alg;
};
int digest_begin(struct digest_stream *d, enum digest_alg alg);
int digest_add(struct digest_stream *d, const void *p, size_t n);
/* Writes 32 or 48 bytes and releases the context. */
int digest_end(struct digest_stream *d, uint8_t *out);
void digest_drop(struct digest_stream *d);

#define SPANS(...) ((const struct span[]){ __VA_ARGS__ }), (sizeof((const struct span[]){ __VA_ARGS__ }) / sizeof(struct span))

#endif
