/* Minimal i8042 keyboard controller: enough for Linux to probe it and for
 * a write of 0xFE to the command port to reset the machine. */
#pragma once
#include "devices/bus.h"

typedef struct VivI8042 VivI8042;

VivI8042 *viv_i8042_new  (VivStopSink stop);
void      viv_i8042_free (VivI8042 *kbc);
/* Registered at VIV_PORT_I8042_DATA (len 1) and VIV_PORT_I8042_CMD (len 1),
 * both with the VivI8042 as opaque; the two ops tables tell them apart. */
const VivDeviceOps *viv_i8042_data_ops (void);
const VivDeviceOps *viv_i8042_cmd_ops  (void);
/* Optional: the keyboard interrupt (ISA IRQ 1).  Without it the guest must
 * poll; Linux's atkbd probe then waits for its timeouts. */
void      viv_i8042_set_kbd_irq (VivI8042 *kbc, VivIrqLine kbd_irq);
