/* Helpers for the widget tests (on top of tests/ui/ui-test-util.h, which
 * sets up a private home, the settings and GTK): windows around a single
 * widget, its pixels, screenshots. */
#pragma once

#include "ui-test-util.h"

/* Iterates the main context until `done` returns TRUE; fails the test
 * with `what` after `timeout_ms`. */
void        viv_test_wait_until       (gboolean (*done) (gpointer data),
                                       gpointer  data,
                                       guint     timeout_ms,
                                       const char *what);

/* Shows `child` in a new window of that size and waits until it has been
 * allocated and drawn. */
GtkWindow  *viv_test_show_in_window   (GtkWidget *child,
                                       int        width,
                                       int        height);

/* The widget as its window's renderer draws it (what the user sees). */
GdkTexture *viv_test_render_widget    (GtkWidget *widget);

/* Pixels of a texture, premultiplied ARGB32 in native byte order. */
typedef struct {
  int      width;
  int      height;
  gsize    stride;
  guint8  *data;
} VivTestPixels;

VivTestPixels *viv_test_pixels_new    (GdkTexture *texture);
void           viv_test_pixels_free   (VivTestPixels *pixels);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VivTestPixels, viv_test_pixels_free)
/* Un-premultiplied 0–255 components of one pixel. */
void           viv_test_pixels_get    (const VivTestPixels *pixels,
                                       int x, int y,
                                       guint *r, guint *g, guint *b, guint *a);

/* With $VIV_SCREENSHOT_DIR set, saves the whole window of `widget` there
 * as NAME.png (docs/screenshots/ uses these). */
void        viv_test_save_screenshot  (GtkWidget  *widget,
                                       const char *name);
