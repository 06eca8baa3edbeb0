/* tdx-image-cbor: writes the measurement.tdx.cbor of an image directory -
 * dstack's lite material (MRTD for both page-add orders, the TD HOB witness,
 * the kernel's Authenticode digest for QEMU's high-memory initrd placement,
 * the initrd's and the command line's digests) - for the synthetic image
 * builder (t/helpers/mk-image.sh).
 *   tdx-image-cbor DIR > DIR/measurement.tdx.cbor
 * DIR holds metadata.json and the files it names; nothing is verified here
 * (the builder writes sha256sum.txt afterwards). */
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "json.h"
#include "kernel.h"
#include "lite.h"
#include "measurement.h"
#include "tdhob.h"

static int read_named(const char *dir, const struct json *j, const char *key, struct buf *out, struct err *e)
{
	struct buf name = { 0 }, path = { 0 };
	int t = json_need(j, 0, key, e);
	int rc = t < 0 ? e->code : json_string(j, t, key, &name, e);
	if (rc == EXIT_OK && !buf_printf(&path, "%s/%s", dir, (const char *)name.data))
		rc = err_set(e, EXIT_SYSTEM, "out of memory");
	if (rc == EXIT_OK)
		rc = file_read_all((const char *)path.data, (size_t)1 << 30, out, e);
	buf_free(&name);
	buf_free(&path);
	return rc;
}

static int build(const char *dir, struct buf *cbor, struct err *e)
{
	struct buf meta = { 0 }, path = { 0 }, fw = { 0 }, kernel = { 0 }, initrd = { 0 }, cmdline = { 0 }, witness = { 0 };
	struct json j;
	struct lite_material m;
	struct tdvf t;
	struct tdhob_layout hob;
	memset(&m, 0, sizeof m);
	strcpy(m.ovmf, "pre202505");
	int rc = buf_printf(&path, "%s/metadata.json", dir) ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
	if (rc == EXIT_OK && (rc = file_read_all((const char *)path.data, 1 << 20, &meta, e)) == EXIT_OK &&
	    (rc = json_parse(&j, (const char *)meta.data, meta.len, e)) == EXIT_OK) {
		int c = json_need(&j, 0, "cmdline", e);
		if (c < 0 || json_string(&j, c, "cmdline", &cmdline, e) || read_named(dir, &j, "bios", &fw, e) ||
		    read_named(dir, &j, "kernel", &kernel, e) || read_named(dir, &j, "initrd", &initrd, e))
			rc = e->code;
		json_free(&j);
	}
	if (rc == EXIT_OK &&
	    (tdvf_parse(&t, fw.data, fw.len, e) || tdvf_mrtd(&t, PAGES_SINGLE_PASS, m.mrtd_single_pass, e) ||
	     tdvf_mrtd(&t, PAGES_TWO_PASS, m.mrtd_two_pass, e) || tdhob_from_tdvf(&hob, &t, e) ||
	     tdhob_witness(&hob, &witness, e) ||
	     kernel_measured_digest(kernel.data, kernel.len, initrd.len, 0xB0000000u, m.kernel_authenticode, e) ||
	     mr_cmdline_digest((const char *)cmdline.data, cmdline.len, m.cmdline_sha384, e) ||
	     sha384_spans(m.initrd_sha384, SPANS({ initrd.data, initrd.len }))))
		rc = e->code ? e->code : err_set(e, EXIT_SYSTEM, "SHA-384 failed");
	if (rc == EXIT_OK && witness.len > sizeof m.td_hob)
		rc = err_set(e, EXIT_MALFORMED, "TD HOB witness too long");
	if (rc == EXIT_OK) {
		memcpy(m.td_hob, witness.data, witness.len);
		m.td_hob_len = witness.len;
		rc = lite_encode(&m, cbor, e);
	}
	buf_free(&meta);
	buf_free(&path);
	buf_free(&fw);
	buf_free(&kernel);
	buf_free(&initrd);
	buf_free(&cmdline);
	buf_free(&witness);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: tdx-image-cbor DIR\n");
		return 2;
	}
	struct buf cbor = { 0 };
	struct err e = { 0 };
	int rc = build(argv[1], &cbor, &e);
	if (rc)
		fprintf(stderr, "tdx-image-cbor: %s\n", e.msg);
	else if (fwrite(cbor.data, 1, cbor.len, stdout) != cbor.len || fflush(stdout))
		rc = 4;
	buf_free(&cbor);
	return rc;
}
