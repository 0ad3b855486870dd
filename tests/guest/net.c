/* probe.mode=net: virtio-net (virtio 1.2 §5.1) with no offloads: queue 0
 * receives into RX_BUFFERS buffers that each hold a whole frame, queue 1
 * transmits from a pool of TX_BUFFERS.  The mode configures itself by
 * DHCP, pings the gateway, then runs a TCP echo server (tcp.c) for
 * probe.net_conns connections on probe.net_port. */
#include "net.h"

#define VIRTIO_NET_F_MAC 5
#define VNET_HDR_LEN 12                   /* struct virtio_net_hdr with VERSION_1 */
#define BUF_BYTES 2048                    /* header + a 1514-byte frame */
#define RX_BUFFERS 128
#define TX_BUFFERS 128

static VirtioDev *dev;
static Virtq rxq, txq;
static uint8_t *tx_pool[TX_BUFFERS];
static unsigned tx_free;

NetConfig net_config;

static void
give_rx (uint8_t *buf)
{
  VirtqBuf b = { dma_addr (buf), BUF_BYTES, true };
  virtq_add (&rxq, &b, 1, buf);
}

static bool
reclaim_tx (void)
{
  bool any = false;
  uint8_t *buf;
  while ((buf = virtq_get (&txq, NULL)))
    {
      tx_pool[tx_free++] = buf;
      any = true;
    }
  return any;
}

uint8_t *
net_tx_begin (void)
{
  reclaim_tx ();
  if (!tx_free)
    {
      uint8_t *buf = virtq_wait (&txq, NULL, 10000);
      if (!buf)
        {
          probe_printf ("PROBE net error=tx-timeout status=0x%x\r\n", virtio_status (dev));
          probe_exit (PROBE_EXIT_FAILED);
        }
      tx_pool[tx_free++] = buf;
    }
  uint8_t *buf = tx_pool[--tx_free];
  memset (buf, 0, VNET_HDR_LEN);
  return buf + VNET_HDR_LEN;
}

void
net_tx_send (uint8_t *frame, uint32_t len)
{
  uint8_t *buf = frame - VNET_HDR_LEN;
  VirtqBuf b = { dma_addr (buf), VNET_HDR_LEN + len, false };
  virtq_add (&txq, &b, 1, buf);
  virtq_kick (&txq);
}

bool
net_poll (void)
{
  bool any = false;
  uint8_t *buf;
  uint32_t len;
  while ((buf = virtq_get (&rxq, &len)))
    {
      if (len > VNET_HDR_LEN && len <= BUF_BYTES)
        net_receive (buf + VNET_HDR_LEN, len - VNET_HDR_LEN);
      give_rx (buf);
      any = true;
    }
  if (any)
    virtq_kick (&rxq);
  reclaim_tx ();
  return any;
}

bool
net_wait (bool (*done) (void), uint64_t ms)
{
  uint64_t deadline = tsc_deadline_ms (ms);
  while (!done ())
    {
      uint64_t seen = virtio_idle_begin ();
      if (net_poll () | tcp_output ())
        continue;
      if (tsc_passed (deadline))
        return false;
      virtq_arm (&rxq);
      virtq_arm (&txq);
      if (net_poll ())
        continue;
      virtio_idle (seen);
    }
  return true;
}

static bool
device_init (void)
{
  if (!(dev = virtio_find (VIRTIO_ID_NET, "net")))
    return false;
  if (!virtio_begin (dev, FEATURE (VIRTIO_NET_F_MAC))
      || !virtq_init (&rxq, dev, 0, RX_BUFFERS) || !virtq_init (&txq, dev, 1, TX_BUFFERS))
    return false;
  static const uint8_t fallback_mac[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
  for (unsigned i = 0; i < ETH_ALEN; i++)
    net_config.mac[i] = dev->features & FEATURE (VIRTIO_NET_F_MAC) ? virtio_config8 (dev, i) : fallback_mac[i];
  uint8_t *rx = dma_alloc ((uint64_t) RX_BUFFERS * BUF_BYTES, 4096);
  for (unsigned i = 0; i < rxq.size; i++)
    give_rx (rx + (uint64_t) i * BUF_BYTES);
  uint8_t *tx = dma_alloc ((uint64_t) TX_BUFFERS * BUF_BYTES, 4096);
  for (unsigned i = 0; i < txq.size; i++)
    tx_pool[tx_free++] = tx + (uint64_t) i * BUF_BYTES;
  virtio_driver_ok (dev);
  virtq_kick (&rxq);
  return true;
}

static uint64_t conns_wanted;

static bool
all_served (void)
{
  return tcp_connections_closed () >= conns_wanted;
}

void
net_mode (void)
{
  if (!device_init ())
    probe_exit (PROBE_EXIT_FAILED);
  const uint8_t *m = net_config.mac;
  probe_printf ("PROBE net mac=%02x:%02x:%02x:%02x:%02x:%02x\r\n", m[0], m[1], m[2], m[3], m[4], m[5]);
  if (!dhcp_configure ())
    {
      probe_printf ("PROBE net dhcp=timeout\r\n");
      probe_exit (PROBE_EXIT_FAILED);
    }
  char ip[16], gw[16], dns[16], server[16];
  format_ip (ip, net_config.ip);
  format_ip (gw, net_config.gateway);
  format_ip (dns, net_config.dns);
  format_ip (server, net_config.server);
  probe_printf ("PROBE net dhcp ip=%s gw=%s dns=%s server=%s\r\n", ip, gw, dns, server);

  uint64_t rtt = arp_resolve_gateway () ? ping (net_config.gateway) : 0;
  if (rtt)
    probe_printf ("PROBE net ping=ok rtt_us=%lu\r\n", rtt);
  else
    probe_printf ("PROBE net ping=timeout\r\n");

  uint16_t port = (uint16_t) cmdline_u64 ("probe.net_port", 7);
  conns_wanted = cmdline_u64 ("probe.net_conns", 1);
  if (!conns_wanted)
    return;
  tcp_listen (port);
  probe_printf ("PROBE net listening port=%u\r\n", port);
  while (!net_wait (all_served, 3600 * 1000))
    ;
  if (!rtt)
    probe_exit (PROBE_EXIT_FAILED);
}
