/* The file I/O engine: io_uring, or synchronous system calls run from the
 * context when io_uring is unavailable.  See aio.h. */
#include "block/aio.h"
#include "kvm/iothread.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <liburing.h>
#include <sys/eventfd.h>

/* Requests in the ring at once; the completion queue is twice as big, so
 * it can never overflow.  More requests wait in a queue. */
#define RING_ENTRIES 128

typedef enum { AIO_READ, AIO_WRITE, AIO_FDATASYNC, AIO_FALLOCATE, AIO_RESULT } AioOp;

typedef struct AioRequest {
  AioOp          op;
  int            fd;
  int            mode;        /* fallocate */
  uint64_t       offset;
  uint64_t       len;         /* fallocate: range; read/write: bytes still to do */
  int            result;      /* AIO_RESULT, and the final result */
  VivAioCallback cb;
  void          *opaque;
  struct iovec  *iov;         /* the part still to do: advanced after short transfers */
  unsigned       iovcnt;
  struct iovec   iov_copy[];
} AioRequest;

struct VivAio {
  GMutex        lock;
  GCond         progress;     /* sync mode: a request finished on another thread */
  unsigned      progress_waiters;  /* GLib's broadcast always costs a futex call */
  GMainContext *context;
  GSource      *source;       /* efd: wake-ups, and everything in sync mode */
  GSource      *ring_source;  /* the ring's fd: readable while completions wait */
  VivIoPoller  *poller;       /* the I/O thread reaps completions while it polls */
  int           efd;
  bool          uring;
  struct io_uring ring;
  unsigned      in_ring;      /* SQEs prepared and not yet reaped */
  unsigned      in_flight;    /* requests whose callback has not been taken */
  unsigned      plugged;
  bool          submit_failed; /* the kernel refused SQEs; retry */
  GQueue        waiting;      /* not in the ring yet (ring full; sync mode: all) */
  GQueue        done;         /* finished, callback still to run */
  GThread      *dispatching;  /* runs callbacks now (run_done), or NULL */
};

/* How many times run_done looks again for requests its own callbacks
 * finished at once (e.g. reads of unallocated space), before it leaves
 * them to the next dispatch so that other sources get their turn. */
#define RUN_DONE_ROUNDS 16

static void
wake_context (VivAio *aio)
{
  uint64_t one = 1;
  /* Can only fail with EAGAIN when the counter is already huge: the
   * context is then woken anyway. */
  if (write (aio->efd, &one, sizeof one) < 0) { /* nothing to do */ }
}

static void
finish (VivAio *aio, AioRequest *req, int result)
{
  req->result = result;
  g_queue_push_tail (&aio->done, req);
}

/* After `n` bytes of a read/write were done: skips them in the iovecs. */
static void
advance (AioRequest *req, size_t n)
{
  req->offset += n;
  req->len -= n;
  while (n > 0 && req->iovcnt > 0) {
    size_t step = MIN (n, req->iov->iov_len);
    req->iov->iov_base = (uint8_t *) req->iov->iov_base + step;
    req->iov->iov_len -= step;
    n -= step;
    if (req->iov->iov_len == 0) {
      req->iov++;
      req->iovcnt--;
    }
  }
}

static void
zero_fill (AioRequest *req)
{
  for (unsigned i = 0; i < req->iovcnt; i++)
    memset (req->iov[i].iov_base, 0, req->iov[i].iov_len);
}

/* What a (partial) result means for a request: true when it is finished,
 * with req->result set; false when the rest must be issued again. */
static bool
account_result (AioRequest *req, int res)
{
  if (res == -EAGAIN || res == -EINTR)
    return false;
  if (res < 0) {
    req->result = res;
    return true;
  }
  if (req->op != AIO_READ && req->op != AIO_WRITE) {
    req->result = 0;
    return true;
  }
  if (res == 0 && req->len > 0) {
    /* End of file: reads see zeroes (the image shrank under us); a write
     * that makes no progress is an I/O error. */
    if (req->op == AIO_READ)
      zero_fill (req);
    req->result = req->op == AIO_READ ? 0 : -EIO;
    return true;
  }
  advance (req, MIN ((uint64_t) res, req->len));
  req->result = 0;
  return req->len == 0;
}

