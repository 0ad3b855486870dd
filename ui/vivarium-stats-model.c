/* vivarium-stats-model.c: rates and history from Machine1.StatsUpdated */
#define G_LOG_DOMAIN "vivarium-stats"

#include "vivarium-stats-model.h"

#include <math.h>

const char * const viv_stats_exit_reasons[VIV_STATS_N_EXIT_REASONS] = {
  "io", "mmio", "hlt", "interrupted", "shutdown",
  "system-event", "internal-error", "fail-entry", "other",
};

#define EXIT_REASON_OTHER (VIV_STATS_N_EXIT_REASONS - 1)
#define NS_PER_S 1e9

/* ---- Parsing ------------------------------------------------------------ */

static guint64
lookup_u64 (GVariantDict *dict,
            const char   *key)
{
  guint64 value = 0;

  /* A counter of the wrong type is treated as absent: the sample stays usable. */
  if (!g_variant_dict_lookup (dict, key, "t", &value))
    return 0;
  return value;
}

/* Sums one counter over an aa{sv} of devices (disks, NICs). */
static guint64
sum_devices (GVariantDict *dict,
             const char   *devices_key,
             const char   *counter)
{
  g_autoptr(GVariant) devices = g_variant_dict_lookup_value (dict, devices_key, G_VARIANT_TYPE ("aa{sv}"));
  GVariantIter iter;
  GVariant *device;
  guint64 sum = 0;

  if (devices == NULL)
    return 0;

  g_variant_iter_init (&iter, devices);
  while ((device = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint64 value = 0;

      if (g_variant_lookup (device, counter, "t", &value))
        sum += value;
      g_variant_unref (device);
    }
  return sum;
}

static guint
exit_reason_index (const char *reason)
{
  for (guint i = 0; i < VIV_STATS_N_EXIT_REASONS; i++)
    if (g_str_equal (viv_stats_exit_reasons[i], reason))
      return i;
  return EXIT_REASON_OTHER;
}

gboolean
viv_stats_counters_parse (GVariant          *stats,
                          VivStatsCounters  *sample,
                          GError           **error)
{
  g_autoptr(GVariant) vcpu_times = NULL;
  g_autoptr(GVariant) exits = NULL;
  guint64 time_ns;

  g_return_val_if_fail (stats != NULL, FALSE);
  g_return_val_if_fail (sample != NULL, FALSE);

  memset (sample, 0, sizeof *sample);

  if (!g_variant_is_of_type (stats, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Statistics must be a dictionary (a{sv}), not %s",
                   g_variant_get_type_string (stats));
      return FALSE;
    }

  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (stats);

  if (!g_variant_dict_lookup (&dict, "time-ns", "t", &time_ns) || time_ns > G_MAXINT64)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "Statistics have no “time-ns” (t): update the worker");
      return FALSE;
    }
  sample->time_ns = (gint64) time_ns;

  vcpu_times = g_variant_dict_lookup_value (&dict, "vcpu-time-ns", G_VARIANT_TYPE ("at"));
  if (vcpu_times != NULL)
    {
      gsize n = 0;
      const guint64 *times = g_variant_get_fixed_array (vcpu_times, &n, sizeof (guint64));

      sample->n_vcpus = MIN (n, VIV_STATS_MAX_VCPUS);
      memcpy (sample->vcpu_time_ns, times, sample->n_vcpus * sizeof (guint64));
    }

  exits = g_variant_dict_lookup_value (&dict, "exits", G_VARIANT_TYPE ("a{st}"));
  if (exits != NULL)
    {
      GVariantIter iter;
      const char *reason;
      guint64 count;

      g_variant_iter_init (&iter, exits);
      while (g_variant_iter_next (&iter, "{&st}", &reason, &count))
        sample->exits[exit_reason_index (reason)] += count;
    }
  if (!g_variant_dict_lookup (&dict, "exits-total", "t", &sample->exits_total))
    for (guint i = 0; i < VIV_STATS_N_EXIT_REASONS; i++)
      sample->exits_total += sample->exits[i];

  sample->memory_bytes = lookup_u64 (&dict, "memory-bytes");
  sample->resident_bytes = lookup_u64 (&dict, "resident-bytes");
  sample->has_balloon = g_variant_dict_lookup (&dict, "balloon-actual-bytes", "t",
                                               &sample->balloon_actual_bytes);
  sample->disk_read_bytes = sum_devices (&dict, "disks", "read-bytes");
  sample->disk_write_bytes = sum_devices (&dict, "disks", "write-bytes");
  sample->net_rx_bytes = sum_devices (&dict, "nics", "rx-bytes");
  sample->net_tx_bytes = sum_devices (&dict, "nics", "tx-bytes");

  return TRUE;
}

