/* virtio memory balloon (virtio 1.2 §5.5).
 *
 * The host sets num_pages, the balloon size it wants; the driver answers
 * by giving pages through inflateq (their host memory is released with
 * MADV_DONTNEED, so the worker's RSS drops), taking them back through
 * deflateq, and writing `actual`.  Deflating needs no work here: a page
 * given back refaults (zero-filled) on the guest's first touch, which is
 * also why VIRTIO_BALLOON_F_MUST_TELL_HOST is not offered.
 *
 * Statistics (§5.5.6.3): the driver posts one buffer of (le16 tag, le64
 * value) entries on statsq; the device keeps it and returns it when it
 * wants fresh values (here every stats_interval seconds, from a timer on
 * the I/O thread), and the driver posts it again refilled.
 *
 * Locking: the transport's device lock covers all state; the host-side
 * calls and the timer take it themselves. */
#include "devices/virtio_balloon.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define BALLOON_QUEUE_SIZE 128
#define INFLATEQ 0
#define DEFLATEQ 1
#define STATSQ   2

#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGE_SIZE  (1u << BALLOON_PAGE_SHIFT)

/* Feature bits (§5.5.3). */
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2

/* Config layout (§5.5.4): le32 num_pages (device), le32 actual (driver). */
#define CONFIG_NUM_PAGES 0
#define CONFIG_ACTUAL    4
#define CONFIG_SIZE      8

/* Linux sends at most 256 page numbers per buffer, Windows 512: anything
 * past this is a broken driver, not a bigger balloon step. */
#define PFN_ARRAY_MAX 16384
#define PFN_CHUNK     256
/* Entries read from one stats buffer: there are 10 tags today. */
#define STATS_ENTRY_SIZE 10
#define STATS_ENTRIES_MAX 64

struct VivVirtioBalloon {
  VivVirtioDevice *vdev;
  uint64_t features;
  bool active;                 /* DRIVER_OK seen, no reset since */
  bool broken;                 /* we asked for a reset; wait for it */
  bool madvise_warned;

  uint32_t num_pages;          /* target, set by the host */
  uint32_t actual;             /* written by the driver */
  VivBalloonCounters counters;

  VivBalloonStats stats;
  bool stats_held;             /* the driver's stats buffer is with us */
  uint16_t stats_head;
  GSource *stats_timer;

  VivVirtqElement elem;
};

static void
balloon_fail (VivVirtioBalloon *b, const char *why)
{
  b->broken = true;
  viv_virtio_device_needs_reset (b->vdev, why);
}

static VivVirtqueue *
usable_queue (VivVirtioBalloon *b, unsigned index)
{
  VivVirtqueue *vq = viv_virtio_device_queue (b->vdev, index);
  if (!b->active || b->broken || vq->size == 0)
    return NULL;
  return vq;
}

/* A run of guest pages contiguous in host memory, released in one call. */
typedef struct {
  uint8_t *hva;
  size_t len;
} PageRun;

static void
release_run (VivVirtioBalloon *b, PageRun *run)
{
  if (run->len == 0)
    return;
  if (madvise (run->hva, run->len, MADV_DONTNEED) != 0 && !b->madvise_warned)
    {
      g_warning ("virtio-balloon: madvise(MADV_DONTNEED) failed: %s", g_strerror (errno));
      b->madvise_warned = true;
    }
  run->len = 0;
}

static void
take_page (VivVirtioBalloon *b, unsigned index, uint32_t pfn, PageRun *run)
{
  uint64_t gpa = (uint64_t) pfn << BALLOON_PAGE_SHIFT;
  uint8_t *hva = viv_guest_memory_ptr (viv_virtio_device_memory (b->vdev), gpa, BALLOON_PAGE_SIZE);
  if (!hva)
    {
      b->counters.bad_pfns++;
      return;
    }
  if (index == DEFLATEQ)
    {
      b->counters.deflated_pages++;
      return;
    }
  b->counters.inflated_pages++;
  if (run->len > 0 && hva == run->hva + run->len)
    {
      run->len += BALLOON_PAGE_SIZE;
      return;
    }
  release_run (b, run);
  run->hva = hva;
  run->len = BALLOON_PAGE_SIZE;
}

static void
process_page_queue (VivVirtioBalloon *b, unsigned index)
{
  VivVirtqueue *vq = usable_queue (b, index);
  bool pushed = false;

  while (vq && !b->broken)
    {
      int r = viv_virtqueue_pop (vq, &b->elem);
      if (r == 0)
        break;
      if (r < 0)
        {
          balloon_fail (b, vq->error);
          break;
        }
      uint64_t n_pfns = b->elem.out_bytes / sizeof (uint32_t);
      if (n_pfns > PFN_ARRAY_MAX)
        {
          balloon_fail (b, "page number array longer than 16384 entries");
          break;
        }
      PageRun run = { 0 };
      for (uint64_t done = 0; done < n_pfns; done += PFN_CHUNK)
        {
          uint32_t pfns[PFN_CHUNK];
          size_t count = MIN (PFN_CHUNK, n_pfns - done);
          viv_virtq_copy_from_out (&b->elem, done * sizeof (uint32_t), pfns, count * sizeof (uint32_t));
          for (size_t i = 0; i < count; i++)
            take_page (b, index, GUINT32_FROM_LE (pfns[i]), &run);
        }
      release_run (b, &run);
      viv_virtqueue_push (vq, b->elem.head, 0);
      pushed = true;
    }
  if (pushed)
    viv_virtio_device_notify_used (b->vdev, index);
}

