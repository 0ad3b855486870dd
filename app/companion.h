/* Files Vivarium's programs need beside them: the worker program, the
 * libosinfo module.  One rule finds them, so that a program run from the
 * build tree uses that build's files, and an installed one the installed
 * files. */
#pragma once
#include <glib.h>

/* $env_name when it is set and not empty, else
 * `build_path` when this program runs from the build tree it was built in,
 * else `installed_path`. */
char *viv_companion_path (const char *env_name, const char *build_path,
                          const char *installed_path);
