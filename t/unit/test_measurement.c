/* The measured-boot composition against the real samples: on the dstack
 * 0.5.9 Info (phala-info.json) the TD HOB from Debian's OVMF and the
 * sample's vm_config is the log's RTMR0 event 0 and every constant event is
 * the log's; on the dstack 0.6.0 lite fixture all four registers are the
 * quote's. Then the comparison's words. */
#include <stdbool.h>

#include "evidence.h"
#include "measurement.h"
#include "tdhob.h"
#include "unit.h"

struct sample {
	struct evidence ev;
	struct vm_config vm;
	struct buf quote;
	struct tdx_quote q;
};

static void load(struct sample *s, const char *path)
{
	size_t n;
	char *text = unit_slurp(path, &n);
	struct err e = { 0 };
	CHECK(evidence_load(&s->ev, (uint8_t *)text, n, &e) == EXIT_OK && s->ev.has_vm_config);
	CHECK(vmconfig_parse(&s->vm, (const char *)s->ev.vm_config.data, s->ev.vm_config.len, &e) == EXIT_OK);
	const struct buf *q = s->ev.has_quote ? &s->ev.quote : &s->ev.static_quote;
	memset(&s->quote, 0, sizeof s->quote);
	CHECK(quote_input_decode(q->data, q->len, &s->quote, &e) == EXIT_OK);
	CHECK(quote_parse(&s->q, s->quote.data, s->quote.len, &e) == EXIT_OK);
	free(text);
}

static void drop(struct sample *s)
{
	evidence_free(&s->ev);
	vmconfig_free(&s->vm);
	buf_free(&s->quote);
}

/* The log's k-th boot event of register imr. */
static const struct tdx_event *logged(const struct evidence *ev, uint32_t imr, size_t k)
{
	for (size_t i = 0; i < ev->log.n; i++)
		if (ev->log.ev[i].imr == imr && k-- == 0)
			return &ev->log.ev[i];
	return NULL;
}

static void td_hob_from_debian_ovmf_is_the_0_5_9_logs_event_0(void)
{
	struct sample s;
	load(&s, "testdata/phala-info.json");
	CHECK(s.vm.memory_size == 0x80000000u && s.vm.cpu_count == 1);
	size_t n;
	char *fw = unit_slurp("/usr/share/ovmf/OVMF.fd", &n);
	struct tdvf t;
	struct tdhob_layout l;
	struct err e = { 0 };
	uint8_t d[48];
	CHECK(tdvf_parse(&t, (uint8_t *)fw, n, &e) == 0 && tdhob_from_tdvf(&l, &t, &e) == 0);
	CHECK(tdhob_digest(&l, s.vm.memory_size, d, &e) == 0);
	const struct tdx_event *ev0 = logged(&s.ev, 0, 0);
	CHECK(ev0 && ev0->type == 0x8000000Bu && ev0->digest.len == 48 && !memcmp(ev0->digest.data, d, 48));
	free(fw);
	drop(&s);
}

/* The image digests (CFV, kernel, command line, initrd) taken from the log,
 * everything else computed: the events are the log's, one by one, and the
 * registers are the quote's. */
static void constant_events_are_the_0_5_9_logs(void)
{
	struct sample s;
	load(&s, "testdata/phala-info.json");
	struct mr_inputs in;
	struct measurement m;
	struct err e = { 0 };
	memset(&in, 0, sizeof in);
	in.pages = s.vm.pages;
	CHECK(in.pages == PAGES_TWO_PASS); /* qemu_single_pass_add_pages: true, QEMU 8.2.2 */
	in.image_source = in.firmware_source = MR_LOG;
	memcpy(in.td_hob, logged(&s.ev, 0, 0)->digest.data, 48);
	memcpy(in.cfv, logged(&s.ev, 0, 1)->digest.data, 48);
	memcpy(in.kernel, logged(&s.ev, 1, 0)->digest.data, 48);
	memcpy(in.cmdline, logged(&s.ev, 2, 0)->digest.data, 48);
	memcpy(in.initrd, logged(&s.ev, 2, 1)->digest.data, 48);
	memcpy(in.mrtd_two_pass, s.q.td.mr_td, 48);
	CHECK(acpi_from_log(&in.acpi, &s.ev.log, &e) == EXIT_OK); /* unnamed, in order (0.5.9) */
	in.has_acpi = true;
	in.acpi_source = MR_LOG;
	CHECK(mr_compose(&m, &in, &e) == EXIT_OK);
	CHECK(m.n == 20);
	size_t k[3] = { 0 }, constants = 0;
	for (size_t i = 0; i < m.n; i++) {
		const struct tdx_event *l = logged(&s.ev, m.ev[i].imr, k[m.ev[i].imr]++);
		CHECK(l && l->type == m.ev[i].type && l->digest.len == 48 && !memcmp(l->digest.data, m.ev[i].digest, 48));
		if (l && memcmp(l->digest.data, m.ev[i].digest, 48))
			printf("# %u/%s differs\n", m.ev[i].imr, m.ev[i].name);
		constants += m.ev[i].source == MR_COMPUTED && strcmp(m.ev[i].name, "td-hob") && strcmp(m.ev[i].name, "cfv");
	}
	CHECK(constants == 12); /* 8 in RTMR0 (secure boot x5, separator, BootOrder, Boot0000), 4 in RTMR1 */
	struct mr_verdict v;
	mr_compare(&m, &s.q.td, &s.ev.log, 7, &v);
	CHECK(v.ok && v.nlines == 0);
	drop(&s);
}

