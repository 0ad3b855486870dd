/* vivctl disk create [-f raw|qcow2] [-b BACKING [-F FMT]] [--force] FILE [SIZE] */
#include "vivctl-disk.h"

#include <errno.h>
#include <unistd.h>

/* The backing image's virtual size (its path is relative to FILE's
 * directory, as qcow2 records it). */
static gboolean
backing_size (const char *file, const char *backing, const char *format, uint64_t *size,
              GError **error)
{
  g_autofree char *dir = g_path_get_dirname (file);
  g_autofree char *path = g_path_is_absolute (backing) ? g_strdup (backing)
                                                        : g_build_filename (dir, backing, NULL);
  VivBlock *blk = vivctl_disk_open (path, format, true, error);
  if (!blk)
    {
      g_prefix_error (error, "-b: ");
      return FALSE;
    }
  *size = viv_block_length (blk);
  viv_block_close (blk);
  return TRUE;
}

int
vivctl_disk_create (int argc, char **argv)
{
  g_autofree char *format_name = NULL, *backing = NULL, *backing_format_name = NULL;
  gboolean force = FALSE;
  GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format_name, "raw (default) or qcow2 (the default with -b)", "FMT" },
    { "backing", 'b', 0, G_OPTION_ARG_FILENAME, &backing, "Make a qcow2 overlay on this image (a relative path is relative to FILE's directory)", "BACKING" },
    { "backing-format", 'F', 0, G_OPTION_ARG_STRING, &backing_format_name, "The backing image's format (default: detected)", "FMT" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force, "Replace FILE if it exists", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE [SIZE] - create a disk image");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "SIZE: 512, 64K, 256M, 8G, 1T … (a multiple of 512 bytes); with -b it defaults to the\n"
      "backing image's size.  raw images are sparse files; qcow2 images start with no data clusters.");
  if (!vivctl_disk_parse_args (context, &argc, &argv, "create", 1, 2))
    return VIVCTL_EXIT_USAGE;
  const char *path = argv[1];

  g_autoptr (GError) error = NULL;
  const char *format = vivctl_disk_format_from_name (
      format_name ? format_name : backing ? "qcow2" : "raw", "-f", &error);
  if (!format)
    return vivctl_disk_report (error);
  if (backing_format_name && !backing)
    {
      vivctl_fail ("disk create: -F names the backing image's format: it needs -b BACKING");
      return VIVCTL_EXIT_USAGE;
    }
  if (backing && !g_str_equal (format, "qcow2"))
    {
      vivctl_fail ("disk create: a raw image cannot have a backing image; use -f qcow2 with -b");
      return VIVCTL_EXIT_USAGE;
    }

  uint64_t size = 0;
  const char *backing_format = NULL;
  if (backing)
    {
      g_autofree char *dir = g_path_get_dirname (path);
      g_autofree char *backing_path = g_path_is_absolute (backing)
          ? g_strdup (backing) : g_build_filename (dir, backing, NULL);
      backing_format = vivctl_disk_format_of (backing_path, backing_format_name, &error);
      if (!backing_format)
        {
          g_prefix_error (&error, "-b: ");
          return vivctl_disk_report (error);
        }
      if (argc < 3 && !backing_size (path, backing, backing_format, &size, &error))
        return vivctl_disk_report (error);
    }
  if (argc >= 3 && !vivctl_disk_parse_image_size (argv[2], &size, &error))
    return vivctl_disk_report (error);
  if (argc < 3 && !backing)
    {
      vivctl_fail ("disk create: SIZE is needed (e.g. 20G), unless -b gives a backing image to take it from");
      return VIVCTL_EXIT_USAGE;
    }

  VivctlOutput out;
  if (!vivctl_output_begin (&out, path, force, &error))
    return vivctl_disk_report (error);
  gboolean ok;
  if (g_str_equal (format, "raw"))
    {
      ok = ftruncate (out.fd, size) == 0;
      if (!ok)
        {
          int err = errno;
          g_set_error (&error, G_IO_ERROR, g_io_error_from_errno (err),
                       "Cannot create “%s”: %s", path, g_strerror (err));
        }
    }
  else
    {
      VivQcow2CreateOptions options = {
        .size = size,
        .backing_file = backing,
        .backing_format = backing_format,
      };
      ok = vivctl_output_create_qcow2 (&out, &options, &error);
    }
  if (!ok)
    {
      vivctl_output_abort (&out);
      return vivctl_disk_report (error);
    }
  if (!vivctl_output_commit (&out, &error))
    return vivctl_disk_report (error);
  return 0;
}
