#define G_LOG_DOMAIN "vivarium-application"

#include "config.h"

#include <glib/gi18n.h>

#include "os-detect.h"
#include "vivarium-application.h"
#include "vivarium-preferences-window.h"
#include "vivarium-window.h"

struct _VivApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (VivApplication, viv_application, ADW_TYPE_APPLICATION)

VivApplication *
viv_application_new (void)
{
  return g_object_new (VIV_TYPE_APPLICATION,
                       "application-id", APPLICATION_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/vivarium/Vivarium",
                       NULL);
}

/* The create wizard and the VM pages name OSes from libosinfo's database;
 * loading it takes a fifth of a second, which is better spent once the
 * window is up than when the wizard opens. */
#define OS_DATABASE_PRELOAD_DELAY_MS 1000

static void
preload_os_database (gpointer user_data)
{
  viv_os_database_preload ();
}

static void
viv_application_activate (GApplication *app)
{
  GtkWindow *window;

  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window == NULL)
    {
      window = GTK_WINDOW (viv_window_new (VIV_APPLICATION (app)));
      g_timeout_add_once (OS_DATABASE_PRELOAD_DELAY_MS, preload_os_database, NULL);
    }

  gtk_window_present (window);
}

static void
viv_application_quit_action (GSimpleAction *action,
                                  GVariant      *parameter,
                                  gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
viv_application_about_action (GSimpleAction *action,
                                   GVariant      *parameter,
                                   gpointer       user_data)
{
  static const char *developers[] = { "The Vivarium authors", NULL };
  GtkApplication *app = user_data;

  adw_show_about_window (gtk_application_get_active_window (app),
                         "application-name", _("Vivarium"),
                         "application-icon", APPLICATION_ID,
                         "developer-name", _("The Vivarium authors"),
                         "version", PACKAGE_VERSION,
                         "comments", _("Create, run and watch virtual machines on a KVM engine of its own."),
                         "website", "https://github.com/vivarium/vivarium",
                         "issue-url", "https://github.com/vivarium/vivarium/issues",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "developers", developers,
                         /* Translators: your names, one per line, shown in the About window. */
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
viv_application_preferences_action (GSimpleAction *action,
                                         GVariant      *parameter,
                                         gpointer       user_data)
{
  GtkApplication *app = user_data;
  VivPreferencesWindow *preferences;

  preferences = viv_preferences_window_new (gtk_application_get_active_window (app));
  gtk_window_present (GTK_WINDOW (preferences));
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = viv_application_quit_action },
  { .name = "about", .activate = viv_application_about_action },
  { .name = "preferences", .activate = viv_application_preferences_action },
};

static void
viv_application_startup (GApplication *app)
{
  static const struct {
    const char *action;
    const char *accels[2];
  } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "app.preferences", { "<Control>comma", NULL } },
    { "window.close", { "<Control>w", NULL } },
  };

  G_APPLICATION_CLASS (viv_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), app);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app),
                                           accels[i].action, accels[i].accels);
}

static void
viv_application_class_init (VivApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->activate = viv_application_activate;
  app_class->startup = viv_application_startup;
}

static void
viv_application_init (VivApplication *self)
{
}
