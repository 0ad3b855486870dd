/* vivarium-graph.c: time series drawn with GtkSnapshot */
#define G_LOG_DOMAIN "vivarium-graph"

#include "vivarium-graph.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <math.h>

/* Two samples further apart than this are not joined by a line: the VM
 * was paused or stopped in between. */
#define GAP_S 2.5
#define N_TIME_TICKS 5            /* one a minute over VIV_GRAPH_SPAN_S */
#define LEGEND_SWATCH 10
#define SPACING 6
/* Running VMs send their samples at their own moments in each second:
 * redrawing at every one would draw a frame per VM and second.  A graph
 * with a new sample redraws at once if no graph did for this long, else it
 * waits for one shared redraw, so all graphs move in the same frame. */
#define REDRAW_INTERVAL_US G_USEC_PER_SEC

typedef struct {
  char *key;
  char *label;
  char *color;
} Series;

struct _VivGraph
{
  GtkWidget      parent_instance;

  /* owned */
  VivStatsModel *model;
  GArray        *series;          /* of Series */
  char          *title;

  VivGraphUnit   unit;
  guint          sparkline : 1;

  /* The pointer's x while it is over the plot, or -1. */
  double         hover_x;
};

G_DEFINE_FINAL_TYPE (VivGraph, viv_graph, GTK_TYPE_WIDGET)

G_DEFINE_ENUM_TYPE (VivGraphUnit, viv_graph_unit,
  G_DEFINE_ENUM_VALUE (VIV_GRAPH_UNIT_PERCENT, "percent"),
  G_DEFINE_ENUM_VALUE (VIV_GRAPH_UNIT_BYTES, "bytes"),
  G_DEFINE_ENUM_VALUE (VIV_GRAPH_UNIT_BYTES_PER_SECOND, "bytes-per-second"),
  G_DEFINE_ENUM_VALUE (VIV_GRAPH_UNIT_PER_SECOND, "per-second"))

