#include <stdbool.h>

#include "gateway.h"
#include "json.h"
#include "tunnel.h"
#include "unit.h"

#define APP "3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b"

static bool finds(const char *s, const char *want)
{
	size_t start, n;
	if (!json_find_object(s, strlen(s), &start, &n))
		return want == NULL;
	return want && n == strlen(want) && !memcmp(s + start, want, n);
}

static void find_object_skips_progress_and_noise(void)
{
	CHECK(finds("{\"a\":1}", "{\"a\":1}"));
	CHECK(finds("Provisioning CVM x...\n{\"a\":\"}\"}\ntrailing", "{\"a\":\"}\"}"));
	CHECK(finds("progress {not json\n  {\"b\":[{}]} x", "{\"b\":[{}]}"));
	CHECK(finds("{\"s\":\"\\\"}\"}", "{\"s\":\"\\\"}\"}"));
	CHECK(finds("no object here", NULL));
	CHECK(finds("{\"open\":1", NULL));
	CHECK(finds("text {\"mid\":1}", NULL)); /* not at a line start */
	/* The first line-start '{' that balances, also inside one that does not. */
	CHECK(finds("{\n{\"in\":1}\n", "{\"in\":1}"));
	CHECK(finds("{\n{\n{\"a\":[\n]}\n{}", "{\"a\":[\n]}"));
	CHECK(finds("{\n\t{\"a\":1}\n}\n", "{\n\t{\"a\":1}\n}"));
	CHECK(finds("{\"s\":\"{\n{}", "{}")); /* a newline ends a string */
	CHECK(finds("{\n{\n{\n", NULL));
}

/* 4 MiB of "{" lines: one linear pass, not a rescan per line (that took minutes). */
static void find_object_is_linear(void)
{
	size_t n = (size_t)4 << 20;
	char *s = malloc(n + 8);
	for (size_t i = 0; i < n; i += 2)
		memcpy(s + i, "{\n", 2);
	size_t start, len;
	CHECK(!json_find_object(s, n, &start, &len));
	memcpy(s + n, "{}\n", 3);
	CHECK(json_find_object(s, n + 3, &start, &len) && start == n && len == 2);
	free(s);
}

static int from_json(const char *s, struct gateway_host *g)
{
	struct err e = { 0 };
	return gateway_from_cvm_json(s, strlen(s), g, &e);
}

static void cvm_get_shapes(void)
{
	struct gateway_host g;
	CHECK(from_json("{\"success\":true,\"app_id\":\"" APP "\",\"gateway\":{\"base_domain\":\"d.example\"}}", &g) == 0);
	CHECK(!strcmp(g.host, APP "-22.d.example") && g.port == 0);
	CHECK(from_json("{\"success\":true,\"appId\":\"app_" APP "\",\"gateway\":{\"baseDomain\":\"d.example:8443\"}}", &g) == 0);
	CHECK(!strcmp(g.host, APP "-22.d.example") && g.port == 8443);
	CHECK(from_json("{\"success\":true,\"app_id\":\"" APP "\",\"gateway_domain\":\"flat.example\"}", &g) == 0);
	CHECK(!strcmp(g.host, APP "-22.flat.example"));
	CHECK(from_json("{\"success\":false,\"error\":\"CVM not found\"}", &g) == EXIT_REMOTE);
	CHECK(from_json("{\"success\":true,\"app_id\":\"" APP "\",\"gateway\":{\"base_domain\":null}}", &g) == EXIT_REMOTE);
	CHECK(from_json("{\"success\":true,\"gateway\":{\"base_domain\":\"d.example\"}}", &g) == EXIT_REMOTE);
	CHECK(from_json("{\"success\":true,\"app_id\":\"xyz\",\"gateway\":{\"base_domain\":\"d.example\"}}", &g) == EXIT_MALFORMED);
	CHECK(from_json("{\"success\":\"yes\"}", &g) == EXIT_MALFORMED);
	CHECK(from_json("{\"success\":true,\"app_id\":\"" APP "\",\"gateway_domain\":\"d.example:99999\"}", &g) == EXIT_MALFORMED);
	CHECK(from_json("{\"success\":true,\"app_id\":\"" APP "\",\"gateway_domain\":\"bad/domain\"}", &g) == EXIT_MALFORMED);
	CHECK(from_json("[1]", &g) == EXIT_MALFORMED);
	CHECK(from_json("{\"success\":true,\"status\":\"running\",\"app_id\":\"" APP "\",\"gateway_domain\":\"d.example\"}", &g) == 0);
	CHECK(from_json("{\"success\":true,\"status\":\"starting\",\"app_id\":\"" APP "\",\"gateway_domain\":\"d.example\"}", &g) == EXIT_REMOTE);
	CHECK(from_json("{\"success\":true,\"status\":7,\"app_id\":\"" APP "\",\"gateway_domain\":\"d.example\"}", &g) == EXIT_MALFORMED);
}

static void targets(void)
{
	struct target t;
	struct err e = { 0 };
	CHECK(gateway_target("0X" "3F2A9C4D8E7B6A5F4C3D2E1F0A9B8C7D6E5F4A3B", &t, &e) == 0 && t.kind == TARGET_APP_ID &&
	      !strcmp(t.id, APP));
	CHECK(gateway_target("app_" APP ".phala", &t, &e) == 0 && t.kind == TARGET_APP_ID);
	CHECK(gateway_target("my-box.phala", &t, &e) == 0 && t.kind == TARGET_LEASE && !strcmp(t.id, "my-box"));
	CHECK(gateway_target("x-22.gw.example", &t, &e) == 0 && t.kind == TARGET_HOST);
	CHECK(gateway_target("a.b.phala", &t, &e) == EXIT_USAGE);
	CHECK(gateway_target("-x", &t, &e) == EXIT_USAGE);
	CHECK(gateway_target("a/b", &t, &e) == EXIT_USAGE);
	CHECK(gateway_target("", &t, &e) == EXIT_USAGE);
}

static void host_ports(void)
{
	char h[64];
	uint16_t p;
	CHECK(tunnel_split_hostport("127.0.0.1:443", h, sizeof h, &p) && !strcmp(h, "127.0.0.1") && p == 443);
	CHECK(tunnel_split_hostport("[::1]:8443", h, sizeof h, &p) && !strcmp(h, "::1") && p == 8443);
	CHECK(!tunnel_split_hostport("::1:443", h, sizeof h, &p));
	CHECK(!tunnel_split_hostport("host", h, sizeof h, &p));
	CHECK(!tunnel_split_hostport("host:0", h, sizeof h, &p));
	CHECK(!tunnel_split_hostport("host:65536", h, sizeof h, &p));
	CHECK(!tunnel_split_hostport(":443", h, sizeof h, &p));
}

int main(void)
{
	RUN(find_object_skips_progress_and_noise);
	RUN(find_object_is_linear);
	RUN(cvm_get_shapes);
	RUN(targets);
	RUN(host_ports);
	return UNIT_DONE();
}
