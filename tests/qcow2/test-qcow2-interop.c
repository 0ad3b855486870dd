/* Images made by QEMU (qemu-img, qemu-io) read back through VivBlock
 * exactly as qemu-img convert -O raw reads them: cluster sizes, refcount
 * widths, v2, zero clusters, discards, compressed clusters (zlib, zstd),
 * internal snapshots, backing chains.  And our writes into QEMU's images
 * keep them clean for qemu-img check. */
#include "qcow2-test.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

typedef struct {
  unsigned    cluster_size;
  unsigned    refcount_bits;
  const char *compat;
} Layout;

static void
qemu_create (const char *path, const Layout *l, const char *size)
{
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -o cluster_size=%u,"
                           "refcount_bits=%u,compat=%s %s %s", l->cluster_size,
                           l->refcount_bits, l->compat, path, size), ==, 0);
}

/* Data, zero clusters and discards at awkward places. */
static void
qemu_fill (const char *path)
{
  static const char *const commands[] = {
    "write -P 0x11 0 100k",
    "write -P 0x22 1000k 3k",
    "write -P 0x33 2047k 2k",
    "write -P 0x44 5M 1M",
    "write -z 5200k 300k",
    "write -z 0 64k",
    "discard 5632k 128k",
    "write -P 0x55 7M 512",
    "write -z -u 6M 256k",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    g_assert_cmpint (qt_qemu_io ("qcow2", path, commands[i]), ==, 0);
}

static void
test_layout (QFixture *f, gconstpointer data)
{
  const Layout *l = data;
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = qt_path (f, "qemu.qcow2");
  qemu_create (img, l, "8M");
  qemu_fill (img);
  qt_assert_reads_as_qemu (f, img);
}

/* Compressed images from qemu-img convert -c, zlib and zstd; then our
 * writes over compressed clusters (copy, free the old) stay clean. */
static void
test_compressed (QFixture *f, gconstpointer data)
{
  const char *type = data;
  if (!qt_have_qemu ())
    return;
  g_autofree char *raw = qt_path (f, "source.raw");
  g_autofree char *img = qt_path (f, "compressed.qcow2");
  const size_t size = 4 << 20;
  g_autofree uint8_t *content = g_malloc0 (size);
  for (size_t i = 0; i < size / 2; i++)
    content[i] = (uint8_t) ("compressible text "[i % 18]);
  qt_fill (content + size / 2, size / 4, 5);   /* incompressible */
  g_assert_true (g_file_set_contents (raw, (char *) content, size, NULL));
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -c -f raw -O qcow2 -o compression_type=%s "
                           "%s %s", type, raw, img), ==, 0);
  g_autofree char *info = NULL;
  qt_run (&info, "qemu-img info %s", img);
  g_assert_nonnull (strstr (info, type));
  qt_assert_reads_as_qemu (f, img);

  VivBlock *blk = qt_open_ok (f, img, "qcow2", false);
  uint8_t buf[3072];
  qt_fill (buf, sizeof buf, 1);
  g_assert_cmpint (qt_write (f, blk, 65536 * 3 + 1024, buf, sizeof buf), ==, 0);
  memcpy (content + 65536 * 3 + 1024, buf, sizeof buf);
  g_assert_cmpint (qt_zeroes (f, blk, 65536 * 5, 65536), ==, 0);
  memset (content + 65536 * 5, 0, 65536);
  g_assert_cmpint (qt_discard (f, blk, 65536 * 6, 65536 * 2), ==, 0);
  memset (content + 65536 * 6, 0, 65536 * 2);
  viv_block_close (blk);
  g_assert_true (g_file_set_contents (raw, (char *) content, size, NULL));
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img compare -f qcow2 -F raw %s %s", img, raw), ==, 0);
}

typedef struct {
  const char         *type;
  VivQcow2Compression compression;
  uint32_t            cluster_size;
  int                 refcount_bits;
} OurCompressed;

