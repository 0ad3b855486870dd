/* The main window: the empty state, rows following the library, the
 * translation.  Runs under xvfb-run (see meson.build). */
#include "config.h"

#include <fcntl.h>
#include <glib/gi18n.h>
#include <unistd.h>

#include "ui-test-util.h"
#include "vivarium-preferences-window.h"
#include "vivarium-vm-row.h"

typedef struct {
  VivApplication *app;
  VivWindow      *window;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->app = viv_ui_test_app ();
  fixture->window = viv_ui_test_open_window (fixture->app);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  viv_ui_test_close_window (fixture->window);
  g_clear_object (&fixture->app);
}

static const char *
visible_page (Fixture *fixture)
{
  GtkStack *stack = viv_ui_test_window_child (fixture->window, "main_stack");

  return gtk_stack_get_visible_child_name (stack);
}

static VivVmRow *
find_row (VivWindow  *window,
          const char *name)
{
  g_autoptr (GPtrArray) rows = viv_ui_test_rows (window);

  for (guint i = 0; i < rows->len; i++)
    {
      VivVmRow *row = g_ptr_array_index (rows, i);

      if (g_str_equal (viv_vm_item_get_name (viv_vm_row_get_vm (row)), name))
        return row;
    }
  return NULL;
}

typedef struct {
  VivWindow  *window;
  const char *name;
  gboolean    present;
} RowWait;

static gboolean
row_presence_is (gpointer data)
{
  RowWait *wait = data;

  return (find_row (wait->window, wait->name) != NULL) == wait->present;
}

/* The label of a row's template child, e.g. "name_label". */
static const char *
row_label (VivVmRow   *row,
           const char *child)
{
  GObject *label = gtk_widget_get_template_child (GTK_WIDGET (row), VIV_TYPE_VM_ROW, child);

  g_assert_true (GTK_IS_LABEL (label));
  return gtk_label_get_label (GTK_LABEL (label));
}

/* A first start: no VM, so the status page leads to creating one. */
static void
test_window_empty (Fixture       *fixture,
                   gconstpointer  data)
{
  AdwStatusPage *empty_page = viv_ui_test_window_child (fixture->window, "empty_page");
  GtkWidget *button = viv_ui_test_window_child (fixture->window, "empty_new_button");

  g_assert_cmpstr (visible_page (fixture), ==, "empty");
  g_assert_true (gtk_widget_is_drawable (GTK_WIDGET (empty_page)));
  g_assert_cmpstr (adw_status_page_get_title (empty_page), ==, _("No Virtual Machines"));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (button)), ==, "win.new-vm");
  g_assert_true (gtk_widget_get_visible (button));
}

/* A VM defined through the library API shows up without a reload from
 * the test (the window watches the library), and goes when undefined. */
static void
test_window_row_follows_library (Fixture       *fixture,
                                 gconstpointer  data)
{
  RowWait wait = { fixture->window, "test-vm", TRUE };
  VivVmRow *row;

  viv_ui_test_define_vm ("test-vm", TEST_KERNEL, "probe.mode=info", 2, 256 << 20);

  g_assert_true (viv_ui_test_wait (row_presence_is, &wait, 5000));
  viv_ui_test_settle ();
  g_assert_cmpstr (visible_page (fixture), ==, "library");

  row = find_row (fixture->window, "test-vm");
  g_assert_cmpstr (row_label (row, "name_label"), ==, "test-vm");
  g_assert_cmpstr (row_label (row, "state_label"), ==, _("Off"));
  g_assert_cmpstr (viv_vm_item_get_state (viv_vm_row_get_vm (row)), ==, "off");
  g_assert_true (gtk_list_box_row_is_selected (GTK_LIST_BOX_ROW (row)));
  g_assert_true (gtk_widget_is_drawable (GTK_WIDGET (row)));
  gtk_test_accessible_assert_property (row, GTK_ACCESSIBLE_PROPERTY_LABEL, "test-vm, Off");

  viv_ui_test_undefine_vm ("test-vm");
  wait.present = FALSE;
  g_assert_true (viv_ui_test_wait (row_presence_is, &wait, 5000));
  viv_ui_test_settle ();
  g_assert_cmpstr (visible_page (fixture), ==, "empty");
}

