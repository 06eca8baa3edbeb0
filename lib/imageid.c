#include "imageid.h"

#include <string.h>

#include "bytes.h"

bool image_name_ok(const char *name, size_t len)
{
	if (len == 0 || len >= IMAGE_NAME_MAX || name[0] == '-' || (len == 1 && name[0] == '.') ||
	    (len == 2 && !memcmp(name, "..", 2)))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '+' || c == '-'))
			return false;
	}
	return true;
}

static int parse_line(struct checksum_list *l, const char *p, size_t n, size_t line, struct err *e)
{
	/* sha256sum's two forms: text mode "hash  name", binary mode "hash *name". */
	if (n < 66 || p[64] != ' ' || (p[65] != ' ' && p[65] != '*'))
		return err_set(e, EXIT_MALFORMED, "%s line %zu is not \"<sha256>  <name>\"", CHECKSUM_FILE, line);
	const char *name = p + 66;
	size_t nlen = n - 66;
	if (!image_name_ok(name, nlen))
		return err_set(e, EXIT_MALFORMED, "%s line %zu: the name is not a plain file name", CHECKSUM_FILE, line);
	if (nlen == strlen(CHECKSUM_FILE) && !memcmp(name, CHECKSUM_FILE, nlen))
		return err_set(e, EXIT_MALFORMED, "%s lists itself", CHECKSUM_FILE);
	if (l->n == CHECKSUM_MAX_ENTRIES)
		return err_set(e, EXIT_MALFORMED, "%s lists more than %d files", CHECKSUM_FILE, CHECKSUM_MAX_ENTRIES);
	struct checksum_entry *en = &l->e[l->n];
	memcpy(en->name, name, nlen);
	en->name[nlen] = 0;
	if (checksum_find(l, en->name))
		return err_set(e, EXIT_MALFORMED, "%s lists %s twice", CHECKSUM_FILE, en->name);
	if (!hex_decode_exact(p, 64, en->sha256, SHA256_LEN))
		return err_set(e, EXIT_MALFORMED, "%s line %zu: the hash is not 64 hex digits", CHECKSUM_FILE, line);
	l->n++;
	return EXIT_OK;
}

int checksum_parse(struct checksum_list *l, const uint8_t *text, size_t len, struct err *e)
{
	memset(l, 0, sizeof *l);
	if (len > CHECKSUM_FILE_MAX)
		return err_set(e, EXIT_MALFORMED, "%s is larger than %u bytes", CHECKSUM_FILE, CHECKSUM_FILE_MAX);
	if (sha256_spans(l->os_image_hash, SPANS({ text, len })))
		return err_set(e, EXIT_SYSTEM, "SHA-256 failed");
	size_t line = 0;
	for (size_t i = 0; i < len;) {
		const uint8_t *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		line++;
		if (end > i && parse_line(l, (const char *)text + i, end - i, line, e))
			return e->code;
		i = end + 1;
	}
	if (l->n == 0)
		return err_set(e, EXIT_MALFORMED, "%s lists no files", CHECKSUM_FILE);
	return EXIT_OK;
}

const struct checksum_entry *checksum_find(const struct checksum_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].name, name))
			return &l->e[i];
	return NULL;
}

int checksum_check_identity(const struct checksum_list *l, const uint8_t claimed[SHA256_LEN], const char *what,
			    struct err *e)
{
	if (!memcmp(l->os_image_hash, claimed, SHA256_LEN))
		return EXIT_OK;
	char got[2 * SHA256_LEN + 1], want[2 * SHA256_LEN + 1];
	hex_encode(l->os_image_hash, SHA256_LEN, got);
	hex_encode(claimed, SHA256_LEN, want);
	return err_set(e, EXIT_REJECTED, "os_image_hash mismatch: the evidence claims %s, SHA-256 of %s is %s", want, what,
		       got);
}
