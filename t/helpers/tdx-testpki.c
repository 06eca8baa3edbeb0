/* tdx-testpki: a synthetic Intel DCAP PKI and TDX quote generator, for tests
 * only. It makes what Intel makes - a root CA, a PCK platform/processor CA, a
 * PCK certificate with the SGX extensions, CRLs, a TCB signing certificate,
 * signed TCB info and QE identity - and real TDX quotes signed through that
 * chain, with every field a test needs to steer chosen on the command line.
 * The byte layout of the quote comes from lib/quote (the parser's inverse). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "digest.h"
#include "fileio.h"
#include "json.h"
#include "jsonw.h"
#include "pcs.h"
#include "quote.h"
#include "sgxext.h"
#include "timefmt.h"

static const char usage[] =
	"usage: tdx-testpki pki DIR [options]         a test PKI into DIR (created 0700)\n"
	"         --fmspc HEX         6 bytes (default B0C06F000000)\n"
	"         --pce-id HEX        2 bytes (default 0000)\n"
	"         --pcesvn N          PCE SVN in the PCK certificate (default 11)\n"
	"         --cpusvn HEX        16 bytes: the SGX TCB components and CPUSVN of the PCK\n"
	"                             certificate (default 03030202040105000000000000000000)\n"
	"         --ca platform|processor   PCK CA kind (default platform)\n"
	"         --revoke-pck        the PCK CRL revokes the PCK certificate\n"
	"         --revoke-pck-ca     the root CA CRL revokes the PCK CA\n"
	"         --not-before T, --not-after T   certificate validity (default 2020-01-01..2049-12-31)\n"
	"         --pck-not-after T   validity end of the PCK certificate alone\n"
	"         --crl-this-update T, --crl-next-update T   CRL window (default 2025-01-01..2035-01-01)\n"
	"         --root-crl-url URL  CRL distribution point of the root certificate\n"
	"         --bad WHAT:FAULT    break the certificate profile (repeatable); WHAT is a\n"
	"                             certificate: root, pckca, pck, tcb (TCB info signer), qe (a\n"
	"                             QE identity signer of its own); FAULT: ca (CA:TRUE), not-ca\n"
	"                             (CA:FALSE), no-bc, bc-noncritical, no-ku, ku=LIST (openssl\n"
	"                             names: digitalSignature,keyCertSign,...), pathlen=N,\n"
	"                             critical-ext (an unknown critical extension); or WHAT is a\n"
	"                             CRL: rootcrl, pckcrl; FAULT: critical-ext, critical-entry-ext,\n"
	"                             foreign-key (signed by a key other than its issuer's)\n"
	"         --pck-sub-ca        a second PCK CA between the PCK CA and the PCK certificate\n"
	"         --root-namesake WHAT  a CA with the root's name (another key, issued by the\n"
	"                             root) issues WHAT: pckca, tcb or qe\n"
	"       tdx-testpki collateral DIR [options] -o FILE   signed collateral, dcap-qvl JSON\n"
	"         --tcb-levels ladder|FILE  TCB levels: the ladder preset (default) or a JSON array\n"
	"         --module-identities FILE  tdxModuleIdentities as a JSON array (default: TDX_03)\n"
	"         --module-mrsigner HEX, --module-attributes HEX, --module-attributes-mask HEX\n"
	"         --qe-identity FILE  the enclaveIdentity JSON, signed as is (default: built in)\n"
	"         --issue-date T, --next-update T  (default 2025-01-01..2035-01-01)\n"
	"         --fmspc HEX, --pce-id HEX  override the PKI's values in the TCB info\n"
	"         --tcb-id ID, --tcb-version N, --qe-id ID, --qe-version N\n"
	"         --wrong-tcb-key, --wrong-qe-key   sign with a fresh key instead of the TCB signing key\n"
	"         --pcs-dir DIR2      also write Intel PCS responses (bodies, issuer-chain headers)\n"
	"       tdx-testpki quote DIR [options] [-o FILE]   a signed TDX quote\n"
	"         --version 4|5       quote version (default 4); --td15: TD 1.5 body (v5 only)\n"
	"         --report-data HEX   up to 64 bytes, zero-padded (default zeros)\n"
	"         --mr-td, --mr-config-id, --mr-owner, --mr-owner-config, --mr-seam,\n"
	"         --mr-signer-seam, --rtmr0, --rtmr1, --rtmr2, --rtmr3 HEX (48 bytes each)\n"
	"         --td-attributes HEX, --xfam HEX, --seam-attributes HEX (8 bytes each)\n"
	"         --tee-tcb-svn HEX   16 bytes (default 03000700000000000000000000000000)\n"
	"         --tee-tcb-svn2 HEX, --mr-service-td HEX   TD 1.5 fields\n"
	"         --qe-svn N          QE ISVSVN and header QE SVN (default 4)\n"
	"         --pce-svn N         header PCE SVN (default: the PKI's PCESVN)\n"
	"         --qe-mrsigner HEX, --qe-mrenclave HEX (32 bytes), --qe-isvprodid N,\n"
	"         --qe-attributes HEX (16 bytes), --qe-miscselect N   QE report fields\n"
	"         --qe-auth-data HEX  QE authentication data (default 32 bytes 00..1f)\n"
	"         --wrong-attestation-key  quote signed by a fresh key, not the certified one\n"
	"         --wrong-pck-key     QE report signed by a fresh key, not the PCK key\n"
	"         --unbind-qe         QE report data not SHA-256(attestation key || auth data)\n"
	"         --padding N         N zero bytes after the quote\n"
	"         --hex               write hex instead of raw bytes\n"
	"       tdx-testpki parse QUOTE   lib/quote's reading of a quote, as key=value lines\n"
	"  T: UNIX seconds or YYYY-MM-DDTHH:MM:SSZ. Exit: 0 ok, 2 usage, 3 bad input, 4 I/O.\n";

static const uint8_t SGX_EXT_OID_DER[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };
static const char *QE_MRSIGNER = "DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5";

_Noreturn __attribute__((format(printf, 2, 3))) static void die(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("tdx-testpki: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

_Noreturn static void usage_error(const char *what)
{
	fprintf(stderr, "tdx-testpki: %s\n%s", what, usage);
	exit(EXIT_USAGE);
}

static void *need(void *p, const char *what)
{
	if (!p)
		die(EXIT_SYSTEM, "%s failed", what);
	return p;
}

static void check(int ok, const char *what)
{
	if (ok <= 0)
		die(EXIT_SYSTEM, "%s failed", what);
}

/* --- inputs ------------------------------------------------------------- */

static time_t parse_time(const char *s)
{
	time_t t;
	if (!time_arg_parse(s, &t))
		usage_error("a time is UNIX seconds or RFC 3339 (YYYY-MM-DDTHH:MM:SSZ)");
	return t;
}

static unsigned long parse_num(const char *s, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (*end || errno || end == s || v > max || *s == '-')
		usage_error("bad number");
	return v;
}

/* Hex into out: exactly n bytes, or up to n (zero-padded) when pad. */
static void parse_hex(const char *s, uint8_t *out, size_t n, bool pad, const char *name)
{
	struct buf b = { 0 };
	if (!hex_decode(s, strlen(s), &b) || b.len > n || (!pad && b.len != n)) {
		fprintf(stderr, "tdx-testpki: %s: expected %s%zu bytes of hex\n", name, pad ? "up to " : "", n);
		exit(EXIT_USAGE);
	}
	memset(out, 0, n);
	memcpy(out, b.data, b.len);
	buf_free(&b);
}

static char *path_in(const char *dir, const char *name)
{
	static char paths[8][4096];
	static int next;
	char *p = paths[next++ % 8];
	if ((size_t)snprintf(p, sizeof paths[0], "%s/%s", dir, name) >= sizeof paths[0])
		die(EXIT_USAGE, "path too long: %s", dir);
	return p;
}

/* --- keys, certificates, CRLs ------------------------------------------- */

static EVP_PKEY *keygen(void)
{
	return need(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), "P-256 key generation");
}

static FILE *create_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f)
		die(EXIT_SYSTEM, "%s: %s", path, strerror(errno));
	return f;
}

static void close_file(FILE *f, const char *path)
{
	if (ferror(f) | fclose(f))
		die(EXIT_SYSTEM, "%s: write failed", path);
}

static void save_key(const char *dir, const char *name, EVP_PKEY *k)
{
	const char *path = path_in(dir, name);
	FILE *f = create_file(path, 0600);
	check(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), "writing a key");
	close_file(f, path);
}

