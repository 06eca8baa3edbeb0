#include "digest.h"

#include <openssl/evp.h>

enum { D256, D384, D512, DCOUNT };

/* One fetched EVP_MD and one reusable context per algorithm. The tools are
 * single-threaded; the objects live until exit. */
static EVP_MD *md[DCOUNT];
static EVP_MD_CTX *ctx[DCOUNT];

static const EVP_MD *fetched(int which)
{
	static const char *names[DCOUNT] = { "SHA256", "SHA384", "SHA512" };
	if (!md[which])
		md[which] = EVP_MD_fetch(NULL, names[which], NULL);
	return md[which];
}

static int hash_spans(int which, uint8_t *out, const struct span *parts, size_t count)
{
	if (!fetched(which))
		return -1;
	if (!ctx[which] && !(ctx[which] = EVP_MD_CTX_new()))
		return -1;
	EVP_MD_CTX *x = ctx[which];
	if (!EVP_DigestInit_ex2(x, md[which], NULL))
		return -1;
	for (size_t i = 0; i < count; i++)
		if (parts[i].n && !EVP_DigestUpdate(x, parts[i].p, parts[i].n))
			return -1;
	return EVP_DigestFinal_ex(x, out, NULL) ? 0 : -1;
}

int sha256_spans(uint8_t out[SHA256_LEN], const struct span *parts, size_t count)
{
	return hash_spans(D256, out, parts, count);
}

int sha384_spans(uint8_t out[SHA384_LEN], const struct span *parts, size_t count)
{
	return hash_spans(D384, out, parts, count);
}

int sha512_spans(uint8_t out[SHA512_LEN], const struct span *parts, size_t count)
{
	return hash_spans(D512, out, parts, count);
}

int digest_begin(struct digest_stream *d, enum digest_alg alg)
{
	const EVP_MD *m = fetched(alg == DIGEST_SHA256 ? D256 : D384);
	d->alg = alg;
	d->ctx = m ? EVP_MD_CTX_new() : NULL;
	if (d->ctx && EVP_DigestInit_ex2(d->ctx, m, NULL))
		return 0;
	digest_drop(d);
	return -1;
}

int digest_add(struct digest_stream *d, const void *p, size_t n)
{
	return d->ctx && (!n || EVP_DigestUpdate(d->ctx, p, n)) ? 0 : -1;
}

int digest_end(struct digest_stream *d, uint8_t *out)
{
	int rc = d->ctx && EVP_DigestFinal_ex(d->ctx, out, NULL) ? 0 : -1;
	digest_drop(d);
	return rc;
}

void digest_drop(struct digest_stream *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}
