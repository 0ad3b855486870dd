#include "worker-service.h"
#include "worker-common.h"
#include "worker-console.h"
#include "worker-stats.h"
#include "viv-dbus-machine1.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATS_INTERVAL_SECONDS 1

struct VivWorkerService {
  GMainLoop         *loop;
  char              *control_path;

  VivWorkerConsole  *console;
  VivMachine        *machine;
  VivWorkerStats    *stats;
  /* A stop we asked for: it must win over a guest reset that came first
   * (the machine would reboot and forget it). */
  VivStopReason      stop_wanted;
  char              *failure;    /* the engine's error, when it crashed */

  VivDBusMachine1   *skeleton;
  GDBusAuthObserver *observer;
  GDBusServer       *server;
  GPtrArray         *connections;   /* of GDBusConnection*, owned */

  guint              stats_timer;
  guint              signal_sources[3];
};

/* ---- The machine ---------------------------------------------------------- */

static VivMachine *
create_machine (const VivVmDefinition *def, VivByteSink console, GError **error)
{
  g_autofree VivDiskConfig *disks = g_new0 (VivDiskConfig, MAX (def->disks->len, 1));
  g_autofree VivNetOptions *nets = g_new0 (VivNetOptions, MAX (def->nets->len, 1));
  for (guint i = 0; i < def->disks->len; i++)
    disks[i] = ((VivDiskSpec *) def->disks->pdata[i])->config;
  for (guint i = 0; i < def->nets->len; i++)
    if (!viv_net_options_parse (def->nets->pdata[i], &nets[i], error))
      {
        g_prefix_error (error, "network interface %u: ", i + 1);
        return NULL;
      }
  VivMachineConfig config = {
    .kernel_path = def->kernel,
    .initrd_path = def->initrd,
    .cmdline = def->cmdline,
    .memory_bytes = def->memory_bytes,
    .n_cpus = def->n_cpus,
    /* A guest reset restarts the machine, as on a PC (libvirt's on_reboot=restart). */
    .on_reset = VIV_RESET_REBOOT,
    .console = console,
    .console_kind = def->console_kind,
    .disks = disks,
    .n_disks = def->disks->len,
    .nets = nets,
    .n_nets = def->nets->len,
    .rng = def->rng,
    .balloon = def->balloon,
  };
  return viv_machine_new (&config, error);
}

static void
set_state (VivWorkerService *service, const char *state)
{
  viv_dbus_machine1_set_state (service->skeleton, state);
}

static const char *
get_state (VivWorkerService *service)
{
  return viv_dbus_machine1_get_state (service->skeleton);
}

static gboolean
on_stopped_idle (gpointer data)
{
  VivWorkerService *service = data;
  viv_worker_stats_sample_vcpus (service->stats);
  VivStopReason reason = viv_machine_finish (service->machine, NULL);
  if (reason == VIV_STOP_NONE)
    {
      /* A reset: the machine is already running again (and no longer paused). */
      viv_worker_stats_rebooted (service->stats);
      if (service->stop_wanted != VIV_STOP_NONE)
        viv_machine_request_stop (service->machine, service->stop_wanted, 0);
      else
        set_state (service, "running");
      return G_SOURCE_REMOVE;
    }
  if (reason == VIV_STOP_ERROR)
    {
      const char *message = viv_machine_get_error (service->machine);
      service->failure = g_strdup (message ? message : "the engine stopped with an error");
      g_printerr ("vivarium-worker: %s\n", service->failure);
      set_state (service, "crashed");
    }
  else
    set_state (service, "shut-off");
  g_main_loop_quit (service->loop);
  return G_SOURCE_REMOVE;
}

/* Any thread. */
static void
on_stopped (void *ctx)
{
  g_idle_add (on_stopped_idle, ctx);
}

static void
stop_machine (VivWorkerService *service, VivStopReason reason)
{
  if (reason != VIV_STOP_RESET)
    {
      service->stop_wanted = reason;
      set_state (service, "shutting-down");
    }
  viv_machine_request_stop (service->machine, reason, 0);
}

static gboolean
on_terminate_signal (gpointer data)
{
  /* SIGTERM, SIGINT, SIGHUP: as PowerOff. */
  stop_machine (data, VIV_STOP_USER);
  return G_SOURCE_CONTINUE;
}

/* ---- Machine1 methods ----------------------------------------------------- */

static gboolean
is_state (VivWorkerService *service, const char *state)
{
  return g_str_equal (get_state (service), state);
}

