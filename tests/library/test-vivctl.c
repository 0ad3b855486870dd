/* vivctl's VM commands end to end: create/define/undefine/dumpxml/list on
 * a private library, then real VMs (the probe guest) started, paused,
 * resumed, attached to and powered off through their workers, and
 * `vivctl top` driven in tmux.  Every test has its own XDG_DATA_HOME and
 * XDG_RUNTIME_DIR. */
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>
#include "viv-test-fs.h"
#include "viv-test-iso.h"

typedef struct {
  char *tmp;
  char *data_home;
  char *runtime;
  char *machines;   /* the library's root */
  GPtrArray *started;   /* names to power off at the end */
} Fixture;

static const char *
vivctl_path (void)
{
  const char *path = g_getenv ("VIVCTL");
  g_assert_nonnull (path);
  return path;
}

static GSubprocessLauncher *
launcher_new (Fixture *f, GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", f->data_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", f->runtime, TRUE);
  return launcher;
}

/* Runs vivctl with the NULL-terminated arguments; returns its exit status. */
static int
vivctl (Fixture *f, char **out, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) vivctl_path ());
  va_list args;
  va_start (args, err);
  const char *arg;
  while ((arg = va_arg (args, const char *)))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_autoptr (GSubprocessLauncher) launcher =
      launcher_new (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process =
      g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &stdout_text, &stderr_text, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  if (out)
    *out = g_steal_pointer (&stdout_text);
  if (err)
    *err = g_steal_pointer (&stderr_text);
  return g_subprocess_get_exit_status (process);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->tmp = g_dir_make_tmp ("viv-vivctl-XXXXXX", NULL);
  f->data_home = g_build_filename (f->tmp, "data", NULL);
  f->runtime = g_build_filename (f->tmp, "run", NULL);
  f->machines = g_build_filename (f->data_home, "vivarium", "machines", NULL);
  g_assert_cmpint (g_mkdir (f->runtime, 0700), ==, 0);
  f->started = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  /* Workers outlive vivctl: stop whatever a failed test left running. */
  for (unsigned i = 0; i < f->started->len; i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      vivctl (f, &out, &err, "poweroff", f->started->pdata[i], NULL);
    }
  g_ptr_array_unref (f->started);
  viv_test_remove_tree (f->tmp);
  g_free (f->tmp);
  g_free (f->data_home);
  g_free (f->runtime);
  g_free (f->machines);
}

static const char *
probe_elf (void)
{
  const char *path = g_getenv ("PROBE_ELF");
  g_assert_nonnull (path);
  return path;
}

/* The array `vivctl list --json` printed, by name → object. */
static JsonObject *
list_entry (Fixture *f, gboolean all, const char *name, JsonParser **keep)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = all ? vivctl (f, &out, &err, "list", "--all", "--json", NULL)
                   : vivctl (f, &out, &err, "list", "--json", NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (err, ==, "");
  JsonParser *parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  JsonArray *array = json_node_get_array (json_parser_get_root (parser));
  g_assert_nonnull (array);
  *keep = parser;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *vm = json_array_get_object_element (array, i);
      if (g_str_equal (json_object_get_string_member (vm, "name"), name))
        return vm;
    }
  return NULL;
}

static char *
list_state (Fixture *f, const char *name)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *vm = list_entry (f, TRUE, name, &parser);
  return vm ? g_strdup (json_object_get_string_member (vm, "state")) : NULL;
}

/* ---- The library through vivctl ------------------------------------------- */

/* create --media detects the OS (libosinfo) and attaches the ISO
 * read-only; --os names the OS instead. */
