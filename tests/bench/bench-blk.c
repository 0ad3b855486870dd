/* bench-blk: virtio-blk throughput of the probe guest's benchmark loop
 * (probe.mode=blk probe.blk_bench=...) under vivctl and under
 * qemu-system-x86_64, on the same raw image with the host page cache
 * bypassed (cache=none), against this process doing the same requests on
 * the image itself with O_DIRECT: the ceiling.
 *
 * Rates are the guest's own request counts over the host-seen time of the
 * measured phase: from the arrival of the line the probe prints just before
 * its loop ("PROBE blk serial=") to that of the line it prints right after
 * ("PROBE blk bench=..."), so boot and exit are not counted. The guest's TSC
 * count for the loop, converted with the host's TSC rate, is printed next
 * to it as a cross-check.
 *
 * Runs are interleaved (for each run: every workload under vivctl, QEMU,
 * host native) so that drift in the host's load or its disk hits all alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <x86intrin.h>

#include <glib.h>
#include <liburing.h>

#include "bench-vm.h"

#define GOAL_RATIO_TO_QEMU 1.2
#define GOAL_RATIO_TO_NATIVE 0.9
#define FILL_CHUNK (1u << 20)
#define BOOT_TIMEOUT_S 60.0
#define EXIT_TIMEOUT_S 30.0
#define WARMUP_SECONDS 1
/* The probe's random offsets: xorshift64 from this seed (tests/guest/blk.c,
 * with probe.blk_seed=1), so that the native loop reads the same blocks. */
#define PROBE_RNG_SEED (0x243f6a8885a308d3ULL ^ 1)

typedef struct {
  const char *kind; /* probe.blk_bench */
  guint qd;         /* probe.blk_qd */
  guint32 request_bytes;
  gboolean random;
  gboolean write;
  gboolean rate_in_iops; /* the figure to compare: IOPS, else MB/s */
} Workload;

static const Workload workloads[] = {
  { "randread4k", 1, 4096, TRUE, FALSE, TRUE },
  { "randread4k", 32, 4096, TRUE, FALSE, TRUE },
  { "seqread1m", 1, 1u << 20, FALSE, FALSE, FALSE },
  { "seqwrite1m", 1, 1u << 20, FALSE, TRUE, FALSE },
};
#define N_WORKLOADS G_N_ELEMENTS (workloads)

typedef enum { SIDE_VIVCTL, SIDE_QEMU, SIDE_NATIVE, N_SIDES } Side;

static const char *const side_names[N_SIDES] = {
  "vivctl", "qemu-system-x86_64", "host native",
};

typedef struct {
  char *vivctl;
  char *qemu;
  char *probe;
  char *image;
  guint64 image_bytes;
  int seconds;
  double host_tsc_hz;
  char *load_at_start; /* bench_load_average () */
  GArray *iops[N_WORKLOADS][N_SIDES]; /* double */
  GArray *mbps[N_WORKLOADS][N_SIDES]; /* double, 10^6 bytes per second */
} Bench;

typedef struct {
  guint64 ops;
  double seconds;       /* host-seen */
  double guest_seconds; /* guest TSC count / host TSC rate; < 0 if none */
} Measurement;

static char *
workload_label (const Workload *w)
{
  return g_strdup_printf ("%s qd%u", w->kind, w->qd);
}

/* The host's TSC rate, against CLOCK_MONOTONIC over 200 ms. KVM guests see
 * the same rate unless the VMM scales it; neither does here. */
static double
measure_host_tsc_hz (void)
{
  double t0 = bench_now ();
  guint64 c0 = __rdtsc ();
  double t1;
  guint64 c1;

  g_usleep (200000);
  t1 = bench_now ();
  c1 = __rdtsc ();
  return (double) (c1 - c0) / (t1 - t0);
}