static EVP_PKEY *load_key(const char *dir, const char *name)
{
	const char *path = path_in(dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		die(EXIT_SYSTEM, "%s: %s (run 'tdx-testpki pki' first)", path, strerror(errno));
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		die(EXIT_MALFORMED, "%s: not a PEM private key", path);
	return k;
}

static void save_certs(const char *dir, const char *name, X509 *const *certs, int n)
{
	const char *path = path_in(dir, name);
	FILE *f = create_file(path, 0644);
	for (int i = 0; i < n; i++)
		check(PEM_write_X509(f, certs[i]), "writing a certificate");
	close_file(f, path);
}

static void save_file(const char *dir, const char *name, const void *p, size_t n)
{
	struct err e = { 0 };
	if (file_write_atomic(path_in(dir, name), p, n, 0644, &e))
		die(e.code, "%s", e.msg);
}

static void load_file(const char *dir, const char *name, struct buf *out)
{
	struct err e = { 0 };
	if (file_read_all(path_in(dir, name), INPUT_MAX, out, &e))
		die(e.code, "%s", e.msg);
}

static X509_NAME *intel_name(const char *cn)
{
	X509_NAME *n = need(X509_NAME_new(), "X509_NAME_new");
	const char *fields[][2] = { { "CN", cn }, { "O", "Intel Corporation" }, { "L", "Santa Clara" },
				    { "ST", "CA" }, { "C", "US" } };
	for (int i = 0; i < 5; i++)
		check(X509_NAME_add_entry_by_txt(n, fields[i][0], MBSTRING_ASC, (const unsigned char *)fields[i][1],
						 -1, -1, 0),
		      "X509_NAME_add_entry");
	return n;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = need(X509V3_EXT_conf_nid(NULL, &ctx, nid, value), value);
	check(X509_add_ext(cert, ext, -1), "X509_add_ext");
	X509_EXTENSION_free(ext);
}

/* A deliberate break of Intel's certificate profile (--bad), for the
 * verifier's negative tests. */
struct fault {
	enum { BC_PROFILE, BC_CA, BC_NOT_CA, BC_NONE, BC_NONCRITICAL } bc;
	const char *ku; /* NULL: the profile's; "": none; else an openssl key usage list */
	int pathlen;    /* -1: the profile's */
	bool critical_ext;
	/* CRLs */
	bool critical_entry_ext, foreign_key;
};

struct certspec {
	const char *cn;
	EVP_PKEY *key;        /* the subject's key */
	X509 *issuer;         /* NULL: self-signed */
	EVP_PKEY *issuer_key; /* NULL: key */
	long serial;
	time_t not_before, not_after;
	int pathlen; /* -1: leaf */
	const char *crl_url;
	const struct buf *sgx_ext; /* DER of the SGX extension value, or NULL */
	const struct fault *fault; /* NULL: as the profile says */
};

/* An extension no profile defines (OID 2.25.<UUID>, value NULL), critical. */
static X509_EXTENSION *unknown_critical_ext(void)
{
	static const uint8_t null_der[] = { 0x05, 0x00 };
	ASN1_OBJECT *obj = need(OBJ_txt2obj("2.25.238907224386427512271375227185716231917", 1), "OBJ_txt2obj");
	ASN1_OCTET_STRING *os = need(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new");
	check(ASN1_OCTET_STRING_set(os, null_der, sizeof null_der), "octet string");
	X509_EXTENSION *ext = need(X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os), "extension");
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ext;
}

/* Basic constraints and key usage: the profile's for a CA (pathlen >= 0) or
 * a leaf, unless f breaks them. */
static void profile_exts(X509 *c, X509 *issuer, int pathlen, const struct fault *f)
{
	static const struct fault none = { .pathlen = -1 };
	char v[160];
	if (!f)
		f = &none;
	bool ca = f->bc == BC_CA || (f->bc != BC_NOT_CA && pathlen >= 0);
	int n = f->pathlen >= 0 ? f->pathlen : pathlen;
	if (f->bc != BC_NONE) {
		snprintf(v, sizeof v, "%sCA:%s", f->bc == BC_NONCRITICAL ? "" : "critical,", ca ? "TRUE" : "FALSE");
		if (ca && n >= 0)
			snprintf(v + strlen(v), sizeof v - strlen(v), ",pathlen:%d", n);
		add_ext(c, issuer, NID_basic_constraints, v);
	}
	const char *ku = f->ku ? f->ku : pathlen >= 0 ? "keyCertSign,cRLSign" : "digitalSignature,nonRepudiation";
	if (*ku) {
		snprintf(v, sizeof v, "critical,%s", ku);
		add_ext(c, issuer, NID_key_usage, v);
	}
	if (f->critical_ext) {
		X509_EXTENSION *ext = unknown_critical_ext();
		check(X509_add_ext(c, ext, -1), "X509_add_ext");
		X509_EXTENSION_free(ext);
	}
}

static X509 *make_cert(const struct certspec *s)
{
	X509 *c = need(X509_new(), "X509_new");
	X509_NAME *subject = intel_name(s->cn);
	check(X509_set_version(c, 2), "X509_set_version");
	check(ASN1_INTEGER_set(X509_get_serialNumber(c), s->serial), "serial");
	check(X509_set_subject_name(c, subject), "subject");
	check(X509_set_issuer_name(c, s->issuer ? X509_get_subject_name(s->issuer) : subject), "issuer");
	need(ASN1_TIME_set(X509_getm_notBefore(c), s->not_before), "notBefore");
	need(ASN1_TIME_set(X509_getm_notAfter(c), s->not_after), "notAfter");
	check(X509_set_pubkey(c, s->key), "X509_set_pubkey");
	X509 *issuer = s->issuer ? s->issuer : c;
	add_ext(c, issuer, NID_subject_key_identifier, "hash");
	add_ext(c, issuer, NID_authority_key_identifier, "keyid:always");
	if (s->crl_url) {
		char cdp[1100];
		snprintf(cdp, sizeof cdp, "URI:%s", s->crl_url);
		add_ext(c, issuer, NID_crl_distribution_points, cdp);
	}
	profile_exts(c, issuer, s->pathlen, s->fault);
	if (s->sgx_ext) {
		ASN1_OBJECT *obj = need(OBJ_txt2obj(SGX_EXT_OID, 1), "OBJ_txt2obj");
		ASN1_OCTET_STRING *os = need(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new");
		check(ASN1_OCTET_STRING_set(os, s->sgx_ext->data, (int)s->sgx_ext->len), "octet string");
		X509_EXTENSION *ext = need(X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os), "SGX extension");
		check(X509_add_ext(c, ext, -1), "X509_add_ext");
		X509_EXTENSION_free(ext);
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(obj);
	}
	check(X509_sign(c, s->issuer_key ? s->issuer_key : s->key, EVP_sha256()), "X509_sign");
	X509_NAME_free(subject);
	return c;
}

static X509_CRL *make_crl(X509 *issuer, EVP_PKEY *key, time_t this_update, time_t next_update, X509 *revoked,
			  const struct fault *f)
{
	X509_CRL *crl = need(X509_CRL_new(), "X509_CRL_new");
	check(X509_CRL_set_version(crl, 1), "CRL version");
	check(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), "CRL issuer");
	ASN1_TIME *t = need(ASN1_TIME_set(NULL, this_update), "CRL time");
	check(X509_CRL_set1_lastUpdate(crl, t), "CRL lastUpdate");
	need(ASN1_TIME_set(t, next_update), "CRL time");
	check(X509_CRL_set1_nextUpdate(crl, t), "CRL nextUpdate");
	if (revoked) {
		X509_REVOKED *r = need(X509_REVOKED_new(), "X509_REVOKED_new");
		check(X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)), "revoked serial");
		need(ASN1_TIME_set(t, this_update), "CRL time");
		check(X509_REVOKED_set_revocationDate(r, t), "revocation date");
		check(X509_CRL_add0_revoked(crl, r), "X509_CRL_add0_revoked");
	}
	if (f->critical_entry_ext) { /* an entry for a serial no certificate has */
		X509_REVOKED *r = need(X509_REVOKED_new(), "X509_REVOKED_new");
		ASN1_INTEGER *serial = need(ASN1_INTEGER_new(), "ASN1_INTEGER_new");
		check(ASN1_INTEGER_set(serial, 0x7fff), "serial");
		check(X509_REVOKED_set_serialNumber(r, serial), "revoked serial");
		ASN1_INTEGER_free(serial);
		need(ASN1_TIME_set(t, this_update), "CRL time");
		check(X509_REVOKED_set_revocationDate(r, t), "revocation date");
		X509_EXTENSION *ext = unknown_critical_ext();
		check(X509_REVOKED_add_ext(r, ext, -1), "X509_REVOKED_add_ext");
		X509_EXTENSION_free(ext);
		check(X509_CRL_add0_revoked(crl, r), "X509_CRL_add0_revoked");
	}
	ASN1_TIME_free(t);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	ASN1_INTEGER *number = need(ASN1_INTEGER_new(), "ASN1_INTEGER_new");
	check(ASN1_INTEGER_set(number, 1), "CRL number");
	check(X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0), "CRL number");
	ASN1_INTEGER_free(number);
	X509_EXTENSION *aki = need(X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always"),
				   "CRL authority key identifier");
	check(X509_CRL_add_ext(crl, aki, -1), "X509_CRL_add_ext");
	X509_EXTENSION_free(aki);
	if (f->critical_ext) {
		X509_EXTENSION *ext = unknown_critical_ext();
		check(X509_CRL_add_ext(crl, ext, -1), "X509_CRL_add_ext");
		X509_EXTENSION_free(ext);
	}
	check(X509_CRL_sort(crl), "X509_CRL_sort");
	EVP_PKEY *signer = f->foreign_key ? keygen() : key;
	check(X509_CRL_sign(crl, signer, EVP_sha256()), "X509_CRL_sign");
	if (signer != key)
		EVP_PKEY_free(signer);
	return crl;
}

