#include "config.h"

#include <glib/gi18n.h>
#include <unistd.h>

#include "vivarium-application.h"

/* Without a GPU render node, OpenGL can only be Mesa's software rasterizer
 * (llvmpipe).  GTK 4.8 would still set it up when the display opens (LLVM
 * and all, about 150 ms before the first frame here), pick its GL renderer,
 * compile its shaders, then rasterize every frame in full on the CPU
 * (llvmpipe has no buffer age): ten times the cairo renderer's CPU while
 * graphs move.  GTK does the same from 4.13.8 on (commit "gsk: Don't use
 * gpu renderers with llvmpipe").  A user's own GDK_DEBUG or GSK_RENDERER
 * wins. */
static void
avoid_software_gl (void)
{
  g_autoptr (GDir) dri = NULL;
  const char *name;

  if (g_getenv ("GDK_DEBUG") != NULL || g_getenv ("GSK_RENDERER") != NULL)
    return;
  dri = g_dir_open ("/dev/dri", 0, NULL);
  while (dri != NULL && (name = g_dir_read_name (dri)) != NULL)
    if (g_str_has_prefix (name, "renderD"))
      {
        g_autofree char *path = g_build_filename ("/dev/dri", name, NULL);

        if (access (path, R_OK | W_OK) == 0)
          return;
      }
  /* Documented in GTK 4.8's "Running GTK applications" (GDK_DISABLE=gl
   * from 4.16 on); without GL, GTK draws with cairo. */
  g_setenv ("GDK_DEBUG", "gl-disable", FALSE);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (VivApplication) app = NULL;

  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  avoid_software_gl ();
  app = viv_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
