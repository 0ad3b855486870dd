/* Synthetic kernel images and guest memory for the boot tests. */
#pragma once
#include <stdint.h>
#include <glib.h>
#include "kvm/memory.h"

typedef struct {
  gboolean is64;
  uint16_t machine;           /* EM_X86_64, EM_386, EM_AARCH64 ... */
  uint64_t paddr;             /* where the single PT_LOAD goes */
  const uint8_t *payload;     /* its file bytes */
  size_t   payload_len;
  uint64_t memsz;             /* >= payload_len: the rest is .bss */
  uint64_t entry;             /* PVH entry in the note */
  unsigned note_desc_size;    /* 4 or 8; 0 = no PVH note */
  gboolean note_in_section;   /* note in a SHT_NOTE section, not a PT_NOTE */
} SynthElf;

/* Offsets inside the image synth_elf() builds, for tests that corrupt it. */
#define SYNTH_ELF_PHOFF        0x40
#define SYNTH_ELF_PAYLOAD_OFF  0x200

GByteArray *synth_elf (const SynthElf *spec);
/* Offset of the PT_LOAD program header's p_filesz / p_memsz fields. */
size_t synth_elf_load_filesz_offset (gboolean is64);

typedef struct {
  uint16_t version;           /* 0x020F = 2.15 */
  uint16_t xloadflags;
  uint8_t  setup_sects;       /* 0 means 4 */
  size_t   kernel_len;        /* protected-mode part, filled with a pattern */
  uint32_t init_size;
  uint64_t pref_address;
  uint32_t cmdline_size;
  uint32_t initrd_addr_max;
} SynthBzImage;

GByteArray *synth_bzimage (const SynthBzImage *spec);
SynthBzImage synth_bzimage_default (void);
uint8_t synth_pattern (size_t i);

/* A new temporary directory, removed with its files by synth_rmdir(). */
char *synth_tmpdir (void);
void  synth_rmdir (const char *dir);
char *synth_write (const char *dir, const char *name, const void *data, size_t len);

/* Real guest RAM (viv_guest_memory_init); fails the test on error. */
void synth_memory (VivGuestMemory *mem, uint64_t size);
