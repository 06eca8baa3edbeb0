#include "claimpg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/rand.h>

#include "claimfield.h"
#include "claimrec.h"
#include "claimstore.h"
#include "digest.h"
#include "fileio.h"

#define SCHEMA_VERSION 1 /* what this client knows */
#define SCHEMA_MAX 63
#define RETRIES 5 /* serialisation failures and deadlocks */

struct pg {
	PGconn *conn;
	char schema[SCHEMA_MAX + 1];
	int32_t ns; /* the advisory-lock namespace: hash(schema) */
	char machine_name[256];
	char machine_id[CLAIM_REVISION_LEN + 1];
};

static struct pg *pg_of(const struct claim_store *s)
{
	return s->impl;
}

/* ---- configuration ---- */

/* The value of key in a "key = value" file; NULL (and EXIT_OK) when the file
 * or the key is absent. */
static int config_value(const char *path, const char *key, char **out, struct err *e)
{
	*out = NULL;
	struct buf text = { 0 };
	struct stat st;
	if (stat(path, &st) && errno == ENOENT)
		return EXIT_OK;
	int rc = file_read_all(path, 1 << 20, &text, e);
	if (rc)
		return err_set(e, EXIT_USAGE, "config %s: not readable", path);
	char *line = text.len ? (char *)text.data : NULL;
	while (rc == EXIT_OK && line && *line) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *eq = strchr(line, '=');
		while (*line == ' ' || *line == '\t')
			line++;
		if (eq && *line != '#') {
			char *k = line, *ke = eq, *v = eq + 1;
			while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
				ke--;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vn = strlen(v);
			while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r'))
				vn--;
			if ((size_t)(ke - k) == strlen(key) && !strncmp(k, key, strlen(key))) {
				free(*out);
				if (!(*out = strndup(v, vn)))
					rc = err_set(e, EXIT_SYSTEM, "out of memory");
			}
		}
		line = next;
	}
	buf_free(&text);
	return rc;
}

int claimpg_configured(char **url, struct err *e)
{
	*url = NULL;
	const char *env = getenv("PHALA_CLAIMS_URL");
	if (env && *env)
		return (*url = strdup(env)) ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
	struct buf path = { 0 };
	const char *file = getenv("PHALA_LEASE_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	bool ok = file && *file	       ? buf_append_str(&path, file)
		  : xdg && *xdg == '/' ? buf_printf(&path, "%s/phala-lease/config", xdg)
		  : home && *home == '/' ? buf_printf(&path, "%s/.config/phala-lease/config", home)
					 : true;
	int rc = ok ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
	if (rc == EXIT_OK && path.len)
		rc = config_value((const char *)path.data, "claims_url", url, e);
	buf_free(&path);
	if (rc == EXIT_OK && *url && !**url) {
		free(*url);
		*url = NULL;
	}
	return rc;
}

/* ---- statements ---- */

/* The first line of a libpq message (never the connection string). */
static void pg_message(char *out, size_t n, const char *msg)
{
	snprintf(out, n, "%s", msg && *msg ? msg : "unknown error");
	out[strcspn(out, "\n")] = 0;
}

static int pg_fail(struct pg *p, const char *what, const char *msg, struct err *e)
{
	char m[400];
	pg_message(m, sizeof m, msg);
	if (PQstatus(p->conn) != CONNECTION_OK)
		return err_set(e, EXIT_REMOTE, "PostgreSQL: connection lost (%s): %s", what, m);
	return err_set(e, EXIT_REMOTE, "PostgreSQL: %s: %s", what, m);
}

/* Runs sql (n text parameters); the result when its status is want, else
 * NULL with e set. Serialisation failures and deadlocks are retried. */
static PGresult *run(struct pg *p, const char *what, const char *sql, int n, const char *const *params,
		     ExecStatusType want, struct err *e)
{
	for (int tries = 0;; tries++) {
		PGresult *r = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
		if (r && PQresultStatus(r) == want)
			return r;
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01")) && tries < RETRIES) {
			PQclear(r);
			usleep((useconds_t)(1000 << tries));
			continue;
		}
		pg_fail(p, what, r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn), e);
		PQclear(r);
		return NULL;
	}
}

