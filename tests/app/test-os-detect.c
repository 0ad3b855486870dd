/* OS detection with libosinfo (app/os-detect.h) on real ISO 9660 images
 * made with xorriso, whose volume, system and publisher ids match
 * entries of the osinfo-db package; and installation media in a new VM
 * (viv_library_create_vm): a read-only disk, the OS id in the XML. */
#include "os-detect.h"
#include "vm-create.h"

#include <glib/gstdio.h>
#include <string.h>
#include "viv-test-fs.h"
#include "viv-test-iso.h"

static char *tmp_dir;

static void
test_debian (void)
{
  g_autofree char *iso = viv_test_make_iso (tmp_dir, "debian.iso", "Debian 11.5.0 amd64 n", NULL, NULL);
  if (!iso)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (VivOsInfo) os = viv_os_detect_media (iso, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (os->id, ==, "http://debian.org/debian/11");
  g_assert_cmpstr (os->short_id, ==, "debian11");
  g_assert_cmpstr (os->name, ==, "Debian 11");
  g_assert_cmpstr (os->codename, ==, "bullseye");
  g_autofree char *description = viv_os_info_describe (os);
  g_assert_cmpstr (description, ==, "Debian 11 (bullseye)");
  /* debian-11.xml: 1 GiB and 20 GiB recommended, 1 vCPU at least. */
  g_assert_cmpuint (os->recommended.memory_bytes, ==, 1ull << 30);
  g_assert_cmpuint (os->recommended.storage_bytes, ==, 20ull << 30);
  g_assert_cmpuint (os->minimum.n_cpus, ==, 1);
  g_assert_cmpuint (os->minimum.storage_bytes, ==, 10ull << 30);
  g_assert_cmpuint (viv_os_info_suggested_cpus (os), ==, 1);
  g_assert_cmpuint (viv_os_info_suggested_memory (os), ==, 1ull << 30);
  g_assert_cmpuint (viv_os_info_suggested_storage (os), ==, 20ull << 30);
  /* The amd64 netinst's media entry, not the i386 one. */
  g_assert_cmpstr (os->kernel_path, ==, "install.amd/vmlinuz");
  g_assert_cmpstr (os->initrd_path, ==, "install.amd/initrd.gz");
}

/* ALT Workstation 10.0's entry needs the system id and the publisher too. */
static void
test_system_and_publisher (void)
{
  g_autofree char *iso = viv_test_make_iso (tmp_dir, "alt.iso", "ALT Workstation 10.0 x86_64", "LINUX", "BASEALT LTD");
  if (!iso)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (VivOsInfo) os = viv_os_detect_media (iso, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (os->id, ==, "http://altlinux.org/alt/10.0");
  g_assert_cmpstr (os->kernel_path, ==, "boot/vmlinuz");

  g_autofree char *other = viv_test_make_iso (tmp_dir, "alt-other.iso", "ALT Workstation 10.0 x86_64", "LINUX", "SOMEONE ELSE");
  g_autoptr (VivOsInfo) none = viv_os_detect_media (other, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNKNOWN_OS);
}

static void
test_unknown (void)
{
  g_autofree char *iso = viv_test_make_iso (tmp_dir, "mine.iso", "HOLIDAY PHOTOS", NULL, NULL);
  if (!iso)
    return;
  g_autoptr (GError) error = NULL;
  g_assert_null (viv_os_detect_media (iso, NULL, &error));
  g_assert_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNKNOWN_OS);
  g_assert_nonnull (strstr (error->message, "'HOLIDAY PHOTOS'"));
  g_assert_nonnull (strstr (error->message, "not recognised by libosinfo; choose the OS settings by hand"));
}

static void
test_not_media (void)
{
  static const gsize sizes[] = { 0, 100, 64 * 1024 };
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/file-%zu.bin", tmp_dir, sizes[i]);
      g_autofree char *bytes = g_malloc (sizes[i] ? sizes[i] : 1);
      memset (bytes, 'x', sizes[i]);
      g_assert_true (g_file_set_contents (path, bytes, sizes[i], NULL));
      g_autoptr (GError) error = NULL;
      g_assert_null (viv_os_detect_media (path, NULL, &error));
      g_assert_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_NOT_MEDIA);
      g_assert_nonnull (strstr (error->message, "is not installation media"));
    }

  g_autoptr (GError) error = NULL;
  g_assert_null (viv_os_detect_media ("/nonexistent/x.iso", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (viv_os_detect_media (tmp_dir, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
detected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref (result);
}

static void
test_async (void)
{
  g_autofree char *iso = viv_test_make_iso (tmp_dir, "debian-async.iso", "Debian 11.6.0 amd64 1", NULL, NULL);
  if (!iso)
    return;
  g_autoptr (GAsyncResult) result = NULL;
  viv_os_detect_media_async (iso, NULL, detected_cb, &result);
  while (!result)
    g_main_context_iteration (NULL, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (VivOsInfo) os = viv_os_detect_media_finish (result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (os->id, ==, "http://debian.org/debian/11");

  /* Cancelled: the result says so rather than answering late. */
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) cancelled = NULL;
  viv_os_detect_media_async (iso, cancellable, detected_cb, &cancelled);
  g_cancellable_cancel (cancellable);
  while (!cancelled)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (viv_os_detect_media_finish (cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_lookup (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivOsInfo) by_short = viv_os_lookup ("debian11", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_short->id, ==, "http://debian.org/debian/11");
  g_assert_null (by_short->kernel_path);   /* not media */
  g_autoptr (VivOsInfo) by_codename = viv_os_lookup ("debianbullseye", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_codename->id, ==, "http://debian.org/debian/11");
  g_autoptr (VivOsInfo) by_id = viv_os_lookup ("http://debian.org/debian/11", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_id->short_id, ==, "debian11");
  g_assert_null (viv_os_lookup ("amigaos", &error));
  g_assert_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNKNOWN_OS);
  g_assert_nonnull (strstr (error->message, "'amigaos'"));
}

static const VivOsInfo *
find_in_list (GPtrArray *list, const char *short_id, guint *index)
{
  for (guint i = 0; i < list->len; i++)
    {
      const VivOsInfo *os = list->pdata[i];
      if (g_strcmp0 (os->short_id, short_id) == 0)
        {
          *index = i;
          return os;
        }
    }
  return NULL;
}

/* Every x86_64 OS, by name with numbers in order; a day leaves out those
 * at their end of life by then. */
static void
test_list (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all = viv_os_list (NULL, &error);
  g_assert_no_error (error);
  guint debian11_at = 0, debian9_at = 0, unused;
  const VivOsInfo *debian11 = find_in_list (all, "debian11", &debian11_at);
  g_assert_nonnull (debian11);
  g_assert_cmpstr (debian11->id, ==, "http://debian.org/debian/11");
  g_assert_cmpstr (debian11->name, ==, "Debian 11");
  g_assert_cmpuint (viv_os_info_suggested_memory (debian11), ==, 1 << 30);
  g_assert_nonnull (find_in_list (all, "debian9", &debian9_at));
  g_assert_cmpuint (debian9_at, <, debian11_at);
  for (guint i = 1; i < all->len; i++)
    {
      const VivOsInfo *previous = all->pdata[i - 1], *os = all->pdata[i];
      g_autofree char *previous_key = g_utf8_collate_key_for_filename (previous->name, -1);
      g_autofree char *key = g_utf8_collate_key_for_filename (os->name, -1);
      g_assert_cmpstr (previous_key, <=, key);
    }

  /* Debian 9's end of life is in the database (2022). */
  g_autoptr (GDateTime) in_2018 = g_date_time_new_utc (2018, 6, 1, 0, 0, 0);
  g_autoptr (GDateTime) in_2100 = g_date_time_new_utc (2100, 1, 1, 0, 0, 0);
  g_autoptr (GPtrArray) then = viv_os_list (in_2018, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) later = viv_os_list (in_2100, &error);
  g_assert_no_error (error);
  g_assert_nonnull (find_in_list (then, "debian9", &unused));
  g_assert_null (find_in_list (later, "debian9", &unused));
  g_assert_cmpuint (later->len, <, then->len);
  g_assert_cmpuint (then->len, <, all->len);
}

/* Without osinfo-db (libosinfo's directories moved away): the error says
 * what to install.  In a child, as the database loads once a process. */
static void
test_no_database (void)
{
  if (g_test_subprocess ())
    {
      static const char *const variables[] = { "OSINFO_SYSTEM_DIR", "OSINFO_LOCAL_DIR", "OSINFO_USER_DIR" };
      for (size_t i = 0; i < G_N_ELEMENTS (variables); i++)
        g_setenv (variables[i], "/nonexistent", TRUE);
      g_autoptr (GError) error = NULL;
      g_assert_null (viv_os_lookup ("debian11", &error));
      g_assert_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_NO_DATABASE);
      g_clear_error (&error);
      g_assert_null (viv_os_list (NULL, &error));
      g_assert_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_NO_DATABASE);
      g_assert_nonnull (strstr (error->message, "install osinfo-db"));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* A preload racing with lookups from this thread: each lookup waits for
 * the one load and sees the whole database.  In a child, so that the
 * database is not loaded yet. */
static void
test_preload (void)
{
  if (g_test_subprocess ())
    {
      viv_os_database_preload ();
      for (int i = 0; i < 3; i++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (VivOsInfo) os = viv_os_lookup ("debian11", &error);
          g_assert_no_error (error);
          g_assert_cmpstr (os->id, ==, "http://debian.org/debian/11");
        }
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static gboolean
libosinfo_mapped (void)
{
  g_autofree char *maps = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  return strstr (maps, "libosinfo-1.0.so") != NULL;
}

/* libosinfo (with libsoup, ICU, SQLite... behind it) is loaded by the first
 * detection, not at start: a process linked with the VM library, as
 * vivctl and the app are, does not pay for it until it detects an OS. */
static void
test_loaded_on_first_use (void)
{
  if (g_test_subprocess ())
    {
      g_assert_false (libosinfo_mapped ());
      g_autoptr (GError) error = NULL;
      g_autoptr (VivOsInfo) os = viv_os_lookup ("debian11", &error);
      g_assert_no_error (error);
      g_assert_true (libosinfo_mapped ());
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Without the module, detection fails with a message saying what to do. */
static void
test_module_missing (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("VIVARIUM_OSINFO_MODULE", "/nonexistent/vivarium-osinfo.so", TRUE);
      g_autoptr (GError) error = NULL;
      g_assert_null (viv_os_lookup ("debian11", &error));
      g_assert_error (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNAVAILABLE);
      g_assert_nonnull (strstr (error->message, "/nonexistent/vivarium-osinfo.so"));
      g_assert_nonnull (strstr (error->message, "reinstall Vivarium"));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* viv_library_create_vm attaches the media read-only, last, and keeps the
 * OS id through the library's XML. */
static void
test_create_with_media (void)
{
  g_autofree char *iso = viv_test_make_iso (tmp_dir, "install.iso", "Debian 11.5.0 amd64 n", NULL, NULL);
  if (!iso)
    return;
  g_autofree char *root = g_build_filename (tmp_dir, "library", NULL);
  g_autofree char *kernel = g_build_filename (tmp_dir, "vmlinuz", NULL);
  g_assert_true (g_file_set_contents (kernel, "kernel", -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (VivLibrary) lib = viv_library_open (root, &error);
  g_assert_no_error (error);

  char *disks[] = { "size=1M", NULL };
  VivLibraryCreateOptions options = {
    .name = "installer", .kernel = kernel, .disks = disks,
    .media = iso, .os_id = "http://debian.org/debian/11",
  };
  g_autoptr (VivVmDefinition) created = viv_library_create_vm (lib, &options, &error);
  g_assert_no_error (error);
  g_autoptr (VivVmDefinition) def = viv_library_load (lib, "installer", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (def->os_id, ==, "http://debian.org/debian/11");
  g_assert_cmpuint (def->disks->len, ==, 2);
  const VivDiskSpec *disk = def->disks->pdata[0], *media = def->disks->pdata[1];
  g_assert_false (disk->config.read_only);
  g_assert_cmpstr (media->path, ==, iso);
  g_assert_true (media->config.read_only);
  g_assert_cmpstr (media->format, ==, "raw");
  g_autofree char *xml = viv_library_load_xml (lib, "installer", &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (xml, "<libosinfo:os id=\"http://debian.org/debian/11\"/>"));

  options.name = "no-media";
  options.media = "/nonexistent/install.iso";
  g_assert_null (viv_library_create_vm (lib, &options, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "--media /nonexistent/install.iso: not a file"));
  g_clear_error (&error);
  /* Nothing is left of it. */
  g_assert_false (viv_library_contains (lib, "no-media"));
  g_autofree char *dir = viv_library_get_vm_dir (lib, "no-media");
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));

  /* The media is read-only: removing the VM's disks leaves it. */
  g_assert_true (viv_library_undefine (lib, "installer", TRUE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (iso, G_FILE_TEST_IS_REGULAR));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("viv-os-detect-XXXXXX", NULL);
  g_assert_nonnull (tmp_dir);
  g_test_add_func ("/os-detect/debian", test_debian);
  g_test_add_func ("/os-detect/system-and-publisher", test_system_and_publisher);
  g_test_add_func ("/os-detect/unknown", test_unknown);
  g_test_add_func ("/os-detect/not-media", test_not_media);
  g_test_add_func ("/os-detect/async", test_async);
  g_test_add_func ("/os-detect/lookup", test_lookup);
  g_test_add_func ("/os-detect/list", test_list);
  g_test_add_func ("/os-detect/no-database", test_no_database);
  g_test_add_func ("/os-detect/preload", test_preload);
  g_test_add_func ("/os-detect/loaded-on-first-use", test_loaded_on_first_use);
  g_test_add_func ("/os-detect/module-missing", test_module_missing);
  g_test_add_func ("/os-detect/create-with-media", test_create_with_media);
  int status = g_test_run ();
  viv_test_remove_tree (tmp_dir);
  g_free (tmp_dir);
  return status;
}
