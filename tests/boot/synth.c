#include "synth.h"
#include <asm/bootparam.h>
#include <elf.h>
#include <glib/gstdio.h>
#include <string.h>

uint8_t
synth_pattern (size_t i)
{
  return (uint8_t) (i * 7 + (i >> 8) + 1);
}

static void
put (GByteArray *img, size_t offset, const void *data, size_t len)
{
  if (img->len < offset + len)
    g_byte_array_set_size (img, (guint) (offset + len));
  memcpy (img->data + offset, data, len);
}

/* Name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY, 4- or 8-byte value. */
static size_t
put_pvh_note (GByteArray *img, size_t offset, const SynthElf *s)
{
  Elf32_Nhdr n = { .n_namesz = 4, .n_descsz = s->note_desc_size, .n_type = 18 };
  uint32_t v32 = (uint32_t) s->entry;

  put (img, offset, &n, sizeof n);
  put (img, offset + sizeof n, "Xen", 4);
  if (s->note_desc_size == 8)
    put (img, offset + sizeof n + 4, &s->entry, 8);
  else
    put (img, offset + sizeof n + 4, &v32, 4);
  return sizeof n + 4 + s->note_desc_size;
}

GByteArray *
synth_elf (const SynthElf *s)
{
  GByteArray *img = g_byte_array_new ();
  const size_t note_off = 0x180;
  gboolean note_phdr = s->note_desc_size != 0 && !s->note_in_section;
  size_t note_len = 0, sh_off;
  uint16_t phnum = note_phdr ? 2 : 1;

  g_byte_array_set_size (img, SYNTH_ELF_PAYLOAD_OFF);
  memset (img->data, 0, img->len);
  put (img, SYNTH_ELF_PAYLOAD_OFF, s->payload, s->payload_len);
  if (s->note_desc_size != 0)
    note_len = put_pvh_note (img, note_off, s);
  sh_off = (img->len + 7) & ~(size_t) 7;

  if (s->is64)
    {
      Elf64_Ehdr e = {
        .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
                     ELFDATA2LSB, EV_CURRENT },
        .e_type = ET_EXEC, .e_machine = s->machine, .e_version = EV_CURRENT,
        .e_entry = s->paddr, .e_phoff = SYNTH_ELF_PHOFF,
        .e_ehsize = sizeof (Elf64_Ehdr), .e_phentsize = sizeof (Elf64_Phdr),
        .e_phnum = phnum, .e_shentsize = sizeof (Elf64_Shdr),
      };
      Elf64_Phdr load = {
        .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X,
        .p_offset = SYNTH_ELF_PAYLOAD_OFF, .p_vaddr = s->paddr,
        .p_paddr = s->paddr, .p_filesz = s->payload_len, .p_memsz = s->memsz,
        .p_align = 0x1000,
      };
      Elf64_Phdr note = { .p_type = PT_NOTE, .p_offset = note_off,
                          .p_filesz = note_len, .p_align = 4 };
      if (s->note_in_section && note_len)
        {
          Elf64_Shdr sh[2] = { { 0 }, { .sh_type = SHT_NOTE, .sh_offset = note_off,
                                        .sh_size = note_len, .sh_addralign = 4 } };
          e.e_shoff = sh_off;
          e.e_shnum = 2;
          put (img, sh_off, sh, sizeof sh);
        }
      put (img, 0, &e, sizeof e);
      put (img, SYNTH_ELF_PHOFF, &load, sizeof load);
      if (note_phdr)
        put (img, SYNTH_ELF_PHOFF + sizeof load, &note, sizeof note);
    }
  else
    {
      Elf32_Ehdr e = {
        .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32,
                     ELFDATA2LSB, EV_CURRENT },
        .e_type = ET_EXEC, .e_machine = s->machine, .e_version = EV_CURRENT,
        .e_entry = (uint32_t) s->paddr, .e_phoff = SYNTH_ELF_PHOFF,
        .e_ehsize = sizeof (Elf32_Ehdr), .e_phentsize = sizeof (Elf32_Phdr),
        .e_phnum = phnum, .e_shentsize = sizeof (Elf32_Shdr),
      };
      Elf32_Phdr load = {
        .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X,
        .p_offset = SYNTH_ELF_PAYLOAD_OFF, .p_vaddr = (uint32_t) s->paddr,
        .p_paddr = (uint32_t) s->paddr, .p_filesz = (uint32_t) s->payload_len,
        .p_memsz = (uint32_t) s->memsz, .p_align = 0x1000,
      };
      Elf32_Phdr note = { .p_type = PT_NOTE, .p_offset = note_off,
                          .p_filesz = (uint32_t) note_len, .p_align = 4 };
      if (s->note_in_section && note_len)
        {
          Elf32_Shdr sh[2] = { { 0 }, { .sh_type = SHT_NOTE, .sh_offset = note_off,
                                        .sh_size = (uint32_t) note_len,
                                        .sh_addralign = 4 } };
          e.e_shoff = (uint32_t) sh_off;
          e.e_shnum = 2;
          put (img, sh_off, sh, sizeof sh);
        }
      put (img, 0, &e, sizeof e);
      put (img, SYNTH_ELF_PHOFF, &load, sizeof load);
      if (note_phdr)
        put (img, SYNTH_ELF_PHOFF + sizeof load, &note, sizeof note);
    }
  return img;
}

