/* Fuzz target: lib/tunnel.c and lib/truststore.c without a network - a TLS
 * server thread on the loopback answers tunnel_open with the certificate,
 * protocol version and bytes the input chooses, then tunnel_pump carries the
 * input's upstream bytes to it and its downstream bytes back. Covers the
 * verification failures (untrusted issuer, name mismatch, expired, protocol
 * version, handshake garbage, a server that hangs up), the trust store
 * (a CA file, a missing or corrupt one, the system store), the pump's
 * directions and close_notify or EOF endings. The host-name and port parsers
 * are fuzz_options'.
 *
 * Input: CERT VERSION HOST CAFILE ENDING UPLEN(2) UP[UPLEN] DOWN.
 * CERT % 6: the good certificate (localhost, 127.0.0.1), expired, for
 * another name, self-signed; raw DOWN bytes instead of TLS; a server that
 * closes at once. VERSION % 3: TLS 1.3, 1.2, at most 1.1. HOST % 4:
 * localhost, 127.0.0.1, LocalHost, other.invalid. CAFILE % 8: the test CA
 * (0-4), none (the system store), a missing file, a corrupt file. ENDING
 * bit 0: the server sends close_notify (else only EOF); bits 1-2: the
 * system store's environment (system_env). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "fuzz.h"
#include "tunnel.h"

enum { CERT_GOOD, CERT_EXPIRED, CERT_NAME, CERT_SELF, NCERT };

static SSL_CTX *server_ctx[NCERT];
static int listener, done_pipe[2];
static uint16_t port;
static char ca_path[PATH_MAX], bad_ca_path[PATH_MAX], hashed_dir[PATH_MAX], empty_dir[PATH_MAX];
static char *inherited_file, *inherited_dir; /* SSL_CERT_FILE, SSL_CERT_DIR as the process got them */
static X509 *ca; /* kept: its certificates hold references */

static void set_or_unset(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

/* The system store's environment: as inherited; neither variable (the
 * default directory, indexed on Debian); SSL_CERT_DIR naming a directory
 * indexed with the test CA (which it then trusts); an empty SSL_CERT_DIR. */
static void system_env(unsigned mode)
{
	set_or_unset("SSL_CERT_FILE", mode ? NULL : inherited_file);
	set_or_unset("SSL_CERT_DIR", mode == 0 ? inherited_dir : mode == 2 ? hashed_dir : mode == 3 ? empty_dir : NULL);
}

/* The script of the next connection (written before the client dials). */
static struct {
	unsigned cert, version;
	bool notify;
	bool stalled; /* set by the server: a read or write timed out (a loaded machine), nothing to judge */
	const uint8_t *down;
	size_t down_len;
} next;

static SSL_CTX *server_for(X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (!c || SSL_CTX_use_certificate(c, cert) != 1 || SSL_CTX_use_PrivateKey(c, key) != 1)
		abort();
	SSL_CTX_set_security_level(c, 0); /* so that TLS 1.1 can be offered */
	SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
	return c;
}

static void serve(int fd)
{
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	next.stalled = false;
	if (next.cert == NCERT) { /* not TLS at all */
		if (next.down_len)
			(void)!write(fd, next.down, next.down_len);
		return;
	}
	if (next.cert > NCERT)
		return;
	SSL *s = SSL_new(server_ctx[next.cert]);
	if (!s)
		abort();
	static const int max[] = { TLS1_3_VERSION, TLS1_2_VERSION, TLS1_1_VERSION };
	SSL_set_max_proto_version(s, max[next.version]);
	SSL_set_fd(s, fd);
	if (SSL_accept(s) == 1) {
		size_t off = 0;
		errno = 0;
		while (off < next.down_len) {
			int w = SSL_write(s, next.down + off, (int)(next.down_len - off > 16384 ? 16384 : next.down_len - off));
			if (w <= 0) {
				next.stalled = errno == EAGAIN || errno == EWOULDBLOCK;
				break;
			}
			off += (size_t)w;
		}
		char buf[16384];
		errno = 0;
		while (SSL_read(s, buf, sizeof buf) > 0) /* the client's bytes, until its close_notify */
			;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			next.stalled = true;
		if (next.notify)
			SSL_shutdown(s);
	}
	SSL_free(s);
}

static void *server(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(listener, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd);
		close(fd);
		if (write(done_pipe[1], "x", 1) != 1)
			abort();
	}
	return NULL;
}

