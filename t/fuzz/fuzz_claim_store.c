/* Fuzz target: the claim store on a real directory (a private one per
 * process, emptied before every input) - create, update and remove with and
 * without compare-and-swap, read, list, find (through the index), resolve,
 * touch, lock, and the gateway's lookups over the ledger (gateway_cached,
 * gateway_touch) - as a sequence of operations decoded from the input, mixed
 * with what another process or a crash may leave: claim files of any
 * content, symbolic links, stray index entries. A small model of what was
 * written checks that every answer agrees with it.
 *
 * Input: one byte per operation, its arguments taken from the bytes after
 * it (leases, keys and values mostly from small pools, so that operations
 * meet; sometimes raw bytes). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claim.h"
#include "fuzz.h"
#include "gateway.h"

#define NLEASE 4
#define APP_A "0123456789abcdef0123456789abcdef01234567"
#define HOST_A APP_A "-22.gw.example"

static char dir[PATH_MAX];
static struct claim_store store;

struct input {
	const uint8_t *p, *end;
};

static unsigned take(struct input *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

/* A raw string of up to max bytes (NUL-free), into out. */
static const char *take_raw(struct input *in, char *out, size_t cap, size_t max)
{
	size_t n = take(in) % (max + 1), k = 0;
	while (k < n && k + 1 < cap && in->p < in->end) {
		char c = (char)*in->p++;
		if (c)
			out[k++] = c;
	}
	out[k] = 0;
	return out;
}

static const char *const leases[NLEASE] = { "l0", "l1", "lease-2", "s0" };

static const char *take_lease(struct input *in, char *raw, size_t cap)
{
	unsigned b = take(in);
	return b < 240 ? leases[b % NLEASE] : take_raw(in, raw, cap, 70);
}

struct pool {
	const char *key;
	const char *values[4];
};
static const struct pool pools[] = {
	{ "slug", { "s0", "s1", "l1", "Bad Slug" } },
	{ "name", { "web-1", "web-2", "x", "" } },
	{ "app_id", { APP_A, "APP_" APP_A, "0x" APP_A, "0123" } },
	{ "vm_uuid", { "123e4567-e89b-12d3-a456-426614174000", "123e4567", "", "x" } },
	{ "gateway_host", { HOST_A, "other.example", "UPPER.Example", "-bad" } },
	{ "gateway_port", { "443", "8443", "0", "65536" } },
	{ "state", { "ready", "creating", "releasing", "gone" } },
	{ "recovery", { "", "ambiguous-create", "rollback-cleanup", "nope" } },
	{ "keep", { "true", "false", "yes", "" } },
	{ "created_at", { "1751328000", "0", "-1", "99999999999999999999" } },
	{ "expires_at", { "1751331600", "1751328000", "", "x" } },
	{ "last_touched_at", { "1751328000", "1751327000", "", "1" } },
	{ "ttl_secs", { "3600", "60", "0", "" } },
	{ "idle_secs", { "600", "1", "0", "" } },
	{ "compose_sha256", { "0000000000000000000000000000000000000000000000000000000000000000", "00", "", "g" } },
	{ "key_dir", { "/tmp/k", "rel", "", "/" } },
	{ "lease_id", { "l0", "", "x", "y" } },
	{ "attest_required", { "true", "false", "", "1" } },
};
#define NPOOL (sizeof pools / sizeof *pools)

/* Up to 6 "KEY=VALUE" strings into kv (storage in text). */
static size_t take_kv(struct input *in, char kv[6][160], char **ptr)
{
	size_t n = take(in) % 7;
	for (size_t i = 0; i < n; i++) {
		unsigned b = take(in);
		const struct pool *p = &pools[(b >> 2) % NPOOL];
		if (take(in) < 232) {
			snprintf(kv[i], sizeof kv[i], "%s=%s", p->key, p->values[b & 3]);
		} else {
			char raw[100];
			snprintf(kv[i], sizeof kv[i], "%s", take_raw(in, raw, sizeof raw, 90));
		}
		ptr[i] = kv[i];
	}
	return n;
}

/* What the model knows of each pooled lease. */
enum known { UNKNOWN, ABSENT, PRESENT };
static struct {
	enum known state;
	char rev[CLAIM_REVISION_LEN + 1];
} model[NLEASE];

static int lease_index(const char *lease)
{
	for (int i = 0; i < NLEASE; i++)
		if (!strcmp(lease, leases[i]))
			return i;
	return -1;
}

