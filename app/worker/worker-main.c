/* vivarium-worker --name NAME [--library DIR] [--ready-fd FD]
 *
 * Runs one VM of the library in the background, served over D-Bus (see
 * worker-common.h for its runtime directory).  Three processes:
 *
 *   the one started   returns at once, so that its spawner can reap it;
 *   the supervisor    (new session) only waits for the VM process: if that
 *                     dies abnormally (a signal: SIGKILL, a segfault …) it
 *                     records "crashed" in DIR/status and removes the
 *                     dead sockets, so clients can tell what happened;
 *   the VM process    loads the definition, takes DIR/lock, runs the
 *                     engine, the control and console sockets.
 *
 * --ready-fd: the VM process writes "ready UUID PID SUPERVISOR-PID\n"
 * there once its sockets answer, or "error already-running MESSAGE" / "error failed MESSAGE" if
 * it cannot start; it is closed either way
 * (end of file without either: the worker died, see its log). */
#include "worker-common.h"
#include "worker-service.h"
#include "library.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Talking to the spawner and the supervisor --------------------------- */

static void
write_all (int fd, const char *text)
{
  size_t len = strlen (text);
  while (fd >= 0 && len > 0)
    {
      ssize_t n = write (fd, text, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      text += n;
      len -= n;
    }
}

static void
report_failure (int ready_fd, const char *name, const GError *error)
{
  g_printerr ("vivarium-worker: VM '%s' cannot start: %s\n", name, error->message);
  gboolean running = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_autofree char *line = g_strdup_printf ("error %s %s", running ? "already-running" : "failed",
                                           error->message);
  write_all (ready_fd, line);
}

/* ---- The supervisor ------------------------------------------------------- */

/* Reads the VM process's directory from the pipe: a line, or nothing. */
static char *
read_dir (int fd)
{
  GString *dir = g_string_new (NULL);
  char buf[256];
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_string_append_len (dir, buf, n);
    }
  close (fd);
  if (dir->len == 0 || dir->str[dir->len - 1] != '\n')
    {
      g_string_free (dir, TRUE);
      return NULL;
    }
  g_string_truncate (dir, dir->len - 1);
  return g_string_free (dir, FALSE);
}

static void
record_crash (const char *dir, int status)
{
  /* Nobody answers on these any more; gone before the record appears. */
  g_autofree char *control = g_build_filename (dir, VIV_WORKER_CONTROL_FILE, NULL);
  g_autofree char *console = g_build_filename (dir, VIV_WORKER_CONSOLE_FILE, NULL);
  g_unlink (control);
  g_unlink (console);
  g_autoptr (GKeyFile) keys = g_key_file_new ();
  g_key_file_set_string (keys, "status", "state", "crashed");
  if (WIFSIGNALED (status))
    g_key_file_set_integer (keys, "status", "signal", WTERMSIG (status));
  else
    g_key_file_set_integer (keys, "status", "exit-status", WEXITSTATUS (status));
  g_autoptr (GError) error = NULL;
  if (!viv_worker_write_key_file (dir, VIV_WORKER_STATUS_FILE, keys, &error))
    g_printerr ("vivarium-worker: cannot record the crash: %s\n", error->message);
}

static int
supervise (pid_t vm_pid, int dir_fd)
{
  /* A Ctrl-C or SIGTERM for the whole group is for the VM process: we
   * stay to see how it ends. */
  signal (SIGINT, SIG_IGN);
  signal (SIGTERM, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  g_autofree char *dir = read_dir (dir_fd);
  int status;
  while (waitpid (vm_pid, &status, 0) < 0)
    if (errno != EINTR)
      return 1;
  if (WIFEXITED (status) && (WEXITSTATUS (status) == 0
                             || WEXITSTATUS (status) == VIV_WORKER_EXIT_START_FAILED))
    return 0;   /* it cleaned up after itself */
  if (WIFSIGNALED (status))
    g_printerr ("vivarium-worker: the VM process %d was killed by signal %d (%s)\n",
                (int) vm_pid, WTERMSIG (status), g_strsignal (WTERMSIG (status)));
  else
    g_printerr ("vivarium-worker: the VM process %d exited with status %d\n",
                (int) vm_pid, WEXITSTATUS (status));
  g_autofree char *status_path = dir ? g_build_filename (dir, VIV_WORKER_STATUS_FILE, NULL) : NULL;
  /* Never got that far, cleaned up after itself, or recorded its own failure. */
  if (!dir || !g_file_test (dir, G_FILE_TEST_IS_DIR) || g_file_test (status_path, G_FILE_TEST_EXISTS))
    return 0;
  record_crash (dir, status);
  return 0;
}

/* ---- The VM process ------------------------------------------------------- */

static gboolean
write_vm_file (const char *dir, const VivVmDefinition *def, GError **error)
{
  g_autoptr (GKeyFile) keys = g_key_file_new ();
  g_key_file_set_string (keys, "vm", "name", def->name);
  g_key_file_set_string (keys, "vm", "uuid", def->uuid);
  g_key_file_set_int64 (keys, "vm", "pid", getpid ());
  g_key_file_set_int64 (keys, "vm", "supervisor-pid", getppid ());
  return viv_worker_write_key_file (dir, VIV_WORKER_VM_FILE, keys, error);
}

/* Takes DIR/lock for this VM, clearing what an earlier crash left. */
static int
claim_dir (const char *dir, const VivVmDefinition *def, GError **error)
{
  gboolean busy;
  if (!viv_worker_ensure_runtime_root (error))
    return -1;
  int lock_fd = viv_worker_try_lock (dir, TRUE, &busy, error);
  if (lock_fd < 0)
    {
      if (busy)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                     "VM '%s' is already running (its worker holds %s)", def->name, dir);
      return -1;
    }
  static const char *const leftovers[] = {
    VIV_WORKER_STATUS_FILE, VIV_WORKER_CONTROL_FILE, VIV_WORKER_CONSOLE_FILE,
  };
  for (size_t i = 0; i < G_N_ELEMENTS (leftovers); i++)
    {
      g_autofree char *path = g_build_filename (dir, leftovers[i], NULL);
      g_unlink (path);
    }
  if (!write_vm_file (dir, def, error))
    {
      viv_worker_remove_dir (dir);
      close (lock_fd);
      return -1;
    }
  return lock_fd;
}

