/* Extracts the uncompressed vmlinux ELF from an x86 bzImage, so that the
 * Linux boot test can boot the same kernel both ways: as a bzImage and as a
 * PVH ELF. */
#pragma once

#include <glib.h>

/* Reads the bzImage at BZIMAGE_PATH, finds its compressed payload through
 * the setup header (payload_offset, payload_length; boot protocol 2.08+),
 * decompresses it with the tool its magic names (gzip, xz, zstd, lz4, bzip2,
 * lzma, lzop), checks that the result is an ELF file of the size the
 * payload's trailer announces, and writes it to VMLINUX_PATH. Works through
 * VMLINUX_PATH.payload and VMLINUX_PATH.partial, removed on return, and a
 * rename: nothing half-written is left behind. */
gboolean viv_extract_vmlinux (const char *bzimage_path,
                              const char *vmlinux_path,
                              GError **error);
