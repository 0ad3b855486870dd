/* Guest RAM: one anonymous MAP_NORESERVE mapping split into a low slot
 * (below the MMIO hole) and, for large guests, a high slot at 4 GiB. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <gio/gio.h>

#define VIV_MAX_MEM_SLOTS 2

typedef struct VivMemSlot {
  uint64_t gpa;
  uint64_t size;
  uint8_t *hva;
} VivMemSlot;

typedef struct VivGuestMemory {
  uint8_t   *base;        /* the whole mapping, ram_size bytes */
  uint64_t   ram_size;
  VivMemSlot slots[VIV_MAX_MEM_SLOTS];
  unsigned   n_slots;
} VivGuestMemory;

/* Maps ram_size bytes; fails with a message naming the size if the host
 * cannot reserve the address space. */
gboolean viv_guest_memory_init  (VivGuestMemory *mem, uint64_t ram_size, GError **error);
void     viv_guest_memory_clear (VivGuestMemory *mem);

/* Host pointer for [gpa, gpa+len) if the whole range is RAM within one slot,
 * else NULL.  Every guest-supplied address goes through here. */
void    *viv_guest_memory_ptr   (const VivGuestMemory *mem, uint64_t gpa, uint64_t len);

/* Bounded copies; false if any byte of the range is not RAM. */
bool     viv_guest_memory_write (const VivGuestMemory *mem, uint64_t gpa, const void *src, size_t len);
bool     viv_guest_memory_read  (const VivGuestMemory *mem, uint64_t gpa, void *dst, size_t len);

/* End of low RAM (exclusive): min(ram_size, hole start). */
uint64_t viv_guest_memory_low_end (const VivGuestMemory *mem);
