/* tdx-measure: the MRTD and RTMR0-2 a genuine dstack CVM of an OS image and
 * a VM size must show - from the image files or the lite material in the
 * evidence - compared with the quote's registers, naming the first event
 * that differs. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evidence.h"
#include "fileio.h"
#include "imagecache.h"
#include "json.h"
#include "jsonw.h"
#include "measurement.h"
#include "tool.h"

static const char usage[] =
	"usage: tdx-measure [options] [EVIDENCE|-]\n"
	"      --image DIR|TARBALL  the OS image: a directory or a release tarball (.tar.gz)\n"
	"      --vm-config FILE     the VM configuration (vm_config JSON) instead of the evidence's\n"
	"      --acpi FILE          RTMR0's ACPI digests from this list of known triples, not the log\n"
	"      --fetch              the image os_image_hash names, from the cache or downloaded into it\n"
	"      --cache DIR          the image cache (default ~/.cache/phala-tools/os-images); without\n"
	"                           --fetch, a cached image only\n"
	"      --json               one JSON object on standard output\n"
	"      --version            the version\n"
	"  -h, --help               this text\n"
	"EVIDENCE (a file, or - for standard input): a guest-agent Info or GetQuote response, a\n"
	"versioned attestation ({\"attestation\":hex}, .1.8), or an RA-TLS certificate. Without it\n"
	"(--vm-config then) the expected values are printed and nothing is compared. Without\n"
	"--image, --fetch or --cache the image comes from the evidence's lite material.\n"
	"Exit: 0 all four registers equal the quote's (or computed, without EVIDENCE), 1 they\n"
	"differ or the image is not the one os_image_hash names, 2 usage, 3 malformed input,\n"
	"4 I/O error, 5 download failed.\n";

struct options {
	const char *evidence, *image, *vm_config, *acpi, *cache;
	bool fetch, json;
};

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' }, { "vm-config", required_argument, NULL, 'v' },
		{ "acpi", required_argument, NULL, 'a' },  { "fetch", no_argument, NULL, 'f' },
		{ "cache", required_argument, NULL, 'c' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;
	while ((c = tool_getopt(argc, argv, "h", longopts, usage)) != -1) {
		switch (c) {
		case 'i': o->image = optarg; break;
		case 'v': o->vm_config = optarg; break;
		case 'a': o->acpi = optarg; break;
		case 'f': o->fetch = true; break;
		case 'c': o->cache = optarg; break;
		case 'j': o->json = true; break;
		default: break; /* tool_getopt answered the rest */
		}
	}
	if (argc - optind > 1)
		tool_usage_error(usage, "at most one EVIDENCE");
	o->evidence = optind < argc ? argv[optind] : NULL;
	if (!o->evidence && !o->vm_config)
		tool_usage_error(usage, "give EVIDENCE (- for standard input) or --vm-config FILE");
	if (o->image && (o->fetch || o->cache))
		tool_usage_error(usage, "--image and --fetch/--cache do not combine");
	int stdin_users = (o->evidence && !strcmp(o->evidence, "-")) + (o->vm_config && !strcmp(o->vm_config, "-")) +
			  (o->acpi && !strcmp(o->acpi, "-"));
	if (stdin_users > 1)
		tool_usage_error(usage, "only one input can be standard input");
}

/* Everything the run found out, for the report. */
struct run {
	struct evidence ev;
	bool has_evidence;
	struct vm_config vm;
	bool claimed;             /* os_image_hash came from the evidence or --vm-config */
	uint8_t os_image_hash[SHA256_LEN];
	bool lite, fetched;
	char image_origin[8400];
	enum mr_source acpi_source;
	bool has_acpi;
	char acpi_entry[256];
	struct mr_inputs in;
	struct measurement m;
	bool has_quote;
	const char *quote_name;
	struct buf quote_raw;
	struct tdx_quote q;
	struct mr_verdict v;
};

static void fail_with(struct err *e, const char *context)
{
	if (context)
		err_wrap(e, "%s", context);
	tool_fail(e);
}

