#define G_LOG_DOMAIN "vivarium-vm-item"

#include "vivarium-vm-item.h"

struct _VivVmItem
{
  GObject          parent_instance;

  char            *name;
  VivVmDefinition *definition;
  VivWorkerInfo   *worker;
  VivDBusMachine1 *machine;
  VivStatsModel   *stats;
  GCancellable    *connecting;   /* while a connection to `worker` is being made */
  guint            stats_interval_s;
  gint64           last_sample_us;
};

enum {
  PROP_0,
  PROP_NAME,
  PROP_STATE,
  PROP_MACHINE,
  PROP_DEFINITION,
  N_PROPS
};

enum {
  ERROR,
  N_SIGNALS
};

G_DEFINE_FINAL_TYPE (VivVmItem, viv_vm_item, G_TYPE_OBJECT)

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void viv_vm_item_set_machine (VivVmItem       *self,
                                     VivDBusMachine1 *machine);

VivVmItem *
viv_vm_item_new (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  return g_object_new (VIV_TYPE_VM_ITEM, "name", name, NULL);
}

const char *
viv_vm_item_get_name (VivVmItem *self)
{
  g_return_val_if_fail (VIV_IS_VM_ITEM (self), NULL);

  return self->name;
}

const char *
viv_vm_item_get_state (VivVmItem *self)
{
  const char *state = NULL;

  g_return_val_if_fail (VIV_IS_VM_ITEM (self), NULL);

  if (self->machine != NULL)
    state = viv_dbus_machine1_get_state (self->machine);
  if (state != NULL && *state != '\0')
    return state;
  return self->worker != NULL && self->worker->crashed ? "crashed" : "off";
}

const VivVmDefinition *
viv_vm_item_get_definition (VivVmItem *self)
{
  g_return_val_if_fail (VIV_IS_VM_ITEM (self), NULL);

  return self->definition;
}

void
viv_vm_item_set_definition (VivVmItem       *self,
                            VivVmDefinition *definition)
{
  g_return_if_fail (VIV_IS_VM_ITEM (self));

  if (self->definition == definition)
    return;

  g_clear_pointer (&self->definition, viv_vm_definition_free);
  self->definition = definition;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEFINITION]);
}

VivDBusMachine1 *
viv_vm_item_get_machine (VivVmItem *self)
{
  g_return_val_if_fail (VIV_IS_VM_ITEM (self), NULL);

  return self->machine;
}

