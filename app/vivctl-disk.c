/* vivctl disk: dispatch to the subcommands, and what they share. */
#include "vivctl-disk.h"
#include "size.h"
#include "block/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} disk_commands[] = {
  { "create",   vivctl_disk_create,   "create a raw or qcow2 image, or a qcow2 overlay (-b)" },
  { "info",     vivctl_disk_info,     "show an image's format, sizes, backing chain, snapshots" },
  { "check",    vivctl_disk_check,    "check (and repair) a qcow2 image's metadata" },
  { "convert",  vivctl_disk_convert,  "copy an image into a new raw or qcow2 image (-c: compressed)" },
  { "resize",   vivctl_disk_resize,   "grow (or with --shrink, shrink) an image" },
  { "snapshot", vivctl_disk_snapshot, "list, create, apply, delete qcow2 internal snapshots" },
  { "clone",    vivctl_disk_clone,    "copy an image (--full) or make an overlay on it (--linked)" },
  { "commit",   vivctl_disk_commit,   "write an overlay's data into its backing image" },
  { "rebase",   vivctl_disk_rebase,   "change an overlay's backing image" },
};

static void
disk_usage (FILE *out)
{
  fprintf (out, "Usage: vivctl disk COMMAND [OPTIONS…]\n\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (disk_commands); i++)
    fprintf (out, "  %-9s %s\n", disk_commands[i].name, disk_commands[i].summary);
  fprintf (out, "\nRun 'vivctl disk COMMAND --help' for a command's options.\n"
                "Exit status: 0 done, 1 failed while working, 2 bad input (nothing was changed);\n"
                "'check' has the exit statuses of qemu-img check.\n");
}

int
vivctl_disk (int argc, char **argv)
{
  if (argc < 2)
    {
      vivctl_fail ("disk: a command is needed; run 'vivctl disk --help' for the list");
      return VIVCTL_EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      disk_usage (stdout);
      return 0;
    }
  for (size_t i = 0; i < G_N_ELEMENTS (disk_commands); i++)
    if (g_str_equal (argv[1], disk_commands[i].name))
      {
        /* GOption names the program after argv[0] in --help's usage line. */
        g_autofree char *name = g_strdup_printf ("vivctl disk %s", argv[1]);
        argv[1] = name;
        return disk_commands[i].run (argc - 1, argv + 1);
      }
  vivctl_fail ("disk: unknown command '%s'; run 'vivctl disk --help' for the list", argv[1]);
  return VIVCTL_EXIT_USAGE;
}

gboolean
vivctl_disk_parse_args (GOptionContext *context, int *argc, char ***argv,
                        const char *command, int min_args, int max_args)
{
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      vivctl_fail ("disk %s: %s", command, error->message);
      return FALSE;
    }
  int operands = *argc - 1;
  if (operands > max_args)
    {
      vivctl_fail ("disk %s: unexpected argument '%s'; see 'vivctl disk %s --help'",
                   command, (*argv)[1 + max_args], command);
      return FALSE;
    }
  if (operands < min_args)
    {
      /* The help's second line is "  vivctl disk CMD [OPTION…] ARGS - summary". */
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
      g_auto (GStrv) lines = g_strsplit (help, "\n", 3);
      char *usage = lines[0] && lines[1] ? g_strstrip (lines[1]) : "";
      char *summary = strstr (usage, " - ");
      if (summary)
        *summary = '\0';
      vivctl_fail ("disk %s: missing argument; usage: %s", command, usage);
      return FALSE;
    }
  return TRUE;
}

int
vivctl_disk_status_for (const GError *error)
{
  if (error->domain != G_IO_ERROR)
    return VIVCTL_EXIT_FAILURE;
  switch (error->code)
    {
    case G_IO_ERROR_NOT_FOUND:
    case G_IO_ERROR_EXISTS:
    case G_IO_ERROR_IS_DIRECTORY:
    case G_IO_ERROR_NOT_DIRECTORY:
    case G_IO_ERROR_NOT_REGULAR_FILE:
    case G_IO_ERROR_FILENAME_TOO_LONG:
    case G_IO_ERROR_INVALID_FILENAME:
    case G_IO_ERROR_PERMISSION_DENIED:
    case G_IO_ERROR_READ_ONLY:
    case G_IO_ERROR_INVALID_ARGUMENT:
    case G_IO_ERROR_INVALID_DATA:
    case G_IO_ERROR_NOT_SUPPORTED:
    case G_IO_ERROR_BUSY:
      return VIVCTL_EXIT_USAGE;
    default:
      return VIVCTL_EXIT_FAILURE;
    }
}

