/* Split virtqueues (virtio 1.2 §2.7): descriptor table, available and used
 * rings in guest RAM, a free list kept on the driver's side (so a device
 * cannot corrupt it), indirect tables when INDIRECT_DESC was negotiated,
 * and notification suppression both ways (flags, or EVENT_IDX). */
#include "virtio.h"

static inline void memory_fence (void) { __asm__ volatile ("mfence" ::: "memory"); }

static bool
has (const Virtq *q, unsigned bit)
{
  return q->dev->features & FEATURE (bit);
}

static volatile uint16_t *
used_event (Virtq *q)
{
  return &q->avail->ring[q->size];
}

static volatile uint16_t *
avail_event (Virtq *q)
{
  return (volatile uint16_t *) &q->used->ring[q->size];
}

static void
write_addr (VirtioDev *d, uint32_t reg, const volatile void *p)
{
  virtio_write (d, reg, (uint32_t) dma_addr (p));
  virtio_write (d, reg + 4, (uint32_t) (dma_addr (p) >> 32));
}

bool
virtq_init (Virtq *q, VirtioDev *d, unsigned index, unsigned max_size)
{
  memset (q, 0, sizeof *q);
  q->dev = d;
  q->index = index;
  virtio_write (d, VIRTIO_MMIO_QUEUE_SEL, index);
  if (virtio_read (d, VIRTIO_MMIO_QUEUE_READY))
    {
      probe_printf ("PROBE virtio error=queue-already-ready dev=%u queue=%u\r\n", d->index, index);
      return false;
    }
  uint32_t size = virtio_read (d, VIRTIO_MMIO_QUEUE_NUM_MAX);
  if (size == 0)
    {
      probe_printf ("PROBE virtio error=no-queue dev=%u queue=%u\r\n", d->index, index);
      return false;
    }
  if (max_size > VIRTQ_MAX_SIZE)
    max_size = VIRTQ_MAX_SIZE;
  if (size > max_size)
    size = max_size;
  while (size & (size - 1))             /* split rings need a power of two */
    size &= size - 1;
  q->size = (uint16_t) size;
  q->desc = dma_alloc (16 * size, 4096);
  q->avail = dma_alloc (6 + 2 * size, 4096);
  q->used = dma_alloc (6 + 8 * size, 4096);
  if (has (q, VIRTIO_F_RING_INDIRECT_DESC))
    q->indirect = dma_alloc ((uint64_t) size * VIRTQ_MAX_INDIRECT * sizeof (VirtqDesc), 4096);
  for (unsigned i = 0; i < size; i++)
    q->next_free[i] = (uint16_t) (i + 1);
  q->num_free = q->size;
  /* Polling needs no interrupts; interrupt mode asks for one per buffer
   * (with EVENT_IDX, virtq_arm moves used_event before each wait). */
  if (!d->irq_mode && !has (q, VIRTIO_F_RING_EVENT_IDX))
    q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
  if (!d->irq_mode && has (q, VIRTIO_F_RING_EVENT_IDX))
    *used_event (q) = 0x8000;           /* far away from any used index soon */

  virtio_write (d, VIRTIO_MMIO_QUEUE_NUM, size);
  write_addr (d, VIRTIO_MMIO_QUEUE_DESC, q->desc);
  write_addr (d, VIRTIO_MMIO_QUEUE_DRIVER, q->avail);
  write_addr (d, VIRTIO_MMIO_QUEUE_DEVICE, q->used);
  virtio_write (d, VIRTIO_MMIO_QUEUE_READY, 1);
  return true;
}

static void
fill (volatile VirtqDesc *desc, const VirtqBuf *b, uint16_t next, bool last)
{
  desc->addr = b->addr;
  desc->len = b->len;
  desc->flags = (uint16_t) ((b->device_writes ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT));
  desc->next = last ? 0 : next;
}

bool
virtq_add (Virtq *q, const VirtqBuf *bufs, unsigned n, void *token)
{
  bool indirect = q->indirect && n > 1 && n <= VIRTQ_MAX_INDIRECT;
  unsigned need = indirect ? 1 : n;
  if (n == 0 || need > q->num_free)
    return false;
  uint16_t head = q->free_head;
  if (indirect)
    {
      VirtqDesc *table = q->indirect + (uint64_t) head * VIRTQ_MAX_INDIRECT;
      for (unsigned i = 0; i < n; i++)
        fill (&table[i], &bufs[i], (uint16_t) (i + 1), i + 1 == n);
      VirtqBuf whole = { dma_addr (table), n * sizeof (VirtqDesc), false };
      fill (&q->desc[head], &whole, 0, true);
      q->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
      q->free_head = q->next_free[head];
    }
  else
    {
      uint16_t i = head;
      for (unsigned k = 0; k < n; k++)
        {
          uint16_t next = q->next_free[i];
          fill (&q->desc[i], &bufs[k], next, k + 1 == n);
          if (k + 1 < n)
            i = next;
        }
      q->free_head = q->next_free[i];
    }
  q->num_free = (uint16_t) (q->num_free - need);
  q->chain_len[head] = (uint16_t) need;
  q->token[head] = token;
  q->avail->ring[q->avail_idx & (q->size - 1)] = head;
  barrier ();                           /* x86 keeps stores in order */
  q->avail->idx = ++q->avail_idx;
  return true;
}

void
virtq_kick (Virtq *q)
{
  uint16_t old = q->kicked_idx, now = q->avail_idx;
  if (old == now)
    return;
  q->kicked_idx = now;
  memory_fence ();                      /* avail->idx visible before we read the device's wish */
  bool notify;
  if (has (q, VIRTIO_F_RING_EVENT_IDX))
    notify = (uint16_t) (now - *avail_event (q) - 1) < (uint16_t) (now - old);
  else
    notify = !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
  if (notify)
    virtio_write (q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

void *
virtq_get (Virtq *q, uint32_t *len)
{
  if (q->used->idx == q->last_used)
    return NULL;
  barrier ();                           /* x86 keeps loads in order */
  volatile VirtqUsedElem *e = &q->used->ring[q->last_used & (q->size - 1)];
  uint32_t id = e->id, written = e->len;
  q->last_used++;
  if (id >= q->size || !q->chain_len[id])
    {
      probe_printf ("PROBE virtio error=bad-used-id dev=%u queue=%u id=%u\r\n",
                    q->dev->index, q->index, id);
      probe_exit (PROBE_EXIT_FAILED);
    }
  /* Give the chain back: walk our own next_free links, not the table. */
  uint16_t last = (uint16_t) id;
  for (unsigned k = 1; k < q->chain_len[id]; k++)
    last = q->next_free[last];
  q->next_free[last] = q->free_head;
  q->free_head = (uint16_t) id;
  q->num_free = (uint16_t) (q->num_free + q->chain_len[id]);
  q->chain_len[id] = 0;
  if (len)
    *len = written;
  return q->token[id];
}

void
virtq_arm (Virtq *q)
{
  if (!q->dev->irq_mode)
    return;
  if (has (q, VIRTIO_F_RING_EVENT_IDX))
    *used_event (q) = q->last_used;
  memory_fence ();
}

void *
virtq_wait (Virtq *q, uint32_t *len, uint64_t ms)
{
  uint64_t deadline = tsc_deadline_ms (ms);
  for (;;)
    {
      uint64_t seen = virtio_idle_begin ();
      void *token = virtq_get (q, len);
      if (token)
        return token;
      if (tsc_passed (deadline))
        return NULL;
      virtq_arm (q);
      if ((token = virtq_get (q, len)))
        return token;
      virtio_idle (seen);
    }
}