static void
machine_state_changed_cb (VivVmItem *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
machine_stats_updated_cb (VivVmItem *self,
                          GVariant  *stats)
{
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_monotonic_time ();

  /* Samples come about a second apart: allow half a second of jitter. */
  if (self->stats_interval_s == 0 ||
      (self->last_sample_us != 0 &&
       now - self->last_sample_us < self->stats_interval_s * G_USEC_PER_SEC - G_USEC_PER_SEC / 2))
    return;

  self->last_sample_us = now;
  if (!viv_stats_model_add_stats (self->stats, stats, &error))
    g_warning ("Statistics of “%s” dropped: %s", self->name, error->message);
}

/* The worker closes its connections when the VM stops. */
static void
machine_connection_closed_cb (VivVmItem *self)
{
  viv_vm_item_set_machine (self, NULL);
}

static void
viv_vm_item_set_machine (VivVmItem       *self,
                         VivDBusMachine1 *machine)
{
  g_assert (VIV_IS_VM_ITEM (self));
  g_assert (!machine || VIV_DBUS_IS_MACHINE1 (machine));

  if (self->machine == machine)
    return;

  if (self->machine != NULL)
    {
      GDBusConnection *old = g_dbus_proxy_get_connection (G_DBUS_PROXY (self->machine));

      g_signal_handlers_disconnect_by_data (self->machine, self);
      g_signal_handlers_disconnect_by_data (old, self);
    }

  g_set_object (&self->machine, machine);

  if (machine != NULL)
    {
      g_signal_connect_object (machine, "notify::state",
                               G_CALLBACK (machine_state_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (machine, "stats-updated",
                               G_CALLBACK (machine_stats_updated_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (g_dbus_proxy_get_connection (G_DBUS_PROXY (machine)), "closed",
                               G_CALLBACK (machine_connection_closed_cb), self,
                               G_CONNECT_SWAPPED);
    }

  self->last_sample_us = 0;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MACHINE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

const VivWorkerInfo *
viv_vm_item_get_worker (VivVmItem *self)
{
  g_return_val_if_fail (VIV_IS_VM_ITEM (self), NULL);

  return self->worker;
}

static VivWorkerInfo *
worker_info_copy (const VivWorkerInfo *info)
{
  VivWorkerInfo *copy = g_new0 (VivWorkerInfo, 1);

  *copy = *info;
  copy->name = g_strdup (info->name);
  copy->uuid = g_strdup (info->uuid);
  copy->dir = g_strdup (info->dir);
  copy->control_address = g_strdup (info->control_address);
  copy->console_path = g_strdup (info->console_path);
  copy->crash_reason = g_strdup (info->crash_reason);
  return copy;
}

/* Runs in a thread: connecting waits for the worker's authentication
 * and property replies.  The proxy is made without a thread-default
 * context, so its signals come to the main context. */
static void
connect_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  const VivWorkerInfo *worker = task_data;
  g_autoptr (GDBusConnection) connection = NULL;
  VivDBusMachine1 *machine;
  GError *error = NULL;

  connection = viv_worker_client_connect (worker, cancellable, &error);
  if (connection == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  machine = viv_worker_client_get_machine (connection, cancellable, &error);
  if (machine == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, machine, g_object_unref);
}

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  VivVmItem *self = VIV_VM_ITEM (object);
  g_autoptr (VivDBusMachine1) machine = NULL;
  g_autoptr (GError) error = NULL;

  machine = g_task_propagate_pointer (G_TASK (result), &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  g_clear_object (&self->connecting);

  if (machine == NULL)
    {
      g_signal_emit (self, signals[ERROR], 0, error);
      return;
    }

  viv_vm_item_set_machine (self, machine);
}

void
viv_vm_item_set_worker (VivVmItem     *self,
                        VivWorkerInfo *worker)
{
  gboolean same_process;
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (VIV_IS_VM_ITEM (self));

  same_process = worker != NULL && self->worker != NULL &&
                 worker->pid == self->worker->pid &&
                 worker->crashed == self->worker->crashed;

  g_clear_pointer (&self->worker, viv_worker_info_free);
  self->worker = worker;

  if (same_process)
    return;

  g_cancellable_cancel (self->connecting);
  g_clear_object (&self->connecting);
  /* A new worker, or none: the old connection is of no use any more. */
  viv_vm_item_set_machine (self, NULL);

  if (worker == NULL || worker->crashed)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
      return;
    }

  self->connecting = g_cancellable_new ();
  task = g_task_new (self, self->connecting, connect_cb, NULL);
  g_task_set_source_tag (task, viv_vm_item_set_worker);
  g_task_set_task_data (task, worker_info_copy (worker), (GDestroyNotify) viv_worker_info_free);
  g_task_run_in_thread (task, connect_thread);
}

VivStatsModel *
viv_vm_item_get_stats (VivVmItem *self)
{
  g_return_val_if_fail (VIV_IS_VM_ITEM (self), NULL);

  return self->stats;
}

void
viv_vm_item_set_stats_interval (VivVmItem *self,
                                guint      seconds)
{
  g_return_if_fail (VIV_IS_VM_ITEM (self));

  self->stats_interval_s = seconds;
}

static void
viv_vm_item_dispose (GObject *object)
{
  VivVmItem *self = VIV_VM_ITEM (object);

  g_cancellable_cancel (self->connecting);
  g_clear_object (&self->connecting);
  if (self->machine != NULL)
    viv_vm_item_set_machine (self, NULL);
  g_clear_object (&self->stats);

  G_OBJECT_CLASS (viv_vm_item_parent_class)->dispose (object);
}

static void
viv_vm_item_finalize (GObject *object)
{
  VivVmItem *self = VIV_VM_ITEM (object);

  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->definition, viv_vm_definition_free);
  g_clear_pointer (&self->worker, viv_worker_info_free);

  G_OBJECT_CLASS (viv_vm_item_parent_class)->finalize (object);
}

static void
viv_vm_item_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  VivVmItem *self = VIV_VM_ITEM (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;

    case PROP_STATE:
      g_value_set_string (value, viv_vm_item_get_state (self));
      break;

    case PROP_MACHINE:
      g_value_set_object (value, self->machine);
      break;

    case PROP_DEFINITION:
      g_value_set_pointer (value, self->definition);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_vm_item_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  VivVmItem *self = VIV_VM_ITEM (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_vm_item_class_init (VivVmItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = viv_vm_item_dispose;
  object_class->finalize = viv_vm_item_finalize;
  object_class->get_property = viv_vm_item_get_property;
  object_class->set_property = viv_vm_item_set_property;

  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_STATE] =
    g_param_spec_string ("state", NULL, NULL,
                         "off",
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_MACHINE] =
    g_param_spec_object ("machine", NULL, NULL,
                         VIV_DBUS_TYPE_MACHINE1,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* A VivVmDefinition*, owned by the VM. */
  properties[PROP_DEFINITION] =
    g_param_spec_pointer ("definition", NULL, NULL,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* VivVmItem::error: a connection to the worker failed; the GError says why. */
  signals[ERROR] =
    g_signal_new ("error",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
viv_vm_item_init (VivVmItem *self)
{
  self->stats = viv_stats_model_new ();
  self->stats_interval_s = 1;
}
