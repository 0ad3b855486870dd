#include "disk-spec.h"

#include <string.h>

static void
test_full_spec (void)
{
  VivDiskSpec disk;
  g_autoptr (GError) error = NULL;
  g_assert_true (viv_disk_spec_parse ("/tmp/a,,b.img,format=raw,cache=none,readonly,serial=DISK0", &disk, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (disk.config.path, ==, "/tmp/a,b.img");
  g_assert_cmpstr (disk.config.format, ==, "raw");
  g_assert_cmpint (disk.config.cache, ==, VIV_BLOCK_CACHE_NONE);
  g_assert_true (disk.config.read_only);
  g_assert_cmpstr (disk.config.serial, ==, "DISK0");
  viv_disk_spec_clear (&disk);

  g_assert_true (viv_disk_spec_parse ("base.qcow2,format=qcow2", &disk, &error));
  g_assert_cmpstr (disk.config.format, ==, "qcow2");
  viv_disk_spec_clear (&disk);
}

static void
test_defaults (void)
{
  VivDiskSpec disk;
  g_assert_true (viv_disk_spec_parse ("disk.img", &disk, NULL));
  g_assert_cmpstr (disk.config.path, ==, "disk.img");
  g_assert_null (disk.config.format);
  g_assert_cmpint (disk.config.cache, ==, VIV_BLOCK_CACHE_WRITEBACK);
  g_assert_false (disk.config.read_only);
  g_assert_null (disk.config.serial);
  viv_disk_spec_clear (&disk);
}

static void
test_bad_specs (void)
{
  static const struct { const char *spec, *message; } bad[] = {
    { "", "image path comes first" },
    { ",cache=none", "image path comes first" },
    { "d.img,cache=fast", "unknown cache mode 'fast'" },
    { "d.img,format=vmdk", "unknown format 'vmdk'" },
    { "d.img,serial=123456789012345678901", "longer than 20 bytes" },
    { "d.img,size=1G", "unknown option 'size=1G'" },
    { "d.img,readonly=maybe", "unknown option 'readonly=maybe'" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      VivDiskSpec disk;
      g_autoptr (GError) error = NULL;
      g_assert_false (viv_disk_spec_parse (bad[i].spec, &disk, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      if (!strstr (error->message, bad[i].message))
        g_error ("'%s': message '%s' lacks '%s'", bad[i].spec, error->message, bad[i].message);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/disk-spec/full", test_full_spec);
  g_test_add_func ("/disk-spec/defaults", test_defaults);
  g_test_add_func ("/disk-spec/bad", test_bad_specs);
  return g_test_run ();
}
