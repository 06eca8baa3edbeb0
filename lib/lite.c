#include "lite.h"

#include <cbor.h>
#include <stdlib.h>
#include <string.h>

#include "imageid.h"
#include "json.h"

/* The members of a definite map with exactly these text keys, in keys'
 * order (any order in the input, none missing, none extra, none twice). */
static int members(const cbor_item_t *it, const char *what, const char *const *keys, size_t n, cbor_item_t **vals,
		   struct err *e)
{
	if (!cbor_isa_map(it) || !cbor_map_is_definite(it))
		return err_set(e, EXIT_MALFORMED, "%s: expected a map", what);
	if (cbor_map_size(it) != n)
		return err_set(e, EXIT_MALFORMED, "%s: expected %zu members, found %zu", what, n, cbor_map_size(it));
	memset(vals, 0, n * sizeof *vals);
	struct cbor_pair *p = cbor_map_handle(it);
	for (size_t i = 0; i < n; i++) {
		const cbor_item_t *k = p[i].key;
		if (!cbor_isa_string(k) || !cbor_string_is_definite(k))
			return err_set(e, EXIT_MALFORMED, "%s: a key is not a text string", what);
		size_t klen = cbor_string_length(k), j;
		for (j = 0; j < n; j++)
			if (strlen(keys[j]) == klen && !memcmp(keys[j], cbor_string_handle(k), klen))
				break;
		if (j == n)
			return err_set(e, EXIT_MALFORMED, "%s: unknown member (not implemented)", what);
		if (vals[j])
			return err_set(e, EXIT_MALFORMED, "%s.%s: appears twice", what, keys[j]);
		vals[j] = p[i].value;
	}
	return EXIT_OK;
}

static int bytes(const cbor_item_t *it, const char *what, uint8_t *out, size_t n, size_t *got, struct err *e)
{
	if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
		return err_set(e, EXIT_MALFORMED, "%s: expected a byte string", what);
	size_t len = cbor_bytestring_length(it);
	if (got ? len > n : len != n)
		return err_set(e, EXIT_MALFORMED, "%s: %zu bytes, expected %s%zu", what, len, got ? "at most " : "", n);
	if (len)
		memcpy(out, cbor_bytestring_handle(it), len);
	if (got)
		*got = len;
	return EXIT_OK;
}

static int decode_item(struct lite_material *m, const cbor_item_t *root, struct err *e)
{
	static const char *const top_keys[] = { "version", "image", "tdvf" };
	static const char *const image_keys[] = { "cmdline_sha384", "kernel_authenticode", "initrd_sha384" };
	static const char *const tdvf_keys[] = { "ovmf", "mrtd", "td_hob" };
	static const char *const mrtd_keys[] = { "single_pass", "two_pass" };
	cbor_item_t *top[3], *image[3], *tdvf[3], *mrtd[2];
	if (members(root, "measurement", top_keys, 3, top, e))
		return e->code;
	if (!cbor_isa_uint(top[0]) || cbor_get_int(top[0]) != LITE_VERSION)
		return err_set(e, EXIT_MALFORMED, "measurement.version: expected %d", LITE_VERSION);
	if (members(top[1], "measurement.image", image_keys, 3, image, e) ||
	    bytes(image[0], "image.cmdline_sha384", m->cmdline_sha384, SHA384_LEN, NULL, e) ||
	    bytes(image[1], "image.kernel_authenticode", m->kernel_authenticode, SHA384_LEN, NULL, e) ||
	    bytes(image[2], "image.initrd_sha384", m->initrd_sha384, SHA384_LEN, NULL, e) ||
	    members(top[2], "measurement.tdvf", tdvf_keys, 3, tdvf, e) ||
	    members(tdvf[1], "tdvf.mrtd", mrtd_keys, 2, mrtd, e) ||
	    bytes(mrtd[0], "tdvf.mrtd.single_pass", m->mrtd_single_pass, SHA384_LEN, NULL, e) ||
	    bytes(mrtd[1], "tdvf.mrtd.two_pass", m->mrtd_two_pass, SHA384_LEN, NULL, e) ||
	    bytes(tdvf[2], "tdvf.td_hob", m->td_hob, LITE_WITNESS_MAX, &m->td_hob_len, e))
		return e->code;
	const cbor_item_t *ovmf = tdvf[0];
	if (!cbor_isa_string(ovmf) || !cbor_string_is_definite(ovmf) || cbor_string_length(ovmf) >= sizeof m->ovmf)
		return err_set(e, EXIT_MALFORMED, "tdvf.ovmf: expected a short text string");
	memcpy(m->ovmf, cbor_string_handle(ovmf), cbor_string_length(ovmf));
	if (!json_text_valid(m->ovmf, strlen(m->ovmf)) || strlen(m->ovmf) != cbor_string_length(ovmf))
		return err_set(e, EXIT_MALFORMED, "tdvf.ovmf: not printable text");
	return EXIT_OK;
}

/* libcbor's cbor_load allocates a definite array or map for its declared
 * size before it reads one item, so a few bytes could ask for gigabytes.
 * A first pass through libcbor's own streaming decoder sees each declared
 * size first and refuses any that no measurement document has. */
#define LITE_MAX_ITEMS 16

static void check_size(void *ctx, size_t n)
{
	if (n > LITE_MAX_ITEMS)
		*(bool *)ctx = true;
}

