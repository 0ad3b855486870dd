/* probe.mode=demo: what `./dev run` shows.  A banner, the boot
 * information, every CPU started, then a small prompt on the serial port
 * (input by interrupt, so an idle prompt leaves the host CPU alone). */
#include "probe.h"

#define LINE_MAX 64

static ProbeSmp demo_smp;

static void
show_help (void)
{
  probe_printf ("commands:\r\n"
                "  help   this list\r\n"
                "  info   boot loader, command line, memory map, CPUs\r\n"
                "  cpus   CPUs listed and started\r\n"
                "  mem    check guest RAM (takes a moment with many GiB)\r\n"
                "  exit   power off (exit code from probe.exit=)\r\n");
}

static void
show_cpus (void)
{
  const ProbePlatform *pf = &probe_platform;
  probe_printf ("%u CPUs listed (%s), %u of %u started, this is APIC %u\r\n",
                pf->n_cpus, pf->source, demo_smp.online, demo_smp.expected, lapic_id ());
  unsigned shown = pf->n_cpus < PROBE_MAX_TABLE_CPUS ? pf->n_cpus : PROBE_MAX_TABLE_CPUS;
  for (unsigned i = 0; i < shown; i++)
    probe_printf ("%s%u", i ? " " : "  APIC IDs: ", pf->apic_ids[i]);
  probe_printf ("\r\n");
}

static void
show_memory_map (void)
{
  static const char *const types[] = { "?", "usable", "reserved", "acpi", "nvs", "bad" };
  for (unsigned i = 0; i < probe_boot.n_ranges; i++)
    {
      const ProbeRange *r = &probe_boot.ranges[i];
      probe_printf ("  0x%012lx-0x%012lx %s\r\n", r->base, r->base + r->size - 1,
                    r->type < ARRAY_SIZE (types) ? types[r->type] : "?");
    }
}

/* The next byte from COM1; bytes that came with one interrupt are kept
 * for the following calls. */
static uint8_t
next_byte (void)
{
  static uint8_t buf[16];
  static size_t len, pos;
  while (pos == len)
    {
      len = serial_irq_read (buf, sizeof buf);
      pos = 0;
    }
  return buf[pos++];
}

/* Reads a line with echo and backspace; returns its length. */
static size_t
read_line (char *line, size_t size)
{
  static bool after_cr;          /* "\r\n" ends one line, not two */
  size_t len = 0;
  for (;;)
    {
      uint8_t c = next_byte ();
      bool skip = after_cr && c == '\n';
      after_cr = c == '\r';
      if (skip)
        continue;
      if (c == '\r' || c == '\n')
        {
          probe_printf ("\r\n");
          line[len] = 0;
          return len;
        }
      if ((c == 0x7f || c == 0x08) && len)
        {
          len--;
          probe_printf ("\b \b");
        }
      else if (c >= 0x20 && c < 0x7f && len + 1 < size)
        {
          line[len++] = (char) c;
          serial_putc ((char) c);
        }
    }
}

void
demo_run (void)
{
  probe_printf ("\r\n  Vivarium probe guest\r\n"
                "  a tiny PVH kernel: CPL0 for set-up and interrupt entry only\r\n\r\n");
  probe_print_info ();
  demo_smp = smp_start_all ();
  probe_printf ("PROBE smp expected=%u online=%u\r\n", demo_smp.expected, demo_smp.online);
  serial_irq_enable ();
  probe_printf ("\r\nType 'help' for commands.\r\n");
  for (;;)
    {
      char line[LINE_MAX];
      probe_printf ("probe> ");
      read_line (line, sizeof line);
      if (!line[0])
        continue;
      if (strcmp (line, "help") == 0)
        show_help ();
      else if (strcmp (line, "info") == 0)
        {
          probe_print_info ();
          show_memory_map ();
        }
      else if (strcmp (line, "cpus") == 0)
        show_cpus ();
      else if (strcmp (line, "mem") == 0)
        probe_print_mem ();
      else if (strcmp (line, "exit") == 0)
        probe_exit (probe_exit_code);
      else
        probe_printf ("unknown command '%s' (try 'help')\r\n", line);
    }
}
