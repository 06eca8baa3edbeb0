#include "tunnel.h"
#include "truststore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Each direction's buffer. Large enough that one read of a pipe fills many
 * TLS records and one SSL_read drains a whole read-ahead buffer. */
#define PUMP_BUF ((size_t)256 << 10)
#define READ_AHEAD ((size_t)64 << 10)

bool tunnel_parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

bool tunnel_split_hostport(const char *s, char *host, size_t hostcap, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return false;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		hl = (size_t)(colon - s);
		if (memchr(s, ':', hl))
			return false; /* a bare IPv6 address needs brackets */
	}
	if (hl == 0 || hl >= hostcap || !tunnel_parse_port(colon + 1, strlen(colon + 1), port))
		return false;
	memcpy(host, h, hl);
	host[hl] = 0;
	return true;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(long long deadline)
{
	long long left = deadline - now_ms();
	return left < 0 ? 0 : left > 1 << 30 ? 1 << 30 : (int)left;
}

/* Waits for events on fd until the deadline; false on timeout. */
static bool wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int r = poll(&p, 1, remaining(deadline));
		if (r > 0)
			return true;
		if (r == 0)
			return false;
		if (errno != EINTR)
			return true; /* let the following call report the error */
	}
}

/* A non-blocking TCP connection to host:port, tried address by address. It is
 * started before the TLS context is built and finished after, so that the
 * TCP handshake's round trip overlaps the context's set-up (trust store
 * included) instead of following it. */
struct dialer {
	const char *host;
	uint16_t port;
	struct addrinfo *res, *ai; /* ai: the address being tried */
	int fd, why;
	int gai, gai_errno; /* getaddrinfo's failure, reported by dial_finish */
};

/* Starts connecting to the next address that accepts a connect(). */
static void dial_next(struct dialer *d)
{
	for (; d->ai; d->ai = d->ai->ai_next) {
		d->fd = socket(d->ai->ai_family, d->ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, d->ai->ai_protocol);
		if (d->fd < 0) {
			d->why = errno;
			continue;
		}
		if (!connect(d->fd, d->ai->ai_addr, d->ai->ai_addrlen) || errno == EINPROGRESS)
			return;
		d->why = errno;
		close(d->fd);
		d->fd = -1;
	}
}

/* Resolves and starts connecting; a failure is kept for dial_finish, so that
 * a local error found meanwhile (a bad CA file) is the one reported. */
static void dial_begin(struct dialer *d, const char *host, uint16_t port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	char portstr[8];
	*d = (struct dialer){ .host = host, .port = port, .fd = -1, .why = ETIMEDOUT };
	snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
	d->gai = getaddrinfo(host, portstr, &hints, &d->res);
	if (d->gai) {
		d->gai_errno = errno;
		d->res = NULL;
		return;
	}
	d->ai = d->res;
	dial_next(d);
}

static void dial_abort(struct dialer *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->res)
		freeaddrinfo(d->res);
}

/* Waits for the connection started by dial_begin, falling back to the next
 * addresses; frees the dialer. */
static int dial_finish(struct dialer *d, long long deadline, int *fdp, struct err *e)
{
	if (d->gai)
		return err_set(e, EXIT_REMOTE, "cannot resolve %s: %s", d->host,
			       d->gai == EAI_SYSTEM ? strerror(d->gai_errno) : gai_strerror(d->gai));
	while (d->fd >= 0) {
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (!wait_fd(d->fd, POLLOUT, deadline))
			soerr = ETIMEDOUT;
		else if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
			soerr = errno;
		if (!soerr)
			break;
		d->why = soerr;
		close(d->fd);
		d->fd = -1;
		if (soerr == ETIMEDOUT)
			break;
		d->ai = d->ai->ai_next;
		dial_next(d);
	}
	freeaddrinfo(d->res);
	d->res = NULL;
	if (d->fd < 0)
		return err_set(e, EXIT_REMOTE, "cannot connect to %s port %u: %s", d->host, (unsigned)d->port,
			       d->why == ETIMEDOUT ? "timed out" : strerror(d->why));
	int one = 1;
	setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* interactive ssh */
	*fdp = d->fd;
	return EXIT_OK;
}

/* The plain reason for a failed certificate verification. */
static const char *verify_reason(long v)
{
	switch (v) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "name mismatch: the certificate is not valid for this host";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "expired: the certificate has expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "not yet valid: the certificate's validity starts in the future";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "untrusted issuer: self-signed certificate";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return "untrusted issuer: the chain does not end at a trusted CA";
	default:
		return NULL;
	}
}

