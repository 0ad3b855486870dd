/* User-mode networking through libslirp: a NAT'd 10.0.2.0/24 network with
 * a gateway, DHCP and DNS, as QEMU's -netdev user.
 *
 * Slirp runs on the backend's GMainContext: a GSource of our own asks
 * slirp which sockets to watch (slirp_pollfds_fill) before each poll and
 * lets it handle them (slirp_pollfds_poll) after; slirp's timers are
 * GSources with a ready time.  Slirp is not thread-safe, so every call into
 * it holds `lock`; its callbacks run inside those calls. */
#include <errno.h>
#include <string.h>
#include <slirp/libslirp.h>

#include "net/backend.h"

typedef struct {
  VivNetBackend base;
  GMutex        lock;
  Slirp        *slirp;
  GSource      *poll_source;
  GHashTable   *watches;      /* fd → Watch */
  unsigned      fill_round;
  gint64        deadline;     /* µs, monotonic; slirp's own timeout; -1: none */
} SlirpBackend;

typedef struct {
  gpointer     tag;
  GIOCondition condition;     /* what we watch it for now */
  unsigned     round;         /* the last fill that asked for this fd */
} Watch;

typedef struct {
  GSource       source;
  SlirpBackend *backend;
} PollSource;

typedef struct {
  GSource       source;
  SlirpBackend *backend;
  SlirpTimerId  id;
  void         *cb_opaque;
} TimerSource;

/* ---- slirp callbacks (lock held) ----------------------------------------- */

static ssize_t
cb_send_packet (const void *buf, size_t len, void *opaque)
{
  SlirpBackend *sb = opaque;
  /* Slirp builds every checksum of what it emits. */
  viv_net_backend_queue_rx (&sb->base, buf, len, VIV_NET_RX_CSUM_VALID);
  return len;
}

static void
cb_guest_error (const char *msg, void *opaque)
{
  g_warning ("user network: guest error: %s", msg);
}

static int64_t
cb_clock_get_ns (void *opaque)
{
  return g_get_monotonic_time () * 1000;
}

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  TimerSource *timer = (TimerSource *) source;
  g_source_set_ready_time (source, -1);
  g_mutex_lock (&timer->backend->lock);
  slirp_handle_timer (timer->backend->slirp, timer->id, timer->cb_opaque);
  g_mutex_unlock (&timer->backend->lock);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = { .dispatch = timer_dispatch };

static void *
cb_timer_new_opaque (SlirpTimerId id, void *cb_opaque, void *opaque)
{
  SlirpBackend *sb = opaque;
  GSource *source = g_source_new (&timer_funcs, sizeof (TimerSource));
  TimerSource *timer = (TimerSource *) source;
  timer->backend = sb;
  timer->id = id;
  timer->cb_opaque = cb_opaque;
  g_source_set_name (source, "viv-slirp-timer");
  g_source_attach (source, sb->base.context);
  return timer;
}

static void
cb_timer_free (void *timer, void *opaque)
{
  g_source_destroy (timer);
  g_source_unref (timer);
}

/* expire_time is in ms of cb_clock_get_ns, i.e. of the monotonic clock. */
static void
cb_timer_mod (void *timer, int64_t expire_time, void *opaque)
{
  g_source_set_ready_time (timer, expire_time * 1000);
}

/* Every fd slirp wants is reported by slirp_pollfds_fill on each round. */
static void
cb_register_poll_fd (int fd, void *opaque)
{
}

static void
cb_unregister_poll_fd (int fd, void *opaque)
{
  SlirpBackend *sb = opaque;
  Watch *watch = g_hash_table_lookup (sb->watches, GINT_TO_POINTER (fd));
  if (watch)
    {
      g_source_remove_unix_fd (sb->poll_source, watch->tag);
      g_hash_table_remove (sb->watches, GINT_TO_POINTER (fd));
    }
}

/* Slirp wants its fd set looked at again.  On the loop's own thread the
 * next prepare does that anyway; waking the context from there would make
 * the loop spin (slirp notifies on every poll while it has a listener). */
static void
cb_notify (void *opaque)
{
  SlirpBackend *sb = opaque;
  if (!g_main_context_is_owner (sb->base.context))
    g_main_context_wakeup (sb->base.context);
}

static const SlirpCb slirp_callbacks = {
  .send_packet = cb_send_packet,
  .guest_error = cb_guest_error,
  .clock_get_ns = cb_clock_get_ns,
  .timer_free = cb_timer_free,
  .timer_mod = cb_timer_mod,
  .register_poll_fd = cb_register_poll_fd,
  .unregister_poll_fd = cb_unregister_poll_fd,
  .notify = cb_notify,
  .timer_new_opaque = cb_timer_new_opaque,
};

/* ---- The poll source --------------------------------------------------- */

