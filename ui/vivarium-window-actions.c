#define G_LOG_DOMAIN "vivarium-window-actions"

#include "config.h"

#include "vivarium-create-wizard.h"
#include "vivarium-window-private.h"

static void
create_wizard_created_cb (VivWindow  *self,
                          const char *name)
{
  viv_window_reload (self);
  viv_window_select_vm (self, name);
}

static void
viv_window_actions_new_vm (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  VivWindow *self = VIV_WINDOW (widget);
  VivCreateWizard *wizard = viv_create_wizard_new (GTK_WINDOW (self),
                                                   self->library ? viv_library_get_root (self->library) : NULL);

  g_signal_connect_object (wizard, "created", G_CALLBACK (create_wizard_created_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (wizard));
}

static void
viv_window_actions_go_back (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  VivWindow *self = VIV_WINDOW (widget);

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* Moves the selection `step` rows up (-1) or down (+1), staying put at
 * either end. */
static void
viv_window_select_step (VivWindow *self,
                        int        step)
{
  GtkListBoxRow *selected = gtk_list_box_get_selected_row (self->vm_list);
  int index = selected ? gtk_list_box_row_get_index (selected) + step : 0;
  GtkListBoxRow *row;

  if (index < 0)
    return;

  row = gtk_list_box_get_row_at_index (self->vm_list, index);
  if (row == NULL)
    return;

  gtk_list_box_select_row (self->vm_list, row);
  gtk_widget_grab_focus (GTK_WIDGET (row));
}

static void
viv_window_actions_select_previous (GtkWidget  *widget,
                                    const char *action_name,
                                    GVariant   *parameter)
{
  viv_window_select_step (VIV_WINDOW (widget), -1);
}

static void
viv_window_actions_select_next (GtkWidget  *widget,
                                const char *action_name,
                                GVariant   *parameter)
{
  viv_window_select_step (VIV_WINDOW (widget), +1);
}

void
_viv_window_actions_update (VivWindow *self)
{
  gboolean has_vms;
  gboolean can_go_back;

  g_assert (VIV_IS_WINDOW (self));

  has_vms = gtk_list_box_get_row_at_index (self->vm_list, 0) != NULL;
  can_go_back = adw_leaflet_get_folded (self->leaflet) &&
                adw_leaflet_get_visible_child (self->leaflet) == self->content;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.go-back", can_go_back);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.select-previous", has_vms);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.select-next", has_vms);
}

void
_viv_window_class_actions_init (VivWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_install_action (widget_class, "win.new-vm", NULL, viv_window_actions_new_vm);
  gtk_widget_class_install_action (widget_class, "win.go-back", NULL, viv_window_actions_go_back);
  gtk_widget_class_install_action (widget_class, "win.select-previous", NULL, viv_window_actions_select_previous);
  gtk_widget_class_install_action (widget_class, "win.select-next", NULL, viv_window_actions_select_next);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "win.new-vm", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Up, GDK_ALT_MASK, "win.select-previous", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Down, GDK_ALT_MASK, "win.select-next", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Left, GDK_ALT_MASK, "win.go-back", NULL);
}
