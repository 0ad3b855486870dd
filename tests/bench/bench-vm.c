/* Starting a VMM with the probe guest and reading its COM1 lines with the
 * host time each arrived at; medians. See bench-vm.h.
 */
#include "bench-vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct BenchVm {
  char *name;
  pid_t pid;       /* 0 once reaped */
  int out_fd;      /* the guest's COM1; -1 at end of file */
  int err_fd;      /* memfd holding the VMM's stderr */
  GString *output; /* everything read so far, for error messages */
  GString *partial;
  GPtrArray *lines; /* BenchLine *, in order */
  guint next_line;  /* first line bench_vm_wait_line has not looked at */
};

double
bench_now (void)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

static void
bench_line_free (gpointer data)
{
  BenchLine *line = data;

  g_free (line->text);
  g_free (line);
}

BenchVm *
bench_vm_spawn (const char *name, char *const *argv, GError **error)
{
  posix_spawn_file_actions_t actions;
  int out_pipe[2];
  int err_fd, rc;
  BenchVm *vm;

  err_fd = memfd_create ("bench-stderr", MFD_CLOEXEC);
  if (err_fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "memfd_create: %s", g_strerror (errno));
      return NULL;
    }
  if (pipe2 (out_pipe, O_CLOEXEC) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "pipe2: %s", g_strerror (errno));
      close (err_fd);
      return NULL;
    }

  vm = g_new0 (BenchVm, 1);
  vm->name = g_strdup (name);
  vm->err_fd = err_fd;
  vm->out_fd = out_pipe[0];
  vm->output = g_string_new (NULL);
  vm->partial = g_string_new (NULL);
  vm->lines = g_ptr_array_new_with_free_func (bench_line_free);

  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_addopen (&actions, STDIN_FILENO, "/dev/null",
                                    O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2 (&actions, err_fd, STDERR_FILENO);
  rc = posix_spawn (&vm->pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  close (out_pipe[1]);
  if (rc != 0)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "cannot start %s: %s", argv[0], g_strerror (rc));
      vm->pid = 0;
      bench_vm_free (vm);
      return NULL;
    }
  return vm;
}

static char *
read_stderr (BenchVm *vm)
{
  GString *text = g_string_new (NULL);
  char chunk[4096];
  ssize_t got;
  off_t at = 0;

  while ((got = pread (vm->err_fd, chunk, sizeof chunk, at)) > 0)
    {
      g_string_append_len (text, chunk, got);
      at += got;
    }
  return g_string_free (text, FALSE);
}

static void
fail_with_transcript (BenchVm *vm, GError **error, const char *what)
{
  g_autofree char *err_text = read_stderr (vm);

  g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
               "%s: %s\n--- guest output (stdout) ---\n%s\n--- stderr ---\n%s",
               vm->name, what, vm->output->str, err_text);
}

/* Splits what arrived at `when` into lines; "\r\n" or "\n" ends a line. */
static void
take_bytes (BenchVm *vm, const char *bytes, gssize len, double when)
{
  gssize i;

  g_string_append_len (vm->output, bytes, len);
  for (i = 0; i < len; i++)
    {
      if (bytes[i] == '\n')
        {
          BenchLine *line = g_new0 (BenchLine, 1);

          if (vm->partial->len > 0 &&
              vm->partial->str[vm->partial->len - 1] == '\r')
            g_string_truncate (vm->partial, vm->partial->len - 1);
          line->text = g_strdup (vm->partial->str);
          line->seconds = when;
          g_ptr_array_add (vm->lines, line);
          g_string_truncate (vm->partial, 0);
        }
      else
        g_string_append_c (vm->partial, bytes[i]);
    }
}

/* Waits until `deadline` for output and takes what came. FALSE at end of
 * file or on timeout (*timed_out set). */
static gboolean
read_some (BenchVm *vm, double deadline, gboolean *timed_out)
{
  struct pollfd pfd = { .fd = vm->out_fd, .events = POLLIN };
  char chunk[4096];
  ssize_t got;
  double left;
  int rc;

  *timed_out = FALSE;
  if (vm->out_fd < 0)
    return FALSE;
  for (;;)
    {
      left = deadline - bench_now ();
      if (left <= 0)
        {
          *timed_out = TRUE;
          return FALSE;
        }
      rc = poll (&pfd, 1, (int) (left * 1000) + 1);
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc == 0)
        continue; /* the deadline check above ends it */
      got = read (vm->out_fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        {
          close (vm->out_fd);
          vm->out_fd = -1;
          return FALSE;
        }
      take_bytes (vm, chunk, got, bench_now ());
      return TRUE;
    }
}

const BenchLine *
bench_vm_wait_line (BenchVm *vm, const char *prefix, double timeout_s,
                    GError **error)
{
  double deadline = bench_now () + timeout_s;
  gboolean timed_out;
  g_autofree char *what = NULL;

  for (;;)
    {
      while (vm->next_line < vm->lines->len)
        {
          const BenchLine *line = g_ptr_array_index (vm->lines, vm->next_line);

          vm->next_line++;
          if (g_str_has_prefix (line->text, prefix))
            return line;
          if (g_str_has_prefix (line->text, "PROBE exit"))
            {
              what = g_strdup_printf ("the guest ended without printing "
                                      "\"%s...\"", prefix);
              fail_with_transcript (vm, error, what);
              return NULL;
            }
        }
      if (!read_some (vm, deadline, &timed_out))
        break;
    }
  what = g_strdup_printf (timed_out ? "no \"%s...\" line within %.0f s"
                                    : "output ended without a \"%s...\" line "
                                      "(%.0f s allowed)",
                          prefix, timeout_s);
  fail_with_transcript (vm, error, what);
  return NULL;
}