static void save_crl(const char *dir, const char *name, X509_CRL *crl)
{
	unsigned char *der = NULL;
	int n = i2d_X509_CRL(crl, &der);
	check(n, "i2d_X509_CRL");
	save_file(dir, name, der, (size_t)n);
	OPENSSL_free(der);
}

/* --- the SGX extension (DER written by hand, the way Intel encodes it) --- */

static void der(struct buf *out, uint8_t tag, const void *p, size_t n)
{
	uint8_t h[4] = { tag };
	size_t hl = 2;
	if (n < 0x80) {
		h[1] = (uint8_t)n;
	} else if (n < 0x100) {
		h[1] = 0x81, h[2] = (uint8_t)n, hl = 3;
	} else {
		h[1] = 0x82, h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n, hl = 4;
	}
	need(buf_append(out, h, hl) && buf_append(out, p, n) ? out : NULL, "DER");
}

static void der_buf(struct buf *out, uint8_t tag, struct buf *content)
{
	der(out, tag, content->data, content->len);
	buf_free(content);
}

/* One SEQUENCE { OID 1.2.840.113741.1.13.1.<arcs>, value }. */
static void sgx_item(struct buf *out, const uint8_t *arcs, size_t narcs, const struct buf *value)
{
	struct buf oid = { 0 }, seq = { 0 };
	need(buf_append(&oid, SGX_EXT_OID_DER, sizeof SGX_EXT_OID_DER) && buf_append(&oid, arcs, narcs) ? &oid : NULL,
	     "DER");
	der_buf(&seq, 0x06, &oid);
	need(buf_append(&seq, value->data, value->len) ? &seq : NULL, "DER");
	der_buf(out, 0x30, &seq);
}

static void der_uint(struct buf *out, unsigned v)
{
	uint8_t b[3];
	size_t n = 0;
	if (v > 0x7fff)
		b[n++] = 0;
	if (v > 0x7f)
		b[n++] = (uint8_t)(v >> 8);
	b[n++] = (uint8_t)v;
	der(out, 0x02, b, n);
}

struct platform {
	uint8_t fmspc[6], pce_id[2], cpusvn[16];
	unsigned pcesvn;
	bool processor;
};

