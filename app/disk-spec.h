/* --disk PATH[,format=raw|qcow2][,cache=none|writethrough|writeback][,readonly][,serial=ID]
 * A comma inside PATH is written twice (",,"), as with QEMU's -drive. */
#pragma once
#include "machine.h"

typedef struct VivDiskSpec {
  VivDiskConfig config;     /* its strings point into the fields below */
  char         *path;
  char         *format;
  char         *serial;
} VivDiskSpec;

gboolean viv_disk_spec_parse (const char *spec, VivDiskSpec *disk, GError **error);
void     viv_disk_spec_clear (VivDiskSpec *disk);