/* os_image_hash from a vm_config text without judging its other fields. */
static bool hash_in_vm_config(const struct buf *text, uint8_t out[SHA256_LEN])
{
	struct json j;
	struct err ignored = { 0 };
	bool found = false;
	if (json_parse(&j, (const char *)text->data, text->len, &ignored) == EXIT_OK) {
		int t = json_get(&j, 0, "os_image_hash");
		size_t n;
		const char *raw = t >= 0 && json_type(&j, t) == JSON_STRING ? json_raw(&j, t, &n) : NULL;
		found = raw && hex_decode_exact(raw, n, out, SHA256_LEN);
		json_free(&j);
	}
	return found;
}

/* The VM configuration and the os_image_hash the evidence claims: every
 * statement of it (Info's, the evidence's vm_config, --vm-config) must agree. */
static void load_config(const struct options *o, struct run *r)
{
	struct err e = { 0 };
	struct buf file = { 0 };
	const struct buf *text = &r->ev.vm_config;
	if (o->vm_config) {
		tool_read_input(o->vm_config, &file);
		text = &file;
	} else if (!r->ev.has_vm_config) {
		err_set(&e, EXIT_MALFORMED, "the %s carries no vm_config (give --vm-config FILE)",
			evidence_kind_name(r->ev.kind));
		tool_fail(&e);
	}
	if (vmconfig_parse(&r->vm, (const char *)text->data, text->len, &e))
		fail_with(&e, o->vm_config);
	buf_free(&file);
	uint8_t h[SHA256_LEN];
	const char *what[2] = { "Info's os_image_hash", "the evidence's vm_config" };
	bool has[2] = { r->has_evidence && r->ev.has_os_image_hash,
			r->has_evidence && r->ev.has_vm_config && hash_in_vm_config(&r->ev.vm_config, h) };
	const uint8_t *claims[2] = { r->ev.os_image_hash, h };
	if (r->vm.has_os_image_hash) {
		memcpy(r->os_image_hash, r->vm.os_image_hash, SHA256_LEN);
		r->claimed = true;
	}
	for (int i = 0; i < 2; i++) {
		if (!has[i])
			continue;
		if (r->claimed && memcmp(claims[i], r->os_image_hash, SHA256_LEN)) {
			err_set(&e, EXIT_REJECTED, "%s names another os_image_hash than %s", what[i],
				o->vm_config ? o->vm_config : "vm_config");
			tool_fail(&e);
		}
		memcpy(r->os_image_hash, claims[i], SHA256_LEN);
		r->claimed = true;
	}
	if (r->has_evidence && !r->claimed) {
		err_set(&e, EXIT_MALFORMED, "the evidence names no os_image_hash");
		tool_fail(&e);
	}
}

/* The image material: a directory or tarball, the cache, or the lite CBOR. */
static void load_material(const struct options *o, struct run *r, struct os_image *img, struct lite_material *lm)
{
	struct err e = { 0 };
	if (o->image || o->fetch || o->cache) {
		if (o->image) {
			if (osimage_load(img, o->image, r->claimed ? r->os_image_hash : NULL, &e))
				tool_fail(&e);
		} else {
			char dir[4096], tmpl[4096], from[4200];
			if (!r->claimed) {
				err_set(&e, EXIT_USAGE, "--fetch and --cache need an os_image_hash (in vm_config)");
				tool_fail(&e);
			}
			if (imagecache_dir(o->cache, dir, sizeof dir, &e) ||
			    (o->fetch && imagecache_url_template(tmpl, sizeof tmpl, from, sizeof from, &e)) ||
			    imagecache_load(dir, r->os_image_hash, o->fetch ? tmpl : NULL, isatty(STDERR_FILENO), img,
					    &r->fetched, &e))
				tool_fail(&e);
		}
		memcpy(r->os_image_hash, img->sums.os_image_hash, SHA256_LEN);
		snprintf(r->image_origin, sizeof r->image_origin, "%s", img->origin);
		if (mr_inputs_from_image(&r->in, img, &r->vm, &e))
			tool_fail(&e);
		return;
	}
	if (!r->vm.has_tdx_measurement) {
		err_set(&e, EXIT_USAGE, "no image: the vm_config carries no lite material (tdx_measurement); give --image, --fetch or --cache");
		tool_fail(&e);
	}
	const struct buf *c = &r->vm.checksum_file, *m = &r->vm.measurement;
	if (!r->claimed && sha256_spans(r->os_image_hash, SPANS({ c->data, c->len }))) {
		err_set(&e, EXIT_SYSTEM, "SHA-256 failed");
		tool_fail(&e);
	}
	if (lite_load(lm, c->data, c->len, m->data, m->len, r->os_image_hash, &e) ||
	    mr_inputs_from_lite(&r->in, lm, &r->vm, &e))
		tool_fail(&e);
	r->lite = true;
	snprintf(r->image_origin, sizeof r->image_origin, "vm_config.tdx_measurement");
}

