/* A worker's statistics (io.github.vivarium.Machine1 GetStats and
 * StatsUpdated, an a{sv}) summed over devices, and the rates between two
 * samples: what `vivctl stats --watch` and `vivctl top` show. */
#pragma once
#include <glib.h>

typedef struct {
  guint64 time_ns;            /* 0: the sample had no time (not valid) */
  guint64 worker_cpu_ns;
  guint64 exits_total;
  guint64 memory_bytes;
  guint64 resident_bytes;
  guint64 disk_read_bytes;    /* all disks */
  guint64 disk_write_bytes;
  guint64 net_rx_bytes;       /* all NICs */
  guint64 net_tx_bytes;
} VivStatsSample;

typedef struct {
  double cpu_percent;         /* of one host CPU: 2 busy threads make 200 */
  double exits_per_s;
  double disk_read_per_s;     /* bytes */
  double disk_write_per_s;
  double net_rx_per_s;
  double net_tx_per_s;
} VivStatsRates;

/* Missing keys count as 0. */
void     viv_stats_sample_from_variant (GVariant *stats, VivStatsSample *sample);
/* False when the two samples cannot give rates (no time passed, or a
 * counter went backwards: another worker). */
gboolean viv_stats_rates (const VivStatsSample *before, const VivStatsSample *after,
                          VivStatsRates *rates);
/* "12.3M" style (binary units), for bytes and bytes per second. */
char    *viv_stats_format_bytes (double bytes);
