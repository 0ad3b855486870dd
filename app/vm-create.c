/* The one way a new VM gets defined (vm-create.h): options checked, new
 * images made in the VM's directory, the definition stored. */
#include "vm-create.h"
#include "block/qcow2.h"
#include "size.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* Doubles commas, as --disk paths are written. */
static char *
escape_commas (const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ",", -1);
  return g_strjoinv (",,", parts);
}

static gboolean
create_raw (const char *path, uint64_t size, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, errsv == EEXIST ? G_IO_ERROR_INVALID_ARGUMENT : g_io_error_from_errno (errsv),
                   "cannot create %s: %s%s", path, g_strerror (errsv),
                   errsv == EEXIST ? " (left by an earlier VM: remove it, or use it as an existing disk)" : "");
      return FALSE;
    }
  int ret = ftruncate (fd, size);
  int errsv = errno;
  close (fd);
  if (ret < 0)
    {
      g_unlink (path);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "cannot size %s: %s", path,
                   g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* size=SIZE[,…] or backing=PATH[,…]: the new image disk<index>.img (raw)
 * or .qcow2 in dir; *new_spec is the spec with its path. */
static gboolean
create_image (const char *dir, unsigned index, const char *spec, char **new_spec, char **created,
              GError **error)
{
  gboolean linked = g_str_has_prefix (spec, "backing=");
  const char *value = spec + (linked ? strlen ("backing=") : strlen ("size="));
  const char *comma = strchr (value, ',');
  /* A backing path's commas are doubled, as in any --disk path. */
  while (linked && comma && comma[1] == ',')
    comma = strchr (comma + 2, ',');
  g_autofree char *value_text = g_strndup (value, comma ? (gsize) (comma - value) : strlen (value));
  const char *options = comma ? comma : "";

  uint64_t size = 0;
  g_autofree char *backing = NULL;
  if (linked)
    {
      g_auto (GStrv) parts = g_strsplit (value_text, ",,", -1);
      g_autofree char *joined = g_strjoinv (",", parts);
      backing = g_canonicalize_filename (joined, NULL);
      if (!g_file_test (backing, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "--disk %s: %s is not an image file; give the path of the disk to clone", spec, backing);
          return FALSE;
        }
    }
  else if (!viv_parse_size (value_text, &size, error) || size == 0)
    {
      if (error && !*error)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "a disk cannot be empty");
      g_prefix_error (error, "--disk %s: ", spec);
      return FALSE;
    }

  /* The image's own format: qcow2 for a linked clone, else as asked. */
  VivDiskSpec probe = { 0 };
  g_autofree char *probe_spec = g_strconcat ("image", options, NULL);
  if (!viv_disk_spec_parse (probe_spec, &probe, error))
    {
      g_prefix_error (error, "--disk %s: ", spec);
      return FALSE;
    }
  gboolean qcow2 = linked || g_strcmp0 (probe.format, "qcow2") == 0;
  viv_disk_spec_clear (&probe);
  if (linked && g_strrstr (options, "format=") && !g_strrstr (options, "format=qcow2"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "--disk %s: a linked clone is a qcow2 image; leave out format= or use format=qcow2", spec);
      return FALSE;
    }

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot create %s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  g_autofree char *path = g_strdup_printf ("%s/disk%u.%s", dir, index, qcow2 ? "qcow2" : "img");
  gboolean ok;
  if (qcow2)
    {
      VivQcow2CreateOptions qcow2_options = {
        .size = size,
        .backing_file = backing,
        .backing_format = backing ? (viv_qcow2_has_magic (backing) ? "qcow2" : "raw") : NULL,
      };
      ok = viv_qcow2_create (path, &qcow2_options, error);
    }
  else
    ok = create_raw (path, size, error);
  if (!ok)
    {
      g_prefix_error (error, "--disk %s: ", spec);
      return FALSE;
    }
  *created = g_strdup (path);
  g_autofree char *escaped = escape_commas (path);
  *new_spec = g_strconcat (escaped, qcow2 && !g_strrstr (options, "format=") ? ",format=qcow2" : "",
                           options, NULL);
  return TRUE;
}