/* ---- Rates -------------------------------------------------------------- */

static gboolean
counter_rate (guint64  prev,
              guint64  cur,
              double   interval_s,
              double  *rate)
{
  if (cur < prev)
    return FALSE;
  *rate = (double) (cur - prev) / interval_s;
  return TRUE;
}

gboolean
viv_stats_compute_rates (const VivStatsCounters *prev,
                         const VivStatsCounters *cur,
                         VivStatsValues         *rates)
{
  double dt;
  double cpu_sum = 0;
  gboolean ok = TRUE;

  g_return_val_if_fail (prev != NULL, FALSE);
  g_return_val_if_fail (cur != NULL, FALSE);
  g_return_val_if_fail (rates != NULL, FALSE);

  memset (rates, 0, sizeof *rates);

  if (cur->time_ns <= prev->time_ns)
    return FALSE;
  dt = (double) (cur->time_ns - prev->time_ns) / NS_PER_S;
  rates->interval_s = dt;

  /* A vCPU count that changed means a different machine: no rate. */
  if (cur->n_vcpus != prev->n_vcpus)
    return FALSE;
  rates->n_vcpus = cur->n_vcpus;
  for (guint i = 0; i < cur->n_vcpus; i++)
    {
      double ns_per_s = 0;

      ok &= counter_rate (prev->vcpu_time_ns[i], cur->vcpu_time_ns[i], dt, &ns_per_s);
      /* A thread cannot use more than its core; timer skew can say so. */
      rates->vcpu_percent[i] = CLAMP (ns_per_s / NS_PER_S * 100.0, 0.0, 100.0);
      cpu_sum += rates->vcpu_percent[i];
    }
  rates->cpu_percent = cur->n_vcpus > 0 ? cpu_sum / cur->n_vcpus : 0.0;

  for (guint i = 0; i < VIV_STATS_N_EXIT_REASONS; i++)
    ok &= counter_rate (prev->exits[i], cur->exits[i], dt, &rates->exits_per_s[i]);
  ok &= counter_rate (prev->exits_total, cur->exits_total, dt, &rates->exits_total_per_s);

  ok &= counter_rate (prev->disk_read_bytes, cur->disk_read_bytes, dt, &rates->disk_read_bytes_per_s);
  ok &= counter_rate (prev->disk_write_bytes, cur->disk_write_bytes, dt, &rates->disk_write_bytes_per_s);
  ok &= counter_rate (prev->net_rx_bytes, cur->net_rx_bytes, dt, &rates->net_rx_bytes_per_s);
  ok &= counter_rate (prev->net_tx_bytes, cur->net_tx_bytes, dt, &rates->net_tx_bytes_per_s);

  /* Gauges: the newer value is the value. */
  rates->memory_bytes = (double) cur->memory_bytes;
  rates->resident_bytes = (double) cur->resident_bytes;
  rates->has_balloon = cur->has_balloon;
  rates->balloon_bytes = (double) cur->balloon_actual_bytes;

  return ok;
}

/* ---- The model ---------------------------------------------------------- */

struct _VivStatsModel
{
  GObject         parent_instance;

  /* owned */
  GDBusProxy     *machine;
  GHashTable     *series;        /* key → double[VIV_STATS_HISTORY], NAN where absent */
  gint64          times_ns[VIV_STATS_HISTORY];
  guint           head;          /* ring index of the oldest sample */
  guint           n_samples;
  guint           n_vcpus;
  gboolean        have_prev;
  VivStatsCounters  prev;
};

G_DEFINE_FINAL_TYPE (VivStatsModel, viv_stats_model, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MACHINE,
  PROP_N_SAMPLES,
  PROP_N_VCPUS,
  N_PROPS
};

