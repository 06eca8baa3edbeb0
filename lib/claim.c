#include "claim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "fileio.h"
#include "json.h"
#include "jsonw.h"

/* ---- the field table ---- */

enum ftype {
	F_TEXT,     /* free text */
	F_LEASE,    /* lease id pattern */
	F_NAME,     /* CVM name */
	F_APPID,    /* 40 hex */
	F_UUID,     /* [0-9a-f-] */
	F_HOST,     /* DNS name */
	F_PORT,     /* integer 1..65535 */
	F_INT,      /* integer 0..2^53 */
	F_BOOL,     /* true/false */
	F_SHA256,   /* 64 hex */
	F_PATH,     /* absolute path */
	F_STATE,    /* enum */
	F_RECOVERY, /* enum */
	F_READONLY  /* lease_id, revision, version; ok (phala-claim --json's status member) */
};

static const struct {
	const char *key;
	enum ftype type;
} field_types[] = {
	{ "lease_id", F_READONLY },	 { "revision", F_READONLY },	 { "version", F_READONLY },
	{ "slug", F_LEASE },		 { "name", F_NAME },		 { "app_id", F_APPID },
	{ "vm_uuid", F_UUID },		 { "gateway_host", F_HOST },	 { "gateway_port", F_PORT },
	{ "state", F_STATE },		 { "recovery", F_RECOVERY },	 { "keep", F_BOOL },
	{ "attested", F_BOOL },		 { "created_at", F_INT },	 { "expires_at", F_INT },
	{ "last_touched_at", F_INT },	 { "attested_at", F_INT },	 { "ttl_secs", F_INT },
	{ "idle_secs", F_INT },		 { "compose_sha256", F_SHA256 }, { "key_dir", F_PATH },
	{ "ssh_key", F_PATH },		 { "known_hosts", F_PATH },	 { "attest_required", F_BOOL },
	{ "ok", F_READONLY },
};

static const char *const states[] = { "creating", "provisioning", "ready", "releasing", NULL };
static const char *const recoveries[] = { "ambiguous-create", "rollback-cleanup", "kept-after-failure", NULL };

