/* claimfield: the claim field table (doc/phala-claim.1, FIELDS) and the
 * validation of lease ids, field names and values; the public entry points
 * (claim_valid_lease, claim_valid_key, claim_check_field) are in claim.h.
 * Part of lib/claim, shared by its record format and its stores. */
#ifndef LIB_CLAIMFIELD_H
#define LIB_CLAIMFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "claim.h"

enum claim_ftype {
	F_TEXT,     /* free text */
	F_LEASE,    /* lease id pattern */
	F_NAME,     /* CVM name */
	F_APPID,    /* 40 hex */
	F_UUID,     /* [0-9a-f-] */
	F_HOST,     /* DNS name */
	F_PORT,     /* integer 1..65535 */
	F_INT,      /* integer 0..2^53 */
	F_BOOL,     /* true/false */
	F_SHA256,   /* 64 hex */
	F_PATH,     /* absolute path */
	F_STATE,    /* enum */
	F_RECOVERY, /* enum */
	F_READONLY  /* lease_id, revision, version; ok (phala-claim --json's status member) */
};

/* The type of field key (F_TEXT for any key the table does not name). */
enum claim_ftype claim_field_type(const char *key);

/* s (n bytes) is a decimal integer without sign or leading zeros in min..max. */
bool claim_valid_uint(const char *s, size_t n, uint64_t min, uint64_t max);

/* s (n bytes) is a revision: CLAIM_REVISION_LEN lowercase hex digits. */
bool claim_valid_revision(const char *s, size_t n);

/* The fields stores index for lookups (claim_find): app_id, slug, vm_uuid,
 * name, gateway_host; NULL-terminated. */
extern const char *const claim_indexed[];

/* s is one of the NULL-terminated list. */
bool claim_in_list(const char *s, const char *const *list);

/* EXIT_OK for a valid lease id, else EXIT_USAGE with the message. */
int claim_need_lease(const char *lease, struct err *e);

#endif
