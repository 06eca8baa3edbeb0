#include "truststore.h"

#include <dirent.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

bool truststore_dir_is_indexed(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	const struct dirent *de;
	while (!found && (de = readdir(d))) {
		const char *n = de->d_name;
		found = strlen(n) == 10 && strspn(n, "0123456789abcdef") == 8 && !strcmp(n + 8, ".0");
	}
	closedir(d);
	return found;
}

/* The system store. Debian-style systems keep it twice, made together by
 * update-ca-certificates: one bundle file (about 140 certificates, some 25 ms
 * to parse on every start) and a directory indexed by subject hash, from
 * which only the issuers a chain needs are read. With neither SSL_CERT_FILE
 * nor SSL_CERT_DIR set and the default directory indexed, the directory
 * alone is used; otherwise OpenSSL's defaults, exactly (an SSL_CERT_DIR is
 * then added to the bundle, never in its place; an empty one means none). */
static int load_system(SSL_CTX *ctx, struct err *e)
{
	const char *dir = X509_get_default_cert_dir();
	if (!secure_getenv(X509_get_default_cert_file_env()) && !secure_getenv(X509_get_default_cert_dir_env()) &&
	    truststore_dir_is_indexed(dir)) {
		if (SSL_CTX_load_verify_dir(ctx, dir) == 1)
			return EXIT_OK;
		return err_ssl(e, EXIT_SYSTEM, dir) ? err_wrap(e, "loading the system trust store") : EXIT_SYSTEM;
	}
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		return err_ssl(e, EXIT_SYSTEM, "loading the system trust store");
	return EXIT_OK;
}

int truststore_load(SSL_CTX *ctx, const char *cafile, struct err *e)
{
	if (!cafile)
		return load_system(ctx, e);
	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
		return err_ssl(e, EXIT_SYSTEM, cafile) ? err_wrap(e, "reading CA file") : EXIT_SYSTEM;
	return EXIT_OK;
}
