/* vivarium-console-view.c: the serial console in a VteTerminal */
#define G_LOG_DOMAIN "vivarium-console"

#include "config.h"

#include "vivarium-console-view.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gi18n.h>

#define SETTINGS_SCHEMA_ID "io.github.vivarium.Vivarium"
#define READ_SIZE 16384
#define ZOOM_STEP 1.2
#define ZOOM_MIN 0.4
#define ZOOM_MAX 4.0

struct _VivConsoleView
{
  GtkWidget          parent_instance;

  /* Template widgets */
  GtkWidget         *box;
  GtkRevealer       *status_revealer;
  GtkLabel          *status_label;
  VteTerminal       *terminal;
  GtkScrollbar      *scrollbar;
  GMenuModel        *context_menu_model;

  /* Owned */
  GtkWidget         *context_menu;
  GSettings         *settings;       /* NULL when the schema is not installed */
  GCancellable      *cancellable;    /* of the current connection */
  GSocketConnection *connection;
  GByteArray        *pending_input;  /* typed, not yet written to the socket */
  char              *status;
  gboolean           writing;
};

G_DEFINE_FINAL_TYPE (VivConsoleView, viv_console_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CONNECTED,
  PROP_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* One asynchronous socket operation.  It holds the view weakly: a pending
 * read must not keep a removed view alive, and a view that went away or
 * moved on to another connection must not be touched by it. */
typedef struct {
  GWeakRef      view;
  GCancellable *cancellable;
  GBytes       *data;           /* what a write sends */
} Op;

static Op *
op_new (VivConsoleView *self)
{
  Op *op = g_new0 (Op, 1);

  g_weak_ref_init (&op->view, self);
  op->cancellable = g_object_ref (self->cancellable);
  return op;
}

static void
op_free (Op *op)
{
  g_weak_ref_clear (&op->view);
  g_clear_object (&op->cancellable);
  g_clear_pointer (&op->data, g_bytes_unref);
  g_free (op);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Op, op_free)

/* The view, when the operation still belongs to its current connection. */
static VivConsoleView *
op_get_view (Op *op)
{
  if (g_cancellable_is_cancelled (op->cancellable))
    return NULL;
  return g_weak_ref_get (&op->view);
}

static void
set_status (VivConsoleView *self,
            const char     *status)
{
  if (g_strcmp0 (self->status, status) == 0)
    return;

  g_free (self->status);
  self->status = g_strdup (status);
  if (status != NULL)
    gtk_label_set_label (self->status_label, status);
  gtk_revealer_set_reveal_child (self->status_revealer, status != NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static void
update_actions (VivConsoleView *self)
{
  double scale = vte_terminal_get_font_scale (self->terminal);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "console.copy",
                                 vte_terminal_get_has_selection (self->terminal));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "console.paste", self->connection != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "console.zoom-in", scale < ZOOM_MAX);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "console.zoom-out", scale > ZOOM_MIN);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "console.zoom-reset", scale != 1.0);
}

/* Drops the connection; `status` says why (NULL: asked to). */
static void
close_connection (VivConsoleView *self,
                  const char     *status)
{
  gboolean was_connected = self->connection != NULL;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->connection != NULL)
    g_io_stream_close_async (G_IO_STREAM (self->connection), G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&self->connection);
  g_byte_array_set_size (self->pending_input, 0);
  self->writing = FALSE;

  vte_terminal_set_input_enabled (self->terminal, FALSE);
  set_status (self, status);
  update_actions (self);
  if (was_connected)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
}

/* ---- Guest → terminal --------------------------------------------------- */

static void read_next (VivConsoleView *self);

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  g_autoptr(VivConsoleView) self = op_get_view (op);

  if (self == NULL)
    return;

  if (bytes == NULL)
    {
      g_autofree char *status = g_strdup_printf (_("The console connection failed: %s"), error->message);

      close_connection (self, status);
      return;
    }

  if (g_bytes_get_size (bytes) == 0)
    {
      /* The worker closes its sockets when the VM stops. */
      close_connection (self, _("The console is closed: the virtual machine stopped."));
      return;
    }

  vte_terminal_feed (self->terminal, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  read_next (self);
}