static void load_acpi(const struct options *o, struct run *r)
{
	struct err e = { 0 };
	if (o->acpi) {
		struct buf list = { 0 };
		tool_read_input(o->acpi, &list);
		if (acpi_from_list(&r->in.acpi, r->acpi_entry, sizeof r->acpi_entry, (const char *)list.data, list.len, &r->vm,
				   &e))
			fail_with(&e, o->acpi);
		buf_free(&list);
		r->acpi_source = MR_LIST;
		r->has_acpi = true;
	} else if (r->has_evidence) {
		if (acpi_from_log(&r->in.acpi, &r->ev.log, &e))
			tool_fail(&e);
		r->acpi_source = MR_LOG;
		r->has_acpi = true;
	}
	r->in.has_acpi = r->has_acpi;
	r->in.acpi_source = r->acpi_source;
}

/* The quote taken with the evidence's log, or Info's app_cert quote (RTMR0-2
 * and MRTD do not change after boot). */
static void load_quote(struct run *r)
{
	struct err e = { 0 };
	const struct buf *src = r->ev.has_quote ? &r->ev.quote : r->ev.has_static_quote ? &r->ev.static_quote : NULL;
	if (!src) {
		err_set(&e, EXIT_MALFORMED, "the %s carries no quote to compare with", evidence_kind_name(r->ev.kind));
		tool_fail(&e);
	}
	r->quote_name = r->ev.has_quote ? "the evidence's quote" : "the app_cert's quote";
	if (quote_input_decode(src->data, src->len, &r->quote_raw, &e) ||
	    quote_parse(&r->q, r->quote_raw.data, r->quote_raw.len, &e))
		fail_with(&e, r->quote_name);
	r->has_quote = true;
}

static const char *acpi_words(const struct run *r, char *buf, size_t cap)
{
	if (!r->has_acpi)
		return "unknown: RTMR0 not computed (no event log, no --acpi)";
	if (r->acpi_source == MR_LOG)
		return "from the event log, not verified";
	snprintf(buf, cap, "matched %s", r->acpi_entry);
	return buf;
}

static void write_human(const struct run *r, struct buf *out)
{
	char hex[97], acpi[300];
	hex_encode(r->os_image_hash, SHA256_LEN, hex);
	buf_printf(out, "os_image_hash: %s (%s)\n", hex,
		   r->claimed ? "the claimed one: its sha256sum.txt matches" : "of the image; nothing claimed it");
	buf_printf(out, "image: %s, %s%s\n", r->lite ? "lite" : "full", r->image_origin, r->fetched ? ", downloaded" : "");
	buf_printf(out, "vm: %u vCPU, %llu bytes of memory, %s page adds (%s)\n", r->vm.cpu_count,
		   (unsigned long long)r->vm.memory_size, r->m.pages == PAGES_TWO_PASS ? "two-pass" : "single-pass",
		   r->vm.pages_reason);
	buf_printf(out, "acpi: %s\n", acpi_words(r, acpi, sizeof acpi));
	static const char *const names[4] = { "mrtd ", "rtmr0", "rtmr1", "rtmr2" };
	for (int i = 0; i < 4; i++) {
		const uint8_t *v = i ? r->m.rtmr[i - 1] : r->m.mrtd;
		bool known = i == 0 || r->m.known[i - 1];
		if (known)
			hex_encode(v, SHA384_LEN, hex);
		buf_printf(out, "%s %s%s\n", names[i], known ? hex : "-",
			   !r->has_quote ? "" : r->v.match[i] ? " ok" : " DIFFERS");
	}
	if (!r->has_quote)
		buf_printf(out, "result: computed only (no evidence to compare with)\n");
	else if (r->v.ok)
		buf_printf(out, "result: all four registers equal %s\n", r->quote_name);
	else
		buf_printf(out, "result: %zu register%s differ%s from %s\n", r->v.nlines, r->v.nlines == 1 ? "" : "s",
			   r->v.nlines == 1 ? "s" : "", r->quote_name);
}

