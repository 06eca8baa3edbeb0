/* tdx-collateral-fetch: the DCAP collateral a TDX quote needs, from Intel
 * PCS or a PCCS, written as dcap-qvl collateral JSON for tdx-dcap-verify. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collateral.h"
#include "jsonw.h"
#include "pcs.h"
#include "quote.h"
#include "tool.h"

static const char usage[] =
	"usage: tdx-collateral-fetch [options] [QUOTE|-]\n"
	"      --pccs URL      fetch from this PCCS (e.g. https://pccs.phala.network); the root CA\n"
	"                      CRL from {URL}/sgx/certification/v4/rootcacrl\n"
	"      --pcs URL       Intel PCS base URL (default " PCS_INTEL_BASE "); the root\n"
	"                      CA CRL from the root certificate's CRL distribution point\n"
	"      --timeout SEC   per request (default 30)\n"
	"  -o, --output FILE   write to FILE (atomically) instead of standard output\n"
	"      --json          one JSON object on standard output: ok, fmspc, ca, source and\n"
	"                      the collateral (or output FILE); on failure step, exit, error\n"
	"  -h, --help          this text\n"
	"      --version       the suite's version\n"
	"QUOTE is a raw or hex TDX quote (standard input when absent or -); its PCK certificate\n"
	"gives the FMSPC and the PCK CA. Needs curl ($CURL overrides). Exit: 0 written, 2 usage,\n"
	"3 malformed quote or response, 4 local I/O error, 5 network or HTTP error.\n";

/* --json: what was fetched from where; the collateral itself in the
 * object, or in FILE with -o. */
static void write_report(const struct pcs_source *src, const struct pcs_platform *p, const char *output,
			 const struct buf *collateral)
{
	if (output)
		tool_write_output(output, collateral->data, collateral->len, false);
	struct buf out = { 0 };
	struct jsonw w;
	jw_init(&w, &out);
	jw_obj(&w);
	jw_key(&w, "ok");
	jw_bool(&w, true);
	jw_key(&w, "fmspc");
	jw_hex(&w, p->fmspc, 6);
	jw_key(&w, "ca");
	jw_str(&w, p->processor ? "processor" : "platform");
	jw_key(&w, "source");
	jw_str(&w, src->base);
	jw_key(&w, "pccs");
	jw_bool(&w, src->pccs);
	jw_key(&w, "output");
	if (output)
		jw_str(&w, output);
	else
		jw_null(&w);
	if (!output) {
		jw_key(&w, "collateral");
		jw_raw(&w, (const char *)collateral->data, collateral->len - 1); /* without its newline */
	}
	jw_end(&w);
	struct err e = { 0 };
	if (w.failed || !buf_append(&out, "\n", 1)) {
		err_set(&e, EXIT_SYSTEM, "out of memory writing JSON");
		tool_fail(&e);
	}
	tool_write_json(&out);
	buf_free(&out);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pccs", required_argument, NULL, 'c' }, { "pcs", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' }, { "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },        { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct pcs_source src = { .base = PCS_INTEL_BASE, .timeout_s = 30 };
	const char *output = NULL, *pcs = NULL, *pccs = NULL;
	bool json = false;
	int c;
	tool_name = "tdx-collateral-fetch";
	while ((c = tool_getopt(argc, argv, "o:h", longopts, usage)) != -1) {
		switch (c) {
		case 'c': pccs = optarg; break;
		case 'p': pcs = optarg; break;
		case 'o': output = optarg; break;
		case 'j': json = true; break;
		case 't': {
			char *end;
			src.timeout_s = strtol(optarg, &end, 10);
			if (*end || end == optarg || src.timeout_s < 1 || src.timeout_s > 3600)
				tool_usage_error(usage, "--timeout: seconds, 1 to 3600");
			break;
		}
		default: break; /* tool_getopt answered the rest */
		}
	}
	if (argc - optind > 1)
		tool_usage_error(usage, "at most one quote");
	if (pcs && pccs)
		tool_usage_error(usage, "--pcs and --pccs do not combine");
	if (json && output && !strcmp(output, "-"))
		tool_usage_error(usage, "--json writes its object to standard output: -o - does not combine");
	if (pccs || pcs) {
		src.base = pccs ? pccs : pcs;
		src.pccs = pccs != NULL;
		if (strncmp(src.base, "http://", 7) && strncmp(src.base, "https://", 8))
			tool_usage_error(usage, "the base URL must start with http:// or https://");
	}

	if (json)
		tool_json_mode(true);

	struct buf in = { 0 }, raw = { 0 }, out = { 0 };
	struct err e = { 0 };
	struct tdx_quote q;
	struct pcs_platform platform;
	struct collateral col = { 0 }, check = { 0 };
	tool_step("quote");
	tool_read_input(optind < argc ? argv[optind] : "-", &in);
	if (quote_input_decode(in.data, in.len, &raw, &e) || quote_parse(&q, raw.data, raw.len, &e))
		tool_fail(&e);
	tool_step("pck_certificate");
	if (pcs_platform_from_quote(&q, &platform, &e))
		tool_fail(&e);
	tool_step("fetch");
	if (pcs_fetch(&src, &platform, &col, &e))
		tool_fail(&e);
	/* What is written must be collateral tdx-dcap-verify reads. */
	tool_step("collateral");
	if (collateral_json(&col, &out, &e))
		tool_fail(&e);
	if (collateral_parse(&check, (const char *)out.data, out.len, &e)) {
		err_wrap(&e, "fetched collateral");
		tool_fail(&e);
	}
	tool_step("output");
	if (json)
		write_report(&src, &platform, output, &out);
	else
		tool_write_output(output, out.data, out.len, false);
	collateral_free(&check);
	collateral_free(&col);
	buf_free(&out);
	buf_free(&raw);
	buf_free(&in);
	return EXIT_OK;
}
