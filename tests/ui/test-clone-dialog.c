/* The Clone dialog: it refuses bad names, makes linked clones (a qcow2
 * overlay backed by the source's disk) and full ones (a copy) with their
 * progress shown, closing it cancels a copy, and the VM page opens it.
 * Runs under xvfb-run (see meson.build). */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "ui-test-util.h"
#include "vivarium-clone-dialog.h"
#include "vm-create.h"

#define DISK_SIZE (1 << 20)
#define MiB       (1 << 20)

static gpointer
dialog_child (VivCloneDialog *dialog,
              const char     *name)
{
  GObject *child = gtk_widget_get_template_child (GTK_WIDGET (dialog), VIV_TYPE_CLONE_DIALOG, name);

  g_assert_nonnull (child);
  return child;
}

/* A VM "source" with one new raw disk of `size` in its directory; the
 * disk's path. */
static char *
define_source_vm (VivLibrary *library,
                  const char *size)
{
  g_autofree char *disk_spec = g_strconcat ("size=", size, NULL);
  char *disks[] = { disk_spec, NULL };
  VivLibraryCreateOptions options = {
    .name = "source",
    .kernel = TEST_KERNEL,
    .memory_bytes = 64 << 20,
    .disks = disks,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) def = viv_library_create_vm (library, &options, &error);

  g_assert_no_error (error);
  return g_strdup (((VivDiskSpec *) def->disks->pdata[0])->path);
}

/* The source VM with a small disk holding something to copy. */
static char *
define_source (VivLibrary *library)
{
  char *path = define_source_vm (library, "1M");

  g_assert_true (g_file_set_contents (path, "source data", -1, NULL));
  g_assert_cmpint (truncate (path, DISK_SIZE), ==, 0);
  return path;
}

/* The source VM whose 256 MiB raw disk holds 64 MiB of data: eight
 * pieces to copy (vivctl-disk-copy.c), so eight steps of progress. */
static void
define_big_source (VivLibrary *library)
{
  g_autofree char *path = define_source_vm (library, "256M");
  g_autofree char *data = g_malloc (MiB);
  int fd;

  memset (data, 0xa5, MiB);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  for (guint i = 0; i < 64; i++)
    g_assert_cmpint (pwrite (fd, data, MiB, (off_t) (i < 32 ? i : 160 + i) * MiB), ==, MiB);
  close (fd);
}

static gboolean
gone (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* What the progress bar showed while the clone was being made. */
typedef struct {
  GArray    *fractions;   /* double */
  GPtrArray *texts;
} Shown;

/* The dialog sets the text after the fraction. */
static void
text_changed_cb (GtkProgressBar *bar,
                 GParamSpec     *pspec,
                 Shown          *shown)
{
  double fraction = gtk_progress_bar_get_fraction (bar);

  /* Not the resets when the clone begins and ends. */
  if (g_strcmp0 (gtk_progress_bar_get_text (bar), "") == 0)
    return;
  g_array_append_val (shown->fractions, fraction);
  g_ptr_array_add (shown->texts, g_strdup (gtk_progress_bar_get_text (bar)));
}

static VivVmDefinition *
clone_through_dialog_showing (VivLibrary *library,
                              const char *name,
                              guint       mode,
                              Shown      *shown)
{
  VivCloneDialog *dialog = viv_clone_dialog_new (NULL, NULL, "source");
  g_autoptr (GError) error = NULL;
  VivVmDefinition *def;

  if (shown != NULL)
    g_signal_connect (dialog_child (dialog, "progress_bar"), "notify::text",
                      G_CALLBACK (text_changed_cb), shown);
  gtk_window_present (GTK_WINDOW (dialog));
  viv_ui_test_settle ();
  g_assert_cmpstr (gtk_editable_get_text (dialog_child (dialog, "name_row")), ==, "source-clone");
  gtk_editable_set_text (dialog_child (dialog, "name_row"), name);
  adw_combo_row_set_selected (dialog_child (dialog, "mode_row"), mode);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &dialog);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "clone.clone", NULL));
  g_assert_true (viv_ui_test_wait (gone, &dialog, 10000));

  def = viv_library_load (library, name, &error);
  g_assert_no_error (error);
  return def;
}

