/* VivVmPage: which actions each VM state enables, that they call the
 * worker's Machine1 methods, the details editor and the delete
 * confirmation — against a Machine1 served by the test — and, with
 * /dev/kvm, the probe guest started from the page: its banner in the
 * console and samples in the graphs. */
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "vivarium-console-view.h"
#include "vivarium-graph.h"
#include "vivarium-vm-page.h"
#include "widget-test-util.h"

#define MIB (1024ull * 1024)

/* ---- Finding things on the page ----------------------------------------- */

static GtkWidget *
find_button (GtkWidget  *widget,
             const char *action_name)
{
  if (GTK_IS_BUTTON (widget) &&
      g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action_name) == 0)
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_button (child, action_name);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_widget_of_type (GtkWidget *widget,
                     GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget_of_type (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Buttons follow their action's enabled state. */
static gboolean
action_enabled (GtkWidget  *page,
                const char *action_name)
{
  GtkWidget *button = find_button (page, action_name);

  g_assert_nonnull (button);
  return gtk_widget_get_sensitive (button);
}

static const char * const lifecycle_actions[] = {
  "vm.start", "vm.pause", "vm.resume", "vm.shutdown", "vm.force-off", "vm.reset", "vm.delete",
};

/* The enabled actions, as a space-separated list in the order above. */
static char *
enabled_actions (GtkWidget *page)
{
  GString *list = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (lifecycle_actions); i++)
    if (action_enabled (page, lifecycle_actions[i]))
      g_string_append_printf (list, "%s%s", list->len ? " " : "", lifecycle_actions[i] + 3);
  return g_string_free (list, FALSE);
}

/* ---- A Machine1 served by the test -------------------------------------- */

typedef struct {
  char            *dir;
  GDBusServer     *server;
  VivDBusMachine1 *skeleton;
  GPtrArray       *connections;
  GPtrArray       *call_list;
} FakeWorker;

static gboolean
handle_cb (VivDBusMachine1       *skeleton,
           GDBusMethodInvocation *invocation,
           gpointer               data)
{
  FakeWorker *worker = data;
  const char *method = g_dbus_method_invocation_get_method_name (invocation);

  g_ptr_array_add (worker->call_list, g_strdup (method));
  /* What the worker does, as far as the page can see. */
  if (g_str_equal (method, "Pause"))
    viv_dbus_machine1_set_state (skeleton, "paused");
  else if (g_str_equal (method, "Resume"))
    viv_dbus_machine1_set_state (skeleton, "running");
  else if (g_str_equal (method, "Shutdown"))
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "io.github.vivarium.Machine1.Error.NotSupported",
                                                  "This VM has no ACPI power button. Use PowerOff.");
      return TRUE;
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
  return TRUE;
}

static gboolean
new_connection_cb (GDBusServer     *server,
                   GDBusConnection *connection,
                   gpointer         data)
{
  FakeWorker *worker = data;
  g_autoptr(GError) error = NULL;

  g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (worker->skeleton), connection,
                                    "/io/github/vivarium/Machine1", &error);
  g_assert_no_error (error);
  g_ptr_array_add (worker->connections, g_object_ref (connection));
  return TRUE;
}

static void
fake_worker_start (FakeWorker *worker,
                   const char *uuid)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *guid = g_dbus_generate_guid ();
  g_autofree char *address = NULL;
  const char *methods[] = { "pause", "resume", "shutdown", "power-off", "reset" };

  worker->dir = g_dir_make_tmp ("viv-fake-worker-XXXXXX", &error);
  g_assert_no_error (error);
  address = g_strdup_printf ("unix:path=%s/control", worker->dir);
  worker->server = g_dbus_server_new_sync (address, G_DBUS_SERVER_FLAGS_NONE, guid, NULL, NULL, &error);
  g_assert_no_error (error);
  worker->connections = g_ptr_array_new_with_free_func (g_object_unref);
  worker->call_list = g_ptr_array_new_with_free_func (g_free);

  worker->skeleton = viv_dbus_machine1_skeleton_new ();
  viv_dbus_machine1_set_name (worker->skeleton, "fake");
  viv_dbus_machine1_set_uuid (worker->skeleton, uuid);
  viv_dbus_machine1_set_state (worker->skeleton, "running");
  viv_dbus_machine1_set_vcpus (worker->skeleton, 1);
  viv_dbus_machine1_set_memory_bytes (worker->skeleton, 64 * MIB);
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      g_autofree char *signal = g_strconcat ("handle-", methods[i], NULL);

      g_signal_connect (worker->skeleton, signal, G_CALLBACK (handle_cb), worker);
    }
  g_signal_connect (worker->server, "new-connection", G_CALLBACK (new_connection_cb), worker);
  g_dbus_server_start (worker->server);
}

