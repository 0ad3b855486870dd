/* viv_boot_load with synthetic PVH ELF and bzImage kernels: where the
 * bytes land, what the boot structures say, and how bad input is refused. */
#include "boot/boot.h"
#include "boot/loader.h"
#include "boot/tables.h"
#include "layout.h"
#include "synth.h"
#include <asm/bootparam.h>
#include <elf.h>
#include <stdio.h>
#include <string.h>

#define MiB VIV_MiB

typedef struct {
  char          *dir;
  VivGuestMemory mem;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = synth_tmpdir ();
  memset (&f->mem, 0, sizeof f->mem);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  viv_guest_memory_clear (&f->mem);
  synth_rmdir (f->dir);
  g_free (f->dir);
}

static char *
write_image (Fixture *f, const char *name, GByteArray *img)
{
  return synth_write (f->dir, name, img->data, img->len);
}

static const uint8_t *
guest (Fixture *f, uint64_t gpa, uint64_t len)
{
  const uint8_t *p = viv_guest_memory_ptr (&f->mem, gpa, len);
  g_assert_nonnull (p);
  return p;
}

static uint8_t payload[0x1800];

static SynthElf
default_elf (void)
{
  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = synth_pattern (i);
  return (SynthElf) {
    .is64 = TRUE, .machine = EM_X86_64, .paddr = 0x100000,
    .payload = payload, .payload_len = sizeof payload, .memsz = 0x4000,
    .entry = 0x100040, .note_desc_size = 4,
  };
}

typedef struct {
  uint32_t magic, version, flags, nr_modules;
  uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
  uint32_t memmap_entries, reserved;
} StartInfo;

typedef struct { uint64_t addr, size; uint32_t type, reserved; } MemmapEntry;
typedef struct { uint64_t paddr, size, cmdline_paddr, reserved; } ModEntry;

static gboolean
load (Fixture *f, const VivBootConfig *cfg, VivBootEntry *entry, GError **error)
{
  return viv_boot_load (cfg, &f->mem, entry, error);
}

/* ---- PVH ---------------------------------------------------------------- */

static void
check_pvh_boot (Fixture *f, const SynthElf *spec)
{
  g_autoptr(GByteArray) img = synth_elf (spec);
  g_autofree char *path = write_image (f, "kernel.elf", img);
  VivBootConfig cfg = { .kernel_path = path, .cmdline = "console=ttyS0",
                        .n_cpus = 2 };
  VivBootEntry entry;
  GError *error = NULL;
  StartInfo si;
  MemmapEntry mm[VIV_E820_MAX_ENTRIES];
  uint64_t gdt[4];

  synth_memory (&f->mem, 64 * MiB);
  /* Dirty the .bss area so that the test sees it being zeroed. */
  memset (viv_guest_memory_ptr (&f->mem, spec->paddr, spec->memsz), 0xCC, spec->memsz);

  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
  g_assert_cmpint (entry.kind, ==, VIV_ENTRY_PVH32);
  g_assert_cmphex (entry.rip, ==, spec->entry);
  g_assert_cmphex (entry.boot_info, ==, VIV_START_INFO_ADDR);
  g_assert_cmphex (entry.gdt_base, ==, VIV_BOOT_GDT_ADDR);

  g_assert_cmpmem (guest (f, spec->paddr, spec->payload_len), spec->payload_len,
                   spec->payload, spec->payload_len);
  for (uint64_t i = spec->payload_len; i < spec->memsz; i++)
    g_assert_cmpuint (guest (f, spec->paddr, spec->memsz)[i], ==, 0);

  g_assert_true (viv_guest_memory_read (&f->mem, VIV_START_INFO_ADDR, &si, sizeof si));
  g_assert_cmphex (si.magic, ==, 0x336ec578);
  g_assert_cmpuint (si.version, ==, 1);
  g_assert_cmpuint (si.nr_modules, ==, 0);
  g_assert_cmphex (si.cmdline_paddr, ==, VIV_CMDLINE_ADDR);
  g_assert_cmphex (si.rsdp_paddr, ==, VIV_BIOS_AREA_START);
  g_assert_cmpstr ((const char *) guest (f, si.cmdline_paddr, 14), ==, "console=ttyS0");

  /* 64 MiB: low RAM, EBDA, BIOS area, RAM from 1 MiB. */
  g_assert_cmpuint (si.memmap_entries, ==, 4);
  g_assert_true (viv_guest_memory_read (&f->mem, si.memmap_paddr, mm,
                                        si.memmap_entries * sizeof mm[0]));
  g_assert_cmphex (mm[0].addr, ==, 0);
  g_assert_cmphex (mm[0].size, ==, VIV_EBDA_START);
  g_assert_cmpuint (mm[0].type, ==, 1);
  g_assert_cmphex (mm[1].addr, ==, VIV_EBDA_START);
  g_assert_cmpuint (mm[1].type, ==, 2);
  g_assert_cmphex (mm[2].addr, ==, VIV_BIOS_AREA_START);
  g_assert_cmphex (mm[2].addr + mm[2].size, ==, 0x100000);
  g_assert_cmpuint (mm[2].type, ==, 2);
  g_assert_cmphex (mm[3].addr, ==, 0x100000);
  g_assert_cmphex (mm[3].addr + mm[3].size, ==, 64 * MiB);
  g_assert_cmpuint (mm[3].type, ==, 1);

  g_assert_true (viv_guest_memory_read (&f->mem, VIV_BOOT_GDT_ADDR, gdt, sizeof gdt));
  g_assert_cmphex (gdt[0], ==, 0);
  g_assert_cmphex (gdt[1], ==, 0);
  g_assert_cmphex (gdt[VIV_BOOT_CS / 8], ==, VIV_GDT_CODE32);
  g_assert_cmphex (gdt[VIV_BOOT_DS / 8], ==, VIV_GDT_DATA);
}

