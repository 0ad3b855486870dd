/* Shared by the format loaders (pvh.c, bzimage.c) and loader.c. */
#pragma once
#include <stdint.h>
#include <glib.h>
#include "boot/boot.h"
#include "boot/tables.h"

/* The flat boot GDT at VIV_BOOT_GDT_ADDR, laid out like Linux's: entry 1
 * unused, code at selector 0x10, data at 0x18.  The descriptors are
 * written "accessed" so the CPU never has to set that bit in guest RAM. */
#define VIV_BOOT_CS            0x10
#define VIV_BOOT_DS            0x18
#define VIV_BOOT_GDT_ENTRIES   4
#define VIV_GDT_CODE64         0x00AF9B000000FFFFULL  /* L=1, DPL 0, 4 GiB */
#define VIV_GDT_CODE32         0x00CF9B000000FFFFULL  /* D=1, DPL 0, 4 GiB */
#define VIV_GDT_DATA           0x00CF93000000FFFFULL  /* R/W, 4 GiB */

/* An open kernel image; read with bounds checks against its size. */
typedef struct VivKernelFile {
  const char *path;
  int         fd;
  uint64_t    size;
} VivKernelFile;

typedef struct VivBootContext {
  const VivBootConfig  *cfg;
  const VivGuestMemory *mem;
  VivKernelFile         kernel;
  const char           *cmdline;      /* final command line */
  size_t                cmdline_len;  /* without the NUL */
  uint64_t              rsdp_addr;
  VivE820Entry          e820[VIV_E820_MAX_ENTRIES];
  unsigned              n_e820;
} VivBootContext;

/* Reads [offset, offset+len) of the kernel file; VIV_BOOT_ERROR_TRUNCATED
 * (naming `what`) if the file is shorter. */
gboolean viv_kernel_file_read (const VivKernelFile *file, uint64_t offset,
                               void *buf, size_t len, const char *what,
                               GError **error);
/* Copies [offset, offset+len) of the kernel file to guest RAM at gpa. */
gboolean viv_kernel_file_load (const VivKernelFile *file, uint64_t offset,
                               uint64_t len, const VivGuestMemory *mem,
                               uint64_t gpa, const char *what, GError **error);

/* Writes the command line at VIV_CMDLINE_ADDR; refuses one longer than
 * max_len bytes (without the NUL) with VIV_BOOT_ERROR_TOO_BIG. */
gboolean viv_boot_write_cmdline (const VivBootContext *ctx, uint64_t max_len,
                                 GError **error);

/* Loads cfg->initrd_path (if any) at the highest page-aligned address
 * with lowest <= addr and addr + size <= limit.  *size is 0 without an
 * initrd. */
gboolean viv_boot_load_initrd (const VivBootContext *ctx, uint64_t lowest,
                               uint64_t limit, uint64_t *addr, uint64_t *size,
                               GError **error);

gboolean viv_boot_write_gdt (const VivGuestMemory *mem, gboolean long_mode,
                             GError **error);

/* The format loaders: validate the image, load it and its boot data, and
 * fill *entry. */
gboolean viv_pvh_load     (const VivBootContext *ctx, VivBootEntry *entry,
                           GError **error);
gboolean viv_bzimage_load (const VivBootContext *ctx, VivBootEntry *entry,
                           GError **error);
