#include "machine.h"
#include "layout.h"
#include "boot/boot.h"
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/ged.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "kvm/iothread.h"
#include "kvm/cpuid.h"
#include "kvm/kvm.h"
#include "kvm/memory.h"
#include "kvm/vm.h"

#include <linux/kvm.h>
#include <sys/mman.h>
#include <unistd.h>

G_DEFINE_QUARK (viv-machine-error-quark, viv_machine_error)

struct VivMachine {
  VivMachineConfig   config;
  char              *kernel_path;
  char              *initrd_path;
  char              *cmdline;

  VivKvm             kvm;
  VivGuestMemory     memory;
  struct kvm_cpuid2 *supported_cpuid;
  VivBootEntry       boot_entry;

  VivBus            *pio;
  VivBus            *mmio;
  VivStopSink        stop_sink;
  VivSerial         *serial;
  VivI8042          *i8042;
  VivRtc            *rtc;
  VivAcpiPm         *acpi_pm;
  VivGed            *ged;

  /* virtio devices: transports in slot order, on the I/O thread. */
  VivIoThread       *io_thread;
  VivVirtioDevice   *virtio[VIV_MAX_VIRTIO_DEVICES];
  VivMmioDeviceInfo  virtio_info[VIV_MAX_VIRTIO_DEVICES];
  unsigned           n_virtio;
  VivVirtioConsole  *virtio_console;
  VivVirtioBalloon  *balloon;

  /* Rebuilt on every (re)boot. */
  VivVm              vm;
  VivVcpu           *vcpus;
  unsigned           n_vcpus_created;
  VivRunControl      control;
  bool               control_ready;
  /* Exit counts of earlier boots, so that totals survive reboots. */
  uint64_t         (*exit_totals)[VIV_EXIT_N_KINDS];

  GMutex             stop_lock;
  VivStopReason      stop_reason;  /* first request wins, under stop_lock */
  int                stop_code;
  void             (*stopped) (void *ctx);
  void              *stopped_ctx;
};

static void
machine_request_stop_cb (void *ctx, VivStopReason reason, int code)
{
  viv_machine_request_stop (ctx, reason, code);
}

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, VIV_MACHINE_ERROR, VIV_MACHINE_ERROR_INVALID_CONFIG, message);
  return FALSE;
}

static gboolean
check_config (const VivMachineConfig *config, const VivKvm *kvm, GError **error)
{
  unsigned max_cpus = MIN ((unsigned) VIV_MAX_VCPUS, kvm->max_vcpus);
  if (config->n_cpus < 1 || config->n_cpus > max_cpus)
    return invalid (error, "%u vCPUs asked for; a VM can have 1 to %u here", config->n_cpus, max_cpus);
  if (config->memory_bytes < VIV_MIN_MEMORY || config->memory_bytes > VIV_MAX_MEMORY)
    return invalid (error, "%" G_GUINT64_FORMAT " MiB of memory asked for; a VM can have "
                    "%" G_GUINT64_FORMAT " MiB to %" G_GUINT64_FORMAT " GiB",
                    config->memory_bytes / VIV_MiB, VIV_MIN_MEMORY / VIV_MiB, VIV_MAX_MEMORY / VIV_GiB);
  if (config->memory_bytes % (4 * VIV_KiB))
    return invalid (error, "the memory size must be a whole number of 4 KiB pages");
  if (!config->kernel_path)
    return invalid (error, "no kernel given");
  return TRUE;
}

