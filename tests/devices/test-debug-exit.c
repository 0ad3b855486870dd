/* Debug-exit port: the value written becomes the stop code; POST port 0x80
 * swallows writes. */
#include <gio/gio.h>

#include "devices/debug_exit.h"
#include "layout.h"

typedef struct {
  unsigned stops;
  VivStopReason reason;
  int code;
} StopRecord;

static void
record_stop (void *ctx, VivStopReason reason, int code)
{
  StopRecord *rec = ctx;
  rec->stops++;
  rec->reason = reason;
  rec->code = code;
}

static void
test_debug_exit_codes (void)
{
  StopRecord rec = { 0 };
  VivStopSink sink = { record_stop, &rec };
  VivBus *bus = viv_bus_new ("pio");
  g_autoptr (GError) error = NULL;
  g_assert_true (viv_bus_register (bus, VIV_PORT_DEBUG_EXIT, 4, viv_debug_exit_ops (), &sink, &error));
  g_assert_no_error (error);

  uint8_t b = 0x31;
  g_assert_true (viv_bus_write (bus, VIV_PORT_DEBUG_EXIT, &b, 1));
  g_assert_cmpuint (rec.stops, ==, 1);
  g_assert_cmpint (rec.reason, ==, VIV_STOP_DEBUG_EXIT);
  g_assert_cmpint (rec.code, ==, 0x31);

  const uint8_t w[2] = { 0x34, 0x12 };   /* little-endian 0x1234 */
  g_assert_true (viv_bus_write (bus, VIV_PORT_DEBUG_EXIT, w, 2));
  g_assert_cmpint (rec.code, ==, 0x1234);

  const uint8_t l[4] = { 0x78, 0x56, 0x34, 0x12 };
  g_assert_true (viv_bus_write (bus, VIV_PORT_DEBUG_EXIT, l, 4));
  g_assert_cmpint (rec.code, ==, 0x12345678);

  b = 0;
  g_assert_true (viv_bus_write (bus, VIV_PORT_DEBUG_EXIT, &b, 1));
  g_assert_cmpuint (rec.stops, ==, 4);
  g_assert_cmpint (rec.code, ==, 0);

  uint32_t val = 0;
  g_assert_true (viv_bus_read (bus, VIV_PORT_DEBUG_EXIT, &val, 4));
  g_assert_cmpuint (val, ==, 0xFFFFFFFFu);
  g_assert_cmpuint (rec.stops, ==, 4);
  viv_bus_free (bus);
}

static void
test_debug_exit_ignore (void)
{
  VivBus *bus = viv_bus_new ("pio");
  g_autoptr (GError) error = NULL;
  g_assert_true (viv_bus_register (bus, VIV_PORT_POST, 1, viv_ignore_ops (), NULL, &error));
  g_assert_no_error (error);
  uint8_t b = 0x42;
  g_assert_true (viv_bus_write (bus, VIV_PORT_POST, &b, 1));
  b = 0;
  g_assert_true (viv_bus_read (bus, VIV_PORT_POST, &b, 1));
  g_assert_cmpuint (b, ==, 0xFF);
  viv_bus_free (bus);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/debug-exit/codes", test_debug_exit_codes);
  g_test_add_func ("/viv/debug-exit/ignore", test_debug_exit_ignore);
  return g_test_run ();
}
