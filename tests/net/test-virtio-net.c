/* virtio-net on the real virtio-mmio transport and the real slirp backend,
 * driven by the test driver of tests/virtio-devices (rings in a
 * VivGuestMemory, register accesses on a VivBus, I/O context run by the
 * test).  Host sockets are loopback only. */
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "driver.h"
#include "frames.h"
#include "devices/virtio_net.h"

#define RX 0
#define TX 1
#define HDR VIV_VIRTIO_NET_HDR_LEN
#define F(bit) (UINT64_C (1) << (bit))
#define ALL_FEATURES (F (VIRTIO_NET_F_CSUM) | F (VIRTIO_NET_F_GUEST_CSUM) | F (VIRTIO_NET_F_MAC) \
                      | F (VIRTIO_NET_F_MRG_RXBUF) | F (VIRTIO_NET_F_STATUS))

typedef struct {
  Driver        d;
  VivVirtioNet *net;
  uint64_t      rx_gpa[DRIVER_QUEUE_SIZE];   /* by descriptor head */
  uint32_t      rx_len[DRIVER_QUEUE_SIZE];
  uint8_t       gateway_mac[6];
} Rig;

static void
rig_init (Rig *rig, uint64_t features)
{
  memset (rig, 0, sizeof *rig);
  driver_init (&rig->d, 16 << 20);
  VivNetOptions options;
  GError *error = NULL;
  g_assert_true (viv_net_options_parse ("user,mac=52:54:00:aa:bb:cc", &options, &error));
  VivNetBackend *backend = viv_net_backend_new (&options, rig->d.context, &error);
  g_assert_no_error (error);
  rig->net = viv_virtio_net_new (rig->d.vdev, backend, options.mac, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rig->net);
  if (features)
    driver_start (&rig->d, features, 2);
}

static void
rig_clear (Rig *rig)
{
  driver_clear (&rig->d);
}

static void
post_rx (Rig *rig, uint32_t len)
{
  uint64_t gpa = driver_alloc (&rig->d, len);
  memset (driver_ptr (&rig->d, gpa, len), 0xee, len);
  DriverSeg seg = { gpa, len, true };
  uint16_t head = driver_add (&rig->d, RX, &seg, 1);
  rig->rx_gpa[head] = gpa;
  rig->rx_len[head] = len;
}

/* A tx chain: the header, then the frame split in two descriptors. */
static void
send_frame (Rig *rig, const uint8_t hdr[HDR], const uint8_t *frame, size_t len)
{
  uint64_t h = driver_alloc (&rig->d, HDR), f = driver_alloc (&rig->d, len);
  memcpy (driver_ptr (&rig->d, h, HDR), hdr, HDR);
  memcpy (driver_ptr (&rig->d, f, len), frame, len);
  uint32_t first = len / 2;
  DriverSeg segs[3] = { { h, HDR, false }, { f, first, false }, { f + first, len - first, false } };
  driver_add (&rig->d, TX, segs, 3);
  driver_kick (&rig->d, TX);
  uint32_t written = 1;
  g_assert_true (driver_get_used (&rig->d, TX, NULL, &written, 2000));
  g_assert_cmpuint (written, ==, 0);
}

static void
send_plain (Rig *rig, GByteArray *frame)
{
  static const uint8_t hdr[HDR];
  send_frame (rig, hdr, frame->data, frame->len);
  g_byte_array_unref (frame);
}

/* The next received packet: its header and frame (joined across merged
 * buffers), or NULL after a timeout. */
static GByteArray *
receive_packet (Rig *rig, uint8_t hdr[HDR], unsigned *n_buffers)
{
  uint16_t head;
  uint32_t len;
  if (!driver_get_used (&rig->d, RX, &head, &len, 3000))
    return NULL;
  g_assert_cmpuint (len, >=, HDR);
  g_assert_cmpuint (len, <=, rig->rx_len[head]);
  const uint8_t *buf = driver_ptr (&rig->d, rig->rx_gpa[head], len);
  memcpy (hdr, buf, HDR);
  unsigned n = hdr[10] | hdr[11] << 8;
  g_assert_cmpuint (n, >=, 1);
  GByteArray *frame = g_byte_array_new ();
  g_byte_array_append (frame, buf + HDR, len - HDR);
  for (unsigned i = 1; i < n; i++)
    {
      g_assert_true (driver_get_used (&rig->d, RX, &head, &len, 0));
      g_byte_array_append (frame, driver_ptr (&rig->d, rig->rx_gpa[head], len), len);
    }
  *n_buffers = n;
  return frame;
}

