/* vivarium-worker end to end: real workers running the probe guest
 * (PROBE_ELF), driven through worker-client.h and io.github.vivarium.Machine1
 * (and the gdbus tool).  Private XDG_RUNTIME_DIR and library. */
#include "library.h"
#include "worker-client.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "viv-test-fs.h"

#define MiB (1024 * 1024)
#define TIMEOUT_MS 10000
/* The irq mode idles in hlt until a byte comes: a quiet guest. */
#define IDLE_CMDLINE "probe.mode=irq"
/* The balloon mode polls its device without interrupts: one busy vCPU. */
/* The demo: a banner, then a prompt on the serial port. */
#define DEMO_CMDLINE "probe.mode=demo"
#define BUSY_CMDLINE "probe.mode=balloon probe.balloon_follow_ms=600000"
#define CYCLES 50

static struct {
  char       *tmp;
  char       *library_root;
  VivLibrary *lib;
} env;

/* ---- Set-up ----------------------------------------------------------- */

static void
define_vm (const char *name, const char *kernel, const char *cmdline, gboolean devices)
{
  g_autoptr (VivVmDefinition) def = viv_vm_definition_new ();
  def->name = g_strdup (name);
  def->kernel = g_strdup (kernel);
  def->cmdline = g_strdup (cmdline);
  def->memory_bytes = 64 * MiB;
  def->n_cpus = 1;
  g_autoptr (GError) error = NULL;
  if (devices)
    {
      g_autofree char *image = g_build_filename (env.tmp, "disk.img", NULL);
      g_autofree char *zeros = g_malloc0 (MiB);
      g_assert_true (g_file_set_contents (image, zeros, MiB, NULL));
      VivDiskSpec *disk = g_new0 (VivDiskSpec, 1);
      g_assert_true (viv_disk_spec_parse (image, disk, &error));
      g_ptr_array_add (def->disks, disk);
      g_ptr_array_add (def->nets, g_strdup ("user,restrict=on"));
      def->balloon = TRUE;
    }
  g_assert_true (viv_library_define (env.lib, def, 0, &error));
  g_assert_no_error (error);
}

/* ---- A running VM, as a client sees it ----------------------------------- */

typedef struct {
  VivWorkerInfo   *info;
  GDBusConnection *bus;
  VivDBusMachine1 *machine;
} Vm;

static void
vm_start (Vm *vm, const char *name)
{
  g_autoptr (GError) error = NULL;
  vm->info = viv_worker_client_start (env.library_root, name, TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vm->info->name, ==, name);
  vm->bus = viv_worker_client_connect (vm->info, NULL, &error);
  g_assert_no_error (error);
  vm->machine = viv_worker_client_get_machine (vm->bus, NULL, &error);
  g_assert_no_error (error);
}

static void
vm_clear (Vm *vm)
{
  g_clear_object (&vm->machine);
  if (vm->bus)
    g_dbus_connection_close_sync (vm->bus, NULL, NULL);
  g_clear_object (&vm->bus);
  g_clear_pointer (&vm->info, viv_worker_info_free);
}

static void
spin (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_usleep (5000);
}

static gboolean
wait_state (Vm *vm, const char *state)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * 1000;
  while (g_strcmp0 (viv_dbus_machine1_get_state (vm->machine), state) != 0)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      spin ();
    }
  return TRUE;
}

