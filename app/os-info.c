/* VivOsInfo (os-detect.h): what both os-detect.c and its libosinfo module
 * use, built into each. */
#include "os-detect.h"

#include <string.h>

G_DEFINE_QUARK (viv-os-detect-error-quark, viv_os_detect_error)

void
viv_os_info_free (VivOsInfo *info)
{
  if (!info)
    return;
  g_free (info->id);
  g_free (info->short_id);
  g_free (info->name);
  g_free (info->codename);
  g_free (info->kernel_path);
  g_free (info->initrd_path);
  g_free (info);
}

char *
viv_os_info_describe (const VivOsInfo *info)
{
  if (info->codename && !strstr (info->name, info->codename))
    return g_strdup_printf ("%s (%s)", info->name, info->codename);
  return g_strdup (info->name);
}

unsigned
viv_os_info_suggested_cpus (const VivOsInfo *info)
{
  return info->recommended.n_cpus ? info->recommended.n_cpus : info->minimum.n_cpus;
}

guint64
viv_os_info_suggested_memory (const VivOsInfo *info)
{
  return info->recommended.memory_bytes ? info->recommended.memory_bytes : info->minimum.memory_bytes;
}

guint64
viv_os_info_suggested_storage (const VivOsInfo *info)
{
  return info->recommended.storage_bytes ? info->recommended.storage_bytes : info->minimum.storage_bytes;
}
