#define G_LOG_DOMAIN "vivarium-clone-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "vm-clone.h"
#include "vivarium-clone-dialog.h"
#include "vivarium-create-wizard.h"

/* The mode row's choices, in the order of its model. */
enum {
  MODE_FULL,
  MODE_LINKED,
};

struct _VivCloneDialog
{
  AdwWindow       parent_instance;

  /* Template widgets */
  AdwPreferencesGroup *group;
  AdwEntryRow    *name_row;
  AdwComboRow    *mode_row;
  GtkLabel       *error_label;
  GtkProgressBar *progress_bar;

  /* Owned */
  char           *library_root;
  char           *source;
  gboolean        busy;
  GCancellable   *cancellable;     /* while busy */
  gboolean        close_when_done; /* closed while busy: the clone is being cancelled */
};

G_DEFINE_FINAL_TYPE (VivCloneDialog, viv_clone_dialog, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_LIBRARY_ROOT,
  PROP_SOURCE,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CLONED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* What the thread needs, owned. */
typedef struct {
  char           *library_root;
  char           *source;
  char           *name;
  gboolean        linked;
  VivCloneDialog *dialog;   /* a reference: progress goes back to it */
  GMainContext   *context;  /* the dialog's */
} CloneJob;

static void
clone_job_free (CloneJob *job)
{
  g_free (job->library_root);
  g_free (job->source);
  g_free (job->name);
  g_clear_object (&job->dialog);
  g_main_context_unref (job->context);
  g_free (job);
}

VivCloneDialog *
viv_clone_dialog_new (GtkWindow  *transient_for,
                      const char *library_root,
                      const char *source)
{
  g_return_val_if_fail (!transient_for || GTK_IS_WINDOW (transient_for), NULL);
  g_return_val_if_fail (source != NULL, NULL);

  return g_object_new (VIV_TYPE_CLONE_DIALOG,
                       "transient-for", transient_for,
                       "library-root", library_root,
                       "source", source,
                       NULL);
}

gboolean
viv_clone_dialog_get_busy (VivCloneDialog *self)
{
  g_return_val_if_fail (VIV_IS_CLONE_DIALOG (self), FALSE);

  return self->busy;
}

static void
show_error (VivCloneDialog *self,
            const char     *message)
{
  gtk_label_set_text (self->error_label, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

static void
set_busy (VivCloneDialog *self,
          gboolean        busy,
          gboolean        linked)
{
  self->busy = busy;
  gtk_widget_set_sensitive (GTK_WIDGET (self->group), !busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "clone.clone", !busy);
  /* A linked clone is made at once: nothing to show progress of. */
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), busy && !linked);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, "");
  g_clear_object (&self->cancellable);
  if (busy)
    self->cancellable = g_cancellable_new ();
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

typedef struct {
  VivCloneDialog *dialog;
  guint64         done;
  guint64         total;
} Progress;

static gboolean
show_progress_cb (gpointer user_data)
{
  Progress *progress = user_data;
  VivCloneDialog *self = progress->dialog;
  g_autofree char *done = g_format_size_full (progress->done, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *total = g_format_size_full (progress->total, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *text = NULL;

  /* Not busy: a late report of a clone that has ended. */
  if (self->busy)
    {
      /* Nothing to copy (only read-only disks) is done at once. */
      gtk_progress_bar_set_fraction (self->progress_bar,
                                     progress->total > 0 ? (double) progress->done / progress->total : 1.0);
      /* Translators: disk bytes copied so far, of the total, e.g. "1.5 GiB of 8.0 GiB" */
      text = g_strdup_printf (_("%s of %s"), done, total);
      gtk_progress_bar_set_text (self->progress_bar, text);
    }
  g_object_unref (progress->dialog);
  g_free (progress);
  return G_SOURCE_REMOVE;
}

/* In the thread: hands the numbers to the main loop. */
static void
clone_progress (guint64  done,
                guint64  total,
                gpointer user_data)
{
  CloneJob *job = user_data;
  Progress *progress = g_new0 (Progress, 1);

  progress->dialog = g_object_ref (job->dialog);
  progress->done = done;
  progress->total = total;
  g_main_context_invoke (job->context, show_progress_cb, progress);
}

static void
clone_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  CloneJob *job = task_data;
  g_autoptr (VivLibrary) library = NULL;
  g_autoptr (VivVmDefinition) def = NULL;
  GError *error = NULL;

  library = viv_library_open (job->library_root, &error);
  if (library != NULL)
    def = viv_library_clone_vm (library, job->source, job->name, job->linked, clone_progress, job,
                                cancellable, &error);
  if (def == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_strdup (def->name), g_free);
}

static void
clone_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  VivCloneDialog *self = VIV_CLONE_DIALOG (source);
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_task_propagate_pointer (G_TASK (result), &error);

  set_busy (self, FALSE, FALSE);
  if (self->close_when_done)
    {
      /* Cancelled, or finished before the cancel was noticed: either way
       * the user closed the dialog. */
      if (name != NULL)
        g_signal_emit (self, signals[SIGNAL_CLONED], 0, name);
      gtk_window_destroy (GTK_WINDOW (self));
      return;
    }
  if (name == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("The virtual machine could not be cloned: %s"), error->message);

      show_error (self, message);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_CLONED], 0, name);
  gtk_window_destroy (GTK_WINDOW (self));
}