static void
test_create_media (Fixture *f, gconstpointer data)
{
  g_autofree char *iso = viv_test_make_iso (f->tmp, "debian.iso", "Debian 11.5.0 amd64 n", NULL, NULL);
  if (!iso)
    return;
  g_autofree char *other = viv_test_make_iso (f->tmp, "photos.iso", "HOLIDAY PHOTOS", NULL, NULL);

  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (vivctl (f, &out, &err, "create", "inst", "--kernel", probe_elf (), "--media", iso, NULL), ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_assert_true (g_str_has_prefix (out, "Detected: Debian 11 (bullseye) (http://debian.org/debian/11)\n"));
  g_assert_nonnull (strstr (out, "install.amd/vmlinuz"));
  g_autofree char *xml = NULL;
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &xml, &err, "dumpxml", "inst", NULL), ==, 0);
  g_autofree char *source = g_strdup_printf ("<source file=\"%s\"/>", iso);
  g_assert_nonnull (strstr (xml, source));
  g_assert_nonnull (strstr (xml, "<readonly/>"));
  g_assert_nonnull (strstr (xml, "<libosinfo:os id=\"http://debian.org/debian/11\"/>"));
  /* What Debian 11 recommends, as the app's assistant suggests. */
  g_assert_nonnull (strstr (xml, "<memory unit=\"KiB\">1048576</memory>"));

  /* --os wins over detection, --memory over the recommendation. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "create", "named", "--kernel", probe_elf (), "--os", "debian11",
                           "--memory", "64M", "--media", other, NULL), ==, 0);
  g_clear_pointer (&xml, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &xml, &err, "dumpxml", "named", NULL), ==, 0);
  g_assert_nonnull (strstr (xml, "<libosinfo:os id=\"http://debian.org/debian/11\"/>"));
  g_assert_nonnull (strstr (xml, "<memory unit=\"KiB\">65536</memory>"));

  /* Unrecognised media: attached, with a warning, and no OS. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "create", "unknown", "--kernel", probe_elf (), "--media", other, NULL), ==, 0);
  g_assert_nonnull (strstr (err, "warning: "));
  g_assert_nonnull (strstr (err, "not recognised by libosinfo"));
  g_clear_pointer (&xml, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &xml, &err, "dumpxml", "unknown", NULL), ==, 0);
  g_assert_null (strstr (xml, "libosinfo"));
  g_assert_nonnull (strstr (xml, "<readonly/>"));

  /* list --json names each VM's OS, or null. */
  {
    g_autoptr (JsonParser) parser = NULL;
    JsonObject *vm = list_entry (f, TRUE, "inst", &parser);
    g_assert_nonnull (vm);
    g_assert_cmpstr (json_object_get_string_member (vm, "os"), ==, "http://debian.org/debian/11");
    g_clear_object (&parser);
    vm = list_entry (f, TRUE, "unknown", &parser);
    g_assert_nonnull (vm);
    g_assert_true (json_object_get_null_member (vm, "os"));
  }

  /* Mistakes: nothing is defined. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "create", "bad", "--kernel", probe_elf (), "--os", "amigaos", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--os: 'amigaos' is not an OS libosinfo knows"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "create", "bad", "--kernel", probe_elf (), "--media", probe_elf (), NULL),
                   ==, 2);
  g_assert_nonnull (strstr (err, "--media: "));
  g_assert_nonnull (strstr (err, "is not installation media"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "list", "--all", NULL), ==, 0);
  g_assert_null (strstr (out, "bad"));
}

static void
test_create_list (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (vivctl (f, &out, &err, "create", "alpha", "--kernel", probe_elf (), "--memory", "64M",
                           "--cpus", "2", "--disk", "size=1M,cache=none", "--net",
                           "user,hostfwd=tcp:127.0.0.1:2222-:22", "--rng", "--balloon", "--console", "virtio",
                           "--cmdline", "probe.mode=info", NULL),
                   ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_assert_true (g_str_has_prefix (out, "VM 'alpha' defined (UUID "));

  /* Not running: only in --all. */
  g_autoptr (JsonParser) parser = NULL;
  g_assert_null (list_entry (f, FALSE, "alpha", &parser));
  g_clear_object (&parser);
  JsonObject *vm = list_entry (f, TRUE, "alpha", &parser);
  g_assert_nonnull (vm);
  g_assert_cmpstr (json_object_get_string_member (vm, "state"), ==, "shut-off");
  g_assert_cmpint (json_object_get_int_member (vm, "vcpus"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (vm, "memory_bytes"), ==, 64 << 20);
  g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (vm, "uuid")));

  /* The new image beside the definition. */
  g_autofree char *image = g_build_filename (f->machines, "alpha", "disk0.img", NULL);
  GStatBuf st;
  g_assert_cmpint (g_stat (image, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 1 << 20);

  g_autofree char *xml = NULL;
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &xml, &err, "dumpxml", "alpha", NULL), ==, 0);
  g_autofree char *kernel = g_strdup_printf ("<kernel>%s</kernel>", probe_elf ());
  g_autofree char *source = g_strdup_printf ("<source file=\"%s\"/>", image);
  g_assert_nonnull (strstr (xml, kernel));
  g_assert_nonnull (strstr (xml, source));
  g_assert_nonnull (strstr (xml, "<vcpu>2</vcpu>"));
  g_assert_nonnull (strstr (xml, "<target type=\"virtio\"/>"));
  g_assert_nonnull (strstr (xml, "host-port=\"2222\""));

  /* dumpxml → undefine → define gives the same VM back. */
  g_autofree char *saved = g_build_filename (f->tmp, "alpha.xml", NULL);
  g_assert_true (g_file_set_contents (saved, xml, -1, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "undefine", "alpha", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "VM 'alpha' undefined\n");
  g_assert_true (g_file_test (image, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "define", saved, NULL), ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_autofree char *xml2 = NULL;
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &xml2, &err, "dumpxml", "alpha", NULL), ==, 0);
  g_assert_cmpstr (xml, ==, xml2);

  /* Editing the XML and defining it again updates the VM. */
  g_autoptr (GString) edited = g_string_new (xml);
  g_string_replace (edited, "<vcpu>2</vcpu>", "<vcpu>3</vcpu>", 1);
  g_assert_true (g_file_set_contents (saved, edited->str, -1, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "define", saved, NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "VM 'alpha' updated"));
  g_clear_object (&parser);
  vm = list_entry (f, TRUE, "alpha", &parser);
  g_assert_cmpint (json_object_get_int_member (vm, "vcpus"), ==, 3);

  /* --remove-disks takes the image and the directory. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "undefine", "alpha", "--remove-disks", NULL), ==, 0);
  g_autofree char *removed = g_strdup_printf ("removed %s\n", image);
  g_assert_true (g_str_has_prefix (out, removed));
  g_autofree char *dir = g_build_filename (f->machines, "alpha", NULL);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* Bad input: one "vivctl: …" line naming the problem, status 2, nothing
 * left behind. */
