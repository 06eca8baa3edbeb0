#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"

extern char **environ;

/* Removes the files and the temporary directory. */
static void cleanup(const char *dir, const char *const *names, int n)
{
	char path[4200];
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Runs curl with its standard output (the -w status) into out_path. */
static int run_curl(char *const argv[], const char *out_path, int *status, struct err *e)
{
	pid_t pid;
	posix_spawn_file_actions_t fa;
	int rc = posix_spawn_file_actions_init(&fa);
	if (!rc)
		rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (!rc)
		rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return err_set(e, EXIT_SYSTEM, "cannot run %s: %s", argv[0], strerror(rc));
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return err_set(e, EXIT_SYSTEM, "waitpid: %s", strerror(errno));
	return EXIT_OK;
}

/* curl's one-line error (its stderr), without the trailing newline. */
static void curl_reason(const char *path, char *out, size_t n)
{
	struct buf b = { 0 };
	struct err ignored = { 0 };
	out[0] = 0;
	if (file_read_all(path, 4096, &b, &ignored) == EXIT_OK && b.len) {
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.data[--b.len] = 0;
		const char *p = (const char *)b.data;
		snprintf(out, n, "%s", strncmp(p, "curl: ", 6) ? p : p + 6);
	}
	buf_free(&b);
}

static int temp_dir(char *dir, size_t cap, struct err *e)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, cap, "%s/http.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return err_set(e, EXIT_SYSTEM, "temporary directory in %s: %s", tmp && *tmp ? tmp : "/tmp",
			       strerror(errno));
	return EXIT_OK;
}

static void curl_program(char *prog, size_t cap)
{
	const char *curl = getenv("CURL");
	snprintf(prog, cap, "%s", curl && *curl ? curl : "curl");
}

/* curl's exit status as an error: not runnable, or the transfer failed
 * (with curl's own reason from stderr_path when it has one). */
static int curl_status(const char *url, const char *prog, int status, const char *stderr_path, struct err *e)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return err_set(e, EXIT_SYSTEM, "cannot run %s", prog);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return EXIT_OK;
	char reason[512];
	curl_reason(stderr_path, reason, sizeof reason);
	if (!reason[0])
		snprintf(reason, sizeof reason, "transfer failed (curl exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return err_set(e, EXIT_REMOTE, "GET %s: %s", url, reason);
}

/* The status code of the last response in a -D header dump. */
static long last_status(const struct buf *h)
{
	long status = 0;
	const char *t = (const char *)h->data;
	for (size_t i = 0; t && i < h->len;) {
		const char *eol = memchr(t + i, '\n', h->len - i);
		size_t end = eol ? (size_t)(eol - t) : h->len;
		const char *sp;
		if (end - i > 5 && !memcmp(t + i, "HTTP/", 5) && (sp = memchr(t + i, ' ', end - i)))
			status = strtol(sp + 1, NULL, 10);
		i = end + 1;
	}
	return status;
}

int http_get(const char *url, long timeout_s, struct http_response *r, struct err *e)
{
	static const char *const names[] = { "body", "headers", "stderr", "status" };
	memset(r, 0, sizeof *r);
	char dir[4096], paths[4][4200], max_time[32], max_size[32];
	if (temp_dir(dir, sizeof dir, e))
		return e->code;
	for (int i = 0; i < 4; i++)
		snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
	snprintf(max_time, sizeof max_time, "%ld", timeout_s);
	snprintf(max_size, sizeof max_size, "%zu", HTTP_BODY_MAX);
	char prog[4096], url_arg[4096];
	curl_program(prog, sizeof prog);
	if ((size_t)snprintf(url_arg, sizeof url_arg, "%s", url) >= sizeof url_arg) {
		cleanup(dir, names, 0);
		return err_set(e, EXIT_USAGE, "URL too long");
	}
	char opt_s[] = "-sS", opt_proto[] = "--proto", protos[] = "=http,https", opt_time[] = "--max-time",
	     opt_size[] = "--max-filesize", opt_o[] = "-o", opt_d[] = "-D", opt_err[] = "--stderr", opt_w[] = "-w",
	     fmt[] = "%{http_code}", opt_url[] = "--url";
	char *const argv[] = { prog, opt_s, opt_proto, protos, opt_time, max_time, opt_size, max_size, opt_o,
			       paths[0], opt_d, paths[1], opt_err, paths[2], opt_w, fmt, opt_url, url_arg, NULL };
	int status = 0;
	int rc = run_curl(argv, paths[3], &status, e);
	if (rc == EXIT_OK) {
		struct buf code = { 0 };
		if ((rc = curl_status(url, argv[0], status, paths[2], e)) == EXIT_OK &&
		    (rc = file_read_all(paths[3], 64, &code, e)) == EXIT_OK) {
			r->status = strtol((const char *)code.data, NULL, 10);
			rc = file_read_all(paths[1], 1 << 20, &r->headers, e);
			if (rc == EXIT_OK)
				rc = file_read_all(paths[0], HTTP_BODY_MAX, &r->body, e);
			if (rc == EXIT_OK && r->status != 200)
				rc = err_set(e, EXIT_REMOTE, "GET %s: HTTP status %ld", url, r->status);
		}
		buf_free(&code);
	}
	cleanup(dir, names, 4);
	if (rc)
		http_response_free(r);
	return rc;
}

