/* One VM served over D-Bus: the machine, its console socket and the
 * io.github.vivarium.Machine1 skeleton, exported on every peer connection
 * to the control socket.  Lives on the worker's main thread. */
#pragma once
#include "vm-definition.h"

typedef struct VivWorkerService VivWorkerService;

/* Builds the machine from `def` (every configuration mistake is reported
 * here), listens on DIR/control and DIR/console, starts the vCPUs.  When
 * the VM ends for good the service quits `loop`. */
VivWorkerService *viv_worker_service_new (const VivVmDefinition *def, const char *dir,
                                          GMainLoop *loop, GError **error);
/* Lets every client see the final State, closes the connections and
 * removes the sockets, then frees the machine. */
void              viv_worker_service_free (VivWorkerService *service);

/* After the loop ended: NULL when the VM stopped normally, else why the
 * engine failed. */
const char       *viv_worker_service_get_failure (VivWorkerService *service);
