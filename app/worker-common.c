#include "worker-common.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const GDBusErrorEntry machine1_errors[] = {
  { VIV_MACHINE1_ERROR_WRONG_STATE, "io.github.vivarium.Machine1.Error.WrongState" },
  { VIV_MACHINE1_ERROR_NOT_SUPPORTED, "io.github.vivarium.Machine1.Error.NotSupported" },
  { VIV_MACHINE1_ERROR_FAILED, "io.github.vivarium.Machine1.Error.Failed" },
};

GQuark
viv_machine1_error_quark (void)
{
  static gsize quark;
  g_dbus_error_register_error_domain ("viv-machine1-error-quark", &quark, machine1_errors,
                                      G_N_ELEMENTS (machine1_errors));
  return (GQuark) quark;
}

char *
viv_worker_runtime_root (void)
{
  return g_build_filename (g_get_user_runtime_dir (), "vivarium", NULL);
}

char *
viv_worker_dir_for_uuid (const char *uuid)
{
  g_autofree char *root = viv_worker_runtime_root ();
  return g_build_filename (root, uuid, NULL);
}

char *
viv_worker_log_path (const char *name)
{
  g_autofree char *root = viv_worker_runtime_root ();
  g_autofree char *file = g_strconcat (name, ".log", NULL);
  return g_build_filename (root, "logs", file, NULL);
}

char *
viv_worker_control_address (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, VIV_WORKER_CONTROL_FILE, NULL);
  g_autofree char *escaped = g_dbus_address_escape_value (path);
  return g_strconcat ("unix:path=", escaped, NULL);
}

gboolean
viv_worker_ensure_runtime_root (GError **error)
{
  g_autofree char *root = viv_worker_runtime_root ();
  g_autofree char *logs = g_build_filename (root, "logs", NULL);
  if (g_mkdir_with_parents (logs, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create the runtime directory %s: %s (is XDG_RUNTIME_DIR writable?)",
                   logs, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_worker_is_uuid (const char *text)
{
  if (strlen (text) != 36)
    return FALSE;
  for (int i = 0; i < 36; i++)
    {
      gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? text[i] != '-' : !(g_ascii_isdigit (text[i]) || (text[i] >= 'a' && text[i] <= 'f')))
        return FALSE;
    }
  return TRUE;
}

gboolean
viv_worker_write_key_file (const char *dir, const char *filename, GKeyFile *keys, GError **error)
{
  gsize len;
  g_autofree char *data = g_key_file_to_data (keys, &len, NULL);
  g_autofree char *path = g_build_filename (dir, filename, NULL);
  return g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

int
viv_worker_try_lock (const char *dir, gboolean create, gboolean *busy, GError **error)
{
  g_autofree char *path = g_build_filename (dir, VIV_WORKER_LOCK_FILE, NULL);
  *busy = FALSE;
  /* A stale directory may be removed between our open and our flock:
   * then the lock we hold is on a file nobody else will ever see. */
  for (int attempt = 0; attempt < 8; attempt++)
    {
      if (create && g_mkdir (dir, 0700) < 0 && errno != EEXIST)
        break;
      int fd = open (path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
      if (fd < 0)
        break;
      if (flock (fd, LOCK_EX | LOCK_NB) < 0)
        {
          int saved = errno;
          close (fd);
          if (saved == EWOULDBLOCK)
            {
              *busy = TRUE;
              return -1;
            }
          errno = saved;
          break;
        }
      struct stat held, named;
      if (fstat (fd, &held) == 0 && stat (path, &named) == 0
          && held.st_dev == named.st_dev && held.st_ino == named.st_ino)
        return fd;
      close (fd);
      if (!create)
        {
          errno = ENOENT;
          break;
        }
    }
  int saved = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot lock %s: %s",
               path, g_strerror (saved));
  return -1;
}

void
viv_worker_remove_dir (const char *dir)
{
  static const char *const files[] = {
    VIV_WORKER_CONTROL_FILE, VIV_WORKER_CONSOLE_FILE, VIV_WORKER_STATUS_FILE,
    VIV_WORKER_VM_FILE, VIV_WORKER_LOCK_FILE,
  };
  for (size_t i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (dir, files[i], NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

gboolean
viv_worker_pid_alive (pid_t pid)
{
  return pid > 0 && (kill (pid, 0) == 0 || errno == EPERM);
}
