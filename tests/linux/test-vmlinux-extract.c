/* Tests for the bzImage -> vmlinux extractor on bzImages built here: a fake
 * ELF payload compressed by the real tools and wrapped in a setup header laid
 * out as the x86 boot protocol says. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "vmlinux-extract.h"

#define FAKE_VMLINUX_SIZE (256 * 1024)
#define PM_PADDING 300   /* bytes of "decompressor code" before the payload */
#define TAIL_PADDING 700 /* bytes after the payload that must be ignored */

typedef struct {
  char *dir;
  char *bzimage;
  char *vmlinux;
  GBytes *kernel; /* the fake vmlinux every image carries */
} Fixture;

static GBytes *
make_fake_vmlinux (void)
{
  guint8 *data = g_malloc (FAKE_VMLINUX_SIZE);
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);

  /* Half random, half repetitive: compressors must do real work and the
   * result must still be small. */
  for (gsize i = 0; i < FAKE_VMLINUX_SIZE; i++)
    data[i] = i % 2 ? (guint8) g_rand_int (rand) : (guint8) (i / 512);
  memcpy (data, "\x7f" "ELF", 4);
  return g_bytes_new_take (data, FAKE_VMLINUX_SIZE);
}

static void
fixture_set_up (Fixture *f, gconstpointer unused)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("vmlinux-extract-XXXXXX", &error);
  g_assert_no_error (error);
  f->bzimage = g_build_filename (f->dir, "vmlinuz", NULL);
  f->vmlinux = g_build_filename (f->dir, "vmlinux", NULL);
  f->kernel = make_fake_vmlinux ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer unused)
{
  g_autofree char *partial = g_strconcat (f->vmlinux, ".partial", NULL);
  g_autofree char *payload = g_strconcat (f->vmlinux, ".payload", NULL);

  g_unlink (f->bzimage);
  g_unlink (payload);
  g_unlink (f->vmlinux);
  g_unlink (partial);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->bzimage);
  g_free (f->vmlinux);
  g_bytes_unref (f->kernel);
}

/* Pipes INPUT through ARGV and returns what it wrote; NULL (test skipped)
 * when the tool is not installed. */
static GBytes *
run_filter (const char *const *argv, GBytes *input)
{
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *program = g_find_program_in_path (argv[0]);
  GBytes *output = NULL;

  if (program == NULL)
    {
      g_autofree char *why = g_strdup_printf ("%s is not installed", argv[0]);
      g_test_skip (why);
      return NULL;
    }
  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                         G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                               &error);
  g_assert_no_error (error);
  g_subprocess_communicate (process, input, NULL, &output, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));
  return output;
}

static void
put_le16 (guint8 *p, guint16 v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
put_le32 (guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8) (v >> (8 * i));
}

/* Writes a bzImage whose payload is PAYLOAD (already compressed, with its
 * size trailer if the format needs one). */
static void
write_bzimage (const char *path, GBytes *payload, guint8 setup_sects,
               guint16 version)
{
  guint effective_sects = setup_sects ? setup_sects : 4;
  gsize pm_start = (gsize) (effective_sects + 1) * 512;
  gsize payload_len = g_bytes_get_size (payload);
  gsize size = pm_start + PM_PADDING + payload_len + TAIL_PADDING;
  g_autofree guint8 *image = g_malloc0 (size);
  g_autoptr (GError) error = NULL;

  image[0x1f1] = setup_sects;
  put_le16 (image + 0x1fe, 0xaa55);
  memcpy (image + 0x202, "HdrS", 4);
  put_le16 (image + 0x206, version);
  put_le32 (image + 0x248, PM_PADDING);
  put_le32 (image + 0x24c, (guint32) payload_len);
  memset (image + pm_start, 0x90, PM_PADDING);
  memcpy (image + pm_start + PM_PADDING, g_bytes_get_data (payload, NULL),
          payload_len);
  memset (image + pm_start + PM_PADDING + payload_len, 0xcc, TAIL_PADDING);

  g_file_set_contents (path, (const char *) image, (gssize) size, &error);
  g_assert_no_error (error);
}

/* Compresses the fixture's kernel with ARGV, appending the 4-byte size as
 * the kernel build does for every format but gzip. */
static GBytes *
compress_kernel (Fixture *f, const char *const *argv, gboolean append_size,
                 guint32 announced_size)
{
  g_autoptr (GBytes) compressed = run_filter (argv, f->kernel);
  GByteArray *payload;
  guint8 trailer[4];

  if (compressed == NULL)
    return NULL;
  payload = g_byte_array_new ();
  g_byte_array_append (payload, g_bytes_get_data (compressed, NULL),
                       (guint) g_bytes_get_size (compressed));
  if (append_size)
    {
      put_le32 (trailer, announced_size);
      g_byte_array_append (payload, trailer, sizeof trailer);
    }
  return g_byte_array_free_to_bytes (payload);
}

