#include "quote.h"

#include <stddef.h>
#include <string.h>

const uint8_t INTEL_QE_VENDOR_ID[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };

static int truncated(struct err *e, const char *what)
{
	return err_set(e, EXIT_MALFORMED, "quote truncated: %s", what);
}

/* The TD report, field by field: one table read by the parser and the writer. */
#define TD_FIELD(name, size) { offsetof(struct td_report, name), size }
static const struct {
	size_t off, size;
} td_fields[] = {
	TD_FIELD(tee_tcb_svn, 16),     TD_FIELD(mr_seam, 48),      TD_FIELD(mr_signer_seam, 48),
	TD_FIELD(seam_attributes, 8),  TD_FIELD(td_attributes, 8), TD_FIELD(xfam, 8),
	TD_FIELD(mr_td, 48),           TD_FIELD(mr_config_id, 48), TD_FIELD(mr_owner, 48),
	TD_FIELD(mr_owner_config, 48), TD_FIELD(rtmr[0], 48),      TD_FIELD(rtmr[1], 48),
	TD_FIELD(rtmr[2], 48),         TD_FIELD(rtmr[3], 48),      TD_FIELD(report_data, 64),
	TD_FIELD(tee_tcb_svn2, 16),    TD_FIELD(mr_service_td, 48),
};
#define TD_FIELDS(td15) ((td15) ? sizeof td_fields / sizeof td_fields[0] : 15) /* TD 1.5 adds two */

static void td_report_parse(struct td_report *t, struct cursor *c, bool td15)
{
	t->tee_tcb_svn2 = t->mr_service_td = NULL;
	for (size_t i = 0; i < TD_FIELDS(td15); i++)
		*(const uint8_t **)(void *)((char *)t + td_fields[i].off) = cur_take(c, td_fields[i].size);
}

bool td_report_write(struct buf *out, const struct td_report *t, bool td15)
{
	static const uint8_t zero[64];
	for (size_t i = 0; i < TD_FIELDS(td15); i++) {
		const uint8_t *p = *(const uint8_t *const *)(const void *)((const char *)t + td_fields[i].off);
		if (!buf_append(out, p ? p : zero, td_fields[i].size))
			return false;
	}
	return true;
}

/* SGX report offsets, shared by the parser and the writer. */
enum {
	SGX_OFF_CPU_SVN = 0, SGX_OFF_MISC_SELECT = 16, SGX_OFF_ATTRIBUTES = 48, SGX_OFF_MR_ENCLAVE = 64,
	SGX_OFF_MR_SIGNER = 128, SGX_OFF_ISV_PROD_ID = 256, SGX_OFF_ISV_SVN = 258, SGX_OFF_REPORT_DATA = 320
};

void sgx_report_parse(struct sgx_report *r, const uint8_t *raw)
{
	r->raw = raw;
	r->cpu_svn = raw + SGX_OFF_CPU_SVN;
	r->misc_select = (uint32_t)le_load(raw + SGX_OFF_MISC_SELECT, 4);
	r->attributes = raw + SGX_OFF_ATTRIBUTES;
	r->mr_enclave = raw + SGX_OFF_MR_ENCLAVE;
	r->mr_signer = raw + SGX_OFF_MR_SIGNER;
	r->isv_prod_id = (uint16_t)le_load(raw + SGX_OFF_ISV_PROD_ID, 2);
	r->isv_svn = (uint16_t)le_load(raw + SGX_OFF_ISV_SVN, 2);
	r->report_data = raw + SGX_OFF_REPORT_DATA;
}

static void put(uint8_t *dst, const uint8_t *src, size_t n)
{
	if (src)
		memcpy(dst, src, n);
}

void sgx_report_write(uint8_t out[SGX_REPORT_LEN], const struct sgx_report *r)
{
	memset(out, 0, SGX_REPORT_LEN);
	put(out + SGX_OFF_CPU_SVN, r->cpu_svn, 16);
	le_store(out + SGX_OFF_MISC_SELECT, r->misc_select, 4);
	put(out + SGX_OFF_ATTRIBUTES, r->attributes, 16);
	put(out + SGX_OFF_MR_ENCLAVE, r->mr_enclave, 32);
	put(out + SGX_OFF_MR_SIGNER, r->mr_signer, 32);
	le_store(out + SGX_OFF_ISV_PROD_ID, r->isv_prod_id, 2);
	le_store(out + SGX_OFF_ISV_SVN, r->isv_svn, 2);
	put(out + SGX_OFF_REPORT_DATA, r->report_data, 64);
}

