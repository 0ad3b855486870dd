/* The probe guest's virtio drivers: virtio-mmio version 2 devices found on
 * the command line, split virtqueues (virtio 1.2 §2.7), and the device
 * modes built on them.  Everything runs at CPL3; the only CPL0 part is the
 * interrupt entry (interrupts.S), which reads InterruptStatus, writes
 * InterruptACK and sends the EOI for the vectors in virtio_irq_mmio[]. */
#pragma once
#include "probe.h"

#define VIRTIO_ID_NET      1
#define VIRTIO_ID_BLOCK    2
#define VIRTIO_ID_CONSOLE  3
#define VIRTIO_ID_RNG      4
#define VIRTIO_ID_BALLOON  5

#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32
#define FEATURE(bit)       (1ULL << (bit))

#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER      0x02
#define VIRTIO_STATUS_DRIVER_OK   0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

/* virtio-mmio registers (virtio 1.2 §4.2.2). */
#define VIRTIO_MMIO_MAGIC          0x000
#define VIRTIO_MMIO_VERSION        0x004
#define VIRTIO_MMIO_DEVICE_ID      0x008
#define VIRTIO_MMIO_VENDOR_ID      0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL      0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX  0x034
#define VIRTIO_MMIO_QUEUE_NUM      0x038
#define VIRTIO_MMIO_QUEUE_READY    0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY   0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK  0x064
#define VIRTIO_MMIO_STATUS         0x070
#define VIRTIO_MMIO_QUEUE_DESC     0x080
#define VIRTIO_MMIO_QUEUE_DRIVER   0x090
#define VIRTIO_MMIO_QUEUE_DEVICE   0x0a0
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG         0x100
#define VIRTIO_MMIO_MAGIC_VALUE    0x74726976     /* "virt" */

#define VIRTIO_INT_USED_BUFFER 0x1
#define VIRTIO_INT_CONFIG      0x2

/* Interrupt vectors for virtio devices: VEC_VIRTIO_FIRST + device index. */
#define VIRTIO_MAX_DEVICES 16

typedef struct {
  unsigned index;              /* order on the command line */
  uint64_t base, size;
  uint32_t irq;                /* GSI */
  uint32_t version, device_id, vendor_id;
  uint64_t device_features;    /* offered */
  uint64_t features;           /* negotiated */
  bool     irq_mode;           /* completions by interrupt (probe.virtio_irq=1) */
} VirtioDev;

/* --- virtio_mmio.c --- */
typedef struct {
  bool irq;                    /* probe.virtio_irq=1 */
  bool event_idx;              /* probe.virtio_event_idx=1 */
  bool indirect;               /* probe.virtio_indirect=1 */
} VirtioOptions;
extern VirtioOptions virtio_options;

/* Parses every virtio_mmio.device=SIZE@BASE:IRQ on the command line and
 * reads each device's identity; returns how many were found. */
unsigned virtio_discover (void);
VirtioDev *virtio_device (unsigned index);
/* The first device of that type, or NULL (after printing why). */
VirtioDev *virtio_find (uint32_t device_id, const char *what);
uint32_t virtio_read (const VirtioDev *d, uint32_t reg);
void virtio_write (const VirtioDev *d, uint32_t reg, uint32_t value);
uint8_t virtio_config8 (const VirtioDev *d, uint32_t offset);
uint16_t virtio_config16 (const VirtioDev *d, uint32_t offset);
uint32_t virtio_config32 (const VirtioDev *d, uint32_t offset);
uint64_t virtio_config64 (const VirtioDev *d, uint32_t offset);
void virtio_config_write32 (const VirtioDev *d, uint32_t offset, uint32_t value);
uint32_t virtio_status (const VirtioDev *d);
/* Reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 + wanted ∩ offered, plus
 * EVENT_IDX / INDIRECT_DESC as the options say), FEATURES_OK.  Prints a
 * "PROBE virtio error=..." line and returns false if the device refuses. */
