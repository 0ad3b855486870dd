/* Ethernet, ARP, IPv4 (no options sent, fragments dropped), UDP for DHCP
 * (RFC 2131: DISCOVER, OFFER, REQUEST, ACK) and ICMP echo, just enough for
 * the probe's net mode.  Every received length is checked against the
 * frame before a field is read. */
#include "net.h"

#define ARP_LEN 28
#define UDP_HLEN 8
#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8
#define PING_ID 0x5052                    /* "PR" */
#define PING_BYTES 56

#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67
#define DHCP_FIXED_LEN 236                /* up to chaddr, sname and file */
#define DHCP_MAGIC 0x63825363
#define DHCP_MIN_LEN 300                  /* BOOTP's minimum message */
#define DHCP_DISCOVER 1
#define DHCP_OFFER    2
#define DHCP_REQUEST  3
#define DHCP_ACK      5
#define DHCP_NAK      6
#define OPT_PAD 0
#define OPT_MASK 1
#define OPT_ROUTER 3
#define OPT_DNS 6
#define OPT_REQUESTED_IP 50
#define OPT_MSG_TYPE 53
#define OPT_SERVER_ID 54
#define OPT_PARAMS 55
#define OPT_END 255

static const uint8_t broadcast_mac[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- checksums (RFC 1071) ---- */

uint32_t
csum_add (uint32_t sum, const uint8_t *data, uint32_t len)
{
  uint64_t s = sum;
  for (uint32_t i = 0; i + 1 < len; i += 2)
    s += get16 (data + i);
  if (len & 1)
    s += (uint32_t) data[len - 1] << 8;
  while (s >> 32)
    s = (s & 0xffffffff) + (s >> 32);
  return (uint32_t) s;
}

uint16_t
csum_fold (uint32_t sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t) ~sum;
}

void
format_ip (char out[16], uint32_t ip)
{
  unsigned n = 0;
  for (int shift = 24; shift >= 0; shift -= 8)
    {
      unsigned v = (ip >> shift) & 0xff;
      if (v >= 100)
        out[n++] = (char) ('0' + v / 100);
      if (v >= 10)
        out[n++] = (char) ('0' + v / 10 % 10);
      out[n++] = (char) ('0' + v % 10);
      if (shift)
        out[n++] = '.';
    }
  out[n] = 0;
}

/* ---- Ethernet and IP output ---- */

static uint8_t *pending_frame;            /* ip_begin .. ip_send */

static uint8_t *
eth_begin (const uint8_t *dst_mac, uint16_t type)
{
  uint8_t *f = net_tx_begin ();
  memcpy (f, dst_mac, ETH_ALEN);
  memcpy (f + ETH_ALEN, net_config.mac, ETH_ALEN);
  put16 (f + 12, type);
  return f;
}

uint8_t *
ip_begin (const uint8_t *dst_mac, uint32_t src, uint32_t dst, uint8_t proto)
{
  static uint16_t ident;
  uint8_t *f = eth_begin (dst_mac, ETH_TYPE_IP);
  uint8_t *ip = f + ETH_HLEN;
  memset (ip, 0, IP_HLEN);
  ip[0] = 0x45;
  put16 (ip + 4, ident++);
  ip[8] = 64;                             /* TTL */
  ip[9] = proto;
  put32 (ip + 12, src);
  put32 (ip + 16, dst);
  pending_frame = f;
  return ip + IP_HLEN;
}

void
ip_send (uint8_t *payload, uint32_t payload_len)
{
  uint8_t *ip = payload - IP_HLEN;
  put16 (ip + 2, (uint16_t) (IP_HLEN + payload_len));
  put16 (ip + 10, csum_fold (csum_add (0, ip, IP_HLEN)));
  uint32_t len = ETH_HLEN + IP_HLEN + payload_len;
  /* Ethernet's minimum frame: the device may not pad for us. */
  if (len < 60)
    {
      memset (pending_frame + len, 0, 60 - len);
      len = 60;
    }
  net_tx_send (pending_frame, len);
}

/* ---- ARP ---- */

static void
arp_send (uint16_t oper, const uint8_t *target_mac, uint32_t target_ip)
{
  uint8_t *f = eth_begin (oper == 1 ? broadcast_mac : target_mac, ETH_TYPE_ARP);
  uint8_t *a = f + ETH_HLEN;
  put16 (a, 1);                           /* Ethernet */
  put16 (a + 2, ETH_TYPE_IP);
  a[4] = ETH_ALEN;
  a[5] = 4;
  put16 (a + 6, oper);
  memcpy (a + 8, net_config.mac, ETH_ALEN);
  put32 (a + 14, net_config.ip);
  if (oper == 1)
    memset (a + 18, 0, ETH_ALEN);
  else
    memcpy (a + 18, target_mac, ETH_ALEN);
  put32 (a + 24, target_ip);
  memset (a + ARP_LEN, 0, 60 - ETH_HLEN - ARP_LEN);
  net_tx_send (f, 60);
}

