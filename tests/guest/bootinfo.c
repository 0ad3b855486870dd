/* Reading struct hvm_start_info (the PVH boot ABI).  The loader's data is
 * bounded before use: addresses must lie in the identity-mapped first
 * 4 GiB, the command line is copied with a length limit, the memory map is
 * capped at PROBE_MAX_RANGES entries. */
#include "probe.h"

#define CMDLINE_MAX 65536

typedef struct __attribute__((packed)) {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;       /* version >= 1 */
  uint32_t memmap_entries;
  uint32_t reserved;
} HvmStartInfo;

typedef struct __attribute__((packed)) {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
} HvmMemmapEntry;

ProbeBoot probe_boot;
static char cmdline_copy[CMDLINE_MAX];

void
boot_info_read (uint64_t addr)
{
  ProbeBoot *b = &probe_boot;
  b->start_info_addr = addr;
  if (!in_low_4g (addr, sizeof (HvmStartInfo)))
    return;
  const HvmStartInfo *si = (const void *) (uintptr_t) addr;
  if (si->magic != START_INFO_MAGIC)
    return;
  b->valid = true;
  b->version = si->version;
  b->rsdp = si->rsdp_paddr;

  if (in_low_4g (si->cmdline_paddr, 1))
    {
      const char *s = (const char *) (uintptr_t) si->cmdline_paddr;
      size_t limit = CMDLINE_MAX - 1;
      if (4 * GiB - si->cmdline_paddr < limit)
        limit = 4 * GiB - si->cmdline_paddr;
      size_t n = strnlen (s, limit);
      memcpy (cmdline_copy, s, n);
      cmdline_copy[n] = 0;
      b->cmdline_addr = si->cmdline_paddr;
      b->cmdline_len = n + 1;
    }
  cmdline_init (cmdline_copy);

  if (b->version < 1)
    return;
  uint64_t n = si->memmap_entries;
  if (n > PROBE_MAX_RANGES)
    n = PROBE_MAX_RANGES;
  if (!n || !in_low_4g (si->memmap_paddr, n * sizeof (HvmMemmapEntry)))
    return;
  const HvmMemmapEntry *e = (const void *) (uintptr_t) si->memmap_paddr;
  b->memmap_addr = si->memmap_paddr;
  b->memmap_bytes = n * sizeof (HvmMemmapEntry);
  for (unsigned i = 0; i < n; i++)
    {
      ProbeRange *r = &b->ranges[b->n_ranges];
      r->base = e[i].addr;
      r->size = e[i].size;
      r->type = e[i].type;
      if (r->size == 0 || r->base + r->size < r->base)
        continue;                               /* empty or wrapping */
      b->n_ranges++;
      if (r->type != E820_USABLE)
        continue;
      b->usable_bytes += r->size;
      if (r->base + r->size > b->highest)
        b->highest = r->base + r->size;
    }
}

/* Whether [base, base + size) lies inside one usable range. */
bool
boot_is_usable (uint64_t base, uint64_t size)
{
  for (unsigned i = 0; i < probe_boot.n_ranges; i++)
    {
      const ProbeRange *r = &probe_boot.ranges[i];
      if (r->type == E820_USABLE && base >= r->base && base + size <= r->base + r->size)
        return true;
    }
  return false;
}
