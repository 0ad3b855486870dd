/* Constants shared by the probe guest's assembly and C code. */
#pragma once

#define PROBE_LOAD_ADDR     0x100000      /* the ELF is linked at 1 MiB */
#define PROBE_MAX_CPUS      32

/* GDT selectors (tables.S). */
#define SEL_CODE32          0x08
#define SEL_DATA            0x10
#define SEL_CODE64          0x18
#define SEL_USER_DATA       0x23          /* GDT entry 4, RPL 3 */
#define SEL_USER_CODE       0x2b          /* GDT entry 5, RPL 3 */
#define SEL_TSS0            0x30          /* one 16-byte TSS descriptor per CPU */

/* Per-CPU TSSs share one I/O permission bitmap placed after them. */
#define TSS_STRIDE          128
#define TSS_RSP0            4
#define TSS_IOMAP_BASE      102
#define IOMAP_BYTES         8192

#define KSTACK_SHIFT        12            /* 4 KiB CPL0 stack per CPU */
#define USTACK_SHIFT        15            /* 32 KiB CPL3 stack per CPU */

/* Interrupt vectors. */
#define VEC_TIMER           0x40
#define VEC_COM1            0x41
/* virtio-mmio devices: VEC_VIRTIO_FIRST + device index (see virtio.h). */
#define VEC_VIRTIO_FIRST    0x50
#define VIRTIO_IRQ_SLOTS    16
#define VIRTIO_MMIO_ISR     0x60          /* InterruptStatus */
#define VIRTIO_MMIO_ACK     0x64          /* InterruptACK */
/* CPL3 -> CPL0 calls use ICEBP (int1), which raises #DB through the IDT
 * with no DPL check: on the nested KVM this is tested on, "int $n" at CPL3
 * raises #UD for every n.  The probe uses no debug traps otherwise. */
#define VEC_SYSCALL         1
#define VEC_SPURIOUS        0xff

/* System calls (int1): RAX = number. */
#define SYS_WAIT            1             /* RDI = counter, RSI = last seen value */
#define SYS_HALT            2             /* halt this CPU for good */

/* Exit codes the probe uses for itself (probe.exit=N sets the normal one). */
#define PROBE_EXIT_FAULT    0x70          /* a CPU exception */
#define PROBE_EXIT_FAILED   0x71          /* the mode's own check failed */

#define START_INFO_MAGIC    0x336ec578
#define PORT_COM1           0x3f8
#define PORT_DEBUG_EXIT     0xf4
#define LAPIC_BASE          0xfee00000
#define LAPIC_EOI           0xb0
