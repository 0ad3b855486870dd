/* Mapping RAM above 4 GiB.  tables.S maps the first 4 GiB statically; here
 * PDPT entries 4+ get page directories of 2 MiB pages covering only the
 * RAM that exists.  Not 1 GiB pages: on the nested KVM this is tested on,
 * CPUID reports them (0x80000001 EDX bit 26) but a 1 GiB PDPTE faults with
 * a reserved-bit #PF.  Page tables are ordinary user-writable memory and
 * the entries were not present before, so this runs at CPL3 and needs no
 * TLB flush. */
#include "probe.h"

#define PTE_TABLE (0x01 | 0x02 | 0x04)  /* present, writable, user */
#define PTE_LARGE 0x80

/* One directory per GiB: enough for a 64 GiB guest (RAM up to 65 GiB). */
#define PD_POOL_PAGES 64
static uint64_t pd_pool[PD_POOL_PAGES][512] __attribute__((aligned (4096), section (".noinit")));

uint64_t paging_mapped_end = 4 * GiB;

static bool
overlaps_usable (uint64_t base, uint64_t size)
{
  for (unsigned i = 0; i < probe_boot.n_ranges; i++)
    {
      const ProbeRange *r = &probe_boot.ranges[i];
      if (r->type == E820_USABLE && r->base < base + size && base < r->base + r->size)
        return true;
    }
  return false;
}

void
paging_map_high_memory (void)
{
  unsigned pool_used = 0;
  for (unsigned g = 4; g < 4 + PD_POOL_PAGES; g++)
    {
      uint64_t base = (uint64_t) g * GiB;
      if (!overlaps_usable (base, GiB))
        continue;
      uint64_t *pd = pd_pool[pool_used++];
      for (unsigned i = 0; i < 512; i++)
        {
          uint64_t page = base + (uint64_t) i * 2 * MiB;
          pd[i] = overlaps_usable (page, 2 * MiB) ? (page | PTE_TABLE | PTE_LARGE) : 0;
        }
      pdpt[g] = (uint64_t) (uintptr_t) pd | PTE_TABLE;
      paging_mapped_end = base + GiB;
    }
}
