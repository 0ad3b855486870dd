/* Per-vCPU CPUID: APIC ids and the topology leaves Linux reads. */
#include "kvm/cpuid.h"

#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>

static const struct kvm_cpuid_entry2 *
find (const struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
  for (uint32_t i = 0; i < cpuid->nent; i++)
    if (cpuid->entries[i].function == function && cpuid->entries[i].index == index)
      return &cpuid->entries[i];
  return NULL;
}

static struct kvm_cpuid2 *
synthetic_host (void)
{
  /* The shape KVM_GET_SUPPORTED_CPUID returns on an Intel host. */
  static const struct kvm_cpuid_entry2 entries[] = {
    { .function = 0, .eax = 0x1f },
    { .function = 1, .ebx = 0x00010800, .ecx = 0x80000001, .edx = 0x10000000 },
    { .function = 4, .index = 0, .eax = 0x1c004121 },   /* L1d */
    { .function = 4, .index = 1, .eax = 0x1c004143 },   /* L2 */
    { .function = 4, .index = 2, .eax = 0x1c03c163 },   /* L3 */
    { .function = 4, .index = 3, .eax = 0 },
    { .function = 0xB, .index = 0, .eax = 1, .ebx = 2, .ecx = 0x100 },
    { .function = 0xB, .index = 1, .eax = 7, .ebx = 64, .ecx = 0x201 },
    { .function = 0x1F, .index = 0, .eax = 1, .ebx = 2, .ecx = 0x100 },
    { .function = 0x80000008, .ecx = 0x7007 },
  };
  struct kvm_cpuid2 *cpuid = g_malloc0 (sizeof *cpuid + (G_N_ELEMENTS (entries) + 3) * sizeof entries[0]);
  cpuid->nent = G_N_ELEMENTS (entries);
  memcpy (cpuid->entries, entries, sizeof entries);
  return cpuid;
}

static void
test_topology (void)
{
  g_autofree struct kvm_cpuid2 *host = synthetic_host ();
  for (unsigned n = 1; n <= 32; n = n * 2 + 1)
    for (unsigned index = 0; index < n; index += MAX (1, n / 3))
      {
        g_autofree struct kvm_cpuid2 *cpuid = viv_cpuid_for_vcpu (host, index, n);
        const struct kvm_cpuid_entry2 *leaf1 = find (cpuid, 1, 0);
        g_assert_cmpuint (leaf1->ebx >> 24, ==, index);
        g_assert_cmpuint ((leaf1->ebx >> 16) & 0xff, >=, n);
        g_assert_true (leaf1->ecx & (1u << 31));               /* hypervisor present */
        g_assert_cmpuint (!!(leaf1->edx & (1u << 28)), ==, n > 1); /* HTT */
        g_assert_cmphex (leaf1->ebx & 0xffff, ==, 0x0800);     /* CLFLUSH size kept */

        const struct kvm_cpuid_entry2 *smt = find (cpuid, 0xB, 0);
        const struct kvm_cpuid_entry2 *core = find (cpuid, 0xB, 1);
        const struct kvm_cpuid_entry2 *end = find (cpuid, 0xB, 2);
        g_assert_nonnull (smt);
        g_assert_nonnull (core);
        g_assert_nonnull (end);
        g_assert_cmpuint (smt->ebx, ==, 1);
        g_assert_cmpuint (core->ebx, ==, n);
        g_assert_cmpuint ((core->ecx >> 8) & 0xff, ==, 2);
        g_assert_cmpuint (1u << core->eax, >=, n);
        g_assert_cmpuint (smt->edx, ==, index);
        g_assert_cmpuint (core->edx, ==, index);
        g_assert_cmpuint ((end->ecx >> 8) & 0xff, ==, 0);
        g_assert_null (find (cpuid, 0x1F, 0));

        /* Only the last-level cache is shared between cores. */
        g_assert_cmpuint ((find (cpuid, 4, 0)->eax >> 14) & 0xfff, ==, 0);
        g_assert_cmpuint (((find (cpuid, 4, 2)->eax >> 14) & 0xfff) + 1, >=, n);
        g_assert_cmpuint (((find (cpuid, 4, 2)->eax >> 26) & 0x3f) + 1, >=, n);
        g_assert_cmpuint ((find (cpuid, 0x80000008, 0)->ecx & 0xff) + 1, ==, n);
      }
}

static void
test_host_cpuid (void)
{
  VivKvm kvm;
  g_autoptr (GError) error = NULL;
  if (!viv_kvm_open (&kvm, &error))
    {
      g_test_skip (error->message);
      return;
    }
  g_autofree struct kvm_cpuid2 *host = viv_cpuid_get_supported (&kvm, &error);
  g_assert_no_error (error);
  g_autofree struct kvm_cpuid2 *cpuid = viv_cpuid_for_vcpu (host, 5, 8);
  g_assert_cmpuint (find (cpuid, 1, 0)->ebx >> 24, ==, 5);
  /* KVM's paravirtual leaves (kvmclock among them) are passed on. */
  const struct kvm_cpuid_entry2 *kvm_leaf = find (cpuid, 0x40000000, 0);
  g_assert_nonnull (kvm_leaf);
  char signature[13] = { 0 };
  memcpy (signature, &kvm_leaf->ebx, 4);
  memcpy (signature + 4, &kvm_leaf->ecx, 4);
  memcpy (signature + 8, &kvm_leaf->edx, 4);
  g_assert_cmpstr (signature, ==, "KVMKVMKVM");
  viv_kvm_close (&kvm);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpuid/topology", test_topology);
  g_test_add_func ("/cpuid/host", test_host_cpuid);
  return g_test_run ();
}
