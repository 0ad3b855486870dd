/* virtio console (virtio 1.2 §5.3) with a single port: receiveq 0 carries
 * host input to the guest, transmitq 1 guest output to the host.
 *
 * Host input that finds no receive buffer waits in a bounded pending
 * buffer; past its end, viv_virtio_console_receive refuses bytes and the
 * host is told through the rx-ready callback once the guest posts buffers
 * again (the same contract as viv_serial_receive).
 *
 * Locking: the transport's device lock covers everything here; the
 * host-side calls take it themselves.  The rx-ready callback runs from an
 * idle source on the I/O thread, so that it is called unlocked. */
#include "devices/virtio_console.h"

#include <string.h>

#define CONSOLE_QUEUE_SIZE 256
#define RECEIVEQ 0
#define TRANSMITQ 1

/* Feature bits (§5.3.3). */
#define VIRTIO_CONSOLE_F_SIZE        0
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* Config layout (§5.3.4): le16 cols, le16 rows, le32 max_nr_ports
 * (MULTIPORT only), le32 emerg_wr (EMERG_WRITE only). */
#define CONFIG_COLS     0
#define CONFIG_ROWS     2
#define CONFIG_EMERG_WR 8
#define CONFIG_SIZE     12

struct VivVirtioConsole {
  VivVirtioDevice *vdev;
  VivByteSink output;
  void (*rx_ready_cb) (void *ctx);
  void *rx_ready_ctx;
  GSource *rx_ready_source;   /* scheduled, not run yet */

  uint16_t cols, rows;
  uint64_t features;
  bool active;                /* DRIVER_OK seen, no reset since */
  bool broken;                /* we asked for a reset; wait for it */

  uint8_t pending[VIV_VIRTIO_CONSOLE_RX_PENDING_MAX];
  size_t pending_len;
  bool host_waiting;          /* receive refused bytes: call rx-ready */

  VivVirtqElement elem;
};

static void
console_fail (VivVirtioConsole *c, const char *why)
{
  c->broken = true;
  viv_virtio_device_needs_reset (c->vdev, why);
}

static VivVirtqueue *
usable_queue (VivVirtioConsole *c, unsigned index)
{
  VivVirtqueue *vq = viv_virtio_device_queue (c->vdev, index);
  if (!c->active || c->broken || vq->size == 0)
    return NULL;
  return vq;
}

/* Copies as much of data as the posted receive buffers hold into them;
 * returns how many bytes went in. */
static size_t
deliver (VivVirtioConsole *c, const uint8_t *data, size_t len)
{
  VivVirtqueue *vq = usable_queue (c, RECEIVEQ);
  size_t done = 0;
  bool pushed = false;

  while (vq && done < len && !c->broken)
    {
      int r = viv_virtqueue_pop (vq, &c->elem);
      if (r == 0)
        break;
      if (r < 0)
        {
          console_fail (c, vq->error);
          break;
        }
      /* §5.3.6.1: "The driver MUST NOT put a device-readable buffer in a
       * receiveq." */
      if (c->elem.n_out > 0)
        {
          console_fail (c, "device-readable buffer in the receive queue");
          break;
        }
      size_t n = viv_virtq_copy_to_in (&c->elem, 0, data + done, len - done);
      viv_virtqueue_push (vq, c->elem.head, (uint32_t) n);
      pushed = true;
      done += n;
    }
  if (pushed)
    viv_virtio_device_notify_used (c->vdev, RECEIVEQ);
  return done;
}

static void
flush_pending (VivVirtioConsole *c)
{
  if (c->pending_len == 0)
    return;
  size_t n = deliver (c, c->pending, c->pending_len);
  memmove (c->pending, c->pending + n, c->pending_len - n);
  c->pending_len -= n;
}

static gboolean
rx_ready_dispatch_cb (gpointer data)
{
  VivVirtioConsole *c = data;
  void (*cb) (void *) = NULL;
  void *ctx = NULL;

  /* Only console_destroy destroys this source, and it runs once the I/O
   * thread has stopped: c is alive here. */
  viv_virtio_device_lock (c->vdev);
  cb = c->rx_ready_cb;
  ctx = c->rx_ready_ctx;
  g_clear_pointer (&c->rx_ready_source, g_source_unref);
  viv_virtio_device_unlock (c->vdev);

  if (cb)
    cb (ctx);
  return G_SOURCE_REMOVE;
}

/* The guest took pending input: if the host was refused bytes, tell it. */
static void
check_rx_ready (VivVirtioConsole *c)
{
  if (!c->host_waiting || c->pending_len == sizeof c->pending || c->rx_ready_source)
    return;
  c->host_waiting = false;
  c->rx_ready_source = g_idle_source_new ();
  g_source_set_name (c->rx_ready_source, "virtio-console rx ready");
  g_source_set_callback (c->rx_ready_source, rx_ready_dispatch_cb, c, NULL);
  g_source_attach (c->rx_ready_source, viv_virtio_device_context (c->vdev));
}

static void
transmit (VivVirtioConsole *c)
{
  VivVirtqueue *vq = usable_queue (c, TRANSMITQ);
  bool pushed = false;

  while (vq && !c->broken)
    {
      int r = viv_virtqueue_pop (vq, &c->elem);
      if (r == 0)
        break;
      if (r < 0)
        {
          console_fail (c, vq->error);
          break;
        }
      /* §5.3.6.1: "The driver MUST NOT put a device-writable buffer in a
       * transmitq." */
      if (c->elem.n_in > 0)
        {
          console_fail (c, "device-writable buffer in the transmit queue");
          break;
        }
      for (unsigned i = 0; i < c->elem.n_out; i++)
        if (c->output.write && c->elem.iov[i].iov_len > 0)
          c->output.write (c->output.ctx, c->elem.iov[i].iov_base, c->elem.iov[i].iov_len);
      viv_virtqueue_push (vq, c->elem.head, 0);
      pushed = true;
    }
  if (pushed)
    viv_virtio_device_notify_used (c->vdev, TRANSMITQ);
}

