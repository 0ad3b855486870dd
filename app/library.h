/* The VM library: one directory per VM under
 * $XDG_DATA_HOME/vivarium/machines/<name>/, holding its definition as
 * libvirt domain XML (domain.xml) and the disk images `vivctl create`
 * made for it.
 *
 *   g_autoptr (VivLibrary) lib = viv_library_open (NULL, &error);
 *   g_auto (GStrv) names = viv_library_list (lib, &error);
 *   g_autoptr (VivVmDefinition) def = viv_library_load (lib, "web", &error);
 *
 * Writes are atomic (temp file, fsync, rename, fsync of the directory) and
 * serialised between processes by a lock file in the library's root.
 * The library does not know about workers: callers that start, stop or
 * query VMs check the worker first (see vivctl-vm.c). */
#pragma once
#include "vm-definition.h"

#define VIV_LIBRARY_ERROR (viv_library_error_quark ())
GQuark viv_library_error_quark (void);

typedef enum {
  VIV_LIBRARY_ERROR_INVALID,    /* a bad definition or XML: says which element and why */
  VIV_LIBRARY_ERROR_NOT_FOUND,  /* no VM of that name */
  VIV_LIBRARY_ERROR_EXISTS,     /* the name (or UUID) belongs to another VM */
  VIV_LIBRARY_ERROR_BUSY,       /* the VM is running and the change would break it */
  VIV_LIBRARY_ERROR_FAILED,     /* an I/O error while reading or writing the library */
} VivLibraryError;

/* The XML namespace of our own settings in <metadata>. */
#define VIV_DOMAIN_XML_NAMESPACE "https://github.com/vivarium/vivarium/xmlns/vm/1"
#define VIV_DOMAIN_XML_PREFIX    "vivarium"
/* Where virt-manager and GNOME Boxes record the guest OS (libosinfo's id). */
#define VIV_LIBOSINFO_XML_NAMESPACE "http://libosinfo.org/xmlns/libvirt/domain/1.0"
#define VIV_LIBOSINFO_XML_PREFIX    "libosinfo"

/* ---- Definition ↔ libvirt domain XML (domain-xml.c) ---------------------
 *
 * Written the libvirt way: <name>, <uuid>, <memory unit='KiB'>, <vcpu>,
 * <os> with <kernel>/<initrd>/<cmdline>, virtio <disk>s (vda, vdb, …),
 * <interface type='user'> or type='ethernet' with a tap <target dev>,
 * <serial> for COM1 and a <console> whose target type (serial or virtio)
 * is the console kind, <rng model='virtio'>, <memballoon>.  What libvirt
 * has no element for (user-network port forwards, restrict=on) goes in
 * <metadata><vivarium:vm>, keyed by the interface's MAC.  The guest OS,
 * when known, is <metadata><libosinfo:libosinfo><libosinfo:os id='…'/>,
 * as virt-manager writes it.
 *
 * Reading refuses what the engine cannot provide (other disk types and
 * buses, other network types, firmware boot, …) with an error naming the
 * element; devices with no effect here (graphics, controllers, …) are
 * ignored.  An interface without a <mac> gets a random 52:54:00 one. */
char            *viv_domain_xml_from_definition (const VivVmDefinition *def, GError **error);
VivVmDefinition *viv_domain_xml_to_definition   (const char *xml, gssize len, GError **error);

/* A --net spec with mac=52:54:00:xx:xx:xx appended when it has none, so
 * that NICs (and VMs sharing a tap bridge) do not collide. */
char            *viv_net_spec_with_random_mac (const char *spec);

/* ---- The library (library.c) -------------------------------------------- */

typedef struct VivLibrary VivLibrary;

/* root NULL: $XDG_DATA_HOME/vivarium/machines.  Creates it if needed. */
VivLibrary      *viv_library_open   (const char *root, GError **error);
void             viv_library_free   (VivLibrary *lib);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VivLibrary, viv_library_free)

const char      *viv_library_get_root   (VivLibrary *lib);
/* The VM's directory (domain.xml and its own disks), whether or not it exists. */
char            *viv_library_get_vm_dir (VivLibrary *lib, const char *name);

/* Names of the defined VMs, sorted. */
char           **viv_library_list       (VivLibrary *lib, GError **error);
gboolean         viv_library_contains   (VivLibrary *lib, const char *name);
VivVmDefinition *viv_library_load       (VivLibrary *lib, const char *name, GError **error);
/* The stored XML as it is on disk. */
char            *viv_library_load_xml   (VivLibrary *lib, const char *name, GError **error);

/* Checks what a definition refers to: the kernel, the initrd and every
 * disk image must exist (errors name the element). */
gboolean         viv_library_check_files (const VivVmDefinition *def, GError **error);

typedef enum {
  VIV_LIBRARY_DEFINE_NEW_ONLY = 1 << 0,   /* refuse to replace a VM of the same name */
} VivLibraryDefineFlags;

/* Stores a definition (def->uuid filled in when empty).  A VM of the same
 * name is replaced only when the UUIDs match (libvirt's rule); a UUID used
 * by another name is refused.  Files are checked first. */
gboolean         viv_library_define     (VivLibrary *lib, VivVmDefinition *def,
                                         VivLibraryDefineFlags flags, GError **error);

/* Removes the definition.  With remove_disks, the VM's writable disk
 * images go too (read-only ones are often shared, so they stay); the
 * paths removed are added to `removed` when not NULL.  The VM's directory
 * is removed when nothing else is left in it. */
gboolean         viv_library_undefine   (VivLibrary *lib, const char *name, gboolean remove_disks,
                                         GPtrArray *removed, GError **error);

/* Writes `contents` to dir/filename so that the file is either the old one
 * or the new one, whole, even across a crash.  Leaves no temp file behind. */
gboolean         viv_write_file_atomic  (const char *dir, const char *filename,
                                         const char *contents, gsize len, GError **error);
