/* tdx-quote-extract: the TDX quote (and the other dstack extensions) out of an
 * RA-TLS certificate or a guest-agent Info JSON. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "evidence.h"
#include "jsonw.h"
#include "quote.h"
#include "tool.h"

static const char usage[] =
	"usage: tdx-quote-extract [options] [FILE|-]\n"
	"  -o, --output FILE   write to FILE (atomically) instead of standard output\n"
	"      --hex           write binary values as hex\n"
	"      --json          print every extension found, decoded, as one JSON object\n"
	"      --what VALUE    quote (default), event-log, app-id, usage, attestation\n"
	"      --check-binding require REPORTDATA = SHA-512(\"ratls-cert:\" || leaf SPKI) and a\n"
	"                      certificate chain whose signatures verify leaf to root\n"
	"  -h, --help          this text\n"
	"      --version       the suite's version\n"
	"Input (auto-detected, standard input when no FILE): PEM certificate chain, DER\n"
	"certificate, or guest-agent Info JSON (its app_cert). Exit: 0 ok, 1 binding failed,\n"
	"2 usage, 3 malformed input or missing extension, 4 I/O error.\n";

enum what { WHAT_QUOTE, WHAT_EVENT_LOG, WHAT_APP_ID, WHAT_USAGE, WHAT_ATTESTATION };

struct options {
	const char *output, *input;
	bool hex, json, check_binding;
	enum what what;
};

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "hex", no_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },         { "what", required_argument, NULL, 'w' },
		{ "check-binding", no_argument, NULL, 'b' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *whats[] = { "quote", "event-log", "app-id", "usage", "attestation" };
	int c;
	while ((c = tool_getopt(argc, argv, "o:h", longopts, usage)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case 'x': o->hex = true; break;
		case 'j': o->json = true; break;
		case 'b': o->check_binding = true; break;
		case 'w': {
			size_t i = 0;
			while (i < 5 && strcmp(optarg, whats[i]))
				i++;
			if (i == 5)
				tool_usage_error(usage, "unknown --what value '%s'", optarg);
			o->what = (enum what)i;
			break;
		}
		default: break; /* tool_getopt answered the rest */
		}
	}
	if (argc - optind > 1)
		tool_usage_error(usage, "at most one input file");
	o->input = optind < argc ? argv[optind] : "-";
	if (o->json && o->hex)
		tool_usage_error(usage, "--json and --hex do not combine");
}

/* Requires the quote to be a well-formed TDX quote; returns it parsed. */
static void parse_quote(const struct evidence *ev, struct tdx_quote *q)
{
	struct err e = { 0 };
	if (!ev->has_quote) {
		err_set(&e, EXIT_MALFORMED, "certificate carries no quote (neither extension .1.1 nor .1.8)");
		tool_fail(&e);
	}
	if (quote_parse(q, ev->quote.data, ev->quote.len, &e)) {
		err_wrap(&e, "certificate quote");
		tool_fail(&e);
	}
}

static int check_binding(const struct evidence *ev, const struct tdx_quote *q, struct buf *path, struct err *e)
{
	uint8_t want[64];
	if (racert_expected_report_data(&ev->cert, want, e))
		return e->code;
	if (!ct_equal(want, q->td.report_data, 64)) {
		char got[129], exp[129];
		hex_encode(q->td.report_data, 64, got);
		hex_encode(want, 64, exp);
		return err_set(e, EXIT_REJECTED,
			       "binding: quote REPORTDATA %s is not SHA-512(\"ratls-cert:\" || leaf public key) = %s",
			       got, exp);
	}
	if (ev->has_attestation && memcmp(ev->att.report_data, q->td.report_data, 64))
		return err_set(e, EXIT_REJECTED, "binding: the attestation's report_data differs from the quote's REPORTDATA");
	return racert_verify_chain(&ev->cert, path, e) ? err_wrap(e, "binding") : EXIT_OK;
}

