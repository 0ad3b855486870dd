/* Runs a VM process with GSubprocess on a private main context: stdout is
 * read line by line (so input can follow a given line), stderr collected,
 * and the process killed when the time limit passes. */
#include "probe-runner.h"
#include <gio/gio.h>
#include <signal.h>
#include <string.h>

typedef struct {
  const ProbeRunSpec *spec;
  ProbeResult *result;
  GSubprocess *proc;
  GDataInputStream *out;
  GString *err;
  guint pending;              /* stdout, stderr and wait still running */
  gboolean input_sent;
} Run;

static void
send_input (Run *run)
{
  if (run->input_sent || !run->spec->input)
    return;
  run->input_sent = TRUE;
  GOutputStream *in = g_subprocess_get_stdin_pipe (run->proc);
  /* A VM that already exited closes the pipe: not this helper's error. */
  g_output_stream_write_all (in, run->spec->input, strlen (run->spec->input), NULL, NULL, NULL);
  g_output_stream_flush (in, NULL, NULL);
}

static void read_line_cb (GObject *source, GAsyncResult *res, gpointer data);

static void
read_next_line (Run *run)
{
  g_data_input_stream_read_line_async (run->out, G_PRIORITY_DEFAULT, NULL, read_line_cb, run);
}

static void
read_line_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Run *run = data;
  gsize len;
  char *line = g_data_input_stream_read_line_finish (run->out, res, &len, NULL);
  if (!line)
    {
      run->pending--;
      return;
    }
  if (len && line[len - 1] == '\r')
    line[len - 1] = 0;
  g_ptr_array_add (run->result->lines, line);
  if (run->spec->on_line)
    run->spec->on_line (line, run->spec->on_line_data);
  if (run->spec->input_after && g_str_has_prefix (line, run->spec->input_after))
    send_input (run);
  read_next_line (run);
}

static void read_err_cb (GObject *source, GAsyncResult *res, gpointer data);

static void
read_err (Run *run)
{
  g_input_stream_read_bytes_async (g_subprocess_get_stderr_pipe (run->proc), 4096,
                                   G_PRIORITY_DEFAULT, NULL, read_err_cb, run);
}

static void
read_err_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Run *run = data;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, NULL);
  if (!bytes || g_bytes_get_size (bytes) == 0)
    {
      run->pending--;
      return;
    }
  g_string_append_len (run->err, g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes));
  read_err (run);
}

static void
wait_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Run *run = data;
  g_subprocess_wait_finish (run->proc, res, NULL);
  run->pending--;
}

static gboolean
timeout_cb (gpointer data)
{
  Run *run = data;
  run->result->timed_out = TRUE;
  g_subprocess_force_exit (run->proc);
  return G_SOURCE_REMOVE;
}

ProbeResult *
probe_run (const ProbeRunSpec *spec)
{
  /* Input for a VM that already exited must not kill the test. */
  signal (SIGPIPE, SIG_IGN);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_main_context_push_thread_default (context);

  ProbeResult *result = g_new0 (ProbeResult, 1);
  result->lines = g_ptr_array_new_with_free_func (g_free);
  Run run = { .spec = spec, .result = result, .err = g_string_new (NULL) };

  g_autofree char *cmd = g_strjoinv (" ", (char **) spec->argv);
  g_test_message ("running: %s", cmd);
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GError) error = NULL;
  run.proc = g_subprocess_newv (spec->argv,
                                G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);

  run.out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (run.proc));
  g_data_input_stream_set_newline_type (run.out, G_DATA_STREAM_NEWLINE_TYPE_LF);
  run.pending = 3;
  read_next_line (&run);
  read_err (&run);
  g_subprocess_wait_async (run.proc, NULL, wait_cb, &run);
  if (!spec->input_after)
    send_input (&run);
  GSource *timeout = g_timeout_source_new (spec->timeout_ms);
  g_source_set_callback (timeout, timeout_cb, &run, NULL);
  g_source_attach (timeout, context);

  while (run.pending)
    g_main_context_iteration (context, TRUE);

  g_source_destroy (timeout);
  g_source_unref (timeout);
  result->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  result->exited = g_subprocess_get_if_exited (run.proc);
  if (result->exited)
    result->exit_status = g_subprocess_get_exit_status (run.proc);
  result->err = g_string_free (run.err, FALSE);
  g_output_stream_close (g_subprocess_get_stdin_pipe (run.proc), NULL, NULL);
  g_object_unref (run.out);
  g_object_unref (run.proc);
  g_main_context_pop_thread_default (context);
  g_test_message ("finished in %.3f s, status %d%s", result->seconds, result->exit_status,
                  result->timed_out ? " (timed out)" : "");
  return result;
}

void
probe_result_free (ProbeResult *r)
{
  g_ptr_array_unref (r->lines);
  g_free (r->err);
  g_free (r);
}

const char *
probe_result_find (const ProbeResult *r, const char *prefix)
{
  for (guint i = 0; i < r->lines->len; i++)
    if (g_str_has_prefix (r->lines->pdata[i], prefix))
      return r->lines->pdata[i];
  return NULL;
}

guint
probe_result_count (const ProbeResult *r, const char *prefix)
{
  guint n = 0;
  for (guint i = 0; i < r->lines->len; i++)
    n += g_str_has_prefix (r->lines->pdata[i], prefix);
  return n;
}

