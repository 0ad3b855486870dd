/* virtio-blk (virtio 1.2 §5.2): requests from the queues become
 * asynchronous block-layer requests; their completions (on the I/O
 * thread) write the status byte and return the buffers.
 *
 * Locking: every op runs under the transport's device lock (recursive),
 * and completions take it.  A reset bumps `generation` and waits for the
 * image's I/O to finish (the data buffers are guest memory the driver may
 * reuse at once); completions of older generations only free themselves.
 * The reset never waits for a completion callback, so a callback blocked
 * on the device lock cannot deadlock it. */
#include "devices/virtio_blk.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define QUEUE_SIZE 256
#define SECTOR 512u

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (§5.2.6). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_WZ_FLAG_UNMAP 1u

#define HEADER_SIZE 16            /* le32 type, le32 reserved, le64 sector */
#define RANGE_SIZE  16            /* le64 sector, le32 num_sectors, le32 flags */

/* What we advertise. */
#define SEG_MAX        (QUEUE_SIZE - 2)
#define SIZE_MAX_BYTES (1u << 20)
/* Longer reads and writes are refused: segments may overlap, so a guest
 * could otherwise ask for far more than its RAM (and bounce buffers). */
#define MAX_TRANSFER   ((uint64_t) SEG_MAX * SIZE_MAX_BYTES)
#define MAX_RANGES     32
#define MAX_RANGE_SECTORS ((1u << 30) / SECTOR)

/* Config space layout (§5.2.4), as far as write_zeroes_may_unmap. */
enum {
  CFG_CAPACITY = 0, CFG_SIZE_MAX = 8, CFG_SEG_MAX = 12, CFG_BLK_SIZE = 20,
  CFG_PHYSICAL_BLOCK_EXP = 24, CFG_ALIGNMENT_OFFSET = 25, CFG_MIN_IO_SIZE = 26,
  CFG_OPT_IO_SIZE = 28, CFG_NUM_QUEUES = 34, CFG_MAX_DISCARD_SECTORS = 36,
  CFG_MAX_DISCARD_SEG = 40, CFG_DISCARD_SECTOR_ALIGNMENT = 44,
  CFG_MAX_WRITE_ZEROES_SECTORS = 48, CFG_MAX_WRITE_ZEROES_SEG = 52,
  CFG_WRITE_ZEROES_MAY_UNMAP = 56,
  CONFIG_SIZE = 60,
};

struct VivVirtioBlk {
  VivVirtioDevice    *vdev;
  VivVirtioDeviceOps  ops;       /* n_queues is per device */
  VivBlock           *image;
  uint64_t            sectors;
  uint32_t            alignment;
  uint64_t            offered;
  uint64_t            features;  /* negotiated */
  uint64_t            generation;
  bool                broken;    /* asked for a reset; ignore kicks until it comes */
  uint8_t             config[CONFIG_SIZE];
  char                serial[VIV_VIRTIO_BLK_SERIAL_LEN];
  VivVirtioBlkStats   stats;
  VivVirtqElement     elem;      /* scratch for pop, under the device lock */
};

typedef struct {
  VivVirtioBlk *blk;
  uint64_t      generation;
  unsigned      queue;
  uint16_t      head;
  uint32_t      type;
  uint8_t      *status;          /* the last device-writable byte */
  uint32_t      written;         /* used length on success */
  uint64_t      bytes;
  uint64_t      start_ns;
  gint          pending;         /* block requests still running (atomic: their */
  gint          error;           /* callbacks may run on two threads in a reset) */
  bool          flush_after;     /* write with FLUSH not negotiated */
  unsigned      n_iov;
  struct iovec  iov[];
} BlkRequest;

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static bool
negotiated (const VivVirtioBlk *blk, unsigned bit)
{
  return blk->features & (UINT64_C (1) << bit);
}

