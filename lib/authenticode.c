#include "authenticode.h"

#include <string.h>

#include "bytes.h"

#define PE32_MAGIC 0x10b
#define PE32PLUS_MAGIC 0x20b
#define SECTION_HEADER_LEN 40u
#define CERT_DIRECTORY 4u /* IMAGE_DIRECTORY_ENTRY_SECURITY */

/* A cursor positioned at off (poisoned when off is past the end). */
static struct cursor at(const uint8_t *p, size_t len, size_t off)
{
	struct cursor c = cursor_of(p, len);
	cur_take(&c, off);
	return c;
}

static int section_table(struct pe_layout *l, const uint8_t *p, size_t len, size_t table, uint16_t count,
			 struct err *e)
{
	if (count == 0 || count > PE_MAX_SECTIONS)
		return err_set(e, EXIT_MALFORMED, "PE image declares %u sections (1 to %d allowed)", count, PE_MAX_SECTIONS);
	struct cursor c = at(p, len, table);
	for (unsigned i = 0; i < count; i++) {
		uint32_t size = 0, ptr = 0;
		const uint8_t *h = cur_take(&c, SECTION_HEADER_LEN);
		if (!h)
			return err_set(e, EXIT_MALFORMED, "PE section table (%u entries at 0x%zx) runs past the end of the file",
				       count, table);
		struct cursor f = cursor_of(h + 16, 8);
		cur_u32le(&f, &size);
		cur_u32le(&f, &ptr);
		if (size == 0)
			continue;
		if (ptr < l->headers || (uint64_t)ptr + size > len)
			return err_set(e, EXIT_MALFORMED, "PE section %u: raw data 0x%x+0x%x is not between the headers and the end of the file",
				       i, ptr, size);
		/* Keep them sorted by file offset, as the hash walks them. */
		size_t k = l->nsec++;
		while (k && l->sec[k - 1].at > ptr) {
			l->sec[k] = l->sec[k - 1];
			k--;
		}
		l->sec[k].at = ptr;
		l->sec[k].len = size;
	}
	for (size_t k = 1; k < l->nsec; k++)
		if (l->sec[k].at < l->sec[k - 1].at + l->sec[k - 1].len)
			return err_set(e, EXIT_MALFORMED, "PE sections overlap at file offset 0x%zx", l->sec[k].at);
	return EXIT_OK;
}

int pe_parse(struct pe_layout *l, const uint8_t *p, size_t len, struct err *e)
{
	memset(l, 0, sizeof *l);
	uint32_t lfanew = 0, sig = 0;
	struct cursor c = cursor_of(p, len);
	const uint8_t *mz = cur_take(&c, 2);
	c = at(p, len, 0x3c);
	cur_u32le(&c, &lfanew);
	if (!cur_ok(&c) || memcmp(mz, "MZ", 2))
		return err_set(e, EXIT_MALFORMED, "not a PE image (no MZ header)");
	c = at(p, len, lfanew);
	cur_u32le(&c, &sig);
	uint16_t machine = 0, nsec = 0, opt_size = 0, magic = 0;
	cur_u16le(&c, &machine);
	cur_u16le(&c, &nsec);
	cur_take(&c, 12);
	cur_u16le(&c, &opt_size);
	cur_take(&c, 2);
	size_t opt = c.pos;
	cur_u16le(&c, &magic);
	if (!cur_ok(&c) || sig != 0x00004550)
		return err_set(e, EXIT_MALFORMED, "no PE signature at offset 0x%x", lfanew);
	if (magic != PE32_MAGIC && magic != PE32PLUS_MAGIC)
		return err_set(e, EXIT_MALFORMED, "PE optional header magic 0x%x is neither PE32 nor PE32+", magic);
	size_t dirs = opt + (magic == PE32PLUS_MAGIC ? 112 : 96);
	uint32_t headers = 0, nrva = 0;
	c = at(p, len, opt + 60);
	cur_u32le(&c, &headers);
	c = at(p, len, dirs - 4);
	cur_u32le(&c, &nrva);
	if (!cur_ok(&c) || nrva > 16 || dirs + 8 * (size_t)nrva > opt + opt_size)
		return err_set(e, EXIT_MALFORMED, "PE optional header (%u bytes, %u data directories) is inconsistent",
			       opt_size, nrva);
	l->checksum_at = opt + 64;
	l->has_cert_entry = nrva > CERT_DIRECTORY;
	l->cert_entry_at = dirs + 8 * CERT_DIRECTORY;
	size_t header_end = l->has_cert_entry ? l->cert_entry_at + 8 : l->checksum_at + 4;
	if (headers < header_end || headers > len)
		return err_set(e, EXIT_MALFORMED, "PE SizeOfHeaders 0x%x is outside the file or the optional header", headers);
	l->headers = headers;
	if (section_table(l, p, len, opt + opt_size, nsec, e))
		return e->code;
	uint32_t cert_at = 0, cert_len = 0;
	if (l->has_cert_entry) {
		c = at(p, len, l->cert_entry_at);
		cur_u32le(&c, &cert_at);
		cur_u32le(&c, &cert_len);
	}
	if (cert_len) {
		size_t hashed = l->headers;
		for (size_t k = 0; k < l->nsec; k++)
			hashed += l->sec[k].len;
		if ((uint64_t)cert_at + cert_len != len || cert_at < hashed)
			return err_set(e, EXIT_MALFORMED, "PE certificate table 0x%x+0x%x is not at the end of the file, after the sections",
				       cert_at, cert_len);
		if (len % 8)
			return err_set(e, EXIT_MALFORMED, "signed PE image of %zu bytes: the certificate table is not 8-byte aligned",
				       len);
		l->cert_len = cert_len;
	}
	return EXIT_OK;
}

int authenticode_digest(enum digest_alg alg, const uint8_t *p, size_t len, uint8_t *out, struct err *e)
{
	struct pe_layout l;
	if (pe_parse(&l, p, len, e))
		return e->code;
	struct digest_stream d;
	if (digest_begin(&d, alg))
		return err_set(e, EXIT_SYSTEM, "digest failed");
	size_t skip_from = l.has_cert_entry ? l.cert_entry_at : l.checksum_at + 4;
	size_t skip_to = l.has_cert_entry ? l.cert_entry_at + 8 : l.checksum_at + 4;
	int bad = digest_add(&d, p, l.checksum_at) || digest_add(&d, p + l.checksum_at + 4, skip_from - l.checksum_at - 4) ||
		  digest_add(&d, p + skip_to, l.headers - skip_to);
	size_t hashed = l.headers;
	for (size_t k = 0; k < l.nsec && !bad; k++) {
		bad = digest_add(&d, p + l.sec[k].at, l.sec[k].len);
		hashed += l.sec[k].len;
	}
	/* Trailing data up to the certificate table, then the zero padding. */
	if (!bad && len - l.cert_len > hashed)
		bad = digest_add(&d, p + hashed, len - l.cert_len - hashed);
	static const uint8_t zeros[8];
	if (!bad && len % 8)
		bad = digest_add(&d, zeros, 8 - len % 8);
	if (bad || digest_end(&d, out)) {
		digest_drop(&d);
		return err_set(e, EXIT_SYSTEM, "digest failed");
	}
	return EXIT_OK;
}
