/* Rates from StatsUpdated samples, and the stats model's series.  Pure:
 * no display, no worker. */
#include <math.h>

#include "vivarium-stats-model.h"

#define NS 1000000000ull

/* A StatsUpdated dictionary as Machine1.xml describes it. */
typedef struct {
  guint64 time_ns;
  guint   n_vcpus;
  guint64 vcpu_time_ns[4];
  guint64 io, mmio, hlt;
  guint64 memory, resident;
  gboolean balloon;
  guint64 balloon_actual;
  guint64 disk0_read, disk0_write, disk1_read;
  guint64 nic_rx, nic_tx;
} Stats;

static GVariant *
build_stats (const Stats *s)
{
  GVariantBuilder dict, exits, disks, nics, device;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "time-ns", g_variant_new_uint64 (s->time_ns));
  g_variant_builder_add (&dict, "{sv}", "vcpu-time-ns",
                         g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64, s->vcpu_time_ns,
                                                    s->n_vcpus, sizeof (guint64)));
  g_variant_builder_add (&dict, "{sv}", "worker-cpu-time-ns", g_variant_new_uint64 (0));

  g_variant_builder_init (&exits, G_VARIANT_TYPE ("a{st}"));
  g_variant_builder_add (&exits, "{st}", "io", s->io);
  g_variant_builder_add (&exits, "{st}", "mmio", s->mmio);
  g_variant_builder_add (&exits, "{st}", "hlt", s->hlt);
  g_variant_builder_add (&exits, "{st}", "other", (guint64) 0);
  g_variant_builder_add (&dict, "{sv}", "exits", g_variant_builder_end (&exits));
  g_variant_builder_add (&dict, "{sv}", "exits-total", g_variant_new_uint64 (s->io + s->mmio + s->hlt));

  g_variant_builder_add (&dict, "{sv}", "memory-bytes", g_variant_new_uint64 (s->memory));
  g_variant_builder_add (&dict, "{sv}", "resident-bytes", g_variant_new_uint64 (s->resident));
  if (s->balloon)
    {
      g_variant_builder_add (&dict, "{sv}", "balloon-target-bytes", g_variant_new_uint64 (s->balloon_actual));
      g_variant_builder_add (&dict, "{sv}", "balloon-actual-bytes", g_variant_new_uint64 (s->balloon_actual));
    }

  g_variant_builder_init (&disks, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_init (&device, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&device, "{sv}", "read-bytes", g_variant_new_uint64 (s->disk0_read));
  g_variant_builder_add (&device, "{sv}", "write-bytes", g_variant_new_uint64 (s->disk0_write));
  g_variant_builder_add (&device, "{sv}", "read-ops", g_variant_new_uint64 (1));
  g_variant_builder_add (&disks, "a{sv}", &device);
  g_variant_builder_init (&device, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&device, "{sv}", "read-bytes", g_variant_new_uint64 (s->disk1_read));
  g_variant_builder_add (&device, "{sv}", "write-bytes", g_variant_new_uint64 (0));
  g_variant_builder_add (&disks, "a{sv}", &device);
  g_variant_builder_add (&dict, "{sv}", "disks", g_variant_builder_end (&disks));

  g_variant_builder_init (&nics, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_init (&device, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&device, "{sv}", "rx-bytes", g_variant_new_uint64 (s->nic_rx));
  g_variant_builder_add (&device, "{sv}", "tx-bytes", g_variant_new_uint64 (s->nic_tx));
  g_variant_builder_add (&nics, "a{sv}", &device);
  g_variant_builder_add (&dict, "{sv}", "nics", g_variant_builder_end (&nics));

  return g_variant_ref_sink (g_variant_builder_end (&dict));
}

static void
parse (const Stats    *s,
       VivStatsCounters *sample)
{
  g_autoptr(GVariant) dict = build_stats (s);
  g_autoptr(GError) error = NULL;

  g_assert_true (viv_stats_counters_parse (dict, sample, &error));
  g_assert_no_error (error);
}

static void
test_rates_basic (void)
{
  Stats a = {
    .time_ns = 10 * NS, .n_vcpus = 2, .vcpu_time_ns = { 1 * NS, 3 * NS },
    .io = 100, .mmio = 10, .hlt = 5,
    .memory = 256ull << 20, .resident = 20ull << 20,
    .disk0_read = 4096, .disk0_write = 0, .disk1_read = 0,
    .nic_rx = 1000, .nic_tx = 2000,
  };
  /* Two seconds later: vCPU 0 ran 1 s (50 %), vCPU 1 ran 2 s (100 %). */
  Stats b = {
    .time_ns = 12 * NS, .n_vcpus = 2, .vcpu_time_ns = { 2 * NS, 5 * NS },
    .io = 2100, .mmio = 30, .hlt = 5,
    .memory = 256ull << 20, .resident = 64ull << 20,
    .disk0_read = 4096 + 2 * 8192, .disk0_write = 1 << 20, .disk1_read = 2048,
    .nic_rx = 1000 + 3000, .nic_tx = 2000,
  };
  VivStatsCounters sa, sb;
  VivStatsValues rates;

  parse (&a, &sa);
  parse (&b, &sb);
  g_assert_cmpuint (sb.n_vcpus, ==, 2);
  g_assert_cmpuint (sb.disk_read_bytes, ==, 4096 + 2 * 8192 + 2048);   /* both disks summed */

  g_assert_true (viv_stats_compute_rates (&sa, &sb, &rates));
  g_assert_cmpfloat_with_epsilon (rates.interval_s, 2.0, 1e-9);
  g_assert_cmpuint (rates.n_vcpus, ==, 2);
  g_assert_cmpfloat_with_epsilon (rates.vcpu_percent[0], 50.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (rates.vcpu_percent[1], 100.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (rates.cpu_percent, 75.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (rates.exits_per_s[0], 1000.0, 1e-9);   /* io */
  g_assert_cmpfloat_with_epsilon (rates.exits_per_s[1], 10.0, 1e-9);     /* mmio */
  g_assert_cmpfloat_with_epsilon (rates.exits_per_s[2], 0.0, 1e-9);      /* hlt */
  g_assert_cmpfloat_with_epsilon (rates.exits_total_per_s, 1010.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (rates.disk_read_bytes_per_s, (2 * 8192 + 2048) / 2.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (rates.disk_write_bytes_per_s, (1 << 20) / 2.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (rates.net_rx_bytes_per_s, 1500.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (rates.net_tx_bytes_per_s, 0.0, 1e-9);
  g_assert_cmpfloat (rates.memory_bytes, ==, 256.0 * (1 << 20));
  g_assert_cmpfloat (rates.resident_bytes, ==, 64.0 * (1 << 20));
  g_assert_false (rates.has_balloon);
}

static void
test_rates_not_comparable (void)
{
  Stats a = { .time_ns = 10 * NS, .n_vcpus = 1, .vcpu_time_ns = { 5 * NS }, .io = 50 };
  Stats same_time = a;
  Stats restarted = { .time_ns = 11 * NS, .n_vcpus = 1, .vcpu_time_ns = { NS / 10 }, .io = 3 };
  VivStatsCounters sa, sb;
  VivStatsValues rates;

  parse (&a, &sa);
  parse (&same_time, &sb);
  g_assert_false (viv_stats_compute_rates (&sa, &sb, &rates));

  /* Counters that went backwards: another worker; no bogus huge rate. */
  parse (&restarted, &sb);
  g_assert_false (viv_stats_compute_rates (&sa, &sb, &rates));
}

static void
test_rates_cpu_clamped (void)
{
  /* Thread clocks and the sample clock are read at slightly different
   * moments: 1.02 s of CPU in 1 s is still one full core. */
  Stats a = { .time_ns = 1 * NS, .n_vcpus = 1, .vcpu_time_ns = { 0 } };
  Stats b = { .time_ns = 2 * NS, .n_vcpus = 1, .vcpu_time_ns = { NS + NS / 50 } };
  VivStatsCounters sa, sb;
  VivStatsValues rates;

  parse (&a, &sa);
  parse (&b, &sb);
  g_assert_true (viv_stats_compute_rates (&sa, &sb, &rates));
  g_assert_cmpfloat (rates.vcpu_percent[0], ==, 100.0);
}

static void
test_parse_errors (void)
{
  g_autoptr(GVariant) not_dict = g_variant_ref_sink (g_variant_new_string ("x"));
  g_autoptr(GVariant) no_time = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;
  VivStatsCounters sample;

  g_assert_false (viv_stats_counters_parse (not_dict, &sample, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "memory-bytes", g_variant_new_uint64 (1));
  no_time = g_variant_ref_sink (g_variant_builder_end (&builder));
  g_assert_false (viv_stats_counters_parse (no_time, &sample, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "time-ns"));
}

static void
test_parse_unknown_reason (void)
{
  GVariantBuilder builder, exits;
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(GError) error = NULL;
  VivStatsCounters sample;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "time-ns", g_variant_new_uint64 (1));
  g_variant_builder_init (&exits, G_VARIANT_TYPE ("a{st}"));
  g_variant_builder_add (&exits, "{st}", "io", (guint64) 7);
  g_variant_builder_add (&exits, "{st}", "a-reason-from-the-future", (guint64) 3);
  g_variant_builder_add (&exits, "{st}", "other", (guint64) 2);
  g_variant_builder_add (&builder, "{sv}", "exits", g_variant_builder_end (&exits));
  dict = g_variant_ref_sink (g_variant_builder_end (&builder));

  g_assert_true (viv_stats_counters_parse (dict, &sample, &error));
  g_assert_cmpuint (sample.exits[0], ==, 7);
  g_assert_cmpuint (sample.exits[VIV_STATS_N_EXIT_REASONS - 1], ==, 5);
  /* No "exits-total": the sum of the reasons. */
  g_assert_cmpuint (sample.exits_total, ==, 12);
}

static void
add (VivStatsModel *model,
     const Stats   *s)
{
  g_autoptr(GVariant) dict = build_stats (s);
  g_autoptr(GError) error = NULL;

  g_assert_true (viv_stats_model_add_stats (model, dict, &error));
  g_assert_no_error (error);
}

static void
count_cb (guint *count)
{
  (*count)++;
}

static void
test_model_series (void)
{
  g_autoptr(VivStatsModel) model = viv_stats_model_new ();
  Stats s = { .n_vcpus = 2, .memory = 512ull << 20 };
  guint n_signals = 0;
  double value;

  g_signal_connect_swapped (model, "sample-added", G_CALLBACK (count_cb), &n_signals);

  /* 1 base sample + 5: vCPU 0 at 20 % per second, vCPU 1 idle; 100 MMIO
   * exits a second; resident memory grows by 1 MiB a second. */
  for (guint i = 0; i < 6; i++)
    {
      s.time_ns = (100 + i) * NS;
      s.vcpu_time_ns[0] = i * (NS / 5);
      s.mmio = 100 * i;
      s.resident = (guint64) i << 20;
      s.nic_tx = 512 * i;
      add (model, &s);
    }

  g_assert_cmpuint (n_signals, ==, 5);
  g_assert_cmpuint (viv_stats_model_get_n_samples (model), ==, 5);
  g_assert_cmpuint (viv_stats_model_get_n_vcpus (model), ==, 2);
  g_assert_cmpint (viv_stats_model_get_sample_time (model, 0), ==, 101 * NS);
  g_assert_cmpint (viv_stats_model_get_sample_time (model, 4), ==, 105 * NS);

  for (guint i = 0; i < 5; i++)
    {
      g_assert_true (viv_stats_model_get_value (model, "cpu-vcpu-0", i, &value));
      g_assert_cmpfloat_with_epsilon (value, 20.0, 1e-9);
      g_assert_true (viv_stats_model_get_value (model, "cpu-vcpu-1", i, &value));
      g_assert_cmpfloat_with_epsilon (value, 0.0, 1e-9);
      g_assert_true (viv_stats_model_get_value (model, "cpu-total", i, &value));
      g_assert_cmpfloat_with_epsilon (value, 10.0, 1e-9);
      g_assert_true (viv_stats_model_get_value (model, "exits-mmio", i, &value));
      g_assert_cmpfloat_with_epsilon (value, 100.0, 1e-9);
      g_assert_true (viv_stats_model_get_value (model, "exits-total", i, &value));
      g_assert_cmpfloat_with_epsilon (value, 100.0, 1e-9);
      g_assert_true (viv_stats_model_get_value (model, "memory-resident", i, &value));
      g_assert_cmpfloat (value, ==, (double) ((guint64) (i + 1) << 20));
      g_assert_true (viv_stats_model_get_value (model, "memory-assigned", i, &value));
      g_assert_cmpfloat (value, ==, 512.0 * (1 << 20));
      g_assert_true (viv_stats_model_get_value (model, "net-tx", i, &value));
      g_assert_cmpfloat_with_epsilon (value, 512.0, 1e-9);
    }

  /* No balloon, no third vCPU, no sample 5. */
  g_assert_false (viv_stats_model_get_value (model, "memory-balloon", 0, &value));
  g_assert_false (viv_stats_model_has_series (model, "cpu-vcpu-2"));
  g_assert_false (viv_stats_model_get_value (model, "cpu-total", 5, &value));
}

static void
test_model_history_wraps (void)
{
  g_autoptr(VivStatsModel) model = viv_stats_model_new ();
  Stats s = { .n_vcpus = 1 };
  double value;

  /* VIV_STATS_HISTORY + 50 rates; the value of rate k is k exits/s. */
  for (guint i = 0; i <= VIV_STATS_HISTORY + 50; i++)
    {
      s.time_ns = (guint64) (i + 1) * NS;
      s.io += i;
      add (model, &s);
    }

  g_assert_cmpuint (viv_stats_model_get_n_samples (model), ==, VIV_STATS_HISTORY);
  /* The oldest kept is rate 51, the newest rate 350. */
  g_assert_true (viv_stats_model_get_value (model, "exits-io", 0, &value));
  g_assert_cmpfloat_with_epsilon (value, 51.0, 1e-9);
  g_assert_true (viv_stats_model_get_value (model, "exits-io", VIV_STATS_HISTORY - 1, &value));
  g_assert_cmpfloat_with_epsilon (value, VIV_STATS_HISTORY + 50, 1e-9);
  g_assert_cmpint (viv_stats_model_get_sample_time (model, VIV_STATS_HISTORY - 1), ==,
                   (gint64) (VIV_STATS_HISTORY + 51) * NS);
}

static void
test_model_balloon_appears (void)
{
  g_autoptr(VivStatsModel) model = viv_stats_model_new ();
  Stats s = { .n_vcpus = 1, .memory = 1 << 30 };
  double value;

  for (guint i = 0; i < 4; i++)
    {
      s.time_ns = (guint64) (i + 1) * NS;
      s.balloon = i >= 2;
      s.balloon_actual = 64ull << 20;
      add (model, &s);
    }

  /* Samples 0 and 1 had no balloon: a gap, not zero. */
  g_assert_false (viv_stats_model_get_value (model, "memory-balloon", 0, &value));
  g_assert_true (viv_stats_model_get_value (model, "memory-balloon", 1, &value));
  g_assert_cmpfloat (value, ==, 64.0 * (1 << 20));
}

static void
test_model_worker_restart (void)
{
  g_autoptr(VivStatsModel) model = viv_stats_model_new ();
  Stats s = { .n_vcpus = 1 };
  double value;

  for (guint i = 0; i < 3; i++)
    {
      s.time_ns = (guint64) (i + 1) * NS;
      s.io = 1000 * i;
      add (model, &s);
    }
  g_assert_cmpuint (viv_stats_model_get_n_samples (model), ==, 2);

  /* A new worker: its counters start again; its first sample is only a base. */
  s.time_ns = 10 * NS;
  s.io = 5;
  add (model, &s);
  g_assert_cmpuint (viv_stats_model_get_n_samples (model), ==, 2);
  s.time_ns = 11 * NS;
  s.io = 25;
  add (model, &s);
  g_assert_cmpuint (viv_stats_model_get_n_samples (model), ==, 3);
  g_assert_true (viv_stats_model_get_value (model, "exits-io", 2, &value));
  g_assert_cmpfloat_with_epsilon (value, 20.0, 1e-9);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/viv/stats/rates/basic", test_rates_basic);
  g_test_add_func ("/viv/stats/rates/not-comparable", test_rates_not_comparable);
  g_test_add_func ("/viv/stats/rates/cpu-clamped", test_rates_cpu_clamped);
  g_test_add_func ("/viv/stats/parse/errors", test_parse_errors);
  g_test_add_func ("/viv/stats/parse/unknown-reason", test_parse_unknown_reason);
  g_test_add_func ("/viv/stats/model/series", test_model_series);
  g_test_add_func ("/viv/stats/model/history-wraps", test_model_history_wraps);
  g_test_add_func ("/viv/stats/model/balloon-appears", test_model_balloon_appears);
  g_test_add_func ("/viv/stats/model/worker-restart", test_model_worker_restart);

  return g_test_run ();
}
