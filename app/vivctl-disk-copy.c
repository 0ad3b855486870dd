/* Copying an image file as it is, holes kept: a reflink where the file
 * system shares extents (btrfs, XFS), else copy_file_range over the data
 * extents only, a piece at a time so that progress and cancelling work. */
#include "vivctl-disk-copy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define FALLBACK_BUFFER (1u << 20)
/* Small enough to report and notice a cancel a few times a second on a
 * slow disk, large enough that the kernel copies efficiently. */
#define PIECE (8u << 20)
/* How far ahead of the copy the source's data is asked for (WILLNEED), so
 * that with a cold page cache the disk reads the next extents while this
 * one is copied, rather than one extent at a time. */
#define READ_AHEAD (64u << 20)

typedef struct {
  int                    src_fd;
  int                    dst_fd;
  const char            *src_path;
  VivctlCopyProgressFunc progress;
  gpointer               user_data;
  GCancellable          *cancellable;
  guint64                done;
  off_t                  size;
  off_t                  advised;  /* read-ahead asked for up to here */
} Copy;

static gboolean
fail_errno (const char *path, int err, GError **error)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
               "Cannot copy “%s”: %s", path, g_strerror (err));
  return FALSE;
}

/* The first data extent at or after `offset`, as [*start, *end); both are
 * `size` when only a hole is left. */
static gboolean
next_data_extent (int fd, off_t size, off_t offset, off_t *start, off_t *end)
{
  off_t data = lseek (fd, offset, SEEK_DATA);
  if (data < 0 && errno == ENXIO)
    data = size;
  else if (data < 0)
    {
      /* No SEEK_DATA here: everything is data. */
      if (errno != EINVAL && errno != EOPNOTSUPP)
        return FALSE;
      data = offset;
    }
  data = MIN (data, size);
  off_t hole = data < size ? lseek (fd, data, SEEK_HOLE) : size;
  if (hole < 0)
    hole = size;
  *start = data;
  *end = MIN (hole, size);
  return TRUE;
}

/* Asks for the data extents in [offset, offset + READ_AHEAD) not asked for
 * yet.  Only advice: a failure just means less overlap. */
static void
read_ahead (Copy *copy, off_t offset)
{
  off_t limit = MIN (offset + (off_t) READ_AHEAD, copy->size);
  for (off_t pos = MAX (offset, copy->advised); pos < limit;)
    {
      off_t start, end;
      if (!next_data_extent (copy->src_fd, copy->size, pos, &start, &end) || start >= limit)
        break;
      end = MIN (end, limit);
      posix_fadvise (copy->src_fd, start, end - start, POSIX_FADV_WILLNEED);
      pos = end;
    }
  copy->advised = MAX (copy->advised, limit);
}

gboolean
vivctl_disk_data_bytes (int fd, const char *path, guint64 *bytes, GError **error)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return fail_errno (path, errno, error);
  guint64 total = 0;
  for (off_t offset = 0; offset < st.st_size;)
    {
      off_t start, end;
      if (!next_data_extent (fd, st.st_size, offset, &start, &end))
        return fail_errno (path, errno, error);
      total += end - start;
      offset = end;
    }
  *bytes = total;
  return TRUE;
}

static gboolean
copied (Copy *copy, size_t n, GError **error)
{
  copy->done += n;
  if (copy->progress)
    copy->progress (copy->done, copy->user_data);
  return !g_cancellable_set_error_if_cancelled (copy->cancellable, error);
}

/* When copy_file_range cannot (old kernels, some file systems). */
static gboolean
copy_with_buffer (Copy *copy, off_t offset, off_t end, GError **error)
{
  g_autofree char *buf = g_malloc (FALLBACK_BUFFER);
  while (offset < end)
    {
      read_ahead (copy, offset);
      size_t want = MIN ((off_t) FALLBACK_BUFFER, end - offset);
      ssize_t n = pread (copy->src_fd, buf, want, offset);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return fail_errno (copy->src_path, n == 0 ? EIO : errno, error);
      for (ssize_t done = 0; done < n;)
        {
          ssize_t w = pwrite (copy->dst_fd, buf + done, n - done, offset + done);
          if (w < 0 && errno == EINTR)
            continue;
          if (w <= 0)
            return fail_errno (copy->src_path, w == 0 ? EIO : errno, error);
          done += w;
        }
      offset += n;
      if (!copied (copy, n, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
copy_range (Copy *copy, off_t offset, off_t end, GError **error)
{
  while (offset < end)
    {
      read_ahead (copy, offset);
      loff_t in = offset, out = offset;
      ssize_t n = copy_file_range (copy->src_fd, &in, copy->dst_fd, &out,
                                   MIN ((off_t) PIECE, end - offset), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
        return copy_with_buffer (copy, offset, end, error);
      if (n <= 0)  /* 0: the source shrank under us */
        return fail_errno (copy->src_path, n == 0 ? EIO : errno, error);
      offset += n;
      if (!copied (copy, n, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
vivctl_disk_copy_file (int src_fd, int dst_fd, const char *src_path,
                       VivctlCopyProgressFunc progress, gpointer user_data,
                       GCancellable *cancellable, GError **error)
{
  struct stat st;
  if (fstat (src_fd, &st) < 0)
    return fail_errno (src_path, errno, error);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (ioctl (dst_fd, FICLONE, src_fd) == 0)
    return TRUE;

  Copy copy = { src_fd, dst_fd, src_path, progress, user_data, cancellable, 0, st.st_size, 0 };
  for (off_t offset = 0; offset < st.st_size;)
    {
      off_t start, end;
      if (!next_data_extent (src_fd, st.st_size, offset, &start, &end))
        return fail_errno (src_path, errno, error);
      if (!copy_range (&copy, start, end, error))
        return FALSE;
      offset = end;
    }
  /* The tail hole, if any, is a size, not data. */
  if (ftruncate (dst_fd, st.st_size) < 0)
    return fail_errno (src_path, errno, error);
  return TRUE;
}

gboolean
vivctl_progress_due (VivctlProgressThrottle *throttle, guint64 done, guint64 total)
{
  gint64 now = g_get_monotonic_time ();
  if (throttle->last_time != 0 && done == throttle->last_done)
    return FALSE;  /* nothing new */
  gboolean due = throttle->last_time == 0 || done >= total
                 || now - throttle->last_time >= VIVCTL_PROGRESS_INTERVAL_US
                 || done - throttle->last_done >= total / 100;
  if (due)
    {
      throttle->last_time = now;
      throttle->last_done = done;
    }
  return due;
}
