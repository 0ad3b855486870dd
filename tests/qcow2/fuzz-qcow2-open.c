/* libFuzzer target: the input is a qcow2 image file.  Opens it (read-only
 * and read-write), reads every cluster, runs info and check, writes a
 * little.  Anything but a clean error is a bug.  Built with clang
 * -fsanitize=fuzzer,address,undefined over the block layer's sources. */
#include "block/block.h"
#include "block/qcow2.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_READ (16u << 20)   /* of the virtual disk, per input */

static char *image_path;
static GMainContext *context;

typedef struct {
  int  ret;
  bool done;
} Result;

static void
on_done (void *opaque, int ret)
{
  Result *r = opaque;
  r->ret = ret;
  r->done = true;
}

static void
wait_result (Result *r)
{
  while (!r->done)
    g_main_context_iteration (context, TRUE);
}

static void
read_all (VivBlock *blk)
{
  static uint8_t buf[65536];
  uint64_t length = MIN (viv_block_length (blk), MAX_READ);
  for (uint64_t off = 0; off < length; off += sizeof buf) {
    Result r = { 0 };
    struct iovec iov = { buf, MIN (sizeof buf, length - off) };
    viv_block_readv (blk, off, &iov, 1, on_done, &r);
    wait_result (&r);
  }
}

static void
write_some (VivBlock *blk)
{
  static uint8_t buf[4096];
  uint64_t length = viv_block_length (blk);
  if (length < sizeof buf)
    return;
  memset (buf, 0x5a, sizeof buf);
  Result r = { 0 };
  struct iovec iov = { buf, sizeof buf };
  viv_block_writev (blk, length / 2 & ~4095ull, &iov, 1, on_done, &r);
  wait_result (&r);
  r = (Result) { 0 };
  viv_block_write_zeroes (blk, 0, MIN (length, 1 << 20) & ~511ull, VIV_BLOCK_ZERO_MAY_UNMAP,
                          on_done, &r);
  wait_result (&r);
  r = (Result) { 0 };
  viv_block_flush (blk, on_done, &r);
  wait_result (&r);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Broken images are logged as warnings: expected here, and noise. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return g_log_writer_default (level, fields, n_fields, data);
  return G_LOG_WRITER_HANDLED;
}

static char *scratch_dir;

static void
remove_scratch (void)
{
  g_unlink (image_path);
  g_rmdir (scratch_dir);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  scratch_dir = g_dir_make_tmp ("viv-fuzz-qcow2-XXXXXX", NULL);
  g_assert (scratch_dir);
  image_path = g_build_filename (scratch_dir, "fuzz.qcow2", NULL);
  atexit (remove_scratch);
  context = g_main_context_new ();
  g_log_set_writer_func (quiet_writer, NULL, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  return 0;
}

static bool
write_image (const uint8_t *data, size_t size)
{
  int fd = open (image_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  if (fd < 0)
    return false;
  bool ok = write (fd, data, size) == (ssize_t) size;
  close (fd);
  return ok;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (!write_image (data, size))
    return 0;
  for (int read_only = 1; read_only >= 0; read_only--) {
    VivBlockOptions options = {
      .path = image_path, .format = "qcow2", .read_only = read_only, .context = context,
    };
    GError *error = NULL;
    VivBlock *blk = viv_block_open (&options, &error);
    g_clear_error (&error);
    if (!blk)
      continue;
    read_all (blk);
    if (!read_only)
      write_some (blk);
    viv_block_close (blk);
  }
  if (!write_image (data, size))
    return 0;
  GError *error = NULL;
  VivQcow2Info *info = viv_qcow2_info (image_path, true, &error);
  viv_qcow2_info_free (info);
  g_clear_error (&error);
  VivQcow2CheckResult result;
  if (viv_qcow2_check (image_path, VIV_QCOW2_REPAIR_LEAKS | VIV_QCOW2_REPAIR_ERRORS, &result,
                       &error))
    viv_qcow2_check_result_clear (&result);
  g_clear_error (&error);
  return 0;
}
