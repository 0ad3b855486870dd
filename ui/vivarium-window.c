#define G_LOG_DOMAIN "vivarium-window"

#include "config.h"

#include <glib/gi18n.h>

#include "vivarium-vm-page.h"
#include "vivarium-vm-row.h"
#include "vivarium-window-private.h"
#include "worker-client.h"

/* Library and runtime directories change in bursts (a define writes a
 * directory, a temp file, renames it); read them once the burst is over. */
#define RELOAD_DELAY_MS 200

G_DEFINE_FINAL_TYPE (VivWindow, viv_window, ADW_TYPE_APPLICATION_WINDOW)

VivWindow *
viv_window_new (VivApplication *application)
{
  g_return_val_if_fail (VIV_IS_APPLICATION (application), NULL);

  return g_object_new (VIV_TYPE_WINDOW,
                       "application", application,
                       NULL);
}

void
viv_window_show_error (VivWindow    *self,
                       const char   *what,
                       const GError *error)
{
  g_autofree char *title = NULL;
  AdwToast *toast;

  g_return_if_fail (VIV_IS_WINDOW (self));
  g_return_if_fail (what != NULL);
  g_return_if_fail (error != NULL);

  g_message ("%s: %s", what, error->message);

  /* Translators: a toast: what failed, then why (the error message). */
  title = g_markup_printf_escaped (_("%s: %s"), what, error->message);
  toast = adw_toast_new (title);
  adw_toast_set_timeout (toast, 0);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static VivVmRow *
viv_window_get_selected_row (VivWindow *self)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (self->vm_list);

  return row ? VIV_VM_ROW (row) : NULL;
}

/* Statistics preferences: 0 seconds when off. */
static guint
viv_window_stats_interval (VivWindow *self)
{
  if (!g_settings_get_boolean (self->settings, "stats-enabled"))
    return 0;
  return g_settings_get_uint (self->settings, "stats-interval");
}

static void
stats_settings_changed_cb (VivWindow  *self,
                           const char *key,
                           GSettings  *settings)
{
  guint interval = viv_window_stats_interval (self);
  GHashTableIter iter;
  gpointer row;

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &row))
    viv_vm_item_set_stats_interval (viv_vm_row_get_vm (row), interval);
}

static void
vm_error_cb (VivWindow    *self,
             const GError *error,
             VivVmItem    *vm)
{
  g_autofree char *what = g_strdup_printf (_("Could not connect to “%s”"), viv_vm_item_get_name (vm));

  viv_window_show_error (self, what, error);
}

/* A VM's page (console, graphs, details) is built the first time the VM
 * is selected, not with its row: a long library would otherwise build
 * every page before the window's first frame.  The page misses nothing:
 * the VM's statistics are kept by its item, and the worker sends the
 * console's scrollback to every new connection. */
static void
viv_window_show_page (VivWindow *self,
                      VivVmItem *vm)
{
  const char *name = viv_vm_item_get_name (vm);

  if (gtk_stack_get_child_by_name (self->page_stack, name) == NULL)
    gtk_stack_add_named (self->page_stack, viv_vm_page_new (vm, self->library), name);
  gtk_stack_set_visible_child_name (self->page_stack, name);
}

static void
vm_list_row_selected_cb (VivWindow     *self,
                         GtkListBoxRow *row,
                         GtkListBox    *list)
{
  if (row != NULL)
    viv_window_show_page (self, viv_vm_row_get_vm (VIV_VM_ROW (row)));
  _viv_window_actions_update (self);
}

static void
vm_list_row_activated_cb (VivWindow     *self,
                          GtkListBoxRow *row,
                          GtkListBox    *list)
{
  adw_leaflet_set_visible_child (self->leaflet, self->content);
}

static int
compare_rows (GtkListBoxRow *a,
              GtkListBoxRow *b,
              gpointer       user_data)
{
  return g_utf8_collate (viv_vm_item_get_name (viv_vm_row_get_vm (VIV_VM_ROW (a))),
                         viv_vm_item_get_name (viv_vm_row_get_vm (VIV_VM_ROW (b))));
}

static VivVmRow *
viv_window_add_vm (VivWindow  *self,
                   const char *name)
{
  g_autoptr (VivVmItem) vm = viv_vm_item_new (name);
  GtkWidget *row;

  viv_vm_item_set_stats_interval (vm, viv_window_stats_interval (self));
  g_signal_connect_object (vm, "error", G_CALLBACK (vm_error_cb), self, G_CONNECT_SWAPPED);

  row = viv_vm_row_new (vm);
  gtk_list_box_append (self->vm_list, row);
  g_hash_table_insert (self->rows, g_strdup (name), row);

  return VIV_VM_ROW (row);
}

