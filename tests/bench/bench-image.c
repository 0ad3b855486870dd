/* bench-image: 4 KiB scattered and 1 MiB sequential reads and writes
 * through VivBlock (engine/block/block.h) against `qemu-img bench` on the
 * same images: raw and qcow2, each fresh (sparse / nothing allocated) and
 * preallocated (preallocation=full), with cache=none (O_DIRECT) and
 * io_uring on both sides, and every request in flight using one shared
 * buffer, as qemu-img's do (see request_buffer_new).
 *
 * qemu-img bench has no random mode: it steps the offset by -S bytes and
 * wraps it modulo the image size.  The "random" 4 KiB workloads use a large
 * odd multiple of 4 KiB as the step, so consecutive requests land ~31 MiB
 * apart all over the image; this program issues exactly the same offsets
 * ((i × step) mod size), the same count, at the same queue depth.
 *
 * Timing: ours is CLOCK_MONOTONIC from the first submission to the last
 * completion (the image is already open).  For qemu-img two figures are
 * kept: the "Run completed in X seconds" it prints (its own clock around
 * the same loop, excluding start-up and open) — the one the ratio uses —
 * and, as a cross-check, the wall time from spawn to exit minus the median
 * wall time of a 1-request run on the same image (its fixed start-up, open
 * and close).
 *
 * Raw images also get a third side, "native": a plain liburing loop in
 * this process on the same file, same buffer, offsets and depth, waiting
 * in io_uring_enter.  It is what the host gives any program, with no
 * block layer at all, and shows how far from the disk's own speed each
 * side is.
 *
 * Writes on a fresh image allocate, so the fresh images are recreated
 * before every run, for every side.  Runs are interleaved (the sides in
 * turn, which one goes first rotating from run to run) so drift in the
 * host's load or the disk's state hits every side alike; each image is
 * written back and dropped from the page cache before it is timed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <liburing.h>

#include "bench-common.h"
#include "block/block.h"
#include "block/qcow2.h"
#include "kvm/iothread.h"

#define GOAL_RATIO 1.0
#define SCATTER_STEP (4096ull * 7919)  /* odd × 4 KiB: visits every 4 KiB block */

typedef struct {
  const char *name;
  guint32 request_bytes;
  guint64 step;
  guint depth;
  gboolean write;
} Workload;

static const Workload workloads[] = {
  { "randread4k",  4096,      SCATTER_STEP, 32, FALSE },
  { "randwrite4k", 4096,      SCATTER_STEP, 32, TRUE },
  { "seqread1m",   1u << 20,  1u << 20,     4,  FALSE },
  { "seqwrite1m",  1u << 20,  1u << 20,     4,  TRUE },
};
#define N_WORKLOADS G_N_ELEMENTS (workloads)

typedef struct {
  const char *format;
  gboolean preallocated;
} ImageKind;

static const ImageKind kinds[] = {
  { "raw", FALSE }, { "raw", TRUE }, { "qcow2", FALSE }, { "qcow2", TRUE },
};
#define N_KINDS G_N_ELEMENTS (kinds)

typedef struct {
  char *qemu_img;
  char *dir;
  guint64 image_bytes;
  int runs;
  guint count_4k;
  guint count_1m;
  char *only;  /* run just the cases whose "format-kind-workload" contains it */
} Config;

/* ---- Images ------------------------------------------------------------ */

static char *
image_path (const Config *cfg, const ImageKind *kind)
{
  char *name = g_strdup_printf ("bench-image-%s-%s.img", kind->format,
                                kind->preallocated ? "prealloc" : "fresh");
  char *path = g_build_filename (cfg->dir, name, NULL);
  g_free (name);
  return path;
}

/* Creating an image leaves it in the page cache, dirty: qemu-img writes
 * preallocation=full through it.  The first O_DIRECT request on a cached
 * range must wait for its writeback (io_uring then hands every request to
 * a worker thread), so whichever side ran first would pay for the
 * creation.  Write it back and drop it now instead. */
static gboolean
settle_image (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  gboolean ok = fd >= 0 && fsync (fd) == 0
                && posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  if (!ok)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "Cannot write back %s: %s", path, g_strerror (errno));
  if (fd >= 0)
    close (fd);
  return ok;
}

