/* virtio-net (virtio 1.2 §5.1): one rx/tx queue pair on a VivNetBackend.
 *
 * Features offered: MAC, STATUS (link up), MRG_RXBUF, CSUM (the device
 * completes partial checksums before the backend sees the frame) and
 * GUEST_CSUM (frames whose checksums the backend vouches for are marked
 * DATA_VALID).  No TSO/UFO, no control queue.  Queues: 0 rx, 1 tx. */
#pragma once
#include "devices/virtio.h"
#include "net/net.h"

/* virtio_net_hdr with VIRTIO_F_VERSION_1 (num_buffers always present). */
#define VIV_VIRTIO_NET_HDR_LEN 12

#define VIRTIO_NET_F_CSUM        0
#define VIRTIO_NET_F_GUEST_CSUM  1
#define VIRTIO_NET_F_MAC         5
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16

typedef struct VivVirtioNet VivVirtioNet;

typedef struct VivNetStats {
  uint64_t rx_packets, rx_bytes;   /* frames handed to the driver */
  uint64_t rx_dropped;             /* not delivered: driver not ready, too big, backend queue full */
  uint64_t tx_packets, tx_bytes;   /* frames the backend accepted */
  uint64_t tx_dropped;             /* malformed header or frame, or refused by the backend */
} VivNetStats;

/* Binds to vdev and takes ownership of backend (freed with the device by
 * viv_virtio_mmio_free, which must then run on the backend's context
 * thread or after that thread stopped).  The backend must run on the
 * transport's I/O context.  mac must be unicast; on failure nothing is
 * bound and the backend stays the caller's. */
VivVirtioNet *viv_virtio_net_new (VivVirtioDevice *vdev, VivNetBackend *backend,
                                  const uint8_t mac[6], GError **error);
/* Any thread. */
void          viv_virtio_net_get_stats (VivVirtioNet *net, VivNetStats *stats);
/* Link state in the config space (STATUS); the driver gets a config interrupt. */
void          viv_virtio_net_set_link  (VivVirtioNet *net, bool up);
