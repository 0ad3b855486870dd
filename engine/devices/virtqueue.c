/* Split virtqueues, device side (virtio 1.2 §2.7).
 *
 * The driver owns the descriptor table and the available ring and may
 * rewrite them while we read: every descriptor is copied once into a local
 * before it is checked, and nothing read from the ring is trusted twice.
 * Ring fields are little-endian; barriers follow §2.7.13/§2.7.14: read the
 * avail index before the entries it covers, write used entries before the
 * used index, and fence between publishing our index and reading the
 * driver's suppression fields. */
#include "devices/virtqueue.h"

#include <glib.h>
#include <stdatomic.h>
#include <string.h>

#define VIRTQ_DESC_F_NEXT      1
#define VIRTQ_DESC_F_WRITE     2
#define VIRTQ_DESC_F_INDIRECT  4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1
#define VIRTQ_MAX_SIZE 32768

typedef struct {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
} VirtqDesc;

/* Ring layouts: avail = flags, idx, ring[size], used_event;
 * used = flags, idx, {id, len}[size], avail_event. */
#define AVAIL_BYTES(size) (6 + 2 * (uint64_t) (size))
#define USED_BYTES(size)  (6 + 8 * (uint64_t) (size))

/* The rings were checked to lie in RAM at setup and guest RAM never moves,
 * so these lookups cannot fail afterwards. */
static uint16_t *
avail_field (const VivVirtqueue *vq, unsigned slot)
{
  return viv_guest_memory_ptr (vq->mem, vq->avail_gpa + 2 * (uint64_t) slot, 2);
}

static uint16_t *
used_field (const VivVirtqueue *vq, unsigned slot)
{
  return viv_guest_memory_ptr (vq->mem, vq->used_gpa + 2 * (uint64_t) slot, 2);
}

/* Single 16-bit loads and stores: the other side may be writing the same
 * field, and the compiler must neither tear nor cache these accesses. */
static uint16_t
load16 (const uint16_t *p)
{
  return GUINT16_FROM_LE (atomic_load_explicit ((_Atomic const uint16_t *) p, memory_order_relaxed));
}

static void
store16 (uint16_t *p, uint16_t value)
{
  atomic_store_explicit ((_Atomic uint16_t *) p, GUINT16_TO_LE (value), memory_order_relaxed);
}

#define AVAIL_FLAGS  0
#define AVAIL_IDX    1
#define AVAIL_RING   2   /* + i */
#define USED_FLAGS   0
#define USED_IDX     1

static unsigned
used_event_slot (const VivVirtqueue *vq)
{
  return AVAIL_RING + vq->size;
}

static unsigned
avail_event_slot (const VivVirtqueue *vq)
{
  return (4 + 8 * (unsigned) vq->size) / 2;
}

static bool
fail (VivVirtqueue *vq, const char *format, ...) G_GNUC_PRINTF (2, 3);

static bool
fail (VivVirtqueue *vq, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_vsnprintf (vq->error, sizeof vq->error, format, args);
  va_end (args);
  return false;
}

bool
viv_virtqueue_setup (VivVirtqueue *vq, const VivGuestMemory *mem, uint16_t size,
                     uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
                     bool event_idx, bool indirect)
{
  viv_virtqueue_reset (vq);
  /* uint16_t cannot hold 65536, so only the power-of-two test remains. */
  if (size == 0 || (size & (size - 1)) != 0 || size > VIRTQ_MAX_SIZE)
    return fail (vq, "queue size %u is not a power of two between 1 and %u", size, VIRTQ_MAX_SIZE);
  if (desc_gpa % 16 != 0)
    return fail (vq, "descriptor table 0x%" G_GINT64_MODIFIER "x is not 16-byte aligned", desc_gpa);
  if (avail_gpa % 2 != 0)
    return fail (vq, "available ring 0x%" G_GINT64_MODIFIER "x is not 2-byte aligned", avail_gpa);
  if (used_gpa % 4 != 0)
    return fail (vq, "used ring 0x%" G_GINT64_MODIFIER "x is not 4-byte aligned", used_gpa);

  struct { const char *name; uint64_t gpa, len; } rings[] = {
    { "descriptor table", desc_gpa, 16 * (uint64_t) size },
    { "available ring", avail_gpa, AVAIL_BYTES (size) },
    { "used ring", used_gpa, USED_BYTES (size) },
  };
  for (unsigned i = 0; i < G_N_ELEMENTS (rings); i++)
    if (!viv_guest_memory_ptr (mem, rings[i].gpa, rings[i].len))
      return fail (vq, "%s 0x%" G_GINT64_MODIFIER "x + %" G_GUINT64_FORMAT " is outside guest memory",
                   rings[i].name, rings[i].gpa, rings[i].len);

  vq->mem = mem;
  vq->size = size;
  vq->desc_gpa = desc_gpa;
  vq->avail_gpa = avail_gpa;
  vq->used_gpa = used_gpa;
  vq->event_idx = event_idx;
  vq->indirect = indirect;
  vq->notify_wanted = true;
  return true;
}