typedef struct {
  QFixture *f;
  int       pending;
  int       last_ret;
} Waiter;

static void
waiter_done (void *opaque, int ret)
{
  Waiter *w = opaque;
  w->pending--;
  if (ret != 0)
    w->last_ret = ret;
}

static void
waiter_wait (Waiter *w)
{
  while (w->pending)
    g_main_context_iteration (w->f->context, TRUE);
}

/* Our compressed writes (viv_qcow2_write_compressed): packed several to
 * a host cluster where refcounts allow, spilling across host clusters,
 * the partial last cluster, data that does not shrink stored as it is;
 * qemu-img must find the image clean, equal to the data, and map the
 * compressed clusters as compressed. */
static void
test_our_compressed (QFixture *f, gconstpointer data)
{
  const OurCompressed *c = data;
  if (!qt_have_qemu ())
    return;
  g_autofree char *raw = qt_path (f, "source.raw");
  g_autofree char *img = qt_path (f, "ours.qcow2");
  const uint64_t cs = c->cluster_size, clusters = (4 << 20) / cs;
  const size_t size = clusters * cs + 1536;   /* a partial last cluster */
  g_autofree uint8_t *content = g_malloc0 (size);
  const size_t text_end = clusters / 2 * cs, noise_end = clusters * 3 / 4 * cs;
  for (size_t i = 0; i < text_end; i++)
    content[i] = (uint8_t) ("compressible text, more or less "[(i * 3 + i / 4096) % 32]);
  qt_fill (content + text_end, noise_end - text_end, 5);   /* incompressible */
  memset (content + size - 1536, 'z', 1536);
  g_assert_true (g_file_set_contents (raw, (char *) content, size, NULL));
  VivQcow2CreateOptions options = {
    .size = size, .cluster_size = c->cluster_size, .refcount_bits = c->refcount_bits,
    .compression = c->compression,
  };
  GError *error = NULL;
  g_assert_true (viv_qcow2_create (img, &options, &error));
  g_assert_no_error (error);

  VivBlock *blk = qt_open_ok (f, img, "qcow2", false);
  g_assert_cmpint (viv_qcow2_write_compressed (blk, 256, content, cs, NULL, NULL), ==, -EINVAL);
  g_assert_cmpint (viv_qcow2_write_compressed (blk, 0, content, cs / 2, NULL, NULL), ==,
                   -EINVAL);
  /* All in flight at once, in the queue's order. */
  Waiter w = { f, 0, 0 };
  uint64_t expect_compressed = 0;
  for (uint64_t off = 0; off < size; off += cs) {
    size_t n = MIN (cs, size - off);
    if (off >= noise_end && off + n <= size - 1536)
      continue;   /* zeroes: left unallocated */
    expect_compressed += off < text_end || off >= size - 1536;
    w.pending++;
    g_assert_cmpint (viv_qcow2_write_compressed (blk, off, content + off, n, waiter_done, &w),
                     ==, 0);
  }
  waiter_wait (&w);
  g_assert_cmpint (w.last_ret, ==, 0);
  /* Allocated clusters are never overwritten compressed. */
  w.pending++;
  g_assert_cmpint (viv_qcow2_write_compressed (blk, cs, content, cs, waiter_done, &w), ==, 0);
  waiter_wait (&w);
  g_assert_cmpint (w.last_ret, ==, -EEXIST);
  g_autofree uint8_t *back = g_malloc (size);
  g_assert_cmpint (qt_read (f, blk, 0, back, size), ==, 0);
  g_assert_true (memcmp (back, content, size) == 0);
  viv_block_close (blk);

  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img compare -f qcow2 -F raw %s %s", img, raw), ==, 0);
  g_autofree char *info = NULL;
  g_assert_cmpint (qt_run (&info, "qemu-img info %s", img), ==, 0);
  g_assert_nonnull (strstr (info, c->type));
  g_autofree char *map = NULL;
  g_assert_cmpint (qt_run (&map, "qemu-img map --output=json %s", img), ==, 0);
  /* QEMU ≥ 8 says "compressed": true; older ones give compressed data no
   * host "offset" (the entry ends after "data"). */
  g_assert_true (strstr (map, "\"compressed\": true") || strstr (map, "\"data\": true}"));
  VivQcow2CheckResult result = { 0 };
  g_assert_true (viv_qcow2_check (img, VIV_QCOW2_REPAIR_NONE, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (result.corruptions + result.leaks, ==, 0);
  g_assert_cmpuint (result.compressed_clusters, ==, expect_compressed);
  viv_qcow2_check_result_clear (&result);
  /* Packed (where a host cluster may hold several): the compressible
   * half takes far less than its size. */
  size_t file_len;
  g_free (qt_slurp (img, &file_len));
  if (c->refcount_bits > 1)
    g_assert_cmpuint (file_len, <, size / 2);
  qt_assert_reads_as_qemu (f, img);
}

/* Internal snapshots made by qemu-img: the active layer and the snapshot
 * read as QEMU reads them; our writes copy shared clusters; applying and
 * deleting the snapshot with our tools keeps the image clean. */
static void
test_qemu_snapshot (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = qt_path (f, "snap.qcow2");
  g_autofree char *before = qt_path (f, "before.raw");
  Layout l = { 65536, 16, "1.1" };
  qemu_create (img, &l, "8M");
  qemu_fill (img);
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -O raw %s %s", img, before), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img snapshot -c first %s", img), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", img, "write -P 0x66 64k 200k"), ==, 0);
  qt_assert_reads_as_qemu (f, img);

  /* Our writes into shared clusters: the snapshot keeps its data. */
  VivBlock *blk = qt_open_ok (f, img, "qcow2", false);
  uint8_t buf[8192];
  qt_fill (buf, sizeof buf, 8);
  g_assert_cmpint (qt_write (f, blk, 4096, buf, sizeof buf), ==, 0);
  g_assert_cmpint (qt_write (f, blk, (5 << 20) + 512, buf, sizeof buf), ==, 0);
  g_assert_cmpint (qt_discard (f, blk, 1 << 20, 1 << 20), ==, 0);
  viv_block_close (blk);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  qt_assert_reads_as_qemu (f, img);
  blk = qt_open_ok (f, img, "qcow2", true);
  g_autofree uint8_t *back = g_malloc (sizeof buf);
  g_assert_cmpint (qt_read (f, blk, 4096, back, sizeof buf), ==, 0);
  g_assert_true (memcmp (back, buf, sizeof buf) == 0);
  viv_block_close (blk);

  g_autofree char *snap = qt_path (f, "snap-view.raw");
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -l first -O raw %s %s", img, snap), ==, 0);
  g_assert_cmpint (qt_run (NULL, "cmp -s %s %s", snap, before), ==, 0);

  GError *error = NULL;
  g_assert_true (viv_qcow2_snapshot_apply (img, "first", &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  blk = qt_open_ok (f, img, "qcow2", true);
  qt_assert_same_as_raw (f, blk, before);
  viv_block_close (blk);
  g_assert_true (viv_qcow2_snapshot_delete (img, "first", &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_autofree char *list = NULL;
  qt_run (&list, "qemu-img snapshot -l %s", img);
  g_assert_null (strstr (list, "first"));
}

/* raw ← qcow2 ← qcow2, relative names, each layer written by qemu-io. */
static void
test_chain (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *base = qt_path (f, "base.raw");
  g_autofree char *mid = qt_path (f, "mid.qcow2");
  g_autofree char *top = qt_path (f, "top.qcow2");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f raw %s 6M", base), ==, 0);
  g_assert_cmpint (qt_qemu_io ("raw", base, "write -P 0x01 0 6M"), ==, 0);
  /* The middle layer is larger than its backing file: zeroes past it. */
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -o cluster_size=4096 -b "
                           "base.raw -F raw %s 8M", mid), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", mid, "write -P 0x02 1M 1M"), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", mid, "write -z 3M 64k"), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 %s", top),
                   ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", top, "write -P 0x03 1500k 1M"), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", top, "write -z 7M 100k"), ==, 0);
  qt_assert_reads_as_qemu (f, top);

  GError *error = NULL;
  g_autoptr (VivQcow2Info) info = viv_qcow2_info (top, true, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->chain->len, ==, 2);
  VivQcow2ChainLink *link = g_ptr_array_index (info->chain, 1);
  g_assert_cmpstr (link->format, ==, "raw");
  g_assert_cmpuint (link->virtual_size, ==, 6 << 20);
}

/* A chain 20 deep (deeper than most tools go) reads right. */
static void
test_deep_chain (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *prev = NULL;
  g_autofree char *path = NULL;
  for (int i = 0; i < 20; i++) {
    g_free (path);
    path = g_strdup_printf ("%s/layer%d.qcow2", f->dir, i);
    if (prev)
      g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -b %s -F qcow2 %s", prev,
                               path), ==, 0);
    else
      g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 %s 2M", path), ==, 0);
    g_autofree char *cmd = g_strdup_printf ("write -P %d %dk 64k", i + 1, i * 48);
    g_assert_cmpint (qt_qemu_io ("qcow2", path, cmd), ==, 0);
    g_free (prev);
    prev = g_strdup (path);
  }
  qt_assert_reads_as_qemu (f, path);
}

