/* vivctl top: every VM of the library in a full-screen table, refreshed
 * each second from the workers' StatsUpdated signals (GetStats when a
 * worker sends none, e.g. while paused), with keys to start, pause,
 * resume and stop the selected VM. */
#include "vivctl-vm.h"
#include "stats-sample.h"

#include <curses.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define REFRESH_MS 1000
/* A sample older than this (µs) is refreshed with GetStats. */
#define STALE_US (1500 * G_TIME_SPAN_MILLISECOND)

typedef struct Top Top;

typedef struct {
  Top             *top;
  char            *name;
  char            *uuid;
  guint            n_cpus;
  guint64          memory_bytes;
  gboolean         crashed;
  /* While a worker runs the VM: */
  VivDBusMachine1 *vm;
  gulong           stats_handler;
  gulong           state_handler;
  gulong           closed_handler;
  VivStatsSample   sample;
  gint64           sample_time;    /* g_get_monotonic_time () of the last sample */
  VivStatsRates    rates;
  gboolean         have_rates;
} TopRow;

struct Top {
  VivLibrary *lib;
  GPtrArray  *rows;         /* of TopRow*, sorted by name */
  guint       selected;
  char       *message;      /* the status line: what the last key did */
  GMainLoop  *loop;
};

static void draw (Top *top);

static void
row_disconnect (TopRow *row)
{
  if (!row->vm)
    return;
  GDBusConnection *bus = g_dbus_proxy_get_connection (G_DBUS_PROXY (row->vm));
  g_signal_handler_disconnect (row->vm, row->stats_handler);
  g_signal_handler_disconnect (row->vm, row->state_handler);
  g_signal_handler_disconnect (bus, row->closed_handler);
  g_clear_object (&row->vm);
  row->have_rates = FALSE;
  row->sample_time = 0;
}

static void
row_free (gpointer data)
{
  TopRow *row = data;
  row_disconnect (row);
  g_free (row->name);
  g_free (row->uuid);
  g_free (row);
}

static void
set_message (Top *top, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
set_message (Top *top, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_free (top->message);
  top->message = g_strdup_vprintf (format, args);
  va_end (args);
  draw (top);
}

static void
row_take_sample (TopRow *row, GVariant *stats)
{
  VivStatsSample sample;
  viv_stats_sample_from_variant (stats, &sample);
  row->have_rates = viv_stats_rates (&row->sample, &sample, &row->rates);
  row->sample = sample;
  row->sample_time = g_get_monotonic_time ();
}

static void
on_stats_updated (VivDBusMachine1 *vm, GVariant *stats, gpointer data)
{
  row_take_sample (data, stats);
}

static void
on_state_changed (GObject *object, GParamSpec *pspec, gpointer data)
{
  TopRow *row = data;
  draw (row->top);
}

static void
on_closed (GDBusConnection *bus, gboolean vanished, GError *error, gpointer data)
{
  TopRow *row = data;
  row_disconnect (row);
  draw (row->top);
}

static void
row_connect (TopRow *row, const VivWorkerInfo *info)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = viv_worker_client_connect (info, NULL, &error);
  VivDBusMachine1 *vm = bus ? viv_worker_client_get_machine (bus, NULL, &error) : NULL;
  if (!vm)
    return;   /* stopping as we looked: shown as shut off */
  row->vm = vm;
  row->n_cpus = viv_dbus_machine1_get_vcpus (vm);
  row->memory_bytes = viv_dbus_machine1_get_memory_bytes (vm);
  row->stats_handler = g_signal_connect (vm, "stats-updated", G_CALLBACK (on_stats_updated), row);
  row->state_handler = g_signal_connect (vm, "notify::state", G_CALLBACK (on_state_changed), row);
  row->closed_handler = g_signal_connect (bus, "closed", G_CALLBACK (on_closed), row);
}

static const VivWorkerInfo *
find_worker (GPtrArray *workers, const char *uuid)
{
  for (unsigned i = 0; workers && i < workers->len; i++)
    {
      const VivWorkerInfo *info = workers->pdata[i];
      if (g_str_equal (info->uuid, uuid))
        return info;
    }
  return NULL;
}

static TopRow *
find_row (Top *top, const char *name)
{
  for (unsigned i = 0; i < top->rows->len; i++)
    {
      TopRow *row = top->rows->pdata[i];
      if (g_str_equal (row->name, name))
        return row;
    }
  return NULL;
}

static void
on_stats_reply (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GVariant) stats = NULL;
  if (viv_dbus_machine1_call_get_stats_finish (VIV_DBUS_MACHINE1 (source), &stats, result, NULL))
    {
      /* The row may have gone; find it by its proxy. */
      Top *top = data;
      for (unsigned i = 0; i < top->rows->len; i++)
        {
          TopRow *row = top->rows->pdata[i];
          if (row->vm == (VivDBusMachine1 *) source)
            row_take_sample (row, stats);
        }
    }
}

/* Rebuilds the rows from the library and the running workers, keeping
 * the connections (and samples) of VMs already shown. */