/* ---- io_uring ------------------------------------------------------ */

static void
prep_sqe (VivAio *aio, AioRequest *req)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (&aio->ring);
  /* in_ring < RING_ENTRIES guarantees a free SQE. */
  g_assert (sqe);
  switch (req->op) {
  case AIO_READ:
    io_uring_prep_readv (sqe, req->fd, req->iov, req->iovcnt, req->offset);
    break;
  case AIO_WRITE:
    io_uring_prep_writev (sqe, req->fd, req->iov, req->iovcnt, req->offset);
    break;
  case AIO_FDATASYNC:
    io_uring_prep_fsync (sqe, req->fd, IORING_FSYNC_DATASYNC);
    break;
  case AIO_FALLOCATE:
    io_uring_prep_fallocate (sqe, req->fd, req->mode, (off_t) req->offset, (off_t) req->len);
    break;
  case AIO_RESULT:
    g_assert_not_reached ();
  }
  io_uring_sqe_set_data (sqe, req);
  aio->in_ring++;
}

static void
fill_ring (VivAio *aio)
{
  while (aio->in_ring < RING_ENTRIES && !g_queue_is_empty (&aio->waiting))
    prep_sqe (aio, g_queue_pop_head (&aio->waiting));
}

static void
submit_ring (VivAio *aio)
{
  if (aio->plugged || io_uring_sq_ready (&aio->ring) == 0)
    return;
  int ret = io_uring_submit (&aio->ring);
  /* The kernel keeps what it did not take in the SQ ring; try again on
   * the next completion, or from the context if nothing is in flight. */
  aio->submit_failed = ret < 0;
  if (aio->submit_failed)
    wake_context (aio);
}

static void
reap_ring (VivAio *aio)
{
  struct io_uring_cqe *cqe;
  while (io_uring_peek_cqe (&aio->ring, &cqe) == 0) {
    AioRequest *req = io_uring_cqe_get_data (cqe);
    int res = cqe->res;
    io_uring_cqe_seen (&aio->ring, cqe);
    aio->in_ring--;
    if (account_result (req, res))
      g_queue_push_tail (&aio->done, req);
    else
      g_queue_push_tail (&aio->waiting, req);
  }
  fill_ring (aio);
  if (aio->submit_failed || io_uring_sq_ready (&aio->ring) > 0)
    submit_ring (aio);
}

/* ---- synchronous fallback ------------------------------------------- */

static void
run_sync (AioRequest *req)
{
  for (;;) {
    ssize_t res;
    switch (req->op) {
    case AIO_READ:
      res = preadv (req->fd, req->iov, (int) req->iovcnt, (off_t) req->offset);
      break;
    case AIO_WRITE:
      res = pwritev (req->fd, req->iov, (int) req->iovcnt, (off_t) req->offset);
      break;
    case AIO_FDATASYNC:
      res = fdatasync (req->fd);
      break;
    case AIO_FALLOCATE:
      res = fallocate (req->fd, req->mode, (off_t) req->offset, (off_t) req->len);
      break;
    default:
      g_assert_not_reached ();
    }
    if (account_result (req, res < 0 ? -errno : (int) MIN (res, (ssize_t) INT_MAX)))
      return;
  }
}

/* ---- common ---------------------------------------------------------- */

/* Takes the finished requests (under the lock) and runs their callbacks
 * (outside it: a callback may submit more).  Requests the callbacks finish
 * at once are taken in the same call, without waking the context. */