static void
test_bad_input (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (vivctl (f, &out, &err, "create", "alpha", "--kernel", probe_elf (), NULL), ==, 0);

  g_autofree char *bad_xml = g_build_filename (f->tmp, "bad.xml", NULL);
  g_autofree char *bad_contents = g_strdup_printf (
      "<domain><name>beta</name><memory>lots</memory><os><type>hvm</type><kernel>%s</kernel></os></domain>",
      probe_elf ());
  g_assert_true (g_file_set_contents (bad_xml, bad_contents, -1, NULL));
  g_autofree char *other_uuid = g_build_filename (f->tmp, "other-uuid.xml", NULL);
  g_autofree char *other_contents = g_strdup_printf (
      "<domain><name>alpha</name><uuid>00000000-0000-4000-8000-000000000001</uuid><memory>65536</memory>"
      "<os><type>hvm</type><kernel>%s</kernel></os></domain>", probe_elf ());
  g_assert_true (g_file_set_contents (other_uuid, other_contents, -1, NULL));
  g_autofree char *missing_disk = g_build_filename (f->tmp, "missing-disk.xml", NULL);
  g_autofree char *missing_contents = g_strdup_printf (
      "<domain><name>gamma</name><memory>65536</memory><os><type>hvm</type><kernel>%s</kernel></os>"
      "<devices><disk type='file'><source file='/nonexistent/d.img'/></disk></devices></domain>", probe_elf ());
  g_assert_true (g_file_set_contents (missing_disk, missing_contents, -1, NULL));

  const char *k = probe_elf ();
  const struct { const char *argv[12]; const char *message; } cases[] = {
    { { "create", "bad name", "--kernel", k }, "VM name 'bad name' has a character" },
    { { "create", "x" }, "--kernel FILE is required" },
    { { "create", "x", "--kernel", k, "--memory", "lots" }, "--memory: " },
    { { "create", "x", "--kernel", k, "--cpus", "0" }, "--cpus: '0' is not a number of vCPUs" },
    { { "create", "x", "--kernel", k, "--disk", "/nonexistent/d.img" }, "<disk> /nonexistent/d.img: No such file" },
    { { "create", "x", "--kernel", "/nonexistent/vmlinuz" }, "<kernel> /nonexistent/vmlinuz: No such file" },
    { { "create", "x", "--kernel", k, "--net", "bogus" }, "--net bogus: " },
    { { "create", "x", "--kernel", k, "--console", "hdmi" }, "--console: 'hdmi' is not a console" },
    { { "create", "x", "--kernel", k, "--disk", "size=1M", "--disk", "/nonexistent/d.img" }, "<disk> /nonexistent" },
    { { "create", "alpha", "--kernel", k }, "a VM named 'alpha' already exists" },
    { { "define", "/nonexistent/vm.xml" }, "/nonexistent/vm.xml" },
    { { "define", bad_xml }, "<memory>: 'lots' is not a number of KiB" },
    { { "define", other_uuid }, "a VM named 'alpha' already exists with UUID" },
    { { "define", missing_disk }, "<disk> /nonexistent/d.img: No such file" },
    { { "undefine", "nosuch" }, "there is no VM named 'nosuch'" },
    { { "dumpxml", "nosuch" }, "there is no VM named 'nosuch'" },
    { { "dumpxml", "../etc" }, "VM name '../etc' must start with a letter or a digit" },
    { { "start", "nosuch" }, "there is no VM named 'nosuch'" },
    { { "pause", "alpha" }, "'alpha' is not running (start it with 'vivctl start alpha')" },
    { { "poweroff", "nosuch" }, "there is no VM named 'nosuch'" },
    { { "console", "alpha" }, "'alpha' is not running" },
    { { "stats", "alpha" }, "'alpha' is not running" },
    { { "list", "extra" }, "list: unexpected argument 'extra'" },
    { { "start" }, "start: usage: vivctl start NAME" },
    { { "top" }, "top needs a terminal" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GPtrArray) argv = g_ptr_array_new ();
      g_ptr_array_add (argv, (char *) vivctl_path ());
      for (const char *const *arg = cases[i].argv; *arg; arg++)
        g_ptr_array_add (argv, (char *) *arg);
      g_ptr_array_add (argv, NULL);
      g_autoptr (GSubprocessLauncher) launcher =
          launcher_new (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
      g_autoptr (GSubprocess) process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, NULL);
      g_autofree char *case_out = NULL, *case_err = NULL;
      g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &case_out, &case_err, NULL));
      g_autofree char *shown = g_strjoinv (" ", (char **) cases[i].argv);
      if (g_subprocess_get_exit_status (process) != 2 || !g_str_has_prefix (case_err, "vivctl: ")
          || strchr (case_err, '\n') != case_err + strlen (case_err) - 1 || !strstr (case_err, cases[i].message))
        g_error ("vivctl %s: status %d, stderr '%s'; expected status 2 and one line with '%s'", shown,
                 g_subprocess_get_exit_status (process), case_err, cases[i].message);
      g_assert_cmpstr (case_out, ==, "");
    }

  /* Only alpha is defined, and no image or directory was left by the
   * failed creates. */
  g_autoptr (GDir) dir = g_dir_open (f->machines, 0, NULL);
  const char *entry;
  while ((entry = g_dir_read_name (dir)))
    g_assert_true (g_str_equal (entry, "alpha") || g_str_equal (entry, ".lock"));
}

