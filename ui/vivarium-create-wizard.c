#define G_LOG_DOMAIN "vivarium-create-wizard"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "block/qcow2.h"
#include "os-detect.h"
#include "size.h"
#include "vm-create.h"
#include "vivarium-create-wizard.h"

/* The disk page's choices, in the order of disk_kind_row's model. */
typedef enum {
  DISK_NONE,
  DISK_NEW,
  DISK_EXISTING,
  DISK_LINKED_CLONE,
} DiskKind;

/* The network page's choices, in the order of net_kind_row's model. */
typedef enum {
  NET_USER,
  NET_TAP,
  NET_NONE,
} NetKind;

/* Linux's IFNAMSIZ less the terminating NUL. */
#define TAP_NAME_MAX 15

#define MIB (1024 * 1024)
#define GIB (1024 * MIB)

struct _VivCreateWizard
{
  AdwWindow             parent_instance;

  /* Template widgets */
  AdwToastOverlay      *toast_overlay;
  AdwWindowTitle       *window_title;
  GtkButton            *next_button;
  GtkSpinner           *spinner;
  GtkStack             *stack;
  AdwEntryRow          *kernel_row;
  AdwEntryRow          *initrd_row;
  AdwEntryRow          *cmdline_row;
  AdwEntryRow          *media_row;
  GtkLabel             *media_status;
  AdwComboRow          *os_row;
  GtkLabel             *boot_error;
  AdwEntryRow          *name_row;
  GtkLabel             *name_error;
  GtkAdjustment        *vcpus_adjustment;
  GtkAdjustment        *memory_adjustment;
  AdwComboRow          *disk_kind_row;
  AdwEntryRow          *disk_size_row;
  AdwEntryRow          *disk_path_row;
  GtkLabel             *disk_error;
  AdwComboRow          *net_kind_row;
  AdwEntryRow          *forwards_row;
  AdwEntryRow          *tap_row;
  GtkLabel             *net_error;
  GtkLabel             *summary_label;
  GtkLabel             *create_error;

  /* Owned */
  char                 *library_root;
  GSettings            *settings;
  GtkFileChooserNative *file_chooser;
  gboolean              busy;

  /* The installation media's OS is being detected while detect_cancellable
   * is set. */
  GCancellable         *detect_cancellable;
  /* The OSes in os_row after "Unknown / other" (VivOsInfo), and whether
   * the one chosen there came from the media (a new file replaces it). */
  GPtrArray            *oses;
  gboolean              os_from_media;
  /* What the user set is not replaced by the OS's suggestions. */
  gboolean              prefilling;
  gboolean              vcpus_edited;
  gboolean              memory_edited;
  gboolean              disk_kind_edited;
  gboolean              disk_size_edited;
};

G_DEFINE_FINAL_TYPE (VivCreateWizard, viv_create_wizard, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_LIBRARY_ROOT,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CREATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* What the assistant hands to viv_library_create_vm(), owned. */
typedef struct {
  char      *library_root;
  char      *name;
  char      *kernel;
  char      *initrd;
  char      *cmdline;
  char      *image_dir;
  char      *media;
  char      *os_id;
  guint64    memory_bytes;
  guint      n_cpus;
  GPtrArray *disks;   /* NULL-terminated --disk specs */
  GPtrArray *nets;    /* NULL-terminated --net specs */
} CreateJob;

static void
create_job_free (CreateJob *job)
{
  g_free (job->library_root);
  g_free (job->name);
  g_free (job->kernel);
  g_free (job->initrd);
  g_free (job->cmdline);
  g_free (job->image_dir);
  g_free (job->media);
  g_free (job->os_id);
  g_ptr_array_unref (job->disks);
  g_ptr_array_unref (job->nets);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CreateJob, create_job_free)

VivCreateWizard *
viv_create_wizard_new (GtkWindow  *transient_for,
                       const char *library_root)
{
  g_return_val_if_fail (!transient_for || GTK_IS_WINDOW (transient_for), NULL);

  return g_object_new (VIV_TYPE_CREATE_WIZARD,
                       "transient-for", transient_for,
                       "library-root", library_root,
                       NULL);
}

gboolean
viv_create_wizard_get_busy (VivCreateWizard *self)
{
  g_return_val_if_fail (VIV_IS_CREATE_WIZARD (self), FALSE);

  return self->busy;
}

static void
show_message (GtkLabel   *label,
              const char *message)
{
  gtk_label_set_text (label, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (label), message != NULL);
}

static char *
entry_text (AdwEntryRow *row)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
}

