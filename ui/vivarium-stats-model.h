/* The last five minutes of one VM's statistics, as series a graph can draw.
 *
 * A worker sends io.github.vivarium.Machine1.StatsUpdated once a second
 * with counters that only grow (data/io.github.vivarium.Machine1.xml);
 * the model turns each pair of samples into rates and keeps
 * VIV_STATS_HISTORY values per series:
 *
 *   "cpu-total"                 % of all vCPUs (the mean of the vCPUs)
 *   "cpu-vcpu-N"                % of one host core used by vCPU thread N
 *   "memory-assigned"           bytes of guest RAM assigned
 *   "memory-resident"           bytes the host has backed with pages
 *   "memory-balloon"            bytes the balloon holds (with a balloon)
 *   "disk-read", "disk-write"   bytes/s, all disks
 *   "net-rx", "net-tx"          bytes/s, all NICs
 *   "exits-total"               VM exits/s, all vCPUs
 *   "exits-REASON"              VM exits/s for one reason of
 *                               viv_stats_exit_reasons[] ("exits-io", …)
 *
 * Parsing and rate computation are pure functions so they can be tested
 * without a worker or a display. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VIV_STATS_HISTORY 300
/* vCPUs beyond this are ignored (CONCEPTS.md: the product's limit is 32). */
#define VIV_STATS_MAX_VCPUS 64
#define VIV_STATS_N_EXIT_REASONS 9

/* The reasons the worker counts, in its own words (Machine1.xml, "exits"). */
extern const char * const viv_stats_exit_reasons[VIV_STATS_N_EXIT_REASONS];

/* One StatsUpdated dictionary, its counters summed where the graphs sum
 * them (all disks, all NICs). */
typedef struct {
  gint64   time_ns;
  guint    n_vcpus;
  guint64  vcpu_time_ns[VIV_STATS_MAX_VCPUS];
  guint64  exits[VIV_STATS_N_EXIT_REASONS];
  guint64  exits_total;
  guint64  memory_bytes;
  guint64  resident_bytes;
  gboolean has_balloon;
  guint64  balloon_actual_bytes;
  guint64  disk_read_bytes;
  guint64  disk_write_bytes;
  guint64  net_rx_bytes;
  guint64  net_tx_bytes;
} VivStatsCounters;

/* What happened between two samples: rates, and the newer sample's gauges
 * (memory). */
typedef struct {
  double   interval_s;
  guint    n_vcpus;
  double   vcpu_percent[VIV_STATS_MAX_VCPUS];
  double   cpu_percent;
  double   exits_per_s[VIV_STATS_N_EXIT_REASONS];
  double   exits_total_per_s;
  double   memory_bytes;
  double   resident_bytes;
  gboolean has_balloon;
  double   balloon_bytes;
  double   disk_read_bytes_per_s;
  double   disk_write_bytes_per_s;
  double   net_rx_bytes_per_s;
  double   net_tx_bytes_per_s;
} VivStatsValues;

/* Reads a StatsUpdated a{sv}.  "time-ns" is required; a missing counter
 * counts as 0 and keys of unknown exit reasons count as "other". */
gboolean viv_stats_counters_parse (GVariant          *stats,
                                   VivStatsCounters  *sample,
                                   GError           **error);

/* Rates between two samples.  FALSE when they cannot be compared: `cur`
 * is not later than `prev`, or a counter went backwards (another worker
 * started for the VM).  CPU % is per host core, clamped to 0–100. */
gboolean viv_stats_compute_rates  (const VivStatsCounters *prev,
                                   const VivStatsCounters *cur,
                                   VivStatsValues         *rates);

#define VIV_TYPE_STATS_MODEL (viv_stats_model_get_type ())
G_DECLARE_FINAL_TYPE (VivStatsModel, viv_stats_model, VIV, STATS_MODEL, GObject)

VivStatsModel *viv_stats_model_new              (void);

/* Follows the StatsUpdated signal of a Machine1 proxy (any GDBusProxy for
 * the interface, e.g. the gdbus-codegen one); NULL stops following.  The
 * history is kept so a restarted VM continues its graphs. */
void           viv_stats_model_set_machine      (VivStatsModel *self,
                                                 GDBusProxy    *machine);
GDBusProxy    *viv_stats_model_get_machine      (VivStatsModel *self);

/* Adds one StatsUpdated dictionary: what the signal handler calls. */
gboolean       viv_stats_model_add_stats        (VivStatsModel  *self,
                                                 GVariant       *stats,
                                                 GError        **error);
void           viv_stats_model_clear            (VivStatsModel *self);

/* Samples held, oldest first (at most VIV_STATS_HISTORY). */
guint          viv_stats_model_get_n_samples    (VivStatsModel *self);
/* CLOCK_MONOTONIC time of sample `index`, in ns. */
gint64         viv_stats_model_get_sample_time  (VivStatsModel *self,
                                                 guint          index);
/* FALSE when the series does not exist (e.g. a vCPU the VM lacks). */
gboolean       viv_stats_model_get_value        (VivStatsModel *self,
                                                 const char    *series,
                                                 guint          index,
                                                 double        *value);
gboolean       viv_stats_model_has_series       (VivStatsModel *self,
                                                 const char    *series);
guint          viv_stats_model_get_n_vcpus      (VivStatsModel *self);

G_END_DECLS
