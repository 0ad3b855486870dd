/* viv_library_clone_vm(): full and linked clones, the progress of a full
 * one (bytes of data, holes not counted) and cancelling it, which must
 * leave no file and no library entry behind. */
#include "vm-clone.h"
#include "vm-create.h"
#include "vivctl-disk-copy.h"
#include "block/qcow2.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "viv-test-fs.h"

#define MiB (G_GUINT64_CONSTANT (1) << 20)

typedef struct {
  char       *tmp;
  char       *kernel;
  VivLibrary *lib;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->tmp = g_dir_make_tmp ("viv-vm-clone-XXXXXX", NULL);
  g_assert_nonnull (f->tmp);
  f->kernel = g_build_filename (f->tmp, "vmlinuz", NULL);
  g_assert_true (g_file_set_contents (f->kernel, "kernel", -1, NULL));
  g_autofree char *root = g_build_filename (f->tmp, "machines", NULL);
  g_autoptr (GError) error = NULL;
  f->lib = viv_library_open (root, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  viv_library_free (f->lib);
  viv_test_remove_tree (f->tmp);
  g_free (f->tmp);
  g_free (f->kernel);
}

static VivVmDefinition *
create (Fixture *f, const char *name, char **disks)
{
  char *nets[] = { "user", NULL };
  VivLibraryCreateOptions options = {
    .name = name,
    .kernel = f->kernel,
    .disks = disks,
    .nets = nets,
  };
  g_autoptr (GError) error = NULL;
  VivVmDefinition *def = viv_library_create_vm (f->lib, &options, &error);
  g_assert_no_error (error);
  return def;
}

/* Writes `length` bytes of a pattern that differs by offset at `offset`. */
static void
write_data (const char *path, guint64 offset, guint64 length)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_autofree guint32 *buf = g_malloc (MiB);
  for (guint64 done = 0; done < length; done += MiB)
    {
      for (guint i = 0; i < MiB / sizeof *buf; i++)
        buf[i] = (offset + done) / sizeof *buf + i;
      g_assert_cmpint (pwrite (fd, buf, MIN (MiB, length - done), offset + done), ==, MIN (MiB, length - done));
    }
  close (fd);
}

/* The bytes in the file's data extents: what a copy that keeps holes
 * copies.  Not st_blocks: that also counts the file system's own blocks
 * (an extent tree block when a copy lands in more pieces). */
static guint64
data_bytes (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_no_errno (fd);
  guint64 bytes;
  g_autoptr (GError) error = NULL;
  g_assert_true (vivctl_disk_data_bytes (fd, path, &bytes, &error));
  g_assert_no_error (error);
  close (fd);
  return bytes;
}

static void
assert_same_file (const char *a, const char *b)
{
  g_autoptr (GMappedFile) ma = g_mapped_file_new (a, FALSE, NULL);
  g_autoptr (GMappedFile) mb = g_mapped_file_new (b, FALSE, NULL);
  g_assert_nonnull (ma);
  g_assert_nonnull (mb);
  g_assert_cmpuint (g_mapped_file_get_length (ma), ==, g_mapped_file_get_length (mb));
  g_assert_true (memcmp (g_mapped_file_get_contents (ma), g_mapped_file_get_contents (mb),
                         g_mapped_file_get_length (ma)) == 0);
}

typedef struct {
  GArray       *done;     /* guint64, every report */
  guint64       total;
  GCancellable *cancel_midway;  /* cancelled at the first report strictly between 0 and total */
} Reports;

static void
record_progress (guint64 done, guint64 total, gpointer user_data)
{
  Reports *reports = user_data;
  if (reports->done->len == 0)
    reports->total = total;
  g_assert_cmpuint (total, ==, reports->total);
  g_assert_cmpuint (done, <=, total);
  g_array_append_val (reports->done, done);
  if (reports->cancel_midway && done > 0 && done < total)
    g_cancellable_cancel (reports->cancel_midway);
}

