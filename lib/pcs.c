#include "pcs.h"

#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "certchain.h"
#include "http.h"
#include "json.h"
#include "jsonw.h"
#include "sgxext.h"

bool pcs_url_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = (uint8_t)s[i];
		if (ch == '%') {
			if (i + 2 >= n || !hex_decode_exact(s + i + 1, 2, &ch, 1))
				return false;
			i += 2;
		}
		if (!buf_append(out, &ch, 1))
			return false;
	}
	return true;
}

static void common_name(X509_NAME *name, char *out, size_t n)
{
	out[0] = 0;
	if (X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)n) < 0)
		out[0] = 0;
}

/* The first URI of the certificate's CRL distribution points, "" if none. */
static void crl_url(X509 *cert, char *out, size_t n)
{
	out[0] = 0;
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	for (int i = 0; dps && i < sk_DIST_POINT_num(dps) && !out[0]; i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (!dp->distpoint || dp->distpoint->type != 0)
			continue;
		GENERAL_NAMES *names = dp->distpoint->name.fullname;
		for (int j = 0; j < sk_GENERAL_NAME_num(names) && !out[0]; j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(names, j);
			if (g->type == GEN_URI && (size_t)g->d.uniformResourceIdentifier->length < n)
				snprintf(out, n, "%.*s", g->d.uniformResourceIdentifier->length,
					 (const char *)g->d.uniformResourceIdentifier->data);
		}
	}
	CRL_DIST_POINTS_free(dps);
}

