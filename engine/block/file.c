/* Host files under image drivers: open flags per cache mode, the OFD lock,
 * O_DIRECT alignment and bounce buffers, zeroing and hole punching. */
#include "block/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

/* Zeroes written per request when the file system cannot zero a range. */
#define ZERO_BUFFER_SIZE (1u << 20)
#define ZERO_CHUNK_SEGMENTS 32

static gboolean
open_failed (const char *path, int err, bool read_only, VivBlockCache cache, GError **error)
{
  switch (err) {
  case ENOENT:
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "Disk image “%s” does not exist; check the path, or create the image "
                 "(for example: qemu-img create -f raw %s 10G)", path, path);
    break;
  case EACCES:
  case EPERM:
    if (read_only)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Cannot read disk image “%s”: permission denied; give your user "
                   "read access to it (chmod u+r)", path);
    else
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Cannot open disk image “%s” for writing: permission denied; give your "
                   "user write access to it (chmod u+rw), or open the disk read-only", path);
    break;
  case EROFS:
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
                 "Disk image “%s” is on a read-only file system; open the disk read-only",
                 path);
    break;
  case EINVAL:
    if (cache == VIV_BLOCK_CACHE_NONE) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "The file system holding disk image “%s” does not support O_DIRECT "
                   "(cache=none); use cache=writeback or cache=writethrough", path);
      break;
    }
    /* fall through */
  default:
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                 "Cannot open disk image “%s”: %s", path, g_strerror (err));
  }
  return FALSE;
}

/* One OFD lock on the whole file: held by this open file description, so
 * a second open — in another VM or in this process — conflicts, and it is
 * released by close. */
static gboolean
lock_image (int fd, const char *path, bool read_only, GError **error)
{
  struct flock lock = {
    .l_type = read_only ? F_RDLCK : F_WRLCK,
    .l_whence = SEEK_SET,
  };
  if (fcntl (fd, F_OFD_SETLK, &lock) == 0)
    return TRUE;
  int err = errno;
  if (err == EAGAIN || err == EACCES) {
    if (read_only)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   "Disk image “%s” is in use read-write by another VM (locked); "
                   "stop that VM first", path);
    else
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   "Disk image “%s” is in use by another VM (locked); stop it or open "
                   "this disk read-only", path);
    return FALSE;
  }
  /* Some network file systems have no locks: run, but say so. */
  g_message ("Cannot lock disk image “%s” (%s); nothing stops another VM from "
             "opening it too", path, g_strerror (err));
  return TRUE;
}

static gboolean
probe_direct_alignment (VivBlockFile *file, GError **error)
{
  struct statx stx;
  if (statx (file->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0
      && (stx.stx_mask & STATX_DIOALIGN)) {
    if (stx.stx_dio_offset_align == 0)
      return open_failed (file->path, EINVAL, file->read_only, file->cache, error);
    file->offset_align = stx.stx_dio_offset_align;
    file->mem_align = MAX (stx.stx_dio_mem_align, 1u);
    return TRUE;
  }
  int sector = 0;
  if (file->is_block_device && ioctl (file->fd, BLKSSZGET, &sector) == 0 && sector > 0) {
    file->offset_align = file->mem_align = (uint32_t) sector;
    return TRUE;
  }
  /* Older kernels do not say: the largest common requirement is safe. */
  file->offset_align = file->mem_align = 4096;
  return TRUE;
}

gboolean
viv_block_file_open (VivBlockFile *file, const char *path, bool read_only,
                     VivBlockCache cache, VivAio *aio, GError **error)
{
  memset (file, 0, sizeof *file);
  file->fd = -1;

  struct stat st;
  if (stat (path, &st) == 0 && S_ISDIR (st.st_mode)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                 "“%s” is a directory, not a disk image; give the path of an image file",
                 path);
    return FALSE;
  }

  int flags = O_CLOEXEC | (read_only ? O_RDONLY : O_RDWR);
  if (cache == VIV_BLOCK_CACHE_NONE)
    flags |= O_DIRECT;
  else if (cache == VIV_BLOCK_CACHE_WRITETHROUGH)
    flags |= O_DSYNC;
  int fd = open (path, flags);
  if (fd < 0)
    return open_failed (path, errno, read_only, cache, error);

  file->fd = fd;
  file->path = g_strdup (path);
  file->read_only = read_only;
  file->cache = cache;
  file->aio = aio;
  file->offset_align = file->mem_align = 1;

  if (fstat (fd, &st) < 0) {
    open_failed (path, errno, read_only, cache, error);
    goto fail;
  }
  if (S_ISDIR (st.st_mode)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                 "“%s” is a directory, not a disk image; give the path of an image file",
                 path);
    goto fail;
  }
  if (S_ISBLK (st.st_mode)) {
    file->is_block_device = true;
    if (ioctl (fd, BLKGETSIZE64, &file->size) < 0) {
      open_failed (path, errno, read_only, cache, error);
      goto fail;
    }
  } else if (S_ISREG (st.st_mode)) {
    file->size = (uint64_t) st.st_size;
  } else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                 "“%s” is neither a regular file nor a block device; give the path of "
                 "a disk image", path);
    goto fail;
  }
  file->physical_block_size = st.st_blksize >= 512 && st.st_blksize <= 65536
                              && (st.st_blksize & (st.st_blksize - 1)) == 0
                              ? (uint32_t) st.st_blksize : 4096;

  if (!lock_image (fd, path, read_only, error))
    goto fail;
  if (cache == VIV_BLOCK_CACHE_NONE && !probe_direct_alignment (file, error))
    goto fail;
  return TRUE;

