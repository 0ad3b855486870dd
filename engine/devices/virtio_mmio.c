/* virtio-mmio version 2 (virtio 1.2 §4.2): the register file, feature
 * negotiation, the status state machine (§3.1), queue set-up, and the two
 * paths for notifications and interrupts: register writes and an IRQ line
 * when there is no VM (unit tests), KVM ioeventfds and a resampling irqfd
 * when there is one.
 *
 * Everything the guest can reach runs under the device's recursive lock,
 * so a device op may call back into notify_used / needs_reset.  Sources on
 * the I/O context hold a reference on the transport: a callback that was
 * already dispatching when the transport went away finds `destroyed` set
 * under the lock and does nothing. */
#include "devices/virtio_mmio.h"
#include "kvm/iothread.h"
#include "kvm/vm.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MMIO_MAGIC   0x74726976u   /* "virt" */
#define MMIO_VERSION 2u
/* "VIVA" (0x56 'V', 0x49 'I', 0x56 'V', 0x41 'A'): drivers do not
 * interpret it, it only tells a curious reader who made the device. */
#define MMIO_VENDOR  0x56495641u

enum {
  REG_MAGIC              = 0x000,
  REG_VERSION            = 0x004,
  REG_DEVICE_ID          = 0x008,
  REG_VENDOR_ID          = 0x00c,
  REG_DEVICE_FEATURES    = 0x010,
  REG_DEVICE_FEATURES_SEL = 0x014,
  REG_DRIVER_FEATURES    = 0x020,
  REG_DRIVER_FEATURES_SEL = 0x024,
  REG_QUEUE_SEL          = 0x030,
  REG_QUEUE_NUM_MAX      = 0x034,
  REG_QUEUE_NUM          = 0x038,
  REG_QUEUE_READY        = 0x044,
  REG_QUEUE_NOTIFY       = 0x050,
  REG_INTERRUPT_STATUS   = 0x060,
  REG_INTERRUPT_ACK      = 0x064,
  REG_STATUS             = 0x070,
  REG_QUEUE_DESC_LOW     = 0x080,
  REG_QUEUE_DESC_HIGH    = 0x084,
  REG_QUEUE_DRIVER_LOW   = 0x090,
  REG_QUEUE_DRIVER_HIGH  = 0x094,
  REG_QUEUE_DEVICE_LOW   = 0x0a0,
  REG_QUEUE_DEVICE_HIGH  = 0x0a4,
  REG_SHM_SEL            = 0x0ac,
  REG_SHM_LEN_LOW        = 0x0b0,
  REG_SHM_LEN_HIGH       = 0x0b4,
  REG_SHM_BASE_LOW       = 0x0b8,
  REG_SHM_BASE_HIGH      = 0x0bc,
  REG_CONFIG_GENERATION  = 0x0fc,
  REG_CONFIG             = 0x100,
};

#define INT_USED_BUFFER 1u
#define INT_CONFIG      2u

#define TRANSPORT_FEATURES ((UINT64_C (1) << VIRTIO_F_VERSION_1)          \
                            | (UINT64_C (1) << VIRTIO_F_RING_INDIRECT_DESC) \
                            | (UINT64_C (1) << VIRTIO_F_RING_EVENT_IDX))

/* Each kind of guest mistake is logged once per device: a hostile guest
 * must not be able to flood the worker's log. */
enum {
  WARN_ACCESS_WIDTH = 1 << 0,
  WARN_EARLY_NOTIFY = 1 << 1,
  WARN_BAD_QUEUE    = 1 << 2,
  WARN_QUEUE_LOCKED = 1 << 3,
  WARN_NEGOTIATION  = 1 << 4,
  WARN_ORDER        = 1 << 5,
  WARN_NEEDS_RESET  = 1 << 6,
};

typedef struct {
  VivVirtioDevice *vdev;
  unsigned         index;
  VivVirtqueue     vq;
  uint32_t         num;
  bool             ready;
  uint64_t         desc, driver, device;
  GSource         *notify_idle;   /* a register kick on its way to the I/O thread */
  int              kick_fd;       /* KVM ioeventfd on QueueNotify, -1 without a VM */
  GSource         *kick_source;
  VivIoPoller     *poller;        /* with kick_fd, if the device's queues are polled */
} VivVirtioQueue;

