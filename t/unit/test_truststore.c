#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "truststore.h"
#include "unit.h"

static char dir[] = "/tmp/truststore-test.XXXXXX";

/* indexed_with NAME: whether dir counts as indexed when NAME is its only file. */
static bool indexed_with(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	fclose(f);
	bool r = truststore_dir_is_indexed(dir);
	unlink(path);
	return r;
}

static void index_names(void)
{
	CHECK(!truststore_dir_is_indexed(dir)); /* empty */
	CHECK(indexed_with("1a2b3c4d.0"));
	CHECK(!indexed_with("ca.pem"));
	CHECK(!indexed_with("1A2B3C4D.0")); /* OpenSSL writes lower-case hex */
	CHECK(!indexed_with("1a2b3c4d.1"));  /* a second certificate only: no first */
	CHECK(!indexed_with("1a2b3c4d.r0")); /* a CRL */
	CHECK(!indexed_with("1a2b3c4.0"));
	CHECK(!indexed_with("1a2b3c4d.0.pem"));
	CHECK(!indexed_with("1a2b3c4g.0"));
	CHECK(!truststore_dir_is_indexed("/nonexistent/truststore"));
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(index_names);
	rmdir(dir);
	return UNIT_DONE();
}
