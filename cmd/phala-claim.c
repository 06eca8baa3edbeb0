/* phala-claim: the local ownership ledger of leased CVMs (lib/claim). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "claim.h"
#include "fileio.h"
#include "jsonw.h"
#include "tool.h"

static const char usage[] =
	"usage: phala-claim [--dir DIR] [--json] COMMAND ...\n"
	"  create LEASE [KEY=VALUE ...]                 new claim; exit 1 if it exists\n"
	"  set LEASE [--if-revision REV] KEY=VALUE ...  update (KEY= removes); exit 1 if absent or changed\n"
	"  get LEASE [FIELD]                            the claim, or one field's bare value\n"
	"  list                                         all claims (corrupt files reported, skipped)\n"
	"  find KEY=VALUE                               the claims whose field equals VALUE\n"
	"  rm LEASE [--if-revision REV]                 remove the claim\n"
	"  lock LEASE -- CMD [ARG ...]                  run CMD holding the lease's lock\n"
	"  export                                       all claims, one JSON line each\n"
	"  import [FILE]                                create the claims of an export (revisions\n"
	"                                               kept); existing claims are never overwritten\n"
	"      --dir DIR   claims directory (default $PHALA_CLAIMS_DIR, else\n"
	"                  ${XDG_STATE_HOME:-$HOME/.local/state}/phala-lease/claims);\n"
	"                  without it, $PHALA_CLAIMS_URL or the user config's claims_url\n"
	"                  choose the PostgreSQL store (phala-claim(1), STORES)\n"
	"      --json      one JSON object on standard output\n"
	"  -h, --help      this text\n"
	"      --version   the suite's version\n"
	"Exit: 0 ok, 1 absent/exists/no match/claim changed, 2 usage or invalid value,\n"
	"3 corrupt claim or unsafe directory, 4 I/O error, 5 database unreachable or\n"
	"refused; lock: CMD's status.\n";

struct skipped {
	struct buf json;
	struct jsonw w;
};

struct ctx {
	struct claim_store store;
	const char *dir;
	bool json;
	const char *if_revision;
	char **args; /* the command's operands, --json and --if-revision removed */
	int nargs;
	struct buf out;
	struct jsonw w;
	int matches;
	int skipped_n; /* export: corrupt claims */
	struct skipped *skipped; /* --json list/find: the files skipped */
};

static void fail(const struct err *e)
{
	tool_fail(e);
}

static void flush_out(struct ctx *c)
{
	struct err e = { 0 };
	if (c->out.len && c->json)
		tool_write_json(&c->out); /* the one object, at the end */
	else if (c->out.len && output_write(NULL, c->out.data, c->out.len, &e))
		fail(&e);
	buf_reset(&c->out);
}

static void oom(void)
{
	struct err e = { 0 };
	err_set(&e, EXIT_SYSTEM, "out of memory");
	fail(&e);
}

/* Takes --json and --if-revision REV out of the operands (before any "--"). */
static void split_args(struct ctx *c, int argc, char **argv, bool allow_revision)
{
	c->args = calloc((size_t)argc + 1, sizeof *c->args);
	if (!c->args)
		oom();
	int i = 0;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (allow_revision && !strcmp(argv[i], "--if-revision")) {
			if (++i == argc)
				tool_usage_error(usage, "--if-revision needs a revision");
			c->if_revision = argv[i];
		} else if (allow_revision && !strncmp(argv[i], "--if-revision=", 14)) {
			c->if_revision = argv[i] + 14;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			tool_usage_error(usage, "unknown option '%s'", argv[i]);
		} else {
			c->args[c->nargs++] = argv[i];
		}
	}
	for (; i < argc; i++)
		c->args[c->nargs++] = argv[i];
	if (c->if_revision) {
		size_t n = strlen(c->if_revision);
		bool ok = n == CLAIM_REVISION_LEN;
		for (size_t k = 0; ok && k < n; k++)
			ok = strchr("0123456789abcdef", c->if_revision[k]) && c->if_revision[k];
		if (!ok)
			tool_usage_error(usage, "--if-revision: expected %d lowercase hex digits", CLAIM_REVISION_LEN);
	}
}