static gboolean
create_devices (VivMachine *m, GError **error)
{
  m->pio = viv_bus_new ("pio");
  m->mmio = viv_bus_new ("mmio");
  m->stop_sink = (VivStopSink) { machine_request_stop_cb, m };

  VivIrqLine com1_irq = { viv_vm_set_irq_level, &m->vm, VIV_IRQ_COM1 };
  m->serial = viv_serial_new (com1_irq, m->config.console);
  m->i8042 = viv_i8042_new (m->stop_sink);
  viv_i8042_set_kbd_irq (m->i8042, (VivIrqLine) { viv_vm_set_irq_level, &m->vm, VIV_IRQ_KEYBOARD });
  uint64_t low = viv_guest_memory_low_end (&m->memory);
  m->rtc = viv_rtc_new (low, m->memory.ram_size - low);
  m->acpi_pm = viv_acpi_pm_new (m->stop_sink);
  m->ged = viv_ged_new ((VivIrqLine) { viv_vm_set_irq_level, &m->vm, VIV_IRQ_GED });

  return viv_bus_register (m->pio, VIV_PORT_COM1, 8, viv_serial_ops (), m->serial, error)
         && viv_bus_register (m->pio, VIV_PORT_I8042_DATA, 1, viv_i8042_data_ops (), m->i8042, error)
         && viv_bus_register (m->pio, VIV_PORT_I8042_CMD, 1, viv_i8042_cmd_ops (), m->i8042, error)
         && viv_bus_register (m->pio, VIV_PORT_RTC, 2, viv_rtc_ops (), m->rtc, error)
         && viv_bus_register (m->pio, VIV_PORT_DEBUG_EXIT, 4, viv_debug_exit_ops (), &m->stop_sink, error)
         && viv_bus_register (m->pio, VIV_PORT_POST, 1, viv_ignore_ops (), NULL, error)
         && viv_bus_register (m->pio, VIV_PORT_ACPI_SLEEP_CONTROL, 2, viv_acpi_pm_ops (), m->acpi_pm, error)
         && viv_bus_register (m->mmio, VIV_GED_ADDR, VIV_GED_SIZE, viv_ged_ops (), m->ged, error);
}

static VivVirtioDevice *
add_virtio_transport (VivMachine *m, GError **error)
{
  if (m->n_virtio == VIV_MAX_VIRTIO_DEVICES)
    {
      invalid (error, "too many virtio devices: a VM can have at most %d disks, NICs "
               "and other virtio devices together", VIV_MAX_VIRTIO_DEVICES);
      return NULL;
    }
  if (!m->io_thread)
    m->io_thread = viv_io_thread_new ("io");

  unsigned slot = m->n_virtio;
  VivMmioDeviceInfo info = {
    .base = VIV_VIRTIO_MMIO_BASE + slot * VIV_VIRTIO_MMIO_STRIDE,
    .size = VIV_VIRTIO_MMIO_SIZE,
    .gsi = VIV_IRQ_VIRTIO_FIRST + slot,
  };
  VivVirtioMmioConfig transport = {
    .base = info.base,
    .gsi = info.gsi,
    .mem = &m->memory,
    .io_context = viv_io_thread_context (m->io_thread),
    .irq = { viv_vm_set_irq_level, &m->vm, info.gsi },
  };
  VivVirtioDevice *vdev = viv_virtio_mmio_new (&transport);
  if (!viv_bus_register (m->mmio, info.base, info.size, viv_virtio_mmio_ops (), vdev, error))
    {
      viv_virtio_mmio_free (vdev);
      return NULL;
    }
  m->virtio[slot] = vdev;
  m->virtio_info[slot] = info;
  m->n_virtio++;
  return vdev;
}

static gboolean
add_disk (VivMachine *m, const VivDiskConfig *disk, GError **error)
{
  VivVirtioDevice *vdev = add_virtio_transport (m, error);
  if (!vdev)
    return FALSE;
  VivBlockOptions options = {
    .path = disk->path,
    .format = disk->format,
    .read_only = disk->read_only,
    .cache = disk->cache,
    .context = viv_virtio_device_context (vdev),
  };
  VivBlock *image = viv_block_open (&options, error);
  if (!image)
    return FALSE;
  /* One queue per vCPU: each vCPU submits without contending for a ring. */
  if (!viv_virtio_blk_new (vdev, image, disk->serial, m->config.n_cpus, error))
    {
      viv_block_close (image);
      return FALSE;
    }
  return TRUE;
}

