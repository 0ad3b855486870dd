/* qcow2 internal snapshots: the snapshot table, and taking, applying and
 * deleting snapshots (a copy of the L1 table whose clusters are shared
 * through their refcounts; writes to shared clusters copy them first). */
#include "block/qcow2-internal.h"
#include "block/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_TABLE_MAX (64u << 20)

void
qcow2_snapshot_clear (Qcow2Snapshot *sn)
{
  g_clear_pointer (&sn->id, g_free);
  g_clear_pointer (&sn->name, g_free);
  g_clear_pointer (&sn->extra_rest, g_bytes_unref);
}

static uint32_t
be32 (const uint8_t *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_BE (v);
}

static uint64_t
be64 (const uint8_t *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return GUINT64_FROM_BE (v);
}

static gboolean
bad_table (Qcow2Image *img, const char *what, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "Disk image “%s” has a broken snapshot table: %s; check it with vivctl "
               "disk check", img->path, what);
  return FALSE;
}

int
qcow2_snapshots_read (Qcow2Image *img, GError **error)
{
  uint64_t pos = img->snapshots_offset;
  uint64_t end = MIN (img->file_size, img->snapshots_offset + SNAPSHOT_TABLE_MAX);
  for (uint32_t i = 0; i < img->nb_snapshots; i++) {
    uint8_t h[40];
    if (pos + sizeof h > end || qcow2_pread (img, pos, h, sizeof h) < 0)
      return bad_table (img, "it runs past the end of the file", error);
    Qcow2Snapshot sn = {
      .l1_table_offset = be64 (h),
      .l1_size = be32 (h + 8),
      .date_sec = be32 (h + 16),
      .date_nsec = be32 (h + 20),
      .vm_clock_nsec = be64 (h + 24),
      .vm_state_size = be32 (h + 32),
      .disk_size = img->size,
    };
    uint32_t id_len = (h[12] << 8) | h[13], name_len = (h[14] << 8) | h[15];
    uint32_t extra_len = be32 (h + 36);
    pos += sizeof h;
    if (extra_len > QCOW2_MAX_SNAPSHOT_EXTRA)
      return bad_table (img, "an entry has too much extra data", error);
    uint64_t rest = (uint64_t) extra_len + id_len + name_len;
    if (pos + rest > end)
      return bad_table (img, "it runs past the end of the file", error);
    uint8_t *buf = g_malloc (rest + 1);
    if (qcow2_pread (img, pos, buf, rest) < 0) {
      g_free (buf);
      return bad_table (img, "it cannot be read", error);
    }
    if (extra_len >= 8)
      sn.vm_state_size = be64 (buf);
    if (extra_len >= 16)
      sn.disk_size = be64 (buf + 8);
    if (extra_len > 16)
      sn.extra_rest = g_bytes_new (buf + 16, extra_len - 16);
    sn.id = g_strndup ((const char *) buf + extra_len, id_len);
    sn.name = g_strndup ((const char *) buf + extra_len + id_len, name_len);
    g_free (buf);
    pos = (pos + rest + 7) & ~7ull;
    img->snapshots_size = pos - img->snapshots_offset;
    g_array_append_val (img->snapshots, sn);

    if (sn.l1_size && (sn.l1_table_offset % img->cluster_size || sn.l1_table_offset == 0
                       || (uint64_t) sn.l1_size * 8 > QCOW2_MAX_L1_BYTES
                       || sn.l1_table_offset > img->file_size
                       || sn.l1_size * 8ull > img->file_size - sn.l1_table_offset))
      return bad_table (img, "a snapshot's L1 table lies outside the file", error);
    if (sn.disk_size > QCOW2_MAX_VIRTUAL_SIZE)
      return bad_table (img, "a snapshot's disk size is too large", error);
  }
  return TRUE;
}

static uint64_t *
read_l1 (Qcow2Image *img, uint64_t offset, uint32_t size, int *ret)
{
  uint64_t *l1 = g_new0 (uint64_t, MAX (size, 1u));
  *ret = qcow2_pread (img, offset, l1, size * 8ull);
  for (uint32_t i = 0; i < size; i++)
    l1[i] = GUINT64_FROM_BE (l1[i]);
  return l1;
}

