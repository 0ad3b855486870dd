/* qcow2 guest → host mapping: the L1 table and L2 tables, their
 * allocation and copy-on-write, and the ordered write-back of all
 * metadata. */
#include "block/qcow2-internal.h"

#include <errno.h>
#include <string.h>

Qcow2ClusterType
qcow2_entry_type (const Qcow2Image *img, uint64_t entry)
{
  if (entry & QCOW2_OFLAG_COMPRESSED)
    return QCOW2_CLUSTER_COMPRESSED;
  if ((entry & QCOW2_OFLAG_ZERO) && img->version >= 3)
    return QCOW2_CLUSTER_ZERO;
  if (entry & QCOW2_OFFSET_MASK)
    return QCOW2_CLUSTER_NORMAL;
  return QCOW2_CLUSTER_UNALLOCATED;
}

static uint64_t
l2_entry_at (const uint8_t *table, uint64_t index)
{
  uint64_t v;
  memcpy (&v, table + index * 8, 8);
  return GUINT64_FROM_BE (v);
}

static void
set_l2_entry_at (uint8_t *table, uint64_t index, uint64_t entry)
{
  uint64_t v = GUINT64_TO_BE (entry);
  memcpy (table + index * 8, &v, 8);
}

/* A host cluster that must hold a table: aligned, inside the file,
 * clear of the header and the fixed tables. */
static bool
cluster_ok (const Qcow2Image *img, uint64_t offset)
{
  return offset && offset % img->cluster_size == 0
         && img->file_size >= img->cluster_size
         && offset <= img->file_size - img->cluster_size
         && !qcow2_overlaps_fixed_metadata (img, offset, img->cluster_size);
}

/* A data cluster may be the file's last, written only in part. */
static bool
data_cluster_ok (const Qcow2Image *img, uint64_t offset)
{
  return offset && offset % img->cluster_size == 0 && offset < img->file_size
         && !qcow2_overlaps_fixed_metadata (img, offset, img->cluster_size);
}

static int
corrupt (const Qcow2Image *img, const char *what, uint64_t guest, uint64_t host)
{
  g_warning ("qcow2 image “%s”: %s for guest offset 0x%" G_GINT64_MODIFIER "x points to "
             "0x%" G_GINT64_MODIFIER "x, outside the file or onto other metadata; "
             "run vivctl disk check", img->path, what, guest, host);
  return -EIO;
}

static int
l2_table_offset (Qcow2Image *img, uint64_t offset, uint64_t *l2_offset, uint64_t *index)
{
  uint64_t l1_index = offset >> (img->cluster_bits + img->l2_bits);
  *index = (offset >> img->cluster_bits) & (qcow2_l2_entries (img) - 1);
  *l2_offset = 0;
  if (l1_index >= img->l1_size)
    return 0;
  *l2_offset = img->l1[l1_index] & QCOW2_OFFSET_MASK;
  if (*l2_offset && !cluster_ok (img, *l2_offset))
    return corrupt (img, "the L2 table", offset, *l2_offset);
  return 0;
}

int
qcow2_get_entry (Qcow2Image *img, uint64_t offset, uint64_t *entry)
{
  uint64_t l2_offset, index;
  *entry = 0;
  int ret = l2_table_offset (img, offset, &l2_offset, &index);
  if (ret < 0 || l2_offset == 0)
    return ret;
  uint8_t *table;
  ret = qcow2_cache_get (img->l2_cache, l2_offset, &table);
  if (ret < 0)
    return ret;
  *entry = l2_entry_at (table, index);
  qcow2_cache_put (img->l2_cache, table);

  uint64_t host = *entry & QCOW2_OFFSET_MASK;
  switch (qcow2_entry_type (img, *entry)) {
  case QCOW2_CLUSTER_NORMAL:
    if (!data_cluster_ok (img, host))
      return corrupt (img, "a data cluster", offset, host);
    break;
  case QCOW2_CLUSTER_ZERO:
    if (host && !data_cluster_ok (img, host))
      return corrupt (img, "a preallocated zero cluster", offset, host);
    break;
  case QCOW2_CLUSTER_COMPRESSED: {
    uint64_t coffset, clen;
    qcow2_compressed_range (img, *entry, &coffset, &clen);
    if (coffset >= img->file_size || coffset < img->cluster_size)
      return corrupt (img, "a compressed cluster", offset, coffset);
    break;
  }
  case QCOW2_CLUSTER_UNALLOCATED:
    break;
  }
  return 0;
}

