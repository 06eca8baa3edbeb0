/* truststore: the trust anchors a TLS client verifies the server against. */
#ifndef PHALA_TRUSTSTORE_H
#define PHALA_TRUSTSTORE_H

#include <stdbool.h>

#include "err.h"

struct ssl_ctx_st;

/* Loads CAFILE (PEM) when given, else the system store, into ctx's verify
 * store. EXIT_OK, or EXIT_SYSTEM with the reason. */
int truststore_load(struct ssl_ctx_st *ctx, const char *cafile, struct err *e);

/* True when dir holds certificates named by subject hash ("1a2b3c4d.0"), the
 * index OpenSSL's directory lookup reads. */
bool truststore_dir_is_indexed(const char *dir);

#endif