static int bounded(const uint8_t *cbor, size_t len, struct err *e)
{
	struct cbor_callbacks cb = cbor_empty_callbacks;
	cb.array_start = check_size;
	cb.map_start = check_size;
	bool too_big = false;
	for (size_t at = 0; at < len;) {
		struct cbor_decoder_result r = cbor_stream_decode(cbor + at, len - at, &cb, &too_big);
		if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
			return err_set(e, EXIT_MALFORMED, "%s: not CBOR (at byte %zu)", LITE_CBOR_FILE, at);
		if (too_big)
			return err_set(e, EXIT_MALFORMED, "%s: an array or map of more than %d items", LITE_CBOR_FILE,
				       LITE_MAX_ITEMS);
		at += r.read;
	}
	return EXIT_OK;
}

int lite_decode(struct lite_material *m, const uint8_t *cbor, size_t len, struct err *e)
{
	memset(m, 0, sizeof *m);
	if (len > LITE_CBOR_MAX)
		return err_set(e, EXIT_MALFORMED, "%s is larger than %u bytes", LITE_CBOR_FILE, LITE_CBOR_MAX);
	if (bounded(cbor, len, e))
		return e->code;
	struct cbor_load_result r;
	cbor_item_t *root = cbor_load(cbor, len, &r);
	int rc;
	if (!root || r.error.code != CBOR_ERR_NONE)
		rc = err_set(e, r.error.code == CBOR_ERR_MEMERROR ? EXIT_SYSTEM : EXIT_MALFORMED,
			     "%s: not CBOR (error at byte %zu)", LITE_CBOR_FILE, r.error.position);
	else if (r.read != len)
		rc = err_set(e, EXIT_MALFORMED, "%s: %zu bytes after the document", LITE_CBOR_FILE, len - r.read);
	else if ((rc = decode_item(m, root, e)))
		err_wrap(e, "%s", LITE_CBOR_FILE);
	if (root)
		cbor_decref(&root);
	return rc;
}

/* Adds key -> value to a map, taking the value's reference. */
static bool put(cbor_item_t *map, const char *key, cbor_item_t *value)
{
	cbor_item_t *k = cbor_build_string(key);
	bool ok = k && value && cbor_map_add(map, (struct cbor_pair){ .key = k, .value = value });
	if (k)
		cbor_decref(&k);
	if (value)
		cbor_decref(&value);
	return ok;
}

int lite_encode(const struct lite_material *m, struct buf *out, struct err *e)
{
	cbor_item_t *top = cbor_new_definite_map(3), *image = cbor_new_definite_map(3), *tdvf = cbor_new_definite_map(3),
		    *mrtd = cbor_new_definite_map(2);
	bool ok = top && image && tdvf && mrtd &&
		  put(image, "cmdline_sha384", cbor_build_bytestring(m->cmdline_sha384, SHA384_LEN)) &&
		  put(image, "kernel_authenticode", cbor_build_bytestring(m->kernel_authenticode, SHA384_LEN)) &&
		  put(image, "initrd_sha384", cbor_build_bytestring(m->initrd_sha384, SHA384_LEN)) &&
		  put(mrtd, "single_pass", cbor_build_bytestring(m->mrtd_single_pass, SHA384_LEN)) &&
		  put(mrtd, "two_pass", cbor_build_bytestring(m->mrtd_two_pass, SHA384_LEN)) &&
		  put(tdvf, "ovmf", cbor_build_string(m->ovmf)) && put(tdvf, "mrtd", mrtd) &&
		  put(tdvf, "td_hob", cbor_build_bytestring(m->td_hob, m->td_hob_len)) &&
		  put(top, "version", cbor_build_uint8(LITE_VERSION)) && put(top, "image", image) && put(top, "tdvf", tdvf);
	/* put() released image, tdvf and mrtd into their parents (or freed them). */
	unsigned char *bytes_out = NULL;
	size_t size = 0, n = ok ? cbor_serialize_alloc(top, &bytes_out, &size) : 0;
	if (top)
		cbor_decref(&top);
	ok = n && buf_append(out, bytes_out, n);
	free(bytes_out);
	return ok ? EXIT_OK : err_set(e, EXIT_SYSTEM, "encoding %s failed", LITE_CBOR_FILE);
}

int lite_load(struct lite_material *m, const uint8_t *checksum_file, size_t clen, const uint8_t *cbor, size_t len,
	      const uint8_t os_image_hash[SHA256_LEN], struct err *e)
{
	struct checksum_list l;
	if (checksum_parse(&l, checksum_file, clen, e))
		return err_wrap(e, "tdx_measurement.checksum_file");
	if (checksum_check_identity(&l, os_image_hash, "tdx_measurement.checksum_file", e))
		return e->code;
	const struct checksum_entry *en = checksum_find(&l, LITE_CBOR_FILE);
	if (!en)
		return err_set(e, EXIT_REJECTED, "tdx_measurement.checksum_file does not list %s", LITE_CBOR_FILE);
	uint8_t h[SHA256_LEN];
	if (sha256_spans(h, SPANS({ cbor, len })))
		return err_set(e, EXIT_SYSTEM, "SHA-256 failed");
	if (memcmp(h, en->sha256, SHA256_LEN))
		return err_set(e, EXIT_REJECTED, "tdx_measurement.measurement does not match the %s line of the checksum file",
			       LITE_CBOR_FILE);
	return lite_decode(m, cbor, len, e);
}