int
qcow2_update_l1_refcounts (Qcow2Image *img, const uint64_t *l1, uint32_t l1_size,
                           int64_t delta)
{
  for (uint32_t i = 0; i < l1_size; i++) {
    uint64_t l2_offset = l1[i] & QCOW2_OFFSET_MASK;
    if (!l2_offset)
      continue;
    if (l2_offset % img->cluster_size || l2_offset + img->cluster_size > img->file_size)
      return -EIO;
    int ret = qcow2_refcount_update (img, l2_offset, img->cluster_size, delta);
    if (ret < 0)
      return ret;
    uint8_t *table;
    ret = qcow2_cache_get (img->l2_cache, l2_offset, &table);
    if (ret < 0)
      return ret;
    for (uint64_t j = 0; j < qcow2_l2_entries (img) && ret == 0; j++) {
      uint64_t entry;
      memcpy (&entry, table + j * 8, 8);
      entry = GUINT64_FROM_BE (entry);
      uint64_t offset, len;
      switch (qcow2_entry_type (img, entry)) {
      case QCOW2_CLUSTER_COMPRESSED:
        qcow2_compressed_range (img, entry, &offset, &len);
        ret = qcow2_refcount_update (img, offset, len, delta);
        break;
      case QCOW2_CLUSTER_NORMAL:
      case QCOW2_CLUSTER_ZERO:
        offset = entry & QCOW2_OFFSET_MASK;
        if (offset)
          ret = qcow2_refcount_update (img, offset, img->cluster_size, delta);
        break;
      case QCOW2_CLUSTER_UNALLOCATED:
        break;
      }
    }
    qcow2_cache_put (img->l2_cache, table);
    if (ret < 0)
      return ret;
  }
  return 0;
}

static int
refcount_is_one (Qcow2Image *img, uint64_t offset, bool *one)
{
  uint64_t rc;
  int ret = qcow2_refcount_get (img, offset >> img->cluster_bits, &rc);
  *one = rc == 1;
  return ret;
}

int
qcow2_fix_copied_flags (Qcow2Image *img)
{
  for (uint32_t i = 0; i < img->l1_size; i++) {
    uint64_t l2_offset = img->l1[i] & QCOW2_OFFSET_MASK;
    if (!l2_offset)
      continue;
    bool one;
    int ret = refcount_is_one (img, l2_offset, &one);
    if (ret < 0)
      return ret;
    uint64_t l1e = one ? img->l1[i] | QCOW2_OFLAG_COPIED : img->l1[i] & ~QCOW2_OFLAG_COPIED;
    if (l1e != img->l1[i]) {
      img->l1[i] = l1e;
      img->l1_dirty = true;
    }
    uint8_t *table;
    ret = qcow2_cache_get (img->l2_cache, l2_offset, &table);
    if (ret < 0)
      return ret;
    bool changed = false;
    for (uint64_t j = 0; j < qcow2_l2_entries (img) && ret == 0; j++) {
      uint64_t entry;
      memcpy (&entry, table + j * 8, 8);
      entry = GUINT64_FROM_BE (entry);
      Qcow2ClusterType type = qcow2_entry_type (img, entry);
      uint64_t offset = entry & QCOW2_OFFSET_MASK;
      if (type == QCOW2_CLUSTER_COMPRESSED || !offset)
        continue;
      ret = refcount_is_one (img, offset, &one);
      uint64_t fixed = one ? entry | QCOW2_OFLAG_COPIED : entry & ~QCOW2_OFLAG_COPIED;
      if (ret == 0 && fixed != entry) {
        fixed = GUINT64_TO_BE (fixed);
        memcpy (table + j * 8, &fixed, 8);
        changed = true;
      }
    }
    if (changed)
      qcow2_cache_mark_dirty (img->l2_cache, table);
    qcow2_cache_put (img->l2_cache, table);
    if (ret < 0)
      return ret;
  }
  return 0;
}

/* Writes the snapshot table to new clusters and switches the header to
 * it; the old table's clusters are freed after. */