/* What os_row says, or NULL for "Unknown / other". */
static const VivOsInfo *
selected_os (VivCreateWizard *self)
{
  guint selected = adw_combo_row_get_selected (self->os_row);

  if (self->oses == NULL || selected == 0 || selected == GTK_INVALID_LIST_POSITION || selected > self->oses->len)
    return NULL;
  return g_ptr_array_index (self->oses, selected - 1);
}

/* Doubles commas, as --disk paths are written. */
static char *
escape_commas (const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ",", -1);

  return g_strjoinv (",,", parts);
}

/* ---- Checking each page ---------------------------------------------- */

static char *
check_boot (VivCreateWizard *self)
{
  g_autofree char *kernel = entry_text (self->kernel_row);
  g_autofree char *initrd = entry_text (self->initrd_row);
  g_autofree char *media = entry_text (self->media_row);

  if (kernel[0] == '\0')
    return g_strdup (_("Choose the kernel to boot: a bzImage or a PVH ELF file."));
  if (!g_file_test (kernel, G_FILE_TEST_IS_REGULAR))
    return g_strdup_printf (_("The kernel “%s” is not a file: choose an existing one."), kernel);
  if (initrd[0] != '\0' && !g_file_test (initrd, G_FILE_TEST_IS_REGULAR))
    return g_strdup_printf (_("The initial RAM disk “%s” is not a file: choose an existing one or leave it empty."), initrd);
  if (media[0] != '\0' && !g_file_test (media, G_FILE_TEST_IS_REGULAR))
    return g_strdup_printf (_("The installation media “%s” is not a file: choose an existing ISO image or leave it empty."), media);
  return NULL;
}

char *
viv_check_new_vm_name (const char *library_root,
                       const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VivLibrary) library = NULL;

  if (name[0] == '\0')
    return g_strdup (_("Give the virtual machine a name."));
  if (!viv_vm_name_is_valid (name, &error))
    return g_strdup_printf (_("This name cannot be used: %s."), error->message);

  library = viv_library_open (library_root, &error);
  if (library == NULL)
    return g_strdup_printf (_("The library cannot be read: %s."), error->message);
  if (viv_library_contains (library, name))
    return g_strdup_printf (_("A virtual machine named “%s” already exists: choose another name."), name);
  return NULL;
}

static char *
check_name (VivCreateWizard *self)
{
  g_autofree char *name = entry_text (self->name_row);
  return viv_check_new_vm_name (self->library_root, name);
}

/* Each check_* returns why its page cannot be left, or NULL; when it can, it
 * adds the page's spec to `specs` and a line for the summary to `summary`
 * (either may be NULL). */
static void
add_summary_line (GString    *summary,
                  const char *format,
                  ...) G_GNUC_PRINTF (2, 3);

static void
add_summary_line (GString    *summary,
                  const char *format,
                  ...)
{
  va_list args;

  if (summary == NULL)
    return;
  g_string_append_c (summary, '\n');
  va_start (args, format);
  g_string_append_vprintf (summary, format, args);
  va_end (args);
}

