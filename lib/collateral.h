/* collateral: DCAP verification collateral in dcap-qvl's QuoteCollateralV3
 * JSON (its field names), and the signed TCB info and QE identity bodies it
 * carries, parsed strictly (exact hex lengths, 16 TCB components, known
 * statuses). The signed bodies are kept byte for byte for their signatures. */
#ifndef LIB_COLLATERAL_H
#define LIB_COLLATERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bytes.h"
#include "err.h"

/* In increasing severity (dcap-qvl's order). */
enum tcb_status {
	TCB_UP_TO_DATE,
	TCB_SW_HARDENING_NEEDED,
	TCB_CONFIGURATION_NEEDED,
	TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	TCB_OUT_OF_DATE,
	TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	TCB_REVOKED,
	TCB_STATUS_COUNT
};
/* "UpToDate", "SWHardeningNeeded", ... as Intel spells them. */
const char *tcb_status_name(enum tcb_status s);
bool tcb_status_parse(const char *s, size_t n, enum tcb_status *out);

/* A list of advisory IDs ("INTEL-SA-00106"), owned. A TCB level lists at
 * most ADVISORY_IDS_MAX, each 1..ADVISORY_ID_MAX_LEN graphic ASCII
 * characters (Intel's have 14 to 16 and a level a few dozen); collateral
 * past that is malformed. */
#define ADVISORY_IDS_MAX 256
#define ADVISORY_ID_MAX_LEN 64
struct advisories {
	char **id;
	size_t n;
};
/* Appends id unless already present (first-seen order); false on OOM.
 * Repeats are found by sorting: n log n per call (merge many at once). */
bool advisories_add(struct advisories *a, const char *id);
/* Appends from's IDs that into lacks, in from's order; n log n. */
bool advisories_merge(struct advisories *into, const struct advisories *from);
void advisories_free(struct advisories *a);

/* One entry of tcbLevels: platform levels use sgx/pcesvn/tdx, QE identity
 * and TDX module identity levels use isvsvn. */
struct tcb_level {
	uint8_t sgx[16], tdx[16];
	uint16_t pcesvn, isvsvn;
	enum tcb_status status;
	char date[40]; /* tcbDate as given (RFC 3339) */
	struct advisories adv;
};

struct tdx_module {
	char id[16]; /* "TDX_01"; empty for the base tdxModule */
	uint8_t mrsigner[48], attributes[8], attributes_mask[8];
	struct tcb_level *levels; /* identities only */
	size_t nlevels;
};

struct tcb_info {
	char id[8]; /* "TDX" or "SGX" */
	uint32_t version;
	time_t issue_date, next_update;
	uint8_t fmspc[6], pce_id[2];
	uint32_t tcb_type, eval_number;
	bool has_module;
	struct tdx_module module;
	struct tdx_module *identities;
	size_t nidentities;
	struct tcb_level *levels; /* sorted highest first */
	size_t nlevels;
};

struct qe_identity {
	char id[16]; /* "TD_QE" or "QE" */
	uint32_t version;
	time_t issue_date, next_update;
	uint32_t miscselect, miscselect_mask;
	uint8_t attributes[16], attributes_mask[16], mrsigner[32];
	uint16_t isvprodid;
	struct tcb_level *levels; /* as given: highest isvsvn first */
	size_t nlevels;
};

struct collateral {
	struct buf pck_crl_issuer_chain;     /* PEM */
	struct buf root_ca_crl, pck_crl;     /* DER, decoded from hex */
	struct buf tcb_info_issuer_chain;    /* PEM */
	struct buf tcb_info;                 /* the exact signed JSON text */
	uint8_t tcb_info_signature[64];      /* r || s */
	struct buf qe_identity_issuer_chain; /* PEM */
	struct buf qe_identity;              /* the exact signed JSON text */
	uint8_t qe_identity_signature[64];   /* r || s */
	bool has_pck_certificate_chain;
	struct buf pck_certificate_chain; /* PEM, optional */
	struct tcb_info tcb;
	struct qe_identity qe;
};

/* Parses collateral JSON. EXIT_MALFORMED with "collateral: FIELD: why". */
int collateral_parse(struct collateral *c, const char *text, size_t len, struct err *e);
/* The two signed bodies alone (used by collateral_parse; exposed for tests). */
int tcb_info_parse(struct tcb_info *t, const char *text, size_t len, struct err *e);
int qe_identity_parse(struct qe_identity *q, const char *text, size_t len, struct err *e);
void tcb_info_free(struct tcb_info *t);
void qe_identity_free(struct qe_identity *q);
void collateral_free(struct collateral *c);

#endif
