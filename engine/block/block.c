/* The format-neutral front of disk images: picks the driver, owns the I/O
 * engine, and checks every request before a driver sees it. */
#include "block/block.h"
#include "block/qcow2.h"

#include <errno.h>
#include <limits.h>

struct VivBlock {
  const VivBlockDriver *driver;
  void                 *state;
  VivAio               *aio;
  char                 *path;
  bool                  read_only;
  VivBlockInfo          info;
};

static const VivBlockDriver *const drivers[] = { &viv_block_driver_raw, &viv_block_driver_qcow2 };

VivBlock *
viv_block_open (const VivBlockOptions *options, GError **error)
{
  const char *format = options->format ? options->format : "raw";
  const VivBlockDriver *driver = NULL;
  for (size_t i = 0; i < G_N_ELEMENTS (drivers); i++)
    if (g_str_equal (drivers[i]->format, format))
      driver = drivers[i];
  if (!driver) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Disk image “%s”: unknown format “%s”; the supported formats are raw and "
                 "qcow2",
                 options->path, format);
    return NULL;
  }
  if (!options->path || !*options->path) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "No disk image path given");
    return NULL;
  }

  VivAio *aio = viv_aio_new (options->context, error);
  if (!aio)
    return NULL;
  VivBlockInfo info = { 0 };
  void *state = driver->open (options, aio, &info, error);
  if (!state) {
    viv_aio_free (aio);
    return NULL;
  }
  VivBlock *blk = g_new0 (VivBlock, 1);
  blk->driver = driver;
  blk->state = state;
  blk->aio = aio;
  blk->path = g_strdup (options->path);
  blk->read_only = options->read_only;
  blk->info = info;
  g_assert (info.alignment >= 512 && (info.alignment & (info.alignment - 1)) == 0);
  return blk;
}

void
viv_block_close (VivBlock *blk)
{
  if (!blk)
    return;
  viv_aio_drain (blk->aio);
  blk->driver->close (blk->state);
  viv_aio_free (blk->aio);
  g_free (blk->path);
  g_free (blk);
}

const char *
viv_block_path (VivBlock *blk)
{
  return blk->path;
}

const char *
viv_block_format (VivBlock *blk)
{
  return blk->driver->format;
}

uint64_t
viv_block_length (VivBlock *blk)
{
  return blk->driver->get_length (blk->state);
}

bool
viv_block_is_read_only (VivBlock *blk)
{
  return blk->read_only;
}

bool
viv_block_uses_uring (VivBlock *blk)
{
  return viv_aio_is_uring (blk->aio);
}

uint32_t
viv_block_alignment (VivBlock *blk)
{
  return blk->info.alignment;
}

uint32_t
viv_block_physical_block_size (VivBlock *blk)
{
  return blk->info.physical_block_size;
}

unsigned
viv_block_capabilities (VivBlock *blk)
{
  return blk->info.capabilities;
}

void *
viv_block_driver_state (VivBlock *blk, const VivBlockDriver *driver)
{
  return blk->driver == driver ? blk->state : NULL;
}

/* 0 if [offset, offset+len) is a valid aligned range of the image. */
static int
check_range (VivBlock *blk, uint64_t offset, uint64_t len, bool write)
{
  if (write && blk->read_only)
    return -EROFS;
  uint64_t length = viv_block_length (blk);
  if (offset > length || len > length - offset)
    return -EINVAL;
  if ((offset | len) & (blk->info.alignment - 1))
    return -EINVAL;
  return 0;
}

static int
check_rw (VivBlock *blk, uint64_t offset, const struct iovec *iov, unsigned iovcnt, bool write)
{
  if (iovcnt > IOV_MAX)
    return -EINVAL;
  uint64_t len = 0;
  for (unsigned i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len > UINT64_MAX - len)
      return -EINVAL;
    len += iov[i].iov_len;
  }
  return check_range (blk, offset, len, write);
}

void
viv_block_readv (VivBlock *blk, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                 VivBlockCallback cb, void *opaque)
{
  int ret = check_rw (blk, offset, iov, iovcnt, false);
  if (ret < 0)
    viv_aio_complete_later (blk->aio, ret, cb, opaque);
  else
    blk->driver->readv (blk->state, offset, iov, iovcnt, cb, opaque);
}

void
viv_block_writev (VivBlock *blk, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                  VivBlockCallback cb, void *opaque)
{
  int ret = check_rw (blk, offset, iov, iovcnt, true);
  if (ret < 0)
    viv_aio_complete_later (blk->aio, ret, cb, opaque);
  else
    blk->driver->writev (blk->state, offset, iov, iovcnt, cb, opaque);
}

void
viv_block_flush (VivBlock *blk, VivBlockCallback cb, void *opaque)
{
  blk->driver->flush (blk->state, cb, opaque);
}

void
viv_block_discard (VivBlock *blk, uint64_t offset, uint64_t len,
                   VivBlockCallback cb, void *opaque)
{
  int ret = check_range (blk, offset, len, true);
  if (ret < 0)
    viv_aio_complete_later (blk->aio, ret, cb, opaque);
  else if (!(blk->info.capabilities & VIV_BLOCK_CAP_DISCARD))
    viv_aio_complete_later (blk->aio, 0, cb, opaque);
  else
    blk->driver->discard (blk->state, offset, len, cb, opaque);
}

void
viv_block_write_zeroes (VivBlock *blk, uint64_t offset, uint64_t len, unsigned flags,
                        VivBlockCallback cb, void *opaque)
{
  int ret = check_range (blk, offset, len, true);
  if (ret == 0 && (flags & ~VIV_BLOCK_ZERO_MAY_UNMAP))
    ret = -EINVAL;
  if (ret == 0 && !(blk->info.capabilities & VIV_BLOCK_CAP_WRITE_ZEROES))
    ret = -EOPNOTSUPP;
  if (ret < 0)
    viv_aio_complete_later (blk->aio, ret, cb, opaque);
  else
    blk->driver->write_zeroes (blk->state, offset, len, flags, cb, opaque);
}

void
viv_block_plug (VivBlock *blk)
{
  viv_aio_plug (blk->aio);
}

void
viv_block_unplug (VivBlock *blk)
{
  viv_aio_unplug (blk->aio);
}

void
viv_block_drain (VivBlock *blk)
{
  viv_aio_drain (blk->aio);
}

static const char *const cache_names[] = {
  [VIV_BLOCK_CACHE_WRITEBACK] = "writeback",
  [VIV_BLOCK_CACHE_NONE] = "none",
  [VIV_BLOCK_CACHE_WRITETHROUGH] = "writethrough",
};

bool
viv_block_cache_from_string (const char *name, VivBlockCache *cache)
{
  for (size_t i = 0; i < G_N_ELEMENTS (cache_names); i++)
    if (g_strcmp0 (name, cache_names[i]) == 0) {
      *cache = (VivBlockCache) i;
      return true;
    }
  return false;
}

const char *
viv_block_cache_to_string (VivBlockCache cache)
{
  return (unsigned) cache < G_N_ELEMENTS (cache_names) ? cache_names[cache] : "unknown";
}
