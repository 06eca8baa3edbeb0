/* PE/COFF Authenticode and QEMU's setup-header patch on synthetic images
 * (the real kernels are cross-checked against osslsigncode in
 * t/tdx-measure.bats): what is hashed and in which order, the padding, and
 * every malformed header refused. */
#include <stdbool.h>

#include "authenticode.h"
#include "bytes.h"
#include "kernel.h"
#include "unit.h"

#define LEN 0x6000u
#define OPT 0x58u
#define TABLE (OPT + 0xf0u)

/* A PE32+ bzImage-like image: headers 0x1000, sections listed out of file
 * order (.b at 0x4000, .a at 0x1000), a setup header; tail extra bytes. */
static uint8_t *make_pe(size_t tail, size_t *len)
{
	*len = LEN + tail;
	uint8_t *p = calloc(1, *len);
	for (size_t i = 0x1000; i < *len; i++)
		p[i] = (uint8_t)(i * 13 + 1);
	memcpy(p, "MZ", 2);
	le_store(p + 0x3c, 0x40, 4);
	memcpy(p + 0x40, "PE\0\0", 4);
	le_store(p + 0x44, 0x8664, 2);
	le_store(p + 0x46, 2, 2);
	le_store(p + 0x54, 0xf0, 2);
	le_store(p + OPT, 0x20b, 2);
	le_store(p + OPT + 60, 0x1000, 4); /* SizeOfHeaders */
	le_store(p + OPT + 64, 0xdeadbeef, 4); /* CheckSum: not hashed */
	le_store(p + OPT + 108, 6, 4);
	le_store(p + OPT + 112 + 32, 0, 4); /* certificate table: none */
	memcpy(p + TABLE, ".b", 2);
	le_store(p + TABLE + 16, 0x2000, 4);
	le_store(p + TABLE + 20, 0x4000, 4);
	memcpy(p + TABLE + 40, ".a", 2);
	le_store(p + TABLE + 40 + 16, 0x3000, 4);
	le_store(p + TABLE + 40 + 20, 0x1000, 4);
	memcpy(p + 0x202, "HdrS", 4);
	le_store(p + 0x206, 0x020f, 2);
	p[0x211] = 0x01;
	le_store(p + 0x22c, 0x7fffffff, 4);
	le_store(p + 0x236, 0x7f, 2);
	return p;
}

static void hashes_what_edk2_hashes(void)
{
	for (size_t tail = 0; tail < 10; tail++) {
		size_t n;
		uint8_t *p = make_pe(tail, &n);
		uint8_t got[48], want[48];
		struct err e = { 0 };
		CHECK(authenticode_digest(DIGEST_SHA384, p, n, got, &e) == EXIT_OK);
		/* Headers without CheckSum and the certificate entry, sections by
		 * file offset, the trailing bytes, zeros to a multiple of 8. */
		static const uint8_t zeros[8];
		size_t cert = OPT + 112 + 32;
		CHECK(sha384_spans(want, SPANS({ p, OPT + 64 }, { p + OPT + 68, cert - OPT - 68 }, { p + cert + 8, 0x1000 - cert - 8 },
					      { p + 0x1000, 0x3000 }, { p + 0x4000, 0x2000 }, { p + LEN, tail },
					      { zeros, (8 - n % 8) % 8 })) == 0);
		CHECK(!memcmp(got, want, 48));
		/* The CheckSum does not count. */
		p[OPT + 64] ^= 0xff;
		CHECK(authenticode_digest(DIGEST_SHA384, p, n, want, &e) == EXIT_OK && !memcmp(got, want, 48));
		/* A section byte does. */
		p[0x4abc] ^= 1;
		CHECK(authenticode_digest(DIGEST_SHA384, p, n, want, &e) == EXIT_OK && memcmp(got, want, 48));
		free(p);
	}
}

static void signed_image_excludes_its_certificate_table(void)
{
	size_t n;
	uint8_t *p = make_pe(16, &n);
	uint8_t unsigned_d[48], signed_d[48];
	struct err e = { 0 };
	/* The 16 tail bytes become a certificate table: they are not hashed. */
	CHECK(authenticode_digest(DIGEST_SHA384, p, LEN, unsigned_d, &e) == EXIT_OK);
	le_store(p + OPT + 112 + 32, LEN, 4);
	le_store(p + OPT + 112 + 36, 16, 4);
	CHECK(authenticode_digest(DIGEST_SHA384, p, n, signed_d, &e) == EXIT_OK);
	CHECK(!memcmp(unsigned_d, signed_d, 48));
	free(p);
}

