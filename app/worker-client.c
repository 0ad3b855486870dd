#include "worker-client.h"
#include "vm-definition.h"
#include "companion.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_EXCERPT_BYTES 2048
#define WAIT_POLL_MS 20

G_DEFINE_QUARK (viv-worker-client-error-quark, viv_worker_client_error)

void
viv_worker_info_free (VivWorkerInfo *info)
{
  if (!info)
    return;
  g_free (info->name);
  g_free (info->uuid);
  g_free (info->dir);
  g_free (info->control_address);
  g_free (info->console_path);
  g_free (info->crash_reason);
  g_free (info);
}

/* ---- Reading a runtime directory ---------------------------------------- */

static void
read_crash (VivWorkerInfo *info, GKeyFile *status)
{
  info->crashed = TRUE;
  g_autofree char *error_text = g_key_file_get_string (status, "status", "error", NULL);
  int signal_number = g_key_file_get_integer (status, "status", "signal", NULL);
  if (error_text)
    info->crash_reason = g_steal_pointer (&error_text);
  else if (signal_number > 0)
    {
      info->crash_signal = signal_number;
      info->crash_reason = g_strdup_printf ("killed by signal %d (%s)", signal_number,
                                            g_strsignal (signal_number));
    }
  else
    info->crash_reason = g_strdup_printf ("exited with status %d",
                                          g_key_file_get_integer (status, "status", "exit-status", NULL));
}

static GKeyFile *
load_keys (const char *dir, const char *filename)
{
  g_autofree char *path = g_build_filename (dir, filename, NULL);
  g_autoptr (GKeyFile) keys = g_key_file_new ();
  if (!g_key_file_load_from_file (keys, path, G_KEY_FILE_NONE, NULL))
    return NULL;
  return g_steal_pointer (&keys);
}

static VivWorkerInfo *
info_new (const char *dir, const char *name, const char *uuid, GPid pid, GPid supervisor_pid)
{
  VivWorkerInfo *info = g_new0 (VivWorkerInfo, 1);
  info->name = g_strdup (name);
  info->uuid = g_strdup (uuid);
  info->pid = pid;
  info->supervisor_pid = supervisor_pid;
  info->dir = g_strdup (dir);
  info->control_address = viv_worker_control_address (dir);
  info->console_path = g_build_filename (dir, VIV_WORKER_CONSOLE_FILE, NULL);
  return info;
}

static VivWorkerInfo *
info_from_vm_file (const char *dir)
{
  g_autoptr (GKeyFile) vm = load_keys (dir, VIV_WORKER_VM_FILE);
  if (!vm)
    return NULL;
  g_autofree char *name = g_key_file_get_string (vm, "vm", "name", NULL);
  g_autofree char *uuid = g_key_file_get_string (vm, "vm", "uuid", NULL);
  if (!name || !uuid)
    return NULL;
  return info_new (dir, name, uuid, g_key_file_get_int64 (vm, "vm", "pid", NULL),
                   g_key_file_get_int64 (vm, "vm", "supervisor-pid", NULL));
}

/* What DIR holds: a live worker, a crash record, or nothing (NULL; a
 * stale directory is removed).  A worker still writing its files, or a
 * supervisor still writing the record, gives NULL too. */
static VivWorkerInfo *
read_worker_dir (const char *dir)
{
  gboolean busy;
  int lock_fd = viv_worker_try_lock (dir, FALSE, &busy, NULL);
  if (busy)
    return info_from_vm_file (dir);
  if (lock_fd < 0)
    return NULL;   /* no lock file: being created (or not ours) */

  VivWorkerInfo *info = info_from_vm_file (dir);
  g_autoptr (GKeyFile) status = load_keys (dir, VIV_WORKER_STATUS_FILE);
  if (info && status)
    read_crash (info, status);
  else if (info && viv_worker_pid_alive (info->supervisor_pid))
    g_clear_pointer (&info, viv_worker_info_free);   /* the supervisor is writing the record */
  else
    {
      viv_worker_remove_dir (dir);
      g_clear_pointer (&info, viv_worker_info_free);
    }
  close (lock_fd);
  return info;
}

