/* PVH boot of an ELF kernel (Xen's "HVM direct boot" ABI, also used by
 * QEMU and Firecracker): load the PT_LOAD segments at their physical
 * addresses and enter in 32-bit protected mode, paging off, with EBX
 * pointing at struct hvm_start_info.  The entry point comes from the
 * XEN_ELFNOTE_PHYS32_ENTRY note, not from e_entry. */
#include "boot/loader.h"
#include "layout.h"
#include <elf.h>
#include <string.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MAX_NOTES_SIZE           (1 * VIV_MiB)

/* xen/include/public/arch-x86/hvm/start_info.h, version 1. */
#define HVM_START_MAGIC 0x336ec578
typedef struct {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
} HvmStartInfo;

typedef struct {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
} HvmModlistEntry;

typedef struct {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
} HvmMemmapEntry;

G_STATIC_ASSERT (sizeof (HvmStartInfo) == 56);
G_STATIC_ASSERT (sizeof (HvmModlistEntry) == 32);
G_STATIC_ASSERT (sizeof (HvmMemmapEntry) == 24);

/* start_info, then the memmap, then the module list, in one page. */
#define START_INFO_MEMMAP_ADDR  (VIV_START_INFO_ADDR + 64)
#define START_INFO_MODLIST_ADDR \
  (START_INFO_MEMMAP_ADDR + VIV_E820_MAX_ENTRIES * sizeof (HvmMemmapEntry))
G_STATIC_ASSERT (START_INFO_MODLIST_ADDR + sizeof (HvmModlistEntry)
                 <= VIV_ZERO_PAGE_ADDR);

/* Below 1 MiB, segments may only use the gap between the command line
 * and the EBDA; everything else there holds boot data. */
#define LOW_FREE_START  (VIV_CMDLINE_ADDR + VIV_CMDLINE_MAX)
#define LOW_FREE_END    VIV_EBDA_START

/* What we need of an ELF32 or ELF64 header and program header. */
typedef struct {
  gboolean is64;
  uint16_t type;
  uint16_t machine;
  uint64_t phoff;
  uint16_t phentsize;
  uint16_t phnum;
  uint64_t shoff;
  uint16_t shentsize;
  uint16_t shnum;
} ElfHeader;

typedef struct {
  uint32_t type;
  uint64_t offset;
  uint64_t paddr;
  uint64_t filesz;
  uint64_t memsz;
  uint64_t align;
} ElfSegment;

static const char *
machine_name (uint16_t machine)
{
  switch (machine)
    {
    case EM_AARCH64: return "AArch64";
    case EM_ARM:     return "32-bit ARM";
    case EM_RISCV:   return "RISC-V";
    case EM_PPC64:   return "64-bit PowerPC";
    case EM_PPC:     return "PowerPC";
    case EM_S390:    return "IBM S/390";
    case EM_MIPS:    return "MIPS";
    case EM_SPARCV9: return "SPARC V9";
    case EM_IA_64:   return "Itanium";
    case 258:        return "LoongArch";   /* EM_LOONGARCH, newer than glibc's elf.h here */
    default:         return NULL;
    }
}

static gboolean
read_header (const VivKernelFile *f, ElfHeader *h, GError **error)
{
  unsigned char ident[EI_NIDENT];
  const char *machine;

  if (!viv_kernel_file_read (f, 0, ident, sizeof ident, "ELF identification", error))
    return FALSE;
  if ((ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64)
      || ident[EI_VERSION] != EV_CURRENT)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "“%s” has a corrupt ELF identification (class %u, version %u)",
                   f->path, ident[EI_CLASS], ident[EI_VERSION]);
      return FALSE;
    }
  if (ident[EI_DATA] != ELFDATA2LSB)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_WRONG_MACHINE,
                   "“%s” is a big-endian ELF, not an x86 kernel", f->path);
      return FALSE;
    }

  h->is64 = ident[EI_CLASS] == ELFCLASS64;
  if (h->is64)
    {
      Elf64_Ehdr e;
      if (!viv_kernel_file_read (f, 0, &e, sizeof e, "ELF header", error))
        return FALSE;
      *h = (ElfHeader) { TRUE, e.e_type, e.e_machine, e.e_phoff, e.e_phentsize,
                         e.e_phnum, e.e_shoff, e.e_shentsize, e.e_shnum };
      if (e.e_ehsize < sizeof e)
        goto bad_size;
    }
  else
    {
      Elf32_Ehdr e;
      if (!viv_kernel_file_read (f, 0, &e, sizeof e, "ELF header", error))
        return FALSE;
      *h = (ElfHeader) { FALSE, e.e_type, e.e_machine, e.e_phoff, e.e_phentsize,
                         e.e_phnum, e.e_shoff, e.e_shentsize, e.e_shnum };
      if (e.e_ehsize < sizeof e)
        goto bad_size;
    }

  if (h->machine != EM_X86_64 && h->machine != EM_386)
    {
      machine = machine_name (h->machine);
      if (machine)
        g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_WRONG_MACHINE,
                     "“%s” is a kernel for %s; Vivarium runs x86-64 and i386 "
                     "kernels", f->path, machine);
      else
        g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_WRONG_MACHINE,
                     "“%s” is an ELF for machine type %u, not x86; Vivarium "
                     "runs x86-64 and i386 kernels", f->path, h->machine);
      return FALSE;
    }
  if (h->type != ET_EXEC)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "“%s” is an ELF %s, not an executable kernel", f->path,
                   h->type == ET_REL ? "object file" :
                   h->type == ET_DYN ? "shared object" : "file of unknown type");
      return FALSE;
    }
  if (h->phnum == 0 || h->phnum == PN_XNUM
      || h->phentsize != (h->is64 ? sizeof (Elf64_Phdr) : sizeof (Elf32_Phdr)))
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "“%s” has no usable ELF program headers (%u of %u bytes)",
                   f->path, h->phnum, h->phentsize);
      return FALSE;
    }
  return TRUE;

