/* vivctl's VM commands: create, define, undefine, dumpxml and list work
 * on the library; start, shutdown, poweroff, pause, resume and reset
 * drive the VM's worker. */
#include "vivctl-vm.h"
#include "os-detect.h"
#include "size.h"
#include "vm-create.h"
#include "worker-client.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

gboolean
vivctl_vm_parse_args (GOptionContext *context, int *argc, char ***argv, const char *usage_operands,
                      int n_args)
{
  const char *command = (*argv)[0];
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      vivctl_fail ("%s: %s", command, error->message);
      return FALSE;
    }
  if (*argc - 1 > n_args)
    {
      vivctl_fail ("%s: unexpected argument '%s'; see 'vivctl %s --help'", command, (*argv)[1 + n_args],
                   command);
      return FALSE;
    }
  if (*argc - 1 < n_args)
    {
      vivctl_fail ("%s: usage: vivctl %s %s", command, command, usage_operands);
      return FALSE;
    }
  return TRUE;
}

VivLibrary *
vivctl_vm_open_library (void)
{
  g_autoptr (GError) error = NULL;
  VivLibrary *lib = viv_library_open (NULL, &error);
  if (!lib)
    vivctl_fail ("%s", error->message);
  return lib;
}

int
vivctl_vm_report (const GError *error)
{
  vivctl_fail ("%s", error->message);
  if (error->domain == VIV_LIBRARY_ERROR)
    return error->code == VIV_LIBRARY_ERROR_FAILED ? VIVCTL_EXIT_FAILURE : VIVCTL_EXIT_USAGE;
  if (error->domain == VIV_WORKER_CLIENT_ERROR)
    return error->code == VIV_WORKER_CLIENT_ERROR_NOT_RUNNING
           || error->code == VIV_WORKER_CLIENT_ERROR_ALREADY_RUNNING ? VIVCTL_EXIT_USAGE : VIVCTL_EXIT_FAILURE;
  if (error->domain == VIV_MACHINE1_ERROR)
    return error->code == VIV_MACHINE1_ERROR_WRONG_STATE ? VIVCTL_EXIT_USAGE : VIVCTL_EXIT_FAILURE;
  if (error->domain == G_IO_ERROR && error->code == G_IO_ERROR_INVALID_ARGUMENT)
    return VIVCTL_EXIT_USAGE;
  return VIVCTL_EXIT_FAILURE;
}

/* ---- create ------------------------------------------------------------- */

static gboolean
parse_console (const char *text, VivConsoleKind *kind, GError **error)
{
  if (!text || g_str_equal (text, "serial"))
    *kind = VIV_CONSOLE_SERIAL;
  else if (g_str_equal (text, "virtio"))
    *kind = VIV_CONSOLE_VIRTIO;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "--console: '%s' is not a console; use serial or virtio", text);
      return FALSE;
    }
  return TRUE;
}

/* The OS of --os, else of --media (an OS libosinfo does not know is a
 * warning: the media is still attached).  NULL with *error unset when
 * there is nothing to go on. */
static VivOsInfo *
find_os (const char *os_id, const char *media, GError **error)
{
  if (os_id)
    {
      g_autoptr (GError) local_error = NULL;
      VivOsInfo *os = viv_os_lookup (os_id, &local_error);
      if (!os)
        g_set_error (error, G_IO_ERROR,
                     g_error_matches (local_error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNKNOWN_OS)
                     ? G_IO_ERROR_INVALID_ARGUMENT : G_IO_ERROR_FAILED,
                     "--os: %s", local_error->message);
      return os;
    }
  if (!media)
    return NULL;
  g_autoptr (GError) local_error = NULL;
  VivOsInfo *os = viv_os_detect_media (media, NULL, &local_error);
  if (!os)
    {
      if (!g_error_matches (local_error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNKNOWN_OS)
          && !g_error_matches (local_error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_NO_DATABASE))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "--media: %s", local_error->message);
          return NULL;
        }
      fprintf (stderr, "vivctl: warning: %s (or name the OS with --os ID)\n", local_error->message);
      return NULL;
    }
  g_autofree char *description = viv_os_info_describe (os);
  printf ("Detected: %s (%s)\n", description, os->id);
  if (os->kernel_path)
    printf ("On the media, the installer's kernel is %s%s%s: copy it out to boot it with --kernel\n",
            os->kernel_path, os->initrd_path ? " and its initrd " : "", os->initrd_path ? os->initrd_path : "");
  return os;
}

