#include "bench-common.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

BenchSummary
bench_summarize (GArray *values)
{
  g_autoptr (GArray) sorted = g_array_copy (values);
  guint n = sorted->len;
  BenchSummary s;

  g_assert (n > 0);
  g_array_sort (sorted, compare_doubles);
  s.min = g_array_index (sorted, double, 0);
  s.max = g_array_index (sorted, double, n - 1);
  s.median = n % 2 ? g_array_index (sorted, double, n / 2)
                   : (g_array_index (sorted, double, n / 2 - 1) +
                      g_array_index (sorted, double, n / 2)) / 2.0;
  return s;
}

const char *
bench_verdict (gboolean met)
{
  return met ? "met" : "MISSED";
}

char *
bench_load_average (void)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("?");
  fields = g_strsplit (text, " ", 4);
  if (g_strv_length (fields) < 4)
    return g_strdup ("?");
  return g_strdup_printf ("%s %s %s", fields[0], fields[1], fields[2]);
}

gboolean
bench_run_quiet (char **argv, GError **error)
{
  int status;
  g_autofree char *err = NULL;
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_SEARCH_PATH,
                     NULL, NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s: %s", argv[0], err ? err : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
bench_drop_page_cache (GError **error)
{
  sync ();
  int fd = open ("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write (fd, "3\n", 2) != 2)
    {
      int err = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
                   "Cannot drop the page cache (/proc/sys/vm/drop_caches): %s",
                   g_strerror (err));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}
