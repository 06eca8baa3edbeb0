/* tdx-dcap-verify: Intel DCAP verification of a TDX quote, offline. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dcap.h"
#include "jsonw.h"
#include "quote.h"
#include "timefmt.h"
#include "tool.h"

static const char usage[] =
	"usage: tdx-dcap-verify [options] [QUOTE|-]\n"
	"  -c, --collateral FILE  dcap-qvl collateral JSON (tdx-collateral-fetch); without it only\n"
	"                         the collateral-free checks run and the status is NoCollateral\n"
	"      --now TIME         verification time: UNIX seconds or RFC 3339 (default: now)\n"
	"      --root-ca FILE     trust this root instead of the pinned Intel SGX Root CA (tests)\n"
	"      --accept LIST      accepted statuses, comma-separated (default UpToDate,SWHardeningNeeded;\n"
	"                         NoCollateral accepts the reduced mode; Revoked is never accepted)\n"
	"      --json             one JSON object on standard output\n"
	"  -h, --help             this text\n"
	"      --version          the suite's version\n"
	"QUOTE is a raw or hex TDX quote (v4/v5), standard input when absent or -.\n"
	"Exit: 0 verified and accepted, 1 a check failed or status not accepted, 2 usage,\n"
	"3 malformed quote or collateral, 4 I/O error.\n";

struct options {
	const char *collateral, *root_ca, *input;
	time_t now;
	unsigned accept;
	bool json;
};

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "collateral", required_argument, NULL, 'c' }, { "now", required_argument, NULL, 'n' },
		{ "root-ca", required_argument, NULL, 'r' },    { "accept", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },             { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	o->now = time(NULL);
	o->accept = DCAP_ACCEPT_DEFAULT;
	int c;
	char bad[64];
	while ((c = tool_getopt(argc, argv, "c:h", longopts, usage)) != -1) {
		switch (c) {
		case 'c': o->collateral = optarg; break;
		case 'r': o->root_ca = optarg; break;
		case 'j': o->json = true; break;
		case 'n':
			if (!time_arg_parse(optarg, &o->now))
				tool_usage_error(usage, "--now: not UNIX seconds or RFC 3339: %s", optarg);
			break;
		case 'a':
			if (!dcap_accept_parse(optarg, &o->accept, bad, sizeof bad))
				tool_usage_error(usage, "--accept: unknown or unacceptable status '%s'", bad);
			break;
		default: break; /* tool_getopt answered the rest */
		}
	}
	if (argc - optind > 1)
		tool_usage_error(usage, "at most one quote");
	o->input = optind < argc ? argv[optind] : "-";
}

static void write_td(struct jsonw *w, const struct tdx_quote *q)
{
	const struct td_report *t = &q->td;
	const struct {
		const char *name;
		const uint8_t *p;
		size_t n;
	} f[] = {
		{ "tee_tcb_svn", t->tee_tcb_svn, 16 },	 { "mr_seam", t->mr_seam, 48 },
		{ "mr_signer_seam", t->mr_signer_seam, 48 }, { "seam_attributes", t->seam_attributes, 8 },
		{ "td_attributes", t->td_attributes, 8 },	 { "xfam", t->xfam, 8 },
		{ "mr_td", t->mr_td, 48 },			 { "mr_config_id", t->mr_config_id, 48 },
		{ "mr_owner", t->mr_owner, 48 },		 { "mr_owner_config", t->mr_owner_config, 48 },
		{ "rtmr0", t->rtmr[0], 48 },			 { "rtmr1", t->rtmr[1], 48 },
		{ "rtmr2", t->rtmr[2], 48 },			 { "rtmr3", t->rtmr[3], 48 },
		{ "report_data", t->report_data, 64 },	 { "tee_tcb_svn2", t->tee_tcb_svn2, 16 },
		{ "mr_service_td", t->mr_service_td, 48 },
	};
	jw_key(w, "quote_version");
	jw_u64(w, q->version);
	jw_key(w, "td_report");
	jw_str(w, q->body_type == 3 ? "TD15" : "TD10");
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (!f[i].p)
			continue; /* TD 1.5 fields of a TD 1.0 report */
		jw_key(w, f[i].name);
		jw_hex(w, f[i].p, f[i].n);
	}
}

static void write_json(const struct dcap_verifier *v, const struct tdx_quote *q, const struct dcap_result *r,
		       time_t now, int rc, const struct err *e, struct buf *out)
{
	struct jsonw w;
	char when[21];
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "ok");
	jw_bool(&w, rc == EXIT_OK);
	jw_key(&w, "status");
	if (r->evaluated)
		jw_str(&w, tcb_status_name(r->status));
	else if (rc == EXIT_OK || r->failed == CHECK_NO_COLLATERAL)
		jw_str(&w, DCAP_NO_COLLATERAL);
	else
		jw_null(&w);
	jw_key(&w, "failed_check");
	if (rc)
		jw_str(&w, dcap_check_name(r->failed));
	else
		jw_null(&w);
	if (!rc) {
		jw_key(&w, "error");
		jw_null(&w);
	}
	jw_key(&w, "advisory_ids");
	jw_arr(&w);
	for (size_t i = 0; i < r->adv.n; i++)
		jw_str(&w, r->adv.id[i]);
	jw_end(&w);
	jw_key(&w, "collateral");
	jw_bool(&w, v->has_collateral);
	if (r->evaluated) {
		jw_key(&w, "platform_status");
		jw_str(&w, tcb_status_name(r->platform_status));
		jw_key(&w, "qe_status");
		jw_str(&w, tcb_status_name(r->qe_status));
		jw_key(&w, "tdx_module_status");
		if (r->has_module_status)
			jw_str(&w, tcb_status_name(r->module_status));
		else
			jw_null(&w);
		jw_key(&w, "tcb_date");
		jw_str(&w, r->tcb_date);
	}
	if (r->has_pck) {
		jw_key(&w, "fmspc");
		jw_hex(&w, r->pck.fmspc, 6);
		jw_key(&w, "pce_id");
		jw_hex(&w, r->pck.pce_id, 2);
		jw_key(&w, "pce_svn");
		jw_u64(&w, r->pck.pcesvn);
		jw_key(&w, "cpu_svn");
		jw_hex(&w, r->pck.cpusvn, 16);
	}
	jw_key(&w, "qe_svn");
	jw_u64(&w, q->qe_report.isv_svn);
	jw_key(&w, "perfmon");
	jw_bool(&w, (q->td.td_attributes[7] & 0x80) != 0);
	jw_key(&w, "root");
	jw_obj(&w);
	jw_key(&w, "pinned_intel");
	jw_bool(&w, v->root.pinned);
	jw_key(&w, "subject");
	jw_str(&w, v->root.subject);
	jw_key(&w, "sha256");
	jw_hex(&w, v->root.sha256, 32);
	jw_end(&w);
	rfc3339_format(now, when);
	jw_key(&w, "now");
	jw_str(&w, when);
	write_td(&w, q);
	if (rc)
		tool_json_failure_members(&w, dcap_check_name(r->failed), rc, e->msg);
	jw_end(&w);
	buf_append(out, "\n", 1);
}