static void
account (VivVirtioBlk *blk, const BlkRequest *req, uint8_t status)
{
  VivVirtioBlkStats *s = &blk->stats;
  uint64_t ns = now_ns () - req->start_ns;
  if (status != VIRTIO_BLK_S_OK)
    s->errors++;
  bool ok = status == VIRTIO_BLK_S_OK;
  switch (req->type) {
  case VIRTIO_BLK_T_IN:
    s->read_ops++;
    s->read_bytes += ok ? req->bytes : 0;
    s->read_ns += ns;
    break;
  case VIRTIO_BLK_T_OUT:
    s->write_ops++;
    s->write_bytes += ok ? req->bytes : 0;
    s->write_ns += ns;
    break;
  case VIRTIO_BLK_T_FLUSH:
    s->flush_ops++;
    s->flush_ns += ns;
    break;
  case VIRTIO_BLK_T_DISCARD:
    s->discard_ops++;
    break;
  case VIRTIO_BLK_T_WRITE_ZEROES:
    s->write_zeroes_ops++;
    break;
  default:
    break;
  }
}

/* Answers the request (unless a reset came in between) and frees it. */
static void
finish (BlkRequest *req, uint8_t status)
{
  VivVirtioBlk *blk = req->blk;
  viv_virtio_device_lock (blk->vdev);
  if (req->generation == blk->generation) {
    *req->status = status;
    VivVirtqueue *vq = viv_virtio_device_queue (blk->vdev, req->queue);
    viv_virtqueue_push (vq, req->head, status == VIRTIO_BLK_S_OK ? req->written : 1);
    viv_virtio_device_notify_used (blk->vdev, req->queue);
    account (blk, req, status);
  }
  viv_virtio_device_unlock (blk->vdev);
  g_free (req);
}

