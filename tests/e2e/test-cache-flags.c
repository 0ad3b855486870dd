/* Each disk cache mode opens the image the way it promises, seen from
 * outside the running vivctl through /proc/PID/fdinfo:
 * none → O_DIRECT, writethrough → O_DSYNC, writeback → neither. */
#include <gio/gio.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  const char *mode;
  int         must_have;
  int         must_not_have;
} CacheCase;

static const CacheCase cases[] = {
  { "none", O_DIRECT, O_DSYNC },
  { "writethrough", O_DSYNC, O_DIRECT },
  { "writeback", 0, O_DIRECT | O_DSYNC },
};

/* The open flags (octal in fdinfo) of the process's descriptor on path. */
static int
flags_of_open_file (const char *pid, const char *path)
{
  g_autofree char *fd_dir = g_strdup_printf ("/proc/%s/fd", pid);
  g_autoptr (GDir) dir = g_dir_open (fd_dir, 0, NULL);
  g_assert_nonnull (dir);
  const char *name;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *link = g_build_filename (fd_dir, name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);
      if (!target || strcmp (target, path) != 0)
        continue;
      g_autofree char *info_path = g_strdup_printf ("/proc/%s/fdinfo/%s", pid, name);
      g_autofree char *info = NULL;
      g_assert_true (g_file_get_contents (info_path, &info, NULL, NULL));
      const char *flags = strstr (info, "flags:");
      g_assert_nonnull (flags);
      return (int) g_ascii_strtoull (flags + strlen ("flags:"), NULL, 8);
    }
  g_error ("vivctl (pid %s) has no descriptor on %s", pid, path);
  return 0;
}

static void
test_cache_mode (gconstpointer data)
{
  const CacheCase *c = data;
  g_autoptr (GError) error = NULL;
  /* In the build tree, not /tmp: tmpfs has no O_DIRECT. */
  const char *base = g_getenv ("G_TEST_BUILDDIR") ? g_getenv ("G_TEST_BUILDDIR") : g_get_tmp_dir ();
  g_autofree char *dir = g_build_filename (base, "cache-XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (dir));
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *zeros = g_malloc0 (1 << 20);
  g_assert_true (g_file_set_contents (image, zeros, 1 << 20, &error));

  g_autofree char *disk = g_strdup_printf ("%s,cache=%s", image, c->mode);
  g_autoptr (GSubprocess) vm = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
      g_getenv ("VIVCTL"), "run", "--kernel", g_getenv ("PROBE_ELF"),
      "--cmdline", "probe.mode=irq", "--memory", "64M", "--disk", disk, NULL);
  g_assert_no_error (error);

  /* The guest waits for input once it says so: the disk is open by then. */
  g_autoptr (GDataInputStream) out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (vm));
  gboolean ready = FALSE;
  char *line;
  while (!ready && (line = g_data_input_stream_read_line (out, NULL, NULL, NULL)))
    {
      ready = strstr (line, "PROBE irq ready") != NULL;
      g_free (line);
    }
  g_assert_true (ready);

  int flags = flags_of_open_file (g_subprocess_get_identifier (vm), image);
  g_assert_cmpint (flags & c->must_have, ==, c->must_have);
  g_assert_cmpint (flags & c->must_not_have, ==, 0);

  g_assert_true (g_output_stream_write_all (g_subprocess_get_stdin_pipe (vm), "q", 1, NULL, NULL, &error));
  g_assert_true (g_subprocess_wait_check (vm, NULL, &error) || error);
  g_clear_error (&error);
  g_assert_cmpint (g_subprocess_get_exit_status (vm), ==, 1);
  g_unlink (image);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/e2e/disk/cache-flags/%s", cases[i].mode);
      g_test_add_data_func (path, &cases[i], test_cache_mode);
    }
  return g_test_run ();
}
