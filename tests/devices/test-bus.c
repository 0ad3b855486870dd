/* VivBus: sorted ranges, overlap refusal, lookups and unmapped accesses. */
#include <string.h>
#include <gio/gio.h>

#include "devices/bus.h"

/* A device that remembers the last access it saw. */
typedef struct {
  uint64_t last_offset;
  unsigned last_size;
  uint8_t last_written[8];
  unsigned reads, writes;
  uint8_t fill;
} Recorder;

static void
recorder_read (void *opaque, uint64_t offset, void *data, unsigned size)
{
  Recorder *r = opaque;
  r->reads++;
  r->last_offset = offset;
  r->last_size = size;
  memset (data, r->fill, size);
}

static void
recorder_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
  Recorder *r = opaque;
  r->writes++;
  r->last_offset = offset;
  r->last_size = size;
  memcpy (r->last_written, data, size);
}

static const VivDeviceOps ops_a = { "device-a", recorder_read, recorder_write };
static const VivDeviceOps ops_b = { "device-b", recorder_read, recorder_write };
static const VivDeviceOps ops_c = { "device-c", recorder_read, recorder_write };

static void
test_bus_overlap_refused (void)
{
  VivBus *bus = viv_bus_new ("test-bus");
  Recorder a = { 0 }, b = { 0 }, c = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (viv_bus_register (bus, 0x10, 0x10, &ops_a, &a, &error));
  g_assert_no_error (error);
  g_assert_true (viv_bus_register (bus, 0x30, 8, &ops_b, &b, &error));
  g_assert_no_error (error);

  /* Inside A, straddling A's start, straddling B's end, covering both. */
  const struct { uint64_t base, len; const char *other; } clashes[] = {
    { 0x18, 4, "device-a" },
    { 0x02, 0x10, "device-a" },
    { 0x37, 4, "device-b" },
    { 0x00, 0x100, "device-a" },
    { 0x1F, 1, "device-a" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (clashes); i++)
    {
      g_clear_error (&error);
      g_assert_false (viv_bus_register (bus, clashes[i].base, clashes[i].len, &ops_c, &c, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
      g_assert_nonnull (strstr (error->message, "device-c"));
      g_assert_nonnull (strstr (error->message, clashes[i].other));
    }

  /* Exactly filling the gap between A and B is fine. */
  g_clear_error (&error);
  g_assert_true (viv_bus_register (bus, 0x20, 0x10, &ops_c, &c, &error));
  g_assert_no_error (error);

  /* Empty and wrapping ranges are refused. */
  g_assert_false (viv_bus_register (bus, 0x100, 0, &ops_c, &c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (viv_bus_register (bus, UINT64_MAX, 2, &ops_c, &c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* The very last byte of the address space can be mapped. */
  g_assert_true (viv_bus_register (bus, UINT64_MAX, 1, &ops_c, &c, &error));
  g_assert_no_error (error);

  viv_bus_free (bus);
}

static void
test_bus_unmapped (void)
{
  VivBus *bus = viv_bus_new ("test-bus");
  Recorder a = { .fill = 0x11 };
  g_autoptr (GError) error = NULL;
  g_assert_true (viv_bus_register (bus, 0x3F8, 8, &ops_a, &a, &error));

  uint8_t buf[8];
  memset (buf, 0, sizeof buf);
  g_assert_false (viv_bus_read (bus, 0x3F0, buf, 4));
  for (int i = 0; i < 4; i++)
    g_assert_cmpuint (buf[i], ==, 0xff);
  g_assert_cmpuint (buf[4], ==, 0);   /* nothing beyond the access size */

  g_assert_false (viv_bus_read (bus, 0x400, buf, 1));
  g_assert_false (viv_bus_write (bus, 0x400, buf, 1));
  g_assert_false (viv_bus_read (bus, 0, buf, 8));

  /* An access running past the end of a range is not the device's. */
  memset (buf, 0, sizeof buf);
  g_assert_false (viv_bus_read (bus, 0x3FE, buf, 4));
  g_assert_cmpuint (buf[0], ==, 0xff);
  g_assert_false (viv_bus_write (bus, 0x3FF, buf, 2));
  g_assert_cmpuint (a.reads + a.writes, ==, 0);

  /* The last byte of the range is. */
  g_assert_true (viv_bus_read (bus, 0x3FF, buf, 1));
  g_assert_cmpuint (buf[0], ==, 0x11);
  g_assert_cmpuint (a.last_offset, ==, 7);

  viv_bus_free (bus);
}

/* Many ranges registered in shuffled order: every address finds its own
 * device with the right offset, every gap finds none. */
static void
test_bus_lookup (void)
{
  enum { N = 200 };
  VivBus *bus = viv_bus_new ("mmio");
  Recorder devs[N];
  guint order[N];
  g_autoptr (GError) error = NULL;

  memset (devs, 0, sizeof devs);
  for (guint i = 0; i < N; i++)
    order[i] = i;
  for (guint i = N - 1; i > 0; i--)
    {
      guint j = g_test_rand_int_range (0, (gint32) i + 1);
      guint t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  /* Device i covers [0x1000 * i, 0x1000 * i + 0x200): gaps in between. */
  for (guint k = 0; k < N; k++)
    {
      guint i = order[k];
      devs[i].fill = (uint8_t) i;
      g_assert_true (viv_bus_register (bus, 0x1000ULL * i, 0x200, &ops_a, &devs[i], &error));
      g_assert_no_error (error);
    }

  for (guint i = 0; i < N; i++)
    {
      uint32_t value = 0;
      uint64_t base = 0x1000ULL * i;
      g_assert_true (viv_bus_read (bus, base + 0x1FC, &value, 4));
      g_assert_cmpuint (value, ==, 0x01010101u * (uint8_t) i);
      g_assert_cmpuint (devs[i].last_offset, ==, 0x1FC);
      g_assert_cmpuint (devs[i].last_size, ==, 4);

      uint64_t word = 0x1122334455667788ULL;
      g_assert_true (viv_bus_write (bus, base, &word, 8));
      g_assert_cmpuint (devs[i].last_offset, ==, 0);
      g_assert_cmpmem (devs[i].last_written, 8, &word, 8);

      g_assert_false (viv_bus_read (bus, base + 0x200, &value, 1));
      g_assert_false (viv_bus_read (bus, base + 0xFFF, &value, 1));
    }
  viv_bus_free (bus);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/bus/overlap-refused", test_bus_overlap_refused);
  g_test_add_func ("/viv/bus/unmapped", test_bus_unmapped);
  g_test_add_func ("/viv/bus/lookup", test_bus_lookup);
  return g_test_run ();
}
