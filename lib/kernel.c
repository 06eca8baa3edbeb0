#include "kernel.h"

#include <stdlib.h>
#include <string.h>

#include "authenticode.h"
#include "bytes.h"

#define SETUP_MIN_LEN 0x1000u
#define LOADED_HIGH 0x01u
#define CAN_USE_HEAP 0x80u
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02u
#define XLF_5LEVEL_ENABLED 0x40u /* what dstack v0.5.9 tests instead of the bit above */
#define REAL_ADDR 0x10000u
#define CMDLINE_ADDR 0x20000u
#define LOW_SPLIT 0xB0000000u
#define DEFAULT_INITRD_MAX 0x37ffffffu

/* The highest initrd address the header allows, as QEMU decides it. dstack
 * v0.5.9 decides differently for headers no real kernel has (it tests
 * xloadflags bit 6, QEMU bit 1; it ignores initrd_addr_max from protocol
 * 2.12 on); where the two would disagree the kernel is refused. */
static int initrd_limit(const uint8_t *k, uint16_t protocol, uint32_t *max, struct err *e)
{
	uint32_t addr_max = (uint32_t)le_load(k + 0x22c, 4), xlf = (uint32_t)le_load(k + 0x236, 2);
	bool above_4g = protocol >= 0x20c && (xlf & XLF_CAN_BE_LOADED_ABOVE_4G);
	if (protocol >= 0x20c && above_4g != !!(xlf & XLF_5LEVEL_ENABLED))
		return err_set(e, EXIT_MALFORMED, "kernel header: xloadflags 0x%x place the initrd differently in QEMU and dstack; not implemented",
			       xlf);
	if (above_4g) {
		*max = UINT32_MAX;
	} else if (protocol >= 0x203) {
		if (addr_max == 0 || (protocol >= 0x20c && addr_max != DEFAULT_INITRD_MAX))
			return err_set(e, EXIT_MALFORMED, "kernel header: initrd_addr_max 0x%x with protocol 0x%x is not implemented",
				       addr_max, protocol);
		*max = addr_max;
	} else {
		*max = DEFAULT_INITRD_MAX;
	}
	return EXIT_OK;
}

int kernel_qemu_patch(uint8_t *k, size_t len, uint64_t initrd_size, uint64_t memory_size, struct err *e)
{
	if (len < SETUP_MIN_LEN)
		return err_set(e, EXIT_MALFORMED, "kernel image of %zu bytes is too short", len);
	if (memcmp(k + 0x202, "HdrS", 4))
		return err_set(e, EXIT_MALFORMED, "not a Linux bzImage (no HdrS setup header)");
	uint16_t protocol = (uint16_t)le_load(k + 0x206, 2);
	if (protocol < 0x202 || !(k[0x211] & LOADED_HIGH))
		return err_set(e, EXIT_MALFORMED, "kernel boot protocol 0x%x%s: only 2.02+ kernels loaded high are implemented",
			       protocol, k[0x211] & LOADED_HIGH ? "" : " without LOADED_HIGH");
	/* QEMU stores a 16-bit heap_end_ptr, dstack 32 bits: equal only when
	 * the two bytes after it are zero, as in every real kernel. */
	if (k[0x226] || k[0x227])
		return err_set(e, EXIT_MALFORMED, "kernel header: ext_loader fields are set; not implemented");
	k[0x210] = 0xb0; /* type_of_loader: QEMU */
	k[0x211] |= CAN_USE_HEAP;
	le_store(k + 0x224, CMDLINE_ADDR - REAL_ADDR - 0x200, 2);
	le_store(k + 0x228, CMDLINE_ADDR, 4);
	if (initrd_size == 0)
		return EXIT_OK;
	if (initrd_size > UINT32_MAX)
		return err_set(e, EXIT_MALFORMED, "initrd of %llu bytes does not fit the 32-bit header field",
			       (unsigned long long)initrd_size);
	uint32_t initrd_max = 0;
	if (initrd_limit(k, protocol, &initrd_max, e))
		return e->code;
	uint64_t below_4g = memory_size < LOW_SPLIT ? memory_size : 0x80000000u;
	if (below_4g <= KERNEL_ACPI_DATA_SIZE)
		return err_set(e, EXIT_MALFORMED, "memory_size %llu leaves no room for the initrd", (unsigned long long)memory_size);
	if (initrd_max >= below_4g - KERNEL_ACPI_DATA_SIZE)
		initrd_max = (uint32_t)(below_4g - KERNEL_ACPI_DATA_SIZE - 1);
	if (initrd_size >= initrd_max)
		return err_set(e, EXIT_MALFORMED, "initrd of %llu bytes does not fit below 0x%x",
			       (unsigned long long)initrd_size, initrd_max);
	le_store(k + 0x218, (initrd_max - (uint32_t)initrd_size) & ~0xfffu, 4);
	le_store(k + 0x21c, (uint32_t)initrd_size, 4);
	return EXIT_OK;
}

int kernel_measured_digest(const uint8_t *k, size_t len, uint64_t initrd_size, uint64_t memory_size,
			   uint8_t out[SHA384_LEN], struct err *e)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return err_set(e, EXIT_SYSTEM, "out of memory for a %zu-byte kernel", len);
	memcpy(copy, k, len);
	int rc = kernel_qemu_patch(copy, len, initrd_size, memory_size, e);
	if (rc == EXIT_OK && (rc = authenticode_digest(DIGEST_SHA384, copy, len, out, e)))
		err_wrap(e, "kernel");
	free(copy);
	return rc;
}

int kernel_check_cmdline(const char *cmdline, struct err *e)
{
	for (const char *p = cmdline; (p = strstr(p, "vga=")); p++)
		if (p == cmdline || p[-1] == ' ')
			return err_set(e, EXIT_MALFORMED, "command line sets vga=, which QEMU patches into the kernel header: not implemented");
	return EXIT_OK;
}
