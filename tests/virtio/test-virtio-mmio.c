/* The virtio-mmio transport, driven through its registers the way Linux's
 * virtio_mmio driver drives them, with a small echo device bound to it
 * (queue 0 copies each request's readable part into its writable part).
 * Queue work runs on a real I/O thread; the last test wires the transport
 * to a real KVM VM (ioeventfds and a resampling irqfd). */
#include "devices/virtio_mmio.h"
#include "kvm/iothread.h"
#include "kvm/vm.h"
#include "layout.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BASE  VIV_VIRTIO_MMIO_BASE
#define GSI   VIV_IRQ_VIRTIO_FIRST
#define RAM   (16 * VIV_MiB)

#define REG_MAGIC           0x000
#define REG_VERSION         0x004
#define REG_DEVICE_ID       0x008
#define REG_VENDOR_ID       0x00c
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL       0x030
#define REG_QUEUE_NUM_MAX   0x034
#define REG_QUEUE_NUM       0x038
#define REG_QUEUE_READY     0x044
#define REG_QUEUE_NOTIFY    0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK   0x064
#define REG_STATUS          0x070
#define REG_QUEUE_DESC_LOW  0x080
#define REG_QUEUE_DESC_HIGH 0x084
#define REG_QUEUE_DRIVER_LOW 0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW 0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4
#define REG_SHM_SEL         0x0ac
#define REG_SHM_LEN_LOW     0x0b0
#define REG_SHM_LEN_HIGH    0x0b4
#define REG_CONFIG_GENERATION 0x0fc
#define REG_CONFIG          0x100

#define ECHO_ID        0x7e
#define ECHO_F_LOUD    3            /* a device feature bit the echo offers */
#define QSIZE          16
#define DESC_GPA       0x10000
#define AVAIL_GPA      0x11000
#define USED_GPA       0x12000
#define BUF_GPA        0x100000

#define BIT(n) (UINT64_C (1) << (n))

/* ---- the echo device ------------------------------------------------------ */

typedef struct {
  VivVirtioDevice *vdev;
  GMutex           lock;      /* guards the counters below, for the test */
  GCond            changed;
  unsigned         notifies, activations, resets;
  GThread         *notify_thread;
  uint64_t         features;
  bool             refuse_features;
  uint8_t          config[8];
  VivVirtqElement  elem;
} Echo;

static uint64_t
echo_get_features (void *dev)
{
  (void) dev;
  return BIT (ECHO_F_LOUD);
}

static bool
echo_set_features (void *dev, uint64_t features)
{
  Echo *echo = dev;
  if (echo->refuse_features)
    return false;
  echo->features = features;
  return true;
}

static void
echo_read_config (void *dev, uint32_t offset, void *data, unsigned size)
{
  Echo *echo = dev;
  g_assert_cmpuint (offset + size, <=, sizeof echo->config);
  memcpy (data, echo->config + offset, size);
}

static void
echo_write_config (void *dev, uint32_t offset, const void *data, unsigned size)
{
  Echo *echo = dev;
  g_assert_cmpuint (offset + size, <=, sizeof echo->config);
  memcpy (echo->config + offset, data, size);
}

static void
echo_activate (void *dev)
{
  Echo *echo = dev;
  g_mutex_lock (&echo->lock);
  echo->activations++;
  g_mutex_unlock (&echo->lock);
}

static void
echo_queue_notify (void *dev, unsigned index)
{
  Echo *echo = dev;
  g_assert_cmpuint (index, ==, 0);
  VivVirtqueue *vq = viv_virtio_device_queue (echo->vdev, 0);
  int got;
  while ((got = viv_virtqueue_pop (vq, &echo->elem)) == 1)
    {
      uint8_t buf[256];
      size_t n = viv_virtq_copy_from_out (&echo->elem, 0, buf, sizeof buf);
      n = viv_virtq_copy_to_in (&echo->elem, 0, buf, n);
      viv_virtqueue_push (vq, echo->elem.head, n);
    }
  if (got < 0)
    viv_virtio_device_needs_reset (echo->vdev, vq->error);
  else
    viv_virtio_device_notify_used (echo->vdev, 0);

  g_mutex_lock (&echo->lock);
  echo->notifies++;
  echo->notify_thread = g_thread_self ();
  g_cond_broadcast (&echo->changed);
  g_mutex_unlock (&echo->lock);
}

static void
echo_reset (void *dev)
{
  Echo *echo = dev;
  g_mutex_lock (&echo->lock);
  echo->resets++;
  echo->features = 0;
  g_mutex_unlock (&echo->lock);
}

