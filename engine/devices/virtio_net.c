/* virtio-net (virtio 1.2 §5.1) over a VivNetBackend.
 *
 * TX (queue 1): each chain is a 12-byte header and a frame.  The frame is
 * copied out of guest memory once (so the guest cannot change it while we
 * checksum it), a partial checksum is completed, and the backend gets it.
 * RX (queue 0): a frame from the backend is written behind a header into
 * one buffer, or several with MRG_RXBUF (num_buffers says how many).  With
 * no buffers the backend is told "no room" and resumed on the next rx
 * kick.
 *
 * A broken ring or descriptor layout (device-writable tx buffers, chains
 * too short for the header) makes the device NEEDS_RESET; a bad frame or
 * header field only costs that frame (counted as dropped). */
#include <string.h>

#include "devices/virtio_net.h"

#define NET_QUEUE_SIZE 256
#define RX_QUEUE 0
#define TX_QUEUE 1
/* Chains handled per run before yielding the I/O thread to others. */
#define TX_BATCH 256

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_S_LINK_UP        1

/* mac[6], status (le16), max_virtqueue_pairs (le16). */
#define NET_CONFIG_SIZE 10

#define FEATURE(bit) (UINT64_C (1) << (bit))
#define NET_FEATURES (FEATURE (VIRTIO_NET_F_CSUM) | FEATURE (VIRTIO_NET_F_GUEST_CSUM)    \
                      | FEATURE (VIRTIO_NET_F_MAC) | FEATURE (VIRTIO_NET_F_MRG_RXBUF) \
                      | FEATURE (VIRTIO_NET_F_STATUS))

typedef struct {
  uint16_t head;
  uint32_t len;
} RxUsed;

typedef struct {
  GSource       source;
  VivVirtioNet *net;
} TxSource;

struct VivVirtioNet {
  VivVirtioDevice *vdev;
  VivNetBackend   *backend;
  uint8_t          mac[6];
  bool             link_up;
  uint64_t         features;
  bool             active;      /* DRIVER_OK and not reset since */
  bool             broken;      /* we asked for a reset */
  GSource         *tx_source;   /* continues a long burst of transmits */
  VivNetStats      stats;
  RxUsed           rx_used[NET_QUEUE_SIZE];
  uint8_t          tx_buf[VIV_VIRTIO_NET_HDR_LEN + VIV_NET_MAX_FRAME];
  VivVirtqElement  rx_first, rx_elem, tx_elem;
};

static void
net_fail (VivVirtioNet *net, const char *why)
{
  net->broken = true;
  viv_virtio_device_needs_reset (net->vdev, why);
}

static uint16_t
le16 (const uint8_t *p)
{
  return p[0] | p[1] << 8;
}

/* ---- receive ------------------------------------------------------------ */

/* Writes bytes [pos, pos + n) of "header then frame" at the start of elem. */
static void
rx_copy (const VivVirtqElement *elem, const uint8_t *hdr, const uint8_t *frame, size_t pos,
         size_t n)
{
  size_t done = 0;
  if (pos < VIV_VIRTIO_NET_HDR_LEN)
    {
      done = MIN (VIV_VIRTIO_NET_HDR_LEN - pos, n);
      viv_virtq_copy_to_in (elem, 0, hdr + pos, done);
    }
  if (done < n)
    viv_virtq_copy_to_in (elem, done, frame + (pos + done - VIV_VIRTIO_NET_HDR_LEN), n - done);
}

