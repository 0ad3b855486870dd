/* bench-launch: how long the probe guest's hello mode takes from spawn to
 * reaped exit, and how much memory the VMM needs for it, under vivctl and
 * under qemu-system-x86_64 booting the very same ELF.
 *
 * Runs alternate (vivctl, qemu, vivctl, qemu, ...) so that drift in the
 * machine's load hits both sides alike. Every run must print "PROBE hello"
 * and exit with status 1 (debug-exit value 0), or the benchmark fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "bench-common.h"

extern char **environ;

#define GOAL_MEDIAN_MS 10.0
#define GOAL_RATIO_TO_QEMU 0.15
#define GOAL_RSS_OVERHEAD_MIB 6.0
#define QEMU_RSS_REFERENCE_MIB 38.0
#define EXPECTED_EXIT_STATUS 1 /* the probe writes 0 to the debug-exit port */
#define GUEST_MEMORY "64M"
/* The host keeps tearing a VM down for a while after its process is reaped
 * (here, a run right after QEMU took ~13 ms longer); a pause before every
 * launch keeps one run's aftermath out of the next one's figure. */
#define DEFAULT_SETTLE_MS 200

typedef struct {
  const char *name;
  char **argv;
  gboolean reports_guest_resident; /* vivctl --stats */
  GArray *wall_ms;                 /* double */
  GArray *peak_rss_mib;            /* double */
  GArray *overhead_mib;            /* double: peak RSS minus guest resident */
} Contender;

static double
elapsed_ms (const struct timespec *start, const struct timespec *end)
{
  return (double) (end->tv_sec - start->tv_sec) * 1e3 +
         (double) (end->tv_nsec - start->tv_nsec) / 1e6;
}

static char *
read_whole_fd (int fd)
{
  GString *text = g_string_new (NULL);
  char chunk[4096];
  ssize_t got;

  if (lseek (fd, 0, SEEK_SET) < 0)
    return g_string_free (text, FALSE);
  while ((got = read (fd, chunk, sizeof chunk)) != 0)
    {
      if (got < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      g_string_append_len (text, chunk, got);
    }
  return g_string_free (text, FALSE);
}

/* Parses "guest-resident-bytes=N" from vivctl's --stats lines. */
static gboolean
find_guest_resident_bytes (const char *stderr_text, guint64 *bytes)
{
  static const char key[] = "guest-resident-bytes=";
  const char *at = strstr (stderr_text, key);
  char *end;

  if (at == NULL)
    return FALSE;
  at += strlen (key);
  if (!g_ascii_isdigit (*at))
    return FALSE;
  errno = 0;
  *bytes = g_ascii_strtoull (at, &end, 10);
  return errno == 0 && end != at;
}

static int
make_capture_fd (const char *name, GError **error)
{
  int fd = memfd_create (name, MFD_CLOEXEC);

  if (fd < 0)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "memfd_create: %s", g_strerror (errno));
  return fd;
}

/* One launch: spawn, wait, check what the guest printed and how it exited. */
static gboolean
launch_once (Contender *c, gboolean record, GError **error)
{
  posix_spawn_file_actions_t actions;
  struct timespec start, end;
  struct rusage usage;
  int out_fd = -1, err_fd = -1, status = 0, rc;
  pid_t pid;
  g_autofree char *out_text = NULL;
  g_autofree char *err_text = NULL;
  gboolean ok = FALSE;

  out_fd = make_capture_fd ("bench-stdout", error);
  if (out_fd < 0)
    return FALSE;
  err_fd = make_capture_fd ("bench-stderr", error);
  if (err_fd < 0)
    {
      close (out_fd);
      return FALSE;
    }

  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_addopen (&actions, STDIN_FILENO, "/dev/null",
                                    O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2 (&actions, err_fd, STDERR_FILENO);

  clock_gettime (CLOCK_MONOTONIC, &start);
  rc = posix_spawn (&pid, c->argv[0], &actions, NULL, c->argv, environ);
  if (rc != 0)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "cannot start %s: %s", c->argv[0], g_strerror (rc));
      goto out;
    }
  while (wait4 (pid, &status, 0, &usage) < 0)
    {
      if (errno != EINTR)
        {
          g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                       "wait4: %s", g_strerror (errno));
          goto out;
        }
    }
  clock_gettime (CLOCK_MONOTONIC, &end);

  out_text = read_whole_fd (out_fd);
  err_text = read_whole_fd (err_fd);

  if (!WIFEXITED (status) || WEXITSTATUS (status) != EXPECTED_EXIT_STATUS)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "%s: expected exit status %d, got %s %d\n"
                   "--- stdout ---\n%s\n--- stderr ---\n%s",
                   c->name, EXPECTED_EXIT_STATUS,
                   WIFEXITED (status) ? "status" : "signal",
                   WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status),
                   out_text, err_text);
      goto out;
    }
  if (strstr (out_text, "PROBE hello") == NULL)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "%s: the guest did not print \"PROBE hello\"\n"
                   "--- stdout ---\n%s\n--- stderr ---\n%s",
                   c->name, out_text, err_text);
      goto out;
    }

  if (record)
    {
      double wall = elapsed_ms (&start, &end);
      double rss_mib = (double) usage.ru_maxrss / 1024.0; /* ru_maxrss: KiB */

      g_array_append_val (c->wall_ms, wall);
      g_array_append_val (c->peak_rss_mib, rss_mib);
      if (c->reports_guest_resident)
        {
          guint64 resident;
          double overhead;

          if (!find_guest_resident_bytes (err_text, &resident))
            {
              g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                           "%s: no \"guest-resident-bytes=N\" line on stderr "
                           "(--stats)\n--- stderr ---\n%s",
                           c->name, err_text);
              goto out;
            }
          overhead = rss_mib - (double) resident / (1024.0 * 1024.0);
          g_array_append_val (c->overhead_mib, overhead);
        }
    }
  ok = TRUE;

