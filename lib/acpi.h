/* acpi: RTMR0's three ACPI digests (QEMU's etc/table-loader, etc/acpi/rsdp
 * and etc/acpi/tables, measured by the firmware as "ACPI DATA" events).
 * QEMU generates those tables from the VM's devices; nothing here can
 * recompute them. They come either from the evidence's own event log (then
 * they are not verified: the quote only proves the log's digests were
 * measured) or from a list of known triples keyed by the ACPI-shaping
 * vm_config fields (then they are as trustworthy as the list). */
#ifndef LIB_ACPI_H
#define LIB_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "err.h"
#include "eventlog.h"
#include "vmconfig.h"

#define ACPI_EVENT_TYPE 0x0000000Au /* EV_PLATFORM_CONFIG_FLAGS */

struct acpi_triple {
	uint8_t loader[SHA384_LEN], rsdp[SHA384_LEN], tables[SHA384_LEN];
};

/* The log's RTMR0 ACPI DATA events: exactly three; named acpi-loader,
 * acpi-rsdp, acpi-tables (dstack >= 0.6), or unnamed and in that order.
 * EXIT_MALFORMED otherwise. */
int acpi_from_log(struct acpi_triple *a, const struct event_log *log, struct err *e);

/* A list file: {"acpi": [{"name": "...", "vm": {vm_config fields},
 * "loader": hex, "rsdp": hex, "tables": hex}, ...]}. Finds the entry whose
 * vm has the same vmconfig_acpi_key as vm; its name goes to name (cap bytes).
 * EXIT_MALFORMED for a malformed list or two matching entries that disagree,
 * EXIT_REJECTED when none matches. */
int acpi_from_list(struct acpi_triple *a, char *name, size_t cap, const char *text, size_t len,
		   const struct vm_config *vm, struct err *e);

#endif