static enum ftype type_of(const char *key)
{
	for (size_t i = 0; i < sizeof field_types / sizeof *field_types; i++)
		if (!strcmp(field_types[i].key, key))
			return field_types[i].type;
	return F_TEXT;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_in(const char *s, size_t n, bool (*ok)(char))
{
	for (size_t i = 0; i < n; i++)
		if (!ok(s[i]))
			return false;
	return true;
}

static bool lease_char(char c)
{
	return is_lower_alnum(c) || c == '-' || c == '_';
}

static bool name_char(char c)
{
	return is_lower_alnum(c) || c == '-';
}

static bool uuid_char(char c)
{
	return is_hex(c) || c == '-';
}

static bool key_char(char c)
{
	return is_lower_alnum(c) || c == '_';
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

bool claim_valid_lease(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= CLAIM_LEASE_MAX && is_lower_alnum(s[0]) && all_in(s, n, lease_char);
}

bool claim_valid_key(const char *k)
{
	size_t n = strlen(k);
	return n >= 1 && n <= CLAIM_KEY_MAX && k[0] >= 'a' && k[0] <= 'z' && all_in(k, n, key_char);
}

static bool valid_host(const char *s, size_t n)
{
	if (n < 1 || n > 253 || s[0] == '.' || s[n - 1] == '.' || s[0] == '-')
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '-') {
			if (label == 0 && c == '-')
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return s[n - 1] != '-';
}

/* Decimal integer without sign or leading zeros, at most max. */
static bool valid_uint(const char *s, size_t n, uint64_t min, uint64_t max)
{
	if (n < 1 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	return v >= min && v <= max;
}

#define INT_MAX_53 ((uint64_t)1 << 53)

static int bad(struct err *e, const char *key, const char *why)
{
	return err_set(e, EXIT_USAGE, "%s: %s", key, why);
}

int claim_check_field(const char *key, const char *value, struct buf *out, struct err *e)
{
	if (!claim_valid_key(key))
		return err_set(e, EXIT_USAGE, "invalid field name '%.*s' (1 to %d of [a-z0-9_], starting with a letter)",
			       (int)(strlen(key) > 80 ? 80 : strlen(key)), key, CLAIM_KEY_MAX);
	size_t n = strlen(value);
	if (n > CLAIM_VALUE_MAX)
		return err_set(e, EXIT_USAGE, "%s: value too long (%zu bytes, at most %d)", key, n, CLAIM_VALUE_MAX);
	if (!json_text_valid(value, n))
		return bad(e, key, "value is not UTF-8 text without control characters");
	enum ftype t = type_of(key);
	bool lower = false;
	switch (t) {
	case F_READONLY: return bad(e, key, "is maintained by phala-claim and cannot be set");
	case F_TEXT: break;
	case F_LEASE:
		if (!claim_valid_lease(value))
			return bad(e, key, "expected 1 to 64 of [a-z0-9_-], starting with a letter or digit");
		break;
	case F_NAME:
		if (n < 5 || n > 63 || value[0] < 'a' || value[0] > 'z' || !all_in(value, n, name_char))
			return bad(e, key, "expected a CVM name: 5 to 63 of [a-z0-9-], starting with a letter");
		break;
	case F_APPID:
		if (n != 40 || !all_in(value, n, is_hex))
			return bad(e, key, "expected 40 hex digits (a bare app id, no app_ or 0x prefix)");
		lower = true;
		break;
	case F_UUID:
		if (n < 1 || n > 64 || !all_in(value, n, uuid_char))
			return bad(e, key, "expected 1 to 64 of [0-9a-f-]");
		lower = true;
		break;
	case F_HOST:
		if (!valid_host(value, n))
			return bad(e, key, "expected a DNS host name (letters, digits, hyphens, dots; at most 253 bytes)");
		lower = true;
		break;
	case F_PORT:
		if (!valid_uint(value, n, 1, 65535))
			return bad(e, key, "expected a port number 1 to 65535");
		break;
	case F_INT:
		if (!valid_uint(value, n, 0, INT_MAX_53))
			return bad(e, key, "expected a non-negative decimal integer (at most 2^53)");
		break;
	case F_BOOL:
		if (strcmp(value, "true") && strcmp(value, "false"))
			return bad(e, key, "expected true or false");
		break;
	case F_SHA256:
		if (n != 64 || !all_in(value, n, is_hex))
			return bad(e, key, "expected 64 hex digits");
		lower = true;
		break;
	case F_PATH:
		if (value[0] != '/')
			return bad(e, key, "expected an absolute path");
		break;
	case F_STATE:
		if (!in_list(value, states))
			return bad(e, key, "expected creating, provisioning, ready or releasing");
		break;
	case F_RECOVERY:
		if (!in_list(value, recoveries))
			return bad(e, key, "expected ambiguous-create, rollback-cleanup or kept-after-failure");
		break;
	}
	size_t start = out->len;
	if (!buf_append(out, value, n))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (lower)
		for (size_t i = start; i < out->len; i++)
			if (out->data[i] >= 'A' && out->data[i] <= 'Z')
				out->data[i] = (uint8_t)(out->data[i] - 'A' + 'a');
	return EXIT_OK;
}

/* ---- the claim in memory ---- */

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

/* Stores an already validated value (stored form); "" removes. */
static int put_field(struct claim *c, const char *key, const char *value, struct err *e)
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
	if (rc == EXIT_OK && !*value && (!claim_valid_key(key) || type_of(key) == F_READONLY))
		rc = claim_check_field(key, value, &v, e); /* the same messages for a removal */
	if (rc == EXIT_OK)
		rc = put_field(c, key, v.data ? (const char *)v.data : "", e);
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

/* Deep copy; false (dst empty) when memory runs out. */
static bool claim_copy(struct claim *dst, const struct claim *src)
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

/* Applies "KEY=VALUE" strings. */
static int apply_kv(struct claim *c, char *const *kv, size_t n, struct err *e)
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

/* ---- the file format ---- */

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
		enum ftype t = type_of(name);
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
			if (val.len != CLAIM_REVISION_LEN || !all_in(value, val.len, is_lower_hex)) {
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
		if ((rc = put_field(c, name, value, e)))
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
		enum ftype t = type_of(f->key);
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

/* ---- the store ---- */

static int check_dir(const char *dir, const struct stat *st, struct err *e)
{
	if (S_ISLNK(st->st_mode))
		return err_set(e, EXIT_MALFORMED, "claims directory %s is a symbolic link", dir);
	if (!S_ISDIR(st->st_mode))
		return err_set(e, EXIT_MALFORMED, "claims directory %s is not a directory", dir);
	if (st->st_uid != geteuid())
		return err_set(e, EXIT_MALFORMED, "claims directory %s is not owned by uid %u", dir,
			       (unsigned)geteuid());
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return err_set(e, EXIT_MALFORMED, "claims directory %s is writable by group or others (mode %03o)",
			       dir, (unsigned)(st->st_mode & 0777));
	return EXIT_OK;
}

/* mkdir -p with mode 0700 for the missing components. */
static int make_dirs(char *path, struct err *e)
{
	for (char *p = path + 1;; p++) {
		bool end = *p == 0;
		if (*p != '/' && !end)
			continue;
		*p = 0;
		if (mkdir(path, 0700) && errno != EEXIST) {
			int rc = err_set(e, EXIT_SYSTEM, "cannot create directory %s: %s", path, strerror(errno));
			if (!end)
				*p = '/';
			return rc;
		}
		if (end)
			return EXIT_OK;
		*p = '/';
	}
}

static int index_build(const struct claim_store *s, struct err *e);

int claim_store_open(struct claim_store *s, const char *dir, bool create, struct err *e)
{
	struct buf path = { 0 };
	const char *env = getenv("PHALA_CLAIMS_DIR");
	bool ok;
	if (dir)
		ok = buf_append_str(&path, dir);
	else if (env && *env)
		ok = buf_append_str(&path, env);
	else {
		const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
		if (state && *state == '/')
			ok = buf_printf(&path, "%s/phala-lease/claims", state);
		else if (home && *home == '/')
			ok = buf_printf(&path, "%s/.local/state/phala-lease/claims", home);
		else {
			return err_set(e, EXIT_USAGE,
				       "no claims directory: set --dir, PHALA_CLAIMS_DIR, XDG_STATE_HOME or HOME");
		}
	}
	if (!ok)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	char *d = (char *)path.data;
	if (!*d) {
		buf_free(&path);
		return err_set(e, EXIT_USAGE, "empty claims directory name");
	}
	while (path.len > 1 && d[path.len - 1] == '/')
		d[--path.len] = 0;
	struct stat st;
	int rc = EXIT_OK;
	if (lstat(d, &st) && errno == ENOENT) {
		if (!create) {
			s->dir = d; /* reads see no claims */
			return EXIT_OK;
		}
		if (!(rc = make_dirs(d, e)) && lstat(d, &st))
			rc = err_set(e, EXIT_SYSTEM, "claims directory %s: %s", d, strerror(errno));
	} else if (errno = 0, lstat(d, &st)) {
		rc = err_set(e, EXIT_SYSTEM, "claims directory %s: %s", d, strerror(errno));
	}
	if (rc == EXIT_OK)
		rc = check_dir(d, &st, e);
	if (rc) {
		buf_free(&path);
		return rc;
	}
	s->dir = d;
	if (create && (rc = index_build(s, e)))
		claim_store_close(s);
	return rc;
}

void claim_store_close(struct claim_store *s)
{
	free(s->dir);
	s->dir = NULL;
}

enum claim_file { CLAIM_JSON, CLAIM_LOCK, CLAIM_TMP };

/* DIR/LEASE.json, DIR/.LEASE.lock or DIR/.LEASE.tmp */
static bool claim_path(const struct claim_store *s, const char *lease, enum claim_file f, struct buf *out)
{
	buf_reset(out);
	if (f == CLAIM_JSON)
		return buf_printf(out, "%s/%s.json", s->dir, lease);
	return buf_printf(out, "%s/.%s.%s", s->dir, lease, f == CLAIM_LOCK ? "lock" : "tmp");
}

static int need_lease(const char *lease, struct err *e)
{
	if (claim_valid_lease(lease))
		return EXIT_OK;
	return err_set(e, EXIT_USAGE,
		       "invalid lease id '%.*s' (1 to %d of [a-z0-9_-], starting with a letter or digit)",
		       (int)(strlen(lease) > 80 ? 80 : strlen(lease)), lease, CLAIM_LEASE_MAX);
}

/* Reads and parses the claim file name (relative to dirfd), which must be
 * LEASE.json for lease. EXIT_REJECTED ("no claim") when absent; other
 * messages say what is wrong with the file, without naming it. */
static int read_at(int dirfd, const char *name, const char *lease, struct claim *c, struct err *e)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_set(e, EXIT_REJECTED, "no claim");
		if (errno == ELOOP)
			return err_set(e, EXIT_MALFORMED, "refusing a claim file that is a symbolic link");
		return err_set(e, EXIT_SYSTEM, "cannot open: %s", strerror(errno));
	}
	struct stat st;
	struct buf text = { 0 };
	int rc = EXIT_OK;
	if (fstat(fd, &st))
		rc = err_set(e, EXIT_SYSTEM, "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = err_set(e, EXIT_MALFORMED, "not a regular file");
	else if (st.st_size > CLAIM_FILE_MAX)
		rc = err_set(e, EXIT_MALFORMED, "corrupt claim: larger than %d bytes", CLAIM_FILE_MAX);
	else
		rc = fd_read_all(fd, "claim", CLAIM_FILE_MAX, &text, e);
	close(fd);
	if (rc == EXIT_OK && (rc = claim_parse(c, (const char *)text.data, text.len, e)))
		err_wrap(e, "corrupt claim");
	if (rc == EXIT_OK && strcmp(c->lease_id, lease)) {
		rc = err_set(e, EXIT_MALFORMED, "corrupt claim: lease_id \"%s\" differs from the file name", c->lease_id);
		claim_free(c);
	}
	buf_free(&text);
	return rc;
}

int claim_read(const struct claim_store *s, const char *lease, struct claim *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	int rc = need_lease(lease, e);
	if (rc)
		return rc;
	char name[CLAIM_LEASE_MAX + 8];
	snprintf(name, sizeof name, "%s.json", lease);
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT)
		return err_set(e, EXIT_REJECTED, "%s: no claim", lease);
	if (dfd < 0)
		return err_set(e, EXIT_SYSTEM, "cannot open claims directory %s: %s", s->dir, strerror(errno));
	rc = read_at(dfd, name, lease, c, e);
	close(dfd);
	if (rc == EXIT_REJECTED)
		err_wrap(e, "%s", lease);
	else if (rc)
		err_wrap(e, "%s/%s", s->dir, name);
	return rc;
}

/* ---- locking ---- */

/* The inherited lock descriptor, when the environment names this lease and
 * the descriptor is this lease's lock file. */
static int inherited_lock(const char *lease, const char *path)
{
	const char *l = getenv(CLAIM_ENV_LOCK_LEASE), *f = getenv(CLAIM_ENV_LOCK_FD);
	if (!l || !f || strcmp(l, lease) || !valid_uint(f, strlen(f), 3, 1 << 20))
		return -1;
	int fd = atoi(f);
	struct stat a, b;
	if (fstat(fd, &a) || lstat(path, &b) || !S_ISREG(b.st_mode) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return -1;
	return fd;
}

#define LOCK_STALE (-1) /* lock_once: the file locked is no longer at the path */

static int lock_once(const struct claim_store *s, const char *lease, bool for_child, struct claim_lock *l,
		     struct err *e)
{
	l->fd = -1;
	l->inherited = false;
	int rc = need_lease(lease, e);
	if (rc)
		return rc;
	struct buf path = { 0 };
	if (!claim_path(s, lease, CLAIM_LOCK, &path))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	const char *p = (const char *)path.data;
	int fd = inherited_lock(lease, p);
	if (fd >= 0) {
		l->inherited = true;
	} else {
		fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | (for_child ? 0 : O_CLOEXEC), 0600);
		if (fd < 0 && errno == ENOENT) {
			rc = err_set(e, EXIT_REJECTED, "%s: no claim (no claims directory %s)", lease, s->dir);
			buf_free(&path);
			return rc;
		}
		if (fd < 0) {
			rc = err_set(e, errno == ELOOP ? EXIT_MALFORMED : EXIT_SYSTEM, "%s: cannot open lock file %s: %s",
				     lease, p, errno == ELOOP ? "it is a symbolic link" : strerror(errno));
			buf_free(&path);
			return rc;
		}
		struct stat st;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			close(fd);
			rc = err_set(e, EXIT_MALFORMED, "%s: lock file %s is not a regular file", lease, p);
			buf_free(&path);
			return rc;
		}
	}
	/* On the inherited descriptor this returns at once: the lock is held by
	 * the same open file description. */
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			rc = err_set(e, EXIT_SYSTEM, "%s: cannot lock %s: %s", lease, p, strerror(errno));
			if (!l->inherited)
				close(fd);
			buf_free(&path);
			return rc;
		}
	}
	/* The holder before us may have removed the lock file of a lease whose
	 * claim is gone (claim_unlock_gone): a lock on that old file excludes
	 * no one any more, so start over on the file now at the path. */
	struct stat held, now;
	if (!l->inherited && (fstat(fd, &held) || lstat(p, &now) || held.st_dev != now.st_dev ||
			      held.st_ino != now.st_ino)) {
		close(fd);
		buf_free(&path);
		return LOCK_STALE;
	}
	buf_free(&path);
	l->fd = fd;
	return EXIT_OK;
}