static guint64
xorshift64 (guint64 *state)
{
  guint64 x = *state;

  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

/* Buffers for O_DIRECT in transparent huge pages where the host allows it,
 * as guest RAM usually is: here a 1 MiB request from 4 KiB pages has 256
 * segments, more than the host's disk takes in one request (254), and ran
 * at 40% of the speed of one from a huge page. */
typedef struct {
  void *mapping;
  size_t mapping_bytes;
  guint8 *data; /* 2 MiB aligned */
} HostBuffer;

#define HUGE_PAGE (2u << 20)

static void
host_buffer_init (HostBuffer *b, size_t bytes)
{
  size_t rounded = (bytes + HUGE_PAGE - 1) & ~(size_t) (HUGE_PAGE - 1);

  b->mapping_bytes = rounded + HUGE_PAGE;
  b->mapping = mmap (NULL, b->mapping_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b->mapping == MAP_FAILED)
    g_error ("mmap of %zu bytes: %s", b->mapping_bytes, g_strerror (errno));
  b->data = (guint8 *) (((uintptr_t) b->mapping + HUGE_PAGE - 1) &
                        ~(uintptr_t) (HUGE_PAGE - 1));
  /* Only advice: without THP the figures are those of 4 KiB pages. */
  madvise (b->data, rounded, MADV_HUGEPAGE);
}

static void
host_buffer_clear (HostBuffer *b)
{
  munmap (b->mapping, b->mapping_bytes);
}

/* A new image of `bytes` in `dir`, every byte written (pseudo-random data,
 * no holes), through O_DIRECT so that it does not sit in the page cache. */
static char *
create_image (const char *dir, guint64 bytes, GError **error)
{
  g_autofree char *path = g_build_filename (dir, "bench-blk-XXXXXX.img", NULL);
  HostBuffer buffer;
  guint64 *chunk;
  guint64 state = 0x9e3779b97f4a7c15ULL;
  double t0 = bench_now ();
  guint64 done;
  int fd;

  fd = g_mkstemp_full (path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot create an image in %s: %s (give --dir a writable "
                   "directory)", dir, g_strerror (errno));
      return NULL;
    }
  if (fcntl (fd, F_SETFL, O_DIRECT) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "%s: O_DIRECT: %s (cache=none needs a file system that "
                   "supports it, not tmpfs: give --dir another directory)",
                   path, g_strerror (errno));
      goto fail;
    }
  host_buffer_init (&buffer, FILL_CHUNK);
  chunk = (guint64 *) buffer.data;
  for (done = 0; done < bytes; done += FILL_CHUNK)
    {
      ssize_t wrote;

      for (guint i = 0; i < FILL_CHUNK / sizeof *chunk; i++)
        chunk[i] = xorshift64 (&state);
      wrote = pwrite (fd, chunk, FILL_CHUNK, (off_t) done);
      if (wrote != FILL_CHUNK)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "%s: writing at %" G_GUINT64_FORMAT ": %s", path, done,
                       wrote < 0 ? g_strerror (errno) : "short write");
          host_buffer_clear (&buffer);
          goto fail;
        }
    }
  host_buffer_clear (&buffer);
  if (fdatasync (fd) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "%s: fdatasync: %s", path, g_strerror (errno));
      goto fail;
    }
  close (fd);
  g_print ("bench-blk: image %s, %" G_GUINT64_FORMAT " MiB written in "
           "%.1f s\n", path, bytes >> 20, bench_now () - t0);
  return g_steal_pointer (&path);

fail:
  close (fd);
  unlink (path);
  return NULL;
}

/* ---- the guest, under vivctl or QEMU ---- */

