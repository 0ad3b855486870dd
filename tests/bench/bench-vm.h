/* Shared by the device benchmarks (bench-blk, bench-net): starting a VMM
 * with the probe guest, reading the guest's COM1 lines with the host time
 * each arrived at, waiting for the VMM's exit, and the medians.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "bench-common.h"

/* What both VMMs must exit with: the probe writes 0 to the debug-exit port. */
#define BENCH_EXPECTED_EXIT_STATUS 1
#define BENCH_GUEST_MEMORY "256M"

typedef struct {
  char *text;     /* without the line end */
  double seconds; /* CLOCK_MONOTONIC when the host read its last byte */
} BenchLine;

typedef struct BenchVm BenchVm;

/* Seconds on CLOCK_MONOTONIC. */
double bench_now (void);

/* Starts argv[0] (an absolute path) with stdin from /dev/null and stdout
 * (the guest's COM1) on a pipe this process reads. */
BenchVm *bench_vm_spawn (const char *name, char *const *argv, GError **error);

/* Reads the guest's output until a line starting with `prefix` comes, for
 * at most `timeout_s`. The line belongs to `vm`. A line starting with
 * "PROBE exit", or the VMM closing its output, before it is an error. */
const BenchLine *bench_vm_wait_line (BenchVm *vm, const char *prefix,
                                     double timeout_s, GError **error);

/* Reads the rest of the output and reaps the VMM, killing it after
 * `timeout_s`; fails unless it exited with BENCH_EXPECTED_EXIT_STATUS. */
gboolean bench_vm_finish (BenchVm *vm, double timeout_s, GError **error);

/* Kills the VMM if it still runs, reaps it, frees everything. */
void bench_vm_free (BenchVm *vm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchVm, bench_vm_free)

/* The value after " key=" (or at the start) in a "PROBE ..." line. */
gboolean bench_line_u64 (const char *line, const char *key, guint64 *value);

/* qemu-system-x86_64 booting the probe as tests/guest/README.md does, with
 * BENCH_GUEST_MEMORY and `cmdline`; the caller appends its devices and the
 * final NULL. */
GPtrArray *bench_qemu_argv (const char *qemu, const char *probe,
                            const char *cmdline);

/* vivctl run with the probe, BENCH_GUEST_MEMORY and `cmdline`; the caller
 * appends its devices and the final NULL. */
GPtrArray *bench_vivctl_argv (const char *vivctl, const char *probe,
                              const char *cmdline);

/* An absolute path for `program` (a path or a name in PATH). */
char *bench_resolve_program (const char *option, const char *program,
                             GError **error);

/* "  host load average (1, 5, 15 min): ... at the start, ... at the end" */
void bench_print_load (const char *at_start);

/* One line: "  vivctl: /path/to/vivctl run ..." */
void bench_print_command (const char *name, char *const *argv);