int claim_lock(const struct claim_store *s, const char *lease, bool for_child, struct claim_lock *l,
	       struct err *e)
{
	for (int tries = 0; tries < 1000; tries++) {
		int rc = lock_once(s, lease, for_child, l, e);
		if (rc != LOCK_STALE)
			return rc;
	}
	return err_set(e, EXIT_SYSTEM, "%s: its lock file keeps being replaced", lease);
}

void claim_unlock_gone(const struct claim_store *s, const char *lease, struct claim_lock *l)
{
	struct buf p = { 0 };
	struct stat held, at;
	if (l->fd >= 0 && !l->inherited && claim_valid_lease(lease) && claim_path(s, lease, CLAIM_JSON, &p) &&
	    lstat((const char *)p.data, &at) && errno == ENOENT && claim_path(s, lease, CLAIM_LOCK, &p) &&
	    !fstat(l->fd, &held) && !lstat((const char *)p.data, &at) && held.st_dev == at.st_dev &&
	    held.st_ino == at.st_ino)
		unlink((const char *)p.data);
	buf_free(&p);
	claim_unlock(l);
}

void claim_unlock(struct claim_lock *l)
{
	if (l->fd >= 0 && !l->inherited) {
		/* Explicitly: a child may still hold a copy of the descriptor. */
		flock(l->fd, LOCK_UN);
		close(l->fd);
	}
	l->fd = -1;
}

