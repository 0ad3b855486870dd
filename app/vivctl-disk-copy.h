/* Copying an image file byte for byte without filling its holes. */
#pragma once
#include <gio/gio.h>

/* Copies all of src_fd into the empty dst_fd: shares the extents (FICLONE)
 * when the file system can; else copies only the data extents
 * (SEEK_DATA/SEEK_HOLE, copy_file_range), so holes stay holes. */
gboolean vivctl_disk_copy_file (int src_fd, int dst_fd, const char *src_path, GError **error);
