/* The probe guest's CPL3 main: reads the boot information, then runs the
 * mode named by probe.mode= on the command line (see README.md). */
#include "virtio.h"

extern uint64_t boot_start_info;        /* tables.S, set by entry.S */

/* Written by interrupts.S when a CPU exception happens. */
struct {
  uint64_t vector_plus_one, error, rip, cs, rsp, cr2;
} fault_record;

volatile uint64_t irq_counts[256];
uint32_t probe_exit_code;

__attribute__((noreturn)) void probe_main (void);
__attribute__((noreturn)) void fault_report (void);

void
probe_exit (uint32_t code)
{
  probe_printf ("PROBE exit code=%u\r\n", code);
  outl (PORT_DEBUG_EXIT, code);
  sys_halt ();                          /* no debug-exit device: stay halted */
}

void
fault_report (void)
{
  probe_printf ("PROBE fault vector=%lu error=0x%lx rip=0x%lx cs=0x%lx rsp=0x%lx cr2=0x%lx\r\n",
                fault_record.vector_plus_one - 1, fault_record.error, fault_record.rip,
                fault_record.cs, fault_record.rsp, fault_record.cr2);
  probe_exit (PROBE_EXIT_FAULT);
}

/* The command line as one line of output: control bytes become '?'. */
static void
print_cmdline (void)
{
  probe_printf ("PROBE cmdline=");
  for (const char *p = cmdline_get (); *p; p++)
    serial_putc (*p >= 0x20 && *p < 0x7f ? *p : '?');
  probe_printf ("\r\n");
}

void
probe_print_info (void)
{
  const ProbeBoot *b = &probe_boot;
  unsigned usable = 0;
  for (unsigned i = 0; i < b->n_ranges; i++)
    usable += b->ranges[i].type == E820_USABLE;
  probe_printf ("PROBE boot loader=%s start_info_version=%u\r\n",
                b->valid ? "pvh" : "unknown", b->version);
  print_cmdline ();
  probe_printf ("PROBE mem ranges=%u usable_ranges=%u usable_bytes=%lu highest=0x%lx\r\n",
                b->n_ranges, usable, b->usable_bytes, b->highest);
  probe_printf ("PROBE cpus count=%u source=%s\r\n",
                probe_platform.n_cpus, probe_platform.source);
}

void
probe_print_smp (void)
{
  ProbeSmp s = smp_start_all ();
  probe_printf ("PROBE smp expected=%u online=%u\r\n", s.expected, s.online);
  if (s.online != s.expected)
    probe_exit (PROBE_EXIT_FAILED);
}

void
probe_print_mem (void)
{
  uint64_t stride = cmdline_u64 ("probe.mem_stride", PROBE_MEM_STRIDE_DEFAULT);
  if (stride < 4096 || (stride & (stride - 1)))
    {
      probe_printf ("PROBE mem error=bad-stride (a power of two, at least 4096)\r\n");
      probe_exit (PROBE_EXIT_FAILED);
    }
  ProbeMemCheck m = mem_check (stride);
  probe_printf ("PROBE mem usable_bytes=%lu checked_bytes=%lu errors=%lu checksum=0x%016lx\r\n",
                m.usable_bytes, m.checked_bytes, m.errors, m.checksum);
  if (m.errors)
    probe_exit (PROBE_EXIT_FAILED);
}

/* irq: the LAPIC timer, then COM1 receive interrupts until a 'q'. */
__attribute__((noreturn)) static void
run_irq (void)
{
  lapic_enable ();
  probe_printf ("PROBE timer ticks=%lu\r\n", lapic_timer_count_ticks (10));
  serial_irq_enable ();
  probe_printf ("PROBE irq ready\r\n");
  uint64_t bytes = 0;
  for (;;)
    {
      uint8_t buf[16];
      size_t n = serial_irq_read (buf, sizeof buf);
      for (size_t i = 0; i < n; i++)
        {
          bytes++;
          probe_printf ("PROBE irq rx=0x%02x\r\n", buf[i]);
          if (buf[i] == 'q')
            {
              probe_printf ("PROBE irq count=%lu interrupts=%lu\r\n", bytes, irq_counts[VEC_COM1]);
              probe_exit (probe_exit_code);
            }
        }
    }
}

/* reset (the i8042's pulse-reset command) and poweroff (ACPI S5 through
 * the hardware-reduced SLEEP_CONTROL register): the VMM ends the VM, so
 * still running a second later is a failure. */
#define PORT_I8042_CMD        0x64
#define I8042_CMD_RESET       0xfe
#define PORT_ACPI_SLEEP_CONTROL 0x600
#define ACPI_SLP_TYP_S5       5
#define ACPI_SLP_EN           (1u << 5)

__attribute__((noreturn)) static void
run_machine_end (bool reset)
{
  uint64_t deadline = tsc_deadline_ms (1000);
  if (reset)
    {
      probe_printf ("PROBE reset\r\n");
      outb (PORT_I8042_CMD, I8042_CMD_RESET);
    }
  else
    {
      probe_printf ("PROBE poweroff\r\n");
      outb (PORT_ACPI_SLEEP_CONTROL, ACPI_SLP_TYP_S5 << 2 | ACPI_SLP_EN);
    }
  while (!tsc_passed (deadline))
    cpu_relax ();
  probe_printf ("PROBE %s error=still-running\r\n", reset ? "reset" : "poweroff");
  probe_exit (PROBE_EXIT_FAILED);
}

typedef struct {
  const char *name;
  void (*run) (void);
} Mode;

static void run_irq_mode (void) { run_irq (); }
static void run_demo_mode (void) { demo_run (); }
static void run_reset_mode (void) { run_machine_end (true); }
static void run_poweroff_mode (void) { run_machine_end (false); }

static const Mode modes[] = {
  { "info", probe_print_info },
  { "smp", probe_print_smp },
  { "mem", probe_print_mem },
  { "irq", run_irq_mode },
  { "demo", run_demo_mode },
  { "virtio-list", virtio_list_mode },
  { "blk", blk_mode },
  { "net", net_mode },
  { "console", console_mode },
  { "rng", rng_mode },
  { "balloon", balloon_mode },
  { "hostile", hostile_mode },
  { "reset", run_reset_mode },
  { "poweroff", run_poweroff_mode },
};

void
probe_main (void)
{
  idt_init ();
  boot_info_read (boot_start_info);
  probe_exit_code = (uint32_t) cmdline_u64 ("probe.exit", 0);
  paging_map_high_memory ();
  platform_discover ();

  char mode[16] = "info";
  cmdline_value ("probe.mode", mode, sizeof mode);
  for (unsigned i = 0; i < ARRAY_SIZE (modes); i++)
    if (strcmp (mode, modes[i].name) == 0)
      {
        modes[i].run ();
        virtio_report_interrupts ();
        probe_exit (probe_exit_code);
      }
  probe_printf ("PROBE error unknown-mode=%s\r\n", mode);
  probe_exit (PROBE_EXIT_FAILED);
}