static gboolean
add_nic (VivMachine *m, const VivNetOptions *options, GError **error)
{
  VivVirtioDevice *vdev = add_virtio_transport (m, error);
  if (!vdev)
    return FALSE;
  VivNetBackend *backend = viv_net_backend_new (options, viv_virtio_device_context (vdev), error);
  if (!backend)
    return FALSE;
  if (!viv_virtio_net_new (vdev, backend, options->mac, error))
    {
      viv_net_backend_free (backend);
      return FALSE;
    }
  return TRUE;
}

static gboolean
create_virtio_devices (VivMachine *m, const VivMachineConfig *config, GError **error)
{
  VivVirtioDevice *vdev;
  for (unsigned i = 0; i < config->n_disks; i++)
    if (!add_disk (m, &config->disks[i], error))
      return FALSE;
  for (unsigned i = 0; i < config->n_nets; i++)
    if (!add_nic (m, &config->nets[i], error))
      return FALSE;
  if (config->console_kind == VIV_CONSOLE_VIRTIO)
    {
      if (!(vdev = add_virtio_transport (m, error)))
        return FALSE;
      m->virtio_console = viv_virtio_console_new (vdev, config->console);
    }
  if (config->rng)
    {
      if (!(vdev = add_virtio_transport (m, error)))
        return FALSE;
      viv_virtio_rng_new (vdev);
    }
  if (config->balloon)
    {
      if (!(vdev = add_virtio_transport (m, error)))
        return FALSE;
      m->balloon = viv_virtio_balloon_new (vdev);
    }
  return TRUE;
}

static gboolean
load_kernel (VivMachine *m, GError **error)
{
  VivBootConfig boot = {
    .kernel_path = m->kernel_path,
    .initrd_path = m->initrd_path,
    .cmdline = m->cmdline,
    .n_cpus = m->config.n_cpus,
    .mmio_devices = m->virtio_info,
    .n_mmio_devices = m->n_virtio,
  };
  return viv_boot_load (&boot, &m->memory, &m->boot_entry, error);
}

VivMachine *
viv_machine_new (const VivMachineConfig *config, GError **error)
{
  VivMachine *m = g_new0 (VivMachine, 1);
  m->config = *config;
  m->kernel_path = g_strdup (config->kernel_path);
  m->initrd_path = g_strdup (config->initrd_path);
  m->cmdline = g_strdup (config->cmdline);
  m->config.kernel_path = m->kernel_path;
  m->config.initrd_path = m->initrd_path;
  m->config.cmdline = m->cmdline;
  /* Disks and NICs are opened here; the machine keeps no pointer to them. */
  m->config.disks = NULL;
  m->config.n_disks = 0;
  m->config.nets = NULL;
  m->config.n_nets = 0;
  m->kvm.fd = -1;
  m->vm.fd = -1;
  m->exit_totals = g_malloc0_n (VIV_MAX_VCPUS, sizeof *m->exit_totals);
  g_mutex_init (&m->stop_lock);

  if (!viv_kvm_open (&m->kvm, error)
      || !check_config (config, &m->kvm, error)
      || !(m->supported_cpuid = viv_cpuid_get_supported (&m->kvm, error))
      || !viv_guest_memory_init (&m->memory, config->memory_bytes, error)
      || !create_devices (m, error)
      || !create_virtio_devices (m, config, error)
      || !load_kernel (m, error))
    {
      viv_machine_free (m);
      return NULL;
    }
  return m;
}