static void
fake_worker_stop (FakeWorker *worker)
{
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (worker->skeleton));
  for (guint i = 0; i < worker->connections->len; i++)
    g_dbus_connection_close_sync (g_ptr_array_index (worker->connections, i), NULL, NULL);
  g_dbus_server_stop (worker->server);
  g_clear_object (&worker->server);
  g_clear_object (&worker->skeleton);
  g_clear_pointer (&worker->connections, g_ptr_array_unref);
  g_clear_pointer (&worker->call_list, g_ptr_array_unref);
  g_autofree char *control = g_build_filename (worker->dir, "control", NULL);
  g_unlink (control);
  g_rmdir (worker->dir);
  g_clear_pointer (&worker->dir, g_free);
}

static VivWorkerInfo *
fake_worker_info (FakeWorker *worker,
                  const char *name,
                  const char *uuid)
{
  VivWorkerInfo *info = g_new0 (VivWorkerInfo, 1);

  info->name = g_strdup (name);
  info->uuid = g_strdup (uuid);
  info->dir = g_strdup (worker->dir);
  info->control_address = g_strdup_printf ("unix:path=%s/control", worker->dir);
  info->console_path = g_build_filename (worker->dir, "console", NULL);
  info->pid = getpid ();
  info->supervisor_pid = getpid ();
  return info;
}

static gboolean
is_true (gpointer flag)
{
  return *(gboolean *) flag;
}

static gboolean
set_true_cb (gpointer flag)
{
  *(gboolean *) flag = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, set_true_cb, &done);
  viv_test_wait_until (is_true, &done, ms + 5000, "a while");
}

static void
emit_stats (FakeWorker *worker,
            guint64     time_s,
            guint64     vcpu_ns)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "time-ns", g_variant_new_uint64 (time_s * 1000000000ull));
  g_variant_builder_add (&builder, "{sv}", "vcpu-time-ns",
                         g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64, &vcpu_ns, 1, sizeof vcpu_ns));
  viv_dbus_machine1_emit_stats_updated (worker->skeleton, g_variant_builder_end (&builder));
}

static gboolean
has_one_sample (gpointer stats)
{
  return viv_stats_model_get_n_samples (stats) == 1;
}

typedef struct {
  GtkWidget  *page;
  const char *expected;
} ExpectActions;

static gboolean
actions_are (gpointer data)
{
  ExpectActions *expect = data;
  g_autofree char *actions = enabled_actions (expect->page);

  return g_str_equal (actions, expect->expected);
}

static void
assert_actions (GtkWidget  *page,
                const char *expected)
{
  ExpectActions expect = { page, expected };

  if (!viv_ui_test_wait (actions_are, &expect, 5000))
    {
      g_autofree char *actions = enabled_actions (page);

      g_error ("enabled actions: “%s”, expected “%s”", actions, expected);
    }
}

static gboolean
call_count_is (gpointer data)
{
  FakeWorker *worker = data;

  return worker->call_list->len > 0;
}

