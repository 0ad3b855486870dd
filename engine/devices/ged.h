/* The Generic Event Device's event register (ACPI 6.3 §5.6.9): how a
 * hardware-reduced machine signals a power-button press.  The DSDT's GED
 * (ACPI0013) gets VIV_IRQ_GED, runs its _EVT method, which reads this
 * register and notifies the PNP0C0C power button when the
 * VIV_GED_EVENT_POWER_BUTTON bit (layout.h) is set. */
#pragma once
#include "devices/bus.h"

typedef struct VivGed VivGed;

VivGed *viv_ged_new  (VivIrqLine irq);
void    viv_ged_free (VivGed *ged);
/* Register with len VIV_GED_SIZE at VIV_GED_ADDR.  Reading returns the
 * pending event bits (little-endian) and clears them; writes are ignored. */
const VivDeviceOps *viv_ged_ops (void);
/* Any thread: marks a power-button press pending and pulses the IRQ. */
void    viv_ged_press_power_button (VivGed *ged);
