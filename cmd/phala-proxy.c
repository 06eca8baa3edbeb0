/* phala-proxy: the verified TLS tunnel of stdin/stdout to a CVM's dstack
 * gateway, for ssh's ProxyCommand. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "tool.h"
#include "tunnel.h"

static const char usage[] =
	"usage: phala-proxy [options] TARGET\n"
	"  -p, --port N              TLS port (default: from the gateway domain, else 443)\n"
	"      --connect-to HOST:PORT dial HOST:PORT; SNI and verification stay on the gateway host\n"
	"      --cafile FILE         trust the CAs in FILE (PEM) instead of the system store\n"
	"      --claims DIR          claim ledger directory (default $PHALA_CLAIMS_DIR, else\n"
	"                            ${XDG_STATE_HOME:-~/.local/state}/phala-lease/claims;\n"
	"                            without it, PHALA_CLAIMS_URL or claims_url: PostgreSQL)\n"
	"      --phala PATH          the phala CLI for app ids without a claim (default: phala)\n"
	"      --connect-timeout S   bound on the phala CLI lookup, and on connect plus TLS\n"
	"                            handshake, seconds each (default 30)\n"
	"      --print-host          print \"HOST PORT\" of the resolved gateway and exit\n"
	"  -v, --verbose             progress on standard error\n"
	"  -h, --help                this text\n"
	"      --version             the suite's version\n"
	"TARGET: a host name (used as is), NAME.phala, a lease id or slug (cached host of its\n"
	"claim), or a CVM app id (40 hex, app_/0x prefix: claim, else `phala cvms get`).\n"
	"Exit: 0 server closed the stream, 2 usage, 3 unparseable CLI output, 4 local error,\n"
	"5 network, TLS verification or phala CLI failure.\n";

struct options {
	const char *target, *cafile, *claims, *phala;
	char connect_host[256];
	uint16_t port, connect_port;
	int timeout_s;
	bool verbose, print_host;
};

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },    { "connect-to", required_argument, NULL, 'C' },
		{ "cafile", required_argument, NULL, 'A' },  { "claims", required_argument, NULL, 'L' },
		{ "phala", required_argument, NULL, 'P' },   { "connect-timeout", required_argument, NULL, 'T' },
		{ "print-host", no_argument, NULL, 'H' },    { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 }
	};
	int c;
	o->timeout_s = 30;
	o->phala = "phala";
	while ((c = tool_getopt(argc, argv, "p:vh", longopts, usage)) != -1) {
		switch (c) {
		case 'p':
			if (!tunnel_parse_port(optarg, strlen(optarg), &o->port))
				tool_usage_error(usage, "--port: '%s' is not a port (1-65535)", optarg);
			break;
		case 'C':
			if (!tunnel_split_hostport(optarg, o->connect_host, sizeof o->connect_host, &o->connect_port))
				tool_usage_error(usage, "--connect-to: '%s' is not HOST:PORT", optarg);
			break;
		case 'A': o->cafile = optarg; break;
		case 'L': o->claims = optarg; break;
		case 'P': o->phala = optarg; break;
		case 'T': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 1 || v > 3600)
				tool_usage_error(usage, "--connect-timeout: '%s' is not 1-3600 seconds", optarg);
			o->timeout_s = (int)v;
			break;
		}
		case 'H': o->print_host = true; break;
		case 'v': o->verbose = true; break;
		default: break; /* tool_getopt answered the rest */
		}
	}
	if (argc - optind != 1)
		tool_usage_error(usage, "exactly one TARGET");
	o->target = argv[optind];
}

