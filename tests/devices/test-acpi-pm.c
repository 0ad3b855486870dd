/* Hardware-reduced ACPI sleep registers: S5 powers off, other sleep types
 * wake at once, WAK_STS is write-1-to-clear. */
#include <gio/gio.h>

#include "devices/acpi_pm.h"
#include "layout.h"

#define SLP_EN  0x20
#define WAK_STS 0x80

typedef struct {
  unsigned poweroffs, other_stops;
} StopRecord;

static void
record_stop (void *ctx, VivStopReason reason, int code)
{
  StopRecord *rec = ctx;
  if (reason == VIV_STOP_POWEROFF)
    rec->poweroffs++;
  else
    rec->other_stops++;
}

typedef struct {
  VivBus *bus;
  VivAcpiPm *pm;
  StopRecord rec;
} Rig;

static Rig *
rig_new (void)
{
  Rig *rig = g_new0 (Rig, 1);
  g_autoptr (GError) error = NULL;
  rig->bus = viv_bus_new ("pio");
  rig->pm = viv_acpi_pm_new ((VivStopSink) { record_stop, &rig->rec });
  g_assert_true (viv_bus_register (rig->bus, VIV_PORT_ACPI_SLEEP_CONTROL, 2, viv_acpi_pm_ops (), rig->pm, &error));
  g_assert_no_error (error);
  return rig;
}

static void
rig_free (Rig *rig)
{
  viv_bus_free (rig->bus);
  viv_acpi_pm_free (rig->pm);
  g_free (rig);
}

static void
outb (Rig *rig, uint64_t port, uint8_t val)
{
  g_assert_true (viv_bus_write (rig->bus, port, &val, 1));
}

static uint8_t
inb (Rig *rig, uint64_t port)
{
  uint8_t val = 0;
  g_assert_true (viv_bus_read (rig->bus, port, &val, 1));
  return val;
}

static void
test_acpi_pm_s5 (void)
{
  Rig *rig = rig_new ();

  /* SLP_TYP alone does nothing; SLP_EN with S5 powers off. */
  outb (rig, VIV_PORT_ACPI_SLEEP_CONTROL, VIV_ACPI_S5_TYPE << 2);
  g_assert_cmpuint (rig->rec.poweroffs, ==, 0);
  g_assert_cmpuint (inb (rig, VIV_PORT_ACPI_SLEEP_CONTROL), ==, VIV_ACPI_S5_TYPE << 2);
  outb (rig, VIV_PORT_ACPI_SLEEP_CONTROL, (VIV_ACPI_S5_TYPE << 2) | SLP_EN);
  g_assert_cmpuint (rig->rec.poweroffs, ==, 1);
  /* SLP_EN is write-only. */
  g_assert_cmpuint (inb (rig, VIV_PORT_ACPI_SLEEP_CONTROL) & SLP_EN, ==, 0);
  g_assert_cmpuint (rig->rec.other_stops, ==, 0);
  rig_free (rig);
}

static void
test_acpi_pm_other_types (void)
{
  Rig *rig = rig_new ();
  g_assert_cmpuint (inb (rig, VIV_PORT_ACPI_SLEEP_STATUS), ==, 0);

  for (uint8_t type = 0; type < 8; type++)
    {
      if (type == VIV_ACPI_S5_TYPE)
        continue;
      /* ACPICA clears WAK_STS, writes SLP_TYP|SLP_EN, waits for WAK_STS. */
      outb (rig, VIV_PORT_ACPI_SLEEP_STATUS, WAK_STS);
      g_assert_cmpuint (inb (rig, VIV_PORT_ACPI_SLEEP_STATUS), ==, 0);
      outb (rig, VIV_PORT_ACPI_SLEEP_CONTROL, (uint8_t) (type << 2) | SLP_EN);
      g_assert_cmpuint (inb (rig, VIV_PORT_ACPI_SLEEP_STATUS) & WAK_STS, ==, WAK_STS);
      /* Writing 0 leaves it; writing 1 clears it. */
      outb (rig, VIV_PORT_ACPI_SLEEP_STATUS, 0);
      g_assert_cmpuint (inb (rig, VIV_PORT_ACPI_SLEEP_STATUS) & WAK_STS, ==, WAK_STS);
    }
  g_assert_cmpuint (rig->rec.poweroffs, ==, 0);
  g_assert_cmpuint (rig->rec.other_stops, ==, 0);

  /* A 16-bit write covering both registers reaches each of them. */
  uint16_t both = (uint16_t) ((WAK_STS << 8) | (VIV_ACPI_S5_TYPE << 2) | SLP_EN);
  g_assert_true (viv_bus_write (rig->bus, VIV_PORT_ACPI_SLEEP_CONTROL, &both, 2));
  g_assert_cmpuint (rig->rec.poweroffs, ==, 1);
  g_assert_cmpuint (inb (rig, VIV_PORT_ACPI_SLEEP_STATUS), ==, 0);
  rig_free (rig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/acpi-pm/s5", test_acpi_pm_s5);
  g_test_add_func ("/viv/acpi-pm/other-types", test_acpi_pm_other_types);
  return g_test_run ();
}
