/* What the UI tests and the screenshot program share: a private home for
 * the app (library, runtime directory, in-memory settings), the app and
 * its window, and waiting for the window to catch up. */
#pragma once

#include <adwaita.h>

#include "library.h"
#include "vivarium-application.h"
#include "vivarium-window.h"

/* Call first thing in main(): points XDG_DATA_HOME, XDG_RUNTIME_DIR and
 * the settings at fresh directories (removed at exit), binds the
 * translations to the build tree, then initialises GLib's tests and GTK. */
void             viv_ui_test_init         (int    *argc,
                                           char ***argv);

/* A registered application and a presented, mapped main window. */
VivApplication  *viv_ui_test_app          (void);
VivWindow       *viv_ui_test_open_window  (VivApplication *app);
void             viv_ui_test_close_window (VivWindow      *window);

/* Spins the main loop until `done (data)` or `timeout_ms`; TRUE if done. */
gboolean         viv_ui_test_wait         (gboolean      (*done) (gpointer data),
                                           gpointer        data,
                                           guint           timeout_ms);
/* Spins the main loop until nothing is pending for a little while. */
void             viv_ui_test_settle       (void);

/* Defines a VM that boots `kernel` (any existing file for a VM that is
 * never started) in the default library. */
void             viv_ui_test_define_vm    (const char     *name,
                                           const char     *kernel,
                                           const char     *cmdline,
                                           guint           n_cpus,
                                           guint64         memory_bytes);
void             viv_ui_test_undefine_vm  (const char     *name);

/* The template child `name` of the window. */
gpointer         viv_ui_test_window_child (VivWindow      *window,
                                           const char     *name);
/* The library rows, in list order. */
GPtrArray       *viv_ui_test_rows         (VivWindow      *window);
