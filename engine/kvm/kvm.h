/* The /dev/kvm system handle: opened once per process, checked for the API
 * version and every capability the engine relies on. */
#pragma once
#include <gio/gio.h>

typedef struct VivKvm {
  int fd;
  int vcpu_mmap_size;
  unsigned max_vcpus;
} VivKvm;

gboolean viv_kvm_open  (VivKvm *kvm, GError **error);
void     viv_kvm_close (VivKvm *kvm);
/* KVM_CHECK_EXTENSION on the system fd; 0 when absent. */
int      viv_kvm_check (const VivKvm *kvm, int capability);
