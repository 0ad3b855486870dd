/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry:
 * the protected-mode kernel goes to 1 MiB, struct boot_params (the "zero
 * page") carries the setup header, command line, initrd and e820 map, and
 * the CPU starts in long mode at load address + 0x200 with an identity
 * map, the boot GDT and RSI pointing at boot_params. */
#include "boot/loader.h"
#include "layout.h"
#include <asm/bootparam.h>
#include <string.h>

#define SETUP_HEADER_OFFSET  0x1F1
#define SETUP_JUMP_OFFSET    0x200   /* "jmp short": its offset byte ends the header */
#define SECTOR_SIZE          512
#define DEFAULT_SETUP_SECTS  4       /* setup_sects == 0 means 4 */
#define MIN_PROTOCOL         0x020C  /* 2.12: xloadflags, init_size, pref_address */
#define PROTOCOL_RSDP_ADDR   0x020E  /* 2.14: acpi_rsdp_addr in boot_params */
#define ENTRY_64_OFFSET      0x200
#define LOADER_UNDEFINED     0xFF
#define HEAP_END             0xFE00  /* end of setup heap, minus 0x200 */
#define PAGE                 0x1000ULL

/* The setup header must reach at least the fields protocol 2.12 defines. */
#define MIN_HEADER_END (SETUP_HEADER_OFFSET + offsetof (struct setup_header, handover_offset))

/* Identity map of the first 4 GiB with 2 MiB pages: PML4, PDPT, 4 PDs. */
#define PT_PRESENT  (1ULL << 0)
#define PT_WRITE    (1ULL << 1)
#define PT_HUGE     (1ULL << 7)
#define PT_PAGES    6
G_STATIC_ASSERT (VIV_PAGE_TABLES_ADDR + PT_PAGES * PAGE <= VIV_CMDLINE_ADDR);
G_STATIC_ASSERT (sizeof (struct boot_params) == PAGE);

static gboolean
write_page_tables (const VivGuestMemory *mem, GError **error)
{
  uint64_t *pt = viv_guest_memory_ptr (mem, VIV_PAGE_TABLES_ADDR, PT_PAGES * PAGE);
  uint64_t *pml4, *pdpt, *pd;

  if (pt == NULL)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Guest RAM does not cover the page tables at 0x%" G_GINT64_MODIFIER "x",
                   (guint64) VIV_PAGE_TABLES_ADDR);
      return FALSE;
    }
  memset (pt, 0, PT_PAGES * PAGE);
  pml4 = pt;
  pdpt = pt + 512;
  pd = pt + 2 * 512;
  pml4[0] = (VIV_PAGE_TABLES_ADDR + PAGE) | PT_PRESENT | PT_WRITE;
  for (unsigned i = 0; i < 4; i++)
    pdpt[i] = (VIV_PAGE_TABLES_ADDR + (2 + i) * PAGE) | PT_PRESENT | PT_WRITE;
  for (uint64_t j = 0; j < 4 * 512; j++)
    pd[j] = (j << 21) | PT_PRESENT | PT_WRITE | PT_HUGE;
  return TRUE;
}

/* Reads the setup header into *hdr (zero-filled past what the kernel
 * provides) and validates the protocol; *hdr_len is the header's length. */
