/* The image operations of qcow2.h, judged by qemu-img: create, info,
 * check and repair, internal snapshots, resize, commit, rebase. */
#include "qcow2-test.h"

#include <string.h>
#include <unistd.h>

typedef struct {
  uint32_t cluster_size;
  int      version;
  int      refcount_bits;
  VivQcow2Compression compression;
  uint64_t size;
} CreateCase;

static void
test_create (QFixture *f, gconstpointer data)
{
  const CreateCase *c = data;
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = qt_path (f, "new.qcow2");
  VivQcow2CreateOptions options = {
    .size = c->size, .cluster_size = c->cluster_size, .version = c->version,
    .refcount_bits = c->refcount_bits, .compression = c->compression,
  };
  GError *error = NULL;
  g_assert_true (viv_qcow2_create (img, &options, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);

  g_autofree char *json = NULL;
  g_assert_cmpint (qt_run (&json, "qemu-img info --output=json %s", img), ==, 0);
  g_autofree char *size = g_strdup_printf ("\"virtual-size\": %" G_GUINT64_FORMAT, c->size);
  g_autofree char *cluster = g_strdup_printf ("\"cluster-size\": %u", c->cluster_size);
  g_autofree char *refbits = g_strdup_printf ("\"refcount-bits\": %d", c->refcount_bits);
  g_assert_nonnull (strstr (json, size));
  g_assert_nonnull (strstr (json, cluster));
  g_assert_nonnull (strstr (json, refbits));
  g_assert_nonnull (strstr (json, c->version == 2 ? "\"compat\": \"0.10\"" : "\"compat\": \"1.1\""));
  if (c->compression == VIV_QCOW2_COMPRESSION_ZSTD)
    g_assert_nonnull (strstr (json, "zstd"));

  /* Exists already: refused, the file kept. */
  g_assert_false (viv_qcow2_create (img, &options, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);

  g_autoptr (VivQcow2Info) info = viv_qcow2_info (img, true, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->virtual_size, ==, c->size);
  g_assert_cmpuint (info->cluster_size, ==, c->cluster_size);
  g_assert_cmpint (info->refcount_bits, ==, c->refcount_bits);
  g_assert_cmpuint (info->allocated_bytes, ==, 0);
  g_assert_false (info->dirty || info->corrupt);
}

static void
test_create_errors (QFixture *f, gconstpointer data)
{
  g_autofree char *img = qt_path (f, "bad.qcow2");
  struct { VivQcow2CreateOptions options; const char *what; } cases[] = {
    { { .size = 1 << 20, .cluster_size = 3000 }, "power of two" },
    { { .size = 1 << 20, .cluster_size = 4 << 20 }, "2 MiB" },
    { { .size = 1000 }, "multiple of 512" },
    { { .size = 1 << 20, .refcount_bits = 3 }, "refcount width" },
    { { .size = 1 << 20, .version = 2, .refcount_bits = 8 }, "16-bit" },
    { { .size = 1 << 20, .version = 2, .compression = VIV_QCOW2_COMPRESSION_ZSTD }, "zstd" },
    { { .size = 1 << 20, .backing_file = "base.raw" }, "format" },
    { { .size = 1 << 20, .backing_file = "missing.raw", .backing_format = "raw" }, "missing" },
    { { .size = 1 << 20, .backing_file = "x.vmdk", .backing_format = "vmdk" }, "vmdk" },
    { { .size = 1ull << 50, .cluster_size = 512 }, "larger clusters" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    GError *error = NULL;
    g_assert_false (viv_qcow2_create (img, &cases[i].options, &error));
    g_assert_nonnull (error);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, cases[i].what));
    g_clear_error (&error);
    g_assert_false (g_file_test (img, G_FILE_TEST_EXISTS));
  }
}

static void
write_pattern (QFixture *f, const char *img, uint64_t off, size_t len, uint32_t seed)
{
  VivBlock *blk = qt_open_ok (f, img, "qcow2", false);
  g_autofree uint8_t *buf = g_malloc (len);
  qt_fill (buf, len, seed);
  g_assert_cmpint (qt_write (f, blk, off, buf, len), ==, 0);
  viv_block_close (blk);
}

static void
test_snapshots (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = qt_path (f, "snap.qcow2");
  g_autofree char *v1 = qt_path (f, "v1.raw");
  g_autofree char *v2 = qt_path (f, "v2.raw");
  VivQcow2CreateOptions options = { .size = 16 << 20, .cluster_size = 4096 };
  GError *error = NULL;
  g_assert_true (viv_qcow2_create (img, &options, &error));
  write_pattern (f, img, 0, 3 << 20, 1);
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -O raw %s %s", img, v1), ==, 0);

  g_assert_true (viv_qcow2_snapshot_create (img, "one", &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_assert_false (viv_qcow2_snapshot_create (img, "one", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  /* Writes after the snapshot copy the shared clusters. */
  write_pattern (f, img, 1 << 20, 3 << 20, 2);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -O raw %s %s", img, v2), ==, 0);
  g_autofree char *snap_view = qt_path (f, "one.raw");
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -l one -O raw %s %s", img, snap_view), ==, 0);
  g_assert_cmpint (qt_run (NULL, "cmp -s %s %s", snap_view, v1), ==, 0);

  g_assert_true (viv_qcow2_snapshot_create (img, "two", &error));
  g_autofree char *list = NULL;
  qt_run (&list, "qemu-img snapshot -l %s", img);
  g_assert_nonnull (strstr (list, "one"));
  g_assert_nonnull (strstr (list, "two"));
  g_autoptr (GPtrArray) ours = viv_qcow2_snapshot_list (img, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ours->len, ==, 2);
  VivQcow2SnapshotInfo *second = g_ptr_array_index (ours, 1);
  g_assert_cmpstr (second->id, ==, "2");
  g_assert_cmpstr (second->name, ==, "two");
  g_assert_cmpuint (second->disk_size, ==, 16 << 20);

  /* Back to "one" (by id), then forward to "two" (by name). */
  g_assert_true (viv_qcow2_snapshot_apply (img, "1", &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  VivBlock *blk = qt_open_ok (f, img, "qcow2", true);
  qt_assert_same_as_raw (f, blk, v1);
  viv_block_close (blk);
  g_assert_true (viv_qcow2_snapshot_apply (img, "two", &error));
  blk = qt_open_ok (f, img, "qcow2", true);
  qt_assert_same_as_raw (f, blk, v2);
  viv_block_close (blk);

  g_assert_true (viv_qcow2_snapshot_delete (img, "one", &error));
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_assert_true (viv_qcow2_snapshot_delete (img, "two", &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_assert_false (viv_qcow2_snapshot_delete (img, "two", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  blk = qt_open_ok (f, img, "qcow2", true);
  qt_assert_same_as_raw (f, blk, v2);
  viv_block_close (blk);
  /* Deleting every snapshot gives all clusters back: no shared flags left. */
  g_autofree char *out = NULL;
  qt_run (&out, "qemu-img check %s", img);
  g_assert_nonnull (strstr (out, "No errors"));
}

static void
test_resize (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = qt_path (f, "grow.qcow2");
  /* 512-byte clusters: 1 MiB per L2 table, so growing moves the L1 table. */
  VivQcow2CreateOptions options = { .size = 4 << 20, .cluster_size = 512 };
  GError *error = NULL;
  g_assert_true (viv_qcow2_create (img, &options, &error));
  write_pattern (f, img, 0, 4 << 20, 3);
  g_assert_true (viv_qcow2_resize (img, 64 << 20, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  write_pattern (f, img, 60 << 20, 1 << 20, 4);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  qt_assert_reads_as_qemu (f, img);

  g_assert_false (viv_qcow2_resize (img, 32 << 20, &error));
  g_assert_nonnull (strstr (error->message, "refused"));
  g_clear_error (&error);
  g_assert_true (viv_qcow2_resize (img, 62 << 20, &error));
  g_assert_no_error (error);
  g_autofree char *json = NULL;
  qt_run (&json, "qemu-img info --output=json %s", img);
  g_assert_nonnull (strstr (json, "\"virtual-size\": 65011712"));
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
}

static void
test_commit (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *base = qt_path (f, "base.qcow2");
  g_autofree char *top = qt_path (f, "top.qcow2");
  g_autofree char *view = qt_path (f, "view.raw");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 %s 8M", base), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", base, "write -P 0x31 0 8M"), ==, 0);
  VivQcow2CreateOptions options = { .backing_file = "base.qcow2", .backing_format = "qcow2" };
  GError *error = NULL;
  g_assert_true (viv_qcow2_create (top, &options, &error));
  g_assert_no_error (error);
  write_pattern (f, top, 100 << 10, 300 << 10, 5);
  VivBlock *blk = qt_open_ok (f, top, "qcow2", false);
  g_assert_cmpint (qt_zeroes (f, blk, 2 << 20, 1 << 20), ==, 0);
  viv_block_close (blk);
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -O raw %s %s", top, view), ==, 0);

  g_assert_true (viv_qcow2_commit (top, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (base), ==, 0);
  blk = qt_open_ok (f, base, "qcow2", true);
  qt_assert_same_as_raw (f, blk, view);
  viv_block_close (blk);
}

static void
test_rebase (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *old_base = qt_path (f, "old.raw");
  g_autofree char *new_base = qt_path (f, "new.qcow2");
  g_autofree char *top = qt_path (f, "top.qcow2");
  g_autofree char *view = qt_path (f, "view.raw");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f raw %s 4M", old_base), ==, 0);
  g_assert_cmpint (qt_qemu_io ("raw", old_base, "write -P 0x41 0 2M"), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 %s 4M", new_base), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", new_base, "write -P 0x41 0 1M"), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", new_base, "write -P 0x42 3M 1M"), ==, 0);
  VivQcow2CreateOptions options = { .backing_file = "old.raw", .backing_format = "raw" };
  GError *error = NULL;
  g_assert_true (viv_qcow2_create (top, &options, &error));
  write_pattern (f, top, 512 << 10, 64 << 10, 6);
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -O raw %s %s", top, view), ==, 0);

  g_assert_true (viv_qcow2_rebase (top, "new.qcow2", "qcow2", false, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (top), ==, 0);
  g_autofree char *info = NULL;
  qt_run (&info, "qemu-img info %s", top);
  g_assert_nonnull (strstr (info, "new.qcow2"));
  qt_assert_reads_as_qemu (f, top);
  VivBlock *blk = qt_open_ok (f, top, "qcow2", true);
  qt_assert_same_as_raw (f, blk, view);
  viv_block_close (blk);

  /* To no backing file at all: the image then holds everything. */
  g_assert_true (viv_qcow2_rebase (top, NULL, NULL, false, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qt_qemu_check (top), ==, 0);
  blk = qt_open_ok (f, top, "qcow2", true);
  qt_assert_same_as_raw (f, blk, view);
  viv_block_close (blk);
}

static int
our_check (const char *img, VivQcow2Repair repair, VivQcow2CheckResult *result)
{
  GError *error = NULL;
  g_assert_true (viv_qcow2_check (img, repair, result, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < result->messages->len; i++)
    g_test_message ("%s", (char *) g_ptr_array_index (result->messages, i));
  return viv_qcow2_check_exit_status (result);
}

/* The refcount block of a qemu-img image with 64 KiB clusters and 16-bit
 * refcounts is at cluster 2; cluster N's refcount at 2N there. */
static void
poke_refcount (const char *img, uint64_t cluster, uint16_t value)
{
  uint64_t block = qt_peek_be64 (img, qt_peek_be64 (img, 48));
  value = GUINT16_TO_BE (value);
  qt_poke (img, block + cluster * 2, &value, 2);
}

static void
test_check_repair (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = qt_path (f, "check.qcow2");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 %s 16M", img), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", img, "write -P 0x51 0 1M"), ==, 0);
  VivQcow2CheckResult result;
  g_assert_cmpint (our_check (img, VIV_QCOW2_REPAIR_NONE, &result), ==, 0);
  g_assert_cmpuint (result.allocated_clusters, ==, 16);
  g_assert_cmpuint (result.total_clusters, ==, 256);
  viv_qcow2_check_result_clear (&result);

  /* A leak: a refcount on a cluster nothing uses (the file grown by a
   * few clusters first: refcounts past its end are not looked at). */
  size_t len;
  g_free (qt_slurp (img, &len));
  uint64_t spare = (len + 65535) / 65536 + 1;
  uint8_t byte = 0;
  qt_poke (img, (spare + 2) * 65536 - 1, &byte, 1);
  poke_refcount (img, spare, 1);
  g_assert_cmpint (qt_qemu_check (img), ==, 3);
  g_assert_cmpint (our_check (img, VIV_QCOW2_REPAIR_NONE, &result), ==, 3);
  g_assert_cmpuint (result.leaks, ==, 1);
  viv_qcow2_check_result_clear (&result);
  g_assert_cmpint (our_check (img, VIV_QCOW2_REPAIR_LEAKS, &result), ==, 0);
  g_assert_cmpuint (result.leaks_fixed, ==, 1);
  viv_qcow2_check_result_clear (&result);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);

  /* A corruption: a data cluster whose refcount says free.  Leaks-only
   * repair leaves it; -r all fixes it, and the corrupt bit with it. */
  uint64_t l1 = qt_peek_be64 (img, 40);
  uint64_t l2 = qt_peek_be64 (img, l1) & 0x00fffffffffffe00ull;
  uint64_t data_cluster = (qt_peek_be64 (img, l2) & 0x00fffffffffffe00ull) / 65536;
  poke_refcount (img, data_cluster, 0);
  qt_poke_be64 (img, 72, 2);   /* corrupt bit */
  g_assert_cmpint (qt_qemu_check (img), ==, 2);
  g_assert_cmpint (our_check (img, VIV_QCOW2_REPAIR_LEAKS, &result), ==, 2);
  viv_qcow2_check_result_clear (&result);
  g_assert_cmpint (our_check (img, VIV_QCOW2_REPAIR_LEAKS | VIV_QCOW2_REPAIR_ERRORS, &result),
                   ==, 0);
  g_assert_cmpuint (result.corruptions_fixed, >=, 1);
  viv_qcow2_check_result_clear (&result);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_assert_cmpuint (qt_peek_be64 (img, 72), ==, 0);
  qt_assert_reads_as_qemu (f, img);
}

static const CreateCase create_cases[] = {
  { 65536, 3, 16, VIV_QCOW2_COMPRESSION_ZLIB, 1 << 30 },
  { 512, 3, 16, VIV_QCOW2_COMPRESSION_ZLIB, 64 << 20 },
  { 4096, 3, 1, VIV_QCOW2_COMPRESSION_ZLIB, 100 << 20 },
  { 2 << 20, 3, 64, VIV_QCOW2_COMPRESSION_ZSTD, 10ull << 30 },
  { 65536, 3, 8, VIV_QCOW2_COMPRESSION_ZSTD, 0 },
  { 65536, 2, 16, VIV_QCOW2_COMPRESSION_ZLIB, 1 << 30 },
  { 512, 3, 64, VIV_QCOW2_COMPRESSION_ZLIB, 1 << 30 },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (create_cases); i++) {
    const CreateCase *c = &create_cases[i];
    g_autofree char *name = g_strdup_printf ("/viv/qcow2/tools/create-c%u-v%d-r%d-%s",
                                             c->cluster_size, c->version, c->refcount_bits,
                                             c->compression ? "zstd" : "zlib");
    g_test_add (name, QFixture, c, qt_setup, test_create, qt_teardown);
  }
  g_test_add ("/viv/qcow2/tools/create-errors", QFixture, NULL, qt_setup, test_create_errors,
              qt_teardown);
  g_test_add ("/viv/qcow2/tools/snapshots", QFixture, NULL, qt_setup, test_snapshots,
              qt_teardown);
  g_test_add ("/viv/qcow2/tools/resize", QFixture, NULL, qt_setup, test_resize, qt_teardown);
  g_test_add ("/viv/qcow2/tools/commit", QFixture, NULL, qt_setup, test_commit, qt_teardown);
  g_test_add ("/viv/qcow2/tools/rebase", QFixture, NULL, qt_setup, test_rebase, qt_teardown);
  g_test_add ("/viv/qcow2/tools/check-repair", QFixture, NULL, qt_setup, test_check_repair,
              qt_teardown);
  return g_test_run ();
}
