/* Compressed clusters: raw deflate with a 4 KiB window (compression type
 * 0, zlib) or zstd frames (type 1), read and written.  A compressed cluster decompresses to
 * exactly one cluster; the data on disk may be followed by another
 * cluster's, so decompression stops when the cluster is full. */
#include "block/qcow2-internal.h"

#include <errno.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

static int
inflate_cluster (const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len)
{
  z_stream strm = { 0 };
  if (inflateInit2 (&strm, -12) != Z_OK)
    return -ENOMEM;
  strm.next_in = (Bytef *) src;
  strm.avail_in = (uInt) src_len;
  strm.next_out = dst;
  strm.avail_out = (uInt) dst_len;
  int ret = inflate (&strm, Z_FINISH);
  /* Z_BUF_ERROR with the output full: the input had trailing bytes. */
  bool ok = (ret == Z_STREAM_END || ret == Z_BUF_ERROR) && strm.avail_out == 0;
  inflateEnd (&strm);
  return ok ? 0 : -EIO;
}

static int
zstd_cluster (const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len)
{
  ZSTD_DCtx *dctx = ZSTD_createDCtx ();
  if (!dctx)
    return -ENOMEM;
  ZSTD_inBuffer in = { src, src_len, 0 };
  ZSTD_outBuffer out = { dst, dst_len, 0 };
  int ret = 0;
  /* The cluster may span several frames; stop once it is full. */
  while (out.pos < out.size) {
    size_t before_in = in.pos, before_out = out.pos;
    size_t r = ZSTD_decompressStream (dctx, &out, &in);
    if (ZSTD_isError (r)) {
      ret = -EIO;
      break;
    }
    if (in.pos == before_in && out.pos == before_out) {
      ret = -EIO;   /* no progress: the input ended early */
      break;
    }
  }
  ZSTD_freeDCtx (dctx);
  return ret;
}

int
qcow2_decompress (const Qcow2Image *img, const uint8_t *src, size_t src_len, uint8_t *dst)
{
  if (img->compression_type == QCOW2_COMPRESSION_ZSTD)
    return zstd_cluster (src, src_len, dst, img->cluster_size);
  return inflate_cluster (src, src_len, dst, img->cluster_size);
}

/* Raw deflate with the 4 KiB window decompression expects. */
static ssize_t
deflate_cluster (const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap)
{
  z_stream strm = { 0 };
  if (deflateInit2 (&strm, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                    Z_DEFAULT_STRATEGY) != Z_OK)
    return -ENOMEM;
  strm.next_in = (Bytef *) src;
  strm.avail_in = (uInt) src_len;
  strm.next_out = dst;
  strm.avail_out = (uInt) dst_cap;
  int ret = deflate (&strm, Z_FINISH);
  ssize_t len = ret == Z_STREAM_END ? (ssize_t) (dst_cap - strm.avail_out) : -ENOSPC;
  deflateEnd (&strm);
  return len;
}

static ssize_t
zstd_compress_cluster (const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap)
{
  size_t len = ZSTD_compress (dst, dst_cap, src, src_len, ZSTD_CLEVEL_DEFAULT);
  if (ZSTD_isError (len))
    return ZSTD_getErrorCode (len) == ZSTD_error_dstSize_tooSmall ? -ENOSPC : -EIO;
  return (ssize_t) len;
}

ssize_t
qcow2_compress (const Qcow2Image *img, const uint8_t *src, uint8_t *dst, size_t dst_cap)
{
  if (img->compression_type == QCOW2_COMPRESSION_ZSTD)
    return zstd_compress_cluster (src, img->cluster_size, dst, dst_cap);
  return deflate_cluster (src, img->cluster_size, dst, dst_cap);
}

int
qcow2_read_compressed (Qcow2Image *img, uint64_t entry, uint8_t *dst)
{
  uint64_t offset, len;
  qcow2_compressed_range (img, entry, &offset, &len);
  /* The last sector may reach past the end of the file. */
  if (offset >= img->file_size)
    return -EIO;
  len = MIN (len, img->file_size - offset);
  uint8_t *src = g_malloc (len);
  int ret = qcow2_pread (img, offset, src, len);
  if (ret == 0)
    ret = qcow2_decompress (img, src, len, dst);
  if (ret == -EIO)
    g_warning ("qcow2 image “%s”: the compressed cluster at 0x%" G_GINT64_MODIFIER "x "
               "does not decompress; run vivctl disk check", img->path, offset);
  g_free (src);
  return ret;
}