/* Fresh images come from our own creators (a sparse file, viv_qcow2_create);
 * preallocated ones from qemu-img (it has the preallocation option). */
static gboolean
create_image (const Config *cfg, const ImageKind *kind, GError **error)
{
  char *path = image_path (cfg, kind);
  gboolean ok;
  g_unlink (path);
  if (kind->preallocated) {
    char *size = g_strdup_printf ("%" G_GUINT64_FORMAT, cfg->image_bytes);
    char *argv[] = { cfg->qemu_img, "create", "-q", "-f", (char *) kind->format,
                     "-o", "preallocation=full", path, size, NULL };
    ok = bench_run_quiet (argv, error);
    g_free (size);
  } else if (g_str_equal (kind->format, "qcow2")) {
    VivQcow2CreateOptions options = { .size = cfg->image_bytes };
    ok = viv_qcow2_create (path, &options, error);
  } else {
    int fd = open (path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    ok = fd >= 0 && ftruncate (fd, (off_t) cfg->image_bytes) == 0;
    if (!ok)
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "Cannot create %s: %s", path, g_strerror (errno));
    if (fd >= 0)
      close (fd);
  }
  ok = ok && settle_image (path, error);
  g_free (path);
  return ok;
}

/* ---- The request buffer ----------------------------------------------- */

/* The one buffer every request in flight reads into or writes from, on
 * every side.  That is what qemu-img bench does: it builds one iovec per
 * request slot but hands the first to every request (bench_cb passes
 * b->qiov), so its requests share a single buffer.  Matching that matters
 * for 1 MiB requests on this host: four distinct 1 MiB buffers ran 10–25 %
 * slower than one shared buffer, for a plain io_uring loop as for VivBlock. */
#define BUFFER_PATTERN 0xa5  /* what writes write: given to qemu-img as --pattern */

static guint8 *
request_buffer_new (const Workload *w)
{
  guint8 *buffer = aligned_alloc (4096, w->request_bytes);
  memset (buffer, BUFFER_PATTERN, w->request_bytes);
  return buffer;
}

/* ---- Our side: VivBlock ------------------------------------------------ */

typedef struct {
  VivBlock *blk;
  const Workload *w;
  guint64 image_bytes;
  guint64 count;
  guint64 submitted;
  guint64 completed;
  int error;
  struct iovec iov;  /* the shared buffer */
  guint depth;
  GMutex lock;       /* guards `finished` for the waiting thread */
  GCond finished_cond;
  gboolean finished;
} Job;

static void job_request_done (void *opaque, int ret);

static void
job_submit (Job *job)
{
  guint64 offset = (job->submitted * job->w->step) % job->image_bytes;
  job->submitted++;
  if (job->w->write)
    viv_block_writev (job->blk, offset, &job->iov, 1, job_request_done, job);
  else
    viv_block_readv (job->blk, offset, &job->iov, 1, job_request_done, job);
}

static void
job_request_done (void *opaque, int ret)
{
  Job *job = opaque;
  job->completed++;
  if (ret < 0 && job->error == 0)
    job->error = ret;
  if (job->submitted < job->count && job->error == 0)
    job_submit (job);
  else if (job->completed == job->submitted)
    {
      g_mutex_lock (&job->lock);
      job->finished = TRUE;
      g_cond_signal (&job->finished_cond);
      g_mutex_unlock (&job->lock);
    }
}

/* Runs on the I/O thread, which alone touches the job's counters. */
static gboolean
start_job (gpointer data)
{
  Job *job = data;
  viv_block_plug (job->blk);
  for (guint i = 0; i < job->depth; i++)
    job_submit (job);
  viv_block_unplug (job->blk);
  return G_SOURCE_REMOVE;
}

/* Seconds for `count` requests, or < 0 with `error` set.  The requests
 * complete on an I/O thread, as a VM's disk requests do (with its adaptive
 * polling); this thread only starts the job and waits. */