static void
assert_extracted (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (viv_extract_vmlinux (f->bzimage, f->vmlinux, &error));
  g_assert_no_error (error);
  g_file_get_contents (f->vmlinux, &contents, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (contents, len, g_bytes_get_data (f->kernel, NULL),
                   g_bytes_get_size (f->kernel));
}

static void
assert_fails (Fixture *f, int code, const char *message_part)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *partial = g_strconcat (f->vmlinux, ".partial", NULL);
  g_autofree char *payload = g_strconcat (f->vmlinux, ".payload", NULL);

  g_assert_false (viv_extract_vmlinux (f->bzimage, f->vmlinux, &error));
  g_assert_error (error, G_IO_ERROR, code);
  g_assert_nonnull (strstr (error->message, message_part));
  g_assert_false (g_file_test (f->vmlinux, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (payload, G_FILE_TEST_EXISTS));
}

typedef struct {
  const char *const *argv;
  gboolean append_size;
} Format;

static const char *const gzip_argv[] = { "gzip", "-9", "-n", "-c", NULL };
static const char *const xz_argv[] = { "xz", "-c", "--check=crc32", NULL };
static const char *const zstd_argv[] = { "zstd", "-q", "-c", "-19", NULL };
static const char *const lz4_argv[] = { "lz4", "-q", "-l", "-c", NULL };
static const char *const bzip2_argv[] = { "bzip2", "-9", "-c", NULL };

static const Format gzip_format = { gzip_argv, FALSE };
static const Format xz_format = { xz_argv, TRUE };
static const Format zstd_format = { zstd_argv, TRUE };
static const Format lz4_format = { lz4_argv, TRUE };
static const Format bzip2_format = { bzip2_argv, TRUE };

static void
test_extracts (Fixture *f, gconstpointer data)
{
  const Format *format = data;
  g_autoptr (GBytes) payload = compress_kernel (
      f, format->argv, format->append_size, FAKE_VMLINUX_SIZE);

  if (payload == NULL)
    return;
  write_bzimage (f->bzimage, payload, 27, 0x020f);
  assert_extracted (f);
}

/* setup_sects == 0 means 4, as in images older than the field. */
static void
test_zero_setup_sects (Fixture *f, gconstpointer unused)
{
  g_autoptr (GBytes) payload =
      compress_kernel (f, gzip_argv, FALSE, FAKE_VMLINUX_SIZE);

  write_bzimage (f->bzimage, payload, 0, 0x0208);
  assert_extracted (f);
}

static void
test_rejects_non_bzimage (Fixture *f, gconstpointer unused)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (f->bzimage, g_bytes_get_data (f->kernel, NULL),
                       (gssize) g_bytes_get_size (f->kernel), &error);
  g_assert_no_error (error);
  assert_fails (f, G_IO_ERROR_INVALID_DATA, "not a bzImage");
}

static void
test_rejects_short_file (Fixture *f, gconstpointer unused)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (f->bzimage, "HdrS", 4, &error);
  g_assert_no_error (error);
  assert_fails (f, G_IO_ERROR_INVALID_DATA, "not a bzImage");
}

static void
test_rejects_old_protocol (Fixture *f, gconstpointer unused)
{
  g_autoptr (GBytes) payload =
      compress_kernel (f, gzip_argv, FALSE, FAKE_VMLINUX_SIZE);

  write_bzimage (f->bzimage, payload, 27, 0x0207);
  assert_fails (f, G_IO_ERROR_NOT_SUPPORTED, "2.07");
}

/* A truncated image: the header promises more payload than the file holds. */
static void
test_rejects_payload_outside_file (Fixture *f, gconstpointer unused)
{
  g_autoptr (GBytes) payload =
      compress_kernel (f, gzip_argv, FALSE, FAKE_VMLINUX_SIZE);
  g_autofree char *image = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;

  write_bzimage (f->bzimage, payload, 27, 0x020f);
  g_file_get_contents (f->bzimage, &image, &size, &error);
  g_assert_no_error (error);
  g_file_set_contents (f->bzimage, image, (gssize) (size - TAIL_PADDING - 1),
                       &error);
  g_assert_no_error (error);
  assert_fails (f, G_IO_ERROR_INVALID_DATA, "outside");
}

