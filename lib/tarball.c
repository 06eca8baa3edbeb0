#include "tarball.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define BLOCK 512u
#define CHUNK 65536u

/* The byte stream under the tar parser: raw bytes from a file descriptor or
 * memory, inflated when they start with the gzip magic. */
struct stream {
	int fd;             /* -1: memory */
	const uint8_t *mem; /* memory input */
	size_t mem_len, mem_pos;
	const char *name;
	bool gzip, eof_in, end;
	z_stream z;
	uint8_t in[CHUNK];
	uint64_t produced; /* decompressed bytes so far */
};

/* Up to n raw input bytes; 0 at the end. */
static int raw_read(struct stream *s, uint8_t *p, size_t n, size_t *got, struct err *e)
{
	if (s->fd < 0) {
		size_t k = s->mem_len - s->mem_pos < n ? s->mem_len - s->mem_pos : n;
		memcpy(p, s->mem + s->mem_pos, k);
		s->mem_pos += k;
		*got = k;
		return EXIT_OK;
	}
	for (;;) {
		ssize_t r = read(s->fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(e, EXIT_SYSTEM, "reading %s: %s", s->name, strerror(errno));
		*got = (size_t)r;
		return EXIT_OK;
	}
}

static int open_stream(struct stream *s, struct err *e)
{
	size_t got = 0;
	if (raw_read(s, s->in, 2, &got, e))
		return e->code;
	if (got == 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
		s->gzip = true;
		if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
			return err_set(e, EXIT_SYSTEM, "zlib initialisation failed");
	}
	s->z.next_in = s->in;
	s->z.avail_in = (uInt)got;
	return EXIT_OK;
}

/* More compressed input when zlib has used up what it had. */
static int refill(struct stream *s, struct err *e)
{
	if (s->z.avail_in || s->eof_in)
		return EXIT_OK;
	size_t k = 0;
	if (raw_read(s, s->in, CHUNK, &k, e))
		return e->code;
	s->z.next_in = s->in;
	s->z.avail_in = (uInt)k;
	s->eof_in = k == 0;
	return EXIT_OK;
}

/* Fills p with exactly n bytes; *got < n only at the end of the stream. */
static int stream_read(struct stream *s, uint8_t *p, size_t n, size_t *got, struct err *e)
{
	*got = 0;
	while (*got < n && !s->end) {
		if (!s->gzip) {
			/* The two bytes sniffed first are still in s->in. */
			size_t k = 0;
			if (s->z.avail_in) {
				k = s->z.avail_in < n - *got ? s->z.avail_in : n - *got;
				memcpy(p + *got, s->z.next_in, k);
				s->z.next_in += k;
				s->z.avail_in -= (uInt)k;
			} else if (raw_read(s, p + *got, n - *got, &k, e)) {
				return e->code;
			}
			s->end = k == 0;
			*got += k;
			continue;
		}
		if (refill(s, e))
			return e->code;
		s->z.next_out = p + *got;
		s->z.avail_out = (uInt)(n - *got);
		int rc = inflate(&s->z, Z_NO_FLUSH);
		*got = n - s->z.avail_out;
		if (rc == Z_STREAM_END) {
			/* Another gzip member may follow (concatenated files). */
			if (refill(s, e))
				return e->code;
			if (s->z.avail_in == 0)
				s->end = true;
			else if (inflateReset(&s->z) != Z_OK)
				return err_set(e, EXIT_SYSTEM, "zlib reset failed");
		} else if (rc == Z_MEM_ERROR) {
			return err_set(e, EXIT_SYSTEM, "%s: out of memory in zlib", s->name);
		} else if (rc != Z_OK && !(rc == Z_BUF_ERROR && !s->eof_in)) {
			return err_set(e, EXIT_MALFORMED, "%s: %s", s->name,
				       rc == Z_BUF_ERROR ? "the gzip stream is truncated"
							 : s->z.msg ? s->z.msg : "corrupt gzip data");
		}
	}
	s->produced += *got;
	if (s->produced > TAR_TOTAL_MAX)
		return err_set(e, EXIT_MALFORMED, "%s: more than %llu bytes of archive", s->name,
			       (unsigned long long)TAR_TOTAL_MAX);
	return EXIT_OK;
}

/* A member name fit for a message: printable ASCII, other bytes as '?'. */
static void shown(const char *name, char out[IMAGE_NAME_MAX])
{
	size_t i = 0;
	for (; name[i] && i < IMAGE_NAME_MAX - 1; i++)
		out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	out[i] = 0;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	return all_zero(p, n);
}

/* An octal number field (digits, then NUL or spaces), or GNU base-256 (the
 * first byte's high bit set) for sizes of 8 GiB and more. */
static bool number(const uint8_t *f, size_t n, uint64_t *v)
{
	*v = 0;
	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return false; /* negative, or more than 64 bits */
		for (size_t i = 1; i < n; i++) {
			if (*v >> 56)
				return false;
			*v = *v << 8 | f[i];
		}
		return true;
	}
	size_t i = 0;
	while (i < n && f[i] == ' ')
		i++;
	size_t digits = 0;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, digits++)
		*v = *v << 3 | (uint64_t)(f[i] - '0');
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != 0)
			return false;
	return digits > 0 && digits <= 21;
}

