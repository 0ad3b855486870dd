/* bench-clone: `vivctl disk clone` against the tools a user would reach for
 * otherwise, on the same images.
 *
 * - Full clones of a raw and of a qcow2 image holding --data-mib MiB of
 *   data scattered over --image-gib GiB (a thin image, as a VM's disk is),
 *   against `cp --reflink=auto --sparse=always` and `qemu-img convert`
 *   (what libvirt's volume clone, and so virt-manager, runs for qcow2).
 * - A linked clone of a 100 GiB raw image, against `qemu-img create -f
 *   qcow2 -b`.  Goal: ≤ 20 ms from spawn to exit.
 *
 * Every figure is spawn to exit of the command, then an fsync of the new
 * file and its directory: vivctl makes its clone durable itself (and that
 * is in its time), cp and qemu-img do not, so each is timed to the same
 * end.  Warm runs have the source in the page cache (a VM just shut down);
 * cold runs, as root, drop the page cache first.  The sides take turns and
 * the first side rotates from run to run.  The first run of every side is
 * checked: `qemu-img compare` must find the clone identical to its source,
 * and the blocks it allocates are reported (holes kept or not). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "bench-common.h"

#define GOAL_LINKED_SECONDS 0.020
#define LINKED_SOURCE_GIB 100

typedef struct {
  char *vivctl;
  char *qemu_img;
  char *cp;
  char *dir;
  int runs;
  guint64 image_bytes;
  guint64 data_bytes;
} Config;

/* One way of cloning: argv with SRC and DST in place of "{src}", "{dst}". */
typedef struct {
  const char *name;
  const char *const *argv;
} Side;

typedef struct {
  const char *label;
  const char *source;   /* file name in cfg->dir */
  const char *dest;
  gboolean linked;
  const Side *sides;
  guint n_sides;
} Case;

static const char *const vivctl_full[] = { "{vivctl}", "disk", "clone", "--full", "{src}", "{dst}", NULL };
static const char *const vivctl_linked[] = { "{vivctl}", "disk", "clone", "--linked", "{src}", "{dst}", NULL };
static const char *const cp_sparse[] = { "{cp}", "--reflink=auto", "--sparse=always", "{src}", "{dst}", NULL };
static const char *const qemu_convert_raw[] = { "{qemu-img}", "convert", "-f", "raw", "-O", "raw", "{src}", "{dst}", NULL };
static const char *const qemu_convert_qcow2[] = { "{qemu-img}", "convert", "-f", "qcow2", "-O", "qcow2", "{src}", "{dst}", NULL };
static const char *const qemu_overlay[] = { "{qemu-img}", "create", "-q", "-f", "qcow2", "-b", "{src}", "-F", "raw", "{dst}", NULL };

static const Side raw_sides[] = {
  { "vivctl", vivctl_full }, { "cp", cp_sparse }, { "qemu-img", qemu_convert_raw },
};
static const Side qcow2_sides[] = {
  { "vivctl", vivctl_full }, { "cp", cp_sparse }, { "qemu-img", qemu_convert_qcow2 },
};
static const Side linked_sides[] = {
  { "vivctl", vivctl_linked }, { "qemu-img", qemu_overlay },
};

static const Case cases[] = {
  { "full clone, raw", "source.raw", "clone.raw", FALSE, raw_sides, G_N_ELEMENTS (raw_sides) },
  { "full clone, qcow2", "source.qcow2", "clone.qcow2", FALSE, qcow2_sides, G_N_ELEMENTS (qcow2_sides) },
  { "linked clone, 100 GiB raw", "big.raw", "overlay.qcow2", TRUE, linked_sides, G_N_ELEMENTS (linked_sides) },
};
#define N_CASES G_N_ELEMENTS (cases)
#define MAX_SIDES 3

/* ---- Files ------------------------------------------------------------- */

static char *
path_in (const Config *cfg, const char *name)
{
  return g_build_filename (cfg->dir, name, NULL);
}

static gboolean
fail_errno (const char *what, const char *path, GError **error)
{
  int err = errno;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "%s %s: %s", what, path,
               g_strerror (err));
  return FALSE;
}

/* A thin raw image: data_bytes of non-zero, incompressible-looking bytes in
 * 1 MiB pieces spread evenly over image_bytes, holes between. */
