/* The probe guest's C side.  All of it runs at CPL3; CPL0 is entry.S and
 * interrupts.S only. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "probe-defs.h"

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))
#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

/* --- CPU and I/O helpers (all allowed at CPL3 here) --- */
static inline void outb (uint16_t port, uint8_t v) { __asm__ volatile ("outb %0, %1" :: "a" (v), "Nd" (port)); }
static inline void outl (uint16_t port, uint32_t v) { __asm__ volatile ("outl %0, %1" :: "a" (v), "Nd" (port)); }
static inline uint8_t inb (uint16_t port) { uint8_t v; __asm__ volatile ("inb %1, %0" : "=a" (v) : "Nd" (port)); return v; }
static inline void cpu_relax (void) { __asm__ volatile ("pause" ::: "memory"); }
static inline void barrier (void) { __asm__ volatile ("" ::: "memory"); }
static inline uint64_t rdtsc (void)
{
  uint32_t lo, hi;
  __asm__ volatile ("rdtsc" : "=a" (lo), "=d" (hi));
  return ((uint64_t) hi << 32) | lo;
}
static inline void cpuid (uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
  __asm__ volatile ("cpuid" : "=a" (*a), "=b" (*b), "=c" (*c), "=d" (*d) : "a" (leaf), "c" (0));
}
static inline uint32_t mmio_read32 (uint64_t addr) { return *(volatile uint32_t *) (uintptr_t) addr; }
static inline void mmio_write32 (uint64_t addr, uint32_t v) { *(volatile uint32_t *) (uintptr_t) addr = v; }

/* Whether [addr, addr + len) is a non-null range in the identity-mapped
 * first 4 GiB: the test for every address a loader or table hands us. */
static inline bool in_low_4g (uint64_t addr, uint64_t len)
{
  return addr && len <= 4 * GiB && addr <= 4 * GiB - len;
}

/* --- system calls into interrupts.S (see VEC_SYSCALL) --- */
static inline void sys_wait (volatile uint64_t *counter, uint64_t seen)
{
  __asm__ volatile ("int1" :: "a" ((uint64_t) SYS_WAIT), "D" (counter), "S" (seen) : "memory");
}
__attribute__((noreturn)) static inline void sys_halt (void)
{
  for (;;)
    __asm__ volatile ("int1" :: "a" ((uint64_t) SYS_HALT) : "memory");
}

/* Counted by the CPL0 interrupt entry (per vector, and all together). */
extern volatile uint64_t irq_counts[256];
extern volatile uint64_t irq_total;
/* Set at CPL3 for the CPL0 entry: the virtio-mmio register page behind
 * vector VEC_VIRTIO_FIRST + i, and the ISR bits the entry acknowledged. */
extern volatile uint64_t virtio_irq_mmio[VIRTIO_IRQ_SLOTS];
extern volatile uint32_t virtio_irq_isr[VIRTIO_IRQ_SLOTS];

/* --- libc.c --- */
void *memset (void *dst, int c, size_t n);
void *memcpy (void *dst, const void *src, size_t n);
int memcmp (const void *a, const void *b, size_t n);
size_t strlen (const char *s);
size_t strnlen (const char *s, size_t max);
int strcmp (const char *a, const char *b);

/* --- serial.c: COM1, polled output, bytes in --- */
void serial_putc (char c);
void probe_printf (const char *fmt, ...) __attribute__((format (printf, 1, 2)));
void probe_vprintf (const char *fmt, va_list ap);
bool serial_rx_ready (void);
uint8_t serial_rx (void);

/* --- cmdline.c --- */
void cmdline_init (const char *cmdline);
const char *cmdline_get (void);
/* The value of "key=value" at a word start, copied NUL-terminated. */
bool cmdline_value (const char *key, char *buf, size_t size);
uint64_t cmdline_u64 (const char *key, uint64_t fallback);