static void
learn (uint32_t ip, const uint8_t *mac)
{
  if (ip && ip == net_config.gateway)
    {
      memcpy (net_config.gateway_mac, mac, ETH_ALEN);
      net_config.gateway_mac_known = true;
    }
}

static void
arp_input (const uint8_t *a, uint32_t len)
{
  if (len < ARP_LEN || get16 (a) != 1 || get16 (a + 2) != ETH_TYPE_IP || a[4] != ETH_ALEN || a[5] != 4)
    return;
  uint16_t oper = get16 (a + 6);
  uint32_t sender_ip = get32 (a + 14), target_ip = get32 (a + 24);
  learn (sender_ip, a + 8);
  if (oper == 1 && net_config.ip && target_ip == net_config.ip)
    arp_send (2, a + 8, sender_ip);
}

static bool
gateway_mac_known (void)
{
  return net_config.gateway_mac_known;
}

bool
arp_resolve_gateway (void)
{
  for (unsigned attempt = 0; attempt < 5 && !net_config.gateway_mac_known; attempt++)
    {
      arp_send (1, broadcast_mac, net_config.gateway);
      net_wait (gateway_mac_known, 1000);
    }
  return net_config.gateway_mac_known;
}

/* ---- ICMP ---- */

static uint16_t ping_seq;
static bool ping_answered;

static void
icmp_send (const uint8_t *dst_mac, uint32_t dst, uint8_t type, const uint8_t *rest, uint32_t rest_len)
{
  uint8_t *p = ip_begin (dst_mac, net_config.ip, dst, IP_PROTO_ICMP);
  p[0] = type;
  p[1] = 0;
  put16 (p + 2, 0);
  memcpy (p + 4, rest, rest_len);         /* id, sequence, data */
  put16 (p + 2, csum_fold (csum_add (0, p, 4 + rest_len)));
  ip_send (p, 4 + rest_len);
}

static void
icmp_input (const uint8_t *src_mac, uint32_t src, const uint8_t *p, uint32_t len)
{
  if (len < 8 || csum_fold (csum_add (0, p, len)) != 0)
    return;
  if (p[0] == ICMP_ECHO_REQUEST && len <= ETH_FRAME_MAX - ETH_HLEN - IP_HLEN)
    icmp_send (src_mac, src, ICMP_ECHO_REPLY, p + 4, len - 4);
  else if (p[0] == ICMP_ECHO_REPLY && get16 (p + 4) == PING_ID && get16 (p + 6) == ping_seq)
    ping_answered = true;
}

static bool
ping_done (void)
{
  return ping_answered;
}

uint64_t
ping (uint32_t ip)
{
  uint8_t rest[4 + PING_BYTES];
  for (unsigned i = 0; i < PING_BYTES; i++)
    rest[4 + i] = (uint8_t) i;
  for (unsigned attempt = 0; attempt < 3; attempt++)
    {
      ping_answered = false;
      put16 (rest, PING_ID);
      put16 (rest + 2, ++ping_seq);
      uint64_t t0 = rdtsc ();
      icmp_send (net_config.gateway_mac, ip, ICMP_ECHO_REQUEST, rest, sizeof rest);
      if (net_wait (ping_done, 1000))
        {
          uint64_t us = (rdtsc () - t0) / (tsc_hz () / 1000000 ? tsc_hz () / 1000000 : 1);
          return us ? us : 1;
        }
    }
  return 0;
}

/* ---- DHCP ---- */

static uint32_t dhcp_xid;
static uint8_t dhcp_state;                /* the reply awaited: DHCP_OFFER or DHCP_ACK */
static uint32_t offered_ip, offered_server;
static bool dhcp_bound;

static void
dhcp_send (uint8_t type)
{
  uint8_t *p = ip_begin (broadcast_mac, 0, IP_BROADCAST, IP_PROTO_UDP);
  uint8_t *d = p + UDP_HLEN;
  memset (d, 0, DHCP_MIN_LEN);
  d[0] = 1;                               /* BOOTREQUEST */
  d[1] = 1;
  d[2] = ETH_ALEN;
  put32 (d + 4, dhcp_xid);
  put16 (d + 10, 0x8000);                 /* reply by broadcast: we have no address yet */
  memcpy (d + 28, net_config.mac, ETH_ALEN);
  put32 (d + DHCP_FIXED_LEN, DHCP_MAGIC);
  uint8_t *o = d + DHCP_FIXED_LEN + 4;
  *o++ = OPT_MSG_TYPE, *o++ = 1, *o++ = type;
  if (type == DHCP_REQUEST)
    {
      *o++ = OPT_REQUESTED_IP, *o++ = 4;
      put32 (o, offered_ip), o += 4;
      *o++ = OPT_SERVER_ID, *o++ = 4;
      put32 (o, offered_server), o += 4;
    }
  *o++ = OPT_PARAMS, *o++ = 3, *o++ = OPT_MASK, *o++ = OPT_ROUTER, *o++ = OPT_DNS;
  *o++ = OPT_END;
  uint32_t len = UDP_HLEN + DHCP_MIN_LEN;
  put16 (p, DHCP_CLIENT_PORT);
  put16 (p + 2, DHCP_SERVER_PORT);
  put16 (p + 4, (uint16_t) len);
  put16 (p + 6, 0);                       /* no UDP checksum: allowed for IPv4 */
  ip_send (p, len);
}