static int
add_poll (int fd, int events, void *opaque)
{
  SlirpBackend *sb = opaque;
  GIOCondition condition = 0;
  if (events & SLIRP_POLL_IN)
    condition |= G_IO_IN;
  if (events & SLIRP_POLL_OUT)
    condition |= G_IO_OUT;
  if (events & SLIRP_POLL_PRI)
    condition |= G_IO_PRI;
  if (events & SLIRP_POLL_ERR)
    condition |= G_IO_ERR;
  if (events & SLIRP_POLL_HUP)
    condition |= G_IO_HUP;

  /* Only real changes: modifying a watch wakes the context, and doing it
   * on every prepare would make the loop spin. */
  Watch *watch = g_hash_table_lookup (sb->watches, GINT_TO_POINTER (fd));
  if (watch && watch->condition != condition)
    g_source_modify_unix_fd (sb->poll_source, watch->tag, condition);
  else if (!watch)
    {
      watch = g_new (Watch, 1);
      watch->tag = g_source_add_unix_fd (sb->poll_source, fd, condition);
      g_hash_table_insert (sb->watches, GINT_TO_POINTER (fd), watch);
    }
  watch->condition = condition;
  watch->round = sb->fill_round;
  return fd;
}

static int
get_revents (int fd, void *opaque)
{
  SlirpBackend *sb = opaque;
  Watch *watch = g_hash_table_lookup (sb->watches, GINT_TO_POINTER (fd));
  if (!watch)
    return 0;
  GIOCondition condition = g_source_query_unix_fd (sb->poll_source, watch->tag);
  int events = 0;
  if (condition & G_IO_IN)
    events |= SLIRP_POLL_IN;
  if (condition & G_IO_OUT)
    events |= SLIRP_POLL_OUT;
  if (condition & G_IO_PRI)
    events |= SLIRP_POLL_PRI;
  if (condition & G_IO_ERR)
    events |= SLIRP_POLL_ERR;
  if (condition & G_IO_HUP)
    events |= SLIRP_POLL_HUP;
  return events;
}

static gboolean
drop_stale_watch (gpointer key, gpointer value, gpointer data)
{
  SlirpBackend *sb = data;
  Watch *watch = value;
  if (watch->round == sb->fill_round)
    return FALSE;
  g_source_remove_unix_fd (sb->poll_source, watch->tag);
  return TRUE;
}

static gboolean
poll_prepare (GSource *source, gint *timeout)
{
  SlirpBackend *sb = ((PollSource *) source)->backend;
  uint32_t slirp_timeout = UINT32_MAX;
  g_mutex_lock (&sb->lock);
  sb->fill_round++;
  slirp_pollfds_fill (sb->slirp, &slirp_timeout, add_poll, sb);
  g_hash_table_foreach_remove (sb->watches, drop_stale_watch, sb);
  if (slirp_timeout == UINT32_MAX)
    {
      sb->deadline = -1;
      *timeout = -1;
    }
  else
    {
      sb->deadline = g_source_get_time (source) + (gint64) slirp_timeout * 1000;
      *timeout = MIN (slirp_timeout, (uint32_t) G_MAXINT);
    }
  g_mutex_unlock (&sb->lock);
  return slirp_timeout == 0;
}

static gboolean
poll_check (GSource *source)
{
  SlirpBackend *sb = ((PollSource *) source)->backend;
  g_mutex_lock (&sb->lock);
  bool ready = sb->deadline >= 0 && g_source_get_time (source) >= sb->deadline;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, sb->watches);
  while (!ready && g_hash_table_iter_next (&iter, NULL, &value))
    ready = g_source_query_unix_fd (source, ((Watch *) value)->tag) != 0;
  g_mutex_unlock (&sb->lock);
  return ready;
}

static gboolean
poll_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  SlirpBackend *sb = ((PollSource *) source)->backend;
  g_mutex_lock (&sb->lock);
  slirp_pollfds_poll (sb->slirp, 0, get_revents, sb);
  g_mutex_unlock (&sb->lock);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs poll_funcs = {
  .prepare = poll_prepare,
  .check = poll_check,
  .dispatch = poll_dispatch,
};

/* ---- Backend ------------------------------------------------------------ */

static bool
slirp_send (VivNetBackend *backend, const struct iovec *iov, unsigned n_iov)
{
  SlirpBackend *sb = (SlirpBackend *) backend;
  size_t len = 0;
  for (unsigned i = 0; i < n_iov; i++)
    len += iov[i].iov_len;
  if (len < VIV_NET_MIN_FRAME || len > VIV_NET_MAX_FRAME)
    return false;

  g_autofree uint8_t *flat = NULL;
  const uint8_t *frame = iov[0].iov_base;
  if (n_iov != 1)
    {
      flat = g_malloc (len);
      size_t at = 0;
      for (unsigned i = 0; i < n_iov; i++)
        {
          memcpy (flat + at, iov[i].iov_base, iov[i].iov_len);
          at += iov[i].iov_len;
        }
      frame = flat;
    }
  g_mutex_lock (&sb->lock);
  slirp_input (sb->slirp, frame, len);
  g_mutex_unlock (&sb->lock);
  /* Slirp may have opened sockets or armed timers: poll again. */
  g_main_context_wakeup (backend->context);
  return true;
}