enum {
  PROP_0,
  PROP_MODEL,
  PROP_UNIT,
  PROP_SPARKLINE,
  PROP_TITLE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The shared redraw: graphs waiting for it, its timeout, the last one. */
static GHashTable *pending_redraws;   /* VivGraph* set, not owned */
static guint redraw_source;
static gint64 last_redraw_us;

/* ---- Values and scales -------------------------------------------------- */

char *
viv_graph_format_value (VivGraphUnit unit,
                        double       value)
{
  g_autofree char *size = NULL;

  if (!isfinite (value) || value < 0)
    value = 0;

  switch (unit)
    {
    case VIV_GRAPH_UNIT_PERCENT:
      if (value > 0 && value < 10 && value != floor (value))
        /* Translators: a percentage with one decimal, e.g. "2.5 %" */
        return g_strdup_printf (_("%.1f %%"), value);
      /* Translators: a percentage, e.g. "25 %" */
      return g_strdup_printf (_("%.0f %%"), value);

    case VIV_GRAPH_UNIT_BYTES:
      return g_format_size_full ((guint64) value, G_FORMAT_SIZE_IEC_UNITS);

    case VIV_GRAPH_UNIT_BYTES_PER_SECOND:
      size = g_format_size_full ((guint64) value, G_FORMAT_SIZE_IEC_UNITS);
      /* Translators: a data rate, %s is a size such as "1.5 MiB" */
      return g_strdup_printf (_("%s/s"), size);

    case VIV_GRAPH_UNIT_PER_SECOND:
      if (value >= 1e6)
        /* Translators: millions of events per second */
        return g_strdup_printf (_("%.1f M/s"), value / 1e6);
      if (value >= 1e3)
        /* Translators: thousands of events per second */
        return g_strdup_printf (_("%.1f k/s"), value / 1e3);
      if (value > 0 && value < 10 && value != floor (value))
        /* Translators: events per second, with one decimal */
        return g_strdup_printf (_("%.1f/s"), value);
      /* Translators: events per second */
      return g_strdup_printf (_("%.0f/s"), value);

    default:
      g_assert_not_reached ();
    }
}

/* The top of the value axis and its tick step: round numbers of the unit
 * (powers of two for bytes, 1-2-5 steps for counts). */
static void
compute_scale (VivGraphUnit  unit,
               double        max_value,
               double       *top,
               double       *step)
{
  double raw;

  if (unit == VIV_GRAPH_UNIT_PERCENT)
    {
      *top = 100;
      *step = 25;
      return;
    }

  if (!(max_value > 0))
    max_value = unit == VIV_GRAPH_UNIT_PER_SECOND ? 10 : 1024;

  raw = max_value / 4;
  if (unit == VIV_GRAPH_UNIT_PER_SECOND)
    {
      double magnitude = pow (10, floor (log10 (raw)));
      double normal = raw / magnitude;

      *step = magnitude * (normal <= 1 ? 1 : normal <= 2 ? 2 : normal <= 5 ? 5 : 10);
    }
  else
    *step = MAX (1, exp2 (ceil (log2 (raw))));

  *top = *step * MAX (1, ceil (max_value / *step - 1e-9));
}

/* ---- Colors ------------------------------------------------------------- */

static const struct {
  const char *hue;
  GdkRGBA     light;              /* libadwaita's <hue>_4, for light backgrounds */
  GdkRGBA     dark;               /* <hue>_2, for dark ones */
} fallback_palette[] = {
  { "blue",   { 0.110, 0.443, 0.847, 1 }, { 0.384, 0.627, 0.918, 1 } },
  { "green",  { 0.180, 0.761, 0.494, 1 }, { 0.341, 0.890, 0.537, 1 } },
  { "yellow", { 0.961, 0.761, 0.067, 1 }, { 0.973, 0.894, 0.361, 1 } },
  { "orange", { 0.902, 0.380, 0.000, 1 }, { 1.000, 0.639, 0.282, 1 } },
  { "red",    { 0.753, 0.110, 0.157, 1 }, { 0.929, 0.200, 0.231, 1 } },
  { "purple", { 0.506, 0.239, 0.612, 1 }, { 0.753, 0.380, 0.796, 1 } },
  { "brown",  { 0.525, 0.369, 0.235, 1 }, { 0.710, 0.514, 0.353, 1 } },
};

/* The style's color for a series.  GTK 4.8 has no other public way to read
 * libadwaita's named colors than the (later deprecated) style context. */
static void
lookup_series_color (VivGraph   *self,
                     const char *color,
                     GdkRGBA    *rgba)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  g_autofree char *name = NULL;

  if (g_str_equal (color, "accent"))
    {
      if (gtk_style_context_lookup_color (context, "accent_color", rgba))
        return;
      *rgba = fallback_palette[0].light;
      return;
    }

  name = g_strdup_printf ("%s_%d", color, dark ? 2 : 4);
  if (gtk_style_context_lookup_color (context, name, rgba))
    return;
  G_GNUC_END_IGNORE_DEPRECATIONS

  for (guint i = 0; i < G_N_ELEMENTS (fallback_palette); i++)
    if (g_str_equal (fallback_palette[i].hue, color))
      {
        *rgba = dark ? fallback_palette[i].dark : fallback_palette[i].light;
        return;
      }
  g_warning ("Unknown graph color “%s”, using blue", color);
  *rgba = dark ? fallback_palette[0].dark : fallback_palette[0].light;
}

static void
get_foreground (VivGraph *self,
                GdkRGBA  *rgba)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (self)), rgba);
  G_GNUC_END_IGNORE_DEPRECATIONS
}

/* ---- Geometry ----------------------------------------------------------- */

typedef struct {
  graphene_rect_t plot;
  double          t_end_s;        /* the newest sample's time, in s */
  double          top;            /* the value at the plot's top edge */
  double          step;
  guint           n_samples;
} Frame;

static double
sample_time_s (VivGraph *self,
               guint     index)
{
  return (double) viv_stats_model_get_sample_time (self->model, index) / 1e9;
}

