/* A minimal virtio-mmio driver for the device tests: it owns a guest RAM,
 * the transport under test (registered on a VivBus), split queues in that
 * RAM, and an interrupt line it records.  It plays the guest's part by
 * register accesses and ring writes, as a real driver would. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <gio/gio.h>

#include "devices/bus.h"
#include "devices/virtio.h"
#include "devices/virtio_mmio.h"
#include "kvm/memory.h"

#define DRIVER_QUEUE_SIZE 16
#define DRIVER_MAX_QUEUES 4

/* virtio-mmio registers (virtio 1.2 §4.2.2). */
enum {
  MMIO_MAGIC = 0x000, MMIO_VERSION = 0x004, MMIO_DEVICE_ID = 0x008,
  MMIO_DEVICE_FEATURES = 0x010, MMIO_DEVICE_FEATURES_SEL = 0x014,
  MMIO_DRIVER_FEATURES = 0x020, MMIO_DRIVER_FEATURES_SEL = 0x024,
  MMIO_QUEUE_SEL = 0x030, MMIO_QUEUE_NUM_MAX = 0x034, MMIO_QUEUE_NUM = 0x038,
  MMIO_QUEUE_READY = 0x044, MMIO_QUEUE_NOTIFY = 0x050,
  MMIO_INTERRUPT_STATUS = 0x060, MMIO_INTERRUPT_ACK = 0x064, MMIO_STATUS = 0x070,
  MMIO_QUEUE_DESC_LOW = 0x080, MMIO_QUEUE_DESC_HIGH = 0x084,
  MMIO_QUEUE_DRIVER_LOW = 0x090, MMIO_QUEUE_DRIVER_HIGH = 0x094,
  MMIO_QUEUE_DEVICE_LOW = 0x0a0, MMIO_QUEUE_DEVICE_HIGH = 0x0a4,
  MMIO_CONFIG_GENERATION = 0x0fc, MMIO_CONFIG = 0x100,
};
#define MMIO_INT_VRING  1
#define MMIO_INT_CONFIG 2

typedef struct {
  uint64_t gpa;
  uint32_t len;
  bool writable;   /* device-writable */
} DriverSeg;

typedef struct {
  uint16_t size;
  uint64_t desc, avail, used;
  uint16_t next_desc;     /* descriptors are handed out round-robin */
  uint16_t avail_idx;
  uint16_t last_used;
} DriverQueue;

typedef struct {
  VivGuestMemory mem;
  GMainContext *context;
  VivBus *bus;
  VivVirtioDevice *vdev;
  uint64_t next_data;     /* bump allocator for buffers */

  GMutex irq_lock;
  bool irq_level;
  unsigned irq_raises;

  DriverQueue queues[DRIVER_MAX_QUEUES];
  unsigned n_queues;
  uint64_t features;      /* negotiated */
} Driver;

#define DRIVER_MMIO_BASE 0xd0000000ull
#define DRIVER_GSI       16

/* RAM of ram_size bytes and a transport with no device bound yet. */
void     driver_init   (Driver *d, uint64_t ram_size);
/* Frees the transport (and the bound device) and the RAM. */
void     driver_clear  (Driver *d);

uint32_t driver_read32  (Driver *d, uint32_t reg);
void     driver_write32 (Driver *d, uint32_t reg, uint32_t value);
uint8_t  driver_config8  (Driver *d, uint32_t offset);
uint16_t driver_config16 (Driver *d, uint32_t offset);
uint32_t driver_config32 (Driver *d, uint32_t offset);
void     driver_config_write32 (Driver *d, uint32_t offset, uint32_t value);

/* Reset, ACKNOWLEDGE, DRIVER, features (wanted ∩ offered, plus VERSION_1),
 * FEATURES_OK, n_queues queues set up and ready, DRIVER_OK. */
void     driver_start  (Driver *d, uint64_t wanted_features, unsigned n_queues);

uint64_t driver_alloc  (Driver *d, uint32_t len);
void    *driver_ptr    (Driver *d, uint64_t gpa, uint32_t len);

/* Makes a chain available (returns its head) and, separately, notifies. */
uint16_t driver_add    (Driver *d, unsigned q, const DriverSeg *segs, unsigned n);
void     driver_kick   (Driver *d, unsigned q);
/* Takes the next used element, running the I/O context until one comes
 * (false after timeout_ms). */
bool     driver_get_used (Driver *d, unsigned q, uint16_t *head, uint32_t *len, unsigned timeout_ms);
/* Runs the I/O context until cond(data) or timeout_ms passed. */
bool     driver_run_until (Driver *d, bool (*cond) (void *data), void *data, unsigned timeout_ms);
/* Runs the I/O context for a while (to show that nothing happens). */
void     driver_run_for (Driver *d, unsigned ms);

unsigned driver_irq_raises (Driver *d);
/* Reads InterruptStatus and acknowledges what it shows; returns it. */
uint32_t driver_take_interrupts (Driver *d);
bool     driver_needs_reset (Driver *d);
/* Runs the I/O context until the device sets NEEDS_RESET. */
bool     driver_wait_needs_reset (Driver *d, unsigned timeout_ms);
