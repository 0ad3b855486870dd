/* VivConsoleView against a console socket served by the test: what the
 * "guest" sends shows in the terminal, what the user types and pastes
 * reaches the socket, copy, zoom, the font setting, closing and
 * reconnecting. */
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "vivarium-console-view.h"
#include "widget-test-util.h"

typedef struct {
  char              *dir;
  char              *path;
  GSocketListener   *listener;
  GSocketConnection *server;      /* the accepted console client */
  GString           *received;    /* what the view sent */
  guint8             buffer[4096];
  GtkWidget         *view;
  GtkWindow         *window;
} Fixture;

static void read_next (Fixture *fixture);

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Fixture *fixture = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    return;
  g_string_append_len (fixture->received, (const char *) fixture->buffer, n);
  read_next (fixture);
}

static void
read_next (Fixture *fixture)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (fixture->server)),
                             fixture->buffer, sizeof fixture->buffer, G_PRIORITY_DEFAULT,
                             NULL, read_cb, fixture);
}

static void
accept_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Fixture *fixture = data;
  g_autoptr(GError) error = NULL;

  fixture->server = g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), result, NULL, &error);
  g_assert_no_error (error);
  read_next (fixture);
}

static gboolean
is_connected (gpointer data)
{
  Fixture *fixture = data;

  return fixture->server != NULL && viv_console_view_get_connected (VIV_CONSOLE_VIEW (fixture->view));
}

/* Accepts the view's next connection. */
static void
connect_view (Fixture *fixture)
{
  g_clear_object (&fixture->server);
  g_string_truncate (fixture->received, 0);
  g_socket_listener_accept_async (fixture->listener, NULL, accept_cb, fixture);
  viv_console_view_connect (VIV_CONSOLE_VIEW (fixture->view), fixture->path);
  viv_test_wait_until (is_connected, fixture, 5000, "the console connection");
  g_assert_null (viv_console_view_get_status (VIV_CONSOLE_VIEW (fixture->view)));
}

static void
guest_writes (Fixture    *fixture,
              const char *text)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (fixture->server)),
                             text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
}

static char *
terminal_text (Fixture *fixture)
{
  VteTerminal *terminal = viv_console_view_get_terminal (VIV_CONSOLE_VIEW (fixture->view));

  return vte_terminal_get_text (terminal, NULL, NULL, NULL);
}

typedef struct {
  Fixture    *fixture;
  const char *text;
} Expect;

static gboolean
terminal_shows (gpointer data)
{
  Expect *expect = data;
  g_autofree char *text = terminal_text (expect->fixture);

  return text != NULL && strstr (text, expect->text) != NULL;
}

