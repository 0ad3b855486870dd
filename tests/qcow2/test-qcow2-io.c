/* Guest I/O on images we create: random writes (partial clusters, over a
 * backing file, zeroes, discards, flushes) mirrored on a raw reference
 * file; then qemu-img check must be clean and qemu-img compare must agree.
 * meson runs this through io_uring and the synchronous fallback. */
#include "qcow2-test.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  uint32_t    cluster_size;
  int         version;
  int         refcount_bits;
  uint64_t    size;
  uint64_t    backing_size;    /* 0: no backing file */
  bool        discards;
  int         ops;
} Workload;

static void
create_ok (const char *path, const VivQcow2CreateOptions *options)
{
  GError *error = NULL;
  g_assert_true (viv_qcow2_create (path, options, &error));
  g_assert_no_error (error);
}

static void
make_raw (const char *path, uint64_t size, uint32_t seed)
{
  g_autofree uint8_t *data = g_malloc (size);
  qt_fill (data, size, seed);
  /* Holes too: some ranges of the base read as zeroes. */
  memset (data + size / 4, 0, size / 8);
  GError *error = NULL;
  g_assert_true (g_file_set_contents (path, (char *) data, (gssize) size, &error));
}

/* The reference: zeroes or a copy of the backing file, grown to size. */
static void
make_reference (const char *ref, const char *base, uint64_t size)
{
  g_autofree uint8_t *data = g_malloc0 (size);
  if (base) {
    size_t len;
    g_autofree uint8_t *b = qt_slurp (base, &len);
    memcpy (data, b, MIN (len, size));
  }
  GError *error = NULL;
  g_assert_true (g_file_set_contents (ref, (char *) data, (gssize) size, &error));
}

static void
run_workload (QFixture *f, VivBlock *blk, const char *ref_path, const Workload *w,
              uint32_t seed)
{
  int ref = open (ref_path, O_RDWR);
  g_assert_cmpint (ref, >=, 0);
  GRand *rand = g_rand_new_with_seed (seed);
  const size_t max_len = 1 << 20;
  g_autofree uint8_t *buf = g_malloc (max_len), *check = g_malloc (max_len);
  g_autofree uint8_t *zeroes = g_malloc0 (max_len);
  uint64_t sectors = w->size / 512;
  for (int i = 0; i < w->ops; i++) {
    int kind = g_rand_int_range (rand, 0, 10);
    uint64_t off = (uint64_t) g_rand_int_range (rand, 0, (gint32) sectors) * 512;
    size_t len = g_rand_int_range (rand, 0, 8) == 0 ? max_len
                 : (size_t) g_rand_int_range (rand, 1, 257) * 512;
    len = MIN (len, w->size - off);
    switch (kind) {
    default:
      qt_fill (buf, len, seed * 1000 + (uint32_t) i);
      g_assert_cmpint (qt_write (f, blk, off, buf, len), ==, 0);
      g_assert_cmpint (pwrite (ref, buf, len, (off_t) off), ==, (ssize_t) len);
      break;
    case 6:
      g_assert_cmpint (qt_zeroes (f, blk, off, len), ==, 0);
      g_assert_cmpint (pwrite (ref, zeroes, len, (off_t) off), ==, (ssize_t) len);
      break;
    case 7:
      if (!w->discards)
        break;
      g_assert_cmpint (qt_discard (f, blk, off, len), ==, 0);
      /* Whole clusters read as zeroes afterwards; the rest is kept. */
      for (uint64_t c = (off + w->cluster_size - 1) / w->cluster_size * w->cluster_size;
           c < off + len; c += w->cluster_size) {
        uint64_t n = MIN (w->cluster_size, w->size - c);
        if (c + n <= off + len)
          g_assert_cmpint (pwrite (ref, zeroes, n, (off_t) c), ==, (ssize_t) n);
      }
      break;
    case 8:
      g_assert_cmpint (qt_flush (f, blk), ==, 0);
      break;
    case 9:
      g_assert_cmpint (qt_read (f, blk, off, buf, len), ==, 0);
      g_assert_cmpint (pread (ref, check, len, (off_t) off), ==, (ssize_t) len);
      g_assert_true (memcmp (buf, check, len) == 0);
      break;
    }
  }
  g_rand_free (rand);
  close (ref);
}