static void write_text(const struct dcap_verifier *v, const struct tdx_quote *q, const struct dcap_result *r,
		       struct buf *out)
{
	char hex[129];
	buf_printf(out, "status: %s\n", r->evaluated ? tcb_status_name(r->status) : DCAP_NO_COLLATERAL);
	if (r->evaluated) {
		buf_printf(out, "platform: %s, QE: %s, TDX module: %s\n", tcb_status_name(r->platform_status),
			   tcb_status_name(r->qe_status),
			   r->has_module_status ? tcb_status_name(r->module_status) : "(base identity)");
		buf_printf(out, "advisory_ids:");
		for (size_t i = 0; i < r->adv.n; i++)
			buf_printf(out, "%s%s", i ? "," : " ", r->adv.id[i]);
		buf_printf(out, "%s\ntcb_date: %s\n", r->adv.n ? "" : " (none)", r->tcb_date);
	} else {
		buf_printf(out, "collateral: none - TCB status, CRLs and QE identity not evaluated\n");
	}
	hex_encode(r->pck.fmspc, 6, hex);
	buf_printf(out, "fmspc: %s\n", hex);
	buf_printf(out, "root: %s%s\n", v->root.subject,
		   v->root.pinned ? " (pinned)" : " (from --root-ca, NOT the pinned Intel root)");
	hex_encode(q->td.mr_td, 48, hex);
	buf_printf(out, "mr_td: %s\n", hex);
	for (int i = 0; i < 4; i++) {
		hex_encode(q->td.rtmr[i], 48, hex);
		buf_printf(out, "rtmr%d: %s\n", i, hex);
	}
	hex_encode(q->td.report_data, 64, hex);
	buf_printf(out, "report_data: %s\n", hex);
	if (r->perfmon)
		buf_printf(out, "note: TD_ATTRIBUTES.PERFMON is set\n");
}

int main(int argc, char **argv)
{
	tool_name = "tdx-dcap-verify";
	struct options o = { 0 };
	parse_options(&o, argc, argv);
	if (o.json)
		tool_json_mode(true);

	struct err e = { 0 };
	struct buf in = { 0 }, raw = { 0 }, root = { 0 }, col = { 0 }, out = { 0 };
	struct dcap_verifier v;
	tool_step("root_ca");
	if (o.root_ca)
		tool_read_input(o.root_ca, &root);
	if (dcap_verifier_init(&v, o.root_ca ? root.data : NULL, root.len, &e)) {
		if (o.root_ca)
			err_wrap(&e, "%s", o.root_ca);
		tool_fail(&e);
	}
	tool_step("collateral");
	if (o.collateral) {
		tool_read_input(o.collateral, &col);
		if (dcap_verifier_set_collateral(&v, (const char *)col.data, col.len, &e))
			tool_fail(&e);
	}
	tool_step("quote");
	tool_read_input(o.input, &in);
	struct tdx_quote q;
	if (quote_input_decode(in.data, in.len, &raw, &e) || quote_parse(&q, raw.data, raw.len, &e)) {
		err_wrap(&e, "quote");
		tool_fail(&e);
	}

	struct dcap_result r;
	int rc = dcap_verify(&v, &q, o.now, &r, &e);
	if (rc == EXIT_OK)
		rc = dcap_judge(&r, o.accept, &e);
	if (rc != EXIT_OK && rc != EXIT_REJECTED) {
		/* The quote's PCK chain or SGX extension does not parse, or OpenSSL failed. */
		tool_step(rc == EXIT_MALFORMED ? "quote" : "verify");
		tool_fail(&e);
	}
	if (o.json) {
		write_json(&v, &q, &r, o.now, rc, &e, &out);
		tool_write_json(&out);
	} else {
		if (rc == EXIT_OK)
			write_text(&v, &q, &r, &out);
		tool_write_output(NULL, out.data, out.len, false);
	}
	if (rc)
		fprintf(stderr, "%s: %s\n", tool_name, e.msg);
	else if (!v.root.pinned)
		fprintf(stderr, "%s: warning: verified against --root-ca %s, not the pinned Intel SGX Root CA\n",
			tool_name, o.root_ca);
	dcap_result_free(&r);
	dcap_verifier_free(&v);
	buf_free(&in);
	buf_free(&raw);
	buf_free(&root);
	buf_free(&col);
	buf_free(&out);
	return rc;
}