static void
slirp_backend_free (VivNetBackend *backend)
{
  SlirpBackend *sb = (SlirpBackend *) backend;
  /* Slirp closes its sockets through cb_unregister_poll_fd, which needs
   * the poll source alive. */
  g_mutex_lock (&sb->lock);
  slirp_cleanup (sb->slirp);
  g_mutex_unlock (&sb->lock);
  g_source_destroy (sb->poll_source);
  g_source_unref (sb->poll_source);
  g_hash_table_destroy (sb->watches);
  g_mutex_clear (&sb->lock);
  viv_net_backend_finalize (backend);
  g_free (sb);
}

static const VivNetBackendClass slirp_class = {
  .name = "user",
  .send = slirp_send,
  .free = slirp_backend_free,
};

static gboolean
add_hostfwd (SlirpBackend *sb, const VivNetHostFwd *fwd, GError **error)
{
  char host[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN];
  inet_ntop (AF_INET, &fwd->host_addr, host, sizeof host);
  inet_ntop (AF_INET, &fwd->guest_addr, guest, sizeof guest);
  const char *proto = fwd->udp ? "udp" : "tcp";

  errno = 0;
  g_mutex_lock (&sb->lock);
  int rc = slirp_add_hostfwd (sb->slirp, fwd->udp, fwd->host_addr, fwd->host_port,
                              fwd->guest_addr, fwd->guest_port);
  int saved_errno = errno;
  g_mutex_unlock (&sb->lock);
  if (rc == 0)
    return TRUE;

  if (saved_errno == EADDRINUSE)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                 "cannot forward %s port %s:%u to the guest: the host port is already in "
                 "use; pick another host port in hostfwd=%s:%s:HOSTPORT-%s:%u",
                 proto, host, fwd->host_port, proto, host, guest, fwd->guest_port);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno ? saved_errno : EINVAL),
                 "cannot forward %s port %s:%u to the guest %s:%u: %s", proto, host,
                 fwd->host_port, guest, fwd->guest_port,
                 saved_errno ? g_strerror (saved_errno) : "refused by the user network");
  return FALSE;
}

VivNetBackend *
viv_net_slirp_new (const VivNetOptions *options, GMainContext *context, GError **error)
{
  SlirpBackend *sb = g_new0 (SlirpBackend, 1);
  viv_net_backend_init (&sb->base, &slirp_class, context);
  g_mutex_init (&sb->lock);
  sb->watches = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  sb->deadline = -1;

  SlirpConfig config = {
    .version = 4,
    .restricted = options->restricted,
    .in_enabled = true,
    /* IPv6 as QEMU: fec0::/64, host ::2, DNS ::3. */
    .in6_enabled = true,
    .vprefix_len = 64,
  };
  inet_pton (AF_INET, VIV_NET_USER_NETWORK, &config.vnetwork);
  inet_pton (AF_INET, VIV_NET_USER_NETMASK, &config.vnetmask);
  inet_pton (AF_INET, VIV_NET_USER_GATEWAY, &config.vhost);
  inet_pton (AF_INET, VIV_NET_USER_GUEST, &config.vdhcp_start);
  inet_pton (AF_INET, VIV_NET_USER_DNS, &config.vnameserver);
  inet_pton (AF_INET6, "fec0::", &config.vprefix_addr6);
  inet_pton (AF_INET6, "fec0::2", &config.vhost6);
  inet_pton (AF_INET6, "fec0::3", &config.vnameserver6);

  /* The poll source must exist before slirp: slirp_new may call back. */
  sb->poll_source = g_source_new (&poll_funcs, sizeof (PollSource));
  ((PollSource *) sb->poll_source)->backend = sb;
  g_source_set_name (sb->poll_source, "viv-slirp-poll");

  g_mutex_lock (&sb->lock);
  sb->slirp = slirp_new (&config, &slirp_callbacks, sb);
  g_mutex_unlock (&sb->lock);
  if (!sb->slirp)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "cannot start the user network (libslirp %s refused its configuration)",
                   slirp_version_string ());
      g_source_unref (sb->poll_source);
      g_hash_table_destroy (sb->watches);
      g_mutex_clear (&sb->lock);
      viv_net_backend_finalize (&sb->base);
      g_free (sb);
      return NULL;
    }

  for (unsigned i = 0; i < options->n_hostfwd; i++)
    if (!add_hostfwd (sb, &options->hostfwd[i], error))
      {
        slirp_backend_free (&sb->base);
        return NULL;
      }

  g_source_attach (sb->poll_source, context);
  return &sb->base;
}
