/* The probe guest's virtio modes under QEMU (microvm, KVM, virtio-mmio
 * version 2), checked with the very same host-side checks as
 * test-virtio.c: the reference that tells a guest driver bug from an
 * engine bug.  Skipped without QEMU or /dev/kvm. */
#include <glib.h>
#include <glib/gstdio.h>
#include "probe-runner.h"
#include "virtio-host.h"

#define RUN_TIMEOUT_MS (60 * 1000)
#define DISK_BYTES (8 * 1024 * 1024)
#define ECHO_BYTES (1024 * 1024)

static const char *qemu;
static const char *probe_elf;

static ProbeResult *
run_qemu (const char *cmdline, const char *const *devices,
          void (*on_line) (const char *, gpointer), gpointer data)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *base[] = {
    qemu, "-enable-kvm",
    "-M", "microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off",
    "-global", "virtio-mmio.force-legacy=false",
    "-cpu", "host,-arch-capabilities", "-nodefaults", "-nographic",
    "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
    "-m", "256M", "-kernel", probe_elf, "-append", cmdline,
  };
  for (guint i = 0; i < G_N_ELEMENTS (base); i++)
    g_ptr_array_add (argv, (char *) base[i]);
  for (; devices && *devices; devices++)
    g_ptr_array_add (argv, (char *) *devices);
  g_ptr_array_add (argv, NULL);
  ProbeRunSpec spec = {
    .argv = (const char *const *) argv->pdata,
    .timeout_ms = RUN_TIMEOUT_MS,
    .on_line = on_line,
    .on_line_data = data,
  };
  return probe_run (&spec);
}

static void
test_blk_guest_to_host (gconstpointer data)
{
  const char *options = data;
  const guint64 start = 24, sectors = 2048, seed = 7;
  g_autofree char *disk = disk_create (DISK_BYTES);
  g_autofree char *drive = g_strdup_printf ("id=d0,file=%s,format=raw,if=none,cache=none", disk);
  g_autofree char *cmdline = g_strdup_printf ("probe.mode=blk probe.blk_start=24 probe.blk_sectors=2048 "
                                              "probe.blk_seed=7%s", options);
  const char *devices[] = { "-drive", drive, "-device", "virtio-blk-device,drive=d0", NULL };
  g_autoptr(ProbeResult) r = run_qemu (cmdline, devices, NULL, NULL);
  blk_assert_round_trip (r, disk, start, sectors, seed);
  disk_remove (disk);
}

static void
test_blk_host_to_guest (void)
{
  const guint64 start = 100, sectors = 4000;
  g_autofree char *disk = disk_create (DISK_BYTES);
  gsize len = sectors * SECTOR_BYTES;
  g_autofree guint8 *bytes = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    bytes[i] = (guint8) g_test_rand_int ();
  disk_write (disk, start * SECTOR_BYTES, bytes, len);
  g_autofree char *drive = g_strdup_printf ("id=d0,file=%s,format=raw,if=none,readonly=on", disk);
  const char *devices[] = { "-drive", drive, "-device", "virtio-blk-device,drive=d0", NULL };
  g_autoptr(ProbeResult) r = run_qemu ("probe.mode=blk probe.blk_op=read probe.blk_start=100 "
                                       "probe.blk_sectors=4000 probe.blk_qd=32", devices, NULL, NULL);
  probe_assert_exit (r, 0);
  const char *line = probe_require_line (r, "PROBE blk capacity=");
  g_assert_cmpuint (probe_line_u64 (line, "read"), ==, sectors);
  g_assert_cmphex (probe_line_u64 (line, "checksum"), ==, blk_checksum (bytes, len, start * SECTOR_BYTES));
  disk_remove (disk);
}

static void
test_rng (void)
{
  const char *devices[] = { "-device", "virtio-rng-device", NULL };
  g_autoptr(ProbeResult) r = run_qemu ("probe.mode=rng probe.rng_bytes=65536", devices, NULL, NULL);
  probe_assert_exit (r, 0);
  const char *line = probe_require_line (r, "PROBE rng bytes=");
  g_assert_cmpuint (probe_line_u64 (line, "bytes"), ==, 65536);
  g_assert_cmpuint (probe_line_u64 (line, "distinct"), ==, 256);
}

static void
test_net_echo (gconstpointer data)
{
  const char *options = data;
  guint16 port = free_tcp_port ();
  g_autofree char *netdev = g_strdup_printf ("user,id=n0,hostfwd=tcp:127.0.0.1:%u-:7", port);
  g_autofree char *cmdline = g_strdup_printf ("probe.mode=net%s", options);
  const char *devices[] = { "-netdev", netdev, "-device", "virtio-net-device,netdev=n0", NULL };
  EchoClient *client = echo_client_new (port, ECHO_BYTES);
  g_autoptr(ProbeResult) r = run_qemu (cmdline, devices, echo_client_on_line, client);
  g_autofree char *report = NULL;
  gboolean ok = echo_client_finish (client, &report);
  g_test_message ("echo client: %s", report);
  if (!ok)
    probe_result_dump (r);
  g_assert_true (ok);
  net_assert_echo (r, ECHO_BYTES);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  qemu = g_getenv ("QEMU");
  probe_elf = g_getenv ("PROBE_ELF");
  if (!probe_elf)
    {
      g_printerr ("test-virtio-qemu: PROBE_ELF must be set (meson test sets it)\n");
      return 1;
    }
  if (!qemu || !*qemu)
    {
      g_printerr ("test-virtio-qemu: skipped, qemu-system-x86_64 was not found at configure time\n");
      return 77;
    }
  if (g_access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_printerr ("test-virtio-qemu: skipped, /dev/kvm is not accessible\n");
      return 77;
    }
  g_test_add_data_func ("/guest/qemu/virtio/blk/guest-to-host/polling", "", test_blk_guest_to_host);
  g_test_add_data_func ("/guest/qemu/virtio/blk/guest-to-host/irq-qd32",
                        " probe.blk_qd=32 probe.virtio_irq=1 probe.virtio_event_idx=1 probe.virtio_indirect=1",
                        test_blk_guest_to_host);
  g_test_add_func ("/guest/qemu/virtio/blk/host-to-guest", test_blk_host_to_guest);
  g_test_add_func ("/guest/qemu/virtio/rng", test_rng);
  g_test_add_data_func ("/guest/qemu/virtio/net/echo/polling", "", test_net_echo);
  g_test_add_data_func ("/guest/qemu/virtio/net/echo/irq", " probe.virtio_irq=1", test_net_echo);
  return g_test_run ();
}
