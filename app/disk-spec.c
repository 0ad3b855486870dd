#include "disk-spec.h"

#include <string.h>

#define SERIAL_MAX 20

static gboolean
bad (GError **error, const char *spec, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
bad (GError **error, const char *spec, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "--disk %s: %s", spec, reason);
  return FALSE;
}

/* Splits at single commas; ",," stands for a comma. */
static GPtrArray *
split_fields (const char *spec)
{
  GPtrArray *fields = g_ptr_array_new_with_free_func (g_free);
  GString *field = g_string_new (NULL);
  for (const char *p = spec; *p; p++)
    {
      if (*p == ',' && p[1] == ',')
        {
          g_string_append_c (field, ',');
          p++;
        }
      else if (*p == ',')
        {
          g_ptr_array_add (fields, g_string_free (field, FALSE));
          field = g_string_new (NULL);
        }
      else
        g_string_append_c (field, *p);
    }
  g_ptr_array_add (fields, g_string_free (field, FALSE));
  return fields;
}

gboolean
viv_disk_spec_parse (const char *spec, VivDiskSpec *disk, GError **error)
{
  memset (disk, 0, sizeof *disk);
  g_autoptr (GPtrArray) fields = split_fields (spec);
  const char *path = fields->pdata[0];
  if (!*path)
    return bad (error, spec, "the image path comes first, e.g. --disk disk.img,cache=none");

  disk->config.cache = VIV_BLOCK_CACHE_WRITEBACK;
  for (unsigned i = 1; i < fields->len; i++)
    {
      const char *field = fields->pdata[i];
      const char *eq = strchr (field, '=');
      g_autofree char *key = eq ? g_strndup (field, eq - field) : g_strdup (field);
      const char *value = eq ? eq + 1 : NULL;

      if (g_str_equal (key, "readonly") && (!value || g_str_equal (value, "on")))
        disk->config.read_only = true;
      else if (g_str_equal (key, "readonly") && g_str_equal (value, "off"))
        disk->config.read_only = false;
      else if (g_str_equal (key, "format") && value)
        {
          if (!g_str_equal (value, "raw") && !g_str_equal (value, "qcow2"))
            {
              viv_disk_spec_clear (disk);
              return bad (error, spec, "unknown format '%s'; known: raw, qcow2", value);
            }
          g_free (disk->format);
          disk->format = g_strdup (value);
        }
      else if (g_str_equal (key, "cache") && value)
        {
          if (!viv_block_cache_from_string (value, &disk->config.cache))
            {
              viv_disk_spec_clear (disk);
              return bad (error, spec, "unknown cache mode '%s'; use none, writethrough or writeback", value);
            }
        }
      else if (g_str_equal (key, "serial") && value)
        {
          if (strlen (value) > SERIAL_MAX)
            {
              viv_disk_spec_clear (disk);
              return bad (error, spec, "serial '%s' is longer than %d bytes", value, SERIAL_MAX);
            }
          g_free (disk->serial);
          disk->serial = g_strdup (value);
        }
      else
        {
          viv_disk_spec_clear (disk);
          return bad (error, spec, "unknown option '%s'; known: format=raw|qcow2, cache=MODE, readonly, serial=ID",
                      field);
        }
    }

  disk->path = g_strdup (path);
  disk->config.path = disk->path;
  disk->config.format = disk->format;
  disk->config.serial = disk->serial;
  return TRUE;
}

void
viv_disk_spec_clear (VivDiskSpec *disk)
{
  g_clear_pointer (&disk->path, g_free);
  g_clear_pointer (&disk->format, g_free);
  g_clear_pointer (&disk->serial, g_free);
  memset (&disk->config, 0, sizeof disk->config);
}