static void
run_done (VivAio *aio)
{
  /* One thread at a time takes its callbacks' immediate completions
   * itself; a nested or concurrent call leaves that to the first. */
  bool owner = aio->dispatching == NULL;
  if (owner)
    aio->dispatching = g_thread_self ();
  for (unsigned round = 0; round < RUN_DONE_ROUNDS && aio->done.length; round++) {
    GQueue done = aio->done;
    g_queue_init (&aio->done);
    aio->in_flight -= done.length;
    if (aio->progress_waiters)
      g_cond_broadcast (&aio->progress);
    g_mutex_unlock (&aio->lock);
    AioRequest *req;
    while ((req = g_queue_pop_head (&done))) {
      req->cb (req->opaque, req->result);
      g_free (req);
    }
    g_mutex_lock (&aio->lock);
  }
  if (owner) {
    aio->dispatching = NULL;
    if (aio->done.length)
      wake_context (aio);   /* left for the next dispatch */
  }
}

/* Sync mode: runs one waiting request on this thread. */
static bool
run_one_sync (VivAio *aio)
{
  AioRequest *req = g_queue_pop_head (&aio->waiting);
  if (!req)
    return false;
  g_mutex_unlock (&aio->lock);
  run_sync (req);
  g_mutex_lock (&aio->lock);
  g_queue_push_tail (&aio->done, req);
  return true;
}

static gboolean
on_eventfd (gint fd, GIOCondition condition, gpointer data)
{
  VivAio *aio = data;
  uint64_t count;
  if (read (fd, &count, sizeof count) < 0) { /* EAGAIN: a drain took it */ }

  g_mutex_lock (&aio->lock);
  if (aio->uring) {
    reap_ring (aio);
  } else {
    /* Only what is queued now: requests the callbacks add wait for the
     * next dispatch, so the context stays responsive. */
    for (guint n = aio->waiting.length; n > 0 && run_one_sync (aio); n--)
      ;
    if (!g_queue_is_empty (&aio->waiting))
      wake_context (aio);
  }
  run_done (aio);
  g_mutex_unlock (&aio->lock);
  return G_SOURCE_CONTINUE;
}

/* The ring's fd polls readable while the completion queue holds entries
 * (level-triggered, checked after the sleeper is queued: no lost
 * wake-up), and a thread that polls the queue itself costs the kernel
 * nothing — unlike an eventfd registered with the ring, which is written
 * for every completion. */
static gboolean
on_ring_ready (gint fd, GIOCondition condition, gpointer data)
{
  VivAio *aio = data;
  g_mutex_lock (&aio->lock);
  reap_ring (aio);
  run_done (aio);
  g_mutex_unlock (&aio->lock);
  return G_SOURCE_CONTINUE;
}

static bool
poll_completions (void *data)
{
  VivAio *aio = data;
  g_mutex_lock (&aio->lock);
  bool ready = io_uring_cq_ready (&aio->ring) > 0;
  if (ready) {
    reap_ring (aio);
    run_done (aio);
  }
  g_mutex_unlock (&aio->lock);
  return ready;
}

static const VivIoPollerOps completion_poller_ops = {
  .poll = poll_completions,
};

static GSource *
watch (VivAio *aio, int fd, GUnixFDSourceFunc func, const char *name)
{
  GSource *source = g_unix_fd_source_new (fd, G_IO_IN);
  g_source_set_callback (source, G_SOURCE_FUNC (func), aio, NULL);
  g_source_set_name (source, name);
  /* As for virtio kicks: no nested iteration happens on this context, and
   * blocking the source during dispatch would wake the loop twice. */
  g_source_set_can_recurse (source, TRUE);
  g_source_attach (source, aio->context);
  return source;
}

