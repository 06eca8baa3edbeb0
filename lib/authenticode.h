/* authenticode: the PE/COFF image hash UEFI firmware measures when it loads
 * an EFI application (the Linux kernel's EFI stub): the file without its
 * CheckSum field, its certificate-table directory entry and the certificate
 * table, headers first, then the sections in file order, then any trailing
 * data (EDK2 MeasureBootPeCoff.c; Microsoft's Authenticode PE format).
 *
 * One quirk, as the TDX firmware measures and as dstack reproduces it: the
 * hashed length is padded with zero bytes to a multiple of 8. osslsigncode
 * pads an unsigned file the same way before it signs it, which is what makes
 * its digests a cross-check (doc/tdx-measure.1). */
#ifndef LIB_AUTHENTICODE_H
#define LIB_AUTHENTICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "err.h"

#define PE_MAX_SECTIONS 96 /* the PE/COFF limit */

struct pe_layout {
	size_t checksum_at;     /* offset of the 4-byte CheckSum */
	bool has_cert_entry;    /* NumberOfRvaAndSizes > 4 */
	size_t cert_entry_at;   /* offset of the 8-byte certificate-table entry */
	size_t headers;         /* SizeOfHeaders */
	size_t nsec;            /* sections with raw data, in file order */
	struct {
		size_t at, len;
	} sec[PE_MAX_SECTIONS];
	size_t cert_len;        /* certificate table size (0: unsigned) */
};

/* Parses and checks the headers and section table: PE signature, optional
 * header (PE32 or PE32+), SizeOfHeaders, every section's raw data inside the
 * file, after the headers and not overlapping another, a certificate table
 * (if any) exactly at the end of a file whose length is a multiple of 8.
 * EXIT_MALFORMED names the first violation. */
int pe_parse(struct pe_layout *l, const uint8_t *p, size_t len, struct err *e);

/* The Authenticode digest (SHA-256 or SHA-384) of a PE image. */
int authenticode_digest(enum digest_alg alg, const uint8_t *p, size_t len, uint8_t *out, struct err *e);

#endif