static void say(const struct options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct options *o, const char *fmt, ...)
{
	va_list ap;
	if (!o->verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", tool_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* TARGET to gateway host and port: as given, from a claim, or from the CLI;
 * lease receives the lease id when a claim gave the host. */
static void resolve(const struct options *o, struct gateway_host *g, char lease[65])
{
	struct err e = { 0 };
	struct target t;
	struct cached_host ch;
	char app_id[APP_ID_HEX + 1];
	if (gateway_target(o->target, &t, &e))
		tool_usage_error(usage, "%s", e.msg);
	memset(g, 0, sizeof *g);
	if (t.kind == TARGET_HOST) {
		snprintf(g->host, sizeof g->host, "%s", t.id);
		return;
	}
	if (gateway_cached(o->claims, &t, &ch, &e))
		tool_fail(&e);
	if (ch.found && ch.g.host[0]) {
		say(o, "%s: cached gateway host %s from claim %s in %s", t.id, ch.g.host, ch.lease_id, ch.dir);
		*g = ch.g;
		memcpy(lease, ch.lease_id, sizeof ch.lease_id);
		return;
	}
	if (t.kind == TARGET_LEASE && !ch.app_id[0]) {
		err_set(&e, EXIT_SYSTEM, "%s: %s (claims in %s)", t.id,
			ch.found ? "its claim has neither a gateway host nor an app id yet"
				 : "no claim with this lease id or slug",
			ch.dir);
		tool_fail(&e);
	}
	memcpy(app_id, t.kind == TARGET_APP_ID ? t.id : ch.app_id, sizeof app_id);
	say(o, "app_%s: no cached gateway host, asking `%s cvms get`", app_id, o->phala);
	if (gateway_ask_cli(o->phala, app_id, o->timeout_s * 1000, g, &e))
		tool_fail(&e);
}

/* A connection is use of its lease, which the idle timeout must see also when
 * ssh runs us from an ssh_config (ssh L.phala, scp, rsync): a child touches
 * the claim once the tunnel is under way (or has ended, however short) and
 * then every TOUCH_EVERY seconds while it is open. It runs apart and silent,
 * so that a held lock (a release at work) or any failure of the touch never
 * delays or fails the connection; it outlives us only to finish a touch (ssh
 * ends its ProxyCommand with SIGHUP). */
#define TOUCH_EVERY 60
#define TOUCH_MIN_INTERVAL 30
#define TOUCH_FIRST_MS 200

struct toucher {
	pid_t pid;
	int lifeline; /* its end closes when we are done: the child stops */
};

static void toucher_start(const struct options *o, const char *lease, const char *host, int tunnel_fd,
			  struct toucher *tc)
{
	int p[2];
	tc->pid = -1;
	tc->lifeline = -1;
	if (pipe2(p, O_CLOEXEC))
		return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		close(p[1]);
		close(tunnel_fd);
		/* The tunnel's first bytes come first on a busy machine. */
		if (nice(10) == -1)
			errno = 0;
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			if (!o->verbose)
				dup2(null, STDERR_FILENO);
		}
		/* The first touch waits a moment (or for the end of a shorter
		 * tunnel): the handshake and the first bytes come first. */
		int wait_ms = TOUCH_FIRST_MS;
		for (;;) {
			struct pollfd pf = { .fd = p[0], .events = POLLIN };
			int n = poll(&pf, 1, wait_ms);
			bool done = n > 0 || (n < 0 && errno != EINTR);
			struct err e = { 0 };
			int rc = gateway_touch(o->claims, lease, host, (long long)time(NULL), TOUCH_MIN_INTERVAL, &e);
			if (rc)
				say(o, "touch: %s", e.msg);
			else
				say(o, "touch: %s: use recorded", lease[0] ? lease : host);
			if (done)
				_exit(0);
			wait_ms = TOUCH_EVERY * 1000;
		}
	}
	close(p[0]);
	tc->pid = pid;
	tc->lifeline = p[1];
}

/* Lets the last touch finish (briefly), then makes sure the child is gone. */
static void toucher_stop(struct toucher *tc)
{
	if (tc->pid <= 0)
		return;
	close(tc->lifeline);
	for (int i = 0; i < 200; i++) {
		if (waitpid(tc->pid, NULL, WNOHANG) != 0)
			return;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(tc->pid, SIGKILL);
	waitpid(tc->pid, NULL, 0);
}

int main(int argc, char **argv)
{
	tool_name = "phala-proxy";
	struct options o = { 0 };
	parse_options(&o, argc, argv);
	signal(SIGPIPE, SIG_IGN);

	struct gateway_host g;
	char lease[65] = "";
	resolve(&o, &g, lease);
	uint16_t port = o.port ? o.port : g.port ? g.port : 443;
	if (o.print_host) {
		printf("%s %u\n", g.host, (unsigned)port);
		return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
	}

	struct tunnel_opts to = { .host = g.host, .port = port, .cafile = o.cafile, .timeout_ms = o.timeout_s * 1000 };
	if (o.connect_host[0]) {
		to.connect_host = o.connect_host;
		to.connect_port = o.connect_port;
	}
	say(&o, "connecting to %s port %u%s%s", g.host, (unsigned)port, o.connect_host[0] ? " via " : "",
	    o.connect_host);
	struct tunnel t;
	struct err e = { 0 };
	if (tunnel_open(&t, &to, &e))
		tool_fail(&e);
	say(&o, "%s: certificate verified, %s %s", g.host, t.version, t.cipher);
	struct toucher tc;
	toucher_start(&o, lease, g.host, t.fd, &tc);
	struct tunnel_stats st;
	int rc = tunnel_pump(&t, STDIN_FILENO, STDOUT_FILENO, &st, &e);
	tunnel_close(&t);
	toucher_stop(&tc);
	if (rc)
		tool_fail(&e);
	say(&o, "server closed the stream: %llu bytes sent, %llu received", (unsigned long long)st.up,
	    (unsigned long long)st.down);
	return EXIT_OK;
}