static gboolean
socket_received (gpointer data)
{
  Expect *expect = data;

  return strstr (expect->fixture->received->str, expect->text) != NULL;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  fixture->dir = g_dir_make_tmp ("viv-console-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->path = g_build_filename (fixture->dir, "console", NULL);
  fixture->listener = g_socket_listener_new ();
  address = g_unix_socket_address_new (fixture->path);
  g_socket_listener_add_address (fixture->listener, address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &error);
  g_assert_no_error (error);
  fixture->received = g_string_new (NULL);

  fixture->view = viv_console_view_new ();
  fixture->window = viv_test_show_in_window (fixture->view, 720, 360);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  gtk_window_destroy (fixture->window);
  viv_ui_test_settle ();
  g_clear_object (&fixture->server);
  g_socket_listener_close (fixture->listener);
  g_clear_object (&fixture->listener);
  g_unlink (fixture->path);
  g_rmdir (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
  g_string_free (fixture->received, TRUE);
}

static void
test_console_output_and_input (Fixture       *fixture,
                               gconstpointer  data)
{
  VteTerminal *terminal = viv_console_view_get_terminal (VIV_CONSOLE_VIEW (fixture->view));
  Expect banner = { fixture, "Vivarium probe guest" };
  Expect typed = { fixture, "hello guest\r" };
  Expect second_line = { fixture, "PROBE info cpus=1" };

  g_assert_false (vte_terminal_get_input_enabled (terminal));
  connect_view (fixture);
  g_assert_true (vte_terminal_get_input_enabled (terminal));

  guest_writes (fixture, "\r\n  Vivarium probe guest\r\n");
  viv_test_wait_until (terminal_shows, &banner, 5000, "the banner in the terminal");
  /* Bytes may arrive split anywhere. */
  guest_writes (fixture, "PROBE info ");
  guest_writes (fixture, "cpus=1\r\n");
  viv_test_wait_until (terminal_shows, &second_line, 5000, "the second line in the terminal");
  viv_test_save_screenshot (fixture->view, "console");

  /* What the user types goes out through VTE's "commit". */
  vte_terminal_feed_child (terminal, "hello guest\r", -1);
  viv_test_wait_until (socket_received, &typed, 5000, "typed text on the socket");
}

static gboolean
clipboard_text_is_set (gpointer data)
{
  char **text = data;

  return *text != NULL;
}

static void
clipboard_read_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  char **text = data;
  g_autoptr(GError) error = NULL;

  *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);
  g_assert_no_error (error);
}

static void
test_console_copy_paste (Fixture       *fixture,
                         gconstpointer  data)
{
  VteTerminal *terminal = viv_console_view_get_terminal (VIV_CONSOLE_VIEW (fixture->view));
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (terminal));
  Expect banner = { fixture, "copy me" };
  Expect pasted = { fixture, "pasted text" };
  g_autofree char *copied = NULL;

  connect_view (fixture);
  guest_writes (fixture, "copy me\r\n");
  viv_test_wait_until (terminal_shows, &banner, 5000, "the text to copy");

  vte_terminal_select_all (terminal);
  g_assert_true (vte_terminal_get_has_selection (terminal));
  g_assert_true (gtk_widget_activate_action (fixture->view, "console.copy", NULL));
  gdk_clipboard_read_text_async (clipboard, NULL, clipboard_read_cb, &copied);
  viv_test_wait_until (clipboard_text_is_set, &copied, 5000, "the copied text");
  g_assert_nonnull (strstr (copied, "copy me"));

  /* Pasting sends the clipboard to the guest, as typing does. */
  gdk_clipboard_set_text (clipboard, "pasted text");
  g_assert_true (gtk_widget_activate_action (fixture->view, "console.paste", NULL));
  viv_test_wait_until (socket_received, &pasted, 5000, "pasted text on the socket");
}

static void
test_console_zoom_and_font (Fixture       *fixture,
                            gconstpointer  data)
{
  VteTerminal *terminal = viv_console_view_get_terminal (VIV_CONSOLE_VIEW (fixture->view));
  g_autoptr(GSettings) settings = g_settings_new ("io.github.vivarium.Vivarium");
  const PangoFontDescription *font;

  g_assert_cmpfloat (vte_terminal_get_font_scale (terminal), ==, 1.0);
  gtk_widget_activate_action (fixture->view, "console.zoom-in", NULL);
  g_assert_cmpfloat (vte_terminal_get_font_scale (terminal), >, 1.1);
  for (guint i = 0; i < 20; i++)
    gtk_widget_activate_action (fixture->view, "console.zoom-in", NULL);
  g_assert_cmpfloat (vte_terminal_get_font_scale (terminal), <=, 4.0);
  gtk_widget_activate_action (fixture->view, "console.zoom-reset", NULL);
  g_assert_cmpfloat (vte_terminal_get_font_scale (terminal), ==, 1.0);
  gtk_widget_activate_action (fixture->view, "console.zoom-out", NULL);
  g_assert_cmpfloat (vte_terminal_get_font_scale (terminal), <, 0.9);
  gtk_widget_activate_action (fixture->view, "console.zoom-reset", NULL);

  /* The preferences' console font applies at once. */
  g_settings_set_string (settings, "console-font", "Monospace 17");
  font = vte_terminal_get_font (terminal);
  g_assert_nonnull (font);
  g_assert_cmpint (pango_font_description_get_size (font), ==, 17 * PANGO_SCALE);
  g_settings_reset (settings, "console-font");
}

