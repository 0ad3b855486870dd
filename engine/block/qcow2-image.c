/* Whole-image operations (qcow2.h): create, info, resize, commit, rebase.
 * Snapshots are in qcow2-snapshot.c, check in qcow2-check.c. */
#include "block/qcow2-internal.h"
#include "block/qcow2-backing.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

Qcow2Image *
qcow2_tool_open (const char *path, bool read_only, GError **error)
{
  return qcow2_image_open (path, read_only, QCOW2_OPEN_LOCK, error);
}

gboolean
qcow2_tool_close (Qcow2Image *img, int ret, GError **error)
{
  g_autofree char *path = g_strdup (img->path);
  GError *close_error = NULL;
  int close_ret = qcow2_image_close (img, &close_error);
  if (ret < 0) {
    g_clear_error (&close_error);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                 "Cannot update disk image “%s”: %s", path, g_strerror (-ret));
    return FALSE;
  }
  if (close_ret < 0) {
    g_propagate_error (error, close_error);
    return FALSE;
  }
  return TRUE;
}

/* ---- create ----------------------------------------------------------- */

static gboolean
bad_option (GError **error, const char *message)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, message);
  return FALSE;
}

/* The virtual size of an existing image, for a new overlay without one. */
static gboolean
backing_size (const char *path, const char *format, uint64_t *size, GError **error)
{
  if (g_str_equal (format, "qcow2")) {
    Qcow2Image *img = qcow2_image_open (path, true, QCOW2_OPEN_LOCK, error);
    if (!img)
      return FALSE;
    *size = img->size & ~511ull;
    qcow2_image_close (img, NULL);
    return TRUE;
  }
  struct stat st;
  if (stat (path, &st) < 0) {
    int err = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                 "Backing file “%s” cannot be opened: %s", path, g_strerror (err));
    return FALSE;
  }
  *size = (uint64_t) st.st_size & ~511ull;
  return TRUE;
}

