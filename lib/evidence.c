#include "evidence.h"

#include <string.h>

#include "json.h"

const char *evidence_kind_name(enum evidence_kind kind)
{
	static const char *names[] = { "certificate", "Info", "tcb_info", "GetQuote response", "attestation",
				       "event log" };
	return names[kind];
}

void evidence_free(struct evidence *ev)
{
	eventlog_free(&ev->log);
	buf_free(&ev->quote);
	buf_free(&ev->app_compose);
	buf_free(&ev->static_quote);
	buf_free(&ev->vm_config);
	if (ev->has_cert)
		racert_free(&ev->cert);
	for (int i = 0; i < 10; i++)
		buf_free(&ev->ext[i]);
	if (ev->has_attestation)
		attestation_free(&ev->att);
	memset(ev, 0, sizeof *ev);
}

/* Moves a decoded attestation's quote and log into the evidence. */
static int take_attestation(struct evidence *ev, struct err *e)
{
	ev->has_attestation = true;
	if (!buf_append(&ev->quote, ev->att.quote.data, ev->att.quote.len))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	ev->has_quote = true;
	ev->log = ev->att.log;
	memset(&ev->att.log, 0, sizeof ev->att.log);
	ev->has_log = true;
	ev->replayable = 1u << 3; /* the .1.8 log keeps only three boot events */
	if (ev->att.config.len) {
		if (!buf_append(&ev->vm_config, ev->att.config.data, ev->att.config.len))
			return err_set(e, EXIT_SYSTEM, "out of memory");
		ev->has_vm_config = true;
	}
	return EXIT_OK;
}

int evidence_from_cert(struct evidence *ev, const uint8_t *data, size_t len, struct err *e)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = EV_CERT;
	if (racert_load(&ev->cert, data, len, e))
		return e->code;
	ev->has_cert = true;
	static const enum dstack_ext arcs[] = { EXT_QUOTE, EXT_EVENT_LOG, EXT_APP_ID, EXT_USAGE, EXT_ATTESTATION,
						EXT_APP_INFO };
	for (size_t i = 0; i < sizeof arcs / sizeof *arcs; i++)
		if (racert_ext(ev->cert.leaf, arcs[i], &ev->ext[arcs[i]], &ev->has_ext[arcs[i]], e))
			return err_wrap(e, "certificate");
	if (ev->has_ext[EXT_APP_ID] && ev->ext[EXT_APP_ID].len != 20)
		return err_set(e, EXIT_MALFORMED, "certificate: app id extension is %zu bytes, expected 20",
			       ev->ext[EXT_APP_ID].len);
	if (ev->has_ext[EXT_ATTESTATION]) {
		const struct buf *a = &ev->ext[EXT_ATTESTATION];
		if (attestation_decode(&ev->att, a->data, a->len, e)) {
			attestation_free(&ev->att);
			return err_wrap(e, "certificate");
		}
		return take_attestation(ev, e);
	}
	if (ev->has_ext[EXT_QUOTE]) {
		if (!buf_append(&ev->quote, ev->ext[EXT_QUOTE].data, ev->ext[EXT_QUOTE].len))
			return err_set(e, EXIT_SYSTEM, "out of memory");
		ev->has_quote = true;
	}
	if (ev->has_ext[EXT_EVENT_LOG]) {
		const struct buf *l = &ev->ext[EXT_EVENT_LOG];
		if (l->len >= 6 && !memcmp(l->data, "ELGZv1", 6))
			return err_set(e, EXIT_MALFORMED, "certificate: compressed (ELGZv1) event logs are not supported");
		if (eventlog_from_text(&ev->log, (const char *)l->data, l->len, e))
			return err_wrap(e, "certificate");
		ev->has_log = true;
		ev->replayable = 0xf; /* the legacy extension carries the full log */
	}
	return EXIT_OK;
}

static int hex_field(const struct json *j, int obj, const char *key, uint8_t *out, size_t n, bool *has,
		     struct err *e)
{
	int t = json_get(j, obj, key);
	if (t < 0)
		return EXIT_OK;
	size_t len;
	const char *raw = json_raw(j, t, &len);
	if (json_type(j, t) != JSON_STRING || !hex_decode_exact(raw, len, out, n))
		return err_set(e, EXIT_MALFORMED, "%s: expected %zu bytes of hex", key, n);
	*has = true;
	return EXIT_OK;
}

/* The vm_config member (a JSON document in a string) and Info's
 * os_image_hash, when present and well-formed. They matter to tdx-measure
 * only, which refuses evidence without them; other tools never fail on them. */
