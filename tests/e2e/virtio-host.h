/* The host side of the probe guest's virtio modes (tests/guest/README.md,
 * "Virtio"), shared by the vivctl and QEMU tests: the blk pattern and
 * checksum, disk image files, and a TCP echo client for the net mode. */
#pragma once
#include <glib.h>
#include "probe-runner.h"

#define SECTOR_BYTES 512

/* The word the guest writes at disk byte offset `offset` with `seed`. */
guint64 blk_pattern_word (guint64 offset, guint64 seed);
/* The guest's checksum of `len` bytes read at disk offset `offset`. */
guint64 blk_checksum (const guint8 *data, gsize len, guint64 offset);

/* A new image file of `bytes` zero bytes in a new temp dir; free with
 * disk_remove. */
char *disk_create (gsize bytes);
void disk_remove (const char *path);
/* The file's contents from `offset`, `len` bytes. */
guint8 *disk_read (const char *path, guint64 offset, gsize len);
void disk_write (const char *path, guint64 offset, const guint8 *data, gsize len);

/* Checks of the blk round trip: the summary line, and that the file holds
 * the pattern (and zeroes after it, where write_zeroes=ok). */
void blk_assert_round_trip (const ProbeResult *r, const char *disk, guint64 start,
                            guint64 sectors, guint64 seed);

/* A 127.0.0.1 TCP port nobody listens on right now. */
guint16 free_tcp_port (void);

/* Connects to 127.0.0.1:port once the guest printed "PROBE net listening",
 * sends `bytes` random bytes while reading the echo, then closes. */
typedef struct EchoClient EchoClient;
EchoClient *echo_client_new (guint16 port, gsize bytes);
/* For ProbeRunSpec.on_line. */
void echo_client_on_line (const char *line, gpointer client);
/* Waits for the client; TRUE if every byte came back unchanged. */
gboolean echo_client_finish (EchoClient *client, char **report);

/* The net mode's lines: DHCP, ping, and the echoed byte count. */
void net_assert_echo (const ProbeResult *r, gsize bytes);