static void
on_flush_after_write (void *opaque, int ret)
{
  BlkRequest *req = opaque;
  finish (req, ret == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

static void
on_block_done (void *opaque, int ret)
{
  BlkRequest *req = opaque;
  if (ret < 0)
    g_atomic_int_compare_and_exchange (&req->error, 0, ret);
  if (!g_atomic_int_dec_and_test (&req->pending))
    return;
  if (req->error == 0 && req->flush_after) {
    req->flush_after = false;
    viv_block_flush (req->blk->image, on_flush_after_write, req);
    return;
  }
  finish (req, req->error == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

/* Segments covering bytes [offset, offset+len) of elem's segments
 * [first, first+count). */
static unsigned
slice_iov (const struct iovec *seg, unsigned count, uint64_t offset, uint64_t len,
           struct iovec *out)
{
  unsigned n = 0;
  for (unsigned i = 0; i < count && len > 0; i++) {
    if (offset >= seg[i].iov_len) {
      offset -= seg[i].iov_len;
      continue;
    }
    size_t take = MIN (seg[i].iov_len - offset, len);
    out[n++] = (struct iovec) { (uint8_t *) seg[i].iov_base + offset, take };
    len -= take;
    offset = 0;
  }
  return n;
}

static uint8_t *
status_byte (const VivVirtqElement *elem)
{
  /* The virtqueue drops empty buffers, so the last segment is not empty. */
  const struct iovec *last = &elem->iov[elem->n_out + elem->n_in - 1];
  return (uint8_t *) last->iov_base + last->iov_len - 1;
}

static bool
range_ok (const VivVirtioBlk *blk, uint64_t sector, uint64_t bytes)
{
  /* In range first: then sector × 512 cannot overflow. */
  return sector <= blk->sectors && bytes / SECTOR <= blk->sectors - sector
         && bytes % blk->alignment == 0 && (sector * SECTOR) % blk->alignment == 0;
}

/* DISCARD and WRITE_ZEROES: every range is checked before any starts. */
static uint8_t
start_ranges (VivVirtioBlk *blk, BlkRequest *req, const VivVirtqElement *elem)
{
  bool discard = req->type == VIRTIO_BLK_T_DISCARD;
  if (!negotiated (blk, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))
    return VIRTIO_BLK_S_UNSUPP;
  if (viv_block_is_read_only (blk->image))
    return VIRTIO_BLK_S_IOERR;
  uint64_t len = elem->out_bytes - HEADER_SIZE;
  if (len == 0 || len % RANGE_SIZE != 0 || len / RANGE_SIZE > MAX_RANGES)
    return VIRTIO_BLK_S_IOERR;
  unsigned n = (unsigned) (len / RANGE_SIZE);
  struct { uint64_t sector; uint32_t sectors, flags; } ranges[MAX_RANGES];
  for (unsigned i = 0; i < n; i++) {
    uint8_t raw[RANGE_SIZE];
    viv_virtq_copy_from_out (elem, HEADER_SIZE + i * RANGE_SIZE, raw, RANGE_SIZE);
    uint64_t sector;
    uint32_t sectors, flags;
    memcpy (&sector, raw, 8);
    memcpy (&sectors, raw + 8, 4);
    memcpy (&flags, raw + 12, 4);
    ranges[i].sector = GUINT64_FROM_LE (sector);
    ranges[i].sectors = GUINT32_FROM_LE (sectors);
    ranges[i].flags = GUINT32_FROM_LE (flags);
    /* §5.2.6.2: unknown flags, and unmap on a discard, are unsupported. */
    if ((ranges[i].flags & ~VIRTIO_BLK_WZ_FLAG_UNMAP)
        || (discard && ranges[i].flags))
      return VIRTIO_BLK_S_UNSUPP;
    if (ranges[i].sectors > MAX_RANGE_SECTORS
        || !range_ok (blk, ranges[i].sector, (uint64_t) ranges[i].sectors * SECTOR))
      return VIRTIO_BLK_S_IOERR;
  }
  req->pending = (gint) n;
  for (unsigned i = 0; i < n; i++) {
    uint64_t offset = ranges[i].sector * SECTOR, bytes = (uint64_t) ranges[i].sectors * SECTOR;
    req->bytes += bytes;
    if (discard)
      viv_block_discard (blk->image, offset, bytes, on_block_done, req);
    else
      viv_block_write_zeroes (blk->image, offset, bytes,
                              ranges[i].flags & VIRTIO_BLK_WZ_FLAG_UNMAP
                              ? VIV_BLOCK_ZERO_MAY_UNMAP : 0, on_block_done, req);
  }
  return VIRTIO_BLK_S_OK;
}

/* Starts one request.  Returns false if the layout broke the rules (the
 * device then needs a reset); otherwise the request is answered now or by
 * its completion. */
static bool
handle_request (VivVirtioBlk *blk, unsigned queue, const VivVirtqElement *elem)
{
  /* §5.2.6: a readable header, then data, then the status byte, which
   * must be device-writable. */
  if (elem->out_bytes < HEADER_SIZE || elem->in_bytes < 1) {
    char why[160];
    g_snprintf (why, sizeof why, "virtio-blk request %u: %" G_GUINT64_FORMAT " readable "
                "bytes (the header needs 16) and %" G_GUINT64_FORMAT " writable (the status "
                "needs 1)", elem->head, elem->out_bytes, elem->in_bytes);
    viv_virtio_device_needs_reset (blk->vdev, why);
    return false;
  }
  uint8_t raw[HEADER_SIZE];
  viv_virtq_copy_from_out (elem, 0, raw, HEADER_SIZE);
  uint32_t type;
  uint64_t sector;
  memcpy (&type, raw, 4);
  memcpy (&sector, raw + 8, 8);
  type = GUINT32_FROM_LE (type);
  sector = GUINT64_FROM_LE (sector);

  BlkRequest *req = g_malloc0 (sizeof *req + (elem->n_out + elem->n_in) * sizeof (struct iovec));
  req->blk = blk;
  req->generation = blk->generation;
  req->queue = queue;
  req->head = elem->head;
  req->type = type;
  req->status = status_byte (elem);
  req->written = 1;
  req->start_ns = now_ns ();
  req->pending = 1;

  const struct iovec *out = elem->iov, *in = elem->iov + elem->n_out;
  uint8_t status = VIRTIO_BLK_S_OK;
  switch (type) {
  case VIRTIO_BLK_T_IN:
  case VIRTIO_BLK_T_OUT: {
    bool write = type == VIRTIO_BLK_T_OUT;
    uint64_t len = write ? elem->out_bytes - HEADER_SIZE : elem->in_bytes - 1;
    req->n_iov = write ? slice_iov (out, elem->n_out, HEADER_SIZE, len, req->iov)
                       : slice_iov (in, elem->n_in, 0, len, req->iov);
    req->bytes = len;
    req->written = write ? 1 : (uint32_t) MIN (elem->in_bytes, UINT32_MAX);
    if (len % SECTOR != 0 || len > MAX_TRANSFER || !range_ok (blk, sector, len))
      status = VIRTIO_BLK_S_IOERR;
    else if (write && viv_block_is_read_only (blk->image))
      status = VIRTIO_BLK_S_IOERR;
    else if (write) {
      req->flush_after = !negotiated (blk, VIRTIO_BLK_F_FLUSH);
      viv_block_writev (blk->image, sector * SECTOR, req->iov, req->n_iov, on_block_done, req);
    } else {
      viv_block_readv (blk->image, sector * SECTOR, req->iov, req->n_iov, on_block_done, req);
    }
    break;
  }
  case VIRTIO_BLK_T_FLUSH:
    viv_block_flush (blk->image, on_block_done, req);
    break;
  case VIRTIO_BLK_T_GET_ID: {
    size_t room = MIN (elem->in_bytes - 1, VIV_VIRTIO_BLK_SERIAL_LEN);
    req->written = (uint32_t) viv_virtq_copy_to_in (elem, 0, blk->serial, room) + 1;
    status = VIRTIO_BLK_S_OK;
    finish (req, status);
    return true;
  }
  case VIRTIO_BLK_T_DISCARD:
  case VIRTIO_BLK_T_WRITE_ZEROES:
    status = start_ranges (blk, req, elem);
    break;
  default:
    status = VIRTIO_BLK_S_UNSUPP;
  }
  if (status != VIRTIO_BLK_S_OK)
    finish (req, status);
  return true;
}

static void
blk_queue_notify (void *dev, unsigned index)
{
  VivVirtioBlk *blk = dev;
  VivVirtqueue *vq = viv_virtio_device_queue (blk->vdev, index);
  if (blk->broken || !vq)
    return;
  viv_block_plug (blk->image);
  for (;;) {
    viv_virtqueue_set_notification (vq, false);
    int got;
    while ((got = viv_virtqueue_pop (vq, &blk->elem)) > 0)
      if (!handle_request (blk, index, &blk->elem)) {
        blk->broken = true;
        break;
      }
    if (got < 0) {
      char why[200];
      g_snprintf (why, sizeof why, "virtio-blk queue %u: %s", index, vq->error);
      viv_virtio_device_needs_reset (blk->vdev, why);
      blk->broken = true;
    }
    if (blk->broken)
      break;
    viv_virtqueue_set_notification (vq, true);
    if (!viv_virtqueue_has_available (vq))
      break;
  }
  viv_block_unplug (blk->image);
}

static uint64_t
blk_get_features (void *dev)
{
  VivVirtioBlk *blk = dev;
  return blk->offered;
}

static bool
blk_set_features (void *dev, uint64_t features)
{
  VivVirtioBlk *blk = dev;
  blk->features = features;
  return true;
}

static void
blk_read_config (void *dev, uint32_t offset, void *data, unsigned size)
{
  VivVirtioBlk *blk = dev;
  memcpy (data, blk->config + offset, size);
}

static void
blk_reset (void *dev)
{
  VivVirtioBlk *blk = dev;
  blk->generation++;
  /* The buffers of requests still running are guest memory the driver
   * takes back now: let their I/O finish first. */
  viv_block_drain (blk->image);
  blk->features = 0;
  blk->broken = false;
}

static void
blk_destroy (void *dev)
{
  VivVirtioBlk *blk = dev;
  blk->generation++;
  viv_block_close (blk->image);
  g_free (blk);
}

static const VivVirtioDeviceOps blk_ops_template = {
  .name = "virtio-blk",
  .device_id = VIRTIO_ID_BLOCK,
  .queue_size_max = QUEUE_SIZE,
  .config_size = CONFIG_SIZE,
  .poll_queues = true,
  .get_features = blk_get_features,
  .set_features = blk_set_features,
  .read_config = blk_read_config,
  .queue_notify = blk_queue_notify,
  .reset = blk_reset,
  .destroy = blk_destroy,
};

static void
put16 (uint8_t *config, unsigned offset, uint16_t value)
{
  value = GUINT16_TO_LE (value);
  memcpy (config + offset, &value, 2);
}

static void
put32 (uint8_t *config, unsigned offset, uint32_t value)
{
  value = GUINT32_TO_LE (value);
  memcpy (config + offset, &value, 4);
}

static void
put64 (uint8_t *config, unsigned offset, uint64_t value)
{
  value = GUINT64_TO_LE (value);
  memcpy (config + offset, &value, 8);
}

static void
build_config (VivVirtioBlk *blk, unsigned n_queues)
{
  VivBlock *image = blk->image;
  uint32_t physical = MAX (viv_block_physical_block_size (image), blk->alignment);
  uint8_t *c = blk->config;
  put64 (c, CFG_CAPACITY, blk->sectors);
  put32 (c, CFG_SIZE_MAX, SIZE_MAX_BYTES);
  put32 (c, CFG_SEG_MAX, SEG_MAX);
  put32 (c, CFG_BLK_SIZE, blk->alignment);
  c[CFG_PHYSICAL_BLOCK_EXP] = (uint8_t) g_bit_nth_msf (physical / blk->alignment, -1);
  c[CFG_ALIGNMENT_OFFSET] = 0;
  put16 (c, CFG_MIN_IO_SIZE, (uint16_t) (physical / blk->alignment));
  put32 (c, CFG_OPT_IO_SIZE, 0);
  put16 (c, CFG_NUM_QUEUES, (uint16_t) n_queues);
  uint32_t discard_alignment = MAX (physical, 4096u) / SECTOR;
  put32 (c, CFG_MAX_DISCARD_SECTORS, MAX_RANGE_SECTORS);
  put32 (c, CFG_MAX_DISCARD_SEG, MAX_RANGES);
  put32 (c, CFG_DISCARD_SECTOR_ALIGNMENT, discard_alignment);
  put32 (c, CFG_MAX_WRITE_ZEROES_SECTORS, MAX_RANGE_SECTORS);
  put32 (c, CFG_MAX_WRITE_ZEROES_SEG, MAX_RANGES);
  c[CFG_WRITE_ZEROES_MAY_UNMAP] = 1;

  blk->offered = (UINT64_C (1) << VIRTIO_BLK_F_SIZE_MAX) | (UINT64_C (1) << VIRTIO_BLK_F_SEG_MAX)
                 | (UINT64_C (1) << VIRTIO_BLK_F_BLK_SIZE) | (UINT64_C (1) << VIRTIO_BLK_F_FLUSH)
                 | (UINT64_C (1) << VIRTIO_BLK_F_TOPOLOGY);
  if (n_queues > 1)
    blk->offered |= UINT64_C (1) << VIRTIO_BLK_F_MQ;
  if (viv_block_is_read_only (image)) {
    blk->offered |= UINT64_C (1) << VIRTIO_BLK_F_RO;
  } else {
    unsigned caps = viv_block_capabilities (image);
    if (caps & VIV_BLOCK_CAP_DISCARD)
      blk->offered |= UINT64_C (1) << VIRTIO_BLK_F_DISCARD;
    if (caps & VIV_BLOCK_CAP_WRITE_ZEROES)
      blk->offered |= UINT64_C (1) << VIRTIO_BLK_F_WRITE_ZEROES;
  }
}

VivVirtioBlk *
viv_virtio_blk_new (VivVirtioDevice *vdev, VivBlock *image, const char *serial,
                    unsigned n_queues, GError **error)
{
  if (n_queues < 1 || n_queues > VIV_VIRTIO_BLK_MAX_QUEUES) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "virtio-blk for “%s”: %u queues asked for; give 1 to %u (one per vCPU)",
                 viv_block_path (image), n_queues, VIV_VIRTIO_BLK_MAX_QUEUES);
    return NULL;
  }
  if (serial && strlen (serial) > VIV_VIRTIO_BLK_SERIAL_LEN) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "virtio-blk for “%s”: serial “%s” is longer than %u bytes; shorten it",
                 viv_block_path (image), serial, VIV_VIRTIO_BLK_SERIAL_LEN);
    return NULL;
  }
  VivVirtioBlk *blk = g_new0 (VivVirtioBlk, 1);
  blk->vdev = vdev;
  blk->image = image;
  blk->sectors = viv_block_length (image) / SECTOR;
  blk->alignment = viv_block_alignment (image);
  if (serial)
    memcpy (blk->serial, serial, strlen (serial));
  build_config (blk, n_queues);
  blk->ops = blk_ops_template;
  blk->ops.n_queues = n_queues;
  viv_virtio_device_bind (vdev, &blk->ops, blk);
  return blk;
}

void
viv_virtio_blk_get_stats (VivVirtioBlk *blk, VivVirtioBlkStats *stats)
{
  viv_virtio_device_lock (blk->vdev);
  *stats = blk->stats;
  viv_virtio_device_unlock (blk->vdev);
}

VivBlock *
viv_virtio_blk_image (VivVirtioBlk *blk)
{
  return blk->image;
}
