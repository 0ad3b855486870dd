/* VivGraph: the pixels it draws are where the data says, in the light and
 * the dark style; values are formatted with their units; screen readers
 * get the latest values. */
#include <adwaita.h>
#include <math.h>

#include "widget-test-util.h"
#include "vivarium-graph.h"

#define NS 1000000000ull
#define BASE_S 5000

/* Feeds `n_rates` one-vCPU samples, a second apart; rate k (0-based) has
 * percent_at (k) % CPU. */
static void
feed_cpu (VivStatsModel *model,
          guint          n_rates,
          double       (*percent_at) (guint k))
{
  guint64 cpu_ns = 0;

  for (guint i = 0; i <= n_rates; i++)
    {
      GVariantBuilder builder;
      g_autoptr(GVariant) dict = NULL;
      g_autoptr(GError) error = NULL;

      if (i > 0)
        cpu_ns += (guint64) (percent_at (i - 1) / 100.0 * NS);
      g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&builder, "{sv}", "time-ns", g_variant_new_uint64 ((BASE_S + i) * NS));
      g_variant_builder_add (&builder, "{sv}", "vcpu-time-ns",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64, &cpu_ns, 1, sizeof cpu_ns));
      g_variant_builder_add (&builder, "{sv}", "memory-bytes", g_variant_new_uint64 (512ull << 20));
      g_variant_builder_add (&builder, "{sv}", "resident-bytes",
                             g_variant_new_uint64 ((guint64) (i * (256ull << 20) / n_rates)));
      dict = g_variant_ref_sink (g_variant_builder_end (&builder));
      g_assert_true (viv_stats_model_add_stats (model, dict, &error));
    }
}

static double
steps (guint k)
{
  /* 0 % for 100 s, 100 % for 100 s, then 50 %. */
  return k < 100 ? 0 : k < 200 ? 100 : 50;
}

static double
quarter (guint k)
{
  return 25;
}

static gboolean
is_series_red (guint r, guint g, guint b, guint a)
{
  return a > 200 && r > 150 && g < 130 && b < 130 && r > g + 80;
}

/* The mean y of the line's pixels in column x, and how many there are. */
static double
red_y_in_column (const VivTestPixels *pixels,
                 int                  x,
                 guint               *count)
{
  double sum = 0;

  *count = 0;
  for (int y = 0; y < pixels->height; y++)
    {
      guint r, g, b, a;

      viv_test_pixels_get (pixels, x, y, &r, &g, &b, &a);
      if (is_series_red (r, g, b, a))
        {
          sum += y;
          (*count)++;
        }
    }
  return *count > 0 ? sum / *count : -1;
}

