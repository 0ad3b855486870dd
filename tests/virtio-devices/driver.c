#include "driver.h"

#include <string.h>

#define QUEUE_AREA    0x10000ull    /* queue q's rings at QUEUE_AREA * (q + 1) */
#define DATA_AREA     0x100000ull

static void
record_irq (void *ctx, unsigned gsi, bool level)
{
  Driver *d = ctx;
  g_assert_cmpuint (gsi, ==, DRIVER_GSI);
  g_mutex_lock (&d->irq_lock);
  if (level && !d->irq_level)
    d->irq_raises++;
  d->irq_level = level;
  g_mutex_unlock (&d->irq_lock);
}

void
driver_init (Driver *d, uint64_t ram_size)
{
  g_autoptr(GError) error = NULL;
  memset (d, 0, sizeof *d);
  g_assert_true (viv_guest_memory_init (&d->mem, ram_size, &error));
  g_assert_no_error (error);
  g_mutex_init (&d->irq_lock);
  d->context = g_main_context_new ();
  d->next_data = DATA_AREA;

  VivVirtioMmioConfig config = {
    .base = DRIVER_MMIO_BASE,
    .gsi = DRIVER_GSI,
    .mem = &d->mem,
    .io_context = d->context,
    .irq = { .set_level = record_irq, .ctx = d, .gsi = DRIVER_GSI },
  };
  d->vdev = viv_virtio_mmio_new (&config);
  g_assert_nonnull (d->vdev);
  d->bus = viv_bus_new ("mmio");
  g_assert_true (viv_bus_register (d->bus, DRIVER_MMIO_BASE, VIV_VIRTIO_MMIO_SIZE,
                                   viv_virtio_mmio_ops (), d->vdev, &error));
  g_assert_no_error (error);
}

void
driver_clear (Driver *d)
{
  viv_bus_free (d->bus);
  viv_virtio_mmio_free (d->vdev);
  /* Sources the device left behind would point at freed state. */
  while (g_main_context_iteration (d->context, FALSE))
    ;
  g_main_context_unref (d->context);
  viv_guest_memory_clear (&d->mem);
  g_mutex_clear (&d->irq_lock);
}

uint32_t
driver_read32 (Driver *d, uint32_t reg)
{
  uint32_t value = 0;
  g_assert_true (viv_bus_read (d->bus, DRIVER_MMIO_BASE + reg, &value, 4));
  return GUINT32_FROM_LE (value);
}

void
driver_write32 (Driver *d, uint32_t reg, uint32_t value)
{
  value = GUINT32_TO_LE (value);
  g_assert_true (viv_bus_write (d->bus, DRIVER_MMIO_BASE + reg, &value, 4));
}

uint8_t
driver_config8 (Driver *d, uint32_t offset)
{
  uint8_t value = 0;
  g_assert_true (viv_bus_read (d->bus, DRIVER_MMIO_BASE + MMIO_CONFIG + offset, &value, 1));
  return value;
}

uint16_t
driver_config16 (Driver *d, uint32_t offset)
{
  uint16_t value = 0;
  g_assert_true (viv_bus_read (d->bus, DRIVER_MMIO_BASE + MMIO_CONFIG + offset, &value, 2));
  return GUINT16_FROM_LE (value);
}

uint32_t
driver_config32 (Driver *d, uint32_t offset)
{
  return driver_read32 (d, MMIO_CONFIG + offset);
}

void
driver_config_write32 (Driver *d, uint32_t offset, uint32_t value)
{
  driver_write32 (d, MMIO_CONFIG + offset, value);
}

