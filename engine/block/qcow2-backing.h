/* Backing chains of qcow2 images (qcow2-backing.c). */
#pragma once
#include <errno.h>
#include <stdio.h>
#include <sys/types.h>
#include "block/qcow2.h"

/* The files of a chain being opened, to catch loops (by device and inode,
 * whatever the names) and limit the depth. */
typedef struct {
  dev_t    dev[VIV_QCOW2_MAX_CHAIN];
  ino_t    ino[VIV_QCOW2_MAX_CHAIN];
  unsigned depth;
} Qcow2Chain;

/* Adds `path` to the chain; fails on a loop or past the depth limit. */
gboolean qcow2_chain_enter (Qcow2Chain *chain, const char *path, GError **error);

/* The backing file's path (relative names from the overlay's directory). */
char    *qcow2_backing_path (const char *overlay, const char *backing_file);

/* Path and format of an overlay's backing file: the recorded format (raw
 * or qcow2), or raw when none is recorded and the file has no qcow2 magic. */
gboolean qcow2_backing_resolve (const char *overlay, const char *backing_file,
                                const char *backing_format, char **path, char **format,
                                GError **error);

/* The qcow2 driver's open with the chain so far (qcow2.c). */
void *qcow2_driver_open_in_chain (const VivBlockOptions *options, VivAio *aio,
                                  VivBlockInfo *info, Qcow2Chain *chain, GError **error);
