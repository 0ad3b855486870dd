#define G_LOG_DOMAIN "vivarium-vm-row"

#include "config.h"

#include <glib/gi18n.h>

#include "vivarium-graph.h"
#include "vivarium-vm-row.h"

struct _VivVmRow
{
  GtkListBoxRow  parent_instance;

  /* Template widgets */
  GtkImage      *state_image;
  GtkLabel      *name_label;
  GtkLabel      *state_label;
  VivGraph      *sparkline;

  /* Owned */
  VivVmItem     *vm;
};

enum {
  PROP_0,
  PROP_VM,
  N_PROPS
};

G_DEFINE_FINAL_TYPE (VivVmRow, viv_vm_row, GTK_TYPE_LIST_BOX_ROW)

static GParamSpec *properties[N_PROPS];

static const struct {
  const char *state;
  const char *label;
  const char *icon_name;
} vm_states[] = {
  /* Machine1's State values (data/io.github.vivarium.Machine1.xml) and
   * "off": no worker runs the VM. */
  { "off",           N_("Off"),           "system-shutdown-symbolic" },
  { "starting",      N_("Starting"),      "content-loading-symbolic" },
  { "running",       N_("Running"),       "media-playback-start-symbolic" },
  { "paused",        N_("Paused"),        "media-playback-pause-symbolic" },
  { "shutting-down", N_("Shutting down"), "content-loading-symbolic" },
  { "shut-off",      N_("Off"),           "system-shutdown-symbolic" },
  { "crashed",       N_("Crashed"),       "dialog-warning-symbolic" },
};

static guint
vm_state_index (const char *state)
{
  for (guint i = 0; i < G_N_ELEMENTS (vm_states); i++)
    if (g_strcmp0 (state, vm_states[i].state) == 0)
      return i;
  return 0;
}

const char *
viv_vm_state_to_label (const char *state)
{
  return _(vm_states[vm_state_index (state)].label);
}

GtkWidget *
viv_vm_row_new (VivVmItem *vm)
{
  g_return_val_if_fail (VIV_IS_VM_ITEM (vm), NULL);

  return g_object_new (VIV_TYPE_VM_ROW, "vm", vm, NULL);
}

VivVmItem *
viv_vm_row_get_vm (VivVmRow *self)
{
  g_return_val_if_fail (VIV_IS_VM_ROW (self), NULL);

  return self->vm;
}

static void
viv_vm_row_update (VivVmRow *self)
{
  const char *state = viv_vm_item_get_state (self->vm);
  guint i = vm_state_index (state);
  gboolean live = g_str_equal (state, "running") || g_str_equal (state, "paused");
  g_autofree char *accessible = NULL;

  gtk_label_set_label (self->state_label, _(vm_states[i].label));
  gtk_image_set_from_icon_name (self->state_image, vm_states[i].icon_name);
  /* An idle VM has no samples to draw: keep its place, show nothing. */
  gtk_widget_set_opacity (GTK_WIDGET (self->sparkline), live ? 1.0 : 0.0);

  /* Translators: how a screen reader reads a library row: the VM's name, then its state. */
  accessible = g_strdup_printf (_("%s, %s"), viv_vm_item_get_name (self->vm), _(vm_states[i].label));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                  -1);
}

static void
viv_vm_row_constructed (GObject *object)
{
  VivVmRow *self = VIV_VM_ROW (object);

  G_OBJECT_CLASS (viv_vm_row_parent_class)->constructed (object);

  gtk_label_set_label (self->name_label, viv_vm_item_get_name (self->vm));
  viv_graph_set_model (self->sparkline, viv_vm_item_get_stats (self->vm));
  g_signal_connect_object (self->vm, "notify::state",
                           G_CALLBACK (viv_vm_row_update), self,
                           G_CONNECT_SWAPPED);
  viv_vm_row_update (self);
}

static void
viv_vm_row_dispose (GObject *object)
{
  VivVmRow *self = VIV_VM_ROW (object);

  g_clear_object (&self->vm);

  G_OBJECT_CLASS (viv_vm_row_parent_class)->dispose (object);
}

static void
viv_vm_row_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  VivVmRow *self = VIV_VM_ROW (object);

  switch (prop_id)
    {
    case PROP_VM:
      g_value_set_object (value, self->vm);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_vm_row_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  VivVmRow *self = VIV_VM_ROW (object);

  switch (prop_id)
    {
    case PROP_VM:
      self->vm = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_vm_row_class_init (VivVmRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = viv_vm_row_constructed;
  object_class->dispose = viv_vm_row_dispose;
  object_class->get_property = viv_vm_row_get_property;
  object_class->set_property = viv_vm_row_set_property;

  properties[PROP_VM] =
    g_param_spec_object ("vm", NULL, NULL,
                         VIV_TYPE_VM_ITEM,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/vivarium/Vivarium/vivarium-vm-row.ui");
  gtk_widget_class_bind_template_child (widget_class, VivVmRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, VivVmRow, sparkline);
  gtk_widget_class_bind_template_child (widget_class, VivVmRow, state_image);
  gtk_widget_class_bind_template_child (widget_class, VivVmRow, state_label);

  g_type_ensure (VIV_TYPE_GRAPH);
}

static void
viv_vm_row_init (VivVmRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  viv_graph_add_series (self->sparkline, "cpu-total", _("CPU"), "accent");
  viv_graph_set_unit (self->sparkline, VIV_GRAPH_UNIT_PERCENT);
}