/* Device lock held.  False: no room, call again after a resume. */
static bool
rx_frame (VivVirtioNet *net, const uint8_t *frame, size_t len, unsigned flags)
{
  if (!net->active || net->broken || !net->link_up
      || len < VIV_NET_MIN_FRAME || len > VIV_NET_MAX_FRAME)
    {
      net->stats.rx_dropped++;
      return true;
    }

  VivVirtqueue *vq = viv_virtio_device_queue (net->vdev, RX_QUEUE);
  bool mergeable = net->features & FEATURE (VIRTIO_NET_F_MRG_RXBUF);
  uint8_t hdr[VIV_VIRTIO_NET_HDR_LEN] = { 0 };
  if ((flags & VIV_NET_RX_CSUM_VALID) && (net->features & FEATURE (VIRTIO_NET_F_GUEST_CSUM)))
    hdr[0] = VIRTIO_NET_HDR_F_DATA_VALID;
  hdr[1] = VIRTIO_NET_HDR_GSO_NONE;
  const size_t total = VIV_VIRTIO_NET_HDR_LEN + len;

  unsigned n = 0;
  for (unsigned attempt = 0;; attempt++)
    {
      size_t copied = 0;
      int popped = 1;
      n = 0;
      while (copied < total && n < NET_QUEUE_SIZE)
        {
          VivVirtqElement *elem = n == 0 ? &net->rx_first : &net->rx_elem;
          popped = viv_virtqueue_pop (vq, elem);
          if (popped < 0)
            {
              net_fail (net, vq->error);
              return true;
            }
          if (popped == 0)
            break;
          if (elem->n_out)
            {
              net_fail (net, "a receive buffer has device-readable descriptors");
              return true;
            }
          if (elem->in_bytes < VIV_VIRTIO_NET_HDR_LEN)
            {
              net_fail (net, "a receive buffer is smaller than the 12-byte virtio-net header");
              return true;
            }
          if (!mergeable && elem->in_bytes < total)
            {
              /* Too small for this frame; a smaller one may still fit. */
              viv_virtqueue_unpop (vq);
              net->stats.rx_dropped++;
              return true;
            }
          size_t chunk = MIN (elem->in_bytes, total - copied);
          rx_copy (elem, hdr, frame, copied, chunk);
          net->rx_used[n++] = (RxUsed) { elem->head, chunk };
          copied += chunk;
        }
      if (copied == total)
        break;

      /* Not enough room: give the buffers back untouched in the ring. */
      for (unsigned i = 0; i < n; i++)
        viv_virtqueue_unpop (vq);
      if (popped > 0)
        {
          /* A whole ring of buffers cannot hold it. */
          net->stats.rx_dropped++;
          return true;
        }
      if (attempt > 0)
        return false;
      /* Ask for a kick when buffers come, then look once more in case they
       * came before the request was visible. */
      viv_virtqueue_set_notification (vq, true);
      if (!viv_virtqueue_has_available (vq))
        return false;
    }

  uint8_t num_buffers[2] = { n & 0xff, n >> 8 };
  viv_virtq_copy_to_in (&net->rx_first, 10, num_buffers, sizeof num_buffers);
  /* One packet, published in one step: a polling driver never sees part
   * of a mergeable packet. */
  for (unsigned i = 0; i < n; i++)
    viv_virtqueue_fill (vq, i, net->rx_used[i].head, net->rx_used[i].len);
  viv_virtqueue_flush (vq, n);
  viv_virtio_device_notify_used (net->vdev, RX_QUEUE);
  net->stats.rx_packets++;
  net->stats.rx_bytes += len;
  return true;
}

static bool
net_receive (void *opaque, const uint8_t *frame, size_t len, unsigned flags)
{
  VivVirtioNet *net = opaque;
  viv_virtio_device_lock (net->vdev);
  bool taken = rx_frame (net, frame, len, flags);
  viv_virtio_device_unlock (net->vdev);
  return taken;
}

/* ---- transmit ----------------------------------------------------------- */

/* One popped chain.  False if the device failed. */
static bool
tx_one (VivVirtioNet *net, const VivVirtqElement *elem)
{
  if (elem->n_in)
    {
      net_fail (net, "a transmit buffer has device-writable descriptors");
      return false;
    }
  if (elem->out_bytes < VIV_VIRTIO_NET_HDR_LEN)
    {
      net_fail (net, "a transmit buffer is shorter than the 12-byte virtio-net header");
      return false;
    }
  size_t len = elem->out_bytes - VIV_VIRTIO_NET_HDR_LEN;
  if (len < VIV_NET_MIN_FRAME || len > VIV_NET_MAX_FRAME)
    {
      net->stats.tx_dropped++;
      return true;
    }
  viv_virtq_copy_from_out (elem, 0, net->tx_buf, elem->out_bytes);
  const uint8_t *hdr = net->tx_buf;
  uint8_t *frame = net->tx_buf + VIV_VIRTIO_NET_HDR_LEN;

  /* No segmentation offload was offered. */
  if (hdr[1] != VIRTIO_NET_HDR_GSO_NONE)
    {
      net->stats.tx_dropped++;
      return true;
    }
  if (hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM)
    {
      /* The backend needs full checksums (slirp verifies them). */
      if (!(net->features & FEATURE (VIRTIO_NET_F_CSUM))
          || !viv_net_checksum_complete (frame, len, le16 (hdr + 6), le16 (hdr + 8)))
        {
          net->stats.tx_dropped++;
          return true;
        }
    }

  struct iovec iov = { frame, len };
  if (viv_net_backend_send (net->backend, &iov, 1))
    {
      net->stats.tx_packets++;
      net->stats.tx_bytes += len;
    }
  else
    net->stats.tx_dropped++;
  return true;
}

/* Device lock held. */
static void
tx_run (VivVirtioNet *net)
{
  if (!net->active || net->broken)
    return;
  VivVirtqueue *vq = viv_virtio_device_queue (net->vdev, TX_QUEUE);
  bool pushed = false;
  viv_virtqueue_set_notification (vq, false);
  for (unsigned done = 0;; done++)
    {
      if (done == TX_BATCH)
        {
          /* Notifications stay off: the continuation will look. */
          g_source_set_ready_time (net->tx_source, 0);
          break;
        }
      int popped = viv_virtqueue_pop (vq, &net->tx_elem);
      if (popped < 0)
        {
          net_fail (net, vq->error);
          break;
        }
      if (popped == 0)
        {
          viv_virtqueue_set_notification (vq, true);
          if (!viv_virtqueue_has_available (vq))
            break;
          viv_virtqueue_set_notification (vq, false);
          continue;
        }
      if (!tx_one (net, &net->tx_elem))
        break;
      viv_virtqueue_push (vq, net->tx_elem.head, 0);
      pushed = true;
    }
  if (pushed)
    viv_virtio_device_notify_used (net->vdev, TX_QUEUE);
}