static void forget_all(void)
{
	for (int i = 0; i < NLEASE; i++)
		model[i].state = UNKNOWN;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	return f->level > 0 ? remove(path) : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	unsetenv(CLAIM_ENV_LOCK_LEASE);
	unsetenv(CLAIM_ENV_LOCK_FD);
	/* On tmpfs when there is one: the store fsyncs every write. */
	struct stat st;
	if (!getenv("TMPDIR") && !stat("/dev/shm", &st) && S_ISDIR(st.st_mode))
		setenv("TMPDIR", "/dev/shm", 1);
	snprintf(dir, sizeof dir, "%s/claims", fuzz_tmpdir());
	struct err e = { 0 };
	if (claim_store_open(&store, dir, true, &e)) {
		fprintf(stderr, "fuzz_claim_store: %s\n", e.msg);
		abort();
	}
	return 0;
}

static int count(const struct claim *c, void *arg)
{
	if (!claim_valid_lease(c->lease_id) || strlen(c->revision) != CLAIM_REVISION_LEN)
		abort(); /* a visited claim is a valid one */
	++*(int *)arg;
	return 0;
}

static void skipped(const char *file, const struct err *why, void *arg)
{
	(void)arg;
	if (!file || strnlen(why->msg, sizeof why->msg) == sizeof why->msg)
		abort();
}

static void expect(bool ok)
{
	if (!ok)
		abort();
}

/* A claim as read must serialise and parse back to itself. */
static void round_trip(const struct claim *c)
{
	struct buf out = { 0 };
	struct claim d;
	struct err e = { 0 };
	expect(claim_serialise(c, &out) && claim_parse(&d, (const char *)out.data, out.len, &e) == EXIT_OK);
	expect(!strcmp(c->lease_id, d.lease_id) && !strcmp(c->revision, d.revision) && c->nfields == d.nfields);
	claim_free(&d);
	buf_free(&out);
}

/* The whole file is written at once (another process, a crash, an editor). */
static void write_raw(const char *lease, struct input *in)
{
	char path[PATH_MAX + 80];
	snprintf(path, sizeof path, "%s/%s.json", dir, lease);
	unsigned how = take(in) % 4;
	unlink(path);
	if (how == 3) {
		(void)!symlink("/etc/passwd", path);
		return;
	}
	if (how == 2) {
		(void)!mkdir(path, 0700);
		return;
	}
	size_t n = take(in) * 16u + take(in);
	if (n > (size_t)(in->end - in->p))
		n = (size_t)(in->end - in->p);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		(void)!write(fd, in->p, n);
		close(fd);
	}
	in->p += n;
}

/* DIR/.index/KEY/VALUE/LEASE, as a crash between the claim and its index leaves it. */
static void write_index(const char *lease, struct input *in)
{
	static const char *const keys[] = { "app_id", "slug", "vm_uuid", "name", "gateway_host" };
	const struct pool *p = &pools[take(in) % NPOOL];
	const char *value = p->values[take(in) & 3];
	if (!value[0] || strchr(value, '/') || strchr(lease, '/') || !strcmp(lease, ".") || !strcmp(lease, ".."))
		return;
	char path[PATH_MAX + 512];
	int n = snprintf(path, sizeof path, "%s/.index", dir);
	mkdir(path, 0700);
	n += snprintf(path + n, sizeof path - (size_t)n, "/%s", keys[take(in) % 5]);
	mkdir(path, 0700);
	n += snprintf(path + n, sizeof path - (size_t)n, "/%s", value);
	mkdir(path, 0700);
	snprintf(path + n, sizeof path - (size_t)n, "/%s", lease);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0)
		close(fd);
}

static const char *take_revision(struct input *in, int li, char *raw, size_t cap)
{
	switch (take(in) % 4) {
	case 0: return NULL;
	case 1: return li >= 0 && model[li].state == PRESENT ? model[li].rev : NULL;
	case 2: return "00000000000000000000000000000000";
	default: return take_raw(in, raw, cap, 40);
	}
}

