/* virtio-console driven through the virtio-mmio transport by a test driver. */
#include <string.h>

#include "driver.h"
#include "devices/virtio_console.h"

#define RECEIVEQ 0
#define TRANSMITQ 1
#define F_SIZE        (1ull << 0)
#define F_EMERG_WRITE (1ull << 2)

typedef struct {
  Driver d;
  VivVirtioConsole *console;
  GMutex lock;
  GByteArray *output;
  unsigned rx_ready_calls;
  GCond rx_ready_cond;
} Rig;

static void
sink_write (void *ctx, const uint8_t *buf, size_t len)
{
  Rig *rig = ctx;
  g_mutex_lock (&rig->lock);
  g_byte_array_append (rig->output, buf, (guint) len);
  g_mutex_unlock (&rig->lock);
}

static void
rx_ready (void *ctx)
{
  Rig *rig = ctx;
  g_mutex_lock (&rig->lock);
  rig->rx_ready_calls++;
  g_cond_broadcast (&rig->rx_ready_cond);
  g_mutex_unlock (&rig->lock);
}

static void
rig_init (Rig *rig)
{
  memset (rig, 0, sizeof *rig);
  g_mutex_init (&rig->lock);
  g_cond_init (&rig->rx_ready_cond);
  rig->output = g_byte_array_new ();
  driver_init (&rig->d, 16 << 20);
  rig->console = viv_virtio_console_new (rig->d.vdev, (VivByteSink) { sink_write, rig });
  viv_virtio_console_set_rx_ready_cb (rig->console, rx_ready, rig);
  g_assert_cmpuint (driver_read32 (&rig->d, MMIO_DEVICE_ID), ==, VIRTIO_ID_CONSOLE);
}

static void
rig_start (Rig *rig, uint64_t features)
{
  driver_start (&rig->d, features, 2);
}

static void
rig_clear (Rig *rig)
{
  driver_clear (&rig->d);
  g_byte_array_unref (rig->output);
  g_cond_clear (&rig->rx_ready_cond);
  g_mutex_clear (&rig->lock);
}

static unsigned
rx_ready_calls (Rig *rig)
{
  g_mutex_lock (&rig->lock);
  unsigned calls = rig->rx_ready_calls;
  g_mutex_unlock (&rig->lock);
  return calls;
}

static uint64_t
put_text (Driver *d, const char *text)
{
  uint32_t len = (uint32_t) strlen (text);
  uint64_t gpa = driver_alloc (d, len);
  memcpy (driver_ptr (d, gpa, len), text, len);
  return gpa;
}

static uint64_t
post_rx (Driver *d, uint32_t len)
{
  uint64_t gpa = driver_alloc (d, len);
  memset (driver_ptr (d, gpa, len), 0, len);
  DriverSeg seg = { gpa, len, true };
  driver_add (d, RECEIVEQ, &seg, 1);
  return gpa;
}

