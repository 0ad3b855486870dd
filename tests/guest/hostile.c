/* probe.mode=hostile probe.bad=KIND: a driver that breaks the rules on
 * purpose, to see that the device model survives.  It uses the first
 * virtio-blk device (else the first virtio-rng for the kinds that need no
 * disk), reports the device status afterwards, then resets the device and
 * checks that one honest request works again.  Kinds:
 *   desc-outside  a buffer address far outside guest RAM
 *   desc-loop     a descriptor chain whose last entry points at its head
 *   huge-len      a buffer length of 4 GiB - 1
 *   ro-write      a write to a read-only disk (reports the status byte)
 *   early-notify  QueueNotify with a request queued before DRIVER_OK */
#include "virtio.h"

#define VIRTIO_BLK_F_RO  5
#define VIRTIO_BLK_T_IN  0
#define VIRTIO_BLK_T_OUT 1
#define OUTSIDE_ADDR     0x7f0000000000ULL  /* 127 TiB: no guest has RAM there */
#define SETTLE_MS        2000

typedef struct __attribute__((packed)) {
  uint32_t type, reserved;
  uint64_t sector;
} BlkHeader;

static VirtioDev *dev;
static Virtq q;
static bool is_blk;
static BlkHeader *hdr;
static volatile uint8_t *blk_status;
static uint8_t *data;

static bool
start (bool driver_ok)
{
  if (!virtio_begin (dev, is_blk ? FEATURE (VIRTIO_BLK_F_RO) : 0) || !virtq_init (&q, dev, 0, 16))
    return false;
  if (driver_ok)
    virtio_driver_ok (dev);
  return true;
}

/* Queues one request: blk header + data + status, or one rng buffer. */
static void
queue_request (uint32_t type, uint64_t data_addr, uint32_t data_len)
{
  *hdr = (BlkHeader) { .type = type };
  *blk_status = 0xff;
  bool device_writes = type == VIRTIO_BLK_T_IN;
  if (is_blk)
    {
      VirtqBuf bufs[3] = {
        { dma_addr (hdr), sizeof *hdr, false },
        { data_addr, data_len, device_writes },
        { dma_addr (blk_status), 1, true },
      };
      virtq_add (&q, bufs, 3, hdr);
    }
  else
    {
      VirtqBuf b = { data_addr, data_len, true };
      virtq_add (&q, &b, 1, hdr);
    }
}

/* Waits for a used buffer or NEEDS_RESET, whichever comes first. */
static bool
settle (void)
{
  uint64_t deadline = tsc_deadline_ms (SETTLE_MS);
  while (!tsc_passed (deadline))
    {
      if (q.used->idx != q.last_used)
        return true;
      if (virtio_status (dev) & VIRTIO_STATUS_NEEDS_RESET)
        return false;
      for (unsigned i = 0; i < 1000; i++)
        cpu_relax ();
    }
  return false;
}

static bool
recovered (void)
{
  if (!start (true))
    return false;
  queue_request (VIRTIO_BLK_T_IN, dma_addr (data), 512);
  virtq_kick (&q);
  return virtq_wait (&q, NULL, SETTLE_MS) && (!is_blk || *blk_status == 0);
}

void
hostile_mode (void)
{
  char bad[16] = "";
  cmdline_value ("probe.bad", bad, sizeof bad);
  virtio_discover ();
  virtio_options.indirect = false;        /* the bad chains go in the ring itself */
  for (unsigned i = 0; (dev = virtio_device (i)); i++)
    if (dev->device_id == VIRTIO_ID_BLOCK)
      break;
  is_blk = dev != NULL;
  if (!dev && strcmp (bad, "ro-write") != 0)
    for (unsigned i = 0; (dev = virtio_device (i)); i++)
      if (dev->device_id == VIRTIO_ID_RNG)
        break;
  if (!dev)
    {
      probe_printf ("PROBE hostile error=no-device (a virtio-blk%s device is needed)\r\n",
                    strcmp (bad, "ro-write") ? " or virtio-rng" : "");
      probe_exit (PROBE_EXIT_FAILED);
    }
  hdr = dma_alloc (sizeof *hdr, 64);
  blk_status = dma_alloc (1, 64);
  data = dma_alloc (4096, 4096);

  bool used;
  if (strcmp (bad, "early-notify") == 0)
    {
      if (!start (false))
        probe_exit (PROBE_EXIT_FAILED);
      queue_request (VIRTIO_BLK_T_IN, dma_addr (data), 512);
      virtio_write (dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
      used = settle ();
    }
  else
    {
      if (!start (true))
        probe_exit (PROBE_EXIT_FAILED);
      if (strcmp (bad, "desc-outside") == 0)
        queue_request (VIRTIO_BLK_T_IN, OUTSIDE_ADDR, 4096);
      else if (strcmp (bad, "huge-len") == 0)
        queue_request (VIRTIO_BLK_T_IN, dma_addr (data), 0xffffffffu);
      else if (strcmp (bad, "desc-loop") == 0)
        {
          queue_request (VIRTIO_BLK_T_IN, dma_addr (data), 512);
          /* The last descriptor points back at the first device-writable
           * one: every link on the loop is in a valid order, so only a
           * loop check can stop the walk. */
          uint16_t head = q.avail->ring[(uint16_t) (q.avail_idx - 1) & (q.size - 1)];
          uint16_t last = head, target = head;
          bool found = false;
          for (;;)
            {
              if (!found && (q.desc[last].flags & VIRTQ_DESC_F_WRITE))
                target = last, found = true;
              if (!(q.desc[last].flags & VIRTQ_DESC_F_NEXT))
                break;
              last = q.desc[last].next;
            }
          q.desc[last].flags |= VIRTQ_DESC_F_NEXT;
          q.desc[last].next = target;
        }
      else if (strcmp (bad, "ro-write") == 0)
        {
          probe_printf ("PROBE hostile readonly=%u\r\n", !!(dev->features & FEATURE (VIRTIO_BLK_F_RO)));
          queue_request (VIRTIO_BLK_T_OUT, dma_addr (data), 512);
        }
      else
        {
          probe_printf ("PROBE hostile error=unknown-kind bad=%s"
                        " (desc-outside, desc-loop, huge-len, ro-write, early-notify)\r\n", bad);
          probe_exit (PROBE_EXIT_FAILED);
        }
      virtio_write (dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
      used = settle ();
    }
  uint32_t status = virtio_status (dev);
  probe_printf ("PROBE hostile bad=%s status=0x%x needs_reset=%u used=%u",
                bad, status, !!(status & VIRTIO_STATUS_NEEDS_RESET), used);
  if (is_blk && used)
    probe_printf (" blk_status=%u", *blk_status);
  probe_printf ("\r\n");
  probe_printf ("PROBE hostile recovered=%u\r\n", recovered ());
}