static gboolean
wrong_state (VivWorkerService *service, GDBusMethodInvocation *invocation, const char *what)
{
  g_dbus_method_invocation_return_error (invocation, VIV_MACHINE1_ERROR,
                                         VIV_MACHINE1_ERROR_WRONG_STATE,
                                         "the VM is %s; %s", get_state (service), what);
  return TRUE;
}

static gboolean
is_running_or_paused (VivWorkerService *service)
{
  return is_state (service, "running") || is_state (service, "paused");
}

/* After Shutdown: the guest runs on and may never act on the button. */
static gboolean
is_waiting_for_guest_shutdown (VivWorkerService *service)
{
  return is_state (service, "shutting-down") && service->stop_wanted == VIV_STOP_NONE;
}

static gboolean
on_pause (VivDBusMachine1 *skeleton, GDBusMethodInvocation *invocation, VivWorkerService *service)
{
  if (!is_state (service, "running"))
    return wrong_state (service, invocation, "only a running VM can be paused");
  viv_machine_pause (service->machine);
  set_state (service, "paused");
  viv_dbus_machine1_complete_pause (skeleton, invocation);
  return TRUE;
}

static gboolean
on_resume (VivDBusMachine1 *skeleton, GDBusMethodInvocation *invocation, VivWorkerService *service)
{
  if (!is_state (service, "paused"))
    return wrong_state (service, invocation, "only a paused VM can be resumed");
  viv_machine_resume (service->machine);
  set_state (service, "running");
  viv_dbus_machine1_complete_resume (skeleton, invocation);
  return TRUE;
}

static gboolean
on_shutdown (VivDBusMachine1 *skeleton, GDBusMethodInvocation *invocation, VivWorkerService *service)
{
  /* Pressed again while waiting: the guest may have missed a press.  Not
   * when paused, where the guest could not act on it. */
  if (!is_state (service, "running") && !is_waiting_for_guest_shutdown (service))
    return wrong_state (service, invocation, "only a running VM can be asked to shut down");
  viv_machine_press_power_button (service->machine);
  set_state (service, "shutting-down");
  viv_dbus_machine1_complete_shutdown (skeleton, invocation);
  return TRUE;
}

static gboolean
on_power_off (VivDBusMachine1 *skeleton, GDBusMethodInvocation *invocation, VivWorkerService *service)
{
  if (is_running_or_paused (service) || is_waiting_for_guest_shutdown (service))
    stop_machine (service, VIV_STOP_POWEROFF);
  else if (!is_state (service, "shutting-down"))
    return wrong_state (service, invocation, "there is nothing to power off");
  viv_dbus_machine1_complete_power_off (skeleton, invocation);
  return TRUE;
}

static gboolean
on_reset (VivDBusMachine1 *skeleton, GDBusMethodInvocation *invocation, VivWorkerService *service)
{
  if (!is_running_or_paused (service) && !is_waiting_for_guest_shutdown (service))
    return wrong_state (service, invocation, "only a running or paused VM can be reset");
  stop_machine (service, VIV_STOP_RESET);
  viv_dbus_machine1_complete_reset (skeleton, invocation);
  return TRUE;
}

static gboolean
on_set_balloon_target (VivDBusMachine1 *skeleton, GDBusMethodInvocation *invocation,
                       guint64 bytes, VivWorkerService *service)
{
  uint64_t memory = viv_machine_get_memory_bytes (service->machine);
  if (bytes > memory)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
          "a balloon of %" G_GUINT64_FORMAT " bytes is more than the VM's %" G_GUINT64_FORMAT
          " bytes of memory", bytes, memory);
      return TRUE;
    }
  if (!viv_machine_set_balloon_target (service->machine, bytes))
    {
      g_dbus_method_invocation_return_error_literal (invocation, VIV_MACHINE1_ERROR,
          VIV_MACHINE1_ERROR_NOT_SUPPORTED,
          "this VM has no memory balloon; add <memballoon model='virtio'/> to its definition");
      return TRUE;
    }
  viv_dbus_machine1_complete_set_balloon_target (skeleton, invocation);
  return TRUE;
}

static gboolean
on_get_stats (VivDBusMachine1 *skeleton, GDBusMethodInvocation *invocation, VivWorkerService *service)
{
  viv_dbus_machine1_complete_get_stats (skeleton, invocation,
                                        viv_worker_stats_collect (service->stats));
  return TRUE;
}

static gboolean
on_stats_timer (gpointer data)
{
  VivWorkerService *service = data;
  if (service->connections->len > 0)
    viv_dbus_machine1_emit_stats_updated (service->skeleton,
                                          viv_worker_stats_collect (service->stats));
  return G_SOURCE_CONTINUE;
}