static double
visible_max (VivGraph *self,
             double    t_start_s)
{
  guint n = self->model ? viv_stats_model_get_n_samples (self->model) : 0;
  double max = 0;

  for (guint i = 0; i < n; i++)
    {
      if (sample_time_s (self, i) < t_start_s)
        continue;
      for (guint s = 0; s < self->series->len; s++)
        {
          const Series *series = &g_array_index (self->series, Series, s);
          double value;

          if (viv_stats_model_get_value (self->model, series->key, i, &value))
            max = MAX (max, value);
        }
    }
  return max;
}

static PangoLayout *
create_small_layout (VivGraph   *self,
                     const char *text)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  PangoAttrList *attrs = pango_attr_list_new ();

  pango_attr_list_insert (attrs, pango_attr_scale_new (0.85));
  pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum=1"));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
  return layout;
}

static int
layout_width (PangoLayout *layout)
{
  int width;

  pango_layout_get_pixel_size (layout, &width, NULL);
  return width;
}

static int
layout_height (PangoLayout *layout)
{
  int height;

  pango_layout_get_pixel_size (layout, NULL, &height);
  return height;
}

static void
compute_frame (VivGraph *self,
               Frame    *frame)
{
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  guint n = self->model ? viv_stats_model_get_n_samples (self->model) : 0;

  frame->n_samples = n;
  frame->t_end_s = n > 0 ? sample_time_s (self, n - 1) : 0;
  compute_scale (self->unit, visible_max (self, frame->t_end_s - VIV_GRAPH_SPAN_S),
                 &frame->top, &frame->step);

  if (self->sparkline)
    {
      graphene_rect_init (&frame->plot, 1, 1, MAX (0, width - 2), MAX (0, height - 2));
      return;
    }
  else
    {
      g_autoptr(PangoLayout) label = NULL;
      g_autofree char *top_text = viv_graph_format_value (self->unit, frame->top);
      int label_height, legend_height, left;

      label = create_small_layout (self, top_text);
      label_height = layout_height (label);
      /* The widest value label is the top one (labels grow with values). */
      left = layout_width (label) + SPACING;
      legend_height = label_height + SPACING;

      graphene_rect_init (&frame->plot, left, legend_height + label_height / 2.0,
                          MAX (0, width - left - SPACING),
                          MAX (0, height - legend_height - label_height / 2.0 - label_height - SPACING));
    }
}

static double
x_for_time (const Frame *frame,
            double       t_s)
{
  return frame->plot.origin.x
         + (1 - (frame->t_end_s - t_s) / VIV_GRAPH_SPAN_S) * frame->plot.size.width;
}

static double
y_for_value (const Frame *frame,
             double       value)
{
  double fraction = CLAMP (value / frame->top, 0, 1);

  return frame->plot.origin.y + (1 - fraction) * frame->plot.size.height;
}

/* The sample nearest to x, or -1 when there is none on the plot. */
static int
sample_at_x (VivGraph    *self,
             const Frame *frame,
             double       x)
{
  int best = -1;
  double best_distance = G_MAXDOUBLE;

  for (guint i = 0; i < frame->n_samples; i++)
    {
      double t = sample_time_s (self, i);
      double distance;

      if (t < frame->t_end_s - VIV_GRAPH_SPAN_S)
        continue;
      distance = fabs (x_for_time (frame, t) - x);
      if (distance < best_distance)
        {
          best_distance = distance;
          best = i;
        }
    }
  return best;
}

/* ---- Drawing ------------------------------------------------------------ */

static void
append_text (GtkSnapshot   *snapshot,
             PangoLayout   *layout,
             double         x,
             double         y,
             const GdkRGBA *color)
{
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (round (x), round (y)));
  gtk_snapshot_append_layout (snapshot, layout, color);
  gtk_snapshot_restore (snapshot);
}

static void
append_line (GtkSnapshot   *snapshot,
             double         x,
             double         y,
             double         width,
             double         height,
             const GdkRGBA *color)
{
  gtk_snapshot_append_color (snapshot, color, &GRAPHENE_RECT_INIT (x, y, width, height));
}