static void
viv_window_remove_vm (VivWindow  *self,
                      const char *name)
{
  VivVmRow *row = g_hash_table_lookup (self->rows, name);
  GtkWidget *page = gtk_stack_get_child_by_name (self->page_stack, name);

  g_assert (row != NULL);

  /* Drop the worker connection now, not when the last reference goes. */
  viv_vm_item_set_worker (viv_vm_row_get_vm (row), NULL);
  if (page != NULL)
    gtk_stack_remove (self->page_stack, page);
  gtk_list_box_remove (self->vm_list, GTK_WIDGET (row));
  g_hash_table_remove (self->stored_xml, name);
  g_hash_table_remove (self->rows, name);
}

/* Reads the VM's definition when its file changed since the last time:
 * the page may be in the middle of an edit, and a broken file is
 * reported once. */
static void
viv_window_load_definition (VivWindow *self,
                            VivVmItem *vm)
{
  const char *name = viv_vm_item_get_name (vm);
  g_autoptr (GError) error = NULL;
  g_autofree char *xml = viv_library_load_xml (self->library, name, NULL);
  VivVmDefinition *def;

  if (xml != NULL && g_strcmp0 (xml, g_hash_table_lookup (self->stored_xml, name)) == 0)
    return;
  g_hash_table_insert (self->stored_xml, g_strdup (name), g_steal_pointer (&xml));

  def = viv_library_load (self->library, name, &error);
  if (def == NULL)
    {
      g_autofree char *what = g_strdup_printf (_("Could not read “%s”"), name);

      viv_window_show_error (self, what, error);
      return;
    }

  viv_vm_item_set_definition (vm, def);
}

/* Takes the worker of `vm` out of `workers`: the one with the VM's UUID,
 * or with its name while the definition cannot be read. */
static VivWorkerInfo *
steal_worker (GPtrArray *workers,
              VivVmItem *vm)
{
  const VivVmDefinition *def = viv_vm_item_get_definition (vm);

  for (guint i = 0; i < workers->len; i++)
    {
      VivWorkerInfo *info = g_ptr_array_index (workers, i);

      if (info == NULL)
        continue;
      if (def != NULL ? g_str_equal (info->uuid, def->uuid)
                      : g_str_equal (info->name, viv_vm_item_get_name (vm)))
        return g_steal_pointer (&workers->pdata[i]);
    }

  return NULL;
}

void
viv_window_reload (VivWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) workers = NULL;
  g_autoptr (GHashTable) listed = NULL;
  g_autoptr (GPtrArray) gone = NULL;
  g_auto (GStrv) names = NULL;
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (VIV_IS_WINDOW (self));

  g_clear_handle_id (&self->reload_source, g_source_remove);

  if (self->library == NULL)
    return;

  names = viv_library_list (self->library, &error);
  if (names == NULL)
    {
      viv_window_show_error (self, _("Could not read the library"), error);
      return;
    }

  workers = viv_worker_client_list (&error);
  if (workers == NULL)
    {
      viv_window_show_error (self, _("Could not list the running virtual machines"), error);
      g_clear_error (&error);
      workers = g_ptr_array_new ();
    }

  listed = g_hash_table_new (g_str_hash, g_str_equal);
  for (char **name = names; *name != NULL; name++)
    {
      VivVmRow *row = g_hash_table_lookup (self->rows, *name);
      VivVmItem *vm;

      g_hash_table_add (listed, *name);
      if (row == NULL)
        row = viv_window_add_vm (self, *name);
      vm = viv_vm_row_get_vm (row);

      viv_window_load_definition (self, vm);
      viv_vm_item_set_worker (vm, steal_worker (workers, vm));
    }

  gone = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (listed, key))
      g_ptr_array_add (gone, g_strdup (key));
  for (guint i = 0; i < gone->len; i++)
    viv_window_remove_vm (self, g_ptr_array_index (gone, i));

  gtk_list_box_invalidate_sort (self->vm_list);
  gtk_stack_set_visible_child_name (self->main_stack, names[0] != NULL ? "library" : "empty");

  if (viv_window_get_selected_row (self) == NULL && names[0] != NULL)
    gtk_list_box_select_row (self->vm_list, gtk_list_box_get_row_at_index (self->vm_list, 0));

  _viv_window_actions_update (self);
}

