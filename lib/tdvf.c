#include "tdvf.h"

#include <string.h>

#include "bytes.h"

/* GUIDs as stored: the first three fields little-endian. */
static const uint8_t footer_guid[16] = { 0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
					 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d }; /* 96b582de-1fb2-45f7-baea-a366c55a082d */
static const uint8_t metadata_guid[16] = { 0x35, 0x65, 0x7a, 0xe4, 0x4a, 0x98, 0x98, 0x47,
					   0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2 }; /* e47a6535-984a-4798-865e-4685a7bf8ec2 */

/* The OVMF reset vector ends 32 bytes before the end of the file; the GUIDed
 * table (entries of [data][u16 length][GUID], length counting all three)
 * ends right there, with the footer entry last. */
#define BYTES_AFTER_TABLE 32u
#define ENTRY_TRAILER 18u

/* n bytes at off, or NULL when they are not all inside the file. */
static const uint8_t *window(const uint8_t *p, size_t len, size_t off, size_t n)
{
	struct cursor c = cursor_of(p, len);
	cur_take(&c, off);
	return cur_take(&c, n);
}

/* The metadata's offset from the end of the file, from the GUIDed table. */
static int find_metadata_offset(const uint8_t *fw, size_t len, uint32_t *offset, struct err *e)
{
	if (len < BYTES_AFTER_TABLE + ENTRY_TRAILER)
		return err_set(e, EXIT_MALFORMED, "firmware of %zu bytes is too small for a TDVF footer", len);
	size_t end = len - BYTES_AFTER_TABLE;
	const uint8_t *footer = window(fw, len, end - ENTRY_TRAILER, ENTRY_TRAILER);
	if (memcmp(footer + 2, footer_guid, 16))
		return err_set(e, EXIT_MALFORMED, "no GUIDed table footer 32 bytes before the end: not an OVMF/TDVF image");
	size_t table_len = (size_t)le_load(footer, 2);
	if (table_len < ENTRY_TRAILER || table_len > end)
		return err_set(e, EXIT_MALFORMED, "GUIDed table length %zu does not fit the firmware", table_len);
	size_t start = end - table_len, pos = end - ENTRY_TRAILER;
	while (pos > start) {
		if (pos - start < ENTRY_TRAILER)
			return err_set(e, EXIT_MALFORMED, "GUIDed table: %zu stray bytes before offset %zu", pos - start, pos);
		const uint8_t *t = window(fw, len, pos - ENTRY_TRAILER, ENTRY_TRAILER);
		size_t entry_len = (size_t)le_load(t, 2);
		if (entry_len < ENTRY_TRAILER || entry_len > pos - start)
			return err_set(e, EXIT_MALFORMED, "GUIDed table entry at offset %zu has length %zu, outside the table",
				       pos - ENTRY_TRAILER, entry_len);
		if (!memcmp(t + 2, metadata_guid, 16)) {
			if (entry_len < ENTRY_TRAILER + 4)
				return err_set(e, EXIT_MALFORMED, "TDVF metadata-offset entry carries no offset");
			*offset = (uint32_t)le_load(t - 4, 4);
			return EXIT_OK;
		}
		pos -= entry_len;
	}
	return err_set(e, EXIT_MALFORMED, "the GUIDed table has no TDVF metadata entry: not a TDX firmware");
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

static int check_section(const struct tdvf *t, size_t i, uint64_t *pages, struct err *e)
{
	const struct tdvf_section *s = &t->sec[i];
	if (s->type > TDVF_SECTION_TEMP_MEM)
		return err_set(e, EXIT_MALFORMED, "TDVF section %zu: type %u is not implemented (only BFV, CFV, TD_HOB, TEMP_MEM)",
			       i, s->type);
	if (s->attributes & ~(TDVF_ATTR_MR_EXTEND | TDVF_ATTR_PAGE_AUG))
		return err_set(e, EXIT_MALFORMED, "TDVF section %zu: unknown attributes 0x%x", i, s->attributes);
	if (s->address % TDVF_PAGE || s->mem_size % TDVF_PAGE || s->mem_size == 0)
		return err_set(e, EXIT_MALFORMED, "TDVF section %zu: memory 0x%llx+0x%llx is not a whole number of pages", i,
			       (unsigned long long)s->address, (unsigned long long)s->mem_size);
	if (s->address > UINT64_MAX - s->mem_size)
		return err_set(e, EXIT_MALFORMED, "TDVF section %zu: memory range wraps around", i);
	if (s->mem_size < s->raw_size)
		return err_set(e, EXIT_MALFORMED, "TDVF section %zu: %u raw bytes exceed its memory size", i, s->raw_size);
	if ((uint64_t)s->data_offset + s->raw_size > t->len)
		return err_set(e, EXIT_MALFORMED, "TDVF section %zu: raw data 0x%x+0x%x is past the end of the %zu-byte file", i,
			       s->data_offset, s->raw_size, t->len);
	/* QEMU zero-fills memory past the raw data; dstack's MRTD reads file
	 * bytes there instead. Only the case where both agree is accepted. */
	if ((s->attributes & TDVF_ATTR_MR_EXTEND) && s->mem_size != s->raw_size)
		return err_set(e, EXIT_MALFORMED, "TDVF section %zu: MR.EXTEND over memory not backed by raw data is not implemented", i);
	uint64_t n = s->mem_size / TDVF_PAGE;
	if (n > TDVF_MAX_PAGES || *pages > TDVF_MAX_PAGES - n)
		return err_set(e, EXIT_MALFORMED, "TDVF section %zu: %llu pages exceed the limit of %llu pages in all", i,
			       (unsigned long long)n, (unsigned long long)TDVF_MAX_PAGES);
	*pages += n;
	for (size_t j = 0; j < i; j++) {
		const struct tdvf_section *o = &t->sec[j];
		if (ranges_overlap(s->address, s->mem_size, o->address, o->mem_size))
			return err_set(e, EXIT_MALFORMED, "TDVF sections %zu and %zu overlap in memory", j, i);
		if (ranges_overlap(s->data_offset, s->raw_size, o->data_offset, o->raw_size))
			return err_set(e, EXIT_MALFORMED, "TDVF sections %zu and %zu overlap in the file", j, i);
	}
	return EXIT_OK;
}

int tdvf_parse(struct tdvf *t, const uint8_t *fw, size_t len, struct err *e)
{
	memset(t, 0, sizeof *t);
	t->fw = fw;
	t->len = len;
	uint32_t from_end = 0;
	if (find_metadata_offset(fw, len, &from_end, e))
		return e->code;
	if (from_end > len)
		return err_set(e, EXIT_MALFORMED, "TDVF metadata offset %u is beyond the %zu-byte file", from_end, len);
	struct cursor c = cursor_of(fw, len);
	cur_take(&c, len - from_end);
	const uint8_t *sig = cur_take(&c, 4);
	uint32_t length = 0, version = 0, count = 0;
	cur_u32le(&c, &length);
	cur_u32le(&c, &version);
	cur_u32le(&c, &count);
	if (!cur_ok(&c) || memcmp(sig, "TDVF", 4))
		return err_set(e, EXIT_MALFORMED, "no TDVF descriptor at the metadata offset");
	if (version != 1)
		return err_set(e, EXIT_MALFORMED, "TDVF descriptor version %u is not implemented (only 1)", version);
	if (count == 0 || count > TDVF_MAX_SECTIONS)
		return err_set(e, EXIT_MALFORMED, "TDVF descriptor declares %u sections (1 to %d allowed)", count,
			       TDVF_MAX_SECTIONS);
	if (length != 16 + 32 * count)
		return err_set(e, EXIT_MALFORMED, "TDVF descriptor length %u does not match its %u sections", length, count);
	uint64_t pages = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct tdvf_section *s = &t->sec[i];
		cur_u32le(&c, &s->data_offset);
		cur_u32le(&c, &s->raw_size);
		cur_u64le(&c, &s->address);
		cur_u64le(&c, &s->mem_size);
		cur_u32le(&c, &s->type);
		cur_u32le(&c, &s->attributes);
		if (!cur_ok(&c))
			return err_set(e, EXIT_MALFORMED, "TDVF section %u runs past the end of the file", i);
		t->nsec = i + 1;
		if (check_section(t, i, &pages, e))
			return e->code;
	}
	return EXIT_OK;
}

