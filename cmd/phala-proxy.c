/* phala-proxy: the verified TLS tunnel of stdin/stdout to a CVM's dstack
 * gateway, for ssh's ProxyCommand. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	"                            ${XDG_STATE_HOME:-~/.local/state}/phala-lease/claims)\n"
	"      --phala PATH          the phala CLI for app ids without a claim (default: phala)\n"
	"      --connect-timeout S   bound on the phala CLI lookup, and on connect plus TLS\n"
	"                            handshake, seconds each (default 30)\n"
	"      --print-host          print \"HOST PORT\" of the resolved gateway and exit\n"
	"  -v, --verbose             progress on standard error\n"
	"  -h, --help                this text\n"
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
	while ((c = getopt_long(argc, argv, "p:vh", longopts, NULL)) != -1) {
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
		case 'h': tool_help(usage);
		default: tool_usage_error(usage, "unknown option");
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

/* TARGET to gateway host and port: as given, from a claim, or from the CLI. */
static void resolve(const struct options *o, struct gateway_host *g)
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

int main(int argc, char **argv)
{
	tool_name = "phala-proxy";
	struct options o = { 0 };
	parse_options(&o, argc, argv);
	signal(SIGPIPE, SIG_IGN);

	struct gateway_host g;
	resolve(&o, &g);
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
	struct tunnel_stats st;
	int rc = tunnel_pump(&t, STDIN_FILENO, STDOUT_FILENO, &st, &e);
	tunnel_close(&t);
	if (rc)
		tool_fail(&e);
	say(&o, "server closed the stream: %llu bytes sent, %llu received", (unsigned long long)st.up,
	    (unsigned long long)st.down);
	return EXIT_OK;
}