static VivVmDefinition *
clone_through_dialog (VivLibrary *library,
                      const char *name,
                      guint       mode)
{
  return clone_through_dialog_showing (library, name, mode, NULL);
}

static void
test_clone_dialog_refuses (void)
{
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  g_autofree char *source_disk = define_source (library);
  VivCloneDialog *dialog = viv_clone_dialog_new (NULL, NULL, "source");
  const char *bad_names[] = { "", "has space", ".dot-first", "source" };

  gtk_window_present (GTK_WINDOW (dialog));
  viv_ui_test_settle ();
  for (guint i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      GtkLabel *label = dialog_child (dialog, "error_label");

      gtk_editable_set_text (dialog_child (dialog, "name_row"), bad_names[i]);
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "clone.clone", NULL));
      viv_ui_test_settle ();
      g_assert_false (viv_clone_dialog_get_busy (dialog));
      g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (label)));
      g_assert_cmpstr (gtk_label_get_text (label), !=, "");
      g_test_message ("“%s”: %s", bad_names[i], gtk_label_get_text (label));
    }
  gtk_window_destroy (GTK_WINDOW (dialog));
  viv_library_undefine (library, "source", TRUE, NULL, NULL);
}

static void
test_clone_dialog_linked (void)
{
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  g_autofree char *source_disk = define_source (library);
  g_autoptr (VivVmDefinition) source = viv_library_load (library, "source", NULL);
  g_autoptr (VivVmDefinition) clone = clone_through_dialog (library, "linked", 1);
  g_autoptr (VivQcow2Info) info = NULL;
  VivDiskSpec *disk = clone->disks->pdata[0];

  g_assert_cmpstr (disk->format, ==, "qcow2");
  g_assert_cmpstr (disk->path, !=, source_disk);
  info = viv_qcow2_info (disk->path, false, NULL);
  g_assert_nonnull (info);
  g_assert_cmpstr (info->backing_file, ==, source_disk);
  g_assert_cmpstr (info->backing_format, ==, "raw");
  g_assert_cmpuint (info->virtual_size, ==, DISK_SIZE);
  g_assert_cmpstr (clone->uuid, !=, source->uuid);
  g_assert_cmpuint (clone->memory_bytes, ==, source->memory_bytes);

  viv_library_undefine (library, "linked", TRUE, NULL, NULL);
  viv_library_undefine (library, "source", TRUE, NULL, NULL);
}

static void
test_clone_dialog_full (void)
{
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  g_autofree char *source_disk = define_source (library);
  g_autoptr (VivVmDefinition) clone = clone_through_dialog (library, "full", 0);
  VivDiskSpec *disk = clone->disks->pdata[0];
  g_autofree char *ours = NULL, *theirs = NULL;
  gsize our_len, their_len;

  g_assert_cmpstr (disk->format, ==, "raw");
  g_assert_cmpstr (disk->path, !=, source_disk);
  g_assert_true (g_file_get_contents (disk->path, &ours, &our_len, NULL));
  g_assert_true (g_file_get_contents (source_disk, &theirs, &their_len, NULL));
  g_assert_cmpmem (ours, our_len, theirs, their_len);

  viv_library_undefine (library, "full", TRUE, NULL, NULL);
  viv_library_undefine (library, "source", TRUE, NULL, NULL);
}

static void
test_clone_dialog_progress (void)
{
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  Shown shown = { g_array_new (FALSE, FALSE, sizeof (double)), g_ptr_array_new_with_free_func (g_free) };
  g_autoptr (VivVmDefinition) clone = NULL;
  guint between = 0;

  define_big_source (library);
  clone = clone_through_dialog_showing (library, "full", 0, &shown);
  g_assert_nonnull (clone);

  /* The bar never went back, moved through the copy and ended full. */
  g_assert_cmpuint (shown.fractions->len, >=, 3);
  for (guint i = 0; i < shown.fractions->len; i++)
    {
      double fraction = g_array_index (shown.fractions, double, i);

      g_test_message ("%.3f “%s”", fraction, (char *) shown.texts->pdata[i]);
      if (i > 0)
        g_assert_cmpfloat (fraction, >=, g_array_index (shown.fractions, double, i - 1));
      between += fraction > 0 && fraction < 1;
    }
  g_assert_cmpuint (between, >=, 2);
  g_assert_cmpfloat (g_array_index (shown.fractions, double, shown.fractions->len - 1), ==, 1.0);
  /* The data, not the disk's size. */
  g_assert_true (g_str_has_prefix (shown.texts->pdata[0], "0 bytes of "));
  g_assert_cmpstr (shown.texts->pdata[shown.texts->len - 1], ==, "64.0\u00a0MiB of 64.0\u00a0MiB");

  g_array_unref (shown.fractions);
  g_ptr_array_unref (shown.texts);
  viv_library_undefine (library, "full", TRUE, NULL, NULL);
  viv_library_undefine (library, "source", TRUE, NULL, NULL);
}