int
vivctl_disk_report (const GError *error)
{
  vivctl_fail ("%s", error->message);
  return vivctl_disk_status_for (error);
}

const char *
vivctl_disk_format_from_name (const char *name, const char *option, GError **error)
{
  if (g_str_equal (name, "raw"))
    return "raw";
  if (g_str_equal (name, "qcow2"))
    return "qcow2";
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "%s: unknown image format '%s'; use raw or qcow2", option, name);
  return NULL;
}

static gboolean
file_error (const char *path, int err, GError **error)
{
  if (err == ENOENT)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "Disk image “%s” does not exist; check the path", path);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                 "Cannot open disk image “%s”: %s", path, g_strerror (err));
  return FALSE;
}

const char *
vivctl_disk_format_of (const char *path, const char *given, GError **error)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return file_error (path, errno, error), NULL;
  if (S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                   "“%s” is a directory, not a disk image; give the path of an image file", path);
      return NULL;
    }
  if (given)
    return vivctl_disk_format_from_name (given, "-f", error);

  if (access (path, R_OK) < 0)
    return file_error (path, errno, error), NULL;
  return viv_qcow2_has_magic (path) ? "qcow2" : "raw";
}

gboolean
vivctl_disk_parse_image_size (const char *text, uint64_t *bytes, GError **error)
{
  if (!viv_parse_size (text, bytes, error))
    return FALSE;
  if (*bytes == 0 || *bytes % 512 != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a disk size: it must be a whole number of 512-byte sectors "
                   "and more than zero (e.g. 512M, 8G)", text);
      return FALSE;
    }
  return TRUE;
}

VivBlock *
vivctl_disk_open (const char *path, const char *format, bool read_only, GError **error)
{
  VivBlockOptions options = {
    .path = path,
    .format = format,
    .read_only = read_only,
    .cache = VIV_BLOCK_CACHE_WRITEBACK,
  };
  return viv_block_open (&options, error);
}

typedef struct {
  int  ret;
  bool done;
} Completion;

static void
on_complete (void *opaque, int ret)
{
  Completion *completion = opaque;
  completion->ret = ret;
  completion->done = true;
}

static int
wait_for (VivBlock *blk, Completion *completion)
{
  viv_block_drain (blk);
  g_assert (completion->done);
  return completion->ret;
}

int
vivctl_disk_read (VivBlock *blk, uint64_t offset, void *buf, size_t len)
{
  Completion completion = { 0 };
  struct iovec iov = { buf, len };
  viv_block_readv (blk, offset, &iov, 1, on_complete, &completion);
  return wait_for (blk, &completion);
}

int
vivctl_disk_write (VivBlock *blk, uint64_t offset, const void *buf, size_t len)
{
  Completion completion = { 0 };
  struct iovec iov = { (void *) buf, len };
  viv_block_writev (blk, offset, &iov, 1, on_complete, &completion);
  return wait_for (blk, &completion);
}

int
vivctl_disk_write_compressed (VivBlock *blk, uint64_t offset, const void *buf, size_t len)
{
  Completion completion = { 0 };
  int ret = viv_qcow2_write_compressed (blk, offset, buf, len, on_complete, &completion);
  if (ret < 0)
    return ret;   /* refused at once: no callback comes */
  return wait_for (blk, &completion);
}

int
vivctl_disk_flush (VivBlock *blk)
{
  Completion completion = { 0 };
  viv_block_flush (blk, on_complete, &completion);
  return wait_for (blk, &completion);
}

/* A destination another VM has open must not be replaced under it. */
static gboolean
check_not_in_use (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  VivBlock *blk = vivctl_disk_open (path, "raw", false, &local);
  viv_block_close (blk);
  if (local && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_BUSY))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