/* ---- the lookup index ----
 * DIR/.index/KEY/VALUE/LEASE, an empty file per indexed field value, so that
 * a lookup by app id (what phala-proxy does) opens one small directory
 * instead of every claim. It is a hint, never trusted: every candidate claim
 * is read and compared. Writers, holding the lease's lock, add the entry of a
 * new value before the claim carries it and remove the entry of an old value
 * after the claim no longer does, so every claim's values have their entry
 * (crashes leave only stale entries, which lookups ignore). DIR/.index/v1
 * marks an index that covers every claim; without it, lookups scan. */

static const char *const indexed[] = { "app_id", "slug", "vm_uuid", "name", "gateway_host", NULL };

static bool is_indexed(const char *key)
{
	return in_list(key, indexed);
}

static int fsync_path(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		int rc = err_set(e, EXIT_SYSTEM, "fsync of %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return EXIT_OK;
}

static int mkdir_0700(const char *path, bool *created, struct err *e)
{
	if (!mkdir(path, 0700)) {
		*created = true;
		return EXIT_OK;
	}
	if (errno == EEXIST)
		return EXIT_OK;
	return err_set(e, EXIT_SYSTEM, "cannot create %s: %s", path, strerror(errno));
}

static int index_add(const struct claim_store *s, const char *key, const char *value, const char *lease,
		     struct err *e)
{
	struct buf top = { 0 }, kdir = { 0 }, vdir = { 0 }, entry = { 0 };
	int rc = EXIT_OK;
	if (!buf_printf(&top, "%s/.index", s->dir) || !buf_printf(&kdir, "%s/%s", (char *)top.data, key) ||
	    !buf_printf(&vdir, "%s/%s", (char *)kdir.data, value) ||
	    !buf_printf(&entry, "%s/%s", (char *)vdir.data, lease))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	/* A concurrent writer may remove an empty value directory between our
	 * mkdir and open: try again. */
	for (int tries = 0; rc == EXIT_OK; tries++) {
		bool made_top = false, made_k = false, made_v = false;
		if ((rc = mkdir_0700((char *)top.data, &made_top, e)) || (rc = mkdir_0700((char *)kdir.data, &made_k, e)) ||
		    (rc = mkdir_0700((char *)vdir.data, &made_v, e)))
			break;
		int fd = open((char *)entry.data, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0 && errno == ENOENT && tries < 20)
			continue;
		if (fd < 0) {
			rc = err_set(e, EXIT_SYSTEM, "cannot create index entry %s: %s", (char *)entry.data,
				     strerror(errno));
			break;
		}
		close(fd);
		rc = fsync_path((char *)vdir.data, e);
		if (!rc && made_v)
			rc = fsync_path((char *)kdir.data, e);
		if (!rc && made_k)
			rc = fsync_path((char *)top.data, e);
		if (!rc && made_top)
			rc = fsync_path(s->dir, e);
		break;
	}
	buf_free(&top);
	buf_free(&kdir);
	buf_free(&vdir);
	buf_free(&entry);
	return rc;
}

static void index_del(const struct claim_store *s, const char *key, const char *value, const char *lease)
{
	struct buf p = { 0 };
	if (buf_printf(&p, "%s/.index/%s/%s/%s", s->dir, key, value, lease)) {
		unlink((char *)p.data);
		p.data[p.len - strlen(lease) - 1] = 0;
		rmdir((char *)p.data); /* fails harmlessly while other leases share the value */
	}
	buf_free(&p);
}

/* Before a write: entries for the values new has and old had not. */
static int index_before(const struct claim_store *s, const struct claim *old, const struct claim *new,
			struct err *e)
{
	for (const char *const *k = indexed; *k; k++) {
		const char *nv = claim_get(new, *k), *ov = old ? claim_get(old, *k) : NULL;
		int rc;
		if (nv && (!ov || strcmp(nv, ov)) && (rc = index_add(s, *k, nv, new->lease_id, e)))
			return rc;
	}
	return EXIT_OK;
}

/* After a write (new NULL: after a removal): drop the entries of old values. */
static void index_after(const struct claim_store *s, const struct claim *old, const struct claim *new)
{
	for (const char *const *k = indexed; old && *k; k++) {
		const char *nv = new ? claim_get(new, *k) : NULL, *ov = claim_get(old, *k);
		if (ov && (!nv || strcmp(nv, ov)))
			index_del(s, *k, ov, old->lease_id);
	}
}

/* ---- writes ---- */

static int new_revision(struct claim *c, struct err *e)
{
	uint8_t r[CLAIM_REVISION_LEN / 2];
	if (RAND_bytes(r, sizeof r) != 1)
		return err_ssl(e, EXIT_SYSTEM, "random revision");
	hex_encode(r, sizeof r, c->revision);
	return EXIT_OK;
}

/* Writes c (lock held), old being the claim it replaces (NULL: none). */
static int write_claim(const struct claim_store *s, const struct claim *old, struct claim *c, struct err *e)
{
	int rc = new_revision(c, e);
	if (rc || (rc = index_before(s, old, c, e)))
		return rc;
	struct buf text = { 0 }, path = { 0 }, tmp = { 0 };
	if (!claim_serialise(c, &text) || !buf_append(&text, "\n", 1) ||
	    !claim_path(s, c->lease_id, CLAIM_JSON, &path) || !claim_path(s, c->lease_id, CLAIM_TMP, &tmp))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	else if (text.len > CLAIM_FILE_MAX)
		rc = err_set(e, EXIT_USAGE, "%s: the claim would be larger than %d bytes", c->lease_id, CLAIM_FILE_MAX);
	else /* the lock is held: the fixed temporary name is ours */
		rc = file_write_atomic_as((const char *)path.data, (const char *)tmp.data, text.data, text.len, 0600,
					  e);
	buf_free(&text);
	buf_free(&path);
	buf_free(&tmp);
	if (rc == EXIT_OK)
		index_after(s, old, c);
	return rc;
}

static int conflict(const char *lease, const char *if_revision, const struct claim *c, struct err *e)
{
	if (!c)
		return err_set(e, EXIT_REJECTED, "%s: " CLAIM_CONFLICT " (claim was removed)", lease);
	return err_set(e, EXIT_REJECTED, "%s: " CLAIM_CONFLICT " (revision is %s, not %.*s)", lease, c->revision,
		       CLAIM_REVISION_LEN + 8, if_revision);
}

static void give(struct claim *c, struct claim *out)
{
	if (out)
		*out = *c;
	else
		claim_free(c);
}

int claim_create(const struct claim_store *s, const char *lease, char *const *kv, size_t n, struct claim *out,
		 struct err *e)
{
	struct claim c;
	memset(&c, 0, sizeof c);
	int rc = need_lease(lease, e);
	if (rc || (rc = apply_kv(&c, kv, n, e))) {
		claim_free(&c);
		return rc;
	}
	memcpy(c.lease_id, lease, strlen(lease) + 1);
	struct claim_lock l;
	if ((rc = claim_lock(s, lease, false, &l, e))) {
		claim_free(&c);
		return rc;
	}
	struct buf path = { 0 };
	struct stat st;
	if (!claim_path(s, lease, CLAIM_JSON, &path))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	else if (!lstat((const char *)path.data, &st))
		rc = S_ISREG(st.st_mode)
			     ? err_set(e, EXIT_REJECTED, "%s: claim exists", lease)
			     : err_set(e, EXIT_MALFORMED, "%s: %s exists and is not a claim file", lease,
				       (const char *)path.data);
	else if (errno != ENOENT)
		rc = err_set(e, EXIT_SYSTEM, "%s: %s: %s", lease, (const char *)path.data, strerror(errno));
	else
		rc = write_claim(s, NULL, &c, e);
	claim_unlock_gone(s, lease, &l);
	buf_free(&path);
	if (rc)
		claim_free(&c);
	else
		give(&c, out);
	return rc;
}

/* Under the lock: reads the claim and checks the expected revision. */
static int read_for_write(const struct claim_store *s, const char *lease, const char *if_revision, struct claim *c,
			  struct err *e)
{
	int rc = claim_read(s, lease, c, e);
	if (rc == EXIT_REJECTED && if_revision)
		return conflict(lease, if_revision, NULL, e);
	if (rc)
		return rc;
	if (if_revision && strcmp(c->revision, if_revision)) {
		rc = conflict(lease, if_revision, c, e);
		claim_free(c);
	}
	return rc;
}

int claim_update(const struct claim_store *s, const char *lease, const char *if_revision, char *const *kv,
		 size_t n, struct claim *out, struct err *e)
{
	struct claim c;
	memset(&c, 0, sizeof c);
	int rc = need_lease(lease, e);
	if (rc || (rc = apply_kv(&c, kv, n, e))) { /* validate before waiting for the lock */
		claim_free(&c);
		return rc;
	}
	claim_free(&c);
	struct claim_lock l;
	if ((rc = claim_lock(s, lease, false, &l, e)))
		return rc;
	if (!(rc = read_for_write(s, lease, if_revision, &c, e))) {
		struct claim old;
		rc = claim_copy(&old, &c) ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
		if (!rc && !(rc = apply_kv(&c, kv, n, e)))
			rc = write_claim(s, &old, &c, e);
		claim_free(&old);
		if (rc)
			claim_free(&c);
		else
			give(&c, out);
	}
	claim_unlock_gone(s, lease, &l);
	return rc;
}

int claim_remove(const struct claim_store *s, const char *lease, const char *if_revision, struct err *e)
{
	struct claim_lock l;
	int rc = claim_lock(s, lease, false, &l, e);
	if (rc)
		return rc;
	struct claim c;
	struct buf path = { 0 };
	if (!(rc = read_for_write(s, lease, if_revision, &c, e))) {
		if (!claim_path(s, lease, CLAIM_JSON, &path))
			rc = err_set(e, EXIT_SYSTEM, "out of memory");
		else if (unlink((const char *)path.data))
			rc = err_set(e, EXIT_SYSTEM, "%s: cannot remove %s: %s", lease, (const char *)path.data,
				     strerror(errno));
		else {
			/* A temporary file left by a killed writer: ours, as the lock is held. */
			if (claim_path(s, lease, CLAIM_TMP, &path))
				unlink((const char *)path.data);
			int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0 || fsync(dfd))
				rc = err_set(e, EXIT_SYSTEM, "fsync of %s: %s", s->dir, strerror(errno));
			if (dfd >= 0)
				close(dfd);
			index_after(s, &c, NULL);
		}
		claim_free(&c);
	}
	claim_unlock_gone(s, lease, &l);
	buf_free(&path);
	return rc;
}

