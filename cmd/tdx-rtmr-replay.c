/* tdx-rtmr-replay: replay RTMR0..3 from a dstack event log, compare them with
 * every register source present, and check the named RTMR3 events. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "evidence.h"
#include "fileio.h"
#include "json.h"
#include "jsonw.h"
#include "quote.h"
#include "tool.h"

static const char usage[] =
	"usage: tdx-rtmr-replay [options] [FILE|-]\n"
	"      --quote FILE    also compare with this quote (raw or hex, v4/v5; - for stdin)\n"
	"      --app-id ID     require the app-id event to equal ID (40 hex, optional 0x/app_)\n"
	"      --compose FILE  require app_compose to hash to compose_hash and the compose-hash\n"
	"                      event, and its docker_compose_file to equal FILE byte for byte\n"
	"      --report-data HEX  require the quote's REPORTDATA to equal these 64 bytes\n"
	"      --event NAME    print only that named RTMR3 event's payload\n"
	"      --registers LIST  replay-check only these registers (e.g. 3 or 0,1,2,3); default:\n"
	"                      every register the input's log can prove\n"
	"      --json          one JSON object on standard output\n"
	"  -h, --help          this text\n"
	"      --version       the suite's version\n"
	"Input (auto-detected, standard input when no FILE): guest-agent Info JSON, tcb_info\n"
	"object, GetQuote response, {\"attestation\":hex}, RA-TLS certificate, or an event-log\n"
	"array. Exit: 0 every check the input allows passed, 1 a check failed, 2 usage,\n"
	"3 malformed input, 4 I/O error.\n";

/* Named RTMR3 events reported (dstack system_setup order). */
static const char *const named_events[] = { "system-preparing", "app-id", "compose-hash", "init-script-hash",
					    "instance-id", "boot-mr-done", "mr-kms", "os-image-hash",
					    "key-provider", "storage-fs", "gpu-policy-hash", "gpu-attestation" };
#define NAMED_COUNT (sizeof named_events / sizeof *named_events)

static bool is_text_event(const char *name)
{
	return !strcmp(name, "key-provider") || !strcmp(name, "storage-fs") || !strcmp(name, "gpu-attestation");
}

struct options {
	const char *input, *quote, *compose, *event;
	bool json, has_app_id, has_report_data;
	uint8_t report_data[64];
	unsigned registers; /* bit i: check RTMRi; 0 = as the input allows */
	uint8_t app_id[20];
};

/* Accepts 40 hex digits with an optional app_ or 0x prefix, any case. */
static bool parse_app_id(const char *s, uint8_t out[20])
{
	if (!strncmp(s, "app_", 4))
		s += 4;
	return hex_decode_exact(s, strlen(s), out, 20);
}

/* "0,1,2,3" (or "rtmr3") to a bit mask. */
static bool parse_registers(const char *s, unsigned *mask)
{
	*mask = 0;
	while (*s) {
		if (!strncmp(s, "rtmr", 4))
			s += 4;
		if (*s < '0' || *s > '3')
			return false;
		*mask |= 1u << (*s++ - '0');
		if (*s == ',')
			s++;
		else if (*s)
			return false;
	}
	return *mask != 0;
}

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quote", required_argument, NULL, 'q' }, { "app-id", required_argument, NULL, 'a' },
		{ "compose", required_argument, NULL, 'c' }, { "event", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },        { "help", no_argument, NULL, 'h' },
		{ "registers", required_argument, NULL, 'r' }, { "report-data", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	int c;
	while ((c = tool_getopt(argc, argv, "h", longopts, usage)) != -1) {
		switch (c) {
		case 'q': o->quote = optarg; break;
		case 'c': o->compose = optarg; break;
		case 'e': o->event = optarg; break;
		case 'j': o->json = true; break;
		case 'r':
			if (!parse_registers(optarg, &o->registers))
				tool_usage_error(usage, "--registers: '%s' is not a list of 0..3", optarg);
			break;
		case 'd':
			if (!hex_decode_exact(optarg, strlen(optarg), o->report_data, 64))
				tool_usage_error(usage, "--report-data: '%s' is not 128 hex digits", optarg);
			o->has_report_data = true;
			break;
		case 'a':
			if (!parse_app_id(optarg, o->app_id))
				tool_usage_error(usage, "--app-id: '%s' is not 40 hex digits", optarg);
			o->has_app_id = true;
			break;
		default: break; /* tool_getopt answered the rest */
		}
	}
	if (argc - optind > 1)
		tool_usage_error(usage, "at most one input file");
	o->input = optind < argc ? argv[optind] : "-";
	if (o->quote && !strcmp(o->quote, "-") && !strcmp(o->input, "-"))
		tool_usage_error(usage, "--quote - and the input cannot both be standard input");
	if (o->event && o->json)
		tool_usage_error(usage, "--event and --json do not combine");
}