static void
destroy_vm (VivMachine *m)
{
  for (unsigned i = 0; i < m->n_vcpus_created; i++)
    {
      viv_vcpu_destroy (&m->vcpus[i]);
      for (unsigned k = 0; k < VIV_EXIT_N_KINDS; k++)
        m->exit_totals[i][k] += atomic_load (&m->vcpus[i].exits[k]);
    }
  m->n_vcpus_created = 0;
  g_clear_pointer (&m->vcpus, g_free);
  if (m->vm.fd >= 0)
    for (unsigned i = 0; i < m->n_virtio; i++)
      viv_virtio_mmio_connect_vm (m->virtio[i], -1, NULL);
  viv_vm_destroy (&m->vm);
}

void
viv_machine_free (VivMachine *m)
{
  if (!m)
    return;
  if (m->control_ready)
    {
      for (unsigned i = 0; i < m->n_vcpus_created; i++)
        viv_vcpu_request_stop (&m->vcpus[i]);
    }
  destroy_vm (m);
  if (m->control_ready)
    viv_run_control_clear (&m->control);
  /* Device state is freed once no I/O-thread source can run any more. */
  g_clear_pointer (&m->io_thread, viv_io_thread_free);
  for (unsigned i = 0; i < m->n_virtio; i++)
    viv_virtio_mmio_free (m->virtio[i]);
  g_clear_pointer (&m->serial, viv_serial_free);
  g_clear_pointer (&m->i8042, viv_i8042_free);
  g_clear_pointer (&m->rtc, viv_rtc_free);
  g_clear_pointer (&m->acpi_pm, viv_acpi_pm_free);
  g_clear_pointer (&m->ged, viv_ged_free);
  g_clear_pointer (&m->pio, viv_bus_free);
  g_clear_pointer (&m->mmio, viv_bus_free);
  viv_guest_memory_clear (&m->memory);
  g_free (m->supported_cpuid);
  g_free (m->exit_totals);
  viv_kvm_close (&m->kvm);
  g_mutex_clear (&m->stop_lock);
  g_free (m->kernel_path);
  g_free (m->initrd_path);
  g_free (m->cmdline);
  g_free (m);
}

void
viv_machine_set_stopped_callback (VivMachine *m, void (*stopped) (void *ctx), void *ctx)
{
  m->stopped = stopped;
  m->stopped_ctx = ctx;
}

gboolean
viv_machine_start (VivMachine *m, GError **error)
{
  g_return_val_if_fail (m->vcpus == NULL, FALSE);

  if (m->control_ready)
    viv_run_control_clear (&m->control);
  viv_run_control_init (&m->control, m->pio, m->mmio, m->stop_sink);
  m->control_ready = true;
  m->stop_reason = VIV_STOP_NONE;
  m->stop_code = 0;

  if (!viv_vm_create (&m->vm, &m->kvm, &m->memory, error))
    return FALSE;
  for (unsigned i = 0; i < m->n_virtio; i++)
    if (!viv_virtio_mmio_connect_vm (m->virtio[i], m->vm.fd, error))
      {
        destroy_vm (m);
        return FALSE;
      }

  unsigned n = m->config.n_cpus;
  m->vcpus = g_new0 (VivVcpu, n);
  for (unsigned i = 0; i < n; i++)
    {
      if (!viv_vcpu_create (&m->vcpus[i], &m->kvm, &m->vm, i, n, m->supported_cpuid,
                            &m->control, error))
        goto fail;
      m->n_vcpus_created++;
    }
  /* APs wait for INIT/SIPI from the boot CPU inside the in-kernel LAPIC. */
  if (!viv_vcpu_set_boot_state (&m->vcpus[0], &m->boot_entry, error))
    goto fail;
  for (unsigned i = 0; i < n; i++)
    if (!viv_vcpu_start (&m->vcpus[i], error))
      goto fail;
  return TRUE;

fail:
  for (unsigned i = 0; i < m->n_vcpus_created; i++)
    viv_vcpu_request_stop (&m->vcpus[i]);
  destroy_vm (m);
  return FALSE;
}

