/* virtio-rng driven through the virtio-mmio transport by a test driver. */
#include <string.h>

#include "driver.h"
#include "devices/virtio_rng.h"

#define POISON 0xa5

static void
start (Driver *d)
{
  driver_init (d, 16 << 20);
  g_assert_nonnull (viv_virtio_rng_new (d->vdev));
  g_assert_cmpuint (driver_read32 (d, MMIO_DEVICE_ID), ==, VIRTIO_ID_RNG);
  driver_start (d, 0, 1);
}

static uint64_t
poisoned_buffer (Driver *d, uint32_t len)
{
  uint64_t gpa = driver_alloc (d, len);
  memset (driver_ptr (d, gpa, len), POISON, len);
  return gpa;
}

/* Random bytes are not all one value (a 1 in 256^(n-1) chance to fail). */
static bool
varied (const uint8_t *p, size_t n)
{
  for (size_t i = 1; i < n; i++)
    if (p[i] != p[0])
      return true;
  return false;
}

static void
test_rng_fills_buffers (void)
{
  Driver d;
  start (&d);
  static const uint32_t lengths[] = { 1, 16, 100, 4096 };
  uint64_t gpas[G_N_ELEMENTS (lengths)];
  uint16_t heads[G_N_ELEMENTS (lengths)];

  for (unsigned i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      gpas[i] = poisoned_buffer (&d, lengths[i] + 16);
      DriverSeg seg = { gpas[i], lengths[i], true };
      heads[i] = driver_add (&d, 0, &seg, 1);
    }
  driver_kick (&d, 0);

  for (unsigned i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      uint16_t head;
      uint32_t len;
      g_assert_true (driver_get_used (&d, 0, &head, &len, 5000));
      g_assert_cmpuint (head, ==, heads[i]);
      g_assert_cmpuint (len, ==, lengths[i]);
      const uint8_t *p = driver_ptr (&d, gpas[i], lengths[i] + 16);
      if (lengths[i] >= 16)
        g_assert_true (varied (p, lengths[i]));
      /* Nothing written past the buffer. */
      for (unsigned j = lengths[i]; j < lengths[i] + 16; j++)
        g_assert_cmphex (p[j], ==, POISON);
    }
  g_assert_cmphex (driver_take_interrupts (&d) & MMIO_INT_VRING, ==, MMIO_INT_VRING);
  g_assert_cmpuint (driver_irq_raises (&d), >=, 1);
  driver_clear (&d);
}

static void
test_rng_chain (void)
{
  Driver d;
  start (&d);
  uint64_t a = poisoned_buffer (&d, 32), b = poisoned_buffer (&d, 64);
  DriverSeg segs[] = { { a, 32, true }, { b, 64, true } };
  driver_add (&d, 0, segs, 2);
  driver_kick (&d, 0);

  uint32_t len;
  g_assert_true (driver_get_used (&d, 0, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, 96);
  g_assert_true (varied (driver_ptr (&d, a, 32), 32));
  g_assert_true (varied (driver_ptr (&d, b, 64), 64));
  /* The two halves are not the same bytes either. */
  g_assert_true (memcmp (driver_ptr (&d, a, 32), driver_ptr (&d, b, 32), 32) != 0);
  driver_clear (&d);
}

static void
test_rng_large_request_capped (void)
{
  Driver d;
  start (&d);
  const uint32_t size = 256 * 1024;
  uint64_t gpa = poisoned_buffer (&d, size);
  DriverSeg seg = { gpa, size, true };
  driver_add (&d, 0, &seg, 1);
  driver_kick (&d, 0);

  uint32_t len;
  g_assert_true (driver_get_used (&d, 0, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, 64 * 1024);
  const uint8_t *p = driver_ptr (&d, gpa, size);
  g_assert_true (varied (p, len));
  for (uint32_t i = len; i < size; i++)
    g_assert_cmphex (p[i], ==, POISON);
  driver_clear (&d);
}

static void
test_rng_readable_buffer_needs_reset (void)
{
  Driver d;
  start (&d);
  uint64_t gpa = poisoned_buffer (&d, 64);
  DriverSeg seg = { gpa, 64, false };
  driver_add (&d, 0, &seg, 1);
  driver_kick (&d, 0);

  g_assert_true (driver_wait_needs_reset (&d, 5000));
  g_assert_cmphex (driver_take_interrupts (&d) & MMIO_INT_CONFIG, ==, MMIO_INT_CONFIG);
  g_assert_false (varied (driver_ptr (&d, gpa, 64), 64));

  /* After a reset the device works again. */
  driver_start (&d, 0, 1);
  g_assert_false (driver_needs_reset (&d));
  uint64_t good = poisoned_buffer (&d, 64);
  DriverSeg wseg = { good, 64, true };
  driver_add (&d, 0, &wseg, 1);
  driver_kick (&d, 0);
  uint32_t len;
  g_assert_true (driver_get_used (&d, 0, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, 64);
  g_assert_true (varied (driver_ptr (&d, good, 64), 64));
  driver_clear (&d);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/virtio-rng/fills-buffers", test_rng_fills_buffers);
  g_test_add_func ("/viv/virtio-rng/chain", test_rng_chain);
  g_test_add_func ("/viv/virtio-rng/large-request-capped", test_rng_large_request_capped);
  g_test_add_func ("/viv/virtio-rng/readable-buffer-needs-reset", test_rng_readable_buffer_needs_reset);
  return g_test_run ();
}