static void
read_next (VivConsoleView *self)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (self->connection));

  g_input_stream_read_bytes_async (input, READ_SIZE, G_PRIORITY_DEFAULT,
                                   self->cancellable, read_cb, op_new (self));
}

/* ---- Terminal → guest --------------------------------------------------- */

static void write_pending (VivConsoleView *self);

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  g_autoptr(VivConsoleView) self = op_get_view (op);

  if (self == NULL)
    return;

  self->writing = FALSE;
  if (!ok)
    {
      g_autofree char *status = g_strdup_printf (_("Could not send to the console: %s"), error->message);

      close_connection (self, status);
      return;
    }
  write_pending (self);
}

/* One write at a time: what is typed meanwhile waits in pending_input. */
static void
write_pending (VivConsoleView *self)
{
  GOutputStream *output;
  Op *op;

  if (self->writing || self->connection == NULL || self->pending_input->len == 0)
    return;

  output = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
  op = op_new (self);
  op->data = g_bytes_new (self->pending_input->data, self->pending_input->len);
  g_byte_array_set_size (self->pending_input, 0);
  self->writing = TRUE;
  g_output_stream_write_all_async (output,
                                   g_bytes_get_data (op->data, NULL), g_bytes_get_size (op->data),
                                   G_PRIORITY_DEFAULT, self->cancellable, write_cb, op);
}

/* Everything the user sends (keys, paste) comes through "commit": there
 * is no pty behind this terminal. */
static void
terminal_commit_cb (VivConsoleView *self,
                    const char     *text,
                    guint           size,
                    VteTerminal    *terminal)
{
  if (self->connection == NULL)
    return;

  g_byte_array_append (self->pending_input, (const guint8 *) text, size);
  write_pending (self);
}

static void
terminal_selection_changed_cb (VivConsoleView *self,
                               VteTerminal    *terminal)
{
  update_actions (self);
}

/* ---- Connecting --------------------------------------------------------- */

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  g_autoptr(VivConsoleView) self = op_get_view (op);

  if (self == NULL)
    return;

  if (connection == NULL)
    {
      g_autofree char *status = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        status = g_strdup (_("Could not connect to the console: it is not there. Is the virtual machine running?"));
      else
        status = g_strdup_printf (_("Could not connect to the console (%s). Is the virtual machine running?"),
                                  error->message);

      close_connection (self, status);
      return;
    }

  self->connection = g_steal_pointer (&connection);
  /* The worker sends its scrollback first: start from a clean screen so
   * nothing shows twice.  vte_terminal_reset() keeps the screen's text,
   * so also erase the screen (ED 2) and the scrollback (ED 3), cursor home. */
  vte_terminal_reset (self->terminal, TRUE, TRUE);
  vte_terminal_feed (self->terminal, "\033[2J\033[3J\033[H", -1);
  vte_terminal_set_input_enabled (self->terminal, TRUE);
  set_status (self, NULL);
  update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);

  read_next (self);
}

void
viv_console_view_connect (VivConsoleView *self,
                          const char     *socket_path)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  g_return_if_fail (VIV_IS_CONSOLE_VIEW (self));
  g_return_if_fail (socket_path != NULL);

  close_connection (self, _("Connecting to the console…"));
  self->cancellable = g_cancellable_new ();

  client = g_socket_client_new ();
  address = g_unix_socket_address_new (socket_path);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), self->cancellable,
                                 connect_cb, op_new (self));
}

void
viv_console_view_disconnect (VivConsoleView *self)
{
  g_return_if_fail (VIV_IS_CONSOLE_VIEW (self));

  close_connection (self, _("The console is not connected."));
}

gboolean
viv_console_view_get_connected (VivConsoleView *self)
{
  g_return_val_if_fail (VIV_IS_CONSOLE_VIEW (self), FALSE);
  return self->connection != NULL;
}

const char *
viv_console_view_get_status (VivConsoleView *self)
{
  g_return_val_if_fail (VIV_IS_CONSOLE_VIEW (self), NULL);
  return self->status;
}

VteTerminal *
viv_console_view_get_terminal (VivConsoleView *self)
{
  g_return_val_if_fail (VIV_IS_CONSOLE_VIEW (self), NULL);
  return self->terminal;
}

