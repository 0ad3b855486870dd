/* The libslirp backend alone, on a GMainContext of the test's own: frames
 * built here go in through viv_net_backend_send, slirp's answers come back
 * through the receiver.  Only loopback sockets are used on the host. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "frames.h"
#include "net/net.h"

typedef struct {
  GMainContext  *context;
  VivNetBackend *backend;
  GPtrArray     *frames;     /* GBytes, in arrival order */
  bool           full;       /* act as a receiver with no room */
  uint8_t        gateway_mac[6];
  unsigned       refusals;
} Rig;

static bool
rig_receive (void *opaque, const uint8_t *frame, size_t len, unsigned flags)
{
  Rig *rig = opaque;
  if (rig->full)
    {
      rig->refusals++;
      return false;
    }
  /* Slirp builds every checksum itself and says so. */
  g_assert_cmpuint (flags, ==, VIV_NET_RX_CSUM_VALID);
  g_ptr_array_add (rig->frames, g_bytes_new (frame, len));
  return true;
}

static void
rig_init (Rig *rig, const char *spec)
{
  memset (rig, 0, sizeof *rig);
  rig->context = g_main_context_new ();
  rig->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  VivNetOptions options;
  GError *error = NULL;
  g_assert_true (viv_net_options_parse (spec, &options, &error));
  rig->backend = viv_net_backend_new (&options, rig->context, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (viv_net_backend_name (rig->backend), ==, "user");
  viv_net_backend_set_receiver (rig->backend, rig_receive, rig);
}

static void
rig_clear (Rig *rig)
{
  viv_net_backend_free (rig->backend);
  g_ptr_array_unref (rig->frames);
  g_main_context_unref (rig->context);
}

static void
rig_send (Rig *rig, GByteArray *frame)
{
  struct iovec iov = { frame->data, frame->len };
  g_assert_true (viv_net_backend_send (rig->backend, &iov, 1));
  g_byte_array_unref (frame);
}

typedef bool (*FrameMatch) (const uint8_t *f, size_t len, void *data);

/* Runs the context until a received frame matches (it is removed from the
 * list) or 5 s pass. */
static GBytes *
rig_wait_frame (Rig *rig, FrameMatch match, void *data)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      for (unsigned i = 0; i < rig->frames->len; i++)
        {
          gsize len;
          const uint8_t *f = g_bytes_get_data (rig->frames->pdata[i], &len);
          if (match (f, len, data))
            {
              GBytes *found = g_bytes_ref (rig->frames->pdata[i]);
              g_ptr_array_remove_index (rig->frames, i);
              return found;
            }
        }
      g_main_context_iteration (rig->context, FALSE);
      g_usleep (1000);
    }
  return NULL;
}

static bool
match_arp_reply_from_gateway (const uint8_t *f, size_t len, void *data)
{
  return frame_is_arp_reply (f, len, ipv4 (VIV_NET_USER_GATEWAY), ipv4 (VIV_NET_USER_GUEST));
}

/* Also teaches slirp the guest's MAC, which it needs to send to the guest. */
static void
rig_arp_gateway (Rig *rig)
{
  rig_send (rig, frame_arp_request (test_guest_mac, ipv4 (VIV_NET_USER_GUEST),
                                    ipv4 (VIV_NET_USER_GATEWAY)));
  GBytes *reply = rig_wait_frame (rig, match_arp_reply_from_gateway, NULL);
  g_assert_nonnull (reply);
  const uint8_t *f = g_bytes_get_data (reply, NULL);
  memcpy (rig->gateway_mac, f + ETH_HLEN_ + 8, 6);
  g_bytes_unref (reply);
}

static uint16_t
free_loopback_port (int type)
{
  int fd = socket (AF_INET, type, 0);
  g_assert_cmpint (fd, >=, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  socklen_t slen = sizeof sin;
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &slen), ==, 0);
  close (fd);
  return ntohs (sin.sin_port);
}

static void
test_arp_gateway (void)
{
  Rig rig;
  rig_init (&rig, "user");
  rig_arp_gateway (&rig);
  rig_clear (&rig);
}

typedef struct {
  uint32_t xid;
  uint32_t yiaddr;
} DhcpMatch;

static bool
match_dhcp_offer (const uint8_t *f, size_t len, void *data)
{
  DhcpMatch *m = data;
  return frame_is_dhcp_offer (f, len, m->xid, &m->yiaddr);
}