static int parse_signature_data(struct tdx_quote *q, struct cursor *c, struct err *e)
{
	q->signature = cur_take(c, 64);
	q->attestation_key = cur_take(c, 64);
	if (!q->attestation_key || !cur_u16le(c, &q->cert_data_type) || !cur_u32le(c, &q->cert_data_len))
		return truncated(e, "signature data header");
	if (q->cert_data_type != QE_REPORT_CERT_DATA)
		return err_set(e, EXIT_MALFORMED, "unsupported certification data type %u (expected %u)",
			       q->cert_data_type, QE_REPORT_CERT_DATA);
	const uint8_t *cd = cur_take(c, q->cert_data_len);
	if (!cd)
		return truncated(e, "certification data longer than the signature data");
	if (cur_left(c))
		return err_set(e, EXIT_MALFORMED, "%zu unexplained bytes at the end of the signature data",
			       cur_left(c));
	struct cursor d = cursor_of(cd, q->cert_data_len);
	const uint8_t *report = cur_take(&d, SGX_REPORT_LEN);
	q->qe_report_signature = cur_take(&d, 64);
	/* The cursor is poisoned by a short report, so one check covers both. */
	if (!q->qe_report_signature || !cur_u16le(&d, &q->qe_auth_len))
		return truncated(e, "QE report certification data");
	sgx_report_parse(&q->qe_report, report);
	q->qe_auth_data = cur_take(&d, q->qe_auth_len);
	uint32_t chain_len;
	if (!q->qe_auth_data || !cur_u16le(&d, &q->pck_cert_type) || !cur_u32le(&d, &chain_len))
		return truncated(e, "QE authentication data");
	if (q->pck_cert_type != PCK_CERT_CHAIN_DATA)
		return err_set(e, EXIT_MALFORMED, "unsupported PCK certification data type %u (expected %u)",
			       q->pck_cert_type, PCK_CERT_CHAIN_DATA);
	q->pck_chain = cur_take(&d, chain_len);
	q->pck_chain_len = chain_len;
	if (!q->pck_chain)
		return truncated(e, "PCK certificate chain");
	if (cur_left(&d))
		return err_set(e, EXIT_MALFORMED, "%zu unexplained bytes after the PCK certificate chain",
			       cur_left(&d));
	return EXIT_OK;
}

int quote_parse(struct tdx_quote *q, const uint8_t *data, size_t len, struct err *e)
{
	memset(q, 0, sizeof *q);
	q->raw = data;
	struct cursor c = cursor_of(data, len);
	if (!cur_u16le(&c, &q->version) || !cur_u16le(&c, &q->att_key_type) || !cur_u32le(&c, &q->tee_type) ||
	    !cur_u16le(&c, &q->qe_svn) || !cur_u16le(&c, &q->pce_svn) ||
	    !(q->qe_vendor_id = cur_take(&c, 16)) || !(q->user_data = cur_take(&c, 20)))
		return truncated(e, len ? "shorter than the 48-byte header" : "empty input");
	if (q->version == 3 || (q->tee_type == SGX_TEE_TYPE && q->version <= 5))
		return err_set(e, EXIT_MALFORMED, "this is an SGX quote (version %u, TEE type 0x%x); only TDX quotes are supported",
			       q->version, q->tee_type);
	if (q->version != 4 && q->version != 5)
		return err_set(e, EXIT_MALFORMED, "unsupported quote version %u (expected 4 or 5)", q->version);
	if (q->tee_type != TDX_TEE_TYPE)
		return err_set(e, EXIT_MALFORMED, "wrong TEE type 0x%x (expected 0x81, TDX)", q->tee_type);
	if (q->att_key_type != 2)
		return err_set(e, EXIT_MALFORMED, "unsupported attestation key type %u (expected 2, ECDSA P-256)",
			       q->att_key_type);
	q->body_type = 2;
	q->body_size = TD10_REPORT_LEN;
	if (q->version == 5) {
		if (!cur_u16le(&c, &q->body_type) || !cur_u32le(&c, &q->body_size))
			return truncated(e, "body descriptor");
		uint32_t want = q->body_type == 2 ? TD10_REPORT_LEN : q->body_type == 3 ? TD15_REPORT_LEN : 0;
		if (!want)
			return err_set(e, EXIT_MALFORMED, "unsupported v5 body type %u (expected 2 or 3)", q->body_type);
		if (q->body_size != want)
			return err_set(e, EXIT_MALFORMED, "v5 body size %u does not match body type %u (%u)",
				       q->body_size, q->body_type, want);
	}
	if (cur_left(&c) < q->body_size)
		return truncated(e, "TD report");
	td_report_parse(&q->td, &c, q->body_type == 3);
	q->signed_len = c.pos;
	if (!cur_u32le(&c, &q->sig_data_len))
		return truncated(e, "signature data length");
	size_t follow = cur_left(&c);
	const uint8_t *sig = cur_take(&c, q->sig_data_len);
	if (!sig)
		return err_set(e, EXIT_MALFORMED, "quote truncated: signature data length %u, but only %zu bytes follow",
			       q->sig_data_len, follow);
	q->len = c.pos;
	q->trailing = cur_left(&c);
	struct cursor s = cursor_of(sig, q->sig_data_len);
	return parse_signature_data(q, &s, e);
}

