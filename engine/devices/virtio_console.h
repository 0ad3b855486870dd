/* virtio console (virtio 1.2 §5.3): one port, no MULTIPORT.  Guest output
 * goes to a VivByteSink, like the serial port's, so the host-side console
 * plumbing is shared; host input goes in through viv_virtio_console_receive. */
#pragma once
#include "devices/bus.h"
#include "devices/virtio.h"

/* Host input kept while the guest has no receive buffers posted. */
#define VIV_VIRTIO_CONSOLE_RX_PENDING_MAX 4096

typedef struct VivVirtioConsole VivVirtioConsole;

/* Binds a console to the transport; freed by viv_virtio_mmio_free, which
 * must run after the I/O thread stopped (it destroys our source there).
 * `output` is called with the device lock held (on the I/O thread; on a
 * vCPU thread for emergency writes): it must not call back into this
 * console. */
VivVirtioConsole *viv_virtio_console_new (VivVirtioDevice *vdev, VivByteSink output);
/* Queues bytes from the host side (keyboard, socket) for the guest.
 * Returns how many were taken; offer the rest again after the rx-ready
 * callback fires.  Thread-safe. */
size_t viv_virtio_console_receive (VivVirtioConsole *console, const uint8_t *buf, size_t len);
/* Called on the I/O thread, without the device lock (it may call
 * viv_virtio_console_receive), when the guest posted receive buffers
 * after a receive had to refuse bytes. */
void   viv_virtio_console_set_rx_ready_cb (VivVirtioConsole *console,
                                           void (*cb) (void *ctx), void *ctx);
/* The host terminal's size, shown in the config space (VIRTIO_CONSOLE_F_SIZE);
 * a change sends a configuration-change interrupt.  Thread-safe. */
void   viv_virtio_console_set_size (VivVirtioConsole *console, uint16_t cols, uint16_t rows);
