/* End-to-end: `vivctl run` boots the probe guest (tests/guest) and the
 * guest's own reports are checked: CPUs, memory, the serial interrupt
 * path, exit codes; and vivctl's answers to kernels and options it must
 * refuse.  VIVCTL and PROBE_ELF come from the environment (meson sets
 * them). */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include "probe-runner.h"

#define GiB (G_GUINT64_CONSTANT (1) << 30)
#define MiB (G_GUINT64_CONSTANT (1) << 20)
#define RUN_TIMEOUT_MS (60 * 1000)

static const char *vivctl;
static const char *probe_elf;

/* vivctl run with the probe; memory/cpus NULL/0 leave vivctl's defaults. */
static ProbeResult *
run_probe (const char *cmdline, const char *memory, guint cpus,
           const char *input, const char *input_after)
{
  g_autofree char *cpus_arg = g_strdup_printf ("%u", cpus);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) vivctl);
  g_ptr_array_add (argv, "run");
  g_ptr_array_add (argv, "--kernel");
  g_ptr_array_add (argv, (char *) probe_elf);
  g_ptr_array_add (argv, "--cmdline");
  g_ptr_array_add (argv, (char *) cmdline);
  if (memory)
    {
      g_ptr_array_add (argv, "--memory");
      g_ptr_array_add (argv, (char *) memory);
    }
  if (cpus)
    {
      g_ptr_array_add (argv, "--cpus");
      g_ptr_array_add (argv, cpus_arg);
    }
  g_ptr_array_add (argv, NULL);
  ProbeRunSpec spec = {
    .argv = (const char *const *) argv->pdata,
    .input = input,
    .input_after = input_after,
    .timeout_ms = RUN_TIMEOUT_MS,
  };
  return probe_run (&spec);
}

static void
test_hello (void)
{
  g_autoptr(ProbeResult) r = run_probe ("probe.mode=hello", NULL, 0, NULL, NULL);
  probe_assert_hello (r, 0);
}

static void
test_info (void)
{
  g_autoptr(ProbeResult) r = run_probe ("probe.mode=info", "256M", 1, NULL, NULL);
  probe_assert_info (r, "probe.mode=info", 1, 256 * MiB);
}

static void
test_smp (gconstpointer data)
{
  guint cpus = GPOINTER_TO_UINT (data);
  g_autoptr(ProbeResult) r = run_probe ("probe.mode=smp", "256M", cpus, NULL, NULL);
  probe_assert_smp (r, cpus);
}

typedef struct {
  const char *arg;
  guint64 bytes;
  const char *cmdline;
} MemorySize;

/* Guest RAM is backed by transparent huge pages: a word every MiB makes
 * all of it resident.  For 8 GiB, one word every 64 MiB still finds every
 * GiB above 4 GiB mapped, and distinct, without holding 8 GiB of host RAM
 * while other tests run. */
static const MemorySize memory_sizes[] = {
  { "64M", 64 * MiB, "probe.mode=mem" },
  { "1G", 1 * GiB, "probe.mode=mem" },
  { "8G", 8 * GiB, "probe.mode=mem probe.mem_stride=67108864" },
};

static void
test_memory (gconstpointer data)
{
  const MemorySize *m = data;
  g_autoptr(ProbeResult) r = run_probe (m->cmdline, m->arg, 1, NULL, NULL);
  probe_assert_mem (r, m->bytes);
  g_test_message ("mem mode with %s took %.2f s", m->arg, r->seconds);
}

static void
test_memory_info_high (void)
{
  /* With 8 GiB, part of RAM lies above the 4 GiB boundary. */
  g_autoptr(ProbeResult) r = run_probe ("probe.mode=info", "8G", 2, NULL, NULL);
  probe_assert_info (r, "probe.mode=info", 2, 8 * GiB);
  g_assert_cmpuint (probe_line_u64 (probe_result_find (r, "PROBE mem "), "highest"), >, 4 * GiB);
}

static void
test_serial_irq (void)
{
  /* Bytes go in only once the guest has its receive interrupt enabled. */
  const char *input = "Hi!\001\377q";
  g_autoptr(ProbeResult) r = run_probe ("probe.mode=irq probe.exit=3", NULL, 0, input,
                                        "PROBE irq ready");
  probe_assert_irq (r, input, 3);
}

static void
test_exit_codes (void)
{
  static const guint codes[] = { 0, 1, 42, 127 };
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      g_autofree char *cmdline = g_strdup_printf ("probe.mode=hello probe.exit=%u", codes[i]);
      g_autoptr(ProbeResult) r = run_probe (cmdline, NULL, 0, NULL, NULL);
      probe_assert_hello (r, codes[i]);
    }
  /* And after the full set-up, from CPL3. */
  g_autoptr(ProbeResult) r = run_probe ("probe.mode=info probe.exit=42", NULL, 0, NULL, NULL);
  probe_assert_exit (r, 42);
  g_assert_nonnull (probe_result_find (r, "PROBE exit code=42"));
}

/* ---- what vivctl must refuse: status 2, one "vivctl: ..." line ---- */

