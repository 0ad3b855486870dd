/* Cloning a VM in the library: a new definition (new name, UUID and MACs)
 * whose writable disks are either full copies (reflinked or copied with
 * holes kept, vivctl-disk-copy.h) or linked clones (qcow2 overlays backed
 * by the source's images, which must then stay unchanged).  Read-only
 * disks are shared.  The source VM must be off: the caller checks its
 * worker. */
#pragma once
#include "library.h"

/* Called after each disk with the bytes copied so far and in all. */
typedef void (*VivCloneProgressFunc) (guint64 done, guint64 total, gpointer user_data);

/* New images go in the new VM's directory; on failure they are removed. */
VivVmDefinition *viv_library_clone_vm (VivLibrary *lib, const char *source, const char *name,
                                       gboolean linked, VivCloneProgressFunc progress,
                                       gpointer user_data, GError **error);
