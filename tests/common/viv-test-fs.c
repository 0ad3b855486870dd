#include "viv-test-fs.h"

#include <glib/gstdio.h>

void
viv_test_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) &&
      (dir = g_dir_open (path, 0, NULL)) != NULL)
    {
      /* A read-only directory's entries cannot be unlinked. */
      g_chmod (path, 0700);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          viv_test_remove_tree (child);
        }
    }
  g_remove (path);
}