static void
expect_rx (Driver *d, uint64_t gpa, const char *expected)
{
  uint32_t len;
  g_assert_true (driver_get_used (d, RECEIVEQ, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, strlen (expected));
  g_assert_cmpmem (driver_ptr (d, gpa, len), len, expected, len);
}

static void
test_console_transmit (void)
{
  Rig rig;
  rig_init (&rig);
  rig_start (&rig, 0);
  DriverSeg segs[] = {
    { put_text (&rig.d, "hello, "), 7, false },
    { put_text (&rig.d, "world\n"), 6, false },
  };
  driver_add (&rig.d, TRANSMITQ, segs, 2);
  DriverSeg more = { put_text (&rig.d, "bye"), 3, false };
  driver_add (&rig.d, TRANSMITQ, &more, 1);
  driver_kick (&rig.d, TRANSMITQ);

  uint32_t len;
  g_assert_true (driver_get_used (&rig.d, TRANSMITQ, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, 0);
  g_assert_true (driver_get_used (&rig.d, TRANSMITQ, NULL, &len, 5000));
  g_mutex_lock (&rig.lock);
  g_assert_cmpmem (rig.output->data, rig.output->len, "hello, world\nbye", 16);
  g_mutex_unlock (&rig.lock);
  g_assert_cmphex (driver_take_interrupts (&rig.d) & MMIO_INT_VRING, ==, MMIO_INT_VRING);
  rig_clear (&rig);
}

static void
test_console_receive_into_buffers (void)
{
  Rig rig;
  rig_init (&rig);
  rig_start (&rig, 0);
  uint64_t a = post_rx (&rig.d, 8), b = post_rx (&rig.d, 8);
  driver_kick (&rig.d, RECEIVEQ);
  driver_run_for (&rig.d, 20);

  g_assert_cmpuint (viv_virtio_console_receive (rig.console, (const uint8_t *) "abcdefghij", 10), ==, 10);
  expect_rx (&rig.d, a, "abcdefgh");
  expect_rx (&rig.d, b, "ij");
  g_assert_cmphex (driver_take_interrupts (&rig.d) & MMIO_INT_VRING, ==, MMIO_INT_VRING);
  rig_clear (&rig);
}

static void
test_console_receive_queues_without_buffers (void)
{
  Rig rig;
  rig_init (&rig);
  /* Input typed before the driver is even up is kept too. */
  g_assert_cmpuint (viv_virtio_console_receive (rig.console, (const uint8_t *) "early ", 6), ==, 6);
  rig_start (&rig, 0);
  g_assert_cmpuint (viv_virtio_console_receive (rig.console, (const uint8_t *) "input", 5), ==, 5);

  uint64_t a = post_rx (&rig.d, 4);
  driver_kick (&rig.d, RECEIVEQ);
  expect_rx (&rig.d, a, "earl");
  uint64_t b = post_rx (&rig.d, 64);
  driver_kick (&rig.d, RECEIVEQ);
  expect_rx (&rig.d, b, "y input");
  /* Nothing was refused, so the host was never told to retry. */
  driver_run_for (&rig.d, 20);
  g_assert_cmpuint (rx_ready_calls (&rig), ==, 0);
  rig_clear (&rig);
}

static void
test_console_receive_bounded_and_ready (void)
{
  Rig rig;
  rig_init (&rig);
  rig_start (&rig, 0);
  const size_t total = VIV_VIRTIO_CONSOLE_RX_PENDING_MAX + 1000;
  g_autofree uint8_t *input = g_malloc (total);
  for (size_t i = 0; i < total; i++)
    input[i] = (uint8_t) (i * 7 + 3);

  size_t taken = viv_virtio_console_receive (rig.console, input, total);
  g_assert_cmpuint (taken, ==, VIV_VIRTIO_CONSOLE_RX_PENDING_MAX);
  g_assert_cmpuint (viv_virtio_console_receive (rig.console, input + taken, total - taken), ==, 0);
  driver_run_for (&rig.d, 20);
  g_assert_cmpuint (rx_ready_calls (&rig), ==, 0);

  /* The guest posts room: the pending bytes go in, the host hears it may
   * offer the rest, which then goes in as well, in order. */
  uint64_t a = post_rx (&rig.d, VIV_VIRTIO_CONSOLE_RX_PENDING_MAX);
  driver_kick (&rig.d, RECEIVEQ);
  uint32_t len;
  g_assert_true (driver_get_used (&rig.d, RECEIVEQ, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, VIV_VIRTIO_CONSOLE_RX_PENDING_MAX);
  g_assert_cmpmem (driver_ptr (&rig.d, a, len), len, input, len);
  driver_run_for (&rig.d, 20);
  g_assert_cmpuint (rx_ready_calls (&rig), ==, 1);

  g_assert_cmpuint (viv_virtio_console_receive (rig.console, input + taken, total - taken), ==, total - taken);
  uint64_t b = post_rx (&rig.d, 2000);
  driver_kick (&rig.d, RECEIVEQ);
  g_assert_true (driver_get_used (&rig.d, RECEIVEQ, NULL, &len, 5000));
  g_assert_cmpuint (len, ==, total - taken);
  g_assert_cmpmem (driver_ptr (&rig.d, b, len), len, input + taken, len);
  driver_run_for (&rig.d, 20);
  g_assert_cmpuint (rx_ready_calls (&rig), ==, 1);
  rig_clear (&rig);
}

/* A host thread offers a long stream as fast as the console takes it,
 * waiting for rx-ready whenever it is refused, while the guest drains it
 * through small buffers: every byte arrives once, in order. */
#define STREAM_LEN (256 * 1024)

typedef struct {
  Rig *rig;
  const uint8_t *data;
} Producer;

static gpointer
producer_thread (gpointer data)
{
  Producer *p = data;
  size_t sent = 0;
  while (sent < STREAM_LEN)
    {
      g_mutex_lock (&p->rig->lock);
      unsigned calls = p->rig->rx_ready_calls;
      g_mutex_unlock (&p->rig->lock);

      size_t n = viv_virtio_console_receive (p->rig->console, p->data + sent,
                                             MIN (STREAM_LEN - sent, 3000));
      sent += n;
      if (n > 0)
        continue;
      g_mutex_lock (&p->rig->lock);
      int64_t deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
      while (p->rig->rx_ready_calls == calls)
        g_assert_true (g_cond_wait_until (&p->rig->rx_ready_cond, &p->rig->lock, deadline));
      g_mutex_unlock (&p->rig->lock);
    }
  return NULL;
}

static void
test_console_receive_stream_from_thread (void)
{
  Rig rig;
  rig_init (&rig);
  rig_start (&rig, 0);
  g_autofree uint8_t *stream = g_malloc (STREAM_LEN);
  for (size_t i = 0; i < STREAM_LEN; i++)
    stream[i] = (uint8_t) g_random_int ();
  g_autofree uint8_t *got = g_malloc (STREAM_LEN);
  size_t received = 0;

  Producer producer = { &rig, stream };
  GThread *thread = g_thread_new ("producer", producer_thread, &producer);
  /* Four buffers in flight, each reposted once used. */
  uint64_t buffers[4];
  for (unsigned i = 0; i < 4; i++)
    {
      buffers[i] = post_rx (&rig.d, 1000);
    }
  driver_kick (&rig.d, RECEIVEQ);
  while (received < STREAM_LEN)
    {
      uint16_t head;
      uint32_t len;
      g_assert_true (driver_get_used (&rig.d, RECEIVEQ, &head, &len, 10000));
      g_assert_cmpuint (len, <=, 1000);
      g_assert_cmpuint (received + len, <=, STREAM_LEN);
      unsigned slot = head % 4;
      memcpy (got + received, driver_ptr (&rig.d, buffers[slot], len), len);
      received += len;
      DriverSeg seg = { buffers[slot], 1000, true };
      g_assert_cmpuint (driver_add (&rig.d, RECEIVEQ, &seg, 1) % 4, ==, slot);
      driver_kick (&rig.d, RECEIVEQ);
    }
  g_thread_join (thread);
  g_assert_cmpmem (got, STREAM_LEN, stream, STREAM_LEN);
  rig_clear (&rig);
}

static void
test_console_size_config (void)
{
  Rig rig;
  rig_init (&rig);
  rig_start (&rig, F_SIZE);
  g_assert_cmpuint (driver_config16 (&rig.d, 0), ==, 80);
  g_assert_cmpuint (driver_config16 (&rig.d, 2), ==, 25);
  driver_take_interrupts (&rig.d);
  uint32_t generation = driver_read32 (&rig.d, MMIO_CONFIG_GENERATION);
  unsigned raises = driver_irq_raises (&rig.d);

  viv_virtio_console_set_size (rig.console, 132, 43);
  g_assert_cmpuint (driver_config16 (&rig.d, 0), ==, 132);
  g_assert_cmpuint (driver_config16 (&rig.d, 2), ==, 43);
  g_assert_cmpuint (driver_read32 (&rig.d, MMIO_CONFIG_GENERATION), !=, generation);
  g_assert_cmphex (driver_take_interrupts (&rig.d), ==, MMIO_INT_CONFIG);
  g_assert_cmpuint (driver_irq_raises (&rig.d), ==, raises + 1);
  rig_clear (&rig);
}

static void
test_console_emergency_write (void)
{
  Rig rig;
  rig_init (&rig);
  rig_start (&rig, F_EMERG_WRITE | F_SIZE);
  driver_config_write32 (&rig.d, 8, '!');
  /* Only emerg_wr outputs; cols/rows are read-only for the driver. */
  driver_config_write32 (&rig.d, 0, 'Z');
  g_mutex_lock (&rig.lock);
  g_assert_cmpmem (rig.output->data, rig.output->len, "!", 1);
  g_mutex_unlock (&rig.lock);
  g_assert_cmpuint (driver_config16 (&rig.d, 0), ==, 80);
  rig_clear (&rig);
}

static void
test_console_emergency_write_needs_feature (void)
{
  Rig rig;
  rig_init (&rig);
  rig_start (&rig, 0);
  driver_config_write32 (&rig.d, 8, '!');
  g_assert_cmpuint (rig.output->len, ==, 0);
  rig_clear (&rig);
}

static void
test_console_wrong_direction_needs_reset (void)
{
  Rig rig;
  rig_init (&rig);
  rig_start (&rig, 0);
  uint64_t gpa = driver_alloc (&rig.d, 16);
  DriverSeg seg = { gpa, 16, true };
  driver_add (&rig.d, TRANSMITQ, &seg, 1);
  driver_kick (&rig.d, TRANSMITQ);
  g_assert_true (driver_wait_needs_reset (&rig.d, 5000));
  g_assert_cmphex (driver_take_interrupts (&rig.d) & MMIO_INT_CONFIG, ==, MMIO_INT_CONFIG);

  /* Reset, then a readable buffer in the receive queue is refused too. */
  rig_start (&rig, 0);
  g_assert_false (driver_needs_reset (&rig.d));
  DriverSeg bad = { put_text (&rig.d, "xx"), 2, false };
  driver_add (&rig.d, RECEIVEQ, &bad, 1);
  driver_kick (&rig.d, RECEIVEQ);
  viv_virtio_console_receive (rig.console, (const uint8_t *) "a", 1);
  g_assert_true (driver_wait_needs_reset (&rig.d, 5000));
  g_assert_cmpmem (driver_ptr (&rig.d, bad.gpa, 2), 2, "xx", 2);
  rig_clear (&rig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/viv/virtio-console/transmit", test_console_transmit);
  g_test_add_func ("/viv/virtio-console/receive-into-buffers", test_console_receive_into_buffers);
  g_test_add_func ("/viv/virtio-console/receive-queues-without-buffers",
                   test_console_receive_queues_without_buffers);
  g_test_add_func ("/viv/virtio-console/receive-bounded-and-ready", test_console_receive_bounded_and_ready);
  g_test_add_func ("/viv/virtio-console/receive-stream-from-thread",
                   test_console_receive_stream_from_thread);
  g_test_add_func ("/viv/virtio-console/size-config", test_console_size_config);
  g_test_add_func ("/viv/virtio-console/emergency-write", test_console_emergency_write);
  g_test_add_func ("/viv/virtio-console/emergency-write-needs-feature",
                   test_console_emergency_write_needs_feature);
  g_test_add_func ("/viv/virtio-console/wrong-direction-needs-reset",
                   test_console_wrong_direction_needs_reset);
  return g_test_run ();
}
