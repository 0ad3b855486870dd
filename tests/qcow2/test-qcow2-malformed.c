/* Broken and unsupported images: a clear error naming the problem, never
 * a crash (this suite also runs under ASan and UBSan).  Each image starts
 * as a good one from qemu-img and has bytes patched. */
#include "qcow2-test.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A 4 MiB image, 64 KiB clusters, some data; returns its path. */
static char *
good_image (QFixture *f, const char *name)
{
  char *img = qt_path (f, name);
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 %s 4M", img), ==, 0);
  g_assert_cmpint (qt_qemu_io ("qcow2", img, "write -P 0x61 0 256k"), ==, 0);
  return img;
}

static void
assert_open_fails (QFixture *f, const char *img, bool read_only, const char *words)
{
  GError *error = NULL;
  VivBlock *blk = qt_open (f, img, "qcow2", read_only, &error);
  g_assert_null (blk);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  if (!strstr (error->message, words))
    g_error ("“%s” does not say “%s”", error->message, words);
  g_clear_error (&error);
  /* The tools refuse it the same way (or check it, for check). */
  if (read_only) {
    VivQcow2Info *info = viv_qcow2_info (img, true, &error);
    g_assert_null (info);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }
}

typedef struct {
  const char *name;
  uint64_t    offset;      /* header field */
  int         width;       /* 4 or 8 bytes */
  uint64_t    value;
  const char *words;
} HeaderPatch;

static const HeaderPatch patches[] = {
  { "bad-magic", 0, 4, 0x12345678, "not a qcow2 image" },
  { "version-4", 4, 4, 4, "version 4" },
  { "cluster-bits-30", 20, 4, 30, "cluster size" },
  { "cluster-bits-8", 20, 4, 8, "cluster size" },
  { "aes", 32, 4, 1, "encrypted" },
  { "luks", 32, 4, 2, "LUKS" },
  { "l1-past-eof", 40, 8, 1ull << 40, "L1 table lies outside" },
  { "l1-misaligned", 40, 8, 0x30200, "L1 table lies outside" },
  { "l1-huge", 36, 4, 0x0fffffff, "larger than 32 MiB" },
  { "l1-too-small", 24, 8, 1ull << 40, "too small" },
  { "l1-on-header", 40, 8, 0, "L1 table" },
  { "l1-on-reftable", 40, 8, 0x10000, "overlap" },
  { "reftable-past-eof", 48, 8, 1ull << 40, "refcount table lies outside" },
  { "reftable-huge", 56, 4, 0x7fffffff, "refcount table size" },
  { "reftable-none", 56, 4, 0, "refcount table size" },
  { "snapshots-past-eof", 60, 4, 3, "snapshot table" },
  { "snapshot-count-huge", 60, 4, 0x7fffffff, "too many snapshots" },
  { "unknown-incompatible-bit", 72, 8, 1ull << 5, "bit 5" },
  { "external-data-file", 72, 8, 1ull << 2, "external data file" },
  { "extended-l2", 72, 8, 1ull << 4, "subclusters" },
  { "zstd-bit-without-type", 72, 8, 1ull << 3, "compression type" },
  { "refcount-order-7", 96, 4, 7, "refcount width" },
  { "header-length-odd", 100, 4, 107, "header length" },
  { "header-length-huge", 100, 4, 0x100000, "header length" },
  { "backing-name-outside", 8, 8, 0x20000, "backing file name" },
  { "virtual-size-huge", 24, 8, 1ull << 62, "virtual size" },
};

static void
test_header_patch (QFixture *f, gconstpointer data)
{
  const HeaderPatch *p = data;
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = good_image (f, "bad.qcow2");
  if (g_str_equal (p->name, "snapshots-past-eof"))
    qt_poke_be64 (img, 64, 1ull << 40);
  if (g_str_equal (p->name, "backing-name-outside"))
    qt_poke_be32 (img, 16, 100);
  if (p->width == 8)
    qt_poke_be64 (img, p->offset, p->value);
  else
    qt_poke_be32 (img, p->offset, (uint32_t) p->value);
  assert_open_fails (f, img, true, p->words);
}

/* The image's first L2 entry (guest cluster 0), its L2 table's offset. */
static uint64_t
first_l2_table (const char *img)
{
  return qt_peek_be64 (img, qt_peek_be64 (img, 40)) & 0x00fffffffffffe00ull;
}

static void
assert_read_fails (QFixture *f, const char *img, uint64_t off, bool others_read)
{
  VivBlock *blk = qt_open_ok (f, img, "qcow2", true);
  uint8_t buf[4096];
  g_assert_cmpint (qt_read (f, blk, off, buf, sizeof buf), ==, -EIO);
  /* Other clusters (mapped by a good table) still read. */
  if (others_read)
    g_assert_cmpint (qt_read (f, blk, 1 << 20, buf, sizeof buf), ==, 0);
  viv_block_close (blk);
}