/* --- bootinfo.c: the hvm_start_info the loader gave us --- */
#define PROBE_MAX_RANGES 128
#define E820_USABLE 1
typedef struct {
  uint64_t base, size;
  uint32_t type;
} ProbeRange;

typedef struct {
  bool     valid;              /* magic matched */
  uint32_t version;
  uint64_t rsdp;
  uint64_t start_info_addr;
  uint64_t cmdline_addr, cmdline_len;
  uint64_t memmap_addr, memmap_bytes;
  unsigned n_ranges;
  ProbeRange ranges[PROBE_MAX_RANGES];
  uint64_t usable_bytes;
  uint64_t highest;            /* end of the highest usable range */
} ProbeBoot;

extern ProbeBoot probe_boot;
void boot_info_read (uint64_t start_info_addr);
bool boot_is_usable (uint64_t base, uint64_t size);

/* --- paging.c --- */
/* Maps usable RAM above 4 GiB (the static tables cover the first 4 GiB). */
void paging_map_high_memory (void);
extern uint64_t paging_mapped_end;         /* RAM below this is mapped */

/* --- platform.c: CPUs, IOAPIC and the COM1 GSI from ACPI or MP tables --- */
#define PROBE_MAX_TABLE_CPUS 256
typedef struct {
  const char *source;          /* "acpi", "mptable", "none" */
  unsigned n_cpus;             /* enabled CPUs listed */
  uint32_t apic_ids[PROBE_MAX_TABLE_CPUS];
  uint64_t ioapic_addr;
  uint32_t com1_gsi;
  bool     com1_active_low;
} ProbePlatform;

extern ProbePlatform probe_platform;
void platform_discover (void);

/* --- idt.c --- */
void idt_init (void);

/* --- apic.c: local APIC and IOAPIC from CPL3 --- */
uint32_t lapic_read (uint32_t reg);
void lapic_write (uint32_t reg, uint32_t value);
uint32_t lapic_id (void);
void lapic_enable (void);
bool ioapic_route (uint32_t gsi, uint8_t vector, bool active_low, bool level, uint32_t dest_apic);
/* Counts LAPIC timer interrupts for a short while. */
uint64_t lapic_timer_count_ticks (unsigned want);
/* A periodic LAPIC timer (VEC_TIMER), e.g. to bound interrupt waits. */
void lapic_timer_periodic (uint32_t microseconds);
/* TSC ticks per second, measured once against the LAPIC timer. */
uint64_t tsc_hz (void);
uint64_t tsc_deadline_ms (uint64_t ms);
static inline bool tsc_passed (uint64_t deadline) { return rdtsc () >= deadline; }

/* --- smp.c --- */
typedef struct {
  unsigned expected;           /* CPUs in the tables we can run (<= PROBE_MAX_CPUS) */
  unsigned online;             /* including the BSP */
} ProbeSmp;
ProbeSmp smp_start_all (void);

/* --- memcheck.c --- */
typedef struct {
  uint64_t usable_bytes, checked_bytes, errors, checksum;
} ProbeMemCheck;
#define PROBE_MEM_STRIDE_DEFAULT (1024 * 1024)
ProbeMemCheck mem_check (uint64_t stride);

/* --- serial_irq.c --- */
void serial_irq_enable (void);
/* Waits for the next COM1 interrupt, then returns the bytes it brought
 * (up to size); 0 only if the interrupt came with no data. */
size_t serial_irq_read (uint8_t *buf, size_t size);

/* --- main.c --- */
void probe_print_info (void);
void probe_print_smp (void);
void probe_print_mem (void);
__attribute__((noreturn)) void probe_exit (uint32_t code);
extern uint32_t probe_exit_code;

/* --- demo.c --- */
__attribute__((noreturn)) void demo_run (void);

/* --- symbols from the linker script and assembly --- */
extern char __image_start[], __image_end[];
extern uint64_t pdpt[512];
extern char ap_trampoline[], ap_trampoline_end[];
extern volatile uint32_t ap_boot_index;
