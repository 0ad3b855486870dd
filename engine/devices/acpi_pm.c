/* Hardware-reduced ACPI sleep control and status registers.
 *
 * Only S5 (soft off) is implemented.  A request for any other sleep state
 * wakes up at once: WAK_STS is set, so an OS that waits for it after
 * writing SLP_EN (as ACPICA does) carries on instead of spinning. */
#include "devices/acpi_pm.h"

#include "layout.h"

#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK  (0x7 << SLP_TYP_SHIFT)
#define SLP_EN        0x20   /* write-only: reads as 0 */
#define WAK_STS       0x80   /* write 1 to clear */

struct VivAcpiPm {
  GMutex lock;
  VivStopSink stop;
  uint8_t sleep_type;   /* SLP_TYP field as last written */
  uint8_t status;
};

/* Returns true when the guest entered S5. */
static bool
control_write (VivAcpiPm *pm, uint8_t val)
{
  pm->sleep_type = val & SLP_TYP_MASK;
  if (!(val & SLP_EN))
    return false;
  if (pm->sleep_type >> SLP_TYP_SHIFT == VIV_ACPI_S5_TYPE)
    return true;
  pm->status |= WAK_STS;
  return false;
}

static void
acpi_pm_read (void *opaque, uint64_t offset, void *data, unsigned size)
{
  VivAcpiPm *pm = opaque;
  uint8_t *out = data;

  g_mutex_lock (&pm->lock);
  for (unsigned i = 0; i < size; i++)
    out[i] = offset + i == 0 ? pm->sleep_type
           : offset + i == 1 ? pm->status : 0xff;
  g_mutex_unlock (&pm->lock);
}

static void
acpi_pm_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
  VivAcpiPm *pm = opaque;
  const uint8_t *in = data;
  bool poweroff = false;

  g_mutex_lock (&pm->lock);
  for (unsigned i = 0; i < size; i++)
    {
      if (offset + i == 0)
        poweroff |= control_write (pm, in[i]);
      else if (offset + i == 1)
        pm->status &= ~(in[i] & WAK_STS);
    }
  g_mutex_unlock (&pm->lock);
  if (poweroff)
    viv_stop_sink_request (&pm->stop, VIV_STOP_POWEROFF, 0);
}

static const VivDeviceOps acpi_pm_ops = {
  .name = "acpi sleep registers",
  .read = acpi_pm_read,
  .write = acpi_pm_write,
};

const VivDeviceOps *
viv_acpi_pm_ops (void)
{
  return &acpi_pm_ops;
}

VivAcpiPm *
viv_acpi_pm_new (VivStopSink stop)
{
  VivAcpiPm *pm = g_new0 (VivAcpiPm, 1);
  g_mutex_init (&pm->lock);
  pm->stop = stop;
  return pm;
}

void
viv_acpi_pm_free (VivAcpiPm *pm)
{
  if (!pm)
    return;
  g_mutex_clear (&pm->lock);
  g_free (pm);
}