void
viv_machine_request_stop (VivMachine *m, VivStopReason reason, int code)
{
  g_mutex_lock (&m->stop_lock);
  bool first = m->stop_reason == VIV_STOP_NONE;
  if (first)
    {
      m->stop_reason = reason;
      m->stop_code = code;
    }
  g_mutex_unlock (&m->stop_lock);
  if (!first)
    return;

  for (unsigned i = 0; i < m->n_vcpus_created; i++)
    viv_vcpu_request_stop (&m->vcpus[i]);
  if (m->stopped)
    m->stopped (m->stopped_ctx);
}

static gboolean
reboot (VivMachine *m, GError **error)
{
  /* A fresh machine: memory handed back to the host, devices reset, the
   * kernel loaded again (the file may have been rebuilt meanwhile). */
  madvise (m->memory.base, m->memory.ram_size, MADV_DONTNEED);
  viv_serial_reset (m->serial);
  for (unsigned i = 0; i < m->n_virtio; i++)
    viv_virtio_mmio_reset (m->virtio[i]);
  return load_kernel (m, error) && viv_machine_start (m, error);
}

void
viv_machine_press_power_button (VivMachine *m)
{
  viv_ged_press_power_button (m->ged);
}

VivStopReason
viv_machine_finish (VivMachine *m, int *code)
{
  for (unsigned i = 0; i < m->n_vcpus_created; i++)
    viv_vcpu_join (&m->vcpus[i]);
  destroy_vm (m);

  g_mutex_lock (&m->stop_lock);
  VivStopReason reason = m->stop_reason;
  int stop_code = m->stop_code;
  g_mutex_unlock (&m->stop_lock);

  if (reason == VIV_STOP_RESET && m->config.on_reset == VIV_RESET_REBOOT)
    {
      g_autoptr (GError) error = NULL;
      if (reboot (m, &error))
        return VIV_STOP_NONE;
      viv_run_control_set_error (&m->control, error->message);
      reason = VIV_STOP_ERROR;
      stop_code = 0;
    }
  if (code)
    *code = stop_code;
  return reason;
}

const char *
viv_machine_get_error (VivMachine *m)
{
  return m->control_ready ? m->control.error_message : NULL;
}

void
viv_machine_pause (VivMachine *m)
{
  atomic_store (&m->control.pause_requested, true);
  for (unsigned i = 0; i < m->n_vcpus_created; i++)
    viv_vcpu_kick (&m->vcpus[i]);
  g_mutex_lock (&m->control.lock);
  while (m->control.n_running > 0)
    g_cond_wait (&m->control.changed, &m->control.lock);
  g_mutex_unlock (&m->control.lock);
}

void
viv_machine_resume (VivMachine *m)
{
  g_mutex_lock (&m->control.lock);
  atomic_store (&m->control.pause_requested, false);
  g_cond_broadcast (&m->control.changed);
  g_mutex_unlock (&m->control.lock);
}

size_t
viv_machine_console_input (VivMachine *m, const uint8_t *buf, size_t len)
{
  if (m->virtio_console)
    return viv_virtio_console_receive (m->virtio_console, buf, len);
  return viv_serial_receive (m->serial, buf, len);
}

void
viv_machine_set_console_ready_callback (VivMachine *m, void (*ready) (void *ctx), void *ctx)
{
  viv_serial_set_rx_ready_cb (m->serial, ready, ctx);
  if (m->virtio_console)
    viv_virtio_console_set_rx_ready_cb (m->virtio_console, ready, ctx);
}

unsigned
viv_machine_get_n_cpus (VivMachine *m)
{
  return m->config.n_cpus;
}

void
viv_machine_get_exit_counts (VivMachine *m, unsigned vcpu, uint64_t counts[VIV_EXIT_N_KINDS])
{
  for (unsigned k = 0; k < VIV_EXIT_N_KINDS; k++)
    {
      counts[k] = vcpu < m->config.n_cpus ? m->exit_totals[vcpu][k] : 0;
      if (vcpu < m->n_vcpus_created)
        counts[k] += atomic_load_explicit (&m->vcpus[vcpu].exits[k], memory_order_relaxed);
    }
}

