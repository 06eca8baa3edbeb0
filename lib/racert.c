#include "racert.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "certchain.h"
#include "digest.h"
#include "fileio.h"
#include "json.h"

static const enum dstack_ext all_exts[] = { EXT_QUOTE, EXT_EVENT_LOG, EXT_APP_ID, EXT_USAGE, EXT_ATTESTATION,
					    EXT_APP_INFO };

static ASN1_OBJECT *ext_object(enum dstack_ext arc)
{
	char oid[64];
	snprintf(oid, sizeof oid, "1.3.6.1.4.1.62397.1.%d", (int)arc);
	return OBJ_txt2obj(oid, 1);
}

void racert_subject(X509 *cert, char *out, size_t n)
{
	X509_NAME_oneline(X509_get_subject_name(cert), out, (int)n);
}

int racert_ext(X509 *cert, enum dstack_ext arc, struct buf *out, bool *found, struct err *e)
{
	*found = false;
	ASN1_OBJECT *obj = ext_object(arc);
	if (!obj)
		return err_ssl(e, EXIT_SYSTEM, "OID");
	int pos = X509_get_ext_by_OBJ(cert, obj, -1);
	int again = pos >= 0 ? X509_get_ext_by_OBJ(cert, obj, pos) : -1;
	ASN1_OBJECT_free(obj);
	if (pos < 0)
		return EXIT_OK;
	if (again >= 0)
		return err_set(e, EXIT_MALFORMED, "extension 1.3.6.1.4.1.62397.1.%d appears twice", (int)arc);
	ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(X509_get_ext(cert, pos));
	const unsigned char *p = ASN1_STRING_get0_data(value);
	long n = ASN1_STRING_length(value);
	const unsigned char *q = p;
	ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &q, n);
	if (!inner || q != p + n) {
		ASN1_OCTET_STRING_free(inner);
		ERR_clear_error();
		return err_set(e, EXIT_MALFORMED,
			       "extension 1.3.6.1.4.1.62397.1.%d: value is not exactly one DER OCTET STRING", (int)arc);
	}
	bool ok = buf_append(out, ASN1_STRING_get0_data(inner), (size_t)ASN1_STRING_length(inner));
	ASN1_OCTET_STRING_free(inner);
	if (!ok)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	*found = true;
	return EXIT_OK;
}

static bool has_ext(X509 *cert, enum dstack_ext arc)
{
	ASN1_OBJECT *obj = ext_object(arc);
	bool has = obj && X509_get_ext_by_OBJ(cert, obj, -1) >= 0;
	ASN1_OBJECT_free(obj);
	return has;
}

static int load_pem(struct racert *rc, const uint8_t *data, size_t len, struct err *e)
{
	ERR_clear_error();
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	if (!bio)
		return err_ssl(e, EXIT_SYSTEM, "BIO");
	X509 *x;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (!sk_X509_push(rc->certs, x)) {
			X509_free(x);
			BIO_free(bio);
			return err_set(e, EXIT_SYSTEM, "out of memory");
		}
		if (sk_X509_num(rc->certs) > CERTCHAIN_MAX) {
			BIO_free(bio);
			ERR_clear_error();
			return err_set(e, EXIT_MALFORMED, "PEM input: more than %d certificates", CERTCHAIN_MAX);
		}
	}
	unsigned long last = ERR_peek_last_error();
	BIO_free(bio);
	/* Reading stops with "no start line" at the end; anything else is a broken PEM. */
	if (last && ERR_GET_REASON(last) != PEM_R_NO_START_LINE)
		return err_ssl(e, EXIT_MALFORMED, "PEM certificate");
	ERR_clear_error();
	if (sk_X509_num(rc->certs) == 0)
		return err_set(e, EXIT_MALFORMED, "no certificate in the PEM input");
	return EXIT_OK;
}

static int load_der(struct racert *rc, const uint8_t *data, size_t len, struct err *e)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (!x)
		return err_ssl(e, EXIT_MALFORMED, "DER certificate");
	if (p != data + len) {
		X509_free(x);
		return err_set(e, EXIT_MALFORMED, "DER certificate: %zu trailing bytes", (size_t)(data + len - p));
	}
	if (!sk_X509_push(rc->certs, x)) {
		X509_free(x);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	return EXIT_OK;
}

static int load_info_json(struct racert *rc, const uint8_t *data, size_t len, struct err *e)
{
	struct json j;
	struct buf pem = { 0 };
	if (json_parse(&j, (const char *)data, len, e))
		return err_wrap(e, "Info JSON");
	int t = json_need(&j, 0, "app_cert", e);
	int rc_ = t < 0 ? EXIT_MALFORMED : json_string(&j, t, "app_cert", &pem, e);
	json_free(&j);
	if (rc_ == EXIT_OK && pem.len == 0)
		rc_ = err_set(e, EXIT_MALFORMED, "app_cert is empty (the guest agent issues it in the background: ask again)");
	if (rc_ == EXIT_OK)
		rc_ = load_pem(rc, pem.data, pem.len, e);
	buf_free(&pem);
	return rc_ ? err_wrap(e, "Info JSON") : EXIT_OK;
}