static char **
guest_argv (const Bench *b, Side side, const Workload *w, int seconds)
{
  g_autofree char *cmdline = g_strdup_printf (
      "probe.mode=blk probe.blk_bench=%s probe.blk_qd=%u probe.blk_seconds=%d",
      w->kind, w->qd, seconds);
  GPtrArray *argv;

  if (side == SIDE_VIVCTL)
    {
      argv = bench_vivctl_argv (b->vivctl, b->probe, cmdline);
      g_ptr_array_add (argv, g_strdup ("--disk"));
      g_ptr_array_add (argv, g_strdup_printf ("%s,format=raw,cache=none",
                                              b->image));
    }
  else
    {
      argv = bench_qemu_argv (b->qemu, b->probe, cmdline);
      g_ptr_array_add (argv, g_strdup ("-drive"));
      g_ptr_array_add (argv, g_strdup_printf (
          "id=d0,file=%s,format=raw,if=none,aio=io_uring,cache=none",
          b->image));
      g_ptr_array_add (argv, g_strdup ("-device"));
      g_ptr_array_add (argv, g_strdup ("virtio-blk-device,drive=d0"));
    }
  g_ptr_array_add (argv, NULL);
  return (char **) g_ptr_array_free (argv, FALSE);
}

static gboolean
run_guest (const Bench *b, Side side, const Workload *w, int seconds,
           Measurement *m, GError **error)
{
  g_auto (GStrv) argv = guest_argv (b, side, w, seconds);
  g_autoptr (BenchVm) vm = NULL;
  const BenchLine *start, *end;
  guint64 ops, bytes, errors, qd, cycles;

  vm = bench_vm_spawn (side_names[side], argv, error);
  if (vm == NULL)
    return FALSE;
  start = bench_vm_wait_line (vm, "PROBE blk serial=", BOOT_TIMEOUT_S, error);
  if (start == NULL)
    return FALSE;
  /* The guest ends its loop by its own TSC reading; allow it to be off. */
  end = bench_vm_wait_line (vm, "PROBE blk bench=", 4.0 * seconds + 30,
                            error);
  if (end == NULL)
    return FALSE;
  if (!bench_line_u64 (end->text, "ops", &ops) ||
      !bench_line_u64 (end->text, "bytes", &bytes) ||
      !bench_line_u64 (end->text, "errors", &errors) ||
      !bench_line_u64 (end->text, "qd", &qd) ||
      !bench_line_u64 (end->text, "cycles", &cycles))
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "%s: cannot parse the bench line: %s", side_names[side],
                   end->text);
      return FALSE;
    }
  if (errors != 0 || qd != w->qd || ops == 0 ||
      bytes != ops * w->request_bytes)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "%s: expected qd=%u, errors=0 and %u bytes a request: %s",
                   side_names[side], w->qd, w->request_bytes, end->text);
      return FALSE;
    }
  if (!bench_vm_finish (vm, EXIT_TIMEOUT_S, error))
    return FALSE;
  m->ops = ops;
  m->seconds = end->seconds - start->seconds;
  m->guest_seconds = (double) cycles / b->host_tsc_hz;
  return TRUE;
}

/* ---- the same requests from this process, O_DIRECT ---- */

typedef struct {
  const Workload *w;
  guint64 span; /* requests that fit in the image */
  guint64 rng;
  guint64 position;
} Pattern;

static off_t
next_offset (Pattern *p)
{
  guint64 block = p->w->random ? xorshift64 (&p->rng) % p->span
                               : p->position++ % p->span;

  return (off_t) (block * p->w->request_bytes);
}

static gboolean
native_sync (int fd, Pattern *p, double deadline, guint8 *buffer,
             guint64 *ops, GError **error)
{
  const Workload *w = p->w;

  while (bench_now () < deadline)
    {
      off_t at = next_offset (p);
      ssize_t done = w->write ? pwrite (fd, buffer, w->request_bytes, at)
                              : pread (fd, buffer, w->request_bytes, at);

      if (done != (ssize_t) w->request_bytes)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "native %s at %jd: %s", w->write ? "pwrite" : "pread",
                       (intmax_t) at,
                       done < 0 ? g_strerror (errno) : "short transfer");
          return FALSE;
        }
      (*ops)++;
    }
  return TRUE;
}

