/* dstack's lite material and vm_config: the real dstack-0.6.0 fixture,
 * the encoding round trip, the identity checks, and malformed documents. */
#include <stdbool.h>

#include "evidence.h"
#include "lite.h"
#include "unit.h"
#include "vmconfig.h"

static void load_fixture(struct vm_config *vm)
{
	size_t n;
	char *text = unit_slurp("testdata/dstack-tdx-lite-getquote.json", &n);
	struct evidence ev;
	struct err e = { 0 };
	CHECK(evidence_load(&ev, (uint8_t *)text, n, &e) == EXIT_OK && ev.has_vm_config);
	CHECK(vmconfig_parse(vm, (const char *)ev.vm_config.data, ev.vm_config.len, &e) == EXIT_OK);
	evidence_free(&ev);
	free(text);
}

static bool hex_is(const uint8_t *p, size_t n, const char *hex)
{
	char h[2 * 64 + 1];
	hex_encode(p, n, h);
	if (strcmp(h, hex))
		printf("# got %s\n", h);
	return !strcmp(h, hex);
}

static void real_lite_material(void)
{
	struct vm_config vm;
	load_fixture(&vm);
	CHECK(vm.has_tdx_measurement && vm.has_os_image_hash && vm.memory_size == 0x80000000u && vm.cpu_count == 2);
	struct lite_material m;
	struct err e = { 0 };
	CHECK(lite_load(&m, vm.checksum_file.data, vm.checksum_file.len, vm.measurement.data, vm.measurement.len,
			vm.os_image_hash, &e) == EXIT_OK);
	CHECK(!strcmp(m.ovmf, "pre202505"));
	/* The quote's MRTD is the two-pass candidate (QEMU 8.2.2). */
	CHECK(hex_is(m.mrtd_two_pass, 48,
		     "fd685522ce791dfef67414614eb07d03fc07a32c5a66f36288b329dab92b724b1564c73d436ffb9ea84488c51ac5a1c5"));
	CHECK(hex_is(m.td_hob, m.td_hob_len, "80100904000609020b021010"));
	/* dstack's encoding, byte for byte. */
	struct buf again = { 0 };
	CHECK(lite_encode(&m, &again, &e) == EXIT_OK);
	CHECK(again.len == vm.measurement.len && !memcmp(again.data, vm.measurement.data, again.len));
	buf_free(&again);
	vmconfig_free(&vm);
}

static void identity_of_the_material(void)
{
	struct vm_config vm;
	load_fixture(&vm);
	struct lite_material m;
	struct err e = { 0 };
	uint8_t other[32];
	memcpy(other, vm.os_image_hash, 32);
	other[0] ^= 1;
	CHECK(lite_load(&m, vm.checksum_file.data, vm.checksum_file.len, vm.measurement.data, vm.measurement.len, other,
			&e) == EXIT_REJECTED && strstr(e.msg, "os_image_hash mismatch"));
	vm.measurement.data[100] ^= 1;
	CHECK(lite_load(&m, vm.checksum_file.data, vm.checksum_file.len, vm.measurement.data, vm.measurement.len,
			vm.os_image_hash, &e) == EXIT_REJECTED && strstr(e.msg, "does not match"));
	/* A checksum file that does not list the CBOR (its own hash claimed). */
	static const char sums[] = "0000000000000000000000000000000000000000000000000000000000000000  bzImage\n";
	uint8_t h[32];
	sha256_spans(h, SPANS({ sums, sizeof sums - 1 }));
	CHECK(lite_load(&m, (const uint8_t *)sums, sizeof sums - 1, vm.measurement.data, vm.measurement.len, h, &e) ==
		      EXIT_REJECTED &&
	      strstr(e.msg, "does not list"));
	vmconfig_free(&vm);
}

