/* vivctl run: boot a kernel in the foreground.  COM1 is this process's
 * stdout and stdin; on a terminal, raw mode, and Ctrl-] stops the VM. */
#include "vivctl.h"
#include "size.h"
#include "disk-spec.h"
#include "machine.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_RIGHT_BRACKET 0x1d
#define DEFAULT_MEMORY (256 * 1024 * 1024)

typedef struct {
  VivMachine    *machine;
  GMainLoop     *loop;
  guint          stdin_watch;
  bool           stdin_is_tty;
  struct termios saved_termios;
  /* Input the serial FIFO could not take yet. */
  uint8_t        pending[4096];
  size_t         pending_len;
  size_t         pending_pos;
  VivStopReason  reason;
  int            code;
  int            signal_number;
} RunState;

static void
write_console (void *ctx, const uint8_t *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (STDOUT_FILENO, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;  /* nobody is reading: drop the output, keep the VM running */
      buf += n;
      len -= n;
    }
}

static gboolean on_stdin (int fd, GIOCondition condition, gpointer data);

static void
watch_stdin (RunState *state)
{
  if (!state->stdin_watch)
    state->stdin_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, state);
}

/* Offers pending input to the guest; true when all of it was taken. */
static bool
flush_pending (RunState *state)
{
  size_t left = state->pending_len - state->pending_pos;
  state->pending_pos += viv_machine_console_input (state->machine, state->pending + state->pending_pos, left);
  return state->pending_pos == state->pending_len;
}

static gboolean
on_console_ready_idle (gpointer data)
{
  RunState *state = data;
  if (state->pending_len > 0 && flush_pending (state))
    {
      state->pending_len = state->pending_pos = 0;
      watch_stdin (state);
    }
  return G_SOURCE_REMOVE;
}

static void
on_console_ready (void *ctx)
{
  g_idle_add (on_console_ready_idle, ctx);
}

static gboolean
on_stdin (int fd, GIOCondition condition, gpointer data)
{
  RunState *state = data;
  ssize_t n = read (fd, state->pending, sizeof state->pending);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      /* End of input: the guest keeps running without a keyboard. */
      state->stdin_watch = 0;
      return G_SOURCE_REMOVE;
    }
  if (state->stdin_is_tty)
    {
      uint8_t *escape = memchr (state->pending, CTRL_RIGHT_BRACKET, n);
      if (escape)
        {
          n = escape - state->pending;
          viv_machine_request_stop (state->machine, VIV_STOP_USER, 0);
        }
    }
  state->pending_len = n;
  state->pending_pos = 0;
  if (flush_pending (state))
    {
      state->pending_len = 0;
      return G_SOURCE_CONTINUE;
    }
  /* The guest is not draining its FIFO: wait until it has room. */
  state->stdin_watch = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
on_stopped_idle (gpointer data)
{
  RunState *state = data;
  state->reason = viv_machine_finish (state->machine, &state->code);
  if (state->reason != VIV_STOP_NONE)
    g_main_loop_quit (state->loop);
  return G_SOURCE_REMOVE;
}

static void
on_stopped (void *ctx)
{
  g_idle_add (on_stopped_idle, ctx);
}

static gboolean
on_signal (gpointer data)
{
  RunState *state = data;
  viv_machine_request_stop (state->machine, VIV_STOP_USER, 0);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint (gpointer data)
{
  ((RunState *) data)->signal_number = SIGINT;
  return on_signal (data);
}

static gboolean
on_sigterm (gpointer data)
{
  ((RunState *) data)->signal_number = SIGTERM;
  return on_signal (data);
}

static gboolean
on_sighup (gpointer data)
{
  ((RunState *) data)->signal_number = SIGHUP;
  return on_signal (data);
}

static void
enter_raw_mode (RunState *state)
{
  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &state->saved_termios) < 0)
    return;
  struct termios raw = state->saved_termios;
  cfmakeraw (&raw);
  /* Keep output post-processing so the host terminal shows the guest's
   * CR LF as one line break whatever the guest sends. */
  raw.c_oflag |= OPOST;
  if (tcsetattr (STDIN_FILENO, TCSANOW, &raw) == 0)
    state->stdin_is_tty = true;
}

static void
leave_raw_mode (RunState *state)
{
  if (state->stdin_is_tty)
    tcsetattr (STDIN_FILENO, TCSANOW, &state->saved_termios);
}

