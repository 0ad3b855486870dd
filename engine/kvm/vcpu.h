/* A virtual CPU: its KVM fd, shared kvm_run page, thread and exit counters.
 * All vCPUs of a machine share one VivRunControl, through which they are
 * paused, resumed and stopped. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "kvm/kvm.h"
#include "kvm/vm.h"
#include "boot/boot.h"
#include "devices/bus.h"

struct kvm_cpuid2;
struct kvm_run;

/* Why KVM_RUN returned: the numbers users see in the teaching views. */
typedef enum {
  VIV_EXIT_IO,             /* port I/O */
  VIV_EXIT_MMIO,           /* memory-mapped I/O to a user-space device */
  VIV_EXIT_HLT,
  VIV_EXIT_INTERRUPTED,    /* a signal kicked the vCPU out (pause, stop) */
  VIV_EXIT_SHUTDOWN,       /* triple fault */
  VIV_EXIT_SYSTEM_EVENT,
  VIV_EXIT_INTERNAL_ERROR,
  VIV_EXIT_FAIL_ENTRY,
  VIV_EXIT_OTHER,
  VIV_EXIT_N_KINDS
} VivExitKind;

const char *viv_exit_kind_name (VivExitKind kind);

typedef struct VivRunControl {
  VivBus      *pio;
  VivBus      *mmio;
  VivStopSink  stop;            /* where exits that end the run are reported */
  atomic_bool  pause_requested;
  GMutex       lock;
  GCond        changed;         /* paused count or pause_requested changed */
  unsigned     n_running;       /* vCPU threads not parked */
  char        *error_message;   /* first fatal vCPU error, under lock */
} VivRunControl;

typedef struct VivVcpu {
  unsigned        index;
  int             fd;
  struct kvm_run *run;
  size_t          run_size;
  pthread_t       thread;
  bool            thread_started;
  atomic_bool     stop_requested;
  VivRunControl  *control;
  /* Written by the vCPU thread only; read by others with relaxed loads. */
  _Atomic uint64_t exits[VIV_EXIT_N_KINDS];
} VivVcpu;

void     viv_run_control_init  (VivRunControl *control, VivBus *pio, VivBus *mmio, VivStopSink stop);
void     viv_run_control_clear (VivRunControl *control);
/* Records the first fatal error; later ones are dropped. */
void     viv_run_control_set_error (VivRunControl *control, const char *message);

gboolean viv_vcpu_create (VivVcpu *vcpu, const VivKvm *kvm, const VivVm *vm,
                          unsigned index, unsigned n_cpus,
                          const struct kvm_cpuid2 *supported_cpuid, VivRunControl *control,
                          GError **error);
/* Puts the boot CPU at the loader's entry point (PVH 32-bit or Linux 64-bit). */
gboolean viv_vcpu_set_boot_state (VivVcpu *vcpu, const VivBootEntry *entry, GError **error);
gboolean viv_vcpu_start   (VivVcpu *vcpu, GError **error);
/* Makes KVM_RUN return soon (immediate_exit + a signal). Thread-safe. */
void     viv_vcpu_kick    (VivVcpu *vcpu);
void     viv_vcpu_request_stop (VivVcpu *vcpu);
void     viv_vcpu_join    (VivVcpu *vcpu);
void     viv_vcpu_destroy (VivVcpu *vcpu);