/* ---- Real VMs --------------------------------------------------------------- */

static gboolean
can_run_vms (void)
{
  if (access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_test_skip ("no usable /dev/kvm");
      return FALSE;
    }
  return TRUE;
}

static void
create_probe_vm (Fixture *f, const char *name)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (vivctl (f, &out, &err, "create", name, "--kernel", probe_elf (), "--memory", "64M",
                           "--cmdline", "probe.mode=irq", NULL), ==, 0);
}

static void
start_vm (Fixture *f, const char *name)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = vivctl (f, &out, &err, "start", name, NULL);
  if (status != 0)
    g_error ("vivctl start %s: status %d: %s", name, status, err);
  g_ptr_array_add (f->started, g_strdup (name));
  g_assert_true (g_str_has_prefix (out, "VM '"));
}

static void
assert_vivctl_ok (Fixture *f, const char *command, const char *name, const char *expected_out)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = vivctl (f, &out, &err, command, name, NULL);
  if (status != 0)
    g_error ("vivctl %s %s: status %d: %s", command, name, status, err);
  g_assert_cmpstr (out, ==, expected_out);
}

/* Reads the console process's output until `needle` shows up. */
static void
read_until (GInputStream *stream, GString *seen, const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  while (!strstr (seen->str, needle))
    {
      char buf[512];
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), buf, sizeof buf,
                                                           NULL, &error);
      if (n > 0)
        g_string_append_len (seen, buf, n);
      else if (n == 0)
        g_error ("console closed before '%s'; saw:\n%s", needle, seen->str);
      else
        g_usleep (20000);
      if (g_get_monotonic_time () > deadline)
        g_error ("no '%s' on the console; saw:\n%s", needle, seen->str);
    }
}