static void
test_clone (Fixture *f, gconstpointer data)
{
  char *disks[] = { "size=1M", NULL };
  g_autoptr (VivVmDefinition) source = create (f, "source", disks);
  VivDiskSpec *source_disk = source->disks->pdata[0];
  g_assert_true (g_file_set_contents (source_disk->path, "data", -1, NULL));
  g_assert_cmpint (truncate (source_disk->path, 1 << 20), ==, 0);

  g_autoptr (GError) error = NULL;
  Reports reports = { .done = g_array_new (FALSE, FALSE, sizeof (guint64)) };
  g_autoptr (VivVmDefinition) full = viv_library_clone_vm (f->lib, "source", "full", FALSE, record_progress,
                                                           &reports, NULL, &error);
  g_assert_no_error (error);
  /* One block of data, a hole kept: 0, then all of it. */
  g_assert_cmpuint (reports.total, ==, data_bytes (source_disk->path));
  g_assert_cmpuint (reports.done->len, ==, 2);
  g_assert_cmpuint (g_array_index (reports.done, guint64, 0), ==, 0);
  g_assert_cmpuint (g_array_index (reports.done, guint64, 1), ==, reports.total);
  VivDiskSpec *disk = full->disks->pdata[0];
  g_assert_cmpstr (disk->path, !=, source_disk->path);
  assert_same_file (disk->path, source_disk->path);
  g_assert_cmpstr (full->uuid, !=, source->uuid);
  g_assert_cmpstr (full->nets->pdata[0], !=, source->nets->pdata[0]);

  /* A linked clone copies nothing. */
  g_array_set_size (reports.done, 0);
  g_autoptr (VivVmDefinition) linked = viv_library_clone_vm (f->lib, "source", "linked", TRUE, record_progress,
                                                             &reports, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reports.done->len, ==, 1);
  g_assert_cmpuint (reports.total, ==, 0);
  disk = linked->disks->pdata[0];
  g_autoptr (VivQcow2Info) info = viv_qcow2_info (disk->path, false, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->backing_file, ==, source_disk->path);

  /* A full copy of an overlay would still need its backing file. */
  g_assert_null (viv_library_clone_vm (f->lib, "linked", "flat", FALSE, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_autofree char *flat_dir = viv_library_get_vm_dir (f->lib, "flat");
  g_assert_false (g_file_test (flat_dir, G_FILE_TEST_EXISTS));
  g_assert_null (viv_library_clone_vm (f->lib, "source", "full", TRUE, NULL, NULL, NULL, &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS);
  g_array_unref (reports.done);
}

/* A raw disk of 256 MiB with 40 MiB of data in three places, and a
 * qcow2 disk: the total is their data, not their sizes. */
static VivVmDefinition *
create_sparse_source (Fixture *f, guint64 *raw_data)
{
  char *disks[] = { "size=256M", "size=8G,format=qcow2", NULL };
  VivVmDefinition *source = create (f, "source", disks);
  const char *raw = ((VivDiskSpec *) source->disks->pdata[0])->path;
  write_data (raw, 0, 4 * MiB);
  write_data (raw, 100 * MiB, 24 * MiB);
  write_data (raw, 244 * MiB, 12 * MiB);
  *raw_data = 40 * MiB;
  return source;
}

static void
test_clone_progress (Fixture *f, gconstpointer data)
{
  guint64 raw_data;
  g_autoptr (VivVmDefinition) source = create_sparse_source (f, &raw_data);
  const char *raw = ((VivDiskSpec *) source->disks->pdata[0])->path;
  const char *qcow2 = ((VivDiskSpec *) source->disks->pdata[1])->path;
  guint64 qcow2_data = data_bytes (qcow2);
  g_assert_cmpuint (data_bytes (raw), ==, raw_data);

  g_autoptr (GError) error = NULL;
  Reports reports = { .done = g_array_new (FALSE, FALSE, sizeof (guint64)) };
  g_autoptr (VivVmDefinition) clone = viv_library_clone_vm (f->lib, "source", "copy", FALSE, record_progress,
                                                            &reports, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reports.total, ==, raw_data + qcow2_data);
  g_assert_cmpuint (reports.done->len, >=, 3);
  g_assert_cmpuint (g_array_index (reports.done, guint64, 0), ==, 0);
  for (guint i = 1; i < reports.done->len; i++)
    g_assert_cmpuint (g_array_index (reports.done, guint64, i), >, g_array_index (reports.done, guint64, i - 1));
  g_assert_cmpuint (g_array_index (reports.done, guint64, reports.done->len - 1), ==, reports.total);
  g_test_message ("%u reports of %" G_GUINT64_FORMAT " bytes", reports.done->len, reports.total);

  for (guint i = 0; i < 2; i++)
    {
      VivDiskSpec *ours = clone->disks->pdata[i], *theirs = source->disks->pdata[i];
      g_assert_cmpstr (ours->format, ==, theirs->format ? theirs->format : "raw");
      assert_same_file (ours->path, theirs->path);
      g_assert_cmpuint (data_bytes (ours->path), ==, data_bytes (theirs->path));
    }
  g_array_unref (reports.done);
}

static void
assert_nothing_left (Fixture *f, const char *name)
{
  g_assert_false (viv_library_contains (f->lib, name));
  g_autofree char *dir = viv_library_get_vm_dir (f->lib, name);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

static void
test_clone_cancel (Fixture *f, gconstpointer data)
{
  guint64 raw_data;
  g_autoptr (VivVmDefinition) source = create_sparse_source (f, &raw_data);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  Reports reports = { .done = g_array_new (FALSE, FALSE, sizeof (guint64)), .cancel_midway = cancellable };

  g_assert_null (viv_library_clone_vm (f->lib, "source", "copy", FALSE, record_progress, &reports,
                                       cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  /* It stopped at the next piece, well before the end. */
  guint64 last = g_array_index (reports.done, guint64, reports.done->len - 1);
  g_assert_cmpuint (last, >, 0);
  g_assert_cmpuint (last, <, reports.total);
  assert_nothing_left (f, "copy");

  /* Cancelled before it starts: nothing is made either. */
  g_assert_null (viv_library_clone_vm (f->lib, "source", "copy", FALSE, NULL, NULL, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_nothing_left (f, "copy");
  g_array_unref (reports.done);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/library/clone", test_clone);
  ADD ("/library/clone/progress", test_clone_progress);
  ADD ("/library/clone/cancel", test_clone_cancel);
  return g_test_run ();
}