/* A statement without rows; its row count in *rows (may be NULL). */
static int command(struct pg *p, const char *what, const char *sql, int n, const char *const *params, long *rows,
		   struct err *e)
{
	PGresult *r = run(p, what, sql, n, params, PGRES_COMMAND_OK, e);
	if (!r)
		return e->code;
	if (rows)
		*rows = atol(PQcmdTuples(r));
	PQclear(r);
	return EXIT_OK;
}

/* sql with every "@" replaced by the quoted schema name. */
static char *with_schema(const struct pg *p, const char *sql)
{
	struct buf b = { 0 };
	for (const char *c = sql; *c; c++) {
		bool ok = *c == '@' ? buf_printf(&b, "\"%s\"", p->schema) : buf_append(&b, c, 1);
		if (!ok) {
			buf_free(&b);
			return NULL;
		}
	}
	if (!buf_append(&b, "", 1)) {
		buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

/* command() on a statement naming the schema as "@". */
static int scommand(struct pg *p, const char *what, const char *sql, int n, const char *const *params, long *rows,
		    struct err *e)
{
	char *q = with_schema(p, sql);
	if (!q)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	int rc = command(p, what, q, n, params, rows, e);
	free(q);
	return rc;
}

/* Statements without parameters, several at once (the schema's DDL). */
static int sexec(struct pg *p, const char *what, const char *sql, struct err *e)
{
	char *q = with_schema(p, sql);
	if (!q)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	PGresult *r = PQexec(p->conn, q);
	free(q);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? EXIT_OK
		 : pg_fail(p, what, r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn), e);
	PQclear(r);
	return rc;
}

static PGresult *srun(struct pg *p, const char *what, const char *sql, int n, const char *const *params,
		      struct err *e)
{
	char *q = with_schema(p, sql);
	if (!q) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		return NULL;
	}
	PGresult *r = run(p, what, q, n, params, PGRES_TUPLES_OK, e);
	free(q);
	return r;
}

/* ---- the schema ---- */

static int32_t key_of(const char *a, const char *b)
{
	struct span parts[3] = { { a, strlen(a) }, { "/", b ? 1 : 0 }, { b ? b : "", b ? strlen(b) : 0 } };
	uint8_t h[SHA256_LEN];
	if (sha256_spans(h, parts, 3))
		memset(h, 0, sizeof h);
	return (int32_t)(((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3]) & 0x7fffffff);
}

/* Migrations: steps[v] takes the schema from version v to v + 1. */
static const char *const steps[SCHEMA_VERSION] = {
	"CREATE TABLE @.claims (lease_id text COLLATE \"C\" PRIMARY KEY, revision text NOT NULL,"
	" claim text NOT NULL, app_id text, slug text, vm_uuid text, name text, gateway_host text,"
	" scope_api text, scope_workspace text, scope_node text,"
	" machine_name text NOT NULL, machine_id text NOT NULL,"
	" created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX ON @.claims (app_id); CREATE INDEX ON @.claims (slug); CREATE INDEX ON @.claims (vm_uuid);"
	"CREATE INDEX ON @.claims (name); CREATE INDEX ON @.claims (gateway_host);"
	"CREATE TABLE @.handdown (token_sha256 text PRIMARY KEY, lease_id text NOT NULL, backend_pid int NOT NULL,"
	" created_at timestamptz NOT NULL DEFAULT now());",
};

static int schema_version(struct pg *p, long *v, struct err *e)
{
	char *q = with_schema(p, "SELECT version FROM @.meta WHERE id = 1");
	if (!q)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	PGresult *r = PQexec(p->conn, q);
	free(q);
	int rc = EXIT_OK;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
		*v = PQntuples(r) == 1 ? atol(PQgetvalue(r, 0, 0)) : 0;
	else if (state && (!strcmp(state, "3F000") || !strcmp(state, "42P01")))
		*v = -1; /* no schema yet */
	else
		rc = pg_fail(p, "schema version", r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn), e);
	PQclear(r);
	return rc;
}

static int too_new(const struct pg *p, long v, struct err *e)
{
	return err_set(e, EXIT_MALFORMED,
		       "PostgreSQL: schema %s is at version %ld, newer than this phala-claim knows (%d); upgrade "
		       "phala-tools",
		       p->schema, v, SCHEMA_VERSION);
}

