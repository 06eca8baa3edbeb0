/* quote: the Intel TDX quote (v4 and v5, TD report 1.0 and 1.5) and its
 * signature data, parsed through the bounds-checked cursor. Field pointers
 * point into the caller's buffer, which must outlive the struct. */
#ifndef LIB_QUOTE_H
#define LIB_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "err.h"

#define TDX_TEE_TYPE 0x00000081u
#define SGX_TEE_TYPE 0x00000000u
#define QUOTE_HEADER_LEN 48
#define TD10_REPORT_LEN 584
#define TD15_REPORT_LEN 648
#define SGX_REPORT_LEN 384
#define QE_REPORT_CERT_DATA 6
#define PCK_CERT_CHAIN_DATA 5

extern const uint8_t INTEL_QE_VENDOR_ID[16];

struct td_report {
	const uint8_t *tee_tcb_svn;     /* 16 */
	const uint8_t *mr_seam;         /* 48 */
	const uint8_t *mr_signer_seam;  /* 48 */
	const uint8_t *seam_attributes; /* 8 */
	const uint8_t *td_attributes;   /* 8 */
	const uint8_t *xfam;            /* 8 */
	const uint8_t *mr_td;           /* 48 */
	const uint8_t *mr_config_id;    /* 48 */
	const uint8_t *mr_owner;        /* 48 */
	const uint8_t *mr_owner_config; /* 48 */
	const uint8_t *rtmr[4];         /* 48 each */
	const uint8_t *report_data;     /* 64 */
	const uint8_t *tee_tcb_svn2;    /* 16, TD 1.5 only, else NULL */
	const uint8_t *mr_service_td;   /* 48, TD 1.5 only, else NULL */
};

/* An SGX enclave report (the QE report inside the signature data). */
struct sgx_report {
	const uint8_t *raw;         /* 384 bytes, the signed QE report */
	const uint8_t *cpu_svn;     /* 16 */
	uint32_t misc_select;
	const uint8_t *attributes;  /* 16 */
	const uint8_t *mr_enclave;  /* 32 */
	const uint8_t *mr_signer;   /* 32 */
	uint16_t isv_prod_id, isv_svn;
	const uint8_t *report_data; /* 64 */
};

struct tdx_quote {
	const uint8_t *raw;
	size_t len;        /* signed length + 4 + sig_data_len: the quote proper */
	size_t trailing;   /* bytes after len in the input (padding), ignored */
	uint16_t version, att_key_type;
	uint32_t tee_type;
	uint16_t qe_svn, pce_svn;
	const uint8_t *qe_vendor_id; /* 16 */
	const uint8_t *user_data;    /* 20 */
	uint16_t body_type;          /* 2 = TD 1.0, 3 = TD 1.5 (v4 is always 2) */
	uint32_t body_size;
	struct td_report td;
	size_t signed_len; /* header + body descriptor + TD report */
	uint32_t sig_data_len;

	/* Signature data. */
	const uint8_t *signature;       /* 64: r || s over raw[0, signed_len) */
	const uint8_t *attestation_key; /* 64: x || y, P-256 */
	uint16_t cert_data_type;        /* 6 */
	uint32_t cert_data_len;
	struct sgx_report qe_report;
	const uint8_t *qe_report_signature; /* 64: r || s by the PCK key */
	const uint8_t *qe_auth_data;
	uint16_t qe_auth_len;
	uint16_t pck_cert_type; /* 5 = PEM certificate chain */
	const uint8_t *pck_chain;
	uint32_t pck_chain_len;
};

/* Parses a TDX quote. data may carry trailing bytes after the quote (dstack
 * pads with zeros); they are counted in q->trailing and otherwise ignored.
 * EXIT_MALFORMED for truncation, wrong version or TEE type. */
int quote_parse(struct tdx_quote *q, const uint8_t *data, size_t len, struct err *e);

/* Turns quote input (raw bytes, or hex text with optional 0x and whitespace)
 * into raw bytes in out. */
int quote_input_decode(const uint8_t *data, size_t len, struct buf *out, struct err *e);

/* Parses the 384-byte SGX report layout. */
void sgx_report_parse(struct sgx_report *r, const uint8_t *raw);

/* Writing quotes (the test PKI's generator, simulators): the inverse of the
 * parser over the same layout. A NULL field pointer writes zeros. */
void sgx_report_write(uint8_t out[SGX_REPORT_LEN], const struct sgx_report *r);
bool td_report_write(struct buf *out, const struct td_report *t, bool td15);
/* Appends the signed region of q: header (version, att_key_type, tee_type,
 * qe_svn, pce_svn, qe_vendor_id, user_data), for v5 the body descriptor
 * (body_type), and the TD report. */
int quote_write_signed(struct buf *out, const struct tdx_quote *q, struct err *e);
/* Appends the signature data of q (u32 length first): signature,
 * attestation_key, type-6 certification data with qe_report.raw,
 * qe_report_signature, qe_auth_data and the type-5 pck_chain. */
int quote_write_signature_data(struct buf *out, const struct tdx_quote *q, struct err *e);

#endif