void
viv_virtqueue_reset (VivVirtqueue *vq)
{
  memset (vq, 0, sizeof *vq);
}

static void
read_desc (const uint8_t *table, unsigned index, VirtqDesc *desc)
{
  uint8_t raw[16];
  /* One copy, then every check on the copy: the driver may change the
   * table under us, but not between our check and our use. */
  memcpy (raw, table + 16 * (size_t) index, sizeof raw);
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
  memcpy (&addr, raw, 8);
  memcpy (&len, raw + 8, 4);
  memcpy (&flags, raw + 12, 2);
  memcpy (&next, raw + 14, 2);
  desc->addr = GUINT64_FROM_LE (addr);
  desc->len = GUINT32_FROM_LE (len);
  desc->flags = GUINT16_FROM_LE (flags);
  desc->next = GUINT16_FROM_LE (next);
}

static bool
add_buffer (VivVirtqueue *vq, VivVirtqElement *elem, const VirtqDesc *desc,
            unsigned index, bool in_indirect, bool *seen_writable)
{
  const char *where = in_indirect ? "indirect descriptor" : "descriptor";
  bool writable = desc->flags & VIRTQ_DESC_F_WRITE;
  if (!writable && *seen_writable)
    return fail (vq, "%s %u is device-readable but follows a device-writable one", where, index);
  *seen_writable |= writable;
  /* An empty buffer carries nothing; it is not worth a segment. */
  if (desc->len == 0)
    return true;
  void *host = viv_guest_memory_ptr (vq->mem, desc->addr, desc->len);
  if (!host)
    return fail (vq, "%s %u points outside guest memory (0x%" G_GINT64_MODIFIER "x + %u)",
                 where, index, desc->addr, desc->len);
  struct iovec *iov = &elem->iov[elem->n_out + elem->n_in];
  iov->iov_base = host;
  iov->iov_len = desc->len;
  if (writable)
    {
      elem->n_in++;
      elem->in_bytes += desc->len;
    }
  else
    {
      elem->n_out++;
      elem->out_bytes += desc->len;
    }
  return true;
}

