#include <string.h>
#include <arpa/inet.h>

#include "frames.h"

const uint8_t test_guest_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
const uint8_t test_broadcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

uint32_t
ipv4 (const char *dotted)
{
  struct in_addr addr;
  g_assert_cmpint (inet_pton (AF_INET, dotted, &addr), ==, 1);
  return addr.s_addr;
}

uint16_t
get_be16 (const uint8_t *p)
{
  return p[0] << 8 | p[1];
}

uint32_t
get_be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void
put_be16 (uint8_t *p, uint16_t v)
{
  p[0] = v >> 8;
  p[1] = v;
}

static uint32_t
sum_words (const uint8_t *data, size_t len, uint32_t sum)
{
  for (size_t i = 0; i < len; i++)
    sum += (i & 1) ? data[i] : (uint32_t) data[i] << 8;
  return sum;
}

static uint16_t
fold (uint32_t sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

uint16_t
inet_checksum (const uint8_t *data, size_t len, uint32_t sum)
{
  return ~fold (sum_words (data, len, sum)) & 0xffff;
}

uint32_t
pseudo_header_sum (uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
  uint8_t ph[12];
  memcpy (ph, &src, 4);
  memcpy (ph + 4, &dst, 4);
  ph[8] = 0;
  ph[9] = proto;
  put_be16 (ph + 10, len);
  return sum_words (ph, sizeof ph, 0);
}

static GByteArray *
eth_frame (const uint8_t dst[6], uint16_t type, size_t payload_len)
{
  GByteArray *f = g_byte_array_sized_new (ETH_HLEN_ + payload_len);
  g_byte_array_set_size (f, ETH_HLEN_ + payload_len);
  memset (f->data, 0, f->len);
  memcpy (f->data, dst, 6);
  memcpy (f->data + 6, test_guest_mac, 6);
  put_be16 (f->data + 12, type);
  return f;
}

static void
ip_header (uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst, size_t payload_len)
{
  ip[0] = 0x45;
  put_be16 (ip + 2, IP_HLEN_ + payload_len);
  put_be16 (ip + 4, 0x1234);
  ip[8] = 64;
  ip[9] = proto;
  memcpy (ip + 12, &src, 4);
  memcpy (ip + 16, &dst, 4);
  put_be16 (ip + 10, inet_checksum (ip, IP_HLEN_, 0));
}

GByteArray *
frame_arp_request (const uint8_t mac[6], uint32_t sender_ip, uint32_t target_ip)
{
  GByteArray *f = eth_frame (test_broadcast_mac, 0x0806, 28);
  uint8_t *a = f->data + ETH_HLEN_;
  put_be16 (a, 1);
  put_be16 (a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  put_be16 (a + 6, 1);
  memcpy (a + 8, mac, 6);
  memcpy (a + 14, &sender_ip, 4);
  memcpy (a + 24, &target_ip, 4);
  return f;
}

GByteArray *
frame_icmp_echo (const uint8_t dst_mac[6], uint32_t src_ip, uint32_t dst_ip, uint16_t id,
                 uint16_t seq, const void *payload, size_t len)
{
  GByteArray *f = eth_frame (dst_mac, 0x0800, IP_HLEN_ + 8 + len);
  uint8_t *ip = f->data + ETH_HLEN_, *icmp = ip + IP_HLEN_;
  ip_header (ip, 1, src_ip, dst_ip, 8 + len);
  icmp[0] = 8;
  put_be16 (icmp + 4, id);
  put_be16 (icmp + 6, seq);
  memcpy (icmp + 8, payload, len);
  put_be16 (icmp + 2, inet_checksum (icmp, 8 + len, 0));
  return f;
}

GByteArray *
frame_udp (const uint8_t dst_mac[6], uint32_t src_ip, uint32_t dst_ip, uint16_t sport,
           uint16_t dport, const void *payload, size_t len, bool partial_csum)
{
  GByteArray *f = eth_frame (dst_mac, 0x0800, IP_HLEN_ + 8 + len);
  uint8_t *ip = f->data + ETH_HLEN_, *udp = ip + IP_HLEN_;
  ip_header (ip, 17, src_ip, dst_ip, 8 + len);
  put_be16 (udp, sport);
  put_be16 (udp + 2, dport);
  put_be16 (udp + 4, 8 + len);
  memcpy (udp + 8, payload, len);
  uint32_t pseudo = pseudo_header_sum (src_ip, dst_ip, 17, 8 + len);
  if (partial_csum)
    put_be16 (udp + 6, fold (pseudo));
  else
    {
      uint16_t csum = inet_checksum (udp, 8 + len, pseudo);
      put_be16 (udp + 6, csum ? csum : 0xffff);
    }
  return f;
}

GByteArray *
frame_dhcp_discover (uint32_t xid)
{
  uint8_t bootp[244] = { 0 };
  bootp[0] = 1;                 /* BOOTREQUEST */
  bootp[1] = 1;                 /* Ethernet */
  bootp[2] = 6;
  bootp[4] = xid >> 24;
  bootp[5] = xid >> 16;
  bootp[6] = xid >> 8;
  bootp[7] = xid;
  put_be16 (bootp + 10, 0x8000); /* broadcast reply */
  memcpy (bootp + 28, test_guest_mac, 6);
  static const uint8_t options[] = { 0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255 };
  memcpy (bootp + 236, options, sizeof options);
  return frame_udp (test_broadcast_mac, 0, 0xffffffff, 68, 67, bootp, sizeof bootp, false);
}

static const uint8_t *
ipv4_payload (const uint8_t *f, size_t len, uint8_t proto, size_t *payload_len)
{
  if (len < ETH_HLEN_ + IP_HLEN_ || get_be16 (f + 12) != 0x0800)
    return NULL;
  const uint8_t *ip = f + ETH_HLEN_;
  size_t ihl = (ip[0] & 15) * 4, total = get_be16 (ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < IP_HLEN_ || total < ihl || ETH_HLEN_ + total > len
      || ip[9] != proto)
    return NULL;
  *payload_len = total - ihl;
  return ip + ihl;
}

static uint32_t
ip_dst (const uint8_t *f)
{
  uint32_t dst;
  memcpy (&dst, f + ETH_HLEN_ + 16, 4);
  return dst;
}

static uint32_t
ip_src (const uint8_t *f)
{
  uint32_t src;
  memcpy (&src, f + ETH_HLEN_ + 12, 4);
  return src;
}

bool
frame_is_arp_reply (const uint8_t *f, size_t len, uint32_t sender_ip, uint32_t target_ip)
{
  if (len < ETH_HLEN_ + 28 || get_be16 (f + 12) != 0x0806)
    return false;
  const uint8_t *a = f + ETH_HLEN_;
  return get_be16 (a + 6) == 2 && memcmp (a + 14, &sender_ip, 4) == 0
         && memcmp (a + 24, &target_ip, 4) == 0 && memcmp (a + 18, test_guest_mac, 6) == 0
         && memcmp (f, test_guest_mac, 6) == 0;
}

bool
frame_is_icmp_echo_reply (const uint8_t *f, size_t len, uint32_t src_ip, uint16_t id,
                          uint16_t seq)
{
  size_t n;
  const uint8_t *icmp = ipv4_payload (f, len, 1, &n);
  return icmp && n >= 8 && icmp[0] == 0 && ip_src (f) == src_ip && get_be16 (icmp + 4) == id
         && get_be16 (icmp + 6) == seq;
}

bool
frame_is_dhcp_offer (const uint8_t *f, size_t len, uint32_t xid, uint32_t *yiaddr)
{
  size_t n;
  const uint8_t *udp = ipv4_payload (f, len, 17, &n);
  if (!udp || n < 8 + 240 || get_be16 (udp) != 67 || get_be16 (udp + 2) != 68)
    return false;
  const uint8_t *bootp = udp + 8, *end = udp + n;
  if (bootp[0] != 2 || get_be32 (bootp + 4) != xid || get_be32 (bootp + 236) != 0x63825363)
    return false;
  /* Walk the options for message type 2 (OFFER). */
  for (const uint8_t *o = bootp + 240; o < end && *o != 255;)
    {
      if (*o == 0)
        {
          o++;
          continue;
        }
      if (o + 2 > end || o + 2 + o[1] > end)
        return false;
      if (o[0] == 53 && o[1] == 1)
        {
          if (o[2] != 2)
            return false;
          memcpy (yiaddr, bootp + 16, 4);
          return true;
        }
      o += 2 + o[1];
    }
  return false;
}

bool
frame_is_tcp_syn (const uint8_t *f, size_t len, uint32_t dst_ip, uint16_t dport)
{
  size_t n;
  const uint8_t *tcp = ipv4_payload (f, len, 6, &n);
  return tcp && n >= 20 && ip_dst (f) == dst_ip && get_be16 (tcp + 2) == dport
         && (tcp[13] & 0x02) && !(tcp[13] & 0x10);
}

bool
frame_is_udp_to (const uint8_t *f, size_t len, uint32_t dst_ip, uint16_t dport,
                 const void *payload, size_t payload_len)
{
  size_t n;
  const uint8_t *udp = ipv4_payload (f, len, 17, &n);
  return udp && n == 8 + payload_len && ip_dst (f) == dst_ip && get_be16 (udp + 2) == dport
         && memcmp (udp + 8, payload, payload_len) == 0;
}

bool
frame_checksums_ok (const uint8_t *f, size_t len)
{
  if (len < ETH_HLEN_ + IP_HLEN_ || get_be16 (f + 12) != 0x0800)
    return false;
  const uint8_t *ip = f + ETH_HLEN_;
  size_t ihl = (ip[0] & 15) * 4, total = get_be16 (ip + 2);
  if (ihl < IP_HLEN_ || total < ihl || ETH_HLEN_ + total > len || inet_checksum (ip, ihl, 0))
    return false;
  const uint8_t *l4 = ip + ihl;
  size_t l4_len = total - ihl;
  switch (ip[9])
    {
    case 1:
      return inet_checksum (l4, l4_len, 0) == 0;
    case 6:
    case 17:
      if (ip[9] == 17 && l4_len >= 8 && get_be16 (l4 + 6) == 0)
        return true;            /* UDP without checksum */
      return inet_checksum (l4, l4_len, pseudo_header_sum (ip_src (f), ip_dst (f), ip[9],
                                                           l4_len)) == 0;
    default:
      return true;
    }
}
