/* kernel: the Linux bzImage as QEMU hands it to the TDX firmware. QEMU
 * writes boot-protocol fields into the setup header (loader type, heap end,
 * command-line address, initrd address and size) before the firmware
 * measures the image into RTMR1, so the measured digest depends on the
 * initrd's size and on the VM's memory size (QEMU hw/i386/x86.c
 * x86_load_linux; dstack-mr src/kernel.rs). Only the kernels QEMU loads the
 * modern way are accepted: boot protocol >= 2.02 with LOADED_HIGH. */
#ifndef LIB_KERNEL_H
#define LIB_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "err.h"

/* QEMU's ACPI_DATA_SIZE for the q35 machine dstack uses: kept free below
 * the top of low memory, under the initrd. */
#define KERNEL_ACPI_DATA_SIZE 0x28000u

/* Applies QEMU's setup-header patch in place (k is a copy of the image). */
int kernel_qemu_patch(uint8_t *k, size_t len, uint64_t initrd_size, uint64_t memory_size, struct err *e);

/* RTMR1's first event: Authenticode SHA-384 of the patched image. */
int kernel_measured_digest(const uint8_t *k, size_t len, uint64_t initrd_size, uint64_t memory_size,
			   uint8_t out[SHA384_LEN], struct err *e);

/* QEMU also patches the video mode from a "vga=" option of the command line;
 * that patch is not implemented, so such a command line is refused. */
int kernel_check_cmdline(const char *cmdline, struct err *e);

#endif
