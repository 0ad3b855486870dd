/* Generic Event Device event register.  The interrupt is edge-triggered
 * (see VIV_IRQ_GED), so a press pulses the line.  An edge that comes
 * before the guest has unmasked the pin (its GED driver not bound yet) is
 * lost; the event bit stays pending and is reported with the next press. */
#include "devices/ged.h"

#include "layout.h"

struct VivGed {
  GMutex lock;
  VivIrqLine irq;
  uint32_t pending;
};

static void
ged_read (void *opaque, uint64_t offset, void *data, unsigned size)
{
  VivGed *ged = opaque;
  uint8_t *out = data;

  /* The bus keeps [offset, offset + size) within VIV_GED_SIZE. */
  g_mutex_lock (&ged->lock);
  for (unsigned i = 0; i < size; i++)
    out[i] = (uint8_t) (ged->pending >> (8 * (offset + i)));
  ged->pending = 0;
  g_mutex_unlock (&ged->lock);
}

static void
ged_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
}

static const VivDeviceOps ged_ops = {
  .name = "acpi generic event device",
  .read = ged_read,
  .write = ged_write,
};

const VivDeviceOps *
viv_ged_ops (void)
{
  return &ged_ops;
}

VivGed *
viv_ged_new (VivIrqLine irq)
{
  VivGed *ged = g_new0 (VivGed, 1);
  g_mutex_init (&ged->lock);
  ged->irq = irq;
  return ged;
}

void
viv_ged_free (VivGed *ged)
{
  if (!ged)
    return;
  g_mutex_clear (&ged->lock);
  g_free (ged);
}

void
viv_ged_press_power_button (VivGed *ged)
{
  g_mutex_lock (&ged->lock);
  ged->pending |= VIV_GED_EVENT_POWER_BUTTON;
  /* Pulsed under the lock so two presses cannot interleave their edges. */
  viv_irq_line_set (&ged->irq, true);
  viv_irq_line_set (&ged->irq, false);
  g_mutex_unlock (&ged->lock);
}