/* Copies curl's standard output (the body) to fd, refusing more than max
 * bytes (curl's own --max-filesize cannot bound a body of unannounced size). */
static int copy_body(int from, int to, unsigned long long max, unsigned long long *total, struct err *e)
{
	uint8_t chunk[65536];
	*total = 0;
	for (;;) {
		ssize_t n = read(from, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(e, EXIT_SYSTEM, "reading from curl: %s", strerror(errno));
		if (n == 0)
			return EXIT_OK;
		*total += (unsigned long long)n;
		if (*total > max)
			return err_set(e, EXIT_REMOTE, "the response is larger than %llu bytes", max);
		if (fd_write_all(to, chunk, (size_t)n, e))
			return e->code;
	}
}

int http_download(const char *url, long timeout_s, int fd, unsigned long long max_bytes, bool progress, struct err *e)
{
	static const char *const names[] = { "headers", "stderr" };
	char dir[4096], paths[2][4200], max_time[32], prog[4096], url_arg[4096];
	if (temp_dir(dir, sizeof dir, e))
		return e->code;
	for (int i = 0; i < 2; i++)
		snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
	snprintf(max_time, sizeof max_time, "%ld", timeout_s);
	curl_program(prog, sizeof prog);
	if ((size_t)snprintf(url_arg, sizeof url_arg, "%s", url) >= sizeof url_arg) {
		cleanup(dir, names, 0);
		return err_set(e, EXIT_USAGE, "URL too long");
	}
	char opt_s[] = "-sS", opt_bar[] = "--progress-bar", opt_proto[] = "--proto", protos[] = "=http,https",
	     opt_time[] = "--max-time", opt_d[] = "-D", opt_err[] = "--stderr", opt_url[] = "--url";
	/* With a progress bar curl keeps our standard error (its error text goes there). */
	char *const argv[] = { prog, progress ? opt_bar : opt_s, opt_proto, protos, opt_time, max_time, opt_d, paths[0],
			       progress ? opt_url : opt_err, progress ? url_arg : paths[1], progress ? NULL : opt_url,
			       url_arg, NULL };
	int p[2], rc = EXIT_OK;
	pid_t pid = -1;
	posix_spawn_file_actions_t fa;
	if (pipe2(p, O_CLOEXEC)) {
		cleanup(dir, names, 0);
		return err_set(e, EXIT_SYSTEM, "pipe: %s", strerror(errno));
	}
	int src = posix_spawn_file_actions_init(&fa);
	if (!src)
		src = posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	if (!src)
		src = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (src)
		rc = err_set(e, EXIT_SYSTEM, "cannot run %s: %s", argv[0], strerror(src));
	unsigned long long total = 0;
	if (rc == EXIT_OK && (rc = copy_body(p[0], fd, max_bytes, &total, e)))
		kill(pid, SIGTERM);
	close(p[0]);
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			rc = rc ? rc : err_set(e, EXIT_SYSTEM, "waitpid: %s", strerror(errno));
			break;
		}
	if (rc == EXIT_OK)
		rc = curl_status(url, argv[0], status, paths[1], e);
	if (rc == EXIT_OK) {
		struct http_response r = { 0 };
		rc = file_read_all(paths[0], 1 << 20, &r.headers, e);
		r.status = rc == EXIT_OK ? last_status(&r.headers) : 0;
		if (rc == EXIT_OK && r.status != 200)
			rc = err_set(e, EXIT_REMOTE, "GET %s: HTTP status %ld", url, r.status);
		http_response_free(&r);
	}
	cleanup(dir, names, 2);
	return rc;
}

void http_response_free(struct http_response *r)
{
	buf_free(&r->headers);
	buf_free(&r->body);
}

bool http_header(const struct http_response *r, const char *name, struct buf *out)
{
	const char *text = (const char *)r->headers.data;
	size_t len = r->headers.len, nlen = strlen(name);
	if (!text)
		return false;
	/* The last block: after the last blank line that is followed by more headers. */
	size_t start = 0;
	for (size_t i = 0; i + 3 < len; i++)
		if (!memcmp(text + i, "\r\n\r\n", 4) && i + 4 < len)
			start = i + 4;
	bool found = false;
	for (size_t i = start; i < len;) {
		const char *eol = memchr(text + i, '\n', len - i);
		size_t line_end = eol ? (size_t)(eol - text) : len;
		if (line_end - i > nlen && text[i + nlen] == ':' && !strncasecmp(text + i, name, nlen)) {
			size_t a = i + nlen + 1, b = line_end;
			while (a < b && (text[a] == ' ' || text[a] == '\t'))
				a++;
			while (b > a && (text[b - 1] == '\r' || text[b - 1] == ' ' || text[b - 1] == '\t'))
				b--;
			buf_reset(out);
			found = buf_append(out, text + a, b - a);
		}
		i = line_end + 1;
	}
	return found;
}