enum {
  SAMPLE_ADDED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static double *
series_values (VivStatsModel *self,
               const char    *key)
{
  double *values = g_hash_table_lookup (self->series, key);

  if (values == NULL)
    {
      values = g_new (double, VIV_STATS_HISTORY);
      for (guint i = 0; i < VIV_STATS_HISTORY; i++)
        values[i] = NAN;
      g_hash_table_insert (self->series, g_strdup (key), values);
    }
  return values;
}

static void
set_value (VivStatsModel *self,
           guint          slot,
           const char    *key,
           double         value)
{
  series_values (self, key)[slot] = value;
}

/* Appends one sample of every series; the slot's old values (the oldest
 * sample, when the ring is full) are overwritten with NAN first, so a
 * series missing from this sample shows a gap. */
static void
append_rates (VivStatsModel       *self,
              gint64               time_ns,
              const VivStatsValues *rates)
{
  GHashTableIter iter;
  gpointer values;
  guint slot;

  if (self->n_samples < VIV_STATS_HISTORY)
    slot = (self->head + self->n_samples++) % VIV_STATS_HISTORY;
  else
    {
      slot = self->head;
      self->head = (self->head + 1) % VIV_STATS_HISTORY;
    }

  g_hash_table_iter_init (&iter, self->series);
  while (g_hash_table_iter_next (&iter, NULL, &values))
    ((double *) values)[slot] = NAN;

  self->times_ns[slot] = time_ns;
  set_value (self, slot, "cpu-total", rates->cpu_percent);
  for (guint i = 0; i < rates->n_vcpus; i++)
    {
      char key[32];

      g_snprintf (key, sizeof key, "cpu-vcpu-%u", i);
      set_value (self, slot, key, rates->vcpu_percent[i]);
    }
  set_value (self, slot, "memory-assigned", rates->memory_bytes);
  set_value (self, slot, "memory-resident", rates->resident_bytes);
  if (rates->has_balloon)
    set_value (self, slot, "memory-balloon", rates->balloon_bytes);
  set_value (self, slot, "disk-read", rates->disk_read_bytes_per_s);
  set_value (self, slot, "disk-write", rates->disk_write_bytes_per_s);
  set_value (self, slot, "net-rx", rates->net_rx_bytes_per_s);
  set_value (self, slot, "net-tx", rates->net_tx_bytes_per_s);
  set_value (self, slot, "exits-total", rates->exits_total_per_s);
  for (guint i = 0; i < VIV_STATS_N_EXIT_REASONS; i++)
    {
      char key[48];

      g_snprintf (key, sizeof key, "exits-%s", viv_stats_exit_reasons[i]);
      set_value (self, slot, key, rates->exits_per_s[i]);
    }
}

gboolean
viv_stats_model_add_stats (VivStatsModel  *self,
                           GVariant       *stats,
                           GError        **error)
{
  VivStatsCounters sample;
  VivStatsValues rates;
  gboolean comparable;

  g_return_val_if_fail (VIV_IS_STATS_MODEL (self), FALSE);
  g_return_val_if_fail (stats != NULL, FALSE);

  if (!viv_stats_counters_parse (stats, &sample, error))
    return FALSE;

  comparable = self->have_prev && viv_stats_compute_rates (&self->prev, &sample, &rates);
  self->prev = sample;
  self->have_prev = TRUE;
  /* The first sample, or the first of a new worker, only sets the base. */
  if (!comparable)
    return TRUE;

  append_rates (self, sample.time_ns, &rates);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SAMPLES]);
  if (self->n_vcpus != rates.n_vcpus)
    {
      self->n_vcpus = rates.n_vcpus;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_VCPUS]);
    }
  g_signal_emit (self, signals[SAMPLE_ADDED], 0);
  return TRUE;
}

static void
machine_signal_cb (VivStatsModel *self,
                   const char    *sender_name,
                   const char    *signal_name,
                   GVariant      *parameters,
                   GDBusProxy    *machine)
{
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (signal_name, "StatsUpdated"))
    return;
  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(a{sv})")))
    {
      g_warning ("Ignoring StatsUpdated of type %s", g_variant_get_type_string (parameters));
      return;
    }

  stats = g_variant_get_child_value (parameters, 0);
  if (!viv_stats_model_add_stats (self, stats, &error))
    g_warning ("Ignoring statistics from %s: %s",
               g_dbus_proxy_get_object_path (machine), error->message);
}

void
viv_stats_model_set_machine (VivStatsModel *self,
                             GDBusProxy    *machine)
{
  g_return_if_fail (VIV_IS_STATS_MODEL (self));
  g_return_if_fail (machine == NULL || G_IS_DBUS_PROXY (machine));

  if (self->machine == machine)
    return;

  if (self->machine != NULL)
    g_signal_handlers_disconnect_by_func (self->machine, machine_signal_cb, self);
  g_set_object (&self->machine, machine);
  /* A new worker's counters start again from zero. */
  self->have_prev = FALSE;
  if (machine != NULL)
    g_signal_connect_object (machine, "g-signal", G_CALLBACK (machine_signal_cb),
                             self, G_CONNECT_SWAPPED);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MACHINE]);
}

