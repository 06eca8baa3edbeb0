/* Fuzz target: what the tools parse from their command line, environment
 * and configuration before any input is read - phala-proxy's TARGET
 * (gateway_target), --connect HOST:PORT (tunnel_split_hostport) and ports,
 * the gateway host built from a CLI's domain (gateway_host_for), phala-claim's
 * lease ids, keys and KEY=VALUE fields, tdx-dcap-verify's --accept list and
 * --now, tdx-measure's image URL template (variable or config file), cache
 * directory and kernel command line, image names. Where a rule is simple
 * enough to restate, the answer is compared with the restatement.
 *
 * Input: SELECTOR TEXT (TEXT up to its first NUL: these are C strings). */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "dcap.h"
#include "fuzz.h"
#include "gateway.h"
#include "imagecache.h"
#include "imageid.h"
#include "kernel.h"
#include "timefmt.h"
#include "tunnel.h"

#define APP "0123456789abcdef0123456789abcdef01234567"

static char conf_path[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s/phala-tools", fuzz_tmpdir());
	if (mkdir(d, 0700))
		abort();
	snprintf(conf_path, sizeof conf_path, "%s/tdx-measure.conf", d);
	setenv("XDG_CONFIG_HOME", fuzz_tmpdir(), 1);
	unsetenv(IMAGE_URL_ENV);
	unsetenv(IMAGE_CACHE_ENV);
	return 0;
}

static void expect(bool ok)
{
	if (!ok)
		abort();
}

static bool terminated(const char *s, size_t cap)
{
	return strnlen(s, cap) < cap;
}

/* phala-claim's lease ids, restated: 1..64 of [a-z0-9_-], first [a-z0-9]. */
static bool lease_rule(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > CLAIM_LEASE_MAX || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* Field names, restated: 1..64 of [a-z0-9_], first a letter. */
static bool key_rule(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > CLAIM_KEY_MAX || !islower((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static void one(unsigned sel, char *s, size_t n)
{
	struct err e = { 0 };
	int rc = EXIT_OK;
	switch (sel % 12) {
	case 0: {
		uint16_t port = 0;
		if (tunnel_parse_port(s, n, &port)) {
			char *end;
			unsigned long v = strtoul(s, &end, 10);
			expect(n <= 5 && *end == 0 && v == port && port > 0 && isdigit((unsigned char)s[0]));
		}
		break;
	}
	case 1: {
		char host[256];
		uint16_t port = 0;
		if (tunnel_split_hostport(s, host, sizeof host, &port))
			expect(host[0] && terminated(host, sizeof host) && port > 0 && (s[0] == '[' || !strchr(host, ':')));
		break;
	}
	case 2: {
		struct target t;
		if (!(rc = gateway_target(s, &t, &e))) {
			expect(terminated(t.id, sizeof t.id) && t.id[0]);
			if (t.kind == TARGET_APP_ID)
				expect(strlen(t.id) == APP_ID_HEX && strspn(t.id, "0123456789abcdef") == APP_ID_HEX);
		}
		break;
	}
	case 3: {
		struct gateway_host g;
		if (!(rc = gateway_host_for(APP, s, &g, &e)))
			expect(terminated(g.host, sizeof g.host) && !strncmp(g.host, APP "-22.", APP_ID_HEX + 4));
		break;
	}
	case 4:
		expect(claim_valid_lease(s) == lease_rule(s));
		break;
	case 5:
		expect(claim_valid_key(s) == key_rule(s));
		break;
	case 6: { /* KEY=VALUE as phala-claim takes it */
		char *eq = strchr(s, '=');
		struct buf out = { 0 };
		if (eq) {
			*eq = 0;
			rc = claim_check_field(s, eq + 1, &out, &e);
			expect(rc == EXIT_OK || rc == EXIT_USAGE);
			if (!rc)
				expect(key_rule(s) && out.len == strlen(eq + 1));
		}
		buf_free(&out);
		break;
	}
	case 7: {
		unsigned mask;
		char bad[32];
		if (dcap_accept_parse(s, &mask, bad, sizeof bad))
			expect(mask && !(mask & (1u << TCB_REVOKED)));
		else
			expect(terminated(bad, sizeof bad));
		break;
	}
	case 8: {
		time_t t;
		if (time_arg_parse(s, &t) && t >= 0 && t < 253402300800) { /* years 1970..9999 */
			char out[21];
			time_t back;
			rfc3339_format(t, out);
			expect(rfc3339_parse(out, strlen(out), &back) && back == t);
		}
		break;
	}
	case 9: { /* the image URL template: from the variable, else the config file */
		char tmpl[4096], from[4096];
		bool var = n && s[0] == 'h';
		if (var)
			setenv(IMAGE_URL_ENV, s, 1);
		else
			fuzz_put(conf_path, s, n);
		rc = imagecache_url_template(tmpl, sizeof tmpl, from, sizeof from, &e);
		if (!rc)
			expect(terminated(tmpl, sizeof tmpl) && strstr(tmpl, "{OS_IMAGE_HASH}") &&
			       (!strncmp(tmpl, "https://", 8) || !strncmp(tmpl, "http://", 7)));
		unsetenv(IMAGE_URL_ENV);
		unlink(conf_path);
		break;
	}
	case 10: {
		char out[4096];
		rc = imagecache_dir(s, out, sizeof out, &e);
		if (!rc)
			expect(terminated(out, sizeof out));
		rc = kernel_check_cmdline(s, &e);
		break;
	}
	default:
		if (image_name_ok(s, n))
			expect(strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/') && s[0] != '-');
	}
	if (rc)
		fuzz_check_message(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size || size > 8192)
		return 0;
	char *s = malloc(size);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	one(data[0], s, strlen(s));
	free(s);
	return 0;
}