static int
write_snapshot_table (Qcow2Image *img)
{
  GByteArray *out = g_byte_array_new ();
  for (guint i = 0; i < img->snapshots->len; i++) {
    Qcow2Snapshot *sn = &g_array_index (img->snapshots, Qcow2Snapshot, i);
    gsize rest_len = sn->extra_rest ? g_bytes_get_size (sn->extra_rest) : 0;
    size_t id_len = strlen (sn->id), name_len = strlen (sn->name);
    uint8_t h[56] = { 0 };
    uint64_t v64 = GUINT64_TO_BE (sn->l1_table_offset);
    memcpy (h, &v64, 8);
    uint32_t v32 = GUINT32_TO_BE (sn->l1_size);
    memcpy (h + 8, &v32, 4);
    h[12] = (uint8_t) (id_len >> 8), h[13] = (uint8_t) id_len;
    h[14] = (uint8_t) (name_len >> 8), h[15] = (uint8_t) name_len;
    v32 = GUINT32_TO_BE (sn->date_sec);
    memcpy (h + 16, &v32, 4);
    v32 = GUINT32_TO_BE (sn->date_nsec);
    memcpy (h + 20, &v32, 4);
    v64 = GUINT64_TO_BE (sn->vm_clock_nsec);
    memcpy (h + 24, &v64, 8);
    v32 = GUINT32_TO_BE ((uint32_t) MIN (sn->vm_state_size, UINT32_MAX));
    memcpy (h + 32, &v32, 4);
    v32 = GUINT32_TO_BE ((uint32_t) (16 + rest_len));
    memcpy (h + 36, &v32, 4);
    v64 = GUINT64_TO_BE (sn->vm_state_size);
    memcpy (h + 40, &v64, 8);
    v64 = GUINT64_TO_BE (sn->disk_size);
    memcpy (h + 48, &v64, 8);
    g_byte_array_append (out, h, sizeof h);
    if (rest_len)
      g_byte_array_append (out, g_bytes_get_data (sn->extra_rest, NULL), (guint) rest_len);
    g_byte_array_append (out, (const uint8_t *) sn->id, (guint) id_len);
    g_byte_array_append (out, (const uint8_t *) sn->name, (guint) name_len);
    while (out->len % 8)
      g_byte_array_append (out, (const uint8_t[]) { 0 }, 1);
  }

  uint64_t old_offset = img->snapshots_offset, old_size = img->snapshots_size;
  int ret = 0;
  uint64_t new_offset = 0;
  if (out->len) {
    int64_t off = qcow2_alloc_clusters (img, qcow2_round_up (img, out->len) >> img->cluster_bits);
    ret = off < 0 ? (int) off : qcow2_pwrite (img, (uint64_t) off, out->data, out->len);
    new_offset = off < 0 ? 0 : (uint64_t) off;
  }
  /* The table and everything it points at are durable before the header
   * switches to it. */
  if (ret == 0)
    ret = qcow2_image_flush (img, false, false);
  if (ret == 0) {
    uint8_t field[12];
    uint32_t n_be = GUINT32_TO_BE (img->snapshots->len);
    uint64_t off_be = GUINT64_TO_BE (new_offset);
    memcpy (field, &n_be, 4);
    memcpy (field + 4, &off_be, 8);
    ret = qcow2_pwrite (img, 60, field, sizeof field);
  }
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  uint64_t new_size = out->len;
  g_byte_array_unref (out);
  if (ret < 0)
    return ret;
  bool had_table = img->nb_snapshots > 0;
  img->nb_snapshots = img->snapshots->len;
  img->snapshots_offset = new_offset;
  img->snapshots_size = new_size;
  if (!had_table || old_size == 0)
    return 0;
  return qcow2_refcount_update (img, old_offset, old_size, -1);
}

