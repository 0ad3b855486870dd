/* What vivarium-worker and its clients agree on: the runtime directory of
 * a VM and the D-Bus errors of io.github.vivarium.Machine1.
 *
 * $XDG_RUNTIME_DIR/vivarium/          (0700)
 *   logs/NAME.log                     the workers' stdout and stderr, appended
 *   UUID/                             (0700) one per running or crashed VM
 *     lock      flock()ed by the worker (the VM process) while it lives
 *     vm        key file [vm]: name, uuid, pid, supervisor-pid
 *     control   D-Bus, io.github.vivarium.Machine1 (0600)
 *     console   the serial console, a unix stream socket (0600)
 *     status    only after a crash: key file [status]: state=crashed and
 *               signal=N, exit-status=N or error=TEXT
 *
 * A directory whose lock is held belongs to a live worker.  Free lock and
 * a status file: the VM crashed; the record stays until the VM is started
 * again or forgotten.  Free lock, no status and no live supervisor: stale
 * (both processes are gone), removed by whoever finds it. */
#pragma once
#include <gio/gio.h>
#include <sys/types.h>

#define VIV_WORKER_LOCK_FILE     "lock"
#define VIV_WORKER_VM_FILE       "vm"
#define VIV_WORKER_CONTROL_FILE  "control"
#define VIV_WORKER_CONSOLE_FILE  "console"
#define VIV_WORKER_STATUS_FILE   "status"

#define VIV_MACHINE1_OBJECT_PATH "/io/github/vivarium/Machine1"

/* The worker's exit status when it could not start the VM (it already
 * told its spawner why and removed its directory). */
#define VIV_WORKER_EXIT_START_FAILED 2
/* … and when the engine failed while running (status file written). */
#define VIV_WORKER_EXIT_CRASHED 3

/* $XDG_RUNTIME_DIR/vivarium (not created). */
char     *viv_worker_runtime_root (void);
char     *viv_worker_dir_for_uuid (const char *uuid);
char     *viv_worker_log_path     (const char *name);
/* "unix:path=DIR/control", escaped as D-Bus addresses need. */
char     *viv_worker_control_address (const char *dir);

/* Creates the runtime root and its logs/ (0700). */
gboolean  viv_worker_ensure_runtime_root (GError **error);

/* A UUID as the library writes them: 36 lower-case hex digits and dashes. */
gboolean  viv_worker_is_uuid (const char *text);

/* Writes a key file atomically (0600). */
gboolean  viv_worker_write_key_file (const char *dir, const char *filename, GKeyFile *keys,
                                     GError **error);

/* Tries to take `dir`/lock exclusively without waiting.  Returns the
 * locked fd, or -1: with *busy set when another process holds it, else
 * with error set.  Makes sure the lock file is still the one in `dir`
 * (someone may have removed a stale directory meanwhile). */
int       viv_worker_try_lock (const char *dir, gboolean create, gboolean *busy, GError **error);

/* Removes the files above and the directory itself (when empty). */
void      viv_worker_remove_dir (const char *dir);

/* Whether a process exists (it may belong to someone else). */
gboolean  viv_worker_pid_alive (pid_t pid);

/* io.github.vivarium.Machine1.Error.* */
#define VIV_MACHINE1_ERROR (viv_machine1_error_quark ())
GQuark    viv_machine1_error_quark (void);

typedef enum {
  VIV_MACHINE1_ERROR_WRONG_STATE,    /* …Error.WrongState: not now, in this state */
  VIV_MACHINE1_ERROR_NOT_SUPPORTED,  /* …Error.NotSupported: this VM or engine cannot */
  VIV_MACHINE1_ERROR_FAILED,         /* …Error.Failed */
} VivMachine1Error;
