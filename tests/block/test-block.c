/* The block layer with the raw driver on real files.  meson runs this
 * twice: through io_uring, and with VIV_BLOCK_AIO=sync through the
 * synchronous fallback. */
#include "block/block.h"
#include "block/aio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

typedef struct {
  char         *dir;
  char         *path;
  GMainContext *context;
} Fixture;

typedef struct {
  int  ret;
  bool done;
} Result;

static const char *aio_mode;   /* "uring" or "sync" */

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  f->dir = g_dir_make_tmp ("viv-block-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "disk.img", NULL);
  f->context = g_main_context_new ();
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
  g_main_context_unref (f->context);
}

static void
make_image (const char *path, off_t size)
{
  int fd = open (path, O_CREAT | O_TRUNC | O_RDWR, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  close (fd);
}

static VivBlock *
open_image (Fixture *f, bool read_only, VivBlockCache cache, GError **error)
{
  VivBlockOptions options = {
    .path = f->path, .read_only = read_only, .cache = cache, .context = f->context,
  };
  return viv_block_open (&options, error);
}

static VivBlock *
open_ok (Fixture *f, bool read_only, VivBlockCache cache)
{
  GError *error = NULL;
  VivBlock *blk = open_image (f, read_only, cache, &error);
  g_assert_no_error (error);
  g_assert_nonnull (blk);
  g_assert_cmpint (viv_block_uses_uring (blk), ==, g_str_equal (aio_mode, "uring"));
  return blk;
}

static void
on_done (void *opaque, int ret)
{
  Result *r = opaque;
  g_assert_false (r->done);
  r->ret = ret;
  r->done = true;
}

static int
wait_result (Fixture *f, Result *r)
{
  /* Completion never happens inside the submitting call. */
  g_assert_false (r->done);
  while (!r->done)
    g_main_context_iteration (f->context, TRUE);
  return r->ret;
}

static int
do_readv (Fixture *f, VivBlock *blk, uint64_t off, const struct iovec *iov, unsigned n)
{
  Result r = { 0 };
  viv_block_readv (blk, off, iov, n, on_done, &r);
  return wait_result (f, &r);
}

static int
do_writev (Fixture *f, VivBlock *blk, uint64_t off, const struct iovec *iov, unsigned n)
{
  Result r = { 0 };
  viv_block_writev (blk, off, iov, n, on_done, &r);
  return wait_result (f, &r);
}

static int
do_write (Fixture *f, VivBlock *blk, uint64_t off, void *buf, size_t len)
{
  struct iovec iov = { buf, len };
  return do_writev (f, blk, off, &iov, 1);
}

static int
do_read (Fixture *f, VivBlock *blk, uint64_t off, void *buf, size_t len)
{
  struct iovec iov = { buf, len };
  return do_readv (f, blk, off, &iov, 1);
}

static int
do_flush (Fixture *f, VivBlock *blk)
{
  Result r = { 0 };
  viv_block_flush (blk, on_done, &r);
  return wait_result (f, &r);
}

static int
do_discard (Fixture *f, VivBlock *blk, uint64_t off, uint64_t len)
{
  Result r = { 0 };
  viv_block_discard (blk, off, len, on_done, &r);
  return wait_result (f, &r);
}

static int
do_zeroes (Fixture *f, VivBlock *blk, uint64_t off, uint64_t len, unsigned flags)
{
  Result r = { 0 };
  viv_block_write_zeroes (blk, off, len, flags, on_done, &r);
  return wait_result (f, &r);
}

static void
fill_pattern (uint8_t *buf, size_t len, unsigned seed)
{
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t) (i * 7 + seed + (i >> 9));
}

static void
read_file (const char *path, uint64_t off, void *buf, size_t len)
{
  int fd = open (path, O_RDONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pread (fd, buf, len, (off_t) off), ==, (ssize_t) len);
  close (fd);
}

/* Scatters `len` bytes of `buf` over segments of the given sizes (cycled),
 * each at a deliberately odd address inside `arena`. */