/* Why the name cannot be used, or NULL. */
static void
clone_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  VivCloneDialog *self = VIV_CLONE_DIALOG (widget);
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  g_autofree char *message = viv_check_new_vm_name (self->library_root, name);
  g_autoptr (GTask) task = NULL;
  CloneJob *job;

  show_error (self, message);
  if (message != NULL)
    return;

  job = g_new0 (CloneJob, 1);
  job->library_root = g_strdup (self->library_root);
  job->source = g_strdup (self->source);
  job->name = g_steal_pointer (&name);
  job->linked = adw_combo_row_get_selected (self->mode_row) == MODE_LINKED;
  job->dialog = g_object_ref (self);
  job->context = g_main_context_ref_thread_default ();

  set_busy (self, TRUE, job->linked);
  task = g_task_new (self, self->cancellable, clone_done_cb, NULL);
  g_task_set_source_tag (task, clone_action);
  /* A clone that ended before the cancel was noticed is in the library:
   * its result, not the cancel, is what happened. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, job, (GDestroyNotify) clone_job_free);
  g_task_run_in_thread (task, clone_thread);
}

static void
name_activated_cb (VivCloneDialog *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "clone.clone", NULL);
}

static void
viv_clone_dialog_constructed (GObject *object)
{
  VivCloneDialog *self = VIV_CLONE_DIALOG (object);
  /* Translators: the suggested name of a clone; %s is the original's name */
  g_autofree char *suggested = g_strdup_printf (_("%s-clone"), self->source);
  g_autofree char *title = g_strdup_printf (_("Clone “%s”"), self->source);

  G_OBJECT_CLASS (viv_clone_dialog_parent_class)->constructed (object);

  gtk_editable_set_text (GTK_EDITABLE (self->name_row), suggested);
  adw_preferences_group_set_title (self->group, title);
}

/* Closing (Cancel, Escape) while a full clone is copied cancels it: the
 * dialog stays until the half-made clone is removed, then closes. */
static gboolean
viv_clone_dialog_close_request (GtkWindow *window)
{
  VivCloneDialog *self = VIV_CLONE_DIALOG (window);

  if (!self->busy)
    return GTK_WINDOW_CLASS (viv_clone_dialog_parent_class)->close_request (window);
  self->close_when_done = TRUE;
  g_cancellable_cancel (self->cancellable);
  return TRUE;
}

static void
viv_clone_dialog_dispose (GObject *object)
{
  VivCloneDialog *self = VIV_CLONE_DIALOG (object);

  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (viv_clone_dialog_parent_class)->dispose (object);
}

static void
viv_clone_dialog_finalize (GObject *object)
{
  VivCloneDialog *self = VIV_CLONE_DIALOG (object);

  g_free (self->library_root);
  g_free (self->source);

  G_OBJECT_CLASS (viv_clone_dialog_parent_class)->finalize (object);
}

static void
viv_clone_dialog_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  VivCloneDialog *self = VIV_CLONE_DIALOG (object);

  switch (prop_id)
    {
    case PROP_LIBRARY_ROOT:
      g_value_set_string (value, self->library_root);
      break;
    case PROP_SOURCE:
      g_value_set_string (value, self->source);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_clone_dialog_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  VivCloneDialog *self = VIV_CLONE_DIALOG (object);

  switch (prop_id)
    {
    case PROP_LIBRARY_ROOT:
      self->library_root = g_value_dup_string (value);
      break;
    case PROP_SOURCE:
      self->source = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_clone_dialog_class_init (VivCloneDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = viv_clone_dialog_constructed;
  object_class->dispose = viv_clone_dialog_dispose;
  object_class->finalize = viv_clone_dialog_finalize;
  object_class->get_property = viv_clone_dialog_get_property;
  object_class->set_property = viv_clone_dialog_set_property;

  window_class->close_request = viv_clone_dialog_close_request;

  properties[PROP_LIBRARY_ROOT] =
    g_param_spec_string ("library-root", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_SOURCE] =
    g_param_spec_string ("source", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The clone's name, once it is in the library. */
  signals[SIGNAL_CLONED] =
    g_signal_new ("cloned",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/vivarium/Vivarium/vivarium-clone-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, VivCloneDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, VivCloneDialog, group);
  gtk_widget_class_bind_template_child (widget_class, VivCloneDialog, mode_row);
  gtk_widget_class_bind_template_child (widget_class, VivCloneDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, VivCloneDialog, progress_bar);
  gtk_widget_class_bind_template_callback (widget_class, name_activated_cb);

  gtk_widget_class_install_action (widget_class, "clone.clone", NULL, clone_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
viv_clone_dialog_init (VivCloneDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
