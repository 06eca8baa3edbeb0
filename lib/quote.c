#include "quote.h"

#include <string.h>

const uint8_t INTEL_QE_VENDOR_ID[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };

static int truncated(struct err *e, const char *what)
{
	return err_set(e, EXIT_MALFORMED, "quote truncated: %s", what);
}

static void td_report_parse(struct td_report *t, struct cursor *c, bool td15)
{
	t->tee_tcb_svn = cur_take(c, 16);
	t->mr_seam = cur_take(c, 48);
	t->mr_signer_seam = cur_take(c, 48);
	t->seam_attributes = cur_take(c, 8);
	t->td_attributes = cur_take(c, 8);
	t->xfam = cur_take(c, 8);
	t->mr_td = cur_take(c, 48);
	t->mr_config_id = cur_take(c, 48);
	t->mr_owner = cur_take(c, 48);
	t->mr_owner_config = cur_take(c, 48);
	for (int i = 0; i < 4; i++)
		t->rtmr[i] = cur_take(c, 48);
	t->report_data = cur_take(c, 64);
	t->tee_tcb_svn2 = td15 ? cur_take(c, 16) : NULL;
	t->mr_service_td = td15 ? cur_take(c, 48) : NULL;
}

void sgx_report_parse(struct sgx_report *r, const uint8_t *raw)
{
	struct cursor c = cursor_of(raw, SGX_REPORT_LEN);
	r->raw = raw;
	r->cpu_svn = cur_take(&c, 16);
	cur_u32le(&c, &r->misc_select);
	cur_take(&c, 28);
	r->attributes = cur_take(&c, 16);
	r->mr_enclave = cur_take(&c, 32);
	cur_take(&c, 32);
	r->mr_signer = cur_take(&c, 32);
	cur_take(&c, 96);
	cur_u16le(&c, &r->isv_prod_id);
	cur_u16le(&c, &r->isv_svn);
	cur_take(&c, 60);
	r->report_data = cur_take(&c, 64);
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
	const uint8_t *sig = cur_take(&c, q->sig_data_len);
	if (!sig)
		return err_set(e, EXIT_MALFORMED, "quote truncated: signature data length %u, but only %zu bytes follow",
			       q->sig_data_len, cur_left(&c));
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
