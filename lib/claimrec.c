#include "claimrec.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "claimfield.h"
#include "json.h"
#include "jsonw.h"

const char *claim_get(const struct claim *c, const char *key)
{
	if (!strcmp(key, "lease_id"))
		return c->lease_id;
	if (!strcmp(key, "revision"))
		return c->revision[0] ? c->revision : NULL;
	if (!strcmp(key, "version"))
		return "1";
	for (size_t i = 0; i < c->nfields; i++)
		if (!strcmp(c->field[i].key, key))
			return c->field[i].value;
	return NULL;
}

int claim_put_field(struct claim *c, const char *key, const char *value, struct err *e)
{
	size_t i = 0;
	while (i < c->nfields && strcmp(c->field[i].key, key) < 0)
		i++;
	bool exists = i < c->nfields && !strcmp(c->field[i].key, key);
	if (!*value) {
		if (exists) {
			free(c->field[i].key);
			free(c->field[i].value);
			memmove(&c->field[i], &c->field[i + 1], (c->nfields - i - 1) * sizeof *c->field);
			c->nfields--;
		}
		return EXIT_OK;
	}
	char *v = strdup(value);
	if (!v)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (exists) {
		free(c->field[i].value);
		c->field[i].value = v;
		return EXIT_OK;
	}
	if (c->nfields == CLAIM_FIELDS_MAX) {
		free(v);
		return err_set(e, EXIT_USAGE, "too many fields (at most %d)", CLAIM_FIELDS_MAX);
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	memmove(&c->field[i + 1], &c->field[i], (c->nfields - i) * sizeof *c->field);
	c->field[i].key = k;
	c->field[i].value = v;
	c->nfields++;
	return EXIT_OK;
}

int claim_set(struct claim *c, const char *key, const char *value, struct err *e)
{
	struct buf v = { 0 };
	int rc = *value ? claim_check_field(key, value, &v, e) : EXIT_OK;
	if (rc == EXIT_OK && !*value && (!claim_valid_key(key) || claim_field_type(key) == F_READONLY))
		rc = claim_check_field(key, value, &v, e); /* the same messages for a removal */
	if (rc == EXIT_OK)
		rc = claim_put_field(c, key, v.data ? (const char *)v.data : "", e);
	buf_free(&v);
	return rc;
}

void claim_free(struct claim *c)
{
	for (size_t i = 0; i < c->nfields; i++) {
		free(c->field[i].key);
		free(c->field[i].value);
	}
	c->nfields = 0;
}

bool claim_copy(struct claim *dst, const struct claim *src)
{
	*dst = *src;
	for (size_t i = 0; i < src->nfields; i++) {
		dst->field[i].key = strdup(src->field[i].key);
		dst->field[i].value = strdup(src->field[i].value);
		if (!dst->field[i].key || !dst->field[i].value) {
			dst->nfields = i + 1;
			claim_free(dst);
			return false;
		}
	}
	return true;
}

int claim_apply_kv(struct claim *c, char *const *kv, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		if (!eq || eq == kv[i])
			return err_set(e, EXIT_USAGE, "expected KEY=VALUE, got '%.*s'",
				       (int)(strlen(kv[i]) > 80 ? 80 : strlen(kv[i])), kv[i]);
		char key[CLAIM_KEY_MAX + 2];
		size_t kl = (size_t)(eq - kv[i]);
		if (kl > CLAIM_KEY_MAX)
			kl = CLAIM_KEY_MAX + 1; /* fails validation below */
		memcpy(key, kv[i], kl);
		key[kl] = 0;
		int rc = claim_set(c, key, eq + 1, e);
		if (rc)
			return rc;
	}
	return EXIT_OK;
}