guint64
probe_line_u64 (const char *line, const char *key)
{
  g_autofree char *needle = g_strdup_printf (" %s=", key);
  const char *p = strstr (line, needle);
  if (!p)
    g_error ("no %s= in \"%s\"", key, line);
  p += strlen (needle);
  char *end;
  guint64 v = g_ascii_strtoull (p, &end, 0);
  if (end == p)
    g_error ("%s= in \"%s\" is not a number", key, line);
  return v;
}

void
probe_result_dump (const ProbeResult *r)
{
  for (guint i = 0; i < r->lines->len; i++)
    g_test_message ("stdout: %s", (const char *) r->lines->pdata[i]);
  if (r->err && *r->err)
    g_test_message ("stderr: %s", r->err);
}

/* ---- checks shared by the vivctl and QEMU tests ---- */

const char *
probe_require_line (const ProbeResult *r, const char *prefix)
{
  const char *line = probe_result_find (r, prefix);
  if (!line)
    {
      probe_result_dump (r);
      g_error ("no line starting with \"%s\"", prefix);
    }
  return line;
}

void
probe_assert_exit (const ProbeResult *r, guint code)
{
  if (r->timed_out || !r->exited || r->exit_status != (int) (code << 1 | 1))
    probe_result_dump (r);
  g_assert_false (r->timed_out);
  g_assert_true (r->exited);
  g_assert_cmpint (r->exit_status, ==, (int) (code << 1 | 1));
}

void
probe_assert_hello (const ProbeResult *r, guint code)
{
  probe_assert_exit (r, code);
  g_assert_cmpuint (r->lines->len, ==, 1);
  g_assert_cmpstr (r->lines->pdata[0], ==, "PROBE hello");
}

void
probe_assert_info (const ProbeResult *r, const char *cmdline, guint cpus, guint64 memory)
{
  probe_assert_exit (r, 0);
  g_assert_cmpstr (probe_require_line (r, "PROBE boot "), ==, "PROBE boot loader=pvh start_info_version=1");
  g_autofree char *echo = g_strdup_printf ("PROBE cmdline=%s", cmdline);
  /* The VMM may append virtio_mmio.device= options. */
  g_assert_true (g_str_has_prefix (probe_require_line (r, "PROBE cmdline="), echo));
  const char *mem = probe_require_line (r, "PROBE mem ");
  guint64 usable = probe_line_u64 (mem, "usable_bytes");
  g_assert_cmpuint (usable, <=, memory);
  g_assert_cmpuint (usable, >=, memory - PROBE_LOW_RESERVED_MAX);
  g_assert_cmpuint (probe_line_u64 (mem, "highest"), >=, usable);
  const char *line = probe_require_line (r, "PROBE cpus ");
  g_assert_cmpuint (probe_line_u64 (line, "count"), ==, cpus);
  g_assert_true (strstr (line, " source=acpi") || strstr (line, " source=mptable"));
  g_assert_nonnull (probe_result_find (r, "PROBE exit code=0"));
}

void
probe_assert_smp (const ProbeResult *r, guint cpus)
{
  probe_assert_exit (r, 0);
  g_autofree char *want = g_strdup_printf ("PROBE smp expected=%u online=%u", cpus, cpus);
  g_assert_cmpstr (probe_require_line (r, "PROBE smp "), ==, want);
  g_assert_cmpuint (probe_result_count (r, "PROBE ap apic="), ==, cpus - 1);
  /* Each AP reported a different APIC ID. */
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < r->lines->len; i++)
    if (g_str_has_prefix (r->lines->pdata[i], "PROBE ap apic="))
      g_assert_true (g_hash_table_add (seen, r->lines->pdata[i]));
}

void
probe_assert_mem (const ProbeResult *r, guint64 memory)
{
  probe_assert_exit (r, 0);
  const char *line = probe_require_line (r, "PROBE mem usable_bytes=");
  guint64 usable = probe_line_u64 (line, "usable_bytes");
  g_assert_cmpuint (usable, <=, memory);
  g_assert_cmpuint (usable, >=, memory - PROBE_LOW_RESERVED_MAX);
  /* All but the first MiB and the image (under 4 MiB) was checked. */
  guint64 checked = probe_line_u64 (line, "checked_bytes");
  g_assert_cmpuint (checked, <=, usable);
  g_assert_cmpuint (checked, >=, usable - 8 * 1024 * 1024);
  g_assert_cmpuint (probe_line_u64 (line, "errors"), ==, 0);
}

void
probe_assert_irq (const ProbeResult *r, const char *input, guint code)
{
  probe_assert_exit (r, code);
  g_assert_cmpuint (probe_line_u64 (probe_require_line (r, "PROBE timer "), "ticks"), >, 0);
  probe_require_line (r, "PROBE irq ready");
  /* One rx line per byte, in order, up to the 'q'. */
  guint n = 0;
  for (guint i = 0; i < r->lines->len; i++)
    if (g_str_has_prefix (r->lines->pdata[i], "PROBE irq rx="))
      {
        g_autofree char *want = g_strdup_printf ("PROBE irq rx=0x%02x", (guint8) input[n]);
        g_assert_cmpuint (n, <, strlen (input));
        g_assert_cmpstr (r->lines->pdata[i], ==, want);
        n++;
      }
  g_assert_cmpuint (n, ==, strlen (input));
  const char *line = probe_require_line (r, "PROBE irq count=");
  g_assert_cmpuint (probe_line_u64 (line, "count"), ==, n);
  g_assert_cmpuint (probe_line_u64 (line, "interrupts"), >=, 1);
}
