/* The host side of the probe guest's virtio modes; see virtio-host.h. */
#include "virtio-host.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ZEROED_SECTORS 16                 /* after the range, when write_zeroes=ok */
#define ECHO_IO_TIMEOUT_S 30
#define ECHO_WAIT_LISTEN_US (120 * G_USEC_PER_SEC)

static guint64
mix64 (guint64 z)
{
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

guint64
blk_pattern_word (guint64 offset, guint64 seed)
{
  return mix64 (offset + seed * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
}

guint64
blk_checksum (const guint8 *data, gsize len, guint64 offset)
{
  guint64 sum = 0;
  for (gsize i = 0; i + 8 <= len; i += 8)
    {
      guint64 w;
      memcpy (&w, data + i, 8);
      sum += mix64 (GUINT64_FROM_LE (w) ^ (offset + i));
    }
  return sum;
}

char *
disk_create (gsize bytes)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vivarium-virtio-XXXXXX", &error);
  g_assert_no_error (error);
  char *path = g_build_filename (dir, "disk.img", NULL);
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) bytes), ==, 0);
  close (fd);
  return path;
}

void
disk_remove (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

guint8 *
disk_read (const char *path, guint64 offset, gsize len)
{
  int fd = g_open (path, O_RDONLY, 0);
  g_assert_cmpint (fd, >=, 0);
  guint8 *data = g_malloc (len);
  g_assert_cmpint (pread (fd, data, len, (off_t) offset), ==, (gssize) len);
  close (fd);
  return data;
}

void
disk_write (const char *path, guint64 offset, const guint8 *data, gsize len)
{
  int fd = g_open (path, O_WRONLY, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, data, len, (off_t) offset), ==, (gssize) len);
  g_assert_cmpint (fsync (fd), ==, 0);
  close (fd);
}

void
blk_assert_round_trip (const ProbeResult *r, const char *disk, guint64 start,
                       guint64 sectors, guint64 seed)
{
  probe_assert_exit (r, 0);
  const char *line = probe_require_line (r, "PROBE blk capacity=");
  g_assert_cmpuint (probe_line_u64 (line, "written"), ==, sectors);
  g_assert_cmpuint (probe_line_u64 (line, "read"), ==, sectors);
  g_assert_cmpuint (probe_line_u64 (line, "errors"), ==, 0);

  /* What the guest wrote is in the file, word for word. */
  guint64 offset = start * SECTOR_BYTES;
  gsize len = sectors * SECTOR_BYTES;
  g_autofree guint8 *data = disk_read (disk, offset, len);
  for (gsize i = 0; i < len; i += 8)
    {
      guint64 w;
      memcpy (&w, data + i, 8);
      if (GUINT64_FROM_LE (w) != blk_pattern_word (offset + i, seed))
        g_error ("disk byte %" G_GUINT64_FORMAT ": 0x%016" G_GINT64_MODIFIER "x, the guest wrote 0x%016"
                 G_GINT64_MODIFIER "x", offset + i, GUINT64_FROM_LE (w), blk_pattern_word (offset + i, seed));
    }
  g_assert_cmphex (probe_line_u64 (line, "checksum"), ==, blk_checksum (data, len, offset));

  if (probe_result_find (r, "PROBE blk write_zeroes=ok"))
    {
      g_autofree guint8 *zeroed = disk_read (disk, offset + len, ZEROED_SECTORS * SECTOR_BYTES);
      for (gsize i = 0; i < ZEROED_SECTORS * SECTOR_BYTES; i++)
        g_assert_cmpuint (zeroed[i], ==, 0);
    }
}

guint16
free_tcp_port (void)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  g_assert_cmpint (bind (fd, (struct sockaddr *) &a, sizeof a), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &a, &len), ==, 0);
  close (fd);
  return ntohs (a.sin_port);
}

/* ---- the echo client ---- */

struct EchoClient {
  guint16  port;
  guint8  *sent;
  gsize    bytes;
  gint     listening;                     /* atomic: the guest said so */
  gint     cancelled;                     /* atomic: the run is over */
  GThread *thread;
  int      fd;
  gboolean ok;
  char    *report;
};