static char *
check_disk (VivCreateWizard *self,
            GPtrArray       *disks,
            GString         *summary)
{
  DiskKind kind = adw_combo_row_get_selected (self->disk_kind_row);
  g_autofree char *size_text = entry_text (self->disk_size_row);
  g_autofree char *path = entry_text (self->disk_path_row);
  g_autofree char *escaped = NULL;
  guint64 size = 0;

  switch (kind)
    {
    case DISK_NEW:
      if (!viv_parse_size (size_text, &size, NULL) || size == 0 || size % 512 != 0)
        return g_strdup_printf (_("“%s” is not a disk size: use a whole number with a unit, such as 8G or 512M."), size_text);
      if (disks != NULL)
        g_ptr_array_add (disks, g_strdup_printf ("size=%" G_GUINT64_FORMAT ",format=qcow2", size));
      if (summary != NULL)
        {
          g_autofree char *size_label = g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);
          add_summary_line (summary, _("Disk: a new %s qcow2 image, thin-provisioned"), size_label);
        }
      return NULL;

    case DISK_EXISTING:
    case DISK_LINKED_CLONE:
      if (path[0] == '\0')
        return g_strdup (_("Choose the disk image."));
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_strdup_printf (_("The disk image “%s” is not a file: choose an existing one."), path);
      add_summary_line (summary, kind == DISK_LINKED_CLONE ? _("Disk: a linked clone of %s, which stays unchanged")
                                                           : _("Disk: %s"), path);
      if (disks == NULL)
        return NULL;
      escaped = escape_commas (path);
      if (kind == DISK_LINKED_CLONE)
        g_ptr_array_add (disks, g_strconcat ("backing=", escaped, NULL));
      else
        g_ptr_array_add (disks, g_strconcat (escaped, viv_qcow2_has_magic (path) ? ",format=qcow2" : "", NULL));
      return NULL;

    case DISK_NONE:
    default:
      add_summary_line (summary, "%s", _("No disk"));
      return NULL;
    }
}

static gboolean
parse_port (const char *text,
            guint      *port)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL))
    return FALSE;
  *port = value;
  return TRUE;
}

static char *
check_network (VivCreateWizard *self,
               GPtrArray       *nets,
               GString         *summary)
{
  NetKind kind = adw_combo_row_get_selected (self->net_kind_row);
  g_autofree char *forwards = entry_text (self->forwards_row);
  g_autofree char *tap = entry_text (self->tap_row);
  g_auto (GStrv) pairs = NULL;
  g_autoptr (GString) spec = NULL;

  switch (kind)
    {
    case NET_USER:
      spec = g_string_new ("user");
      add_summary_line (summary, "%s", _("Network: user-mode NAT"));
      pairs = g_strsplit_set (forwards, " ,", -1);
      for (guint i = 0; pairs[i] != NULL; i++)
        {
          g_auto (GStrv) ports = NULL;
          guint host, guest;

          if (pairs[i][0] == '\0')
            continue;
          ports = g_strsplit (pairs[i], ":", -1);
          if (g_strv_length (ports) != 2 || !parse_port (ports[0], &host) || !parse_port (ports[1], &guest))
            return g_strdup_printf (_("“%s” is not a port forward: write the host port, a colon and the guest port, such as 2222:22 (ports 1 to 65535)."), pairs[i]);
          g_string_append_printf (spec, ",hostfwd=tcp:127.0.0.1:%u-:%u", host, guest);
          add_summary_line (summary, _("Port forward: host 127.0.0.1:%u to guest port %u"), host, guest);
        }
      break;

    case NET_TAP:
      if (tap[0] == '\0')
        return g_strdup (_("Give the name of the TAP interface, such as tap0."));
      if (strlen (tap) > TAP_NAME_MAX || strpbrk (tap, ",/ ") != NULL)
        return g_strdup_printf (_("“%s” is not an interface name: at most 15 characters, without commas, slashes or spaces."), tap);
      spec = g_string_new (NULL);
      g_string_append_printf (spec, "tap,ifname=%s", tap);
      add_summary_line (summary, _("Network: the TAP interface %s"), tap);
      break;

    case NET_NONE:
    default:
      add_summary_line (summary, "%s", _("No network"));
      return NULL;
    }

  if (nets != NULL)
    g_ptr_array_add (nets, g_string_free (g_steal_pointer (&spec), FALSE));
  return NULL;
}

/* Checks the page `name` and shows why it cannot be left, if so. */
static gboolean
check_page (VivCreateWizard *self,
            const char      *name)
{
  g_autofree char *message = NULL;
  GtkLabel *label = NULL;

  if (g_str_equal (name, "boot"))
    message = check_boot (self), label = self->boot_error;
  else if (g_str_equal (name, "name"))
    message = check_name (self), label = self->name_error;
  else if (g_str_equal (name, "disk"))
    message = check_disk (self, NULL, NULL), label = self->disk_error;
  else if (g_str_equal (name, "network"))
    message = check_network (self, NULL, NULL), label = self->net_error;

  if (label != NULL)
    show_message (label, message);
  return message == NULL;
}