VivAio *
viv_aio_new (GMainContext *context, GError **error)
{
  VivAio *aio = g_new0 (VivAio, 1);
  g_mutex_init (&aio->lock);
  g_cond_init (&aio->progress);
  g_queue_init (&aio->waiting);
  g_queue_init (&aio->done);
  aio->context = g_main_context_ref (context ? context : g_main_context_default ());
  aio->efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (aio->efd < 0) {
    int err = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                 "Cannot create an eventfd for disk I/O: %s", g_strerror (err));
    g_main_context_unref (aio->context);
    g_free (aio);
    return NULL;
  }

  static gsize told_sync;
  if (g_strcmp0 (g_getenv ("VIV_BLOCK_AIO"), "sync") == 0) {
    if (g_once_init_enter (&told_sync)) {
      g_message ("VIV_BLOCK_AIO=sync: disk I/O uses synchronous preadv/pwritev");
      g_once_init_leave (&told_sync, 1);
    }
  } else {
    int ret = io_uring_queue_init (RING_ENTRIES, &aio->ring, 0);
    if (ret == 0) {
      aio->uring = true;
    } else {
      g_warning ("io_uring is unavailable (%s); disk I/O falls back to synchronous "
                 "preadv/pwritev, which is slower", g_strerror (-ret));
    }
  }

  aio->source = watch (aio, aio->efd, on_eventfd, "viv-aio");
  if (aio->uring) {
    aio->ring_source = watch (aio, aio->ring.ring_fd, on_ring_ready, "viv-aio-ring");
    aio->poller = viv_io_poller_add (aio->context, &completion_poller_ops, aio, NULL);
  }
  return aio;
}

bool
viv_aio_is_uring (VivAio *aio)
{
  return aio->uring;
}

static AioRequest *
new_request (AioOp op, int fd, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
             VivAioCallback cb, void *opaque)
{
  AioRequest *req = g_malloc0 (sizeof *req + iovcnt * sizeof (struct iovec));
  req->op = op;
  req->fd = fd;
  req->offset = offset;
  req->cb = cb;
  req->opaque = opaque;
  req->iov = req->iov_copy;
  for (unsigned i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len == 0)
      continue;            /* empty segments would read as end of file */
    req->iov[req->iovcnt++] = iov[i];
    req->len += iov[i].iov_len;
  }
  return req;
}

static void
submit (VivAio *aio, AioRequest *req)
{
  g_mutex_lock (&aio->lock);
  aio->in_flight++;
  if ((req->op == AIO_READ || req->op == AIO_WRITE) && req->len == 0) {
    finish (aio, req, 0);
    wake_context (aio);
  } else if (aio->uring) {
    g_queue_push_tail (&aio->waiting, req);
    fill_ring (aio);
    submit_ring (aio);
  } else {
    g_queue_push_tail (&aio->waiting, req);
    wake_context (aio);
  }
  g_mutex_unlock (&aio->lock);
}

void
viv_aio_readv (VivAio *aio, int fd, uint64_t offset, const struct iovec *iov,
               unsigned iovcnt, VivAioCallback cb, void *opaque)
{
  submit (aio, new_request (AIO_READ, fd, offset, iov, iovcnt, cb, opaque));
}

void
viv_aio_writev (VivAio *aio, int fd, uint64_t offset, const struct iovec *iov,
                unsigned iovcnt, VivAioCallback cb, void *opaque)
{
  submit (aio, new_request (AIO_WRITE, fd, offset, iov, iovcnt, cb, opaque));
}

void
viv_aio_fdatasync (VivAio *aio, int fd, VivAioCallback cb, void *opaque)
{
  submit (aio, new_request (AIO_FDATASYNC, fd, 0, NULL, 0, cb, opaque));
}

void
viv_aio_fallocate (VivAio *aio, int fd, int mode, uint64_t offset, uint64_t len,
                   VivAioCallback cb, void *opaque)
{
  AioRequest *req = new_request (AIO_FALLOCATE, fd, offset, NULL, 0, cb, opaque);
  req->mode = mode;
  req->len = len;
  submit (aio, req);
}

void
viv_aio_complete_later (VivAio *aio, int ret, VivAioCallback cb, void *opaque)
{
  AioRequest *req = new_request (AIO_RESULT, -1, 0, NULL, 0, cb, opaque);
  g_mutex_lock (&aio->lock);
  aio->in_flight++;
  finish (aio, req, ret);
  /* From a callback run_done is running, it takes this itself. */
  if (aio->dispatching != g_thread_self ())
    wake_context (aio);
  g_mutex_unlock (&aio->lock);
}