static void
parse_stats (VivVirtioBalloon *b, const VivVirtqElement *elem)
{
  uint64_t n = MIN (elem->out_bytes / STATS_ENTRY_SIZE, STATS_ENTRIES_MAX);
  uint32_t valid = 0;
  for (uint64_t i = 0; i < n; i++)
    {
      uint8_t entry[STATS_ENTRY_SIZE];
      uint16_t tag;
      uint64_t value;
      viv_virtq_copy_from_out (elem, i * STATS_ENTRY_SIZE, entry, sizeof entry);
      memcpy (&tag, entry, sizeof tag);
      memcpy (&value, entry + 2, sizeof value);
      tag = GUINT16_FROM_LE (tag);
      /* §5.5.6.3: tags the device does not know are ignored. */
      if (tag >= VIV_BALLOON_STAT_COUNT)
        continue;
      b->stats.values[tag] = GUINT64_FROM_LE (value);
      valid |= 1u << tag;
    }
  b->stats.valid = valid;
  b->stats.updates++;
  b->stats.updated_at = g_get_monotonic_time ();
}

static void
process_stats_queue (VivVirtioBalloon *b)
{
  VivVirtqueue *vq = usable_queue (b, STATSQ);
  while (vq && !b->broken)
    {
      int r = viv_virtqueue_pop (vq, &b->elem);
      if (r == 0)
        break;
      if (r < 0)
        {
          balloon_fail (b, vq->error);
          break;
        }
      /* §5.5.6.3: the driver keeps at most one buffer in statsq. */
      if (b->stats_held)
        {
          balloon_fail (b, "a second buffer in the stats queue");
          break;
        }
      parse_stats (b, &b->elem);
      b->stats_held = true;
      b->stats_head = b->elem.head;
    }
}

/* Returning the stats buffer is how the device asks for new values. */
static void
request_stats_locked (VivVirtioBalloon *b)
{
  VivVirtqueue *vq = usable_queue (b, STATSQ);
  if (!vq || !b->stats_held)
    return;
  b->stats_held = false;
  viv_virtqueue_push (vq, b->stats_head, 0);
  viv_virtio_device_notify_used (b->vdev, STATSQ);
}

static gboolean
stats_timer_cb (gpointer data)
{
  VivVirtioBalloon *b = data;
  viv_virtio_device_lock (b->vdev);
  /* set_stats_interval may have replaced this timer while we waited. */
  if (!g_source_is_destroyed (g_main_current_source ()))
    request_stats_locked (b);
  viv_virtio_device_unlock (b->vdev);
  return G_SOURCE_CONTINUE;
}

static void
set_stats_interval_locked (VivVirtioBalloon *b, unsigned seconds)
{
  if (b->stats_timer)
    {
      g_source_destroy (b->stats_timer);
      g_clear_pointer (&b->stats_timer, g_source_unref);
    }
  if (seconds == 0)
    return;
  b->stats_timer = g_timeout_source_new_seconds (seconds);
  g_source_set_name (b->stats_timer, "virtio-balloon stats");
  g_source_set_callback (b->stats_timer, stats_timer_cb, b, NULL);
  g_source_attach (b->stats_timer, viv_virtio_device_context (b->vdev));
}