static void open_store(struct ctx *c, bool create, const char *step)
{
	struct err e = { 0 };
	tool_step("store");
	if (claim_store_open(&c->store, c->dir, create, &e))
		fail(&e);
	tool_step(step);
}

/* A claim as the tool reports it: its stored form with "ok":true first
 * ("ok" is reserved: no claim has such a field). */
static void print_claim_json(struct ctx *c, const struct claim *cl)
{
	struct buf one = { 0 };
	if (!claim_serialise(cl, &one) || !buf_append_str(&c->out, "{\"ok\":true,") ||
	    !buf_append(&c->out, one.data + 1, one.len - 1) || !buf_append(&c->out, "\n", 1))
		oom();
	buf_free(&one);
}

static void print_claim_text(struct ctx *c, const struct claim *cl)
{
	bool ok = buf_printf(&c->out, "lease_id=%s\nrevision=%s\n", cl->lease_id, cl->revision);
	for (size_t i = 0; ok && i < cl->nfields; i++)
		ok = buf_printf(&c->out, "%s=%s\n", cl->field[i].key, cl->field[i].value);
	if (!ok)
		oom();
}

/* create/set: the new revision, or the claim with --json. */
static void print_written(struct ctx *c, const struct claim *cl)
{
	if (c->json)
		print_claim_json(c, cl);
	else if (!buf_printf(&c->out, "%s\n", cl->revision))
		oom();
}

static int cmd_create(struct ctx *c)
{
	if (c->nargs < 1)
		tool_usage_error(usage, "create: missing LEASE");
	if (c->if_revision)
		tool_usage_error(usage, "create: --if-revision does not apply");
	open_store(c, true, "create");
	struct claim cl;
	struct err e = { 0 };
	if (claim_create(&c->store, c->args[0], c->args + 1, (size_t)c->nargs - 1, &cl, &e))
		fail(&e);
	print_written(c, &cl);
	claim_free(&cl);
	return EXIT_OK;
}

static int cmd_set(struct ctx *c)
{
	if (c->nargs < 2)
		tool_usage_error(usage, "set: expected LEASE and at least one KEY=VALUE");
	open_store(c, false, "set");
	struct claim cl;
	struct err e = { 0 };
	if (claim_update(&c->store, c->args[0], c->if_revision, c->args + 1, (size_t)c->nargs - 1, &cl, &e))
		fail(&e);
	print_written(c, &cl);
	claim_free(&cl);
	return EXIT_OK;
}

static int cmd_get(struct ctx *c)
{
	if (c->nargs < 1 || c->nargs > 2)
		tool_usage_error(usage, "get: expected LEASE [FIELD]");
	const char *field = c->nargs == 2 ? c->args[1] : NULL;
	struct err e = { 0 };
	if (field && !claim_valid_key(field))
		tool_usage_error(usage, "get: invalid field name '%.*s'", 80, field);
	open_store(c, false, "get");
	struct claim cl;
	if (claim_read(&c->store, c->args[0], &cl, &e))
		fail(&e);
	if (!field) {
		if (c->json)
			print_claim_json(c, &cl);
		else
			print_claim_text(c, &cl);
	} else {
		const char *v = claim_get(&cl, field);
		if (!v) {
			err_set(&e, EXIT_REJECTED, "%s: no field %s", cl.lease_id, field);
			claim_free(&cl);
			fail(&e);
		}
		if (c->json) {
			/* The field typed as in the file: take it from the serialised claim. */
			struct claim one;
			memset(&one, 0, sizeof one);
			memcpy(one.lease_id, cl.lease_id, sizeof one.lease_id);
			memcpy(one.revision, cl.revision, sizeof one.revision);
			if (strcmp(field, "lease_id") && strcmp(field, "revision") && strcmp(field, "version") &&
			    claim_set(&one, field, v, &e))
				fail(&e);
			print_claim_json(c, &one);
			claim_free(&one);
		} else if (!buf_printf(&c->out, "%s\n", v)) {
			oom();
		}
	}
	claim_free(&cl);
	return EXIT_OK;
}