static gint
compare_by_name (gconstpointer a, gconstpointer b)
{
  const VivWorkerInfo *x = *(VivWorkerInfo *const *) a, *y = *(VivWorkerInfo *const *) b;
  return g_strcmp0 (x->name, y->name);
}

GPtrArray *
viv_worker_client_list (GError **error)
{
  g_autofree char *root = viv_worker_runtime_root ();
  g_autoptr (GPtrArray) workers = g_ptr_array_new_with_free_func ((GDestroyNotify) viv_worker_info_free);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GDir) listing = g_dir_open (root, 0, &local_error);
  if (!listing)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&workers);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot list the running VMs: ");
      return NULL;
    }
  const char *entry;
  while ((entry = g_dir_read_name (listing)))
    {
      if (!viv_worker_is_uuid (entry))
        continue;
      g_autofree char *dir = g_build_filename (root, entry, NULL);
      VivWorkerInfo *info = read_worker_dir (dir);
      if (info)
        g_ptr_array_add (workers, info);
    }
  g_ptr_array_sort (workers, compare_by_name);
  return g_steal_pointer (&workers);
}

VivWorkerInfo *
viv_worker_client_find (const char *name_or_uuid, GError **error)
{
  g_autoptr (GPtrArray) workers = viv_worker_client_list (error);
  if (!workers)
    return NULL;
  for (guint i = 0; i < workers->len; i++)
    {
      VivWorkerInfo *info = workers->pdata[i];
      if (g_str_equal (info->name, name_or_uuid) || g_str_equal (info->uuid, name_or_uuid))
        return g_ptr_array_steal_index (workers, i);
    }
  g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_NOT_RUNNING,
               "VM '%s' is not running", name_or_uuid);
  return NULL;
}

gboolean
viv_worker_client_is_running (const char *uuid)
{
  if (!viv_worker_is_uuid (uuid))
    return FALSE;
  g_autofree char *dir = viv_worker_dir_for_uuid (uuid);
  gboolean busy;
  int lock_fd = viv_worker_try_lock (dir, FALSE, &busy, NULL);
  if (lock_fd >= 0)
    close (lock_fd);
  return busy;
}

gboolean
viv_worker_client_forget (const VivWorkerInfo *info, GError **error)
{
  gboolean busy;
  int lock_fd = viv_worker_try_lock (info->dir, FALSE, &busy, NULL);
  if (busy)
    {
      g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_ALREADY_RUNNING,
                   "VM '%s' is running; only the record of a crashed VM can be removed", info->name);
      return FALSE;
    }
  viv_worker_remove_dir (info->dir);
  if (lock_fd >= 0)
    close (lock_fd);
  return TRUE;
}

gboolean
viv_worker_client_wait_exit (const VivWorkerInfo *info, guint timeout_ms, GError **error)
{
  gint64 deadline = g_get_monotonic_time ()
                    + (gint64) (timeout_ms ? timeout_ms : VIV_WORKER_CLIENT_DEFAULT_TIMEOUT_MS) * 1000;
  for (;;)
    {
      gboolean busy;
      int lock_fd = viv_worker_try_lock (info->dir, FALSE, &busy, NULL);
      if (lock_fd >= 0)
        close (lock_fd);
      if (!busy)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_TIMEOUT,
                       "the worker of VM '%s' (pid %d) is still running", info->name, (int) info->pid);
          return FALSE;
        }
      g_usleep (WAIT_POLL_MS * 1000);
    }
}

/* ---- Starting a worker ---------------------------------------------------- */

char *
viv_worker_client_program_path (void)
{
  return viv_companion_path ("VIVARIUM_WORKER", VIV_WORKER_BUILD_PATH, VIV_WORKER_INSTALLED_PATH);
}

/* The end of what the worker logged since `offset`, for error messages. */
static char *
log_excerpt (const char *log_path, off_t offset)
{
  g_autofree char *contents = NULL;
  gsize len;
  if (!g_file_get_contents (log_path, &contents, &len, NULL) || (gsize) offset >= len)
    return g_strdup_printf ("(nothing in %s)", log_path);
  const char *start = contents + offset;
  if (len - offset > LOG_EXCERPT_BYTES)
    start = contents + len - LOG_EXCERPT_BYTES;
  return g_strchomp (g_strdup (start));
}