static void op(struct input *in)
{
	char raw[128], raw2[128], kvs[6][160], *kv[6];
	struct claim c;
	struct err e = { 0 };
	int rc, nseen = 0;
	unsigned code = take(in) % 13;
	const char *lease = take_lease(in, raw, sizeof raw);
	int li = lease_index(lease);
	switch (code) {
	case 0: { /* create */
		size_t n = take_kv(in, kvs, kv);
		rc = claim_create(&store, lease, kv, n, &c, &e);
		if (li >= 0 && model[li].state == PRESENT)
			expect(rc != EXIT_OK); /* never over an existing claim */
		if (rc == EXIT_OK) {
			expect(!strcmp(c.lease_id, lease));
			if (li >= 0) {
				model[li].state = PRESENT;
				snprintf(model[li].rev, sizeof model[li].rev, "%s", c.revision);
			}
			claim_free(&c);
		}
		break;
	}
	case 1: { /* update */
		const char *rev = take_revision(in, li, raw2, sizeof raw2);
		char was[CLAIM_REVISION_LEN + 1];
		snprintf(was, sizeof was, "%s", li >= 0 ? model[li].rev : "");
		size_t n = take_kv(in, kvs, kv);
		rc = claim_update(&store, lease, rev, kv, n, &c, &e);
		if (li >= 0 && model[li].state == ABSENT)
			expect(rc != EXIT_OK); /* an update never creates */
		if (rc == EXIT_OK) {
			expect(!strcmp(c.lease_id, lease) && strcmp(c.revision, was));
			if (li >= 0) {
				model[li].state = PRESENT;
				snprintf(model[li].rev, sizeof model[li].rev, "%s", c.revision);
			}
			claim_free(&c);
		}
		break;
	}
	case 2: /* remove */
		rc = claim_remove(&store, lease, take_revision(in, li, raw2, sizeof raw2), &e);
		if (li >= 0 && model[li].state == ABSENT)
			expect(rc != EXIT_OK);
		if (rc == EXIT_OK && li >= 0)
			model[li].state = ABSENT;
		break;
	case 3: /* read */
		rc = claim_read(&store, lease, &c, &e);
		if (li >= 0 && model[li].state == ABSENT)
			expect(rc == EXIT_REJECTED);
		if (li >= 0 && model[li].state == PRESENT)
			expect(rc == EXIT_OK && !strcmp(c.revision, model[li].rev));
		if (rc == EXIT_OK) {
			expect(!strcmp(c.lease_id, lease));
			round_trip(&c);
			claim_free(&c);
		}
		break;
	case 4: /* list */
		rc = claim_list(&store, count, skipped, &nseen, &e);
		break;
	case 5: { /* find */
		const struct pool *p = &pools[take(in) % NPOOL];
		rc = claim_find(&store, p->key, p->values[take(in) & 3], count, skipped, &nseen, &e);
		break;
	}
	case 6: /* resolve */
		rc = claim_resolve(&store, take(in) & 1 ? APP_A : lease, &c, &e);
		if (rc == EXIT_OK) {
			round_trip(&c);
			claim_free(&c);
		}
		break;
	case 7: /* touch */
		rc = claim_touch(&store, lease, 1751328000 + (long long)take(in) * 60, take(in), &e);
		if (rc == EXIT_OK && li >= 0)
			model[li].state = model[li].state == PRESENT ? UNKNOWN : model[li].state;
		if (li >= 0 && model[li].state == ABSENT)
			expect(rc != EXIT_OK); /* never resurrects */
		break;
	case 8: /* a file written behind the store's back */
		if (!strchr(lease, '/')) {
			write_raw(lease, in);
			if (li >= 0)
				model[li].state = UNKNOWN;
		}
		rc = EXIT_OK;
		break;
	case 9:
		write_index(lease, in);
		rc = EXIT_OK;
		break;
	case 10: { /* lock, then release as the writes do */
		struct claim_lock l;
		rc = claim_lock(&store, lease, take(in) & 1, &l, &e);
		if (rc == EXIT_OK)
			claim_unlock_gone(&store, lease, &l);
		break;
	}
	case 11: { /* the proxy's lookup of a target in the ledger */
		struct target t;
		struct cached_host h;
		rc = gateway_target(take(in) & 1 ? APP_A : lease, &t, &e);
		if (rc == EXIT_OK)
			rc = gateway_cached(dir, &t, &h, &e);
		break;
	}
	default: /* the proxy's touch, by lease or by gateway host */
		rc = gateway_touch(dir, take(in) & 1 ? lease : NULL, take(in) & 1 ? HOST_A : lease,
				   1751328000 + (long long)take(in) * 60, take(in), &e);
		if (rc == EXIT_OK)
			forget_all();
	}
	if (rc != EXIT_OK)
		fuzz_check_message(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS))
		abort();
	for (int i = 0; i < NLEASE; i++)
		model[i].state = ABSENT;
	struct input in = { data, data + size };
	for (int n = 0; n < 64 && in.p < in.end; n++)
		op(&in);
	return 0;
}