gboolean
viv_qcow2_create (const char *path, const VivQcow2CreateOptions *options, GError **error)
{
  g_return_val_if_fail (path && options, FALSE);
  uint32_t cluster_size = options->cluster_size ? options->cluster_size : 65536;
  int version = options->version ? options->version : 3;
  int refcount_bits = options->refcount_bits ? options->refcount_bits : 16;
  uint64_t size = options->size;

  if (cluster_size < 512 || cluster_size > (2u << 20) || (cluster_size & (cluster_size - 1)))
    return bad_option (error, "The cluster size must be a power of two from 512 bytes to 2 MiB");
  if (version != 2 && version != 3)
    return bad_option (error, "The qcow2 version must be 2 or 3");
  if (refcount_bits < 1 || refcount_bits > 64 || (refcount_bits & (refcount_bits - 1)))
    return bad_option (error, "The refcount width must be 1, 2, 4, 8, 16, 32 or 64 bits");
  if (version == 2 && refcount_bits != 16)
    return bad_option (error, "qcow2 version 2 images have 16-bit refcounts only");
  if (options->compression != VIV_QCOW2_COMPRESSION_ZLIB
      && options->compression != VIV_QCOW2_COMPRESSION_ZSTD)
    return bad_option (error, "The compression type must be zlib or zstd");
  if (version == 2 && options->compression == VIV_QCOW2_COMPRESSION_ZSTD)
    return bad_option (error, "zstd compression needs qcow2 version 3");
  if (size % 512)
    return bad_option (error, "The disk size must be a multiple of 512 bytes");
  if (size > QCOW2_MAX_VIRTUAL_SIZE)
    return bad_option (error, "The disk size is too large for qcow2");
  if (options->backing_file) {
    if (!options->backing_format)
      return bad_option (error, "Give the backing file's format (raw or qcow2)");
    if (strlen (options->backing_file) > QCOW2_MAX_BACKING_NAME)
      return bad_option (error, "The backing file name is longer than 1023 bytes");
    g_autofree char *backing_path = NULL, *format = NULL;
    if (!qcow2_backing_resolve (path, options->backing_file, options->backing_format,
                                &backing_path, &format, error))
      return FALSE;
    uint64_t bsize;
    if (!backing_size (backing_path, format, &bsize, error))
      return FALSE;
    if (size == 0)
      size = bsize;
  }

  uint32_t cluster_bits = (uint32_t) g_bit_nth_lsf (cluster_size, -1);
  uint64_t l1_size = qcow2_l1_entries_for (size, cluster_bits);
  if (l1_size * 8 > QCOW2_MAX_L1_BYTES)
    return bad_option (error, "The disk size is too large for this cluster size; choose "
                              "larger clusters");
  uint64_t l1_clusters = (l1_size * 8 + cluster_size - 1) / cluster_size;
  uint64_t per_block = (uint64_t) cluster_size * 8 / (uint64_t) refcount_bits;
  uint64_t table_clusters = 1, blocks = 1;
  for (;;) {
    uint64_t total = 1 + table_clusters + blocks + l1_clusters;
    uint64_t b = (total + per_block - 1) / per_block;
    uint64_t t = (b * 8 + cluster_size - 1) / cluster_size;
    if (b == blocks && t == table_clusters)
      break;
    blocks = b, table_clusters = t;
  }
  uint64_t total = 1 + table_clusters + blocks + l1_clusters;

  int fd = open (path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "“%s” already exists; remove it first or choose another name", path);
    else
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "Cannot create disk image “%s”: %s", path, g_strerror (err));
    return FALSE;
  }

  /* A shell image to reuse the header writer and the refcount packing. */
  Qcow2Image img = {
    .fd = fd,
    .path = (char *) path,
    .version = (uint32_t) version,
    .cluster_bits = cluster_bits,
    .cluster_size = cluster_size,
    .size = size,
    .l1_size = (uint32_t) l1_size,
    .l1_table_offset = (1 + table_clusters + blocks) << cluster_bits,
    .refcount_table_offset = (uint64_t) cluster_size,
    .refcount_table_clusters = (uint32_t) table_clusters,
    .incompatible = options->compression == VIV_QCOW2_COMPRESSION_ZSTD
                    ? QCOW2_INCOMPAT_COMPRESSION : 0,
    .refcount_order = (uint32_t) g_bit_nth_lsf ((gulong) refcount_bits, -1),
    .header_length = 112,
    .compression_type = (uint8_t) options->compression,
    .backing_file = (char *) options->backing_file,
    .backing_format = (char *) options->backing_format,
    .extensions = g_ptr_array_new (),
  };
  img.refcount_bits = (uint32_t) refcount_bits;

  int ret = qcow2_header_write (&img);
  uint64_t *table = g_new0 (uint64_t, table_clusters * cluster_size / 8);
  for (uint64_t k = 0; k < blocks; k++)
    table[k] = GUINT64_TO_BE ((1 + table_clusters + k) << cluster_bits);
  if (ret == 0)
    ret = qcow2_pwrite (&img, img.refcount_table_offset, table, table_clusters * cluster_size);
  g_free (table);
  uint8_t *block = g_malloc0 (cluster_size);
  for (uint64_t k = 0; k < blocks && ret == 0; k++) {
    memset (block, 0, cluster_size);
    for (uint64_t i = 0; i < per_block && k * per_block + i < total; i++)
      qcow2_refblock_set (&img, block, i, 1);
    ret = qcow2_pwrite (&img, (1 + table_clusters + k) << cluster_bits, block, cluster_size);
  }
  g_free (block);
  if (ret == 0 && ftruncate (fd, (off_t) (total << cluster_bits)) < 0)
    ret = -errno;
  if (ret == 0 && fsync (fd) < 0)
    ret = -errno;
  g_ptr_array_unref (img.extensions);
  close (fd);
  if (ret < 0) {
    unlink (path);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                 "Cannot write disk image “%s”: %s", path, g_strerror (-ret));
    return FALSE;
  }
  return TRUE;
}

