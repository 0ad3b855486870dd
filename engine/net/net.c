/* Network backends: option parsing, the shared receive queue with flow
 * control, and checksum completion. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "net/backend.h"

/* ---- Option parsing ----------------------------------------------------- */

static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, message);
  g_free (message);
  return FALSE;
}

void
viv_net_mac_format (const uint8_t mac[6], char buf[18])
{
  snprintf (buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

gboolean
viv_net_mac_is_valid (const uint8_t mac[6])
{
  static const uint8_t zero[6];
  return !(mac[0] & 1) && memcmp (mac, zero, 6) != 0;
}

static gboolean
parse_mac (const char *text, uint8_t mac[6], GError **error)
{
  unsigned octets[6];
  int consumed = -1;
  if (sscanf (text, "%2x:%2x:%2x:%2x:%2x:%2x%n", &octets[0], &octets[1], &octets[2],
              &octets[3], &octets[4], &octets[5], &consumed) != 6
      || consumed != 17 || text[consumed] != '\0')
    return invalid (error, "invalid MAC address '%s' in --net: expected six hex octets "
                    "separated by ':', e.g. 52:54:00:12:34:56", text);
  for (unsigned i = 0; i < 6; i++)
    mac[i] = octets[i];
  if (mac[0] & 1)
    return invalid (error, "invalid MAC address '%s' in --net: the first octet has the "
                    "multicast bit set; use a unicast address such as 52:54:00:12:34:56", text);
  if (!viv_net_mac_is_valid (mac))
    return invalid (error, "invalid MAC address '%s' in --net: all zeros", text);
  return TRUE;
}

static gboolean
parse_port (const char *text, const char *what, const char *rule, uint16_t *port,
            GError **error)
{
  char *end;
  errno = 0;
  unsigned long value = strtoul (text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno || value < 1 || value > 65535
      || !g_ascii_isdigit (*text))
    return invalid (error, "invalid %s port '%s' in hostfwd=%s: expected a number "
                    "from 1 to 65535", what, text, rule);
  *port = value;
  return TRUE;
}

static gboolean
parse_ipv4 (const char *text, const char *what, const char *rule, const char *fallback,
            struct in_addr *addr, GError **error)
{
  if (*text == '\0')
    text = fallback;
  if (inet_pton (AF_INET, text, addr) != 1)
    return invalid (error, "invalid %s address '%s' in hostfwd=%s: expected an IPv4 "
                    "address such as %s", what, text, rule, fallback);
  return TRUE;
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
static gboolean
parse_hostfwd (const char *rule, VivNetHostFwd *fwd, GError **error)
{
  static const char *usage = "expected hostfwd=tcp:127.0.0.1:HOSTPORT-:GUESTPORT "
                             "(or udp:…)";
  g_auto (GStrv) sides = g_strsplit (rule, "-", -1);
  if (g_strv_length (sides) != 2)
    return invalid (error, "malformed hostfwd=%s in --net: %s", rule, usage);

  g_auto (GStrv) host = g_strsplit (sides[0], ":", -1);
  g_auto (GStrv) guest = g_strsplit (sides[1], ":", -1);
  if (g_strv_length (host) != 3 || g_strv_length (guest) != 2)
    return invalid (error, "malformed hostfwd=%s in --net: %s", rule, usage);

  if (g_str_equal (host[0], "tcp") || host[0][0] == '\0')
    fwd->udp = false;
  else if (g_str_equal (host[0], "udp"))
    fwd->udp = true;
  else
    return invalid (error, "unknown protocol '%s' in hostfwd=%s: use tcp or udp", host[0], rule);

  if (!parse_ipv4 (host[1], "host", rule, "127.0.0.1", &fwd->host_addr, error)
      || !parse_port (host[2], "host", rule, &fwd->host_port, error)
      || !parse_ipv4 (guest[0], "guest", rule, VIV_NET_USER_GUEST, &fwd->guest_addr, error)
      || !parse_port (guest[1], "guest", rule, &fwd->guest_port, error))
    return FALSE;

  struct in_addr network, netmask, gateway, dns;
  inet_pton (AF_INET, VIV_NET_USER_NETWORK, &network);
  inet_pton (AF_INET, VIV_NET_USER_NETMASK, &netmask);
  inet_pton (AF_INET, VIV_NET_USER_GATEWAY, &gateway);
  inet_pton (AF_INET, VIV_NET_USER_DNS, &dns);
  if ((fwd->guest_addr.s_addr & netmask.s_addr) != network.s_addr
      || fwd->guest_addr.s_addr == network.s_addr
      || fwd->guest_addr.s_addr == (network.s_addr | ~netmask.s_addr)
      || fwd->guest_addr.s_addr == gateway.s_addr || fwd->guest_addr.s_addr == dns.s_addr)
    return invalid (error, "guest address in hostfwd=%s is not a guest address of the user "
                    "network %s/24 (the gateway is %s, DNS %s); leave it empty for %s",
                    rule, VIV_NET_USER_NETWORK, VIV_NET_USER_GATEWAY, VIV_NET_USER_DNS,
                    VIV_NET_USER_GUEST);
  return TRUE;
}

static gboolean
parse_on_off (const char *key, const char *value, bool *out, GError **error)
{
  if (g_str_equal (value, "on") || g_str_equal (value, "yes"))
    *out = true;
  else if (g_str_equal (value, "off") || g_str_equal (value, "no"))
    *out = false;
  else
    return invalid (error, "invalid value '%s' for '%s' in --net: use on or off", value, key);
  return TRUE;
}

gboolean
viv_net_options_parse (const char *spec, VivNetOptions *options, GError **error)
{
  memset (options, 0, sizeof *options);
  memcpy (options->mac, default_mac, 6);

  g_auto (GStrv) parts = g_strsplit (spec, ",", -1);
  if (!parts[0] || parts[0][0] == '\0')
    return invalid (error, "empty --net value: use 'user[,hostfwd=…][,mac=…]' or "
                    "'tap,ifname=IF[,mac=…]'");

  const char *known;
  if (g_str_equal (parts[0], "user"))
    {
      options->kind = VIV_NET_BACKEND_USER;
      known = "hostfwd, mac, restrict";
    }
  else if (g_str_equal (parts[0], "tap"))
    {
      options->kind = VIV_NET_BACKEND_TAP;
      known = "ifname, mac";
    }
  else
    return invalid (error, "unknown network type '%s' in --net: use 'user' or 'tap'", parts[0]);

  bool seen_mac = false, seen_restrict = false;
  for (unsigned i = 1; parts[i]; i++)
    {
      const char *eq = strchr (parts[i], '=');
      if (!eq || eq == parts[i])
        return invalid (error, "malformed option '%s' in --net: expected KEY=VALUE "
                        "(known: %s)", parts[i], known);
      g_autofree char *key = g_strndup (parts[i], eq - parts[i]);
      const char *value = eq + 1;

      if (g_str_equal (key, "mac"))
        {
          if (seen_mac)
            return invalid (error, "option 'mac' given twice in --net");
          seen_mac = true;
          if (!parse_mac (value, options->mac, error))
            return FALSE;
        }
      else if (options->kind == VIV_NET_BACKEND_USER && g_str_equal (key, "hostfwd"))
        {
          if (options->n_hostfwd == VIV_NET_MAX_HOSTFWD)
            return invalid (error, "too many hostfwd rules in --net (at most %d)",
                            VIV_NET_MAX_HOSTFWD);
          VivNetHostFwd *fwd = &options->hostfwd[options->n_hostfwd];
          if (!parse_hostfwd (value, fwd, error))
            return FALSE;
          for (unsigned j = 0; j < options->n_hostfwd; j++)
            if (options->hostfwd[j].udp == fwd->udp
                && options->hostfwd[j].host_port == fwd->host_port
                && options->hostfwd[j].host_addr.s_addr == fwd->host_addr.s_addr)
              return invalid (error, "host port %s:%u is forwarded twice in --net",
                              fwd->udp ? "udp" : "tcp", fwd->host_port);
          options->n_hostfwd++;
        }
      else if (options->kind == VIV_NET_BACKEND_USER && g_str_equal (key, "restrict"))
        {
          if (seen_restrict)
            return invalid (error, "option 'restrict' given twice in --net");
          seen_restrict = true;
          if (!parse_on_off (key, value, &options->restricted, error))
            return FALSE;
        }
      else if (options->kind == VIV_NET_BACKEND_TAP && g_str_equal (key, "ifname"))
        {
          if (options->ifname[0])
            return invalid (error, "option 'ifname' given twice in --net");
          if (value[0] == '\0' || strlen (value) >= IFNAMSIZ || strchr (value, '/')
              || g_str_equal (value, ".") || g_str_equal (value, ".."))
            return invalid (error, "invalid interface name '%s' in --net: 1 to %d characters, "
                            "no '/'", value, IFNAMSIZ - 1);
          g_strlcpy (options->ifname, value, sizeof options->ifname);
        }
      else
        return invalid (error, "unknown option '%s' in --net; known: %s", key, known);
    }

  if (options->kind == VIV_NET_BACKEND_TAP && !options->ifname[0])
    return invalid (error, "--net tap needs an interface: tap,ifname=IF (create it with "
                    "`ip tuntap add IF mode tap user $USER`)");
  return TRUE;
}

/* ---- Backends: construction and the receive queue ----------------------- */

VivNetBackend *
viv_net_backend_new (const VivNetOptions *options, GMainContext *context, GError **error)
{
  switch (options->kind)
    {
    case VIV_NET_BACKEND_USER:
      return viv_net_slirp_new (options, context, error);
    case VIV_NET_BACKEND_TAP:
      return viv_net_tap_new (options->ifname, context, error);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "unknown network backend kind %d", options->kind);
  return NULL;
}

typedef struct {
  size_t   len;
  unsigned flags;
  uint8_t  data[];
} RxFrame;

typedef struct {
  GSource        source;
  VivNetBackend *backend;
} FlushSource;

/* Hands queued frames to the receiver until it is full or the queue is
 * empty.  A resume that arrives while the receiver is saying "full"
 * (resume_seq moved) means it has room after all: try again. */
static void
flush_rx_queue (VivNetBackend *backend)
{
  bool resumed = false;
  g_mutex_lock (&backend->lock);
  while (!backend->rx_paused && !g_queue_is_empty (&backend->rx_queue))
    {
      RxFrame *frame = g_queue_pop_head (&backend->rx_queue);
      VivNetReceiveFunc receive = backend->receive;
      void *opaque = backend->receive_opaque;
      if (!receive)
        {
          backend->rx_dropped++;
          g_free (frame);
          continue;
        }
      unsigned seq = backend->resume_seq;
      g_mutex_unlock (&backend->lock);
      bool taken = receive (opaque, frame->data, frame->len, frame->flags);
      g_mutex_lock (&backend->lock);
      if (taken)
        g_free (frame);
      else
        {
          g_queue_push_head (&backend->rx_queue, frame);
          if (seq == backend->resume_seq)
            backend->rx_paused = true;
        }
    }
  if (g_queue_is_empty (&backend->rx_queue) && backend->producer_stopped)
    {
      backend->producer_stopped = false;
      resumed = true;
    }
  g_mutex_unlock (&backend->lock);
  if (resumed && backend->klass->rx_resumed)
    backend->klass->rx_resumed (backend);
}

static gboolean
flush_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  g_source_set_ready_time (source, -1);
  flush_rx_queue (((FlushSource *) source)->backend);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = { .dispatch = flush_dispatch };

void
viv_net_backend_init (VivNetBackend *backend, const VivNetBackendClass *klass,
                      GMainContext *context)
{
  backend->klass = klass;
  backend->context = g_main_context_ref (context);
  g_mutex_init (&backend->lock);
  g_queue_init (&backend->rx_queue);
  backend->flush_source = g_source_new (&flush_funcs, sizeof (FlushSource));
  ((FlushSource *) backend->flush_source)->backend = backend;
  g_source_set_name (backend->flush_source, "viv-net-rx");
  g_source_attach (backend->flush_source, context);
}

void
viv_net_backend_finalize (VivNetBackend *backend)
{
  g_source_destroy (backend->flush_source);
  g_source_unref (backend->flush_source);
  g_queue_clear_full (&backend->rx_queue, g_free);
  g_mutex_clear (&backend->lock);
  g_main_context_unref (backend->context);
}

static void
enqueue_locked (VivNetBackend *backend, const uint8_t *data, size_t len, unsigned flags)
{
  if (g_queue_get_length (&backend->rx_queue) >= VIV_NET_RX_QUEUE_MAX)
    {
      backend->rx_dropped++;
      return;
    }
  RxFrame *frame = g_malloc (sizeof *frame + len);
  frame->len = len;
  frame->flags = flags;
  memcpy (frame->data, data, len);
  g_queue_push_tail (&backend->rx_queue, frame);
}

void
viv_net_backend_queue_rx (VivNetBackend *backend, const uint8_t *frame, size_t len,
                          unsigned flags)
{
  g_mutex_lock (&backend->lock);
  enqueue_locked (backend, frame, len, flags);
  bool deliverable = !backend->rx_paused;
  g_mutex_unlock (&backend->lock);
  if (deliverable)
    g_source_set_ready_time (backend->flush_source, 0);
}

bool
viv_net_backend_deliver (VivNetBackend *backend, const uint8_t *frame, size_t len,
                         unsigned flags)
{
  g_mutex_lock (&backend->lock);
  if (!backend->receive)
    {
      backend->rx_dropped++;
      g_mutex_unlock (&backend->lock);
      return true;
    }
  if (!backend->rx_paused && g_queue_is_empty (&backend->rx_queue))
    {
      VivNetReceiveFunc receive = backend->receive;
      void *opaque = backend->receive_opaque;
      unsigned seq = backend->resume_seq;
      g_mutex_unlock (&backend->lock);
      if (receive (opaque, frame, len, flags))
        return true;
      g_mutex_lock (&backend->lock);
      if (seq == backend->resume_seq)
        backend->rx_paused = true;
      else
        g_source_set_ready_time (backend->flush_source, 0);
    }
  enqueue_locked (backend, frame, len, flags);
  backend->producer_stopped = true;
  g_mutex_unlock (&backend->lock);
  return false;
}

void
viv_net_backend_free (VivNetBackend *backend)
{
  if (backend)
    backend->klass->free (backend);
}

const char *
viv_net_backend_name (VivNetBackend *backend)
{
  return backend->klass->name;
}

void
viv_net_backend_set_receiver (VivNetBackend *backend, VivNetReceiveFunc func, void *opaque)
{
  g_mutex_lock (&backend->lock);
  backend->receive = func;
  backend->receive_opaque = opaque;
  backend->rx_paused = false;
  backend->resume_seq++;
  g_mutex_unlock (&backend->lock);
  g_source_set_ready_time (backend->flush_source, 0);
}

bool
viv_net_backend_send (VivNetBackend *backend, const struct iovec *iov, unsigned n_iov)
{
  return backend->klass->send (backend, iov, n_iov);
}

void
viv_net_backend_resume_rx (VivNetBackend *backend)
{
  g_mutex_lock (&backend->lock);
  backend->rx_paused = false;
  backend->resume_seq++;
  g_mutex_unlock (&backend->lock);
  g_source_set_ready_time (backend->flush_source, 0);
}

uint64_t
viv_net_backend_rx_dropped (VivNetBackend *backend)
{
  g_mutex_lock (&backend->lock);
  uint64_t dropped = backend->rx_dropped;
  g_mutex_unlock (&backend->lock);
  return dropped;
}

/* ---- Checksums ------------------------------------------------------------ */

bool
viv_net_checksum_complete (uint8_t *frame, size_t len, size_t start, size_t offset)
{
  if (start > len || offset > len - start || len - start - offset < 2)
    return false;
  uint32_t sum = 0;
  size_t i = start;
  for (; i + 1 < len; i += 2)
    sum += (uint32_t) frame[i] << 8 | frame[i + 1];
  if (i < len)
    sum += (uint32_t) frame[i] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  uint16_t csum = ~sum & 0xffff;
  frame[start + offset] = csum >> 8;
  frame[start + offset + 1] = csum & 0xff;
  return true;
}
