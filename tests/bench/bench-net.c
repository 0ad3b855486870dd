/* bench-net: TCP throughput from the host into the guest and back through
 * user-mode networking (libslirp in both VMMs): the probe guest's TCP echo
 * server (probe.mode=net) behind a host port forward on 127.0.0.1, under
 * vivctl and under qemu-system-x86_64.
 *
 * For each run this process connects to the forwarded port, sends N MiB
 * (or what it can in --max-seconds, so that a slow run stays bounded) while
 * reading the echo back at the same time, and checks every byte. The time
 * is from the connect to the last echoed byte; the rate is the bytes echoed
 * over it, in MB/s (10^6 bytes per second) of payload one way. Runs
 * alternate, vivctl then QEMU.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gio/gio.h> /* G_IO_ERROR */
#include <glib.h>

#include "bench-vm.h"

#define GUEST_PORT 7
#define BOOT_TIMEOUT_S 60.0   /* to the "listening" line: DHCP and a ping */
#define DRAIN_TIMEOUT_S 30.0   /* from the half-close to the guest's FIN */
#define EXIT_TIMEOUT_S 30.0
#define IO_CHUNK (256u * 1024)

typedef enum { SIDE_VIVCTL, SIDE_QEMU, N_SIDES } Side;

static const char *const side_names[N_SIDES] = {
  "vivctl", "qemu-system-x86_64",
};

typedef struct {
  char *vivctl;
  char *qemu;
  char *probe;
  guint8 *payload;
  gsize payload_bytes;
  int send_seconds; /* stop sending after this, even with payload left */
  GArray *mbps[N_SIDES]; /* double */
  char *load_at_start;   /* bench_load_average () */
} Bench;

/* A loopback port that was free a moment ago: the kernel's pick for port 0.
 * The VMM binds it right after; nothing else here takes ports meanwhile. */
static guint16
free_loopback_port (GError **error)
{
  struct sockaddr_in addr = {
    .sin_family = AF_INET,
    .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
  };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint16 port = 0;

  if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0 &&
      getsockname (fd, (struct sockaddr *) &addr, &len) == 0)
    port = ntohs (addr.sin_port);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "cannot find a free port on 127.0.0.1: %s",
                 g_strerror (errno));
  if (fd >= 0)
    close (fd);
  return port;
}

static char **
guest_argv (const Bench *b, Side side, guint16 host_port)
{
  g_autofree char *cmdline = g_strdup_printf (
      "probe.mode=net probe.net_port=%d probe.net_conns=1", GUEST_PORT);
  GPtrArray *argv;

  if (side == SIDE_VIVCTL)
    {
      argv = bench_vivctl_argv (b->vivctl, b->probe, cmdline);
      g_ptr_array_add (argv, g_strdup ("--net"));
      g_ptr_array_add (argv, g_strdup_printf (
          "user,hostfwd=tcp:127.0.0.1:%u-:%d", host_port, GUEST_PORT));
    }
  else
    {
      argv = bench_qemu_argv (b->qemu, b->probe, cmdline);
      g_ptr_array_add (argv, g_strdup ("-netdev"));
      g_ptr_array_add (argv, g_strdup_printf (
          "user,id=n0,hostfwd=tcp:127.0.0.1:%u-:%d", host_port, GUEST_PORT));
      g_ptr_array_add (argv, g_strdup ("-device"));
      g_ptr_array_add (argv, g_strdup ("virtio-net-device,netdev=n0"));
    }
  g_ptr_array_add (argv, NULL);
  return (char **) g_ptr_array_free (argv, FALSE);
}

static int
connect_loopback (guint16 port, GError **error)
{
  struct sockaddr_in addr = {
    .sin_family = AF_INET,
    .sin_port = htons (port),
    .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
  };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      fcntl (fd, F_SETFL, O_NONBLOCK) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "connect to 127.0.0.1:%u: %s", port, g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  return fd;
}

/* Sends the payload, or as much of it as goes in `send_seconds`, while
 * reading the echo back and checking it; then half-closes and reads until
 * the guest's FIN. Returns the seconds from `start` to the last echoed byte
 * and sets *echoed, or returns < 0 on error. */
