#include "kvm/cpuid.h"

#include <errno.h>
#include <stdint.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_MAX_ENTRIES 256
/* Entries appended for leaf 0xB (SMT, core, terminator). */
#define TOPOLOGY_SUBLEAVES 3

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT        (1u << 28)
#define TOPOLOGY_LEVEL_SMT  1
#define TOPOLOGY_LEVEL_CORE 2

static size_t
cpuid_size (unsigned n_entries)
{
  return sizeof (struct kvm_cpuid2) + n_entries * sizeof (struct kvm_cpuid_entry2);
}

struct kvm_cpuid2 *
viv_cpuid_get_supported (const VivKvm *kvm, GError **error)
{
  struct kvm_cpuid2 *cpuid = g_malloc0 (cpuid_size (CPUID_MAX_ENTRIES + TOPOLOGY_SUBLEAVES));
  cpuid->nent = CPUID_MAX_ENTRIES;
  if (ioctl (kvm->fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "KVM_GET_SUPPORTED_CPUID failed: %s", g_strerror (saved));
      g_free (cpuid);
      return NULL;
    }
  return cpuid;
}

static unsigned
bits_for (unsigned count)
{
  unsigned bits = 0;
  while ((1u << bits) < count)
    bits++;
  return bits;
}

static struct kvm_cpuid_entry2 *
find_leaf (struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
  for (uint32_t i = 0; i < cpuid->nent; i++)
    if (cpuid->entries[i].function == function && cpuid->entries[i].index == index)
      return &cpuid->entries[i];
  return NULL;
}

/* Removes every entry of `function` (all subleaves). */
static void
drop_leaf (struct kvm_cpuid2 *cpuid, uint32_t function)
{
  uint32_t kept = 0;
  for (uint32_t i = 0; i < cpuid->nent; i++)
    if (cpuid->entries[i].function != function)
      cpuid->entries[kept++] = cpuid->entries[i];
  cpuid->nent = kept;
}

static void
add_topology_subleaf (struct kvm_cpuid2 *cpuid, uint32_t subleaf, uint32_t shift,
                      uint32_t count, uint32_t level_type, uint32_t apic_id)
{
  cpuid->entries[cpuid->nent++] = (struct kvm_cpuid_entry2) {
    .function = 0xB, .index = subleaf, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
    .eax = shift, .ebx = count, .ecx = subleaf | (level_type << 8), .edx = apic_id,
  };
}

struct kvm_cpuid2 *
viv_cpuid_for_vcpu (const struct kvm_cpuid2 *supported, unsigned index, unsigned n_cpus)
{
  struct kvm_cpuid2 *cpuid = g_memdup2 (supported, cpuid_size (supported->nent + TOPOLOGY_SUBLEAVES));
  uint32_t apic_id = index;
  unsigned core_bits = bits_for (n_cpus);
  struct kvm_cpuid_entry2 *e;

  if ((e = find_leaf (cpuid, 1, 0)))
    {
      e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) | ((1u << core_bits) << 16);
      e->ecx |= CPUID_1_ECX_HYPERVISOR;
      if (n_cpus > 1)
        e->edx |= CPUID_1_EDX_HTT;
      else
        e->edx &= ~CPUID_1_EDX_HTT;
    }

  /* Intel deterministic cache parameters: cores per package, and which
   * caches are shared (the last level by all cores, the others private). */
  uint32_t max_basic = (e = find_leaf (cpuid, 0, 0)) ? e->eax : 0;
  for (uint32_t i = 0; i < cpuid->nent; i++)
    {
      e = &cpuid->entries[i];
      if (e->function != 4 || (e->eax & 0x1f) == 0)
        continue;
      unsigned level = (e->eax >> 5) & 0x7;
      uint32_t sharing = level >= 3 ? (1u << core_bits) - 1 : 0;
      e->eax = (e->eax & 0x3fff) | (sharing << 14) | ((((1u << core_bits) - 1) & 0x3f) << 26);
    }

  /* x2APIC topology: leaf 0x1F would override 0xB, so only 0xB is kept. */
  drop_leaf (cpuid, 0x1F);
  drop_leaf (cpuid, 0xB);
  if (max_basic >= 0xB)
    {
      add_topology_subleaf (cpuid, 0, 0, 1, TOPOLOGY_LEVEL_SMT, apic_id);
      add_topology_subleaf (cpuid, 1, core_bits, n_cpus, TOPOLOGY_LEVEL_CORE, apic_id);
      add_topology_subleaf (cpuid, 2, 0, 0, 0, apic_id);
    }

  /* AMD: core count and APIC id width; extended APIC id. */
  if ((e = find_leaf (cpuid, 0x80000008, 0)))
    e->ecx = (e->ecx & ~0xf0ffu) | (n_cpus - 1) | (core_bits << 12);
  if ((e = find_leaf (cpuid, 0x8000001E, 0)))
    {
      e->eax = apic_id;
      e->ebx = (e->ebx & ~0xffu) | index;
      e->ecx = 0;
    }
  return cpuid;
}