static void
test_lifecycle (Fixture *f, gconstpointer data)
{
  if (!can_run_vms ())
    return;
  create_probe_vm (f, "probe");
  start_vm (f, "probe");
  g_autofree char *state = list_state (f, "probe");
  g_assert_cmpstr (state, ==, "running");
  g_autoptr (JsonParser) parser = NULL;
  g_assert_nonnull (list_entry (f, FALSE, "probe", &parser));

  /* The console: the boot log first (scrollback), then input reaches the
   * guest, whose COM1 interrupt handler echoes it; Ctrl-] leaves. */
  g_autoptr (GSubprocessLauncher) launcher = launcher_new (
      f, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) console =
      g_subprocess_launcher_spawn (launcher, &error, vivctl_path (), "console", "probe", NULL);
  g_assert_no_error (error);
  GInputStream *console_out = g_subprocess_get_stdout_pipe (console);
  GOutputStream *console_in = g_subprocess_get_stdin_pipe (console);
  g_autoptr (GString) seen = g_string_new (NULL);
  read_until (console_out, seen, "PROBE irq ready");
  g_assert_true (g_output_stream_write_all (console_in, "a", 1, NULL, NULL, &error));
  read_until (console_out, seen, "PROBE irq rx=0x61");
  g_assert_true (g_output_stream_write_all (console_in, "\x1d", 1, NULL, NULL, &error));
  g_assert_true (g_subprocess_wait_check (console, NULL, &error));
  g_assert_no_error (error);

  /* Pause, statistics, resume. */
  assert_vivctl_ok (f, "pause", "probe", "VM 'probe' paused\n");
  g_free (state);
  state = list_state (f, "probe");
  g_assert_cmpstr (state, ==, "paused");
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (vivctl (f, &out, &err, "stats", "probe", "--json", NULL), ==, 0);
  g_autoptr (JsonParser) stats = json_parser_new ();
  g_assert_true (json_parser_load_from_data (stats, out, -1, &error));
  JsonObject *object = json_node_get_object (json_parser_get_root (stats));
  g_assert_cmpint (json_object_get_int_member (object, "memory-bytes"), ==, 64 << 20);
  g_assert_cmpint (json_object_get_int_member (object, "exits-total"), >, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "pause", "probe", NULL), ==, 2);   /* already paused */
  g_assert_true (g_str_has_prefix (err, "vivctl: "));
  assert_vivctl_ok (f, "resume", "probe", "VM 'probe' resumed\n");
  g_free (state);
  state = list_state (f, "probe");
  g_assert_cmpstr (state, ==, "running");

  /* A running VM cannot be undefined, nor started twice. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "undefine", "probe", NULL), ==, 2);
  g_assert_cmpstr (err, ==, "vivctl: 'probe' is running; stop it first (vivctl poweroff probe)\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (vivctl (f, &out, &err, "start", "probe", NULL), ==, 2);

  assert_vivctl_ok (f, "poweroff", "probe", "VM 'probe' powered off\n");
  g_free (state);
  state = list_state (f, "probe");
  g_assert_cmpstr (state, ==, "shut-off");
  g_clear_object (&parser);
  g_assert_null (list_entry (f, FALSE, "probe", &parser));
  g_ptr_array_set_size (f->started, 0);
}

/* ---- vivctl top in tmux ------------------------------------------------------ */