static size_t skip_space(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
		i++;
	return i;
}

int racert_load(struct racert *rc, const uint8_t *data, size_t len, struct err *e)
{
	memset(rc, 0, sizeof *rc);
	rc->leaf_index = -1;
	if (len > INT32_MAX)
		return err_set(e, EXIT_MALFORMED, "input too large");
	if (!(rc->certs = sk_X509_new_null()))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	size_t s = skip_space(data, len);
	int r;
	if (s < len && data[s] == '{')
		r = load_info_json(rc, data, len, e);
	else if (len - s >= 11 && !memcmp(data + s, "-----BEGIN ", 11))
		r = load_pem(rc, data, len, e);
	else if (len && data[0] == 0x30)
		r = load_der(rc, data, len, e);
	else
		r = err_set(e, EXIT_MALFORMED, len ? "input is not a PEM or DER certificate or an Info JSON"
						   : "empty input");
	if (r) {
		racert_free(rc);
		return r;
	}
	/* The leaf is the certificate that carries the evidence; CAs carry app-id/usage only. */
	for (int pass = 0; pass < 2 && rc->leaf_index < 0; pass++)
		for (int i = 0; i < sk_X509_num(rc->certs) && rc->leaf_index < 0; i++) {
			X509 *x = sk_X509_value(rc->certs, i);
			bool match = pass == 0 ? has_ext(x, EXT_QUOTE) || has_ext(x, EXT_ATTESTATION) : false;
			for (size_t k = 0; pass == 1 && k < sizeof all_exts / sizeof *all_exts; k++)
				match = match || has_ext(x, all_exts[k]);
			if (match)
				rc->leaf_index = i;
		}
	if (rc->leaf_index < 0) {
		racert_free(rc);
		return err_set(e, EXIT_MALFORMED, "no certificate carries a dstack extension (1.3.6.1.4.1.62397.1.*)");
	}
	rc->leaf = sk_X509_value(rc->certs, rc->leaf_index);
	return EXIT_OK;
}

void racert_free(struct racert *rc)
{
	sk_X509_pop_free(rc->certs, X509_free);
	memset(rc, 0, sizeof *rc);
}

int racert_spki(X509 *cert, struct buf *out, struct err *e)
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (n <= 0)
		return err_ssl(e, EXIT_MALFORMED, "certificate public key");
	bool ok = buf_append(out, der, (size_t)n);
	OPENSSL_free(der);
	return ok ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
}

int racert_expected_report_data(const struct racert *rc, uint8_t out[64], struct err *e)
{
	struct buf spki = { 0 };
	if (racert_spki(rc->leaf, &spki, e))
		return e->code;
	int r = sha512_spans(out, SPANS({ "ratls-cert:", 11 }, { spki.data, spki.len }));
	buf_free(&spki);
	return r ? err_set(e, EXIT_SYSTEM, "SHA-512 failed") : EXIT_OK;
}

int racert_verify_chain(const struct racert *rc, struct buf *path, struct err *e)
{
	X509 *cur = rc->leaf;
	char name[256];
	int n = sk_X509_num(rc->certs);
	for (int step = 0; step <= n; step++) {
		racert_subject(cur, name, sizeof name);
		if (step)
			buf_append_str(path, " <- ");
		buf_append_str(path, name);
		/* The next certificate first (chains come leaf first): one check a
		 * step on a chain in order; at most CERTCHAIN_MAX otherwise. */
		int at = sk_X509_find(rc->certs, cur);
		X509 *issuer = NULL;
		for (int k = 1; k <= n && !issuer; k++) {
			X509 *cand = sk_X509_value(rc->certs, (at + k) % n);
			if (X509_check_issued(cand, cur) == X509_V_OK)
				issuer = cand;
		}
		if (!issuer)
			return err_set(e, EXIT_REJECTED, "certificate chain: the issuer of %s is not in the input", name);
		EVP_PKEY *key = X509_get0_pubkey(issuer);
		if (!key || X509_verify(cur, key) != 1) {
			ERR_clear_error();
			return err_set(e, EXIT_REJECTED, "certificate chain: the signature on %s does not verify", name);
		}
		if (issuer == cur) {
			buf_append_str(path, " (self-signed)");
			return EXIT_OK;
		}
		cur = issuer;
	}
	return err_set(e, EXIT_REJECTED, "certificate chain: no self-signed root (issuer loop)");
}
