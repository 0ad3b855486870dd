/* vivctl disk commit FILE
 * vivctl disk rebase -b NEWBACKING [-F FMT] [-u] FILE
 * External backing chains of qcow2 overlays. */
#include "vivctl-disk.h"

static gboolean
require_qcow2 (const char *path, const char *what, GError **error)
{
  const char *format = vivctl_disk_format_of (path, NULL, error);
  if (!format)
    return FALSE;
  if (!g_str_equal (format, "qcow2"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "“%s” is a raw image: only a qcow2 overlay has a backing image to %s",
                   path, what);
      return FALSE;
    }
  return TRUE;
}

int
vivctl_disk_commit (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE - write an overlay's data into its backing image");
  g_option_context_set_description (context,
      "The overlay is left as it is (it reads the same, now from its backing image).");
  if (!vivctl_disk_parse_args (context, &argc, &argv, "commit", 1, 1))
    return VIVCTL_EXIT_USAGE;
  g_autoptr (GError) error = NULL;
  if (!require_qcow2 (argv[1], "commit into", &error)
      || !viv_qcow2_commit (argv[1], &error))
    return vivctl_disk_report (error);
  return 0;
}

int
vivctl_disk_rebase (int argc, char **argv)
{
  g_autofree char *backing = NULL, *backing_format_name = NULL;
  gboolean unsafe = FALSE;
  GOptionEntry entries[] = {
    { "backing", 'b', 0, G_OPTION_ARG_FILENAME, &backing, "The new backing image (relative to FILE's directory); \"\" for none", "NEWBACKING" },
    { "backing-format", 'F', 0, G_OPTION_ARG_STRING, &backing_format_name, "Its format (default: detected)", "FMT" },
    { "unsafe", 'u', 0, G_OPTION_ARG_NONE, &unsafe, "Only rewrite the header (the new backing image must hold the same data)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("-b NEWBACKING [-F FMT] [-u] FILE - change an overlay's backing image");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Without -u, the clusters whose contents would change are first copied into FILE,\n"
      "so FILE reads the same afterwards.");
  if (!vivctl_disk_parse_args (context, &argc, &argv, "rebase", 1, 1))
    return VIVCTL_EXIT_USAGE;
  if (!backing)
    {
      vivctl_fail ("disk rebase: -b NEWBACKING is required (\"\" to make FILE stand alone)");
      return VIVCTL_EXIT_USAGE;
    }
  const char *path = argv[1];

  g_autoptr (GError) error = NULL;
  if (!require_qcow2 (path, "rebase", &error))
    return vivctl_disk_report (error);
  const char *backing_format = NULL;
  if (*backing)
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
    }
  if (!viv_qcow2_rebase (path, *backing ? backing : NULL, backing_format, unsafe, &error))
    return vivctl_disk_report (error);
  return 0;
}
