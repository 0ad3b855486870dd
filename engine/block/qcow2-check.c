/* qcow2 consistency check and repair, with qemu-img check's categories:
 * a cluster whose refcount is below its references is a corruption (it
 * could be handed out again while in use), one above its references a
 * leak (wasted space only).  COPIED flags that disagree with refcounts,
 * misaligned tables and pointers past the end are corruptions too.
 *
 * Repair: leaks are fixed by lowering refcounts; `all` rebuilds the
 * refcount structures from the references (also the dirty bit's repair),
 * then sets the COPIED flags from them and clears the corrupt bit. */
#include "block/qcow2-internal.h"
#include "block/qcow2.h"

#include <errno.h>
#include <string.h>

typedef struct {
  Qcow2Image *img;
  uint32_t   *refs;          /* references per cluster of the file */
  uint64_t    nb_clusters;
  bool        count_refcount_structures;
  VivQcow2CheckResult *result;   /* NULL: rebuilding, no report */
  uint64_t    copied_errors;
  uint64_t    last_data;     /* fragmentation: the previous data cluster's offset */
} Walk;

static void G_GNUC_PRINTF (2, 3)
report (Walk *w, const char *format, ...)
{
  if (!w->result)
    return;
  va_list args;
  va_start (args, format);
  char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  /* A broken image can produce millions: the first ones tell the story. */
  if (w->result->messages->len < 1000)
    g_ptr_array_add (w->result->messages, msg);
  else
    g_free (msg);
}

static void
corruption (Walk *w)
{
  if (w->result)
    w->result->corruptions++;
}

static void
add_ref (Walk *w, uint64_t offset, uint64_t len, const char *what)
{
  if (len == 0)
    return;
  uint64_t first = offset >> w->img->cluster_bits;
  uint64_t last = (offset + len - 1) >> w->img->cluster_bits;
  for (uint64_t c = first; c <= last; c++) {
    if (c >= w->nb_clusters) {
      report (w, "ERROR %s at offset 0x%" G_GINT64_MODIFIER "x is past the end of the "
              "image", what, c << w->img->cluster_bits);
      corruption (w);
      return;
    }
    if (w->refs[c] < UINT32_MAX)
      w->refs[c]++;
  }
}

static uint64_t
refcount_on_disk (Walk *w, uint64_t offset)
{
  uint64_t rc = 0;
  if (qcow2_refcount_get (w->img, offset >> w->img->cluster_bits, &rc) < 0 && w->result)
    w->result->check_errors++;
  return rc;
}

static bool
table_ok (Walk *w, uint64_t offset, const char *what)
{
  if (offset % w->img->cluster_size) {
    report (w, "ERROR %s offset 0x%" G_GINT64_MODIFIER "x is not cluster aligned", what, offset);
    corruption (w);
    return false;
  }
  if (offset + w->img->cluster_size > w->img->file_size) {
    report (w, "ERROR %s offset 0x%" G_GINT64_MODIFIER "x is past the end of the image",
            what, offset);
    corruption (w);
    return false;
  }
  return true;
}