static void sgx_extension(struct buf *out, const struct platform *pf)
{
	static const uint8_t ppid[16] = { 0x50, 0x50, 0x49, 0x44, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const uint8_t instance[16] = { 0x49, 0x4e, 0x53, 0x54, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct buf all = { 0 }, v = { 0 }, tcb = { 0 };
	der(&v, 0x04, ppid, 16);
	sgx_item(&all, (const uint8_t[]){ 1 }, 1, &v);
	buf_free(&v);
	for (uint8_t i = 1; i <= 16; i++) {
		der_uint(&v, pf->cpusvn[i - 1]);
		sgx_item(&tcb, (const uint8_t[]){ 2, i }, 2, &v);
		buf_free(&v);
	}
	der_uint(&v, pf->pcesvn);
	sgx_item(&tcb, (const uint8_t[]){ 2, 17 }, 2, &v);
	buf_free(&v);
	der(&v, 0x04, pf->cpusvn, 16);
	sgx_item(&tcb, (const uint8_t[]){ 2, 18 }, 2, &v);
	buf_free(&v);
	der_buf(&v, 0x30, &tcb);
	sgx_item(&all, (const uint8_t[]){ 2 }, 1, &v);
	buf_free(&v);
	der(&v, 0x04, pf->pce_id, 2);
	sgx_item(&all, (const uint8_t[]){ 3 }, 1, &v);
	buf_free(&v);
	der(&v, 0x04, pf->fmspc, 6);
	sgx_item(&all, (const uint8_t[]){ 4 }, 1, &v);
	buf_free(&v);
	der(&v, 0x0a, (const uint8_t[]){ pf->processor ? 0 : 1 }, 1); /* SGX type: Standard / Scalable */
	sgx_item(&all, (const uint8_t[]){ 5 }, 1, &v);
	buf_free(&v);
	if (!pf->processor) { /* platform CA certificates carry the instance id and configuration */
		der(&v, 0x04, instance, 16);
		sgx_item(&all, (const uint8_t[]){ 6 }, 1, &v);
		buf_free(&v);
		struct buf conf = { 0 }, flag = { 0 };
		for (uint8_t i = 1; i <= 3; i++) {
			der(&flag, 0x01, (const uint8_t[]){ 0xff }, 1);
			sgx_item(&conf, (const uint8_t[]){ 7, i }, 2, &flag);
			buf_free(&flag);
		}
		der_buf(&v, 0x30, &conf);
		sgx_item(&all, (const uint8_t[]){ 7 }, 1, &v);
		buf_free(&v);
	}
	der_buf(out, 0x30, &all);
}

/* --- platform.json: what the PKI was made with, read by the other commands */

static void save_platform(const char *dir, const struct platform *pf)
{
	struct buf out = { 0 };
	struct jsonw w;
	jw_init(&w, &out);
	jw_obj(&w);
	jw_key(&w, "fmspc");
	jw_hex(&w, pf->fmspc, 6);
	jw_key(&w, "pce_id");
	jw_hex(&w, pf->pce_id, 2);
	jw_key(&w, "cpusvn");
	jw_hex(&w, pf->cpusvn, 16);
	jw_key(&w, "pcesvn");
	jw_u64(&w, pf->pcesvn);
	jw_key(&w, "ca");
	jw_str(&w, pf->processor ? "processor" : "platform");
	jw_end(&w);
	need(w.failed ? NULL : &w, "JSON");
	buf_append_str(&out, "\n");
	save_file(dir, "platform.json", out.data, out.len);
	buf_free(&out);
}

static void load_platform(const char *dir, struct platform *pf)
{
	struct buf text = { 0 }, v = { 0 };
	struct json j;
	struct err e = { 0 };
	uint64_t pcesvn;
	load_file(dir, "platform.json", &text);
	const char *keys[] = { "fmspc", "pce_id", "cpusvn" };
	uint8_t *dst[] = { pf->fmspc, pf->pce_id, pf->cpusvn };
	size_t len[] = { 6, 2, 16 };
	if (json_parse(&j, (const char *)text.data, text.len, &e))
		die(e.code, "platform.json: %s", e.msg);
	for (int i = 0; i < 3; i++) {
		int t = json_need(&j, 0, keys[i], &e);
		if (t < 0 || json_hex(&j, t, keys[i], &v, &e) || v.len != len[i])
			die(EXIT_MALFORMED, "platform.json: %s", keys[i]);
		memcpy(dst[i], v.data, len[i]);
		buf_reset(&v);
	}
	int t = json_need(&j, 0, "pcesvn", &e);
	if (t < 0 || json_u64(&j, t, "pcesvn", 65535, &pcesvn, &e))
		die(EXIT_MALFORMED, "platform.json: pcesvn");
	pf->pcesvn = (unsigned)pcesvn;
	pf->processor = json_string_is(&j, json_get(&j, 0, "ca"), "processor");
	json_free(&j);
	buf_free(&v);
	buf_free(&text);
}

/* --- pki ------------------------------------------------------------------ */

/* What --bad can break: certificates, then CRLs. */
enum { W_ROOT, W_PCKCA, W_PCK, W_TCB, W_QE, W_ROOTCRL, W_PCKCRL, W_COUNT };
static const char *const what_names[W_COUNT] = { "root", "pckca", "pck", "tcb", "qe", "rootcrl", "pckcrl" };

static int what_parse(const char *s, size_t n, int from, int to)
{
	for (int i = from; i < to; i++)
		if (strlen(what_names[i]) == n && !memcmp(s, what_names[i], n))
			return i;
	return -1;
}

/* --bad WHAT:FAULT into faults[WHAT]. */
static void bad_parse(const char *arg, struct fault *faults)
{
	const char *colon = strchr(arg, ':');
	int w = colon ? what_parse(arg, (size_t)(colon - arg), 0, W_COUNT) : -1;
	if (w < 0)
		usage_error("--bad WHAT:FAULT, WHAT one of root, pckca, pck, tcb, qe, rootcrl, pckcrl");
	const char *f = colon + 1;
	struct fault *x = &faults[w];
	bool crl = w >= W_ROOTCRL, ok = true;
	if (!strcmp(f, "critical-ext"))
		x->critical_ext = true;
	else if (crl && !strcmp(f, "critical-entry-ext"))
		x->critical_entry_ext = true;
	else if (crl && !strcmp(f, "foreign-key"))
		x->foreign_key = true;
	else if (crl)
		ok = false;
	else if (!strcmp(f, "ca"))
		x->bc = BC_CA;
	else if (!strcmp(f, "not-ca"))
		x->bc = BC_NOT_CA;
	else if (!strcmp(f, "no-bc"))
		x->bc = BC_NONE;
	else if (!strcmp(f, "bc-noncritical"))
		x->bc = BC_NONCRITICAL;
	else if (!strcmp(f, "no-ku"))
		x->ku = "";
	else if (!strncmp(f, "ku=", 3) && f[3])
		x->ku = f + 3;
	else if (!strncmp(f, "pathlen=", 8))
		x->pathlen = (int)parse_num(f + 8, 100);
	else
		ok = false;
	if (!ok)
		usage_error(crl ? "a CRL's FAULT is critical-ext, critical-entry-ext or foreign-key"
				: "a certificate's FAULT is ca, not-ca, no-bc, bc-noncritical, no-ku, ku=LIST, "
				  "pathlen=N or critical-ext");
}

static int cmd_pki(int argc, char **argv)
{
	struct platform pf = { .fmspc = { 0xb0, 0xc0, 0x6f }, .pcesvn = 11,
			       .cpusvn = { 3, 3, 2, 2, 4, 1, 5 } };
	time_t not_before = 1577836800 /* 2020-01-01 */, not_after = 2524607999 /* 2049-12-31 */;
	time_t pck_not_after = 0, crl_this = 1735689600 /* 2025-01-01 */, crl_next = 2051222400 /* 2035-01-01 */;
	bool revoke_pck = false, revoke_ca = false, sub_ca = false, qe_own = false;
	int namesake = -1;
	struct fault faults[W_COUNT];
	for (int i = 0; i < W_COUNT; i++)
		faults[i] = (struct fault){ .pathlen = -1 };
	const char *root_crl_url = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
	enum { O_FMSPC = 256, O_PCEID, O_PCESVN, O_CPUSVN, O_CA, O_REVPCK, O_REVCA, O_NB, O_NA, O_PCKNA, O_CRLT,
	       O_CRLN, O_ROOTURL, O_BAD, O_SUBCA, O_NAMESAKE };
	static const struct option opts[] = {
		{ "fmspc", 1, 0, O_FMSPC }, { "pce-id", 1, 0, O_PCEID }, { "pcesvn", 1, 0, O_PCESVN },
		{ "cpusvn", 1, 0, O_CPUSVN }, { "ca", 1, 0, O_CA }, { "revoke-pck", 0, 0, O_REVPCK },
		{ "revoke-pck-ca", 0, 0, O_REVCA }, { "not-before", 1, 0, O_NB }, { "not-after", 1, 0, O_NA },
		{ "pck-not-after", 1, 0, O_PCKNA }, { "crl-this-update", 1, 0, O_CRLT },
		{ "crl-next-update", 1, 0, O_CRLN }, { "root-crl-url", 1, 0, O_ROOTURL }, { "bad", 1, 0, O_BAD },
		{ "pck-sub-ca", 0, 0, O_SUBCA }, { "root-namesake", 1, 0, O_NAMESAKE }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_FMSPC: parse_hex(optarg, pf.fmspc, 6, false, "--fmspc"); break;
		case O_PCEID: parse_hex(optarg, pf.pce_id, 2, false, "--pce-id"); break;
		case O_PCESVN: pf.pcesvn = (unsigned)parse_num(optarg, 65535); break;
		case O_CPUSVN: parse_hex(optarg, pf.cpusvn, 16, false, "--cpusvn"); break;
		case O_CA:
			if (strcmp(optarg, "platform") && strcmp(optarg, "processor"))
				usage_error("--ca is platform or processor");
			pf.processor = !strcmp(optarg, "processor");
			break;
		case O_REVPCK: revoke_pck = true; break;
		case O_REVCA: revoke_ca = true; break;
		case O_NB: not_before = parse_time(optarg); break;
		case O_NA: not_after = parse_time(optarg); break;
		case O_PCKNA: pck_not_after = parse_time(optarg); break;
		case O_CRLT: crl_this = parse_time(optarg); break;
		case O_CRLN: crl_next = parse_time(optarg); break;
		case O_ROOTURL: root_crl_url = optarg; break;
		case O_BAD:
			bad_parse(optarg, faults);
			qe_own |= !strncmp(optarg, "qe:", 3);
			break;
		case O_SUBCA: sub_ca = true; break;
		case O_NAMESAKE:
			namesake = what_parse(optarg, strlen(optarg), W_PCKCA, W_QE + 1);
			if (namesake < 0 || namesake == W_PCK)
				usage_error("--root-namesake is pckca, tcb or qe");
			qe_own |= namesake == W_QE;
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: usage_error("unknown option");
		}
	}
	if (argc - optind != 1)
		usage_error("pki takes one directory");
	const char *dir = argv[optind];
	if (mkdir(dir, 0700) && errno != EEXIST)
		die(EXIT_SYSTEM, "%s: %s", dir, strerror(errno));
	const char *ca_cn = pf.processor ? "Intel SGX PCK Processor CA" : "Intel SGX PCK Platform CA";
	const char *ca_url = pf.processor ?
		"https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der" :
		"https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der";
	EVP_PKEY *root_key = keygen(), *ca_key = keygen(), *pck_key = keygen(), *tcb_key = keygen();
	EVP_PKEY *att_key = keygen(), *sub_key = sub_ca ? keygen() : NULL, *ns_key = namesake >= 0 ? keygen() : NULL;
	EVP_PKEY *qe_key = qe_own ? keygen() : tcb_key;
	struct buf ext = { 0 };
	sgx_extension(&ext, &pf);
	X509 *root = make_cert(&(struct certspec){ "Intel SGX Root CA", root_key, NULL, NULL, 1, not_before,
						   not_after, 1, root_crl_url, NULL, &faults[W_ROOT] });
	/* The namesake: the root's name, its own key, issued by the root. */
	X509 *ns = ns_key ? make_cert(&(struct certspec){ "Intel SGX Root CA", ns_key, root, root_key, 6, not_before,
							  not_after, 1, root_crl_url, NULL, NULL })
			  : NULL;
	X509 *above[W_COUNT] = { 0 };
	EVP_PKEY *above_key[W_COUNT] = { 0 };
	for (int w = W_PCKCA; w <= W_QE; w++)
		above[w] = w == namesake ? ns : root, above_key[w] = w == namesake ? ns_key : root_key;
	X509 *ca = make_cert(&(struct certspec){ ca_cn, ca_key, above[W_PCKCA], above_key[W_PCKCA], 2, not_before,
						 not_after, 0, root_crl_url, NULL, &faults[W_PCKCA] });
	/* The PCK certificate's issuer: the PCK CA, or a second CA under it. */
	X509 *sub = sub_key ? make_cert(&(struct certspec){ "Intel SGX PCK Sub CA", sub_key, ca, ca_key, 5, not_before,
							    not_after, 0, ca_url, NULL, NULL })
			    : NULL;
	X509 *pck_issuer = sub ? sub : ca;
	EVP_PKEY *pck_issuer_key = sub ? sub_key : ca_key;
	X509 *pck = make_cert(&(struct certspec){ "Intel SGX PCK Certificate", pck_key, pck_issuer, pck_issuer_key, 3,
						  not_before, pck_not_after ? pck_not_after : not_after, -1, ca_url,
						  &ext, &faults[W_PCK] });
	X509 *tcb = make_cert(&(struct certspec){ "Intel SGX TCB Signing", tcb_key, above[W_TCB], above_key[W_TCB], 4,
						  not_before, not_after, -1, root_crl_url, NULL, &faults[W_TCB] });
	X509 *qe = qe_own ? make_cert(&(struct certspec){ "Intel SGX Enclave Identity Signing", qe_key, above[W_QE],
							  above_key[W_QE], 7, not_before, not_after, -1, root_crl_url,
							  NULL, &faults[W_QE] })
			  : tcb;
	X509_CRL *root_crl = make_crl(root, root_key, crl_this, crl_next, revoke_ca ? ca : NULL, &faults[W_ROOTCRL]);
	X509_CRL *pck_crl = make_crl(pck_issuer, pck_issuer_key, crl_this, crl_next, revoke_pck ? pck : NULL,
				     &faults[W_PCKCRL]);
	save_key(dir, "root.key", root_key);
	save_key(dir, "pckca.key", ca_key);
	save_key(dir, "pck.key", pck_key);
	save_key(dir, "tcb.key", tcb_key);
	save_key(dir, "qe.key", qe_key);
	save_key(dir, "attest.key", att_key);
	save_certs(dir, "root.pem", &root, 1);
	save_certs(dir, "pckca.pem", &ca, 1);
	save_certs(dir, "pck.pem", &pck, 1);
	save_certs(dir, "tcb.pem", &tcb, 1);
	save_certs(dir, "qe.pem", &qe, 1);
	/* Chains leaf first, each certificate followed by its issuer. */
	X509 *pck_path[5], *tcb_path[3], *qe_path[3];
	int npck = 0, ntcb = 0, nqe = 0;
	pck_path[npck++] = pck;
	if (sub)
		pck_path[npck++] = sub;
	pck_path[npck++] = ca;
	tcb_path[ntcb++] = tcb;
	qe_path[nqe++] = qe;
	if (namesake == W_PCKCA)
		pck_path[npck++] = ns;
	if (namesake == W_TCB)
		tcb_path[ntcb++] = ns;
	if (namesake == W_QE)
		qe_path[nqe++] = ns;
	pck_path[npck++] = root;
	tcb_path[ntcb++] = root;
	qe_path[nqe++] = root;
	if (qe == tcb)
		memcpy(qe_path, tcb_path, sizeof tcb_path), nqe = ntcb;
	save_certs(dir, "chain.pem", pck_path, npck);
	save_certs(dir, "pckca-chain.pem", pck_path + 1, npck - 1);
	save_certs(dir, "tcb-chain.pem", tcb_path, ntcb);
	save_certs(dir, "qe-chain.pem", qe_path, nqe);
	save_crl(dir, "root.crl", root_crl);
	save_crl(dir, "pck.crl", pck_crl);
	save_platform(dir, &pf);
	buf_free(&ext);
	X509_CRL_free(root_crl);
	X509_CRL_free(pck_crl);
	X509 *certs[] = { root, ca, pck, tcb, sub, ns, qe != tcb ? qe : NULL };
	EVP_PKEY *keys[] = { root_key, ca_key, pck_key, tcb_key, att_key, sub_key, ns_key, qe_key != tcb_key ? qe_key : NULL };
	for (size_t i = 0; i < sizeof certs / sizeof *certs; i++)
		X509_free(certs[i]);
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		EVP_PKEY_free(keys[i]);
	return EXIT_OK;
}

/* --- signatures ----------------------------------------------------------- */

/* ECDSA P-256 / SHA-256 over msg, as 64 bytes r || s. */
static void sign_rs(EVP_PKEY *key, const void *msg, size_t n, uint8_t rs[64])
{
	EVP_MD_CTX *md = need(EVP_MD_CTX_new(), "EVP_MD_CTX_new");
	unsigned char der_sig[80];
	size_t len = sizeof der_sig;
	check(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), "EVP_DigestSignInit");
	check(EVP_DigestSign(md, der_sig, &len, msg, n), "EVP_DigestSign");
	const unsigned char *p = der_sig;
	ECDSA_SIG *sig = need(d2i_ECDSA_SIG(NULL, &p, (long)len), "d2i_ECDSA_SIG");
	check(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32, "r");
	check(BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32, "s");
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
}