GtkWidget *
viv_console_view_new (void)
{
  return g_object_new (VIV_TYPE_CONSOLE_VIEW, NULL);
}

/* ---- Font, zoom, clipboard ---------------------------------------------- */

static void
update_font (VivConsoleView *self)
{
  g_autofree char *font = g_settings_get_string (self->settings, "console-font");
  g_autoptr(PangoFontDescription) description = NULL;

  /* Empty: VTE's default, the system's monospace font. */
  if (font[0] != '\0')
    description = pango_font_description_from_string (font);
  vte_terminal_set_font (self->terminal, description);
}

static void
set_zoom (VivConsoleView *self,
          double          scale)
{
  vte_terminal_set_font_scale (self->terminal, CLAMP (scale, ZOOM_MIN, ZOOM_MAX));
  update_actions (self);
}

static void
zoom_in_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  VivConsoleView *self = VIV_CONSOLE_VIEW (widget);

  set_zoom (self, vte_terminal_get_font_scale (self->terminal) * ZOOM_STEP);
}

static void
zoom_out_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  VivConsoleView *self = VIV_CONSOLE_VIEW (widget);

  set_zoom (self, vte_terminal_get_font_scale (self->terminal) / ZOOM_STEP);
}

static void
zoom_reset_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  set_zoom (VIV_CONSOLE_VIEW (widget), 1.0);
}

static void
copy_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  vte_terminal_copy_clipboard_format (VIV_CONSOLE_VIEW (widget)->terminal, VTE_FORMAT_TEXT);
}

static void
paste_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  vte_terminal_paste_clipboard (VIV_CONSOLE_VIEW (widget)->terminal);
}

static void
context_menu_pressed_cb (VivConsoleView  *self,
                         int              n_press,
                         double           x,
                         double           y,
                         GtkGestureClick *gesture)
{
  gtk_popover_set_pointing_to (GTK_POPOVER (self->context_menu),
                               &(GdkRectangle) { (int) x, (int) y, 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->context_menu));
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

/* ---- GtkWidget ---------------------------------------------------------- */

static void
viv_console_view_measure (GtkWidget      *widget,
                          GtkOrientation  orientation,
                          int             for_size,
                          int            *minimum,
                          int            *natural,
                          int            *minimum_baseline,
                          int            *natural_baseline)
{
  gtk_widget_measure (VIV_CONSOLE_VIEW (widget)->box, orientation, for_size,
                      minimum, natural, minimum_baseline, natural_baseline);
}

static void
viv_console_view_size_allocate (GtkWidget *widget,
                                int        width,
                                int        height,
                                int        baseline)
{
  VivConsoleView *self = VIV_CONSOLE_VIEW (widget);

  gtk_widget_allocate (self->box, width, height, baseline, NULL);
  gtk_popover_present (GTK_POPOVER (self->context_menu));
}

static gboolean
viv_console_view_grab_focus (GtkWidget *widget)
{
  return gtk_widget_grab_focus (GTK_WIDGET (VIV_CONSOLE_VIEW (widget)->terminal));
}

static void
viv_console_view_dispose (GObject *object)
{
  VivConsoleView *self = VIV_CONSOLE_VIEW (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->connection);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->context_menu, gtk_widget_unparent);
  gtk_widget_dispose_template (GTK_WIDGET (self), VIV_TYPE_CONSOLE_VIEW);

  G_OBJECT_CLASS (viv_console_view_parent_class)->dispose (object);
}

static void
viv_console_view_finalize (GObject *object)
{
  VivConsoleView *self = VIV_CONSOLE_VIEW (object);

  g_clear_pointer (&self->pending_input, g_byte_array_unref);
  g_clear_pointer (&self->status, g_free);

  G_OBJECT_CLASS (viv_console_view_parent_class)->finalize (object);
}

static void
viv_console_view_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  VivConsoleView *self = VIV_CONSOLE_VIEW (object);

  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connection != NULL);
      break;
    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
add_shortcut (GtkShortcutController *controller,
              const char            *trigger,
              const char            *action)
{
  gtk_shortcut_controller_add_shortcut (controller,
                                        gtk_shortcut_new (gtk_shortcut_trigger_parse_string (trigger),
                                                          gtk_named_action_new (action)));
}

