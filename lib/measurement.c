#include "measurement.h"

#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "tdhob.h"

#define EV_SEPARATOR 0x00000004u
#define EV_EVENT_TAG 0x00000006u
#define EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001u
#define EV_EFI_VARIABLE_BOOT 0x80000002u
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_EFI_ACTION 0x80000007u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB2 0x8000000Au
#define EV_EFI_HANDOFF_TABLES2 0x8000000Bu

/* dstack's pre202505 OVMF: the CFV digest of its firmware, which the lite
 * material does not carry (dstack-mr src/tdvf.rs hard-codes it too). */
static const uint8_t dstack_pre202505_cfv[SHA384_LEN] = {
	0x34, 0x4b, 0xc5, 0x1c, 0x98, 0x0b, 0xa6, 0x21, 0xaa, 0xa0, 0x0d, 0xa3, 0xed, 0x74, 0x36, 0xf7,
	0xd6, 0xe5, 0x49, 0x19, 0x7d, 0xfe, 0x69, 0x95, 0x15, 0xdf, 0xa2, 0xc6, 0x58, 0x3d, 0x95, 0xe6,
	0x41, 0x2a, 0xf2, 0x1c, 0x09, 0x7d, 0x47, 0x31, 0x55, 0x87, 0x5f, 0xfd, 0x56, 0x1d, 0x67, 0x90
};

