/* tdhob: the TD HOB list the firmware measures as RTMR0's first event - a
 * PHIT HOB and one resource-descriptor HOB per memory range of the VM, the
 * ranges TDVF accepts at boot (its TD_HOB and TEMP_MEM sections) told apart
 * from the rest. The layout depends on the VM's memory size only; the
 * accepted ranges come from the firmware's TDVF metadata or, in dstack's
 * lite material, from a compact witness of them (dstack-mr src/tdx.rs). */
#ifndef LIB_TDHOB_H
#define LIB_TDHOB_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "digest.h"
#include "err.h"
#include "tdvf.h"

#define TDHOB_MAX_RANGES TDVF_MAX_SECTIONS

struct tdhob_range {
	uint64_t start, len;
};

/* The accepted ranges, sorted and not overlapping, and where the HOB list
 * itself lives (its EndOfHobList is an address). */
struct tdhob_layout {
	uint64_t hob_base;
	size_t n;
	struct tdhob_range r[TDHOB_MAX_RANGES];
};

/* From parsed TDVF metadata: exactly one TD_HOB section, any TEMP_MEM ones. */
int tdhob_from_tdvf(struct tdhob_layout *l, const struct tdvf *t, struct err *e);

/* From a TdHobWitnessV1 (LEB128: base page, TD HOB page delta, range count,
 * then start-page delta and page count per range). */
int tdhob_from_witness(struct tdhob_layout *l, const uint8_t *w, size_t n, struct err *e);
/* The inverse, for image builders. */
int tdhob_witness(const struct tdhob_layout *l, struct buf *out, struct err *e);

/* SHA-384 of the HOB list for memory_size bytes of guest memory (which must
 * lie above every accepted range). At 0xB0000000 bytes and more, memory above
 * 2 GiB moves to 4 GiB (QEMU's below-4G split). */
int tdhob_digest(const struct tdhob_layout *l, uint64_t memory_size, uint8_t out[SHA384_LEN], struct err *e);

#endif
