/* The worker's serial console socket: many clients at once, each sent the
 * scrollback (the last VIV_WORKER_CONSOLE_SCROLLBACK bytes the guest
 * wrote) when it connects and then everything new; what any client types
 * goes to the guest's console.  Leaving (Ctrl-]) is the client's business.
 * A client that reads too slowly misses what scrolled out of the buffer
 * rather than holding the guest up. */
#pragma once
#include "machine.h"

#define VIV_WORKER_CONSOLE_SCROLLBACK (256 * 1024)

typedef struct VivWorkerConsole VivWorkerConsole;

VivWorkerConsole *viv_worker_console_new  (GError **error);
/* Sends the clients what is left, closes them and removes the socket;
 * input stops.  The sink keeps working until free. */
void              viv_worker_console_close (VivWorkerConsole *console);
/* Only once the machine is gone: the sink may be called until then. */
void              viv_worker_console_free (VivWorkerConsole *console);

/* For VivMachineConfig.console: any thread. */
VivByteSink       viv_worker_console_sink (VivWorkerConsole *console);

/* Listens on `path` (created 0600); input goes to `machine`.  Main thread. */
gboolean          viv_worker_console_listen (VivWorkerConsole *console, const char *path,
                                             VivMachine *machine, GError **error);
