/* Opening a qcow2 image's metadata: the header, then the L1, refcount and
 * snapshot tables, every offset checked against the file before use; and
 * the metadata I/O helpers. */
#include "block/qcow2-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <sys/stat.h>

static void
extension_free (gpointer data)
{
  Qcow2Extension *ext = data;
  g_bytes_unref (ext->data);
  g_free (ext);
}

static bool
ranges_overlap (uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return alen && blen && a < b + blen && b < a + alen;
}

static uint32_t
be32_at (const uint8_t *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_BE (v);
}

int
qcow2_pread (Qcow2Image *img, uint64_t offset, void *buf, size_t len)
{
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pread (img->fd, p, len, (off_t) offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0) {
      /* Past the end of the file: the caller checked offsets against the
       * file's length, so this is space allocated but not written yet. */
      memset (p, 0, len);
      return 0;
    }
    p += n;
    offset += (uint64_t) n;
    len -= (size_t) n;
  }
  return 0;
}

int
qcow2_pwrite (Qcow2Image *img, uint64_t offset, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  g_assert (!img->read_only);
  while (len > 0) {
    ssize_t n = pwrite (img->fd, p, len, (off_t) offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -EIO;
    p += n;
    offset += (uint64_t) n;
    len -= (size_t) n;
  }
  if (offset > img->file_size)
    img->file_size = offset;
  return 0;
}

int
qcow2_fdatasync (Qcow2Image *img)
{
  if (img->read_only)
    return 0;
  return fdatasync (img->fd) < 0 ? -errno : 0;
}


static gboolean
check_table (Qcow2Image *img, uint64_t offset, uint64_t len, const char *what, GError **error)
{
  if (offset % img->cluster_size || offset == 0 || len > img->file_size
      || offset > img->file_size - len) {
    g_autofree char *msg = g_strdup_printf ("the %s lies outside the file or is misaligned",
                                            what);
    return qcow2_invalid (error, img->path, msg);
  }
  return TRUE;
}

static gboolean
load_tables (Qcow2Image *img, GError **error)
{
  uint64_t needed_l1 = qcow2_l1_entries_for (img->size, img->cluster_bits);
  if ((uint64_t) img->l1_size * 8 > QCOW2_MAX_L1_BYTES)
    return qcow2_invalid (error, img->path, "the L1 table is larger than 32 MiB");
  if (img->l1_size < needed_l1)
    return qcow2_invalid (error, img->path, "the L1 table is too small for the virtual size");
  if (img->l1_size && !check_table (img, img->l1_table_offset, img->l1_size * 8ull,
                                    "L1 table", error))
    return FALSE;

  uint64_t rt_bytes = (uint64_t) img->refcount_table_clusters << img->cluster_bits;
  if (img->refcount_table_clusters == 0 || rt_bytes > QCOW2_MAX_REFTABLE_BYTES)
    return qcow2_invalid (error, img->path, "the refcount table size is out of range");
  if (!check_table (img, img->refcount_table_offset, rt_bytes, "refcount table", error))
    return FALSE;
  if (ranges_overlap (img->l1_table_offset, img->l1_size * 8ull,
                      img->refcount_table_offset, rt_bytes)
      || ranges_overlap (img->l1_table_offset, img->l1_size * 8ull, 0, img->cluster_size)
      || ranges_overlap (img->refcount_table_offset, rt_bytes, 0, img->cluster_size))
    return qcow2_invalid (error, img->path, "the L1 table, refcount table and header overlap");
  if (img->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
    return qcow2_invalid (error, img->path, "there are too many snapshots");
  if (img->nb_snapshots && !check_table (img, img->snapshots_offset, 1,
                                         "snapshot table", error))
    return FALSE;

  img->l1 = g_new0 (uint64_t, MAX (img->l1_size, 1u));
  int ret = qcow2_pread (img, img->l1_table_offset, img->l1, img->l1_size * 8ull);
  if (ret < 0)
    goto io_error;
  for (uint32_t i = 0; i < img->l1_size; i++)
    img->l1[i] = GUINT64_FROM_BE (img->l1[i]);

  img->reftable_entries = (uint32_t) (rt_bytes / 8);
  img->reftable = g_new (uint64_t, img->reftable_entries);
  ret = qcow2_pread (img, img->refcount_table_offset, img->reftable, rt_bytes);
  if (ret < 0)
    goto io_error;
  for (uint32_t i = 0; i < img->reftable_entries; i++) {
    uint64_t e = GUINT64_FROM_BE (img->reftable[i]);
    img->reftable[i] = e & QCOW2_REFT_OFFSET_MASK;
    if (img->reftable[i] && (img->reftable[i] % img->cluster_size
                             || img->reftable[i] > img->file_size - img->cluster_size
                             || qcow2_overlaps_fixed_metadata (img, img->reftable[i],
                                                               img->cluster_size)))
      return qcow2_invalid (error, img->path, "a refcount block lies outside the file or "
                      "overlaps other metadata");
  }
  return qcow2_snapshots_read (img, error);

io_error:
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
               "Cannot read disk image “%s”: %s", img->path, g_strerror (-ret));
  return FALSE;
}

static void
image_free (Qcow2Image *img)
{
  if (img->l2_cache)
    qcow2_cache_free (img->l2_cache);
  if (img->rb_cache)
    qcow2_cache_free (img->rb_cache);
  if (img->fd >= 0)
    close (img->fd);
  if (img->snapshots) {
    for (guint i = 0; i < img->snapshots->len; i++)
      qcow2_snapshot_clear (&g_array_index (img->snapshots, Qcow2Snapshot, i));
    g_array_unref (img->snapshots);
  }
  g_clear_pointer (&img->header_tail, g_bytes_unref);
  g_clear_pointer (&img->features, g_array_unref);
  g_clear_pointer (&img->extensions, g_ptr_array_unref);
  g_clear_pointer (&img->deferred_frees, g_array_unref);
  g_free (img->backing_file);
  g_free (img->backing_format);
  g_free (img->l1);
  g_free (img->reftable);
  g_free (img->path);
  g_free (img);
}

/* The lock a VM takes on its disks (file.c): tools must not change an
 * image a VM has open, nor read one it is writing. */
static gboolean
lock_image (int fd, const char *path, bool read_only, GError **error)
{
  struct flock lock = { .l_type = read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
  if (fcntl (fd, F_OFD_SETLK, &lock) == 0)
    return TRUE;
  if (errno != EAGAIN && errno != EACCES)
    return TRUE;   /* file systems without locks */
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
               "Disk image “%s” is in use by a VM (locked); stop the VM first", path);
  return FALSE;
}

Qcow2Image *
qcow2_image_open (const char *path, bool read_only, unsigned flags, GError **error)
{
  Qcow2Image *img = g_new0 (Qcow2Image, 1);
  img->fd = -1;
  img->path = g_strdup (path);
  img->read_only = read_only;
  img->features = g_array_new (FALSE, TRUE, sizeof (Qcow2FeatureName));
  img->extensions = g_ptr_array_new_with_free_func (extension_free);
  img->deferred_frees = g_array_new (FALSE, FALSE, sizeof (Qcow2Range));
  img->snapshots = g_array_new (FALSE, TRUE, sizeof (Qcow2Snapshot));

  img->fd = open (path, O_CLOEXEC | (read_only ? O_RDONLY : O_RDWR));
  struct stat st;
  if (img->fd < 0 || fstat (img->fd, &st) < 0) {
    int err = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                 "Cannot open disk image “%s”: %s", path, g_strerror (err));
    goto fail;
  }
  /* lseek: a block device's size too. */
  off_t end = lseek (img->fd, 0, SEEK_END);
  img->file_size = end > 0 ? (uint64_t) end : 0;
  if (S_ISDIR (st.st_mode)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                 "“%s” is a directory, not a disk image", path);
    goto fail;
  }
  if ((flags & QCOW2_OPEN_LOCK) && !lock_image (img->fd, path, read_only, error))
    goto fail;

  uint8_t first[QCOW2_V3_HEADER_LENGTH + 8] = { 0 };
  if (img->file_size < QCOW2_V2_HEADER_LENGTH
      || qcow2_pread (img, 0, first, sizeof first) < 0 || be32_at (first) != QCOW2_MAGIC) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "Disk image “%s” is not a qcow2 image (no QFI\\xfb magic); give its "
                 "real format (raw?)", path);
    goto fail;
  }
  uint32_t cluster_bits = be32_at (first + 20);
  if (cluster_bits < QCOW2_MIN_CLUSTER_BITS || cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
    qcow2_invalid (error, path, "the cluster size is not 512 bytes … 2 MiB");
    goto fail;
  }
  /* The header, its extensions and the backing name are in cluster 0. */
  uint8_t *cluster = g_malloc0 (1u << cluster_bits);
  bool parsed = qcow2_pread (img, 0, cluster, 1u << cluster_bits) == 0
                && qcow2_header_parse (img, cluster, error);
  g_free (cluster);
  if (!parsed) {
    if (error && !*error)
      qcow2_invalid (error, path, "the header cannot be read");
    goto fail;
  }
  if (!load_tables (img, error))
    goto fail;

  if (!read_only && !(flags & QCOW2_OPEN_REPAIR)
      && (img->incompatible & QCOW2_INCOMPAT_CORRUPT)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "Disk image “%s” is marked corrupt; run vivctl disk check -r all on it "
                 "(it can still be opened read-only)", path);
    goto fail;
  }

  unsigned l2_tables = CLAMP ((16u << 20) >> img->cluster_bits, 16u, 4096u);
  unsigned rb_tables = CLAMP ((4u << 20) >> img->cluster_bits, 8u, 1024u);
  img->l2_cache = qcow2_cache_new (img, l2_tables, true);
  img->rb_cache = qcow2_cache_new (img, rb_tables, false);
  img->free_hint = 1;

  if (!read_only && img->autoclear) {
    /* Bitmaps and the like we do not maintain: writing without clearing
     * their bits would leave them claiming to be consistent. */
    img->autoclear = 0;
    uint8_t field[8] = { 0 };
    if (qcow2_pwrite (img, 88, field, 8) < 0 || qcow2_fdatasync (img) < 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Cannot update the header of disk image “%s”", path);
      goto fail;
    }
  }
  if (!read_only && !(flags & QCOW2_OPEN_REPAIR)
      && (img->incompatible & QCOW2_INCOMPAT_DIRTY)) {
    /* Lazy refcounts were in use when a writer stopped: the refcounts
     * may be stale until rebuilt from the tables. */
    if (!qcow2_rebuild_refcounts (img, error))
      goto fail;
    int ret = qcow2_header_set_incompatible (img, img->incompatible & ~QCOW2_INCOMPAT_DIRTY);
    if (ret < 0) {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                   "Cannot clear the dirty bit of disk image “%s”: %s", path,
                   g_strerror (-ret));
      goto fail;
    }
  }
  return img;

fail:
  image_free (img);
  return NULL;
}

int
qcow2_image_close (Qcow2Image *img, GError **error)
{
  int ret = 0;
  if (!img->read_only) {
    /* Twice: the first applies the deferred frees, the second writes them. */
    ret = qcow2_image_flush (img, false, true);
    if (ret == 0)
      ret = qcow2_image_flush (img, false, true);
    if (ret < 0)
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                   "Cannot write the metadata of disk image “%s”: %s", img->path,
                   g_strerror (-ret));
  }
  image_free (img);
  return ret;
}

