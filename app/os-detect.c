/* OS detection (os-detect.h).  The libosinfo part is a module,
 * os-detect-osinfo.c, loaded on first use: libosinfo and what it pulls in
 * (libsoup, libxslt, SQLite, Kerberos...) cost every process linked with
 * it about 2 MiB and 2.5 ms at start (vivctl --help: 9.5 → 7.6 MiB, 6.3 →
 * 3.6 ms), and most vivctl commands (run, disk, the VM commands) never
 * detect an OS. */
#include "os-detect.h"
#include "os-detect-backend.h"
#include "companion.h"

static const VivOsBackend *
backend (GError **error)
{
  static gsize loaded;
  static const VivOsBackend *found;
  static char *failure;
  if (g_once_init_enter (&loaded))
    {
      g_autoptr (GError) local_error = NULL;
      const VivOsBackend *(*get) (void) =
          viv_companion_module_symbol ("VIVARIUM_OSINFO_MODULE", VIV_OSINFO_MODULE_BUILD_PATH,
                                       VIV_OSINFO_MODULE_INSTALLED_PATH, "the libosinfo backend",
                                       "viv_os_backend", &local_error);
      if (get)
        found = get ();
      else
        failure = g_strdup (local_error->message);
      g_once_init_leave (&loaded, 1);
    }
  if (!found)
    g_set_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNAVAILABLE,
                 "OS detection is not available: %s", failure);
  return found;
}

void
viv_os_database_preload (void)
{
  const VivOsBackend *b = backend (NULL);
  if (b)
    b->preload ();
}

VivOsInfo *
viv_os_detect_media (const char *path, GCancellable *cancellable, GError **error)
{
  const VivOsBackend *b = backend (error);
  return b ? b->detect_media (path, cancellable, error) : NULL;
}

VivOsInfo *
viv_os_lookup (const char *id, GError **error)
{
  const VivOsBackend *b = backend (error);
  return b ? b->lookup (id, error) : NULL;
}

GPtrArray *
viv_os_list (GDateTime *supported_on, GError **error)
{
  const VivOsBackend *b = backend (error);
  return b ? b->list (supported_on, error) : NULL;
}

static void
detect_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  GError *error = NULL;
  VivOsInfo *info = viv_os_detect_media (task_data, cancellable, &error);
  if (info)
    g_task_return_pointer (task, info, (GDestroyNotify) viv_os_info_free);
  else
    g_task_return_error (task, error);
}

void
viv_os_detect_media_async (const char *path, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, viv_os_detect_media_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, detect_thread);
}

VivOsInfo *
viv_os_detect_media_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