static void
test_pvh_elf64 (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  check_pvh_boot (f, &spec);
}

static void
test_pvh_elf32_note8 (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  spec.is64 = FALSE;
  spec.machine = EM_386;
  spec.note_desc_size = 8;
  check_pvh_boot (f, &spec);
}

static void
test_pvh_note_in_section (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  spec.note_in_section = TRUE;
  check_pvh_boot (f, &spec);
}

static void
test_pvh_initrd (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = synth_elf (&spec);
  g_autofree char *kernel = write_image (f, "kernel.elf", img);
  g_autofree uint8_t *initrd = g_malloc (300000);
  g_autofree char *initrd_path = NULL;
  VivBootConfig cfg = { .kernel_path = kernel, .n_cpus = 1 };
  VivBootEntry entry;
  GError *error = NULL;
  StartInfo si;
  ModEntry mod;

  for (size_t i = 0; i < 300000; i++)
    initrd[i] = (uint8_t) (i * 13);
  initrd_path = synth_write (f->dir, "initrd", initrd, 300000);
  cfg.initrd_path = initrd_path;
  synth_memory (&f->mem, 64 * MiB);

  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
  g_assert_true (viv_guest_memory_read (&f->mem, VIV_START_INFO_ADDR, &si, sizeof si));
  g_assert_cmpuint (si.nr_modules, ==, 1);
  g_assert_true (viv_guest_memory_read (&f->mem, si.modlist_paddr, &mod, sizeof mod));
  g_assert_cmpuint (mod.size, ==, 300000);
  /* The highest page-aligned place in low RAM. */
  g_assert_cmphex (mod.paddr & 0xFFF, ==, 0);
  g_assert_cmphex (mod.paddr + mod.size, <=, 64 * MiB);
  g_assert_cmphex (mod.paddr + mod.size, >, 64 * MiB - 0x1000);
  g_assert_cmpmem (guest (f, mod.paddr, mod.size), mod.size, initrd, 300000);
  /* An empty command line is still a valid, NUL-terminated string. */
  g_assert_cmpstr ((const char *) guest (f, si.cmdline_paddr, 1), ==, "");
}

