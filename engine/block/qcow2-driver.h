/* The qcow2 block driver's state and requests, shared by qcow2.c (open,
 * reads) and qcow2-write.c (the metadata queue: writes, zeroes, discards,
 * flushes).  See qcow2.c for the concurrency rules. */
#pragma once
#include "block/qcow2-internal.h"
#include "block/file.h"

/* Clusters one allocating step writes at most. */
#define MAX_ALLOC_BYTES (8u << 20)
/* Deferred frees before a flush is queued to apply them. */
#define MAX_DEFERRED_FREES 4096

typedef enum { OP_READ, OP_WRITE, OP_ZEROES, OP_DISCARD, OP_FLUSH, OP_COMPRESSED } Op;

typedef struct Qcow2State Qcow2State;

typedef struct Request {
  Qcow2State      *s;
  Op               op;
  uint64_t         offset, len, pos;
  struct iovec    *iov;      /* the caller's segments (copied) */
  unsigned         iovcnt;
  VivBlockCallback cb;
  void            *opaque;
  gint             ret;
  gint             pending;  /* reads: parts in flight, +1 while submitting */
  bool             exclusive;   /* started alone: no write runs beside it */

  /* OP_COMPRESSED: the cluster's compressed form (NULL: not smaller). */
  uint8_t         *cdata;
  size_t           clen;

  /* The allocating step in progress. */
  uint64_t         guest;    /* first guest cluster's offset */
  uint64_t         host;     /* the new clusters */
  uint64_t         clusters;
  uint64_t         covered;  /* bytes of the request the step writes */
  uint8_t         *head, *tail;   /* old contents of the first and last cluster */
  bool             head_zero, tail_zero;   /* …or they read as zeroes (no copy) */
  bool             fresh;    /* the new clusters were never written: they read as zeroes */
  int              cow_pending;
} Request;

struct Qcow2State {
  GMutex        lock;
  Qcow2Image   *img;
  VivBlockFile  file;
  VivAio       *aio;
  uint64_t      length;
  bool          writethrough;

  const VivBlockDriver *backing_driver;
  void         *backing;
  uint64_t      backing_length;

  GQueue        meta_queue;       /* requests waiting to start, in order */
  bool          exclusive_busy;   /* a zeroing, discard, flush or compressed write runs */
  unsigned      writes_running;   /* writes started (they run side by side) */
  GPtrArray    *allocating;       /* Request: writes with an allocating step in flight */
  GQueue        alloc_waiters;    /* writes waiting for one of those to end */
  bool          meta_running;
  bool          flush_queued;     /* one to apply deferred frees */
  gint          data_in_flight;   /* reads and writes of host clusters */

  uint8_t      *zeroes;           /* one cluster */
  uint8_t      *cbuf;             /* the last decompressed cluster */
  uint64_t      cbuf_entry;
  uint64_t      compressed_end;   /* where the next compressed cluster may go (0: a new cluster) */
};

typedef enum { PART_DATA_READ, PART_BACKING_READ, PART_DATA_WRITE } PartKind;

/* iovecs */
unsigned qcow2_iov_slice (const struct iovec *iov, unsigned iovcnt, uint64_t pos, uint64_t len,
                          struct iovec *out, unsigned max);
/* Copies src (NULL: zeroes) into [pos, pos+len) of the iovecs. */
void     qcow2_iov_copy_in (const struct iovec *iov, unsigned iovcnt, uint64_t pos,
                            const uint8_t *src, uint64_t len);
void    *qcow2_aligned_alloc (size_t len);

Request *qcow2_request_new  (Qcow2State *s, Op op, uint64_t offset, uint64_t len,
                             const struct iovec *iov, unsigned iovcnt, VivBlockCallback cb,
                             void *opaque);
void     qcow2_request_free (Request *r);
/* One part of a read or in-place write, counted in r->pending. */
void     qcow2_submit_part  (Request *r, PartKind kind, uint64_t host, uint64_t pos,
                             uint64_t len);
/* A read of [offset, offset+len), with the image lock held. */
void     qcow2_read_submit_locked (Qcow2State *s, uint64_t offset, const struct iovec *iov,
                                   unsigned iovcnt, uint64_t len, VivBlockCallback cb,
                                   void *opaque);

/* qcow2-write.c: the driver's entry points that change the image. */
void qcow2_writev       (void *state, uint64_t offset, const struct iovec *iov,
                         unsigned iovcnt, VivBlockCallback cb, void *opaque);
void qcow2_flush        (void *state, VivBlockCallback cb, void *opaque);
void qcow2_discard      (void *state, uint64_t offset, uint64_t len, VivBlockCallback cb,
                         void *opaque);
void qcow2_write_zeroes (void *state, uint64_t offset, uint64_t len, unsigned flags,
                         VivBlockCallback cb, void *opaque);
