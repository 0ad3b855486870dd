#include "kvm/iothread.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Longest polling window by default: a little more than one 4 KiB read
 * takes on a fast SSD or this project's virtual disks (~65 µs), so a
 * guest at queue depth 1 is served without a sleep.  Idle costs nothing:
 * the window only opens after an event, and shrinks when none follows. */
#define POLL_MAX_NS_DEFAULT (100 * 1000)
#define POLL_START_NS       (2 * 1000)
/* While polling, the thread's other sources are looked at this often. */
#define FD_CHECK_NS         (50 * 1000)
/* A gap this long between two looks means the thread was preempted. */
#define PREEMPTED_NS        (50 * 1000)
/* After the thread was preempted while polling, it only sleeps for this
 * many waits, doubled for every further time in a row: on a busy host a
 * thread that sleeps gets the CPU back sooner when its event comes than
 * one that spun through its share. */
#define BACKOFF_FIRST       16
#define BACKOFF_MAX         4096
/* How often the host's runnable thread count is read: polling only starts
 * while some CPU has nothing else to run. */
#define LOAD_CHECK_NS       (10 * 1000 * 1000)

struct VivIoPoller {
  gint                 refcount;
  gint                 removed;      /* atomic */
  VivIoThread         *thread;       /* under registry_lock; NULL once it is gone */
  VivIoPollerOps       ops;
  void                *data;
  GDestroyNotify       destroy;
};

struct VivIoThread {
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  GPtrArray    *pollers;          /* under registry_lock; holds references */
  gint          generation;       /* atomic: bumped when `pollers` changes */
  /* The I/O thread's own: */
  GPtrArray    *active;           /* a copy of `pollers`, taken between polling periods */
  gint          active_generation;
  bool          polling;          /* between begin and end */
  uint64_t      poll_ns;          /* the current window */
  uint64_t      poll_max_ns;
  uint64_t      last_fd_check;
  long          switches;         /* involuntary context switches when polling began */
  unsigned      backoff;          /* waits left before polling again */
  unsigned      backoff_len;
  unsigned      n_cpus;           /* 0: poll whatever the host's load */
  uint64_t      load_checked;
  bool          cpu_to_spare;
};

/* Which I/O thread runs which context, for viv_io_poller_add. */
static GMutex registry_lock;
static GSList *registry;
/* The thread whose loop runs on this thread (the poll function has no
 * user data). */
static __thread VivIoThread *this_io_thread;

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
poller_unref (gpointer data)
{
  VivIoPoller *poller = data;
  if (!g_atomic_int_dec_and_test (&poller->refcount))
    return;
  if (poller->destroy)
    poller->destroy (poller->data);
  g_free (poller);
}

static VivIoPoller *
poller_ref (VivIoPoller *poller)
{
  g_atomic_int_inc (&poller->refcount);
  return poller;
}

/* Between polling periods: take the current set of pollers. */
static void
refresh_active (VivIoThread *t)
{
  gint generation = g_atomic_int_get (&t->generation);
  if (generation == t->active_generation)
    return;
  g_ptr_array_set_size (t->active, 0);
  g_mutex_lock (&registry_lock);
  for (guint i = 0; i < t->pollers->len; i++)
    g_ptr_array_add (t->active, poller_ref (t->pollers->pdata[i]));
  t->active_generation = g_atomic_int_get (&t->generation);
  g_mutex_unlock (&registry_lock);
}

/* Times this thread was preempted so far. */
static long
involuntary_switches (void)
{
  struct rusage usage;
  return getrusage (RUSAGE_THREAD, &usage) == 0 ? usage.ru_nivcsw : 0;
}

static void
begin_all (VivIoThread *t)
{
  for (guint i = 0; i < t->active->len; i++)
    {
      VivIoPoller *p = t->active->pdata[i];
      if (!g_atomic_int_get (&p->removed) && p->ops.begin)
        p->ops.begin (p->data);
    }
  t->polling = true;
}

static bool
poll_all (VivIoThread *t)
{
  bool progress = false;
  for (guint i = 0; i < t->active->len; i++)
    {
      VivIoPoller *p = t->active->pdata[i];
      if (!g_atomic_int_get (&p->removed))
        progress |= p->ops.poll (p->data);
    }
  return progress;
}

static void
end_all (VivIoThread *t)
{
  for (guint i = 0; i < t->active->len; i++)
    {
      VivIoPoller *p = t->active->pdata[i];
      if (!g_atomic_int_get (&p->removed) && p->ops.end)
        p->ops.end (p->data);
    }
  t->polling = false;
}

