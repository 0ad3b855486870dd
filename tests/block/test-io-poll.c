/* The I/O thread's adaptive polling (engine/kvm/iothread.c) and the disk
 * I/O engine on it: work posted without any notification is picked up by
 * polling, an idle thread sleeps, pollers go away cleanly, and io_uring
 * completions arrive whether the thread polls or sleeps. */
#include "block/aio.h"
#include "kvm/iothread.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib-unix.h>

/* A queue as a guest driver sees a virtqueue: it posts work and notifies
 * (the eventfd) only while the consumer asks for notifications. */
typedef struct {
  gint     posted;            /* atomic */
  gint     taken;             /* atomic */
  gint     notify_on;         /* atomic: the consumer wants notifications */
  gint     by_poll, by_notification;   /* atomic */
  gint     polls;             /* atomic: poll calls */
  gint     destroyed;         /* atomic */
  gint     tid;               /* atomic: the I/O thread's */
  int      efd;
  GSource *source;
} WorkQueue;

static bool
take_all (WorkQueue *q)
{
  int posted = g_atomic_int_get (&q->posted);
  int taken = g_atomic_int_get (&q->taken);
  g_atomic_int_set (&q->taken, posted);
  return posted != taken;
}

static void
work_begin (void *data)
{
  WorkQueue *q = data;
  g_atomic_int_set (&q->notify_on, 0);
}

static bool
work_poll (void *data)
{
  WorkQueue *q = data;
  g_atomic_int_set (&q->tid, (gint) syscall (SYS_gettid));
  g_atomic_int_inc (&q->polls);
  bool found = take_all (q);
  if (found)
    g_atomic_int_inc (&q->by_poll);
  return found;
}

static void
work_end (void *data)
{
  WorkQueue *q = data;
  g_atomic_int_set (&q->notify_on, 1);
  if (g_atomic_int_get (&q->posted) != g_atomic_int_get (&q->taken))
    {
      uint64_t one = 1;
      g_assert_cmpint (write (q->efd, &one, sizeof one), ==, sizeof one);
    }
}

static void
work_destroy (void *data)
{
  WorkQueue *q = data;
  g_atomic_int_inc (&q->destroyed);
}

static const VivIoPollerOps work_ops = {
  .begin = work_begin, .poll = work_poll, .end = work_end,
};

static gboolean
on_notification (gint fd, GIOCondition condition, gpointer data)
{
  WorkQueue *q = data;
  uint64_t count;
  if (read (fd, &count, sizeof count) == sizeof count && take_all (q))
    g_atomic_int_inc (&q->by_notification);
  g_atomic_int_set (&q->tid, (gint) syscall (SYS_gettid));
  return G_SOURCE_CONTINUE;
}

static void
work_queue_init (WorkQueue *q, GMainContext *context)
{
  memset (q, 0, sizeof *q);
  q->notify_on = 1;
  q->efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  g_assert_cmpint (q->efd, >=, 0);
  q->source = g_unix_fd_source_new (q->efd, G_IO_IN);
  g_source_set_callback (q->source, G_SOURCE_FUNC (on_notification), q, NULL);
  g_source_attach (q->source, context);
}

static void
work_queue_clear (WorkQueue *q)
{
  g_source_destroy (q->source);
  g_source_unref (q->source);
  close (q->efd);
}

static void
post (WorkQueue *q)
{
  g_atomic_int_inc (&q->posted);
  if (g_atomic_int_get (&q->notify_on))
    {
      uint64_t one = 1;
      g_assert_cmpint (write (q->efd, &one, sizeof one), ==, sizeof one);
    }
}

static bool
wait_until_taken (WorkQueue *q, double seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  while (g_atomic_int_get (&q->taken) != g_atomic_int_get (&q->posted))
    {
      if (g_get_monotonic_time () > deadline)
        return false;
      g_usleep (10);
    }
  return true;
}

/* CPU time (utime + stime, clock ticks) of a thread of this process. */
static guint64
thread_cpu_ticks (gint tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/stat", tid);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  /* Fields after the parenthesised name: state is the 3rd, utime the 14th. */
  const char *p = strrchr (text, ')');
  g_assert_nonnull (p);
  guint64 utime = 0, stime = 0;
  g_assert_cmpint (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %" G_GUINT64_FORMAT
                           " %" G_GUINT64_FORMAT, &utime, &stime), ==, 2);
  return utime + stime;
}

/* Puts thread `tid` (0: the calling one) on the `nth` CPU of `allowed`;
 * false when there is no such CPU. */