typedef struct {
  char   *program;
  char   *log_path;
  int     log_fd;
  off_t   log_offset;
  int     ready_fd;     /* read end */
} Spawn;

static void
spawn_clear (Spawn *spawn)
{
  g_free (spawn->program);
  g_free (spawn->log_path);
  if (spawn->log_fd >= 0)
    close (spawn->log_fd);
  if (spawn->ready_fd >= 0)
    close (spawn->ready_fd);
}

static gboolean
spawn_worker (Spawn *spawn, const char *library_root, const char *name, GError **error)
{
  spawn->log_path = viv_worker_log_path (name);
  spawn->log_fd = open (spawn->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (spawn->log_fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open the log %s: %s",
                   spawn->log_path, g_strerror (saved));
      return FALSE;
    }
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *when = g_date_time_format_iso8601 (now);
  g_autofree char *banner = g_strdup_printf ("---- vivarium-worker for '%s', %s ----\n", name, when);
  ssize_t written = write (spawn->log_fd, banner, strlen (banner));
  (void) written;   /* the log is a help, not a requirement */
  spawn->log_offset = lseek (spawn->log_fd, 0, SEEK_END);

  int ready[2];
  if (pipe2 (ready, O_CLOEXEC) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "pipe: %s", g_strerror (saved));
      return FALSE;
    }
  spawn->ready_fd = ready[0];

  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (spawn->log_fd));
  g_subprocess_launcher_take_stderr_fd (launcher, dup (spawn->log_fd));
  g_subprocess_launcher_take_fd (launcher, ready[1], 3);
  spawn->program = viv_worker_client_program_path ();
  g_autoptr (GStrvBuilder) args = g_strv_builder_new ();
  g_strv_builder_add_many (args, spawn->program, "--name", name, "--ready-fd", "3", NULL);
  if (library_root)
    g_strv_builder_add_many (args, "--library", library_root, NULL);
  g_auto (GStrv) argv = g_strv_builder_end (args);
  g_autoptr (GSubprocess) process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv, error);
  /* Our copy of the write end goes with the launcher: only the worker's
   * copies keep the pipe open now. */
  g_clear_object (&launcher);
  if (!process)
    {
      g_prefix_error (error, "cannot run the VM worker %s: ", spawn->program);
      return FALSE;
    }
  /* The first process only detaches; reap it. */
  return g_subprocess_wait (process, NULL, error);
}

/* Reads the worker's ready line (or error) until end of file.  The line
 * has all a client needs: the VM may be gone again already (a guest
 * that powers off at once) and its directory with it. */
static VivWorkerInfo *
wait_ready (Spawn *spawn, const char *name, guint timeout_ms, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_autoptr (GString) reply = g_string_new (NULL);
  for (;;)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      struct pollfd pfd = { .fd = spawn->ready_fd, .events = POLLIN };
      int n = left_ms > 0 ? poll (&pfd, 1, left_ms) : 0;
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0)
        {
          g_autofree char *excerpt = log_excerpt (spawn->log_path, spawn->log_offset);
          g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_TIMEOUT,
                       "the worker of VM '%s' did not answer within %u s; its log %s says:\n%s",
                       name, timeout_ms / 1000, spawn->log_path, excerpt);
          return NULL;
        }
      char buf[512];
      ssize_t got = read (spawn->ready_fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        break;
      g_string_append_len (reply, buf, got);
    }

  char uuid[37];
  int pid, supervisor_pid;
  if (sscanf (reply->str, "ready %36s %d %d", uuid, &pid, &supervisor_pid) == 3
      && viv_worker_is_uuid (uuid))
    {
      g_autofree char *dir = viv_worker_dir_for_uuid (uuid);
      return info_new (dir, name, uuid, pid, supervisor_pid);
    }
  if (g_str_has_prefix (reply->str, "error "))
    {
      /* "error already-running MESSAGE" or "error failed MESSAGE" */
      const char *message = reply->str + strlen ("error ");
      int code = VIV_WORKER_CLIENT_ERROR_START_FAILED;
      if (g_str_has_prefix (message, "already-running "))
        code = VIV_WORKER_CLIENT_ERROR_ALREADY_RUNNING;
      message = strchr (message, ' ') ? strchr (message, ' ') + 1 : message;
      g_set_error (error, VIV_WORKER_CLIENT_ERROR, code, "%s", message);
      return NULL;
    }
  g_autofree char *excerpt = log_excerpt (spawn->log_path, spawn->log_offset);
  g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_START_FAILED,
               "the worker of VM '%s' (%s) ended before it was ready; its log %s says:\n%s",
               name, spawn->program, spawn->log_path, excerpt);
  return NULL;
}

