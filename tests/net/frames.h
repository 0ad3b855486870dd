/* Building and parsing the Ethernet/IPv4 frames the network tests exchange
 * (ARP, ICMP echo, UDP, DHCP), independently of the engine's code. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define ETH_HLEN_ 14
#define IP_HLEN_  20

extern const uint8_t test_guest_mac[6];
extern const uint8_t test_broadcast_mac[6];

uint32_t ipv4 (const char *dotted);          /* network order */
uint16_t get_be16 (const uint8_t *p);
uint32_t get_be32 (const uint8_t *p);
/* Internet checksum (RFC 1071) of data, starting from a partial sum. */
uint16_t inet_checksum (const uint8_t *data, size_t len, uint32_t sum);
/* Sum of the UDP/TCP pseudo header, unfolded. */
uint32_t pseudo_header_sum (uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

GByteArray *frame_arp_request (const uint8_t mac[6], uint32_t sender_ip, uint32_t target_ip);
GByteArray *frame_icmp_echo (const uint8_t dst_mac[6], uint32_t src_ip, uint32_t dst_ip,
                             uint16_t id, uint16_t seq, const void *payload, size_t len);
/* A UDP datagram; with partial_csum the checksum field holds only the
 * pseudo-header sum (what a driver leaves for NEEDS_CSUM). */
GByteArray *frame_udp (const uint8_t dst_mac[6], uint32_t src_ip, uint32_t dst_ip,
                       uint16_t sport, uint16_t dport, const void *payload, size_t len,
                       bool partial_csum);
GByteArray *frame_dhcp_discover (uint32_t xid);

/* Frame inspection: each returns false if the frame is not of that kind. */
bool frame_is_arp_reply (const uint8_t *f, size_t len, uint32_t sender_ip, uint32_t target_ip);
bool frame_is_icmp_echo_reply (const uint8_t *f, size_t len, uint32_t src_ip, uint16_t id,
                               uint16_t seq);
/* Fills *yiaddr from a DHCP OFFER for xid. */
bool frame_is_dhcp_offer (const uint8_t *f, size_t len, uint32_t xid, uint32_t *yiaddr);
bool frame_is_tcp_syn (const uint8_t *f, size_t len, uint32_t dst_ip, uint16_t dport);
bool frame_is_udp_to (const uint8_t *f, size_t len, uint32_t dst_ip, uint16_t dport,
                      const void *payload, size_t payload_len);
/* IPv4 header and UDP/TCP/ICMP checksums of an IPv4 frame are right. */
bool frame_checksums_ok (const uint8_t *f, size_t len);
