#include "collateral.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "timefmt.h"

static const char *const status_names[TCB_STATUS_COUNT] = {
	"UpToDate",  "SWHardeningNeeded",	      "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
	"OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"
};

const char *tcb_status_name(enum tcb_status s)
{
	return (unsigned)s < TCB_STATUS_COUNT ? status_names[s] : "?";
}

bool tcb_status_parse(const char *s, size_t n, enum tcb_status *out)
{
	for (int i = 0; i < TCB_STATUS_COUNT; i++) {
		if (strlen(status_names[i]) == n && !memcmp(status_names[i], s, n)) {
			*out = (enum tcb_status)i;
			return true;
		}
	}
	return false;
}

static bool push(struct advisories *a, const char *id)
{
	char **v = realloc(a->id, (a->n + 1) * sizeof *v);
	if (!v)
		return false;
	a->id = v;
	if (!(v[a->n] = strdup(id)))
		return false;
	a->n++;
	return true;
}

/* An ID with the position it was first seen at, for sorting. */
struct seen {
	const char *id;
	size_t at;
};

static int seen_cmp(const void *x, const void *y)
{
	const struct seen *a = x, *b = y;
	int d = strcmp(a->id, b->id);
	return d ? d : a->at < b->at ? -1 : a->at > b->at;
}

/* Drops repeated IDs, keeping each first one in place: sorted by (ID,
 * position), every entry after the first of its run goes. n log n. */
static bool dedupe(struct advisories *a)
{
	if (a->n < 2)
		return true;
	struct seen *v = malloc(a->n * sizeof *v);
	bool *drop = calloc(a->n, sizeof *drop);
	if (!v || !drop) {
		free(v);
		free(drop);
		return false;
	}
	for (size_t i = 0; i < a->n; i++)
		v[i] = (struct seen){ a->id[i], i };
	qsort(v, a->n, sizeof *v, seen_cmp);
	for (size_t i = 1; i < a->n; i++)
		drop[v[i].at] = !strcmp(v[i].id, v[i - 1].id);
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (drop[i])
			free(a->id[i]);
		else
			a->id[n++] = a->id[i];
	}
	a->n = n;
	free(v);
	free(drop);
	return true;
}

bool advisories_add(struct advisories *a, const char *id)
{
	return push(a, id) && dedupe(a);
}

bool advisories_merge(struct advisories *into, const struct advisories *from)
{
	for (size_t i = 0; i < from->n; i++)
		if (!push(into, from->id[i]))
			return false;
	return dedupe(into);
}

void advisories_free(struct advisories *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->id[i]);
	free(a->id);
	a->id = NULL;
	a->n = 0;
}

/* --- typed members ------------------------------------------------------ */

/* A parse context: the JSON and where errors go. */
struct pc {
	const struct json *j;
	struct err *e;
};

static int need(struct pc *c, int obj, const char *key)
{
	if (json_type(c->j, obj) != JSON_OBJECT) {
		err_set(c->e, EXIT_MALFORMED, "expected an object around \"%s\"", key);
		return -1;
	}
	return json_need(c->j, obj, key, c->e);
}

static int get_u64(struct pc *c, int obj, const char *key, uint64_t max, uint64_t *v)
{
	int t = need(c, obj, key);
	return t < 0 ? c->e->code : json_u64(c->j, t, key, max, v, c->e);
}

static int get_text(struct pc *c, int obj, const char *key, char *out, size_t cap)
{
	int t = need(c, obj, key);
	if (t < 0)
		return c->e->code;
	struct buf b = { 0 };
	int rc = json_string(c->j, t, key, &b, c->e);
	if (!rc && (b.len >= cap || strlen((char *)b.data) != b.len))
		rc = err_set(c->e, EXIT_MALFORMED, "%s: too long or contains NUL", key);
	if (!rc)
		memcpy(out, b.data, b.len + 1);
	buf_free(&b);
	return rc;
}

static int get_hex(struct pc *c, int obj, const char *key, uint8_t *out, size_t n)
{
	int t = need(c, obj, key);
	if (t < 0)
		return c->e->code;
	struct buf b = { 0 };
	int rc = json_hex(c->j, t, key, &b, c->e);
	if (!rc && b.len != n)
		rc = err_set(c->e, EXIT_MALFORMED, "%s: expected %zu bytes of hex, found %zu", key, n, b.len);
	if (!rc)
		memcpy(out, b.data, n);
	buf_free(&b);
	return rc;
}

static int get_date(struct pc *c, int obj, const char *key, time_t *t, char *text, size_t cap)
{
	char s[40];
	if (get_text(c, obj, key, s, sizeof s))
		return c->e->code;
	if (!rfc3339_parse(s, strlen(s), t))
		return err_set(c->e, EXIT_MALFORMED, "%s: not an RFC 3339 date-time: %s", key, s);
	if (text)
		snprintf(text, cap, "%s", s);
	return EXIT_OK;
}

