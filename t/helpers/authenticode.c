/* authenticode: prints the Authenticode digest of a PE image, for the
 * cross-check against osslsigncode in t/tdx-measure.bats.
 *   authenticode [--sha256|--sha384] [--patched INITRD_SIZE MEMORY_SIZE] FILE
 * --patched hashes the image after QEMU's setup-header patch (RTMR1's kernel
 * event). Exit 0, or the library's exit code with its message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authenticode.h"
#include "fileio.h"
#include "kernel.h"

int main(int argc, char **argv)
{
	enum digest_alg alg = DIGEST_SHA384;
	int i = 1;
	bool patched = false;
	unsigned long long initrd = 0, memory = 0;
	for (; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--sha256"))
			alg = DIGEST_SHA256;
		else if (!strcmp(argv[i], "--sha384"))
			alg = DIGEST_SHA384;
		else if (!strcmp(argv[i], "--patched") && i + 3 < argc) {
			patched = true;
			initrd = strtoull(argv[++i], NULL, 0);
			memory = strtoull(argv[++i], NULL, 0);
		} else
			break;
	}
	if (i != argc - 1 || (patched && alg != DIGEST_SHA384)) {
		fprintf(stderr, "usage: authenticode [--sha256|--sha384] [--patched INITRD_SIZE MEMORY_SIZE] FILE\n");
		return 2;
	}
	struct buf in = { 0 };
	struct err e = { 0 };
	uint8_t d[SHA384_LEN];
	size_t n = alg == DIGEST_SHA256 ? SHA256_LEN : SHA384_LEN;
	if (file_read_all(argv[i], (size_t)1 << 30, &in, &e) ||
	    (patched ? kernel_measured_digest(in.data, in.len, initrd, memory, d, &e)
		     : authenticode_digest(alg, in.data, in.len, d, &e))) {
		fprintf(stderr, "authenticode: %s\n", e.msg);
		buf_free(&in);
		return e.code;
	}
	char hex[2 * SHA384_LEN + 1];
	hex_encode(d, n, hex);
	puts(hex);
	buf_free(&in);
	return 0;
}