/* EFI_GLOBAL_VARIABLE and EFI_IMAGE_SECURITY_DATABASE_GUID, as stored. */
static const uint8_t efi_global[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
					0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
static const uint8_t efi_security_db[16] = { 0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
					     0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f };
/* OVMF's DXEFV volume and the UiApp file in it (OvmfPkgX64.fdf, MdeModulePkg UiApp.inf). */
static const uint8_t dxefv_guid[16] = { 0xc9, 0xbd, 0xb8, 0x7c, 0xeb, 0xf8, 0x34, 0x4f,
					0xaa, 0xea, 0x3e, 0xe4, 0xaf, 0x65, 0x16, 0xa1 };
static const uint8_t uiapp_guid[16] = { 0x21, 0xaa, 0x2c, 0x46, 0x14, 0x76, 0x03, 0x45,
					0x83, 0x6e, 0x8a, 0xb6, 0xf4, 0x66, 0x23, 0x31 };

const char *mr_source_name(enum mr_source s)
{
	static const char *names[] = { "computed", "image", "lite", "log", "list" };
	return names[s];
}

static size_t utf16_ascii(const char *s, uint8_t *out)
{
	size_t n = 0;
	for (; *s; s++) {
		out[n++] = (uint8_t)*s;
		out[n++] = 0;
	}
	return n;
}

/* An EFI variable event: GUID, name length in UTF-16 units, data length (0:
 * the variables are empty), UTF-16LE name. */
static int efi_variable(const uint8_t guid[16], const char *name, uint8_t out[SHA384_LEN])
{
	uint8_t b[16 + 8 + 8 + 64] = { 0 };
	memcpy(b, guid, 16);
	le_store(b + 16, strlen(name), 8);
	size_t n = 32 + utf16_ascii(name, b + 32);
	return sha384_spans(out, SPANS({ b, n }));
}

/* Boot0000: the EFI_LOAD_OPTION of OVMF's UiApp - attributes ACTIVE |
 * HIDDEN | CATEGORY_APP, description "UiApp", device path Fv(DXEFV)/FvFile(UiApp). */
static int boot0000(uint8_t out[SHA384_LEN])
{
	uint8_t b[6 + 12 + 44], *p = b;
	static const uint8_t head[6] = { 0x09, 0x01, 0x00, 0x00, 44, 0x00 };
	memcpy(p, head, 6);
	p += 6;
	p += utf16_ascii("UiApp", p);
	*p++ = 0;
	*p++ = 0;
	static const uint8_t fv[4] = { 0x04, 0x07, 20, 0 }, fvfile[4] = { 0x04, 0x06, 20, 0 }, end[4] = { 0x7f, 0xff, 4, 0 };
	memcpy(p, fv, 4);
	memcpy(p + 4, dxefv_guid, 16);
	memcpy(p + 20, fvfile, 4);
	memcpy(p + 24, uiapp_guid, 16);
	memcpy(p + 40, end, 4);
	return sha384_spans(out, SPANS({ b, sizeof b }));
}

int mr_cmdline_digest(const char *cmdline, size_t len, uint8_t out[SHA384_LEN], struct err *e)
{
	static const char suffix[] = " initrd=initrd";
	struct buf u = { 0 };
	int rc = EXIT_OK;
	struct buf text = { 0 };
	if (!buf_append(&text, cmdline, len) || !buf_append_str(&text, suffix))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	for (size_t i = 0; rc == EXIT_OK && i < text.len;) {
		size_t k = utf8_seq_len(text.data + i, text.len - i);
		if (!k || text.data[i] == 0) {
			rc = err_set(e, EXIT_MALFORMED, "the kernel command line is not UTF-8 text");
			break;
		}
		uint32_t c = k == 1 ? text.data[i] : k == 2 ? text.data[i] & 0x1fu : k == 3 ? text.data[i] & 0x0fu : text.data[i] & 0x07u;
		for (size_t j = 1; j < k; j++)
			c = c << 6 | (text.data[i + j] & 0x3fu);
		uint16_t units[2];
		int nu = 1;
		if (c >= 0x10000) {
			c -= 0x10000;
			units[0] = (uint16_t)(0xd800 | c >> 10);
			units[1] = (uint16_t)(0xdc00 | (c & 0x3ff));
			nu = 2;
		} else {
			units[0] = (uint16_t)c;
		}
		for (int q = 0; q < nu; q++) {
			uint8_t le[2] = { (uint8_t)units[q], (uint8_t)(units[q] >> 8) };
			if (!buf_append(&u, le, 2))
				rc = err_set(e, EXIT_SYSTEM, "out of memory");
		}
		i += k;
	}
	static const uint8_t nul[2] = { 0, 0 };
	if (rc == EXIT_OK && sha384_spans(out, SPANS({ u.data, u.len }, { nul, 2 })))
		rc = err_set(e, EXIT_SYSTEM, "SHA-384 failed");
	buf_free(&u);
	buf_free(&text);
	return rc;
}

int mr_inputs_from_image(struct mr_inputs *in, const struct os_image *img, const struct vm_config *vm, struct err *e)
{
	memset(in, 0, sizeof *in);
	struct tdvf t;
	struct tdhob_layout hob;
	in->pages = vm->pages;
	in->firmware_source = in->image_source = MR_IMAGE;
	const struct tar_member *fw = img->bios, *k = img->kernel;
	if (tdvf_parse(&t, fw->data.data, fw->data.len, e) || tdvf_mrtd(&t, PAGES_SINGLE_PASS, in->mrtd_single_pass, e) ||
	    tdvf_mrtd(&t, PAGES_TWO_PASS, in->mrtd_two_pass, e) || tdvf_cfv_digest(&t, in->cfv, e) ||
	    tdhob_from_tdvf(&hob, &t, e) || tdhob_digest(&hob, vm->memory_size, in->td_hob, e))
		return err_wrap(e, "firmware %s", fw->name);
	if (kernel_check_cmdline((const char *)img->cmdline.data, e))
		return err_wrap(e, "%s cmdline", IMAGE_METADATA);
	if (kernel_measured_digest(k->data.data, k->data.len, img->initrd->size, vm->memory_size, in->kernel, e))
		return err_wrap(e, "%s", k->name);
	memcpy(in->initrd, img->initrd->sha384, SHA384_LEN);
	return mr_cmdline_digest((const char *)img->cmdline.data, img->cmdline.len, in->cmdline, e);
}

int mr_inputs_from_lite(struct mr_inputs *in, const struct lite_material *l, const struct vm_config *vm, struct err *e)
{
	memset(in, 0, sizeof *in);
	/* The CBOR's kernel digest was made for QEMU's high-memory initrd
	 * placement, which 2 GiB happens to share (dstack-mr kernel.rs). */
	if (vm->memory_size != 0x80000000u && vm->memory_size < 0xB0000000u)
		return err_set(e, EXIT_REJECTED,
			       "the lite material covers memory_size of exactly 2 GiB or at least 0xB0000000 bytes; this VM has %llu: give --image or --fetch",
			       (unsigned long long)vm->memory_size);
	if (strcmp(l->ovmf, "pre202505"))
		return err_set(e, EXIT_MALFORMED, "%s: OVMF variant \"%s\" is not implemented", LITE_CBOR_FILE, l->ovmf);
	if (strcmp(l->ovmf, vm->ovmf_variant))
		return err_set(e, EXIT_REJECTED, "vm_config.ovmf_variant %s differs from the lite material's %s",
			       vm->ovmf_variant, l->ovmf);
	struct tdhob_layout hob;
	if (tdhob_from_witness(&hob, l->td_hob, l->td_hob_len, e) || tdhob_digest(&hob, vm->memory_size, in->td_hob, e))
		return err_wrap(e, "%s td_hob", LITE_CBOR_FILE);
	in->pages = vm->pages;
	in->firmware_source = in->image_source = MR_LITE;
	memcpy(in->mrtd_single_pass, l->mrtd_single_pass, SHA384_LEN);
	memcpy(in->mrtd_two_pass, l->mrtd_two_pass, SHA384_LEN);
	memcpy(in->cfv, dstack_pre202505_cfv, SHA384_LEN);
	memcpy(in->kernel, l->kernel_authenticode, SHA384_LEN);
	memcpy(in->cmdline, l->cmdline_sha384, SHA384_LEN);
	memcpy(in->initrd, l->initrd_sha384, SHA384_LEN);
	return EXIT_OK;
}

static struct mr_event *push(struct measurement *m, uint32_t imr, uint32_t type, const char *name, enum mr_source src)
{
	struct mr_event *ev = &m->ev[m->n++];
	*ev = (struct mr_event){ .imr = imr, .type = type, .name = name, .known = true, .source = src };
	return ev;
}

static int constant(struct measurement *m, uint32_t imr, uint32_t type, const char *name, const void *p, size_t n)
{
	return sha384_spans(push(m, imr, type, name, MR_COMPUTED)->digest, SPANS({ p, n }));
}

int mr_compose(struct measurement *m, const struct mr_inputs *in, struct err *e)
{
	memset(m, 0, sizeof *m);
	m->pages = in->pages;
	m->mrtd_source = in->firmware_source;
	bool two = in->pages == PAGES_TWO_PASS;
	memcpy(m->mrtd, two ? in->mrtd_two_pass : in->mrtd_single_pass, SHA384_LEN);
	memcpy(m->mrtd_other, two ? in->mrtd_single_pass : in->mrtd_two_pass, SHA384_LEN);
	static const uint8_t sep[4] = { 0 }, boot_order[2] = { 0 };
	static const char calling[] = "Calling EFI Application from Boot Option", exit_inv[] = "Exit Boot Services Invocation",
			  exit_ok[] = "Exit Boot Services Returned with Success";
	memcpy(push(m, 0, EV_EFI_HANDOFF_TABLES2, "td-hob", MR_COMPUTED)->digest, in->td_hob, SHA384_LEN);
	memcpy(push(m, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB2, "cfv", in->firmware_source == MR_IMAGE ? MR_IMAGE : MR_COMPUTED)->digest,
	       in->cfv, SHA384_LEN);
	int bad = efi_variable(efi_global, "SecureBoot", push(m, 0, EV_EFI_VARIABLE_DRIVER_CONFIG, "secure-boot", MR_COMPUTED)->digest) ||
		  efi_variable(efi_global, "PK", push(m, 0, EV_EFI_VARIABLE_DRIVER_CONFIG, "pk", MR_COMPUTED)->digest) ||
		  efi_variable(efi_global, "KEK", push(m, 0, EV_EFI_VARIABLE_DRIVER_CONFIG, "kek", MR_COMPUTED)->digest) ||
		  efi_variable(efi_security_db, "db", push(m, 0, EV_EFI_VARIABLE_DRIVER_CONFIG, "db", MR_COMPUTED)->digest) ||
		  efi_variable(efi_security_db, "dbx", push(m, 0, EV_EFI_VARIABLE_DRIVER_CONFIG, "dbx", MR_COMPUTED)->digest) ||
		  constant(m, 0, EV_SEPARATOR, "separator", sep, 4);
	static const char *const acpi_names[3] = { "acpi-loader", "acpi-rsdp", "acpi-tables" };
	const uint8_t *acpi[3] = { in->acpi.loader, in->acpi.rsdp, in->acpi.tables };
	for (int i = 0; i < 3; i++) {
		struct mr_event *ev = push(m, 0, ACPI_EVENT_TYPE, acpi_names[i], in->acpi_source);
		ev->known = in->has_acpi;
		if (in->has_acpi)
			memcpy(ev->digest, acpi[i], SHA384_LEN);
	}
	bad = bad || constant(m, 0, EV_EFI_VARIABLE_BOOT, "boot-order", boot_order, 2) ||
	      boot0000(push(m, 0, EV_EFI_VARIABLE_BOOT, "boot0000", MR_COMPUTED)->digest);
	memcpy(push(m, 1, EV_EFI_BOOT_SERVICES_APPLICATION, "kernel", in->image_source)->digest, in->kernel, SHA384_LEN);
	bad = bad || constant(m, 1, EV_EFI_ACTION, "calling-efi-application", calling, sizeof calling - 1) ||
	      constant(m, 1, EV_SEPARATOR, "separator", sep, 4) ||
	      constant(m, 1, EV_EFI_ACTION, "exit-boot-services-invocation", exit_inv, sizeof exit_inv - 1) ||
	      constant(m, 1, EV_EFI_ACTION, "exit-boot-services-returned", exit_ok, sizeof exit_ok - 1);
	memcpy(push(m, 2, EV_EVENT_TAG, "cmdline", in->image_source)->digest, in->cmdline, SHA384_LEN);
	memcpy(push(m, 2, EV_EVENT_TAG, "initrd", in->image_source)->digest, in->initrd, SHA384_LEN);
	/* Replay: RTMR = SHA-384(RTMR || digest), from zero. */
	for (int r = 0; r < 3 && !bad; r++) {
		m->known[r] = true;
		for (size_t i = 0; i < m->n && !bad; i++) {
			if (m->ev[i].imr != (uint32_t)r)
				continue;
			if (!m->ev[i].known) {
				m->known[r] = false;
				break;
			}
			bad = sha384_spans(m->rtmr[r], SPANS({ m->rtmr[r], SHA384_LEN }, { m->ev[i].digest, SHA384_LEN }));
		}
		if (!m->known[r])
			memset(m->rtmr[r], 0, SHA384_LEN);
	}
	return bad ? err_set(e, EXIT_SYSTEM, "SHA-384 failed") : EXIT_OK;
}

static const char *const reg_names[4] = { "mrtd", "rtmr0", "rtmr1", "rtmr2" };

/* The log's events of one register, boot digests only (EV_NO_ACTION is not extended). */
static size_t log_events(const struct event_log *log, uint32_t imr, const struct tdx_event **out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; log && i < log->n; i++)
		if (log->ev[i].imr == imr && log->ev[i].type != EV_NO_ACTION) {
			if (n < cap)
				out[n] = &log->ev[i];
			n++;
		}
	return n;
}