struct VivVirtioDevice {
  GRecMutex                 lock;
  gint                      refcount;
  bool                      destroyed;
  VivVirtioMmioConfig       config;
  char                     *name;
  const VivVirtioDeviceOps *ops;
  void                     *dev;
  VivVirtioQueue           *queues;
  unsigned                  n_queues;

  uint32_t status, isr, config_generation;
  uint32_t device_features_sel, driver_features_sel, queue_sel, shm_sel;
  uint64_t driver_features;   /* as the driver writes them */
  uint64_t features;          /* accepted with FEATURES_OK */
  bool     line_level;        /* config.irq, when there is no VM */
  unsigned warned;

  int      vm_fd;             /* -1: not connected to KVM */
  int      irq_fd, resample_fd;
  GSource *resample_source;
};

static VivVirtioDevice *
vdev_ref (VivVirtioDevice *vdev)
{
  g_atomic_int_inc (&vdev->refcount);
  return vdev;
}

static void
vdev_unref (VivVirtioDevice *vdev)
{
  if (!g_atomic_int_dec_and_test (&vdev->refcount))
    return;
  g_rec_mutex_clear (&vdev->lock);
  g_main_context_unref (vdev->config.io_context);
  g_free (vdev->queues);
  g_free (vdev->name);
  g_free (vdev);
}

static void
queue_source_done (gpointer data)
{
  VivVirtioQueue *q = data;
  vdev_unref (q->vdev);
}

