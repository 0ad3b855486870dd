#include "bench-stats.h"

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