static void write_pem(const char *path, X509 *cert)
{
	FILE *f = fopen(path, "w");
	if (!f || PEM_write_X509(f, cert) != 1 || fclose(f))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (!key)
		abort();
	const char *san = "DNS:localhost,IP:127.0.0.1";
	ca = fuzz_cert("fuzz tunnel CA", 1, key, NULL, NULL, true, -3650, 3650, NULL);
	server_ctx[CERT_GOOD] = server_for(fuzz_cert("localhost", 2, key, ca, key, false, -1, 365, san), key);
	server_ctx[CERT_EXPIRED] = server_for(fuzz_cert("localhost", 3, key, ca, key, false, -30, -1, san), key);
	server_ctx[CERT_NAME] =
		server_for(fuzz_cert("elsewhere", 4, key, ca, key, false, -1, 365, "DNS:elsewhere.example"), key);
	server_ctx[CERT_SELF] = server_for(fuzz_cert("localhost", 5, key, NULL, NULL, false, -1, 365, san), key);
	snprintf(ca_path, sizeof ca_path, "%s/ca.pem", fuzz_tmpdir());
	snprintf(bad_ca_path, sizeof bad_ca_path, "%s/bad.pem", fuzz_tmpdir());
	write_pem(ca_path, ca);
	/* A directory indexed by subject hash that holds the test CA, and an empty one. */
	char hashed[PATH_MAX + 32];
	snprintf(hashed_dir, sizeof hashed_dir, "%s/hashed", fuzz_tmpdir());
	snprintf(empty_dir, sizeof empty_dir, "%s/empty", fuzz_tmpdir());
	snprintf(hashed, sizeof hashed, "%s/%08lx.0", hashed_dir, X509_subject_name_hash(ca));
	if (mkdir(hashed_dir, 0700) || mkdir(empty_dir, 0700))
		abort();
	write_pem(hashed, ca);
	const char *f = getenv("SSL_CERT_FILE"), *d = getenv("SSL_CERT_DIR");
	inherited_file = f ? strdup(f) : NULL;
	inherited_dir = d ? strdup(d) : NULL;
	fuzz_put(bad_ca_path, "-----BEGIN CERTIFICATE-----\nnot base64\n", 40);

	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) || listen(listener, 4) ||
	    getsockname(listener, (struct sockaddr *)&a, &al) || pipe2(done_pipe, O_CLOEXEC))
		abort();
	port = ntohs(a.sin_port);
	pthread_t th;
	if (pthread_create(&th, NULL, server, NULL))
		abort();
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 7)
		return 0;
	static const char *const hosts[] = { "localhost", "127.0.0.1", "LocalHost", "other.invalid" };
	next.cert = data[0] % 6;
	next.version = data[1] % 3;
	const char *host = hosts[data[2] % 4];
	unsigned cafile = data[3] % 8;
	next.notify = data[4] & 1;
	size_t up_len = (size_t)data[5] << 8 | data[6];
	const uint8_t *up = data + 7;
	if (up_len > size - 7)
		up_len = size - 7;
	if (up_len > 32768)
		up_len = 32768; /* within a pipe's buffer: written before the pump starts */
	next.down = up + up_len;
	next.down_len = size - 7 - up_len;

	struct tunnel_opts o = { .host = host, .connect_host = "127.0.0.1", .port = port, .timeout_ms = 5000,
				 .cafile = cafile < 5 ? ca_path : cafile == 5 ? NULL : cafile == 6 ? "/nonexistent/ca.pem" : bad_ca_path };
	struct tunnel t;
	struct err e = { 0 };
	bool lost = false; /* a byte not carried; judged once the server is done */
	unsigned env = data[4] >> 1 & 3;
	if (cafile == 5)
		system_env(env);
	int rc = tunnel_open(&t, &o, &e);
	if (cafile == 5)
		system_env(0);
	bool trusted = (cafile < 5 || (cafile == 5 && env == 2)) && next.cert == CERT_GOOD && strcmp(host, "other.invalid");
	if (rc == EXIT_OK) {
		if (!trusted || next.version == 2)
			abort(); /* verified: only the good certificate, for this name, over TLS 1.2 or later */
		int in[2];
		if (pipe2(in, O_CLOEXEC))
			abort();
		if (up_len && write(in[1], up, up_len) != (ssize_t)up_len)
			abort();
		close(in[1]);
		int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
		struct tunnel_stats st = { 0 };
		rc = tunnel_pump(&t, in[0], out, &st, &e);
		lost = rc == EXIT_OK && (st.up != up_len || st.down != next.down_len);
		close(in[0]);
		close(out);
		tunnel_close(&t);
	} else if (rc == EXIT_SYSTEM) {
		if (cafile < 5) /* only the trust store's own failures are local */
			abort();
	} else if (rc != EXIT_REMOTE) {
		abort();
	}
	if (rc)
		fuzz_check_message(&e);
	char x;
	struct pollfd pf = { .fd = done_pipe[0], .events = POLLIN };
	if (poll(&pf, 1, 20000) != 1 || read(done_pipe[0], &x, 1) != 1)
		abort(); /* the server's side of this connection ended */
	if (lost && !next.stalled)
		abort(); /* every byte carried, both ways */
	return 0;
}
