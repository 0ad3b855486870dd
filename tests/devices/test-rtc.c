/* MC146818 RTC: host UTC in each format, setting the clock, UIP, CMOS
 * memory sizes. */
#include <gio/gio.h>

#include "devices/rtc.h"
#include "layout.h"

#define REG_A 0x0A
#define REG_B 0x0B
#define REG_C 0x0C
#define REG_D 0x0D
#define A_UIP 0x80
#define B_SET 0x80
#define B_BINARY 0x04
#define B_24H 0x02

typedef struct {
  VivBus *bus;
  VivRtc *rtc;
} Rig;

static Rig *
rig_new (uint64_t below_4g, uint64_t above_4g)
{
  Rig *rig = g_new0 (Rig, 1);
  g_autoptr (GError) error = NULL;
  rig->bus = viv_bus_new ("pio");
  rig->rtc = viv_rtc_new (below_4g, above_4g);
  g_assert_true (viv_bus_register (rig->bus, VIV_PORT_RTC, 2, viv_rtc_ops (), rig->rtc, &error));
  g_assert_no_error (error);
  return rig;
}

static void
rig_free (Rig *rig)
{
  viv_bus_free (rig->bus);
  viv_rtc_free (rig->rtc);
  g_free (rig);
}

static uint8_t
cmos_read (Rig *rig, uint8_t index)
{
  uint8_t val;
  /* Bit 7 of the index is the NMI mask on a PC: set it as Linux does. */
  uint8_t sel = index | 0x80;
  g_assert_true (viv_bus_write (rig->bus, VIV_PORT_RTC, &sel, 1));
  g_assert_true (viv_bus_read (rig->bus, VIV_PORT_RTC + 1, &val, 1));
  return val;
}

static void
cmos_write (Rig *rig, uint8_t index, uint8_t val)
{
  g_assert_true (viv_bus_write (rig->bus, VIV_PORT_RTC, &index, 1));
  g_assert_true (viv_bus_write (rig->bus, VIV_PORT_RTC + 1, &val, 1));
}

static unsigned
from_bcd (uint8_t v)
{
  g_assert_cmpuint (v & 0x0F, <=, 9);
  g_assert_cmpuint (v >> 4, <=, 9);
  return (v >> 4) * 10u + (v & 0x0F);
}

static uint8_t
to_bcd (unsigned v)
{
  return (uint8_t) (((v / 10) << 4) | (v % 10));
}

typedef struct {
  int year, month, day, hour, minute, second, weekday;
} RtcTime;

/* Read the clock the way mc146818_get_time does: wait for UIP to clear,
 * then read every field. */
static RtcTime
read_time (Rig *rig)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (cmos_read (rig, REG_A) & A_UIP)
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);

  uint8_t b = cmos_read (rig, REG_B);
  unsigned (*decode) (uint8_t) = (b & B_BINARY) ? NULL : from_bcd;
#define FIELD(reg) (decode ? decode (cmos_read (rig, reg)) : cmos_read (rig, reg))
  RtcTime t;
  t.second = (int) FIELD (0x00);
  t.minute = (int) FIELD (0x02);
  uint8_t hour = cmos_read (rig, 0x04);
  if (b & B_24H)
    t.hour = (int) (decode ? decode (hour) : hour);
  else
    {
      unsigned h12 = decode ? decode (hour & 0x7F) : (hour & 0x7Fu);
      g_assert_cmpuint (h12, >=, 1);
      g_assert_cmpuint (h12, <=, 12);
      t.hour = (int) (h12 % 12 + ((hour & 0x80) ? 12 : 0));
    }
  t.weekday = cmos_read (rig, 0x06);
  t.day = (int) FIELD (0x07);
  t.month = (int) FIELD (0x08);
  t.year = (int) (FIELD (0x32) * 100 + FIELD (0x09));
#undef FIELD
  return t;
}