/* One 128-byte block of the TDX module's measurement log: an operation name
 * at the start, the guest-physical address at bytes 16..23. */
static int add_block(struct digest_stream *d, const char *op, uint64_t gpa)
{
	uint8_t b[128] = { 0 };
	memcpy(b, op, strlen(op));
	le_store(b + 16, gpa, 8);
	return digest_add(d, b, sizeof b);
}

static int page_add(struct digest_stream *d, const struct tdvf_section *s, uint64_t page)
{
	if (s->attributes & TDVF_ATTR_PAGE_AUG)
		return 0;
	return add_block(d, "MEM.PAGE.ADD", s->address + page * TDVF_PAGE);
}

/* TDH.MR.EXTEND works in 256-byte chunks: 16 per page. */
static int page_extend(struct digest_stream *d, const struct tdvf *t, const struct tdvf_section *s, uint64_t page)
{
	if (!(s->attributes & TDVF_ATTR_MR_EXTEND))
		return 0;
	for (uint64_t k = 0; k < TDVF_PAGE / 256; k++) {
		uint64_t off = page * TDVF_PAGE + k * 256;
		const uint8_t *chunk = window(t->fw, t->len, s->data_offset + off, 256);
		if (!chunk || add_block(d, "MR.EXTEND", s->address + off) || digest_add(d, chunk, 256))
			return -1;
	}
	return 0;
}

