#include "stats-sample.h"

static guint64
lookup_u64 (GVariant *dict, const char *key)
{
  guint64 value = 0;
  g_variant_lookup (dict, key, "t", &value);
  return value;
}

/* Sums `key` over an aa{sv} array stored under `array_key`. */
static guint64
sum_devices (GVariant *stats, const char *array_key, const char *key)
{
  g_autoptr (GVariant) devices = g_variant_lookup_value (stats, array_key, G_VARIANT_TYPE ("aa{sv}"));
  if (!devices)
    return 0;
  guint64 sum = 0;
  gsize n = g_variant_n_children (devices);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) device = g_variant_get_child_value (devices, i);
      sum += lookup_u64 (device, key);
    }
  return sum;
}

void
viv_stats_sample_from_variant (GVariant *stats, VivStatsSample *sample)
{
  *sample = (VivStatsSample) {
    .time_ns = lookup_u64 (stats, "time-ns"),
    .worker_cpu_ns = lookup_u64 (stats, "worker-cpu-time-ns"),
    .exits_total = lookup_u64 (stats, "exits-total"),
    .memory_bytes = lookup_u64 (stats, "memory-bytes"),
    .resident_bytes = lookup_u64 (stats, "resident-bytes"),
    .disk_read_bytes = sum_devices (stats, "disks", "read-bytes"),
    .disk_write_bytes = sum_devices (stats, "disks", "write-bytes"),
    .net_rx_bytes = sum_devices (stats, "nics", "rx-bytes"),
    .net_tx_bytes = sum_devices (stats, "nics", "tx-bytes"),
  };
}

static gboolean
per_second (guint64 before, guint64 after, double seconds, double *rate)
{
  if (after < before)
    return FALSE;
  *rate = (double) (after - before) / seconds;
  return TRUE;
}

gboolean
viv_stats_rates (const VivStatsSample *before, const VivStatsSample *after, VivStatsRates *rates)
{
  if (before->time_ns == 0 || after->time_ns <= before->time_ns)
    return FALSE;
  double seconds = (after->time_ns - before->time_ns) / 1e9;
  double cpu_seconds;
  if (!per_second (before->worker_cpu_ns, after->worker_cpu_ns, 1e9, &cpu_seconds))
    return FALSE;
  rates->cpu_percent = 100.0 * cpu_seconds / seconds;
  return per_second (before->exits_total, after->exits_total, seconds, &rates->exits_per_s)
         && per_second (before->disk_read_bytes, after->disk_read_bytes, seconds, &rates->disk_read_per_s)
         && per_second (before->disk_write_bytes, after->disk_write_bytes, seconds, &rates->disk_write_per_s)
         && per_second (before->net_rx_bytes, after->net_rx_bytes, seconds, &rates->net_rx_per_s)
         && per_second (before->net_tx_bytes, after->net_tx_bytes, seconds, &rates->net_tx_per_s);
}

char *
viv_stats_format_bytes (double bytes)
{
  static const char units[] = "BKMGTP";
  unsigned unit = 0;
  while (bytes >= 1024 && unit + 1 < sizeof units - 1)
    {
      bytes /= 1024;
      unit++;
    }
  if (unit == 0)
    return g_strdup_printf ("%.0f%c", bytes, units[unit]);
  return g_strdup_printf (bytes < 10 ? "%.1f%c" : "%.0f%c", bytes, units[unit]);
}
