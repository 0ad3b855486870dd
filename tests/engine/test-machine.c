/* The machine API in-process, with the probe guest: start, pause and
 * resume, stop requests, exit counters, console input. */
#include "machine.h"

#include <string.h>
#include <unistd.h>

typedef struct {
  GMutex   lock;
  GCond    changed;
  GString *output;
  bool     stopped;
} Console;

static void
console_write (void *ctx, const uint8_t *buf, size_t len)
{
  Console *console = ctx;
  g_mutex_lock (&console->lock);
  g_string_append_len (console->output, (const char *) buf, len);
  g_cond_broadcast (&console->changed);
  g_mutex_unlock (&console->lock);
}

static void
on_stopped (void *ctx)
{
  Console *console = ctx;
  g_mutex_lock (&console->lock);
  console->stopped = true;
  g_cond_broadcast (&console->changed);
  g_mutex_unlock (&console->lock);
}

/* Waits up to `seconds` for `text` in the output (or for a stop, if NULL). */
static bool
wait_for (Console *console, const char *text, double seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  bool found = false;
  g_mutex_lock (&console->lock);
  for (;;)
    {
      found = text ? strstr (console->output->str, text) != NULL : console->stopped;
      if (found || !g_cond_wait_until (&console->changed, &console->lock, deadline))
        break;
    }
  found = text ? strstr (console->output->str, text) != NULL : console->stopped;
  g_mutex_unlock (&console->lock);
  return found;
}

typedef struct {
  Console     console;
  VivMachine *machine;
} Fixture;

static void
boot_full (Fixture *f, const char *cmdline, unsigned cpus, uint64_t memory, VivResetPolicy on_reset)
{
  g_mutex_init (&f->console.lock);
  g_cond_init (&f->console.changed);
  f->console.output = g_string_new (NULL);
  VivMachineConfig config = {
    .kernel_path = g_getenv ("PROBE_ELF"),
    .cmdline = cmdline,
    .memory_bytes = memory,
    .n_cpus = cpus,
    .on_reset = on_reset,
    .console = { console_write, &f->console },
  };
  g_autoptr (GError) error = NULL;
  f->machine = viv_machine_new (&config, &error);
  g_assert_no_error (error);
  viv_machine_set_stopped_callback (f->machine, on_stopped, &f->console);
  g_assert_true (viv_machine_start (f->machine, &error));
  g_assert_no_error (error);
}

static void
boot_with_memory (Fixture *f, const char *cmdline, unsigned cpus, uint64_t memory)
{
  boot_full (f, cmdline, cpus, memory, VIV_RESET_STOP);
}

static void
boot (Fixture *f, const char *cmdline, unsigned cpus)
{
  boot_with_memory (f, cmdline, cpus, 64 << 20);
}

static unsigned
count_occurrences (Console *console, const char *text)
{
  unsigned n = 0;
  g_mutex_lock (&console->lock);
  for (const char *p = console->output->str; (p = strstr (p, text)); p += strlen (text))
    n++;
  g_mutex_unlock (&console->lock);
  return n;
}

static void
teardown (Fixture *f)
{
  viv_machine_free (f->machine);
  g_string_free (f->console.output, TRUE);
  g_mutex_clear (&f->console.lock);
  g_cond_clear (&f->console.changed);
}

static VivStopReason
finish (Fixture *f, int *code)
{
  g_assert_true (wait_for (&f->console, NULL, 30));
  return viv_machine_finish (f->machine, code);
}

static void
test_exit_code_and_counters (void)
{
  Fixture f = { 0 };
  boot (&f, "probe.mode=info probe.exit=7", 2);
  int code = -1;
  g_assert_cmpint (finish (&f, &code), ==, VIV_STOP_DEBUG_EXIT);
  g_assert_cmpint (code, ==, 7);
  g_assert_nonnull (strstr (f.console.output->str, "PROBE "));

  /* Every byte of serial output is a port write: the boot CPU exited for
   * at least that many. */
  uint64_t counts[VIV_EXIT_N_KINDS];
  viv_machine_get_exit_counts (f.machine, 0, counts);
  g_assert_cmpuint (counts[VIV_EXIT_IO], >=, f.console.output->len);
  g_assert_cmpuint (viv_machine_get_resident_bytes (f.machine), >, 0);
  g_assert_cmpuint (viv_machine_get_resident_bytes (f.machine), <=, 64 << 20);
  teardown (&f);
}

static void
test_pause_holds_the_guest (void)
{
  Fixture f = { 0 };
  boot (&f, "probe.mode=irq", 1);
  g_assert_true (wait_for (&f.console, "PROBE irq ready", 30));

  viv_machine_pause (f.machine);
  uint64_t before[VIV_EXIT_N_KINDS], after[VIV_EXIT_N_KINDS];
  viv_machine_get_exit_counts (f.machine, 0, before);
  g_assert_cmpuint (viv_machine_console_input (f.machine, (const uint8_t *) "a", 1), ==, 1);
  /* Paused: the byte waits in the UART and the guest says nothing. */
  g_assert_false (wait_for (&f.console, "rx=0x61", 0.5));
  viv_machine_get_exit_counts (f.machine, 0, after);
  g_assert_cmpuint (after[VIV_EXIT_IO], ==, before[VIV_EXIT_IO]);

  viv_machine_resume (f.machine);
  g_assert_true (wait_for (&f.console, "rx=0x61", 30));

  viv_machine_console_input (f.machine, (const uint8_t *) "q", 1);
  int code = -1;
  g_assert_cmpint (finish (&f, &code), ==, VIV_STOP_DEBUG_EXIT);
  g_assert_cmpint (code, ==, 0);
  teardown (&f);
}

