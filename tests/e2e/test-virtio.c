/* End-to-end virtio: `vivctl run` with --disk, --net, --console virtio,
 * --rng and --balloon boots the probe guest's virtio modes
 * (tests/guest/README.md, "Virtio"), and the host checks what the guest
 * did: the disk file holds the guest's pattern and the guest checksums
 * what the host wrote, 1 MiB echoes through a hostfwd port, the virtio
 * console echoes, hostile drivers leave the VM running.  VIVCTL and
 * PROBE_ELF come from the environment (meson sets them). */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include "probe-runner.h"
#include "virtio-host.h"

#define RUN_TIMEOUT_MS (60 * 1000)
#define DISK_BYTES (8 * 1024 * 1024)
#define ECHO_BYTES (1024 * 1024)

static const char *vivctl;
static const char *probe_elf;

/* vivctl run with the probe, `cmdline`, and device options (NULL-ended). */
static ProbeResult *
run_vivctl_full (const char *cmdline, const char *const *devices, const char *input,
                 const char *input_after, void (*on_line) (const char *, gpointer), gpointer data)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) vivctl);
  g_ptr_array_add (argv, "run");
  g_ptr_array_add (argv, "--kernel");
  g_ptr_array_add (argv, (char *) probe_elf);
  g_ptr_array_add (argv, "--cmdline");
  g_ptr_array_add (argv, (char *) cmdline);
  for (; devices && *devices; devices++)
    g_ptr_array_add (argv, (char *) *devices);
  g_ptr_array_add (argv, NULL);
  ProbeRunSpec spec = {
    .argv = (const char *const *) argv->pdata,
    .input = input,
    .input_after = input_after,
    .timeout_ms = RUN_TIMEOUT_MS,
    .on_line = on_line,
    .on_line_data = data,
  };
  return probe_run (&spec);
}

static ProbeResult *
run_vivctl (const char *cmdline, const char *const *devices)
{
  return run_vivctl_full (cmdline, devices, NULL, NULL, NULL, NULL);
}

/* ---- discovery ---- */

static void
test_list (void)
{
  g_autofree char *disk = disk_create (DISK_BYTES);
  g_autofree char *disk_arg = g_strdup_printf ("--disk=%s", disk);
  const char *devices[] = { disk_arg, "--net=user", "--rng", "--balloon", NULL };
  g_autoptr(ProbeResult) r = run_vivctl ("probe.mode=virtio-list", devices);
  probe_assert_exit (r, 0);
  g_assert_cmpuint (probe_line_u64 (probe_require_line (r, "PROBE virtio count="), "count"), ==, 4);
  /* One device per 4 KiB page from 0xd0000000, GSIs from 16: disk, NIC, rng, balloon. */
  static const guint ids[] = { 2, 1, 4, 5 };
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *prefix = g_strdup_printf ("PROBE virtio dev=%u ", i);
      const char *line = probe_require_line (r, prefix);
      g_assert_cmpuint (probe_line_u64 (line, "id"), ==, ids[i]);
      g_assert_cmphex (probe_line_u64 (line, "base"), ==, 0xd0000000u + 0x1000u * i);
      g_assert_cmpuint (probe_line_u64 (line, "irq"), ==, 16 + i);
      g_assert_cmpuint (probe_line_u64 (line, "version"), ==, 2);
      /* VERSION_1 (bit 32) is offered by every modern device. */
      g_assert_true (probe_line_u64 (line, "features") & (G_GUINT64_CONSTANT (1) << 32));
    }
  disk_remove (disk);
}

/* ---- virtio-blk ---- */

typedef struct {
  const char *name;
  const char *disk_options;   /* after the path */
  const char *probe_options;
} BlkCase;

static const BlkCase blk_cases[] = {
  { "cache-none", ",cache=none", "" },
  { "cache-writethrough", ",cache=writethrough", "" },
  { "cache-writeback", ",cache=writeback", "" },
  { "irq-qd32", ",cache=writeback", " probe.blk_qd=32 probe.virtio_irq=1" },
  { "event-idx-indirect-qd8", ",format=raw", " probe.blk_qd=8 probe.virtio_event_idx=1 probe.virtio_indirect=1" },
  { "irq-event-idx-indirect-qd32", ",cache=none",
    " probe.blk_qd=32 probe.virtio_irq=1 probe.virtio_event_idx=1 probe.virtio_indirect=1" },
};

