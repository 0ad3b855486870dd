/* Guest RAM: one reservation, split around the MMIO hole below 4 GiB. */
#include "kvm/memory.h"
#include "layout.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

gboolean
viv_guest_memory_init (VivGuestMemory *mem, uint64_t ram_size, GError **error)
{
  memset (mem, 0, sizeof *mem);

  /* MAP_NORESERVE: guest RAM is backed only when touched, so large guests
   * over-commit the host the way a real hypervisor does. */
  void *base = mmap (NULL, ram_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot reserve %" G_GUINT64_FORMAT " MiB of guest memory: %s; "
                   "give the VM less memory",
                   ram_size / VIV_MiB, g_strerror (saved));
      return FALSE;
    }
  /* Huge pages cut EPT/NPT walks for large guests; a hint only. */
  madvise (base, ram_size, MADV_HUGEPAGE);

  mem->base = base;
  mem->ram_size = ram_size;

  uint64_t low = MIN (ram_size, VIV_MMIO_HOLE_START);
  mem->slots[0] = (VivMemSlot) { .gpa = 0, .size = low, .hva = base };
  mem->n_slots = 1;
  if (ram_size > low)
    {
      mem->slots[1] = (VivMemSlot) {
        .gpa = VIV_MMIO_HOLE_END, .size = ram_size - low, .hva = mem->base + low,
      };
      mem->n_slots = 2;
    }
  return TRUE;
}

void
viv_guest_memory_clear (VivGuestMemory *mem)
{
  if (mem->base)
    munmap (mem->base, mem->ram_size);
  memset (mem, 0, sizeof *mem);
}

void *
viv_guest_memory_ptr (const VivGuestMemory *mem, uint64_t gpa, uint64_t len)
{
  for (unsigned i = 0; i < mem->n_slots; i++)
    {
      const VivMemSlot *slot = &mem->slots[i];
      /* Written so that no sum can overflow: gpa and len come from guests. */
      if (gpa >= slot->gpa && gpa - slot->gpa <= slot->size
          && len <= slot->size - (gpa - slot->gpa))
        return slot->hva + (gpa - slot->gpa);
    }
  return NULL;
}

bool
viv_guest_memory_write (const VivGuestMemory *mem, uint64_t gpa, const void *src, size_t len)
{
  void *dst = viv_guest_memory_ptr (mem, gpa, len);
  if (!dst)
    return false;
  memcpy (dst, src, len);
  return true;
}

bool
viv_guest_memory_read (const VivGuestMemory *mem, uint64_t gpa, void *dst, size_t len)
{
  const void *src = viv_guest_memory_ptr (mem, gpa, len);
  if (!src)
    return false;
  memcpy (dst, src, len);
  return true;
}

uint64_t
viv_guest_memory_low_end (const VivGuestMemory *mem)
{
  return mem->slots[0].size;
}
