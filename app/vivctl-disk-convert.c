/* vivctl disk convert [-f FMT] [-O FMT] [-c] [-o compression_type=T] [--force] SRC DST
 *
 * Reads SRC through the block layer (so a qcow2 SRC's backing chain is
 * read through too) and writes DST through it.  Ranges that read as zeroes
 * are not written: a raw DST keeps holes there, a qcow2 DST leaves those
 * clusters unallocated.  With -c every qcow2 cluster is written compressed
 * (zlib, or zstd with -o compression_type=zstd), as qemu-img convert -c. */
#include "vivctl-disk.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (4u << 20)
/* A raw DST is sparse at the file system's block size. */
#define RAW_GRANULE 4096u

static bool
is_zero (const uint8_t *buf, size_t len)
{
  /* Comparing with itself shifted by one word is what memcmp is fast at. */
  if (len < 16)
    {
      for (size_t i = 0; i < len; i++)
        if (buf[i])
          return false;
      return true;
    }
  static const uint8_t zeroes[16];
  return memcmp (buf, zeroes, 16) == 0 && memcmp (buf, buf + 16, len - 16) == 0;
}

/* Where data may start at or after `offset`, skipping what surely reads
 * as zeroes: a raw SRC's holes, a qcow2 SRC's zero clusters (and its
 * unmapped ones when it has no backing file).  `length` if nothing. */
static uint64_t
next_data (VivBlock *src, int raw_fd, uint64_t offset, uint64_t length)
{
  if (raw_fd >= 0)
    {
      off_t data = lseek (raw_fd, offset, SEEK_DATA);
      if (data < 0)
        return errno == ENXIO ? length : offset;
      /* SEEK_DATA answers in file system blocks; I/O is in sectors. */
      return MIN ((uint64_t) data & ~(uint64_t) (RAW_GRANULE - 1), length);
    }
  if (!g_str_equal (viv_block_format (src), "qcow2"))
    return offset;
  bool has_backing = viv_block_capabilities (src) & VIV_BLOCK_CAP_BACKING;
  while (offset < length)
    {
      VivQcow2Status status;
      uint64_t bytes;
      if (viv_qcow2_block_status (src, offset, length - offset, &status, &bytes) < 0 || bytes == 0)
        return offset;  /* read it and see */
      if (status == VIV_QCOW2_STATUS_DATA || (status == VIV_QCOW2_STATUS_BACKING && has_backing))
        return offset;
      offset += bytes;
    }
  return length;
}

/* Writes the non-zero clusters of buf (which holds [offset, offset+len),
 * cluster aligned) compressed, one cluster at a time. */
static int
write_compressed (VivBlock *dst, uint64_t offset, const uint8_t *buf, size_t len,
                  size_t cluster)
{
  for (size_t pos = 0; pos < len; pos += cluster)
    {
      size_t n = MIN (cluster, len - pos);
      if (is_zero (buf + pos, n))
        continue;
      int ret = vivctl_disk_write_compressed (dst, offset + pos, buf + pos, n);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* Writes the non-zero granules of buf (which holds [offset, offset+len)). */
static int
write_nonzero (VivBlock *dst, uint64_t offset, const uint8_t *buf, size_t len, size_t granule)
{
  size_t pos = 0;
  while (pos < len)
    {
      while (pos < len && is_zero (buf + pos, MIN (granule, len - pos)))
        pos += MIN (granule, len - pos);
      size_t start = pos;
      while (pos < len && !is_zero (buf + pos, MIN (granule, len - pos)))
        pos += MIN (granule, len - pos);
      if (pos > start)
        {
          int ret = vivctl_disk_write (dst, offset + start, buf + start, pos - start);
          if (ret < 0)
            return ret;
        }
    }
  return 0;
}

static gboolean
copy_data (VivBlock *src, const char *src_path, const char *src_format, VivBlock *dst,
           size_t granule, bool compress, const char *dst_path, GError **error)
{
  uint64_t length = viv_block_length (src);
  /* A raw SRC's holes need not even be read. */
  int raw_fd = g_str_equal (src_format, "raw") ? open (src_path, O_RDONLY | O_CLOEXEC) : -1;
  g_autofree uint8_t *buf = g_malloc (CHUNK);
  uint64_t offset = 0;
  int ret = 0;
  const char *failed_on = src_path;
  while (offset < length)
    {
      offset = next_data (src, raw_fd, offset, length);
      if (offset >= length)
        break;
      if (compress)
        /* Compressed writes are whole clusters of DST. */
        offset &= ~(uint64_t) (granule - 1);
      size_t len = MIN ((uint64_t) CHUNK, length - offset);
      ret = vivctl_disk_read (src, offset, buf, len);
      if (ret < 0)
        break;
      ret = compress ? write_compressed (dst, offset, buf, len, granule)
                     : write_nonzero (dst, offset, buf, len, granule);
      if (ret < 0)
        {
          failed_on = dst_path;
          break;
        }
      offset += len;
    }
  if (raw_fd >= 0)
    close (raw_fd);
  if (ret == 0)
    {
      ret = vivctl_disk_flush (dst);
      failed_on = dst_path;
    }
  if (ret < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                   "Converting “%s”: I/O error on “%s”: %s", src_path, failed_on,
                   g_strerror (-ret));
      return FALSE;
    }
  return TRUE;
}

/* How a qcow2 DST is written. */
typedef struct {
  bool compress;                    /* -c */
  VivQcow2Compression compression;  /* -o compression_type= */
} ConvertOptions;

static gboolean
convert_image (const char *src_path, const char *src_format, const char *dst_path,
               const char *dst_format, bool force, const ConvertOptions *convert,
               GError **error)
{
  VivBlock *src = vivctl_disk_open (src_path, src_format, true, error);
  if (!src)
    return FALSE;
  uint64_t length = viv_block_length (src);

  VivctlOutput out;
  VivBlock *dst = NULL;
  size_t granule = RAW_GRANULE;
  if (!vivctl_output_begin (&out, dst_path, force, error))
    goto failed;
  if (g_str_equal (dst_format, "raw"))
    {
      if (ftruncate (out.fd, length) < 0)
        {
          int err = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                       "Cannot create “%s”: %s", dst_path, g_strerror (err));
          goto failed;
        }
    }
  else
    {
      VivQcow2CreateOptions options = { .size = length, .compression = convert->compression };
      if (!vivctl_output_create_qcow2 (&out, &options, error))
        goto failed;
      g_autoptr (VivQcow2Info) info = viv_qcow2_info (out.temp_path, false, error);
      if (!info)
        goto failed;
      /* Zeroes are skipped a whole cluster at a time. */
      granule = info->cluster_size;
    }
  dst = vivctl_disk_open (out.temp_path, dst_format, false, error);
  if (!dst)
    goto failed;
  if (!copy_data (src, src_path, src_format, dst, granule, convert->compress, dst_path, error))
    goto failed;
  viv_block_close (dst);
  viv_block_close (src);
  return vivctl_output_commit (&out, error);

failed:
  viv_block_close (dst);
  vivctl_output_abort (&out);
  viv_block_close (src);
  return FALSE;
}

