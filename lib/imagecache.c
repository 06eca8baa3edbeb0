#include "imagecache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "fileio.h"
#include "http.h"

#define HASH_TOKEN "{OS_IMAGE_HASH}"

static int check_template(const char *tmpl, const char *from, struct err *e)
{
	if (strncmp(tmpl, "https://", 8) && strncmp(tmpl, "http://", 7))
		return err_set(e, EXIT_USAGE, "image URL template from %s is not http(s)", from);
	if (!strstr(tmpl, HASH_TOKEN))
		return err_set(e, EXIT_USAGE, "image URL template from %s has no %s", from, HASH_TOKEN);
	for (const char *p = tmpl; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return err_set(e, EXIT_USAGE, "image URL template from %s contains a space or control character", from);
	return EXIT_OK;
}

/* "image_url = VALUE" from the user's configuration file, if it has one. */
static int config_file_template(char *tmpl, size_t cap, char *path, size_t path_cap, bool *found, struct err *e)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	*found = false;
	if (xdg && *xdg)
		snprintf(path, path_cap, "%s/phala-tools/tdx-measure.conf", xdg);
	else if (home && *home)
		snprintf(path, path_cap, "%s/.config/phala-tools/tdx-measure.conf", home);
	else
		return EXIT_OK;
	struct buf text = { 0 };
	if (access(path, F_OK))
		return EXIT_OK;
	if (file_read_all(path, 65536, &text, e))
		return err_wrap(e, "configuration");
	int rc = EXIT_OK;
	for (char *line = (char *)text.data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		char *eq = strchr(line, '=');
		size_t klen = eq ? (size_t)(eq - line) : 0;
		while (klen && (line[klen - 1] == ' ' || line[klen - 1] == '\t'))
			klen--;
		if (!eq || klen != 9 || strncmp(line, "image_url", 9)) {
			rc = err_set(e, EXIT_USAGE, "%s: unknown line (only \"image_url = TEMPLATE\")", path);
			break;
		}
		char *v = eq + 1, *end = v + strlen(v);
		while (*v == ' ' || *v == '\t')
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = 0;
		if ((size_t)snprintf(tmpl, cap, "%s", v) >= cap) {
			rc = err_set(e, EXIT_USAGE, "%s: image_url is too long", path);
			break;
		}
		*found = true;
	}
	buf_free(&text);
	return rc;
}

int imagecache_url_template(char *tmpl, size_t cap, char *from, size_t from_cap, struct err *e)
{
	const char *env = getenv(IMAGE_URL_ENV);
	if (env && *env) {
		snprintf(from, from_cap, "$%s", IMAGE_URL_ENV);
		if ((size_t)snprintf(tmpl, cap, "%s", env) >= cap)
			return err_set(e, EXIT_USAGE, "$%s is too long", IMAGE_URL_ENV);
		return check_template(tmpl, from, e);
	}
	bool found;
	if (config_file_template(tmpl, cap, from, from_cap, &found, e))
		return e->code;
	if (found)
		return check_template(tmpl, from, e);
	snprintf(from, from_cap, "default");
	snprintf(tmpl, cap, "%s", IMAGE_URL_DEFAULT);
	return EXIT_OK;
}

int imagecache_dir(const char *dir, char *out, size_t cap, struct err *e)
{
	const char *env = getenv(IMAGE_CACHE_ENV), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	size_t n;
	if (dir && *dir)
		n = (size_t)snprintf(out, cap, "%s", dir);
	else if (env && *env)
		n = (size_t)snprintf(out, cap, "%s", env);
	else if (xdg && *xdg)
		n = (size_t)snprintf(out, cap, "%s/phala-tools/os-images", xdg);
	else if (home && *home)
		n = (size_t)snprintf(out, cap, "%s/.cache/phala-tools/os-images", home);
	else
		return err_set(e, EXIT_USAGE, "no cache directory: give --cache DIR (HOME is not set)");
	return n < cap ? EXIT_OK : err_set(e, EXIT_USAGE, "cache directory path is too long");
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int make_dirs(const char *path, struct err *e)
{
	char p[4096];
	if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p)
		return err_set(e, EXIT_USAGE, "cache directory path is too long");
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0700) && errno != EEXIST)
			return err_set(e, EXIT_SYSTEM, "cannot create %s: %s", p, strerror(errno));
		*s = c;
		if (!c)
			return EXIT_OK;
	}
}