static unsigned
odd_layout (uint8_t *arena, size_t len, const size_t *sizes, unsigned n_sizes,
            struct iovec *iov, unsigned max)
{
  unsigned n = 0;
  size_t done = 0, pos = 3;
  while (done < len) {
    g_assert_cmpuint (n, <, max);
    size_t seg = MIN (sizes[n % n_sizes], len - done);
    iov[n++] = (struct iovec) { arena + pos, seg };
    pos += seg + 5;
    done += seg;
  }
  return n;
}

static void
copy_from_iov (const struct iovec *iov, unsigned n, uint8_t *dst)
{
  for (unsigned i = 0; i < n; i++) {
    memcpy (dst, iov[i].iov_base, iov[i].iov_len);
    dst += iov[i].iov_len;
  }
}

static void
copy_to_iov (const struct iovec *iov, unsigned n, const uint8_t *src)
{
  for (unsigned i = 0; i < n; i++) {
    memcpy (iov[i].iov_base, src, iov[i].iov_len);
    src += iov[i].iov_len;
  }
}

/* Write and read back with odd segment sizes and addresses, in each cache
 * mode (cache=none has to bounce them), and check the file itself. */
static void
test_round_trip (Fixture *f, gconstpointer data)
{
  const size_t len = 96 * 1024;
  const uint64_t off = 8192;
  static const size_t write_sizes[] = { 1, 511, 3000, 7, 4096, 13 };
  static const size_t read_sizes[] = { 4097, 2, 1000, 65536 };
  make_image (f->path, 1 << 20);
  for (VivBlockCache cache = VIV_BLOCK_CACHE_WRITEBACK; cache <= VIV_BLOCK_CACHE_WRITETHROUGH;
       cache++) {
    VivBlock *blk = open_ok (f, false, cache);
    uint8_t *expect = g_malloc (len), *got = g_malloc (len);
    uint8_t *arena = g_malloc (2 * len);
    struct iovec iov[256];
    fill_pattern (expect, len, cache);

    unsigned n = odd_layout (arena, len, write_sizes, G_N_ELEMENTS (write_sizes), iov, 256);
    copy_to_iov (iov, n, expect);
    g_assert_cmpint (do_writev (f, blk, off, iov, n), ==, 0);

    memset (arena, 0xee, 2 * len);
    n = odd_layout (arena, len, read_sizes, G_N_ELEMENTS (read_sizes), iov, 256);
    g_assert_cmpint (do_readv (f, blk, off, iov, n), ==, 0);
    copy_from_iov (iov, n, got);
    g_assert_cmpmem (got, len, expect, len);

    g_assert_cmpint (do_flush (f, blk), ==, 0);
    read_file (f->path, off, got, len);
    g_assert_cmpmem (got, len, expect, len);

    /* Page-aligned buffers take the direct path. */
    void *aligned = NULL;
    g_assert_cmpint (posix_memalign (&aligned, 4096, len), ==, 0);
    g_assert_cmpint (do_read (f, blk, off, aligned, len), ==, 0);
    g_assert_cmpmem (aligned, len, expect, len);
    fill_pattern (aligned, len, 99);
    g_assert_cmpint (do_write (f, blk, 0, aligned, 4096), ==, 0);
    g_assert_cmpint (do_flush (f, blk), ==, 0);
    read_file (f->path, 0, got, 4096);
    g_assert_cmpmem (got, 4096, aligned, 4096);
    free (aligned);

    viv_block_close (blk);
    g_free (expect);
    g_free (got);
    g_free (arena);
  }
}

/* The open flags of our descriptor on the image, from /proc/self/fdinfo,
 * and whether it holds an OFD lock of the given kind. */
