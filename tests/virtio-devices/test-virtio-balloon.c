/* virtio-balloon driven through the virtio-mmio transport by a test driver. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "driver.h"
#include "devices/virtio_balloon.h"

#define INFLATEQ 0
#define DEFLATEQ 1
#define STATSQ   2
#define F_STATS_VQ       (1ull << 1)
#define F_DEFLATE_ON_OOM (1ull << 2)
#define RAM_SIZE (64u << 20)
#define PAGE 4096u

static VivVirtioBalloon *
start (Driver *d, uint64_t features)
{
  driver_init (d, RAM_SIZE);
  VivVirtioBalloon *b = viv_virtio_balloon_new (d->vdev);
  g_assert_cmpuint (driver_read32 (d, MMIO_DEVICE_ID), ==, VIRTIO_ID_BALLOON);
  driver_start (d, features, 3);
  g_assert_cmphex (d->features & (F_STATS_VQ | F_DEFLATE_ON_OOM), ==, features);
  return b;
}

/* How many of [gpa, gpa + n pages) are resident in the host mapping. */
static unsigned
resident_pages (Driver *d, uint64_t gpa, unsigned n)
{
  g_autofree unsigned char *vec = g_malloc (n);
  g_assert_cmpint (sysconf (_SC_PAGESIZE), ==, PAGE);
  g_assert_cmpint (mincore (driver_ptr (d, gpa, n * PAGE), (size_t) n * PAGE, vec), ==, 0);
  unsigned resident = 0;
  for (unsigned i = 0; i < n; i++)
    resident += vec[i] & 1;
  return resident;
}