/* Creates or migrates the schema in one transaction, serialised by a
 * transaction-level advisory lock of the schema's namespace. */
static int migrate(struct pg *p, struct err *e)
{
	char ns[16];
	snprintf(ns, sizeof ns, "%d", (int)p->ns);
	const char *params[] = { ns };
	long v = 0;
	int rc = command(p, "begin", "BEGIN", 0, NULL, NULL, e);
	if (!rc) {
		PGresult *r = run(p, "schema lock", "SELECT pg_advisory_xact_lock($1::int4, 0)", 1, params,
				  PGRES_TUPLES_OK, e);
		rc = r ? EXIT_OK : e->code;
		PQclear(r);
	}
	if (!rc)
		rc = sexec(p, "create schema",
			   "CREATE SCHEMA IF NOT EXISTS @; CREATE TABLE IF NOT EXISTS @.meta (id int PRIMARY KEY "
			   "CHECK (id = 1), version int NOT NULL); INSERT INTO @.meta VALUES (1, 0) ON CONFLICT DO "
			   "NOTHING",
			   e);
	if (!rc)
		rc = schema_version(p, &v, e);
	if (!rc && v > SCHEMA_VERSION)
		rc = too_new(p, v, e);
	for (; !rc && v >= 0 && v < SCHEMA_VERSION; v++)
		rc = sexec(p, "migrate schema", steps[v], e);
	if (!rc) {
		char ver[16];
		snprintf(ver, sizeof ver, "%d", SCHEMA_VERSION);
		const char *vp[] = { ver };
		rc = scommand(p, "schema version", "UPDATE @.meta SET version = $1::int WHERE id = 1", 1, vp, NULL, e);
	}
	if (!rc)
		rc = command(p, "commit", "COMMIT", 0, NULL, NULL, e);
	if (rc)
		PQclear(PQexec(p->conn, "ROLLBACK"));
	return rc;
}

/* ---- the machine ---- */

/* ${XDG_STATE_HOME:-$HOME/.local/state}/phala-lease/machine-id: a random id
 * made once (linked into place, so that concurrent first uses agree). */
static int machine_id(struct pg *p, struct err *e)
{
	struct buf dir = { 0 }, path = { 0 }, tmp = { 0 }, text = { 0 };
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	bool ok = state && *state == '/' ? buf_printf(&dir, "%s/phala-lease", state)
		  : home && *home == '/' ? buf_printf(&dir, "%s/.local/state/phala-lease", home)
					 : false;
	int rc = EXIT_OK;
	if (!ok)
		rc = err_set(e, EXIT_USAGE, "no state directory for the machine id: set XDG_STATE_HOME or HOME");
	if (!rc && (!buf_printf(&path, "%s/machine-id", (char *)dir.data) ||
		    !buf_printf(&tmp, "%s/.machine-id.%d", (char *)dir.data, (int)getpid())))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	for (int tries = 0; !rc && tries < 2; tries++) {
		struct err absent = { 0 };
		buf_reset(&text);
		if (!file_read_all((char *)path.data, 64, &text, &absent) && text.len >= CLAIM_REVISION_LEN &&
		    claim_valid_revision((char *)text.data, CLAIM_REVISION_LEN)) {
			memcpy(p->machine_id, text.data, CLAIM_REVISION_LEN);
			break;
		}
		struct claim c;
		memset(&c, 0, sizeof c);
		char *end = (char *)dir.data;
		for (char *q = end + 1; *q; q++)
			if (*q == '/') {
				*q = 0;
				mkdir(end, 0700);
				*q = '/';
			}
		mkdir(end, 0700);
		if ((rc = claim_new_revision(&c, e)))
			break;
		c.revision[CLAIM_REVISION_LEN] = '\n';
		rc = file_write_atomic((char *)tmp.data, c.revision, CLAIM_REVISION_LEN + 1, 0600, e);
		if (!rc && link((char *)tmp.data, (char *)path.data) && errno != EEXIST)
			rc = err_set(e, EXIT_SYSTEM, "cannot create %s: %s", (char *)path.data, strerror(errno));
		unlink((char *)tmp.data);
		if (!rc && tries == 1)
			rc = err_set(e, EXIT_SYSTEM, "%s: not a machine id", (char *)path.data);
	}
	buf_free(&dir);
	buf_free(&path);
	buf_free(&tmp);
	buf_free(&text);
	if (!rc && gethostname(p->machine_name, sizeof p->machine_name - 1))
		snprintf(p->machine_name, sizeof p->machine_name, "unknown");
	return rc;
}

