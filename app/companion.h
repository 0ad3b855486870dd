/* Files Vivarium's programs need beside them: the worker program, the
 * modules (the libosinfo backend, vivctl's VM commands).  One rule finds them, so that a program run from the
 * build tree uses that build's files, and an installed one the installed
 * files. */
#pragma once
#include <glib.h>

/* $env_name when it is set and not empty, else
 * `build_path` when this program runs from the build tree it was built in,
 * else `installed_path`. */
char *viv_companion_path (const char *env_name, const char *build_path,
                          const char *installed_path);

/* `symbol` from the module viv_companion_path() finds, loaded for the rest
 * of the process; NULL and an error naming `what` and the path, and
 * telling the user to reinstall, when it cannot be loaded. */
gpointer viv_companion_module_symbol (const char *env_name, const char *build_path,
                                      const char *installed_path, const char *what,
                                      const char *symbol, GError **error);