static void write_quote_json(struct jsonw *w, const struct tdx_quote *q)
{
	static const char *rtmr[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	jw_obj(w);
	jw_key(w, "version");
	jw_u64(w, q->version);
	jw_key(w, "tee_type");
	jw_u64(w, q->tee_type);
	jw_key(w, "length");
	jw_u64(w, q->len);
	jw_key(w, "trailing_bytes");
	jw_u64(w, q->trailing);
	jw_key(w, "mr_td");
	jw_hex(w, q->td.mr_td, 48);
	for (int i = 0; i < 4; i++) {
		jw_key(w, rtmr[i]);
		jw_hex(w, q->td.rtmr[i], 48);
	}
	jw_key(w, "mr_config_id");
	jw_hex(w, q->td.mr_config_id, 48);
	jw_key(w, "report_data");
	jw_hex(w, q->td.report_data, 64);
	jw_key(w, "hex");
	jw_hex(w, q->raw, q->len + q->trailing);
	jw_end(w);
}

static void write_json(const struct evidence *ev, const struct tdx_quote *q, bool binding, const struct buf *path,
		       struct buf *out)
{
	struct jsonw w;
	char subject[256];
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "ok");
	jw_bool(&w, true);
	racert_subject(ev->cert.leaf, subject, sizeof subject);
	jw_key(&w, "leaf_subject");
	jw_str(&w, subject);
	jw_key(&w, "certificates");
	jw_u64(&w, (uint64_t)sk_X509_num(ev->cert.certs));
	if (ev->has_ext[EXT_APP_ID]) {
		jw_key(&w, "app_id");
		jw_hex(&w, ev->ext[EXT_APP_ID].data, ev->ext[EXT_APP_ID].len);
	}
	if (ev->has_ext[EXT_USAGE]) {
		jw_key(&w, "usage");
		jw_strn(&w, (const char *)ev->ext[EXT_USAGE].data, ev->ext[EXT_USAGE].len);
	}
	if (q) {
		jw_key(&w, "quote");
		write_quote_json(&w, q);
	}
	if (ev->has_log) {
		jw_key(&w, "event_log");
		eventlog_write_json(&ev->log, &w);
	}
	if (ev->has_attestation) {
		jw_key(&w, "attestation");
		jw_obj(&w);
		jw_key(&w, "format");
		jw_str(&w, ev->att.format == ATTESTATION_SCALE_V0 ? "scale-v0" : "msgpack-v1");
		if (ev->att.format == ATTESTATION_MSGPACK_V1) {
			jw_key(&w, "stack");
			jw_str(&w, ev->att.pod ? "dstack-pod" : "dstack");
		}
		jw_key(&w, "report_data");
		jw_hex(&w, ev->att.report_data, 64);
		jw_key(&w, "vm_config");
		jw_strn(&w, (const char *)ev->att.config.data, ev->att.config.len);
		if (ev->att.pod) {
			jw_key(&w, "report_data_payload");
			jw_strn(&w, (const char *)ev->att.report_data_payload.data, ev->att.report_data_payload.len);
		}
		jw_key(&w, "runtime_events");
		jw_u64(&w, ev->att.runtime.n);
		jw_end(&w);
	}
	if (ev->has_ext[EXT_APP_INFO]) {
		jw_key(&w, "app_info_msgpack");
		jw_hex(&w, ev->ext[EXT_APP_INFO].data, ev->ext[EXT_APP_INFO].len);
	}
	if (binding) {
		jw_key(&w, "binding");
		jw_obj(&w);
		jw_key(&w, "report_data");
		jw_str(&w, "ok");
		jw_key(&w, "chain");
		jw_strn(&w, (const char *)path->data, path->len);
		/* What the binding does not establish: the chain ends at its own
		 * self-signed root, and the quote's signature is not checked. */
		jw_key(&w, "chain_trust_anchor");
		jw_bool(&w, false);
		jw_key(&w, "quote_signature_checked");
		jw_bool(&w, false);
		jw_end(&w);
	}
	jw_end(&w);
	buf_append(out, "\n", 1);
	if (w.failed) {
		struct err e;
		err_set(&e, EXIT_SYSTEM, "out of memory writing JSON");
		tool_fail(&e);
	}
}

