/* Copying an image file byte for byte without filling its holes. */
#pragma once
#include <gio/gio.h>

/* Called while a file is copied with its data bytes copied so far (after
 * each piece of at most a few MiB), from the copying thread. */
typedef void (*VivctlCopyProgressFunc) (guint64 done, gpointer user_data);

/* The bytes vivctl_disk_copy_file() copies from fd: its data extents
 * (all of it where the file system cannot tell holes from data). */
gboolean vivctl_disk_data_bytes (int fd, const char *path, guint64 *bytes, GError **error);

/* Copies all of src_fd into the empty dst_fd: shares the extents (FICLONE)
 * when the file system can, at once and without progress; else copies
 * only the data extents (SEEK_DATA/SEEK_HOLE, copy_file_range), so holes
 * stay holes, reporting progress and stopping with G_IO_ERROR_CANCELLED
 * between pieces once `cancellable` is cancelled.  `progress` and
 * `cancellable` may be NULL.  On failure dst_fd holds a partial copy:
 * the caller removes it. */
gboolean vivctl_disk_copy_file (int src_fd, int dst_fd, const char *src_path,
                                VivctlCopyProgressFunc progress, gpointer user_data,
                                GCancellable *cancellable, GError **error);

/* Throttles progress reports to the UI or a terminal: TRUE when
 * `done` of `total` is worth showing: the first and last report (never
 * the same `done` twice), and otherwise at most one each VIVCTL_PROGRESS_INTERVAL_US unless the
 * copy moved on by a hundredth of the total (so a small copy still shows
 * its steps, and a large one at most about 100 + 20 a second). */
#define VIVCTL_PROGRESS_INTERVAL_US (50 * G_TIME_SPAN_MILLISECOND)

typedef struct {
  gint64  last_time;    /* monotonic, µs; 0 before the first report */
  guint64 last_done;
} VivctlProgressThrottle;

gboolean vivctl_progress_due (VivctlProgressThrottle *throttle, guint64 done, guint64 total);
