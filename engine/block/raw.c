/* Raw images: guest sector N is at byte N × 512 of the file. */
#include "block/file.h"

#include <string.h>

static void *
raw_open (const VivBlockOptions *options, VivAio *aio, VivBlockInfo *info, GError **error)
{
  VivBlockFile *file = g_new0 (VivBlockFile, 1);
  if (!viv_block_file_open (file, options->path, options->read_only, options->cache, aio,
                            error)) {
    g_free (file);
    return NULL;
  }
  if (file->size % 512 != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "Disk image “%s” is %" G_GUINT64_FORMAT " bytes, not a whole number of "
                 "512-byte sectors; resize it, for example: qemu-img resize -f raw %s %"
                 G_GUINT64_FORMAT, file->path, file->size, file->path,
                 (file->size + 511) / 512 * 512);
    viv_block_file_close (file);
    g_free (file);
    return NULL;
  }
  *info = (VivBlockInfo) {
    .alignment = MAX (512u, file->offset_align),
    .physical_block_size = MAX (file->physical_block_size, MAX (512u, file->offset_align)),
    .capabilities = VIV_BLOCK_CAP_DISCARD | VIV_BLOCK_CAP_WRITE_ZEROES,
  };
  return file;
}

static void
raw_close (void *state)
{
  viv_block_file_close (state);
  g_free (state);
}

static uint64_t
raw_get_length (void *state)
{
  VivBlockFile *file = state;
  return file->size;
}

static void
raw_readv (void *state, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
           VivBlockCallback cb, void *opaque)
{
  viv_block_file_readv (state, offset, iov, iovcnt, cb, opaque);
}

static void
raw_writev (void *state, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
            VivBlockCallback cb, void *opaque)
{
  viv_block_file_writev (state, offset, iov, iovcnt, cb, opaque);
}

static void
raw_flush (void *state, VivBlockCallback cb, void *opaque)
{
  viv_block_file_flush (state, cb, opaque);
}

static void
raw_discard (void *state, uint64_t offset, uint64_t len, VivBlockCallback cb, void *opaque)
{
  viv_block_file_discard (state, offset, len, cb, opaque);
}

static void
raw_write_zeroes (void *state, uint64_t offset, uint64_t len, unsigned flags,
                  VivBlockCallback cb, void *opaque)
{
  viv_block_file_write_zeroes (state, offset, len, flags, cb, opaque);
}

const VivBlockDriver viv_block_driver_raw = {
  .format = "raw",
  .open = raw_open,
  .close = raw_close,
  .get_length = raw_get_length,
  .readv = raw_readv,
  .writev = raw_writev,
  .flush = raw_flush,
  .discard = raw_discard,
  .write_zeroes = raw_write_zeroes,
};
