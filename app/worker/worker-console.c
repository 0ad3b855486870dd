#include "worker-console.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define RING VIV_WORKER_CONSOLE_SCROLLBACK
#define INPUT_CHUNK 4096
#define LISTEN_BACKLOG 16

typedef struct {
  VivWorkerConsole *console;
  int               fd;
  uint64_t          pos;      /* stream offset of the next byte to send it */
  guint             in_id;
  guint             out_id;
} ConsoleClient;

struct VivWorkerConsole {
  /* Guest output: a ring of the last RING bytes; `total` counts every byte
   * ever written, so stream offset o lives at ring[o % RING]. */
  GMutex       lock;
  uint8_t     *ring;
  uint64_t     total;

  /* Wakes the main thread after output or when the guest has room for
   * input again (both happen on vCPU and I/O threads). */
  int          wake_fd;
  guint        wake_id;
  atomic_bool  wake_pending;

  char        *path;
  int          listen_fd;
  guint        listen_id;
  VivMachine  *machine;
  GPtrArray   *clients;       /* of ConsoleClient*, owned */

  /* Input the guest's console has not taken yet; while there is some,
   * no client is read. */
  uint8_t      pending[INPUT_CHUNK];
  size_t       pending_len;
  size_t       pending_pos;
};

static void
wake (VivWorkerConsole *console)
{
  if (!atomic_exchange (&console->wake_pending, true))
    {
      uint64_t one = 1;
      ssize_t n = write (console->wake_fd, &one, sizeof one);
      (void) n;   /* an eventfd write only fails when the counter is full: then it is set */
    }
}

static void
sink_write (void *ctx, const uint8_t *buf, size_t len)
{
  VivWorkerConsole *console = ctx;
  if (len == 0)
    return;
  g_mutex_lock (&console->lock);
  if (len > RING)
    {
      console->total += len - RING;
      buf += len - RING;
      len = RING;
    }
  size_t offset = console->total % RING;
  size_t first = MIN (len, RING - offset);
  memcpy (console->ring + offset, buf, first);
  memcpy (console->ring, buf + first, len - first);
  console->total += len;
  g_mutex_unlock (&console->lock);
  wake (console);
}

VivByteSink
viv_worker_console_sink (VivWorkerConsole *console)
{
  return (VivByteSink) { sink_write, console };
}

static void
client_free (gpointer data)
{
  ConsoleClient *client = data;
  g_clear_handle_id (&client->in_id, g_source_remove);
  g_clear_handle_id (&client->out_id, g_source_remove);
  close (client->fd);
  g_free (client);
}

static void
drop_client (ConsoleClient *client)
{
  g_ptr_array_remove_fast (client->console->clients, client);
}

static gboolean on_client_writable (int fd, GIOCondition condition, gpointer data);

/* Sends a client what it has not seen yet, without blocking; false when
 * the client is gone. */
static bool
flush_client (ConsoleClient *client)
{
  VivWorkerConsole *console = client->console;
  bool alive = true, blocked = false;
  g_mutex_lock (&console->lock);
  for (;;)
    {
      uint64_t oldest = console->total > RING ? console->total - RING : 0;
      if (client->pos < oldest)
        client->pos = oldest;   /* too slow: what scrolled out is lost to it */
      if (client->pos == console->total)
        break;
      size_t offset = client->pos % RING;
      size_t len = MIN (console->total - client->pos, RING - offset);
      ssize_t n = send (client->fd, console->ring + offset, len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0)
        client->pos += n;
      else if (n < 0 && errno == EINTR)
        continue;
      else
        {
          blocked = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
          alive = blocked;
          break;
        }
    }
  g_mutex_unlock (&console->lock);
  if (blocked && !client->out_id)
    client->out_id = g_unix_fd_add (client->fd, G_IO_OUT, on_client_writable, client);
  return alive;
}

static gboolean
on_client_writable (int fd, GIOCondition condition, gpointer data)
{
  ConsoleClient *client = data;
  client->out_id = 0;
  if (!flush_client (client))
    drop_client (client);
  return G_SOURCE_REMOVE;
}

static void
flush_all (VivWorkerConsole *console)
{
  for (guint i = console->clients->len; i-- > 0;)
    {
      ConsoleClient *client = console->clients->pdata[i];
      if (!client->out_id && !flush_client (client))
        drop_client (client);
    }
}

static gboolean on_client_readable (int fd, GIOCondition condition, gpointer data);

static void
watch_input (VivWorkerConsole *console)
{
  for (guint i = 0; i < console->clients->len; i++)
    {
      ConsoleClient *client = console->clients->pdata[i];
      if (!client->in_id)
        client->in_id = g_unix_fd_add (client->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                       on_client_readable, client);
    }
}

