/* The tap backend against a real kernel interface.  Each test runs in a
 * subprocess that moves into a network namespace of its own, so the tap,
 * its address and all traffic stay private to the test.  Needs root
 * (CAP_NET_ADMIN and unshare); skipped with the reason otherwise. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "frames.h"
#include "net/net.h"

#define TAP_NAME   "vivtest0"
#define HOST_IP    "10.9.0.1"
#define GUEST_IP   "10.9.0.2"

typedef struct {
  GMainContext  *context;
  VivNetBackend *backend;
  GPtrArray     *frames;
  bool           full;
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
  g_ptr_array_add (rig->frames, g_bytes_new (frame, len));
  return true;
}

/* Why the tests cannot run here, or NULL. */
static const char *
namespace_unavailable (void)
{
  if (geteuid () != 0)
    return "needs root (CAP_NET_ADMIN) to create a tap in a private network namespace";
  if (access ("/dev/net/tun", R_OK | W_OK) != 0)
    return "/dev/net/tun is not available";
  /* Try it in a throw-away child: unshare changes the caller for good. */
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (unshare (CLONE_NEWNET) == 0 ? 0 : 1);
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return "cannot create a network namespace here (unshare(CLONE_NEWNET) refused)";
  return NULL;
}

static void
enter_private_namespace (void)
{
  if (unshare (CLONE_NEWNET) != 0)
    g_error ("unshare(CLONE_NEWNET): %s", g_strerror (errno));
}

static void
configure_interface (const char *name, const char *addr)
{
  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  g_assert_cmpint (fd, >=, 0);
  struct ifreq ifr = { 0 };
  g_strlcpy (ifr.ifr_name, name, sizeof ifr.ifr_name);
  struct sockaddr_in *sin = (struct sockaddr_in *) &ifr.ifr_addr;
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = ipv4 (addr);
  g_assert_cmpint (ioctl (fd, SIOCSIFADDR, &ifr), ==, 0);
  sin->sin_addr.s_addr = ipv4 ("255.255.255.0");
  g_assert_cmpint (ioctl (fd, SIOCSIFNETMASK, &ifr), ==, 0);
  g_assert_cmpint (ioctl (fd, SIOCGIFFLAGS, &ifr), ==, 0);
  ifr.ifr_flags |= IFF_UP;
  g_assert_cmpint (ioctl (fd, SIOCSIFFLAGS, &ifr), ==, 0);
  close (fd);
}

