#include "vm-definition.h"

#include <string.h>

#define NAME_MAX_LEN 64

static void
disk_spec_free (gpointer data)
{
  VivDiskSpec *disk = data;
  viv_disk_spec_clear (disk);
  g_free (disk);
}

VivVmDefinition *
viv_vm_definition_new (void)
{
  VivVmDefinition *def = g_new0 (VivVmDefinition, 1);
  def->n_cpus = 1;
  def->console_kind = VIV_CONSOLE_SERIAL;
  def->disks = g_ptr_array_new_with_free_func (disk_spec_free);
  def->nets = g_ptr_array_new_with_free_func (g_free);
  return def;
}

void
viv_vm_definition_free (VivVmDefinition *def)
{
  if (!def)
    return;
  g_free (def->name);
  g_free (def->kernel);
  g_free (def->initrd);
  g_free (def->cmdline);
  g_ptr_array_unref (def->disks);
  g_ptr_array_unref (def->nets);
  g_free (def->os_id);
  g_free (def);
}

static gboolean
is_name_char (char c, gboolean first)
{
  if (g_ascii_isalnum (c))
    return TRUE;
  return !first && (c == '.' || c == '_' || c == '-');
}

gboolean
viv_vm_name_is_valid (const char *name, GError **error)
{
  if (!name || !*name)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "a VM name cannot be empty");
      return FALSE;
    }
  size_t len = strlen (name);
  if (len > NAME_MAX_LEN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "VM name '%.16s…' is %zu characters long; at most %d are allowed",
                   name, len, NAME_MAX_LEN);
      return FALSE;
    }
  if (!is_name_char (name[0], TRUE))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "VM name '%s' must start with a letter or a digit", name);
      return FALSE;
    }
  for (size_t i = 1; i < len; i++)
    if (!is_name_char (name[i], FALSE))
      {
        g_autofree char *shown = g_strescape (name, NULL);
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "VM name '%s' has a character other than letters, digits, '.', '_' and '-' "
                     "at position %zu", shown, i + 1);
        return FALSE;
      }
  return TRUE;
}
