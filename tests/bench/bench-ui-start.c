/* bench-ui-start: how long the desktop app takes from spawn to its main
 * window's first frame, against virt-manager on the same X server.
 *
 * Both are watched the same way from outside (bench-ui-x.c): the time from
 * posix_spawn to the first top-level window of the process being mapped,
 * and to the first damage to it after the map (the first frame drawn).
 * Every run gets a fresh home (HOME, XDG_*), settings in memory.
 * "Cold" runs drop the page cache first (root only); "warm" runs follow
 * one another. Runs alternate between the two apps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "bench-ui-x.h"

#define GOAL_RATIO 0.5
#define FIRST_FRAME_TIMEOUT_S 60.0
/* After a run, let the app's exit and the disk settle. */
#define PAUSE_S 0.5

typedef struct {
  const char *name;
  char      **argv;
  char      **extra_env;
  /* vivctl create arguments for the VMs in each fresh library, or NULL */
  GPtrArray  *define_vms;
  GArray     *mapped_ms[2];   /* [cold], double */
  GArray     *drawn_ms[2];
} Contender;

enum { WARM, COLD };

static gboolean
run_once (BenchDisplay *display, Contender *c, int kind, gboolean record,
          const char *log_path, GError **error)
{
  g_autoptr (BenchHome) home = bench_home_new (error);
  g_auto (GStrv) envp = NULL;
  double start, mapped, drawn;
  Window window;
  gboolean ok;
  pid_t pid;

  if (home == NULL)
    return FALSE;
  envp = bench_app_envp (display, home, (const char *const *) c->extra_env);
  for (guint i = 0; c->define_vms != NULL && i < c->define_vms->len; i++)
    {
      char **create = g_ptr_array_index (c->define_vms, i);
      int status;

      if (!g_spawn_sync (NULL, create, envp, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                         NULL, &status, error) ||
          !g_spawn_check_wait_status (status, error))
        {
          g_prefix_error (error, "vivctl create: ");
          return FALSE;
        }
    }
  if (kind == COLD && !bench_drop_page_cache (error))
    return FALSE;

  start = bench_ui_now ();
  pid = bench_spawn (c->argv, envp, log_path, error);
  if (pid < 0)
    return FALSE;
  ok = bench_wait_first_frame (display, pid, FIRST_FRAME_TIMEOUT_S, &mapped, &drawn,
                               &window, error);
  bench_stop (pid);
  if (!ok)
    {
      g_prefix_error (error, "%s: ", c->name);
      return FALSE;
    }

  if (record)
    {
      double mapped_ms = (mapped - start) * 1e3, drawn_ms = (drawn - start) * 1e3;

      g_array_append_val (c->mapped_ms[kind], mapped_ms);
      g_array_append_val (c->drawn_ms[kind], drawn_ms);
      g_print ("  %-5s %-14s mapped %8.1f ms  first frame %8.1f ms\n",
               kind == COLD ? "cold" : "warm", c->name, mapped_ms, drawn_ms);
    }
  g_usleep ((gulong) (PAUSE_S * G_USEC_PER_SEC));
  return TRUE;
}

static void
print_row (const char *label, GArray *values)
{
  BenchSummary s = bench_summarize (values);

  g_print ("  %-30s %9.1f %9.1f %9.1f ms\n", label, s.median, s.min, s.max);
}

static gboolean
report (Contender *viv, Contender *other, int kind)
{
  double ratio = bench_summarize (viv->drawn_ms[kind]).median
                 / bench_summarize (other->drawn_ms[kind]).median;
  gboolean met = ratio <= GOAL_RATIO;
  g_autofree char *mapped_viv = g_strdup_printf ("%s mapped", viv->name);
  g_autofree char *mapped_other = g_strdup_printf ("%s mapped", other->name);
  g_autofree char *drawn_viv = g_strdup_printf ("%s first frame", viv->name);
  g_autofree char *drawn_other = g_strdup_printf ("%s first frame", other->name);

  g_print ("\n%s start, spawn ->             %9s %9s %9s\n",
           kind == COLD ? "cold" : "warm", "median", "min", "max");
  print_row (mapped_viv, viv->mapped_ms[kind]);
  print_row (mapped_other, other->mapped_ms[kind]);
  print_row (drawn_viv, viv->drawn_ms[kind]);
  print_row (drawn_other, other->drawn_ms[kind]);
  g_print ("  %-30s %9.3f  (first frame medians; goal <= %.1f: %s)\n",
           "ratio vivarium/virt-manager", ratio, GOAL_RATIO, bench_verdict (met));
  return met;
}

