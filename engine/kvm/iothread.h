/* The machine's I/O thread: a GMainContext of its own, on which virtio
 * queue notifications, disk completions and network backends run, so that
 * neither the vCPUs nor the owner's main loop wait on device work. */
#pragma once
#include <gio/gio.h>

typedef struct VivIoThread VivIoThread;

VivIoThread  *viv_io_thread_new     (const char *name);
GMainContext *viv_io_thread_context (VivIoThread *thread);
/* Stops the loop and joins the thread; sources still attached are left
 * to their owners, who must destroy them before freeing their state. */
void          viv_io_thread_free    (VivIoThread *thread);
