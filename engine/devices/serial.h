/* 16550A UART (what Linux's 8250 driver expects), 8 ports wide. */
#pragma once
#include "devices/bus.h"

typedef struct VivSerial VivSerial;

VivSerial *viv_serial_new     (VivIrqLine irq, VivByteSink output);
void       viv_serial_free    (VivSerial *serial);
const VivDeviceOps *viv_serial_ops (void);
/* Queues bytes from the host side (keyboard, socket) into the receive FIFO.
 * Returns how many were taken; the rest must be offered again later
 * (after viv_serial_set_rx_ready_cb fires). Thread-safe. */
size_t     viv_serial_receive (VivSerial *serial, const uint8_t *buf, size_t len);
/* Called (from a vCPU thread) when the guest drained the receive FIFO. */
void       viv_serial_set_rx_ready_cb (VivSerial *serial, void (*cb) (void *ctx), void *ctx);
void       viv_serial_reset   (VivSerial *serial);