static void
draw_axes (VivGraph     *self,
           GtkSnapshot  *snapshot,
           const Frame  *frame,
           const GdkRGBA *fg)
{
  const graphene_rect_t *plot = &frame->plot;
  GdkRGBA grid = *fg, text = *fg;
  guint n_ticks = (guint) round (frame->top / frame->step);

  grid.alpha *= 0.15;
  text.alpha *= 0.75;

  /* Value axis: a grid line and a label per step. */
  for (guint i = 0; i <= n_ticks; i++)
    {
      double value = i * frame->step;
      double y = round (y_for_value (frame, value));
      g_autofree char *label_text = viv_graph_format_value (self->unit, value);
      g_autoptr(PangoLayout) label = create_small_layout (self, label_text);

      append_line (snapshot, plot->origin.x, y, plot->size.width, 1, &grid);
      append_text (snapshot, label, plot->origin.x - SPACING - layout_width (label),
                   y - layout_height (label) / 2.0, &text);
    }

  /* Time axis: one tick a minute, "now" at the right. */
  for (guint i = 0; i <= N_TIME_TICKS; i++)
    {
      guint minutes_ago = N_TIME_TICKS - i;
      double x = round (plot->origin.x + plot->size.width * i / N_TIME_TICKS);
      g_autofree char *label_text = NULL;
      g_autoptr(PangoLayout) label = NULL;
      double label_x;

      if (minutes_ago == 0)
        label_text = g_strdup (C_("graph time axis", "now"));
      else
        /* Translators: a time axis label, minutes before now */
        label_text = g_strdup_printf (C_("graph time axis", "−%u min"), minutes_ago);
      label = create_small_layout (self, label_text);

      append_line (snapshot, x, plot->origin.y, 1, plot->size.height, &grid);
      /* The end labels stay within the plot's width, clear of the value
       * labels on the left. */
      if (i == 0)
        label_x = plot->origin.x;
      else if (i == N_TIME_TICKS)
        label_x = plot->origin.x + plot->size.width - layout_width (label);
      else
        label_x = x - layout_width (label) / 2.0;
      append_text (snapshot, label, label_x, plot->origin.y + plot->size.height + SPACING / 2.0, &text);
    }
}

static void
draw_legend (VivGraph      *self,
             GtkSnapshot   *snapshot,
             const Frame   *frame,
             const GdkRGBA *fg)
{
  double x = frame->plot.origin.x;

  for (guint s = 0; s < self->series->len; s++)
    {
      const Series *series = &g_array_index (self->series, Series, s);
      g_autoptr(PangoLayout) label = create_small_layout (self, series->label);
      int height = layout_height (label);
      GdkRGBA color;

      /* Many vCPUs: the legend shows those that fit, the tooltip all. */
      if (x + LEGEND_SWATCH + SPACING / 2 + layout_width (label) > gtk_widget_get_width (GTK_WIDGET (self)))
        break;

      lookup_series_color (self, series->color, &color);
      gtk_snapshot_append_color (snapshot, &color,
                                 &GRAPHENE_RECT_INIT (x, (height - LEGEND_SWATCH) / 2.0,
                                                      LEGEND_SWATCH, LEGEND_SWATCH));
      x += LEGEND_SWATCH + SPACING / 2;
      append_text (snapshot, label, x, 0, fg);
      x += layout_width (label) + 2 * SPACING;
    }
}