static void first_difference(struct mr_verdict *v, int reg, long event, const char *name, const uint8_t *expected,
			     const uint8_t *actual, bool from_log)
{
	if (v->first.has)
		return;
	v->first.has = true;
	v->first.reg = reg;
	v->first.event = event;
	v->first.name = name;
	v->first.expected_known = expected != NULL;
	v->first.actual_known = actual != NULL;
	v->first.actual_from_log = from_log;
	if (expected)
		memcpy(v->first.expected, expected, SHA384_LEN);
	if (actual)
		memcpy(v->first.actual, actual, SHA384_LEN);
}

static void rtmr_difference(const struct measurement *m, int r, const uint8_t *quoted, const struct event_log *log,
			    bool log_covers, struct mr_verdict *v)
{
	char *line = v->lines[v->nlines++];
	size_t cap = sizeof v->lines[0];
	char want[97], got[97];
	hex_encode(m->rtmr[r], SHA384_LEN, want);
	hex_encode(quoted, SHA384_LEN, got);
	const struct mr_event *exp[MR_MAX_EVENTS];
	size_t ne = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->ev[i].imr == (uint32_t)r)
			exp[ne++] = &m->ev[i];
	if (!log_covers) {
		snprintf(line, cap, "%s differs: expected %s, quote has %s (the evidence's log does not carry RTMR%d's events, so the event cannot be named)",
			 reg_names[r + 1], want, got, r);
		first_difference(v, r + 1, -1, NULL, m->rtmr[r], quoted, false);
		return;
	}
	const struct tdx_event *seen[64];
	size_t nl = log_events(log, (uint32_t)r, seen, 64);
	size_t common = ne < nl ? ne : nl;
	if (common > 64)
		common = 64;
	for (size_t i = 0; i < common; i++) {
		const struct tdx_event *l = seen[i];
		if (l->digest.len == SHA384_LEN && !memcmp(l->digest.data, exp[i]->digest, SHA384_LEN))
			continue;
		char ed[97], ld[97] = "no 48-byte digest";
		hex_encode(exp[i]->digest, SHA384_LEN, ed);
		if (l->digest.len == SHA384_LEN)
			hex_encode(l->digest.data, SHA384_LEN, ld);
		snprintf(line, cap, "%s event %zu (%s): expected %s, log has %s", reg_names[r + 1], i, exp[i]->name, ed, ld);
		first_difference(v, r + 1, (long)i, exp[i]->name, exp[i]->digest,
				 l->digest.len == SHA384_LEN ? l->digest.data : NULL, true);
		return;
	}
	if (nl != ne) {
		snprintf(line, cap, "%s: the log has %zu events, expected %zu (the first %zu are the expected ones)", reg_names[r + 1],
			 nl, ne, common);
		first_difference(v, r + 1, (long)common, common < ne ? exp[common]->name : NULL,
				 common < ne ? exp[common]->digest : NULL,
				 common < nl && seen[common]->digest.len == SHA384_LEN ? seen[common]->digest.data : NULL, true);
		return;
	}
	snprintf(line, cap, "%s differs: expected %s, quote has %s, though the log's events are the expected ones: the log does not belong to this quote",
		 reg_names[r + 1], want, got);
	first_difference(v, r + 1, -1, NULL, m->rtmr[r], quoted, false);
}

