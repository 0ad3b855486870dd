/* Saves PNGs of the app for docs/ and the metainfo:
 *
 *   screenshots OUTDIR
 *
 * main-window-empty.png (a first start), main-window.png (three VMs, one
 * running the probe guest's demo, its graphs shown), main-window-console.png
 * (its console) and preferences.png.  Without /dev/kvm the
 * VMs stay off and the pictures say so.  Runs under xvfb-run with the
 * cairo renderer (tests/ui/meson.build); windows are drawn with
 * GtkWidgetPaintable and rendered by the window's own GskRenderer. */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "ui-test-util.h"
#include "vivarium-preferences-window.h"
#include "vivarium-vm-page.h"
#include "vivarium-vm-row.h"
#include "worker-client.h"

#define SHOT_WIDTH  1100
#define SHOT_HEIGHT 700
#define DEMO_VM     "probe-demo"

static const char *out_dir;

static void
save_png (GtkWidget  *widget,
          const char *name)
{
  g_autofree char *path = g_build_filename (out_dir, name, NULL);
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  g_assert_cmpint (width, >, 0);
  g_assert_cmpint (height, >, 0);

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_print ("%s (%d×%d)\n", path, width, height);
}

static gboolean
have_kvm (void)
{
  int fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

static VivVmRow *
find_row (VivWindow  *window,
          const char *name)
{
  g_autoptr (GPtrArray) rows = viv_ui_test_rows (window);

  for (guint i = 0; i < rows->len; i++)
    if (g_str_equal (viv_vm_item_get_name (viv_vm_row_get_vm (rows->pdata[i])), name))
      return rows->pdata[i];
  return NULL;
}

typedef struct {
  VivWindow *window;
  guint      n_samples;
} DemoWait;

/* Running, connected, and enough samples for the graphs to show a line. */
static gboolean
demo_has_samples (gpointer data)
{
  DemoWait *wait = data;
  VivVmRow *row = find_row (wait->window, DEMO_VM);
  VivVmItem *item = row ? viv_vm_row_get_vm (row) : NULL;

  return item != NULL &&
         g_str_equal (viv_vm_item_get_state (item), "running") &&
         viv_stats_model_get_n_samples (viv_vm_item_get_stats (item)) >= wait->n_samples;
}

static VivWorkerInfo *
start_demo (VivWindow *window)
{
  g_autoptr (GError) error = NULL;
  VivWorkerInfo *worker;
  DemoWait wait = { window, 20 };

  worker = viv_worker_client_start (NULL, DEMO_VM, 0, &error);
  if (worker == NULL)
    {
      g_printerr ("The demo VM did not start, so every VM is off in the pictures: %s\n", error->message);
      return NULL;
    }

  viv_window_reload (window);
  if (!viv_ui_test_wait (demo_has_samples, &wait, 60000))
    g_printerr ("The demo VM sent fewer than %u samples in a minute\n", wait.n_samples);
  return worker;
}

static void
stop_demo (VivWorkerInfo *worker)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) connection = viv_worker_client_connect (worker, NULL, &error);
  g_autoptr (VivDBusMachine1) machine = NULL;

  if (connection != NULL)
    machine = viv_worker_client_get_machine (connection, NULL, &error);
  if (machine == NULL ||
      !viv_dbus_machine1_call_power_off_sync (machine, NULL, &error) ||
      !viv_worker_client_wait_exit (worker, 0, &error))
    g_printerr ("Could not stop the demo VM (pid %d): %s\n", worker->pid, error->message);
}

static void
shoot_library (VivWindow *window)
{
  g_autoptr (VivWorkerInfo) worker = NULL;
  VivVmRow *row;
  VivVmPage *page;
  GtkStack *pages = viv_ui_test_window_child (window, "page_stack");

  viv_ui_test_define_vm ("debian-dev", TEST_KERNEL, "console=ttyS0", 4, G_GUINT64_CONSTANT (2) << 30);
  viv_ui_test_define_vm (DEMO_VM, TEST_KERNEL, "probe.mode=demo", 2, 256 << 20);
  viv_ui_test_define_vm ("teaching-lab", TEST_KERNEL, "console=ttyS0", 1, 512 << 20);
  viv_window_reload (window);

  if (have_kvm ())
    worker = start_demo (window);
  else
    g_printerr ("/dev/kvm cannot be opened: every VM is off in the pictures\n");

  g_assert_true (viv_window_select_vm (window, DEMO_VM));
  row = find_row (window, DEMO_VM);
  g_assert_nonnull (row);
  page = VIV_VM_PAGE (gtk_stack_get_child_by_name (pages, DEMO_VM));

  viv_vm_page_set_view (page, "graphs");
  viv_ui_test_settle ();
  save_png (GTK_WIDGET (window), "main-window.png");

  viv_vm_page_set_view (page, "console");
  viv_ui_test_settle ();
  save_png (GTK_WIDGET (window), "main-window-console.png");

  if (worker != NULL)
    stop_demo (worker);
}

static void
shoot_preferences (VivWindow *window)
{
  VivPreferencesWindow *preferences = viv_preferences_window_new (GTK_WINDOW (window));

  gtk_window_present (GTK_WINDOW (preferences));
  viv_ui_test_settle ();
  save_png (GTK_WIDGET (preferences), "preferences.png");
  gtk_window_destroy (GTK_WINDOW (preferences));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (VivApplication) app = NULL;
  VivWindow *window;

  viv_ui_test_init (&argc, &argv);
  if (argc != 2)
    {
      g_printerr ("Usage: %s OUTDIR\n", argv[0]);
      return 2;
    }
  out_dir = argv[1];
  g_assert_no_errno (g_mkdir_with_parents (out_dir, 0755));

  app = viv_ui_test_app ();
  window = viv_window_new (app);
  gtk_window_set_default_size (GTK_WINDOW (window), SHOT_WIDTH, SHOT_HEIGHT);
  gtk_window_present (GTK_WINDOW (window));
  viv_ui_test_settle ();

  save_png (GTK_WIDGET (window), "main-window-empty.png");
  shoot_library (window);
  shoot_preferences (window);

  viv_ui_test_close_window (window);
  return 0;
}
