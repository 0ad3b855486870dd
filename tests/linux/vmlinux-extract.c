/* bzImage -> vmlinux. The layout comes from the x86 boot protocol
 * (Documentation/arch/x86/boot.rst): the setup header sits at 0x1f1, the
 * protected-mode code starts after (setup_sects + 1) * 512 bytes, and the
 * compressed kernel is payload_length bytes at payload_offset from there.
 * Its last four bytes hold the uncompressed size (little endian): gzip's own
 * trailer, or a copy the kernel build appends for the other compressors. */
#include "vmlinux-extract.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <string.h>

#define SETUP_SECTS_OFFSET 0x1f1
#define BOOT_FLAG_OFFSET 0x1fe
#define HEADER_MAGIC_OFFSET 0x202
#define VERSION_OFFSET 0x206
#define PAYLOAD_OFFSET_OFFSET 0x248
#define PAYLOAD_LENGTH_OFFSET 0x24c
#define SETUP_HEADER_END 0x250
#define BOOT_FLAG 0xaa55
#define MIN_VERSION_WITH_PAYLOAD 0x0208
#define SECTOR_SIZE 512
#define SIZE_TRAILER_LEN 4

typedef struct {
  const char *name;
  const guint8 *magic;
  gsize magic_len;
  const char *program;
  const char *const *decompress_args;
  const char *debian_package;
  /* gzip's stream ends with its size; the others have a 4-byte copy
   * appended that their own tools would reject as trailing garbage. */
  gboolean size_trailer_appended;
} Compression;

static const guint8 gzip_magic[] = { 0x1f, 0x8b };
static const guint8 xz_magic[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
static const guint8 zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };
static const guint8 lz4_legacy_magic[] = { 0x02, 0x21, 0x4c, 0x18 };
static const guint8 bzip2_magic[] = { 'B', 'Z', 'h' };
static const guint8 lzma_magic[] = { 0x5d, 0x00, 0x00 };
static const guint8 lzop_magic[] = { 0x89, 'L', 'Z', 'O', 0x00 };

static const char *const gzip_args[] = { "gzip", "-dc", NULL };
static const char *const xz_args[] = { "xz", "-dc", NULL };
static const char *const zstd_args[] = { "zstd", "-dcq", NULL };
static const char *const lz4_args[] = { "lz4", "-dc", NULL };
static const char *const bzip2_args[] = { "bzip2", "-dc", NULL };
static const char *const lzma_args[] = { "xz", "--format=lzma", "-dc", NULL };
static const char *const lzop_args[] = { "lzop", "-dc", NULL };

static const Compression compressions[] = {
  { "gzip", gzip_magic, sizeof gzip_magic, "gzip", gzip_args, "gzip", FALSE },
  { "xz", xz_magic, sizeof xz_magic, "xz", xz_args, "xz-utils", TRUE },
  { "zstd", zstd_magic, sizeof zstd_magic, "zstd", zstd_args, "zstd", TRUE },
  { "lz4", lz4_legacy_magic, sizeof lz4_legacy_magic, "lz4", lz4_args, "lz4",
    TRUE },
  { "bzip2", bzip2_magic, sizeof bzip2_magic, "bzip2", bzip2_args, "bzip2",
    TRUE },
  { "lzma", lzma_magic, sizeof lzma_magic, "xz", lzma_args, "xz-utils", TRUE },
  { "lzo", lzop_magic, sizeof lzop_magic, "lzop", lzop_args, "lzop", TRUE },
};

static guint32
read_le32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 |
         (guint32) p[3] << 24;
}

static guint16
read_le16 (const guint8 *p)
{
  return (guint16) (p[0] | p[1] << 8);
}

static const Compression *
find_compression (const guint8 *payload, gsize len)
{
  for (gsize i = 0; i < G_N_ELEMENTS (compressions); i++)
    {
      const Compression *c = &compressions[i];

      if (len >= c->magic_len && memcmp (payload, c->magic, c->magic_len) == 0)
        return c;
    }
  return NULL;
}

/* Finds the payload inside the image; every offset is checked against the
 * file's length, since the image may be truncated or not a bzImage at all. */
static gboolean
locate_payload (const char *path, const guint8 *image, gsize size,
                const guint8 **payload, gsize *payload_len, GError **error)
{
  guint setup_sects;
  guint16 version;
  gsize pm_start, offset, length;

  if (size < SETUP_HEADER_END ||
      read_le16 (image + BOOT_FLAG_OFFSET) != BOOT_FLAG ||
      memcmp (image + HEADER_MAGIC_OFFSET, "HdrS", 4) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not a bzImage (no boot flag 0xaa55 and \"HdrS\" "
                   "setup header); give the kernel's vmlinuz file", path);
      return FALSE;
    }
  version = read_le16 (image + VERSION_OFFSET);
  if (version < MIN_VERSION_WITH_PAYLOAD)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: boot protocol %u.%02u has no payload fields "
                   "(needs 2.08 or later)", path, version >> 8, version & 0xff);
      return FALSE;
    }

  setup_sects = image[SETUP_SECTS_OFFSET];
  if (setup_sects == 0)
    setup_sects = 4; /* the boot protocol's rule for old images */
  pm_start = (gsize) (setup_sects + 1) * SECTOR_SIZE;
  offset = read_le32 (image + PAYLOAD_OFFSET_OFFSET);
  length = read_le32 (image + PAYLOAD_LENGTH_OFFSET);

  if (pm_start > size || offset > size - pm_start ||
      length > size - pm_start - offset)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: payload (offset %zu, length %zu after the %zu setup "
                   "bytes) lies outside the %zu-byte file; is it truncated?",
                   path, offset, length, pm_start, size);
      return FALSE;
    }
  if (length <= SIZE_TRAILER_LEN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: payload of %zu bytes is too short to hold a kernel",
                   path, length);
      return FALSE;
    }
  *payload = image + pm_start + offset;
  *payload_len = length;
  return TRUE;
}