/* The choices as options for viv_library_create_vm(); NULL when a page
 * has something wrong (check_page says what). */
static CreateJob *
collect_job (VivCreateWizard *self)
{
  g_autoptr (CreateJob) job = g_new0 (CreateJob, 1);
  g_autofree char *disk_message = NULL;
  g_autofree char *net_message = NULL;

  job->disks = g_ptr_array_new_with_free_func (g_free);
  job->nets = g_ptr_array_new_with_free_func (g_free);
  disk_message = check_disk (self, job->disks, NULL);
  net_message = check_network (self, job->nets, NULL);
  if (disk_message != NULL || net_message != NULL)
    return NULL;
  g_ptr_array_add (job->disks, NULL);
  g_ptr_array_add (job->nets, NULL);

  job->library_root = g_strdup (self->library_root);
  job->name = entry_text (self->name_row);
  job->kernel = entry_text (self->kernel_row);
  job->initrd = entry_text (self->initrd_row);
  job->cmdline = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->cmdline_row)));
  job->media = entry_text (self->media_row);
  job->os_id = g_strdup (selected_os (self) ? selected_os (self)->id : NULL);
  job->image_dir = g_settings_get_string (self->settings, "storage-folder");
  job->n_cpus = gtk_adjustment_get_value (self->vcpus_adjustment);
  job->memory_bytes = (guint64) gtk_adjustment_get_value (self->memory_adjustment) * 1024 * 1024;
  return g_steal_pointer (&job);
}

static void
create_job_to_options (const CreateJob         *job,
                       VivLibraryCreateOptions *options)
{
  *options = (VivLibraryCreateOptions) {
    .name = job->name,
    .kernel = job->kernel,
    .initrd = job->initrd,
    .cmdline = job->cmdline,
    .memory_bytes = job->memory_bytes,
    .n_cpus = job->n_cpus,
    .disks = (char * const *) job->disks->pdata,
    .nets = (char * const *) job->nets->pdata,
    .image_dir = job->image_dir,
    .media = job->media[0] != '\0' ? job->media : NULL,
    .os_id = job->os_id,
  };
}

/* ---- Pages ------------------------------------------------------------- */

static void
update_summary (VivCreateWizard *self)
{
  g_autoptr (CreateJob) job = collect_job (self);
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree char *memory = NULL;

  if (job == NULL)
    return;

  memory = g_format_size_full (job->memory_bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_string_append_printf (text, _("Name: %s"), job->name);
  g_string_append_c (text, '\n');
  g_string_append_printf (text, _("Kernel: %s"), job->kernel);
  g_string_append_c (text, '\n');
  if (job->initrd[0] != '\0')
    {
      g_string_append_printf (text, _("Initial RAM disk: %s"), job->initrd);
      g_string_append_c (text, '\n');
    }
  if (job->cmdline[0] != '\0')
    {
      g_string_append_printf (text, _("Command line: %s"), job->cmdline);
      g_string_append_c (text, '\n');
    }
  if (job->media[0] != '\0')
    {
      g_string_append_printf (text, _("Installation media: %s"), job->media);
      g_string_append_c (text, '\n');
    }
  if (selected_os (self) != NULL)
    {
      g_autofree char *os_name = viv_os_info_describe (selected_os (self));

      g_string_append_printf (text, _("Operating system: %s"), os_name);
      g_string_append_c (text, '\n');
    }
  g_string_append_printf (text, ngettext ("%u virtual CPU, %s of memory", "%u virtual CPUs, %s of memory", job->n_cpus),
                          job->n_cpus, memory);
  g_free (check_disk (self, NULL, text));
  g_free (check_network (self, NULL, text));
  gtk_label_set_text (self->summary_label, text->str);
}

static gboolean
on_last_page (VivCreateWizard *self)
{
  return g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "summary") == 0;
}

static gboolean
on_first_page (VivCreateWizard *self)
{
  return g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "boot") == 0;
}