static void
send_pfns (Driver *d, unsigned q, const uint32_t *pfns, unsigned n)
{
  uint64_t gpa = driver_alloc (d, n * 4);
  uint32_t *array = driver_ptr (d, gpa, n * 4);
  for (unsigned i = 0; i < n; i++)
    array[i] = GUINT32_TO_LE (pfns[i]);
  DriverSeg seg = { gpa, n * 4, false };
  driver_add (d, q, &seg, 1);
  driver_kick (d, q);
  uint32_t len;
  g_assert_true (driver_get_used (d, q, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, 0);
}

static void
test_balloon_inflate_releases_memory (void)
{
  Driver d;
  VivVirtioBalloon *b = start (&d, 0);
  const unsigned n = 64;
  const uint64_t first = 8u << 20;      /* 8 MiB, well inside RAM */

  /* The guest touches 2n pages; it will give back every other one. */
  memset (driver_ptr (&d, first, 2 * n * PAGE), 0x5a, 2 * n * PAGE);
  g_assert_cmpuint (resident_pages (&d, first, 2 * n), ==, 2 * n);

  uint32_t pfns[64 + 3];
  for (unsigned i = 0; i < n; i++)
    pfns[i] = (uint32_t) (first / PAGE) + 2 * i;
  pfns[n] = RAM_SIZE / PAGE;             /* just past RAM */
  pfns[n + 1] = 0xffffffffu;             /* far past */
  pfns[n + 2] = (uint32_t) (DRIVER_MMIO_BASE / PAGE);
  send_pfns (&d, INFLATEQ, pfns, G_N_ELEMENTS (pfns));

  for (unsigned i = 0; i < 2 * n; i++)
    g_assert_cmpuint (resident_pages (&d, first + (uint64_t) i * PAGE, 1), ==, (i % 2) ? 1 : 0);
  /* A released page reads back as zeroes, a kept one keeps its data. */
  g_assert_cmphex (*(uint8_t *) driver_ptr (&d, first, 1), ==, 0);
  g_assert_cmphex (*(uint8_t *) driver_ptr (&d, first + PAGE, 1), ==, 0x5a);

  VivBalloonCounters counters;
  viv_virtio_balloon_get_counters (b, &counters);
  g_assert_cmpuint (counters.inflated_pages, ==, n);
  g_assert_cmpuint (counters.bad_pfns, ==, 3);
  g_assert_cmpuint (counters.deflated_pages, ==, 0);
  g_assert_false (driver_needs_reset (&d));

  /* The driver reports the balloon's size. */
  driver_config_write32 (&d, 4, n);
  g_assert_cmpuint (viv_virtio_balloon_get_actual_bytes (b), ==, (uint64_t) n * PAGE);
  driver_clear (&d);
}

static void
test_balloon_inflate_contiguous_run (void)
{
  Driver d;
  VivVirtioBalloon *b = start (&d, F_DEFLATE_ON_OOM);
  const unsigned n = 256;
  const uint64_t first = 16u << 20;
  memset (driver_ptr (&d, first, n * PAGE), 1, n * PAGE);

  uint32_t pfns[256];
  for (unsigned i = 0; i < n; i++)
    pfns[i] = (uint32_t) (first / PAGE) + i;
  send_pfns (&d, INFLATEQ, pfns, n);
  g_assert_cmpuint (resident_pages (&d, first, n), ==, 0);

  /* Deflating only counts: the guest refaults the pages as it uses them. */
  send_pfns (&d, DEFLATEQ, pfns, n);
  VivBalloonCounters counters;
  viv_virtio_balloon_get_counters (b, &counters);
  g_assert_cmpuint (counters.inflated_pages, ==, n);
  g_assert_cmpuint (counters.deflated_pages, ==, n);
  g_assert_cmpuint (counters.bad_pfns, ==, 0);
  g_assert_cmpuint (resident_pages (&d, first, n), ==, 0);
  driver_clear (&d);
}

static void
test_balloon_oversized_array_needs_reset (void)
{
  Driver d;
  start (&d, 0);
  const uint32_t len = 16385 * 4;
  uint64_t gpa = driver_alloc (&d, len);
  memset (driver_ptr (&d, gpa, len), 0, len);
  DriverSeg seg = { gpa, len, false };
  driver_add (&d, INFLATEQ, &seg, 1);
  driver_kick (&d, INFLATEQ);
  g_assert_true (driver_wait_needs_reset (&d, 5000));
  driver_clear (&d);
}

static void
test_balloon_set_target (void)
{
  Driver d;
  VivVirtioBalloon *b = start (&d, 0);
  g_assert_cmpuint (driver_config32 (&d, 0), ==, 0);
  driver_take_interrupts (&d);
  uint32_t generation = driver_read32 (&d, MMIO_CONFIG_GENERATION);
  unsigned raises = driver_irq_raises (&d);

  viv_virtio_balloon_set_target (b, (8u << 20) + 100);
  g_assert_cmpuint (driver_config32 (&d, 0), ==, (8u << 20) / PAGE);
  g_assert_cmpuint (viv_virtio_balloon_get_target_bytes (b), ==, 8u << 20);
  uint32_t generation2 = driver_read32 (&d, MMIO_CONFIG_GENERATION);
  g_assert_cmpuint (generation2, !=, generation);
  g_assert_cmphex (driver_take_interrupts (&d), ==, MMIO_INT_CONFIG);
  g_assert_cmpuint (driver_irq_raises (&d), ==, raises + 1);

  /* The same target again changes nothing. */
  viv_virtio_balloon_set_target (b, 8u << 20);
  g_assert_cmpuint (driver_read32 (&d, MMIO_CONFIG_GENERATION), ==, generation2);
  g_assert_cmphex (driver_take_interrupts (&d), ==, 0);

  /* More than the guest has is capped at its RAM. */
  viv_virtio_balloon_set_target (b, G_MAXUINT64);
  g_assert_cmpuint (driver_config32 (&d, 0), ==, RAM_SIZE / PAGE);

  /* num_pages is the device's: a driver write to it is dropped. */
  driver_config_write32 (&d, 0, 7);
  g_assert_cmpuint (driver_config32 (&d, 0), ==, RAM_SIZE / PAGE);
  g_assert_cmpuint (viv_virtio_balloon_get_actual_bytes (b), ==, 0);
  driver_clear (&d);
}

typedef struct {
  uint16_t tag;
  uint64_t value;
} Stat;

static uint64_t
stats_buffer (Driver *d, const Stat *stats, unsigned n)
{
  uint64_t gpa = driver_alloc (d, n * 10);
  uint8_t *p = driver_ptr (d, gpa, n * 10);
  for (unsigned i = 0; i < n; i++)
    {
      uint16_t tag = GUINT16_TO_LE (stats[i].tag);
      uint64_t value = GUINT64_TO_LE (stats[i].value);
      memcpy (p + 10 * i, &tag, 2);
      memcpy (p + 10 * i + 2, &value, 8);
    }
  return gpa;
}

typedef struct {
  VivVirtioBalloon *b;
  uint64_t updates;
} StatsWait;

static bool
stats_updated (void *data)
{
  StatsWait *w = data;
  VivBalloonStats stats;
  viv_virtio_balloon_get_stats (w->b, &stats);
  return stats.updates >= w->updates;
}

static void
test_balloon_stats (void)
{
  Driver d;
  VivVirtioBalloon *b = start (&d, F_STATS_VQ);
  viv_virtio_balloon_set_stats_interval (b, 0);
  VivBalloonStats stats;
  g_assert_false (viv_virtio_balloon_get_stats (b, &stats));

  const Stat first[] = {
    { VIV_BALLOON_STAT_FREE_MEMORY, 40u << 20 },
    { VIV_BALLOON_STAT_TOTAL_MEMORY, 64u << 20 },
    { 99, 12345 },                                /* unknown: ignored */
    { VIV_BALLOON_STAT_MINOR_FAULTS, 777 },
  };
  uint64_t gpa = stats_buffer (&d, first, G_N_ELEMENTS (first));
  DriverSeg seg = { gpa, G_N_ELEMENTS (first) * 10, false };
  driver_add (&d, STATSQ, &seg, 1);
  driver_kick (&d, STATSQ);
  StatsWait w = { b, 1 };
  g_assert_true (driver_run_until (&d, stats_updated, &w, 5000));

  g_assert_true (viv_virtio_balloon_get_stats (b, &stats));
  g_assert_cmpuint (stats.updates, ==, 1);
  g_assert_cmphex (stats.valid, ==, (1u << VIV_BALLOON_STAT_FREE_MEMORY)
                   | (1u << VIV_BALLOON_STAT_TOTAL_MEMORY) | (1u << VIV_BALLOON_STAT_MINOR_FAULTS));
  g_assert_cmpuint (stats.values[VIV_BALLOON_STAT_FREE_MEMORY], ==, 40u << 20);
  g_assert_cmpuint (stats.values[VIV_BALLOON_STAT_TOTAL_MEMORY], ==, 64u << 20);
  g_assert_cmpuint (stats.values[VIV_BALLOON_STAT_MINOR_FAULTS], ==, 777);
  g_assert_cmpint (stats.updated_at, >, 0);

  /* The device keeps the buffer until it wants fresh values. */
  g_assert_false (driver_get_used (&d, STATSQ, NULL, NULL, 50));
  viv_virtio_balloon_request_stats (b);
  uint32_t len;
  g_assert_true (driver_get_used (&d, STATSQ, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, 0);

  const Stat second[] = {
    { VIV_BALLOON_STAT_FREE_MEMORY, 30u << 20 },
    { VIV_BALLOON_STAT_AVAILABLE_MEMORY, 35u << 20 },
  };
  gpa = stats_buffer (&d, second, G_N_ELEMENTS (second));
  DriverSeg seg2 = { gpa, G_N_ELEMENTS (second) * 10, false };
  driver_add (&d, STATSQ, &seg2, 1);
  driver_kick (&d, STATSQ);
  w.updates = 2;
  g_assert_true (driver_run_until (&d, stats_updated, &w, 5000));
  viv_virtio_balloon_get_stats (b, &stats);
  g_assert_cmpuint (stats.values[VIV_BALLOON_STAT_FREE_MEMORY], ==, 30u << 20);
  g_assert_cmpuint (stats.values[VIV_BALLOON_STAT_AVAILABLE_MEMORY], ==, 35u << 20);
  g_assert_cmphex (stats.valid, ==, (1u << VIV_BALLOON_STAT_FREE_MEMORY)
                   | (1u << VIV_BALLOON_STAT_AVAILABLE_MEMORY));

  /* With an interval set, the timer asks by itself. */
  viv_virtio_balloon_set_stats_interval (b, 1);
  g_assert_true (driver_get_used (&d, STATSQ, NULL, &len, 5000));
  driver_clear (&d);
}

static void
test_balloon_second_stats_buffer_needs_reset (void)
{
  Driver d;
  start (&d, F_STATS_VQ);
  const Stat one[] = { { VIV_BALLOON_STAT_SWAP_IN, 1 } };
  for (int i = 0; i < 2; i++)
    {
      DriverSeg seg = { stats_buffer (&d, one, 1), 10, false };
      driver_add (&d, STATSQ, &seg, 1);
    }
  driver_kick (&d, STATSQ);
  g_assert_true (driver_wait_needs_reset (&d, 5000));
  driver_clear (&d);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/virtio-balloon/inflate-releases-memory", test_balloon_inflate_releases_memory);
  g_test_add_func ("/viv/virtio-balloon/inflate-contiguous-run", test_balloon_inflate_contiguous_run);
  g_test_add_func ("/viv/virtio-balloon/oversized-array-needs-reset",
                   test_balloon_oversized_array_needs_reset);
  g_test_add_func ("/viv/virtio-balloon/set-target", test_balloon_set_target);
  g_test_add_func ("/viv/virtio-balloon/stats", test_balloon_stats);
  g_test_add_func ("/viv/virtio-balloon/second-stats-buffer-needs-reset",
                   test_balloon_second_stats_buffer_needs_reset);
  return g_test_run ();
}
