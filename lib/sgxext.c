#include "sgxext.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <string.h>

/* DER content octets of 1.2.840.113741.1.13.1; members add one arc byte, TCB components two. */
static const uint8_t SGX_OID[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };
#define SGX_OID_LEN sizeof SGX_OID

static int bad(struct err *e, const char *what)
{
	return err_set(e, EXIT_MALFORMED, "PCK certificate SGX extension: %s", what);
}

/* Decodes a DER SEQUENCE (all of der, nothing after) into its elements. */
static STACK_OF(ASN1_TYPE) *seq_any(const uint8_t *der, size_t len)
{
	if (len > 1u << 20)
		return NULL;
	const unsigned char *p = der;
	STACK_OF(ASN1_TYPE) *s = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len);
	if (s && p != der + len) {
		sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free);
		s = NULL;
	}
	ERR_clear_error();
	return s;
}

/* Element i of a member sequence SEQUENCE { OID, value }: the arcs after
 * the SGX prefix (depth 1 or 2) and the value. Returns the arc count or -1. */
static int member(const ASN1_TYPE *t, STACK_OF(ASN1_TYPE) **pair, int arcs[2], const ASN1_TYPE **value)
{
	if (t->type != V_ASN1_SEQUENCE)
		return -1;
	*pair = seq_any(t->value.sequence->data, (size_t)t->value.sequence->length);
	if (!*pair || sk_ASN1_TYPE_num(*pair) != 2)
		return -1;
	const ASN1_TYPE *o = sk_ASN1_TYPE_value(*pair, 0);
	if (o->type != V_ASN1_OBJECT)
		return -1;
	const unsigned char *d = OBJ_get0_data(o->value.object);
	size_t n = OBJ_length(o->value.object);
	if (!d || n <= SGX_OID_LEN || n > SGX_OID_LEN + 2 || memcmp(d, SGX_OID, SGX_OID_LEN))
		return -1;
	for (size_t i = SGX_OID_LEN; i < n; i++) {
		if (d[i] & 0x80)
			return -1; /* multi-byte arc: none defined */
		arcs[i - SGX_OID_LEN] = d[i];
	}
	*value = sk_ASN1_TYPE_value(*pair, 1);
	return (int)(n - SGX_OID_LEN);
}

static bool octets(const ASN1_TYPE *v, uint8_t *out, int n)
{
	if (v->type != V_ASN1_OCTET_STRING || v->value.octet_string->length != n)
		return false;
	memcpy(out, v->value.octet_string->data, (size_t)n);
	return true;
}

static bool integer(const ASN1_TYPE *v, int type, int64_t max, int64_t *out)
{
	if (v->type != type)
		return false;
	int ok = type == V_ASN1_INTEGER ? ASN1_INTEGER_get_int64(out, v->value.integer)
					: ASN1_ENUMERATED_get_int64(out, v->value.enumerated);
	ERR_clear_error();
	return ok == 1 && *out >= 0 && *out <= max;
}

/* One member: its last arc and value; returns 0 or an error. */
typedef int member_fn(int arc, const ASN1_TYPE *val, struct sgx_ext *x, struct err *e);

/* Walks the SEQUENCE OF SEQUENCE { OID, value } in der, whose OIDs are the
 * SGX prefix plus depth arcs (the first of which must be parent when depth
 * is 2); arcs 1..31 at most once each. *seen gets the set of arcs seen. */