/* ---- scans ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* .LEASE.lock and .LEASE.tmp (a write in progress, or one a crash interrupted). */
static bool ignored_name(const char *name)
{
	size_t n = strlen(name), suffix;
	if (!strcmp(name, ".index"))
		return true;
	if (n > 5 && !strcmp(name + n - 5, ".lock"))
		suffix = 5;
	else if (n > 4 && !strcmp(name + n - 4, ".tmp"))
		suffix = 4;
	else
		return false;
	size_t ln = n - 1 - suffix;
	if (name[0] != '.' || ln < 1 || ln > CLAIM_LEASE_MAX)
		return false;
	char lease[CLAIM_LEASE_MAX + 1];
	memcpy(lease, name + 1, ln);
	lease[ln] = 0;
	return claim_valid_lease(lease);
}

/* The lease of a claim file name, or false. */
static bool lease_of(const char *name, char lease[CLAIM_LEASE_MAX + 1])
{
	size_t n = strlen(name);
	if (n < 6 || n - 5 > CLAIM_LEASE_MAX || strcmp(name + n - 5, ".json"))
		return false;
	memcpy(lease, name, n - 5);
	lease[n - 5] = 0;
	return claim_valid_lease(lease);
}

struct match {
	const char *key, *value;
	claim_visit_fn visit;
	void *arg;
};

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The sorted entries of directory path (without ., .., lock and temporary
 * files; with suffix appended to each). An absent directory has none. */