static gboolean
read_setup_header (const VivKernelFile *f, struct setup_header *hdr,
                   size_t *hdr_len, GError **error)
{
  uint16_t version;
  uint8_t jump[2];
  uint64_t hdr_end;

  if (!viv_kernel_file_read (f, SETUP_HEADER_OFFSET
                                + offsetof (struct setup_header, version),
                             &version, sizeof version, "setup header", error)
      || !viv_kernel_file_read (f, SETUP_JUMP_OFFSET, jump, sizeof jump,
                                "setup header", error))
    return FALSE;
  if (version < MIN_PROTOCOL)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_UNSUPPORTED,
                   "Kernel “%s” uses boot protocol %u.%02u; Vivarium needs "
                   "2.12 or newer (Linux 3.8 and later)",
                   f->path, version >> 8, version & 0xFF);
      return FALSE;
    }
  hdr_end = SETUP_JUMP_OFFSET + 2 + jump[1];
  if (hdr_end < MIN_HEADER_END)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "Kernel “%s” claims boot protocol %u.%02u but its setup "
                   "header ends at 0x%" G_GINT64_MODIFIER "x, too early for it",
                   f->path, version >> 8, version & 0xFF, hdr_end);
      return FALSE;
    }
  /* Fields a newer protocol adds past what we know are left out. */
  *hdr_len = (size_t) MIN (hdr_end - SETUP_HEADER_OFFSET, sizeof *hdr);
  memset (hdr, 0, sizeof *hdr);
  if (!viv_kernel_file_read (f, SETUP_HEADER_OFFSET, hdr, *hdr_len,
                             "setup header", error))
    return FALSE;
  if (!(hdr->xloadflags & XLF_KERNEL_64))
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_UNSUPPORTED,
                   "Kernel “%s” has no 64-bit entry point (XLF_KERNEL_64 is "
                   "not set in xloadflags); Vivarium boots x86-64 kernels",
                   f->path);
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_bzimage_load (const VivBootContext *ctx, VivBootEntry *entry, GError **error)
{
  const VivKernelFile *f = &ctx->kernel;
  uint64_t low_end = viv_guest_memory_low_end (ctx->mem);
  struct boot_params params;
  struct setup_header hdr;
  size_t hdr_len;
  uint64_t setup_size, kernel_size, run_addr, kernel_end, initrd_limit;
  uint64_t initrd_addr, initrd_size;

  if (!read_setup_header (f, &hdr, &hdr_len, error))
    return FALSE;

  setup_size = ((uint64_t) (hdr.setup_sects ? hdr.setup_sects : DEFAULT_SETUP_SECTS)
                + 1) * SECTOR_SIZE;
  if (f->size <= setup_size + ENTRY_64_OFFSET)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED,
                   "Kernel “%s” is truncated: it ends (%" G_GUINT64_FORMAT
                   " bytes) before its protected-mode part, which starts at "
                   "byte 0x%" G_GINT64_MODIFIER "x", f->path, f->size, setup_size);
      return FALSE;
    }
  kernel_size = f->size - setup_size;

  /* The kernel decompresses itself at pref_address (LOAD_PHYSICAL_ADDR)
   * and needs init_size bytes there: all of it must be RAM. */
  run_addr = MAX (hdr.pref_address, VIV_HIGH_MEMORY_START);
  kernel_end = VIV_HIGH_MEMORY_START + kernel_size;
  if (run_addr < low_end)
    kernel_end = MAX (kernel_end, run_addr + hdr.init_size);
  else
    kernel_end = UINT64_MAX;
  if (kernel_end > low_end)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Kernel “%s” does not fit: it needs guest RAM up to 0x%"
                   G_GINT64_MODIFIER "x to decompress and run, but RAM below "
                   "4 GiB ends at 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
                   " MiB); give the VM more memory",
                   f->path, kernel_end == UINT64_MAX ? run_addr : kernel_end,
                   low_end, low_end / VIV_MiB);
      return FALSE;
    }

  if (!viv_boot_write_cmdline (ctx, hdr.cmdline_size, error)
      || !viv_kernel_file_load (f, setup_size, kernel_size, ctx->mem,
                                VIV_HIGH_MEMORY_START, "protected-mode kernel",
                                error))
    return FALSE;

  initrd_limit = MIN ((uint64_t) hdr.initrd_addr_max + 1, low_end);
  if (!viv_boot_load_initrd (ctx, (kernel_end + PAGE - 1) & ~(PAGE - 1),
                             initrd_limit, &initrd_addr, &initrd_size, error))
    return FALSE;

  memset (&params, 0, sizeof params);
  memcpy (&params.hdr, &hdr, hdr_len);
  params.hdr.type_of_loader = LOADER_UNDEFINED;
  params.hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
  params.hdr.heap_end_ptr = HEAP_END;
  params.hdr.cmd_line_ptr = (uint32_t) VIV_CMDLINE_ADDR;
  params.ext_cmd_line_ptr = 0;
  params.hdr.ramdisk_image = (uint32_t) initrd_addr;
  params.hdr.ramdisk_size = (uint32_t) initrd_size;
  params.ext_ramdisk_image = (uint32_t) (initrd_addr >> 32);
  params.ext_ramdisk_size = (uint32_t) (initrd_size >> 32);
  if (hdr.version >= PROTOCOL_RSDP_ADDR)
    params.acpi_rsdp_addr = ctx->rsdp_addr;
  params.e820_entries = (uint8_t) ctx->n_e820;
  for (unsigned i = 0; i < ctx->n_e820; i++)
    {
      params.e820_table[i].addr = ctx->e820[i].addr;
      params.e820_table[i].size = ctx->e820[i].size;
      params.e820_table[i].type = ctx->e820[i].type;
    }
  if (!viv_guest_memory_write (ctx->mem, VIV_ZERO_PAGE_ADDR, &params, sizeof params))
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Guest RAM does not cover the zero page at 0x%" G_GINT64_MODIFIER "x",
                   (guint64) VIV_ZERO_PAGE_ADDR);
      return FALSE;
    }
  if (!write_page_tables (ctx->mem, error)
      || !viv_boot_write_gdt (ctx->mem, TRUE, error))
    return FALSE;

  entry->kind = VIV_ENTRY_LINUX64;
  entry->rip = VIV_HIGH_MEMORY_START + ENTRY_64_OFFSET;
  entry->boot_info = VIV_ZERO_PAGE_ADDR;
  entry->page_table = VIV_PAGE_TABLES_ADDR;
  entry->gdt_base = VIV_BOOT_GDT_ADDR;
  return TRUE;
}