static void
echo_destroy (void *dev)
{
  Echo *echo = dev;
  g_mutex_clear (&echo->lock);
  g_cond_clear (&echo->changed);
  g_free (echo);
}

static const VivVirtioDeviceOps echo_ops = {
  .name = "virtio-echo",
  .device_id = ECHO_ID,
  .n_queues = 2,               /* queue 1 is never set up by the tests */
  .queue_size_max = 64,
  .config_size = 8,
  .get_features = echo_get_features,
  .set_features = echo_set_features,
  .read_config = echo_read_config,
  .write_config = echo_write_config,
  .activate = echo_activate,
  .queue_notify = echo_queue_notify,
  .reset = echo_reset,
  .destroy = echo_destroy,
};

static Echo *
echo_new (VivVirtioDevice *vdev)
{
  Echo *echo = g_new0 (Echo, 1);
  echo->vdev = vdev;
  g_mutex_init (&echo->lock);
  g_cond_init (&echo->changed);
  memcpy (echo->config, "ECHOCFG", 8);
  viv_virtio_device_bind (vdev, &echo_ops, echo);
  return echo;
}

static unsigned
echo_notifies (Echo *echo)
{
  g_mutex_lock (&echo->lock);
  unsigned n = echo->notifies;
  g_mutex_unlock (&echo->lock);
  return n;
}

static void
wait_for_notifies (Echo *echo, unsigned count)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&echo->lock);
  while (echo->notifies < count)
    if (!g_cond_wait_until (&echo->changed, &echo->lock, deadline))
      g_error ("the echo device was not notified (%u of %u)", echo->notifies, count);
  g_mutex_unlock (&echo->lock);
}

/* ---- the test machine: memory, bus, I/O thread, an IRQ line ---------------- */

typedef struct {
  VivGuestMemory   mem;
  VivIoThread     *io;
  VivBus          *bus;
  VivVirtioDevice *vdev;
  Echo            *echo;
  GMutex           irq_lock;
  bool             irq_level;
  unsigned         irq_raises;
  uint16_t         avail_idx;
} Fixture;

static void
record_irq (void *ctx, unsigned gsi, bool level)
{
  Fixture *f = ctx;
  g_assert_cmpuint (gsi, ==, GSI);
  g_mutex_lock (&f->irq_lock);
  f->irq_level = level;
  f->irq_raises += level;
  g_mutex_unlock (&f->irq_lock);
}

static bool
irq_level (Fixture *f)
{
  g_mutex_lock (&f->irq_lock);
  bool level = f->irq_level;
  g_mutex_unlock (&f->irq_lock);
  return level;
}

