#include <stdbool.h>

#include "json.h"
#include "jsonw.h"
#include "unit.h"

static bool parses(const char *s)
{
	struct json j;
	struct err e = { 0 };
	int rc = json_parse(&j, s, strlen(s), &e);
	json_free(&j);
	return rc == EXIT_OK;
}

static void accepts_valid_documents(void)
{
	CHECK(parses("{}"));
	CHECK(parses(" [ ] "));
	CHECK(parses("{\"a\":[1,-2.5e+3,true,false,null,\"x\"],\"b\":{\"c\":{}}}\n"));
	CHECK(parses("[\"\\u00e9\\ud83d\\ude00\\n\\\"\"]"));
	CHECK(parses("[0, 0.5, 1E9]"));
}

static void rejects_malformed_documents(void)
{
	const char *bad[] = { "", "   ", "{", "[1,]", "[,1]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{\"a\":1,}",
			      "{1:2}", "[tru]", "[nul]", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[\"\\x\"]",
			      "[\"\\u12\"]", "[\"\\udc00\"]", "[\"\\ud800\"]", "[\"a\nb\"]", "[\"\xff\"]",
			      "[\"\xc0\x80\"]", "{}{}", "{} x", "[1]]", "{\"a\":1 \"b\":2}", "[1,,2]",
			      "{\"a\"::1}", "{,}", "[\"a\":1]" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (parses(bad[i])) {
			printf("# accepted: %s\n", bad[i]);
			CHECK(!"malformed JSON accepted");
		}
}

static void getters_are_typed(void)
{
	const char *s = "{\"n\":4294967295,\"big\":18446744073709551616,\"neg\":-1,\"s\":\"a\\u0041\\/\","
			"\"h\":\"0xDEadbeef\",\"arr\":[{\"x\":1},2,[3]],\"k\\u0065y\":true}";
	struct json j;
	struct err e = { 0 };
	CHECK(json_parse(&j, s, strlen(s), &e) == EXIT_OK);
	uint64_t v = 0;
	CHECK(json_u64(&j, json_get(&j, 0, "n"), "n", UINT32_MAX, &v, &e) == EXIT_OK && v == 4294967295u);
	CHECK(json_u64(&j, json_get(&j, 0, "n"), "n", 100, &v, &e) == EXIT_MALFORMED);
	CHECK(json_u64(&j, json_get(&j, 0, "big"), "big", UINT64_MAX, &v, &e) == EXIT_MALFORMED);
	CHECK(json_u64(&j, json_get(&j, 0, "neg"), "neg", UINT64_MAX, &v, &e) == EXIT_MALFORMED);
	CHECK(json_u64(&j, json_get(&j, 0, "s"), "s", UINT64_MAX, &v, &e) == EXIT_MALFORMED);
	CHECK(strstr(e.msg, "expected a number, found a string") != NULL);
	struct buf b = { 0 };
	CHECK(json_string(&j, json_get(&j, 0, "s"), "s", &b, &e) == EXIT_OK && !strcmp((char *)b.data, "aA/"));
	buf_reset(&b);
	CHECK(json_hex(&j, json_get(&j, 0, "h"), "h", &b, &e) == EXIT_OK && b.len == 4 && b.data[0] == 0xde);
	CHECK(json_get(&j, 0, "key") > 0); /* escaped key matches */
	CHECK(json_get(&j, 0, "missing") == -1);
	int arr = json_get(&j, 0, "arr");
	CHECK(json_size(&j, arr) == 3);
	int n = 0;
	for (int c = json_first(&j, arr); c >= 0; c = json_next(&j, c))
		n++;
	CHECK(n == 3);
	buf_free(&b);
	json_free(&j);
}

/* An empty string is handed out as an empty C string, also into a buffer that
 * never held anything (it used to be allocated but not terminated). */
static void empty_string_is_terminated(void)
{
	const char *s = "{\"e\":\"\"}";
	struct json j;
	struct err e = { 0 };
	CHECK(json_parse(&j, s, strlen(s), &e) == EXIT_OK);
	for (int i = 0; i < 50; i++) {
		/* Heap garbage where the terminator must go: a fresh buffer reuses it. */
		char *junk = malloc(64);
		memset(junk, 'M', 64);
		free(junk);
		struct buf b = { 0 };
		CHECK(json_string(&j, json_get(&j, 0, "e"), "e", &b, &e) == EXIT_OK);
		CHECK(b.data != NULL && b.len == 0 && b.data[0] == 0);
		buf_free(&b);
	}
	struct buf r = { 0 };
	CHECK(buf_reserve(&r, 10) && r.data[0] == 0);
	buf_free(&r);
	json_free(&j);
}

/* n containers nested, "[[...[1]...]]": accepted at JSON_MAX_DEPTH, refused past it. */
static int nested(int n, struct err *e)
{
	struct buf b = { 0 };
	for (int i = 0; i < n; i++)
		buf_append_str(&b, "[");
	buf_append_str(&b, "1");
	for (int i = 0; i < n; i++)
		buf_append_str(&b, "]");
	struct json j;
	int rc = json_parse(&j, (char *)b.data, b.len, e);
	if (!rc)
		json_free(&j);
	buf_free(&b);
	return rc;
}

static void depth_is_bounded(void)
{
	struct err e = { 0 };
	CHECK(nested(JSON_MAX_DEPTH, &e) == EXIT_OK);
	CHECK(nested(JSON_MAX_DEPTH + 1, &e) == EXIT_MALFORMED);
	CHECK(!strcmp(e.msg, "JSON nested deeper than 64"));
	CHECK(nested(100000, &e) == EXIT_MALFORMED);
	/* Brackets inside strings are no nesting. */
	CHECK(parses("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"\"]"));
}

/* An array of n - 1 zeros: n tokens. */
static int tokens(int n, struct err *e)
{
	struct buf b = { 0 };
	buf_append_str(&b, "[0");
	for (int i = 2; i < n; i++)
		buf_append_str(&b, ",0");
	buf_append_str(&b, "]");
	struct json j;
	int rc = json_parse(&j, (char *)b.data, b.len, e);
	if (!rc) {
		CHECK(j.ntok == n && json_size(&j, 0) == n - 1);
		int last = -1;
		for (int t = json_first(&j, 0); t >= 0; t = json_next(&j, t))
			last = t;
		CHECK(last == n - 1);
		json_free(&j);
	}
	buf_free(&b);
	return rc;
}

static void tokens_are_bounded(void)
{
	struct err e = { 0 };
	CHECK(tokens(JSON_MAX_TOKENS, &e) == EXIT_OK);
	CHECK(tokens(JSON_MAX_TOKENS + 1, &e) == EXIT_MALFORMED);
	CHECK(!strcmp(e.msg, "JSON with more than 1048576 tokens"));
}

/* Keys and values stay distinct after the compact links: siblings, not children. */
static void siblings_follow_links(void)
{
	const char *s = "{\"a\":{\"x\":[1,[2,3],{}]},\"b\":[],\"c\":\"z\"}";
	struct json j;
	struct err e = { 0 };
	CHECK(json_parse(&j, s, strlen(s), &e) == EXIT_OK);
	int keys = 0;
	for (int k = json_first(&j, 0); k >= 0; k = json_next(&j, k))
		keys++;
	CHECK(keys == 3);
	CHECK(json_next(&j, 0) == -1);
	int x = json_path(&j, 0, "a.x");
	CHECK(x > 0 && json_type(&j, x) == JSON_ARRAY && json_size(&j, x) == 3);
	int second = json_next(&j, json_first(&j, x));
	CHECK(json_type(&j, second) == JSON_ARRAY && json_type(&j, json_next(&j, second)) == JSON_OBJECT);
	CHECK(json_next(&j, json_next(&j, second)) == -1);
	CHECK(json_next(&j, json_get(&j, 0, "b")) == -1); /* a value has no sibling */
	CHECK(json_string_is(&j, json_get(&j, 0, "c"), "z"));
	json_free(&j);
}

static void writer_round_trips(void)
{
	struct buf out = { 0 };
	struct jsonw w;
	jw_init(&w, &out);
	jw_obj(&w);
	jw_key(&w, "a");
	jw_arr(&w);
	jw_u64(&w, 1);
	jw_str(&w, "q\"\\\n\x01\xc3\xa9");
	jw_obj(&w);
	jw_end(&w);
	jw_end(&w);
	jw_key(&w, "h");
	jw_hex(&w, (const uint8_t *)"\x01\xab", 2);
	jw_key(&w, "b");
	jw_bool(&w, false);
	jw_end(&w);
	CHECK(!w.failed);
	CHECK(!strcmp((char *)out.data, "{\"a\":[1,\"q\\\"\\\\\\n\\u0001\xc3\xa9\",{}],\"h\":\"01ab\",\"b\":false}"));
	CHECK(parses((char *)out.data));
	buf_free(&out);
}

int main(void)
{
	RUN(accepts_valid_documents);
	RUN(rejects_malformed_documents);
	RUN(getters_are_typed);
	RUN(empty_string_is_terminated);
	RUN(depth_is_bounded);
	RUN(tokens_are_bounded);
	RUN(siblings_follow_links);
	RUN(writer_round_trips);
	return UNIT_DONE();
}