static void
unwatch_input (VivWorkerConsole *console)
{
  for (guint i = 0; i < console->clients->len; i++)
    g_clear_handle_id (&((ConsoleClient *) console->clients->pdata[i])->in_id, g_source_remove);
}

/* Offers the pending input to the guest; true when all of it was taken. */
static bool
feed_pending (VivWorkerConsole *console)
{
  if (console->machine && console->pending_pos < console->pending_len)
    console->pending_pos += viv_machine_console_input (console->machine,
                                                       console->pending + console->pending_pos,
                                                       console->pending_len - console->pending_pos);
  if (console->pending_pos < console->pending_len)
    return false;
  console->pending_len = console->pending_pos = 0;
  return true;
}

static gboolean
on_client_readable (int fd, GIOCondition condition, gpointer data)
{
  ConsoleClient *client = data;
  VivWorkerConsole *console = client->console;
  ssize_t n = read (fd, console->pending, sizeof console->pending);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      client->in_id = 0;
      drop_client (client);
      return G_SOURCE_REMOVE;
    }
  console->pending_len = n;
  console->pending_pos = 0;
  if (feed_pending (console))
    return G_SOURCE_CONTINUE;
  /* The guest's FIFO is full: read nobody until it has room. */
  client->in_id = 0;
  unwatch_input (console);
  return G_SOURCE_REMOVE;
}

static void
on_input_room (void *ctx)
{
  wake (ctx);
}

static gboolean
on_wake (int fd, GIOCondition condition, gpointer data)
{
  VivWorkerConsole *console = data;
  uint64_t count;
  ssize_t n = read (fd, &count, sizeof count);
  (void) n;
  atomic_store (&console->wake_pending, false);
  flush_all (console);
  if (console->pending_len > 0 && feed_pending (console))
    watch_input (console);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_accept (int fd, GIOCondition condition, gpointer data)
{
  VivWorkerConsole *console = data;
  int client_fd = accept4 (fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (client_fd < 0)
    return G_SOURCE_CONTINUE;   /* EAGAIN, a client that gave up, or out of fds: try later */
  ConsoleClient *client = g_new0 (ConsoleClient, 1);
  client->console = console;
  client->fd = client_fd;
  g_ptr_array_add (console->clients, client);
  if (console->pending_len == 0)
    client->in_id = g_unix_fd_add (client_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_readable, client);
  /* pos 0: it starts with the whole scrollback. */
  if (!flush_client (client))
    drop_client (client);
  return G_SOURCE_CONTINUE;
}

VivWorkerConsole *
viv_worker_console_new (GError **error)
{
  int wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create an eventfd for the console: %s", g_strerror (saved));
      return NULL;
    }
  VivWorkerConsole *console = g_new0 (VivWorkerConsole, 1);
  g_mutex_init (&console->lock);
  console->ring = g_malloc (RING);
  console->wake_fd = wake_fd;
  console->wake_id = g_unix_fd_add (wake_fd, G_IO_IN, on_wake, console);
  console->listen_fd = -1;
  console->clients = g_ptr_array_new_with_free_func (client_free);
  return console;
}

gboolean
viv_worker_console_listen (VivWorkerConsole *console, const char *path, VivMachine *machine,
                           GError **error)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof addr.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   "the console socket path %s is longer than a unix socket allows "
                   "(%zu bytes); set XDG_RUNTIME_DIR to a shorter directory",
                   path, sizeof addr.sun_path - 1);
      return FALSE;
    }
  strcpy (addr.sun_path, path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    goto fail;
  g_unlink (path);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || chmod (path, 0600) < 0
      || listen (fd, LISTEN_BACKLOG) < 0)
    goto fail;

  console->path = g_strdup (path);
  console->listen_fd = fd;
  console->listen_id = g_unix_fd_add (fd, G_IO_IN, on_accept, console);
  console->machine = machine;
  viv_machine_set_console_ready_callback (machine, on_input_room, console);
  return TRUE;

fail:;
  int saved = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               "cannot listen on the console socket %s: %s", path, g_strerror (saved));
  return FALSE;
}

void
viv_worker_console_close (VivWorkerConsole *console)
{
  /* The ready callback stays: it only wakes us, and we outlive the machine. */
  console->machine = NULL;
  g_clear_handle_id (&console->listen_id, g_source_remove);
  if (console->listen_fd >= 0)
    {
      close (console->listen_fd);
      console->listen_fd = -1;
      g_unlink (console->path);
    }
  flush_all (console);
  g_ptr_array_set_size (console->clients, 0);
}

void
viv_worker_console_free (VivWorkerConsole *console)
{
  if (!console)
    return;
  viv_worker_console_close (console);
  g_ptr_array_unref (console->clients);
  g_clear_handle_id (&console->wake_id, g_source_remove);
  close (console->wake_fd);
  g_mutex_clear (&console->lock);
  g_free (console->ring);
  g_free (console->path);
  g_free (console);
}
