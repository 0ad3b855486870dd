/* Finding the worker and modules (companion.h). */
#include "companion.h"

#include <gio/gio.h>
#include <gmodule.h>

char *
viv_companion_path (const char *env_name, const char *build_path, const char *installed_path)
{
  const char *env = g_getenv (env_name);
  if (env && *env)
    return g_strdup (env);
  /* build/app/vivctl, build/ui/vivarium, build/tests/…: all under the root. */
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  if (self && g_str_has_prefix (self, VIV_BUILD_ROOT "/"))
    return g_strdup (build_path);
  return g_strdup (installed_path);
}

gpointer
viv_companion_module_symbol (const char *env_name, const char *build_path,
                             const char *installed_path, const char *what,
                             const char *symbol, GError **error)
{
  g_autofree char *path = viv_companion_path (env_name, build_path, installed_path);
  GModule *module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  gpointer found = NULL;
  if (!module || !g_module_symbol (module, symbol, &found))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "cannot load %s from %s (%s); reinstall Vivarium", what, path,
                   g_module_error ());
      if (module)
        g_module_close (module);
      return NULL;
    }
  g_module_make_resident (module);
  return found;
}
