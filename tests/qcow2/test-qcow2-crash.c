/* kill -9 of a writer (qcow2-crash-writer) in the middle of its work:
 * qemu-img check must find no corruption (leaked clusters are allowed),
 * every write the writer saw flushed must be there, and the image must
 * take more writes and kills after.  With a backing file, so partial
 * clusters are copied from it. */
#include "qcow2-test.h"
#include "crash-steps.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs the writer from `first` until it has reported `flushes` flushes,
 * kills it and returns the last step reported flushed (or first - 1). */
static int
run_and_kill (const char *writer, const char *img, unsigned first, int flushes, int seed)
{
  g_autofree char *first_arg = g_strdup_printf ("%u", first);
  g_autofree char *seed_arg = g_strdup_printf ("%d", seed);
  const char *argv[] = { writer, img, first_arg, seed_arg, NULL };
  GPid pid;
  int out_fd;
  GError *error = NULL;
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                                           NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  FILE *out = fdopen (out_fd, "r");
  int last = (int) first - 1, seen = 0;
  char line[64];
  while (seen < flushes && fgets (line, sizeof line, out)) {
    unsigned step;
    if (sscanf (line, "flushed %u", &step) == 1) {
      last = (int) step;
      seen++;
    }
  }
  /* Somewhere in the next step's writes or metadata updates. */
  g_usleep (g_random_int_range (0, 3000));
  kill (pid, SIGKILL);
  int status;
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
  fclose (out);
  g_assert_cmpint (seen, ==, flushes);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  return last;
}

/* io_uring requests in flight keep the killed writer's open file (and its
 * lock) alive a little after the process is gone. */
static void
wait_unlocked (const char *img)
{
  int fd = open (img, O_RDWR);
  g_assert_cmpint (fd, >=, 0);
  for (int i = 0; i < 500; i++) {
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    g_assert_cmpint (fcntl (fd, F_OFD_GETLK, &lock), ==, 0);
    if (lock.l_type == F_UNLCK)
      break;
    g_usleep (10000);
  }
  close (fd);
}

/* Steps [first, last] of each round (pairs in `rounds`) were flushed. */
static void
verify_flushed (QFixture *f, const char *img, GArray *rounds)
{
  VivBlock *blk = qt_open_ok (f, img, "qcow2", true);
  g_autofree uint8_t *expected = g_malloc (CRASH_SLOT), *buf = g_malloc (CRASH_SLOT);
  for (guint i = 0; i < rounds->len; i += 2)
  for (int step = g_array_index (rounds, int, i); step <= g_array_index (rounds, int, i + 1);
       step++) {
    CrashStep s = crash_step ((unsigned) step);
    if (s.zeroes)
      memset (expected, 0, s.len);
    else
      crash_fill (expected, s.len, (unsigned) step);
    g_assert_cmpint (qt_read (f, blk, s.offset, buf, s.len), ==, 0);
    if (memcmp (buf, expected, s.len) != 0)
      g_error ("flushed step %d (offset %" G_GUINT64_FORMAT ", %u bytes) is not in the image",
               step, s.offset, s.len);
  }
  viv_block_close (blk);
}

static void
test_kill (QFixture *f, gconstpointer data)
{
  bool with_backing = GPOINTER_TO_INT (data);
  if (!qt_have_qemu ())
    return;
  const char *writer = g_getenv ("QCOW2_CRASH_WRITER");
  if (!writer) {
    g_test_skip ("QCOW2_CRASH_WRITER (the writer's path) is not set; run through meson test");
    return;
  }
  g_autofree char *img = qt_path (f, "crash.qcow2");
  g_autofree char *base = qt_path (f, "base.raw");
  VivQcow2CreateOptions options = { .size = CRASH_IMAGE_SIZE };
  if (with_backing) {
    g_assert_cmpint (qt_run (NULL, "qemu-img create -q -f raw %s %" G_GUINT64_FORMAT, base,
                             CRASH_IMAGE_SIZE), ==, 0);
    g_assert_cmpint (qt_qemu_io ("raw", base, "write -P 0xbb 0 64M"), ==, 0);
    options.backing_file = "base.raw";
    options.backing_format = "raw";
  }
  GError *error = NULL;
  g_assert_true (viv_qcow2_create (img, &options, &error));
  g_assert_no_error (error);

  unsigned next = 0;
  g_autoptr (GArray) rounds = g_array_new (FALSE, FALSE, sizeof (int));
  for (int round = 0; round < 6; round++) {
    gint64 start = g_get_monotonic_time ();
    int last = run_and_kill (writer, img, next, g_random_int_range (3, 40), round);
    g_test_message ("round %d: steps %u … %d flushed in %.0f ms", round, next, last,
                    (g_get_monotonic_time () - start) / 1000.0);
    wait_unlocked (img);
    int status = qt_qemu_check (img);
    g_assert_true (status == 0 || status == 3);   /* leaks only */
    VivQcow2CheckResult result;
    g_assert_true (viv_qcow2_check (img, VIV_QCOW2_REPAIR_NONE, &result, &error));
    g_assert_cmpuint (result.corruptions, ==, 0);
    viv_qcow2_check_result_clear (&result);
    int first = (int) next;
    g_array_append_val (rounds, first);
    g_array_append_val (rounds, last);
    verify_flushed (f, img, rounds);
    /* The next round overwrites nothing of this one: fresh slots. */
    next = (unsigned) last + 64;
    g_assert_cmpuint (next, <, CRASH_SLOTS);
  }
  /* Leaks are repairable, and the image stays right. */
  VivQcow2CheckResult result;
  g_assert_true (viv_qcow2_check (img, VIV_QCOW2_REPAIR_LEAKS, &result, &error));
  viv_qcow2_check_result_clear (&result);
  g_assert_cmpint (qt_qemu_check (img), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/viv/qcow2/crash/kill-9", QFixture, GINT_TO_POINTER (0), qt_setup, test_kill,
              qt_teardown);
  g_test_add ("/viv/qcow2/crash/kill-9-backing", QFixture, GINT_TO_POINTER (1), qt_setup,
              test_kill, qt_teardown);
  return g_test_run ();
}