static void
reload_rows (Top *top)
{
  g_auto (GStrv) names = viv_library_list (top->lib, NULL);
  g_autoptr (GPtrArray) workers = viv_worker_client_list (NULL);
  g_autofree char *selected_name = top->selected < top->rows->len
                                       ? g_strdup (((TopRow *) top->rows->pdata[top->selected])->name)
                                       : NULL;
  GPtrArray *rows = g_ptr_array_new_with_free_func (row_free);
  for (char **name = names; name && *name; name++)
    {
      g_autoptr (VivVmDefinition) def = viv_library_load (top->lib, *name, NULL);
      if (!def)
        continue;
      TopRow *row = find_row (top, *name);
      guint index;
      if (row && g_str_equal (row->uuid, def->uuid) && g_ptr_array_find (top->rows, row, &index))
        g_ptr_array_steal_index (top->rows, index);
      else
        {
          row = g_new0 (TopRow, 1);
          row->top = top;
          row->name = g_strdup (def->name);
          row->uuid = g_strdup (def->uuid);
        }
      const VivWorkerInfo *info = find_worker (workers, row->uuid);
      row->crashed = info && info->crashed;
      if (!row->vm)
        {
          row->n_cpus = def->n_cpus;
          row->memory_bytes = def->memory_bytes;
          if (info && !info->crashed)
            row_connect (row, info);
        }
      if (row->vm && g_get_monotonic_time () - row->sample_time > STALE_US)
        viv_dbus_machine1_call_get_stats (row->vm, NULL, on_stats_reply, top);
      g_ptr_array_add (rows, row);
    }
  g_ptr_array_unref (top->rows);
  top->rows = rows;
  top->selected = 0;
  for (unsigned i = 0; selected_name && i < rows->len; i++)
    if (g_str_equal (((TopRow *) rows->pdata[i])->name, selected_name))
      top->selected = i;
}

static const char *
row_state (const TopRow *row)
{
  if (row->vm)
    return viv_dbus_machine1_get_state (row->vm);
  return row->crashed ? "crashed" : "shut-off";
}

/* A rate column: "-" until two samples are in. */
static char *
rate_text (gboolean have, double bytes_per_s)
{
  return have ? viv_stats_format_bytes (bytes_per_s) : g_strdup ("-");
}

#define ROW_FORMAT "%-20.20s %-13s %6s %5s %7s %9s %9s %9s %9s %9s"

static void
draw (Top *top)
{
  erase ();
  int height = LINES, width = COLS;
  time_t now = time (NULL);
  char clock[16];
  strftime (clock, sizeof clock, "%H:%M:%S", localtime (&now));
  mvprintw (0, 0, "vivctl top - %u VMs - %s", top->rows->len, clock);
  attron (A_BOLD);
  mvprintw (2, 0, ROW_FORMAT, "NAME", "STATE", "CPU%", "VCPUS", "MEMORY", "DISK-R/s", "DISK-W/s", "NET-RX/s",
            "NET-TX/s", "EXITS/s");
  attroff (A_BOLD);
  for (unsigned i = 0; i < top->rows->len && (int) i + 3 < height - 2; i++)
    {
      TopRow *row = top->rows->pdata[i];
      int y = 3 + i;
      gboolean have = row->vm && row->have_rates;
      if (i == top->selected)
        attron (A_REVERSE);
      g_autofree char *memory = viv_stats_format_bytes (row->memory_bytes);
      g_autofree char *cpu = have ? g_strdup_printf ("%.1f", row->rates.cpu_percent) : g_strdup ("-");
      g_autofree char *vcpus = g_strdup_printf ("%u", row->n_cpus);
      g_autofree char *disk_read = rate_text (have, row->rates.disk_read_per_s);
      g_autofree char *disk_write = rate_text (have, row->rates.disk_write_per_s);
      g_autofree char *net_rx = rate_text (have, row->rates.net_rx_per_s);
      g_autofree char *net_tx = rate_text (have, row->rates.net_tx_per_s);
      g_autofree char *exits = have ? g_strdup_printf ("%.0f", row->rates.exits_per_s) : g_strdup ("-");
      mvprintw (y, 0, ROW_FORMAT, row->name, row_state (row), cpu, vcpus, memory, disk_read, disk_write,
                net_rx, net_tx, exits);
      if (i == top->selected)
        {
          /* Highlight the whole line. */
          int cur_y, cur_x;
          getyx (stdscr, cur_y, cur_x);
          if (cur_y == y && cur_x < width)
            printw ("%*s", width - cur_x, "");
          attroff (A_REVERSE);
        }
    }
  if (top->rows->len == 0)
    mvprintw (3, 0, "No VMs defined; create one with 'vivctl create NAME --kernel FILE'.");
  if (top->message)
    mvprintw (height - 2, 0, "%.*s", width, top->message);
  attron (A_REVERSE);
  mvprintw (height - 1, 0, "%-*.*s", width, width,
            " Up/Down select   s start   p pause   r resume   d shut down   o power off   q quit");
  attroff (A_REVERSE);
  refresh ();
}