/* The L2 table for `offset`, owned by the active L1 alone: allocated when
 * missing, copied when shared with a snapshot.  Returned pinned. */
static int
writable_l2_table (Qcow2Image *img, uint64_t offset, uint8_t **table, uint64_t *index)
{
  uint64_t l1_index = offset >> (img->cluster_bits + img->l2_bits);
  uint64_t l2_offset;
  if (l1_index >= img->l1_size)
    return -EIO;
  int ret = l2_table_offset (img, offset, &l2_offset, index);
  if (ret < 0)
    return ret;

  if (l2_offset && !(img->l1[l1_index] & QCOW2_OFLAG_COPIED)) {
    uint64_t refcount;
    ret = qcow2_refcount_get (img, l2_offset >> img->cluster_bits, &refcount);
    if (ret < 0)
      return ret;
    if (refcount == 1) {
      img->l1[l1_index] |= QCOW2_OFLAG_COPIED;
      img->l1_dirty = true;
    }
  }
  if (l2_offset && (img->l1[l1_index] & QCOW2_OFLAG_COPIED))
    return qcow2_cache_get (img->l2_cache, l2_offset, table);

  int64_t new_offset = qcow2_alloc_clusters (img, 1);
  if (new_offset < 0)
    return (int) new_offset;
  ret = qcow2_cache_get_new (img->l2_cache, (uint64_t) new_offset, table);
  if (ret < 0)
    return ret;
  if (l2_offset) {
    /* Shared with a snapshot: the copy references the same clusters,
     * whose refcounts already count both tables. */
    uint8_t *old;
    ret = qcow2_cache_get (img->l2_cache, l2_offset, &old);
    if (ret < 0) {
      qcow2_cache_put (img->l2_cache, *table);
      return ret;
    }
    memcpy (*table, old, img->cluster_size);
    qcow2_cache_put (img->l2_cache, old);
    qcow2_free_deferred (img, l2_offset, img->cluster_size);
  }
  img->l1[l1_index] = (uint64_t) new_offset | QCOW2_OFLAG_COPIED;
  img->l1_dirty = true;
  return 0;
}

int
qcow2_set_entry (Qcow2Image *img, uint64_t offset, uint64_t entry)
{
  uint8_t *table;
  uint64_t index;
  int ret = writable_l2_table (img, offset, &table, &index);
  if (ret < 0)
    return ret;
  set_l2_entry_at (table, index, entry);
  qcow2_cache_mark_dirty (img->l2_cache, table);
  qcow2_cache_put (img->l2_cache, table);
  return 0;
}

bool
qcow2_entry_writable (Qcow2Image *img, uint64_t offset, uint64_t entry)
{
  if (qcow2_entry_type (img, entry) != QCOW2_CLUSTER_NORMAL)
    return false;
  if (entry & QCOW2_OFLAG_COPIED)
    return true;
  uint64_t refcount;
  if (qcow2_refcount_get (img, (entry & QCOW2_OFFSET_MASK) >> img->cluster_bits,
                          &refcount) < 0 || refcount != 1)
    return false;
  /* Refcount 1 without the flag (e.g. after a snapshot was deleted): the
   * flag is repaired, the write goes in place. */
  return qcow2_set_entry (img, offset, entry | QCOW2_OFLAG_COPIED) == 0;
}

