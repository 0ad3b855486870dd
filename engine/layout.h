/* Guest physical address map shared by the VMM, its boot code and the
 * probe guest.  Kept in one place so that the tables the engine writes
 * (e820, MP, ACPI) and the devices it registers cannot disagree. */
#pragma once
#include <stdint.h>

#define VIV_KiB UINT64_C (1024)
#define VIV_MiB (1024UL * VIV_KiB)
#define VIV_GiB (1024UL * VIV_MiB)

/* Low RAM ends here at most; the rest of guest RAM is relocated above 4 GiB. */
#define VIV_MMIO_HOLE_START   0xC0000000UL
#define VIV_MMIO_HOLE_END     0x100000000UL

/* Fixed platform addresses inside the hole. */
#define VIV_VIRTIO_MMIO_BASE  0xD0000000UL  /* 0x200 bytes per device, 4 KiB apart */
#define VIV_VIRTIO_MMIO_STRIDE 0x1000UL
/* Generic Event Device register (engine/devices/ged.c): 4 bytes, in a
 * page of its own below the IOAPIC, far above the virtio-mmio slots. */
#define VIV_GED_ADDR          0xFEB00000UL
#define VIV_GED_SIZE          4UL
/* Event register bits; the DSDT's _EVT tests them. */
#define VIV_GED_EVENT_POWER_BUTTON 0x1u
#define VIV_IOAPIC_ADDR       0xFEC00000UL
#define VIV_LAPIC_ADDR        0xFEE00000UL
#define VIV_IDENTITY_MAP_ADDR 0xFFFBC000UL  /* KVM_SET_IDENTITY_MAP_ADDR: one page */
#define VIV_TSS_ADDR          0xFFFBD000UL  /* KVM_SET_TSS_ADDR: three pages */

/* Legacy low-memory areas (below 1 MiB). */
#define VIV_EBDA_START        0x9FC00UL     /* MP floating pointer and table */
#define VIV_BIOS_AREA_START   0xE0000UL     /* ACPI RSDP is searched for here */
#define VIV_BIOS_AREA_END     0x100000UL
#define VIV_HIGH_MEMORY_START 0x100000UL    /* kernels load at 1 MiB */

/* Where the loaders put boot data (all below the EBDA). */
#define VIV_BOOT_GDT_ADDR     0x500UL
#define VIV_START_INFO_ADDR   0x6000UL      /* PVH hvm_start_info + memmap + modlist */
#define VIV_ZERO_PAGE_ADDR    0x7000UL      /* Linux boot_params */
#define VIV_PAGE_TABLES_ADDR  0x9000UL      /* PML4, PDPT, 4 PDs for the bzImage 64-bit entry */
#define VIV_CMDLINE_ADDR      0x20000UL
#define VIV_CMDLINE_MAX       0x10000UL     /* 64 KiB, with the final NUL */

/* Legacy ISA interrupts (GSI numbers through the IOAPIC). */
#define VIV_IRQ_KEYBOARD      1
#define VIV_IRQ_COM1          4
#define VIV_IRQ_RTC           8
/* The GED's interrupt: ISA IRQ 9, edge-triggered active-high as the ISA
 * bus defaults in the MP table and MADT (no override needed), and so
 * declared in the GED's _CRS; the device pulses it. */
#define VIV_IRQ_GED           9
#define VIV_IRQ_VIRTIO_FIRST  16             /* one GSI per virtio-mmio device */

#define VIV_PORT_COM1         0x3F8
#define VIV_PORT_DEBUG_EXIT   0xF4
#define VIV_PORT_POST         0x80
#define VIV_PORT_I8042_DATA   0x60
#define VIV_PORT_I8042_CMD    0x64
#define VIV_PORT_RTC          0x70
/* Hardware-reduced ACPI sleep registers (FADT SLEEP_CONTROL_REG and
 * SLEEP_STATUS_REG, one byte each): SLP_EN with SLP_TYP == VIV_ACPI_S5_TYPE
 * powers the machine off; the DSDT's \_S5 package names that type. */
#define VIV_PORT_ACPI_SLEEP_CONTROL 0x600
#define VIV_PORT_ACPI_SLEEP_STATUS  0x601
#define VIV_ACPI_S5_TYPE      5

#define VIV_MAX_VCPUS         32
#define VIV_MAX_MEMORY        (64 * VIV_GiB)
#define VIV_MIN_MEMORY        (16 * VIV_MiB)
