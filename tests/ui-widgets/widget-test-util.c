#include "widget-test-util.h"

void
viv_test_wait_until (gboolean  (*done) (gpointer data),
                     gpointer    data,
                     guint       timeout_ms,
                     const char *what)
{
  if (!viv_ui_test_wait (done, data, timeout_ms))
    g_error ("Timed out after %u ms waiting for %s", timeout_ms, what);
}

static gboolean
drawn_cb (GtkWidget     *widget,
          GdkFrameClock *clock,
          gpointer       data)
{
  guint *frames = data;

  (*frames)++;
  return G_SOURCE_CONTINUE;
}

static gboolean
window_ready (gpointer data)
{
  guint *frames = data;

  /* Two frames: the first lays out, the second has drawn that layout. */
  return *frames >= 2;
}

/* Waits until `widget` has been through two more frames. */
static void
wait_for_frames (GtkWidget *widget)
{
  guint frames = 0;
  guint tick = gtk_widget_add_tick_callback (widget, drawn_cb, &frames, NULL);

  gtk_widget_queue_draw (widget);
  viv_test_wait_until (window_ready, &frames, 10000, "the window to be drawn");
  gtk_widget_remove_tick_callback (widget, tick);
}

GtkWindow *
viv_test_show_in_window (GtkWidget *child,
                         int        width,
                         int        height)
{
  GtkWidget *window = gtk_window_new ();

  /* No title bar: the child gets exactly the size asked for. */
  gtk_window_set_decorated (GTK_WINDOW (window), FALSE);
  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_set_child (GTK_WINDOW (window), child);
  gtk_window_present (GTK_WINDOW (window));
  wait_for_frames (child);

  return GTK_WINDOW (window);
}

GdkTexture *
viv_test_render_widget (GtkWidget *widget)
{
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GskRenderNode) node = NULL;
  GskRenderer *renderer;

  g_assert_cmpint (width, >, 0);
  g_assert_cmpint (height, >, 0);

  /* The paintable shows the widget's last frame; a widget that has asked
   * to be redrawn (a blinking cursor) has none until the next one. */
  for (guint attempt = 0; node == NULL && attempt < 100; attempt++)
    {
      GtkSnapshot *snapshot = gtk_snapshot_new ();

      gdk_paintable_snapshot (paintable, snapshot, width, height);
      node = gtk_snapshot_free_to_node (snapshot);
      if (node == NULL)
        g_main_context_iteration (NULL, TRUE);
    }
  g_assert_nonnull (node);

  renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  g_assert_nonnull (renderer);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
}

VivTestPixels *
viv_test_pixels_new (GdkTexture *texture)
{
  VivTestPixels *pixels = g_new0 (VivTestPixels, 1);

  pixels->width = gdk_texture_get_width (texture);
  pixels->height = gdk_texture_get_height (texture);
  pixels->stride = (gsize) pixels->width * 4;
  pixels->data = g_malloc (pixels->stride * pixels->height);
  gdk_texture_download (texture, pixels->data, pixels->stride);
  return pixels;
}

void
viv_test_pixels_free (VivTestPixels *pixels)
{
  g_free (pixels->data);
  g_free (pixels);
}

void
viv_test_pixels_get (const VivTestPixels *pixels,
                     int x, int y,
                     guint *r, guint *g, guint *b, guint *a)
{
  guint32 argb;

  g_assert_cmpint (x, >=, 0);
  g_assert_cmpint (x, <, pixels->width);
  g_assert_cmpint (y, >=, 0);
  g_assert_cmpint (y, <, pixels->height);

  memcpy (&argb, pixels->data + y * pixels->stride + x * 4, 4);
  *a = argb >> 24;
  if (*a == 0)
    {
      *r = *g = *b = 0;
      return;
    }
  *r = ((argb >> 16) & 0xff) * 255 / *a;
  *g = ((argb >> 8) & 0xff) * 255 / *a;
  *b = (argb & 0xff) * 255 / *a;
}

void
viv_test_save_screenshot (GtkWidget  *widget,
                          const char *name)
{
  const char *dir = g_getenv ("VIV_SCREENSHOT_DIR");
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *filename = NULL;
  g_autofree char *path = NULL;

  if (dir == NULL || dir[0] == '\0')
    return;

  /* What was last drawn: let pending changes reach the screen first. */
  viv_ui_test_settle ();
  wait_for_frames (widget);
  texture = viv_test_render_widget (GTK_WIDGET (gtk_widget_get_root (widget)));
  filename = g_strconcat (name, ".png", NULL);
  path = g_build_filename (dir, filename, NULL);
  g_assert_true (g_mkdir_with_parents (dir, 0755) == 0);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("Saved %s", path);
}