/* ---- the store ---- */

static void pg_close(struct claim_store *s)
{
	struct pg *p = pg_of(s);
	if (p) {
		PQfinish(p->conn);
		free(p);
	}
	s->impl = NULL;
}

static int parse_row(const char *lease, const char *text, struct claim *c, struct err *e)
{
	int rc = claim_parse(c, text, strlen(text), e);
	if (rc) {
		e->code = EXIT_MALFORMED;
		err_wrap(e, "corrupt claim");
		return EXIT_MALFORMED;
	}
	if (strcmp(c->lease_id, lease)) {
		claim_free(c);
		return err_set(e, EXIT_MALFORMED, "corrupt claim: lease_id \"%s\" differs from the row's", c->lease_id);
	}
	return EXIT_OK;
}

static int pg_read(const struct claim_store *s, const char *lease, struct claim *c, struct err *e)
{
	const char *params[] = { lease };
	PGresult *r = srun(pg_of(s), "read", "SELECT claim FROM @.claims WHERE lease_id = $1", 1, params, e);
	if (!r)
		return e->code;
	int rc = EXIT_OK;
	if (PQntuples(r) != 1)
		rc = err_set(e, EXIT_REJECTED, "%s: no claim", lease);
	else if ((rc = parse_row(lease, PQgetvalue(r, 0, 0), c, e)))
		err_wrap(e, "%s", lease);
	PQclear(r);
	return rc;
}

static void lock_keys(const struct pg *p, const char *lease, char k1[16], char k2[16])
{
	snprintf(k1, 16, "%d", (int)p->ns);
	snprintf(k2, 16, "%d", (int)key_of(p->schema, lease));
}

static void token_hash(const char *token, char out[2 * SHA256_LEN + 1])
{
	struct span part = { token, strlen(token) };
	uint8_t h[SHA256_LEN];
	if (sha256_spans(h, &part, 1))
		memset(h, 0, sizeof h);
	hex_encode(h, sizeof h, out);
}

/* The lock handed down to this process: the environment names lease and a
 * token whose holder's backend holds lease's advisory lock now. */
static int inherited(struct pg *p, const char *lease, bool *yes, struct err *e)
{
	*yes = false;
	const char *l = getenv(CLAIM_ENV_LOCK_LEASE), *t = getenv(CLAIM_ENV_LOCK_TOKEN);
	if (!l || !t || strcmp(l, lease) || !claim_valid_revision(t, strlen(t)))
		return EXIT_OK;
	char k1[16], k2[16], th[2 * SHA256_LEN + 1];
	lock_keys(p, lease, k1, k2);
	token_hash(t, th);
	const char *params[] = { th, lease, k1, k2 };
	PGresult *r = srun(p, "lock hand-down",
			   "SELECT 1 FROM @.handdown h JOIN pg_locks l ON l.pid = h.backend_pid WHERE h.token_sha256 = "
			   "$1 AND h.lease_id = $2 AND l.locktype = 'advisory' AND l.granted AND l.classid = "
			   "$3::int4::oid AND l.objid = $4::int4::oid AND l.objsubid = 2 AND l.database = (SELECT oid "
			   "FROM pg_database WHERE datname = current_database())",
			   4, params, e);
	if (!r)
		return e->code;
	*yes = PQntuples(r) > 0;
	PQclear(r);
	return EXIT_OK;
}

static int pg_lock(const struct claim_store *s, const char *lease, bool for_child, struct claim_lock *l,
		   struct err *e)
{
	(void)for_child;
	struct pg *p = pg_of(s);
	bool mine;
	int rc = inherited(p, lease, &mine, e);
	if (rc)
		return rc;
	if (!mine) {
		char k1[16], k2[16];
		lock_keys(p, lease, k1, k2);
		const char *params[] = { k1, k2 };
		PGresult *r = run(p, "lock", "SELECT pg_advisory_lock($1::int4, $2::int4)", 2, params, PGRES_TUPLES_OK,
				  e);
		if (!r)
			return e->code;
		PQclear(r);
	}
	l->store = s;
	l->inherited = mine;
	snprintf(l->lease, sizeof l->lease, "%s", lease);
	return EXIT_OK;
}

