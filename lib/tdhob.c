#include "tdhob.h"

#include <string.h>

#define PHIT_LEN 56u
#define RESOURCE_LEN 48u
#define END_HOB_LEN 8u /* the end-of-list HOB, counted in EndOfHobList but not measured */
#define TYPE_SYSTEM_MEMORY 0u
#define TYPE_UNACCEPTED 7u
#define LOW_SPLIT 0xB0000000u /* QEMU keeps at most 2 GiB below 4 GiB from here on */
#define GIB2 0x80000000u
#define GIB4 0x100000000u

/* Sorted, non-overlapping, non-empty, no wrap-around; hob_base inside one. */
static int check_layout(const struct tdhob_layout *l, struct err *e)
{
	bool base_inside = false;
	for (size_t i = 0; i < l->n; i++) {
		const struct tdhob_range *r = &l->r[i];
		if (r->len == 0 || r->start > UINT64_MAX - r->len)
			return err_set(e, EXIT_MALFORMED, "TD HOB range %zu is empty or wraps around", i);
		if (i && r->start < l->r[i - 1].start + l->r[i - 1].len)
			return err_set(e, EXIT_MALFORMED, "TD HOB ranges %zu and %zu overlap or are out of order", i - 1, i);
		base_inside |= l->hob_base >= r->start && l->hob_base - r->start < r->len;
	}
	if (!l->n)
		return err_set(e, EXIT_MALFORMED, "no accepted memory ranges for the TD HOB");
	if (!base_inside)
		return err_set(e, EXIT_MALFORMED, "the TD HOB at 0x%llx is not in an accepted range",
			       (unsigned long long)l->hob_base);
	return EXIT_OK;
}

int tdhob_from_tdvf(struct tdhob_layout *l, const struct tdvf *t, struct err *e)
{
	memset(l, 0, sizeof *l);
	int hobs = 0;
	for (size_t i = 0; i < t->nsec; i++) {
		const struct tdvf_section *s = &t->sec[i];
		if (s->type != TDVF_SECTION_TD_HOB && s->type != TDVF_SECTION_TEMP_MEM)
			continue;
		if (s->type == TDVF_SECTION_TD_HOB) {
			hobs++;
			l->hob_base = s->address;
		}
		/* Insertion by start address (the table order is not sorted). */
		size_t k = l->n++;
		while (k && l->r[k - 1].start > s->address) {
			l->r[k] = l->r[k - 1];
			k--;
		}
		l->r[k] = (struct tdhob_range){ s->address, s->mem_size };
	}
	if (hobs != 1)
		return err_set(e, EXIT_MALFORMED, "TDVF metadata has %d TD_HOB sections, expected one", hobs);
	return check_layout(l, e);
}

static int varuint(struct cursor *c, uint64_t *v, struct err *e)
{
	*v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b;
		if (!cur_u8(c, &b))
			return err_set(e, EXIT_MALFORMED, "TD HOB witness is truncated");
		if (shift == 63 && (b & 0x7e))
			return err_set(e, EXIT_MALFORMED, "TD HOB witness number is too large");
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return EXIT_OK;
		if (shift == 63)
			return err_set(e, EXIT_MALFORMED, "TD HOB witness number is too large");
	}
}

/* page * 4096 without overflow. */
static int pages_to_bytes(uint64_t base, uint64_t delta, uint64_t *out, struct err *e)
{
	if (base > UINT64_MAX - delta || base + delta > UINT64_MAX / TDVF_PAGE)
		return err_set(e, EXIT_MALFORMED, "TD HOB witness address overflows");
	*out = (base + delta) * TDVF_PAGE;
	return EXIT_OK;
}

