/* probe.mode=balloon: virtio-balloon (virtio 1.2 §5.5).  Queue 0 inflates,
 * queue 1 deflates (arrays of 32-bit PFNs of 4 KiB pages), queue 2 carries
 * statistics when STATS_VQ is offered.  The mode can exercise both
 * directions (probe.balloon_exercise=PAGES), then follows the device's
 * num_pages target, for probe.balloon_follow_ms after it first reaches it,
 * and answers every statistics request. */
#include "virtio.h"

#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define CFG_NUM_PAGES 0
#define CFG_ACTUAL    4
#define PAGE 4096
#define PFNS_PER_REQUEST 256
#define RESERVE_PAGES 2048                /* RAM the balloon leaves to the probe */

#define STAT_MEMFREE 4
#define STAT_MEMTOT  5
#define STAT_AVAIL   6

typedef struct __attribute__((packed)) {
  uint16_t tag;
  uint64_t value;
} BalloonStat;

static VirtioDev *dev;
static Virtq inflateq, deflateq, statsq;
static bool have_stats;
static uint32_t *pfns;                    /* one request's PFN array (DMA) */
static uint64_t *held;                    /* PFNs in the balloon, a stack */
static uint64_t *spare;                   /* pages deflated earlier, reused first */
static uint64_t n_held, n_spare, max_pages, stats_answered;
static BalloonStat *stats;

static uint64_t
take_page (void)
{
  if (n_spare)
    return spare[--n_spare];
  uint8_t *page = dma_alloc (PAGE, PAGE);
  return dma_addr (page) / PAGE;
}

static void
transfer (Virtq *q, uint32_t count)
{
  VirtqBuf b = { dma_addr (pfns), count * 4, false };
  virtq_add (q, &b, 1, pfns);
  virtq_kick (q);
  if (!virtq_wait (q, NULL, 10000))
    {
      probe_printf ("PROBE balloon error=timeout queue=%u status=0x%x\r\n", q->index, virtio_status (dev));
      probe_exit (PROBE_EXIT_FAILED);
    }
}

static void
inflate (uint64_t pages)
{
  while (pages && n_held < max_pages)
    {
      uint32_t n = 0;
      while (n < PFNS_PER_REQUEST && n < pages && n_held + n < max_pages)
        {
          uint64_t pfn = take_page ();
          /* Touch it: the host sees a page the guest really had. */
          *(volatile uint64_t *) (uintptr_t) (pfn * PAGE) = pfn;
          held[n_held + n] = pfn;
          pfns[n++] = (uint32_t) pfn;
        }
      transfer (&inflateq, n);
      n_held += n;
      pages -= n;
      virtio_config_write32 (dev, CFG_ACTUAL, (uint32_t) n_held);
    }
}

static void
deflate (uint64_t pages)
{
  while (pages && n_held)
    {
      uint32_t n = 0;
      while (n < PFNS_PER_REQUEST && n < pages && n < n_held)
        {
          pfns[n] = (uint32_t) held[n_held - 1 - n];
          n++;
        }
      /* With or without MUST_TELL_HOST, tell first and use the pages after. */
      transfer (&deflateq, n);
      for (uint32_t i = 0; i < n; i++)
        spare[n_spare++] = held[--n_held];
      pages -= n;
      virtio_config_write32 (dev, CFG_ACTUAL, (uint32_t) n_held);
    }
}

static void
fill_stats (void)
{
  uint64_t free = dma_available ();
  stats[0] = (BalloonStat) { STAT_MEMFREE, free };
  stats[1] = (BalloonStat) { STAT_MEMTOT, probe_boot.usable_bytes };
  stats[2] = (BalloonStat) { STAT_AVAIL, free };
}

static void
give_stats (void)
{
  fill_stats ();
  VirtqBuf b = { dma_addr (stats), 3 * sizeof (BalloonStat), false };
  virtq_add (&statsq, &b, 1, stats);
  virtq_kick (&statsq);
}

