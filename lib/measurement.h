/* measurement: the measured-boot composition - the MRTD and the RTMR0-2
 * event lists a genuine dstack CVM shows, from the image's digests (image
 * files or lite material), the VM configuration and the ACPI triple - and its
 * comparison with a quote's registers and an event log, down to the first
 * event that differs. Event layout: the pre202505 OVMF (13 RTMR0 events),
 * RTMR1's kernel and four constant events, RTMR2's command line and initrd
 * (dstack-mr src/tdvf.rs, src/kernel.rs, src/tdx.rs). */
#ifndef LIB_MEASUREMENT_H
#define LIB_MEASUREMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpi.h"
#include "digest.h"
#include "err.h"
#include "eventlog.h"
#include "lite.h"
#include "osimage.h"
#include "quote.h"
#include "tdvf.h"
#include "vmconfig.h"

/* Where an event's digest comes from: computed from vm_config and the OVMF
 * layout's constants, hashed from an image file, taken from the lite CBOR,
 * from the evidence's event log, or from an ACPI list. */
enum mr_source { MR_COMPUTED, MR_IMAGE, MR_LITE, MR_LOG, MR_LIST };
const char *mr_source_name(enum mr_source s);

#define MR_MAX_EVENTS 20

struct mr_event {
	uint32_t imr, type;
	const char *name;
	bool known; /* false: the ACPI digests when no source gives them */
	uint8_t digest[SHA384_LEN];
	enum mr_source source;
};

/* The digests the composition starts from. */
struct mr_inputs {
	uint8_t mrtd_single_pass[SHA384_LEN], mrtd_two_pass[SHA384_LEN];
	enum page_order pages;
	enum mr_source firmware_source; /* MRTD and CFV */
	uint8_t td_hob[SHA384_LEN], cfv[SHA384_LEN];
	bool has_acpi;
	struct acpi_triple acpi;
	enum mr_source acpi_source;
	uint8_t kernel[SHA384_LEN], cmdline[SHA384_LEN], initrd[SHA384_LEN];
	enum mr_source image_source;
};

struct measurement {
	uint8_t mrtd[SHA384_LEN], mrtd_other[SHA384_LEN]; /* other: the other page order's */
	enum page_order pages;
	enum mr_source mrtd_source;
	size_t n;
	struct mr_event ev[MR_MAX_EVENTS]; /* by register, then in log order */
	bool known[3];                     /* RTMR0 is unknown without ACPI digests */
	uint8_t rtmr[3][SHA384_LEN];
};

/* From a verified image: MRTD and CFV from its TDVF firmware, the TD HOB
 * for vm's memory size, the kernel patched for the initrd and memory size,
 * the initrd's and the command line's digests. */
int mr_inputs_from_image(struct mr_inputs *in, const struct os_image *img, const struct vm_config *vm, struct err *e);
/* From verified lite material: its digests, the TD HOB from its witness.
 * EXIT_REJECTED for a memory size its kernel digest does not cover (not
 * 2 GiB and below 0xB0000000) or an OVMF variant that differs from vm's. */
int mr_inputs_from_lite(struct mr_inputs *in, const struct lite_material *l, const struct vm_config *vm, struct err *e);

/* RTMR2's command-line event: SHA-384 of UTF-16LE(cmdline " initrd=initrd")
 * and a UTF-16 NUL; the command line must be valid UTF-8. */
int mr_cmdline_digest(const char *cmdline, size_t len, uint8_t out[SHA384_LEN], struct err *e);

/* Lays out every event and replays RTMR0-2 (RTMR0 only with ACPI digests). */
int mr_compose(struct measurement *m, const struct mr_inputs *in, struct err *e);

/* The comparison with a quote (and, for naming the event, the evidence's
 * log: only registers in log_regs, bit i = RTMRi, whose events it carries). */
struct mr_verdict {
	bool match[4]; /* MRTD, RTMR0, RTMR1, RTMR2 */
	bool ok;       /* all four */
	size_t nlines;
	char lines[4][600]; /* one per register that differs, first first */
	struct {
		bool has;
		int reg;     /* 0 MRTD, 1..3 RTMR0..2 */
		long event;  /* index in the register, -1 when it cannot be named */
		const char *name;
		bool expected_known, actual_known;
		bool actual_from_log; /* else: the quote's register */
		uint8_t expected[SHA384_LEN], actual[SHA384_LEN];
	} first;
};
void mr_compare(const struct measurement *m, const struct td_report *q, const struct event_log *log, unsigned log_regs,
		struct mr_verdict *v);

#endif