out:
  posix_spawn_file_actions_destroy (&actions);
  close (out_fd);
  close (err_fd);
  return ok;
}

/* VmHWM of this process in MiB, or -1 if /proc does not say. Not
 * getrusage (RUSAGE_SELF): that also counts the memory of whatever process
 * exec'd this one (meson's Python), for the same reason as below. */
static double
own_peak_rss_mib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "\nVmHWM:");
  if (line == NULL)
    return -1;
  return g_ascii_strtod (line + strlen ("\nVmHWM:"), NULL) / 1024.0;
}

static void
print_row (const char *label, BenchSummary s, const char *unit, const char *note)
{
  g_print ("  %-34s %8.2f %8.2f %8.2f  %s%s%s\n", label, s.median, s.min,
           s.max, unit, *note ? "  " : "", note);
}

static void
print_command (const Contender *c)
{
  g_autofree char *line = g_strjoinv (" ", c->argv);

  g_print ("  %s: %s\n", c->name, line);
}

static void
report (const Contender *viv, const Contender *qemu, int runs, int settle_ms)
{
  BenchSummary viv_wall = bench_summarize (viv->wall_ms);
  BenchSummary qemu_wall = bench_summarize (qemu->wall_ms);
  BenchSummary viv_rss = bench_summarize (viv->peak_rss_mib);
  BenchSummary viv_overhead = bench_summarize (viv->overhead_mib);
  BenchSummary qemu_rss = bench_summarize (qemu->peak_rss_mib);
  double ratio = viv_wall.median / qemu_wall.median;
  double hwm_mib;
  g_autofree char *note = NULL;

  g_print ("\nbench-launch: %d interleaved runs each, after one warm-up run "
           "each that is not counted; %d ms pause before each launch\n",
           runs, settle_ms);
  print_command (viv);
  print_command (qemu);

  g_print ("\nlaunch -> exit, wall time          %8s %8s %8s\n", "median",
           "min", "max");
  note = g_strdup_printf ("goal <= %.0f ms median: %s", GOAL_MEDIAN_MS,
                          bench_verdict (viv_wall.median <= GOAL_MEDIAN_MS));
  print_row ("vivctl", viv_wall, "ms", note);
  print_row ("qemu-system-x86_64", qemu_wall, "ms", "");
  g_print ("  %-34s %8.3f  (medians; goal <= %.2f: %s)\n", "ratio vivctl/qemu",
           ratio, GOAL_RATIO_TO_QEMU, bench_verdict (ratio <= GOAL_RATIO_TO_QEMU));

  g_print ("\npeak RSS (wait4 ru_maxrss)          %8s %8s %8s\n", "median",
           "min", "max");
  print_row ("vivctl", viv_rss, "MiB", "");
  g_free (note);
  note = g_strdup_printf ("goal <= %.0f MiB: %s", GOAL_RSS_OVERHEAD_MIB,
                          bench_verdict (viv_overhead.median <= GOAL_RSS_OVERHEAD_MIB));
  print_row ("vivctl minus guest memory touched", viv_overhead, "MiB", note);
  g_free (note);
  note = g_strdup_printf ("(reference: QEMU ~%.0f MiB)", QEMU_RSS_REFERENCE_MIB);
  print_row ("qemu-system-x86_64", qemu_rss, "MiB", note);

  /* posix_spawn runs the child in this process's memory until exec, and the
   * kernel carries that memory's high-water mark into the child's peak: no
   * child figure can read below this process's own VmHWM. */
  hwm_mib = own_peak_rss_mib ();
  if (hwm_mib >= 0)
    g_print ("\n  (floor for the RSS figures: this benchmark's own peak RSS "
             "is %.2f MiB)\n", hwm_mib);
}