/* ---- info ------------------------------------------------------------- */

static void
chain_link_free (gpointer data)
{
  VivQcow2ChainLink *link = data;
  g_free (link->path);
  g_free (link->format);
  g_free (link);
}

void
viv_qcow2_info_free (VivQcow2Info *info)
{
  if (!info)
    return;
  g_free (info->backing_file);
  g_free (info->backing_format);
  g_clear_pointer (&info->chain, g_ptr_array_unref);
  g_clear_pointer (&info->snapshots, g_ptr_array_unref);
  g_free (info);
}

static int
allocated_bytes (Qcow2Image *img, uint64_t *bytes)
{
  *bytes = 0;
  for (uint64_t offset = 0; offset < img->size; offset += img->cluster_size) {
    uint64_t l1_index = offset >> (img->cluster_bits + img->l2_bits);
    if (!(img->l1[l1_index] & QCOW2_OFFSET_MASK)) {
      /* A whole L2 table's range without a table. */
      offset |= (qcow2_l2_entries (img) << img->cluster_bits) - img->cluster_size;
      continue;
    }
    uint64_t entry;
    int ret = qcow2_get_entry (img, offset, &entry);
    if (ret < 0)
      return ret;
    Qcow2ClusterType type = qcow2_entry_type (img, entry);
    if (type == QCOW2_CLUSTER_NORMAL || type == QCOW2_CLUSTER_COMPRESSED)
      *bytes += MIN (img->cluster_size, img->size - offset);
  }
  return 0;
}

/* Follows the backing chain below `img`, filling info->chain. */
static gboolean
follow_chain (Qcow2Image *top, VivQcow2Info *info, GError **error)
{
  Qcow2Chain chain = { .depth = 0 };
  if (!qcow2_chain_enter (&chain, top->path, error))
    return FALSE;
  g_autofree char *overlay = g_strdup (top->path);
  g_autofree char *file = g_strdup (top->backing_file);
  g_autofree char *format = g_strdup (top->backing_format);
  while (file) {
    char *path = NULL, *resolved_format = NULL;
    if (!qcow2_backing_resolve (overlay, file, format, &path, &resolved_format, error)
        || !qcow2_chain_enter (&chain, path, error)) {
      g_free (path);
      g_free (resolved_format);
      return FALSE;
    }
    VivQcow2ChainLink *link = g_new0 (VivQcow2ChainLink, 1);
    link->path = path;
    link->format = resolved_format;
    g_ptr_array_add (info->chain, link);
    g_clear_pointer (&file, g_free);
    g_clear_pointer (&format, g_free);
    if (g_str_equal (resolved_format, "qcow2")) {
      Qcow2Image *img = qcow2_image_open (path, true, QCOW2_OPEN_LOCK, error);
      if (!img)
        return FALSE;
      link->virtual_size = img->size;
      file = g_strdup (img->backing_file);
      format = g_strdup (img->backing_format);
      qcow2_image_close (img, NULL);
    } else if (!backing_size (path, "raw", &link->virtual_size, error)) {
      return FALSE;
    }
    g_free (overlay);
    overlay = g_strdup (path);
  }
  return TRUE;
}