/* Receives until a frame matches; the others (if any) are skipped. */
static GByteArray *
receive_matching (Rig *rig, bool (*match) (const uint8_t *, size_t, void *), void *data,
                  uint8_t hdr[HDR], unsigned *n_buffers)
{
  for (unsigned tries = 0; tries < 8; tries++)
    {
      GByteArray *frame = receive_packet (rig, hdr, n_buffers);
      if (!frame)
        return NULL;
      if (match (frame->data, frame->len, data))
        return frame;
      g_byte_array_unref (frame);
    }
  return NULL;
}

static bool
match_arp_reply (const uint8_t *f, size_t len, void *data)
{
  return frame_is_arp_reply (f, len, ipv4 (VIV_NET_USER_GATEWAY), ipv4 (VIV_NET_USER_GUEST));
}

/* ARP for the gateway through the device; remembers the gateway's MAC. */
static void
arp_gateway (Rig *rig)
{
  post_rx (rig, 1600);
  driver_kick (&rig->d, RX);
  send_plain (rig, frame_arp_request (test_guest_mac, ipv4 (VIV_NET_USER_GUEST),
                                      ipv4 (VIV_NET_USER_GATEWAY)));
  uint8_t hdr[HDR];
  unsigned n;
  GByteArray *reply = receive_matching (rig, match_arp_reply, NULL, hdr, &n);
  g_assert_nonnull (reply);
  memcpy (rig->gateway_mac, reply->data + ETH_HLEN_ + 8, 6);
  g_byte_array_unref (reply);
}

static void
test_config (void)
{
  Rig rig;
  rig_init (&rig, 0);
  Driver *d = &rig.d;
  g_assert_cmpuint (driver_read32 (d, MMIO_DEVICE_ID), ==, VIRTIO_ID_NET);
  driver_write32 (d, MMIO_DEVICE_FEATURES_SEL, 0);
  uint32_t low = driver_read32 (d, MMIO_DEVICE_FEATURES);
  g_assert_cmphex (low & 0xffffff, ==, ALL_FEATURES);   /* and no TSO/UFO/CTRL_VQ */
  for (unsigned i = 0; i < 6; i++)
    g_assert_cmphex (driver_config8 (d, i), ==, test_guest_mac[i]);
  g_assert_cmpuint (driver_config16 (d, 6), ==, 1);          /* VIRTIO_NET_S_LINK_UP */
  g_assert_cmpuint (driver_config16 (d, 8), ==, 1);          /* max_virtqueue_pairs */

  driver_start (d, ALL_FEATURES, 2);
  driver_take_interrupts (d);
  uint32_t generation = driver_read32 (d, MMIO_CONFIG_GENERATION);
  viv_virtio_net_set_link (rig.net, false);
  g_assert_cmpuint (driver_config16 (d, 6), ==, 0);
  g_assert_cmpuint (driver_read32 (d, MMIO_CONFIG_GENERATION), !=, generation);
  g_assert_cmphex (driver_take_interrupts (d), ==, MMIO_INT_CONFIG);
  viv_virtio_net_set_link (rig.net, true);
  g_assert_cmpuint (driver_config16 (d, 6), ==, 1);
  rig_clear (&rig);
}

static void
test_bad_mac (void)
{
  Driver d;
  driver_init (&d, 1 << 20);
  VivNetOptions options;
  g_assert_true (viv_net_options_parse ("user", &options, NULL));
  VivNetBackend *backend = viv_net_backend_new (&options, d.context, NULL);
  static const uint8_t multicast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
  GError *error = NULL;
  g_assert_null (viv_virtio_net_new (d.vdev, backend, multicast, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "01:00:5e:00:00:01 is not a unicast address"));
  g_error_free (error);
  viv_net_backend_free (backend);
  driver_clear (&d);
}

typedef struct {
  uint32_t xid, yiaddr;
} DhcpMatch;

