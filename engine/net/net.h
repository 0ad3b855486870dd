/* Network backends: where a NIC's frames go (guest → network) and come
 * from (network → guest).
 *
 *   VivNetOptions opts;
 *   viv_net_options_parse ("user,hostfwd=tcp:127.0.0.1:2222-:22", &opts, &error);
 *   VivNetBackend *backend = viv_net_backend_new (&opts, io_context, &error);
 *   viv_virtio_net_new (vdev, backend, opts.mac, &error);   // takes the backend
 *
 * Frames crossing this interface are plain Ethernet frames (no virtio
 * header) with complete checksums; the NIC model completes partial
 * checksums before sending.
 *
 * Threads: a backend's event sources run on the GMainContext given at
 * creation (the machine's I/O thread).  The receive callback is called
 * there, never from inside viv_net_backend_send, so a device may hold its
 * own lock while sending.  viv_net_backend_send and
 * viv_net_backend_resume_rx may be called from any thread.  Free a backend
 * from the context's thread or after that thread has stopped. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/uio.h>
#include <gio/gio.h>

/* Largest frame carried (64 KiB IP packet + Ethernet and VLAN headers). */
#define VIV_NET_MAX_FRAME 65562
/* An Ethernet header: anything shorter is not a frame. */
#define VIV_NET_MIN_FRAME 14
/* Frames a backend holds while its receiver has no room; more are dropped. */
#define VIV_NET_RX_QUEUE_MAX 256
#define VIV_NET_MAX_HOSTFWD 16

/* The user-mode network (same addresses as QEMU's -netdev user). */
#define VIV_NET_USER_NETWORK   "10.0.2.0"
#define VIV_NET_USER_NETMASK   "255.255.255.0"
#define VIV_NET_USER_GATEWAY   "10.0.2.2"
#define VIV_NET_USER_DNS       "10.0.2.3"
#define VIV_NET_USER_GUEST     "10.0.2.15"   /* first DHCP address */

typedef enum {
  VIV_NET_BACKEND_USER,     /* libslirp NAT */
  VIV_NET_BACKEND_TAP,      /* a host tap interface */
} VivNetBackendKind;

typedef struct VivNetHostFwd {
  bool           udp;
  struct in_addr host_addr;     /* default 127.0.0.1 */
  uint16_t       host_port;
  struct in_addr guest_addr;    /* default 10.0.2.15 */
  uint16_t       guest_port;
} VivNetHostFwd;

typedef struct VivNetOptions {
  VivNetBackendKind kind;
  uint8_t           mac[6];     /* default 52:54:00:12:34:56 */
  /* user */
  bool              restricted; /* restrict=on: no connections to the outside */
  unsigned          n_hostfwd;
  VivNetHostFwd     hostfwd[VIV_NET_MAX_HOSTFWD];
  /* tap */
  char              ifname[16];
} VivNetOptions;

/* Parses a --net value:
 *   user[,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,restrict=on|off][,mac=MAC]
 *   tap,ifname=IF[,mac=MAC]
 * Errors (G_IO_ERROR_INVALID_ARGUMENT) name the offending part. */
gboolean viv_net_options_parse (const char *spec, VivNetOptions *options, GError **error);

/* Formats a MAC as "52:54:00:12:34:56" into buf (18 bytes). */
void     viv_net_mac_format (const uint8_t mac[6], char buf[18]);
/* A unicast, non-zero MAC. */
gboolean viv_net_mac_is_valid (const uint8_t mac[6]);

typedef struct VivNetBackend VivNetBackend;

/* Flags of a received frame. */
#define VIV_NET_RX_CSUM_VALID 1u   /* the backend checked or built every checksum */

/* Network → guest.  Return true when the frame was taken (delivered or
 * deliberately dropped), false when there is no room: the backend keeps it
 * (and at most VIV_NET_RX_QUEUE_MAX frames in all, or stops reading) and
 * calls again only after viv_net_backend_resume_rx. */
typedef bool (*VivNetReceiveFunc) (void *opaque, const uint8_t *frame, size_t len, unsigned flags);

VivNetBackend *viv_net_backend_new   (const VivNetOptions *options, GMainContext *context,
                                      GError **error);
VivNetBackend *viv_net_slirp_new     (const VivNetOptions *options, GMainContext *context,
                                      GError **error);
VivNetBackend *viv_net_tap_new       (const char *ifname, GMainContext *context, GError **error);
void           viv_net_backend_free  (VivNetBackend *backend);

const char    *viv_net_backend_name  (VivNetBackend *backend);   /* "user", "tap" */
/* With func NULL, received frames are dropped (counted). */
void           viv_net_backend_set_receiver (VivNetBackend *backend, VivNetReceiveFunc func,
                                             void *opaque);
/* Guest → network: one frame, complete checksums.  False if it was dropped. */
bool           viv_net_backend_send  (VivNetBackend *backend, const struct iovec *iov,
                                      unsigned n_iov);
/* The receiver has room again (e.g. the driver added rx buffers). */
void           viv_net_backend_resume_rx (VivNetBackend *backend);
/* Frames dropped on the way in because the receiver was full or absent. */
uint64_t       viv_net_backend_rx_dropped (VivNetBackend *backend);

/* Completes a partial checksum (virtio NEEDS_CSUM): the 16-bit field at
 * start + offset already holds the pseudo-header sum; the one's-complement
 * sum of frame[start, len) is stored there.  False (frame untouched) if the
 * field does not lie inside the frame. */
bool           viv_net_checksum_complete (uint8_t *frame, size_t len, size_t start, size_t offset);
