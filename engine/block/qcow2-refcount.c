/* qcow2 refcounts: the two-level refcount table, cluster allocation, and
 * freeing in crash-safe order (see qcow2-internal.h). */
#include "block/qcow2-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/falloc.h>

/* Refcount entries are 1 … 64 bits wide; sub-byte ones are packed from the
 * least significant bit, wider ones are big-endian. */
uint64_t
qcow2_refblock_get (const Qcow2Image *img, const uint8_t *block, uint64_t index)
{
  switch (img->refcount_order) {
  case 0: case 1: case 2: {
    unsigned bits = img->refcount_bits;
    uint64_t bit = index * bits;
    return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
  }
  case 3:
    return block[index];
  case 4: {
    uint16_t v;
    memcpy (&v, block + index * 2, 2);
    return GUINT16_FROM_BE (v);
  }
  case 5: {
    uint32_t v;
    memcpy (&v, block + index * 4, 4);
    return GUINT32_FROM_BE (v);
  }
  default: {
    uint64_t v;
    memcpy (&v, block + index * 8, 8);
    return GUINT64_FROM_BE (v);
  }
  }
}

void
qcow2_refblock_set (const Qcow2Image *img, uint8_t *block, uint64_t index, uint64_t value)
{
  switch (img->refcount_order) {
  case 0: case 1: case 2: {
    unsigned bits = img->refcount_bits;
    uint64_t bit = index * bits;
    uint8_t mask = (uint8_t) (((1u << bits) - 1) << (bit % 8));
    block[bit / 8] = (uint8_t) ((block[bit / 8] & ~mask) | ((value << (bit % 8)) & mask));
    return;
  }
  case 3:
    block[index] = (uint8_t) value;
    return;
  case 4: {
    uint16_t v = GUINT16_TO_BE ((uint16_t) value);
    memcpy (block + index * 2, &v, 2);
    return;
  }
  case 5: {
    uint32_t v = GUINT32_TO_BE ((uint32_t) value);
    memcpy (block + index * 4, &v, 4);
    return;
  }
  default: {
    uint64_t v = GUINT64_TO_BE (value);
    memcpy (block + index * 8, &v, 8);
  }
  }
}

int
qcow2_refcount_get (Qcow2Image *img, uint64_t cluster_index, uint64_t *refcount)
{
  uint64_t table_index = cluster_index >> img->rb_bits;
  *refcount = 0;
  if (table_index >= img->reftable_entries || img->reftable[table_index] == 0)
    return 0;
  uint8_t *block;
  int ret = qcow2_cache_get (img->rb_cache, img->reftable[table_index], &block);
  if (ret < 0)
    return ret;
  *refcount = qcow2_refblock_get (img, block, cluster_index & ((1ull << img->rb_bits) - 1));
  qcow2_cache_put (img->rb_cache, block);
  return 0;
}

/* The end of everything allocated, in clusters. */
static uint64_t
end_cluster (const Qcow2Image *img)
{
  return (img->file_size + img->cluster_size - 1) >> img->cluster_bits;
}

static void
extend_to (Qcow2Image *img, uint64_t cluster_end)
{
  uint64_t end = cluster_end << img->cluster_bits;
  if (end > img->file_size)
    img->file_size = end;
}

/* A refcount block for table entry k, placed inside the range it covers
 * (all free there, the block being absent) and counting itself; `avoid`
 * is the cluster the caller is about to allocate. */
static int
create_refcount_block (Qcow2Image *img, uint64_t k, uint64_t avoid)
{
  uint64_t first = k << img->rb_bits, count = 1ull << img->rb_bits;
  uint64_t place = UINT64_MAX;
  for (uint64_t c = first; c < first + count; c++)
    if (c != avoid && c != 0
        && !qcow2_overlaps_fixed_metadata (img, c << img->cluster_bits, img->cluster_size)) {
      place = c;
      break;
    }
  if (place == UINT64_MAX)
    return -ENOSPC;
  uint64_t offset = place << img->cluster_bits;
  uint8_t *block;
  int ret = qcow2_cache_get_new (img->rb_cache, offset, &block);
  if (ret < 0)
    return ret;
  qcow2_refblock_set (img, block, place - first, 1);
  qcow2_cache_put (img->rb_cache, block);
  img->reftable[k] = offset;
  img->reftable_dirty = true;
  extend_to (img, place + 1);
  return 0;
}

