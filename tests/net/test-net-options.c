/* --net option strings: what is accepted, and the message for what is not. */
#include <string.h>
#include <arpa/inet.h>

#include "net/net.h"

static void
assert_refused (const char *spec, const char *message_part)
{
  VivNetOptions options;
  GError *error = NULL;
  g_assert_false (viv_net_options_parse (spec, &options, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  if (!strstr (error->message, message_part))
    g_error ("'%s': message \"%s\" lacks \"%s\"", spec, error->message, message_part);
  g_error_free (error);
}

static void
test_user_default (void)
{
  VivNetOptions options;
  GError *error = NULL;
  g_assert_true (viv_net_options_parse ("user", &options, &error));
  g_assert_no_error (error);
  g_assert_cmpint (options.kind, ==, VIV_NET_BACKEND_USER);
  g_assert_cmpuint (options.n_hostfwd, ==, 0);
  g_assert_false (options.restricted);
  char mac[18];
  viv_net_mac_format (options.mac, mac);
  g_assert_cmpstr (mac, ==, "52:54:00:12:34:56");
}

static void
test_user_full (void)
{
  VivNetOptions options;
  GError *error = NULL;
  g_assert_true (viv_net_options_parse (
      "user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-10.0.2.20:53,"
      "hostfwd=:127.0.0.1:8080-:80,restrict=on,mac=02:aa:bb:cc:dd:EE", &options, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (options.n_hostfwd, ==, 3);
  char addr[INET_ADDRSTRLEN];

  const VivNetHostFwd *f = &options.hostfwd[0];
  g_assert_false (f->udp);
  g_assert_cmpstr (inet_ntop (AF_INET, &f->host_addr, addr, sizeof addr), ==, "127.0.0.1");
  g_assert_cmpuint (f->host_port, ==, 2222);
  g_assert_cmpstr (inet_ntop (AF_INET, &f->guest_addr, addr, sizeof addr), ==, "10.0.2.15");
  g_assert_cmpuint (f->guest_port, ==, 22);

  f = &options.hostfwd[1];
  g_assert_true (f->udp);
  /* An empty host address means loopback only, not every interface. */
  g_assert_cmpstr (inet_ntop (AF_INET, &f->host_addr, addr, sizeof addr), ==, "127.0.0.1");
  g_assert_cmpuint (f->host_port, ==, 5353);
  g_assert_cmpstr (inet_ntop (AF_INET, &f->guest_addr, addr, sizeof addr), ==, "10.0.2.20");
  g_assert_cmpuint (f->guest_port, ==, 53);

  g_assert_false (options.hostfwd[2].udp);
  g_assert_true (options.restricted);
  char mac[18];
  viv_net_mac_format (options.mac, mac);
  g_assert_cmpstr (mac, ==, "02:aa:bb:cc:dd:ee");
}

static void
test_tap (void)
{
  VivNetOptions options;
  GError *error = NULL;
  g_assert_true (viv_net_options_parse ("tap,ifname=vivtap0,mac=52:54:00:00:00:01",
                                        &options, &error));
  g_assert_no_error (error);
  g_assert_cmpint (options.kind, ==, VIV_NET_BACKEND_TAP);
  g_assert_cmpstr (options.ifname, ==, "vivtap0");
  g_assert_cmpuint (options.mac[5], ==, 1);
}

static void
test_refused (void)
{
  assert_refused ("", "empty --net value");
  assert_refused ("bridge", "unknown network type 'bridge' in --net: use 'user' or 'tap'");
  assert_refused ("user,foo=1", "unknown option 'foo' in --net; known: hostfwd, mac, restrict");
  assert_refused ("user,ifname=tap0", "unknown option 'ifname' in --net; known: hostfwd");
  assert_refused ("tap,ifname=t0,hostfwd=tcp::1-:2", "unknown option 'hostfwd' in --net; "
                  "known: ifname, mac");
  assert_refused ("user,mac", "malformed option 'mac' in --net: expected KEY=VALUE");
  assert_refused ("user,mac=01:00:5e:00:00:01", "multicast bit");
  assert_refused ("user,mac=00:00:00:00:00:00", "all zeros");
  assert_refused ("user,mac=52:54:00:12:34", "expected six hex octets");
  assert_refused ("user,mac=52:54:00:12:34:567", "expected six hex octets");
  assert_refused ("user,mac=52:54:00:12:34:zz", "expected six hex octets");
  assert_refused ("user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57", "'mac' given twice");
  assert_refused ("user,hostfwd=tcp:127.0.0.1:0-:22", "invalid host port '0'");
  assert_refused ("user,hostfwd=tcp:127.0.0.1:65536-:22", "invalid host port '65536'");
  assert_refused ("user,hostfwd=tcp:127.0.0.1:22x-:22", "invalid host port '22x'");
  assert_refused ("user,hostfwd=tcp:127.0.0.1:+22-:22", "invalid host port '+22'");
  assert_refused ("user,hostfwd=tcp:127.0.0.1:2222-:", "invalid guest port ''");
  assert_refused ("user,hostfwd=tcp:127.0.0.1:2222:22", "malformed hostfwd=");
  assert_refused ("user,hostfwd=tcp:2222-:22", "malformed hostfwd=");
  assert_refused ("user,hostfwd=sctp::2222-:22", "unknown protocol 'sctp'");
  assert_refused ("user,hostfwd=tcp:localhost:2222-:22", "invalid host address 'localhost'");
  assert_refused ("user,hostfwd=tcp::2222-192.168.1.5:22", "not a guest address");
  assert_refused ("user,hostfwd=tcp::2222-10.0.2.2:22", "not a guest address");
  assert_refused ("user,hostfwd=tcp::2222-:22,hostfwd=tcp:127.0.0.1:2222-:23",
                  "forwarded twice");
  assert_refused ("user,restrict=maybe", "invalid value 'maybe' for 'restrict'");
  assert_refused ("tap", "--net tap needs an interface: tap,ifname=IF");
  assert_refused ("tap,ifname=", "invalid interface name ''");
  assert_refused ("tap,ifname=abcdefghijklmnop", "invalid interface name");
  assert_refused ("tap,ifname=a/b", "invalid interface name");
}

static void
test_too_many_hostfwd (void)
{
  GString *spec = g_string_new ("user");
  for (unsigned i = 0; i <= VIV_NET_MAX_HOSTFWD; i++)
    g_string_append_printf (spec, ",hostfwd=tcp::%u-:22", 10000 + i);
  assert_refused (spec->str, "too many hostfwd rules");
  g_string_free (spec, TRUE);
}

static void
test_checksum_complete (void)
{
  /* The RFC 1071 example: words 0001 f203 f4f5 f6f7 sum to ddf2 (folded),
   * so the checksum is ~ddf2 = 220d. */
  uint8_t data[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x00, 0x00 };
  g_assert_true (viv_net_checksum_complete (data, sizeof data, 0, 8));
  g_assert_cmphex (data[8] << 8 | data[9], ==, 0x220d);
  /* The field must lie entirely inside the frame. */
  g_assert_false (viv_net_checksum_complete (data, sizeof data, 0, 9));
  g_assert_false (viv_net_checksum_complete (data, sizeof data, 11, 0));
  g_assert_false (viv_net_checksum_complete (data, sizeof data, 4, 0xfffe));
  g_assert_true (viv_net_checksum_complete (data, sizeof data, 8, 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/net/options/user-default", test_user_default);
  g_test_add_func ("/net/options/user-full", test_user_full);
  g_test_add_func ("/net/options/tap", test_tap);
  g_test_add_func ("/net/options/refused", test_refused);
  g_test_add_func ("/net/options/too-many-hostfwd", test_too_many_hostfwd);
  g_test_add_func ("/net/checksum/complete", test_checksum_complete);
  return g_test_run ();
}