static bool is_version_error(unsigned long l)
{
	if (ERR_GET_LIB(l) != ERR_LIB_SSL)
		return false;
	switch (ERR_GET_REASON(l)) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_WRONG_SSL_VERSION:
	case SSL_R_VERSION_TOO_LOW:
		return true;
	default:
		return false;
	}
}

static int handshake_error(struct tunnel *t, int ret, bool timed_out, struct err *e)
{
	long v = SSL_get_verify_result(t->ssl);
	int se = timed_out ? SSL_ERROR_NONE : SSL_get_error(t->ssl, ret);
	unsigned long l = ERR_peek_last_error();
	char reason[256] = "";
	if (l)
		ERR_error_string_n(l, reason, sizeof reason);
	ERR_clear_error();
	if (timed_out)
		return err_set(e, EXIT_REMOTE, "TLS to %s: handshake failure: timed out", t->host);
	if (v != X509_V_OK) {
		const char *why = verify_reason(v);
		return err_set(e, EXIT_REMOTE, "TLS to %s: %s (%s)", t->host,
			       why ? why : "certificate verification failed", X509_verify_cert_error_string(v));
	}
	if (is_version_error(l))
		return err_set(e, EXIT_REMOTE, "TLS to %s: protocol version: the server offers no TLS 1.2 or later (%s)",
			       t->host, reason);
	if (se == SSL_ERROR_SYSCALL || (se == SSL_ERROR_SSL && !l))
		return err_set(e, EXIT_REMOTE, "TLS to %s: handshake failure: %s", t->host,
			       errno ? strerror(errno) : "connection closed by the server");
	return err_set(e, EXIT_REMOTE, "TLS to %s: handshake failure: %s", t->host, reason[0] ? reason : "unknown");
}

static int make_ctx(struct tunnel *t, const struct tunnel_opts *o, struct err *e)
{
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ctx)
		return err_ssl(e, EXIT_SYSTEM, "creating TLS context");
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	/* The stream's integrity is the inner protocol's (ssh) job; a server that
	 * closes TCP without close_notify has ended the stream. */
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(t->ctx, 1);
	SSL_CTX_set_default_read_buffer_len(t->ctx, READ_AHEAD);
	int rc = truststore_load(t->ctx, o->cafile, e);
	if (rc)
		return rc;
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl)
		return err_ssl(e, EXIT_SYSTEM, "creating TLS connection");
	/* An IP literal is checked against IP SANs and gets no SNI (RFC 6066). */
	unsigned char ip[16];
	bool literal = inet_pton(AF_INET, o->host, ip) == 1 || inet_pton(AF_INET6, o->host, ip) == 1;
	if (literal) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), o->host) != 1)
			return err_ssl(e, EXIT_SYSTEM, "setting the expected address");
	} else if (SSL_set_tlsext_host_name(t->ssl, t->host) != 1 || SSL_set1_host(t->ssl, o->host) != 1) {
		return err_ssl(e, EXIT_SYSTEM, "setting the expected host name");
	}
	SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return EXIT_OK;
}

int tunnel_open(struct tunnel *t, const struct tunnel_opts *o, struct err *e)
{
	memset(t, 0, sizeof *t);
	t->fd = -1;
	if (!o->host || !o->host[0] || strlen(o->host) >= sizeof t->host)
		return err_set(e, EXIT_USAGE, "host name missing or too long");
	snprintf(t->host, sizeof t->host, "%s", o->host);
	long long deadline = now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 30000);
	struct dialer d;
	dial_begin(&d, o->connect_host ? o->connect_host : o->host, o->connect_port ? o->connect_port : o->port);
	int rc = make_ctx(t, o, e);
	if (rc)
		dial_abort(&d);
	else
		rc = dial_finish(&d, deadline, &t->fd, e);
	if (!rc && SSL_set_fd(t->ssl, t->fd) != 1)
		rc = err_ssl(e, EXIT_SYSTEM, "attaching the socket");
	while (!rc) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_connect(t->ssl);
		if (r == 1)
			break;
		int se = SSL_get_error(t->ssl, r);
		if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
			if (!wait_fd(t->fd, se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
				rc = handshake_error(t, r, true, e);
			continue;
		}
		rc = handshake_error(t, r, false, e);
	}
	if (rc) {
		tunnel_close(t);
		return rc;
	}
	/* SSL_VERIFY_PEER already failed the handshake otherwise; checked again
	 * so that no path forwards a byte over an unverified channel. */
	if (SSL_get_verify_result(t->ssl) != X509_V_OK || !SSL_get0_peer_certificate(t->ssl)) {
		tunnel_close(t);
		return err_set(e, EXIT_REMOTE, "TLS to %s: certificate verification failed", o->host);
	}
	snprintf(t->version, sizeof t->version, "%s", SSL_get_version(t->ssl));
	snprintf(t->cipher, sizeof t->cipher, "%s", SSL_get_cipher_name(t->ssl));
	return EXIT_OK;
}

