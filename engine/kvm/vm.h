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