/* ---- The control socket --------------------------------------------------- */

static gboolean
on_authorize_peer (GDBusAuthObserver *observer, GIOStream *stream, GCredentials *credentials,
                   gpointer data)
{
  /* The socket is 0600 in a 0700 directory; this is the second lock. */
  if (!credentials)
    return FALSE;
  g_autoptr (GError) error = NULL;
  uid_t uid = g_credentials_get_unix_user (credentials, &error);
  return uid != (uid_t) -1 && uid == getuid ();
}

static gboolean
on_allow_mechanism (GDBusAuthObserver *observer, const char *mechanism, gpointer data)
{
  return g_str_equal (mechanism, "EXTERNAL");
}

static void
on_connection_closed (GDBusConnection *connection, gboolean remote_peer_vanished,
                      GError *error, VivWorkerService *service)
{
  g_signal_handlers_disconnect_by_data (connection, service);
  g_dbus_interface_skeleton_unexport_from_connection (G_DBUS_INTERFACE_SKELETON (service->skeleton),
                                                      connection);
  g_ptr_array_remove_fast (service->connections, connection);
}

/* The gdbus tool of GLib 2.74 always treats an --address as a message
 * bus: it says Hello first and insists on a --dest.  Answering Hello (with
 * a unique name of the peer's own) is all it takes for `gdbus introspect`
 * and `gdbus call` to work here; the destination is ignored. */
static const char bus_hello_xml[] =
  "<node><interface name='org.freedesktop.DBus'>"
  "<method name='Hello'><arg type='s' name='unique_name' direction='out'/></method>"
  "</interface></node>";

static void
on_bus_method (GDBusConnection *connection, const char *sender, const char *path,
               const char *interface, const char *method, GVariant *parameters,
               GDBusMethodInvocation *invocation, gpointer data)
{
  static unsigned n_hellos;
  g_autofree char *name = g_strdup_printf (":1.%u", ++n_hellos);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", name));
}

static gboolean
answer_hello (GDBusConnection *connection, GError **error)
{
  static GDBusNodeInfo *bus_info;
  static const GDBusInterfaceVTable vtable = { .method_call = on_bus_method };
  if (!bus_info)
    bus_info = g_dbus_node_info_new_for_xml (bus_hello_xml, NULL);
  return g_dbus_connection_register_object (connection, "/org/freedesktop/DBus",
                                            bus_info->interfaces[0], &vtable, NULL, NULL, error) != 0;
}

static gboolean
on_new_connection (GDBusServer *server, GDBusConnection *connection, VivWorkerService *service)
{
  g_autoptr (GError) error = NULL;
  if (!answer_hello (connection, &error)
      || !g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (service->skeleton), connection,
                                            VIV_MACHINE1_OBJECT_PATH, &error))
    {
      g_printerr ("vivarium-worker: cannot serve a client: %s\n", error->message);
      return FALSE;
    }
  g_ptr_array_add (service->connections, g_object_ref (connection));
  g_signal_connect (connection, "closed", G_CALLBACK (on_connection_closed), service);
  return TRUE;
}

static gboolean
serve_control (VivWorkerService *service, const char *dir, GError **error)
{
  g_autofree char *address = viv_worker_control_address (dir);
  g_autofree char *guid = g_dbus_generate_guid ();
  service->control_path = g_build_filename (dir, VIV_WORKER_CONTROL_FILE, NULL);
  service->observer = g_dbus_auth_observer_new ();
  g_signal_connect (service->observer, "authorize-authenticated-peer",
                    G_CALLBACK (on_authorize_peer), service);
  g_signal_connect (service->observer, "allow-mechanism", G_CALLBACK (on_allow_mechanism), service);
  service->server = g_dbus_server_new_sync (address, G_DBUS_SERVER_FLAGS_NONE, guid,
                                            service->observer, NULL, error);
  if (!service->server)
    {
      g_prefix_error (error, "cannot serve D-Bus on %s: ", service->control_path);
      return FALSE;
    }
  if (g_chmod (service->control_path, 0600) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot chmod %s: %s",
                   service->control_path, g_strerror (saved));
      return FALSE;
    }
  g_signal_connect (service->server, "new-connection", G_CALLBACK (on_new_connection), service);
  g_dbus_server_start (service->server);
  return TRUE;
}

