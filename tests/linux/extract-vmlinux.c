/* extract-vmlinux BZIMAGE OUTPUT: writes the uncompressed vmlinux ELF held
 * in an x86 bzImage (see vmlinux-extract.h). */
#include <glib.h>

#include "vmlinux-extract.h"

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  if (argc != 3)
    {
      g_printerr ("usage: extract-vmlinux BZIMAGE OUTPUT\n");
      return 2;
    }
  if (!viv_extract_vmlinux (argv[1], argv[2], &error))
    {
      g_printerr ("extract-vmlinux: %s\n", error->message);
      return 1;
    }
  return 0;
}
