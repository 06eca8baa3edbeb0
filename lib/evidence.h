/* evidence: dstack attestation evidence, whatever form it arrives in -
 * an RA-TLS certificate (PEM/DER), a guest-agent Info JSON, a tcb_info
 * object, a GetQuote response, a versioned attestation ({"attestation":hex}
 * or raw), or a bare event-log array - reduced to the parts that checks use. */
#ifndef LIB_EVIDENCE_H
#define LIB_EVIDENCE_H

#include <stdbool.h>

#include "attestation.h"
#include "bytes.h"
#include "err.h"
#include "eventlog.h"
#include "racert.h"

enum evidence_kind { EV_CERT, EV_INFO, EV_TCB_INFO, EV_GETQUOTE, EV_ATTESTATION, EV_EVENT_LOG };

struct evidence {
	enum evidence_kind kind;

	bool has_log;
	struct event_log log;
	unsigned replayable; /* bit i: the log proves RTMRi (a stripped .1.8 log proves RTMR3 only) */

	bool has_quote; /* the quote taken with this log (GetQuote, attestation, certificate) */
	struct buf quote;

	bool has_tcb_regs; /* tcb_info rtmr0..3 (and mrtd) */
	uint8_t tcb_rtmr[4][48];
	bool has_tcb_mrtd;
	uint8_t tcb_mrtd[48];
	bool has_app_compose;
	struct buf app_compose; /* raw bytes, exactly as hashed */
	bool has_compose_hash;
	uint8_t compose_hash[32];
	bool has_mr_aggregated;
	uint8_t mr_aggregated[32];
	/* The host's vm_config (JSON text), from Info, GetQuote or an
	 * attestation; Info also states os_image_hash at its top level. */
	bool has_vm_config;
	struct buf vm_config;
	bool has_os_image_hash;
	uint8_t os_image_hash[32];
	/* Info only: the app_cert's quote, taken at another time than the log;
	 * its static registers (MRTD, MRCONFIGID, ...) still describe the VM. */
	bool has_static_quote;
	struct buf static_quote;

	/* Certificates only. */
	bool has_cert;
	struct racert cert;
	bool has_ext[10]; /* by dstack_ext arc */
	struct buf ext[10];
	bool has_attestation;
	struct dstack_attestation att;
};

/* Loads a certificate (chain) and every dstack extension of its leaf; the
 * quote and log come from .1.8 when present, else .1.1 and .1.2. */
int evidence_from_cert(struct evidence *ev, const uint8_t *data, size_t len, struct err *e);
/* Detects the input's form and loads it (certificates included). */
int evidence_load(struct evidence *ev, const uint8_t *data, size_t len, struct err *e);
void evidence_free(struct evidence *ev);
const char *evidence_kind_name(enum evidence_kind kind);

#endif
