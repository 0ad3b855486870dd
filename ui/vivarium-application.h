/* The application object: app-wide actions (quit, preferences, about)
 * and the main window on activation. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VIV_TYPE_APPLICATION (viv_application_get_type ())
G_DECLARE_FINAL_TYPE (VivApplication, viv_application, VIV, APPLICATION, AdwApplication)

VivApplication *viv_application_new (void);

G_END_DECLS
