/* The probe guest's network side: the virtio-net driver (net.c), a minimal
 * Ethernet/ARP/IPv4/UDP/ICMP/DHCP stack (netstack.c) and a one-connection
 * TCP echo server (tcp.c).  Byte order on the wire is big-endian; the
 * get/put helpers convert. */
#pragma once
#include "virtio.h"

#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_FRAME_MAX 1514
#define ETH_TYPE_IP  0x0800
#define ETH_TYPE_ARP 0x0806
#define IP_HLEN 20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17
#define IP_BROADCAST 0xffffffffu

static inline uint16_t get16 (const uint8_t *p) { return (uint16_t) (p[0] << 8 | p[1]); }
static inline uint32_t get32 (const uint8_t *p) { return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3]; }
static inline void put16 (uint8_t *p, uint16_t v) { p[0] = (uint8_t) (v >> 8); p[1] = (uint8_t) v; }
static inline void put32 (uint8_t *p, uint32_t v) { put16 (p, (uint16_t) (v >> 16)); put16 (p + 2, (uint16_t) v); }

typedef struct {
  uint8_t  mac[ETH_ALEN];
  uint32_t ip, netmask, gateway, dns, server;    /* from DHCP; 0 before */
  uint8_t  gateway_mac[ETH_ALEN];
  bool     gateway_mac_known;
} NetConfig;
extern NetConfig net_config;

/* --- net.c: the device --- */
/* Space for one outgoing Ethernet frame (ETH_FRAME_MAX bytes), waiting
 * for the device to give a buffer back if all are in flight. */
uint8_t *net_tx_begin (void);
void net_tx_send (uint8_t *frame, uint32_t len);
/* Handles every frame received so far; true if there was one. */
bool net_poll (void);
/* Polls the device and TCP until `done` or the deadline; false on timeout. */
bool net_wait (bool (*done) (void), uint64_t ms);

/* --- netstack.c --- */
void net_receive (const uint8_t *frame, uint32_t len);
uint32_t csum_add (uint32_t sum, const uint8_t *data, uint32_t len);
uint16_t csum_fold (uint32_t sum);
/* Starts an IPv4 packet to dst (Ethernet dst_mac); returns where its
 * payload goes.  ip_send finishes and sends it. */
uint8_t *ip_begin (const uint8_t *dst_mac, uint32_t src, uint32_t dst, uint8_t proto);
void ip_send (uint8_t *payload, uint32_t payload_len);
bool dhcp_configure (void);
bool arp_resolve_gateway (void);
/* Round trip time in microseconds, or 0 if no reply came. */
uint64_t ping (uint32_t ip);
void format_ip (char out[16], uint32_t ip);

/* --- tcp.c --- */
void tcp_listen (uint16_t port);
void tcp_input (const uint8_t *src_mac, uint32_t src, uint32_t dst, const uint8_t *seg, uint32_t len);
/* Sends what is due (data, ACKs, retransmissions); true if it sent. */
bool tcp_output (void);
uint64_t tcp_connections_closed (void);
