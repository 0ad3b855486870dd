/* Starting the application processors listed in the MADT / MP table: one
 * at a time, INIT then SIPI (a second SIPI if the AP is slow), through the
 * LAPIC ICR.  Each AP runs trampoline.S -> entry.S -> ap_main() at CPL3,
 * prints its line, marks itself online and halts.  Starting them one by
 * one means no two CPUs print at once and ap_boot_index needs no lock. */
#include "probe.h"

#define LAPIC_ICR_LOW   0x300
#define LAPIC_ICR_HIGH  0x310
#define ICR_PENDING     (1u << 12)
#define ICR_INIT        0x4500          /* INIT, level assert */
#define ICR_STARTUP     0x4600          /* start-up, vector = page number */

/* Read by entry.S at CPL0 on the AP being started. */
volatile uint32_t ap_boot_index;
static volatile uint32_t cpu_online[PROBE_MAX_CPUS];

__attribute__((noreturn)) void ap_main (uint32_t index);

void
ap_main (uint32_t index)
{
  probe_printf ("PROBE ap apic=%u up\r\n", lapic_id ());
  if (index < PROBE_MAX_CPUS)
    cpu_online[index] = 1;
  sys_halt ();
}

static bool
overlaps (uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
  return a < b + b_len && b < a + a_len;
}

/* The highest usable page below the EBDA that holds none of the boot data
 * we still read; 0 if there is none. */
static uint64_t
choose_trampoline_page (void)
{
  const ProbeBoot *b = &probe_boot;
  for (uint64_t page = 0x9e000; page >= 0x1000; page -= 0x1000)
    {
      if (!boot_is_usable (page, 0x1000)
          || overlaps (page, 0x1000, b->start_info_addr, 0x1000)
          || overlaps (page, 0x1000, b->cmdline_addr, b->cmdline_len)
          || overlaps (page, 0x1000, b->memmap_addr, b->memmap_bytes))
        continue;
      return page;
    }
  return 0;
}

static void
send_ipi (uint32_t apic_id, uint32_t command)
{
  lapic_write (LAPIC_ICR_HIGH, apic_id << 24);
  lapic_write (LAPIC_ICR_LOW, command);
  while (lapic_read (LAPIC_ICR_LOW) & ICR_PENDING)
    cpu_relax ();
}

static bool
wait_online (uint32_t index, uint64_t tsc_cycles)
{
  uint64_t deadline = rdtsc () + tsc_cycles;
  while (!cpu_online[index])
    {
      if (rdtsc () > deadline)
        return false;
      cpu_relax ();
    }
  return true;
}

ProbeSmp
smp_start_all (void)
{
  const ProbePlatform *pf = &probe_platform;
  ProbeSmp r = { .expected = 1, .online = 1 };
  unsigned listed = pf->n_cpus < PROBE_MAX_TABLE_CPUS ? pf->n_cpus : PROBE_MAX_TABLE_CPUS;
  if (listed > 1)
    r.expected = listed < PROBE_MAX_CPUS ? listed : PROBE_MAX_CPUS;
  if (r.expected == 1)
    return r;

  uint64_t page = choose_trampoline_page ();
  if (!page)
    {
      probe_printf ("PROBE smp error=no-trampoline-page\r\n");
      return r;
    }
  memcpy ((void *) (uintptr_t) page, ap_trampoline, (size_t) (ap_trampoline_end - ap_trampoline));
  lapic_enable ();

  uint32_t self = lapic_id ();
  unsigned index = 1;
  for (unsigned i = 0; i < listed && index < r.expected; i++)
    {
      uint32_t apic = pf->apic_ids[i];
      if (apic == self)
        continue;
      ap_boot_index = index;
      barrier ();
      send_ipi (apic, ICR_INIT);
      send_ipi (apic, ICR_STARTUP | (uint32_t) (page >> 12));
      if (!wait_online (index, 200000000ULL))
        {
          send_ipi (apic, ICR_STARTUP | (uint32_t) (page >> 12));
          if (!wait_online (index, 4000000000ULL))
            {
              /* A late AP would read the next index: stop here. */
              probe_printf ("PROBE smp error=ap-timeout apic=%u\r\n", apic);
              break;
            }
        }
      r.online++;
      index++;
    }
  return r;
}