static void
cloned_cb (VivCloneDialog *dialog,
           const char     *name,
           gboolean       *cloned)
{
  *cloned = TRUE;
}

/* Closing the dialog while it copies cancels the clone: the dialog stays
 * until the half-made copy is removed, and nothing of it is left. */
static void
test_clone_dialog_cancel (void)
{
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  VivCloneDialog *dialog = NULL;
  gboolean cloned = FALSE;
  g_autofree char *dir = NULL;

  define_big_source (library);
  dialog = viv_clone_dialog_new (NULL, NULL, "source");
  g_signal_connect (dialog, "cloned", G_CALLBACK (cloned_cb), &cloned);
  gtk_window_present (GTK_WINDOW (dialog));
  viv_ui_test_settle ();
  gtk_editable_set_text (dialog_child (dialog, "name_row"), "cancelled");
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &dialog);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "clone.clone", NULL));
  g_assert_true (viv_clone_dialog_get_busy (dialog));
  /* The Cancel button's action: the copy of 64 MiB has not ended yet. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "window.close", NULL));
  g_assert_nonnull (dialog);
  g_assert_true (viv_ui_test_wait (gone, &dialog, 10000));

  g_assert_false (cloned);
  g_assert_false (viv_library_contains (library, "cancelled"));
  dir = viv_library_get_vm_dir (library, "cancelled");
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  viv_library_undefine (library, "source", TRUE, NULL, NULL);
}

static gboolean
has_clone_dialog (gpointer data)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) window = g_list_model_get_item (toplevels, i);

      if (VIV_IS_CLONE_DIALOG (window))
        {
          *(gpointer *) data = window;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
has_page (gpointer data)
{
  GtkStack *stack = viv_ui_test_window_child (data, "page_stack");

  return gtk_stack_get_child_by_name (stack, "source") != NULL;
}

static void
test_clone_dialog_from_page (void)
{
  g_autoptr (VivLibrary) library = viv_library_open (NULL, NULL);
  g_autofree char *source_disk = define_source (library);
  g_autoptr (VivApplication) app = viv_ui_test_app ();
  VivWindow *window = viv_ui_test_open_window (app);
  GtkWidget *page;
  GtkWidget *dialog = NULL;

  g_assert_true (viv_ui_test_wait (has_page, window, 5000));
  viv_ui_test_settle ();
  page = gtk_stack_get_child_by_name (viv_ui_test_window_child (window, "page_stack"), "source");
  g_assert_true (gtk_widget_activate_action (page, "vm.clone", NULL));
  g_assert_true (viv_ui_test_wait (has_clone_dialog, &dialog, 5000));
  g_assert_cmpstr (gtk_editable_get_text (dialog_child (VIV_CLONE_DIALOG (dialog), "name_row")), ==, "source-clone");
  gtk_window_destroy (GTK_WINDOW (dialog));
  viv_ui_test_close_window (window);
  viv_library_undefine (library, "source", TRUE, NULL, NULL);
}

int
main (int   argc,
      char *argv[])
{
  viv_ui_test_init (&argc, &argv);

  g_test_add_func ("/viv/clone-dialog/refuses", test_clone_dialog_refuses);
  g_test_add_func ("/viv/clone-dialog/linked", test_clone_dialog_linked);
  g_test_add_func ("/viv/clone-dialog/full", test_clone_dialog_full);
  g_test_add_func ("/viv/clone-dialog/progress", test_clone_dialog_progress);
  g_test_add_func ("/viv/clone-dialog/cancel", test_clone_dialog_cancel);
  g_test_add_func ("/viv/clone-dialog/from-page", test_clone_dialog_from_page);

  return g_test_run ();
}
