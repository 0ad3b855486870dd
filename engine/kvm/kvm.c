#include "kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_DEVICE "/dev/kvm"

/* Everything the engine calls without a fallback.  Checked up front so
 * that a host lacking one fails with its name, not with a later EINVAL. */
static const struct {
  int cap;
  const char *name;
} required_caps[] = {
  { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
  { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
  { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
  { KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
  { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
  { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
  { KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
  { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
  { KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK" },
  { KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
  { KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
  { KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
};

gboolean
viv_kvm_open (VivKvm *kvm, GError **error)
{
  kvm->fd = open (KVM_DEVICE, O_RDWR | O_CLOEXEC);
  if (kvm->fd < 0)
    {
      int saved = errno;
      if (saved == ENOENT || saved == ENXIO || saved == ENODEV)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                     "%s is missing: load the KVM module (modprobe kvm_intel or "
                     "kvm_amd) and enable virtualization in the firmware settings",
                     KVM_DEVICE);
      else if (saved == EACCES || saved == EPERM)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                     "no permission to open %s: add yourself to the kvm group "
                     "(sudo usermod -aG kvm $USER) and log in again",
                     KVM_DEVICE);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                     "cannot open %s: %s", KVM_DEVICE, g_strerror (saved));
      return FALSE;
    }

  int version = ioctl (kvm->fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s speaks KVM API version %d, this program needs %d",
                   KVM_DEVICE, version, KVM_API_VERSION);
      viv_kvm_close (kvm);
      return FALSE;
    }

  for (size_t i = 0; i < G_N_ELEMENTS (required_caps); i++)
    if (viv_kvm_check (kvm, required_caps[i].cap) <= 0)
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                     "this kernel's KVM lacks %s, which Vivarium needs; "
                     "use a newer kernel", required_caps[i].name);
        viv_kvm_close (kvm);
        return FALSE;
      }

  kvm->vcpu_mmap_size = ioctl (kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (kvm->vcpu_mmap_size < (int) sizeof (struct kvm_run))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "KVM_GET_VCPU_MMAP_SIZE failed: %s", g_strerror (errno));
      viv_kvm_close (kvm);
      return FALSE;
    }

  int max = viv_kvm_check (kvm, KVM_CAP_MAX_VCPUS);
  if (max <= 0)
    max = viv_kvm_check (kvm, KVM_CAP_NR_VCPUS);
  kvm->max_vcpus = max > 0 ? (unsigned) max : 4;  /* KVM's documented default */
  return TRUE;
}

void
viv_kvm_close (VivKvm *kvm)
{
  if (kvm->fd >= 0)
    close (kvm->fd);
  kvm->fd = -1;
}

int
viv_kvm_check (const VivKvm *kvm, int capability)
{
  return ioctl (kvm->fd, KVM_CHECK_EXTENSION, capability);
}