static int read_names(const char *path, const char *suffix, char ***out, size_t *count, struct err *e)
{
	*out = NULL;
	*count = 0;
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? EXIT_OK
				       : err_set(e, EXIT_SYSTEM, "cannot read directory %s: %s", path, strerror(errno));
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = EXIT_OK;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || ignored_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			char **nn = realloc(names, cap * sizeof *names);
			if (!nn) {
				rc = err_set(e, EXIT_SYSTEM, "out of memory");
				break;
			}
			names = nn;
		}
		size_t len = strlen(de->d_name);
		if (!(names[n] = malloc(len + strlen(suffix) + 1))) {
			rc = err_set(e, EXIT_SYSTEM, "out of memory");
			break;
		}
		memcpy(names[n], de->d_name, len);
		strcpy(names[n++] + len, suffix);
		errno = 0;
	}
	if (rc == EXIT_OK && errno)
		rc = err_set(e, EXIT_SYSTEM, "cannot read directory %s: %s", path, strerror(errno));
	closedir(d);
	if (rc) {
		free_names(names, n);
		return rc;
	}
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	*out = names;
	*count = n;
	return EXIT_OK;
}

static bool index_complete(const struct claim_store *s)
{
	struct buf p = { 0 };
	struct stat st;
	bool ok = buf_printf(&p, "%s/.index/v1", s->dir) && !lstat((char *)p.data, &st) && S_ISREG(st.st_mode);
	buf_free(&p);
	return ok;
}

