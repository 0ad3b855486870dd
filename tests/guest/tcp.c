/* A TCP echo server (RFC 9293), one connection at a time: what arrives
 * goes into a 64 KiB ring and is sent back from there.  The advertised
 * window is the ring's free space, so the peer can never overrun it.
 * Duplicate and out-of-order segments are answered with an ACK for what
 * we have; unacknowledged data is resent from snd_una after RTO_MS (go
 * back N), which slirp's loopback hardly ever needs.  The peer's FIN is
 * answered with ours once everything has been echoed. */
#include "net.h"

#define TCP_HLEN 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define OPT_MSS 2
#define OUR_MSS 1460
#define DEFAULT_MSS 536
#define RING_BYTES 65536                  /* a power of two */
#define WINDOW_MAX 65535                  /* no window scaling */
#define RTO_MS 300

typedef enum { TCP_CLOSED, TCP_LISTEN, TCP_SYN_RCVD, TCP_ESTABLISHED, TCP_CLOSE_WAIT, TCP_LAST_ACK } TcpState;

static struct {
  TcpState state;
  uint16_t port;
  uint32_t peer_ip;
  uint16_t peer_port;
  uint8_t  peer_mac[ETH_ALEN];
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd;
  uint32_t data_end;                      /* sequence number after the last byte in the ring */
  uint32_t rcv_nxt;
  uint32_t advertised;                    /* window in the last segment we sent */
  uint16_t mss;
  bool     fin_sent, ack_due;
  uint64_t rto_deadline;                  /* 0: no timer */
  uint64_t bytes, closed, retransmits;
  uint8_t  ring[RING_BYTES];
} tcp;

static inline bool seq_lt (uint32_t a, uint32_t b) { return (int32_t) (a - b) < 0; }
static inline bool seq_le (uint32_t a, uint32_t b) { return (int32_t) (a - b) <= 0; }

static uint32_t
window (void)
{
  uint32_t used = tcp.data_end - tcp.snd_una;
  uint32_t free = used >= RING_BYTES ? 0 : RING_BYTES - used;
  return free > WINDOW_MAX ? WINDOW_MAX : free;
}

static void
send_segment (uint8_t flags, uint32_t seq, uint32_t len)
{
  uint8_t *t = ip_begin (tcp.peer_mac, net_config.ip, tcp.peer_ip, IP_PROTO_TCP);
  uint32_t hlen = flags & TCP_SYN ? TCP_HLEN + 4 : TCP_HLEN;
  put16 (t, tcp.port);
  put16 (t + 2, tcp.peer_port);
  put32 (t + 4, seq);
  put32 (t + 8, tcp.rcv_nxt);
  t[12] = (uint8_t) (hlen / 4 << 4);
  t[13] = flags;
  tcp.advertised = window ();
  put16 (t + 14, (uint16_t) tcp.advertised);
  put16 (t + 16, 0);
  put16 (t + 18, 0);
  if (flags & TCP_SYN)
    {
      t[20] = OPT_MSS, t[21] = 4;
      put16 (t + 22, OUR_MSS);
    }
  /* The data, from the ring (it may wrap). */
  uint32_t at = seq & (RING_BYTES - 1);
  uint32_t first = len < RING_BYTES - at ? len : RING_BYTES - at;
  memcpy (t + hlen, tcp.ring + at, first);
  memcpy (t + hlen + first, tcp.ring, len - first);
  uint8_t pseudo[12];
  put32 (pseudo, net_config.ip);
  put32 (pseudo + 4, tcp.peer_ip);
  put16 (pseudo + 8, IP_PROTO_TCP);
  put16 (pseudo + 10, (uint16_t) (hlen + len));
  put16 (t + 16, csum_fold (csum_add (csum_add (0, pseudo, 12), t, hlen + len)));
  ip_send (t, hlen + len);
  tcp.ack_due = false;
}

static void
send_reset (const uint8_t *src_mac, uint32_t src, const uint8_t *seg, uint32_t len)
{
  /* Answer for a connection we do not have, in the segment's own terms. */
  TcpState state = tcp.state;
  uint32_t saved_ip = tcp.peer_ip, saved_nxt = tcp.rcv_nxt, saved_advertised = tcp.advertised;
  bool saved_ack_due = tcp.ack_due;
  uint16_t saved_port = tcp.peer_port;
  uint8_t saved_mac[ETH_ALEN];
  memcpy (saved_mac, tcp.peer_mac, ETH_ALEN);
  tcp.peer_ip = src;
  tcp.peer_port = get16 (seg);
  memcpy (tcp.peer_mac, src_mac, ETH_ALEN);
  uint8_t flags = seg[13];
  uint32_t data = len - (seg[12] >> 4) * 4u;
  if (flags & TCP_ACK)
    send_segment (TCP_RST, get32 (seg + 8), 0);
  else
    {
      tcp.rcv_nxt = get32 (seg + 4) + data + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
      send_segment (TCP_RST | TCP_ACK, 0, 0);
    }
  tcp.state = state;
  tcp.peer_ip = saved_ip;
  tcp.peer_port = saved_port;
  tcp.rcv_nxt = saved_nxt;
  tcp.advertised = saved_advertised;
  tcp.ack_due = saved_ack_due;
  memcpy (tcp.peer_mac, saved_mac, ETH_ALEN);
}

