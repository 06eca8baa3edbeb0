/* tls-server: a small, fast TLS server on 127.0.0.1 for the phala-proxy bench
 * (so that the server is not what limits the clients being compared).
 *   tls-server CERT_AND_KEY.pem MODE
 * Binds an ephemeral port, prints it on stdout, then serves connections one
 * after another until killed. MODE: hello (send "hello\n", then close_notify),
 * sink (read and discard); both read until the client's close_notify or EOF
 * before closing, so that the close is never a reset. */
#include <netinet/in.h>
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
	if (argc != 3 || (strcmp(argv[2], "hello") && strcmp(argv[2], "sink")))
		die("usage: tls-server CERT_AND_KEY.pem hello|sink");
	bool sink = !strcmp(argv[2], "sink");
	signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[1], SSL_FILETYPE_PEM) != 1)
		die("loading the certificate and key");
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, 1 << 20);
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
	static char buf[1 << 20];
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			if (!sink)
				if (SSL_write(ssl, "hello\n", 6) > 0)
					SSL_shutdown(ssl);
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
