/* A host tap interface (/dev/net/tun, IFF_TAP).  Frames carry a 12-byte
 * virtio_net_hdr (IFF_VNET_HDR) so the kernel can tell us a frame's
 * checksum is already verified; no offloads are enabled (TUNSETOFFLOAD), so
 * the kernel sends neither GSO frames nor, normally, partial checksums. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include "net/backend.h"

#define TAP_VNET_HDR_LEN 12     /* struct virtio_net_hdr_mrg_rxbuf */
#define TAP_READS_PER_DISPATCH 64

typedef struct {
  VivNetBackend base;
  int           fd;
  char          ifname[IFNAMSIZ];
  GSource      *source;
  gpointer      tag;
  uint8_t      *buf;          /* header + largest frame + 1 to spot oversize */
} TapBackend;

static void
count_rx_drop (TapBackend *tap)
{
  g_mutex_lock (&tap->base.lock);
  tap->base.rx_dropped++;
  g_mutex_unlock (&tap->base.lock);
}

/* One frame read from the tap: true to keep reading. */
static bool
tap_receive (TapBackend *tap, size_t n)
{
  if (n < TAP_VNET_HDR_LEN + VIV_NET_MIN_FRAME || n > TAP_VNET_HDR_LEN + VIV_NET_MAX_FRAME)
    {
      count_rx_drop (tap);
      return true;
    }
  const uint8_t *hdr = tap->buf;
  uint8_t *frame = tap->buf + TAP_VNET_HDR_LEN;
  size_t len = n - TAP_VNET_HDR_LEN;
  unsigned flags = 0;
  if (hdr[1] != VIRTIO_NET_HDR_GSO_NONE)
    {
      count_rx_drop (tap);
      return true;
    }
  if (hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM)
    {
      uint16_t start = hdr[6] | hdr[7] << 8, offset = hdr[8] | hdr[9] << 8;
      if (!viv_net_checksum_complete (frame, len, start, offset))
        {
          count_rx_drop (tap);
          return true;
        }
    }
  else if (hdr[0] & VIRTIO_NET_HDR_F_DATA_VALID)
    flags |= VIV_NET_RX_CSUM_VALID;
  return viv_net_backend_deliver (&tap->base, frame, len, flags);
}

static gboolean
tap_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  TapBackend *tap = data;
  for (unsigned i = 0; i < TAP_READS_PER_DISPATCH; i++)
    {
      ssize_t n = read (tap->fd, tap->buf, TAP_VNET_HDR_LEN + VIV_NET_MAX_FRAME + 1);
      if (n < 0)
        {
          if (errno != EAGAIN && errno != EINTR)
            {
              /* The interface went away: stop watching rather than spin. */
              g_warning ("tap %s: read failed: %s; no more frames from it",
                         tap->ifname, g_strerror (errno));
              g_source_modify_unix_fd (source, tap->tag, 0);
            }
          break;
        }
      if (!tap_receive (tap, n))
        {
          g_source_modify_unix_fd (source, tap->tag, 0);
          break;
        }
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs tap_source_funcs = { .dispatch = tap_dispatch };

static void
tap_rx_resumed (VivNetBackend *backend)
{
  TapBackend *tap = (TapBackend *) backend;
  g_source_modify_unix_fd (tap->source, tap->tag, G_IO_IN);
}

static bool
tap_send (VivNetBackend *backend, const struct iovec *iov, unsigned n_iov)
{
  TapBackend *tap = (TapBackend *) backend;
  /* A zero header: no offload asked, checksums are complete. */
  static const uint8_t zero_hdr[TAP_VNET_HDR_LEN];
  struct iovec vec[64];
  if (n_iov + 1 > G_N_ELEMENTS (vec))
    return false;
  vec[0] = (struct iovec) { (void *) zero_hdr, sizeof zero_hdr };
  memcpy (vec + 1, iov, n_iov * sizeof *iov);
  ssize_t n;
  do
    n = writev (tap->fd, vec, n_iov + 1);
  while (n < 0 && errno == EINTR);
  /* EAGAIN: the interface's queue is full; like a busy wire, drop. */
  return n >= 0;
}

static void
tap_free (VivNetBackend *backend)
{
  TapBackend *tap = (TapBackend *) backend;
  if (tap->source)
    {
      g_source_destroy (tap->source);
      g_source_unref (tap->source);
    }
  if (tap->fd >= 0)
    close (tap->fd);
  g_free (tap->buf);
  viv_net_backend_finalize (backend);
  g_free (tap);
}

static const VivNetBackendClass tap_class = {
  .name = "tap",
  .send = tap_send,
  .rx_resumed = tap_rx_resumed,
  .free = tap_free,
};

static VivNetBackend *
tap_fail (TapBackend *tap, GError **error, int err, const char *ifname, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
               "cannot open tap device %s: %s%s; create it with "
               "`ip tuntap add %s mode tap user $USER`",
               ifname, what, g_strerror (err), ifname);
  tap_free (&tap->base);
  return NULL;
}

VivNetBackend *
viv_net_tap_new (const char *ifname, GMainContext *context, GError **error)
{
  if (!ifname || !ifname[0] || strlen (ifname) >= IFNAMSIZ)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "a tap backend needs an interface name of 1 to %d characters "
                   "(tap,ifname=IF); create one with `ip tuntap add IF mode tap user $USER`",
                   IFNAMSIZ - 1);
      return NULL;
    }

  TapBackend *tap = g_new0 (TapBackend, 1);
  viv_net_backend_init (&tap->base, &tap_class, context);
  g_strlcpy (tap->ifname, ifname, sizeof tap->ifname);
  tap->fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (tap->fd < 0)
    return tap_fail (tap, error, errno, ifname, "/dev/net/tun: ");

  struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
  g_strlcpy (ifr.ifr_name, ifname, sizeof ifr.ifr_name);
  if (ioctl (tap->fd, TUNSETIFF, &ifr) < 0)
    return tap_fail (tap, error, errno, ifname, "");
  int hdr_len = TAP_VNET_HDR_LEN;
  if (ioctl (tap->fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
    return tap_fail (tap, error, errno, ifname, "setting the virtio-net header size: ");

  tap->buf = g_malloc (TAP_VNET_HDR_LEN + VIV_NET_MAX_FRAME + 1);
  tap->source = g_source_new (&tap_source_funcs, sizeof (GSource));
  g_source_set_callback (tap->source, NULL, tap, NULL);
  g_source_set_name (tap->source, "viv-tap");
  tap->tag = g_source_add_unix_fd (tap->source, tap->fd, G_IO_IN);
  g_source_attach (tap->source, context);
  return &tap->base;
}