VivQcow2Info *
viv_qcow2_info (const char *path, bool with_chain, GError **error)
{
  g_return_val_if_fail (path, NULL);
  Qcow2Image *img = qcow2_tool_open (path, true, error);
  if (!img)
    return NULL;
  VivQcow2Info *info = g_new0 (VivQcow2Info, 1);
  info->version = (int) img->version;
  info->virtual_size = img->size;
  info->cluster_size = img->cluster_size;
  info->refcount_bits = (int) img->refcount_bits;
  info->compression = img->compression_type;
  info->file_length = img->file_size;
  struct stat st;
  if (fstat (img->fd, &st) == 0)
    info->disk_usage = (uint64_t) st.st_blocks * 512;
  info->backing_file = g_strdup (img->backing_file);
  info->backing_format = g_strdup (img->backing_format);
  info->dirty = img->incompatible & QCOW2_INCOMPAT_DIRTY;
  info->corrupt = img->incompatible & QCOW2_INCOMPAT_CORRUPT;
  info->lazy_refcounts = img->compatible & QCOW2_COMPAT_LAZY_REFCOUNTS;
  info->chain = g_ptr_array_new_with_free_func (chain_link_free);
  info->snapshots = g_ptr_array_new_with_free_func ((GDestroyNotify) viv_qcow2_snapshot_info_free);
  for (guint i = 0; i < img->snapshots->len; i++)
    g_ptr_array_add (info->snapshots,
                     qcow2_snapshot_info (&g_array_index (img->snapshots, Qcow2Snapshot, i)));
  int ret = allocated_bytes (img, &info->allocated_bytes);
  if (ret < 0)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                 "Cannot read the tables of disk image “%s”: %s", path, g_strerror (-ret));
  gboolean ok = ret == 0 && (!with_chain || follow_chain (img, info, error));
  qcow2_image_close (img, NULL);
  if (!ok) {
    viv_qcow2_info_free (info);
    return NULL;
  }
  return info;
}

/* ---- resize ------------------------------------------------------------ */

gboolean
viv_qcow2_resize (const char *path, uint64_t new_size, GError **error)
{
  g_return_val_if_fail (path, FALSE);
  if (new_size % 512)
    return bad_option (error, "The disk size must be a multiple of 512 bytes");
  if (new_size > QCOW2_MAX_VIRTUAL_SIZE)
    return bad_option (error, "The disk size is too large for qcow2");
  Qcow2Image *img = qcow2_tool_open (path, false, error);
  if (!img)
    return FALSE;
  int ret = 0;
  if (new_size < img->size) {
    /* Only clusters wholly past the new end may be dropped, and only if
     * nothing is in them. */
    for (uint64_t offset = qcow2_round_up (img, new_size); offset < img->size && ret == 0;
         offset += img->cluster_size) {
      uint64_t entry;
      ret = qcow2_get_entry (img, offset, &entry);
      if (ret == 0 && qcow2_entry_type (img, entry) != QCOW2_CLUSTER_UNALLOCATED) {
        qcow2_tool_close (img, 0, NULL);
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "Disk image “%s” holds data past %" G_GUINT64_FORMAT " bytes; "
                     "shrinking it would lose that data, so it is refused", path, new_size);
        return FALSE;
      }
    }
  } else {
    ret = qcow2_l1_grow (img, qcow2_l1_entries_for (new_size, img->cluster_bits));
    if (ret == -EFBIG) {
      qcow2_tool_close (img, 0, NULL);
      return bad_option (error, "The disk size is too large for this image's cluster size");
    }
  }
  if (ret == 0)
    ret = qcow2_image_flush (img, false, true);
  if (ret == 0) {
    uint64_t size_be = GUINT64_TO_BE (new_size);
    ret = qcow2_pwrite (img, 24, &size_be, 8);
    img->size = new_size;
  }
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  return qcow2_tool_close (img, ret, error);
}

/* ---- commit and rebase, through VivBlock --------------------------------- */

typedef struct {
  GMainContext *context;
  int           ret;
  bool          done;
} Wait;

static void
wait_done (void *opaque, int ret)
{
  Wait *w = opaque;
  w->ret = ret;
  w->done = true;
}

static int
wait_for (Wait *w)
{
  while (!w->done)
    g_main_context_iteration (w->context, TRUE);
  w->done = false;
  return w->ret;
}

static int
blk_read (VivBlock *blk, GMainContext *context, uint64_t offset, void *buf, uint64_t len)
{
  Wait w = { .context = context };
  struct iovec iov = { buf, len };
  viv_block_readv (blk, offset, &iov, 1, wait_done, &w);
  return wait_for (&w);
}

