/* vivctl disk snapshot -l | -c NAME | -a NAME | -d NAME FILE
 * qcow2 internal snapshots (disk only: no VM state). */
#include "vivctl-disk.h"

#include <stdio.h>

static int
list (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) snapshots = viv_qcow2_snapshot_list (path, &error);
  if (!snapshots)
    return vivctl_disk_report (error);
  if (snapshots->len)
    printf ("%-4s %-20s %-19s %s\n", "ID", "NAME", "DATE", "VM CLOCK");
  for (guint i = 0; i < snapshots->len; i++)
    {
      VivQcow2SnapshotInfo *snapshot = snapshots->pdata[i];
      g_autoptr (GDateTime) date = g_date_time_new_from_unix_local (snapshot->date_sec);
      g_autofree char *date_text = date ? g_date_time_format (date, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
      uint64_t ms = snapshot->vm_clock_nsec / 1000000;
      printf ("%-4s %-20s %-19s %04" G_GUINT64_FORMAT ":%02u:%02u.%03u\n", snapshot->id,
              snapshot->name, date_text, ms / 3600000, (unsigned) (ms / 60000 % 60),
              (unsigned) (ms / 1000 % 60), (unsigned) (ms % 1000));
    }
  return 0;
}

int
vivctl_disk_snapshot (int argc, char **argv)
{
  gboolean do_list = FALSE;
  g_autofree char *create = NULL, *apply = NULL, *delete = NULL, *format_name = NULL;
  GOptionEntry entries[] = {
    { "list", 'l', 0, G_OPTION_ARG_NONE, &do_list, "List the snapshots", NULL },
    { "create", 'c', 0, G_OPTION_ARG_STRING, &create, "Take a snapshot of the disk's current contents", "NAME" },
    { "apply", 'a', 0, G_OPTION_ARG_STRING, &apply, "Revert the disk to a snapshot", "NAME" },
    { "delete", 'd', 0, G_OPTION_ARG_STRING, &delete, "Delete a snapshot", "NAME" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format_name, "The image's format (default: detected)", "FMT" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("-l | -c NAME | -a NAME | -d NAME FILE - qcow2 internal snapshots");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context, "NAME may also be a snapshot's ID for -a and -d.");
  if (!vivctl_disk_parse_args (context, &argc, &argv, "snapshot", 1, 1))
    return VIVCTL_EXIT_USAGE;
  if (do_list + !!create + !!apply + !!delete != 1)
    {
      vivctl_fail ("disk snapshot: give exactly one of -l, -c NAME, -a NAME, -d NAME");
      return VIVCTL_EXIT_USAGE;
    }
  const char *path = argv[1];

  g_autoptr (GError) error = NULL;
  const char *format = vivctl_disk_format_of (path, format_name, &error);
  if (!format)
    return vivctl_disk_report (error);
  if (!g_str_equal (format, "qcow2"))
    {
      vivctl_fail ("disk snapshot: “%s” is a raw image, which cannot hold snapshots; "
                   "convert it to qcow2 first (vivctl disk convert -O qcow2 …)", path);
      return VIVCTL_EXIT_USAGE;
    }
  if (do_list)
    return list (path);
  if (*(create ? create : apply ? apply : delete) == '\0')
    {
      vivctl_fail ("disk snapshot: the snapshot NAME is empty");
      return VIVCTL_EXIT_USAGE;
    }
  gboolean ok = create ? viv_qcow2_snapshot_create (path, create, &error)
              : apply ? viv_qcow2_snapshot_apply (path, apply, &error)
              : viv_qcow2_snapshot_delete (path, delete, &error);
  if (!ok)
    return vivctl_disk_report (error);
  return 0;
}
