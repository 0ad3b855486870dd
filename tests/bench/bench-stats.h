/* What every benchmark here reports with its figures: the median (and the
 * spread) of a side's runs, a goal's verdict, and the host's load. */
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