static double
run_ours (const Config *cfg, const ImageKind *kind, const Workload *w, guint count,
          GError **error)
{
  char *path = image_path (cfg, kind);
  VivIoThread *io_thread = viv_io_thread_new ("bench-image-io");
  VivBlockOptions options = {
    .path = path, .format = kind->format, .cache = VIV_BLOCK_CACHE_NONE,
    .context = viv_io_thread_context (io_thread),
  };
  double seconds = -1;
  VivBlock *blk = viv_block_open (&options, error);
  if (blk) {
    Job job = { .blk = blk, .w = w, .image_bytes = cfg->image_bytes, .count = count };
    g_mutex_init (&job.lock);
    g_cond_init (&job.finished_cond);
    job.depth = MIN (w->depth, count);
    job.iov = (struct iovec) { request_buffer_new (w), w->request_bytes };

    gint64 start = g_get_monotonic_time ();
    g_main_context_invoke (options.context, start_job, &job);
    g_mutex_lock (&job.lock);
    while (!job.finished)
      g_cond_wait (&job.finished_cond, &job.lock);
    g_mutex_unlock (&job.lock);
    seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

    viv_block_close (blk);
    free (job.iov.iov_base);
    g_mutex_clear (&job.lock);
    g_cond_clear (&job.finished_cond);
    if (job.error) {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-job.error),
                   "%s %s on %s: %s", w->name, kind->format, path,
                   g_strerror (-job.error));
      seconds = -1;
    }
  }
  viv_io_thread_free (io_thread);
  g_free (path);
  return seconds;
}

/* ---- Native: a plain io_uring loop ------------------------------------- */

enum { SIDE_OURS, SIDE_QEMU, SIDE_NATIVE };

/* A raw image's guest offsets are its file offsets; a qcow2 image's are not. */
static gboolean
has_native (const ImageKind *kind)
{
  return g_str_equal (kind->format, "raw");
}

static void
native_queue (struct io_uring *ring, int fd, const Config *cfg, const Workload *w,
              const struct iovec *iov, guint64 index)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (ring);
  off_t offset = (off_t) ((index * w->step) % cfg->image_bytes);
  if (w->write)
    io_uring_prep_writev (sqe, fd, iov, 1, offset);
  else
    io_uring_prep_readv (sqe, fd, iov, 1, offset);
}

/* Seconds for `count` requests straight to a raw image file, or < 0 with
 * `error` set: no block layer, no I/O thread; the queue is filled with one
 * io_uring_enter, then each completion queues the next request. */
static double
run_native (const Config *cfg, const ImageKind *kind, const Workload *w, guint count,
            GError **error)
{
  char *path = image_path (cfg, kind);
  guint depth = MIN (w->depth, count);
  struct io_uring ring;
  double seconds = -1;
  int fd = open (path, (w->write ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
  int ret = fd < 0 ? -errno : io_uring_queue_init (128, &ring, 0);
  if (ret < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                 "native %s on %s: %s", w->name, path, g_strerror (-ret));
    if (fd >= 0)
      close (fd);
    g_free (path);
    return -1;
  }
  const struct iovec iov = { request_buffer_new (w), w->request_bytes };
  guint64 submitted = 0, completed = 0;

  gint64 start = g_get_monotonic_time ();
  while (submitted < depth)
    native_queue (&ring, fd, cfg, w, &iov, submitted++);
  ret = io_uring_submit (&ring);
  while (ret >= 0 && completed < count) {
    struct io_uring_cqe *cqe;
    ret = io_uring_wait_cqe (&ring, &cqe);
    if (ret < 0)
      break;
    ret = cqe->res == (int) w->request_bytes ? 0 : cqe->res < 0 ? cqe->res : -EIO;
    io_uring_cqe_seen (&ring, cqe);
    completed++;
    if (ret == 0 && submitted < count) {
      native_queue (&ring, fd, cfg, w, &iov, submitted++);
      ret = io_uring_submit (&ring);
    }
  }
  if (ret < 0)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret),
                 "native %s on %s: %s", w->name, path, g_strerror (-ret));
  else
    seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

  io_uring_queue_exit (&ring);
  close (fd);
  free (iov.iov_base);
  g_free (path);
  return seconds;
}