static void pg_unlock(struct claim_lock *l, bool gone)
{
	(void)gone;
	struct pg *p = pg_of(l->store);
	struct err e = { 0 };
	if (l->inherited)
		return;
	if (l->token[0]) {
		char th[2 * SHA256_LEN + 1];
		token_hash(l->token, th);
		const char *params[] = { th };
		scommand(p, "unlock", "DELETE FROM @.handdown WHERE token_sha256 = $1", 1, params, NULL, &e);
		l->token[0] = 0;
	}
	char k1[16], k2[16];
	lock_keys(p, l->lease, k1, k2);
	const char *params[] = { k1, k2 };
	/* A failure (connection lost) leaves nothing held: the server releases
	 * a session's locks when it ends. */
	PQclear(run(p, "unlock", "SELECT pg_advisory_unlock($1::int4, $2::int4)", 2, params, PGRES_TUPLES_OK, &e));
}

static int pg_hand_down(struct claim_lock *l, struct err *e)
{
	struct pg *p = pg_of(l->store);
	struct claim t;
	memset(&t, 0, sizeof t);
	int rc = claim_new_revision(&t, e); /* 128 random bits, as hex */
	if (rc)
		return rc;
	char th[2 * SHA256_LEN + 1];
	token_hash(t.revision, th);
	const char *params[] = { th, l->lease };
	if ((rc = scommand(p, "lock hand-down",
			   "INSERT INTO @.handdown (token_sha256, lease_id, backend_pid) VALUES ($1, $2, "
			   "pg_backend_pid())",
			   2, params, NULL, e)))
		return rc;
	memcpy(l->token, t.revision, sizeof t.revision);
	unsetenv(CLAIM_ENV_LOCK_FD);
	if (setenv(CLAIM_ENV_LOCK_LEASE, l->lease, 1) || setenv(CLAIM_ENV_LOCK_TOKEN, t.revision, 1))
		return err_set(e, EXIT_SYSTEM, "setenv: %s", strerror(errno));
	return EXIT_OK;
}

/* The parameters of a write: the row's columns, then the old revision (an
 * update) or the machine (a create). */
enum { P_LEASE, P_REV, P_CLAIM, P_INDEXED, P_SCOPE = P_INDEXED + 5, P_OLD = P_SCOPE + 3, P_MACHINE = P_OLD };

static int pg_write(const struct claim_store *s, const struct claim *old, const struct claim *c, struct err *e)
{
	struct pg *p = pg_of(s);
	struct buf text = { 0 };
	if (!claim_serialise(c, &text) || !buf_append(&text, "", 1))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (text.len > CLAIM_FILE_MAX) {
		buf_free(&text);
		return err_set(e, EXIT_USAGE, "%s: the claim would be larger than %d bytes", c->lease_id,
			       CLAIM_FILE_MAX);
	}
	static const char *const scope[] = { "scope_api", "scope_workspace", "scope_node" };
	const char *v[P_MACHINE + 2] = { c->lease_id, c->revision, (const char *)text.data };
	for (int i = 0; i < 5; i++)
		v[P_INDEXED + i] = claim_get(c, claim_indexed[i]);
	for (int i = 0; i < 3; i++)
		v[P_SCOPE + i] = claim_get(c, scope[i]);
	if (old) {
		v[P_OLD] = old->revision;
	} else {
		v[P_MACHINE] = p->machine_name;
		v[P_MACHINE + 1] = p->machine_id;
	}
	long rows = 0;
	int rc = old ? scommand(p, "update",
				"UPDATE @.claims SET revision = $2, claim = $3, app_id = $4, slug = $5, vm_uuid = $6, "
				"name = $7, gateway_host = $8, scope_api = $9, scope_workspace = $10, scope_node = $11, "
				"updated_at = now() WHERE lease_id = $1 AND revision = $12",
				P_OLD + 1, v, &rows, e)
		     : scommand(p, "create",
				"INSERT INTO @.claims (lease_id, revision, claim, app_id, slug, vm_uuid, name, "
				"gateway_host, scope_api, scope_workspace, scope_node, machine_name, machine_id) VALUES "
				"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (lease_id) DO "
				"NOTHING",
				P_MACHINE + 2, v, &rows, e);
	buf_free(&text);
	if (rc == EXIT_OK && rows != 1)
		rc = old ? err_set(e, EXIT_REJECTED, "%s: " CLAIM_CONFLICT " (changed in the database)", c->lease_id)
			 : err_set(e, EXIT_REJECTED, "%s: claim exists", c->lease_id);
	return rc;
}

