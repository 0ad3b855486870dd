/* What a user sees when KVM is not there or not theirs: run vivctl with
 * /dev hidden (a private mount namespace) and as an unprivileged user. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

static void
run_and_expect (const char *const *argv, const char *message)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 125)
    {
      g_test_skip ("cannot set up the namespace or user switch here");
      return;
    }
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 2);
  if (!strstr (err, message))
    g_error ("stderr '%s' lacks '%s'", err, message);
  /* One line, prefixed. */
  g_assert_true (g_str_has_prefix (err, "vivctl: "));
  g_assert_cmpint (strchr (err, '\n') - err, ==, (long) strlen (err) - 1);
}

static void
test_missing_kvm (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("needs root for a private mount namespace");
      return;
    }
  g_autofree char *script = g_strdup_printf (
      "mount -t tmpfs none /dev || exit 125; exec '%s' run --kernel '%s'",
      g_getenv ("VIVCTL"), g_getenv ("PROBE_ELF"));
  const char *argv[] = { "unshare", "-m", "sh", "-c", script, NULL };
  run_and_expect (argv, "/dev/kvm is missing: load the KVM module");
}

static void
test_no_permission (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("needs root to switch to an unprivileged user");
      return;
    }
  /* nobody can read the kernel (build trees are world-readable) but not /dev/kvm. */
  if (access ("/dev/kvm", F_OK) != 0)
    {
      g_test_skip ("no /dev/kvm here");
      return;
    }
  /* The build tree may be unreadable to nobody (a clone under /root):
   * run a copy of vivctl from a world-readable temporary directory.  The
   * kernel is never reached: /dev/kvm is opened first. */
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vivctl-XXXXXX", &error);
  g_assert_no_error (error);
  g_chmod (dir, 0755);
  g_autofree char *copy = g_build_filename (dir, "vivctl", NULL);
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (g_getenv ("VIVCTL"), &contents, &length, &error));
  g_assert_true (g_file_set_contents_full (copy, contents, length, G_FILE_SET_CONTENTS_NONE, 0755, &error));
  g_assert_no_error (error);

  g_autofree char *script = g_strdup_printf (
      "setpriv --reuid=65534 --regid=65534 --clear-groups true || exit 125; "
      "exec setpriv --reuid=65534 --regid=65534 --clear-groups '%s' run --kernel /nonexistent",
      copy);
  const char *argv[] = { "sh", "-c", script, NULL };
  run_and_expect (argv, "no permission to open /dev/kvm: add yourself to the kvm group");
  g_unlink (copy);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kvm-errors/missing", test_missing_kvm);
  g_test_add_func ("/kvm-errors/no-permission", test_no_permission);
  return g_test_run ();
}