static void
test_bad_pointers (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = good_image (f, "data-past-eof.qcow2");
  qt_poke_be64 (img, first_l2_table (img), (1ull << 63) | (1ull << 40));
  assert_read_fails (f, img, 0, true);

  g_autofree char *img2 = good_image (f, "data-on-l1.qcow2");
  qt_poke_be64 (img2, first_l2_table (img2), (1ull << 63) | qt_peek_be64 (img2, 40));
  assert_read_fails (f, img2, 0, true);

  g_autofree char *img3 = good_image (f, "l2-past-eof.qcow2");
  qt_poke_be64 (img3, qt_peek_be64 (img3, 40), (1ull << 63) | (1ull << 40));
  assert_read_fails (f, img3, 0, false);

  /* Writes through such a pointer fail too, and nothing else breaks. */
  VivBlock *blk = qt_open_ok (f, img2, "qcow2", false);
  uint8_t buf[4096] = { 0 };
  g_assert_cmpint (qt_write (f, blk, 0, buf, sizeof buf), ==, -EIO);
  viv_block_close (blk);

  /* A refcount block pointer past the end. */
  g_autofree char *img4 = good_image (f, "refblock-past-eof.qcow2");
  qt_poke_be64 (img4, qt_peek_be64 (img4, 48), 1ull << 40);
  assert_open_fails (f, img4, true, "refcount block");
}

static void
test_bad_compressed (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *raw = qt_path (f, "src.raw");
  g_autofree char *img = qt_path (f, "c.qcow2");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f raw %s 2M", raw), ==, 0);
  g_assert_cmpint (qt_qemu_io ("raw", raw, "write -P 0x77 0 2M"), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -c -O qcow2 %s %s", raw, img), ==, 0);
  uint64_t entry = qt_peek_be64 (img, first_l2_table (img));
  uint64_t coffset = entry & ((1ull << 54) - 1);
  uint8_t junk[64];
  memset (junk, 0xff, sizeof junk);
  qt_poke (img, coffset, junk, sizeof junk);
  assert_read_fails (f, img, 0, true);
}

static void
test_backing_loop (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *a = qt_path (f, "a.qcow2");
  g_autofree char *b = qt_path (f, "b.qcow2");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 %s 1M", a), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 %s", b), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img rebase -u -b b.qcow2 -F qcow2 %s", a), ==, 0);
  assert_open_fails (f, b, true, "loops");
  assert_open_fails (f, a, false, "loops");

  /* Its own backing file, by another name. */
  g_autofree char *c = qt_path (f, "c.qcow2");
  g_autofree char *link = qt_path (f, "link.qcow2");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 %s 1M", c), ==, 0);
  g_assert_cmpint (symlink ("c.qcow2", link), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img rebase -u -b link.qcow2 -F qcow2 %s", c), ==, 0);
  assert_open_fails (f, c, true, "loops");

  g_autofree char *d = qt_path (f, "d.qcow2");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -b missing.qcow2 -F qcow2 -u "
                           "%s 1M", d), ==, 0);
  assert_open_fails (f, d, true, "missing.qcow2");
}

/* No backing format recorded: raw when the file is not qcow2, an error
 * naming the fix when it looks like qcow2. */
static void
test_backing_format_absent (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *raw = qt_path (f, "base.raw");
  g_autofree char *q = qt_path (f, "base.qcow2");
  g_autofree char *over_raw = qt_path (f, "over-raw.qcow2");
  g_autofree char *over_q = qt_path (f, "over-q.qcow2");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f raw %s 1M", raw), ==, 0);
  g_assert_cmpint (qt_qemu_io ("raw", raw, "write -P 0x21 0 1M"), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 %s 1M", q), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -b base.raw -F raw %s", over_raw),
                   ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 %s",
                           over_q), ==, 0);
  /* Turn the backing format extension into an unknown one. */
  const uint8_t type[4] = { 0xe2, 0x79, 0x2a, 0xca };
  qt_poke_be32 (over_raw, qt_find_bytes (over_raw, type, 4, 4096), 0x7e570001);
  qt_poke_be32 (over_q, qt_find_bytes (over_q, type, 4, 4096), 0x7e570001);

  VivBlock *blk = qt_open_ok (f, over_raw, "qcow2", true);
  uint8_t buf[512];
  g_assert_cmpint (qt_read (f, blk, 0, buf, sizeof buf), ==, 0);
  g_assert_cmpint (buf[0], ==, 0x21);
  viv_block_close (blk);
  assert_open_fails (f, over_q, true, "looks like qcow2");

  /* Unknown extensions survive our header rewrites (here: a rebase). */
  GError *error = NULL;
  g_assert_true (viv_qcow2_rebase (over_q, "base.qcow2", "qcow2", true, &error));
  g_assert_no_error (error);
  qt_find_bytes (over_q, "\x7e\x57\x00\x01", 4, 4096);
  g_assert_cmpint (qt_qemu_check (over_q), ==, 0);
}