static bool
walk_chain (VivVirtqueue *vq, VivVirtqElement *elem, uint16_t head)
{
  const uint8_t *table = viv_guest_memory_ptr (vq->mem, vq->desc_gpa, 16 * (uint64_t) vq->size);
  unsigned table_len = vq->size;
  unsigned index = head;
  /* A chain visits each descriptor of its table at most once, so more
   * hops than the table has entries means a loop. */
  unsigned hops = 0;
  /* Every buffer descriptor counts, empty ones too, so that no chain
   * costs more than VIV_VIRTQ_MAX_SEGMENTS steps to walk. */
  unsigned total = 0;
  bool in_indirect = false;
  bool seen_writable = false;

  for (;;)
    {
      if (++hops > table_len)
        return fail (vq, "descriptor chain from head %u loops or is longer than its table (%u)",
                     head, table_len);
      VirtqDesc desc;
      read_desc (table, index, &desc);

      if (desc.flags & VIRTQ_DESC_F_INDIRECT)
        {
          if (!vq->indirect)
            return fail (vq, "descriptor %u is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated", index);
          if (in_indirect)
            return fail (vq, "indirect descriptor %u points to another indirect table", index);
          if (desc.flags & VIRTQ_DESC_F_NEXT)
            return fail (vq, "descriptor %u is indirect and has NEXT set", index);
          if (desc.len == 0 || desc.len % 16 != 0)
            return fail (vq, "indirect table of descriptor %u has length %u, not a multiple of 16",
                         index, desc.len);
          table = viv_guest_memory_ptr (vq->mem, desc.addr, desc.len);
          if (!table)
            return fail (vq, "indirect table of descriptor %u is outside guest memory (0x%"
                         G_GINT64_MODIFIER "x + %u)", index, desc.addr, desc.len);
          table_len = desc.len / 16;
          index = 0;
          hops = 0;
          in_indirect = true;
          continue;
        }

      if (++total > VIV_VIRTQ_MAX_SEGMENTS)
        return fail (vq, "descriptor chain from head %u has more than %u buffers",
                     head, VIV_VIRTQ_MAX_SEGMENTS);
      if (!add_buffer (vq, elem, &desc, index, in_indirect, &seen_writable))
        return false;
      if (!(desc.flags & VIRTQ_DESC_F_NEXT))
        return true;
      if (desc.next >= table_len)
        return fail (vq, "descriptor %u links to %u, beyond its table of %u",
                     index, desc.next, table_len);
      index = desc.next;
    }
}

int
viv_virtqueue_pop (VivVirtqueue *vq, VivVirtqElement *elem)
{
  if (vq->size == 0)
    {
      fail (vq, "queue is not set up");
      return -1;
    }
  uint16_t avail_idx = load16 (avail_field (vq, AVAIL_IDX));
  /* The entries up to avail_idx were written before it (§2.7.13). */
  atomic_thread_fence (memory_order_acquire);
  uint16_t pending = avail_idx - vq->last_avail_idx;
  if (pending == 0)
    return 0;
  if (pending > vq->size)
    {
      fail (vq, "available index %u is %u entries ahead of %u, more than the queue size %u",
            avail_idx, pending, vq->last_avail_idx, vq->size);
      return -1;
    }

  uint16_t head = load16 (avail_field (vq, AVAIL_RING + vq->last_avail_idx % vq->size));
  if (head >= vq->size)
    {
      fail (vq, "available ring entry %u names descriptor %u, beyond the queue size %u",
            vq->last_avail_idx % vq->size, head, vq->size);
      return -1;
    }

  elem->head = head;
  elem->n_out = elem->n_in = 0;
  elem->out_bytes = elem->in_bytes = 0;
  if (!walk_chain (vq, elem, head))
    return -1;

  vq->last_avail_idx++;
  /* With EVENT_IDX and notifications on, ask to be kicked once the driver
   * gets past what we have consumed. */
  if (vq->event_idx && vq->notify_wanted && !vq->polling)
    store16 (used_field (vq, avail_event_slot (vq)), vq->last_avail_idx);
  return 1;
}

void
viv_virtqueue_unpop (VivVirtqueue *vq)
{
  vq->last_avail_idx--;
}

void
viv_virtqueue_fill (VivVirtqueue *vq, unsigned offset, uint16_t head, uint32_t written)
{
  g_return_if_fail (vq->size != 0 && head < vq->size);
  unsigned slot = (uint16_t) (vq->used_idx + offset) % vq->size;
  uint32_t *entry = viv_guest_memory_ptr (vq->mem, vq->used_gpa + 4 + 8 * (uint64_t) slot, 8);
  entry[0] = GUINT32_TO_LE ((uint32_t) head);
  entry[1] = GUINT32_TO_LE (written);
}

void
viv_virtqueue_flush (VivVirtqueue *vq, unsigned count)
{
  /* The entries must be visible before the index that publishes them. */
  atomic_thread_fence (memory_order_release);
  vq->used_idx += count;
  store16 (used_field (vq, USED_IDX), vq->used_idx);
}

