/* The guest memory map, as both the e820 table (bzImage) and the PVH
 * memmap describe it.  The legacy holes below 1 MiB stay reserved because
 * the MP table (EBDA) and the ACPI tables (BIOS area) live there. */
#include "boot/tables.h"
#include "layout.h"

static void
add (VivE820Entry *out, unsigned *n, uint64_t start, uint64_t end, uint32_t type)
{
  g_assert (*n < VIV_E820_MAX_ENTRIES);
  if (end <= start)
    return;
  out[*n] = (VivE820Entry) { .addr = start, .size = end - start, .type = type };
  (*n)++;
}

unsigned
viv_e820_build (const VivGuestMemory *mem, VivE820Entry out[VIV_E820_MAX_ENTRIES])
{
  uint64_t low_end = viv_guest_memory_low_end (mem);
  unsigned n = 0;

  add (out, &n, 0, MIN (VIV_EBDA_START, low_end), VIV_E820_RAM);
  add (out, &n, VIV_EBDA_START, 0xA0000, VIV_E820_RESERVED);
  add (out, &n, VIV_BIOS_AREA_START, VIV_BIOS_AREA_END, VIV_E820_RESERVED);
  add (out, &n, VIV_HIGH_MEMORY_START, low_end, VIV_E820_RAM);
  if (mem->n_slots > 1)
    add (out, &n, mem->slots[1].gpa, mem->slots[1].gpa + mem->slots[1].size,
         VIV_E820_RAM);
  return n;
}
