/* The kernel command line: "key=value" words separated by spaces. */
#include "probe.h"

static const char *cmdline = "";

void
cmdline_init (const char *s)
{
  cmdline = s ? s : "";
}

const char *
cmdline_get (void)
{
  return cmdline;
}

bool
cmdline_value (const char *key, char *buf, size_t size)
{
  size_t key_len = strlen (key);
  for (const char *p = cmdline; *p; p++)
    {
      if ((p != cmdline && p[-1] != ' ') || memcmp (p, key, key_len) != 0
          || p[key_len] != '=')
        continue;
      const char *v = p + key_len + 1;
      size_t n = 0;
      while (v[n] && v[n] != ' ' && n + 1 < size)
        {
          buf[n] = v[n];
          n++;
        }
      buf[n] = 0;
      return true;
    }
  return false;
}

uint64_t
cmdline_u64 (const char *key, uint64_t fallback)
{
  char buf[24];
  if (!cmdline_value (key, buf, sizeof buf) || !buf[0])
    return fallback;
  uint64_t v = 0;
  for (const char *p = buf; *p; p++)
    {
      if (*p < '0' || *p > '9')
        return fallback;
      v = v * 10 + (uint64_t) (*p - '0');
    }
  return v;
}