void mr_compare(const struct measurement *m, const struct td_report *q, const struct event_log *log, unsigned log_regs,
		struct mr_verdict *v)
{
	memset(v, 0, sizeof *v);
	v->match[0] = !memcmp(m->mrtd, q->mr_td, SHA384_LEN);
	if (!v->match[0]) {
		char want[97], got[97];
		hex_encode(m->mrtd, SHA384_LEN, want);
		hex_encode(q->mr_td, SHA384_LEN, got);
		bool other = !memcmp(m->mrtd_other, q->mr_td, SHA384_LEN);
		snprintf(v->lines[v->nlines++], sizeof v->lines[0], "mrtd differs: expected %s (%s page adds), quote has %s%s",
			 want, m->pages == PAGES_TWO_PASS ? "two-pass" : "single-pass", got,
			 other ? "; the other page-add order's value matches: vm_config's QEMU version or page-add flag is wrong"
			       : "");
		first_difference(v, 0, -1, NULL, m->mrtd, q->mr_td, false);
	}
	for (int r = 0; r < 3; r++) {
		if (!m->known[r]) {
			snprintf(v->lines[v->nlines++], sizeof v->lines[0],
				 "rtmr%d: not computed (no ACPI digests: give evidence with an event log, or --acpi)", r);
			first_difference(v, r + 1, -1, NULL, NULL, q->rtmr[r], false);
			continue;
		}
		v->match[r + 1] = !memcmp(m->rtmr[r], q->rtmr[r], SHA384_LEN);
		if (!v->match[r + 1])
			rtmr_difference(m, r, q->rtmr[r], log, (log_regs >> r) & 1, v);
	}
	v->ok = v->match[0] && v->match[1] && v->match[2] && v->match[3];
}
