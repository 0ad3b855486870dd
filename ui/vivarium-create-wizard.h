/* The New Virtual Machine assistant: what to boot (and optional
 * installation media, whose OS libosinfo recognises and whose
 * recommended processors, memory and disk size it suggests), name,
 * processors and memory, disk, network, then a summary.  Creating goes through
 * viv_library_create_vm() (app/vm-create.h), as `vivctl create` does, in
 * a thread; "created" is emitted with the new VM's name, then the
 * assistant closes. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VIV_TYPE_CREATE_WIZARD (viv_create_wizard_get_type ())
G_DECLARE_FINAL_TYPE (VivCreateWizard, viv_create_wizard, VIV, CREATE_WIZARD, AdwWindow)

/* `library_root`: the library the VM goes into (viv_library_get_root);
 * NULL: the default one. */
VivCreateWizard *viv_create_wizard_new      (GtkWindow       *transient_for,
                                             const char      *library_root);

/* TRUE while the VM is being created. */
gboolean         viv_create_wizard_get_busy (VivCreateWizard *self);

/* Why `name` cannot be a new VM in the library at `library_root` (empty,
 * against the naming rules, or taken), translated; NULL when it can.
 * Shared with the clone dialog, whose new VM obeys the same rules. */
char            *viv_check_new_vm_name      (const char      *library_root,
                                             const char      *name);

G_END_DECLS
