#include "acpi.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

static const char *const acpi_names[3] = { "acpi-loader", "acpi-rsdp", "acpi-tables" };

static uint8_t *slot(struct acpi_triple *a, int i)
{
	return i == 0 ? a->loader : i == 1 ? a->rsdp : a->tables;
}

int acpi_from_log(struct acpi_triple *a, const struct event_log *log, struct err *e)
{
	const struct tdx_event *found[3] = { NULL };
	int n = 0, named = 0;
	for (size_t i = 0; i < log->n; i++) {
		const struct tdx_event *ev = &log->ev[i];
		if (ev->imr != 0 || ev->type != ACPI_EVENT_TYPE)
			continue;
		if (ev->payload.len && (ev->payload.len != 9 || memcmp(ev->payload.data, "ACPI DATA", 9)))
			return err_set(e, EXIT_MALFORMED, "event log: RTMR0 event %zu of type 0xA is not ACPI DATA", i);
		if (n == 3)
			return err_set(e, EXIT_MALFORMED, "event log: more than three RTMR0 ACPI DATA events");
		if (ev->digest.len != SHA384_LEN)
			return err_set(e, EXIT_MALFORMED, "event log: an ACPI DATA event has no 48-byte digest");
		int at = n;
		if (ev->name.len) {
			named++;
			for (at = 0; at < 3 && strcmp((const char *)ev->name.data, acpi_names[at]); at++)
				;
			if (at == 3 || found[at])
				return err_set(e, EXIT_MALFORMED, "event log: unexpected or repeated ACPI event name");
		}
		found[at] = ev;
		n++;
	}
	if (n != 3)
		return err_set(e, EXIT_MALFORMED, "event log: %d RTMR0 ACPI DATA events, expected three", n);
	if (named != 0 && named != 3)
		return err_set(e, EXIT_MALFORMED, "event log: some ACPI DATA events are named, some are not");
	for (int i = 0; i < 3; i++)
		memcpy(slot(a, i), found[i]->digest.data, SHA384_LEN);
	return EXIT_OK;
}

static int entry(const struct json *j, int t, struct acpi_triple *a, char *name, size_t cap, struct buf *key,
		 struct err *e)
{
	static const char *const digests[3] = { "loader", "rsdp", "tables" };
	if (json_type(j, t) != JSON_OBJECT)
		return err_set(e, EXIT_MALFORMED, "expected an object");
	for (int k = json_first(j, t); k >= 0; k = json_next(j, k))
		if (!json_string_is(j, k, "name") && !json_string_is(j, k, "vm") && !json_string_is(j, k, "loader") &&
		    !json_string_is(j, k, "rsdp") && !json_string_is(j, k, "tables"))
			return err_set(e, EXIT_MALFORMED, "unknown member");
	struct buf s = { 0 };
	int v = json_need(j, t, "name", e);
	int rc = v < 0 ? e->code : json_string(j, v, "name", &s, e);
	if (rc == EXIT_OK && (!s.len || s.len >= cap || !json_text_valid((const char *)s.data, s.len)))
		rc = err_set(e, EXIT_MALFORMED, "name: expected a short line of text");
	if (rc == EXIT_OK)
		memcpy(name, s.data, s.len + 1);
	buf_free(&s);
	for (int i = 0; rc == EXIT_OK && i < 3; i++) {
		size_t n;
		if ((v = json_need(j, t, digests[i], e)) < 0)
			return e->code;
		const char *raw = json_raw(j, v, &n);
		if (json_type(j, v) != JSON_STRING || !hex_decode_exact(raw, n, slot(a, i), SHA384_LEN))
			rc = err_set(e, EXIT_MALFORMED, "%s: expected 48 bytes of hex", digests[i]);
	}
	if (rc == EXIT_OK && (v = json_need(j, t, "vm", e)) < 0)
		rc = e->code;
	if (rc == EXIT_OK) {
		size_t n;
		const char *raw = json_raw(j, v, &n);
		struct vm_config c;
		/* The vm object's own text: its span in the document, braces included. */
		if (json_type(j, v) != JSON_OBJECT)
			rc = err_set(e, EXIT_MALFORMED, "vm: expected an object");
		else if ((rc = vmconfig_parse(&c, raw, n, e)) == EXIT_OK) {
			if (!vmconfig_acpi_key(&c, key))
				rc = err_set(e, EXIT_SYSTEM, "out of memory");
			vmconfig_free(&c);
		}
	}
	return rc;
}

int acpi_from_list(struct acpi_triple *a, char *name, size_t cap, const char *text, size_t len,
		   const struct vm_config *vm, struct err *e)
{
	struct json j;
	if (json_parse(&j, text, len, e))
		return err_wrap(e, "ACPI list");
	struct buf want = { 0 }, key = { 0 };
	int list = json_get(&j, 0, "acpi"), rc = EXIT_OK, matches = 0, index = 0;
	if (json_type(&j, 0) != JSON_OBJECT || list < 0 || json_type(&j, list) != JSON_ARRAY)
		rc = err_set(e, EXIT_MALFORMED, "ACPI list: expected {\"acpi\": [...]}");
	if (rc == EXIT_OK && !vmconfig_acpi_key(vm, &want))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	for (int t = rc ? -1 : json_first(&j, list); t >= 0; t = json_next(&j, t), index++) {
		struct acpi_triple cand;
		char cand_name[256];
		buf_reset(&key);
		if ((rc = entry(&j, t, &cand, cand_name, sizeof cand_name, &key, e))) {
			err_wrap(e, "ACPI list entry %d", index);
			break;
		}
		if (strcmp((const char *)key.data, (const char *)want.data))
			continue;
		if (matches++ && memcmp(&cand, a, sizeof cand)) {
			rc = err_set(e, EXIT_MALFORMED, "ACPI list: entries \"%s\" and \"%s\" match this configuration with different digests",
				     name, cand_name);
			break;
		}
		if (matches == 1) {
			*a = cand;
			snprintf(name, cap, "%s", cand_name);
		}
	}
	if (rc == EXIT_OK && !matches)
		rc = err_set(e, EXIT_REJECTED, "no entry of the ACPI list matches this configuration (%s)",
			     (const char *)want.data);
	buf_free(&want);
	buf_free(&key);
	json_free(&j);
	return rc;
}