/* --- collateral ----------------------------------------------------------- */

static void status_level_tail(struct jsonw *w, const char *date, const char *status, const char *advisory)
{
	jw_key(w, "tcbDate");
	jw_str(w, date);
	jw_key(w, "tcbStatus");
	jw_str(w, status);
	if (advisory) {
		jw_key(w, "advisoryIDs");
		jw_arr(w);
		jw_str(w, advisory);
		jw_end(w);
	}
}

static void components(struct jsonw *w, const char *key, const uint8_t svn[16])
{
	jw_key(w, key);
	jw_arr(w);
	for (int i = 0; i < 16; i++) {
		jw_obj(w);
		jw_key(w, "svn");
		jw_u64(w, svn[i]);
		jw_end(w);
	}
	jw_end(w);
}

/* The ladder preset: seven levels with the PKI's SGX components and PCESVN,
 * told apart by TDX component 2 (7 down to 1), one per status, each but
 * UpToDate with advisory INTEL-SA-0000<n>. A quote's tee_tcb_svn byte 2
 * chooses the level; 0 matches none. */
static const char *const ladder_status[7] = { "UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
					      "ConfigurationAndSWHardeningNeeded", "OutOfDate",
					      "OutOfDateConfigurationNeeded", "Revoked" };

static void ladder(struct jsonw *w, const struct platform *pf)
{
	jw_arr(w);
	for (int i = 0; i < 7; i++) {
		uint8_t tdx[16] = { 3, 0, (uint8_t)(7 - i) };
		char date[32], advisory[32];
		snprintf(date, sizeof date, "2024-%02d-01T00:00:00Z", 7 - i);
		snprintf(advisory, sizeof advisory, "INTEL-SA-%05d", i);
		jw_obj(w);
		jw_key(w, "tcb");
		jw_obj(w);
		components(w, "sgxtcbcomponents", pf->cpusvn);
		jw_key(w, "pcesvn");
		jw_u64(w, pf->pcesvn);
		components(w, "tdxtcbcomponents", tdx);
		jw_end(w);
		status_level_tail(w, date, ladder_status[i], i ? advisory : NULL);
		jw_end(w);
	}
	jw_end(w);
}

/* A JSON file inserted verbatim (after checking it is JSON of the right kind). */
static void raw_json_file(struct jsonw *w, const char *path, enum json_type want)
{
	struct buf text = { 0 };
	struct json j;
	struct err e = { 0 };
	if (file_read_all(path, INPUT_MAX, &text, &e))
		die(e.code, "%s", e.msg);
	if (json_parse(&j, (const char *)text.data, text.len, &e))
		die(e.code, "%s: %s", path, e.msg);
	if (json_type(&j, 0) != want)
		die(EXIT_MALFORMED, "%s: expected a JSON %s", path, json_type_name(want));
	size_t n;
	const char *raw = json_raw(&j, 0, &n);
	jw_raw(w, raw, n);
	json_free(&j);
	buf_free(&text);
}

static void isvsvn_level(struct jsonw *w, unsigned isvsvn, const char *date, const char *status,
			 const char *advisory)
{
	jw_obj(w);
	jw_key(w, "tcb");
	jw_obj(w);
	jw_key(w, "isvsvn");
	jw_u64(w, isvsvn);
	jw_end(w);
	status_level_tail(w, date, status, advisory);
	jw_end(w);
}

/* Intel writes hex in uppercase. */
static void jw_hex_upper(struct jsonw *w, const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 1];
	hex_encode_upper(p, n, hex);
	jw_str(w, hex);
}

