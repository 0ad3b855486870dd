/* bench-ui-idle: the desktop app's own CPU use while it graphs running VMs.
 *
 * Defines N VMs (default 10) booting the probe guest's irq mode (it halts
 * until a byte comes on COM1: quiet guests), starts them with vivctl in a
 * private library and runtime directory, starts the app on an Xvfb of its
 * own, waits for its first frame and for the statistics to flow, shows the
 * first VM's graphs (the app selects the first VM; the bench presses the
 * "Graphs" view button through the accessibility bus, as a screen reader
 * would), lets it settle, then reads the app's utime + stime from
 * /proc/PID/stat over the measured interval. The library list's sparklines
 * and the page's graphs are on screen all along.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "bench-ui-x.h"

#define GOAL_PERCENT 2.0
#define FIRST_FRAME_TIMEOUT_S 60.0

/* utime + stime of `pid`, in clock ticks, from /proc/PID/stat. */
static gboolean
read_cpu_ticks (pid_t pid, guint64 *ticks, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after_comm;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  /* The command name is in parentheses and may hold spaces. */
  after_comm = strrchr (text, ')');
  if (after_comm == NULL)
    goto bad;
  fields = g_strsplit (after_comm + 2, " ", -1);
  /* Fields 14 and 15 (utime, stime) are 11 and 12 after the state (3). */
  if (g_strv_length (fields) < 13)
    goto bad;
  *ticks = g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Cannot parse %s", path);
  return FALSE;
}

/* Runs a vivctl command in the bench's environment; fails on a non-zero
 * exit with what vivctl said in the message. */
static gboolean
vivctl (char **envp, const char *vivctl_path, const char *const *args, GError **error)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  g_ptr_array_add (argv, (char *) vivctl_path);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT,
                     NULL, NULL, &out, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "vivctl %s %s: %s", args[0], args[1] ? args[1] : "",
                      g_strstrip (err));
      return FALSE;
    }
  return TRUE;
}

/* VMs whose state is "running", from `vivctl list --json`. */
static guint
count_running (char **envp, const char *vivctl_path)
{
  char *argv[] = { (char *) vivctl_path, "list", "--json", NULL };
  g_autofree char *out = NULL;
  const char *at;
  guint n = 0;
  int status;

  if (!g_spawn_sync (NULL, argv, envp, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                     NULL, &status, NULL) || !g_spawn_check_wait_status (status, NULL))
    return 0;
  for (at = out; (at = strstr (at, "\"running\"")) != NULL; at++)
    n++;
  return n;
}

