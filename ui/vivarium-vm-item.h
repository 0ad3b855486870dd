/* One VM of the library as the app sees it: its definition, and while a
 * worker runs it, the worker's Machine1 proxy.  The library row and the
 * VM page both show this one object, so they agree on the state and share
 * one connection and one stats history.  (An "item": the engine's VivVm
 * is the KVM VM itself.)
 *
 * "state" is the worker's Machine1 State while one is connected, else
 * "off", or "crashed" when the worker left a crash record. */
#pragma once

#include <gio/gio.h>

#include "library.h"
#include "viv-dbus-machine1.h"
#include "vivarium-stats-model.h"
#include "worker-client.h"

G_BEGIN_DECLS

#define VIV_TYPE_VM_ITEM (viv_vm_item_get_type ())
G_DECLARE_FINAL_TYPE (VivVmItem, viv_vm_item, VIV, VM_ITEM, GObject)

VivVmItem             *viv_vm_item_new            (const char      *name);
const char            *viv_vm_item_get_name       (VivVmItem       *self);
const char            *viv_vm_item_get_state      (VivVmItem       *self);

/* NULL until set; the item takes `definition`. */
const VivVmDefinition *viv_vm_item_get_definition (VivVmItem       *self);
void                   viv_vm_item_set_definition (VivVmItem       *self,
                                                   VivVmDefinition *definition);

/* What viv_worker_client_list/start said about the VM's worker (NULL:
 * none runs it).  The item takes `worker`; for a live worker it connects
 * to it in the background (once per worker process), then "machine" is
 * set; a crash record makes the state "crashed".  A failed connection
 * emits "error". */
const VivWorkerInfo   *viv_vm_item_get_worker     (VivVmItem       *self);
void                   viv_vm_item_set_worker     (VivVmItem       *self,
                                                   VivWorkerInfo   *worker);

/* The connected worker's Machine1 object, or NULL.  Cleared when the
 * worker closes the connection (the VM stopped). */
VivDBusMachine1       *viv_vm_item_get_machine    (VivVmItem       *self);

/* The connected worker's statistics (StatsUpdated), kept across
 * restarts of the VM. */
VivStatsModel         *viv_vm_item_get_stats      (VivVmItem       *self);
/* Keeps one StatsUpdated sample every `seconds` (workers send one a
 * second); 0 keeps none.  The default is 1. */
void                   viv_vm_item_set_stats_interval (VivVmItem   *self,
                                                       guint        seconds);

G_END_DECLS
