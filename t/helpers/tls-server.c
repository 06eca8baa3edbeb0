/* tls-server: a small, fast TLS server on 127.0.0.1 for the phala-proxy bench
 * (so that the server is not what limits the clients being compared).
 *   tls-server CERT_AND_KEY.pem MODE
 * Binds an ephemeral port, prints it on stdout, then serves connections one
 * after another until killed. MODE: hello (send "hello\n", as an ssh server sends its banner, and keep
 * the connection open), sink (read and discard); both read until the client's
 * close_notify or EOF before closing, so that the close is never a reset;
 * source BYTES (send BYTES zero bytes, then close_notify). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "tls-server: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(4);
}

int main(int argc, char **argv)
{
	bool source = argc == 4 && !strcmp(argv[2], "source");
	if (!source && (argc != 3 || (strcmp(argv[2], "hello") && strcmp(argv[2], "sink"))))
		die("usage: tls-server CERT_AND_KEY.pem hello|sink|source BYTES");
	bool sink = !strcmp(argv[2], "sink");
	unsigned long long total = source ? strtoull(argv[3], NULL, 10) : 0;
	signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[1], SSL_FILETYPE_PEM) != 1)
		die("loading the certificate and key");
	/* Read-ahead saves a read per record, but a large buffer costs more than
	 * it saves: with 1 MiB, perf showed 62% of the sink's time in memmove and
	 * the sink, not the client, bounded the upload. 64 KiB: four records. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 64) ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl))
		die("listening on 127.0.0.1");
	printf("%u\n", (unsigned)ntohs(sa.sin_port));
	fflush(stdout);
	static char buf[1 << 20]; /* zero: the source's data */
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		/* As interactive servers do: no Nagle delay on the first small record. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			if (source) {
				unsigned long long left = total;
				int w = 1;
				while (left && w > 0) {
					w = SSL_write(ssl, buf, (int)(left < sizeof buf ? left : sizeof buf));
					left -= w > 0 ? (unsigned long long)w : 0;
				}
				SSL_shutdown(ssl);
			} else if (!sink) {
				SSL_write(ssl, "hello\n", 6);
			}
			/* Read to the client's end: closing with unread bytes would be a reset. */
			while (SSL_read(ssl, buf, sizeof buf) > 0)
				;
			SSL_shutdown(ssl);
		}
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
	}
}
