/* Running a VM (vivctl or QEMU) that boots the probe guest, with a time
 * limit, collecting its serial output as lines. */
#pragma once
#include <glib.h>

typedef struct {
  const char *const *argv;
  const char *input;          /* written to stdin once a line starts with input_after */
  const char *input_after;    /* NULL: write the input at once */
  guint       timeout_ms;
  /* Called for each stdout line as it arrives (on probe_run's thread). */
  void      (*on_line) (const char *line, gpointer data);
  gpointer    on_line_data;
} ProbeRunSpec;

typedef struct {
  gboolean   timed_out;
  gboolean   exited;          /* exited normally (not by a signal) */
  int        exit_status;     /* valid when exited */
  GPtrArray *lines;           /* of char *, "\r\n" removed */
  char      *err;             /* all of stderr */
  double     seconds;
} ProbeResult;

ProbeResult *probe_run (const ProbeRunSpec *spec);
void probe_result_free (ProbeResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ProbeResult, probe_result_free)

/* The first line starting with prefix, or NULL. */
const char *probe_result_find (const ProbeResult *r, const char *prefix);
/* Lines starting with prefix. */
guint probe_result_count (const ProbeResult *r, const char *prefix);
/* The first line starting with prefix; fails the test (after printing
 * the output) if there is none. */
const char *probe_require_line (const ProbeResult *r, const char *prefix);
/* The number after " key=" in line (decimal or 0x hex); fails the test if absent. */
guint64 probe_line_u64 (const char *line, const char *key);
/* Prints the run's output, for a failing test's log. */
void probe_result_dump (const ProbeResult *r);

/* Checks of a finished run (exit status (code << 1) | 1 and the mode's lines). */
#define PROBE_LOW_RESERVED_MAX (1024 * 1024)  /* RAM the memory map may hold back */
void probe_assert_exit (const ProbeResult *r, guint code);
void probe_assert_hello (const ProbeResult *r, guint code);
void probe_assert_info (const ProbeResult *r, const char *cmdline, guint cpus, guint64 memory);
void probe_assert_smp (const ProbeResult *r, guint cpus);
void probe_assert_mem (const ProbeResult *r, guint64 memory);
/* input must end with 'q' */
void probe_assert_irq (const ProbeResult *r, const char *input, guint code);
