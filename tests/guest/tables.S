/* Static CPU tables, so that no CPL0 loop builds them: page tables for the
 * first 4 GiB (2 MiB pages, user-accessible because the workloads run at
 * CPL3; 3-4 GiB uncached for the LAPIC, IOAPIC and virtio-mmio), the GDT,
 * the per-CPU TSSs with their shared I/O permission bitmap. */
#include "probe-defs.h"

#define PTE_PRESENT   0x01
#define PTE_WRITE     0x02
#define PTE_USER      0x04
#define PTE_PWT       0x08
#define PTE_PCD       0x10
#define PTE_LARGE     0x80
#define PTE_TABLE     (PTE_PRESENT | PTE_WRITE | PTE_USER)

	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4, pdpt
pml4:
	.quad pdpt + PTE_TABLE
	.fill 511, 8, 0
pdpt:                                   /* entries 4+ are filled by paging.c */
	.quad pd_low + PTE_TABLE
	.quad pd_low + 0x1000 + PTE_TABLE
	.quad pd_low + 0x2000 + PTE_TABLE
	.quad pd_low + 0x3000 + PTE_TABLE
	.fill 508, 8, 0
pd_low:
	.set address, 0
	.rept 2048
	.if address >= 0xc0000000
	.quad address + PTE_TABLE + PTE_LARGE + PTE_PWT + PTE_PCD
	.else
	.quad address + PTE_TABLE + PTE_LARGE
	.endif
	.set address, address + 0x200000
	.endr

	.data
	.balign 16
	.globl gdt, gdt_end, gdt_tss
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff        /* SEL_CODE32 */
	.quad 0x00cf92000000ffff        /* SEL_DATA */
	.quad 0x00af9a000000ffff        /* SEL_CODE64 */
	.quad 0x00cff2000000ffff        /* SEL_USER_DATA */
	.quad 0x00affa000000ffff        /* SEL_USER_CODE */
gdt_tss:                                /* filled by entry.S, one per CPU */
	.fill PROBE_MAX_CPUS * 2, 8, 0
gdt_end:
	.globl gdt_limit
	.set gdt_limit, gdt_end - gdt - 1

	.balign 8
	.globl gdt_ptr, idt_ptr
gdt_ptr:
	.word gdt_limit
	.quad gdt
	.balign 8
idt_ptr:
	.word 256 * 16 - 1
	.quad idt

	.balign 8
	.globl boot_start_info
boot_start_info:                        /* EBX at the PVH entry; not in .bss */
	.quad 0

	.balign TSS_STRIDE
	.globl tss_area, tss_iomap
tss_area:
	.fill PROBE_MAX_CPUS * TSS_STRIDE, 1, 0
tss_iomap:                              /* every port allowed at CPL3 */
	.fill IOMAP_BYTES, 1, 0
	.byte 0xff

	.section .noinit, "aw", @nobits
	.balign 4096
	.globl idt, kstacks, ustacks
idt:
	.space 256 * 16
kstacks:
	.space PROBE_MAX_CPUS << KSTACK_SHIFT
ustacks:
	.space PROBE_MAX_CPUS << USTACK_SHIFT

	.section .note.GNU-stack, "", @progbits