uint64_t
viv_machine_get_resident_bytes (VivMachine *m)
{
  const size_t page = sysconf (_SC_PAGESIZE);
  const size_t chunk_pages = 64 * 1024;
  g_autofree unsigned char *vec = g_malloc (chunk_pages);
  uint64_t resident = 0;

  for (uint64_t offset = 0; offset < m->memory.ram_size; offset += chunk_pages * page)
    {
      size_t len = MIN ((uint64_t) chunk_pages * page, m->memory.ram_size - offset);
      if (mincore (m->memory.base + offset, len, vec) < 0)
        return 0;
      for (size_t i = 0; i < (len + page - 1) / page; i++)
        resident += (vec[i] & 1) ? page : 0;
    }
  return resident;
}

/* ---- Monitoring and balloon control ---- */

gboolean
viv_machine_get_vcpu_cpu_time (VivMachine *m, unsigned vcpu, uint64_t *ns)
{
  clockid_t clock;
  struct timespec ts;
  if (vcpu >= m->n_vcpus_created || !m->vcpus[vcpu].thread_started
      || pthread_getcpuclockid (m->vcpus[vcpu].thread, &clock) != 0
      || clock_gettime (clock, &ts) != 0)
    return FALSE;
  *ns = (uint64_t) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
  return TRUE;
}

uint64_t
viv_machine_get_memory_bytes (VivMachine *m)
{
  return m->config.memory_bytes;
}

/* The index-th bound device model of this kind, in slot order. */
static void *
nth_virtio_device (VivMachine *m, uint32_t device_id, unsigned index)
{
  for (unsigned i = 0; i < m->n_virtio; i++)
    {
      void *dev = viv_virtio_device_get_bound (m->virtio[i], device_id);
      if (dev && index-- == 0)
        return dev;
    }
  return NULL;
}

static unsigned
count_virtio_devices (VivMachine *m, uint32_t device_id)
{
  unsigned n = 0;
  for (unsigned i = 0; i < m->n_virtio; i++)
    n += viv_virtio_device_get_bound (m->virtio[i], device_id) != NULL;
  return n;
}

unsigned
viv_machine_get_n_disks (VivMachine *m)
{
  return count_virtio_devices (m, VIRTIO_ID_BLOCK);
}

gboolean
viv_machine_get_disk_stats (VivMachine *m, unsigned index, VivVirtioBlkStats *stats)
{
  VivVirtioBlk *blk = nth_virtio_device (m, VIRTIO_ID_BLOCK, index);
  if (!blk)
    return FALSE;
  viv_virtio_blk_get_stats (blk, stats);
  return TRUE;
}

unsigned
viv_machine_get_n_nics (VivMachine *m)
{
  return count_virtio_devices (m, VIRTIO_ID_NET);
}

gboolean
viv_machine_get_nic_stats (VivMachine *m, unsigned index, VivNetStats *stats)
{
  VivVirtioNet *net = nth_virtio_device (m, VIRTIO_ID_NET, index);
  if (!net)
    return FALSE;
  viv_virtio_net_get_stats (net, stats);
  return TRUE;
}

gboolean
viv_machine_set_balloon_target (VivMachine *m, uint64_t bytes)
{
  if (!m->balloon)
    return FALSE;
  viv_virtio_balloon_set_target (m->balloon, bytes);
  return TRUE;
}

gboolean
viv_machine_get_balloon (VivMachine *m, uint64_t *target_bytes, uint64_t *actual_bytes)
{
  if (!m->balloon)
    return FALSE;
  *target_bytes = viv_virtio_balloon_get_target_bytes (m->balloon);
  *actual_bytes = viv_virtio_balloon_get_actual_bytes (m->balloon);
  return TRUE;
}
