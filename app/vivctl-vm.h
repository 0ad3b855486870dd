/* What the VM subcommands of vivctl (vivctl-vm.c, vivctl-console.c,
 * vivctl-stats.c, vivctl-top.c) share. */
#pragma once
#include <gmodule.h>

#include "vivctl.h"
#include "library.h"
#include "worker-client.h"

/* Parses options; on success argv holds the command name then exactly
 * n_args operands.  On failure prints the message and returns false. */
gboolean    vivctl_vm_parse_args (GOptionContext *context, int *argc, char ***argv,
                                  const char *usage_operands, int n_args);

/* Opens the library, printing the error on failure. */
VivLibrary *vivctl_vm_open_library (void);

/* Prints the error; returns the exit status it calls for: the user's
 * input (bad or unknown VM, wrong state) → VIVCTL_EXIT_USAGE, else
 * VIVCTL_EXIT_FAILURE. */
int         vivctl_vm_report (const GError *error);

/* The Machine1 object of a running VM.  A VM that is not running, has
 * crashed or is not defined gets an error saying so (and what to do). */
VivDBusMachine1 *vivctl_vm_connect (const char *name, VivWorkerInfo **info, GError **error);

/* The commands, which the module exports for vivctl.c. */
G_MODULE_EXPORT int vivctl_create   (int argc, char **argv);
G_MODULE_EXPORT int vivctl_define   (int argc, char **argv);
G_MODULE_EXPORT int vivctl_undefine (int argc, char **argv);
G_MODULE_EXPORT int vivctl_dumpxml  (int argc, char **argv);
G_MODULE_EXPORT int vivctl_list     (int argc, char **argv);
G_MODULE_EXPORT int vivctl_start    (int argc, char **argv);
G_MODULE_EXPORT int vivctl_shutdown (int argc, char **argv);
G_MODULE_EXPORT int vivctl_poweroff (int argc, char **argv);
G_MODULE_EXPORT int vivctl_pause    (int argc, char **argv);
G_MODULE_EXPORT int vivctl_resume   (int argc, char **argv);
G_MODULE_EXPORT int vivctl_reset    (int argc, char **argv);
G_MODULE_EXPORT int vivctl_console  (int argc, char **argv);
G_MODULE_EXPORT int vivctl_stats    (int argc, char **argv);
G_MODULE_EXPORT int vivctl_top      (int argc, char **argv);