static void
test_graph_format (void)
{
  const struct {
    VivGraphUnit unit;
    double       value;
    const char  *text;
  } cases[] = {
    { VIV_GRAPH_UNIT_PERCENT, 25, "25 %" },
    { VIV_GRAPH_UNIT_PERCENT, 2.5, "2.5 %" },
    { VIV_GRAPH_UNIT_PERCENT, -3, "0 %" },
    { VIV_GRAPH_UNIT_BYTES, 512.0 * 1024 * 1024, "512.0\u00a0MiB" },
    { VIV_GRAPH_UNIT_BYTES, 3.0 * 1024 * 1024 * 1024, "3.0\u00a0GiB" },
    { VIV_GRAPH_UNIT_BYTES_PER_SECOND, 1536, "1.5\u00a0KiB/s" },
    { VIV_GRAPH_UNIT_PER_SECOND, 7, "7/s" },
    { VIV_GRAPH_UNIT_PER_SECOND, 1500, "1.5 k/s" },
    { VIV_GRAPH_UNIT_PER_SECOND, 2.5e6, "2.5 M/s" },
    { VIV_GRAPH_UNIT_PER_SECOND, NAN, "0/s" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = viv_graph_format_value (cases[i].unit, cases[i].value);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_graph_line_position (void)
{
  g_autoptr(VivStatsModel) model = viv_stats_model_new ();
  GtkWidget *graph = viv_graph_new ();
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(VivTestPixels) pixels = NULL;
  GtkWindow *window;
  guint n0, n100, n50;
  double y0, y100, y50;
  int width;

  feed_cpu (model, 300, steps);
  viv_graph_set_model (VIV_GRAPH (graph), model);
  viv_graph_set_unit (VIV_GRAPH (graph), VIV_GRAPH_UNIT_PERCENT);
  viv_graph_set_title (VIV_GRAPH (graph), "CPU usage");
  viv_graph_add_series (VIV_GRAPH (graph), "cpu-total", "Total", "red");

  window = viv_test_show_in_window (graph, 600, 240);
  texture = viv_test_render_widget (graph);
  pixels = viv_test_pixels_new (texture);
  width = pixels->width;
  g_assert_cmpint (width, ==, 600);

  /* Columns inside each 100-second step (the plot starts after the value
   * labels, some 40 px in). */
  y0 = red_y_in_column (pixels, width * 20 / 100, &n0);
  y100 = red_y_in_column (pixels, width * 50 / 100, &n100);
  y50 = red_y_in_column (pixels, width * 85 / 100, &n50);
  g_test_message ("line at y=%.1f (0 %%, %u px), %.1f (100 %%, %u px), %.1f (50 %%, %u px)",
                  y0, n0, y100, n100, y50, n50);

  /* One thin line in each column … */
  g_assert_cmpuint (n0, >=, 1);
  g_assert_cmpuint (n0, <=, 4);
  g_assert_cmpuint (n100, >=, 1);
  g_assert_cmpuint (n100, <=, 4);
  g_assert_cmpuint (n50, >=, 1);
  g_assert_cmpuint (n50, <=, 4);
  /* … 0 % low, 100 % high, with room for the plot in between … */
  g_assert_cmpfloat (y0 - y100, >, 120);
  /* … and 50 % half-way. */
  g_assert_cmpfloat (fabs (y50 - (y0 + y100) / 2), <=, 1.5);

  /* Nothing of the series left of the plot (the value labels are there). */
  {
    guint n_left;

    red_y_in_column (pixels, 5, &n_left);
    g_assert_cmpuint (n_left, ==, 0);
  }

  viv_test_save_screenshot (graph, "graph-steps");
  gtk_window_destroy (window);
}

static void
test_graph_sparkline (void)
{
  g_autoptr(VivStatsModel) model = viv_stats_model_new ();
  GtkWidget *graph = viv_graph_new ();
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(VivTestPixels) pixels = NULL;
  GtkWindow *window;
  double y, expected;
  guint n, n_fill = 0;

  feed_cpu (model, 120, quarter);
  viv_graph_set_sparkline (VIV_GRAPH (graph), TRUE);
  g_assert_false (gtk_widget_get_focusable (graph));
  viv_graph_set_model (VIV_GRAPH (graph), model);
  viv_graph_add_series (VIV_GRAPH (graph), "cpu-total", "CPU", "red");

  window = viv_test_show_in_window (graph, 100, 42);
  texture = viv_test_render_widget (graph);
  pixels = viv_test_pixels_new (texture);

  /* A sparkline's plot is the widget less 1 px all round: 25 % sits at a
   * quarter of the height from the bottom. */
  y = red_y_in_column (pixels, 90, &n);
  expected = 1 + (1 - 0.25) * (pixels->height - 2);
  g_test_message ("sparkline line at y=%.1f, expected %.1f", y, expected);
  g_assert_cmpuint (n, >=, 1);
  g_assert_cmpfloat (fabs (y - expected), <=, 1.0);

  /* The last two minutes only: the left part is empty. */
  red_y_in_column (pixels, 10, &n);
  g_assert_cmpuint (n, ==, 0);

  /* Filled below the line, faintly. */
  for (int row = (int) expected + 3; row < pixels->height - 1; row++)
    {
      guint r, g, b, a;

      viv_test_pixels_get (pixels, 90, row, &r, &g, &b, &a);
      if (a > 20 && a < 120 && r > g)
        n_fill++;
    }
  g_assert_cmpuint (n_fill, >, 4);

  gtk_window_destroy (window);
}

static void
test_graph_dark_style (void)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  g_autoptr(VivStatsModel) model = viv_stats_model_new ();
  GtkWidget *graph = viv_graph_new ();
  GtkWindow *window;
  guint light_r = 0, dark_r = 0;

  feed_cpu (model, 300, steps);
  viv_graph_set_model (VIV_GRAPH (graph), model);
  viv_graph_add_series (VIV_GRAPH (graph), "cpu-total", "Total", "red");
  window = viv_test_show_in_window (graph, 600, 240);

  for (guint pass = 0; pass < 2; pass++)
    {
      g_autoptr(GdkTexture) texture = NULL;
      g_autoptr(VivTestPixels) pixels = NULL;
      guint *max_r = pass == 0 ? &light_r : &dark_r;
      int x = 600 * 85 / 100;
      guint n = 0;

      if (pass == 1)
        {
          adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
          while (g_main_context_iteration (NULL, FALSE))
            ;
          g_assert_true (adw_style_manager_get_dark (style));
          viv_test_save_screenshot (graph, "graph-steps-dark");
        }

      texture = viv_test_render_widget (graph);
      pixels = viv_test_pixels_new (texture);
      for (int y = 0; y < pixels->height; y++)
        {
          guint r, g, b, a;

          viv_test_pixels_get (pixels, x, y, &r, &g, &b, &a);
          if (is_series_red (r, g, b, a))
            {
              *max_r = MAX (*max_r, r);
              n++;
            }
        }
      g_assert_cmpuint (n, >=, 1);
    }

  /* libadwaita's red_4 (#c01c28) on light, the lighter red_2 (#ed333b) on dark. */
  g_test_message ("red component of the red line: light %u, dark %u", light_r, dark_r);
  g_assert_cmpuint (light_r, <, 205);
  g_assert_cmpuint (dark_r, >, 225);

  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
  gtk_window_destroy (window);
}

static void
test_graph_accessible (void)
{
  g_autoptr(VivStatsModel) model = viv_stats_model_new ();
  GtkWidget *graph = g_object_ref_sink (viv_graph_new ());
  char *failure;

  g_assert_cmpint (gtk_accessible_get_accessible_role (GTK_ACCESSIBLE (graph)), ==, GTK_ACCESSIBLE_ROLE_IMG);

  viv_graph_set_title (VIV_GRAPH (graph), "Memory");
  viv_graph_set_unit (VIV_GRAPH (graph), VIV_GRAPH_UNIT_BYTES);
  viv_graph_add_series (VIV_GRAPH (graph), "memory-assigned", "Assigned", "blue");
  viv_graph_add_series (VIV_GRAPH (graph), "memory-resident", "Resident", "green");
  failure = gtk_test_accessible_check_property (GTK_ACCESSIBLE (graph), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                                "Memory: no samples yet");
  g_assert_null (failure);

  viv_graph_set_model (VIV_GRAPH (graph), model);
  feed_cpu (model, 4, quarter);
  failure = gtk_test_accessible_check_property (GTK_ACCESSIBLE (graph), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                                "Memory, now: Assigned: 512.0\u00a0MiB, Resident: 256.0\u00a0MiB");
  if (failure != NULL)
    g_error ("accessible label: %s", failure);

  g_object_unref (graph);
}

static void
test_graph_properties (void)
{
  GtkWidget *graph = g_object_ref_sink (viv_graph_new ());
  guint notified = 0;

  g_signal_connect_swapped (graph, "notify::unit", G_CALLBACK (g_atomic_int_inc), &notified);
  viv_graph_set_unit (VIV_GRAPH (graph), VIV_GRAPH_UNIT_BYTES);
  viv_graph_set_unit (VIV_GRAPH (graph), VIV_GRAPH_UNIT_BYTES);
  g_assert_cmpuint (notified, ==, 1);
  g_object_set (graph, "unit", VIV_GRAPH_UNIT_PER_SECOND, "sparkline", TRUE, NULL);
  g_assert_cmpint (viv_graph_get_unit (VIV_GRAPH (graph)), ==, VIV_GRAPH_UNIT_PER_SECOND);
  g_assert_true (viv_graph_get_sparkline (VIV_GRAPH (graph)));
  g_assert_cmpuint (notified, ==, 2);
  g_object_unref (graph);
}

int
main (int   argc,
      char *argv[])
{
  viv_ui_test_init (&argc, &argv);

  g_test_add_func ("/viv/graph/format", test_graph_format);
  g_test_add_func ("/viv/graph/line-position", test_graph_line_position);
  g_test_add_func ("/viv/graph/sparkline", test_graph_sparkline);
  g_test_add_func ("/viv/graph/dark-style", test_graph_dark_style);
  g_test_add_func ("/viv/graph/accessible", test_graph_accessible);
  g_test_add_func ("/viv/graph/properties", test_graph_properties);

  return g_test_run ();
}