static int
blk_write (VivBlock *blk, GMainContext *context, uint64_t offset, void *buf, uint64_t len)
{
  Wait w = { .context = context };
  struct iovec iov = { buf, len };
  viv_block_writev (blk, offset, &iov, 1, wait_done, &w);
  return wait_for (&w);
}

static int
blk_zero (VivBlock *blk, GMainContext *context, uint64_t offset, uint64_t len)
{
  Wait w = { .context = context };
  viv_block_write_zeroes (blk, offset, len, VIV_BLOCK_ZERO_MAY_UNMAP, wait_done, &w);
  return wait_for (&w);
}

static int
blk_flush (VivBlock *blk, GMainContext *context)
{
  Wait w = { .context = context };
  viv_block_flush (blk, wait_done, &w);
  return wait_for (&w);
}

static VivBlock *
blk_open (const char *path, const char *format, bool read_only, GMainContext *context,
          GError **error)
{
  VivBlockOptions options = {
    .path = path, .format = format, .read_only = read_only, .context = context,
  };
  return viv_block_open (&options, error);
}

static gboolean
io_failed (const char *what, const char *path, int ret, GError **error)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret), "Cannot %s “%s”: %s",
               what, path, g_strerror (-ret));
  return FALSE;
}

gboolean
viv_qcow2_commit (const char *path, GError **error)
{
  g_return_val_if_fail (path, FALSE);
  Qcow2Image *top = qcow2_tool_open (path, true, error);
  if (!top)
    return FALSE;
  if (!top->backing_file) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "Disk image “%s” has no backing file to commit into", path);
    qcow2_image_close (top, NULL);
    return FALSE;
  }
  g_autofree char *backing = NULL, *format = NULL;
  if (!qcow2_backing_resolve (path, top->backing_file, top->backing_format, &backing,
                              &format, error)) {
    qcow2_image_close (top, NULL);
    return FALSE;
  }
  GMainContext *context = g_main_context_new ();
  VivBlock *blk = blk_open (backing, format, false, context, error);
  gboolean ok = blk != NULL;
  if (ok && viv_block_length (blk) < (top->size & ~511ull)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "Backing file “%s” is smaller than “%s”; grow it first (vivctl disk "
                 "resize)", backing, path);
    ok = FALSE;
  }
  uint8_t *buf = g_malloc (top->cluster_size);
  uint64_t size = top->size & ~511ull;
  for (uint64_t offset = 0; ok && offset < size; offset += top->cluster_size) {
    uint64_t entry, len = MIN (top->cluster_size, size - offset);
    int ret = qcow2_get_entry (top, offset, &entry);
    switch (ret < 0 ? QCOW2_CLUSTER_UNALLOCATED : qcow2_entry_type (top, entry)) {
    case QCOW2_CLUSTER_NORMAL:
      ret = qcow2_pread (top, entry & QCOW2_OFFSET_MASK, buf, len);
      if (ret == 0)
        ret = blk_write (blk, context, offset, buf, len);
      break;
    case QCOW2_CLUSTER_COMPRESSED:
      ret = qcow2_read_compressed (top, entry, buf);
      if (ret == 0)
        ret = blk_write (blk, context, offset, buf, len);
      break;
    case QCOW2_CLUSTER_ZERO:
      ret = blk_zero (blk, context, offset, len);
      break;
    case QCOW2_CLUSTER_UNALLOCATED:
      break;
    }
    if (ret < 0)
      ok = io_failed ("commit into", backing, ret, error);
  }
  if (ok) {
    int ret = blk_flush (blk, context);
    if (ret < 0)
      ok = io_failed ("commit into", backing, ret, error);
  }
  g_free (buf);
  viv_block_close (blk);
  g_main_context_unref (context);
  qcow2_image_close (top, NULL);
  return ok;
}