gboolean
vivctl_disk_convert_image (const char *src_path, const char *src_format, const char *dst_path,
                           const char *dst_format, bool force, GError **error)
{
  ConvertOptions convert = { .compress = false };
  return convert_image (src_path, src_format, dst_path, dst_format, force, &convert, error);
}

/* -o's comma-separated KEY=VALUE list: only compression_type (zlib, zstd). */
static gboolean
parse_qcow2_options (const char *list, ConvertOptions *convert, GError **error)
{
  g_auto (GStrv) items = g_strsplit (list, ",", -1);
  for (char **item = items; *item; item++)
    {
      if (g_str_equal (*item, "compression_type=zlib"))
        convert->compression = VIV_QCOW2_COMPRESSION_ZLIB;
      else if (g_str_equal (*item, "compression_type=zstd"))
        convert->compression = VIV_QCOW2_COMPRESSION_ZSTD;
      else
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "-o: unknown option '%s'; the one supported is "
                       "compression_type=zlib or compression_type=zstd", *item);
          return FALSE;
        }
    }
  return TRUE;
}

int
vivctl_disk_convert (int argc, char **argv)
{
  g_autofree char *src_format_name = NULL, *dst_format_name = NULL, *qcow2_options = NULL;
  gboolean force = FALSE, compress = FALSE;
  GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &src_format_name, "SRC's format: raw or qcow2 (default: detected)", "FMT" },
    { "output-format", 'O', 0, G_OPTION_ARG_STRING, &dst_format_name, "DST's format: raw (default) or qcow2", "FMT" },
    { "compress", 'c', 0, G_OPTION_ARG_NONE, &compress, "Write DST's clusters compressed (qcow2 only)", NULL },
    { "options", 'o', 0, G_OPTION_ARG_STRING, &qcow2_options, "qcow2 DST: compression_type=zlib (default) or zstd", "OPTIONS" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force, "Replace DST if it exists", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("SRC DST - copy an image into a new image");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "DST has SRC's virtual size and contents (a qcow2 SRC's backing chain included);\n"
      "ranges that read as zeroes stay holes (raw) or unallocated clusters (qcow2).\n"
      "-c compresses each qcow2 cluster (one that would not shrink is stored as it is);\n"
      "-o compression_type=zstd is usually faster than zlib; QEMU reads it from 5.1 on.");
  if (!vivctl_disk_parse_args (context, &argc, &argv, "convert", 2, 2))
    return VIVCTL_EXIT_USAGE;
  const char *src = argv[1], *dst = argv[2];

  g_autoptr (GError) error = NULL;
  ConvertOptions convert = { .compress = compress };
  const char *dst_format =
      vivctl_disk_format_from_name (dst_format_name ? dst_format_name : "raw", "-O", &error);
  if (dst_format && !g_str_equal (dst_format, "qcow2") && (compress || qcow2_options))
    {
      vivctl_fail ("disk convert: %s works only with -O qcow2 (a raw image cannot be "
                   "compressed)", compress ? "-c" : "-o");
      return VIVCTL_EXIT_USAGE;
    }
  if (dst_format && qcow2_options && !parse_qcow2_options (qcow2_options, &convert, &error))
    dst_format = NULL;
  const char *src_format =
      dst_format ? vivctl_disk_format_of (src, src_format_name, &error) : NULL;
  if (!src_format
      || !convert_image (src, src_format, dst, dst_format, force, &convert, &error))
    return vivctl_disk_report (error);
  return 0;
}