/* Visits the matching claims: all files of the directory, or (index) only
 * the candidates the index names, each read and compared all the same. */
static int scan(const struct claim_store *s, const struct match *m, bool index, claim_skip_fn skip, void *skip_arg,
		struct err *e)
{
	struct buf path = { 0 };
	if (!(index ? buf_printf(&path, "%s/.index/%s/%s", s->dir, m->key, m->value) : buf_append_str(&path, s->dir)))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	char **names;
	size_t n;
	int rc = read_names((char *)path.data, index ? ".json" : "", &names, &n, e);
	buf_free(&path);
	if (rc || !n)
		return rc;
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		free_names(names, n);
		return err_set(e, EXIT_SYSTEM, "cannot open claims directory %s: %s", s->dir, strerror(errno));
	}
	for (size_t i = 0; rc == EXIT_OK && i < n; i++) {
		char lease[CLAIM_LEASE_MAX + 1];
		struct claim c;
		struct err why = { 0 };
		int r;
		if (!lease_of(names[i], lease))
			r = err_set(&why, EXIT_MALFORMED, "not a claim file name");
		else
			r = read_at(dfd, names[i], lease, &c, &why);
		if (r == EXIT_REJECTED || (r && index && !lease_of(names[i], lease)))
			continue; /* removed since readdir, or a stray index entry */
		if (r) {
			if (skip)
				skip(names[i], &why, skip_arg);
			continue;
		}
		const char *v = m->key ? claim_get(&c, m->key) : NULL;
		if (!m->key || (v && !strcmp(v, m->value)))
			rc = m->visit(&c, m->arg);
		claim_free(&c);
	}
	free_names(names, n);
	close(dfd);
	return rc;
}

int claim_list(const struct claim_store *s, claim_visit_fn visit, claim_skip_fn skip, void *arg, struct err *e)
{
	struct match m = { NULL, NULL, visit, arg };
	return scan(s, &m, false, skip, arg, e);
}

int claim_find(const struct claim_store *s, const char *key, const char *value, claim_visit_fn visit,
	       claim_skip_fn skip, void *arg, struct err *e)
{
	struct buf norm = { 0 };
	int rc;
	if (!claim_valid_key(key))
		return claim_check_field(key, value, &norm, e); /* the message for an invalid name */
	if (!*value)
		return EXIT_OK; /* no claim has an empty value */
	if (!strcmp(key, "lease_id") || !strcmp(key, "revision") || !strcmp(key, "version"))
		rc = buf_append_str(&norm, value) ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
	else
		rc = claim_check_field(key, value, &norm, e);
	if (rc == EXIT_OK && !strcmp(key, "revision"))
		for (size_t i = 0; i < norm.len; i++)
			if (norm.data[i] >= 'A' && norm.data[i] <= 'Z')
				norm.data[i] = (uint8_t)(norm.data[i] - 'A' + 'a');
	if (rc == EXIT_OK) {
		struct match m = { key, (const char *)norm.data, visit, arg };
		rc = scan(s, &m, is_indexed(key) && index_complete(s), skip, arg, e);
	}
	buf_free(&norm);
	return rc;
}

/* ---- building the index ---- */

struct build {
	const struct claim_store *s;
	struct err *e;
};