static int
update_one (Qcow2Image *img, uint64_t cluster, int64_t delta)
{
  uint64_t k = cluster >> img->rb_bits;
  if (k >= img->reftable_entries) {
    if (delta < 0)
      return -EIO;   /* a reference to a cluster no refcount covers */
    int ret = qcow2_refcount_table_grow (img, k + 1);
    if (ret < 0)
      return ret;
  }
  if (img->reftable[k] == 0) {
    if (delta < 0)
      return -EIO;
    int ret = create_refcount_block (img, k, cluster);
    if (ret < 0)
      return ret;
  }
  uint8_t *block;
  int ret = qcow2_cache_get (img->rb_cache, img->reftable[k], &block);
  if (ret < 0)
    return ret;
  uint64_t index = cluster & ((1ull << img->rb_bits) - 1);
  uint64_t value = qcow2_refblock_get (img, block, index);
  if ((delta < 0 && value < (uint64_t) -delta)
      || (delta > 0 && img->refcount_max - value < (uint64_t) delta)) {
    qcow2_cache_put (img->rb_cache, block);
    g_warning ("qcow2 image “%s”: refcount of cluster %" G_GUINT64_FORMAT " would go "
               "out of range (%" G_GUINT64_FORMAT " %+" G_GINT64_FORMAT ")",
               img->path, cluster, value, delta);
    return delta < 0 ? -EIO : -ERANGE;
  }
  value += (uint64_t) delta;
  qcow2_refblock_set (img, block, index, value);
  qcow2_cache_mark_dirty (img->rb_cache, block);
  qcow2_cache_put (img->rb_cache, block);
  if (value == 0 && cluster < img->free_hint)
    img->free_hint = cluster;
  return 0;
}

int
qcow2_refcount_update (Qcow2Image *img, uint64_t offset, uint64_t len, int64_t delta)
{
  if (len == 0 || delta == 0)
    return 0;
  uint64_t first = offset >> img->cluster_bits;
  uint64_t last = (offset + len - 1) >> img->cluster_bits;
  for (uint64_t c = first; c <= last; c++) {
    int ret = update_one (img, c, delta);
    if (ret < 0)
      return ret;
  }
  return 0;
}

static bool
block_missing (const Qcow2Image *img, uint64_t k)
{
  return k < img->reftable_entries && img->reftable[k] == 0;
}

static int
cluster_free (Qcow2Image *img, uint64_t c, bool *free_)
{
  uint64_t rc;
  int ret = qcow2_refcount_get (img, c, &rc);
  *free_ = ret == 0 && rc == 0
           && !qcow2_overlaps_fixed_metadata (img, c << img->cluster_bits, img->cluster_size);
  return ret;
}