static int expand(const char *tmpl, const char *hex, char *url, size_t cap, struct err *e)
{
	size_t n = 0, tl = strlen(HASH_TOKEN);
	for (const char *p = tmpl; *p;) {
		const char *piece = p;
		size_t len = 1;
		if (!strncmp(p, HASH_TOKEN, tl)) {
			piece = hex;
			len = strlen(hex);
			p += tl;
		} else {
			p++;
		}
		if (n + len >= cap)
			return err_set(e, EXIT_USAGE, "image URL is too long");
		memcpy(url + n, piece, len);
		n += len;
	}
	url[n] = 0;
	return EXIT_OK;
}

static int download(const char *dir, const char *path, const char *hex, const uint8_t hash[SHA256_LEN],
		    const char *tmpl, bool progress, struct os_image *img, struct err *e)
{
	char url[4096], tmp[4200];
	if (expand(tmpl, hex, url, sizeof url, e) || make_dirs(dir, e))
		return e->code;
	snprintf(tmp, sizeof tmp, "%s/.mr_%s.tar.gz.XXXXXX", dir, hex);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_set(e, EXIT_SYSTEM, "cannot create a file in %s: %s", dir, strerror(errno));
	int rc = http_download(url, IMAGE_DOWNLOAD_TIMEOUT, fd, IMAGE_DOWNLOAD_MAX, progress, e);
	if (rc == EXIT_OK && fsync(fd))
		rc = err_set(e, EXIT_SYSTEM, "fsync %s: %s", tmp, strerror(errno));
	if (close(fd) && rc == EXIT_OK)
		rc = err_set(e, EXIT_SYSTEM, "close %s: %s", tmp, strerror(errno));
	/* Verified before it takes the cache's name. */
	if (rc == EXIT_OK && (rc = osimage_load(img, tmp, hash, e)))
		err_wrap(e, "downloaded from %s", url);
	if (rc == EXIT_OK && rename(tmp, path)) {
		rc = err_set(e, EXIT_SYSTEM, "cannot rename into %s: %s", path, strerror(errno));
		osimage_free(img);
	}
	if (rc) {
		unlink(tmp);
		return rc;
	}
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d >= 0) {
		fsync(d);
		close(d);
	}
	snprintf(img->origin, sizeof img->origin, "archive %s (downloaded from %s)", path, url);
	return EXIT_OK;
}

int imagecache_load(const char *dir, const uint8_t hash[SHA256_LEN], const char *tmpl, bool progress,
		    struct os_image *img, bool *downloaded, struct err *e)
{
	char hex[2 * SHA256_LEN + 1], path[4200];
	hex_encode(hash, SHA256_LEN, hex);
	if ((size_t)snprintf(path, sizeof path, "%s/mr_%s.tar.gz", dir, hex) >= sizeof path)
		return err_set(e, EXIT_USAGE, "cache directory path is too long");
	*downloaded = false;
	if (access(path, F_OK) == 0) {
		if (osimage_load(img, path, hash, e))
			return err_wrap(e, "cached image (remove %s to download it again)", path);
		return EXIT_OK;
	}
	if (!tmpl)
		return err_set(e, EXIT_REJECTED, "image %s is not in the cache %s (--fetch downloads it)", hex, dir);
	*downloaded = true;
	return download(dir, path, hex, hash, tmpl, progress, img, e);
}
