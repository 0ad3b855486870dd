/* Loading a kernel into guest memory and describing the machine to it. */
#pragma once
#include <stdint.h>
#include <gio/gio.h>
#include "kvm/memory.h"

#define VIV_BOOT_ERROR (viv_boot_error_quark ())
GQuark viv_boot_error_quark (void);

typedef enum {
  VIV_BOOT_ERROR_NOT_A_KERNEL,   /* neither a bzImage nor an ELF with a PVH note */
  VIV_BOOT_ERROR_TRUNCATED,      /* headers or segments point past the file's end */
  VIV_BOOT_ERROR_WRONG_MACHINE,  /* an ELF for another architecture */
  VIV_BOOT_ERROR_TOO_BIG,        /* does not fit in guest RAM / the allowed range */
  VIV_BOOT_ERROR_UNSUPPORTED,    /* e.g. a bzImage with a too old boot protocol */
} VivBootError;

typedef enum {
  VIV_ENTRY_PVH32,     /* 32-bit protected mode, paging off, EBX = hvm_start_info */
  VIV_ENTRY_LINUX64,   /* 64-bit long mode, identity map, RSI = boot_params */
} VivEntryKind;

/* The vCPU state a loader asks for on the boot CPU. */
typedef struct VivBootEntry {
  VivEntryKind kind;
  uint64_t     rip;
  uint64_t     boot_info;   /* EBX (PVH) or RSI (Linux) */
  uint64_t     page_table;  /* CR3 for VIV_ENTRY_LINUX64 */
  uint64_t     gdt_base;    /* where the loader wrote a flat GDT (VIV_BOOT_GDT_ADDR) */
} VivBootEntry;

/* A virtio-mmio device the kernel must be told about. */
typedef struct VivMmioDeviceInfo {
  uint64_t base;
  uint64_t size;
  unsigned gsi;
} VivMmioDeviceInfo;

typedef struct VivBootConfig {
  const char *kernel_path;
  const char *initrd_path;   /* may be NULL */
  const char *cmdline;       /* may be NULL; the loader appends virtio_mmio.device= entries */
  unsigned    n_cpus;
  const VivMmioDeviceInfo *mmio_devices;
  unsigned    n_mmio_devices;
} VivBootConfig;

/* Loads the kernel (bzImage or PVH ELF, chosen by its contents), the initrd
 * and the command line, and writes e820/memory map, MP table and ACPI
 * tables.  On error nothing the caller must undo is left behind (guest RAM
 * may have been written). */
gboolean viv_boot_load (const VivBootConfig *cfg, const VivGuestMemory *mem,
                        VivBootEntry *entry, GError **error);