static unsigned
image_fd_flags (const char *path, const char *lock_kind)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  unsigned found = 0;
  while ((name = g_dir_read_name (dir))) {
    g_autofree char *link = g_strdup_printf ("/proc/self/fd/%s", name);
    g_autofree char *target = g_file_read_link (link, NULL);
    if (g_strcmp0 (target, path) != 0)
      continue;
    g_autofree char *info_path = g_strdup_printf ("/proc/self/fdinfo/%s", name);
    g_autofree char *info = NULL;
    g_assert_true (g_file_get_contents (info_path, &info, NULL, NULL));
    const char *flags = strstr (info, "flags:");
    g_assert_nonnull (flags);
    found = (unsigned) strtoul (flags + 6, NULL, 8);
    g_autofree char *lock = g_strdup_printf ("OFDLCK ADVISORY  %s", lock_kind);
    g_assert_nonnull (strstr (info, lock));
  }
  g_assert_cmpuint (found, !=, 0);
  return found;
}

static void
test_cache_flags (Fixture *f, gconstpointer data)
{
  make_image (f->path, 65536);
  struct { VivBlockCache cache; unsigned set, clear; } cases[] = {
    { VIV_BLOCK_CACHE_NONE, O_DIRECT, O_DSYNC },
    { VIV_BLOCK_CACHE_WRITETHROUGH, O_DSYNC, O_DIRECT },
    { VIV_BLOCK_CACHE_WRITEBACK, 0, O_DIRECT | O_DSYNC },
  };
  g_assert_cmpuint (O_DIRECT, ==, 040000);
  g_assert_cmpuint (O_DSYNC, ==, 010000);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    VivBlock *blk = open_ok (f, false, cases[i].cache);
    unsigned flags = image_fd_flags (f->path, "WRITE");
    g_assert_cmpuint (flags & cases[i].set, ==, cases[i].set);
    g_assert_cmpuint (flags & cases[i].clear, ==, 0);
    g_assert_cmpuint (flags & O_ACCMODE, ==, O_RDWR);
    g_assert_cmpint (do_flush (f, blk), ==, 0);
    viv_block_close (blk);
  }
  VivBlock *blk = open_ok (f, true, VIV_BLOCK_CACHE_WRITEBACK);
  g_assert_cmpuint (image_fd_flags (f->path, "READ") & O_ACCMODE, ==, O_RDONLY);
  g_assert_cmpint (do_flush (f, blk), ==, 0);
  viv_block_close (blk);
}

static void
test_cache_names (void)
{
  VivBlockCache cache;
  g_assert_true (viv_block_cache_from_string ("none", &cache));
  g_assert_cmpint (cache, ==, VIV_BLOCK_CACHE_NONE);
  g_assert_true (viv_block_cache_from_string ("writethrough", &cache));
  g_assert_cmpint (cache, ==, VIV_BLOCK_CACHE_WRITETHROUGH);
  g_assert_true (viv_block_cache_from_string ("writeback", &cache));
  g_assert_cmpint (cache, ==, VIV_BLOCK_CACHE_WRITEBACK);
  g_assert_false (viv_block_cache_from_string ("unsafe", &cache));
  g_assert_cmpstr (viv_block_cache_to_string (VIV_BLOCK_CACHE_NONE), ==, "none");
}

static uint64_t
allocated_bytes (const char *path)
{
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  return (uint64_t) st.st_blocks * 512;
}

static void
write_all_data (Fixture *f, VivBlock *blk, size_t len)
{
  uint8_t *data = g_malloc (len);
  fill_pattern (data, len, 5);
  for (size_t i = 0; i < len; i++)
    data[i] |= 1;           /* no zero bytes: zeroing must be visible */
  g_assert_cmpint (do_write (f, blk, 0, data, len), ==, 0);
  g_assert_cmpint (do_flush (f, blk), ==, 0);
  g_free (data);
}

static void
assert_zero (Fixture *f, VivBlock *blk, uint64_t off, size_t len)
{
  uint8_t *buf = g_malloc (len);
  memset (buf, 0xaa, len);
  g_assert_cmpint (do_read (f, blk, off, buf, len), ==, 0);
  for (size_t i = 0; i < len; i++)
    if (buf[i] != 0)
      g_error ("byte %zu of %" G_GUINT64_FORMAT "+%zu is %#x, not zero", i, off, len, buf[i]);
  g_free (buf);
}