int64_t
qcow2_alloc_clusters (Qcow2Image *img, uint64_t n)
{
  g_assert (n > 0);
  uint64_t from = MAX (img->free_hint, 1);
  for (;;) {
    /* n free clusters in a row. */
    uint64_t start = from, run = 0;
    for (uint64_t c = from; run < n; c++) {
      bool free_;
      int ret = cluster_free (img, c, &free_);
      if (ret < 0)
        return ret;
      if (!free_) {
        run = 0;
        if (c == img->free_hint)
          img->free_hint = c + 1;
        continue;
      }
      if (run++ == 0)
        start = c;
    }
    if (start + n > (UINT64_C (1) << (56 - img->cluster_bits)))
      return -EFBIG;

    /* Refcount blocks the run lacks go right after it, where the blocks
     * they need themselves go too. */
    uint64_t blocks = 0;
    for (;;) {
      uint64_t last = start + n + blocks - 1, missing = 0;
      for (uint64_t k = start >> img->rb_bits; k <= last >> img->rb_bits; k++) {
        if (k >= img->reftable_entries) {
          /* The relocated table goes at the end: maybe where we looked. */
          int ret = qcow2_refcount_table_grow (img, k + 1);
          if (ret < 0)
            return ret;
          blocks = UINT64_MAX;
          break;
        }
        missing += block_missing (img, k);
      }
      if (blocks == UINT64_MAX || missing == blocks)
        break;
      blocks = missing;
    }
    if (blocks == UINT64_MAX)
      continue;
    bool room = true;
    for (uint64_t c = start + n; c < start + n + blocks && room; c++) {
      int ret = cluster_free (img, c, &room);
      if (ret < 0)
        return ret;
    }
    if (!room) {
      from = start + 1;
      continue;
    }
    uint64_t place = start + n;
    for (uint64_t k = start >> img->rb_bits;
         k <= (start + n + blocks - 1) >> img->rb_bits; k++) {
      if (!block_missing (img, k))
        continue;
      uint8_t *block;
      int ret = qcow2_cache_get_new (img->rb_cache, place << img->cluster_bits, &block);
      if (ret < 0)
        return ret;
      qcow2_cache_put (img->rb_cache, block);
      img->reftable[k] = place++ << img->cluster_bits;
      img->reftable_dirty = true;
    }
    for (uint64_t c = start; c < start + n + blocks; c++) {
      int ret = update_one (img, c, 1);
      if (ret < 0)
        return ret;
    }
    if (start == img->free_hint)
      img->free_hint = start + n + blocks;
    extend_to (img, start + n + blocks);
    return (int64_t) (start << img->cluster_bits);
  }
}

void
qcow2_free_deferred (Qcow2Image *img, uint64_t offset, uint64_t len)
{
  Qcow2Range r = { offset, len };
  g_array_append_val (img->deferred_frees, r);
}

void
qcow2_compressed_range (const Qcow2Image *img, uint64_t entry, uint64_t *offset,
                        uint64_t *len)
{
  *offset = entry & img->coffset_mask;
  uint64_t sectors = ((entry >> img->csize_shift) & img->csize_mask) + 1;
  *len = sectors * 512 - (*offset & 511);
}

void
qcow2_free_l2_entry_deferred (Qcow2Image *img, uint64_t entry)
{
  uint64_t offset, len;
  switch (qcow2_entry_type (img, entry)) {
  case QCOW2_CLUSTER_COMPRESSED:
    qcow2_compressed_range (img, entry, &offset, &len);
    qcow2_free_deferred (img, offset, len);
    break;
  case QCOW2_CLUSTER_NORMAL:
  case QCOW2_CLUSTER_ZERO:
    offset = entry & QCOW2_OFFSET_MASK;
    if (offset)
      qcow2_free_deferred (img, offset, img->cluster_size);
    break;
  case QCOW2_CLUSTER_UNALLOCATED:
    break;
  }
}

int
qcow2_apply_deferred_frees (Qcow2Image *img)
{
  GArray *frees = img->deferred_frees;
  int ret = 0;
  for (guint i = 0; i < frees->len && ret == 0; i++) {
    Qcow2Range *r = &g_array_index (frees, Qcow2Range, i);
    ret = qcow2_refcount_update (img, r->offset, r->length, -1);
    if (ret < 0)
      break;
    /* Give whole clusters that became free back to the host. */
    uint64_t first = r->offset >> img->cluster_bits;
    uint64_t last = (r->offset + r->length - 1) >> img->cluster_bits;
    for (uint64_t c = first; c <= last; c++) {
      uint64_t rc;
      ret = qcow2_refcount_get (img, c, &rc);
      if (ret < 0)
        break;
      if (rc == 0) {
        qcow2_cache_discard (img->l2_cache, c << img->cluster_bits);
        /* A hint: file systems without holes keep the data. */
        (void) fallocate (img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                          (off_t) (c << img->cluster_bits), img->cluster_size);
      }
    }
  }
  g_array_set_size (frees, 0);
  return ret;
}