static gboolean
is_disconnected (gpointer data)
{
  Fixture *fixture = data;

  return !viv_console_view_get_connected (VIV_CONSOLE_VIEW (fixture->view));
}

static void
test_console_close_and_reconnect (Fixture       *fixture,
                                  gconstpointer  data)
{
  VteTerminal *terminal = viv_console_view_get_terminal (VIV_CONSOLE_VIEW (fixture->view));
  Expect first = { fixture, "first boot" };
  Expect second = { fixture, "second boot" };
  g_autofree char *text = NULL;
  const char *status;

  connect_view (fixture);
  guest_writes (fixture, "first boot\r\n");
  viv_test_wait_until (terminal_shows, &first, 5000, "the first session's output");

  /* The worker closes the console when the VM stops. */
  g_io_stream_close (G_IO_STREAM (fixture->server), NULL, NULL);
  viv_test_wait_until (is_disconnected, fixture, 5000, "the view to see the close");
  status = viv_console_view_get_status (VIV_CONSOLE_VIEW (fixture->view));
  g_assert_nonnull (status);
  g_assert_nonnull (strstr (status, "stopped"));
  g_assert_false (vte_terminal_get_input_enabled (terminal));
  /* The last output stays readable. */
  text = terminal_text (fixture);
  g_assert_nonnull (strstr (text, "first boot"));
  g_clear_pointer (&text, g_free);

  /* A new worker replays its own scrollback: the old screen goes. */
  connect_view (fixture);
  guest_writes (fixture, "second boot\r\n");
  viv_test_wait_until (terminal_shows, &second, 5000, "the second session's output");
  text = terminal_text (fixture);
  g_test_message ("after reconnecting: “%s”", text);
  g_assert_null (strstr (text, "first boot"));
}

static gboolean
has_failure_status (gpointer data)
{
  const char *status = viv_console_view_get_status (VIV_CONSOLE_VIEW (data));

  return status != NULL && strstr (status, "Could not connect") != NULL;
}

static void
test_console_no_socket (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (fixture->dir, "no-such-console", NULL);
  const char *status;

  viv_console_view_connect (VIV_CONSOLE_VIEW (fixture->view), missing);
  viv_test_wait_until (has_failure_status, fixture->view, 5000, "the failure message");
  status = viv_console_view_get_status (VIV_CONSOLE_VIEW (fixture->view));
  g_test_message ("status: %s", status);
  g_assert_nonnull (strstr (status, "running"));
  g_assert_false (viv_console_view_get_connected (VIV_CONSOLE_VIEW (fixture->view)));
}

int
main (int   argc,
      char *argv[])
{
  viv_ui_test_init (&argc, &argv);

  g_test_add ("/viv/console-view/output-and-input", Fixture, NULL,
              fixture_set_up, test_console_output_and_input, fixture_tear_down);
  g_test_add ("/viv/console-view/copy-paste", Fixture, NULL,
              fixture_set_up, test_console_copy_paste, fixture_tear_down);
  g_test_add ("/viv/console-view/zoom-and-font", Fixture, NULL,
              fixture_set_up, test_console_zoom_and_font, fixture_tear_down);
  g_test_add ("/viv/console-view/close-and-reconnect", Fixture, NULL,
              fixture_set_up, test_console_close_and_reconnect, fixture_tear_down);
  g_test_add ("/viv/console-view/no-socket", Fixture, NULL,
              fixture_set_up, test_console_no_socket, fixture_tear_down);

  return g_test_run ();
}
