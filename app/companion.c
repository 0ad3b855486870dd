/* Finding the worker and modules (companion.h). */
#include "companion.h"

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