static void
update_actions (VivCreateWizard *self)
{
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "wizard.back", !self->busy && !on_first_page (self));
  /* Next waits for the media's OS: it may change the next pages. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "wizard.next", !self->busy && self->detect_cancellable == NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "wizard.choose-file", !self->busy);
}

static void
stack_page_changed_cb (VivCreateWizard *self)
{
  GtkStackPage *page = gtk_stack_get_page (self->stack, gtk_stack_get_visible_child (self->stack));

  adw_window_title_set_subtitle (self->window_title, gtk_stack_page_get_title (page));
  gtk_button_set_label (self->next_button, on_last_page (self) ? _("_Create") : _("_Next"));
  if (on_last_page (self))
    update_summary (self);
  update_actions (self);
}

static void
name_changed_cb (VivCreateWizard *self)
{
  /* Says why as the user types, once a message is showing. */
  if (gtk_widget_get_visible (GTK_WIDGET (self->name_error)))
    check_page (self, "name");
}

static void
disk_kind_changed_cb (VivCreateWizard *self)
{
  DiskKind kind = adw_combo_row_get_selected (self->disk_kind_row);

  gtk_widget_set_visible (GTK_WIDGET (self->disk_size_row), kind == DISK_NEW);
  gtk_widget_set_visible (GTK_WIDGET (self->disk_path_row), kind == DISK_EXISTING || kind == DISK_LINKED_CLONE);
  show_message (self->disk_error, NULL);
}

static void
net_kind_changed_cb (VivCreateWizard *self)
{
  NetKind kind = adw_combo_row_get_selected (self->net_kind_row);

  gtk_widget_set_visible (GTK_WIDGET (self->forwards_row), kind == NET_USER);
  gtk_widget_set_visible (GTK_WIDGET (self->tap_row), kind == NET_TAP);
  show_message (self->net_error, NULL);
}

static void
back_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  VivCreateWizard *self = VIV_CREATE_WIZARD (widget);
  GtkWidget *child = gtk_stack_get_visible_child (self->stack);
  GtkWidget *previous = gtk_widget_get_prev_sibling (child);

  if (previous != NULL)
    gtk_stack_set_visible_child (self->stack, previous);
}

/* ---- Installation media ------------------------------------------------ */

static void
show_media_status (VivCreateWizard *self,
                   const char      *message,
                   gboolean         is_error)
{
  show_message (self->media_status, message);
  if (is_error)
    gtk_widget_add_css_class (GTK_WIDGET (self->media_status), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->media_status), "error");
}

/* 20G, 1536M: as the disk size row takes sizes. */
static char *
format_disk_size (guint64 bytes)
{
  if (bytes % GIB == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "G", bytes / GIB);
  return g_strdup_printf ("%" G_GUINT64_FORMAT "M", (bytes + MIB - 1) / MIB);
}

/* The OS's suggested processors, memory and disk, where the user has not
 * set them already. */
static void
prefill_resources (VivCreateWizard *self,
                   const VivOsInfo *os)
{
  unsigned n_cpus = viv_os_info_suggested_cpus (os);
  guint64 memory = viv_os_info_suggested_memory (os);
  guint64 storage = viv_os_info_suggested_storage (os);

  self->prefilling = TRUE;
  if (n_cpus > 0 && !self->vcpus_edited)
    gtk_adjustment_set_value (self->vcpus_adjustment, n_cpus);
  if (memory >= MIB && !self->memory_edited)
    gtk_adjustment_set_value (self->memory_adjustment, memory / MIB);
  if (storage > 0 && !self->disk_size_edited)
    {
      g_autofree char *size = format_disk_size (storage);

      gtk_editable_set_text (GTK_EDITABLE (self->disk_size_row), size);
    }
  /* An installer needs a disk to install to. */
  if (storage > 0 && !self->disk_kind_edited)
    adw_combo_row_set_selected (self->disk_kind_row, DISK_NEW);
  self->prefilling = FALSE;
}

/* ---- Operating system ------------------------------------------------ */

/* os_row's choices: "Unknown / other", then the x86_64 OSes still supported
 * today (the list of every OS ever made would be too long to choose from). */
