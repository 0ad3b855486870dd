/* MC146818 real-time clock and its 128 bytes of CMOS memory.
 *
 * The clock is host UTC plus an offset the guest sets by writing the time
 * registers.  Register B's interrupt enables (PIE, AIE, UIE) are stored but
 * no interrupt is ever delivered: this device has no IRQ line.  Register C
 * reports update-ended (UF) from the passage of time; the alarm and
 * periodic flags stay clear.  The UIP bit of register A is set for the
 * 244 µs before each second boundary, so a guest that waits for UIP to
 * clear and then reads the time never sees it roll over mid-read. */
#include "devices/rtc.h"

#include "layout.h"

#define CMOS_SIZE 128

enum {
  REG_SECONDS = 0x00,
  REG_MINUTES = 0x02,
  REG_HOURS = 0x04,
  REG_WEEKDAY = 0x06,
  REG_DAY = 0x07,
  REG_MONTH = 0x08,
  REG_YEAR = 0x09,
  REG_A = 0x0A,
  REG_B = 0x0B,
  REG_C = 0x0C,
  REG_D = 0x0D,
  REG_BASE_MEM_LO = 0x15,
  REG_BASE_MEM_HI = 0x16,
  REG_EXT_MEM_LO = 0x17,
  REG_EXT_MEM_HI = 0x18,
  REG_EXT_MEM2_LO = 0x30,
  REG_EXT_MEM2_HI = 0x31,
  REG_CENTURY = 0x32,
  REG_MEM_16M_LO = 0x34,
  REG_MEM_16M_HI = 0x35,
  REG_MEM_4G_LO = 0x5B,   /* 0x5B-0x5D: three bytes */
};

#define A_UIP       0x80
#define B_SET       0x80
#define B_BINARY    0x04
#define B_24H       0x02
#define C_UF        0x10
#define D_VRT       0x80
#define HOUR_PM     0x80

#define USEC_PER_SEC G_GINT64_CONSTANT (1000000)
#define UIP_WINDOW_USEC 244

struct VivRtc {
  GMutex lock;
  uint8_t index;
  uint8_t cmos[CMOS_SIZE];
  gint64 offset_usec;     /* guest clock = host UTC + offset */
  gint64 last_c_read_sec; /* for register C's update-ended flag */
};

/* Civil date <-> days since 1970-01-01 in the proleptic Gregorian calendar
 * (the era-based algorithm from Howard Hinnant's date notes). */
