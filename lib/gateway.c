#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "claim.h"
#include "json.h"
#include "tunnel.h"

/* Output of one `cvms get` is a few KiB; anything beyond this is not it. */
#define CLI_OUTPUT_MAX ((size_t)4 << 20)

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A bare lowercase app id from "HEX", "app_HEX" or "0xHEX"; false otherwise. */
static bool app_id_of(const char *s, size_t n, char out[APP_ID_HEX + 1])
{
	if (n > 4 && !strncmp(s, "app_", 4)) {
		s += 4;
		n -= 4;
	} else if (n > 2 && (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))) {
		s += 2;
		n -= 2;
	}
	if (n != APP_ID_HEX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_hex(s[i]))
			return false;
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
	}
	out[APP_ID_HEX] = 0;
	return true;
}

/* Lease ids and slugs: [A-Za-z0-9_-], not starting with '-', at most 64. */
static bool is_lease_name(const char *s, size_t n)
{
	if (n == 0 || n > 64 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* Host names (RFC 1123 characters, '_' tolerated) and bracket-less IP literals. */
static bool is_host_name(const char *s, size_t n)
{
	if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '.' || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

int gateway_target(const char *arg, struct target *t, struct err *e)
{
	size_t n = strlen(arg);
	memset(t, 0, sizeof *t);
	bool pseudo = n > 6 && !strcasecmp(arg + n - 6, ".phala");
	if (pseudo)
		n -= 6;
	if (n >= sizeof t->id)
		return err_set(e, EXIT_USAGE, "target too long");
	if (app_id_of(arg, n, t->id)) {
		t->kind = TARGET_APP_ID;
		return EXIT_OK;
	}
	if (!pseudo && memchr(arg, '.', n)) {
		if (!is_host_name(arg, n))
			return err_set(e, EXIT_USAGE, "'%s' is not a valid host name", arg);
		memcpy(t->id, arg, n);
		t->kind = TARGET_HOST;
		return EXIT_OK;
	}
	if (!is_lease_name(arg, n))
		return err_set(e, EXIT_USAGE,
			       "'%s' is not a host name, app id (40 hex, app_ or 0x prefix), lease id or slug", arg);
	memcpy(t->id, arg, n);
	t->kind = TARGET_LEASE;
	return EXIT_OK;
}

int gateway_host_for(const char *app_id, const char *domain, struct gateway_host *g, struct err *e)
{
	size_t dn = strlen(domain);
	const char *colon = strrchr(domain, ':');
	g->port = 0;
	if (colon) {
		if (!tunnel_parse_port(colon + 1, strlen(colon + 1), &g->port))
			return err_set(e, EXIT_MALFORMED, "gateway domain '%s' has a bad port", domain);
		dn = (size_t)(colon - domain);
	}
	if (!is_host_name(domain, dn) || memchr(domain, ':', dn))
		return err_set(e, EXIT_MALFORMED, "gateway domain '%.*s' is not a host name", (int)(dn > 80 ? 80 : dn),
			       domain);
	if (strlen(app_id) + 4 + dn >= sizeof g->host)
		return err_set(e, EXIT_MALFORMED, "gateway host name too long");
	snprintf(g->host, sizeof g->host, "%s-22.%.*s", app_id, (int)dn, domain);
	return EXIT_OK;
}

/* The first of the given keys present in obj, -1 if none. */
static int get_either(const struct json *j, int obj, const char *a, const char *b)
{
	int v = json_get(j, obj, a);
	return v >= 0 ? v : json_get(j, obj, b);
}

/* The string value at t into out, or "" when t is absent or null. */
static int optional_string(const struct json *j, int t, const char *name, struct buf *out, struct err *e)
{
	buf_reset(out);
	buf_append(out, "", 0);
	if (t < 0 || json_type(j, t) == JSON_NULL)
		return EXIT_OK;
	return json_string(j, t, name, out, e);
}

static int read_cvm(const struct json *j, struct gateway_host *g, struct err *e)
{
	struct buf s = { 0 }, domain = { 0 };
	char app_id[APP_ID_HEX + 1];
	int rc = EXIT_OK;
	if (json_type(j, 0) != JSON_OBJECT)
		return err_set(e, EXIT_MALFORMED, "expected a JSON object");
	int ok = json_get(j, 0, "success");
	if (ok < 0 || (json_type(j, ok) != JSON_TRUE && json_type(j, ok) != JSON_FALSE))
		return err_set(e, EXIT_MALFORMED, "no boolean \"success\" in the answer");
	if (json_type(j, ok) == JSON_FALSE) {
		int msg = json_get(j, 0, "error");
		if (msg >= 0 && json_type(j, msg) == JSON_STRING && !json_string(j, msg, "error", &s, e))
			rc = err_set(e, EXIT_REMOTE, "the CVM lookup failed: %.300s", (const char *)s.data);
		else
			rc = err_set(e, EXIT_REMOTE, "the CVM lookup failed (success:false, no error text)");
		buf_free(&s);
		return rc;
	}
	/* A CVM that is not running has no route on the gateway (phala-cli.md §11.5). */
	rc = optional_string(j, json_get(j, 0, "status"), "status", &s, e);
	if (!rc && s.len && strcmp((const char *)s.data, "running"))
		rc = err_set(e, EXIT_REMOTE, "the CVM is not running (status: %.40s)", (const char *)s.data);
	if (!rc)
		rc = optional_string(j, get_either(j, 0, "app_id", "appId"), "app_id", &s, e);
	if (!rc && !app_id_of((const char *)s.data, s.len, app_id))
		rc = err_set(e, s.len ? EXIT_MALFORMED : EXIT_REMOTE, "%s", s.len ? "app_id is not 40 hex" : "the CVM has no app_id");
	int gw = json_get(j, 0, "gateway");
	if (!rc)
		rc = optional_string(j, get_either(j, gw, "base_domain", "baseDomain"), "gateway.base_domain", &domain, e);
	if (!rc && !domain.len)
		rc = optional_string(j, get_either(j, 0, "gateway_domain", "gatewayDomain"), "gateway_domain", &domain, e);
	if (!rc && !domain.len)
		rc = err_set(e, EXIT_REMOTE, "the CVM is not registered on any gateway (no gateway domain)");
	if (!rc)
		rc = gateway_host_for(app_id, (const char *)domain.data, g, e);
	buf_free(&s);
	buf_free(&domain);
	return rc;
}

int gateway_from_cvm_json(const char *text, size_t len, struct gateway_host *g, struct err *e)
{
	size_t start, n;
	struct json j;
	if (!json_find_object(text, len, &start, &n))
		return err_set(e, EXIT_MALFORMED, "no JSON object in the output");
	if (json_parse(&j, text + start, n, e))
		return e->code;
	int rc = read_cvm(&j, g, e);
	json_free(&j);
	return rc;
}

/* First line of text, for a message. */
static int first_line(const struct buf *b)
{
	const char *nl = b->len ? memchr(b->data, '\n', b->len) : NULL;
	size_t n = nl ? (size_t)(nl - (const char *)b->data) : b->len;
	return n > 200 ? 200 : (int)n;
}

/* Child side: never returns. Reports an exec failure's errno through errfd. */
static void run_child(const char *dir, const char *phala, char *const argv[], int out, int errout, int errfd)
{
	int devnull = open("/dev/null", O_RDONLY);
	setpgid(0, 0); /* so that a timeout can stop the CLI and its children together */
	if (chdir(dir) || devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(errout, 2) < 0) {
		int err = errno;
		(void)!write(errfd, &err, sizeof err);
		_exit(127);
	}
	unsetenv("DEBUG");
	setenv("PHALA_DISABLE_UPDATE_CHECK", "1", 1);
	signal(SIGPIPE, SIG_DFL);
	execvp(phala, argv);
	int err = errno;
	(void)!write(errfd, &err, sizeof err);
	_exit(127);
}

/* Runs argv in dir; stdout into out (capped), stderr into errtext, exit status into *status. */
static int run_cli(const char *dir, const char *phala, char *const argv[], int timeout_ms, struct buf *out,
		   struct buf *errtext, int *status, struct err *e)
{
	char errpath[4096];
	if (snprintf(errpath, sizeof errpath, "%s/.stderr", dir) >= (int)sizeof errpath)
		return err_set(e, EXIT_SYSTEM, "temporary directory path too long");
	int pout[2], perr[2], errfile = open(errpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (errfile < 0)
		return err_set(e, EXIT_SYSTEM, "creating %s: %s", errpath, strerror(errno));
	unlink(errpath); /* the CLI's directory stays empty; the open file keeps its stderr */
	if (pipe2(pout, O_CLOEXEC)) {
		close(errfile);
		return err_set(e, EXIT_SYSTEM, "pipe: %s", strerror(errno));
	}
	if (pipe2(perr, O_CLOEXEC)) {
		close(errfile);
		close(pout[0]);
		close(pout[1]);
		return err_set(e, EXIT_SYSTEM, "pipe: %s", strerror(errno));
	}
	pid_t pid = fork();
	if (pid == 0)
		run_child(dir, phala, argv, pout[1], errfile, perr[1]);
	close(pout[1]);
	close(perr[1]);
	int rc = EXIT_OK;
	if (pid < 0)
		rc = err_set(e, EXIT_SYSTEM, "fork: %s", strerror(errno));
	uint8_t chunk[16384];
	ssize_t r = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (pid > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long long left = timeout_ms - ((long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pfd = { .fd = pout[0], .events = POLLIN };
		int pr = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (pr == 0) { /* the CLI and whatever it started */
			kill(-pid, SIGKILL);
			if (!rc)
				rc = err_set(e, EXIT_REMOTE, "timed out after %d s", timeout_ms / 1000);
			break;
		}
		if (pr < 0 && errno == EINTR)
			continue;
		r = read(pout[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out->len < CLI_OUTPUT_MAX && !buf_append(out, chunk, (size_t)r) && !rc)
			rc = err_set(e, EXIT_SYSTEM, "out of memory");
	}
	close(pout[0]);
	int child_errno = 0;
	if (pid > 0 && !rc && read(perr[0], &child_errno, sizeof child_errno) == (ssize_t)sizeof child_errno && !rc)
		rc = err_set(e, EXIT_REMOTE, "cannot run %s: %s", phala, strerror(child_errno));
	close(perr[0]);
	while (pid > 0 && waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	off_t size = lseek(errfile, 0, SEEK_END);
	if (size > 0 && lseek(errfile, 0, SEEK_SET) == 0 && buf_reserve(errtext, 4096)) {
		r = read(errfile, errtext->data, 4095);
		errtext->len = r > 0 ? (size_t)r : 0;
		errtext->data[errtext->len] = 0;
	}
	close(errfile);
	return rc;
}

int gateway_ask_cli(const char *phala, const char *app_id, int timeout_ms, struct gateway_host *g, struct err *e)
{
	char tmpl[4096], arg[64], prog[4096];
	const char *tmp = getenv("TMPDIR");
	snprintf(tmpl, sizeof tmpl, "%s/phala-proxy.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(tmpl))
		return err_set(e, EXIT_SYSTEM, "creating a private directory for the phala CLI: %s", strerror(errno));
	snprintf(arg, sizeof arg, "app_%s", app_id);
	snprintf(prog, sizeof prog, "%s", phala);
	char *argv[] = { prog, "cvms", "get", arg, "--json", NULL };
	struct buf out = { 0 }, errtext = { 0 };
	int status = 0;
	int rc = run_cli(tmpl, phala, argv, timeout_ms > 0 ? timeout_ms : 60000, &out, &errtext, &status, e);
	rmdir(tmpl);
	if (!rc) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		rc = gateway_from_cvm_json((const char *)out.data, out.len, g, e);
		if (rc == EXIT_MALFORMED && code != 0) /* a failed run that printed no answer */
			rc = code < 0 ? err_set(e, EXIT_REMOTE, "killed by signal %d", WTERMSIG(status))
				      : err_set(e, EXIT_REMOTE, "exit status %d%s%.*s", code, errtext.len ? ": " : "",
						first_line(&errtext), (const char *)errtext.data);
		else if (!rc && code != 0)
			rc = err_set(e, EXIT_REMOTE, "exit status %d despite a successful answer", code);
	}
	if (rc)
		err_wrap(e, "%s cvms get %s", phala, arg);
	buf_free(&out);
	buf_free(&errtext);
	return rc;
}

int gateway_cached(const char *dir, const struct target *t, struct cached_host *out, struct err *e)
{
	struct claim_store store;
	struct claim c;
	memset(out, 0, sizeof *out);
	int rc = claim_store_open(&store, dir, false, e);
	if (rc)
		return rc;
	snprintf(out->dir, sizeof out->dir, "%s", store.dir);
	rc = claim_resolve(&store, t->id, &c, e);
	claim_store_close(&store);
	if (rc == EXIT_REJECTED) /* no claim: not an error here */
		return EXIT_OK;
	if (rc)
		return rc;
	out->found = true;
	const char *host = claim_get(&c, "gateway_host"), *port = claim_get(&c, "gateway_port"),
		   *app_id = claim_get(&c, "app_id");
	if (host && host[0]) {
		if (strlen(host) >= sizeof out->g.host || !is_host_name(host, strlen(host)))
			rc = err_set(e, EXIT_MALFORMED, "claim %s: gateway_host is not a host name", c.lease_id);
		else
			snprintf(out->g.host, sizeof out->g.host, "%s", host);
	}
	if (!rc && port && port[0] && !tunnel_parse_port(port, strlen(port), &out->g.port))
		rc = err_set(e, EXIT_MALFORMED, "claim %s: gateway_port is not a port", c.lease_id);
	if (!rc && app_id)
		app_id_of(app_id, strlen(app_id), out->app_id);
	snprintf(out->lease_id, sizeof out->lease_id, "%s", c.lease_id);
	claim_free(&c);
	return rc;
}

/* The lease ids of claims seen by a lookup (at most two are kept). */
struct lease_hits {
	int n;
	char lease[CLAIM_LEASE_MAX + 1];
};

static int note_lease(const struct claim *c, void *arg)
{
	struct lease_hits *h = arg;
	if (h->n++ == 0)
		snprintf(h->lease, sizeof h->lease, "%s", c->lease_id);
	return 0;
}

int gateway_touch(const char *dir, const char *lease, const char *host, long long now, long long min_interval,
		  struct err *e)
{
	struct claim_store store;
	int rc = claim_store_open(&store, dir, false, e);
	if (rc)
		return rc;
	struct lease_hits h = { 0 };
	if (lease && *lease) {
		h.n = 1;
		snprintf(h.lease, sizeof h.lease, "%s", lease);
	} else if ((rc = claim_find(&store, "gateway_host", host, note_lease, NULL, &h, e))) {
		claim_store_close(&store);
		return rc;
	}
	if (h.n != 1)
		rc = err_set(e, EXIT_REJECTED, "%s: %s", host, h.n ? "several claims with this gateway host" : "no claim");
	else
		rc = claim_touch(&store, h.lease, now, min_interval, e);
	claim_store_close(&store);
	return rc;
}