static bool checksum_ok(const uint8_t *h)
{
	uint64_t want;
	if (!number(h + 148, 8, &want))
		return false;
	uint64_t sum = 0;
	for (size_t i = 0; i < BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	return sum == want;
}

static const char *type_name(uint8_t type)
{
	switch (type) {
	case '1': return "a hard link";
	case '2': return "a symbolic link";
	case '3': return "a character device";
	case '4': return "a block device";
	case '6': return "a FIFO";
	case 'x': case 'g': return "a pax extended header";
	case 'L': case 'K': return "a GNU long-name header";
	case 'S': return "a sparse file";
	default: return "of an unknown type";
	}
}

/* Full path of the header: POSIX ustar's prefix, '/', name. */
static void header_path(const uint8_t *h, char *out, size_t cap)
{
	char name[101], prefix[156];
	memcpy(name, h, 100);
	name[100] = 0;
	memcpy(prefix, h + 345, 155);
	prefix[155] = 0;
	bool posix = !memcmp(h + 257, "ustar\0" "00", 8);
	if (posix && prefix[0])
		snprintf(out, cap, "%s/%s", prefix, name);
	else
		snprintf(out, cap, "%s", name);
}

/* Splits path into the archive's one directory and the file name, checking
 * every rule a member's path must follow. */
static int member_name(struct tarball *t, const char *path, bool is_dir, char *leaf, struct err *e)
{
	char show[IMAGE_NAME_MAX];
	shown(path, show);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (path[0] == '/')
		return err_set(e, EXIT_MALFORMED, "member %s: absolute paths are refused", show);
	for (const char *p = path; (p = strstr(p, "..")); p++)
		if ((p == path || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
			return err_set(e, EXIT_MALFORMED, "member %s: paths with .. are refused", show);
	size_t len = strlen(path);
	if (is_dir && len && path[len - 1] == '/')
		len--;
	const char *slash = memchr(path, '/', len);
	size_t dir_len = slash ? (size_t)(slash - path) : is_dir ? len : 0;
	const char *file = slash ? slash + 1 : is_dir ? path + len : path;
	size_t file_len = len - (size_t)(file - path);
	if ((slash && memchr(file, '/', file_len)) || (is_dir && slash))
		return err_set(e, EXIT_MALFORMED, "member %s: only one directory level is allowed", show);
	if (dir_len) {
		if (!image_name_ok(path, dir_len))
			return err_set(e, EXIT_MALFORMED, "member %s: not a plain directory name", show);
		if (t->dir[0] && (strlen(t->dir) != dir_len || memcmp(t->dir, path, dir_len)))
			return err_set(e, EXIT_MALFORMED, "member %s: members lie in more than one directory", show);
		if (!t->dir[0] && t->n)
			return err_set(e, EXIT_MALFORMED, "member %s: members lie both in and outside a directory", show);
		memcpy(t->dir, path, dir_len);
		t->dir[dir_len] = 0;
	} else if (!is_dir && t->dir[0]) {
		return err_set(e, EXIT_MALFORMED, "member %s: members lie both in and outside a directory", show);
	}
	if (is_dir)
		return EXIT_OK;
	if (!image_name_ok(file, file_len))
		return err_set(e, EXIT_MALFORMED, "member %s: not a plain file name", show);
	memcpy(leaf, file, file_len);
	leaf[file_len] = 0;
	if (tarball_find(t, leaf))
		return err_set(e, EXIT_MALFORMED, "member %s appears twice", show);
	return EXIT_OK;
}

/* Reads exactly n bytes (fewer only at the end of the input). */
typedef int (*reader_fn)(void *src, uint8_t *p, size_t n, size_t *got, struct err *e);

static int stream_reader(void *src, uint8_t *p, size_t n, size_t *got, struct err *e)
{
	return stream_read(src, p, n, got, e);
}

/* Hashes m->size bytes (then skips padding up to `padded`), keeping them when small. */
static int member_data(reader_fn rd, void *src, const char *origin, struct tar_member *m, uint64_t padded,
		       size_t *kept_total, struct err *e)
{
	struct digest_stream d256, d384;
	if (digest_begin(&d256, DIGEST_SHA256))
		return err_set(e, EXIT_SYSTEM, "SHA-256 failed");
	if (digest_begin(&d384, DIGEST_SHA384)) {
		digest_drop(&d256);
		return err_set(e, EXIT_SYSTEM, "SHA-384 failed");
	}
	m->kept = m->size <= TAR_KEEP_MAX && m->size <= TAR_KEEP_TOTAL - *kept_total;
	if (m->kept)
		*kept_total += m->size;
	uint8_t *chunk = malloc(CHUNK);
	int rc = chunk ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
	uint64_t left = padded, data_left = m->size;
	while (rc == EXIT_OK && left) {
		size_t want = left < CHUNK ? (size_t)left : CHUNK, got;
		if ((rc = rd(src, chunk, want, &got, e)))
			break;
		if (got < want) {
			rc = err_set(e, EXIT_MALFORMED, "%s: %s is truncated", origin, m->name);
			break;
		}
		size_t data = data_left < got ? (size_t)data_left : got;
		if (digest_add(&d256, chunk, data) || digest_add(&d384, chunk, data) ||
		    (m->kept && !buf_append(&m->data, chunk, data)))
			rc = err_set(e, EXIT_SYSTEM, "hashing %s failed", m->name);
		data_left -= data;
		left -= got;
	}
	free(chunk);
	if (rc == EXIT_OK && (digest_end(&d256, m->sha256) || digest_end(&d384, m->sha384)))
		rc = err_set(e, EXIT_SYSTEM, "hashing %s failed", m->name);
	digest_drop(&d256);
	digest_drop(&d384);
	return rc;
}

/* After the end-of-archive block only zero padding may follow. */
static int trailer(struct stream *s, struct err *e)
{
	uint8_t b[BLOCK];
	for (;;) {
		size_t got;
		if (stream_read(s, b, sizeof b, &got, e))
			return e->code;
		if (!is_zero(b, got))
			return err_set(e, EXIT_MALFORMED, "%s: data after the end of the archive", s->name);
		if (got < sizeof b)
			return EXIT_OK;
	}
}

static int read_archive(struct tarball *t, struct stream *s, struct err *e)
{
	uint8_t h[BLOCK];
	size_t kept_total = 0;
	if (open_stream(s, e))
		return e->code;
	for (;;) {
		size_t got;
		if (stream_read(s, h, BLOCK, &got, e))
			return e->code;
		if (got < BLOCK)
			return err_set(e, EXIT_MALFORMED, "%s: the archive is truncated (no end-of-archive block)", s->name);
		if (is_zero(h, BLOCK))
			return trailer(s, e);
		if (!checksum_ok(h))
			return err_set(e, EXIT_MALFORMED, "%s: a tar header's checksum is wrong (not a tar archive?)", s->name);
		if (memcmp(h + 257, "ustar", 5))
			return err_set(e, EXIT_MALFORMED, "%s: not a ustar archive", s->name);
		char path[300], show[IMAGE_NAME_MAX];
		header_path(h, path, sizeof path);
		shown(path, show);
		uint8_t type = h[156];
		bool is_dir = type == '5';
		if (type != '0' && type != 0 && !is_dir)
			return err_set(e, EXIT_MALFORMED, "member %s is %s: refused", show, type_name(type));
		uint64_t size;
		if (!number(h + 124, 12, &size))
			return err_set(e, EXIT_MALFORMED, "member %s: the size field is malformed", show);
		if (size > TAR_MEMBER_MAX)
			return err_set(e, EXIT_MALFORMED, "member %s declares %llu bytes, more than the limit of %llu", show,
				       (unsigned long long)size, (unsigned long long)TAR_MEMBER_MAX);
		if (is_dir && size)
			return err_set(e, EXIT_MALFORMED, "member %s: a directory with data", show);
		char leaf[IMAGE_NAME_MAX];
		if (member_name(t, path, is_dir, leaf, e))
			return err_wrap(e, "%s", s->name);
		if (is_dir)
			continue;
		if (t->n == TAR_MAX_MEMBERS)
			return err_set(e, EXIT_MALFORMED, "%s: more than %d members", s->name, TAR_MAX_MEMBERS);
		struct tar_member *m = &t->m[t->n++];
		snprintf(m->name, sizeof m->name, "%s", leaf);
		m->size = size;
		if (member_data(stream_reader, s, s->name, m, size + (BLOCK - size % BLOCK) % BLOCK, &kept_total, e))
			return e->code;
	}
}

static int read_with(struct tarball *t, struct stream *s, struct err *e)
{
	memset(t, 0, sizeof *t);
	int rc = read_archive(t, s, e);
	if (s->gzip)
		inflateEnd(&s->z);
	if (rc)
		tarball_free(t);
	return rc;
}

int tarball_read_fd(struct tarball *t, int fd, const char *name, struct err *e)
{
	struct stream *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	s->fd = fd;
	s->name = name;
	int rc = read_with(t, s, e);
	free(s);
	return rc;
}

int tarball_read_mem(struct tarball *t, const uint8_t *p, size_t n, struct err *e)
{
	struct stream *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	s->fd = -1;
	s->mem = p;
	s->mem_len = n;
	s->name = "archive";
	int rc = read_with(t, s, e);
	free(s);
	return rc;
}

struct fd_source {
	int fd;
	const char *name;
};

static int fd_reader(void *src, uint8_t *p, size_t n, size_t *got, struct err *e)
{
	struct fd_source *f = src;
	*got = 0;
	while (*got < n) {
		ssize_t r = read(f->fd, p + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(e, EXIT_SYSTEM, "reading %s: %s", f->name, strerror(errno));
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return EXIT_OK;
}

int tarball_add_file(struct tarball *t, int fd, const char *name, uint64_t size, const char *origin, struct err *e)
{
	if (t->n == TAR_MAX_MEMBERS)
		return err_set(e, EXIT_MALFORMED, "%s: more than %d files", origin, TAR_MAX_MEMBERS);
	if (size > TAR_MEMBER_MAX)
		return err_set(e, EXIT_MALFORMED, "%s: %s has %llu bytes, more than the limit of %llu", origin, name,
			       (unsigned long long)size, (unsigned long long)TAR_MEMBER_MAX);
	size_t kept_total = 0;
	for (size_t i = 0; i < t->n; i++)
		kept_total += t->m[i].kept ? t->m[i].data.len : 0;
	struct tar_member *m = &t->m[t->n++];
	snprintf(m->name, sizeof m->name, "%s", name);
	m->size = size;
	struct fd_source src = { fd, name };
	if (member_data(fd_reader, &src, origin, m, size, &kept_total, e))
		return e->code;
	uint8_t extra;
	size_t got = 0;
	if (fd_reader(&src, &extra, 1, &got, e))
		return e->code;
	if (got)
		return err_set(e, EXIT_SYSTEM, "%s: %s grew while it was read", origin, name);
	return EXIT_OK;
}

const struct tar_member *tarball_find(const struct tarball *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->m[i].name, name))
			return &t->m[i];
	return NULL;
}

void tarball_free(struct tarball *t)
{
	for (size_t i = 0; i < t->n; i++)
		buf_free(&t->m[i].data);
	t->n = 0;
}