size_t
synth_elf_load_filesz_offset (gboolean is64)
{
  return SYNTH_ELF_PHOFF + (is64 ? offsetof (Elf64_Phdr, p_filesz)
                                 : offsetof (Elf32_Phdr, p_filesz));
}

SynthBzImage
synth_bzimage_default (void)
{
  return (SynthBzImage) {
    .version = 0x020F,
    .xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
    .setup_sects = 0,
    .kernel_len = 0x3000,
    .init_size = 0x800000,
    .pref_address = 0x1000000,
    .cmdline_size = 2047,
    .initrd_addr_max = 0x7FFFFFFF,
  };
}

GByteArray *
synth_bzimage (const SynthBzImage *s)
{
  GByteArray *img = g_byte_array_new ();
  size_t setup_len = ((size_t) (s->setup_sects ? s->setup_sects : 4) + 1) * 512;
  struct setup_header h = { 0 };
  const size_t hdr_end = 0x1F1 + sizeof h;

  g_byte_array_set_size (img, (guint) (setup_len + s->kernel_len));
  memset (img->data, 0, setup_len);
  for (size_t i = 0; i < s->kernel_len; i++)
    img->data[setup_len + i] = synth_pattern (i);

  h.setup_sects = s->setup_sects;
  h.boot_flag = 0xAA55;
  h.jump = (uint16_t) (0xEB | ((hdr_end - 0x202) << 8));
  h.header = 0x53726448;   /* "HdrS" */
  h.version = s->version;
  h.loadflags = LOADED_HIGH;
  h.kernel_alignment = 0x200000;
  h.relocatable_kernel = 1;
  h.xloadflags = s->xloadflags;
  h.cmdline_size = s->cmdline_size;
  h.initrd_addr_max = s->initrd_addr_max;
  h.pref_address = s->pref_address;
  h.init_size = s->init_size;
  h.syssize = (uint32_t) (s->kernel_len / 16);
  memcpy (img->data + 0x1F1, &h, sizeof h);
  return img;
}

char *
synth_tmpdir (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("viv-boot-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
synth_rmdir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        synth_rmdir (path);
      else
        g_unlink (path);
    }
  g_dir_close (d);
  g_rmdir (dir);
}

char *
synth_write (const char *dir, const char *name, const void *data, size_t len)
{
  char *path = g_build_filename (dir, name, NULL);
  GError *error = NULL;

  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
  return path;
}

void
synth_memory (VivGuestMemory *mem, uint64_t size)
{
  GError *error = NULL;

  viv_guest_memory_init (mem, size, &error);
  g_assert_no_error (error);
}