VivWorkerInfo *
viv_worker_client_start (const char *library_root, const char *name, guint timeout_ms,
                         GError **error)
{
  if (!viv_vm_name_is_valid (name, error) || !viv_worker_ensure_runtime_root (error))
    return NULL;
  g_autoptr (VivWorkerInfo) existing = viv_worker_client_find (name, NULL);
  if (existing && !existing->crashed)
    {
      g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_ALREADY_RUNNING,
                   "VM '%s' is already running (worker pid %d)", name, (int) existing->pid);
      return NULL;
    }

  Spawn spawn = { .log_fd = -1, .ready_fd = -1 };
  VivWorkerInfo *info = NULL;
  if (spawn_worker (&spawn, library_root, name, error))
    info = wait_ready (&spawn, name, timeout_ms ? timeout_ms : VIV_WORKER_CLIENT_DEFAULT_TIMEOUT_MS,
                       error);
  spawn_clear (&spawn);
  return info;
}

typedef struct {
  char  *library_root;
  char  *name;
  guint  timeout_ms;
} StartData;

static void
start_data_free (gpointer data)
{
  StartData *start = data;
  g_free (start->library_root);
  g_free (start->name);
  g_free (start);
}

static void
start_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  StartData *start = data;
  GError *error = NULL;
  VivWorkerInfo *info = viv_worker_client_start (start->library_root, start->name,
                                                 start->timeout_ms, &error);
  if (info)
    g_task_return_pointer (task, info, (GDestroyNotify) viv_worker_info_free);
  else
    g_task_return_error (task, error);
}

void
viv_worker_client_start_async (const char *library_root, const char *name, guint timeout_ms,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  StartData *start = g_new0 (StartData, 1);
  start->library_root = g_strdup (library_root);
  start->name = g_strdup (name);
  start->timeout_ms = timeout_ms;
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, viv_worker_client_start_async);
  g_task_set_task_data (task, start, start_data_free);
  g_task_run_in_thread (task, start_thread);
}

VivWorkerInfo *
viv_worker_client_start_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- Talking to a worker -------------------------------------------------- */

static gboolean
check_alive (const VivWorkerInfo *info, GError **error)
{
  if (!info->crashed)
    return TRUE;
  g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_CRASHED,
               "VM '%s' crashed: its worker %s", info->name, info->crash_reason);
  return FALSE;
}

GDBusConnection *
viv_worker_client_connect (const VivWorkerInfo *info, GCancellable *cancellable, GError **error)
{
  if (!check_alive (info, error))
    return NULL;
  /* Registers the Machine1 error names, so replies map to VIV_MACHINE1_ERROR. */
  viv_machine1_error_quark ();
  GDBusConnection *connection = g_dbus_connection_new_for_address_sync (
      info->control_address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL, cancellable, error);
  if (!connection)
    g_prefix_error (error, "cannot reach the worker of VM '%s': ", info->name);
  return connection;
}

VivDBusMachine1 *
viv_worker_client_get_machine (GDBusConnection *connection, GCancellable *cancellable,
                               GError **error)
{
  return viv_dbus_machine1_proxy_new_sync (connection, G_DBUS_PROXY_FLAGS_NONE, NULL,
                                           VIV_MACHINE1_OBJECT_PATH, cancellable, error);
}

int
viv_worker_client_open_console (const VivWorkerInfo *info, GError **error)
{
  if (!check_alive (info, error))
    return -1;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (info->console_path) >= sizeof addr.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   "the console socket path %s is too long for a unix socket", info->console_path);
      return -1;
    }
  strcpy (addr.sun_path, info->console_path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      int saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot attach to the console of VM '%s' (%s): %s", info->name,
                   info->console_path, g_strerror (saved));
      return -1;
    }
  return fd;
}