static gint64
days_from_civil (gint64 y, unsigned m, unsigned d)
{
  y -= m <= 2;
  gint64 era = (y >= 0 ? y : y - 399) / 400;
  gint64 yoe = y - era * 400;
  gint64 doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  gint64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void
civil_from_days (gint64 z, gint64 *y, unsigned *m, unsigned *d)
{
  z += 719468;
  gint64 era = (z >= 0 ? z : z - 146096) / 146097;
  gint64 doe = z - era * 146097;
  gint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  gint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  gint64 mp = (5 * doy + 2) / 153;
  *d = (unsigned) (doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned) (mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static gint64
floor_div (gint64 a, gint64 b)
{
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static gint64
guest_now_usec (const VivRtc *rtc)
{
  return g_get_real_time () + rtc->offset_usec;
}

static bool
binary_mode (const VivRtc *rtc)
{
  return rtc->cmos[REG_B] & B_BINARY;
}

static uint8_t
encode (const VivRtc *rtc, unsigned value)
{
  return binary_mode (rtc) ? (uint8_t) value : (uint8_t) (((value / 10) << 4) | (value % 10));
}

/* Guest-written BCD may hold any nibbles; the result stays below 166. */
static unsigned
decode (const VivRtc *rtc, uint8_t value)
{
  return binary_mode (rtc) ? value : (value >> 4) * 10u + (value & 0x0F);
}

/* Copy the running clock into the time registers, in the current format. */
static void
latch_time (VivRtc *rtc)
{
  gint64 secs = floor_div (guest_now_usec (rtc), USEC_PER_SEC);
  gint64 days = floor_div (secs, 86400);
  unsigned sod = (unsigned) (secs - days * 86400);
  gint64 year;
  unsigned month, day;
  civil_from_days (days, &year, &month, &day);

  unsigned hour = sod / 3600;
  rtc->cmos[REG_SECONDS] = encode (rtc, sod % 60);
  rtc->cmos[REG_MINUTES] = encode (rtc, sod / 60 % 60);
  if (rtc->cmos[REG_B] & B_24H)
    rtc->cmos[REG_HOURS] = encode (rtc, hour);
  else   /* 12-hour clock: 12 AM, 1-11 AM, 12 PM, 1-11 PM */
    rtc->cmos[REG_HOURS] = encode (rtc, hour % 12 == 0 ? 12 : hour % 12) |
                           (hour >= 12 ? HOUR_PM : 0);
  /* 1970-01-01 was a Thursday; the register counts Sunday as 1. */
  rtc->cmos[REG_WEEKDAY] = (uint8_t) (days + 4 - floor_div (days + 4, 7) * 7 + 1);
  rtc->cmos[REG_DAY] = encode (rtc, day);
  rtc->cmos[REG_MONTH] = encode (rtc, month);
  gint64 y = CLAMP (year, 0, 9999);
  rtc->cmos[REG_YEAR] = encode (rtc, (unsigned) (y % 100));
  rtc->cmos[REG_CENTURY] = encode (rtc, (unsigned) (y / 100));
}

/* Make the clock run from what the guest wrote into the time registers.
 * Out-of-range fields are clamped or roll over (31 February is 3 March);
 * the weekday register is recomputed from the date. */
static void
commit_time (VivRtc *rtc)
{
  unsigned sec = MIN (decode (rtc, rtc->cmos[REG_SECONDS]), 59u);
  unsigned min = MIN (decode (rtc, rtc->cmos[REG_MINUTES]), 59u);
  uint8_t hour_reg = rtc->cmos[REG_HOURS];
  unsigned hour;
  if (rtc->cmos[REG_B] & B_24H)
    hour = decode (rtc, hour_reg);
  else
    hour = decode (rtc, hour_reg & ~HOUR_PM) % 12 + ((hour_reg & HOUR_PM) ? 12 : 0);
  hour = MIN (hour, 23u);
  unsigned day = CLAMP (decode (rtc, rtc->cmos[REG_DAY]), 1u, 31u);
  unsigned month = CLAMP (decode (rtc, rtc->cmos[REG_MONTH]), 1u, 12u);
  gint64 year = decode (rtc, rtc->cmos[REG_CENTURY]) * 100 + decode (rtc, rtc->cmos[REG_YEAR]) % 100;

  gint64 secs = days_from_civil (year, month, 1) + (day - 1);
  secs = secs * 86400 + hour * 3600 + min * 60 + sec;
  rtc->offset_usec = secs * USEC_PER_SEC - g_get_real_time ();
}

static bool
is_time_register (uint8_t index)
{
  return index <= REG_YEAR || index == REG_CENTURY;
}

static uint8_t
rtc_read_reg (VivRtc *rtc, uint8_t index)
{
  switch (index)
    {
    case REG_A:
      {
        gint64 usec = guest_now_usec (rtc) % USEC_PER_SEC;
        if (usec < 0)
          usec += USEC_PER_SEC;
        bool uip = usec >= USEC_PER_SEC - UIP_WINDOW_USEC;
        return (rtc->cmos[REG_A] & ~A_UIP) | (uip ? A_UIP : 0);
      }
    case REG_C:
      {
        /* Reading C clears it; UF reports a second boundary since then. */
        gint64 sec = floor_div (guest_now_usec (rtc), USEC_PER_SEC);
        uint8_t c = sec != rtc->last_c_read_sec ? C_UF : 0;
        rtc->last_c_read_sec = sec;
        return c;
      }
    case REG_D:
      return D_VRT;   /* the battery is always good */
    default:
      /* While SET holds the clock, the registers keep what was written. */
      if (is_time_register (index) && !(rtc->cmos[REG_B] & B_SET))
        latch_time (rtc);
      return rtc->cmos[index];
    }
}

static void
rtc_write_reg (VivRtc *rtc, uint8_t index, uint8_t val)
{
  switch (index)
    {
    case REG_A:
      rtc->cmos[REG_A] = val & ~A_UIP;
      break;
    case REG_B:
      {
        bool was_set = rtc->cmos[REG_B] & B_SET;
        if (!was_set && (val & B_SET))
          latch_time (rtc);          /* freeze the clock for the guest */
        rtc->cmos[REG_B] = val;
        if (was_set && !(val & B_SET))
          commit_time (rtc);         /* and start it from what it wrote */
        break;
      }
    case REG_C:
    case REG_D:
      break;   /* read-only */
    default:
      if (is_time_register (index) && !(rtc->cmos[REG_B] & B_SET))
        {
          /* A running clock takes the new field at once. */
          latch_time (rtc);
          rtc->cmos[index] = val;
          commit_time (rtc);
        }
      else
        rtc->cmos[index] = val;
      break;
    }
}

/* Offset 0 (port 0x70) selects a register; bit 7 there masks NMIs on a PC,
 * which has no meaning here.  Offset 1 (port 0x71) is the data. */
static void
rtc_read (void *opaque, uint64_t offset, void *data, unsigned size)
{
  VivRtc *rtc = opaque;
  uint8_t *out = data;

  g_mutex_lock (&rtc->lock);
  for (unsigned i = 0; i < size; i++)
    out[i] = offset + i == 1 ? rtc_read_reg (rtc, rtc->index) : 0xff;
  g_mutex_unlock (&rtc->lock);
}

static void
rtc_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
  VivRtc *rtc = opaque;
  const uint8_t *in = data;

  g_mutex_lock (&rtc->lock);
  for (unsigned i = 0; i < size; i++)
    {
      if (offset + i == 0)
        rtc->index = in[i] & (CMOS_SIZE - 1);
      else if (offset + i == 1)
        rtc_write_reg (rtc, rtc->index, in[i]);
    }
  g_mutex_unlock (&rtc->lock);
}

static const VivDeviceOps rtc_ops = {
  .name = "rtc",
  .read = rtc_read,
  .write = rtc_write,
};

const VivDeviceOps *
viv_rtc_ops (void)
{
  return &rtc_ops;
}

static void
set_word (uint8_t *cmos, unsigned lo_index, uint64_t value)
{
  value = MIN (value, 0xFFFF);
  cmos[lo_index] = (uint8_t) value;
  cmos[lo_index + 1] = (uint8_t) (value >> 8);
}

/* The memory sizes PC firmware leaves in CMOS, in the units it uses. */
static void
fill_memory_sizes (uint8_t *cmos, uint64_t below_4g, uint64_t above_4g)
{
  set_word (cmos, REG_BASE_MEM_LO, 640);

  uint64_t upto_64m = MIN (below_4g, 64 * VIV_MiB);
  uint64_t ext_kib = upto_64m > VIV_MiB ? (upto_64m - VIV_MiB) / VIV_KiB : 0;
  set_word (cmos, REG_EXT_MEM_LO, ext_kib);
  set_word (cmos, REG_EXT_MEM2_LO, ext_kib);

  uint64_t above_16m = below_4g > 16 * VIV_MiB ? (below_4g - 16 * VIV_MiB) / (64 * VIV_KiB) : 0;
  set_word (cmos, REG_MEM_16M_LO, above_16m);

  uint64_t high_units = MIN (above_4g / (64 * VIV_KiB), 0xFFFFFF);
  cmos[REG_MEM_4G_LO] = (uint8_t) high_units;
  cmos[REG_MEM_4G_LO + 1] = (uint8_t) (high_units >> 8);
  cmos[REG_MEM_4G_LO + 2] = (uint8_t) (high_units >> 16);
}

VivRtc *
viv_rtc_new (uint64_t ram_below_4g, uint64_t ram_above_4g)
{
  VivRtc *rtc = g_new0 (VivRtc, 1);
  g_mutex_init (&rtc->lock);
  rtc->cmos[REG_A] = 0x26;        /* 32.768 kHz time base, 1024 Hz rate */
  rtc->cmos[REG_B] = B_24H;       /* 24-hour, BCD: what PC firmware sets */
  fill_memory_sizes (rtc->cmos, ram_below_4g, ram_above_4g);
  rtc->last_c_read_sec = floor_div (g_get_real_time (), USEC_PER_SEC);
  return rtc;
}

void
viv_rtc_free (VivRtc *rtc)
{
  if (!rtc)
    return;
  g_mutex_clear (&rtc->lock);
  g_free (rtc);
}