static void
load_os_choices (VivCreateWizard *self)
{
  g_autoptr (GDateTime) today = g_date_time_new_now_local ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GtkStringList) names = gtk_string_list_new (NULL);

  self->oses = viv_os_list (today, &error);
  if (self->oses == NULL)
    {
      g_debug ("%s", error->message);
      self->oses = g_ptr_array_new_with_free_func ((GDestroyNotify) viv_os_info_free);
    }
  gtk_string_list_append (names, _("Unknown / other"));
  for (guint i = 0; i < self->oses->len; i++)
    {
      g_autofree char *name = viv_os_info_describe (g_ptr_array_index (self->oses, i));

      gtk_string_list_append (names, name);
    }
  adw_combo_row_set_model (self->os_row, G_LIST_MODEL (names));
}

/* os_row's position of `os`, which it takes; added at the end when the
 * list does not have it (an OS at its end of life, say). */
static guint
os_position (VivCreateWizard *self,
             VivOsInfo       *os)
{
  g_autoptr (VivOsInfo) owned = os;
  g_autofree char *name = NULL;

  for (guint i = 0; i < self->oses->len; i++)
    if (g_str_equal (((VivOsInfo *) g_ptr_array_index (self->oses, i))->id, os->id))
      return i + 1;
  name = viv_os_info_describe (os);
  gtk_string_list_append (GTK_STRING_LIST (adw_combo_row_get_model (self->os_row)), name);
  g_ptr_array_add (self->oses, g_steal_pointer (&owned));
  return self->oses->len;
}

static void
os_selected_cb (VivCreateWizard *self)
{
  const VivOsInfo *os = selected_os (self);

  self->os_from_media = FALSE;
  if (os != NULL)
    prefill_resources (self, os);
}

static char *
describe_detection_error (const GError *error,
                          const char   *path)
{
  if (g_error_matches (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_NOT_MEDIA))
    return g_strdup_printf (_("“%s” is not installation media: choose an ISO image, or leave this empty."), path);
  if (g_error_matches (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_UNKNOWN_OS))
    return g_strdup (_("The operating system on this media is not recognised by libosinfo: choose the OS settings by hand."));
  if (g_error_matches (error, VIV_OS_DETECT_ERROR, VIV_OS_DETECT_ERROR_NO_DATABASE))
    return g_strdup (_("No operating system database is installed (the osinfo-db package): choose the OS settings by hand."));
  return g_strdup_printf (_("The media cannot be read: %s"), error->message);
}

static void
detect_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (VivCreateWizard) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VivOsInfo) os = viv_os_detect_media_finish (result, &error);
  g_autofree char *path = NULL;
  g_autofree char *description = NULL;
  g_autoptr (GString) text = NULL;

  /* Another file was chosen meanwhile, or the assistant closed. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->detect_cancellable);
  update_actions (self);

  path = entry_text (self->media_row);
  if (os == NULL)
    {
      g_autofree char *message = describe_detection_error (error, path);

      g_debug ("%s", error->message);
      show_media_status (self, message, TRUE);
      return;
    }

  description = viv_os_info_describe (os);
  text = g_string_new (NULL);
  g_string_append_printf (text, _("Detected: %s"), description);
  if (os->kernel_path != NULL && os->initrd_path != NULL)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (text, _("Its installer’s kernel is %s and initial RAM disk %s on the media: copy them out and choose them above to boot the installer."),
                              os->kernel_path, os->initrd_path);
    }
  else if (os->kernel_path != NULL)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (text, _("Its installer’s kernel is %s on the media: copy it out and choose it above to boot the installer."),
                              os->kernel_path);
    }
  show_media_status (self, text->str, FALSE);
  /* Choosing it pre-fills the resources, as choosing it by hand does. */
  adw_combo_row_set_selected (self->os_row, os_position (self, g_steal_pointer (&os)));
  self->os_from_media = TRUE;
}

static void
stop_detecting (VivCreateWizard *self)
{
  if (self->detect_cancellable == NULL)
    return;
  g_cancellable_cancel (self->detect_cancellable);
  g_clear_object (&self->detect_cancellable);
}

static void
media_changed_cb (VivCreateWizard *self)
{
  g_autofree char *path = entry_text (self->media_row);

  stop_detecting (self);
  if (self->os_from_media)
    adw_combo_row_set_selected (self->os_row, 0);
  /* A path being typed: Next says what is wrong with it. */
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    show_media_status (self, NULL, FALSE);
  else
    {
      show_media_status (self, _("Detecting the operating system…"), FALSE);
      self->detect_cancellable = g_cancellable_new ();
      viv_os_detect_media_async (path, self->detect_cancellable, detect_done_cb, g_object_ref (self));
    }
  update_actions (self);
}