static bool
match_offer (const uint8_t *f, size_t len, void *data)
{
  DhcpMatch *m = data;
  return frame_is_dhcp_offer (f, len, m->xid, &m->yiaddr);
}

/* DISCOVER out, OFFER back spread over several small mergeable buffers. */
static void
test_dhcp_mergeable (void)
{
  Rig rig;
  rig_init (&rig, ALL_FEATURES);
  for (unsigned i = 0; i < 10; i++)
    post_rx (&rig, 128);
  driver_kick (&rig.d, RX);
  send_plain (&rig, frame_dhcp_discover (0xd15c0));

  DhcpMatch m = { .xid = 0xd15c0 };
  uint8_t hdr[HDR];
  unsigned n = 0;
  GByteArray *offer = receive_matching (&rig, match_offer, &m, hdr, &n);
  g_assert_nonnull (offer);
  g_assert_cmphex (m.yiaddr, ==, ipv4 ("10.0.2.15"));
  g_assert_cmpuint (n, ==, (HDR + offer->len + 127) / 128);
  g_assert_cmpuint (n, >, 1);
  g_assert_true (frame_checksums_ok (offer->data, offer->len));
  /* GUEST_CSUM: slirp's checksums are vouched for; no GSO. */
  g_assert_cmphex (hdr[0], ==, 2);
  g_assert_cmphex (hdr[1], ==, 0);

  VivNetStats stats;
  viv_virtio_net_get_stats (rig.net, &stats);
  g_assert_cmpuint (stats.tx_packets, ==, 1);
  g_assert_cmpuint (stats.tx_bytes, ==, ETH_HLEN_ + IP_HLEN_ + 8 + 244);
  g_assert_cmpuint (stats.rx_packets, ==, 1);
  g_assert_cmpuint (stats.rx_bytes, ==, offer->len);
  g_assert_cmpuint (stats.rx_dropped + stats.tx_dropped, ==, 0);
  g_byte_array_unref (offer);
  rig_clear (&rig);
}

/* Without MRG_RXBUF or GUEST_CSUM: one buffer per packet, num_buffers 1,
 * no DATA_VALID.  A buffer too small for a frame costs that frame only
 * (the buffer stays in the ring for a smaller one). */
static void
test_single_buffer (void)
{
  Rig rig;
  rig_init (&rig, F (VIRTIO_NET_F_MAC));
  post_rx (&rig, 1600);
  driver_kick (&rig.d, RX);
  send_plain (&rig, frame_arp_request (test_guest_mac, ipv4 (VIV_NET_USER_GUEST),
                                       ipv4 (VIV_NET_USER_GATEWAY)));
  uint8_t hdr[HDR];
  unsigned n;
  GByteArray *reply = receive_matching (&rig, match_arp_reply, NULL, hdr, &n);
  g_assert_nonnull (reply);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmphex (hdr[0], ==, 0);
  g_byte_array_unref (reply);

  post_rx (&rig, 40);      /* too small for header + 42-byte ARP reply */
  driver_kick (&rig.d, RX);
  send_plain (&rig, frame_arp_request (test_guest_mac, ipv4 (VIV_NET_USER_GUEST),
                                       ipv4 (VIV_NET_USER_GATEWAY)));
  driver_run_for (&rig.d, 100);
  VivNetStats stats;
  viv_virtio_net_get_stats (rig.net, &stats);
  g_assert_cmpuint (stats.rx_dropped, ==, 1);
  g_assert_cmpuint (stats.rx_packets, ==, 1);
  g_assert_false (driver_needs_reset (&rig.d));
  g_assert_false (driver_get_used (&rig.d, RX, NULL, NULL, 0));
  rig_clear (&rig);
}

/* No receive buffers: the reply waits in the backend, and arrives when
 * the driver adds a buffer and kicks. */