/* ---- qemu-img bench ---------------------------------------------------- */

typedef struct {
  double reported;  /* "Run completed in X seconds" */
  double wall;      /* spawn to exit */
} QemuTimes;

static gboolean
run_qemu (const Config *cfg, const ImageKind *kind, const Workload *w, guint count,
          QemuTimes *times, GError **error)
{
  char *path = image_path (cfg, kind);
  char *c = g_strdup_printf ("%u", count);
  char *d = g_strdup_printf ("%u", MIN (w->depth, count));
  char *s = g_strdup_printf ("%u", w->request_bytes);
  char *step = g_strdup_printf ("%" G_GUINT64_FORMAT, w->step);
  char *pattern = g_strdup_printf ("--pattern=%u", BUFFER_PATTERN);
  char *argv[] = { cfg->qemu_img, "bench", "-f", (char *) kind->format, "-c", c, "-d", d,
                   "-s", s, "-S", step, "-t", "none", "-i", "io_uring", pattern, path,
                   NULL, NULL };
  if (w->write) {  /* -w goes before the file name */
    argv[G_N_ELEMENTS (argv) - 2] = path;
    argv[G_N_ELEMENTS (argv) - 3] = "-w";
  }
  char *out = NULL, *err = NULL;
  int status;
  gint64 start = g_get_monotonic_time ();
  gboolean ok = g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                              &out, &err, &status, error);
  times->wall = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  if (ok && !g_spawn_check_wait_status (status, error)) {
    g_prefix_error (error, "qemu-img bench %s %s: %s", w->name, kind->format, err);
    ok = FALSE;
  }
  times->reported = -1;
  const char *line = ok ? strstr (out, "Run completed in ") : NULL;
  if (line)
    times->reported = g_ascii_strtod (line + strlen ("Run completed in "), NULL);
  g_free (out);
  g_free (err);
  g_free (c);
  g_free (d);
  g_free (s);
  g_free (step);
  g_free (pattern);
  g_free (path);
  return ok;
}

/* ---- Statistics and output ---------------------------------------------- */

/* IOPS for 4 KiB requests, MB/s (10^6) for 1 MiB ones. */
static double
rate (const Workload *w, guint count, double seconds)
{
  if (seconds <= 0)
    return -1;
  if (w->request_bytes == 4096)
    return count / seconds;
  return (double) count * w->request_bytes / 1e6 / seconds;
}

/* Reads of a fresh image touch no data (both sides just return zeroes), so
 * they get FRESH_READ_FACTOR times the requests: long enough for qemu-img's
 * millisecond-resolution "Run completed in" figure. */
#define FRESH_READ_FACTOR 10

static guint
request_count (const Config *cfg, const ImageKind *kind, const Workload *w)
{
  guint count = w->request_bytes == 4096 ? cfg->count_4k : cfg->count_1m;
  return !kind->preallocated && !w->write ? count * FRESH_READ_FACTOR : count;
}

static gboolean
case_selected (const Config *cfg, const ImageKind *kind, const Workload *w)
{
  if (!cfg->only)
    return TRUE;
  char *name = g_strdup_printf ("%s-%s-%s", kind->format,
                                kind->preallocated ? "prealloc" : "fresh", w->name);
  gboolean selected = strstr (name, cfg->only) != NULL;
  g_free (name);
  return selected;
}

