/* Cloning a VM in the library: a new definition (new name, UUID and MACs)
 * whose writable disks are either full copies (reflinked or copied with
 * holes kept, vivctl-disk-copy.h) or linked clones (qcow2 overlays backed
 * by the source's images, which must then stay unchanged).  Read-only
 * disks are shared.  The source VM must be off: the caller checks its
 * worker. */
#pragma once
#include "library.h"

/* Called from the cloning thread with the bytes copied so far and in all:
 * `total` is the data the full copies hold (holes are not copied, so not
 * counted).  `done` never goes back; the first call has 0, the last one
 * `total` (at once after a reflink), and in between at most one each
 * 50 ms or each hundredth of `total` (vivctl_progress_due()).  A linked
 * clone copies nothing: one call with 0 of 0. */
typedef void (*VivCloneProgressFunc) (guint64 done, guint64 total, gpointer user_data);

/* New images go in the new VM's directory.  On failure, or once
 * `cancellable` is cancelled (G_IO_ERROR_CANCELLED, noticed between
 * pieces of a few MiB), they are removed and nothing is defined. */
VivVmDefinition *viv_library_clone_vm (VivLibrary *lib, const char *source, const char *name,
                                       gboolean linked, VivCloneProgressFunc progress,
                                       gpointer user_data, GCancellable *cancellable,
                                       GError **error);