bad_size:
  g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
               "“%s” has a corrupt ELF header (header size too small)", f->path);
  return FALSE;
}

static gboolean
read_segments (const VivKernelFile *f, const ElfHeader *h, ElfSegment **out,
               GError **error)
{
  size_t table_len = (size_t) h->phnum * h->phentsize;
  g_autofree uint8_t *table = g_malloc (table_len);
  ElfSegment *segs = g_new0 (ElfSegment, h->phnum);

  if (!viv_kernel_file_read (f, h->phoff, table, table_len,
                             "program header table", error))
    {
      g_free (segs);
      return FALSE;
    }
  for (unsigned i = 0; i < h->phnum; i++)
    {
      if (h->is64)
        {
          Elf64_Phdr p;
          memcpy (&p, table + i * sizeof p, sizeof p);
          segs[i] = (ElfSegment) { p.p_type, p.p_offset, p.p_paddr,
                                   p.p_filesz, p.p_memsz, p.p_align };
        }
      else
        {
          Elf32_Phdr p;
          memcpy (&p, table + i * sizeof p, sizeof p);
          segs[i] = (ElfSegment) { p.p_type, p.p_offset, p.p_paddr,
                                   p.p_filesz, p.p_memsz, p.p_align };
        }
    }
  *out = segs;
  return TRUE;
}

static gboolean
check_load_segment (const VivKernelFile *f, unsigned index, const ElfSegment *s,
                    uint64_t low_end, GError **error)
{
  g_autofree char *what = g_strdup_printf ("segment %u", index);
  uint64_t end;

  if (s->offset > f->size || s->filesz > f->size - s->offset)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED,
                   "Kernel “%s” is truncated: ELF %s (file bytes 0x%"
                   G_GINT64_MODIFIER "x+0x%" G_GINT64_MODIFIER "x) lies past the "
                   "end of the file (%" G_GUINT64_FORMAT " bytes)",
                   f->path, what, s->offset, s->filesz, f->size);
      return FALSE;
    }
  if (s->filesz > s->memsz)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED,
                   "Kernel “%s” is corrupt: ELF %s has more file bytes (0x%"
                   G_GINT64_MODIFIER "x) than memory bytes (0x%"
                   G_GINT64_MODIFIER "x)", f->path, what, s->filesz, s->memsz);
      return FALSE;
    }
  if (s->paddr > low_end || s->memsz > low_end - s->paddr)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Kernel “%s” does not fit: ELF %s needs guest RAM at 0x%"
                   G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x, but RAM "
                   "below 4 GiB ends at 0x%" G_GINT64_MODIFIER "x (%"
                   G_GUINT64_FORMAT " MiB); give the VM more memory",
                   f->path, what, s->paddr, s->paddr + s->memsz, low_end,
                   low_end / VIV_MiB);
      return FALSE;
    }
  end = s->paddr + s->memsz;
  if (s->paddr < VIV_HIGH_MEMORY_START
      && !(s->paddr >= LOW_FREE_START && end <= LOW_FREE_END))
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Kernel “%s”: ELF %s (0x%" G_GINT64_MODIFIER "x-0x%"
                   G_GINT64_MODIFIER "x) overlaps the boot data below 1 MiB; "
                   "below 1 MiB only 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x is free. Link the "
                   "kernel at 1 MiB or above.",
                   f->path, what, s->paddr, end, (guint64) LOW_FREE_START,
                   (guint64) LOW_FREE_END);
      return FALSE;
    }
  return TRUE;
}

/* Looks for the PVH entry note in notes[0..len); *found stays FALSE if
 * there is none. */