static void
test_workload (QFixture *f, gconstpointer data)
{
  const Workload *w = data;
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = qt_path (f, "disk.qcow2");
  g_autofree char *ref = qt_path (f, "ref.raw");
  g_autofree char *base = qt_path (f, "base.raw");
  VivQcow2CreateOptions options = {
    .size = w->size,
    .cluster_size = w->cluster_size,
    .version = w->version,
    .refcount_bits = w->refcount_bits,
  };
  if (w->backing_size) {
    make_raw (base, w->backing_size, 7);
    options.backing_file = "base.raw";   /* relative to the image */
    options.backing_format = "raw";
  }
  create_ok (img, &options);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  make_reference (ref, w->backing_size ? base : NULL, w->size);

  gint64 start = g_get_monotonic_time ();
  VivBlock *blk = qt_open_ok (f, img, "qcow2", false);
  g_assert_cmpuint (viv_block_length (blk), ==, w->size);
  run_workload (f, blk, ref, w, 42);
  viv_block_close (blk);
  g_test_message ("%d operations in %.1f ms", w->ops,
                  (g_get_monotonic_time () - start) / 1000.0);

  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (qt_run (&out, "qemu-img compare -f qcow2 -F raw %s %s", img, ref), ==, 0);

  /* Our check agrees, and our reads too after reopening. */
  VivQcow2CheckResult result;
  GError *error = NULL;
  g_assert_true (viv_qcow2_check (img, VIV_QCOW2_REPAIR_NONE, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (viv_qcow2_check_exit_status (&result), ==, 0);
  viv_qcow2_check_result_clear (&result);
  blk = qt_open_ok (f, img, "qcow2", true);
  qt_assert_same_as_raw (f, blk, ref);
  viv_block_close (blk);
}

typedef struct {
  QFixture *f;
  int       pending;
  int       failures;
} Batch;

static void
batch_done (void *opaque, int ret)
{
  Batch *b = opaque;
  b->pending--;
  if (ret != 0)
    b->failures++;
}

/* Many writes in flight at once, several sharing unallocated clusters
 * (over a backing file, or fresh ones that read as zeroes): allocations
 * run side by side, and the copy-on-write of one must not lose another. */
static void
test_concurrent (QFixture *f, gconstpointer data)
{
  bool with_backing = data != NULL;
  if (!qt_have_qemu ())
    return;
  g_autofree char *img = qt_path (f, "disk.qcow2");
  g_autofree char *ref = qt_path (f, "ref.raw");
  g_autofree char *base = qt_path (f, "base.raw");
  const uint64_t size = 8 << 20, slot = 24 << 10;
  VivQcow2CreateOptions options = { .size = size };
  if (with_backing) {
    make_raw (base, size, 3);
    options.backing_file = base;
    options.backing_format = "raw";
  }
  create_ok (img, &options);
  make_reference (ref, with_backing ? base : NULL, size);

  VivBlock *blk = qt_open_ok (f, img, "qcow2", false);
  unsigned slots = (unsigned) (size / slot);
  g_autofree uint8_t *data_all = g_malloc (size);
  g_autofree struct iovec *iov = g_new (struct iovec, slots);
  size_t ref_len;
  g_autofree uint8_t *expected = qt_slurp (ref, &ref_len);
  Batch batch = { f, 0, 0 };
  GRand *rand = g_rand_new_with_seed (9);
  for (unsigned i = 0; i < slots; i++) {
    unsigned s = (i * 7) % slots;   /* scattered order */
    /* A part of the slot, so neighbours share clusters with gaps between. */
    uint64_t len = (uint64_t) g_rand_int_range (rand, 1, (gint32) (slot / 512)) * 512;
    uint64_t off = s * slot;
    qt_fill (data_all + off, len, s);
    memcpy (expected + off, data_all + off, len);
    iov[i] = (struct iovec) { data_all + off, len };
    batch.pending++;
    viv_block_writev (blk, off, &iov[i], 1, batch_done, &batch);
  }
  while (batch.pending)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpint (batch.failures, ==, 0);
  g_rand_free (rand);

  /* And reads in parallel. */
  g_autofree uint8_t *back = g_malloc (size);
  for (unsigned i = 0; i < slots; i++) {
    iov[i] = (struct iovec) { back + i * slot, slot };
    batch.pending++;
    viv_block_readv (blk, i * slot, &iov[i], 1, batch_done, &batch);
  }
  while (batch.pending)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpint (batch.failures, ==, 0);
  for (uint64_t i = 0; i < slots * slot; i++)
    if (back[i] != expected[i])
      g_error ("byte %" G_GUINT64_FORMAT " (slot %" G_GUINT64_FORMAT " +%" G_GUINT64_FORMAT
               ") is 0x%02x, expected 0x%02x", i, i / slot, i % slot, back[i], expected[i]);
  viv_block_close (blk);

  GError *error = NULL;
  g_assert_true (g_file_set_contents (ref, (char *) expected, (gssize) size, &error));
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
  g_assert_cmpint (qt_run (NULL, "qemu-img compare -f qcow2 -F raw %s %s", img, ref), ==, 0);
}

/* A writable open of a read-only image, and requests past the end. */
static void
test_bounds (QFixture *f, gconstpointer data)
{
  g_autofree char *img = qt_path (f, "disk.qcow2");
  VivQcow2CreateOptions options = { .size = 1 << 20 };
  create_ok (img, &options);
  VivBlock *blk = qt_open_ok (f, img, "qcow2", true);
  uint8_t buf[4096] = { 1 };
  g_assert_cmpint (qt_write (f, blk, 0, buf, sizeof buf), ==, -EROFS);
  g_assert_cmpint (qt_read (f, blk, (1 << 20) - 512, buf, 1024), ==, -EINVAL);
  g_assert_cmpint (qt_read (f, blk, 0, buf, sizeof buf), ==, 0);
  for (size_t i = 0; i < sizeof buf; i++)
    g_assert_cmpint (buf[i], ==, 0);
  viv_block_close (blk);

  /* Never probed: a qcow2 file opened without a format is raw. */
  blk = qt_open_ok (f, img, NULL, true);
  g_assert_cmpstr (viv_block_format (blk), ==, "raw");
  viv_block_close (blk);
}

static const Workload workloads[] = {
  { 65536, 3, 16, 64 << 20, 0, true, 400 },
  { 4096, 3, 1, 16 << 20, 0, true, 400 },
  /* 512-byte clusters with 64-bit refcounts: the refcount table grows. */
  { 512, 3, 64, 16 << 20, 0, true, 300 },
  { 2 << 20, 3, 16, 64 << 20, 0, true, 200 },
  { 65536, 2, 16, 32 << 20, 0, true, 300 },
  { 65536, 3, 16, 64 << 20, 48 << 20, true, 400 },
  { 4096, 3, 8, 16 << 20, 16 << 20, true, 300 },
  /* v2 has no zero flag: zeroes over a backing file are written. */
  { 65536, 2, 16, 32 << 20, 32 << 20, false, 300 },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (workloads); i++) {
    const Workload *w = &workloads[i];
    g_autofree char *name = g_strdup_printf ("/viv/qcow2/io/random-c%u-v%d-r%d%s",
                                             w->cluster_size, w->version, w->refcount_bits,
                                             w->backing_size ? "-backing" : "");
    g_test_add (name, QFixture, w, qt_setup, test_workload, qt_teardown);
  }
  g_test_add ("/viv/qcow2/io/concurrent-fresh", QFixture, NULL, qt_setup, test_concurrent,
              qt_teardown);
  g_test_add ("/viv/qcow2/io/concurrent-cow", QFixture, "backing", qt_setup, test_concurrent,
              qt_teardown);
  g_test_add ("/viv/qcow2/io/bounds", QFixture, NULL, qt_setup, test_bounds, qt_teardown);
  return g_test_run ();
}