static void
queue_request (struct io_uring *ring, int fd, Pattern *p, guint8 *buffer,
               guint slot)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (ring);
  off_t at = next_offset (p);

  /* The ring has an entry per slot, and a slot is queued only when free. */
  g_assert (sqe != NULL);
  if (p->w->write)
    io_uring_prep_write (sqe, fd, buffer, p->w->request_bytes, at);
  else
    io_uring_prep_read (sqe, fd, buffer, p->w->request_bytes, at);
  io_uring_sqe_set_data64 (sqe, slot);
}

/* qd requests in flight on io_uring; each completion before the deadline
 * queues the next one, all queued ones are submitted together. */
static gboolean
native_uring (int fd, Pattern *p, double deadline, guint8 *buffers,
              guint64 *ops, GError **error)
{
  const Workload *w = p->w;
  struct io_uring ring;
  struct io_uring_cqe *cqe;
  guint in_flight = 0;
  gboolean ok = TRUE;
  int rc;

  rc = io_uring_queue_init (w->qd, &ring, 0);
  if (rc < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (-rc),
                   "io_uring_queue_init: %s", g_strerror (-rc));
      return FALSE;
    }
  for (guint slot = 0; slot < w->qd; slot++, in_flight++)
    queue_request (&ring, fd, p, buffers + (size_t) slot * w->request_bytes,
                   slot);
  io_uring_submit (&ring);

  while (in_flight > 0)
    {
      gboolean more = bench_now () < deadline;

      rc = io_uring_wait_cqe (&ring, &cqe);
      if (rc == -EINTR)
        continue;
      if (rc < 0)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (-rc),
                       "io_uring_wait_cqe: %s", g_strerror (-rc));
          ok = FALSE;
          break;
        }
      do
        {
          guint slot = (guint) io_uring_cqe_get_data64 (cqe);

          if (cqe->res != (int) w->request_bytes && ok)
            {
              g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO,
                           "native io_uring %s: %s",
                           w->write ? "write" : "read",
                           cqe->res < 0 ? g_strerror (-cqe->res)
                                        : "short transfer");
              ok = FALSE;
            }
          io_uring_cqe_seen (&ring, cqe);
          in_flight--;
          (*ops)++;
          if (more && ok)
            {
              queue_request (&ring, fd, p,
                             buffers + (size_t) slot * w->request_bytes, slot);
              in_flight++;
            }
        }
      while (io_uring_peek_cqe (&ring, &cqe) == 0);
      io_uring_submit (&ring);
    }
  io_uring_queue_exit (&ring);
  return ok;
}

static gboolean
run_native (const Bench *b, const Workload *w, int seconds, Measurement *m,
            GError **error)
{
  Pattern p = {
    .w = w,
    .span = b->image_bytes / w->request_bytes,
    .rng = PROBE_RNG_SEED,
  };
  size_t buffer_bytes = (size_t) w->qd * w->request_bytes;
  HostBuffer buffer;
  guint8 *buffers;
  double start, deadline;
  guint64 ops = 0;
  gboolean ok;
  int fd;

  fd = open (b->image, O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "%s: %s", b->image, g_strerror (errno));
      return FALSE;
    }
  host_buffer_init (&buffer, buffer_bytes);
  buffers = buffer.data;
  /* Data like the guest writes: not zeros, which a smart disk could skip. */
  for (size_t i = 0; i < buffer_bytes; i++)
    buffers[i] = (guint8) (i * 131 + 7);
  start = bench_now ();
  deadline = start + seconds;
  ok = w->qd == 1 ? native_sync (fd, &p, deadline, buffers, &ops, error)
                  : native_uring (fd, &p, deadline, buffers, &ops, error);
  m->seconds = bench_now () - start;
  close (fd);
  host_buffer_clear (&buffer);
  m->ops = ops;
  m->guest_seconds = -1;
  return ok;
}

/* ---- runs and report ---- */

static void
record (Bench *b, guint wi, Side side, const Measurement *m, guint run)
{
  const Workload *w = &workloads[wi];
  g_autofree char *label = workload_label (w);
  double iops = (double) m->ops / m->seconds;
  double mbps = iops * w->request_bytes / 1e6;