/* Ends a line of output (ok: it was written), flushing now and then. */
static int end_line(struct ctx *c, bool ok)
{
	if (!ok || !buf_append(&c->out, "\n", 1))
		oom();
	if (c->out.len > 65536)
		flush_out(c);
	return EXIT_OK;
}

static int visit(const struct claim *cl, void *arg)
{
	struct ctx *c = arg;
	c->matches++;
	if (c->json) {
		struct buf one = { 0 };
		if (!claim_serialise(cl, &one))
			oom();
		jw_raw(&c->w, (const char *)one.data, one.len);
		buf_free(&one);
		return EXIT_OK;
	}
	static const char *const cols[] = { "state", "slug", "app_id", "gateway_host", "expires_at" };
	bool ok = buf_append_str(&c->out, cl->lease_id);
	for (size_t i = 0; ok && i < sizeof cols / sizeof *cols; i++) {
		const char *v = claim_get(cl, cols[i]);
		ok = buf_printf(&c->out, "\t%s", v ? v : "-");
	}
	return end_line(c, ok);
}

static void skip(const char *file, const struct err *why, void *arg)
{
	struct ctx *c = arg;
	fprintf(stderr, "%s: skipping %s: %s\n", tool_name, file, why->msg);
	struct skipped *s = c->skipped;
	if (s) {
		jw_obj(&s->w);
		jw_key(&s->w, "file");
		jw_str(&s->w, file);
		jw_key(&s->w, "error");
		jw_str(&s->w, why->msg);
		jw_end(&s->w);
	}
}

static int scan(struct ctx *c, const char *key, const char *value)
{
	open_store(c, false, key ? "find" : "list");
	struct skipped sk = { { 0 }, { 0 } };
	struct err e = { 0 };
	bool none = false; /* find: no match, known at the end */
	if (c->json) {
		jw_init(&c->w, &c->out);
		jw_obj(&c->w);
		jw_key(&c->w, "claims");
		jw_arr(&c->w);
		jw_init(&sk.w, &sk.json);
		jw_arr(&sk.w);
		c->skipped = &sk;
	}
	int rc = key ? claim_find(&c->store, key, value, visit, skip, c, &e)
		     : claim_list(&c->store, visit, skip, c, &e);
	if (rc)
		fail(&e);
	none = key && !c->matches;
	if (c->json) {
		jw_end(&sk.w);
		jw_end(&c->w);
		jw_key(&c->w, "skipped");
		jw_raw(&c->w, (const char *)sk.json.data, sk.json.len);
		jw_key(&c->w, "ok");
		jw_bool(&c->w, !none);
		if (none) {
			char msg[CLAIM_KEY_MAX + 64];
			snprintf(msg, sizeof msg, "no claim has a field %s with that value", key);
			tool_json_failure_members(&c->w, "find", EXIT_REJECTED, msg);
		}
		jw_end(&c->w);
		if (c->w.failed || sk.w.failed || !buf_append(&c->out, "\n", 1))
			oom();
		buf_free(&sk.json);
	}
	return none ? EXIT_REJECTED : EXIT_OK;
}

static int cmd_list(struct ctx *c)
{
	if (c->nargs != 0)
		tool_usage_error(usage, "list takes no operands");
	if (c->if_revision)
		tool_usage_error(usage, "list: --if-revision does not apply");
	return scan(c, NULL, NULL);
}