static gint64
to_unix (const RtcTime *t)
{
  g_autoptr (GDateTime) dt = g_date_time_new_utc (t->year, t->month, t->day,
                                                  t->hour, t->minute, t->second);
  g_assert_nonnull (dt);
  /* The register counts Sunday as 1; GLib Monday as 1, Sunday as 7. */
  g_assert_cmpint (t->weekday, ==, g_date_time_get_day_of_week (dt) % 7 + 1);
  return g_date_time_to_unix (dt);
}

static void
assert_near_host_time (Rig *rig, gint64 shift)
{
  RtcTime t = read_time (rig);
  gint64 host = g_get_real_time () / G_USEC_PER_SEC;
  gint64 diff = to_unix (&t) - (host + shift);
  g_assert_cmpint (diff, >=, -2);
  g_assert_cmpint (diff, <=, 2);
}

static void
test_rtc_host_time (void)
{
  Rig *rig = rig_new (64 * VIV_MiB, 0);

  /* As firmware leaves it: BCD, 24-hour. */
  g_assert_cmpuint (cmos_read (rig, REG_B), ==, B_24H);
  assert_near_host_time (rig, 0);

  cmos_write (rig, REG_B, B_24H | B_BINARY);
  assert_near_host_time (rig, 0);

  cmos_write (rig, REG_B, B_BINARY);   /* 12-hour, binary */
  assert_near_host_time (rig, 0);
  cmos_write (rig, REG_B, 0);          /* 12-hour, BCD */
  assert_near_host_time (rig, 0);

  g_assert_cmpuint (cmos_read (rig, REG_D), ==, 0x80);
  g_assert_cmpuint (cmos_read (rig, REG_A) & 0x7F, ==, 0x26);
  rig_free (rig);
}

/* Set the clock as mc146818_set_time does: SET in B, write the fields,
 * clear SET. */
static void
set_time (Rig *rig, int year, int month, int day, int hour, int minute, int second)
{
  uint8_t b = cmos_read (rig, REG_B);
  cmos_write (rig, REG_B, b | B_SET);
  cmos_write (rig, 0x00, to_bcd ((unsigned) second));
  cmos_write (rig, 0x02, to_bcd ((unsigned) minute));
  cmos_write (rig, 0x04, to_bcd ((unsigned) hour));
  cmos_write (rig, 0x07, to_bcd ((unsigned) day));
  cmos_write (rig, 0x08, to_bcd ((unsigned) month));
  cmos_write (rig, 0x09, to_bcd ((unsigned) (year % 100)));
  cmos_write (rig, 0x32, to_bcd ((unsigned) (year / 100)));
  /* While SET holds the clock the registers read back as written. */
  g_assert_cmpuint (cmos_read (rig, 0x00), ==, to_bcd ((unsigned) second));
  g_assert_cmpuint (cmos_read (rig, 0x09), ==, to_bcd ((unsigned) (year % 100)));
  cmos_write (rig, REG_B, b);
}