static void
vcpus_edited_cb (VivCreateWizard *self)
{
  self->vcpus_edited |= !self->prefilling;
}

static void
memory_edited_cb (VivCreateWizard *self)
{
  self->memory_edited |= !self->prefilling;
}

static void
disk_kind_edited_cb (VivCreateWizard *self)
{
  self->disk_kind_edited |= !self->prefilling;
}

static void
disk_size_edited_cb (VivCreateWizard *self)
{
  self->disk_size_edited |= !self->prefilling;
}

/* ---- Creating ---------------------------------------------------------- */

static void
set_busy (VivCreateWizard *self,
          gboolean         busy)
{
  self->busy = busy;
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), busy);
  gtk_spinner_set_spinning (self->spinner, busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->stack), !busy);
  update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
create_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  const CreateJob *job = task_data;
  VivLibraryCreateOptions options;
  g_autoptr (VivLibrary) library = NULL;
  g_autoptr (VivVmDefinition) def = NULL;
  GError *error = NULL;

  library = viv_library_open (job->library_root, &error);
  if (library == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  create_job_to_options (job, &options);
  def = viv_library_create_vm (library, &options, &error);
  if (def == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_strdup (def->name), g_free);
}

static void
create_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  VivCreateWizard *self = VIV_CREATE_WIZARD (source);
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_task_propagate_pointer (G_TASK (result), &error);

  set_busy (self, FALSE);
  if (name == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("The virtual machine could not be created: %s"), error->message);

      show_message (self->create_error, message);
      adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (_("The virtual machine could not be created")));
      return;
    }
  g_signal_emit (self, signals[SIGNAL_CREATED], 0, name);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
create_vm (VivCreateWizard *self)
{
  g_autoptr (GTask) task = NULL;
  CreateJob *job;

  /* Everything again: files can have gone, names been taken meanwhile. */
  for (const char *const *page = (const char *const[]) { "boot", "name", "disk", "network", NULL }; *page; page++)
    if (!check_page (self, *page))
      {
        gtk_stack_set_visible_child_name (self->stack, *page);
        return;
      }
  job = collect_job (self);
  g_return_if_fail (job != NULL);

  show_message (self->create_error, NULL);
  set_busy (self, TRUE);
  task = g_task_new (self, NULL, create_done_cb, NULL);
  g_task_set_source_tag (task, create_vm);
  g_task_set_task_data (task, job, (GDestroyNotify) create_job_free);
  g_task_run_in_thread (task, create_thread);
}

static void
next_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  VivCreateWizard *self = VIV_CREATE_WIZARD (widget);
  GtkWidget *child = gtk_stack_get_visible_child (self->stack);
  GtkWidget *next;

  if (on_last_page (self))
    {
      create_vm (self);
      return;
    }
  if (!check_page (self, gtk_stack_get_visible_child_name (self->stack)))
    return;
  next = gtk_widget_get_next_sibling (child);
  if (next != NULL)
    gtk_stack_set_visible_child (self->stack, next);
}

/* ---- Choosing files ---------------------------------------------------- */

static void
file_chooser_response_cb (VivCreateWizard      *self,
                          int                   response,
                          GtkFileChooserNative *chooser)
{
  AdwEntryRow *row = g_object_get_data (G_OBJECT (chooser), "viv-row");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;

      if (path != NULL)
        gtk_editable_set_text (GTK_EDITABLE (row), path);
    }
  g_clear_object (&self->file_chooser);
}

