/* The machine's I/O thread: a GMainContext of its own, on which virtio
 * queue notifications, disk completions and network backends run, so that
 * neither the vCPUs nor the owner's main loop wait on device work.
 *
 * Before it sleeps, the thread may poll for a short, self-tuning time
 * (adaptive polling): it calls its pollers over and over, and work that
 * shows up meanwhile (new buffers in a virtqueue, a disk completion) is
 * taken without a notification — no guest exit for the kick, no eventfd,
 * no wake-up.  The time grows while events keep coming soon after the
 * thread went to sleep, shrinks when they do not or when the thread was
 * preempted while polling, and is at most VIV_IO_POLL_MAX_NS (environment
 * variable, nanoseconds; 0 turns polling off).  An idle thread sleeps, and
 * so does one on a host with no CPU to spare (more threads runnable than
 * CPUs) unless VIV_IO_POLL_IGNORE_LOAD=1 (tests; hosts with CPUs set
 * aside for the VM). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <gio/gio.h>

typedef struct VivIoThread VivIoThread;

VivIoThread  *viv_io_thread_new     (const char *name);
GMainContext *viv_io_thread_context (VivIoThread *thread);
/* Stops the loop and joins the thread; sources still attached are left
 * to their owners, who must destroy them before freeing their state. */
void          viv_io_thread_free    (VivIoThread *thread);

/* All three run on the I/O thread, with no lock of the thread's held. */
typedef struct VivIoPollerOps {
  /* Polling starts: suppress the notifications that would wake the thread
   * (they are not needed while it looks by itself). */
  void (*begin) (void *data);
  /* Looks for work and does it; true if there was some. */
  bool (*poll)  (void *data);
  /* Polling ends and the thread is about to sleep: turn the notifications
   * on again, and if work came in between, signal it (e.g. write your own
   * eventfd) so that it is not left waiting. */
  void (*end)   (void *data);
} VivIoPollerOps;

typedef struct VivIoPoller VivIoPoller;

/* Adds a poller to the I/O thread that runs `context`.  NULL if no I/O
 * thread runs it (then `destroy` is never called and nothing polls). */
VivIoPoller *viv_io_poller_add    (GMainContext *context, const VivIoPollerOps *ops,
                                   void *data, GDestroyNotify destroy);
/* No new call of the ops starts after this returns on the I/O thread (or
 * while its loop is not running).  From another thread, a call may still
 * be running or start once more: the ops must check, under their own lock,
 * that they are still wanted.  `destroy (data)` runs once no call can
 * happen any more. NULL is ignored. */
void         viv_io_poller_remove (VivIoPoller *poller);
