/* vivarium-vm-page.c: one VM's console, graphs and details */
#define G_LOG_DOMAIN "vivarium-vm-page"

#include "config.h"

#include "vivarium-vm-page.h"

#include <glib/gi18n.h>

#include "os-detect.h"
#include "worker-client.h"
#include "vivarium-clone-dialog.h"
#include "vivarium-console-view.h"
#include "vivarium-graph.h"
#include "vivarium-vm-row.h"
#include "vivarium-window.h"

#define MIB (1024 * 1024)

struct _VivVmPage
{
  GtkWidget             parent_instance;

  /* Template widgets */
  GtkWidget            *box;
  GtkLabel             *name_label;
  GtkLabel             *state_label;
  GtkWidget            *start_button;
  GtkWidget            *pause_button;
  GtkWidget            *resume_button;
  AdwViewStack         *view_stack;
  VivConsoleView       *console_view;
  VivGraph             *cpu_graph;
  VivGraph             *memory_graph;
  VivGraph             *disk_graph;
  VivGraph             *network_graph;
  VivGraph             *exits_graph;
  GtkListBox           *exits_list;
  GtkSpinButton        *vcpus_spin;
  GtkSpinButton        *memory_spin;
  AdwActionRow         *os_row;
  AdwActionRow         *kernel_row;
  AdwActionRow         *initrd_row;
  AdwEntryRow          *cmdline_row;
  AdwPreferencesGroup  *devices_group;

  /* Borrowed */
  VivLibrary           *library;

  /* Owned */
  VivVmItem            *item;
  GCancellable         *cancellable;
  GPtrArray            *device_rows;     /* rows added to devices_group */
  GtkLabel             *exit_rate_labels[VIV_STATS_N_EXIT_REASONS];

  guint                 n_pending;       /* lifecycle calls in flight */
  guint                 details_changed : 1;
  guint                 loading_details : 1;
};

G_DEFINE_FINAL_TYPE (VivVmPage, viv_vm_page, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_ITEM,
  PROP_VIEW,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The exits the worker counts (viv_stats_exit_reasons[]), for the teaching
 * panel: what each reason means (CONCEPTS.md, "CPU virtualization"). */
static const struct {
  const char *title;
  const char *explanation;
} exit_reasons[VIV_STATS_N_EXIT_REASONS] = {
  { N_("Port I/O"),
    N_("The guest read or wrote an I/O port of an emulated device, such as the 16550 UART: every register access is a VM exit.") },
  { N_("MMIO"),
    N_("The guest touched a device register in memory-mapped I/O space, such as a virtio-mmio register. Virtio batches requests in shared rings, so it needs few of these.") },
  { N_("HLT"),
    N_("A vCPU had nothing to do and halted until its next interrupt.") },
  { N_("Interrupted"),
    N_("The VMM took the vCPU out of the guest with a signal, for example to pause it.") },
  { N_("Shutdown"),
    N_("The guest shut the CPU down, e.g. by a triple fault.") },
  { N_("System event"),
    N_("The guest asked for a power-off or a reset.") },
  { N_("Internal error"),
    N_("KVM could not emulate an instruction for the guest.") },
  { N_("Failed entry"),
    N_("The CPU refused to enter the guest: its vCPU state was invalid.") },
  { N_("Other"),
    N_("Any other reason.") },
};

static const char * const vcpu_colors[] = {
  "green", "orange", "purple", "red", "brown", "yellow", "blue",
};

/* ---- State -------------------------------------------------------------- */

static gboolean
state_is (VivVmPage  *self,
          const char *state)
{
  return g_strcmp0 (viv_vm_item_get_state (self->item), state) == 0;
}

static gboolean
is_off (VivVmPage *self)
{
  return state_is (self, "off") || state_is (self, "shut-off") || state_is (self, "crashed");
}

/* Every action's enabled state, from the VM's state, in one place. */
static void
update_actions (VivVmPage *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  gboolean idle = self->n_pending == 0;
  gboolean off = is_off (self);
  gboolean running = state_is (self, "running");
  gboolean paused = state_is (self, "paused");
  gboolean has_machine = viv_vm_item_get_machine (self->item) != NULL;

  gtk_widget_action_set_enabled (widget, "vm.start", idle && off);
  gtk_widget_action_set_enabled (widget, "vm.pause", idle && has_machine && running);
  gtk_widget_action_set_enabled (widget, "vm.resume", idle && has_machine && paused);
  gtk_widget_action_set_enabled (widget, "vm.shutdown", idle && has_machine && running);
  gtk_widget_action_set_enabled (widget, "vm.force-off", has_machine && !off);
  gtk_widget_action_set_enabled (widget, "vm.reset", idle && has_machine && (running || paused));
  gtk_widget_action_set_enabled (widget, "vm.delete", idle && off);
  gtk_widget_action_set_enabled (widget, "vm.clone", idle && off);
  gtk_widget_action_set_enabled (widget, "vm.apply", idle && off && self->details_changed);

  /* Start, pause and resume share a place: only the one that fits shows. */
  gtk_widget_set_visible (self->start_button, off);
  gtk_widget_set_visible (self->pause_button, !off && !paused);
  gtk_widget_set_visible (self->resume_button, paused);
}

static void
show_error (VivVmPage    *self,
            const char   *what,
            const GError *error)
{
  GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (self), VIV_TYPE_WINDOW);

  /* The window shows it in a toast (and logs it); a page on its own logs it. */
  if (window != NULL)
    viv_window_show_error (VIV_WINDOW (window), what, error);
  else
    g_message ("%s: %s", what, error->message);
}