  g_array_append_val (b->iops[wi][side], iops);
  g_array_append_val (b->mbps[wi][side], mbps);
  g_print ("  run %u  %-16s %-19s ops=%-8" G_GUINT64_FORMAT
           " %6.3f s", run, label, side_names[side], m->ops, m->seconds);
  if (m->guest_seconds >= 0)
    g_print (" (guest TSC %6.3f s)", m->guest_seconds);
  else
    g_print ("                    ");
  g_print ("  %9.0f IOPS %8.1f MB/s\n", iops, mbps);
}

static void
print_summary_row (const char *label, GArray *values, const char *unit,
                   const char *note)
{
  BenchSummary s = bench_summarize (values);

  g_print ("  %-34s %9.1f %9.1f %9.1f  %s%s%s\n", label, s.median, s.min,
           s.max, unit, *note ? "  " : "", note);
}

static void
report (const Bench *b, int runs)
{
  g_auto (GStrv) viv_argv = guest_argv (b, SIDE_VIVCTL, &workloads[1],
                                        b->seconds);
  g_auto (GStrv) qemu_argv = guest_argv (b, SIDE_QEMU, &workloads[1],
                                         b->seconds);

  g_print ("\nbench-blk: %d interleaved runs each of %d s, after a warm-up "
           "round of %d s loops that is not counted; image %"
           G_GUINT64_FORMAT " MiB; rates = guest requests / host-seen time "
           "of the guest's loop; MB = 10^6 bytes\n",
           runs, b->seconds, WARMUP_SECONDS, b->image_bytes >> 20);
  g_print ("  for example (randread4k qd32):\n");
  bench_print_command ("vivctl", viv_argv);
  bench_print_command ("qemu", qemu_argv);
  bench_print_load (b->load_at_start);
  g_print ("  host native: this process, O_DIRECT pread/pwrite at qd1, "
           "io_uring with qd requests in flight otherwise\n");

  for (guint wi = 0; wi < N_WORKLOADS; wi++)
    {
      const Workload *w = &workloads[wi];
      g_autofree char *label = workload_label (w);
      GArray *const *rates = w->rate_in_iops ? b->iops[wi] : b->mbps[wi];
      const char *unit = w->rate_in_iops ? "IOPS" : "MB/s";
      double viv = bench_summarize (rates[SIDE_VIVCTL]).median;
      double qemu = bench_summarize (rates[SIDE_QEMU]).median;
      double native = bench_summarize (rates[SIDE_NATIVE]).median;

      g_print ("\n%-36s %9s %9s %9s\n", label, "median", "min", "max");
      for (int side = 0; side < N_SIDES; side++)
        print_summary_row (side_names[side], rates[side], unit, "");
      g_print ("  %-34s %9.3f  (medians; goal >= %.1f: %s)\n",
               "ratio vivctl/qemu", viv / qemu, GOAL_RATIO_TO_QEMU,
               bench_verdict (viv / qemu >= GOAL_RATIO_TO_QEMU));
      g_print ("  %-34s %9.3f  (medians; goal >= %.1f: %s)\n",
               "ratio vivctl/native", viv / native, GOAL_RATIO_TO_NATIVE,
               bench_verdict (viv / native >= GOAL_RATIO_TO_NATIVE));
    }
}