static void
print_stats (VivMachine *machine)
{
  for (unsigned i = 0; i < viv_machine_get_n_cpus (machine); i++)
    {
      uint64_t counts[VIV_EXIT_N_KINDS];
      uint64_t total = 0;
      viv_machine_get_exit_counts (machine, i, counts);
      GString *line = g_string_new (NULL);
      for (unsigned k = 0; k < VIV_EXIT_N_KINDS; k++)
        {
          total += counts[k];
          g_string_append_printf (line, " %s=%" G_GUINT64_FORMAT, viv_exit_kind_name (k), counts[k]);
        }
      fprintf (stderr, "vivctl: vcpu %u exits total=%" G_GUINT64_FORMAT "%s\n", i, total, line->str);
      g_string_free (line, TRUE);
    }
  fprintf (stderr, "vivctl: guest-resident-bytes=%" G_GUINT64_FORMAT "\n",
           viv_machine_get_resident_bytes (machine));
}

static int
exit_status (RunState *state, VivMachine *machine)
{
  switch (state->reason)
    {
    case VIV_STOP_DEBUG_EXIT:
      /* As QEMU's isa-debug-exit, so scripts work with both. */
      return ((state->code << 1) | 1) & 0xff;
    case VIV_STOP_RESET:
      if (state->code == 1)
        vivctl_fail ("the guest triple-faulted, which resets a PC; stopped (use --on-reset reboot to restart)");
      return 0;
    case VIV_STOP_POWEROFF:
      return 0;
    case VIV_STOP_USER:
      return state->signal_number ? 128 + state->signal_number : 0;
    case VIV_STOP_ERROR:
      vivctl_fail ("%s", viv_machine_get_error (machine) ? viv_machine_get_error (machine)
                                                         : "the engine stopped with an error");
      return VIVCTL_EXIT_FAILURE;
    case VIV_STOP_NONE:
    default:
      return VIVCTL_EXIT_FAILURE;
    }
}

/* Runs a configured machine to its end; returns vivctl's exit status. */
static int
run_machine (VivMachine *machine, gboolean stats)
{
  g_autoptr (GError) error = NULL;
  RunState state = { .machine = machine, .loop = g_main_loop_new (NULL, FALSE) };
  signal (SIGPIPE, SIG_IGN);
  viv_machine_set_stopped_callback (machine, on_stopped, &state);
  viv_machine_set_console_ready_callback (machine, on_console_ready, &state);
  guint signal_sources[] = {
    g_unix_signal_add (SIGINT, on_sigint, &state),
    g_unix_signal_add (SIGTERM, on_sigterm, &state),
    g_unix_signal_add (SIGHUP, on_sighup, &state),
  };

  int status;
  if (!viv_machine_start (machine, &error))
    {
      vivctl_fail ("%s", error->message);
      status = VIVCTL_EXIT_FAILURE;
    }
  else
    {
      enter_raw_mode (&state);
      watch_stdin (&state);
      g_main_loop_run (state.loop);
      leave_raw_mode (&state);
      status = exit_status (&state, machine);
    }

  if (stats)
    print_stats (machine);
  g_clear_handle_id (&state.stdin_watch, g_source_remove);
  for (size_t i = 0; i < G_N_ELEMENTS (signal_sources); i++)
    g_source_remove (signal_sources[i]);
  g_main_loop_unref (state.loop);
  return status;
}