static void
assert_refused (const char *const *extra_args, const char *kernel)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) vivctl);
  g_ptr_array_add (argv, "run");
  g_ptr_array_add (argv, "--kernel");
  g_ptr_array_add (argv, (char *) kernel);
  for (; extra_args && *extra_args; extra_args++)
    g_ptr_array_add (argv, (char *) *extra_args);
  g_ptr_array_add (argv, NULL);
  ProbeRunSpec spec = { .argv = (const char *const *) argv->pdata, .timeout_ms = RUN_TIMEOUT_MS };
  g_autoptr(ProbeResult) r = probe_run (&spec);
  probe_result_dump (r);
  g_assert_false (r->timed_out);
  g_assert_true (r->exited);
  g_assert_cmpint (r->exit_status, ==, 2);
  g_assert_cmpuint (r->lines->len, ==, 0);
  g_assert_true (g_str_has_prefix (r->err, "vivctl: "));
  g_assert_true (g_str_has_suffix (r->err, "\n"));
  g_assert_true (strchr (r->err, '\n') == r->err + strlen (r->err) - 1);
}

/* A scratch copy of the probe, changed by `edit`, in a new temp dir. */
static char *
make_kernel (const char *name, void (*edit) (GByteArray *elf))
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vivarium-e2e-XXXXXX", &error);
  g_assert_no_error (error);
  char *path = g_build_filename (dir, name, NULL);
  gchar *contents;
  gsize len;
  g_assert_true (g_file_get_contents (probe_elf, &contents, &len, &error));
  g_autoptr(GByteArray) elf = g_byte_array_new_take ((guint8 *) contents, len);
  edit (elf);
  g_assert_true (g_file_set_contents (path, (const char *) elf->data, elf->len, &error));
  return path;
}

static void
remove_kernel (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

static void
make_empty (GByteArray *elf)
{
  g_byte_array_set_size (elf, 0);
}

static void
make_truncated (GByteArray *elf)
{
  /* Headers intact, segment contents cut off. */
  g_assert_cmpuint (elf->len, >, 8192);
  g_byte_array_set_size (elf, 4096);
}

static void
make_other_machine (GByteArray *elf)
{
  elf->data[18] = 0xb7;             /* e_machine = EM_AARCH64 */
  elf->data[19] = 0x00;
}

typedef struct {
  const char *name;
  void (*edit) (GByteArray *elf);
} BadKernel;

static const BadKernel bad_kernels[] = {
  { "empty-file", make_empty },
  { "truncated-elf", make_truncated },
  { "other-machine", make_other_machine },
};

static void
test_refuse_file (gconstpointer data)
{
  const BadKernel *bad = data;
  g_autofree char *path = make_kernel ("kernel", bad->edit);
  assert_refused (NULL, path);
  remove_kernel (path);
}

static void
test_refuse_missing (void)
{
  g_autofree char *path = make_kernel ("kernel", make_empty);
  remove_kernel (path);
  assert_refused (NULL, path);
}

static void
test_refuse_cpus (void)
{
  const char *args[] = { "--cpus", "33", NULL };
  assert_refused (args, probe_elf);
}

static void
test_refuse_memory (void)
{
  const char *args[] = { "--memory", "100000G", NULL };
  assert_refused (args, probe_elf);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  vivctl = g_getenv ("VIVCTL");
  probe_elf = g_getenv ("PROBE_ELF");
  if (!vivctl || !probe_elf)
    {
      g_printerr ("test-probe: VIVCTL and PROBE_ELF must be set (meson test sets them)\n");
      return 1;
    }
  if (g_access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_printerr ("test-probe: skipped, /dev/kvm is not accessible\n");
      return 77;
    }

  g_test_add_func ("/e2e/probe/hello", test_hello);
  g_test_add_func ("/e2e/probe/info", test_info);
  static const guint cpu_counts[] = { 1, 2, 4, 32 };
  for (guint i = 0; i < G_N_ELEMENTS (cpu_counts); i++)
    {
      g_autofree char *name = g_strdup_printf ("/e2e/probe/smp/%u", cpu_counts[i]);
      g_test_add_data_func (name, GUINT_TO_POINTER (cpu_counts[i]), test_smp);
    }
  for (guint i = 0; i < G_N_ELEMENTS (memory_sizes); i++)
    {
      g_autofree char *name = g_strdup_printf ("/e2e/probe/memory/%s", memory_sizes[i].arg);
      g_test_add_data_func (name, &memory_sizes[i], test_memory);
    }
  g_test_add_func ("/e2e/probe/memory/info-above-4g", test_memory_info_high);
  g_test_add_func ("/e2e/probe/serial-irq", test_serial_irq);
  g_test_add_func ("/e2e/probe/exit-codes", test_exit_codes);
  for (guint i = 0; i < G_N_ELEMENTS (bad_kernels); i++)
    {
      g_autofree char *name = g_strdup_printf ("/e2e/vivctl/refuse/%s", bad_kernels[i].name);
      g_test_add_data_func (name, &bad_kernels[i], test_refuse_file);
    }
  g_test_add_func ("/e2e/vivctl/refuse/missing-file", test_refuse_missing);
  g_test_add_func ("/e2e/vivctl/refuse/too-many-cpus", test_refuse_cpus);
  g_test_add_func ("/e2e/vivctl/refuse/too-much-memory", test_refuse_memory);
  return g_test_run ();
}