static const Layout layouts[] = {
  { 4096, 16, "1.1" },
  { 65536, 16, "1.1" },
  { 2 << 20, 16, "1.1" },
  { 512, 16, "1.1" },
  { 65536, 1, "1.1" },
  { 65536, 2, "1.1" },
  { 4096, 8, "1.1" },
  { 65536, 32, "1.1" },
  { 16384, 64, "1.1" },
  { 65536, 16, "0.10" },
  { 4096, 16, "0.10" },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (layouts); i++) {
    g_autofree char *name = g_strdup_printf ("/viv/qcow2/interop/qemu-c%u-r%u-compat%s",
                                             layouts[i].cluster_size,
                                             layouts[i].refcount_bits, layouts[i].compat);
    g_test_add (name, QFixture, &layouts[i], qt_setup, test_layout, qt_teardown);
  }
  g_test_add ("/viv/qcow2/interop/compressed-zlib", QFixture, "zlib", qt_setup,
              test_compressed, qt_teardown);
  g_test_add ("/viv/qcow2/interop/compressed-zstd", QFixture, "zstd", qt_setup,
              test_compressed, qt_teardown);
  static const OurCompressed ours[] = {
    { "zlib", VIV_QCOW2_COMPRESSION_ZLIB, 65536, 16 },
    { "zstd", VIV_QCOW2_COMPRESSION_ZSTD, 65536, 16 },
    { "zlib", VIV_QCOW2_COMPRESSION_ZLIB, 512, 16 },
    { "zstd", VIV_QCOW2_COMPRESSION_ZSTD, 4096, 1 },   /* refcount 1: no sharing */
  };
  for (size_t i = 0; i < G_N_ELEMENTS (ours); i++) {
    g_autofree char *name = g_strdup_printf ("/viv/qcow2/interop/our-compressed-%s-c%u-r%d",
                                             ours[i].type, ours[i].cluster_size,
                                             ours[i].refcount_bits);
    g_test_add (name, QFixture, &ours[i], qt_setup, test_our_compressed, qt_teardown);
  }
  g_test_add ("/viv/qcow2/interop/qemu-snapshot", QFixture, NULL, qt_setup,
              test_qemu_snapshot, qt_teardown);
  g_test_add ("/viv/qcow2/interop/chain", QFixture, NULL, qt_setup, test_chain, qt_teardown);
  g_test_add ("/viv/qcow2/interop/deep-chain", QFixture, NULL, qt_setup, test_deep_chain,
              qt_teardown);
  return g_test_run ();
}