static gboolean
write_raw_source (const char *path, guint64 image_bytes, guint64 data_bytes, GError **error)
{
  g_unlink (path);
  int fd = open (path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0 || ftruncate (fd, (off_t) image_bytes) < 0)
    return fail_errno ("Cannot create", path, error);
  const guint64 piece = 1 << 20;
  guint64 pieces = MAX (data_bytes / piece, 1);
  guint64 stride = image_bytes / pieces / piece * piece;
  guint8 *buf = g_malloc (piece);
  GRand *rand = g_rand_new_with_seed (4);
  gboolean ok = TRUE;
  for (guint64 i = 0; i < pieces && ok; i++) {
    for (guint64 j = 0; j < piece / 4; j++)
      ((guint32 *) buf)[j] = g_rand_int (rand) | 1;
    ok = pwrite (fd, buf, piece, (off_t) (i * stride)) == (ssize_t) piece;
  }
  ok = ok && fsync (fd) == 0;
  if (!ok)
    fail_errno ("Cannot write", path, error);
  g_rand_free (rand);
  g_free (buf);
  close (fd);
  return ok;
}

static gboolean
make_sources (const Config *cfg, GError **error)
{
  char *raw = path_in (cfg, "source.raw");
  char *qcow2 = path_in (cfg, "source.qcow2");
  char *big = path_in (cfg, "big.raw");
  char *size = g_strdup_printf ("%uG", LINKED_SOURCE_GIB);
  char *convert[] = { cfg->vivctl, "disk", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2, NULL };
  char *create[] = { cfg->vivctl, "disk", "create", "-f", "raw", big, size, NULL };
  g_unlink (qcow2);
  g_unlink (big);
  gboolean ok = write_raw_source (raw, cfg->image_bytes, cfg->data_bytes, error)
                && bench_run_quiet (convert, error) && bench_run_quiet (create, error);
  g_free (size);
  g_free (big);
  g_free (qcow2);
  g_free (raw);
  return ok;
}

/* fsync the file and the directory that names it. */
static gboolean
make_durable (const Config *cfg, const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) < 0) {
    if (fd >= 0)
      close (fd);
    return fail_errno ("Cannot fsync", path, error);
  }
  close (fd);
  fd = open (cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) < 0) {
    if (fd >= 0)
      close (fd);
    return fail_errno ("Cannot fsync", cfg->dir, error);
  }
  close (fd);
  return TRUE;
}

static guint64
allocated_bytes (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 ? (guint64) st.st_blocks * 512 : 0;
}

/* ---- One run ------------------------------------------------------------ */

static char **
side_argv (const Config *cfg, const Side *side, const char *src, const char *dst)
{
  GPtrArray *argv = g_ptr_array_new ();
  for (const char *const *arg = side->argv; *arg; arg++) {
    const char *value = g_str_equal (*arg, "{vivctl}") ? cfg->vivctl
                        : g_str_equal (*arg, "{qemu-img}") ? cfg->qemu_img
                        : g_str_equal (*arg, "{cp}") ? cfg->cp
                        : g_str_equal (*arg, "{src}") ? src
                        : g_str_equal (*arg, "{dst}") ? dst
                        : *arg;
    g_ptr_array_add (argv, g_strdup (value));
  }
  g_ptr_array_add (argv, NULL);
  return (char **) g_ptr_array_free (argv, FALSE);
}

/* Seconds from spawn to a durable clone, or < 0 with `error` set.  `check`
 * compares the clone with its source and reports its allocation. */
static double
run_side (const Config *cfg, const Case *c, const Side *side, gboolean cold, gboolean check,
          GError **error)
{
  char *src = path_in (cfg, c->source);
  char *dst = path_in (cfg, c->dest);
  char **argv = side_argv (cfg, side, src, dst);
  double seconds = -1;
  g_unlink (dst);
  if (cold && !bench_drop_page_cache (error))
    goto out;

  gint64 start = g_get_monotonic_time ();
  if (!bench_run_quiet (argv, error) || !make_durable (cfg, dst, error))
    goto out;
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

  if (check && !c->linked) {
    char *compare[] = { cfg->qemu_img, "compare", "-q", src, dst, NULL };
    if (!bench_run_quiet (compare, error)) {
      g_prefix_error (error, "%s made a clone that differs from its source: ", side->name);
      seconds = -1;
      goto out;
    }
    printf ("%s by %s: %.0f MiB allocated (source: %.0f MiB)\n", c->label, side->name,
            allocated_bytes (dst) / 1048576.0, allocated_bytes (src) / 1048576.0);
  }
out:
  g_unlink (dst);
  g_strfreev (argv);
  g_free (dst);
  g_free (src);
  return seconds;
}

/* ---- Output --------------------------------------------------------------- */

static void
print_row (const Case *c, gboolean warm, GArray **times)
{
  double vivctl = bench_summarize (times[0]).median;
  printf ("| %-25s | %-10s ", c->label, warm ? "warm" : "cold");
  for (guint s = 0; s < MAX_SIDES; s++) {
    /* Columns: vivctl, cp, qemu-img; a linked clone has no cp side. */
    guint index = c->linked ? (s == 0 ? 0 : s == 2 ? 1 : G_MAXUINT) : s;
    if (index < c->n_sides)
      printf ("| %9.1f ms ", bench_summarize (times[index]).median * 1e3);
    else
      printf ("| %12s ", "n/a");
  }
  double peer = bench_summarize (times[1]).median;
  /* The goal is for a linked clone with the page cache warm, as after any use of vivctl. */
  if (c->linked && warm)
    printf ("| %10.2f× | ≤ 20 ms: %s |\n", peer / vivctl,
            bench_verdict (vivctl <= GOAL_LINKED_SECONDS));
  else
    printf ("| %10.2f× | |\n", peer / vivctl);
}