static int pg_remove(const struct claim_store *s, const struct claim *old, struct err *e)
{
	const char *params[] = { old->lease_id, old->revision };
	long rows = 0;
	int rc = scommand(pg_of(s), "remove", "DELETE FROM @.claims WHERE lease_id = $1 AND revision = $2", 2, params,
			  &rows, e);
	if (rc == EXIT_OK && rows != 1)
		rc = err_set(e, EXIT_REJECTED, "%s: " CLAIM_CONFLICT " (changed in the database)", old->lease_id);
	return rc;
}

static int pg_scan(const struct claim_store *s, const char *key, const char *value, claim_visit_fn visit,
		   claim_skip_fn skip, void *arg, struct err *e)
{
	struct pg *p = pg_of(s);
	const char *column = NULL;
	for (int i = 0; key && claim_indexed[i]; i++)
		if (!strcmp(key, claim_indexed[i]))
			column = claim_indexed[i];
	char sql[160];
	const char *params[] = { value };
	if (column)
		snprintf(sql, sizeof sql, "SELECT lease_id, claim FROM @.claims WHERE %s = $1 ORDER BY lease_id", column);
	else
		snprintf(sql, sizeof sql, "SELECT lease_id, claim FROM @.claims ORDER BY lease_id");
	PGresult *r = srun(p, "list", sql, column ? 1 : 0, params, e);
	if (!r)
		return e->code;
	int rc = EXIT_OK;
	for (int i = 0; rc == EXIT_OK && i < PQntuples(r); i++) {
		struct claim c;
		struct err why = { 0 };
		const char *lease = PQgetvalue(r, i, 0);
		if (parse_row(lease, PQgetvalue(r, i, 1), &c, &why)) {
			if (skip)
				skip(lease, &why, arg);
			continue;
		}
		rc = visit(&c, arg);
		claim_free(&c);
	}
	PQclear(r);
	return rc;
}

static const struct claim_store_ops claimpg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.read = pg_read,
	.lock = pg_lock,
	.unlock = pg_unlock,
	.hand_down = pg_hand_down,
	.write = pg_write,
	.remove = pg_remove,
	.scan = pg_scan,
};

static bool valid_schema(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > SCHEMA_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int claimpg_open(struct claim_store *s, const char *url, struct err *e)
{
	const char *schema = getenv("PHALA_CLAIMS_SCHEMA");
	if (!schema || !*schema)
		schema = "phala_claims";
	if (!valid_schema(schema))
		return err_set(e, EXIT_USAGE, "PHALA_CLAIMS_SCHEMA: expected 1 to %d of [a-z0-9_], not starting with a digit",
			       SCHEMA_MAX);
	struct pg *p = calloc(1, sizeof *p);
	if (!p)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	snprintf(p->schema, sizeof p->schema, "%s", schema);
	p->ns = key_of(schema, NULL);
	s->ops = &claimpg_ops;
	s->impl = p;
	int rc = machine_id(p, e);
	if (rc) {
		pg_close(s);
		return rc;
	}
	const char *keys[] = { "dbname", "fallback_application_name", NULL };
	const char *vals[] = { url, "phala-claim", NULL };
	p->conn = PQconnectdbParams(keys, vals, 1);
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
		char m[400];
		pg_message(m, sizeof m, p->conn ? PQerrorMessage(p->conn) : "out of memory");
		rc = err_set(e, EXIT_REMOTE, "PostgreSQL: cannot connect to the claims database: %s", m);
		pg_close(s);
		return rc;
	}
	long v = 0;
	rc = schema_version(p, &v, e);
	if (!rc && v > SCHEMA_VERSION)
		rc = too_new(p, v, e);
	else if (!rc && v != SCHEMA_VERSION)
		rc = migrate(p, e);
	if (rc)
		pg_close(s);
	return rc;
}