/* Points the console at the running worker's socket. */
static void
update_console (VivVmPage *self)
{
  const VivWorkerInfo *worker = viv_vm_item_get_worker (self->item);

  if (worker == NULL || worker->crashed || viv_vm_item_get_machine (self->item) == NULL)
    return;

  viv_console_view_connect (self->console_view, worker->console_path);
}

static void
update_state (VivVmPage *self)
{
  const char *state = viv_vm_item_get_state (self->item);
  gboolean off = is_off (self);

  gtk_label_set_label (self->name_label, viv_vm_item_get_name (self->item));
  gtk_label_set_label (self->state_label, viv_vm_state_to_label (state));

  gtk_widget_set_sensitive (GTK_WIDGET (self->vcpus_spin), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->memory_spin), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->cmdline_row), off);

  update_actions (self);
}

/* ---- Graphs ------------------------------------------------------------- */

static void
update_cpu_series (VivVmPage *self)
{
  VivStatsModel *stats = viv_vm_item_get_stats (self->item);
  guint n_vcpus = viv_stats_model_get_n_vcpus (stats);

  viv_graph_remove_all_series (self->cpu_graph);
  viv_graph_add_series (self->cpu_graph, "cpu-total", _("Total"), "accent");
  for (guint i = 0; i < n_vcpus; i++)
    {
      g_autofree char *key = g_strdup_printf ("cpu-vcpu-%u", i);
      /* Translators: one virtual CPU in the CPU graph's legend */
      g_autofree char *label = g_strdup_printf (_("vCPU %u"), i);

      viv_graph_add_series (self->cpu_graph, key, label, vcpu_colors[i % G_N_ELEMENTS (vcpu_colors)]);
    }
}

static void
update_exit_rates (VivVmPage *self)
{
  VivStatsModel *stats = viv_vm_item_get_stats (self->item);
  guint n = viv_stats_model_get_n_samples (stats);

  for (guint i = 0; i < VIV_STATS_N_EXIT_REASONS; i++)
    {
      g_autofree char *key = g_strdup_printf ("exits-%s", viv_stats_exit_reasons[i]);
      g_autofree char *text = NULL;
      double value;

      if (n > 0 && viv_stats_model_get_value (stats, key, n - 1, &value))
        text = viv_graph_format_value (VIV_GRAPH_UNIT_PER_SECOND, value);
      else
        text = g_strdup ("—");
      gtk_label_set_label (self->exit_rate_labels[i], text);
    }
}

