/* tdvf: the TDX firmware (TDVF/OVMF) metadata - the section table QEMU
 * follows to load the firmware into a TD - and what it fixes: MRTD (the TDX
 * module's TDH.MEM.PAGE.ADD and TDH.MR.EXTEND log) and the CFV digest that
 * RTMR0 measures. Layout: Intel TDVF Design Guide, section 11; dstack-mr
 * src/tdvf.rs (v0.5.9). The firmware file is untrusted: every offset and size
 * is checked against the file and against the limits below before use. */
#ifndef LIB_TDVF_H
#define LIB_TDVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "err.h"

#define TDVF_PAGE 4096u
#define TDVF_SECTION_BFV 0u
#define TDVF_SECTION_CFV 1u
#define TDVF_SECTION_TD_HOB 2u
#define TDVF_SECTION_TEMP_MEM 3u
#define TDVF_ATTR_MR_EXTEND 0x1u
#define TDVF_ATTR_PAGE_AUG 0x2u

/* Real firmware has 5-9 sections and well under 32 MiB of added memory;
 * the caps keep a forged table from costing more than a moment. */
#define TDVF_MAX_SECTIONS 32
#define TDVF_MAX_PAGES ((uint64_t)1 << 18) /* 1 GiB of pages, over all sections */

struct tdvf_section {
	uint32_t data_offset, raw_size; /* in the firmware file */
	uint64_t address, mem_size;     /* guest-physical */
	uint32_t type, attributes;
};

struct tdvf {
	const uint8_t *fw; /* the caller's firmware bytes; must outlive the struct */
	size_t len;
	size_t nsec;
	struct tdvf_section sec[TDVF_MAX_SECTIONS];
};

/* Finds and checks the metadata: footer GUID table, the metadata-offset
 * entry, the "TDVF" descriptor (version 1), every section (page-aligned,
 * inside the file, memory ranges not overlapping, MR.EXTEND sections fully
 * backed by file bytes, the total page count within TDVF_MAX_PAGES).
 * EXIT_MALFORMED names the first thing that is wrong. */
int tdvf_parse(struct tdvf *t, const uint8_t *fw, size_t len, struct err *e);

/* The order QEMU adds pages in: QEMU 8.x adds all pages, then extends
 * (two-pass); QEMU >= 9 adds and extends page by page (single-pass). */
enum page_order { PAGES_SINGLE_PASS, PAGES_TWO_PASS };

/* MRTD: SHA-384 over the 128-byte MEM.PAGE.ADD and MR.EXTEND blocks (and the
 * 256-byte chunks extended) in that order. */
int tdvf_mrtd(const struct tdvf *t, enum page_order order, uint8_t out[SHA384_LEN], struct err *e);

/* RTMR0's CFV event: SHA-384 of the one CFV section's raw bytes. */
int tdvf_cfv_digest(const struct tdvf *t, uint8_t out[SHA384_LEN], struct err *e);

#endif
