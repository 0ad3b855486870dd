/* virtio-mmio discovery and the transport side of a driver: devices come
 * from "virtio_mmio.device=SIZE@BASE:IRQ" words on the command line (the
 * form Linux parses, e.g. 4K@0xd0000000:16 or 512@0xfeb00e00:12), the
 * status sequence of virtio 1.2 §3.1.1, features, config space, and the
 * IOAPIC route in interrupt mode. */
#include "virtio.h"

VirtioOptions virtio_options;
static VirtioDev devices[VIRTIO_MAX_DEVICES];
static unsigned n_devices;

/* A decimal or 0x-hex number, with an optional K/M/G suffix if `sized`. */
static bool
parse_number (const char **p, bool sized, uint64_t *out)
{
  const char *s = *p;
  uint64_t v = 0;
  unsigned base = 10, digits = 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    base = 16, s += 2;
  for (;; s++, digits++)
    {
      unsigned d;
      if (*s >= '0' && *s <= '9')
        d = (unsigned) (*s - '0');
      else if (base == 16 && *s >= 'a' && *s <= 'f')
        d = (unsigned) (*s - 'a' + 10);
      else if (base == 16 && *s >= 'A' && *s <= 'F')
        d = (unsigned) (*s - 'A' + 10);
      else
        break;
      if (v > (UINT64_MAX - d) / base)
        return false;
      v = v * base + d;
    }
  if (!digits)
    return false;
  if (sized && (*s == 'K' || *s == 'k'))
    v <<= 10, s++;
  else if (sized && (*s == 'M' || *s == 'm'))
    v <<= 20, s++;
  else if (sized && (*s == 'G' || *s == 'g'))
    v <<= 30, s++;
  *p = s;
  *out = v;
  return true;
}

/* One "SIZE@BASE:IRQ[:ID]" value; false if malformed or out of range. */
static bool
parse_device (const char *s, VirtioDev *d)
{
  uint64_t irq;
  if (!parse_number (&s, true, &d->size) || *s++ != '@'
      || !parse_number (&s, false, &d->base) || *s++ != ':'
      || !parse_number (&s, false, &irq))
    return false;
  if (*s && *s != ' ' && *s != ':')
    return false;
  d->irq = (uint32_t) irq;
  /* The registers must lie in the identity-mapped, uncached 3-4 GiB. */
  return irq < 256 && d->size >= 0x100 && d->base >= 3 * GiB && in_low_4g (d->base, d->size);
}

uint32_t
virtio_read (const VirtioDev *d, uint32_t reg)
{
  return mmio_read32 (d->base + reg);
}

void
virtio_write (const VirtioDev *d, uint32_t reg, uint32_t value)
{
  mmio_write32 (d->base + reg, value);
}

uint32_t
virtio_status (const VirtioDev *d)
{
  return virtio_read (d, VIRTIO_MMIO_STATUS);
}

