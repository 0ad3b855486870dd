/* vivctl disk clone --full|--linked [--force] SRC DST
 *
 * A full clone is an independent copy: the file itself (reflinked or
 * copied without filling holes), or, when SRC has a backing chain, the
 * chain flattened into one image.  A linked clone is a new qcow2 overlay
 * whose backing image is SRC: made in constant time whatever SRC's size. */
#include "vivctl-disk.h"
#include "vivctl-disk-copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Progress on a terminal, rewritten in place. */
typedef struct {
  VivctlProgressThrottle throttle;
  guint64                total;
} TtyProgress;

static void
print_progress (guint64 done, gpointer user_data)
{
  TtyProgress *tty = user_data;
  done = MIN (done, tty->total);
  if (!vivctl_progress_due (&tty->throttle, done, tty->total))
    return;
  g_autofree char *done_text = g_format_size_full (done, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *total_text = g_format_size_full (tty->total, G_FORMAT_SIZE_IEC_UNITS);
  printf ("\rCopied %s of %s (%u%%)\033[K", done_text, total_text,
          (guint) (tty->total ? done * 100 / tty->total : 100));
  fflush (stdout);
}

static gboolean
clone_full (const char *src, const char *format, const char *dst, bool force, GError **error)
{
  /* The read lock keeps a running VM from writing SRC during the copy. */
  VivBlock *blk = vivctl_disk_open (src, format, true, error);
  if (!blk)
    return FALSE;
  bool has_backing = viv_block_capabilities (blk) & VIV_BLOCK_CAP_BACKING;
  if (has_backing)
    {
      viv_block_close (blk);
      return vivctl_disk_convert_image (src, format, dst, format, force, error);
    }

  gboolean ok = FALSE;
  VivctlOutput out;
  int src_fd = open (src, O_RDONLY | O_CLOEXEC);
  if (src_fd < 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "Cannot read “%s”: %s", src, g_strerror (err));
      goto out;
    }
  TtyProgress tty = { 0 };
  gboolean show_progress = isatty (STDOUT_FILENO);
  if (show_progress && !vivctl_disk_data_bytes (src_fd, src, &tty.total, error))
    goto out;
  if (!vivctl_output_begin (&out, dst, force, error))
    goto out;
  if (show_progress)
    print_progress (0, &tty);
  gboolean copied = vivctl_disk_copy_file (src_fd, out.fd, src, show_progress ? print_progress : NULL,
                                           &tty, NULL, error);
  if (show_progress)
    {
      if (copied)  /* after a reflink, the only step */
        print_progress (tty.total, &tty);
      putchar ('\n');  /* an error goes on a line of its own */
    }
  if (!copied)
    {
      vivctl_output_abort (&out);
      goto out;
    }
  ok = vivctl_output_commit (&out, error);
out:
  if (src_fd >= 0)
    close (src_fd);
  viv_block_close (blk);
  return ok;
}

int
vivctl_disk_clone (int argc, char **argv)
{
  gboolean full = FALSE, linked = FALSE, force = FALSE;
  g_autofree char *format_name = NULL;
  GOptionEntry entries[] = {
    { "full", 0, 0, G_OPTION_ARG_NONE, &full, "An independent copy (reflinked where the file system can)", NULL },
    { "linked", 0, 0, G_OPTION_ARG_NONE, &linked, "A qcow2 overlay backed by SRC (SRC must then stay unchanged)", NULL },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format_name, "SRC's format: raw or qcow2 (default: detected)", "FMT" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force, "Replace DST if it exists", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("--full|--linked SRC DST - clone a disk image");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "A linked clone records SRC as its backing file: relative when SRC is given as a\n"
      "relative path (rewritten to be relative to DST's directory), else absolute.");
  if (!vivctl_disk_parse_args (context, &argc, &argv, "clone", 2, 2))
    return VIVCTL_EXIT_USAGE;
  if (full == linked)
    {
      vivctl_fail ("disk clone: give exactly one of --full (an independent copy) or --linked (an overlay on SRC)");
      return VIVCTL_EXIT_USAGE;
    }
  const char *src = argv[1], *dst = argv[2];

  g_autoptr (GError) error = NULL;
  const char *format = vivctl_disk_format_of (src, format_name, &error);
  if (!format)
    return vivctl_disk_report (error);
  gboolean ok = full ? clone_full (src, format, dst, force, &error)
                     : vivctl_disk_linked_clone (src, format, dst, force, &error);
  if (!ok)
    return vivctl_disk_report (error);
  return 0;
}

/* How DST's header names SRC: an absolute SRC as given; a relative one
 * (relative to the working directory) made relative to DST's directory,
 * which is where qcow2 readers look from. */
static char *
backing_reference (const char *src, const char *dst)
{
  if (g_path_is_absolute (src))
    return g_strdup (src);
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *dst_dir = g_path_get_dirname (dst);
  g_autofree char *src_abs = g_canonicalize_filename (src, cwd);
  g_autofree char *dir_abs = g_canonicalize_filename (dst_dir, cwd);
  g_auto (GStrv) to = g_strsplit (src_abs + 1, "/", -1);
  g_auto (GStrv) from = g_strsplit (dir_abs + 1, "/", -1);
  guint common = 0;
  while (from[common] && *from[common] && to[common + 1]
         && g_str_equal (from[common], to[common]))
    common++;
  GString *reference = g_string_new (NULL);
  for (guint i = common; from[i] && *from[i]; i++)
    g_string_append (reference, "../");
  for (guint i = common; to[i]; i++)
    g_string_append_printf (reference, "%s%s", to[i], to[i + 1] ? "/" : "");
  return g_string_free (reference, FALSE);
}

gboolean
vivctl_disk_linked_clone (const char *src, const char *src_format, const char *dst, bool force,
                          GError **error)
{
  /* Opening SRC checks it is a valid image no VM is writing. */
  VivBlock *blk = vivctl_disk_open (src, src_format, true, error);
  if (!blk)
    return FALSE;
  uint64_t size = viv_block_length (blk);
  viv_block_close (blk);

  g_autofree char *reference = backing_reference (src, dst);
  VivctlOutput out;
  if (!vivctl_output_begin (&out, dst, force, error))
    return FALSE;
  VivQcow2CreateOptions options = {
    .size = size,
    .backing_file = reference,
    .backing_format = src_format,
  };
  if (!vivctl_output_create_qcow2 (&out, &options, error))
    {
      vivctl_output_abort (&out);
      return FALSE;
    }
  return vivctl_output_commit (&out, error);
}
