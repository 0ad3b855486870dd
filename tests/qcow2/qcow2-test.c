/* Shared helpers of the qcow2 tests (qcow2-test.h). */
#include "qcow2-test.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "viv-test-fs.h"

void
qt_setup (QFixture *f, gconstpointer data)
{
  GError *error = NULL;
  f->dir = g_dir_make_tmp ("viv-qcow2-XXXXXX", &error);
  g_assert_no_error (error);
  f->context = g_main_context_new ();
}

void
qt_teardown (QFixture *f, gconstpointer data)
{
  viv_test_remove_tree (f->dir);
  g_free (f->dir);
  g_main_context_unref (f->context);
}

char *
qt_path (QFixture *f, const char *name)
{
  return g_build_filename (f->dir, name, NULL);
}

int
qt_run (char **out, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *line = g_strdup_vprintf (format, args);
  va_end (args);
  g_auto (GStrv) argv = g_strsplit (line, " ", -1);
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;
  int status = -1;
  GError *error = NULL;
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &stdout_text,
                     &stderr_text, &status, &error))
    g_error ("%s: %s", line, error->message);
  if (g_test_verbose ())
    g_printerr ("$ %s\n%s%s", line, stdout_text, stderr_text);
  if (out)
    *out = g_strconcat (stdout_text, stderr_text, NULL);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

bool
qt_have_qemu (void)
{
  g_autofree char *img = g_find_program_in_path ("qemu-img");
  g_autofree char *io = g_find_program_in_path ("qemu-io");
  if (img && io)
    return true;
  g_test_skip ("qemu-img and qemu-io (qemu-utils) are needed");
  return false;
}

int
qt_qemu_check (const char *path)
{
  g_autofree char *out = NULL;
  int status = qt_run (&out, "qemu-img check -f qcow2 %s", path);
  if (status != 0)
    g_test_message ("qemu-img check %s: %d\n%s", path, status, out);
  return status;
}

VivBlock *
qt_open (QFixture *f, const char *path, const char *format, bool read_only, GError **error)
{
  VivBlockOptions options = {
    .path = path, .format = format, .read_only = read_only, .context = f->context,
  };
  return viv_block_open (&options, error);
}

VivBlock *
qt_open_ok (QFixture *f, const char *path, const char *format, bool read_only)
{
  GError *error = NULL;
  VivBlock *blk = qt_open (f, path, format, read_only, &error);
  g_assert_no_error (error);
  g_assert_nonnull (blk);
  return blk;
}

typedef struct {
  int  ret;
  bool done;
} Result;

static void
on_done (void *opaque, int ret)
{
  Result *r = opaque;
  g_assert_false (r->done);
  r->ret = ret;
  r->done = true;
}

static int
wait_result (QFixture *f, Result *r)
{
  /* Never inside the submitting call. */
  g_assert_false (r->done);
  while (!r->done)
    g_main_context_iteration (f->context, TRUE);
  return r->ret;
}

int
qt_read (QFixture *f, VivBlock *blk, uint64_t off, void *buf, size_t len)
{
  Result r = { 0 };
  struct iovec iov = { buf, len };
  viv_block_readv (blk, off, &iov, 1, on_done, &r);
  return wait_result (f, &r);
}

int
qt_write (QFixture *f, VivBlock *blk, uint64_t off, const void *buf, size_t len)
{
  Result r = { 0 };
  struct iovec iov = { (void *) buf, len };
  viv_block_writev (blk, off, &iov, 1, on_done, &r);
  return wait_result (f, &r);
}

int
qt_flush (QFixture *f, VivBlock *blk)
{
  Result r = { 0 };
  viv_block_flush (blk, on_done, &r);
  return wait_result (f, &r);
}

int
qt_discard (QFixture *f, VivBlock *blk, uint64_t off, uint64_t len)
{
  Result r = { 0 };
  viv_block_discard (blk, off, len, on_done, &r);
  return wait_result (f, &r);
}