static const VivMmioDeviceInfo three_devices[] = {
  { .base = 0xD0000000, .size = 0x1000, .gsi = 16 },
  { .base = 0xD0001000, .size = 0x200, .gsi = 17 },
  { .base = 0xD0002000, .size = 0x100000, .gsi = 18 },
};

static void
test_cmdline_virtio (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = synth_elf (&spec);
  g_autofree char *kernel = write_image (f, "kernel.elf", img);
  VivBootConfig cfg = { .kernel_path = kernel, .cmdline = "console=ttyS0 quiet",
                        .n_cpus = 1, .mmio_devices = three_devices,
                        .n_mmio_devices = 3 };
  const char *expected =
    "console=ttyS0 quiet"
    " virtio_mmio.device=4K@0xd0000000:16"
    " virtio_mmio.device=512@0xd0001000:17"
    " virtio_mmio.device=1M@0xd0002000:18";
  VivBootEntry entry;
  GError *error = NULL;

  synth_memory (&f->mem, 32 * MiB);
  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
  g_assert_cmpstr ((const char *) guest (f, VIV_CMDLINE_ADDR, strlen (expected) + 1),
                   ==, expected);

  /* Without a user command line there is no leading space. */
  cfg.cmdline = NULL;
  cfg.n_mmio_devices = 1;
  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_cmpstr ((const char *) guest (f, VIV_CMDLINE_ADDR, 40), ==,
                   "virtio_mmio.device=4K@0xd0000000:16");
}

/* ---- bzImage ------------------------------------------------------------ */

static void
read_zero_page (Fixture *f, struct boot_params *bp)
{
  g_assert_true (viv_guest_memory_read (&f->mem, VIV_ZERO_PAGE_ADDR, bp, sizeof *bp));
}