static void
choose_file_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  VivCreateWizard *self = VIV_CREATE_WIZARD (widget);
  const char *which = g_variant_get_string (parameter, NULL);
  AdwEntryRow *row;
  const char *title;

  if (self->file_chooser != NULL)
    return;

  if (g_str_equal (which, "kernel"))
    row = self->kernel_row, title = _("Choose the Kernel");
  else if (g_str_equal (which, "initrd"))
    row = self->initrd_row, title = _("Choose the Initial RAM Disk");
  else if (g_str_equal (which, "media"))
    row = self->media_row, title = _("Choose the Installation Media");
  else
    row = self->disk_path_row, title = _("Choose the Disk Image");

  self->file_chooser = gtk_file_chooser_native_new (title, GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_OPEN,
                                                    _("_Select"), _("_Cancel"));
  g_object_set_data (G_OBJECT (self->file_chooser), "viv-row", row);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->file_chooser), TRUE);
  g_signal_connect_object (self->file_chooser, "response",
                           G_CALLBACK (file_chooser_response_cb), self,
                           G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->file_chooser));
}

/* ---- GObject ----------------------------------------------------------- */

static void
viv_create_wizard_dispose (GObject *object)
{
  VivCreateWizard *self = VIV_CREATE_WIZARD (object);

  if (self->file_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->file_chooser));
  g_clear_object (&self->file_chooser);
  stop_detecting (self);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->oses, g_ptr_array_unref);

  G_OBJECT_CLASS (viv_create_wizard_parent_class)->dispose (object);
}

static void
viv_create_wizard_finalize (GObject *object)
{
  VivCreateWizard *self = VIV_CREATE_WIZARD (object);

  g_free (self->library_root);

  G_OBJECT_CLASS (viv_create_wizard_parent_class)->finalize (object);
}

static void
viv_create_wizard_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  VivCreateWizard *self = VIV_CREATE_WIZARD (object);

  switch (prop_id)
    {
    case PROP_LIBRARY_ROOT:
      g_value_set_string (value, self->library_root);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_create_wizard_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  VivCreateWizard *self = VIV_CREATE_WIZARD (object);

  switch (prop_id)
    {
    case PROP_LIBRARY_ROOT:
      self->library_root = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_create_wizard_class_init (VivCreateWizardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = viv_create_wizard_dispose;
  object_class->finalize = viv_create_wizard_finalize;
  object_class->get_property = viv_create_wizard_get_property;
  object_class->set_property = viv_create_wizard_set_property;

  properties[PROP_LIBRARY_ROOT] =
    g_param_spec_string ("library-root", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The new VM's name, once it is in the library. */
  signals[SIGNAL_CREATED] =
    g_signal_new ("created",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/vivarium/Vivarium/vivarium-create-wizard.ui");
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, boot_error);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, cmdline_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, create_error);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, disk_error);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, disk_kind_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, disk_path_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, disk_size_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, forwards_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, initrd_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, kernel_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, media_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, media_status);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, memory_adjustment);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, name_error);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, name_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, net_error);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, net_kind_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, next_button);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, os_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, spinner);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, stack);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, summary_label);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, tap_row);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, vcpus_adjustment);
  gtk_widget_class_bind_template_child (widget_class, VivCreateWizard, window_title);
  gtk_widget_class_bind_template_callback (widget_class, disk_kind_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, media_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, name_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, net_kind_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, os_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, stack_page_changed_cb);

  gtk_widget_class_install_action (widget_class, "wizard.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "wizard.next", NULL, next_action);
  gtk_widget_class_install_action (widget_class, "wizard.choose-file", "s", choose_file_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
viv_create_wizard_init (VivCreateWizard *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  load_os_choices (self);

  self->settings = g_settings_new (APPLICATION_ID);
  gtk_adjustment_set_value (self->vcpus_adjustment, g_settings_get_uint (self->settings, "default-vcpus"));
  gtk_adjustment_set_value (self->memory_adjustment, g_settings_get_uint (self->settings, "default-memory-mib"));

  disk_kind_changed_cb (self);
  net_kind_changed_cb (self);
  stack_page_changed_cb (self);

  /* From here on, changes are the user's. */
  g_signal_connect_swapped (self->vcpus_adjustment, "value-changed", G_CALLBACK (vcpus_edited_cb), self);
  g_signal_connect_swapped (self->memory_adjustment, "value-changed", G_CALLBACK (memory_edited_cb), self);
  g_signal_connect_swapped (self->disk_kind_row, "notify::selected", G_CALLBACK (disk_kind_edited_cb), self);
  g_signal_connect_swapped (self->disk_size_row, "changed", G_CALLBACK (disk_size_edited_cb), self);
}