static Qcow2Snapshot *
find_snapshot (Qcow2Image *img, const char *name_or_id, guint *index)
{
  /* Names first: a snapshot named "1" beats the one with id 1. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < img->snapshots->len; i++) {
      Qcow2Snapshot *sn = &g_array_index (img->snapshots, Qcow2Snapshot, i);
      if (g_str_equal (pass == 0 ? sn->name : sn->id, name_or_id)) {
        if (index)
          *index = i;
        return sn;
      }
    }
  return NULL;
}

static gboolean
no_such_snapshot (Qcow2Image *img, const char *name_or_id, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "Disk image “%s” has no snapshot named “%s”; list them with vivctl disk "
               "snapshot list", img->path, name_or_id);
  qcow2_tool_close (img, 0, NULL);
  return FALSE;
}

static char *
next_snapshot_id (Qcow2Image *img)
{
  uint64_t max = 0;
  for (guint i = 0; i < img->snapshots->len; i++) {
    const char *id = g_array_index (img->snapshots, Qcow2Snapshot, i).id;
    guint64 n;
    if (g_ascii_string_to_unsigned (id, 10, 0, G_MAXUINT32, &n, NULL))
      max = MAX (max, n);
  }
  return g_strdup_printf ("%" G_GUINT64_FORMAT, max + 1);
}

gboolean
viv_qcow2_snapshot_create (const char *path, const char *name, GError **error)
{
  g_return_val_if_fail (path && name, FALSE);
  if (!*name || strlen (name) > 65535) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "A snapshot name must be 1 … 65535 bytes");
    return FALSE;
  }
  Qcow2Image *img = qcow2_tool_open (path, false, error);
  if (!img)
    return FALSE;
  if (find_snapshot (img, name, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                 "Disk image “%s” already has a snapshot named or numbered “%s”; choose "
                 "another name", path, name);
    qcow2_tool_close (img, 0, NULL);
    return FALSE;
  }
  if (img->snapshots->len >= QCOW2_MAX_SNAPSHOTS) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 "Disk image “%s” has the most snapshots it can hold; delete some", path);
    qcow2_tool_close (img, 0, NULL);
    return FALSE;
  }

  int ret = qcow2_image_flush (img, false, true);
  int64_t l1_offset = 0;
  uint64_t l1_bytes = qcow2_round_up (img, MAX (img->l1_size, 1u) * 8ull);
  if (ret == 0) {
    l1_offset = qcow2_alloc_clusters (img, l1_bytes >> img->cluster_bits);
    ret = l1_offset < 0 ? (int) l1_offset : 0;
  }
  if (ret == 0) {
    uint64_t *copy = g_malloc0 (l1_bytes);
    for (uint32_t i = 0; i < img->l1_size; i++)
      copy[i] = GUINT64_TO_BE (img->l1[i]);
    ret = qcow2_pwrite (img, (uint64_t) l1_offset, copy, l1_bytes);
    g_free (copy);
  }
  /* Shared from now on: every table and cluster is counted once more,
   * and the active tables lose their COPIED flags. */
  if (ret == 0)
    ret = qcow2_update_l1_refcounts (img, img->l1, img->l1_size, 1);
  if (ret == 0)
    ret = qcow2_fix_copied_flags (img);
  if (ret == 0) {
    gint64 now = g_get_real_time ();
    Qcow2Snapshot sn = {
      .l1_table_offset = (uint64_t) l1_offset,
      .l1_size = img->l1_size,
      .id = next_snapshot_id (img),
      .name = g_strdup (name),
      .date_sec = (uint32_t) (now / G_USEC_PER_SEC),
      .date_nsec = (uint32_t) (now % G_USEC_PER_SEC) * 1000,
      .disk_size = img->size,
    };
    g_array_append_val (img->snapshots, sn);
    ret = write_snapshot_table (img);
  }
  return qcow2_tool_close (img, ret, error);
}

