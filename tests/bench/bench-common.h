/* What the benchmarks here share: the median (and the spread) of a side's
 * runs, a goal's verdict and the host's load, which they report with
 * their figures; running a helper program, and dropping the page cache. */
#pragma once

#include <glib.h>

typedef struct {
  double median, min, max;
} BenchSummary;

/* Of `values` (double, not empty), which are left in their order. */
BenchSummary bench_summarize (GArray *values);

/* "met" or "MISSED". */
const char *bench_verdict (gboolean met);

/* "0.52 1.74 1.49": /proc/loadavg's 1, 5 and 15 minute figures, or "?".
 * Printed with the results: other work on the host moves them a lot. */
char *bench_load_average (void);

/* Runs argv (argv[0] a path, or a name in PATH) with its output discarded;
 * an error with the program's stderr when it fails or exits non-zero. */
gboolean bench_run_quiet (char **argv, GError **error);

/* sync, then drops the page cache (/proc/sys/vm/drop_caches: root only). */
gboolean bench_drop_page_cache (GError **error);