static void
test_rx_waits_for_buffers (void)
{
  Rig rig;
  rig_init (&rig, ALL_FEATURES);
  send_plain (&rig, frame_arp_request (test_guest_mac, ipv4 (VIV_NET_USER_GUEST),
                                       ipv4 (VIV_NET_USER_GATEWAY)));
  driver_run_for (&rig.d, 100);
  VivNetStats stats;
  viv_virtio_net_get_stats (rig.net, &stats);
  g_assert_cmpuint (stats.rx_packets + stats.rx_dropped, ==, 0);

  post_rx (&rig, 1600);
  driver_kick (&rig.d, RX);
  uint8_t hdr[HDR];
  unsigned n;
  GByteArray *reply = receive_matching (&rig, match_arp_reply, NULL, hdr, &n);
  g_assert_nonnull (reply);
  g_assert_cmpuint (n, ==, 1);
  g_byte_array_unref (reply);
  rig_clear (&rig);
}

static int
bound_udp_socket (uint16_t *port)
{
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  socklen_t slen = sizeof sin;
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &slen), ==, 0);
  *port = ntohs (sin.sin_port);
  return fd;
}

typedef struct {
  int fd;
  char buf[128];
  ssize_t n;
} HostRecv;

static bool
host_received (void *data)
{
  HostRecv *r = data;
  r->n = recv (r->fd, r->buf, sizeof r->buf - 1, 0);
  return r->n >= 0;
}

/* The guest leaves the UDP checksum partial (NEEDS_CSUM); the device must
 * complete it, since slirp drops UDP with a wrong checksum before it
 * reaches the host socket (the control: the same frame without
 * NEEDS_CSUM never arrives). */
static void
test_checksum_completion (void)
{
  Rig rig;
  rig_init (&rig, ALL_FEATURES);
  arp_gateway (&rig);
  uint16_t port;
  HostRecv r = { .fd = bound_udp_socket (&port) };

  static const char lost[] = "partial checksum, not completed";
  GByteArray *f = frame_udp (rig.gateway_mac, ipv4 (VIV_NET_USER_GUEST),
                             ipv4 (VIV_NET_USER_GATEWAY), 41000, port, lost, sizeof lost, true);
  static const uint8_t plain[HDR];
  send_frame (&rig, plain, f->data, f->len);
  g_byte_array_unref (f);
  g_assert_false (driver_run_until (&rig.d, host_received, &r, 300));

  static const char payload[] = "partial checksum, completed by the device";
  f = frame_udp (rig.gateway_mac, ipv4 (VIV_NET_USER_GUEST), ipv4 (VIV_NET_USER_GATEWAY),
                 41000, port, payload, sizeof payload, true);
  g_assert_false (frame_checksums_ok (f->data, f->len));
  uint8_t hdr[HDR] = { 1 /* NEEDS_CSUM */ };
  hdr[6] = ETH_HLEN_ + IP_HLEN_;   /* csum_start */
  hdr[8] = 6;                      /* csum_offset: the UDP checksum field */
  send_frame (&rig, hdr, f->data, f->len);
  g_assert_true (driver_run_until (&rig.d, host_received, &r, 3000));
  g_assert_cmpint (r.n, ==, sizeof payload);
  g_assert_cmpstr (r.buf, ==, payload);
  g_byte_array_unref (f);
  close (r.fd);
  rig_clear (&rig);
}

/* Header fields out of range cost the frame, not the device. */
static void
test_bad_frames_dropped (void)
{
  Rig rig;
  rig_init (&rig, ALL_FEATURES);
  GByteArray *f = frame_arp_request (test_guest_mac, ipv4 (VIV_NET_USER_GUEST),
                                     ipv4 (VIV_NET_USER_GATEWAY));
  uint8_t hdr[HDR] = { 1 };
  /* csum field beyond the frame. */
  hdr[6] = f->len - 1;
  hdr[8] = 0;
  send_frame (&rig, hdr, f->data, f->len);
  hdr[6] = 0;
  hdr[8] = 0xff;
  hdr[9] = 0xff;
  send_frame (&rig, hdr, f->data, f->len);
  /* GSO without TSO negotiated. */
  uint8_t gso[HDR] = { 0, 1 };
  send_frame (&rig, gso, f->data, f->len);
  /* Shorter than an Ethernet header, and longer than the largest frame. */
  static const uint8_t plain[HDR];
  send_frame (&rig, plain, f->data, 10);
  g_byte_array_set_size (f, VIV_NET_MAX_FRAME + 1);
  send_frame (&rig, plain, f->data, f->len);
  g_byte_array_unref (f);

  VivNetStats stats;
  viv_virtio_net_get_stats (rig.net, &stats);
  g_assert_cmpuint (stats.tx_dropped, ==, 5);
  g_assert_cmpuint (stats.tx_packets, ==, 0);
  g_assert_false (driver_needs_reset (&rig.d));
  /* Still working. */
  arp_gateway (&rig);
  rig_clear (&rig);
}

