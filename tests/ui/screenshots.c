/* Saves PNGs of the app for docs/ and the metainfo:
 *
 *   screenshots OUTDIR
 *
 * main-window-empty.png (a first start), main-window.png (three VMs, one
 * running the probe guest's demo, its graphs shown), main-window-console.png
 * (its console), preferences.png, create-wizard-PAGE.png (each page of the
 * New Virtual Machine assistant, named by its page) and clone-dialog.png
 * (a full clone being copied).  Without /dev/kvm the VMs stay off and the
 * pictures say so.  Runs under xvfb-run with the
 * cairo renderer (tests/ui/meson.build); windows are drawn with
 * GtkWidgetPaintable and rendered by the window's own GskRenderer. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ui-test-util.h"
#include "vivarium-clone-dialog.h"
#include "vivarium-create-wizard.h"
#include "vivarium-preferences-window.h"
#include "vivarium-vm-page.h"
#include "vivarium-vm-row.h"
#include "vm-create.h"
#include "worker-client.h"

#define SHOT_WIDTH      1100
#define SHOT_HEIGHT     700
#define DEMO_VM         "probe-demo"
#define CLONE_SOURCE_VM "build-server"
#define MiB             (1 << 20)

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

/* What the assistant's pages are given, by template child: a page whose
 * rows are not listed needs nothing to go on (its defaults are shown). */
static void
fill_create_wizard (VivCreateWizard *wizard,
                    const char      *kernel)
{
  const struct {
    const char *child;
    const char *text;
  } texts[] = {
    { "kernel_row", kernel },
    { "cmdline_row", "console=ttyS0 root=/dev/vda1" },
    { "name_row", "debian-desktop" },
    { "disk_size_row", "20G" },
    { "forwards_row", "2222:22" },
  };
  const struct {
    const char *child;
    double      value;
  } values[] = {
    { "vcpus_adjustment", 2 },
    { "memory_adjustment", 2048 },
  };
  GtkWidget *widget = GTK_WIDGET (wizard);
  GObject *disk_kind = gtk_widget_get_template_child (widget, VIV_TYPE_CREATE_WIZARD, "disk_kind_row");

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      GObject *row = gtk_widget_get_template_child (widget, VIV_TYPE_CREATE_WIZARD, texts[i].child);

      if (row != NULL)
        gtk_editable_set_text (GTK_EDITABLE (row), texts[i].text);
    }
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      GObject *adjustment = gtk_widget_get_template_child (widget, VIV_TYPE_CREATE_WIZARD, values[i].child);

      if (adjustment != NULL)
        gtk_adjustment_set_value (GTK_ADJUSTMENT (adjustment), values[i].value);
    }
  /* A new disk of the size above. */
  if (disk_kind != NULL)
    adw_combo_row_set_selected (ADW_COMBO_ROW (disk_kind), 1);
}

/* Each page in turn, through the assistant's own Next, up to the last
 * (the summary; it is not created). */
static void
shoot_create_wizard (VivWindow *window)
{
  VivCreateWizard *wizard = viv_create_wizard_new (GTK_WINDOW (window), NULL);
  GtkStack *stack = GTK_STACK (gtk_widget_get_template_child (GTK_WIDGET (wizard), VIV_TYPE_CREATE_WIZARD, "stack"));
  /* A kernel where one would keep it, not in the build tree. */
  g_autofree char *kernel_dir = g_build_filename (g_get_user_data_dir (), "boot", NULL);
  g_autofree char *kernel = g_build_filename (kernel_dir, "vmlinuz-6.1.0-amd64", NULL);

  g_assert_nonnull (stack);
  g_assert_no_errno (g_mkdir_with_parents (kernel_dir, 0755));
  g_assert_no_errno (symlink (TEST_KERNEL, kernel));
  fill_create_wizard (wizard, kernel);
  gtk_window_present (GTK_WINDOW (wizard));
  viv_ui_test_settle ();

  for (;;)
    {
      g_autofree char *page = g_strdup (gtk_stack_get_visible_child_name (stack));
      g_autofree char *file = g_strdup_printf ("create-wizard-%s.png", page);

      save_png (GTK_WIDGET (wizard), file);
      if (gtk_stack_get_visible_child (stack) == gtk_widget_get_last_child (GTK_WIDGET (stack)))
        break;
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (wizard), "wizard.next", NULL));
      viv_ui_test_settle ();
      if (g_str_equal (page, gtk_stack_get_visible_child_name (stack)))
        g_error ("The assistant's “%s” page refused what screenshots.c gives it: "
                 "fill its new rows in fill_create_wizard()", page);
    }
  gtk_window_destroy (GTK_WINDOW (wizard));
}