/* An array member, returned with its length; n_exact >= 0 demands that length. */
static int get_array(struct pc *c, int obj, const char *key, int n_exact, int *arr)
{
	int t = need(c, obj, key);
	if (t < 0)
		return c->e->code;
	if (json_type(c->j, t) != JSON_ARRAY)
		return err_set(c->e, EXIT_MALFORMED, "%s: expected an array", key);
	if (n_exact >= 0 && json_size(c->j, t) != n_exact)
		return err_set(c->e, EXIT_MALFORMED, "%s: expected %d elements, found %d", key, n_exact,
			       json_size(c->j, t));
	*arr = t;
	return EXIT_OK;
}

static int get_components(struct pc *c, int obj, const char *key, uint8_t svn[16])
{
	int arr, i = 0;
	if (get_array(c, obj, key, 16, &arr))
		return c->e->code;
	for (int t = json_first(c->j, arr); t >= 0; t = json_next(c->j, t)) {
		uint64_t v;
		if (get_u64(c, t, "svn", 255, &v))
			return err_wrap(c->e, "%s[%d]", key, i);
		svn[i++] = (uint8_t)v;
	}
	return EXIT_OK;
}

/* 1..ADVISORY_ID_MAX_LEN graphic ASCII characters ("INTEL-SA-00106"). */
static bool advisory_id_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return n >= 1 && n <= ADVISORY_ID_MAX_LEN;
}

/* One tcbLevels entry; platform levels when platform, else {"isvsvn"}. */
static int get_level(struct pc *c, int t, bool platform, bool tdx, struct tcb_level *l)
{
	int tcb = need(c, t, "tcb");
	if (tcb < 0)
		return c->e->code;
	uint64_t v;
	if (platform) {
		if (get_components(c, tcb, "sgxtcbcomponents", l->sgx) || get_u64(c, tcb, "pcesvn", 65535, &v))
			return c->e->code;
		l->pcesvn = (uint16_t)v;
		if (tdx && get_components(c, tcb, "tdxtcbcomponents", l->tdx))
			return c->e->code;
	} else {
		if (get_u64(c, tcb, "isvsvn", 65535, &v))
			return c->e->code;
		l->isvsvn = (uint16_t)v;
	}
	char status[48];
	time_t date;
	if (get_text(c, t, "tcbStatus", status, sizeof status) ||
	    get_date(c, t, "tcbDate", &date, l->date, sizeof l->date))
		return c->e->code;
	if (!tcb_status_parse(status, strlen(status), &l->status))
		return err_set(c->e, EXIT_MALFORMED, "tcbStatus: unknown status \"%s\"", status);
	int adv = json_get(c->j, t, "advisoryIDs");
	if (adv < 0)
		return EXIT_OK;
	if (json_type(c->j, adv) != JSON_ARRAY)
		return err_set(c->e, EXIT_MALFORMED, "advisoryIDs: expected an array");
	if (json_size(c->j, adv) > ADVISORY_IDS_MAX)
		return err_set(c->e, EXIT_MALFORMED, "advisoryIDs: %d IDs, more than %d", json_size(c->j, adv),
			       ADVISORY_IDS_MAX);
	int i = 0;
	for (int a = json_first(c->j, adv); a >= 0; a = json_next(c->j, a), i++) {
		struct buf s = { 0 };
		int rc = json_string(c->j, a, "advisoryIDs[]", &s, c->e);
		if (!rc && !advisory_id_valid((const char *)s.data, s.len))
			rc = err_set(c->e, EXIT_MALFORMED, "advisoryIDs[%d]: not 1 to %d printable ASCII characters", i,
				     ADVISORY_ID_MAX_LEN);
		if (!rc && !push(&l->adv, (char *)s.data))
			rc = err_set(c->e, EXIT_SYSTEM, "out of memory");
		buf_free(&s);
		if (rc)
			return rc;
	}
	return dedupe(&l->adv) ? EXIT_OK : err_set(c->e, EXIT_SYSTEM, "out of memory");
}

static int get_levels(struct pc *c, int obj, bool platform, bool tdx, struct tcb_level **out, size_t *nout)
{
	int arr;
	if (get_array(c, obj, "tcbLevels", -1, &arr))
		return c->e->code;
	size_t n = (size_t)json_size(c->j, arr), i = 0;
	if (!n)
		return err_set(c->e, EXIT_MALFORMED, "tcbLevels: empty");
	*out = calloc(n, sizeof **out);
	if (!*out)
		return err_set(c->e, EXIT_SYSTEM, "out of memory");
	*nout = n;
	for (int t = json_first(c->j, arr); t >= 0; t = json_next(c->j, t), i++)
		if (get_level(c, t, platform, tdx, &(*out)[i]))
			return err_wrap(c->e, "tcbLevels[%zu]", i);
	return EXIT_OK;
}

