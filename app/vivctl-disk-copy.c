/* Copying an image file as it is, holes kept: a reflink where the file
 * system shares extents (btrfs, XFS), else copy_file_range over the data
 * extents only. */
#include "vivctl-disk-copy.h"

#include <errno.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define FALLBACK_BUFFER (1u << 20)

/* When copy_file_range cannot (old kernels, some file systems). */
static gboolean
copy_with_buffer (int src_fd, int dst_fd, off_t offset, off_t end)
{
  g_autofree char *buf = g_malloc (FALLBACK_BUFFER);
  while (offset < end)
    {
      size_t want = MIN ((off_t) FALLBACK_BUFFER, end - offset);
      ssize_t n = pread (src_fd, buf, want, offset);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n == 0 ? (errno = EIO, FALSE) : FALSE;
      for (ssize_t done = 0; done < n;)
        {
          ssize_t w = pwrite (dst_fd, buf + done, n - done, offset + done);
          if (w < 0 && errno == EINTR)
            continue;
          if (w <= 0)
            return FALSE;
          done += w;
        }
      offset += n;
    }
  return TRUE;
}

static gboolean
copy_range (int src_fd, int dst_fd, off_t offset, off_t end)
{
  while (offset < end)
    {
      loff_t in = offset, out = offset;
      ssize_t n = copy_file_range (src_fd, &in, dst_fd, &out, end - offset, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
        return copy_with_buffer (src_fd, dst_fd, offset, end);
      if (n < 0)
        return FALSE;
      if (n == 0)
        return errno = EIO, FALSE;  /* the source shrank under us */
      offset += n;
    }
  return TRUE;
}

gboolean
vivctl_disk_copy_file (int src_fd, int dst_fd, const char *src_path, GError **error)
{
  struct stat st;
  if (fstat (src_fd, &st) < 0)
    goto failed;
  if (ioctl (dst_fd, FICLONE, src_fd) == 0)
    return TRUE;

  off_t size = st.st_size;
  off_t offset = 0;
  while (offset < size)
    {
      off_t data = lseek (src_fd, offset, SEEK_DATA);
      if (data < 0 && errno == ENXIO)
        break;  /* only a hole is left */
      if (data < 0)
        {
          /* No SEEK_DATA here: everything is data. */
          if (errno != EINVAL && errno != EOPNOTSUPP)
            goto failed;
          data = offset;
        }
      off_t hole = lseek (src_fd, data, SEEK_HOLE);
      if (hole < 0)
        hole = size;
      hole = MIN (hole, size);
      if (!copy_range (src_fd, dst_fd, data, hole))
        goto failed;
      offset = hole;
    }
  /* The tail hole, if any, is a size, not data. */
  if (ftruncate (dst_fd, size) < 0)
    goto failed;
  return TRUE;

failed:;
  int err = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
               "Cannot copy “%s”: %s", src_path, g_strerror (err));
  return FALSE;
}
