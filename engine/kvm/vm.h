/* A KVM virtual machine: its fd, RAM slots, in-kernel irqchip and PIT. */
#pragma once
#include <stdbool.h>
#include "kvm/kvm.h"
#include "kvm/memory.h"

typedef struct VivVm {
  int fd;
} VivVm;

/* Creates the VM with the in-kernel PIC/IOAPIC/LAPIC and PIT, the TSS and
 * identity-map pages VMX needs, and one memory slot per VivMemSlot. */
gboolean viv_vm_create  (VivVm *vm, const VivKvm *kvm, const VivGuestMemory *mem, GError **error);
void     viv_vm_destroy (VivVm *vm);

/* Matches VivIrqLine.set_level: raises or lowers a GSI (KVM_IRQ_LINE). */
void     viv_vm_set_irq_level (void *vm, unsigned gsi, bool level);

/* Registers (assign) or removes an eventfd that KVM signals, without an
 * exit, when the guest writes `datamatch` with a `len`-byte write at MMIO
 * address `addr` (KVM_IOEVENTFD with DATAMATCH). */
gboolean viv_vm_ioeventfd (const VivVm *vm, uint64_t addr, unsigned len, uint64_t datamatch,
                           int fd, bool assign, GError **error);
/* Registers or removes a level-triggered irqfd: writing `fd` asserts `gsi`,
 * the guest's EOI deasserts it and signals `resample_fd` (KVM_IRQFD with
 * KVM_IRQFD_FLAG_RESAMPLE; needs the in-kernel irqchip). */
gboolean viv_vm_irqfd (const VivVm *vm, unsigned gsi, int fd, int resample_fd,
                       bool assign, GError **error);