static void
test_rtc_set_time (void)
{
  Rig *rig = rig_new (64 * VIV_MiB, 0);

  set_time (rig, 2031, 2, 3, 4, 5, 6);
  RtcTime t = read_time (rig);
  g_assert_cmpint (t.year, ==, 2031);
  g_assert_cmpint (t.month, ==, 2);
  g_assert_cmpint (t.day, ==, 3);
  g_assert_cmpint (t.hour, ==, 4);
  g_assert_cmpint (t.minute, ==, 5);
  g_assert_cmpint (t.second - 6, <=, 1);
  g_assert_cmpint (t.weekday, ==, 2);   /* a Monday */

  /* Back to the host's time plus one hour: the offset holds. */
  g_autoptr (GDateTime) later = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) shifted = g_date_time_add_hours (later, 1);
  set_time (rig, g_date_time_get_year (shifted), g_date_time_get_month (shifted),
            g_date_time_get_day_of_month (shifted), g_date_time_get_hour (shifted),
            g_date_time_get_minute (shifted), g_date_time_get_second (shifted));
  assert_near_host_time (rig, 3600);
  /* Also in binary mode, where the same instant reads differently. */
  cmos_write (rig, REG_B, B_24H | B_BINARY);
  assert_near_host_time (rig, 3600);

  /* A field written while the clock runs takes effect at once. */
  cmos_write (rig, REG_B, B_24H);
  set_time (rig, 2030, 5, 10, 8, 0, 0);
  cmos_write (rig, 0x09, 0x45);
  RtcTime after = read_time (rig);
  g_assert_cmpint (after.year, ==, 2045);
  g_assert_cmpint (after.month, ==, 5);
  g_assert_cmpint (after.day, ==, 10);
  g_assert_cmpint (after.hour, ==, 8);

  /* 12-hour mode: 00:30 is 12 AM, 12:30 is 12 PM, 13:30 is 1 PM. */
  cmos_write (rig, REG_B, B_24H);
  set_time (rig, 2024, 6, 15, 0, 30, 0);
  cmos_write (rig, REG_B, 0);
  g_assert_cmpuint (cmos_read (rig, 0x04), ==, 0x12);
  cmos_write (rig, REG_B, B_24H);
  set_time (rig, 2024, 6, 15, 12, 30, 0);
  cmos_write (rig, REG_B, 0);
  g_assert_cmpuint (cmos_read (rig, 0x04), ==, 0x92);
  cmos_write (rig, REG_B, B_24H);
  set_time (rig, 2024, 6, 15, 13, 30, 0);
  cmos_write (rig, REG_B, 0);
  g_assert_cmpuint (cmos_read (rig, 0x04), ==, 0x81);
  cmos_write (rig, REG_B, B_BINARY);
  g_assert_cmpuint (cmos_read (rig, 0x04), ==, 0x81);
  /* Setting in 12-hour binary: 10 PM. */
  cmos_write (rig, REG_B, B_BINARY | B_SET);
  cmos_write (rig, 0x04, 0x80 | 10);
  cmos_write (rig, REG_B, B_BINARY);
  cmos_write (rig, REG_B, B_BINARY | B_24H);
  g_assert_cmpuint (cmos_read (rig, 0x04), ==, 22);

  /* Garbage from the guest is survived: month 0, day 0, BCD 0xFF. */
  cmos_write (rig, REG_B, B_24H | B_SET);
  cmos_write (rig, 0x08, 0x00);
  cmos_write (rig, 0x07, 0x00);
  cmos_write (rig, 0x00, 0xFF);
  cmos_write (rig, REG_B, B_24H);
  t = read_time (rig);
  g_assert_cmpint (t.month, ==, 1);
  g_assert_cmpint (t.day, ==, 1);
  rig_free (rig);
}

/* UIP rises shortly before each second boundary and the seconds register
 * has moved on when it falls. */
static void
test_rtc_uip (void)
{
  Rig *rig = rig_new (64 * VIV_MiB, 0);
  gint64 deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;

  while (!(cmos_read (rig, REG_A) & A_UIP))
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
  gint64 rose = g_get_monotonic_time ();
  uint8_t sec_during = cmos_read (rig, 0x00);
  while (cmos_read (rig, REG_A) & A_UIP)
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
  /* A short window: well under the ~2 ms of a real update cycle. */
  g_assert_cmpint (g_get_monotonic_time () - rose, <, 100 * 1000);
  uint8_t sec_after = cmos_read (rig, 0x00);
  g_assert_cmpuint (from_bcd (sec_after), ==, (from_bcd (sec_during) + 1) % 60);

  /* Register C clears on read; UF reports the update that just ended. */
  uint8_t c = cmos_read (rig, REG_C);
  g_assert_cmpuint (c & 0x10, ==, 0x10);
  g_assert_cmpuint (cmos_read (rig, REG_C), ==, 0);
  /* UIP is read-only. */
  cmos_write (rig, REG_A, 0xA6);
  g_assert_cmpuint (cmos_read (rig, REG_A) & 0x7F, ==, 0x26);
  rig_free (rig);
}

