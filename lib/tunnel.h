/* tunnel: a verified TLS client connection and the bidirectional pump that
 * carries two local file descriptors (stdin/stdout of a ProxyCommand) over it.
 *
 * Verification is not optional: TLS 1.2 or later, SNI set to the host, the
 * chain verified against the system trust store (or a CA file), the host name
 * (or IP address) verified against the certificate. Every failure is reported
 * with the host and a plain reason (untrusted issuer, name mismatch, expired,
 * protocol version, handshake failure) before any application byte is sent. */
#ifndef LIB_TUNNEL_H
#define LIB_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct ssl_st;
struct ssl_ctx_st;

struct tunnel_opts {
	const char *host;         /* name for SNI and certificate verification */
	const char *connect_host; /* address to dial instead of host (NULL: host) */
	uint16_t port;            /* TLS port (dialled on connect_host when set) */
	uint16_t connect_port;    /* port on connect_host (0: port) */
	const char *cafile;       /* PEM trust anchors instead of the system store */
	int timeout_ms;           /* bound on connect plus handshake; <= 0: 30 s */
};

struct tunnel {
	int fd;
	struct ssl_ctx_st *ctx;
	struct ssl_st *ssl;
	char host[256];
	char version[16]; /* negotiated protocol, e.g. "TLSv1.3" */
	char cipher[64];
};

struct tunnel_stats {
	uint64_t up, down; /* application bytes in each direction */
	bool server_closed; /* the server ended the stream (close_notify or EOF) */
};

/* Dials, handshakes and verifies. On failure *t holds nothing to free; the
 * error is EXIT_REMOTE for network and TLS failures, EXIT_SYSTEM for local
 * ones (CA file unreadable, out of memory). */
int tunnel_open(struct tunnel *t, const struct tunnel_opts *o, struct err *e);

/* Copies in_fd to the TLS stream and the TLS stream to out_fd until the
 * server closes. EOF on in_fd sends close_notify and shuts the socket's write
 * side while server data keeps flowing. Never busy-waits: one poll() per
 * round over the four directions. Returns 0 when the server closed the
 * stream; EXIT_REMOTE on a network/TLS error, EXIT_SYSTEM on a local read or
 * write error, each with the direction named. */
int tunnel_pump(struct tunnel *t, int in_fd, int out_fd, struct tunnel_stats *st, struct err *e);

void tunnel_close(struct tunnel *t);

/* Splits "HOST:PORT" ("[v6]:PORT" too) into host (NUL-terminated, at most
 * hostcap-1 bytes) and port. EXIT_USAGE-free: returns false when malformed. */
bool tunnel_split_hostport(const char *s, char *host, size_t hostcap, uint16_t *port);
/* Parses a decimal TCP port 1..65535. */
bool tunnel_parse_port(const char *s, size_t n, uint16_t *port);

#endif