static gboolean
path_exists (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* PowerOff: the client sees "shut-off", then the worker hangs up, exits
 * and leaves nothing behind. */
static void
vm_power_off (Vm *vm)
{
  g_autoptr (GError) error = NULL;
  viv_dbus_machine1_call_power_off_sync (vm->machine, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (wait_state (vm, "shut-off"));
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * 1000;
  while (!g_dbus_connection_is_closed (vm->bus) && g_get_monotonic_time () < deadline)
    spin ();
  g_assert_true (g_dbus_connection_is_closed (vm->bus));
  g_assert_true (viv_worker_client_wait_exit (vm->info, TIMEOUT_MS, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (vm->info->dir, G_FILE_TEST_EXISTS));
  vm_clear (vm);
}

/* ---- The console -------------------------------------------------------- */

typedef struct {
  int      fd;
  GString *seen;
} Console;

static void
console_open (Console *console, const VivWorkerInfo *info)
{
  g_autoptr (GError) error = NULL;
  console->fd = viv_worker_client_open_console (info, &error);
  g_assert_no_error (error);
  console->seen = g_string_new (NULL);
}

static void
console_close (Console *console)
{
  close (console->fd);
  g_string_free (console->seen, TRUE);
}

static unsigned
count (const char *haystack, const char *needle)
{
  unsigned n = 0;
  for (const char *p = haystack; (p = strstr (p, needle)); p += strlen (needle))
    n++;
  return n;
}

/* Reads until `needle` has been seen `times` times or timeout_ms passed. */
static gboolean
console_wait_n (Console *console, const char *needle, unsigned times, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (count (console->seen->str, needle) < times)
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      struct pollfd pfd = { .fd = console->fd, .events = POLLIN };
      if (left <= 0 || poll (&pfd, 1, left) <= 0)
        return FALSE;
      char buf[4096];
      ssize_t n = read (console->fd, buf, sizeof buf);
      if (n <= 0)
        return FALSE;
      g_string_append_len (console->seen, buf, n);
    }
  return TRUE;
}

static gboolean
console_wait (Console *console, const char *needle, int timeout_ms)
{
  return console_wait_n (console, needle, 1, timeout_ms);
}

static void
console_send (Console *console, const char *text)
{
  g_assert_cmpint (write (console->fd, text, strlen (text)), ==, (gssize) strlen (text));
}

/* ---- Tests -------------------------------------------------------------- */

static void
test_lifecycle (void)
{
  Vm vm = { 0 };
  vm_start (&vm, "alpha");
  g_assert_cmpstr (viv_dbus_machine1_get_name (vm.machine), ==, "alpha");
  g_assert_cmpstr (viv_dbus_machine1_get_uuid (vm.machine), ==, vm.info->uuid);
  g_assert_cmpstr (viv_dbus_machine1_get_state (vm.machine), ==, "running");
  g_assert_cmpuint (viv_dbus_machine1_get_vcpus (vm.machine), ==, 1);
  g_assert_cmpuint (viv_dbus_machine1_get_memory_bytes (vm.machine), ==, 64 * MiB);
  /* The directory is private; so are the sockets. */
  GStatBuf st;
  g_assert_cmpint (g_stat (vm.info->dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_autofree char *control = g_build_filename (vm.info->dir, VIV_WORKER_CONTROL_FILE, NULL);
  g_assert_cmpint (g_stat (control, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (vm.info->console_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  Console console;
  console_open (&console, vm.info);
  g_assert_true (console_wait (&console, "PROBE irq ready", TIMEOUT_MS));

  /* Paused: the guest does not answer. */
  g_autoptr (GError) error = NULL;
  viv_dbus_machine1_call_pause_sync (vm.machine, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (wait_state (&vm, "paused"));
  console_send (&console, "a");
  g_assert_false (console_wait (&console, "PROBE irq rx=0x61", 500));
  viv_dbus_machine1_call_pause_sync (vm.machine, NULL, &error);
  g_assert_error (error, VIV_MACHINE1_ERROR, VIV_MACHINE1_ERROR_WRONG_STATE);
  g_clear_error (&error);
  /* A paused guest could not act on the power button. */
  viv_dbus_machine1_call_shutdown_sync (vm.machine, NULL, &error);
  g_assert_error (error, VIV_MACHINE1_ERROR, VIV_MACHINE1_ERROR_WRONG_STATE);
  g_clear_error (&error);

  /* Resumed: it takes the byte it was sent meanwhile. */
  viv_dbus_machine1_call_resume_sync (vm.machine, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (wait_state (&vm, "running"));
  g_assert_true (console_wait (&console, "PROBE irq rx=0x61", TIMEOUT_MS));
  viv_dbus_machine1_call_resume_sync (vm.machine, NULL, &error);
  g_assert_error (error, VIV_MACHINE1_ERROR, VIV_MACHINE1_ERROR_WRONG_STATE);
  g_clear_error (&error);

  /* No balloon in this VM: said clearly. */
  viv_dbus_machine1_call_set_balloon_target_sync (vm.machine, MiB, NULL, &error);
  g_assert_error (error, VIV_MACHINE1_ERROR, VIV_MACHINE1_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  /* Reset, even from paused: the guest boots again and runs. */
  viv_dbus_machine1_call_pause_sync (vm.machine, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (wait_state (&vm, "paused"));
  viv_dbus_machine1_call_reset_sync (vm.machine, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (console_wait_n (&console, "PROBE irq ready", 2, TIMEOUT_MS));
  g_assert_true (wait_state (&vm, "running"));

  /* Shutdown presses the ACPI power button.  The probe guest ignores it
   * and runs on in "shutting-down"; pressing again is allowed, and
   * PowerOff (below) still stops it. */
  viv_dbus_machine1_call_shutdown_sync (vm.machine, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (wait_state (&vm, "shutting-down"));
  console_send (&console, "b");
  g_assert_true (console_wait (&console, "PROBE irq rx=0x62", TIMEOUT_MS));
  viv_dbus_machine1_call_shutdown_sync (vm.machine, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (viv_dbus_machine1_get_state (vm.machine), ==, "shutting-down");

  /* The console client stays until the worker hangs up. */
  vm_power_off (&vm);
  g_assert_false (console_wait (&console, "never printed", TIMEOUT_MS));
  console_close (&console);
}

static char *
run_gdbus (const char *const *argv)
{
  g_autofree char *out = NULL, *err = NULL;
  int status;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[1], err);
  return g_steal_pointer (&out);
}

/* Any D-Bus client can drive a worker: here the gdbus tool. */
static void
test_gdbus_tool (void)
{
  Vm vm = { 0 };
  vm_start (&vm, "alpha");
  const char *address = vm.info->control_address;
  const char *introspect[] = { "gdbus", "introspect", "--address", address,
                               "--dest", "io.github.vivarium.Machine1", "--object-path", VIV_MACHINE1_OBJECT_PATH, NULL };
  g_autofree char *xml = run_gdbus (introspect);
  g_assert_nonnull (strstr (xml, "interface io.github.vivarium.Machine1"));
  g_assert_nonnull (strstr (xml, "SetBalloonTarget"));
  g_assert_nonnull (strstr (xml, "StatsUpdated"));

  const char *get_state[] = { "gdbus", "call", "--address", address,
                              "--dest", "io.github.vivarium.Machine1", "--object-path", VIV_MACHINE1_OBJECT_PATH,
                              "--method", "org.freedesktop.DBus.Properties.Get",
                              "io.github.vivarium.Machine1", "State", NULL };
  g_autofree char *state = run_gdbus (get_state);
  g_assert_cmpstr (state, ==, "(<'running'>,)\n");

  const char *get_stats[] = { "gdbus", "call", "--address", address,
                              "--dest", "io.github.vivarium.Machine1", "--object-path", VIV_MACHINE1_OBJECT_PATH,
                              "--method", "io.github.vivarium.Machine1.GetStats", NULL };
  g_autofree char *stats = run_gdbus (get_stats);
  g_assert_nonnull (strstr (stats, "'vcpu-time-ns'"));

  const char *power_off[] = { "gdbus", "call", "--address", address,
                              "--dest", "io.github.vivarium.Machine1", "--object-path", VIV_MACHINE1_OBJECT_PATH,
                              "--method", "io.github.vivarium.Machine1.PowerOff", NULL };
  g_free (run_gdbus (power_off));
  g_autoptr (GError) error = NULL;
  g_assert_true (viv_worker_client_wait_exit (vm.info, TIMEOUT_MS, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (vm.info->dir, G_FILE_TEST_EXISTS));
  vm_clear (&vm);
}

/* A late console client gets the scrollback (the demo's banner); every
 * client sees the output, and input from any of them reaches the guest. */
static void
test_console_scrollback (void)
{
  Vm vm = { 0 };
  vm_start (&vm, "demo");
  Console first, late;
  console_open (&first, vm.info);
  g_assert_true (console_wait (&first, "probe> ", TIMEOUT_MS));
  console_open (&late, vm.info);
  g_assert_true (console_wait (&late, "probe> ", TIMEOUT_MS));
  g_assert_nonnull (strstr (late.seen->str, "Vivarium probe guest"));
  g_assert_nonnull (strstr (late.seen->str, "PROBE cmdline=" DEMO_CMDLINE));

  console_send (&late, "help\r");
  g_assert_true (console_wait (&late, "commands:", TIMEOUT_MS));
  g_assert_true (console_wait (&first, "commands:", TIMEOUT_MS));
  console_send (&first, "cpus\r");
  g_assert_true (console_wait (&late, "CPUs listed", TIMEOUT_MS));
  console_close (&first);
  console_close (&late);
  vm_power_off (&vm);
}

static guint64 vcpu0 (GVariant *stats, const char *key);
static guint64 stat_u64 (GVariant *stats, const char *key);

/* The guest's own ends: a power-off ends the worker cleanly; a reset
 * reboots the machine (statistics carry on), and PowerOff still wins
 * over a guest that keeps resetting. */
static void
test_guest_stops (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivWorkerInfo) info = viv_worker_client_start (env.library_root, "poweroff", TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_true (viv_worker_client_wait_exit (info, TIMEOUT_MS, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (info->dir, G_FILE_TEST_EXISTS));

  Vm vm = { 0 };
  vm_start (&vm, "resetter");
  Console console;
  console_open (&console, vm.info);
  /* Counters never go back across the reboots. */
  guint64 last_time = 0, last_exits = 0, first_exits = 0;
  for (unsigned resets = 1; resets <= 6; resets++)
    {
      g_assert_true (console_wait_n (&console, "PROBE reset", resets, TIMEOUT_MS));
      g_autoptr (GVariant) stats = NULL;
      g_assert_true (viv_dbus_machine1_call_get_stats_sync (vm.machine, &stats, NULL, &error));
      g_assert_cmpuint (vcpu0 (stats, "vcpu-time-ns"), >=, last_time);
      g_assert_cmpuint (stat_u64 (stats, "exits-total"), >=, last_exits);
      last_time = vcpu0 (stats, "vcpu-time-ns");
      last_exits = stat_u64 (stats, "exits-total");
      first_exits = first_exits ? first_exits : last_exits;
    }
  g_assert_cmpuint (last_exits, >, first_exits);
  g_assert_null (strstr (console.seen->str, "still-running"));
  console_close (&console);
  vm_power_off (&vm);
}

static VivWorkerInfo *
wait_crash_record (const char *name)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      VivWorkerInfo *info = viv_worker_client_find (name, NULL);
      if (info && info->crashed)
        return info;
      g_clear_pointer (&info, viv_worker_info_free);
      g_usleep (20000);
    }
  return NULL;
}

/* Two VMs; one worker is killed: its VM shows "crashed" with the signal,
 * its sockets are gone, the other VM carries on. */
static void
test_crash (void)
{
  Vm alpha = { 0 }, beta = { 0 };
  vm_start (&alpha, "alpha");
  vm_start (&beta, "beta");
  g_assert_cmpstr (alpha.info->uuid, !=, beta.info->uuid);
  g_autoptr (GError) error = NULL;
  g_autoptr (VivWorkerInfo) again = viv_worker_client_start (env.library_root, "beta", TIMEOUT_MS, &error);
  g_assert_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_ALREADY_RUNNING);
  g_clear_error (&error);
  g_assert_true (viv_worker_client_is_running (alpha.info->uuid));

  g_assert_cmpint (kill (alpha.info->pid, SIGKILL), ==, 0);
  g_autoptr (VivWorkerInfo) record = wait_crash_record ("alpha");
  g_assert_nonnull (record);
  g_assert_cmpint (record->crash_signal, ==, SIGKILL);
  g_assert_nonnull (strstr (record->crash_reason, "signal 9"));
  g_assert_false (path_exists (record->dir, VIV_WORKER_CONTROL_FILE));
  g_assert_false (path_exists (record->dir, VIV_WORKER_CONSOLE_FILE));
  g_assert_false (viv_worker_client_is_running (alpha.info->uuid));
  g_assert_null (viv_worker_client_connect (record, NULL, &error));
  g_assert_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_CRASHED);
  g_clear_error (&error);

  /* The list shows both: the record and the live one. */
  g_autoptr (GPtrArray) all = viv_worker_client_list (&error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpstr (((VivWorkerInfo *) all->pdata[0])->name, ==, "alpha");
  g_assert_true (((VivWorkerInfo *) all->pdata[0])->crashed);
  g_assert_false (((VivWorkerInfo *) all->pdata[1])->crashed);

  /* The other VM is untouched. */
  g_autoptr (GVariant) stats = NULL;
  g_assert_true (viv_dbus_machine1_call_get_stats_sync (beta.machine, &stats, NULL, &error));
  g_assert_no_error (error);
  Console console;
  console_open (&console, beta.info);
  g_assert_true (console_wait (&console, "PROBE irq ready", TIMEOUT_MS));
  console_send (&console, "z");
  g_assert_true (console_wait (&console, "PROBE irq rx=0x7a", TIMEOUT_MS));
  console_close (&console);

  /* Starting the crashed VM again replaces its record. */
  vm_clear (&alpha);
  vm_start (&alpha, "alpha");
  g_assert_cmpstr (viv_dbus_machine1_get_state (alpha.machine), ==, "running");
  g_assert_false (path_exists (alpha.info->dir, VIV_WORKER_STATUS_FILE));
  vm_power_off (&alpha);
  vm_power_off (&beta);

  /* A record stays until it is forgotten. */
  vm_start (&alpha, "alpha");
  g_assert_cmpint (kill (alpha.info->pid, SIGKILL), ==, 0);
  g_autoptr (VivWorkerInfo) second = wait_crash_record ("alpha");
  g_assert_nonnull (second);
  g_assert_true (viv_worker_client_forget (second, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (second->dir, G_FILE_TEST_EXISTS));
  vm_clear (&alpha);
}

/* What a worker that cannot start says, and what it leaves: nothing. */
static void
test_start_failures (void)
{
  g_autoptr (GError) error = NULL;
  /* No worker program: the error names the one it tried. */
  if (g_test_subprocess ())
    {
      g_setenv ("VIVARIUM_WORKER", "/nonexistent/vivarium-worker", TRUE);
      g_assert_null (viv_worker_client_start (env.library_root, "alpha", TIMEOUT_MS, &error));
      g_printerr ("%s\n", error->message);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*cannot run the VM worker /nonexistent/vivarium-worker*");

  g_assert_null (viv_worker_client_start (env.library_root, "nosuchvm", TIMEOUT_MS, &error));
  g_assert_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_START_FAILED);
  g_assert_nonnull (strstr (error->message, "nosuchvm"));
  g_clear_error (&error);

  g_assert_null (viv_worker_client_start (env.library_root, "notakernel", TIMEOUT_MS, &error));
  g_assert_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_START_FAILED);
  g_assert_nonnull (strstr (error->message, "not-a-kernel"));
  g_clear_error (&error);

  g_autoptr (GPtrArray) all = viv_worker_client_list (&error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 0);
}

static GVariant *stats_signals[3];
static unsigned n_stats_signals;

static void
on_stats_updated (VivDBusMachine1 *machine, GVariant *stats, gpointer data)
{
  if (n_stats_signals < G_N_ELEMENTS (stats_signals))
    stats_signals[n_stats_signals++] = g_variant_ref (stats);
}

static guint64
stat_u64 (GVariant *stats, const char *key)
{
  guint64 value;
  g_assert_true (g_variant_lookup (stats, key, "t", &value));
  return value;
}

static guint64
vcpu0 (GVariant *stats, const char *key)
{
  g_autoptr (GVariant) times = g_variant_lookup_value (stats, key, G_VARIANT_TYPE ("at"));
  g_assert_nonnull (times);
  g_assert_cmpuint (g_variant_n_children (times), ==, 1);
  guint64 ns;
  g_variant_get_child (times, 0, "t", &ns);
  return ns;
}

/* Shares of the time between two samples vCPU 0 ran, and ran or waited
 * for a host CPU (other work on the host takes some). */
static void
vcpu0_shares (GVariant *before, GVariant *after, double *ran, double *wanted)
{
  double elapsed = stat_u64 (after, "time-ns") - stat_u64 (before, "time-ns");
  g_assert_cmpfloat (elapsed, >, 0.5e9);
  double run = vcpu0 (after, "vcpu-time-ns") - vcpu0 (before, "vcpu-time-ns");
  double wait = vcpu0 (after, "vcpu-wait-ns") - vcpu0 (before, "vcpu-wait-ns");
  *ran = run / elapsed;
  *wanted = (run + wait) / elapsed;
  g_test_message ("vCPU 0 over %.2f s: ran %.0f%%, waited for a host CPU %.0f%%",
                  elapsed / 1e9, run / elapsed * 100, wait / elapsed * 100);
}

static void
assert_device_keys (GVariant *stats, const char *array, const char *const *keys)
{
  g_autoptr (GVariant) devices = g_variant_lookup_value (stats, array, G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (devices);
  g_assert_cmpuint (g_variant_n_children (devices), ==, 1);
  g_autoptr (GVariant) device = g_variant_get_child_value (devices, 0);
  for (; *keys; keys++)
    stat_u64 (device, *keys);
}

/* A busy vCPU shows as ~100% of one host CPU; the keys are all there;
 * the balloon follows SetBalloonTarget. */
static void
test_stats (void)
{
  Vm vm = { 0 };
  vm_start (&vm, "busy");
  n_stats_signals = 0;
  g_signal_connect (vm.machine, "stats-updated", G_CALLBACK (on_stats_updated), NULL);
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * 1000;
  while (n_stats_signals < 3 && g_get_monotonic_time () < deadline)
    spin ();
  g_assert_cmpuint (n_stats_signals, ==, 3);

  GVariant *before = stats_signals[1], *after = stats_signals[2];
  double ran, wanted;
  vcpu0_shares (before, after, &ran, &wanted);
  g_assert_cmpfloat (ran, >, 0.2);
  g_assert_cmpfloat (wanted, >, 0.9);
  g_assert_cmpfloat (wanted, <, 1.1);
  g_assert_cmpuint (stat_u64 (after, "exits-total"), >, stat_u64 (before, "exits-total"));
  g_assert_cmpuint (stat_u64 (after, "worker-cpu-time-ns"), >=, vcpu0 (after, "vcpu-time-ns"));

  vcpu0 (after, "vcpu-wait-ns");
  static const char *const keys[] = {
    "time-ns", "worker-cpu-time-ns", "exits-total", "memory-bytes", "resident-bytes",
    "balloon-target-bytes", "balloon-actual-bytes", NULL,
  };
  for (const char *const *key = keys; *key; key++)
    stat_u64 (after, *key);
  g_assert_cmpuint (stat_u64 (after, "memory-bytes"), ==, 64 * MiB);
  g_assert_cmpuint (stat_u64 (after, "resident-bytes"), >, 0);
  g_assert_cmpuint (stat_u64 (after, "resident-bytes"), <=, 64 * MiB);
  g_autoptr (GVariant) exits = g_variant_lookup_value (after, "exits", G_VARIANT_TYPE ("a{st}"));
  guint64 mmio;
  g_assert_true (g_variant_lookup (exits, "mmio", "t", &mmio));
  g_assert_cmpuint (mmio, >, 0);
  g_autoptr (GVariant) per_vcpu = g_variant_lookup_value (after, "vcpu-exits", G_VARIANT_TYPE ("aa{st}"));
  g_assert_cmpuint (g_variant_n_children (per_vcpu), ==, 1);
  static const char *const disk_keys[] = {
    "read-bytes", "read-ops", "write-bytes", "write-ops", "flush-ops", "read-latency-ns",
    "write-latency-ns", "flush-latency-ns", "errors", NULL,
  };
  assert_device_keys (after, "disks", disk_keys);
  static const char *const nic_keys[] = {
    "rx-bytes", "rx-packets", "rx-dropped", "tx-bytes", "tx-packets", "tx-dropped", NULL,
  };
  assert_device_keys (after, "nics", nic_keys);
  for (unsigned i = 0; i < n_stats_signals; i++)
    g_clear_pointer (&stats_signals[i], g_variant_unref);

  /* The guest gives 16 MiB back. */
  g_autoptr (GError) error = NULL;
  viv_dbus_machine1_call_set_balloon_target_sync (vm.machine, 16 * MiB, NULL, &error);
  g_assert_no_error (error);
  guint64 actual = 0;
  deadline = g_get_monotonic_time () + TIMEOUT_MS * 1000;
  while (actual != 16 * MiB && g_get_monotonic_time () < deadline)
    {
      g_autoptr (GVariant) stats = NULL;
      g_assert_true (viv_dbus_machine1_call_get_stats_sync (vm.machine, &stats, NULL, &error));
      g_assert_cmpuint (stat_u64 (stats, "balloon-target-bytes"), ==, 16 * MiB);
      actual = stat_u64 (stats, "balloon-actual-bytes");
      g_usleep (50000);
    }
  g_assert_cmpuint (actual, ==, 16 * MiB);
  viv_dbus_machine1_call_set_balloon_target_sync (vm.machine, 65 * MiB, NULL, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  vm_power_off (&vm);

  /* An idle guest (halted, waiting for input) costs next to nothing. */
  vm_start (&vm, "alpha");
  Console console;
  console_open (&console, vm.info);
  g_assert_true (console_wait (&console, "PROBE irq ready", TIMEOUT_MS));
  g_autoptr (GVariant) idle_before = NULL, idle_after = NULL;
  g_assert_true (viv_dbus_machine1_call_get_stats_sync (vm.machine, &idle_before, NULL, &error));
  g_usleep (G_USEC_PER_SEC);
  g_assert_true (viv_dbus_machine1_call_get_stats_sync (vm.machine, &idle_after, NULL, &error));
  vcpu0_shares (idle_before, idle_after, &ran, &wanted);
  g_assert_cmpfloat (wanted, <, 0.1);
  console_close (&console);
  vm_power_off (&vm);
}

static unsigned
count_fds (const char *proc_dir)
{
  GDir *dir = g_dir_open (proc_dir, 0, NULL);
  g_assert_nonnull (dir);
  unsigned n = 0;
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

/* Descriptors close asynchronously (GDBus's worker thread): give them a moment. */
static unsigned
settled_fds (const char *proc_dir, unsigned expected)
{
  /* Closed connections may let go of their descriptors only in callbacks
   * still queued on this thread's main context: run them while waiting. */
  unsigned n = count_fds (proc_dir);
  for (int i = 0; i < 400 && n != expected; i++)
    {
      spin ();
      n = count_fds (proc_dir);
    }
  return n;
}

/* A count that held still for a tenth of a second: a baseline. */
static unsigned
stable_fds (const char *proc_dir)
{
  /* Pending callbacks on this thread may still close descriptors of a
   * connection that just ended: run them, then wait for a steady count. */
  unsigned n = count_fds (proc_dir), same = 0;
  while (same < 20)
    {
      spin ();
      unsigned now = count_fds (proc_dir);
      same = now == n ? same + 1 : 0;
      n = now;
    }
  return n;
}

/* Many starts and stops, many clients: no descriptor stays behind, in
 * the client or in a worker. */
/* The first disk's counter `key` in a GetStats answer. */
static guint64
disk_stat (VivDBusMachine1 *machine, const char *key)
{
  g_autoptr (GVariant) stats = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (viv_dbus_machine1_call_get_stats_sync (machine, &stats, NULL, &error));
  g_assert_no_error (error);
  g_autoptr (GVariant) disks = g_variant_lookup_value (stats, "disks", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (disks);
  g_autoptr (GVariant) disk = g_variant_get_child_value (disks, 0);
  return stat_u64 (disk, key);
}

/* A guest reading its disk in a loop: the disk counters follow it. */
static void
test_disk_stats (void)
{
  Vm vm = { 0 };
  vm_start (&vm, "reader");
  guint64 first = 0, later = 0;
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * 1000;
  while ((first = disk_stat (vm.machine, "read-ops")) == 0 && g_get_monotonic_time () < deadline)
    spin ();
  g_assert_cmpuint (first, >, 0);
  while ((later = disk_stat (vm.machine, "read-ops")) <= first && g_get_monotonic_time () < deadline)
    spin ();
  g_assert_cmpuint (later, >, first);
  /* 4 KiB random reads: bytes and operations agree. */
  guint64 ops = disk_stat (vm.machine, "read-ops");
  guint64 bytes = disk_stat (vm.machine, "read-bytes");
  g_assert_cmpuint (bytes, >=, 4096 * (ops - 1));
  g_assert_cmpuint (disk_stat (vm.machine, "read-latency-ns"), >, 0);
  vm_power_off (&vm);
  vm_clear (&vm);
}

static void
test_fd_leaks (void)
{
  Vm vm = { 0 };
  vm_start (&vm, "alpha");
  vm_power_off (&vm);
  unsigned client_fds = stable_fds ("/proc/self/fd");
  for (int i = 0; i < CYCLES; i++)
    {
      vm_start (&vm, "alpha");
      g_autoptr (GVariant) stats = NULL;
      g_autoptr (GError) error = NULL;
      g_assert_true (viv_dbus_machine1_call_get_stats_sync (vm.machine, &stats, NULL, &error));
      vm_power_off (&vm);
    }
  g_assert_cmpuint (settled_fds ("/proc/self/fd", client_fds), ==, client_fds);

  vm_start (&vm, "beta");
  g_autofree char *worker_fd_dir = g_strdup_printf ("/proc/%d/fd", (int) vm.info->pid);
  unsigned worker_fds = stable_fds (worker_fd_dir);
  for (int i = 0; i < CYCLES; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GDBusConnection) bus = viv_worker_client_connect (vm.info, NULL, &error);
      g_assert_no_error (error);
      g_autoptr (VivDBusMachine1) machine = viv_worker_client_get_machine (bus, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (viv_dbus_machine1_get_state (machine), ==, "running");
      g_dbus_connection_close_sync (bus, NULL, NULL);
      Console console;
      console_open (&console, vm.info);
      g_assert_true (console_wait (&console, "PROBE irq ready", TIMEOUT_MS));
      console_close (&console);
    }
  g_assert_cmpuint (settled_fds (worker_fd_dir, worker_fds), ==, worker_fds);
  vm_power_off (&vm);
  g_assert_cmpuint (settled_fds ("/proc/self/fd", client_fds), ==, client_fds);
}

/* Runs last: no worker printed a sanitizer report or a GLib warning
 * (their stdout and stderr go to the logs). */
static void
test_logs_clean (void)
{
  static const char *const bad[] = {
    "Sanitizer", "runtime error:", "-CRITICAL **", "-WARNING **", NULL,
  };
  g_autofree char *root = viv_worker_runtime_root ();
  g_autofree char *logs = g_build_filename (root, "logs", NULL);
  g_autoptr (GDir) dir = g_dir_open (logs, 0, NULL);
  g_assert_nonnull (dir);
  const char *name;
  unsigned n_logs = 0;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (logs, name, NULL);
      g_autofree char *text = NULL;
      g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
      for (const char *const *b = bad; *b; b++)
        if (strstr (text, *b))
          g_error ("%s has '%s':\n%s", path, *b, text);
      n_logs++;
    }
  g_assert_cmpuint (n_logs, >, 0);
}

int
main (int argc, char **argv)
{
  /* Before GLib reads them. */
  env.tmp = g_dir_make_tmp ("viv-worker-XXXXXX", NULL);
  g_autofree char *runtime = g_build_filename (env.tmp, "run", NULL);
  g_assert_cmpint (g_mkdir (runtime, 0700), ==, 0);
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
  g_test_init (&argc, &argv, NULL);

  const char *probe = g_getenv ("PROBE_ELF");
  if (!probe || !g_getenv ("VIVARIUM_WORKER") || access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_test_skip ("needs PROBE_ELF, VIVARIUM_WORKER and /dev/kvm");
      return g_test_run ();
    }
  env.library_root = g_build_filename (env.tmp, "machines", NULL);
  g_autoptr (GError) error = NULL;
  env.lib = viv_library_open (env.library_root, &error);
  g_assert_no_error (error);
  g_autofree char *not_a_kernel = g_build_filename (env.tmp, "not-a-kernel", NULL);
  g_assert_true (g_file_set_contents (not_a_kernel, "hello", -1, NULL));
  define_vm ("alpha", probe, IDLE_CMDLINE, FALSE);
  define_vm ("beta", probe, IDLE_CMDLINE, FALSE);
  define_vm ("demo", probe, DEMO_CMDLINE, FALSE);
  define_vm ("poweroff", probe, "probe.mode=poweroff", FALSE);
  define_vm ("resetter", probe, "probe.mode=reset", FALSE);
  define_vm ("busy", probe, BUSY_CMDLINE, TRUE);
  define_vm ("reader", probe, "probe.mode=blk probe.blk_bench=randread4k probe.blk_seconds=600", TRUE);
  define_vm ("notakernel", not_a_kernel, NULL, FALSE);

  g_test_add_func ("/worker/lifecycle", test_lifecycle);
  g_test_add_func ("/worker/gdbus-tool", test_gdbus_tool);
  g_test_add_func ("/worker/console-scrollback", test_console_scrollback);
  g_test_add_func ("/worker/guest-stops", test_guest_stops);
  g_test_add_func ("/worker/crash", test_crash);
  g_test_add_func ("/worker/start-failures", test_start_failures);
  g_test_add_func ("/worker/stats", test_stats);
  g_test_add_func ("/worker/disk-stats", test_disk_stats);
  g_test_add_func ("/worker/fd-leaks", test_fd_leaks);
  g_test_add_func ("/worker/logs-clean", test_logs_clean);
  int status = g_test_run ();

  viv_library_free (env.lib);
  viv_test_remove_tree (env.tmp);
  g_free (env.tmp);
  g_free (env.library_root);
  return status;
}
