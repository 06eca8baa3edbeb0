#include <stdbool.h>
#include <unistd.h>

#include "claim.h"
#include "claimpg.h"
#include "unit.h"

#define REV "0123456789abcdef0123456789abcdef"
#define APP "944edab771280ede410e7b9e66fcaee6b2c4a12c"

static bool field_ok(const char *key, const char *value)
{
	struct buf out = { 0 };
	struct err e = { 0 };
	int rc = claim_check_field(key, value, &out, &e);
	buf_free(&out);
	return rc == EXIT_OK;
}

static void lease_ids(void)
{
	CHECK(claim_valid_lease("0a1b2c3d4e5f"));
	CHECK(claim_valid_lease("my-box_2"));
	CHECK(claim_valid_lease("a"));
	const char *bad[] = { "", "-a", "_a", "..", ".", "../x", "a/b", "A", "a.b", "a b", "a\n",
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 65 */ };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (claim_valid_lease(bad[i])) {
			printf("# accepted lease id: %s\n", bad[i]);
			CHECK(!"invalid lease id accepted");
		}
}

static void field_table(void)
{
	static const struct {
		const char *key, *value;
		bool ok;
	} cases[] = {
		{ "app_id", APP, true },
		{ "app_id", "944EDAB771280EDE410E7B9E66FCAEE6B2C4A12C", true },
		{ "app_id", "944edab771280ede410e7b9e66fcaee6b2c4a12", false },
		{ "app_id", "0x944edab771280ede410e7b9e66fcaee6b2c4a1", false },
		{ "app_id", "944edab771280ede410e7b9e66fcaee6b2c4a12g", false },
		{ "vm_uuid", "4b0e8a52-7c1d-4e9f-9a3b-2d6c5e8f1a07", true },
		{ "vm_uuid", "4b0e8a52/7c1d", false },
		{ "gateway_host", "abc-22.dstack-prod5.phala.network", true },
		{ "gateway_host", "abc-22.dstack.example:443", false },
		{ "gateway_host", ".example", false },
		{ "gateway_host", "a..b", false },
		{ "gateway_host", "-a.b", false },
		{ "gateway_port", "443", true },
		{ "gateway_port", "0", false },
		{ "gateway_port", "65536", false },
		{ "created_at", "0", true },
		{ "created_at", "1764000000", true },
		{ "created_at", "9007199254740992", true },
		{ "created_at", "9007199254740993", false },
		{ "created_at", "01", false },
		{ "created_at", "-1", false },
		{ "created_at", "1e9", false },
		{ "ttl_secs", "", false },
		{ "keep", "true", true },
		{ "keep", "TRUE", false },
		{ "attested", "1", false },
		{ "state", "releasing", true },
		{ "state", "running", false },
		{ "recovery", "kept-after-failure", true },
		{ "recovery", "other", false },
		{ "name", "lease-0a1b2c3d4e5f", true },
		{ "name", "0lease", false },
		{ "name", "abcd", false },
		{ "slug", "my-box", true },
		{ "slug", "../x", false },
		{ "compose_sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", true },
		{ "compose_sha256", "e3b0c442", false },
		{ "known_hosts", "/home/u/.local/state/phala-lease/leases/x/known_hosts", true },
		{ "known_hosts", "relative", false },
		{ "owner", "Jo Doe \xc3\xa9", true },
		{ "owner", "bad\xff", false },
		{ "owner", "tab\there", false },
		{ "owner", "del\x7f", false },
		{ "lease_id", "x", false },
		{ "revision", REV, false },
		{ "version", "1", false },
		{ "Bad", "x", false },
		{ "1abc", "x", false },
		{ "a-b", "x", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		if (field_ok(cases[i].key, cases[i].value) != cases[i].ok) {
			printf("# %s=%s: expected %s\n", cases[i].key, cases[i].value, cases[i].ok ? "ok" : "refused");
			CHECK(!"field check");
		}
	char big[CLAIM_VALUE_MAX + 2];
	memset(big, 'x', sizeof big);
	big[CLAIM_VALUE_MAX] = 0;
	CHECK(field_ok("note", big));
	big[CLAIM_VALUE_MAX] = 'x';
	big[CLAIM_VALUE_MAX + 1] = 0;
	CHECK(!field_ok("note", big));
	/* stored form: lower case */
	struct buf out = { 0 };
	struct err e = { 0 };
	CHECK(claim_check_field("gateway_host", "ABC.Example", &out, &e) == EXIT_OK && !strcmp((char *)out.data, "abc.example"));
	buf_free(&out);
}

static int parse(const char *s, struct claim *c)
{
	struct err e = { 0 };
	int rc = claim_parse(c, s, strlen(s), &e);
	if (rc)
		printf("# %s -> %s\n", s, e.msg);
	return rc;
}

static void parse_and_serialise(void)
{
	const char *text = "{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"app_id\":\"" APP
			   "\",\"created_at\":5,\"keep\":true,\"note\":\"a\\\"b\\u00e9\"}";
	struct claim c;
	CHECK(parse(text, &c) == EXIT_OK);
	CHECK(!strcmp(claim_get(&c, "lease_id"), "l1"));
	CHECK(!strcmp(claim_get(&c, "revision"), REV));
	CHECK(!strcmp(claim_get(&c, "created_at"), "5"));
	CHECK(!strcmp(claim_get(&c, "keep"), "true"));
	CHECK(!strcmp(claim_get(&c, "note"), "a\"b\xc3\xa9"));
	CHECK(claim_get(&c, "slug") == NULL);
	struct buf out = { 0 };
	CHECK(claim_serialise(&c, &out));
	CHECK(!strcmp((char *)out.data, "{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"app_id\":\"" APP
					 "\",\"created_at\":5,\"keep\":true,\"note\":\"a\\\"b\xc3\xa9\"}"));
	struct claim d;
	CHECK(parse((char *)out.data, &d) == EXIT_OK && d.nfields == c.nfields);
	claim_free(&d);
	/* set, replace, remove keep the fields sorted and unique */
	struct err e = { 0 };
	CHECK(claim_set(&c, "aaa", "first", &e) == EXIT_OK && !strcmp(c.field[0].key, "aaa"));
	CHECK(claim_set(&c, "keep", "false", &e) == EXIT_OK && !strcmp(claim_get(&c, "keep"), "false"));
	CHECK(claim_set(&c, "note", "", &e) == EXIT_OK && claim_get(&c, "note") == NULL);
	CHECK(claim_set(&c, "revision", "", &e) == EXIT_USAGE);
	CHECK(claim_set(&c, "keep", "maybe", &e) == EXIT_USAGE && !strcmp(e.msg, "keep: expected true or false"));
	CHECK(c.nfields == 4);
	claim_free(&c);
	buf_free(&out);
}

static void parse_rejects(void)
{
	const char *bad[] = {
		"",
		"[]",
		"{}",
		"{\"version\":1,\"lease_id\":\"l1\"}",
		"{\"version\":2,\"lease_id\":\"l1\",\"revision\":\"" REV "\"}",
		"{\"version\":\"1\",\"lease_id\":\"l1\",\"revision\":\"" REV "\"}",
		"{\"lease_id\":\"l1\",\"revision\":\"" REV "\"}",
		"{\"version\":1,\"lease_id\":\"../x\",\"revision\":\"" REV "\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"abc\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"0123456789ABCDEF0123456789abcdef\"}",
		"{\"version\":1,\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"lease_id\":\"l2\",\"revision\":\"" REV "\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"keep\":true,\"keep\":true}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"keep\":\"true\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"created_at\":\"5\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"created_at\":5.5}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"created_at\":-5}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"app_id\":\"" "944EDAB771280EDE410E7B9E66FCAEE6B2C4A12C" "\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"note\":\"a\\u0000b\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"note\":\"a\\nb\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"note\":\"\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"note\":{}}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\",\"Bad\":\"x\"}",
		"{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\"} x",
		"{\"\":\"x\",\"version\":1,\"lease_id\":\"l1\",\"revision\":\"" REV "\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct claim c;
		struct err e = { 0 };
		if (claim_parse(&c, bad[i], strlen(bad[i]), &e) != EXIT_MALFORMED) {
			printf("# accepted: %s\n", bad[i]);
			CHECK(!"corrupt claim accepted");
		}
	}
}

/* The store is chosen by PHALA_CLAIMS_URL, else the user config's
 * claims_url; an empty value and other keys choose nothing. */
static void store_choice(void)
{
	char dir[] = "/tmp/test_claim.XXXXXX", file[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof file, "%s/config", dir);
	char *url = NULL;
	struct err e = { 0 };
	unsetenv("PHALA_CLAIMS_URL");
	setenv("PHALA_LEASE_CONFIG", file, 1);
	CHECK(claimpg_configured(&url, &e) == EXIT_OK && url == NULL); /* no file */
	FILE *f = fopen(file, "w");
	fputs("# fleet\nttl = 2h\n  claims_url\t=  postgresql://ci@db.example/fleet?sslmode=verify-full  \n"
	      "claims_url_x = other\n", f);
	fclose(f);
	CHECK(claimpg_configured(&url, &e) == EXIT_OK && url && !strcmp(url, "postgresql://ci@db.example/fleet?sslmode=verify-full"));
	free(url);
	setenv("PHALA_CLAIMS_URL", "host=a dbname=b", 1);
	CHECK(claimpg_configured(&url, &e) == EXIT_OK && url && !strcmp(url, "host=a dbname=b"));
	free(url);
	unsetenv("PHALA_CLAIMS_URL");
	f = fopen(file, "w");
	fputs("claims_url = postgresql://x/y\n#claims_url = z\nclaims_url =\n", f); /* the last one wins */
	fclose(f);
	CHECK(claimpg_configured(&url, &e) == EXIT_OK && url == NULL);
	f = fopen(file, "w");
	fputs("claims_urlx = postgresql://x/y\n", f);
	fclose(f);
	CHECK(claimpg_configured(&url, &e) == EXIT_OK && url == NULL);
	unlink(file);
	rmdir(dir);
	unsetenv("PHALA_LEASE_CONFIG");
}

int main(void)
{
	RUN(lease_ids);
	RUN(field_table);
	RUN(parse_and_serialise);
	RUN(parse_rejects);
	RUN(store_choice);
	return UNIT_DONE();
}