static void
arm_timer (void)
{
  tcp.rto_deadline = tsc_deadline_ms (RTO_MS);
}

static void
connection_over (bool reset)
{
  tcp.closed++;
  probe_printf ("PROBE net closed bytes=%lu retransmits=%lu reset=%u\r\n",
                tcp.bytes, tcp.retransmits, reset);
  tcp.state = TCP_LISTEN;
  tcp.rto_deadline = 0;
}

void
tcp_listen (uint16_t port)
{
  tcp.port = port;
  tcp.state = TCP_LISTEN;
}

uint64_t
tcp_connections_closed (void)
{
  return tcp.closed;
}

static void
accept_syn (const uint8_t *src_mac, uint32_t src, const uint8_t *seg, uint32_t hlen)
{
  tcp.peer_ip = src;
  tcp.peer_port = get16 (seg);
  memcpy (tcp.peer_mac, src_mac, ETH_ALEN);
  tcp.iss = (uint32_t) (tcp.closed + 1) << 24 | 0x10000;
  tcp.snd_una = tcp.iss;
  tcp.snd_nxt = tcp.snd_max = tcp.data_end = tcp.iss + 1;
  tcp.snd_wnd = get16 (seg + 14);
  tcp.rcv_nxt = get32 (seg + 4) + 1;
  tcp.fin_sent = false;
  tcp.bytes = tcp.retransmits = 0;
  tcp.mss = DEFAULT_MSS;
  for (uint32_t i = TCP_HLEN; i < hlen;)  /* options: only MSS matters */
    {
      uint8_t kind = seg[i];
      if (kind == 0)
        break;
      if (kind == 1)
        {
          i++;
          continue;
        }
      if (i + 1 >= hlen || seg[i + 1] < 2 || i + seg[i + 1] > hlen)
        break;
      if (kind == OPT_MSS && seg[i + 1] == 4)
        tcp.mss = get16 (seg + i + 2);
      i += seg[i + 1];
    }
  if (tcp.mss > OUR_MSS)
    tcp.mss = OUR_MSS;
  if (tcp.mss < 64)
    tcp.mss = 64;
  tcp.state = TCP_SYN_RCVD;
  send_segment (TCP_SYN | TCP_ACK, tcp.iss, 0);
  arm_timer ();
}

void
tcp_input (const uint8_t *src_mac, uint32_t src, uint32_t dst, const uint8_t *seg, uint32_t len)
{
  if (len < TCP_HLEN || tcp.state == TCP_CLOSED)
    return;
  uint32_t hlen = (seg[12] >> 4) * 4u;
  if (hlen < TCP_HLEN || hlen > len)
    return;
  uint8_t pseudo[12];
  put32 (pseudo, src);
  put32 (pseudo + 4, dst);
  put16 (pseudo + 8, IP_PROTO_TCP);
  put16 (pseudo + 10, (uint16_t) len);
  if (csum_fold (csum_add (csum_add (0, pseudo, 12), seg, len)) != 0)
    return;
  if (get16 (seg + 2) != tcp.port)
    {
      if (!(seg[13] & TCP_RST))
        send_reset (src_mac, src, seg, len);
      return;
    }
  uint8_t flags = seg[13];
  uint32_t seq = get32 (seg + 4), ack = get32 (seg + 8);
  const uint8_t *data = seg + hlen;
  uint32_t data_len = len - hlen;
  bool ours = tcp.state != TCP_LISTEN && src == tcp.peer_ip && get16 (seg) == tcp.peer_port;

  if (tcp.state == TCP_LISTEN)
    {
      if (flags & TCP_RST)
        return;
      if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
        accept_syn (src_mac, src, seg, hlen);
      else
        send_reset (src_mac, src, seg, len);
      return;
    }
  if (!ours)
    {
      /* One connection at a time: a new one is refused until this ends. */
      if (!(flags & TCP_RST))
        send_reset (src_mac, src, seg, len);
      return;
    }
  if (flags & TCP_RST)
    {
      if (seq_le (tcp.rcv_nxt, seq) && seq_lt (seq, tcp.rcv_nxt + WINDOW_MAX + 1))
        connection_over (true);
      return;
    }
  if (tcp.state == TCP_SYN_RCVD)
    {
      if ((flags & TCP_SYN) && seq + 1 == tcp.rcv_nxt)
        {
          send_segment (TCP_SYN | TCP_ACK, tcp.iss, 0);   /* our SYN-ACK was lost */
          return;
        }
      if (!(flags & TCP_ACK) || ack != tcp.iss + 1)
        return;
      tcp.state = TCP_ESTABLISHED;
      tcp.snd_una = tcp.iss + 1;
      tcp.rto_deadline = 0;
      probe_printf ("PROBE net accepted port=%u\r\n", tcp.peer_port);
    }
  if (flags & TCP_SYN)
    {
      tcp.ack_due = true;                 /* a stray SYN: tell the peer where we are */
      return;
    }
  if (flags & TCP_ACK)
    {
      if (seq_lt (tcp.snd_una, ack) && seq_le (ack, tcp.snd_max))
        {
          tcp.snd_una = ack;
          if (seq_lt (tcp.snd_nxt, ack))
            tcp.snd_nxt = ack;
          tcp.rto_deadline = tcp.snd_una == tcp.snd_max ? 0 : tsc_deadline_ms (RTO_MS);
        }
      if (seq_le (tcp.snd_una, ack) && seq_le (ack, tcp.snd_max))
        tcp.snd_wnd = get16 (seg + 14);
      if (tcp.state == TCP_LAST_ACK && tcp.snd_una == tcp.data_end + 1)
        {
          connection_over (false);
          return;
        }
    }
  if (data_len)
    {
      int32_t skip = (int32_t) (tcp.rcv_nxt - seq);
      if (tcp.state == TCP_ESTABLISHED && skip >= 0 && (uint32_t) skip < data_len)
        {
          uint32_t take = data_len - (uint32_t) skip;
          uint32_t used = tcp.data_end - tcp.snd_una;
          uint32_t room = used >= RING_BYTES ? 0 : RING_BYTES - used;
          if (take > room)
            take = room;
          for (uint32_t i = 0; i < take; i++)
            tcp.ring[(tcp.data_end + i) & (RING_BYTES - 1)] = data[(uint32_t) skip + i];
          tcp.data_end += take;
          tcp.rcv_nxt += take;
          tcp.bytes += take;
        }
      tcp.ack_due = true;                 /* new, duplicate or out of order: say what we have */
    }
  if (flags & TCP_FIN)
    {
      if (tcp.state == TCP_ESTABLISHED && seq + data_len == tcp.rcv_nxt)
        {
          tcp.rcv_nxt++;
          tcp.state = TCP_CLOSE_WAIT;
        }
      tcp.ack_due = true;
    }
}

