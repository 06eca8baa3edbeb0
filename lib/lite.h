/* lite: dstack's "lite" measurement material, vm_config.tdx_measurement -
 * the image's sha256sum.txt and its measurement.tdx.cbor (version 3:
 * image {cmdline_sha384, kernel_authenticode, initrd_sha384}, tdvf {ovmf,
 * mrtd {single_pass, two_pass}, td_hob}; dstack-types TdxOsImageMeasurement).
 * It stands in for the image files: bound to os_image_hash through the
 * checksum file, it carries the digests the registers are composed from.
 * CBOR through Debian's libcbor; the decoder accepts exactly that document. */
#ifndef LIB_LITE_H
#define LIB_LITE_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "digest.h"
#include "err.h"

#define LITE_CBOR_FILE "measurement.tdx.cbor"
#define LITE_CBOR_MAX 65536u
#define LITE_VERSION 3
#define LITE_WITNESS_MAX 1024u

struct lite_material {
	uint8_t cmdline_sha384[SHA384_LEN];      /* RTMR2 event 0 */
	uint8_t kernel_authenticode[SHA384_LEN]; /* RTMR1 event 0, valid for 2 GiB or >= 0xB0000000 */
	uint8_t initrd_sha384[SHA384_LEN];       /* RTMR2 event 1 */
	uint8_t mrtd_single_pass[SHA384_LEN], mrtd_two_pass[SHA384_LEN];
	char ovmf[32];                           /* OVMF variant, "pre202505" */
	uint8_t td_hob[LITE_WITNESS_MAX];        /* TdHobWitnessV1 */
	size_t td_hob_len;
};

/* Decodes measurement.tdx.cbor: one definite-length map with exactly the
 * keys above (no other, none twice), byte strings of the right lengths,
 * version 3, nothing after the item. EXIT_MALFORMED names the field. */
int lite_decode(struct lite_material *m, const uint8_t *cbor, size_t len, struct err *e);

/* Encodes it the way dstack does (field order, definite lengths), for image
 * builders; lite_decode(lite_encode(m)) == m. */
int lite_encode(const struct lite_material *m, struct buf *out, struct err *e);

/* The whole lite path's identity: SHA-256(checksum_file) must be the claimed
 * os_image_hash (EXIT_REJECTED), the checksum file must list
 * measurement.tdx.cbor once and its SHA-256 must match (EXIT_REJECTED),
 * then the CBOR is decoded. */
int lite_load(struct lite_material *m, const uint8_t *checksum_file, size_t clen, const uint8_t *cbor, size_t len,
	      const uint8_t os_image_hash[SHA256_LEN], struct err *e);

#endif
