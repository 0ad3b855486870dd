/* A VM's serial console: a VteTerminal fed from the worker's console
 * socket ($XDG_RUNTIME_DIR/vivarium/UUID/console, see worker-common.h).
 * What the guest writes is shown; what the user types or pastes is sent
 * to the guest.  The worker replays its scrollback to every new client,
 * so the terminal starts afresh on each connection.
 *
 * Actions (also in the terminal's context menu):
 *   console.copy         Ctrl+Shift+C
 *   console.paste        Ctrl+Shift+V
 *   console.zoom-in      Ctrl++
 *   console.zoom-out     Ctrl+−
 *   console.zoom-reset   Ctrl+0
 * The font is the GSettings key "console-font" of io.github.vivarium.Vivarium. */
#pragma once

#include <gtk/gtk.h>
#include <vte/vte.h>

G_BEGIN_DECLS

#define VIV_TYPE_CONSOLE_VIEW (viv_console_view_get_type ())
G_DECLARE_FINAL_TYPE (VivConsoleView, viv_console_view, VIV, CONSOLE_VIEW, GtkWidget)

GtkWidget   *viv_console_view_new           (void);

/* Connects to a console socket (dropping any earlier connection); the
 * terminal is cleared once the connection stands.  Failures show in the
 * view and in the "status" property. */
void         viv_console_view_connect       (VivConsoleView *self,
                                             const char     *socket_path);
void         viv_console_view_disconnect    (VivConsoleView *self);

gboolean     viv_console_view_get_connected (VivConsoleView *self);
/* Why the view is not connected (translated), or NULL when it is. */
const char  *viv_console_view_get_status    (VivConsoleView *self);
VteTerminal *viv_console_view_get_terminal  (VivConsoleView *self);

G_END_DECLS