int claim_parse(struct claim *c, const char *text, size_t len, struct err *e)
{
	memset(c, 0, sizeof *c);
	if (len > CLAIM_FILE_MAX)
		return err_set(e, EXIT_MALFORMED, "larger than %d bytes", CLAIM_FILE_MAX);
	struct json j;
	int rc = json_parse(&j, text, len, e);
	if (rc)
		return rc;
	struct buf key = { 0 }, val = { 0 }, norm = { 0 };
	bool have_version = false;
	if (json_type(&j, 0) != JSON_OBJECT) {
		rc = err_set(e, EXIT_MALFORMED, "not a JSON object");
		goto out;
	}
	for (int k = json_first(&j, 0); k >= 0; k = json_next(&j, k)) {
		buf_reset(&key);
		buf_reset(&val);
		buf_reset(&norm);
		if ((rc = json_string(&j, k, "key", &key, e)))
			goto out;
		const char *name = key.len ? (const char *)key.data : "";
		int v = k + 1;
		enum json_type jt = json_type(&j, v);
		if (!key.len || strlen(name) != key.len || !claim_valid_key(name)) {
			rc = err_set(e, EXIT_MALFORMED, "invalid field name");
			goto out;
		}
		bool dup = !strcmp(name, "lease_id")   ? c->lease_id[0] != 0
			   : !strcmp(name, "revision") ? c->revision[0] != 0
			   : !strcmp(name, "version")  ? have_version
						       : claim_get(c, name) != NULL;
		if (dup) {
			rc = err_set(e, EXIT_MALFORMED, "%s: duplicate member", name);
			goto out;
		}
		enum claim_ftype t = claim_field_type(name);
		if (!strcmp(name, "version")) {
			uint64_t ver;
			if (json_u64(&j, v, name, UINT64_MAX, &ver, e) || ver != CLAIM_VERSION) {
				rc = err_set(e, EXIT_MALFORMED, "version: expected %d", CLAIM_VERSION);
				goto out;
			}
			have_version = true;
			continue;
		}
		if (t == F_INT || t == F_PORT) {
			if (jt != JSON_NUMBER) {
				rc = err_set(e, EXIT_MALFORMED, "%s: expected a number, found %s", name,
					     json_type_name(jt));
				goto out;
			}
			size_t n;
			const char *raw = json_raw(&j, v, &n);
			buf_append(&val, raw, n);
		} else if (t == F_BOOL) {
			if (jt != JSON_TRUE && jt != JSON_FALSE) {
				rc = err_set(e, EXIT_MALFORMED, "%s: expected true or false, found %s", name,
					     json_type_name(jt));
				goto out;
			}
			buf_append_str(&val, jt == JSON_TRUE ? "true" : "false");
		} else if ((rc = json_string(&j, v, name, &val, e))) {
			goto out;
		}
		if (!val.len || strlen((const char *)val.data) != val.len) {
			rc = err_set(e, EXIT_MALFORMED, "%s: empty or contains NUL", name);
			goto out;
		}
		const char *value = (const char *)val.data;
		if (!strcmp(name, "lease_id")) {
			if (!claim_valid_lease(value)) {
				rc = err_set(e, EXIT_MALFORMED, "lease_id: invalid lease id");
				goto out;
			}
			memcpy(c->lease_id, value, val.len + 1);
			continue;
		}
		if (!strcmp(name, "revision")) {
			if (!claim_valid_revision(value, val.len)) {
				rc = err_set(e, EXIT_MALFORMED, "revision: expected %d hex digits", CLAIM_REVISION_LEN);
				goto out;
			}
			memcpy(c->revision, value, val.len + 1);
			continue;
		}
		if ((rc = claim_check_field(name, value, &norm, e))) {
			rc = EXIT_MALFORMED;
			e->code = rc;
			goto out;
		}
		if (strcmp((const char *)norm.data, value)) {
			rc = err_set(e, EXIT_MALFORMED, "%s: not in stored form", name);
			goto out;
		}
		if ((rc = claim_put_field(c, name, value, e)))
			goto out;
	}
	if (!have_version)
		rc = err_set(e, EXIT_MALFORMED, "missing member \"version\"");
	else if (!c->lease_id[0])
		rc = err_set(e, EXIT_MALFORMED, "missing member \"lease_id\"");
	else if (!c->revision[0])
		rc = err_set(e, EXIT_MALFORMED, "missing member \"revision\"");
out:
	if (rc)
		claim_free(c);
	buf_free(&key);
	buf_free(&val);
	buf_free(&norm);
	json_free(&j);
	return rc;
}

bool claim_serialise(const struct claim *c, struct buf *out)
{
	struct jsonw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "version");
	jw_u64(&w, CLAIM_VERSION);
	jw_key(&w, "lease_id");
	jw_str(&w, c->lease_id);
	jw_key(&w, "revision");
	jw_str(&w, c->revision);
	for (size_t i = 0; i < c->nfields; i++) {
		const struct claim_field *f = &c->field[i];
		enum claim_ftype t = claim_field_type(f->key);
		jw_key(&w, f->key);
		if (t == F_INT || t == F_PORT)
			jw_raw(&w, f->value, strlen(f->value));
		else if (t == F_BOOL)
			jw_bool(&w, !strcmp(f->value, "true"));
		else
			jw_str(&w, f->value);
	}
	jw_end(&w);
	return !w.failed;
}

int claim_new_revision(struct claim *c, struct err *e)
{
	uint8_t r[CLAIM_REVISION_LEN / 2];
	if (RAND_bytes(r, sizeof r) != 1)
		return err_ssl(e, EXIT_SYSTEM, "random revision");
	hex_encode(r, sizeof r, c->revision);
	return EXIT_OK;
}