/* The bytes --what selects; binary values are hex-encoded with --hex. */
static void select_value(const struct options *o, const struct evidence *ev, const struct tdx_quote *q,
			 struct buf *out, bool *binary)
{
	struct err e = { 0 };
	const struct buf *v = NULL;
	*binary = false;
	switch (o->what) {
	case WHAT_QUOTE:
		buf_append(out, q->raw, q->len + q->trailing); /* exactly as carried, padding included */
		*binary = true;
		break;
	case WHAT_EVENT_LOG: {
		if (!ev->has_log) {
			err_set(&e, EXIT_MALFORMED, "certificate carries no event log (neither .1.2 nor .1.8)");
			tool_fail(&e);
		}
		struct jsonw w;
		jw_init(&w, out);
		eventlog_write_json(&ev->log, &w);
		buf_append(out, "\n", 1);
		return;
	}
	case WHAT_APP_ID:
	case WHAT_USAGE:
	case WHAT_ATTESTATION: {
		enum dstack_ext arc = o->what == WHAT_APP_ID ? EXT_APP_ID
				      : o->what == WHAT_USAGE ? EXT_USAGE
							      : EXT_ATTESTATION;
		if (!ev->has_ext[arc]) {
			err_set(&e, EXIT_MALFORMED, "certificate has no extension 1.3.6.1.4.1.62397.1.%d", (int)arc);
			tool_fail(&e);
		}
		v = &ev->ext[arc];
		if (o->what == WHAT_USAGE) {
			buf_append(out, v->data, v->len);
			buf_append(out, "\n", 1);
			return;
		}
		if (o->what == WHAT_APP_ID) {
			buf_append_hex(out, v->data, v->len);
			buf_append(out, "\n", 1);
			return;
		}
		buf_append(out, v->data, v->len);
		*binary = true;
		break;
	}
	}
	if (*binary && o->hex) {
		struct buf hex = { 0 };
		buf_append_hex(&hex, out->data, out->len);
		buf_append(&hex, "\n", 1);
		buf_free(out);
		*out = hex;
		*binary = false;
	}
}

int main(int argc, char **argv)
{
	tool_name = "tdx-quote-extract";
	struct options o = { 0 };
	parse_options(&o, argc, argv);
	if (o.json)
		tool_json_mode(true);

	struct buf in = { 0 }, out = { 0 }, path = { 0 };
	struct err e = { 0 };
	tool_step("input");
	tool_read_input(o.input, &in);
	struct evidence ev;
	tool_step("certificate");
	if (evidence_from_cert(&ev, in.data, in.len, &e))
		tool_fail(&e);

	struct tdx_quote q;
	bool need_quote = o.json ? ev.has_quote || o.check_binding : o.what == WHAT_QUOTE || o.check_binding;
	tool_step("quote");
	if (need_quote)
		parse_quote(&ev, &q);
	tool_step("binding");
	if (o.check_binding && check_binding(&ev, &q, &path, &e))
		tool_fail(&e);

	bool binary = false;
	tool_step("output");
	if (o.json) {
		write_json(&ev, need_quote ? &q : NULL, o.check_binding, &path, &out);
		if (o.output)
			tool_write_output(o.output, out.data, out.len, false);
		else
			tool_write_json(&out);
	} else {
		select_value(&o, &ev, &q, &out, &binary);
		tool_write_output(o.output, out.data, out.len, binary);
	}
	/* Only what was checked: the key binding and the chain's own signatures. */
	if (o.check_binding && !o.json)
		fprintf(stderr,
			"%s: binding ok: the quote's REPORTDATA = SHA-512(\"ratls-cert:\" || leaf SPKI)\n"
			"%s: chain signatures consistent, not checked against a trust anchor: %s\n"
			"%s: the quote itself is not verified here: it is trusted only after tdx-dcap-verify\n",
			tool_name, tool_name, (char *)path.data, tool_name);
	evidence_free(&ev);
	buf_free(&in);
	buf_free(&out);
	buf_free(&path);
	return EXIT_OK;
}