static gboolean
add_disks (VivVmDefinition *def, char * const *disk_texts, const char *dir, GPtrArray *created,
           GError **error)
{
  for (unsigned i = 0; disk_texts && disk_texts[i]; i++)
    {
      g_autofree char *spec = NULL;
      if (g_str_has_prefix (disk_texts[i], "size=") || g_str_has_prefix (disk_texts[i], "backing="))
        {
          char *image = NULL;
          gboolean ok = create_image (dir, i, disk_texts[i], &spec, &image, error);
          if (image)
            g_ptr_array_add (created, image);
          if (!ok)
            return FALSE;
        }
      else
        spec = g_strdup (disk_texts[i]);
      VivDiskSpec *disk = g_new0 (VivDiskSpec, 1);
      if (!viv_disk_spec_parse (spec, disk, error))
        {
          g_free (disk);
          return FALSE;
        }
      char *path = g_canonicalize_filename (disk->path, NULL);
      g_free (disk->path);
      disk->path = path;
      disk->config.path = path;
      g_ptr_array_add (def->disks, disk);
    }
  return TRUE;
}

static gboolean
add_media (VivVmDefinition *def, const char *media, GError **error)
{
  g_autofree char *path = g_canonicalize_filename (media, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "--media %s: not a file; give the path of the installation ISO", media);
      return FALSE;
    }
  g_autofree char *escaped = escape_commas (path);
  g_autofree char *spec = g_strconcat (escaped, ",format=raw,readonly", NULL);
  VivDiskSpec *disk = g_new0 (VivDiskSpec, 1);
  if (!viv_disk_spec_parse (spec, disk, error))
    {
      g_free (disk);
      return FALSE;
    }
  g_ptr_array_add (def->disks, disk);
  return TRUE;
}

static gboolean
add_nets (VivVmDefinition *def, char * const *net_texts, GError **error)
{
  for (unsigned i = 0; net_texts && net_texts[i]; i++)
    {
      VivNetOptions options;
      if (!viv_net_options_parse (net_texts[i], &options, error))
        {
          g_prefix_error (error, "--net %s: ", net_texts[i]);
          return FALSE;
        }
      g_ptr_array_add (def->nets, viv_net_spec_with_random_mac (net_texts[i]));
    }
  return TRUE;
}

static void
remove_created (GPtrArray *created, const char *dir)
{
  for (unsigned i = 0; i < created->len; i++)
    g_unlink (created->pdata[i]);
  if (created->len > 0)
    g_rmdir (dir);  /* only when nothing else is there */
}

VivVmDefinition *
viv_library_create_vm (VivLibrary *lib, const VivLibraryCreateOptions *options, GError **error)
{
  if (!viv_vm_name_is_valid (options->name, error))
    return NULL;
  if (!options->kernel || !*options->kernel)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "--kernel FILE is required: the kernel to boot (a bzImage or a PVH ELF)");
      return NULL;
    }
  uint64_t memory = options->memory_bytes ? options->memory_bytes : VIV_LIBRARY_CREATE_DEFAULT_MEMORY;
  if (memory % 1024 != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "--memory: %" G_GUINT64_FORMAT " bytes is not a whole number of KiB (e.g. 512M)", memory);
      return NULL;
    }

  g_autoptr (VivVmDefinition) def = viv_vm_definition_new ();
  def->name = g_strdup (options->name);
  def->kernel = g_canonicalize_filename (options->kernel, NULL);
  def->initrd = options->initrd && *options->initrd ? g_canonicalize_filename (options->initrd, NULL) : NULL;
  def->cmdline = options->cmdline && *options->cmdline ? g_strdup (options->cmdline) : NULL;
  def->memory_bytes = memory;
  def->n_cpus = options->n_cpus ? options->n_cpus : 1;
  def->console_kind = options->console_kind;
  def->rng = options->rng;
  def->balloon = options->balloon;
  def->os_id = options->os_id && *options->os_id ? g_strdup (options->os_id) : NULL;
  if (!add_nets (def, options->nets, error))
    return NULL;

  /* Checked before new images go into the directory of an existing VM. */
  if (viv_library_contains (lib, def->name))
    {
      g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS,
                   "a VM named '%s' already exists; choose another name or undefine it first", def->name);
      return NULL;
    }
  g_autofree char *dir = options->image_dir && *options->image_dir
                         ? g_build_filename (options->image_dir, def->name, NULL)
                         : viv_library_get_vm_dir (lib, def->name);
  g_autoptr (GPtrArray) created = g_ptr_array_new_with_free_func (g_free);
  if (!add_disks (def, options->disks, dir, created, error)
      || (options->media && *options->media && !add_media (def, options->media, error))
      || !viv_library_define (lib, def, VIV_LIBRARY_DEFINE_NEW_ONLY, error))
    {
      remove_created (created, dir);
      return NULL;
    }
  return g_steal_pointer (&def);
}
