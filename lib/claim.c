#include "claim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claimdir.h"
#include "claimfield.h"
#include "claimpg.h"
#include "claimrec.h"
#include "claimstore.h"

/* The claim logic over a store (claimstore.h): validation before waiting
 * for a lock, the lock around every read-modify-write, compare-and-swap on
 * the revision, a new revision on every write. */

int claim_store_open(struct claim_store *s, const char *dir, bool create, struct err *e)
{
	memset(s, 0, sizeof *s);
	char *url = NULL;
	int rc = dir ? EXIT_OK : claimpg_configured(&url, e);
	if (rc == EXIT_OK)
		rc = url ? claimpg_open(s, url, e) : claimdir_open(s, dir, create, e);
	free(url);
	return rc;
}

void claim_store_close(struct claim_store *s)
{
	if (s->ops)
		s->ops->close(s);
	s->ops = NULL;
}

int claim_read(const struct claim_store *s, const char *lease, struct claim *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	int rc = claim_need_lease(lease, e);
	return rc ? rc : s->ops->read(s, lease, c, e);
}

int claim_lock(const struct claim_store *s, const char *lease, bool for_child, struct claim_lock *l,
	       struct err *e)
{
	memset(l, 0, sizeof *l);
	l->fd = -1;
	int rc = claim_need_lease(lease, e);
	return rc ? rc : s->ops->lock(s, lease, for_child, l, e);
}

void claim_unlock(struct claim_lock *l)
{
	if (l->store)
		l->store->ops->unlock(l, false);
	l->store = NULL;
}

void claim_unlock_gone(const struct claim_store *s, const char *lease, struct claim_lock *l)
{
	if (l->store == s && !strcmp(l->lease, lease))
		s->ops->unlock(l, true);
	else
		claim_unlock(l);
	l->store = NULL;
}

int claim_lock_hand_down(struct claim_lock *l, struct err *e)
{
	if (!l->store)
		return err_set(e, EXIT_SYSTEM, "no lock held to hand down");
	return l->store->ops->hand_down(l, e);
}

/* ---- writes ---- */

/* Lock held: c, with a new revision, in place of old (NULL: none). */
static int write_new(const struct claim_store *s, const struct claim *old, struct claim *c, struct err *e)
{
	int rc = claim_new_revision(c, e);
	return rc ? rc : s->ops->write(s, old, c, e);
}

static int conflict(const char *lease, const char *if_revision, const struct claim *c, struct err *e)
{
	if (!c)
		return err_set(e, EXIT_REJECTED, "%s: " CLAIM_CONFLICT " (claim was removed)", lease);
	return err_set(e, EXIT_REJECTED, "%s: " CLAIM_CONFLICT " (revision is %s, not %.*s)", lease, c->revision,
		       CLAIM_REVISION_LEN + 8, if_revision);
}

static void give(struct claim *c, struct claim *out)
{
	if (out)
		*out = *c;
	else
		claim_free(c);
}

int claim_create(const struct claim_store *s, const char *lease, char *const *kv, size_t n, struct claim *out,
		 struct err *e)
{
	struct claim c;
	memset(&c, 0, sizeof c);
	int rc = claim_need_lease(lease, e);
	if (rc || (rc = claim_apply_kv(&c, kv, n, e))) {
		claim_free(&c);
		return rc;
	}
	memcpy(c.lease_id, lease, strlen(lease) + 1);
	struct claim_lock l;
	if ((rc = claim_lock(s, lease, false, &l, e))) {
		claim_free(&c);
		return rc;
	}
	rc = write_new(s, NULL, &c, e);
	claim_unlock_gone(s, lease, &l);
	if (rc)
		claim_free(&c);
	else
		give(&c, out);
	return rc;
}

