/* virtio-mmio version 2 transport (virtio 1.2 §4.2): what the machine sees. */
#pragma once
#include "devices/bus.h"
#include "devices/virtio.h"

#define VIV_VIRTIO_MMIO_SIZE 0x200

typedef struct VivVirtioMmioConfig {
  uint64_t              base;        /* guest physical address of the registers */
  unsigned              gsi;
  const VivGuestMemory *mem;
  GMainContext         *io_context;  /* the machine's I/O thread */
  /* Without KVM (unit tests, or before connect_vm): notifications arrive as
   * QueueNotify register writes and interrupts go out on this line. */
  VivIrqLine            irq;
} VivVirtioMmioConfig;

VivVirtioDevice    *viv_virtio_mmio_new  (const VivVirtioMmioConfig *config);
/* Frees the transport and, through ops->destroy, the bound device. */
void                viv_virtio_mmio_free (VivVirtioDevice *vdev);
/* Register on the MMIO bus at config->base, length VIV_VIRTIO_MMIO_SIZE. */
const VivDeviceOps *viv_virtio_mmio_ops  (void);

/* Wires queue notifications to KVM ioeventfds and interrupts to an irqfd
 * (with a resample fd: the line is level-triggered) on this VM.  Called on
 * every (re)boot, after the VM fd exists; vm_fd -1 disconnects. */
gboolean            viv_virtio_mmio_connect_vm (VivVirtioDevice *vdev, int vm_fd, GError **error);
/* Back to the power-on state (machine reboot). */
void                viv_virtio_mmio_reset (VivVirtioDevice *vdev);