/* A register source: a parsed quote with a name for messages. */
struct source {
	const char *name;
	struct buf raw;
	struct tdx_quote q;
};

/* A register's outcome. Only a comparison with a quote is "verified"; the
 * registers in tcb_info are an unsigned copy in the same JSON as the log. */
enum rtmr_status { RTMR_NOT_REPLAYABLE, RTMR_REPLAYED, RTMR_MATCHES_TCB_INFO, RTMR_VERIFIED, RTMR_MISMATCH };
static const char *const rtmr_status_json[] = { "not-replayable", "replayed", "matches-tcb-info", "verified",
						"mismatch" };

#define FAILED_MAX 16

/* The outcome of every check, printed in the report and decisive for the exit. */
struct report {
	struct replay replay;
	enum rtmr_status rtmr_status[4];
	bool rtmr_tcb_info[4];    /* also compared with tcb_info (and equal, unless a mismatch) */
	char rtmr_sources[4][64]; /* every source compared, or why none */
	char rtmr_quotes[4][64];  /* the quote sources compared */
	bool used_quote;          /* a quote's registers or REPORTDATA decided a check */
	struct buf failures;      /* one "tool: message\n" line per failed check */
	struct buf checks;        /* "name: ok (detail)" lines for checks that passed */
	int nfail;
	const char *failed[FAILED_MAX]; /* the names of the failed checks, first seen first */
	char first_failure[1024];
};

/* A failed check: name (rtmr0..3, mrtd, app-id, compose-hash, compose,
 * mr_aggregated, report-data) and message. */
static void fail(struct report *r, const char *check, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct report *r, const char *check, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	buf_printf(&r->failures, "%s: %s\n", tool_name, msg);
	if (!r->nfail)
		snprintf(r->first_failure, sizeof r->first_failure, "%s", msg);
	r->nfail++;
	int n = 0;
	while (n < FAILED_MAX && r->failed[n] && strcmp(r->failed[n], check))
		n++;
	if (n < FAILED_MAX && !r->failed[n])
		r->failed[n] = check;
}

/* What vouches for the event log: RTMR3, into which its runtime events are
 * extended (for the checks that read named events). */
static const char *log_bound_by(const struct report *r)
{
	switch (r->rtmr_status[3]) {
	case RTMR_VERIFIED: return "the event log, whose rtmr3 is verified against the quote";
	case RTMR_MATCHES_TCB_INFO: return "the event log, whose rtmr3 only matches tcb_info (unsigned)";
	case RTMR_MISMATCH: return "the event log, whose rtmr3 does not match";
	default: return "the event log, whose rtmr3 was compared with nothing";
	}
}

static void passed(struct report *r, const char *name, const char *detail)
{
	buf_printf(&r->checks, "%s: ok%s%s\n", name, detail[0] ? " - " : "", detail);
}

static void load_quote(struct source *s, const char *name, const uint8_t *p, size_t n)
{
	struct err e = { 0 };
	s->name = name;
	if (quote_input_decode(p, n, &s->raw, &e) || quote_parse(&s->q, s->raw.data, s->raw.len, &e)) {
		err_wrap(&e, "%s", name);
		tool_fail(&e);
	}
}