int
qcow2_refcount_flush (Qcow2Image *img)
{
  int ret = qcow2_cache_write_dirty (img->rb_cache);
  if (ret < 0 || !img->reftable_dirty)
    return ret < 0 ? ret : 0;
  /* New refcount blocks must be durable before the table points at them. */
  if (ret > 0 && (ret = qcow2_fdatasync (img)) < 0)
    return ret;
  uint64_t bytes = (uint64_t) img->refcount_table_clusters << img->cluster_bits;
  uint64_t *table = g_malloc0 (bytes);
  for (uint32_t i = 0; i < img->reftable_entries; i++)
    table[i] = GUINT64_TO_BE (img->reftable[i]);
  ret = qcow2_pwrite (img, img->refcount_table_offset, table, bytes);
  g_free (table);
  if (ret == 0)
    img->reftable_dirty = false;
  return ret;
}

int
qcow2_refcount_table_grow (Qcow2Image *img, uint64_t entries)
{
  uint64_t per_cluster = img->cluster_size / 8;
  uint64_t new_entries = MAX (entries, (uint64_t) img->reftable_entries * 2);
  uint64_t start = end_cluster (img);
  uint64_t table_clusters, blocks;
  for (;;) {
    new_entries = (new_entries + per_cluster - 1) / per_cluster * per_cluster;
    table_clusters = new_entries / per_cluster;
    /* The new table goes at the end, followed by the refcount blocks that
     * the table and these blocks themselves need. */
    blocks = 0;
    for (;;) {
      uint64_t last = start + table_clusters + blocks - 1, needed = 0;
      for (uint64_t k = start >> img->rb_bits; k <= last >> img->rb_bits; k++)
        if (k >= img->reftable_entries || img->reftable[k] == 0)
          needed++;
      if (needed == blocks)
        break;
      blocks = needed;
    }
    if (((start + table_clusters + blocks - 1) >> img->rb_bits) < new_entries)
      break;
    new_entries *= 2;
  }
  if (table_clusters << img->cluster_bits > QCOW2_MAX_REFTABLE_BYTES)
    return -EFBIG;

  uint64_t *table = g_new0 (uint64_t, new_entries);
  memcpy (table, img->reftable, img->reftable_entries * 8ull);
  uint64_t end = start + table_clusters + blocks;
  uint64_t next_block = start + table_clusters;
  for (uint64_t k = start >> img->rb_bits; k <= (end - 1) >> img->rb_bits; k++)
    if (table[k] == 0) {
      uint8_t *block;
      table[k] = next_block++ << img->cluster_bits;
      int ret = qcow2_cache_get_new (img->rb_cache, table[k], &block);
      if (ret < 0) {
        g_free (table);
        return ret;
      }
      qcow2_cache_put (img->rb_cache, block);
    }

  uint64_t old_offset = img->refcount_table_offset;
  uint64_t old_clusters = img->refcount_table_clusters;
  g_free (img->reftable);
  img->reftable = table;
  img->reftable_entries = (uint32_t) new_entries;
  img->refcount_table_offset = start << img->cluster_bits;
  img->refcount_table_clusters = (uint32_t) table_clusters;
  img->reftable_dirty = true;
  extend_to (img, end);
  for (uint64_t c = start; c < end; c++) {
    int ret = update_one (img, c, 1);
    if (ret < 0)
      return ret;
  }
  /* Blocks, table, then the header that switches to them. */
  int ret = qcow2_refcount_flush (img);
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  if (ret < 0)
    return ret;
  uint8_t field[12];
  uint64_t offset_be = GUINT64_TO_BE (img->refcount_table_offset);
  uint32_t clusters_be = GUINT32_TO_BE (img->refcount_table_clusters);
  memcpy (field, &offset_be, 8);
  memcpy (field + 8, &clusters_be, 4);
  ret = qcow2_pwrite (img, 48, field, sizeof field);
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  if (ret < 0)
    return ret;
  /* Nothing on disk points at the old table any more. */
  return qcow2_refcount_update (img, old_offset, old_clusters << img->cluster_bits, -1);
}
