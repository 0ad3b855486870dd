/* i8042: the probe Linux's i8042 and atkbd drivers run, and reset requests. */
#include <gio/gio.h>

#include "devices/i8042.h"
#include "layout.h"

#define STATUS_OBF      0x01
#define STATUS_SYS      0x04
#define STATUS_CMD      0x08
#define STATUS_UNLOCKED 0x10
#define STATUS_AUXDATA  0x20
#define CTR_KBDINT      0x01
#define CTR_KBDDIS      0x10
#define CTR_AUXDIS      0x20

typedef struct {
  VivBus *bus;
  VivI8042 *kbc;
  unsigned resets, other_stops;
  bool level;
  unsigned rises;
} Rig;

static void
rig_stop (void *ctx, VivStopReason reason, int code)
{
  Rig *rig = ctx;
  if (reason == VIV_STOP_RESET)
    rig->resets++;
  else
    rig->other_stops++;
}

static void
rig_set_level (void *ctx, unsigned gsi, bool level)
{
  Rig *rig = ctx;
  g_assert_cmpuint (gsi, ==, 1);
  g_assert_true (level != rig->level);
  rig->level = level;
  if (level)
    rig->rises++;
}

static Rig *
rig_new (void)
{
  Rig *rig = g_new0 (Rig, 1);
  g_autoptr (GError) error = NULL;
  rig->bus = viv_bus_new ("pio");
  rig->kbc = viv_i8042_new ((VivStopSink) { rig_stop, rig });
  g_assert_true (viv_bus_register (rig->bus, VIV_PORT_I8042_DATA, 1, viv_i8042_data_ops (), rig->kbc, &error));
  g_assert_true (viv_bus_register (rig->bus, VIV_PORT_I8042_CMD, 1, viv_i8042_cmd_ops (), rig->kbc, &error));
  g_assert_no_error (error);
  return rig;
}

static void
rig_free (Rig *rig)
{
  viv_bus_free (rig->bus);
  viv_i8042_free (rig->kbc);
  g_free (rig);
}

static uint8_t
status (Rig *rig)
{
  uint8_t val;
  g_assert_true (viv_bus_read (rig->bus, VIV_PORT_I8042_CMD, &val, 1));
  return val;
}

static void
command (Rig *rig, uint8_t cmd)
{
  g_assert_true (viv_bus_write (rig->bus, VIV_PORT_I8042_CMD, &cmd, 1));
}

static void
write_data (Rig *rig, uint8_t val)
{
  g_assert_true (viv_bus_write (rig->bus, VIV_PORT_I8042_DATA, &val, 1));
}

/* Wait-for-OBF then read, as a driver does; fails if nothing is there. */
static uint8_t
read_data (Rig *rig)
{
  uint8_t val;
  g_assert_cmpuint (status (rig) & STATUS_OBF, ==, STATUS_OBF);
  g_assert_true (viv_bus_read (rig->bus, VIV_PORT_I8042_DATA, &val, 1));
  return val;
}

static void
assert_empty (Rig *rig)
{
  g_assert_cmpuint (status (rig) & STATUS_OBF, ==, 0);
}

static void
test_i8042_probe (void)
{
  Rig *rig = rig_new ();

  uint8_t st = status (rig);
  g_assert_cmpuint (st & (STATUS_OBF | 0x02), ==, 0);   /* nothing pending, IBF clear */
  g_assert_cmpuint (st & STATUS_SYS, ==, STATUS_SYS);
  g_assert_cmpuint (st & STATUS_UNLOCKED, ==, STATUS_UNLOCKED);

  /* Controller self-test. */
  command (rig, 0xAA);
  g_assert_cmpuint (status (rig) & STATUS_CMD, ==, STATUS_CMD);
  g_assert_cmpuint (read_data (rig), ==, 0x55);
  assert_empty (rig);
  g_assert_cmpuint (status (rig) & STATUS_SYS, ==, STATUS_SYS);

  /* Command byte: read twice (same), write, read back. */
  command (rig, 0x20);
  uint8_t ctr = read_data (rig);
  command (rig, 0x20);
  g_assert_cmpuint (read_data (rig), ==, ctr);
  g_assert_cmpuint (ctr & CTR_AUXDIS, ==, CTR_AUXDIS);
  uint8_t new_ctr = (ctr | CTR_KBDDIS) & ~CTR_KBDINT;
  command (rig, 0x60);
  write_data (rig, new_ctr);
  g_assert_cmpuint (status (rig) & STATUS_CMD, ==, 0);
  assert_empty (rig);
  command (rig, 0x20);
  g_assert_cmpuint (read_data (rig), ==, new_ctr);

  /* Keyboard interface test. */
  command (rig, 0xAB);
  g_assert_cmpuint (read_data (rig), ==, 0x00);

  /* Aux loop: the byte does not come back as aux data... */
  command (rig, 0xD3);
  write_data (rig, 0x5A);
  g_assert_cmpuint (status (rig) & (STATUS_OBF | STATUS_AUXDATA), ==, STATUS_OBF);
  /* ...and the aux interface test reports a fault (not 0x00, 0xFA, 0xFF),
   * replacing the stale byte. */
  command (rig, 0xA9);
  uint8_t aux = read_data (rig);
  g_assert_cmpuint (aux, !=, 0x00);
  g_assert_cmpuint (aux, !=, 0xFA);
  g_assert_cmpuint (aux, !=, 0xFF);
  assert_empty (rig);

  /* Enabling aux does not clear AUXDIS: there is no aux port. */
  command (rig, 0xA8);
  command (rig, 0x20);
  g_assert_cmpuint (read_data (rig) & CTR_AUXDIS, ==, CTR_AUXDIS);
  command (rig, 0xA7);
  command (rig, 0x20);
  g_assert_cmpuint (read_data (rig) & CTR_AUXDIS, ==, CTR_AUXDIS);

  /* Keyboard disable/enable move the command byte's KBDDIS bit. */
  command (rig, 0xAE);
  command (rig, 0x20);
  g_assert_cmpuint (read_data (rig) & CTR_KBDDIS, ==, 0);
  command (rig, 0xAD);
  command (rig, 0x20);
  g_assert_cmpuint (read_data (rig) & CTR_KBDDIS, ==, CTR_KBDDIS);

  g_assert_cmpuint (rig->resets + rig->other_stops, ==, 0);
  rig_free (rig);
}