int
main (int argc, char **argv)
{
  Config cfg = { .runs = 5, .cp = "cp" };
  gint64 image_gib = 8, data_mib = 1024;
  GOptionEntry entries[] = {
    { "vivctl", 0, 0, G_OPTION_ARG_FILENAME, &cfg.vivctl, "vivctl to measure", "PATH" },
    { "qemu-img", 0, 0, G_OPTION_ARG_FILENAME, &cfg.qemu_img, "qemu-img to compare with", "PATH" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &cfg.dir, "Where the images go", "DIR" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &cfg.runs, "Runs per side and case (5)", "N" },
    { "image-gib", 0, 0, G_OPTION_ARG_INT64, &image_gib, "Size of the full-clone sources in GiB (8)", "N" },
    { "data-mib", 0, 0, G_OPTION_ARG_INT64, &data_mib, "Data in them in MiB (1024)", "N" },
    { NULL },
  };
  GError *error = NULL;
  GOptionContext *options = g_option_context_new ("- vivctl disk clone vs cp and qemu-img");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    g_printerr ("bench-clone: %s\n", error->message);
    return 2;
  }
  g_option_context_free (options);
  if (!cfg.vivctl || !cfg.qemu_img || !cfg.dir || cfg.runs < 1 || image_gib < 1 || data_mib < 1
      || (guint64) data_mib > (guint64) image_gib * 1024) {
    g_printerr ("bench-clone: needs --vivctl, --qemu-img and --dir; --runs, --image-gib and "
                "--data-mib must be positive, with no more data than the image holds\n");
    return 2;
  }
  /* Absolute: qemu-img resolves a relative backing file against the overlay's directory. */
  char *dir = g_canonicalize_filename (cfg.dir, NULL);
  g_free (cfg.dir);
  cfg.dir = dir;
  cfg.image_bytes = (guint64) image_gib << 30;
  cfg.data_bytes = (guint64) data_mib << 20;
  gboolean cold = geteuid () == 0;
  if (!cold)
    printf ("Not root: no cold runs (dropping the page cache needs root)\n");

  if (!make_sources (&cfg, &error))
    goto fail;

  GArray *times[2][N_CASES][MAX_SIDES];  /* [cold][case][side] */
  for (guint k = 0; k < 2; k++)
    for (guint i = 0; i < N_CASES; i++)
      for (guint s = 0; s < MAX_SIDES; s++)
        times[k][i][s] = g_array_new (FALSE, FALSE, sizeof (double));

  gint64 bench_start = g_get_monotonic_time ();
  for (guint k = 0; k < (cold ? 2u : 1u); k++)
    for (int run = 0; run < cfg.runs; run++)
      for (guint i = 0; i < N_CASES; i++) {
        const Case *c = &cases[i];
        for (guint turn = 0; turn < c->n_sides; turn++) {
          guint s = (turn + (guint) run) % c->n_sides;
          double seconds = run_side (&cfg, c, &c->sides[s], k == 1, k == 0 && run == 0, &error);
          if (seconds < 0)
            goto fail;
          g_array_append_val (times[k][i][s], seconds);
        }
      }

  printf ("\nbench-clone: %d runs per side, %.0f s in all; full-clone sources: %" G_GINT64_FORMAT
          " MiB of data in %" G_GINT64_FORMAT " GiB; spawn to a durable clone, medians\n\n",
          cfg.runs, (double) (g_get_monotonic_time () - bench_start) / G_USEC_PER_SEC,
          data_mib, image_gib);
  printf ("| case                      | page cache | vivctl | cp --reflink=auto --sparse=always "
          "| qemu-img | peer / vivctl | goal |\n");
  printf ("| ------------------------- | ---------- | ------ | --------------------------------- "
          "| -------- | ------------- | ---- |\n");
  for (guint k = 0; k < (cold ? 2u : 1u); k++)
    for (guint i = 0; i < N_CASES; i++)
      print_row (&cases[i], k == 0, times[k][i]);
  printf ("\npeer: cp for full clones, qemu-img for the linked clone\n");

  for (guint i = 0; i < N_CASES; i++) {
    char *path = path_in (&cfg, cases[i].source);
    g_unlink (path);
    g_free (path);
  }
  return 0;

fail:
  g_printerr ("bench-clone: %s\n", error->message);
  return 1;
}