static void module_fields(struct jsonw *w, const uint8_t mrsigner[48], const uint8_t attr[8], const uint8_t mask[8])
{
	jw_key(w, "mrsigner");
	jw_hex_upper(w, mrsigner, 48);
	jw_key(w, "attributes");
	jw_hex_upper(w, attr, 8);
	jw_key(w, "attributesMask");
	jw_hex_upper(w, mask, 8);
}

struct collateral_opts {
	const char *tcb_levels, *module_identities, *qe_identity, *out, *pcs_dir;
	const char *tcb_id, *qe_id;
	unsigned tcb_version, qe_version;
	time_t issue, next;
	bool fmspc_set, pceid_set, wrong_tcb_key, wrong_qe_key;
	uint8_t fmspc[6], pce_id[2], module_mrsigner[48], module_attr[8], module_mask[8];
};

/* Opens a signed body: id, version, issueDate, nextUpdate. */
static void body_head(struct jsonw *w, const char *id, unsigned version, const struct collateral_opts *o)
{
	char issue[21], next[21];
	rfc3339_format(o->issue, issue);
	rfc3339_format(o->next, next);
	jw_obj(w);
	jw_key(w, "id");
	jw_str(w, id);
	jw_key(w, "version");
	jw_u64(w, version);
	jw_key(w, "issueDate");
	jw_str(w, issue);
	jw_key(w, "nextUpdate");
	jw_str(w, next);
}

static void tcb_info_json(struct buf *out, const struct collateral_opts *o, const struct platform *pf)
{
	struct jsonw w;
	jw_init(&w, out);
	body_head(&w, o->tcb_id, o->tcb_version, o);
	jw_key(&w, "fmspc");
	jw_hex_upper(&w, o->fmspc_set ? o->fmspc : pf->fmspc, 6);
	jw_key(&w, "pceId");
	jw_hex_upper(&w, o->pceid_set ? o->pce_id : pf->pce_id, 2);
	jw_key(&w, "tcbType");
	jw_u64(&w, 0);
	jw_key(&w, "tcbEvaluationDataNumber");
	jw_u64(&w, 17);
	jw_key(&w, "tdxModule");
	jw_obj(&w);
	module_fields(&w, o->module_mrsigner, o->module_attr, o->module_mask);
	jw_end(&w);
	jw_key(&w, "tdxModuleIdentities");
	if (o->module_identities) {
		raw_json_file(&w, o->module_identities, JSON_ARRAY);
	} else {
		jw_arr(&w);
		jw_obj(&w);
		jw_key(&w, "id");
		jw_str(&w, "TDX_03");
		module_fields(&w, o->module_mrsigner, o->module_attr, o->module_mask);
		jw_key(&w, "tcbLevels");
		jw_arr(&w);
		isvsvn_level(&w, 3, "2024-03-13T00:00:00Z", "UpToDate", NULL);
		isvsvn_level(&w, 2, "2023-08-09T00:00:00Z", "OutOfDate", "INTEL-SA-00010");
		jw_end(&w);
		jw_end(&w);
		jw_end(&w);
	}
	jw_key(&w, "tcbLevels");
	if (!o->tcb_levels || !strcmp(o->tcb_levels, "ladder"))
		ladder(&w, pf);
	else
		raw_json_file(&w, o->tcb_levels, JSON_ARRAY);
	jw_end(&w);
	need(w.failed ? NULL : &w, "JSON");
}

static void qe_identity_json(struct buf *out, const struct collateral_opts *o)
{
	struct jsonw w;
	jw_init(&w, out);
	if (o->qe_identity) {
		raw_json_file(&w, o->qe_identity, JSON_OBJECT);
		need(w.failed ? NULL : &w, "JSON");
		return;
	}
	const char *fields[][2] = { { "miscselect", "00000000" },
				    { "miscselectMask", "FFFFFFFF" },
				    { "attributes", "11000000000000000000000000000000" },
				    { "attributesMask", "FBFFFFFFFFFFFFFF0000000000000000" },
				    { "mrsigner", QE_MRSIGNER } };
	body_head(&w, o->qe_id, o->qe_version, o);
	jw_key(&w, "tcbEvaluationDataNumber");
	jw_u64(&w, 17);
	for (int i = 0; i < 5; i++) {
		jw_key(&w, fields[i][0]);
		jw_str(&w, fields[i][1]);
	}
	jw_key(&w, "isvprodid");
	jw_u64(&w, 2);
	jw_key(&w, "tcbLevels");
	jw_arr(&w);
	isvsvn_level(&w, 4, "2024-03-13T00:00:00Z", "UpToDate", NULL);
	isvsvn_level(&w, 2, "2023-02-15T00:00:00Z", "OutOfDate", "INTEL-SA-00020");
	isvsvn_level(&w, 1, "2021-11-10T00:00:00Z", "Revoked", "INTEL-SA-00021");
	jw_end(&w);
	jw_end(&w);
	need(w.failed ? NULL : &w, "JSON");
}

static void sign_body(EVP_PKEY *key, bool wrong, const struct buf *body, uint8_t rs[64])
{
	EVP_PKEY *k = wrong ? keygen() : key;
	sign_rs(k, body->data, body->len, rs);
	if (wrong)
		EVP_PKEY_free(k);
}

/* Percent-encodes a PEM chain the way Intel PCS sends it in a header. */
static void url_encode(struct buf *out, const struct buf *in)
{
	for (size_t i = 0; i < in->len; i++) {
		uint8_t ch = in->data[i];
		bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			     ch == '-' || ch == '.' || ch == '_' || ch == '~';
		need(plain ? buf_append(out, &ch, 1) ? out : NULL : buf_printf(out, "%%%02X", ch) ? out : NULL, "url");
	}
}

static void write_pcs_dir(const char *dir, const char *pki, const struct buf *tcb, const char *tcb_sig,
			  const struct buf *qe, const char *qe_sig, const uint8_t fmspc[6])
{
	if (mkdir(dir, 0755) && errno != EEXIST)
		die(EXIT_SYSTEM, "%s: %s", dir, strerror(errno));
	struct buf b = { 0 }, chain = { 0 };
	char hex[13];
	hex_encode_upper(fmspc, 6, hex);
	save_file(dir, "fmspc", hex, 12);
	buf_printf(&b, "{\"tcbInfo\":%s,\"signature\":\"%s\"}", (const char *)tcb->data, tcb_sig);
	save_file(dir, "tcb.json", b.data, b.len);
	buf_reset(&b);
	buf_printf(&b, "{\"enclaveIdentity\":%s,\"signature\":\"%s\"}", (const char *)qe->data, qe_sig);
	save_file(dir, "qe.json", b.data, b.len);
	const char *chains[][2] = { { "tcb-chain.pem", "tcb-chain.hdr" }, { "pckca-chain.pem", "pckcrl-chain.hdr" } };
	for (int i = 0; i < 2; i++) {
		buf_reset(&b);
		buf_reset(&chain);
		load_file(pki, chains[i][0], &chain);
		url_encode(&b, &chain);
		save_file(dir, chains[i][1], b.data, b.len);
	}
	const char *crls[][2] = { { "pck.crl", "pckcrl.der" }, { "root.crl", "rootcacrl.der" } };
	for (int i = 0; i < 2; i++) {
		buf_reset(&b);
		load_file(pki, crls[i][0], &b);
		save_file(dir, crls[i][1], b.data, b.len);
	}
	buf_free(&b);
	buf_free(&chain);
}