static gboolean
tx_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  VivVirtioNet *net = ((TxSource *) source)->net;
  g_source_set_ready_time (source, -1);
  viv_virtio_device_lock (net->vdev);
  tx_run (net);
  viv_virtio_device_unlock (net->vdev);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs tx_source_funcs = { .dispatch = tx_dispatch };

/* ---- device ops ----------------------------------------------------------- */

static uint64_t
net_get_features (void *dev)
{
  return NET_FEATURES;
}

static bool
net_set_features (void *dev, uint64_t features)
{
  VivVirtioNet *net = dev;
  net->features = features;
  return true;
}

static void
net_read_config (void *dev, uint32_t offset, void *data, unsigned size)
{
  VivVirtioNet *net = dev;
  uint8_t config[NET_CONFIG_SIZE] = { 0 };
  memcpy (config, net->mac, 6);
  config[6] = net->link_up ? VIRTIO_NET_S_LINK_UP : 0;
  config[8] = 1;              /* max_virtqueue_pairs */
  memcpy (data, config + offset, size);
}

/* Modern drivers do not write the config space; legacy MAC writes are not
 * supported, so writes are ignored. */
static void
net_write_config (void *dev, uint32_t offset, const void *data, unsigned size)
{
}

static void
net_activate (void *dev)
{
  VivVirtioNet *net = dev;
  net->active = true;
  viv_net_backend_resume_rx (net->backend);
}

static void
net_queue_notify (void *dev, unsigned index)
{
  VivVirtioNet *net = dev;
  if (index == RX_QUEUE)
    viv_net_backend_resume_rx (net->backend);
  else if (index == TX_QUEUE)
    tx_run (net);
}

static void
net_reset (void *dev)
{
  VivVirtioNet *net = dev;
  net->active = false;
  net->broken = false;
  net->features = 0;
  g_source_set_ready_time (net->tx_source, -1);
}

static void
net_destroy (void *dev)
{
  VivVirtioNet *net = dev;
  viv_net_backend_set_receiver (net->backend, NULL, NULL);
  viv_net_backend_free (net->backend);
  g_source_destroy (net->tx_source);
  g_source_unref (net->tx_source);
  g_free (net);
}

static const VivVirtioDeviceOps net_ops = {
  .name = "virtio-net",
  .device_id = VIRTIO_ID_NET,
  .n_queues = 2,
  .queue_size_max = NET_QUEUE_SIZE,
  .config_size = NET_CONFIG_SIZE,
  .get_features = net_get_features,
  .set_features = net_set_features,
  .read_config = net_read_config,
  .write_config = net_write_config,
  .activate = net_activate,
  .queue_notify = net_queue_notify,
  .reset = net_reset,
  .destroy = net_destroy,
};

VivVirtioNet *
viv_virtio_net_new (VivVirtioDevice *vdev, VivNetBackend *backend, const uint8_t mac[6],
                    GError **error)
{
  if (!viv_net_mac_is_valid (mac))
    {
      char text[18];
      viv_net_mac_format (mac, text);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "virtio-net: MAC address %s is not a unicast address; use one such as "
                   "52:54:00:12:34:56", text);
      return NULL;
    }
  VivVirtioNet *net = g_new0 (VivVirtioNet, 1);
  net->vdev = vdev;
  net->backend = backend;
  memcpy (net->mac, mac, 6);
  net->link_up = true;
  net->tx_source = g_source_new (&tx_source_funcs, sizeof (TxSource));
  ((TxSource *) net->tx_source)->net = net;
  g_source_set_name (net->tx_source, "virtio-net-tx");
  g_source_attach (net->tx_source, viv_virtio_device_context (vdev));
  viv_virtio_device_bind (vdev, &net_ops, net);
  viv_net_backend_set_receiver (backend, net_receive, net);
  return net;
}

void
viv_virtio_net_get_stats (VivVirtioNet *net, VivNetStats *stats)
{
  viv_virtio_device_lock (net->vdev);
  *stats = net->stats;
  viv_virtio_device_unlock (net->vdev);
  stats->rx_dropped += viv_net_backend_rx_dropped (net->backend);
}

void
viv_virtio_net_set_link (VivVirtioNet *net, bool up)
{
  viv_virtio_device_lock (net->vdev);
  if (net->link_up != up)
    {
      net->link_up = up;
      viv_virtio_device_config_changed (net->vdev);
    }
  viv_virtio_device_unlock (net->vdev);
}
