/* Machine description tables the boot loaders write into guest memory:
 * the e820 memory map, the Intel MP table and the ACPI tables.  Private to
 * engine/boot; tests use the builders directly to inspect each table. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "boot/boot.h"

/* ---- e820 / PVH memory map ------------------------------------------- */

/* Type values shared by e820 and the PVH memmap. */
#define VIV_E820_RAM        1
#define VIV_E820_RESERVED   2
#define VIV_E820_MAX_ENTRIES 5

typedef struct VivE820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
} VivE820Entry;

/* Fills out[] from the guest's memory slots; returns the entry count. */
unsigned viv_e820_build (const VivGuestMemory *mem,
                         VivE820Entry out[VIV_E820_MAX_ENTRIES]);

/* ---- Interrupt routing shared by the MP and ACPI tables -------------- */

/* KVM's in-kernel IOAPIC has 24 pins: GSIs 0-23. */
#define VIV_IOAPIC_PINS      24
#define VIV_IOAPIC_ID(n_cpus) ((uint8_t) (n_cpus))

/* ---- Intel MP specification 1.4 --------------------------------------- */

/* Builds the floating pointer followed by the configuration table, as they
 * are to appear at guest address gpa.  Returns the byte count, or 0 if buf
 * is too small. */
size_t   viv_mptable_build (uint8_t *buf, size_t buf_size, uint64_t gpa,
                            unsigned n_cpus,
                            const VivMmioDeviceInfo *devices, unsigned n_devices);
/* Writes it at VIV_EBDA_START. */
gboolean viv_mptable_write (const VivGuestMemory *mem, unsigned n_cpus,
                            const VivMmioDeviceInfo *devices, unsigned n_devices,
                            GError **error);

/* ---- ACPI ------------------------------------------------------------- */

#define VIV_ACPI_RSDP_SIZE 36

/* Each builder returns a complete table with its checksum set. */
GByteArray *viv_acpi_build_rsdp (uint64_t xsdt_addr);
GByteArray *viv_acpi_build_xsdt (const uint64_t *table_addrs, unsigned n_tables);
GByteArray *viv_acpi_build_fadt (uint64_t dsdt_addr);
GByteArray *viv_acpi_build_madt (unsigned n_cpus);
GByteArray *viv_acpi_build_dsdt (const VivMmioDeviceInfo *devices, unsigned n_devices);

/* Lays RSDP, XSDT, FADT, DSDT and MADT out in the BIOS area and writes
 * them; *rsdp_addr receives the RSDP's guest address. */
gboolean viv_acpi_write (const VivGuestMemory *mem, unsigned n_cpus,
                         const VivMmioDeviceInfo *devices, unsigned n_devices,
                         uint64_t *rsdp_addr, GError **error);

/* Byte that makes the sum of data[0..len) zero modulo 256. */
uint8_t viv_table_checksum (const uint8_t *data, size_t len);