static gboolean
scan_notes (const VivKernelFile *f, const uint8_t *notes, uint64_t len,
            uint64_t align, uint64_t *entry, gboolean *found, GError **error)
{
  uint64_t pos = 0;

  align = align == 8 ? 8 : 4;
  while (len - pos >= sizeof (Elf32_Nhdr))
    {
      Elf32_Nhdr n;   /* Elf64_Nhdr has the same 32-bit fields */
      uint64_t name_at, desc_at, next;

      memcpy (&n, notes + pos, sizeof n);
      name_at = pos + sizeof n;
      desc_at = name_at + ((n.n_namesz + align - 1) & ~(align - 1));
      next = desc_at + ((n.n_descsz + align - 1) & ~(align - 1));
      if (desc_at > len || n.n_descsz > len - desc_at)
        {
          g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED,
                       "Kernel “%s” has a corrupt ELF note (it runs past "
                       "the end of its segment)", f->path);
          return FALSE;
        }
      if (n.n_type == XEN_ELFNOTE_PHYS32_ENTRY && n.n_namesz == 4
          && memcmp (notes + name_at, "Xen", 4) == 0)
        {
          if (n.n_descsz == 4)
            {
              uint32_t v;
              memcpy (&v, notes + desc_at, 4);
              *entry = v;
            }
          else if (n.n_descsz == 8)
            memcpy (entry, notes + desc_at, 8);
          else
            {
              g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                           "Kernel “%s” has a PVH entry note with a %u-byte "
                           "value; expected 4 or 8", f->path, n.n_descsz);
              return FALSE;
            }
          *found = TRUE;
          return TRUE;
        }
      pos = MIN (next, len);
    }
  return TRUE;
}

static gboolean
scan_note_range (const VivKernelFile *f, uint64_t offset, uint64_t size,
                 uint64_t align, uint64_t *entry, gboolean *found, GError **error)
{
  g_autofree uint8_t *notes = NULL;

  if (size == 0)
    return TRUE;
  if (size > MAX_NOTES_SIZE)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "Kernel “%s” has an implausibly large ELF note area (%"
                   G_GUINT64_FORMAT " bytes)", f->path, size);
      return FALSE;
    }
  notes = g_malloc (size);
  return viv_kernel_file_read (f, offset, notes, size, "ELF notes", error)
         && scan_notes (f, notes, size, align, entry, found, error);
}

/* Linkers normally put notes in a PT_NOTE segment; an image without one
 * may still have SHT_NOTE sections. */
