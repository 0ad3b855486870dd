/* vivctl: the command-line client.  Each subcommand lives in its own file
 * and is dispatched from here. */
#include "vivctl.h"
#include "vivctl-vm.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "run", vivctl_run, "boot a kernel in the foreground, serial console on this terminal" },
  { "disk", vivctl_disk, "create, inspect, convert, resize, snapshot and clone disk images" },
  { "create", vivctl_create, "define a new VM (kernel, memory, disks, NICs …)" },
  { "define", vivctl_define, "define or update a VM from libvirt domain XML" },
  { "undefine", vivctl_undefine, "remove a VM's definition (--remove-disks: its images too)" },
  { "dumpxml", vivctl_dumpxml, "print a VM's libvirt domain XML" },
  { "list", vivctl_list, "list the running VMs (--all: every VM; --json)" },
  { "start", vivctl_start, "start a VM in the background" },
  { "shutdown", vivctl_shutdown, "ask a VM's guest to shut down" },
  { "poweroff", vivctl_poweroff, "stop a VM at once" },
  { "pause", vivctl_pause, "pause a VM" },
  { "resume", vivctl_resume, "resume a paused VM" },
  { "reset", vivctl_reset, "reset a VM (it reboots)" },
  { "console", vivctl_console, "attach this terminal to a VM's serial console (Ctrl-] leaves)" },
  { "stats", vivctl_stats, "a VM's statistics (--watch, --json)" },
  { "top", vivctl_top, "a live table of every VM, with keys to start, pause, resume, stop" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: vivctl COMMAND [OPTIONS…]\n\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'vivctl COMMAND --help' for a command's options.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      usage (stderr);
      return VIVCTL_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);

  vivctl_fail ("unknown command '%s'; run 'vivctl --help' for the list", argv[1]);
  return VIVCTL_EXIT_USAGE;
}

void
vivctl_fail (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "vivctl: %s\n", message);
}
