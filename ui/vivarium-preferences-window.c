#define G_LOG_DOMAIN "vivarium-preferences-window"

#include "config.h"

#include <glib/gi18n.h>

#include "vivarium-preferences-window.h"

struct _VivPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  /* Template widgets */
  AdwActionRow         *storage_row;
  GtkAdjustment        *memory_adjustment;
  GtkAdjustment        *vcpus_adjustment;
  GtkSwitch            *stats_switch;
  AdwActionRow         *interval_row;
  GtkAdjustment        *interval_adjustment;
  GtkFontButton        *font_button;

  /* Owned */
  GSettings            *settings;
  GtkFileChooserNative *folder_chooser;
};

G_DEFINE_FINAL_TYPE (VivPreferencesWindow, viv_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

VivPreferencesWindow *
viv_preferences_window_new (GtkWindow *transient_for)
{
  g_return_val_if_fail (!transient_for || GTK_IS_WINDOW (transient_for), NULL);

  return g_object_new (VIV_TYPE_PREFERENCES_WINDOW,
                       "transient-for", transient_for,
                       NULL);
}

static void
viv_preferences_window_update_storage (VivPreferencesWindow *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "storage-folder");
  gboolean is_default = folder[0] == '\0';

  adw_action_row_set_subtitle (self->storage_row,
                               is_default ? _("Each virtual machine’s own folder in the library")
                                          : folder);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.reset-storage-folder", !is_default);
}

static void
storage_folder_changed_cb (VivPreferencesWindow *self,
                           const char                *key,
                           GSettings                 *settings)
{
  viv_preferences_window_update_storage (self);
}

static void
folder_chooser_response_cb (VivPreferencesWindow *self,
                            int                        response,
                            GtkFileChooserNative      *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = folder ? g_file_get_path (folder) : NULL;

      if (path != NULL)
        g_settings_set_string (self->settings, "storage-folder", path);
    }

  g_clear_object (&self->folder_chooser);
}

static void
choose_storage_folder_action (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  VivPreferencesWindow *self = VIV_PREFERENCES_WINDOW (widget);

  if (self->folder_chooser != NULL)
    return;

  self->folder_chooser = gtk_file_chooser_native_new (_("Choose the Storage Folder"),
                                                      GTK_WINDOW (self),
                                                      GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                      _("_Select"),
                                                      _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->folder_chooser), TRUE);
  g_signal_connect_object (self->folder_chooser, "response",
                           G_CALLBACK (folder_chooser_response_cb), self,
                           G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->folder_chooser));
}

static void
reset_storage_folder_action (GtkWidget  *widget,
                             const char *action_name,
                             GVariant   *parameter)
{
  VivPreferencesWindow *self = VIV_PREFERENCES_WINDOW (widget);

  g_settings_reset (self->settings, "storage-folder");
}

/* The console is a terminal: offer fixed-width families only. */
static gboolean
font_is_monospace (const PangoFontFamily *family,
                   const PangoFontFace   *face,
                   gpointer               user_data)
{
  return pango_font_family_is_monospace ((PangoFontFamily *) family);
}

static void
viv_preferences_window_dispose (GObject *object)
{
  VivPreferencesWindow *self = VIV_PREFERENCES_WINDOW (object);

  if (self->folder_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->folder_chooser));
  g_clear_object (&self->folder_chooser);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (viv_preferences_window_parent_class)->dispose (object);
}

static void
viv_preferences_window_class_init (VivPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = viv_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/vivarium/Vivarium/vivarium-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, VivPreferencesWindow, font_button);
  gtk_widget_class_bind_template_child (widget_class, VivPreferencesWindow, interval_adjustment);
  gtk_widget_class_bind_template_child (widget_class, VivPreferencesWindow, interval_row);
  gtk_widget_class_bind_template_child (widget_class, VivPreferencesWindow, memory_adjustment);
  gtk_widget_class_bind_template_child (widget_class, VivPreferencesWindow, stats_switch);
  gtk_widget_class_bind_template_child (widget_class, VivPreferencesWindow, storage_row);
  gtk_widget_class_bind_template_child (widget_class, VivPreferencesWindow, vcpus_adjustment);

  gtk_widget_class_install_action (widget_class, "prefs.choose-storage-folder", NULL, choose_storage_folder_action);
  gtk_widget_class_install_action (widget_class, "prefs.reset-storage-folder", NULL, reset_storage_folder_action);
}

static void
viv_preferences_window_init (VivPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = g_settings_new (APPLICATION_ID);

  g_settings_bind (self->settings, "default-memory-mib", self->memory_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "default-vcpus", self->vcpus_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "stats-enabled", self->stats_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "stats-interval", self->interval_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "stats-enabled", self->interval_row, "sensitive", G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "console-font", self->font_button, "font", G_SETTINGS_BIND_DEFAULT);

  gtk_font_chooser_set_filter_func (GTK_FONT_CHOOSER (self->font_button), font_is_monospace, NULL, NULL);

  g_signal_connect_object (self->settings, "changed::storage-folder",
                           G_CALLBACK (storage_folder_changed_cb), self,
                           G_CONNECT_SWAPPED);
  viv_preferences_window_update_storage (self);
}
