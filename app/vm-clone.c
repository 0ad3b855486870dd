/* VM clones (vm-clone.h). */
#include "vm-clone.h"
#include "block/qcow2.h"
#include "vivctl-disk-copy.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

/* The whole clone's progress, over all its full copies. */
typedef struct {
  VivCloneProgressFunc   func;
  gpointer               user_data;
  VivctlProgressThrottle throttle;
  guint64                total;
  guint64                before;   /* the data of the disks already copied */
  guint64                current;  /* the data of the disk being copied */
} Progress;

static void
report (Progress *progress, guint64 done)
{
  if (progress->func && vivctl_progress_due (&progress->throttle, done, progress->total))
    progress->func (done, progress->total, progress->user_data);
}

static void
disk_progress (guint64 done, gpointer user_data)
{
  Progress *progress = user_data;
  /* MIN: a source that grew since it was measured still ends at total. */
  report (progress, progress->before + MIN (done, progress->current));
}

static gboolean
measure_image (const char *path, guint64 *bytes, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "cannot read %s: %s", path, g_strerror (err));
      return FALSE;
    }
  gboolean ok = vivctl_disk_data_bytes (fd, path, bytes, error);
  close (fd);
  return ok;
}

static gboolean
copy_image (const char *src, const char *dst, Progress *progress, GCancellable *cancellable,
            GError **error)
{
  int src_fd = open (src, O_RDONLY | O_CLOEXEC);
  if (src_fd < 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "cannot read %s: %s", src, g_strerror (err));
      return FALSE;
    }
  int dst_fd = open (dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (dst_fd < 0)
    {
      int err = errno;
      close (src_fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "cannot create %s: %s", dst, g_strerror (err));
      return FALSE;
    }
  gboolean ok = vivctl_disk_copy_file (src_fd, dst_fd, src, disk_progress, progress, cancellable, error);
  if (ok && fsync (dst_fd) < 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "cannot write %s: %s", dst, g_strerror (err));
      ok = FALSE;
    }
  close (src_fd);
  close (dst_fd);
  return ok;
}

/* A full copy of an image that has a backing file would still depend on
 * it (and a relative reference would break in the new directory). */
static gboolean
check_standalone (const VivDiskSpec *disk, GError **error)
{
  if (g_strcmp0 (disk->format, "qcow2") != 0)
    return TRUE;
  g_autoptr (VivQcow2Info) info = viv_qcow2_info (disk->path, false, error);
  if (!info)
    return FALSE;
  if (info->backing_file)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s is a linked clone of %s: make a linked clone, or flatten it first with "
                   "'vivctl disk clone --full'", disk->path, info->backing_file);
      return FALSE;
    }
  return TRUE;
}

static void
replace_disk (VivDiskSpec *disk, const char *path, const char *format)
{
  g_free (disk->path);
  g_free (disk->format);
  disk->path = g_strdup (path);
  disk->format = g_strdup (format);
  disk->config.path = disk->path;
  disk->config.format = disk->format;
}

VivVmDefinition *
viv_library_clone_vm (VivLibrary *lib, const char *source, const char *name, gboolean linked,
                      VivCloneProgressFunc progress_func, gpointer user_data,
                      GCancellable *cancellable, GError **error)
{
  if (!viv_vm_name_is_valid (name, error))
    return NULL;
  if (viv_library_contains (lib, name))
    {
      g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS,
                   "a VM named '%s' already exists; choose another name", name);
      return NULL;
    }
  g_autofree char *xml = viv_library_load_xml (lib, source, error);
  if (!xml)
    return NULL;
  /* A deep copy, through the same XML the library stores. */
  g_autoptr (VivVmDefinition) def = viv_domain_xml_to_definition (xml, -1, error);
  if (!def)
    return NULL;
  g_free (def->name);
  def->name = g_strdup (name);
  def->uuid[0] = '\0';
  for (guint i = 0; i < def->nets->len; i++)
    {
      g_autoptr (GRegex) mac = g_regex_new (",mac=[^,]*", 0, 0, NULL);
      g_autofree char *without = g_regex_replace_literal (mac, def->nets->pdata[i], -1, 0, "", 0, NULL);
      g_free (def->nets->pdata[i]);
      def->nets->pdata[i] = viv_net_spec_with_random_mac (without);
    }

  /* What each full copy will copy (its data extents), measured first so
   * that the total is known from the first report. */
  g_autofree guint64 *data_bytes = g_new0 (guint64, def->disks->len);
  Progress progress = { .func = progress_func, .user_data = user_data };
  for (guint i = 0; i < def->disks->len; i++)
    {
      VivDiskSpec *disk = def->disks->pdata[i];
      if (disk->config.read_only || linked)
        continue;
      if (!check_standalone (disk, error) || !measure_image (disk->path, &data_bytes[i], error))
        return NULL;
      progress.total += data_bytes[i];
    }
  report (&progress, 0);

  g_autofree char *dir = viv_library_get_vm_dir (lib, name);
  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot create %s: %s", dir,
                   g_strerror (errno));
      return NULL;
    }
  g_autoptr (GPtrArray) created = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < def->disks->len; i++)
    {
      VivDiskSpec *disk = def->disks->pdata[i];
      if (disk->config.read_only)
        continue;
      gboolean qcow2 = linked || g_strcmp0 (disk->format, "qcow2") == 0;
      g_autofree char *path = g_strdup_printf ("%s/disk%u.%s", dir, i, qcow2 ? "qcow2" : "img");
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "%s is left by an earlier VM: remove it, or choose another name", path);
          ok = FALSE;
          break;
        }
      if (linked)
        {
          VivQcow2CreateOptions options = {
            .backing_file = disk->path,
            .backing_format = disk->format ? disk->format : "raw",
          };
          ok = viv_qcow2_create (path, &options, error);
        }
      else
        {
          progress.current = data_bytes[i];
          ok = copy_image (disk->path, path, &progress, cancellable, error);
          progress.before += data_bytes[i];
          if (ok)
            report (&progress, progress.before);
        }
      if (g_file_test (path, G_FILE_TEST_EXISTS))  /* ours, whole or not */
        g_ptr_array_add (created, g_strdup (path));
      if (ok)
        replace_disk (disk, path, qcow2 ? "qcow2" : "raw");
    }
  if (!ok || g_cancellable_set_error_if_cancelled (cancellable, error)
      || !viv_library_define (lib, def, VIV_LIBRARY_DEFINE_NEW_ONLY, error))
    {
      for (guint i = 0; i < created->len; i++)
        g_unlink (created->pdata[i]);
      g_rmdir (dir);  /* only when nothing else is there */
      return NULL;
    }
  return g_steal_pointer (&def);
}