static void
assert_data (Fixture *f, VivBlock *blk, uint64_t off, size_t len)
{
  uint8_t *buf = g_malloc (len);
  g_assert_cmpint (do_read (f, blk, off, buf, len), ==, 0);
  for (size_t i = 0; i < len; i++)
    g_assert_cmpuint (buf[i], !=, 0);
  g_free (buf);
}

static off_t
next_hole (const char *path, off_t from)
{
  int fd = open (path, O_RDONLY);
  g_assert_cmpint (fd, >=, 0);
  off_t hole = lseek (fd, from, SEEK_HOLE);
  close (fd);
  return hole;
}

static void
test_discard (Fixture *f, gconstpointer data)
{
  const size_t len = 1 << 20;
  make_image (f->path, len);
  VivBlock *blk = open_ok (f, false, VIV_BLOCK_CACHE_NONE);
  g_assert_true (viv_block_capabilities (blk) & VIV_BLOCK_CAP_DISCARD);
  write_all_data (f, blk, len);
  uint64_t before = allocated_bytes (f->path);
  g_assert_cmpuint (before, >=, len);
  g_assert_cmpint (next_hole (f->path, 0), ==, (off_t) len);

  g_assert_cmpint (do_discard (f, blk, 256 * 1024, 256 * 1024), ==, 0);
  g_assert_cmpint (next_hole (f->path, 0), ==, 256 * 1024);
  g_assert_cmpuint (allocated_bytes (f->path), <=, before - 256 * 1024);
  assert_zero (f, blk, 256 * 1024, 256 * 1024);
  assert_data (f, blk, 0, 256 * 1024);
  assert_data (f, blk, 512 * 1024, 512 * 1024);
  viv_block_close (blk);
}

static void
test_write_zeroes (Fixture *f, gconstpointer data)
{
  const size_t len = 1 << 20;
  make_image (f->path, len);
  VivBlock *blk = open_ok (f, false, VIV_BLOCK_CACHE_WRITEBACK);
  write_all_data (f, blk, len);

  /* Without unmap: zeroed, still allocated. */
  uint64_t before = allocated_bytes (f->path);
  g_assert_cmpint (do_zeroes (f, blk, 4096, 64 * 1024, 0), ==, 0);
  assert_zero (f, blk, 4096, 64 * 1024);
  assert_data (f, blk, 0, 4096);
  assert_data (f, blk, 4096 + 64 * 1024, 4096);
  g_assert_cmpuint (allocated_bytes (f->path), ==, before);

  /* With unmap: a hole. */
  g_assert_cmpint (do_zeroes (f, blk, 512 * 1024, 128 * 1024, VIV_BLOCK_ZERO_MAY_UNMAP), ==, 0);
  assert_zero (f, blk, 512 * 1024, 128 * 1024);
  assert_data (f, blk, 640 * 1024, 4096);
  g_assert_cmpint (next_hole (f->path, 256 * 1024), ==, 512 * 1024);
  g_assert_cmpuint (allocated_bytes (f->path), <=, before - 128 * 1024);

  g_assert_cmpint (do_zeroes (f, blk, 0, 512, 0x80), ==, -EINVAL);
  viv_block_close (blk);
}

/* tmpfs has no FALLOC_FL_ZERO_RANGE: zeroes are then written. */
static void
test_write_zeroes_fallback (Fixture *f, gconstpointer data)
{
  if (!g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR)) {
    g_test_skip ("no /dev/shm");
    return;
  }
  g_free (f->path);
  f->path = g_strdup_printf ("/dev/shm/viv-block-test-%d.img", getpid ());
  const size_t len = 3 << 20;
  make_image (f->path, len);
  VivBlock *blk = open_ok (f, false, VIV_BLOCK_CACHE_WRITEBACK);
  write_all_data (f, blk, len);
  /* Longer than one chunk of zero writes (32 MiB is not needed: 1 MiB
   * segments × 32 per write; this covers several segments). */
  g_assert_cmpint (do_zeroes (f, blk, 512, len - 1024, 0), ==, 0);
  assert_data (f, blk, 0, 512);
  assert_zero (f, blk, 512, len - 1024);
  assert_data (f, blk, len - 512, 512);
  viv_block_close (blk);
}