static void
draw_series (VivGraph     *self,
             GtkSnapshot  *snapshot,
             const Frame  *frame,
             const Series *series)
{
  cairo_t *cr;
  graphene_rect_t bounds;
  gboolean drawing = FALSE;
  double last_t = 0, first_x = 0, last_x = 0;
  double t_start = frame->t_end_s - VIV_GRAPH_SPAN_S;
  GdkRGBA color;

  lookup_series_color (self, series->color, &color);
  /* A little room so the line's width is not clipped at the edges. */
  graphene_rect_inset_r (&frame->plot, -2, -2, &bounds);
  cr = gtk_snapshot_append_cairo (snapshot, &bounds);
  cairo_set_line_width (cr, self->sparkline ? 1.5 : 2);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  gdk_cairo_set_source_rgba (cr, &color);

  for (guint i = 0; i < frame->n_samples; i++)
    {
      double t = sample_time_s (self, i);
      double value, x, y;

      if (t < t_start)
        continue;
      if (!viv_stats_model_get_value (self->model, series->key, i, &value))
        {
          drawing = FALSE;
          continue;
        }

      x = x_for_time (frame, t);
      y = y_for_value (frame, value);
      if (drawing && t - last_t <= GAP_S)
        cairo_line_to (cr, x, y);
      else
        {
          if (drawing)
            cairo_stroke (cr);
          cairo_move_to (cr, x, y);
          /* A lone sample still shows as a dot. */
          cairo_line_to (cr, x + 0.01, y);
          first_x = x;
        }
      drawing = TRUE;
      last_t = t;
      last_x = x;
    }

  if (drawing && self->sparkline)
    {
      /* Fill under the last run of the line so a thin graph reads at a glance. */
      cairo_path_t *path = cairo_copy_path (cr);

      cairo_stroke (cr);
      cairo_append_path (cr, path);
      cairo_path_destroy (path);
      cairo_line_to (cr, last_x, frame->plot.origin.y + frame->plot.size.height);
      cairo_line_to (cr, first_x, frame->plot.origin.y + frame->plot.size.height);
      cairo_close_path (cr);
      color.alpha *= 0.25;
      gdk_cairo_set_source_rgba (cr, &color);
      cairo_fill (cr);
    }
  else if (drawing)
    cairo_stroke (cr);

  cairo_destroy (cr);
}

static void
draw_hover (VivGraph      *self,
            GtkSnapshot   *snapshot,
            const Frame   *frame,
            const GdkRGBA *fg)
{
  int index = sample_at_x (self, frame, self->hover_x);
  GdkRGBA line = *fg;
  double x;

  if (index < 0)
    return;

  x = round (x_for_time (frame, sample_time_s (self, index)));
  line.alpha *= 0.4;
  append_line (snapshot, x, frame->plot.origin.y, 1, frame->plot.size.height, &line);

  for (guint s = 0; s < self->series->len; s++)
    {
      const Series *series = &g_array_index (self->series, Series, s);
      GskRoundedRect dot;
      GdkRGBA color;
      double value, y;

      if (!viv_stats_model_get_value (self->model, series->key, index, &value))
        continue;
      y = y_for_value (frame, value);
      lookup_series_color (self, series->color, &color);
      gsk_rounded_rect_init_from_rect (&dot, &GRAPHENE_RECT_INIT (x - 3.5, y - 3.5, 7, 7), 3.5);
      gtk_snapshot_push_rounded_clip (snapshot, &dot);
      gtk_snapshot_append_color (snapshot, &color, &dot.bounds);
      gtk_snapshot_pop (snapshot);
    }
}

static void
viv_graph_snapshot (GtkWidget   *widget,
                    GtkSnapshot *snapshot)
{
  VivGraph *self = VIV_GRAPH (widget);
  Frame frame;
  GdkRGBA fg;

  compute_frame (self, &frame);
  if (frame.plot.size.width < 1 || frame.plot.size.height < 1)
    return;

  get_foreground (self, &fg);

  if (!self->sparkline)
    {
      draw_axes (self, snapshot, &frame, &fg);
      draw_legend (self, snapshot, &frame, &fg);
    }

  for (guint s = 0; s < self->series->len; s++)
    draw_series (self, snapshot, &frame, &g_array_index (self->series, Series, s));

  if (!self->sparkline && self->hover_x >= 0)
    draw_hover (self, snapshot, &frame, &fg);
}