static void
test_i8042_keyboard (void)
{
  Rig *rig = rig_new ();

  write_data (rig, 0xFF);   /* reset */
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  g_assert_cmpuint (read_data (rig), ==, 0xAA);
  assert_empty (rig);

  write_data (rig, 0xF2);   /* identify */
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  g_assert_cmpuint (read_data (rig), ==, 0xAB);
  g_assert_cmpuint (read_data (rig), ==, 0x83);
  assert_empty (rig);

  write_data (rig, 0xED);   /* LEDs, with a parameter that looks like reset */
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  write_data (rig, 0xFF);
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  assert_empty (rig);

  write_data (rig, 0xF0);   /* get scan code set */
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  write_data (rig, 0x00);
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  g_assert_cmpuint (read_data (rig), ==, 0x02);

  write_data (rig, 0xEE);
  g_assert_cmpuint (read_data (rig), ==, 0xEE);
  write_data (rig, 0xF4);   /* enable scanning */
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  assert_empty (rig);

  /* D2 puts a byte in the output buffer as if the keyboard sent it. */
  command (rig, 0xD2);
  write_data (rig, 0x1C);
  g_assert_cmpuint (read_data (rig), ==, 0x1C);
  rig_free (rig);
}

/* With IRQ 1 wired, each byte of a multi-byte answer is its own edge. */
static void
test_i8042_irq (void)
{
  Rig *rig = rig_new ();
  viv_i8042_set_kbd_irq (rig->kbc, (VivIrqLine) { rig_set_level, rig, 1 });
  g_assert_false (rig->level);

  write_data (rig, 0xF2);
  g_assert_cmpuint (rig->rises, ==, 1);
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  g_assert_cmpuint (rig->rises, ==, 2);
  g_assert_cmpuint (read_data (rig), ==, 0xAB);
  g_assert_cmpuint (rig->rises, ==, 3);
  g_assert_cmpuint (read_data (rig), ==, 0x83);
  g_assert_false (rig->level);

  /* KBDINT off in the command byte: no interrupt. */
  command (rig, 0x20);
  uint8_t ctr = read_data (rig);
  g_assert_cmpuint (ctr & CTR_KBDINT, ==, CTR_KBDINT);
  command (rig, 0x60);
  write_data (rig, ctr & ~CTR_KBDINT);
  unsigned rises = rig->rises;
  write_data (rig, 0xFF);
  g_assert_false (rig->level);
  g_assert_cmpuint (read_data (rig), ==, 0xFA);
  g_assert_cmpuint (read_data (rig), ==, 0xAA);
  g_assert_cmpuint (rig->rises, ==, rises);
  rig_free (rig);
}

static void
test_i8042_reset (void)
{
  Rig *rig = rig_new ();

  command (rig, 0xFF);   /* pulses no line */
  g_assert_cmpuint (rig->resets, ==, 0);
  command (rig, 0xFE);   /* pulses output-port bit 0: reset */
  g_assert_cmpuint (rig->resets, ==, 1);
  command (rig, 0xF0);   /* pulses bits 0-3 */
  g_assert_cmpuint (rig->resets, ==, 2);
  command (rig, 0xF1);   /* bit 0 not pulsed */
  g_assert_cmpuint (rig->resets, ==, 2);

  /* Output port: read, write with the reset line high, then low. */
  command (rig, 0xD0);
  uint8_t port = read_data (rig);
  g_assert_cmpuint (port & 0x03, ==, 0x03);
  command (rig, 0xD1);
  write_data (rig, 0x03);
  g_assert_cmpuint (rig->resets, ==, 2);
  command (rig, 0xD0);
  g_assert_cmpuint (read_data (rig), ==, 0x03);
  command (rig, 0xD1);
  write_data (rig, 0x02);
  g_assert_cmpuint (rig->resets, ==, 3);
  g_assert_cmpuint (rig->other_stops, ==, 0);
  rig_free (rig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/i8042/probe", test_i8042_probe);
  g_test_add_func ("/viv/i8042/keyboard", test_i8042_keyboard);
  g_test_add_func ("/viv/i8042/irq", test_i8042_irq);
  g_test_add_func ("/viv/i8042/reset", test_i8042_reset);
  return g_test_run ();
}
