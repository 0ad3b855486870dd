#include "kvm/vm.h"
#include "layout.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

static gboolean
vm_ioctl (VivVm *vm, unsigned long request, void *arg, const char *what, GError **error)
{
  if (ioctl (vm->fd, request, arg) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s failed: %s", what, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_vm_create (VivVm *vm, const VivKvm *kvm, const VivGuestMemory *mem, GError **error)
{
  vm->fd = ioctl (kvm->fd, KVM_CREATE_VM, 0);
  if (vm->fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create a KVM virtual machine: %s", g_strerror (saved));
      return FALSE;
    }

  /* VMX needs these pages for real-mode emulation; they must lie outside
   * RAM, so they sit just below the BIOS ROM area in the MMIO hole. */
  uint64_t identity_map = VIV_IDENTITY_MAP_ADDR;
  if (!vm_ioctl (vm, KVM_SET_IDENTITY_MAP_ADDR, &identity_map, "KVM_SET_IDENTITY_MAP_ADDR", error)
      || ioctl (vm->fd, KVM_SET_TSS_ADDR, (unsigned long) VIV_TSS_ADDR) < 0)
    {
      if (error && !*error)
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                     "KVM_SET_TSS_ADDR failed: %s", g_strerror (errno));
      viv_vm_destroy (vm);
      return FALSE;
    }

  for (unsigned i = 0; i < mem->n_slots; i++)
    {
      struct kvm_userspace_memory_region region = {
        .slot = i,
        .guest_phys_addr = mem->slots[i].gpa,
        .memory_size = mem->slots[i].size,
        .userspace_addr = (uintptr_t) mem->slots[i].hva,
      };
      if (!vm_ioctl (vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION", error))
        {
          viv_vm_destroy (vm);
          return FALSE;
        }
    }

  /* PIC + IOAPIC + per-vCPU LAPIC in the kernel: interrupts never need a
   * trip through user space.  The PIT's speaker port is emulated in the
   * kernel too, so the guest's timer calibration does not exit. */
  struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
  if (!vm_ioctl (vm, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP", error)
      || !vm_ioctl (vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2", error))
    {
      viv_vm_destroy (vm);
      return FALSE;
    }
  return TRUE;
}

void
viv_vm_destroy (VivVm *vm)
{
  if (vm->fd >= 0)
    close (vm->fd);
  vm->fd = -1;
}

void
viv_vm_set_irq_level (void *opaque, unsigned gsi, bool level)
{
  VivVm *vm = opaque;
  struct kvm_irq_level irq = { .irq = gsi, .level = level };
  /* Fails only for a GSI outside the routing table: a wiring bug, not a
   * guest action, so it is worth a loud message. */
  if (ioctl (vm->fd, KVM_IRQ_LINE, &irq) < 0)
    g_critical ("KVM_IRQ_LINE gsi %u: %s", gsi, g_strerror (errno));
}

gboolean
viv_vm_ioeventfd (const VivVm *vm, uint64_t addr, unsigned len, uint64_t datamatch,
                  int fd, bool assign, GError **error)
{
  struct kvm_ioeventfd ioeventfd = {
    .datamatch = datamatch,
    .addr = addr,
    .len = len,
    .fd = fd,
    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
  };
  if (ioctl (vm->fd, KVM_IOEVENTFD, &ioeventfd) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "KVM_IOEVENTFD (%s 0x%" G_GINT64_MODIFIER "x, data %" G_GUINT64_FORMAT ") failed: %s",
                   assign ? "assign" : "deassign", addr, datamatch, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

gboolean
viv_vm_irqfd (const VivVm *vm, unsigned gsi, int fd, int resample_fd,
              bool assign, GError **error)
{
  struct kvm_irqfd irqfd = {
    .fd = fd,
    .gsi = gsi,
    .flags = assign ? KVM_IRQFD_FLAG_RESAMPLE : KVM_IRQFD_FLAG_DEASSIGN,
    .resamplefd = assign ? resample_fd : 0,
  };
  if (ioctl (vm->fd, KVM_IRQFD, &irqfd) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "KVM_IRQFD (%s gsi %u) failed: %s",
                   assign ? "assign" : "deassign", gsi, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}
