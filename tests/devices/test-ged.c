/* Generic Event Device register: a power-button press sets bit 0 and
 * pulses the GED's GSI; reading the register returns and clears it. */
#include <gio/gio.h>

#include "devices/ged.h"
#include "layout.h"

typedef struct {
  VivBus *bus;
  VivGed *ged;
  bool level;
  unsigned wrong_gsi;
  unsigned rising_edges;
} Rig;

static void
rig_set_level (void *ctx, unsigned gsi, bool level)
{
  Rig *rig = ctx;
  if (gsi != VIV_IRQ_GED)
    rig->wrong_gsi++;
  if (level && !rig->level)
    rig->rising_edges++;
  rig->level = level;
}

static Rig *
rig_new (void)
{
  Rig *rig = g_new0 (Rig, 1);
  g_autoptr (GError) error = NULL;
  rig->bus = viv_bus_new ("mmio");
  rig->ged = viv_ged_new ((VivIrqLine) { rig_set_level, rig, VIV_IRQ_GED });
  g_assert_true (viv_bus_register (rig->bus, VIV_GED_ADDR, VIV_GED_SIZE, viv_ged_ops (), rig->ged, &error));
  g_assert_no_error (error);
  return rig;
}

static void
rig_free (Rig *rig)
{
  viv_bus_free (rig->bus);
  viv_ged_free (rig->ged);
  g_free (rig);
}

static uint32_t
read_events (Rig *rig)
{
  uint32_t value = 0xdeadbeef;
  g_assert_true (viv_bus_read (rig->bus, VIV_GED_ADDR, &value, 4));
  return GUINT32_FROM_LE (value);
}

static void
test_ged_power_button (void)
{
  Rig *rig = rig_new ();
  g_assert_cmpuint (read_events (rig), ==, 0);
  g_assert_cmpuint (rig->rising_edges, ==, 0);

  viv_ged_press_power_button (rig->ged);
  /* One edge, and the line is low again (edge-triggered, as the DSDT says). */
  g_assert_cmpuint (rig->rising_edges, ==, 1);
  g_assert_false (rig->level);
  g_assert_cmpuint (read_events (rig), ==, VIV_GED_EVENT_POWER_BUTTON);
  /* Reading cleared it: _EVT sees each press once. */
  g_assert_cmpuint (read_events (rig), ==, 0);

  /* Two presses before the guest reads: two edges, one pending event. */
  viv_ged_press_power_button (rig->ged);
  viv_ged_press_power_button (rig->ged);
  g_assert_cmpuint (rig->rising_edges, ==, 3);
  g_assert_cmpuint (read_events (rig), ==, VIV_GED_EVENT_POWER_BUTTON);
  g_assert_cmpuint (read_events (rig), ==, 0);
  g_assert_cmpuint (rig->wrong_gsi, ==, 0);
  rig_free (rig);
}

static void
test_ged_access_sizes (void)
{
  Rig *rig = rig_new ();
  uint8_t byte = 0xff;
  uint32_t junk = 0xffffffff;

  /* Writes are ignored: the guest cannot raise or clear events that way. */
  g_assert_true (viv_bus_write (rig->bus, VIV_GED_ADDR, &junk, 4));
  g_assert_cmpuint (read_events (rig), ==, 0);
  g_assert_cmpuint (rig->rising_edges, ==, 0);

  /* A byte read of the upper bytes sees zeros and also clears. */
  viv_ged_press_power_button (rig->ged);
  g_assert_true (viv_bus_read (rig->bus, VIV_GED_ADDR + 3, &byte, 1));
  g_assert_cmpuint (byte, ==, 0);
  g_assert_cmpuint (read_events (rig), ==, 0);

  viv_ged_press_power_button (rig->ged);
  g_assert_true (viv_bus_read (rig->bus, VIV_GED_ADDR, &byte, 1));
  g_assert_cmpuint (byte, ==, VIV_GED_EVENT_POWER_BUTTON);

  /* Beyond the register nothing answers. */
  g_assert_false (viv_bus_read (rig->bus, VIV_GED_ADDR + 2, &junk, 4));
  rig_free (rig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/ged/power-button", test_ged_power_button);
  g_test_add_func ("/viv/ged/access-sizes", test_ged_access_sizes);
  return g_test_run ();
}