/* A VM with a 4 GiB disk holding 384 MiB of data: long enough a copy
 * to catch the dialog midway. */
static void
define_clone_source (void)
{
  char *disks[] = { "size=4G", NULL };
  VivLibraryCreateOptions options = {
    .name = CLONE_SOURCE_VM,
    .kernel = TEST_KERNEL,
    .memory_bytes = G_GUINT64_CONSTANT (1) << 30,
    .n_cpus = 2,
    .disks = disks,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (VivLibrary) library = viv_library_open (NULL, &error);
  g_autoptr (VivVmDefinition) def = NULL;
  g_autofree char *data = g_malloc (MiB);
  int fd;

  g_assert_no_error (error);
  def = viv_library_create_vm (library, &options, &error);
  g_assert_no_error (error);
  memset (data, 0x5a, MiB);
  fd = open (((VivDiskSpec *) def->disks->pdata[0])->path, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  for (guint i = 0; i < 384; i++)
    g_assert_cmpint (pwrite (fd, data, MiB, (off_t) i * 8 * MiB), ==, MiB);
  close (fd);
}

typedef struct {
  VivCloneDialog *dialog;
  gulong          paint_handler;
  gboolean        shot;
} CloneShot;

/* After a frame drawn with the bar part way: the picture. */
static void
clone_painted_cb (GdkFrameClock *clock,
                  CloneShot     *shot)
{
  g_clear_signal_handler (&shot->paint_handler, clock);
  if (shot->dialog == NULL || !viv_clone_dialog_get_busy (shot->dialog))
    return;
  save_png (GTK_WIDGET (shot->dialog), "clone-dialog.png");
  shot->shot = TRUE;
}

static void
clone_fraction_cb (GtkProgressBar *bar,
                   GParamSpec     *pspec,
                   CloneShot      *shot)
{
  double fraction = gtk_progress_bar_get_fraction (bar);

  if (shot->shot || shot->paint_handler != 0 || fraction < 0.3 || fraction >= 1)
    return;
  shot->paint_handler = g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (shot->dialog)),
                                          "after-paint", G_CALLBACK (clone_painted_cb), shot);
}

static gboolean
clone_dialog_gone (gpointer data)
{
  return ((CloneShot *) data)->dialog == NULL;
}

static void
shoot_clone_dialog (VivWindow *window)
{
  CloneShot shot = { NULL };
  GObject *bar;

  define_clone_source ();
  viv_window_reload (window);
  shot.dialog = viv_clone_dialog_new (GTK_WINDOW (window), NULL, CLONE_SOURCE_VM);
  bar = gtk_widget_get_template_child (GTK_WIDGET (shot.dialog), VIV_TYPE_CLONE_DIALOG, "progress_bar");
  g_signal_connect (bar, "notify::fraction", G_CALLBACK (clone_fraction_cb), &shot);
  gtk_window_present (GTK_WINDOW (shot.dialog));
  viv_ui_test_settle ();

  g_object_add_weak_pointer (G_OBJECT (shot.dialog), (gpointer *) &shot.dialog);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (shot.dialog), "clone.clone", NULL));
  g_assert_true (viv_ui_test_wait (clone_dialog_gone, &shot, 120000));
  if (!shot.shot)
    g_error ("The clone ended before a frame showed it part way: clone-dialog.png is not made");

  viv_ui_test_undefine_vm (CLONE_SOURCE_VM "-clone");
  viv_ui_test_undefine_vm (CLONE_SOURCE_VM);
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
  shoot_create_wizard (window);
  shoot_clone_dialog (window);

  viv_ui_test_close_window (window);
  return 0;
}