static void compare_registers(const struct options *o, const struct evidence *ev, struct source *src, int nsrc,
			      struct report *r)
{
	static const char *const names[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	for (int i = 0; i < 4; i++) {
		char got[97];
		hex_encode(r->replay.rtmr[i], 48, got);
		if (!(ev->replayable & (1u << i))) {
			r->rtmr_status[i] = RTMR_NOT_REPLAYABLE;
			snprintf(r->rtmr_sources[i], sizeof r->rtmr_sources[i], "%s",
				 o->registers && !(o->registers & (1u << i)) ? "not selected by --registers"
									  : "the log does not cover it");
			continue;
		}
		int bad = 0;
		struct buf all = { 0 }, quotes = { 0 };
		if (ev->has_tcb_regs) {
			r->rtmr_tcb_info[i] = true;
			buf_append_str(&all, "tcb_info");
			if (memcmp(ev->tcb_rtmr[i], r->replay.rtmr[i], 48)) {
				char want[97];
				hex_encode(ev->tcb_rtmr[i], 48, want);
				fail(r, names[i], "rtmr%d differs: replayed %s, tcb_info has %s", i, got, want);
				bad++;
			}
		}
		for (int s = 0; s < nsrc; s++) {
			buf_printf(&all, "%s%s", all.len ? "," : "", src[s].name);
			buf_printf(&quotes, "%s%s", quotes.len ? "," : "", src[s].name);
			r->used_quote = true;
			if (memcmp(src[s].q.td.rtmr[i], r->replay.rtmr[i], 48)) {
				char want[97];
				hex_encode(src[s].q.td.rtmr[i], 48, want);
				fail(r, names[i], "rtmr%d differs: replayed %s, %s has %s", i, got, src[s].name, want);
				bad++;
			}
		}
		r->rtmr_status[i] = bad ? RTMR_MISMATCH : nsrc ? RTMR_VERIFIED : ev->has_tcb_regs ? RTMR_MATCHES_TCB_INFO
											: RTMR_REPLAYED;
		snprintf(r->rtmr_sources[i], sizeof r->rtmr_sources[i], "%s",
			 all.len ? (char *)all.data : "no register source");
		snprintf(r->rtmr_quotes[i], sizeof r->rtmr_quotes[i], "%s", quotes.len ? (char *)quotes.data : "");
		buf_free(&all);
		buf_free(&quotes);
	}
	/* MRTD cannot be replayed; the sources must agree on it. */
	const uint8_t *mrtd = ev->has_tcb_mrtd ? ev->tcb_mrtd : nsrc ? src[0].q.td.mr_td : NULL;
	const char *mrtd_from = ev->has_tcb_mrtd ? "tcb_info" : nsrc ? src[0].name : NULL;
	for (int s = 0; mrtd && s < nsrc; s++)
		if (memcmp(mrtd, src[s].q.td.mr_td, 48)) {
			char a[97], b[97];
			hex_encode(mrtd, 48, a);
			hex_encode(src[s].q.td.mr_td, 48, b);
			fail(r, "mrtd", "mrtd differs: %s has %s, %s has %s", mrtd_from, a, src[s].name, b);
		}
}

static void check_app_id(const struct options *o, const struct evidence *ev, struct report *r)
{
	if (!o->has_app_id)
		return;
	const struct tdx_event *app = eventlog_named(&ev->log, "app-id");
	char want[41];
	hex_encode(o->app_id, 20, want);
	if (!app)
		fail(r, "app-id", "app-id: no app-id event before system-ready (expected %s)", want);
	else if (app->payload.len != 20 || memcmp(app->payload.data, o->app_id, 20)) {
		struct buf got = { 0 };
		buf_append_hex(&got, app->payload.data, app->payload.len);
		fail(r, "app-id", "app-id differs: event has %s, expected %s", (char *)got.data, want);
		buf_free(&got);
	} else {
		char detail[256];
		snprintf(detail, sizeof detail, "%s (in %s)", want, log_bound_by(r));
		passed(r, "app-id", detail);
	}
}

/* SHA-256(app_compose) must equal compose_hash, the compose-hash event and
 * (v1) MRCONFIGID[1:33]; with --compose, docker_compose_file must equal FILE. */
static void check_compose(const struct options *o, const struct evidence *ev, const struct source *quote,
			  struct report *r)
{
	const struct tdx_event *event = eventlog_named(&ev->log, "compose-hash");
	if (!ev->has_app_compose) {
		if (o->compose)
			fail(r, "compose", "compose: cannot check %s: the %s input carries no app_compose", o->compose,
			     evidence_kind_name(ev->kind));
		return;
	}
	uint8_t h[32];
	char hex[65];
	struct err e = { 0 };
	if (sha256_spans(h, SPANS({ ev->app_compose.data, ev->app_compose.len }))) {
		err_set(&e, EXIT_SYSTEM, "SHA-256 failed");
		tool_fail(&e);
	}
	hex_encode(h, 32, hex);
	int before = r->nfail;
	if (ev->has_compose_hash && memcmp(h, ev->compose_hash, 32))
		fail(r, "compose-hash", "compose_hash differs from SHA-256 of app_compose (%s)", hex);
	if (!event)
		fail(r, "compose-hash", "compose: no compose-hash event before system-ready");
	else if (event->payload.len != 32 || memcmp(event->payload.data, h, 32))
		fail(r, "compose-hash", "compose-hash event differs from SHA-256 of app_compose (%s)", hex);
	if (quote && quote->q.td.mr_config_id[0] == 1 && memcmp(quote->q.td.mr_config_id + 1, h, 32))
		fail(r, "compose-hash", "MRCONFIGID (v1) of %s does not carry the compose hash %s", quote->name, hex);
	if (r->nfail == before) {
		char detail[256];
		snprintf(detail, sizeof detail, "%s (in %s)", hex, log_bound_by(r));
		passed(r, "compose-hash", detail);
	}
	if (!o->compose)
		return;
	struct buf want = { 0 }, got = { 0 };
	struct json j;
	if (file_read_all(o->compose, INPUT_MAX, &want, &e))
		tool_fail(&e);
	int t;
	if (json_parse(&j, (const char *)ev->app_compose.data, ev->app_compose.len, &e)) {
		fail(r, "compose", "compose: app_compose is not valid JSON");
	} else {
		if ((t = json_get(&j, 0, "docker_compose_file")) < 0 ||
		    json_string(&j, t, "docker_compose_file", &got, &e))
			fail(r, "compose", "compose: app_compose has no docker_compose_file string");
		else if (got.len != want.len || memcmp(got.data, want.data, want.len))
			fail(r, "compose", "compose: app_compose.docker_compose_file (%zu bytes) differs from %s (%zu bytes)",
			     got.len, o->compose, want.len);
		else
			passed(r, "compose", o->compose);
		json_free(&j);
	}
	buf_free(&want);
	buf_free(&got);
}

/* mr_aggregated = SHA-256(MRTD || RTMR0..3 [|| MRCONFIGID || MROWNER || MROWNERCONFIG]). */
static void check_mr_aggregated(const struct evidence *ev, const struct source *quote, struct report *r)
{
	if (!ev->has_mr_aggregated || ev->replayable != 0xf)
		return;
	if (!quote) {
		buf_printf(&r->checks, "mr_aggregated: not checked (needs a quote for MRCONFIGID)\n");
		return;
	}
	r->used_quote = true;
	const struct td_report *td = &quote->q.td;
	bool extended = !all_zero(td->mr_config_id, 48) || !all_zero(td->mr_owner, 48) ||
			!all_zero(td->mr_owner_config, 48);
	const uint8_t(*rt)[48] = r->replay.rtmr;
	uint8_t h[32];
	int rc = sha256_spans(h, SPANS({ td->mr_td, 48 }, { rt[0], 48 }, { rt[1], 48 }, { rt[2], 48 }, { rt[3], 48 },
				       { td->mr_config_id, extended ? 48u : 0u }, { td->mr_owner, extended ? 48u : 0u },
				       { td->mr_owner_config, extended ? 48u : 0u }));
	char hex[65];
	hex_encode(h, 32, hex);
	if (rc || memcmp(h, ev->mr_aggregated, 32))
		fail(r, "mr_aggregated", "mr_aggregated differs: computed %s", hex);
	else
		passed(r, "mr_aggregated", hex);
}

static void print_event_value(struct buf *out, const struct tdx_event *ev, const char *name)
{
	if (is_text_event(name))
		buf_append(out, ev->payload.data, ev->payload.len);
	else
		buf_append_hex(out, ev->payload.data, ev->payload.len);
}

/* The quote's own signature is tdx-dcap-verify's: said wherever a quote decided a check. */
static const char quote_note[] =
	"the quote's fields are used as read, its signature is not checked here: the quote is trusted only after tdx-dcap-verify";

static void write_human(const struct evidence *ev, const struct report *r, struct buf *out)
{
	buf_printf(out, "source: %s, %zu events\n", evidence_kind_name(ev->kind), ev->log.n);
	for (int i = 0; i < 4; i++) {
		char hex[97] = "-";
		if (ev->replayable & (1u << i))
			hex_encode(r->replay.rtmr[i], 48, hex);
		switch (r->rtmr_status[i]) {
		case RTMR_VERIFIED:
			buf_printf(out, "rtmr%d=%s verified (%s)%s\n", i, hex, r->rtmr_quotes[i],
				   r->rtmr_tcb_info[i] ? ", matches tcb_info (unsigned)" : "");
			break;
		case RTMR_MATCHES_TCB_INFO: buf_printf(out, "rtmr%d=%s matches tcb_info (unsigned)\n", i, hex); break;
		default:
			buf_printf(out, "rtmr%d=%s %s (%s)\n", i, hex, rtmr_status_json[r->rtmr_status[i]],
				   r->rtmr_sources[i]);
		}
	}
	for (size_t k = 0; k < NAMED_COUNT; k++) {
		const struct tdx_event *e = eventlog_named(&ev->log, named_events[k]);
		if (!e)
			continue;
		buf_printf(out, "%s=", named_events[k]);
		print_event_value(out, e, named_events[k]);
		buf_append_str(out, "\n");
	}
	buf_append(out, r->checks.data, r->checks.len);
	if (r->used_quote)
		buf_printf(out, "note: %s\n", quote_note);
}

static void write_json(const struct evidence *ev, const struct report *r, struct buf *out)
{
	static const char *names[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	struct jsonw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "source");
	jw_str(&w, evidence_kind_name(ev->kind));
	jw_key(&w, "events");
	jw_u64(&w, ev->log.n);
	for (int i = 0; i < 4; i++) {
		jw_key(&w, names[i]);
		jw_obj(&w);
		jw_key(&w, "value");
		if (ev->replayable & (1u << i))
			jw_hex(&w, r->replay.rtmr[i], 48);
		else
			jw_null(&w);
		jw_key(&w, "status");
		jw_str(&w, rtmr_status_json[r->rtmr_status[i]]);
		jw_key(&w, "compared_with");
		jw_str(&w, r->rtmr_sources[i]);
		jw_end(&w);
	}
	jw_key(&w, "named_events");
	jw_obj(&w);
	for (size_t k = 0; k < NAMED_COUNT; k++) {
		const struct tdx_event *e = eventlog_named(&ev->log, named_events[k]);
		if (!e)
			continue;
		struct buf v = { 0 };
		print_event_value(&v, e, named_events[k]);
		jw_key(&w, named_events[k]);
		jw_strn(&w, v.data ? (const char *)v.data : "", v.len);
		buf_free(&v);
	}
	jw_end(&w);
	jw_key(&w, "checks");
	jw_strn(&w, r->checks.data ? (const char *)r->checks.data : "", r->checks.len);
	jw_key(&w, "failures");
	jw_strn(&w, r->failures.data ? (const char *)r->failures.data : "", r->failures.len);
	jw_key(&w, "quote_signature_checked");
	jw_bool(&w, false); /* never here: tdx-dcap-verify's */
	jw_key(&w, "ok");
	jw_bool(&w, r->nfail == 0);
	if (r->nfail) {
		jw_key(&w, "failed_checks");
		jw_arr(&w);
		for (int i = 0; i < FAILED_MAX && r->failed[i]; i++)
			jw_str(&w, r->failed[i]);
		jw_end(&w);
		tool_json_failure_members(&w, r->failed[0], EXIT_REJECTED, r->first_failure);
	}
	jw_end(&w);
	buf_append_str(out, "\n");
}

/* --report-data: the quote's REPORTDATA is the binding the caller expects
 * (a nonce and channel key hash); without a quote there is nothing to bind. */
static void check_report_data(const struct options *o, const struct source *quote, struct report *r)
{
	char got[129], want[129];
	if (!o->has_report_data)
		return;
	hex_encode(o->report_data, 64, want);
	if (!quote) {
		fail(r, "report-data", "report-data: no quote to compare with (expected %s)", want);
		return;
	}
	hex_encode(quote->q.td.report_data, 64, got);
	if (!ct_equal(quote->q.td.report_data, o->report_data, 64))
		fail(r, "report-data", "report-data: %s REPORTDATA %s is not the expected %s", quote->name, got, want);
	else
		buf_printf(&r->checks, "report-data: ok - %s (the REPORTDATA of %s)\n", got, quote->name);
	r->used_quote = true;
}

int main(int argc, char **argv)
{
	tool_name = "tdx-rtmr-replay";
	struct options o = { 0 };
	parse_options(&o, argc, argv);
	if (o.json)
		tool_json_mode(true);

	struct buf in = { 0 }, qin = { 0 }, out = { 0 };
	struct err e = { 0 };
	struct evidence ev;
	tool_step("input");
	tool_read_input(o.input, &in);
	tool_step("evidence");
	if (evidence_load(&ev, in.data, in.len, &e))
		tool_fail(&e);
	if (!ev.has_log) {
		err_set(&e, EXIT_MALFORMED, "the %s input carries no event log", evidence_kind_name(ev.kind));
		tool_fail(&e);
	}

	tool_step("quote");
	struct source src[2];
	int nsrc = 0;
	memset(src, 0, sizeof src);
	if (ev.has_quote)
		load_quote(&src[nsrc++], "quote", ev.quote.data, ev.quote.len);
	if (o.quote) {
		tool_read_input(o.quote, &qin);
		load_quote(&src[nsrc++], "--quote", qin.data, qin.len);
	}
	struct source static_src = { 0 };
	const struct source *static_quote = nsrc ? &src[nsrc - 1] : NULL;
	if (!static_quote && ev.has_static_quote) {
		load_quote(&static_src, "app_cert quote", ev.static_quote.data, ev.static_quote.len);
		static_quote = &static_src;
	}

	struct report r;
	memset(&r, 0, sizeof r);
	tool_step("replay");
	if (eventlog_replay(&ev.log, &r.replay, &e))
		tool_fail(&e);
	if (o.registers)
		ev.replayable &= o.registers;

	if (o.event) {
		const struct tdx_event *named = eventlog_named(&ev.log, o.event);
		if (!named) {
			err_set(&e, EXIT_REJECTED, "no event named \"%s\" before system-ready", o.event);
			tool_fail(&e);
		}
		print_event_value(&out, named, o.event);
		buf_append_str(&out, "\n");
	}
	compare_registers(&o, &ev, src, nsrc, &r);
	check_app_id(&o, &ev, &r);
	tool_step("compose");
	check_compose(&o, &ev, static_quote, &r);
	check_mr_aggregated(&ev, static_quote, &r);
	check_report_data(&o, static_quote, &r);

	tool_step("output");
	if (o.json) {
		write_json(&ev, &r, &out);
		tool_write_json(&out);
	} else {
		if (!o.event)
			write_human(&ev, &r, &out);
		tool_write_output(NULL, out.data, out.len, false);
	}
	if (r.nfail)
		fputs((char *)r.failures.data, stderr);
	int status = r.nfail ? EXIT_REJECTED : EXIT_OK;
	evidence_free(&ev);
	for (int i = 0; i < nsrc; i++)
		buf_free(&src[i].raw);
	buf_free(&static_src.raw);
	buf_free(&in);
	buf_free(&qin);
	buf_free(&out);
	buf_free(&r.failures);
	buf_free(&r.checks);
	return status;
}