static uint64_t
read_device_features (const VirtioDev *d)
{
  virtio_write (d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  uint64_t high = virtio_read (d, VIRTIO_MMIO_DEVICE_FEATURES);
  virtio_write (d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  return high << 32 | virtio_read (d, VIRTIO_MMIO_DEVICE_FEATURES);
}

unsigned
virtio_discover (void)
{
  static bool done;
  if (done)
    return n_devices;
  done = true;
  virtio_options.irq = cmdline_u64 ("probe.virtio_irq", 0) != 0;
  virtio_options.event_idx = cmdline_u64 ("probe.virtio_event_idx", 0) != 0;
  virtio_options.indirect = cmdline_u64 ("probe.virtio_indirect", 0) != 0;
  tsc_hz ();              /* its one-shot timer must come before any periodic one */

  static const char key[] = "virtio_mmio.device=";
  const char *cmdline = cmdline_get ();
  for (const char *p = cmdline; *p; p++)
    {
      if ((p != cmdline && p[-1] != ' ') || memcmp (p, key, sizeof key - 1) != 0)
        continue;
      VirtioDev d = { .index = n_devices };
      if (!parse_device (p + sizeof key - 1, &d))
        {
          probe_printf ("PROBE virtio error=bad-device-option at=%lu\r\n", (uint64_t) (p - cmdline));
          continue;
        }
      if (n_devices == VIRTIO_MAX_DEVICES)
        {
          probe_printf ("PROBE virtio error=too-many-devices max=%u\r\n", VIRTIO_MAX_DEVICES);
          break;
        }
      if (virtio_read (&d, VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE)
        {
          probe_printf ("PROBE virtio error=bad-magic base=0x%lx\r\n", d.base);
          continue;
        }
      d.version = virtio_read (&d, VIRTIO_MMIO_VERSION);
      d.device_id = virtio_read (&d, VIRTIO_MMIO_DEVICE_ID);
      d.vendor_id = virtio_read (&d, VIRTIO_MMIO_VENDOR_ID);
      if (d.device_id == 0)             /* a transport with no device behind it */
        continue;
      d.device_features = read_device_features (&d);
      d.irq_mode = virtio_options.irq;
      devices[n_devices++] = d;
    }
  return n_devices;
}

VirtioDev *
virtio_device (unsigned index)
{
  return index < n_devices ? &devices[index] : NULL;
}

VirtioDev *
virtio_find (uint32_t device_id, const char *what)
{
  virtio_discover ();
  for (unsigned i = 0; i < n_devices; i++)
    if (devices[i].device_id == device_id)
      return &devices[i];
  probe_printf ("PROBE %s error=no-device (id %u not among %u virtio devices)\r\n",
                what, device_id, n_devices);
  return NULL;
}

/* Config space reads, retried while ConfigGeneration moves (§4.2.2.1). */
uint8_t
virtio_config8 (const VirtioDev *d, uint32_t offset)
{
  return *(volatile uint8_t *) (uintptr_t) (d->base + VIRTIO_MMIO_CONFIG + offset);
}

uint16_t
virtio_config16 (const VirtioDev *d, uint32_t offset)
{
  return *(volatile uint16_t *) (uintptr_t) (d->base + VIRTIO_MMIO_CONFIG + offset);
}

uint32_t
virtio_config32 (const VirtioDev *d, uint32_t offset)
{
  return mmio_read32 (d->base + VIRTIO_MMIO_CONFIG + offset);
}

uint64_t
virtio_config64 (const VirtioDev *d, uint32_t offset)
{
  uint32_t gen, low, high;
  do
    {
      gen = virtio_read (d, VIRTIO_MMIO_CONFIG_GENERATION);
      low = virtio_config32 (d, offset);
      high = virtio_config32 (d, offset + 4);
    }
  while (gen != virtio_read (d, VIRTIO_MMIO_CONFIG_GENERATION));
  return (uint64_t) high << 32 | low;
}

void
virtio_config_write32 (const VirtioDev *d, uint32_t offset, uint32_t value)
{
  mmio_write32 (d->base + VIRTIO_MMIO_CONFIG + offset, value);
}

bool
virtio_begin (VirtioDev *d, uint64_t wanted)
{
  if (d->version != 2)
    {
      probe_printf ("PROBE virtio error=version-%u dev=%u (a modern, version 2 device is needed)\r\n",
                    d->version, d->index);
      return false;
    }
  virtio_write (d, VIRTIO_MMIO_STATUS, 0);
  for (unsigned i = 0; virtio_status (d) != 0; i++)
    if (i > 1000000)
      {
        probe_printf ("PROBE virtio error=reset-timeout dev=%u\r\n", d->index);
        return false;
      }
  virtio_write (d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
  virtio_write (d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  d->device_features = read_device_features (d);
  wanted |= FEATURE (VIRTIO_F_VERSION_1);
  if (virtio_options.event_idx)
    wanted |= FEATURE (VIRTIO_F_RING_EVENT_IDX);
  if (virtio_options.indirect)
    wanted |= FEATURE (VIRTIO_F_RING_INDIRECT_DESC);
  d->features = wanted & d->device_features;
  if (!(d->features & FEATURE (VIRTIO_F_VERSION_1)))
    {
      probe_printf ("PROBE virtio error=no-version-1 dev=%u\r\n", d->index);
      virtio_write (d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_FAILED);
      return false;
    }
  virtio_write (d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  virtio_write (d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) d->features);
  virtio_write (d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  virtio_write (d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) (d->features >> 32));
  virtio_write (d, VIRTIO_MMIO_STATUS,
                VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
  if (!(virtio_status (d) & VIRTIO_STATUS_FEATURES_OK))
    {
      probe_printf ("PROBE virtio error=features-refused dev=%u features=0x%lx\r\n",
                    d->index, d->features);
      virtio_write (d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_FAILED);
      return false;
    }
  return true;
}

void
virtio_driver_ok (VirtioDev *d)
{
  if (d->irq_mode && d->index < VIRTIO_IRQ_SLOTS)
    {
      static bool timer_started;
      virtio_irq_mmio[d->index] = d->base;
      if (!ioapic_route (d->irq, (uint8_t) (VEC_VIRTIO_FIRST + d->index), false, true, lapic_id ()))
        probe_printf ("PROBE virtio error=no-ioapic-pin gsi=%u\r\n", d->irq);
      if (!timer_started)
        lapic_timer_periodic (4000);      /* bounds every interrupt wait */
      timer_started = true;
    }
  virtio_write (d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER
                | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

uint32_t
virtio_take_isr (VirtioDev *d)
{
  if (!d->irq_mode)
    {
      /* Polling: read and acknowledge here, as the interrupt entry would. */
      uint32_t isr = virtio_read (d, VIRTIO_MMIO_INTERRUPT_STATUS);
      if (isr)
        virtio_write (d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
      return isr;
    }
  if (d->index >= VIRTIO_IRQ_SLOTS)
    return 0;
  return __atomic_exchange_n (&virtio_irq_isr[d->index], 0, __ATOMIC_SEQ_CST);
}

uint64_t
virtio_idle_begin (void)
{
  return irq_total;
}

void
virtio_idle (uint64_t seen)
{
  if (virtio_options.irq)
    sys_wait (&irq_total, seen);
  else
    cpu_relax ();
}

/* probe.mode=virtio-list */
void
virtio_list_mode (void)
{
  unsigned n = virtio_discover ();
  for (unsigned i = 0; i < n; i++)
    {
      const VirtioDev *d = &devices[i];
      probe_printf ("PROBE virtio dev=%u id=%u base=0x%lx irq=%u version=%u features=0x%lx\r\n",
                    d->index, d->device_id, d->base, d->irq, d->version, d->device_features);
    }
  probe_printf ("PROBE virtio count=%u\r\n", n);
}

void
virtio_report_interrupts (void)
{
  if (!virtio_options.irq)
    return;
  uint64_t n = 0;
  for (unsigned i = 0; i < VIRTIO_IRQ_SLOTS; i++)
    n += irq_counts[VEC_VIRTIO_FIRST + i];
  probe_printf ("PROBE virtio interrupts=%lu\r\n", n);
}
