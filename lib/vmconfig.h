/* vmconfig: dstack's vm_config - the host's description of the VM (memory,
 * vCPUs, QEMU version and devices) that, with the OS image, decides MRTD and
 * RTMR0-2. It is unsigned: trusted only because registers recomputed from it
 * equal the quote's. Every field must be known: one whose effect on the
 * registers is not implemented is refused, never ignored (dstack-types
 * VmConfig; dstack-mr src/machine.rs for the QEMU-version defaults). */
#ifndef LIB_VMCONFIG_H
#define LIB_VMCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "digest.h"
#include "err.h"
#include "tdvf.h"

#define VM_MEMORY_MAX ((uint64_t)1 << 46)

struct vm_config {
	bool has_os_image_hash;
	uint8_t os_image_hash[SHA256_LEN];
	uint32_t cpu_count;
	uint64_t memory_size;
	bool has_qemu_version;
	unsigned qemu[3];
	char qemu_version[32];
	bool has_single_pass_field; /* qemu_single_pass_add_pages */
	bool single_pass_field;
	bool has_pic, pic;
	uint64_t pci_hole64_size;
	bool hugepages, hotplug_off;
	uint32_t num_gpus, num_nvswitches, num_nics, num_verity_volumes;
	char host_share_mode[32];
	char image[128];
	char ovmf_variant[32]; /* "pre202505" (the only one) when absent */
	bool has_tdx_measurement;
	struct buf checksum_file, measurement; /* tdx_measurement, base64-decoded */

	/* Resolved as dstack v0.5.9 resolves them. */
	enum page_order pages;
	char pages_reason[160];
	bool pic_resolved;
};

/* Parses the JSON text of a vm_config. EXIT_MALFORMED for malformed JSON, a
 * wrong type, an unknown field, an unknown ovmf_variant, spec_version other
 * than 1, swtpm, QEMU older than 8.0.0, a memory size that is not a whole
 * number of pages (or above VM_MEMORY_MAX). */
int vmconfig_parse(struct vm_config *c, const char *text, size_t len, struct err *e);
void vmconfig_free(struct vm_config *c);

/* The fields that shape QEMU's ACPI tables, resolved and written as one
 * line ("cpu_count=1 memory_size=2147483648 ..."): two configurations with
 * the same line get the same tables from the same QEMU build. */
bool vmconfig_acpi_key(const struct vm_config *c, struct buf *out);

#endif
