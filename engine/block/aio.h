/* The asynchronous file I/O engine under every image driver (uring.c).
 *
 * One VivAio per open image file: an io_uring whose fd is watched from a
 * GMainContext (the machine's I/O thread), where the callbacks run; while
 * that thread polls (kvm/iothread.h) it reaps the completion queue itself.
 * Callbacks never run inside the call that submitted the request.
 *
 * If io_uring cannot be set up (seccomp, old kernel, io_uring_disabled),
 * or the environment variable VIV_BLOCK_AIO=sync is set (tests use it),
 * requests are done with preadv/pwritev/fdatasync/fallocate from the same
 * context instead — still completing through the callback, never inline.
 *
 * The submit and drain calls may come from any thread. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <gio/gio.h>

typedef struct VivAio VivAio;

/* ret: 0 when the whole request was done, else -errno.  A read that runs
 * past the end of the file is completed with zeroes. */
typedef void (*VivAioCallback) (void *opaque, int ret);

VivAio *viv_aio_new     (GMainContext *context, GError **error);
/* Waits for the requests still in flight (their callbacks run), then
 * frees the engine. */
void    viv_aio_free    (VivAio *aio);
bool    viv_aio_is_uring (VivAio *aio);

/* iov is copied: the caller only keeps the buffers alive until the callback. */
void viv_aio_readv     (VivAio *aio, int fd, uint64_t offset, const struct iovec *iov,
                        unsigned iovcnt, VivAioCallback cb, void *opaque);
void viv_aio_writev    (VivAio *aio, int fd, uint64_t offset, const struct iovec *iov,
                        unsigned iovcnt, VivAioCallback cb, void *opaque);
void viv_aio_fdatasync (VivAio *aio, int fd, VivAioCallback cb, void *opaque);
void viv_aio_fallocate (VivAio *aio, int fd, int mode, uint64_t offset, uint64_t len,
                        VivAioCallback cb, void *opaque);
/* Completes with `ret` from the context, like a request that failed there. */
void viv_aio_complete_later (VivAio *aio, int ret, VivAioCallback cb, void *opaque);

/* Between plug and unplug, requests are queued and submitted together
 * with one system call (one per virtqueue notification). Nests. */
void viv_aio_plug   (VivAio *aio);
void viv_aio_unplug (VivAio *aio);

/* Runs requests to completion on the calling thread, their callbacks
 * included, until none is in flight. */
void viv_aio_drain  (VivAio *aio);
