#include "vmconfig.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

enum kind { K_HASH, K_U32, K_U64, K_BOOL, K_OPT_BOOL, K_STRING, K_OPT_STRING, K_SPEC, K_MEASUREMENT, K_IGNORED,
	    K_FOREIGN };

/* Every vm_config field dstack writes (v0.5.9 and HEAD), with what it is
 * to tdx-measure. Fields that only shape the ACPI tables are read for
 * vmconfig_acpi_key; mr_config only feeds MRCONFIGID. */
struct field {
	const char *name;
	enum kind kind;
	size_t off, size; /* into struct vm_config */
	size_t has_off;   /* optional fields: their has_ flag, else 0 */
};

#define F(n, k, member) { #n, k, offsetof(struct vm_config, member), sizeof(((struct vm_config *)0)->member), 0 }
#define O(n, k, member, has) \
	{ #n, k, offsetof(struct vm_config, member), sizeof(((struct vm_config *)0)->member), offsetof(struct vm_config, has) }
static const struct field fields[] = {
	F(os_image_hash, K_HASH, os_image_hash),
	F(cpu_count, K_U32, cpu_count),
	F(memory_size, K_U64, memory_size),
	O(qemu_single_pass_add_pages, K_OPT_BOOL, single_pass_field, has_single_pass_field),
	O(pic, K_OPT_BOOL, pic, has_pic),
	O(qemu_version, K_OPT_STRING, qemu_version, has_qemu_version),
	F(pci_hole64_size, K_U64, pci_hole64_size),
	F(hugepages, K_BOOL, hugepages),
	F(num_gpus, K_U32, num_gpus),
	F(num_nvswitches, K_U32, num_nvswitches),
	F(num_nics, K_U32, num_nics),
	F(num_verity_volumes, K_U32, num_verity_volumes),
	F(hotplug_off, K_BOOL, hotplug_off),
	F(image, K_OPT_STRING, image),
	F(host_share_mode, K_STRING, host_share_mode),
	F(ovmf_variant, K_OPT_STRING, ovmf_variant),
	{ "spec_version", K_SPEC, 0, 0, 0 },
	{ "swtpm", K_BOOL, 0, 0, 0 },
	{ "tdx_attestation_variant", K_OPT_STRING, 0, 0, 0 },
	{ "tdx_measurement", K_MEASUREMENT, 0, 0, 0 },
	{ "mr_config", K_IGNORED, 0, 0, 0 },
	{ "gcp_measurement", K_FOREIGN, 0, 0, 0 },
	{ "aws_measurement", K_FOREIGN, 0, 0, 0 },
};

static int base64_member(const struct json *j, int obj, const char *key, struct buf *out, struct err *e)
{
	struct buf text = { 0 };
	int t = json_need(j, obj, key, e);
	int rc = t < 0 ? e->code : json_string(j, t, key, &text, e);
	if (rc == EXIT_OK && !base64_decode((const char *)text.data, text.len, out))
		rc = err_set(e, EXIT_MALFORMED, "%s: not canonical base64", key);
	buf_free(&text);
	return rc;
}

static int tdx_measurement(struct vm_config *c, const struct json *j, int t, struct err *e)
{
	if (json_type(j, t) == JSON_NULL)
		return EXIT_OK;
	if (json_type(j, t) != JSON_OBJECT || json_size(j, t) != 2)
		return err_set(e, EXIT_MALFORMED, "expected an object of checksum_file and measurement");
	c->has_tdx_measurement = true;
	return base64_member(j, t, "checksum_file", &c->checksum_file, e) ||
			       base64_member(j, t, "measurement", &c->measurement, e)
		       ? e->code
		       : EXIT_OK;
}

static int string_field(const struct json *j, int t, const char *name, char *out, size_t cap, struct err *e)
{
	struct buf s = { 0 };
	int rc = json_string(j, t, name, &s, e);
	if (rc == EXIT_OK && (s.len >= cap || !json_text_valid((const char *)s.data, s.len)))
		rc = err_set(e, EXIT_MALFORMED, "expected a short line of text");
	if (rc == EXIT_OK && out)
		memcpy(out, s.data, s.len + 1);
	buf_free(&s);
	return rc;
}

static int one_field(struct vm_config *c, const struct field *f, const struct json *j, int t, struct err *e)
{
	uint8_t *base = (uint8_t *)c;
	uint64_t v;
	bool null = json_type(j, t) == JSON_NULL;
	switch (f->kind) {
	case K_HASH: {
		struct buf h = { 0 };
		int rc = json_hex(j, t, f->name, &h, e);
		if (rc == EXIT_OK && h.len != 0 && h.len != SHA256_LEN)
			rc = err_set(e, EXIT_MALFORMED, "expected 32 bytes of hex");
		if (rc == EXIT_OK && h.len) {
			memcpy(c->os_image_hash, h.data, SHA256_LEN);
			c->has_os_image_hash = true;
		}
		buf_free(&h);
		return rc;
	}
	case K_U32:
	case K_U64:
		if (json_u64(j, t, f->name, f->kind == K_U32 ? UINT32_MAX : UINT64_MAX, &v, e))
			return e->code;
		if (f->kind == K_U32)
			*(uint32_t *)(base + f->off) = (uint32_t)v;
		else
			*(uint64_t *)(base + f->off) = v;
		return EXIT_OK;
	case K_OPT_BOOL:
		if (null)
			return EXIT_OK;
		*(bool *)(base + f->has_off) = true;
		/* fall through */
	case K_BOOL: {
		enum json_type ty = json_type(j, t);
		if (ty != JSON_TRUE && ty != JSON_FALSE)
			return err_set(e, EXIT_MALFORMED, "expected true or false");
		if (!strcmp(f->name, "swtpm"))
			return ty == JSON_TRUE ? err_set(e, EXIT_MALFORMED, "a software TPM's effect on the measurement is not implemented")
					       : EXIT_OK;
		*(bool *)(base + f->off) = ty == JSON_TRUE;
		return EXIT_OK;
	}
	case K_OPT_STRING:
		if (null)
			return EXIT_OK;
		if (f->has_off)
			*(bool *)(base + f->has_off) = true;
		/* fall through */
	case K_STRING:
		return string_field(j, t, f->name, f->size ? (char *)base + f->off : NULL, f->size ? f->size : 64, e);
	case K_SPEC:
		if (json_u64(j, t, f->name, UINT32_MAX, &v, e))
			return e->code;
		return v == 1 ? EXIT_OK : err_set(e, EXIT_MALFORMED, "spec_version %llu is not implemented (only 1)",
						  (unsigned long long)v);
	case K_MEASUREMENT:
		return tdx_measurement(c, j, t, e);
	case K_IGNORED:
		return EXIT_OK;
	case K_FOREIGN:
		return null ? EXIT_OK : err_set(e, EXIT_MALFORMED, "material for another platform: not a dstack TDX VM");
	}
	return EXIT_OK;
}

/* "X.Y.Z", each part decimal. */
static bool parse_version(const char *s, unsigned v[3])
{
	for (int i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned x = 0;
		while (*s >= '0' && *s <= '9' && x < 100000)
			x = x * 10 + (unsigned)(*s++ - '0');
		v[i] = x;
		if (*s != (i < 2 ? '.' : 0))
			return false;
		s++;
	}
	return true;
}

static int resolve(struct vm_config *c, struct err *e)
{
	if (c->memory_size == 0 || c->memory_size % TDVF_PAGE || c->memory_size > VM_MEMORY_MAX)
		return err_set(e, EXIT_MALFORMED, "vm_config.memory_size %llu is not a whole number of pages up to %llu",
			       (unsigned long long)c->memory_size, (unsigned long long)VM_MEMORY_MAX);
	if (!c->ovmf_variant[0])
		strcpy(c->ovmf_variant, "pre202505");
	else if (strcmp(c->ovmf_variant, "pre202505"))
		return err_set(e, EXIT_MALFORMED, "vm_config.ovmf_variant \"%s\" is unknown: only pre202505 (13 RTMR0 events) is implemented",
			       c->ovmf_variant);
	/* dstack's default when qemu_version is absent is 9.1.0. */
	unsigned v[3] = { 9, 1, 0 };
	if (c->has_qemu_version && !parse_version(c->qemu_version, v))
		return err_set(e, EXIT_MALFORMED, "vm_config.qemu_version \"%s\" is not MAJOR.MINOR.PATCH", c->qemu_version);
	memcpy(c->qemu, v, sizeof v);
	if (v[0] < 8)
		return err_set(e, EXIT_MALFORMED, "vm_config.qemu_version %s: QEMU before 8.0.0 is not implemented", c->qemu_version);
	bool qemu8 = v[0] == 8;
	c->pic_resolved = c->has_pic ? c->pic : qemu8;
	/* The trap: dstack v0.5.9 hands qemu_single_pass_add_pages to its
	 * two-pass flag unchanged (verification.rs: maybe_two_pass_add_pages),
	 * and that is what the quotes it accepts were made with. */
	if (c->has_single_pass_field) {
		c->pages = c->single_pass_field ? PAGES_TWO_PASS : PAGES_SINGLE_PASS;
		snprintf(c->pages_reason, sizeof c->pages_reason,
			 "qemu_single_pass_add_pages=%s, which dstack takes as its two-pass flag",
			 c->single_pass_field ? "true" : "false");
	} else {
		c->pages = qemu8 ? PAGES_TWO_PASS : PAGES_SINGLE_PASS;
		snprintf(c->pages_reason, sizeof c->pages_reason, "QEMU %u.%u.%u%s", v[0], v[1], v[2],
			 c->has_qemu_version ? "" : " (qemu_version absent: dstack's default)");
	}
	return EXIT_OK;
}

int vmconfig_parse(struct vm_config *c, const char *text, size_t len, struct err *e)
{
	memset(c, 0, sizeof *c);
	c->num_nics = 1;
	struct json j;
	if (json_parse(&j, text, len, e))
		return err_wrap(e, "vm_config");
	int rc = json_type(&j, 0) == JSON_OBJECT ? EXIT_OK : err_set(e, EXIT_MALFORMED, "vm_config: expected an object");
	bool seen[sizeof fields / sizeof *fields] = { false };
	for (int k = rc ? -1 : json_first(&j, 0); k >= 0; k = json_next(&j, k)) {
		size_t i = 0;
		while (i < sizeof fields / sizeof *fields && !json_string_is(&j, k, fields[i].name))
			i++;
		if (i == sizeof fields / sizeof *fields) {
			size_t n;
			const char *raw = json_raw(&j, k, &n);
			rc = err_set(e, EXIT_MALFORMED, "vm_config.%.*s: unknown field; its effect on the registers is not implemented",
				     (int)(n > 40 ? 40 : n), json_text_valid(raw, n) ? raw : "?");
			break;
		}
		if (seen[i]) {
			rc = err_set(e, EXIT_MALFORMED, "vm_config.%s appears twice", fields[i].name);
			break;
		}
		seen[i] = true;
		if ((rc = one_field(c, &fields[i], &j, k + 1, e))) {
			err_wrap(e, "vm_config.%s", fields[i].name);
			break;
		}
	}
	json_free(&j);
	if (rc == EXIT_OK)
		rc = resolve(c, e);
	if (rc)
		vmconfig_free(c);
	return rc;
}

void vmconfig_free(struct vm_config *c)
{
	buf_free(&c->checksum_file);
	buf_free(&c->measurement);
}

bool vmconfig_acpi_key(const struct vm_config *c, struct buf *out)
{
	return buf_printf(out,
			  "cpu_count=%u memory_size=%llu qemu_version=%u.%u.%u pic=%s pci_hole64_size=%llu hugepages=%s "
			  "num_gpus=%u num_nvswitches=%u num_nics=%u num_verity_volumes=%u hotplug_off=%s host_share_mode=%s",
			  c->cpu_count, (unsigned long long)c->memory_size, c->qemu[0], c->qemu[1], c->qemu[2],
			  c->pic_resolved ? "true" : "false", (unsigned long long)c->pci_hole64_size,
			  c->hugepages ? "true" : "false", c->num_gpus, c->num_nvswitches, c->num_nics, c->num_verity_volumes,
			  c->hotplug_off ? "true" : "false", c->host_share_mode);
}