static void
walk_l2 (Walk *w, uint64_t l2_offset, bool active, uint64_t first_guest)
{
  Qcow2Image *img = w->img;
  uint8_t *table = g_malloc (img->cluster_size);
  if (qcow2_pread (img, l2_offset, table, img->cluster_size) < 0) {
    if (w->result)
      w->result->check_errors++;
    g_free (table);
    return;
  }
  for (uint64_t j = 0; j < qcow2_l2_entries (img); j++) {
    uint64_t entry;
    memcpy (&entry, table + j * 8, 8);
    entry = GUINT64_FROM_BE (entry);
    uint64_t guest = first_guest + (j << img->cluster_bits);
    uint64_t offset = entry & QCOW2_OFFSET_MASK, len;
    switch (qcow2_entry_type (img, entry)) {
    case QCOW2_CLUSTER_COMPRESSED:
      if (entry & QCOW2_OFLAG_COPIED) {
        report (w, "ERROR: coffset=0x%" G_GINT64_MODIFIER "x: copied flag must never be "
                "set for compressed clusters", entry & img->coffset_mask);
        corruption (w);
      }
      qcow2_compressed_range (img, entry, &offset, &len);
      add_ref (w, offset, len, "compressed cluster");
      if (active && w->result && guest < img->size) {
        w->result->allocated_clusters++;
        w->result->compressed_clusters++;
        w->result->fragmented_clusters++;
      }
      break;
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO:
      if (!offset)
        break;
      if (offset % img->cluster_size) {
        report (w, "ERROR offset=%" G_GINT64_MODIFIER "x: cluster is not properly aligned; "
                "L2 entry corrupted", offset);
        corruption (w);
        break;
      }
      add_ref (w, offset, img->cluster_size, "data cluster");
      if (active && w->result) {
        if (guest < img->size && qcow2_entry_type (img, entry) == QCOW2_CLUSTER_NORMAL) {
          w->result->allocated_clusters++;
          if (w->last_data && offset != w->last_data + img->cluster_size)
            w->result->fragmented_clusters++;
          w->last_data = offset;
        }
        uint64_t rc = refcount_on_disk (w, offset);
        if ((rc == 1) != !!(entry & QCOW2_OFLAG_COPIED)) {
          report (w, "ERROR OFLAG_COPIED data cluster: l2_entry=%" G_GINT64_MODIFIER "x "
                  "refcount=%" G_GUINT64_FORMAT, entry, rc);
          w->copied_errors++;
          corruption (w);
        }
      }
      break;
    case QCOW2_CLUSTER_UNALLOCATED:
      break;
    }
  }
  g_free (table);
}

static void
walk_l1 (Walk *w, uint64_t l1_offset, uint32_t l1_size, bool active)
{
  Qcow2Image *img = w->img;
  if (l1_size == 0)
    return;
  add_ref (w, l1_offset, l1_size * 8ull, "L1 table");
  uint64_t *l1 = g_new (uint64_t, l1_size);
  if (qcow2_pread (img, l1_offset, l1, l1_size * 8ull) < 0) {
    if (w->result)
      w->result->check_errors++;
    g_free (l1);
    return;
  }
  for (uint32_t i = 0; i < l1_size; i++) {
    uint64_t l1e = GUINT64_FROM_BE (l1[i]);
    uint64_t l2_offset = l1e & QCOW2_OFFSET_MASK;
    if (!l2_offset)
      continue;
    if (!table_ok (w, l2_offset, "L2 table"))
      continue;
    add_ref (w, l2_offset, img->cluster_size, "L2 table");
    if (active && w->result) {
      uint64_t rc = refcount_on_disk (w, l2_offset);
      if ((rc == 1) != !!(l1e & QCOW2_OFLAG_COPIED)) {
        report (w, "ERROR OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%" G_GINT64_MODIFIER
                "x refcount=%" G_GUINT64_FORMAT, i, l1e, rc);
        w->copied_errors++;
        corruption (w);
      }
    }
    walk_l2 (w, l2_offset, active, (uint64_t) i << (img->cluster_bits + img->l2_bits));
  }
  g_free (l1);
}

/* Counts every reference the image holds to each cluster of the file. */
static void
count_references (Walk *w)
{
  Qcow2Image *img = w->img;
  add_ref (w, 0, img->cluster_size, "header");
  walk_l1 (w, img->l1_table_offset, img->l1_size, true);
  if (img->nb_snapshots)
    add_ref (w, img->snapshots_offset, img->snapshots_size, "snapshot table");
  for (guint i = 0; i < img->snapshots->len; i++) {
    Qcow2Snapshot *sn = &g_array_index (img->snapshots, Qcow2Snapshot, i);
    walk_l1 (w, sn->l1_table_offset, sn->l1_size, false);
  }
  if (!w->count_refcount_structures)
    return;
  add_ref (w, img->refcount_table_offset,
           (uint64_t) img->refcount_table_clusters << img->cluster_bits, "refcount table");
  for (uint32_t k = 0; k < img->reftable_entries; k++)
    if (img->reftable[k] && table_ok (w, img->reftable[k], "refcount block"))
      add_ref (w, img->reftable[k], img->cluster_size, "refcount block");
}