static void
setup_queue (Driver *d, unsigned q)
{
  DriverQueue *dq = &d->queues[q];
  uint64_t base = QUEUE_AREA * (q + 1);

  driver_write32 (d, MMIO_QUEUE_SEL, q);
  g_assert_cmpuint (driver_read32 (d, MMIO_QUEUE_NUM_MAX), >=, DRIVER_QUEUE_SIZE);
  memset (dq, 0, sizeof *dq);
  dq->size = DRIVER_QUEUE_SIZE;
  dq->desc = base;
  dq->avail = base + 16 * DRIVER_QUEUE_SIZE;
  dq->used = base + 0x1000;
  memset (driver_ptr (d, base, 0x2000), 0, 0x2000);

  driver_write32 (d, MMIO_QUEUE_NUM, dq->size);
  driver_write32 (d, MMIO_QUEUE_DESC_LOW, (uint32_t) dq->desc);
  driver_write32 (d, MMIO_QUEUE_DESC_HIGH, (uint32_t) (dq->desc >> 32));
  driver_write32 (d, MMIO_QUEUE_DRIVER_LOW, (uint32_t) dq->avail);
  driver_write32 (d, MMIO_QUEUE_DRIVER_HIGH, (uint32_t) (dq->avail >> 32));
  driver_write32 (d, MMIO_QUEUE_DEVICE_LOW, (uint32_t) dq->used);
  driver_write32 (d, MMIO_QUEUE_DEVICE_HIGH, (uint32_t) (dq->used >> 32));
  driver_write32 (d, MMIO_QUEUE_READY, 1);
  g_assert_cmpuint (driver_read32 (d, MMIO_QUEUE_READY), ==, 1);
}