static void
test_dhcp_offer (void)
{
  Rig rig;
  rig_init (&rig, "user");
  rig_send (&rig, frame_dhcp_discover (0x5eed1234));
  DhcpMatch m = { .xid = 0x5eed1234 };
  GBytes *offer = rig_wait_frame (&rig, match_dhcp_offer, &m);
  g_assert_nonnull (offer);
  g_assert_cmphex (m.yiaddr, ==, ipv4 ("10.0.2.15"));
  gsize len;
  const uint8_t *data = g_bytes_get_data (offer, &len);
  g_assert_true (frame_checksums_ok (data, len));
  g_bytes_unref (offer);
  rig_clear (&rig);
}

static bool
match_echo_reply (const uint8_t *f, size_t len, void *data)
{
  return frame_is_icmp_echo_reply (f, len, ipv4 (VIV_NET_USER_GATEWAY), 0x77, 3);
}

static void
test_icmp_gateway (void)
{
  Rig rig;
  rig_init (&rig, "user");
  rig_arp_gateway (&rig);
  static const char payload[] = "vivarium ping";
  rig_send (&rig, frame_icmp_echo (rig.gateway_mac, ipv4 (VIV_NET_USER_GUEST),
                                   ipv4 (VIV_NET_USER_GATEWAY), 0x77, 3, payload,
                                   sizeof payload));
  GBytes *reply = rig_wait_frame (&rig, match_echo_reply, NULL);
  g_assert_nonnull (reply);
  gsize len;
  const uint8_t *f = g_bytes_get_data (reply, &len);
  g_assert_true (frame_checksums_ok (f, len));
  g_assert_cmpmem (f + ETH_HLEN_ + IP_HLEN_ + 8, sizeof payload, payload, sizeof payload);
  g_bytes_unref (reply);
  rig_clear (&rig);
}

static bool
match_syn (const uint8_t *f, size_t len, void *data)
{
  return frame_is_tcp_syn (f, len, ipv4 (VIV_NET_USER_GUEST), 22);
}

static void
test_tcp_hostfwd (void)
{
  uint16_t port = free_loopback_port (SOCK_STREAM);
  g_autofree char *spec = g_strdup_printf ("user,hostfwd=tcp:127.0.0.1:%u-:22", port);
  Rig rig;
  rig_init (&rig, spec);
  rig_arp_gateway (&rig);

  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int rc = connect (fd, (struct sockaddr *) &sin, sizeof sin);
  g_assert_true (rc == 0 || errno == EINPROGRESS);

  GBytes *syn = rig_wait_frame (&rig, match_syn, NULL);
  g_assert_nonnull (syn);
  gsize len;
  const uint8_t *f = g_bytes_get_data (syn, &len);
  g_assert_true (frame_checksums_ok (f, len));
  g_assert_cmpmem (f, 6, test_guest_mac, 6);
  g_bytes_unref (syn);
  close (fd);
  rig_clear (&rig);
}

static bool
match_udp_to_guest (const uint8_t *f, size_t len, void *data)
{
  const char *payload = data;
  return frame_is_udp_to (f, len, ipv4 (VIV_NET_USER_GUEST), 53, payload, strlen (payload));
}

static void
test_udp_hostfwd (void)
{
  uint16_t port = free_loopback_port (SOCK_DGRAM);
  g_autofree char *spec = g_strdup_printf ("user,hostfwd=udp:127.0.0.1:%u-:53", port);
  Rig rig;
  rig_init (&rig, spec);
  rig_arp_gateway (&rig);

  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  static const char payload[] = "datagram for the guest";
  g_assert_cmpint (sendto (fd, payload, strlen (payload), 0, (struct sockaddr *) &sin,
                           sizeof sin), ==, (ssize_t) strlen (payload));
  GBytes *frame = rig_wait_frame (&rig, match_udp_to_guest, (void *) payload);
  g_assert_nonnull (frame);
  gsize len;
  const uint8_t *data = g_bytes_get_data (frame, &len);
  g_assert_true (frame_checksums_ok (data, len));
  g_bytes_unref (frame);
  close (fd);
  rig_clear (&rig);
}

/* The guest sends UDP to the gateway, which slirp maps to the host's
 * loopback: a socket of ours there gets the payload.  Slirp verifies the
 * UDP checksum, so a frame with a wrong one never arrives. */