static void
walk_init (Walk *w, Qcow2Image *img, VivQcow2CheckResult *result, bool structures)
{
  *w = (Walk) {
    .img = img,
    .nb_clusters = (img->file_size + img->cluster_size - 1) >> img->cluster_bits,
    .count_refcount_structures = structures,
    .result = result,
  };
  w->refs = g_new0 (uint32_t, MAX (w->nb_clusters, 1));
}

gboolean
qcow2_rebuild_refcounts (Qcow2Image *img, GError **error)
{
  Walk w;
  int ret = qcow2_image_flush (img, false, false);
  walk_init (&w, img, NULL, false);
  if (ret == 0)
    count_references (&w);

  /* The new table and blocks go after everything, covering themselves. */
  uint64_t start = w.nb_clusters;
  uint64_t per_block = 1ull << img->rb_bits, per_table_cluster = img->cluster_size / 8;
  uint64_t blocks = 1, table_clusters = 1;
  for (;;) {
    uint64_t total = start + table_clusters + blocks;
    uint64_t b = (total + per_block - 1) / per_block;
    uint64_t t = (b + per_table_cluster - 1) / per_table_cluster;
    if (b == blocks && t == table_clusters)
      break;
    blocks = b, table_clusters = t;
  }
  if (ret == 0 && table_clusters << img->cluster_bits > QCOW2_MAX_REFTABLE_BYTES)
    ret = -EFBIG;

  uint64_t entries = table_clusters * per_table_cluster;
  uint64_t *table = g_new0 (uint64_t, entries);
  uint8_t *block = g_malloc (img->cluster_size);
  for (uint64_t k = 0; k < blocks && ret == 0; k++) {
    uint64_t offset = (start + table_clusters + k) << img->cluster_bits;
    table[k] = offset;
    memset (block, 0, img->cluster_size);
    /* Written directly: the cache holds the old blocks. */
    for (uint64_t i = 0; i < per_block; i++) {
      uint64_t c = k * per_block + i;
      uint64_t rc = c < w.nb_clusters ? w.refs[c] : c < start + table_clusters + blocks;
      if (rc > img->refcount_max) {
        ret = -ERANGE;
        break;
      }
      if (rc)
        qcow2_refblock_set (img, block, i, rc);
    }
    if (ret == 0)
      ret = qcow2_pwrite (img, offset, block, img->cluster_size);
  }
  if (ret == 0) {
    uint64_t *be = g_new (uint64_t, entries);
    for (uint64_t k = 0; k < entries; k++)
      be[k] = GUINT64_TO_BE (table[k]);
    ret = qcow2_pwrite (img, start << img->cluster_bits, be, entries * 8);
    g_free (be);
  }
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  if (ret == 0) {
    uint8_t field[12];
    uint64_t offset_be = GUINT64_TO_BE (start << img->cluster_bits);
    uint32_t clusters_be = GUINT32_TO_BE ((uint32_t) table_clusters);
    memcpy (field, &offset_be, 8);
    memcpy (field + 8, &clusters_be, 4);
    ret = qcow2_pwrite (img, 48, field, sizeof field);
  }
  if (ret == 0)
    ret = qcow2_fdatasync (img);
  g_free (block);
  g_free (w.refs);
  if (ret < 0) {
    g_free (table);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                 "Cannot rebuild the refcounts of disk image “%s”: %s", img->path,
                 g_strerror (-ret));
    return FALSE;
  }
  qcow2_cache_discard_all (img->rb_cache);
  g_free (img->reftable);
  img->reftable = table;
  img->reftable_entries = (uint32_t) entries;
  img->reftable_dirty = false;
  img->refcount_table_offset = start << img->cluster_bits;
  img->refcount_table_clusters = (uint32_t) table_clusters;
  img->free_hint = 1;
  g_array_set_size (img->deferred_frees, 0);
  return TRUE;
}

