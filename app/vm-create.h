/* Creating a VM from the choices a user makes: what `vivctl create` and
 * the app's New Virtual Machine assistant both call, so that the same
 * choices give the same definition.
 *
 *   VivLibraryCreateOptions options = { .name = "web", .kernel = "/boot/vmlinuz",
 *                                  .memory_bytes = 512 << 20, .n_cpus = 2,
 *                                  .disks = (char *[]) { "size=8G,format=qcow2", NULL } };
 *   g_autoptr (VivVmDefinition) def = viv_library_create_vm (lib, &options, &error);
 */
#pragma once
#include "library.h"

typedef struct {
  const char     *name;
  const char     *kernel;         /* relative paths are made absolute */
  const char     *initrd;         /* NULL: none */
  const char     *cmdline;        /* NULL: none */
  uint64_t        memory_bytes;   /* 0: VIV_LIBRARY_CREATE_DEFAULT_MEMORY */
  unsigned        n_cpus;         /* 0: 1 */
  VivConsoleKind  console_kind;
  bool            rng;
  bool            balloon;
  /* --disk specs: PATH[,OPTIONS], or a new image in the VM's directory:
   * size=SIZE[,format=raw|qcow2][,OPTIONS] (empty, of that size) or
   * backing=PATH[,OPTIONS] (a qcow2 linked clone of PATH).  NULL-terminated. */
  char * const   *disks;
  char * const   *nets;           /* --net specs, NULL-terminated; a MAC is added when missing */
  const char     *image_dir;      /* new images go in image_dir/NAME/; NULL: the VM's directory */
  /* Installation media (an ISO), attached read-only after the disks, as
   * a raw virtio disk; NULL: none.  Callers detect its OS (os-detect.h). */
  const char     *media;
  const char     *os_id;          /* libosinfo's OS id, stored in the XML; NULL: unknown */
} VivLibraryCreateOptions;

#define VIV_LIBRARY_CREATE_DEFAULT_MEMORY (256 * 1024 * 1024)

/* Checks the options (errors name the option and say what to use
 * instead), creates the new images and defines the VM; the library must
 * not have a VM of that name.  On failure the images it made are removed. */
VivVmDefinition *viv_library_create_vm (VivLibrary *lib, const VivLibraryCreateOptions *options, GError **error);