int
vivctl_create (int argc, char **argv)
{
  g_autofree char *kernel = NULL, *initrd = NULL, *cmdline = NULL;
  g_autofree char *memory_text = NULL, *cpus_text = NULL, *console = NULL;
  g_autofree char *media = NULL, *os_id = NULL;
  g_auto (GStrv) disk_texts = NULL, net_texts = NULL;
  gboolean rng = FALSE, balloon = FALSE;
  GOptionEntry entries[] = {
    { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &kernel, "Kernel to boot (bzImage or PVH ELF)", "FILE" },
    { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &initrd, "Initial ramdisk", "FILE" },
    { "cmdline", 0, 0, G_OPTION_ARG_STRING, &cmdline, "Kernel command line", "STR" },
    { "memory", 0, 0, G_OPTION_ARG_STRING, &memory_text, "Guest memory (default: what the OS recommends, else 256M)", "SIZE" },
    { "cpus", 0, 0, G_OPTION_ARG_STRING, &cpus_text, "Number of vCPUs (default: what the OS recommends, else 1)", "N" },
    { "disk", 0, 0, G_OPTION_ARG_STRING_ARRAY, &disk_texts,
      "A virtio disk (repeatable): PATH[,format=raw|qcow2][,cache=none|writethrough|writeback][,readonly]"
      "[,serial=ID], or size=SIZE[,format=raw|qcow2][,…] for a new empty image beside the definition, "
      "or backing=PATH[,…] for a qcow2 linked clone of PATH there", "SPEC" },
    { "net", 0, 0, G_OPTION_ARG_STRING_ARRAY, &net_texts,
      "A virtio NIC (repeatable): user[,hostfwd=tcp:127.0.0.1:HOSTPORT-:GUESTPORT][,mac=MAC] or "
      "tap,ifname=IF[,mac=MAC]", "SPEC" },
    { "console", 0, 0, G_OPTION_ARG_STRING, &console, "The VM's console: serial (default) or virtio", "KIND" },
    { "rng", 0, 0, G_OPTION_ARG_NONE, &rng, "Add a virtio entropy device", NULL },
    { "balloon", 0, 0, G_OPTION_ARG_NONE, &balloon, "Add a virtio memory balloon", NULL },
    { "media", 0, 0, G_OPTION_ARG_FILENAME, &media,
      "Installation media (an ISO), attached read-only after the disks; its OS is detected with "
      "libosinfo, and its recommended memory and vCPUs are the defaults", "ISO" },
    { "os", 0, 0, G_OPTION_ARG_STRING, &os_id,
      "The guest OS, as libosinfo names it (e.g. debian11 or http://debian.org/debian/11), "
      "instead of detecting it from --media", "ID" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("NAME - define a new VM (it does not start it)");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!vivctl_vm_parse_args (context, &argc, &argv, "NAME --kernel FILE [OPTIONS…]", 1))
    return VIVCTL_EXIT_USAGE;

  g_autoptr (GError) error = NULL;
  VivLibraryCreateOptions options = {
    .name = argv[1],
    .kernel = kernel,
    .initrd = initrd,
    .cmdline = cmdline,
    .rng = rng,
    .balloon = balloon,
    .disks = disk_texts,
    .nets = net_texts,
    .media = media,
  };
  if (!kernel)
    {
      vivctl_fail ("create: --kernel FILE is required: the kernel to boot (a bzImage or a PVH ELF)");
      return VIVCTL_EXIT_USAGE;
    }
  if (memory_text && (!viv_parse_size (memory_text, &options.memory_bytes, &error)
                      || options.memory_bytes == 0 || options.memory_bytes % 1024 != 0))
    {
      if (error)
        vivctl_fail ("--memory: %s", error->message);
      else
        vivctl_fail ("--memory: %s is not a whole number of KiB (e.g. 512M)", memory_text);
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
      options.n_cpus = n;
    }
  if (!parse_console (console, &options.console_kind, &error))
    return vivctl_vm_report (error);

  g_autoptr (VivOsInfo) os = find_os (os_id, media, &error);
  if (error)
    return vivctl_vm_report (error);
  if (os)
    {
      options.os_id = os->id;
      /* The same defaults as the app's assistant. */
      if (!memory_text)
        options.memory_bytes = viv_os_info_suggested_memory (os);
      if (!cpus_text)
        options.n_cpus = viv_os_info_suggested_cpus (os);
    }

  g_autoptr (VivLibrary) lib = vivctl_vm_open_library ();
  if (!lib)
    return VIVCTL_EXIT_FAILURE;
  g_autoptr (VivVmDefinition) def = viv_library_create_vm (lib, &options, &error);
  if (!def)
    return vivctl_vm_report (error);
  printf ("VM '%s' defined (UUID %s)\n", def->name, def->uuid);
  return 0;
}

/* ---- define, undefine, dumpxml ----------------------------------------- */


int
vivctl_define (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE.xml - define or update a VM from libvirt domain XML");
  if (!vivctl_vm_parse_args (context, &argc, &argv, "FILE.xml", 1))
    return VIVCTL_EXIT_USAGE;

  g_autoptr (GError) error = NULL;
  g_autofree char *xml = NULL;
  gsize len;
  if (!g_file_get_contents (argv[1], &xml, &len, &error))
    {
      vivctl_fail ("%s", error->message);
      return VIVCTL_EXIT_USAGE;
    }
  g_autoptr (VivVmDefinition) def = viv_domain_xml_to_definition (xml, len, &error);
  if (!def)
    {
      g_prefix_error (&error, "%s: ", argv[1]);
      return vivctl_vm_report (error);
    }
  g_autoptr (VivLibrary) lib = vivctl_vm_open_library ();
  if (!lib)
    return VIVCTL_EXIT_FAILURE;
  gboolean existed = viv_library_contains (lib, def->name);
  if (!viv_library_define (lib, def, 0, &error))
    return vivctl_vm_report (error);
  if (existed && viv_worker_client_is_running (def->uuid))
    printf ("VM '%s' updated; it is running, so the changes apply when it next starts\n", def->name);
  else
    printf ("VM '%s' %s from %s (UUID %s)\n", def->name, existed ? "updated" : "defined", argv[1], def->uuid);
  return 0;
}

int
vivctl_undefine (int argc, char **argv)
{
  gboolean remove_disks = FALSE;
  GOptionEntry entries[] = {
    { "remove-disks", 0, 0, G_OPTION_ARG_NONE, &remove_disks,
      "Also delete the VM's writable disk images (read-only ones are kept)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("NAME - remove a VM's definition");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!vivctl_vm_parse_args (context, &argc, &argv, "NAME [--remove-disks]", 1))
    return VIVCTL_EXIT_USAGE;

  g_autoptr (VivLibrary) lib = vivctl_vm_open_library ();
  if (!lib)
    return VIVCTL_EXIT_FAILURE;
  g_autoptr (GError) error = NULL;
  const char *name = argv[1];
  g_autoptr (VivVmDefinition) def = viv_library_load (lib, name, &error);
  if (def && viv_worker_client_is_running (def->uuid))
    {
      vivctl_fail ("'%s' is running; stop it first (vivctl poweroff %s)", name, name);
      return VIVCTL_EXIT_USAGE;
    }
  /* A broken definition can still be removed, but not its disks. */
  if (!def && (remove_disks || !g_error_matches (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_INVALID)))
    return vivctl_vm_report (error);
  g_clear_error (&error);

  g_autoptr (GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  if (!viv_library_undefine (lib, name, remove_disks, removed, &error))
    return vivctl_vm_report (error);
  for (unsigned i = 0; i < removed->len; i++)
    printf ("removed %s\n", (char *) removed->pdata[i]);
  printf ("VM '%s' undefined\n", name);
  return 0;
}

int
vivctl_dumpxml (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("NAME - print a VM's libvirt domain XML");
  if (!vivctl_vm_parse_args (context, &argc, &argv, "NAME", 1))
    return VIVCTL_EXIT_USAGE;
  g_autoptr (VivLibrary) lib = vivctl_vm_open_library ();
  if (!lib)
    return VIVCTL_EXIT_FAILURE;
  g_autoptr (GError) error = NULL;
  g_autofree char *xml = viv_library_load_xml (lib, argv[1], &error);
  if (!xml)
    return vivctl_vm_report (error);
  fputs (xml, stdout);
  if (*xml && xml[strlen (xml) - 1] != '\n')
    fputc ('\n', stdout);
  return 0;
}

/* ---- list --------------------------------------------------------------- */

typedef struct {
  char   *name;
  char   *uuid;
  char   *state;
  guint   n_cpus;
  guint64 memory_bytes;
  char   *os_id;   /* libosinfo's id, or NULL */
} ListRow;

static void
list_row_clear (ListRow *row)
{
  g_free (row->name);
  g_free (row->uuid);
  g_free (row->state);
  g_free (row->os_id);
}

/* The worker's view when one runs the VM: its State and its
 * configuration (which may predate a redefinition). */
static void
fill_from_worker (ListRow *row, GPtrArray *workers)
{
  for (unsigned i = 0; workers && i < workers->len; i++)
    {
      VivWorkerInfo *info = workers->pdata[i];
      if (!g_str_equal (info->uuid, row->uuid))
        continue;
      if (info->crashed)
        {
          g_free (row->state);
          row->state = g_strdup ("crashed");
          return;
        }
      g_autoptr (GError) error = NULL;
      g_autoptr (GDBusConnection) bus = viv_worker_client_connect (info, NULL, &error);
      g_autoptr (VivDBusMachine1) vm = bus ? viv_worker_client_get_machine (bus, NULL, &error) : NULL;
      if (!vm)
        {
          /* Stopping between the listing and now. */
          g_debug ("%s: %s", row->name, error->message);
          return;
        }
      g_free (row->state);
      row->state = g_strdup (viv_dbus_machine1_get_state (vm));
      row->n_cpus = viv_dbus_machine1_get_vcpus (vm);
      row->memory_bytes = viv_dbus_machine1_get_memory_bytes (vm);
      return;
    }
}

static gboolean
is_active_state (const char *state)
{
  return !g_str_equal (state, "shut-off") && !g_str_equal (state, "crashed");
}

static void
print_list_json (GArray *rows)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_array (builder);
  for (unsigned i = 0; i < rows->len; i++)
    {
      ListRow *row = &g_array_index (rows, ListRow, i);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, row->name);
      json_builder_set_member_name (builder, "uuid");
      json_builder_add_string_value (builder, row->uuid);
      json_builder_set_member_name (builder, "state");
      json_builder_add_string_value (builder, row->state);
      json_builder_set_member_name (builder, "vcpus");
      json_builder_add_int_value (builder, row->n_cpus);
      json_builder_set_member_name (builder, "memory_bytes");
      json_builder_add_int_value (builder, (gint64) row->memory_bytes);
      json_builder_set_member_name (builder, "os");
      if (row->os_id != NULL)
        json_builder_add_string_value (builder, row->os_id);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, root);
  g_autofree char *text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
}

static void
print_list_table (GArray *rows)
{
  printf (" %-24s %-14s %5s %10s\n", "Name", "State", "vCPUs", "Memory");
  printf ("%s\n", "------------------------------------------------------------");
  for (unsigned i = 0; i < rows->len; i++)
    {
      ListRow *row = &g_array_index (rows, ListRow, i);
      g_autofree char *memory = g_format_size_full (row->memory_bytes, G_FORMAT_SIZE_IEC_UNITS);
      printf (" %-24s %-14s %5u %10s\n", row->name, row->state, row->n_cpus, memory);
    }
}

int
vivctl_list (int argc, char **argv)
{
  gboolean all = FALSE, json = FALSE;
  GOptionEntry entries[] = {
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "Also list VMs that are shut off or crashed", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON (name, uuid, state, vcpus, memory_bytes, os)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- list the running VMs (--all: every VM)");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!vivctl_vm_parse_args (context, &argc, &argv, "[--all] [--json]", 0))
    return VIVCTL_EXIT_USAGE;

  g_autoptr (VivLibrary) lib = vivctl_vm_open_library ();
  if (!lib)
    return VIVCTL_EXIT_FAILURE;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = viv_library_list (lib, &error);
  if (!names)
    return vivctl_vm_report (error);
  g_autoptr (GPtrArray) workers = viv_worker_client_list (&error);
  if (!workers)
    {
      vivctl_fail ("cannot list the running VMs: %s", error->message);
      g_clear_error (&error);
    }

  int status = 0;
  g_autoptr (GArray) rows = g_array_new (FALSE, TRUE, sizeof (ListRow));
  g_array_set_clear_func (rows, (GDestroyNotify) list_row_clear);
  for (char **name = names; *name; name++)
    {
      g_autoptr (VivVmDefinition) def = viv_library_load (lib, *name, &error);
      if (!def)
        {
          vivctl_fail ("%s", error->message);
          g_clear_error (&error);
          status = VIVCTL_EXIT_FAILURE;
          continue;
        }
      ListRow row = {
        .name = g_strdup (def->name),
        .uuid = g_strdup (def->uuid),
        .state = g_strdup ("shut-off"),
        .n_cpus = def->n_cpus,
        .memory_bytes = def->memory_bytes,
        .os_id = g_strdup (def->os_id),
      };
      fill_from_worker (&row, workers);
      if (all || is_active_state (row.state))
        g_array_append_val (rows, row);
      else
        list_row_clear (&row);
    }
  if (json)
    print_list_json (rows);
  else
    print_list_table (rows);
  return status;
}

/* ---- start and the lifecycle methods ------------------------------------ */

int
vivctl_start (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("NAME - start a VM in the background");
  if (!vivctl_vm_parse_args (context, &argc, &argv, "NAME", 1))
    return VIVCTL_EXIT_USAGE;
  g_autoptr (VivLibrary) lib = vivctl_vm_open_library ();
  if (!lib)
    return VIVCTL_EXIT_FAILURE;
  g_autoptr (GError) error = NULL;
  g_autoptr (VivVmDefinition) def = viv_library_load (lib, argv[1], &error);
  if (!def)
    return vivctl_vm_report (error);
  g_autoptr (VivWorkerInfo) info = viv_worker_client_start (NULL, def->name, 0, &error);
  if (!info)
    return vivctl_vm_report (error);
  printf ("VM '%s' started (worker %d; console: vivctl console %s)\n", info->name, (int) info->pid,
          info->name);
  return 0;
}

VivDBusMachine1 *
vivctl_vm_connect (const char *name, VivWorkerInfo **info_out, GError **error)
{
  g_autoptr (VivWorkerInfo) info = viv_worker_client_find (name, error);
  if (!info)
    {
      if (g_error_matches (*error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_NOT_RUNNING))
        {
          g_autoptr (VivLibrary) lib = viv_library_open (NULL, NULL);
          g_clear_error (error);
          if (lib && !viv_library_contains (lib, name))
            g_set_error (error, VIV_LIBRARY_ERROR, VIV_LIBRARY_ERROR_NOT_FOUND,
                         "there is no VM named '%s' (see 'vivctl list --all')", name);
          else
            g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_NOT_RUNNING,
                         "'%s' is not running (start it with 'vivctl start %s')", name, name);
        }
      return NULL;
    }
  if (info->crashed)
    {
      g_autofree char *log = viv_worker_log_path (info->name);
      g_set_error (error, VIV_WORKER_CLIENT_ERROR, VIV_WORKER_CLIENT_ERROR_CRASHED,
                   "'%s' crashed: %s (see %s; 'vivctl start %s' starts it again)", info->name,
                   info->crash_reason ? info->crash_reason : "unknown reason", log, info->name);
      return NULL;
    }
  g_autoptr (GDBusConnection) bus = viv_worker_client_connect (info, NULL, error);
  if (!bus)
    return NULL;
  VivDBusMachine1 *vm = viv_worker_client_get_machine (bus, NULL, error);
  if (vm && info_out)
    *info_out = g_steal_pointer (&info);
  return vm;
}

typedef gboolean (*MachineCall) (VivDBusMachine1 *proxy, GCancellable *cancellable, GError **error);

/* wait_exit: the call ends the worker (PowerOff returns before it is gone). */
static int
run_lifecycle (int argc, char **argv, const char *summary, MachineCall call, gboolean wait_exit,
               const char *done)
{
  g_autoptr (GOptionContext) context = g_option_context_new (summary);
  if (!vivctl_vm_parse_args (context, &argc, &argv, "NAME", 1))
    return VIVCTL_EXIT_USAGE;
  g_autoptr (GError) error = NULL;
  g_autoptr (VivWorkerInfo) info = NULL;
  g_autoptr (VivDBusMachine1) vm = vivctl_vm_connect (argv[1], &info, &error);
  if (!vm || !call (vm, NULL, &error))
    {
      if (g_dbus_error_is_remote_error (error))
        g_dbus_error_strip_remote_error (error);
      return vivctl_vm_report (error);
    }
  if (wait_exit && !viv_worker_client_wait_exit (info, 0, &error))
    return vivctl_vm_report (error);
  printf ("VM '%s' %s\n", argv[1], done);
  return 0;
}

int
vivctl_shutdown (int argc, char **argv)
{
  return run_lifecycle (argc, argv, "NAME - ask the guest to shut down", viv_dbus_machine1_call_shutdown_sync,
                        FALSE, "is shutting down");
}

int
vivctl_poweroff (int argc, char **argv)
{
  return run_lifecycle (argc, argv, "NAME - stop a VM at once (pull the plug)",
                        viv_dbus_machine1_call_power_off_sync, TRUE, "powered off");
}

int
vivctl_pause (int argc, char **argv)
{
  return run_lifecycle (argc, argv, "NAME - pause a VM's vCPUs", viv_dbus_machine1_call_pause_sync, FALSE,
                        "paused");
}

int
vivctl_resume (int argc, char **argv)
{
  return run_lifecycle (argc, argv, "NAME - let a paused VM run again", viv_dbus_machine1_call_resume_sync,
                        FALSE, "resumed");
}

int
vivctl_reset (int argc, char **argv)
{
  return run_lifecycle (argc, argv, "NAME - reset a VM (it reboots from its kernel)",
                        viv_dbus_machine1_call_reset_sync, FALSE, "reset");
}