static void
test_bzimage (Fixture *f, gconstpointer data)
{
  SynthBzImage spec = synth_bzimage_default ();
  g_autoptr(GByteArray) img = NULL;
  g_autofree char *kernel = NULL;
  VivBootConfig cfg = { .cmdline = "console=ttyS0", .n_cpus = 4 };
  VivBootEntry entry;
  GError *error = NULL;
  struct boot_params bp;
  uint64_t pml4[512], pdpt[512], pd[4 * 512], gdt[4];

  spec.setup_sects = 7;
  img = synth_bzimage (&spec);
  kernel = write_image (f, "bzImage", img);
  cfg.kernel_path = kernel;
  synth_memory (&f->mem, 128 * MiB);

  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
  g_assert_cmpint (entry.kind, ==, VIV_ENTRY_LINUX64);
  g_assert_cmphex (entry.rip, ==, 0x100200);
  g_assert_cmphex (entry.boot_info, ==, VIV_ZERO_PAGE_ADDR);
  g_assert_cmphex (entry.page_table, ==, VIV_PAGE_TABLES_ADDR);
  g_assert_cmphex (entry.gdt_base, ==, VIV_BOOT_GDT_ADDR);

  /* The protected-mode part starts after 1 + setup_sects sectors. */
  g_assert_cmpmem (guest (f, 0x100000, spec.kernel_len), spec.kernel_len,
                   img->data + 8 * 512, spec.kernel_len);

  read_zero_page (f, &bp);
  g_assert_cmphex (bp.hdr.boot_flag, ==, 0xAA55);
  g_assert_cmphex (bp.hdr.header, ==, 0x53726448);
  g_assert_cmphex (bp.hdr.version, ==, 0x020F);
  g_assert_cmpuint (bp.hdr.setup_sects, ==, 7);
  g_assert_cmphex (bp.hdr.init_size, ==, spec.init_size);
  g_assert_cmphex (bp.hdr.type_of_loader, ==, 0xFF);
  g_assert_cmphex (bp.hdr.loadflags & (LOADED_HIGH | CAN_USE_HEAP), ==,
                   LOADED_HIGH | CAN_USE_HEAP);
  g_assert_cmphex (bp.hdr.heap_end_ptr, !=, 0);
  g_assert_cmphex (bp.hdr.cmd_line_ptr, ==, VIV_CMDLINE_ADDR);
  g_assert_cmpuint (bp.ext_cmd_line_ptr, ==, 0);
  g_assert_cmpuint (bp.hdr.ramdisk_image, ==, 0);
  g_assert_cmpuint (bp.hdr.ramdisk_size, ==, 0);
  g_assert_cmphex (bp.acpi_rsdp_addr, ==, VIV_BIOS_AREA_START);
  g_assert_cmpstr ((const char *) guest (f, VIV_CMDLINE_ADDR, 14), ==, "console=ttyS0");

  g_assert_cmpuint (bp.e820_entries, ==, 4);
  g_assert_cmphex (bp.e820_table[0].addr, ==, 0);
  g_assert_cmphex (bp.e820_table[0].size, ==, VIV_EBDA_START);
  g_assert_cmpuint (bp.e820_table[0].type, ==, 1);
  g_assert_cmpuint (bp.e820_table[1].type, ==, 2);
  g_assert_cmpuint (bp.e820_table[2].type, ==, 2);
  g_assert_cmphex (bp.e820_table[3].addr, ==, 0x100000);
  g_assert_cmphex (bp.e820_table[3].size, ==, 127 * MiB);
  g_assert_cmpuint (bp.e820_table[3].type, ==, 1);

  /* Identity map of 4 GiB in 2 MiB pages. */
  g_assert_true (viv_guest_memory_read (&f->mem, VIV_PAGE_TABLES_ADDR, pml4, sizeof pml4));
  g_assert_true (viv_guest_memory_read (&f->mem, pml4[0] & ~0xFFFULL, pdpt, sizeof pdpt));
  g_assert_cmphex (pml4[0] & 0xFFF, ==, 0x3);
  for (int i = 1; i < 512; i++)
    g_assert_cmphex (pml4[i], ==, 0);
  for (int i = 0; i < 4; i++)
    {
      g_assert_cmphex (pdpt[i] & 0xFFF, ==, 0x3);
      g_assert_true (viv_guest_memory_read (&f->mem, pdpt[i] & ~0xFFFULL,
                                            pd + i * 512, 512 * 8));
    }
  g_assert_cmphex (pdpt[4], ==, 0);
  for (uint64_t j = 0; j < 4 * 512; j++)
    g_assert_cmphex (pd[j], ==, (j * 2 * MiB) | 0x83);

  g_assert_true (viv_guest_memory_read (&f->mem, VIV_BOOT_GDT_ADDR, gdt, sizeof gdt));
  g_assert_cmphex (gdt[VIV_BOOT_CS / 8], ==, VIV_GDT_CODE64);
  g_assert_cmphex (gdt[VIV_BOOT_DS / 8], ==, VIV_GDT_DATA);
}

static void
test_bzimage_setup_sects_zero (Fixture *f, gconstpointer data)
{
  SynthBzImage spec = synth_bzimage_default ();   /* setup_sects 0 = 4 */
  g_autoptr(GByteArray) img = synth_bzimage (&spec);
  g_autofree char *kernel = write_image (f, "bzImage", img);
  VivBootConfig cfg = { .kernel_path = kernel, .n_cpus = 1 };
  VivBootEntry entry;
  GError *error = NULL;

  synth_memory (&f->mem, 64 * MiB);
  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (guest (f, 0x100000, spec.kernel_len), spec.kernel_len,
                   img->data + 5 * 512, spec.kernel_len);
}

