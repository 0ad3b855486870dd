/* ISO 9660 images made with xorriso (viv-test-iso.h). */
#include "viv-test-iso.h"

char *
viv_test_make_iso (const char *dir, const char *name, const char *volume_id,
                   const char *system_id, const char *publisher)
{
  g_autofree char *xorriso = g_find_program_in_path ("xorriso");
  if (!xorriso)
    {
      g_test_skip ("xorriso is not installed (Debian: xorriso)");
      return NULL;
    }
  g_autofree char *tree = g_build_filename (dir, "tree", "install.amd", NULL);
  g_assert_cmpint (g_mkdir_with_parents (tree, 0700), ==, 0);
  g_autofree char *kernel = g_build_filename (tree, "vmlinuz", NULL);
  g_autofree char *initrd = g_build_filename (tree, "initrd.gz", NULL);
  g_assert_true (g_file_set_contents (kernel, "kernel", -1, NULL));
  g_assert_true (g_file_set_contents (initrd, "initrd", -1, NULL));

  char *path = g_build_filename (dir, name, NULL);
  g_autofree char *root = g_build_filename (dir, "tree", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, xorriso);
  g_ptr_array_add (argv, "-as");
  g_ptr_array_add (argv, "mkisofs");
  g_ptr_array_add (argv, "-quiet");
  g_ptr_array_add (argv, "-V");
  g_ptr_array_add (argv, (char *) volume_id);
  if (system_id)
    {
      g_ptr_array_add (argv, "-sysid");
      g_ptr_array_add (argv, (char *) system_id);
    }
  if (publisher)
    {
      g_ptr_array_add (argv, "-publisher");
      g_ptr_array_add (argv, (char *) publisher);
    }
  g_ptr_array_add (argv, "-o");
  g_ptr_array_add (argv, path);
  g_ptr_array_add (argv, root);
  g_ptr_array_add (argv, NULL);
  g_autofree char *err = NULL;
  int status;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("xorriso failed: %s", err);
  return path;
}