static bool
pin_to_cpu (gint tid, const cpu_set_t *allowed, int nth)
{
  cpu_set_t one;
  CPU_ZERO (&one);
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET (cpu, allowed) && seen++ == nth)
      {
        CPU_SET (cpu, &one);
        g_assert_no_errno (sched_setaffinity (tid, sizeof one, &one));
        return true;
      }
  return false;
}

/* Work that comes a few µs after the last is taken by polling, without a
 * notification; once it stops coming, the thread goes back to sleep. */
static void
test_polls_then_sleeps (void)
{
  VivIoThread *thread = viv_io_thread_new ("test-io-poll");
  WorkQueue q;
  work_queue_init (&q, viv_io_thread_context (thread));
  VivIoPoller *poller = viv_io_poller_add (viv_io_thread_context (thread), &work_ops, &q,
                                           work_destroy);
  g_assert_nonnull (poller);

  /* A CPU each for the I/O thread and this one, which posts the work:
   * sharing one, this thread's every wake-up preempts the polling thread,
   * which then rightly backs off, and how often the scheduler put them
   * together decided whether the test passed. */
  cpu_set_t allowed;
  g_assert_no_errno (sched_getaffinity (0, sizeof allowed, &allowed));
  post (&q);
  g_assert_true (wait_until_taken (&q, 5));
  while (g_atomic_int_get (&q.tid) == 0)  /* set just after the work is taken */
    g_usleep (10);
  if (CPU_COUNT (&allowed) < 2)
    {
      g_test_skip ("needs two CPUs: polling only pays when the thread has a CPU of its own");
      viv_io_poller_remove (poller);
      viv_io_thread_free (thread);
      work_queue_clear (&q);
      return;
    }
  g_assert_true (pin_to_cpu (0, &allowed, 0));
  g_assert_true (pin_to_cpu (g_atomic_int_get (&q.tid), &allowed, 1));

  /* Back to back, as a guest at queue depth 1 resubmits: the window
   * grows from the short sleeps, then polling takes the work.  A busy
   * host makes the thread back off now and then: give it time. */
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_atomic_int_get (&q.by_poll) < 20 && g_get_monotonic_time () < deadline)
    {
      post (&q);
      g_assert_true (wait_until_taken (&q, 5));
      g_usleep (5);
    }
  g_test_message ("taken by polling %d, by notification %d", q.by_poll, q.by_notification);
  g_assert_cmpint (q.by_poll, >=, 20);

  /* Idle: a second of nothing costs the thread next to no CPU. */
  g_usleep (100000);
  guint64 before = thread_cpu_ticks (g_atomic_int_get (&q.tid));
  int polls = g_atomic_int_get (&q.polls);
  g_usleep (G_USEC_PER_SEC);
  guint64 used = thread_cpu_ticks (g_atomic_int_get (&q.tid)) - before;
  g_test_message ("idle: %" G_GUINT64_FORMAT " ticks, %d polls", used,
                  g_atomic_int_get (&q.polls) - polls);
  g_assert_cmpuint (used, <=, 2);
  g_assert_cmpint (g_atomic_int_get (&q.polls) - polls, ==, 0);

  /* Notifications are on again while it sleeps. */
  g_assert_cmpint (g_atomic_int_get (&q.notify_on), ==, 1);
  post (&q);
  g_assert_true (wait_until_taken (&q, 5));

  viv_io_poller_remove (poller);
  viv_io_thread_free (thread);
  g_assert_cmpint (q.destroyed, ==, 1);
  work_queue_clear (&q);
  g_assert_no_errno (sched_setaffinity (0, sizeof allowed, &allowed));
}

static gboolean
remove_on_thread (gpointer data)
{
  VivIoPoller **poller = data;
  g_clear_pointer (poller, viv_io_poller_remove);
  return G_SOURCE_REMOVE;
}