static void
test_vm_page_actions_per_state (void)
{
  const char *uuid = "5c0ffee0-1234-4321-abcd-0123456789ab";
  g_autoptr(GError) error = NULL;
  g_autoptr(VivLibrary) library = NULL;
  g_autoptr(VivVmItem) item = viv_vm_item_new ("states");
  g_autoptr(VivVmDefinition) def = NULL;
  FakeWorker worker = { 0 };
  GtkWidget *page;
  GtkWindow *window;
  GtkSpinButton *vcpus;

  viv_ui_test_define_vm ("states", g_getenv ("PROBE_ELF"), "probe.mode=demo", 1, 64 * MIB);
  library = viv_library_open (NULL, &error);
  g_assert_no_error (error);
  def = viv_library_load (library, "states", &error);
  g_assert_no_error (error);
  viv_vm_item_set_definition (item, g_steal_pointer (&def));

  page = viv_vm_page_new (item, library);
  window = viv_test_show_in_window (page, 900, 700);
  vcpus = GTK_SPIN_BUTTON (find_widget_of_type (page, GTK_TYPE_SPIN_BUTTON));
  g_assert_nonnull (vcpus);

  /* No worker: the VM is off. */
  assert_actions (page, "start delete");
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (vcpus)));

  /* A worker running the VM. */
  fake_worker_start (&worker, uuid);
  viv_vm_item_set_worker (item, fake_worker_info (&worker, "states", uuid));
  assert_actions (page, "pause shutdown force-off reset");
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (vcpus)));

  /* The graphs follow the worker's StatsUpdated signal: a model on the
   * proxy itself, and the item's (which keeps one sample a second). */
  {
    g_autoptr(VivStatsModel) direct = viv_stats_model_new ();
    double value;

    viv_stats_model_set_machine (direct, G_DBUS_PROXY (viv_vm_item_get_machine (item)));
    emit_stats (&worker, 10, 0);
    emit_stats (&worker, 11, 400000000);
    viv_test_wait_until (has_one_sample, direct, 5000, "a sample from StatsUpdated");
    g_assert_true (viv_stats_model_get_value (direct, "cpu-vcpu-0", 0, &value));
    g_assert_cmpfloat_with_epsilon (value, 40.0, 1e-6);

    run_for (1100);
    emit_stats (&worker, 12, 900000000);
    viv_test_wait_until (has_one_sample, viv_vm_item_get_stats (item), 5000, "a sample in the page's model");
    g_assert_true (viv_stats_model_get_value (viv_vm_item_get_stats (item), "cpu-vcpu-0", 0, &value));
    g_assert_cmpfloat (value, >, 0);
  }

  /* vm.pause calls Pause; the worker's new state comes back. */
  g_assert_true (gtk_widget_activate_action (page, "vm.pause", NULL));
  assert_actions (page, "resume force-off reset");
  g_assert_cmpstr (g_ptr_array_index (worker.call_list, 0), ==, "Pause");
  g_assert_true (gtk_widget_activate_action (page, "vm.resume", NULL));
  assert_actions (page, "pause shutdown force-off reset");

  viv_dbus_machine1_set_state (worker.skeleton, "starting");
  assert_actions (page, "force-off");
  viv_dbus_machine1_set_state (worker.skeleton, "shutting-down");
  assert_actions (page, "force-off");
  viv_dbus_machine1_set_state (worker.skeleton, "running");
  assert_actions (page, "pause shutdown force-off reset");

  /* A refused call (Shutdown without an ACPI button) leaves the page usable. */
  g_ptr_array_set_size (worker.call_list, 0);
  g_assert_true (gtk_widget_activate_action (page, "vm.shutdown", NULL));
  viv_test_wait_until (call_count_is, &worker, 5000, "the Shutdown call");
  assert_actions (page, "pause shutdown force-off reset");

  /* The worker goes away: off again. */
  fake_worker_stop (&worker);
  viv_vm_item_set_worker (item, NULL);
  assert_actions (page, "start delete");
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (vcpus)));

  gtk_window_destroy (window);
  viv_ui_test_undefine_vm ("states");
}

static gboolean
apply_enabled (gpointer page)
{
  return action_enabled (page, "vm.apply");
}

static AdwMessageDialog *
find_message_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

static gboolean
has_message_dialog (gpointer data)
{
  return find_message_dialog () != NULL;
}

static void
test_vm_page_details_and_delete (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VivLibrary) library = NULL;
  g_autoptr(VivVmItem) item = viv_vm_item_new ("edit-me");
  g_autoptr(VivVmDefinition) def = NULL;
  GtkWidget *page;
  GtkWindow *window;
  GtkSpinButton *vcpus;
  AdwMessageDialog *dialog;

  viv_ui_test_define_vm ("edit-me", g_getenv ("PROBE_ELF"), "probe.mode=demo", 1, 64 * MIB);
  library = viv_library_open (NULL, &error);
  g_assert_no_error (error);
  viv_vm_item_set_definition (item, viv_library_load (library, "edit-me", &error));
  g_assert_no_error (error);

  page = viv_vm_page_new (item, library);
  viv_vm_page_set_view (VIV_VM_PAGE (page), "details");
  window = viv_test_show_in_window (page, 900, 700);
  viv_test_save_screenshot (page, "vm-page-details");

  /* Nothing changed yet: nothing to apply. */
  g_assert_false (action_enabled (page, "vm.apply"));
  vcpus = GTK_SPIN_BUTTON (find_widget_of_type (page, GTK_TYPE_SPIN_BUTTON));
  g_assert_cmpint (gtk_spin_button_get_value_as_int (vcpus), ==, 1);
  gtk_spin_button_set_value (vcpus, 3);
  viv_test_wait_until (apply_enabled, page, 5000, "vm.apply to be enabled");
  g_assert_true (gtk_widget_activate_action (page, "vm.apply", NULL));
  def = viv_library_load (library, "edit-me", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (def->n_cpus, ==, 3);
  g_assert_cmpuint (viv_vm_item_get_definition (item)->n_cpus, ==, 3);
  g_assert_false (action_enabled (page, "vm.apply"));

  /* Delete asks first; Cancel keeps the VM. */
  g_assert_true (gtk_widget_activate_action (page, "vm.delete", NULL));
  viv_test_wait_until (has_message_dialog, NULL, 5000, "the confirmation");
  dialog = find_message_dialog ();
  g_assert_nonnull (strstr (adw_message_dialog_get_heading (dialog), "edit-me"));
  adw_message_dialog_response (dialog, "cancel");
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_assert_true (viv_library_contains (library, "edit-me"));

  g_assert_true (gtk_widget_activate_action (page, "vm.delete", NULL));
  viv_test_wait_until (has_message_dialog, NULL, 5000, "the confirmation");
  dialog = find_message_dialog ();
  adw_message_dialog_response (dialog, "delete");
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_assert_false (viv_library_contains (library, "edit-me"));

  gtk_window_destroy (window);
}