static void
setup_graphs (VivVmPage *self)
{
  VivStatsModel *stats = viv_vm_item_get_stats (self->item);
  VivGraph *graphs[] = {
    self->cpu_graph, self->memory_graph, self->disk_graph, self->network_graph, self->exits_graph,
  };

  for (guint i = 0; i < G_N_ELEMENTS (graphs); i++)
    viv_graph_set_model (graphs[i], stats);

  update_cpu_series (self);
  g_signal_connect_object (stats, "notify::n-vcpus", G_CALLBACK (update_cpu_series),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (stats, "sample-added", G_CALLBACK (update_exit_rates),
                           self, G_CONNECT_SWAPPED);
  update_exit_rates (self);
}

static void
build_graph_series (VivVmPage *self)
{
  viv_graph_add_series (self->memory_graph, "memory-assigned", _("Assigned"), "blue");
  viv_graph_add_series (self->memory_graph, "memory-resident", _("Resident"), "green");
  viv_graph_add_series (self->memory_graph, "memory-balloon", _("Balloon"), "orange");

  viv_graph_add_series (self->disk_graph, "disk-read", _("Read"), "blue");
  viv_graph_add_series (self->disk_graph, "disk-write", _("Write"), "orange");

  viv_graph_add_series (self->network_graph, "net-rx", _("Received"), "green");
  viv_graph_add_series (self->network_graph, "net-tx", _("Sent"), "purple");

  viv_graph_add_series (self->exits_graph, "exits-total", _("All"), "brown");
  viv_graph_add_series (self->exits_graph, "exits-io", _(exit_reasons[0].title), "blue");
  viv_graph_add_series (self->exits_graph, "exits-mmio", _(exit_reasons[1].title), "orange");
  viv_graph_add_series (self->exits_graph, "exits-hlt", _(exit_reasons[2].title), "green");
  viv_graph_add_series (self->exits_graph, "exits-interrupted", _(exit_reasons[3].title), "purple");

  for (guint i = 0; i < VIV_STATS_N_EXIT_REASONS; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *rate = gtk_label_new ("—");

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _(exit_reasons[i].title));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _(exit_reasons[i].explanation));
      gtk_widget_add_css_class (rate, "numeric");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), rate);
      gtk_list_box_append (self->exits_list, row);
      self->exit_rate_labels[i] = GTK_LABEL (rate);
    }
}

/* ---- Details ------------------------------------------------------------ */

static GtkWidget *
add_device_row (VivVmPage  *self,
                const char *title,
                const char *subtitle)
{
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_preferences_group_add (self->devices_group, row);
  g_ptr_array_add (self->device_rows, row);
  return row;
}

/* The guest OS by its libosinfo name; the id itself when the database
 * does not know it; the row hidden when the definition names none. */
static void
show_os (VivVmPage  *self,
         const char *os_id)
{
  g_autoptr (VivOsInfo) os = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->os_row), os_id != NULL);
  if (os_id == NULL)
    return;
  os = viv_os_lookup (os_id, &error);
  if (os == NULL)
    g_debug ("%s", error->message);
  name = os != NULL ? viv_os_info_describe (os) : g_strdup (os_id);
  adw_action_row_set_subtitle (self->os_row, name);
}

static void
load_details (VivVmPage *self)
{
  const VivVmDefinition *def = viv_vm_item_get_definition (self->item);

  for (guint i = 0; i < self->device_rows->len; i++)
    adw_preferences_group_remove (self->devices_group, g_ptr_array_index (self->device_rows, i));
  g_ptr_array_set_size (self->device_rows, 0);

  if (def == NULL)
    return;

  self->loading_details = TRUE;
  gtk_spin_button_set_value (self->vcpus_spin, def->n_cpus);
  gtk_spin_button_set_value (self->memory_spin, (double) (def->memory_bytes / MIB));
  gtk_editable_set_text (GTK_EDITABLE (self->cmdline_row), def->cmdline ? def->cmdline : "");
  self->loading_details = FALSE;
  self->details_changed = FALSE;

  show_os (self, def->os_id);
  adw_action_row_set_subtitle (self->kernel_row, def->kernel ? def->kernel : "");
  adw_action_row_set_subtitle (self->initrd_row, def->initrd ? def->initrd : _("None"));

  for (guint i = 0; i < def->disks->len; i++)
    {
      const VivDiskSpec *disk = g_ptr_array_index (def->disks, i);
      /* Translators: a virtio disk in the details, numbered from 1 */
      g_autofree char *title = g_strdup_printf (_("Disk %u"), i + 1);
      g_autofree char *subtitle = NULL;

      if (disk->config.read_only)
        /* Translators: a disk image path, then that it is read-only */
        subtitle = g_strdup_printf (_("%s (read-only)"), disk->path);
      else
        subtitle = g_strdup (disk->path);
      add_device_row (self, title, subtitle);
    }
  for (guint i = 0; i < def->nets->len; i++)
    {
      /* Translators: a virtio network card in the details, numbered from 1 */
      g_autofree char *title = g_strdup_printf (_("Network card %u"), i + 1);

      add_device_row (self, title, g_ptr_array_index (def->nets, i));
    }
  add_device_row (self, _("Console"),
                  def->console_kind == VIV_CONSOLE_VIRTIO ? _("virtio-console") : _("Serial port (16550 UART)"));
  if (def->rng)
    add_device_row (self, _("Random number generator"), _("virtio-rng"));
  if (def->balloon)
    add_device_row (self, _("Memory balloon"), _("virtio-balloon"));

  update_actions (self);
}