static void
test_read_only (Fixture *f, gconstpointer data)
{
  make_image (f->path, 65536);
  VivBlock *blk = open_ok (f, true, VIV_BLOCK_CACHE_NONE);
  g_assert_true (viv_block_is_read_only (blk));
  void *buf = NULL;
  g_assert_cmpint (posix_memalign (&buf, 4096, 4096), ==, 0);
  memset (buf, 0x5a, 4096);
  g_assert_cmpint (do_write (f, blk, 0, buf, 4096), ==, -EROFS);
  g_assert_cmpint (do_discard (f, blk, 0, 4096), ==, -EROFS);
  g_assert_cmpint (do_zeroes (f, blk, 0, 4096, 0), ==, -EROFS);
  g_assert_cmpint (do_read (f, blk, 0, buf, 4096), ==, 0);
  g_assert_cmpuint (((uint8_t *) buf)[100], ==, 0);
  g_assert_cmpint (do_flush (f, blk), ==, 0);
  free (buf);
  viv_block_close (blk);
}

static void
test_bad_requests (Fixture *f, gconstpointer data)
{
  make_image (f->path, 65536);
  VivBlock *blk = open_ok (f, false, VIV_BLOCK_CACHE_WRITEBACK);
  g_assert_cmpuint (viv_block_length (blk), ==, 65536);
  g_assert_cmpuint (viv_block_alignment (blk), ==, 512);
  uint8_t buf[1024] = { 0 };
  g_assert_cmpint (do_read (f, blk, 65536 - 512, buf, 1024), ==, -EINVAL);
  g_assert_cmpint (do_read (f, blk, UINT64_MAX - 511, buf, 1024), ==, -EINVAL);
  g_assert_cmpint (do_read (f, blk, 100, buf, 512), ==, -EINVAL);
  g_assert_cmpint (do_write (f, blk, 0, buf, 100), ==, -EINVAL);
  g_assert_cmpint (do_discard (f, blk, 65536, 512), ==, -EINVAL);
  g_assert_cmpint (do_read (f, blk, 65536 - 512, buf, 512), ==, 0);
  viv_block_close (blk);

  /* cache=none: the file system's O_DIRECT granularity is required. */
  blk = open_ok (f, false, VIV_BLOCK_CACHE_NONE);
  uint32_t align = viv_block_alignment (blk);
  g_assert_cmpuint (align, >=, 512);
  g_assert_cmpuint (align & (align - 1), ==, 0);
  g_assert_cmpuint (viv_block_physical_block_size (blk), >=, align);
  if (align > 512)
    g_assert_cmpint (do_read (f, blk, 512, buf, 512), ==, -EINVAL);
  viv_block_close (blk);
}

static void
assert_open_fails (Fixture *f, bool read_only, GQuark domain, int code, const char *words)
{
  GError *error = NULL;
  VivBlock *blk = open_image (f, read_only, VIV_BLOCK_CACHE_WRITEBACK, &error);
  g_assert_null (blk);
  g_assert_error (error, domain, code);
  g_assert_nonnull (strstr (error->message, f->path));
  if (!strstr (error->message, words))
    g_error ("“%s” does not say “%s”", error->message, words);
  g_error_free (error);
}

static void
test_lock (Fixture *f, gconstpointer data)
{
  make_image (f->path, 65536);
  VivBlock *writer = open_ok (f, false, VIV_BLOCK_CACHE_WRITEBACK);
  assert_open_fails (f, false, G_IO_ERROR, G_IO_ERROR_BUSY,
                     "is in use by another VM (locked); stop it or open this disk read-only");
  assert_open_fails (f, true, G_IO_ERROR, G_IO_ERROR_BUSY, "in use read-write by another VM");
  viv_block_close (writer);

  VivBlock *r1 = open_ok (f, true, VIV_BLOCK_CACHE_WRITEBACK);
  VivBlock *r2 = open_ok (f, true, VIV_BLOCK_CACHE_NONE);
  assert_open_fails (f, false, G_IO_ERROR, G_IO_ERROR_BUSY, "is in use by another VM");
  viv_block_close (r1);
  viv_block_close (r2);

  writer = open_ok (f, false, VIV_BLOCK_CACHE_WRITEBACK);
  viv_block_close (writer);
}