/* Under the lock: reads the claim and checks the expected revision. */
static int read_for_write(const struct claim_store *s, const char *lease, const char *if_revision, struct claim *c,
			  struct err *e)
{
	int rc = claim_read(s, lease, c, e);
	if (rc == EXIT_REJECTED && if_revision)
		return conflict(lease, if_revision, NULL, e);
	if (rc)
		return rc;
	if (if_revision && strcmp(c->revision, if_revision)) {
		rc = conflict(lease, if_revision, c, e);
		claim_free(c);
	}
	return rc;
}

int claim_update(const struct claim_store *s, const char *lease, const char *if_revision, char *const *kv,
		 size_t n, struct claim *out, struct err *e)
{
	struct claim c;
	memset(&c, 0, sizeof c);
	int rc = claim_need_lease(lease, e);
	if (rc || (rc = claim_apply_kv(&c, kv, n, e))) { /* validate before waiting for the lock */
		claim_free(&c);
		return rc;
	}
	claim_free(&c);
	struct claim_lock l;
	if ((rc = claim_lock(s, lease, false, &l, e)))
		return rc;
	if (!(rc = read_for_write(s, lease, if_revision, &c, e))) {
		struct claim old;
		rc = claim_copy(&old, &c) ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
		if (!rc && !(rc = claim_apply_kv(&c, kv, n, e)))
			rc = write_new(s, &old, &c, e);
		claim_free(&old);
		if (rc)
			claim_free(&c);
		else
			give(&c, out);
	}
	claim_unlock_gone(s, lease, &l);
	return rc;
}

int claim_remove(const struct claim_store *s, const char *lease, const char *if_revision, struct err *e)
{
	struct claim_lock l;
	int rc = claim_lock(s, lease, false, &l, e);
	if (rc)
		return rc;
	struct claim c;
	if (!(rc = read_for_write(s, lease, if_revision, &c, e))) {
		rc = s->ops->remove(s, &c, e);
		claim_free(&c);
	}
	claim_unlock_gone(s, lease, &l);
	return rc;
}

int claim_import(const struct claim_store *s, const struct claim *c, struct err *e)
{
	struct claim_lock l;
	int rc = claim_lock(s, c->lease_id, false, &l, e);
	if (rc)
		return rc;
	rc = s->ops->write(s, NULL, c, e);
	claim_unlock_gone(s, c->lease_id, &l);
	return rc;
}

/* ---- scans ---- */

struct match {
	const char *key, *value;
	claim_visit_fn visit;
	claim_skip_fn skip;
	void *arg;
};

/* The store visits candidates; the claims that match are passed on. */
static int visit_match(const struct claim *c, void *arg)
{
	const struct match *m = arg;
	const char *v = claim_get(c, m->key);
	return v && !strcmp(v, m->value) ? m->visit(c, m->arg) : EXIT_OK;
}

static void skip_match(const char *file, const struct err *why, void *arg)
{
	const struct match *m = arg;
	if (m->skip)
		m->skip(file, why, m->arg);
}

int claim_list(const struct claim_store *s, claim_visit_fn visit, claim_skip_fn skip, void *arg, struct err *e)
{
	return s->ops->scan(s, NULL, NULL, visit, skip, arg, e);
}

int claim_find(const struct claim_store *s, const char *key, const char *value, claim_visit_fn visit,
	       claim_skip_fn skip, void *arg, struct err *e)
{
	struct buf norm = { 0 };
	int rc;
	if (!claim_valid_key(key))
		return claim_check_field(key, value, &norm, e); /* the message for an invalid name */
	if (!*value)
		return EXIT_OK; /* no claim has an empty value */
	if (!strcmp(key, "lease_id") || !strcmp(key, "revision") || !strcmp(key, "version"))
		rc = buf_append_str(&norm, value) ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
	else
		rc = claim_check_field(key, value, &norm, e);
	if (rc == EXIT_OK && !strcmp(key, "revision"))
		for (size_t i = 0; i < norm.len; i++)
			if (norm.data[i] >= 'A' && norm.data[i] <= 'Z')
				norm.data[i] = (uint8_t)(norm.data[i] - 'A' + 'a');
	if (rc == EXIT_OK) {
		struct match m = { key, (const char *)norm.data, visit, skip, arg };
		rc = s->ops->scan(s, key, m.value, visit_match, skip_match, &m, e);
	}
	buf_free(&norm);
	return rc;
}

