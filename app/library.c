/* The VM library: definitions on disk (see library.h). */
#include "library.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOMAIN_FILE "domain.xml"
#define LOCK_FILE   ".lock"

G_DEFINE_QUARK (viv-library-error-quark, viv_library_error)

struct VivLibrary {
  char *root;
};

static gboolean
io_failed (GError **error, int errsv, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
io_failed (GError **error, int errsv, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_FAILED, "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

VivLibrary *
viv_library_open (const char *root, GError **error)
{
  g_autofree char *path = root ? g_strdup (root)
                               : g_build_filename (g_get_user_data_dir (), "vivarium", "machines", NULL);
  if (g_mkdir_with_parents (path, 0700) < 0)
    {
      io_failed (error, errno, "cannot create the VM library %s", path);
      return NULL;
    }
  VivLibrary *lib = g_new0 (VivLibrary, 1);
  lib->root = g_steal_pointer (&path);
  return lib;
}

void
viv_library_free (VivLibrary *lib)
{
  if (!lib)
    return;
  g_free (lib->root);
  g_free (lib);
}

const char *
viv_library_get_root (VivLibrary *lib)
{
  return lib->root;
}

char *
viv_library_get_vm_dir (VivLibrary *lib, const char *name)
{
  return g_build_filename (lib->root, name, NULL);
}

static char *
domain_path (VivLibrary *lib, const char *name)
{
  return g_build_filename (lib->root, name, DOMAIN_FILE, NULL);
}

gboolean
viv_library_contains (VivLibrary *lib, const char *name)
{
  if (!viv_vm_name_is_valid (name, NULL))
    return FALSE;
  g_autofree char *path = domain_path (lib, name);
  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

char **
viv_library_list (VivLibrary *lib, GError **error)
{
  g_autoptr (GDir) dir = g_dir_open (lib->root, 0, error);
  if (!dir)
    return NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;
  while ((entry = g_dir_read_name (dir)))
    if (viv_library_contains (lib, entry))
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

static gboolean
check_name (const char *name, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  if (viv_vm_name_is_valid (name, &local_error))
    return TRUE;
  g_set_error_literal (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID, local_error->message);
  return FALSE;
}

char *
viv_library_load_xml (VivLibrary *lib, const char *name, GError **error)
{
  if (!check_name (name, error))
    return NULL;
  g_autofree char *path = domain_path (lib, name);
  char *contents = NULL;
  g_autoptr (GError) local_error = NULL;
  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_NOT_FOUND,
                     "there is no VM named '%s' (see 'vivctl list --all')", name);
      else
        g_set_error_literal (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_FAILED, local_error->message);
      return NULL;
    }
  return contents;
}

VivVmDefinition *
viv_library_load (VivLibrary *lib, const char *name, GError **error)
{
  g_autofree char *xml = viv_library_load_xml (lib, name, error);
  if (!xml)
    return NULL;
  g_autoptr (VivVmDefinition) def = viv_domain_xml_to_definition (xml, -1, error);
  if (!def)
    {
      g_prefix_error (error, "the stored definition of '%s' is broken: ", name);
      return NULL;
    }
  if (!g_str_equal (def->name, name))
    {
      g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID,
                   "the definition stored as '%s' names its VM '%s'", name, def->name);
      return NULL;
    }
  return g_steal_pointer (&def);
}

static gboolean
check_file (const char *element, const char *path, GError **error)
{
  struct stat st;
  if (stat (path, &st) < 0)
    {
      g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID, "%s %s: %s", element, path,
                   g_strerror (errno));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID, "%s %s: not a regular file",
                   element, path);
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_library_check_files (const VivVmDefinition *def, GError **error)
{
  if (!check_file ("<kernel>", def->kernel, error))
    return FALSE;
  if (def->initrd && !check_file ("<initrd>", def->initrd, error))
    return FALSE;
  for (unsigned i = 0; i < def->disks->len; i++)
    {
      const VivDiskSpec *disk = def->disks->pdata[i];
      if (!check_file ("<disk>", disk->path, error))
        return FALSE;
    }
  return TRUE;
}

/* Serialises writers between processes; closing the fd unlocks. */
static int
lock_library (VivLibrary *lib, GError **error)
{
  g_autofree char *path = g_build_filename (lib->root, LOCK_FILE, NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      io_failed (error, errno, "cannot open %s", path);
      return -1;
    }
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      {
        io_failed (error, errno, "cannot lock %s", path);
        close (fd);
        return -1;
      }
  return fd;
}

static gboolean
fsync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return io_failed (error, errno, "cannot open %s", dir);
  int ret = fsync (fd);
  int errsv = errno;
  close (fd);
  if (ret < 0)
    return io_failed (error, errsv, "cannot sync %s", dir);
  return TRUE;
}

