/* A VM on a linked clone: the probe guest writes through a qcow2 overlay
 * whose backing file is a raw base.  The base must stay untouched, the
 * overlay must pass `qemu-img check`, and a second boot must read back
 * what the first wrote. */
#include <gio/gio.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <string.h>

static char *
run_ok (const char *const *argv, int expected_status)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != expected_status)
    g_error ("%s exited with %d (wanted %d)\nstdout: %s\nstderr: %s",
             argv[0], WEXITSTATUS (status), expected_status, out, err);
  return g_steal_pointer (&out);
}

/* The checksum on the guest's "PROBE blk capacity=…" line. */
static char *
blk_checksum (const char *output)
{
  const char *line = strstr (output, "PROBE blk capacity=");
  g_assert_nonnull (line);
  g_assert_nonnull (strstr (line, "errors=0"));
  const char *sum = strstr (line, "checksum=");
  g_assert_nonnull (sum);
  return g_strndup (sum, strcspn (sum, "\r\n"));
}

static void
test_linked_clone_vm (void)
{
  g_autofree char *qemu_img = g_find_program_in_path ("qemu-img");
  if (!qemu_img)
    {
      g_test_skip ("qemu-img (qemu-utils) is not installed");
      return;
    }
  /* In the build tree, not /tmp: tmpfs has no O_DIRECT. */
  g_autofree char *dir = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "qcow2-vm-XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (dir));
  g_autofree char *base = g_build_filename (dir, "base.raw", NULL);
  g_autofree char *overlay = g_build_filename (dir, "overlay.qcow2", NULL);
  g_autoptr (GError) error = NULL;

  gsize size = 8 << 20;
  g_autofree guint8 *pattern = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    pattern[i] = (guint8) (i * 131 + (i >> 12));
  g_assert_true (g_file_set_contents (base, (const char *) pattern, size, &error));

  const char *vivctl = g_getenv ("VIVCTL"), *probe = g_getenv ("PROBE_ELF");
  const char *clone[] = { vivctl, "disk", "clone", "--linked", base, overlay, NULL };
  g_free (run_ok (clone, 0));

  g_autofree char *disk = g_strdup_printf ("%s,format=qcow2,cache=none", overlay);
  const char *write_run[] = { vivctl, "run", "--kernel", probe, "--memory", "64M",
                              "--cmdline", "probe.mode=blk", "--disk", disk, NULL };
  g_autofree char *written = run_ok (write_run, 1);
  g_autofree char *write_sum = blk_checksum (written);

  /* The base is read-only to the VM: byte for byte what it was. */
  g_autofree char *after = NULL;
  gsize after_len = 0;
  g_assert_true (g_file_get_contents (base, &after, &after_len, &error));
  g_assert_cmpuint (after_len, ==, size);
  g_assert_true (memcmp (after, pattern, size) == 0);

  const char *check[] = { "qemu-img", "check", overlay, NULL };
  g_free (run_ok (check, 0));
  /* The overlay now differs from its base (qemu-img compare: 1). */
  const char *compare[] = { "qemu-img", "compare", "-f", "raw", "-F", "qcow2", base, overlay, NULL };
  g_free (run_ok (compare, 1));

  const char *read_run[] = { vivctl, "run", "--kernel", probe, "--memory", "64M",
                             "--cmdline", "probe.mode=blk probe.blk_op=read", "--disk", disk, NULL };
  g_autofree char *read_back = run_ok (read_run, 1);
  g_autofree char *read_sum = blk_checksum (read_back);
  g_assert_cmpstr (read_sum, ==, write_sum);

  g_unlink (overlay);
  g_unlink (base);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/disk/linked-clone-vm", test_linked_clone_vm);
  return g_test_run ();
}