int
main (int argc, char **argv)
{
  Config cfg = { .runs = 3, .count_4k = 20000, .count_1m = 512 };
  gint64 image_mib = 1024;
  GOptionEntry entries[] = {
    { "qemu-img", 0, 0, G_OPTION_ARG_FILENAME, &cfg.qemu_img, "qemu-img to compare with", "PATH" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &cfg.dir, "Where the images go (not a tmpfs: O_DIRECT)", "DIR" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &cfg.runs, "Runs per side and case (3)", "N" },
    { "image-mib", 0, 0, G_OPTION_ARG_INT64, &image_mib, "Image size in MiB (1024)", "N" },
    { "count-4k", 0, 0, G_OPTION_ARG_INT, &cfg.count_4k, "4 KiB requests per run (20000)", "N" },
    { "count-1m", 0, 0, G_OPTION_ARG_INT, &cfg.count_1m, "1 MiB requests per run (512)", "N" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &cfg.only,
      "Only cases whose format-kind-workload contains TEXT (e.g. raw-prealloc-seqread1m), for profiling", "TEXT" },
    { NULL },
  };
  GError *error = NULL;
  GOptionContext *options = g_option_context_new ("- VivBlock vs qemu-img bench");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    g_printerr ("bench-image: %s\n", error->message);
    return 2;
  }
  g_option_context_free (options);
  if (!cfg.qemu_img || !cfg.dir || cfg.runs < 1 || image_mib < 2 || cfg.count_4k < 1
      || cfg.count_1m < 1) {
    g_printerr ("bench-image: needs --qemu-img PATH and --dir DIR; --runs, "
                "--image-mib (≥ 2), --count-4k and --count-1m must be positive\n");
    return 2;
  }
  cfg.image_bytes = (guint64) image_mib << 20;

  char *load_start = bench_load_average ();
  GDateTime *now = g_date_time_new_now_utc ();
  char *when = g_date_time_format (now, "%Y-%m-%d %H:%M UTC");
  g_date_time_unref (now);
  gint64 bench_start = g_get_monotonic_time ();

  /* [kind][workload]: ours, native, qemu reported, qemu wall; [kind]: qemu start-up */
  GArray *ours[N_KINDS][N_WORKLOADS], *native[N_KINDS][N_WORKLOADS];
  GArray *qemu[N_KINDS][N_WORKLOADS], *qwall[N_KINDS][N_WORKLOADS];
  GArray *startup[N_KINDS];
  for (guint k = 0; k < N_KINDS; k++) {
    startup[k] = g_array_new (FALSE, FALSE, sizeof (double));
    for (guint i = 0; i < N_WORKLOADS; i++) {
      ours[k][i] = g_array_new (FALSE, FALSE, sizeof (double));
      native[k][i] = g_array_new (FALSE, FALSE, sizeof (double));
      qemu[k][i] = g_array_new (FALSE, FALSE, sizeof (double));
      qwall[k][i] = g_array_new (FALSE, FALSE, sizeof (double));
    }
  }

  for (guint k = 0; k < N_KINDS; k++) {
    const ImageKind *kind = &kinds[k];
    gboolean any = FALSE;
    for (guint i = 0; i < N_WORKLOADS; i++)
      any |= case_selected (&cfg, kind, &workloads[i]);
    if (!any)
      continue;
    if (!create_image (&cfg, kind, &error))
      goto fail;
    for (int run = 0; run < cfg.runs; run++) {
      /* qemu-img's fixed cost: one 4 KiB read, start to exit. */
      QemuTimes t;
      if (!run_qemu (&cfg, kind, &workloads[0], 1, &t, &error))
        goto fail;
      g_array_append_val (startup[k], t.wall);
      for (guint i = 0; i < N_WORKLOADS; i++) {
        const Workload *w = &workloads[i];
        guint count = request_count (&cfg, kind, w);
        if (!case_selected (&cfg, kind, w))
          continue;
        /* The first side rotates from run to run: none always goes first. */
        int sides = has_native (kind) ? 3 : 2;
        for (int turn = 0; turn < sides; turn++) {
          int side = (turn + run) % sides;
          /* Fresh means nothing allocated, for every run of every side. */
          if (!kind->preallocated && !create_image (&cfg, kind, &error))
            goto fail;
          if (side == SIDE_QEMU) {
            if (!run_qemu (&cfg, kind, w, count, &t, &error))
              goto fail;
            g_array_append_val (qemu[k][i], t.reported);
            g_array_append_val (qwall[k][i], t.wall);
          } else {
            double s = side == SIDE_OURS ? run_ours (&cfg, kind, w, count, &error)
                                         : run_native (&cfg, kind, w, count, &error);
            if (s < 0)
              goto fail;
            g_array_append_val (side == SIDE_OURS ? ours[k][i] : native[k][i], s);
          }
        }
      }
    }
    /* Leave no GiB-sized files behind. */
    char *path = image_path (&cfg, kind);
    g_unlink (path);
    g_free (path);
  }

  char *load_end = bench_load_average ();
  double total = (double) (g_get_monotonic_time () - bench_start) / G_USEC_PER_SEC;
  printf ("bench-image: %s, load average %s → %s, %d runs per side, %.0f s in all\n",
          when, load_start, load_end, cfg.runs, total);
  printf ("image %" G_GINT64_FORMAT " MiB; 4 KiB: %u requests at depth 32, step %llu B "
          "(scattered); 1 MiB: %u requests at depth 4, sequential; %d× as many for reads "
          "of fresh images; cache=none, io_uring\n",
          image_mib, cfg.count_4k, SCATTER_STEP, cfg.count_1m, FRESH_READ_FACTOR);
  printf ("qemu-img: \"Run completed in\" time (ratio uses it); wall = spawn-to-exit "
          "minus its start-up (median 1-request run per image); native: a plain "
          "liburing loop on the raw file; run by run: the lowest and highest ours / qemu-img "
          "of runs made side by side\n\n");
  printf ("| image          | workload    | unit | ours       | qemu-img   | qemu-img wall−startup "
          "| native     | ours / native | qemu-img / native | ours / qemu-img | run by run  | goal ≥ %.1f |\n",
          GOAL_RATIO);
  printf ("| -------------- | ----------- | ---- | ---------- | ---------- | --------------------- "
          "| ---------- | ------------- | ----------------- | --------------- | ----------- | ---------- |\n");
  int missed = 0, cases = 0;
  for (guint k = 0; k < N_KINDS; k++) {
    char *label = g_strdup_printf ("%s %s", kinds[k].format,
                                   kinds[k].preallocated ? "prealloc" : "fresh");
    for (guint i = 0; i < N_WORKLOADS; i++) {
      const Workload *w = &workloads[i];
      guint count = request_count (&cfg, &kinds[k], w);
      if (!case_selected (&cfg, &kinds[k], w))
        continue;
      /* Run r of each side ran next to the other's. */
      double low = G_MAXDOUBLE, high = 0;
      for (guint r = 0; r < ours[k][i]->len && r < qemu[k][i]->len; r++) {
        double pair = g_array_index (qemu[k][i], double, r) / g_array_index (ours[k][i], double, r);
        low = MIN (low, pair);
        high = MAX (high, pair);
      }
      double r_ours = rate (w, count, bench_summarize (ours[k][i]).median);
      double r_qemu = rate (w, count, bench_summarize (qemu[k][i]).median);
      double start_s = bench_summarize (startup[k]).median;
      double r_wall = rate (w, count, bench_summarize (qwall[k][i]).median - start_s);
      double ratio = r_qemu > 0 ? r_ours / r_qemu : -1;
      gboolean met = ratio >= GOAL_RATIO;
      missed += !met;
      cases++;
      printf ("| %-14s | %-11s | %-4s | %10.0f | %10.0f | %21.0f ",
              label, w->name, w->request_bytes == 4096 ? "IOPS" : "MB/s",
              r_ours, r_qemu, r_wall);
      if (has_native (&kinds[k])) {
        double r_native = rate (w, count, bench_summarize (native[k][i]).median);
        printf ("| %10.0f | %13.3f | %17.3f ", r_native, r_ours / r_native, r_qemu / r_native);
      } else {
        printf ("| %10s | %13s | %17s ", "n/a", "n/a", "n/a");
      }
      printf ("| %15.3f | %5.2f–%-5.2f | %-10s |\n", ratio, low, high, bench_verdict (met));
    }
    g_free (label);
  }
  printf ("\nqemu-img start-up (1 request, spawn to exit), median: ");
  for (guint k = 0; k < N_KINDS; k++)
    if (startup[k]->len)
      printf ("%s %s %.3f s; ", kinds[k].format,
              kinds[k].preallocated ? "prealloc" : "fresh", bench_summarize (startup[k]).median);
  printf ("\n%d of %d cases missed the goal\n", missed, cases);
  g_free (load_end);
  g_free (load_start);
  g_free (when);
  return 0;

fail:
  g_printerr ("bench-image: %s\n", error->message);
  return 1;
}