void
driver_start (Driver *d, uint64_t wanted_features, unsigned n_queues)
{
  g_assert_cmpuint (n_queues, <=, DRIVER_MAX_QUEUES);
  g_assert_cmphex (driver_read32 (d, MMIO_MAGIC), ==, 0x74726976);
  g_assert_cmpuint (driver_read32 (d, MMIO_VERSION), ==, 2);

  driver_write32 (d, MMIO_STATUS, 0);
  driver_write32 (d, MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
  driver_write32 (d, MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

  uint64_t offered = 0;
  for (uint32_t sel = 0; sel < 2; sel++)
    {
      driver_write32 (d, MMIO_DEVICE_FEATURES_SEL, sel);
      offered |= (uint64_t) driver_read32 (d, MMIO_DEVICE_FEATURES) << (32 * sel);
    }
  g_assert_true (offered & (1ull << VIRTIO_F_VERSION_1));
  d->features = (wanted_features & offered) | (1ull << VIRTIO_F_VERSION_1);
  for (uint32_t sel = 0; sel < 2; sel++)
    {
      driver_write32 (d, MMIO_DRIVER_FEATURES_SEL, sel);
      driver_write32 (d, MMIO_DRIVER_FEATURES, (uint32_t) (d->features >> (32 * sel)));
    }
  uint32_t status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
  driver_write32 (d, MMIO_STATUS, status);
  g_assert_cmphex (driver_read32 (d, MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK, ==,
                   VIRTIO_STATUS_FEATURES_OK);

  d->n_queues = n_queues;
  for (unsigned q = 0; q < n_queues; q++)
    setup_queue (d, q);
  driver_write32 (d, MMIO_STATUS, status | VIRTIO_STATUS_DRIVER_OK);
}

uint64_t
driver_alloc (Driver *d, uint32_t len)
{
  uint64_t gpa = d->next_data;
  d->next_data = (d->next_data + len + 15) & ~15ull;
  g_assert_cmpuint (d->next_data, <=, d->mem.ram_size);
  return gpa;
}

void *
driver_ptr (Driver *d, uint64_t gpa, uint32_t len)
{
  void *p = viv_guest_memory_ptr (&d->mem, gpa, len);
  g_assert_nonnull (p);
  return p;
}

static void
put16 (Driver *d, uint64_t gpa, uint16_t value)
{
  value = GUINT16_TO_LE (value);
  g_assert_true (viv_guest_memory_write (&d->mem, gpa, &value, 2));
}

static uint16_t
get16 (Driver *d, uint64_t gpa)
{
  uint16_t value;
  g_assert_true (viv_guest_memory_read (&d->mem, gpa, &value, 2));
  return GUINT16_FROM_LE (value);
}

uint16_t
driver_add (Driver *d, unsigned q, const DriverSeg *segs, unsigned n)
{
  DriverQueue *dq = &d->queues[q];
  g_assert_cmpuint (q, <, d->n_queues);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpuint (n, <=, dq->size);

  uint16_t head = dq->next_desc;
  for (unsigned i = 0; i < n; i++)
    {
      uint16_t index = (uint16_t) ((head + i) % dq->size);
      uint16_t next = (uint16_t) ((index + 1) % dq->size);
      uint8_t desc[16];
      uint64_t addr = GUINT64_TO_LE (segs[i].gpa);
      uint32_t len = GUINT32_TO_LE (segs[i].len);
      uint16_t flags = GUINT16_TO_LE ((i + 1 < n ? 1 : 0) | (segs[i].writable ? 2 : 0));
      uint16_t next_le = GUINT16_TO_LE (next);
      memcpy (desc, &addr, 8);
      memcpy (desc + 8, &len, 4);
      memcpy (desc + 12, &flags, 2);
      memcpy (desc + 14, &next_le, 2);
      g_assert_true (viv_guest_memory_write (&d->mem, dq->desc + 16 * (uint64_t) index, desc, 16));
    }
  dq->next_desc = (uint16_t) ((head + n) % dq->size);

  put16 (d, dq->avail + 4 + 2 * (uint64_t) (dq->avail_idx % dq->size), head);
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  dq->avail_idx++;
  put16 (d, dq->avail + 2, dq->avail_idx);
  return head;
}

void
driver_kick (Driver *d, unsigned q)
{
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  driver_write32 (d, MMIO_QUEUE_NOTIFY, q);
}

typedef struct {
  Driver *d;
  unsigned q;
} UsedWait;

static bool
used_ready (void *data)
{
  UsedWait *w = data;
  DriverQueue *dq = &w->d->queues[w->q];
  return get16 (w->d, dq->used + 2) != dq->last_used;
}

bool
driver_get_used (Driver *d, unsigned q, uint16_t *head, uint32_t *len, unsigned timeout_ms)
{
  DriverQueue *dq = &d->queues[q];
  UsedWait w = { d, q };
  if (!driver_run_until (d, used_ready, &w, timeout_ms))
    return false;
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  uint64_t entry = dq->used + 4 + 8 * (uint64_t) (dq->last_used % dq->size);
  uint32_t id, written;
  g_assert_true (viv_guest_memory_read (&d->mem, entry, &id, 4));
  g_assert_true (viv_guest_memory_read (&d->mem, entry + 4, &written, 4));
  dq->last_used++;
  if (head)
    *head = (uint16_t) GUINT32_FROM_LE (id);
  if (len)
    *len = GUINT32_FROM_LE (written);
  return true;
}

bool
driver_run_until (Driver *d, bool (*cond) (void *data), void *data, unsigned timeout_ms)
{
  int64_t deadline = g_get_monotonic_time () + (int64_t) timeout_ms * 1000;
  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        return false;
      if (!g_main_context_iteration (d->context, FALSE))
        g_usleep (1000);
    }
  return true;
}

static bool
never (void *data)
{
  (void) data;
  return false;
}

void
driver_run_for (Driver *d, unsigned ms)
{
  driver_run_until (d, never, NULL, ms);
}

unsigned
driver_irq_raises (Driver *d)
{
  g_mutex_lock (&d->irq_lock);
  unsigned raises = d->irq_raises;
  g_mutex_unlock (&d->irq_lock);
  return raises;
}

uint32_t
driver_take_interrupts (Driver *d)
{
  uint32_t status = driver_read32 (d, MMIO_INTERRUPT_STATUS);
  if (status)
    driver_write32 (d, MMIO_INTERRUPT_ACK, status);
  return status;
}

bool
driver_needs_reset (Driver *d)
{
  return driver_read32 (d, MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
}

static bool
needs_reset_cond (void *data)
{
  return driver_needs_reset (data);
}

bool
driver_wait_needs_reset (Driver *d, unsigned timeout_ms)
{
  return driver_run_until (d, needs_reset_cond, d, timeout_ms);
}