/* Rows are sorted by name; the window opens on what the library holds. */
static void
test_window_rows_sorted (void)
{
  g_autoptr (VivApplication) app = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  VivWindow *window;
  const char *names[] = { "alpha", "beta", "gamma" };

  viv_ui_test_define_vm ("gamma", TEST_KERNEL, NULL, 1, 64 << 20);
  viv_ui_test_define_vm ("alpha", TEST_KERNEL, NULL, 1, 64 << 20);
  viv_ui_test_define_vm ("beta", TEST_KERNEL, NULL, 1, 64 << 20);

  app = viv_ui_test_app ();
  window = viv_ui_test_open_window (app);

  rows = viv_ui_test_rows (window);
  g_assert_cmpuint (rows->len, ==, G_N_ELEMENTS (names));
  for (guint i = 0; i < rows->len; i++)
    g_assert_cmpstr (row_label (g_ptr_array_index (rows, i), "name_label"), ==, names[i]);

  /* The first VM is selected; Alt+Down / Alt+Up move through the list. */
  g_assert_true (gtk_list_box_row_is_selected (g_ptr_array_index (rows, 0)));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.select-next", NULL));
  g_assert_true (gtk_list_box_row_is_selected (g_ptr_array_index (rows, 1)));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.select-next", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.select-next", NULL));
  g_assert_true (gtk_list_box_row_is_selected (g_ptr_array_index (rows, 2)));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.select-previous", NULL));
  g_assert_true (gtk_list_box_row_is_selected (g_ptr_array_index (rows, 1)));

  viv_ui_test_close_window (window);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    viv_ui_test_undefine_vm (names[i]);
}

static gboolean
is_folded (gpointer data)
{
  return adw_leaflet_get_folded (data);
}

/* In a narrow window the list and the page take turns: activating a row
 * shows its page, win.go-back (Alt+Left, the back button) the list. */
static void
test_window_narrow (void)
{
  g_autoptr (VivApplication) app = NULL;
  VivWindow *window;
  AdwLeaflet *leaflet;
  GtkWidget *sidebar, *content;
  g_autoptr (GPtrArray) rows = NULL;

  viv_ui_test_define_vm ("narrow", TEST_KERNEL, NULL, 1, 64 << 20);
  app = viv_ui_test_app ();
  window = viv_ui_test_open_window (app);
  leaflet = viv_ui_test_window_child (window, "leaflet");
  sidebar = viv_ui_test_window_child (window, "sidebar");
  content = viv_ui_test_window_child (window, "content");

  gtk_window_set_default_size (GTK_WINDOW (window), 360, 600);
  g_assert_true (viv_ui_test_wait (is_folded, leaflet, 5000));
  adw_leaflet_set_visible_child (leaflet, sidebar);
  viv_ui_test_settle ();

  rows = viv_ui_test_rows (window);
  g_signal_emit_by_name (g_ptr_array_index (rows, 0), "activate");
  viv_ui_test_settle ();
  g_assert_true (adw_leaflet_get_visible_child (leaflet) == content);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.go-back", NULL));
  viv_ui_test_settle ();
  g_assert_true (adw_leaflet_get_visible_child (leaflet) == sidebar);

  viv_ui_test_close_window (window);
  viv_ui_test_undefine_vm ("narrow");
}

static GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return window;
    }
  return NULL;
}

/* The shortcuts, about and preferences windows open from their actions
 * (their templates load), and the preferences follow GSettings. */
static void
test_window_dialogs (Fixture       *fixture,
                     gconstpointer  data)
{
  const struct {
    const char *action;
    GType       type;
  } dialogs[] = {
    { "win.show-help-overlay", GTK_TYPE_SHORTCUTS_WINDOW },
    { "app.about", ADW_TYPE_ABOUT_WINDOW },
    { "app.preferences", VIV_TYPE_PREFERENCES_WINDOW },
  };
  g_autoptr (GSettings) settings = g_settings_new ("io.github.vivarium.Vivarium");

  for (guint i = 0; i < G_N_ELEMENTS (dialogs); i++)
    {
      GtkWindow *dialog;

      g_assert_null (find_toplevel (dialogs[i].type));
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window), dialogs[i].action, NULL));
      viv_ui_test_settle ();
      dialog = find_toplevel (dialogs[i].type);
      g_assert_nonnull (dialog);
      g_assert_true (gtk_window_get_transient_for (dialog) == GTK_WINDOW (fixture->window));

      if (dialogs[i].type == VIV_TYPE_PREFERENCES_WINDOW)
        {
          GtkAdjustment *memory = GTK_ADJUSTMENT (gtk_widget_get_template_child (GTK_WIDGET (dialog),
                                                                                 VIV_TYPE_PREFERENCES_WINDOW,
                                                                                 "memory_adjustment"));

          g_assert_cmpfloat (gtk_adjustment_get_value (memory), ==, g_settings_get_uint (settings, "default-memory-mib"));
          gtk_adjustment_set_value (memory, 2048);
          g_assert_cmpuint (g_settings_get_uint (settings, "default-memory-mib"), ==, 2048);
          g_settings_reset (settings, "default-memory-mib");
        }

      gtk_window_destroy (dialog);
      viv_ui_test_settle ();
    }
}

