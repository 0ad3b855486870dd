/* Address-range bus: a sorted array of non-overlapping ranges.
 *
 * All registration happens while the machine is built, before any vCPU
 * thread exists; after that the array never changes, so the lookups done on
 * every port-I/O or MMIO exit read it without a lock.  Registering while
 * vCPUs run is not supported (the array may move when it grows). */
#include "devices/bus.h"

#include <string.h>
#include <gio/gio.h>

typedef struct {
  uint64_t base;
  uint64_t len;
  const VivDeviceOps *ops;
  void *opaque;
} BusRange;

struct VivBus {
  char *name;
  GArray *ranges;   /* BusRange, sorted by base, never overlapping */
};

VivBus *
viv_bus_new (const char *name)
{
  VivBus *bus = g_new0 (VivBus, 1);
  bus->name = g_strdup (name ? name : "bus");
  bus->ranges = g_array_new (FALSE, FALSE, sizeof (BusRange));
  return bus;
}

void
viv_bus_free (VivBus *bus)
{
  if (!bus)
    return;
  g_array_unref (bus->ranges);
  g_free (bus->name);
  g_free (bus);
}

/* Index of the first range whose base is greater than addr. */
static guint
bus_upper_bound (const VivBus *bus, uint64_t addr)
{
  guint lo = 0, hi = bus->ranges->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (g_array_index (bus->ranges, BusRange, mid).base <= addr)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* The last byte of a range; ranges are checked not to wrap past 2^64. */
static uint64_t
range_last (const BusRange *r)
{
  return r->base + (r->len - 1);
}

gboolean
viv_bus_register (VivBus *bus, uint64_t base, uint64_t len,
                  const VivDeviceOps *ops, void *opaque, GError **error)
{
  g_return_val_if_fail (bus != NULL, FALSE);
  g_return_val_if_fail (ops != NULL && ops->name != NULL, FALSE);

  if (len == 0 || base + (len - 1) < base)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: cannot register %s at 0x%" G_GINT64_MODIFIER "x with length 0x%"
                   G_GINT64_MODIFIER "x: the range is empty or runs past the end of the address space",
                   bus->name, ops->name, (guint64) base, (guint64) len);
      return FALSE;
    }

  BusRange range = { base, len, ops, opaque };
  guint pos = bus_upper_bound (bus, base);
  /* Only the neighbours can overlap: the one before (it may reach into the
   * new range) and the one after (the new range may reach into it). */
  const BusRange *clash = NULL;
  if (pos > 0)
    {
      const BusRange *prev = &g_array_index (bus->ranges, BusRange, pos - 1);
      if (range_last (prev) >= base)
        clash = prev;
    }
  if (!clash && pos < bus->ranges->len)
    {
      const BusRange *next = &g_array_index (bus->ranges, BusRange, pos);
      if (next->base <= range_last (&range))
        clash = next;
    }
  if (clash)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s: %s at 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x overlaps "
                   "%s at 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x; "
                   "give the devices distinct addresses",
                   bus->name, ops->name, (guint64) base, (guint64) range_last (&range),
                   clash->ops->name, (guint64) clash->base, (guint64) range_last (clash));
      return FALSE;
    }

  g_array_insert_val (bus->ranges, pos, range);
  return TRUE;
}

/* The range holding the whole access [addr, addr+size), or NULL.  An access
 * that straddles the end of a range is refused, so a device only ever sees
 * offset + size <= its registered length. */
static const BusRange *
bus_find (const VivBus *bus, uint64_t addr, unsigned size)
{
  if (size == 0 || size > 8)
    return NULL;
  guint pos = bus_upper_bound (bus, addr);
  if (pos == 0)
    return NULL;
  const BusRange *r = &g_array_index (bus->ranges, BusRange, pos - 1);
  uint64_t offset = addr - r->base;
  if (offset >= r->len || r->len - offset < size)
    return NULL;
  return r;
}

bool
viv_bus_read (VivBus *bus, uint64_t addr, void *data, unsigned size)
{
  const BusRange *r = bus_find (bus, addr, size);
  if (!r || !r->ops->read)
    {
      if (size <= 8)
        memset (data, 0xff, size);
      return r != NULL;
    }
  r->ops->read (r->opaque, addr - r->base, data, size);
  return true;
}

bool
viv_bus_write (VivBus *bus, uint64_t addr, const void *data, unsigned size)
{
  const BusRange *r = bus_find (bus, addr, size);
  if (!r)
    return false;
  if (r->ops->write)
    r->ops->write (r->opaque, addr - r->base, data, size);
  return true;
}
