/* claim-crash DIR LEASE KILLS [--in-place]: crash safety of claim writes. KILLS times, a
 * child process updates LEASE's claim in a loop (each update: seq=N+1 and a
 * 3000-byte payload derived from N+1) and is killed with SIGKILL after a
 * random delay. After every kill the claim must read back parseable, with a
 * payload matching its seq (never a mix of two writes) and a seq never
 * lower than the one seen before. Prints one summary line; exit 0 when every
 * check held, 1 otherwise. --in-place makes the writer rewrite the claim file
 * in place in small pieces (what lib/claim must never do): the negative
 * control showing that the checks catch torn claims. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include "claim.h"
#include "fileio.h"

static bool in_place;

/* The wrong way: truncate and rewrite the claim file in 256-byte pieces. */
static void write_in_place(const struct claim_store *s, struct claim *c, char *const *kv)
{
	struct err e = { 0 };
	for (int i = 0; i < 2; i++) {
		char *eq = strchr(kv[i], '=');
		*eq = 0;
		claim_set(c, kv[i], eq + 1, &e);
		*eq = '=';
	}
	struct buf text = { 0 }, path = { 0 };
	claim_serialise(c, &text);
	buf_printf(&path, "%s/%s.json", s->dir, c->lease_id);
	int fd = open((const char *)path.data, O_WRONLY | O_TRUNC);
	for (size_t off = 0; fd >= 0 && off < text.len; off += 256) {
		fd_write_all(fd, text.data + off, text.len - off < 256 ? text.len - off : 256, &e);
		usleep(50);
	}
	if (fd >= 0)
		close(fd);
	buf_free(&text);
	buf_free(&path);
}

static void payload_of(unsigned long seq, char *out, size_t n)
{
	char unit[32];
	int u = snprintf(unit, sizeof unit, "%lu-", seq);
	size_t i = 0;
	for (; i + 1 < n; i++)
		out[i] = unit[i % (size_t)u];
	out[i] = 0;
}

static void writer(const struct claim_store *s, const char *lease)
{
	static char kv_seq[64], kv_pay[3100];
	for (;;) {
		struct claim c;
		struct err e = { 0 };
		if (claim_read(s, lease, &c, &e))
			_exit(3);
		unsigned long seq = strtoul(claim_get(&c, "seq"), NULL, 10) + 1;
		char rev[CLAIM_REVISION_LEN + 1];
		memcpy(rev, c.revision, sizeof rev);
		claim_free(&c);
		snprintf(kv_seq, sizeof kv_seq, "seq=%lu", seq);
		memcpy(kv_pay, "payload=", 8);
		payload_of(seq, kv_pay + 8, 3000);
		char *kv[2] = { kv_seq, kv_pay };
		if (in_place) {
			if (claim_read(s, lease, &c, &e))
				_exit(3);
			write_in_place(s, &c, kv);
			claim_free(&c);
		} else if (claim_update(s, lease, rev, kv, 2, NULL, &e)) {
			_exit(4);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && !strcmp(argv[4], "--in-place"))) {
		fprintf(stderr, "usage: claim-crash DIR LEASE KILLS [--in-place]\n");
		return 2;
	}
	in_place = argc == 5;
	struct claim_store s;
	struct err e = { 0 };
	const char *lease = argv[2];
	int kills = atoi(argv[3]);
	if (claim_store_open(&s, argv[1], true, &e)) {
		fprintf(stderr, "claim-crash: %s\n", e.msg);
		return 2;
	}
	char kv_pay[3100] = "payload=";
	payload_of(0, kv_pay + 8, 3000);
	char *kv[2] = { (char *)"seq=0", kv_pay };
	if (claim_create(&s, lease, kv, 2, NULL, &e)) {
		fprintf(stderr, "claim-crash: %s\n", e.msg);
		return 2;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	unsigned long last = 0;
	int bad = 0, early = 0;
	char want[3001];
	for (int i = 0; i < kills; i++) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0)
			writer(&s, lease);
		usleep((useconds_t)(rand() % 4000));
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		if (!WIFSIGNALED(st))
			early++; /* the writer failed by itself: counted as a failure */
		struct claim c;
		if (claim_read(&s, lease, &c, &e)) {
			printf("# after kill %d: %s\n", i, e.msg);
			bad++;
			if (!in_place)
				continue;
			/* repair, so that the next writer can go on */
			char *fresh[2] = { (char *)"seq=0", kv_pay };
			char path[4200];
			snprintf(path, sizeof path, "%s/%s.json", s.dir, lease);
			unlink(path);
			claim_create(&s, lease, fresh, 2, NULL, &e);
			last = 0;
			continue;
		}
		const char *sq = claim_get(&c, "seq"), *pay = claim_get(&c, "payload");
		unsigned long seq = sq ? strtoul(sq, NULL, 10) : 0;
		payload_of(seq, want, 3000);
		if (!sq || !pay || strcmp(pay, want) || seq < last) {
			printf("# after kill %d: torn or regressed claim (seq %s, last %lu)\n", i, sq ? sq : "-", last);
			bad++;
		}
		last = seq;
		claim_free(&c);
	}
	printf("kills=%d updates=%lu bad=%d writer_failures=%d\n", kills, last, bad, early);
	claim_store_close(&s);
	return bad || early ? 1 : 0;
}
