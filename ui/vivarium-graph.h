/* A time-series graph of a VivStatsModel: the last five minutes of 1-second
 * samples, drawn with GtkSnapshot.  Each series is a key of the model
 * ("cpu-total", "net-rx", … see vivarium-stats-model.h) with a label and a
 * color.  Full graphs have a legend, labelled axes and tooltips with the
 * values at the hovered time; "sparkline" graphs (the library rows) are a
 * bare filled line. */
#pragma once

#include <gtk/gtk.h>

#include "vivarium-stats-model.h"

G_BEGIN_DECLS

/* What the values are, for the axis labels and tooltips. */
typedef enum {
  VIV_GRAPH_UNIT_PERCENT,           /* 0–100, always drawn on a 0–100 scale */
  VIV_GRAPH_UNIT_BYTES,             /* binary prefixes: KiB, MiB, GiB */
  VIV_GRAPH_UNIT_BYTES_PER_SECOND,
  VIV_GRAPH_UNIT_PER_SECOND,        /* events, e.g. VM exits */
} VivGraphUnit;

#define VIV_TYPE_GRAPH_UNIT (viv_graph_unit_get_type ())
GType viv_graph_unit_get_type (void);

/* The time a graph shows, in seconds. */
#define VIV_GRAPH_SPAN_S 300

#define VIV_TYPE_GRAPH (viv_graph_get_type ())
G_DECLARE_FINAL_TYPE (VivGraph, viv_graph, VIV, GRAPH, GtkWidget)

GtkWidget     *viv_graph_new              (void);

VivStatsModel *viv_graph_get_model        (VivGraph      *self);
void           viv_graph_set_model        (VivGraph      *self,
                                           VivStatsModel *model);
VivGraphUnit   viv_graph_get_unit         (VivGraph      *self);
void           viv_graph_set_unit         (VivGraph      *self,
                                           VivGraphUnit   unit);
gboolean       viv_graph_get_sparkline    (VivGraph      *self);
void           viv_graph_set_sparkline    (VivGraph      *self,
                                           gboolean       sparkline);
/* The graph's name for screen readers ("CPU usage"). */
const char    *viv_graph_get_title        (VivGraph      *self);
void           viv_graph_set_title        (VivGraph      *self,
                                           const char    *title);

/* Draws model series `key` as `label`.  `color` names a color of the
 * style: "accent" or one of libadwaita's palette hues ("blue", "green",
 * "yellow", "orange", "red", "purple", "brown"), so the line stays legible
 * in the light and the dark style. */
void           viv_graph_add_series       (VivGraph      *self,
                                           const char    *key,
                                           const char    *label,
                                           const char    *color);
void           viv_graph_remove_all_series (VivGraph     *self);
guint          viv_graph_get_n_series     (VivGraph      *self);

/* A value as the axis and tooltips print it ("512 MiB", "1.5 KiB/s"). */
char          *viv_graph_format_value     (VivGraphUnit   unit,
                                           double         value);

G_END_DECLS
