/* A row of the VM library: a VM's name, its state and a CPU sparkline of
 * its last five minutes, kept up to date from the VivVmItem it shows. */
#pragma once

#include <gtk/gtk.h>

#include "vivarium-vm-item.h"

G_BEGIN_DECLS

#define VIV_TYPE_VM_ROW (viv_vm_row_get_type ())
G_DECLARE_FINAL_TYPE (VivVmRow, viv_vm_row, VIV, VM_ROW, GtkListBoxRow)

GtkWidget  *viv_vm_row_new        (VivVmItem      *vm);
VivVmItem      *viv_vm_row_get_vm     (VivVmRow   *self);

/* A VivVmItem state as the user reads it ("Running", "Off"), translated. */
const char *viv_vm_state_to_label (const char *state);

G_END_DECLS