static void vm_config_fields(struct evidence *ev, const struct json *j)
{
	struct err ignored = { 0 };
	int t = json_get(j, 0, "vm_config");
	if (t >= 0 && json_type(j, t) == JSON_STRING && json_string(j, t, "vm_config", &ev->vm_config, &ignored) == EXIT_OK)
		ev->has_vm_config = ev->vm_config.len > 0;
	size_t n;
	const char *raw;
	t = json_get(j, 0, "os_image_hash");
	if (t >= 0 && json_type(j, t) == JSON_STRING && (raw = json_raw(j, t, &n)) &&
	    hex_decode_exact(raw, n, ev->os_image_hash, 32))
		ev->has_os_image_hash = true;
}

/* The members of a tcb_info object (Info's inner document or standalone). */
static int load_tcb_info(struct evidence *ev, const struct json *j, int obj, struct err *e)
{
	static const char *names[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	int present = 0;
	for (int i = 0; i < 4; i++) {
		bool has = false;
		if (hex_field(j, obj, names[i], ev->tcb_rtmr[i], 48, &has, e))
			return err_wrap(e, "tcb_info");
		present += has;
	}
	if (present != 0 && present != 4)
		return err_set(e, EXIT_MALFORMED, "tcb_info: some of rtmr0..rtmr3 are missing");
	ev->has_tcb_regs = present == 4;
	if (hex_field(j, obj, "mrtd", ev->tcb_mrtd, 48, &ev->has_tcb_mrtd, e) ||
	    hex_field(j, obj, "compose_hash", ev->compose_hash, 32, &ev->has_compose_hash, e) ||
	    hex_field(j, obj, "mr_aggregated", ev->mr_aggregated, 32, &ev->has_mr_aggregated, e))
		return err_wrap(e, "tcb_info");
	int t = json_get(j, obj, "app_compose");
	if (t >= 0) {
		if (json_string(j, t, "app_compose", &ev->app_compose, e))
			return err_wrap(e, "tcb_info");
		ev->has_app_compose = true;
	}
	if ((t = json_need(j, obj, "event_log", e)) < 0 || eventlog_from_json(&ev->log, j, t, e))
		return err_wrap(e, "tcb_info");
	ev->has_log = true;
	ev->replayable = 0xf;
	return EXIT_OK;
}

/* Info: tcb_info is a JSON document inside a string (or, leniently, an object). */
static int load_info(struct evidence *ev, const struct json *j, struct err *e)
{
	ev->kind = EV_INFO;
	int t = json_get(j, 0, "tcb_info");
	int rc;
	if (json_type(j, t) == JSON_OBJECT) {
		rc = load_tcb_info(ev, j, t, e);
	} else {
		struct buf text = { 0 };
		struct json inner;
		if (json_string(j, t, "tcb_info", &text, e)) {
			buf_free(&text);
			return err_wrap(e, "Info");
		}
		if (text.len == 0) {
			buf_free(&text);
			return err_set(e, EXIT_MALFORMED, "Info: tcb_info is empty (not public on this CVM)");
		}
		rc = json_parse(&inner, (const char *)text.data, text.len, e);
		if (rc == EXIT_OK) {
			rc = json_type(&inner, 0) == JSON_OBJECT
				     ? load_tcb_info(ev, &inner, 0, e)
				     : err_set(e, EXIT_MALFORMED, "tcb_info: expected an object");
			json_free(&inner);
		} else {
			err_wrap(e, "tcb_info");
		}
		buf_free(&text);
	}
	if (rc)
		return err_wrap(e, "Info");
	/* Top-level values must agree with tcb_info's where both exist. */
	uint8_t top[32];
	bool has = false;
	if (hex_field(j, 0, "compose_hash", top, 32, &has, e))
		return err_wrap(e, "Info");
	if (has && ev->has_compose_hash && memcmp(top, ev->compose_hash, 32))
		return err_set(e, EXIT_REJECTED, "Info: compose_hash differs from tcb_info.compose_hash");
	if (has && !ev->has_compose_hash) {
		memcpy(ev->compose_hash, top, 32);
		ev->has_compose_hash = true;
	}
	vm_config_fields(ev, j);
	/* The app_cert's quote, for the VM's static registers (optional). */
	struct evidence cert;
	struct err ignored = { 0 };
	int c = json_get(j, 0, "app_cert");
	if (c >= 0 && json_type(j, c) == JSON_STRING) {
		struct buf pem = { 0 };
		if (json_string(j, c, "app_cert", &pem, &ignored) == EXIT_OK && pem.len) {
			if (evidence_from_cert(&cert, pem.data, pem.len, &ignored) == EXIT_OK && cert.has_quote) {
				ev->static_quote = cert.quote;
				memset(&cert.quote, 0, sizeof cert.quote);
				ev->has_static_quote = true;
			}
			evidence_free(&cert);
		}
		buf_free(&pem);
	}
	return EXIT_OK;
}

static int load_getquote(struct evidence *ev, const struct json *j, struct err *e)
{
	ev->kind = EV_GETQUOTE;
	int q = json_need(j, 0, "quote", e);
	if (q < 0 || json_hex(j, q, "quote", &ev->quote, e))
		return err_wrap(e, "GetQuote response");
	ev->has_quote = true;
	int l = json_need(j, 0, "event_log", e);
	int rc;
	if (l < 0) {
		rc = EXIT_MALFORMED;
	} else if (json_type(j, l) == JSON_ARRAY) {
		rc = eventlog_from_json(&ev->log, j, l, e);
	} else {
		struct buf text = { 0 };
		rc = json_string(j, l, "event_log", &text, e);
		if (rc == EXIT_OK)
			rc = eventlog_from_text(&ev->log, (const char *)text.data, text.len, e);
		buf_free(&text);
	}
	if (rc)
		return err_wrap(e, "GetQuote response");
	vm_config_fields(ev, j);
	ev->has_log = true;
	ev->replayable = 0xf; /* stripped, but boot digests are kept and runtime ones recomputed */
	return EXIT_OK;
}

static int load_attestation_bytes(struct evidence *ev, const uint8_t *p, size_t n, struct err *e)
{
	ev->kind = EV_ATTESTATION;
	if (attestation_decode(&ev->att, p, n, e)) {
		attestation_free(&ev->att);
		return e->code;
	}
	return take_attestation(ev, e);
}

static int load_json(struct evidence *ev, const uint8_t *data, size_t len, struct err *e)
{
	struct json j;
	if (json_parse(&j, (const char *)data, len, e))
		return e->code;
	int rc;
	if (json_type(&j, 0) == JSON_ARRAY) {
		ev->kind = EV_EVENT_LOG;
		rc = eventlog_from_json(&ev->log, &j, 0, e);
		ev->has_log = rc == EXIT_OK;
		ev->replayable = 0xf;
	} else if (json_type(&j, 0) != JSON_OBJECT) {
		rc = err_set(e, EXIT_MALFORMED, "expected a JSON object or array");
	} else if (json_get(&j, 0, "attestation") >= 0) {
		struct buf raw = { 0 };
		rc = json_hex(&j, json_get(&j, 0, "attestation"), "attestation", &raw, e);
		if (rc == EXIT_OK)
			rc = load_attestation_bytes(ev, raw.data, raw.len, e);
		buf_free(&raw);
	} else if (json_get(&j, 0, "tcb_info") >= 0) {
		rc = load_info(ev, &j, e);
	} else if (json_get(&j, 0, "quote") >= 0 && json_get(&j, 0, "event_log") >= 0) {
		rc = load_getquote(ev, &j, e);
	} else if (json_get(&j, 0, "event_log") >= 0) {
		ev->kind = EV_TCB_INFO;
		rc = load_tcb_info(ev, &j, 0, e);
	} else {
		rc = err_set(e, EXIT_MALFORMED,
			     "JSON object is not an Info, tcb_info, GetQuote or attestation document");
	}
	json_free(&j);
	return rc;
}

int evidence_load(struct evidence *ev, const uint8_t *data, size_t len, struct err *e)
{
	memset(ev, 0, sizeof *ev);
	size_t s = 0;
	while (s < len && (data[s] == ' ' || data[s] == '\n' || data[s] == '\r' || data[s] == '\t'))
		s++;
	if (s == len)
		return err_set(e, EXIT_MALFORMED, "empty input");
	if (data[s] == '{' || data[s] == '[')
		return load_json(ev, data, len, e);
	if (data[s] == '-' || data[0] == 0x30)
		return evidence_from_cert(ev, data, len, e);
	if (data[0] == 0x00 || attestation_is_msgpack(data[0]))
		return load_attestation_bytes(ev, data, len, e);
	return err_set(e, EXIT_MALFORMED,
		       "input is not a certificate, an Info/tcb_info/GetQuote/attestation JSON or an event log");
}