static VivDBusMachine1 *
new_skeleton (const VivVmDefinition *def, VivWorkerService *service)
{
  VivDBusMachine1 *skeleton = viv_dbus_machine1_skeleton_new ();
  viv_dbus_machine1_set_name (skeleton, def->name);
  viv_dbus_machine1_set_uuid (skeleton, def->uuid);
  viv_dbus_machine1_set_state (skeleton, "starting");
  viv_dbus_machine1_set_vcpus (skeleton, def->n_cpus);
  viv_dbus_machine1_set_memory_bytes (skeleton, def->memory_bytes);
  g_signal_connect (skeleton, "handle-pause", G_CALLBACK (on_pause), service);
  g_signal_connect (skeleton, "handle-resume", G_CALLBACK (on_resume), service);
  g_signal_connect (skeleton, "handle-shutdown", G_CALLBACK (on_shutdown), service);
  g_signal_connect (skeleton, "handle-power-off", G_CALLBACK (on_power_off), service);
  g_signal_connect (skeleton, "handle-reset", G_CALLBACK (on_reset), service);
  g_signal_connect (skeleton, "handle-set-balloon-target", G_CALLBACK (on_set_balloon_target), service);
  g_signal_connect (skeleton, "handle-get-stats", G_CALLBACK (on_get_stats), service);
  return skeleton;
}

/* ---- Life ----------------------------------------------------------------- */

VivWorkerService *
viv_worker_service_new (const VivVmDefinition *def, const char *dir, GMainLoop *loop,
                        GError **error)
{
  VivWorkerService *service = g_new0 (VivWorkerService, 1);
  service->loop = g_main_loop_ref (loop);
  service->connections = g_ptr_array_new_with_free_func (g_object_unref);
  service->skeleton = new_skeleton (def, service);
  g_autofree char *console_path = g_build_filename (dir, VIV_WORKER_CONSOLE_FILE, NULL);

  if (!(service->console = viv_worker_console_new (error))
      || !(service->machine = create_machine (def, viv_worker_console_sink (service->console), error))
      || !viv_worker_console_listen (service->console, console_path, service->machine, error)
      || !serve_control (service, dir, error))
    {
      viv_worker_service_free (service);
      return NULL;
    }
  service->stats = viv_worker_stats_new (service->machine);
  viv_machine_set_stopped_callback (service->machine, on_stopped, service);
  if (!viv_machine_start (service->machine, error))
    {
      viv_worker_service_free (service);
      return NULL;
    }
  set_state (service, "running");
  service->stats_timer = g_timeout_add_seconds (STATS_INTERVAL_SECONDS, on_stats_timer, service);
  service->signal_sources[0] = g_unix_signal_add (SIGTERM, on_terminate_signal, service);
  service->signal_sources[1] = g_unix_signal_add (SIGINT, on_terminate_signal, service);
  service->signal_sources[2] = g_unix_signal_add (SIGHUP, on_terminate_signal, service);
  return service;
}

const char *
viv_worker_service_get_failure (VivWorkerService *service)
{
  return service->failure;
}

static void
close_control (VivWorkerService *service)
{
  if (service->server)
    {
      /* Stopping the server removes its socket: no new client from here on. */
      g_dbus_server_stop (service->server);
      g_clear_object (&service->server);
    }
  /* Send the last State change, then hang up on everyone. */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (service->skeleton));
  while (service->connections->len > 0)
    {
      GDBusConnection *connection = g_object_ref (service->connections->pdata[0]);
      on_connection_closed (connection, FALSE, NULL, service);
      g_dbus_connection_flush_sync (connection, NULL, NULL);
      g_dbus_connection_close_sync (connection, NULL, NULL);
      g_object_unref (connection);
    }
}

void
viv_worker_service_free (VivWorkerService *service)
{
  if (!service)
    return;
  for (size_t i = 0; i < G_N_ELEMENTS (service->signal_sources); i++)
    g_clear_handle_id (&service->signal_sources[i], g_source_remove);
  g_clear_handle_id (&service->stats_timer, g_source_remove);
  close_control (service);
  if (service->console)
    viv_worker_console_close (service->console);
  /* The vCPU and I/O threads end here; the console sink is used until then. */
  g_clear_pointer (&service->machine, viv_machine_free);
  g_clear_pointer (&service->console, viv_worker_console_free);
  g_clear_pointer (&service->stats, viv_worker_stats_free);
  g_clear_object (&service->skeleton);
  g_clear_object (&service->observer);
  g_ptr_array_unref (service->connections);
  g_main_loop_unref (service->loop);
  g_free (service->control_path);
  g_free (service->failure);
  g_free (service);
}