static gpointer
echo_writer (gpointer data)
{
  EchoClient *c = data;
  gsize done = 0;
  while (done < c->bytes)
    {
      gssize n = send (c->fd, c->sent + done, c->bytes - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      done += (gsize) n;
    }
  shutdown (c->fd, SHUT_WR);
  return GSIZE_TO_POINTER (done);
}

static gpointer
echo_main (gpointer data)
{
  EchoClient *c = data;
  gint64 limit = g_get_monotonic_time () + ECHO_WAIT_LISTEN_US;
  while (!g_atomic_int_get (&c->listening))
    {
      if (g_atomic_int_get (&c->cancelled) || g_get_monotonic_time () > limit)
        {
          c->report = g_strdup ("the guest never printed \"PROBE net listening\"");
          return NULL;
        }
      g_usleep (10000);
    }
  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (c->port),
                           .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  struct timeval tv = { .tv_sec = ECHO_IO_TIMEOUT_S };
  setsockopt (c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect (c->fd, (struct sockaddr *) &a, sizeof a) != 0)
    {
      c->report = g_strdup_printf ("connect to 127.0.0.1:%u: %s", c->port, g_strerror (errno));
      close (c->fd);
      return NULL;
    }
  gint64 t0 = g_get_monotonic_time ();
  GThread *writer = g_thread_new ("echo-writer", echo_writer, c);
  g_autofree guint8 *got = g_malloc (c->bytes + 1);
  gsize received = 0;
  for (;;)
    {
      gssize n = recv (c->fd, got + received, c->bytes + 1 - received, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      received += (gsize) n;
      if (received > c->bytes)
        break;
    }
  gsize sent = GPOINTER_TO_SIZE (g_thread_join (writer));
  close (c->fd);
  gboolean same = received == c->bytes && memcmp (got, c->sent, c->bytes) == 0;
  double seconds = (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
  c->report = g_strdup_printf ("sent %zu, received %zu, %s, %.3f s", sent, received,
                               same ? "identical" : "DIFFERENT", seconds);
  c->ok = sent == c->bytes && same;
  return NULL;
}

EchoClient *
echo_client_new (guint16 port, gsize bytes)
{
  EchoClient *c = g_new0 (EchoClient, 1);
  c->port = port;
  c->bytes = bytes;
  c->sent = g_malloc (bytes);
  for (gsize i = 0; i < bytes; i += 4)
    {
      guint32 v = g_test_rand_int ();
      memcpy (c->sent + i, &v, MIN (4, bytes - i));
    }
  c->thread = g_thread_new ("echo-client", echo_main, c);
  return c;
}

void
echo_client_on_line (const char *line, gpointer client)
{
  EchoClient *c = client;
  if (g_str_has_prefix (line, "PROBE net listening "))
    g_atomic_int_set (&c->listening, 1);
}

gboolean
echo_client_finish (EchoClient *c, char **report)
{
  g_atomic_int_set (&c->cancelled, 1);
  g_thread_join (c->thread);
  gboolean ok = c->ok;
  *report = c->report;
  g_free (c->sent);
  g_free (c);
  return ok;
}

void
net_assert_echo (const ProbeResult *r, gsize bytes)
{
  probe_assert_exit (r, 0);
  g_assert_true (g_str_has_prefix (probe_require_line (r, "PROBE net dhcp "),
                                   "PROBE net dhcp ip=10.0.2.15 gw=10.0.2.2 dns=10.0.2.3"));
  g_assert_true (g_str_has_prefix (probe_require_line (r, "PROBE net ping="), "PROBE net ping=ok"));
  probe_require_line (r, "PROBE net accepted ");
  const char *closed = probe_require_line (r, "PROBE net closed ");
  g_assert_cmpuint (probe_line_u64 (closed, "bytes"), ==, bytes);
  g_assert_cmpuint (probe_line_u64 (closed, "reset"), ==, 0);
}
