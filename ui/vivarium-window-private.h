/* What vivarium-window.c shares with vivarium-window-actions.c. */
#pragma once

#include "library.h"
#include "vivarium-window.h"

G_BEGIN_DECLS

struct _VivWindow
{
  AdwApplicationWindow  parent_instance;

  /* Template widgets */
  AdwToastOverlay      *toast_overlay;
  GtkStack             *main_stack;
  AdwLeaflet           *leaflet;
  GtkWidget            *sidebar;
  GtkWidget            *content;
  GtkListBox           *vm_list;
  GtkStack             *page_stack;

  /* Owned */
  GSettings            *settings;
  VivLibrary           *library;
  GFileMonitor         *library_monitor;
  GFileMonitor         *runtime_monitor;
  GHashTable           *rows;            /* VM name → VivVmRow*, borrowed from vm_list */
  GHashTable           *stored_xml;      /* VM name → its domain.xml when last read */
  GCancellable         *cancellable;
  guint                 reload_source;
};

void _viv_window_class_actions_init (VivWindowClass *klass);
void _viv_window_actions_update     (VivWindow      *self);

G_END_DECLS