static gboolean
scan_note_sections (const VivKernelFile *f, const ElfHeader *h,
                    uint64_t *entry, gboolean *found, GError **error)
{
  size_t shdr_size = h->is64 ? sizeof (Elf64_Shdr) : sizeof (Elf32_Shdr);
  g_autofree uint8_t *table = NULL;

  if (h->shoff == 0 || h->shnum == 0)
    return TRUE;
  if (h->shentsize != shdr_size)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "Kernel “%s” has corrupt ELF section headers (%u bytes each)",
                   f->path, h->shentsize);
      return FALSE;
    }
  table = g_malloc ((size_t) h->shnum * shdr_size);
  if (!viv_kernel_file_read (f, h->shoff, table, (size_t) h->shnum * shdr_size,
                             "section header table", error))
    return FALSE;
  for (unsigned i = 0; i < h->shnum && !*found; i++)
    {
      uint64_t type, offset, size, align;

      if (h->is64)
        {
          Elf64_Shdr s;
          memcpy (&s, table + i * shdr_size, sizeof s);
          type = s.sh_type; offset = s.sh_offset; size = s.sh_size;
          align = s.sh_addralign;
        }
      else
        {
          Elf32_Shdr s;
          memcpy (&s, table + i * shdr_size, sizeof s);
          type = s.sh_type; offset = s.sh_offset; size = s.sh_size;
          align = s.sh_addralign;
        }
      if (type == SHT_NOTE
          && !scan_note_range (f, offset, size, align, entry, found, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
write_start_info (const VivBootContext *ctx, uint64_t initrd_addr,
                  uint64_t initrd_size, GError **error)
{
  HvmStartInfo info = {
    .magic = HVM_START_MAGIC,
    .version = 1,
    .nr_modules = initrd_size ? 1 : 0,
    .modlist_paddr = initrd_size ? START_INFO_MODLIST_ADDR : 0,
    .cmdline_paddr = VIV_CMDLINE_ADDR,
    .rsdp_paddr = ctx->rsdp_addr,
    .memmap_paddr = START_INFO_MEMMAP_ADDR,
    .memmap_entries = ctx->n_e820,
  };
  HvmMemmapEntry memmap[VIV_E820_MAX_ENTRIES] = { { 0 } };
  HvmModlistEntry module = { .paddr = initrd_addr, .size = initrd_size };

  for (unsigned i = 0; i < ctx->n_e820; i++)
    memmap[i] = (HvmMemmapEntry) { .addr = ctx->e820[i].addr,
                                   .size = ctx->e820[i].size,
                                   .type = ctx->e820[i].type };
  if (!viv_guest_memory_write (ctx->mem, VIV_START_INFO_ADDR, &info, sizeof info)
      || !viv_guest_memory_write (ctx->mem, START_INFO_MEMMAP_ADDR, memmap,
                                  ctx->n_e820 * sizeof memmap[0])
      || !viv_guest_memory_write (ctx->mem, START_INFO_MODLIST_ADDR, &module,
                                  sizeof module))
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                   "Guest RAM does not cover the PVH start info at 0x%" G_GINT64_MODIFIER "x",
                   (guint64) VIV_START_INFO_ADDR);
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_pvh_load (const VivBootContext *ctx, VivBootEntry *entry, GError **error)
{
  const VivKernelFile *f = &ctx->kernel;
  uint64_t low_end = viv_guest_memory_low_end (ctx->mem);
  g_autofree ElfSegment *segs = NULL;
  uint64_t pvh_entry = 0, kernel_end = 0, initrd_addr, initrd_size;
  gboolean found = FALSE, entry_loaded = FALSE;
  ElfHeader h;

  if (!read_header (f, &h, error) || !read_segments (f, &h, &segs, error))
    return FALSE;

  /* Validate everything before writing any of it to guest RAM. */
  for (unsigned i = 0; i < h.phnum; i++)
    {
      const ElfSegment *s = &segs[i];

      if (s->type == PT_LOAD && s->memsz > 0)
        {
          if (!check_load_segment (f, i, s, low_end, error))
            return FALSE;
          kernel_end = MAX (kernel_end, s->paddr + s->memsz);
        }
      else if (s->type == PT_NOTE && !found
               && !scan_note_range (f, s->offset, s->filesz, s->align,
                                    &pvh_entry, &found, error))
        return FALSE;
    }
  if (!found && !scan_note_sections (f, &h, &pvh_entry, &found, error))
    return FALSE;
  if (!found)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "Kernel “%s”: ELF has no PVH entry note "
                   "(XEN_ELFNOTE_PHYS32_ENTRY); build the kernel with "
                   "CONFIG_PVH=y or use its bzImage", f->path);
      return FALSE;
    }
  for (unsigned i = 0; i < h.phnum; i++)
    if (segs[i].type == PT_LOAD && pvh_entry >= segs[i].paddr
        && pvh_entry - segs[i].paddr < segs[i].memsz)
      entry_loaded = TRUE;
  if (!entry_loaded)
    {
      g_set_error (error, VIV_BOOT_ERROR, VIV_BOOT_ERROR_NOT_A_KERNEL,
                   "Kernel “%s”: the PVH entry point 0x%" G_GINT64_MODIFIER "x "
                   "is not inside any loadable segment", f->path, pvh_entry);
      return FALSE;
    }

  if (!viv_boot_write_cmdline (ctx, VIV_CMDLINE_MAX - 1, error))
    return FALSE;
  for (unsigned i = 0; i < h.phnum; i++)
    {
      const ElfSegment *s = &segs[i];
      g_autofree char *what = NULL;
      uint8_t *tail;

      if (s->type != PT_LOAD || s->memsz == 0)
        continue;
      what = g_strdup_printf ("ELF segment %u", i);
      if (!viv_kernel_file_load (f, s->offset, s->filesz, ctx->mem, s->paddr,
                                 what, error))
        return FALSE;
      /* .bss and friends: the part of memsz the file does not supply. */
      if (s->memsz > s->filesz)
        {
          tail = viv_guest_memory_ptr (ctx->mem, s->paddr + s->filesz,
                                       s->memsz - s->filesz);
          g_assert (tail != NULL);   /* checked against low RAM above */
          memset (tail, 0, s->memsz - s->filesz);
        }
    }

  kernel_end = (kernel_end + 0xFFF) & ~0xFFFULL;
  if (!viv_boot_load_initrd (ctx, MAX (kernel_end, VIV_HIGH_MEMORY_START),
                             low_end, &initrd_addr, &initrd_size, error)
      || !write_start_info (ctx, initrd_addr, initrd_size, error)
      || !viv_boot_write_gdt (ctx->mem, FALSE, error))
    return FALSE;

  entry->kind = VIV_ENTRY_PVH32;
  entry->rip = pvh_entry;
  entry->boot_info = VIV_START_INFO_ADDR;
  entry->page_table = 0;
  entry->gdt_base = VIV_BOOT_GDT_ADDR;
  return TRUE;
}
