/* Shared by the fuzz targets: fixed inputs read once (the real samples under
 * testdata/, found from the binary's place build/.../NAME or the working
 * directory), a private temporary directory per process, files written
 * whole, a check that a message handed out as text is terminated, and test
 * certificates. */
#ifndef T_FUZZ_FUZZ_H
#define T_FUZZ_FUZZ_H

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>

#include "err.h"

/* The whole file at path (relative to the repository), NUL-terminated; aborts
 * when it cannot be read: a target without its fixed input tests nothing. */
static inline char *fuzz_slurp(const char *rel, size_t *len)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	FILE *f = NULL;
	if (n > 0) {
		exe[n] = 0;
		for (int up = 0; up < 3 && !f; up++) { /* build/fuzz/NAME, build/cov/fuzz/NAME */
			char *slash = strrchr(exe, '/');
			if (!slash)
				break;
			*slash = 0;
			snprintf(path, sizeof path, "%s/../%s", exe, rel);
			f = fopen(path, "rb");
		}
	}
	if (!f)
		f = fopen(rel, "rb");
	if (!f) {
		fprintf(stderr, "fuzz: cannot read %s\n", rel);
		abort();
	}
	char *p = NULL;
	size_t cap = 0, used = 0, r;
	do {
		if (used + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 131072;
			p = realloc(p, cap);
			if (!p)
				abort();
		}
		r = fread(p + used, 1, cap - used - 1, f);
		used += r;
	} while (r > 0);
	fclose(f);
	p[used] = 0;
	*len = used;
	return p;
}

/* Writes the whole file (0600), or aborts. */
static inline void fuzz_put(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || close(fd))
		abort();
}

static char fuzz_dir[PATH_MAX];

static inline int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static inline void fuzz_rm_dir(void)
{
	nftw(fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A private directory for this process under $TMPDIR (else /tmp), removed
 * with what it holds when the process exits normally. */
static inline const char *fuzz_tmpdir(void)
{
	if (!fuzz_dir[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(fuzz_dir, sizeof fuzz_dir, "%s/fuzz.XXXXXX", t && t[0] ? t : "/tmp");
		if (!mkdtemp(fuzz_dir))
			abort();
		atexit(fuzz_rm_dir);
	}
	return fuzz_dir;
}

/* An error message must be a terminated C string (a tool prints it): a
 * missing NUL is a finding, and formatting it lets ASan see a message built
 * from an unterminated buffer. FUZZ_VERBOSE=1 prints it on stderr (to see
 * where a seed stops). */
static inline void fuzz_check_message(const struct err *e)
{
	size_t n = strnlen(e->msg, sizeof e->msg);
	if (n == sizeof e->msg)
		abort();
	static FILE *sink;
	if (!sink)
		sink = getenv("FUZZ_VERBOSE") ? stderr : fopen("/dev/null", "w");
	if (sink)
		fprintf(sink, "%s\n", e->msg);
}

/* A test certificate for key (self-signed when issuer is NULL, else signed
 * by issuer_key): CN cn, serial, critical basic constraints (CA or not),
 * valid from days_from to days_to around now, subjectAltName san if any. */
static inline X509 *fuzz_cert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
			      bool ca, long days_from, long days_to, const char *san)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	if (!c || !n || !X509_set_version(c, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(c), serial) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(c, n) || !X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n) ||
	    !X509_gmtime_adj(X509_getm_notBefore(c), 86400L * days_from) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c), 86400L * days_to) || !X509_set_pubkey(c, key))
		abort();
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
	X509_EXTENSION *x = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
						ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (!x || !X509_add_ext(c, x, -1))
		abort();
	X509_EXTENSION_free(x);
	if (san) {
		x = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		if (!x || !X509_add_ext(c, x, -1))
			abort();
		X509_EXTENSION_free(x);
	}
	if (!X509_sign(c, issuer ? issuer_key : key, EVP_sha256()))
		abort();
	X509_NAME_free(n);
	return c;
}

#endif
