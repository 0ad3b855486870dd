/* vivctl disk check [-r leaks|all] [-f FMT] FILE
 *
 * Exit statuses as qemu-img check's, so scripts work with both: 0 no
 * errors, 1 the check could not be done (this includes bad arguments and
 * images that cannot be opened: never mistaken for a verdict), 2 the image
 * is corrupted, 3 it only leaks clusters. */
#include "vivctl-disk.h"
#include "block/qcow2.h"

#include <stdio.h>

enum {
  CHECK_OK = 0,
  CHECK_NOT_DONE = 1,
};

static void
print_result (const VivQcow2CheckResult *result)
{
  for (guint i = 0; result->messages && i < result->messages->len; i++)
    printf ("%s\n", (const char *) result->messages->pdata[i]);
  if (result->corruptions_fixed || result->leaks_fixed)
    {
      printf ("The following inconsistencies were found and repaired:\n\n");
      printf ("    %" G_GUINT64_FORMAT " leaked clusters\n", result->leaks_fixed);
      printf ("    %" G_GUINT64_FORMAT " corruptions\n\n", result->corruptions_fixed);
      printf ("Double checking the fixed image now...\n");
    }
  if (!result->corruptions && !result->leaks && !result->check_errors)
    printf ("No errors were found on the image.\n");
  if (result->corruptions)
    printf ("\n%" G_GUINT64_FORMAT " errors were found on the image.\n"
            "Data may be corrupted, or further writes to the image may corrupt it.\n",
            result->corruptions);
  if (result->leaks)
    printf ("\n%" G_GUINT64_FORMAT " leaked clusters were found on the image.\n"
            "This means waste of disk space, but no harm to data.\n", result->leaks);
  if (result->check_errors)
    printf ("\n%" G_GUINT64_FORMAT " internal errors have occurred during the check.\n",
            result->check_errors);
  if (result->image_end_offset)
    printf ("Image end offset: %" G_GUINT64_FORMAT "\n", result->image_end_offset);
}

int
vivctl_disk_check (int argc, char **argv)
{
  g_autofree char *repair_name = NULL, *format_name = NULL;
  GOptionEntry entries[] = {
    { "repair", 'r', 0, G_OPTION_ARG_STRING, &repair_name, "Repair: leaks (free unreferenced clusters) or all", "WHAT" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format_name, "The image's format: raw or qcow2 (default: detected)", "FMT" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE - check an image's metadata");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Exit status (as qemu-img check): 0 no errors, 1 the check could not be done\n"
      "(bad arguments, unreadable image), 2 corruptions, 3 leaked clusters only.");
  if (!vivctl_disk_parse_args (context, &argc, &argv, "check", 1, 1))
    return CHECK_NOT_DONE;
  const char *path = argv[1];

  VivQcow2Repair repair = VIV_QCOW2_REPAIR_NONE;
  if (repair_name && g_str_equal (repair_name, "leaks"))
    repair = VIV_QCOW2_REPAIR_LEAKS;
  else if (repair_name && g_str_equal (repair_name, "all"))
    repair = VIV_QCOW2_REPAIR_LEAKS | VIV_QCOW2_REPAIR_ERRORS;
  else if (repair_name)
    {
      vivctl_fail ("disk check: -r '%s' is not a repair mode; use leaks or all", repair_name);
      return CHECK_NOT_DONE;
    }

  g_autoptr (GError) error = NULL;
  const char *format = vivctl_disk_format_of (path, format_name, &error);
  if (format && g_str_equal (format, "raw"))
    {
      /* Still refuse an image a VM is writing, like every other command. */
      VivBlock *blk = vivctl_disk_open (path, "raw", true, &error);
      if (blk)
        {
          viv_block_close (blk);
          printf ("raw images have no metadata to check\n");
          return CHECK_OK;
        }
    }
  VivQcow2CheckResult result = { 0 };
  if (!format || error || !viv_qcow2_check (path, repair, &result, &error))
    {
      vivctl_fail ("%s", error->message);
      viv_qcow2_check_result_clear (&result);
      return CHECK_NOT_DONE;
    }
  print_result (&result);
  int status = viv_qcow2_check_exit_status (&result);
  viv_qcow2_check_result_clear (&result);
  return status;
}