/* The guest writes a pattern; the file must hold it. */
static void
test_blk_guest_to_host (gconstpointer data)
{
  const BlkCase *c = data;
  const guint64 start = 24, sectors = 2048, seed = 7;
  g_autofree char *disk = disk_create (DISK_BYTES);
  g_autofree char *disk_arg = g_strdup_printf ("--disk=%s%s", disk, c->disk_options);
  g_autofree char *cmdline = g_strdup_printf ("probe.mode=blk probe.blk_start=%" G_GUINT64_FORMAT
                                              " probe.blk_sectors=%" G_GUINT64_FORMAT
                                              " probe.blk_seed=%" G_GUINT64_FORMAT "%s",
                                              start, sectors, seed, c->probe_options);
  const char *devices[] = { disk_arg, NULL };
  g_autoptr(ProbeResult) r = run_vivctl (cmdline, devices);
  blk_assert_round_trip (r, disk, start, sectors, seed);
  const char *info = probe_require_line (r, "PROBE blk info ");
  g_assert_cmpuint (probe_line_u64 (info, "capacity"), ==, DISK_BYTES / SECTOR_BYTES);
  g_assert_cmpuint (probe_line_u64 (info, "readonly"), ==, 0);
  if (probe_line_u64 (info, "flush"))
    g_assert_nonnull (probe_result_find (r, "PROBE blk flush status=0"));
  if (strstr (c->probe_options, "virtio_irq=1"))
    g_assert_cmpuint (probe_line_u64 (probe_require_line (r, "PROBE virtio interrupts="), "interrupts"), >, 0);
  disk_remove (disk);
}

/* The host writes random bytes; the guest's checksum must match. */
static void
test_blk_host_to_guest (gconstpointer data)
{
  const char *options = data;
  const guint64 start = 100, sectors = 4000;
  g_autofree char *disk = disk_create (DISK_BYTES);
  gsize len = sectors * SECTOR_BYTES;
  g_autofree guint8 *bytes = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    bytes[i] = (guint8) g_test_rand_int ();
  disk_write (disk, start * SECTOR_BYTES, bytes, len);
  g_autofree char *disk_arg = g_strdup_printf ("--disk=%s,readonly", disk);
  g_autofree char *cmdline = g_strdup_printf ("probe.mode=blk probe.blk_op=read probe.blk_start=%"
                                              G_GUINT64_FORMAT " probe.blk_sectors=%" G_GUINT64_FORMAT "%s",
                                              start, sectors, options);
  const char *devices[] = { disk_arg, NULL };
  g_autoptr(ProbeResult) r = run_vivctl (cmdline, devices);
  probe_assert_exit (r, 0);
  const char *line = probe_require_line (r, "PROBE blk capacity=");
  g_assert_cmpuint (probe_line_u64 (line, "written"), ==, 0);
  g_assert_cmpuint (probe_line_u64 (line, "read"), ==, sectors);
  g_assert_cmphex (probe_line_u64 (line, "checksum"), ==, blk_checksum (bytes, len, start * SECTOR_BYTES));
  disk_remove (disk);
}

static void
test_blk_serial (void)
{
  g_autofree char *disk = disk_create (DISK_BYTES);
  g_autofree char *disk_arg = g_strdup_printf ("--disk=%s,serial=probe-disk-7", disk);
  const char *devices[] = { disk_arg, NULL };
  g_autoptr(ProbeResult) r = run_vivctl ("probe.mode=blk probe.blk_sectors=8", devices);
  probe_assert_exit (r, 0);
  g_assert_cmpstr (probe_require_line (r, "PROBE blk serial="), ==, "PROBE blk serial=probe-disk-7 status=0");
  disk_remove (disk);
}

static void
test_blk_readonly (void)
{
  g_autofree char *disk = disk_create (DISK_BYTES);
  g_autofree guint8 *before = disk_read (disk, 0, 4096);
  g_autofree char *disk_arg = g_strdup_printf ("--disk=%s,readonly", disk);
  const char *devices[] = { disk_arg, NULL };

  /* The driver sees VIRTIO_BLK_F_RO and refuses to write ... */
  g_autoptr(ProbeResult) r = run_vivctl ("probe.mode=blk", devices);
  probe_assert_exit (r, 0x71);
  g_assert_cmpuint (probe_line_u64 (probe_require_line (r, "PROBE blk info "), "readonly"), ==, 1);
  probe_require_line (r, "PROBE blk error=readonly");

  /* ... and a driver that writes anyway gets IOERR, and the file stays. */
  g_autoptr(ProbeResult) h = run_vivctl ("probe.mode=hostile probe.bad=ro-write", devices);
  probe_assert_exit (h, 0);
  const char *line = probe_require_line (h, "PROBE hostile bad=ro-write ");
  g_assert_cmpuint (probe_line_u64 (line, "used"), ==, 1);
  g_assert_cmpuint (probe_line_u64 (line, "blk_status"), ==, 1);
  g_assert_cmpuint (probe_line_u64 (line, "needs_reset"), ==, 0);
  g_autofree guint8 *after = disk_read (disk, 0, 4096);
  g_assert_cmpmem (before, 4096, after, 4096);
  disk_remove (disk);
}