static uint64_t
balloon_get_features (void *dev)
{
  (void) dev;
  return (1ull << VIRTIO_BALLOON_F_STATS_VQ) | (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
}

static bool
balloon_set_features (void *dev, uint64_t features)
{
  VivVirtioBalloon *b = dev;
  b->features = features;
  return true;
}

static void
config_image (const VivVirtioBalloon *b, uint8_t config[CONFIG_SIZE])
{
  uint32_t num_pages = GUINT32_TO_LE (b->num_pages), actual = GUINT32_TO_LE (b->actual);
  memcpy (config + CONFIG_NUM_PAGES, &num_pages, sizeof num_pages);
  memcpy (config + CONFIG_ACTUAL, &actual, sizeof actual);
}

static void
balloon_read_config (void *dev, uint32_t offset, void *data, unsigned size)
{
  uint8_t config[CONFIG_SIZE];
  config_image (dev, config);
  memcpy (data, config + offset, size);
}

static void
balloon_write_config (void *dev, uint32_t offset, const void *data, unsigned size)
{
  VivVirtioBalloon *b = dev;
  uint8_t config[CONFIG_SIZE];
  uint32_t actual;
  /* Only `actual` is the driver's to write; bytes aimed at num_pages are
   * dropped when the image is rebuilt. */
  config_image (b, config);
  memcpy (config + offset, data, size);
  memcpy (&actual, config + CONFIG_ACTUAL, sizeof actual);
  b->actual = GUINT32_FROM_LE (actual);
}

static void
balloon_activate (void *dev)
{
  VivVirtioBalloon *b = dev;
  b->active = true;
  process_page_queue (b, INFLATEQ);
  process_page_queue (b, DEFLATEQ);
  if (b->features & (1ull << VIRTIO_BALLOON_F_STATS_VQ))
    process_stats_queue (b);
}

static void
balloon_queue_notify (void *dev, unsigned index)
{
  VivVirtioBalloon *b = dev;
  if (index == INFLATEQ || index == DEFLATEQ)
    process_page_queue (b, index);
  else if (index == STATSQ && (b->features & (1ull << VIRTIO_BALLOON_F_STATS_VQ)))
    process_stats_queue (b);
}

static void
balloon_reset (void *dev)
{
  VivVirtioBalloon *b = dev;
  /* The target is the host's and stays; a reset guest starts with an
   * empty balloon, its pages refaulting as it touches them. */
  b->active = false;
  b->broken = false;
  b->features = 0;
  b->actual = 0;
  b->stats_held = false;
}

static void
balloon_destroy (void *dev)
{
  VivVirtioBalloon *b = dev;
  set_stats_interval_locked (b, 0);
  g_free (b);
}

static const VivVirtioDeviceOps balloon_ops = {
  .name = "virtio-balloon",
  .device_id = VIRTIO_ID_BALLOON,
  .n_queues = 3,
  .queue_size_max = BALLOON_QUEUE_SIZE,
  .config_size = CONFIG_SIZE,
  .get_features = balloon_get_features,
  .set_features = balloon_set_features,
  .read_config = balloon_read_config,
  .write_config = balloon_write_config,
  .activate = balloon_activate,
  .queue_notify = balloon_queue_notify,
  .reset = balloon_reset,
  .destroy = balloon_destroy,
};

VivVirtioBalloon *
viv_virtio_balloon_new (VivVirtioDevice *vdev)
{
  g_return_val_if_fail (vdev != NULL, NULL);
  VivVirtioBalloon *b = g_new0 (VivVirtioBalloon, 1);
  b->vdev = vdev;
  viv_virtio_device_bind (vdev, &balloon_ops, b);
  viv_virtio_device_lock (vdev);
  set_stats_interval_locked (b, VIV_VIRTIO_BALLOON_STATS_INTERVAL_DEFAULT);
  viv_virtio_device_unlock (vdev);
  return b;
}

void
viv_virtio_balloon_set_target (VivVirtioBalloon *b, uint64_t bytes)
{
  g_return_if_fail (b != NULL);
  uint64_t ram_pages = viv_virtio_device_memory (b->vdev)->ram_size >> BALLOON_PAGE_SHIFT;
  uint64_t pages = MIN (MIN (bytes >> BALLOON_PAGE_SHIFT, ram_pages), G_MAXUINT32);

  viv_virtio_device_lock (b->vdev);
  if (pages != b->num_pages)
    {
      b->num_pages = (uint32_t) pages;
      viv_virtio_device_config_changed (b->vdev);
    }
  viv_virtio_device_unlock (b->vdev);
}

uint64_t
viv_virtio_balloon_get_target_bytes (VivVirtioBalloon *b)
{
  g_return_val_if_fail (b != NULL, 0);
  viv_virtio_device_lock (b->vdev);
  uint64_t bytes = (uint64_t) b->num_pages << BALLOON_PAGE_SHIFT;
  viv_virtio_device_unlock (b->vdev);
  return bytes;
}

uint64_t
viv_virtio_balloon_get_actual_bytes (VivVirtioBalloon *b)
{
  g_return_val_if_fail (b != NULL, 0);
  viv_virtio_device_lock (b->vdev);
  uint64_t bytes = (uint64_t) b->actual << BALLOON_PAGE_SHIFT;
  viv_virtio_device_unlock (b->vdev);
  return bytes;
}

void
viv_virtio_balloon_get_counters (VivVirtioBalloon *b, VivBalloonCounters *out)
{
  g_return_if_fail (b != NULL && out != NULL);
  viv_virtio_device_lock (b->vdev);
  *out = b->counters;
  viv_virtio_device_unlock (b->vdev);
}

bool
viv_virtio_balloon_get_stats (VivVirtioBalloon *b, VivBalloonStats *out)
{
  g_return_val_if_fail (b != NULL && out != NULL, false);
  viv_virtio_device_lock (b->vdev);
  *out = b->stats;
  viv_virtio_device_unlock (b->vdev);
  return out->updates > 0;
}

void
viv_virtio_balloon_set_stats_interval (VivVirtioBalloon *b, unsigned seconds)
{
  g_return_if_fail (b != NULL);
  viv_virtio_device_lock (b->vdev);
  set_stats_interval_locked (b, seconds);
  viv_virtio_device_unlock (b->vdev);
}

void
viv_virtio_balloon_request_stats (VivVirtioBalloon *b)
{
  g_return_if_fail (b != NULL);
  viv_virtio_device_lock (b->vdev);
  request_stats_locked (b);
  viv_virtio_device_unlock (b->vdev);
}
