/* vivctl stats NAME [--watch] [--json]: a running VM's statistics, once
 * (GetStats) or each second (StatsUpdated) until the VM stops. */
#include "vivctl-vm.h"
#include "stats-sample.h"

#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>

static char *
to_json (GVariant *stats, gboolean pretty)
{
  g_autoptr (JsonNode) node = json_gvariant_serialize (stats);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_pretty (generator, pretty);
  json_generator_set_root (generator, node);
  return json_generator_to_data (generator, NULL);
}

static char *
size_text (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

static guint64
u64 (GVariant *dict, const char *key)
{
  guint64 value = 0;
  g_variant_lookup (dict, key, "t", &value);
  return value;
}

static void
print_exits (GVariant *stats)
{
  g_autoptr (GVariant) exits = g_variant_lookup_value (stats, "exits", G_VARIANT_TYPE ("a{st}"));
  printf ("VM exits:      %" G_GUINT64_FORMAT, u64 (stats, "exits-total"));
  if (exits)
    {
      GVariantIter iter;
      const char *kind;
      guint64 count;
      const char *separator = " (";
      g_variant_iter_init (&iter, exits);
      while (g_variant_iter_next (&iter, "{&st}", &kind, &count))
        if (count > 0)
          {
            printf ("%s%s %" G_GUINT64_FORMAT, separator, kind, count);
            separator = ", ";
          }
      if (separator[0] == ',')
        printf (")");
    }
  printf ("\n");
}

static void
print_devices (GVariant *stats)
{
  g_autoptr (GVariant) disks = g_variant_lookup_value (stats, "disks", G_VARIANT_TYPE ("aa{sv}"));
  for (gsize i = 0; disks && i < g_variant_n_children (disks); i++)
    {
      g_autoptr (GVariant) disk = g_variant_get_child_value (disks, i);
      g_autofree char *read = size_text (u64 (disk, "read-bytes"));
      g_autofree char *written = size_text (u64 (disk, "write-bytes"));
      printf ("Disk vd%c:      read %s in %" G_GUINT64_FORMAT " requests, wrote %s in %" G_GUINT64_FORMAT
              " requests, %" G_GUINT64_FORMAT " flushes, %" G_GUINT64_FORMAT " errors\n",
              (char) ('a' + MIN (i, 25)), read, u64 (disk, "read-ops"), written, u64 (disk, "write-ops"),
              u64 (disk, "flush-ops"), u64 (disk, "errors"));
    }
  g_autoptr (GVariant) nics = g_variant_lookup_value (stats, "nics", G_VARIANT_TYPE ("aa{sv}"));
  for (gsize i = 0; nics && i < g_variant_n_children (nics); i++)
    {
      g_autoptr (GVariant) nic = g_variant_get_child_value (nics, i);
      g_autofree char *rx = size_text (u64 (nic, "rx-bytes"));
      g_autofree char *tx = size_text (u64 (nic, "tx-bytes"));
      printf ("NIC %-2zu         received %s in %" G_GUINT64_FORMAT " packets (%" G_GUINT64_FORMAT
              " dropped), sent %s in %" G_GUINT64_FORMAT " packets (%" G_GUINT64_FORMAT " dropped)\n",
              i, rx, u64 (nic, "rx-packets"), u64 (nic, "rx-dropped"), tx, u64 (nic, "tx-packets"),
              u64 (nic, "tx-dropped"));
    }
}

static void
print_stats (const char *name, VivDBusMachine1 *vm, GVariant *stats)
{
  printf ("VM:            %s (%s)\n", name, viv_dbus_machine1_get_state (vm));
  printf ("Worker CPU:    %.3f s\n", u64 (stats, "worker-cpu-time-ns") / 1e9);
  g_autoptr (GVariant) vcpu_times = g_variant_lookup_value (stats, "vcpu-time-ns", G_VARIANT_TYPE ("at"));
  for (gsize i = 0; vcpu_times && i < g_variant_n_children (vcpu_times); i++)
    {
      guint64 ns;
      g_variant_get_child (vcpu_times, i, "t", &ns);
      printf ("vCPU %-2zu CPU:   %.3f s\n", i, ns / 1e9);
    }
  print_exits (stats);
  g_autofree char *memory = size_text (u64 (stats, "memory-bytes"));
  g_autofree char *resident = size_text (u64 (stats, "resident-bytes"));
  printf ("Memory:        %s, %s resident\n", memory, resident);
  guint64 balloon_target;
  if (g_variant_lookup (stats, "balloon-target-bytes", "t", &balloon_target))
    {
      g_autofree char *target = size_text (balloon_target);
      g_autofree char *actual = size_text (u64 (stats, "balloon-actual-bytes"));
      printf ("Balloon:       target %s, holds %s\n", target, actual);
    }
  print_devices (stats);
}

typedef struct {
  GMainLoop      *loop;
  gboolean        json;
  VivStatsSample  previous;
} Watch;

static void
on_stats_updated (VivDBusMachine1 *vm, GVariant *stats, gpointer data)
{
  Watch *watch = data;
  if (watch->json)
    {
      g_autofree char *line = to_json (stats, FALSE);
      printf ("%s\n", line);
      fflush (stdout);
      return;
    }
  VivStatsSample sample;
  VivStatsRates rates;
  viv_stats_sample_from_variant (stats, &sample);
  if (viv_stats_rates (&watch->previous, &sample, &rates))
    {
      g_autofree char *read = viv_stats_format_bytes (rates.disk_read_per_s);
      g_autofree char *written = viv_stats_format_bytes (rates.disk_write_per_s);
      g_autofree char *rx = viv_stats_format_bytes (rates.net_rx_per_s);
      g_autofree char *tx = viv_stats_format_bytes (rates.net_tx_per_s);
      g_autofree char *resident = viv_stats_format_bytes (sample.resident_bytes);
      printf ("%-13s cpu %6.1f%%  exits/s %8.0f  disk r %6s/s w %6s/s  net rx %6s/s tx %6s/s  resident %s\n",
              viv_dbus_machine1_get_state (vm), rates.cpu_percent, rates.exits_per_s, read, written, rx, tx,
              resident);
      fflush (stdout);
    }
  watch->previous = sample;
}

static void
on_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error, gpointer data)
{
  g_main_loop_quit (((Watch *) data)->loop);
}

