/* The image archive reader on archives built here: plain and gzip'd,
 * flattened or in one directory, and every member it must refuse. */
#include <stdbool.h>
#include <zlib.h>

#include "tarball.h"
#include "unit.h"

/* One ustar header (POSIX magic) for name, of type and declared size. */
static void header(struct buf *t, const char *name, char type, uint64_t size, bool base256)
{
	uint8_t h[512] = { 0 };
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	if (base256) {
		h[124] = 0x80;
		for (int i = 0; i < 8; i++)
			h[135 - i] = (uint8_t)(size >> (8 * i));
	} else {
		snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	}
	memcpy(h + 136, "00000000000", 12);
	h[156] = (uint8_t)type;
	memcpy(h + 257, "ustar\0" "00", 8);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	buf_append(t, h, 512);
}

static void member(struct buf *t, const char *name, const char *data)
{
	size_t n = strlen(data);
	header(t, name, '0', n, false);
	buf_append(t, data, n);
	static const uint8_t zeros[512];
	buf_append(t, zeros, (512 - n % 512) % 512);
}

static void finish(struct buf *t)
{
	static const uint8_t zeros[1024];
	buf_append(t, zeros, sizeof zeros);
}

static void gzip(const struct buf *in, struct buf *out)
{
	z_stream z = { 0 };
	CHECK(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	buf_reserve(out, in->len + 1024);
	z.next_in = in->data;
	z.avail_in = (uInt)in->len;
	z.next_out = out->data;
	z.avail_out = (uInt)(in->len + 1024);
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	out->len = z.total_out;
	deflateEnd(&z);
}

static int read_tar(const struct buf *t, struct tarball *tb, struct err *e)
{
	memset(e, 0, sizeof *e);
	return tarball_read_mem(tb, t->data, t->len, e);
}

static void reads_plain_and_gzip(void)
{
	struct buf t = { 0 }, z = { 0 };
	header(&t, "./", '5', 0, false);
	member(&t, "./a.txt", "hello");
	member(&t, "./b.bin", "");
	finish(&t);
	gzip(&t, &z);
	const struct buf *forms[2] = { &t, &z };
	for (int i = 0; i < 2; i++) {
		struct tarball tb;
		struct err e;
		CHECK(read_tar(forms[i], &tb, &e) == EXIT_OK);
		CHECK(tb.n == 2 && !strcmp(tb.m[0].name, "a.txt") && tb.m[0].size == 5);
		CHECK(tb.m[0].kept && tb.m[0].data.len == 5 && !memcmp(tb.m[0].data.data, "hello", 5));
		uint8_t h[32];
		sha256_spans(h, SPANS({ "hello", 5 }));
		CHECK(!memcmp(tb.m[0].sha256, h, 32));
		CHECK(tarball_find(&tb, "b.bin") && !tarball_find(&tb, "c"));
		tarball_free(&tb);
	}
	/* Two gzip members one after the other are one stream (gzip a b > c). */
	struct buf first = { 0 }, second = { 0 }, z1 = { 0 }, z2 = { 0 };
	buf_append(&first, t.data, 1024);
	buf_append(&second, t.data + 1024, t.len - 1024);
	gzip(&first, &z1);
	gzip(&second, &z2);
	buf_append(&z1, z2.data, z2.len);
	struct tarball tb;
	struct err e;
	CHECK(read_tar(&z1, &tb, &e) == EXIT_OK && tb.n == 2);
	tarball_free(&tb);
	buf_free(&first);
	buf_free(&second);
	buf_free(&z1);
	buf_free(&z2);
	buf_free(&t);
	buf_free(&z);
}

static void one_directory_is_allowed(void)
{
	struct buf t = { 0 };
	header(&t, "dstack-0.5.9/", '5', 0, false);
	member(&t, "dstack-0.5.9/bzImage", "k");
	member(&t, "dstack-0.5.9/ovmf.fd", "f");
	finish(&t);
	struct tarball tb;
	struct err e;
	CHECK(read_tar(&t, &tb, &e) == EXIT_OK && tb.n == 2 && !strcmp(tb.dir, "dstack-0.5.9"));
	CHECK(!strcmp(tb.m[1].name, "ovmf.fd"));
	tarball_free(&tb);
	buf_free(&t);
}

static void hostile_members_are_refused(void)
{
	static const struct {
		const char *name;
		char type;
		uint64_t size;
		bool base256;
		const char *why;
	} bad[] = {
		{ "../etc/passwd", '0', 1, false, "paths with .. are refused" },
		{ "a/../../b", '0', 1, false, "paths with .. are refused" },
		{ "/etc/passwd", '0', 1, false, "absolute paths are refused" },
		{ "link", '2', 0, false, "a symbolic link" },
		{ "hard", '1', 0, false, "a hard link" },
		{ "tty", '3', 0, false, "a character device" },
		{ "disk", '4', 0, false, "a block device" },
		{ "pipe", '6', 0, false, "a FIFO" },
		{ "pax", 'x', 0, false, "pax extended header" },
		{ "././@LongLink", 'L', 0, false, "GNU long-name" },
		{ "huge", '0', (uint64_t)10 << 30, true, "declares 10737418240 bytes" },
		{ "a/b/c", '0', 1, false, "one directory level" },
		{ "-rf", '0', 1, false, "not a plain file name" },
		{ "sp ace", '0', 1, false, "not a plain file name" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct buf t = { 0 };
		member(&t, "ok", "fine");
		/* The header only: a refusal must come before any data is read. */
		header(&t, bad[i].name, bad[i].type, bad[i].size, bad[i].base256);
		finish(&t);
		struct tarball tb;
		struct err e;
		CHECK(read_tar(&t, &tb, &e) == EXIT_MALFORMED);
		if (!strstr(e.msg, bad[i].why))
			printf("# case %zu: %s\n", i, e.msg);
		CHECK(strstr(e.msg, bad[i].why) != NULL);
		CHECK(tb.n == 0); /* freed */
		buf_free(&t);
	}
}

static void malformed_archives_are_refused(void)
{
	struct tarball tb;
	struct err e;
	struct buf t = { 0 };
	member(&t, "a", "data");
	member(&t, "a", "again");
	finish(&t);
	CHECK(read_tar(&t, &tb, &e) == EXIT_MALFORMED && strstr(e.msg, "appears twice"));
	buf_reset(&t);
	member(&t, "a", "data");
	t.data[148] ^= 1; /* header checksum */
	finish(&t);
	CHECK(read_tar(&t, &tb, &e) == EXIT_MALFORMED && strstr(e.msg, "checksum"));
	buf_reset(&t);
	member(&t, "a", "data");
	CHECK(read_tar(&t, &tb, &e) == EXIT_MALFORMED && strstr(e.msg, "end-of-archive"));
	buf_reset(&t);
	header(&t, "a", '0', 100000, false);
	finish(&t);
	CHECK(read_tar(&t, &tb, &e) == EXIT_MALFORMED && strstr(e.msg, "truncated"));
	buf_reset(&t);
	member(&t, "a", "data");
	finish(&t);
	buf_append(&t, "x", 1);
	CHECK(read_tar(&t, &tb, &e) == EXIT_MALFORMED && strstr(e.msg, "after the end"));
	buf_reset(&t);
	member(&t, "top", "1");
	member(&t, "d/inside", "2");
	finish(&t);
	CHECK(read_tar(&t, &tb, &e) == EXIT_MALFORMED && strstr(e.msg, "both in and outside"));
	/* A truncated gzip stream; corrupt gzip data. */
	buf_reset(&t);
	member(&t, "a", "data");
	finish(&t);
	struct buf z = { 0 };
	gzip(&t, &z);
	struct buf cut = { 0 };
	buf_append(&cut, z.data, z.len - 9);
	CHECK(read_tar(&cut, &tb, &e) == EXIT_MALFORMED);
	z.data[z.len / 2] ^= 0x55;
	CHECK(read_tar(&z, &tb, &e) == EXIT_MALFORMED);
	/* Every truncation of a valid archive: refused, never a crash. */
	z.data[z.len / 2] ^= 0x55;
	for (size_t k = 0; k < z.len; k++) {
		cut.len = 0;
		buf_append(&cut, z.data, k);
		CHECK(read_tar(&cut, &tb, &e) == EXIT_MALFORMED);
	}
	buf_free(&cut);
	buf_free(&z);
	buf_free(&t);
}

int main(void)
{
	RUN(reads_plain_and_gzip);
	RUN(one_directory_is_allowed);
	RUN(hostile_members_are_refused);
	RUN(malformed_archives_are_refused);
	return UNIT_DONE();
}
