/* A whole virtual machine: guest memory, vCPUs, buses and the legacy PC
 * devices, assembled from a VivMachineConfig.  The owner (vivctl, the
 * worker) drives it from its main thread:
 *   new → start → (stopped callback) → finish → free
 * finish() returns VIV_STOP_NONE when a reset rebooted the machine per
 * policy; the owner then keeps waiting for the next stopped callback. */
#pragma once
#include <stdint.h>
#include "block/block.h"
#include "devices/bus.h"
#include "kvm/vcpu.h"
#include "net/net.h"

#define VIV_MACHINE_ERROR (viv_machine_error_quark ())
GQuark viv_machine_error_quark (void);

typedef enum {
  VIV_MACHINE_ERROR_INVALID_CONFIG,  /* a value out of range: says which and why */
  VIV_MACHINE_ERROR_FAILED,          /* the engine failed while running */
} VivMachineError;

typedef enum {
  VIV_RESET_STOP,     /* a guest reset stops the machine */
  VIV_RESET_REBOOT,   /* a guest reset reloads the kernel and starts again */
} VivResetPolicy;

/* Up to this many virtio devices (one IOAPIC pin each, GSIs 16–23). */
#define VIV_MAX_VIRTIO_DEVICES 8

typedef struct VivDiskConfig {
  const char   *path;
  const char   *format;          /* "raw" (NULL: raw) */
  VivBlockCache cache;
  bool          read_only;
  const char   *serial;          /* GET_ID, ≤ 20 bytes; may be NULL */
} VivDiskConfig;

typedef enum {
  VIV_CONSOLE_SERIAL,   /* the host console is COM1 */
  VIV_CONSOLE_VIRTIO,   /* the host console is a virtio-console port (COM1 still prints) */
} VivConsoleKind;

typedef struct VivMachineConfig {
  const char    *kernel_path;
  const char    *initrd_path;    /* may be NULL */
  const char    *cmdline;        /* may be NULL */
  uint64_t       memory_bytes;
  unsigned       n_cpus;
  VivResetPolicy on_reset;
  VivByteSink    console;        /* console output; called from vCPU and I/O threads */
  VivConsoleKind console_kind;   /* where console input goes */
  const VivDiskConfig *disks;
  unsigned       n_disks;
  const VivNetOptions *nets;
  unsigned       n_nets;
  bool           rng;            /* a virtio-rng device */
  bool           balloon;        /* a virtio-balloon device */
} VivMachineConfig;

typedef struct VivMachine VivMachine;

/* Checks the configuration, reserves memory and loads the kernel: every
 * mistake a user can make is reported here, before anything runs. */
VivMachine   *viv_machine_new    (const VivMachineConfig *config, GError **error);
void          viv_machine_free   (VivMachine *machine);

/* `stopped` runs once per stop request, on whichever thread asked. */
void          viv_machine_set_stopped_callback (VivMachine *machine,
                                                void (*stopped) (void *ctx), void *ctx);
gboolean      viv_machine_start  (VivMachine *machine, GError **error);
void          viv_machine_request_stop (VivMachine *machine, VivStopReason reason, int code);
VivStopReason viv_machine_finish (VivMachine *machine, int *code);
/* The first fatal error of the last run, or NULL. */
const char   *viv_machine_get_error (VivMachine *machine);

/* Presses the ACPI power button (a GED event notifying the DSDT's PNP0C0C
 * button): a guest that handles it shuts down and enters S5, which stops
 * the machine with VIV_STOP_POWEROFF.  Call it while the machine runs, on
 * the thread that calls viv_machine_finish (so no reboot swaps the VM
 * underneath); it does not wait for the guest. */
void          viv_machine_press_power_button (VivMachine *machine);

/* Blocks until every vCPU is out of the guest and parked. */
void          viv_machine_pause  (VivMachine *machine);
void          viv_machine_resume (VivMachine *machine);

/* Host → guest serial input; returns the bytes taken.  When it took fewer
 * than offered, `ready` is called (from a vCPU thread) once there is room. */
size_t        viv_machine_console_input (VivMachine *machine, const uint8_t *buf, size_t len);
void          viv_machine_set_console_ready_callback (VivMachine *machine,
                                                      void (*ready) (void *ctx), void *ctx);

unsigned      viv_machine_get_n_cpus (VivMachine *machine);
void          viv_machine_get_exit_counts (VivMachine *machine, unsigned vcpu,
                                           uint64_t counts[VIV_EXIT_N_KINDS]);
/* Guest RAM pages the host has actually backed, in bytes. */
uint64_t      viv_machine_get_resident_bytes (VivMachine *machine);

/* ---- Monitoring and balloon control (the worker's statistics) ----------
 * Disks and NICs are numbered in configuration order. */
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"

/* CPU time the thread of `vcpu` has used since this boot started it, in
 * nanoseconds; false while that vCPU has no thread.  Call from the thread
 * that starts and finishes the machine. */
gboolean      viv_machine_get_vcpu_cpu_time (VivMachine *machine, unsigned vcpu, uint64_t *ns);
uint64_t      viv_machine_get_memory_bytes (VivMachine *machine);
unsigned      viv_machine_get_n_disks (VivMachine *machine);
gboolean      viv_machine_get_disk_stats (VivMachine *machine, unsigned index,
                                          VivVirtioBlkStats *stats);
unsigned      viv_machine_get_n_nics (VivMachine *machine);
gboolean      viv_machine_get_nic_stats (VivMachine *machine, unsigned index, VivNetStats *stats);
/* False when the machine has no balloon.  Thread-safe. */
gboolean      viv_machine_set_balloon_target (VivMachine *machine, uint64_t bytes);
gboolean      viv_machine_get_balloon (VivMachine *machine, uint64_t *target_bytes,
                                       uint64_t *actual_bytes);