/* Offsets near 2^32 must not wrap around the bounds check. */
static void
test_rejects_huge_payload_offset (Fixture *f, gconstpointer unused)
{
  g_autoptr (GBytes) payload =
      compress_kernel (f, gzip_argv, FALSE, FAKE_VMLINUX_SIZE);
  g_autofree char *image = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;

  write_bzimage (f->bzimage, payload, 27, 0x020f);
  g_file_get_contents (f->bzimage, &image, &size, &error);
  g_assert_no_error (error);
  put_le32 ((guint8 *) image + 0x248, 0xfffffff0u);
  g_file_set_contents (f->bzimage, image, (gssize) size, &error);
  g_assert_no_error (error);
  assert_fails (f, G_IO_ERROR_INVALID_DATA, "outside");
}

static void
test_rejects_unknown_compression (Fixture *f, gconstpointer unused)
{
  static const guint8 junk[64] = { 'J', 'U', 'N', 'K' };
  g_autoptr (GBytes) payload = g_bytes_new_static (junk, sizeof junk);

  write_bzimage (f->bzimage, payload, 27, 0x020f);
  assert_fails (f, G_IO_ERROR_NOT_SUPPORTED, "unknown compression");
}

static void
test_rejects_wrong_size_trailer (Fixture *f, gconstpointer unused)
{
  g_autoptr (GBytes) payload =
      compress_kernel (f, xz_argv, TRUE, FAKE_VMLINUX_SIZE + 1);

  if (payload == NULL)
    return;
  write_bzimage (f->bzimage, payload, 27, 0x020f);
  assert_fails (f, G_IO_ERROR_INVALID_DATA, "trailer announces");
}

static void
test_rejects_corrupt_payload (Fixture *f, gconstpointer unused)
{
  g_autoptr (GBytes) good =
      compress_kernel (f, xz_argv, TRUE, FAKE_VMLINUX_SIZE);
  g_autoptr (GBytes) bad = NULL;
  guint8 *data;
  gsize len;

  if (good == NULL)
    return;
  data = g_bytes_unref_to_data (g_steal_pointer (&good), &len);
  data[len / 2] ^= 0xff; /* break the compressed stream, keep the magic */
  bad = g_bytes_new_take (data, len);
  write_bzimage (f->bzimage, bad, 27, 0x020f);
  assert_fails (f, G_IO_ERROR_FAILED, "could not decompress");
}

static void
test_rejects_non_elf_kernel (Fixture *f, gconstpointer unused)
{
  g_autoptr (GBytes) not_elf = g_bytes_new_static ("just text, not ELF", 18);
  g_autoptr (GBytes) payload = NULL;

  g_bytes_unref (f->kernel);
  f->kernel = g_bytes_ref (not_elf);
  payload = compress_kernel (f, gzip_argv, FALSE, 18);
  write_bzimage (f->bzimage, payload, 27, 0x020f);
  assert_fails (f, G_IO_ERROR_INVALID_DATA, "not an ELF");
}

static void
add (const char *path, gconstpointer data,
     void (*test) (Fixture *, gconstpointer))
{
  g_test_add (path, Fixture, data, fixture_set_up, test, fixture_tear_down);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  add ("/linux/extract-vmlinux/gzip", &gzip_format, test_extracts);
  add ("/linux/extract-vmlinux/xz", &xz_format, test_extracts);
  add ("/linux/extract-vmlinux/zstd", &zstd_format, test_extracts);
  add ("/linux/extract-vmlinux/lz4", &lz4_format, test_extracts);
  add ("/linux/extract-vmlinux/bzip2", &bzip2_format, test_extracts);
  add ("/linux/extract-vmlinux/zero-setup-sects", NULL, test_zero_setup_sects);
  add ("/linux/extract-vmlinux/rejects/not-bzimage", NULL,
       test_rejects_non_bzimage);
  add ("/linux/extract-vmlinux/rejects/short-file", NULL,
       test_rejects_short_file);
  add ("/linux/extract-vmlinux/rejects/old-protocol", NULL,
       test_rejects_old_protocol);
  add ("/linux/extract-vmlinux/rejects/payload-outside-file", NULL,
       test_rejects_payload_outside_file);
  add ("/linux/extract-vmlinux/rejects/huge-payload-offset", NULL,
       test_rejects_huge_payload_offset);
  add ("/linux/extract-vmlinux/rejects/unknown-compression", NULL,
       test_rejects_unknown_compression);
  add ("/linux/extract-vmlinux/rejects/wrong-size-trailer", NULL,
       test_rejects_wrong_size_trailer);
  add ("/linux/extract-vmlinux/rejects/corrupt-payload", NULL,
       test_rejects_corrupt_payload);
  add ("/linux/extract-vmlinux/rejects/not-elf", NULL,
       test_rejects_non_elf_kernel);

  return g_test_run ();
}
