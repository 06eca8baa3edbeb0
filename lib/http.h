/* http: HTTP(S) GET through the curl command-line client (a child process,
 * no shell), with the response status, headers and body captured. The
 * remote side is untrusted: sizes are capped and nothing is interpreted here. */
#ifndef LIB_HTTP_H
#define LIB_HTTP_H

#include "bytes.h"
#include "err.h"

#define HTTP_BODY_MAX ((size_t)16 << 20)

struct http_response {
	long status;         /* final HTTP status code */
	struct buf headers;  /* the response header block(s), as received */
	struct buf body;
};

/* GETs url with curl (the program named by $CURL, else "curl" on PATH).
 * EXIT_REMOTE when the transfer fails (DNS, refused connection, timeout,
 * TLS) or the status is not 200, with curl's reason or the status in e;
 * EXIT_SYSTEM when curl cannot be run or a temporary file fails. */
int http_get(const char *url, long timeout_s, struct http_response *r, struct err *e);
void http_response_free(struct http_response *r);

/* GETs url and writes the body to fd, streaming (a large body never sits
 * in memory), at most max_bytes (EXIT_REMOTE beyond, the transfer is
 * stopped). With progress, curl draws a progress bar on standard error (and
 * reports its errors there). Same exit codes as http_get; on error fd may
 * hold part of the body: the caller discards it. */
int http_download(const char *url, long timeout_s, int fd, unsigned long long max_bytes, bool progress, struct err *e);

/* The value of header name (case-insensitive) in the last header block of
 * r, trimmed; false when absent. */
bool http_header(const struct http_response *r, const char *name, struct buf *out);

#endif
