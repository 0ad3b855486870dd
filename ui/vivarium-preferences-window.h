/* Preferences: defaults for new VMs, statistics, the console font.
 * Every control is bound to the io.github.vivarium.Vivarium settings. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VIV_TYPE_PREFERENCES_WINDOW (viv_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (VivPreferencesWindow, viv_preferences_window, VIV, PREFERENCES_WINDOW, AdwPreferencesWindow)

VivPreferencesWindow *viv_preferences_window_new (GtkWindow *transient_for);

G_END_DECLS
