/* What every network backend shares (net.c): the receiver, the bounded
 * queue of frames waiting for it, and flow control.  Private to engine/net. */
#pragma once
#include "net/net.h"

typedef struct VivNetBackendClass {
  const char *name;
  bool (*send)       (VivNetBackend *backend, const struct iovec *iov, unsigned n_iov);
  /* The receiver drained the queue after a producer was told to stop
   * (viv_net_backend_deliver returned false): start reading again.
   * Called on the context's thread.  May be NULL. */
  void (*rx_resumed) (VivNetBackend *backend);
  void (*free)       (VivNetBackend *backend);
} VivNetBackendClass;

struct VivNetBackend {
  const VivNetBackendClass *klass;
  GMainContext      *context;
  GMutex             lock;            /* everything below */
  VivNetReceiveFunc  receive;
  void              *receive_opaque;
  GQueue             rx_queue;        /* of RxFrame, oldest first */
  bool               rx_paused;       /* the receiver said "no room" */
  unsigned           resume_seq;      /* bumped by every resume_rx */
  bool               producer_stopped;
  uint64_t           rx_dropped;
  GSource           *flush_source;    /* delivers rx_queue on the context */
};

void viv_net_backend_init     (VivNetBackend *backend, const VivNetBackendClass *klass,
                               GMainContext *context);
void viv_net_backend_finalize (VivNetBackend *backend);

/* For producers that cannot stop (slirp calls back from inside its own
 * functions): copies the frame into the queue, or drops it if full, and
 * delivers it later from the context. */
void viv_net_backend_queue_rx (VivNetBackend *backend, const uint8_t *frame, size_t len,
                               unsigned flags);
/* For producers that can stop reading (tap), on the context's thread:
 * delivers now if possible.  Returns false if the producer must stop
 * reading until klass->rx_resumed (the frame itself was kept). */
bool viv_net_backend_deliver  (VivNetBackend *backend, const uint8_t *frame, size_t len,
                               unsigned flags);
