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

int http_get(const char *url, long timeout_s, struct http_response *r, struct err *e)
{
	static const char *const names[] = { "body", "headers", "stderr", "status" };
	memset(r, 0, sizeof *r);
	const char *tmp = getenv("TMPDIR");
	char dir[4096], paths[4][4200], max_time[32], max_size[32];
	snprintf(dir, sizeof dir, "%s/http.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return err_set(e, EXIT_SYSTEM, "temporary directory in %s: %s", tmp && *tmp ? tmp : "/tmp",
			       strerror(errno));
	for (int i = 0; i < 4; i++)
		snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
	snprintf(max_time, sizeof max_time, "%ld", timeout_s);
	snprintf(max_size, sizeof max_size, "%zu", HTTP_BODY_MAX);
	const char *curl = getenv("CURL");
	char prog[4096], url_arg[4096];
	snprintf(prog, sizeof prog, "%s", curl && *curl ? curl : "curl");
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
		char reason[512];
		struct buf code = { 0 };
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			rc = err_set(e, EXIT_SYSTEM, "cannot run %s", argv[0]);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			curl_reason(paths[2], reason, sizeof reason);
			rc = err_set(e, EXIT_REMOTE, "GET %s: %s", url,
				     reason[0] ? reason : "transfer failed");
		} else if ((rc = file_read_all(paths[3], 64, &code, e)) == EXIT_OK) {
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