static void
check_bzimage_initrd (Fixture *f, uint64_t ram, uint32_t initrd_addr_max,
                      uint64_t expected_limit)
{
  SynthBzImage spec = synth_bzimage_default ();
  g_autoptr(GByteArray) img = NULL;
  g_autofree char *kernel = NULL, *initrd_path = NULL;
  g_autofree uint8_t *initrd = g_malloc (1000000);
  VivBootConfig cfg = { .n_cpus = 1 };
  VivBootEntry entry;
  GError *error = NULL;
  struct boot_params bp;
  uint64_t addr;

  spec.initrd_addr_max = initrd_addr_max;
  img = synth_bzimage (&spec);
  kernel = write_image (f, "bzImage", img);
  for (size_t i = 0; i < 1000000; i++)
    initrd[i] = (uint8_t) (i ^ (i >> 9));
  initrd_path = synth_write (f->dir, "initrd.img", initrd, 1000000);
  cfg.kernel_path = kernel;
  cfg.initrd_path = initrd_path;
  synth_memory (&f->mem, ram);

  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
  read_zero_page (f, &bp);
  addr = bp.hdr.ramdisk_image | ((uint64_t) bp.ext_ramdisk_image << 32);
  g_assert_cmpuint (bp.hdr.ramdisk_size, ==, 1000000);
  g_assert_cmpuint (bp.ext_ramdisk_size, ==, 0);
  g_assert_cmphex (addr & 0xFFF, ==, 0);
  g_assert_cmphex (addr + 1000000, <=, expected_limit);
  g_assert_cmphex (addr + 1000000, >, expected_limit - 0x1000);
  /* Above everything the kernel needs to decompress. */
  g_assert_cmphex (addr, >=, spec.pref_address + spec.init_size);
  g_assert_cmpmem (guest (f, addr, 1000000), 1000000, initrd, 1000000);
}

static void
test_bzimage_initrd (Fixture *f, gconstpointer data)
{
  /* Limited by RAM... */
  check_bzimage_initrd (f, 64 * MiB, 0x7FFFFFFF, 64 * MiB);
}

static void
test_bzimage_initrd_addr_max (Fixture *f, gconstpointer data)
{
  /* ...or by the kernel's initrd_addr_max (inclusive). */
  check_bzimage_initrd (f, 1024 * MiB, 0x37FFFFFF, 0x38000000);
}

static void
test_high_memory_e820 (Fixture *f, gconstpointer data)
{
  SynthBzImage spec = synth_bzimage_default ();
  g_autoptr(GByteArray) img = synth_bzimage (&spec);
  g_autofree char *kernel = write_image (f, "bzImage", img);
  VivBootConfig cfg = { .kernel_path = kernel, .n_cpus = 1 };
  VivBootEntry entry;
  GError *error = NULL;
  struct boot_params bp;

  synth_memory (&f->mem, 5 * VIV_GiB);
  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
  read_zero_page (f, &bp);
  g_assert_cmpuint (bp.e820_entries, ==, 5);
  g_assert_cmphex (bp.e820_table[3].addr + bp.e820_table[3].size, ==, VIV_MMIO_HOLE_START);
  g_assert_cmphex (bp.e820_table[4].addr, ==, 4 * VIV_GiB);
  g_assert_cmphex (bp.e820_table[4].size, ==, 5 * VIV_GiB - VIV_MMIO_HOLE_START);
  g_assert_cmpuint (bp.e820_table[4].type, ==, 1);
}

/* ---- Refusals ----------------------------------------------------------- */

/* Expects viv_boot_load to fail (in `ram` bytes of RAM unless the test
 * already made some) and returns the error. */
static GError *
refuse (Fixture *f, VivBootConfig *cfg, uint64_t ram)
{
  VivBootEntry entry;
  GError *error = NULL;

  if (f->mem.base == NULL)
    synth_memory (&f->mem, ram);
  g_assert_false (load (f, cfg, &entry, &error));
  g_assert_nonnull (error);
  g_test_message ("refused: %s", error->message);
  return error;
}

static GError *
refuse_image (Fixture *f, const void *data, size_t len, uint64_t ram)
{
  g_autofree char *path = synth_write (f->dir, "kernel", data, len);
  VivBootConfig cfg = { .kernel_path = path, .n_cpus = 1 };
  GError *error = refuse (f, &cfg, ram);

  g_assert_nonnull (strstr (error->message, path));
  return error;
}

static void
assert_refused (GError *error, GQuark domain, int code, const char *needle)
{
  g_assert_error (error, domain, code);
  if (needle)
    g_assert_nonnull (strstr (error->message, needle));
  g_error_free (error);
}

