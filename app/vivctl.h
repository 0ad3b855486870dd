#pragma once
#include <glib.h>

/* Exit statuses shared by all subcommands. */
#define VIVCTL_EXIT_FAILURE 1   /* something failed while running */
#define VIVCTL_EXIT_USAGE   2   /* the user's input was wrong; nothing was done */

/* Prints "vivctl: MESSAGE" on stderr. */
void vivctl_fail (const char *format, ...) G_GNUC_PRINTF (1, 2);

int vivctl_run (int argc, char **argv);
int vivctl_disk (int argc, char **argv);
