/* The local APIC (xAPIC MMIO at LAPIC_BASE) and the IOAPIC, programmed from
 * CPL3 through their user-accessible, uncached pages. */
#include "probe.h"

#define LAPIC_ID        0x020
#define LAPIC_TPR       0x080
#define LAPIC_SVR       0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0
#define LVT_MASKED      (1u << 16)
#define LVT_PERIODIC    (1u << 17)

#define IOAPIC_REGSEL   0x00
#define IOAPIC_WINDOW   0x10
#define IOAPIC_VERSION  0x01
#define IOAPIC_REDIR(n) (0x10 + 2 * (n))

uint32_t
lapic_read (uint32_t reg)
{
  return mmio_read32 (LAPIC_BASE + reg);
}

void
lapic_write (uint32_t reg, uint32_t value)
{
  mmio_write32 (LAPIC_BASE + reg, value);
}

uint32_t
lapic_id (void)
{
  return lapic_read (LAPIC_ID) >> 24;
}

/* Software-enable the LAPIC (it accepts only INIT/SIPI/NMI before) and
 * keep the 8259's ExtINT line out. */
void
lapic_enable (void)
{
  lapic_write (LAPIC_TPR, 0);
  lapic_write (LAPIC_LVT_LINT0, LVT_MASKED);
  lapic_write (LAPIC_SVR, 0x100 | VEC_SPURIOUS);
}

static uint32_t
ioapic_read (uint32_t reg)
{
  mmio_write32 (probe_platform.ioapic_addr + IOAPIC_REGSEL, reg);
  return mmio_read32 (probe_platform.ioapic_addr + IOAPIC_WINDOW);
}

static void
ioapic_write (uint32_t reg, uint32_t value)
{
  mmio_write32 (probe_platform.ioapic_addr + IOAPIC_REGSEL, reg);
  mmio_write32 (probe_platform.ioapic_addr + IOAPIC_WINDOW, value);
}

/* Routes a GSI to `vector` on one CPU.  COM1 is routed edge-triggered:
 * its CPL0 handler does not read the UART, so a level-triggered line would
 * fire again at once.  Virtio lines are level-triggered: their handler
 * acknowledges the device before the EOI.  Only the BSP touches the
 * IOAPIC, so the select/window pair needs no lock. */
bool
ioapic_route (uint32_t gsi, uint8_t vector, bool active_low, bool level, uint32_t dest_apic)
{
  uint32_t max_entry = (ioapic_read (IOAPIC_VERSION) >> 16) & 0xff;
  if (gsi > max_entry)
    return false;
  ioapic_write (IOAPIC_REDIR (gsi) + 1, dest_apic << 24);
  ioapic_write (IOAPIC_REDIR (gsi), vector | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0));
  return true;
}

/* A periodic LAPIC timer (1 ms with KVM's 1 GHz APIC bus) until `want`
 * ticks have come or about a second of TSC time has passed. */
uint64_t
lapic_timer_count_ticks (unsigned want)
{
  uint64_t start = irq_counts[VEC_TIMER];
  lapic_write (LAPIC_TIMER_DIV, 0xb);           /* divide by 1 */
  lapic_write (LAPIC_LVT_TIMER, VEC_TIMER | LVT_PERIODIC);
  lapic_write (LAPIC_TIMER_INIT, 1000000);
  uint64_t deadline = rdtsc () + 4000000000ULL;
  while (irq_counts[VEC_TIMER] - start < want && rdtsc () < deadline)
    cpu_relax ();
  lapic_write (LAPIC_LVT_TIMER, LVT_MASKED);
  lapic_write (LAPIC_TIMER_INIT, 0);
  return irq_counts[VEC_TIMER] - start;
}

/* TSC ticks per second: a one-shot LAPIC timer of 10 ms (KVM's APIC timer
 * counts at 1 GHz) measured with rdtsc, once. */
uint64_t
tsc_hz (void)
{
  static uint64_t hz;
  if (hz)
    return hz;
  lapic_enable ();
  uint64_t seen = irq_counts[VEC_TIMER];
  lapic_write (LAPIC_TIMER_DIV, 0xb);
  lapic_write (LAPIC_LVT_TIMER, VEC_TIMER);
  uint64_t start = rdtsc ();
  lapic_write (LAPIC_TIMER_INIT, 10000000);
  uint64_t limit = start + 10000000000ULL;     /* no timer at all: give up */
  while (irq_counts[VEC_TIMER] == seen && rdtsc () < limit)
    cpu_relax ();
  hz = (rdtsc () - start) * 100;
  lapic_write (LAPIC_LVT_TIMER, LVT_MASKED);
  return hz;
}

uint64_t
tsc_deadline_ms (uint64_t ms)
{
  return rdtsc () + tsc_hz () / 1000 * ms;
}

/* A periodic LAPIC timer that keeps interrupt-mode waits bounded. */
void
lapic_timer_periodic (uint32_t microseconds)
{
  lapic_enable ();
  lapic_write (LAPIC_TIMER_DIV, 0xb);
  lapic_write (LAPIC_LVT_TIMER, VEC_TIMER | LVT_PERIODIC);
  lapic_write (LAPIC_TIMER_INIT, microseconds * 1000);
}
