/* TDVF metadata, MRTD and the TD HOB: Debian's OVMF (real TDVF metadata,
 * from the ovmf package), dstack's witness vector, the real logs' TD HOB
 * digest, and forged firmware. */
#include <stdbool.h>

#include "tdhob.h"
#include "tdvf.h"
#include "unit.h"

#define OVMF "/usr/share/ovmf/OVMF.fd"
#define GIB2 0x80000000ull

/* RTMR0 event 0 of the real dstack-0.5.9 sample and the dstack-0.6.0 fixture (2 GiB). */
static const char td_hob_2g[] =
	"0b8772e5b0b41b83e6044a68397e02f49fb47066b4fbe4917ea2c45c64f323fdacbb37948f821ebaf8bc9c938ba8a749";

static bool hex_is(const uint8_t *p, size_t n, const char *hex)
{
	char h[2 * 64 + 1];
	hex_encode(p, n, h);
	if (strcmp(h, hex))
		printf("# got %s\n", h);
	return !strcmp(h, hex);
}

static void debian_ovmf_sections(void)
{
	size_t n;
	char *fw = unit_slurp(OVMF, &n);
	struct tdvf t;
	struct err e = { 0 };
	CHECK(tdvf_parse(&t, (uint8_t *)fw, n, &e) == EXIT_OK);
	CHECK(t.nsec == 6);
	/* BFV measured and extended; CFV added only; the TD HOB and TEMP_MEM
	 * ranges the notes list for dstack's OVMF too. */
	CHECK(t.sec[0].type == TDVF_SECTION_BFV && t.sec[0].attributes == TDVF_ATTR_MR_EXTEND);
	CHECK(t.sec[0].raw_size == t.sec[0].mem_size);
	CHECK(t.sec[1].type == TDVF_SECTION_CFV && t.sec[1].attributes == 0);
	CHECK(t.sec[4].type == TDVF_SECTION_TD_HOB && t.sec[4].address == 0x809000 && t.sec[4].mem_size == 0x2000);
	CHECK(t.sec[5].type == TDVF_SECTION_TEMP_MEM && t.sec[5].address == 0x800000 && t.sec[5].mem_size == 0x6000);
	uint8_t one[48], two[48];
	CHECK(tdvf_mrtd(&t, PAGES_SINGLE_PASS, one, &e) == EXIT_OK);
	CHECK(tdvf_mrtd(&t, PAGES_TWO_PASS, two, &e) == EXIT_OK);
	CHECK(memcmp(one, two, 48) != 0);
	free(fw);
}

static void td_hob_of_debian_ovmf_is_the_real_logs_event_0(void)
{
	size_t n;
	char *fw = unit_slurp(OVMF, &n);
	struct tdvf t;
	struct tdhob_layout l;
	struct err e = { 0 };
	uint8_t d[48];
	CHECK(tdvf_parse(&t, (uint8_t *)fw, n, &e) == EXIT_OK);
	CHECK(tdhob_from_tdvf(&l, &t, &e) == EXIT_OK);
	CHECK(l.hob_base == 0x809000 && l.n == 4);
	CHECK(tdhob_digest(&l, GIB2, d, &e) == EXIT_OK && hex_is(d, 48, td_hob_2g));
	/* Another memory size, another HOB. */
	uint8_t d4[48];
	CHECK(tdhob_digest(&l, GIB2 * 2, d4, &e) == EXIT_OK && memcmp(d, d4, 48));
	free(fw);
}

static void witness_is_dstacks_vector(void)
{
	size_t n;
	char *fw = unit_slurp(OVMF, &n);
	struct tdvf t;
	struct tdhob_layout l, w;
	struct err e = { 0 };
	struct buf out = { 0 };
	CHECK(tdvf_parse(&t, (uint8_t *)fw, n, &e) == EXIT_OK && tdhob_from_tdvf(&l, &t, &e) == EXIT_OK);
	/* dstack-mr tdvf.rs unit test: the same four ranges. */
	CHECK(tdhob_witness(&l, &out, &e) == EXIT_OK && hex_is(out.data, out.len, "80100904000609020b021010"));
	CHECK(tdhob_from_witness(&w, out.data, out.len, &e) == EXIT_OK);
	CHECK(w.n == l.n && w.hob_base == l.hob_base && !memcmp(w.r, l.r, l.n * sizeof *l.r));
	/* The two routes give the same HOB at every size, split or not. */
	static const uint64_t sizes[] = { 0x40000000ull, GIB2, 0xB0000000ull, 0x200000000ull, 0x1000000000ull };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		uint8_t a[48], b[48];
		CHECK(tdhob_digest(&l, sizes[i], a, &e) == EXIT_OK && tdhob_digest(&w, sizes[i], b, &e) == EXIT_OK);
		CHECK(!memcmp(a, b, 48));
	}
	buf_free(&out);
	free(fw);
}