fail:
  viv_block_file_close (file);
  return FALSE;
}

void
viv_block_file_close (VivBlockFile *file)
{
  if (file->fd >= 0)
    close (file->fd);
  file->fd = -1;
  g_clear_pointer (&file->path, g_free);
}

/* ---- O_DIRECT bounce buffers ---------------------------------------- */

typedef struct {
  VivBlockCallback cb;
  void            *opaque;
  void            *buf;
  unsigned         iovcnt;
  struct iovec     iov[];    /* the caller's segments, to copy a read back to */
} Bounce;

static bool
needs_bounce (const VivBlockFile *file, const struct iovec *iov, unsigned iovcnt)
{
  if (file->cache != VIV_BLOCK_CACHE_NONE)
    return false;
  for (unsigned i = 0; i < iovcnt; i++)
    if ((uintptr_t) iov[i].iov_base % file->mem_align || iov[i].iov_len % file->offset_align)
      return true;
  return false;
}

/* NULL if the buffer cannot be had (a huge request): the request fails
 * with -ENOMEM instead of the process. */
static Bounce *
bounce_new (const VivBlockFile *file, const struct iovec *iov, unsigned iovcnt,
            VivBlockCallback cb, void *opaque, size_t *len)
{
  *len = 0;
  for (unsigned i = 0; i < iovcnt; i++)
    *len += iov[i].iov_len;
  void *buf;
  if (posix_memalign (&buf, MAX (file->mem_align, 4096u), MAX (*len, 1)) != 0)
    return NULL;
  Bounce *bounce = g_malloc (sizeof *bounce + iovcnt * sizeof (struct iovec));
  bounce->cb = cb;
  bounce->opaque = opaque;
  bounce->buf = buf;
  bounce->iovcnt = iovcnt;
  memcpy (bounce->iov, iov, iovcnt * sizeof (struct iovec));
  return bounce;
}

static void
bounce_read_done (void *opaque, int ret)
{
  Bounce *bounce = opaque;
  if (ret == 0) {
    const uint8_t *src = bounce->buf;
    for (unsigned i = 0; i < bounce->iovcnt; i++) {
      memcpy (bounce->iov[i].iov_base, src, bounce->iov[i].iov_len);
      src += bounce->iov[i].iov_len;
    }
  }
  bounce->cb (bounce->opaque, ret);
  free (bounce->buf);
  g_free (bounce);
}

static void
bounce_write_done (void *opaque, int ret)
{
  Bounce *bounce = opaque;
  bounce->cb (bounce->opaque, ret);
  free (bounce->buf);
  g_free (bounce);
}

void
viv_block_file_readv (VivBlockFile *file, uint64_t offset, const struct iovec *iov,
                      unsigned iovcnt, VivBlockCallback cb, void *opaque)
{
  if (!needs_bounce (file, iov, iovcnt)) {
    viv_aio_readv (file->aio, file->fd, offset, iov, iovcnt, cb, opaque);
    return;
  }
  size_t len;
  Bounce *bounce = bounce_new (file, iov, iovcnt, cb, opaque, &len);
  if (!bounce) {
    viv_aio_complete_later (file->aio, -ENOMEM, cb, opaque);
    return;
  }
  struct iovec whole = { bounce->buf, len };
  viv_aio_readv (file->aio, file->fd, offset, &whole, 1, bounce_read_done, bounce);
}

void
viv_block_file_writev (VivBlockFile *file, uint64_t offset, const struct iovec *iov,
                       unsigned iovcnt, VivBlockCallback cb, void *opaque)
{
  if (!needs_bounce (file, iov, iovcnt)) {
    viv_aio_writev (file->aio, file->fd, offset, iov, iovcnt, cb, opaque);
    return;
  }
  size_t len;
  Bounce *bounce = bounce_new (file, iov, iovcnt, cb, opaque, &len);
  if (!bounce) {
    viv_aio_complete_later (file->aio, -ENOMEM, cb, opaque);
    return;
  }
  uint8_t *dst = bounce->buf;
  for (unsigned i = 0; i < iovcnt; i++) {
    memcpy (dst, iov[i].iov_base, iov[i].iov_len);
    dst += iov[i].iov_len;
  }
  struct iovec whole = { bounce->buf, len };
  viv_aio_writev (file->aio, file->fd, offset, &whole, 1, bounce_write_done, bounce);
}

