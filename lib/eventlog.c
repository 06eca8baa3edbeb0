#include "eventlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tdx_event *eventlog_push(struct event_log *log)
{
	if (log->n == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 64;
		struct tdx_event *ev = realloc(log->ev, cap * sizeof *ev);
		if (!ev)
			return NULL;
		log->ev = ev;
		log->cap = cap;
	}
	struct tdx_event *ev = &log->ev[log->n++];
	memset(ev, 0, sizeof *ev);
	ev->version = 1;
	return ev;
}

void eventlog_free(struct event_log *log)
{
	for (size_t i = 0; i < log->n; i++) {
		buf_free(&log->ev[i].digest);
		buf_free(&log->ev[i].name);
		buf_free(&log->ev[i].payload);
		buf_free(&log->ev[i].preimage);
	}
	free(log->ev);
	memset(log, 0, sizeof *log);
}

static int event_from_json(struct tdx_event *ev, const struct json *j, int obj, size_t idx, struct err *e)
{
	char where[64];
	snprintf(where, sizeof where, "event %zu", idx);
	if (json_type(j, obj) != JSON_OBJECT)
		return err_set(e, EXIT_MALFORMED, "%s: expected an object, found %s", where,
			       json_type_name(json_type(j, obj)));
	uint64_t v;
	int t = json_need(j, obj, "imr", e);
	if (t < 0 || json_u64(j, t, "imr", 3, &v, e))
		return err_wrap(e, "%s", where);
	ev->imr = (uint32_t)v;
	if ((t = json_need(j, obj, "event_type", e)) < 0 || json_u64(j, t, "event_type", UINT32_MAX, &v, e))
		return err_wrap(e, "%s", where);
	ev->type = (uint32_t)v;
	if ((t = json_get(j, obj, "digest")) >= 0 && json_type(j, t) != JSON_NULL &&
	    json_hex(j, t, "digest", &ev->digest, e))
		return err_wrap(e, "%s", where);
	if (ev->digest.len != 0 && ev->digest.len != SHA384_LEN)
		return err_set(e, EXIT_MALFORMED, "%s: digest is %zu bytes, expected 48 (or empty when stripped)",
			       where, ev->digest.len);
	if ((t = json_get(j, obj, "event")) >= 0 && json_string(j, t, "event", &ev->name, e))
		return err_wrap(e, "%s", where);
	if ((t = json_get(j, obj, "event_payload")) >= 0 && json_hex(j, t, "event_payload", &ev->payload, e))
		return err_wrap(e, "%s", where);
	if ((t = json_get(j, obj, "version")) >= 0) {
		if (json_u64(j, t, "version", UINT32_MAX, &v, e))
			return err_wrap(e, "%s", where);
		if (v != 1 && v != 2)
			return err_set(e, EXIT_MALFORMED, "%s: unknown event version %llu (expected 1 or 2)", where,
				       (unsigned long long)v);
		ev->version = (int)v;
	}
	if ((t = json_get(j, obj, "preimage")) >= 0 && json_type(j, t) != JSON_NULL) {
		if (json_hex(j, t, "preimage", &ev->preimage, e))
			return err_wrap(e, "%s", where);
		ev->has_preimage = true;
	}
	if (ev->type == RUNTIME_EVENT_TYPE && ev->imr != 3)
		return err_set(e, EXIT_MALFORMED, "%s: runtime event \"%s\" in RTMR%u (runtime events extend RTMR3 only)",
			       where, (char *)ev->name.data, ev->imr);
	return EXIT_OK;
}

int eventlog_from_json(struct event_log *log, const struct json *j, int arr, struct err *e)
{
	if (json_type(j, arr) != JSON_ARRAY)
		return err_set(e, EXIT_MALFORMED, "event log: expected an array, found %s",
			       json_type_name(json_type(j, arr)));
	size_t idx = 0;
	for (int t = json_first(j, arr); t >= 0; t = json_next(j, t), idx++) {
		struct tdx_event *ev = eventlog_push(log);
		if (!ev)
			return err_set(e, EXIT_SYSTEM, "event log: out of memory");
		if (event_from_json(ev, j, t, idx, e))
			return err_wrap(e, "event log");
	}
	return EXIT_OK;
}

int eventlog_from_text(struct event_log *log, const char *text, size_t len, struct err *e)
{
	struct json j;
	if (json_parse(&j, text, len, e))
		return err_wrap(e, "event log");
	int rc = eventlog_from_json(log, &j, 0, e);
	json_free(&j);
	return rc;
}

/* The V2 canonical form: {"name":<name>,"payload":"<hex>","type":<type>}. */
static bool v2_preimage(const struct tdx_event *ev, struct buf *out)
{
	return buf_append_str(out, "{\"name\":") &&
	       json_quote(out, (const char *)ev->name.data, ev->name.len) &&
	       buf_append_str(out, ",\"payload\":\"") && buf_append_hex(out, ev->payload.data, ev->payload.len) &&
	       buf_printf(out, "\",\"type\":%u}", ev->type);
}

