/* A VM as the library stores it (libvirt domain XML on disk, see
 * library.h) and as a worker runs it (a VivMachineConfig).  Both the VM
 * library and vivarium-worker use this one shape. */
#pragma once
#include "machine.h"
#include "disk-spec.h"

typedef struct VivVmDefinition {
  char          *name;          /* [A-Za-z0-9][A-Za-z0-9._-]{0,63} */
  char           uuid[37];      /* lower-case, with dashes */
  char          *kernel;        /* absolute paths */
  char          *initrd;        /* may be NULL */
  char          *cmdline;       /* may be NULL */
  uint64_t       memory_bytes;
  unsigned       n_cpus;
  VivConsoleKind console_kind;
  bool           rng;
  bool           balloon;
  GPtrArray     *disks;         /* of VivDiskSpec*, owned */
  GPtrArray     *nets;          /* of char* --net specs, owned */
  char          *os_id;         /* libosinfo's id of the guest OS ("http://debian.org/debian/11"); may be NULL */
} VivVmDefinition;

VivVmDefinition *viv_vm_definition_new  (void);
void             viv_vm_definition_free (VivVmDefinition *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VivVmDefinition, viv_vm_definition_free)

/* Checks the name's characters and length; the error says which rule broke. */
gboolean         viv_vm_name_is_valid   (const char *name, GError **error);