/* The details name the guest OS as libosinfo does; an id it does not know
 * as it is; and nothing when the definition has none. */
static VivVmDefinition *
definition_with_os (const char *os_id)
{
  VivVmDefinition *def = viv_vm_definition_new ();

  def->name = g_strdup ("os");
  def->kernel = g_strdup (g_getenv ("PROBE_ELF"));
  def->os_id = g_strdup (os_id);
  def->n_cpus = 1;
  def->memory_bytes = 64 * MIB;
  return def;
}

static void
test_vm_page_os (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VivLibrary) library = viv_library_open (NULL, &error);
  g_autoptr(VivVmItem) item = viv_vm_item_new ("os");
  AdwActionRow *os_row;
  GtkWidget *page;
  GtkWindow *window;

  g_assert_no_error (error);
  viv_vm_item_set_definition (item, definition_with_os ("http://debian.org/debian/11"));

  page = viv_vm_page_new (item, library);
  viv_vm_page_set_view (VIV_VM_PAGE (page), "details");
  window = viv_test_show_in_window (page, 900, 700);
  os_row = ADW_ACTION_ROW (gtk_widget_get_template_child (page, VIV_TYPE_VM_PAGE, "os_row"));
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (os_row)));
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (os_row)), ==, "Operating system");
  g_assert_cmpstr (adw_action_row_get_subtitle (os_row), ==, "Debian 11 (bullseye)");

  viv_vm_item_set_definition (item, definition_with_os ("http://example.com/amigaos/4.1"));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (os_row)));
  g_assert_cmpstr (adw_action_row_get_subtitle (os_row), ==, "http://example.com/amigaos/4.1");

  viv_vm_item_set_definition (item, definition_with_os (NULL));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (os_row)));

  gtk_window_destroy (window);
}

/* ---- The probe guest, started from the page ----------------------------- */

static gboolean
is_running (gpointer item)
{
  return g_strcmp0 (viv_vm_item_get_state (item), "running") == 0;
}

static gboolean
is_off (gpointer item)
{
  return g_strcmp0 (viv_vm_item_get_state (item), "off") == 0 ||
         g_strcmp0 (viv_vm_item_get_state (item), "shut-off") == 0;
}

static gboolean
console_shows (GtkWidget  *page,
               const char *expected)
{
  VivConsoleView *console = VIV_CONSOLE_VIEW (find_widget_of_type (page, VIV_TYPE_CONSOLE_VIEW));
  g_autofree char *text = vte_terminal_get_text (viv_console_view_get_terminal (console), NULL, NULL, NULL);

  return text != NULL && strstr (text, expected) != NULL;
}

static gboolean
console_shows_banner (gpointer page)
{
  return console_shows (page, "Vivarium probe guest");
}

static gboolean
console_shows_help (gpointer page)
{
  return console_shows (page, "this list");
}

