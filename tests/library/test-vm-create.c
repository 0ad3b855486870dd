/* viv_library_create_vm() (what `vivctl create` and the app's assistant
 * share): the images it makes, what it refuses, and that a failure leaves
 * nothing behind.  Clones: test-vm-clone.c. */
#include "vm-create.h"
#include "block/qcow2.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include "viv-test-fs.h"

typedef struct {
  char       *tmp;
  char       *kernel;
  char       *base;     /* a 1 MiB raw image */
  VivLibrary *lib;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->tmp = g_dir_make_tmp ("viv-vm-create-XXXXXX", NULL);
  g_assert_nonnull (f->tmp);
  f->kernel = g_build_filename (f->tmp, "vmlinuz", NULL);
  g_assert_true (g_file_set_contents (f->kernel, "kernel", -1, NULL));
  f->base = g_build_filename (f->tmp, "base, raw.img", NULL);
  g_assert_true (g_file_set_contents (f->base, "base", -1, NULL));
  g_assert_cmpint (truncate (f->base, 1 << 20), ==, 0);
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
  g_free (f->base);
}

static VivVmDefinition *
create (Fixture *f, const char *name, const char *disk, GError **error)
{
  char *disks[] = { (char *) disk, NULL };
  char *nets[] = { "user,hostfwd=tcp:127.0.0.1:2222-:22", NULL };
  VivLibraryCreateOptions options = {
    .name = name,
    .kernel = f->kernel,
    .n_cpus = 2,
    .disks = disk ? disks : NULL,
    .nets = nets,
  };
  return viv_library_create_vm (f->lib, &options, error);
}

static void
test_create_images (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) raw = create (f, "raw", "size=64K,serial=abc", &error);
  g_assert_no_error (error);
  VivDiskSpec *disk = raw->disks->pdata[0];
  g_assert_true (g_str_has_suffix (disk->path, "/raw/disk0.img"));
  g_assert_cmpstr (disk->serial, ==, "abc");
  g_assert_false (viv_qcow2_has_magic (disk->path));
  g_assert_cmpuint (raw->memory_bytes, ==, VIV_LIBRARY_CREATE_DEFAULT_MEMORY);
  g_assert_cmpuint (raw->n_cpus, ==, 2);
  g_assert_nonnull (strstr (raw->nets->pdata[0], ",mac=52:54:00:"));

  g_autoptr (VivVmDefinition) qcow2 = create (f, "qcow2", "size=8G,format=qcow2", &error);
  g_assert_no_error (error);
  disk = qcow2->disks->pdata[0];
  g_assert_cmpstr (disk->format, ==, "qcow2");
  g_autoptr (VivQcow2Info) info = viv_qcow2_info (disk->path, false, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->virtual_size, ==, 8ull << 30);
  g_assert_null (info->backing_file);

  g_autofree char *escaped = NULL;
  {
    g_auto (GStrv) parts = g_strsplit (f->base, ",", -1);
    escaped = g_strjoinv (",,", parts);
  }
  g_autofree char *spec = g_strconcat ("backing=", escaped, ",cache=none", NULL);
  g_autoptr (VivVmDefinition) linked = create (f, "linked", spec, &error);
  g_assert_no_error (error);
  disk = linked->disks->pdata[0];
  g_assert_cmpstr (disk->format, ==, "qcow2");
  g_assert_cmpint (disk->config.cache, ==, VIV_BLOCK_CACHE_NONE);
  g_autoptr (VivQcow2Info) linked_info = viv_qcow2_info (disk->path, false, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (linked_info->backing_file, ==, f->base);
  g_assert_cmpstr (linked_info->backing_format, ==, "raw");
  g_assert_cmpuint (linked_info->virtual_size, ==, 1 << 20);
}

static void
test_create_refuses (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) first = create (f, "web", NULL, &error);
  g_assert_no_error (error);

  g_assert_null (create (f, "web", "size=1M", &error));
  g_assert_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_null (create (f, "bad name", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (create (f, "nodisk", "backing=/nonexistent.img", &error));
  g_assert_nonnull (strstr (error->message, "/nonexistent.img"));
  g_clear_error (&error);

  /* The second disk's failure takes the first's new image away too. */
  char *disks[] = { "size=1M", "size=12Q", NULL };
  VivLibraryCreateOptions options = { .name = "half", .kernel = f->kernel, .disks = disks };
  g_assert_null (viv_library_create_vm (f->lib, &options, &error));
  g_assert_nonnull (strstr (error->message, "12Q"));
  g_autofree char *dir = viv_library_get_vm_dir (f->lib, "half");
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/library/create/images", test_create_images);
  ADD ("/library/create/refuses", test_create_refuses);
  return g_test_run ();
}