gboolean
viv_window_select_vm (VivWindow  *self,
                      const char *name)
{
  VivVmRow *row;

  g_return_val_if_fail (VIV_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  row = g_hash_table_lookup (self->rows, name);
  if (row == NULL)
    return FALSE;

  gtk_list_box_select_row (self->vm_list, GTK_LIST_BOX_ROW (row));
  return TRUE;
}

static gboolean
reload_timeout_cb (gpointer user_data)
{
  VivWindow *self = user_data;

  self->reload_source = 0;
  viv_window_reload (self);
  return G_SOURCE_REMOVE;
}

static void
directory_changed_cb (VivWindow         *self,
                      GFile             *file,
                      GFile             *other_file,
                      GFileMonitorEvent  event,
                      GFileMonitor      *monitor)
{
  if (self->reload_source == 0)
    self->reload_source = g_timeout_add (RELOAD_DELAY_MS, reload_timeout_cb, self);
}

static GFileMonitor *
viv_window_watch (VivWindow  *self,
                  const char *path)
{
  g_autoptr (GFile) directory = g_file_new_for_path (path);
  g_autoptr (GError) error = NULL;
  GFileMonitor *monitor;

  monitor = g_file_monitor_directory (directory, G_FILE_MONITOR_WATCH_MOVES, self->cancellable, &error);
  if (monitor == NULL)
    {
      /* The list still reloads after the app's own changes. */
      g_warning ("Cannot watch %s for changes: %s", path, error->message);
      return NULL;
    }

  g_signal_connect_object (monitor, "changed", G_CALLBACK (directory_changed_cb), self, G_CONNECT_SWAPPED);
  return monitor;
}

static void
viv_window_open_library (VivWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *runtime_root = NULL;

  self->library = viv_library_open (NULL, &error);
  if (self->library == NULL)
    {
      viv_window_show_error (self, _("Could not open the library"), error);
      return;
    }
  self->library_monitor = viv_window_watch (self, viv_library_get_root (self->library));

  /* Workers come and go as directories under the runtime root. */
  if (!viv_worker_ensure_runtime_root (&error))
    {
      viv_window_show_error (self, _("Could not watch the running virtual machines"), error);
      return;
    }
  runtime_root = viv_worker_runtime_root ();
  self->runtime_monitor = viv_window_watch (self, runtime_root);
}

static void
viv_window_dispose (GObject *object)
{
  VivWindow *self = VIV_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->reload_source, g_source_remove);
  g_clear_object (&self->library_monitor);
  g_clear_object (&self->runtime_monitor);
  g_clear_object (&self->settings);

  /* The list emits row-selected while its rows go. */
  if (self->vm_list != NULL)
    g_signal_handlers_disconnect_by_data (self->vm_list, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), VIV_TYPE_WINDOW);

  G_OBJECT_CLASS (viv_window_parent_class)->dispose (object);
}

static void
viv_window_finalize (GObject *object)
{
  VivWindow *self = VIV_WINDOW (object);

  g_clear_pointer (&self->rows, g_hash_table_unref);
  g_clear_pointer (&self->stored_xml, g_hash_table_unref);
  g_clear_pointer (&self->library, viv_library_free);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (viv_window_parent_class)->finalize (object);
}

static void
viv_window_class_init (VivWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = viv_window_dispose;
  object_class->finalize = viv_window_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/vivarium/Vivarium/vivarium-window.ui");
  gtk_widget_class_bind_template_child (widget_class, VivWindow, content);
  gtk_widget_class_bind_template_child (widget_class, VivWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, VivWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, VivWindow, page_stack);
  gtk_widget_class_bind_template_child (widget_class, VivWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, VivWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, VivWindow, vm_list);
  /* Not used here, looked up by the tests (gtk_widget_get_template_child). */
  gtk_widget_class_bind_template_child_full (widget_class, "empty_new_button", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "empty_page", FALSE, 0);
  gtk_widget_class_bind_template_callback (widget_class, vm_list_row_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, vm_list_row_selected_cb);

  _viv_window_class_actions_init (klass);
}

static void
viv_window_init (VivWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->stored_xml = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->settings = g_settings_new (APPLICATION_ID);

  g_settings_bind (self->settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_object (self->settings, "changed::stats-enabled",
                           G_CALLBACK (stats_settings_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::stats-interval",
                           G_CALLBACK (stats_settings_changed_cb), self, G_CONNECT_SWAPPED);

  g_signal_connect_object (self->leaflet, "notify::folded",
                           G_CALLBACK (_viv_window_actions_update), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->leaflet, "notify::visible-child",
                           G_CALLBACK (_viv_window_actions_update), self, G_CONNECT_SWAPPED);

  gtk_list_box_set_sort_func (self->vm_list, compare_rows, NULL, NULL);

  viv_window_open_library (self);
  viv_window_reload (self);
}