/* One pass: counts, compares, and (repair LEAKS) lowers leaked refcounts. */
static void
check_pass (Qcow2Image *img, VivQcow2CheckResult *result, bool fix_leaks)
{
  Walk w;
  walk_init (&w, img, result, true);
  count_references (&w);

  for (uint64_t c = 0; c < w.nb_clusters; c++) {
    uint64_t rc = refcount_on_disk (&w, c << img->cluster_bits);
    uint64_t refs = w.refs[c];
    if (refs)
      result->image_end_offset = (c + 1) << img->cluster_bits;
    if (rc == refs)
      continue;
    if (rc > refs) {
      if (fix_leaks && qcow2_refcount_update (img, c << img->cluster_bits,
                                              img->cluster_size, -(int64_t) (rc - refs)) == 0) {
        result->leaks_fixed++;
        continue;
      }
      report (&w, "Leaked cluster %" G_GUINT64_FORMAT " refcount=%" G_GUINT64_FORMAT
              " reference=%" G_GUINT64_FORMAT, c, rc, refs);
      result->leaks++;
    } else {
      report (&w, "ERROR cluster %" G_GUINT64_FORMAT " refcount=%" G_GUINT64_FORMAT
              " reference=%" G_GUINT64_FORMAT, c, rc, refs);
      result->corruptions++;
    }
  }
  result->total_clusters = (img->size + img->cluster_size - 1) >> img->cluster_bits;
  g_free (w.refs);
}

void
viv_qcow2_check_result_clear (VivQcow2CheckResult *result)
{
  g_clear_pointer (&result->messages, g_ptr_array_unref);
  memset (result, 0, sizeof *result);
}

int
viv_qcow2_check_exit_status (const VivQcow2CheckResult *result)
{
  if (result->check_errors)
    return 1;
  if (result->corruptions)
    return 2;
  if (result->leaks)
    return 3;
  return 0;
}

static void
result_init (VivQcow2CheckResult *result)
{
  memset (result, 0, sizeof *result);
  result->messages = g_ptr_array_new_with_free_func (g_free);
}

gboolean
viv_qcow2_check (const char *path, VivQcow2Repair repair, VivQcow2CheckResult *result,
                 GError **error)
{
  g_return_val_if_fail (path && result, FALSE);
  result_init (result);
  Qcow2Image *img = qcow2_tool_open (path, true, error);
  if (!img)
    return FALSE;
  check_pass (img, result, false);
  bool marked = img->incompatible & (QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DIRTY);
  qcow2_tool_close (img, 0, NULL);
  if (repair == VIV_QCOW2_REPAIR_NONE
      || (result->corruptions == 0 && result->leaks == 0
          && !(marked && (repair & VIV_QCOW2_REPAIR_ERRORS))))
    return TRUE;

  /* Repairs write: the corrupt bit must not stop this open. */
  img = qcow2_image_open (path, false, QCOW2_OPEN_LOCK | QCOW2_OPEN_REPAIR, error);
  if (!img)
    return FALSE;
  VivQcow2CheckResult first = *result;
  int ret = 0;
  if (repair & VIV_QCOW2_REPAIR_ERRORS) {
    if (!qcow2_rebuild_refcounts (img, error)) {
      qcow2_tool_close (img, 0, NULL);
      return FALSE;
    }
    ret = qcow2_fix_copied_flags (img);
    if (ret == 0)
      ret = qcow2_image_flush (img, false, false);
    if (ret == 0 && (img->incompatible & (QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DIRTY)))
      ret = qcow2_header_set_incompatible (img, img->incompatible
                                           & ~(QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DIRTY));
  } else {
    VivQcow2CheckResult scratch;
    result_init (&scratch);
    check_pass (img, &scratch, true);
    viv_qcow2_check_result_clear (&scratch);
  }
  if (!qcow2_tool_close (img, ret, error))
    return FALSE;

  /* What is left, checked again from the disk. */
  img = qcow2_tool_open (path, true, error);
  if (!img)
    return FALSE;
  GPtrArray *messages = result->messages;
  result_init (result);
  g_ptr_array_extend_and_steal (messages, result->messages);
  result->messages = messages;
  check_pass (img, result, false);
  qcow2_tool_close (img, 0, NULL);
  result->leaks_fixed = first.leaks > result->leaks ? first.leaks - result->leaks : 0;
  result->corruptions_fixed = first.corruptions > result->corruptions
                              ? first.corruptions - result->corruptions : 0;
  return TRUE;
}
