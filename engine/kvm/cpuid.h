/* Guest CPUID: what the host's KVM supports, with each vCPU's APIC id and
 * the topology (one socket, one thread per core) written in. */
#pragma once
#include "kvm/kvm.h"

struct kvm_cpuid2;

/* The host's supported leaves, with room for the topology leaves we add. */
struct kvm_cpuid2 *viv_cpuid_get_supported (const VivKvm *kvm, GError **error);

/* A copy of `supported` for vCPU `index` of `n_cpus`; free with g_free. */
struct kvm_cpuid2 *viv_cpuid_for_vcpu (const struct kvm_cpuid2 *supported,
                                       unsigned index, unsigned n_cpus);
