/* The writer that test-qcow2-crash kills: writes (and zeroes) one region
 * per step into a qcow2 image, flushes every few steps and then prints
 * "flushed N" — steps 0 … N must survive a kill -9 from then on.
 *
 * Usage: qcow2-crash-writer IMAGE FIRST-STEP SEED */
#include "block/block.h"
#include "crash-steps.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
  int  ret;
  bool done;
} Result;

static void
on_done (void *opaque, int ret)
{
  Result *r = opaque;
  r->ret = ret;
  r->done = true;
}

static int
wait_result (Result *r)
{
  while (!r->done)
    g_main_context_iteration (NULL, TRUE);
  return r->ret;
}

int
main (int argc, char **argv)
{
  if (argc != 4) {
    fprintf (stderr, "usage: %s IMAGE FIRST-STEP SEED\n", argv[0]);
    return 2;
  }
  unsigned first = (unsigned) atoi (argv[2]);
  GRand *rand = g_rand_new_with_seed ((guint32) atoi (argv[3]));
  VivBlockOptions options = { .path = argv[1], .format = "qcow2" };
  GError *error = NULL;
  VivBlock *blk = viv_block_open (&options, &error);
  if (!blk) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  uint8_t *buf = g_malloc (CRASH_SLOT);
  int until_flush = 1;
  for (unsigned step = first;; step++) {
    CrashStep s = crash_step (step);
    Result r = { 0 };
    if (s.zeroes) {
      viv_block_write_zeroes (blk, s.offset, s.len, VIV_BLOCK_ZERO_MAY_UNMAP, on_done, &r);
    } else {
      crash_fill (buf, s.len, step);
      struct iovec iov = { buf, s.len };
      viv_block_writev (blk, s.offset, &iov, 1, on_done, &r);
    }
    if (wait_result (&r) != 0) {
      fprintf (stderr, "step %u failed: %s\n", step, g_strerror (-r.ret));
      return 1;
    }
    if (--until_flush == 0) {
      Result fr = { 0 };
      viv_block_flush (blk, on_done, &fr);
      if (wait_result (&fr) != 0) {
        fprintf (stderr, "flush failed: %s\n", g_strerror (-fr.ret));
        return 1;
      }
      printf ("flushed %u\n", step);
      fflush (stdout);
      until_flush = g_rand_int_range (rand, 1, 5);
    }
  }
}