void
viv_aio_plug (VivAio *aio)
{
  g_mutex_lock (&aio->lock);
  aio->plugged++;
  g_mutex_unlock (&aio->lock);
}

void
viv_aio_unplug (VivAio *aio)
{
  g_mutex_lock (&aio->lock);
  g_assert (aio->plugged > 0);
  if (--aio->plugged == 0 && aio->uring)
    submit_ring (aio);
  g_mutex_unlock (&aio->lock);
}

void
viv_aio_drain (VivAio *aio)
{
  g_mutex_lock (&aio->lock);
  while (aio->in_flight > 0) {
    if (!g_queue_is_empty (&aio->done)) {
      run_done (aio);
    } else if (aio->uring && (aio->in_ring > 0 || !g_queue_is_empty (&aio->waiting))) {
      fill_ring (aio);
      struct io_uring_cqe *cqe;
      /* Submits even when plugged.  Holding the lock keeps other threads
       * off the completion queue while this one sleeps in the kernel. */
      int ret = io_uring_submit_and_wait (&aio->ring, 1);
      if (ret >= 0 || io_uring_peek_cqe (&aio->ring, &cqe) == 0)
        reap_ring (aio);
    } else if (!aio->uring && run_one_sync (aio)) {
      continue;
    } else {
      /* Another thread holds the last requests' callbacks. */
      aio->progress_waiters++;
      g_cond_wait (&aio->progress, &aio->lock);
      aio->progress_waiters--;
    }
  }
  g_mutex_unlock (&aio->lock);
}

typedef struct {
  VivAio *aio;
  GMutex  lock;
  GCond   cond;
  bool    done;
} DetachWait;

/* On the context's thread or while nobody runs it: no callback or poll
 * of ours is running, and none starts afterwards. */
static void
detach_now (VivAio *aio)
{
  g_source_destroy (aio->source);
  if (aio->ring_source)
    g_source_destroy (aio->ring_source);
  g_clear_pointer (&aio->poller, viv_io_poller_remove);
}

static gboolean
detach_on_context (gpointer data)
{
  DetachWait *wait = data;
  detach_now (wait->aio);
  g_mutex_lock (&wait->lock);
  wait->done = true;
  g_cond_signal (&wait->cond);
  g_mutex_unlock (&wait->lock);
  return G_SOURCE_REMOVE;
}

/* Destroys the watches and the poller so that no dispatch or poll can be
 * running on the context when this returns: directly if the context is
 * idle or ours, else from inside it. */
static void
detach_source (VivAio *aio)
{
  if (g_main_context_acquire (aio->context)) {
    detach_now (aio);
    g_main_context_release (aio->context);
    return;
  }
  DetachWait wait = { .aio = aio };
  g_mutex_init (&wait.lock);
  g_cond_init (&wait.cond);
  g_main_context_invoke (aio->context, detach_on_context, &wait);
  g_mutex_lock (&wait.lock);
  while (!wait.done)
    g_cond_wait (&wait.cond, &wait.lock);
  g_mutex_unlock (&wait.lock);
  g_mutex_clear (&wait.lock);
  g_cond_clear (&wait.cond);
}

void
viv_aio_free (VivAio *aio)
{
  if (!aio)
    return;
  viv_aio_drain (aio);
  detach_source (aio);
  g_source_unref (aio->source);
  g_clear_pointer (&aio->ring_source, g_source_unref);
  /* Callbacks run by a dispatch that was in progress may have queued more. */
  viv_aio_drain (aio);
  if (aio->uring)
    io_uring_queue_exit (&aio->ring);
  close (aio->efd);
  g_main_context_unref (aio->context);
  g_mutex_clear (&aio->lock);
  g_cond_clear (&aio->progress);
  g_free (aio);
}