static double
echo_payload (const Bench *b, int fd, double start, gsize *echoed,
              GError **error)
{
  g_autofree guint8 *incoming = g_malloc (IO_CHUNK);
  double send_until = start + b->send_seconds;
  double deadline = send_until + DRAIN_TIMEOUT_S;
  double finished = -1;
  gsize sent = 0, received = 0;
  gboolean write_closed = FALSE;

  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      double now = bench_now ();
      ssize_t n;

      if (now >= deadline)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "no end to the echo %.0f s after the last send: sent "
                       "%zu bytes, got %zu back", DRAIN_TIMEOUT_S, sent,
                       received);
          return -1;
        }
      if (!write_closed && (sent == b->payload_bytes || now >= send_until))
        {
          shutdown (fd, SHUT_WR);
          write_closed = TRUE;
        }
      if (!write_closed)
        pfd.events |= POLLOUT;
      /* Wakes up at send_until at the latest, to stop sending. */
      if (poll (&pfd, 1,
                (int) (((write_closed ? deadline : send_until) - now) * 1000)
                    + 1) < 0)
        {
          if (errno == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       "poll: %s", g_strerror (errno));
          return -1;
        }
      if (!write_closed && (pfd.revents & POLLOUT))
        {
          n = send (fd, b->payload + sent,
                    MIN (IO_CHUNK, b->payload_bytes - sent), MSG_NOSIGNAL);
          if (n < 0 && errno != EAGAIN && errno != EINTR)
            {
              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                           "send after %zu bytes: %s", sent,
                           g_strerror (errno));
              return -1;
            }
          if (n > 0)
            sent += (gsize) n;
        }
      if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
        {
          n = recv (fd, incoming, IO_CHUNK, 0);
          if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
          if (n < 0)
            {
              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                           "recv after %zu bytes: %s", received,
                           g_strerror (errno));
              return -1;
            }
          if (n == 0)
            break;
          if ((gsize) n > sent - received ||
              memcmp (incoming, b->payload + received, (size_t) n) != 0)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the echo differs from what was sent, in the %zd "
                           "bytes after byte %zu", n, received);
              return -1;
            }
          received += (gsize) n;
          finished = bench_now ();
        }
    }
  if (!write_closed || received != sent || received == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                   "the guest closed after echoing %zu of the %zu bytes sent",
                   received, sent);
      return -1;
    }
  *echoed = received;
  return finished - start;
}

static gboolean
run_once (Bench *b, Side side, guint run, GError **error)
{
  g_auto (GStrv) argv = NULL;
  g_autoptr (BenchVm) vm = NULL;
  const BenchLine *closed;
  guint64 closed_bytes, retransmits;
  gsize echoed = 0;
  guint16 port;
  double start, seconds, mbps;
  int fd;

  port = free_loopback_port (error);
  if (port == 0)
    return FALSE;
  argv = guest_argv (b, side, port);
  vm = bench_vm_spawn (side_names[side], argv, error);
  if (vm == NULL ||
      bench_vm_wait_line (vm, "PROBE net listening", BOOT_TIMEOUT_S,
                          error) == NULL)
    return FALSE;

  start = bench_now ();
  fd = connect_loopback (port, error);
  if (fd < 0)
    return FALSE;
  seconds = echo_payload (b, fd, start, &echoed, error);
  close (fd);
  if (seconds < 0)
    {
      g_prefix_error (error, "%s: ", side_names[side]);
      return FALSE;
    }

  closed = bench_vm_wait_line (vm, "PROBE net closed", EXIT_TIMEOUT_S, error);
  if (closed == NULL)
    return FALSE;
  if (!bench_line_u64 (closed->text, "bytes", &closed_bytes) ||
      !bench_line_u64 (closed->text, "retransmits", &retransmits) ||
      closed_bytes != echoed)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "%s: expected \"PROBE net closed bytes=%zu ...\", got: %s",
                   side_names[side], echoed, closed->text);
      return FALSE;
    }
  if (!bench_vm_finish (vm, EXIT_TIMEOUT_S, error))
    return FALSE;

  mbps = (double) echoed / seconds / 1e6;
  g_array_append_val (b->mbps[side], mbps);
  g_print ("  run %u  %-19s %5zu MiB %7.3f s  %7.1f MB/s  (guest "
           "retransmits=%" G_GUINT64_FORMAT ")\n", run, side_names[side],
           echoed >> 20, seconds, mbps, retransmits);
  return TRUE;
}

