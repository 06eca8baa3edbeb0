#include "claimfield.h"

#include <string.h>

#include "json.h"

static const struct {
	const char *key;
	enum claim_ftype type;
} field_types[] = {
	{ "lease_id", F_READONLY },	 { "revision", F_READONLY },	 { "version", F_READONLY },
	{ "slug", F_LEASE },		 { "name", F_NAME },		 { "app_id", F_APPID },
	{ "vm_uuid", F_UUID },		 { "gateway_host", F_HOST },	 { "gateway_port", F_PORT },
	{ "state", F_STATE },		 { "recovery", F_RECOVERY },	 { "keep", F_BOOL },
	{ "attested", F_BOOL },		 { "created_at", F_INT },	 { "expires_at", F_INT },
	{ "last_touched_at", F_INT },	 { "attested_at", F_INT },	 { "ttl_secs", F_INT },
	{ "idle_secs", F_INT },		 { "compose_sha256", F_SHA256 }, { "key_dir", F_PATH },
	{ "ssh_key", F_PATH },		 { "known_hosts", F_PATH },	 { "ok", F_READONLY },
	{ "attest_required", F_BOOL },
};

const char *const claim_indexed[] = { "app_id", "slug", "vm_uuid", "name", "gateway_host", NULL };

static const char *const states[] = { "creating", "provisioning", "ready", "releasing", NULL };
static const char *const recoveries[] = { "ambiguous-create", "rollback-cleanup", "kept-after-failure", NULL };

enum claim_ftype claim_field_type(const char *key)
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

bool claim_in_list(const char *s, const char *const *list)
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

bool claim_valid_uint(const char *s, size_t n, uint64_t min, uint64_t max)
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
	enum claim_ftype t = claim_field_type(key);
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
		if (!claim_valid_uint(value, n, 1, 65535))
			return bad(e, key, "expected a port number 1 to 65535");
		break;
	case F_INT:
		if (!claim_valid_uint(value, n, 0, INT_MAX_53))
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
		if (!claim_in_list(value, states))
			return bad(e, key, "expected creating, provisioning, ready or releasing");
		break;
	case F_RECOVERY:
		if (!claim_in_list(value, recoveries))
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

bool claim_valid_revision(const char *s, size_t n)
{
	return n == CLAIM_REVISION_LEN && all_in(s, n, is_lower_hex);
}

int claim_need_lease(const char *lease, struct err *e)
{
	if (claim_valid_lease(lease))
		return EXIT_OK;
	return err_set(e, EXIT_USAGE,
		       "invalid lease id '%.*s' (1 to %d of [a-z0-9_-], starting with a letter or digit)",
		       (int)(strlen(lease) > 80 ? 80 : strlen(lease)), lease, CLAIM_LEASE_MAX);
}