static unsigned
cmos_word (Rig *rig, uint8_t lo)
{
  return cmos_read (rig, lo) | (unsigned) cmos_read (rig, lo + 1) << 8;
}

static void
test_rtc_memory_sizes (void)
{
  Rig *rig = rig_new (64 * VIV_MiB, 0);
  g_assert_cmpuint (cmos_word (rig, 0x15), ==, 640);
  g_assert_cmpuint (cmos_word (rig, 0x17), ==, 63 * 1024);
  g_assert_cmpuint (cmos_word (rig, 0x30), ==, 63 * 1024);
  g_assert_cmpuint (cmos_word (rig, 0x34), ==, 48 * 16);
  g_assert_cmpuint (cmos_word (rig, 0x5B) | cmos_read (rig, 0x5D), ==, 0);
  rig_free (rig);

  rig = rig_new (3 * VIV_GiB, 0);
  g_assert_cmpuint (cmos_word (rig, 0x15), ==, 640);
  g_assert_cmpuint (cmos_word (rig, 0x17), ==, 0xFC00);   /* capped at 64 MiB */
  g_assert_cmpuint (cmos_word (rig, 0x30), ==, 0xFC00);
  g_assert_cmpuint (cmos_word (rig, 0x34), ==, 0xBF00);   /* (3 GiB - 16 MiB) / 64 KiB */
  g_assert_cmpuint (cmos_word (rig, 0x5B) | cmos_read (rig, 0x5D), ==, 0);
  rig_free (rig);

  /* 8 GiB: 3 GiB below the hole, 5 GiB above 4 GiB. */
  rig = rig_new (VIV_MMIO_HOLE_START, 8 * VIV_GiB - VIV_MMIO_HOLE_START);
  g_assert_cmpuint (cmos_word (rig, 0x34), ==, 0xBF00);
  g_assert_cmpuint (cmos_read (rig, 0x5B), ==, 0x00);
  g_assert_cmpuint (cmos_read (rig, 0x5C), ==, 0x40);
  g_assert_cmpuint (cmos_read (rig, 0x5D), ==, 0x01);     /* 0x14000 units */
  rig_free (rig);

  /* 4 GiB below would overflow the 16-bit field: capped. */
  rig = rig_new (4 * VIV_GiB + 64 * VIV_MiB, 0);
  g_assert_cmpuint (cmos_word (rig, 0x34), ==, 0xFFFF);
  rig_free (rig);
}

static void
test_rtc_storage (void)
{
  Rig *rig = rig_new (64 * VIV_MiB, 0);
  for (unsigned i = 0x40; i < 0x80; i++)
    cmos_write (rig, (uint8_t) i, (uint8_t) (i ^ 0x5A));
  for (unsigned i = 0x40; i < 0x80; i++)
    g_assert_cmpuint (cmos_read (rig, (uint8_t) i), ==, (i ^ 0x5A));
  /* The NMI-mask bit does not change which byte is selected. */
  cmos_write (rig, 0x80 | 0x41, 0x33);
  g_assert_cmpuint (cmos_read (rig, 0x41), ==, 0x33);
  /* Register D is read-only. */
  cmos_write (rig, REG_D, 0x00);
  g_assert_cmpuint (cmos_read (rig, REG_D), ==, 0x80);
  /* The index port itself reads as open bus. */
  uint8_t val = 0;
  g_assert_true (viv_bus_read (rig->bus, VIV_PORT_RTC, &val, 1));
  g_assert_cmpuint (val, ==, 0xFF);
  rig_free (rig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/rtc/host-time", test_rtc_host_time);
  g_test_add_func ("/viv/rtc/set-time", test_rtc_set_time);
  g_test_add_func ("/viv/rtc/uip", test_rtc_uip);
  g_test_add_func ("/viv/rtc/memory-sizes", test_rtc_memory_sizes);
  g_test_add_func ("/viv/rtc/storage", test_rtc_storage);
  return g_test_run ();
}