static char *
tmux_path (void)
{
  return g_find_program_in_path ("tmux");
}

static int
tmux (Fixture *f, char **out, ...)
{
  g_autofree char *socket = g_build_filename (f->tmp, "tmux.sock", NULL);
  g_autofree char *program = tmux_path ();
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, program);
  g_ptr_array_add (argv, "-S");
  g_ptr_array_add (argv, socket);
  va_list args;
  va_start (args, out);
  const char *arg;
  while ((arg = va_arg (args, const char *)))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GSubprocessLauncher) launcher =
      launcher_new (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_unsetenv (launcher, "TMUX");
  g_autoptr (GSubprocess) process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, NULL);
  g_assert_nonnull (process);
  g_autofree char *text = NULL;
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &text, NULL, NULL));
  if (out)
    *out = g_steal_pointer (&text);
  return g_subprocess_get_exit_status (process);
}

/* The screen line that starts with `name`, or NULL. */
static char *
screen_line (const char *screen, const char *name)
{
  g_auto (GStrv) lines = g_strsplit (screen, "\n", -1);
  for (char **line = lines; *line; line++)
    {
      const char *text = *line;
      if (g_str_has_prefix (text, name) && text[strlen (name)] == ' ')
        return g_strdup (text);
    }
  return NULL;
}

/* Waits until the screen shows `name` in `state`. */
static void
wait_for_screen (Fixture *f, const char *name, const char *state)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  g_autofree char *screen = NULL;
  for (;;)
    {
      g_clear_pointer (&screen, g_free);
      g_assert_cmpint (tmux (f, &screen, "capture-pane", "-p", "-t", "top", NULL), ==, 0);
      g_autofree char *line = screen_line (screen, name);
      if (line && strstr (line, state))
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("'%s' never showed as %s in vivctl top:\n%s", name, state, screen);
      g_usleep (100000);
    }
}

static void
wait_for_cpu_figure (Fixture *f, const char *name)
{
  g_autoptr (GRegex) figure = g_regex_new ("^\\S+ +running +[0-9]+\\.[0-9] ", 0, 0, NULL);
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  for (;;)
    {
      g_autofree char *screen = NULL;
      g_assert_cmpint (tmux (f, &screen, "capture-pane", "-p", "-t", "top", NULL), ==, 0);
      g_autofree char *line = screen_line (screen, name);
      if (line && g_regex_match (figure, line, 0, NULL))
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("no CPU%% figure for '%s' in vivctl top:\n%s", name, screen);
      g_usleep (100000);
    }
}