static void
test_corrupt_bit (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = good_image (f, "corrupt.qcow2");
  qt_poke_be64 (img, 72, 1ull << 1);
  assert_open_fails (f, img, false, "marked corrupt");
  VivBlock *blk = qt_open_ok (f, img, "qcow2", true);
  uint8_t buf[512];
  g_assert_cmpint (qt_read (f, blk, 0, buf, sizeof buf), ==, 0);
  g_assert_cmpint (buf[0], ==, 0x61);
  viv_block_close (blk);
  GError *error = NULL;
  g_autoptr (VivQcow2Info) info = viv_qcow2_info (img, false, &error);
  g_assert_no_error (error);
  g_assert_true (info->corrupt);
}

/* The dirty bit (a lazy-refcounts writer stopped): read-only opens as is;
 * read-write rebuilds the refcounts first, then clears the bit. */
static void
test_dirty_bit (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = good_image (f, "dirty.qcow2");
  /* Stale refcounts, as lazy refcounts leave them: a data cluster at 0. */
  uint64_t data_cluster = qt_peek_be64 (img, first_l2_table (img)) & 0x00fffffffffffe00ull;
  uint64_t block = qt_peek_be64 (img, qt_peek_be64 (img, 48));
  uint16_t zero = 0;
  qt_poke (img, block + data_cluster / 65536 * 2, &zero, 2);
  qt_poke_be64 (img, 72, 1);
  VivBlock *blk = qt_open_ok (f, img, "qcow2", true);
  viv_block_close (blk);
  g_assert_cmpuint (qt_peek_be64 (img, 72), ==, 1);

  blk = qt_open_ok (f, img, "qcow2", false);
  uint8_t buf[65536];
  qt_fill (buf, sizeof buf, 4);
  g_assert_cmpint (qt_write (f, blk, 2 << 20, buf, sizeof buf), ==, 0);
  viv_block_close (blk);
  g_assert_cmpuint (qt_peek_be64 (img, 72), ==, 0);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  blk = qt_open_ok (f, img, "qcow2", true);
  uint8_t back[512];
  g_assert_cmpint (qt_read (f, blk, 0, back, sizeof back), ==, 0);
  g_assert_cmpint (back[0], ==, 0x61);
  viv_block_close (blk);
}

static void
test_qemu_refused (QFixture *f, gconstpointer data)
{
  if (!qt_have_qemu ())
    return;
  g_autofree char *ext = qt_path (f, "extl2.qcow2");
  g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f qcow2 -o extended_l2=on %s 1M", ext),
                   ==, 0);
  assert_open_fails (f, ext, true, "subclusters");

  g_autofree char *tiny = qt_path (f, "tiny.qcow2");
  g_assert_true (g_file_set_contents (tiny, "QFI\xfb", 4, NULL));
  assert_open_fails (f, tiny, true, "not a qcow2 image");
  g_autofree char *empty = qt_path (f, "empty.qcow2");
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  assert_open_fails (f, empty, true, "not a qcow2 image");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Broken tables are also logged as warnings (with structured logging,
   * g_test_expect_message cannot catch them): not fatal here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  for (size_t i = 0; i < G_N_ELEMENTS (patches); i++) {
    g_autofree char *name = g_strdup_printf ("/viv/qcow2/malformed/%s", patches[i].name);
    g_test_add (name, QFixture, &patches[i], qt_setup, test_header_patch, qt_teardown);
  }
  g_test_add ("/viv/qcow2/malformed/bad-pointers", QFixture, NULL, qt_setup,
              test_bad_pointers, qt_teardown);
  g_test_add ("/viv/qcow2/malformed/bad-compressed", QFixture, NULL, qt_setup,
              test_bad_compressed, qt_teardown);
  g_test_add ("/viv/qcow2/malformed/backing-loop", QFixture, NULL, qt_setup,
              test_backing_loop, qt_teardown);
  g_test_add ("/viv/qcow2/malformed/backing-format-absent", QFixture, NULL, qt_setup,
              test_backing_format_absent, qt_teardown);
  g_test_add ("/viv/qcow2/malformed/corrupt-bit", QFixture, NULL, qt_setup, test_corrupt_bit,
              qt_teardown);
  g_test_add ("/viv/qcow2/malformed/dirty-bit", QFixture, NULL, qt_setup, test_dirty_bit,
              qt_teardown);
  g_test_add ("/viv/qcow2/malformed/qemu-features-refused", QFixture, NULL, qt_setup,
              test_qemu_refused, qt_teardown);
  return g_test_run ();
}