static void
test_blk_bench (void)
{
  g_autofree char *disk = disk_create (DISK_BYTES);
  g_autofree char *disk_arg = g_strdup_printf ("--disk=%s", disk);
  const char *devices[] = { disk_arg, NULL };
  g_autoptr(ProbeResult) r = run_vivctl ("probe.mode=blk probe.blk_bench=randread4k probe.blk_qd=32 "
                                         "probe.blk_ops=2000", devices);
  probe_assert_exit (r, 0);
  const char *line = probe_require_line (r, "PROBE blk bench=randread4k ");
  g_assert_cmpuint (probe_line_u64 (line, "ops"), ==, 2000);
  g_assert_cmpuint (probe_line_u64 (line, "bytes"), ==, 2000 * 4096);
  g_assert_cmpuint (probe_line_u64 (line, "errors"), ==, 0);
  g_assert_cmpuint (probe_line_u64 (line, "cycles"), >, 0);
  disk_remove (disk);
}

/* ---- virtio-net ---- */

static void
test_net_echo (gconstpointer data)
{
  const char *options = data;
  guint16 port = free_tcp_port ();
  g_autofree char *net_arg = g_strdup_printf ("--net=user,hostfwd=tcp:127.0.0.1:%u-:7", port);
  g_autofree char *cmdline = g_strdup_printf ("probe.mode=net probe.net_port=7%s", options);
  const char *devices[] = { net_arg, NULL };
  EchoClient *client = echo_client_new (port, ECHO_BYTES);
  g_autoptr(ProbeResult) r = run_vivctl_full (cmdline, devices, NULL, NULL, echo_client_on_line, client);
  g_autofree char *report = NULL;
  gboolean ok = echo_client_finish (client, &report);
  g_test_message ("echo client: %s", report);
  if (!ok)
    probe_result_dump (r);
  g_assert_true (ok);
  net_assert_echo (r, ECHO_BYTES);
}

/* ---- virtio-console, rng, balloon ---- */

static void
test_console (void)
{
  const char *devices[] = { "--console=virtio", NULL };
  const char *input = "Hi!\001q";
  g_autoptr(ProbeResult) r = run_vivctl_full ("probe.mode=console", devices, input,
                                              "PROBE console ready", NULL, NULL);
  probe_assert_exit (r, 0);
  /* The console's greeting, then the echo (it shares this terminal). */
  probe_require_line (r, "hello from virtio-console");
  g_assert_cmpstr (probe_require_line (r, "PROBE console rx="), ==, "PROBE console rx=5 data=4869210171");
  g_assert_nonnull (probe_result_find (r, input));
}

static void
test_rng (void)
{
  const char *devices[] = { "--rng", NULL };
  g_autoptr(ProbeResult) r = run_vivctl ("probe.mode=rng probe.rng_bytes=65536", devices);
  probe_assert_exit (r, 0);
  const char *line = probe_require_line (r, "PROBE rng bytes=");
  g_assert_cmpuint (probe_line_u64 (line, "bytes"), ==, 65536);
  /* 65536 random bytes miss one of 256 values with odds of about 2^-360. */
  g_assert_cmpuint (probe_line_u64 (line, "distinct"), ==, 256);
}

static void
test_balloon (void)
{
  const char *devices[] = { "--balloon", NULL };
  g_autoptr(ProbeResult) r = run_vivctl ("probe.mode=balloon probe.balloon_exercise=4096 "
                                         "probe.balloon_follow_ms=100", devices);
  probe_assert_exit (r, 0);
  const char *start = probe_require_line (r, "PROBE balloon start ");
  g_assert_cmpuint (probe_line_u64 (start, "target"), ==, 0);
  g_assert_cmpuint (probe_line_u64 (start, "actual"), ==, 0);
  /* actual, read back from the device's config space, follows each move. */
  g_assert_cmpstr (probe_require_line (r, "PROBE balloon inflated="), ==, "PROBE balloon inflated=4096 actual=4096");
  g_assert_cmpstr (probe_require_line (r, "PROBE balloon deflated="), ==, "PROBE balloon deflated=4096 actual=0");
  const char *end = probe_require_line (r, "PROBE balloon target=");
  g_assert_cmpuint (probe_line_u64 (end, "target"), ==, 0);
  g_assert_cmpuint (probe_line_u64 (end, "actual"), ==, 0);
}

/* ---- hostile drivers: the device stops, the VM goes on ---- */

typedef struct {
  const char *kind;
  const char *device;         /* "disk" or "--rng" */
  gboolean    needs_reset;
} HostileCase;

static const HostileCase hostile_cases[] = {
  { "desc-outside", "disk", TRUE },
  { "desc-loop", "disk", TRUE },
  { "huge-len", "disk", TRUE },
  { "desc-outside", "--rng", TRUE },
  { "desc-loop", "--rng", TRUE },
  { "huge-len", "--rng", TRUE },
  { "early-notify", "disk", FALSE },
};