void
viv_block_file_flush (VivBlockFile *file, VivBlockCallback cb, void *opaque)
{
  if (file->read_only)
    viv_aio_complete_later (file->aio, 0, cb, opaque);
  else
    viv_aio_fdatasync (file->aio, file->fd, cb, opaque);
}

/* ---- discard and write-zeroes ---------------------------------------- */

typedef enum { ZERO_BY_PUNCH, ZERO_BY_RANGE, ZERO_BY_WRITES, DISCARD_BY_PUNCH } ZeroStage;

typedef struct {
  VivBlockFile    *file;
  ZeroStage        stage;
  uint64_t         offset, len;
  VivBlockCallback cb;
  void            *opaque;
} ZeroRequest;

static void zero_step (ZeroRequest *zr);

static const uint8_t *
zero_buffer (void)
{
  static gsize once;
  static void *zeroes;
  if (g_once_init_enter (&once)) {
    if (posix_memalign (&zeroes, 4096, ZERO_BUFFER_SIZE) != 0)
      g_error ("Out of memory for the disk zero buffer");
    memset (zeroes, 0, ZERO_BUFFER_SIZE);
    g_once_init_leave (&once, 1);
  }
  return zeroes;
}

static void
zero_finish (ZeroRequest *zr, int ret)
{
  zr->cb (zr->opaque, ret);
  g_free (zr);
}

static void
zero_done (void *opaque, int ret)
{
  ZeroRequest *zr = opaque;
  bool unsupported = ret == -EOPNOTSUPP || ret == -ENOSYS;
  switch (zr->stage) {
  case DISCARD_BY_PUNCH:
    if (unsupported)
      zr->file->no_punch_hole = true;
    zero_finish (zr, unsupported ? 0 : ret);
    return;
  case ZERO_BY_PUNCH:
    if (!unsupported)
      break;
    zr->file->no_punch_hole = true;
    zr->stage = ZERO_BY_RANGE;
    zero_step (zr);
    return;
  case ZERO_BY_RANGE:
    if (!unsupported)
      break;
    zr->file->no_zero_range = true;
    zr->stage = ZERO_BY_WRITES;
    zero_step (zr);
    return;
  case ZERO_BY_WRITES:
    if (ret == 0 && zr->len > 0) {
      zero_step (zr);
      return;
    }
    break;
  }
  zero_finish (zr, ret);
}

static void
zero_step (ZeroRequest *zr)
{
  VivBlockFile *file = zr->file;
  if (zr->stage == ZERO_BY_PUNCH && file->no_punch_hole)
    zr->stage = ZERO_BY_RANGE;
  if (zr->stage == ZERO_BY_RANGE && file->no_zero_range)
    zr->stage = ZERO_BY_WRITES;

  switch (zr->stage) {
  case DISCARD_BY_PUNCH:
  case ZERO_BY_PUNCH:
    viv_aio_fallocate (file->aio, file->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                       zr->offset, zr->len, zero_done, zr);
    return;
  case ZERO_BY_RANGE:
    viv_aio_fallocate (file->aio, file->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                       zr->offset, zr->len, zero_done, zr);
    return;
  case ZERO_BY_WRITES: {
    struct iovec iov[ZERO_CHUNK_SEGMENTS];
    unsigned n = 0;
    uint64_t chunk = 0;
    while (n < ZERO_CHUNK_SEGMENTS && chunk < zr->len) {
      size_t seg = MIN (zr->len - chunk, ZERO_BUFFER_SIZE);
      iov[n++] = (struct iovec) { (void *) zero_buffer (), seg };
      chunk += seg;
    }
    uint64_t offset = zr->offset;
    zr->offset += chunk;
    zr->len -= chunk;
    viv_aio_writev (file->aio, file->fd, offset, iov, n, zero_done, zr);
    return;
  }
  }
}

static void
zero_start (VivBlockFile *file, ZeroStage stage, uint64_t offset, uint64_t len,
            VivBlockCallback cb, void *opaque)
{
  ZeroRequest *zr = g_new (ZeroRequest, 1);
  *zr = (ZeroRequest) { file, stage, offset, len, cb, opaque };
  zero_step (zr);
}

void
viv_block_file_discard (VivBlockFile *file, uint64_t offset, uint64_t len,
                        VivBlockCallback cb, void *opaque)
{
  if (file->no_punch_hole || len == 0)
    viv_aio_complete_later (file->aio, 0, cb, opaque);
  else
    zero_start (file, DISCARD_BY_PUNCH, offset, len, cb, opaque);
}

void
viv_block_file_write_zeroes (VivBlockFile *file, uint64_t offset, uint64_t len,
                             unsigned flags, VivBlockCallback cb, void *opaque)
{
  if (len == 0)
    viv_aio_complete_later (file->aio, 0, cb, opaque);
  else
    zero_start (file, flags & VIV_BLOCK_ZERO_MAY_UNMAP ? ZERO_BY_PUNCH : ZERO_BY_RANGE,
                offset, len, cb, opaque);
}