static int cmd_collateral(int argc, char **argv)
{
	struct collateral_opts o = { .tcb_id = "TDX", .qe_id = "TD_QE", .tcb_version = 3, .qe_version = 2,
				     .issue = 1735689600, .next = 2051222400,
				     .module_mask = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	enum { O_LEVELS = 256, O_MODIDS, O_MODSIGNER, O_MODATTR, O_MODMASK, O_QEID, O_ISSUE, O_NEXT, O_FMSPC,
	       O_PCEID, O_TCBID, O_TCBVER, O_QEIDNAME, O_QEVER, O_WRONGTCB, O_WRONGQE, O_PCSDIR };
	static const struct option opts[] = {
		{ "tcb-levels", 1, 0, O_LEVELS }, { "module-identities", 1, 0, O_MODIDS },
		{ "module-mrsigner", 1, 0, O_MODSIGNER }, { "module-attributes", 1, 0, O_MODATTR },
		{ "module-attributes-mask", 1, 0, O_MODMASK }, { "qe-identity", 1, 0, O_QEID },
		{ "issue-date", 1, 0, O_ISSUE }, { "next-update", 1, 0, O_NEXT }, { "fmspc", 1, 0, O_FMSPC },
		{ "pce-id", 1, 0, O_PCEID }, { "tcb-id", 1, 0, O_TCBID }, { "tcb-version", 1, 0, O_TCBVER },
		{ "qe-id", 1, 0, O_QEIDNAME }, { "qe-version", 1, 0, O_QEVER }, { "wrong-tcb-key", 0, 0, O_WRONGTCB },
		{ "wrong-qe-key", 0, 0, O_WRONGQE }, { "pcs-dir", 1, 0, O_PCSDIR }, { "output", 1, 0, 'o' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case O_LEVELS: o.tcb_levels = optarg; break;
		case O_MODIDS: o.module_identities = optarg; break;
		case O_MODSIGNER: parse_hex(optarg, o.module_mrsigner, 48, false, "--module-mrsigner"); break;
		case O_MODATTR: parse_hex(optarg, o.module_attr, 8, false, "--module-attributes"); break;
		case O_MODMASK: parse_hex(optarg, o.module_mask, 8, false, "--module-attributes-mask"); break;
		case O_QEID: o.qe_identity = optarg; break;
		case O_ISSUE: o.issue = parse_time(optarg); break;
		case O_NEXT: o.next = parse_time(optarg); break;
		case O_FMSPC: parse_hex(optarg, o.fmspc, 6, false, "--fmspc"), o.fmspc_set = true; break;
		case O_PCEID: parse_hex(optarg, o.pce_id, 2, false, "--pce-id"), o.pceid_set = true; break;
		case O_TCBID: o.tcb_id = optarg; break;
		case O_TCBVER: o.tcb_version = (unsigned)parse_num(optarg, 255); break;
		case O_QEIDNAME: o.qe_id = optarg; break;
		case O_QEVER: o.qe_version = (unsigned)parse_num(optarg, 255); break;
		case O_WRONGTCB: o.wrong_tcb_key = true; break;
		case O_WRONGQE: o.wrong_qe_key = true; break;
		case O_PCSDIR: o.pcs_dir = optarg; break;
		case 'o': o.out = optarg; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: usage_error("unknown option");
		}
	}
	if (argc - optind != 1)
		usage_error("collateral takes one PKI directory");
	if (!o.out && !o.pcs_dir)
		usage_error("collateral needs -o FILE or --pcs-dir DIR");
	const char *dir = argv[optind];
	struct platform pf;
	load_platform(dir, &pf);
	EVP_PKEY *tcb_key = load_key(dir, "tcb.key"), *qe_key = load_key(dir, "qe.key");
	struct collateral col = { 0 };
	char tcb_sig[129], qe_sig[129];
	tcb_info_json(&col.tcb_info, &o, &pf);
	qe_identity_json(&col.qe_identity, &o);
	sign_body(tcb_key, o.wrong_tcb_key, &col.tcb_info, col.tcb_info_signature);
	sign_body(qe_key, o.wrong_qe_key, &col.qe_identity, col.qe_identity_signature);
	hex_encode(col.tcb_info_signature, 64, tcb_sig);
	hex_encode(col.qe_identity_signature, 64, qe_sig);
	load_file(dir, "tcb-chain.pem", &col.tcb_info_issuer_chain);
	load_file(dir, "qe-chain.pem", &col.qe_identity_issuer_chain);
	load_file(dir, "pckca-chain.pem", &col.pck_crl_issuer_chain);
	load_file(dir, "root.crl", &col.root_ca_crl);
	load_file(dir, "pck.crl", &col.pck_crl);
	if (o.out) {
		struct buf out = { 0 };
		struct err e = { 0 };
		if (collateral_json(&col, &out, &e) || output_write(o.out, out.data, out.len, &e))
			die(e.code, "%s", e.msg);
		buf_free(&out);
	}
	if (o.pcs_dir)
		write_pcs_dir(o.pcs_dir, dir, &col.tcb_info, tcb_sig, &col.qe_identity, qe_sig, pf.fmspc);
	collateral_free(&col);
	EVP_PKEY_free(tcb_key);
	EVP_PKEY_free(qe_key);
	return EXIT_OK;
}

/* --- quote ---------------------------------------------------------------- */

/* x || y of a P-256 key. */
static void public_xy(EVP_PKEY *k, uint8_t xy[64])
{
	uint8_t pub[65];
	size_t n = 0;
	check(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &n) && n == 65 &&
		      pub[0] == 4,
	      "public key");
	memcpy(xy, pub + 1, 64);
}

struct quote_opts {
	unsigned version, qe_svn, pce_svn, qe_isvprodid, padding;
	uint32_t qe_miscselect;
	bool td15, pce_svn_set, wrong_att, wrong_pck, unbind, hex;
	const char *out;
	uint8_t td[17][64]; /* TD report fields, in lib/quote's order */
	uint8_t qe_mrsigner[32], qe_mrenclave[32], qe_attributes[16];
	struct buf auth;
};

/* TD report field options: name, index in quote_opts.td, size. */
static const struct {
	const char *name;
	size_t size;
} td_opts[17] = {
	{ "tee-tcb-svn", 16 },   { "mr-seam", 48 },      { "mr-signer-seam", 48 }, { "seam-attributes", 8 },
	{ "td-attributes", 8 },  { "xfam", 8 },          { "mr-td", 48 },          { "mr-config-id", 48 },
	{ "mr-owner", 48 },      { "mr-owner-config", 48 }, { "rtmr0", 48 },       { "rtmr1", 48 },
	{ "rtmr2", 48 },         { "rtmr3", 48 },        { "report-data", 64 },    { "tee-tcb-svn2", 16 },
	{ "mr-service-td", 48 },
};

static void build_quote(const char *dir, struct quote_opts *o, struct buf *out)
{
	struct platform pf;
	load_platform(dir, &pf);
	EVP_PKEY *att = load_key(dir, "attest.key"), *pck = load_key(dir, "pck.key");
	EVP_PKEY *att_signer = o->wrong_att ? keygen() : att, *pck_signer = o->wrong_pck ? keygen() : pck;
	struct buf chain = { 0 };
	load_file(dir, "chain.pem", &chain);
	uint8_t att_xy[64], qe_sig[64], sig[64], report[SGX_REPORT_LEN], report_data[64] = { 0 };
	public_xy(att, att_xy);
	if (sha256_spans(report_data, SPANS({ att_xy, 64 }, { o->auth.data, o->auth.len })))
		die(EXIT_SYSTEM, "SHA-256 failed");
	if (o->unbind)
		report_data[0] ^= 1;
	struct sgx_report r = { .cpu_svn = pf.cpusvn, .misc_select = o->qe_miscselect, .attributes = o->qe_attributes,
				.mr_enclave = o->qe_mrenclave, .mr_signer = o->qe_mrsigner,
				.isv_prod_id = (uint16_t)o->qe_isvprodid, .isv_svn = (uint16_t)o->qe_svn,
				.report_data = report_data };
	sgx_report_write(report, &r);
	sign_rs(pck_signer, report, sizeof report, qe_sig);
	struct tdx_quote q = { .version = (uint16_t)o->version, .att_key_type = 2, .tee_type = TDX_TEE_TYPE,
			       .qe_svn = (uint16_t)o->qe_svn,
			       .pce_svn = (uint16_t)(o->pce_svn_set ? o->pce_svn : pf.pcesvn),
			       .qe_vendor_id = INTEL_QE_VENDOR_ID, .body_type = o->td15 ? 3 : 2,
			       .signature = sig, .attestation_key = att_xy, .qe_report_signature = qe_sig,
			       .qe_auth_data = o->auth.data, .qe_auth_len = (uint16_t)o->auth.len,
			       .pck_chain = chain.data, .pck_chain_len = (uint32_t)chain.len };
	q.qe_report.raw = report;
	const uint8_t **f[] = { &q.td.tee_tcb_svn, &q.td.mr_seam, &q.td.mr_signer_seam, &q.td.seam_attributes,
				&q.td.td_attributes, &q.td.xfam, &q.td.mr_td, &q.td.mr_config_id, &q.td.mr_owner,
				&q.td.mr_owner_config, &q.td.rtmr[0], &q.td.rtmr[1], &q.td.rtmr[2], &q.td.rtmr[3],
				&q.td.report_data, &q.td.tee_tcb_svn2, &q.td.mr_service_td };
	for (int i = 0; i < 17; i++)
		*f[i] = o->td[i];
	struct err e = { 0 };
	if (quote_write_signed(out, &q, &e))
		die(e.code, "%s", e.msg);
	sign_rs(att_signer, out->data, out->len, sig);
	if (quote_write_signature_data(out, &q, &e))
		die(e.code, "%s", e.msg);
	for (unsigned i = 0; i < o->padding; i++)
		need(buf_append(out, "", 1) ? out : NULL, "padding");
	if (att_signer != att)
		EVP_PKEY_free(att_signer);
	if (pck_signer != pck)
		EVP_PKEY_free(pck_signer);
	EVP_PKEY_free(att);
	EVP_PKEY_free(pck);
	buf_free(&chain);
}

