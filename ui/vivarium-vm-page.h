/* The selected VM: its name and state, the lifecycle actions, and three
 * views — the serial console, live graphs (with the "VM exits" teaching
 * panel) and the hardware details, editable while the VM is off.
 *
 * Widget actions, enabled by the VM's state:
 *   vm.start      off, crashed          (starts a worker)
 *   vm.pause      running
 *   vm.resume     paused
 *   vm.shutdown   running               (asks the guest)
 *   vm.force-off  starting, running, paused, shutting-down
 *   vm.reset      running, paused
 *   vm.delete     off, crashed          (asks first)
 *   vm.apply      off, with changed details
 *
 * The page shows a VivVmItem (the app's object for one VM of the library);
 * `library` is borrowed and must outlive the page (the window owns it). */
#pragma once

#include <adwaita.h>

#include "library.h"
#include "vivarium-vm-item.h"

G_BEGIN_DECLS

#define VIV_TYPE_VM_PAGE (viv_vm_page_get_type ())
G_DECLARE_FINAL_TYPE (VivVmPage, viv_vm_page, VIV, VM_PAGE, GtkWidget)

GtkWidget  *viv_vm_page_new       (VivVmItem   *item,
                                  VivLibrary  *library);
VivVmItem  *viv_vm_page_get_item  (VivVmPage   *self);

/* "console", "graphs" or "details". */
void        viv_vm_page_set_view  (VivVmPage   *self,
                                  const char  *view);
const char *viv_vm_page_get_view  (VivVmPage   *self);

G_END_DECLS
