/* Memory for virtqueues and device buffers: a bump allocator over the
 * usable RAM right after the probe image (identity-mapped, cached, below
 * the 3 GiB MMIO hole).  Nothing is ever freed: each mode allocates what
 * it needs once. */
#include "virtio.h"

static uint64_t next, end;

static void
dma_init (void)
{
  uint64_t start = ((uint64_t) (uintptr_t) __image_end + 4095) & ~4095ULL;
  for (unsigned i = 0; i < probe_boot.n_ranges; i++)
    {
      const ProbeRange *r = &probe_boot.ranges[i];
      if (r->type != E820_USABLE || start < r->base || start >= r->base + r->size)
        continue;
      next = start;
      end = r->base + r->size;
      if (end > 3 * GiB)
        end = 3 * GiB;
    }
  if (!next)
    next = end = start;           /* no map: every allocation fails loudly */
}

uint64_t
dma_available (void)
{
  if (!next)
    dma_init ();
  return end - next;
}

void *
dma_alloc (uint64_t size, uint64_t align)
{
  if (!next)
    dma_init ();
  uint64_t at = (next + align - 1) & ~(align - 1);
  if (at > end || size > end - at)
    {
      probe_printf ("PROBE error=out-of-memory want=%lu available=%lu\r\n", size, dma_available ());
      probe_exit (PROBE_EXIT_FAILED);
    }
  next = at + size;
  void *p = (void *) (uintptr_t) at;
  memset (p, 0, size);
  return p;
}