gboolean
vivctl_output_begin (VivctlOutput *out, const char *path, bool force, GError **error)
{
  memset (out, 0, sizeof *out);
  out->fd = -1;
  struct stat st;
  if (lstat (path, &st) == 0)
    {
      if (S_ISDIR (st.st_mode))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                       "“%s” is a directory; give the path of the image file to write", path);
          return FALSE;
        }
      if (!force)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "“%s” already exists; remove it, or give --force to replace it", path);
          return FALSE;
        }
      if (!check_not_in_use (path, error))
        return FALSE;
    }

  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  if (stat (dir, &st) < 0 || !S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "Cannot create “%s”: the directory “%s” does not exist", path, dir);
      return FALSE;
    }
  char *temp_path = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  int fd = g_mkstemp_full (temp_path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "Cannot create “%s” in “%s”: %s", path, dir, g_strerror (err));
      g_free (temp_path);
      return FALSE;
    }
  /* mkstemp makes the file private; an image gets the usual mode. */
  mode_t mask = umask (0);
  umask (mask);
  fchmod (fd, 0666 & ~mask);

  out->path = g_strdup (path);
  out->temp_path = temp_path;
  out->fd = fd;
  return TRUE;
}

gboolean
vivctl_disk_replace_file (const char *temp_path, const char *path, GError **error)
{
  /* Opened anew: the file may have been recreated under this name (qcow2). */
  int fd = open (temp_path, O_RDONLY | O_CLOEXEC);
  int ok = fd >= 0 && fsync (fd) == 0;
  int err = errno;
  if (fd >= 0)
    close (fd);
  if (!ok || rename (temp_path, path) < 0)
    {
      err = ok ? errno : err;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "Cannot write “%s”: %s", path, g_strerror (err));
      return FALSE;
    }
  /* The rename itself is durable once the directory is. */
  g_autofree char *dir = g_path_get_dirname (path);
  int dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }
  return TRUE;
}

gboolean
vivctl_output_commit (VivctlOutput *out, GError **error)
{
  gboolean ok = vivctl_disk_replace_file (out->temp_path, out->path, error);
  if (!ok)
    {
      vivctl_output_abort (out);
      return FALSE;
    }
  close (out->fd);
  g_free (out->path);
  g_free (out->temp_path);
  memset (out, 0, sizeof *out);
  out->fd = -1;
  return TRUE;
}

gboolean
vivctl_output_create_qcow2 (VivctlOutput *out, const VivQcow2CreateOptions *options,
                            GError **error)
{
  /* viv_qcow2_create makes its file itself: free the random name for it. */
  close (out->fd);
  out->fd = -1;
  unlink (out->temp_path);
  if (viv_qcow2_create (out->temp_path, options, error))
    return TRUE;
  g_prefix_error (error, "Cannot create “%s”: ", out->path);
  return FALSE;
}

void
vivctl_output_abort (VivctlOutput *out)
{
  if (out->temp_path)
    unlink (out->temp_path);
  if (out->fd >= 0)
    close (out->fd);
  g_free (out->path);
  g_free (out->temp_path);
  memset (out, 0, sizeof *out);
  out->fd = -1;
}

char *
vivctl_disk_format_size (uint64_t bytes)
{
  static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  if (bytes < 1024)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " %s", bytes, bytes == 1 ? "byte" : "bytes");
  double value = bytes;
  unsigned unit = 0;
  value /= 1024;
  while (value >= 1024 && unit + 1 < G_N_ELEMENTS (units))
    {
      value /= 1024;
      unit++;
    }
  /* Like qemu-img: "1 GiB", "1.5 GiB", "640 KiB". */
  char number[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (number, sizeof number, "%.2f", value);
  char *end = number + strlen (number);
  while (end[-1] == '0')
    *--end = '\0';
  if (end[-1] == '.')
    *--end = '\0';
  return g_strdup_printf ("%s %s", number, units[unit]);
}

gboolean
vivctl_disk_allocated_bytes (const char *path, uint64_t *bytes, GError **error)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return file_error (path, errno, error);
  *bytes = (uint64_t) st.st_blocks * 512;
  return TRUE;
}