gboolean
viv_qcow2_snapshot_apply (const char *path, const char *name_or_id, GError **error)
{
  g_return_val_if_fail (path && name_or_id, FALSE);
  Qcow2Image *img = qcow2_tool_open (path, false, error);
  if (!img)
    return FALSE;
  Qcow2Snapshot *sn = find_snapshot (img, name_or_id, NULL);
  if (!sn)
    return no_such_snapshot (img, name_or_id, error);
  if (qcow2_l1_entries_for (sn->disk_size, img->cluster_bits) > sn->l1_size) {
    qcow2_tool_close (img, 0, NULL);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "Snapshot “%s” of disk image “%s” is broken (its L1 table is too small); "
                 "check the image with vivctl disk check", name_or_id, path);
    return FALSE;
  }

  int ret = qcow2_image_flush (img, false, true);
  uint64_t *snap_l1 = NULL, *old_l1 = NULL;
  uint32_t old_size = img->l1_size;
  if (ret == 0)
    snap_l1 = read_l1 (img, sn->l1_table_offset, sn->l1_size, &ret);
  if (ret == 0)
    ret = qcow2_update_l1_refcounts (img, snap_l1, sn->l1_size, 1);
  if (ret == 0)
    ret = qcow2_l1_grow (img, sn->l1_size);
  if (ret == 0) {
    old_l1 = g_memdup2 (img->l1, old_size * 8ull);
    memset (img->l1, 0, img->l1_size * 8ull);
    memcpy (img->l1, snap_l1, sn->l1_size * 8ull);
    img->l1_dirty = true;
    ret = qcow2_image_flush (img, false, false);
  }
  if (ret == 0 && sn->disk_size != img->size) {
    img->size = sn->disk_size;
    uint64_t size_be = GUINT64_TO_BE (img->size);
    ret = qcow2_pwrite (img, 24, &size_be, 8);
    if (ret == 0)
      ret = qcow2_fdatasync (img);
  }
  /* The old active tables are no longer referenced on disk. */
  if (ret == 0)
    ret = qcow2_update_l1_refcounts (img, old_l1, old_size, -1);
  if (ret == 0)
    ret = qcow2_fix_copied_flags (img);
  g_free (snap_l1);
  g_free (old_l1);
  return qcow2_tool_close (img, ret, error);
}

gboolean
viv_qcow2_snapshot_delete (const char *path, const char *name_or_id, GError **error)
{
  g_return_val_if_fail (path && name_or_id, FALSE);
  Qcow2Image *img = qcow2_tool_open (path, false, error);
  if (!img)
    return FALSE;
  guint index;
  Qcow2Snapshot *found = find_snapshot (img, name_or_id, &index);
  if (!found)
    return no_such_snapshot (img, name_or_id, error);
  Qcow2Snapshot sn = *found;
  g_array_remove_index (img->snapshots, index);

  int ret = qcow2_image_flush (img, false, true);
  if (ret == 0)
    ret = write_snapshot_table (img);
  uint64_t *l1 = NULL;
  if (ret == 0)
    l1 = read_l1 (img, sn.l1_table_offset, sn.l1_size, &ret);
  if (ret == 0)
    ret = qcow2_update_l1_refcounts (img, l1, sn.l1_size, -1);
  if (ret == 0 && sn.l1_size)
    ret = qcow2_refcount_update (img, sn.l1_table_offset,
                                 qcow2_round_up (img, sn.l1_size * 8ull), -1);
  if (ret == 0)
    ret = qcow2_fix_copied_flags (img);
  g_free (l1);
  qcow2_snapshot_clear (&sn);
  return qcow2_tool_close (img, ret, error);
}

VivQcow2SnapshotInfo *
qcow2_snapshot_info (const Qcow2Snapshot *sn)
{
  VivQcow2SnapshotInfo *info = g_new0 (VivQcow2SnapshotInfo, 1);
  info->id = g_strdup (sn->id);
  info->name = g_strdup (sn->name);
  info->vm_state_size = sn->vm_state_size;
  info->disk_size = sn->disk_size;
  info->date_sec = sn->date_sec;
  info->date_nsec = sn->date_nsec;
  info->vm_clock_nsec = sn->vm_clock_nsec;
  return info;
}

void
viv_qcow2_snapshot_info_free (VivQcow2SnapshotInfo *info)
{
  if (!info)
    return;
  g_free (info->id);
  g_free (info->name);
  g_free (info);
}

GPtrArray *
viv_qcow2_snapshot_list (const char *path, GError **error)
{
  Qcow2Image *img = qcow2_tool_open (path, true, error);
  if (!img)
    return NULL;
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) viv_qcow2_snapshot_info_free);
  for (guint i = 0; i < img->snapshots->len; i++)
    g_ptr_array_add (list, qcow2_snapshot_info (&g_array_index (img->snapshots,
                                                                Qcow2Snapshot, i)));
  qcow2_tool_close (img, 0, NULL);
  return list;
}