int
vivctl_run (int argc, char **argv)
{
  g_autofree char *kernel = NULL, *initrd = NULL, *cmdline = NULL;
  g_autofree char *memory_text = NULL, *cpus_text = NULL, *on_reset = NULL;
  g_auto (GStrv) disk_texts = NULL, net_texts = NULL;
  g_autofree char *console = NULL;
  gboolean stats = FALSE, rng = FALSE, balloon = FALSE;
  GOptionEntry entries[] = {
    { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &kernel, "Kernel to boot (bzImage or PVH ELF)", "FILE" },
    { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &initrd, "Initial ramdisk", "FILE" },
    { "cmdline", 0, 0, G_OPTION_ARG_STRING, &cmdline, "Kernel command line", "STR" },
    { "memory", 0, 0, G_OPTION_ARG_STRING, &memory_text, "Guest memory (default 256M)", "SIZE" },
    { "cpus", 0, 0, G_OPTION_ARG_STRING, &cpus_text, "Number of vCPUs (default 1)", "N" },
    { "on-reset", 0, 0, G_OPTION_ARG_STRING, &on_reset, "What a guest reset does: stop (default) or reboot", "ACTION" },
    { "disk", 0, 0, G_OPTION_ARG_STRING_ARRAY, &disk_texts,
      "A virtio disk (repeatable): PATH[,format=raw|qcow2][,cache=none|writethrough|writeback][,readonly][,serial=ID]", "SPEC" },
    { "net", 0, 0, G_OPTION_ARG_STRING_ARRAY, &net_texts,
      "A virtio NIC (repeatable): user[,hostfwd=tcp:127.0.0.1:HOSTPORT-:GUESTPORT][,mac=MAC] or tap,ifname=IF[,mac=MAC]", "SPEC" },
    { "console", 0, 0, G_OPTION_ARG_STRING, &console,
      "Which guest console this terminal drives: serial (default) or virtio", "KIND" },
    { "rng", 0, 0, G_OPTION_ARG_NONE, &rng, "Add a virtio entropy device (host getrandom)", NULL },
    { "balloon", 0, 0, G_OPTION_ARG_NONE, &balloon, "Add a virtio memory balloon", NULL },
    { "stats", 0, 0, G_OPTION_ARG_NONE, &stats, "Print VM exit counts and resident guest memory at the end", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- boot a kernel in the foreground");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "The guest's serial port (COM1) is this terminal; Ctrl-] stops the VM.\n"
      "Exit status: (V<<1)|1 when the guest writes V to port 0xf4, 0 on reset or power-off,\n"
      "1 when the engine fails, 2 for bad arguments.");
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      vivctl_fail ("%s", error->message);
      return VIVCTL_EXIT_USAGE;
    }
  if (argc > 1)
    {
      vivctl_fail ("unexpected argument '%s'; see 'vivctl run --help'", argv[1]);
      return VIVCTL_EXIT_USAGE;
    }
  if (!kernel)
    {
      vivctl_fail ("--kernel FILE is required: the kernel to boot (a bzImage or a PVH ELF)");
      return VIVCTL_EXIT_USAGE;
    }

  VivMachineConfig config = {
    .kernel_path = kernel,
    .initrd_path = initrd,
    .cmdline = cmdline,
    .memory_bytes = DEFAULT_MEMORY,
    .n_cpus = 1,
    .on_reset = VIV_RESET_STOP,
    .console = { write_console, NULL },
  };
  if (memory_text && !viv_parse_size (memory_text, &config.memory_bytes, &error))
    {
      vivctl_fail ("--memory: %s", error->message);
      return VIVCTL_EXIT_USAGE;
    }
  if (cpus_text)
    {
      guint64 n;
      if (!g_ascii_string_to_unsigned (cpus_text, 10, 1, G_MAXUINT, &n, NULL))
        {
          vivctl_fail ("--cpus: '%s' is not a number of vCPUs (1 or more)", cpus_text);
          return VIVCTL_EXIT_USAGE;
        }
      config.n_cpus = n;
    }
  if (on_reset)
    {
      if (g_str_equal (on_reset, "stop"))
        config.on_reset = VIV_RESET_STOP;
      else if (g_str_equal (on_reset, "reboot"))
        config.on_reset = VIV_RESET_REBOOT;
      else
        {
          vivctl_fail ("--on-reset: '%s' is not an action; use stop or reboot", on_reset);
          return VIVCTL_EXIT_USAGE;
        }
    }

  if (console)
    {
      if (g_str_equal (console, "serial"))
        config.console_kind = VIV_CONSOLE_SERIAL;
      else if (g_str_equal (console, "virtio"))
        config.console_kind = VIV_CONSOLE_VIRTIO;
      else
        {
          vivctl_fail ("--console: '%s' is not a console; use serial or virtio", console);
          return VIVCTL_EXIT_USAGE;
        }
    }
  config.rng = rng;
  config.balloon = balloon;

  guint n_disks = disk_texts ? g_strv_length (disk_texts) : 0;
  guint n_nets = net_texts ? g_strv_length (net_texts) : 0;
  g_autofree VivDiskSpec *disks = g_new0 (VivDiskSpec, MAX (n_disks, 1));
  g_autofree VivDiskConfig *disk_configs = g_new0 (VivDiskConfig, MAX (n_disks, 1));
  g_autofree VivNetOptions *nets = g_new0 (VivNetOptions, MAX (n_nets, 1));
  guint n_parsed = 0;
  int status = VIVCTL_EXIT_USAGE;
  VivMachine *machine = NULL;
  for (; n_parsed < n_disks; n_parsed++)
    {
      if (!viv_disk_spec_parse (disk_texts[n_parsed], &disks[n_parsed], &error))
        goto out;
      disk_configs[n_parsed] = disks[n_parsed].config;
    }
  for (guint i = 0; i < n_nets; i++)
    if (!viv_net_options_parse (net_texts[i], &nets[i], &error))
      {
        g_prefix_error (&error, "--net %s: ", net_texts[i]);
        goto out;
      }
  config.disks = disk_configs;
  config.n_disks = n_disks;
  config.nets = nets;
  config.n_nets = n_nets;

  machine = viv_machine_new (&config, &error);
  if (!machine)
    goto out;
  status = run_machine (machine, stats);

out:
  if (error)
    vivctl_fail ("%s", error->message);
  for (guint i = 0; i < n_parsed; i++)
    viv_disk_spec_clear (&disks[i]);
  viv_machine_free (machine);
  return status;
}