static void
dhcp_input (const uint8_t *d, uint32_t len)
{
  if (len < DHCP_FIXED_LEN + 4 || d[0] != 2 || get32 (d + 4) != dhcp_xid
      || memcmp (d + 28, net_config.mac, ETH_ALEN) != 0 || get32 (d + DHCP_FIXED_LEN) != DHCP_MAGIC)
    return;
  uint8_t type = 0;
  uint32_t server = 0, router = 0, mask = 0, dns = 0;
  for (uint32_t i = DHCP_FIXED_LEN + 4; i < len && d[i] != OPT_END;)
    {
      uint8_t code = d[i];
      if (code == OPT_PAD)
        {
          i++;
          continue;
        }
      if (i + 2 > len || i + 2 + d[i + 1] > len)
        return;                           /* an option runs past the message */
      const uint8_t *v = d + i + 2;
      uint8_t n = d[i + 1];
      if (code == OPT_MSG_TYPE && n >= 1)
        type = v[0];
      else if (code == OPT_SERVER_ID && n >= 4)
        server = get32 (v);
      else if (code == OPT_ROUTER && n >= 4)
        router = get32 (v);
      else if (code == OPT_MASK && n >= 4)
        mask = get32 (v);
      else if (code == OPT_DNS && n >= 4)
        dns = get32 (v);
      i += 2u + n;
    }
  if (type == DHCP_OFFER && dhcp_state == DHCP_OFFER)
    {
      offered_ip = get32 (d + 16);
      offered_server = server;
      dhcp_state = DHCP_ACK;
      dhcp_send (DHCP_REQUEST);
    }
  else if (type == DHCP_ACK && dhcp_state == DHCP_ACK && get32 (d + 16) == offered_ip)
    {
      net_config.ip = offered_ip;
      net_config.server = server;
      net_config.gateway = router;
      net_config.netmask = mask;
      net_config.dns = dns;
      dhcp_bound = true;
    }
  else if (type == DHCP_NAK && dhcp_state == DHCP_ACK)
    dhcp_state = DHCP_OFFER;              /* start over */
}

static bool
dhcp_done (void)
{
  return dhcp_bound;
}

bool
dhcp_configure (void)
{
  dhcp_xid = (uint32_t) rdtsc () ^ 0x50524f42;
  for (unsigned attempt = 0; attempt < 8 && !dhcp_bound; attempt++)
    {
      dhcp_state = DHCP_OFFER;
      dhcp_send (DHCP_DISCOVER);
      net_wait (dhcp_done, 1000);
    }
  return dhcp_bound;
}

/* ---- input ---- */

static void
udp_input (const uint8_t *u, uint32_t len)
{
  if (len < UDP_HLEN || get16 (u + 4) < UDP_HLEN || get16 (u + 4) > len)
    return;
  if (get16 (u + 2) == DHCP_CLIENT_PORT)
    dhcp_input (u + UDP_HLEN, get16 (u + 4) - UDP_HLEN);
}

static void
ip_input (const uint8_t *src_mac, const uint8_t *ip, uint32_t len)
{
  if (len < IP_HLEN || ip[0] >> 4 != 4)
    return;
  uint32_t hlen = (ip[0] & 0xf) * 4u, total = get16 (ip + 2);
  if (hlen < IP_HLEN || total < hlen || total > len || csum_fold (csum_add (0, ip, hlen)) != 0)
    return;
  if (get16 (ip + 6) & 0x3fff)            /* a fragment (MF or an offset) */
    return;
  uint32_t src = get32 (ip + 12), dst = get32 (ip + 16);
  if (net_config.ip && dst != net_config.ip && dst != IP_BROADCAST)
    return;
  learn (src, src_mac);
  const uint8_t *payload = ip + hlen;
  uint32_t plen = total - hlen;
  switch (ip[9])
    {
    case IP_PROTO_ICMP:
      if (net_config.ip)
        icmp_input (src_mac, src, payload, plen);
      break;
    case IP_PROTO_UDP:
      udp_input (payload, plen);
      break;
    case IP_PROTO_TCP:
      if (net_config.ip)
        tcp_input (src_mac, src, dst, payload, plen);
      break;
    }
}

void
net_receive (const uint8_t *frame, uint32_t len)
{
  if (len < ETH_HLEN)
    return;
  if (memcmp (frame, net_config.mac, ETH_ALEN) != 0 && memcmp (frame, broadcast_mac, ETH_ALEN) != 0)
    return;
  uint16_t type = get16 (frame + 12);
  if (type == ETH_TYPE_ARP)
    arp_input (frame + ETH_HLEN, len - ETH_HLEN);
  else if (type == ETH_TYPE_IP)
    ip_input (frame + ETH_ALEN, frame + ETH_HLEN, len - ETH_HLEN);
}
