/* virtio entropy device (virtio 1.2 §5.4).
 *
 * Each request is a chain of device-writable buffers; the device fills it
 * straight from getrandom() into guest memory and returns it.  One
 * request gets at most RNG_REQUEST_MAX bytes (the spec lets the device
 * use less than the whole buffer): overlapping descriptors can make a
 * chain look far larger than guest RAM. */
#include "devices/virtio_rng.h"

#include <errno.h>
#include <sys/random.h>

#define RNG_QUEUE_SIZE  256
#define RNG_REQUEST_MAX (64 * 1024)

struct VivVirtioRng {
  VivVirtioDevice *vdev;
  bool active;             /* DRIVER_OK seen, no reset since */
  bool broken;             /* we asked for a reset; wait for it */
  bool getrandom_warned;
  VivVirtqElement elem;    /* used under the device lock only */
};

static void
rng_fail (VivVirtioRng *rng, const char *why)
{
  rng->broken = true;
  viv_virtio_device_needs_reset (rng->vdev, why);
}

/* Fills [buf, buf+len) with random bytes; returns how many it got. */
static size_t
fill_random (VivVirtioRng *rng, uint8_t *buf, size_t len)
{
  size_t done = 0;
  while (done < len)
    {
      ssize_t n = getrandom (buf + done, len - done, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (!rng->getrandom_warned)
            g_warning ("virtio-rng: getrandom failed: %s", g_strerror (errno));
          rng->getrandom_warned = true;
          break;
        }
      done += (size_t) n;
    }
  return done;
}

static uint32_t
fill_request (VivVirtioRng *rng, const VivVirtqElement *elem)
{
  size_t budget = RNG_REQUEST_MAX;
  size_t written = 0;
  for (unsigned i = elem->n_out; i < elem->n_out + elem->n_in && budget > 0; i++)
    {
      size_t want = MIN (elem->iov[i].iov_len, budget);
      size_t got = fill_random (rng, elem->iov[i].iov_base, want);
      written += got;
      budget -= got;
      if (got < want)
        break;
    }
  return (uint32_t) written;
}

static void
rng_process (VivVirtioRng *rng)
{
  VivVirtqueue *vq = viv_virtio_device_queue (rng->vdev, 0);
  bool pushed = false;

  while (vq->size != 0 && rng->active && !rng->broken)
    {
      int r = viv_virtqueue_pop (vq, &rng->elem);
      if (r == 0)
        break;
      if (r < 0)
        {
          rng_fail (rng, vq->error);
          break;
        }
      /* §5.4.6.1: "The driver MUST NOT place device-readable buffers into
       * the requestq".  A driver that does is broken, not merely asking
       * for zero bytes: stop and ask for a reset, as for a bad ring. */
      if (rng->elem.n_out > 0)
        {
          rng_fail (rng, "device-readable buffer in the request queue");
          break;
        }
      viv_virtqueue_push (vq, rng->elem.head, fill_request (rng, &rng->elem));
      pushed = true;
    }
  if (pushed)
    viv_virtio_device_notify_used (rng->vdev, 0);
}

static void
rng_activate (void *dev)
{
  VivVirtioRng *rng = dev;
  rng->active = true;
  rng_process (rng);
}

static void
rng_queue_notify (void *dev, unsigned index)
{
  (void) index;   /* the transport only notifies queues we declared: one */
  rng_process (dev);
}

static void
rng_reset (void *dev)
{
  VivVirtioRng *rng = dev;
  rng->active = false;
  rng->broken = false;
}

static void
rng_destroy (void *dev)
{
  g_free (dev);
}

static const VivVirtioDeviceOps rng_ops = {
  .name = "virtio-rng",
  .device_id = VIRTIO_ID_RNG,
  .n_queues = 1,
  .queue_size_max = RNG_QUEUE_SIZE,
  .config_size = 0,            /* §5.4.4: no config, no feature bits */
  .activate = rng_activate,
  .queue_notify = rng_queue_notify,
  .reset = rng_reset,
  .destroy = rng_destroy,
};

VivVirtioRng *
viv_virtio_rng_new (VivVirtioDevice *vdev)
{
  g_return_val_if_fail (vdev != NULL, NULL);
  VivVirtioRng *rng = g_new0 (VivVirtioRng, 1);
  rng->vdev = vdev;
  viv_virtio_device_bind (vdev, &rng_ops, rng);
  return rng;
}