static void
viv_graph_measure (GtkWidget      *widget,
                   GtkOrientation  orientation,
                   int             for_size,
                   int            *minimum,
                   int            *natural,
                   int            *minimum_baseline,
                   int            *natural_baseline)
{
  VivGraph *self = VIV_GRAPH (widget);
  gboolean horizontal = orientation == GTK_ORIENTATION_HORIZONTAL;

  if (self->sparkline)
    {
      *minimum = horizontal ? 48 : 16;
      *natural = horizontal ? 96 : 24;
    }
  else
    {
      *minimum = horizontal ? 240 : 160;
      *natural = horizontal ? 480 : 200;
    }
}

/* ---- Tooltips and accessibility ----------------------------------------- */

static char *
describe_sample (VivGraph *self,
                 guint     index,
                 gboolean  markup)
{
  GString *text = g_string_new (NULL);

  for (guint s = 0; s < self->series->len; s++)
    {
      const Series *series = &g_array_index (self->series, Series, s);
      g_autofree char *value_text = NULL;
      double value;

      if (!viv_stats_model_get_value (self->model, series->key, index, &value))
        continue;
      value_text = viv_graph_format_value (self->unit, value);
      if (text->len > 0)
        g_string_append (text, markup ? "\n" : ", ");
      if (markup)
        {
          g_autofree char *line = g_markup_printf_escaped ("%s: <b>%s</b>", series->label, value_text);
          g_string_append (text, line);
        }
      else
        /* Translators: a series and its value for screen readers, e.g. "Total: 25 %" */
        g_string_append_printf (text, _("%s: %s"), series->label, value_text);
    }
  return g_string_free (text, FALSE);
}

static gboolean
viv_graph_query_tooltip (GtkWidget  *widget,
                         int         x,
                         int         y,
                         gboolean    keyboard_mode,
                         GtkTooltip *tooltip)
{
  VivGraph *self = VIV_GRAPH (widget);
  g_autofree char *values = NULL;
  g_autofree char *when = NULL;
  g_autofree char *escaped_when = NULL;
  g_autofree char *markup = NULL;
  Frame frame;
  int index;
  guint seconds_ago;

  compute_frame (self, &frame);
  if (frame.n_samples == 0)
    return FALSE;

  /* From the keyboard there is no pointer: show the latest values. */
  index = keyboard_mode ? (int) frame.n_samples - 1 : sample_at_x (self, &frame, x);
  if (index < 0)
    return FALSE;

  values = describe_sample (self, index, TRUE);
  seconds_ago = (guint) round (frame.t_end_s - sample_time_s (self, index));
  if (seconds_ago == 0)
    when = g_strdup (C_("graph tooltip", "Now"));
  else
    when = g_strdup_printf (ngettext ("%u second ago", "%u seconds ago", seconds_ago),
                            seconds_ago);
  escaped_when = g_markup_escape_text (when, -1);
  markup = g_strdup_printf ("<small>%s</small>\n%s", escaped_when, values);
  gtk_tooltip_set_markup (tooltip, markup);
  return TRUE;
}

static void
update_accessible_label (VivGraph *self)
{
  guint n = self->model ? viv_stats_model_get_n_samples (self->model) : 0;
  g_autofree char *values = n > 0 ? describe_sample (self, n - 1, FALSE) : NULL;
  g_autofree char *label = NULL;
  const char *title = self->title ? self->title : _("Graph");

  if (values == NULL || values[0] == '\0')
    /* Translators: a graph's title for screen readers, before any sample */
    label = g_strdup_printf (_("%s: no samples yet"), title);
  else
    /* Translators: a graph's title and its latest values for screen readers */
    label = g_strdup_printf (_("%s, now: %s"), title, values);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
}