static int build_visit(const struct claim *c, void *arg)
{
	struct build *b = arg;
	return index_before(b->s, NULL, c, b->e);
}

/* Once per store (until .index/v1 exists): entries for every claim, then the
 * mark. Writers maintain entries whether or not the mark exists, so claims
 * written meanwhile are covered too. */
static int index_build(const struct claim_store *s, struct err *e)
{
	if (index_complete(s))
		return EXIT_OK;
	struct build b = { s, e };
	int rc = claim_list(s, build_visit, NULL, &b, e);
	struct buf top = { 0 }, mark = { 0 };
	bool made = false;
	if (rc == EXIT_OK && (!buf_printf(&top, "%s/.index", s->dir) || !buf_printf(&mark, "%s/v1", (char *)top.data)))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	if (rc == EXIT_OK && !(rc = mkdir_0700((char *)top.data, &made, e))) {
		int fd = open((char *)mark.data, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			rc = err_set(e, EXIT_SYSTEM, "cannot create %s: %s", (char *)mark.data, strerror(errno));
		else
			close(fd);
		if (rc == EXIT_OK)
			rc = fsync_path((char *)top.data, e);
		if (rc == EXIT_OK && made)
			rc = fsync_path(s->dir, e);
	}
	buf_free(&top);
	buf_free(&mark);
	return rc;
}

/* ---- resolve ---- */

struct resolved {
	struct claim c;
	int count;
	bool oom;
};

static int take_one(const struct claim *c, void *arg)
{
	struct resolved *r = arg;
	if (++r->count == 1 && !claim_copy(&r->c, c)) {
		r->count = 0;
		r->oom = true;
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

static int resolve_by(const struct claim_store *s, const char *key, const char *ident, struct claim *c,
		      struct err *e)
{
	struct resolved r;
	memset(&r, 0, sizeof r);
	int rc = claim_find(s, key, ident, take_one, NULL, &r, e);
	if (r.oom)
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	if (rc == EXIT_OK && r.count > 1)
		rc = err_set(e, EXIT_USAGE, "%s: ambiguous: %d claims have %s=%s", ident, r.count, key, ident);
	if (rc == EXIT_OK && r.count == 0)
		rc = EXIT_REJECTED;
	if (rc == EXIT_OK)
		*c = r.c;
	else if (r.count)
		claim_free(&r.c);
	return rc;
}

int claim_resolve(const struct claim_store *s, const char *ident, struct claim *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	struct buf tmp = { 0 };
	int rc = EXIT_REJECTED;
	if (strlen(ident) == 40 && claim_check_field("app_id", ident, &tmp, e) == EXIT_OK)
		rc = resolve_by(s, "app_id", ident, c, e);
	buf_free(&tmp);
	if (rc == EXIT_REJECTED && claim_valid_lease(ident)) {
		rc = claim_read(s, ident, c, e);
		if (rc == EXIT_REJECTED)
			rc = resolve_by(s, "slug", ident, c, e);
	}
	if (rc == EXIT_REJECTED)
		rc = err_set(e, EXIT_REJECTED, "%.*s: no claim with that app id, lease id or slug",
			     (int)(strlen(ident) > 80 ? 80 : strlen(ident)), ident);
	return rc;
}

/* ---- touch: a use of the lease seen by phala-proxy ----
 * Built on the public reads and writes only (so it holds for any store). */

static bool field_int(const struct claim *c, const char *key, long long *v)
{
	const char *s = claim_get(c, key);
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !errno && !*end && *v >= 0;
}

int claim_touch(const struct claim_store *s, const char *lease, long long now, long long min_interval,
		struct err *e)
{
	struct claim c;
	int rc = claim_read(s, lease, &c, e);
	if (rc)
		return rc;
	const char *state = claim_get(&c, "state"), *recovery = claim_get(&c, "recovery");
	long long created, ttl, idle, last = -1;
	if (!state || strcmp(state, "ready") || (recovery && *recovery))
		rc = err_set(e, EXIT_REJECTED, "%s: not a ready lease; not touched", lease);
	else if (!field_int(&c, "created_at", &created) || !field_int(&c, "ttl_secs", &ttl) ||
		 !field_int(&c, "idle_secs", &idle))
		rc = err_set(e, EXIT_REJECTED, "%s: no lifetime fields; not touched", lease);
	else if (field_int(&c, "last_touched_at", &last) && now >= last && now - last < min_interval)
		rc = EXIT_OK; /* touched recently enough: no write */
	else {
		/* expires_at = min(last_touched_at + idle, created_at + ttl), as
		 * phala-lease computes it (lease-contract.md §5). */
		long long expires = now + idle < created + ttl ? now + idle : created + ttl;
		char touched[40], expiry[40];
		snprintf(touched, sizeof touched, "last_touched_at=%lld", now);
		snprintf(expiry, sizeof expiry, "expires_at=%lld", expires);
		char *kv[] = { touched, expiry };
		/* Compare-and-swap against what was read: a claim changed or
		 * removed meanwhile (a release) wins, and nothing is created. */
		rc = claim_update(s, lease, c.revision, kv, 2, NULL, e);
	}
	claim_free(&c);
	return rc;
}