int
main (int argc, char **argv)
{
  g_autofree char *vivctl_arg = NULL;
  g_autofree char *qemu_arg = NULL;
  g_autofree char *dir = NULL;
  int runs = 5;
  int size_mib = 1024;
  Bench b = { .seconds = 2 };
  GOptionEntry entries[] = {
    { "vivctl", 0, 0, G_OPTION_ARG_FILENAME, &vivctl_arg,
      "vivctl to measure", "PATH" },
    { "qemu", 0, 0, G_OPTION_ARG_FILENAME, &qemu_arg,
      "qemu-system-x86_64 to compare with", "PATH" },
    { "probe", 0, 0, G_OPTION_ARG_FILENAME, &b.probe,
      "the probe guest (PVH ELF) both boot", "PATH" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir,
      "where to create the image, on a file system with O_DIRECT "
      "(default: $TMPDIR or /tmp); it is deleted at the end", "DIR" },
    { "size-mib", 0, 0, G_OPTION_ARG_INT, &size_mib,
      "image size in MiB, at least 64 (default 1024)", "N" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs,
      "counted runs of each, at least 3 (default 5)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &b.seconds,
      "length of each measured loop, 1 to 60 (default 2)", "S" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "- virtio-blk throughput: vivctl vs QEMU vs host native");
  g_autoptr (GError) error = NULL;
  int run;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-blk: %s\n", error->message);
      return 2;
    }
  if (vivctl_arg == NULL || qemu_arg == NULL || b.probe == NULL)
    {
      g_printerr ("bench-blk: --vivctl, --qemu and --probe are required\n");
      return 2;
    }
  if (runs < 3 || size_mib < 64 || b.seconds < 1 || b.seconds > 60)
    {
      g_printerr ("bench-blk: give --runs 3 or more, --size-mib 64 or more "
                  "and --seconds from 1 to 60\n");
      return 2;
    }
  if (!g_file_test (b.probe, G_FILE_TEST_IS_REGULAR))
    {
      g_printerr ("bench-blk: --probe %s: no such file\n", b.probe);
      return 2;
    }
  b.vivctl = bench_resolve_program ("--vivctl", vivctl_arg, &error);
  if (b.vivctl != NULL)
    b.qemu = bench_resolve_program ("--qemu", qemu_arg, &error);
  if (b.qemu == NULL)
    {
      g_printerr ("bench-blk: %s\n", error->message);
      return 2;
    }

  b.image_bytes = (guint64) size_mib << 20;
  b.image = create_image (dir != NULL ? dir : g_get_tmp_dir (), b.image_bytes,
                          &error);
  if (b.image == NULL)
    {
      g_printerr ("bench-blk: %s\n", error->message);
      return 1;
    }
  b.host_tsc_hz = measure_host_tsc_hz ();
  b.load_at_start = bench_load_average ();
  for (guint wi = 0; wi < N_WORKLOADS; wi++)
    for (int side = 0; side < N_SIDES; side++)
      {
        b.iops[wi][side] = g_array_new (FALSE, FALSE, sizeof (double));
        b.mbps[wi][side] = g_array_new (FALSE, FALSE, sizeof (double));
      }

  /* Round 0 warms up: the first runs after the image is written were
   * the slowest, for all three sides. */
  for (run = 0; run <= runs && error == NULL; run++)
    for (guint wi = 0; wi < N_WORKLOADS && error == NULL; wi++)
      for (int side = 0; side < N_SIDES && error == NULL; side++)
        {
          int seconds = run == 0 ? WARMUP_SECONDS : b.seconds;
          Measurement m = { 0 };
          gboolean ok =
              side == SIDE_NATIVE
                  ? run_native (&b, &workloads[wi], seconds, &m, &error)
                  : run_guest (&b, side, &workloads[wi], seconds, &m, &error);

          if (ok && run > 0)
            record (&b, wi, side, &m, run);
        }

  unlink (b.image);
  if (error == NULL)
    report (&b, runs);
  else
    g_printerr ("bench-blk: %s\n", error->message);

  for (guint wi = 0; wi < N_WORKLOADS; wi++)
    for (int side = 0; side < N_SIDES; side++)
      {
        g_array_unref (b.iops[wi][side]);
        g_array_unref (b.mbps[wi][side]);
      }
  g_free (b.vivctl);
  g_free (b.qemu);
  g_free (b.probe);
  g_free (b.image);
  g_free (b.load_at_start);
  return error == NULL ? 0 : 1;
}
