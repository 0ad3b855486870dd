/* The main window: the VM library (a list of VMs beside the selected VM's
 * page), or an empty state that leads to creating the first VM.  The list
 * follows the library on disk and the running workers. */
#pragma once

#include <adwaita.h>

#include "vivarium-application.h"

G_BEGIN_DECLS

#define VIV_TYPE_WINDOW (viv_window_get_type ())
G_DECLARE_FINAL_TYPE (VivWindow, viv_window, VIV, WINDOW, AdwApplicationWindow)

VivWindow *viv_window_new         (VivApplication *application);

/* Reads the library and the worker list again now (the window also does
 * so by itself when either changes on disk). */
void       viv_window_reload      (VivWindow      *self);

/* Shows `error`'s message in a toast; `what` (translated) says what was
 * being done, e.g. _("Could not start “web”"). */
void       viv_window_show_error  (VivWindow      *self,
                                   const char     *what,
                                   const GError   *error);

/* Selects the VM of that name, if the library has it. */
gboolean   viv_window_select_vm   (VivWindow      *self,
                                   const char     *name);

G_END_DECLS
