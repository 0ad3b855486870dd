/* vivctl: the command-line client.  Each subcommand lives in its own file
 * and is dispatched from here.  The VM commands (create … top) are in a
 * module, vivctl-vm.so, loaded only for them: they need the VM library's
 * libraries (libvirt-gconfig, libxml2 with ICU, ncurses), which would
 * otherwise cost `vivctl run` and `vivctl disk` about 2.8 MiB and 1.5 ms
 * at every start. */
#include "vivctl.h"
#include "companion.h"

#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef int (*VivctlCommand) (int argc, char **argv);

static const struct {
  const char *name;
  VivctlCommand run;  /* NULL: vivctl_<name> in the VM-commands module */
  const char *summary;
} commands[] = {
  { "run", vivctl_run, "boot a kernel in the foreground, serial console on this terminal" },
  { "disk", vivctl_disk, "create, inspect, convert, resize, snapshot and clone disk images" },
  { "create", NULL, "define a new VM (kernel, memory, disks, NICs …)" },
  { "define", NULL, "define or update a VM from libvirt domain XML" },
  { "undefine", NULL, "remove a VM's definition (--remove-disks: its images too)" },
  { "dumpxml", NULL, "print a VM's libvirt domain XML" },
  { "list", NULL, "list the running VMs (--all: every VM; --json)" },
  { "start", NULL, "start a VM in the background" },
  { "shutdown", NULL, "ask a VM's guest to shut down" },
  { "poweroff", NULL, "stop a VM at once" },
  { "pause", NULL, "pause a VM" },
  { "resume", NULL, "resume a paused VM" },
  { "reset", NULL, "reset a VM (it reboots)" },
  { "console", NULL, "attach this terminal to a VM's serial console (Ctrl-] leaves)" },
  { "stats", NULL, "a VM's statistics (--watch, --json)" },
  { "top", NULL, "a live table of every VM, with keys to start, pause, resume, stop" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: vivctl COMMAND [OPTIONS…]\n\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'vivctl COMMAND --help' for a command's options.\n");
}

/* The VM command `name` from the module, or NULL after saying why. */
static VivctlCommand
vm_command (const char *name)
{
  g_autofree char *symbol = g_strconcat ("vivctl_", name, NULL);
  g_autoptr (GError) error = NULL;
  VivctlCommand command =
      viv_companion_module_symbol ("VIVARIUM_VIVCTL_VM_MODULE", VIVCTL_VM_MODULE_BUILD_PATH,
                                   VIVCTL_VM_MODULE_INSTALLED_PATH, "the VM commands", symbol,
                                   &error);
  if (!command)
    vivctl_fail ("%s", error->message);
  return command;
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
      {
        VivctlCommand run = commands[i].run ? commands[i].run : vm_command (argv[1]);
        return run ? run (argc - 1, argv + 1) : VIVCTL_EXIT_FAILURE;
      }

  vivctl_fail ("unknown command '%s'; run 'vivctl --help' for the list", argv[1]);
  return VIVCTL_EXIT_USAGE;
}