static void malformed_cbor_is_refused(void)
{
	struct vm_config vm;
	load_fixture(&vm);
	const struct buf *real = &vm.measurement;
	struct {
		const char *hex; /* a whole document, or NULL: the real one patched */
		size_t at;
		uint8_t from, to;
		const char *why;
	} bad[] = {
		{ "ff", 0, 0, 0, "not CBOR" },
		{ "a0", 0, 0, 0, "expected 3 members" },
		{ "83010203", 0, 0, 0, "expected a map" },
		{ "a36776657273696f6e6133" "65696d616765a0" "6474647666a0", 0, 0, 0, "version: expected 3" },
		{ "a36776657273696f6e03" "65696d61676580" "6474647666a0", 0, 0, 0, "image: expected a map" },
		{ "a36776657273696f6e03" "65696d616765a0" "6474647658a0", 0, 0, 0, "unknown member" },
		{ "a36776657273696f6e03" "6776657273696f6e03" "65696d616765a0", 0, 0, 0, "appears twice" },
		{ "bf6776657273696f6e03ff", 0, 0, 0, "expected a map" },
		/* Declared sizes libcbor would allocate for up front (2^28 items). */
		{ "9a10000000", 0, 0, 0, "more than 16 items" },
		{ "a36776657273696f6e03" "65696d616765ba10000000", 0, 0, 0, "more than 16 items" },
		{ "a36776657273696f6e0365696d616765a36e636d646c696e655f7368613338346178736b65726e656c5f61757468656e7469636f6465406d696e697472645f736861333834406474647666a0", 0, 0, 0, "cmdline_sha384: expected a byte string" },
		{ NULL, 9, 0x03, 0x04, "version: expected 3" },
		{ NULL, 0x20, 0x58, 0x78, "not CBOR" }, /* libcbor checks text strings are UTF-8 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct buf doc = { 0 };
		if (bad[i].hex) {
			CHECK(hex_decode(bad[i].hex, strlen(bad[i].hex), &doc));
		} else {
			buf_append(&doc, real->data, real->len);
			CHECK(doc.data[bad[i].at] == bad[i].from);
			doc.data[bad[i].at] = bad[i].to;
		}
		struct lite_material m;
		struct err e = { 0 };
		CHECK(lite_decode(&m, doc.data, doc.len, &e) == EXIT_MALFORMED);
		if (!strstr(e.msg, bad[i].why))
			printf("# case %zu: %s\n", i, e.msg);
		CHECK(strstr(e.msg, bad[i].why) != NULL);
		buf_free(&doc);
	}
	/* Trailing bytes; every truncation. */
	struct buf doc = { 0 };
	struct lite_material m;
	struct err e = { 0 };
	buf_append(&doc, real->data, real->len);
	buf_append(&doc, "", 1);
	CHECK(lite_decode(&m, doc.data, doc.len, &e) == EXIT_MALFORMED && strstr(e.msg, "after the document"));
	for (size_t k = 0; k < real->len; k++)
		CHECK(lite_decode(&m, real->data, k, &e) == EXIT_MALFORMED);
	buf_free(&doc);
	vmconfig_free(&vm);
}

static int parse(const char *json, struct vm_config *vm, struct err *e)
{
	memset(e, 0, sizeof *e);
	int rc = vmconfig_parse(vm, json, strlen(json), e);
	if (rc == EXIT_OK)
		vmconfig_free(vm);
	return rc;
}

#define MEM "\"memory_size\": 2147483648"

/* The trap: dstack v0.5.9 passes qemu_single_pass_add_pages on as its
 * two-pass flag; the real samples are consistent with that reading
 * (0.5.9: true with QEMU 8.2.2; dstack's quote-report fixture: false with
 * QEMU 9.2.1, a single-pass QEMU). */
static void page_add_order(void)
{
	struct vm_config vm;
	struct err e;
	CHECK(parse("{" MEM ", \"qemu_version\": \"8.2.2\", \"qemu_single_pass_add_pages\": true}", &vm, &e) == 0 &&
	      vm.pages == PAGES_TWO_PASS);
	CHECK(parse("{" MEM ", \"qemu_version\": \"9.2.1\", \"qemu_single_pass_add_pages\": false}", &vm, &e) == 0 &&
	      vm.pages == PAGES_SINGLE_PASS);
	CHECK(parse("{" MEM ", \"qemu_version\": \"9.2.1\", \"qemu_single_pass_add_pages\": true}", &vm, &e) == 0 &&
	      vm.pages == PAGES_TWO_PASS);
	CHECK(parse("{" MEM ", \"qemu_version\": \"8.2.2\"}", &vm, &e) == 0 && vm.pages == PAGES_TWO_PASS && vm.pic_resolved);
	CHECK(parse("{" MEM ", \"qemu_version\": \"9.0.0\"}", &vm, &e) == 0 && vm.pages == PAGES_SINGLE_PASS && !vm.pic_resolved);
	CHECK(parse("{" MEM "}", &vm, &e) == 0 && vm.pages == PAGES_SINGLE_PASS && strstr(vm.pages_reason, "absent"));
	CHECK(parse("{" MEM ", \"qemu_single_pass_add_pages\": null, \"pic\": null}", &vm, &e) == 0);
}

static void vm_config_refusals(void)
{
	struct vm_config vm;
	struct err e;
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ "{" MEM ", \"num_cpus\": 2}", "unknown field" },
		{ "{" MEM ", \"ovmf_variant\": \"edk2-stable202505\"}", "is unknown" },
		{ "{" MEM ", \"swtpm\": true}", "not implemented" },
		{ "{" MEM ", \"spec_version\": 2}", "spec_version 2" },
		{ "{" MEM ", \"qemu_version\": \"7.2.0\"}", "before 8.0.0" },
		{ "{" MEM ", \"qemu_version\": \"8.2\"}", "MAJOR.MINOR.PATCH" },
		{ "{\"memory_size\": 2147483649}", "whole number of pages" },
		{ "{\"memory_size\": 0}", "whole number of pages" },
		{ "{" MEM ", " MEM "}", "twice" },
		{ "{" MEM ", \"cpu_count\": \"2\"}", "expected a number" },
		{ "{" MEM ", \"hugepages\": 1}", "true or false" },
		{ "{" MEM ", \"os_image_hash\": \"abcd\"}", "32 bytes" },
		{ "{" MEM ", \"tdx_measurement\": {\"checksum_file\": \"a\", \"measurement\": \"\"}}", "base64" },
		{ "{" MEM ", \"gcp_measurement\": {}}", "another platform" },
		{ "[]", "expected an object" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(parse(bad[i].json, &vm, &e) == EXIT_MALFORMED);
		if (!strstr(e.msg, bad[i].why))
			printf("# case %zu: %s\n", i, e.msg);
		CHECK(strstr(e.msg, bad[i].why) != NULL);
	}
}