static int cmd_find(struct ctx *c)
{
	if (c->nargs != 1 || !strchr(c->args[0], '=') || c->args[0][0] == '=')
		tool_usage_error(usage, "find: expected one KEY=VALUE");
	if (c->if_revision)
		tool_usage_error(usage, "find: --if-revision does not apply");
	char *eq = strchr(c->args[0], '=');
	*eq = 0;
	return scan(c, c->args[0], eq + 1);
}

static int cmd_rm(struct ctx *c)
{
	if (c->nargs != 1)
		tool_usage_error(usage, "rm: expected LEASE");
	open_store(c, false, "rm");
	struct err e = { 0 };
	if (claim_remove(&c->store, c->args[0], c->if_revision, &e))
		fail(&e);
	if (c->json && !buf_printf(&c->out, "{\"ok\":true,\"lease_id\":\"%s\",\"removed\":true}\n", c->args[0]))
		oom();
	return EXIT_OK;
}

static int export_one(const struct claim *cl, void *arg)
{
	struct ctx *c = arg;
	c->matches++;
	return end_line(c, claim_serialise(cl, &c->out));
}

static void export_skip(const char *file, const struct err *why, void *arg)
{
	struct ctx *c = arg;
	c->skipped_n++;
	fprintf(stderr, "%s: not exported: %s: %s\n", tool_name, file, why->msg);
}

static int cmd_export(struct ctx *c)
{
	if (c->nargs != 0 || c->json)
		tool_usage_error(usage, "export takes no operands (its output is JSON lines)");
	open_store(c, false, "export");
	struct err e = { 0 };
	if (claim_list(&c->store, export_one, export_skip, c, &e))
		fail(&e);
	if (c->skipped_n) {
		flush_out(c);
		err_set(&e, EXIT_MALFORMED, "%d corrupt claims not exported", c->skipped_n);
		fail(&e);
	}
	return EXIT_OK;
}

/* import: every line parsed first (a bad one imports nothing), then each
 * claim created under its lock; those already present are left alone. */
