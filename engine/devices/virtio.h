/* The contract between the virtio-mmio transport (virtio_mmio.c) and the
 * virtio device models (virtio_blk.c, virtio_net.c, …).
 *
 * A machine creates a VivVirtioDevice (the transport: registers, feature
 * negotiation, status, queues, notifications, interrupts) and hands it to
 * a device constructor, which binds its ops and state to it:
 *
 *   VivVirtioDevice *vdev = viv_virtio_mmio_new (...);
 *   VivVirtioRng *rng = viv_virtio_rng_new (vdev, &error);
 *       → calls viv_virtio_device_bind (vdev, &rng_ops, rng)
 *
 * Threads and locking: every op is called with the device lock held —
 * register-driven ops (config access, set_features, activate, reset) on
 * the vCPU thread that wrote the register, queue_notify on the machine's
 * I/O thread.  A device's own event sources (io_uring completions, a
 * network backend) run on the I/O thread's GMainContext and must take the
 * lock (viv_virtio_device_lock) before touching queues. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <gio/gio.h>
#include "kvm/memory.h"
#include "devices/virtqueue.h"

/* Device ids (virtio 1.2 §5). */
#define VIRTIO_ID_NET      1
#define VIRTIO_ID_BLOCK    2
#define VIRTIO_ID_CONSOLE  3
#define VIRTIO_ID_RNG      4
#define VIRTIO_ID_BALLOON  5
#define VIRTIO_ID_GPU      16
#define VIRTIO_ID_INPUT    18

/* Transport-level feature bits (virtio 1.2 §6). The transport offers
 * VERSION_1, RING_INDIRECT_DESC and RING_EVENT_IDX itself. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

typedef struct VivVirtioDevice VivVirtioDevice;

typedef struct VivVirtioDeviceOps {
  const char *name;                 /* "virtio-blk", used in messages */
  uint32_t    device_id;            /* VIRTIO_ID_* */
  unsigned    n_queues;
  uint16_t    queue_size_max;       /* a power of two, ≤ 32768 */
  size_t      config_size;          /* bytes of device config space */
  /* With a VM, the I/O thread may also call queue_notify when it finds new
   * buffers while polling (kvm/iothread.h), the driver's notifications
   * suppressed meanwhile.  For queues whose buffers are all requests to
   * take at once (virtio-blk), not buffers waiting for data (net rx). */
  bool        poll_queues;

  /* Device-specific features (bits 0–23 and any device bits above 32). */
  uint64_t (*get_features) (void *dev);
  /* The driver's accepted features, when it sets FEATURES_OK.  Return
   * false to refuse the combination (FEATURES_OK then stays clear). */
  bool     (*set_features) (void *dev, uint64_t features);
  /* offset + size ≤ config_size is guaranteed by the transport. */
  void     (*read_config)  (void *dev, uint32_t offset, void *data, unsigned size);
  void     (*write_config) (void *dev, uint32_t offset, const void *data, unsigned size);
  /* The driver set DRIVER_OK: the ready queues may be used. */
  void     (*activate)     (void *dev);
  /* The driver kicked queue `index` (already set up and ready). */
  void     (*queue_notify) (void *dev, unsigned index);
  /* The driver wrote 0 to status: drop all queue state and in-flight
   * requests (wait for or cancel them), back to the initial state. */
  void     (*reset)        (void *dev);
  /* Frees the device state; called by viv_virtio_mmio_free. */
  void     (*destroy)      (void *dev);
} VivVirtioDeviceOps;

void viv_virtio_device_bind (VivVirtioDevice *vdev, const VivVirtioDeviceOps *ops, void *dev);

/* Services the transport gives its device. */
VivVirtqueue         *viv_virtio_device_queue   (VivVirtioDevice *vdev, unsigned index);
const VivGuestMemory *viv_virtio_device_memory  (VivVirtioDevice *vdev);
GMainContext         *viv_virtio_device_context (VivVirtioDevice *vdev);  /* the I/O thread's */
uint64_t              viv_virtio_device_features (VivVirtioDevice *vdev); /* negotiated */
void                  viv_virtio_device_lock    (VivVirtioDevice *vdev);
void                  viv_virtio_device_unlock  (VivVirtioDevice *vdev);
/* After pushing used elements: interrupts the driver if the queue asks
 * for it (EVENT_IDX / VRING_AVAIL_F_NO_INTERRUPT). */
void                  viv_virtio_device_notify_used (VivVirtioDevice *vdev, unsigned index);
/* Bumps the config generation and sends a configuration-change interrupt. */
void                  viv_virtio_device_config_changed (VivVirtioDevice *vdev);
/* The driver misbehaved (bad descriptor, …): sets NEEDS_RESET, sends a
 * config interrupt, logs `why` once; the device stops processing until
 * the driver resets it.  The VM keeps running. */
void                  viv_virtio_device_needs_reset (VivVirtioDevice *vdev, const char *why);

/* The device model bound to this transport (the `dev` given to
 * viv_virtio_device_bind) if its ops say `device_id`, else NULL: how the
 * machine finds its disks and NICs again to read their statistics. */
void                 *viv_virtio_device_get_bound (VivVirtioDevice *vdev, uint32_t device_id);
