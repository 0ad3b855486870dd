/* vivctl disk resize [--shrink] [-f FMT] FILE [+|-]SIZE */
#include "vivctl-disk.h"
#include "size.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* "8G", "+1G" or "-512M" against the current size. */
static gboolean
new_size (const char *text, uint64_t current, uint64_t *size, GError **error)
{
  uint64_t amount;
  if (text[0] != '+' && text[0] != '-')
    return vivctl_disk_parse_image_size (text, size, error);
  if (!viv_parse_size (text + 1, &amount, error))
    return FALSE;
  if (text[0] == '+' ? amount > G_MAXUINT64 - current : amount >= current)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "'%s' from %" G_GUINT64_FORMAT " bytes is not a disk size", text, current);
      return FALSE;
    }
  uint64_t result = text[0] == '+' ? current + amount : current - amount;
  g_autofree char *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, result);
  if (!vivctl_disk_parse_image_size (digits, size, error))
    {
      g_prefix_error (error, "%s: ", text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_shrink (const char *path, uint64_t current, uint64_t size, bool shrink, GError **error)
{
  if (size >= current || shrink)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "Shrinking “%s” from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
               " bytes drops the data past the new end; give --shrink if that is what you want",
               path, current, size);
  return FALSE;
}

static gboolean
resize_raw (const char *path, const char *size_text, bool shrink, GError **error)
{
  /* The block layer's write lock is held while the file changes size. */
  VivBlock *blk = vivctl_disk_open (path, "raw", false, error);
  if (!blk)
    return FALSE;
  gboolean ok = FALSE;
  uint64_t current = viv_block_length (blk), size;
  if (!new_size (size_text, current, &size, error))
    goto out;
  if (!check_shrink (path, current, size, shrink, error))
    goto out;
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ftruncate (fd, size) < 0 || fsync (fd) < 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "Cannot resize “%s”: %s", path, g_strerror (err));
    }
  else
    ok = TRUE;
  if (fd >= 0)
    close (fd);
out:
  viv_block_close (blk);
  return ok;
}

int
vivctl_disk_resize (int argc, char **argv)
{
  g_autofree char *format_name = NULL;
  gboolean shrink = FALSE;
  GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format_name, "The image's format: raw or qcow2 (default: detected)", "FMT" },
    { "shrink", 0, 0, G_OPTION_ARG_NONE, &shrink, "Allow making the image smaller (the data past the new end is lost)", NULL },
    { NULL },
  };
  /* "-1G" is a size, not an option: take it out before options are parsed. */
  g_autofree char *relative = NULL;
  if (argc >= 2 && argv[argc - 1][0] == '-' && g_ascii_isdigit (argv[argc - 1][1]))
    relative = g_strdup (argv[--argc]);

  g_autoptr (GOptionContext) context = g_option_context_new ("FILE [+|-]SIZE - change an image's virtual size");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "SIZE is the new size (e.g. 20G), or +SIZE / -SIZE relative to the current one.\n"
      "raw images are truncated or extended (sparse); qcow2 images change their header and tables.");
  if (!vivctl_disk_parse_args (context, &argc, &argv, "resize", relative ? 1 : 2, relative ? 1 : 2))
    return VIVCTL_EXIT_USAGE;
  const char *path = argv[1];
  const char *size_text = relative ? relative : argv[2];

  g_autoptr (GError) error = NULL;
  const char *format = vivctl_disk_format_of (path, format_name, &error);
  if (!format)
    return vivctl_disk_report (error);
  if (g_str_equal (format, "raw"))
    return resize_raw (path, size_text, shrink, &error) ? 0 : vivctl_disk_report (error);

  g_autoptr (VivQcow2Info) info = viv_qcow2_info (path, false, &error);
  uint64_t size;
  gboolean ok = info
                && new_size (size_text, info->virtual_size, &size, &error)
                && check_shrink (path, info->virtual_size, size, shrink, &error)
                && viv_qcow2_resize (path, size, &error);
  return ok ? 0 : vivctl_disk_report (error);
}