/* After a sleep of `slept` ns that `woke` (an event, not the timeout):
 * QEMU's rule of thumb — an event that came within the longest window
 * would have been caught by polling longer; one that took longer, or no
 * event, says polling is a waste here. */
static void
adapt_window (VivIoThread *t, uint64_t slept, bool woke)
{
  if (t->backoff > 0)
    {
      t->backoff--;
      t->poll_ns = 0;
    }
  else if (woke && slept <= t->poll_max_ns)
    t->poll_ns = t->poll_ns ? MIN (t->poll_ns * 2, t->poll_max_ns) : POLL_START_NS;
  else
    t->poll_ns = t->poll_ns / 2 < POLL_START_NS ? 0 : t->poll_ns / 2;
}

/* Whether the host runs no more threads than it has CPUs (this one
 * included), from the running count in /proc/loadavg ("R/T").  Polling
 * on a CPU another thread is waiting for slows both down. */
static bool
cpu_to_spare (VivIoThread *t, uint64_t now)
{
  if (t->n_cpus == 0 || (now - t->load_checked < LOAD_CHECK_NS && t->load_checked))
    return t->n_cpus == 0 || t->cpu_to_spare;
  t->load_checked = now;
  t->cpu_to_spare = true;           /* unknown: assume so */
  int fd = open ("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return t->cpu_to_spare;
  char text[128];
  ssize_t n = read (fd, text, sizeof text - 1);
  close (fd);
  unsigned running;
  if (n > 0)
    {
      text[n] = 0;
      if (sscanf (text, "%*s %*s %*s %u/", &running) == 1)
        t->cpu_to_spare = running <= t->n_cpus;
    }
  return t->cpu_to_spare;
}

/* Another thread wanted this CPU while we polled: stop polling for a while. */
static void
back_off (VivIoThread *t)
{
  t->backoff_len = t->backoff_len ? MIN (t->backoff_len * 2, BACKOFF_MAX) : BACKOFF_FIRST;
  t->backoff = t->backoff_len;
  t->poll_ns = 0;
}

static bool
preempted_since_begin (VivIoThread *t)
{
  return involuntary_switches () != t->switches;
}

/* Polls for up to the window.  Returns what the poll function returns
 * (0 after work was done: GLib then goes round again and we poll anew;
 * > 0 when a watched fd became ready), or -1 when the window ran out. */
static gint
poll_window (VivIoThread *t, GPollFD *fds, guint nfds, gint timeout)
{
  uint64_t start = now_ns ();
  uint64_t window = t->poll_ns;
  if (timeout > 0)
    window = MIN (window, (uint64_t) timeout * 1000000u);
  for (uint64_t last = start;;)
    {
      uint64_t now = now_ns ();
      if (now - last > PREEMPTED_NS)
        {
          back_off (t);
          return -1;
        }
      last = now;
      if (now - t->last_fd_check >= FD_CHECK_NS)
        {
          t->last_fd_check = now;
          if (preempted_since_begin (t))
            {
              back_off (t);
              return -1;
            }
          if (!cpu_to_spare (t, now))
            return -1;
          gint ready = g_poll (fds, nfds, 0);
          if (ready != 0)
            return ready;
        }
      if (poll_all (t))
        return 0;
      if (now - start >= window)
        return -1;
    }
}

static gint
io_thread_poll (GPollFD *fds, guint nfds, gint timeout)
{
  VivIoThread *t = this_io_thread;
  if (!t || t->poll_max_ns == 0)
    return g_poll (fds, nfds, timeout);
  if (!t->polling)
    refresh_active (t);
  if (t->active->len == 0)
    return g_poll (fds, nfds, timeout);

  if (timeout == 0)
    {
      /* Something else is ready: look once, so that busy sources cannot
       * starve the polled queues, and go on. */
      if (t->polling)
        poll_all (t);
      return g_poll (fds, nfds, 0);
    }
  if (t->poll_ns > 0 && (t->polling || cpu_to_spare (t, now_ns ())))
    {
      if (!t->polling)
        {
          begin_all (t);
          t->last_fd_check = now_ns ();
          t->switches = involuntary_switches ();
        }
      gint ready = poll_window (t, fds, nfds, timeout);
      if (ready >= 0)
        return ready;
    }
  if (t->polling)
    {
      end_all (t);
      if (t->backoff == 0 && preempted_since_begin (t))
        back_off (t);
      else if (t->backoff == 0)
        t->backoff_len = 0;
    }

  uint64_t before = now_ns ();
  gint ready = g_poll (fds, nfds, timeout);
  adapt_window (t, now_ns () - before, ready != 0);
  return ready;
}

static gpointer
io_thread_main (gpointer data)
{
  VivIoThread *thread = data;
  this_io_thread = thread;
  g_main_context_push_thread_default (thread->context);
  g_main_loop_run (thread->loop);
  g_main_context_pop_thread_default (thread->context);
  if (thread->polling)
    end_all (thread);
  this_io_thread = NULL;
  return NULL;
}

static uint64_t
poll_max_from_environment (void)
{
  const char *text = g_getenv ("VIV_IO_POLL_MAX_NS");
  if (!text)
    return POLL_MAX_NS_DEFAULT;
  char *end;
  guint64 value = g_ascii_strtoull (text, &end, 10);
  if (end == text || *end || value > G_USEC_PER_SEC * 1000u)
    {
      g_warning ("VIV_IO_POLL_MAX_NS=%s is not a number of nanoseconds up to 1 s; "
                 "using the default %u", text, POLL_MAX_NS_DEFAULT);
      return POLL_MAX_NS_DEFAULT;
    }
  return value;
}

VivIoThread *
viv_io_thread_new (const char *name)
{
  VivIoThread *thread = g_new0 (VivIoThread, 1);
  thread->context = g_main_context_new ();
  thread->loop = g_main_loop_new (thread->context, FALSE);
  thread->pollers = g_ptr_array_new_with_free_func (poller_unref);
  thread->active = g_ptr_array_new_with_free_func (poller_unref);
  thread->poll_max_ns = poll_max_from_environment ();
  thread->n_cpus = g_strcmp0 (g_getenv ("VIV_IO_POLL_IGNORE_LOAD"), "1") == 0
                   ? 0 : g_get_num_processors ();
  g_main_context_set_poll_func (thread->context, io_thread_poll);
  g_mutex_lock (&registry_lock);
  registry = g_slist_prepend (registry, thread);
  g_mutex_unlock (&registry_lock);
  thread->thread = g_thread_new (name, io_thread_main, thread);
  return thread;
}

GMainContext *
viv_io_thread_context (VivIoThread *thread)
{
  return thread->context;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
viv_io_thread_free (VivIoThread *thread)
{
  if (!thread)
    return;
  /* Quit from inside the loop so a quit before run() cannot be lost. */
  g_main_context_invoke (thread->context, quit_loop, thread->loop);
  g_thread_join (thread->thread);
  g_mutex_lock (&registry_lock);
  registry = g_slist_remove (registry, thread);
  for (guint i = 0; i < thread->pollers->len; i++)
    ((VivIoPoller *) thread->pollers->pdata[i])->thread = NULL;
  GPtrArray *pollers = thread->pollers;
  thread->pollers = NULL;
  g_mutex_unlock (&registry_lock);
  g_ptr_array_unref (pollers);
  g_ptr_array_unref (thread->active);
  g_main_context_set_poll_func (thread->context, NULL);
  g_main_loop_unref (thread->loop);
  g_main_context_unref (thread->context);
  g_free (thread);
}

VivIoPoller *
viv_io_poller_add (GMainContext *context, const VivIoPollerOps *ops, void *data,
                   GDestroyNotify destroy)
{
  g_return_val_if_fail (ops && ops->poll, NULL);
  VivIoPoller *poller = NULL;
  g_mutex_lock (&registry_lock);
  for (GSList *l = registry; l; l = l->next)
    {
      VivIoThread *t = l->data;
      if (t->context != context || t->poll_max_ns == 0)
        continue;
      poller = g_new0 (VivIoPoller, 1);
      poller->refcount = 2;             /* the caller's and the thread's list */
      poller->thread = t;
      poller->ops = *ops;
      poller->data = data;
      poller->destroy = destroy;
      g_ptr_array_add (t->pollers, poller);
      g_atomic_int_inc (&t->generation);
      break;
    }
  g_mutex_unlock (&registry_lock);
  return poller;
}

void
viv_io_poller_remove (VivIoPoller *poller)
{
  if (!poller)
    return;
  g_atomic_int_set (&poller->removed, 1);
  g_mutex_lock (&registry_lock);
  VivIoThread *t = poller->thread;
  poller->thread = NULL;
  guint index;
  bool listed = t && g_ptr_array_find (t->pollers, poller, &index);
  if (listed)
    {
      g_ptr_array_steal_index_fast (t->pollers, index);
      g_atomic_int_inc (&t->generation);
    }
  g_mutex_unlock (&registry_lock);
  /* Outside the lock: the last reference runs `destroy`. */
  if (listed)
    poller_unref (poller);
  poller_unref (poller);
}