GDBusProxy *
viv_stats_model_get_machine (VivStatsModel *self)
{
  g_return_val_if_fail (VIV_IS_STATS_MODEL (self), NULL);
  return self->machine;
}

void
viv_stats_model_clear (VivStatsModel *self)
{
  g_return_if_fail (VIV_IS_STATS_MODEL (self));

  g_hash_table_remove_all (self->series);
  self->head = 0;
  self->n_samples = 0;
  self->have_prev = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SAMPLES]);
  g_signal_emit (self, signals[SAMPLE_ADDED], 0);
}

guint
viv_stats_model_get_n_samples (VivStatsModel *self)
{
  g_return_val_if_fail (VIV_IS_STATS_MODEL (self), 0);
  return self->n_samples;
}

gint64
viv_stats_model_get_sample_time (VivStatsModel *self,
                                 guint          index)
{
  g_return_val_if_fail (VIV_IS_STATS_MODEL (self), 0);
  g_return_val_if_fail (index < self->n_samples, 0);
  return self->times_ns[(self->head + index) % VIV_STATS_HISTORY];
}

gboolean
viv_stats_model_get_value (VivStatsModel *self,
                           const char    *series,
                           guint          index,
                           double        *value)
{
  const double *values;
  double v;

  g_return_val_if_fail (VIV_IS_STATS_MODEL (self), FALSE);
  g_return_val_if_fail (series != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  if (index >= self->n_samples)
    return FALSE;
  values = g_hash_table_lookup (self->series, series);
  if (values == NULL)
    return FALSE;
  v = values[(self->head + index) % VIV_STATS_HISTORY];
  if (isnan (v))
    return FALSE;
  *value = v;
  return TRUE;
}

gboolean
viv_stats_model_has_series (VivStatsModel *self,
                            const char    *series)
{
  g_return_val_if_fail (VIV_IS_STATS_MODEL (self), FALSE);
  return g_hash_table_contains (self->series, series);
}

guint
viv_stats_model_get_n_vcpus (VivStatsModel *self)
{
  g_return_val_if_fail (VIV_IS_STATS_MODEL (self), 0);
  return self->n_vcpus;
}

VivStatsModel *
viv_stats_model_new (void)
{
  return g_object_new (VIV_TYPE_STATS_MODEL, NULL);
}

static void
viv_stats_model_dispose (GObject *object)
{
  VivStatsModel *self = VIV_STATS_MODEL (object);

  viv_stats_model_set_machine (self, NULL);

  G_OBJECT_CLASS (viv_stats_model_parent_class)->dispose (object);
}

static void
viv_stats_model_finalize (GObject *object)
{
  VivStatsModel *self = VIV_STATS_MODEL (object);

  g_clear_pointer (&self->series, g_hash_table_unref);

  G_OBJECT_CLASS (viv_stats_model_parent_class)->finalize (object);
}

static void
viv_stats_model_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  VivStatsModel *self = VIV_STATS_MODEL (object);

  switch (prop_id)
    {
    case PROP_MACHINE:
      g_value_set_object (value, self->machine);
      break;
    case PROP_N_SAMPLES:
      g_value_set_uint (value, self->n_samples);
      break;
    case PROP_N_VCPUS:
      g_value_set_uint (value, self->n_vcpus);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_stats_model_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  VivStatsModel *self = VIV_STATS_MODEL (object);

  switch (prop_id)
    {
    case PROP_MACHINE:
      viv_stats_model_set_machine (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_stats_model_class_init (VivStatsModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = viv_stats_model_dispose;
  object_class->finalize = viv_stats_model_finalize;
  object_class->get_property = viv_stats_model_get_property;
  object_class->set_property = viv_stats_model_set_property;

  properties[PROP_MACHINE] =
    g_param_spec_object ("machine", NULL, NULL,
                         G_TYPE_DBUS_PROXY,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_N_SAMPLES] =
    g_param_spec_uint ("n-samples", NULL, NULL,
                       0, VIV_STATS_HISTORY, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_N_VCPUS] =
    g_param_spec_uint ("n-vcpus", NULL, NULL,
                       0, VIV_STATS_MAX_VCPUS, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* After every new sample (and after clear): redraw. */
  signals[SAMPLE_ADDED] =
    g_signal_new ("sample-added",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
viv_stats_model_init (VivStatsModel *self)
{
  self->series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}