static void
details_changed_cb (VivVmPage *self)
{
  if (self->loading_details)
    return;
  self->details_changed = TRUE;
  update_actions (self);
}

static void
apply_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  VivVmPage *self = VIV_VM_PAGE (widget);
  const char *name = viv_vm_item_get_name (self->item);
  g_autoptr(VivVmDefinition) def = NULL;
  g_autoptr(GError) error = NULL;
  const char *cmdline = gtk_editable_get_text (GTK_EDITABLE (self->cmdline_row));
  g_autofree char *what = g_strdup_printf (_("Could not change “%s”"), name);

  /* Edit what is on disk now, not what the page loaded a while ago. */
  def = viv_library_load (self->library, name, &error);
  if (def == NULL)
    {
      show_error (self, what, error);
      return;
    }

  def->n_cpus = (unsigned) gtk_spin_button_get_value_as_int (self->vcpus_spin);
  def->memory_bytes = (guint64) gtk_spin_button_get_value_as_int (self->memory_spin) * MIB;
  g_free (def->cmdline);
  def->cmdline = cmdline[0] != '\0' ? g_strdup (cmdline) : NULL;

  if (!viv_library_define (self->library, def, 0, &error))
    {
      show_error (self, what, error);
      return;
    }

  self->details_changed = FALSE;
  viv_vm_item_set_definition (self->item, g_steal_pointer (&def));
}

/* ---- Lifecycle ---------------------------------------------------------- */

typedef struct {
  VivVmPage *self;
  char      *what;   /* translated: what failed, for the error toast */
} Call;

static void
call_free (Call *call)
{
  g_object_unref (call->self);
  g_free (call->what);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static Call *
call_new (VivVmPage  *self,
          const char *what_format)
{
  Call *call = g_new0 (Call, 1);

  call->self = g_object_ref (self);
  call->what = g_strdup_printf (what_format, viv_vm_item_get_name (self->item));
  self->n_pending++;
  update_actions (self);
  return call;
}

static void
call_done (Call         *call,
           const GError *error)
{
  VivVmPage *self = call->self;

  self->n_pending--;
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    show_error (self, call->what, error);
  update_actions (self);
}

static void
start_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;
  VivWorkerInfo *worker = viv_worker_client_start_finish (result, &error);

  if (worker != NULL)
    viv_vm_item_set_worker (call->self->item, worker);
  call_done (call, error);
}

static void
start_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  VivVmPage *self = VIV_VM_PAGE (widget);
  /* Translators: %s is a VM's name */
  Call *call = call_new (self, _("Could not start “%s”"));

  viv_worker_client_start_async (viv_library_get_root (self->library), viv_vm_item_get_name (self->item),
                                 0, self->cancellable, start_cb, call);
}

static void
machine_call_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  /* D-Bus errors carry the worker's sentence after the error name. */
  if (error != NULL)
    g_dbus_error_strip_remote_error (error);
  call_done (call, error);
}

static void
call_machine (VivVmPage  *self,
              const char *method,
              const char *what_format)
{
  VivDBusMachine1 *machine = viv_vm_item_get_machine (self->item);

  g_return_if_fail (machine != NULL);

  g_dbus_proxy_call (G_DBUS_PROXY (machine), method, NULL, G_DBUS_CALL_FLAGS_NONE, -1,
                     self->cancellable, machine_call_cb, call_new (self, what_format));
}

