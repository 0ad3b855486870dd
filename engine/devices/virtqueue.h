/* Split virtqueues (virtio 1.2 §2.7), device side.  Every address and
 * length the driver gives is checked against guest memory; a malformed
 * ring makes pop() fail with a reason instead of touching host memory. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "kvm/memory.h"

/* Longest chain accepted (direct + indirect). Linux never builds longer. */
#define VIV_VIRTQ_MAX_SEGMENTS 1024

typedef struct VivVirtqueue {
  const VivGuestMemory *mem;
  uint16_t size;                 /* 0: not set up */
  uint64_t desc_gpa, avail_gpa, used_gpa;
  bool     event_idx;            /* VIRTIO_F_RING_EVENT_IDX negotiated */
  bool     indirect;             /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
  uint16_t last_avail_idx;       /* next avail entry to take */
  uint16_t used_idx;             /* our shadow of used->idx */
  uint16_t signalled_used;       /* used_idx when we last interrupted (EVENT_IDX) */
  bool     signalled_used_valid;
  bool     notify_wanted;        /* the device's last set_notification */
  bool     polling;              /* the I/O thread polls: notifications stay off */
  char     error[160];           /* why the last pop failed */
} VivVirtqueue;

typedef struct VivVirtqElement {
  uint16_t     head;             /* descriptor index to return in the used ring */
  unsigned     n_out;            /* iov[0 .. n_out): device-readable */
  unsigned     n_in;             /* iov[n_out .. n_out+n_in): device-writable */
  uint64_t     out_bytes, in_bytes;
  struct iovec iov[VIV_VIRTQ_MAX_SEGMENTS];
} VivVirtqElement;

/* Ring addresses and size come from the transport's queue registers.
 * Returns false (with a reason in vq->error) if the rings are not in RAM
 * or misaligned; the transport then refuses QueueReady. */
bool viv_virtqueue_setup (VivVirtqueue *vq, const VivGuestMemory *mem, uint16_t size,
                          uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
                          bool event_idx, bool indirect);
void viv_virtqueue_reset (VivVirtqueue *vq);

/* 1: an element was taken; 0: the ring is empty; -1: the driver broke
 * the rules (reason in vq->error): the device must ask for a reset. */
int  viv_virtqueue_pop  (VivVirtqueue *vq, VivVirtqElement *elem);
/* Puts an element back so the next pop returns it again (e.g. no rx room). */
void viv_virtqueue_unpop (VivVirtqueue *vq);
/* Returns `head` to the driver with `written` bytes in its writable part. */
void viv_virtqueue_push (VivVirtqueue *vq, uint16_t head, uint32_t written);
/* The same in two steps, for elements the driver must see together (a
 * mergeable rx packet): fill used slots used_idx+offset, then publish
 * `count` of them at once. */
void viv_virtqueue_fill  (VivVirtqueue *vq, unsigned offset, uint16_t head, uint32_t written);
void viv_virtqueue_flush (VivVirtqueue *vq, unsigned count);
/* After pushes: whether the driver wants an interrupt now. */
bool viv_virtqueue_should_interrupt (VivVirtqueue *vq);
/* Whether more buffers are available without popping. */
bool viv_virtqueue_has_available (VivVirtqueue *vq);
/* Suppresses or re-enables driver notifications (used->flags or avail_event);
 * after re-enabling, check has_available again to close the race. */
void viv_virtqueue_set_notification (VivVirtqueue *vq, bool enable);
/* While the I/O thread polls the ring, the driver need not notify: turning
 * polling on suppresses notifications whatever set_notification asks;
 * turning it off restores the device's wish (then check has_available). */
void viv_virtqueue_set_polling (VivVirtqueue *vq, bool polling);

/* Copies between an element's segments and a flat buffer, bounded by both. */
size_t viv_virtq_copy_from_out (const VivVirtqElement *elem, size_t offset, void *dst, size_t len);
size_t viv_virtq_copy_to_in    (const VivVirtqElement *elem, size_t offset, const void *src, size_t len);