static void
test_open_errors (Fixture *f, gconstpointer data)
{
  assert_open_fails (f, false, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "does not exist");

  g_assert_cmpint (g_mkdir (f->path, 0755), ==, 0);
  assert_open_fails (f, false, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, "is a directory");
  assert_open_fails (f, true, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, "is a directory");
  g_rmdir (f->path);

  make_image (f->path, 1000);
  assert_open_fails (f, false, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     "not a whole number of 512-byte sectors");

  make_image (f->path, 4096);
  if (geteuid () != 0) {
    g_assert_cmpint (chmod (f->path, 0444), ==, 0);
    assert_open_fails (f, false, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "read-only");
    g_assert_cmpint (chmod (f->path, 0), ==, 0);
    assert_open_fails (f, true, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "read access");
  }

  GError *error = NULL;
  VivBlockOptions options = { .path = f->path, .format = "vmdk", .context = f->context };
  g_assert_null (viv_block_open (&options, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "vmdk"));
  g_clear_error (&error);
}

typedef struct {
  unsigned completed;
  unsigned failed;
} Counter;

static void
on_count (void *opaque, int ret)
{
  Counter *c = opaque;
  c->completed++;
  if (ret != 0)
    c->failed++;
}

/* More requests than the ring holds, submitted in one batch, then more
 * that close has to wait for. */
static void
test_many_in_flight (Fixture *f, gconstpointer data)
{
  const unsigned n = 600;
  make_image (f->path, n * 4096);
  VivBlock *blk = open_ok (f, false, VIV_BLOCK_CACHE_NONE);
  uint8_t *buf = NULL;
  g_assert_cmpint (posix_memalign ((void **) &buf, 4096, n * 4096), ==, 0);
  for (unsigned i = 0; i < n; i++)
    memset (buf + i * 4096, (int) (i & 0xff) | 1, 4096);

  Counter c = { 0 };
  viv_block_plug (blk);
  for (unsigned i = 0; i < n; i++) {
    struct iovec iov = { buf + i * 4096, 4096 };
    viv_block_writev (blk, i * 4096ull, &iov, 1, on_count, &c);
  }
  viv_block_unplug (blk);
  g_assert_cmpuint (c.completed, ==, 0);
  while (c.completed < n)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpuint (c.failed, ==, 0);

  uint8_t *check = g_malloc (n * 4096);
  read_file (f->path, 0, check, n * 4096);
  g_assert_cmpmem (check, n * 4096, buf, n * 4096);

  /* Close with reads still in flight: every callback runs before it returns. */
  c = (Counter) { 0 };
  for (unsigned i = 0; i < n; i++) {
    struct iovec iov = { buf + i * 4096, 4096 };
    viv_block_readv (blk, i * 4096ull, &iov, 1, on_count, &c);
  }
  viv_block_close (blk);
  g_assert_cmpuint (c.completed, ==, n);
  g_assert_cmpuint (c.failed, ==, 0);
  g_assert_cmpmem (check, n * 4096, buf, n * 4096);
  free (buf);
  g_free (check);
}

/* Reads past the end of the file (an image truncated under us) come back
 * as zeroes after the short read. */