static void malformed_pe_is_refused(void)
{
	struct {
		size_t off;
		uint64_t v;
		int width;
		const char *why;
	} bad[] = {
		{ 0, 0x5a4e, 2, "no MZ" },
		{ 0x3c, 0x7ffffff0, 4, "no PE signature" },
		{ OPT, 0x10c, 2, "neither PE32" },
		{ OPT + 108, 17, 4, "inconsistent" },
		{ 0x46, 0, 2, "declares 0 sections" },
		{ 0x46, 97, 2, "declares 97 sections" },
		{ 0x54, LEN - OPT - 20, 2, "runs past the end" },               /* SizeOfOptionalHeader puts the table at the end */
		{ OPT + 60, 0x10000, 4, "SizeOfHeaders" },
		{ TABLE + 20, 0x5000, 4, "not between the headers and the end" }, /* .b past the end */
		{ TABLE + 40 + 20, 0x800, 4, "not between the headers and the end" }, /* .a inside the headers */
		{ TABLE + 40 + 16, 0x3800, 4, "overlap" },              /* .a runs into .b */
		{ OPT + 112 + 36, 8, 4, "not at the end" },             /* a certificate table at offset 0 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		size_t n;
		uint8_t *p = make_pe(0, &n);
		uint8_t d[48];
		struct err e = { 0 };
		le_store(p + bad[i].off, bad[i].v, bad[i].width);
		CHECK(authenticode_digest(DIGEST_SHA384, p, n, d, &e) == EXIT_MALFORMED);
		if (!strstr(e.msg, bad[i].why))
			printf("# case %zu: %s\n", i, e.msg);
		CHECK(strstr(e.msg, bad[i].why) != NULL);
		free(p);
	}
	/* Signed, but not a multiple of 8 long. */
	size_t n;
	uint8_t *p = make_pe(13, &n);
	uint8_t d[48];
	struct err e = { 0 };
	le_store(p + OPT + 112 + 32, LEN, 4);
	le_store(p + OPT + 112 + 36, 13, 4);
	CHECK(authenticode_digest(DIGEST_SHA384, p, n, d, &e) == EXIT_MALFORMED && strstr(e.msg, "aligned"));
	/* Every truncation: refused, or hashed, never a crash (sanitizer build). */
	free(p);
	p = make_pe(0, &n);
	for (size_t k = 0; k < n; k += 61)
		authenticode_digest(DIGEST_SHA384, p, k, d, &e);
	CHECK(authenticode_digest(DIGEST_SHA384, p, 0x5000, d, &e) == EXIT_MALFORMED);
	free(p);
}

static uint32_t field(const uint8_t *k, size_t off, int n)
{
	return (uint32_t)le_load(k + off, n);
}

static void qemu_setup_header_patch(void)
{
	size_t n;
	uint8_t *k = make_pe(0, &n);
	struct err e = { 0 };
	const uint32_t initrd = 0x123456;
	CHECK(kernel_qemu_patch(k, n, initrd, 0x80000000u, &e) == EXIT_OK);
	CHECK(k[0x210] == 0xb0 && k[0x211] == 0x81);
	CHECK(field(k, 0x224, 2) == 0xfe00 && field(k, 0x228, 4) == 0x20000);
	/* Top of low memory minus QEMU's ACPI data, minus the initrd, page-aligned. */
	CHECK(field(k, 0x218, 4) == ((0x80000000u - KERNEL_ACPI_DATA_SIZE - 1 - initrd) & ~0xfffu));
	CHECK(field(k, 0x21c, 4) == initrd);
	free(k);
}

static uint32_t initrd_addr_at(uint64_t memory)
{
	size_t n;
	uint8_t *k = make_pe(0, &n);
	struct err e = { 0 };
	uint32_t a = kernel_qemu_patch(k, n, 0x100000, memory, &e) == EXIT_OK ? field(k, 0x218, 4) : 0;
	free(k);
	return a;
}

/* dstack-mr kernel.rs's property: 2 GiB and >= 0xB0000000 share one
 * placement (what the lite material's kernel digest relies on). */
static void initrd_placement_by_memory(void)
{
	CHECK(initrd_addr_at(0x80000000u) == initrd_addr_at(0xB0000000u));
	CHECK(initrd_addr_at(0xB0000000u) == initrd_addr_at(0x200000000ull));
	CHECK(initrd_addr_at(0x80000000u - 0x1000) != initrd_addr_at(0x80000000u));
	CHECK(initrd_addr_at(0xB0000000u - 0x1000) != initrd_addr_at(0xB0000000u));
	CHECK(initrd_addr_at(0x40000000u) != 0);
}

static void unsupported_kernels_are_refused(void)
{
	struct {
		size_t off;
		uint32_t v;
		int width;
		const char *why;
	} bad[] = {
		{ 0x202, 0, 4, "no HdrS" },
		{ 0x206, 0x0201, 2, "boot protocol 0x201" },
		{ 0x211, 0x00, 1, "without LOADED_HIGH" },
		{ 0x236, 0x3f, 2, "differently in QEMU and dstack" }, /* bit 1 without bit 6 */
		{ 0x236, 0x41, 2, "differently in QEMU and dstack" }, /* bit 6 without bit 1 */
		{ 0x226, 1, 1, "ext_loader" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		size_t n;
		uint8_t *k = make_pe(0, &n);
		struct err e = { 0 };
		le_store(k + bad[i].off, bad[i].v, bad[i].width);
		CHECK(kernel_qemu_patch(k, n, 0x1000, 0x80000000u, &e) == EXIT_MALFORMED);
		if (!strstr(e.msg, bad[i].why))
			printf("# case %zu: %s\n", i, e.msg);
		CHECK(strstr(e.msg, bad[i].why) != NULL);
		free(k);
	}
	size_t n;
	uint8_t *k = make_pe(0, &n);
	struct err e = { 0 };
	CHECK(kernel_qemu_patch(k, n, 0x7ffd8000u, 0x80000000u, &e) == EXIT_MALFORMED && strstr(e.msg, "does not fit"));
	CHECK(kernel_qemu_patch(k, 0x800, 0, 0x80000000u, &e) == EXIT_MALFORMED && strstr(e.msg, "too short"));
	CHECK(kernel_check_cmdline("console=ttyS0 vga=791", &e) == EXIT_MALFORMED);
	CHECK(kernel_check_cmdline("console=ttyS0 novga=1", &e) == EXIT_OK);
	free(k);
}

int main(void)
{
	RUN(hashes_what_edk2_hashes);
	RUN(signed_image_excludes_its_certificate_table);
	RUN(malformed_pe_is_refused);
	RUN(qemu_setup_header_patch);
	RUN(initrd_placement_by_memory);
	RUN(unsupported_kernels_are_refused);
	return UNIT_DONE();
}