static void acpi_key_covers_the_acpi_fields(void)
{
	struct vm_config a, b;
	struct err e = { 0 };
	struct buf ka = { 0 }, kb = { 0 };
	const char *x = "{" MEM ", \"cpu_count\": 2, \"qemu_version\": \"8.2.2\"}";
	const char *y = "{" MEM ", \"cpu_count\": 2, \"qemu_version\": \"8.2.2\", \"pic\": true, \"num_nics\": 1}";
	const char *z = "{" MEM ", \"cpu_count\": 4, \"qemu_version\": \"8.2.2\"}";
	CHECK(vmconfig_parse(&a, x, strlen(x), &e) == 0 && vmconfig_parse(&b, y, strlen(y), &e) == 0);
	CHECK(vmconfig_acpi_key(&a, &ka) && vmconfig_acpi_key(&b, &kb) && !strcmp((char *)ka.data, (char *)kb.data));
	vmconfig_free(&b);
	buf_reset(&kb);
	CHECK(vmconfig_parse(&b, z, strlen(z), &e) == 0 && vmconfig_acpi_key(&b, &kb) && strcmp((char *)ka.data, (char *)kb.data));
	CHECK(strstr((char *)ka.data, "cpu_count=2 memory_size=2147483648 qemu_version=8.2.2 pic=true") != NULL);
	vmconfig_free(&a);
	vmconfig_free(&b);
	buf_free(&ka);
	buf_free(&kb);
}

int main(void)
{
	RUN(real_lite_material);
	RUN(identity_of_the_material);
	RUN(malformed_cbor_is_refused);
	RUN(page_add_order);
	RUN(vm_config_refusals);
	RUN(acpi_key_covers_the_acpi_fields);
	return UNIT_DONE();
}
