/* vivctl console NAME: this terminal on a running VM's serial console.
 * The worker sends its scrollback first, so the boot log shows up.  On a
 * terminal, raw mode; Ctrl-] (byte 0x1d) leaves, the VM keeps running. */
#include "vivctl-vm.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_RIGHT_BRACKET 0x1d

static gboolean
write_all (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      buf += n;
      len -= n;
    }
  return TRUE;
}

typedef enum { PUMP_DETACHED, PUMP_CLOSED, PUMP_FAILED } PumpResult;

/* Copies stdin → console (until Ctrl-]) and console → stdout until the
 * worker closes the socket (the VM stopped) or the user detaches. */
static PumpResult
pump (int console)
{
  gboolean stdin_open = TRUE;
  char buf[4096];
  for (;;)
    {
      struct pollfd fds[2] = {
        { .fd = console, .events = POLLIN },
        { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
      };
      if (poll (fds, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return PUMP_FAILED;
        }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        {
          ssize_t n = read (console, buf, sizeof buf);
          if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
          if (n <= 0)
            return PUMP_CLOSED;
          if (!write_all (STDOUT_FILENO, buf, n))
            return PUMP_DETACHED;   /* nobody reads our output any more */
        }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
        {
          ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
          if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
          if (n <= 0)
            {
              /* End of input: keep showing the console. */
              stdin_open = FALSE;
              continue;
            }
          char *escape = memchr (buf, CTRL_RIGHT_BRACKET, n);
          size_t len = escape ? (size_t) (escape - buf) : (size_t) n;
          if (len > 0 && !write_all (console, buf, len))
            return PUMP_CLOSED;
          if (escape)
            return PUMP_DETACHED;
        }
    }
}

int
vivctl_console (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("NAME - attach this terminal to a VM's console");
  g_option_context_set_description (context, "Ctrl-] leaves; the VM keeps running.");
  if (!vivctl_vm_parse_args (context, &argc, &argv, "NAME", 1))
    return VIVCTL_EXIT_USAGE;

  const char *name = argv[1];
  g_autoptr (GError) error = NULL;
  g_autoptr (VivWorkerInfo) info = NULL;
  /* Connecting to the control socket first gives the same messages as
   * the other commands for a VM that is not running or crashed. */
  g_autoptr (VivDBusMachine1) vm = vivctl_vm_connect (name, &info, &error);
  if (!vm)
    return vivctl_vm_report (error);
  int console = viv_worker_client_open_console (info, &error);
  if (console < 0)
    return vivctl_vm_report (error);

  struct termios saved;
  gboolean raw = isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &saved) == 0;
  if (raw)
    {
      fprintf (stderr, "Connected to '%s' (Ctrl-] leaves)\r\n", name);
      struct termios termios = saved;
      cfmakeraw (&termios);
      termios.c_oflag |= OPOST;   /* the guest's CR LF stays one line break */
      raw = tcsetattr (STDIN_FILENO, TCSANOW, &termios) == 0;
    }
  PumpResult result = pump (console);
  if (raw)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved);
  close (console);

  switch (result)
    {
    case PUMP_CLOSED:
      fprintf (stderr, "\nvivctl: '%s' stopped; console closed\n", name);
      return 0;
    case PUMP_FAILED:
      vivctl_fail ("console: %s", g_strerror (errno));
      return VIVCTL_EXIT_FAILURE;
    case PUMP_DETACHED:
    default:
      if (raw)
        fprintf (stderr, "\n");
      return 0;
    }
}