static void
test_hostile (gconstpointer data)
{
  const HostileCase *c = data;
  g_autofree char *disk = disk_create (DISK_BYTES);
  g_autofree char *disk_arg = g_strdup_printf ("--disk=%s", disk);
  const char *devices[] = { strcmp (c->device, "disk") == 0 ? disk_arg : c->device, NULL };
  g_autofree char *cmdline = g_strdup_printf ("probe.mode=hostile probe.bad=%s probe.exit=5", c->kind);
  g_autoptr(ProbeResult) r = run_vivctl (cmdline, devices);
  /* The guest ran on to its own exit. */
  probe_assert_exit (r, 5);
  g_autofree char *prefix = g_strdup_printf ("PROBE hostile bad=%s ", c->kind);
  const char *line = probe_require_line (r, prefix);
  g_assert_cmpuint (probe_line_u64 (line, "needs_reset"), ==, c->needs_reset);
  /* A device must not use a buffer before DRIVER_OK, nor a broken chain. */
  g_assert_cmpuint (probe_line_u64 (line, "used"), ==, 0);
  g_assert_cmpstr (probe_require_line (r, "PROBE hostile recovered="), ==, "PROBE hostile recovered=1");
  disk_remove (disk);
}

/* ---- the machine's own ends ---- */

static void
test_machine_end (gconstpointer data)
{
  const char *mode = data;
  g_autofree char *cmdline = g_strdup_printf ("probe.mode=%s", mode);
  g_autoptr(ProbeResult) r = run_vivctl (cmdline, NULL);
  g_autofree char *line = g_strdup_printf ("PROBE %s", mode);
  if (r->timed_out || !r->exited || r->exit_status != 0)
    probe_result_dump (r);
  g_assert_false (r->timed_out);
  g_assert_true (r->exited);
  g_assert_cmpint (r->exit_status, ==, 0);
  g_assert_cmpstr (probe_require_line (r, "PROBE "), ==, line);
  g_assert_cmpuint (probe_result_count (r, "PROBE "), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  vivctl = g_getenv ("VIVCTL");
  probe_elf = g_getenv ("PROBE_ELF");
  if (!vivctl || !probe_elf)
    {
      g_printerr ("test-virtio: VIVCTL and PROBE_ELF must be set (meson test sets them)\n");
      return 1;
    }
  if (g_access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_printerr ("test-virtio: skipped, /dev/kvm is not accessible\n");
      return 77;
    }

  g_test_add_func ("/e2e/virtio/list", test_list);
  for (guint i = 0; i < G_N_ELEMENTS (blk_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/e2e/virtio/blk/guest-to-host/%s", blk_cases[i].name);
      g_test_add_data_func (name, &blk_cases[i], test_blk_guest_to_host);
    }
  g_test_add_data_func ("/e2e/virtio/blk/host-to-guest/polling", "", test_blk_host_to_guest);
  g_test_add_data_func ("/e2e/virtio/blk/host-to-guest/irq-qd32",
                        " probe.blk_qd=32 probe.virtio_irq=1 probe.virtio_event_idx=1", test_blk_host_to_guest);
  g_test_add_func ("/e2e/virtio/blk/serial", test_blk_serial);
  g_test_add_func ("/e2e/virtio/blk/readonly", test_blk_readonly);
  g_test_add_func ("/e2e/virtio/blk/bench", test_blk_bench);
  g_test_add_data_func ("/e2e/virtio/net/echo/polling", "", test_net_echo);
  g_test_add_data_func ("/e2e/virtio/net/echo/irq", " probe.virtio_irq=1", test_net_echo);
  g_test_add_data_func ("/e2e/virtio/net/echo/irq-event-idx",
                        " probe.virtio_irq=1 probe.virtio_event_idx=1 probe.virtio_indirect=1", test_net_echo);
  g_test_add_func ("/e2e/virtio/console", test_console);
  g_test_add_func ("/e2e/virtio/rng", test_rng);
  g_test_add_func ("/e2e/virtio/balloon", test_balloon);
  for (guint i = 0; i < G_N_ELEMENTS (hostile_cases); i++)
    {
      const HostileCase *c = &hostile_cases[i];
      g_autofree char *name = g_strdup_printf ("/e2e/virtio/hostile/%s/%s", c->kind,
                                               strcmp (c->device, "disk") == 0 ? "blk" : "rng");
      g_test_add_data_func (name, c, test_hostile);
    }
  g_test_add_data_func ("/e2e/machine/reset", "reset", test_machine_end);
  g_test_add_data_func ("/e2e/machine/poweroff", "poweroff", test_machine_end);
  return g_test_run ();
}