static int cmd_quote(int argc, char **argv)
{
	struct quote_opts o = { .version = 4, .qe_svn = 4, .qe_isvprodid = 2 };
	static const uint8_t tee_tcb_svn[16] = { 3, 0, 7 };
	memcpy(o.td[0], tee_tcb_svn, 16);
	o.td[4][3] = 0x10; /* TD attributes: SEPT_VE_DISABLE (bit 28) */
	memcpy(o.td[5], (const uint8_t[]){ 0xe7, 0x18, 0x06, 0 }, 4); /* XFAM */
	parse_hex(QE_MRSIGNER, o.qe_mrsigner, 32, false, "mrsigner");
	o.qe_attributes[0] = 0x11;
	memset(o.qe_mrenclave, 0x5e, 32);
	for (uint8_t i = 0; i < 32; i++)
		buf_append(&o.auth, &i, 1);
	enum { O_TD = 256, O_VERSION = 300, O_TD15, O_QESVN, O_PCESVN, O_QESIGNER, O_QEENCLAVE, O_QEPROD, O_QEATTR,
	       O_QEMISC, O_AUTH, O_WRONGATT, O_WRONGPCK, O_UNBIND, O_PADDING, O_HEX };
	struct option opts[16 + 17 + 2] = {
		{ "version", 1, 0, O_VERSION }, { "td15", 0, 0, O_TD15 }, { "qe-svn", 1, 0, O_QESVN },
		{ "pce-svn", 1, 0, O_PCESVN }, { "qe-mrsigner", 1, 0, O_QESIGNER },
		{ "qe-mrenclave", 1, 0, O_QEENCLAVE }, { "qe-isvprodid", 1, 0, O_QEPROD },
		{ "qe-attributes", 1, 0, O_QEATTR }, { "qe-miscselect", 1, 0, O_QEMISC },
		{ "qe-auth-data", 1, 0, O_AUTH }, { "wrong-attestation-key", 0, 0, O_WRONGATT },
		{ "wrong-pck-key", 0, 0, O_WRONGPCK }, { "unbind-qe", 0, 0, O_UNBIND },
		{ "padding", 1, 0, O_PADDING }, { "hex", 0, 0, O_HEX }, { "output", 1, 0, 'o' }
	};
	for (int i = 0; i < 17; i++)
		opts[16 + i] = (struct option){ td_opts[i].name, 1, 0, O_TD + i };
	opts[33] = (struct option){ "help", 0, 0, 'h' }; /* opts[34] stays zero: the terminator */
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c >= O_TD && c < O_TD + 17) {
			int i = c - O_TD;
			parse_hex(optarg, o.td[i], td_opts[i].size, i == 14, td_opts[i].name);
			continue;
		}
		switch (c) {
		case O_VERSION: o.version = (unsigned)parse_num(optarg, 5); break;
		case O_TD15: o.td15 = true; break;
		case O_QESVN: o.qe_svn = (unsigned)parse_num(optarg, 65535); break;
		case O_PCESVN: o.pce_svn = (unsigned)parse_num(optarg, 65535), o.pce_svn_set = true; break;
		case O_QESIGNER: parse_hex(optarg, o.qe_mrsigner, 32, false, "--qe-mrsigner"); break;
		case O_QEENCLAVE: parse_hex(optarg, o.qe_mrenclave, 32, false, "--qe-mrenclave"); break;
		case O_QEPROD: o.qe_isvprodid = (unsigned)parse_num(optarg, 65535); break;
		case O_QEATTR: parse_hex(optarg, o.qe_attributes, 16, false, "--qe-attributes"); break;
		case O_QEMISC: o.qe_miscselect = (uint32_t)parse_num(optarg, 0xffffffffu); break;
		case O_AUTH:
			buf_reset(&o.auth);
			if (!hex_decode(optarg, strlen(optarg), &o.auth) || o.auth.len > 65535)
				usage_error("--qe-auth-data: hex, at most 65535 bytes");
			break;
		case O_WRONGATT: o.wrong_att = true; break;
		case O_WRONGPCK: o.wrong_pck = true; break;
		case O_UNBIND: o.unbind = true; break;
		case O_PADDING: o.padding = (unsigned)parse_num(optarg, 1 << 20); break;
		case O_HEX: o.hex = true; break;
		case 'o': o.out = optarg; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: usage_error("unknown option");
		}
	}
	if (argc - optind != 1)
		usage_error("quote takes one PKI directory");
	if (o.version != 4 && o.version != 5)
		usage_error("--version is 4 or 5");
	if (o.td15 && o.version != 5)
		usage_error("--td15 needs --version 5");
	struct buf q = { 0 };
	build_quote(argv[optind], &o, &q);
	if (o.hex) {
		struct buf h = { 0 };
		need(buf_append_hex(&h, q.data, q.len) && buf_append_str(&h, "\n") ? &h : NULL, "hex");
		buf_free(&q);
		q = h;
	} else if ((!o.out || !strcmp(o.out, "-")) && isatty(STDOUT_FILENO)) {
		usage_error("refusing to write a binary quote to a terminal (use --hex or -o FILE)");
	}
	struct err e = { 0 };
	if (output_write(o.out, q.data, q.len, &e))
		die(e.code, "%s", e.msg);
	buf_free(&q);
	buf_free(&o.auth);
	return EXIT_OK;
}

/* --- parse: what lib/quote reads back (for the generator's own tests) ----- */

static void kv_hex(const char *key, const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 1];
	if (!p)
		return;
	hex_encode(p, n, hex);
	printf("%s=%s\n", key, hex);
}

static int cmd_parse(int argc, char **argv)
{
	if (argc != 2)
		usage_error("parse takes one quote file");
	struct buf raw = { 0 }, bin = { 0 };
	struct err e = { 0 };
	struct tdx_quote q;
	if (file_read_all(argv[1], INPUT_MAX, &raw, &e) || quote_input_decode(raw.data, raw.len, &bin, &e) ||
	    quote_parse(&q, bin.data, bin.len, &e))
		die(e.code, "%s", e.msg);
	printf("version=%u\nbody_type=%u\nlength=%zu\ntrailing=%zu\nsigned_length=%zu\n", q.version, q.body_type,
	       q.len, q.trailing, q.signed_len);
	printf("qe_svn=%u\npce_svn=%u\nqe_isvsvn=%u\nqe_isvprodid=%u\nqe_miscselect=%u\nqe_auth_len=%u\n", q.qe_svn,
	       q.pce_svn, q.qe_report.isv_svn, q.qe_report.isv_prod_id, q.qe_report.misc_select, q.qe_auth_len);
	printf("pck_chain_len=%u\n", q.pck_chain_len);
	static const char *rtmr[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	kv_hex("tee_tcb_svn", q.td.tee_tcb_svn, 16);
	kv_hex("mr_signer_seam", q.td.mr_signer_seam, 48);
	kv_hex("td_attributes", q.td.td_attributes, 8);
	kv_hex("mr_td", q.td.mr_td, 48);
	for (int i = 0; i < 4; i++)
		kv_hex(rtmr[i], q.td.rtmr[i], 48);
	kv_hex("report_data", q.td.report_data, 64);
	kv_hex("mr_service_td", q.td.mr_service_td, 48);
	kv_hex("qe_mrsigner", q.qe_report.mr_signer, 32);
	kv_hex("qe_attributes", q.qe_report.attributes, 16);
	kv_hex("qe_report_data", q.qe_report.report_data, 64);
	kv_hex("attestation_key", q.attestation_key, 64);
	buf_free(&raw);
	buf_free(&bin);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage_error("a command is needed: pki, collateral, quote or parse");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} cmds[] = { { "pki", cmd_pki }, { "collateral", cmd_collateral }, { "quote", cmd_quote },
		     { "parse", cmd_parse } };
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	usage_error("unknown command (pki, collateral, quote or parse)");
}