static void
viv_console_view_class_init (VivConsoleViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = viv_console_view_dispose;
  object_class->finalize = viv_console_view_finalize;
  object_class->get_property = viv_console_view_get_property;

  widget_class->measure = viv_console_view_measure;
  widget_class->size_allocate = viv_console_view_size_allocate;
  widget_class->grab_focus = viv_console_view_grab_focus;

  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_STATUS] =
    g_param_spec_string ("status", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/vivarium/Vivarium/vivarium-console-view.ui");
  gtk_widget_class_bind_template_child (widget_class, VivConsoleView, box);
  gtk_widget_class_bind_template_child (widget_class, VivConsoleView, context_menu_model);
  gtk_widget_class_bind_template_child (widget_class, VivConsoleView, scrollbar);
  gtk_widget_class_bind_template_child (widget_class, VivConsoleView, status_label);
  gtk_widget_class_bind_template_child (widget_class, VivConsoleView, status_revealer);
  gtk_widget_class_bind_template_child (widget_class, VivConsoleView, terminal);
  gtk_widget_class_bind_template_callback (widget_class, terminal_commit_cb);
  gtk_widget_class_bind_template_callback (widget_class, terminal_selection_changed_cb);

  gtk_widget_class_install_action (widget_class, "console.copy", NULL, copy_action);
  gtk_widget_class_install_action (widget_class, "console.paste", NULL, paste_action);
  gtk_widget_class_install_action (widget_class, "console.zoom-in", NULL, zoom_in_action);
  gtk_widget_class_install_action (widget_class, "console.zoom-out", NULL, zoom_out_action);
  gtk_widget_class_install_action (widget_class, "console.zoom-reset", NULL, zoom_reset_action);

  gtk_widget_class_set_css_name (widget_class, "vivconsole");

  g_type_ensure (VTE_TYPE_TERMINAL);
}

static void
viv_console_view_init (VivConsoleView *self)
{
  GtkEventController *shortcuts;
  GtkGesture *context_click;
  GSettingsSchema *schema;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->pending_input = g_byte_array_new ();

  gtk_scrollbar_set_adjustment (self->scrollbar,
                                gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->terminal)));

  /* The terminal would send these keys to the guest: catch them first. */
  shortcuts = gtk_shortcut_controller_new ();
  gtk_event_controller_set_propagation_phase (shortcuts, GTK_PHASE_CAPTURE);
  add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), "<Control><Shift>c", "console.copy");
  add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), "<Control><Shift>v", "console.paste");
  add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), "<Control>plus|<Control>equal|<Control>KP_Add", "console.zoom-in");
  add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), "<Control>minus|<Control>KP_Subtract", "console.zoom-out");
  add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), "<Control>0|<Control>KP_0", "console.zoom-reset");
  gtk_widget_add_controller (GTK_WIDGET (self), shortcuts);

  self->context_menu = gtk_popover_menu_new_from_model (self->context_menu_model);
  gtk_popover_set_has_arrow (GTK_POPOVER (self->context_menu), FALSE);
  gtk_widget_set_halign (self->context_menu, GTK_ALIGN_START);
  gtk_widget_set_parent (self->context_menu, GTK_WIDGET (self));
  context_click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (context_click), GDK_BUTTON_SECONDARY);
  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (context_click), GTK_PHASE_CAPTURE);
  g_signal_connect_object (context_click, "pressed", G_CALLBACK (context_menu_pressed_cb),
                           self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (context_click));

  /* Without the installed schema (an uninstalled test run) the terminal
   * keeps VTE's default font. */
  schema = g_settings_schema_source_lookup (g_settings_schema_source_get_default (),
                                            SETTINGS_SCHEMA_ID, TRUE);
  if (schema != NULL)
    {
      self->settings = g_settings_new (SETTINGS_SCHEMA_ID);
      g_signal_connect_object (self->settings, "changed::console-font",
                               G_CALLBACK (update_font), self, G_CONNECT_SWAPPED);
      update_font (self);
      g_settings_schema_unref (schema);
    }
  else
    g_message ("GSettings schema %s is not installed: the console uses the default font",
               SETTINGS_SCHEMA_ID);

  set_status (self, _("The console is not connected."));
  update_actions (self);
}