int
qt_zeroes (QFixture *f, VivBlock *blk, uint64_t off, uint64_t len)
{
  Result r = { 0 };
  viv_block_write_zeroes (blk, off, len, VIV_BLOCK_ZERO_MAY_UNMAP, on_done, &r);
  return wait_result (f, &r);
}

uint8_t *
qt_slurp (const char *path, size_t *len)
{
  char *data;
  gsize n;
  GError *error = NULL;
  g_assert_true (g_file_get_contents (path, &data, &n, &error));
  g_assert_no_error (error);
  *len = n;
  return (uint8_t *) data;
}

void
qt_assert_same_as_raw (QFixture *f, VivBlock *blk, const char *raw_path)
{
  size_t len;
  g_autofree uint8_t *expected = qt_slurp (raw_path, &len);
  g_assert_cmpuint (viv_block_length (blk), ==, len);
  const size_t chunk = 1 << 20;
  g_autofree uint8_t *buf = g_malloc (chunk);
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = MIN (chunk, len - off);
    g_assert_cmpint (qt_read (f, blk, off, buf, n), ==, 0);
    if (memcmp (buf, expected + off, n) != 0) {
      for (size_t i = 0; i < n; i++)
        if (buf[i] != expected[off + i])
          g_error ("image differs from %s at byte %zu: 0x%02x, expected 0x%02x", raw_path,
                   off + i, buf[i], expected[off + i]);
    }
  }
}

void
qt_fill (uint8_t *buf, size_t len, uint32_t seed)
{
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    buf[i] = (uint8_t) x;
  }
}

void
qt_poke (const char *path, uint64_t offset, const void *data, size_t len)
{
  int fd = open (path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, data, len, (off_t) offset), ==, (ssize_t) len);
  close (fd);
}

void
qt_poke_be64 (const char *path, uint64_t offset, uint64_t value)
{
  value = GUINT64_TO_BE (value);
  qt_poke (path, offset, &value, 8);
}

void
qt_poke_be32 (const char *path, uint64_t offset, uint32_t value)
{
  value = GUINT32_TO_BE (value);
  qt_poke (path, offset, &value, 4);
}

uint64_t
qt_peek_be64 (const char *path, uint64_t offset)
{
  int fd = open (path, O_RDONLY);
  g_assert_cmpint (fd, >=, 0);
  uint64_t value = 0;
  g_assert_cmpint (pread (fd, &value, 8, (off_t) offset), ==, 8);
  close (fd);
  return GUINT64_FROM_BE (value);
}

int
qt_qemu_io (const char *format, const char *path, const char *command)
{
  const char *argv[] = { "qemu-io", "-f", format, "-c", command, path, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = -1;
  GError *error = NULL;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, &error))
    g_error ("qemu-io: %s", error->message);
  if (g_test_verbose ())
    g_printerr ("$ qemu-io -c '%s' %s\n%s%s", command, path, out, err);
  /* qemu-io exits 0 even when a command fails: its output says. */
  if (strstr (out, "failed") || strstr (err, "failed") || *err)
    return 1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
}

void
qt_assert_reads_as_qemu (QFixture *f, const char *path)
{
  g_autofree char *raw = qt_path (f, "qemu-view.raw");
  g_unlink (raw);
  g_assert_cmpint (qt_run (NULL, "qemu-img convert -f qcow2 -O raw %s %s", path, raw), ==, 0);
  VivBlock *blk = qt_open_ok (f, path, "qcow2", true);
  qt_assert_same_as_raw (f, blk, raw);
  viv_block_close (blk);
  g_unlink (raw);
}

uint64_t
qt_find_bytes (const char *path, const void *needle, size_t len, uint64_t limit)
{
  size_t n;
  g_autofree uint8_t *data = qt_slurp (path, &n);
  for (size_t i = 0; i + len <= MIN (n, limit); i++)
    if (memcmp (data + i, needle, len) == 0)
      return i;
  g_error ("bytes not found in %s", path);
}
