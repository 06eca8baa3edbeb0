/* imagecache: OS images fetched by os_image_hash into a per-user cache -
 * from a URL template (dstack's published location unless trusted
 * configuration names a mirror), verified before use and never half-written
 * (downloaded to a temporary file in the cache, verified as an image with
 * that os_image_hash, then renamed into place). A cached image is used
 * without the network, and verified again each time. */
#ifndef LIB_IMAGECACHE_H
#define LIB_IMAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "err.h"
#include "osimage.h"

#define IMAGE_URL_DEFAULT "https://download.dstack.org/os-images/mr_{OS_IMAGE_HASH}.tar.gz"
#define IMAGE_URL_ENV "TDX_MEASURE_IMAGE_URL"
#define IMAGE_CACHE_ENV "TDX_MEASURE_CACHE"
#define IMAGE_DOWNLOAD_MAX ((unsigned long long)3 << 30)
#define IMAGE_DOWNLOAD_TIMEOUT 3600L

/* The URL template: $TDX_MEASURE_IMAGE_URL, else "image_url = ..." in the
 * user's ${XDG_CONFIG_HOME:-~/.config}/phala-tools/tdx-measure.conf, else
 * IMAGE_URL_DEFAULT. from says which ("default", the variable's name, the
 * file's path). It must be http(s) and contain {OS_IMAGE_HASH}; EXIT_USAGE
 * otherwise. */
int imagecache_url_template(char *tmpl, size_t cap, char *from, size_t from_cap, struct err *e);

/* The cache directory: dir when given, else $TDX_MEASURE_CACHE, else
 * ${XDG_CACHE_HOME:-~/.cache}/phala-tools/os-images. */
int imagecache_dir(const char *dir, char *out, size_t cap, struct err *e);

/* Loads the image with this os_image_hash from the cache dir; when it is not
 * there and tmpl is given, downloads it first (progress: a progress bar on
 * standard error). EXIT_REJECTED when it is not cached and tmpl is NULL, or
 * when the cached or downloaded archive is not that image; EXIT_REMOTE for
 * a failed download. *downloaded tells whether the network was used. */
int imagecache_load(const char *dir, const uint8_t hash[SHA256_LEN], const char *tmpl, bool progress,
		    struct os_image *img, bool *downloaded, struct err *e);

#endif