int
qcow2_l1_write (Qcow2Image *img)
{
  if (!img->l1_dirty)
    return 0;
  uint64_t bytes = (uint64_t) img->l1_size * 8;
  uint64_t *table = g_malloc (MAX (bytes, 8));
  for (uint32_t i = 0; i < img->l1_size; i++)
    table[i] = GUINT64_TO_BE (img->l1[i]);
  int ret = qcow2_pwrite (img, img->l1_table_offset, table, bytes);
  g_free (table);
  if (ret == 0)
    img->l1_dirty = false;
  return ret;
}

int
qcow2_l1_grow (Qcow2Image *img, uint64_t entries)
{
  if (entries <= img->l1_size)
    return 0;
  if (entries * 8 > QCOW2_MAX_L1_BYTES)
    return -EFBIG;
  /* Everything the new table points at is durable first. */
  int ret = qcow2_image_flush (img, false, false);
  if (ret < 0)
    return ret;
  uint64_t bytes = qcow2_round_up (img, entries * 8);
  int64_t new_offset = qcow2_alloc_clusters (img, bytes >> img->cluster_bits);
  if (new_offset < 0)
    return (int) new_offset;
  uint64_t *table = g_malloc0 (bytes);
  for (uint32_t i = 0; i < img->l1_size; i++)
    table[i] = GUINT64_TO_BE (img->l1[i]);
  ret = qcow2_pwrite (img, (uint64_t) new_offset, table, bytes);
  g_free (table);
  if (ret == 0)
    ret = qcow2_refcount_flush (img);
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  if (ret < 0)
    return ret;

  uint8_t field[12];
  uint32_t size_be = GUINT32_TO_BE ((uint32_t) entries);
  uint64_t offset_be = GUINT64_TO_BE ((uint64_t) new_offset);
  memcpy (field, &size_be, 4);
  memcpy (field + 4, &offset_be, 8);
  ret = qcow2_pwrite (img, 36, field, sizeof field);
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  if (ret < 0)
    return ret;

  uint64_t old_offset = img->l1_table_offset, old_size = img->l1_size;
  img->l1 = g_renew (uint64_t, img->l1, entries);
  memset (img->l1 + old_size, 0, (entries - old_size) * 8);
  img->l1_size = (uint32_t) entries;
  img->l1_table_offset = (uint64_t) new_offset;
  if (old_size == 0)
    return 0;
  return qcow2_refcount_update (img, old_offset, qcow2_round_up (img, old_size * 8), -1);
}

int
qcow2_image_flush (Qcow2Image *img, bool data_synced, bool apply_frees)
{
  if (img->read_only)
    return 0;
  int ret = 0;
  if (!data_synced)
    ret = qcow2_fdatasync (img);
  bool need_sync = false;
  if (ret == 0 && (qcow2_cache_has_dirty (img->rb_cache) || img->reftable_dirty)) {
    ret = qcow2_refcount_flush (img);
    need_sync = true;
  }
  /* An L2 table reaches the disk after the refcounts of the clusters it
   * points at, and the L1 table after the L2 tables. */
  if (ret == 0 && qcow2_cache_has_dirty (img->l2_cache)) {
    if (need_sync)
      ret = qcow2_fdatasync (img);
    if (ret == 0)
      ret = qcow2_cache_write_dirty (img->l2_cache);
    ret = MIN (ret, 0);
    need_sync = true;
  }
  if (ret == 0 && img->l1_dirty) {
    if (need_sync)
      ret = qcow2_fdatasync (img);
    if (ret == 0)
      ret = qcow2_l1_write (img);
    need_sync = true;
  }
  if (ret == 0 && need_sync)
    ret = qcow2_fdatasync (img);
  if (ret == 0 && apply_frees && img->deferred_frees->len)
    ret = qcow2_apply_deferred_frees (img);
  return ret;
}