static void
model_changed (VivGraph *self)
{
  update_accessible_label (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
redraw_pending_cb (gpointer user_data)
{
  GHashTableIter iter;
  gpointer graph;

  redraw_source = 0;
  last_redraw_us = g_get_monotonic_time ();
  g_hash_table_iter_init (&iter, pending_redraws);
  while (g_hash_table_iter_next (&iter, &graph, NULL))
    gtk_widget_queue_draw (graph);
  g_hash_table_remove_all (pending_redraws);
  return G_SOURCE_REMOVE;
}

static void
model_sample_added_cb (VivGraph *self)
{
  gint64 now, wait_us;

  update_accessible_label (self);
  /* A hidden graph is drawn in full when it shows. */
  if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
    return;

  now = g_get_monotonic_time ();
  wait_us = last_redraw_us + REDRAW_INTERVAL_US - now;
  if (wait_us <= 0 && redraw_source == 0)
    {
      last_redraw_us = now;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }

  if (pending_redraws == NULL)
    pending_redraws = g_hash_table_new (NULL, NULL);
  g_hash_table_add (pending_redraws, self);
  if (redraw_source == 0)
    redraw_source = g_timeout_add (MAX (wait_us, 0) / 1000, redraw_pending_cb, NULL);
}

static void
viv_graph_unmap (GtkWidget *widget)
{
  if (pending_redraws != NULL)
    g_hash_table_remove (pending_redraws, widget);

  GTK_WIDGET_CLASS (viv_graph_parent_class)->unmap (widget);
}

static void
motion_cb (VivGraph                 *self,
           double                    x,
           double                    y,
           GtkEventControllerMotion *motion)
{
  self->hover_x = x;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
leave_cb (VivGraph                 *self,
          GtkEventControllerMotion *motion)
{
  self->hover_x = -1;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* ---- Public API --------------------------------------------------------- */

GtkWidget *
viv_graph_new (void)
{
  return g_object_new (VIV_TYPE_GRAPH, NULL);
}

VivStatsModel *
viv_graph_get_model (VivGraph *self)
{
  g_return_val_if_fail (VIV_IS_GRAPH (self), NULL);
  return self->model;
}

void
viv_graph_set_model (VivGraph      *self,
                     VivStatsModel *model)
{
  g_return_if_fail (VIV_IS_GRAPH (self));
  g_return_if_fail (model == NULL || VIV_IS_STATS_MODEL (model));

  if (self->model == model)
    return;

  if (self->model != NULL)
    g_signal_handlers_disconnect_by_func (self->model, model_sample_added_cb, self);
  g_set_object (&self->model, model);
  if (model != NULL)
    g_signal_connect_object (model, "sample-added", G_CALLBACK (model_sample_added_cb),
                             self, G_CONNECT_SWAPPED);

  model_changed (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

VivGraphUnit
viv_graph_get_unit (VivGraph *self)
{
  g_return_val_if_fail (VIV_IS_GRAPH (self), 0);
  return self->unit;
}

void
viv_graph_set_unit (VivGraph     *self,
                    VivGraphUnit  unit)
{
  g_return_if_fail (VIV_IS_GRAPH (self));
  g_return_if_fail (unit <= VIV_GRAPH_UNIT_PER_SECOND);

  if (self->unit == unit)
    return;
  self->unit = unit;
  model_changed (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNIT]);
}

gboolean
viv_graph_get_sparkline (VivGraph *self)
{
  g_return_val_if_fail (VIV_IS_GRAPH (self), FALSE);
  return self->sparkline;
}

void
viv_graph_set_sparkline (VivGraph *self,
                         gboolean  sparkline)
{
  g_return_if_fail (VIV_IS_GRAPH (self));

  sparkline = !!sparkline;
  if (self->sparkline == sparkline)
    return;
  self->sparkline = sparkline;
  /* A full graph takes focus so keyboard users get its tooltip. */
  gtk_widget_set_focusable (GTK_WIDGET (self), !sparkline);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SPARKLINE]);
}

const char *
viv_graph_get_title (VivGraph *self)
{
  g_return_val_if_fail (VIV_IS_GRAPH (self), NULL);
  return self->title;
}

void
viv_graph_set_title (VivGraph   *self,
                     const char *title)
{
  g_return_if_fail (VIV_IS_GRAPH (self));

  if (g_strcmp0 (self->title, title) == 0)
    return;
  g_free (self->title);
  self->title = g_strdup (title);
  update_accessible_label (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
}

void
viv_graph_add_series (VivGraph   *self,
                      const char *key,
                      const char *label,
                      const char *color)
{
  Series series;

  g_return_if_fail (VIV_IS_GRAPH (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (label != NULL);
  g_return_if_fail (color != NULL);

  series.key = g_strdup (key);
  series.label = g_strdup (label);
  series.color = g_strdup (color);
  g_array_append_val (self->series, series);
  model_changed (self);
}

void
viv_graph_remove_all_series (VivGraph *self)
{
  g_return_if_fail (VIV_IS_GRAPH (self));

  g_array_set_size (self->series, 0);
  model_changed (self);
}

guint
viv_graph_get_n_series (VivGraph *self)
{
  g_return_val_if_fail (VIV_IS_GRAPH (self), 0);
  return self->series->len;
}

/* ---- GObject ------------------------------------------------------------ */

static void
clear_series (gpointer data)
{
  Series *series = data;

  g_free (series->key);
  g_free (series->label);
  g_free (series->color);
}

static void
viv_graph_dispose (GObject *object)
{
  VivGraph *self = VIV_GRAPH (object);

  if (pending_redraws != NULL)
    g_hash_table_remove (pending_redraws, self);
  if (self->model != NULL)
    g_signal_handlers_disconnect_by_func (self->model, model_sample_added_cb, self);
  g_clear_object (&self->model);

  G_OBJECT_CLASS (viv_graph_parent_class)->dispose (object);
}

static void
viv_graph_finalize (GObject *object)
{
  VivGraph *self = VIV_GRAPH (object);

  g_clear_pointer (&self->series, g_array_unref);
  g_clear_pointer (&self->title, g_free);

  G_OBJECT_CLASS (viv_graph_parent_class)->finalize (object);
}

static void
viv_graph_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  VivGraph *self = VIV_GRAPH (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_object (value, self->model);
      break;
    case PROP_UNIT:
      g_value_set_enum (value, self->unit);
      break;
    case PROP_SPARKLINE:
      g_value_set_boolean (value, self->sparkline);
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_graph_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  VivGraph *self = VIV_GRAPH (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      viv_graph_set_model (self, g_value_get_object (value));
      break;
    case PROP_UNIT:
      viv_graph_set_unit (self, g_value_get_enum (value));
      break;
    case PROP_SPARKLINE:
      viv_graph_set_sparkline (self, g_value_get_boolean (value));
      break;
    case PROP_TITLE:
      viv_graph_set_title (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
viv_graph_class_init (VivGraphClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = viv_graph_dispose;
  object_class->finalize = viv_graph_finalize;
  object_class->get_property = viv_graph_get_property;
  object_class->set_property = viv_graph_set_property;

  widget_class->snapshot = viv_graph_snapshot;
  widget_class->unmap = viv_graph_unmap;
  widget_class->measure = viv_graph_measure;
  widget_class->query_tooltip = viv_graph_query_tooltip;

  properties[PROP_MODEL] =
    g_param_spec_object ("model", NULL, NULL,
                         VIV_TYPE_STATS_MODEL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_UNIT] =
    g_param_spec_enum ("unit", NULL, NULL,
                       VIV_TYPE_GRAPH_UNIT, VIV_GRAPH_UNIT_PERCENT,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_SPARKLINE] =
    g_param_spec_boolean ("sparkline", NULL, NULL,
                          FALSE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "vivgraph");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
viv_graph_init (VivGraph *self)
{
  GtkEventController *motion = gtk_event_controller_motion_new ();

  self->series = g_array_new (FALSE, FALSE, sizeof (Series));
  g_array_set_clear_func (self->series, clear_series);
  self->hover_x = -1;

  g_signal_connect_object (motion, "motion", G_CALLBACK (motion_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (motion, "leave", G_CALLBACK (leave_cb), self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);

  /* Series colors differ between the light and the dark style. */
  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (gtk_widget_queue_draw), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (adw_style_manager_get_default (), "notify::high-contrast",
                           G_CALLBACK (gtk_widget_queue_draw), self, G_CONNECT_SWAPPED);

  update_accessible_label (self);
}
