/* The probe guest under QEMU (microvm, KVM): the reference VMM, so that a
 * failure in test-probe.c can be told apart from a bug in the guest, and
 * the proof that QEMU boots the very ELF our engine boots (the launch
 * benchmark compares the two).  QEMU comes from the environment; without
 * it, or without /dev/kvm, the test is skipped with the reason printed. */
#include <glib.h>
#include <glib/gstdio.h>
#include "probe-runner.h"

#define RUN_TIMEOUT_MS (60 * 1000)

static const char *qemu;
static const char *probe_elf;

static ProbeResult *
run_qemu (const char *cmdline, const char *memory, guint cpus,
          const char *input, const char *input_after)
{
  g_autofree char *smp = g_strdup_printf ("%u", cpus);
  const char *argv[] = {
    qemu, "-enable-kvm",
    "-M", "microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off",
    "-global", "virtio-mmio.force-legacy=false",
    "-cpu", "host,-arch-capabilities", "-nodefaults", "-nographic",
    "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
    "-m", memory, "-smp", smp,
    "-kernel", probe_elf, "-append", cmdline,
    NULL,
  };
  ProbeRunSpec spec = {
    .argv = argv,
    .input = input,
    .input_after = input_after,
    .timeout_ms = RUN_TIMEOUT_MS,
  };
  return probe_run (&spec);
}

static void
test_hello (void)
{
  g_autoptr(ProbeResult) r = run_qemu ("probe.mode=hello probe.exit=42", "256M", 1, NULL, NULL);
  probe_assert_hello (r, 42);
}

static void
test_info (void)
{
  g_autoptr(ProbeResult) r = run_qemu ("probe.mode=info", "256M", 1, NULL, NULL);
  probe_assert_info (r, "probe.mode=info", 1, 256 << 20);
}

static void
test_smp (void)
{
  g_autoptr(ProbeResult) r = run_qemu ("probe.mode=smp", "256M", 4, NULL, NULL);
  probe_assert_smp (r, 4);
}

static void
test_mem (void)
{
  g_autoptr(ProbeResult) r = run_qemu ("probe.mode=mem", "1G", 1, NULL, NULL);
  probe_assert_mem (r, G_GUINT64_CONSTANT (1) << 30);
}

static void
test_serial_irq (void)
{
  const char *input = "Hi!\001\377q";
  g_autoptr(ProbeResult) r = run_qemu ("probe.mode=irq", "256M", 1, input, "PROBE irq ready");
  probe_assert_irq (r, input, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  qemu = g_getenv ("QEMU");
  probe_elf = g_getenv ("PROBE_ELF");
  if (!probe_elf)
    {
      g_printerr ("test-probe-qemu: PROBE_ELF must be set (meson test sets it)\n");
      return 1;
    }
  if (!qemu || !*qemu)
    {
      g_printerr ("test-probe-qemu: skipped, qemu-system-x86_64 was not found at configure time\n");
      return 77;
    }
  if (g_access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_printerr ("test-probe-qemu: skipped, /dev/kvm is not accessible\n");
      return 77;
    }
  g_test_add_func ("/guest/qemu/hello", test_hello);
  g_test_add_func ("/guest/qemu/info", test_info);
  g_test_add_func ("/guest/qemu/smp", test_smp);
  g_test_add_func ("/guest/qemu/mem", test_mem);
  g_test_add_func ("/guest/qemu/serial-irq", test_serial_irq);
  return g_test_run ();
}