typedef enum { BAD_TX_WRITABLE, BAD_TX_SHORT, BAD_TX_OUTSIDE_RAM, BAD_RX_READONLY,
               BAD_RX_TINY } BadKind;

/* A broken descriptor layout asks for a reset; after the driver resets
 * and starts again, the device works. */
static void
test_bad_descriptors (gconstpointer data)
{
  BadKind kind = GPOINTER_TO_INT (data);
  Rig rig;
  rig_init (&rig, ALL_FEATURES);
  uint64_t buf = driver_alloc (&rig.d, 2048);
  memset (driver_ptr (&rig.d, buf, 2048), 0, 2048);
  switch (kind)
    {
    case BAD_TX_WRITABLE:
      {
        DriverSeg segs[2] = { { buf, HDR, false }, { buf + HDR, 64, true } };
        driver_add (&rig.d, TX, segs, 2);
        driver_kick (&rig.d, TX);
        break;
      }
    case BAD_TX_SHORT:
      {
        DriverSeg seg = { buf, HDR - 1, false };
        driver_add (&rig.d, TX, &seg, 1);
        driver_kick (&rig.d, TX);
        break;
      }
    case BAD_TX_OUTSIDE_RAM:
      {
        DriverSeg segs[2] = { { buf, HDR, false }, { (16 << 20) - 32, 64, false } };
        driver_add (&rig.d, TX, segs, 2);
        driver_kick (&rig.d, TX);
        break;
      }
    case BAD_RX_READONLY:
    case BAD_RX_TINY:
      {
        DriverSeg seg = { buf, kind == BAD_RX_TINY ? HDR - 2 : 2048, kind == BAD_RX_TINY };
        driver_add (&rig.d, RX, &seg, 1);
        driver_kick (&rig.d, RX);
        send_plain (&rig, frame_arp_request (test_guest_mac, ipv4 (VIV_NET_USER_GUEST),
                                             ipv4 (VIV_NET_USER_GATEWAY)));
        break;
      }
    }
  g_assert_true (driver_wait_needs_reset (&rig.d, 3000));

  driver_start (&rig.d, ALL_FEATURES, 2);
  g_assert_false (driver_needs_reset (&rig.d));
  memset (rig.rx_gpa, 0, sizeof rig.rx_gpa);
  arp_gateway (&rig);
  rig_clear (&rig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/net/virtio-net/config", test_config);
  g_test_add_func ("/net/virtio-net/bad-mac", test_bad_mac);
  g_test_add_func ("/net/virtio-net/dhcp-mergeable", test_dhcp_mergeable);
  g_test_add_func ("/net/virtio-net/single-buffer", test_single_buffer);
  g_test_add_func ("/net/virtio-net/rx-waits-for-buffers", test_rx_waits_for_buffers);
  g_test_add_func ("/net/virtio-net/checksum-completion", test_checksum_completion);
  g_test_add_func ("/net/virtio-net/bad-frames-dropped", test_bad_frames_dropped);
  g_test_add_data_func ("/net/virtio-net/bad/tx-writable", GINT_TO_POINTER (BAD_TX_WRITABLE),
                        test_bad_descriptors);
  g_test_add_data_func ("/net/virtio-net/bad/tx-short", GINT_TO_POINTER (BAD_TX_SHORT),
                        test_bad_descriptors);
  g_test_add_data_func ("/net/virtio-net/bad/tx-outside-ram",
                        GINT_TO_POINTER (BAD_TX_OUTSIDE_RAM), test_bad_descriptors);
  g_test_add_data_func ("/net/virtio-net/bad/rx-readonly", GINT_TO_POINTER (BAD_RX_READONLY),
                        test_bad_descriptors);
  g_test_add_data_func ("/net/virtio-net/bad/rx-tiny", GINT_TO_POINTER (BAD_RX_TINY),
                        test_bad_descriptors);
  return g_test_run ();
}
