/* Clone a virtual machine: a new name, a full or a linked clone, then
 * viv_library_clone_vm() (app/vm-clone.h) in a thread with its progress
 * shown as bytes copied of the data to copy.  "cloned" is emitted with
 * the new name, then the dialog closes.  Closing it while a full clone is
 * copied cancels the clone, which leaves nothing behind. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VIV_TYPE_CLONE_DIALOG (viv_clone_dialog_get_type ())
G_DECLARE_FINAL_TYPE (VivCloneDialog, viv_clone_dialog, VIV, CLONE_DIALOG, AdwWindow)

/* `library_root` NULL: the default library.  `source`: the VM to clone. */
VivCloneDialog *viv_clone_dialog_new      (GtkWindow      *transient_for,
                                           const char     *library_root,
                                           const char     *source);

/* TRUE while the clone is being made. */
gboolean        viv_clone_dialog_get_busy (VivCloneDialog *self);

G_END_DECLS