static void
report (const Bench *b, int runs)
{
  g_auto (GStrv) viv_argv = guest_argv (b, SIDE_VIVCTL, 40000);
  g_auto (GStrv) qemu_argv = guest_argv (b, SIDE_QEMU, 40000);
  BenchSummary s[N_SIDES];
  double ratio;

  g_print ("\nbench-net: %d interleaved runs each; %zu MiB (or what goes "
           "in %d s) sent to the guest's TCP echo server on 127.0.0.1 and "
           "read back; MB = 10^6 bytes (payload, one way)\n",
           runs, b->payload_bytes >> 20, b->send_seconds);
  g_print ("  (host port chosen free for each run; 40000 here)\n");
  bench_print_command ("vivctl", viv_argv);
  bench_print_command ("qemu", qemu_argv);
  bench_print_load (b->load_at_start);

  g_print ("\nTCP echo throughput                  %9s %9s %9s\n", "median",
           "min", "max");
  for (int side = 0; side < N_SIDES; side++)
    {
      s[side] = bench_summarize (b->mbps[side]);
      g_print ("  %-34s %9.1f %9.1f %9.1f  MB/s\n", side_names[side],
               s[side].median, s[side].min, s[side].max);
    }
  ratio = s[SIDE_VIVCTL].median / s[SIDE_QEMU].median;
  g_print ("  %-34s %9.3f  (medians)\n", "ratio vivctl/qemu", ratio);
}

int
main (int argc, char **argv)
{
  g_autofree char *vivctl_arg = NULL;
  g_autofree char *qemu_arg = NULL;
  int runs = 5;
  int mib = 256;
  Bench b = { .send_seconds = 8 };
  GOptionEntry entries[] = {
    { "vivctl", 0, 0, G_OPTION_ARG_FILENAME, &vivctl_arg,
      "vivctl to measure", "PATH" },
    { "qemu", 0, 0, G_OPTION_ARG_FILENAME, &qemu_arg,
      "qemu-system-x86_64 to compare with", "PATH" },
    { "probe", 0, 0, G_OPTION_ARG_FILENAME, &b.probe,
      "the probe guest (PVH ELF) both boot", "PATH" },
    { "mib", 0, 0, G_OPTION_ARG_INT, &mib,
      "MiB to send and read back in each run, 1 to 1024 (default 256)", "N" },
    { "max-seconds", 0, 0, G_OPTION_ARG_INT, &b.send_seconds,
      "stop sending after this many seconds, 1 to 60 (default 8)", "S" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs,
      "counted runs of each, at least 3 (default 5)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "- TCP throughput through user networking, vivctl vs QEMU");
  g_autoptr (GError) error = NULL;
  guint64 state = 0x9e3779b97f4a7c15ULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-net: %s\n", error->message);
      return 2;
    }
  if (vivctl_arg == NULL || qemu_arg == NULL || b.probe == NULL)
    {
      g_printerr ("bench-net: --vivctl, --qemu and --probe are required\n");
      return 2;
    }
  if (runs < 3 || mib < 1 || mib > 1024 || b.send_seconds < 1 ||
      b.send_seconds > 60)
    {
      g_printerr ("bench-net: give --runs 3 or more, --mib from 1 to 1024 "
                  "and --max-seconds from 1 to 60\n");
      return 2;
    }
  if (!g_file_test (b.probe, G_FILE_TEST_IS_REGULAR))
    {
      g_printerr ("bench-net: --probe %s: no such file\n", b.probe);
      return 2;
    }
  b.vivctl = bench_resolve_program ("--vivctl", vivctl_arg, &error);
  if (b.vivctl != NULL)
    b.qemu = bench_resolve_program ("--qemu", qemu_arg, &error);
  if (b.qemu == NULL)
    {
      g_printerr ("bench-net: %s\n", error->message);
      return 2;
    }

  /* Pseudo-random bytes, so that a misplaced segment cannot match. */
  b.payload_bytes = (gsize) mib << 20;
  b.payload = g_malloc (b.payload_bytes);
  for (gsize i = 0; i < b.payload_bytes; i += 8)
    {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      memcpy (b.payload + i, &state, 8);
    }
  for (int side = 0; side < N_SIDES; side++)
    b.mbps[side] = g_array_new (FALSE, FALSE, sizeof (double));
  b.load_at_start = bench_load_average ();

  for (int run = 1; run <= runs && error == NULL; run++)
    for (int side = 0; side < N_SIDES && error == NULL; side++)
      run_once (&b, side, (guint) run, &error);

  if (error == NULL)
    report (&b, runs);
  else
    g_printerr ("bench-net: %s\n", error->message);

  for (int side = 0; side < N_SIDES; side++)
    g_array_unref (b.mbps[side]);
  g_free (b.payload);
  g_free (b.load_at_start);
  g_free (b.vivctl);
  g_free (b.qemu);
  g_free (b.probe);
  return error == NULL ? 0 : 1;
}