static void
test_short_read (Fixture *f, gconstpointer data)
{
  int fd = open (f->path, O_CREAT | O_RDWR, 0644);
  g_assert_cmpint (write (fd, "hello", 5), ==, 5);
  GError *error = NULL;
  VivAio *aio = viv_aio_new (f->context, &error);
  g_assert_no_error (error);
  g_assert_cmpint (viv_aio_is_uring (aio), ==, g_str_equal (aio_mode, "uring"));
  uint8_t a[3], b[4000];
  memset (a, 0xff, sizeof a);
  memset (b, 0xff, sizeof b);
  struct iovec iov[] = { { a, sizeof a }, { b, sizeof b } };
  Result r = { 0 };
  viv_aio_readv (aio, fd, 0, iov, 2, on_done, &r);
  g_assert_cmpint (wait_result (f, &r), ==, 0);
  g_assert_cmpmem (a, 3, "hel", 3);
  g_assert_cmpmem (b, 2, "lo", 2);
  for (size_t i = 2; i < sizeof b; i++)
    g_assert_cmpuint (b[i], ==, 0);

  /* A bad descriptor fails the request, not the engine. */
  r = (Result) { 0 };
  viv_aio_fdatasync (aio, 9999, on_done, &r);
  g_assert_cmpint (wait_result (f, &r), ==, -EBADF);
  viv_aio_free (aio);
  close (fd);
}

/* Completions arrive on a context run by another thread (the machine's I/O
 * thread), and drain works from this one. */
typedef struct {
  GMainLoop *loop;
  GThread   *self;
  Counter    c;
  bool       wrong_thread;
} ThreadCheck;

static void
on_thread_done (void *opaque, int ret)
{
  ThreadCheck *t = opaque;
  if (g_thread_self () != t->self)
    t->wrong_thread = true;
  g_atomic_int_inc (&t->c.completed);
}

static gpointer
run_loop (gpointer data)
{
  ThreadCheck *t = data;
  t->self = g_thread_self ();
  g_main_loop_run (t->loop);
  return NULL;
}

static void
test_io_thread (Fixture *f, gconstpointer data)
{
  make_image (f->path, 1 << 20);
  VivBlock *blk = open_ok (f, false, VIV_BLOCK_CACHE_WRITEBACK);
  ThreadCheck t = { .loop = g_main_loop_new (f->context, FALSE) };
  GThread *thread = g_thread_new ("io", run_loop, &t);
  while (!g_main_loop_is_running (t.loop))
    g_usleep (1000);
  static uint8_t buf[4096];
  for (unsigned i = 0; i < 100; i++) {
    struct iovec iov = { buf, sizeof buf };
    viv_block_writev (blk, i * 4096ull, &iov, 1, on_thread_done, &t);
  }
  while (g_atomic_int_get (&t.c.completed) < 100)
    g_usleep (1000);
  g_assert_false (t.wrong_thread);

  /* Close while the other thread runs the context. */
  for (unsigned i = 0; i < 50; i++) {
    struct iovec iov = { buf, sizeof buf };
    viv_block_readv (blk, i * 4096ull, &iov, 1, on_thread_done, &t);
  }
  viv_block_close (blk);
  g_assert_cmpint (g_atomic_int_get (&t.c.completed), ==, 150);
  g_main_loop_quit (t.loop);
  g_thread_join (thread);
  g_main_loop_unref (t.loop);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  aio_mode = g_strcmp0 (g_getenv ("VIV_BLOCK_AIO"), "sync") == 0 ? "sync" : "uring";
  g_test_add_func ("/block/cache-names", test_cache_names);
#define ADD(name, fn)                                                          \
  do {                                                                         \
    g_autofree char *path = g_strdup_printf ("/block/%s/%s", aio_mode, name);  \
    g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown);     \
  } while (0)
  ADD ("round-trip", test_round_trip);
  ADD ("cache-flags", test_cache_flags);
  ADD ("discard", test_discard);
  ADD ("write-zeroes", test_write_zeroes);
  ADD ("write-zeroes-fallback", test_write_zeroes_fallback);
  ADD ("read-only", test_read_only);
  ADD ("bad-requests", test_bad_requests);
  ADD ("lock", test_lock);
  ADD ("open-errors", test_open_errors);
  ADD ("many-in-flight", test_many_in_flight);
  ADD ("short-read", test_short_read);
  ADD ("io-thread", test_io_thread);
#undef ADD
  return g_test_run ();
}