int quote_input_decode(const uint8_t *data, size_t len, struct buf *out, struct err *e)
{
	if (len >= 2 && data[0] != 4 && data[0] != 5 && data[0] != 3 && looks_like_hex(data, len)) {
		if (!hex_decode_text(data, len, out))
			return err_set(e, EXIT_MALFORMED, "quote: invalid hex");
		return EXIT_OK;
	}
	if (!buf_append(out, data, len))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	return EXIT_OK;
}

static bool append_le(struct buf *b, uint32_t v, int n)
{
	uint8_t p[4];
	le_store(p, v, n);
	return buf_append(b, p, (size_t)n);
}

static bool append_or_zero(struct buf *b, const uint8_t *p, size_t n)
{
	static const uint8_t zero[64];
	return p ? buf_append(b, p, n) : buf_append(b, zero, n);
}

int quote_write_signed(struct buf *out, const struct tdx_quote *q, struct err *e)
{
	if (q->version != 4 && q->version != 5)
		return err_set(e, EXIT_USAGE, "quote version %u cannot be written (4 or 5)", q->version);
	if (q->version == 4 && q->body_type != 2)
		return err_set(e, EXIT_USAGE, "a v4 quote carries a TD 1.0 report only");
	if (q->body_type != 2 && q->body_type != 3)
		return err_set(e, EXIT_USAGE, "body type %u cannot be written (2 or 3)", q->body_type);
	bool td15 = q->body_type == 3;
	bool ok = append_le(out, q->version, 2) && append_le(out, q->att_key_type, 2) &&
		  append_le(out, q->tee_type, 4) && append_le(out, q->qe_svn, 2) && append_le(out, q->pce_svn, 2) &&
		  append_or_zero(out, q->qe_vendor_id, 16) && append_or_zero(out, q->user_data, 20);
	if (ok && q->version == 5)
		ok = append_le(out, q->body_type, 2) && append_le(out, td15 ? TD15_REPORT_LEN : TD10_REPORT_LEN, 4);
	if (!ok || !td_report_write(out, &q->td, td15))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	return EXIT_OK;
}

int quote_write_signature_data(struct buf *out, const struct tdx_quote *q, struct err *e)
{
	size_t cert_len = SGX_REPORT_LEN + 64 + 2 + (size_t)q->qe_auth_len + 2 + 4 + q->pck_chain_len;
	size_t sig_len = 64 + 64 + 2 + 4 + cert_len;
	if (sig_len > UINT32_MAX)
		return err_set(e, EXIT_USAGE, "signature data too long");
	bool ok = append_le(out, (uint32_t)sig_len, 4) && append_or_zero(out, q->signature, 64) &&
		  append_or_zero(out, q->attestation_key, 64) && append_le(out, QE_REPORT_CERT_DATA, 2) &&
		  append_le(out, (uint32_t)cert_len, 4) && append_or_zero(out, q->qe_report.raw, SGX_REPORT_LEN) &&
		  append_or_zero(out, q->qe_report_signature, 64) && append_le(out, q->qe_auth_len, 2) &&
		  buf_append(out, q->qe_auth_data, q->qe_auth_len) && append_le(out, PCK_CERT_CHAIN_DATA, 2) &&
		  append_le(out, q->pck_chain_len, 4) && buf_append(out, q->pck_chain, q->pck_chain_len);
	return ok ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
}
