#include "digest.h"

#include <openssl/evp.h>

enum { D256, D384, D512, DCOUNT };

/* One fetched EVP_MD and one reusable context per algorithm. The tools are
 * single-threaded; the objects live until exit. */
static EVP_MD *md[DCOUNT];
static EVP_MD_CTX *ctx[DCOUNT];

static int hash_spans(int which, uint8_t *out, const struct span *parts, size_t count)
{
	static const char *names[DCOUNT] = { "SHA256", "SHA384", "SHA512" };
	if (!md[which] && !(md[which] = EVP_MD_fetch(NULL, names[which], NULL)))
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
