/* Starting, finding and talking to VM workers (vivarium-worker), for
 * vivctl and the desktop app.
 *
 *   g_autoptr (VivWorkerInfo) info = viv_worker_client_start (NULL, "web", 0, &error);
 *   g_autoptr (GDBusConnection) bus = viv_worker_client_connect (info, NULL, &error);
 *   g_autoptr (VivDBusMachine1) vm = viv_worker_client_get_machine (bus, NULL, &error);
 *   viv_dbus_machine1_call_pause_sync (vm, NULL, &error);
 *
 * Workers outlive their clients: viv_worker_client_list finds them again
 * (and the records of VMs whose worker crashed).  The D-Bus interface is
 * data/io.github.vivarium.Machine1.xml; the runtime directory layout is
 * in worker-common.h.  Errors from the worker's methods come back in the
 * VIV_MACHINE1_ERROR domain. */
#pragma once
#include "worker-common.h"
#include "viv-dbus-machine1.h"

#define VIV_WORKER_CLIENT_ERROR (viv_worker_client_error_quark ())
GQuark viv_worker_client_error_quark (void);

typedef enum {
  VIV_WORKER_CLIENT_ERROR_NOT_RUNNING,      /* no worker (or crash record) for that VM */
  VIV_WORKER_CLIENT_ERROR_ALREADY_RUNNING,
  VIV_WORKER_CLIENT_ERROR_START_FAILED,     /* the message is the worker's, or quotes its log */
  VIV_WORKER_CLIENT_ERROR_TIMEOUT,
  VIV_WORKER_CLIENT_ERROR_CRASHED,          /* the worker is gone; the message says how */
} VivWorkerClientError;

/* Start and wait timeouts when 0 is given. */
#define VIV_WORKER_CLIENT_DEFAULT_TIMEOUT_MS 15000

typedef struct VivWorkerInfo {
  char     *name;
  char     *uuid;
  char     *dir;              /* $XDG_RUNTIME_DIR/vivarium/UUID */
  char     *control_address;  /* "unix:path=DIR/control" */
  char     *console_path;     /* DIR/console */
  GPid      pid;              /* the VM process */
  GPid      supervisor_pid;
  /* A crash record: the worker died (its sockets are gone). */
  gboolean  crashed;
  int       crash_signal;     /* the signal that killed it, or 0 */
  char     *crash_reason;     /* "killed by signal 9 (Killed)", "exited with status 1", the engine's error */
} VivWorkerInfo;

void viv_worker_info_free (VivWorkerInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VivWorkerInfo, viv_worker_info_free)

/* The worker program: $VIVARIUM_WORKER, else the build tree's when this
 * program runs from the build tree, else the installed one. */
char          *viv_worker_client_program_path (void);

/* Starts a worker for VM `name` of the library at `library_root` (NULL:
 * the default library) and returns once it serves, or fails with the
 * worker's own message (START_FAILED), ALREADY_RUNNING or TIMEOUT.  A
 * crash record of the same VM is replaced. */
VivWorkerInfo *viv_worker_client_start  (const char *library_root, const char *name,
                                         guint timeout_ms, GError **error);
void           viv_worker_client_start_async  (const char *library_root, const char *name,
                                               guint timeout_ms, GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
VivWorkerInfo *viv_worker_client_start_finish (GAsyncResult *result, GError **error);

/* Running workers and crash records, sorted by name; directories left by
 * workers that are gone without a record are removed on the way. */
GPtrArray     *viv_worker_client_list   (GError **error);   /* of VivWorkerInfo* */
/* By name or UUID; NOT_RUNNING when there is neither a worker nor a record. */
VivWorkerInfo *viv_worker_client_find   (const char *name_or_uuid, GError **error);
/* Whether a live worker runs the VM with this UUID. */
gboolean       viv_worker_client_is_running (const char *uuid);

/* A peer-to-peer connection to the worker's control socket. */
GDBusConnection *viv_worker_client_connect (const VivWorkerInfo *info, GCancellable *cancellable,
                                            GError **error);
/* The Machine1 object on such a connection (properties already loaded). */
VivDBusMachine1 *viv_worker_client_get_machine (GDBusConnection *connection,
                                                GCancellable *cancellable, GError **error);

/* A connected, blocking socket on the serial console (the scrollback
 * arrives first).  Close it to leave. */
int            viv_worker_client_open_console (const VivWorkerInfo *info, GError **error);

/* Waits until the worker has exited (after PowerOff); TIMEOUT if not. */
gboolean       viv_worker_client_wait_exit (const VivWorkerInfo *info, guint timeout_ms,
                                            GError **error);
/* Removes a crash record. */
gboolean       viv_worker_client_forget (const VivWorkerInfo *info, GError **error);