/* Removed on the I/O thread: never called again; `destroy` runs once. */
static void
test_remove (void)
{
  VivIoThread *thread = viv_io_thread_new ("test-io-poll");
  GMainContext *context = viv_io_thread_context (thread);
  WorkQueue q;
  work_queue_init (&q, context);
  VivIoPoller *poller = viv_io_poller_add (context, &work_ops, &q, work_destroy);
  for (int i = 0; i < 2000 && g_atomic_int_get (&q.polls) == 0; i++)
    {
      post (&q);
      g_assert_true (wait_until_taken (&q, 5));
    }
  g_main_context_invoke (context, remove_on_thread, &poller);
  while (g_atomic_int_get (&q.destroyed) == 0)
    g_usleep (1000);
  int polls = g_atomic_int_get (&q.polls);
  for (int i = 0; i < 200; i++)
    {
      post (&q);
      g_assert_true (wait_until_taken (&q, 5));
    }
  g_assert_cmpint (g_atomic_int_get (&q.polls), ==, polls);
  g_assert_null (poller);

  /* A context no I/O thread runs has nothing to poll with. */
  GMainContext *plain = g_main_context_new ();
  g_assert_null (viv_io_poller_add (plain, &work_ops, &q, work_destroy));
  g_main_context_unref (plain);

  viv_io_thread_free (thread);
  g_assert_cmpint (q.destroyed, ==, 1);
  work_queue_clear (&q);
}

/* ---- the disk I/O engine on a polling I/O thread ---- */

typedef struct {
  VivAio  *aio;
  int      fd;
  guint8   buffer[4096];
  unsigned done, wanted;
  int      error;
  GMutex   lock;
  GCond    cond;
  bool     finished;
} ReadLoop;

static void
next_read (ReadLoop *loop);

static void
on_read (void *opaque, int ret)
{
  ReadLoop *loop = opaque;
  guint32 word;
  memcpy (&word, loop->buffer, 4);
  if (ret != 0 || word != loop->done % 256)
    loop->error = ret != 0 ? ret : -1;
  loop->done++;
  if (loop->done < loop->wanted && loop->error == 0)
    {
      next_read (loop);
      return;
    }
  g_mutex_lock (&loop->lock);
  loop->finished = true;
  g_cond_signal (&loop->cond);
  g_mutex_unlock (&loop->lock);
}

static void
next_read (ReadLoop *loop)
{
  struct iovec iov = { loop->buffer, sizeof loop->buffer };
  viv_aio_readv (loop->aio, loop->fd, (uint64_t) (loop->done % 256) * 4096, &iov, 1, on_read, loop);
}

static gboolean
start_reads (gpointer data)
{
  next_read (data);
  return G_SOURCE_REMOVE;
}

/* Starts the reads on the I/O thread and waits until they are done. */
static void
run_reads (VivIoThread *thread, ReadLoop *loop)
{
  loop->finished = false;
  g_main_context_invoke (viv_io_thread_context (thread), start_reads, loop);
  g_mutex_lock (&loop->lock);
  while (!loop->finished)
    g_cond_wait (&loop->cond, &loop->lock);
  g_mutex_unlock (&loop->lock);
}

/* Reads one after the other from the I/O thread's own callbacks (as a
 * guest at queue depth 1 does): each completion is seen, polled or not. */
static void
test_aio_reads (void)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("test-io-poll-XXXXXX", &path, NULL);
  g_assert_cmpint (fd, >=, 0);
  for (guint32 i = 0; i < 256; i++)
    {
      guint8 block[4096] = { 0 };
      memcpy (block, &i, 4);
      g_assert_cmpint (pwrite (fd, block, sizeof block, (off_t) i * 4096), ==, sizeof block);
    }

  VivIoThread *thread = viv_io_thread_new ("test-io-poll");
  g_autoptr (GError) error = NULL;
  VivAio *aio = viv_aio_new (viv_io_thread_context (thread), &error);
  g_assert_no_error (error);
  ReadLoop loop = { .aio = aio, .fd = fd, .wanted = 20000 };
  g_mutex_init (&loop.lock);
  g_cond_init (&loop.cond);
  run_reads (thread, &loop);
  g_assert_cmpint (loop.error, ==, 0);
  g_assert_cmpuint (loop.done, ==, loop.wanted);

  /* After a pause (the thread asleep), one more read still completes. */
  g_usleep (50000);
  loop.wanted++;
  run_reads (thread, &loop);
  g_assert_cmpint (loop.error, ==, 0);

  viv_aio_free (aio);
  viv_io_thread_free (thread);
  g_mutex_clear (&loop.lock);
  g_cond_clear (&loop.cond);
  close (fd);
  unlink (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The machines that run the tests are often busy: poll anyway (the
   * thread still backs off when it is preempted). */
  g_setenv ("VIV_IO_POLL_IGNORE_LOAD", "1", TRUE);
  g_test_add_func ("/io-poll/polls-then-sleeps", test_polls_then_sleeps);
  g_test_add_func ("/io-poll/remove", test_remove);
  g_test_add_func ("/io-poll/aio-reads", test_aio_reads);
  return g_test_run ();
}