int tdvf_mrtd(const struct tdvf *t, enum page_order order, uint8_t out[SHA384_LEN], struct err *e)
{
	struct digest_stream d;
	if (digest_begin(&d, DIGEST_SHA384))
		return err_set(e, EXIT_SYSTEM, "SHA-384 failed");
	int bad = 0;
	for (size_t i = 0; i < t->nsec && !bad; i++) {
		const struct tdvf_section *s = &t->sec[i];
		uint64_t pages = s->mem_size / TDVF_PAGE;
		if (order == PAGES_TWO_PASS) {
			for (uint64_t p = 0; p < pages && !bad; p++)
				bad = page_add(&d, s, p);
			for (uint64_t p = 0; p < pages && !bad; p++)
				bad = page_extend(&d, t, s, p);
		} else {
			for (uint64_t p = 0; p < pages && !bad; p++)
				bad = page_add(&d, s, p) || page_extend(&d, t, s, p);
		}
	}
	if (bad || digest_end(&d, out)) {
		digest_drop(&d);
		return err_set(e, bad ? EXIT_MALFORMED : EXIT_SYSTEM, "MRTD: %s",
			       bad ? "a measured chunk is outside the firmware" : "SHA-384 failed");
	}
	return EXIT_OK;
}

int tdvf_cfv_digest(const struct tdvf *t, uint8_t out[SHA384_LEN], struct err *e)
{
	const struct tdvf_section *cfv = NULL;
	for (size_t i = 0; i < t->nsec; i++) {
		if (t->sec[i].type != TDVF_SECTION_CFV)
			continue;
		if (cfv)
			return err_set(e, EXIT_MALFORMED, "TDVF metadata has more than one CFV section");
		cfv = &t->sec[i];
	}
	if (!cfv)
		return err_set(e, EXIT_MALFORMED, "TDVF metadata has no CFV section");
	const uint8_t *p = window(t->fw, t->len, cfv->data_offset, cfv->raw_size);
	if (!p || sha384_spans(out, SPANS({ p, cfv->raw_size })))
		return err_set(e, p ? EXIT_SYSTEM : EXIT_MALFORMED, "CFV digest failed");
	return EXIT_OK;
}