static Contender
contender_new (const char *name, char **argv, gboolean reports_guest_resident)
{
  Contender c = {
    .name = name,
    .argv = argv,
    .reports_guest_resident = reports_guest_resident,
    .wall_ms = g_array_new (FALSE, FALSE, sizeof (double)),
    .peak_rss_mib = g_array_new (FALSE, FALSE, sizeof (double)),
    .overhead_mib = g_array_new (FALSE, FALSE, sizeof (double)),
  };
  return c;
}

static void
contender_clear (Contender *c)
{
  g_strfreev (c->argv);
  g_array_unref (c->wall_ms);
  g_array_unref (c->peak_rss_mib);
  g_array_unref (c->overhead_mib);
}

/* An absolute path, so that posix_spawn needs no PATH search. */
static char *
resolve_program (const char *option, const char *program, GError **error)
{
  char *path = g_find_program_in_path (program);

  if (path == NULL)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                 "%s %s: not found or not executable", option, program);
  return path;
}

int
main (int argc, char **argv)
{
  g_autofree char *vivctl_arg = NULL;
  g_autofree char *qemu_arg = NULL;
  g_autofree char *probe = NULL;
  g_autofree char *vivctl_path = NULL;
  g_autofree char *qemu_path = NULL;
  int runs = 10;
  int settle_ms = DEFAULT_SETTLE_MS;
  GOptionEntry entries[] = {
    { "vivctl", 0, 0, G_OPTION_ARG_FILENAME, &vivctl_arg,
      "vivctl to measure", "PATH" },
    { "qemu", 0, 0, G_OPTION_ARG_FILENAME, &qemu_arg,
      "qemu-system-x86_64 to compare with", "PATH" },
    { "probe", 0, 0, G_OPTION_ARG_FILENAME, &probe,
      "the probe guest (PVH ELF) both boot", "PATH" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs,
      "counted runs of each, at least 3 (default 10)", "N" },
    { "settle-ms", 0, 0, G_OPTION_ARG_INT, &settle_ms,
      "pause before each launch, not timed (default 200)", "MS" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- launch-to-exit time and peak RSS, vivctl vs QEMU");
  g_autoptr (GError) error = NULL;
  Contender viv, qemu;
  int i;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-launch: %s\n", error->message);
      return 2;
    }
  if (vivctl_arg == NULL || qemu_arg == NULL || probe == NULL)
    {
      g_printerr ("bench-launch: --vivctl, --qemu and --probe are required\n");
      return 2;
    }
  if (runs < 3)
    {
      g_printerr ("bench-launch: --runs %d: give at least 3\n", runs);
      return 2;
    }
  if (settle_ms < 0)
    {
      g_printerr ("bench-launch: --settle-ms %d: give 0 or more\n", settle_ms);
      return 2;
    }
  if (!g_file_test (probe, G_FILE_TEST_IS_REGULAR))
    {
      g_printerr ("bench-launch: --probe %s: no such file\n", probe);
      return 2;
    }
  vivctl_path = resolve_program ("--vivctl", vivctl_arg, &error);
  if (vivctl_path != NULL)
    qemu_path = resolve_program ("--qemu", qemu_arg, &error);
  if (qemu_path == NULL)
    {
      g_printerr ("bench-launch: %s\n", error->message);
      return 2;
    }

  viv = contender_new ("vivctl", g_strdupv ((char *[]) {
      vivctl_path, "run", "--kernel", probe, "--cmdline", "probe.mode=hello",
      "--memory", GUEST_MEMORY, "--stats", NULL }), TRUE);
  qemu = contender_new ("qemu", g_strdupv ((char *[]) {
      qemu_path, "-enable-kvm",
      "-M", "microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off",
      "-global", "virtio-mmio.force-legacy=false",
      "-cpu", "host,-arch-capabilities", "-nodefaults", "-nographic",
      "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
      "-m", GUEST_MEMORY, "-kernel", probe, "-append", "probe.mode=hello",
      NULL }), FALSE);

  /* Run 0 of each warms the page cache and is not counted. */
  for (i = 0; i <= runs && error == NULL; i++)
    {
      g_usleep ((gulong) settle_ms * 1000);
      if (!launch_once (&viv, i > 0, &error))
        break;
      g_usleep ((gulong) settle_ms * 1000);
      launch_once (&qemu, i > 0, &error);
    }

  if (error == NULL)
    report (&viv, &qemu, runs, settle_ms);
  else
    g_printerr ("bench-launch: %s\n", error->message);

  contender_clear (&viv);
  contender_clear (&qemu);
  return error == NULL ? 0 : 1;
}