static void
pause_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  /* Translators: %s is a VM's name */
  call_machine (VIV_VM_PAGE (widget), "Pause", _("Could not pause “%s”"));
}

static void
resume_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  /* Translators: %s is a VM's name */
  call_machine (VIV_VM_PAGE (widget), "Resume", _("Could not resume “%s”"));
}

static void
shutdown_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  /* Translators: %s is a VM's name */
  call_machine (VIV_VM_PAGE (widget), "Shutdown", _("Could not shut down “%s”"));
}

static void
force_off_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  /* Translators: %s is a VM's name */
  call_machine (VIV_VM_PAGE (widget), "PowerOff", _("Could not turn off “%s”"));
}

static void
reset_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  /* Translators: %s is a VM's name */
  call_machine (VIV_VM_PAGE (widget), "Reset", _("Could not reset “%s”"));
}

static void
delete_response_cb (VivVmPage        *self,
                    const char       *response,
                    AdwMessageDialog *dialog)
{
  GtkCheckButton *remove_disks = GTK_CHECK_BUTTON (adw_message_dialog_get_extra_child (dialog));
  g_autoptr(GError) error = NULL;
  const char *name = viv_vm_item_get_name (self->item);

  if (!g_str_equal (response, "delete"))
    return;

  if (!viv_library_undefine (self->library, name, gtk_check_button_get_active (remove_disks),
                             NULL, &error))
    {
      /* Translators: %s is a VM's name */
      g_autofree char *what = g_strdup_printf (_("Could not delete “%s”"), name);

      show_error (self, what, error);
    }
}

static void
delete_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  VivVmPage *self = VIV_VM_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *dialog;
  GtkWidget *remove_disks;

  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, NULL, NULL);
  /* Translators: %s is a VM's name */
  adw_message_dialog_format_heading (ADW_MESSAGE_DIALOG (dialog), _("Delete “%s”?"),
                                     viv_vm_item_get_name (self->item));
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (dialog),
                               _("The virtual machine’s definition is removed from the library. This cannot be undone."));
  remove_disks = gtk_check_button_new_with_mnemonic (_("Also delete its _disk images"));
  gtk_widget_set_halign (remove_disks, GTK_ALIGN_CENTER);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), remove_disks);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "delete", _("_Delete"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "delete",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (delete_response_cb),
                           self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
clone_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  VivVmPage *self = VIV_VM_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  VivCloneDialog *dialog = viv_clone_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                 viv_library_get_root (self->library),
                                                 viv_vm_item_get_name (self->item));

  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- Public API --------------------------------------------------------- */

static void
vm_state_changed_cb (VivVmPage *self)
{
  update_state (self);
}

/* A new worker (or none): its console is a new connection. */
static void
vm_machine_changed_cb (VivVmPage *self)
{
  update_state (self);
  update_console (self);
}

static void
viv_vm_page_set_item (VivVmPage *self,
                      VivVmItem *item)
{
  g_assert (self->item == NULL);
  g_assert (VIV_IS_VM_ITEM (item));

  self->item = g_object_ref (item);
  g_signal_connect_object (item, "notify::state", G_CALLBACK (vm_state_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (item, "notify::machine", G_CALLBACK (vm_machine_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (item, "notify::definition", G_CALLBACK (load_details),
                           self, G_CONNECT_SWAPPED);

  setup_graphs (self);
  load_details (self);
  vm_machine_changed_cb (self);
}

GtkWidget *
viv_vm_page_new (VivVmItem  *item,
                 VivLibrary *library)
{
  VivVmPage *self;

  g_return_val_if_fail (VIV_IS_VM_ITEM (item), NULL);
  g_return_val_if_fail (library != NULL, NULL);

  self = g_object_new (VIV_TYPE_VM_PAGE, "item", item, NULL);
  self->library = library;
  return GTK_WIDGET (self);
}

VivVmItem *
viv_vm_page_get_item (VivVmPage *self)
{
  g_return_val_if_fail (VIV_IS_VM_PAGE (self), NULL);
  return self->item;
}

void
viv_vm_page_set_view (VivVmPage  *self,
                      const char *view)
{
  g_return_if_fail (VIV_IS_VM_PAGE (self));
  g_return_if_fail (view != NULL);

  adw_view_stack_set_visible_child_name (self->view_stack, view);
}

const char *
viv_vm_page_get_view (VivVmPage *self)
{
  g_return_val_if_fail (VIV_IS_VM_PAGE (self), NULL);
  return adw_view_stack_get_visible_child_name (self->view_stack);
}

/* ---- GObject ------------------------------------------------------------ */

static void
view_changed_cb (VivVmPage *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VIEW]);
}

static void
viv_vm_page_dispose (GObject *object)
{
  VivVmPage *self = VIV_VM_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), VIV_TYPE_VM_PAGE);
  g_clear_object (&self->item);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (viv_vm_page_parent_class)->dispose (object);
}

