/* virtio memory balloon (virtio 1.2 §5.5): the host sets a target, the
 * guest gives pages back (their host memory is released with
 * MADV_DONTNEED) and reports its memory statistics. */
#pragma once
#include "devices/virtio.h"

/* The statistics tags of §5.5.6.3, in the driver's units (bytes for
 * memory amounts, counts for faults and swaps). */
typedef enum {
  VIV_BALLOON_STAT_SWAP_IN = 0,
  VIV_BALLOON_STAT_SWAP_OUT,
  VIV_BALLOON_STAT_MAJOR_FAULTS,
  VIV_BALLOON_STAT_MINOR_FAULTS,
  VIV_BALLOON_STAT_FREE_MEMORY,
  VIV_BALLOON_STAT_TOTAL_MEMORY,
  VIV_BALLOON_STAT_AVAILABLE_MEMORY,
  VIV_BALLOON_STAT_DISK_CACHES,
  VIV_BALLOON_STAT_HUGETLB_ALLOCATIONS,
  VIV_BALLOON_STAT_HUGETLB_FAILURES,
  VIV_BALLOON_STAT_COUNT
} VivBalloonStat;

typedef struct VivBalloonStats {
  uint64_t values[VIV_BALLOON_STAT_COUNT];
  uint32_t valid;          /* bit (1 << VivBalloonStat): the driver reported it */
  uint64_t updates;        /* stats buffers received so far */
  int64_t  updated_at;     /* g_get_monotonic_time() of the last one, 0: never */
} VivBalloonStats;

typedef struct VivBalloonCounters {
  uint64_t inflated_pages; /* 4 KiB pages released to the host */
  uint64_t deflated_pages; /* 4 KiB pages the guest took back */
  uint64_t bad_pfns;       /* page numbers outside guest RAM, skipped */
} VivBalloonCounters;

/* Seconds between requests for fresh statistics, until changed. */
#define VIV_VIRTIO_BALLOON_STATS_INTERVAL_DEFAULT 5

typedef struct VivVirtioBalloon VivVirtioBalloon;

/* Binds a balloon to the transport; freed by viv_virtio_mmio_free, which
 * must run after the I/O thread stopped (it destroys our timer there). */
VivVirtioBalloon *viv_virtio_balloon_new (VivVirtioDevice *vdev);

/* How much memory the balloon should hold (taken from the guest), rounded
 * down to 4 KiB pages and capped at the guest's RAM.  Updates num_pages
 * and sends a configuration-change interrupt.  Thread-safe. */
void     viv_virtio_balloon_set_target       (VivVirtioBalloon *balloon, uint64_t bytes);
uint64_t viv_virtio_balloon_get_target_bytes (VivVirtioBalloon *balloon);
/* What the driver says the balloon holds (its `actual` config field). */
uint64_t viv_virtio_balloon_get_actual_bytes (VivVirtioBalloon *balloon);
void     viv_virtio_balloon_get_counters     (VivVirtioBalloon *balloon, VivBalloonCounters *out);
/* The latest statistics; false if the driver has not reported any yet. */
bool     viv_virtio_balloon_get_stats        (VivVirtioBalloon *balloon, VivBalloonStats *out);
/* Asks the driver for fresh statistics every `seconds` (0: only on
 * request).  Thread-safe. */
void     viv_virtio_balloon_set_stats_interval (VivVirtioBalloon *balloon, unsigned seconds);
/* Asks the driver for fresh statistics now, if it left a buffer with us. */
void     viv_virtio_balloon_request_stats    (VivVirtioBalloon *balloon);