static void
test_top (Fixture *f, gconstpointer data)
{
  if (!can_run_vms ())
    return;
  g_autofree char *tmux_program = tmux_path ();
  if (!tmux_program)
    {
      g_test_skip ("tmux is not installed");
      return;
    }
  create_probe_vm (f, "one");
  create_probe_vm (f, "two");
  start_vm (f, "one");
  start_vm (f, "two");

  g_autofree char *command = g_strdup_printf ("%s top", vivctl_path ());
  g_autofree char *data_home = g_strdup_printf ("XDG_DATA_HOME=%s", f->data_home);
  g_autofree char *runtime = g_strdup_printf ("XDG_RUNTIME_DIR=%s", f->runtime);
  g_assert_cmpint (tmux (f, NULL, "-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", "120", "-y", "20",
                         "-e", data_home, "-e", runtime, command, NULL), ==, 0);
  wait_for_screen (f, "one", "running");
  wait_for_screen (f, "two", "running");
  /* Rates come once two samples are in: a CPU% figure instead of '-'. */
  wait_for_cpu_figure (f, "two");
  /* The first row is selected: p pauses it, and only it. */
  g_assert_cmpint (tmux (f, NULL, "send-keys", "-t", "top", "p", NULL), ==, 0);
  wait_for_screen (f, "one", "paused");
  g_autofree char *one = list_state (f, "one");
  g_autofree char *two = list_state (f, "two");
  g_assert_cmpstr (one, ==, "paused");
  g_assert_cmpstr (two, ==, "running");
  /* Down selects the second and p pauses it; Up and r resume the first. */
  g_assert_cmpint (tmux (f, NULL, "send-keys", "-t", "top", "Down", "p", NULL), ==, 0);
  wait_for_screen (f, "two", "paused");
  g_assert_cmpint (tmux (f, NULL, "send-keys", "-t", "top", "Up", "r", NULL), ==, 0);
  wait_for_screen (f, "one", "running");
  g_free (one);
  g_free (two);
  one = list_state (f, "one");
  two = list_state (f, "two");
  g_assert_cmpstr (one, ==, "running");
  g_assert_cmpstr (two, ==, "paused");
  g_assert_cmpint (tmux (f, NULL, "send-keys", "-t", "top", "q", NULL), ==, 0);
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (tmux (f, NULL, "has-session", "-t", "top", NULL) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100000);
    }
  assert_vivctl_ok (f, "poweroff", "one", "VM 'one' powered off\n");
  assert_vivctl_ok (f, "poweroff", "two", "VM 'two' powered off\n");
  g_ptr_array_set_size (f->started, 0);
}

/* `vivctl run` and `vivctl disk` start without the VM library's libraries
 * and libosinfo: those come with the modules the VM commands and OS
 * detection load.  The dynamic loader lists what vivctl itself needs. */
static void
test_lean_start (void)
{
  const char *argv[] = { vivctl_path (), "--help", NULL };
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "LD_TRACE_LOADED_OBJECTS", "1", TRUE);
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  int status;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (out, "libglib-2.0.so"));
  const char *const heavy[] = { "libvirt-gconfig", "libxml2", "libosinfo", "libncurses" };
  for (size_t i = 0; i < G_N_ELEMENTS (heavy); i++)
    if (strstr (out, heavy[i]))
      g_error ("vivctl loads %s at start:\n%s", heavy[i], out);
}

/* Without its module a VM command says what is missing and fails; run and
 * disk, which do not need it, still work. */
static void
test_missing_module (Fixture *f, gconstpointer data)
{
  g_setenv ("VIVARIUM_VIVCTL_VM_MODULE", "/nonexistent/vivctl-vm.so", TRUE);
  g_autofree char *out = NULL, *err = NULL;
  int status = vivctl (f, &out, &err, "list", NULL);
  g_autofree char *image = g_build_filename (f->tmp, "disk.raw", NULL);
  int disk_status = vivctl (f, NULL, NULL, "disk", "create", "-f", "raw", image, "1M", NULL);
  g_unsetenv ("VIVARIUM_VIVCTL_VM_MODULE");
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "cannot load the VM commands from /nonexistent/vivctl-vm.so"));
  g_assert_nonnull (strstr (err, "reinstall Vivarium"));
  g_assert_cmpint (disk_status, ==, 0);
  g_assert_true (g_file_test (image, G_FILE_TEST_IS_REGULAR));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/vivctl/create-list", test_create_list);
  ADD ("/vivctl/bad-input", test_bad_input);
  ADD ("/vivctl/create-media", test_create_media);
  ADD ("/vivctl/lifecycle", test_lifecycle);
  ADD ("/vivctl/top", test_top);
  g_test_add_func ("/vivctl/lean-start", test_lean_start);
  ADD ("/vivctl/missing-module", test_missing_module);
  return g_test_run ();
}