static void
rig_init (Rig *rig)
{
  memset (rig, 0, sizeof *rig);
  rig->context = g_main_context_new ();
  rig->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  VivNetOptions options;
  GError *error = NULL;
  g_assert_true (viv_net_options_parse ("tap,ifname=" TAP_NAME, &options, &error));
  rig->backend = viv_net_backend_new (&options, rig->context, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (viv_net_backend_name (rig->backend), ==, "tap");
  viv_net_backend_set_receiver (rig->backend, rig_receive, rig);
  configure_interface (TAP_NAME, HOST_IP);
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
  struct iovec iov[2] = { { frame->data, 20 }, { frame->data + 20, frame->len - 20 } };
  g_assert_true (viv_net_backend_send (rig->backend, iov, 2));
  g_byte_array_unref (frame);
}

typedef bool (*FrameMatch) (const uint8_t *f, size_t len);

static GBytes *
rig_wait_frame (Rig *rig, FrameMatch match)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      for (unsigned i = 0; i < rig->frames->len; i++)
        {
          gsize len;
          const uint8_t *f = g_bytes_get_data (rig->frames->pdata[i], &len);
          if (match (f, len))
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
match_arp_reply (const uint8_t *f, size_t len)
{
  return frame_is_arp_reply (f, len, ipv4 (HOST_IP), ipv4 (GUEST_IP));
}

static bool
match_echo_reply (const uint8_t *f, size_t len)
{
  return frame_is_icmp_echo_reply (f, len, ipv4 (HOST_IP), 0x42, 1);
}

static void
tap_arp_and_ping_child (void)
{
  enter_private_namespace ();
  Rig rig;
  rig_init (&rig);

  /* The kernel answers our ARP … */
  rig_send (&rig, frame_arp_request (test_guest_mac, ipv4 (GUEST_IP), ipv4 (HOST_IP)));
  GBytes *reply = rig_wait_frame (&rig, match_arp_reply);
  g_assert_nonnull (reply);
  uint8_t host_mac[6];
  memcpy (host_mac, (const uint8_t *) g_bytes_get_data (reply, NULL) + ETH_HLEN_ + 8, 6);
  g_bytes_unref (reply);

  /* … and our ping, with correct checksums. */
  static const char payload[] = "through the tap";
  rig_send (&rig, frame_icmp_echo (host_mac, ipv4 (GUEST_IP), ipv4 (HOST_IP), 0x42, 1,
                                   payload, sizeof payload));
  GBytes *echo = rig_wait_frame (&rig, match_echo_reply);
  g_assert_nonnull (echo);
  gsize len;
  const uint8_t *f = g_bytes_get_data (echo, &len);
  g_assert_true (frame_checksums_ok (f, len));
  g_assert_cmpmem (f + ETH_HLEN_ + IP_HLEN_ + 8, sizeof payload, payload, sizeof payload);
  g_bytes_unref (echo);
  rig_clear (&rig);
}

/* With no room in the receiver the backend stops reading the tap, and
 * reads again once resumed: nothing the kernel sent in between is lost
 * (the kernel queues it). */
static void
tap_flow_control_child (void)
{
  enter_private_namespace ();
  Rig rig;
  rig_init (&rig);
  rig_send (&rig, frame_arp_request (test_guest_mac, ipv4 (GUEST_IP), ipv4 (HOST_IP)));
  GBytes *reply = rig_wait_frame (&rig, match_arp_reply);
  g_assert_nonnull (reply);
  uint8_t host_mac[6];
  memcpy (host_mac, (const uint8_t *) g_bytes_get_data (reply, NULL) + ETH_HLEN_ + 8, 6);
  g_bytes_unref (reply);
  g_ptr_array_set_size (rig.frames, 0);

  rig.full = true;
  const unsigned n = 20;
  for (unsigned i = 0; i < n; i++)
    rig_send (&rig, frame_icmp_echo (host_mac, ipv4 (GUEST_IP), ipv4 (HOST_IP), 0x42, 100 + i,
                                     "x", 1));
  for (unsigned i = 0; i < 200; i++)
    {
      g_main_context_iteration (rig.context, FALSE);
      g_usleep (1000);
    }
  g_assert_cmpuint (rig.refusals, ==, 1);

  rig.full = false;
  viv_net_backend_resume_rx (rig.backend);
  unsigned replies = 0;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (replies < n && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (rig.context, FALSE);
      replies = 0;
      for (unsigned i = 0; i < rig.frames->len; i++)
        {
          gsize len;
          const uint8_t *f = g_bytes_get_data (rig.frames->pdata[i], &len);
          if (frame_is_icmp_echo_reply (f, len, ipv4 (HOST_IP), 0x42, 100 + replies))
            replies++;
        }
    }
  g_assert_cmpuint (replies, ==, n);
  g_assert_cmpuint (viv_net_backend_rx_dropped (rig.backend), ==, 0);
  rig_clear (&rig);
}

/* "lo" exists and is not a tap: the open fails with the advice. */
static void
tap_open_error_child (void)
{
  enter_private_namespace ();
  GMainContext *context = g_main_context_new ();
  GError *error = NULL;
  VivNetBackend *backend = viv_net_tap_new ("lo", context, &error);
  g_assert_null (backend);
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, "cannot open tap device lo: "));
  g_assert_nonnull (strstr (error->message, "create it with `ip tuntap add lo mode tap user $USER`"));
  g_error_free (error);
  g_main_context_unref (context);
}

static void
run_in_namespace (gconstpointer data)
{
  const char *why = namespace_unavailable ();
  if (why)
    {
      g_test_skip (why);
      return;
    }
  g_test_trap_subprocess (data, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/net/tap/arp-and-ping/subprocess", tap_arp_and_ping_child);
  g_test_add_func ("/net/tap/flow-control/subprocess", tap_flow_control_child);
  g_test_add_func ("/net/tap/open-error/subprocess", tap_open_error_child);
  g_test_add_data_func ("/net/tap/arp-and-ping", "/net/tap/arp-and-ping/subprocess",
                        run_in_namespace);
  g_test_add_data_func ("/net/tap/flow-control", "/net/tap/flow-control/subprocess",
                        run_in_namespace);
  g_test_add_data_func ("/net/tap/open-error", "/net/tap/open-error/subprocess",
                        run_in_namespace);
  return g_test_run ();
}
