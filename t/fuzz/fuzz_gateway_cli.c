/* Fuzz target: gateway_ask_cli's capture of the phala CLI - a real child
 * process (a shell script standing in for the CLI) prints the fuzzed
 * stdout and stderr and ends as the input says; the capture, the answer's
 * reading and the error text built from either must hold for any bytes.
 * A successful exit is checked against gateway_from_cvm_json on the same
 * bytes (the capture must not change what is read).
 *
 * Input: MODE LEN_HI LEN_LO STDOUT[LEN] STDERR. MODE % 8: 0 exit 0, 1..4 that
 * exit status, 5 killed by a signal, 6 a CLI that cannot be run, 7 a CLI
 * that does not answer within the timeout (50 ms, then killed). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "gateway.h"

#define APP "0123456789abcdef0123456789abcdef01234567"

static char cli[PATH_MAX], out_path[PATH_MAX], err_path[PATH_MAX], mode_path[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *d = fuzz_tmpdir();
	snprintf(cli, sizeof cli, "%s/phala", d);
	snprintf(out_path, sizeof out_path, "%s/out", d);
	snprintf(err_path, sizeof err_path, "%s/err", d);
	snprintf(mode_path, sizeof mode_path, "%s/mode", d);
	char script[4 * PATH_MAX + 256];
	int n = snprintf(script, sizeof script,
			 "#!/bin/sh\n"
			 "read m < '%s'\n"
			 "[ \"$m\" = hang ] && exec sleep 5\n"
			 "cat '%s'; cat '%s' >&2\n"
			 "[ \"$m\" = kill ] && kill -9 $$\n"
			 "exit \"$m\"\n",
			 mode_path, out_path, err_path);
	fuzz_put(cli, script, (size_t)n);
	if (chmod(cli, 0700))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	unsigned mode = data[0] % 8;
	size_t n = (size_t)data[1] << 8 | data[2];
	const uint8_t *o = data + 3;
	if (n > size - 3)
		n = size - 3;
	fuzz_put(out_path, o, n);
	fuzz_put(err_path, o + n, size - 3 - n);
	char m[8];
	int ml = mode == 5 ? snprintf(m, sizeof m, "kill\n") : mode == 7 ? snprintf(m, sizeof m, "hang\n")
								 : snprintf(m, sizeof m, "%u\n", mode);
	fuzz_put(mode_path, m, (size_t)ml);

	struct gateway_host g;
	struct err e = { 0 };
	int rc = gateway_ask_cli(mode == 6 ? "/nonexistent/phala" : cli, APP, mode == 7 ? 50 : 10000, &g, &e);
	if (rc == EXIT_OK) {
		size_t hl = strnlen(g.host, sizeof g.host);
		if (mode != 0 || hl == 0 || hl == sizeof g.host || !strstr(g.host, "-22."))
			abort(); /* only a successful run answers, with <app id>-22.<domain> */
	} else {
		if (rc != EXIT_REMOTE && rc != EXIT_MALFORMED && rc != EXIT_SYSTEM)
			abort();
		if (mode >= 5 && rc != EXIT_REMOTE)
			abort(); /* a CLI killed, missing or silent is a remote failure */
		fuzz_check_message(&e);
	}
	if (mode == 0) {
		struct gateway_host h;
		struct err f = { 0 };
		int direct = gateway_from_cvm_json((const char *)o, n, &h, &f);
		if (direct != rc || (!rc && strcmp(g.host, h.host)) || (!rc && g.port != h.port))
			abort();
	}
	return 0;
}
