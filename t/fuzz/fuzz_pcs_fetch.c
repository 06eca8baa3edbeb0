/* Fuzz target: pcs_fetch - the four PCS/PCCS requests of
 * tdx-collateral-fetch and the checks of every answer (curl's exit, HTTP
 * status, issuer-chain headers and their percent-encoding, CRL bodies in DER
 * or hex, signed TCB info and QE identity bodies) - with $CURL a script that
 * answers each request from the input, then collateral_json and the
 * verifier's parse of what was assembled. (fuzz_pcs feeds the same body
 * parsers directly, faster.)
 *
 * Input: FLAGS, then per request: EXIT STATUS HLEN(2) HEADERS BLEN(2) BODY.
 * FLAGS: bit 0 a PCCS (root CRL from the PCCS), bit 1 the Processor CA,
 * bit 2 no CRL distribution point in the root. EXIT % 8 other than 0 is a
 * failed transfer (curl's exit status); STATUS < 240 is 200, else 404 or
 * 500. A request past the last answer fails as a refused connection. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcap.h"
#include "fuzz.h"
#include "pcs.h"

#define MAX_REQUESTS 4

static char dir[PATH_MAX];

static void put(const char *name, const void *p, size_t n)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	fuzz_put(path, p, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof dir, "%s", fuzz_tmpdir());
	char script[2 * PATH_MAX + 1024], curl[PATH_MAX + 16];
	int n = snprintf(script, sizeof script,
			 "#!/bin/sh\n"
			 "F='%s'\n"
			 "while [ $# -gt 0 ]; do\n"
			 "  case $1 in -o) o=$2; shift;; -D) d=$2; shift;; --stderr) s=$2; shift;; esac; shift\n"
			 "done\n"
			 "read n < \"$F/n\"; echo $((n + 1)) > \"$F/n\"; r=$F/r$n\n"
			 "[ -f \"$r.x\" ] || { echo 'curl: (7) Failed to connect' > \"$s\"; exit 7; }\n"
			 "read x < \"$r.x\"\n"
			 "[ \"$x\" = 0 ] || { echo 'curl: (28) Operation timed out' > \"$s\"; exit \"$x\"; }\n"
			 "cat \"$r.h\" > \"$d\"; cat \"$r.b\" > \"$o\"; read c < \"$r.c\"; printf %%s \"$c\"\n",
			 dir);
	snprintf(curl, sizeof curl, "%s/curl", dir);
	int fd = open(curl, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	if (fd < 0 || write(fd, script, (size_t)n) != n || close(fd))
		abort();
	setenv("CURL", curl, 1);
	return 0;
}

static size_t take_len(const uint8_t **p, const uint8_t *end)
{
	size_t n = 0;
	for (int i = 0; i < 2; i++)
		n = n << 8 | (*p < end ? *(*p)++ : 0);
	return n > (size_t)(end - *p) ? (size_t)(end - *p) : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	const uint8_t *p = data + 1, *end = data + size;
	unsigned flags = data[0];
	put("n", "0\n", 2);
	char name[16], text[16];
	for (int i = 0; i < MAX_REQUESTS; i++) {
		snprintf(name, sizeof name, "r%d.x", i);
		if (p >= end) {
			char path[PATH_MAX + 32];
			snprintf(path, sizeof path, "%s/%s", dir, name);
			unlink(path);
			continue;
		}
		unsigned x = *p++ % 8, st = p < end ? *p++ : 0;
		int tl = snprintf(text, sizeof text, "%u\n", x);
		put(name, text, (size_t)tl);
		snprintf(name, sizeof name, "r%d.c", i);
		tl = snprintf(text, sizeof text, "%d\n", st < 240 ? 200 : st < 248 ? 404 : 500);
		put(name, text, (size_t)tl);
		size_t hl = take_len(&p, end);
		snprintf(name, sizeof name, "r%d.h", i);
		put(name, p, hl);
		p += hl;
		size_t bl = take_len(&p, end);
		snprintf(name, sizeof name, "r%d.b", i);
		put(name, p, bl);
		p += bl;
	}

	struct pcs_source src = { .base = "https://pccs.invalid/", .pccs = flags & 1, .timeout_s = 5 };
	struct pcs_platform pf = { .fmspc = { 0xb0, 0xc0, 0x6f, 0, 0, 0 }, .processor = flags & 2 };
	if (!(flags & 4))
		snprintf(pf.root_crl_url, sizeof pf.root_crl_url, "%s",
			 "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der");
	struct collateral c;
	memset(&c, 0, sizeof c);
	struct err e = { 0 };
	int rc = pcs_fetch(&src, &pf, &c, &e);
	if (rc == EXIT_OK) {
		struct buf out = { 0 };
		if (collateral_json(&c, &out, &e))
			abort();
		struct dcap_verifier v;
		if (dcap_verifier_init(&v, NULL, 0, &e))
			abort();
		if (dcap_verifier_set_collateral(&v, (const char *)out.data, out.len, &e) == EXIT_OK &&
		    (v.col.tcb_info.len != c.tcb_info.len || memcmp(v.col.tcb_info.data, c.tcb_info.data, c.tcb_info.len) ||
		     memcmp(v.col.tcb_info_signature, c.tcb_info_signature, 64)))
			abort(); /* what was fetched is what the verifier reads back */
		dcap_verifier_free(&v);
		buf_free(&out);
	} else if (rc != EXIT_REMOTE && rc != EXIT_MALFORMED) {
		abort();
	}
	if (rc)
		fuzz_check_message(&e);
	collateral_free(&c);
	return 0;
}