static void jw_hex_or_null(struct jsonw *w, const uint8_t *p, bool known)
{
	if (known)
		jw_hex(w, p, SHA384_LEN);
	else
		jw_null(w);
}

static void write_json(const struct run *r, struct buf *out)
{
	static const char *const regs[4] = { "mrtd", "rtmr0", "rtmr1", "rtmr2" };
	char acpi[300];
	struct jsonw w;
	jw_init(&w, out);
	jw_obj(&w);
	/* ok: the tool's success (the contract of every --json); compared:
	 * whether there was a quote to succeed against. */
	jw_key(&w, "ok");
	jw_bool(&w, !r->has_quote || r->v.ok);
	jw_key(&w, "compared");
	jw_bool(&w, r->has_quote);
	jw_key(&w, "os_image_hash");
	jw_hex(&w, r->os_image_hash, SHA256_LEN);
	jw_key(&w, "os_image_hash_claimed");
	jw_bool(&w, r->claimed);
	jw_key(&w, "image");
	jw_str(&w, r->lite ? "lite" : "full");
	jw_key(&w, "image_origin");
	jw_text(&w, r->image_origin);
	jw_key(&w, "downloaded");
	jw_bool(&w, r->fetched);
	jw_key(&w, "acpi");
	jw_str(&w, !r->has_acpi ? "unknown" : r->acpi_source == MR_LOG ? "log" : "list");
	jw_key(&w, "acpi_entry");
	if (r->has_acpi && r->acpi_source == MR_LIST)
		jw_str(&w, r->acpi_entry);
	else
		jw_null(&w);
	jw_key(&w, "acpi_note");
	jw_str(&w, acpi_words(r, acpi, sizeof acpi));
	jw_key(&w, "memory_size");
	jw_u64(&w, r->vm.memory_size);
	jw_key(&w, "cpu_count");
	jw_u64(&w, r->vm.cpu_count);
	jw_key(&w, "page_adds");
	jw_str(&w, r->m.pages == PAGES_TWO_PASS ? "two-pass" : "single-pass");
	jw_key(&w, "page_adds_reason");
	jw_str(&w, r->vm.pages_reason);
	for (int i = 0; i < 4; i++) {
		jw_key(&w, regs[i]);
		jw_hex_or_null(&w, i ? r->m.rtmr[i - 1] : r->m.mrtd, i == 0 || r->m.known[i - 1]);
	}
	jw_key(&w, "quote");
	if (r->has_quote) {
		jw_obj(&w);
		jw_key(&w, "source");
		jw_str(&w, r->quote_name);
		for (int i = 0; i < 4; i++) {
			jw_key(&w, regs[i]);
			jw_hex(&w, i ? r->q.td.rtmr[i - 1] : r->q.td.mr_td, SHA384_LEN);
		}
		jw_end(&w);
		jw_key(&w, "match");
		jw_obj(&w);
		for (int i = 0; i < 4; i++) {
			jw_key(&w, regs[i]);
			jw_bool(&w, r->v.match[i]);
		}
		jw_end(&w);
	} else {
		jw_null(&w);
		jw_key(&w, "match");
		jw_null(&w);
	}
	jw_key(&w, "first_difference");
	if (r->has_quote && r->v.first.has) {
		jw_obj(&w);
		jw_key(&w, "register");
		jw_str(&w, regs[r->v.first.reg]);
		jw_key(&w, "event");
		if (r->v.first.event >= 0)
			jw_u64(&w, (uint64_t)r->v.first.event);
		else
			jw_null(&w);
		jw_key(&w, "name");
		if (r->v.first.name)
			jw_str(&w, r->v.first.name);
		else
			jw_null(&w);
		jw_key(&w, "expected");
		jw_hex_or_null(&w, r->v.first.expected, r->v.first.expected_known);
		jw_key(&w, "actual");
		jw_hex_or_null(&w, r->v.first.actual, r->v.first.actual_known);
		jw_key(&w, "actual_from");
		jw_str(&w, r->v.first.actual_from_log ? "log" : "quote");
		jw_key(&w, "message");
		jw_text(&w, r->v.lines[0]);
		jw_end(&w);
	} else {
		jw_null(&w);
	}
	jw_key(&w, "differences");
	jw_arr(&w);
	for (size_t i = 0; r->has_quote && i < r->v.nlines; i++)
		jw_text(&w, r->v.lines[i]);
	jw_end(&w);
	jw_key(&w, "events");
	jw_arr(&w);
	size_t index[3] = { 0 };
	for (size_t i = 0; i < r->m.n; i++) {
		const struct mr_event *ev = &r->m.ev[i];
		jw_obj(&w);
		jw_key(&w, "imr");
		jw_u64(&w, ev->imr);
		jw_key(&w, "index");
		jw_u64(&w, index[ev->imr]++);
		jw_key(&w, "name");
		jw_str(&w, ev->name);
		jw_key(&w, "event_type");
		jw_u64(&w, ev->type);
		jw_key(&w, "digest");
		jw_hex_or_null(&w, ev->digest, ev->known);
		jw_key(&w, "source");
		jw_str(&w, ev->known ? mr_source_name(ev->source) : "unknown");
		jw_end(&w);
	}
	jw_end(&w);
	if (r->has_quote && !r->v.ok)
		tool_json_failure_members(&w, regs[r->v.first.reg], EXIT_REJECTED, r->v.lines[0]);
	jw_end(&w);
	buf_append_str(out, "\n");
}