static void
test_refuse_files (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->dir, "missing", NULL);
  VivBootConfig cfg = { .kernel_path = missing, .n_cpus = 1 };
  const char text[] = "#!/bin/sh\necho this is not a kernel\n";

  assert_refused (refuse_image (f, "", 0, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_NOT_A_KERNEL, "empty");
  assert_refused (refuse (f, &cfg, 64 * MiB), G_FILE_ERROR, G_FILE_ERROR_NOENT,
                  "No such file");
  cfg.kernel_path = f->dir;
  assert_refused (refuse (f, &cfg, 64 * MiB), G_FILE_ERROR, G_FILE_ERROR_ISDIR,
                  "directory");
  assert_refused (refuse_image (f, text, sizeof text, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_NOT_A_KERNEL,
                  "neither a Linux bzImage nor an ELF kernel with a PVH entry note");
}

static void
test_refuse_truncated_elf_header (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = synth_elf (&spec);

  /* Identification only, and then half the ELF64 header. */
  assert_refused (refuse_image (f, img->data, 10, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TRUNCATED, "ELF identification");
  assert_refused (refuse_image (f, img->data, 40, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TRUNCATED, "ELF header");
  /* Header intact, program headers cut off. */
  assert_refused (refuse_image (f, img->data, SYNTH_ELF_PHOFF + 20, 64 * MiB),
                  VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED, "program header");
}

static void
test_refuse_segment_past_eof (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = synth_elf (&spec);

  /* The file ends inside the PT_LOAD's data... */
  assert_refused (refuse_image (f, img->data, SYNTH_ELF_PAYLOAD_OFF + 100, 64 * MiB),
                  VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED, "segment 0");
  /* ...or p_filesz claims far more than there is. */
  uint64_t huge = UINT64_MAX - 0x100;
  memcpy (img->data + synth_elf_load_filesz_offset (TRUE), &huge, 8);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TRUNCATED, "past the end");
}

static void
test_refuse_filesz_above_memsz (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = NULL;

  spec.memsz = 0x100;   /* smaller than the 0x1800 file bytes */
  img = synth_elf (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TRUNCATED, "more file bytes");
}

static void
test_refuse_aarch64 (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = NULL;

  spec.machine = 183;   /* EM_AARCH64 */
  img = synth_elf (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_WRONG_MACHINE, "AArch64");
}

static void
test_refuse_unknown_machine (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = NULL;

  spec.machine = 4242;
  img = synth_elf (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_WRONG_MACHINE, "machine type 4242");
}

static void
test_refuse_no_pvh_note (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = NULL;

  spec.note_desc_size = 0;
  img = synth_elf (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_NOT_A_KERNEL,
                  "ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); build the "
                  "kernel with CONFIG_PVH=y or use its bzImage");
}

static void
test_refuse_bad_note (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = synth_elf (&spec);
  uint32_t huge = 0xFFFFFFF0;

  /* The note's descsz runs past the PT_NOTE segment. */
  memcpy (img->data + 0x180 + 4, &huge, 4);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TRUNCATED, "note");
}

static void
test_refuse_entry_outside (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = NULL;

  spec.entry = 0x200000;
  img = synth_elf (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_NOT_A_KERNEL, "0x200000");
}

static void
test_refuse_elf_too_big (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = NULL;

  spec.memsz = 1024 * MiB;
  img = synth_elf (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TOO_BIG, "more memory");
}

static void
test_refuse_elf_over_boot_data (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = NULL;

  spec.paddr = 0x1000;   /* over the GDT, start info and zero page */
  spec.entry = 0x1000;
  img = synth_elf (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TOO_BIG, "boot data below 1 MiB");
}

static void
test_elf_in_low_free_window (Fixture *f, gconstpointer data)
{
  /* Between the command line and the EBDA a segment is allowed. */
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = NULL;
  g_autofree char *path = NULL;
  VivBootConfig cfg = { .n_cpus = 1 };
  VivBootEntry entry;
  GError *error = NULL;

  spec.paddr = 0x40000;
  spec.entry = 0x40000;
  img = synth_elf (&spec);
  path = write_image (f, "low.elf", img);
  cfg.kernel_path = path;
  synth_memory (&f->mem, 32 * MiB);
  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (guest (f, 0x40000, sizeof payload), sizeof payload, payload, sizeof payload);
}

static void
test_refuse_truncated_bzimage (Fixture *f, gconstpointer data)
{
  SynthBzImage spec = synth_bzimage_default ();
  g_autoptr(GByteArray) img = synth_bzimage (&spec);

  /* Cut inside the setup header (after "HdrS"). */
  assert_refused (refuse_image (f, img->data, 0x220, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TRUNCATED, "setup header");
  /* Cut before the protected-mode part's 64-bit entry. */
  assert_refused (refuse_image (f, img->data, 5 * 512 + 0x100, 64 * MiB),
                  VIV_BOOT_ERROR, VIV_BOOT_ERROR_TRUNCATED, "protected-mode");
}

static void
test_refuse_old_protocol (Fixture *f, gconstpointer data)
{
  SynthBzImage spec = synth_bzimage_default ();
  g_autoptr(GByteArray) img = NULL;

  spec.version = 0x0208;
  img = synth_bzimage (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_UNSUPPORTED, "2.08");
}

static void
test_refuse_not_64bit (Fixture *f, gconstpointer data)
{
  SynthBzImage spec = synth_bzimage_default ();
  g_autoptr(GByteArray) img = NULL;

  spec.xloadflags = 0;
  img = synth_bzimage (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_UNSUPPORTED, "XLF_KERNEL_64");
}

static void
test_refuse_bzimage_too_big (Fixture *f, gconstpointer data)
{
  SynthBzImage spec = synth_bzimage_default ();
  g_autoptr(GByteArray) img = NULL;

  spec.init_size = 64 * MiB;   /* from 16 MiB: needs 80 MiB */
  img = synth_bzimage (&spec);
  assert_refused (refuse_image (f, img->data, img->len, 32 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TOO_BIG, "more memory");
}

static void
test_refuse_long_cmdline (Fixture *f, gconstpointer data)
{
  SynthBzImage bz = synth_bzimage_default ();
  SynthElf elf = default_elf ();
  g_autoptr(GByteArray) bz_img = NULL, elf_img = synth_elf (&elf);
  g_autofree char *bz_path = NULL, *elf_path = write_image (f, "k.elf", elf_img);
  g_autofree char *medium = g_strnfill (250, 'a');
  g_autofree char *huge = g_strnfill (VIV_CMDLINE_MAX, 'b');
  VivBootConfig cfg = { .cmdline = medium, .n_cpus = 1,
                        .mmio_devices = three_devices, .n_mmio_devices = 1 };
  VivBootEntry entry;
  GError *error = NULL;

  bz.cmdline_size = 255;
  bz_img = synth_bzimage (&bz);
  bz_path = write_image (f, "bz", bz_img);
  synth_memory (&f->mem, 64 * MiB);

  /* 250 characters fit in 255 alone, not with the virtio_mmio entry. */
  cfg.kernel_path = bz_path;
  assert_refused (refuse (f, &cfg, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TOO_BIG, "at most 255");
  cfg.n_mmio_devices = 0;
  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);

  /* PVH has no cmdline_size: VIV_CMDLINE_MAX (with the NUL) is the limit. */
  cfg.kernel_path = elf_path;
  cfg.cmdline = huge;
  assert_refused (refuse (f, &cfg, 64 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_TOO_BIG, "command line");
  huge[VIV_CMDLINE_MAX - 1] = '\0';
  g_assert_true (load (f, &cfg, &entry, &error));
  g_assert_no_error (error);
}

static void
test_refuse_initrd (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = synth_elf (&spec);
  g_autofree char *kernel = write_image (f, "k.elf", img);
  g_autofree char *empty = synth_write (f->dir, "empty", "", 0);
  g_autofree char *big = g_build_filename (f->dir, "big", NULL);
  g_autofree char *missing = g_build_filename (f->dir, "nope", NULL);
  VivBootConfig cfg = { .kernel_path = kernel, .n_cpus = 1 };
  FILE *fp;

  /* A sparse 40 MiB file does not fit in 32 MiB of RAM. */
  fp = fopen (big, "w");
  g_assert_nonnull (fp);
  g_assert_cmpint (fseek (fp, 40 * MiB - 1, SEEK_SET), ==, 0);
  fputc (1, fp);
  fclose (fp);

  cfg.initrd_path = empty;
  assert_refused (refuse (f, &cfg, 32 * MiB), G_FILE_ERROR, G_FILE_ERROR_INVAL, "empty");
  cfg.initrd_path = big;
  assert_refused (refuse (f, &cfg, 32 * MiB), VIV_BOOT_ERROR, VIV_BOOT_ERROR_TOO_BIG,
                  "initrd");
  cfg.initrd_path = missing;
  assert_refused (refuse (f, &cfg, 32 * MiB), G_FILE_ERROR, G_FILE_ERROR_NOENT, "nope");
}

static void
test_refuse_config (Fixture *f, gconstpointer data)
{
  SynthElf spec = default_elf ();
  g_autoptr(GByteArray) img = synth_elf (&spec);
  g_autofree char *kernel = write_image (f, "k.elf", img);
  VivMmioDeviceInfo bad = { .base = 0xD0000000, .size = 0x200, .gsi = 5 };
  VivBootConfig cfg = { .kernel_path = kernel, .n_cpus = 33 };

  assert_refused (refuse (f, &cfg, 32 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_UNSUPPORTED, "33 vCPUs");
  cfg.n_cpus = 1;
  cfg.mmio_devices = &bad;
  cfg.n_mmio_devices = 1;
  assert_refused (refuse (f, &cfg, 32 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_UNSUPPORTED, "GSI 5");
  bad.gsi = 16;
  bad.base = 0x1000;
  assert_refused (refuse (f, &cfg, 32 * MiB), VIV_BOOT_ERROR,
                  VIV_BOOT_ERROR_UNSUPPORTED, "MMIO hole");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) \
  g_test_add ("/boot/load/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("pvh/elf64", test_pvh_elf64);
  ADD ("pvh/elf32-note8", test_pvh_elf32_note8);
  ADD ("pvh/note-in-section", test_pvh_note_in_section);
  ADD ("pvh/initrd", test_pvh_initrd);
  ADD ("pvh/low-free-window", test_elf_in_low_free_window);
  ADD ("cmdline/virtio-mmio", test_cmdline_virtio);
  ADD ("bzimage/basic", test_bzimage);
  ADD ("bzimage/setup-sects-zero", test_bzimage_setup_sects_zero);
  ADD ("bzimage/initrd", test_bzimage_initrd);
  ADD ("bzimage/initrd-addr-max", test_bzimage_initrd_addr_max);
  ADD ("bzimage/high-memory-e820", test_high_memory_e820);
  ADD ("refuse/files", test_refuse_files);
  ADD ("refuse/truncated-elf-header", test_refuse_truncated_elf_header);
  ADD ("refuse/segment-past-eof", test_refuse_segment_past_eof);
  ADD ("refuse/filesz-above-memsz", test_refuse_filesz_above_memsz);
  ADD ("refuse/aarch64", test_refuse_aarch64);
  ADD ("refuse/unknown-machine", test_refuse_unknown_machine);
  ADD ("refuse/no-pvh-note", test_refuse_no_pvh_note);
  ADD ("refuse/bad-note", test_refuse_bad_note);
  ADD ("refuse/entry-outside", test_refuse_entry_outside);
  ADD ("refuse/elf-too-big", test_refuse_elf_too_big);
  ADD ("refuse/elf-over-boot-data", test_refuse_elf_over_boot_data);
  ADD ("refuse/truncated-bzimage", test_refuse_truncated_bzimage);
  ADD ("refuse/old-protocol", test_refuse_old_protocol);
  ADD ("refuse/not-64bit", test_refuse_not_64bit);
  ADD ("refuse/bzimage-too-big", test_refuse_bzimage_too_big);
  ADD ("refuse/long-cmdline", test_refuse_long_cmdline);
  ADD ("refuse/initrd", test_refuse_initrd);
  ADD ("refuse/config", test_refuse_config);
#undef ADD
  return g_test_run ();
}