static void levels_free(struct tcb_level *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++)
		advisories_free(&l[i].adv);
	free(l);
}

static int get_module(struct pc *c, int t, bool identity, struct tdx_module *m)
{
	if ((identity && get_text(c, t, "id", m->id, sizeof m->id)) || get_hex(c, t, "mrsigner", m->mrsigner, 48) ||
	    get_hex(c, t, "attributes", m->attributes, 8) || get_hex(c, t, "attributesMask", m->attributes_mask, 8))
		return c->e->code;
	return identity ? get_levels(c, t, false, false, &m->levels, &m->nlevels) : EXIT_OK;
}

/* Highest first: SGX components lexicographically, then PCESVN, then TDX components. */
static int level_cmp(const void *a, const void *b)
{
	const struct tcb_level *x = a, *y = b;
	int d = memcmp(y->sgx, x->sgx, 16);
	if (d)
		return d;
	if (x->pcesvn != y->pcesvn)
		return x->pcesvn < y->pcesvn ? 1 : -1;
	return memcmp(y->tdx, x->tdx, 16);
}

int tcb_info_parse(struct tcb_info *ti, const char *text, size_t len, struct err *e)
{
	memset(ti, 0, sizeof *ti);
	struct json j;
	if (json_parse(&j, text, len, e))
		return e->code;
	struct pc c = { &j, e };
	uint64_t v;
	int rc = EXIT_OK;
	if (get_text(&c, 0, "id", ti->id, sizeof ti->id) || get_u64(&c, 0, "version", UINT32_MAX, &v))
		goto out;
	ti->version = (uint32_t)v;
	bool tdx = !strcmp(ti->id, "TDX");
	if (get_date(&c, 0, "issueDate", &ti->issue_date, NULL, 0) ||
	    get_date(&c, 0, "nextUpdate", &ti->next_update, NULL, 0) || get_hex(&c, 0, "fmspc", ti->fmspc, 6) ||
	    get_hex(&c, 0, "pceId", ti->pce_id, 2) || get_u64(&c, 0, "tcbType", UINT32_MAX, &v))
		goto out;
	ti->tcb_type = (uint32_t)v;
	if (get_u64(&c, 0, "tcbEvaluationDataNumber", UINT32_MAX, &v))
		goto out;
	ti->eval_number = (uint32_t)v;
	int mod = json_get(&j, 0, "tdxModule");
	if (mod >= 0) {
		ti->has_module = true;
		if (get_module(&c, mod, false, &ti->module)) {
			err_wrap(e, "tdxModule");
			goto out;
		}
	}
	int ids = json_get(&j, 0, "tdxModuleIdentities");
	if (ids >= 0) {
		if (json_type(&j, ids) != JSON_ARRAY) {
			err_set(e, EXIT_MALFORMED, "tdxModuleIdentities: expected an array");
			goto out;
		}
		size_t n = (size_t)json_size(&j, ids), i = 0;
		if (n && !(ti->identities = calloc(n, sizeof *ti->identities))) {
			err_set(e, EXIT_SYSTEM, "out of memory");
			goto out;
		}
		ti->nidentities = n;
		for (int t = json_first(&j, ids); t >= 0; t = json_next(&j, t), i++) {
			if (get_module(&c, t, true, &ti->identities[i])) {
				err_wrap(e, "tdxModuleIdentities[%zu]", i);
				goto out;
			}
		}
	}
	if (get_levels(&c, 0, true, tdx, &ti->levels, &ti->nlevels))
		goto out;
	qsort(ti->levels, ti->nlevels, sizeof *ti->levels, level_cmp);
	json_free(&j);
	return EXIT_OK;
out:
	rc = e->code;
	json_free(&j);
	tcb_info_free(ti);
	return rc;
}

void tcb_info_free(struct tcb_info *t)
{
	for (size_t i = 0; t->identities && i < t->nidentities; i++)
		levels_free(t->identities[i].levels, t->identities[i].nlevels);
	free(t->identities);
	levels_free(t->levels, t->nlevels);
	t->identities = NULL;
	t->levels = NULL;
	t->nidentities = t->nlevels = 0;
}