static void
test_udp_to_host (void)
{
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  socklen_t slen = sizeof sin;
  getsockname (fd, (struct sockaddr *) &sin, &slen);
  uint16_t port = ntohs (sin.sin_port);

  Rig rig;
  rig_init (&rig, "user");
  rig_arp_gateway (&rig);
  static const char bad[] = "bad checksum", good[] = "good checksum";
  GByteArray *f = frame_udp (rig.gateway_mac, ipv4 (VIV_NET_USER_GUEST),
                             ipv4 (VIV_NET_USER_GATEWAY), 40000, port, bad, sizeof bad, false);
  f->data[ETH_HLEN_ + IP_HLEN_ + 6] ^= 0x5a;
  rig_send (&rig, f);
  rig_send (&rig, frame_udp (rig.gateway_mac, ipv4 (VIV_NET_USER_GUEST),
                             ipv4 (VIV_NET_USER_GATEWAY), 40000, port, good, sizeof good, false));
  char buf[64];
  ssize_t n = -1;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (n < 0 && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (rig.context, FALSE);
      n = recv (fd, buf, sizeof buf, 0);
      if (n < 0)
        g_usleep (1000);
    }
  g_assert_cmpint (n, ==, sizeof good);
  g_assert_cmpstr (buf, ==, good);
  close (fd);
  rig_clear (&rig);
}

static void
test_port_in_use (void)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (listen (fd, 1), ==, 0);
  socklen_t slen = sizeof sin;
  getsockname (fd, (struct sockaddr *) &sin, &slen);
  uint16_t port = ntohs (sin.sin_port);

  g_autofree char *spec = g_strdup_printf ("user,hostfwd=tcp:127.0.0.1:%u-:22", port);
  VivNetOptions options;
  GError *error = NULL;
  g_assert_true (viv_net_options_parse (spec, &options, &error));
  GMainContext *context = g_main_context_new ();
  VivNetBackend *backend = viv_net_backend_new (&options, context, &error);
  g_assert_null (backend);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_autofree char *expected = g_strdup_printf ("cannot forward tcp port 127.0.0.1:%u to the "
                                               "guest: the host port is already in use", port);
  g_assert_nonnull (strstr (error->message, expected));
  g_error_free (error);
  g_main_context_unref (context);
  close (fd);
}

/* A receiver with no room: frames wait (at most VIV_NET_RX_QUEUE_MAX of
 * them, the rest are dropped and counted) until resume, then arrive in
 * order. */
static void
test_flow_control (void)
{
  Rig rig;
  rig_init (&rig, "user");
  rig_arp_gateway (&rig);
  rig.full = true;
  const unsigned n = VIV_NET_RX_QUEUE_MAX + 40;
  for (unsigned i = 0; i < n; i++)
    rig_send (&rig, frame_icmp_echo (rig.gateway_mac, ipv4 (VIV_NET_USER_GUEST),
                                     ipv4 (VIV_NET_USER_GATEWAY), 0x99, i, "x", 1));
  for (unsigned i = 0; i < 50; i++)
    g_main_context_iteration (rig.context, FALSE);
  /* Refused once, then left alone until resumed. */
  g_assert_cmpuint (rig.refusals, ==, 1);
  g_assert_cmpuint (rig.frames->len, ==, 0);
  g_assert_cmpuint (viv_net_backend_rx_dropped (rig.backend), ==, n - VIV_NET_RX_QUEUE_MAX);

  rig.full = false;
  viv_net_backend_resume_rx (rig.backend);
  for (unsigned i = 0; i < 50 && rig.frames->len < VIV_NET_RX_QUEUE_MAX; i++)
    g_main_context_iteration (rig.context, FALSE);
  g_assert_cmpuint (rig.frames->len, ==, VIV_NET_RX_QUEUE_MAX);
  for (unsigned i = 0; i < rig.frames->len; i++)
    {
      gsize len;
      const uint8_t *f = g_bytes_get_data (rig.frames->pdata[i], &len);
      g_assert_true (frame_is_icmp_echo_reply (f, len, ipv4 (VIV_NET_USER_GATEWAY), 0x99, i));
    }
  rig_clear (&rig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/net/slirp/arp-gateway", test_arp_gateway);
  g_test_add_func ("/net/slirp/dhcp-offer", test_dhcp_offer);
  g_test_add_func ("/net/slirp/icmp-gateway", test_icmp_gateway);
  g_test_add_func ("/net/slirp/tcp-hostfwd", test_tcp_hostfwd);
  g_test_add_func ("/net/slirp/udp-hostfwd", test_udp_hostfwd);
  g_test_add_func ("/net/slirp/udp-to-host", test_udp_to_host);
  g_test_add_func ("/net/slirp/port-in-use", test_port_in_use);
  g_test_add_func ("/net/slirp/flow-control", test_flow_control);
  return g_test_run ();
}