bool
tcp_output (void)
{
  bool sent = false;
  bool timeout = tcp.rto_deadline && tsc_passed (tcp.rto_deadline);
  switch (tcp.state)
    {
    case TCP_SYN_RCVD:
      if (timeout)
        {
          tcp.retransmits++;
          send_segment (TCP_SYN | TCP_ACK, tcp.iss, 0);
          arm_timer ();
          return true;
        }
      return false;
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
    case TCP_LAST_ACK:
      break;
    default:
      return false;
    }
  if (timeout)
    {
      /* Go back N, and probe a zero window with one byte. */
      tcp.retransmits += tcp.snd_una != tcp.snd_max;
      tcp.snd_nxt = tcp.snd_una;
      if (tcp.fin_sent && seq_le (tcp.snd_una, tcp.data_end))
        {
          tcp.fin_sent = false;
          tcp.state = TCP_CLOSE_WAIT;
        }
      tcp.rto_deadline = 0;
    }
  for (;;)
    {
      uint32_t pending = tcp.data_end - tcp.snd_nxt;
      uint32_t in_flight = tcp.snd_nxt - tcp.snd_una;
      if (!pending || seq_lt (tcp.data_end, tcp.snd_nxt))
        break;
      uint32_t usable = tcp.snd_wnd > in_flight ? tcp.snd_wnd - in_flight : 0;
      if (!usable && !in_flight && timeout)
        usable = 1;
      if (!usable)
        {
          if (!tcp.rto_deadline)
            arm_timer ();                 /* zero window: probe it later */
          break;
        }
      uint32_t n = pending < tcp.mss ? pending : tcp.mss;
      if (n > usable)
        n = usable;
      send_segment (TCP_ACK | TCP_PSH, tcp.snd_nxt, n);
      tcp.snd_nxt += n;
      if (seq_lt (tcp.snd_max, tcp.snd_nxt))
        tcp.snd_max = tcp.snd_nxt;
      if (!tcp.rto_deadline)
        arm_timer ();
      sent = true;
    }
  if (tcp.state == TCP_CLOSE_WAIT && !tcp.fin_sent && tcp.snd_nxt == tcp.data_end)
    {
      send_segment (TCP_FIN | TCP_ACK, tcp.data_end, 0);
      tcp.fin_sent = true;
      tcp.snd_nxt = tcp.data_end + 1;
      if (seq_lt (tcp.snd_max, tcp.snd_nxt))
        tcp.snd_max = tcp.snd_nxt;
      tcp.state = TCP_LAST_ACK;
      arm_timer ();
      sent = true;
    }
  /* A pure ACK: owed, or the window opened by a quarter since we said. */
  if (tcp.ack_due || window () >= tcp.advertised + RING_BYTES / 4)
    {
      send_segment (TCP_ACK, tcp.snd_nxt, 0);
      sent = true;
    }
  return sent;
}