static gboolean
on_interrupt (gpointer data)
{
  g_main_loop_quit (((Watch *) data)->loop);
  return G_SOURCE_CONTINUE;
}

int
vivctl_stats (int argc, char **argv)
{
  gboolean watch_mode = FALSE, json = FALSE;
  GOptionEntry entries[] = {
    { "watch", 0, 0, G_OPTION_ARG_NONE, &watch_mode, "Print a line (rates) each second until the VM stops", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the worker's statistics as JSON (one object per line with --watch)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("NAME - show a running VM's statistics");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!vivctl_vm_parse_args (context, &argc, &argv, "NAME [--watch] [--json]", 1))
    return VIVCTL_EXIT_USAGE;

  const char *name = argv[1];
  g_autoptr (GError) error = NULL;
  g_autoptr (VivDBusMachine1) vm = vivctl_vm_connect (name, NULL, &error);
  g_autoptr (GVariant) stats = NULL;
  if (!vm || !viv_dbus_machine1_call_get_stats_sync (vm, &stats, NULL, &error))
    {
      if (error && g_dbus_error_is_remote_error (error))
        g_dbus_error_strip_remote_error (error);
      return vivctl_vm_report (error);
    }
  if (!watch_mode)
    {
      if (json)
        {
          g_autofree char *text = to_json (stats, TRUE);
          printf ("%s\n", text);
        }
      else
        print_stats (name, vm, stats);
      return 0;
    }

  Watch watch = { .loop = g_main_loop_new (NULL, FALSE), .json = json };
  viv_stats_sample_from_variant (stats, &watch.previous);
  if (json)
    on_stats_updated (vm, stats, &watch);
  GDBusConnection *bus = g_dbus_proxy_get_connection (G_DBUS_PROXY (vm));
  gulong updated = g_signal_connect (vm, "stats-updated", G_CALLBACK (on_stats_updated), &watch);
  gulong closed = g_signal_connect (bus, "closed", G_CALLBACK (on_closed), &watch);
  guint sigint = g_unix_signal_add (SIGINT, on_interrupt, &watch);
  guint sigterm = g_unix_signal_add (SIGTERM, on_interrupt, &watch);
  if (!g_dbus_connection_is_closed (bus))
    g_main_loop_run (watch.loop);
  g_signal_handler_disconnect (vm, updated);
  g_signal_handler_disconnect (bus, closed);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_main_loop_unref (watch.loop);
  return 0;
}