int
main (int argc, char **argv)
{
  g_autofree char *vivarium = NULL;
  g_autofree char *schema_dir = NULL;
  g_autofree char *vivctl_path = NULL;
  g_autofree char *worker = NULL;
  g_autofree char *probe = NULL;
  g_autofree char *screenshot = NULL;
  g_auto (GStrv) vivarium_env = NULL;
  int n_vms = 10;
  int seconds = 60;
  int settle_s = 15;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (BenchDisplay) display = NULL;
  g_autoptr (BenchHome) home = NULL;
  g_auto (GStrv) envp = NULL;
  g_autofree char *log_path = NULL;
  g_autofree char *schema_env = NULL;
  g_autofree char *worker_env = NULL;
  double mapped, drawn, percent;
  guint64 ticks_before, ticks_after;
  guint frames, running;
  Window window;
  pid_t pid = -1;
  int started = 0;
  int rc = 1;
  GOptionEntry entries[] = {
    { "vivarium", 0, 0, G_OPTION_ARG_FILENAME, &vivarium, "the app to measure", "PATH" },
    { "schema-dir", 0, 0, G_OPTION_ARG_FILENAME, &schema_dir,
      "its compiled GSettings schema (GSETTINGS_SCHEMA_DIR)", "DIR" },
    { "vivctl", 0, 0, G_OPTION_ARG_FILENAME, &vivctl_path, "vivctl, to define and start the VMs", "PATH" },
    { "worker", 0, 0, G_OPTION_ARG_FILENAME, &worker, "vivarium-worker (VIVARIUM_WORKER)", "PATH" },
    { "probe", 0, 0, G_OPTION_ARG_FILENAME, &probe, "the probe guest (probe.elf)", "PATH" },
    { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &screenshot,
      "save the window as measured, as a PNG", "FILE" },
    { "vivarium-env", 0, 0, G_OPTION_ARG_STRING_ARRAY, &vivarium_env,
      "one more NAME=VALUE in the app's environment (e.g. GSK_RENDERER=cairo)", "NAME=VALUE" },
    { "vms", 0, 0, G_OPTION_ARG_INT, &n_vms, "running VMs (default 10)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "the measured interval (default 60)", "S" },
    { "settle", 0, 0, G_OPTION_ARG_INT, &settle_s,
      "seconds between showing the graphs and measuring (default 15)", "S" },
    { NULL }
  };

  context = g_option_context_new ("- the app's CPU use while it graphs running VMs");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-ui-idle: %s\n", error->message);
      return 2;
    }
  if (!vivarium || !schema_dir || !vivctl_path || !worker || !probe ||
      n_vms < 1 || n_vms > 64 || seconds < 1 || settle_s < 0)
    {
      g_printerr ("bench-ui-idle: --vivarium, --schema-dir, --vivctl, --worker and --probe are "
                  "required; --vms 1 to 64, --seconds at least 1\n");
      return 2;
    }

  display = bench_display_start (&error);
  if (display == NULL)
    goto fail;
  home = bench_home_new (&error);
  if (home == NULL)
    goto fail;
  schema_env = g_strdup_printf ("GSETTINGS_SCHEMA_DIR=%s", schema_dir);
  worker_env = g_strdup_printf ("VIVARIUM_WORKER=%s", worker);
  {
    g_autoptr (GPtrArray) extra = g_ptr_array_new ();

    g_ptr_array_add (extra, schema_env);
    g_ptr_array_add (extra, worker_env);
    for (guint i = 0; vivarium_env != NULL && vivarium_env[i] != NULL; i++)
      g_ptr_array_add (extra, vivarium_env[i]);
    g_ptr_array_add (extra, NULL);
    envp = bench_app_envp (display, home, (const char *const *) extra->pdata);
  }
  log_path = g_build_filename (home->root, "app.log", NULL);

  /* The VMs: defined and started as a user would, with vivctl. */
  for (int i = 0; i < n_vms; i++)
    {
      g_autofree char *name = g_strdup_printf ("idle-%02d", i);
      const char *create[] = { "create", name, "--kernel", probe, "--cmdline", "probe.mode=irq",
                               "--cpus", "1", "--memory", "64M", NULL };
      const char *start[] = { "start", name, NULL };

      if (!vivctl (envp, vivctl_path, create, &error) ||
          !vivctl (envp, vivctl_path, start, &error))
        goto fail;
      started++;
    }
  running = count_running (envp, vivctl_path);
  if (running != (guint) n_vms)
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%u of %d VMs are running (vivctl list)", running, n_vms);
      goto fail;
    }

  {
    char *app_argv[] = { vivarium, NULL };
    double start = bench_ui_now ();

    pid = bench_spawn (app_argv, envp, log_path, &error);
    if (pid < 0)
      goto fail;
    if (!bench_wait_first_frame (display, pid, FIRST_FRAME_TIMEOUT_S, &mapped, &drawn,
                                 &window, &error))
      goto fail;
    g_print ("%d VMs running (probe.mode=irq, 1 vCPU, 64 MiB each); app's first frame after %.0f ms\n",
             n_vms, (drawn - start) * 1e3);
  }

  /* Workers connected and a few samples in, then the first VM's graphs. */
  bench_count_frames (display, window, 3.0);
  if (!bench_atspi_activate (display, pid, "Graphs", &error))
    goto fail;
  frames = bench_count_frames (display, window, settle_s);
  g_print ("graphs shown; %u frames drawn in the %d s settling\n", frames, settle_s);

  bench_print_load ("before");
  if (!read_cpu_ticks (pid, &ticks_before, &error))
    goto fail;
  frames = bench_count_frames (display, window, seconds);
  if (!read_cpu_ticks (pid, &ticks_after, &error))
    goto fail;
  bench_print_load ("after");
  if (screenshot != NULL && !bench_save_screenshot (display, window, screenshot, &error))
    goto fail;
  {
    int status;

    if (waitpid (pid, &status, WNOHANG) == pid)
      {
        pid = -1;
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "The app exited while it was measured (see %s)", log_path);
        goto fail;
      }
  }
  running = count_running (envp, vivctl_path);
  if (frames == 0)
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "The app drew nothing in %d s: it is not graphing", seconds);
      goto fail;
    }

  percent = (double) (ticks_after - ticks_before) / (double) sysconf (_SC_CLK_TCK) / seconds * 100.0;
  g_print ("\napp CPU (utime+stime, /proc/%d/stat) over %d s: %.2f %% of one core "
           "(%" G_GUINT64_FORMAT " ticks at %ld Hz); %u frames drawn; %u VMs still running\n",
           (int) pid, seconds, percent, ticks_after - ticks_before, sysconf (_SC_CLK_TCK),
           frames, running);
  g_print ("goal <= %.1f %% of one core: %s\n", GOAL_PERCENT, bench_verdict (percent <= GOAL_PERCENT));
  rc = 0;

fail:
  if (rc != 0)
    g_printerr ("bench-ui-idle: %s\n", error ? error->message : "failed");
  bench_stop (pid);
  if (envp != NULL)
    for (int i = 0; i < started; i++)
      {
        g_autofree char *name = g_strdup_printf ("idle-%02d", i);
        const char *poweroff[] = { "poweroff", name, NULL };

        vivctl (envp, vivctl_path, poweroff, NULL);
      }
  return rc;
}