static unsigned
irq_raises (Fixture *f)
{
  g_mutex_lock (&f->irq_lock);
  unsigned n = f->irq_raises;
  g_mutex_unlock (&f->irq_lock);
  return n;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (GError) error = NULL;
  g_assert_true (viv_guest_memory_init (&f->mem, RAM, &error));
  g_mutex_init (&f->irq_lock);
  f->io = viv_io_thread_new ("virtio-test-io");
  f->bus = viv_bus_new ("mmio");
  VivVirtioMmioConfig config = {
    .base = BASE,
    .gsi = GSI,
    .mem = &f->mem,
    .io_context = viv_io_thread_context (f->io),
    .irq = { .set_level = record_irq, .ctx = f, .gsi = GSI },
  };
  f->vdev = viv_virtio_mmio_new (&config);
  f->echo = echo_new (f->vdev);
  g_assert_true (viv_bus_register (f->bus, BASE, VIV_VIRTIO_MMIO_SIZE, viv_virtio_mmio_ops (),
                                   f->vdev, &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  (void) data;
  viv_virtio_mmio_free (f->vdev);
  viv_io_thread_free (f->io);
  viv_bus_free (f->bus);
  g_mutex_clear (&f->irq_lock);
  viv_guest_memory_clear (&f->mem);
}

static uint32_t
rd (Fixture *f, uint64_t offset)
{
  uint32_t value;
  g_assert_true (viv_bus_read (f->bus, BASE + offset, &value, 4));
  return GUINT32_FROM_LE (value);
}

static void
wr (Fixture *f, uint64_t offset, uint32_t value)
{
  uint32_t le = GUINT32_TO_LE (value);
  g_assert_true (viv_bus_write (f->bus, BASE + offset, &le, 4));
}

static gboolean
mark_done (gpointer data)
{
  gint *done = data;
  g_atomic_int_set (done, 1);
  return G_SOURCE_REMOVE;
}

/* Lets the I/O thread run everything queued before this call. */
static void
flush_io (Fixture *f)
{
  for (int round = 0; round < 2; round++)
    {
      gint done = 0;
      g_main_context_invoke (viv_io_thread_context (f->io), mark_done, &done);
      while (!g_atomic_int_get (&done))
        g_usleep (1000);
    }
}

/* ---- a Linux-like driver --------------------------------------------------- */

/* virtio_dev_probe: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK and
 * the read-back that tells whether the device took them. */
static bool
driver_negotiate (Fixture *f, uint64_t accept)
{
  wr (f, REG_STATUS, 0);
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  wr (f, REG_DEVICE_FEATURES_SEL, 1);
  uint64_t offered = (uint64_t) rd (f, REG_DEVICE_FEATURES) << 32;
  wr (f, REG_DEVICE_FEATURES_SEL, 0);
  offered |= rd (f, REG_DEVICE_FEATURES);
  uint64_t features = offered & accept;
  wr (f, REG_DRIVER_FEATURES_SEL, 1);
  wr (f, REG_DRIVER_FEATURES, features >> 32);
  wr (f, REG_DRIVER_FEATURES_SEL, 0);
  wr (f, REG_DRIVER_FEATURES, (uint32_t) features);
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
  return rd (f, REG_STATUS) & VIRTIO_STATUS_FEATURES_OK;
}

static void
driver_setup_queue (Fixture *f, unsigned index, uint64_t desc, uint64_t avail, uint64_t used)
{
  wr (f, REG_QUEUE_SEL, index);
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 0);
  g_assert_cmpuint (rd (f, REG_QUEUE_NUM_MAX), >=, QSIZE);
  wr (f, REG_QUEUE_NUM, QSIZE);
  wr (f, REG_QUEUE_DESC_LOW, (uint32_t) desc);
  wr (f, REG_QUEUE_DESC_HIGH, desc >> 32);
  wr (f, REG_QUEUE_DRIVER_LOW, (uint32_t) avail);
  wr (f, REG_QUEUE_DRIVER_HIGH, avail >> 32);
  wr (f, REG_QUEUE_DEVICE_LOW, (uint32_t) used);
  wr (f, REG_QUEUE_DEVICE_HIGH, used >> 32);
  wr (f, REG_QUEUE_READY, 1);
}

static void
driver_ok (Fixture *f)
{
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER
                     | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static void
driver_start (Fixture *f)
{
  g_assert_true (driver_negotiate (f, ~UINT64_C (0)));
  driver_setup_queue (f, 0, DESC_GPA, AVAIL_GPA, USED_GPA);
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 1);
  driver_ok (f);
  f->avail_idx = 0;
}

static void
put_desc (Fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
  struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
    GUINT64_TO_LE (addr), GUINT32_TO_LE (len), GUINT16_TO_LE (flags), GUINT16_TO_LE (next),
  };
  G_STATIC_ASSERT (sizeof d == 16);
  g_assert_true (viv_guest_memory_write (&f->mem, DESC_GPA + 16 * i, &d, 16));
}

static void
offer (Fixture *f, uint16_t head)
{
  uint16_t le = GUINT16_TO_LE (head);
  g_assert_true (viv_guest_memory_write (&f->mem, AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), &le, 2));
  f->avail_idx++;
  le = GUINT16_TO_LE (f->avail_idx);
  g_assert_true (viv_guest_memory_write (&f->mem, AVAIL_GPA + 2, &le, 2));
}

static uint16_t
used_idx (Fixture *f)
{
  uint16_t le;
  g_assert_true (viv_guest_memory_read (&f->mem, USED_GPA + 2, &le, 2));
  return GUINT16_FROM_LE (le);
}