static void lite_fixture_equals_its_quote(void)
{
	struct sample s;
	load(&s, "testdata/dstack-tdx-lite-getquote.json");
	struct lite_material l;
	struct mr_inputs in;
	struct measurement m;
	struct mr_verdict v;
	struct err e = { 0 };
	const struct vm_config *vm = &s.vm;
	CHECK(lite_load(&l, vm->checksum_file.data, vm->checksum_file.len, vm->measurement.data, vm->measurement.len,
			vm->os_image_hash, &e) == EXIT_OK);
	CHECK(mr_inputs_from_lite(&in, &l, vm, &e) == EXIT_OK);
	CHECK(acpi_from_log(&in.acpi, &s.ev.log, &e) == EXIT_OK); /* named (0.6.0) */
	in.has_acpi = true;
	in.acpi_source = MR_LOG;
	CHECK(mr_compose(&m, &in, &e) == EXIT_OK);
	mr_compare(&m, &s.q.td, &s.ev.log, 7, &v);
	CHECK(v.ok);
	/* A 4 GiB VM has another TD HOB: RTMR0 event 0 is named. */
	struct vm_config big = *vm;
	big.memory_size = 0x100000000ull;
	CHECK(mr_inputs_from_lite(&in, &l, &big, &e) == EXIT_OK);
	in.has_acpi = true;
	CHECK(acpi_from_log(&in.acpi, &s.ev.log, &e) == EXIT_OK);
	CHECK(mr_compose(&m, &in, &e) == EXIT_OK);
	mr_compare(&m, &s.q.td, &s.ev.log, 7, &v);
	CHECK(!v.ok && v.match[0] && !v.match[1] && v.match[2] && v.match[3]);
	CHECK(v.first.has && v.first.reg == 1 && v.first.event == 0 && !strcmp(v.first.name, "td-hob"));
	CHECK(strstr(v.lines[0], "rtmr0 event 0 (td-hob): expected ") != NULL);
	/* Below 0xB0000000 and not 2 GiB the material has no kernel digest. */
	big.memory_size = 0x90000000ull;
	CHECK(mr_inputs_from_lite(&in, &l, &big, &e) == EXIT_REJECTED && strstr(e.msg, "--image"));
	drop(&s);
}

static void comparison_words(void)
{
	struct sample s;
	load(&s, "testdata/dstack-tdx-lite-getquote.json");
	struct lite_material l;
	struct mr_inputs in;
	struct measurement m;
	struct mr_verdict v;
	struct err e = { 0 };
	CHECK(lite_load(&l, s.vm.checksum_file.data, s.vm.checksum_file.len, s.vm.measurement.data, s.vm.measurement.len,
			s.vm.os_image_hash, &e) == 0);
	CHECK(mr_inputs_from_lite(&in, &l, &s.vm, &e) == 0 && acpi_from_log(&in.acpi, &s.ev.log, &e) == 0);
	in.has_acpi = true;
	/* The wrong page-add order: the other candidate is pointed out. */
	in.pages = PAGES_SINGLE_PASS;
	CHECK(mr_compose(&m, &in, &e) == 0);
	mr_compare(&m, &s.q.td, &s.ev.log, 7, &v);
	CHECK(!v.match[0] && v.match[1] && v.first.reg == 0 && strstr(v.lines[0], "other page-add order"));
	in.pages = PAGES_TWO_PASS;
	/* Another kernel: RTMR1 event 0; without a log for RTMR1, unnamed. */
	in.kernel[5] ^= 1;
	CHECK(mr_compose(&m, &in, &e) == 0);
	mr_compare(&m, &s.q.td, &s.ev.log, 7, &v);
	CHECK(v.nlines == 1 && v.first.reg == 2 && v.first.event == 0 && !strcmp(v.first.name, "kernel"));
	CHECK(v.first.actual_from_log && strstr(v.lines[0], "rtmr1 event 0 (kernel): expected "));
	mr_compare(&m, &s.q.td, &s.ev.log, 1, &v);
	CHECK(v.first.event == -1 && strstr(v.lines[0], "cannot be named"));
	in.kernel[5] ^= 1;
	/* No ACPI digests: RTMR0 is not computed and never matches. */
	in.has_acpi = false;
	CHECK(mr_compose(&m, &in, &e) == 0 && !m.known[0] && m.known[1]);
	mr_compare(&m, &s.q.td, &s.ev.log, 7, &v);
	CHECK(!v.ok && !v.match[1] && strstr(v.lines[0], "not computed"));
	drop(&s);
}

static void command_line_is_utf16(void)
{
	uint8_t got[48], want[48];
	struct err e = { 0 };
	/* "é €" and one astral character (a surrogate pair), then the suffix and NUL. */
	static const char text[] = "\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80";
	static const uint8_t u16[] = { 0xe9, 0, ' ', 0, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde, ' ', 0, 'i', 0, 'n', 0, 'i', 0,
				       't', 0, 'r', 0, 'd', 0, '=', 0, 'i', 0, 'n', 0, 'i', 0, 't', 0, 'r', 0, 'd', 0, 0, 0 };
	CHECK(mr_cmdline_digest(text, strlen(text), got, &e) == EXIT_OK);
	CHECK(sha384_spans(want, SPANS({ u16, sizeof u16 })) == 0 && !memcmp(got, want, 48));
	CHECK(mr_cmdline_digest("\xff", 1, got, &e) == EXIT_MALFORMED);
	CHECK(mr_cmdline_digest("a\0b", 3, got, &e) == EXIT_MALFORMED);
}

int main(void)
{
	RUN(td_hob_from_debian_ovmf_is_the_0_5_9_logs_event_0);
	RUN(constant_events_are_the_0_5_9_logs);
	RUN(lite_fixture_equals_its_quote);
	RUN(comparison_words);
	RUN(command_line_is_utf16);
	return UNIT_DONE();
}