static void hostile_witnesses(void)
{
	struct tdhob_layout l;
	struct err e = { 0 };
	static const struct {
		const char *hex, *why;
	} bad[] = {
		{ "80100904000609020b0210", "truncated" },
		{ "80100904000609020b02101000", "trailing" },
		{ "801009040006090210021010", "overlap" },          /* range 2 starts inside range 1 */
		{ "801000ff01", "ranges" },                         /* 255 ranges declared */
		{ "ffffffffffffffffff7f0000", "too large" },         /* a varuint past 64 bits */
		{ "ffffffffffffffff7f000100", "overflows" },         /* page number * 4096 overflows */
		{ "8010200100" "06", "not in an accepted range" }, /* TD HOB outside every range */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct buf w = { 0 };
		CHECK(hex_decode(bad[i].hex, strlen(bad[i].hex), &w));
		memset(&e, 0, sizeof e);
		CHECK(tdhob_from_witness(&l, w.data, w.len, &e) == EXIT_MALFORMED);
		if (!strstr(e.msg, bad[i].why))
			printf("# %s: %s\n", bad[i].hex, e.msg);
		CHECK(strstr(e.msg, bad[i].why) != NULL);
		buf_free(&w);
	}
	/* Memory that does not reach above the ranges. */
	struct buf w = { 0 };
	CHECK(hex_decode("80100904000609020b021010", 24, &w) && tdhob_from_witness(&l, w.data, w.len, &e) == EXIT_OK);
	uint8_t d[48];
	CHECK(tdhob_digest(&l, 0x820000, d, &e) == EXIT_MALFORMED);
	buf_free(&w);
}

/* A synthetic firmware: 64 KiB, sections as given, the metadata at 0x8000,
 * the GUIDed table (metadata-offset entry, footer) ending 32 bytes before
 * the end. Options forge one thing at a time. */
struct forge {
	uint32_t nsec, count, length, version;
	struct tdvf_section sec[8];
	int entry_len;   /* override of the metadata entry's length (-1: right) */
	int table_len;   /* override of the table length (-1: right) */
	uint32_t offset; /* override of the metadata offset (0: right) */
};

#define FW_LEN 0x10000u
#define META_AT 0x8000u

static void put32(uint8_t *p, uint32_t v)
{
	le_store(p, v, 4);
}

static uint8_t *forge(const struct forge *f)
{
	static const uint8_t footer[16] = { 0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
					    0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d };
	static const uint8_t meta[16] = { 0x35, 0x65, 0x7a, 0xe4, 0x4a, 0x98, 0x98, 0x47,
					  0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2 };
	uint8_t *fw = calloc(1, FW_LEN);
	for (size_t i = 0; i < FW_LEN; i++)
		fw[i] = (uint8_t)(i * 7);
	uint8_t *d = fw + META_AT;
	memcpy(d, "TDVF", 4);
	put32(d + 4, f->length ? f->length : 16 + 32 * f->count);
	put32(d + 8, f->version ? f->version : 1);
	put32(d + 12, f->count);
	for (uint32_t i = 0; i < f->nsec; i++) {
		uint8_t *s = d + 16 + 32 * i;
		put32(s, f->sec[i].data_offset);
		put32(s + 4, f->sec[i].raw_size);
		le_store(s + 8, f->sec[i].address, 8);
		le_store(s + 16, f->sec[i].mem_size, 8);
		put32(s + 24, f->sec[i].type);
		put32(s + 28, f->sec[i].attributes);
	}
	uint8_t *end = fw + FW_LEN - 32;
	memcpy(end - 16, footer, 16);
	le_store(end - 18, f->table_len >= 0 ? (uint64_t)f->table_len : 18 + 22, 2);
	uint8_t *entry = end - 18; /* the metadata entry ends where the footer starts */
	memcpy(entry - 16, meta, 16);
	le_store(entry - 18, f->entry_len >= 0 ? (uint64_t)f->entry_len : 22, 2);
	put32(entry - 22, f->offset ? f->offset : FW_LEN - META_AT);
	return fw;
}

