/* mock-pcs DIR PORTFILE: a mock Intel PCS / PCCS (API v4) on 127.0.0.1 for
 * the tdx-collateral-fetch tests. It listens on a free port (written to
 * PORTFILE once listening), answers one HTTP request per connection, one
 * connection at a time, from the files `tdx-testpki collateral --pcs-dir DIR`
 * wrote, and runs until killed:
 *   /sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der
 *       pckcrl.der, header SGX-PCK-CRL-Issuer-Chain: pckcrl-chain.hdr
 *   /tdx/certification/v4/tcb?fmspc=HEX   (404 unless HEX is the content of DIR/fmspc)
 *       tcb.json, header TCB-Info-Issuer-Chain: tcb-chain.hdr
 *   /tdx/certification/v4/qe/identity
 *       qe.json, header SGX-Enclave-Identity-Issuer-Chain: tcb-chain.hdr
 *   /sgx/certification/v4/rootcacrl, /IntelSGXRootCA.der   rootcacrl.der
 *   anything else: 404
 * DIR/force-status, when present, is the status line every request gets.
 * Request lines are appended to DIR/requests.log. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fileio.h"

static const char *dir;

static bool slurp(const char *name, struct buf *out)
{
	char path[4096];
	struct err e = { 0 };
	snprintf(path, sizeof path, "%s/%s", dir, name);
	buf_reset(out);
	return file_read_all(path, INPUT_MAX, out, &e) == EXIT_OK;
}

static void trim(struct buf *b)
{
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
		b->data[--b->len] = 0;
}

static void respond(int fd, const char *status, const char *body_file, const char *header, const char *header_file)
{
	struct buf body = { 0 }, hv = { 0 }, out = { 0 };
	if (body_file && !slurp(body_file, &body))
		status = "500 Missing File";
	if (header && slurp(header_file, &hv))
		trim(&hv);
	buf_printf(&out, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n", status, body.len);
	if (header)
		buf_printf(&out, "%s: %s\r\n", header, hv.len ? (const char *)hv.data : "");
	buf_append_str(&out, "\r\n");
	buf_append(&out, body.data, body.len);
	struct err e = { 0 };
	fd_write_all(fd, out.data, out.len, &e);
	buf_free(&body);
	buf_free(&hv);
	buf_free(&out);
}

static void serve(int fd)
{
	char req[8192];
	size_t n = 0;
	while (n < sizeof req - 1 && !memmem(req, n, "\r\n\r\n", 4)) {
		ssize_t r = read(fd, req + n, sizeof req - 1 - n);
		if (r <= 0)
			return;
		n += (size_t)r;
	}
	req[n] = 0;
	char *eol = strstr(req, "\r\n");
	char *sp1 = strchr(req, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!eol || !sp1 || !sp2 || sp2 > eol) {
		respond(fd, "400 Bad Request", NULL, NULL, NULL);
		return;
	}
	*sp2 = 0;
	const char *target = sp1 + 1;
	char path[4096];
	snprintf(path, sizeof path, "%s/requests.log", dir);
	FILE *log = fopen(path, "a");
	if (log) {
		fprintf(log, "%s\n", req);
		fclose(log);
	}
	struct buf v = { 0 };
	const char *fmspc_q = "/tdx/certification/v4/tcb?fmspc=";
	if (slurp("force-status", &v)) {
		trim(&v);
		respond(fd, (const char *)v.data, NULL, NULL, NULL);
	} else if (!strcmp(target, "/sgx/certification/v4/pckcrl?ca=platform&encoding=der") ||
		   !strcmp(target, "/sgx/certification/v4/pckcrl?ca=processor&encoding=der")) {
		respond(fd, "200 OK", "pckcrl.der", "SGX-PCK-CRL-Issuer-Chain", "pckcrl-chain.hdr");
	} else if (!strncmp(target, fmspc_q, strlen(fmspc_q))) {
		bool known = slurp("fmspc", &v) && (trim(&v), !strcmp(target + strlen(fmspc_q), (const char *)v.data));
		if (known)
			respond(fd, "200 OK", "tcb.json", "TCB-Info-Issuer-Chain", "tcb-chain.hdr");
		else
			respond(fd, "404 Not Found", NULL, NULL, NULL);
	} else if (!strcmp(target, "/tdx/certification/v4/qe/identity")) {
		respond(fd, "200 OK", "qe.json", "SGX-Enclave-Identity-Issuer-Chain", "tcb-chain.hdr");
	} else if (!strcmp(target, "/sgx/certification/v4/rootcacrl") || !strcmp(target, "/IntelSGXRootCA.der")) {
		respond(fd, "200 OK", "rootcacrl.der", NULL, NULL);
	} else {
		respond(fd, "404 Not Found", NULL, NULL, NULL);
	}
	buf_free(&v);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mock-pcs DIR PORTFILE\n");
		return 2;
	}
	dir = argv[1];
	signal(SIGPIPE, SIG_IGN);
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16) || getsockname(s, (struct sockaddr *)&a, &alen)) {
		perror("mock-pcs: listen");
		return 4;
	}
	char port[16];
	int pn = snprintf(port, sizeof port, "%u\n", ntohs(a.sin_port));
	struct err e = { 0 };
	if (file_write_atomic(argv[2], port, (size_t)pn, 0644, &e)) {
		fprintf(stderr, "mock-pcs: %s\n", e.msg);
		return 4;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("mock-pcs: accept");
			return 4;
		}
		serve(c);
		shutdown(c, SHUT_WR);
		char sink[512];
		while (read(c, sink, sizeof sink) > 0)
			;
		close(c);
	}
}