gboolean
bench_vm_finish (BenchVm *vm, double timeout_s, GError **error)
{
  double deadline = bench_now () + timeout_s;
  gboolean timed_out = FALSE;
  int status = 0;
  pid_t got;
  g_autofree char *what = NULL;

  while (read_some (vm, deadline, &timed_out))
    ;
  if (timed_out)
    {
      fail_with_transcript (vm, error, "still running; killed");
      return FALSE; /* bench_vm_free kills and reaps it */
    }
  /* Output closed: the VMM is exiting; its teardown is not bounded by us. */
  while ((got = waitpid (vm->pid, &status, 0)) < 0 && errno == EINTR)
    ;
  if (got < 0)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "%s: waitpid: %s", vm->name, g_strerror (errno));
      return FALSE;
    }
  vm->pid = 0;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != BENCH_EXPECTED_EXIT_STATUS)
    {
      what = g_strdup_printf ("expected exit status %d, got %s %d",
                              BENCH_EXPECTED_EXIT_STATUS,
                              WIFEXITED (status) ? "status" : "signal",
                              WIFEXITED (status) ? WEXITSTATUS (status)
                                                 : WTERMSIG (status));
      fail_with_transcript (vm, error, what);
      return FALSE;
    }
  return TRUE;
}

void
bench_vm_free (BenchVm *vm)
{
  if (vm == NULL)
    return;
  if (vm->pid > 0)
    {
      kill (vm->pid, SIGKILL);
      while (waitpid (vm->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  if (vm->out_fd >= 0)
    close (vm->out_fd);
  close (vm->err_fd);
  g_string_free (vm->output, TRUE);
  g_string_free (vm->partial, TRUE);
  g_ptr_array_unref (vm->lines);
  g_free (vm->name);
  g_free (vm);
}

gboolean
bench_line_u64 (const char *line, const char *key, guint64 *value)
{
  size_t key_len = strlen (key);
  const char *at = line;
  char *end;

  while ((at = strstr (at, key)) != NULL)
    {
      if ((at == line || at[-1] == ' ') && at[key_len] == '=' &&
          g_ascii_isdigit (at[key_len + 1]))
        {
          errno = 0;
          *value = g_ascii_strtoull (at + key_len + 1, &end, 10);
          return errno == 0;
        }
      at += key_len;
    }
  return FALSE;
}

GPtrArray *
bench_qemu_argv (const char *qemu, const char *probe, const char *cmdline)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *const fixed[] = {
    "-enable-kvm",
    "-M", "microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off",
    "-global", "virtio-mmio.force-legacy=false",
    "-cpu", "host,-arch-capabilities", "-nodefaults", "-nographic",
    "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
    "-m", BENCH_GUEST_MEMORY,
  };

  g_ptr_array_add (argv, g_strdup (qemu));
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (argv, g_strdup (fixed[i]));
  g_ptr_array_add (argv, g_strdup ("-kernel"));
  g_ptr_array_add (argv, g_strdup (probe));
  g_ptr_array_add (argv, g_strdup ("-append"));
  g_ptr_array_add (argv, g_strdup (cmdline));
  return argv;
}

GPtrArray *
bench_vivctl_argv (const char *vivctl, const char *probe, const char *cmdline)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *const words[] = {
    vivctl, "run", "--kernel", probe, "--cmdline", cmdline,
    "--memory", BENCH_GUEST_MEMORY,
  };

  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    g_ptr_array_add (argv, g_strdup (words[i]));
  return argv;
}

char *
bench_resolve_program (const char *option, const char *program,
                       GError **error)
{
  char *path = g_find_program_in_path (program);

  if (path == NULL)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                 "%s %s: not found or not executable", option, program);
  else if (!g_path_is_absolute (path))
    {
      char *absolute = g_canonicalize_filename (path, NULL);

      g_free (path);
      path = absolute;
    }
  return path;
}

void
bench_print_load (const char *at_start)
{
  g_autofree char *now = bench_load_average ();

  g_print ("  host load average (1, 5, 15 min): %s at the start, %s at the "
           "end\n", at_start, now);
}

void
bench_print_command (const char *name, char *const *argv)
{
  g_autoptr (GString) line = g_string_new (NULL);

  for (guint i = 0; argv[i] != NULL; i++)
    {
      g_autofree char *quoted = NULL;

      if (i > 0)
        g_string_append_c (line, ' ');
      /* Quote only where a shell would need it, so the line can be re-run. */
      if (strpbrk (argv[i], " '\"$\\|&;<>()*?") != NULL)
        {
          quoted = g_shell_quote (argv[i]);
          g_string_append (line, quoted);
        }
      else
        g_string_append (line, argv[i]);
    }
  g_print ("  %s: %s\n", name, line->str);
}