/* ---- Keys --------------------------------------------------------------- */

typedef struct {
  Top  *top;
  char *name;
  const char *what;
} Action;

static void
action_free (Action *action)
{
  g_free (action->name);
  g_free (action);
}

static void
on_started (GObject *source, GAsyncResult *result, gpointer data)
{
  Action *action = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VivWorkerInfo) info = viv_worker_client_start_finish (result, &error);
  if (info)
    set_message (action->top, "%s: started", action->name);
  else
    set_message (action->top, "%s: cannot start: %s", action->name, error->message);
  action_free (action);
}

static void
on_call_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Action *action = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  if (reply)
    set_message (action->top, "%s: %s", action->name, action->what);
  else
    {
      if (g_dbus_error_is_remote_error (error))
        g_dbus_error_strip_remote_error (error);
      set_message (action->top, "%s: %s", action->name, error->message);
    }
  action_free (action);
}

static Action *
action_new (Top *top, TopRow *row, const char *what)
{
  Action *action = g_new0 (Action, 1);
  action->top = top;
  action->name = g_strdup (row->name);
  action->what = what;
  return action;
}

static void
call_method (Top *top, TopRow *row, const char *method, const char *what)
{
  if (!row->vm)
    {
      set_message (top, "%s is not running (s starts it)", row->name);
      return;
    }
  /* The generated proxy's methods all take no arguments here. */
  g_dbus_proxy_call (G_DBUS_PROXY (row->vm), method, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_call_done,
                     action_new (top, row, what));
}

static void
handle_key (Top *top, int key)
{
  TopRow *row = top->selected < top->rows->len ? top->rows->pdata[top->selected] : NULL;
  switch (key)
    {
    case KEY_UP:
      if (top->selected > 0)
        top->selected--;
      break;
    case KEY_DOWN:
      if (top->selected + 1 < top->rows->len)
        top->selected++;
      break;
    case 'q':
    case 'Q':
      g_main_loop_quit (top->loop);
      return;
    case 's':
      if (row && row->vm)
        set_message (top, "%s is already running", row->name);
      else if (row)
        {
          set_message (top, "%s: starting…", row->name);
          viv_worker_client_start_async (NULL, row->name, 0, NULL, on_started, action_new (top, row, "started"));
        }
      return;
    case 'p':
      if (row)
        call_method (top, row, "Pause", "paused");
      return;
    case 'r':
      if (row)
        call_method (top, row, "Resume", "resumed");
      return;
    case 'd':
      if (row)
        call_method (top, row, "Shutdown", "shutting down");
      return;
    case 'o':
      if (row)
        call_method (top, row, "PowerOff", "powered off");
      return;
    default:
      break;
    }
  draw (top);
}

static void
read_keys (Top *top)
{
  int key;
  while ((key = getch ()) != ERR)
    handle_key (top, key);
}

static gboolean
on_input (int fd, GIOCondition condition, gpointer data)
{
  if (condition & (G_IO_HUP | G_IO_ERR))
    {
      g_main_loop_quit (((Top *) data)->loop);
      return G_SOURCE_REMOVE;
    }
  read_keys (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_tick (gpointer data)
{
  Top *top = data;
  read_keys (top);   /* also picks up KEY_RESIZE */
  reload_rows (top);
  draw (top);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (((Top *) data)->loop);
  return G_SOURCE_CONTINUE;
}

int
vivctl_top (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("- a live table of every VM");
  g_option_context_set_description (context,
      "Keys: Up/Down select, s start, p pause, r resume, d shut down, o power off, q quit.");
  if (!vivctl_vm_parse_args (context, &argc, &argv, "", 0))
    return VIVCTL_EXIT_USAGE;
  if (!isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO))
    {
      vivctl_fail ("top needs a terminal; for scripts use 'vivctl list --json' or 'vivctl stats --json'");
      return VIVCTL_EXIT_USAGE;
    }
  g_autoptr (VivLibrary) lib = vivctl_vm_open_library ();
  if (!lib)
    return VIVCTL_EXIT_FAILURE;

  Top top = {
    .lib = lib,
    .rows = g_ptr_array_new_with_free_func (row_free),
    .loop = g_main_loop_new (NULL, FALSE),
  };
  initscr ();
  cbreak ();
  noecho ();
  keypad (stdscr, TRUE);
  nodelay (stdscr, TRUE);
  curs_set (0);

  reload_rows (&top);
  draw (&top);
  guint input = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_input, &top);
  guint tick = g_timeout_add (REFRESH_MS, on_tick, &top);
  guint sigint = g_unix_signal_add (SIGINT, on_signal, &top);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, &top);
  g_main_loop_run (top.loop);
  endwin ();

  g_source_remove (input);
  g_source_remove (tick);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_ptr_array_unref (top.rows);
  g_free (top.message);
  g_main_loop_unref (top.loop);
  return 0;
}