static uint64_t
console_get_features (void *dev)
{
  (void) dev;
  return (1ull << VIRTIO_CONSOLE_F_SIZE) | (1ull << VIRTIO_CONSOLE_F_EMERG_WRITE);
}

static bool
console_set_features (void *dev, uint64_t features)
{
  VivVirtioConsole *c = dev;
  c->features = features;
  return true;
}

static void
console_read_config (void *dev, uint32_t offset, void *data, unsigned size)
{
  VivVirtioConsole *c = dev;
  uint8_t config[CONFIG_SIZE] = { 0 };
  uint16_t cols = GUINT16_TO_LE (c->cols), rows = GUINT16_TO_LE (c->rows);
  memcpy (config + CONFIG_COLS, &cols, sizeof cols);
  memcpy (config + CONFIG_ROWS, &rows, sizeof rows);
  memcpy (data, config + offset, size);
}

static void
console_write_config (void *dev, uint32_t offset, const void *data, unsigned size)
{
  VivVirtioConsole *c = dev;
  /* §5.3.4: writing emerg_wr outputs its low byte, even before DRIVER_OK
   * (that is what it is for: early or last-gasp output). */
  if (offset == CONFIG_EMERG_WR && size == 4 && c->output.write
      && (c->features & (1ull << VIRTIO_CONSOLE_F_EMERG_WRITE)))
    {
      uint8_t byte = ((const uint8_t *) data)[0];   /* little-endian low byte */
      c->output.write (c->output.ctx, &byte, 1);
    }
}

static void
console_activate (void *dev)
{
  VivVirtioConsole *c = dev;
  c->active = true;
  flush_pending (c);
  check_rx_ready (c);
  transmit (c);
}

static void
console_queue_notify (void *dev, unsigned index)
{
  VivVirtioConsole *c = dev;
  if (index == RECEIVEQ)
    {
      flush_pending (c);
      check_rx_ready (c);
    }
  else if (index == TRANSMITQ)
    transmit (c);
}

static void
console_reset (void *dev)
{
  VivVirtioConsole *c = dev;
  /* Pending host input stays: it was typed for whoever drives the console
   * next, e.g. the driver that resets the device while probing it. */
  c->active = false;
  c->broken = false;
  c->features = 0;
}

static void
console_destroy (void *dev)
{
  VivVirtioConsole *c = dev;
  if (c->rx_ready_source)
    {
      g_source_destroy (c->rx_ready_source);
      g_source_unref (c->rx_ready_source);
    }
  g_free (c);
}

static const VivVirtioDeviceOps console_ops = {
  .name = "virtio-console",
  .device_id = VIRTIO_ID_CONSOLE,
  .n_queues = 2,
  .queue_size_max = CONSOLE_QUEUE_SIZE,
  .config_size = CONFIG_SIZE,
  .get_features = console_get_features,
  .set_features = console_set_features,
  .read_config = console_read_config,
  .write_config = console_write_config,
  .activate = console_activate,
  .queue_notify = console_queue_notify,
  .reset = console_reset,
  .destroy = console_destroy,
};

VivVirtioConsole *
viv_virtio_console_new (VivVirtioDevice *vdev, VivByteSink output)
{
  g_return_val_if_fail (vdev != NULL, NULL);
  VivVirtioConsole *c = g_new0 (VivVirtioConsole, 1);
  c->vdev = vdev;
  c->output = output;
  c->cols = 80;
  c->rows = 25;
  viv_virtio_device_bind (vdev, &console_ops, c);
  return c;
}

size_t
viv_virtio_console_receive (VivVirtioConsole *c, const uint8_t *buf, size_t len)
{
  g_return_val_if_fail (c != NULL, 0);
  g_return_val_if_fail (buf != NULL || len == 0, 0);
  if (len == 0)
    return 0;

  viv_virtio_device_lock (c->vdev);
  flush_pending (c);
  size_t taken = 0;
  if (c->pending_len == 0)
    taken = deliver (c, buf, len);
  size_t room = sizeof c->pending - c->pending_len;
  size_t queued = MIN (room, len - taken);
  if (queued > 0)
    memcpy (c->pending + c->pending_len, buf + taken, queued);
  c->pending_len += queued;
  taken += queued;
  if (taken < len)
    c->host_waiting = true;
  viv_virtio_device_unlock (c->vdev);
  return taken;
}

void
viv_virtio_console_set_rx_ready_cb (VivVirtioConsole *c, void (*cb) (void *ctx), void *ctx)
{
  g_return_if_fail (c != NULL);
  viv_virtio_device_lock (c->vdev);
  c->rx_ready_cb = cb;
  c->rx_ready_ctx = ctx;
  viv_virtio_device_unlock (c->vdev);
}

void
viv_virtio_console_set_size (VivVirtioConsole *c, uint16_t cols, uint16_t rows)
{
  g_return_if_fail (c != NULL);
  viv_virtio_device_lock (c->vdev);
  bool changed = cols != c->cols || rows != c->rows;
  c->cols = cols;
  c->rows = rows;
  if (changed)
    viv_virtio_device_config_changed (c->vdev);
  viv_virtio_device_unlock (c->vdev);
}