int main(int argc, char **argv)
{
	tool_name = "tdx-measure";
	struct options o = { 0 };
	parse_options(&o, argc, argv);
	static struct run r;
	static struct os_image img;
	struct lite_material lm;
	struct err e = { 0 };
	struct buf in = { 0 }, out = { 0 };
	if (o.json)
		tool_json_mode(true);
	if (o.evidence) {
		tool_step("evidence");
		tool_read_input(o.evidence, &in);
		if (evidence_load(&r.ev, in.data, in.len, &e))
			fail_with(&e, strcmp(o.evidence, "-") ? o.evidence : "standard input");
		r.has_evidence = true;
	}
	tool_step("vm_config");
	load_config(&o, &r);
	tool_step("image");
	load_material(&o, &r, &img, &lm);
	tool_step("acpi");
	load_acpi(&o, &r);
	tool_step("measure");
	if (mr_compose(&r.m, &r.in, &e))
		tool_fail(&e);
	if (r.has_evidence) {
		tool_step("quote");
		load_quote(&r);
		mr_compare(&r.m, &r.q.td, &r.ev.log, r.ev.has_log ? r.ev.replayable & 7u : 0, &r.v);
	}
	tool_step("output");
	if (o.json) {
		write_json(&r, &out);
		tool_write_json(&out);
	} else {
		write_human(&r, &out);
		tool_write_output(NULL, out.data, out.len, false);
	}
	for (size_t i = 0; r.has_quote && i < r.v.nlines; i++)
		fprintf(stderr, "%s: %s\n", tool_name, r.v.lines[i]);
	int status = r.has_evidence && !r.v.ok ? EXIT_REJECTED : EXIT_OK;
	osimage_free(&img);
	vmconfig_free(&r.vm);
	evidence_free(&r.ev);
	buf_free(&r.quote_raw);
	buf_free(&in);
	buf_free(&out);
	return status;
}