/* Runs the decompressor from PAYLOAD_PATH to OUTPUT_PATH. Files, not
 * pipes: a decompressor that stops reading early (corrupt data) must give
 * its own error message, not a SIGPIPE to the writer. */
static gboolean
decompress (const Compression *c, const char *payload_path,
            const char *output_path, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GBytes) errors = NULL;
  g_autofree char *program = g_find_program_in_path (c->program);

  if (program == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "the payload is %s-compressed: install '%s' (Debian "
                   "package %s) to decompress it", c->name, c->program,
                   c->debian_package);
      return FALSE;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (launcher, payload_path);
  g_subprocess_launcher_set_stdout_file_path (launcher, output_path);
  process = g_subprocess_launcher_spawnv (launcher,
                                          (const char *const *) c->decompress_args,
                                          error);
  if (process == NULL)
    return FALSE;
  if (!g_subprocess_communicate (process, NULL, NULL, NULL, &errors, error))
    return FALSE;
  if (!g_subprocess_get_if_exited (process) ||
      g_subprocess_get_exit_status (process) != 0)
    {
      gsize errors_len = 0;
      const char *text = errors ? g_bytes_get_data (errors, &errors_len) : NULL;

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s could not decompress the %s payload: %.*s",
                   c->program, c->name, (int) errors_len, text ? text : "");
      return FALSE;
    }
  return TRUE;
}

/* The decompressed file must be an ELF image of the announced size. */
static gboolean
check_vmlinux (const char *path, guint32 expected_size, GError **error)
{
  static const guint8 elf_magic[] = { 0x7f, 'E', 'L', 'F' };
  guint8 head[sizeof elf_magic];
  GStatBuf st;
  FILE *file;
  gsize got;

  if (g_stat (path, &st) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "%s: %s", path, g_strerror (errno));
      return FALSE;
    }
  if ((guint32) st.st_size != expected_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "decompressed kernel is %lld bytes, but the payload's "
                   "trailer announces %u", (long long) st.st_size,
                   expected_size);
      return FALSE;
    }
  file = g_fopen (path, "rb");
  if (file == NULL)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "%s: %s", path, g_strerror (errno));
      return FALSE;
    }
  got = fread (head, 1, sizeof head, file);
  fclose (file);
  if (got != sizeof head || memcmp (head, elf_magic, sizeof head) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "decompressed kernel is not an ELF file");
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_extract_vmlinux (const char *bzimage_path, const char *vmlinux_path,
                     GError **error)
{
  g_autofree char *image = NULL;
  g_autofree char *temp_path = NULL;
  g_autofree char *payload_path = NULL;
  const guint8 *payload;
  gsize size, payload_len, compressed_len;
  const Compression *compression;
  guint32 expected_size;
  gboolean ok;

  if (!g_file_get_contents (bzimage_path, &image, &size, error))
    return FALSE;
  if (!locate_payload (bzimage_path, (const guint8 *) image, size, &payload,
                       &payload_len, error))
    return FALSE;

  compression = find_compression (payload, payload_len);
  if (compression == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: unknown compression (payload starts %02x %02x %02x "
                   "%02x); known: gzip, xz, zstd, lz4, bzip2, lzma, lzo",
                   bzimage_path, payload[0], payload[1], payload[2],
                   payload[3]);
      return FALSE;
    }

  expected_size = read_le32 (payload + payload_len - SIZE_TRAILER_LEN);
  compressed_len = compression->size_trailer_appended
                       ? payload_len - SIZE_TRAILER_LEN
                       : payload_len;

  temp_path = g_strconcat (vmlinux_path, ".partial", NULL);
  payload_path = g_strconcat (vmlinux_path, ".payload", NULL);
  ok = g_file_set_contents (payload_path, (const char *) payload,
                            (gssize) compressed_len, error) &&
       decompress (compression, payload_path, temp_path, error) &&
       check_vmlinux (temp_path, expected_size, error);
  g_unlink (payload_path);
  if (!ok)
    {
      g_unlink (temp_path);
      return FALSE;
    }
  if (g_rename (temp_path, vmlinux_path) != 0)
    {
      int saved_errno = errno;

      g_unlink (temp_path);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot rename %s to %s: %s", temp_path, vmlinux_path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}
