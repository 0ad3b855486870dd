/* vCPU threads: each loops on KVM_RUN and hands port and MMIO exits to
 * the machine's buses.  Pausing and stopping use immediate_exit plus a
 * signal, so a vCPU blocked in the guest (or waiting for SIPI) leaves
 * KVM_RUN promptly and without a race. */
#include "kvm/vcpu.h"
#include "kvm/cpuid.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define X86_CR0_PE (1u << 0)
#define X86_CR0_MP (1u << 1)
#define X86_CR0_ET (1u << 4)
#define X86_CR0_NE (1u << 5)
#define X86_CR0_WP (1u << 16)
#define X86_CR0_AM (1u << 18)
#define X86_CR0_PG (1u << 31)
#define X86_CR4_PAE (1u << 5)
#define X86_EFER_LME (1u << 8)
#define X86_EFER_LMA (1u << 10)

#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define BOOT_GDT_ENTRIES 4

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

static const char *const exit_kind_names[VIV_EXIT_N_KINDS] = {
  [VIV_EXIT_IO] = "io",
  [VIV_EXIT_MMIO] = "mmio",
  [VIV_EXIT_HLT] = "hlt",
  [VIV_EXIT_INTERRUPTED] = "interrupted",
  [VIV_EXIT_SHUTDOWN] = "shutdown",
  [VIV_EXIT_SYSTEM_EVENT] = "system-event",
  [VIV_EXIT_INTERNAL_ERROR] = "internal-error",
  [VIV_EXIT_FAIL_ENTRY] = "fail-entry",
  [VIV_EXIT_OTHER] = "other",
};

const char *
viv_exit_kind_name (VivExitKind kind)
{
  return kind < VIV_EXIT_N_KINDS ? exit_kind_names[kind] : "invalid";
}

void
viv_run_control_init (VivRunControl *control, VivBus *pio, VivBus *mmio, VivStopSink stop)
{
  memset (control, 0, sizeof *control);
  control->pio = pio;
  control->mmio = mmio;
  control->stop = stop;
  g_mutex_init (&control->lock);
  g_cond_init (&control->changed);
}

void
viv_run_control_clear (VivRunControl *control)
{
  g_mutex_clear (&control->lock);
  g_cond_clear (&control->changed);
  g_clear_pointer (&control->error_message, g_free);
}

void
viv_run_control_set_error (VivRunControl *control, const char *message)
{
  g_mutex_lock (&control->lock);
  if (!control->error_message)
    control->error_message = g_strdup (message);
  g_mutex_unlock (&control->lock);
}