static int cmd_import(struct ctx *c)
{
	if (c->nargs > 1 || c->json)
		tool_usage_error(usage, "import: expected [FILE]");
	struct err e = { 0 };
	struct buf text = { 0 };
	if (file_read_all(c->nargs ? c->args[0] : NULL, INPUT_MAX, &text, &e))
		fail(&e);
	size_t n = 0, cap = 0;
	struct claim *all = NULL;
	char *p = text.len ? (char *)text.data : NULL, *end = p ? p + text.len : NULL;
	for (size_t line = 1; p && p < end; line++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len) {
			if (n == cap && !(all = realloc(all, (cap = cap ? cap * 2 : 64) * sizeof *all)))
				oom();
			if (claim_parse(&all[n], p, len, &e)) {
				err_wrap(&e, "line %zu", line);
				fail(&e);
			}
			n++;
		}
		p = nl ? nl + 1 : end;
	}
	buf_free(&text);
	open_store(c, true, "import");
	int imported = 0, present = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = claim_import(&c->store, &all[i], &e);
		if (rc == EXIT_REJECTED) {
			present++;
			fprintf(stderr, "%s: not imported: %s\n", tool_name, e.msg);
		} else if (rc) {
			fail(&e);
		} else {
			imported++;
		}
		claim_free(&all[i]);
	}
	free(all);
	if (!buf_printf(&c->out, "%d imported, %d already present\n", imported, present))
		oom();
	return present ? EXIT_REJECTED : EXIT_OK;
}

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static int cmd_lock(struct ctx *c, int argc, char **argv)
{
	/* lock LEASE -- CMD ...: argv as given, so CMD's own options are untouched. */
	int i = 0;
	while (i < argc && !strcmp(argv[i], "--json"))
		i++;
	if (argc - i < 3 || strcmp(argv[i + 1], "--"))
		tool_usage_error(usage, "lock: expected LEASE -- CMD [ARG ...]");
	const char *lease = argv[i];
	char **cmd = argv + i + 2;
	if (i || c->json)
		tool_json_mode(true); /* for the lock's own failures */
	open_store(c, true, "lock");
	struct claim_lock l;
	struct err e = { 0 };
	if (claim_lock(&c->store, lease, true, &l, &e))
		fail(&e);
	if (claim_lock_hand_down(&l, &e))
		fail(&e);
	/* A signal ignored on entry stays ignored, here and in CMD (nohup's
	 * rule): a caller's non-cancellable section (phala-lease's release and
	 * rollback) must not be cut short by a second Ctrl-C. The others are
	 * passed on to CMD. */
	static const int sigs[] = { SIGHUP, SIGINT, SIGTERM };
	bool ignored[3];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < 3; k++) {
		struct sigaction old;
		ignored[k] = !sigaction(sigs[k], NULL, &old) && old.sa_handler == SIG_IGN;
		if (!ignored[k])
			sigaction(sigs[k], &sa, NULL);
	}
	fflush(NULL);
	tool_json_mode(false); /* standard output is CMD's from here on */
	pid_t pid = fork();
	if (pid < 0) {
		err_set(&e, EXIT_SYSTEM, "fork: %s", strerror(errno));
		fail(&e);
	}
	if (pid == 0) {
		for (size_t k = 0; k < 3; k++)
			if (!ignored[k])
				signal(sigs[k], SIG_DFL);
		signal(SIGXFSZ, SIG_DFL);
		execvp(cmd[0], cmd);
		int err = errno;
		fprintf(stderr, "%s: cannot run %s: %s\n", tool_name, cmd[0], strerror(err));
		_exit(err == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	child_pid = 0;
	claim_unlock_gone(&c->store, lease, &l);
	if (status == -1) {
		err_set(&e, EXIT_SYSTEM, "waiting for %s: %s", cmd[0], strerror(errno));
		fail(&e);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	tool_name = "phala-claim";
	/* A full disk or `ulimit -f` must give EFBIG and a clean error, not a kill. */
	signal(SIGXFSZ, SIG_IGN);
	struct ctx c;
	memset(&c, 0, sizeof c);
	static const struct option longopts[] = { { "dir", required_argument, NULL, 'd' },
						  { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { NULL, 0, NULL, 0 } };
	int o;
	while ((o = tool_getopt(argc, argv, "+h", longopts, usage)) != -1) {
		switch (o) {
		case 'd': c.dir = optarg; break;
		case 'j': c.json = true; break;
		default: break; /* tool_getopt answered the rest */
		}
	}
	if (optind >= argc)
		tool_usage_error(usage, "missing COMMAND");
	const char *cmd = argv[optind];
	int n = argc - optind - 1;
	char **rest = argv + optind + 1;
	int rc;
	if (!strcmp(cmd, "lock")) {
		rc = cmd_lock(&c, n, rest);
	} else {
		static const struct {
			const char *name;
			int (*run)(struct ctx *);
			bool revision;
		} cmds[] = { { "create", cmd_create, false }, { "set", cmd_set, true }, { "get", cmd_get, false },
			     { "list", cmd_list, false },     { "find", cmd_find, false }, { "rm", cmd_rm, true },
			     { "export", cmd_export, false }, { "import", cmd_import, false } };
		size_t i = 0;
		while (i < sizeof cmds / sizeof *cmds && strcmp(cmd, cmds[i].name))
			i++;
		if (i == sizeof cmds / sizeof *cmds)
			tool_usage_error(usage, "unknown command '%s'", cmd);
		split_args(&c, n, rest, cmds[i].revision);
		if (c.json)
			tool_json_mode(true);
		tool_step(cmds[i].name);
		rc = cmds[i].run(&c);
	}
	flush_out(&c);
	buf_free(&c.out);
	free(c.args);
	claim_store_close(&c.store);
	return rc;
}
