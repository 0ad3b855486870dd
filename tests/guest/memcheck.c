/* Checking guest RAM: one 8-byte word every `stride` bytes (1 MiB by
 * default) of every usable range, above 4 GiB too, written in one pass and
 * read back in a second so that two addresses backed by the same host page
 * show up as errors; plus the first 16 MiB above the image written and read
 * in full.  Each word holds a value derived from its address.  The image
 * itself and the first MiB (boot data) are left alone. */
#include "probe.h"

#define FULL_REGION (16 * MiB)

static uint64_t
pattern (uint64_t addr)
{
  return (addr + 0x5bd1e995) * 0x9e3779b97f4a7c15ULL;
}

/* The part of range i the check may touch: [*start, *end). */
static bool
checked_part (unsigned i, uint64_t *start, uint64_t *end)
{
  const ProbeRange *r = &probe_boot.ranges[i];
  if (r->type != E820_USABLE)
    return false;
  uint64_t lo = r->base, hi = r->base + r->size;
  uint64_t floor = ((uint64_t) (uintptr_t) __image_end + 2 * MiB - 1) & ~(2 * MiB - 1);
  if (lo < floor)
    lo = floor;
  if (hi > paging_mapped_end)
    hi = paging_mapped_end;
  lo = (lo + 7) & ~7ULL;
  if (lo >= hi)
    return false;
  *start = lo;
  *end = hi;
  return true;
}

typedef struct {
  uint64_t errors, checksum;
} Tally;

static void
verify (uint64_t addr, Tally *t)
{
  uint64_t v = *(volatile uint64_t *) (uintptr_t) addr;
  if (v != pattern (addr))
    {
      if (t->errors < 8)
        probe_printf ("PROBE mem error addr=0x%lx read=0x%lx\r\n", addr, v);
      t->errors++;
    }
  t->checksum = (t->checksum << 1 | t->checksum >> 63) ^ v;
}

ProbeMemCheck
mem_check (uint64_t stride)
{
  ProbeMemCheck m = { .usable_bytes = probe_boot.usable_bytes };
  Tally t = { 0, 0 };
  uint64_t lo, hi;

  for (unsigned i = 0; i < probe_boot.n_ranges; i++)
    if (checked_part (i, &lo, &hi))
      {
        m.checked_bytes += hi - lo;
        for (uint64_t a = lo; a + 8 <= hi; a += stride)
          *(volatile uint64_t *) (uintptr_t) a = pattern (a);
      }
  for (unsigned i = 0; i < probe_boot.n_ranges; i++)
    if (checked_part (i, &lo, &hi))
      for (uint64_t a = lo; a + 8 <= hi; a += stride)
        verify (a, &t);

  /* The full region: the start of the first range big enough. */
  for (unsigned i = 0; i < probe_boot.n_ranges; i++)
    if (checked_part (i, &lo, &hi) && hi - lo >= FULL_REGION)
      {
        for (uint64_t a = lo; a < lo + FULL_REGION; a += 8)
          *(volatile uint64_t *) (uintptr_t) a = pattern (a);
        for (uint64_t a = lo; a < lo + FULL_REGION; a += 8)
          verify (a, &t);
        break;
      }
  m.errors = t.errors;
  m.checksum = t.checksum;
  return m;
}
