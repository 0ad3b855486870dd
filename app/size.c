#include "size.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

gboolean
viv_parse_size (const char *text, uint64_t *bytes, GError **error)
{
  const char *p = text;
  while (g_ascii_isspace (*p))
    p++;
  if (!g_ascii_isdigit (*p))
    goto bad;

  char *end = NULL;
  errno = 0;
  guint64 value = g_ascii_strtoull (p, &end, 10);
  if (errno == ERANGE)
    goto bad;

  unsigned shift = 0;
  switch (g_ascii_toupper (*end))
    {
    case '\0': break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: goto bad;
    }
  /* Accept "8G", "8GB", "8GiB". */
  if (shift && (g_ascii_strcasecmp (end, "iB") == 0 || g_ascii_strcasecmp (end, "B") == 0))
    end += strlen (end);
  if (*end != '\0')
    goto bad;
  if (shift && value > (G_MAXUINT64 >> shift))
    goto bad;
  *bytes = value << shift;
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "'%s' is not a size: use a number of bytes, or one with K, M, G or T (e.g. 512M, 8G)",
               text);
  return FALSE;
}