/* ---- resolve ---- */

struct resolved {
	struct claim c;
	int count;
	bool oom;
};

static int take_one(const struct claim *c, void *arg)
{
	struct resolved *r = arg;
	if (++r->count == 1 && !claim_copy(&r->c, c)) {
		r->count = 0;
		r->oom = true;
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

static int resolve_by(const struct claim_store *s, const char *key, const char *ident, struct claim *c,
		      struct err *e)
{
	struct resolved r;
	memset(&r, 0, sizeof r);
	int rc = claim_find(s, key, ident, take_one, NULL, &r, e);
	if (r.oom)
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	if (rc == EXIT_OK && r.count > 1)
		rc = err_set(e, EXIT_USAGE, "%s: ambiguous: %d claims have %s=%s", ident, r.count, key, ident);
	if (rc == EXIT_OK && r.count == 0)
		rc = EXIT_REJECTED;
	if (rc == EXIT_OK)
		*c = r.c;
	else if (r.count)
		claim_free(&r.c);
	return rc;
}

int claim_resolve(const struct claim_store *s, const char *ident, struct claim *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	struct buf tmp = { 0 };
	int rc = EXIT_REJECTED;
	if (strlen(ident) == 40 && claim_check_field("app_id", ident, &tmp, e) == EXIT_OK)
		rc = resolve_by(s, "app_id", ident, c, e);
	buf_free(&tmp);
	if (rc == EXIT_REJECTED && claim_valid_lease(ident)) {
		rc = claim_read(s, ident, c, e);
		if (rc == EXIT_REJECTED)
			rc = resolve_by(s, "slug", ident, c, e);
	}
	if (rc == EXIT_REJECTED)
		rc = err_set(e, EXIT_REJECTED, "%.*s: no claim with that app id, lease id or slug",
			     (int)(strlen(ident) > 80 ? 80 : strlen(ident)), ident);
	return rc;
}

/* ---- touch: a use of the lease seen by phala-proxy ----
 * Built on the public reads and writes only (so it holds for any store). */

static bool field_int(const struct claim *c, const char *key, long long *v)
{
	const char *s = claim_get(c, key);
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !errno && !*end && *v >= 0;
}

int claim_touch(const struct claim_store *s, const char *lease, long long now, long long min_interval,
		struct err *e)
{
	struct claim c;
	int rc = claim_read(s, lease, &c, e);
	if (rc)
		return rc;
	const char *state = claim_get(&c, "state"), *recovery = claim_get(&c, "recovery");
	long long created, ttl, idle, last = -1;
	if (!state || strcmp(state, "ready") || (recovery && *recovery))
		rc = err_set(e, EXIT_REJECTED, "%s: not a ready lease; not touched", lease);
	else if (!field_int(&c, "created_at", &created) || !field_int(&c, "ttl_secs", &ttl) ||
		 !field_int(&c, "idle_secs", &idle))
		rc = err_set(e, EXIT_REJECTED, "%s: no lifetime fields; not touched", lease);
	else if (field_int(&c, "last_touched_at", &last) && now >= last && now - last < min_interval)
		rc = EXIT_OK; /* touched recently enough: no write */
	else {
		/* expires_at = min(last_touched_at + idle, created_at + ttl), as
		 * phala-lease computes it (lease-contract.md §5). */
		long long expires = now + idle < created + ttl ? now + idle : created + ttl;
		char touched[40], expiry[40];
		snprintf(touched, sizeof touched, "last_touched_at=%lld", now);
		snprintf(expiry, sizeof expiry, "expires_at=%lld", expires);
		char *kv[] = { touched, expiry };
		/* Compare-and-swap against what was read: a claim changed or
		 * removed meanwhile (a release) wins, and nothing is created. */
		rc = claim_update(s, lease, c.revision, kv, 2, NULL, e);
	}
	claim_free(&c);
	return rc;
}