gboolean
viv_write_file_atomic (const char *dir, const char *filename, const char *contents, gsize len,
                       GError **error)
{
  g_autofree char *path = g_build_filename (dir, filename, NULL);
  g_autofree char *temp = g_strdup_printf ("%s/.%s.XXXXXX", dir, filename);
  int fd = g_mkstemp_full (temp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    return io_failed (error, errno, "cannot write in %s", dir);

  int errsv = 0;
  const char *what = "cannot write";
  for (gsize done = 0; done < len && !errsv;)
    {
      ssize_t n = write (fd, contents + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        errsv = n < 0 ? errno : ENOSPC;
      else
        done += n;
    }
  if (!errsv && fsync (fd) < 0)
    {
      errsv = errno;
      what = "cannot sync";
    }
  if (close (fd) < 0 && !errsv)
    errsv = errno;
  if (!errsv && rename (temp, path) < 0)
    {
      errsv = errno;
      what = "cannot replace";
    }
  if (errsv)
    {
      g_unlink (temp);
      return io_failed (error, errsv, "%s %s", what, path);
    }
  return fsync_dir (dir, error);
}

/* The name of the VM (other than `name`) whose UUID is `uuid`, or NULL. */
static char *
find_uuid (VivLibrary *lib, const char *uuid, const char *name)
{
  g_auto (GStrv) names = viv_library_list (lib, NULL);
  for (char **other = names; other && *other; other++)
    {
      if (g_str_equal (*other, name))
        continue;
      g_autoptr (VivVmDefinition) def = viv_library_load (lib, *other, NULL);
      if (def && g_str_equal (def->uuid, uuid))
        return g_strdup (*other);
    }
  return NULL;
}

static gboolean
define_locked (VivLibrary *lib, VivVmDefinition *def, VivLibraryDefineFlags flags, GError **error)
{
  if (viv_library_contains (lib, def->name))
    {
      if (flags & VIV_LIBRARY_DEFINE_NEW_ONLY)
        {
          g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS,
                       "a VM named '%s' already exists; choose another name or undefine it first",
                       def->name);
          return FALSE;
        }
      g_autoptr (VivVmDefinition) old = viv_library_load (lib, def->name, error);
      if (!old)
        {
          g_prefix_error (error, "cannot replace it (undefine it first): ");
          return FALSE;
        }
      if (!g_str_equal (old->uuid, def->uuid))
        {
          g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS,
                       "a VM named '%s' already exists with UUID %s; to change it, keep that <uuid>, "
                       "or undefine it first", def->name, old->uuid);
          return FALSE;
        }
    }
  else if (!def->uuid[0])
    {
      g_autofree char *uuid = g_uuid_string_random ();
      g_strlcpy (def->uuid, uuid, sizeof def->uuid);
    }
  else
    {
      g_autofree char *owner = find_uuid (lib, def->uuid, def->name);
      if (owner)
        {
          g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS,
                       "UUID %s already belongs to the VM '%s'", def->uuid, owner);
          return FALSE;
        }
    }

  g_autofree char *body = viv_domain_xml_from_definition (def, error);
  if (!body)
    return FALSE;
  g_autofree char *xml = g_strconcat (body, "\n", NULL);
  g_autofree char *dir = viv_library_get_vm_dir (lib, def->name);
  if (g_mkdir (dir, 0700) < 0 && errno != EEXIST)
    return io_failed (error, errno, "cannot create %s", dir);
  if (!viv_write_file_atomic (dir, DOMAIN_FILE, xml, strlen (xml), error))
    return FALSE;
  return fsync_dir (lib->root, error);
}

gboolean
viv_library_define (VivLibrary *lib, VivVmDefinition *def, VivLibraryDefineFlags flags, GError **error)
{
  if (!check_name (def->name, error) || !viv_library_check_files (def, error))
    return FALSE;
  int lock = lock_library (lib, error);
  if (lock < 0)
    return FALSE;
  gboolean ok = define_locked (lib, def, flags, error);
  close (lock);
  return ok;
}

static gboolean
remove_disks (const VivVmDefinition *def, GPtrArray *removed, GError **error)
{
  for (unsigned i = 0; i < def->disks->len; i++)
    {
      const VivDiskSpec *disk = def->disks->pdata[i];
      if (disk->config.read_only)
        continue;
      if (g_unlink (disk->path) < 0)
        {
          if (errno == ENOENT)
            continue;
          return io_failed (error, errno, "cannot remove the disk image %s", disk->path);
        }
      if (removed)
        g_ptr_array_add (removed, g_strdup (disk->path));
    }
  return TRUE;
}

static gboolean
undefine_locked (VivLibrary *lib, const char *name, gboolean with_disks, GPtrArray *removed,
                 GError **error)
{
  if (!viv_library_contains (lib, name))
    {
      g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_NOT_FOUND,
                   "there is no VM named '%s' (see 'vivctl list --all')", name);
      return FALSE;
    }
  if (with_disks)
    {
      g_autoptr (VivVmDefinition) def = viv_library_load (lib, name, error);
      if (!def || !remove_disks (def, removed, error))
        return FALSE;
    }
  g_autofree char *dir = viv_library_get_vm_dir (lib, name);
  g_autofree char *path = domain_path (lib, name);
  if (g_unlink (path) < 0)
    return io_failed (error, errno, "cannot remove %s", path);
  if (!fsync_dir (dir, error))
    return FALSE;
  /* Disks kept beside the definition keep the directory. */
  if (g_rmdir (dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
    return io_failed (error, errno, "cannot remove %s", dir);
  return fsync_dir (lib->root, error);
}

gboolean
viv_library_undefine (VivLibrary *lib, const char *name, gboolean with_disks, GPtrArray *removed,
                      GError **error)
{
  if (!check_name (name, error))
    return FALSE;
  int lock = lock_library (lib, error);
  if (lock < 0)
    return FALSE;
  gboolean ok = undefine_locked (lib, name, with_disks, removed, error);
  close (lock);
  return ok;
}