static gboolean
vcpu_ioctl (VivVcpu *vcpu, unsigned long request, void *arg, const char *what, GError **error)
{
  if (ioctl (vcpu->fd, request, arg) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s on vCPU %u failed: %s", what, vcpu->index, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* Virtual-wire mode, as PC firmware leaves it: the PIC's output on LINT0
 * and NMIs on LINT1.  Only the delivery modes change; masks stay as reset. */
static gboolean
setup_lapic_lint (VivVcpu *vcpu, GError **error)
{
  struct kvm_lapic_state lapic;
  if (!vcpu_ioctl (vcpu, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC", error))
    return FALSE;
  uint32_t lint0, lint1;
  memcpy (&lint0, lapic.regs + APIC_LVT_LINT0, 4);
  memcpy (&lint1, lapic.regs + APIC_LVT_LINT1, 4);
  lint0 = (lint0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
  lint1 = (lint1 & ~0x700u) | (APIC_MODE_NMI << 8);
  memcpy (lapic.regs + APIC_LVT_LINT0, &lint0, 4);
  memcpy (lapic.regs + APIC_LVT_LINT1, &lint1, 4);
  return vcpu_ioctl (vcpu, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC", error);
}

gboolean
viv_vcpu_create (VivVcpu *vcpu, const VivKvm *kvm, const VivVm *vm,
                 unsigned index, unsigned n_cpus,
                 const struct kvm_cpuid2 *supported_cpuid, VivRunControl *control,
                 GError **error)
{
  memset (vcpu, 0, sizeof *vcpu);
  vcpu->index = index;
  vcpu->control = control;
  vcpu->fd = ioctl (vm->fd, KVM_CREATE_VCPU, (unsigned long) index);
  if (vcpu->fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create vCPU %u: %s", index, g_strerror (saved));
      return FALSE;
    }

  vcpu->run_size = kvm->vcpu_mmap_size;
  vcpu->run = mmap (NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
  if (vcpu->run == MAP_FAILED)
    {
      int saved = errno;
      vcpu->run = NULL;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot map vCPU %u's run area: %s", index, g_strerror (saved));
      viv_vcpu_destroy (vcpu);
      return FALSE;
    }

  g_autofree struct kvm_cpuid2 *cpuid = viv_cpuid_for_vcpu (supported_cpuid, index, n_cpus);
  struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
  if (!vcpu_ioctl (vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2", error)
      || !vcpu_ioctl (vcpu, KVM_SET_FPU, &fpu, "KVM_SET_FPU", error)
      || !setup_lapic_lint (vcpu, error))
    {
      viv_vcpu_destroy (vcpu);
      return FALSE;
    }
  return TRUE;
}

static struct kvm_segment
flat_segment (uint16_t selector, uint8_t type, bool long_mode)
{
  return (struct kvm_segment) {
    .base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
    .present = 1, .dpl = 0, .s = 1, .g = 1,
    .l = long_mode, .db = !long_mode,
  };
}

gboolean
viv_vcpu_set_boot_state (VivVcpu *vcpu, const VivBootEntry *entry, GError **error)
{
  struct kvm_sregs sregs;
  if (!vcpu_ioctl (vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", error))
    return FALSE;

  bool long_mode = entry->kind == VIV_ENTRY_LINUX64;
  struct kvm_segment code = flat_segment (BOOT_CS, 0xb, long_mode);
  struct kvm_segment data = flat_segment (BOOT_DS, 0x3, false);
  sregs.cs = code;
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  /* Both boot protocols ask for a busy 32/64-bit TSS in TR. */
  sregs.tr = (struct kvm_segment) { .limit = 0x67, .type = 0xb, .present = 1 };
  sregs.gdt.base = entry->gdt_base;
  sregs.gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;

  struct kvm_regs regs = { .rflags = 0x2, .rip = entry->rip };
  if (long_mode)
    {
      sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP
                  | X86_CR0_AM | X86_CR0_PG;
      sregs.cr3 = entry->page_table;
      sregs.cr4 = X86_CR4_PAE;
      sregs.efer = X86_EFER_LME | X86_EFER_LMA;
      regs.rsi = entry->boot_info;
    }
  else
    {
      /* PVH: protected mode, paging off, caches on. */
      sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
      sregs.cr3 = 0;
      sregs.cr4 = 0;
      sregs.efer = 0;
      regs.rbx = entry->boot_info;
    }

  return vcpu_ioctl (vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS", error)
         && vcpu_ioctl (vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS", error);
}

static int
kick_signal (void)
{
  return SIGRTMIN;
}

static void
kick_handler (int signo)
{
  /* Nothing to do: its only job is to interrupt KVM_RUN. */
}

static gpointer
install_kick_handler (gpointer data)
{
  struct sigaction action = { .sa_handler = kick_handler };
  sigemptyset (&action.sa_mask);
  /* No SA_RESTART: KVM_RUN must return EINTR. */
  sigaction (kick_signal (), &action, NULL);
  return NULL;
}

static void
count_exit (VivVcpu *vcpu, VivExitKind kind)
{
  atomic_store_explicit (&vcpu->exits[kind],
                         atomic_load_explicit (&vcpu->exits[kind], memory_order_relaxed) + 1,
                         memory_order_relaxed);
}

static void
fail (VivVcpu *vcpu, const char *message)
{
  viv_run_control_set_error (vcpu->control, message);
  viv_stop_sink_request (&vcpu->control->stop, VIV_STOP_ERROR, 0);
}

static uint64_t
guest_rip (VivVcpu *vcpu)
{
  struct kvm_regs regs;
  return ioctl (vcpu->fd, KVM_GET_REGS, &regs) == 0 ? regs.rip : 0;
}

static void
handle_io (VivVcpu *vcpu)
{
  struct kvm_run *run = vcpu->run;
  unsigned size = run->io.size;
  uint64_t bytes = (uint64_t) size * run->io.count;
  if (run->io.data_offset > vcpu->run_size || bytes > vcpu->run_size - run->io.data_offset)
    {
      fail (vcpu, "KVM reported port I/O data outside the vCPU run area");
      return;
    }
  uint8_t *data = (uint8_t *) run + run->io.data_offset;
  /* String instructions (rep outsb/insb) arrive as `count` accesses. */
  for (uint32_t i = 0; i < run->io.count; i++, data += size)
    {
      if (run->io.direction == KVM_EXIT_IO_OUT)
        viv_bus_write (vcpu->control->pio, run->io.port, data, size);
      else
        viv_bus_read (vcpu->control->pio, run->io.port, data, size);
    }
}

static void
handle_mmio (VivVcpu *vcpu)
{
  struct kvm_run *run = vcpu->run;
  unsigned len = run->mmio.len;
  if (len == 0 || len > sizeof run->mmio.data)
    return;
  if (run->mmio.is_write)
    viv_bus_write (vcpu->control->mmio, run->mmio.phys_addr, run->mmio.data, len);
  else
    viv_bus_read (vcpu->control->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

static void
handle_exit (VivVcpu *vcpu)
{
  struct kvm_run *run = vcpu->run;
  g_autofree char *message = NULL;

  switch (run->exit_reason)
    {
    case KVM_EXIT_IO:
      count_exit (vcpu, VIV_EXIT_IO);
      handle_io (vcpu);
      return;
    case KVM_EXIT_MMIO:
      count_exit (vcpu, VIV_EXIT_MMIO);
      handle_mmio (vcpu);
      return;
    case KVM_EXIT_HLT:
      /* The in-kernel LAPIC handles HLT; an exit here only means "again". */
      count_exit (vcpu, VIV_EXIT_HLT);
      return;
    case KVM_EXIT_INTR:
      count_exit (vcpu, VIV_EXIT_INTERRUPTED);
      return;
    case KVM_EXIT_SHUTDOWN:
      /* A triple fault resets a PC; code 1 lets the owner say so. */
      count_exit (vcpu, VIV_EXIT_SHUTDOWN);
      viv_stop_sink_request (&vcpu->control->stop, VIV_STOP_RESET, 1);
      return;
    case KVM_EXIT_SYSTEM_EVENT:
      count_exit (vcpu, VIV_EXIT_SYSTEM_EVENT);
      switch (run->system_event.type)
        {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
          viv_stop_sink_request (&vcpu->control->stop, VIV_STOP_POWEROFF, 0);
          return;
        case KVM_SYSTEM_EVENT_RESET:
          viv_stop_sink_request (&vcpu->control->stop, VIV_STOP_RESET, 0);
          return;
        default:
          message = g_strdup_printf ("vCPU %u: the guest reported a crash (system event %u)",
                                     vcpu->index, run->system_event.type);
          fail (vcpu, message);
          return;
        }
    case KVM_EXIT_INTERNAL_ERROR:
      count_exit (vcpu, VIV_EXIT_INTERNAL_ERROR);
      message = g_strdup_printf ("vCPU %u: KVM could not run the guest (internal error, "
                                 "suberror %u) at rip 0x%" G_GINT64_MODIFIER "x",
                                 vcpu->index, run->internal.suberror, guest_rip (vcpu));
      fail (vcpu, message);
      return;
    case KVM_EXIT_FAIL_ENTRY:
      count_exit (vcpu, VIV_EXIT_FAIL_ENTRY);
      message = g_strdup_printf ("vCPU %u: VM entry failed (hardware reason 0x%llx)",
                                 vcpu->index, run->fail_entry.hardware_entry_failure_reason);
      fail (vcpu, message);
      return;
    default:
      count_exit (vcpu, VIV_EXIT_OTHER);
      message = g_strdup_printf ("vCPU %u: unexpected KVM exit reason %u",
                                 vcpu->index, run->exit_reason);
      fail (vcpu, message);
      return;
    }
}

/* Waits while a pause is requested; the pauser counts parked threads. */
static void
park (VivVcpu *vcpu)
{
  VivRunControl *control = vcpu->control;
  g_mutex_lock (&control->lock);
  control->n_running--;
  g_cond_broadcast (&control->changed);
  while (atomic_load (&control->pause_requested) && !atomic_load (&vcpu->stop_requested))
    g_cond_wait (&control->changed, &control->lock);
  control->n_running++;
  g_mutex_unlock (&control->lock);
}

static void *
vcpu_thread (void *data)
{
  VivVcpu *vcpu = data;
  sigset_t kick;
  sigemptyset (&kick);
  sigaddset (&kick, kick_signal ());
  pthread_sigmask (SIG_UNBLOCK, &kick, NULL);

  for (;;)
    {
      /* Clear first, then look at the flags: a kicker sets its flag before
       * immediate_exit, so either we see the flag or KVM_RUN returns at once. */
      vcpu->run->immediate_exit = 0;
      atomic_thread_fence (memory_order_seq_cst);
      if (atomic_load (&vcpu->stop_requested))
        break;
      if (atomic_load (&vcpu->control->pause_requested))
        {
          park (vcpu);
          continue;
        }

      if (ioctl (vcpu->fd, KVM_RUN, 0) < 0)
        {
          /* EAGAIN: an AP woken by INIT/SIPI; EINTR: a kick. */
          if (errno == EINTR || errno == EAGAIN)
            {
              count_exit (vcpu, VIV_EXIT_INTERRUPTED);
              continue;
            }
          g_autofree char *message = g_strdup_printf ("vCPU %u: KVM_RUN failed: %s",
                                                      vcpu->index, g_strerror (errno));
          fail (vcpu, message);
          break;
        }
      handle_exit (vcpu);
    }

  g_mutex_lock (&vcpu->control->lock);
  vcpu->control->n_running--;
  g_cond_broadcast (&vcpu->control->changed);
  g_mutex_unlock (&vcpu->control->lock);
  return NULL;
}

gboolean
viv_vcpu_start (VivVcpu *vcpu, GError **error)
{
  static GOnce handler_once = G_ONCE_INIT;
  g_once (&handler_once, install_kick_handler, NULL);

  /* The thread starts with the kick signal blocked and unblocks it itself,
   * so no kick can land before the thread is ready for it. */
  sigset_t kick, old;
  sigemptyset (&kick);
  sigaddset (&kick, kick_signal ());
  pthread_sigmask (SIG_BLOCK, &kick, &old);

  g_mutex_lock (&vcpu->control->lock);
  vcpu->control->n_running++;
  g_mutex_unlock (&vcpu->control->lock);

  int err = pthread_create (&vcpu->thread, NULL, vcpu_thread, vcpu);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (err != 0)
    {
      g_mutex_lock (&vcpu->control->lock);
      vcpu->control->n_running--;
      g_mutex_unlock (&vcpu->control->lock);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "cannot start the thread of vCPU %u: %s", vcpu->index, g_strerror (err));
      return FALSE;
    }
  g_autofree char *name = g_strdup_printf ("vcpu%u", vcpu->index);
  pthread_setname_np (vcpu->thread, name);
  vcpu->thread_started = true;
  return TRUE;
}

void
viv_vcpu_kick (VivVcpu *vcpu)
{
  if (!vcpu->thread_started)
    return;
  vcpu->run->immediate_exit = 1;
  atomic_thread_fence (memory_order_seq_cst);
  pthread_kill (vcpu->thread, kick_signal ());
}

void
viv_vcpu_request_stop (VivVcpu *vcpu)
{
  atomic_store (&vcpu->stop_requested, true);
  /* Wake it if parked, then knock it out of KVM_RUN. */
  g_mutex_lock (&vcpu->control->lock);
  g_cond_broadcast (&vcpu->control->changed);
  g_mutex_unlock (&vcpu->control->lock);
  viv_vcpu_kick (vcpu);
}

void
viv_vcpu_join (VivVcpu *vcpu)
{
  if (!vcpu->thread_started)
    return;
  pthread_join (vcpu->thread, NULL);
  vcpu->thread_started = false;
}

void
viv_vcpu_destroy (VivVcpu *vcpu)
{
  viv_vcpu_join (vcpu);
  if (vcpu->run)
    munmap (vcpu->run, vcpu->run_size);
  vcpu->run = NULL;
  if (vcpu->fd >= 0)
    close (vcpu->fd);
  vcpu->fd = -1;
}