static int walk(const uint8_t *der, size_t len, int depth, int parent, member_fn *one, struct sgx_ext *x,
		uint32_t *seen, struct err *e)
{
	STACK_OF(ASN1_TYPE) *s = seq_any(der, len);
	if (!s)
		return bad(e, depth == 1 ? "not a DER SEQUENCE" : "TCB is not a DER SEQUENCE");
	*seen = 0;
	int rc = EXIT_OK;
	for (int i = 0; i < sk_ASN1_TYPE_num(s) && !rc; i++) {
		STACK_OF(ASN1_TYPE) *pair = NULL;
		const ASN1_TYPE *val;
		int arcs[2] = { 0, 0 };
		int d = member(sk_ASN1_TYPE_value(s, i), &pair, arcs, &val);
		int arc = arcs[depth - 1];
		if (d != depth || (depth == 2 && arcs[0] != parent) || arc < 1 || arc > 31)
			rc = bad(e, "member is not SEQUENCE { SGX OID, value }");
		else if (*seen & (1u << arc))
			rc = bad(e, "repeated member");
		else
			rc = one(arc, val, x, e);
		if (!rc)
			*seen |= 1u << arc;
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
	}
	sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free);
	return rc;
}

static int tcb_member(int arc, const ASN1_TYPE *val, struct sgx_ext *x, struct err *e)
{
	int64_t n;
	if (arc <= 16 && integer(val, V_ASN1_INTEGER, 255, &n))
		x->comp_svn[arc - 1] = (uint8_t)n;
	else if (arc == 17 && integer(val, V_ASN1_INTEGER, 65535, &n))
		x->pcesvn = (uint16_t)n;
	else if (arc != 18 || !octets(val, x->cpusvn, 16))
		return bad(e, "TCB component unknown, out of range or of the wrong type");
	return EXIT_OK;
}

static int top_member(int arc, const ASN1_TYPE *val, struct sgx_ext *x, struct err *e)
{
	int64_t n;
	uint32_t seen;
	switch (arc) {
	case 1: return octets(val, x->ppid, 16) ? 0 : bad(e, "PPID is not 16 octets");
	case 2:
		if (val->type != V_ASN1_SEQUENCE)
			return bad(e, "TCB is not a SEQUENCE");
		if (walk(val->value.sequence->data, (size_t)val->value.sequence->length, 2, 2, tcb_member, x, &seen, e))
			return e->code;
		return seen == 0x7fffeu ? 0 : bad(e, "TCB lacks a component (need .2.1 to .2.18)");
	case 3: return octets(val, x->pce_id, 2) ? 0 : bad(e, "PCE-ID is not 2 octets");
	case 4: return octets(val, x->fmspc, 6) ? 0 : bad(e, "FMSPC is not 6 octets");
	case 5:
		if (!integer(val, V_ASN1_ENUMERATED, 2, &n))
			return bad(e, "SGX type is not 0, 1 or 2");
		x->sgx_type = (int)n;
		return EXIT_OK;
	case 6:
		x->has_platform_instance_id = true;
		return octets(val, x->platform_instance_id, 16) ? 0 : bad(e, "platform instance ID is not 16 octets");
	default: return EXIT_OK; /* .7 configuration and later additions: not used */
	}
}

int sgx_ext_parse(const uint8_t *der, size_t len, struct sgx_ext *x, struct err *e)
{
	memset(x, 0, sizeof *x);
	uint32_t seen;
	if (walk(der, len, 1, 0, top_member, x, &seen, e))
		return e->code;
	if ((seen & 0x3eu) != 0x3eu)
		return bad(e, "a mandatory member (PPID, TCB, PCE-ID, FMSPC, SGX type) is missing");
	return EXIT_OK;
}

int sgx_ext_from_cert(X509 *cert, struct sgx_ext *x, struct err *e)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(SGX_EXT_OID, 1);
	if (!oid)
		return err_ssl(e, EXIT_SYSTEM, "SGX extension OID");
	int at = X509_get_ext_by_OBJ(cert, oid, -1);
	int again = at >= 0 ? X509_get_ext_by_OBJ(cert, oid, at) : -1;
	ASN1_OBJECT_free(oid);
	if (at < 0)
		return bad(e, "absent from the PCK certificate");
	if (again >= 0)
		return bad(e, "present twice");
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(cert, at));
	return sgx_ext_parse(v->data, (size_t)v->length, x, e);
}