void
viv_virtqueue_push (VivVirtqueue *vq, uint16_t head, uint32_t written)
{
  viv_virtqueue_fill (vq, 0, head, written);
  viv_virtqueue_flush (vq, 1);
}

/* §2.7.10: interrupt if the driver's event index lies in (old, new]. */
static bool
need_event (uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
  return (uint16_t) (new_idx - event - 1) < (uint16_t) (new_idx - old_idx);
}

bool
viv_virtqueue_should_interrupt (VivVirtqueue *vq)
{
  if (vq->size == 0)
    return false;
  /* Our used index store must be visible before we read the driver's
   * suppression fields, or both sides could skip the wake-up. */
  atomic_thread_fence (memory_order_seq_cst);
  if (!vq->event_idx)
    return !(load16 (avail_field (vq, AVAIL_FLAGS)) & VIRTQ_AVAIL_F_NO_INTERRUPT);

  uint16_t old_idx = vq->signalled_used;
  bool valid = vq->signalled_used_valid;
  vq->signalled_used = vq->used_idx;
  vq->signalled_used_valid = true;
  if (!valid)
    return true;
  uint16_t used_event = load16 (avail_field (vq, used_event_slot (vq)));
  return need_event (used_event, vq->used_idx, old_idx);
}

bool
viv_virtqueue_has_available (VivVirtqueue *vq)
{
  if (vq->size == 0)
    return false;
  return load16 (avail_field (vq, AVAIL_IDX)) != vq->last_avail_idx;
}

/* Writes what the driver reads to decide whether to notify. */
static void
publish_notification (VivVirtqueue *vq, bool enable)
{
  if (vq->size == 0)
    return;
  if (vq->event_idx)
    {
      /* On: a kick for the next buffer.  Off: avail_event half the index
       * space away from anything the driver can reach (it is never more
       * than a queue size ahead of us), so no kick comes. */
      uint16_t event = enable ? load16 (avail_field (vq, AVAIL_IDX))
                              : (uint16_t) (vq->last_avail_idx + 0x8000);
      store16 (used_field (vq, avail_event_slot (vq)), event);
    }
  else
    store16 (used_field (vq, USED_FLAGS), enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
  /* The caller re-checks has_available next: that read must not pass
   * this write (the driver does the mirror image). */
  atomic_thread_fence (memory_order_seq_cst);
}

void
viv_virtqueue_set_notification (VivVirtqueue *vq, bool enable)
{
  vq->notify_wanted = enable;
  if (!vq->polling)
    publish_notification (vq, enable);
}

void
viv_virtqueue_set_polling (VivVirtqueue *vq, bool polling)
{
  if (vq->polling == polling)
    return;
  vq->polling = polling;
  publish_notification (vq, polling ? false : vq->notify_wanted);
}

size_t
viv_virtq_copy_from_out (const VivVirtqElement *elem, size_t offset, void *dst, size_t len)
{
  size_t done = 0;
  for (unsigned i = 0; i < elem->n_out && done < len; i++)
    {
      const struct iovec *iov = &elem->iov[i];
      if (offset >= iov->iov_len)
        {
          offset -= iov->iov_len;
          continue;
        }
      size_t n = MIN (iov->iov_len - offset, len - done);
      memcpy ((uint8_t *) dst + done, (const uint8_t *) iov->iov_base + offset, n);
      done += n;
      offset = 0;
    }
  return done;
}

size_t
viv_virtq_copy_to_in (const VivVirtqElement *elem, size_t offset, const void *src, size_t len)
{
  size_t done = 0;
  for (unsigned i = elem->n_out; i < elem->n_out + elem->n_in && done < len; i++)
    {
      const struct iovec *iov = &elem->iov[i];
      if (offset >= iov->iov_len)
        {
          offset -= iov->iov_len;
          continue;
        }
      size_t n = MIN (iov->iov_len - offset, len - done);
      memcpy ((uint8_t *) iov->iov_base + offset, (const uint8_t *) src + done, n);
      done += n;
      offset = 0;
    }
  return done;
}
