#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>

#include "ui-test-util.h"
#include "vivarium-vm-row.h"
#include "viv-test-fs.h"

static char *test_home;

static void
remove_test_home (void)
{
  if (test_home != NULL)
    viv_test_remove_tree (test_home);
  g_clear_pointer (&test_home, g_free);
}

static char *
make_dir (const char *parent,
          const char *name)
{
  char *path = g_build_filename (parent, name, NULL);

  g_assert_no_errno (g_mkdir_with_parents (path, 0700));
  return path;
}

void
viv_ui_test_init (int    *argc,
                  char ***argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  g_autofree char *runtime = NULL;

  test_home = g_dir_make_tmp ("vivarium-ui-XXXXXX", &error);
  g_assert_no_error (error);
  atexit (remove_test_home);

  data = make_dir (test_home, "data");
  runtime = make_dir (test_home, "runtime");
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GSETTINGS_SCHEMA_DIR", TEST_SCHEMA_DIR, TRUE);
  /* No session bus: the app runs unregistered there. */
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "disabled:", TRUE);

  /* The catalogs built by po/meson.build, as LANGUAGE chooses. */
  bindtextdomain (GETTEXT_PACKAGE, TEST_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_test_init (argc, argv, NULL);
  /* gtk_init() sets the locale from the environment (gtk_test_init would
   * force en_US, which would hide the translations under test). */
  gtk_init ();
  adw_init ();
}

VivApplication *
viv_ui_test_app (void)
{
  g_autoptr (GError) error = NULL;
  VivApplication *app = viv_application_new ();

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);
  return app;
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

VivWindow *
viv_ui_test_open_window (VivApplication *app)
{
  VivWindow *window = viv_window_new (app);

  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (viv_ui_test_wait (is_mapped, window, 10000));
  viv_ui_test_settle ();
  return window;
}

void
viv_ui_test_close_window (VivWindow *window)
{
  gtk_window_destroy (GTK_WINDOW (window));
  viv_ui_test_settle ();
}

static gboolean
timeout_cb (gpointer data)
{
  gboolean *timed_out = data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
viv_ui_test_wait (gboolean (*done) (gpointer data),
                  gpointer   data,
                  guint      timeout_ms)
{
  gboolean timed_out = FALSE;
  guint source = g_timeout_add (timeout_ms, timeout_cb, &timed_out);

  while (!done (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (!timed_out)
    g_source_remove (source);
  return done (data);
}

void
viv_ui_test_settle (void)
{
  gboolean timed_out = FALSE;

  /* Layout, frame clock and the window's reload delay (200 ms). */
  g_timeout_add (400, timeout_cb, &timed_out);
  while (!timed_out)
    g_main_context_iteration (NULL, TRUE);
}

void
viv_ui_test_define_vm (const char *name,
                       const char *kernel,
                       const char *cmdline,
                       guint       n_cpus,
                       guint64     memory_bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivLibrary) library = viv_library_open (NULL, &error);
  g_autoptr (VivVmDefinition) def = viv_vm_definition_new ();

  g_assert_no_error (error);
  def->name = g_strdup (name);
  def->kernel = g_strdup (kernel);
  def->cmdline = g_strdup (cmdline);
  def->n_cpus = n_cpus;
  def->memory_bytes = memory_bytes;
  g_assert_true (viv_library_define (library, def, VIV_LIBRARY_DEFINE_NEW_ONLY, &error));
  g_assert_no_error (error);
}

void
viv_ui_test_undefine_vm (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivLibrary) library = viv_library_open (NULL, &error);

  g_assert_no_error (error);
  g_assert_true (viv_library_undefine (library, name, TRUE, NULL, &error));
  g_assert_no_error (error);
}

gpointer
viv_ui_test_window_child (VivWindow  *window,
                          const char *name)
{
  GObject *child = gtk_widget_get_template_child (GTK_WIDGET (window), VIV_TYPE_WINDOW, name);

  g_assert_nonnull (child);
  return child;
}

GPtrArray *
viv_ui_test_rows (VivWindow *window)
{
  GtkListBox *list = viv_ui_test_window_child (window, "vm_list");
  GPtrArray *rows = g_ptr_array_new ();
  GtkListBoxRow *row;

  for (int i = 0; (row = gtk_list_box_get_row_at_index (list, i)) != NULL; i++)
    g_ptr_array_add (rows, row);
  return rows;
}