/* Copies into the image the clusters it does not map whose contents
 * differ between the old chain (seen through the image) and the new
 * backing file. */
static gboolean
rebase_copy (const char *path, const char *new_path, const char *new_format, GError **error)
{
  Qcow2Image *img = qcow2_tool_open (path, true, error);
  if (!img)
    return FALSE;
  uint64_t size = img->size & ~511ull;
  uint64_t clusters = (size + img->cluster_size - 1) >> img->cluster_bits;
  uint32_t cluster_size = img->cluster_size;
  GArray *unmapped = g_array_new (FALSE, FALSE, sizeof (uint64_t));
  int ret = 0;
  for (uint64_t c = 0; c < clusters && ret == 0; c++) {
    uint64_t entry, offset = c << img->cluster_bits;
    ret = qcow2_get_entry (img, offset, &entry);
    if (ret == 0 && qcow2_entry_type (img, entry) == QCOW2_CLUSTER_UNALLOCATED)
      g_array_append_val (unmapped, offset);
  }
  qcow2_image_close (img, NULL);
  if (ret < 0) {
    g_array_unref (unmapped);
    return io_failed ("read", path, ret, error);
  }

  GMainContext *context = g_main_context_new ();
  VivBlock *top = blk_open (path, "qcow2", false, context, error);
  VivBlock *base = top && new_path ? blk_open (new_path, new_format, true, context, error)
                                   : NULL;
  gboolean ok = top && (!new_path || base);
  uint64_t base_length = base ? viv_block_length (base) : 0;
  uint8_t *old_data = g_malloc (cluster_size), *new_data = g_malloc (cluster_size);
  for (guint i = 0; ok && i < unmapped->len; i++) {
    uint64_t offset = g_array_index (unmapped, uint64_t, i);
    uint64_t len = MIN (cluster_size, size - offset);
    ret = blk_read (top, context, offset, old_data, len);
    memset (new_data, 0, len);
    if (ret == 0 && offset < base_length)
      ret = blk_read (base, context, offset, new_data, MIN (len, base_length - offset));
    if (ret == 0 && memcmp (old_data, new_data, len) != 0)
      ret = blk_write (top, context, offset, old_data, len);
    if (ret < 0)
      ok = io_failed ("rebase", path, ret, error);
  }
  if (ok && (ret = blk_flush (top, context)) < 0)
    ok = io_failed ("rebase", path, ret, error);
  g_free (old_data);
  g_free (new_data);
  if (base)
    viv_block_close (base);
  if (top)
    viv_block_close (top);
  g_main_context_unref (context);
  g_array_unref (unmapped);
  return ok;
}

gboolean
viv_qcow2_rebase (const char *path, const char *backing_file, const char *backing_format,
                  bool unsafe, GError **error)
{
  g_return_val_if_fail (path, FALSE);
  g_autofree char *new_path = NULL, *new_format = NULL;
  if (backing_file) {
    if (strlen (backing_file) > QCOW2_MAX_BACKING_NAME)
      return bad_option (error, "The backing file name is longer than 1023 bytes");
    if (!qcow2_backing_resolve (path, backing_file, backing_format, &new_path, &new_format,
                                error))
      return FALSE;
  }
  if (!unsafe && !rebase_copy (path, new_path, new_format, error))
    return FALSE;

  Qcow2Image *img = qcow2_tool_open (path, false, error);
  if (!img)
    return FALSE;
  g_free (img->backing_file);
  g_free (img->backing_format);
  img->backing_file = g_strdup (backing_file);
  img->backing_format = backing_file ? g_strdup (new_format) : NULL;
  int ret = qcow2_image_flush (img, false, true);
  if (ret == 0)
    ret = qcow2_header_write (img);
  if (ret == -ENOSPC) {
    qcow2_tool_close (img, 0, NULL);
    return bad_option (error, "The backing file name does not fit in the image header");
  }
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  return qcow2_tool_close (img, ret, error);
}