typedef struct {
  VivWindow  *window;
  const char *name;
  const char *state;
  guint       n_samples;
} StateWait;

static gboolean
row_state_is (gpointer data)
{
  StateWait *wait = data;
  VivVmRow *row = find_row (wait->window, wait->name);
  VivVmItem *item = row ? viv_vm_row_get_vm (row) : NULL;

  return item != NULL &&
         g_str_equal (viv_vm_item_get_state (item), wait->state) &&
         viv_stats_model_get_n_samples (viv_vm_item_get_stats (item)) >= wait->n_samples;
}

/* A worker started behind the window's back (as vivctl start does): the
 * row finds it, follows its State and receives its statistics, and goes
 * back to "Off" when it powers off. */
static void
test_window_row_follows_worker (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivWorkerInfo) worker = NULL;
  g_autoptr (GDBusConnection) connection = NULL;
  g_autoptr (VivDBusMachine1) machine = NULL;
  StateWait wait = { fixture->window, "worker-vm", "running", 2 };
  int kvm = open ("/dev/kvm", O_RDWR | O_CLOEXEC);

  if (kvm < 0)
    {
      g_test_skip ("/dev/kvm cannot be opened: no VM can run here");
      return;
    }
  close (kvm);

  viv_ui_test_define_vm ("worker-vm", TEST_KERNEL, "probe.mode=demo", 1, 64 << 20);
  worker = viv_worker_client_start (NULL, "worker-vm", 0, &error);
  g_assert_no_error (error);

  g_assert_true (viv_ui_test_wait (row_state_is, &wait, 20000));
  g_assert_cmpstr (row_label (find_row (fixture->window, "worker-vm"), "state_label"), ==, _("Running"));

  connection = viv_worker_client_connect (worker, NULL, &error);
  g_assert_no_error (error);
  machine = viv_worker_client_get_machine (connection, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (viv_dbus_machine1_call_power_off_sync (machine, NULL, &error));
  g_assert_no_error (error);

  wait.state = "off";
  wait.n_samples = 0;
  g_assert_true (viv_ui_test_wait (row_state_is, &wait, 20000));
  g_assert_cmpstr (row_label (find_row (fixture->window, "worker-vm"), "state_label"), ==, _("Off"));
  g_assert_true (viv_worker_client_wait_exit (worker, 0, &error));
  g_assert_no_error (error);

  viv_ui_test_undefine_vm ("worker-vm");
}

/* Run with LANGUAGE=zh_CN (meson.build): the built catalog is used. */
static void
test_window_translated (Fixture       *fixture,
                        gconstpointer  data)
{
  AdwStatusPage *empty_page = viv_ui_test_window_child (fixture->window, "empty_page");
  GtkButton *button = viv_ui_test_window_child (fixture->window, "empty_new_button");

  g_assert_cmpstr (adw_status_page_get_title (empty_page), ==, "没有虚拟机");
  g_assert_cmpstr (gtk_button_get_label (button), ==, "新建虚拟机(_N)");
  g_assert_cmpstr (viv_vm_state_to_label ("running"), ==, "运行中");
}

int
main (int   argc,
      char *argv[])
{
  viv_ui_test_init (&argc, &argv);

  if (g_str_has_prefix (g_getenv ("LANGUAGE") ? g_getenv ("LANGUAGE") : "", "zh_CN"))
    {
      g_test_add ("/viv/window/translated", Fixture, NULL,
                  fixture_set_up, test_window_translated, fixture_tear_down);
      return g_test_run ();
    }

  g_test_add ("/viv/window/empty", Fixture, NULL,
              fixture_set_up, test_window_empty, fixture_tear_down);
  g_test_add ("/viv/window/row-follows-library", Fixture, NULL,
              fixture_set_up, test_window_row_follows_library, fixture_tear_down);
  g_test_add_func ("/viv/window/rows-sorted", test_window_rows_sorted);
  g_test_add_func ("/viv/window/narrow", test_window_narrow);
  g_test_add ("/viv/window/dialogs", Fixture, NULL,
              fixture_set_up, test_window_dialogs, fixture_tear_down);
  g_test_add ("/viv/window/row-follows-worker", Fixture, NULL,
              fixture_set_up, test_window_row_follows_worker, fixture_tear_down);

  return g_test_run ();
}