int runtime_event_digest(const struct tdx_event *ev, uint8_t out[SHA384_LEN], struct err *e)
{
	if (ev->version == 1) {
		uint8_t head[5] = { (uint8_t)ev->type, (uint8_t)(ev->type >> 8), (uint8_t)(ev->type >> 16),
				    (uint8_t)(ev->type >> 24), ':' };
		/* LE32 type ':' name ':' payload, no length prefixes. */
		int rc = sha384_spans(out, SPANS({ head, 5 }, { ev->name.data, ev->name.len }, { ":", 1 },
						 { ev->payload.data, ev->payload.len }));
		return rc ? err_set(e, EXIT_SYSTEM, "SHA-384 failed") : EXIT_OK;
	}
	struct buf pre = { 0 };
	int rc = EXIT_OK;
	if (!v2_preimage(ev, &pre))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	else if (ev->has_preimage && (ev->preimage.len != pre.len || memcmp(ev->preimage.data, pre.data, pre.len)))
		rc = err_set(e, EXIT_REJECTED, "runtime event \"%s\": stored V2 preimage differs from the canonical form %s",
			     (char *)ev->name.data, (char *)pre.data);
	else if (sha384_spans(out, SPANS({ pre.data, pre.len })))
		rc = err_set(e, EXIT_SYSTEM, "SHA-384 failed");
	buf_free(&pre);
	return rc;
}

int eventlog_replay(const struct event_log *log, struct replay *r, struct err *e)
{
	memset(r, 0, sizeof *r);
	for (size_t i = 0; i < log->n; i++) {
		const struct tdx_event *ev = &log->ev[i];
		uint8_t d[SHA384_LEN];
		const uint8_t *digest = d;
		if (ev->type == RUNTIME_EVENT_TYPE) {
			if (runtime_event_digest(ev, d, e))
				return err_wrap(e, "event %zu", i);
			if (ev->digest.len == SHA384_LEN && memcmp(ev->digest.data, d, SHA384_LEN)) {
				char stored[2 * SHA384_LEN + 1], computed[2 * SHA384_LEN + 1];
				hex_encode(ev->digest.data, SHA384_LEN, stored);
				hex_encode(d, SHA384_LEN, computed);
				return err_set(e, EXIT_REJECTED,
					       "event %zu (\"%s\"): stored digest %s does not match its name and payload (%s)",
					       i, (char *)ev->name.data, stored, computed);
			}
		} else if (ev->type == EV_NO_ACTION) {
			continue;
		} else if (ev->digest.len != SHA384_LEN) {
			return err_set(e, EXIT_MALFORMED, "event %zu (boot event type 0x%08x in RTMR%u) has no digest: cannot replay",
				       i, ev->type, ev->imr);
		} else {
			digest = ev->digest.data;
		}
		if (sha384_spans(r->rtmr[ev->imr], SPANS({ r->rtmr[ev->imr], SHA384_LEN }, { digest, SHA384_LEN })))
			return err_set(e, EXIT_SYSTEM, "SHA-384 failed");
		r->events[ev->imr]++;
	}
	return EXIT_OK;
}

const struct tdx_event *eventlog_named(const struct event_log *log, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < log->n; i++) {
		const struct tdx_event *ev = &log->ev[i];
		if (ev->type != RUNTIME_EVENT_TYPE)
			continue;
		if (ev->name.len == 12 && !memcmp(ev->name.data, "system-ready", 12))
			return NULL;
		if (ev->name.len == n && !memcmp(ev->name.data, name, n))
			return ev;
	}
	return NULL;
}

void eventlog_write_json(const struct event_log *log, struct jsonw *w)
{
	jw_arr(w);
	for (size_t i = 0; i < log->n; i++) {
		const struct tdx_event *ev = &log->ev[i];
		jw_obj(w);
		jw_key(w, "imr");
		jw_u64(w, ev->imr);
		jw_key(w, "event_type");
		jw_u64(w, ev->type);
		jw_key(w, "digest");
		jw_hex(w, ev->digest.data, ev->digest.len);
		jw_key(w, "event");
		jw_strn(w, ev->name.data ? (const char *)ev->name.data : "", ev->name.len);
		jw_key(w, "event_payload");
		jw_hex(w, ev->payload.data, ev->payload.len);
		if (ev->version == 2) {
			jw_key(w, "version");
			jw_u64(w, 2);
		}
		if (ev->has_preimage) {
			jw_key(w, "preimage");
			jw_hex(w, ev->preimage.data, ev->preimage.len);
		}
		jw_end(w);
	}
	jw_end(w);
}
