/* vivctl_fail (vivctl.h): in vivctl and in its VM-commands module. */
#include "vivctl.h"

#include <stdio.h>

void
vivctl_fail (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "vivctl: %s\n", message);
}