static struct forge good_forge(void)
{
	struct forge f = { .nsec = 3, .count = 3, .entry_len = -1, .table_len = -1 };
	f.sec[0] = (struct tdvf_section){ 0x1000, 0x2000, 0xfffe0000, 0x2000, TDVF_SECTION_BFV, TDVF_ATTR_MR_EXTEND };
	f.sec[1] = (struct tdvf_section){ 0x3000, 0x1000, 0xfffd0000, 0x1000, TDVF_SECTION_CFV, 0 };
	f.sec[2] = (struct tdvf_section){ 0, 0, 0x809000, 0x2000, TDVF_SECTION_TD_HOB, 0 };
	return f;
}

static int parse_forged(const struct forge *f, struct err *e)
{
	uint8_t *fw = forge(f);
	struct tdvf t;
	memset(e, 0, sizeof *e);
	int rc = tdvf_parse(&t, fw, FW_LEN, e);
	uint8_t d[48];
	if (rc == EXIT_OK)
		rc = tdvf_mrtd(&t, PAGES_TWO_PASS, d, e);
	free(fw);
	return rc;
}

static void forged_metadata_is_refused(void)
{
	struct err e;
	struct forge f = good_forge();
	CHECK(parse_forged(&f, &e) == EXIT_OK);
	struct {
		struct forge f;
		const char *why;
	} bad[12];
	for (int i = 0; i < 12; i++)
		bad[i].f = good_forge();
	bad[0].f.sec[1].address = 0xfffe1000, bad[0].why = "overlap in memory";
	bad[1].f.sec[1].data_offset = 0x2000, bad[1].why = "overlap in the file";
	bad[2].f.sec[1].data_offset = FW_LEN - 0x800, bad[2].why = "past the end";
	bad[3].f.sec[2].mem_size = (uint64_t)1 << 52, bad[3].why = "exceed the limit"; /* 2^40 pages */
	bad[4].f.count = 1000, bad[4].why = "declares 1000 sections";
	bad[5].f.length = 17, bad[5].why = "does not match";
	bad[6].f.version = 2, bad[6].why = "version 2";
	bad[7].f.sec[0].mem_size = 0x3000, bad[7].why = "MR.EXTEND";
	bad[8].f.entry_len = 0, bad[8].why = "length 0"; /* a zero length walks forever elsewhere */
	bad[9].f.table_len = 0xffff, bad[9].why = "does not fit";
	bad[10].f.offset = FW_LEN + 1, bad[10].why = "beyond";
	bad[11].f.sec[2].address = 0x809800, bad[11].why = "whole number of pages";
	for (int i = 0; i < 12; i++) {
		CHECK(parse_forged(&bad[i].f, &e) == EXIT_MALFORMED);
		if (!strstr(e.msg, bad[i].why))
			printf("# case %d: %s\n", i, e.msg);
		CHECK(strstr(e.msg, bad[i].why) != NULL);
	}
	/* A table whose count runs past the file: the descriptor near the end. */
	f = good_forge();
	f.offset = 48 + 16 + 32; /* 16+32 bytes before the GUIDed table: the second section overruns */
	CHECK(parse_forged(&f, &e) == EXIT_MALFORMED);
}

static void every_truncation_of_ovmf_fails_cleanly(void)
{
	size_t n;
	char *fw = unit_slurp(OVMF, &n);
	/* The footer is at the end: any shorter file loses it. Sample sizes. */
	for (size_t k = 0; k < n; k += 4099) {
		struct tdvf t;
		struct err e = { 0 };
		CHECK(tdvf_parse(&t, (uint8_t *)fw, k, &e) == EXIT_MALFORMED);
	}
	free(fw);
}

int main(void)
{
	RUN(debian_ovmf_sections);
	RUN(td_hob_of_debian_ovmf_is_the_real_logs_event_0);
	RUN(witness_is_dstacks_vector);
	RUN(hostile_witnesses);
	RUN(forged_metadata_is_refused);
	RUN(every_truncation_of_ovmf_fails_cleanly);
	return UNIT_DONE();
}