/* An echo request: "hello" out, 16 bytes in, as descriptors 0 → 1. */
static void
offer_echo_request (Fixture *f, const char *text)
{
  size_t len = strlen (text);
  g_assert_true (viv_guest_memory_write (&f->mem, BUF_GPA, text, len));
  g_assert_true (viv_guest_memory_write (&f->mem, BUF_GPA + 0x1000, "................", 16));
  put_desc (f, 0, BUF_GPA, len, 1 /* NEXT */, 1);
  put_desc (f, 1, BUF_GPA + 0x1000, 16, 2 /* WRITE */, 0);
  offer (f, 0);
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_identity (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmphex (rd (f, REG_MAGIC), ==, 0x74726976);
  g_assert_cmpuint (rd (f, REG_VERSION), ==, 2);
  g_assert_cmpuint (rd (f, REG_DEVICE_ID), ==, ECHO_ID);
  g_assert_cmphex (rd (f, REG_VENDOR_ID), ==, 0x56495641);
  wr (f, REG_SHM_SEL, 0);
  g_assert_cmphex (rd (f, REG_SHM_LEN_LOW), ==, 0xffffffff);
  g_assert_cmphex (rd (f, REG_SHM_LEN_HIGH), ==, 0xffffffff);
  wr (f, REG_QUEUE_SEL, 0);
  g_assert_cmpuint (rd (f, REG_QUEUE_NUM_MAX), ==, 64);
  wr (f, REG_QUEUE_SEL, 2);
  g_assert_cmpuint (rd (f, REG_QUEUE_NUM_MAX), ==, 0);   /* no such queue */

  wr (f, REG_DEVICE_FEATURES_SEL, 0);
  uint32_t low = rd (f, REG_DEVICE_FEATURES);
  g_assert_cmphex (low, ==, BIT (ECHO_F_LOUD) | BIT (VIRTIO_F_RING_INDIRECT_DESC) | BIT (VIRTIO_F_RING_EVENT_IDX));
  wr (f, REG_DEVICE_FEATURES_SEL, 1);
  g_assert_cmphex (rd (f, REG_DEVICE_FEATURES), ==, BIT (VIRTIO_F_VERSION_1 - 32));
  wr (f, REG_DEVICE_FEATURES_SEL, 7);
  g_assert_cmphex (rd (f, REG_DEVICE_FEATURES), ==, 0);

  /* Registers take aligned 32-bit accesses only. */
  uint8_t byte = 0xaa;
  g_assert_true (viv_bus_read (f->bus, BASE + REG_MAGIC, &byte, 1));
  g_assert_cmpuint (byte, ==, 0);
  uint16_t half = GUINT16_TO_LE (VIRTIO_STATUS_ACKNOWLEDGE);
  g_assert_true (viv_bus_write (f->bus, BASE + REG_STATUS, &half, 2));
  g_assert_cmpuint (rd (f, REG_STATUS), ==, 0);
  uint32_t word = 0;
  g_assert_true (viv_bus_read (f->bus, BASE + REG_MAGIC + 2, &word, 4));
  g_assert_cmpuint (word, ==, 0);
}

static void
test_negotiation (Fixture *f, gconstpointer data)
{
  (void) data;
  /* A legacy driver that ignores VERSION_1 is refused. */
  g_assert_false (driver_negotiate (f, ~BIT (VIRTIO_F_VERSION_1)));
  g_assert_cmphex (viv_virtio_device_features (f->vdev), ==, 0);

  /* So is a driver accepting a feature nobody offered. */
  wr (f, REG_STATUS, 0);
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  wr (f, REG_DRIVER_FEATURES_SEL, 1);
  wr (f, REG_DRIVER_FEATURES, 1);
  wr (f, REG_DRIVER_FEATURES_SEL, 0);
  wr (f, REG_DRIVER_FEATURES, BIT (5));
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
  g_assert_false (rd (f, REG_STATUS) & VIRTIO_STATUS_FEATURES_OK);

  /* And a combination the device itself refuses. */
  f->echo->refuse_features = true;
  g_assert_false (driver_negotiate (f, ~UINT64_C (0)));
  f->echo->refuse_features = false;

  uint64_t accept = BIT (VIRTIO_F_VERSION_1) | BIT (ECHO_F_LOUD);
  g_assert_true (driver_negotiate (f, accept));
  g_assert_cmphex (viv_virtio_device_features (f->vdev), ==, accept);
  g_assert_cmphex (f->echo->features, ==, accept);

  /* Feature writes after FEATURES_OK change nothing. */
  wr (f, REG_DRIVER_FEATURES_SEL, 0);
  wr (f, REG_DRIVER_FEATURES, 0);
  g_assert_cmphex (viv_virtio_device_features (f->vdev), ==, accept);

  /* Queues come up with exactly the ring features negotiated: no EVENT_IDX. */
  driver_setup_queue (f, 0, DESC_GPA, AVAIL_GPA, USED_GPA);
  VivVirtqueue *vq = viv_virtio_device_queue (f->vdev, 0);
  g_assert_false (vq->event_idx);
  g_assert_false (vq->indirect);
  g_assert_cmpuint (vq->size, ==, QSIZE);
}

static void
test_echo (Fixture *f, gconstpointer data)
{
  (void) data;
  driver_start (f);
  g_assert_cmpuint (f->echo->activations, ==, 1);
  VivVirtqueue *vq = viv_virtio_device_queue (f->vdev, 0);
  g_assert_true (vq->event_idx);
  g_assert_true (vq->indirect);

  offer_echo_request (f, "hello");
  g_assert_false (irq_level (f));
  wr (f, REG_QUEUE_NOTIFY, 0);
  wait_for_notifies (f->echo, 1);
  g_assert_true (f->echo->notify_thread != g_thread_self ());

  g_assert_cmpuint (used_idx (f), ==, 1);
  uint32_t used[2];
  g_assert_true (viv_guest_memory_read (&f->mem, USED_GPA + 4, used, 8));
  g_assert_cmpuint (GUINT32_FROM_LE (used[0]), ==, 0);
  g_assert_cmpuint (GUINT32_FROM_LE (used[1]), ==, 5);
  char echoed[16];
  g_assert_true (viv_guest_memory_read (&f->mem, BUF_GPA + 0x1000, echoed, 16));
  g_assert_cmpint (memcmp (echoed, "hello...........", 16), ==, 0);

  /* The interrupt handler: read ISR, acknowledge it, the line drops. */
  g_assert_true (irq_level (f));
  uint32_t isr = rd (f, REG_INTERRUPT_STATUS);
  g_assert_cmpuint (isr, ==, 1);
  wr (f, REG_INTERRUPT_ACK, isr);
  g_assert_cmpuint (rd (f, REG_INTERRUPT_STATUS), ==, 0);
  g_assert_false (irq_level (f));

  /* A second request, after the driver re-armed its used_event as Linux
   * does when it re-enables callbacks (EVENT_IDX was negotiated). */
  uint16_t used_event = GUINT16_TO_LE (used_idx (f));
  g_assert_true (viv_guest_memory_write (&f->mem, AVAIL_GPA + 4 + 2 * QSIZE, &used_event, 2));
  offer_echo_request (f, "again");
  wr (f, REG_QUEUE_NOTIFY, 0);
  wait_for_notifies (f->echo, 2);
  g_assert_cmpuint (used_idx (f), ==, 2);
  g_assert_true (irq_level (f));
  wr (f, REG_INTERRUPT_ACK, 1);
  g_assert_false (irq_level (f));
}

static void
test_config_space (Fixture *f, gconstpointer data)
{
  (void) data;
  driver_start (f);
  uint8_t byte;
  g_assert_true (viv_bus_read (f->bus, BASE + REG_CONFIG + 1, &byte, 1));
  g_assert_cmpuint (byte, ==, 'C');
  uint32_t word;
  g_assert_true (viv_bus_read (f->bus, BASE + REG_CONFIG + 4, &word, 4));
  g_assert_cmpint (memcmp (&word, "CFG", 4), ==, 0);
  uint16_t half = 0x4141;
  g_assert_true (viv_bus_write (f->bus, BASE + REG_CONFIG + 6, &half, 2));
  g_assert_cmpint (memcmp (f->echo->config, "ECHOCFAA", 8), ==, 0);
  /* Past the device's config space: reads zero, writes go nowhere. */
  word = 0xffffffff;
  g_assert_true (viv_bus_read (f->bus, BASE + REG_CONFIG + 6, &word, 4));
  g_assert_cmpuint (word, ==, 0);
  g_assert_true (viv_bus_write (f->bus, BASE + REG_CONFIG + 8, &half, 2));

  uint32_t generation = rd (f, REG_CONFIG_GENERATION);
  viv_virtio_device_config_changed (f->vdev);
  g_assert_cmpuint (rd (f, REG_CONFIG_GENERATION), ==, generation + 1);
  g_assert_cmpuint (rd (f, REG_INTERRUPT_STATUS), ==, 2);
  g_assert_true (irq_level (f));
  wr (f, REG_INTERRUPT_ACK, 2);
  g_assert_false (irq_level (f));
}

static void
test_notify_before_driver_ok (Fixture *f, gconstpointer data)
{
  (void) data;
  /* Hostile: kick before the device was even negotiated. */
  wr (f, REG_QUEUE_NOTIFY, 0);
  g_assert_true (driver_negotiate (f, ~UINT64_C (0)));
  driver_setup_queue (f, 0, DESC_GPA, AVAIL_GPA, USED_GPA);
  offer_echo_request (f, "early");
  wr (f, REG_QUEUE_NOTIFY, 0);
  flush_io (f);
  g_assert_cmpuint (echo_notifies (f->echo), ==, 0);
  g_assert_cmpuint (used_idx (f), ==, 0);

  driver_ok (f);
  /* Queue 1 is not ready and queue 9 does not exist: both ignored. */
  wr (f, REG_QUEUE_NOTIFY, 1);
  wr (f, REG_QUEUE_NOTIFY, 9);
  flush_io (f);
  g_assert_cmpuint (echo_notifies (f->echo), ==, 0);

  /* The buffer offered early is still there for the first real kick. */
  wr (f, REG_QUEUE_NOTIFY, 0);
  wait_for_notifies (f->echo, 1);
  g_assert_cmpuint (used_idx (f), ==, 1);
  g_assert_cmpuint (rd (f, REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);
}

static void
test_bad_ring_address (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_true (driver_negotiate (f, ~UINT64_C (0)));
  driver_setup_queue (f, 0, RAM - 0x80, AVAIL_GPA, USED_GPA);   /* 16 × 16 bytes do not fit */
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 0);
  g_assert_true (rd (f, REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
  g_assert_cmpuint (rd (f, REG_INTERRUPT_STATUS), ==, 2);
  g_assert_true (irq_level (f));

  /* The driver carries on regardless: nothing reaches the device. */
  driver_ok (f);
  g_assert_cmpuint (f->echo->activations, ==, 0);
  offer_echo_request (f, "ignored");
  wr (f, REG_QUEUE_NOTIFY, 0);
  flush_io (f);
  g_assert_cmpuint (echo_notifies (f->echo), ==, 0);

  /* Reset brings everything back, and a correct set-up then works. */
  unsigned resets = f->echo->resets;
  wr (f, REG_STATUS, 0);
  g_assert_cmpuint (rd (f, REG_STATUS), ==, 0);
  g_assert_cmpuint (rd (f, REG_INTERRUPT_STATUS), ==, 0);
  g_assert_false (irq_level (f));
  g_assert_cmpuint (f->echo->resets, ==, resets + 1);
  memset (viv_guest_memory_ptr (&f->mem, AVAIL_GPA, 0x2000), 0, 0x2000);
  driver_start (f);
  offer_echo_request (f, "works");
  wr (f, REG_QUEUE_NOTIFY, 0);
  wait_for_notifies (f->echo, 1);
  g_assert_cmpuint (used_idx (f), ==, 1);

  /* Other bad layouts fail the same way. */
  wr (f, REG_STATUS, 0);
  g_assert_true (driver_negotiate (f, ~UINT64_C (0)));
  driver_setup_queue (f, 0, DESC_GPA + 8, AVAIL_GPA, USED_GPA);
  g_assert_true (rd (f, REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
  wr (f, REG_STATUS, 0);
  g_assert_true (driver_negotiate (f, ~UINT64_C (0)));
  wr (f, REG_QUEUE_SEL, 0);
  wr (f, REG_QUEUE_NUM, 128);   /* above QueueNumMax */
  wr (f, REG_QUEUE_READY, 1);
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 0);
  g_assert_true (rd (f, REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void
test_bad_descriptor (Fixture *f, gconstpointer data)
{
  (void) data;
  driver_start (f);
  put_desc (f, 3, RAM - 8, 64, 2 /* WRITE */, 0);
  offer (f, 3);
  wr (f, REG_QUEUE_NOTIFY, 0);
  wait_for_notifies (f->echo, 1);
  g_assert_true (rd (f, REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
  g_assert_true (rd (f, REG_INTERRUPT_STATUS) & 2);
  g_assert_true (irq_level (f));
  g_assert_cmpuint (used_idx (f), ==, 0);

  /* Stopped until reset. */
  wr (f, REG_QUEUE_NOTIFY, 0);
  flush_io (f);
  g_assert_cmpuint (echo_notifies (f->echo), ==, 1);
}

static void
test_queue_locked_after_ready (Fixture *f, gconstpointer data)
{
  (void) data;
  driver_start (f);
  /* Moving a live queue is ignored, as is stopping it after DRIVER_OK. */
  wr (f, REG_QUEUE_SEL, 0);
  wr (f, REG_QUEUE_NUM, 2);
  wr (f, REG_QUEUE_DESC_LOW, 0xfff00000);
  wr (f, REG_QUEUE_DEVICE_HIGH, 0x10);
  wr (f, REG_QUEUE_READY, 0);
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 1);
  VivVirtqueue *vq = viv_virtio_device_queue (f->vdev, 0);
  g_assert_cmpuint (vq->size, ==, QSIZE);
  g_assert_cmphex (vq->desc_gpa, ==, DESC_GPA);
  g_assert_cmphex (vq->used_gpa, ==, USED_GPA);

  /* And a queue set up after DRIVER_OK is refused. */
  wr (f, REG_QUEUE_SEL, 1);
  wr (f, REG_QUEUE_READY, 1);
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 0);

  offer_echo_request (f, "still");
  wr (f, REG_QUEUE_NOTIFY, 0);
  wait_for_notifies (f->echo, 1);
  g_assert_cmpuint (used_idx (f), ==, 1);
}

static void
test_queue_ready_zero_before_driver_ok (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_true (driver_negotiate (f, ~UINT64_C (0)));
  driver_setup_queue (f, 0, DESC_GPA, AVAIL_GPA, USED_GPA);
  wr (f, REG_QUEUE_READY, 0);   /* Linux's vm_del_vq path */
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 0);
  g_assert_cmpuint (viv_virtio_device_queue (f->vdev, 0)->size, ==, 0);
  driver_setup_queue (f, 0, DESC_GPA, AVAIL_GPA, USED_GPA);
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 1);
}

static void
test_reset_clears_everything (Fixture *f, gconstpointer data)
{
  (void) data;
  driver_start (f);
  offer_echo_request (f, "x");
  wr (f, REG_QUEUE_NOTIFY, 0);
  wait_for_notifies (f->echo, 1);
  g_assert_true (irq_level (f));
  viv_virtio_device_config_changed (f->vdev);
  wr (f, REG_DEVICE_FEATURES_SEL, 1);

  unsigned resets = f->echo->resets;
  wr (f, REG_STATUS, 0);
  g_assert_cmpuint (f->echo->resets, ==, resets + 1);
  g_assert_cmpuint (rd (f, REG_STATUS), ==, 0);
  g_assert_cmpuint (rd (f, REG_INTERRUPT_STATUS), ==, 0);
  g_assert_false (irq_level (f));
  g_assert_cmphex (viv_virtio_device_features (f->vdev), ==, 0);
  g_assert_cmpuint (rd (f, REG_DEVICE_FEATURES) & BIT (ECHO_F_LOUD), !=, 0);  /* selector back to 0 */
  wr (f, REG_QUEUE_SEL, 0);
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 0);
  g_assert_cmpuint (viv_virtio_device_queue (f->vdev, 0)->size, ==, 0);
  g_assert_cmpuint (rd (f, REG_CONFIG_GENERATION), ==, 1);   /* survives a driver reset */

  /* A notify after reset goes nowhere. */
  wr (f, REG_QUEUE_NOTIFY, 0);
  flush_io (f);
  g_assert_cmpuint (echo_notifies (f->echo), ==, 1);

  /* The machine's reset (reboot) also restarts the generation. */
  viv_virtio_mmio_reset (f->vdev);
  g_assert_cmpuint (rd (f, REG_CONFIG_GENERATION), ==, 0);
  g_assert_cmpuint (f->echo->resets, ==, resets + 2);
}

static void
test_driver_ok_needs_features_ok (Fixture *f, gconstpointer data)
{
  (void) data;
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  wr (f, REG_QUEUE_SEL, 0);
  wr (f, REG_QUEUE_NUM, QSIZE);
  wr (f, REG_QUEUE_READY, 1);   /* before FEATURES_OK: ignored */
  g_assert_cmpuint (rd (f, REG_QUEUE_READY), ==, 0);
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
  g_assert_cmpuint (rd (f, REG_STATUS) & VIRTIO_STATUS_DRIVER_OK, ==, 0);
  g_assert_cmpuint (f->echo->activations, ==, 0);
  /* The driver cannot set NEEDS_RESET itself. */
  wr (f, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_NEEDS_RESET);
  g_assert_cmpuint (rd (f, REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);
}

/* The transport with a device that is never bound: a placeholder. */
static void
test_unbound (void)
{
  VivGuestMemory mem;
  g_assert_true (viv_guest_memory_init (&mem, RAM, NULL));
  VivVirtioMmioConfig config = { .base = BASE, .gsi = GSI, .mem = &mem };
  VivVirtioDevice *vdev = viv_virtio_mmio_new (&config);
  const VivDeviceOps *ops = viv_virtio_mmio_ops ();
  uint32_t value = 0;
  ops->read (vdev, REG_DEVICE_ID, &value, 4);
  g_assert_cmpuint (value, ==, 0);
  value = VIRTIO_STATUS_ACKNOWLEDGE;
  ops->write (vdev, REG_STATUS, &value, 4);
  value = 0;
  ops->write (vdev, REG_QUEUE_NOTIFY, &value, 4);
  ops->write (vdev, REG_STATUS, &value, 4);
  ops->read (vdev, REG_CONFIG, &value, 4);
  g_assert_cmpuint (value, ==, 0);
  viv_virtio_mmio_free (vdev);
  viv_guest_memory_clear (&mem);
}

/* ---- with KVM -------------------------------------------------------------- */

/* Whether our ioeventfd still holds QueueNotify/datamatch 0 on `vm`: KVM
 * refuses a second identical registration with EEXIST. */
static bool
notify_is_registered (const VivVm *vm, int probe_fd)
{
  g_autoptr (GError) error = NULL;
  if (viv_vm_ioeventfd (vm, BASE + REG_QUEUE_NOTIFY, 4, 0, probe_fd, true, &error))
    {
      g_assert_true (viv_vm_ioeventfd (vm, BASE + REG_QUEUE_NOTIFY, 4, 0, probe_fd, false, NULL));
      return false;
    }
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  return true;
}

static void
test_kvm_wiring (Fixture *f, gconstpointer data)
{
  (void) data;
  VivKvm kvm;
  g_autoptr (GError) error = NULL;
  if (access ("/dev/kvm", R_OK | W_OK) != 0 || !viv_kvm_open (&kvm, &error))
    {
      g_test_skip (error ? error->message : "/dev/kvm is not usable here");
      return;
    }
  VivVm vm1, vm2;
  g_assert_true (viv_vm_create (&vm1, &kvm, &f->mem, &error));
  g_assert_no_error (error);
  int probe = eventfd (0, EFD_CLOEXEC);
  g_assert_cmpint (probe, >=, 0);

  g_assert_true (viv_virtio_mmio_connect_vm (f->vdev, vm1.fd, &error));
  g_assert_no_error (error);
  g_assert_true (notify_is_registered (&vm1, probe));
  /* Connecting again first removes the old registrations (no EEXIST). */
  g_assert_true (viv_virtio_mmio_connect_vm (f->vdev, vm1.fd, &error));
  g_assert_no_error (error);
  g_assert_true (notify_is_registered (&vm1, probe));

  /* Interrupts now go to the irqfd, not the line. */
  driver_start (f);
  offer_echo_request (f, "kvm");
  wr (f, REG_QUEUE_NOTIFY, 0);   /* a register kick still works */
  wait_for_notifies (f->echo, 1);
  g_assert_cmpuint (used_idx (f), ==, 1);
  g_assert_cmpuint (rd (f, REG_INTERRUPT_STATUS), ==, 1);
  g_assert_cmpuint (irq_raises (f), ==, 0);

  /* Reboot: a new VM; the old one loses its registrations. */
  g_assert_true (viv_vm_create (&vm2, &kvm, &f->mem, &error));
  g_assert_true (viv_virtio_mmio_connect_vm (f->vdev, vm2.fd, &error));
  g_assert_no_error (error);
  g_assert_false (notify_is_registered (&vm1, probe));
  g_assert_true (notify_is_registered (&vm2, probe));

  /* A VM closed under us (the usual reboot order) is no obstacle. */
  viv_vm_destroy (&vm2);
  g_assert_true (viv_virtio_mmio_connect_vm (f->vdev, vm1.fd, &error));
  g_assert_no_error (error);
  g_assert_true (notify_is_registered (&vm1, probe));

  /* Disconnecting hands interrupts back to the line: ISR is still 1. */
  g_assert_true (viv_virtio_mmio_connect_vm (f->vdev, -1, &error));
  g_assert_false (notify_is_registered (&vm1, probe));
  g_assert_true (irq_level (f));
  wr (f, REG_INTERRUPT_ACK, 1);
  g_assert_false (irq_level (f));

  /* A bad VM fd gives an error and leaves the transport disconnected. */
  g_assert_false (viv_virtio_mmio_connect_vm (f->vdev, probe, &error));
  g_assert_nonnull (error);
  g_test_message ("expected failure: %s", error->message);
  g_clear_error (&error);

  /* Freeing while connected deregisters too. */
  g_assert_true (viv_virtio_mmio_connect_vm (f->vdev, vm1.fd, &error));
  viv_virtio_mmio_free (f->vdev);
  f->vdev = NULL;
  g_assert_false (notify_is_registered (&vm1, probe));

  close (probe);
  viv_vm_destroy (&vm1);
  viv_kvm_close (&kvm);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/virtio-mmio/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("identity", test_identity);
  ADD ("negotiation", test_negotiation);
  ADD ("echo", test_echo);
  ADD ("config-space", test_config_space);
  ADD ("notify-before-driver-ok", test_notify_before_driver_ok);
  ADD ("bad-ring-address", test_bad_ring_address);
  ADD ("bad-descriptor", test_bad_descriptor);
  ADD ("queue-locked-after-ready", test_queue_locked_after_ready);
  ADD ("queue-ready-zero", test_queue_ready_zero_before_driver_ok);
  ADD ("reset-clears-everything", test_reset_clears_everything);
  ADD ("driver-ok-needs-features-ok", test_driver_ok_needs_features_ok);
  ADD ("kvm-wiring", test_kvm_wiring);
#undef ADD
  g_test_add_func ("/virtio-mmio/unbound", test_unbound);
  return g_test_run ();
}