void tunnel_close(struct tunnel *t)
{
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	if (t->fd >= 0)
		close(t->fd);
	t->ssl = NULL;
	t->ctx = NULL;
	t->fd = -1;
}

/* One direction's bytes: data is p[off, off+len). */
struct pipebuf {
	uint8_t *p;
	size_t off, len;
};

static size_t space(const struct pipebuf *b)
{
	return PUMP_BUF - b->off - b->len;
}

static void consumed(struct pipebuf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (!b->len)
		b->off = 0;
}

/* Pipes and sockets become non-blocking for the pump (they are ours alone in
 * a ProxyCommand); files and terminals stay as they are. Returns the old flags. */
static int set_nonblocking(int fd)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fstat(fd, &st) || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return -1;
	if (S_ISFIFO(st.st_mode)) /* fewer, larger reads and writes; best effort */
		fcntl(fd, F_SETPIPE_SZ, (int)(PUMP_BUF < ((size_t)1 << 20) ? PUMP_BUF : (size_t)1 << 20));
	if (!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fl;
}

static int ssl_io_error(struct tunnel *t, int se, const char *dir, struct err *e)
{
	if (se == SSL_ERROR_SYSCALL && !ERR_peek_last_error())
		return err_set(e, EXIT_REMOTE, "%s %s: %s", dir, t->host, errno ? strerror(errno) : "connection reset");
	return err_ssl(e, EXIT_REMOTE, dir) ? err_wrap(e, "%s", t->host) : EXIT_REMOTE;
}

struct pump {
	struct tunnel *t;
	int in, out;
	struct pipebuf up, down;
	size_t wpending;          /* length of an SSL_write to repeat, 0 if none */
	int r_want, w_want, s_want; /* what the last SSL_read/SSL_write/SSL_shutdown waits for */
	bool in_eof, shut_sent, srv_eof, out_nb;
	bool r_full; /* the last SSL_read stopped on a full buffer, not on the socket */
	struct tunnel_stats *st;
};

static int pump_read_in(struct pump *p, struct err *e)
{
	ssize_t n = read(p->in, p->up.p + p->up.off + p->up.len, space(&p->up));
	if (n > 0)
		p->up.len += (size_t)n;
	else if (n == 0)
		p->in_eof = true;
	else if (errno != EAGAIN && errno != EINTR)
		return err_set(e, EXIT_SYSTEM, "reading standard input: %s", strerror(errno));
	return EXIT_OK;
}

static int pump_tls_write(struct pump *p, struct err *e)
{
	while (p->up.len) {
		size_t n = p->wpending ? p->wpending : p->up.len > INT32_MAX ? INT32_MAX : p->up.len;
		ERR_clear_error();
		errno = 0;
		int r = SSL_write(p->t->ssl, p->up.p + p->up.off, (int)n);
		if (r > 0) {
			p->wpending = 0;
			p->w_want = 0;
			consumed(&p->up, (size_t)r);
			p->st->up += (uint64_t)r;
			continue;
		}
		int se = SSL_get_error(p->t->ssl, r);
		if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE)
			return ssl_io_error(p->t, se, "sending to", e);
		p->wpending = n;
		p->w_want = se;
		break;
	}
	return EXIT_OK;
}

static void pump_tls_shutdown(struct pump *p)
{
	ERR_clear_error();
	int r = SSL_shutdown(p->t->ssl);
	if (r >= 0) {
		p->shut_sent = true;
		p->s_want = 0;
		shutdown(p->t->fd, SHUT_WR);
		return;
	}
	int se = SSL_get_error(p->t->ssl, r);
	if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
		p->s_want = se;
		return;
	}
	/* The server may already have gone; its close is reported by the read side. */
	p->shut_sent = true;
	ERR_clear_error();
}