static void
test_stop_request_ends_a_waiting_guest (void)
{
  Fixture f = { 0 };
  /* 4 vCPUs, the guest waiting for input: vCPUs are in the guest or in HLT. */
  boot (&f, "probe.mode=irq", 4);
  g_assert_true (wait_for (&f.console, "PROBE irq ready", 60));
  gint64 start = g_get_monotonic_time ();
  viv_machine_request_stop (f.machine, VIV_STOP_USER, 0);
  g_assert_cmpint (finish (&f, NULL), ==, VIV_STOP_USER);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  teardown (&f);
}

static void
test_pause_resume_while_stopping (void)
{
  Fixture f = { 0 };
  boot (&f, "probe.mode=irq", 2);
  g_assert_true (wait_for (&f.console, "PROBE irq ready", 60));
  viv_machine_pause (f.machine);
  /* A stop must wake parked vCPUs. */
  viv_machine_request_stop (f.machine, VIV_STOP_USER, 0);
  g_assert_cmpint (finish (&f, NULL), ==, VIV_STOP_USER);
  teardown (&f);
}

/* i8042 reset with the stop policy ends the run; with the reboot policy
 * the kernel is loaded again and boots afresh, every time. */
static void
test_reset_policies (void)
{
  Fixture f = { 0 };
  boot_full (&f, "probe.mode=reset", 2, 64 << 20, VIV_RESET_STOP);
  int code = -1;
  g_assert_cmpint (finish (&f, &code), ==, VIV_STOP_RESET);
  g_assert_cmpint (code, ==, 0);
  g_assert_cmpuint (count_occurrences (&f.console, "PROBE reset"), ==, 1);
  teardown (&f);

  Fixture g = { 0 };
  boot_full (&g, "probe.mode=reset", 2, 64 << 20, VIV_RESET_REBOOT);
  for (unsigned boots = 1; boots <= 3; boots++)
    {
      g_assert_true (wait_for (&g.console, NULL, 30));
      g_assert_cmpuint (count_occurrences (&g.console, "PROBE reset"), ==, boots);
      /* Cleared before the reboot, whose own stop may come at once. */
      g_mutex_lock (&g.console.lock);
      g.console.stopped = false;
      g_mutex_unlock (&g.console.lock);
      g_assert_cmpint (viv_machine_finish (g.machine, NULL), ==, VIV_STOP_NONE);
    }
  /* Exit counts add up across reboots. */
  uint64_t counts[VIV_EXIT_N_KINDS];
  viv_machine_get_exit_counts (g.machine, 0, counts);
  g_assert_cmpuint (counts[VIV_EXIT_IO], >=, 3 * strlen ("PROBE reset"));
  viv_machine_request_stop (g.machine, VIV_STOP_USER, 0);
  VivStopReason reason = finish (&g, NULL);
  /* The stop may have raced with one more guest reset. */
  g_assert_true (reason == VIV_STOP_USER || reason == VIV_STOP_NONE);
  teardown (&g);
}

/* ACPI S5 through the FADT's sleep control register. */
static void
test_poweroff (void)
{
  Fixture f = { 0 };
  boot (&f, "probe.mode=poweroff", 1);
  g_assert_cmpint (finish (&f, NULL), ==, VIV_STOP_POWEROFF);
  g_assert_nonnull (strstr (f.console.output->str, "PROBE poweroff"));
  teardown (&f);
}

/* The bar: at least 32 GiB, most of it relocated above 4 GiB. */
static void
test_32_gib_guest (void)
{
  Fixture f = { 0 };
  boot_with_memory (&f, "probe.mode=info", 1, 32ULL << 30);
  g_assert_cmpint (finish (&f, NULL), ==, VIV_STOP_DEBUG_EXIT);
  const char *usable = strstr (f.console.output->str, "usable_bytes=");
  g_assert_nonnull (usable);
  guint64 bytes = g_ascii_strtoull (usable + strlen ("usable_bytes="), NULL, 10);
  /* All of it but the legacy areas below 1 MiB. */
  g_assert_cmpuint (bytes, <=, 32ULL << 30);
  g_assert_cmpuint (bytes, >, (32ULL << 30) - (1 << 20));
  g_assert_nonnull (strstr (f.console.output->str, "highest=0x840000000"));
  teardown (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_test_message ("SKIP: /dev/kvm is not usable here");
      return 77;
    }
  g_test_add_func ("/machine/exit-code-and-counters", test_exit_code_and_counters);
  g_test_add_func ("/machine/pause-holds-the-guest", test_pause_holds_the_guest);
  g_test_add_func ("/machine/stop-request", test_stop_request_ends_a_waiting_guest);
  g_test_add_func ("/machine/stop-while-paused", test_pause_resume_while_stopping);
  g_test_add_func ("/machine/32-gib", test_32_gib_guest);
  g_test_add_func ("/machine/reset-policies", test_reset_policies);
  g_test_add_func ("/machine/poweroff", test_poweroff);
  return g_test_run ();
}