int qe_identity_parse(struct qe_identity *q, const char *text, size_t len, struct err *e)
{
	memset(q, 0, sizeof *q);
	struct json j;
	if (json_parse(&j, text, len, e))
		return e->code;
	struct pc c = { &j, e };
	uint64_t v;
	uint8_t misc[4], mask[4];
	int rc = EXIT_OK;
	if (get_text(&c, 0, "id", q->id, sizeof q->id) || get_u64(&c, 0, "version", UINT32_MAX, &v))
		goto out;
	q->version = (uint32_t)v;
	if (get_date(&c, 0, "issueDate", &q->issue_date, NULL, 0) ||
	    get_date(&c, 0, "nextUpdate", &q->next_update, NULL, 0) || get_hex(&c, 0, "miscselect", misc, 4) ||
	    get_hex(&c, 0, "miscselectMask", mask, 4) || get_hex(&c, 0, "attributes", q->attributes, 16) ||
	    get_hex(&c, 0, "attributesMask", q->attributes_mask, 16) || get_hex(&c, 0, "mrsigner", q->mrsigner, 32) ||
	    get_u64(&c, 0, "isvprodid", 65535, &v))
		goto out;
	q->isvprodid = (uint16_t)v;
	/* Hex as written: big-endian 32-bit values (4 bytes each, so the reads succeed). */
	struct cursor mc = cursor_of(misc, sizeof misc), kc = cursor_of(mask, sizeof mask);
	cur_u32be(&mc, &q->miscselect);
	cur_u32be(&kc, &q->miscselect_mask);
	if (get_levels(&c, 0, false, false, &q->levels, &q->nlevels))
		goto out;
	json_free(&j);
	return EXIT_OK;
out:
	rc = e->code;
	json_free(&j);
	qe_identity_free(q);
	return rc;
}

void qe_identity_free(struct qe_identity *q)
{
	levels_free(q->levels, q->nlevels);
	q->levels = NULL;
	q->nlevels = 0;
}

/* --- the collateral object ---------------------------------------------- */

static int field_text(struct pc *c, const char *key, struct buf *out)
{
	int t = need(c, 0, key);
	return t < 0 ? c->e->code : json_string(c->j, t, key, out, c->e);
}

static int field_hex(struct pc *c, const char *key, struct buf *out)
{
	int t = need(c, 0, key);
	if (t < 0 || json_hex(c->j, t, key, out, c->e))
		return c->e->code;
	return out->len ? EXIT_OK : err_set(c->e, EXIT_MALFORMED, "%s: empty", key);
}

int collateral_parse(struct collateral *col, const char *text, size_t len, struct err *e)
{
	memset(col, 0, sizeof *col);
	struct json j;
	if (json_parse(&j, text, len, e))
		return err_wrap(e, "collateral");
	struct pc c = { &j, e };
	int rc = EXIT_OK;
	if (json_type(&j, 0) != JSON_OBJECT) {
		err_set(e, EXIT_MALFORMED, "expected a JSON object");
		goto out;
	}
	if (field_text(&c, "pck_crl_issuer_chain", &col->pck_crl_issuer_chain) ||
	    field_hex(&c, "root_ca_crl", &col->root_ca_crl) || field_hex(&c, "pck_crl", &col->pck_crl) ||
	    field_text(&c, "tcb_info_issuer_chain", &col->tcb_info_issuer_chain) ||
	    field_text(&c, "tcb_info", &col->tcb_info) ||
	    get_hex(&c, 0, "tcb_info_signature", col->tcb_info_signature, 64) ||
	    field_text(&c, "qe_identity_issuer_chain", &col->qe_identity_issuer_chain) ||
	    field_text(&c, "qe_identity", &col->qe_identity) ||
	    get_hex(&c, 0, "qe_identity_signature", col->qe_identity_signature, 64))
		goto out;
	int pck = json_get(&j, 0, "pck_certificate_chain");
	if (pck >= 0 && json_type(&j, pck) != JSON_NULL) {
		col->has_pck_certificate_chain = true;
		if (json_string(&j, pck, "pck_certificate_chain", &col->pck_certificate_chain, e))
			goto out;
	}
	if (tcb_info_parse(&col->tcb, (char *)col->tcb_info.data, col->tcb_info.len, e)) {
		err_wrap(e, "tcb_info");
		goto out;
	}
	if (qe_identity_parse(&col->qe, (char *)col->qe_identity.data, col->qe_identity.len, e)) {
		err_wrap(e, "qe_identity");
		goto out;
	}
	json_free(&j);
	return EXIT_OK;
out:
	rc = e->code;
	err_wrap(e, "collateral");
	json_free(&j);
	collateral_free(col);
	return rc;
}

void collateral_free(struct collateral *c)
{
	buf_free(&c->pck_crl_issuer_chain);
	buf_free(&c->root_ca_crl);
	buf_free(&c->pck_crl);
	buf_free(&c->tcb_info_issuer_chain);
	buf_free(&c->tcb_info);
	buf_free(&c->qe_identity_issuer_chain);
	buf_free(&c->qe_identity);
	buf_free(&c->pck_certificate_chain);
	tcb_info_free(&c->tcb);
	qe_identity_free(&c->qe);
}