static int pump_tls_read(struct pump *p, struct err *e)
{
	while (!p->srv_eof && space(&p->down)) {
		size_t room = space(&p->down);
		ERR_clear_error();
		errno = 0;
		int r = SSL_read(p->t->ssl, p->down.p + p->down.off + p->down.len, room > INT32_MAX ? INT32_MAX : (int)room);
		if (r > 0) {
			p->down.len += (size_t)r;
			p->st->down += (uint64_t)r;
			p->r_want = SSL_ERROR_WANT_READ;
			continue;
		}
		int se = SSL_get_error(p->t->ssl, r);
		if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
			p->r_want = se;
			break;
		}
		if (se == SSL_ERROR_ZERO_RETURN || (se == SSL_ERROR_SYSCALL && !errno && !ERR_peek_last_error())) {
			p->srv_eof = true;
			p->st->server_closed = true;
			break;
		}
		return ssl_io_error(p->t, se, "receiving from", e);
	}
	p->r_full = !space(&p->down);
	return EXIT_OK;
}

static int pump_write_out(struct pump *p, struct err *e)
{
	ssize_t n = write(p->out, p->down.p + p->down.off, p->down.len);
	if (n > 0)
		consumed(&p->down, (size_t)n);
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		return err_set(e, EXIT_SYSTEM, "writing standard output: %s", strerror(errno));
	return EXIT_OK;
}

static short want_events(int want)
{
	return want == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
}

static int pump_round(struct pump *p, struct err *e)
{
	struct pollfd fds[3] = { { .fd = -1 }, { .fd = -1 }, { .fd = p->t->fd } };
	if (!p->in_eof && !p->srv_eof && space(&p->up))
		fds[0] = (struct pollfd){ .fd = p->in, .events = POLLIN };
	if (p->down.len)
		fds[1] = (struct pollfd){ .fd = p->out, .events = POLLOUT };
	if (!p->srv_eof && space(&p->down))
		fds[2].events |= want_events(p->r_want);
	if (p->up.len && p->w_want)
		fds[2].events |= want_events(p->w_want);
	if (p->s_want)
		fds[2].events |= want_events(p->s_want);
	if (!fds[2].events)
		fds[2].fd = -1;
	/* Records already decrypted or read ahead do not make the socket readable. */
	int timeout = !p->srv_eof && space(&p->down) && p->r_full ? 0 : -1;
	if (poll(fds, 3, timeout) < 0) {
		if (errno == EINTR)
			return EXIT_OK;
		return err_set(e, EXIT_SYSTEM, "poll: %s", strerror(errno));
	}
	if (fds[1].revents & (POLLERR | POLLNVAL))
		return err_set(e, EXIT_SYSTEM, "writing standard output: the reader has gone");
	int rc = EXIT_OK;
	if (fds[0].revents)
		rc = pump_read_in(p, e);
	if (!rc && p->up.len)
		rc = pump_tls_write(p, e);
	if (!rc && p->in_eof && !p->up.len && !p->shut_sent)
		pump_tls_shutdown(p);
	if (!rc)
		rc = pump_tls_read(p, e);
	if (!rc && p->down.len && (p->out_nb || fds[1].revents || !fds[1].events))
		rc = pump_write_out(p, e);
	return rc;
}

int tunnel_pump(struct tunnel *t, int in_fd, int out_fd, struct tunnel_stats *st, struct err *e)
{
	struct pump p = { .t = t, .in = in_fd, .out = out_fd, .r_want = SSL_ERROR_WANT_READ, .st = st };
	memset(st, 0, sizeof *st);
	p.up.p = malloc(PUMP_BUF);
	p.down.p = malloc(PUMP_BUF);
	if (!p.up.p || !p.down.p) {
		free(p.up.p);
		free(p.down.p);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	int in_fl = set_nonblocking(in_fd), out_fl = set_nonblocking(out_fd);
	p.out_nb = out_fl >= 0;
	int rc = EXIT_OK;
	while (!rc && !(p.srv_eof && !p.down.len))
		rc = pump_round(&p, e);
	if (in_fl >= 0)
		fcntl(in_fd, F_SETFL, in_fl);
	if (out_fl >= 0)
		fcntl(out_fd, F_SETFL, out_fl);
	free(p.up.p);
	free(p.down.p);
	return rc;
}