static void
viv_vm_page_finalize (GObject *object)
{
  VivVmPage *self = VIV_VM_PAGE (object);

  g_clear_pointer (&self->device_rows, g_ptr_array_unref);

  G_OBJECT_CLASS (viv_vm_page_parent_class)->finalize (object);
}

static void
viv_vm_page_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  VivVmPage *self = VIV_VM_PAGE (object);

  switch (prop_id)
    {
    case PROP_ITEM:
      g_value_set_object (value, self->item);
      break;
    case PROP_VIEW:
      g_value_set_string (value, viv_vm_page_get_view (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_vm_page_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  VivVmPage *self = VIV_VM_PAGE (object);

  switch (prop_id)
    {
    case PROP_ITEM:
      viv_vm_page_set_item (self, g_value_get_object (value));
      break;
    case PROP_VIEW:
      viv_vm_page_set_view (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_vm_page_class_init (VivVmPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = viv_vm_page_dispose;
  object_class->finalize = viv_vm_page_finalize;
  object_class->get_property = viv_vm_page_get_property;
  object_class->set_property = viv_vm_page_set_property;

  properties[PROP_ITEM] =
    g_param_spec_object ("item", NULL, NULL,
                         VIV_TYPE_VM_ITEM,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_VIEW] =
    g_param_spec_string ("view", NULL, NULL,
                         "console",
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/vivarium/Vivarium/vivarium-vm-page.ui");
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, box);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, cmdline_row);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, console_view);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, cpu_graph);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, devices_group);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, disk_graph);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, exits_graph);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, exits_list);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, initrd_row);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, kernel_row);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, os_row);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, memory_graph);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, memory_spin);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, name_label);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, network_graph);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, pause_button);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, resume_button);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, start_button);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, state_label);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, vcpus_spin);
  gtk_widget_class_bind_template_child (widget_class, VivVmPage, view_stack);
  gtk_widget_class_bind_template_callback (widget_class, details_changed_cb);

  gtk_widget_class_install_action (widget_class, "vm.start", NULL, start_action);
  gtk_widget_class_install_action (widget_class, "vm.pause", NULL, pause_action);
  gtk_widget_class_install_action (widget_class, "vm.resume", NULL, resume_action);
  gtk_widget_class_install_action (widget_class, "vm.shutdown", NULL, shutdown_action);
  gtk_widget_class_install_action (widget_class, "vm.force-off", NULL, force_off_action);
  gtk_widget_class_install_action (widget_class, "vm.reset", NULL, reset_action);
  gtk_widget_class_install_action (widget_class, "vm.delete", NULL, delete_action);
  gtk_widget_class_install_action (widget_class, "vm.clone", NULL, clone_action);
  gtk_widget_class_install_action (widget_class, "vm.apply", NULL, apply_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "vivvmpage");

  g_type_ensure (VIV_TYPE_CONSOLE_VIEW);
  g_type_ensure (VIV_TYPE_GRAPH);
}

static void
viv_vm_page_init (VivVmPage *self)
{
  self->cancellable = g_cancellable_new ();
  self->device_rows = g_ptr_array_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect_object (self->view_stack, "notify::visible-child-name",
                           G_CALLBACK (view_changed_cb), self, G_CONNECT_SWAPPED);
  build_graph_series (self);
}
