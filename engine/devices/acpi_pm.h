/* Hardware-reduced ACPI sleep registers (ACPI 6 §4.8.3.7): the FADT's
 * SLEEP_CONTROL_REG and SLEEP_STATUS_REG, one byte each.  Entering S5
 * (SLP_EN with SLP_TYP == VIV_ACPI_S5_TYPE) powers the machine off. */
#pragma once
#include "devices/bus.h"

typedef struct VivAcpiPm VivAcpiPm;

VivAcpiPm *viv_acpi_pm_new  (VivStopSink stop);
void       viv_acpi_pm_free (VivAcpiPm *pm);
/* Register with len 2 at VIV_PORT_ACPI_SLEEP_CONTROL: offset 0 is the
 * control register, offset 1 (VIV_PORT_ACPI_SLEEP_STATUS) the status. */
const VivDeviceOps *viv_acpi_pm_ops (void);