bool virtio_begin (VirtioDev *d, uint64_t wanted);
/* DRIVER_OK, and in interrupt mode the IOAPIC route for the device. */
void virtio_driver_ok (VirtioDev *d);
/* In interrupt mode: "PROBE virtio interrupts=N", the virtio interrupts taken. */
void virtio_report_interrupts (void);
/* ISR bits the interrupt entry collected for this device, cleared. */
uint32_t virtio_take_isr (VirtioDev *d);

/* --- virtqueue.c: split virtqueues --- */
typedef struct __attribute__((packed)) {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
} VirtqDesc;
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

typedef struct {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[];             /* then used_event */
} VirtqAvail;
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

typedef struct {
  uint32_t id;
  uint32_t len;
} VirtqUsedElem;

typedef struct {
  uint16_t flags;
  uint16_t idx;
  VirtqUsedElem ring[];        /* then avail_event */
} VirtqUsed;
#define VIRTQ_USED_F_NO_NOTIFY 1

#define VIRTQ_MAX_SIZE     256
#define VIRTQ_MAX_INDIRECT 32  /* descriptors in one indirect table */

typedef struct {
  uint64_t addr;
  uint32_t len;
  bool device_writes;
} VirtqBuf;

typedef struct {
  VirtioDev *dev;
  unsigned index;
  uint16_t size;
  volatile VirtqDesc *desc;
  volatile VirtqAvail *avail;
  volatile VirtqUsed *used;
  VirtqDesc *indirect;         /* size tables of VIRTQ_MAX_INDIRECT, or NULL */
  uint16_t free_head, num_free;
  uint16_t avail_idx, kicked_idx, last_used;
  uint16_t next_free[VIRTQ_MAX_SIZE];
  uint16_t chain_len[VIRTQ_MAX_SIZE];
  void *token[VIRTQ_MAX_SIZE];
} Virtq;

/* Allocates the rings (at most `max_size` entries, a power of two) and
 * makes queue `index` ready.  Prints why and returns false on failure. */
bool virtq_init (Virtq *q, VirtioDev *d, unsigned index, unsigned max_size);
/* Queues one chain (device-readable buffers first); false if full. */
bool virtq_add (Virtq *q, const VirtqBuf *bufs, unsigned n, void *token);
/* Tells the device about new buffers unless it asked not to be told. */
void virtq_kick (Virtq *q);
/* The next used buffer's token (and written length), or NULL. */
void *virtq_get (Virtq *q, uint32_t *len);
/* Asks for an interrupt at the next used buffer (interrupt mode only). */
void virtq_arm (Virtq *q);

/* --- waiting for devices --- */
/* A snapshot of interrupts taken: pass it to virtio_idle after finding
 * nothing to do, so that an interrupt in between is not slept through. */
uint64_t virtio_idle_begin (void);
/* Polling mode: a pause.  Interrupt mode: sleeps until any interrupt (a
 * periodic LAPIC timer bounds the sleep). */
void virtio_idle (uint64_t seen);
/* Waits for queue q's next used buffer, at most `ms` milliseconds. */
void *virtq_wait (Virtq *q, uint32_t *len, uint64_t ms);

/* --- dma.c: memory the devices may read and write --- */
/* Zeroed, `align`-aligned (a power of two), below 3 GiB; halts the probe
 * with an error line when RAM runs out. */
void *dma_alloc (uint64_t size, uint64_t align);
static inline uint64_t dma_addr (const volatile void *p) { return (uint64_t) (uintptr_t) p; }
/* Bytes left for dma_alloc. */
uint64_t dma_available (void);

/* Sequence-number style comparisons for 16- and 32-bit counters. */
static inline bool seq16_before (uint16_t a, uint16_t b) { return (int16_t) (a - b) < 0; }

/* --- modes --- */
void virtio_list_mode (void);
void blk_mode (void);
void net_mode (void);
void console_mode (void);
void rng_mode (void);
void balloon_mode (void);
void hostile_mode (void);

/* A 64-bit mix (splitmix64's finaliser): the blk pattern and checksums. */
static inline uint64_t mix64 (uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