int tdhob_from_witness(struct tdhob_layout *l, const uint8_t *w, size_t n, struct err *e)
{
	memset(l, 0, sizeof *l);
	struct cursor c = cursor_of(w, n);
	uint64_t base, hob_delta, count;
	if (varuint(&c, &base, e) || varuint(&c, &hob_delta, e) || varuint(&c, &count, e) ||
	    pages_to_bytes(base, hob_delta, &l->hob_base, e))
		return e->code;
	if (count > TDHOB_MAX_RANGES)
		return err_set(e, EXIT_MALFORMED, "TD HOB witness declares %llu ranges (at most %d)",
			       (unsigned long long)count, TDHOB_MAX_RANGES);
	for (uint64_t i = 0; i < count; i++) {
		uint64_t delta, pages;
		struct tdhob_range *r = &l->r[l->n++];
		if (varuint(&c, &delta, e) || varuint(&c, &pages, e) || pages_to_bytes(base, delta, &r->start, e) ||
		    pages_to_bytes(0, pages, &r->len, e))
			return e->code;
	}
	if (cur_left(&c))
		return err_set(e, EXIT_MALFORMED, "TD HOB witness has %zu trailing bytes", cur_left(&c));
	return check_layout(l, e);
}

static bool put_varuint(struct buf *out, uint64_t v)
{
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		if (v)
			b |= 0x80;
		if (!buf_append(out, &b, 1))
			return false;
	} while (v);
	return true;
}

int tdhob_witness(const struct tdhob_layout *l, struct buf *out, struct err *e)
{
	if (check_layout(l, e))
		return e->code;
	uint64_t base = l->r[0].start / TDVF_PAGE;
	bool ok = put_varuint(out, base) && put_varuint(out, l->hob_base / TDVF_PAGE - base) && put_varuint(out, l->n);
	for (size_t i = 0; ok && i < l->n; i++)
		ok = put_varuint(out, l->r[i].start / TDVF_PAGE - base) && put_varuint(out, l->r[i].len / TDVF_PAGE);
	return ok ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
}

/* One resource-descriptor HOB: header, zero owner GUID, type, attributes
 * (present | initialized | tested = 7), start, length. */
static void resource(uint8_t *hob, size_t *len, uint32_t type, uint64_t start, uint64_t length)
{
	uint8_t *p = hob + *len;
	memset(p, 0, RESOURCE_LEN);
	le_store(p, 3, 2);
	le_store(p + 2, RESOURCE_LEN, 2);
	le_store(p + 24, type, 4);
	le_store(p + 28, 7, 4);
	le_store(p + 32, start, 8);
	le_store(p + 40, length, 8);
	*len += RESOURCE_LEN;
}

int tdhob_digest(const struct tdhob_layout *l, uint64_t memory_size, uint8_t out[SHA384_LEN], struct err *e)
{
	if (check_layout(l, e))
		return e->code;
	const struct tdhob_range *last = &l->r[l->n - 1];
	if (memory_size <= last->start + last->len)
		return err_set(e, EXIT_MALFORMED, "memory_size 0x%llx does not reach above the firmware's ranges (0x%llx)",
			       (unsigned long long)memory_size, (unsigned long long)(last->start + last->len));
	if (memory_size > UINT64_MAX - GIB4)
		return err_set(e, EXIT_MALFORMED, "memory_size 0x%llx is too large", (unsigned long long)memory_size);
	uint8_t hob[PHIT_LEN + (2 * TDHOB_MAX_RANGES + 3) * RESOURCE_LEN];
	size_t len = PHIT_LEN;
	memset(hob, 0, PHIT_LEN);
	le_store(hob, 1, 2);
	le_store(hob + 2, PHIT_LEN, 2);
	le_store(hob + 8, 9, 4); /* PHIT version */
	uint64_t at = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->r[i].start > at)
			resource(hob, &len, TYPE_UNACCEPTED, at, l->r[i].start - at);
		resource(hob, &len, TYPE_SYSTEM_MEMORY, l->r[i].start, l->r[i].len);
		at = l->r[i].start + l->r[i].len;
	}
	if (memory_size < LOW_SPLIT) {
		resource(hob, &len, TYPE_UNACCEPTED, at, memory_size - at);
	} else {
		if (at > GIB2)
			return err_set(e, EXIT_MALFORMED, "accepted ranges above 2 GiB are not implemented");
		if (at < GIB2)
			resource(hob, &len, TYPE_UNACCEPTED, at, GIB2 - at);
		if (memory_size > GIB2)
			resource(hob, &len, TYPE_UNACCEPTED, GIB4, memory_size - GIB2);
	}
	le_store(hob + 48, l->hob_base + len + END_HOB_LEN, 8);
	if (sha384_spans(out, SPANS({ hob, len })))
		return err_set(e, EXIT_SYSTEM, "SHA-384 failed");
	return EXIT_OK;
}