/* Answers a statistics request if the device made one. */
static bool
service_stats (void)
{
  if (!have_stats || !virtq_get (&statsq, NULL))
    return false;
  stats_answered++;
  give_stats ();
  return true;
}

/* Moves the balloon to the device's target; true if it changed. */
static bool
follow_target (void)
{
  uint64_t target = virtio_config32 (dev, CFG_NUM_PAGES);
  if (target > n_held)
    inflate (target - n_held);
  else if (target < n_held)
    deflate (n_held - target);
  else
    return false;
  probe_printf ("PROBE balloon target=%lu actual=%lu\r\n", target, n_held);
  return true;
}

void
balloon_mode (void)
{
  if (!(dev = virtio_find (VIRTIO_ID_BALLOON, "balloon")))
    probe_exit (PROBE_EXIT_FAILED);
  uint64_t wanted = FEATURE (VIRTIO_BALLOON_F_MUST_TELL_HOST) | FEATURE (VIRTIO_BALLOON_F_STATS_VQ);
  if (!virtio_begin (dev, wanted) || !virtq_init (&inflateq, dev, 0, 64)
      || !virtq_init (&deflateq, dev, 1, 64))
    probe_exit (PROBE_EXIT_FAILED);
  have_stats = dev->features & FEATURE (VIRTIO_BALLOON_F_STATS_VQ);
  if (have_stats && !virtq_init (&statsq, dev, 2, 4))
    probe_exit (PROBE_EXIT_FAILED);
  pfns = dma_alloc (PFNS_PER_REQUEST * 4, 4096);
  stats = dma_alloc (3 * sizeof (BalloonStat), 64);
  uint64_t avail_pages = dma_available () / PAGE;
  /* The two bookkeeping stacks come out of the same RAM. */
  max_pages = avail_pages > RESERVE_PAGES ? (avail_pages - RESERVE_PAGES) * PAGE / (PAGE + 16) : 0;
  held = dma_alloc (max_pages * 8 + 8, 8);
  spare = dma_alloc (max_pages * 8 + 8, 8);
  virtio_driver_ok (dev);
  if (have_stats)
    give_stats ();                        /* the device keeps it until it wants stats */

  uint64_t target = virtio_config32 (dev, CFG_NUM_PAGES);
  probe_printf ("PROBE balloon start target=%lu actual=%u max=%lu stats=%u\r\n",
                target, virtio_config32 (dev, CFG_ACTUAL), max_pages, have_stats);
  uint64_t exercise = cmdline_u64 ("probe.balloon_exercise", 0);
  if (exercise)
    {
      inflate (exercise);
      probe_printf ("PROBE balloon inflated=%lu actual=%u\r\n", n_held, virtio_config32 (dev, CFG_ACTUAL));
      uint64_t n = n_held;
      deflate (n);
      probe_printf ("PROBE balloon deflated=%lu actual=%u\r\n", n, virtio_config32 (dev, CFG_ACTUAL));
    }
  follow_target ();
  uint64_t follow_ms = cmdline_u64 ("probe.balloon_follow_ms", 0);
  uint64_t deadline = tsc_deadline_ms (follow_ms);
  uint64_t next_isr_read = 0;
  while (!tsc_passed (deadline))
    {
      uint64_t seen = virtio_idle_begin ();
      bool config_changed = false;
      /* Polling reads InterruptStatus (an exit) once a millisecond only. */
      if (dev->irq_mode || tsc_passed (next_isr_read))
        {
          config_changed = virtio_take_isr (dev) & VIRTIO_INT_CONFIG;
          next_isr_read = tsc_deadline_ms (1);
        }
      if ((config_changed && follow_target ()) | service_stats ())
        continue;
      if (have_stats)
        virtq_arm (&statsq);
      virtio_idle (seen);
    }
  probe_printf ("PROBE balloon target=%u actual=%lu stats_answered=%lu\r\n",
                virtio_config32 (dev, CFG_NUM_PAGES), n_held, stats_answered);
}