int pcs_platform_from_quote(const struct tdx_quote *q, struct pcs_platform *p, struct err *e)
{
	STACK_OF(X509) *chain = NULL;
	memset(p, 0, sizeof *p);
	if (certchain_pem(q->pck_chain, q->pck_chain_len, &chain, e))
		return err_wrap(e, "quote's PCK certificate chain");
	struct sgx_ext x;
	int rc = sk_X509_num(chain) < 2 ? err_set(e, EXIT_MALFORMED, "quote's PCK certificate chain: fewer than 2 certificates")
				       : sgx_ext_from_cert(sk_X509_value(chain, 0), &x, e);
	if (rc == EXIT_OK) {
		char cn[256];
		memcpy(p->fmspc, x.fmspc, 6);
		common_name(X509_get_issuer_name(sk_X509_value(chain, 0)), cn, sizeof cn);
		if (strstr(cn, "Processor"))
			p->processor = true;
		else if (!strstr(cn, "Platform"))
			rc = err_set(e, EXIT_MALFORMED, "PCK certificate issuer '%s' is neither the Platform nor the Processor CA", cn);
		crl_url(sk_X509_value(chain, sk_X509_num(chain) - 1), p->root_crl_url, sizeof p->root_crl_url);
	}
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

int pcs_crl_body(const uint8_t *p, size_t n, struct buf *der, struct err *e)
{
	buf_reset(der);
	bool hex = n && looks_like_hex(p, n);
	if (hex ? !hex_decode_text(p, n, der) : !buf_append(der, p, n))
		return err_set(e, hex ? EXIT_MALFORMED : EXIT_SYSTEM, hex ? "invalid hex" : "out of memory");
	X509_CRL *crl = NULL;
	int rc = crl_der(der->data, der->len, &crl, e);
	X509_CRL_free(crl);
	return rc;
}

int pcs_signed_body(const char *text, size_t len, const char *key, struct buf *body, uint8_t sig[64], struct err *e)
{
	struct json j;
	if (json_parse(&j, text, len, e))
		return e->code;
	int rc = EXIT_OK;
	int b = json_need(&j, 0, key, e), s = b < 0 ? -1 : json_need(&j, 0, "signature", e);
	struct buf hex = { 0 };
	if (b < 0 || s < 0) {
		rc = e->code;
	} else if (json_type(&j, b) != JSON_OBJECT) {
		rc = err_set(e, EXIT_MALFORMED, "%s: expected an object", key);
	} else if (!(rc = json_hex(&j, s, "signature", &hex, e)) && hex.len != 64) {
		rc = err_set(e, EXIT_MALFORMED, "signature: expected 64 bytes, got %zu", hex.len);
	}
	if (rc == EXIT_OK) {
		size_t n;
		const char *raw = json_raw(&j, b, &n);
		buf_reset(body);
		memcpy(sig, hex.data, 64);
		if (!buf_append(body, raw, n))
			rc = err_set(e, EXIT_SYSTEM, "out of memory");
	}
	buf_free(&hex);
	json_free(&j);
	return rc;
}

/* GET url; the issuer chain from header (or alt), URL-decoded, must be PEM certificates. */
static int get_part(const struct pcs_source *src, const char *url, const char *header, const char *alt,
		    struct http_response *r, struct buf *chain, struct err *e)
{
	if (http_get(url, src->timeout_s, r, e))
		return e->code;
	if (!header)
		return EXIT_OK;
	struct buf raw = { 0 };
	bool found = http_header(r, header, &raw) || (alt && http_header(r, alt, &raw));
	STACK_OF(X509) *certs = NULL;
	int rc = EXIT_OK;
	buf_reset(chain);
	if (!found)
		rc = err_set(e, EXIT_MALFORMED, "GET %s: no %s header", url, header);
	else if (!pcs_url_decode((const char *)raw.data, raw.len, chain))
		rc = err_set(e, EXIT_MALFORMED, "GET %s: %s: bad percent-encoding", url, header);
	else if (certchain_pem(chain->data, chain->len, &certs, e))
		rc = err_wrap(e, "GET %s: %s", url, header);
	sk_X509_pop_free(certs, X509_free);
	buf_free(&raw);
	return rc;
}

int pcs_fetch(const struct pcs_source *src, const struct pcs_platform *p, struct collateral *c, struct err *e)
{
	char base[2048], url[4096], fmspc[13];
	size_t bl = strlen(src->base);
	while (bl && src->base[bl - 1] == '/')
		bl--;
	if (bl >= sizeof base)
		return err_set(e, EXIT_USAGE, "base URL too long");
	memcpy(base, src->base, bl);
	base[bl] = 0;
	hex_encode_upper(p->fmspc, 6, fmspc);
	struct http_response r = { 0 };
	int rc;

	snprintf(url, sizeof url, "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", base,
		 p->processor ? "processor" : "platform");
	if ((rc = get_part(src, url, "SGX-PCK-CRL-Issuer-Chain", NULL, &r, &c->pck_crl_issuer_chain, e)) ||
	    (rc = pcs_crl_body(r.body.data, r.body.len, &c->pck_crl, e) ? err_wrap(e, "PCK CRL from %s", url) : 0))
		goto out;
	http_response_free(&r);

	snprintf(url, sizeof url, "%s/tdx/certification/v4/tcb?fmspc=%s", base, fmspc);
	if ((rc = get_part(src, url, "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain", &r,
			   &c->tcb_info_issuer_chain, e)) ||
	    (rc = pcs_signed_body((const char *)r.body.data, r.body.len, "tcbInfo", &c->tcb_info,
				  c->tcb_info_signature, e) ? err_wrap(e, "TCB info from %s", url) : 0))
		goto out;
	http_response_free(&r);

	snprintf(url, sizeof url, "%s/tdx/certification/v4/qe/identity", base);
	if ((rc = get_part(src, url, "SGX-Enclave-Identity-Issuer-Chain", NULL, &r, &c->qe_identity_issuer_chain,
			   e)) ||
	    (rc = pcs_signed_body((const char *)r.body.data, r.body.len, "enclaveIdentity", &c->qe_identity,
				  c->qe_identity_signature, e) ? err_wrap(e, "QE identity from %s", url) : 0))
		goto out;
	http_response_free(&r);

	if (src->pccs)
		snprintf(url, sizeof url, "%s/sgx/certification/v4/rootcacrl", base);
	else if (p->root_crl_url[0])
		snprintf(url, sizeof url, "%s", p->root_crl_url);
	else {
		rc = err_set(e, EXIT_MALFORMED, "the root certificate has no CRL distribution point (use --pccs)");
		goto out;
	}
	if ((rc = get_part(src, url, NULL, NULL, &r, NULL, e)) ||
	    (rc = pcs_crl_body(r.body.data, r.body.len, &c->root_ca_crl, e) ? err_wrap(e, "root CA CRL from %s", url) : 0))
		goto out;
out:
	http_response_free(&r);
	return rc;
}

int collateral_json(const struct collateral *c, struct buf *out, struct err *e)
{
	struct jsonw w;
	char hex[129];
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "pck_crl_issuer_chain");
	jw_strn(&w, (const char *)c->pck_crl_issuer_chain.data, c->pck_crl_issuer_chain.len);
	jw_key(&w, "root_ca_crl");
	jw_hex(&w, c->root_ca_crl.data, c->root_ca_crl.len);
	jw_key(&w, "pck_crl");
	jw_hex(&w, c->pck_crl.data, c->pck_crl.len);
	jw_key(&w, "tcb_info_issuer_chain");
	jw_strn(&w, (const char *)c->tcb_info_issuer_chain.data, c->tcb_info_issuer_chain.len);
	jw_key(&w, "tcb_info");
	jw_strn(&w, (const char *)c->tcb_info.data, c->tcb_info.len);
	jw_key(&w, "tcb_info_signature");
	hex_encode(c->tcb_info_signature, 64, hex);
	jw_str(&w, hex);
	jw_key(&w, "qe_identity_issuer_chain");
	jw_strn(&w, (const char *)c->qe_identity_issuer_chain.data, c->qe_identity_issuer_chain.len);
	jw_key(&w, "qe_identity");
	jw_strn(&w, (const char *)c->qe_identity.data, c->qe_identity.len);
	jw_key(&w, "qe_identity_signature");
	hex_encode(c->qe_identity_signature, 64, hex);
	jw_str(&w, hex);
	if (c->has_pck_certificate_chain) {
		jw_key(&w, "pck_certificate_chain");
		jw_strn(&w, (const char *)c->pck_certificate_chain.data, c->pck_certificate_chain.len);
	}
	jw_end(&w);
	if (w.failed || !buf_append_str(out, "\n"))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	return EXIT_OK;
}