static VivVmDefinition *
load_definition (const char *library_root, const char *name, GError **error)
{
  g_autoptr (VivLibrary) library = viv_library_open (library_root, error);
  return library ? viv_library_load (library, name, error) : NULL;
}

static int
run_vm (const char *name, const char *library_root, int ready_fd, int supervisor_fd)
{
  g_autoptr (GError) error = NULL;
  umask (077);
  signal (SIGPIPE, SIG_IGN);
  g_autoptr (VivVmDefinition) def = load_definition (library_root, name, &error);
  if (!def)
    {
      report_failure (ready_fd, name, error);
      return VIV_WORKER_EXIT_START_FAILED;
    }
  g_autofree char *dir = viv_worker_dir_for_uuid (def->uuid);
  int lock_fd = claim_dir (dir, def, &error);
  if (lock_fd < 0)
    {
      report_failure (ready_fd, name, error);
      return VIV_WORKER_EXIT_START_FAILED;
    }
  g_autofree char *dir_line = g_strconcat (dir, "\n", NULL);
  write_all (supervisor_fd, dir_line);
  close (supervisor_fd);

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  VivWorkerService *service = viv_worker_service_new (def, dir, loop, &error);
  if (!service)
    {
      viv_worker_remove_dir (dir);
      report_failure (ready_fd, name, error);
      return VIV_WORKER_EXIT_START_FAILED;
    }
  g_autofree char *ready = g_strdup_printf ("ready %s %d %d\n", def->uuid, (int) getpid (),
                                            (int) getppid ());
  write_all (ready_fd, ready);
  if (ready_fd >= 0)
    close (ready_fd);

  g_main_loop_run (loop);

  int status = 0;
  const char *failure = viv_worker_service_get_failure (service);
  if (failure)
    {
      g_autoptr (GKeyFile) keys = g_key_file_new ();
      g_key_file_set_string (keys, "status", "state", "crashed");
      g_key_file_set_string (keys, "status", "error", failure);
      if (!viv_worker_write_key_file (dir, VIV_WORKER_STATUS_FILE, keys, &error))
        g_printerr ("vivarium-worker: cannot record the failure: %s\n", error->message);
      status = VIV_WORKER_EXIT_CRASHED;
    }
  viv_worker_service_free (service);
  if (!failure)
    viv_worker_remove_dir (dir);
  close (lock_fd);
  return status;
}

/* ---- main ----------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  g_autofree char *name = NULL, *library_root = NULL;
  int ready_fd = -1;
  GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "The VM to run (a name in the library)", "NAME" },
    { "library", 0, 0, G_OPTION_ARG_FILENAME, &library_root,
      "The library's directory (default $XDG_DATA_HOME/vivarium/machines)", "DIR" },
    { "ready-fd", 0, 0, G_OPTION_ARG_INT, &ready_fd,
      "Write \"ready UUID PID SUPERVISOR-PID\" or \"error KIND MESSAGE\" to this fd, then close it", "FD" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- run one VM in the background");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error)
      || (name && !viv_vm_name_is_valid (name, &error)))
    {
      g_printerr ("vivarium-worker: %s\n", error->message);
      return 2;
    }
  if (!name)
    {
      g_printerr ("vivarium-worker: --name NAME is required: the VM to run\n");
      return 2;
    }
  /* Only the VM process keeps it, and nothing it might start. */
  if (ready_fd >= 0 && fcntl (ready_fd, F_SETFD, FD_CLOEXEC) < 0)
    {
      g_printerr ("vivarium-worker: --ready-fd %d is not an open file descriptor\n", ready_fd);
      return 2;
    }

  /* Detach: the first process returns at once; the rest gets its own
   * session, away from the spawner's terminal and its signals. */
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0)
    {
      g_printerr ("vivarium-worker: fork: %s\n", g_strerror (errno));
      return 1;
    }
  if (pid > 0)
    return 0;
  setsid ();

  int supervisor_pipe[2];
  if (pipe2 (supervisor_pipe, O_CLOEXEC) < 0 || (pid = fork ()) < 0)
    {
      g_printerr ("vivarium-worker: cannot start the VM process: %s\n", g_strerror (errno));
      exit (1);
    }
  if (pid == 0)
    {
      close (supervisor_pipe[0]);
      exit (run_vm (name, library_root, ready_fd, supervisor_pipe[1]));
    }
  close (supervisor_pipe[1]);
  if (ready_fd >= 0)
    close (ready_fd);
  exit (supervise (pid, supervisor_pipe[0]));
}