static void guest_problem (VivVirtioDevice *vdev, unsigned kind, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
guest_problem (VivVirtioDevice *vdev, unsigned kind, const char *format, ...)
{
  if (vdev->warned & kind)
    return;
  vdev->warned |= kind;
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  g_message ("%s: %s", vdev->name, text);
}

/* ---- interrupts ------------------------------------------------------- */

static void
signal_eventfd (int fd)
{
  uint64_t one = 1;
  /* Only fails if the counter is about to overflow: it is already set. */
  if (write (fd, &one, sizeof one) < 0 && errno != EAGAIN)
    g_warning ("eventfd write: %s", g_strerror (errno));
}

static void
update_irq (VivVirtioDevice *vdev)
{
  if (vdev->vm_fd >= 0)
    {
      /* The irqfd asserts the level; the guest's EOI drops it and the
       * resample fd tells us to assert it again if work is left. */
      if (vdev->isr)
        signal_eventfd (vdev->irq_fd);
      return;
    }
  bool level = vdev->isr != 0;
  if (level != vdev->line_level)
    {
      vdev->line_level = level;
      viv_irq_line_set (&vdev->config.irq, level);
    }
}

static void
raise_interrupt (VivVirtioDevice *vdev, uint32_t bits)
{
  vdev->isr |= bits;
  update_irq (vdev);
}

static void
fail_device (VivVirtioDevice *vdev, const char *why)
{
  if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
    return;
  guest_problem (vdev, WARN_NEEDS_RESET, "%s; the device stops until the driver resets it", why);
  vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
  raise_interrupt (vdev, INT_CONFIG);
}

/* ---- queue notifications ----------------------------------------------- */

static bool
notify_allowed (VivVirtioDevice *vdev, unsigned index)
{
  if (vdev->destroyed || (vdev->status & VIRTIO_STATUS_NEEDS_RESET))
    return false;
  if (index >= vdev->n_queues)
    {
      guest_problem (vdev, WARN_BAD_QUEUE, "notify for queue %u, which does not exist: ignored", index);
      return false;
    }
  if (!(vdev->status & VIRTIO_STATUS_DRIVER_OK) || !vdev->queues[index].ready)
    {
      guest_problem (vdev, WARN_EARLY_NOTIFY,
                     "queue %u notified before DRIVER_OK or while not ready: ignored", index);
      return false;
    }
  return true;
}

static void
deliver_notify (VivVirtioDevice *vdev, unsigned index)
{
  if (notify_allowed (vdev, index) && vdev->ops->queue_notify)
    vdev->ops->queue_notify (vdev->dev, index);
}

static gboolean
notify_idle_cb (gpointer data)
{
  VivVirtioQueue *q = data;
  VivVirtioDevice *vdev = q->vdev;
  g_rec_mutex_lock (&vdev->lock);
  /* A reset may have cancelled this source while we waited for the lock. */
  if (q->notify_idle == g_main_current_source ())
    {
      g_clear_pointer (&q->notify_idle, g_source_unref);
      deliver_notify (vdev, q->index);
    }
  g_rec_mutex_unlock (&vdev->lock);
  return G_SOURCE_REMOVE;
}

static void
cancel_notify (VivVirtioQueue *q)
{
  if (q->notify_idle)
    {
      g_source_destroy (q->notify_idle);
      g_clear_pointer (&q->notify_idle, g_source_unref);
    }
}

/* A QueueNotify register write (no VM, or a write KVM did not match):
 * the device runs on the I/O thread, never on the vCPU that kicked. */
static void
register_notify (VivVirtioDevice *vdev, uint32_t index)
{
  if (!notify_allowed (vdev, index))
    return;
  VivVirtioQueue *q = &vdev->queues[index];
  if (q->notify_idle)
    return;   /* one pending run sees every buffer added so far */
  q->notify_idle = g_idle_source_new ();
  g_source_set_priority (q->notify_idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (q->notify_idle, notify_idle_cb, q, queue_source_done);
  vdev_ref (vdev);
  g_source_attach (q->notify_idle, vdev->config.io_context);
}

static gboolean
kick_fd_ready (gint fd, GIOCondition condition, gpointer data)
{
  (void) condition;
  VivVirtioQueue *q = data;
  VivVirtioDevice *vdev = q->vdev;
  g_rec_mutex_lock (&vdev->lock);
  /* Under the lock, a current source means the fd is still open. */
  if (q->kick_source == g_main_current_source ())
    {
      uint64_t count;
      if (read (fd, &count, sizeof count) == sizeof count)
        deliver_notify (vdev, q->index);
    }
  g_rec_mutex_unlock (&vdev->lock);
  return G_SOURCE_CONTINUE;
}

/* ---- polling (kvm/iothread.h): the I/O thread looks at the avail ring
 * itself, and the driver need not kick. */

static bool
queue_pollable (VivVirtioQueue *q)
{
  VivVirtioDevice *vdev = q->vdev;
  return q->poller && q->ready && !vdev->destroyed
         && (vdev->status & VIRTIO_STATUS_DRIVER_OK) && !(vdev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static bool
queue_poll (void *data)
{
  VivVirtioQueue *q = data;
  VivVirtioDevice *vdev = q->vdev;
  bool progress = false;
  g_rec_mutex_lock (&vdev->lock);
  if (queue_pollable (q))
    {
      viv_virtqueue_set_polling (&q->vq, true);
      if (viv_virtqueue_has_available (&q->vq))
        {
          /* Progress is what the device took: buffers it leaves in the
           * ring must not keep the thread polling. */
          uint16_t before = q->vq.last_avail_idx;
          vdev->ops->queue_notify (vdev->dev, q->index);
          progress = q->vq.last_avail_idx != before;
        }
    }
  g_rec_mutex_unlock (&vdev->lock);
  return progress;
}

static void
queue_poll_end (void *data)
{
  VivVirtioQueue *q = data;
  VivVirtioDevice *vdev = q->vdev;
  g_rec_mutex_lock (&vdev->lock);
  if (q->poller)
    {
      viv_virtqueue_set_polling (&q->vq, false);
      /* Buffers added while kicks were off: take them through the kick
       * path, as if the driver had kicked. */
      if (queue_pollable (q) && viv_virtqueue_has_available (&q->vq))
        signal_eventfd (q->kick_fd);
    }
  g_rec_mutex_unlock (&vdev->lock);
}

static const VivIoPollerOps queue_poller_ops = {
  .poll = queue_poll,
  .end = queue_poll_end,
};

static void
stop_polling (VivVirtioQueue *q)
{
  g_clear_pointer (&q->poller, viv_io_poller_remove);
  viv_virtqueue_set_polling (&q->vq, false);
}

static gboolean
resample_fd_ready (gint fd, GIOCondition condition, gpointer data)
{
  (void) condition;
  VivVirtioDevice *vdev = data;
  g_rec_mutex_lock (&vdev->lock);
  if (vdev->resample_source == g_main_current_source ())
    {
      uint64_t count;
      if (read (fd, &count, sizeof count) == sizeof count && vdev->isr)
        signal_eventfd (vdev->irq_fd);
    }
  g_rec_mutex_unlock (&vdev->lock);
  return G_SOURCE_CONTINUE;
}

static void
resample_source_done (gpointer data)
{
  vdev_unref (data);
}

static GSource *
watch_fd (VivVirtioDevice *vdev, int fd, GUnixFDSourceFunc func, gpointer data, GDestroyNotify done)
{
  GSource *source = g_unix_fd_source_new (fd, G_IO_IN);
  g_source_set_callback (source, G_SOURCE_FUNC (func), data, done);
  /* Nothing on the I/O thread iterates its context from inside a
   * callback, so blocking the source during dispatch buys nothing and
   * costs two self-wake-ups per kick. */
  g_source_set_can_recurse (source, TRUE);
  vdev_ref (vdev);
  g_source_attach (source, vdev->config.io_context);
  return source;
}

static void
close_watch (GSource **source, int *fd)
{
  if (*source)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

static void
disconnect_vm (VivVirtioDevice *vdev)
{
  if (vdev->vm_fd < 0)
    return;
  /* The old VM may already be closed (reboot): deassignment then fails,
   * and closing our ends of the eventfds is all that is left to do. */
  VivVm vm = { .fd = vdev->vm_fd };
  for (unsigned i = 0; i < vdev->n_queues; i++)
    {
      VivVirtioQueue *q = &vdev->queues[i];
      if (q->kick_fd >= 0)
        viv_vm_ioeventfd (&vm, vdev->config.base + REG_QUEUE_NOTIFY, 4, i, q->kick_fd, false, NULL);
      stop_polling (q);
      close_watch (&q->kick_source, &q->kick_fd);
    }
  if (vdev->irq_fd >= 0)
    viv_vm_irqfd (&vm, vdev->config.gsi, vdev->irq_fd, vdev->resample_fd, false, NULL);
  close_watch (&vdev->resample_source, &vdev->resample_fd);
  if (vdev->irq_fd >= 0)
    close (vdev->irq_fd);
  vdev->irq_fd = -1;
  vdev->vm_fd = -1;
}

static int
new_eventfd (GError **error)
{
  int fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create an eventfd: %s", g_strerror (saved));
    }
  return fd;
}

static gboolean
connect_vm_locked (VivVirtioDevice *vdev, int vm_fd, GError **error)
{
  vdev->vm_fd = vm_fd;
  VivVm vm = { .fd = vm_fd };
  for (unsigned i = 0; i < vdev->n_queues; i++)
    {
      VivVirtioQueue *q = &vdev->queues[i];
      q->kick_fd = new_eventfd (error);
      if (q->kick_fd < 0)
        return FALSE;
      if (!viv_vm_ioeventfd (&vm, vdev->config.base + REG_QUEUE_NOTIFY, 4, i, q->kick_fd, true, error))
        {
          close (q->kick_fd);
          q->kick_fd = -1;
          return FALSE;
        }
      q->kick_source = watch_fd (vdev, q->kick_fd, kick_fd_ready, q, queue_source_done);
      if (vdev->ops->poll_queues)
        {
          vdev_ref (vdev);
          q->poller = viv_io_poller_add (vdev->config.io_context, &queue_poller_ops, q, queue_source_done);
          if (!q->poller)
            vdev_unref (vdev);
        }
    }

  vdev->irq_fd = new_eventfd (error);
  if (vdev->irq_fd < 0)
    return FALSE;
  vdev->resample_fd = new_eventfd (error);
  if (vdev->resample_fd < 0)
    return FALSE;
  if (!viv_vm_irqfd (&vm, vdev->config.gsi, vdev->irq_fd, vdev->resample_fd, true, error))
    {
      /* Nothing registered: keep disconnect_vm from deassigning it. */
      close (vdev->irq_fd);
      vdev->irq_fd = -1;
      return FALSE;
    }
  vdev->resample_source = watch_fd (vdev, vdev->resample_fd, resample_fd_ready, vdev, resample_source_done);
  update_irq (vdev);
  return TRUE;
}

gboolean
viv_virtio_mmio_connect_vm (VivVirtioDevice *vdev, int vm_fd, GError **error)
{
  g_rec_mutex_lock (&vdev->lock);
  disconnect_vm (vdev);
  gboolean ok = TRUE;
  if (vm_fd >= 0)
    {
      /* The IRQ line would now fight the irqfd over the same GSI. */
      if (vdev->line_level)
        {
          vdev->line_level = false;
          viv_irq_line_set (&vdev->config.irq, false);
        }
      ok = connect_vm_locked (vdev, vm_fd, error);
      if (!ok)
        {
          g_prefix_error (error, "%s: ", vdev->name);
          disconnect_vm (vdev);
        }
    }
  else
    update_irq (vdev);
  g_rec_mutex_unlock (&vdev->lock);
  return ok;
}

/* ---- status and features ---------------------------------------------- */

static uint64_t
offered_features (VivVirtioDevice *vdev)
{
  uint64_t features = TRANSPORT_FEATURES;
  if (vdev->ops && vdev->ops->get_features)
    features |= vdev->ops->get_features (vdev->dev);
  return features;
}

static void
reset_queue (VivVirtioQueue *q)
{
  cancel_notify (q);
  viv_virtqueue_reset (&q->vq);
  q->ready = false;
  q->num = q->vdev->ops->queue_size_max;
  q->desc = q->driver = q->device = 0;
}

static void
device_reset (VivVirtioDevice *vdev)
{
  if (vdev->ops && vdev->ops->reset)
    vdev->ops->reset (vdev->dev);
  for (unsigned i = 0; i < vdev->n_queues; i++)
    reset_queue (&vdev->queues[i]);
  vdev->status = 0;
  vdev->isr = 0;
  vdev->features = vdev->driver_features = 0;
  vdev->device_features_sel = vdev->driver_features_sel = 0;
  vdev->queue_sel = vdev->shm_sel = 0;
  update_irq (vdev);
}

static bool
negotiate (VivVirtioDevice *vdev)
{
  uint64_t offered = offered_features (vdev);
  uint64_t wanted = vdev->driver_features;
  if (!(wanted & (UINT64_C (1) << VIRTIO_F_VERSION_1)))
    {
      guest_problem (vdev, WARN_NEGOTIATION,
                     "the driver did not accept VIRTIO_F_VERSION_1 (a legacy driver?): FEATURES_OK refused");
      return false;
    }
  if (wanted & ~offered)
    {
      guest_problem (vdev, WARN_NEGOTIATION,
                     "the driver accepted features 0x%" G_GINT64_MODIFIER "x that were not offered: "
                     "FEATURES_OK refused", wanted & ~offered);
      return false;
    }
  if (vdev->ops && vdev->ops->set_features && !vdev->ops->set_features (vdev->dev, wanted))
    return false;
  vdev->features = wanted;
  return true;
}

static void
write_status (VivVirtioDevice *vdev, uint32_t value)
{
  if (value == 0)
    {
      device_reset (vdev);
      return;
    }
  /* Bits stay set until a reset; NEEDS_RESET is the device's to set. */
  uint32_t added = value & ~vdev->status & ~(uint32_t) VIRTIO_STATUS_NEEDS_RESET;
  if ((added & VIRTIO_STATUS_FEATURES_OK) && !negotiate (vdev))
    added &= ~(uint32_t) VIRTIO_STATUS_FEATURES_OK;
  if ((added & VIRTIO_STATUS_DRIVER_OK) && !((vdev->status | added) & VIRTIO_STATUS_FEATURES_OK))
    {
      guest_problem (vdev, WARN_ORDER, "DRIVER_OK without FEATURES_OK: ignored");
      added &= ~(uint32_t) VIRTIO_STATUS_DRIVER_OK;
    }
  vdev->status |= added;
  if ((added & VIRTIO_STATUS_DRIVER_OK) && !(vdev->status & VIRTIO_STATUS_NEEDS_RESET)
      && vdev->ops && vdev->ops->activate)
    vdev->ops->activate (vdev->dev);
}

/* ---- queue registers --------------------------------------------------- */

static VivVirtioQueue *
selected_queue (VivVirtioDevice *vdev)
{
  return vdev->queue_sel < vdev->n_queues ? &vdev->queues[vdev->queue_sel] : NULL;
}

/* §4.2.2: queue layout registers may change only while the queue is not
 * ready, and (without VIRTIO_F_RING_RESET, not offered) before DRIVER_OK. */
static VivVirtioQueue *
writable_queue (VivVirtioDevice *vdev)
{
  VivVirtioQueue *q = selected_queue (vdev);
  if (!q)
    {
      guest_problem (vdev, WARN_BAD_QUEUE, "queue %u does not exist: register write ignored", vdev->queue_sel);
      return NULL;
    }
  if (q->ready || (vdev->status & VIRTIO_STATUS_DRIVER_OK))
    {
      guest_problem (vdev, WARN_QUEUE_LOCKED, "queue %u is in use: register write ignored", q->index);
      return NULL;
    }
  return q;
}

static void
set_half (uint64_t *value, bool high, uint32_t half)
{
  if (high)
    *value = (*value & UINT32_MAX) | ((uint64_t) half << 32);
  else
    *value = (*value & ~(uint64_t) UINT32_MAX) | half;
}

static void
write_queue_ready (VivVirtioDevice *vdev, uint32_t value)
{
  VivVirtioQueue *q = selected_queue (vdev);
  if (!q)
    {
      guest_problem (vdev, WARN_BAD_QUEUE, "queue %u does not exist: QueueReady ignored", vdev->queue_sel);
      return;
    }
  if (value == 0)
    {
      if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
        guest_problem (vdev, WARN_QUEUE_LOCKED, "queue %u cannot be stopped after DRIVER_OK: ignored", q->index);
      else
        {
          cancel_notify (q);
          viv_virtqueue_reset (&q->vq);
          q->ready = false;
        }
      return;
    }
  if (q->ready || (vdev->status & VIRTIO_STATUS_NEEDS_RESET))
    return;
  if (!(vdev->status & VIRTIO_STATUS_FEATURES_OK) || (vdev->status & VIRTIO_STATUS_DRIVER_OK))
    {
      guest_problem (vdev, WARN_ORDER, "queue %u enabled before FEATURES_OK or after DRIVER_OK: ignored",
                     q->index);
      return;
    }
  char why[200];
  if (q->num > vdev->ops->queue_size_max)
    {
      g_snprintf (why, sizeof why, "queue %u: size %u is larger than the maximum %u",
                  q->index, q->num, vdev->ops->queue_size_max);
      fail_device (vdev, why);
      return;
    }
  if (!viv_virtqueue_setup (&q->vq, vdev->config.mem, (uint16_t) q->num, q->desc, q->driver, q->device,
                            vdev->features & (UINT64_C (1) << VIRTIO_F_RING_EVENT_IDX),
                            vdev->features & (UINT64_C (1) << VIRTIO_F_RING_INDIRECT_DESC)))
    {
      g_snprintf (why, sizeof why, "queue %u: %s", q->index, q->vq.error);
      fail_device (vdev, why);
      return;
    }
  q->ready = true;
}

/* ---- the register file -------------------------------------------------- */

static uint32_t
read_register (VivVirtioDevice *vdev, uint64_t offset)
{
  VivVirtioQueue *q = selected_queue (vdev);
  switch (offset)
    {
    case REG_MAGIC:            return MMIO_MAGIC;
    case REG_VERSION:          return MMIO_VERSION;
    case REG_DEVICE_ID:        return vdev->ops ? vdev->ops->device_id : 0;
    case REG_VENDOR_ID:        return MMIO_VENDOR;
    case REG_DEVICE_FEATURES:
      if (vdev->device_features_sel > 1)
        return 0;
      return (uint32_t) (offered_features (vdev) >> (32 * vdev->device_features_sel));
    case REG_QUEUE_NUM_MAX:    return q ? vdev->ops->queue_size_max : 0;
    case REG_QUEUE_READY:      return q ? q->ready : 0;
    case REG_INTERRUPT_STATUS: return vdev->isr;
    case REG_STATUS:           return vdev->status;
    /* No shared memory regions: a length of all ones says "absent". */
    case REG_SHM_LEN_LOW:
    case REG_SHM_LEN_HIGH:     return UINT32_MAX;
    case REG_CONFIG_GENERATION: return vdev->config_generation;
    default:                   return 0;   /* write-only or reserved */
    }
}

static void
write_register (VivVirtioDevice *vdev, uint64_t offset, uint32_t value)
{
  VivVirtioQueue *q;
  switch (offset)
    {
    case REG_DEVICE_FEATURES_SEL: vdev->device_features_sel = value; break;
    case REG_DRIVER_FEATURES_SEL: vdev->driver_features_sel = value; break;
    case REG_DRIVER_FEATURES:
      if (vdev->status & VIRTIO_STATUS_FEATURES_OK)
        guest_problem (vdev, WARN_ORDER, "driver features written after FEATURES_OK: ignored");
      else if (vdev->driver_features_sel <= 1)
        set_half (&vdev->driver_features, vdev->driver_features_sel == 1, value);
      break;
    case REG_QUEUE_SEL:           vdev->queue_sel = value; break;
    case REG_QUEUE_NUM:
      if ((q = writable_queue (vdev)))
        q->num = value;
      break;
    case REG_QUEUE_READY:         write_queue_ready (vdev, value); break;
    case REG_QUEUE_NOTIFY:        register_notify (vdev, value); break;
    case REG_INTERRUPT_ACK:
      vdev->isr &= ~value;
      update_irq (vdev);
      break;
    case REG_STATUS:              write_status (vdev, value); break;
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:
      if ((q = writable_queue (vdev)))
        set_half (&q->desc, offset == REG_QUEUE_DESC_HIGH, value);
      break;
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH:
      if ((q = writable_queue (vdev)))
        set_half (&q->driver, offset == REG_QUEUE_DRIVER_HIGH, value);
      break;
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH:
      if ((q = writable_queue (vdev)))
        set_half (&q->device, offset == REG_QUEUE_DEVICE_HIGH, value);
      break;
    case REG_SHM_SEL:             vdev->shm_sel = value; break;
    default:                      break;   /* read-only or reserved */
    }
}

static bool
config_in_range (VivVirtioDevice *vdev, uint64_t offset, unsigned size)
{
  return vdev->ops && offset <= vdev->ops->config_size && size <= vdev->ops->config_size - offset;
}

static bool
register_access_ok (VivVirtioDevice *vdev, uint64_t offset, unsigned size)
{
  if (size == 4 && offset % 4 == 0)
    return true;
  guest_problem (vdev, WARN_ACCESS_WIDTH,
                 "%u-byte access at register offset 0x%" G_GINT64_MODIFIER "x: registers take "
                 "aligned 32-bit accesses only; ignored", size, offset);
  return false;
}

static void
mmio_read (void *opaque, uint64_t offset, void *data, unsigned size)
{
  VivVirtioDevice *vdev = opaque;
  memset (data, 0, size);
  g_rec_mutex_lock (&vdev->lock);
  if (offset >= REG_CONFIG)
    {
      uint64_t at = offset - REG_CONFIG;
      if (config_in_range (vdev, at, size) && vdev->ops->read_config)
        vdev->ops->read_config (vdev->dev, (uint32_t) at, data, size);
    }
  else if (register_access_ok (vdev, offset, size))
    {
      uint32_t value = GUINT32_TO_LE (read_register (vdev, offset));
      memcpy (data, &value, 4);
    }
  g_rec_mutex_unlock (&vdev->lock);
}

static void
mmio_write (void *opaque, uint64_t offset, const void *data, unsigned size)
{
  VivVirtioDevice *vdev = opaque;
  g_rec_mutex_lock (&vdev->lock);
  if (offset >= REG_CONFIG)
    {
      uint64_t at = offset - REG_CONFIG;
      if (config_in_range (vdev, at, size) && vdev->ops->write_config)
        vdev->ops->write_config (vdev->dev, (uint32_t) at, data, size);
    }
  else if (register_access_ok (vdev, offset, size))
    {
      uint32_t value;
      memcpy (&value, data, 4);
      write_register (vdev, offset, GUINT32_FROM_LE (value));
    }
  g_rec_mutex_unlock (&vdev->lock);
}

const VivDeviceOps *
viv_virtio_mmio_ops (void)
{
  static const VivDeviceOps ops = {
    .name = "virtio-mmio",
    .read = mmio_read,
    .write = mmio_write,
  };
  return &ops;
}

/* ---- life cycle and services --------------------------------------------- */

VivVirtioDevice *
viv_virtio_mmio_new (const VivVirtioMmioConfig *config)
{
  VivVirtioDevice *vdev = g_new0 (VivVirtioDevice, 1);
  g_rec_mutex_init (&vdev->lock);
  vdev->refcount = 1;
  vdev->config = *config;
  vdev->config.io_context = g_main_context_ref (config->io_context ? config->io_context
                                                                   : g_main_context_default ());
  vdev->name = g_strdup_printf ("virtio@0x%" G_GINT64_MODIFIER "x", config->base);
  vdev->vm_fd = vdev->irq_fd = vdev->resample_fd = -1;
  return vdev;
}

void
viv_virtio_device_bind (VivVirtioDevice *vdev, const VivVirtioDeviceOps *ops, void *dev)
{
  g_return_if_fail (vdev->ops == NULL);
  g_return_if_fail (vdev->vm_fd < 0);   /* the ioeventfds are per queue: bind first */
  g_return_if_fail (ops->queue_size_max > 0 && ops->queue_size_max <= 32768
                    && (ops->queue_size_max & (ops->queue_size_max - 1)) == 0);
  g_rec_mutex_lock (&vdev->lock);
  vdev->ops = ops;
  vdev->dev = dev;
  vdev->n_queues = ops->n_queues;
  vdev->queues = g_new0 (VivVirtioQueue, ops->n_queues);
  for (unsigned i = 0; i < ops->n_queues; i++)
    {
      VivVirtioQueue *q = &vdev->queues[i];
      q->vdev = vdev;
      q->index = i;
      q->kick_fd = -1;
      reset_queue (q);
    }
  g_free (vdev->name);
  vdev->name = g_strdup_printf ("%s@0x%" G_GINT64_MODIFIER "x", ops->name, vdev->config.base);
  g_rec_mutex_unlock (&vdev->lock);
}

void
viv_virtio_mmio_free (VivVirtioDevice *vdev)
{
  if (!vdev)
    return;
  g_rec_mutex_lock (&vdev->lock);
  disconnect_vm (vdev);
  for (unsigned i = 0; i < vdev->n_queues; i++)
    cancel_notify (&vdev->queues[i]);
  if (vdev->ops && vdev->ops->destroy)
    vdev->ops->destroy (vdev->dev);
  vdev->destroyed = true;
  g_rec_mutex_unlock (&vdev->lock);
  vdev_unref (vdev);
}

void
viv_virtio_mmio_reset (VivVirtioDevice *vdev)
{
  g_rec_mutex_lock (&vdev->lock);
  device_reset (vdev);
  vdev->config_generation = 0;
  g_rec_mutex_unlock (&vdev->lock);
}

VivVirtqueue *
viv_virtio_device_queue (VivVirtioDevice *vdev, unsigned index)
{
  return index < vdev->n_queues ? &vdev->queues[index].vq : NULL;
}

const VivGuestMemory *
viv_virtio_device_memory (VivVirtioDevice *vdev)
{
  return vdev->config.mem;
}

GMainContext *
viv_virtio_device_context (VivVirtioDevice *vdev)
{
  return vdev->config.io_context;
}

uint64_t
viv_virtio_device_features (VivVirtioDevice *vdev)
{
  g_rec_mutex_lock (&vdev->lock);
  uint64_t features = vdev->features;
  g_rec_mutex_unlock (&vdev->lock);
  return features;
}

void
viv_virtio_device_lock (VivVirtioDevice *vdev)
{
  g_rec_mutex_lock (&vdev->lock);
}

void
viv_virtio_device_unlock (VivVirtioDevice *vdev)
{
  g_rec_mutex_unlock (&vdev->lock);
}

void
viv_virtio_device_notify_used (VivVirtioDevice *vdev, unsigned index)
{
  g_rec_mutex_lock (&vdev->lock);
  if (!vdev->destroyed && index < vdev->n_queues && vdev->queues[index].ready
      && viv_virtqueue_should_interrupt (&vdev->queues[index].vq))
    raise_interrupt (vdev, INT_USED_BUFFER);
  g_rec_mutex_unlock (&vdev->lock);
}

void
viv_virtio_device_config_changed (VivVirtioDevice *vdev)
{
  g_rec_mutex_lock (&vdev->lock);
  vdev->config_generation++;
  if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
    raise_interrupt (vdev, INT_CONFIG);
  g_rec_mutex_unlock (&vdev->lock);
}

void
viv_virtio_device_needs_reset (VivVirtioDevice *vdev, const char *why)
{
  g_rec_mutex_lock (&vdev->lock);
  fail_device (vdev, why);
  g_rec_mutex_unlock (&vdev->lock);
}

void *
viv_virtio_device_get_bound (VivVirtioDevice *vdev, uint32_t device_id)
{
  g_rec_mutex_lock (&vdev->lock);
  void *dev = vdev->ops && vdev->ops->device_id == device_id ? vdev->dev : NULL;
  g_rec_mutex_unlock (&vdev->lock);
  return dev;
}