/* Warm-ups, then the counted runs: cold ones first (if any), then warm. */
static gboolean
measure (BenchDisplay *display, Contender **order, gboolean cold, int runs,
         const char *log_path, GError **error)
{
  /* One warm-up run of each, not counted: the session bus activates its
   * services (the accessibility bus) for the first app. */
  for (guint i = 0; i < 2; i++)
    if (!run_once (display, order[i], WARM, FALSE, log_path, error))
      return FALSE;

  for (int k = cold ? COLD : WARM; k >= WARM; k--)
    {
      /* After the cold runs, warm the cache up again first. */
      if (k == WARM && cold)
        for (guint i = 0; i < 2; i++)
          if (!run_once (display, order[i], WARM, FALSE, log_path, error))
            return FALSE;
      for (int r = 0; r < runs; r++)
        for (guint i = 0; i < 2; i++)
          {
            /* Alternate which app goes first in each round as well. */
            if (!run_once (display, order[(i + r) % 2], k, TRUE, log_path, error))
              return FALSE;
          }
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *vivarium = NULL;
  g_autofree char *schema_dir = NULL;
  g_autofree char *virt_manager = NULL;
  g_autofree char *connect = NULL;
  g_autofree char *vivctl = NULL;
  g_autofree char *probe = NULL;
  int n_vms = 1;
  int runs = 5;
  gboolean warm_only = FALSE;
  g_auto (GStrv) vivarium_env = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (BenchDisplay) display = NULL;
  g_autofree char *log_path = NULL;
  g_autofree char *schema_env = NULL;
  gboolean cold = TRUE;
  gboolean all_met = TRUE;
  gboolean ok;
  GOptionEntry entries[] = {
    { "vivarium", 0, 0, G_OPTION_ARG_FILENAME, &vivarium, "the app to measure", "PATH" },
    { "schema-dir", 0, 0, G_OPTION_ARG_FILENAME, &schema_dir,
      "its compiled GSettings schema (GSETTINGS_SCHEMA_DIR)", "DIR" },
    { "virt-manager", 0, 0, G_OPTION_ARG_FILENAME, &virt_manager,
      "virt-manager to compare with (default: virt-manager in PATH)", "PATH" },
    { "connect", 0, 0, G_OPTION_ARG_STRING, &connect,
      "virt-manager's --connect URI (default: test:///default, libvirt's "
      "in-process test driver: no libvirtd needed)", "URI" },
    { "vivctl", 0, 0, G_OPTION_ARG_FILENAME, &vivctl,
      "vivctl, to define the VMs vivarium lists", "PATH" },
    { "probe", 0, 0, G_OPTION_ARG_FILENAME, &probe, "the kernel those VMs boot", "PATH" },
    { "vms", 0, 0, G_OPTION_ARG_INT, &n_vms,
      "VMs (not running) in vivarium's library; default 1, as the test driver's "
      "one domain in virt-manager", "N" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "counted runs of each app and kind (default 5)", "N" },
    { "warm-only", 0, 0, G_OPTION_ARG_NONE, &warm_only, "skip the cold runs", NULL },
    { "vivarium-env", 0, 0, G_OPTION_ARG_STRING_ARRAY, &vivarium_env,
      "one more NAME=VALUE in vivarium's environment (e.g. GSK_RENDERER=cairo)", "NAME=VALUE" },
    { NULL }
  };

  context = g_option_context_new ("- the app's start-up time against virt-manager's");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-ui-start: %s\n", error->message);
      return 2;
    }
  if (vivarium == NULL || schema_dir == NULL || runs < 1 || n_vms < 0 ||
      (n_vms > 0 && (vivctl == NULL || probe == NULL)))
    {
      g_printerr ("bench-ui-start: --vivarium and --schema-dir are required (and --vivctl and "
                  "--probe unless --vms 0), --runs at least 1\n");
      return 2;
    }
  if (virt_manager == NULL)
    virt_manager = g_find_program_in_path ("virt-manager");
  if (virt_manager == NULL)
    {
      g_printerr ("bench-ui-start: virt-manager not found: install the virt-manager package\n");
      return 1;
    }

  if (warm_only)
    cold = FALSE;
  else if (geteuid () != 0)
    {
      g_print ("Not root: the cold runs (which drop the page cache) are skipped.\n");
      cold = FALSE;
    }

  display = bench_display_start (&error);
  if (display == NULL)
    {
      g_printerr ("bench-ui-start: %s\n", error->message);
      return 1;
    }
  log_path = g_build_filename (g_get_tmp_dir (), "bench-ui-start.log", NULL);
  g_unlink (log_path);

  schema_env = g_strdup_printf ("GSETTINGS_SCHEMA_DIR=%s", schema_dir);
  {
    char *viv_argv[] = { vivarium, NULL };
    g_autoptr (GPtrArray) viv_env = g_ptr_array_new ();
    g_autofree char *env_text = vivarium_env ? g_strjoinv (" ", vivarium_env) : NULL;
    char *vm_argv[] = { virt_manager, "--no-fork", "--connect",
                        connect ? connect : "test:///default", NULL };
    Contender viv = { .name = "vivarium", .argv = viv_argv };
    Contender other = { .name = "virt-manager", .argv = vm_argv };
    Contender *order[] = { &viv, &other };

    g_ptr_array_add (viv_env, schema_env);
    for (guint i = 0; vivarium_env != NULL && vivarium_env[i] != NULL; i++)
      g_ptr_array_add (viv_env, vivarium_env[i]);
    g_ptr_array_add (viv_env, NULL);
    viv.extra_env = (char **) viv_env->pdata;
    viv.define_vms = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
    for (int i = 0; i < n_vms; i++)
      {
        char *create[] = { vivctl, "create", NULL, "--kernel", probe, "--cmdline",
                           "probe.mode=irq", "--memory", "64M", NULL };
        g_autofree char *name = g_strdup_printf ("vm-%02d", i);

        create[2] = name;
        g_ptr_array_add (viv.define_vms, g_strdupv (create));
      }

    for (int k = WARM; k <= COLD; k++)
      for (guint i = 0; i < 2; i++)
        {
          order[i]->mapped_ms[k] = g_array_new (FALSE, FALSE, sizeof (double));
          order[i]->drawn_ms[k] = g_array_new (FALSE, FALSE, sizeof (double));
        }

    g_print ("vivarium:     %s%s%s, %d VM(s) defined, not running\nvirt-manager: %s --no-fork --connect %s\n"
             "%d counted runs of each, alternating, on an Xvfb of their own; their output: %s\n\n",
             vivarium, vivarium_env ? " with " : "",
             vivarium_env ? env_text : "", n_vms,
             virt_manager, vm_argv[3], runs, log_path);

    bench_print_load ("before");
    ok = measure (display, order, cold, runs, log_path, &error);
    bench_print_load ("after");
    if (ok)
      {
        if (cold)
          all_met &= report (&viv, &other, COLD);
        all_met &= report (&viv, &other, WARM);
        if (!cold)
          g_print ("\n(cold start not measured: run as root to drop the page cache)\n");
        g_print ("\ngoal vivarium <= %.1fx virt-manager: %s\n", GOAL_RATIO, bench_verdict (all_met));
      }
    else
      g_printerr ("bench-ui-start: %s\n", error->message);

    g_ptr_array_unref (viv.define_vms);
    for (int k = WARM; k <= COLD; k++)
      for (guint i = 0; i < 2; i++)
        {
          g_array_unref (order[i]->mapped_ms[k]);
          g_array_unref (order[i]->drawn_ms[k]);
        }
  }
  /* A missed goal is a figure, not a failure: the benchmark ran. */
  return ok ? 0 : 1;
}