static gboolean
had_port_io_exits (gpointer stats)
{
  guint n = viv_stats_model_get_n_samples (stats);

  for (guint i = 0; i < n; i++)
    {
      double value;

      if (viv_stats_model_get_value (stats, "exits-io", i, &value) && value > 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
has_samples (gpointer item)
{
  return viv_stats_model_get_n_samples (viv_vm_item_get_stats (item)) >= 3;
}

/* For docs/screenshots: some activity to graph (the probe's memory check
 * touches all RAM and keeps a vCPU busy), then the graphs and, further
 * down, the VM exits panel. */
static void
take_graph_screenshots (GtkWidget      *page,
                        VivConsoleView *console)
{
  GtkScrolledWindow *scroller;
  GtkAdjustment *adjustment;

  for (guint i = 0; i < 8; i++)
    {
      vte_terminal_feed_child (viv_console_view_get_terminal (console), "mem\r", -1);
      run_for (5000);
    }
  viv_ui_test_settle ();
  viv_test_save_screenshot (page, "vm-page-graphs");

  scroller = GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (find_widget_of_type (page, VIV_TYPE_GRAPH),
                                                           GTK_TYPE_SCROLLED_WINDOW));
  adjustment = gtk_scrolled_window_get_vadjustment (scroller);
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
  viv_ui_test_settle ();
  viv_test_save_screenshot (page, "vm-page-exits");
}

static void
test_vm_page_probe_guest (void)
{
  const char *probe = g_getenv ("PROBE_ELF");
  g_autoptr(GError) error = NULL;
  g_autoptr(VivLibrary) library = NULL;
  g_autoptr(VivVmItem) item = viv_vm_item_new ("probe");
  VivConsoleView *console;
  VivStatsModel *stats;
  GtkWidget *page;
  GtkWindow *window;
  double value;

  if (probe == NULL || g_getenv ("VIVARIUM_WORKER") == NULL || access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_test_skip ("needs PROBE_ELF, VIVARIUM_WORKER and /dev/kvm");
      return;
    }

  viv_ui_test_define_vm ("probe", probe, "probe.mode=demo", 2, 64 * MIB);
  library = viv_library_open (NULL, &error);
  g_assert_no_error (error);
  viv_vm_item_set_definition (item, viv_library_load (library, "probe", &error));
  g_assert_no_error (error);

  page = viv_vm_page_new (item, library);
  window = viv_test_show_in_window (page, 960, 760);
  console = VIV_CONSOLE_VIEW (find_widget_of_type (page, VIV_TYPE_CONSOLE_VIEW));
  assert_actions (page, "start delete");

  g_assert_true (gtk_widget_activate_action (page, "vm.start", NULL));
  viv_test_wait_until (is_running, item, 30000, "the VM to run");
  assert_actions (page, "pause shutdown force-off reset");

  viv_test_wait_until (console_shows_banner, page, 30000, "the probe's banner in the console");

  viv_test_wait_until (has_samples, item, 30000, "statistics samples");
  stats = viv_vm_item_get_stats (item);
  g_assert_cmpuint (viv_stats_model_get_n_vcpus (stats), ==, 2);
  g_assert_true (viv_stats_model_get_value (stats, "memory-assigned",
                                            viv_stats_model_get_n_samples (stats) - 1, &value));
  g_assert_cmpfloat (value, ==, 64.0 * MIB);

  /* Typing reaches the guest: it answers at its prompt, through the UART,
   * so port I/O exits show in the next samples. */
  vte_terminal_feed_child (viv_console_view_get_terminal (console), "help\r", -1);
  viv_test_wait_until (console_shows_help, page, 30000, "the probe's help in the console");
  viv_test_save_screenshot (page, "vm-page-console");
  viv_test_wait_until (had_port_io_exits, stats, 30000, "port I/O exits in the graphs");

  /* The page's graphs draw this model. */
  g_assert_true (viv_graph_get_model (VIV_GRAPH (find_widget_of_type (page, VIV_TYPE_GRAPH))) == stats);
  viv_vm_page_set_view (VIV_VM_PAGE (page), "graphs");
  if (g_getenv ("VIV_SCREENSHOT_DIR") != NULL)
    take_graph_screenshots (page, console);

  g_assert_true (gtk_widget_activate_action (page, "vm.force-off", NULL));
  viv_test_wait_until (is_off, item, 30000, "the VM to stop");
  assert_actions (page, "start delete");

  gtk_window_destroy (window);
  viv_ui_test_undefine_vm ("probe");
}

int
main (int   argc,
      char *argv[])
{
  viv_ui_test_init (&argc, &argv);

  g_test_add_func ("/viv/vm-page/actions-per-state", test_vm_page_actions_per_state);
  g_test_add_func ("/viv/vm-page/details-and-delete", test_vm_page_details_and_delete);
  g_test_add_func ("/viv/vm-page/os", test_vm_page_os);
  g_test_add_func ("/viv/vm-page/probe-guest", test_vm_page_probe_guest);

  return g_test_run ();
}
